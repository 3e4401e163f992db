//! Validation against the generated JSON Schema, with every error placed at a manifest line.

use std::sync::LazyLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use serde_json::Value;
use serde_saphyr::Spanned;

use super::yaml::{self, Node};
use super::{Diagnostic, Manifest, Pos};

static SCHEMA: LazyLock<Value> =
    LazyLock::new(|| serde_json::to_value(schemars::schema_for!(Manifest)).expect("schema"));

static VALIDATOR: LazyLock<Validator> = LazyLock::new(|| {
    jsonschema::draft202012::options()
        .build(&SCHEMA)
        .expect("the generated schema compiles")
});

/// Every schema violation in `instance`, sorted by position, each with the JSON pointer of
/// the value at fault.
pub fn check(instance: &Value, root: &Spanned<Node>, source: &str) -> Vec<(String, Diagnostic)> {
    let mut found: Vec<(String, Diagnostic)> = VALIDATOR
        .iter_errors(instance)
        .map(|error| {
            let pointer = error.instance_path().as_str().to_owned();
            (pointer, diagnose(&error, root, source))
        })
        .collect();
    found.sort_by_key(|(_, d)| (d.pos.byte, d.message.clone()));
    found.dedup_by(|a, b| a.1.pos == b.1.pos && a.1.message == b.1.message);
    found
}

fn diagnose(error: &ValidationError<'_>, root: &Spanned<Node>, source: &str) -> Diagnostic {
    let pointer = error.instance_path().as_str();
    let node = yaml::lookup(root, pointer);
    let node_pos = node.map_or(Pos::START, |n| yaml::pos_of(source, &n.referenced));
    let node_len = node.map_or(1, |n| scalar_len(source, node_pos, &n.value));
    let at = |p: &str| {
        if p.is_empty() {
            "the manifest".to_owned()
        } else {
            format!("`{}`", p.trim_start_matches('/').replace('/', "."))
        }
    };
    let schema_here = schema_at(error.schema_path().as_str());
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let key = unexpected.first().cloned().unwrap_or_default();
            let allowed = schema_here
                .and_then(|s| s.get("properties"))
                .and_then(Value::as_object)
                .map(|p| p.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default();
            let pos = node
                .and_then(|n| yaml::key_location(n, &key))
                .map_or(node_pos, |l| yaml::pos_of(source, &l));
            Diagnostic {
                pos,
                len: key.len().max(1),
                message: format!("unknown key `{key}` in {}", at(pointer)),
                hint: Some(match did_you_mean(&key, &allowed) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!("expected one of: {}", allowed.join(", ")),
                }),
            }
        }
        ValidationErrorKind::Required { property } => Diagnostic {
            pos: node_pos,
            len: 1,
            message: format!(
                "missing required key `{}` in {}",
                property.as_str().unwrap_or_default(),
                at(pointer)
            ),
            hint: None,
        },
        ValidationErrorKind::OneOfNotValid { .. }
        | ValidationErrorKind::AnyOf { .. }
        | ValidationErrorKind::Enum { .. } => {
            let choices = enum_choices(schema_here);
            let given = error.instance().as_str().unwrap_or_default().to_owned();
            if choices.is_empty() {
                return plain(error, node_pos, node_len, pointer);
            }
            Diagnostic {
                pos: node_pos,
                len: node_len,
                message: format!("{} is not one of: {}", error.instance(), choices.join(", ")),
                hint: did_you_mean(&given, &choices).map(|best| format!("did you mean `{best}`?")),
            }
        }
        _ => plain(error, node_pos, node_len, pointer),
    }
}

fn plain(error: &ValidationError<'_>, pos: Pos, len: usize, pointer: &str) -> Diagnostic {
    let place = if pointer.is_empty() {
        String::new()
    } else {
        format!(
            " (at `{}`)",
            pointer.trim_start_matches('/').replace('/', ".")
        )
    };
    Diagnostic {
        pos,
        len,
        message: format!("{error}{place}"),
        hint: None,
    }
}

/// How many bytes a scalar spans in the source, so the underline covers it.
fn scalar_len(source: &str, pos: Pos, node: &Node) -> usize {
    match node {
        Node::Seq(_) | Node::Map(_) => 1,
        _ => source[pos.byte.min(source.len())..]
            .lines()
            .next()
            .map_or(1, |rest| rest.trim_end().len().max(1)),
    }
}

/// The subschema a keyword location points into, following `$ref`s, without the final keyword.
fn schema_at(schema_path: &str) -> Option<&'static Value> {
    let mut tokens: Vec<&str> = schema_path.split('/').skip(1).collect();
    tokens.pop();
    let mut here: &Value = &SCHEMA;
    for token in tokens {
        if token == "$ref" {
            let reference = here.get("$ref")?.as_str()?;
            here = SCHEMA.pointer(reference.strip_prefix('#')?)?;
            continue;
        }
        here = match here {
            Value::Array(items) => items.get(token.parse::<usize>().ok()?)?,
            _ => here.get(token)?,
        };
    }
    Some(here)
}

/// The allowed strings of an enum-like schema: `enum`, `const` branches of `oneOf`/`anyOf`,
/// and (for optional fields) the enum behind a `$ref` branch.
fn enum_choices(schema: Option<&Value>) -> Vec<String> {
    let Some(schema) = schema else {
        return Vec::new();
    };
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return enum_choices(reference.strip_prefix('#').and_then(|p| SCHEMA.pointer(p)));
    }
    if let Some(constant) = schema.get("const").and_then(Value::as_str) {
        return vec![constant.to_owned()];
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
    }
    ["oneOf", "anyOf"]
        .iter()
        .filter_map(|k| schema.get(*k).and_then(Value::as_array))
        .flatten()
        .flat_map(|branch| enum_choices(Some(branch)))
        .collect()
}

/// The closest candidate, if it is close enough to be a plausible typo.
pub fn did_you_mean(given: &str, candidates: &[String]) -> Option<String> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(given, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(src: &str) -> Vec<Diagnostic> {
        let root = yaml::parse(src).unwrap();
        check(&yaml::to_json(&root.value), &root, src)
            .into_iter()
            .map(|(_, d)| d)
            .collect()
    }

    #[test]
    fn unknown_key_points_at_the_key_with_a_suggestion() {
        let d = problems("version: 1\nimages:\n  - input: a.png\n    ouptut: b.png\n");
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].pos.line, d[0].pos.column), (4, 5));
        assert_eq!(d[0].hint.as_deref(), Some("did you mean `output`?"));
    }

    #[test]
    fn bad_enum_value_lists_the_choices() {
        let d = problems("version: 1\ndefaults:\n  mask: sofft\nimages:\n  - input: a.png\n");
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!((d[0].pos.line, d[0].pos.column), (3, 9));
        assert!(d[0].message.contains("soft, binary"), "{}", d[0].message);
        assert_eq!(d[0].hint.as_deref(), Some("did you mean `soft`?"));
    }

    #[test]
    fn every_error_is_reported_in_document_order() {
        let d = problems("version: 2\nimages: []\nextra: 1\n");
        let lines: Vec<_> = d.iter().map(|d| d.pos.line).collect();
        assert_eq!(lines, vec![1, 2, 3], "{d:?}");
    }
}
