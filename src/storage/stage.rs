//! Staging: local inputs uploaded once, content-addressed, under the manifest's
//! `storage.staging` prefix, so that a service that only reads URLs can read them; and
//! objects there for a service to write masks to.

use std::path::Path;

use super::{Method, ObjectUrl, Signer, StorageSettings};
use crate::redact::{SecretUrl, redact_text};
use crate::remote;

pub struct Stager {
    signer: Signer,
    prefix: ObjectUrl,
    agent: ureq::Agent,
}

/// A local input, staged.
pub struct Staged {
    pub object: ObjectUrl,
    /// A pre-signed GET URL for it.
    pub url: SecretUrl,
    /// Whether this call uploaded it (false: it was already there).
    pub uploaded: bool,
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
    pub fn stage_input(&self, path: &Path) -> Result<Staged, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let digest = blake3::hash(&bytes).to_hex();
        let ext = path
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy().to_ascii_lowercase()))
            .unwrap_or_default();
        let object = self.prefix.join(&format!("inputs/{digest}{ext}"));
        let uploaded = if self.exists(&object)? {
            false
        } else {
            self.put(&object, bytes)?;
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
    pub fn mask_urls(&self, fingerprint: &str) -> Result<(SecretUrl, SecretUrl), String> {
        let name = fingerprint.trim_start_matches("blake3:");
        let object = self.prefix.join(&format!("masks/{name}.png"));
        Ok((
            self.sign(&object, Method::Put)?,
            self.sign(&object, Method::Get)?,
        ))
    }

    fn sign(&self, object: &ObjectUrl, method: Method) -> Result<SecretUrl, String> {
        self.signer
            .presign(object, method, None)
            .map_err(|e| match e.hint() {
                Some(hint) => format!("{e} ({hint})"),
                None => e.to_string(),
            })
    }

    fn exists(&self, object: &ObjectUrl) -> Result<bool, String> {
        let url = self.sign(object, Method::Head)?;
        let response = self
            .agent
            .head(url.expose())
            .call()
            .map_err(|e| format!("cannot reach {url}: {}", redact_text(&e.to_string())))?;
        match response.status().as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            status => Err(format!(
                "HEAD {url} answered {status}: the staging bucket refused the request"
            )),
        }
    }

    fn put(&self, object: &ObjectUrl, bytes: Vec<u8>) -> Result<(), String> {
        let url = self.sign(object, Method::Put)?;
        let mut request = self.agent.put(url.expose());
        if matches!(object, ObjectUrl::Azure { .. }) {
            request = request.header("x-ms-blob-type", "BlockBlob");
        }
        let mut response = request
            .send(&bytes[..])
            .map_err(|e| format!("cannot upload to {url}: {}", redact_text(&e.to_string())))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let body = remote::error_body(&mut response);
        Err(format!(
            "PUT {url} answered {status}: {}",
            redact_text(body.trim())
        ))
    }
}
