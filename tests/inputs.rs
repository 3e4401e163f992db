//! Input formats the local engine must take: grey, RGBA, 16-bit, JPEG with EXIF orientation.

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

/// `jpeg` with an EXIF APP1 segment saying "rotate 90° clockwise to display" (orientation 6).
fn with_exif_orientation(jpeg: &[u8], orientation: u8) -> Vec<u8> {
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "a JPEG starts with SOI");
    // TIFF header (little endian) + one IFD entry: tag 0x0112, SHORT, count 1, value.
    let mut tiff = vec![b'I', b'I', 42, 0, 8, 0, 0, 0, 1, 0];
    tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, orientation, 0, 0, 0]);
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&tiff);
    let length = (payload.len() + 2) as u16;
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn grey_rgba_sixteen_bit_and_rotated_jpeg_inputs_all_mask() {
    let dir = scratch(&["camera.png", "horse.png"]);
    let root = dir.path();
    let camera = image::open(root.join("photos/camera.png")).unwrap();
    assert_eq!(
        camera.color(),
        image::ColorType::L8,
        "camera.png is the grey example"
    );
    assert_eq!(
        image::open(root.join("photos/horse.png")).unwrap().color(),
        image::ColorType::Rgba8
    );
    image::DynamicImage::ImageLuma16(camera.to_luma16())
        .save(root.join("photos/camera16.png"))
        .unwrap();
    let rocket = std::fs::read(repo().join("examples/photos/rocket.jpg")).unwrap();
    std::fs::write(
        root.join("photos/rotated.jpg"),
        with_exif_orientation(&rocket, 6),
    )
    .unwrap();
    write(
        root,
        "maskflow.yaml",
        "version: 1\nimages:\n  - glob: \"photos/*\"\n",
    );

    let events = apply(root, &[], 0);
    assert_eq!(summary(&events)["created"], 4);
    let size = |name: &str| {
        let mask = image::open(root.join("masks").join(name)).unwrap();
        assert_eq!(mask.color(), image::ColorType::L8);
        (mask.width(), mask.height())
    };
    assert_eq!(size("camera.png"), (512, 512));
    assert_eq!(size("camera16.png"), (512, 512));
    assert_eq!(size("horse.png"), (400, 328));
    // The 640x427 landscape photo displays as 427x640 portrait; its mask lines up with that.
    assert_eq!(size("rotated.png"), (427, 640));

    // 16-bit input scaled to 8 bits is the same picture: the masks agree closely.
    let eight = image::open(root.join("masks/camera.png"))
        .unwrap()
        .to_luma8();
    let sixteen = image::open(root.join("masks/camera16.png"))
        .unwrap()
        .to_luma8();
    let diff: u64 = eight
        .pixels()
        .zip(sixteen.pixels())
        .map(|(a, b)| u64::from(a.0[0].abs_diff(b.0[0])))
        .sum();
    assert!(
        (diff as f64 / (512.0 * 512.0)) < 1.0,
        "mean difference {diff}"
    );
}
