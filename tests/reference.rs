//! The local engine against the reference recipe (Python + onnxruntime + Pillow), whose masks
//! `scripts/reference_masks.py` wrote to tests/data/reference/. Every runtime this build
//! offers is checked (`--features onnxruntime` adds onnxruntime, which then must load).

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]
// Notes for whoever reads the test log (a skipped check, a measured difference).
#![allow(clippy::print_stderr)]

use maskflow::engine::local::LocalEngine;
use maskflow::engine::runtime::RuntimeKind;

/// One engine per runtime compiled in.
fn engines() -> Vec<(RuntimeKind, LocalEngine)> {
    RuntimeKind::ALL
        .into_iter()
        .filter(|kind| kind.compiled_in())
        .map(|kind| {
            let engine = LocalEngine::load(kind)
                .unwrap_or_else(|e| panic!("the embedded model loads with {kind}: {e}"));
            (kind, engine)
        })
        .collect()
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> (f64, u8) {
    assert_eq!(a.len(), b.len());
    let total: u64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    let max = a
        .iter()
        .zip(b)
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap_or(0);
    (total as f64 / a.len() as f64, max)
}

fn compare(engine: &LocalEngine, name: &str) -> (f64, u8) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // As in the reference: no EXIF orientation, alpha dropped, grey replicated.
    let rgb = image::open(root.join("examples/photos").join(name))
        .unwrap()
        .to_rgb8();
    let ours = engine.soft_mask(&rgb).unwrap();
    let stem = std::path::Path::new(name)
        .file_stem()
        .unwrap()
        .to_string_lossy();
    let reference = image::open(root.join(format!("tests/data/reference/{stem}.png")))
        .unwrap()
        .to_luma8();
    assert_eq!(ours.dimensions(), reference.dimensions(), "{name}");
    mean_abs_diff(ours.as_raw(), reference.as_raw())
}

#[test]
fn png_masks_match_the_reference_recipe() {
    let engines = engines();
    for name in [
        "astronaut.png",
        "camera.png",
        "chelsea.png",
        "coffee.png",
        "horse.png",
    ] {
        for (runtime, engine) in &engines {
            let (mean, max) = compare(engine, name);
            eprintln!("{runtime} {name}: mean abs diff {mean:.4}, max {max}");
            assert!(
                mean <= 0.05,
                "{runtime} {name}: mean abs diff {mean} > 0.05 grey levels"
            );
        }
    }
}

#[test]
fn jpeg_masks_differ_only_by_the_decoder() {
    // JPEG decoders differ by a level or two per pixel, which the recipe's divide-by-max
    // amplifies; the bound is loose on purpose but still catches a wrong recipe.
    for (runtime, engine) in &engines() {
        let (mean, max) = compare(engine, "rocket.jpg");
        eprintln!("{runtime} rocket.jpg: mean abs diff {mean:.4}, max {max}");
        assert!(mean <= 1.0, "{runtime} rocket.jpg: mean abs diff {mean}");
    }
}
