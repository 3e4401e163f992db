//! S3 and S3-compatible pre-signed URLs (SigV4), virtual-hosted on AWS, path-style on a
//! custom endpoint.

use std::time::{Duration, SystemTime};

use super::credentials::{S3, host_of};
use super::{Method, S3Settings, SignError, amz_timestamp, sigv4};

pub fn presign(
    settings: &S3Settings,
    creds: &S3,
    bucket: &str,
    key: &str,
    method: Method,
    expires: Duration,
    now: SystemTime,
) -> Result<String, SignError> {
    let region = settings
        .region
        .clone()
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .unwrap_or_else(|| "us-east-1".to_owned());
    let (base, path_style) = match &settings.endpoint {
        Some(endpoint) => (
            url::Url::parse(endpoint).map_err(|e| SignError::Endpoint {
                setting: "storage.s3.endpoint",
                reason: e.to_string(),
            })?,
            settings.path_style.unwrap_or(true),
        ),
        None if settings.path_style == Some(true) => (
            url::Url::parse(&format!("https://s3.{region}.amazonaws.com")).map_err(|e| {
                SignError::Endpoint {
                    setting: "storage.s3.region",
                    reason: e.to_string(),
                }
            })?,
            true,
        ),
        None => (
            url::Url::parse(&format!("https://{bucket}.s3.{region}.amazonaws.com")).map_err(
                |e| SignError::Endpoint {
                    setting: "storage.s3.region",
                    reason: e.to_string(),
                },
            )?,
            false,
        ),
    };
    let host = host_of(&base, "storage.s3.endpoint")?;
    let mut segments: Vec<&str> = base
        .path_segments()
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect();
    if path_style {
        segments.push(bucket);
    }
    segments.extend(key.split('/'));
    let timestamp = amz_timestamp(now);
    let signed = sigv4::presign(
        sigv4::S3,
        &sigv4::Request {
            method: method.as_str(),
            host: &host,
            segments: &segments,
            region: &region,
            timestamp: &timestamp,
            expires_seconds: expires.as_secs().max(1),
            credential_id: &creds.access_key,
            security_token: creds.session_token.as_deref(),
        },
        &sigv4::Key::Hmac {
            secret: &creds.secret_key,
        },
    )?;
    Ok(format!("{}://{host}{signed}", base.scheme()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_path_style_on_custom_endpoints() {
        let creds = S3 {
            access_key: "AK".into(),
            secret_key: "SK".into(),
            session_token: None,
        };
        let settings = S3Settings {
            endpoint: Some("http://127.0.0.1:9000".into()),
            region: Some("us-east-1".into()),
            path_style: None,
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let url = presign(
            &settings,
            &creds,
            "b",
            "in/a b.png",
            Method::Get,
            Duration::from_secs(60),
            now,
        )
        .unwrap();
        assert!(
            url.starts_with(
                "http://127.0.0.1:9000/b/in/a%20b.png?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            ),
            "{url}"
        );
        let aws = S3Settings {
            region: Some("eu-west-1".into()),
            ..S3Settings::default()
        };
        let url = presign(
            &aws,
            &creds,
            "b",
            "k.png",
            Method::Put,
            Duration::from_secs(60),
            now,
        )
        .unwrap();
        assert!(
            url.starts_with("https://b.s3.eu-west-1.amazonaws.com/k.png?"),
            "{url}"
        );
    }
}
