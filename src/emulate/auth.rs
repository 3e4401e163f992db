//! IMS client credentials and the bearer tokens minted for them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::json;

/// The one client the emulator knows, and the tokens it has issued.
#[derive(Debug)]
pub struct Auth {
    pub client_id: String,
    pub client_secret: String,
    lifetime: Duration,
    /// Token -> expiry. Tokens are never removed early: a client holding an expired one
    /// must get 401013, exactly as from the real gateway.
    tokens: HashMap<String, Instant>,
}

/// Why a token request was refused: the OAuth2 `error` code and its description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRefusal {
    pub error: &'static str,
    pub description: &'static str,
}

/// Why an API request was refused at the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// 401 `401013`: missing, unknown or expired bearer token.
    Token,
    /// 403 `403003`: missing or wrong `x-api-key`.
    ApiKey,
}

impl Auth {
    pub fn new(client_id: String, client_secret: String, lifetime: Duration) -> Self {
        Self {
            client_id,
            client_secret,
            lifetime,
            tokens: HashMap::new(),
        }
    }

    /// The token lifetime as IMS reports it: whole seconds.
    pub fn expires_in(&self) -> u64 {
        self.lifetime.as_secs()
    }

    /// Mints a token for a client-credentials grant, given the form (or query) fields.
    pub fn issue(
        &mut self,
        field: impl Fn(&str) -> Option<String>,
        now: Instant,
    ) -> Result<String, TokenRefusal> {
        if field("grant_type").as_deref() != Some("client_credentials") {
            return Err(TokenRefusal {
                error: "unsupported_grant_type",
                description: "grant_type must be client_credentials",
            });
        }
        let id_ok = field("client_id").as_deref() == Some(self.client_id.as_str());
        let secret_ok = field("client_secret").as_deref() == Some(self.client_secret.as_str());
        if !(id_ok && secret_ok) {
            return Err(TokenRefusal {
                error: "invalid_client",
                description: "invalid client_id or client_secret",
            });
        }
        let token = jwt_like(
            &self.client_id,
            field("scope").unwrap_or_default(),
            self.lifetime,
        );
        self.tokens.insert(token.clone(), now + self.lifetime);
        Ok(token)
    }

    /// Checks the gateway headers of an API request.
    pub fn check(
        &self,
        authorization: Option<&str>,
        api_key: Option<&str>,
        now: Instant,
    ) -> Result<(), Denied> {
        let token = authorization.and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
        match token.and_then(|t| self.tokens.get(t)) {
            Some(&expiry) if now < expiry => {}
            _ => return Err(Denied::Token),
        }
        if api_key != Some(self.client_id.as_str()) {
            return Err(Denied::ApiKey);
        }
        Ok(())
    }
}

/// A random secret in the shape of Adobe's (`p8e-` and 32 characters).
pub fn random_secret() -> String {
    let mut rng = fastrand::Rng::new();
    format!(
        "p8e-{}",
        (0..32).map(|_| rng.alphanumeric()).collect::<String>()
    )
}

/// An opaque token shaped like IMS's RS256 JWT (header.payload.signature), so clients that
/// peek at the claims keep working; the "signature" is random bytes and the emulator only
/// ever compares the whole string. Claims `created_at`/`expires_in` are milliseconds as
/// strings, as in real IMS tokens.
fn jwt_like(client_id: &str, scope: String, lifetime: Duration) -> String {
    let mut rng = fastrand::Rng::new();
    let header = json!({"alg": "RS256", "x5u": "ims_na1-key-at-1.cer", "kid": "ims_na1-key-at-1", "itt": "at"});
    let created_ms = jiff::Timestamp::now().as_millisecond();
    let payload = json!({
        "id": format!("{:016x}{:016x}", rng.u64(..), rng.u64(..)),
        "type": "access_token",
        "client_id": client_id,
        "user_id": format!("{:016X}@techacct.adobe.com", rng.u64(..)),
        "as": "ims-na1",
        "created_at": created_ms.to_string(),
        "expires_in": lifetime.as_millis().to_string(),
        "scope": scope,
    });
    let signature: Vec<u8> = (0..64).map(|_| rng.u8(..)).collect();
    format!(
        "{}.{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(payload.to_string().as_bytes()),
        base64url(&signature)
    )
}

/// Unpadded base64url, all a JWT needs; not worth a dependency.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn base64url_matches_known_vectors() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn issues_tokens_only_for_the_right_client_and_grant() {
        let now = Instant::now();
        let mut auth = Auth::new("id".into(), "secret".into(), Duration::from_secs(10));
        let good = [
            ("grant_type", "client_credentials"),
            ("client_id", "id"),
            ("client_secret", "secret"),
        ];
        let token = auth.issue(form(&good), now).unwrap();
        assert_eq!(token.split('.').count(), 3);
        let bad = [
            ("grant_type", "client_credentials"),
            ("client_id", "id"),
            ("client_secret", "nope"),
        ];
        assert_eq!(
            auth.issue(form(&bad), now).unwrap_err().error,
            "invalid_client"
        );
        let grant = [
            ("grant_type", "password"),
            ("client_id", "id"),
            ("client_secret", "secret"),
        ];
        assert_eq!(
            auth.issue(form(&grant), now).unwrap_err().error,
            "unsupported_grant_type"
        );
    }

    #[test]
    fn checks_token_then_key_and_expires_tokens() {
        let now = Instant::now();
        let mut auth = Auth::new("id".into(), "secret".into(), Duration::from_secs(10));
        let good = [
            ("grant_type", "client_credentials"),
            ("client_id", "id"),
            ("client_secret", "secret"),
        ];
        let token = auth.issue(form(&good), now).unwrap();
        let bearer = format!("Bearer {token}");
        assert_eq!(auth.check(Some(&bearer), Some("id"), now), Ok(()));
        assert_eq!(
            auth.check(Some(&bearer), Some("other"), now),
            Err(Denied::ApiKey)
        );
        assert_eq!(auth.check(Some(&bearer), None, now), Err(Denied::ApiKey));
        assert_eq!(
            auth.check(Some("Bearer forged"), Some("id"), now),
            Err(Denied::Token)
        );
        assert_eq!(auth.check(None, None, now), Err(Denied::Token));
        assert_eq!(
            auth.check(Some(&token), Some("id"), now),
            Err(Denied::Token)
        );
        let later = now + Duration::from_secs(10);
        assert_eq!(
            auth.check(Some(&bearer), Some("id"), later),
            Err(Denied::Token)
        );
    }
}
