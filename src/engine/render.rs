//! The `local` engine for one step: the step's model (embedded or from a file) and its
//! output kind (mask or cutout).

use std::path::Path;

use super::cutout::{Rendered, compose};
use super::{DecodeLimits, Engine, MaskRequest, decode::decode_rgb, finish_mask};
use crate::manifest::{OutputKind, Step};

/// Masks (or cuts out) one image in-process. `embedded` is the u2netp engine, loaded when
/// some step uses it. Errors are ready to show: they name the model, with a hint.
pub fn local(
    step: &Step,
    embedded: Option<&dyn Engine>,
    input: &Path,
    bytes: &[u8],
    limits: DecodeLimits,
) -> Result<Rendered, String> {
    let describe = |e: &super::EngineError| crate::with_hint(e, e.hint());
    let Some(spec) = &step.model else {
        let engine = embedded.ok_or("the embedded model was not loaded")?;
        if step.output_kind == OutputKind::Mask {
            // The engine frees the decoded picture before the full-size mask exists.
            let mask = engine
                .mask(&MaskRequest {
                    input,
                    bytes,
                    mask: step.mask,
                    limits,
                })
                .map_err(|e| describe(&e))?;
            return Ok(Rendered::Mask(mask));
        }
        let cutout = super::cutout::cut_out(&MaskRequest {
            input,
            bytes,
            mask: step.mask,
            limits,
        })
        .map_err(|e| describe(&e))?;
        return Ok(Rendered::Cutout(super::cutout::finish_alpha(
            cutout, step.mask,
        )));
    };
    let model = crate::models::load(spec).map_err(|e| crate::with_hint(&e, e.hint()))?;
    let rgb = decode_rgb(input, bytes, limits).map_err(|e| describe(&e))?;
    let soft = model.soft_mask(&rgb).map_err(|message| {
        format!(
            "{}: inference failed for {}: {message}",
            spec.label(),
            input.display()
        )
    })?;
    let mask = finish_mask(soft, step.mask);
    Ok(match step.output_kind {
        OutputKind::Mask => Rendered::Mask(mask),
        OutputKind::Cutout => Rendered::Cutout(compose(rgb, &mask)),
    })
}
