//! The manifest: loading with positions, schema validation, and expansion into steps.
//!
//! `load` parses and validates the document against the schema; `expand` renders templates,
//! resolves globs and checks paths. Both collect every problem before failing, so a user fixes
//! a manifest in one round trip.

mod bucket_glob;
mod expand;
mod glob;
mod model;
mod model_spec;
mod pathlimits;
mod schema;
mod templates;
pub mod yaml;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use expand::expand;
pub use expand::{CloudInput, CloudOutput, Input, Output, Step};
pub use glob::SkippedName;
pub use model::{
    CredentialVars, DEFAULT_MAX_PIXELS, DEFAULT_OUTPUT, Defaults, EmbeddedModel, EngineKind,
    ImageEntry, ImageLimits, InputScale, Limits, Manifest, MaskMode, ModelFile, ModelSetting,
    Optimize, OutputKind, PhotoshopApi, PhotoshopSettings, RetouchPolicy, ShardShare, StorageKind,
    VarValue, schema_json,
};
use serde_saphyr::Spanned;
use yaml::Node;

/// A position in the manifest: 1-based line and column (in characters) and a byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
    pub byte: usize,
}

impl Pos {
    pub const START: Pos = Pos {
        line: 1,
        column: 1,
        byte: 0,
    };
}

/// One problem in a manifest, at a position.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub pos: Pos,
    /// How many bytes from `pos` the problem covers, for the underline (at least 1).
    pub len: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// Something to mention without failing: a file or folder a glob skipped because its name
/// is not UTF-8, at the glob that met it.
#[derive(Debug, Clone)]
pub struct Warning {
    pub pos: Pos,
    pub skipped: SkippedName,
}

/// The manifest text and its name, shared by every diagnostic that quotes it.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub text: Arc<str>,
}

impl Source {
    /// The text of 1-based `line`, without its newline.
    pub fn line_text(&self, line: usize) -> &str {
        self.text.lines().nth(line.saturating_sub(1)).unwrap_or("")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read manifest {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} has {} problem{}", file.path.display(), diagnostics.len(), if diagnostics.len() == 1 { "" } else { "s" })]
    Invalid {
        file: Source,
        diagnostics: Vec<Diagnostic>,
    },
}

impl ManifestError {
    pub fn hint(&self) -> Option<String> {
        match self {
            ManifestError::Read { .. } => Some(
                "pass the manifest with --manifest PATH, or create one with `maskflow init`"
                    .to_owned(),
            ),
            ManifestError::Invalid { .. } => None,
        }
    }
}

/// A manifest that parsed and matched the schema.
#[derive(Debug)]
pub struct Loaded {
    pub source: Source,
    /// The folder the manifest lives in: inputs, outputs and the lockfile are relative to it.
    pub dir: PathBuf,
    pub manifest: Manifest,
    root: Spanned<Node>,
    /// For each entry of `manifest.images`, its index in the document: entries that broke
    /// the schema are left out, so the rest can still be checked.
    image_indices: Vec<usize>,
    /// Schema problems found in image entries, reported together with expansion's.
    schema_problems: Vec<Diagnostic>,
    /// What expansion skipped without failing, for the command to report.
    pub warnings: Vec<Warning>,
}

impl Loaded {
    /// The lockfile that belongs to this manifest.
    pub fn lock_path(&self) -> PathBuf {
        lock_path_for(&self.source.path)
    }

    fn pos_of_pointer(&self, pointer: &str) -> Pos {
        yaml::lookup(&self.root, pointer).map_or(Pos::START, |node| {
            yaml::pos_of(&self.source.text, &node.referenced)
        })
    }

    fn node(&self, pointer: &str) -> Option<&Spanned<Node>> {
        yaml::lookup(&self.root, pointer)
    }
}

/// The lockfile of the manifest at `path`: same folder, same stem, `.lock`.
pub fn lock_path_for(path: &Path) -> PathBuf {
    let mut name = path
        .file_stem()
        .map_or_else(|| "maskflow".into(), |s| s.to_os_string());
    name.push(".lock");
    path.with_file_name(name)
}

/// Reads, parses, validates and expands the manifest at `path`: the steps to run, or every
/// problem found on the way.
pub fn load(path: &Path) -> Result<(Loaded, Vec<Step>), ManifestError> {
    let bytes = read_bounded(path).map_err(|source| ManifestError::Read {
        path: path.to_owned(),
        source,
    })?;
    let dir = manifest_dir(path);
    let invalid = |text: Arc<str>, diagnostics| ManifestError::Invalid {
        file: Source {
            path: path.to_owned(),
            text,
        },
        diagnostics,
    };
    if bytes.len() > yaml::MAX_MANIFEST_BYTES {
        let size = std::fs::metadata(path).map_or(bytes.len() as u64, |m| m.len());
        let diagnostic = Diagnostic {
            pos: Pos::START,
            len: 1,
            message: format!(
                "the manifest is {size} bytes; manifests are limited to {} bytes",
                yaml::MAX_MANIFEST_BYTES
            ),
            hint: Some("list images with globs instead of one entry per file".to_owned()),
        };
        return Err(invalid("".into(), vec![diagnostic]));
    }
    let text: Arc<str> = match String::from_utf8(bytes) {
        Ok(text) => text.into(),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let prefix = String::from_utf8_lossy(&bytes[..valid]).into_owned();
            let line = prefix.matches('\n').count() + 1;
            let column = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let diagnostic = Diagnostic {
                pos: Pos {
                    line,
                    column,
                    byte: valid,
                },
                len: 1,
                message: "the manifest is not valid UTF-8".to_owned(),
                hint: None,
            };
            return Err(invalid(
                String::from_utf8_lossy(&bytes).into(),
                vec![diagnostic],
            ));
        }
    };
    let root = yaml::parse(&text).map_err(|failure| {
        invalid(
            text.clone(),
            vec![Diagnostic {
                pos: failure.pos,
                len: 1,
                message: failure.message,
                hint: None,
            }],
        )
    })?;
    let mut json = yaml::to_json(&root.value);
    let problems = schema::check(&json, &root, &text);
    let broken_images: BTreeSet<usize> = problems
        .iter()
        .filter_map(|(p, _)| image_index(p))
        .collect();
    if problems.iter().any(|(p, _)| image_index(p).is_none()) {
        // A problem outside the image entries leaves nothing sound to expand.
        return Err(invalid(
            text,
            problems.into_iter().map(|(_, d)| d).collect(),
        ));
    }
    let mut image_indices = Vec::new();
    if let Some(images) = json
        .get_mut("images")
        .and_then(serde_json::Value::as_array_mut)
    {
        let mut index = 0;
        images.retain(|_| {
            let keep = !broken_images.contains(&index);
            if keep {
                image_indices.push(index);
            }
            index += 1;
            keep
        });
    }
    let manifest: Manifest = serde_json::from_value(json).map_err(|e| {
        // The schema is generated from these types, so this only fires if the two disagree.
        invalid(
            text.clone(),
            vec![Diagnostic {
                pos: Pos::START,
                len: 1,
                message: format!("manifest does not match its types: {e}"),
                hint: None,
            }],
        )
    })?;
    let mut loaded = Loaded {
        source: Source {
            path: path.to_owned(),
            text,
        },
        dir,
        manifest,
        root,
        image_indices,
        schema_problems: problems.into_iter().map(|(_, d)| d).collect(),
        warnings: Vec::new(),
    };
    let (steps, warnings) = expand(&loaded)?;
    loaded.warnings = warnings;
    Ok((loaded, steps))
}

/// The image index a JSON pointer lies under (`/images/3/mask` -> 3), if any.
fn image_index(pointer: &str) -> Option<usize> {
    pointer
        .strip_prefix("/images/")?
        .split('/')
        .next()?
        .parse()
        .ok()
}

fn manifest_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Reads at most one byte more than the limit, so a 50 MB file costs 8 MB, not 50.
fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(yaml::MAX_MANIFEST_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}
