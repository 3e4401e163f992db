//! URLs that carry credentials. Pre-signed URLs hold their signature in the query string,
//! so a URL is only ever shown without it: `Display` and `Debug` both redact.

use std::fmt;

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
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'))
            .unwrap_or(candidate.len());
        match url::Url::parse(&candidate[..end]) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => out.push_str(&redact(&url)),
            _ => out.push_str(&candidate[..end]),
        }
        rest = &candidate[end..];
    }
    out.push_str(rest);
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
