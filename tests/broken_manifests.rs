//! Every broken manifest: exit 1, the right `maskflow.yaml:LINE:COL`, and nothing written.
//!
//! Each file in tests/broken/ starts with `# expect: LINE:COL text | more text`.

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

/// Runs validate, plan and apply on `manifest` and checks each fails the same way, writing nothing.
fn assert_rejected(manifest_text: &[u8], position: &str, needles: &[&str], case: &str) {
    let dir = scratch(&["chelsea.png", "horse.png"]);
    let root = dir.path();
    std::fs::write(root.join("maskflow.yaml"), manifest_text).unwrap();
    let before = files(root);
    for args in [
        &["validate"][..],
        &["plan", "--detailed-exitcode"],
        &["apply"],
    ] {
        let verb = args[0];
        let output = run(root, args);
        let text = stderr(&output);
        assert_eq!(code(&output), 1, "{case}: {verb} should fail:\n{text}");
        // The whole position: `3:1` must not pass on `3:12`.
        let at = format!("maskflow.yaml:{position}");
        let points_at = text
            .match_indices(&at)
            .any(|(i, _)| !text[i + at.len()..].starts_with(|c: char| c.is_ascii_digit()));
        assert!(points_at, "{case}: {verb} should point at {at}:\n{text}");
        for needle in needles {
            assert!(
                text.contains(needle),
                "{case}: {verb} should say {needle:?}:\n{text}"
            );
        }
        assert!(!text.contains("panicked"), "{case}: {text}");
    }
    assert_eq!(files(root), before, "{case}: nothing may be written");
}

fn expectation(text: &str) -> (String, Vec<String>) {
    let first = text.lines().next().unwrap();
    let spec = first.strip_prefix("# expect: ").expect("an # expect: line");
    let (position, rest) = spec.split_once(' ').unwrap_or((spec, ""));
    let needles = rest
        .split('|')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    (position.to_owned(), needles)
}

#[test]
fn corpus_of_broken_manifests() {
    let corpus = repo().join("tests/broken");
    let mut cases: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 25);
    for case in cases {
        let text = std::fs::read_to_string(&case).unwrap();
        let (position, needles) = expectation(&text);
        let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        assert_rejected(
            text.as_bytes(),
            &position,
            &needles,
            &case.file_name().unwrap().to_string_lossy(),
        );
    }
}

#[test]
fn hundred_thousand_deep_nesting_is_an_error_not_a_crash() {
    let block = format!("version: 1\nimages:\n{}x\n", "- ".repeat(100_000));
    assert_rejected(
        block.as_bytes(),
        "3:127",
        &["YAML budget exceeded", "nests too deeply"],
        "block nesting",
    );
    let flow = format!("version: 1\nimages: {}\n", "[".repeat(100_000));
    assert_rejected(
        flow.as_bytes(),
        "2:264",
        &["recursion limit exceeded"],
        "flow nesting",
    );
}

#[test]
fn fifty_megabyte_manifest_is_refused() {
    let mut big = String::from("version: 1\nimages:\n");
    while big.len() < 50 * 1024 * 1024 {
        big.push_str("  - input: photos/chelsea.png\n");
    }
    assert_rejected(
        big.as_bytes(),
        "1:1",
        &["manifests are limited to"],
        "50 MB",
    );
}

#[test]
fn invalid_utf8_is_located() {
    assert_rejected(
        b"version: 1\nimages:\n  - input: \xff.png\n",
        "3:12",
        &["not valid UTF-8"],
        "utf-8",
    );
}

#[cfg(unix)]
#[test]
fn output_through_a_symlink_out_of_the_folder_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    let dir = scratch(&["chelsea.png"]);
    let root = dir.path();
    std::os::unix::fs::symlink(outside.path(), root.join("masks")).unwrap();
    write(
        root,
        "maskflow.yaml",
        "version: 1\nimages:\n  - input: photos/chelsea.png\n",
    );
    let output = run(root, &["apply"]);
    assert_eq!(code(&output), 1);
    let text = stderr(&output);
    assert!(text.contains("through the symlink `masks`"), "{text}");
    assert!(text.contains("maskflow.yaml:3:5"), "{text}");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
}

#[test]
fn schema_and_expansion_problems_are_reported_together_in_json_too() {
    let dir = scratch(&["chelsea.png"]);
    let root = dir.path();
    write(
        root,
        "maskflow.yaml",
        "version: 1\nimages:\n  - input: photos/nope.png\n  - input: photos/chelsea.png\n    output: \"{{ stme }}.png\"\n  - glob: \"*.gif\"\n  - input: photos/chelsea.png\n    mask: sofft\n",
    );
    let output = run(root, &["validate", "--format", "json"]);
    assert_eq!(code(&output), 1);
    let events = events(&output);
    let diagnostics = events[0]["diagnostics"].as_array().unwrap();
    let positions: Vec<(u64, u64)> = diagnostics
        .iter()
        .map(|d| (d["line"].as_u64().unwrap(), d["column"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        positions,
        vec![(3, 12), (5, 17), (6, 11), (8, 11)],
        "{events:?}"
    );
    // The same four, as people see them: each with its source line, caret and hint.
    let output = run(root, &["validate"]);
    assert_eq!(code(&output), 1);
    let human = stderr(&output);
    snapshot::filtered(|| insta::assert_snapshot!("human_four_problems", human));
}

#[test]
fn a_missing_manifest_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(dir.path(), &["plan"]);
    assert_eq!(code(&output), 1);
    assert!(
        stderr(&output).contains("maskflow init"),
        "{}",
        stderr(&output)
    );
}

/// A problem on a 200,000-character line is shown with a window of that line around it, not
/// the whole line.
#[test]
fn a_problem_on_a_huge_line_shows_a_bounded_snippet() {
    let padding = "a".repeat(200_000);
    let manifest = format!(
        "version: 1\nimages: [{{input: photos/chelsea.png, output: \"masks/{padding}.png\", ouptut: x}}]\n"
    );
    let ran = Test::new()
        .photos(&["chelsea.png"])
        .manifest(&manifest)
        .args(["validate"])
        .status(1)
        .stderr_contains("unknown key `ouptut`")
        .run();
    let text = ran.stderr();
    assert!(text.len() < 2_000, "{} bytes:\n{text:.3000}", text.len());
    let quoted = text
        .lines()
        .find(|l| l.starts_with("2 | "))
        .unwrap_or_else(|| panic!("no source line: {text}"));
    assert!(
        quoted.contains("…aaa") && quoted.contains("ouptut"),
        "{quoted}"
    );
    let underline = text
        .lines()
        .find(|l| l.trim_start().starts_with("| ") && l.contains('^'))
        .unwrap();
    // The carets sit under the key, in the window.
    let caret_at = underline.find('^').unwrap();
    assert_eq!(
        quoted[..quoted.find("ouptut").unwrap()].chars().count(),
        underline[..caret_at].chars().count()
    );
}
