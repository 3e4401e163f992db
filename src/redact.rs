//! URLs that carry credentials, and the secrets no output may show. Pre-signed URLs hold
//! their signature in the query string, so a URL is only ever shown without it: `Display` and
//! `Debug` both redact. Secrets met at run time (client secrets, access tokens, storage keys)
//! are registered here, and `scrub` removes them, bearer tokens and URL queries from text:
//! the diagnostics writer passes every line through it.

use std::fmt;
use std::sync::RwLock;

/// A URL whose query string (and any user info) is a credential.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(url::Url);

impl SecretUrl {
    pub fn parse(raw: &str) -> Result<Self, url::ParseError> {
        url::Url::parse(raw).map(Self)
    }

    /// The full URL, credentials included: only for sending it where it belongs.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &url::Url {
        &self.0
    }

    /// The URL as it may be shown and recorded: no user info, query or fragment.
    pub fn redacted(&self) -> String {
        redact(&self.0)
    }

    /// Whether the host is this machine, where plain `http://` is acceptable.
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.0)
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({})", self.redacted())
    }
}

pub fn redact(url: &url::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// Redacts every URL found in `text`, e.g. in an error message that quotes one.
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("http") {
        out.push_str(&rest[..start]);
        let candidate = &rest[start..];
        let end = candidate
            // A backslash ends it too: inside JSON text it escapes the closing quote; a backtick
            // closes a URL quoted in Markdown.
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>' | '\\'))
            .unwrap_or(candidate.len());
        match url::Url::parse(&candidate[..end]) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => out.push_str(&redact(&url)),
            // Not a URL this parser takes, but it may still carry a signed query.
            _ if candidate.starts_with("http://") || candidate.starts_with("https://") => {
                out.push_str(
                    candidate[..end]
                        .split(['?', '#'])
                        .next()
                        .unwrap_or_default(),
                );
            }
            _ => out.push_str(&candidate[..end]),
        }
        rest = &candidate[end..];
    }
    out.push_str(rest);
    out
}

/// `raw` as it may be shown: a URL without user info, query or fragment.
pub fn shown_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(url) => redact(&url),
        Err(_) => raw.split(['?', '#']).next().unwrap_or_default().to_owned(),
    }
}

/// Secrets shorter than this are not registered: scrubbing them would mangle ordinary words.
const MIN_SECRET: usize = 8;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Registers a secret that `scrub` removes from any text from now on.
pub fn register_secret(secret: &str) {
    let secret = secret.trim();
    if secret.len() < MIN_SECRET {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if !secrets.iter().any(|s| s == secret) {
        secrets.push(secret.to_owned());
        // Longest first, so that a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// `text` with every registered secret, every `Bearer` token and every URL's query replaced.
pub fn scrub(text: &str) -> String {
    let mut out = redact_text(text);
    {
        let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
        for secret in secrets.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "[redacted]");
            }
        }
    }
    scrub_bearer(&out)
}

/// Replaces what follows `Bearer ` (any case) up to a quote, comma or whitespace.
fn scrub_bearer(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(found) = lower[at..].find("bearer ") {
        let start = at + found + "bearer ".len();
        let end = text[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ';' | '\\'))
            .map_or(text.len(), |n| start + n);
        out.push_str(&text[at..start]);
        if end > start {
            out.push_str("[redacted]");
        }
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

pub fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_never_show() {
        let url =
            SecretUrl::parse("https://u:p@bucket.s3.amazonaws.com/a/b.png?X-Amz-Signature=abc#f")
                .unwrap();
        assert_eq!(url.to_string(), "https://bucket.s3.amazonaws.com/a/b.png");
        assert!(!format!("{url:?}").contains("abc"));
        assert!(url.expose().contains("X-Amz-Signature=abc"));
    }

    #[test]
    fn urls_inside_text_are_redacted() {
        let text = "GET http://127.0.0.1:9/x.png?sig=SECRET failed: (see \"https://h/p?token=T\")";
        let shown = redact_text(text);
        assert!(
            !shown.contains("SECRET") && !shown.contains("token=T"),
            "{shown}"
        );
        assert!(shown.contains("http://127.0.0.1:9/x.png failed"), "{shown}");
        assert_eq!(
            redact_text("model `https://h/m.onnx?sig=S` failed"),
            "model `https://h/m.onnx` failed",
            "a backtick ends a quoted URL"
        );
        assert_eq!(
            redact_text("no urls, just httpish words"),
            "no urls, just httpish words"
        );
    }

    #[test]
    fn scrub_removes_secrets_bearer_tokens_and_queries() {
        register_secret("p8e-client-secret-42");
        register_secret("short");
        let text = "client_secret=p8e-client-secret-42 Authorization: \"Bearer eyJ.abc.def\" \
                    url=http://[::1:9/x?sig=S1 and https://h/p.png?X-Amz-Signature=S2 said short";
        let shown = scrub(text);
        for leak in ["p8e-client-secret-42", "eyJ.abc.def", "S1", "S2"] {
            assert!(!shown.contains(leak), "{leak} in {shown}");
        }
        assert!(shown.contains("Bearer [redacted]\""), "{shown}");
        assert!(shown.contains("https://h/p.png said short"), "{shown}");
        assert_eq!(scrub("bearer"), "bearer");
        assert_eq!(shown_url("https://u:p@h/a?b=c#d"), "https://h/a");
        assert_eq!(shown_url("not a url?sig=1"), "not a url");
    }

    #[test]
    fn loopback_hosts() {
        for (raw, loopback) in [
            ("http://127.0.0.1:8/x", true),
            ("http://localhost/x", true),
            ("http://[::1]/x", true),
            ("http://example.com/x", false),
        ] {
            assert_eq!(
                SecretUrl::parse(raw).unwrap().is_loopback(),
                loopback,
                "{raw}"
            );
        }
    }
}
