//! End to end: the real binary on the local engine, run after run.

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use maskflow::plan::{Action, Reason};
use maskflow::report::events::JsonEvent;

/// Events read back as the type the renderer prints.
fn typed(events: Vec<serde_json::Value>) -> Vec<JsonEvent> {
    events
        .into_iter()
        .map(|event| serde_json::from_value(event).unwrap())
        .collect()
}

const MANIFEST: &str = r#"version: 1
defaults:
  output: "masks/{{ stem }}.png"
images:
  - glob: "photos/*.png"
  - input: photos/rocket.jpg
    mask: binary
"#;

#[test]
fn reruns_exactly_what_changed() {
    let dir = scratch(&["chelsea.png", "horse.png", "camera.png", "rocket.jpg"]);
    let root = dir.path();
    write(root, "maskflow.yaml", MANIFEST);

    // First run: every image is created, and the lockfile written.
    let first = apply(root, &[], 0);
    let s = summary(&first);
    assert_eq!(
        (s["created"].as_u64(), s["engine_runs"].as_u64()),
        (Some(4), Some(4))
    );
    for (name, w, h) in [
        ("chelsea", 451, 300),
        ("horse", 400, 328),
        ("camera", 512, 512),
        ("rocket", 640, 427),
    ] {
        let mask = image::open(root.join(format!("masks/{name}.png"))).unwrap();
        assert_eq!(mask.color(), image::ColorType::L8, "{name} is grayscale");
        assert_eq!(
            (mask.width(), mask.height()),
            (w, h),
            "{name} keeps its size"
        );
    }
    let binary = image::open(root.join("masks/rocket.png"))
        .unwrap()
        .to_luma8();
    assert!(binary.pixels().all(|p| p.0[0] == 0 || p.0[0] == 255));
    assert!(
        binary.pixels().any(|p| p.0[0] == 255),
        "the rocket is found"
    );
    let lock = std::fs::read(root.join("maskflow.lock")).unwrap();

    // Second run: nothing to do, the engine never runs, the lockfile is byte-identical.
    assert_eq!(code(&run(root, &["plan", "--detailed-exitcode"])), 0);
    let second = apply(root, &[], 0);
    let s = summary(&second);
    assert_eq!(
        (s["unchanged"].as_u64(), s["engine_runs"].as_u64()),
        (Some(4), Some(0))
    );
    assert!(events_of(&second, "started").is_empty());
    assert_eq!(std::fs::read(root.join("maskflow.lock")).unwrap(), lock);
    let lock_mtime = std::fs::metadata(root.join("maskflow.lock"))
        .unwrap()
        .modified()
        .unwrap();

    // Touch one image's bytes: exactly that one reruns.
    let mut cat = image::open(root.join("photos/chelsea.png"))
        .unwrap()
        .to_rgb8();
    cat.get_pixel_mut(0, 0).0 = [1, 2, 3];
    cat.save(root.join("photos/chelsea.png")).unwrap();
    assert_eq!(code(&run(root, &["plan", "--detailed-exitcode"])), 2);
    assert_eq!(
        planned(&plan(root), "masks/chelsea.png"),
        ("update".into(), vec!["input_changed".into()])
    );
    let third = apply(root, &[], 0);
    let finished: Vec<_> = events_of(&third, "finished")
        .iter()
        .map(|e| e["key"].clone())
        .collect();
    assert_eq!(finished, vec!["masks/chelsea.png"]);
    assert_eq!(summary(&third)["engine_runs"], 1);
    assert_ne!(
        std::fs::metadata(root.join("maskflow.lock"))
            .unwrap()
            .modified()
            .unwrap(),
        lock_mtime
    );

    // Change `mask:` for one image: exactly that one reruns, and says why.
    write(
        root,
        "maskflow.yaml",
        &MANIFEST.replace("mask: binary", "mask: soft"),
    );
    let (action, reasons) = planned(&plan(root), "masks/rocket.png");
    assert_eq!(
        (action.as_str(), reasons),
        ("update", vec!["setting_changed".to_owned()])
    );
    // Like Terraform's, the human plan is the command's result: on stdout, so that
    // `maskflow plan > plan.txt` captures it; stderr is left to diagnostics.
    let output = run(root, &["plan"]);
    let human = String::from_utf8_lossy(&output.stdout);
    assert!(
        human.contains("~ masks/rocket.png")
            && human.contains("update: setting mask changed (binary -> soft)")
            && human.contains("Plan: 0 to create, 1 to update"),
        "{human}"
    );
    assert_eq!(stderr(&output), "", "nothing but the plan was said");
    let fourth = apply(root, &[], 0);
    assert_eq!(summary(&fourth)["engine_runs"], 1);
    assert_eq!(events_of(&fourth, "finished")[0]["key"], "masks/rocket.png");

    // Delete a mask: it is remade. Modify one: it is someone's retouch, kept (tests/retouch.rs).
    std::fs::remove_file(root.join("masks/horse.png")).unwrap();
    std::fs::write(root.join("masks/camera.png"), b"scribbled over").unwrap();
    let plan_now = plan(root);
    assert_eq!(
        planned(&plan_now, "masks/horse.png").1,
        vec!["output_missing"]
    );
    assert_eq!(
        planned(&plan_now, "masks/camera.png"),
        ("kept".to_owned(), vec!["output_modified".to_owned()])
    );
    let fifth = apply(root, &[], 0);
    assert_eq!(summary(&fifth)["engine_runs"], 1);
    assert_eq!(summary(&fifth)["kept"], 1);
    let sixth = apply(root, &["--force", "masks/camera.png"], 0);
    assert_eq!(summary(&sixth)["engine_runs"], 1);

    // And then all is quiet again, with a stable lockfile.
    let lock = std::fs::read(root.join("maskflow.lock")).unwrap();
    assert_eq!(summary(&apply(root, &[], 0))["engine_runs"], 0);
    assert_eq!(summary(&apply(root, &[], 0))["engine_runs"], 0);
    assert_eq!(std::fs::read(root.join("maskflow.lock")).unwrap(), lock);
    let entries: serde_json::Value = serde_json::from_slice(&lock).unwrap();
    assert_eq!(entries["images"].as_object().unwrap().len(), 4);
}

#[test]
fn orphans_leave_the_lock_and_prune_deletes_their_masks() {
    let dir = scratch(&["chelsea.png", "horse.png"]);
    let root = dir.path();
    write(
        root,
        "maskflow.yaml",
        "version: 1\nimages:\n  - input: photos/chelsea.png\n  - input: photos/horse.png\n",
    );
    apply(root, &["--jobs", "2"], 0);
    write(
        root,
        "maskflow.yaml",
        "version: 1\nimages:\n  - input: photos/chelsea.png\n",
    );
    assert_eq!(planned(&plan(root), "masks/horse.png").0, "orphaned");
    let events = apply(root, &[], 0);
    assert_eq!(summary(&events)["removed"], 1);
    assert_eq!(summary(&events)["engine_runs"], 0);
    assert!(
        root.join("masks/horse.png").exists(),
        "without --prune the mask stays"
    );
    let lock = std::fs::read_to_string(root.join("maskflow.lock")).unwrap();
    assert!(!lock.contains("horse"));

    // Bring it back, then drop it again with --prune.
    write(
        root,
        "maskflow.yaml",
        "version: 1\nimages:\n  - input: photos/chelsea.png\n  - input: photos/horse.png\n",
    );
    apply(root, &[], 0);
    write(
        root,
        "maskflow.yaml",
        "version: 1\nimages:\n  - input: photos/chelsea.png\n",
    );
    let events = apply(root, &["--prune"], 0);
    assert_eq!(summary(&events)["pruned"], 1);
    assert!(!root.join("masks/horse.png").exists());
    assert!(root.join("masks/chelsea.png").exists());
}

#[test]
fn only_and_force_select_images() {
    let dir = scratch(&["chelsea.png", "horse.png"]);
    let root = dir.path();
    write(root, "maskflow.yaml", EVERY_PNG);
    let events = apply(root, &["--only", "masks/horse.png"], 0);
    assert_eq!(summary(&events)["created"], 1);
    assert_eq!(summary(&events)["skipped"], 1);
    assert!(!root.join("masks/chelsea.png").exists());

    // --only also matches the input path.
    let events = apply(root, &["--only", "photos/chel*"], 0);
    assert_eq!(
        events_of(&events, "finished")[0]["key"],
        "masks/chelsea.png"
    );

    let events = typed(apply(root, &["--force", "masks/chelsea.png"], 0));
    let finished: Vec<(&str, &Action)> = events
        .iter()
        .filter_map(|event| match event {
            JsonEvent::Finished { key, action, .. } => Some((key.as_str(), action)),
            _ => None,
        })
        .collect();
    assert_eq!(
        finished,
        [(
            "masks/chelsea.png",
            &Action::Update {
                reasons: vec![Reason::Forced]
            }
        )]
    );
    assert_eq!(typed_summary(&events).unchanged, 1);
}

#[test]
fn a_failed_image_does_not_stop_the_others() {
    let dir = scratch(&["chelsea.png", "horse.png"]);
    let root = dir.path();
    std::fs::write(root.join("photos/broken.png"), b"this is not a PNG").unwrap();
    write(root, "maskflow.yaml", EVERY_PNG);
    let events = typed(apply(root, &[], 1));
    let failed: Vec<&JsonEvent> = events
        .iter()
        .filter(|event| matches!(event, JsonEvent::Failed { .. }))
        .collect();
    let [
        JsonEvent::Failed {
            key,
            input,
            error,
            line,
            column,
        },
    ] = failed.as_slice()
    else {
        panic!("not one failure: {events:?}");
    };
    assert_eq!(
        (key.as_str(), input.as_str(), *line, *column),
        ("masks/broken.png", "photos/broken.png", 3, 5)
    );
    assert!(error.contains("photos/broken.png"), "{error}");
    let s = typed_summary(&events);
    assert_eq!((s.created, s.failed), (2, 1));
    assert!(!root.join("masks/broken.png").exists());

    // The failure is recorded, and the next plan retries it (and only it).
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("maskflow.lock")).unwrap()).unwrap();
    assert_eq!(lock["images"]["masks/broken.png"]["job"]["state"], "failed");
    let plan_now = plan(root);
    assert_eq!(
        planned(&plan_now, "masks/broken.png").1,
        vec!["previous_run_failed"]
    );
    assert_eq!(planned(&plan_now, "masks/horse.png").0, "unchanged");

    // Human output names the image too.
    let output = run(root, &["apply"]);
    assert_eq!(code(&output), 1);
    assert!(
        stderr(&output).contains("failed masks/broken.png from photos/broken.png"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_quickstart_example_validates_and_plans() {
    let output = run(
        &repo(),
        &["validate", "--manifest", "examples/maskflow.yaml"],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("is valid: 6 images"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn init_writes_a_manifest_that_works() {
    let dir = scratch(&["chelsea.png", "rocket.jpg"]);
    let root = dir.path();
    let output = run(root, &["init"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = std::fs::read_to_string(root.join("maskflow.yaml")).unwrap();
    assert!(
        text.contains("glob: \"photos/*.png\"") && text.contains("glob: \"photos/*.jpg\""),
        "{text}"
    );
    assert_eq!(code(&run(root, &["validate"])), 0);
    assert_eq!(code(&run(root, &["plan", "--detailed-exitcode"])), 2);
    let ignored = std::fs::read_to_string(root.join(".gitignore")).unwrap();
    assert!(
        ignored.lines().any(|line| line == "*.lock.journal"),
        "{ignored}"
    );

    // It never overwrites a manifest unless told to.
    let again = run(root, &["init"]);
    assert_eq!(code(&again), 1);
    assert!(stderr(&again).contains("--force"));
    assert_eq!(code(&run(root, &["init", "--force"])), 0);

    let empty = tempfile::tempdir().unwrap();
    let none = run(empty.path(), &["init"]);
    assert_eq!(code(&none), 1);
    assert!(stderr(&none).contains("no PNG or JPEG images"));
    assert!(!empty.path().join("maskflow.yaml").exists());
}

#[test]
fn a_killed_run_keeps_what_it_finished() {
    let dir = scratch(&["chelsea.png", "horse.png", "camera.png", "coffee.png"]);
    let root = dir.path();
    write(root, "maskflow.yaml", EVERY_PNG);
    let mut running = Running::start(root);
    running.wait_for("finished");
    running.child.kill().unwrap();
    running.child.wait().unwrap();

    // The lockfile is whole; what finished since it was last written is in its journal,
    // one fsynced line per image; every mask either names is complete.
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("maskflow.lock")).unwrap()).unwrap();
    assert_eq!(lock["version"], 1);
    let journal = std::fs::read_to_string(root.join("maskflow.lock.journal")).unwrap_or_default();
    let mut keys: Vec<String> = lock["images"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for line in journal.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        keys.push(record["key"].as_str().unwrap().to_owned());
    }
    keys.sort();
    keys.dedup();
    let done = keys.len();
    assert!((1..4).contains(&done), "{done} finished before the kill");
    for key in &keys {
        image::open(root.join(key)).unwrap();
    }
    // Readers fold the journal in: the plan counts every finished image as unchanged.
    assert_eq!(
        plan(root)["counts"]["unchanged"].as_u64(),
        Some(done as u64)
    );

    // The rerun does only the rest, and clears what a kill mid-write leaves behind.
    std::fs::write(root.join("masks/.maskflow-tmp-left-by-kill"), b"partial").unwrap();
    let events = apply(root, &[], 0);
    assert!(!root.join("masks/.maskflow-tmp-left-by-kill").exists());
    assert_eq!(
        summary(&events)["engine_runs"].as_u64(),
        Some(4 - done as u64)
    );
    assert_eq!(summary(&events)["unchanged"].as_u64(), Some(done as u64));
    // The end of the run folds the journal into the lockfile.
    assert!(!root.join("maskflow.lock.journal").exists());
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("maskflow.lock")).unwrap()).unwrap();
    assert_eq!(lock["images"].as_object().unwrap().len(), 4);
}

#[test]
fn two_applies_on_one_manifest_do_not_race() {
    let dir = scratch(&["chelsea.png", "horse.png"]);
    let root = dir.path();
    write(root, "maskflow.yaml", EVERY_PNG);
    // Once the first run has started masking, it holds the manifest.
    let mut first = Running::start(root);
    first.wait_for("started");
    let second = run(root, &["apply"]);
    assert_eq!(code(&second), 1);
    assert!(
        stderr(&second).contains("another `maskflow apply` is running"),
        "{}",
        stderr(&second)
    );
    assert!(first.finish());
    assert_eq!(summary(&apply(root, &[], 0))["unchanged"], 2);
}

#[test]
fn inputs_may_live_outside_the_manifest_folder() {
    let elsewhere = scratch(&["chelsea.png"]);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let absolute = elsewhere
        .path()
        .join("photos")
        .to_string_lossy()
        .into_owned();
    write(
        root,
        "maskflow.yaml",
        &format!(
            "version: 1\nimages:\n  - glob: \"{absolute}/*.png\"\n    output: \"masks/abs-{{{{ stem }}}}.png\"\n"
        ),
    );
    let plan = plan(root);
    let (action, _) = planned(&plan, "masks/abs-chelsea.png");
    assert_eq!(action, "create");
    assert_eq!(
        plan["changes"][0]["input"],
        format!("{absolute}/chelsea.png")
    );
}

#[test]
fn three_shards_merge_into_the_unsharded_lockfile() {
    let photos = ["chelsea.png", "horse.png", "camera.png", "coffee.png"];
    let manifest = EVERY_PNG;
    let whole = scratch(&photos);
    write(whole.path(), "maskflow.yaml", manifest);
    apply(whole.path(), &[], 0);

    let parts_dir = tempfile::tempdir().unwrap();
    let mut parts = Vec::new();
    let mut ran = 0;
    for k in 1..=3 {
        let shard = scratch(&photos);
        write(shard.path(), "maskflow.yaml", manifest);
        let events = apply(shard.path(), &["--shard", &format!("{k}/3")], 0);
        ran += summary(&events)["engine_runs"].as_u64().unwrap();
        let part = parts_dir.path().join(format!("shard-{k}.lock"));
        std::fs::copy(shard.path().join("maskflow.lock"), &part).unwrap();
        parts.push(part.to_string_lossy().into_owned());
    }
    assert_eq!(ran, 4, "each image ran in exactly one shard");

    let merged_dir = scratch(&photos);
    write(merged_dir.path(), "maskflow.yaml", manifest);
    let mut args = vec!["lock", "merge"];
    args.extend(parts.iter().map(String::as_str));
    let output = run(merged_dir.path(), &args);
    assert_eq!(code(&output), 0, "{}", stderr(&output));

    let without_times = |path: &std::path::Path| {
        let mut lock: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        for entry in lock["images"].as_object_mut().unwrap().values_mut() {
            let job = entry["job"].as_object_mut().unwrap();
            job.remove("submitted_at");
            job.remove("finished_at");
        }
        lock
    };
    assert_eq!(
        without_times(&merged_dir.path().join("maskflow.lock")),
        without_times(&whole.path().join("maskflow.lock"))
    );

    // Two versions of one entry are refused, and nothing is written.
    let conflicting = parts_dir.path().join("conflicting.lock");
    // With four images, a shard may be empty; take one that is not.
    let part = parts
        .iter()
        .find(|p| std::fs::read_to_string(p).unwrap().contains("masks/"))
        .unwrap();
    let mut lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(part).unwrap()).unwrap();
    let key = lock["images"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    lock["images"][&key]["fingerprint"] = "blake3:00".into();
    std::fs::write(&conflicting, serde_json::to_vec(&lock).unwrap()).unwrap();
    let out = parts_dir.path().join("out.lock");
    let output = run(
        parts_dir.path(),
        &[
            "lock",
            "merge",
            part,
            conflicting.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&output), 1);
    assert!(
        stderr(&output).contains(&format!("disagree on `{key}`")),
        "{}",
        stderr(&output)
    );
    assert!(!out.exists());
}

/// What a person sees: `plan` (on stdout) and `apply` (on stderr) in the human renderer,
/// against snapshots in tests/snapshots/. A plan to create, a run where one image fails, then
/// a plan with a changed input, a new image and an orphan.
#[test]
fn human_plan_and_apply_output() {
    let test = Test::new()
        .photos(&["chelsea.png"])
        .file("photos/broken.png", b"not a PNG")
        .manifest(EVERY_PNG);
    let root = test.root().to_owned();
    let plan = test.args(["plan"]).run();
    let apply = Test::in_dir(&root)
        .args(["apply", "--jobs", "1"])
        .status(1)
        .run();
    std::fs::remove_file(root.join("photos/broken.png")).unwrap();
    for (from, to) in [("horse.png", "horse.png"), ("camera.png", "chelsea.png")] {
        std::fs::copy(
            repo().join("examples/photos").join(from),
            root.join("photos").join(to),
        )
        .unwrap();
    }
    let replan = Test::in_dir(&root).args(["plan"]).run();
    let shown = snapshot::transcript(&[
        ("plan: stdout", &plan.stdout()),
        ("plan: stderr", &plan.stderr()),
        ("apply: stdout", &apply.stdout()),
        ("apply: stderr", &apply.stderr()),
        ("plan again: stdout", &replan.stdout()),
        ("plan again: stderr", &replan.stderr()),
    ]);
    snapshot::filtered(|| insta::assert_snapshot!("human_plan_and_apply", shown));
    // What the snapshot must hold whatever it is updated to.
    assert!(plan.stdout().contains("+ masks/chelsea.png"), "{shown}");
    assert!(apply.stderr().contains("1 created"), "{shown}");
    assert!(apply.stderr().contains("1 failed"), "{shown}");
    assert!(replan.stdout().contains("- masks/broken.png"), "{shown}");
}
