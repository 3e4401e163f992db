//! Times one model file on the local engine per image, model loaded, and writes its masks,
//! for bench/models.sh.
//!
//!   cargo bench --bench models -- --model FILE --out DIR [--runs N] [--warmup W]
//!       [--threads T] [--runtime rten|onnxruntime] IMAGE...
//!
//! The file must be a known model (`maskflow models`): its recipe comes from the table.
//! Prints one JSON line per image:
//! {"runtime":"maskflow","model":..,"image":..,"median_ms":..,"runs":N,"threads":T}
//! and writes DIR/<stem>.png, the soft mask, for the parity comparison.

// A benchmark program: it prints its measurements, and a failed step ends the measurement.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

use std::time::Instant;

use maskflow::engine::runtime::{self, RuntimeKind};
use maskflow::models::{ModelSource, ModelSpec, known, sha256_hex};

fn main() {
    let (mut runs, mut warmup, mut threads) = (3usize, 1usize, 1usize);
    let (mut model, mut out, mut images) = (None, None, Vec::new());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| panic!("{name} needs a value"))
        };
        match arg.as_str() {
            "--runs" => runs = value("--runs").parse().expect("--runs: a number"),
            "--warmup" => warmup = value("--warmup").parse().expect("--warmup: a number"),
            "--threads" => threads = value("--threads").parse().expect("--threads: a number"),
            "--model" => model = Some(value("--model")),
            "--runtime" => {
                let name = value("--runtime");
                let kind = RuntimeKind::ALL
                    .into_iter()
                    .find(|k| k.as_str() == name)
                    .unwrap_or_else(|| panic!("--runtime: rten or onnxruntime, not {name}"));
                runtime::select(kind);
            }
            "--out" => out = Some(std::path::PathBuf::from(value("--out"))),
            // libtest passes --bench to harness-less benches.
            "--bench" => {}
            other => images.push(other.to_owned()),
        }
    }
    let model = model.expect("--model FILE");
    let out = out.expect("--out DIR");
    std::fs::create_dir_all(&out).unwrap();
    let sha256 = sha256_hex(&std::fs::read(&model).expect("the model file reads"));
    let known = known::by_sha256(&sha256)
        .unwrap_or_else(|| panic!("{model} (sha256 {sha256}) is not a known model"));
    let spec = ModelSpec {
        source: ModelSource::File {
            path: model.clone().into(),
            shown: model.clone(),
        },
        sha256,
        recipe: known.recipe,
        known: Some(known),
    };
    maskflow::engine::set_threads_per_job(threads);
    let started = Instant::now();
    let loaded = maskflow::models::load(&spec).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "maskflow: {} loaded in {:.0} ms",
        known.name,
        started.elapsed().as_secs_f64() * 1000.0
    );
    for path in images {
        // As in the reference: no EXIF orientation, alpha dropped, grey replicated.
        let rgb = image::open(&path).expect("image decodes").to_rgb8();
        for _ in 0..warmup {
            loaded.soft_mask(&rgb).unwrap();
        }
        let mut mask = None;
        let mut times: Vec<f64> = (0..runs.max(1))
            .map(|_| {
                let start = Instant::now();
                mask = Some(loaded.soft_mask(&rgb).unwrap());
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let stem = std::path::Path::new(&path)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        mask.unwrap().save(out.join(format!("{stem}.png"))).unwrap();
        println!(
            "{{\"runtime\":\"maskflow-{}\",\"model\":\"{}\",\"image\":\"{}\",\"median_ms\":{median:.3},\"runs\":{runs},\"threads\":{threads}}}",
            runtime::selected().as_str(),
            known.name,
            std::path::Path::new(&path)
                .file_name()
                .unwrap()
                .to_string_lossy()
        );
    }
}
