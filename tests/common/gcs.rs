//! A stand-in for Google's side of workload identity federation and for a GCS bucket, on
//! 127.0.0.1: an OIDC token URL (GitHub's, in shape), STS's token exchange, IAM Credentials'
//! `generateAccessToken` and `signBlob`, and the GCS XML API `object_store` calls (GET, HEAD,
//! PUT, DELETE of an object; `?list-type=2` listing). Each endpoint checks what it receives
//! (the form fields, the bearer tokens, the payload) and counts its calls; the bucket
//! answers only the final access token, or a URL whose signature `signBlob` issued.
//!
//! No maintained GCS emulator from the registries serves the XML API `object_store` 0.14
//! uses (gcp-storage-emulator has no XML HEAD, DELETE or listing, and sends no
//! Last-Modified; fake-gcs-server has no XML PUT, DELETE or listing), hence this.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use base64::Engine as _;

pub const AUDIENCE: &str =
    "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/ci/providers/github";
pub const EMAIL: &str = "maskflow-ci@project.iam.gserviceaccount.com";
/// What GitHub's token URL wants in `Authorization` (the runner's request token).
pub const REQUEST_TOKEN: &str = "github-request-token-0123456789";
/// The identity provider's token (a JWT from GitHub, in life).
pub const SUBJECT_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.github-oidc-subject.signature";
/// STS's federated access token.
pub const FEDERATED_TOKEN: &str = "ya29.sts-federated-access-token-0123456789";
/// The impersonated service account's access token.
pub const ACCOUNT_TOKEN: &str = "ya29.service-account-access-token-0123456789";

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Vec<u8>>,
    calls: HashMap<&'static str, usize>,
    signatures: HashSet<String>,
    /// Why requests were refused, for a failing test's message.
    refusals: Vec<String>,
}

pub struct Gcs {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl Gcs {
    /// Starts the stand-in; its bucket answers requests that carry `bearer`.
    pub fn start(bearer: &'static str) -> Gcs {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let endpoint = format!("http://{}", server.server_addr().to_ip().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let thread = {
            let (server, state) = (server.clone(), state.clone());
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    serve(request, &state, bearer);
                }
            })
        };
        Gcs {
            endpoint,
            state,
            server,
            thread: Some(thread),
        }
    }

    pub fn put(&self, key: &str, bytes: &[u8]) {
        let mut state = self.state.lock().unwrap();
        state.objects.insert(key.to_owned(), bytes.to_vec());
    }

    pub fn keys(&self) -> Vec<String> {
        self.state.lock().unwrap().objects.keys().cloned().collect()
    }

    /// Calls to `endpoint`: "metadata", "subject", "sts", "impersonate", "signBlob", "GET", "HEAD",
    /// "PUT", "DELETE", "list", "signed GET".
    pub fn calls(&self, endpoint: &str) -> usize {
        let state = self.state.lock().unwrap();
        state.calls.get(endpoint).copied().unwrap_or(0)
    }

    pub fn refusals(&self) -> Vec<String> {
        self.state.lock().unwrap().refusals.clone()
    }

    /// The URL that GitHub's token URL stands in for.
    pub fn subject_url(&self) -> String {
        format!("{}/oidc/token?api-version=2.0&audience=gcp", self.endpoint)
    }

    /// An `external_account` file as google-github-actions/auth writes it, pointing at this
    /// stand-in, with its subject token from `source` (a `credential_source` object) and
    /// impersonating `EMAIL` when `impersonate`.
    pub fn credential_file(&self, source: serde_json::Value, impersonate: bool) -> String {
        let mut file = serde_json::json!({
            "type": "external_account",
            "audience": AUDIENCE,
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": format!("{}/v1/token", self.endpoint),
            "credential_source": source,
            "universe_domain": "googleapis.com",
        });
        if impersonate {
            file["service_account_impersonation_url"] = format!(
                "{}/v1/projects/-/serviceAccounts/{EMAIL}:generateAccessToken",
                self.endpoint
            )
            .into();
        }
        serde_json::to_string_pretty(&file).unwrap()
    }

    /// The `credential_source` of google-github-actions/auth: GitHub's token URL.
    pub fn github_source(&self) -> serde_json::Value {
        serde_json::json!({
            "url": self.subject_url(),
            "headers": {"Authorization": format!("Bearer {REQUEST_TOKEN}")},
            "format": {"type": "json", "subject_token_field_name": "value"},
        })
    }
}

impl Drop for Gcs {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn header<'a>(request: &'a tiny_http::Request, name: &'static str) -> Option<&'a str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

fn json(status: u16, body: &serde_json::Value) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    tiny_http::Response::from_string(body.to_string())
        .with_status_code(status)
        .with_header(
            "Content-Type: application/json"
                .parse::<tiny_http::Header>()
                .unwrap(),
        )
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(raw: &str) -> HashMap<String, String> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn serve(mut request: tiny_http::Request, state: &Mutex<State>, bearer: &str) {
    let mut body = Vec::new();
    let _ = request.as_reader().read_to_end(&mut body);
    let url = request.url().to_owned();
    let (path, raw_query) = url.split_once('?').unwrap_or((&url, ""));
    let query = parse_query(raw_query);
    let auth = header(&request, "Authorization").map(str::to_owned);
    let method = request.method().clone();
    let mut state = state.lock().unwrap();
    let refuse = |state: &mut State, status: u16, why: String| {
        state.refusals.push(format!("{method} {path}: {why}"));
        json(
            status,
            &serde_json::json!({"error": {"code": status, "message": why}}),
        )
    };
    let bearer_is = |token: &str| auth.as_deref() == Some(&format!("Bearer {token}"));
    let response = if path == "/computeMetadata/v1/instance/service-accounts/default/token" {
        // The metadata server of GCE, GKE and Cloud Run: the attached service account's token.
        *state.calls.entry("metadata").or_default() += 1;
        if header(&request, "Metadata-Flavor") == Some("Google") {
            json(
                200,
                &serde_json::json!({
                    "access_token": ACCOUNT_TOKEN,
                    "expires_in": 3599,
                    "token_type": "Bearer",
                }),
            )
        } else {
            refuse(&mut state, 403, "no Metadata-Flavor: Google".into())
        }
    } else if path == "/oidc/token" {
        *state.calls.entry("subject").or_default() += 1;
        if bearer_is(REQUEST_TOKEN) {
            json(
                200,
                &serde_json::json!({"count": 1, "value": SUBJECT_TOKEN}),
            )
        } else {
            refuse(&mut state, 401, "no request token".into())
        }
    } else if path == "/v1/token" && method == tiny_http::Method::Post {
        *state.calls.entry("sts").or_default() += 1;
        let form = parse_query(&String::from_utf8_lossy(&body));
        let expected = [
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            (
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
            ("audience", AUDIENCE),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
            ("subject_token", SUBJECT_TOKEN),
            ("scope", "https://www.googleapis.com/auth/cloud-platform"),
        ];
        match expected
            .iter()
            .find(|(k, v)| form.get(*k).map(String::as_str) != Some(*v))
        {
            None => json(
                200,
                &serde_json::json!({
                    "access_token": FEDERATED_TOKEN,
                    "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                    "token_type": "Bearer",
                    "expires_in": 3600,
                }),
            ),
            Some((field, _)) => {
                state
                    .refusals
                    .push(format!("sts: {field} is {:?}", form.get(*field)));
                json(
                    400,
                    &serde_json::json!({"error": "invalid_grant", "error_description": format!("bad {field}")}),
                )
            }
        }
    } else if let Some(rest) = path.strip_prefix("/v1/projects/-/serviceAccounts/") {
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if rest == format!("{EMAIL}:generateAccessToken") {
            *state.calls.entry("impersonate").or_default() += 1;
            let scoped = body["scope"].as_array().is_some_and(|s| {
                s.iter().any(|s| {
                    s.as_str()
                        .is_some_and(|s| s.ends_with("/auth/cloud-platform"))
                })
            });
            if !bearer_is(FEDERATED_TOKEN) {
                refuse(&mut state, 401, "not the federated token".into())
            } else if !scoped || body["lifetime"] != "3600s" {
                refuse(&mut state, 400, format!("bad body {body}"))
            } else {
                json(
                    200,
                    &serde_json::json!({"accessToken": ACCOUNT_TOKEN, "expireTime": "2099-01-01T00:00:00Z"}),
                )
            }
        } else if rest == format!("{EMAIL}:signBlob") {
            *state.calls.entry("signBlob").or_default() += 1;
            let payload = body["payload"]
                .as_str()
                .and_then(|p| base64::engine::general_purpose::STANDARD.decode(p).ok())
                .unwrap_or_default();
            if !bearer_is(ACCOUNT_TOKEN) {
                refuse(&mut state, 401, "not the account's token".into())
            } else if !payload.starts_with(b"GOOG4-RSA-SHA256\n") {
                refuse(&mut state, 400, "not a V4 string to sign".into())
            } else {
                // A stand-in signature: 256 bytes (an RSA-2048 signature's size) derived
                // from the payload, remembered so that the bucket can accept the URL.
                let digest = blake3::hash(&payload);
                let signature: Vec<u8> = digest.as_bytes().repeat(8);
                let hex: String = signature.iter().map(|b| format!("{b:02x}")).collect();
                state.signatures.insert(hex);
                json(
                    200,
                    &serde_json::json!({
                        "keyId": "stand-in",
                        "signedBlob": base64::engine::general_purpose::STANDARD.encode(&signature),
                    }),
                )
            }
        } else {
            refuse(&mut state, 404, "no such account".into())
        }
    } else {
        bucket(
            &mut state,
            &method,
            path,
            &query,
            auth.as_deref(),
            bearer,
            body,
        )
    };
    let _ = request.respond(response);
}

/// The GCS XML API, as `object_store` calls it: `/BUCKET/KEY` (the key percent-encoded
/// whole) and `/BUCKET?list-type=2&prefix=...`.
fn bucket(
    state: &mut State,
    method: &tiny_http::Method,
    path: &str,
    query: &HashMap<String, String>,
    auth: Option<&str>,
    bearer: &str,
    body: Vec<u8>,
) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let xml_error = |status: u16, code: &str| {
        tiny_http::Response::from_string(format!(
            "<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code></Error>"
        ))
        .with_status_code(status)
    };
    let signed = query.get("X-Goog-Signature");
    let allowed = match signed {
        Some(signature) => {
            *state.calls.entry("signed GET").or_default() += 1;
            state.signatures.contains(signature)
        }
        None => auth == Some(&format!("Bearer {bearer}")),
    };
    if !allowed {
        state
            .refusals
            .push(format!("{method} {path}: authorization {auth:?}"));
        return xml_error(401, "AuthenticationRequired");
    }
    let path = percent_decode(path.trim_start_matches('/'));
    let (bucket_name, key) = path.split_once('/').unwrap_or((&path, ""));
    if key.is_empty() && *method == tiny_http::Method::Get && query.get("list-type").is_some() {
        *state.calls.entry("list").or_default() += 1;
        let prefix = query.get("prefix").cloned().unwrap_or_default();
        let contents: String = state
            .objects
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(k, v)| {
                format!(
                    "<Contents><Key>{k}</Key><Size>{}</Size><LastModified>2026-01-02T03:04:05.000Z</LastModified><ETag>\"{}\"</ETag></Contents>",
                    v.len(),
                    blake3::hash(v).to_hex()
                )
            })
            .collect();
        return tiny_http::Response::from_string(format!(
            "<?xml version='1.0' encoding='UTF-8'?><ListBucketResult><Name>{bucket_name}</Name><Prefix>{prefix}</Prefix>{contents}</ListBucketResult>"
        ))
        .with_header("Content-Type: application/xml".parse::<tiny_http::Header>().unwrap());
    }
    let name = method.to_string();
    *state
        .calls
        .entry(match name.as_str() {
            "GET" => "GET",
            "HEAD" => "HEAD",
            "PUT" => "PUT",
            "DELETE" => "DELETE",
            _ => "other",
        })
        .or_default() += 1;
    let key = key.to_owned();
    let headers = |bytes: &[u8]| {
        [
            format!("ETag: \"{}\"", blake3::hash(bytes).to_hex()),
            "Last-Modified: Fri, 02 Jan 2026 03:04:05 GMT".to_owned(),
            "x-goog-generation: 1".to_owned(),
        ]
        .map(|h| h.parse::<tiny_http::Header>().unwrap())
    };
    match name.as_str() {
        "GET" | "HEAD" => match state.objects.get(&key) {
            Some(bytes) => {
                // Content-Length always (object_store requires it): tiny_http would send a
                // body over 32 KiB chunked.
                let mut response = tiny_http::Response::from_data(bytes.clone())
                    .with_chunked_threshold(usize::MAX);
                for h in headers(bytes) {
                    response.add_header(h);
                }
                response
            }
            None => xml_error(404, "NoSuchKey"),
        },
        "PUT" => {
            let response = tiny_http::Response::from_data(Vec::new());
            let response = headers(&body)
                .into_iter()
                .fold(response, |r, h| r.with_header(h));
            state.objects.insert(key, body);
            response
        }
        "DELETE" => {
            state.objects.remove(&key);
            tiny_http::Response::from_data(Vec::new()).with_status_code(204)
        }
        _ => xml_error(405, "MethodNotAllowed"),
    }
}
