//! End to end: images that live in buckets. The real binary against `s3s-fs` (a real
//! S3-compatible server that verifies SigV4 signatures and logs every request, so what a run
//! downloaded is counted on the server's side) and local stand-ins for the credential
//! sources that have one, all on 127.0.0.1. No developer credential is ever read: `Test`
//! clears the environment and points `HOME` at an empty folder.

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Output;

use common::s3::{ACCESS_KEY, S3, SECRET_KEY};
use common::*;
use serde_json::Value;

fn photo(name: &str) -> std::path::PathBuf {
    repo().join("examples/photos").join(name)
}

fn run_json(dir: &Path, env: &[(&str, String)], args: &[&str]) -> Output {
    Test::in_dir(dir)
        .args(args)
        .args(["--format", "json"])
        .envs(env.iter().map(|(k, v)| (*k, v.clone())))
        .output()
}

fn keys_of(plan: &[Value], action: &str) -> Vec<String> {
    plan.iter()
        .filter(|e| e["action"] == action)
        .filter_map(|e| e["key"].as_str().map(str::to_owned))
        .collect()
}

/// The items of a `plan --format json` document.
fn plan_items(output: &Output) -> Vec<Value> {
    let document: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not a plan ({e}): {}", stderr(output)));
    document["changes"].as_array().unwrap().clone()
}

fn glob_manifest(s3: &S3) -> String {
    format!(
        "version: 1\nstorage:\n  s3: {{endpoint: \"{}\"}}\nimages:\n  - glob: \"s3://maskflow/photos/**/*.png\"\n    output: \"masks/{{{{ dir }}}}/{{{{ stem }}}}.png\"\n",
        s3.endpoint
    )
}

#[test]
fn a_bucket_glob_is_masked_and_a_no_op_plan_downloads_nothing() {
    let s3 = S3::start();
    s3.put_file("photos/a/horse.png", &photo("horse.png"));
    s3.put_file("photos/b/camera.png", &photo("camera.png"));
    s3.put_file("photos/notes.txt", &photo("horse.png"));
    s3.put_file("photos/.hidden/coffee.png", &photo("coffee.png"));
    s3.put_file("elsewhere/coffee.png", &photo("coffee.png"));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "maskflow.yaml", &glob_manifest(&s3));
    let env = s3.credentials();
    let env: Vec<(&str, String)> = env.into_iter().collect();

    let output = run_json(root, &env, &["apply"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(summary(&events(&output))["created"].as_u64(), Some(2));
    assert!(root.join("masks/photos/a/horse.png").is_file());
    assert!(root.join("masks/photos/b/camera.png").is_file());
    let lock: Value =
        serde_json::from_slice(&std::fs::read(root.join("maskflow.lock")).unwrap()).unwrap();
    let input = &lock["images"]["masks/photos/a/horse.png"]["input"];
    assert_eq!(input["source"], "s3://maskflow/photos/a/horse.png");
    assert!(
        input["etag"].as_str().is_some_and(|e| !e.is_empty()),
        "{input}"
    );

    // Nothing changed: the plan lists the prefix and downloads no object.
    let before = s3.object_gets();
    let output = run_json(root, &env, &["plan"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let items = plan_items(&output);
    assert_eq!(keys_of(&items, "unchanged").len(), 2, "{items:?}");
    assert_eq!(
        s3.object_gets(),
        before,
        "a no-op plan downloaded an object"
    );

    // A replaced object has a new ETag: it alone is downloaded, and redone.
    s3.put_file("photos/a/horse.png", &photo("coffee.png"));
    let before = s3.object_gets();
    let output = run_json(root, &env, &["plan"]);
    let items = plan_items(&output);
    assert_eq!(
        keys_of(&items, "update"),
        vec!["masks/photos/a/horse.png".to_owned()],
        "{items:?}"
    );
    assert_eq!(s3.object_gets(), before + 1);
    let output = run_json(root, &env, &["apply"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(summary(&events(&output))["updated"].as_u64(), Some(1));

    // A new object matching the glob is a new image; one outside it is not.
    s3.put_file("photos/c/d/coffee.png", &photo("coffee.png"));
    let output = run_json(root, &env, &["plan"]);
    let items = plan_items(&output);
    assert_eq!(
        keys_of(&items, "create"),
        vec!["masks/photos/c/d/coffee.png".to_owned()]
    );
}

#[test]
fn shards_split_a_bucket_glob() {
    let s3 = S3::start();
    for (i, name) in ["horse.png", "camera.png", "coffee.png"].iter().enumerate() {
        s3.put_file(&format!("photos/{i}-{name}"), &photo(name));
    }
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "maskflow.yaml", &glob_manifest(&s3));
    let env: Vec<(&str, String)> = s3.credentials().into_iter().collect();
    let mut seen = Vec::new();
    for shard in ["1/2", "2/2"] {
        let output = run_json(dir.path(), &env, &["plan", "--shard", shard]);
        assert_eq!(code(&output), 0, "{}", stderr(&output));
        seen.extend(keys_of(&plan_items(&output), "create"));
    }
    seen.sort();
    assert_eq!(
        seen,
        vec![
            "masks/photos/0-horse.png",
            "masks/photos/1-camera.png",
            "masks/photos/2-coffee.png"
        ]
    );
}

#[test]
fn validate_asks_for_no_credentials_and_plan_says_which_object_failed() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens there: no credential source answers, quickly.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    write(
        dir.path(),
        "maskflow.yaml",
        &format!(
            "version: 1\nstorage:\n  s3: {{endpoint: \"http://127.0.0.1:{port}\"}}\nimages:\n  - input: s3://maskflow/in/horse.png\n"
        ),
    );
    let metadata = (
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        format!("http://127.0.0.1:{port}"),
    );
    let output = run_json(dir.path(), std::slice::from_ref(&metadata), &["validate"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let output = run_json(dir.path(), &[metadata], &["plan"]);
    assert_eq!(code(&output), 1);
    let items = plan_items(&output);
    assert_eq!(items[0]["action"], "unreadable", "{items:?}");
    assert_eq!(items[0]["input"], "s3://maskflow/in/horse.png");
}

/// Answers IMDSv2 as EC2 does: a session token for a PUT, then the role and its keys.
fn instance_metadata(
    token: &'static str,
) -> (
    String,
    std::thread::JoinHandle<()>,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.server_addr().to_ip().unwrap());
    let asked = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let handle = std::thread::spawn(move || {
        for request in server.incoming_requests() {
            counter.fetch_add(1, Ordering::SeqCst);
            let has_token = request
                .headers()
                .iter()
                .any(|h| h.field.equiv("x-aws-ec2-metadata-token") && h.value == token);
            let body = match (request.method(), request.url()) {
                (tiny_http::Method::Put, "/latest/api/token") => token.to_owned(),
                (_, "/latest/meta-data/iam/security-credentials/") if has_token => {
                    "maskflow-role".to_owned()
                }
                (_, "/latest/meta-data/iam/security-credentials/maskflow-role") if has_token => {
                    serde_json::json!({
                        "Code": "Success",
                        "AccessKeyId": ACCESS_KEY,
                        "SecretAccessKey": SECRET_KEY,
                        "Token": "metadata-session-token",
                        "Expiration": "2099-01-01T00:00:00Z",
                    })
                    .to_string()
                }
                _ => {
                    let _ = request.respond(tiny_http::Response::empty(404));
                    continue;
                }
            };
            let _ = request.respond(tiny_http::Response::from_string(body));
        }
    });
    (url, handle, asked)
}

#[test]
fn credentials_come_from_instance_metadata() {
    let s3 = S3::start();
    s3.put_file("in/horse.png", &photo("horse.png"));
    let (metadata, _server, asked) = instance_metadata("imds-session-token");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "maskflow.yaml",
        &format!(
            "version: 1\nstorage:\n  s3: {{endpoint: \"{}\"}}\nimages:\n  - input: s3://maskflow/in/horse.png\n",
            s3.endpoint
        ),
    );
    let output = run_json(
        dir.path(),
        &[
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", metadata),
            ("AWS_REGION", "us-east-1".to_owned()),
        ],
        &["apply"],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(summary(&events(&output))["created"].as_u64(), Some(1));
    assert!(asked.load(std::sync::atomic::Ordering::SeqCst) >= 3);
    assert!(!String::from_utf8_lossy(&output.stdout).contains(SECRET_KEY));
}

#[test]
fn credentials_come_from_a_profiles_credential_process() {
    let s3 = S3::start();
    s3.put_file("in/horse.png", &photo("horse.png"));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "print-credentials.sh",
        &format!(
            "#!/bin/sh\necho ran >> \"$(dirname \"$0\")/process-ran\"\nprintf '{{\"Version\": 1, \"AccessKeyId\": \"{ACCESS_KEY}\", \"SecretAccessKey\": \"{SECRET_KEY}\"}}'\n"
        ),
    );
    write(
        root,
        "aws-config",
        &format!(
            "[default]\nregion = us-east-1\n\n[profile ci]\ncredential_process = sh {}\n",
            root.join("print-credentials.sh").display()
        ),
    );
    write(
        root,
        "maskflow.yaml",
        &format!(
            "version: 1\nstorage:\n  s3: {{endpoint: \"{}\", region: us-east-1}}\nimages:\n  - input: s3://maskflow/in/horse.png\n",
            s3.endpoint
        ),
    );
    let env = [
        ("AWS_PROFILE", "ci".to_owned()),
        (
            "AWS_CONFIG_FILE",
            root.join("aws-config").display().to_string(),
        ),
    ];
    // `validate` runs no credential process; `apply` runs it once for the whole run.
    let output = run_json(root, &env, &["validate"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(!root.join("process-ran").exists());
    let output = run_json(root, &env, &["apply"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(summary(&events(&output))["created"].as_u64(), Some(1));
    let ran = std::fs::read_to_string(root.join("process-ran")).unwrap();
    assert_eq!(ran.lines().count(), 1, "{ran}");

    // A profile maskflow cannot use is refused by name, with a way out.
    write(
        root,
        "aws-config",
        "[profile ci]\nsso_session = corp\nsso_account_id = 1\n",
    );
    let output = run_json(root, &env, &["plan"]);
    assert_eq!(code(&output), 1);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("[ci]")
            && text.contains("sso_session")
            && text.contains("export-credentials"),
        "{text}"
    );
}

#[test]
fn https_inputs_are_revalidated_without_downloading() {
    let served = tempfile::tempdir().unwrap();
    std::fs::copy(photo("horse.png"), served.path().join("horse.png")).unwrap();
    let storage = common::storage::Storage::start(served.path(), "sig");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "maskflow.yaml",
        &format!(
            "version: 1\nimages:\n  - input: \"{}\"\n",
            storage.url("horse.png")
        ),
    );
    let output = run_json(root, &[], &["apply"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let lock: Value =
        serde_json::from_slice(&std::fs::read(root.join("maskflow.lock")).unwrap()).unwrap();
    let etag = lock["images"]["masks/horse.png"]["input"]["etag"].clone();
    assert!(etag.as_str().is_some_and(|e| e.starts_with('"')), "{lock}");
    assert!(!lock.to_string().contains("sig="));

    // Unchanged: one conditional GET, answered 304, no body.
    let (gets, not_modified) = (storage.gets(), storage.not_modified());
    let output = run_json(root, &[], &["plan"]);
    assert_eq!(
        keys_of(&plan_items(&output), "unchanged"),
        vec!["masks/horse.png"]
    );
    assert_eq!(
        (storage.gets() - gets, storage.not_modified() - not_modified),
        (1, 1)
    );

    // Changed: the 200 carries the new bytes, and the image is redone.
    std::fs::copy(photo("camera.png"), served.path().join("horse.png")).unwrap();
    let output = run_json(root, &[], &["plan"]);
    assert_eq!(
        keys_of(&plan_items(&output), "update"),
        vec!["masks/horse.png"]
    );
}

#[test]
fn azure_reads_and_lists_with_a_sas_token_the_user_gave() {
    use common::azurite::Azurite;
    let azurite = Azurite::start();
    azurite.create_container("photos");
    let horse = std::fs::read(photo("horse.png")).unwrap();
    let camera = std::fs::read(photo("camera.png")).unwrap();
    azurite.put_blob("photos/in/horse.png", &horse);
    azurite.put_blob("photos/in/sub/camera.png", &camera);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "maskflow.yaml",
        &format!(
            "version: 1\nstorage:\n  azure: {{endpoint: \"{}\"}}\nimages:\n  - glob: \"az://devstoreaccount1/photos/in/**/*.png\"\n    output: \"masks/{{{{ stem }}}}.png\"\n",
            azurite.endpoint
        ),
    );
    let sas = azurite.container_sas("photos", "rl");
    let env = [("AZURE_STORAGE_SAS_TOKEN", sas.clone())];
    let output = run_json(root, &env, &["apply"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(summary(&events(&output))["created"].as_u64(), Some(2));
    let signature = sas.split("sig=").nth(1).unwrap();
    for stream in [&output.stdout, &output.stderr] {
        assert!(!String::from_utf8_lossy(stream).contains(signature));
    }
    let output = run_json(root, &env, &["plan"]);
    assert_eq!(keys_of(&plan_items(&output), "unchanged").len(), 2);

    // A SAS without the list permission cannot expand the glob: the error says where.
    let read_only = [(
        "AZURE_STORAGE_SAS_TOKEN",
        azurite.container_sas("photos", "r"),
    )];
    let output = run_json(root, &read_only, &["validate"]);
    assert_eq!(
        code(&output),
        1,
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("az://devstoreaccount1/photos/in"), "{text}");
}

/// A request a credential stand-in received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    url: String,
    authorization: Option<String>,
    body: String,
}

impl Seen {
    /// The body's form fields (STS takes the Query protocol's form).
    fn form(&self) -> std::collections::HashMap<String, String> {
        url::form_urlencoded::parse(self.body.as_bytes())
            .into_owned()
            .collect()
    }
}

/// A credential service on 127.0.0.1 (STS, a container endpoint), as the IMDSv2 stand-in
/// above: `answer` gives each request's status and body, and every request is kept for the
/// test to check what was asked.
fn credential_stand_in(
    answer: impl Fn(&Seen) -> (u16, String) + Send + 'static,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<Seen>>>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.server_addr().to_ip().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for mut request in server.incoming_requests() {
            let mut body = String::new();
            let _ = std::io::Read::read_to_string(request.as_reader(), &mut body);
            let authorization = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("authorization"))
                .map(|h| h.value.to_string());
            let one = Seen {
                method: request.method().to_string(),
                url: request.url().to_owned(),
                authorization,
                body,
            };
            let (status, text) = answer(&one);
            log.lock().unwrap().push(one);
            let _ =
                request.respond(tiny_http::Response::from_string(text).with_status_code(status));
        }
    });
    (url, seen)
}

const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/maskflow-ci";
const OIDC_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.bWFza2Zsb3ctb2lkYw.c2lnbmF0dXJlLXRlc3Q";
const STS_SESSION_TOKEN: &str = "sts-session-token-FwoGZXIvYXdzEXAMPLE";

/// Answers `AssumeRoleWithWebIdentity` as STS does: the role's keys for the expected role
/// and token (s3s-fs's own pair: it checks the signature and ignores the session token it
/// is sent), STS's error document otherwise.
fn sts(seen: &Seen) -> (u16, String) {
    let form = seen.form();
    let field = |name: &str| form.get(name).map(String::as_str);
    if seen.method != "POST"
        || field("Action") != Some("AssumeRoleWithWebIdentity")
        || field("Version") != Some("2011-06-15")
        || field("RoleSessionName").is_none_or(str::is_empty)
    {
        return (400, sts_error("InvalidAction", "Could not find operation"));
    }
    if field("RoleArn") != Some(ROLE_ARN) {
        return (
            403,
            sts_error(
                "AccessDenied",
                "Not authorized to perform sts:AssumeRoleWithWebIdentity",
            ),
        );
    }
    if field("WebIdentityToken") != Some(OIDC_TOKEN) {
        return (
            400,
            sts_error("InvalidIdentityToken", "Incorrect token audience"),
        );
    }
    let answer = format!(
        r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>{ACCESS_KEY}</AccessKeyId>
      <SecretAccessKey>{SECRET_KEY}</SecretAccessKey>
      <SessionToken>{STS_SESSION_TOKEN}</SessionToken>
      <Expiration>2099-01-01T00:00:00Z</Expiration>
    </Credentials>
    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/maskflow-ci/s</Arn></AssumedRoleUser>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"#
    );
    (200, answer)
}

fn sts_error(code: &str, message: &str) -> String {
    format!(
        r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>1</RequestId></ErrorResponse>"#
    )
}

fn single_input_manifest(s3: &S3) -> String {
    format!(
        "version: 1\nstorage:\n  s3: {{endpoint: \"{}\"}}\nimages:\n  - input: s3://maskflow/in/horse.png\n",
        s3.endpoint
    )
}

fn shows_no_secret(output: &Output, secrets: &[&str]) {
    for stream in [&output.stdout, &output.stderr] {
        let text = String::from_utf8_lossy(stream);
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} shown: {text}");
        }
    }
}

#[test]
fn credentials_come_from_a_web_identity_token_exchanged_with_sts() {
    let s3 = S3::start();
    s3.put_file("photos/a/horse.png", &photo("horse.png"));
    s3.put_file("photos/b/camera.png", &photo("camera.png"));
    let (sts_url, seen) = credential_stand_in(sts);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "maskflow.yaml", &glob_manifest(&s3));
    // As EKS and GitHub's OIDC step write it, with a final newline.
    write(root, "oidc-token", &format!("{OIDC_TOKEN}\n"));
    let token_file = root.join("oidc-token").display().to_string();
    let env = [
        ("AWS_ROLE_ARN", ROLE_ARN.to_owned()),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.clone()),
        ("AWS_ROLE_SESSION_NAME", "ci-run-42".to_owned()),
        ("AWS_ENDPOINT_URL_STS", sts_url.clone()),
        ("AWS_REGION", "us-east-1".to_owned()),
    ];
    // With the debug log, which shows the exchange and must not show its secrets either.
    let output = run_json(root, &env, &["apply", "-vv"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(summary(&events(&output))["created"].as_u64(), Some(2));
    assert!(
        stderr(&output).contains(&format!("POST {sts_url}/ answered 200")),
        "{}",
        stderr(&output)
    );
    // One exchange for the whole run (listing and both reads), with the role, the session
    // name and the file's token.
    let asked = seen.lock().unwrap().clone();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].method, "POST");
    let form = asked[0].form();
    assert_eq!(form["RoleArn"], ROLE_ARN);
    assert_eq!(form["RoleSessionName"], "ci-run-42");
    assert_eq!(form["WebIdentityToken"], OIDC_TOKEN);
    assert!(
        !asked[0].url.contains(OIDC_TOKEN),
        "the token went in the URL"
    );
    // s3s-fs checked every signature with STS's keys; the session token was signed in too.
    assert!(s3.log().contains(STS_SESSION_TOKEN));
    shows_no_secret(&output, &[OIDC_TOKEN, SECRET_KEY, STS_SESSION_TOKEN]);

    // The same from a profile, with STS found through AWS_ENDPOINT_URL and the session
    // named by maskflow.
    write(
        root,
        "aws-config",
        &format!("[profile oidc]\nrole_arn = {ROLE_ARN}\nweb_identity_token_file = {token_file}\n"),
    );
    let env = [
        ("AWS_PROFILE", "oidc".to_owned()),
        (
            "AWS_CONFIG_FILE",
            root.join("aws-config").display().to_string(),
        ),
        ("AWS_ENDPOINT_URL", sts_url),
        ("AWS_REGION", "us-east-1".to_owned()),
    ];
    let output = run_json(root, &env, &["plan"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(keys_of(&plan_items(&output), "unchanged").len(), 2);
    let asked = seen.lock().unwrap().clone();
    assert_eq!(asked.len(), 2, "{asked:?}");
    let form = asked[1].form();
    assert_eq!(form["RoleArn"], ROLE_ARN);
    assert!(form["RoleSessionName"].starts_with("maskflow-"), "{form:?}");
    shows_no_secret(&output, &[OIDC_TOKEN, SECRET_KEY, STS_SESSION_TOKEN]);
}

#[test]
fn a_bad_web_identity_token_file_is_named_and_its_token_never_shown() {
    let s3 = S3::start();
    s3.put_file("in/horse.png", &photo("horse.png"));
    let (sts_url, seen) = credential_stand_in(sts);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "maskflow.yaml", &single_input_manifest(&s3));
    let env = |token_file: &Path| {
        vec![
            ("AWS_ROLE_ARN", ROLE_ARN.to_owned()),
            (
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                token_file.display().to_string(),
            ),
            ("AWS_ENDPOINT_URL_STS", sts_url.clone()),
            ("AWS_REGION", "us-east-1".to_owned()),
        ]
    };

    // No file: said so, by name, with where the file comes from; STS is not asked.
    let missing = root.join("no-such-token");
    let output = run_json(root, &env(&missing), &["plan"]);
    assert_eq!(code(&output), 1);
    let items = plan_items(&output);
    assert_eq!(items[0]["action"], "unreadable", "{items:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains(&*missing.display().to_string())
            && text.contains("web identity token file")
            && text.contains("id-token: write"),
        "{text}"
    );
    assert!(seen.lock().unwrap().is_empty());

    // A token STS refuses: STS's reason, the file named, the token nowhere.
    let wrong = "eyJhbGciOiJSUzI1NiJ9.d3JvbmctYXVkaWVuY2U.bm90LXRoaXMtb25l";
    write(root, "expired-token", wrong);
    let output = run_json(root, &env(&root.join("expired-token")), &["plan"]);
    assert_eq!(code(&output), 1);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("InvalidIdentityToken")
            && text.contains(&*root.join("expired-token").display().to_string())
            && text.contains(ROLE_ARN)
            && text.contains("trust policy"),
        "{text}"
    );
    shows_no_secret(&output, &[wrong]);
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[test]
fn credentials_come_from_a_container_endpoint_with_its_authorization_token() {
    const AUTHORIZATION: &str = "container-authorization-t0ken";
    const CONTAINER_SESSION_TOKEN: &str = "container-session-token-EXAMPLE";
    let s3 = S3::start();
    s3.put_file("in/horse.png", &photo("horse.png"));
    // As the EKS Pod Identity and ECS agents answer: JSON, for the right token only.
    let (url, seen) = credential_stand_in(|seen| {
        if seen.method != "GET" || seen.url != "/v1/credentials" {
            return (404, String::new());
        }
        if seen.authorization.as_deref() != Some(AUTHORIZATION) {
            return (
                401,
                r#"{"Code":"AccessDeniedException","Message":"invalid token"}"#.to_owned(),
            );
        }
        let answer = serde_json::json!({
            "AccessKeyId": ACCESS_KEY,
            "SecretAccessKey": SECRET_KEY,
            "Token": CONTAINER_SESSION_TOKEN,
            "AccountId": "123456789012",
            "Expiration": "2099-01-01T00:00:00Z",
        });
        (200, answer.to_string())
    });
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "maskflow.yaml", &single_input_manifest(&s3));
    write(root, "pod-identity-token", AUTHORIZATION);
    let full_uri = format!("{url}/v1/credentials");

    // The token from a file (EKS Pod Identity).
    let env = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", full_uri.clone()),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            root.join("pod-identity-token").display().to_string(),
        ),
        ("AWS_REGION", "us-east-1".to_owned()),
    ];
    let output = run_json(root, &env, &["apply"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(summary(&events(&output))["created"].as_u64(), Some(1));
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert!(s3.log().contains(CONTAINER_SESSION_TOKEN));
    shows_no_secret(
        &output,
        &[AUTHORIZATION, SECRET_KEY, CONTAINER_SESSION_TOKEN],
    );

    // The token itself in the environment (ECS Anywhere, Greengrass).
    let env = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", full_uri.clone()),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            AUTHORIZATION.to_owned(),
        ),
        ("AWS_REGION", "us-east-1".to_owned()),
    ];
    let output = run_json(root, &env, &["plan"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(keys_of(&plan_items(&output), "unchanged").len(), 1);
    assert_eq!(seen.lock().unwrap().len(), 2);

    // A token the endpoint refuses: its answer and the endpoint are told, the token is not.
    let env = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", full_uri),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            "stale-authorization-t0ken".to_owned(),
        ),
        ("AWS_REGION", "us-east-1".to_owned()),
    ];
    let output = run_json(root, &env, &["plan"]);
    assert_eq!(code(&output), 1);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("container endpoint") && text.contains("401") && text.contains(&url),
        "{text}"
    );
    shows_no_secret(&output, &["stale-authorization-t0ken"]);
}
