//! Measures the recording layer of `apply` (the lockfile and its journal) for bench/lock_journal.sh.
//!
//!   cargo bench --bench lock_journal -- [--images N]... [--old N]... [--dir DIR]
//!
//! For each `--images N`, records N synthetic (realistically sized) entries one at a time
//! through `LockStore::record`, as `apply` does after each finished image, then folds them
//! with `save`, as `apply` does at the end. For each `--old N`, does what maskflow did
//! before the journal: insert and rewrite the whole lockfile after every image.
//! Prints one JSON line per run:
//!   {"mode":"journal"|"rewrite","images":N,"bytes_written":..,"bytes_per_image":..,
//!    "us_per_image":..,"lock_bytes":..}
//! `bytes_written` is what the process handed to write(2) (`wchar` of /proc/self/io), so
//! lockfile rewrites, journal appends and temporary files all count. Every record is
//! fsynced, as in a real run, so the folder should be on the disk a real run uses.

// A benchmark program: it prints its measurements, and a failed step ends the measurement.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use maskflow::lock::{
    InputRecord, JobRecord, JobState, LockEntry, LockStore, Origin, OutputRecord,
};

fn main() {
    let mut journal_runs = Vec::new();
    let mut old_runs = Vec::new();
    let mut dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target"));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| panic!("{name} needs a value"))
        };
        let mut number = |name: &str| -> usize {
            value(name)
                .parse()
                .unwrap_or_else(|_| panic!("{name} needs a number"))
        };
        match arg.as_str() {
            "--images" => journal_runs.push(number("--images")),
            "--old" => old_runs.push(number("--old")),
            "--dir" => dir = PathBuf::from(value("--dir")),
            // libtest passes --bench to harness-less benches.
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    if journal_runs.is_empty() && old_runs.is_empty() {
        journal_runs = vec![1_000, 10_000];
        old_runs = vec![250, 1_000];
    }
    std::fs::create_dir_all(&dir).expect("bench folder");
    for images in journal_runs {
        run(&dir, "journal", images, |store, key, entry| {
            store.record(key, entry).unwrap();
        });
    }
    for images in old_runs {
        run(&dir, "rewrite", images, |store, key, entry| {
            store.lock.images.insert(key.to_owned(), entry);
            store.save().unwrap();
        });
    }
}

fn run(
    dir: &Path,
    mode: &str,
    images: usize,
    mut one: impl FnMut(&mut LockStore, &str, LockEntry),
) {
    let scratch = tempfile::tempdir_in(dir).expect("scratch folder");
    let path = scratch.path().join("maskflow.lock");
    let mut store = LockStore::open(&path, scratch.path()).unwrap();
    let entries: Vec<(String, LockEntry)> = (0..images).map(entry).collect();
    let before = written_bytes();
    let start = Instant::now();
    for (key, entry) in entries {
        one(&mut store, &key, entry);
    }
    store.save().unwrap();
    let seconds = start.elapsed().as_secs_f64();
    let written = written_bytes()
        .zip(before)
        .map(|(after, before)| after - before);
    let lock_bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
    let reopened = LockStore::open(&path, scratch.path()).unwrap();
    assert_eq!(reopened.lock.images.len(), images, "every image recorded");
    println!(
        "{}",
        serde_json::json!({
            "mode": mode,
            "images": images,
            "bytes_written": written,
            "bytes_per_image": written.map(|w| w as f64 / images as f64),
            "us_per_image": seconds * 1e6 / images as f64,
            "lock_bytes": lock_bytes,
        })
    );
}

/// The bytes this process passed to write(2) so far (Linux).
fn written_bytes() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|line| line.strip_prefix("wchar:"))
        .and_then(|n| n.trim().parse().ok())
}

/// An entry the size of a real one: a local-engine mask of a photo in a nested folder.
fn entry(index: usize) -> (String, LockEntry) {
    let hex = |salt: &str| {
        blake3::hash(format!("{salt}{index}").as_bytes())
            .to_hex()
            .to_string()
    };
    let key = format!("masks/batch-{:03}/photo-{index:06}.png", index / 1000);
    let entry = LockEntry {
        input: InputRecord {
            source: format!("photos/batch-{:03}/photo-{index:06}.jpg", index / 1000),
            size: 2_400_000 + index as u64,
            digest: format!("blake3:{}", hex("input")),
            etag: None,
            last_modified: None,
        },
        settings: BTreeMap::from([("mask".to_owned(), "soft".to_owned())]),
        engine: BTreeMap::from([
            ("name".to_owned(), "local".to_owned()),
            ("model".to_owned(), "u2netp".to_owned()),
            ("model_sha256".to_owned(), hex("model")),
            ("recipe".to_owned(), "2".to_owned()),
        ]),
        fingerprint: format!("blake3:{}", hex("fingerprint")),
        output: Some(OutputRecord {
            target: key.clone(),
            size: 180_000 + index as u64,
            digest: format!("blake3:{}", hex("output")),
            width: 4032,
            height: 3024,
            etag: None,
        }),
        job: JobRecord {
            id: format!("local-{}", &hex("job")[..16]),
            state: JobState::Succeeded,
            href: None,
            submitted_at: "2026-12-01T23:00:00Z".to_owned(),
            finished_at: Some("2026-12-01T23:00:02Z".to_owned()),
            error: None,
        },
        origin: Origin::Generated,
    };
    (key, entry)
}
