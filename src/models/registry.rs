//! Each model is obtained and loaded once per run, by the first image that needs it; the
//! images after it share the loaded model, or its error (without downloading again).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use image::{GrayImage, RgbImage};

use super::net::{Net, NetError};
use super::{ModelError, ModelSpec, cache};
use crate::engine::InferenceError;
use crate::engine::recipe::{self, Recipe};

/// A model ready to run.
pub struct Loaded {
    net: Net,
    recipe: Recipe,
}

impl Loaded {
    /// The soft mask for decoded RGB pixels, at their size.
    pub fn soft_mask(&self, rgb: &RgbImage) -> Result<GrayImage, InferenceError> {
        let (width, height) = rgb.dimensions();
        let input = recipe::preprocess_with(&self.recipe, rgb.as_raw(), width, height);
        let output = self.net.run(&input)?;
        let pixels = recipe::postprocess_with(&self.recipe, &output, width, height);
        Ok(GrayImage::from_raw(width, height, pixels).expect("postprocess returns width*height"))
    }
}

type Slot = Arc<OnceLock<Result<Arc<Loaded>, ModelError>>>;

/// The loaded model for `spec`, loading it on first use.
pub fn load(spec: &ModelSpec) -> Result<Arc<Loaded>, ModelError> {
    static MODELS: OnceLock<Mutex<HashMap<String, Slot>>> = OnceLock::new();
    let key = format!("{} {}", spec.sha256, spec.recipe.describe());
    let slot = MODELS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .entry(key)
        .or_default()
        .clone();
    slot.get_or_init(|| load_uncached(spec)).clone()
}

fn load_uncached(spec: &ModelSpec) -> Result<Arc<Loaded>, ModelError> {
    let bytes = cache::obtain(spec)?;
    let net = Net::load(bytes, &spec.recipe).map_err(|e| match e {
        NetError::NotOnnx(reason) => ModelError::NotOnnx {
            model: spec.label(),
            reason,
        },
        NetError::Shape(reason) => ModelError::Shape {
            model: spec.label(),
            reason,
        },
    })?;
    Ok(Arc::new(Loaded {
        net,
        recipe: spec.recipe,
    }))
}
