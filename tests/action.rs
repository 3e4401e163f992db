//! The composite GitHub Action (`action.yml`), run here the way a runner runs it: each step
//! in order, `if:` conditions evaluated, `${{ }}` expressions in `env:`/`with:`/outputs
//! substituted, `run:` scripts executed with `bash --noprofile --norc -eo pipefail`, a fresh
//! `$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY` per step, `$GITHUB_PATH` entries prepended to
//! `PATH` for the later steps, and the action's outputs mapped from the steps' outputs.
//!
//! Only the expressions action.yml uses are understood; anything else fails the test, so
//! the action stays simple enough for this emulation to be faithful. The `actions/cache`
//! step is taken as a cache miss. Composite actions get no `INPUT_*` variables, so none are
//! set here either: the scripts must read their inputs from `env:`.

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;
use sha2::Digest;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn action() -> Value {
    let text = std::fs::read_to_string(repo().join("action.yml")).unwrap();
    serde_saphyr::from_str(&text).expect("action.yml parses")
}

/// What the workflow gives the action, and the runner it runs on.
struct Call<'a> {
    action_dir: PathBuf,
    workspace: &'a Path,
    inputs: Vec<(&'a str, &'a str)>,
    /// `github.action_repository`: empty for `uses: ./`.
    action_repository: &'a str,
    path: String,
    server_url: String,
    /// Stop before the step with this id runs (to look at the install decision alone).
    stop_before: Option<&'a str>,
    /// What `actions/cache` restores into its `path`/bin (a cache hit); None: a miss.
    cached_build: Option<&'a Path>,
}

impl<'a> Call<'a> {
    fn new(workspace: &'a Path, inputs: &[(&'a str, &'a str)]) -> Self {
        Self {
            action_dir: repo(),
            workspace,
            inputs: inputs.to_vec(),
            action_repository: "",
            path: path_with_maskflow(),
            server_url: "https://github.com".into(),
            stop_before: None,
            cached_build: None,
        }
    }
}

#[derive(Debug, Default)]
struct Run {
    success: bool,
    outputs: BTreeMap<String, String>,
    steps: BTreeMap<String, BTreeMap<String, String>>,
    /// Which steps ran, by id (or `uses`).
    ran: Vec<String>,
    stdout: String,
    stderr: String,
    summary: String,
    temp: Option<tempfile::TempDir>,
}

/// The system PATH without any folder holding a `maskflow`, so that tests choose theirs.
fn system_path() -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let kept: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|dir| !dir.join("maskflow").exists())
        .collect();
    std::env::join_paths(kept)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The system PATH with the maskflow under test first.
fn path_with_maskflow() -> String {
    let bin_dir = Path::new(BIN).parent().unwrap();
    format!("{}:{}", bin_dir.display(), system_path())
}

fn runner_os() -> &'static str {
    match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "macOS",
        "windows" => "Windows",
        other => panic!("no runner OS for {other}"),
    }
}

fn runner_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "X64",
        "aarch64" => "ARM64",
        other => panic!("no runner arch for {other}"),
    }
}

struct Context<'a> {
    inputs: &'a BTreeMap<String, String>,
    action_repository: &'a str,
    action_path: &'a Path,
    steps: &'a BTreeMap<String, BTreeMap<String, String>>,
}

impl Context<'_> {
    /// The value of one of the simple expressions action.yml may use.
    fn value(&self, expression: &str) -> String {
        let parts: Vec<&str> = expression.split('.').collect();
        match parts.as_slice() {
            ["inputs", name] => self
                .inputs
                .get(*name)
                .unwrap_or_else(|| panic!("`inputs.{name}` is not a declared input"))
                .clone(),
            ["github", "action_repository"] => self.action_repository.to_owned(),
            ["github", "action_path"] => self.action_path.display().to_string(),
            ["steps", id, "outputs", name] => self
                .steps
                .get(*id)
                .and_then(|outputs| outputs.get(*name))
                .cloned()
                .unwrap_or_default(),
            _ => panic!("unsupported expression `{expression}` in action.yml"),
        }
    }

    /// Substitutes every `${{ expression }}` in `text`.
    fn substitute(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find("}}")
                .unwrap_or_else(|| panic!("unclosed expression in `{text}`"))
                + start;
            out.push_str(&self.value(rest[start + 3..end].trim()));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    /// `if:` conditions: only `steps.X.outputs.Y == 'literal'` (and `!=`).
    fn condition(&self, condition: &str) -> bool {
        let condition = condition.trim();
        let condition = condition
            .strip_prefix("${{")
            .and_then(|c| c.strip_suffix("}}"))
            .unwrap_or(condition)
            .trim();
        let (left, right, equal) = if let Some((l, r)) = condition.split_once("==") {
            (l, r, true)
        } else if let Some((l, r)) = condition.split_once("!=") {
            (l, r, false)
        } else {
            panic!("unsupported condition `{condition}` in action.yml")
        };
        let literal = right
            .trim()
            .strip_prefix('\'')
            .and_then(|r| r.strip_suffix('\''))
            .unwrap_or_else(|| panic!("unsupported condition `{condition}` in action.yml"));
        (self.value(left.trim()) == literal) == equal
    }
}

/// Reads a `$GITHUB_OUTPUT` file: `name=value` lines and `name<<DELIMITER` blocks.
fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut outputs = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            for line in lines.by_ref() {
                if line == delimiter {
                    break;
                }
                value.push(line);
            }
            outputs.insert(name.to_owned(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            outputs.insert(name.to_owned(), value.to_owned());
        } else if !line.is_empty() {
            panic!("not an output line: {line}");
        }
    }
    outputs
}

fn run_action(call: Call<'_>) -> Run {
    let action = action();
    assert_eq!(action["runs"]["using"], "composite");
    let mut inputs = BTreeMap::new();
    for (name, spec) in action["inputs"].as_object().unwrap() {
        let default = spec.get("default").and_then(Value::as_str).unwrap_or("");
        inputs.insert(name.clone(), default.to_owned());
    }
    for (name, value) in &call.inputs {
        assert!(
            inputs.contains_key(*name),
            "no input `{name}` in action.yml"
        );
        inputs.insert((*name).to_owned(), (*value).to_owned());
    }

    let temp = tempfile::tempdir().unwrap();
    let runner_temp = temp.path().join("runner-temp");
    std::fs::create_dir(&runner_temp).unwrap();
    let github_path = temp.path().join("github-path");
    std::fs::write(&github_path, "").unwrap();
    let mut path = call.path.clone();
    let mut run = Run {
        success: true,
        ..Run::default()
    };

    for (index, step) in action["runs"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let context = Context {
            inputs: &inputs,
            action_repository: call.action_repository,
            action_path: &call.action_dir,
            steps: &run.steps,
        };
        let id = step["id"]
            .as_str()
            .map_or_else(|| format!("step-{index}"), str::to_owned);
        // No status function: `if:` means `success() && (...)`, no `if:` means `success()`.
        let wanted = step
            .get("if")
            .and_then(Value::as_str)
            .is_none_or(|c| context.condition(c));
        if !run.success || !wanted {
            continue;
        }
        if call.stop_before == Some(id.as_str()) {
            run.temp = Some(temp);
            return run;
        }
        if let Some(uses) = step.get("uses").and_then(Value::as_str) {
            assert!(
                uses.starts_with("actions/cache@"),
                "the emulation knows no `{uses}`"
            );
            // Its `with:` must be expressions we understand, and give the cache a path and a
            // key (an empty key fails on GitHub).
            let mut with = BTreeMap::new();
            for (name, value) in step["with"].as_object().unwrap() {
                let value = context.substitute(value.as_str().unwrap());
                assert!(!value.is_empty(), "actions/cache gets an empty `{name}`");
                with.insert(name.as_str(), value);
            }
            if let Some(binary) = call.cached_build {
                let bin = Path::new(&with["path"]).join("bin");
                std::fs::create_dir_all(&bin).unwrap();
                std::fs::copy(binary, bin.join("maskflow")).unwrap();
            }
            run.ran.push(uses.to_owned());
            continue;
        }
        assert_eq!(step["shell"], "bash", "step {id} must use `shell: bash`");
        let script = step["run"].as_str().expect("a run: step");
        assert!(
            !script.contains("${{"),
            "step {id} interpolates an expression into its script; pass it through env:"
        );
        let mut env: Vec<(String, String)> = Vec::new();
        if let Some(vars) = step.get("env").and_then(Value::as_object) {
            for (name, value) in vars {
                env.push((name.clone(), context.substitute(value.as_str().unwrap())));
            }
        }

        let step_dir = temp.path().join(format!("step-{index}"));
        std::fs::create_dir(&step_dir).unwrap();
        let script_file = step_dir.join("script.sh");
        std::fs::write(&script_file, script).unwrap();
        let outputs_file = step_dir.join("output");
        let summary_file = step_dir.join("summary.md");
        std::fs::write(&outputs_file, "").unwrap();
        let output = Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script_file)
            .current_dir(call.workspace)
            .env_clear()
            .env("PATH", &path)
            .env("HOME", std::env::var_os("HOME").unwrap_or_default())
            .env("CI", "true")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_WORKSPACE", call.workspace)
            .env("GITHUB_ACTION_PATH", &call.action_dir)
            .env("GITHUB_OUTPUT", &outputs_file)
            .env("GITHUB_STEP_SUMMARY", &summary_file)
            .env("GITHUB_PATH", &github_path)
            .env("GITHUB_SERVER_URL", &call.server_url)
            .env("RUNNER_OS", runner_os())
            .env("RUNNER_ARCH", runner_arch())
            .env("RUNNER_TEMP", &runner_temp)
            .envs(env)
            .output()
            .unwrap();
        run.stdout
            .push_str(&String::from_utf8_lossy(&output.stdout));
        run.stderr
            .push_str(&String::from_utf8_lossy(&output.stderr));
        run.summary
            .push_str(&std::fs::read_to_string(&summary_file).unwrap_or_default());
        run.steps.insert(
            id.clone(),
            parse_outputs(&std::fs::read_to_string(&outputs_file).unwrap()),
        );
        run.ran.push(id.clone());
        run.success = output.status.success();
        // Like the runner: what a step adds to $GITHUB_PATH comes first for the later steps.
        for dir in std::fs::read_to_string(&github_path).unwrap().lines().rev() {
            if !path.split(':').any(|p| p == dir) {
                path = format!("{dir}:{path}");
            }
        }
    }

    let context = Context {
        inputs: &inputs,
        action_repository: call.action_repository,
        action_path: &call.action_dir,
        steps: &run.steps,
    };
    let outputs: BTreeMap<String, String> = action["outputs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, spec)| {
            let value = spec["value"].as_str().unwrap();
            (name.clone(), context.substitute(value))
        })
        .collect();
    run.outputs = outputs;
    run.temp = Some(temp);
    run
}

fn assert_outputs(run: &Run, expected: &[(&str, &str)]) {
    for (name, value) in expected {
        assert_eq!(
            run.outputs.get(*name).map(String::as_str),
            Some(*value),
            "output {name}; all: {:?}\nstdout:\n{}\nstderr:\n{}",
            run.outputs,
            run.stdout,
            run.stderr
        );
    }
}

/// A workspace holding a copy of examples/ (manifest and photographs) under `assets/`.
fn examples_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let assets = dir.path().join("assets");
    std::fs::create_dir_all(assets.join("photos")).unwrap();
    std::fs::copy(
        repo().join("examples/maskflow.yaml"),
        assets.join("maskflow.yaml"),
    )
    .unwrap();
    for entry in std::fs::read_dir(repo().join("examples/photos")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, assets.join("photos").join(path.file_name().unwrap())).unwrap();
    }
    dir
}

#[test]
fn apply_on_the_examples_then_nothing_to_do() {
    let workspace = examples_workspace();
    let root = workspace.path();
    // Like `${{ runner.temp }}/maskflow-report.html` in examples/workflows/masks.yml.
    let runner_temp = tempfile::tempdir().unwrap();
    let report = runner_temp.path().join("maskflow-report.html");
    let report = report.to_str().unwrap();
    let inputs = [
        ("manifest", "assets/maskflow.yaml"),
        ("command", "apply"),
        ("version", VERSION),
        ("report", report),
    ];

    let run = run_action(Call::new(root, &inputs));
    assert!(
        run.success,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert_eq!(run.steps["install"]["method"], "path", "{}", run.stderr);
    assert_eq!(run.ran, ["install", "run"], "no download, no build");
    assert_outputs(
        &run,
        &[
            ("created", "6"),
            ("updated", "0"),
            ("unchanged", "0"),
            ("failed", "0"),
            ("lockfile", "assets/maskflow.lock"),
            ("changed", "true"),
            ("version", VERSION),
            ("report", report),
        ],
    );
    let html = std::fs::read_to_string(report).unwrap();
    assert_eq!(
        html.matches("<article class=\"card\" data-state=\"created\"")
            .count(),
        6
    );
    // The summary sends reviewers to the artifact the workflow uploads.
    assert!(
        run.summary.contains(
            "**Visual report:** `maskflow-report.html` (6 images, each with its mask and cutout)"
        ),
        "{}",
        run.summary
    );
    assert!(
        run.summary.contains("under **Artifacts**"),
        "{}",
        run.summary
    );
    // The workflow that uploads it: the report input, and upload-artifact given its output.
    let workflow = std::fs::read_to_string(repo().join("examples/workflows/masks.yml")).unwrap();
    assert!(workflow.contains("report: ${{ runner.temp }}/maskflow-report.html"));
    assert!(workflow.contains("uses: actions/upload-artifact@v4"));
    assert!(workflow.contains("path: ${{ steps.masks.outputs.report }}"));
    assert!(
        run.summary
            .starts_with("## maskflow: 6 created, 0 updated, 0 unchanged, 0 failed"),
        "{}",
        run.summary
    );
    assert!(
        run.summary.contains("| image | result | why |"),
        "{}",
        run.summary
    );
    assert!(
        run.summary
            .contains("| `masks/launch-binary.png` | create | new |"),
        "{}",
        run.summary
    );
    assert!(
        run.stdout.contains("::group::maskflow: 6 image(s) to mask"),
        "{}",
        run.stdout
    );
    assert_eq!(
        std::fs::read_dir(root.join("assets/masks"))
            .unwrap()
            .count(),
        6
    );
    assert!(root.join("assets/maskflow.lock").is_file());

    // Again: nothing to do. Credentials given as inputs are masked in the log.
    let mut call = Call::new(root, &inputs);
    call.inputs.push(("photoshop-access-token", "s3cret-token"));
    let run = run_action(call);
    assert!(run.success, "{}", run.stderr);
    assert_outputs(
        &run,
        &[
            ("created", "0"),
            ("unchanged", "6"),
            ("failed", "0"),
            ("changed", "false"),
        ],
    );
    assert!(
        run.summary.contains("Every mask is up to date."),
        "{}",
        run.summary
    );
    let html = std::fs::read_to_string(report).unwrap();
    assert_eq!(
        html.matches("data-state=\"unchanged\" data-engine").count(),
        6
    );
    assert!(
        run.stdout.contains("::add-mask::s3cret-token"),
        "{}",
        run.stdout
    );

    // `args` reach maskflow, split on whitespace.
    let run = run_action(Call::new(
        root,
        &[
            ("manifest", "assets/maskflow.yaml"),
            ("version", VERSION),
            ("args", "--jobs 1  --force masks/launch-binary.png"),
        ],
    ));
    assert!(run.success, "{}", run.stderr);
    assert_outputs(
        &run,
        &[("updated", "1"), ("unchanged", "5"), ("changed", "true")],
    );

    // `plan --detailed-exitcode`: up to date, so 0.
    let run = run_action(Call::new(
        root,
        &[
            ("manifest", "assets/maskflow.yaml"),
            ("version", VERSION),
            ("command", "plan"),
            ("args", "--detailed-exitcode"),
        ],
    ));
    assert!(run.success, "{}", run.stderr);
    assert_outputs(&run, &[("changed", "false"), ("unchanged", "6")]);
}

#[test]
fn a_broken_manifest_fails_with_annotations() {
    let dir = scratch(&["chelsea.png"]);
    let root = dir.path();
    write(
        root,
        "maskflow.yaml",
        "version: 1\nimages:\n  - glob: \"photos/*.png\"\n    ouptut: masks/x.png\n",
    );
    let run = run_action(Call::new(root, &[("version", VERSION)]));
    assert!(!run.success);
    assert_eq!(run.ran, ["install", "run"]);
    assert!(
        run.stdout
            .contains("::error file=maskflow.yaml,line=4,col=5::unknown key `ouptut`"),
        "{}",
        run.stdout
    );
    assert!(run.summary.contains("has 1 problem"), "{}", run.summary);
    assert_outputs(&run, &[("created", ""), ("changed", "")]);
}

#[test]
fn an_unknown_command_is_refused_and_inputs_are_not_code() {
    let dir = scratch(&[]);
    let run = run_action(Call::new(
        dir.path(),
        &[("version", VERSION), ("command", "plan $(touch pwned)")],
    ));
    assert!(!run.success);
    assert!(!dir.path().join("pwned").exists());
    assert!(
        run.stdout.contains(
            "::error title=maskflow action::input `command` must be plan, apply or install"
        ),
        "{}",
        run.stdout
    );
}

/// A copy of the action (action.yml, its scripts and dist/) whose dist/ we can change.
fn action_copy(checksums: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(repo().join("action.yml"), dir.path().join("action.yml")).unwrap();
    for folder in ["action", "dist"] {
        std::fs::create_dir(dir.path().join(folder)).unwrap();
        for entry in std::fs::read_dir(repo().join(folder)).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(
                &path,
                dir.path().join(folder).join(path.file_name().unwrap()),
            )
            .unwrap();
        }
    }
    std::fs::write(dir.path().join("dist/version"), format!("{VERSION}\n")).unwrap();
    std::fs::write(dir.path().join("dist/checksums.txt"), checksums).unwrap();
    dir
}

fn target() -> &'static str {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => "x86_64-unknown-linux-gnu",
        ("linux", "aarch64") => "aarch64-unknown-linux-gnu",
        ("macos", "x86_64") => "x86_64-apple-darwin",
        ("macos", "aarch64") => "aarch64-apple-darwin",
        other => panic!("no release target for {other:?}"),
    }
}

/// A release as the release workflow publishes it, served from a folder (`file://`):
/// SERVER/OWNER/REPO/releases/download/vVERSION/maskflow-VERSION-TARGET.tar.gz.
/// Returns the server folder and the archive's sha256.
fn fake_release(server: &Path) -> String {
    let name = format!("maskflow-{VERSION}-{}", target());
    let release = server.join(format!("owner/maskflow/releases/download/v{VERSION}"));
    let staging = server.join("staging").join(&name);
    std::fs::create_dir_all(&release).unwrap();
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::copy(BIN, staging.join("maskflow")).unwrap();
    let archive = release.join(format!("{name}.tar.gz"));
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(server.join("staging"))
        .arg(&name)
        .status()
        .unwrap();
    assert!(status.success());
    let digest = sha2::Sha256::digest(std::fs::read(&archive).unwrap());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn installs_a_checksummed_release_or_falls_back_to_building() {
    let server = tempfile::tempdir().unwrap();
    let sha = fake_release(server.path());
    let asset = format!("maskflow-{VERSION}-{}.tar.gz", target());
    let server_url = format!("file://{}", server.path().display());
    let dir = scratch(&["chelsea.png"]);
    let root = dir.path();
    write(root, "maskflow.yaml", EVERY_PNG);

    // The release's archive, with the checksum the action carries: downloaded, verified,
    // put on PATH and run.
    let action = action_copy(&format!("# comment\n{sha}  {asset}\n"));
    let mut call = Call::new(root, &[]);
    call.action_dir = action.path().to_owned();
    call.action_repository = "owner/maskflow";
    call.path = system_path();
    call.server_url = server_url.clone();
    let run = run_action(call);
    assert!(
        run.success,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert_eq!(run.steps["install"]["method"], "download", "{}", run.stderr);
    assert_eq!(run.steps["install"]["version"], VERSION);
    assert!(run.steps["install"]["bin"].contains("runner-temp"));
    assert_eq!(run.ran, ["install", "run"]);
    assert_outputs(&run, &[("created", "1"), ("changed", "true")]);

    // An archive that is not the one the action expects is refused.
    let action = action_copy(&format!("{}  {asset}\n", "0".repeat(64)));
    let mut call = Call::new(root, &[]);
    call.action_dir = action.path().to_owned();
    call.action_repository = "owner/maskflow";
    call.path = system_path();
    call.server_url = server_url.clone();
    let run = run_action(call);
    assert!(!run.success);
    assert_eq!(run.ran, ["install"]);
    assert!(run.stdout.contains("refusing to run it"), "{}", run.stdout);

    // No release in this repository (a fork), no checksum for the version, or `uses: ./`:
    // build from source, with a cache key that follows the source.
    let action = action_copy(&format!("{sha}  {asset}\n"));
    for (repository, version, why) in [
        ("fork/maskflow", "", "could not download"),
        ("owner/maskflow", "9.9.9", "no checksum for"),
        ("", "", "runs from a local path"),
    ] {
        let mut call = Call::new(root, &[("version", version)]);
        call.action_dir = action.path().to_owned();
        call.action_repository = repository;
        call.path = system_path();
        call.server_url = server_url.clone();
        call.stop_before = Some("build");
        let run = run_action(call);
        assert!(run.success, "{}", run.stderr);
        assert_eq!(run.ran, ["install", "actions/cache@v4"]);
        let install = &run.steps["install"];
        assert_eq!(install["method"], "build", "{}", run.stderr);
        assert!(run.stderr.contains(why), "{why}: {}", run.stderr);
        let expected_version = if version.is_empty() { VERSION } else { version };
        assert_eq!(install["version"], expected_version);
        assert!(
            install["cache-key"].starts_with("maskflow-build-")
                && install["cache-key"].len() > "maskflow-build-Linux-X64-".len() + 60,
            "{install:?}"
        );
    }
}

#[test]
fn a_restored_source_build_is_used() {
    let dir = scratch(&["chelsea.png"]);
    let root = dir.path();
    write(root, "maskflow.yaml", EVERY_PNG);
    // `uses: ./` with a version that has no release: a source build, here restored from the
    // cache (the binary under test stands for it), so no cargo run.
    for (version, warned) in [("", false), ("9.9.9", true)] {
        let mut call = Call::new(root, &[("version", version), ("command", "plan")]);
        call.path = system_path();
        call.cached_build = Some(Path::new(BIN));
        let run = run_action(call);
        assert!(
            run.success,
            "stdout:\n{}\nstderr:\n{}",
            run.stdout, run.stderr
        );
        assert_eq!(run.ran, ["install", "actions/cache@v4", "build", "run"]);
        assert!(
            run.stderr.contains("using the cached build"),
            "{}",
            run.stderr
        );
        assert!(run.steps["build"]["bin"].ends_with("maskflow-build/bin/maskflow"));
        assert_outputs(&run, &[("created", "1"), ("changed", "true")]);
        assert_eq!(
            run.stdout.contains(&format!(
                "::warning title=maskflow action::no release archive for maskflow 9.9.9; using maskflow {VERSION}"
            )),
            warned,
            "{}",
            run.stdout
        );
    }
}
