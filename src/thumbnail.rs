//! Small previews of inputs and masks for the visual report, and the measure of how much a
//! mask changed. Sized so a report of a thousand images stays a few megabytes.

use std::io::Cursor;
use std::path::Path;

use base64::Engine as _;
use image::{GrayImage, ImageDecoder, ImageEncoder, ImageReader, RgbImage};

/// The longest side of every preview, in pixels. Cards show them at this size in CSS pixels:
/// enough to tell a clean silhouette from a blob, small enough for 1,000 cards (see README).
pub const MAX_SIDE: u32 = 128;

/// A mask pixel counts as changed when its value moved by more than this (of 255): small
/// shifts along soft edges are noise, a region that flipped is not.
pub const CHANGE_THRESHOLD: u8 = 32;

/// Inputs larger than this are not decoded for a preview (a report must not run out of memory
/// on a hostile or huge file); their card shows the mask only.
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

const JPEG_QUALITY: u8 = 70;
/// Grey levels kept in a mask's preview: banding is invisible at this size, and a mask of
/// 16 levels deflates to half the bytes of one of 256.
const MASK_LEVELS: u8 = 16;
/// Checkerboard squares, light and dark, as image editors draw transparency.
const CHECKER: u32 = 8;
const CHECKER_LIGHT: f32 = 236.0;
const CHECKER_DARK: f32 = 196.0;

/// The size that fits `width` x `height` within `max` on its longest side, keeping the aspect.
pub fn fit(width: u32, height: u32, max: u32) -> (u32, u32) {
    let longest = width.max(height).max(1);
    if longest <= max {
        return (width.max(1), height.max(1));
    }
    let scale = |side: u32| {
        ((u64::from(side) * u64::from(max) + u64::from(longest) / 2) / u64::from(longest)).max(1)
            as u32
    };
    (scale(width), scale(height))
}

/// Why a file has no preview; its card shows what it can without it.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("cannot preview {}: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot preview {}: {source}", path.display())]
    Decode {
        path: std::path::PathBuf,
        source: image::ImageError,
    },
    #[error("cannot preview {}: the {what} is too large to preview", path.display())]
    TooLarge {
        path: std::path::PathBuf,
        what: &'static str,
    },
}

/// An upright preview of the image at `path`, as viewers show it (EXIF orientation applied).
pub fn photo(path: &Path) -> Result<RgbImage, PreviewError> {
    let mut decoder = open(path)?;
    if decoder.total_bytes() > MAX_DECODE_BYTES {
        return Err(PreviewError::TooLarge {
            path: path.to_owned(),
            what: "image",
        });
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut decoded =
        image::DynamicImage::from_decoder(decoder).map_err(|source| PreviewError::Decode {
            path: path.to_owned(),
            source,
        })?;
    decoded.apply_orientation(orientation);
    let (width, height) = fit(decoded.width(), decoded.height(), MAX_SIDE);
    Ok(image::imageops::thumbnail(
        &decoded.to_rgb8(),
        width,
        height,
    ))
}

/// A preview of the mask file at `path`, as a grey image.
pub fn mask_file(path: &Path) -> Result<GrayImage, PreviewError> {
    let decoder = open(path)?;
    if decoder.total_bytes() > MAX_DECODE_BYTES {
        return Err(PreviewError::TooLarge {
            path: path.to_owned(),
            what: "mask",
        });
    }
    let decoded =
        image::DynamicImage::from_decoder(decoder).map_err(|source| PreviewError::Decode {
            path: path.to_owned(),
            source,
        })?;
    Ok(mask(&decoded.to_luma8()))
}

/// A decoder for the image at `path`, its format guessed from its bytes.
fn open(path: &Path) -> Result<impl ImageDecoder, PreviewError> {
    let read = |source| PreviewError::Read {
        path: path.to_owned(),
        source,
    };
    let decode = |source| PreviewError::Decode {
        path: path.to_owned(),
        source,
    };
    ImageReader::open(path)
        .map_err(read)?
        .with_guessed_format()
        .map_err(read)?
        .into_decoder()
        .map_err(decode)
}

/// A preview of a mask already in memory.
pub fn mask(full: &GrayImage) -> GrayImage {
    let (width, height) = fit(full.width(), full.height(), MAX_SIDE);
    image::imageops::thumbnail(full, width, height)
}

/// The photo cut out by the mask, over a checkerboard: what a user of the mask would get.
pub fn cutout(photo: &RgbImage, mask: &GrayImage) -> RgbImage {
    let mask = same_size(mask, photo.width(), photo.height());
    RgbImage::from_fn(photo.width(), photo.height(), |x, y| {
        let alpha = f32::from(mask.get_pixel(x, y).0[0]) / 255.0;
        let board = if (x / CHECKER + y / CHECKER).is_multiple_of(2) {
            CHECKER_LIGHT
        } else {
            CHECKER_DARK
        };
        let pixel = photo.get_pixel(x, y).0;
        image::Rgb(pixel.map(|c| (f32::from(c) * alpha + board * (1.0 - alpha)).round() as u8))
    })
}

/// The share (0..=1) of pixels whose mask value moved by more than [`CHANGE_THRESHOLD`],
/// compared at the previous preview's size.
pub fn changed_share(previous: &GrayImage, current: &GrayImage) -> f64 {
    let current = same_size(current, previous.width(), previous.height());
    let total = u64::from(previous.width()) * u64::from(previous.height());
    if total == 0 {
        return 0.0;
    }
    let changed = previous
        .pixels()
        .zip(current.pixels())
        .filter(|(a, b)| a.0[0].abs_diff(b.0[0]) > CHANGE_THRESHOLD)
        .count();
    changed as f64 / total as f64
}

fn same_size(mask: &GrayImage, width: u32, height: u32) -> GrayImage {
    if mask.dimensions() == (width, height) {
        mask.clone()
    } else {
        image::imageops::resize(mask, width, height, image::imageops::FilterType::Triangle)
    }
}

/// PNG bytes of a grey preview (masks: lossless keeps their edges honest, and flat areas
/// compress to almost nothing).
pub fn png(image: &GrayImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .expect("encoding to memory cannot fail");
    bytes
}

/// A `data:` URI of a mask's preview, as PNG, in [`MASK_LEVELS`] grey levels.
pub fn png_data_uri(image: &GrayImage) -> String {
    let step = u16::from(255 / (MASK_LEVELS - 1));
    let mut levels = image.clone();
    for pixel in levels.pixels_mut() {
        let level = (u16::from(pixel.0[0]) + step / 2) / step;
        pixel.0[0] = (level * step) as u8;
    }
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new_with_quality(
        &mut bytes,
        image::codecs::png::CompressionType::Best,
        image::codecs::png::FilterType::Adaptive,
    )
    .write_image(
        levels.as_raw(),
        levels.width(),
        levels.height(),
        image::ExtendedColorType::L8,
    )
    .expect("encoding to memory cannot fail");
    data_uri("image/png", &bytes)
}

/// A `data:` URI of a colour preview, as JPEG (photos are a tenth of their PNG size).
pub fn jpeg_data_uri(image: &RgbImage) -> String {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY)
        .encode_image(image)
        .expect("encoding to memory cannot fail");
    data_uri("image/jpeg", &bytes)
}

fn data_uri(mime: &str, bytes: &[u8]) -> String {
    format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_the_aspect_and_never_enlarges() {
        assert_eq!(fit(1600, 1200, 160), (160, 120));
        assert_eq!(fit(300, 1200, 160), (40, 160));
        assert_eq!(fit(100, 50, 160), (100, 50));
        assert_eq!(fit(100_000, 1, 160), (160, 1));
        assert_eq!(fit(0, 0, 160), (1, 1));
    }

    #[test]
    fn changed_share_counts_pixels_past_the_threshold() {
        let previous =
            GrayImage::from_fn(10, 10, |x, _| image::Luma([if x < 5 { 255 } else { 0 }]));
        assert_eq!(changed_share(&previous, &previous), 0.0);
        // A slight shift everywhere is not a change; a flipped column of ten pixels is.
        let mut current = GrayImage::from_fn(10, 10, |x, _| {
            image::Luma([if x < 5 {
                255 - CHANGE_THRESHOLD
            } else {
                CHANGE_THRESHOLD
            }])
        });
        assert_eq!(changed_share(&previous, &current), 0.0);
        for y in 0..10 {
            current.put_pixel(9, y, image::Luma([255]));
        }
        assert!((changed_share(&previous, &current) - 0.1).abs() < 1e-9);
        // A current mask of another size is compared at the previous one's.
        let larger =
            image::imageops::resize(&previous, 20, 20, image::imageops::FilterType::Nearest);
        assert!(changed_share(&previous, &larger) < 0.11);
    }

    #[test]
    fn cutout_shows_the_subject_and_a_checkerboard_elsewhere() {
        let photo = RgbImage::from_pixel(32, 16, image::Rgb([200, 0, 0]));
        let mask = GrayImage::from_fn(32, 16, |x, _| image::Luma([if x < 16 { 255 } else { 0 }]));
        let cut = cutout(&photo, &mask);
        assert_eq!(cut.get_pixel(3, 3).0, [200, 0, 0]);
        assert_eq!(cut.get_pixel(17, 0).0, [236; 3]);
        assert_eq!(cut.get_pixel(25, 0).0, [196; 3]);
    }

    #[test]
    fn data_uris_decode_back() {
        let grey = GrayImage::from_fn(4, 3, |x, _| image::Luma([[0, 17, 128, 255][x as usize]]));
        let uri = png_data_uri(&grey);
        let encoded = uri.strip_prefix("data:image/png;base64,").unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        let decoded = image::load_from_memory(&bytes).unwrap().to_luma8();
        // Kept to 16 levels, multiples of 17: 128 becomes 119 or 136, the rest stay.
        let row: Vec<u8> = decoded.pixels().take(4).map(|p| p.0[0]).collect();
        assert_eq!(row[0], 0);
        assert_eq!(row[1], 17);
        assert!(row[2] == 119 || row[2] == 136, "{row:?}");
        assert_eq!(row[3], 255);
        assert!(jpeg_data_uri(&RgbImage::new(4, 3)).starts_with("data:image/jpeg;base64,"));
    }
}
