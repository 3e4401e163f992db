//! The `photoshop` engine: Adobe's Photoshop API, `sensei` or `v2`. A job is submitted (through
//! the organization-wide rate limit), then polled until it ends, then its mask is collected.
//! Submissions are never blindly resent: a resend after a timeout or 5xx can start a second
//! paid job. Status requests are idempotent and are retried.

mod auth;
mod flight;
mod limiter;
mod retry;
mod schedule;
mod wire;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use crate::engine::cutout::Rendered;
use serde_json::Value;

pub use auth::{CredentialError, Credentials};
pub use flight::{Seat, Ticket};
pub use wire::JobStatus;

use crate::lock::Lockfile;
use crate::manifest::{MaskMode, OutputKind, PhotoshopApi, PhotoshopSettings, Step};
use crate::redact::{SecretUrl, redact_text};
use crate::remote;
use auth::Auth;
use flight::Flight;
use limiter::SubmitLimiter;
use schedule::Schedule;

/// API requests other than downloads finish within this, or count as a network failure.
const API_TIMEOUT: Duration = Duration::from_secs(60);
/// Consecutive failed status requests tolerated before a job is given up for this run.
const STATUS_FAILURES: u32 = 8;
/// Attempts at a download of a finished mask.
const DOWNLOAD_ATTEMPTS: u32 = 4;
/// Longest status link taken from the service or the lockfile.
const MAX_LINK: usize = 2048;

/// What is recorded about the engine in the lockfile: a change re-runs every mask it made.
pub fn identity(settings: &PhotoshopSettings) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("name".to_owned(), "photoshop".to_owned()),
        ("api".to_owned(), settings.api.as_str().to_owned()),
        (
            "endpoint".to_owned(),
            settings.endpoint.trim_end_matches('/').to_owned(),
        ),
    ])
}

/// Why waiting on a job did not produce a mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitError {
    /// The job failed, or its result could not be collected: a new job is needed.
    Failed(String),
    /// The job may still finish: it stays recorded as in flight for the next run.
    Unfinished(String),
}

pub struct Photoshop {
    api: PhotoshopApi,
    endpoint: String,
    settings: PhotoshopSettings,
    auth: Auth,
    limiter: SubmitLimiter,
    /// Status requests have a limit of their own (Adobe: 1,000 per 3 s), apart from submissions.
    status_limiter: SubmitLimiter,
    flight: Flight,
    schedule: Schedule,
    api_agent: ureq::Agent,
    transfer_agent: ureq::Agent,
}

struct Reply {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

enum CallError {
    /// Nothing reached the server (connection refused, unknown host): safe to try again.
    NotSent(String),
    /// The request may have reached the server.
    Unknown(String),
    /// No access token could be had.
    Auth(String),
}

impl CallError {
    fn message(self) -> String {
        match self {
            CallError::NotSent(m) | CallError::Unknown(m) | CallError::Auth(m) => m,
        }
    }
}

/// A job the service accepted: its id, the status link it gave (if maskflow may follow it),
/// and when it was accepted.
#[derive(Debug, Clone)]
pub struct JobHandle {
    pub id: String,
    pub href: Option<String>,
    accepted: Instant,
}

impl JobHandle {
    pub fn accepted(&self) -> Instant {
        self.accepted
    }
}

impl Photoshop {
    pub fn new(settings: &PhotoshopSettings, credentials: Credentials) -> Self {
        let limits = &settings.limits;
        let limiter = SubmitLimiter::new(
            limits.submits,
            Duration::from_secs_f64(limits.window_seconds.max(0.001)),
        );
        Self {
            api: settings.api,
            endpoint: settings.endpoint.trim_end_matches('/').to_owned(),
            settings: settings.clone(),
            auth: Auth::new(&settings.ims, &settings.scopes, credentials),
            status_limiter: SubmitLimiter::new(
                limits.status_requests,
                seconds(limits.status_window_seconds.max(0.001)),
            ),
            flight: Flight::new(limits.in_flight, &limiter),
            schedule: Schedule::new(
                seconds(limits.poll_initial_seconds),
                seconds(limits.poll_max_seconds),
            ),
            limiter,
            api_agent: remote::agent(API_TIMEOUT),
            transfer_agent: remote::agent(remote::TRANSFER_TIMEOUT),
        }
    }

    /// Queues a new job for a seat in the flight (see `flight`); `board` must follow.
    pub fn ticket(&self) -> Ticket {
        self.flight.ticket()
    }

    /// Waits until the job of `ticket` may be started: the bound on jobs in flight.
    pub fn board(&self, ticket: Ticket) -> Seat<'_> {
        self.flight.board(ticket)
    }

    /// The most jobs started and not yet done at one time in this run.
    pub fn most_in_flight(&self) -> usize {
        self.flight.most()
    }

    /// Lets the first status requests of this run follow the latencies of earlier ones.
    pub fn learn_from(&self, lock: &Lockfile) {
        self.schedule
            .set_prior(schedule::prior_from_lock(lock, self.api.as_str()));
    }

    /// A job an earlier run submitted at `submitted_at` (RFC 3339), with the link it recorded.
    pub fn resumed(&self, id: &str, href: Option<&str>, submitted_at: &str) -> JobHandle {
        let age = submitted_at
            .parse::<jiff::Timestamp>()
            .ok()
            .and_then(|t| Duration::try_from(jiff::Timestamp::now().duration_since(t)).ok())
            .unwrap_or_default();
        let now = Instant::now();
        JobHandle {
            id: id.to_owned(),
            href: href.and_then(|h| self.trusted_link(h, id)),
            accepted: now.checked_sub(age).unwrap_or(now),
        }
    }

    /// Tokens minted since the last call, so CI logs can mask them.
    pub fn take_minted_tokens(&self) -> Vec<String> {
        self.auth.take_minted()
    }

    /// Submits one job. Retries only what cannot have started a job: 429s (after
    /// `Retry-After`) and connections that never opened.
    /// `output` is where a `sensei` job writes the mask.
    pub fn submit(
        &self,
        step: &Step,
        input: &SecretUrl,
        output: Option<&SecretUrl>,
    ) -> Result<JobHandle, String> {
        let (url, body) = match self.api {
            PhotoshopApi::Sensei => {
                let output = output.ok_or("the sensei API needs `mask_url`")?;
                let body = wire::sensei_body(
                    input,
                    output,
                    step.mask,
                    self.settings.storage,
                    self.settings.optimize,
                );
                // The cutout route takes the same body and writes an RGBA PNG.
                let route = match step.output_kind {
                    OutputKind::Mask => "sensei/mask",
                    OutputKind::Cutout => "sensei/cutout",
                };
                (format!("{}/{route}", self.endpoint), body)
            }
            PhotoshopApi::V2 => (
                format!("{}/v2/remove-background", self.endpoint),
                wire::v2_body(input, step.output_kind),
            ),
        };
        let give_up_at = Instant::now() + self.deadline();
        let mut attempt = 0;
        loop {
            let reply = match self.call(|agent, token| {
                // Counted only once a token is at hand, right before sending: minting one can
                // take a while, and a slot counted long before its request reaches the
                // service lets the next one arrive less than a window after it.
                self.limiter.acquire();
                agent
                    .post(&url)
                    .header("Authorization", format!("Bearer {token}"))
                    .header("x-api-key", self.auth.client_id())
                    .header("Content-Type", "application/json")
                    .send_json(&body)
            }) {
                Ok(reply) => reply,
                Err(CallError::NotSent(_)) if Instant::now() < give_up_at => {
                    attempt += 1;
                    std::thread::sleep(retry::backoff(attempt));
                    continue;
                }
                Err(CallError::Unknown(why)) => {
                    return Err(format!(
                        "the submission to {url} may or may not have reached the service ({why}); \
                         maskflow does not resend it blindly, since that could start a second paid job. \
                         Rerun to submit again"
                    ));
                }
                Err(e) => return Err(e.message()),
            };
            match reply.status {
                200..=202 => {
                    let id = match self.api {
                        PhotoshopApi::Sensei => wire::sensei_job_id(&reply.body),
                        PhotoshopApi::V2 => wire::v2_job_id(&reply.body),
                    };
                    let id = id.ok_or_else(|| {
                        format!(
                            "the service accepted the job ({}) but named no job id",
                            reply.status
                        )
                    })?;
                    let href = wire::status_href(&reply.body)
                        .and_then(|href| self.trusted_link(&href, &id));
                    return Ok(JobHandle {
                        id,
                        href,
                        accepted: Instant::now(),
                    });
                }
                429 if Instant::now() < give_up_at => {
                    attempt += 1;
                    let wait = self.retry_wait(&reply, attempt);
                    // The limit is the organization's: every worker holds back, not just this one.
                    self.limiter.pause_until(Instant::now() + wait);
                }
                410 if self.api == PhotoshopApi::Sensei => {
                    return Err(format!(
                        "{url} is retired (410 Gone); set `photoshop: {{api: v2}}` to use /v2/remove-background"
                    ));
                }
                status @ 500..=599 => {
                    return Err(format!(
                        "the service answered {status} to the submission{}; it may have started a job anyway, \
                         so maskflow does not resend it blindly. Rerun to submit again",
                        describe(&reply.body)
                    ));
                }
                status => {
                    return Err(format!(
                        "the service refused the submission ({status}){}",
                        describe(&reply.body)
                    ));
                }
            }
        }
    }

    /// Polls `job` until it ends or its deadline passes, then collects the mask (for `sensei`,
    /// from `read`). When to ask follows the latencies of finished jobs (see `schedule`).
    pub fn wait(
        &self,
        step: &Step,
        job: &JobHandle,
        read: Option<&SecretUrl>,
    ) -> Result<Rendered, WaitError> {
        let limits = &self.settings.limits;
        let deadline = Instant::now() + self.deadline();
        let url = self.status_url(&job.id, job.href.as_deref());
        let id = &job.id;
        let unfinished = || {
            WaitError::Unfinished(format!(
                "job {id} did not finish within {} s; it stays recorded as in flight and the next run resumes it",
                limits.deadline_seconds
            ))
        };
        let mut watch = self.schedule.watch(job.accepted);
        let mut failures = 0;
        let mut retry_at: Option<Instant> = None;
        loop {
            match retry_at.take() {
                Some(at) if at > deadline => return Err(unfinished()),
                Some(at) => std::thread::sleep(at.saturating_duration_since(Instant::now())),
                None if !watch.until_next_poll(deadline) => return Err(unfinished()),
                None => {}
            }
            watch.polled();
            match self.status_at(&url) {
                Ok((JobStatus::Succeeded { result_url }, service)) => {
                    self.schedule
                        .learn(schedule::latency_of(watch.age(), service));
                    drop(watch);
                    return self.collect(step, id, read, result_url.as_deref());
                }
                Ok((JobStatus::Failed { message }, _)) => {
                    return Err(WaitError::Failed(format!("job {id} failed: {message}")));
                }
                Ok(_) => failures = 0,
                // The status limiter holds every status request back; submissions go on.
                Err(StatusError::Limited { .. }) => {}
                Err(StatusError::Retry { wait, message }) => {
                    failures += 1;
                    if failures >= STATUS_FAILURES {
                        return Err(WaitError::Unfinished(format!(
                            "cannot read the status of job {id} ({message}); it stays recorded as in flight and the next run resumes it"
                        )));
                    }
                    retry_at =
                        Some(Instant::now() + wait.unwrap_or_else(|| retry::backoff(failures)));
                }
                Err(StatusError::Fatal(message)) => {
                    return Err(WaitError::Failed(format!("job {id}: {message}")));
                }
            }
        }
    }

    /// One status request for job `job`, at `href` (the service's link) when maskflow may follow it.
    pub fn status(&self, job: &str, href: Option<&str>) -> Result<JobStatus, StatusError> {
        self.status_at(&self.status_url(job, href))
            .map(|(status, _)| status)
    }

    /// One status request, through the status limiter; for a succeeded job, also how long the
    /// service says it took.
    fn status_at(&self, url: &str) -> Result<(JobStatus, Option<Duration>), StatusError> {
        self.status_limiter.acquire();
        let reply = self
            .call(|agent, token| {
                agent
                    .get(url)
                    .header("Authorization", format!("Bearer {token}"))
                    .header("x-api-key", self.auth.client_id())
                    .call()
            })
            .map_err(|e| match e {
                CallError::Auth(m) => StatusError::Fatal(m),
                e => StatusError::Retry {
                    wait: None,
                    message: e.message(),
                },
            })?;
        match reply.status {
            200..=299 => {
                let status = wire::parse_status(&reply.body);
                let took = matches!(status, JobStatus::Succeeded { .. })
                    .then(|| wire::service_latency(&reply.body))
                    .flatten();
                Ok((status, took))
            }
            429 => {
                let wait = self.retry_wait(&reply, 1);
                self.status_limiter.pause_until(Instant::now() + wait);
                Err(StatusError::Limited {
                    wait,
                    message: format!("status answered 429{}", describe(&reply.body)),
                })
            }
            500..=599 => Err(StatusError::Retry {
                wait: reply
                    .retry_after
                    .as_deref()
                    .and_then(|v| retry::retry_after(v, SystemTime::now())),
                message: format!("status answered {}{}", reply.status, describe(&reply.body)),
            }),
            404 => Err(StatusError::Fatal(format!(
                "the service does not know this job (404){}",
                describe(&reply.body)
            ))),
            status => Err(StatusError::Fatal(format!(
                "status answered {status}{}",
                describe(&reply.body)
            ))),
        }
    }

    fn collect(
        &self,
        step: &Step,
        job: &str,
        read: Option<&SecretUrl>,
        result_url: Option<&str>,
    ) -> Result<Rendered, WaitError> {
        let source = match self.api {
            PhotoshopApi::Sensei => read
                .cloned()
                .ok_or_else(|| WaitError::Failed("the sensei API needs `mask_url`".to_owned()))?,
            PhotoshopApi::V2 => {
                let raw = result_url.ok_or_else(|| {
                    WaitError::Failed(format!("job {job} succeeded without a result URL"))
                })?;
                SecretUrl::parse(raw).map_err(|e| {
                    WaitError::Failed(format!("job {job} gave an invalid result URL: {e}"))
                })?
            }
        };
        let mut attempt = 0;
        let bytes = loop {
            match remote::fetch(&self.transfer_agent, &source, remote::MAX_DOWNLOAD_BYTES) {
                Ok(bytes) => break bytes,
                Err(e) => {
                    attempt += 1;
                    let transient = matches!(&e, remote::RemoteError::Transport { .. })
                        || matches!(&e, remote::RemoteError::Status { status, .. } if *status >= 500);
                    if !transient || attempt >= DOWNLOAD_ATTEMPTS {
                        return Err(WaitError::Failed(format!(
                            "job {job} succeeded, but its mask cannot be read: {e}"
                        )));
                    }
                    std::thread::sleep(retry::backoff(attempt));
                }
            }
        };
        // The service's mask has its input's size, which Adobe caps at 100 MP: the default
        // limit bounds what a broken or hostile endpoint can make us allocate.
        let shown = source.redacted();
        let unusable = |e: crate::engine::EngineError| {
            WaitError::Failed(format!(
                "job {job} succeeded, but its {} cannot be used: {e}",
                step.output_kind.as_str()
            ))
        };
        let path = std::path::Path::new(&shown);
        let limits = crate::engine::DecodeLimits::default();
        Ok(match step.output_kind {
            OutputKind::Mask => {
                let mask = crate::engine::decode_gray(path, &bytes, limits).map_err(unusable)?;
                Rendered::Mask(crate::engine::finish_mask(mask, step.mask))
            }
            OutputKind::Cutout => {
                let cutout = crate::engine::decode_rgba(path, &bytes, limits).map_err(unusable)?;
                Rendered::Cutout(crate::engine::cutout::finish_alpha(cutout, step.mask))
            }
        })
    }

    /// Where to ask about `job`: the service's own link when maskflow may follow it, else the
    /// documented route under the endpoint.
    fn status_url(&self, job: &str, href: Option<&str>) -> String {
        if let Some(link) = href.and_then(|h| self.trusted_link(h, job)) {
            return link;
        }
        let id: String = url::form_urlencoded::byte_serialize(job.as_bytes()).collect();
        match self.api {
            PhotoshopApi::Sensei => format!("{}/sensei/status/{id}", self.endpoint),
            PhotoshopApi::V2 => format!("{}/v2/status/{id}", self.endpoint),
        }
    }

    /// `href` if the access token may be sent there: it names job `job` (its last path segment)
    /// on the endpoint's own scheme, host and port, with no credentials, query or fragment. A
    /// lockfile is edited in pull requests, so a link in it is checked like any input.
    fn trusted_link(&self, href: &str, job: &str) -> Option<String> {
        if href.len() > MAX_LINK {
            return None;
        }
        let link = url::Url::parse(href).ok()?;
        let endpoint = url::Url::parse(&self.endpoint).ok()?;
        let last = link.path_segments()?.next_back()?;
        let names_job = crate::emulate::http::percent_decode(last).as_deref() == Some(job);
        let safe = link.origin() == endpoint.origin()
            && link.username().is_empty()
            && link.password().is_none()
            && link.query().is_none()
            && link.fragment().is_none();
        (names_job && safe).then(|| link.to_string())
    }

    fn deadline(&self) -> Duration {
        Duration::from_secs_f64(self.settings.limits.deadline_seconds.max(1.0))
    }

    fn retry_wait(&self, reply: &Reply, attempt: u32) -> Duration {
        reply
            .retry_after
            .as_deref()
            .and_then(|v| retry::retry_after(v, SystemTime::now()))
            .unwrap_or_else(|| retry::backoff(attempt))
    }

    /// Sends an authorized request; on a 401, mints a fresh token and sends it once more.
    fn call(
        &self,
        send: impl Fn(&ureq::Agent, &str) -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Reply, CallError> {
        let token = self.auth.token(&self.api_agent).map_err(CallError::Auth)?;
        let reply = read_reply(send(&self.api_agent, &token))?;
        if reply.status == 401 && self.auth.rejected(&token) {
            let token = self.auth.token(&self.api_agent).map_err(CallError::Auth)?;
            return read_reply(send(&self.api_agent, &token));
        }
        if reply.status == 401 {
            return Err(CallError::Auth(format!(
                "the access token was refused (401){}",
                describe(&reply.body)
            )));
        }
        Ok(reply)
    }
}

/// Why a status request gave no status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusError {
    Retry {
        wait: Option<Duration>,
        message: String,
    },
    /// A 429: every status request waits `wait`.
    Limited {
        wait: Duration,
        message: String,
    },
    Fatal(String),
}

impl std::fmt::Display for StatusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusError::Retry { message, .. }
            | StatusError::Limited { message, .. }
            | StatusError::Fatal(message) => f.write_str(message),
        }
    }
}

fn read_reply(
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Reply, CallError> {
    let mut response = result.map_err(|e| {
        let message = redact_text(&e.to_string());
        match e {
            ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => {
                CallError::NotSent(message)
            }
            _ => CallError::Unknown(message),
        }
    })?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
        .unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Reply {
        status,
        retry_after,
        body,
    })
}

/// Seconds from a setting; out-of-range values saturate instead of panicking.
fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(value.max(0.0)).unwrap_or(Duration::MAX)
}

fn describe(body: &Value) -> String {
    wire::error_message(body).map_or_else(String::new, |m| format!(": {m}"))
}

/// Mask mode names as the lockfile records them.
pub fn settings(mask: MaskMode, settings: &PhotoshopSettings) -> BTreeMap<String, String> {
    let mut out = BTreeMap::from([("mask".to_owned(), mask.as_str().to_owned())]);
    if let (PhotoshopApi::Sensei, Some(optimize)) = (settings.api, settings.optimize) {
        let name = match optimize {
            crate::manifest::Optimize::Performance => "performance",
            crate::manifest::Optimize::Batch => "batch",
        };
        out.insert("optimize".to_owned(), name.to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(endpoint: &str) -> Photoshop {
        let settings = PhotoshopSettings {
            endpoint: endpoint.to_owned(),
            ..PhotoshopSettings::default()
        };
        let credentials = Credentials::from_env(&settings.credentials, |_| Some("x".to_owned()))
            .expect("credentials");
        Photoshop::new(&settings, credentials)
    }

    #[test]
    fn status_links_are_followed_only_to_the_endpoint_and_the_job() {
        let engine = engine("https://image.adobe.io/");
        let own = "https://image.adobe.io/sensei/status/abc-1";
        assert_eq!(engine.trusted_link(own, "abc-1").as_deref(), Some(own));
        let moved = "https://image.adobe.io/jobs/v7/sensei/status/abc-1";
        assert_eq!(engine.trusted_link(moved, "abc-1").as_deref(), Some(moved));
        let v2 = "https://image.adobe.io/v2/status/urn%3Aff%3Ajobs%3Aa%3Ab";
        assert!(engine.trusted_link(v2, "urn:ff:jobs:a:b").is_some());
        for refused in [
            "https://evil.example/sensei/status/abc-1",
            "http://image.adobe.io/sensei/status/abc-1",
            "https://image.adobe.io:8443/sensei/status/abc-1",
            "https://user:pw@image.adobe.io/sensei/status/abc-1",
            "https://image.adobe.io/sensei/status/abc-1?sig=secret",
            "https://image.adobe.io/sensei/status/abc-1#x",
            "https://image.adobe.io/sensei/status/other-job",
            "/sensei/status/abc-1",
            "not a url",
        ] {
            assert_eq!(engine.trusted_link(refused, "abc-1"), None, "{refused}");
        }
        let long = format!("https://image.adobe.io/{}/abc-1", "a".repeat(MAX_LINK));
        assert_eq!(engine.trusted_link(&long, "abc-1"), None);
        // Without a usable link, the documented route.
        assert_eq!(
            engine.status_url("abc-1", Some("https://evil.example/sensei/status/abc-1")),
            "https://image.adobe.io/sensei/status/abc-1"
        );
        assert_eq!(engine.status_url("abc-1", Some(moved)), moved);
    }

    #[test]
    fn a_resumed_job_is_as_old_as_its_record() {
        let engine = engine("https://image.adobe.io");
        let submitted = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(30);
        let job = engine.resumed(
            "abc-1",
            Some("https://image.adobe.io/sensei/status/abc-1"),
            &submitted.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        );
        let age = job.accepted().elapsed();
        assert!(
            age >= Duration::from_secs(29) && age < Duration::from_secs(40),
            "{age:?}"
        );
        assert!(job.href.is_some());
        let unreadable = engine.resumed("abc-1", Some("https://evil.example/x/abc-1"), "yesterday");
        assert!(unreadable.accepted().elapsed() < Duration::from_secs(5));
        assert_eq!(unreadable.href, None);
    }
}
