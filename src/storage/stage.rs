//! Staging: local inputs uploaded once, content-addressed, under the manifest's
//! `storage.staging` prefix, so that a service that only reads URLs can read them; and
//! objects there for a service to write masks to.

use std::path::{Path, PathBuf};

use super::{Method, ObjectUrl, Signer, StorageError, StorageSettings};
use crate::http;
use crate::redact::{SecretUrl, redact_text};
use crate::remote::{self, quote_request_id};

pub struct Stager {
    signer: Signer,
    prefix: ObjectUrl,
    agent: http::Client,
}

/// A local input, staged.
pub struct Staged {
    pub object: ObjectUrl,
    /// A pre-signed GET URL for it.
    pub url: SecretUrl,
    /// Whether this call uploaded it (false: it was already there).
    pub uploaded: bool,
}

/// Why an input could not be staged.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StageError {
    #[error("local inputs need `storage.staging`")]
    NotConfigured,
    #[error("cannot read {}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    #[error(transparent)]
    Sign(#[from] StorageError),
    #[error(transparent)]
    Transport(#[from] http::TransportError),
    #[error("{method} {url} answered {status}{}{}", detail(body), quote_request_id(request_id.as_deref()))]
    Refused {
        method: &'static str,
        url: String,
        status: u16,
        body: String,
        request_id: Option<String>,
    },
}

fn detail(body: &str) -> String {
    let body = redact_text(body.trim());
    if body.is_empty() {
        String::new()
    } else {
        format!(": {}", body.chars().take(300).collect::<String>())
    }
}

impl StageError {
    pub fn hint(&self) -> Option<String> {
        match self {
            StageError::NotConfigured => Some(
                "set `storage.staging` to an s3://, az:// or gs:// prefix the service can read"
                    .to_owned(),
            ),
            StageError::Sign(e) => e.hint(),
            StageError::Refused { status: 403, .. } => Some(
                "the staging bucket refused the signed request: check the credentials' rights \
                 on it, the region and the clock"
                    .to_owned(),
            ),
            StageError::Refused { status: 404, .. } => {
                Some("check that the staging bucket (or container) exists".to_owned())
            }
            StageError::Transport(_) => {
                Some("check the storage endpoint and the network".to_owned())
            }
            _ => None,
        }
    }

    /// The message with its hint, for a report line.
    pub fn described(&self) -> String {
        crate::with_hint(self, self.hint())
    }
}

impl Stager {
    /// The stager of `settings.staging`, if any.
    pub fn new(settings: &StorageSettings) -> Option<Self> {
        let prefix = ObjectUrl::parse(settings.staging.as_deref()?)?.ok()?;
        Some(Self {
            signer: Signer::new(settings),
            prefix,
            agent: remote::agent(remote::TRANSFER_TIMEOUT),
        })
    }

    /// Uploads `path` unless an object with its content is already staged.
    pub fn stage_input(&self, path: &Path) -> Result<Staged, StageError> {
        let bytes = std::fs::read(path).map_err(|e| StageError::Read {
            path: path.to_owned(),
            reason: crate::fsutil::io_reason(&e),
        })?;
        let digest = blake3::hash(&bytes).to_hex();
        let ext = path
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy().to_ascii_lowercase()))
            .unwrap_or_default();
        let object = self.prefix.join(&format!("inputs/{digest}{ext}"));
        let uploaded = if self.exists(&object)? {
            tracing::debug!(target: "maskflow::staging", object = %object, "already staged");
            false
        } else {
            let size = bytes.len();
            self.put(&object, bytes)?;
            tracing::info!(target: "maskflow::staging", object = %object, bytes = size, "input staged");
            true
        };
        let url = self.sign(&object, Method::Get)?;
        Ok(Staged {
            object,
            url,
            uploaded,
        })
    }

    /// Where a service writes the mask for `fingerprint`, and where it is read back from.
    pub fn mask_urls(&self, fingerprint: &str) -> Result<(SecretUrl, SecretUrl), StageError> {
        let name = fingerprint.trim_start_matches("blake3:");
        let object = self.prefix.join(&format!("masks/{name}.png"));
        Ok((
            self.sign(&object, Method::Put)?,
            self.sign(&object, Method::Get)?,
        ))
    }

    fn sign(&self, object: &ObjectUrl, method: Method) -> Result<SecretUrl, StageError> {
        Ok(self.signer.presign(object, method, None)?)
    }

    fn exists(&self, object: &ObjectUrl) -> Result<bool, StageError> {
        let url = self.sign(object, Method::Head)?;
        let response = self
            .agent
            .send(http::Request::new(http::Method::Head, url.expose()))?;
        match response.status() {
            200..=299 => Ok(true),
            404 => Ok(false),
            status => Err(StageError::Refused {
                method: "HEAD",
                url: url.redacted(),
                status,
                body: String::new(),
                request_id: response.request_id().map(str::to_owned),
            }),
        }
    }

    fn put(&self, object: &ObjectUrl, bytes: Vec<u8>) -> Result<(), StageError> {
        let url = self.sign(object, Method::Put)?;
        let mut request = http::Request::new(http::Method::Put, url.expose()).bytes(bytes);
        if matches!(object, ObjectUrl::Azure { .. }) {
            request = request.header("x-ms-blob-type", "BlockBlob");
        }
        let response = self.agent.send(request)?;
        if response.is_success() {
            return Ok(());
        }
        let status = response.status();
        let request_id = response.request_id().map(str::to_owned);
        Err(StageError::Refused {
            method: "PUT",
            url: url.redacted(),
            status,
            body: response.excerpt(4096),
            request_id,
        })
    }
}
