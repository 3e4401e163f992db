//! Reading and writing objects over HTTP: remote inputs, masks written by a service, and the
//! hosted results of the v2 API. Bounded in size and time; never follows redirects (neither
//! does Adobe's service, so a URL that redirects would fail there too).

use std::time::Duration;

use crate::http;
use crate::redact::{SecretUrl, redact_text};

/// The largest object maskflow reads (inputs are at most 10k x 10k pixels for the API).
pub const MAX_DOWNLOAD_BYTES: u64 = 256 * 1024 * 1024;
/// Whole-request ceiling for one download or upload.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    #[error("GET {url} answered {status}{}{}", detail(body), quote_request_id(request_id.as_deref()))]
    Status {
        url: String,
        status: u16,
        body: String,
        request_id: Option<String>,
    },
    #[error("GET {url} redirects (HTTP {status}); give the final URL")]
    Redirect { url: String, status: u16 },
    #[error("{url} is larger than {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error(transparent)]
    Transport(#[from] http::TransportError),
    #[error("GET {url}: {source}")]
    Body {
        url: String,
        source: http::BodyError,
    },
    #[error("cannot keep the download of {url}: {reason}")]
    Local { url: String, reason: String },
}

impl RemoteError {
    pub fn hint(&self) -> Option<String> {
        match self {
            RemoteError::Status { status: 401 | 403, .. } => Some(
                "the URL refused access: a pre-signed URL may have expired, or its signature \
                 no longer matches"
                    .to_owned(),
            ),
            RemoteError::Status { status: 404, .. } => {
                Some("check the URL: nothing is there".to_owned())
            }
            RemoteError::Status { status, .. } if *status >= 500 => {
                Some("the server failed; try again later".to_owned())
            }
            RemoteError::TooLarge { .. } => Some(
                "maskflow reads inputs of at most 256 MiB; shrink the image or serve a smaller one"
                    .to_owned(),
            ),
            RemoteError::Transport(_) | RemoteError::Body { .. } => Some(
                "check the network and that the host answers; the download is tried again on the next run"
                    .to_owned(),
            ),
            _ => None,
        }
    }

    /// Whether trying again may help: no answer, or a server error.
    pub fn is_transient(&self) -> bool {
        match self {
            RemoteError::Transport(_) | RemoteError::Body { .. } => true,
            RemoteError::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// The message with its hint, for a report line.
    pub fn described(&self) -> String {
        crate::with_hint(self, self.hint())
    }
}

fn detail(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        String::new()
    } else {
        let short: String = body.chars().take(200).collect();
        format!(": {}", redact_text(&short))
    }
}

/// ` [request id X]`, to quote to the service's support.
pub fn quote_request_id(request_id: Option<&str>) -> String {
    request_id.map_or_else(String::new, |id| format!(" [request id {id}]"))
}

/// An HTTP client with maskflow's rules (see `http::Client`).
pub fn agent(timeout: Duration) -> http::Client {
    http::Client::new(timeout)
}

/// Downloads `url` to a temporary file (streamed, never whole in memory), refusing
/// anything over `limit` bytes. Returns the file, its size and its digest.
pub fn download(
    client: &http::Client,
    url: &SecretUrl,
    limit: u64,
) -> Result<(tempfile::NamedTempFile, u64, String), RemoteError> {
    let mut file = tempfile::NamedTempFile::new().map_err(|e| RemoteError::Local {
        url: url.redacted(),
        reason: format!(
            "cannot create a temporary file: {}",
            crate::fsutil::io_reason(&e)
        ),
    })?;
    let (size, digest) = stream(client, url, limit, &mut file)?;
    Ok((file, size, digest))
}

/// Streams what `url` serves into `sink`, refusing anything over `limit` bytes. Returns the
/// size and BLAKE3 digest; a body cut short is an error, never a short success.
pub fn download_into(
    client: &http::Client,
    url: &SecretUrl,
    limit: u64,
    sink: &mut dyn std::io::Write,
) -> Result<(u64, String), RemoteError> {
    stream(client, url, limit, sink)
}

/// The size and digest of what `url` serves, streamed through the hash.
pub fn digest(
    client: &http::Client,
    url: &SecretUrl,
    limit: u64,
) -> Result<(u64, String), RemoteError> {
    stream(client, url, limit, &mut std::io::sink())
}

fn stream(
    client: &http::Client,
    url: &SecretUrl,
    limit: u64,
    sink: &mut dyn std::io::Write,
) -> Result<(u64, String), RemoteError> {
    let response = get(client, url)?;
    let mut hasher = blake3::Hasher::new();
    let size = response
        .read_chunks(limit, |chunk| {
            hasher.update(chunk);
            sink.write_all(chunk)
        })
        .map_err(|e| body_error(url, limit, e))?;
    Ok((size, format!("blake3:{}", hasher.finalize().to_hex())))
}

/// A body that could not be read, as the remote input's error.
pub fn body_error(url: &SecretUrl, limit: u64, error: http::BodyError) -> RemoteError {
    let url = url.redacted();
    match error {
        http::BodyError::TooLarge { .. } => RemoteError::TooLarge { url, limit },
        http::BodyError::Write { reason } => RemoteError::Local { url, reason },
        source => RemoteError::Body { url, source },
    }
}

/// GETs `url`, turning redirects and non-2xx answers into errors.
fn get(client: &http::Client, url: &SecretUrl) -> Result<http::Response, RemoteError> {
    accepted(client.send(http::Request::get(url.expose()))?, url)
}

/// The response to a GET of `url`, or the error for a redirect or a non-2xx answer.
pub fn accepted(response: http::Response, url: &SecretUrl) -> Result<http::Response, RemoteError> {
    let status = response.status();
    if (300..400).contains(&status) {
        return Err(RemoteError::Redirect {
            url: url.redacted(),
            status,
        });
    }
    if !response.is_success() {
        let request_id = response.request_id().map(str::to_owned);
        return Err(RemoteError::Status {
            url: url.redacted(),
            status,
            body: response.excerpt(4096),
            request_id,
        });
    }
    Ok(response)
}

/// Downloads `url` into memory, refusing anything over `limit` bytes.
pub fn fetch(client: &http::Client, url: &SecretUrl, limit: u64) -> Result<Vec<u8>, RemoteError> {
    get(client, url)?
        .bytes(limit)
        .map_err(|e| body_error(url, limit, e))
}
