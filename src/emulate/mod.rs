//! `maskflow emulate`: a local server speaking the Photoshop API's wire contract (IMS token,
//! `/sensei/mask`, `/v2/remove-background` and their status routes), backed by the local
//! engine. It exists so that a pipeline can be tried for free and so that the `photoshop`
//! engine can be tested over real HTTP, including the unpleasant parts: rate limits,
//! expiring tokens, 5xx faults and failed jobs. See `../shared/contract/` §8.

pub mod auth;
pub mod duration;
pub mod http;
pub mod jobs;
pub mod limits;
pub mod routes;
mod server;
pub mod validate;
mod wire;

use std::time::Duration;

pub use duration::Latency;
pub use server::{HEADER_TIMEOUT, IDLE_TIMEOUT, Running, start};

/// How `Retry-After` is sent on 429s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RetryAfter {
    /// Whole seconds until a slot frees, rounded up.
    Seconds,
    /// An HTTP-date.
    Date,
    /// No header, to exercise clients' own backoff.
    None,
}

/// Routes that fault injection (`--error-rate`) applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FaultRoute {
    /// POST /ims/token/v3
    Token,
    /// POST /sensei/mask and /v2/remove-background
    Submit,
    /// GET /sensei/status/{id} and /v2/status/{id}
    Status,
    /// GET /v2/results/{id}.png
    Result,
}

/// The shape of `errors` in a failed sensei status body (sources disagree; contract §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ErrorsAs {
    /// `{type, code, title, details: [{name, reason}]}` (2025 spec).
    Object,
    /// `[{type, code, title, details}]` (cis schema).
    Array,
    /// `{type, code, title, errorDetails: [{name, reason}]}` (old reference, SDK tests and spec).
    ErrorDetails,
}

/// The job id field of sensei status bodies (`jobID` in examples, `jobId` in the spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JobIdField {
    #[value(name = "jobID")]
    JobUpperId,
    #[value(name = "jobId")]
    JobId,
}

impl JobIdField {
    pub fn as_str(self) -> &'static str {
        match self {
            JobIdField::JobUpperId => "jobID",
            JobIdField::JobId => "jobId",
        }
    }
}

/// Everything the emulator can be told.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub latency: Latency,
    pub client_id: String,
    pub client_secret: String,
    pub token_lifetime: Duration,
    pub submit_limit: usize,
    pub submit_window: Duration,
    /// Status requests allowed per `status_window`, organization-wide (Adobe: 1,000 per 3 s).
    pub status_limit: usize,
    pub status_window: Duration,
    /// Status routes (and the links to them) live under this path only, like a service whose
    /// status links are not where a client would build them: `/a/b`, or empty.
    pub status_prefix: String,
    pub retry_after: RetryAfter,
    pub error_rate: f64,
    pub error_routes: Vec<FaultRoute>,
    pub fail_jobs: f64,
    pub fail_inputs_matching: Option<String>,
    pub retired: bool,
    pub errors_as: ErrorsAs,
    pub job_id_field: JobIdField,
    pub seed: Option<u64>,
    pub workers: usize,
    /// Inputs with more pixels fail before they are decoded.
    pub max_pixels: u64,
    /// Largest request head (request line and headers) read; larger ones get 431.
    pub max_header_bytes: usize,
    /// Connections served at once, one thread each; more get 503.
    pub max_connections: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 0,
            latency: Latency::fixed(Duration::from_secs(1)),
            client_id: "maskflow-emulator".to_owned(),
            client_secret: auth::random_secret(),
            token_lifetime: Duration::from_secs(86399),
            submit_limit: 3,
            submit_window: Duration::from_secs(3),
            status_limit: 1000,
            status_window: Duration::from_secs(3),
            status_prefix: String::new(),
            retry_after: RetryAfter::Seconds,
            error_rate: 0.0,
            error_routes: vec![
                FaultRoute::Token,
                FaultRoute::Submit,
                FaultRoute::Status,
                FaultRoute::Result,
            ],
            fail_jobs: 0.0,
            fail_inputs_matching: None,
            retired: false,
            errors_as: ErrorsAs::Object,
            job_id_field: JobIdField::JobUpperId,
            seed: None,
            workers: 2,
            max_pixels: crate::engine::DEFAULT_MAX_PIXELS,
            max_header_bytes: 64 * 1024,
            max_connections: 256,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EmulateError {
    #[error("cannot listen on {address}: {message}")]
    Bind { address: String, message: String },
    #[error("{flag} must be between 0 and 1, not {value}")]
    Fraction { flag: &'static str, value: f64 },
}

impl EmulateError {
    pub fn hint(&self) -> Option<String> {
        match self {
            EmulateError::Bind { .. } => {
                Some("pick another --port, or --port 0 for any free one".to_owned())
            }
            EmulateError::Fraction { .. } => Some("e.g. 0.1 for one request in ten".to_owned()),
        }
    }
}

impl Config {
    pub fn check(&self) -> Result<(), EmulateError> {
        for (flag, value) in [
            ("--error-rate", self.error_rate),
            ("--fail-jobs", self.fail_jobs),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(EmulateError::Fraction { flag, value });
            }
        }
        Ok(())
    }
}
