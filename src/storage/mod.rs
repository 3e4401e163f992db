//! Cloud objects: `s3://`, `az://` and `gs://` URLs, signed into pre-signed HTTPS URLs with
//! the credentials each cloud's tools already use. Nothing here stores a credential: they
//! are read from the environment (or the cloud's own credentials file) when a URL is signed.

mod azure;
mod credentials;
mod gcs;
mod s3;
pub mod sigv4;
mod stage;

pub use credentials::CredentialError;
pub use stage::{StageError, Staged, Stager};

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::redact::SecretUrl;

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

#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    #[error("cannot sign {object}: {source}")]
    Credentials {
        object: String,
        source: CredentialError,
    },
    #[error("cannot sign {object}: {source}")]
    Sign { object: String, source: SignError },
}

/// Why a URL could not be signed with credentials at hand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("{setting}: {reason}")]
    Endpoint {
        setting: &'static str,
        reason: String,
    },
    #[error("{setting}: the endpoint has no host")]
    NoHost { setting: &'static str },
    #[error("the expiry is out of range: {reason}")]
    Expiry { reason: String },
    #[error("RSA signing failed")]
    Rsa,
    #[error("signed URL does not parse: {reason}")]
    Unparsable { reason: String },
}

impl StorageError {
    pub fn hint(&self) -> Option<String> {
        match self {
            StorageError::Credentials { source, .. } => Some(source.hint()),
            StorageError::Sign {
                source: SignError::Endpoint { .. } | SignError::NoHost { .. },
                ..
            } => Some("write the endpoint as a URL, e.g. http://127.0.0.1:9000".to_owned()),
            StorageError::Sign { .. } => None,
        }
    }
}

/// Signs object URLs. Credentials are looked up on first use, once per cloud.
pub struct Signer {
    settings: StorageSettings,
    s3: OnceLock<Result<credentials::S3, CredentialError>>,
    azure: OnceLock<Result<credentials::Azure, CredentialError>>,
    gcs: OnceLock<Result<credentials::Gcs, CredentialError>>,
}

impl Signer {
    pub fn new(settings: &StorageSettings) -> Self {
        Self {
            settings: settings.clone(),
            s3: OnceLock::new(),
            azure: OnceLock::new(),
            gcs: OnceLock::new(),
        }
    }

    pub fn expiry(&self) -> Duration {
        self.settings
            .expires_seconds
            .map_or(DEFAULT_EXPIRY, Duration::from_secs)
    }

    /// A pre-signed HTTPS URL for `method` on `object`, valid for `expires` (default: the
    /// manifest's `storage.expires_seconds`).
    pub fn presign(
        &self,
        object: &ObjectUrl,
        method: Method,
        expires: Option<Duration>,
    ) -> Result<SecretUrl, StorageError> {
        let expires = expires.unwrap_or_else(|| self.expiry());
        let now = SystemTime::now();
        let credential_error = |source: &CredentialError| StorageError::Credentials {
            object: object.to_string(),
            source: source.clone(),
        };
        let sign_error = |source: SignError| StorageError::Sign {
            object: object.to_string(),
            source,
        };
        let raw = match object {
            ObjectUrl::S3 { bucket, key } => {
                let creds = self
                    .s3
                    .get_or_init(credentials::S3::from_env)
                    .as_ref()
                    .map_err(credential_error)?;
                s3::presign(&self.settings.s3, creds, bucket, key, method, expires, now)
                    .map_err(sign_error)?
            }
            ObjectUrl::Gcs { bucket, key } => {
                let creds = self
                    .gcs
                    .get_or_init(credentials::Gcs::from_env)
                    .as_ref()
                    .map_err(credential_error)?;
                gcs::presign(&self.settings.gcs, creds, bucket, key, method, expires, now)
                    .map_err(sign_error)?
            }
            ObjectUrl::Azure {
                account,
                container,
                blob,
            } => {
                let creds = self
                    .azure
                    .get_or_init(|| credentials::Azure::from_env(account))
                    .as_ref()
                    .map_err(credential_error)?;
                azure::presign(
                    &self.settings.azure,
                    creds,
                    account,
                    container,
                    blob,
                    method,
                    expires,
                    now,
                )
                .map_err(sign_error)?
            }
        };
        SecretUrl::parse(&raw).map_err(|e| {
            sign_error(SignError::Unparsable {
                reason: e.to_string(),
            })
        })
    }
}

/// `YYYYMMDDTHHMMSSZ` for SigV4-style signing.
fn amz_timestamp(now: SystemTime) -> String {
    let ts = jiff::Timestamp::try_from(now).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    ts.strftime("%Y%m%dT%H%M%SZ").to_string()
}

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
