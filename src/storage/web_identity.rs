//! Web identity (EKS service accounts, GitHub Actions OIDC): an OIDC token from a file,
//! exchanged with STS `AssumeRoleWithWebIdentity` for the role's temporary keys. Ours rather
//! than `object_store`'s, which sends it to `AWS_ENDPOINT_URL_STS` over https only and never
//! to `AWS_ENDPOINT_URL`: here the endpoint is chosen as the AWS SDKs choose it, the exchange
//! goes through the program's one HTTP stack (logged, no redirects), and a failure is a
//! `CredentialError` that names the token file and says what to check.
//!
//! The token file is read again at each exchange: EKS and the Actions runner replace it
//! before it expires. The token itself is never shown: it goes in a POST body (not the URL),
//! is registered with `redact`, and no error quotes it.

use std::time::{Duration, SystemTime};

use object_store::aws::AwsCredential;

use super::CredentialError;
use super::refresh::{Fetch, Fetched, exchange};
use crate::http::Request;
use crate::redact::{register_secret, scrub};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIdentity {
    pub role_arn: String,
    pub token_file: String,
    pub session_name: String,
    /// Where `AssumeRoleWithWebIdentity` is sent.
    pub endpoint: String,
}

impl WebIdentity {
    /// The role and token file from a profile or the environment. `session_name` defaults to
    /// `maskflow-<unix seconds>`, as the SDKs default to a name with a time; the endpoint is
    /// `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`, else STS in `region`.
    pub fn new(
        role_arn: String,
        token_file: String,
        session_name: Option<String>,
        region: &str,
    ) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let session_name = session_name.unwrap_or_else(|| {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            format!("maskflow-{}", now.as_secs())
        });
        let endpoint = var("AWS_ENDPOINT_URL_STS")
            .or_else(|| var("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|| regional_endpoint(region));
        Self {
            role_arn,
            token_file,
            session_name,
            endpoint: endpoint.trim().to_owned(),
        }
    }

    /// `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE` (+ `AWS_ROLE_SESSION_NAME`), if both
    /// are set.
    pub fn from_env(region: &str) -> Option<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let role_arn = var("AWS_ROLE_ARN")?;
        let token_file = var("AWS_WEB_IDENTITY_TOKEN_FILE")?;
        Some(Self::new(
            role_arn,
            token_file,
            var("AWS_ROLE_SESSION_NAME"),
            region,
        ))
    }

    fn failed(&self, reason: impl Into<String>) -> CredentialError {
        CredentialError::Sts {
            role_arn: self.role_arn.clone(),
            token_file: self.token_file.clone(),
            endpoint: self.endpoint.clone(),
            reason: reason.into(),
        }
    }

    fn token(&self) -> Result<String, CredentialError> {
        let unreadable = |reason: String| CredentialError::WebIdentityToken {
            path: self.token_file.clone(),
            reason,
        };
        let text =
            std::fs::read_to_string(&self.token_file).map_err(|e| unreadable(e.to_string()))?;
        let token = text.trim();
        if token.is_empty() {
            return Err(unreadable("it is empty".to_owned()));
        }
        register_secret(token);
        Ok(token.to_owned())
    }

    /// The URL the form is posted to. Plain http only to this machine: the token is a
    /// credential, and a local STS stand-in is the only reason to leave https.
    fn url(&self) -> Result<String, CredentialError> {
        let url = url::Url::parse(&self.endpoint)
            .map_err(|e| self.failed(format!("the STS endpoint is not a URL: {e}")))?;
        match url.scheme() {
            "https" => {}
            "http" if crate::redact::is_loopback_host(&url) => {}
            _ => {
                return Err(self.failed(
                    "the STS endpoint must be https (plain http only to 127.0.0.1 or localhost)",
                ));
            }
        }
        Ok(url.to_string())
    }
}

impl Fetch for WebIdentity {
    fn fetch(&self) -> Result<Fetched, CredentialError> {
        let url = self.url()?;
        let token = self.token()?;
        let form = [
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", self.role_arn.as_str()),
            ("RoleSessionName", self.session_name.as_str()),
            ("WebIdentityToken", token.as_str()),
        ];
        let (status, body) = exchange(
            || Request::post(&url).form(&form).header("Accept", "text/xml"),
            // STS throttles with a 400 of this code.
            |body| element(body, "Code").as_deref() == Some("Throttling"),
        )
        .map_err(|reason| self.failed(reason))?;
        if !(200..300).contains(&status) {
            return Err(self.failed(refusal(status, &body)));
        }
        parse_credentials(&body).map_err(|reason| self.failed(reason))
    }
}

/// STS in `region`, as the SDKs address it (the China regions have their own domain).
fn regional_endpoint(region: &str) -> String {
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://sts.{region}.{domain}")
}

/// STS's error, `403 AccessDenied: Not authorized to perform ...`, without secrets and
/// bounded.
fn refusal(status: u16, body: &str) -> String {
    let said = match (element(body, "Code"), element(body, "Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        _ => body.trim().chars().take(200).collect(),
    };
    let said: String = scrub(&said).chars().take(400).collect();
    format!("STS refused it with {status} {said}")
}

/// The `Credentials` of an `AssumeRoleWithWebIdentityResponse`.
fn parse_credentials(body: &str) -> Result<Fetched, String> {
    let credentials = element(body, "Credentials")
        .ok_or("STS answered without Credentials (is the endpoint STS?)")?;
    let field = |name: &str| {
        element(&credentials, name)
            .filter(|v| !v.is_empty())
            .ok_or(format!("STS answered Credentials without {name}"))
    };
    let key_id = field("AccessKeyId")?;
    let secret_key = field("SecretAccessKey")?;
    // Register before anything else can fail and quote the answer.
    register_secret(&secret_key);
    let token = field("SessionToken")?;
    register_secret(&token);
    let expiration = field("Expiration")?;
    let at = expiration
        .parse::<jiff::Timestamp>()
        .map_err(|e| format!("STS's Expiration `{expiration}` is not a time: {e}"))?;
    Ok(Fetched {
        credential: AwsCredential {
            key_id,
            secret_key,
            token: Some(token),
        },
        expires: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(at.as_second().max(0) as u64)),
    })
}

/// The text of the first `<name>...</name>` element, entities decoded. STS answers are
/// small, fixed documents whose elements carry no attributes (the root's namespace aside),
/// so this is all the XML they need; no XML parser is pulled in for it.
fn element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    let text = xml[start..end].trim();
    Some(
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>repo:acme/photos:ref:refs/heads/main</SubjectFromWebIdentityToken>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/masks/ci</Arn>
      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:ci</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>FwoGZXIvYXdzE&amp;token+/=</SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <Expiration>2026-12-02T11:00:00Z</Expiration>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>"#;

    #[test]
    fn an_sts_answer_gives_keys_a_token_and_their_expiry() {
        let fetched = parse_credentials(ANSWER).unwrap();
        assert_eq!(fetched.credential.key_id, "ASIAIOSFODNN7EXAMPLE");
        assert_eq!(
            fetched.credential.secret_key,
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
        );
        assert_eq!(
            fetched.credential.token.as_deref(),
            Some("FwoGZXIvYXdzE&token+/=")
        );
        let expires = fetched.expires.unwrap();
        assert_eq!(
            expires.duration_since(SystemTime::UNIX_EPOCH).unwrap(),
            Duration::from_secs(1_796_209_200)
        );
        assert!(parse_credentials("<html>login</html>").is_err());
    }

    #[test]
    fn an_sts_error_is_told_by_its_code_and_message() {
        let body = r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>
  <Message>Couldn&apos;t retrieve verification key from your identity provider</Message></Error>
  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>"#;
        assert_eq!(
            refusal(400, body),
            "STS refused it with 400 InvalidIdentityToken: Couldn't retrieve verification key from your identity provider"
        );
        assert_eq!(
            refusal(502, "Bad Gateway"),
            "STS refused it with 502 Bad Gateway"
        );
    }

    #[test]
    fn sts_is_addressed_in_the_buckets_region() {
        assert_eq!(
            regional_endpoint("eu-west-1"),
            "https://sts.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            regional_endpoint("cn-north-1"),
            "https://sts.cn-north-1.amazonaws.com.cn"
        );
    }

    #[test]
    fn plain_http_goes_only_to_this_machine() {
        let at = |endpoint: &str| WebIdentity {
            role_arn: "arn:aws:iam::1:role/r".into(),
            token_file: "/t".into(),
            session_name: "s".into(),
            endpoint: endpoint.into(),
        };
        assert!(at("https://sts.eu-west-1.amazonaws.com").url().is_ok());
        assert!(at("http://127.0.0.1:4566").url().is_ok());
        assert!(at("http://localhost:4566").url().is_ok());
        assert!(at("http://sts.example.com").url().is_err());
        assert!(at("sts.amazonaws.com").url().is_err());
    }
}
