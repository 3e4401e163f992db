//! The one HTTP client. Every request maskflow sends (IMS tokens, the Photoshop API, remote
//! inputs and results, staging uploads) goes through `Client::send`, which logs each exchange
//! at debug: method, URL without its query, status, elapsed time, attempt and the service's
//! request id. The transport (ureq today) stays behind this module: callers see only
//! `Request`, `Response` and `TransportError`.

use std::io::Read;
use std::time::{Duration, Instant};

use crate::redact::{redact_text, shown_url};

/// Headers in which services name a request for their support desks: Adobe (and most
/// gateways), S3, Azure Blob, Google Cloud Storage.
const REQUEST_ID_HEADERS: [&str; 5] = [
    "x-request-id",
    "x-amz-request-id",
    "x-ms-request-id",
    "x-goog-request-id",
    "x-guploader-uploadid",
];

/// Longest request id kept: a hostile service must not fill the logs through it.
const MAX_REQUEST_ID: usize = 128;

/// An HTTP client with maskflow's rules: no redirects (neither does Adobe's service follow
/// them), HTTP errors as values, a whole-request timeout.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One request. The URL is the real one, credentials included; it is only ever shown
/// without its query.
pub struct Request<'a> {
    method: Method,
    url: &'a str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    attempt: u32,
}

impl<'a> Request<'a> {
    pub fn new(method: Method, url: &'a str) -> Self {
        Self {
            method,
            url,
            headers: Vec::new(),
            body: Vec::new(),
            attempt: 1,
        }
    }

    pub fn get(url: &'a str) -> Self {
        Self::new(Method::Get, url)
    }

    pub fn post(url: &'a str) -> Self {
        Self::new(Method::Post, url)
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("Authorization", format!("Bearer {token}"))
    }

    pub fn json(mut self, body: &serde_json::Value) -> Self {
        self.body = body.to_string().into_bytes();
        self.header("Content-Type", "application/json")
    }

    pub fn form(mut self, fields: &[(&str, &str)]) -> Self {
        self.body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish()
            .into_bytes();
        self.header("Content-Type", "application/x-www-form-urlencoded")
    }

    pub fn bytes(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    /// Which try this is (1 for the first), for the log.
    pub fn attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt.max(1);
        self
    }
}

/// Why no answer came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The request never left: unknown host, connection refused. Safe to send again.
    NotSent,
    /// No answer in time; the request may have reached the server.
    TimedOut,
    /// The connection broke; the request may have reached the server.
    Broken,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe_failure(self))]
pub struct TransportError {
    pub method: Method,
    /// Without its query.
    pub url: String,
    pub failure: Failure,
    pub reason: String,
    pub attempt: u32,
}

fn describe_failure(e: &TransportError) -> String {
    let TransportError {
        method,
        url,
        reason,
        ..
    } = e;
    match e.failure {
        Failure::NotSent => format!("cannot reach {url}: {reason}"),
        Failure::TimedOut => format!("{method} {url} got no answer in time: {reason}"),
        Failure::Broken => format!("{method} {url} broke off: {reason}"),
    }
}

impl TransportError {
    /// Whether the request certainly never reached the server.
    pub fn not_sent(&self) -> bool {
        self.failure == Failure::NotSent
    }
}

/// Why a response body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the body broke off: {reason}")]
    Read { reason: String },
    #[error("cannot keep the body: {reason}")]
    Write { reason: String },
}

pub struct Response {
    status: u16,
    request_id: Option<String>,
    inner: ureq::http::Response<ureq::Body>,
}

impl Client {
    pub fn new(timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .max_redirects_will_error(false)
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .user_agent(concat!("maskflow/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self { agent }
    }

    /// Sends `request` and logs the exchange at debug (target `maskflow::http`).
    pub fn send(&self, request: Request<'_>) -> Result<Response, TransportError> {
        let Request {
            method,
            url,
            headers,
            body,
            attempt,
        } = request;
        let shown = shown_url(url);
        let mut builder = ureq::http::Request::builder()
            .method(method.as_str())
            .uri(url);
        for (name, value) in &headers {
            builder = builder.header(*name, value);
        }
        let failed = |failure, reason: String| TransportError {
            method,
            url: shown.clone(),
            failure,
            reason: redact_text(&reason),
            attempt,
        };
        let built = builder
            .body(body)
            .map_err(|e| failed(Failure::NotSent, format!("not a valid request: {e}")))?;
        let sent = Instant::now();
        let result = if method == Method::Get || method == Method::Head {
            let (parts, _) = built.into_parts();
            self.agent.run(ureq::http::Request::from_parts(parts, ()))
        } else {
            self.agent.run(built)
        };
        let elapsed_ms = sent.elapsed().as_millis() as u64;
        match result {
            Ok(inner) => {
                let status = inner.status().as_u16();
                let request_id = request_id(inner.headers());
                tracing::debug!(
                    target: "maskflow::http",
                    method = %method,
                    url = %shown,
                    status,
                    elapsed_ms,
                    attempt,
                    request_id = %request_id.as_deref().unwrap_or("-"),
                    "{method} {shown} answered {status}"
                );
                Ok(Response {
                    status,
                    request_id,
                    inner,
                })
            }
            Err(e) => {
                let failure = match &e {
                    ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => Failure::NotSent,
                    ureq::Error::Timeout(_) => Failure::TimedOut,
                    _ => Failure::Broken,
                };
                let error = failed(failure, e.to_string());
                tracing::debug!(
                    target: "maskflow::http",
                    method = %method,
                    url = %shown,
                    elapsed_ms,
                    attempt,
                    error = %error.reason,
                    "{method} {shown} failed"
                );
                Err(error)
            }
        }
    }
}

fn request_id(headers: &ureq::http::HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS.iter().find_map(|name| {
        let value = headers.get(*name)?.to_str().ok()?.trim();
        let kept: String = value
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(MAX_REQUEST_ID)
            .collect();
        (!kept.is_empty()).then_some(kept)
    })
}

/// Logs the wait chosen before trying again, with its reason (target `maskflow::http`).
pub fn log_retry(wait: Duration, reason: &str, attempt: u32, request_id: Option<&str>) {
    tracing::debug!(
        target: "maskflow::http",
        wait_ms = wait.as_millis() as u64,
        attempt,
        request_id = %request_id.unwrap_or("-"),
        reason = %reason,
        "waiting {:.1} s before attempt {}: {reason}",
        wait.as_secs_f64(),
        attempt + 1
    );
}

impl Response {
    pub fn status(&self) -> u16 {
        self.status
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The service's id for this request, to quote to its support.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.inner.headers().get(name)?.to_str().ok()
    }

    /// Reads the body in chunks, handing each to `each`; more than `limit` bytes is an error,
    /// whatever the response announced.
    pub fn read_chunks(
        self,
        limit: u64,
        mut each: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<u64, BodyError> {
        let mut reader = self.inner.into_body().into_reader();
        let mut buffer = vec![0; 64 * 1024];
        let mut size = 0u64;
        loop {
            let n = match reader.read(&mut buffer) {
                Ok(0) => return Ok(size),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(BodyError::Read {
                        reason: redact_text(&e.to_string()),
                    });
                }
            };
            size += n as u64;
            if size > limit {
                return Err(BodyError::TooLarge { limit });
            }
            each(&buffer[..n]).map_err(|e| BodyError::Write {
                reason: e.to_string(),
            })?;
        }
    }

    /// The whole body, at most `limit` bytes.
    pub fn bytes(self, limit: u64) -> Result<Vec<u8>, BodyError> {
        let mut out = Vec::new();
        self.read_chunks(limit, |chunk| {
            out.extend_from_slice(chunk);
            Ok(())
        })?;
        Ok(out)
    }

    /// The start of the body (at most `limit` bytes) as text, for error messages and JSON
    /// answers; what cannot be read is left out.
    pub fn excerpt(self, limit: u64) -> String {
        let mut out = Vec::new();
        let _ = self
            .inner
            .into_body()
            .into_reader()
            .take(limit)
            .read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_read_from_any_service_header_and_bounded() {
        let mut headers = ureq::http::HeaderMap::new();
        assert_eq!(request_id(&headers), None);
        headers.insert("x-amz-request-id", "4442587FB7D0A2F9".parse().unwrap());
        assert_eq!(request_id(&headers).as_deref(), Some("4442587FB7D0A2F9"));
        headers.insert("x-request-id", "a b\tc".repeat(100).parse().unwrap());
        let id = request_id(&headers).unwrap();
        assert_eq!(id.len(), MAX_REQUEST_ID);
        assert!(id.starts_with("abca"), "{id}");
    }
}
