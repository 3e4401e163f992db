//! Masks as PNG bytes, the one format maskflow writes (and the emulator serves).

use image::GrayImage;

#[derive(Debug, thiserror::Error)]
#[error("cannot encode the mask as PNG: {source}")]
pub struct EncodeError {
    #[from]
    source: image::ImageError,
}

pub fn encode_png(mask: &GrayImage) -> Result<Vec<u8>, EncodeError> {
    let mut png = Vec::new();
    mask.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
    Ok(png)
}
