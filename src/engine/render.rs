//! The `local` engine for one step: the step's model (embedded or from a file) and its
//! output kind (mask or cutout).

use std::path::{Path, PathBuf};

use super::cutout::{Rendered, compose};
use super::local::LocalEngine;
use super::{
    DecodeLimits, Engine, EngineError, InferenceError, MaskRequest, decode::decode_rgb, finish_mask,
};
use crate::manifest::{OutputKind, Step};
use crate::models::ModelError;

/// Why the `local` engine made nothing for one image.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("{model}: inference failed for {}: {source}", path.display())]
    Inference {
        model: String,
        path: PathBuf,
        source: InferenceError,
    },
}

impl RenderError {
    pub fn hint(&self) -> Option<String> {
        match self {
            RenderError::Engine(e) => e.hint(),
            RenderError::Model(e) => e.hint().map(str::to_owned),
            RenderError::Inference { source, .. } => match source {
                InferenceError::Runtime(e) => e.hint(),
                InferenceError::OutputShape { .. } => None,
            },
        }
    }
}

/// Masks (or cuts out) one image in-process. `embedded` is the u2netp engine: the shared one
/// unless a caller (a test) brings its own.
pub fn local(
    step: &Step,
    embedded: Option<&dyn Engine>,
    input: &Path,
    bytes: &[u8],
    limits: DecodeLimits,
) -> Result<Rendered, RenderError> {
    let Some(spec) = &step.model else {
        let engine = match embedded {
            Some(engine) => engine,
            None => LocalEngine::shared()?,
        };
        if step.output_kind == OutputKind::Mask {
            // The engine frees the decoded picture before the full-size mask exists.
            let mask = engine.mask(&MaskRequest {
                input,
                bytes,
                mask: step.mask,
                limits,
            })?;
            return Ok(Rendered::Mask(mask));
        }
        let cutout = super::cutout::cut_out(&MaskRequest {
            input,
            bytes,
            mask: step.mask,
            limits,
        })?;
        return Ok(Rendered::Cutout(super::cutout::finish_alpha(
            cutout, step.mask,
        )));
    };
    let model = crate::models::load(spec)?;
    let rgb = decode_rgb(input, bytes, limits)?;
    let soft = model
        .soft_mask(&rgb)
        .map_err(|source| RenderError::Inference {
            model: spec.label(),
            path: input.to_owned(),
            source,
        })?;
    let mask = finish_mask(soft, step.mask);
    Ok(match step.output_kind {
        OutputKind::Mask => Rendered::Mask(mask),
        OutputKind::Cutout => Rendered::Cutout(compose(rgb, &mask)),
    })
}
