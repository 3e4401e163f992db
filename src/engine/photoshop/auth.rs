//! IMS access tokens (OAuth server-to-server client credentials): minted once, shared by every
//! worker, refreshed ahead of expiry and once when the API calls the token invalid.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::error::{AuthError, Refusal};
use crate::http;
use crate::manifest::CredentialVars;
#[cfg(test)]
use crate::remote;

/// Refresh this long before expiry, or a fifth of the lifetime for short-lived tokens.
const REFRESH_AHEAD: Duration = Duration::from_secs(300);
const MINT_ATTEMPTS: u32 = 3;

pub struct Credentials {
    pub client_id: String,
    client_secret: Option<String>,
    access_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("environment variable {var} is not set: the photoshop engine sends it as the API key")]
    MissingClientId { var: String },
    #[error(
        "neither {secret_var} nor {token_var} is set: the photoshop engine needs a client secret to mint access tokens, or an access token"
    )]
    MissingSecret {
        secret_var: String,
        token_var: String,
    },
}

impl Credentials {
    /// Reads the credentials from the environment variables the manifest names.
    pub fn from_env(
        vars: &CredentialVars,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, CredentialError> {
        let read = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let client_id = read(&vars.client_id).ok_or_else(|| CredentialError::MissingClientId {
            var: vars.client_id.clone(),
        })?;
        let client_secret = read(&vars.client_secret);
        let access_token = read(&vars.access_token);
        if client_secret.is_none() && access_token.is_none() {
            return Err(CredentialError::MissingSecret {
                secret_var: vars.client_secret.clone(),
                token_var: vars.access_token.clone(),
            });
        }
        Ok(Self {
            client_id,
            client_secret,
            access_token,
        })
    }
}

struct Token {
    value: String,
    refresh_at: Option<Instant>,
}

pub struct Auth {
    token_url: String,
    scopes: String,
    credentials: Credentials,
    cached: Mutex<Option<Token>>,
    minted: Mutex<Vec<String>>,
}

impl Auth {
    pub fn new(ims_base: &str, scopes: &str, credentials: Credentials) -> Self {
        for secret in [&credentials.client_secret, &credentials.access_token]
            .into_iter()
            .flatten()
        {
            crate::redact::register_secret(secret);
        }
        let cached = credentials.access_token.clone().map(|value| Token {
            value,
            refresh_at: None,
        });
        Self {
            token_url: format!("{}/ims/token/v3", ims_base.trim_end_matches('/')),
            scopes: scopes.to_owned(),
            credentials,
            cached: Mutex::new(cached),
            minted: Mutex::new(Vec::new()),
        }
    }

    pub fn client_id(&self) -> &str {
        &self.credentials.client_id
    }

    /// A valid token, minting one if none is cached or the cached one is about to expire.
    pub fn token(&self, client: &http::Client) -> Result<String, AuthError> {
        // Held while minting, so that workers that all find the token expired mint it once.
        let mut cached = self.cached.lock().expect("token lock");
        if let Some(token) = cached.as_ref()
            && token.refresh_at.is_none_or(|at| Instant::now() < at)
        {
            return Ok(token.value.clone());
        }
        let reason = if cached.is_some() {
            "expiring"
        } else {
            "none cached"
        };
        tracing::debug!(target: "maskflow::auth", reason = %reason, "minting an access token");
        let token = self.mint(client, None)?;
        let value = token.value.clone();
        *cached = Some(token);
        self.minted.lock().expect("minted lock").push(value.clone());
        Ok(value)
    }

    /// The API refused `token` with `refusal`. Returns whether a fresh one can be tried.
    pub fn rejected(&self, token: &str, refusal: &Refusal) -> Result<(), AuthError> {
        let mut cached = self.cached.lock().expect("token lock");
        if cached.as_ref().is_some_and(|t| t.value == token) {
            *cached = None;
        }
        tracing::debug!(
            target: "maskflow::auth",
            status = refusal.status,
            code = %refusal.code.as_deref().unwrap_or("-"),
            request_id = %refusal.request_id.as_deref().unwrap_or("-"),
            "the API refused the access token; minting a fresh one"
        );
        if self.credentials.client_secret.is_some() {
            Ok(())
        } else {
            Err(AuthError::NoSecret {
                refusal: Some(refusal.clone()),
            })
        }
    }

    /// Tokens minted since the last call, for the reporter to mask in CI logs.
    pub fn take_minted(&self) -> Vec<String> {
        std::mem::take(&mut *self.minted.lock().expect("minted lock"))
    }

    fn mint(&self, client: &http::Client, refusal: Option<Refusal>) -> Result<Token, AuthError> {
        let Some(secret) = &self.credentials.client_secret else {
            return Err(AuthError::NoSecret { refusal });
        };
        let mut attempt = 1;
        loop {
            let sent = Instant::now();
            let request = http::Request::post(&self.token_url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", self.credentials.client_id.as_str()),
                    ("client_secret", secret.as_str()),
                    ("scope", self.scopes.as_str()),
                ])
                .attempt(attempt);
            let failure = match super::read_reply(client.send(request)) {
                Ok(reply) if reply.status == 200 => {
                    let token = parse_token(&reply.body, sent, reply.request_id.as_deref())?;
                    crate::redact::register_secret(&token.value);
                    tracing::debug!(
                        target: "maskflow::auth",
                        attempt,
                        request_id = %reply.request_id.as_deref().unwrap_or("-"),
                        refresh_in_s = token
                            .refresh_at
                            .map_or(0, |at| at.saturating_duration_since(Instant::now()).as_secs()),
                        "access token minted"
                    );
                    return Ok(token);
                }
                Ok(reply) => {
                    let refusal =
                        Refusal::new(reply.status, &reply.body, reply.request_id.as_deref());
                    if reply.status < 500 && reply.status != 429 {
                        return Err(AuthError::Refused { refusal });
                    }
                    AuthError::Unavailable {
                        refusal,
                        attempts: attempt,
                    }
                }
                Err(source) => AuthError::Unreachable {
                    source,
                    attempts: attempt,
                },
            };
            if attempt >= MINT_ATTEMPTS {
                return Err(failure);
            }
            let wait = super::retry::backoff(attempt);
            let request_id = match &failure {
                AuthError::Unavailable { refusal, .. } => refusal.request_id.clone(),
                _ => None,
            };
            http::log_retry(wait, &failure.to_string(), attempt, request_id.as_deref());
            std::thread::sleep(wait);
            attempt += 1;
        }
    }
}

fn parse_token(body: &Value, sent: Instant, request_id: Option<&str>) -> Result<Token, AuthError> {
    let value = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AuthError::NoToken {
            request_id: request_id.map(str::to_owned),
        })?;
    // `expires_in` is in seconds in the token response (the JWT inside counts milliseconds).
    let lifetime = body
        .get("expires_in")
        .and_then(|v| v.as_f64().or_else(|| v.as_str()?.parse().ok()))
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(Duration::from_secs(3600), Duration::from_secs_f64);
    let ahead = REFRESH_AHEAD.min(lifetime / 5);
    Ok(Token {
        value: value.to_owned(),
        refresh_at: Some(sent + lifetime - ahead),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> CredentialVars {
        CredentialVars::default()
    }

    #[test]
    fn credentials_come_from_the_named_variables() {
        let env = |pairs: &'static [(&str, &str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(matches!(
            Credentials::from_env(&vars(), env(&[])),
            Err(CredentialError::MissingClientId { var }) if var == "PHOTOSHOP_CLIENT_ID"
        ));
        assert!(matches!(
            Credentials::from_env(&vars(), env(&[("PHOTOSHOP_CLIENT_ID", "id")])),
            Err(CredentialError::MissingSecret { .. })
        ));
        let c = Credentials::from_env(
            &vars(),
            env(&[
                ("PHOTOSHOP_CLIENT_ID", "id"),
                ("PHOTOSHOP_ACCESS_TOKEN", "t"),
            ]),
        )
        .unwrap();
        assert_eq!(c.client_id, "id");
        let auth = Auth::new("http://127.0.0.1:1/", "s", c);
        assert_eq!(auth.token_url, "http://127.0.0.1:1/ims/token/v3");
        // A given token is used as is, and without a secret it cannot be replaced.
        let agent = remote::agent(Duration::from_secs(1));
        assert_eq!(auth.token(&agent).unwrap(), "t");
        let refusal = Refusal::new(
            401,
            &serde_json::json!({"error_code": "401013"}),
            Some("r1"),
        );
        assert!(matches!(
            auth.rejected("t", &refusal),
            Err(AuthError::NoSecret { refusal: Some(Refusal { request_id: Some(id), .. }) }) if id == "r1"
        ));
        assert!(matches!(
            auth.token(&agent),
            Err(AuthError::NoSecret { refusal: None })
        ));
    }

    #[test]
    fn tokens_refresh_ahead_of_expiry() {
        let now = Instant::now();
        let day = parse_token(
            &serde_json::json!({"access_token": "a", "expires_in": 86399}),
            now,
            None,
        )
        .unwrap();
        assert_eq!(day.refresh_at, Some(now + Duration::from_secs(86399 - 300)));
        let short = parse_token(
            &serde_json::json!({"access_token": "a", "expires_in": "10"}),
            now,
            None,
        )
        .unwrap();
        assert_eq!(short.refresh_at, Some(now + Duration::from_secs(8)));
        assert!(matches!(
            parse_token(&serde_json::json!({"token": "a"}), now, Some("r2")),
            Err(AuthError::NoToken { request_id: Some(id) }) if id == "r2"
        ));
    }
}
