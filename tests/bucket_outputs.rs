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

#[test]
fn a_large_mask_goes_up_in_parts() {
    let s3 = S3::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // A cutout keeps every colour: noise does not compress, so its PNG is above the 16 MiB
    // where uploads switch to multipart.
    let (width, height) = (2400u32, 2000u32);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let noise = image::RgbImage::from_fn(width, height, |_, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let [r, g, b, ..] = state.to_le_bytes();
        image::Rgb([r, g, b])
    });
    std::fs::create_dir(root.join("photos")).unwrap();
    noise.save(root.join("photos/noise.png")).unwrap();
    let images = "  - input: photos/noise.png\n    output_kind: cutout\n    output: \"s3://maskflow/cutouts/{{ stem }}.png\"\n";
    write(root, "maskflow.yaml", &manifest(&s3, images));

    let output = run_json(root, &s3, &["apply"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let uploaded = std::fs::read(s3.object("cutouts/noise.png")).unwrap();
    assert!(
        uploaded.len() > 16 * 1024 * 1024,
        "{} bytes",
        uploaded.len()
    );
    let lock = lockfile(root);
    let recorded = &lock["images"]["s3://maskflow/cutouts/noise.png"]["output"];
    assert_eq!(
        recorded["digest"],
        format!("blake3:{}", blake3::hash(&uploaded).to_hex()).as_str()
    );
    assert_eq!(recorded["size"].as_u64(), Some(uploaded.len() as u64));
    let parts = s3.log().matches("partNumber=").count();
    assert!(parts >= 2, "{parts} parts uploaded");
    let cutout = image::load_from_memory(&uploaded).unwrap();
    assert_eq!((cutout.width(), cutout.height()), (width, height));
}

#[test]
fn azure_masks_go_to_the_container_and_prune_removes_them() {
    use common::azurite::{Azurite, KEY};
    let azurite = Azurite::start();
    azurite.create_container("masks");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("photos")).unwrap();
    for name in ["horse.png", "camera.png"] {
        std::fs::copy(photo(name), root.join("photos").join(name)).unwrap();
    }
    let manifest = |glob: &str| {
        format!(
            "version: 1\nstorage:\n  azure: {{endpoint: \"{}\"}}\nimages:\n  - glob: \"{glob}\"\n    output: \"az://devstoreaccount1/masks/{{{{ stem }}}}.png\"\n",
            azurite.endpoint
        )
    };
    let blob_status = |name: &str| {
        let sas = azurite.container_sas("masks", "r");
        let url = format!("{}/masks/{name}?{sas}", azurite.endpoint);
        maskflow::http::Client::new(std::time::Duration::from_secs(30))
            .send(maskflow::http::Request::get(&url))
            .unwrap()
            .status()
    };
    let env = [("AZURE_STORAGE_ACCOUNT_KEY", KEY)];
    let run = |args: &[&str]| {
        Test::in_dir(root)
            .args(args)
            .args(["--format", "json"])
            .envs(env)
            .output()
    };
    write(root, "maskflow.yaml", &manifest("photos/*.png"));
    let output = run(&["apply"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(blob_status("horse.png"), 200);
    assert_eq!(blob_status("camera.png"), 200);
    let lock = lockfile(root);
    let recorded = &lock["images"]["az://devstoreaccount1/masks/horse.png"]["output"];
    assert!(recorded["etag"].as_str().is_some(), "{recorded}");
    let items = plan_items(&run(&["plan"]));
    assert!(
        items.iter().all(|i| i["action"] == "unchanged"),
        "{items:?}"
    );

    write(root, "maskflow.yaml", &manifest("photos/horse.png"));
    let output = run(&["apply", "--prune"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(blob_status("camera.png"), 404);
    assert_eq!(blob_status("horse.png"), 200);
}

#[test]
fn a_shard_downloads_only_its_own_changed_objects() {
    let s3 = S3::start();
    let names = ["horse.png", "camera.png", "coffee.png", "astronaut.png"];
    for name in names {
        s3.put_file(&format!("photos/{name}"), &photo(name));
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let images = format!("  - glob: \"s3://maskflow/photos/*.png\"\n{MASKS}");
    write(root, "maskflow.yaml", &manifest(&s3, &images));
    let output = run_json(root, &s3, &["apply"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));

    // Every photo replaced: each shard downloads its own (once to plan, once to mask).
    for (name, other) in names.iter().zip(names.iter().rev()) {
        s3.put_file(&format!("photos/{name}"), &photo(other));
    }
    // Shards run apart (CI jobs) and each writes a lockfile of its own entries: each starts
    // from the committed one.
    let locked = std::fs::read(root.join("maskflow.lock")).unwrap();
    let mut updated = 0;
    for shard in ["1/2", "2/2"] {
        std::fs::write(root.join("maskflow.lock"), &locked).unwrap();
        let before = s3.object_gets();
        let output = run_json(root, &s3, &["apply", "--shard", shard]);
        assert_eq!(code(&output), 0, "{}", stderr(&output));
        let summary = summary(&events(&output));
        let mine = summary["updated"].as_u64().unwrap() as usize;
        assert_eq!(
            summary["skipped"].as_u64().unwrap() as usize,
            names.len() - mine
        );
        assert_eq!(
            s3.object_gets() - before,
            2 * mine,
            "shard {shard}: {}",
            s3.log()
                .lines()
                .filter(|l| l.contains("method: GET"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        updated += mine;
    }
    assert_eq!(updated, names.len());
}
