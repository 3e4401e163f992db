//! The GitHub Actions renderer, as a runner would see it: workflow commands on stdout,
//! outputs in $GITHUB_OUTPUT, markdown in $GITHUB_STEP_SUMMARY.

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

#[test]
fn apply_annotates_failures_and_writes_outputs_and_summary() {
    let dir = scratch(&["chelsea.png"]);
    let root = dir.path();
    std::fs::write(root.join("photos/broken.png"), b"not a PNG").unwrap();
    write(root, "maskflow.yaml", EVERY_PNG);
    // One worker, so that the images finish in a known order for the snapshot.
    let (output, outputs, summary) = run_in_actions(root, &["apply", "--jobs", "1"]);
    assert_eq!(code(&output), 1);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let shown = snapshot::transcript(&[
        ("stdout", &stdout),
        ("$GITHUB_OUTPUT", &outputs),
        ("$GITHUB_STEP_SUMMARY", &summary),
        ("stderr", &stderr(&output)),
    ]);
    snapshot::filtered(|| insta::assert_snapshot!("apply_with_a_failure", shown));
    assert!(
        stdout.contains("::group::maskflow: 2 image(s) to mask"),
        "{stdout}"
    );
    assert!(stdout.contains("::endgroup::"), "{stdout}");
    assert!(
        stdout.contains("::error file=maskflow.yaml,line=3,col=5::masks/broken.png from photos/broken.png failed"),
        "{stdout}"
    );
    for line in [
        "created=1",
        "updated=0",
        "unchanged=0",
        "failed=1",
        "lockfile=maskflow.lock",
        "changed=true",
    ] {
        assert!(
            outputs.lines().any(|l| l == line),
            "{line} not in {outputs}"
        );
    }
    assert!(
        summary.starts_with("## maskflow: 1 created, 0 updated, 0 unchanged, 1 failed"),
        "{summary}"
    );
    let failed = summary
        .find("`masks/broken.png` | failed")
        .expect("failure row");
    let created = summary
        .find("`masks/chelsea.png` | create")
        .expect("created row");
    assert!(failed < created, "failures come first:\n{summary}");
    // The human log is still there, on stderr.
    assert!(stderr(&output).contains("Apply complete"));

    // `plan` reports what apply would do through the same outputs.
    std::fs::remove_file(root.join("github-output")).unwrap();
    std::fs::write(root.join("photos/broken.png"), b"still not a PNG").unwrap();
    let (output, outputs, _) = run_in_actions(root, &["plan"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    for line in ["created=0", "updated=1", "unchanged=1", "changed=true"] {
        assert!(
            outputs.lines().any(|l| l == line),
            "{line} not in {outputs}"
        );
    }

    // Nothing to do: outputs say so.
    std::fs::remove_file(root.join("photos/broken.png")).unwrap();
    std::fs::remove_file(root.join("github-output")).unwrap();
    let (output, outputs, _) = run_in_actions(root, &["apply"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        outputs.lines().any(|l| l == "changed=true"),
        "the orphaned failure entry was removed: {outputs}"
    );
    std::fs::remove_file(root.join("github-output")).unwrap();
    let (_, outputs, _) = run_in_actions(root, &["apply"]);
    assert!(outputs.lines().any(|l| l == "changed=false"), "{outputs}");
}

#[test]
fn validation_problems_become_at_most_ten_annotations() {
    let dir = scratch(&[]);
    let root = dir.path();
    let mut manifest = String::from("version: 1\nimages:\n");
    for i in 0..12 {
        manifest.push_str(&format!("  - input: photos/missing-{i}.png\n"));
    }
    write(root, "maskflow.yaml", &manifest);
    let (output, _, summary) = run_in_actions(root, &["validate"]);
    assert_eq!(code(&output), 1);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let shown = snapshot::transcript(&[
        ("stdout", &stdout),
        ("$GITHUB_STEP_SUMMARY", &summary),
        ("stderr", &stderr(&output)),
    ]);
    snapshot::filtered(|| insta::assert_snapshot!("validate_twelve_problems", shown));
    let errors: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("::error "))
        .collect();
    assert_eq!(errors.len(), 10, "{stdout}");
    assert!(errors[0].starts_with(
        "::error file=maskflow.yaml,line=3,col=12::input `photos/missing-0.png` does not exist"
    ));
    assert!(
        errors[9].ends_with("::3 more problems; see the log"),
        "{}",
        errors[9]
    );
    assert!(summary.contains("has 12 problems"), "{summary}");
}

#[test]
fn a_command_that_fails_as_a_whole_is_annotated_on_its_file_and_line() {
    let dir = scratch(&["chelsea.png"]);
    let root = dir.path();
    write(root, "maskflow.yaml", EVERY_PNG);
    // A merge left its markers in the lockfile.
    write(
        root,
        "maskflow.lock",
        "{\"version\": 1, \"images\": {\n<<<<<<< HEAD\n}}\n",
    );
    let (output, _, _) = run_in_actions(root, &["plan"]);
    assert_eq!(code(&output), 1);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let errors: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("::error"))
        .collect();
    assert_eq!(errors.len(), 1, "{stdout}");
    assert!(
        errors[0].starts_with("::error file=maskflow.lock,line=2,col=1::maskflow.lock:2:1: "),
        "{stdout}"
    );
    // The hint is part of the annotation; the log below still has the error and its hint.
    assert!(
        errors[0].contains("(restore it from version control"),
        "{stdout}"
    );
    assert!(
        stderr(&output).contains("error: maskflow.lock:2:1: "),
        "{}",
        stderr(&output)
    );

    // An error with no file is annotated without a place.
    std::fs::remove_file(root.join("maskflow.lock")).unwrap();
    let (output, _, _) = run_in_actions(root, &["adopt", "masks/nothing.png"]);
    assert_eq!(code(&output), 1);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("::error::`masks/nothing.png` matches no image of the manifest ("),
        "{stdout}"
    );
}

#[test]
fn the_summary_table_is_capped_with_a_count_of_the_rest() {
    // 300 images that fail at once (not PNGs): more rows than the summary shows.
    let dir = scratch(&[]);
    let root = dir.path();
    for i in 0..300 {
        std::fs::write(root.join(format!("photos/broken-{i:03}.png")), b"not a PNG").unwrap();
    }
    write(root, "maskflow.yaml", EVERY_PNG);
    let (output, outputs, summary) = run_in_actions(root, &["apply", "--jobs", "2"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(outputs.lines().any(|l| l == "failed=300"), "{outputs}");
    let rows = summary
        .lines()
        .filter(|l| l.starts_with("| `masks/broken-"))
        .count();
    assert_eq!(rows, 250, "{summary}");
    assert!(
        summary.contains("\n… and 50 more; see the log.\n"),
        "{summary}"
    );
    assert!(summary.len() < 1024 * 1024);
    // Sorted by key: the first 250 are shown.
    assert!(summary.contains("| `masks/broken-249.png` | failed |"));
    assert!(!summary.contains("`masks/broken-250.png`"));
}

#[test]
fn a_remade_mask_shows_how_much_changed_and_the_report_is_pointed_to() {
    let dir = scratch(&["coffee.png"]);
    let root = dir.path();
    write(root, "maskflow.yaml", EVERY_PNG);
    let (output, _, _) = run_in_actions(root, &["apply"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    std::fs::remove_file(root.join("github-output")).unwrap();
    std::fs::remove_file(root.join("github-summary.md")).unwrap();
    let (output, outputs, summary) = run_in_actions(
        root,
        &["apply", "--force", "masks/*", "--report", "out/report.html"],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    // The same input and model make the same mask: nothing changed.
    assert!(
        summary.contains("| `masks/coffee.png` | update | forced; 0.0% of the mask changed |"),
        "{summary}"
    );
    assert!(
        outputs.lines().any(|l| l == "report=out/report.html"),
        "{outputs}"
    );
    assert!(
        summary.contains("**Visual report:** `report.html` (1 image, each with"),
        "{summary}"
    );
    assert!(root.join("out/report.html").is_file());
}
