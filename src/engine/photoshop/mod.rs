//! The `photoshop` engine: Adobe's Photoshop API, `sensei` or `v2`. A job is submitted (through
//! the organization-wide rate limit), then polled until it ends, then its mask is collected.
//! Submissions are never blindly resent: a resend after a timeout or 5xx can start a second
//! paid job. Status requests are idempotent and are retried.

mod auth;
mod error;
mod flight;
pub mod lifecycle;
mod limiter;
mod retry;
mod schedule;
mod wire;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use crate::engine::cutout::Rendered;
use serde_json::Value;

pub use auth::{CredentialError, Credentials};
pub use error::{AuthError, JobError, Refusal, StatusError, SubmitError};
pub use flight::{Seat, Ticket};
pub use wire::{JobFailure, JobStatus};

use crate::http::{self, TransportError};
use crate::lock::Lockfile;
use crate::manifest::{MaskMode, OutputKind, PhotoshopApi, PhotoshopSettings, Step};
use crate::redact::SecretUrl;
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
    Failed(Box<JobError>),
    /// The job may still finish: it stays recorded as in flight for the next run.
    Unfinished(Box<JobError>),
}

impl WaitError {
    fn failed(error: JobError) -> Self {
        WaitError::Failed(Box::new(error))
    }

    fn unfinished(error: JobError) -> Self {
        WaitError::Unfinished(Box::new(error))
    }
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
    api_agent: http::Client,
    transfer_agent: http::Client,
}

struct Reply {
    status: u16,
    retry_after: Option<String>,
    request_id: Option<String>,
    body: Value,
}

impl Reply {
    fn refusal(&self) -> Refusal {
        Refusal::new(self.status, &self.body, self.request_id.as_deref())
    }
}

enum CallError {
    /// No answer; `TransportError::not_sent` tells whether it may have reached the server.
    Transport(TransportError),
    /// No access token could be had.
    Auth(AuthError),
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
    ) -> Result<JobHandle, SubmitError> {
        let (url, body) = match self.api {
            PhotoshopApi::Sensei => {
                let output = output.ok_or(SubmitError::NeedsMaskUrl)?;
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
        let mut attempt = 1;
        loop {
            let reply = match self.call(&self.limiter, |token| {
                http::Request::post(&url)
                    .bearer(token)
                    .header("x-api-key", self.auth.client_id())
                    .json(&body)
                    .attempt(attempt)
            }) {
                Ok(reply) => reply,
                Err(CallError::Transport(source)) if source.not_sent() => {
                    if Instant::now() >= give_up_at {
                        return Err(SubmitError::Unreachable {
                            source,
                            attempts: attempt,
                        });
                    }
                    let wait = retry::backoff(attempt);
                    http::log_retry(wait, &source.to_string(), attempt, None);
                    std::thread::sleep(wait);
                    attempt += 1;
                    continue;
                }
                Err(CallError::Transport(source)) => {
                    return Err(SubmitError::MaybeSent {
                        url: url.clone(),
                        source,
                    });
                }
                Err(CallError::Auth(e)) => return Err(e.into()),
            };
            match reply.status {
                200..=202 => {
                    let id = match self.api {
                        PhotoshopApi::Sensei => wire::sensei_job_id(&reply.body),
                        PhotoshopApi::V2 => wire::v2_job_id(&reply.body),
                    };
                    let id = id.ok_or_else(|| SubmitError::NoJobId {
                        status: reply.status,
                        request_id: reply.request_id.clone(),
                    })?;
                    let href = wire::status_href(&reply.body)
                        .and_then(|href| self.trusted_link(&href, &id));
                    tracing::info!(
                        target: "maskflow::photoshop",
                        job = %id,
                        attempt,
                        request_id = %reply.request_id.as_deref().unwrap_or("-"),
                        "job submitted"
                    );
                    return Ok(JobHandle {
                        id,
                        href,
                        accepted: Instant::now(),
                    });
                }
                429 if Instant::now() < give_up_at => {
                    let (wait, source) = self.retry_wait(&reply, attempt);
                    http::log_retry(
                        wait,
                        &format!("the submission answered 429 ({source}); every worker holds back"),
                        attempt,
                        reply.request_id.as_deref(),
                    );
                    // The limit is the organization's: every worker holds back, not just this one.
                    self.limiter.pause_until(Instant::now() + wait);
                    attempt += 1;
                }
                429 => {
                    return Err(SubmitError::RateLimited {
                        refusal: reply.refusal(),
                        attempts: attempt,
                    });
                }
                410 if self.api == PhotoshopApi::Sensei => {
                    return Err(SubmitError::Retired {
                        url: url.clone(),
                        refusal: reply.refusal(),
                    });
                }
                500..=599 => {
                    return Err(SubmitError::ServerError {
                        refusal: reply.refusal(),
                        attempt,
                    });
                }
                _ => {
                    return Err(SubmitError::Refused {
                        refusal: reply.refusal(),
                    });
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
        let _span = tracing::info_span!("job", id = %job.id).entered();
        let limits = &self.settings.limits;
        let deadline = Instant::now() + self.deadline();
        let url = self.status_url(&job.id, job.href.as_deref());
        let id = &job.id;
        let unfinished = || {
            tracing::info!(target: "maskflow::photoshop", "job not finished by its deadline");
            WaitError::unfinished(JobError::Deadline {
                id: id.clone(),
                deadline: seconds(limits.deadline_seconds),
            })
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
            match self.status_at(&url, failures + 1) {
                Ok((JobStatus::Succeeded { result_url }, service)) => {
                    tracing::info!(target: "maskflow::photoshop", "job succeeded");
                    self.schedule
                        .learn(schedule::latency_of(watch.age(), service));
                    drop(watch);
                    return self.collect(step, id, read, result_url.as_deref());
                }
                Ok((JobStatus::Failed(failure), _)) => {
                    tracing::info!(
                        target: "maskflow::photoshop",
                        code = %failure.code.as_deref().unwrap_or("-"),
                        "job failed"
                    );
                    return Err(WaitError::failed(JobError::Failed {
                        id: id.clone(),
                        failure,
                    }));
                }
                Ok((status, _)) => {
                    tracing::trace!(target: "maskflow::photoshop", status = %status.name(), "job not done");
                    failures = 0;
                }
                // The status limiter holds every status request back; submissions go on.
                Err(StatusError::Limited { .. }) => {}
                Err(source) if source.is_transient() => {
                    failures += 1;
                    if failures >= STATUS_FAILURES {
                        return Err(WaitError::unfinished(JobError::StatusUnreadable {
                            id: id.clone(),
                            source,
                            attempts: failures,
                        }));
                    }
                    let (wait, why) = match &source {
                        StatusError::Server {
                            wait: Some(wait), ..
                        } => (*wait, "Retry-After"),
                        _ => (retry::backoff(failures), "backoff"),
                    };
                    let request_id = match &source {
                        StatusError::Server { refusal, .. } => refusal.request_id.clone(),
                        _ => None,
                    };
                    http::log_retry(
                        wait,
                        &format!("{source} ({why})"),
                        failures,
                        request_id.as_deref(),
                    );
                    retry_at = Some(Instant::now() + wait);
                }
                Err(source) => {
                    return Err(WaitError::failed(JobError::Status {
                        id: id.clone(),
                        source,
                    }));
                }
            }
        }
    }

    /// One status request for job `job`, at `href` (the service's link) when maskflow may follow it.
    pub fn status(&self, job: &str, href: Option<&str>) -> Result<JobStatus, StatusError> {
        self.status_at(&self.status_url(job, href), 1)
            .map(|(status, _)| status)
    }

    /// One status request, through the status limiter; for a succeeded job, also how long the
    /// service says it took.
    fn status_at(
        &self,
        url: &str,
        attempt: u32,
    ) -> Result<(JobStatus, Option<Duration>), StatusError> {
        let reply = self
            .call(&self.status_limiter, |token| {
                http::Request::get(url)
                    .bearer(token)
                    .header("x-api-key", self.auth.client_id())
                    .attempt(attempt)
            })
            .map_err(|e| match e {
                CallError::Auth(e) => StatusError::Auth(e),
                CallError::Transport(e) => StatusError::Transport(e),
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
                let (wait, source) = self.retry_wait(&reply, 1);
                http::log_retry(
                    wait,
                    &format!(
                        "a status request answered 429 ({source}); every status request holds back"
                    ),
                    attempt,
                    reply.request_id.as_deref(),
                );
                self.status_limiter.pause_until(Instant::now() + wait);
                Err(StatusError::Limited {
                    wait,
                    refusal: reply.refusal(),
                })
            }
            500..=599 => Err(StatusError::Server {
                wait: reply
                    .retry_after
                    .as_deref()
                    .and_then(|v| retry::retry_after(v, SystemTime::now())),
                refusal: reply.refusal(),
            }),
            404 => Err(StatusError::UnknownJob {
                refusal: reply.refusal(),
            }),
            _ => Err(StatusError::Refused {
                refusal: reply.refusal(),
            }),
        }
    }

    fn collect(
        &self,
        step: &Step,
        job: &str,
        read: Option<&SecretUrl>,
        result_url: Option<&str>,
    ) -> Result<Rendered, WaitError> {
        let failed = WaitError::failed;
        let source = match self.api {
            PhotoshopApi::Sensei => read
                .cloned()
                .ok_or_else(|| failed(JobError::NeedsMaskUrl))?,
            PhotoshopApi::V2 => {
                let raw =
                    result_url.ok_or_else(|| failed(JobError::NoResult { id: job.to_owned() }))?;
                SecretUrl::parse(raw).map_err(|e| {
                    failed(JobError::BadResultUrl {
                        id: job.to_owned(),
                        reason: e.to_string(),
                    })
                })?
            }
        };
        let mut attempt = 1;
        let bytes = loop {
            match remote::fetch(&self.transfer_agent, &source, remote::MAX_DOWNLOAD_BYTES) {
                Ok(bytes) => break bytes,
                Err(e) if e.is_transient() && attempt < DOWNLOAD_ATTEMPTS => {
                    let wait = retry::backoff(attempt);
                    let request_id = match &e {
                        remote::RemoteError::Status { request_id, .. } => request_id.clone(),
                        _ => None,
                    };
                    http::log_retry(wait, &e.to_string(), attempt, request_id.as_deref());
                    std::thread::sleep(wait);
                    attempt += 1;
                }
                Err(source) => {
                    return Err(failed(JobError::Download {
                        id: job.to_owned(),
                        source,
                        attempts: attempt,
                    }));
                }
            }
        };
        // The service's mask has its input's size, which Adobe caps at 100 MP: the default
        // limit bounds what a broken or hostile endpoint can make us allocate.
        let shown = source.redacted();
        let unusable = |e: crate::engine::EngineError| {
            failed(JobError::Unusable {
                id: job.to_owned(),
                reason: e.to_string(),
            })
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
        let names_job = crate::percent::percent_decode(last).as_deref() == Some(job);
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

    /// How long to wait after `reply` (a 429), and where that came from.
    fn retry_wait(&self, reply: &Reply, attempt: u32) -> (Duration, &'static str) {
        match reply
            .retry_after
            .as_deref()
            .and_then(|v| retry::retry_after(v, SystemTime::now()))
        {
            Some(wait) => (wait, "Retry-After"),
            None => (retry::backoff(attempt), "backoff"),
        }
    }

    /// Sends an authorized request; on a 401, mints a fresh token and sends it once more.
    fn call<'u>(
        &self,
        limiter: &SubmitLimiter,
        request: impl Fn(&str) -> http::Request<'u>,
    ) -> Result<Reply, CallError> {
        let (reply, token) = self.send_counted(limiter, &request)?;
        if reply.status != 401 {
            return Ok(reply);
        }
        self.auth
            .rejected(&token, &reply.refusal())
            .map_err(CallError::Auth)?;
        let (reply, _) = self.send_counted(limiter, &request)?;
        if reply.status == 401 {
            return Err(CallError::Auth(AuthError::TokenRefused {
                refusal: reply.refusal(),
            }));
        }
        Ok(reply)
    }

    /// Sends through `limiter`, with the token taken once the request may go: a wait for the
    /// limiter (a 429 pause lasts seconds) must not outlive the token it would send. The slot
    /// is counted again from the answer, since the service counted the request somewhere
    /// between our sending it and its answer.
    fn send_counted<'u>(
        &self,
        limiter: &SubmitLimiter,
        request: &impl Fn(&str) -> http::Request<'u>,
    ) -> Result<(Reply, String), CallError> {
        let slot = limiter.acquire();
        let token = match self.auth.token(&self.api_agent) {
            Ok(token) => token,
            Err(e) => {
                limiter.settle(slot);
                return Err(CallError::Auth(e));
            }
        };
        let sent = self.api_agent.send(request(&token));
        limiter.settle(slot);
        let reply = read_reply(sent).map_err(CallError::Transport)?;
        Ok((reply, token))
    }
}

fn read_reply(result: Result<http::Response, TransportError>) -> Result<Reply, TransportError> {
    let response = result?;
    let status = response.status();
    let retry_after = response.header("retry-after").map(str::to_owned);
    let request_id = response.request_id().map(str::to_owned);
    let text = response.excerpt(1 << 20);
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Reply {
        status,
        retry_after,
        request_id,
        body,
    })
}

/// Seconds from a setting; out-of-range values saturate instead of panicking.
fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(value.max(0.0)).unwrap_or(Duration::MAX)
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
