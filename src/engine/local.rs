//! The `local` engine: the embedded U²-Net-portable model, run on the CPU (see `runtime`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::runtime::{self, Input, RuntimeKind, Session};
use super::{
    Engine, EngineError, InferenceError, MaskRequest, decode::decode_rgb, finish_mask, recipe,
};
use image::GrayImage;
use sha2::{Digest, Sha256};

/// The model, compiled into the binary so the engine works offline (see models/NOTICE.md).
static MODEL_BYTES: &[u8] = include_bytes!("../../models/u2netp.onnx");

/// The model's published sha256; checked at load so a damaged binary cannot make bad masks.
pub const MODEL_SHA256: &str = "309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8";

/// Bumped whenever pre- or post-processing changes the masks, so old masks are replanned.
const RECIPE: &str = "rembg-u2netp-1";

pub struct LocalEngine {
    session: Box<dyn Session>,
}

/// The local engine's identity, known without loading the model.
pub fn identity() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("name".to_owned(), "local".to_owned()),
        ("model".to_owned(), format!("u2netp sha256:{MODEL_SHA256}")),
        ("recipe".to_owned(), RECIPE.to_owned()),
        // Runtimes round differently, so masks differ by a grey level here and there.
        (
            "runtime".to_owned(),
            runtime::selected().as_str().to_owned(),
        ),
    ])
}

impl LocalEngine {
    /// The process-wide engine; the model is verified and loaded once, on first use.
    pub fn shared() -> Result<&'static LocalEngine, EngineError> {
        static SHARED: OnceLock<Result<LocalEngine, EngineError>> = OnceLock::new();
        SHARED
            .get_or_init(|| Self::load(runtime::selected()))
            .as_ref()
            .map_err(repeat_load_error)
    }

    pub fn load(runtime: RuntimeKind) -> Result<LocalEngine, EngineError> {
        let actual = format!("{:x}", Sha256::digest(MODEL_BYTES));
        if actual != MODEL_SHA256 {
            return Err(EngineError::ModelDigest {
                expected: MODEL_SHA256.to_owned(),
                actual,
            });
        }
        let session = runtime::load(runtime, MODEL_BYTES)?;
        Ok(LocalEngine { session })
    }

    /// The soft mask for already-decoded RGB pixels.
    pub fn soft_mask(&self, rgb: &image::RgbImage) -> Result<GrayImage, InferenceError> {
        let (width, height) = rgb.dimensions();
        let input = recipe::preprocess(rgb.as_raw(), width, height);
        self.infer(&input, width, height)
    }

    /// Runs the model on its 320x320 input and scales the result to `width` x `height`.
    fn infer(&self, input: &[f32], width: u32, height: u32) -> Result<GrayImage, InferenceError> {
        let side = recipe::SIDE as usize;
        let input = Input {
            shape: &[1, 3, side, side],
            data: input,
        };
        // Output 0 is the fused map d0 (1x1x320x320), already a sigmoid probability.
        let output = self.session.run(input, 0)?;
        if output.data.len() != side * side {
            return Err(InferenceError::OutputShape {
                output: 0,
                shape: output.shape,
                side,
            });
        }
        let pixels = recipe::postprocess(&output.data, width, height);
        Ok(GrayImage::from_raw(width, height, pixels).expect("postprocess returns width*height"))
    }
}

/// The error of the one shared load, for every image that needed the engine.
fn repeat_load_error(error: &EngineError) -> EngineError {
    match error {
        EngineError::ModelDigest { expected, actual } => EngineError::ModelDigest {
            expected: expected.clone(),
            actual: actual.clone(),
        },
        EngineError::Runtime(e) => EngineError::Runtime(e.clone()),
        other => EngineError::Runtime(runtime::RuntimeError::Load {
            runtime: RuntimeKind::default(),
            message: other.to_string(),
        }),
    }
}

impl Engine for LocalEngine {
    fn mask(&self, request: &MaskRequest<'_>) -> Result<GrayImage, EngineError> {
        let rgb = decode_rgb(request.input, request.bytes, request.limits)?;
        let (width, height) = rgb.dimensions();
        let input = recipe::preprocess(rgb.as_raw(), width, height);
        // The full-size picture is no longer needed: free it before the full-size mask exists.
        drop(rgb);
        let soft = self
            .infer(&input, width, height)
            .map_err(|source| EngineError::Inference {
                path: request.input.to_owned(),
                source,
            })?;
        Ok(finish_mask(soft, request.mask))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_model_matches_its_digest() {
        assert_eq!(format!("{:x}", Sha256::digest(MODEL_BYTES)), MODEL_SHA256);
    }
}
