//! Cloud objects: `s3://`, `az://` and `gs://` URLs, read, listed, written and signed through
//! `object_store`, with each cloud's standard credential chain (see `stores`). Nothing here
//! stores a credential, and nothing looks one up before an object is actually touched: a
//! manifest that is only validated never asks for credentials.

mod aws_profile;
mod container;
mod error;
mod gcp_external;
#[cfg(test)]
mod gcs;
mod ops;
mod refresh;
mod runtime;
#[cfg(test)]
mod sigv4;
mod stage;
mod stores;
mod web_identity;

pub use error::{CredentialError, GcsStep, Refusal, StorageError};
pub use ops::{ObjectInfo, Storage};
pub use stage::{StageError, Staged, Stager};

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A cloud object, as a manifest names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectUrl {
    /// `s3://bucket/key`
    S3 { bucket: String, key: String },
    /// `az://account/container/blob`
    Azure {
        account: String,
        container: String,
        blob: String,
    },
    /// `gs://bucket/key`
    Gcs { bucket: String, key: String },
}

impl ObjectUrl {
    /// Parses `s3://`, `az://` and `gs://` URLs; anything else is `None`.
    pub fn parse(text: &str) -> Option<Result<Self, ObjectUrlError>> {
        let (scheme, rest) = text.split_once("://")?;
        let split = |rest: &str| -> Option<(String, String)> {
            let (first, key) = rest.split_once('/')?;
            (!first.is_empty() && !key.is_empty()).then(|| (first.to_owned(), key.to_owned()))
        };
        let parsed = match scheme.to_ascii_lowercase().as_str() {
            "s3" => split(rest)
                .map(|(bucket, key)| ObjectUrl::S3 { bucket, key })
                .ok_or("write s3://BUCKET/KEY"),
            "gs" => split(rest)
                .map(|(bucket, key)| ObjectUrl::Gcs { bucket, key })
                .ok_or("write gs://BUCKET/KEY"),
            "az" => split(rest)
                .and_then(|(account, rest)| {
                    split(&rest).map(|(container, blob)| ObjectUrl::Azure {
                        account,
                        container,
                        blob,
                    })
                })
                .ok_or("write az://ACCOUNT/CONTAINER/BLOB"),
            _ => return None,
        };
        Some(parsed.map_err(|expected| ObjectUrlError {
            text: text.to_owned(),
            expected,
        }))
    }

    /// The object's key inside its bucket (or container).
    pub fn key(&self) -> &str {
        match self {
            ObjectUrl::S3 { key, .. } | ObjectUrl::Gcs { key, .. } => key,
            ObjectUrl::Azure { blob, .. } => blob,
        }
    }

    /// Another object of the same bucket (or container).
    pub fn with_key(&self, key: &str) -> Self {
        let mut other = self.clone();
        match &mut other {
            ObjectUrl::S3 { key: k, .. } | ObjectUrl::Gcs { key: k, .. } => *k = key.to_owned(),
            ObjectUrl::Azure { blob, .. } => *blob = key.to_owned(),
        }
        other
    }

    /// The bucket (or account and container) as a URL without key: `s3://bucket`.
    pub fn bucket(&self) -> String {
        match self {
            ObjectUrl::S3 { bucket, .. } => format!("s3://{bucket}"),
            ObjectUrl::Gcs { bucket, .. } => format!("gs://{bucket}"),
            ObjectUrl::Azure {
                account, container, ..
            } => format!("az://{account}/{container}"),
        }
    }

    /// The same object with `suffix` appended to its key (for staging prefixes).
    pub fn join(&self, suffix: &str) -> Self {
        let add = |key: &str| format!("{}/{suffix}", key.trim_end_matches('/'));
        match self {
            ObjectUrl::S3 { bucket, key } => ObjectUrl::S3 {
                bucket: bucket.clone(),
                key: add(key),
            },
            ObjectUrl::Gcs { bucket, key } => ObjectUrl::Gcs {
                bucket: bucket.clone(),
                key: add(key),
            },
            ObjectUrl::Azure {
                account,
                container,
                blob,
            } => ObjectUrl::Azure {
                account: account.clone(),
                container: container.clone(),
                blob: add(blob),
            },
        }
    }
}

impl std::fmt::Display for ObjectUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ObjectUrl::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
            ObjectUrl::Gcs { bucket, key } => write!(f, "gs://{bucket}/{key}"),
            ObjectUrl::Azure {
                account,
                container,
                blob,
            } => write!(f, "az://{account}/{container}/{blob}"),
        }
    }
}

/// An `s3://`, `az://` or `gs://` URL that lacks a part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not an object URL: {expected}")]
pub struct ObjectUrlError {
    pub text: String,
    /// How to write it, e.g. `write s3://BUCKET/KEY`.
    pub expected: &'static str,
}

/// HTTP methods a pre-signed URL can be made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Put,
    Head,
}

impl Method {
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "GET" => Some(Method::Get),
            "PUT" => Some(Method::Put),
            "HEAD" => Some(Method::Head),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Head => "HEAD",
        }
    }
}

/// Where cloud objects live and how long signatures last (the manifest's `storage`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    /// Where the photoshop engine stages local inputs (and, for `sensei`, receives masks):
    /// `s3://BUCKET/PREFIX`, `az://ACCOUNT/CONTAINER/PREFIX` or `gs://BUCKET/PREFIX`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staging: Option<String>,
    /// How long pre-signed URLs stay valid, in seconds: long enough to cover queueing,
    /// rate-limit waits and retries. Default 86400 (24 h); S3 allows at most 7 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 604800))]
    pub expires_seconds: Option<u64>,
    #[serde(default)]
    pub s3: S3Settings,
    #[serde(default)]
    pub azure: AzureSettings,
    #[serde(default)]
    pub gcs: GcsSettings,
}

/// S3 and S3-compatible services.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    /// A custom endpoint for S3-compatible services (MinIO, R2, ...), e.g.
    /// `http://127.0.0.1:9000`. Default: AWS, `https://BUCKET.s3.REGION.amazonaws.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Default: `AWS_REGION`, then `AWS_DEFAULT_REGION`, then `us-east-1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Name the bucket in the path (`ENDPOINT/BUCKET/KEY`) rather than the host. Default:
    /// true with a custom endpoint, false on AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_style: Option<bool>,
}

/// Azure Blob Storage.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AzureSettings {
    /// A custom endpoint, e.g. Azurite's `http://127.0.0.1:10000/ACCOUNT`. Default:
    /// `https://ACCOUNT.blob.core.windows.net`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// Google Cloud Storage.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GcsSettings {
    /// Default: `https://storage.googleapis.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(24 * 3600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_urls() {
        assert_eq!(
            ObjectUrl::parse("s3://b/in/cat.png"),
            Some(Ok(ObjectUrl::S3 {
                bucket: "b".into(),
                key: "in/cat.png".into()
            }))
        );
        assert_eq!(
            ObjectUrl::parse("az://acct/c/x/y.png")
                .unwrap()
                .unwrap()
                .to_string(),
            "az://acct/c/x/y.png"
        );
        assert!(matches!(ObjectUrl::parse("gs://bucket"), Some(Err(_))));
        assert!(matches!(
            ObjectUrl::parse("az://acct/container"),
            Some(Err(_))
        ));
        assert_eq!(ObjectUrl::parse("https://x/y"), None);
        assert_eq!(ObjectUrl::parse("photos/cat.png"), None);
        let staged = ObjectUrl::parse("s3://b/prefix/")
            .unwrap()
            .unwrap()
            .join("in/1.png");
        assert_eq!(staged.to_string(), "s3://b/prefix/in/1.png");
    }
}
