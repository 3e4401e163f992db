//! End to end: the real binary's photoshop engine against `maskflow emulate` and a storage
//! server standing in for pre-signed bucket URLs, all on 127.0.0.1.

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]
// Notes for whoever reads the test log (a skipped check, a measured difference).
#![allow(clippy::print_stderr)]

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::emulator::Emulator;
use common::storage::Storage;
use common::*;
use serde_json::Value;

const SIGNATURE: &str = "s1gn4ture-d0-not-leak";
const PHOTOS: [&str; 3] = ["camera.png", "coffee.png", "horse.png"];

/// A scratch project whose manifest masks `photos` through the emulator, reading inputs
/// from (and, for sensei, writing masks to) the storage server.
struct Project {
    dir: tempfile::TempDir,
    storage_dir: tempfile::TempDir,
    storage: Storage,
}

impl Project {
    fn new(emulator: &Emulator, api: &str, photos: &[&str], limits: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let storage_dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(storage_dir.path().join("in")).unwrap();
        for name in photos {
            std::fs::copy(
                repo().join("examples/photos").join(name),
                storage_dir.path().join("in").join(name),
            )
            .unwrap();
        }
        let storage = Storage::start(storage_dir.path(), SIGNATURE);
        let mut manifest = format!(
            "version: 1\nvars:\n  store: \"{}\"\ndefaults:\n  engine: photoshop\n",
            storage.base_url()
        );
        if api == "sensei" {
            manifest.push_str(
                "  mask_url: \"{{ vars.store }}/out/{{ stem }}.png?sig={{ env('STORAGE_SIG') }}\"\n",
            );
        }
        manifest.push_str(&format!(
            "photoshop:\n  api: {api}\n  endpoint: \"{0}\"\n  ims: \"{0}\"\n  limits: {{poll_initial_seconds: 0.2, poll_max_seconds: 1, {limits}}}\nimages:\n",
            emulator.base_url
        ));
        for name in photos {
            manifest.push_str(&format!(
                "  - input: \"{{{{ vars.store }}}}/in/{name}?sig={{{{ env('STORAGE_SIG') }}}}\"\n"
            ));
        }
        write(dir.path(), "maskflow.yaml", &manifest);
        Self {
            dir,
            storage_dir,
            storage,
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, emulator: &Emulator, args: &[&str]) -> Command {
        Test::in_dir(self.root())
            .args(args)
            .env("STORAGE_SIG", SIGNATURE)
            .envs(emulator.credentials())
            .command()
    }

    fn run(&self, emulator: &Emulator, args: &[&str]) -> Output {
        self.command(emulator, args).output().unwrap()
    }

    fn apply(&self, emulator: &Emulator, extra: &[&str], expected: i32) -> (Vec<Value>, Output) {
        let mut args = vec!["apply", "--format", "json"];
        args.extend_from_slice(extra);
        let output = self.run(emulator, &args);
        assert_eq!(code(&output), expected, "stderr: {}", stderr(&output));
        (events(&output), output)
    }
}

/// The masks the local engine makes of `photos`, as PNG bytes by stem.
fn local_masks(photos: &[&str]) -> Vec<(String, Vec<u8>)> {
    let dir = scratch(photos);
    write(
        dir.path(),
        "maskflow.yaml",
        "version: 1\nimages:\n  - glob: \"photos/*\"\n",
    );
    apply(dir.path(), &[], 0);
    photos
        .iter()
        .map(|p| {
            let stem = p.rsplit_once('.').unwrap().0.to_owned();
            let bytes = std::fs::read(dir.path().join(format!("masks/{stem}.png"))).unwrap();
            (stem, bytes)
        })
        .collect()
}

fn assert_masks_match_local(project: &Project, photos: &[&str]) {
    for (stem, expected) in local_masks(photos) {
        let got = std::fs::read(project.root().join(format!("masks/{stem}.png"))).unwrap();
        assert!(
            got == expected,
            "{stem}: the service's mask differs from the local engine's"
        );
    }
}

/// Nothing written or printed anywhere holds the client secret or the URL signature.
fn assert_no_secrets(project: &Project, emulator: &Emulator, outputs: &[&Output]) {
    for needle in [emulator.client_secret.as_str(), SIGNATURE] {
        for output in outputs {
            for stream in [&output.stdout, &output.stderr] {
                assert!(
                    !String::from_utf8_lossy(stream).contains(needle),
                    "output leaks {needle}"
                );
            }
        }
        for file in files(project.root()) {
            let bytes = std::fs::read(project.root().join(&file)).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(needle),
                "{file} leaks {needle}"
            );
        }
    }
}

fn stat(emulator: &Emulator, name: &str) -> u64 {
    emulator.stats()[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {name}"))
}

#[test]
fn sensei_masks_match_the_local_engine_and_rerun_nothing() {
    let emulator = Emulator::start(&["--latency", "300ms"]);
    let project = Project::new(
        &emulator,
        "sensei",
        &PHOTOS,
        "submits: 10, window_seconds: 1",
    );
    let (first, first_output) = project.apply(&emulator, &[], 0);
    let s = summary(&first);
    assert_eq!(
        (s["created"].as_u64(), s["submitted"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(events_of(&first, "submitted").len(), 3);
    assert_masks_match_local(&project, &PHOTOS);
    // The service wrote each mask to its URL; maskflow read it back from there.
    assert_eq!(project.storage.puts(), 3);
    let lock: Value =
        serde_json::from_slice(&std::fs::read(project.root().join("maskflow.lock")).unwrap())
            .unwrap();
    let entry = &lock["images"]["masks/camera.png"];
    assert_eq!(entry["engine"]["name"], "photoshop");
    assert_eq!(entry["engine"]["api"], "sensei");
    assert_eq!(entry["job"]["state"], "succeeded");
    assert_eq!(
        entry["input"]["source"],
        format!("{}/in/camera.png", project.storage.base_url())
    );

    // Nothing changed: nothing is submitted.
    let (second, second_output) = project.apply(&emulator, &[], 0);
    let s = summary(&second);
    assert_eq!(
        (s["unchanged"].as_u64(), s["submitted"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(stat(&emulator, "submissions"), 3);

    // A changed input is submitted again, and only it.
    std::fs::copy(
        repo().join("examples/photos/chelsea.png"),
        project.storage_dir.path().join("in/coffee.png"),
    )
    .unwrap();
    let (third, third_output) = project.apply(&emulator, &[], 0);
    let s = summary(&third);
    assert_eq!(
        (s["updated"].as_u64(), s["submitted"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(stat(&emulator, "submissions"), 4);
    assert_eq!(stat(&emulator, "duplicate_submissions"), 0);
    assert_no_secrets(
        &project,
        &emulator,
        &[&first_output, &second_output, &third_output],
    );
}

#[test]
fn v2_downloads_the_hosted_result() {
    let emulator = Emulator::start(&["--latency", "300ms"]);
    let project = Project::new(&emulator, "v2", &PHOTOS, "submits: 10, window_seconds: 1");
    let (events, output) = project.apply(&emulator, &[], 0);
    assert_eq!(summary(&events)["created"].as_u64(), Some(3));
    assert_masks_match_local(&project, &PHOTOS);
    assert_eq!(project.storage.puts(), 0, "v2 hosts results itself");
    let lock = std::fs::read_to_string(project.root().join("maskflow.lock")).unwrap();
    assert!(lock.contains("\"api\": \"v2\""), "{lock}");
    assert!(
        lock.contains("urn:ff:jobs:"),
        "v2 job ids are recorded: {lock}"
    );
    assert_no_secrets(&project, &emulator, &[&output]);
}

#[test]
fn a_429_storm_is_waited_out_without_duplicates() {
    // The service allows 1 submission per 2 s; maskflow is told it may send 10 per second.
    let emulator = Emulator::start(&[
        "--latency",
        "200ms",
        "--submit-limit",
        "1",
        "--submit-window",
        "2s",
    ]);
    let project = Project::new(
        &emulator,
        "sensei",
        &PHOTOS,
        "submits: 10, window_seconds: 1",
    );
    let (events, _) = project.apply(&emulator, &[], 0);
    assert_eq!(summary(&events)["created"].as_u64(), Some(3));
    assert!(stat(&emulator, "rate_limited") > 0, "the storm happened");
    assert_eq!(stat(&emulator, "submissions"), 3);
    assert_eq!(stat(&emulator, "duplicate_submissions"), 0);
}

#[test]
fn status_errors_and_token_expiry_are_survived() {
    let emulator = Emulator::start(&[
        "--latency",
        "1s",
        "--error-rate",
        "0.4",
        "--error-routes",
        "status",
        "--token-lifetime",
        "1s",
        "--seed",
        "7",
    ]);
    let project = Project::new(
        &emulator,
        "sensei",
        &PHOTOS,
        "submits: 10, window_seconds: 1",
    );
    let (events, _) = project.apply(&emulator, &[], 0);
    assert_eq!(summary(&events)["created"].as_u64(), Some(3));
    assert!(
        stat(&emulator, "injected_errors") > 0,
        "status requests failed"
    );
    assert!(
        stat(&emulator, "tokens_issued") > 1,
        "the token was refreshed"
    );
    assert_eq!(stat(&emulator, "submissions"), 3);
}

#[test]
fn a_failed_job_is_reported_and_the_others_finish() {
    let emulator = Emulator::start(&["--latency", "200ms", "--fail-inputs-matching", "coffee"]);
    let project = Project::new(&emulator, "v2", &PHOTOS, "submits: 10, window_seconds: 1");
    let (events, _) = project.apply(&emulator, &[], 1);
    let s = summary(&events);
    assert_eq!(
        (s["created"].as_u64(), s["failed"].as_u64()),
        (Some(2), Some(1))
    );
    let failed = events_of(&events, "failed");
    assert_eq!(failed[0]["key"], "masks/coffee.png");
    assert!(
        // The service's own reason, not just the word "failed" that every such message has.
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("the input URL contains \"coffee\" (--fail-inputs-matching)"),
        "{}",
        failed[0]
    );
    let lock = std::fs::read_to_string(project.root().join("maskflow.lock")).unwrap();
    assert!(lock.contains("\"state\": \"failed\""), "{lock}");
    // The rerun pays again only for the failed image.
    let (_, _) = project.apply(&emulator, &[], 1);
    assert_eq!(stat(&emulator, "submissions"), 4);
}

/// Images per shard in the sharded test: enough for the shards' submissions to overlap
/// for several windows.
const PER_SHARD: usize = 4;

#[test]
fn shards_running_at_once_share_the_rate_limit() {
    // Three runners (`apply --shard K/3`), each in its own checkout, against one
    // organization's limit: the emulator's default, Adobe's 3 submissions per 3 s.
    let emulator = Emulator::start(&["--latency", "1s"]);
    let storage_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(storage_dir.path().join("in")).unwrap();
    let storage = Storage::start(storage_dir.path(), SIGNATURE);
    let shards: Vec<maskflow::apply::Shard> = (1..=3)
        .map(|index| maskflow::apply::Shard { index, count: 3 })
        .collect();
    // Names chosen so that every shard gets the same number of images.
    let mut taken = [0; 3];
    let mut images = String::new();
    for i in 0.. {
        if taken.iter().all(|&n| n == PER_SHARD) {
            break;
        }
        let stem = format!("photo-{i}");
        let owner = (0..3)
            .find(|&s| shards[s].contains(&format!("masks/{stem}.png")))
            .unwrap();
        if taken[owner] == PER_SHARD {
            continue;
        }
        taken[owner] += 1;
        std::fs::copy(
            repo()
                .join("examples/photos")
                .join(PHOTOS[i % PHOTOS.len()]),
            storage_dir.path().join(format!("in/{stem}.png")),
        )
        .unwrap();
        images.push_str(&format!(
            "  - input: \"{{{{ vars.store }}}}/in/{stem}.png?sig={{{{ env('STORAGE_SIG') }}}}\"\n"
        ));
    }
    let manifest = format!(
        "version: 1\nvars:\n  store: \"{store}\"\ndefaults:\n  engine: photoshop\n  \
         mask_url: \"{{{{ vars.store }}}}/out/{{{{ stem }}}}.png?sig={{{{ env('STORAGE_SIG') }}}}\"\n\
         photoshop:\n  endpoint: \"{api}\"\n  ims: \"{api}\"\n  \
         limits: {{poll_initial_seconds: 0.2, poll_max_seconds: 1}}\nimages:\n{images}",
        store = storage.base_url(),
        api = emulator.base_url,
    );
    let checkouts: Vec<tempfile::TempDir> = (0..3)
        .map(|_| {
            let dir = tempfile::tempdir().unwrap();
            write(dir.path(), "maskflow.yaml", &manifest);
            dir
        })
        .collect();
    let command = |dir: &Path, args: &[&str]| {
        Test::in_dir(dir)
            .args(args)
            .env("STORAGE_SIG", SIGNATURE)
            .envs(emulator.credentials())
            .command()
    };

    // `plan --shard` tells the share before anything is paid for, in both formats.
    let plan = command(checkouts[0].path(), &["plan", "--shard", "2/3"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(
        text.contains(
            "Shard 2/3 submits at most 1 per 3 s: a fair share of the organization's 3 per 3 s"
        ) && text.contains(&format!("Plan: {PER_SHARD} to create")),
        "{text}"
    );
    let plan = command(
        checkouts[0].path(),
        &["plan", "--shard", "2/3", "--format", "json"],
    )
    .output()
    .unwrap();
    let plan: Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(plan["changes"].as_array().unwrap().len(), PER_SHARD);
    assert_eq!(
        (
            plan["submit_share"]["submits"].as_u64(),
            plan["submit_share"]["window_seconds"].as_f64(),
            plan["submit_share"]["mode"].as_str()
        ),
        (Some(1), Some(3.0), Some("fair"))
    );
    assert_eq!(stat(&emulator, "submissions"), 0);

    let started = std::time::Instant::now();
    let runs: Vec<std::process::Child> = checkouts
        .iter()
        .enumerate()
        .map(|(k, dir)| {
            command(
                dir.path(),
                &[
                    "apply",
                    "--format",
                    "json",
                    "--shard",
                    &format!("{}/3", k + 1),
                ],
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let outputs: Vec<Output> = runs
        .into_iter()
        .map(|run| run.wait_with_output().unwrap())
        .collect();
    let wall = started.elapsed().as_secs_f64();
    for output in &outputs {
        assert_eq!(code(output), 0, "{}", stderr(output));
        let events = events(output);
        assert_eq!(summary(&events)["created"].as_u64(), Some(PER_SHARD as u64));
        let share = &events_of(&events, "apply_started")[0]["submit_share"];
        assert_eq!(
            (share["submits"].as_u64(), share["window_seconds"].as_f64()),
            (Some(1), Some(3.0)),
            "{share}"
        );
    }
    let stats = emulator.stats();
    assert_eq!(stats["submissions"], 3 * PER_SHARD as u64, "{stats}");
    assert_eq!(
        stats["rate_limited"], 0,
        "together the shards kept to the limit: {stats}"
    );
    assert_eq!(stats["duplicate_submissions"], 0, "{stats}");
    // The floor: the last of the 3 × PER_SHARD submissions cannot go before
    // (PER_SHARD - 1) full windows, and its job then takes the latency.
    let floor = (PER_SHARD - 1) as f64 * 3.0 + 1.0;
    eprintln!(
        "3 shards x {PER_SHARD} images: {wall:.2} s, floor {floor:.1} s ({:.3}x)",
        wall / floor
    );
}

#[test]
fn a_failed_sensei_job_keeps_the_reason_nested_as_error_details() {
    // Adobe's SDK describes `errors` as `{type, code, title, errorDetails: [{name, reason}]}`.
    let emulator = Emulator::start(&[
        "--latency",
        "200ms",
        "--fail-inputs-matching",
        "coffee",
        "--errors-as",
        "error-details",
    ]);
    let project = Project::new(&emulator, "sensei", &["coffee.png"], "submits: 10");
    let output = project.run(&emulator, &["apply"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let reason = "the input URL contains \"coffee\" (--fail-inputs-matching)";
    let human = stderr(&output);
    assert!(
        human.contains("failed masks/coffee.png") && human.contains(reason),
        "{human}"
    );
    let lock: Value =
        serde_json::from_slice(&std::fs::read(project.root().join("maskflow.lock")).unwrap())
            .unwrap();
    let error = lock["images"]["masks/coffee.png"]["job"]["error"]
        .as_str()
        .unwrap();
    assert!(
        error.contains("UndefinedError (500)") && error.contains(reason),
        "{error}"
    );
    assert_no_secrets(&project, &emulator, &[&output]);
}

#[test]
fn max_submits_refuses_before_paying() {
    let emulator = Emulator::start(&[]);
    let project = Project::new(&emulator, "v2", &PHOTOS, "submits: 10");
    let (events, _) = project.apply(&emulator, &["--max-submits", "2"], 1);
    let error = events_of(&events, "error");
    let message = error[0]["message"].as_str().unwrap();
    assert!(
        message.contains("3 paid jobs") && message.contains("--max-submits 2"),
        "{message}"
    );
    assert_eq!(stat(&emulator, "submissions"), 0);
    assert!(!project.root().join("maskflow.lock").exists());
    project.apply(&emulator, &["--max-submits", "3"], 0);
}

#[test]
fn a_killed_run_resumes_its_jobs_instead_of_paying_again() {
    let photos = [
        "astronaut.png",
        "camera.png",
        "chelsea.png",
        "coffee.png",
        "horse.png",
    ];
    let emulator = Emulator::start(&["--latency", "4s"]);
    // One submission a second: the kill lands between two submissions, not inside one.
    let project = Project::new(
        &emulator,
        "sensei",
        &photos,
        "submits: 1, window_seconds: 1",
    );
    let mut child = project
        .command(&emulator, &["apply", "--format", "json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once at least one job is recorded as submitted, well before any can finish.
    // A submission is recorded in the lockfile's journal before the job is waited on.
    let journal_path = project.root().join("maskflow.lock.journal");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&journal_path).unwrap_or_default();
        if text.contains("\"submitted\"") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no job was submitted");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let paid_before = stat(&emulator, "submissions");
    assert!(paid_before >= 1);

    // `status` lists what is in flight.
    let status = project.run(&emulator, &["status", "--format", "json"]);
    assert_eq!(code(&status), 0, "{}", stderr(&status));
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    let in_flight = status["in_flight"].as_array().unwrap();
    assert!(!in_flight.is_empty(), "{status}");
    assert!(
        in_flight
            .iter()
            .all(|j| ["pending", "running", "succeeded"].contains(&j["state"].as_str().unwrap())),
        "{status}"
    );
    let plan = project.run(&emulator, &["plan", "--format", "json"]);
    assert!(String::from_utf8_lossy(&plan.stdout).contains("job_in_flight"));

    let (events, _) = project.apply(&emulator, &[], 0);
    let s = summary(&events);
    assert_eq!(
        s["created"].as_u64().unwrap() + s["updated"].as_u64().unwrap(),
        5
    );
    assert_eq!(s["resumed"].as_u64(), Some(in_flight.len() as u64));
    // Every image was paid for exactly once, across both runs.
    assert_eq!(stat(&emulator, "submissions"), 5);
    assert_eq!(stat(&emulator, "duplicate_submissions"), 0);
}

#[test]
fn a_submission_answered_5xx_is_not_resent() {
    // Every submission fails with a 5xx: a resend could be a second paid job, so each image
    // is tried once, reported, and left for the next run.
    let emulator = Emulator::start(&["--error-rate", "1", "--error-routes", "submit"]);
    let project = Project::new(&emulator, "v2", &PHOTOS, "submits: 10, window_seconds: 1");
    let (events, _) = project.apply(&emulator, &[], 1);
    assert_eq!(summary(&events)["failed"].as_u64(), Some(3));
    let failed = events_of(&events, "failed");
    let error = failed[0]["error"].as_str().unwrap();
    assert!(error.contains("does not resend it blindly"), "{error}");
    assert_eq!(
        stat(&emulator, "injected_errors"),
        3,
        "one attempt per image"
    );
    assert_eq!(stat(&emulator, "submissions"), 0);
}

#[test]
fn in_github_actions_minted_tokens_are_masked() {
    let emulator = Emulator::start(&["--latency", "200ms"]);
    let project = Project::new(&emulator, "v2", &["horse.png"], "submits: 10");
    let outputs = tempfile::tempdir().unwrap();
    let output = project
        .command(&emulator, &["apply"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", outputs.path().join("output"))
        .env("GITHUB_STEP_SUMMARY", outputs.path().join("summary"))
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let masked: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("::add-mask::"))
        .collect();
    assert_eq!(masked.len(), 1, "one token minted, one mask: {stdout}");
    let token = masked[0];
    assert!(token.len() > 16, "{token}");
    // The token shows nowhere but in its mask command.
    assert_eq!(stdout.matches(token).count(), 1);
    assert!(!stderr(&output).contains(token));
    for file in ["output", "summary"] {
        let text = std::fs::read_to_string(outputs.path().join(file)).unwrap();
        assert!(!text.contains(token), "{file}");
    }
}

#[test]
fn cutouts_come_from_the_services_cutout_routes() {
    let emulator = Emulator::start(&["--latency", "100ms"]);
    let (_, local) = local_masks(&["horse.png"]).remove(0);
    let mask = image::load_from_memory(&local).unwrap().to_luma8();
    let input = image::open(repo().join("examples/photos/horse.png"))
        .unwrap()
        .to_rgb8();
    for api in ["sensei", "v2"] {
        let project = Project::new(
            &emulator,
            api,
            &["horse.png"],
            "submits: 10, window_seconds: 1",
        );
        let manifest = std::fs::read_to_string(project.root().join("maskflow.yaml"))
            .unwrap()
            .replace(
                "  engine: photoshop\n",
                "  engine: photoshop\n  output_kind: cutout\n",
            );
        write(project.root(), "maskflow.yaml", &manifest);
        let (events, _) = project.apply(&emulator, &[], 0);
        assert_eq!(summary(&events)["created"].as_u64(), Some(1), "{api}");
        let cutout = image::open(project.root().join("masks/horse.png")).unwrap();
        assert_eq!(cutout.color(), image::ColorType::Rgba8, "{api}");
        let cutout = cutout.to_rgba8();
        let alpha: Vec<u8> = cutout.pixels().map(|p| p.0[3]).collect();
        assert!(&alpha == mask.as_raw(), "{api}: alpha is the mask");
        let rgb: Vec<u8> = cutout
            .pixels()
            .flat_map(|p| [p.0[0], p.0[1], p.0[2]])
            .collect();
        assert!(&rgb == input.as_raw(), "{api}: colours are the input's");
        let lock: Value =
            serde_json::from_slice(&std::fs::read(project.root().join("maskflow.lock")).unwrap())
                .unwrap();
        assert_eq!(
            lock["images"]["masks/horse.png"]["settings"]["output_kind"],
            "cutout"
        );
    }
}
