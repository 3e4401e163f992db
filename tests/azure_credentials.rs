//! End to end: Azure's Entra ID credentials. The real binary against Azurite over https with
//! `--oauth basic` (it accepts bearer tokens by their issuer, audience and lifetime) and a
//! stand-in for Entra ID's token endpoint, both on 127.0.0.1 with a private CA's certificate
//! that maskflow is told to trust the standard way, `SSL_CERT_FILE`. No developer credential
//! is read: `Test` clears the environment.

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Output;

use common::azurite::Azurite;
use common::emulator::Emulator;
use common::entra::{Entra, Proof};
use common::tls::Tls;
use common::*;

const TENANT: &str = "72f988bf-0000-4000-8000-0000000000aa";
const CLIENT_ID: &str = "0d1e2f30-0000-4000-8000-0000000000bb";
const SECRET: &str = "Qx8~client-secret-value-9f3a";

fn photo(name: &str) -> std::path::PathBuf {
    repo().join("examples/photos").join(name)
}

/// Azurite over https with OAuth, holding two photos under `photos/in/`.
fn azurite_with_photos(tls: &Tls) -> Azurite {
    let azurite = Azurite::start_https_oauth(tls);
    azurite.create_container("photos");
    azurite.put_blob(
        "photos/in/horse.png",
        &std::fs::read(photo("horse.png")).unwrap(),
    );
    azurite.put_blob(
        "photos/in/sub/camera.png",
        &std::fs::read(photo("camera.png")).unwrap(),
    );
    azurite
}

fn glob_manifest(root: &Path, azurite: &Azurite) {
    write(
        root,
        "maskflow.yaml",
        &format!(
            "version: 1\nstorage:\n  azure: {{endpoint: \"{}\"}}\nimages:\n  - glob: \"az://devstoreaccount1/photos/in/**/*.png\"\n    output: \"masks/{{{{ stem }}}}.png\"\n",
            azurite.endpoint
        ),
    );
}

fn run(root: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    Test::in_dir(root)
        .args(args)
        .args(["--format", "json"])
        .envs(env.iter().copied())
        .output()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_service_principal_secret_reads_a_glob_from_https_azurite() {
    let tls = Tls::trusted();
    let azurite = azurite_with_photos(tls);
    let entra = Entra::start(tls, TENANT, CLIENT_ID, Proof::Secret(SECRET.to_owned()));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    glob_manifest(root, &azurite);
    let ca = tls.ca_file.to_str().unwrap();
    let env = [
        ("AZURE_CLIENT_ID", CLIENT_ID),
        ("AZURE_CLIENT_SECRET", SECRET),
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_AUTHORITY_HOST", entra.authority_host.as_str()),
        ("SSL_CERT_FILE", ca),
    ];
    let output = run(root, &env, &["apply"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert_eq!(summary(&events(&output))["created"].as_u64(), Some(2));
    assert!(root.join("masks/horse.png").is_file() && root.join("masks/camera.png").is_file());
    // One token for the run (object_store caches it), asked exactly as Entra ID expects.
    let requests = entra.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, format!("/{TENANT}/oauth2/v2.0/token"));
    let form: Vec<(&str, &str)> = request
        .form
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        form,
        [
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("grant_type", "client_credentials"),
            ("scope", "https://storage.azure.com/.default"),
        ]
    );

    // A wrong secret: Entra's refusal, named, and no secret in anything printed.
    std::fs::remove_file(root.join("maskflow.lock")).unwrap();
    let wrong = "Qx8~wrong-secret-value-0000";
    let env = [
        ("AZURE_CLIENT_ID", CLIENT_ID),
        ("AZURE_CLIENT_SECRET", wrong),
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_AUTHORITY_HOST", entra.authority_host.as_str()),
        ("SSL_CERT_FILE", ca),
    ];
    let output = run(root, &env, &["apply"]);
    let printed = text(&output);
    assert_ne!(code(&output), 0, "{printed}");
    assert!(
        printed.contains("az://devstoreaccount1/photos/in"),
        "{printed}"
    );
    assert!(
        printed.contains("401") && printed.contains("AADSTS7000215"),
        "{printed}"
    );
    assert!(
        !printed.contains(wrong) && !printed.contains(SECRET),
        "{printed}"
    );
    assert_eq!(entra.requests().len(), 2, "one token request, not retried");
}

#[test]
fn a_private_ca_must_be_trusted_and_a_bad_ssl_cert_file_is_named() {
    let tls = Tls::trusted();
    let azurite = azurite_with_photos(tls);
    let entra = Entra::start(tls, TENANT, CLIENT_ID, Proof::Secret(SECRET.to_owned()));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    glob_manifest(root, &azurite);
    let credentials = [
        ("AZURE_CLIENT_ID", CLIENT_ID),
        ("AZURE_CLIENT_SECRET", SECRET),
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_AUTHORITY_HOST", entra.authority_host.as_str()),
    ];
    // Without SSL_CERT_FILE the system's CAs are used, and they do not know this one (or
    // there are none): either way the hint names SSL_CERT_FILE.
    let output = run(root, &credentials, &["validate"]);
    let printed = text(&output);
    assert_ne!(code(&output), 0, "{printed}");
    assert!(
        (printed.contains("invalid peer certificate")
            || printed.contains("No CA certificates were loaded"))
            && printed.contains("SSL_CERT_FILE"),
        "{printed}"
    );
    assert!(!printed.contains(SECRET), "{printed}");
    assert!(entra.requests().is_empty(), "no request got through TLS");

    // A file that holds no certificate is named, with what to do.
    let bad = root.join("not-a-bundle.pem");
    std::fs::write(&bad, "this is not a certificate\n").unwrap();
    let mut env = credentials.to_vec();
    env.push(("SSL_CERT_FILE", bad.to_str().unwrap()));
    let output = run(root, &env, &["validate"]);
    let printed = text(&output);
    assert_ne!(code(&output), 0, "{printed}");
    assert!(
        printed.contains(&format!("SSL_CERT_FILE names {}", bad.display()))
            && printed.contains("no PEM certificate"),
        "{printed}"
    );
}

#[test]
fn workload_identity_federation_trades_the_token_file_for_a_token() {
    let tls = Tls::trusted();
    let azurite = azurite_with_photos(tls);
    // What AKS projects into the pod: a Kubernetes service-account token.
    let assertion =
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6bWFza2Zsb3cifQ.c2ln";
    let entra = Entra::start(
        tls,
        TENANT,
        CLIENT_ID,
        Proof::Assertion(assertion.to_owned()),
    );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    glob_manifest(root, &azurite);
    let token_file = root.join("azure-identity-token");
    std::fs::write(&token_file, assertion).unwrap();
    // The webhook writes the authority host with a trailing slash.
    let host = format!("{}/", entra.authority_host);
    let env = [
        ("AZURE_CLIENT_ID", CLIENT_ID),
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_FEDERATED_TOKEN_FILE", token_file.to_str().unwrap()),
        ("AZURE_AUTHORITY_HOST", host.as_str()),
        ("SSL_CERT_FILE", tls.ca_file.to_str().unwrap()),
    ];
    let output = run(root, &env, &["apply"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert_eq!(summary(&events(&output))["created"].as_u64(), Some(2));
    let requests = entra.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].path, format!("/{TENANT}/oauth2/v2.0/token"));
    assert_eq!(
        requests[0].form.get("client_assertion").map(String::as_str),
        Some(assertion)
    );
    assert!(!text(&output).contains(assertion));
}

#[test]
fn with_an_entra_token_staging_urls_are_user_delegation_sas() {
    let tls = Tls::trusted();
    let azurite = Azurite::start_https_oauth(tls);
    azurite.create_container("maskflow");
    let entra = Entra::start(tls, TENANT, CLIENT_ID, Proof::Secret(SECRET.to_owned()));
    // The emulator fetches and uploads through the URLs maskflow signs: it must trust the CA.
    let emulator = Emulator::start_with_env(
        &["--latency", "200ms"],
        &[("SSL_CERT_FILE", tls.ca_file.as_path())],
    );
    let dir = scratch(&["camera.png"]);
    let root = dir.path();
    write(
        root,
        "maskflow.yaml",
        &format!(
            "version: 1\nphotoshop:\n  api: v2\n  endpoint: \"{0}\"\n  ims: \"{0}\"\n  limits: {{poll_initial_seconds: 0.2}}\n\
             storage:\n  staging: az://devstoreaccount1/maskflow/stage\n  azure: {{endpoint: \"{1}\"}}\n\
             images:\n  - input: photos/camera.png\n    engine: photoshop\n",
            emulator.base_url, azurite.endpoint
        ),
    );
    let output = Test::in_dir(root)
        .args(["apply", "--format", "json"])
        .envs(emulator.credentials())
        .envs([
            ("AZURE_CLIENT_ID", CLIENT_ID),
            ("AZURE_CLIENT_SECRET", SECRET),
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_AUTHORITY_HOST", entra.authority_host.as_str()),
            ("SSL_CERT_FILE", tls.ca_file.to_str().unwrap()),
        ])
        .output();
    // No account key anywhere: Azurite accepted URLs signed with a user delegation key that
    // maskflow got with its Entra ID token.
    assert_eq!(code(&output), 0, "{}", text(&output));
    let s = summary(&events(&output));
    assert_eq!(
        (s["created"].as_u64(), s["uploaded"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(root.join("masks/camera.png").is_file());
    assert!(!entra.requests().is_empty());
}

/// Answers Azure's managed identity endpoint (App Service's `IDENTITY_ENDPOINT`, the VM's
/// IMDS path) as Azure does: a token for the resource asked, with `expires_on` a string.
/// Returns its URL and the query strings it was asked with.
fn managed_identity(
    header: &'static str,
) -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    std::thread::JoinHandle<()>,
) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/metadata/identity/oauth2/token",
        server.server_addr().to_ip().unwrap()
    );
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = asked.clone();
    let handle = std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let has = |name: &'static str, value: &str| {
                request
                    .headers()
                    .iter()
                    .any(|h| h.field.equiv(name) && h.value == value)
            };
            let proper = has("metadata", "true") && has("x-identity-header", header);
            seen.lock().unwrap().push(request.url().to_owned());
            let response = if proper {
                let expires = jiff::Timestamp::now().as_second() + 3600;
                let body = serde_json::json!({
                    "access_token": common::entra::token(TENANT, CLIENT_ID),
                    "expires_on": expires.to_string(),
                    "resource": "https://storage.azure.com",
                    "token_type": "Bearer",
                });
                tiny_http::Response::from_string(body.to_string()).with_status_code(200)
            } else {
                tiny_http::Response::from_string("{\"error\":\"invalid_request\"}")
                    .with_status_code(400)
            };
            let _ = request.respond(response);
        }
    });
    (url, asked, handle)
}

#[test]
fn a_managed_identity_reads_a_glob_from_https_azurite() {
    let tls = Tls::trusted();
    let azurite = azurite_with_photos(tls);
    let (endpoint, asked, _server) = managed_identity("identity-header-value");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    glob_manifest(root, &azurite);
    let env = [
        ("IDENTITY_ENDPOINT", endpoint.as_str()),
        ("IDENTITY_HEADER", "identity-header-value"),
        ("SSL_CERT_FILE", tls.ca_file.to_str().unwrap()),
    ];
    let output = run(root, &env, &["apply"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert_eq!(summary(&events(&output))["created"].as_u64(), Some(2));
    // One token for the run, for Azure Storage.
    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(
        asked[0].contains("resource=https%3A%2F%2Fstorage.azure.com"),
        "{asked:?}"
    );
    assert!(!text(&output).contains("identity-header-value"));
}

/// The Azure CLI's part, as a user's `az` answers `az account get-access-token`: an `az` on
/// `PATH` that checks its arguments, records the call and prints the token as the CLI does.
#[cfg(unix)]
#[test]
fn the_azure_cli_gives_the_token_when_asked_to() {
    use std::os::unix::fs::PermissionsExt;
    let tls = Tls::trusted();
    let azurite = azurite_with_photos(tls);
    let bin = tempfile::tempdir().unwrap();
    let calls = bin.path().join("calls");
    let script = format!(
        "#!/bin/sh\nset -eu\necho \"$*\" >> '{calls}'\n\
         [ \"$*\" = 'account get-access-token --output json --scope https://storage.azure.com/.default' ] || {{ echo \"unexpected: $*\" >&2; exit 2; }}\n\
         expires=$(date -d '+1 hour' '+%Y-%m-%d %H:%M:%S.000000')\n\
         printf '{{\"accessToken\": \"%s\", \"expiresOn\": \"%s\", \"tokenType\": \"Bearer\", \"tenant\": \"{TENANT}\"}}\\n' '{token}' \"$expires\"\n",
        calls = calls.display(),
        token = common::entra::token(TENANT, CLIENT_ID),
    );
    let az = bin.path().join("az");
    std::fs::write(&az, script).unwrap();
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    glob_manifest(root, &azurite);
    let ca = tls.ca_file.to_str().unwrap();

    // Only when asked: the CLI is a person's login, not a machine's. (Managed identity, the
    // source tried instead, is pointed at a closed port so that it fails at once.)
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nobody = format!("http://{}/token", closed.local_addr().unwrap());
    drop(closed);
    let unasked = [
        ("PATH", path.as_str()),
        ("SSL_CERT_FILE", ca),
        ("IDENTITY_ENDPOINT", nobody.as_str()),
    ];
    let output = run(root, &unasked, &["plan"]);
    assert!(!calls.exists(), "az ran unasked: {}", text(&output));

    let env = [
        ("AZURE_USE_AZURE_CLI", "true"),
        ("PATH", path.as_str()),
        ("SSL_CERT_FILE", ca),
    ];
    let output = run(root, &env, &["apply"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert_eq!(summary(&events(&output))["created"].as_u64(), Some(2));
    let asked = std::fs::read_to_string(&calls).unwrap();
    assert_eq!(asked.lines().count(), 1, "{asked}");
}
