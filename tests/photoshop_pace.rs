//! End to end: how the photoshop engine paces itself against `maskflow emulate` on 127.0.0.1
//! — the bound on jobs in flight that follows the job latency, the limit on status requests,
//! a 429 on a status request, and resuming a job through the status link the service gave.

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::emulator::Emulator;
use common::storage::Storage;
use common::*;
use serde_json::Value;

const SIGNATURE: &str = "s1gn4ture-d0-not-leak";
const PHOTOS: [&str; 6] = [
    "astronaut.png",
    "camera.png",
    "chelsea.png",
    "coffee.png",
    "horse.png",
    "rocket.jpg",
];

/// A scratch project masking `count` images (the example photographs under distinct names)
/// through the emulator with the `sensei` or `v2` API and the given `limits`.
struct Project {
    dir: tempfile::TempDir,
    _storage_dir: tempfile::TempDir,
    _storage: Storage,
}

impl Project {
    fn new(emulator: &Emulator, api: &str, count: usize, limits: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let storage_dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(storage_dir.path().join("in")).unwrap();
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
            "photoshop:\n  api: {api}\n  endpoint: \"{0}\"\n  ims: \"{0}\"\n  limits: {{{limits}}}\nimages:\n",
            emulator.base_url
        ));
        for i in 0..count {
            let photo = PHOTOS[i % PHOTOS.len()];
            let (stem, ext) = photo.rsplit_once('.').unwrap();
            let name = format!("{stem}-{i:02}.{ext}");
            std::fs::copy(
                repo().join("examples/photos").join(photo),
                storage_dir.path().join("in").join(&name),
            )
            .unwrap();
            manifest.push_str(&format!(
                "  - input: \"{{{{ vars.store }}}}/in/{name}?sig={{{{ env('STORAGE_SIG') }}}}\"\n"
            ));
        }
        write(dir.path(), "maskflow.yaml", &manifest);
        Self {
            dir,
            _storage_dir: storage_dir,
            _storage: storage,
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

    fn apply(&self, emulator: &Emulator, expected: i32) -> Vec<Value> {
        let output = self.run(emulator, &["apply", "--format", "json"]);
        assert_eq!(code(&output), expected, "stderr: {}", stderr(&output));
        events(&output)
    }

    fn lock(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.root().join("maskflow.lock")).unwrap()).unwrap()
    }
}

fn stat(emulator: &Emulator, name: &str) -> u64 {
    emulator.stats()[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {name}"))
}

fn created(events: &[Value]) -> u64 {
    summary(events)["created"].as_u64().unwrap()
}

#[test]
fn jobs_in_flight_follow_the_latency_within_the_cap() {
    // 10 submissions a second and 3 s per job: Little's law asks for about 30 jobs in flight,
    // far more than the old fixed 8. (The service allows more than maskflow is told to send.)
    let args = [
        "--latency",
        "3s",
        "--submit-limit",
        "20",
        "--submit-window",
        "1s",
    ];
    let emulator = Emulator::start(&args);
    let project = Project::new(&emulator, "sensei", 30, "submits: 10, window_seconds: 1");
    assert_eq!(created(&project.apply(&emulator, 0)), 30);
    let most = stat(&emulator, "max_in_flight");
    assert!(most > 8, "at most {most} jobs were in flight");
    assert_eq!(stat(&emulator, "submissions"), 30);
    assert_eq!(stat(&emulator, "duplicate_submissions"), 0);

    // `in_flight` caps it.
    let emulator = Emulator::start(&args);
    let project = Project::new(
        &emulator,
        "v2",
        12,
        "submits: 10, window_seconds: 1, in_flight: 5",
    );
    assert_eq!(created(&project.apply(&emulator, 0)), 12);
    let most = stat(&emulator, "max_in_flight");
    assert!(most <= 5, "{most} jobs were in flight, above the cap of 5");
}

#[test]
fn status_requests_keep_to_their_own_limit() {
    // Six jobs finishing together would ask about themselves at once; the service allows two
    // status requests a second, and the manifest a little less (requests reach the service a
    // moment after maskflow counts them).
    let emulator = Emulator::start(&[
        "--latency",
        "300ms",
        "--submit-limit",
        "20",
        "--submit-window",
        "1s",
        "--status-limit",
        "2",
        "--status-window",
        "1s",
    ]);
    let project = Project::new(
        &emulator,
        "sensei",
        6,
        "submits: 10, window_seconds: 1, status_requests: 2, status_window_seconds: 1.5",
    );
    assert_eq!(created(&project.apply(&emulator, 0)), 6);
    assert_eq!(stat(&emulator, "status_rate_limited"), 0);
    assert!(stat(&emulator, "status_requests") >= 6);
}

#[test]
fn a_status_429_is_waited_out_and_holds_back_only_status_requests() {
    // The service allows one status request a second; maskflow believes the documented 1,000
    // per 3 s. Each job takes its own latency between 200 ms and 900 ms.
    let emulator = Emulator::start(&[
        "--latency",
        "200ms..900ms",
        "--submit-limit",
        "20",
        "--submit-window",
        "1s",
        "--status-limit",
        "1",
        "--status-window",
        "1s",
        "--seed",
        "3",
    ]);
    let project = Project::new(&emulator, "v2", 6, "submits: 10, window_seconds: 1");
    let events = project.apply(&emulator, 0);
    assert_eq!(created(&events), 6);
    assert!(events_of(&events, "failed").is_empty());
    let limited = stat(&emulator, "status_rate_limited");
    assert!(limited > 0, "the status limit was reached");
    // Each 429 says `Retry-After: 1` and holds back every status request that long, so the
    // six jobs meet it a few times each; retried on their own short steps instead, they would
    // meet it several times a second each.
    assert!(
        limited <= 30,
        "{limited} status requests were refused: Retry-After was not waited out"
    );
    // Every 429 was on a status request: submissions were never refused.
    assert_eq!(stat(&emulator, "rate_limited"), limited);
    assert_eq!(stat(&emulator, "submissions"), 6);
    assert_eq!(stat(&emulator, "duplicate_submissions"), 0);
}

/// Starts `apply` and kills it (SIGKILL) once the lockfile records a submitted job.
fn kill_after_first_submission(project: &Project, emulator: &Emulator) {
    let mut child = project
        .command(emulator, &["apply", "--format", "json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // A submission is recorded in the lockfile's journal before the job is waited on.
    let journal_path = project.root().join("maskflow.lock.journal");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&journal_path).unwrap_or_default();
        if text.contains("\"submitted\"") {
            break;
        }
        assert!(Instant::now() < deadline, "no job was submitted");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Fold the killed run's journal into the lockfile, as committing it after the run would
    // need: `lock merge` of the lockfile onto itself does exactly that.
    let folded = project.run(emulator, &["lock", "merge", "maskflow.lock"]);
    assert_eq!(code(&folded), 0, "stderr: {}", stderr(&folded));
    assert!(!journal_path.exists());
}

#[test]
fn a_resumed_job_is_polled_at_the_link_the_service_gave() {
    // The status routes live under /jobs/v7 only: a link rebuilt from the endpoint and the job
    // id would get a 404, so only the recorded link can finish the resumed jobs.
    let emulator = Emulator::start(&["--latency", "4s", "--status-prefix", "/jobs/v7"]);
    let project = Project::new(&emulator, "sensei", 5, "submits: 1, window_seconds: 1");
    kill_after_first_submission(&project, &emulator);
    let lock = project.lock();
    let in_flight: Vec<&Value> = lock["images"]
        .as_object()
        .unwrap()
        .values()
        .filter(|e| e["job"]["state"] == "submitted")
        .collect();
    assert!(!in_flight.is_empty());
    for entry in &in_flight {
        let job = &entry["job"];
        assert_eq!(
            job["href"].as_str().unwrap(),
            format!(
                "{}/jobs/v7/sensei/status/{}",
                emulator.base_url,
                job["id"].as_str().unwrap()
            )
        );
    }

    // `status` asks there too.
    let status = project.run(&emulator, &["status", "--format", "json"]);
    assert_eq!(code(&status), 0, "{}", stderr(&status));
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    for job in status["in_flight"].as_array().unwrap() {
        assert!(
            ["pending", "running", "succeeded"].contains(&job["state"].as_str().unwrap()),
            "{status}"
        );
    }

    let events = project.apply(&emulator, 0);
    let s = summary(&events);
    assert_eq!(s["resumed"].as_u64(), Some(in_flight.len() as u64));
    assert_eq!(
        s["created"].as_u64().unwrap() + s["updated"].as_u64().unwrap(),
        5
    );
    assert_eq!(stat(&emulator, "submissions"), 5);
    assert_eq!(stat(&emulator, "duplicate_submissions"), 0);
    // A finished job keeps no link.
    let lock = project.lock();
    for entry in lock["images"].as_object().unwrap().values() {
        assert_eq!(entry["job"]["state"], "succeeded");
        assert!(entry["job"].get("href").is_none(), "{entry}");
    }
}

#[test]
fn v2_polls_the_status_url_it_was_given() {
    let emulator = Emulator::start(&["--latency", "300ms", "--status-prefix", "/jobs/v7"]);
    let project = Project::new(&emulator, "v2", 2, "submits: 10, window_seconds: 1");
    assert_eq!(created(&project.apply(&emulator, 0)), 2);
}

#[test]
fn a_link_to_another_host_is_not_followed() {
    // A lockfile comes through pull requests: a recorded link to another host must not get
    // the access token. The rerun polls the job at the endpoint instead.
    let emulator = Emulator::start(&["--latency", "4s"]);
    let elsewhere = Emulator::start(&[]);
    let project = Project::new(&emulator, "sensei", 3, "submits: 1, window_seconds: 1");
    kill_after_first_submission(&project, &emulator);
    let mut lock = project.lock();
    let mut moved = 0;
    for entry in lock["images"].as_object_mut().unwrap().values_mut() {
        if let Some(href) = entry["job"]["href"].as_str() {
            entry["job"]["href"] = href.replace(&emulator.base_url, &elsewhere.base_url).into();
            moved += 1;
        }
    }
    assert!(moved > 0, "{lock}");
    std::fs::write(
        project.root().join("maskflow.lock"),
        serde_json::to_string_pretty(&lock).unwrap(),
    )
    .unwrap();
    let events = project.apply(&emulator, 0);
    assert!(summary(&events)["resumed"].as_u64().unwrap() >= 1);
    assert_eq!(stat(&elsewhere, "status_requests"), 0);
    assert_eq!(stat(&emulator, "submissions"), 3);
}
