//! End to end: hostile and unlucky inputs fail their own image, clearly and within bounded
//! memory, while the rest of the run finishes; outputs that cannot be written fail before
//! any engine runs.

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]
// Notes for whoever reads the test log (a skipped check, a measured difference).
#![allow(clippy::print_stderr)]

mod common;

use common::*;
use serde_json::Value;

/// A baseline JPEG of a few hundred bytes whose frame header declares `width` x `height`.
fn jpeg_declaring(width: u16, height: u16) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::RgbImage::from_pixel(16, 16, image::Rgb([200, 30, 30]))
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    let sof = bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline frame header");
    bytes[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    bytes
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A small, well-formed PNG (every chunk whole, with its checksum) whose header declares an
/// 8-bit RGB image of `width` x `height`; its data holds the first `rows` rows only.
fn png_declaring(width: u32, height: u32, rows: usize) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    // zlib with stored blocks: raw rows (filter byte 0, then black pixels).
    let raw = vec![0u8; rows * (1 + 3 * width as usize)];
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        zlib.extend_from_slice(&(block.len() as u16).to_le_bytes());
        zlib.extend_from_slice(&(!(block.len() as u16)).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    if blocks.is_empty() {
        zlib.extend_from_slice(&[1, 0, 0, 0xFF, 0xFF]);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    png_chunk(&mut out, b"IDAT", &zlib);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// The largest resident set of any child this test process has waited for, in bytes.
/// Children of other tests count too, which can only make a bound stricter.
fn peak_rss_of_children() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given and reads nothing else.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    assert_eq!(rc, 0);
    // SAFETY: initialized by the successful call above.
    let max = unsafe { usage.assume_init() }.ru_maxrss as u64;
    // Linux reports kilobytes, macOS bytes.
    if cfg!(target_os = "macos") {
        max
    } else {
        max * 1024
    }
}

fn failed_errors(events: &[Value]) -> Vec<(String, String)> {
    let mut failed: Vec<(String, String)> = events_of(events, "failed")
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().to_owned(),
                e["error"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    failed.sort();
    failed
}

fn lock(root: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(root.join("maskflow.lock")).unwrap()).unwrap()
}

const ONE_GB: u64 = 1 << 30;

#[test]
fn decompression_bombs_fail_alone_within_bounded_memory() {
    let dir = scratch(&["chelsea.png"]);
    let root = dir.path();
    let jpeg = jpeg_declaring(65_000, 65_000);
    assert!(jpeg.len() < 1024, "{} bytes", jpeg.len());
    std::fs::write(root.join("photos/huge.jpg"), &jpeg).unwrap();
    std::fs::write(
        root.join("photos/wide.png"),
        png_declaring(30_000, 30_000, 1),
    )
    .unwrap();
    std::fs::write(
        root.join("photos/vast.png"),
        png_declaring(60_000, 60_000, 1),
    )
    .unwrap();
    write(
        root,
        "maskflow.yaml",
        "version: 1\nimages:\n  - glob: \"photos/*.png\"\n  - input: photos/huge.jpg\n",
    );

    let events = apply(root, &["--jobs", "2"], 1);
    let peak = peak_rss_of_children();
    assert!(peak < ONE_GB, "a run of three bombs peaked at {peak} bytes");
    let finished: Vec<_> = events_of(&events, "finished")
        .iter()
        .map(|e| e["key"].clone())
        .collect();
    assert_eq!(
        finished,
        vec!["masks/chelsea.png"],
        "the normal image succeeds"
    );
    let failed = failed_errors(&events);
    let expected = [
        ("masks/huge.png", "photos/huge.jpg is 65000x65000"),
        ("masks/vast.png", "photos/vast.png is 60000x60000"),
        ("masks/wide.png", "photos/wide.png is 30000x30000"),
    ];
    assert_eq!(failed.len(), expected.len(), "{failed:?}");
    for ((key, error), (expected_key, says)) in failed.iter().zip(expected) {
        assert_eq!(key, expected_key);
        assert!(error.contains(says), "{key}: {error}");
        assert!(
            error.contains("over the limit of 100000000 pixels"),
            "{key}: {error}"
        );
        assert!(
            error.contains("limits.max_pixels"),
            "the hint says how: {error}"
        );
    }
    let lock = lock(root);
    for (key, _) in expected {
        let job = &lock["images"][key]["job"];
        assert_eq!(job["state"], "failed", "{key} is recorded as failed");
    }
    assert!(!root.join("masks/huge.png").exists());

    // The limit is a setting: lowered below the normal photograph, that fails too.
    write(
        root,
        "maskflow.yaml",
        "version: 1\nlimits:\n  max_pixels: 100000\nimages:\n  - input: photos/chelsea.png\n",
    );
    let events = apply(root, &["--force", "*"], 1);
    let failed = failed_errors(&events);
    assert!(
        failed[0]
            .1
            .contains("451x300 pixels, over the limit of 100000"),
        "{failed:?}"
    );
    // And the command line overrides the manifest.
    let events = apply(root, &["--force", "*", "--max-pixels", "200000"], 0);
    assert_eq!(summary(&events)["updated"], 1);
}

#[test]
fn truncated_and_damaged_images_fail_instead_of_making_a_mask() {
    let dir = scratch(&["rocket.jpg", "horse.png", "camera.png"]);
    let root = dir.path();
    let photos = root.join("photos");
    let jpeg = std::fs::read(photos.join("rocket.jpg")).unwrap();
    std::fs::write(photos.join("half.jpg"), &jpeg[..jpeg.len() / 2]).unwrap();
    let png = std::fs::read(photos.join("horse.png")).unwrap();
    std::fs::write(photos.join("cut.png"), &png[..png.len() * 2 / 3]).unwrap();
    // Every pixel row present, only the end marker gone.
    std::fs::write(photos.join("endless.png"), &png[..png.len() - 12]).unwrap();
    let mut flipped = png.clone();
    let middle = png.len() / 2;
    flipped[middle] ^= 0x55;
    std::fs::write(photos.join("flipped.png"), &flipped).unwrap();
    std::fs::remove_file(photos.join("horse.png")).unwrap();
    write(
        root,
        "maskflow.yaml",
        "version: 1\nimages:\n  - glob: \"photos/*.png\"\n  - input: photos/half.jpg\n",
    );

    let events = apply(root, &[], 1);
    let finished: Vec<_> = events_of(&events, "finished")
        .iter()
        .map(|e| e["key"].clone())
        .collect();
    assert_eq!(finished, vec!["masks/camera.png"]);
    let failed = failed_errors(&events);
    let keys: Vec<&str> = failed.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "masks/cut.png",
            "masks/endless.png",
            "masks/flipped.png",
            "masks/half.png"
        ]
    );
    for (key, error) in &failed {
        let input = key.replace("masks/", "photos/");
        let input = if key.ends_with("half.png") {
            input.replace(".png", ".jpg")
        } else {
            input
        };
        assert!(error.contains(&input), "names the image: {error}");
        assert!(error.contains("truncated or damaged"), "{key}: {error}");
        assert!(!root.join(key).exists(), "no mask for {key}");
    }
}

#[test]
fn impossible_output_paths_fail_validate_at_their_line() {
    let dir = scratch(&["chelsea.png"]);
    let root = dir.path();
    let long = "n".repeat(300);
    write(
        root,
        "maskflow.yaml",
        &format!(
            "version: 1\nimages:\n  - input: photos/chelsea.png\n    output: \"masks/a\\0b.png\"\n  - input: photos/chelsea.png\n    name: other\n    output: masks/{long}.png\n"
        ),
    );
    let output = run(root, &["validate"]);
    let text = stderr(&output);
    assert_eq!(code(&output), 1, "{text}");
    assert!(text.contains("maskflow.yaml:4:13"), "{text}");
    assert!(text.contains("NUL character"), "{text}");
    assert!(text.contains("maskflow.yaml:7:13"), "{text}");
    assert!(text.contains("name of 304 bytes"), "{text}");
    assert!(!text.contains("panicked"), "{text}");

    let deep = "d/".repeat(2100);
    write(
        root,
        "maskflow.yaml",
        &format!("version: 1\nimages:\n  - input: photos/chelsea.png\n    output: {deep}a.png\n"),
    );
    let output = run(root, &["validate"]);
    let text = stderr(&output);
    assert_eq!(code(&output), 1, "{text}");
    assert!(text.contains("maskflow.yaml:4:13"), "{text}");
    assert!(text.contains("the system allows"), "{text}");
}

/// Makes `dir` read-only, even for root where the filesystem allows it (`chattr +i`);
/// returns false where neither binds.
fn make_read_only(dir: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let writable = || {
        let probe = dir.join("probe");
        let ok = std::fs::write(&probe, b"").is_ok();
        let _ = std::fs::remove_file(&probe);
        ok
    };
    if writable() {
        let _ = std::process::Command::new("chattr")
            .arg("+i")
            .arg(dir)
            .status();
    }
    !writable()
}

fn make_writable(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::process::Command::new("chattr")
        .arg("-i")
        .arg(dir)
        .stderr(std::process::Stdio::null())
        .status();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_read_only_masks_folder_fails_before_any_engine_runs() {
    let dir = scratch(&["chelsea.png", "horse.png"]);
    let root = dir.path();
    write(root, "maskflow.yaml", EVERY_PNG);
    let masks = root.join("masks");
    std::fs::create_dir(&masks).unwrap();
    if !make_read_only(&masks) {
        eprintln!("skipped: cannot make a folder read-only here");
        return;
    }
    let output = run(root, &["apply", "--format", "json"]);
    make_writable(&masks);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let events = events(&output);
    assert!(
        events_of(&events, "apply_started").is_empty() && events_of(&events, "started").is_empty(),
        "no image was started: {events:?}"
    );
    let error = events_of(&events, "error");
    let message = error[0]["message"].as_str().unwrap();
    assert!(message.contains("cannot write masks to"), "{message}");
    assert!(message.contains("masks"), "{message}");
    assert!(!message.contains(".maskflow-tmp-"), "{message}");
    assert_eq!(files(&masks), Vec::<String>::new());

    // Writable again, the same run succeeds.
    let events = apply(root, &[], 0);
    assert_eq!(summary(&events)["created"], 2);
}

#[test]
fn a_mask_that_cannot_be_written_stores_no_temporary_path() {
    let dir = scratch(&["chelsea.png", "horse.png"]);
    let root = dir.path();
    write(root, "maskflow.yaml", EVERY_PNG);
    // A folder where the mask should go: the write fails after the model ran.
    std::fs::create_dir_all(root.join("masks/horse.png/inside")).unwrap();
    let events = apply(root, &[], 1);
    assert_eq!(summary(&events)["created"], 1);
    let failed = failed_errors(&events);
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0].1.starts_with("cannot write masks/horse.png: "),
        "{failed:?}"
    );
    let stored = lock(root)["images"]["masks/horse.png"]["job"]["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(stored, failed[0].1);
    for leak in [".maskflow-tmp-", "/tmp", ".tmp"] {
        assert!(!stored.contains(leak), "{stored}");
    }
    let names: Vec<String> = files(root)
        .into_iter()
        .filter(|f| f.contains(".maskflow-tmp-"))
        .collect();
    assert!(names.is_empty(), "no temporary file is left: {names:?}");
}
