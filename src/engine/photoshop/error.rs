//! Why a call to the Photoshop API or IMS did not give what was asked, with what the service
//! said: its HTTP status, its error code, its message and its request id (to quote to Adobe
//! support), and how many attempts were made. Hints come from the variant and the code.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use super::wire;
use crate::http::TransportError;
use crate::remote::{RemoteError, quote_request_id};

/// A service's answer other than the one hoped for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    /// The service's error code (`type`, `error_code`, `errorCode` or OAuth's `error`).
    pub code: Option<String>,
    /// Its explanation, URLs redacted.
    pub message: Option<String>,
    pub request_id: Option<String>,
}

impl Refusal {
    pub fn new(status: u16, body: &Value, request_id: Option<&str>) -> Self {
        Self {
            status,
            code: wire::error_code(body),
            message: wire::error_message(body),
            request_id: request_id.map(str::to_owned),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        } else if let Some(code) = &self.code {
            write!(f, ": {code}")?;
        }
        f.write_str(&quote_request_id(self.request_id.as_deref()))
    }
}

/// Why no access token could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error(
        "the access token was refused{} and no client secret is set to mint a new one",
        refusal.as_ref().map_or_else(String::new, |r| format!(" ({r})"))
    )]
    NoSecret { refusal: Option<Refusal> },
    #[error("IMS refused the client credentials ({refusal})")]
    Refused { refusal: Refusal },
    #[error("IMS answered {refusal}, {attempts} times")]
    Unavailable { refusal: Refusal, attempts: u32 },
    #[error("{source}, {attempts} times")]
    Unreachable {
        source: TransportError,
        attempts: u32,
    },
    #[error("IMS answered 200 without an access_token{}", quote_request_id(request_id.as_deref()))]
    NoToken { request_id: Option<String> },
    #[error("the API refused a freshly minted access token ({refusal})")]
    TokenRefused { refusal: Refusal },
}

impl AuthError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            AuthError::NoSecret { .. } => {
                "set the client secret variable (PHOTOSHOP_CLIENT_SECRET by \
                 default) so that maskflow can mint tokens, or a fresh access token"
                    .to_owned()
            }
            AuthError::Refused { .. } => "check the client id and secret: they are the OAuth \
                 Server-to-Server credential of the project in Adobe Developer Console"
                .to_owned(),
            AuthError::Unavailable { .. } | AuthError::Unreachable { .. } => {
                "IMS did not answer; check `photoshop.ims` and the network, then rerun".to_owned()
            }
            AuthError::NoToken { .. } => return None,
            AuthError::TokenRefused { .. } => "check `photoshop.scopes` and that the project has \
                 the Photoshop API added"
                .to_owned(),
        })
    }
}

/// Why a job was not submitted, or may not have been.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    #[error("the sensei API needs `mask_url`")]
    NeedsMaskUrl,
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(
        "the submission to {url} may or may not have reached the service ({source}); maskflow \
         does not resend it blindly, since that could start a second paid job"
    )]
    MaybeSent { url: String, source: TransportError },
    #[error("cannot reach the service after {attempts} attempts: {source}")]
    Unreachable {
        source: TransportError,
        attempts: u32,
    },
    #[error(
        "the service answered {refusal} to the submission; it may have started a job anyway, so \
         maskflow does not resend it blindly"
    )]
    ServerError { refusal: Refusal, attempt: u32 },
    #[error("{url} is retired ({refusal})")]
    Retired { url: String, refusal: Refusal },
    #[error("the service still answered 429 after {attempts} attempts ({refusal})")]
    RateLimited { refusal: Refusal, attempts: u32 },
    #[error("the service refused the submission ({refusal})")]
    Refused { refusal: Refusal },
    #[error(
        "the service accepted the job (HTTP {status}) but named no job id{}",
        quote_request_id(request_id.as_deref())
    )]
    NoJobId {
        status: u16,
        request_id: Option<String>,
    },
}

impl SubmitError {
    pub fn hint(&self) -> Option<String> {
        match self {
            SubmitError::NeedsMaskUrl => {
                Some("set `mask_url`, or `storage.staging` for maskflow to make one".to_owned())
            }
            SubmitError::Auth(e) => e.hint(),
            SubmitError::MaybeSent { .. } | SubmitError::ServerError { .. } => {
                Some("rerun to submit again".to_owned())
            }
            SubmitError::Unreachable { .. } => {
                Some("check `photoshop.endpoint` and the network".to_owned())
            }
            SubmitError::Retired { .. } => {
                Some("set `photoshop: {api: v2}` to use /v2/remove-background".to_owned())
            }
            SubmitError::RateLimited { .. } => Some(
                "other clients of the organization use its rate limit too: lower \
                 `photoshop.limits.submits`, or raise `photoshop.limits.deadline_seconds`"
                    .to_owned(),
            ),
            SubmitError::Refused { refusal } => match refusal.status {
                403 => Some(
                    "the client id is the API key: check it, and that the project has the \
                     Photoshop API"
                        .to_owned(),
                ),
                400 | 422 => Some(
                    "the service found the request invalid; the input and mask URLs must be \
                     https:// URLs it can reach"
                        .to_owned(),
                ),
                _ => None,
            },
            SubmitError::NoJobId { .. } => None,
        }
    }
}

/// Why a status request gave no status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    /// A 5xx: tried again after `wait` (the service's `Retry-After`) or a backoff.
    #[error("status answered {refusal}")]
    Server {
        refusal: Refusal,
        wait: Option<Duration>,
    },
    /// No answer: tried again.
    #[error(transparent)]
    Transport(TransportError),
    /// A 429: every status request waits `wait`.
    #[error("status answered {refusal}")]
    Limited { refusal: Refusal, wait: Duration },
    #[error("the service does not know this job ({refusal})")]
    UnknownJob { refusal: Refusal },
    #[error("status answered {refusal}")]
    Refused { refusal: Refusal },
    #[error(transparent)]
    Auth(AuthError),
}

impl StatusError {
    /// Whether asking again later may help.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StatusError::Server { .. } | StatusError::Transport(_) | StatusError::Limited { .. }
        )
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            StatusError::Auth(e) => e.hint(),
            StatusError::UnknownJob { .. } => Some(
                "the job may have expired at the service, or the endpoint changed; `--force` \
                 submits it again"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

/// Why a job submitted earlier gave no mask.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    #[error(
        "job {id} did not finish within {} s; it stays recorded as in flight and the next run \
         resumes it",
        deadline.as_secs_f64()
    )]
    Deadline { id: String, deadline: Duration },
    #[error(
        "cannot read the status of job {id} ({source}, {attempts} times); it stays recorded as in \
         flight and the next run resumes it"
    )]
    StatusUnreadable {
        id: String,
        source: StatusError,
        attempts: u32,
    },
    #[error("job {id}: {source}")]
    Status { id: String, source: StatusError },
    #[error("job {id} failed: {failure}")]
    Failed {
        id: String,
        failure: wire::JobFailure,
    },
    #[error("the sensei API needs `mask_url`")]
    NeedsMaskUrl,
    #[error("job {id} succeeded without a result URL")]
    NoResult { id: String },
    #[error("job {id} gave an invalid result URL: {reason}")]
    BadResultUrl { id: String, reason: String },
    #[error("job {id} succeeded, but its mask cannot be read ({attempts} attempts): {source}")]
    Download {
        id: String,
        source: RemoteError,
        attempts: u32,
    },
    #[error("job {id} succeeded, but its mask cannot be used: {reason}")]
    Unusable { id: String, reason: String },
}

impl JobError {
    pub fn hint(&self) -> Option<String> {
        match self {
            JobError::Failed { failure, .. } => failure.hint(),
            JobError::Status { source, .. } => source.hint(),
            JobError::Download { source, .. } => source.hint(),
            _ => None,
        }
    }

    /// The message with its hint, for a report line.
    pub fn described(&self) -> String {
        crate::with_hint(self, self.hint())
    }
}

impl SubmitError {
    /// The message with its hint, for a report line.
    pub fn described(&self) -> String {
        crate::with_hint(self, self.hint())
    }
}
