//! Resolving a manifest's `model:` into a model spec: the file's place, its pinned digest,
//! and its recipe (from the table of known models, else from the manifest).

use std::path::Path;

use super::model::{InputScale, ModelFile};
use crate::engine::recipe::Recipe;
use crate::models::{ModelSource, ModelSpec, known};
use crate::redact::SecretUrl;

/// A problem with one field of `model:` (`None`: the mapping itself).
#[derive(Debug, PartialEq)]
pub struct Problem {
    pub field: Option<&'static str>,
    pub message: String,
    pub hint: Option<String>,
}

fn problem(field: Option<&'static str>, message: String, hint: Option<&str>) -> Problem {
    Problem {
        field,
        message,
        hint: hint.map(str::to_owned),
    }
}

/// Resolves `file`, whose paths are relative to `dir`, or says every problem with it.
pub fn resolve(file: &ModelFile, dir: &Path) -> Result<ModelSpec, Vec<Problem>> {
    let mut problems = Vec::new();
    let sha256 = file.sha256.to_ascii_lowercase();
    let source = resolve_source(&file.source, dir).map_err(|p| problems.push(p));
    let known = known::by_sha256(&sha256);
    let base = known.map(|k| k.recipe);
    let missing: Vec<&str> = [
        ("input_size", file.input_size.is_none()),
        ("mean", file.mean.is_none()),
        ("std", file.std.is_none()),
        ("scale", file.scale.is_none()),
        ("output", file.output.is_none()),
        ("sigmoid", file.sigmoid.is_none()),
    ]
    .into_iter()
    .filter(|(_, absent)| *absent)
    .map(|(name, _)| name)
    .collect();
    if base.is_none() && !missing.is_empty() {
        problems.push(problem(
            None,
            format!(
                "model `{}` (sha256 {}…) is not a known model, so its recipe must be given: missing {}",
                file.source,
                &sha256[..12.min(sha256.len())],
                missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(
                "`maskflow models` lists the known models; for rembg's sessions: input_size 320 (U²-Net) or 1024 (ISNet, BiRefNet), mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225], scale max, output 0, sigmoid false (true for BiRefNet)",
            ),
        ));
    }
    for (field, values) in [("mean", file.mean), ("std", file.std)] {
        if let Some(values) = values
            && values.iter().any(|v| !v.is_finite())
        {
            problems.push(problem(
                Some(field),
                format!("`{field}` must be three finite numbers"),
                None,
            ));
        }
    }
    if let Some(std) = file.std
        && std.contains(&0.0)
    {
        problems.push(problem(
            Some("std"),
            "`std` divides the input: no value may be 0".to_owned(),
            None,
        ));
    }
    let (Ok(source), true) = (source, problems.is_empty()) else {
        return Err(problems);
    };
    let base = base.unwrap_or(Recipe {
        side: 0,
        mean: [0.0; 3],
        std: [1.0; 3],
        scale: InputScale::Max,
        output: 0,
        sigmoid: false,
    });
    let recipe = Recipe {
        side: file.input_size.unwrap_or(base.side),
        mean: file.mean.unwrap_or(base.mean),
        std: file.std.unwrap_or(base.std),
        scale: file.scale.unwrap_or(base.scale),
        output: file.output.map_or(base.output, |o| o as usize),
        sigmoid: file.sigmoid.unwrap_or(base.sigmoid),
    };
    Ok(ModelSpec {
        source,
        sha256,
        recipe,
        known,
    })
}

fn resolve_source(raw: &str, dir: &Path) -> Result<ModelSource, Problem> {
    let lower = raw.trim_start().to_ascii_lowercase();
    if !lower.contains("://") {
        return Ok(ModelSource::File {
            path: dir.join(raw),
            shown: raw.to_owned(),
        });
    }
    let shown = raw.split(['?', '#']).next().unwrap_or(raw);
    let url = SecretUrl::parse(raw).map_err(|e| {
        problem(
            Some("source"),
            format!("`{shown}` is not a valid URL: {e}"),
            None,
        )
    })?;
    match url.url().scheme() {
        "https" => Ok(ModelSource::Url(url)),
        "http" if url.is_loopback() => Ok(ModelSource::Url(url)),
        _ => Err(problem(
            Some("source"),
            format!("model `{url}` must be a path or an https:// URL"),
            Some(
                "plain http:// is accepted only for servers on this machine (127.0.0.1, localhost)",
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(source: &str, sha256: &str) -> ModelFile {
        ModelFile {
            source: source.to_owned(),
            sha256: sha256.to_owned(),
            input_size: None,
            mean: None,
            std: None,
            scale: None,
            output: None,
            sigmoid: None,
        }
    }

    #[test]
    fn a_known_digest_brings_its_recipe() {
        let u2net = known::by_sha256(known::KNOWN[1].sha256).unwrap();
        let spec = resolve(
            &file("m/u2net.onnx", &u2net.sha256.to_ascii_uppercase()),
            Path::new("/r"),
        )
        .unwrap();
        assert_eq!(spec.recipe, Recipe::U2NET);
        assert_eq!(spec.sha256, u2net.sha256);
        assert_eq!(
            spec.source,
            ModelSource::File {
                path: "/r/m/u2net.onnx".into(),
                shown: "m/u2net.onnx".into()
            }
        );
    }

    #[test]
    fn an_unknown_model_without_a_recipe_names_the_missing_fields() {
        let mut f = file("https://example.com/m.onnx", &"a".repeat(64));
        f.input_size = Some(1024);
        f.sigmoid = Some(true);
        let problems = resolve(&f, Path::new("/r")).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0]
                .message
                .ends_with("missing `mean`, `std`, `scale`, `output`"),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn an_unknown_model_with_its_recipe_resolves() {
        let mut f = file("http://127.0.0.1:9/m.onnx?sig=x", &"b".repeat(64));
        f.input_size = Some(1024);
        f.mean = Some([0.5; 3]);
        f.std = Some([1.0; 3]);
        f.scale = Some(InputScale::Unit);
        f.output = Some(1);
        f.sigmoid = Some(true);
        let spec = resolve(&f, Path::new("/r")).unwrap();
        assert_eq!(spec.recipe.side, 1024);
        assert!(spec.recipe.sigmoid);
        assert!(spec.known.is_none());
        assert!(!spec.label().contains("sig=x"), "{}", spec.label());
    }

    #[test]
    fn plain_http_is_for_this_machine_only() {
        let problems = resolve(
            &file("http://example.com/u2net.onnx", known::KNOWN[1].sha256),
            Path::new("/r"),
        )
        .unwrap_err();
        assert_eq!(problems[0].field, Some("source"));
    }
}
