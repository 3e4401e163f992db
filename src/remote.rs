//! Reading and writing objects over HTTP: remote inputs, masks written by a service, and the
//! hosted results of the v2 API. Bounded in size and time; never follows redirects (neither
//! does Adobe's service, so a URL that redirects would fail there too).

use std::time::Duration;

use crate::redact::{SecretUrl, redact_text};

/// The largest object maskflow reads (inputs are at most 10k x 10k pixels for the API).
pub const MAX_DOWNLOAD_BYTES: u64 = 256 * 1024 * 1024;
/// Whole-request ceiling for one download or upload.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("GET {url} answered {status}{}", detail(body))]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("GET {url} redirects (HTTP {status}); give the final URL")]
    Redirect { url: String, status: u16 },
    #[error("{url} is larger than {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("cannot reach {url}: {message}")]
    Transport { url: String, message: String },
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

/// An HTTP agent with maskflow's rules: no redirects, HTTP errors as values, a timeout.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_redirects(0)
        .max_redirects_will_error(false)
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .user_agent(concat!("maskflow/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// Downloads `url` to a temporary file (streamed, never whole in memory), refusing
/// anything over `limit` bytes. Returns the file, its size and its digest.
pub fn download(
    agent: &ureq::Agent,
    url: &SecretUrl,
    limit: u64,
) -> Result<(tempfile::NamedTempFile, u64, String), RemoteError> {
    let mut file = tempfile::NamedTempFile::new().map_err(|e| RemoteError::Transport {
        url: url.redacted(),
        message: format!(
            "cannot create a temporary file: {}",
            crate::fsutil::io_reason(&e)
        ),
    })?;
    let (size, digest) = stream(agent, url, limit, &mut file)?;
    Ok((file, size, digest))
}

/// Streams what `url` serves into `sink`, refusing anything over `limit` bytes. Returns the
/// size and BLAKE3 digest; a body cut short is an error, never a short success.
pub fn download_into(
    agent: &ureq::Agent,
    url: &SecretUrl,
    limit: u64,
    sink: &mut dyn std::io::Write,
) -> Result<(u64, String), RemoteError> {
    stream(agent, url, limit, sink)
}

/// The size and digest of what `url` serves, streamed through the hash.
pub fn digest(
    agent: &ureq::Agent,
    url: &SecretUrl,
    limit: u64,
) -> Result<(u64, String), RemoteError> {
    stream(agent, url, limit, &mut std::io::sink())
}

fn stream(
    agent: &ureq::Agent,
    url: &SecretUrl,
    limit: u64,
    sink: &mut dyn std::io::Write,
) -> Result<(u64, String), RemoteError> {
    let shown = url.redacted();
    let mut response = get(agent, url)?;
    let mut reader = response.body_mut().with_config().limit(limit).reader();
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = match std::io::Read::read(&mut reader, &mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.to_string().contains("limit") => {
                return Err(RemoteError::TooLarge { url: shown, limit });
            }
            Err(e) => {
                return Err(RemoteError::Transport {
                    url: shown,
                    message: redact_text(&e.to_string()),
                });
            }
        };
        hasher.update(&buffer[..n]);
        sink.write_all(&buffer[..n])
            .map_err(|e| RemoteError::Transport {
                url: shown.clone(),
                message: format!("cannot write the download: {e}"),
            })?;
        size += n as u64;
    }
    Ok((size, format!("blake3:{}", hasher.finalize().to_hex())))
}

/// GETs `url`, turning redirects and non-2xx answers into errors.
fn get(
    agent: &ureq::Agent,
    url: &SecretUrl,
) -> Result<ureq::http::Response<ureq::Body>, RemoteError> {
    let shown = url.redacted();
    let mut response = agent
        .get(url.expose())
        .call()
        .map_err(|e| RemoteError::Transport {
            url: shown.clone(),
            message: redact_text(&e.to_string()),
        })?;
    let status = response.status().as_u16();
    if (300..400).contains(&status) {
        return Err(RemoteError::Redirect { url: shown, status });
    }
    if !(200..300).contains(&status) {
        return Err(RemoteError::Status {
            url: shown,
            status,
            body: error_body(&mut response),
        });
    }
    Ok(response)
}

/// The start of an error response's body (S3 and friends explain themselves there).
pub fn error_body(response: &mut ureq::http::Response<ureq::Body>) -> String {
    response
        .body_mut()
        .with_config()
        .limit(4096)
        .read_to_string()
        .unwrap_or_default()
}

/// Downloads `url` into memory, refusing anything over `limit` bytes.
pub fn fetch(agent: &ureq::Agent, url: &SecretUrl, limit: u64) -> Result<Vec<u8>, RemoteError> {
    let shown = url.redacted();
    let transport = |e: ureq::Error| RemoteError::Transport {
        url: shown.clone(),
        message: redact_text(&e.to_string()),
    };
    let mut response = get(agent, url)?;
    response
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => RemoteError::TooLarge {
                url: shown.clone(),
                limit,
            },
            e => transport(e),
        })
}
