//! A stand-in for Entra ID's token endpoint, `POST {authority}/{tenant}/oauth2/v2.0/token`
//! (the OAuth client-credentials grant), over https on 127.0.0.1. It checks the client id and
//! the client secret (or the federated assertion) it is sent, answers as Entra does (a JWT,
//! or `invalid_client` with an AADSTS code), and records every request it gets.
//!
//! Its tokens are what Azurite's `--oauth basic` accepts: Azurite reads the issuer
//! (`https://sts.windows.net/...`), the audience (`https://storage.azure.com`) and the
//! lifetime, and does not check the signature (`BlobTokenAuthenticator.authenticateBasic`).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;

/// What the stand-in takes as proof of the client.
#[derive(Clone)]
pub enum Proof {
    /// `client_secret` (a service principal's secret).
    Secret(String),
    /// `client_assertion` of type jwt-bearer (workload identity federation).
    Assertion(String),
}

/// One token request as received: the path and the form fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub method: String,
    pub path: String,
    pub form: BTreeMap<String, String>,
}

pub struct Entra {
    /// `https://127.0.0.1:PORT`, what `AZURE_AUTHORITY_HOST` is set to.
    pub authority_host: String,
    requests: Arc<Mutex<Vec<TokenRequest>>>,
    stop: Arc<AtomicBool>,
    port: u16,
}

/// A token for `tenant`'s `client_id`, with the claims Azure Storage reads (and Azurite's
/// Get User Delegation Key: `oid`, `tid`). Signed with nothing: Azurite does not check.
pub fn token(tenant: &str, client_id: &str) -> String {
    let now = jiff::Timestamp::now().as_second();
    let claims = serde_json::json!({
        "aud": "https://storage.azure.com",
        "iss": format!("https://sts.windows.net/{tenant}/"),
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + 3600,
        "appid": client_id,
        "oid": "5f0c6a4e-0000-4000-8000-00000000a11c",
        "tid": tenant,
        "sub": client_id,
        "ver": "1.0",
    });
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    format!(
        "{}.{}.{}",
        b64(br#"{"alg":"RS256","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes()),
        b64(b"unsigned")
    )
}

impl Entra {
    pub fn start(tls: &super::tls::Tls, tenant: &str, client_id: &str, proof: Proof) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let config = tls.server_config.clone();
        let (tenant, client_id) = (tenant.to_owned(), client_id.to_owned());
        let (seen, stopped) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (config, seen) = (config.clone(), seen.clone());
                let (tenant, client_id, proof) = (tenant.clone(), client_id.clone(), proof.clone());
                std::thread::spawn(move || {
                    serve(stream, config, &seen, &tenant, &client_id, &proof);
                });
            }
        });
        Self {
            authority_host: format!("https://127.0.0.1:{port}"),
            requests,
            stop,
            port,
        }
    }

    /// Every token request received so far, in order.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Entra {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Answers one connection (one request: it says `Connection: close`). A client that does
/// not trust the CA aborts the handshake, and nothing is recorded.
fn serve(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    seen: &Mutex<Vec<TokenRequest>>,
    tenant: &str,
    client_id: &str,
    proof: &Proof,
) {
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let connection = rustls::ServerConnection::new(config).unwrap();
    let mut stream = rustls::StreamOwned::new(connection, tcp);
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_owned();
    let path = first.next().unwrap_or_default().to_owned();
    let length: usize = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    while data.len() < head_end + length {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
    let form: BTreeMap<String, String> =
        url::form_urlencoded::parse(&data[head_end..head_end + length])
            .into_owned()
            .collect();
    let request = TokenRequest { method, path, form };
    let (status, body) = answer(&request, tenant, client_id, proof);
    seen.lock().unwrap().push(request);
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
    stream.conn.send_close_notify();
    let _ = stream.flush();
}

/// Entra's answers: a token, or its errors for an unknown tenant and a wrong client proof
/// (which never echo the secret).
fn answer(
    request: &TokenRequest,
    tenant: &str,
    client_id: &str,
    proof: &Proof,
) -> (String, String) {
    let field = |k: &str| request.form.get(k).map(String::as_str);
    let error = |status: &str, error: &str, description: &str| {
        (
            status.to_owned(),
            serde_json::json!({"error": error, "error_description": description, "error_codes": [7000215]})
                .to_string(),
        )
    };
    if request.method != "POST" || request.path != format!("/{tenant}/oauth2/v2.0/token") {
        return error(
            "400 Bad Request",
            "invalid_request",
            "AADSTS90002: Tenant not found.",
        );
    }
    let proven = match proof {
        Proof::Secret(secret) => field("client_secret") == Some(secret.as_str()),
        Proof::Assertion(assertion) => {
            field("client_assertion_type")
                == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                && field("client_assertion") == Some(assertion.as_str())
        }
    };
    if field("grant_type") != Some("client_credentials")
        || field("scope") != Some("https://storage.azure.com/.default")
        || field("client_id") != Some(client_id)
        || !proven
    {
        return error(
            "401 Unauthorized",
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
        );
    }
    let body = serde_json::json!({
        "token_type": "Bearer",
        "expires_in": 3599,
        "ext_expires_in": 3599,
        "access_token": token(tenant, client_id),
    });
    ("200 OK".to_owned(), body.to_string())
}
