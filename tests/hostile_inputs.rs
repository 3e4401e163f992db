//! Hostile file names and unreadable inputs, end to end: a name that is not UTF-8 is
//! skipped with a warning (never a panic), a name holding a newline, an ANSI escape or a
//! bidi override never reaches a log raw, and an input URL that answers 404 fails only its
//! own image, named with its manifest line.

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::storage::Storage;
use common::*;

/// Characters that must never reach a terminal or a log as themselves.
fn raw_hazards(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

fn photo(dir: &Path, from: &str, to: impl AsRef<Path>) {
    std::fs::copy(repo().join("examples/photos").join(from), dir.join(to)).unwrap();
}

// Linux file systems take any bytes in a name; macOS's refuse names that are not UTF-8.
#[cfg(target_os = "linux")]
#[test]
fn names_that_are_not_utf8_are_skipped_with_a_warning_everywhere() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = scratch(&["horse.png"]);
    let root = dir.path();
    let photos = root.join("photos");
    photo(&photos, "camera.png", OsStr::from_bytes(b"caf\xe9.png"));
    std::fs::create_dir(photos.join(OsStr::from_bytes(b"d\xffir"))).unwrap();
    photo(
        &photos,
        "camera.png",
        Path::new(OsStr::from_bytes(b"d\xffir")).join("x.png"),
    );
    write(
        root,
        "maskflow.yaml",
        "version: 1\nimages:\n  - glob: \"photos/**/*.png\"\n",
    );

    for command in ["validate", "plan"] {
        let output = run(root, &[command]);
        let stderr = stderr(&output);
        assert_eq!(code(&output), 0, "{command}: {stderr}");
        assert!(
            stderr.contains(
                "warning: skipped file `photos/caf\\xE9.png`: its name is not valid UTF-8"
            ),
            "{command}: {stderr}"
        );
        assert!(
            stderr.contains("warning: skipped folder `photos/d\\xFFir`"),
            "{command}: {stderr}"
        );
        assert!(stderr.contains("--> maskflow.yaml:3:11"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }

    let events = apply(root, &[], 0);
    let warnings = events_of(&events, "warning");
    assert_eq!(warnings.len(), 2, "{events:?}");
    assert_eq!(warnings[0]["path"], "photos/caf\\xE9.png");
    assert_eq!(warnings[0]["line"], 3);
    assert_eq!(summary(&events)["created"], 1);
    assert!(root.join("masks/horse.png").is_file());

    // `plan --format json` stays one document, the warnings inside it.
    let output = run(root, &["plan", "--format", "json"]);
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        document["warnings"].as_array().unwrap().len(),
        2,
        "{document}"
    );

    // Under GitHub Actions the warning is an annotation on the glob.
    let (output, _, _) = run_in_actions(root, &["validate"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(
            "::warning file=maskflow.yaml,line=3,col=11::skipped file `photos/caf\\xE9.png`"
        ),
        "{stdout}"
    );

    // A glob that matches only such names says why it matches nothing.
    write(
        root,
        "maskflow.yaml",
        "version: 1\nimages:\n  - glob: \"photos/caf*.png\"\n",
    );
    let output = run(root, &["validate"]);
    assert_eq!(code(&output), 1);
    assert!(
        stderr(&output).contains("matches only names that are not UTF-8 (1 skipped)"),
        "{}",
        stderr(&output)
    );

    // `init` leaves such names out of the manifest it writes, says so, and the manifest works.
    std::fs::remove_file(root.join("maskflow.yaml")).unwrap();
    let output = run(root, &["init"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("skipped file `photos/caf\\xE9.png`")
            && stderr(&output).contains("skipped folder `photos/d\\xFFir`"),
        "{}",
        stderr(&output)
    );
    let output = run(root, &["validate"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("skipped file"),
        "{}",
        stderr(&output)
    );
}

#[cfg(unix)]
#[test]
fn newlines_escapes_and_bidi_overrides_in_names_never_reach_a_log_raw() {
    let dir = scratch(&[]);
    let root = dir.path();
    let photos = root.join("photos");
    // One image that masks, the others not images at all, so they fail and are reported.
    photo(&photos, "horse.png", "\u{1b}[2J\u{1b}[31mred.png");
    for name in [
        "evil\n::warning::pwned.png",
        "rtl\u{202e}gnp.exe.png",
        "pipe|<b>x<b>`tick.png",
        "cr\rback.png",
    ] {
        std::fs::write(photos.join(name), b"not an image").unwrap();
    }
    write(root, "maskflow.yaml", EVERY_PNG);

    let output = run(root, &["apply"]);
    assert_eq!(code(&output), 1);
    let stderr = stderr(&output);
    assert_eq!(raw_hazards(&stderr), Vec::<char>::new(), "{stderr}");
    assert!(
        !stderr.lines().any(|l| l.starts_with("::warning::pwned")),
        "{stderr}"
    );
    assert!(
        stderr.contains("masks/evil\\n::warning::pwned.png"),
        "{stderr}"
    );
    assert!(stderr.contains("rtl\\u{202e}gnp.exe"), "{stderr}");
    assert!(stderr.contains("\\u{1b}[31mred"), "{stderr}");
    // The failure line names the manifest entry.
    assert!(stderr.contains("(maskflow.yaml:3:5): "), "{stderr}");

    // JSON keeps the names exactly, with no raw hazard on the wire.
    std::fs::remove_file(root.join("maskflow.lock")).unwrap();
    std::fs::remove_dir_all(root.join("masks")).unwrap();
    let output = run(root, &["apply", "--format", "json"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(raw_hazards(&stdout), Vec::<char>::new(), "{stdout}");
    let events = events(&output);
    let keys: Vec<&str> = events_of(&events, "failed")
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"masks/rtl\u{202e}gnp.exe.png"), "{keys:?}");
    assert!(
        keys.contains(&"masks/evil\n::warning::pwned.png"),
        "{keys:?}"
    );

    // Under GitHub Actions: annotations and the summary table stay one line per entry.
    std::fs::remove_file(root.join("maskflow.lock")).unwrap();
    std::fs::remove_dir_all(root.join("masks")).unwrap();
    let (output, outputs, summary) = run_in_actions(root, &["apply"]);
    assert_eq!(code(&output), 1);
    let stdout = String::from_utf8_lossy(&output.stdout);
    for text in [
        &*stdout,
        &*String::from_utf8_lossy(&output.stderr),
        &summary,
    ] {
        assert_eq!(raw_hazards(text), Vec::<char>::new(), "{text}");
    }
    assert!(
        !stdout
            .lines()
            .chain(stderr.lines())
            .any(|l| l.starts_with("::warning::pwned")),
        "{stdout}"
    );
    let errors: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("::error "))
        .collect();
    assert_eq!(errors.len(), 4, "{stdout}");
    assert!(
        errors
            .iter()
            .any(|l| l.contains("masks/evil\\n::warning::pwned.png")),
        "{stdout}"
    );
    let rows: Vec<&str> = summary.lines().filter(|l| l.starts_with("| ")).collect();
    // Header, then one row per image.
    assert_eq!(rows.len(), 1 + 5, "{summary}");
    let pipe = rows.iter().find(|r| r.contains("pipe")).unwrap();
    assert!(pipe.contains("``masks/pipe\\|<b>x<b>`tick.png``"), "{pipe}");
    assert!(outputs.lines().any(|l| l == "failed=4"), "{outputs}");
}

#[test]
fn an_input_url_that_answers_404_fails_only_its_own_image() {
    let store = tempfile::tempdir().unwrap();
    photo(store.path(), "camera.png", "camera.png");
    let storage = Storage::start(store.path(), "s1gn");
    let dir = scratch(&["horse.png"]);
    let root = dir.path();
    let manifest = format!(
        "version: 1\nimages:\n  - glob: \"photos/*.png\"\n  - input: \"{}\"\n  - input: \"{}\"\n",
        storage.url("camera.png"),
        storage.url("gone.png")
    );
    write(root, "maskflow.yaml", &manifest);

    // plan shows every image, the unreadable one with its manifest line, and exits 1.
    let output = run(root, &["plan", "--detailed-exitcode"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    assert!(text.contains("+ masks/horse.png"), "{text}");
    assert!(text.contains("+ masks/camera.png"), "{text}");
    assert!(
        text.contains("! masks/gone.png")
            && text.contains("(maskflow.yaml:5:5): GET ")
            && text.contains("/gone.png answered 404"),
        "{text}"
    );
    assert!(
        !text.contains("s1gn"),
        "the URL's signature is a secret: {text}"
    );
    let output = run(root, &["plan", "--format", "json"]);
    assert_eq!(code(&output), 1);
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(planned(&document, "masks/gone.png").0, "unreadable");
    assert_eq!(planned(&document, "masks/horse.png").0, "create");
    assert_eq!(document["counts"]["unreadable"], 1);
    let gone = document["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "masks/gone.png")
        .unwrap();
    assert_eq!(
        (gone["line"].as_u64(), gone["column"].as_u64()),
        (Some(5), Some(5))
    );

    // apply masks the others, fails that one (with its line), and exits 1.
    let events = apply(root, &[], 1);
    let failed = events_of(&events, "failed");
    assert_eq!(failed.len(), 1, "{events:?}");
    assert_eq!(failed[0]["key"], "masks/gone.png");
    assert_eq!(failed[0]["line"], 5);
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("answered 404")
    );
    let summary = summary(&events);
    assert_eq!(
        (summary["created"].as_u64(), summary["failed"].as_u64()),
        (Some(2), Some(1))
    );
    assert!(root.join("masks/horse.png").is_file() && root.join("masks/camera.png").is_file());

    // Once the object exists, only it is left to do; the others are unchanged.
    photo(store.path(), "coffee.png", "gone.png");
    let document = plan(root);
    assert_eq!(planned(&document, "masks/gone.png").0, "create");
    assert_eq!(planned(&document, "masks/horse.png").0, "unchanged");

    // The human failure line of apply names the manifest line too.
    std::fs::remove_file(store.path().join("gone.png")).unwrap();
    let output = run(root, &["apply"]);
    assert_eq!(code(&output), 1);
    assert!(
        stderr(&output).contains("failed masks/gone.png from http://")
            && stderr(&output).contains("(maskflow.yaml:5:5): GET "),
        "{}",
        stderr(&output)
    );
}

#[test]
fn without_ca_certificates_http_inputs_still_work_and_https_ones_say_why() {
    let store = tempfile::tempdir().unwrap();
    photo(store.path(), "camera.png", "camera.png");
    let storage = Storage::start(store.path(), "s1gn");
    let dir = scratch(&[]);
    let root = dir.path();
    // Nothing is ever sent to this address: https is refused before connecting.
    let manifest = format!(
        "version: 1\nimages:\n  - input: \"{}\"\n  - input: \"https://127.0.0.1:9/x.png?sig=s3cret\"\n",
        storage.url("camera.png"),
    );
    write(root, "maskflow.yaml", &manifest);
    let ran = Test::in_dir(root)
        .args(["plan"])
        // The only CA store the TLS verifier may read, and it holds no certificate.
        .env("SSL_CERT_FILE", root.join("no-such-bundle.pem"))
        .status(1)
        .run();
    let text = format!("{}{}", ran.stdout(), ran.stderr());
    assert!(text.contains("+ masks/camera.png"), "{text}");
    assert!(
        text.contains("! masks/x.png")
            && text.contains("https is unavailable")
            && text.contains("SSL_CERT_FILE"),
        "{text}"
    );
    assert!(!text.contains("s3cret") && !text.contains("s1gn"), "{text}");
}
