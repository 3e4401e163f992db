//! The one HTTP client. Every request maskflow sends (IMS tokens, the Photoshop API, remote
//! inputs and results, staging uploads, model downloads, the emulator's own fetches) goes
//! through `Client::send`, which logs each exchange at debug: method, URL without its query,
//! status, elapsed time, attempt and the service's request id. The transport (reqwest) stays
//! behind this module: callers see only `Request`, `Response` and `TransportError`.
//!
//! # Async reqwest on one runtime, called synchronously
//!
//! maskflow is synchronous: the photoshop engine keeps many jobs in flight from worker threads
//! that each block on their own calls, and its flight, limiter and scheduler wait with
//! condvars and sleeps. Each call here runs its future with `block_on` on one process-wide
//! multi-thread tokio runtime: the calling worker blocks only itself, exactly as before, while
//! the runtime's few threads drive every socket and timer, with one connection pool for all
//! workers. So the engine's concurrency is still what its worker pool makes it, and nothing
//! about it changes.
//!
//! `reqwest::blocking` would do the same with a hidden runtime thread per client (and
//! `remote::agent` makes a client per use), and it panics when called from async code. Here
//! a call from inside a multi-thread runtime (object_store's, say) steps out of it with
//! `block_in_place`, and async code can share the runtime itself through [`runtime`].

use std::future::Future;
use std::sync::OnceLock;
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

/// Longest wait for a TCP connection and TLS handshake; a failure here certainly sent nothing.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an idle connection stays pooled: shorter than servers keep them (the emulator:
/// 20 s, many load balancers: 60 s), so that we, not they, close it, and a request never
/// races the server's close (which would leave a submission "maybe sent").
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(15);

/// An HTTP client with maskflow's rules: no redirects (neither does Adobe's service follow
/// them, and so no credential ever goes to a host it was not meant for), HTTP errors as
/// values, a whole-request timeout that covers the body. Cheap to make: every client shares
/// the process's runtime and connection pool.
#[derive(Clone)]
pub struct Client {
    timeout: Duration,
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
    inner: reqwest::Response,
}

/// Why the HTTP runtime could not start (no threads or no event queue to be had).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot start the HTTP runtime: {reason}")]
pub struct RuntimeError {
    pub reason: String,
}

/// The process's tokio runtime, which drives every HTTP exchange. Async code (object_store)
/// can run on it too, so the program has one runtime and one set of I/O threads.
pub fn runtime() -> Result<&'static tokio::runtime::Runtime, RuntimeError> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, RuntimeError>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
            tokio::runtime::Builder::new_multi_thread()
                // Callers block their own threads; these only move bytes and run TLS.
                .worker_threads(cores.clamp(1, 4))
                .thread_name("maskflow-http")
                .enable_all()
                .build()
                .map_err(|e| RuntimeError {
                    reason: e.to_string(),
                })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Runs `future` to completion on the shared runtime, blocking the calling thread.
pub(crate) fn block_on<F: Future>(runtime: &tokio::runtime::Runtime, future: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        // Called from async code: hand this worker's other tasks to another thread while
        // it blocks (a plain `block_on` here would panic).
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| runtime.block_on(future))
        }
        _ => runtime.block_on(future),
    }
}

/// `SSL_CERT_FILE` names a file that cannot serve as the CA bundle. Both TLS clients (ours and
/// object_store's) verify through the platform verifier, which on Linux reads `SSL_CERT_FILE`
/// (and `SSL_CERT_DIR`) instead of the system store when set, and skips what it cannot read
/// with no more than "no CA certificates were loaded": this says which file and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaFileError {
    #[error("SSL_CERT_FILE names {path}, which cannot be read: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("SSL_CERT_FILE names {path}, which is not a PEM certificate bundle: {reason}")]
    Malformed { path: String, reason: String },
    #[error(
        "SSL_CERT_FILE names {path}, which holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
    )]
    Empty { path: String },
}

impl CaFileError {
    pub fn hint(&self) -> &'static str {
        "point SSL_CERT_FILE at a PEM file of CA certificates (the system's bundle with your \
         private CA appended, e.g. /etc/ssl/certs/ca-certificates.crt plus ca.pem), or unset it"
    }
}

/// Checks the file `SSL_CERT_FILE` names, once per process; `Ok` when it is unset.
pub fn ca_file() -> Result<(), CaFileError> {
    static CHECKED: OnceLock<Result<(), CaFileError>> = OnceLock::new();
    CHECKED
        .get_or_init(|| {
            let Some(path) = std::env::var_os("SSL_CERT_FILE").filter(|p| !p.is_empty()) else {
                return Ok(());
            };
            let path_text = path.to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).map_err(|e| CaFileError::Unreadable {
                path: path_text.clone(),
                reason: e.to_string(),
            })?;
            let certificates = reqwest::Certificate::from_pem_bundle(&bytes).map_err(|e| {
                CaFileError::Malformed {
                    path: path_text.clone(),
                    reason: root_cause(&e),
                }
            })?;
            if certificates.is_empty() {
                return Err(CaFileError::Empty { path: path_text });
            }
            Ok(())
        })
        .clone()
}

/// The one reqwest client (and so one connection pool), and why https cannot be used if the
/// system has no CA certificates (the whole message, hint included).
struct Transport {
    client: reqwest::Client,
    no_tls: Option<String>,
}

/// Why no request can be sent at all.
#[derive(Debug, Clone, thiserror::Error)]
enum SetupError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("cannot build the HTTP client: {reason}")]
    Client { reason: String },
}

fn transport() -> Result<&'static Transport, SetupError> {
    static TRANSPORT: OnceLock<Result<Transport, SetupError>> = OnceLock::new();
    TRANSPORT
        .get_or_init(|| {
            let runtime = runtime()?;
            // Building spawns nothing today, but the pool's tasks belong on this runtime.
            let _entered = runtime.enter();
            let builder = || {
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .connect_timeout(CONNECT_TIMEOUT)
                    .pool_idle_timeout(POOL_IDLE_TIMEOUT)
                    .user_agent(concat!("maskflow/", env!("CARGO_PKG_VERSION")))
            };
            match builder().build() {
                Ok(client) => Ok(Transport {
                    client,
                    no_tls: None,
                }),
                // The platform verifier refuses to start without system CA certificates
                // (a bare container). Plain http (the emulator, local stand-ins) still works;
                // https says why it cannot.
                Err(e) => {
                    let no_tls = Some(match ca_file() {
                        Err(bad) => format!("https is unavailable: {bad}: {}", bad.hint()),
                        Ok(()) => format!(
                            "https is unavailable ({}): install the system's CA certificates \
                             (the ca-certificates package) or point SSL_CERT_FILE at a PEM bundle",
                            root_cause(&e)
                        ),
                    });
                    let client = builder()
                        .tls_certs_only(Vec::new())
                        .build()
                        .map_err(|e| SetupError::Client { reason: chain(&e) })?;
                    Ok(Transport { client, no_tls })
                }
            }
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// An error with its causes, `outer: inner: innermost`, without repeats.
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The innermost cause of an error: the one that says what is wrong.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

/// Why reqwest gave no response, in the terms the retry logic needs. A connect error (DNS,
/// refused, TLS handshake, connect timeout) happens before a byte of the request is written,
/// so it is `NotSent`; once connected, a timeout or a broken connection may have delivered it.
fn failure_of(error: &reqwest::Error) -> Failure {
    if error.is_builder() || error.is_connect() {
        Failure::NotSent
    } else if error.is_timeout() {
        Failure::TimedOut
    } else {
        Failure::Broken
    }
}

impl Client {
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
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
        let failed = |failure, reason: String| TransportError {
            method,
            url: shown.clone(),
            failure,
            reason: redact_text(&reason),
            attempt,
        };
        let transport = transport().map_err(|e| failed(Failure::NotSent, e.to_string()))?;
        if let Some(reason) = &transport.no_tls
            && url
                .get(..8)
                .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
        {
            return Err(failed(Failure::NotSent, reason.clone()));
        }
        let runtime = runtime().map_err(|e| failed(Failure::NotSent, e.to_string()))?;
        let verb = match method {
            Method::Get => reqwest::Method::GET,
            Method::Head => reqwest::Method::HEAD,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
        };
        let mut builder = transport.client.request(verb, url).timeout(self.timeout);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        if !(method == Method::Get || method == Method::Head) {
            builder = builder.body(body);
        }
        let sent = Instant::now();
        // Inside the async block: `send` arms its timeout at once, which needs the runtime.
        let result = block_on(runtime, async move { builder.send().await });
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
                let e = e.without_url();
                let error = failed(failure_of(&e), chain(&e));
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

fn request_id(headers: &reqwest::header::HeaderMap) -> Option<String> {
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

    /// Every header whose value is text, in the order received.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.inner
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
    }

    /// Reads the body in chunks, handing each to `each`; more than `limit` bytes is an error,
    /// whatever the response announced: an announced length over the limit is refused before
    /// reading, and a body without one is counted as it streams (each chunk is bounded by the
    /// transport's buffers, never by what the server claims).
    pub fn read_chunks(
        mut self,
        limit: u64,
        mut each: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<u64, BodyError> {
        if self
            .inner
            .content_length()
            .is_some_and(|length| length > limit)
        {
            return Err(BodyError::TooLarge { limit });
        }
        let runtime = runtime().map_err(|e| BodyError::Read {
            reason: e.to_string(),
        })?;
        // `each` runs on this thread inside `block_on`, so it may block (write a file).
        block_on(runtime, async {
            let mut size = 0u64;
            loop {
                let chunk = self.inner.chunk().await.map_err(|e| BodyError::Read {
                    reason: redact_text(&chain(&e.without_url())),
                })?;
                let Some(chunk) = chunk else {
                    return Ok(size);
                };
                size += chunk.len() as u64;
                if size > limit {
                    return Err(BodyError::TooLarge { limit });
                }
                each(&chunk).map_err(|e| BodyError::Write {
                    reason: e.to_string(),
                })?;
            }
        })
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
    pub fn excerpt(mut self, limit: u64) -> String {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        if let Ok(runtime) = runtime() {
            block_on(runtime, async {
                while out.len() < limit {
                    let Ok(Some(chunk)) = self.inner.chunk().await else {
                        break;
                    };
                    let room = limit - out.len();
                    out.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
            });
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::thread::JoinHandle;

    use super::*;

    /// A server on 127.0.0.1 for one connection: reads the request head, hands the stream
    /// to `answer`, and returns the head.
    fn serve_once(
        answer: impl FnOnce(&mut TcpStream) + Send + 'static,
    ) -> (String, JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            answer(&mut stream);
            String::from_utf8_lossy(&head).into_owned()
        });
        (base, server)
    }

    #[test]
    fn a_redirect_is_returned_not_followed_so_credentials_stay_with_their_host() {
        let elsewhere = TcpListener::bind("127.0.0.1:0").unwrap();
        elsewhere.set_nonblocking(true).unwrap();
        let target = format!("http://{}/steal", elsewhere.local_addr().unwrap());
        let (base, server) = serve_once(move |stream| {
            let answer = format!(
                "HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\n\
                 Connection: close\r\n\r\n"
            );
            stream.write_all(answer.as_bytes()).unwrap();
        });
        let url = format!("{base}/job");
        let response = Client::new(Duration::from_secs(5))
            .send(Request::get(&url).bearer("secret-token"))
            .unwrap();
        assert_eq!(response.status(), 302);
        assert!(response.header("location").unwrap().ends_with("/steal"));
        assert!(server.join().unwrap().contains("secret-token"));
        assert_eq!(
            elsewhere.accept().map(|_| ()).unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock,
            "the other host was contacted"
        );
    }

    #[test]
    fn a_body_over_the_limit_is_refused_while_it_streams() {
        // No length announced: counted as it arrives, and never more than the limit kept.
        let (base, server) = serve_once(|stream| {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            for _ in 0..64 {
                if stream.write_all(&[7u8; 16 * 1024]).is_err() {
                    return;
                }
            }
        });
        let url = format!("{base}/big");
        let response = Client::new(Duration::from_secs(5))
            .send(Request::get(&url))
            .unwrap();
        let mut kept = 0u64;
        let refused = response.read_chunks(100_000, |chunk| {
            kept += chunk.len() as u64;
            Ok(())
        });
        assert_eq!(refused, Err(BodyError::TooLarge { limit: 100_000 }));
        assert!(kept <= 100_000, "{kept}");
        server.join().unwrap();

        // A length over the limit is refused before a byte is read, whatever it claims.
        let (base, server) = serve_once(|stream| {
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999\r\nConnection: close\r\n\r\nabc",
            );
        });
        let url = format!("{base}/huge");
        let response = Client::new(Duration::from_secs(5))
            .send(Request::get(&url))
            .unwrap();
        let mut called = false;
        let refused = response.read_chunks(1000, |_| {
            called = true;
            Ok(())
        });
        assert_eq!(refused, Err(BodyError::TooLarge { limit: 1000 }));
        assert!(!called);
        server.join().unwrap();
    }

    #[test]
    fn transport_failures_tell_whether_the_request_may_have_arrived() {
        let client = Client::new(Duration::from_millis(500));

        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", closed.local_addr().unwrap());
        drop(closed);
        let refused = client.send(Request::post(&url)).err().unwrap();
        assert_eq!(refused.failure, Failure::NotSent, "{refused}");
        assert!(refused.not_sent());

        // The server read the request, then hung up: it may have acted on it.
        let (base, server) = serve_once(|_| {});
        let url = format!("{base}/submit?sig=s3cret");
        let broken = client.send(Request::post(&url)).err().unwrap();
        assert_eq!(broken.failure, Failure::Broken, "{broken}");
        assert!(!broken.not_sent());
        assert!(!broken.to_string().contains("s3cret"), "{broken}");
        server.join().unwrap();

        // The server read the request and never answered.
        let (base, server) = serve_once(|stream| {
            // Holds the connection until the client gives up and closes it.
            let _ = stream.read(&mut [0u8; 1]);
        });
        let url = format!("{base}/slow");
        let silent = client.send(Request::post(&url)).err().unwrap();
        assert_eq!(silent.failure, Failure::TimedOut, "{silent}");
        assert!(!silent.not_sent());
        server.join().unwrap();
    }

    #[test]
    fn an_excerpt_stops_at_its_limit() {
        let (base, server) = serve_once(|stream| {
            let _ = stream.write_all(
                b"HTTP/1.1 500 Oops\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789",
            );
        });
        let url = format!("{base}/x");
        let response = Client::new(Duration::from_secs(5))
            .send(Request::get(&url))
            .unwrap();
        assert_eq!(response.status(), 500);
        assert_eq!(response.excerpt(4), "0123");
        server.join().unwrap();
    }

    #[test]
    fn request_ids_are_read_from_any_service_header_and_bounded() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(request_id(&headers), None);
        headers.insert("x-amz-request-id", "4442587FB7D0A2F9".parse().unwrap());
        assert_eq!(request_id(&headers).as_deref(), Some("4442587FB7D0A2F9"));
        headers.insert("x-request-id", "a b\tc".repeat(100).parse().unwrap());
        let id = request_id(&headers).unwrap();
        assert_eq!(id.len(), MAX_REQUEST_ID);
        assert!(id.starts_with("abca"), "{id}");
    }
}
