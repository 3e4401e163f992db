//! The `photoshop` engine: Adobe's Photoshop API, `sensei` or `v2`. A job is submitted (through
//! the organization-wide rate limit), then polled until it ends, then its mask is collected.
//! Submissions are never blindly resent: a resend after a timeout or 5xx can start a second
//! paid job. Status requests are idempotent and are retried.

mod auth;
mod limiter;
mod retry;
mod wire;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use image::GrayImage;
use serde_json::Value;

pub use auth::{CredentialError, Credentials};
pub use wire::JobStatus;

use crate::manifest::{MaskMode, PhotoshopApi, PhotoshopSettings, Step};
use crate::redact::{SecretUrl, redact_text};
use crate::remote;
use auth::Auth;
use limiter::SubmitLimiter;

/// API requests other than downloads finish within this, or count as a network failure.
const API_TIMEOUT: Duration = Duration::from_secs(60);
/// Consecutive failed status requests tolerated before a job is given up for this run.
const STATUS_FAILURES: u32 = 8;
/// Attempts at a download of a finished mask.
const DOWNLOAD_ATTEMPTS: u32 = 4;

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

impl Photoshop {
    pub fn new(settings: &PhotoshopSettings, credentials: Credentials) -> Self {
        let limits = &settings.limits;
        Self {
            api: settings.api,
            endpoint: settings.endpoint.trim_end_matches('/').to_owned(),
            settings: settings.clone(),
            auth: Auth::new(&settings.ims, &settings.scopes, credentials),
            limiter: SubmitLimiter::new(
                limits.submits,
                Duration::from_secs_f64(limits.window_seconds.max(0.001)),
            ),
            api_agent: remote::agent(API_TIMEOUT),
            transfer_agent: remote::agent(remote::TRANSFER_TIMEOUT),
        }
    }

    /// Tokens minted since the last call, so CI logs can mask them.
    pub fn take_minted_tokens(&self) -> Vec<String> {
        self.auth.take_minted()
    }

    /// Submits one job and returns its id. Retries only what cannot have started a job: 429s
    /// (after `Retry-After`) and connections that never opened.
    /// `output` is where a `sensei` job writes the mask.
    pub fn submit(
        &self,
        step: &Step,
        input: &SecretUrl,
        output: Option<&SecretUrl>,
    ) -> Result<String, String> {
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
                (format!("{}/sensei/mask", self.endpoint), body)
            }
            PhotoshopApi::V2 => (
                format!("{}/v2/remove-background", self.endpoint),
                wire::v2_body(input),
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
                    return id.ok_or_else(|| {
                        format!(
                            "the service accepted the job ({}) but named no job id",
                            reply.status
                        )
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

    /// Polls job `job` until it ends or its deadline passes, then collects the mask (for
    /// `sensei`, from `read`).
    pub fn wait(
        &self,
        step: &Step,
        job: &str,
        read: Option<&SecretUrl>,
    ) -> Result<GrayImage, WaitError> {
        let limits = &self.settings.limits;
        let deadline = Instant::now() + self.deadline();
        let ceiling = Duration::from_secs_f64(limits.poll_max_seconds.max(0.0));
        let mut interval = Duration::from_secs_f64(limits.poll_initial_seconds.max(0.0));
        let mut failures = 0;
        loop {
            if Instant::now() + interval > deadline {
                return Err(WaitError::Unfinished(format!(
                    "job {job} did not finish within {} s; it stays recorded as in flight and the next run resumes it",
                    limits.deadline_seconds
                )));
            }
            std::thread::sleep(interval);
            match self.status(job) {
                Ok(JobStatus::Succeeded { result_url }) => {
                    return self.collect(step, job, read, result_url.as_deref());
                }
                Ok(JobStatus::Failed { message }) => {
                    return Err(WaitError::Failed(format!("job {job} failed: {message}")));
                }
                Ok(_) => {
                    failures = 0;
                    interval = interval
                        .mul_f64(1.5)
                        .min(ceiling)
                        .max(Duration::from_millis(50));
                }
                Err(StatusError::Retry { wait, message }) => {
                    failures += 1;
                    if failures >= STATUS_FAILURES {
                        return Err(WaitError::Unfinished(format!(
                            "cannot read the status of job {job} ({message}); it stays recorded as in flight and the next run resumes it"
                        )));
                    }
                    interval = wait.unwrap_or_else(|| retry::backoff(failures));
                }
                Err(StatusError::Fatal(message)) => {
                    return Err(WaitError::Failed(format!("job {job}: {message}")));
                }
            }
        }
    }

    /// One status request.
    pub fn status(&self, job: &str) -> Result<JobStatus, StatusError> {
        let url = self.status_url(job);
        let reply = self
            .call(|agent, token| {
                agent
                    .get(&url)
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
            200..=299 => Ok(wire::parse_status(&reply.body)),
            429 | 500..=599 => Err(StatusError::Retry {
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
    ) -> Result<GrayImage, WaitError> {
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
        let mask = crate::engine::decode_gray(
            std::path::Path::new(&shown),
            &bytes,
            crate::engine::DecodeLimits::default(),
        )
        .map_err(|e| {
            WaitError::Failed(format!(
                "job {job} succeeded, but its mask cannot be used: {e}"
            ))
        })?;
        Ok(crate::engine::finish_mask(mask, step.mask))
    }

    fn status_url(&self, job: &str) -> String {
        let id: String = url::form_urlencoded::byte_serialize(job.as_bytes()).collect();
        match self.api {
            PhotoshopApi::Sensei => format!("{}/sensei/status/{id}", self.endpoint),
            PhotoshopApi::V2 => format!("{}/v2/status/{id}", self.endpoint),
        }
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
    Fatal(String),
}

impl std::fmt::Display for StatusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusError::Retry { message, .. } | StatusError::Fatal(message) => {
                f.write_str(message)
            }
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
