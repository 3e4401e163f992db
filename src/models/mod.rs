//! Models of the `local` engine other than the embedded u2netp: which file (a path or an
//! `https://` URL, pinned by sha256), how to feed it (its recipe), the download cache, and
//! loading each model once per run.

pub mod cache;
pub mod known;
mod net;
mod registry;

use std::path::PathBuf;

use crate::engine::recipe::Recipe;
use crate::redact::SecretUrl;

pub use net::Net;
pub use registry::{Loaded, load};

/// The largest model file maskflow downloads or reads (BiRefNet's biggest is about 1 GB).
pub const MAX_MODEL_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// A model file named by the manifest, resolved: where it is, its pinned digest, its recipe.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    pub source: ModelSource,
    /// sha256 of the file, lowercase hex.
    pub sha256: String,
    pub recipe: Recipe,
    /// The known model with this digest, if any.
    pub known: Option<&'static known::KnownModel>,
}

// The known model follows from the digest.
impl PartialEq for ModelSpec {
    fn eq(&self, other: &Self) -> bool {
        (&self.source, &self.sha256, &self.recipe) == (&other.source, &other.sha256, &other.recipe)
    }
}

// Recipes hold f64s, but the manifest check refuses non-finite ones.
impl Eq for ModelSpec {}

/// Where a model file is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A local file; `shown` is the path as the manifest gives it.
    File { path: PathBuf, shown: String },
    /// Downloaded once into the cache.
    Url(SecretUrl),
}

impl ModelSpec {
    /// The model as messages name it: its source and the start of its digest.
    pub fn label(&self) -> String {
        let source = match &self.source {
            ModelSource::File { shown, .. } => shown.clone(),
            ModelSource::Url(url) => url.redacted(),
        };
        format!("model `{source}` (sha256 {})", &self.sha256[..12])
    }

    /// What the lockfile records of the model: a change replans exactly its masks. The
    /// source is not part of it: the same file from another place makes the same masks.
    pub fn identity(&self) -> (String, String) {
        let name = self.known.map_or("onnx", |k| k.name);
        (
            format!("{name} sha256:{}", self.sha256),
            self.recipe.describe(),
        )
    }
}

/// Why a model cannot be used. Each names the model; `apply` adds the image.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ModelError {
    #[error("{model}: cannot read {}: {reason}", path.display())]
    Read {
        model: String,
        path: PathBuf,
        reason: String,
    },
    #[error("{model}: the file's sha256 is {actual}, not the pinned {expected}; it was not used")]
    Digest {
        model: String,
        expected: String,
        actual: String,
    },
    #[error("{model}: the download failed: {reason}")]
    Download { model: String, reason: String },
    #[error("{model}: the model cache at {} cannot be used: {reason}", dir.display())]
    Cache {
        model: String,
        dir: PathBuf,
        reason: String,
    },
    #[error("{model}: no cache folder: set MASKFLOW_CACHE")]
    NoCacheDir { model: String },
    #[error("{model}: {} is larger than {limit} bytes", what)]
    TooLarge {
        model: String,
        what: String,
        limit: u64,
    },
    #[error("{model}: not an ONNX model this runtime can load: {reason}")]
    NotOnnx { model: String, reason: String },
    #[error("{model}: does not fit its recipe: {reason}")]
    Shape { model: String, reason: String },
}

impl ModelError {
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            ModelError::Read { .. } => Some("a model path is relative to the manifest's folder"),
            ModelError::Digest { .. } => Some(
                "check the file and `sha256` in the manifest: `sha256sum FILE` prints the digest",
            ),
            ModelError::Download { .. } => {
                Some("nothing was kept; the next run downloads it again")
            }
            ModelError::NoCacheDir { .. } | ModelError::Cache { .. } => {
                Some("MASKFLOW_CACHE names the folder models are downloaded to")
            }
            ModelError::NotOnnx { .. } => {
                Some("give an .onnx file (rembg's models are ONNX files)")
            }
            ModelError::Shape { .. } => Some(
                "set `input_size` and `output` to what the model takes and gives (`maskflow models` lists known models)",
            ),
            ModelError::TooLarge { .. } => None,
        }
    }
}

/// The lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}
