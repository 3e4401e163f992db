//! A reference implementation of query-string signing in the AWS Signature Version 4 shape,
//! which S3 uses as is and Google Cloud Storage uses as "V4 signing" (GOOG4 prefixes, RSA or
//! HMAC keys). Test-only: `object_store` signs for real; this code, checked against the
//! published examples of AWS and Google, checks `object_store`'s URLs in turn (see `gcs`).

use std::fmt::Write as _;

use ring::{digest, hmac};

/// The prefixes that tell an S3 signature from a GCS one.
#[derive(Debug, Clone, Copy)]
pub struct Flavor {
    /// `AWS4` or `GOOG4`.
    pub scheme: &'static str,
    /// `X-Amz` or `X-Goog`.
    pub header_prefix: &'static str,
    /// `s3` or `storage`.
    pub service: &'static str,
    /// `aws4_request` or `goog4_request`.
    pub terminator: &'static str,
}

pub const S3: Flavor = Flavor {
    scheme: "AWS4",
    header_prefix: "X-Amz",
    service: "s3",
    terminator: "aws4_request",
};

pub const GCS: Flavor = Flavor {
    scheme: "GOOG4",
    header_prefix: "X-Goog",
    service: "storage",
    terminator: "goog4_request",
};

/// What one signature covers.
pub struct Request<'a> {
    pub method: &'a str,
    /// `host` or `host:port`, exactly as the client will send it.
    pub host: &'a str,
    /// The path, already split into unencoded segments.
    pub segments: &'a [&'a str],
    pub region: &'a str,
    /// `YYYYMMDDTHHMMSSZ`.
    pub timestamp: &'a str,
    pub expires_seconds: u64,
    pub credential_id: &'a str,
    /// A session token (S3 temporary credentials).
    pub security_token: Option<&'a str>,
}

/// Signs `string_to_sign` with the credential's secret: HMAC for S3 and GCS HMAC keys,
/// RSA for GCS service accounts.
pub enum Key<'a> {
    Hmac { secret: &'a str },
    Rsa(&'a ring::signature::RsaKeyPair),
}

#[derive(Debug)]
pub struct RsaFailed;

/// Returns the path and query of the pre-signed URL (`/a/b?X-Amz-...`).
pub fn presign(flavor: Flavor, request: &Request<'_>, key: &Key<'_>) -> Result<String, RsaFailed> {
    let date = &request.timestamp[..8];
    let scope = format!(
        "{date}/{}/{}/{}",
        request.region, flavor.service, flavor.terminator
    );
    let algorithm = match key {
        Key::Hmac { .. } => format!("{}-HMAC-SHA256", flavor.scheme),
        Key::Rsa(_) => format!("{}-RSA-SHA256", flavor.scheme),
    };
    let p = flavor.header_prefix;
    let mut params = vec![
        (format!("{p}-Algorithm"), algorithm.clone()),
        (
            format!("{p}-Credential"),
            format!("{}/{scope}", request.credential_id),
        ),
        (format!("{p}-Date"), request.timestamp.to_owned()),
        (format!("{p}-Expires"), request.expires_seconds.to_string()),
        (format!("{p}-SignedHeaders"), "host".to_owned()),
    ];
    if let Some(token) = request.security_token {
        params.push((format!("{p}-Security-Token"), token.to_owned()));
    }
    params.sort();
    let query = params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let path: String = request
        .segments
        .iter()
        .map(|s| format!("/{}", encode(s)))
        .collect();
    let path = if path.is_empty() {
        "/".to_owned()
    } else {
        path
    };
    let canonical = format!(
        "{}\n{path}\n{query}\nhost:{}\n\nhost\nUNSIGNED-PAYLOAD",
        request.method, request.host
    );
    let string_to_sign = format!(
        "{algorithm}\n{}\n{scope}\n{}",
        request.timestamp,
        hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
    );
    let signature = match key {
        Key::Hmac { secret } => {
            let mut signing = hmac_sha256(format!("{}{secret}", flavor.scheme).as_bytes(), date);
            for part in [request.region, flavor.service, flavor.terminator] {
                signing = hmac_sha256(&signing, part);
            }
            hex(&hmac_sha256(&signing, &string_to_sign))
        }
        Key::Rsa(pair) => {
            let mut signature = vec![0; pair.public().modulus_len()];
            pair.sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                string_to_sign.as_bytes(),
                &mut signature,
            )
            .map_err(|_| RsaFailed)?;
            hex(&signature)
        }
    };
    Ok(format!("{path}?{query}&{p}-Signature={signature}"))
}

fn hmac_sha256(key: &[u8], data: &str) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    hmac::sign(&key, data.as_bytes()).as_ref().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// URI-encodes everything but the unreserved characters, as SigV4 requires.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of AWS's "Authenticating Requests: Using Query Parameters (AWS Signature
    /// Version 4)" documentation.
    #[test]
    fn matches_the_documented_s3_example() {
        let url = presign(
            S3,
            &Request {
                method: "GET",
                host: "examplebucket.s3.amazonaws.com",
                segments: &["test.txt"],
                region: "us-east-1",
                timestamp: "20130524T000000Z",
                expires_seconds: 86400,
                credential_id: "AKIAIOSFODNN7EXAMPLE",
                security_token: None,
            },
            &Key::Hmac {
                secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            },
        )
        .unwrap();
        assert_eq!(
            url,
            "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn encoding_keeps_only_unreserved_characters() {
        assert_eq!(encode("a b/c~d_e.f-g+h"), "a%20b%2Fc~d_e.f-g%2Bh");
        assert_eq!(encode("é"), "%C3%A9");
    }
}
