//! Decoding inputs into the 8-bit RGB the model expects, within a memory bound.
//!
//! Every input is hostile until its header says otherwise: the dimensions are read and checked
//! against `max_pixels` before a pixel buffer exists, the decoders get matching `Limits`, and
//! a file that ends early or fails its checks is an error, never a partly grey picture.

use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageFormat, Limits, RgbImage};

use super::EngineError;

pub use crate::manifest::DEFAULT_MAX_PIXELS;

/// Bytes a decoder may hold per pixel at once: the output buffer of the widest colour type we
/// accept (16-bit RGBA, 8 bytes) plus a progressive JPEG's coefficients (3 x i16 per pixel,
/// which an 8-bit RGB output buffer of 3 bytes keeps within the same 9).
const DECODER_BYTES_PER_PIXEL: u64 = 9;

/// What decoders may allocate beyond the pixels: metadata chunks, Huffman tables, row buffers.
const DECODER_OVERHEAD_BYTES: u64 = 64 << 20;

/// How much one image may cost to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Inputs with more pixels (width x height) fail before they are decoded.
    pub max_pixels: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_pixels: DEFAULT_MAX_PIXELS,
        }
    }
}

impl DecodeLimits {
    /// The `image` crate's limits that agree with ours: no side longer than the whole pixel
    /// budget, and no more allocated than the widest colour type of that many pixels needs.
    fn image_limits(self) -> Limits {
        let side = u32::try_from(self.max_pixels).unwrap_or(u32::MAX);
        let mut limits = Limits::no_limits();
        limits.max_image_width = Some(side);
        limits.max_image_height = Some(side);
        limits.max_alloc = Some(
            self.max_pixels
                .saturating_mul(DECODER_BYTES_PER_PIXEL)
                .saturating_add(DECODER_OVERHEAD_BYTES),
        );
        limits
    }

    fn check(self, path: &Path, width: u32, height: u32) -> Result<(), EngineError> {
        let pixels = u64::from(width) * u64::from(height);
        if width == 0 || height == 0 {
            return Err(EngineError::Damaged {
                path: path.to_owned(),
                format: "image header",
                reason: format!("it declares {width}x{height} pixels"),
            });
        }
        if pixels > self.max_pixels {
            return Err(EngineError::TooLarge {
                path: path.to_owned(),
                width,
                height,
                max_pixels: self.max_pixels,
            });
        }
        Ok(())
    }
}

/// Decodes the bytes of `path` (PNG or JPEG; grey, RGBA, 16-bit or palette) as upright 8-bit RGB.
///
/// EXIF orientation is applied so the mask lines up with the image as viewers show it. Alpha
/// is dropped rather than composited, as Pillow's `convert("RGB")` does in the reference.
pub fn decode_rgb(
    path: &Path,
    bytes: &[u8],
    limits: DecodeLimits,
) -> Result<RgbImage, EngineError> {
    match image::guess_format(bytes) {
        Ok(ImageFormat::Jpeg) => decode_jpeg(path, bytes, limits),
        Ok(ImageFormat::Png) => decode_png(path, bytes, limits),
        Ok(format) => Err(EngineError::Decode {
            path: path.to_owned(),
            source: image::ImageError::Unsupported(
                image::error::UnsupportedError::from_format_and_kind(
                    format.into(),
                    image::error::UnsupportedErrorKind::Format(format.into()),
                ),
            ),
        }),
        Err(source) => Err(EngineError::Decode {
            path: path.to_owned(),
            source,
        }),
    }
}

/// JPEGs go to zune-jpeg directly, in strict mode: through `image` it runs leniently and
/// fills whatever a truncated or damaged file lacks with grey. Asking for RGB output makes
/// the decoder write the model's input format straight away, with no second copy.
fn decode_jpeg(path: &Path, bytes: &[u8], limits: DecodeLimits) -> Result<RgbImage, EngineError> {
    use zune_core::bytestream::ZCursor;
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions;

    let damaged = |error: zune_jpeg::errors::DecodeErrors| EngineError::Damaged {
        path: path.to_owned(),
        format: "JPEG",
        reason: error.to_string(),
    };
    let side = usize::try_from(limits.max_pixels).unwrap_or(usize::MAX);
    let options = DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(side)
        .set_max_height(side)
        .jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode_headers().map_err(damaged)?;
    let (width, height) = decoder
        .dimensions()
        .map(|(w, h)| (w as u32, h as u32))
        .expect("headers were decoded");
    limits.check(path, width, height)?;
    let mut image_limits = limits.image_limits();
    let decode_error = |source| EngineError::Decode {
        path: path.to_owned(),
        source,
    };
    image_limits
        .check_dimensions(width, height)
        .map_err(decode_error)?;
    let size = decoder.output_buffer_size().expect("headers were decoded");
    image_limits.reserve_usize(size).map_err(decode_error)?;
    let orientation = decoder
        .exif()
        .and_then(|exif| image::metadata::Orientation::from_exif_chunk(exif))
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut pixels = vec![0u8; size];
    decoder.decode_into(&mut pixels).map_err(damaged)?;
    let rgb = RgbImage::from_raw(width, height, pixels).expect("sized for RGB by the decoder");
    Ok(upright(rgb, orientation))
}

fn decode_png(path: &Path, bytes: &[u8], limits: DecodeLimits) -> Result<RgbImage, EngineError> {
    let decode_error = |source| EngineError::Decode {
        path: path.to_owned(),
        source,
    };
    let mut image_limits = limits.image_limits();
    let mut decoder = image::codecs::png::PngDecoder::with_limits(
        std::io::Cursor::new(bytes),
        image_limits.clone(),
    )
    .map_err(|source| match source {
        // The header's dimensions beat the decoder's generic "limits exceeded".
        image::ImageError::Limits(_) => png_dimensions(bytes)
            .and_then(|(w, h)| limits.check(path, w, h).err())
            .unwrap_or_else(|| decode_error(source)),
        source => png_failure(path, source),
    })?;
    let (width, height) = decoder.dimensions();
    limits.check(path, width, height)?;
    // The decoder stops at the last row it needs; a file cut after that, or with a chunk
    // whose checksum fails, is still damaged and may be missing more than we can see.
    check_png_chunks(bytes).map_err(|damage| EngineError::Damaged {
        path: path.to_owned(),
        format: "PNG",
        reason: damage.to_string(),
    })?;
    image_limits
        .reserve(decoder.total_bytes())
        .map_err(decode_error)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(|source| png_failure(path, source))?;
    Ok(upright(into_rgb8(image), orientation))
}

/// Decodes a mask a service sent (PNG or JPEG) as 8-bit grey, under the same limits as inputs.
pub fn decode_gray(
    path: &Path,
    bytes: &[u8],
    limits: DecodeLimits,
) -> Result<image::GrayImage, EngineError> {
    decode_service_image(path, bytes, limits).map(DynamicImage::into_luma8)
}

/// Decodes a cutout a service sent as 8-bit RGBA, under the same limits as inputs.
pub fn decode_rgba(
    path: &Path,
    bytes: &[u8],
    limits: DecodeLimits,
) -> Result<image::RgbaImage, EngineError> {
    decode_service_image(path, bytes, limits).map(DynamicImage::into_rgba8)
}

fn decode_service_image(
    path: &Path,
    bytes: &[u8],
    limits: DecodeLimits,
) -> Result<DynamicImage, EngineError> {
    let decode_error = |source| EngineError::Decode {
        path: path.to_owned(),
        source,
    };
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .expect("reading from memory cannot fail");
    reader.limits(limits.image_limits());
    let decoder = reader.into_decoder().map_err(decode_error)?;
    let (width, height) = decoder.dimensions();
    limits.check(path, width, height)?;
    let mut image_limits = limits.image_limits();
    image_limits
        .reserve(decoder.total_bytes())
        .map_err(decode_error)?;
    DynamicImage::from_decoder(decoder).map_err(decode_error)
}

/// A file that starts like a PNG and then fails to decode is truncated or damaged; anything
/// else (an unsupported colour type, say) keeps the decoder's own words.
fn png_failure(path: &Path, source: image::ImageError) -> EngineError {
    match source {
        image::ImageError::Decoding(_) | image::ImageError::IoError(_) => EngineError::Damaged {
            path: path.to_owned(),
            format: "PNG",
            reason: source.to_string(),
        },
        source => EngineError::Decode {
            path: path.to_owned(),
            source,
        },
    }
}

/// RGB without a second full-size buffer where the bytes allow: RGB8 is taken as is and RGBA8
/// (the usual PNG) is packed in place; other types convert, and their original is dropped
/// right after.
fn into_rgb8(image: DynamicImage) -> RgbImage {
    match image {
        DynamicImage::ImageRgba8(rgba) => {
            let (width, height) = rgba.dimensions();
            let mut pixels = rgba.into_raw();
            let count = pixels.len() / 4;
            for i in 0..count {
                pixels.copy_within(i * 4..i * 4 + 3, i * 3);
            }
            pixels.truncate(count * 3);
            pixels.shrink_to_fit();
            RgbImage::from_raw(width, height, pixels).expect("3 bytes for each pixel")
        }
        other => other.into_rgb8(),
    }
}

/// Applies the EXIF orientation; flips and half turns happen in place.
fn upright(rgb: RgbImage, orientation: image::metadata::Orientation) -> RgbImage {
    if orientation == image::metadata::Orientation::NoTransforms {
        return rgb;
    }
    let mut image = DynamicImage::ImageRgb8(rgb);
    image.apply_orientation(orientation);
    image.into_rgb8()
}

/// The width and height an IHDR chunk declares, if the bytes start like a PNG.
fn png_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.len() < 24 || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    Some((word(16), word(20)))
}

/// What is wrong with a PNG's chunks.
#[derive(Debug, thiserror::Error)]
enum PngDamage {
    #[error("no PNG signature")]
    NoSignature,
    #[error("the file ends after {length} bytes, before the IEND chunk: it is truncated")]
    EndsBeforeIend { length: usize },
    #[error("a chunk declares an impossible length")]
    ImpossibleLength,
    #[error("the file ends after {length} bytes, inside its {chunk} chunk: it is truncated")]
    EndsInsideChunk { length: usize, chunk: String },
    #[error("the checksum of its {chunk} chunk at byte {at} does not match: the file is damaged")]
    Checksum { chunk: String, at: usize },
}

/// Walks the chunks of a PNG: each must be whole, with a matching CRC, up to `IEND`.
/// Bytes after `IEND` are allowed, as every viewer ignores them.
fn check_png_chunks(bytes: &[u8]) -> Result<(), PngDamage> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !bytes.starts_with(SIGNATURE) {
        return Err(PngDamage::NoSignature);
    }
    let mut at = SIGNATURE.len();
    loop {
        let Some(header) = bytes.get(at..at + 8) else {
            return Err(PngDamage::EndsBeforeIend {
                length: bytes.len(),
            });
        };
        let length = u32::from_be_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let kind = &header[4..8];
        let Some(end) = (at + 8).checked_add(length).and_then(|e| e.checked_add(4)) else {
            return Err(PngDamage::ImpossibleLength);
        };
        let Some(chunk) = bytes.get(at + 4..end) else {
            return Err(PngDamage::EndsInsideChunk {
                length: bytes.len(),
                chunk: String::from_utf8_lossy(kind).into_owned(),
            });
        };
        let (typed_data, crc) = chunk.split_at(chunk.len() - 4);
        if crc32fast::hash(typed_data).to_be_bytes() != crc {
            return Err(PngDamage::Checksum {
                chunk: String::from_utf8_lossy(kind).into_owned(),
                at,
            });
        }
        if kind == b"IEND" {
            return Ok(());
        }
        at = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        image::RgbaImage::from_pixel(width, height, image::Rgba([10, 20, 30, 255]))
            .write_to(&mut std::io::Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        bytes
    }

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 5) as u8, 90])
        })
        .write_to(&mut std::io::Cursor::new(&mut bytes), ImageFormat::Jpeg)
        .unwrap();
        bytes
    }

    #[test]
    fn rgba_is_packed_to_rgb_in_place() {
        let rgb = decode_rgb(Path::new("a.png"), &png(5, 3), DecodeLimits::default()).unwrap();
        assert_eq!(rgb.dimensions(), (5, 3));
        assert!(rgb.pixels().all(|p| p.0 == [10, 20, 30]));
    }

    #[test]
    fn images_over_the_pixel_cap_fail_before_decoding() {
        let limits = DecodeLimits { max_pixels: 99 };
        for (name, bytes) in [("a.png", png(10, 10)), ("a.jpg", jpeg(10, 10))] {
            match decode_rgb(Path::new(name), &bytes, limits) {
                Err(EngineError::TooLarge {
                    width: 10,
                    height: 10,
                    max_pixels: 99,
                    ..
                }) => {}
                other => panic!("{name}: {other:?}"),
            }
            assert!(decode_rgb(Path::new(name), &bytes, DecodeLimits { max_pixels: 100 }).is_ok());
        }
    }

    #[test]
    fn truncated_or_damaged_files_are_errors() {
        let whole = png(64, 64);
        for cut in [whole.len() - 12, whole.len() / 2, 40] {
            let error = decode_rgb(Path::new("a.png"), &whole[..cut], DecodeLimits::default());
            assert!(
                matches!(error, Err(EngineError::Damaged { .. })),
                "{cut}: {error:?}"
            );
        }
        let mut flipped = whole.clone();
        let last_data = whole.len() - 20;
        flipped[last_data] ^= 0xFF;
        assert!(decode_rgb(Path::new("a.png"), &flipped, DecodeLimits::default()).is_err());

        let whole = jpeg(64, 64);
        assert!(decode_rgb(Path::new("a.jpg"), &whole, DecodeLimits::default()).is_ok());
        let half = &whole[..whole.len() / 2];
        let error = decode_rgb(Path::new("a.jpg"), half, DecodeLimits::default());
        assert!(
            matches!(error, Err(EngineError::Damaged { .. })),
            "{error:?}"
        );
    }
}
