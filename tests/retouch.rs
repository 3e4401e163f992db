//! Hand-retouched masks: kept by default, adopted as manual masks, conflicts when their input
//! changes, remade only on purpose; the `retouched` policies; `lock merge` of manual entries.

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Output;

use common::*;
use serde_json::Value;

const HORSE: &str = "masks/horse.png";

fn lock(root: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(root.join("maskflow.lock")).unwrap()).unwrap()
}

fn entry(root: &Path, key: &str) -> Value {
    lock(root)["images"][key].clone()
}

fn digest(bytes: &[u8]) -> String {
    format!("blake3:{}", blake3::hash(bytes).to_hex())
}

fn read(root: &Path, name: &str) -> Vec<u8> {
    std::fs::read(root.join(name)).unwrap()
}

/// What a designer does in an image editor: paint part of the mask white, save it as PNG.
fn retouch(root: &Path, key: &str) -> Vec<u8> {
    let mut mask = image::open(root.join(key)).unwrap().into_luma8();
    for y in 0..mask.height() / 4 {
        for x in 0..mask.width() / 4 {
            mask.put_pixel(x, y, image::Luma([255]));
        }
    }
    mask.save(root.join(key)).unwrap();
    read(root, key)
}

/// The exit code and everything printed for people: the plan on stdout, the rest on stderr.
fn run_code(root: &Path, args: &[&str]) -> (i32, String) {
    let output = run(root, args);
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    (code(&output), printed)
}

/// Edits the input photo of `horse.png` (same size, other bytes), as a new shoot would.
fn change_input(root: &Path, shade: u8) {
    let path = root.join("photos/horse.png");
    let mut photo = image::open(&path).unwrap().into_rgb8();
    for x in 0..photo.width() / 2 {
        photo.put_pixel(x, 0, image::Rgb([shade, shade, shade]));
    }
    photo.save(&path).unwrap();
}

#[test]
fn retouch_is_kept_adopted_and_remade_only_when_forced() {
    let dir = scratch(&["horse.png", "chelsea.png"]);
    let root = dir.path();
    write(root, "maskflow.yaml", EVERY_PNG);
    apply(root, &[], 0);
    let generated_entry = entry(root, HORSE);
    assert!(generated_entry.get("origin").is_none(), "{generated_entry}");

    // Retouched: plan shows it kept, and it is not a pending change.
    let retouched = retouch(root, HORSE);
    let lock_before = read(root, "maskflow.lock");
    assert_eq!(
        planned(&plan(root), HORSE),
        ("kept".to_owned(), vec!["output_modified".to_owned()])
    );
    let (code, human) = run_code(root, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{human}");
    assert!(
        human.contains("! masks/horse.png    kept: modified outside maskflow"),
        "{human}"
    );
    assert!(
        human.contains("No changes: 1 mask is up to date, 1 kept."),
        "{human}"
    );

    // apply leaves the bytes and the lockfile as they are, and says so.
    let events = apply(root, &[], 0);
    let kept = events_of(&events, "kept");
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["key"], HORSE);
    assert_eq!(kept[0]["policy"], "keep");
    assert_eq!(summary(&events)["kept"], 1);
    assert_eq!(summary(&events)["engine_runs"], 0);
    assert_eq!(read(root, HORSE), retouched);
    assert_eq!(read(root, "maskflow.lock"), lock_before);
    let (code, human) = run_code(root, &["apply"]);
    assert_eq!(code, 0);
    assert!(
        human.contains("kept masks/horse.png: modified outside maskflow; `maskflow adopt masks/horse.png` keeps"),
        "{human}"
    );

    // adopt (no pattern: every mask modified outside maskflow) records it as manual.
    let output = run(root, &["adopt", "--format", "json"]);
    assert_eq!(common::code(&output), 0, "{}", stderr(&output));
    let adopted = common::events(&output);
    assert_eq!(events_of(&adopted, "adopted").len(), 1);
    assert_eq!(events_of(&adopted, "adopt_summary")[0]["adopted"], 1);
    let manual = entry(root, HORSE);
    assert_eq!(manual["origin"], "manual");
    assert_eq!(manual["output"]["digest"], digest(&retouched));
    assert_eq!(manual["output"]["size"], retouched.len());
    assert_eq!(
        manual["input"]["digest"],
        digest(&read(root, "photos/horse.png"))
    );
    assert_eq!(manual["job"]["id"], "manual");
    assert_eq!(read(root, HORSE), retouched);
    // The other image's entry is untouched.
    assert!(entry(root, "masks/chelsea.png").get("origin").is_none());

    // From now on it is up to date.
    let now = plan(root);
    assert_eq!(planned(&now, HORSE), ("unchanged".to_owned(), vec![]));
    assert_eq!(now["has_changes"], false);
    let change = now["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == HORSE)
        .unwrap();
    assert_eq!(change["origin"], "manual");
    assert_eq!(run_code(root, &["plan", "--detailed-exitcode"]).0, 0);
    let lock_adopted = read(root, "maskflow.lock");
    assert_eq!(summary(&apply(root, &[], 0))["engine_runs"], 0);
    assert_eq!(read(root, "maskflow.lock"), lock_adopted, "byte-stable");
    assert_eq!(read(root, HORSE), retouched);
    // Adopting again changes nothing.
    let (code, human) = run_code(root, &["adopt", HORSE]);
    assert_eq!(code, 0, "{human}");
    assert!(human.contains("0 adopted, 1 already manual"), "{human}");
    assert_eq!(read(root, "maskflow.lock"), lock_adopted);

    // The input changes: a conflict that apply does not resolve by itself.
    change_input(root, 1);
    assert_eq!(
        planned(&plan(root), HORSE),
        ("conflict".to_owned(), vec!["input_changed".to_owned()])
    );
    let (code, human) = run_code(root, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{human}");
    assert!(
        human.contains("! masks/horse.png    conflict: input changed since the manual mask"),
        "{human}"
    );
    let events = apply(root, &[], 2);
    let conflicts = events_of(&events, "conflict");
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0]["reasons"][0]["reason"], "input_changed");
    assert_eq!(summary(&events)["conflicts"], 1);
    assert_eq!(summary(&events)["engine_runs"], 0);
    assert_eq!(read(root, HORSE), retouched);
    assert_eq!(read(root, "maskflow.lock"), lock_adopted);

    // `adopt` resolves it by keeping the mask for the new input.
    assert_eq!(run_code(root, &["adopt", "photos/horse.png"]).0, 0);
    let readopted = entry(root, HORSE);
    assert_eq!(readopted["origin"], "manual");
    assert_eq!(
        readopted["input"]["digest"],
        digest(&read(root, "photos/horse.png"))
    );
    assert_eq!(readopted["output"]["digest"], digest(&retouched));
    assert_eq!(planned(&plan(root), HORSE).0, "unchanged");

    // Changed again; this time `--force` remakes it, and it is maskflow's again.
    change_input(root, 2);
    assert_eq!(planned(&plan(root), HORSE).0, "conflict");
    let events = apply(root, &["--force", HORSE], 0);
    let finished = events_of(&events, "finished");
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0]["action"]["reasons"][0]["reason"], "forced");
    let remade = read(root, HORSE);
    assert_ne!(remade, retouched);
    let generated = entry(root, HORSE);
    assert!(generated.get("origin").is_none(), "{generated}");
    assert_eq!(generated["output"]["digest"], digest(&remade));
    assert_eq!(
        generated["input"]["digest"],
        digest(&read(root, "photos/horse.png"))
    );
    assert_eq!(run_code(root, &["plan", "--detailed-exitcode"]).0, 0);
}

/// A GitHub Actions step, with this run's summary only.
fn actions_step(dir: &Path, args: &[&str]) -> (Output, String) {
    let _ = std::fs::remove_file(dir.join("github-summary.md"));
    let (output, _, summary) = run_in_actions(dir, args);
    (output, summary)
}

#[test]
fn under_github_actions_kept_masks_and_conflicts_are_annotated_and_summarized() {
    let dir = scratch(&["horse.png", "chelsea.png"]);
    let root = dir.path();
    write(root, "maskflow.yaml", EVERY_PNG);
    apply(root, &[], 0);
    let retouched = retouch(root, HORSE);
    let annotation = "::warning file=maskflow.yaml,line=3,col=5::masks/horse.png kept: modified outside maskflow; `maskflow adopt masks/horse.png` keeps the mask on disk, `maskflow apply --force masks/horse.png` remakes it";

    let (output, _) = actions_step(root, &["plan"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.lines().any(|l| l == annotation), "{stdout}");

    let (output, summary) = actions_step(root, &["apply"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.lines().any(|l| l == annotation), "{stdout}");
    assert!(
        summary.starts_with(
            "## maskflow: 0 created, 0 updated, 1 unchanged, 0 failed, 0 removed, 1 kept\n"
        ),
        "{summary}"
    );
    assert!(
        summary.contains("| `masks/horse.png` | kept | modified outside maskflow |"),
        "{summary}"
    );
    assert_eq!(read(root, HORSE), retouched);

    // Adopted, then its input changes: a conflict, annotated, listed, exit 2.
    assert_eq!(run_code(root, &["adopt"]).0, 0);
    change_input(root, 1);
    let (output, summary) = actions_step(root, &["apply"]);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.lines().any(|l| l.starts_with(
            "::warning file=maskflow.yaml,line=3,col=5::masks/horse.png conflict: input changed since the manual mask; `maskflow adopt masks/horse.png`"
        )),
        "{stdout}"
    );
    assert!(summary.contains(", 1 conflict\n"), "{summary}");
    assert!(
        summary.contains("| `masks/horse.png` | conflict | input changed since the manual mask |"),
        "{summary}"
    );
    assert_eq!(read(root, HORSE), retouched);
    assert_eq!(entry(root, HORSE)["origin"], "manual");
}

#[test]
fn policies_remake_and_fail_and_prune_keep_manual_masks() {
    let dir = scratch(&["horse.png", "chelsea.png"]);
    let root = dir.path();
    let manifest = "version: 1\ndefaults:\n  retouched: fail\nimages:\n  - input: photos/horse.png\n  - input: photos/chelsea.png\n    retouched: remake\n";
    write(root, "maskflow.yaml", manifest);
    apply(root, &[], 0);
    let chelsea_made = read(root, "masks/chelsea.png");
    let horse_entry = entry(root, HORSE);
    let horse_retouched = retouch(root, HORSE);
    let chelsea_retouched = retouch(root, "masks/chelsea.png");

    // remake: planned as an update; fail: kept, and plan itself fails.
    let now = plan_any(root, 1);
    assert_eq!(
        planned(&now, "masks/chelsea.png"),
        ("update".to_owned(), vec!["output_modified".to_owned()])
    );
    assert_eq!(planned(&now, HORSE).0, "kept");
    let horse_change = now["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == HORSE)
        .unwrap()
        .clone();
    assert_eq!(horse_change["policy"], "fail");
    let (_, human) = run_code(root, &["plan"]);
    assert!(human.contains("`retouched: fail` fails the run"), "{human}");

    let events = apply(root, &[], 1);
    assert_eq!(summary(&events)["failed"], 1);
    assert_eq!(summary(&events)["updated"], 1);
    assert_eq!(events_of(&events, "kept")[0]["policy"], "fail");
    assert_eq!(read(root, HORSE), horse_retouched, "fail never overwrites");
    assert_eq!(entry(root, HORSE), horse_entry, "nor records a failure");
    let chelsea = read(root, "masks/chelsea.png");
    assert_ne!(chelsea, chelsea_retouched);
    assert_eq!(chelsea, chelsea_made, "the model is deterministic");
    assert_eq!(
        entry(root, "masks/chelsea.png")["output"]["digest"],
        digest(&chelsea)
    );
    // Still refused on the next run: a refusal is not a failed job to retry.
    assert_eq!(planned(&plan_any(root, 1), HORSE).0, "kept");

    // Adopted, a settings change is a conflict too: the hand-made mask was soft.
    assert_eq!(run_code(root, &["adopt", HORSE]).0, 0);
    assert_eq!(planned(&plan(root), HORSE).0, "unchanged");
    write(
        root,
        "maskflow.yaml",
        &manifest.replace("photos/horse.png\n", "photos/horse.png\n    mask: binary\n"),
    );
    assert_eq!(
        planned(&plan(root), HORSE),
        ("conflict".to_owned(), vec!["setting_changed".to_owned()])
    );
    let (_, human) = run_code(root, &["plan"]);
    assert!(
        human.contains("conflict: setting mask changed (soft -> binary) since the manual mask"),
        "{human}"
    );

    // Gone from the manifest: --prune drops the entry but never deletes a manual mask.
    write(
        root,
        "maskflow.yaml",
        "version: 1\nimages:\n  - input: photos/chelsea.png\n",
    );
    let events = apply(root, &["--prune"], 0);
    let removed = events_of(&events, "removed");
    assert_eq!(removed[0]["key"], HORSE);
    assert_eq!(removed[0]["pruned"], false);
    assert_eq!(removed[0]["kept"], "manual");
    assert_eq!(read(root, HORSE), horse_retouched);
}

/// `plan --format json` with the expected exit code.
fn plan_any(root: &Path, expected: i32) -> Value {
    let output = run(root, &["plan", "--format", "json"]);
    assert_eq!(code(&output), expected, "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn adopt_checks_what_it_records() {
    let dir = scratch(&["horse.png"]);
    let root = dir.path();
    write(root, "maskflow.yaml", EVERY_PNG);
    // Nothing made yet: nothing to adopt, and a pattern that matches nothing is an error.
    let (code, human) = run_code(root, &["adopt"]);
    assert_eq!(code, 0, "{human}");
    assert!(human.contains("Nothing to adopt"), "{human}");
    let (code, human) = run_code(root, &["adopt", "masks/hrose.png"]);
    assert_eq!(code, 1);
    assert!(
        human.contains("`masks/hrose.png` matches no image"),
        "{human}"
    );
    let (code, human) = run_code(root, &["adopt", HORSE]);
    assert_eq!(code, 1);
    assert!(human.contains("there is no mask at"), "{human}");
    assert!(!root.join("maskflow.lock").exists());

    // A hand-made mask for an image maskflow never masked: not a PNG, the wrong size, then right.
    std::fs::create_dir(root.join("masks")).unwrap();
    std::fs::write(root.join(HORSE), b"not a PNG").unwrap();
    let (code, human) = run_code(root, &["adopt", HORSE]);
    assert_eq!(code, 1);
    assert!(human.contains("is not a PNG image"), "{human}");
    image::GrayImage::new(7, 5).save(root.join(HORSE)).unwrap();
    let (code, human) = run_code(root, &["adopt", HORSE]);
    assert_eq!(code, 1);
    assert!(
        human.contains("the mask is 7x5, but its input photos/horse.png is"),
        "{human}"
    );
    let (w, h) = image::image_dimensions(root.join("photos/horse.png")).unwrap();
    image::GrayImage::new(w, h).save(root.join(HORSE)).unwrap();
    assert_eq!(run_code(root, &["adopt", HORSE]).0, 0);
    assert_eq!(entry(root, HORSE)["origin"], "manual");
    assert_eq!(summary(&apply(root, &[], 0))["engine_runs"], 0);
}

#[test]
fn lock_merge_names_manual_and_generated_entries_and_shards_keep_manual_ones() {
    let dir = scratch(&["horse.png", "chelsea.png", "coffee.png"]);
    let root = dir.path();
    write(root, "maskflow.yaml", EVERY_PNG);
    apply(root, &[], 0);
    std::fs::copy(root.join("maskflow.lock"), root.join("generated.lock")).unwrap();
    retouch(root, HORSE);
    assert_eq!(run_code(root, &["adopt"]).0, 0);
    let full = read(root, "maskflow.lock");
    std::fs::write(root.join("manual.lock"), &full).unwrap();

    let (code, human) = run_code(
        root,
        &[
            "lock",
            "merge",
            "generated.lock",
            "manual.lock",
            "--output",
            "merged.lock",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        human.contains("`masks/horse.png` is a manual mask in manual.lock but a generated one in generated.lock"),
        "{human}"
    );
    assert!(human.contains("hint:"), "{human}");
    assert!(!root.join("merged.lock").exists());

    // Each shard keeps the manual entries it owns; merged, they are the whole lockfile.
    for k in 1..=2 {
        std::fs::write(root.join("maskflow.lock"), &full).unwrap();
        let shard = format!("{k}/2");
        let events = apply(root, &["--shard", &shard], 0);
        assert_eq!(summary(&events)["engine_runs"], 0);
        std::fs::copy(
            root.join("maskflow.lock"),
            root.join(format!("shard-{k}.lock")),
        )
        .unwrap();
    }
    let (code, human) = run_code(
        root,
        &[
            "lock",
            "merge",
            "shard-1.lock",
            "shard-2.lock",
            "--output",
            "merged.lock",
        ],
    );
    assert_eq!(code, 0, "{human}");
    assert_eq!(read(root, "merged.lock"), full);
}
