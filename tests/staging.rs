//! End to end: cloud storage. The real binary against `s3s-fs` (a real S3-compatible server
//! that verifies SigV4 signatures) and `maskflow emulate`, all on 127.0.0.1.

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::emulator::Emulator;
use common::s3::{S3, SECRET_KEY};
use common::*;
use serde_json::Value;

const PHOTOS: [&str; 3] = ["camera.png", "coffee.png", "horse.png"];

fn command(dir: &Path, s3: &S3, emulator: Option<&Emulator>, args: &[&str]) -> Command {
    let mut test = Test::in_dir(dir).args(args).envs(s3.credentials());
    if let Some(emulator) = emulator {
        test = test.envs(emulator.credentials());
    }
    test.command()
}

fn apply_with(
    dir: &Path,
    s3: &S3,
    emulator: Option<&Emulator>,
    expected: i32,
) -> (Vec<Value>, Output) {
    let output = command(dir, s3, emulator, &["apply", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&output), expected, "stderr: {}", stderr(&output));
    (events(&output), output)
}

fn staged_manifest(s3: &S3, emulator: &Emulator, api: &str, extra_storage: &str) -> String {
    format!(
        "version: 1\ndefaults:\n  engine: photoshop\nphotoshop:\n  api: {api}\n  endpoint: \"{0}\"\n  ims: \"{0}\"\n  \
         limits: {{submits: 10, window_seconds: 1, poll_initial_seconds: 0.2, poll_max_seconds: 1}}\n\
         storage:\n  staging: s3://maskflow/stage\n  s3: {{endpoint: \"{1}\"}}\n{extra_storage}images:\n  - glob: \"photos/*.png\"\n",
        emulator.base_url, s3.endpoint
    )
}

/// The local engine's mask of each photo, as PNG bytes.
fn local_mask(photo: &str) -> Vec<u8> {
    let dir = scratch(&[photo]);
    write(dir.path(), "maskflow.yaml", EVERY_PNG);
    apply(dir.path(), &[], 0);
    let stem = photo.trim_end_matches(".png");
    std::fs::read(dir.path().join(format!("masks/{stem}.png"))).unwrap()
}

/// Nothing written or printed holds the S3 secret or a signature.
fn assert_no_secrets(dir: &Path, outputs: &[&Output]) {
    for needle in [SECRET_KEY, "X-Amz-Signature", "X-Amz-Credential"] {
        for output in outputs {
            for stream in [&output.stdout, &output.stderr] {
                assert!(
                    !String::from_utf8_lossy(stream).contains(needle),
                    "output leaks {needle}"
                );
            }
        }
        for file in files(dir) {
            let text =
                String::from_utf8_lossy(&std::fs::read(dir.join(&file)).unwrap()).into_owned();
            assert!(!text.contains(needle), "{file} leaks {needle}");
        }
    }
}

#[test]
fn local_inputs_are_staged_once_and_masks_come_back() {
    let s3 = S3::start();
    let emulator = Emulator::start(&["--latency", "300ms"]);
    let dir = scratch(&PHOTOS);
    let root = dir.path();
    write(
        root,
        "maskflow.yaml",
        &staged_manifest(&s3, &emulator, "sensei", ""),
    );

    let (first, first_output) = apply_with(root, &s3, Some(&emulator), 0);
    let s = summary(&first);
    assert_eq!(
        (
            s["created"].as_u64(),
            s["uploaded"].as_u64(),
            s["submitted"].as_u64()
        ),
        (Some(3), Some(3), Some(3))
    );
    assert_eq!(
        s3.keys("stage/inputs").len(),
        3,
        "inputs are staged by digest"
    );
    assert_eq!(
        s3.keys("stage/masks").len(),
        3,
        "the service wrote its masks there"
    );
    for photo in PHOTOS {
        let stem = photo.trim_end_matches(".png");
        let got = std::fs::read(root.join(format!("masks/{stem}.png"))).unwrap();
        assert!(
            got == local_mask(photo),
            "{stem}: the downloaded mask differs"
        );
    }

    // Nothing changed: nothing uploaded, nothing submitted.
    let (second, second_output) = apply_with(root, &s3, Some(&emulator), 0);
    let s = summary(&second);
    assert_eq!(
        (
            s["unchanged"].as_u64(),
            s["uploaded"].as_u64(),
            s["submitted"].as_u64()
        ),
        (Some(3), Some(0), Some(0))
    );

    // One image changes: it alone is uploaded and submitted.
    let path = root.join("photos/coffee.png");
    let mut image = image::open(&path).unwrap().to_rgb8();
    image.put_pixel(0, 0, image::Rgb([1, 2, 3]));
    image.save(&path).unwrap();
    let (third, third_output) = apply_with(root, &s3, Some(&emulator), 0);
    let s = summary(&third);
    assert_eq!(
        (
            s["updated"].as_u64(),
            s["uploaded"].as_u64(),
            s["submitted"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(s3.keys("stage/inputs").len(), 4);
    assert_eq!(emulator.stats()["submissions"], 4);
    assert_no_secrets(root, &[&first_output, &second_output, &third_output]);
}

#[test]
fn v2_reads_staged_inputs() {
    let s3 = S3::start();
    let emulator = Emulator::start(&["--latency", "300ms"]);
    let dir = scratch(&["horse.png"]);
    write(
        dir.path(),
        "maskflow.yaml",
        &staged_manifest(&s3, &emulator, "v2", ""),
    );
    let (events, _) = apply_with(dir.path(), &s3, Some(&emulator), 0);
    assert_eq!(summary(&events)["created"].as_u64(), Some(1));
    assert!(s3.keys("stage/masks").is_empty(), "v2 hosts its results");
    let got = std::fs::read(dir.path().join("masks/horse.png")).unwrap();
    assert!(got == local_mask("horse.png"));
}

#[test]
fn object_urls_and_presign_work_with_the_local_engine() {
    let s3 = S3::start();
    s3.put_file("in/horse.png", &repo().join("examples/photos/horse.png"));
    s3.put_file("in/camera.png", &repo().join("examples/photos/camera.png"));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "maskflow.yaml",
        &format!(
            "version: 1\nstorage:\n  s3: {{endpoint: \"{}\"}}\nimages:\n  - input: \"{{{{ presign('s3://maskflow/in/horse.png') }}}}\"\n  - input: s3://maskflow/in/camera.png\n",
            s3.endpoint
        ),
    );
    let (first, first_output) = apply_with(root, &s3, None, 0);
    assert_eq!(summary(&first)["created"].as_u64(), Some(2));
    let lock: Value =
        serde_json::from_slice(&std::fs::read(root.join("maskflow.lock")).unwrap()).unwrap();
    assert_eq!(
        lock["images"]["masks/horse.png"]["input"]["source"],
        format!("{}/maskflow/in/horse.png", s3.endpoint)
    );
    assert_eq!(
        lock["images"]["masks/camera.png"]["input"]["source"],
        "s3://maskflow/in/camera.png"
    );
    assert!(std::fs::read(root.join("masks/horse.png")).unwrap() == local_mask("horse.png"));

    // Unchanged objects are not re-run (fresh signatures do not count as changes) ...
    let (second, second_output) = apply_with(root, &s3, None, 0);
    assert_eq!(summary(&second)["unchanged"].as_u64(), Some(2));
    // ... and a changed object is.
    s3.put_file("in/camera.png", &repo().join("examples/photos/coffee.png"));
    let (third, _) = apply_with(root, &s3, None, 0);
    assert_eq!(summary(&third)["updated"].as_u64(), Some(1));
    assert_no_secrets(root, &[&first_output, &second_output]);
}

#[test]
fn a_tampered_url_is_refused_by_the_server_and_reported() {
    let s3 = S3::start();
    s3.put_file("in/horse.png", &repo().join("examples/photos/horse.png"));
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "maskflow.yaml",
        &format!(
            "version: 1\nstorage:\n  s3: {{endpoint: \"{}\"}}\nimages:\n  - input: \"{{{{ presign('s3://maskflow/in/horse.png') | replace('X-Amz-Expires=86400', 'X-Amz-Expires=86401') }}}}\"\n",
            s3.endpoint
        ),
    );
    let output = command(dir.path(), &s3, None, &["apply"]).output().unwrap();
    assert_eq!(code(&output), 1);
    let text = stderr(&output);
    assert!(
        text.contains("masks/horse.png") && text.contains("answered 403"),
        "{text}"
    );
    assert!(!text.contains("X-Amz-Signature"), "{text}");
    assert!(!dir.path().join("masks").exists());
}

#[test]
fn an_expired_url_fails_the_job_clearly() {
    let s3 = S3::start();
    // URLs live 1 s, and the service takes one submission per 3 s: the second image waits
    // out a 429 holding a URL that has expired by the time the service reads it.
    let emulator = Emulator::start(&[
        "--latency",
        "200ms",
        "--submit-limit",
        "1",
        "--submit-window",
        "3s",
    ]);
    let dir = scratch(&["horse.png", "camera.png"]);
    write(
        dir.path(),
        "maskflow.yaml",
        &staged_manifest(&s3, &emulator, "v2", "  expires_seconds: 1\n"),
    );
    let (events, output) = apply_with(dir.path(), &s3, Some(&emulator), 1);
    let failed = events_of(&events, "failed");
    assert_eq!(failed.len(), 1, "{events:?}");
    assert_eq!(summary(&events)["created"].as_u64(), Some(1));
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.contains("Unable to access the input") && error.contains("expires_seconds"),
        "{error}"
    );
    assert_no_secrets(dir.path(), &[&output]);
}

#[test]
fn a_remote_body_that_is_not_an_image_names_the_image() {
    let store = tempfile::tempdir().unwrap();
    std::fs::write(store.path().join("page.png"), "<html>not found</html>").unwrap();
    let storage = common::storage::Storage::start(store.path(), "sig");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "maskflow.yaml",
        &format!(
            "version: 1\nimages:\n  - input: \"{}\"\n",
            storage.url("page.png")
        ),
    );
    let events = apply(dir.path(), &[], 1);
    let failed = events_of(&events, "failed");
    assert_eq!(failed[0]["key"], "masks/page.png");
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.contains("cannot decode image") && error.contains("/page.png"),
        "{error}"
    );
    assert!(!error.contains("sig="), "{error}");
}

#[test]
fn azure_sas_urls_are_accepted_by_azurite() {
    use common::azurite::{Azurite, KEY};
    let azurite = Azurite::start();
    azurite.create_container("maskflow");
    let horse = std::fs::read(repo().join("examples/photos/horse.png")).unwrap();
    azurite.put_blob("maskflow/in/horse.png", &horse);
    let emulator = Emulator::start(&["--latency", "200ms"]);
    let dir = scratch(&["camera.png"]);
    let root = dir.path();
    // A cloud input read with a SAS (local engine), and a local input staged to Azure
    // (uploaded, checked and read with SAS URLs) for the v2 API.
    write(
        root,
        "maskflow.yaml",
        &format!(
            "version: 1\nphotoshop:\n  api: v2\n  endpoint: \"{0}\"\n  ims: \"{0}\"\n  limits: {{poll_initial_seconds: 0.2}}\n\
             storage:\n  staging: az://devstoreaccount1/maskflow/stage\n  azure: {{endpoint: \"{1}\"}}\n\
             images:\n  - input: az://devstoreaccount1/maskflow/in/horse.png\n  - input: photos/camera.png\n    engine: photoshop\n",
            emulator.base_url, azurite.endpoint
        ),
    );
    let run = |extra: &[(&str, &str)]| {
        Test::in_dir(root)
            .args(["apply", "--format", "json"])
            .envs(emulator.credentials())
            .envs(extra.iter().copied())
            .output()
    };
    let output = run(&[("AZURE_STORAGE_KEY", KEY)]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let s = summary(&events(&output));
    assert_eq!(
        (s["created"].as_u64(), s["uploaded"].as_u64()),
        (Some(2), Some(1))
    );
    assert!(std::fs::read(root.join("masks/horse.png")).unwrap() == local_mask("horse.png"));
    assert!(std::fs::read(root.join("masks/camera.png")).unwrap() == local_mask("camera.png"));

    // Signed with the wrong key, every URL is refused.
    std::fs::remove_file(root.join("maskflow.lock")).unwrap();
    let wrong = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b"not the key");
    let output = run(&[("AZURE_STORAGE_KEY", &wrong)]);
    assert_eq!(code(&output), 1);
    // Each refused image fails on its own, named, with the server's answer.
    let refused = events(&output);
    let failed = events_of(&refused, "failed");
    let failed_keys: Vec<&str> = failed.iter().filter_map(|e| e["key"].as_str()).collect();
    assert_eq!(failed_keys.len(), 2, "{refused:?}");
    for key in ["masks/horse.png", "masks/camera.png"] {
        let event = failed
            .iter()
            .find(|e| e["key"] == key)
            .unwrap_or_else(|| panic!("{key} did not fail: {refused:?}"));
        let error = event["error"].as_str().unwrap();
        assert!(error.contains("403"), "{key}: {error}");
    }
}
