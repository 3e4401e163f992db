//! Request-body validation, shaped like the real services' answers: ajv-style errors for
//! the sensei routes (captured bodies in the contract, §2.4) and the v2 error family.

use serde_json::{Map, Value, json};

use crate::manifest::{MaskMode, OutputKind};

const STORAGES: [&str; 4] = ["external", "azure", "dropbox", "adobe"];
const MASK_FORMATS: [&str; 2] = ["soft", "binary"];
const COLOR_SPACES: [&str; 2] = ["rgb", "rgba"];
const OPTIMIZE: [&str; 2] = ["performance", "batch"];
const V2_MODES: [&str; 3] = ["cutout", "mask", "psd"];
const V2_MEDIA_TYPES: [&str; 4] = [
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/vnd.adobe.photoshop",
];

/// A valid `POST /sensei/mask` body, reduced to what the emulator acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct SenseiRequest {
    pub input_href: String,
    pub output_href: String,
    pub mask: MaskMode,
    /// Echoed in the status body, as sent (unknown fields included).
    pub output: Value,
    pub options: Option<Value>,
}

/// Validates a sensei body; on failure, the ajv-style `reason` list of a 400.
pub fn sensei(body: &Value) -> Result<SenseiRequest, Vec<Value>> {
    let mut errors = Vec::new();
    let Some(top) = object(&mut errors, body, "", "#") else {
        return Err(errors);
    };
    for name in ["input", "output"] {
        if let Some(location) = property_object(&mut errors, top, name, "", "#") {
            check_location(&mut errors, location, name);
        }
    }
    let output = top.get("output").and_then(Value::as_object);
    let mut mask = MaskMode::Soft;
    if let Some(value) = output.and_then(|o| o.get("mask")) {
        let (data, schema) = (".output.mask", "#/properties/output/properties/mask");
        if let Some(m) = object(&mut errors, value, data, schema) {
            match m.get("format") {
                None => errors.push(required(data, schema, "format")),
                Some(format) => {
                    if enumeration(
                        &mut errors,
                        format,
                        &MASK_FORMATS,
                        ".output.mask.format",
                        &format!("{schema}/properties/format"),
                    ) == Some("binary")
                    {
                        mask = MaskMode::Binary;
                    }
                }
            }
        }
    }
    if let Some(value) = output.and_then(|o| o.get("color")) {
        let (data, schema) = (".output.color", "#/properties/output/properties/color");
        if let Some(c) = object(&mut errors, value, data, schema) {
            match c.get("space") {
                None => errors.push(required(data, schema, "space")),
                Some(space) => {
                    enumeration(
                        &mut errors,
                        space,
                        &COLOR_SPACES,
                        ".output.color.space",
                        &format!("{schema}/properties/space"),
                    );
                }
            }
        }
    }
    if let Some(value) = output.and_then(|o| o.get("overwrite"))
        && !value.is_boolean()
    {
        errors.push(type_error(
            ".output.overwrite",
            "#/properties/output/properties/overwrite",
            "boolean",
        ));
    }
    if let Some(value) = top.get("options") {
        let (data, schema) = (".options", "#/properties/options");
        if let Some(o) = object(&mut errors, value, data, schema) {
            if let Some(optimize) = o.get("optimize") {
                enumeration(
                    &mut errors,
                    optimize,
                    &OPTIMIZE,
                    ".options.optimize",
                    &format!("{schema}/properties/optimize"),
                );
            }
            if let Some(service) = o.get("service") {
                check_service(&mut errors, service);
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let href = |name: &str| top[name]["href"].as_str().unwrap_or_default().to_owned();
    Ok(SenseiRequest {
        input_href: href("input"),
        output_href: href("output"),
        mask,
        output: top["output"].clone(),
        options: top.get("options").cloned(),
    })
}

/// `href` and `storage` of `input` or `output`, and the storage-dependent href rule.
fn check_location(errors: &mut Vec<Value>, location: &Map<String, Value>, name: &str) {
    let data = format!(".{name}");
    let schema = format!("#/properties/{name}");
    let href = match location.get("href") {
        None => {
            errors.push(required(&data, &schema, "href"));
            None
        }
        Some(Value::String(s)) if s.is_empty() => {
            errors.push(ajv(
                "minLength",
                &format!("{data}.href"),
                &format!("{schema}/properties/href/minLength"),
                json!({"limit": 1}),
                "should NOT be shorter than 1 characters",
            ));
            None
        }
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            errors.push(type_error(
                &format!("{data}.href"),
                &format!("{schema}/properties/href"),
                "string",
            ));
            None
        }
    };
    let storage = match location.get("storage") {
        None => {
            errors.push(required(&data, &schema, "storage"));
            None
        }
        Some(value) => enumeration(
            errors,
            value,
            &STORAGES,
            &format!("{data}.storage"),
            &format!("{schema}/properties/storage"),
        ),
    };
    let (Some(href), Some(storage)) = (href, storage) else {
        return;
    };
    // The schema's if/then/else: external storages need https://, Adobe storage a CC path.
    let (branch, pattern, ok) = if storage == "adobe" {
        (
            "else",
            "^/?(temp|cloud-content|assets)/.+",
            adobe_path(href),
        )
    } else {
        (
            "then",
            "^https://",
            href.starts_with("https://") || loopback_http(href),
        )
    };
    if !ok {
        errors.push(ajv(
            "pattern",
            &format!("{data}.href"),
            &format!("{schema}/{branch}/properties/href/pattern"),
            json!({"pattern": pattern}),
            &format!("should match pattern \"{pattern}\""),
        ));
        errors.push(ajv(
            "if",
            &data,
            &format!("{schema}/if"),
            json!({"failingKeyword": branch}),
            &format!("should match \"{branch}\" schema"),
        ));
    }
}

/// `options.service`: Adobe types `version` (the model version, e.g. "4.0") as a string.
fn check_service(errors: &mut Vec<Value>, service: &Value) {
    let (data, schema) = (
        ".options.service",
        "#/properties/options/properties/service",
    );
    if let Some(s) = object(errors, service, data, schema)
        && let Some(version) = s.get("version")
        && !version.is_string()
    {
        errors.push(type_error(
            ".options.service.version",
            &format!("{schema}/properties/version"),
            "string",
        ));
    }
}

fn adobe_path(href: &str) -> bool {
    let path = href.strip_prefix('/').unwrap_or(href);
    ["temp/", "cloud-content/", "assets/"].iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty())
    })
}

/// `http://` to this machine. The real service demands https; the emulator also accepts
/// plain http to loopback so tests and demos need no certificates, and nothing else, so a
/// manifest that works here cannot rely on a plain-http URL the real service refuses.
pub fn loopback_http(href: &str) -> bool {
    let Ok(url) = url::Url::parse(href) else {
        return false;
    };
    url.scheme() == "http"
        && match url.host() {
            Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
}

/// `parent[name]` as an object, recording `required` or `type` errors.
fn property_object<'a>(
    errors: &mut Vec<Value>,
    parent: &'a Map<String, Value>,
    name: &str,
    data: &str,
    schema: &str,
) -> Option<&'a Map<String, Value>> {
    match parent.get(name) {
        None => {
            errors.push(required(data, schema, name));
            None
        }
        Some(value) => object(
            errors,
            value,
            &format!("{data}.{name}"),
            &format!("{schema}/properties/{name}"),
        ),
    }
}

fn object<'a>(
    errors: &mut Vec<Value>,
    value: &'a Value,
    data: &str,
    schema: &str,
) -> Option<&'a Map<String, Value>> {
    let map = value.as_object();
    if map.is_none() {
        errors.push(type_error(data, schema, "object"));
    }
    map
}

/// A string from `allowed`; like ajv, a non-string gets both a `type` and an `enum` error.
fn enumeration<'a>(
    errors: &mut Vec<Value>,
    value: &'a Value,
    allowed: &[&str],
    data: &str,
    schema: &str,
) -> Option<&'a str> {
    let text = value.as_str();
    if text.is_none() {
        errors.push(type_error(data, schema, "string"));
    }
    match text {
        Some(t) if allowed.contains(&t) => Some(t),
        _ => {
            errors.push(ajv(
                "enum",
                data,
                &format!("{schema}/enum"),
                json!({"allowedValues": allowed}),
                "should be equal to one of the allowed values",
            ));
            None
        }
    }
}

fn required(data: &str, schema: &str, property: &str) -> Value {
    ajv(
        "required",
        data,
        &format!("{schema}/required"),
        json!({"missingProperty": property}),
        &format!("should have required property '{property}'"),
    )
}

fn type_error(data: &str, schema: &str, kind: &str) -> Value {
    ajv(
        "type",
        data,
        &format!("{schema}/type"),
        json!({"type": kind}),
        &format!("should be {kind}"),
    )
}

fn ajv(keyword: &str, data_path: &str, schema_path: &str, params: Value, message: &str) -> Value {
    json!({
        "keyword": keyword,
        "dataPath": data_path,
        "schemaPath": schema_path,
        "params": params,
        "message": message,
    })
}

/// Why a v2 body was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum V2Problem {
    /// 400 `validation_error`, one message per problem.
    Invalid(Vec<String>),
    /// 422: valid for Adobe, but the emulator only makes masks.
    Unsupported(String),
}

/// Validates a `POST /v2/remove-background` body; returns the input URL and the mode.
pub fn v2(body: &Value) -> Result<(String, OutputKind), V2Problem> {
    let mut problems = Vec::new();
    let url = match body.pointer("/image/source/url") {
        Some(Value::String(url)) if !url.is_empty() => Some(url.as_str()),
        Some(_) => {
            problems.push("image.source.url must be a non-empty string".to_owned());
            None
        }
        None => {
            problems.push("image.source.url is required".to_owned());
            None
        }
    };
    if let Some(url) = url
        && !(url.starts_with("https://") || loopback_http(url))
    {
        problems.push(
            "image.source.url must be an https:// URL (or http:// to loopback, emulator only)"
                .to_owned(),
        );
    }
    let mode = match body.get("mode") {
        None => Some("cutout"),
        Some(Value::String(m)) if V2_MODES.contains(&m.as_str()) => Some(m.as_str()),
        Some(other) => {
            problems.push(format!("mode must be one of {V2_MODES:?}, not {other}"));
            None
        }
    };
    let media_type = match body.pointer("/output/mediaType") {
        None => None,
        Some(Value::String(m)) if V2_MEDIA_TYPES.contains(&m.as_str()) => Some(m.as_str()),
        Some(other) => {
            problems.push(format!(
                "output.mediaType must be one of {V2_MEDIA_TYPES:?}, not {other}"
            ));
            None
        }
    };
    if !problems.is_empty() {
        return Err(V2Problem::Invalid(problems));
    }
    let kind = match mode {
        Some("mask") => OutputKind::Mask,
        Some("cutout") => OutputKind::Cutout,
        mode => {
            return Err(V2Problem::Unsupported(format!(
                "mode \"{}\" is valid for Adobe but maskflow emulate only implements \"mask\" and \"cutout\"",
                mode.unwrap_or_default()
            )));
        }
    };
    if let Some(media_type) = media_type.filter(|m| *m != "image/png") {
        return Err(V2Problem::Unsupported(format!(
            "output.mediaType \"{media_type}\" is valid for Adobe but maskflow emulate only writes image/png"
        )));
    }
    Ok((url.unwrap_or_default().to_owned(), kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Value {
        json!({
            "input": {"storage": "external", "href": "https://bucket.example/in.jpg?sig=1"},
            "output": {"storage": "external", "href": "https://bucket.example/out.png", "mask": {"format": "binary"}, "type": "image/png"},
            "options": {"optimize": "batch"},
            "extra": true
        })
    }

    fn keywords(errors: &[Value]) -> Vec<(String, String)> {
        errors
            .iter()
            .map(|e| {
                (
                    e["keyword"].as_str().unwrap().to_owned(),
                    e["dataPath"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn accepts_a_valid_body_and_ignores_unknown_fields() {
        let request = sensei(&valid()).unwrap();
        assert_eq!(request.mask, MaskMode::Binary);
        assert_eq!(request.input_href, "https://bucket.example/in.jpg?sig=1");
        assert_eq!(request.output["type"], "image/png");
        assert_eq!(request.options, Some(json!({"optimize": "batch"})));
    }

    #[test]
    fn mask_defaults_to_soft() {
        let mut body = valid();
        body["output"].as_object_mut().unwrap().remove("mask");
        assert_eq!(sensei(&body).unwrap().mask, MaskMode::Soft);
    }

    #[test]
    fn reports_missing_parts_like_ajv() {
        let errors = sensei(&json!({"input": {"href": "https://x/y"}})).unwrap_err();
        assert_eq!(
            keywords(&errors),
            pairs(&[("required", ".input"), ("required", "")])
        );
        assert_eq!(errors[0]["params"]["missingProperty"], "storage");
        assert_eq!(
            errors[1]["message"],
            "should have required property 'output'"
        );
        assert_eq!(
            keywords(&sensei(&json!([])).unwrap_err()),
            pairs(&[("type", "")])
        );
    }

    #[test]
    fn mask_format_must_be_a_known_string() {
        let mut body = valid();
        body["output"]["mask"]["format"] = json!(123);
        let errors = sensei(&body).unwrap_err();
        assert_eq!(
            keywords(&errors),
            pairs(&[
                ("type", ".output.mask.format"),
                ("enum", ".output.mask.format")
            ])
        );
        body["output"]["mask"]["format"] = json!("fuzzy");
        let errors = sensei(&body).unwrap_err();
        assert_eq!(
            errors[0]["params"]["allowedValues"],
            json!(["soft", "binary"])
        );
        assert_eq!(
            errors[0]["schemaPath"],
            "#/properties/output/properties/mask/properties/format/enum"
        );
        body["output"]["mask"] = json!({});
        let errors = sensei(&body).unwrap_err();
        assert_eq!(keywords(&errors), pairs(&[("required", ".output.mask")]));
    }

    #[test]
    fn enums_for_storage_color_and_optimize() {
        let mut body = valid();
        body["input"]["storage"] = json!("s3");
        body["output"]["color"] = json!({"space": "cmyk"});
        body["options"]["optimize"] = json!("fast");
        let errors = sensei(&body).unwrap_err();
        assert_eq!(
            keywords(&errors),
            pairs(&[
                ("enum", ".input.storage"),
                ("enum", ".output.color.space"),
                ("enum", ".options.optimize")
            ])
        );
        body = valid();
        body["output"]["color"] = json!({});
        assert_eq!(
            keywords(&sensei(&body).unwrap_err()),
            pairs(&[("required", ".output.color")])
        );
    }

    #[test]
    fn service_version_must_be_a_string() {
        let mut body = valid();
        body["options"]["service"] = json!({"version": "4.0"});
        assert!(sensei(&body).is_ok());
        for bad in [
            json!(4),
            json!(4.0),
            json!(true),
            json!(["4.0"]),
            json!({"v": 4}),
        ] {
            body["options"]["service"]["version"] = bad.clone();
            let errors = sensei(&body).unwrap_err();
            assert_eq!(
                keywords(&errors),
                pairs(&[("type", ".options.service.version")]),
                "{bad}"
            );
            assert_eq!(errors[0]["message"], "should be string");
            assert_eq!(
                errors[0]["schemaPath"],
                "#/properties/options/properties/service/properties/version/type"
            );
        }
        body["options"]["service"] = json!("4.0");
        assert_eq!(
            keywords(&sensei(&body).unwrap_err()),
            pairs(&[("type", ".options.service")])
        );
    }

    #[test]
    fn external_hrefs_need_https_except_loopback_http() {
        let mut body = valid();
        body["input"]["href"] = json!("http://bucket.example/in.jpg");
        let errors = sensei(&body).unwrap_err();
        assert_eq!(
            keywords(&errors),
            pairs(&[("pattern", ".input.href"), ("if", ".input")])
        );
        for ok in [
            "http://127.0.0.1:9/in.jpg",
            "http://localhost/in.jpg",
            "http://[::1]:80/a",
            "http://127.0.0.2/a",
        ] {
            body["input"]["href"] = json!(ok);
            assert!(sensei(&body).is_ok(), "{ok}");
        }
        for bad in [
            "in.jpg",
            "ftp://127.0.0.1/a",
            "http://localhost.evil.example/a",
            "http://10.0.0.1/a",
        ] {
            body["input"]["href"] = json!(bad);
            assert!(sensei(&body).is_err(), "{bad}");
        }
        body["input"]["href"] = json!("");
        assert_eq!(
            keywords(&sensei(&body).unwrap_err()),
            pairs(&[("minLength", ".input.href")])
        );
    }

    #[test]
    fn adobe_storage_takes_creative_cloud_paths() {
        let mut body = valid();
        body["input"] = json!({"storage": "adobe", "href": "/temp/in.jpg"});
        assert!(sensei(&body).is_ok());
        body["input"]["href"] = json!("https://bucket.example/in.jpg");
        let errors = sensei(&body).unwrap_err();
        assert_eq!(errors[1]["params"]["failingKeyword"], "else");
    }

    #[test]
    fn v2_requires_a_url_and_implements_only_masks() {
        let body = json!({"image": {"source": {"url": "https://b.example/a.jpg"}}, "mode": "mask", "output": {"mediaType": "image/png"}});
        assert_eq!(
            v2(&body),
            Ok(("https://b.example/a.jpg".to_owned(), OutputKind::Mask))
        );
        assert!(
            matches!(v2(&json!({"mode": "mask"})), Err(V2Problem::Invalid(p)) if p == ["image.source.url is required"])
        );
        assert!(matches!(
            v2(&json!({"image": {"source": {"url": "http://b.example/a"}}, "mode": "mask"})),
            Err(V2Problem::Invalid(_))
        ));
        assert!(matches!(
            v2(&json!({"image": {"source": {"url": "https://b.example/a"}}, "mode": "blur"})),
            Err(V2Problem::Invalid(_))
        ));
        // Absent mode is Adobe's default, cutout.
        assert_eq!(
            v2(&json!({"image": {"source": {"url": "https://b.example/a"}}})),
            Ok(("https://b.example/a".to_owned(), OutputKind::Cutout))
        );
        assert!(matches!(
            v2(&json!({"image": {"source": {"url": "https://b.example/a"}}, "mode": "psd"})),
            Err(V2Problem::Unsupported(_))
        ));
        assert!(matches!(
            v2(
                &json!({"image": {"source": {"url": "https://b.example/a"}}, "mode": "mask", "output": {"mediaType": "image/webp"}})
            ),
            Err(V2Problem::Unsupported(_))
        ));
    }
}
