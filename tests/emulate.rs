//! End to end: `maskflow emulate` as a child process, driven over real HTTP.

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::BufRead;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::storage::Storage;
use common::*;
use maskflow::http::{Client, Request};
use serde_json::{Value, json};

const SECRET: &str = "test-secret";
const KEY: &str = "maskflow-emulator";

/// A running emulator; killed when dropped, so a failing test leaves no process behind.
struct Emulator {
    child: Child,
    base: String,
    client: Client,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What came back from one request.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Emulator {
    fn start(args: &[&str]) -> Emulator {
        let mut child = Test::anywhere()
            .args([
                "emulate",
                "--format",
                "json",
                "--port",
                "0",
                "--client-secret",
                SECRET,
            ])
            .args(args)
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let event: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert_eq!(event["event"], "emulator_listening");
        assert_eq!(
            event.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["event", "base_url", "client_id", "client_secret", "api_key"]
        );
        assert_eq!(
            (event["client_id"].as_str(), event["api_key"].as_str()),
            (Some(KEY), Some(KEY))
        );
        assert_eq!(event["client_secret"], SECRET);
        let base = event["base_url"].as_str().unwrap().to_owned();
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
        // maskflow's own client: HTTP errors as values, no redirects followed.
        let client = Client::new(Duration::from_secs(60));
        Emulator {
            child,
            base,
            client,
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    fn send(&self, request: Request<'_>) -> Reply {
        let response = self.client.send(request).unwrap();
        Reply {
            status: response.status(),
            headers: response
                .headers()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
            body: response.bytes(64 << 20).unwrap(),
        }
    }

    fn token_with(&self, form: &[(&str, &str)]) -> Reply {
        self.send(Request::post(&self.url("/ims/token/v3")).form(form))
    }

    fn token(&self) -> String {
        let reply = self.token_with(&[
            ("grant_type", "client_credentials"),
            ("client_id", KEY),
            ("client_secret", SECRET),
            ("scope", "openid,AdobeID,read_organizations"),
        ]);
        assert_eq!(reply.status, 200);
        reply.json()["access_token"].as_str().unwrap().to_owned()
    }

    fn post(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.send(
            Request::post(&self.url(path))
                .bearer(token)
                .header("x-api-key", KEY)
                .json(body),
        )
    }

    fn get(&self, path: &str, token: &str) -> Reply {
        self.send(
            Request::get(&self.url(path))
                .bearer(token)
                .header("x-api-key", KEY),
        )
    }

    fn stats(&self) -> Value {
        self.send(Request::get(&self.url("/_emulator/stats")))
            .json()
    }

    /// Polls `status_url` until a terminal status; returns every status seen, in order
    /// and without repeats, and the last body.
    fn wait(&self, status_url: &str, token: &str) -> (Vec<String>, Value) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen: Vec<String> = Vec::new();
        loop {
            let reply = self.get(status_url, token);
            assert_eq!(
                reply.status,
                200,
                "{}",
                String::from_utf8_lossy(&reply.body)
            );
            let body = reply.json();
            let status = body["status"].as_str().unwrap().to_owned();
            if seen.last() != Some(&status) {
                seen.push(status.clone());
            }
            if status == "succeeded" || status == "failed" {
                return (seen, body);
            }
            assert!(Instant::now() < deadline, "job never finished: {body}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn sensei_body(input: &str, output: &str) -> Value {
    json!({
        "input": {"storage": "external", "href": input},
        "output": {"storage": "external", "href": output, "mask": {"format": "soft"}},
    })
}

fn v2_body(url: &str) -> Value {
    json!({"image": {"source": {"url": url}}, "mode": "mask", "output": {"mediaType": "image/png"}})
}

#[test]
fn tokens_and_gateway_auth() {
    let emulator = Emulator::start(&["--token-lifetime", "1s"]);
    let good = emulator.token_with(&[
        ("grant_type", "client_credentials"),
        ("client_id", KEY),
        ("client_secret", SECRET),
    ]);
    assert_eq!(good.status, 200);
    let body = good.json();
    assert_eq!(
        (body["token_type"].as_str(), body["expires_in"].as_u64()),
        (Some("bearer"), Some(1))
    );
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(token.split('.').count(), 3, "JWT-shaped");

    let bad = emulator.token_with(&[
        ("grant_type", "client_credentials"),
        ("client_id", KEY),
        ("client_secret", "wrong"),
    ]);
    assert_eq!(
        (bad.status, bad.json()["error"].as_str()),
        (400, Some("invalid_client"))
    );
    let grant = emulator.token_with(&[
        ("grant_type", "password"),
        ("client_id", KEY),
        ("client_secret", SECRET),
    ]);
    assert_eq!(
        (grant.status, grant.json()["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );

    let body = sensei_body("https://b.example/in.png", "https://b.example/out.png");
    let unknown = emulator.post("/sensei/mask", "forged", &body);
    assert_eq!(unknown.status, 401);
    assert_eq!(
        unknown.json(),
        json!({"error_code": "401013", "message": "Oauth token is not valid"})
    );
    let wrong_key = emulator.send(
        Request::get(&emulator.url("/v2/status/urn:ff:jobs:emulator:x"))
            .bearer(&token)
            .header("x-api-key", "someone-else"),
    );
    assert_eq!(wrong_key.status, 403);
    assert_eq!(
        wrong_key.json(),
        json!({"error_code": "403003", "message": "Api Key is invalid"})
    );
    assert_eq!(
        emulator
            .get("/v2/status/urn:ff:jobs:emulator:x", &token)
            .status,
        404,
        "the token works"
    );

    std::thread::sleep(Duration::from_millis(1100));
    let expired = emulator.get("/v2/status/urn:ff:jobs:emulator:x", &token);
    assert_eq!(
        (expired.status, expired.json()["error_code"].as_str()),
        (401, Some("401013"))
    );
    assert_eq!(emulator.stats()["tokens_issued"], 1);
}

#[test]
fn sensei_validation_and_content_type() {
    let emulator = Emulator::start(&[]);
    let token = emulator.token();
    let mut body = sensei_body("http://storage.example/in.png", "https://b.example/out.png");
    body["output"]["mask"]["format"] = json!(123);
    let reply = emulator.post("/sensei/mask", &token, &body);
    assert_eq!(reply.status, 400);
    let error = reply.json();
    assert_eq!(
        (error["code"].as_u64(), error["type"].as_str()),
        (Some(400), Some("InputValidationError"))
    );
    let reasons: Vec<(&str, &str)> = error["reason"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["keyword"].as_str().unwrap(),
                r["dataPath"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            ("pattern", ".input.href"),
            ("if", ".input"),
            ("type", ".output.mask.format"),
            ("enum", ".output.mask.format")
        ]
    );

    let missing = emulator.post(
        "/sensei/mask",
        &token,
        &json!({"input": {"storage": "external", "href": "https://b.example/a"}}),
    );
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.json()["reason"][0]["params"]["missingProperty"],
        "output"
    );

    // Adobe types the model version as a string; a number is refused, not passed on.
    let mut versioned = sensei_body("https://b.example/in.png", "https://b.example/out.png");
    versioned["options"] = json!({"service": {"version": 4}});
    let refused = emulator.post("/sensei/mask", &token, &versioned);
    assert_eq!(refused.status, 400);
    let error = refused.json();
    assert_eq!(error["type"], "InputValidationError", "{error}");
    assert_eq!(error["reason"][0]["dataPath"], ".options.service.version");
    assert_eq!(error["reason"][0]["message"], "should be string");

    let not_json = emulator.send(
        Request::post(&emulator.url("/sensei/mask"))
            .bearer(&token)
            .header("x-api-key", KEY)
            .header("Content-Type", "application/json")
            .bytes(b"{not json".to_vec()),
    );
    assert_eq!(
        (not_json.status, not_json.json()["type"].as_str()),
        (400, Some("RequestBodyError"))
    );
    let text = emulator.send(
        Request::post(&emulator.url("/sensei/mask"))
            .bearer(&token)
            .header("x-api-key", KEY)
            .header("Content-Type", "text/plain")
            .bytes(body.to_string().into_bytes()),
    );
    assert_eq!(text.status, 415);
    assert_eq!(
        emulator.stats()["submissions"],
        0,
        "refused requests are not submissions"
    );
}

#[test]
fn sensei_job_writes_the_same_mask_as_apply() {
    let dir = scratch(&["chelsea.png"]);
    let root = dir.path();
    let storage = Storage::start(root, "s1gn");
    let emulator = Emulator::start(&["--latency", "800ms"]);
    let token = emulator.token();

    let body = sensei_body(
        &storage.url("photos/chelsea.png"),
        &storage.url("emulated/chelsea.png"),
    );
    let reply = emulator.post("/sensei/mask", &token, &body);
    assert_eq!(
        reply.status,
        202,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let href = reply.json()["_links"]["self"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = href.rsplit('/').next().unwrap().to_owned();
    assert!(
        href.starts_with(&format!("{}/sensei/status/", emulator.base)),
        "{href}"
    );

    let first = emulator.get(&href, &token).json();
    assert_eq!(first["status"], "pending");
    assert!(
        first.get("output").is_none(),
        "no output while pending: {first}"
    );
    let (seen, last) = emulator.wait(&href, &token);
    assert_eq!(seen, ["pending", "running", "succeeded"]);
    assert_eq!(last["jobID"], id);
    assert_eq!(last["input"], storage.url("photos/chelsea.png"));
    assert_eq!(last["output"], body["output"]);
    assert_eq!(last["_links"]["self"]["href"], href);
    for field in ["created", "modified"] {
        let at = last[field].as_str().unwrap();
        assert!(
            at.len() == 24 && at.ends_with('Z') && at.as_bytes()[19] == b'.',
            "{field}: {at}"
        );
    }
    let created: jiff::Timestamp = last["created"].as_str().unwrap().parse().unwrap();
    let modified: jiff::Timestamp = last["modified"].as_str().unwrap().parse().unwrap();
    assert!(modified.duration_since(created) >= jiff::SignedDuration::from_millis(800));
    assert_eq!((storage.gets(), storage.puts()), (1, 1));

    // The same photo through `maskflow apply` and the local engine: the same pixels.
    write(
        root,
        "maskflow.yaml",
        "version: 1\ndefaults:\n  output: \"masks/{{ stem }}.png\"\nimages:\n  - glob: \"photos/*.png\"\n",
    );
    apply(root, &[], 0);
    let emulated = image::open(root.join("emulated/chelsea.png")).unwrap();
    assert_eq!(emulated.color(), image::ColorType::L8);
    assert_eq!(
        emulated.to_luma8(),
        image::open(root.join("masks/chelsea.png"))
            .unwrap()
            .to_luma8()
    );

    let stats = emulator.stats();
    assert_eq!(
        (
            stats["submissions"].as_u64(),
            stats["duplicate_submissions"].as_u64()
        ),
        (Some(1), Some(0))
    );
    assert_eq!(
        stats["jobs"],
        json!({"pending": 0, "running": 0, "succeeded": 1, "failed": 0})
    );
    assert!(stats["status_requests"].as_u64().unwrap() >= 3);
}

#[test]
fn v2_job_hosts_its_result_behind_a_signature() {
    let dir = scratch(&["horse.png"]);
    let storage = Storage::start(dir.path(), "s1gn");
    let emulator = Emulator::start(&["--latency", "200ms"]);
    let token = emulator.token();

    let reply = emulator.post(
        "/v2/remove-background",
        &token,
        &v2_body(&storage.url("photos/horse.png")),
    );
    assert_eq!(
        reply.status,
        202,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let accepted = reply.json();
    let job_id = accepted["jobId"].as_str().unwrap();
    assert!(job_id.starts_with("urn:ff:jobs:emulator:"), "{job_id}");
    let status_url = accepted["statusUrl"].as_str().unwrap();
    assert_eq!(status_url, format!("{}/v2/status/{job_id}", emulator.base));

    let (seen, last) = emulator.wait(status_url, &token);
    assert_eq!(seen.last().unwrap(), "succeeded");
    assert_eq!(last["jobId"], job_id);
    // Clients that percent-encode the id's colons reach the same job.
    let encoded = format!("/v2/status/{}", job_id.replace(':', "%3A"));
    assert_eq!(emulator.get(&encoded, &token).json()["status"], "succeeded");

    let output = &last["result"]["outputs"][0];
    assert_eq!(output["mediaType"], "image/png");
    let url = output["destination"]["url"].as_str().unwrap();
    let png = emulator.send(Request::get(url));
    assert_eq!(
        (png.status, png.header("content-type")),
        (200, Some("image/png"))
    );
    let mask = image::load_from_memory(&png.body).unwrap();
    assert_eq!(
        (mask.color(), mask.width(), mask.height()),
        (image::ColorType::L8, 400, 328)
    );

    let (unsigned, _) = url.split_once("?sig=").unwrap();
    for forged in [format!("{unsigned}?sig=forged"), unsigned.to_owned()] {
        assert_eq!(emulator.send(Request::get(&forged)).status, 403, "{forged}");
    }
    let unknown = emulator.get("/v2/status/urn:ff:jobs:emulator:nope", &token);
    assert_eq!(
        (unknown.status, unknown.json()["error_code"].as_str()),
        (404, Some("unknown_job_id"))
    );

    assert_eq!(storage.gets(), 1, "one job, one read of its input");

    // Cutouts are served too; a mode Adobe has but the emulator does not is refused as such.
    let mut cutout = v2_body(&storage.url("photos/horse.png"));
    cutout["mode"] = json!("cutout");
    let accepted = emulator.post("/v2/remove-background", &token, &cutout);
    assert_eq!(accepted.status, 202);
    let (seen, _) = emulator.wait(accepted.json()["statusUrl"].as_str().unwrap(), &token);
    assert_eq!(seen.last().unwrap(), "succeeded");
    let mut psd = v2_body(&storage.url("photos/horse.png"));
    psd["mode"] = json!("psd");
    let refused = emulator.post("/v2/remove-background", &token, &psd);
    assert_eq!(
        (refused.status, refused.json()["error_code"].as_str()),
        (422, Some("unsupported_by_emulator"))
    );
    let invalid = emulator.post("/v2/remove-background", &token, &json!({"mode": "mask"}));
    assert_eq!(
        (invalid.status, invalid.json()["error_code"].as_str()),
        (400, Some("validation_error"))
    );
    assert_eq!(storage.gets(), 2, "refused jobs read nothing");
}

#[test]
fn submissions_beyond_the_window_get_429_and_duplicates_are_counted() {
    let dir = scratch(&["horse.png"]);
    let storage = Storage::start(dir.path(), "s1gn");
    let emulator = Emulator::start(&[
        "--submit-limit",
        "3",
        "--submit-window",
        "3s",
        "--latency",
        "0s",
    ]);
    let token = emulator.token();
    let input = storage.url("photos/horse.png");
    for output in ["a", "b", "a"] {
        let body = sensei_body(&input, &storage.url(&format!("out/{output}.png")));
        assert_eq!(emulator.post("/sensei/mask", &token, &body).status, 202);
    }
    let limited = emulator.post("/v2/remove-background", &token, &v2_body(&input));
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("x-access-rate-limit-level"), Some("org"));
    let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3).contains(&wait), "Retry-After {wait}");
    assert_eq!(limited.json()["message"], "Too many requests.");

    // Duplicates are known once the jobs have read their input.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let stats = loop {
        let stats = emulator.stats();
        if stats["jobs"]["succeeded"] == 3 || std::time::Instant::now() > deadline {
            break stats;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(stats["submissions"], 3);
    assert_eq!(stats["rate_limited"], 1);
    assert_eq!(
        stats["duplicate_submissions"], 1,
        "the third repeats the first: same URLs (queries aside) and the same input bytes"
    );

    // After Retry-After, a slot is free again.
    std::thread::sleep(Duration::from_secs(wait));
    assert_eq!(
        emulator
            .post("/v2/remove-background", &token, &v2_body(&input))
            .status,
        202
    );
}

#[test]
fn retry_after_can_be_a_date_or_absent() {
    for (mode, check) in [("date", true), ("none", false)] {
        let emulator = Emulator::start(&["--submit-limit", "0", "--retry-after", mode]);
        let token = emulator.token();
        let limited = emulator.post(
            "/v2/remove-background",
            &token,
            &v2_body("https://b.example/a.png"),
        );
        assert_eq!(limited.status, 429);
        match limited.header("retry-after") {
            Some(date) => assert!(check && httpdate::parse_http_date(date).is_ok(), "{date}"),
            None => assert!(!check),
        }
    }
}

#[test]
fn retired_sensei_routes_answer_410() {
    let emulator = Emulator::start(&["--retired"]);
    let token = emulator.token();
    let reply = emulator.post(
        "/sensei/mask",
        &token,
        &sensei_body("https://b.example/a", "https://b.example/b"),
    );
    assert_eq!(reply.status, 410);
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("/v2/remove-background")
    );
    assert_eq!(emulator.get("/sensei/status/abc", &token).status, 410);
    assert_eq!(
        emulator
            .post(
                "/v2/remove-background",
                &token,
                &v2_body("https://b.example/a.png")
            )
            .status,
        202
    );
}

#[test]
fn failed_jobs_report_why() {
    let dir = scratch(&["chelsea.png"]);
    let storage = Storage::start(dir.path(), "s1gn");
    let emulator = Emulator::start(&[
        "--latency",
        "100ms",
        "--fail-inputs-matching",
        "broken",
        "--errors-as",
        "array",
        "--job-id-field",
        "jobId",
        "--submit-limit",
        "10",
    ]);
    let token = emulator.token();
    let failure = |input: String, output: String| {
        let reply = emulator.post("/sensei/mask", &token, &sensei_body(&input, &output));
        assert_eq!(reply.status, 202);
        let href = reply.json()["_links"]["self"]["href"]
            .as_str()
            .unwrap()
            .to_owned();
        let (_, last) = emulator.wait(&href, &token);
        assert_eq!(last["status"], "failed");
        assert!(
            last["jobId"].is_string() && last.get("jobID").is_none(),
            "{last}"
        );
        let errors = last["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("errors array: {last}"));
        errors[0].clone()
    };

    let on_purpose = failure(storage.url("photos/broken.png"), storage.url("out/a.png"));
    assert_eq!(on_purpose["code"], 500);
    assert!(
        on_purpose["details"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("--fail-inputs-matching")
    );
    assert_eq!(
        (storage.gets(), storage.puts()),
        (0, 0),
        "a job failed on purpose does no work"
    );

    let missing = failure(storage.url("photos/missing.png"), storage.url("out/b.png"));
    assert_eq!(missing["type"], "ResourceNotFound");
    assert_eq!(
        missing["details"][0]["reason"],
        "Unable to access the input href"
    );
    assert_eq!(
        missing["details"][0]["name"],
        format!("{}/photos/missing.png", storage.base_url()),
        "no query: it is a credential"
    );

    let unsigned_output = format!("{}/out/c.png?sig=expired", storage.base_url());
    let refused = failure(storage.url("photos/chelsea.png"), unsigned_output);
    assert_eq!(
        (refused["type"].as_str(), refused["code"].as_u64()),
        (Some("AuthForbidden"), Some(403))
    );
    assert_eq!(
        refused["details"][0]["reason"],
        "Unable to upload the outputs"
    );
    assert_eq!(emulator.stats()["jobs"]["failed"], 3);
}

#[test]
fn failed_sensei_jobs_can_nest_the_reasons_as_error_details() {
    let emulator = Emulator::start(&[
        "--latency",
        "100ms",
        "--fail-inputs-matching",
        "broken",
        "--errors-as",
        "error-details",
    ]);
    let token = emulator.token();
    let body = sensei_body(
        "https://b.example/broken.png?sig=1",
        "https://b.example/o.png",
    );
    let reply = emulator.post("/sensei/mask", &token, &body);
    assert_eq!(reply.status, 202);
    let href = reply.json()["_links"]["self"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, last) = emulator.wait(&href, &token);
    assert_eq!(last["status"], "failed");
    let errors = &last["errors"];
    assert_eq!(
        (errors["type"].as_str(), errors["code"].as_u64()),
        (Some("UndefinedError"), Some(500)),
        "{last}"
    );
    assert!(errors.get("details").is_none(), "{last}");
    assert_eq!(
        errors["errorDetails"][0]["name"],
        "https://b.example/broken.png"
    );
    assert!(
        errors["errorDetails"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("--fail-inputs-matching"),
        "{last}"
    );
}

#[test]
fn injected_faults_create_no_jobs() {
    let emulator = Emulator::start(&[
        "--error-rate",
        "1",
        "--error-routes",
        "submit,status",
        "--seed",
        "7",
    ]);
    let token = emulator.token();
    let reply = emulator.post(
        "/v2/remove-background",
        &token,
        &v2_body("https://b.example/a.png"),
    );
    assert!(
        [500, 502, 503, 504].contains(&reply.status),
        "{}",
        reply.status
    );
    assert!(
        emulator
            .get("/v2/status/urn:ff:jobs:emulator:x", &token)
            .status
            >= 500
    );
    let stats = emulator.stats();
    assert_eq!(
        (
            stats["injected_errors"].as_u64(),
            stats["submissions"].as_u64()
        ),
        (Some(2), Some(0))
    );
    assert_eq!(
        stats["jobs"],
        json!({"pending": 0, "running": 0, "succeeded": 0, "failed": 0})
    );
}

#[test]
fn human_output_says_how_to_connect() {
    let mut child = Test::anywhere()
        .args(["emulate", "--port", "0", "--client-id", "my-id"])
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines: Vec<String> = std::io::BufReader::new(child.stderr.take().unwrap())
        .lines()
        .take(7)
        .map(Result::unwrap)
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    let text = lines.join("\n");
    assert!(text.contains("listening on http://127.0.0.1:"), "{text}");
    assert!(text.contains("export PHOTOSHOP_CLIENT_ID=my-id"), "{text}");
    assert!(
        text.contains("photoshop: {endpoint: http://127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.contains("export PHOTOSHOP_CLIENT_SECRET=p8e-"),
        "a random secret: {text}"
    );
}
