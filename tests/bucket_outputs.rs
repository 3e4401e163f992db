//! End to end: masks written to a bucket. The real binary against `s3s-fs` (a real
//! S3-compatible server that verifies SigV4 signatures and logs every request, so what a plan
//! downloaded is counted on the server's side). `Test` clears the environment: no developer
//! credential is ever read.

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Output;

use common::s3::S3;
use common::*;
use serde_json::Value;

fn photo(name: &str) -> std::path::PathBuf {
    repo().join("examples/photos").join(name)
}

fn run_json(dir: &Path, s3: &S3, args: &[&str]) -> Output {
    Test::in_dir(dir)
        .args(args)
        .args(["--format", "json"])
        .envs(s3.credentials())
        .output()
}

fn plan_items(output: &Output) -> Vec<Value> {
    let document: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not a plan ({e}): {}", stderr(output)));
    document["changes"].as_array().unwrap().clone()
}

fn action_of(items: &[Value], key: &str) -> String {
    items
        .iter()
        .find(|item| item["key"] == key)
        .and_then(|item| item["action"].as_str())
        .unwrap_or_else(|| panic!("no {key} in {items:?}"))
        .to_owned()
}

fn manifest(s3: &S3, images: &str) -> String {
    format!(
        "version: 1\nstorage:\n  s3: {{endpoint: \"{}\"}}\nimages:\n{images}",
        s3.endpoint
    )
}

const MASKS: &str = "    output: \"s3://maskflow/masks/{{ stem }}.png\"\n";

fn lockfile(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("maskflow.lock")).unwrap()).unwrap()
}

#[test]
fn masks_go_to_the_bucket_and_plan_checks_them_with_a_head() {
    let s3 = S3::start();
    for name in ["horse.png", "camera.png"] {
        s3.put_file(&format!("photos/{name}"), &photo(name));
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let images = format!("  - glob: \"s3://maskflow/photos/*.png\"\n{MASKS}");
    write(root, "maskflow.yaml", &manifest(&s3, &images));

    let output = run_json(root, &s3, &["apply"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(s3.keys("masks"), vec!["camera.png", "horse.png"]);
    let mask = image::open(s3.object("masks/horse.png")).unwrap();
    let photo_size = image::image_dimensions(photo("horse.png")).unwrap();
    assert_eq!((mask.width(), mask.height()), photo_size);
    // Nothing was written locally: the masks live in the bucket only.
    assert!(!root.join("masks").exists());
    assert!(!root.join("s3:").exists());
    let lock = lockfile(root);
    let entry = &lock["images"]["s3://maskflow/masks/horse.png"];
    assert_eq!(entry["output"]["target"], "s3://maskflow/masks/horse.png");
    let digest = format!(
        "blake3:{}",
        blake3::hash(&std::fs::read(s3.object("masks/horse.png")).unwrap()).to_hex()
    );
    assert_eq!(entry["output"]["digest"], digest.as_str());

    // Nothing changed: no object body is downloaded, inputs nor masks.
    let before = s3.object_gets();
    let output = run_json(root, &s3, &["plan"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let items = plan_items(&output);
    assert!(
        items.iter().all(|i| i["action"] == "unchanged"),
        "{items:?}"
    );
    assert_eq!(
        s3.object_gets(),
        before,
        "a no-op plan downloaded an object"
    );

    // A mask deleted from the bucket is remade; one replaced by someone is theirs: kept.
    std::fs::remove_file(s3.object("masks/horse.png")).unwrap();
    s3.put_file("masks/camera.png", &photo("coffee.png"));
    let output = run_json(root, &s3, &["plan"]);
    let items = plan_items(&output);
    assert_eq!(action_of(&items, "s3://maskflow/masks/horse.png"), "update");
    assert_eq!(action_of(&items, "s3://maskflow/masks/camera.png"), "kept");
    let output = run_json(root, &s3, &["apply"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(s3.object("masks/horse.png").is_file());
    assert_eq!(
        std::fs::read(s3.object("masks/camera.png")).unwrap(),
        std::fs::read(photo("coffee.png")).unwrap(),
        "a replaced mask was overwritten"
    );

    // `adopt` takes the replaced mask from the bucket: from then on it is up to date, and a
    // plan again downloads nothing.
    let output = run_json(root, &s3, &["adopt"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let lock = lockfile(root);
    let adopted = &lock["images"]["s3://maskflow/masks/camera.png"];
    assert_eq!(adopted["origin"], "manual", "{adopted}");
    let before = s3.object_gets();
    let items = plan_items(&run_json(root, &s3, &["plan"]));
    assert!(
        items.iter().all(|i| i["action"] == "unchanged"),
        "{items:?}"
    );
    assert_eq!(s3.object_gets(), before);
}

#[test]
fn prune_deletes_only_unchanged_masks_under_the_manifests_output_folders() {
    let s3 = S3::start();
    for name in ["horse.png", "camera.png", "coffee.png"] {
        s3.put_file(&format!("photos/{name}"), &photo(name));
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let every = format!("  - glob: \"s3://maskflow/photos/*.png\"\n{MASKS}");
    write(root, "maskflow.yaml", &manifest(&s3, &every));
    let output = run_json(root, &s3, &["apply"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(
        s3.keys("masks"),
        vec!["camera.png", "coffee.png", "horse.png"]
    );

    // Someone retouched the camera's mask in the bucket.
    s3.put_file("masks/camera.png", &photo("camera.png"));
    // A lockfile from a pull request names an object outside the outputs' folder, with the
    // very record (bytes, size, ETag) of a mask maskflow wrote: prune must still leave it.
    s3.put_file("precious/coffee.png", &s3.object("masks/coffee.png"));
    let mut lock = lockfile(root);
    let mut planted = lock["images"]["s3://maskflow/masks/coffee.png"].clone();
    planted["output"]["target"] = "s3://maskflow/precious/coffee.png".into();
    lock["images"]["s3://maskflow/precious/coffee.png"] = planted;
    std::fs::write(
        root.join("maskflow.lock"),
        serde_json::to_vec_pretty(&lock).unwrap(),
    )
    .unwrap();

    // Only the horse stays in the manifest.
    let one = format!("  - input: \"s3://maskflow/photos/horse.png\"\n{MASKS}");
    write(root, "maskflow.yaml", &manifest(&s3, &one));
    let output = run_json(root, &s3, &["apply", "--prune"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let removed: Vec<Value> = events(&output)
        .into_iter()
        .filter(|e| e["event"] == "removed")
        .collect();
    assert_eq!(removed.len(), 3, "{removed:?}");
    let removal = |key: &str| {
        removed
            .iter()
            .find(|e| e["key"] == key)
            .unwrap_or_else(|| panic!("{key} not removed: {removed:?}"))
    };
    assert_eq!(removal("s3://maskflow/masks/coffee.png")["pruned"], true);
    assert_eq!(
        removal("s3://maskflow/masks/camera.png")["kept"],
        "modified"
    );
    assert_eq!(
        removal("s3://maskflow/precious/coffee.png")["kept"],
        "outside_outputs"
    );
    assert_eq!(s3.keys("masks"), vec!["camera.png", "horse.png"]);
    assert!(
        s3.object("precious/coffee.png").is_file(),
        "prune left its folder"
    );
    let lock = lockfile(root);
    let keys: Vec<&String> = lock["images"].as_object().unwrap().keys().collect();
    assert_eq!(keys, vec!["s3://maskflow/masks/horse.png"]);
}

#[test]
fn an_output_object_that_is_not_a_png_key_is_refused_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "maskflow.yaml",
        "version: 1\nimages:\n  - input: \"s3://maskflow/photos/horse.png\"\n    output: \"s3://maskflow/masks/../{{ stem }}.png\"\n",
    );
    let output = run(dir.path(), &["validate"]);
    assert_eq!(code(&output), 1);
    let said = stderr(&output);
    assert!(said.contains("maskflow.yaml:4:"), "{said}");
    assert!(said.contains("`..`"), "{said}");
}
