//! Decoding inputs into the 8-bit RGB the model expects.

use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

use super::EngineError;

/// Decodes the bytes of `path` (PNG or JPEG; grey, RGBA, 16-bit or palette) as upright 8-bit RGB.
///
/// EXIF orientation is applied so the mask lines up with the image as viewers show it. Alpha
/// is dropped rather than composited, as Pillow's `convert("RGB")` does in the reference.
pub fn decode_rgb(path: &Path, bytes: &[u8]) -> Result<RgbImage, EngineError> {
    let decode_error = |source| EngineError::Decode {
        path: path.to_owned(),
        source,
    };
    let reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .expect("reading from memory cannot fail");
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    image.apply_orientation(orientation);
    Ok(image.to_rgb8())
}
