//! End to end: `apply -vv` (and `MASKFLOW_LOG=trace --log-format json`) against `maskflow
//! emulate` with injected 429s, 5xx and a refused token. Every wait and retry shows with its
//! reason and the service's request id, diagnostics stay off stdout, and no output holds the
//! client secret, a token or a URL signature.

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Output;

use common::emulator::Emulator;
use common::storage::Storage;
use common::*;
use serde_json::Value;

const SIGNATURE: &str = "s1gn4ture-d0-not-leak";
/// Given to maskflow as PHOTOSHOP_ACCESS_TOKEN: the emulator never issued it, so the first
/// API call is refused with 401 and maskflow mints a token with the client secret.
const STALE_TOKEN: &str = "stale-access-token-d0-not-leak";
const PHOTOS: [&str; 3] = ["camera.png", "coffee.png", "horse.png"];

struct Project {
    dir: tempfile::TempDir,
    _storage_dir: tempfile::TempDir,
    _storage: Storage,
}

impl Project {
    /// A v2 project reading its inputs through signed URLs from a storage stand-in.
    fn new(emulator: &Emulator) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let storage_dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(storage_dir.path().join("in")).unwrap();
        for name in PHOTOS {
            std::fs::copy(
                repo().join("examples/photos").join(name),
                storage_dir.path().join("in").join(name),
            )
            .unwrap();
        }
        let storage = Storage::start(storage_dir.path(), SIGNATURE);
        let mut manifest = format!(
            "version: 1\nvars:\n  store: \"{}\"\ndefaults:\n  engine: photoshop\n\
             photoshop:\n  api: v2\n  endpoint: \"{1}\"\n  ims: \"{1}\"\n  \
             limits: {{poll_initial_seconds: 0.2, poll_max_seconds: 1, submits: 10, window_seconds: 1}}\nimages:\n",
            storage.base_url(),
            emulator.base_url
        );
        for name in PHOTOS {
            manifest.push_str(&format!(
                "  - input: \"{{{{ vars.store }}}}/in/{name}?sig={{{{ env('STORAGE_SIG') }}}}\"\n"
            ));
        }
        write(dir.path(), "maskflow.yaml", &manifest);
        Self {
            dir,
            _storage_dir: storage_dir,
            _storage: storage,
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `apply --format json` with the emulator's credentials and a stale access token in an
    /// otherwise cleared environment (no `MASKFLOW_LOG`, `RUNNER_DEBUG` or `GITHUB_ACTIONS` of
    /// the shell leaks in), plus `env`.
    fn apply(&self, emulator: &Emulator, args: &[&str], env: &[(&str, &str)]) -> Output {
        Test::in_dir(self.root())
            .args(["apply", "--format", "json"])
            .args(args)
            .env("STORAGE_SIG", SIGNATURE)
            .env("PHOTOSHOP_ACCESS_TOKEN", STALE_TOKEN)
            .envs(emulator.credentials())
            .envs(env.iter().copied())
            .run()
            .output
    }
}

/// The emulator: 1 submission per 2 s (maskflow is told 10 per second, so it meets 429s),
/// 40% of status requests answered with a 5xx, tokens that live 2 s.
fn unpleasant_emulator() -> Emulator {
    Emulator::start(&[
        "--latency",
        "600ms",
        "--submit-limit",
        "1",
        "--submit-window",
        "2s",
        "--error-rate",
        "0.4",
        "--error-routes",
        "status",
        "--token-lifetime",
        "2s",
        "--seed",
        "11",
    ])
}

/// No secret anywhere: not in stdout, stderr, or any file the run wrote.
fn assert_no_secrets(project: &Project, emulator: &Emulator, output: &Output) {
    // Every token the emulator mints is a JWT-like `eyJ…` string.
    let needles = [
        emulator.client_secret.as_str(),
        SIGNATURE,
        STALE_TOKEN,
        "eyJ",
    ];
    for (name, stream) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        let text = String::from_utf8_lossy(stream);
        // No URL shows its query (the manifest's own URLs carry `?sig=`).
        assert!(!text.contains("sig="), "{name} shows a URL query:\n{text}");
    }
    for needle in needles {
        for (name, stream) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
            let text = String::from_utf8_lossy(stream);
            assert!(!text.contains(needle), "{name} leaks {needle}:\n{text}");
        }
        for file in files(project.root()) {
            let bytes = std::fs::read(project.root().join(&file)).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(needle),
                "{file} leaks {needle}"
            );
        }
    }
}

/// Stdout holds the reporter's JSON events only.
fn assert_stdout_is_events(output: &Output) {
    let events = typed_events(output);
    assert_eq!(typed_summary(&events).created, 3, "{events:?}");
}

fn lines_with<'a>(text: &'a str, needles: &[&str]) -> Vec<&'a str> {
    text.lines()
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .collect()
}

#[test]
fn vv_shows_every_exchange_wait_and_retry_with_its_request_id() {
    let emulator = unpleasant_emulator();
    let project = Project::new(&emulator);
    let output = project.apply(&emulator, &["-vv"], &[]);
    assert_stdout_is_events(&output);
    let log = stderr(&output);

    // Every exchange with the service is there, with its request id and attempt.
    let exchanges = lines_with(&log, &["maskflow::http", " answered "]);
    assert!(exchanges.len() > 10, "{log}");
    for line in lines_with(&log, &["maskflow::http", "/v2/", " answered "]) {
        assert!(line.contains("request_id=emu-"), "no request id: {line}");
        assert!(line.contains("attempt="), "no attempt: {line}");
        assert!(line.contains("elapsed_ms="), "no elapsed time: {line}");
    }
    // The storage stand-in names no request id; it is shown as "-".
    assert!(
        !lines_with(&log, &["GET http://127.0.0.1", "/in/", "request_id=-"]).is_empty(),
        "{log}"
    );

    // 429s on submissions: each answered 429 is followed by the wait it chose and why.
    let limited = lines_with(&log, &["/v2/remove-background answered 429"]);
    assert!(!limited.is_empty(), "no 429 met: {log}");
    let waits = lines_with(&log, &["waiting", "answered 429 (Retry-After)"]);
    assert_eq!(waits.len(), limited.len(), "{log}");
    for wait in &waits {
        assert!(wait.contains("request_id=emu-"), "{wait}");
        assert!(wait.contains("wait_ms="), "{wait}");
        assert!(
            wait.contains("image{key="),
            "outside its image's span: {wait}"
        );
    }

    // 5xx on status requests: retried after a wait, with the status and request id.
    let failed = exchanges
        .iter()
        .filter(|l| l.contains("/v2/status/") && l.contains("answered 5"))
        .count();
    assert!(failed > 0, "no 5xx met: {log}");
    let retries = lines_with(&log, &["waiting", "status answered HTTP 5", "(backoff)"]);
    assert_eq!(retries.len(), failed, "{log}");
    for retry in &retries {
        assert!(retry.contains("request_id=emu-"), "{retry}");
        assert!(retry.contains("job{id="), "outside its job's span: {retry}");
        assert!(
            retry.contains("injected fault"),
            "the service's reason: {retry}"
        );
    }

    // The stale token is refused, then a token is minted, and refreshed before it expires.
    assert!(
        !lines_with(&log, &[" answered 401"]).is_empty(),
        "the stale token was refused: {log}"
    );
    assert!(
        !lines_with(&log, &["refused the access token", "code=401013"]).is_empty(),
        "{log}"
    );
    assert!(
        lines_with(&log, &["access token minted", "request_id=emu-"]).len() >= 2,
        "minted, then refreshed: {log}"
    );
    assert!(
        !lines_with(&log, &["minting an access token", "reason=expiring"]).is_empty(),
        "{log}"
    );

    assert_no_secrets(&project, &emulator, &output);
}

#[test]
fn trace_as_json_lines_keeps_spans_and_redacts() {
    let emulator = unpleasant_emulator();
    let project = Project::new(&emulator);
    let output = project.apply(
        &emulator,
        &["--log-format", "json"],
        &[("MASKFLOW_LOG", "trace")],
    );
    assert_stdout_is_events(&output);
    let log = stderr(&output);
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let exchanges: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "maskflow::http" && l["fields"]["status"].is_u64())
        .collect();
    assert!(exchanges.len() > 10, "{log}");
    // Only maskflow's own events, even at `trace`: the HTTP stack's crates trace too.
    for line in &lines {
        let target = line["target"].as_str().unwrap_or_default();
        assert!(
            target == "maskflow" || target.starts_with("maskflow::"),
            "{line}"
        );
    }
    let status_exchange = exchanges
        .iter()
        .find(|l| {
            l["fields"]["url"]
                .as_str()
                .is_some_and(|u| u.contains("/v2/status/"))
        })
        .expect("a status request");
    assert!(
        status_exchange["fields"]["request_id"]
            .as_str()
            .unwrap()
            .starts_with("emu-"),
        "{status_exchange}"
    );
    let spans: Vec<&str> = status_exchange["spans"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(spans, ["image", "job"], "{status_exchange}");
    let waits: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["wait_ms"].is_u64())
        .collect();
    assert!(!waits.is_empty(), "{log}");
    for wait in waits {
        let reason = wait["fields"]["reason"].as_str().unwrap();
        assert!(reason.contains("answered"), "{wait}");
    }
    assert_no_secrets(&project, &emulator, &output);
}

#[test]
fn without_flags_there_are_no_diagnostics_and_runner_debug_turns_them_on() {
    let emulator = Emulator::start(&["--latency", "200ms"]);
    let project = Project::new(&emulator);
    let quiet = project.apply(&emulator, &[], &[]);
    assert!(
        !stderr(&quiet).contains("maskflow::http"),
        "{}",
        stderr(&quiet)
    );
    std::fs::remove_dir_all(project.root().join("masks")).unwrap();
    std::fs::remove_file(project.root().join("maskflow.lock")).unwrap();
    let debug = project.apply(&emulator, &[], &[("RUNNER_DEBUG", "1")]);
    assert_stdout_is_events(&debug);
    assert!(
        stderr(&debug).contains("maskflow::http"),
        "{}",
        stderr(&debug)
    );
    assert_no_secrets(&project, &emulator, &debug);
}
