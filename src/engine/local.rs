//! The `local` engine: the embedded U²-Net-portable model, run on the CPU with tract.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use image::GrayImage;
use sha2::{Digest, Sha256};
use tract_onnx::prelude::*;

use super::{Engine, EngineError, MaskRequest, decode::decode_rgb, finish_mask, recipe};

/// The model, compiled into the binary so the engine works offline (see models/NOTICE.md).
static MODEL_BYTES: &[u8] = include_bytes!("../../models/u2netp.onnx");

/// The model's published sha256; checked at load so a damaged binary cannot make bad masks.
pub const MODEL_SHA256: &str = "309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8";

/// Bumped whenever pre- or post-processing changes the masks, so old masks are replanned.
const RECIPE: &str = "rembg-u2netp-1";

type Model = Arc<TypedRunnableModel>;

/// Sets how many threads one inference may use for its convolutions. With several images in
/// flight, one thread each keeps the cores busy without oversubscribing them.
pub fn set_threads(threads: usize) {
    use tract_linalg::multithread::{Executor, set_default_executor};
    set_default_executor(if threads > 1 {
        Executor::multithread(threads)
    } else {
        Executor::SingleThread
    });
}

pub struct LocalEngine {
    model: Model,
}

/// The local engine's identity, known without loading the model.
pub fn identity() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("name".to_owned(), "local".to_owned()),
        ("model".to_owned(), format!("u2netp sha256:{MODEL_SHA256}")),
        ("recipe".to_owned(), RECIPE.to_owned()),
    ])
}

impl LocalEngine {
    /// The process-wide engine; the model is verified and optimized once, on first use.
    pub fn shared() -> Result<&'static LocalEngine, EngineError> {
        static SHARED: OnceLock<Result<LocalEngine, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| Self::load().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|message| EngineError::ModelLoad {
                message: message.clone(),
            })
    }

    pub fn load() -> Result<LocalEngine, EngineError> {
        let actual = format!("{:x}", Sha256::digest(MODEL_BYTES));
        if actual != MODEL_SHA256 {
            return Err(EngineError::ModelDigest {
                expected: MODEL_SHA256.to_owned(),
                actual,
            });
        }
        let side = recipe::SIDE as usize;
        let model = tract_onnx::onnx()
            .model_for_read(&mut std::io::Cursor::new(MODEL_BYTES))
            .and_then(|m| m.with_input_fact(0, f32::fact([1, 3, side, side]).into()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| EngineError::ModelLoad {
                message: format!("{e:#}"),
            })?;
        Ok(LocalEngine { model })
    }

    /// The soft mask for already-decoded RGB pixels.
    pub fn soft_mask(&self, rgb: &image::RgbImage) -> Result<GrayImage, String> {
        let (width, height) = rgb.dimensions();
        let input = recipe::preprocess(rgb.as_raw(), width, height);
        self.infer(&input, width, height)
    }

    /// Runs the model on its 320x320 input and scales the result to `width` x `height`.
    fn infer(&self, input: &[f32], width: u32, height: u32) -> Result<GrayImage, String> {
        let side = recipe::SIDE as usize;
        let tensor =
            Tensor::from_shape(&[1, 3, side, side], input).map_err(|e| format!("{e:#}"))?;
        let outputs = self
            .model
            .run(tvec!(tensor.into_tvalue()))
            .map_err(|e| format!("{e:#}"))?;
        // Output 0 is the fused map d0, already a sigmoid probability.
        let probabilities: Vec<f32> = outputs[0]
            .to_plain_array_view::<f32>()
            .map_err(|e| format!("{e:#}"))?
            .iter()
            .take(side * side)
            .copied()
            .collect();
        let pixels = recipe::postprocess(&probabilities, width, height);
        Ok(GrayImage::from_raw(width, height, pixels).expect("postprocess returns width*height"))
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
            .map_err(|message| EngineError::Inference {
                path: request.input.to_owned(),
                message,
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
