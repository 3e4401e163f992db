//! Google Cloud Storage V4 signed URLs, signed with a service account's RSA key.

use std::time::{Duration, SystemTime};

use super::credentials::{Gcs, host_of};
use super::{GcsSettings, Method, SignError, amz_timestamp, sigv4};

pub fn presign(
    settings: &GcsSettings,
    creds: &Gcs,
    bucket: &str,
    key: &str,
    method: Method,
    expires: Duration,
    now: SystemTime,
) -> Result<String, SignError> {
    let base = url::Url::parse(
        settings
            .endpoint
            .as_deref()
            .unwrap_or("https://storage.googleapis.com"),
    )
    .map_err(|e| SignError::Endpoint {
        setting: "storage.gcs.endpoint",
        reason: e.to_string(),
    })?;
    let host = host_of(&base, "storage.gcs.endpoint")?;
    let segments: Vec<&str> = std::iter::once(bucket).chain(key.split('/')).collect();
    let timestamp = amz_timestamp(now);
    let signed = sigv4::presign(
        sigv4::GCS,
        &sigv4::Request {
            method: method.as_str(),
            host: &host,
            segments: &segments,
            region: "auto",
            timestamp: &timestamp,
            // GCS allows at most 7 days.
            expires_seconds: expires.as_secs().clamp(1, 604_800),
            credential_id: &creds.client_email,
            security_token: None,
        },
        &sigv4::Key::Rsa(&creds.key),
    )?;
    Ok(format!("{}://{host}{signed}", base.scheme()))
}
