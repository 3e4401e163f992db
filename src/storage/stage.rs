//! Staging: local inputs uploaded once, content-addressed, under the manifest's
//! `storage.staging` prefix, so that a service that only reads URLs can read them; and
//! objects there for a service to write masks to.

use std::path::{Path, PathBuf};

use super::{Method, ObjectUrl, Storage, StorageError, StorageSettings};
use crate::redact::SecretUrl;

pub struct Stager {
    storage: Storage,
    prefix: ObjectUrl,
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
    Storage(#[from] StorageError),
}

impl StageError {
    pub fn hint(&self) -> Option<String> {
        match self {
            StageError::NotConfigured => Some(
                "set `storage.staging` to an s3://, az:// or gs:// prefix the service can read"
                    .to_owned(),
            ),
            StageError::Storage(e) if e.is_not_found() => {
                Some("check that the staging bucket (or container) exists".to_owned())
            }
            StageError::Storage(e) => e.hint(),
            StageError::Read { .. } => None,
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
            storage: Storage::new(settings),
            prefix,
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
        let uploaded = if self.storage.head(&object)?.is_some() {
            tracing::debug!(target: "maskflow::staging", object = %object, "already staged");
            false
        } else {
            let size = bytes.len();
            self.storage.put(&object, bytes)?;
            tracing::info!(target: "maskflow::staging", object = %object, bytes = size, "input staged");
            true
        };
        let url = self.storage.presign(&object, Method::Get, None)?;
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
            self.storage.presign(&object, Method::Put, None)?,
            self.storage.presign(&object, Method::Get, None)?,
        ))
    }
}
