//! The reference recipe (rembg's u2netp session), step for step, so masks match it.

use super::resample::resize_lanczos;

/// The model's square input size.
pub const SIDE: u32 = 320;
const PIXELS: usize = (SIDE * SIDE) as usize;
const MEAN: [f64; 3] = [0.485, 0.456, 0.406];
const STD: [f64; 3] = [0.229, 0.224, 0.225];

/// RGB pixels -> the model's NCHW float input.
///
/// Pillow-exact Lanczos to 320x320, then divide by the resized image's own maximum (not 255)
/// and normalize per channel, all in f64 as NumPy does, rounding to f32 at the end.
pub fn preprocess(rgb: &[u8], width: u32, height: u32) -> Vec<f32> {
    let resized = resize_lanczos(rgb, width, height, 3, SIDE, SIDE);
    // An all-black image would divide by zero (NaN in the reference); treat it as unscaled.
    let max = f64::from(resized.iter().copied().max().unwrap_or(0).max(1));
    let mut tensor = vec![0f32; 3 * PIXELS];
    for (i, pixel) in resized.chunks_exact(3).enumerate() {
        for channel in 0..3 {
            let x = f64::from(pixel[channel]) / max;
            tensor[channel * PIXELS + i] = ((x - MEAN[channel]) / STD[channel]) as f32;
        }
    }
    tensor
}

/// The model's 320x320 probability map -> an 8-bit mask at the original size.
///
/// Min-max normalization in f32, times 255, truncated (NumPy's `astype(uint8)`), then
/// Pillow-exact Lanczos back to `width` x `height`.
pub fn postprocess(probabilities: &[f32], width: u32, height: u32) -> Vec<u8> {
    assert_eq!(
        probabilities.len(),
        PIXELS,
        "the model returns a 320x320 map"
    );
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
        vec![0; PIXELS]
    };
    resize_lanczos(&small, SIDE, SIDE, 1, width, height)
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
    fn flat_maps_give_an_empty_mask_at_the_requested_size() {
        let mask = postprocess(&vec![0.5; PIXELS], 7, 3);
        assert_eq!(mask, vec![0; 21]);
    }
}
