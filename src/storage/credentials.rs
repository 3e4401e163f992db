//! Credentials, from where each cloud's own tools look for them.

use std::path::PathBuf;

use base64::Engine as _;

pub struct S3 {
    pub(super) access_key: String,
    pub(super) secret_key: String,
    pub(super) session_token: Option<String>,
}

impl S3 {
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`(/`AWS_SESSION_TOKEN`), else the
    /// `AWS_PROFILE` (or `default`) section of `~/.aws/credentials` (`AWS_SHARED_CREDENTIALS_FILE`).
    pub fn from_env() -> Result<Self, String> {
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
            .ok_or("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set, and there is no ~/.aws/credentials")?;
        let section = ini_section(&text, &profile);
        let get = |k: &str| section.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        match (get("aws_access_key_id"), get("aws_secret_access_key")) {
            (Some(access_key), Some(secret_key)) => Ok(Self {
                access_key,
                secret_key,
                session_token: get("aws_session_token"),
            }),
            _ => Err(format!(
                "profile [{profile}] of the AWS credentials file has no aws_access_key_id and aws_secret_access_key"
            )),
        }
    }
}

/// `host` or `host:port` as a client sends it in the `Host` header.
pub fn host_of(url: &url::Url) -> Result<String, String> {
    let host = url.host_str().ok_or("the endpoint has no host")?;
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
    pub fn from_env(account: &str) -> Result<Self, String> {
        let decode = |key: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(key.trim())
                .map_err(|_| "the Azure storage account key is not base64".to_owned())
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
        Err(format!(
            "neither AZURE_STORAGE_KEY nor an AZURE_STORAGE_CONNECTION_STRING for account {account} is set"
        ))
    }
}

pub struct Gcs {
    pub client_email: String,
    pub key: ring::signature::RsaKeyPair,
}

impl Gcs {
    /// The service-account key file named by `GOOGLE_APPLICATION_CREDENTIALS`.
    pub fn from_env() -> Result<Self, String> {
        let path = std::env::var("GOOGLE_APPLICATION_CREDENTIALS")
            .map_err(|_| "GOOGLE_APPLICATION_CREDENTIALS is not set".to_owned())?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read GOOGLE_APPLICATION_CREDENTIALS ({path}): {e}"))?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("{path} is not a service-account key file: {e}"))?;
        let field = |k: &str| {
            json.get(k)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .ok_or_else(|| {
                    format!("{path} has no `{k}`: signing URLs needs a service-account key")
                })
        };
        let client_email = field("client_email")?;
        let pem = field("private_key")?;
        let der: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(der.trim())
            .map_err(|_| format!("the private_key of {path} is not PEM"))?;
        let key = ring::signature::RsaKeyPair::from_pkcs8(&der)
            .map_err(|e| format!("the private_key of {path} is not an RSA PKCS#8 key: {e}"))?;
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
