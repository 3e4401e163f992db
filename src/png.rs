//! Masks as PNG bytes, the one format maskflow writes (and the emulator serves).

use image::GrayImage;

pub fn encode_png(mask: &GrayImage) -> Result<Vec<u8>, String> {
    let mut png = Vec::new();
    mask.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| format!("cannot encode the mask as PNG: {e}"))?;
    Ok(png)
}
