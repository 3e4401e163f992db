//! Credentials, from where each cloud's own tools look for them.

use std::path::PathBuf;

use base64::Engine as _;

use super::SignError;
use crate::redact::register_secret;

/// Why a cloud's credentials could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set, and there is no ~/.aws/credentials"
    )]
    AwsMissing,
    #[error(
        "profile [{profile}] of the AWS credentials file has no aws_access_key_id and aws_secret_access_key"
    )]
    AwsProfile { profile: String },
    #[error("the Azure storage account key is not base64")]
    AzureKeyNotBase64,
    #[error(
        "neither AZURE_STORAGE_KEY nor an AZURE_STORAGE_CONNECTION_STRING for account {account} is set"
    )]
    AzureMissing { account: String },
    #[error("GOOGLE_APPLICATION_CREDENTIALS is not set")]
    GcsUnset,
    #[error("cannot read GOOGLE_APPLICATION_CREDENTIALS ({path}): {reason}")]
    GcsRead { path: String, reason: String },
    #[error("{path} is not a service-account key file: {reason}")]
    GcsNotKeyFile { path: String, reason: String },
    #[error("{path} has no `{field}`: signing URLs needs a service-account key")]
    GcsField { path: String, field: String },
    #[error("the private_key of {path} is not PEM")]
    GcsNotPem { path: String },
    #[error("the private_key of {path} is not an RSA PKCS#8 key: {reason}")]
    GcsNotRsa { path: String, reason: String },
}

impl CredentialError {
    pub fn hint(&self) -> String {
        match self {
            CredentialError::AwsMissing | CredentialError::AwsProfile { .. } => {
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with \
                 ~/.aws/credentials"
            }
            CredentialError::AzureKeyNotBase64 | CredentialError::AzureMissing { .. } => {
                "set AZURE_STORAGE_KEY (the account key, base64) or \
                 AZURE_STORAGE_CONNECTION_STRING"
            }
            _ => "set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file (JSON)",
        }
        .to_owned()
    }
}

pub struct S3 {
    pub(super) access_key: String,
    pub(super) secret_key: String,
    pub(super) session_token: Option<String>,
}

impl S3 {
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`(/`AWS_SESSION_TOKEN`), else the
    /// `AWS_PROFILE` (or `default`) section of `~/.aws/credentials` (`AWS_SHARED_CREDENTIALS_FILE`).
    pub fn from_env() -> Result<Self, CredentialError> {
        let found = Self::lookup()?;
        register_secret(&found.secret_key);
        if let Some(token) = &found.session_token {
            register_secret(token);
        }
        Ok(found)
    }

    fn lookup() -> Result<Self, CredentialError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let (Some(access_key), Some(secret_key)) =
            (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
        {
            return Ok(Self {
                access_key,
                secret_key,
                session_token: var("AWS_SESSION_TOKEN"),
            });
        }
        let file = var("AWS_SHARED_CREDENTIALS_FILE")
            .map(PathBuf::from)
            .or_else(|| home().map(|h| h.join(".aws/credentials")));
        let profile = var("AWS_PROFILE").unwrap_or_else(|| "default".to_owned());
        let text = file
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .ok_or(CredentialError::AwsMissing)?;
        let section = ini_section(&text, &profile);
        let get = |k: &str| section.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        match (get("aws_access_key_id"), get("aws_secret_access_key")) {
            (Some(access_key), Some(secret_key)) => Ok(Self {
                access_key,
                secret_key,
                session_token: get("aws_session_token"),
            }),
            _ => Err(CredentialError::AwsProfile { profile }),
        }
    }
}

/// `host` or `host:port` as a client sends it in the `Host` header.
pub fn host_of(url: &url::Url, setting: &'static str) -> Result<String, SignError> {
    let host = url.host_str().ok_or(SignError::NoHost { setting })?;
    Ok(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

pub struct Azure {
    pub account_key: Vec<u8>,
}

impl Azure {
    /// `AZURE_STORAGE_KEY` (base64, for `account`), or the `AccountKey` of
    /// `AZURE_STORAGE_CONNECTION_STRING` when its `AccountName` is `account`.
    pub fn from_env(account: &str) -> Result<Self, CredentialError> {
        let decode = |key: &str| {
            register_secret(key);
            base64::engine::general_purpose::STANDARD
                .decode(key.trim())
                .map_err(|_| CredentialError::AzureKeyNotBase64)
        };
        if let Ok(key) = std::env::var("AZURE_STORAGE_KEY")
            && !key.is_empty()
        {
            return Ok(Self {
                account_key: decode(&key)?,
            });
        }
        if let Ok(connection) = std::env::var("AZURE_STORAGE_CONNECTION_STRING") {
            let field = |name: &str| {
                connection.split(';').find_map(|part| {
                    let (k, v) = part.split_once('=')?;
                    (k.trim() == name).then(|| v.trim().to_owned())
                })
            };
            if field("AccountName").as_deref() == Some(account)
                && let Some(key) = field("AccountKey")
            {
                return Ok(Self {
                    account_key: decode(&key)?,
                });
            }
        }
        Err(CredentialError::AzureMissing {
            account: account.to_owned(),
        })
    }
}

pub struct Gcs {
    pub client_email: String,
    pub key: ring::signature::RsaKeyPair,
}

impl Gcs {
    /// The service-account key file named by `GOOGLE_APPLICATION_CREDENTIALS`.
    pub fn from_env() -> Result<Self, CredentialError> {
        let path = std::env::var("GOOGLE_APPLICATION_CREDENTIALS")
            .map_err(|_| CredentialError::GcsUnset)?;
        let text = std::fs::read_to_string(&path).map_err(|e| CredentialError::GcsRead {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| CredentialError::GcsNotKeyFile {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        let field = |k: &str| {
            json.get(k)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .ok_or_else(|| CredentialError::GcsField {
                    path: path.clone(),
                    field: k.to_owned(),
                })
        };
        let client_email = field("client_email")?;
        let pem = field("private_key")?;
        let der: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(der.trim())
            .map_err(|_| CredentialError::GcsNotPem { path: path.clone() })?;
        let key = ring::signature::RsaKeyPair::from_pkcs8(&der).map_err(|e| {
            CredentialError::GcsNotRsa {
                path: path.clone(),
                reason: e.to_string(),
            }
        })?;
        Ok(Self { client_email, key })
    }
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

/// The `key = value` pairs of `[name]` in an INI file.
fn ini_section(text: &str, name: &str) -> Vec<(String, String)> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') && line.ends_with(']') {
            inside = line[1..line.len() - 1].trim() == name;
        } else if inside && let Some((k, v)) = line.split_once('=') {
            out.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_sections() {
        let text = "[default]\naws_access_key_id = A\n[work]\naws_access_key_id=B\naws_secret_access_key = S\n";
        assert_eq!(
            ini_section(text, "default"),
            vec![("aws_access_key_id".into(), "A".into())]
        );
        assert_eq!(ini_section(text, "work").len(), 2);
        assert!(ini_section(text, "none").is_empty());
    }
}
