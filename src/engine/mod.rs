//! Engines turn one input image into one mask.

mod decode;
pub mod local;
pub mod recipe;
pub mod resample;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use image::GrayImage;

use crate::manifest::{EngineKind, MaskMode};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot decode image {}: {source}", path.display())]
    Decode {
        path: PathBuf,
        source: image::ImageError,
    },
    #[error("the embedded model is corrupt: sha256 {actual}, expected {expected}")]
    ModelDigest { expected: String, actual: String },
    #[error("cannot load the embedded model: {message}")]
    ModelLoad { message: String },
    #[error("inference failed for {}: {message}", path.display())]
    Inference { path: PathBuf, message: String },
}

impl EngineError {
    pub fn hint(&self) -> Option<String> {
        match self {
            EngineError::Decode { .. } => Some("inputs must be PNG or JPEG images".to_owned()),
            EngineError::ModelDigest { .. } => {
                Some("the binary is damaged; rebuild or reinstall maskflow".to_owned())
            }
            _ => None,
        }
    }
}

/// What an engine is asked to do for one image.
#[derive(Debug, Clone)]
pub struct MaskRequest<'a> {
    /// Where the input came from, for error messages.
    pub input: &'a Path,
    /// The input's bytes, read once so the digest recorded is of exactly what was masked.
    pub bytes: &'a [u8],
    pub mask: MaskMode,
}

/// One engine. The local engine finishes within `mask`; remote engines will submit and poll.
pub trait Engine: Send + Sync {
    fn mask(&self, request: &MaskRequest<'_>) -> Result<GrayImage, EngineError>;
}

/// What identifies an engine's output, recorded in the lockfile: a change makes every mask
/// it made stale. Known without loading the engine, so planning never loads a model.
pub fn identity(kind: EngineKind) -> BTreeMap<String, String> {
    match kind {
        EngineKind::Local => local::identity(),
    }
}

/// The engine for `kind`, loaded on first use and shared by every worker.
pub fn engine(kind: EngineKind) -> Result<&'static dyn Engine, EngineError> {
    match kind {
        EngineKind::Local => local::LocalEngine::shared().map(|e| e as &dyn Engine),
    }
}

/// Shares the machine's cores among the images in flight.
pub fn set_threads_per_job(threads: usize) {
    local::set_threads(threads);
}

/// Applies the mask mode to a soft mask.
pub fn finish_mask(mut soft: GrayImage, mode: MaskMode) -> GrayImage {
    if mode == MaskMode::Binary {
        for pixel in soft.pixels_mut() {
            pixel.0[0] = if pixel.0[0] >= 128 { 255 } else { 0 };
        }
    }
    soft
}
