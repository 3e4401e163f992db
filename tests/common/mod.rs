//! Shared helpers for the end-to-end tests: they run the real binary in a scratch folder.
#![allow(dead_code)]

pub mod azurite;
pub mod emulator;
pub mod entra;
pub mod gcs;
pub mod s3;
pub mod snapshot;
pub mod storage;
pub mod test;
pub mod tls;

pub use test::{Test, github_files};

use std::path::{Path, PathBuf};
use std::process::Output;

use maskflow::report::events::JsonEvent;
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_maskflow");

/// A manifest masking every PNG in `photos/` with the defaults.
pub const EVERY_PNG: &str = "version: 1\nimages:\n  - glob: \"photos/*.png\"\n";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch folder with `photos/` holding the named example photographs.
pub fn scratch(photos: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("photos")).unwrap();
    for name in photos {
        std::fs::copy(
            repo().join("examples/photos").join(name),
            dir.path().join("photos").join(name),
        )
        .unwrap();
    }
    dir
}

pub fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// Runs maskflow in `dir`, with the cleared environment of `Test`, and returns its output.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    Test::in_dir(dir).args(args).output()
}

/// Runs maskflow in `dir` as a GitHub Actions step would, and returns its output and what it
/// wrote to `$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY` (both files in `dir`, appended to
/// across runs as on a runner).
pub fn run_in_actions(dir: &Path, args: &[&str]) -> (Output, String, String) {
    let output = Test::in_dir(dir).args(args).github_actions(dir).output();
    let (outputs, summary) = github_files(dir);
    (output, outputs, summary)
}

pub fn code(output: &Output) -> i32 {
    output.status.code().expect("exited normally")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The NDJSON events of a `--format json` run, as JSON values. Each line must also be a
/// `JsonEvent` (the type the renderer prints) and match the committed events schema.
pub fn events(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| {
            let value: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}"));
            check_event(&value);
            value
        })
        .collect()
}

/// The NDJSON events of a `--format json` run, typed.
pub fn typed_events(output: &Output) -> Vec<JsonEvent> {
    events(output)
        .into_iter()
        .map(|value| serde_json::from_value(value).unwrap())
        .collect()
}

/// The last `summary` of a run's typed events.
pub fn typed_summary(events: &[JsonEvent]) -> maskflow::summary::Summary {
    events
        .iter()
        .rev()
        .find_map(|event| match event {
            JsonEvent::Summary(summary) => Some(summary.clone()),
            _ => None,
        })
        .expect("a summary event")
}

/// `value` is a `JsonEvent`, and valid against `schemas/maskflow.events.schema.json`.
pub fn check_event(value: &Value) {
    static SCHEMA: std::sync::LazyLock<jsonschema::Validator> = std::sync::LazyLock::new(|| {
        let text =
            std::fs::read_to_string(repo().join("schemas/maskflow.events.schema.json")).unwrap();
        jsonschema::draft202012::new(&serde_json::from_str(&text).unwrap()).unwrap()
    });
    if let Err(e) = serde_json::from_value::<JsonEvent>(value.clone()) {
        panic!("not a JsonEvent: {value}: {e}");
    }
    if let Some(error) = SCHEMA.iter_errors(value).next() {
        panic!("not valid against the events schema: {value}: {error}");
    }
}

pub fn events_of<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

pub fn summary(events: &[Value]) -> Value {
    events_of(events, "summary")
        .last()
        .copied()
        .cloned()
        .expect("a summary event")
}

/// Runs `apply --format json`, asserting the exit code, and returns its events.
pub fn apply(dir: &Path, extra: &[&str], expected_code: i32) -> Vec<Value> {
    let mut args = vec!["apply", "--format", "json"];
    args.extend_from_slice(extra);
    let output = run(dir, &args);
    assert_eq!(code(&output), expected_code, "stderr: {}", stderr(&output));
    events(&output)
}

/// `plan --format json`: the plan document.
pub fn plan(dir: &Path) -> Value {
    let output = run(dir, &["plan", "--format", "json"]);
    assert_eq!(code(&output), 0, "stderr: {}", stderr(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The action planned for `key`, and its reasons.
pub fn planned(plan: &Value, key: &str) -> (String, Vec<String>) {
    let change = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == key)
        .unwrap_or_else(|| panic!("{key} not in plan {plan}"));
    let reasons = change["reasons"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|r| r["reason"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    (change["action"].as_str().unwrap().to_owned(), reasons)
}

/// Every file under `dir`, relative, sorted.
pub fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A running `apply --jobs 1 --format json`, read event by event.
pub struct Running {
    pub child: std::process::Child,
    events: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl Running {
    pub fn start(dir: &Path) -> Self {
        use std::io::BufRead;
        let mut child = Test::in_dir(dir)
            .args(["apply", "--jobs", "1", "--format", "json"])
            .command()
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let events = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, events }
    }

    /// Reads events until one of `kind` arrives.
    pub fn wait_for(&mut self, kind: &str) {
        for line in self.events.by_ref() {
            let event: Value = serde_json::from_str(&line.unwrap()).unwrap();
            if event["event"] == kind {
                return;
            }
        }
        panic!("the run ended without a {kind} event");
    }

    /// Drains the remaining events and returns whether the run succeeded.
    pub fn finish(mut self) -> bool {
        for line in self.events.by_ref() {
            line.unwrap();
        }
        self.child.wait().unwrap().success()
    }
}
