//! YAML loading that keeps every node's position, so that any problem found later (by the
//! schema, a template, a path check) can be reported at the manifest's line and column.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use super::Pos;

/// Manifests are hand-written; anything this large is a mistake or an attack, and refusing it
/// up front keeps memory bounded before the parser sees a byte.
pub const MAX_MANIFEST_BYTES: usize = 8 * 1024 * 1024;

/// A YAML node with positions for itself, its children and mapping keys.
#[derive(Debug)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a YAML value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Node::Map(entries))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Node, E> {
                Ok(Node::Str(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
                Ok(Node::UInt(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Float(v))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Bool(v))
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
        }
        deserializer.deserialize_any(NodeVisitor)
    }
}

/// Why a manifest could not be parsed at all.
#[derive(Debug)]
pub struct ParseFailure {
    pub pos: Pos,
    pub message: String,
}

/// Parses `source` into a positioned tree with budgets that turn alias bombs and deep nesting
/// into errors instead of exhausted memory or a blown stack.
pub fn parse(source: &str) -> Result<Spanned<Node>, ParseFailure> {
    if source.len() > MAX_MANIFEST_BYTES {
        return Err(ParseFailure {
            pos: Pos::START,
            message: format!(
                "the manifest is {} bytes; manifests are limited to {} bytes",
                source.len(),
                MAX_MANIFEST_BYTES
            ),
        });
    }
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_nodes: 2_000_000,
            max_events: 8_000_000,
            max_aliases: 10_000,
            max_depth: 64,
        },
    };
    let root: Spanned<Node> =
        serde_saphyr::from_str_with_options(source, options).map_err(|e| {
            let pos = e
                .location()
                .map(|l| pos_of(source, &l))
                .unwrap_or(Pos::START);
            ParseFailure {
                pos,
                message: describe_parse_error(&e),
            }
        })?;
    if matches!(root.value, Node::Null) {
        return Err(ParseFailure {
            pos: Pos::START,
            message: "the manifest is empty".to_owned(),
        });
    }
    Ok(root)
}

fn describe_parse_error(e: &serde_saphyr::Error) -> String {
    let text = e.without_snippet().to_string();
    let first = text.lines().next().unwrap_or("invalid YAML").trim();
    if let Some(rest) = first.split("budget breached: ").nth(1) {
        let limit = rest.split([' ', '{']).next().unwrap_or(rest);
        return format!(
            "YAML budget exceeded ({limit}): the manifest nests too deeply or expands too many aliases"
        );
    }
    // The position is shown separately, with a snippet; the policy advice names an API.
    let first = first
        .split_once(", set DuplicateKeyPolicy")
        .map_or(first, |(message, _)| message);
    first
        .split_once(" at line ")
        .map_or(first, |(message, _)| message)
        .to_owned()
}

/// Converts a parser location to our position, with a byte offset into `source`.
pub fn pos_of(source: &str, location: &Location) -> Pos {
    let line = location.line().max(1) as usize;
    let column = location.column().max(1) as usize;
    let byte = location
        .span()
        .byte_offset()
        .map(|b| b as usize)
        .unwrap_or_else(|| byte_offset_of(source, line, column));
    Pos { line, column, byte }
}

fn byte_offset_of(source: &str, line: usize, column: usize) -> usize {
    let line_start: usize = source
        .split_inclusive('\n')
        .take(line - 1)
        .map(str::len)
        .sum();
    let rest = &source[line_start.min(source.len())..];
    line_start
        + rest
            .char_indices()
            .nth(column - 1)
            .map_or(rest.len(), |(i, _)| i)
}

/// Converts the tree to JSON for schema validation. Non-finite floats have no JSON form; they
/// become null, which the schema then rejects where a number is expected.
pub fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value;
    match node {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(*b),
        Node::Int(i) => Value::from(*i),
        Node::UInt(u) => Value::from(*u),
        Node::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Node::Str(s) => Value::String(s.clone()),
        Node::Seq(items) => Value::Array(items.iter().map(|i| to_json(&i.value)).collect()),
        Node::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.value.clone(), to_json(&v.value)))
                .collect(),
        ),
    }
}

/// Finds the node at an RFC 6901 JSON pointer.
pub fn lookup<'a>(root: &'a Spanned<Node>, pointer: &str) -> Option<&'a Spanned<Node>> {
    let mut node = root;
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        node = match &node.value {
            Node::Seq(items) => items.get(token.parse::<usize>().ok()?)?,
            Node::Map(entries) => &entries.iter().find(|(k, _)| k.value == token)?.1,
            _ => return None,
        };
    }
    Some(node)
}

/// The position of mapping key `key` inside the mapping `node`.
pub fn key_location(node: &Spanned<Node>, key: &str) -> Option<Location> {
    match &node.value {
        Node::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.value == key)
            .map(|(k, _)| k.referenced),
        _ => None,
    }
}

/// The value under `key` in mapping `node`.
pub fn get<'a>(node: &'a Spanned<Node>, key: &str) -> Option<&'a Spanned<Node>> {
    match &node.value {
        Node::Map(entries) => entries.iter().find(|(k, _)| k.value == key).map(|(_, v)| v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_with_byte_offsets() {
        let src = "version: 1\nimages:\n  - input: a.png\n";
        let root = parse(src).unwrap();
        let node = lookup(&root, "/images/0/input").unwrap();
        let pos = pos_of(src, &node.referenced);
        assert_eq!((pos.line, pos.column), (3, 12));
        assert_eq!(&src[pos.byte..pos.byte + 5], "a.png");
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            src.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = parse(&src).unwrap_err();
        assert!(err.message.contains("budget"), "{}", err.message);
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let src = format!("k:\n{}x\n", "- ".repeat(100_000));
        let err = parse(&src).unwrap_err();
        assert!(err.pos.line >= 1);
        let flow = format!("k: {}", "[".repeat(100_000));
        assert!(parse(&flow).is_err());
    }

    #[test]
    fn oversized_input_is_refused_before_parsing() {
        let src = "#".repeat(MAX_MANIFEST_BYTES + 1);
        let err = parse(&src).unwrap_err();
        assert!(err.message.contains("limited to"));
    }
}
