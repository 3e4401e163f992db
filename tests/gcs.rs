//! End to end: `gs://` objects reached with workload identity federation, the
//! `external_account` file google-github-actions/auth writes. The real binary against a
//! stand-in for Google on 127.0.0.1 (`common::gcs`): GitHub's OIDC token URL, STS, IAM
//! Credentials (impersonation, signBlob) and the bucket's XML API, each checking what it
//! receives. `Test` clears the environment, so only the file given here is read.

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Output;

use common::emulator::Emulator;
use common::gcs::{self, Gcs};
use common::*;
use serde_json::Value;

const PHOTOS: [&str; 2] = ["horse.png", "camera.png"];

fn photo(name: &str) -> Vec<u8> {
    std::fs::read(repo().join("examples/photos").join(name)).unwrap()
}

/// Writes the credential file and the manifest, and runs `args` with only that file.
fn run(dir: &Path, gcs: &Gcs, credentials: &str, manifest_images: &str, args: &[&str]) -> Output {
    write(dir, "credentials.json", credentials);
    write(
        dir,
        "maskflow.yaml",
        &format!(
            "version: 1\nstorage:\n  gcs: {{endpoint: \"{}\"}}\nimages:\n{manifest_images}",
            gcs.endpoint
        ),
    );
    Test::in_dir(dir)
        .args(args)
        .args(["--format", "json"])
        .env(
            "GOOGLE_APPLICATION_CREDENTIALS",
            dir.join("credentials.json").display().to_string(),
        )
        .output()
}

/// What a run printed, both streams.
fn text_of(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(output)
    )
}

/// No token of the exchange is printed or written.
fn assert_no_tokens(dir: &Path, output: &Output) {
    let secrets = [
        gcs::REQUEST_TOKEN,
        gcs::SUBJECT_TOKEN,
        gcs::FEDERATED_TOKEN,
        gcs::ACCOUNT_TOKEN,
        "X-Goog-Signature",
    ];
    for secret in secrets {
        for stream in [&output.stdout, &output.stderr] {
            assert!(
                !String::from_utf8_lossy(stream).contains(secret),
                "the output shows {secret}"
            );
        }
        for file in files(dir) {
            if file == "credentials.json" || file.ends_with("subject-token") {
                continue;
            }
            let text =
                String::from_utf8_lossy(&std::fs::read(dir.join(&file)).unwrap()).into_owned();
            assert!(!text.contains(secret), "{file} holds {secret}");
        }
    }
}

#[test]
fn github_oidc_federation_lists_and_reads_a_bucket_glob() {
    let gcs = Gcs::start(gcs::ACCOUNT_TOKEN);
    for name in PHOTOS {
        gcs.put(&format!("photos/{name}"), &photo(name));
    }
    gcs.put("elsewhere/coffee.png", &photo("coffee.png"));
    let dir = tempfile::tempdir().unwrap();
    let credentials = gcs.credential_file(gcs.github_source(), true);
    let images = "  - glob: \"gs://bk/photos/*.png\"\n";

    // `validate` asks for no credential (a glob is listed, so: one object).
    let one = "  - input: gs://bk/photos/horse.png\n";
    let output = run(dir.path(), &gcs, &credentials, one, &["validate"]);
    assert_eq!(code(&output), 0, "{}", text_of(&output));
    assert_eq!(gcs.calls("subject") + gcs.calls("sts"), 0);

    let output = run(dir.path(), &gcs, &credentials, images, &["apply"]);
    assert_eq!(
        code(&output),
        0,
        "{}\n{:?}",
        text_of(&output),
        gcs.refusals()
    );
    assert_eq!(summary(&events(&output))["created"].as_u64(), Some(2));
    assert!(dir.path().join("masks/horse.png").is_file());
    assert!(dir.path().join("masks/camera.png").is_file());
    assert!(gcs.calls("list") >= 1);
    assert!(gcs.calls("GET") >= 2);
    // One exchange for the whole run: the token is kept until it nears its expiry.
    assert_eq!(
        (
            gcs.calls("subject"),
            gcs.calls("sts"),
            gcs.calls("impersonate")
        ),
        (1, 1, 1),
        "{:?}",
        gcs.refusals()
    );
    assert!(gcs.refusals().is_empty(), "{:?}", gcs.refusals());
    let lock: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("maskflow.lock")).unwrap()).unwrap();
    assert_eq!(
        lock["images"]["masks/horse.png"]["input"]["source"],
        "gs://bk/photos/horse.png"
    );
    assert_no_tokens(dir.path(), &output);
}

#[test]
fn a_file_sourced_token_without_impersonation_reads_an_object() {
    // Without a service account, the federated token itself is the bucket's credential.
    let gcs = Gcs::start(gcs::FEDERATED_TOKEN);
    gcs.put("in/horse.png", &photo("horse.png"));
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "subject-token",
        &format!("{}\n", gcs::SUBJECT_TOKEN),
    );
    let source = serde_json::json!({"file": dir.path().join("subject-token")});
    let credentials = gcs.credential_file(source, false);
    let images = "  - input: gs://bk/in/horse.png\n";
    let output = run(dir.path(), &gcs, &credentials, images, &["apply"]);
    assert_eq!(
        code(&output),
        0,
        "{}\n{:?}",
        text_of(&output),
        gcs.refusals()
    );
    assert_eq!(summary(&events(&output))["created"].as_u64(), Some(1));
    assert_eq!((gcs.calls("sts"), gcs.calls("impersonate")), (1, 0));
    assert_no_tokens(dir.path(), &output);

    // There is no service account to sign as: said so, with the way out.
    let presigned = "  - input: \"{{ presign('gs://bk/in/horse.png') }}\"\n";
    let output = run(dir.path(), &gcs, &credentials, presigned, &["plan"]);
    assert_ne!(code(&output), 0);
    let text = text_of(&output);
    assert!(
        text.contains("names no service account") && text.contains("service_account"),
        "{text}"
    );
    assert_eq!(gcs.calls("signBlob"), 0);
}

#[test]
fn urls_are_signed_through_sign_blob_as_the_impersonated_account() {
    let gcs = Gcs::start(gcs::ACCOUNT_TOKEN);
    gcs.put("in/horse.png", &photo("horse.png"));
    let dir = tempfile::tempdir().unwrap();
    let credentials = gcs.credential_file(gcs.github_source(), true);
    let images = "  - input: \"{{ presign('gs://bk/in/horse.png') }}\"\n";
    let output = run(dir.path(), &gcs, &credentials, images, &["apply"]);
    assert_eq!(
        code(&output),
        0,
        "{}\n{:?}",
        text_of(&output),
        gcs.refusals()
    );
    assert_eq!(summary(&events(&output))["created"].as_u64(), Some(1));
    // The URL was signed by signBlob (the stand-in accepts only signatures it issued), and
    // read without a bearer token.
    assert!(gcs.calls("signBlob") >= 1);
    assert!(gcs.calls("signed GET") >= 1);
    assert!(gcs.refusals().is_empty(), "{:?}", gcs.refusals());
    let lock: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("maskflow.lock")).unwrap()).unwrap();
    assert_eq!(
        lock["images"]["masks/horse.png"]["input"]["source"],
        format!("{}/bk/in/horse.png", gcs.endpoint)
    );
    assert_no_tokens(dir.path(), &output);
}

#[test]
fn the_photoshop_engine_stages_to_gcs_with_the_federated_account() {
    let gcs = Gcs::start(gcs::ACCOUNT_TOKEN);
    let emulator = Emulator::start(&[]);
    let dir = scratch(&["horse.png"]);
    let root = dir.path();
    write(
        root,
        "credentials.json",
        &gcs.credential_file(gcs.github_source(), true),
    );
    write(
        root,
        "maskflow.yaml",
        &format!(
            "version: 1\ndefaults:\n  engine: photoshop\nphotoshop:\n  api: sensei\n  endpoint: \"{0}\"\n  ims: \"{0}\"\n  \
             limits: {{submits: 10, window_seconds: 1, poll_initial_seconds: 0.2, poll_max_seconds: 1}}\n\
             storage:\n  staging: gs://bk/stage\n  gcs: {{endpoint: \"{1}\"}}\nimages:\n  - glob: \"photos/*.png\"\n",
            emulator.base_url, gcs.endpoint
        ),
    );
    let output = Test::in_dir(root)
        .args(["apply", "--format", "json"])
        .envs(emulator.credentials())
        .env(
            "GOOGLE_APPLICATION_CREDENTIALS",
            root.join("credentials.json").display().to_string(),
        )
        .output();
    assert_eq!(
        code(&output),
        0,
        "{}\n{:?}",
        text_of(&output),
        gcs.refusals()
    );
    let s = summary(&events(&output));
    assert_eq!(
        (s["created"].as_u64(), s["uploaded"].as_u64()),
        (Some(1), Some(1))
    );
    let keys = gcs.keys();
    assert!(
        keys.iter().any(|k| k.starts_with("stage/inputs/")),
        "{keys:?}"
    );
    assert!(
        keys.iter().any(|k| k.starts_with("stage/masks/")),
        "{keys:?}"
    );
    assert!(gcs.calls("PUT") >= 1 && gcs.calls("HEAD") >= 1);
    assert!(gcs.calls("signBlob") >= 3, "input GET, mask PUT and GET");
    assert!(root.join("masks/horse.png").is_file());
    assert_no_tokens(root, &output);
}

#[test]
fn unusable_files_and_refusals_are_named_with_a_way_out() {
    let gcs = Gcs::start(gcs::ACCOUNT_TOKEN);
    gcs.put("in/horse.png", &photo("horse.png"));
    let dir = tempfile::tempdir().unwrap();
    let images = "  - input: gs://bk/in/horse.png\n";

    // A source maskflow does not run is refused by name, before any request.
    let executable = serde_json::json!({"executable": {"command": "/bin/echo token"}});
    let credentials = gcs.credential_file(executable, true);
    let output = run(dir.path(), &gcs, &credentials, images, &["plan"]);
    assert_eq!(code(&output), 1);
    let text = text_of(&output);
    assert!(
        text.contains("credentials.json")
            && text.contains("`executable`")
            && text.contains("google-github-actions/auth"),
        "{text}"
    );
    assert_eq!(gcs.calls("sts"), 0);

    // STS refuses (here: the audience is not the pool's): the step, its answer and a hint.
    let credentials = gcs
        .credential_file(gcs.github_source(), true)
        .replace("providers/github", "providers/gitlab");
    let output = run(dir.path(), &gcs, &credentials, images, &["plan"]);
    assert_eq!(code(&output), 1);
    let text = text_of(&output);
    assert!(
        text.contains("the STS token exchange")
            && text.contains("bad audience")
            && text.contains("attribute condition"),
        "{text}"
    );
    assert_no_tokens(dir.path(), &output);

    // A token URL that would send the subject token in clear text elsewhere is refused.
    let credentials = gcs.credential_file(gcs.github_source(), true).replace(
        &format!("{}/v1/token", gcs.endpoint),
        "http://sts.example.com/v1/token",
    );
    let output = run(dir.path(), &gcs, &credentials, images, &["plan"]);
    assert_eq!(code(&output), 1);
    assert!(
        text_of(&output).contains("must be an https URL"),
        "{}",
        text_of(&output)
    );
}

#[test]
fn masks_written_to_gcs_are_checked_with_a_head_and_pruned() {
    let gcs = Gcs::start(gcs::ACCOUNT_TOKEN);
    for name in PHOTOS {
        gcs.put(&format!("photos/{name}"), &photo(name));
    }
    let dir = tempfile::tempdir().unwrap();
    let credentials = gcs.credential_file(gcs.github_source(), true);
    let output_template = "    output: \"gs://bk/masks/{{ stem }}.png\"\n";
    let every = format!("  - glob: \"gs://bk/photos/*.png\"\n{output_template}");
    let output = run(dir.path(), &gcs, &credentials, &every, &["apply"]);
    assert_eq!(code(&output), 0, "{}", text_of(&output));
    let mut keys = gcs.keys();
    keys.sort();
    assert_eq!(
        keys,
        [
            "masks/camera.png",
            "masks/horse.png",
            "photos/camera.png",
            "photos/horse.png"
        ]
    );
    assert!(!dir.path().join("masks").exists());

    // Nothing changed: the masks are asked about, not downloaded.
    let gets = gcs.calls("GET");
    let output = run(dir.path(), &gcs, &credentials, &every, &["plan"]);
    assert_eq!(code(&output), 0, "{}", text_of(&output));
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    let changes = plan["changes"].as_array().unwrap();
    assert!(
        changes.iter().all(|c| c["action"] == "unchanged"),
        "{changes:?}"
    );
    assert_eq!(gcs.calls("GET"), gets);
    assert!(gcs.calls("HEAD") >= 2);

    // The camera leaves the manifest: its mask, unchanged since, is deleted.
    let one = format!("  - input: gs://bk/photos/horse.png\n{output_template}");
    let output = run(dir.path(), &gcs, &credentials, &one, &["apply", "--prune"]);
    assert_eq!(code(&output), 0, "{}", text_of(&output));
    assert_eq!(gcs.calls("DELETE"), 1);
    assert!(!gcs.keys().contains(&"masks/camera.png".to_owned()));
    assert!(gcs.keys().contains(&"masks/horse.png".to_owned()));
    assert_no_tokens(dir.path(), &output);
}

#[test]
fn the_metadata_server_gives_the_attached_service_accounts_token() {
    let gcs = Gcs::start(gcs::ACCOUNT_TOKEN);
    gcs.put("in/horse.png", &photo("horse.png"));
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "maskflow.yaml",
        &format!(
            "version: 1\nstorage:\n  gcs: {{endpoint: \"{}\"}}\nimages:\n  - input: gs://bk/in/horse.png\n",
            gcs.endpoint
        ),
    );
    // No key, no credential file (HOME is empty): GCE_METADATA_HOST points at the stand-in,
    // as Google's own libraries let it.
    let host = gcs.endpoint.trim_start_matches("http://").to_owned();
    let output = Test::in_dir(dir.path())
        .args(["apply", "--format", "json"])
        .env("GCE_METADATA_HOST", &host)
        .output();
    assert_eq!(
        code(&output),
        0,
        "{}\n{:?}",
        text_of(&output),
        gcs.refusals()
    );
    assert_eq!(summary(&events(&output))["created"].as_u64(), Some(1));
    assert_eq!(gcs.calls("metadata"), 1);
    assert_eq!(gcs.calls("sts"), 0);
    assert_no_tokens(dir.path(), &output);
}
