//! GCS credentials from an `external_account` file: workload identity federation, as
//! `google-github-actions/auth` writes it for GitHub's OIDC tokens (and `gcloud iam
//! workload-identity-pools create-cred-config` for other identity providers).
//!
//! The file names where a subject token is read (a file, or a URL with headers), the STS
//! endpoint that exchanges it (RFC 8693) for a federated access token, and optionally a
//! service account to impersonate with that token (IAM Credentials `generateAccessToken`).
//! `object_store` reads only service-account and authorized-user files, so maskflow does the
//! exchange itself, on its one HTTP stack, and hands the token to `object_store` as a
//! `CredentialProvider`.
//!
//! There is no private key, so URLs are signed through IAM Credentials `signBlob` as the
//! impersonated service account. `object_store` would call `signBlob` itself when given no
//! key, but at a hardcoded `https://iamcredentials.googleapis.com`; here the signer is a
//! `ServiceAccountKey` whose "key" asks `signBlob` on the host of the file's own
//! `service_account_impersonation_url` (`...:generateAccessToken` becomes `...:signBlob`),
//! so the one file says where every credential request goes (and a test can point it all
//! at 127.0.0.1).
//!
//! The file is untrusted input: sizes are bounded, its URLs must be https (http only to this
//! machine), and credential sources maskflow does not implement (`executable`, AWS's
//! `environment_id`) are refused by name.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use object_store::CredentialProvider;
use object_store::gcp::{GcpCredential, GcpSigningCredential, ServiceAccountKey};
use serde::Deserialize;

use super::error::{CredentialError, GcsStep};
use crate::http::{Client, Failure, Request};
use crate::redact::{is_loopback_host, register_secret, scrub};

/// Largest credential file, subject token and credential-service answer read.
const MAX_FILE: u64 = 64 * 1024;
/// Longest access token kept (Google's are about 1-2 KB).
const MAX_TOKEN: usize = 16 * 1024;
/// Most headers a URL-sourced subject token may ask for.
const MAX_HEADERS: usize = 16;
/// How long one credential request may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Tries per credential request, for answers that say "later" (429, 5xx) or none at all.
const ATTEMPTS: u32 = 3;
/// Access for reading, writing and signing: STS and IAM Credentials need `cloud-platform`
/// for the impersonation and `signBlob` calls, and it covers Cloud Storage.
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// The subject token types an OIDC or SAML provider gives.
const SUBJECT_TOKEN_TYPES: [&str; 3] = [
    "urn:ietf:params:oauth:token-type:jwt",
    "urn:ietf:params:oauth:token-type:id_token",
    "urn:ietf:params:oauth:token-type:saml2",
];
/// Refreshed this long before it expires (or at half its life, if shorter), so that a
/// request sent with it does not land after it.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// The file as written. Fields maskflow does not use (`universe_domain`, `token_info_url`,
/// `quota_project_id`...) are ignored.
#[derive(Deserialize)]
struct File {
    #[serde(rename = "type")]
    kind: String,
    audience: Option<String>,
    subject_token_type: Option<String>,
    token_url: Option<String>,
    credential_source: Option<serde_json::Map<String, serde_json::Value>>,
    service_account_impersonation_url: Option<String>,
    service_account_impersonation: Option<ImpersonationOptions>,
    /// Workforce pools (people, not workloads) bill STS to this project.
    workforce_pool_user_project: Option<String>,
}

#[derive(Deserialize)]
struct ImpersonationOptions {
    token_lifetime_seconds: Option<u64>,
}

/// Where the subject token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    File {
        path: String,
        format: Format,
    },
    Url {
        url: String,
        headers: Vec<(&'static str, String)>,
        format: Format,
    },
}

/// How the subject token is written where it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Format {
    /// The whole text, trimmed.
    Text,
    /// A string field of a JSON object.
    Json { field: String },
}

/// The service account to impersonate.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Impersonation {
    url: String,
    /// The same resource's `signBlob`.
    sign_url: String,
    email: String,
    lifetime_seconds: u64,
}

/// A checked `external_account` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalAccount {
    /// The file's path, to name it in messages.
    path: String,
    audience: String,
    subject_token_type: String,
    token_url: String,
    source: Source,
    impersonation: Option<Impersonation>,
    user_project: Option<String>,
}

/// Whether `text` is an `external_account` file (one `object_store` would not read).
fn is_external_account(text: &str) -> bool {
    #[derive(Deserialize)]
    struct Kind {
        #[serde(rename = "type")]
        kind: Option<String>,
    }
    serde_json::from_str::<Kind>(text).is_ok_and(|k| k.kind.as_deref() == Some("external_account"))
}

/// Reads a file, refusing more than `MAX_FILE` bytes.
fn read_bounded(path: &str) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| crate::fsutil::io_reason(&e))?;
    let mut text = String::new();
    file.take(MAX_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| crate::fsutil::io_reason(&e))?;
    if text.len() as u64 > MAX_FILE {
        return Err(format!("it is larger than {MAX_FILE} bytes"));
    }
    Ok(text)
}

/// Reads the credential file at `path`, or `None` when it is not an `external_account`
/// file (`object_store` reads the other kinds).
pub fn read(path: &str) -> Result<Option<ExternalAccount>, CredentialError> {
    let text = read_bounded(path).map_err(|reason| CredentialError::GcsFile {
        path: path.to_owned(),
        reason,
    })?;
    if !is_external_account(&text) {
        return Ok(None);
    }
    parse(path, &text).map(Some)
}

fn parse(path: &str, text: &str) -> Result<ExternalAccount, CredentialError> {
    let invalid = |reason: String| CredentialError::GcsFile {
        path: path.to_owned(),
        reason,
    };
    let file: File = serde_json::from_str(text).map_err(|e| invalid(format!("{e}")))?;
    if file.kind != "external_account" {
        return Err(invalid(format!("its type is `{}`", file.kind)));
    }
    let audience = required("audience", file.audience, 1024).map_err(invalid)?;
    let subject_token_type =
        required("subject_token_type", file.subject_token_type, 256).map_err(invalid)?;
    if !SUBJECT_TOKEN_TYPES.contains(&subject_token_type.as_str()) {
        // AWS's signed-request token type goes with the `aws` source, refused below; any
        // other is not a token STS takes.
        if subject_token_type.contains(":aws:") {
            return Err(CredentialError::GcsUnsupportedSource {
                path: path.to_owned(),
                kind: "aws".to_owned(),
            });
        }
        return Err(invalid(format!(
            "subject_token_type `{subject_token_type}` is not one of {}",
            SUBJECT_TOKEN_TYPES.join(", ")
        )));
    }
    let token_url = required("token_url", file.token_url, 2048).map_err(invalid)?;
    checked_url("token_url", &token_url).map_err(invalid)?;
    let source = source(path, file.credential_source)?;
    let impersonation = match file.service_account_impersonation_url {
        None => None,
        Some(url) => Some(
            impersonation(
                &url,
                file.service_account_impersonation
                    .and_then(|o| o.token_lifetime_seconds),
            )
            .map_err(invalid)?,
        ),
    };
    let user_project = match file.workforce_pool_user_project {
        Some(project)
            if project.is_empty()
                || project.len() > 64
                || !project
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) =>
        {
            return Err(invalid(
                "`workforce_pool_user_project` is not a project id or number".to_owned(),
            ));
        }
        project => project,
    };
    Ok(ExternalAccount {
        path: path.to_owned(),
        audience,
        subject_token_type,
        token_url,
        source,
        impersonation,
        user_project,
    })
}

fn required(name: &str, value: Option<String>, max: usize) -> Result<String, String> {
    let value = value
        .filter(|v| !v.trim().is_empty())
        .ok_or(format!("`{name}` is missing"))?;
    if value.len() > max {
        return Err(format!("`{name}` is longer than {max} bytes"));
    }
    Ok(value.trim().to_owned())
}

/// A URL credentials may be sent to: https, or http to this machine only.
fn checked_url(name: &str, text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| format!("`{name}` is not a URL: {e}"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback_host(&url) => Ok(url),
        _ => Err(format!(
            "`{name}` must be an https URL (plain http only to this machine), not {}",
            crate::redact::redact(&url)
        )),
    }
}

fn source(
    path: &str,
    source: Option<serde_json::Map<String, serde_json::Value>>,
) -> Result<Source, CredentialError> {
    let invalid = |reason: String| CredentialError::GcsFile {
        path: path.to_owned(),
        reason,
    };
    let source = source.ok_or_else(|| invalid("`credential_source` is missing".to_owned()))?;
    let string = |key: &str| -> Result<Option<String>, CredentialError> {
        match source.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) if s.len() <= 2048 => Ok(Some(s.clone())),
            Some(_) => Err(invalid(format!(
                "`credential_source.{key}` is not a string of at most 2048 bytes"
            ))),
        }
    };
    // Sources that run a program or sign AWS requests: not implemented, refused by name.
    let unsupported = if source.contains_key("executable") {
        Some("executable".to_owned())
    } else {
        source.get("environment_id").map(|id| {
            id.as_str()
                .filter(|id| id.len() <= 32)
                .unwrap_or("environment_id")
                .to_owned()
        })
    };
    if let Some(kind) = unsupported {
        return Err(CredentialError::GcsUnsupportedSource {
            path: path.to_owned(),
            kind,
        });
    }
    let format = format(source.get("format")).map_err(invalid)?;
    match (string("file")?, string("url")?) {
        (Some(file), None) => Ok(Source::File { path: file, format }),
        (None, Some(url)) => {
            checked_url("credential_source.url", &url).map_err(invalid)?;
            let headers = headers(source.get("headers")).map_err(invalid)?;
            Ok(Source::Url {
                url,
                headers,
                format,
            })
        }
        (Some(_), Some(_)) => Err(invalid(
            "`credential_source` names both a `file` and a `url`".to_owned(),
        )),
        (None, None) => {
            let kinds: Vec<&str> = source.keys().map(String::as_str).take(5).collect();
            Err(invalid(format!(
                "`credential_source` names no `file` or `url` (it has: {})",
                if kinds.is_empty() {
                    "nothing".to_owned()
                } else {
                    kinds.join(", ")
                }
            )))
        }
    }
}

fn format(format: Option<&serde_json::Value>) -> Result<Format, String> {
    let Some(format) = format else {
        return Ok(Format::Text);
    };
    let kind = format
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or("text");
    match kind {
        "text" => Ok(Format::Text),
        "json" => {
            let field = format
                .get("subject_token_field_name")
                .and_then(|f| f.as_str())
                .filter(|f| !f.is_empty() && f.len() <= 256)
                .ok_or("`credential_source.format` is json without `subject_token_field_name`")?;
            Ok(Format::Json {
                field: field.to_owned(),
            })
        }
        other => Err(format!(
            "`credential_source.format.type` is `{}`, not text or json",
            other.chars().take(32).collect::<String>()
        )),
    }
}

/// `http::Request` takes header names as `&'static str`: each distinct name a file gives
/// is interned once, and there are at most `MAX_HEADERS` per file.
fn intern(name: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(found) = names.get(name) {
        return found;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

fn headers(headers: Option<&serde_json::Value>) -> Result<Vec<(&'static str, String)>, String> {
    let Some(headers) = headers else {
        return Ok(Vec::new());
    };
    let headers = headers
        .as_object()
        .ok_or("`credential_source.headers` is not an object")?;
    if headers.len() > MAX_HEADERS {
        return Err(format!(
            "`credential_source.headers` has more than {MAX_HEADERS} headers"
        ));
    }
    headers
        .iter()
        .map(|(name, value)| {
            let token = !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            let value = value
                .as_str()
                .filter(|v| v.len() <= 8192 && !v.contains(['\r', '\n']));
            match (token, value) {
                (true, Some(value)) => {
                    // An `Authorization` value (GitHub's request token) is a secret.
                    register_secret(value.rsplit(' ').next().unwrap_or(value));
                    Ok((intern(name), value.to_owned()))
                }
                _ => Err(format!(
                    "`credential_source.headers` has an invalid header `{}`",
                    name.chars().take(64).collect::<String>()
                )),
            }
        })
        .collect()
}

fn impersonation(url: &str, lifetime: Option<u64>) -> Result<Impersonation, String> {
    let name = "service_account_impersonation_url";
    if url.len() > 2048 {
        return Err(format!("`{name}` is longer than 2048 bytes"));
    }
    let parsed = checked_url(name, url)?;
    let email = parsed
        .path()
        .strip_suffix(":generateAccessToken")
        .and_then(|p| p.rsplit_once("/serviceAccounts/"))
        // The `@` is written raw, or as `%40` by tools that escape it.
        .map(|(_, email)| email.replace("%40", "@"))
        .filter(|email| {
            !email.is_empty()
                && email.len() <= 256
                && email.contains('@')
                && !email.contains(['/', '?', '#', '%'])
        })
        .ok_or(format!(
            "`{name}` is not .../serviceAccounts/EMAIL:generateAccessToken"
        ))?;
    if parsed.query().is_some() {
        return Err(format!("`{name}` has a query"));
    }
    let lifetime_seconds = lifetime.unwrap_or(3600);
    if !(600..=43200).contains(&lifetime_seconds) {
        return Err(format!(
            "`service_account_impersonation.token_lifetime_seconds` is {lifetime_seconds}, not 600 to 43200"
        ));
    }
    let base = url.trim_end_matches(":generateAccessToken");
    Ok(Impersonation {
        url: url.to_owned(),
        sign_url: format!("{base}:signBlob"),
        email,
        lifetime_seconds,
    })
}

/// Blocks on synchronous credential work from inside `object_store`'s futures: on the
/// shared multi-thread runtime the worker hands its other tasks on while it waits (for the
/// cache's lock as much as for the network).
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

/// An access token, and when to renew it.
struct Cached {
    credential: Arc<GcpCredential>,
    refresh_at: Instant,
}

/// Exchanges the file's subject token for an access token, and keeps it until shortly
/// before it expires.
pub struct ExternalAccountProvider {
    account: ExternalAccount,
    cached: Mutex<Option<Cached>>,
}

/// Names the file only: the account holds header values (GitHub's request token) and the
/// cache holds a token.
impl std::fmt::Debug for ExternalAccountProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalAccountProvider")
            .field("path", &self.account.path)
            .finish_non_exhaustive()
    }
}

/// Sends a credential request (again, up to `ATTEMPTS` times, when the connection failed or
/// the answer said "later": a token request changes nothing, so sending it twice is
/// harmless), and returns the body of a 2xx answer.
fn answer<'a>(
    account: &ExternalAccount,
    step: GcsStep,
    url: &'a str,
    request: impl Fn(u32) -> Request<'a>,
) -> Result<Vec<u8>, CredentialError> {
    let failed = |reason: String| CredentialError::GcsExchange {
        path: account.path.clone(),
        step,
        reason: scrub(&reason),
    };
    let client = Client::new(TIMEOUT);
    let mut attempt = 1;
    loop {
        let answer = client.send(request(attempt));
        // A request that timed out is not sent again: the run would wait minutes.
        let again = match &answer {
            Err(e) => e.failure != Failure::TimedOut,
            Ok(r) => r.status() == 429 || r.status() >= 500,
        };
        if again && attempt < ATTEMPTS {
            let wait = Duration::from_millis(500 * u64::from(attempt));
            let reason = match &answer {
                Err(e) => e.to_string(),
                Ok(r) => format!("{step} answered {}", r.status()),
            };
            crate::http::log_retry(wait, &scrub(&reason), attempt, None);
            std::thread::sleep(wait);
            attempt += 1;
            continue;
        }
        let response = answer.map_err(|e| failed(e.to_string()))?;
        let status = response.status();
        if !response.is_success() {
            let body = response.excerpt(2048);
            return Err(failed(format!(
                "{} answered {status}{}",
                crate::redact::shown_url(url),
                google_error(&body)
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            )));
        }
        return response.bytes(MAX_FILE).map_err(|e| failed(e.to_string()));
    }
}

/// A 2xx answer's body as JSON.
fn json_answer<'a>(
    account: &ExternalAccount,
    step: GcsStep,
    url: &'a str,
    request: impl Fn(u32) -> Request<'a>,
) -> Result<serde_json::Value, CredentialError> {
    let body = answer(account, step, url, request)?;
    serde_json::from_slice(&body).map_err(|e| CredentialError::GcsExchange {
        path: account.path.clone(),
        step,
        reason: format!("the answer is not JSON: {e}"),
    })
}

/// The message of a Google error answer: OAuth's `error`/`error_description` (STS), or
/// `error.message` (IAM), at most 300 characters.
fn google_error(body: &str) -> Option<String> {
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    let error = json.get("error")?;
    let text = match error {
        serde_json::Value::String(code) => {
            match json.get("error_description").and_then(|d| d.as_str()) {
                Some(description) => format!("{code}: {description}"),
                None => code.clone(),
            }
        }
        other => other.get("message")?.as_str()?.to_owned(),
    };
    Some(text.chars().take(300).collect())
}

/// A token from an answer, bounded, and registered as a secret at once.
fn token_field(json: &serde_json::Value, field: &str) -> Result<String, String> {
    let token = json
        .get(field)
        .and_then(|t| t.as_str())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(format!("the answer has no `{field}`"))?;
    if token.len() > MAX_TOKEN {
        return Err(format!("`{field}` is longer than {MAX_TOKEN} bytes"));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!("`{field}` is not a token"));
    }
    register_secret(token);
    Ok(token.to_owned())
}

impl ExternalAccountProvider {
    pub fn new(account: ExternalAccount) -> Self {
        Self {
            account,
            cached: Mutex::new(None),
        }
    }

    /// The service account URLs are signed as, if the file names one.
    pub fn signing_email(&self) -> Option<&str> {
        self.account
            .impersonation
            .as_ref()
            .map(|i| i.email.as_str())
    }

    fn subject_token(&self) -> Result<String, CredentialError> {
        let failed = |reason: String| CredentialError::GcsExchange {
            path: self.account.path.clone(),
            step: GcsStep::SubjectToken,
            reason,
        };
        let (text, format) = match &self.account.source {
            Source::File { path, format } => (
                read_bounded(path).map_err(|reason| failed(format!("{path}: {reason}")))?,
                format,
            ),
            Source::Url {
                url,
                headers,
                format,
            } => {
                let body = answer(&self.account, GcsStep::SubjectToken, url, |attempt| {
                    headers
                        .iter()
                        .fold(Request::get(url).attempt(attempt), |r, (name, value)| {
                            r.header(name, value.clone())
                        })
                })?;
                let text = String::from_utf8(body)
                    .map_err(|_| failed("the answer is not text".to_owned()))?;
                (text, format)
            }
        };
        let token = extract(&text, format).map_err(failed)?;
        register_secret(&token);
        Ok(token)
    }

    /// Subject token → STS → (impersonation) → access token, and how long it lives.
    fn fetch(&self) -> Result<(String, Duration), CredentialError> {
        let account = &self.account;
        let subject = self.subject_token()?;
        let options = account
            .user_project
            .as_ref()
            .map(|project| serde_json::json!({ "userProject": project }).to_string());
        let mut fields = vec![
            ("grant_type", TOKEN_EXCHANGE),
            ("requested_token_type", ACCESS_TOKEN_TYPE),
            ("audience", account.audience.as_str()),
            ("scope", SCOPE),
            ("subject_token_type", account.subject_token_type.as_str()),
            ("subject_token", subject.as_str()),
        ];
        if let Some(options) = &options {
            fields.push(("options", options.as_str()));
        }
        let token_url = account.token_url.as_str();
        let sts = json_answer(account, GcsStep::Exchange, token_url, |attempt| {
            Request::post(token_url).form(&fields).attempt(attempt)
        })?;
        let exchanged = |reason: String| CredentialError::GcsExchange {
            path: account.path.clone(),
            step: GcsStep::Exchange,
            reason,
        };
        let federated = token_field(&sts, "access_token").map_err(exchanged)?;
        let Some(impersonation) = &account.impersonation else {
            let lifetime = sts
                .get("expires_in")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(3600);
            return Ok((federated, Duration::from_secs(lifetime.clamp(60, 43200))));
        };
        let body = serde_json::json!({
            "scope": [SCOPE],
            "lifetime": format!("{}s", impersonation.lifetime_seconds),
        });
        let url = impersonation.url.as_str();
        let answer = json_answer(account, GcsStep::Impersonation, url, |attempt| {
            Request::post(url)
                .bearer(&federated)
                .json(&body)
                .attempt(attempt)
        })?;
        let impersonated = |reason: String| CredentialError::GcsExchange {
            path: account.path.clone(),
            step: GcsStep::Impersonation,
            reason,
        };
        let token = token_field(&answer, "accessToken").map_err(impersonated)?;
        let lifetime = answer
            .get("expireTime")
            .and_then(|t| t.as_str())
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|at| at.as_second() - jiff::Timestamp::now().as_second())
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(impersonation.lifetime_seconds);
        Ok((token, Duration::from_secs(lifetime.clamp(60, 43200))))
    }

    /// The cached access token, or a fresh one.
    fn token(&self) -> Result<Arc<GcpCredential>, CredentialError> {
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.refresh_at
        {
            return Ok(token.credential.clone());
        }
        let (bearer, lifetime) = self.fetch()?;
        let credential = Arc::new(GcpCredential { bearer });
        *cached = Some(Cached {
            credential: credential.clone(),
            refresh_at: Instant::now() + lifetime - REFRESH_MARGIN.min(lifetime / 2),
        });
        Ok(credential)
    }

    /// Signs `bytes` as the impersonated service account through IAM Credentials `signBlob`.
    fn sign_blob(&self, bytes: &[u8]) -> Result<Vec<u8>, CredentialError> {
        let Some(impersonation) = &self.account.impersonation else {
            return Err(CredentialError::GcsNoServiceAccount {
                path: self.account.path.clone(),
            });
        };
        let token = self.token()?;
        let body = serde_json::json!({
            "payload": base64::engine::general_purpose::STANDARD.encode(bytes),
        });
        let url = impersonation.sign_url.as_str();
        let answer = json_answer(&self.account, GcsStep::SignBlob, url, |attempt| {
            Request::post(url)
                .bearer(&token.bearer)
                .json(&body)
                .attempt(attempt)
        })?;
        let failed = |reason: String| CredentialError::GcsExchange {
            path: self.account.path.clone(),
            step: GcsStep::SignBlob,
            reason,
        };
        let signed = answer
            .get("signedBlob")
            .and_then(|s| s.as_str())
            .filter(|s| s.len() <= MAX_TOKEN)
            .ok_or_else(|| failed("the answer has no `signedBlob`".to_owned()))?;
        base64::engine::general_purpose::STANDARD
            .decode(signed)
            .map_err(|e| failed(format!("`signedBlob` is not base64: {e}")))
    }
}

/// The subject token in `text`, as `format` says it is written.
fn extract(text: &str, format: &Format) -> Result<String, String> {
    let token = match format {
        Format::Text => text.trim().to_owned(),
        Format::Json { field } => {
            let json: serde_json::Value = serde_json::from_str(text)
                .map_err(|e| format!("the subject token is not JSON: {e}"))?;
            json.get(field)
                .and_then(|v| v.as_str())
                .ok_or(format!("the subject token's JSON has no string `{field}`"))?
                .trim()
                .to_owned()
        }
    };
    if token.is_empty() {
        return Err("the subject token is empty".to_owned());
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(
            "the subject token is not a token (it has spaces or control characters)".to_owned(),
        );
    }
    Ok(token)
}

fn store_error(error: CredentialError) -> object_store::Error {
    object_store::Error::Generic {
        store: "GCS",
        source: Box::new(error),
    }
}

#[async_trait::async_trait]
impl CredentialProvider for ExternalAccountProvider {
    type Credential = GcpCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<GcpCredential>> {
        blocking(|| self.token()).map_err(store_error)
    }
}

/// What `object_store`'s V4 signer signs with: the impersonated account's email, and a
/// "key" that is `signBlob`.
#[derive(Debug)]
pub struct SigningProvider(pub Arc<ExternalAccountProvider>);

/// The `signBlob` "key" (`object_store` hex-encodes what it returns).
struct SignBlob(Arc<ExternalAccountProvider>);

impl object_store::client::Signer for SignBlob {
    fn sign(&self, string_to_sign: &[u8]) -> object_store::Result<Vec<u8>> {
        blocking(|| self.0.sign_blob(string_to_sign)).map_err(store_error)
    }
}

#[async_trait::async_trait]
impl CredentialProvider for SigningProvider {
    type Credential = GcpSigningCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<GcpSigningCredential>> {
        let email = self.0.signing_email().ok_or_else(|| {
            store_error(CredentialError::GcsNoServiceAccount {
                path: self.0.account.path.clone(),
            })
        })?;
        Ok(Arc::new(GcpSigningCredential {
            email: email.to_owned(),
            private_key: Some(ServiceAccountKey::new(Box::new(SignBlob(self.0.clone())))),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GITHUB: &str = r#"{
      "type": "external_account",
      "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/gh",
      "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
      "token_url": "https://sts.googleapis.com/v1/token",
      "credential_source": {
        "url": "https://pipelines.actions.githubusercontent.com/abc/idtoken?api-version=2.0&audience=x",
        "headers": {"Authorization": "Bearer github-request-token-123"},
        "format": {"type": "json", "subject_token_field_name": "value"}
      },
      "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/ci@proj.iam.gserviceaccount.com:generateAccessToken",
      "universe_domain": "googleapis.com"
    }"#;

    #[test]
    fn a_github_actions_file_is_read() {
        let account = parse("creds.json", GITHUB).unwrap();
        let impersonation = account.impersonation.unwrap();
        assert_eq!(impersonation.email, "ci@proj.iam.gserviceaccount.com");
        assert_eq!(
            impersonation.sign_url,
            "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/ci@proj.iam.gserviceaccount.com:signBlob"
        );
        assert_eq!(impersonation.lifetime_seconds, 3600);
        assert_eq!(account.user_project, None);
        let Source::Url {
            headers, format, ..
        } = account.source
        else {
            panic!("a URL source")
        };
        assert_eq!(
            headers,
            vec![(
                "Authorization",
                "Bearer github-request-token-123".to_owned()
            )]
        );
        assert_eq!(
            format,
            Format::Json {
                field: "value".into()
            }
        );
        assert_eq!(scrub("x github-request-token-123 y"), "x [redacted] y");
    }

    fn refused(text: &str) -> CredentialError {
        parse("creds.json", text).unwrap_err()
    }

    #[test]
    fn hostile_or_unsupported_files_are_refused_by_name() {
        let with = |from: &str, to: &str| GITHUB.replace(from, to);
        let executable = with(
            r#""url": "https://pipelines"#,
            r#""executable": {"command": "rm -rf /"}, "url": "https://pipelines"#,
        );
        assert!(matches!(
            refused(&executable),
            CredentialError::GcsUnsupportedSource { kind, .. } if kind == "executable"
        ));
        let aws = with(
            r#""url": "https://pipelines"#,
            r#""environment_id": "aws1", "url": "https://pipelines"#,
        );
        assert!(matches!(
            refused(&aws),
            CredentialError::GcsUnsupportedSource { kind, .. } if kind == "aws1"
        ));
        for (from, to, says) in [
            (
                "https://sts.googleapis.com",
                "http://sts.example.com",
                "token_url",
            ),
            (
                "https://pipelines",
                "file:///etc/passwd#",
                "credential_source.url",
            ),
            (
                ":generateAccessToken",
                ":signBlob",
                "service_account_impersonation_url",
            ),
            (
                "urn:ietf:params:oauth:token-type:jwt",
                "urn:x",
                "subject_token_type",
            ),
            (r#""type": "json""#, r#""type": "xml""#, "format.type"),
            ("Authorization", "Bad Header", "invalid header"),
        ] {
            let text = refused(&with(from, to)).to_string();
            assert!(text.contains(says), "{from} → {to}: {text}");
            assert!(!text.contains("github-request-token-123"), "{text}");
        }
        assert!(refused(&"x".repeat(10)).to_string().contains("creds.json"));
        let header = |n: usize| {
            (0..n)
                .map(|i| format!("\"h{i}\": \"v\""))
                .collect::<Vec<_>>()
                .join(",")
        };
        let many = with(
            r#""Authorization": "Bearer github-request-token-123""#,
            &header(MAX_HEADERS + 1),
        );
        assert!(refused(&many).to_string().contains("more than"));
        let workforce = with(
            r#""universe_domain""#,
            r#""workforce_pool_user_project": "my-project", "universe_domain""#,
        );
        assert_eq!(
            parse("creds.json", &workforce)
                .unwrap()
                .user_project
                .as_deref(),
            Some("my-project")
        );
        let workforce = with(
            r#""universe_domain""#,
            r#""workforce_pool_user_project": "a&b=c", "universe_domain""#,
        );
        assert!(
            refused(&workforce)
                .to_string()
                .contains("workforce_pool_user_project")
        );
        // Plain http is fine to this machine (the tests' stand-ins).
        let local = with("https://sts.googleapis.com", "http://127.0.0.1:9");
        assert!(parse("creds.json", &local).is_ok());
    }

    #[test]
    fn subject_tokens_are_extracted_strictly() {
        assert_eq!(extract(" abc.def \n", &Format::Text).unwrap(), "abc.def");
        let json = Format::Json {
            field: "value".into(),
        };
        assert_eq!(extract(r#"{"value":"t.o.k"}"#, &json).unwrap(), "t.o.k");
        assert!(extract(r#"{"count":1}"#, &json).is_err());
        assert!(extract("a b", &Format::Text).is_err());
        assert!(extract("  ", &Format::Text).is_err());
    }

    #[test]
    fn google_errors_are_quoted() {
        assert_eq!(
            google_error(
                r#"{"error":"invalid_grant","error_description":"The audience is wrong"}"#
            )
            .as_deref(),
            Some("invalid_grant: The audience is wrong")
        );
        assert_eq!(
            google_error(r#"{"error":{"code":403,"message":"Permission denied","status":"PERMISSION_DENIED"}}"#)
                .as_deref(),
            Some("Permission denied")
        );
        assert_eq!(google_error("<html>"), None);
    }
}
