//! What the engines write: a mask, or a cutout (the input's pixels with the mask as alpha).

use image::{GrayImage, RgbImage, RgbaImage};

/// An engine's result for one image, ready to encode.
pub enum Rendered {
    Mask(GrayImage),
    Cutout(RgbaImage),
}

impl Rendered {
    pub fn dimensions(&self) -> (u32, u32) {
        match self {
            Rendered::Mask(mask) => mask.dimensions(),
            Rendered::Cutout(cutout) => cutout.dimensions(),
        }
    }

    pub fn encode_png(&self) -> Result<Vec<u8>, crate::png::EncodeError> {
        let mut png = Vec::new();
        let mut cursor = std::io::Cursor::new(&mut png);
        match self {
            Rendered::Mask(mask) => mask.write_to(&mut cursor, image::ImageFormat::Png)?,
            Rendered::Cutout(cutout) => cutout.write_to(&mut cursor, image::ImageFormat::Png)?,
        }
        Ok(png)
    }
}

/// The cutout of `rgb` by `mask`: every pixel's colour unchanged, its alpha the mask's value.
pub fn compose(rgb: RgbImage, mask: &GrayImage) -> RgbaImage {
    assert_eq!(
        rgb.dimensions(),
        mask.dimensions(),
        "a mask has its input's size"
    );
    let (width, height) = rgb.dimensions();
    let mut rgba = Vec::with_capacity(rgb.len() / 3 * 4);
    for (pixel, alpha) in rgb.as_raw().chunks_exact(3).zip(mask.as_raw()) {
        rgba.extend_from_slice(pixel);
        rgba.push(*alpha);
    }
    RgbaImage::from_raw(width, height, rgba).expect("4 bytes a pixel")
}

/// The cutout of one input by the embedded model, with a soft mask as alpha (`request.mask`
/// is not applied: services cut out with soft edges).
pub fn cut_out(request: &super::MaskRequest<'_>) -> Result<RgbaImage, super::EngineError> {
    let rgb = super::decode::decode_rgb(request.input, request.bytes, request.limits)?;
    let soft = super::local::LocalEngine::shared()?
        .soft_mask(&rgb)
        .map_err(|source| super::EngineError::Inference {
            path: request.input.to_owned(),
            source,
        })?;
    Ok(compose(rgb, &soft))
}

/// Makes `mode` of a cutout's alpha (a service's cutout is always soft).
pub fn finish_alpha(mut cutout: RgbaImage, mode: crate::manifest::MaskMode) -> RgbaImage {
    if mode == crate::manifest::MaskMode::Binary {
        for pixel in cutout.pixels_mut() {
            pixel.0[3] = if pixel.0[3] >= 128 { 255 } else { 0 };
        }
    }
    cutout
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cutout_keeps_the_colours_and_takes_the_mask_as_alpha() {
        let rgb = RgbImage::from_raw(2, 1, vec![1, 2, 3, 4, 5, 6]).unwrap();
        let mask = GrayImage::from_raw(2, 1, vec![0, 200]).unwrap();
        let cutout = compose(rgb, &mask);
        assert_eq!(cutout.as_raw(), &vec![1, 2, 3, 0, 4, 5, 6, 200]);
        let binary = finish_alpha(cutout, crate::manifest::MaskMode::Binary);
        assert_eq!(binary.as_raw(), &vec![1, 2, 3, 0, 4, 5, 6, 255]);
    }
}
