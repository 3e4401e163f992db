//! A lockfile is committed, so it can arrive hostile: edited in a pull request, mangled by a
//! merge, or a shard's partial lock passed to `lock merge`. None of it may make maskflow
//! delete a file outside the project, or a file the manifest reads.

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::{Value, json};

const MANIFEST: &str =
    "version: 1\nimages:\n  - input: photos/chelsea.png\n  - input: photos/rocket.jpg\n";

/// A project folder inside a folder that also holds files the project must never touch.
struct Layout {
    _base: tempfile::TempDir,
    outside: PathBuf,
    project: PathBuf,
}

fn layout() -> Layout {
    let base = tempfile::tempdir().unwrap();
    let outside = base.path().to_owned();
    let project = outside.join("project");
    std::fs::create_dir_all(project.join("photos")).unwrap();
    for name in ["chelsea.png", "rocket.jpg"] {
        std::fs::copy(
            repo().join("examples/photos").join(name),
            project.join("photos").join(name),
        )
        .unwrap();
    }
    write(&project, "maskflow.yaml", MANIFEST);
    std::fs::write(outside.join("decoy.png"), b"decoy next to the project").unwrap();
    std::fs::write(
        outside.join("absolute-decoy.png"),
        b"decoy by absolute path",
    )
    .unwrap();
    std::fs::create_dir(outside.join("elsewhere")).unwrap();
    std::fs::write(
        outside.join("elsewhere/decoy.png"),
        b"decoy behind a symlink",
    )
    .unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("../elsewhere", project.join("link")).unwrap();
    Layout {
        _base: base,
        outside,
        project,
    }
}

fn digest(path: &Path) -> String {
    maskflow::fsutil::digest_file(path).unwrap().1
}

/// A lockfile entry of a mask maskflow would have written, with the given target.
fn entry(target: &str, digest: &str) -> Value {
    json!({
        "input": {"source": "photos/gone.png", "size": 1, "digest": "blake3:00"},
        "settings": {"mask": "soft"},
        "engine": {"name": "local"},
        "fingerprint": "blake3:11",
        "output": {"target": target, "size": 1, "digest": digest, "width": 1, "height": 1},
        "job": {"id": "local-0", "state": "succeeded", "submitted_at": "2026-01-01T00:00:00Z"},
    })
}

fn lockfile(key: &str, entry: Value) -> String {
    serde_json::to_string_pretty(&json!({"version": 1, "images": {key: entry}})).unwrap()
}

/// Each hostile entry: its key, its target, and the file whose digest it records.
fn hostile(layout: &Layout) -> Vec<(String, String, PathBuf)> {
    let absolute = layout.outside.join("absolute-decoy.png");
    let mut cases = vec![
        (
            "../decoy.png".to_owned(),
            "../decoy.png".to_owned(),
            layout.outside.join("decoy.png"),
        ),
        (
            absolute.to_string_lossy().into_owned(),
            absolute.to_string_lossy().into_owned(),
            absolute.clone(),
        ),
        // The user's photograph, named by the digest of the input it is.
        (
            "photos/rocket.jpg".to_owned(),
            "photos/rocket.jpg".to_owned(),
            layout.project.join("photos/rocket.jpg"),
        ),
        // A harmless key with a target elsewhere.
        (
            "masks/old.png".to_owned(),
            "../decoy.png".to_owned(),
            layout.outside.join("decoy.png"),
        ),
    ];
    if cfg!(unix) {
        cases.push((
            "link/decoy.png".to_owned(),
            "link/decoy.png".to_owned(),
            layout.outside.join("elsewhere/decoy.png"),
        ));
    }
    cases
}

fn assert_refused(output: &std::process::Output, key: &str, file: &str) {
    assert_eq!(code(output), 1, "{}", stderr(output));
    let text = stderr(output);
    assert!(text.contains(&format!("entry `{key}`")), "{text}");
    assert!(text.contains(file), "{text}");
    assert!(text.contains("nothing was deleted"), "{text}");
}

#[test]
fn a_hostile_lockfile_deletes_nothing_through_apply_prune() {
    let layout = layout();
    let root = &layout.project;
    for (key, target, victim) in hostile(&layout) {
        let before = std::fs::read(&victim).unwrap();
        let lock = lockfile(&key, entry(&target, &digest(&victim)));
        write(root, "maskflow.lock", &lock);
        let output = run(root, &["apply", "--prune"]);
        assert_refused(&output, &key, "maskflow.lock");
        assert_eq!(std::fs::read(&victim).unwrap(), before, "{key}");
        // Refused before anything ran or was written.
        assert!(!root.join("masks").exists(), "{key}");
        assert_eq!(
            std::fs::read_to_string(root.join("maskflow.lock")).unwrap(),
            lock
        );
        // Every reader refuses it the same way.
        assert_refused(&run(root, &["plan"]), &key, "maskflow.lock");
    }
}

/// `--format json`: the refusal is one typed `error` event that names the file, the place
/// in it when there is one, and the image.
#[test]
fn a_refused_lockfile_is_an_error_event_with_its_file_place_and_image() {
    use maskflow::report::events::{ErrorEvent, JsonEvent};
    let layout = layout();
    let root = &layout.project;
    let (key, target, victim) = hostile(&layout).remove(0);
    write(
        root,
        "maskflow.lock",
        &lockfile(&key, entry(&target, &digest(&victim))),
    );
    let output = run(root, &["plan", "--format", "json"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let events = typed_events(&output);
    let [JsonEvent::Error(error)] = events.as_slice() else {
        panic!("not one error event: {events:?}");
    };
    assert!(
        error.message.contains(&format!("entry `{key}`")),
        "{error:?}"
    );
    assert!(error.hint.as_ref().unwrap().contains("nothing was deleted"));
    assert_eq!(error.file.as_deref(), Some("maskflow.lock"));
    assert_eq!((error.line, error.column), (None, None));
    assert_eq!(error.image.as_deref(), Some(key.as_str()));

    // A merge left its markers in the lockfile: the place is the line and column.
    write(
        root,
        "maskflow.lock",
        "{\"version\": 1, \"images\": {\n<<<<<<< HEAD\n}}\n",
    );
    let output = run(root, &["plan", "--format", "json"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let events = typed_events(&output);
    let [
        JsonEvent::Error(ErrorEvent {
            file, line, column, ..
        }),
    ] = events.as_slice()
    else {
        panic!("not one error event: {events:?}");
    };
    assert_eq!(file.as_deref(), Some("maskflow.lock"));
    assert_eq!((*line, *column), (Some(2), Some(1)));
}

#[test]
fn a_hostile_journal_deletes_nothing_through_apply_prune() {
    let layout = layout();
    let root = &layout.project;
    let victim = layout.outside.join("decoy.png");
    write(root, "maskflow.lock", "{\"version\": 1, \"images\": {}}\n");
    let record = json!({"key": "../decoy.png", "entry": entry("../decoy.png", &digest(&victim))});
    write(root, "maskflow.lock.journal", &format!("{record}\n"));
    let output = run(root, &["apply", "--prune"]);
    assert_refused(&output, "../decoy.png", "maskflow.lock.journal");
    assert!(victim.exists());
    assert!(!root.join("masks").exists());
}

#[test]
fn a_hostile_part_is_refused_by_lock_merge() {
    let layout = layout();
    let root = &layout.project;
    std::fs::create_dir(root.join("shards")).unwrap();
    let good = lockfile("masks/chelsea.png", entry("masks/chelsea.png", "blake3:22"));
    write(root, "shards/good.lock", &good);
    for (key, target, victim) in hostile(&layout) {
        let before = std::fs::read(&victim).unwrap();
        write(
            root,
            "shards/part.lock",
            &lockfile(&key, entry(&target, &digest(&victim))),
        );
        let output = run(
            root,
            &["lock", "merge", "shards/good.lock", "shards/part.lock"],
        );
        assert_refused(&output, &key, "part.lock");
        assert!(
            !root.join("maskflow.lock").exists(),
            "{key}: nothing written"
        );
        assert_eq!(std::fs::read(&victim).unwrap(), before, "{key}");
    }
    // The good part alone merges.
    let output = run(root, &["lock", "merge", "shards/good.lock"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(
        std::fs::read_to_string(root.join("maskflow.lock")).unwrap(),
        format!("{good}\n")
    );
}

#[test]
fn prune_keeps_inputs_and_symlinked_files_and_names_what_it_deletes() {
    let layout = layout();
    let root = &layout.project;
    write(
        root,
        "maskflow.yaml",
        "version: 1\nimages:\n  - input: photos/chelsea.png\n",
    );
    apply(root, &[], 0);
    let photo = root.join("photos/chelsea.png");
    let photo_bytes = std::fs::read(&photo).unwrap();
    // An orphan whose mask is still as maskflow wrote it: the one file prune may delete.
    std::fs::copy(root.join("masks/chelsea.png"), root.join("masks/old.png")).unwrap();
    let mut lock: Value =
        serde_json::from_slice(&std::fs::read(root.join("maskflow.lock")).unwrap()).unwrap();
    let images = lock["images"].as_object_mut().unwrap();
    images.insert(
        "masks/old.png".into(),
        entry("masks/old.png", &digest(&root.join("masks/old.png"))),
    );
    // A `.png` input of the manifest, with its own digest.
    images.insert(
        "photos/chelsea.png".into(),
        entry("photos/chelsea.png", &digest(&photo)),
    );
    #[cfg(unix)]
    {
        // A symlink inside the project, to the photograph.
        std::os::unix::fs::symlink("../photos/chelsea.png", root.join("masks/alias.png")).unwrap();
        images.insert(
            "masks/alias.png".into(),
            entry("masks/alias.png", &digest(&photo)),
        );
    }
    write(
        root,
        "maskflow.lock",
        &serde_json::to_string_pretty(&lock).unwrap(),
    );

    let events = apply(root, &["--prune"], 0);
    assert_eq!(summary(&events)["engine_runs"], 0);
    assert_eq!(summary(&events)["pruned"], 1);
    let removed = events_of(&events, "removed");
    let of = |key: &str| {
        *removed
            .iter()
            .find(|e| e["key"] == key)
            .unwrap_or_else(|| panic!("{key} not removed: {removed:?}"))
    };
    assert_eq!(of("masks/old.png")["pruned"], true);
    assert!(
        of("masks/old.png")["deleted"]
            .as_str()
            .unwrap()
            .ends_with("masks/old.png")
    );
    assert!(!root.join("masks/old.png").exists());
    assert_eq!(of("photos/chelsea.png")["kept"], "input");
    assert_eq!(std::fs::read(&photo).unwrap(), photo_bytes);
    #[cfg(unix)]
    {
        assert_eq!(of("masks/alias.png")["kept"], "symlink");
        assert!(root.join("masks/alias.png").exists());
    }
    assert!(root.join("masks/chelsea.png").exists());
    let lock: Value =
        serde_json::from_slice(&std::fs::read(root.join("maskflow.lock")).unwrap()).unwrap();
    let keys: Vec<&String> = lock["images"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["masks/chelsea.png"]);
}

#[test]
fn the_human_message_names_the_file_deleted() {
    let layout = layout();
    let root = &layout.project;
    std::fs::create_dir(root.join("masks")).unwrap();
    std::fs::write(root.join("masks/old.png"), b"an old mask").unwrap();
    let lock = lockfile(
        "masks/old.png",
        entry("masks/old.png", &digest(&root.join("masks/old.png"))),
    );
    write(root, "maskflow.lock", &lock);
    // --only selects the orphan and no image, so no model runs.
    let output = run(root, &["apply", "--prune", "--only", "masks/old.png"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = stderr(&output);
    let line = text
        .lines()
        .find(|l| l.contains("orphan masks/old.png"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("deleted "), "{line}");
    assert!(line.trim_end().ends_with("masks/old.png"), "{line}");
    assert!(!root.join("masks/old.png").exists());
}
