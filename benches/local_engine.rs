//! Times the local engine per image, model loaded, for bench/local_engine.sh.
//!
//!   cargo bench --bench local_engine -- [--runs N] [--warmup W] [--threads T] IMAGE...
//!
//! Prints one JSON line per image: {"runtime":"rten","image":..,"median_ms":..,"runs":N,"threads":T}.
//! The timed work matches the reference's: preprocess + inference + postprocess of decoded pixels.

// A benchmark program: it prints its measurements, and a failed step ends the measurement.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

use std::time::Instant;

use maskflow::engine::local::LocalEngine;

fn main() {
    let mut runs = 10usize;
    let mut warmup = 2usize;
    let mut threads = 1usize;
    let mut images = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match arg.as_str() {
            "--runs" => runs = number("--runs"),
            "--warmup" => warmup = number("--warmup"),
            "--threads" => threads = number("--threads"),
            // libtest passes --bench to harness-less benches.
            "--bench" => {}
            other => images.push(other.to_owned()),
        }
    }
    if images.is_empty() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/photos");
        let mut found: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "png" || e == "jpg"))
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        found.sort();
        images = found;
    }
    maskflow::engine::set_threads_per_job(threads);
    let engine = LocalEngine::shared().expect("model loads");
    for path in images {
        let rgb = image::open(&path).expect("image decodes").to_rgb8();
        for _ in 0..warmup {
            engine.soft_mask(&rgb).unwrap();
        }
        let mut times: Vec<f64> = (0..runs.max(1))
            .map(|_| {
                let start = Instant::now();
                engine.soft_mask(&rgb).unwrap();
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let name = std::path::Path::new(&path)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        println!(
            "{}",
            serde_json::json!({"runtime": "rten", "image": name, "median_ms": median, "runs": times.len(), "threads": threads})
        );
    }
}
