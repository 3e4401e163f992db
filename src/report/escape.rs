//! How untrusted text (file names, URLs, lockfile keys, service messages) is shown. A file
//! name may hold a newline that starts a fake log line (or a `::warning::` workflow command),
//! an ANSI escape that rewrites the terminal, or a bidi override that makes `gnp.exe` read
//! as `exe.png`. Every renderer passes such text through here, and nowhere else escapes.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::Path;

/// Characters that must not reach a terminal or a log as themselves: C0 and C1 controls,
/// DEL, and the Unicode bidi controls (embeddings, overrides, isolates, marks).
pub fn is_hazard(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// One line of text: every hazard, newlines included, written as a Rust-style escape
/// (`\n`, `\u{1b}`, `\u{202e}`), so it stays one visible line.
pub fn text(raw: &str) -> Cow<'_, str> {
    escape_where(raw, is_hazard)
}

/// Text the renderer laid out on several lines itself: hazards escaped, its newlines kept.
/// Renderers use it as a last line of defence on whole messages.
pub fn lines(raw: &str) -> Cow<'_, str> {
    escape_where(raw, |c| c != '\n' && is_hazard(c))
}

/// A path, lossily: bytes that are not UTF-8 are shown as `\xNN`, hazards escaped.
pub fn path(path: &Path) -> String {
    os(path.as_os_str())
}

/// An OS string (a file name), lossily: see [`path`].
pub fn os(raw: &OsStr) -> String {
    let mut out = String::new();
    for chunk in raw.as_encoded_bytes().utf8_chunks() {
        out.push_str(&text(chunk.valid()));
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02X}");
        }
    }
    out
}

fn escape_where(raw: &str, hazard: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !raw.chars().any(&hazard) {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len() + 8);
    for c in raw.chars() {
        if hazard(c) {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c => {
                    let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
                }
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text inside a markdown table cell: one line, no HTML, no markdown syntax, no `|` that
/// would end the cell. Backslash escapes are CommonMark's, so the rendered text reads as
/// the original.
pub fn markdown(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 8);
    for c in text(raw).chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '&' | '~' | '!' | '#'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Text as a markdown code span inside a table cell: the fence is longer than any run of
/// backticks in it, and `|` is escaped (GitHub's tables split on it even in code).
pub fn markdown_code(raw: &str) -> String {
    let shown = text(raw).replace('|', "\\|");
    let mut longest = 0;
    let mut run = 0;
    for c in shown.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if shown.starts_with('`') || shown.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{shown}{pad}{fence}")
}

/// A serialized JSON document with every hazard that serde leaves raw (DEL, C1 controls,
/// bidi controls: legal in JSON strings) written as `\uXXXX`. Those characters can only
/// occur inside strings, so the document means exactly the same.
pub fn json(serialized: &str) -> Cow<'_, str> {
    if !serialized.chars().any(is_hazard) {
        return Cow::Borrowed(serialized);
    }
    let mut out = String::with_capacity(serialized.len() + 16);
    for c in serialized.chars() {
        if is_hazard(c) {
            // serde already escapes C0 controls; what is left fits in one UTF-16 unit.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hazards_become_visible_escapes() {
        assert_eq!(text("plain/name.png"), "plain/name.png");
        assert_eq!(text("a\nb\rc\td"), "a\\nb\\rc\\td");
        assert_eq!(text("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(text("cat\u{202e}gnp.exe"), "cat\\u{202e}gnp.exe");
        assert_eq!(
            text("x\u{2066}y\u{2069}\u{7f}\u{85}"),
            "x\\u{2066}y\\u{2069}\\u{7f}\\u{85}"
        );
        assert_eq!(text("café ünïcode"), "café ünïcode");
        assert_eq!(lines("one\ntwo\u{1b}"), "one\ntwo\\u{1b}");
    }

    #[cfg(unix)]
    #[test]
    fn names_that_are_not_utf8_are_shown_lossily() {
        use std::os::unix::ffi::OsStrExt;
        let name = OsStr::from_bytes(b"caf\xe9\n.png");
        assert_eq!(os(name), "caf\\xE9\\n.png");
    }

    #[test]
    fn markdown_cells_stay_one_cell_of_plain_text() {
        assert_eq!(
            markdown("a | b\n<script>&x"),
            "a \\| b\\\\n\\<script\\>\\&x"
        );
        assert_eq!(markdown_code("masks/a.png"), "`masks/a.png`");
        assert_eq!(markdown_code("a`b|c"), "``a`b\\|c``");
        assert_eq!(markdown_code("`x"), "`` `x ``");
    }

    #[test]
    fn json_keeps_its_meaning_and_loses_raw_hazards() {
        let value = serde_json::json!({"key": "a\u{202e}b\u{85}\u{1b}"});
        let shown = json(&value.to_string()).into_owned();
        assert!(!shown.chars().any(is_hazard), "{shown}");
        let back: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(back, value);
    }
}
