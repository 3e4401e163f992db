//! The reference recipe (rembg's u2netp session), step for step, so masks match it.

use super::resample::resize_lanczos;
use crate::manifest::InputScale;

/// The model's square input size.
pub const SIDE: u32 = 320;
#[cfg(test)]
const PIXELS: usize = (SIDE * SIDE) as usize;
const MEAN: [f64; 3] = [0.485, 0.456, 0.406];
const STD: [f64; 3] = [0.229, 0.224, 0.225];

/// How one model wants its input and gives its output: rembg's session for it, step for step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recipe {
    /// The side of the square input (and of the output map), in pixels.
    pub side: u32,
    pub mean: [f64; 3],
    pub std: [f64; 3],
    pub scale: InputScale,
    /// Which of the model's outputs is the mask.
    pub output: usize,
    /// Whether that output is logits rather than probabilities.
    pub sigmoid: bool,
}

impl Recipe {
    /// rembg's recipe for the U²-Net family (u2net, u2netp, u2net_human_seg, silueta).
    pub const U2NET: Recipe = Recipe {
        side: SIDE,
        mean: MEAN,
        std: STD,
        scale: InputScale::Max,
        output: 0,
        sigmoid: false,
    };

    /// The recipe as the lockfile records it: any change replans the masks it made.
    pub fn describe(&self) -> String {
        let triple = |v: [f64; 3]| format!("{},{},{}", v[0], v[1], v[2]);
        format!(
            "{RECIPE_VERSION} side={} scale={} mean={} std={} output={} sigmoid={}",
            self.side,
            self.scale.as_str(),
            triple(self.mean),
            triple(self.std),
            self.output,
            self.sigmoid
        )
    }

    fn pixels(&self) -> usize {
        (self.side as usize) * (self.side as usize)
    }
}

/// Bumped whenever the code of pre- or post-processing changes the masks of models other
/// than the embedded one.
const RECIPE_VERSION: &str = "rembg-1";

/// RGB pixels -> the model's NCHW float input.
///
/// Pillow-exact Lanczos to 320x320, then divide by the resized image's own maximum (not 255)
/// and normalize per channel, all in f64 as NumPy does, rounding to f32 at the end.
pub fn preprocess(rgb: &[u8], width: u32, height: u32) -> Vec<f32> {
    preprocess_with(&Recipe::U2NET, rgb, width, height)
}

/// [`preprocess`] for any recipe.
pub fn preprocess_with(recipe: &Recipe, rgb: &[u8], width: u32, height: u32) -> Vec<f32> {
    let (side, pixels) = (recipe.side, recipe.pixels());
    let resized = resize_lanczos(rgb, width, height, 3, side, side);
    let divisor = match recipe.scale {
        // An all-black image would divide by zero (NaN in the reference); treat it as unscaled.
        InputScale::Max => f64::from(resized.iter().copied().max().unwrap_or(0).max(1)),
        InputScale::Unit => 255.0,
    };
    let mut tensor = vec![0f32; 3 * pixels];
    for (i, pixel) in resized.chunks_exact(3).enumerate() {
        for channel in 0..3 {
            let x = f64::from(pixel[channel]) / divisor;
            tensor[channel * pixels + i] =
                ((x - recipe.mean[channel]) / recipe.std[channel]) as f32;
        }
    }
    tensor
}

/// The model's 320x320 probability map -> an 8-bit mask at the original size.
///
/// Min-max normalization in f32, times 255, truncated (NumPy's `astype(uint8)`), then
/// Pillow-exact Lanczos back to `width` x `height`.
pub fn postprocess(probabilities: &[f32], width: u32, height: u32) -> Vec<u8> {
    postprocess_with(&Recipe::U2NET, probabilities, width, height)
}

/// [`postprocess`] for any recipe: a sigmoid first when the model gives logits.
pub fn postprocess_with(
    recipe: &Recipe,
    probabilities: &[f32],
    width: u32,
    height: u32,
) -> Vec<u8> {
    let (side, pixels) = (recipe.side, recipe.pixels());
    assert_eq!(
        probabilities.len(),
        pixels,
        "the model returns a side x side map"
    );
    let sigmoid: Vec<f32>;
    let probabilities = if recipe.sigmoid {
        sigmoid = probabilities
            .iter()
            .map(|&x| 1.0 / (1.0 + (-x).exp()))
            .collect();
        &sigmoid[..]
    } else {
        probabilities
    };
    let (min, max) = probabilities
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &p| {
            (lo.min(p), hi.max(p))
        });
    let range = max - min;
    let small: Vec<u8> = if range > 0.0 && range.is_finite() {
        probabilities
            .iter()
            .map(|&p| ((p - min) / range * 255.0) as u8)
            .collect()
    } else {
        // A flat map has no subject; the reference would produce NaN here.
        vec![0; pixels]
    };
    resize_lanczos(&small, side, side, 1, width, height)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preprocess_scales_by_the_image_maximum_and_normalizes() {
        let rgb = vec![100u8; 3 * 16 * 16];
        let tensor = preprocess(&rgb, 16, 16);
        assert_eq!(tensor.len(), 3 * PIXELS);
        // Every pixel equals the maximum, so x = 1.0 before normalization.
        for channel in 0..3 {
            let expected = ((1.0 - MEAN[channel]) / STD[channel]) as f32;
            assert_eq!(tensor[channel * PIXELS], expected);
            assert_eq!(tensor[channel * PIXELS + PIXELS - 1], expected);
        }
    }

    #[test]
    fn postprocess_stretches_to_full_range_and_truncates() {
        let mut map = vec![0.25f32; PIXELS];
        map[0] = 0.75;
        map[1] = 0.5;
        let mask = postprocess(&map, SIDE, SIDE);
        assert_eq!(mask[0], 255);
        assert_eq!(mask[1], 127, "0.5 * 255 = 127.5 truncates to 127");
        assert_eq!(mask[2], 0);
    }

    #[test]
    fn other_recipes_scale_by_255_and_apply_a_sigmoid() {
        let recipe = Recipe {
            side: 4,
            mean: [0.5; 3],
            std: [1.0; 3],
            scale: InputScale::Unit,
            output: 0,
            sigmoid: true,
        };
        let tensor = preprocess_with(&recipe, &[51u8; 3 * 4 * 4], 4, 4);
        assert_eq!(tensor.len(), 3 * 16);
        assert_eq!(tensor[0], (51.0 / 255.0 - 0.5) as f32);
        let mut logits = vec![-20.0f32; 16];
        logits[0] = 20.0;
        logits[1] = 0.0;
        let mask = postprocess_with(&recipe, &logits, 4, 4);
        assert_eq!(mask[0], 255);
        assert_eq!(mask[1], 127, "sigmoid(0) = 0.5");
        assert_eq!(mask[2], 0);
    }

    #[test]
    fn the_recipe_description_names_every_field() {
        assert_eq!(
            Recipe::U2NET.describe(),
            "rembg-1 side=320 scale=max mean=0.485,0.456,0.406 std=0.229,0.224,0.225 output=0 sigmoid=false"
        );
    }

    #[test]
    fn flat_maps_give_an_empty_mask_at_the_requested_size() {
        let mask = postprocess(&vec![0.5; PIXELS], 7, 3);
        assert_eq!(mask, vec![0; 21]);
    }
}
