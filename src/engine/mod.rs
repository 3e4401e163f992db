//! Engines turn one input image into one mask.

pub mod cutout;
mod decode;
pub mod local;
pub mod photoshop;
pub mod recipe;
pub mod render;
pub mod resample;
pub mod runtime;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use image::GrayImage;

pub use decode::{DEFAULT_MAX_PIXELS, DecodeLimits, decode_gray, decode_rgba};

use crate::manifest::{EngineKind, MaskMode, OutputKind, PhotoshopSettings, Step};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot decode image {}: {source}", path.display())]
    Decode {
        path: PathBuf,
        source: image::ImageError,
    },
    #[error(
        "image {} is {width}x{height} pixels, over the limit of {max_pixels} pixels; it was not decoded",
        path.display()
    )]
    TooLarge {
        path: PathBuf,
        width: u32,
        height: u32,
        max_pixels: u64,
    },
    #[error("cannot decode image {}: the {format} is truncated or damaged: {reason}", path.display())]
    Damaged {
        path: PathBuf,
        format: &'static str,
        reason: String,
    },
    #[error("the embedded model is corrupt: sha256 {actual}, expected {expected}")]
    ModelDigest { expected: String, actual: String },
    #[error(transparent)]
    Runtime(#[from] runtime::RuntimeError),
    #[error("inference failed for {}: {source}", path.display())]
    Inference {
        path: PathBuf,
        source: InferenceError,
    },
    #[error(transparent)]
    Credentials(#[from] photoshop::CredentialError),
}

impl EngineError {
    pub fn hint(&self) -> Option<String> {
        match self {
            EngineError::Decode { .. } => Some("inputs must be PNG or JPEG images".to_owned()),
            EngineError::TooLarge { .. } => Some(
                "raise `limits.max_pixels` in the manifest (or pass --max-pixels) if the machine has the memory, or downscale the image".to_owned(),
            ),
            EngineError::Damaged { .. } => {
                Some("re-export or download the file again; a mask of it would be wrong".to_owned())
            }
            EngineError::ModelDigest { .. } => {
                Some("the binary is damaged; rebuild or reinstall maskflow".to_owned())
            }
            EngineError::Runtime(e)
            | EngineError::Inference {
                source: InferenceError::Runtime(e),
                ..
            } => e.hint(),
            EngineError::Credentials(_) => Some(
                "export the variables named under `photoshop.credentials` (defaults PHOTOSHOP_CLIENT_ID, PHOTOSHOP_CLIENT_SECRET or PHOTOSHOP_ACCESS_TOKEN)".to_owned(),
            ),
            _ => None,
        }
    }
}

/// Why a model's run gave no mask.
#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    #[error(transparent)]
    Runtime(#[from] runtime::RuntimeError),
    #[error(
        "output #{output} has shape {}, not one {side}x{side} map",
        shown_shape(shape)
    )]
    OutputShape {
        output: usize,
        shape: Vec<usize>,
        side: usize,
    },
}

fn shown_shape(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    dims.join("x")
}

/// What an engine is asked to do for one image.
#[derive(Debug, Clone)]
pub struct MaskRequest<'a> {
    /// Where the input came from, for error messages.
    pub input: &'a Path,
    /// The input's bytes, read once so the digest recorded is of exactly what was masked.
    pub bytes: &'a [u8],
    pub mask: MaskMode,
    /// How much decoding the input may cost.
    pub limits: DecodeLimits,
}

/// An engine that runs in-process and finishes within `mask`. Remote engines
/// (`photoshop::Photoshop`) submit, poll and collect instead; `apply` drives both.
pub trait Engine: Send + Sync {
    fn mask(&self, request: &MaskRequest<'_>) -> Result<GrayImage, EngineError>;
}

/// What identifies an engine's output, recorded in the lockfile: a change makes every mask
/// it made stale. Known without loading the engine, so planning never loads a model.
pub fn identity(kind: EngineKind, photoshop: &PhotoshopSettings) -> BTreeMap<String, String> {
    match kind {
        EngineKind::Local => local::identity(),
        EngineKind::Photoshop => photoshop::identity(photoshop),
    }
}

/// The settings that shape a mask, normalized, as the lockfile records them.
pub fn settings(
    kind: EngineKind,
    mask: MaskMode,
    photoshop: &PhotoshopSettings,
) -> BTreeMap<String, String> {
    match kind {
        EngineKind::Local => BTreeMap::from([("mask".to_owned(), mask.as_str().to_owned())]),
        EngineKind::Photoshop => photoshop::settings(mask, photoshop),
    }
}

/// [`identity`] for one step: with the `local` engine, the step's model and recipe.
pub fn identity_of(step: &Step, photoshop: &PhotoshopSettings) -> BTreeMap<String, String> {
    let mut identity = identity(step.engine, photoshop);
    if let (EngineKind::Local, Some(spec)) = (step.engine, &step.model) {
        let (model, recipe) = spec.identity();
        identity.insert("model".to_owned(), model);
        identity.insert("recipe".to_owned(), recipe);
    }
    identity
}

/// [`settings`] for one step: a cutout is recorded as such. Masks record nothing new, so
/// lockfiles written before cutouts existed stay unchanged.
pub fn settings_of(step: &Step, photoshop: &PhotoshopSettings) -> BTreeMap<String, String> {
    let mut settings = settings(step.engine, step.mask, photoshop);
    if step.output_kind == OutputKind::Cutout {
        settings.insert(
            "output_kind".to_owned(),
            OutputKind::Cutout.as_str().to_owned(),
        );
    }
    settings
}

/// The in-process engine, loaded on first use and shared by every worker.
pub fn local_engine() -> Result<&'static dyn Engine, EngineError> {
    local::LocalEngine::shared().map(|e| e as &dyn Engine)
}

/// Shares the machine's cores among the images in flight.
pub fn set_threads_per_job(threads: usize) {
    runtime::set_threads_per_job(threads);
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
