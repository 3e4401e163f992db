//! Every route of the emulator, as functions of the shared state and one request.
//!
//! The order of checks on an API route mirrors the real stack: the gateway first (fault
//! injection, token, API key), then the service (content type, body, validation), then the
//! org-wide rate limit, which only ever counts submissions that are accepted. Status requests
//! have an org-wide limit of their own, checked after the gateway.

use crate::manifest::OutputKind;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use serde_json::{Value, json};

use super::auth::{Auth, Denied};
use super::http::{Request, Response};
use super::jobs::{self, Api, Failure, Job, Jobs, Outcome, Status};
use super::limits::{Faults, SlidingWindow, retry_after_seconds};
use super::validate::{self, V2Problem};
use super::{Config, ErrorsAs, FaultRoute, RetryAfter};

/// Largest request body read; mask requests are a few hundred bytes.
pub const MAX_BODY: usize = 1024 * 1024;

const V2_JOB_PREFIX: &str = "urn:ff:jobs:emulator:";

/// Counters served by `GET /_emulator/stats`.
#[derive(Debug, Default)]
pub struct Stats {
    pub tokens_issued: AtomicU64,
    pub submissions: AtomicU64,
    pub status_requests: AtomicU64,
    /// Every 429, on submissions and on status requests.
    pub rate_limited: AtomicU64,
    /// The 429s on status requests.
    pub status_rate_limited: AtomicU64,
    pub injected_errors: AtomicU64,
    /// Jobs accepted whose terminal status no status request has shown yet: the jobs the
    /// client has in flight.
    pub in_flight: AtomicU64,
    pub max_in_flight: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Everything the routes share.
pub struct State {
    pub config: Config,
    pub base_url: String,
    auth: Mutex<Auth>,
    window: Mutex<SlidingWindow>,
    status_window: Mutex<SlidingWindow>,
    faults: Mutex<Faults>,
    /// Draws each job's latency from `--latency`.
    latencies: Mutex<fastrand::Rng>,
    ids: Mutex<fastrand::Rng>,
    jobs: Arc<Jobs>,
    /// (route, input URL, output URL), queries stripped, of every accepted submission.
    pub stats: Stats,
}

impl State {
    pub fn new(config: Config, base_url: String, jobs: Arc<Jobs>) -> Self {
        Self {
            auth: Mutex::new(Auth::new(
                config.client_id.clone(),
                config.client_secret.clone(),
                config.token_lifetime,
            )),
            window: Mutex::new(SlidingWindow::new(
                config.submit_limit,
                config.submit_window,
            )),
            status_window: Mutex::new(SlidingWindow::new(
                config.status_limit,
                config.status_window,
            )),
            faults: Mutex::new(Faults::new(config.seed)),
            latencies: Mutex::new(config.seed.map_or_else(fastrand::Rng::new, |s| {
                fastrand::Rng::with_seed(s ^ 0x5851_f42d_4c95_7f2d)
            })),
            // Seeded too (differently), so a seeded run also repeats its job ids.
            ids: Mutex::new(config.seed.map_or_else(fastrand::Rng::new, |s| {
                fastrand::Rng::with_seed(s ^ 0x9e37_79b9_7f4a_7c15)
            })),
            jobs,
            stats: Stats::default(),
            config,
            base_url,
        }
    }

    pub fn handle(&self, request: &Request) -> Response {
        let Some(segments) = request.segments() else {
            return not_found();
        };
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        // With --status-prefix, status routes live under it only, and nothing else does.
        let prefix: Vec<&str> = self.status_prefix().collect();
        let (segments, prefixed) = match segments.strip_prefix(prefix.as_slice()) {
            Some(rest) if !prefix.is_empty() => (rest, true),
            _ => (segments.as_slice(), false),
        };
        let status_route = matches!(segments, ["sensei" | "v2", "status", _]);
        if !prefix.is_empty() && prefixed != status_route {
            return not_found();
        }
        let method = request.method.as_str();
        let allow = |allowed: &str| {
            if method == allowed || (allowed == "GET" && method == "HEAD") {
                None
            } else {
                Some(Response::json(405, &json!({"error_code": "unsupported_method", "message": format!("use {allowed}")})).with_header("Allow", allowed.to_owned()))
            }
        };
        match segments {
            ["_emulator", "stats"] => allow("GET").unwrap_or_else(|| self.stats()),
            ["ims", "token", "v3"] => allow("POST").unwrap_or_else(|| self.token(request)),
            ["sensei", ..] if self.config.retired => retired(),
            ["sensei", "mask"] => {
                allow("POST").unwrap_or_else(|| self.sensei_submit(request, OutputKind::Mask))
            }
            ["sensei", "cutout"] => {
                allow("POST").unwrap_or_else(|| self.sensei_submit(request, OutputKind::Cutout))
            }
            ["sensei", "status", id] => {
                allow("GET").unwrap_or_else(|| self.sensei_status(request, id))
            }
            ["v2", "remove-background"] => allow("POST").unwrap_or_else(|| self.v2_submit(request)),
            ["v2", "status", id] => allow("GET").unwrap_or_else(|| self.v2_status(request, id)),
            ["v2", "results", file] => {
                allow("GET").unwrap_or_else(|| self.v2_result(request, file))
            }
            _ => not_found(),
        }
    }

    /// A random 5xx, if fault injection picks this request.
    fn inject(&self, route: FaultRoute) -> Option<Response> {
        if !self.config.error_routes.contains(&route) {
            return None;
        }
        let status = {
            let mut faults = self.faults.lock().expect("faults lock");
            faults
                .hit(self.config.error_rate)
                .then(|| faults.server_error())?
        };
        bump(&self.stats.injected_errors);
        Some(Response::json(
            status,
            &json!({"error_code": status.to_string(), "message": "injected fault (maskflow emulate --error-rate)"}),
        ))
    }

    fn gate(&self, request: &Request) -> Option<Response> {
        let auth = self.auth.lock().expect("auth lock");
        match auth.check(
            request.header("authorization"),
            request.header("x-api-key"),
            Instant::now(),
        ) {
            Ok(()) => None,
            Err(Denied::Token) => Some(Response::json(
                401,
                &json!({"error_code": "401013", "message": "Oauth token is not valid"}),
            )),
            Err(Denied::ApiKey) => Some(Response::json(
                403,
                &json!({"error_code": "403003", "message": "Api Key is invalid"}),
            )),
        }
    }

    fn token(&self, request: &Request) -> Response {
        if let Some(fault) = self.inject(FaultRoute::Token) {
            return fault;
        }
        // Form body, or the query string (IMS accepts both; the body is preferred).
        let form: Vec<(String, String)> = url::form_urlencoded::parse(&request.body)
            .chain(url::form_urlencoded::parse(request.query.as_bytes()))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let mut auth = self.auth.lock().expect("auth lock");
        match auth.issue(field, Instant::now()) {
            Ok(token) => {
                bump(&self.stats.tokens_issued);
                Response::json(
                    200,
                    &json!({"access_token": token, "token_type": "bearer", "expires_in": auth.expires_in()}),
                )
            }
            Err(refusal) => Response::json(
                400,
                &json!({"error": refusal.error, "error_description": refusal.description}),
            ),
        }
    }

    /// The segments of `--status-prefix`.
    fn status_prefix(&self) -> impl Iterator<Item = &str> {
        self.config
            .status_prefix
            .split('/')
            .filter(|s| !s.is_empty())
    }

    /// Takes a submission slot, or answers 429.
    fn rate_limit(&self, error_code: &str) -> Option<Response> {
        self.refuse(&self.window, error_code)
    }

    /// Takes a status-request slot, or answers 429.
    fn status_limit(&self, error_code: &str) -> Option<Response> {
        let refusal = self.refuse(&self.status_window, error_code)?;
        bump(&self.stats.status_rate_limited);
        Some(refusal)
    }

    /// Takes a slot of `window`, or answers 429 with `Retry-After` as configured.
    fn refuse(&self, window: &Mutex<SlidingWindow>, error_code: &str) -> Option<Response> {
        let wait = window
            .lock()
            .expect("window lock")
            .try_acquire(Instant::now())
            .err()?;
        bump(&self.stats.rate_limited);
        let response = Response::json(
            429,
            &json!({"error_code": error_code, "message": "Too many requests."}),
        )
        .with_header("X-Access-Rate-Limit-Level", "org".to_owned());
        let seconds = retry_after_seconds(wait);
        Some(match self.config.retry_after {
            RetryAfter::Seconds => response.with_header("Retry-After", seconds.to_string()),
            RetryAfter::Date => response.with_header(
                "Retry-After",
                httpdate::fmt_http_date(
                    SystemTime::now() + std::time::Duration::from_secs(seconds),
                ),
            ),
            RetryAfter::None => response,
        })
    }

    /// Counts an accepted submission, noting whether the same work was accepted before.
    fn accepted(&self, route: &'static str, input: &str, output: &str) {
        let _ = (route, input, output);
        bump(&self.stats.submissions);
        let in_flight = self.stats.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.stats
            .max_in_flight
            .fetch_max(in_flight, Ordering::Relaxed);
    }

    /// A status request shows job `id` terminal: the client's job has landed.
    fn shown_done(&self, id: &str) {
        if self.jobs.seen_done(id) {
            self.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// One job's latency, drawn from `--latency`.
    fn latency(&self) -> std::time::Duration {
        self.config
            .latency
            .draw(&mut self.latencies.lock().expect("latencies lock"))
    }

    /// A failure decided at submission by `--fail-jobs` or `--fail-inputs-matching`.
    fn planned_failure(&self, input: &str) -> Option<Failure> {
        let href = jobs::without_query(input);
        if let Some(pattern) = &self.config.fail_inputs_matching
            && href.contains(pattern.as_str())
        {
            let why = format!(
                "failed on purpose: the input URL contains {pattern:?} (--fail-inputs-matching)"
            );
            return Some(Failure::Injected { href, why });
        }
        let hit = self
            .faults
            .lock()
            .expect("faults lock")
            .hit(self.config.fail_jobs);
        hit.then(|| Failure::Injected {
            href,
            why: "failed on purpose (--fail-jobs)".to_owned(),
        })
    }

    fn sensei_submit(&self, request: &Request, kind: OutputKind) -> Response {
        if let Some(refusal) = self
            .inject(FaultRoute::Submit)
            .or_else(|| self.gate(request))
        {
            return refusal;
        }
        if !is_json(request) {
            return Response::json(
                415,
                &json!({"type": "InvalidContentTypeError", "code": 415, "title": "Unsupported Media Type", "reason": "Content-Type must be application/json"}),
            );
        }
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return Response::json(
                400,
                &json!({"type": "RequestBodyError", "code": 400, "title": "Request body is not valid JSON", "reason": "the body could not be parsed as JSON"}),
            );
        };
        let mask = match validate::sensei(&body) {
            Ok(mask) => mask,
            Err(reason) => {
                return Response::json(
                    400,
                    &json!({"code": 400, "type": "InputValidationError", "reason": reason}),
                );
            }
        };
        if let Some(limited) = self.rate_limit("429050") {
            return limited;
        }
        let route = match kind {
            OutputKind::Mask => "sensei/mask",
            OutputKind::Cutout => "sensei/cutout",
        };
        self.accepted(route, &mask.input_href, &mask.output_href);
        let id = jobs::uuid(&mut self.ids.lock().expect("ids lock"));
        let failure = self.planned_failure(&mask.input_href);
        let job = Job::new(
            id.clone(),
            mask.input_href.clone(),
            Api::Sensei {
                output_href: mask.output_href.clone(),
                output: mask.output.clone(),
                options: mask.options.clone(),
            },
            self.latency(),
        );
        self.jobs.submit(job, mask.mask, kind, failure);
        Response::json(
            202,
            &json!({"_links": {"self": {"href": self.sensei_status_url(&id)}}}),
        )
        .with_header("X-Access-Consumption-Status", "quota_available".to_owned())
    }

    fn sensei_status_url(&self, id: &str) -> String {
        format!("{}{}/sensei/status/{id}", self.base_url, self.prefix_path())
    }

    /// `--status-prefix` as a path (`/a/b`), or empty.
    fn prefix_path(&self) -> String {
        self.status_prefix().map(|s| format!("/{s}")).collect()
    }

    fn sensei_status(&self, request: &Request, id: &str) -> Response {
        bump(&self.stats.status_requests);
        if let Some(refusal) = self
            .inject(FaultRoute::Status)
            .or_else(|| self.gate(request))
            .or_else(|| self.status_limit("429050"))
        {
            return refusal;
        }
        let job = self
            .jobs
            .get(id)
            .filter(|job| matches!(job.api, Api::Sensei { .. }));
        let Some(job) = job else {
            return Response::json(
                404,
                &json!({"type": "ResourceNotFound", "code": 404, "title": "Requested resource was not found"}),
            );
        };
        let Api::Sensei {
            output, options, ..
        } = &job.api
        else {
            unreachable!("filtered above")
        };
        let view = job.view(Instant::now());
        if view.outcome.is_some() {
            self.shown_done(&job.id);
        }
        let mut body = serde_json::Map::new();
        body.insert(self.config.job_id_field.as_str().to_owned(), json!(job.id));
        body.insert("status".to_owned(), json!(view.status.as_str()));
        body.insert("created".to_owned(), json!(iso_ms(job.created_at)));
        body.insert("modified".to_owned(), json!(iso_ms(view.modified_at)));
        body.insert("input".to_owned(), json!(job.input));
        if view.status != Status::Pending {
            body.insert("output".to_owned(), output.clone());
        }
        if let Some(options) = options {
            body.insert("options".to_owned(), options.clone());
        }
        if let Some(Outcome::Failed(failure)) = &view.outcome {
            let error = failure.sensei();
            body.insert(
                "errors".to_owned(),
                match self.config.errors_as {
                    ErrorsAs::Object => error,
                    ErrorsAs::Array => json!([error]),
                    ErrorsAs::ErrorDetails => failure.sensei_error_details(),
                },
            );
        }
        body.insert(
            "_links".to_owned(),
            json!({"self": {"href": self.sensei_status_url(&job.id)}}),
        );
        Response::json(200, &Value::Object(body))
    }

    fn v2_submit(&self, request: &Request) -> Response {
        if let Some(refusal) = self
            .inject(FaultRoute::Submit)
            .or_else(|| self.gate(request))
        {
            return refusal;
        }
        if !is_json(request) {
            return v2_error(
                415,
                "invalid_content_type",
                "Content-Type must be application/json",
                &[],
            );
        }
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return v2_error(
                400,
                "invalid_json",
                "the request body is not valid JSON",
                &[],
            );
        };
        let (input, kind) = match validate::v2(&body) {
            Ok(valid) => valid,
            Err(V2Problem::Invalid(problems)) => {
                return v2_error(
                    400,
                    "validation_error",
                    "the request body is invalid",
                    &problems,
                );
            }
            Err(V2Problem::Unsupported(message)) => {
                return v2_error(422, "unsupported_by_emulator", &message, &[]);
            }
        };
        if let Some(limited) = self.rate_limit("rate_limited") {
            return limited;
        }
        self.accepted("v2/remove-background", &input, "");
        let id = format!(
            "{V2_JOB_PREFIX}{}",
            jobs::uuid(&mut self.ids.lock().expect("ids lock"))
        );
        let failure = self.planned_failure(&input);
        // The download signature is a credential: never from the seeded generator.
        let mut rng = fastrand::Rng::new();
        let sig: String = (0..32).map(|_| rng.alphanumeric()).collect();
        let job = Job::new(id.clone(), input, Api::V2 { sig }, self.latency());
        self.jobs
            .submit(job, crate::manifest::MaskMode::Soft, kind, failure);
        Response::json(
            202,
            &json!({"jobId": id, "statusUrl": format!("{}{}/v2/status/{id}", self.base_url, self.prefix_path())}),
        )
    }

    fn v2_status(&self, request: &Request, id: &str) -> Response {
        bump(&self.stats.status_requests);
        if let Some(refusal) = self
            .inject(FaultRoute::Status)
            .or_else(|| self.gate(request))
            .or_else(|| self.status_limit("rate_limited"))
        {
            return refusal;
        }
        let Some((job, sig)) = self.v2_job(id) else {
            return v2_error(404, "unknown_job_id", &format!("no job {id}"), &[]);
        };
        let view = job.view(Instant::now());
        if view.outcome.is_some() {
            self.shown_done(&job.id);
        }
        let mut body = json!({
            "jobId": job.id,
            "status": view.status.as_str(),
            "createdTime": iso_ms(job.created_at),
            "modifiedTime": iso_ms(view.modified_at),
        });
        match &view.outcome {
            Some(Outcome::Succeeded { .. }) => {
                let file = job.id.trim_start_matches(V2_JOB_PREFIX);
                body["result"] = json!({"outputs": [{
                    "destination": {"url": format!("{}/v2/results/{file}.png?sig={sig}", self.base_url)},
                    "mediaType": "image/png",
                }]});
            }
            Some(Outcome::Failed(failure)) => body["errorDetails"] = json!([failure.v2()]),
            None => {}
        }
        Response::json(200, &body)
    }

    fn v2_job(&self, id: &str) -> Option<(Job, String)> {
        let job = self.jobs.get(id)?;
        let Api::V2 { sig } = &job.api else {
            return None;
        };
        let sig = sig.clone();
        Some((job, sig))
    }

    /// A hosted result: like a presigned URL, no token, but the signature must match.
    fn v2_result(&self, request: &Request, file: &str) -> Response {
        if let Some(fault) = self.inject(FaultRoute::Result) {
            return fault;
        }
        let found = file
            .strip_suffix(".png")
            .and_then(|uuid| self.v2_job(&format!("{V2_JOB_PREFIX}{uuid}")));
        let Some((job, sig)) = found else {
            return v2_error(404, "not_found", "no such result", &[]);
        };
        if request.query_param("sig").as_deref() != Some(sig.as_str()) {
            return v2_error(
                403,
                "unauthorized_forbidden",
                "the signature of this URL is missing or wrong",
                &[],
            );
        }
        match job.view(Instant::now()).outcome {
            Some(Outcome::Succeeded { png: Some(png) }) => Response::png(&png),
            _ => v2_error(404, "not_found", "this job has no result", &[]),
        }
    }

    fn stats(&self) -> Response {
        let [pending, running, succeeded, failed] = self.jobs.counts();
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let s = &self.stats;
        Response::json(
            200,
            &json!({
                "tokens_issued": get(&s.tokens_issued),
                "submissions": get(&s.submissions),
                "duplicate_submissions": self.jobs.duplicates(),
                "status_requests": get(&s.status_requests),
                "rate_limited": get(&s.rate_limited),
                "status_rate_limited": get(&s.status_rate_limited),
                "injected_errors": get(&s.injected_errors),
                "in_flight": get(&s.in_flight),
                "max_in_flight": get(&s.max_in_flight),
                "jobs": {"pending": pending, "running": running, "succeeded": succeeded, "failed": failed},
            }),
        )
    }
}

fn is_json(request: &Request) -> bool {
    request.header("content-type").is_some_and(|value| {
        value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .eq_ignore_ascii_case("application/json")
    })
}

fn v2_error(status: u16, code: &str, message: &str, problems: &[String]) -> Response {
    let errors: Vec<Value> = problems
        .iter()
        .map(|p| json!({"error_code": code, "message": p}))
        .collect();
    Response::json(
        status,
        &json!({"error_code": code, "message": message, "errors": errors}),
    )
}

fn not_found() -> Response {
    Response::json(
        404,
        &json!({"error_code": "404", "message": "no such route in maskflow emulate"}),
    )
}

fn retired() -> Response {
    Response::json(
        410,
        &json!({
            "error_code": "endpoint_retired",
            "message": "/sensei/* was retired (end of life 2025-10-15); use POST /v2/remove-background with \"mode\": \"mask\"",
        }),
    )
}

/// ISO-8601 UTC with milliseconds, as in the service's `created`/`modified`.
fn iso_ms(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(config: Config) -> State {
        // No workers needed: these tests never let a job run.
        State::new(config, "http://emulator".to_owned(), Jobs::idle())
    }

    fn request(method: &str, path: &str, token: Option<&str>, body: &Value) -> Request {
        let mut headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-api-key".to_owned(), "id".to_owned()),
        ];
        if let Some(token) = token {
            headers.push(("authorization".to_owned(), format!("Bearer {token}")));
        }
        Request {
            method: method.to_owned(),
            path: path.to_owned(),
            query: String::new(),
            headers,
            body: body.to_string().into_bytes(),
        }
    }

    fn token(state: &State) -> String {
        let response = state.handle(&Request {
            method: "POST".to_owned(),
            path: "/ims/token/v3".to_owned(),
            body: b"grant_type=client_credentials&client_id=id&client_secret=secret".to_vec(),
            ..Request::default()
        });
        assert_eq!(response.status, 200);
        response.json_body()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn config() -> Config {
        Config {
            client_id: "id".to_owned(),
            client_secret: "secret".to_owned(),
            submit_limit: 1,
            ..Config::default()
        }
    }

    #[test]
    fn refused_submissions_take_no_slot() {
        let state = state(config());
        let token = token(&state);
        let invalid = json!({"input": {}});
        for _ in 0..3 {
            let response = state.handle(&request("POST", "/sensei/mask", Some(&token), &invalid));
            assert_eq!(response.status, 400);
            assert_eq!(
                state
                    .handle(&request("POST", "/sensei/mask", None, &invalid))
                    .status,
                401
            );
        }
        let valid =
            json!({"image": {"source": {"url": "https://b.example/a.png"}}, "mode": "mask"});
        let accepted = state.handle(&request(
            "POST",
            "/v2/remove-background",
            Some(&token),
            &valid,
        ));
        assert_eq!(accepted.status, 202);
        let limited = state.handle(&request(
            "POST",
            "/v2/remove-background",
            Some(&token),
            &valid,
        ));
        assert_eq!(limited.status, 429);
        assert_eq!(limited.header("retry-after"), Some("3"));
        assert_eq!(state.stats.submissions.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn jobs_are_visible_only_through_their_own_api() {
        let state = state(Config {
            submit_limit: 10,
            ..config()
        });
        let token = token(&state);
        let body = json!({"image": {"source": {"url": "https://b.example/a.png"}}, "mode": "mask"});
        let accepted = state.handle(&request(
            "POST",
            "/v2/remove-background",
            Some(&token),
            &body,
        ));
        let id = accepted.json_body()["jobId"].as_str().unwrap().to_owned();
        let v2 = state.handle(&request(
            "GET",
            &format!("/v2/status/{id}"),
            Some(&token),
            &Value::Null,
        ));
        assert_eq!(v2.json_body()["status"], "pending");
        let sensei = state.handle(&request(
            "GET",
            &format!("/sensei/status/{id}"),
            Some(&token),
            &Value::Null,
        ));
        assert_eq!(sensei.status, 404);
        assert_eq!(sensei.json_body()["type"], "ResourceNotFound");
    }

    #[test]
    fn wrong_methods_and_unknown_routes() {
        let state = state(config());
        assert_eq!(
            state
                .handle(&request("GET", "/sensei/mask", None, &Value::Null))
                .status,
            405
        );
        assert_eq!(
            state
                .handle(&request("GET", "/nope", None, &Value::Null))
                .status,
            404
        );
        assert_eq!(
            state
                .handle(&request("GET", "/_emulator/stats", None, &Value::Null))
                .status,
            200
        );
    }

    #[test]
    fn faults_come_before_the_gateway_and_create_no_job() {
        let state = state(Config {
            error_rate: 1.0,
            error_routes: vec![FaultRoute::Submit],
            seed: Some(1),
            ..config()
        });
        let response = state.handle(&request("POST", "/sensei/mask", None, &Value::Null));
        assert!([500, 502, 503, 504].contains(&response.status));
        assert_eq!(state.jobs.counts(), [0; 4]);
        assert_eq!(state.stats.injected_errors.load(Ordering::Relaxed), 1);
    }
}
