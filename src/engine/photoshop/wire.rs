//! The Photoshop API's JSON: request bodies, and tolerant reading of what comes back. The
//! documented shapes disagree with each other (`jobId`/`jobID`, `errors` as object or array,
//! two error families), so every reader here accepts all of them.

use serde_json::{Value, json};

use crate::manifest::{MaskMode, Optimize, OutputKind, StorageKind};
use crate::redact::{SecretUrl, redact_text};

/// The body of `POST /sensei/mask`.
pub fn sensei_body(
    input: &SecretUrl,
    output: &SecretUrl,
    mask: MaskMode,
    storage: Option<StorageKind>,
    optimize: Option<Optimize>,
) -> Value {
    let storage_of = |url: &SecretUrl| storage.unwrap_or_else(|| infer_storage(url)).as_str();
    let mut body = json!({
        "input": {"href": input.expose(), "storage": storage_of(input)},
        "output": {
            "href": output.expose(),
            "storage": storage_of(output),
            "mask": {"format": mask.as_str()},
        },
    });
    if let Some(optimize) = optimize {
        body["options"] = json!({"optimize": match optimize {
            Optimize::Performance => "performance",
            Optimize::Batch => "batch",
        }});
    }
    body
}

/// The body of `POST /v2/remove-background`, `mode` `mask` or `cutout`. v2 has no binary
/// masks: maskflow thresholds the soft mask (or the cutout's alpha) itself, exactly as the
/// local engine does.
pub fn v2_body(input: &SecretUrl, kind: OutputKind) -> Value {
    json!({
        "image": {"source": {"url": input.expose()}},
        "mode": kind.as_str(),
        "output": {"mediaType": "image/png"},
    })
}

/// What Adobe's own SDK infers from the host: Azure Blob and Dropbox links are their own
/// storage kinds, everything else is `external`.
pub fn infer_storage(url: &SecretUrl) -> StorageKind {
    let host = url
        .url()
        .host_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if host.ends_with(".blob.core.windows.net") || host.ends_with(".azureedge.net") {
        StorageKind::Azure
    } else if host == "content.dropboxapi.com" || host.ends_with(".dropboxusercontent.com") {
        StorageKind::Dropbox
    } else {
        StorageKind::External
    }
}

/// The job id in a `sensei` 202: the last segment of `_links.self.href`, or a `jobId`/`jobID` field.
pub fn sensei_job_id(body: &Value) -> Option<String> {
    let from_link = body
        .pointer("/_links/self/href")
        .and_then(Value::as_str)
        .and_then(|href| href.trim_end_matches('/').rsplit('/').next())
        .filter(|id| !id.is_empty())
        .map(str::to_owned);
    from_link.or_else(|| job_id_field(body))
}

/// The job id in a `v2` 202.
pub fn v2_job_id(body: &Value) -> Option<String> {
    job_id_field(body)
}

fn job_id_field(body: &Value) -> Option<String> {
    ["jobId", "jobID"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_str))
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// The status link of a 202: `_links.self.href` (sensei) or `statusUrl` (v2).
pub fn status_href(body: &Value) -> Option<String> {
    body.pointer("/_links/self/href")
        .or_else(|| body.get("statusUrl"))
        .and_then(Value::as_str)
        .filter(|href| !href.is_empty())
        .map(str::to_owned)
}

/// How long the service says a finished job took: `modified` − `created` (sensei) or
/// `modifiedTime` − `createdTime` (v2), both from the service's own clock.
pub fn service_latency(body: &Value) -> Option<std::time::Duration> {
    let time = |keys: [&str; 2]| {
        keys.iter()
            .find_map(|k| body.get(*k).and_then(Value::as_str))
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
    };
    let created = time(["created", "createdTime"])?;
    let modified = time(["modified", "modifiedTime"])?;
    std::time::Duration::try_from(modified.duration_since(created)).ok()
}

/// A job's state as a status response tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    Pending,
    Running,
    /// For `v2`, where the service hosts the result.
    Succeeded {
        result_url: Option<String>,
    },
    Failed(JobFailure),
    /// A status this client does not know: keep polling until the deadline.
    Other(String),
}

impl JobStatus {
    pub fn name(&self) -> &str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Succeeded { .. } => "succeeded",
            JobStatus::Failed { .. } => "failed",
            JobStatus::Other(s) => s,
        }
    }
}

pub fn parse_status(body: &Value) -> JobStatus {
    let status = body.get("status").and_then(Value::as_str).unwrap_or("");
    match status.to_ascii_lowercase().as_str() {
        "pending" | "not_started" => JobStatus::Pending,
        "running" | "starting" => JobStatus::Running,
        "succeeded" => JobStatus::Succeeded {
            result_url: body
                .pointer("/result/outputs/0/destination/url")
                .and_then(Value::as_str)
                .map(str::to_owned),
        },
        // Never infer failure from `errors` alone: succeeded bodies have been seen with `"errors":[{}]`.
        "failed" => JobStatus::Failed(JobFailure {
            code: error_code(body),
            message: error_message(body).unwrap_or_else(|| "the job failed".to_owned()),
        }),
        other => JobStatus::Other(other.to_owned()),
    }
}

/// Why the service says a job failed: its error code and its explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    /// `type` (sensei) or `errorCode` (v2), e.g. `ResourceNotFound`, `input_not_accessible`.
    pub code: Option<String>,
    /// URLs redacted.
    pub message: String,
}

impl std::fmt::Display for JobFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl JobFailure {
    /// What to do about it, by the service's error code.
    pub fn hint(&self) -> Option<String> {
        let hint = match self.code.as_deref()? {
            "ResourceNotFound" | "input_not_accessible" => {
                "the service could not read the input URL: it must be reachable from the \
                 service and must not expire before the job runs; staged URLs live \
                 `storage.expires_seconds`"
            }
            "AuthForbidden" | "output_upload_failed" => {
                "the service could not write the mask: the mask URL must accept a PUT from the \
                 service and must not expire before the job runs"
            }
            "InputValidationError" | "invalid_input" => {
                "the input must be a PNG or JPEG the service can decode, within its size limits"
            }
            _ => return None,
        };
        Some(hint.to_owned())
    }
}

/// The service's error code, from any of the API's error shapes (the first one found).
pub fn error_code(body: &Value) -> Option<String> {
    let code_of = |item: &Value| {
        ["type", "error_code", "errorCode", "error"]
            .iter()
            .find_map(|k| match item.get(*k) {
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            })
    };
    ["errors", "errorDetails"]
        .iter()
        .filter_map(|key| match body.get(*key) {
            Some(Value::Array(items)) => items.iter().find_map(code_of),
            Some(item @ Value::Object(_)) => code_of(item),
            _ => None,
        })
        .next()
        .or_else(|| code_of(body))
        .map(|code| code.chars().take(64).collect())
}

/// A readable message from any of the API's error shapes, with URLs redacted.
pub fn error_message(body: &Value) -> Option<String> {
    let mut parts = Vec::new();
    for key in ["errors", "errorDetails"] {
        match body.get(key) {
            Some(Value::Array(items)) => parts.extend(items.iter().filter_map(describe_error)),
            Some(item @ Value::Object(_)) => parts.extend(describe_error(item)),
            _ => {}
        }
    }
    if parts.is_empty() {
        parts.extend(describe_error(body));
    }
    (!parts.is_empty()).then(|| redact_text(&parts.join("; ")))
}

/// `{type, code, title, details|reason|errorDetails}` or `{error_code, message}` or
/// `{errorCode, message}`. The SDK's own description nests the reasons as `errorDetails`
/// inside the `errors` object (contract §3.3).
fn describe_error(item: &Value) -> Option<String> {
    let text = |k: &str| match item.get(k) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let kind = text("type")
        .or_else(|| text("error_code"))
        .or_else(|| text("errorCode"));
    let code = text("code");
    let headline = text("title")
        .or_else(|| text("message"))
        .or_else(|| text("error_description"));
    let details = ["details", "reason", "errorDetails"]
        .iter()
        .filter_map(|k| item.get(*k))
        .flat_map(|d| match d {
            Value::Array(items) => items.iter().filter_map(detail_text).collect::<Vec<_>>(),
            other => detail_text(other).into_iter().collect(),
        })
        .collect::<Vec<_>>();
    if kind.is_none() && headline.is_none() && details.is_empty() {
        return None;
    }
    let mut out = String::new();
    if let Some(kind) = kind {
        out.push_str(&kind);
        if let Some(code) = code {
            out.push_str(&format!(" ({code})"));
        }
    }
    if let Some(headline) = headline {
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&headline);
    }
    if !details.is_empty() {
        out.push_str(&format!(" [{}]", details.join("; ")));
    }
    Some(out)
}

fn detail_text(detail: &Value) -> Option<String> {
    match detail {
        Value::String(s) => Some(s.clone()),
        Value::Object(_) => {
            let get = |k: &str| detail.get(k).and_then(Value::as_str);
            match (get("reason").or(get("message")), get("name")) {
                (Some(reason), Some(name)) => Some(format!("{reason}: {}", redact_text(name))),
                (Some(reason), None) => Some(reason.to_owned()),
                (None, Some(name)) => Some(name.to_owned()),
                (None, None) => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_from_either_api() {
        let sensei =
            json!({"_links": {"self": {"href": "https://image.adobe.io/sensei/status/abc-1"}}});
        assert_eq!(sensei_job_id(&sensei).as_deref(), Some("abc-1"));
        assert_eq!(sensei_job_id(&json!({"jobID": "x"})).as_deref(), Some("x"));
        assert_eq!(sensei_job_id(&json!({})), None);
        let v2 = json!({"jobId": "urn:ff:jobs:a:b", "statusUrl": "…"});
        assert_eq!(v2_job_id(&v2).as_deref(), Some("urn:ff:jobs:a:b"));
    }

    #[test]
    fn status_links_and_service_times() {
        let sensei =
            json!({"_links": {"self": {"href": "https://image.adobe.io/sensei/status/a"}}});
        assert_eq!(
            status_href(&sensei).as_deref(),
            Some("https://image.adobe.io/sensei/status/a")
        );
        let v2 = json!({"jobId": "j", "statusUrl": "https://image.adobe.io/v2/status/j"});
        assert_eq!(
            status_href(&v2).as_deref(),
            Some("https://image.adobe.io/v2/status/j")
        );
        assert_eq!(status_href(&json!({"jobId": "j"})), None);
        let done =
            json!({"created": "2024-11-28T10:00:00.250Z", "modified": "2024-11-28T10:00:05.500Z"});
        assert_eq!(
            service_latency(&done),
            Some(std::time::Duration::from_millis(5250))
        );
        let v2 =
            json!({"createdTime": "2024-11-28T10:00:00Z", "modifiedTime": "2024-11-28T10:00:01Z"});
        assert_eq!(
            service_latency(&v2),
            Some(std::time::Duration::from_secs(1))
        );
        let backwards =
            json!({"created": "2024-11-28T10:00:05Z", "modified": "2024-11-28T10:00:00Z"});
        assert_eq!(service_latency(&backwards), None);
        assert_eq!(service_latency(&json!({"created": "soon"})), None);
    }

    #[test]
    fn every_documented_failure_shape_reads() {
        let object = json!({"status": "failed", "errors": {"type": "ResourceNotFound", "code": 404,
            "title": "Requested resource was not found",
            "details": [{"name": "https://b/in.png?sig=S", "reason": "Unable to access the input href"}]}});
        let JobStatus::Failed(failure) = parse_status(&object) else {
            panic!()
        };
        assert_eq!(
            failure.message,
            "ResourceNotFound (404): Requested resource was not found [Unable to access the input href: https://b/in.png]"
        );
        assert_eq!(failure.code.as_deref(), Some("ResourceNotFound"));
        assert!(
            failure
                .hint()
                .unwrap()
                .contains("could not read the input URL")
        );
        let array = json!({"status": "failed", "errors": [{"type": "AuthForbidden", "code": 403,
            "title": "Access Is Forbidden", "details": {"name": "u", "reason": "Unable to upload the outputs"}}]});
        assert!(
            matches!(parse_status(&array), JobStatus::Failed(JobFailure { message, code })
            if message.contains("AuthForbidden (403)") && message.contains("Unable to upload the outputs")
                && code.as_deref() == Some("AuthForbidden"))
        );
        let nested = json!({"status": "failed", "errors": {"type": "ResourceNotFound", "code": 404,
            "title": "Requested resource was not found",
            "errorDetails": [{"name": "https://b/in.png?sig=S", "reason": "Unable to access the input href"}]}});
        let JobStatus::Failed(JobFailure { message, .. }) = parse_status(&nested) else {
            panic!()
        };
        assert_eq!(
            message,
            "ResourceNotFound (404): Requested resource was not found [Unable to access the input href: https://b/in.png]"
        );
        let v2 = json!({"status": "failed", "errorDetails": [{"errorCode": "runtime_error", "message": "boom"}]});
        assert!(
            matches!(parse_status(&v2), JobStatus::Failed(JobFailure { message, code })
                if message == "runtime_error: boom" && code.as_deref() == Some("runtime_error"))
        );
        let gateway = json!({"error_code": "401013", "message": "Oauth token is not valid"});
        assert_eq!(
            error_message(&gateway).as_deref(),
            Some("401013: Oauth token is not valid")
        );
        assert_eq!(error_code(&gateway).as_deref(), Some("401013"));
        let oauth = json!({"error": "invalid_client", "error_description": "bad secret"});
        assert_eq!(error_code(&oauth).as_deref(), Some("invalid_client"));
        assert!(matches!(
            parse_status(&json!({"status": "failed"})),
            JobStatus::Failed(JobFailure { code: None, .. })
        ));
    }

    #[test]
    fn statuses() {
        assert_eq!(
            parse_status(&json!({"status": "pending"})),
            JobStatus::Pending
        );
        assert_eq!(
            parse_status(&json!({"status": "running"})),
            JobStatus::Running
        );
        // A succeeded body with an empty `errors` entry is still a success.
        assert_eq!(
            parse_status(&json!({"status": "succeeded", "errors": [{}]})),
            JobStatus::Succeeded { result_url: None }
        );
        let v2 = json!({"status": "succeeded", "result": {"outputs": [{"destination": {"url": "https://r/x.png?s=1"}}]}});
        assert_eq!(
            parse_status(&v2),
            JobStatus::Succeeded {
                result_url: Some("https://r/x.png?s=1".into())
            }
        );
        assert_eq!(
            parse_status(&json!({"status": "queued"})),
            JobStatus::Other("queued".into())
        );
    }

    #[test]
    fn storage_follows_the_host() {
        let kind = |u: &str| infer_storage(&SecretUrl::parse(u).unwrap());
        assert_eq!(
            kind("https://acct.blob.core.windows.net/c/x.png?sv=1"),
            StorageKind::Azure
        );
        assert_eq!(
            kind("https://content.dropboxapi.com/x"),
            StorageKind::Dropbox
        );
        assert_eq!(kind("https://b.s3.amazonaws.com/x"), StorageKind::External);
    }

    #[test]
    fn request_bodies() {
        let i = SecretUrl::parse("https://b.s3.amazonaws.com/in.jpg?sig=1").unwrap();
        let o = SecretUrl::parse("https://acct.blob.core.windows.net/m.png?sig=2").unwrap();
        let body = sensei_body(&i, &o, MaskMode::Binary, None, Some(Optimize::Batch));
        assert_eq!(body["input"]["storage"], "external");
        assert_eq!(body["output"]["storage"], "azure");
        assert_eq!(body["output"]["mask"]["format"], "binary");
        assert_eq!(body["options"]["optimize"], "batch");
        assert_eq!(
            body["input"]["href"],
            "https://b.s3.amazonaws.com/in.jpg?sig=1"
        );
        assert_eq!(v2_body(&i, OutputKind::Mask)["mode"], "mask");
        assert_eq!(v2_body(&i, OutputKind::Cutout)["mode"], "cutout");
    }
}
