//! Container credentials from `AWS_CONTAINER_CREDENTIALS_FULL_URI` (EKS Pod Identity, ECS
//! Anywhere, Greengrass, local emulators), with the authorization token from
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read at each fetch: it is rotated) or
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN`, or none, as the AWS SDKs do. Ours rather than
//! `object_store`'s, which uses the full URI only together with a token file and otherwise
//! falls through to instance metadata without a word.
//!
//! `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (ECS task roles) stays with `object_store`: its
//! host is fixed at `169.254.170.2` by the platform, and nothing here would do it better.

use std::time::{Duration, SystemTime};

use object_store::aws::AwsCredential;

use super::CredentialError;
use super::refresh::{Fetch, Fetched, exchange};
use crate::http::Request;
use crate::redact::{register_secret, scrub};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub url: String,
    pub token: Option<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    File(String),
    Value(String),
}

impl Container {
    /// From the environment, when `AWS_CONTAINER_CREDENTIALS_FULL_URI` is set.
    pub fn from_env() -> Option<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let url = var("AWS_CONTAINER_CREDENTIALS_FULL_URI")?;
        let token = var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
            .map(Token::File)
            .or_else(|| var("AWS_CONTAINER_AUTHORIZATION_TOKEN").map(Token::Value));
        if let Some(Token::Value(token)) = &token {
            register_secret(token);
        }
        Some(Self {
            url: url.trim().to_owned(),
            token,
        })
    }

    fn failed(&self, reason: impl Into<String>) -> CredentialError {
        CredentialError::Container {
            url: crate::redact::redact_text(&self.url),
            reason: reason.into(),
        }
    }

    /// The URL, if the SDKs would use it: https anywhere, plain http only to this machine or
    /// the link-local addresses of the ECS and EKS agents (the token must not travel
    /// elsewhere in clear).
    fn checked_url(&self) -> Result<&str, CredentialError> {
        let url = url::Url::parse(&self.url).map_err(|e| self.failed(format!("not a URL: {e}")))?;
        let agent = match url.host() {
            Some(url::Host::Ipv4(ip)) => {
                ip.is_loopback()
                    || ip.octets() == [169, 254, 170, 2]
                    || ip.octets() == [169, 254, 170, 23]
            }
            Some(url::Host::Ipv6(ip)) => {
                ip.is_loopback()
                    || ip == std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23)
            }
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        match url.scheme() {
            "https" => Ok(&self.url),
            "http" if agent => Ok(&self.url),
            _ => Err(self.failed(
                "plain http is used only to 127.0.0.1, localhost, 169.254.170.2, 169.254.170.23 or fd00:ec2::23; anything else must be https",
            )),
        }
    }

    fn authorization(&self) -> Result<Option<String>, CredentialError> {
        let path = match &self.token {
            None => return Ok(None),
            Some(Token::Value(token)) => return Ok(Some(token.clone())),
            Some(Token::File(path)) => path,
        };
        let unreadable = |reason: String| CredentialError::ContainerToken {
            path: path.clone(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
        let token = text.trim();
        if token.is_empty() {
            return Err(unreadable("it is empty".to_owned()));
        }
        register_secret(token);
        Ok(Some(token.to_owned()))
    }
}

impl Fetch for Container {
    fn fetch(&self) -> Result<Fetched, CredentialError> {
        let url = self.checked_url()?;
        let authorization = self.authorization()?;
        let (status, body) = exchange(
            || {
                let request = Request::get(url).header("Accept", "application/json");
                match &authorization {
                    Some(token) => request.header("Authorization", token.clone()),
                    None => request,
                }
            },
            |_| false,
        )
        .map_err(|reason| self.failed(reason))?;
        if !(200..300).contains(&status) {
            let excerpt: String = scrub(body.trim()).chars().take(300).collect();
            return Err(self.failed(format!("it answered {status}: {excerpt}")));
        }
        parse(&body).map_err(|reason| self.failed(reason))
    }
}

/// The endpoint's JSON, as ECS and EKS answer it.
fn parse(body: &str) -> Result<Fetched, String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Answer {
        access_key_id: String,
        secret_access_key: String,
        token: Option<String>,
        expiration: Option<String>,
    }
    let answer: Answer = serde_json::from_str(body)
        .map_err(|e| format!("its answer is not the credential JSON: {e}"))?;
    register_secret(&answer.secret_access_key);
    if let Some(token) = &answer.token {
        register_secret(token);
    }
    let expires = match answer.expiration {
        Some(text) => {
            let at = text
                .parse::<jiff::Timestamp>()
                .map_err(|e| format!("its Expiration `{text}` is not a time: {e}"))?;
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(at.as_second().max(0) as u64))
        }
        None => None,
    };
    Ok(Fetched {
        credential: AwsCredential {
            key_id: answer.access_key_id,
            secret_key: answer.secret_access_key,
            token: answer.token,
        },
        expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_goes_only_to_this_machine_or_the_agents() {
        let at = |url: &str| Container {
            url: url.into(),
            token: None,
        };
        for good in [
            "http://127.0.0.1:8080/creds",
            "http://localhost/creds",
            "http://169.254.170.23/v1/credentials",
            "http://[fd00:ec2::23]/v1/credentials",
            "https://creds.example.com/v1",
        ] {
            assert!(at(good).checked_url().is_ok(), "{good}");
        }
        for bad in [
            "http://creds.example.com/v1",
            "ftp://127.0.0.1/",
            "nonsense",
        ] {
            assert!(at(bad).checked_url().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_answer_gives_keys_a_token_and_their_expiry() {
        let fetched = parse(
            r#"{"AccessKeyId":"ASIA1","SecretAccessKey":"s3cr3t-key","Token":"t0ken-value","Expiration":"2026-12-02T11:00:00Z","RoleArn":"arn:aws:iam::1:role/r"}"#,
        )
        .unwrap();
        assert_eq!(fetched.credential.key_id, "ASIA1");
        assert_eq!(fetched.credential.token.as_deref(), Some("t0ken-value"));
        assert!(fetched.expires.is_some());
        assert!(parse(r#"{"code":"AccessDenied"}"#).is_err());
    }
}
