//! An S3 credential that blocking code fetches (a `credential_process`, an STS exchange, a
//! container endpoint), kept until a minute before it expires and fetched again then.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use object_store::CredentialProvider;
use object_store::aws::AwsCredential;

use super::CredentialError;
use crate::http::{Client, Request};
use crate::redact::register_secret;

/// Refreshed this long before it expires, so that a request signed now is still valid when
/// it lands.
const REFRESH_EARLY: Duration = Duration::from_secs(60);

/// Where a credential comes from. `fetch` blocks (it runs on tokio's blocking pool).
pub trait Fetch: std::fmt::Debug + Send + Sync + 'static {
    fn fetch(&self) -> Result<Fetched, CredentialError>;
}

pub struct Fetched {
    pub credential: AwsCredential,
    /// `None`: valid for the whole run.
    pub expires: Option<SystemTime>,
}

/// `object_store`'s credential provider over a [`Fetch`], with its cache.
#[derive(Debug)]
pub struct Refreshing<F: Fetch> {
    inner: Arc<Inner<F>>,
}

#[derive(Debug)]
struct Inner<F> {
    source: F,
    cached: Mutex<Option<(Arc<AwsCredential>, Option<SystemTime>)>>,
}

impl<F: Fetch> Refreshing<F> {
    pub fn new(source: F) -> Self {
        Self {
            inner: Arc::new(Inner {
                source,
                cached: Mutex::new(None),
            }),
        }
    }
}

impl<F: Fetch> Inner<F> {
    /// The cached credential, or a new one. The lock is held while fetching, so that requests
    /// started together make one exchange, not one each.
    fn get(&self) -> Result<Arc<AwsCredential>, CredentialError> {
        let fresh_until = SystemTime::now() + REFRESH_EARLY;
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((credential, expires)) = cached.as_ref()
            && expires.is_none_or(|at| at > fresh_until)
        {
            return Ok(credential.clone());
        }
        let Fetched {
            credential,
            expires,
        } = self.source.fetch()?;
        register_secret(&credential.secret_key);
        if let Some(token) = &credential.token {
            register_secret(token);
        }
        let credential = Arc::new(credential);
        *cached = Some((credential.clone(), expires));
        Ok(credential)
    }
}

#[async_trait::async_trait]
impl<F: Fetch> CredentialProvider for Refreshing<F> {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let inner = self.inner.clone();
        // On the blocking pool: fetching blocks (a process, an HTTP exchange through
        // `http::Client`), and so does waiting for the lock; the runtime's workers stay free
        // to drive the sockets, the exchange's own included.
        let outcome = tokio::task::spawn_blocking(move || inner.get()).await;
        let error: Box<dyn std::error::Error + Send + Sync> = match outcome {
            Ok(Ok(credential)) => return Ok(credential),
            Ok(Err(e)) => Box::new(e),
            Err(e) => Box::new(e),
        };
        Err(object_store::Error::Generic {
            store: "S3",
            source: error,
        })
    }
}

/// Per attempt: credential services answer in well under a second.
const TIMEOUT: Duration = Duration::from_secs(20);
/// Tries of one exchange, for a connection that failed or a 5xx, 429 or throttling answer.
const ATTEMPTS: u32 = 3;
/// The largest answer read (a few KiB in practice).
const MAX_ANSWER: u64 = 64 * 1024;

/// One credential exchange over the program's HTTP stack: the status and body (as text) of
/// the last answer, or why none came. Tried again, after 0.5 s then 1 s, when the
/// connection fails, the answer is a 5xx or 429, or `throttled` says its body asks to slow
/// down.
pub fn exchange<'a>(
    request: impl Fn() -> Request<'a>,
    throttled: impl Fn(&str) -> bool,
) -> Result<(u16, String), String> {
    let client = Client::new(TIMEOUT);
    let mut attempt = 1;
    loop {
        let (request_id, reason) = match client.send(request().attempt(attempt)) {
            Ok(response) => {
                let status = response.status();
                let request_id = response.request_id().map(str::to_owned);
                let body = response
                    .bytes(MAX_ANSWER)
                    .map_err(|e| format!("its answer could not be read: {e}"))?;
                let body = String::from_utf8_lossy(&body).into_owned();
                if !(status >= 500 || status == 429 || throttled(&body)) || attempt >= ATTEMPTS {
                    return Ok((status, body));
                }
                (request_id, format!("answered {status}"))
            }
            Err(e) if attempt < ATTEMPTS => (None, e.to_string()),
            Err(e) => return Err(e.to_string()),
        };
        let wait = Duration::from_millis(500 << (attempt - 1));
        crate::http::log_retry(wait, &reason, attempt, request_id.as_deref());
        std::thread::sleep(wait);
        attempt += 1;
    }
}
