//! Model files for the local engine (by path or by URL, pinned by sha256, cached) and
//! cutouts, end to end. Models are served from 127.0.0.1 only.

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::Value;

const U2NETP_SHA256: &str = "309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8";
const U2NET_SHA256: &str = "8d10d2f3bb75ae3b6d527c77944fc5e7dcd94b29809d47a739a7a728a912b491";

/// What the server answers per path: the body, and whether to cut it short.
type Routes = Arc<Mutex<HashMap<String, (Vec<u8>, bool)>>>;

/// A file server on 127.0.0.1 that counts requests, and can cut a body short.
struct Server {
    base: String,
    requests: Arc<AtomicUsize>,
    routes: Routes,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let routes: Routes = Arc::default();
        let (count, table) = (requests.clone(), routes.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) <= 2 {
                        break;
                    }
                }
                let route = table.lock().unwrap().get(&path).cloned();
                match route {
                    None => {
                        let _ = stream.write_all(
                            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        );
                    }
                    Some((body, cut)) => {
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncontent-type: application/octet-stream\r\nconnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(head.as_bytes());
                        let sent = if cut { body.len() / 2 } else { body.len() };
                        let _ = stream.write_all(&body[..sent]);
                    }
                }
                let _ = stream.flush();
            }
        });
        Server {
            base,
            requests,
            routes,
        }
    }

    fn serve(&self, path: &str, body: Vec<u8>, cut: bool) -> String {
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_owned(), (body, cut));
        format!("{}{path}", self.base)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn u2netp() -> Vec<u8> {
    std::fs::read(repo().join("models/u2netp.onnx")).unwrap()
}

/// Runs maskflow in `dir` with its model cache in `cache`.
fn run_cached(dir: &Path, cache: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("MASKFLOW_CACHE", cache)
        .env_remove("MASKFLOW_MANIFEST")
        .env_remove("MASKFLOW_FORMAT")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap()
}

fn apply_cached(dir: &Path, cache: &Path, expected_code: i32) -> Vec<Value> {
    let output = run_cached(dir, cache, &["apply", "--format", "json"]);
    assert_eq!(code(&output), expected_code, "stderr: {}", stderr(&output));
    events(&output)
}

fn lockfile(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("maskflow.lock")).unwrap()).unwrap()
}

/// Every file under `cache`, relative.
fn cached(cache: &Path) -> Vec<String> {
    if cache.exists() {
        files(cache)
    } else {
        Vec::new()
    }
}

fn failure<'a>(events: &'a [Value], key: &str) -> &'a str {
    events_of(events, "failed")
        .into_iter()
        .find(|e| e["key"] == key)
        .unwrap_or_else(|| panic!("{key} did not fail: {events:?}"))["error"]
        .as_str()
        .unwrap()
}

#[test]
fn a_model_by_url_is_cached_pinned_and_makes_cutouts() {
    let dir = scratch(&["horse.png", "chelsea.png"]);
    let root = dir.path();
    let cache = tempfile::tempdir().unwrap();
    let server = Server::start();
    let url = server.serve("/models/u2netp-copy.onnx", u2netp(), false);
    // The same photo twice: a cutout from the downloaded copy of u2netp, and a mask from the
    // embedded u2netp. They must agree byte for byte.
    write(
        root,
        "maskflow.yaml",
        &format!(
            "version: 1\n\
             images:\n\
             \x20 - input: photos/horse.png\n\
             \x20   output: cutouts/horse.png\n\
             \x20   output_kind: cutout\n\
             \x20   model:\n\
             \x20     source: {url}\n\
             \x20     sha256: {U2NETP_SHA256}\n\
             \x20 - input: photos/horse.png\n\
             \x20   output: masks/horse.png\n\
             \x20 - input: photos/chelsea.png\n"
        ),
    );

    // Planning never downloads.
    let planned_run = run_cached(root, cache.path(), &["plan", "--format", "json"]);
    assert_eq!(code(&planned_run), 0, "{}", stderr(&planned_run));
    assert_eq!(server.requests(), 0, "plan downloaded the model");
    assert!(cached(cache.path()).is_empty());

    let events = apply_cached(root, cache.path(), 0);
    assert_eq!(summary(&events)["created"], 3, "{events:?}");
    assert_eq!(server.requests(), 1);
    assert_eq!(
        cached(cache.path()),
        vec![format!("models/sha256-{U2NETP_SHA256}.onnx")],
        "one file, under its digest, nothing half-written beside it"
    );
    assert_eq!(
        std::fs::read(
            cache
                .path()
                .join(format!("models/sha256-{U2NETP_SHA256}.onnx"))
        )
        .unwrap(),
        u2netp()
    );

    let lock = lockfile(root);
    let entry = &lock["images"]["cutouts/horse.png"];
    assert_eq!(
        entry["engine"]["model"],
        format!("u2netp sha256:{U2NETP_SHA256}")
    );
    assert!(
        entry["engine"]["recipe"]
            .as_str()
            .unwrap()
            .starts_with("rembg-1 side=320 scale=max"),
        "{entry}"
    );
    assert_eq!(entry["settings"]["output_kind"], "cutout");
    assert!(
        lock["images"]["masks/horse.png"]["settings"]
            .get("output_kind")
            .is_none(),
        "masks record nothing new"
    );

    // The cutout: the input's pixels, with the mask as alpha.
    let cutout = image::open(root.join("cutouts/horse.png")).unwrap();
    assert_eq!(cutout.color(), image::ColorType::Rgba8);
    let cutout = cutout.to_rgba8();
    let mask = image::open(root.join("masks/horse.png"))
        .unwrap()
        .to_luma8();
    let input = image::open(root.join("photos/horse.png"))
        .unwrap()
        .to_rgb8();
    assert_eq!(cutout.dimensions(), mask.dimensions());
    let alpha: Vec<u8> = cutout.pixels().map(|p| p.0[3]).collect();
    assert_eq!(&alpha, mask.as_raw(), "alpha is the mask, byte for byte");
    let rgb: Vec<u8> = cutout
        .pixels()
        .flat_map(|p| [p.0[0], p.0[1], p.0[2]])
        .collect();
    assert_eq!(&rgb, input.as_raw(), "colours are the decoded input's");
    assert_eq!(
        entry["output"]["digest"],
        format!(
            "blake3:{}",
            blake3::hash(&std::fs::read(root.join("cutouts/horse.png")).unwrap()).to_hex()
        )
    );

    // A second run finds everything done and downloads nothing.
    let events = apply_cached(root, cache.path(), 0);
    assert_eq!(summary(&events)["unchanged"], 3, "{events:?}");
    assert_eq!(server.requests(), 1);

    // A model from the cache, with its server gone, still works.
    std::fs::remove_file(root.join("cutouts/horse.png")).unwrap();
    server.routes.lock().unwrap().clear();
    let events = apply_cached(root, cache.path(), 0);
    assert_eq!(summary(&events)["created"], 0);
    assert_eq!(summary(&events)["updated"], 1, "{events:?}");
    assert_eq!(
        std::fs::read(root.join("cutouts/horse.png")).unwrap().len() as u64,
        lockfile(root)["images"]["cutouts/horse.png"]["output"]["size"]
            .as_u64()
            .unwrap()
    );
}

#[test]
fn changing_a_model_replans_exactly_its_images_without_downloading() {
    let dir = scratch(&["horse.png", "chelsea.png"]);
    let root = dir.path();
    let cache = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.join("models")).unwrap();
    std::fs::write(root.join("models/copy.onnx"), u2netp()).unwrap();
    let manifest = |mean: &str| {
        format!(
            "version: 1\n\
             images:\n\
             \x20 - input: photos/horse.png\n\
             \x20   model:\n\
             \x20     source: models/copy.onnx\n\
             \x20     sha256: {U2NETP_SHA256}\n\
             \x20     mean: {mean}\n\
             \x20 - input: photos/chelsea.png\n"
        )
    };
    write(root, "maskflow.yaml", &manifest("[0.485, 0.456, 0.406]"));
    let events = apply_cached(root, cache.path(), 0);
    assert_eq!(summary(&events)["created"], 2, "{events:?}");
    assert!(
        cached(cache.path()).is_empty(),
        "a model by path is not copied"
    );

    write(root, "maskflow.yaml", &manifest("[0.5, 0.5, 0.5]"));
    let changed = plan(root);
    assert_eq!(
        planned(&changed, "masks/horse.png"),
        ("update".to_owned(), vec!["engine_changed".to_owned()])
    );
    assert_eq!(planned(&changed, "masks/chelsea.png").0, "unchanged");

    // Pointing the image at a URL nobody serves changes nothing for `plan`: the digest is
    // what identifies a model.
    write(
        root,
        "maskflow.yaml",
        &manifest("[0.485, 0.456, 0.406]")
            .replace("models/copy.onnx", "http://127.0.0.1:9/gone.onnx"),
    );
    let moved = plan(root);
    assert_eq!(planned(&moved, "masks/horse.png").0, "unchanged");
}

/// Four images: one on the model under test, three on the embedded model, which must all be
/// made whatever happens to the first.
fn manifest_with(model: &str) -> String {
    format!(
        "version: 1\n\
         images:\n\
         \x20 - input: photos/horse.png\n\
         \x20   output: bad/horse.png\n\
         \x20   model:\n{model}\
         \x20 - glob: \"photos/*.png\"\n"
    )
}

fn model_yaml(source: &str, sha256: &str, extra: &str) -> String {
    format!("\x20     source: {source}\n\x20     sha256: {sha256}\n{extra}")
}

/// Applies, expecting `bad/horse.png` to fail and the rest to be made; returns its error.
fn apply_expecting_one_failure(root: &Path, cache: &Path) -> String {
    let events = apply_cached(root, cache, 1);
    let error = failure(&events, "bad/horse.png").to_owned();
    assert_eq!(summary(&events)["created"], 3, "{events:?}");
    for name in ["horse", "chelsea", "camera"] {
        assert!(root.join(format!("masks/{name}.png")).is_file());
    }
    assert!(!root.join("bad/horse.png").exists());
    assert_eq!(
        lockfile(root)["images"]["bad/horse.png"]["job"]["state"],
        "failed"
    );
    error
}

#[test]
fn a_missing_model_file_fails_only_its_image() {
    let dir = scratch(&["horse.png", "chelsea.png", "camera.png"]);
    let root = dir.path();
    let cache = tempfile::tempdir().unwrap();
    write(
        root,
        "maskflow.yaml",
        &manifest_with(&model_yaml("models/nope.onnx", U2NET_SHA256, "")),
    );
    let error = apply_expecting_one_failure(root, cache.path());
    assert!(error.contains("model `models/nope.onnx`"), "{error}");
    assert!(error.contains("No such file"), "{error}");
}

#[test]
fn a_file_with_another_digest_is_refused() {
    let dir = scratch(&["horse.png", "chelsea.png", "camera.png"]);
    let root = dir.path();
    let cache = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.join("models")).unwrap();
    std::fs::write(root.join("models/u2netp.onnx"), u2netp()).unwrap();
    write(
        root,
        "maskflow.yaml",
        &manifest_with(&model_yaml("models/u2netp.onnx", U2NET_SHA256, "")),
    );
    let error = apply_expecting_one_failure(root, cache.path());
    assert!(error.contains("model `models/u2netp.onnx`"), "{error}");
    assert!(
        error.contains(&format!(
            "sha256 is {U2NETP_SHA256}, not the pinned {U2NET_SHA256}"
        )),
        "{error}"
    );
}

#[test]
fn a_download_with_another_digest_is_not_kept() {
    let dir = scratch(&["horse.png", "chelsea.png", "camera.png"]);
    let root = dir.path();
    let cache = tempfile::tempdir().unwrap();
    let server = Server::start();
    let url = server.serve("/u2net.onnx", u2netp(), false);
    write(
        root,
        "maskflow.yaml",
        &manifest_with(&model_yaml(&url, U2NET_SHA256, "")),
    );
    let error = apply_expecting_one_failure(root, cache.path());
    assert!(error.contains(&format!("model `{url}`")), "{error}");
    assert!(error.contains("not the pinned"), "{error}");
    assert_eq!(cached(cache.path()), Vec::<String>::new(), "nothing kept");
}

#[test]
fn a_download_cut_halfway_leaves_nothing_in_the_cache() {
    let dir = scratch(&["horse.png", "chelsea.png", "camera.png"]);
    let root = dir.path();
    let cache = tempfile::tempdir().unwrap();
    let server = Server::start();
    let url = server.serve("/u2netp.onnx", u2netp(), true);
    write(
        root,
        "maskflow.yaml",
        &manifest_with(&model_yaml(&url, U2NETP_SHA256, "")),
    );
    let error = apply_expecting_one_failure(root, cache.path());
    assert!(error.contains(&format!("model `{url}`")), "{error}");
    assert!(error.contains("download failed"), "{error}");
    assert_eq!(cached(cache.path()), Vec::<String>::new(), "nothing kept");

    // A run killed mid-download leaves its temporary file; one an hour old is abandoned (a
    // download times out after 30 minutes), one just written may be another run's.
    let models = cache.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    let abandoned = models.join(".maskflow-tmp-killed");
    let in_progress = models.join(".maskflow-tmp-running");
    std::fs::write(&abandoned, b"half a model").unwrap();
    std::fs::write(&in_progress, b"half a model").unwrap();
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&abandoned)
        .unwrap()
        .set_modified(an_hour_ago)
        .unwrap();

    // Served whole, the next run downloads it and makes the mask.
    server.serve("/u2netp.onnx", u2netp(), false);
    let events = apply_cached(root, cache.path(), 0);
    assert_eq!(summary(&events)["updated"], 1, "{events:?}");
    assert!(root.join("bad/horse.png").is_file());
    assert!(!abandoned.exists(), "the abandoned download is swept");
    assert!(
        in_progress.exists(),
        "a recent temporary file is left alone"
    );
}

#[test]
fn a_file_that_is_not_onnx_is_refused() {
    let dir = scratch(&["horse.png", "chelsea.png", "camera.png"]);
    let root = dir.path();
    let cache = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.join("models")).unwrap();
    let junk = b"<html>not a model</html>".repeat(100);
    std::fs::write(root.join("models/junk.onnx"), &junk).unwrap();
    let digest = {
        use sha2::Digest;
        format!("{:x}", sha2::Sha256::digest(&junk))
    };
    let recipe = "\x20     input_size: 320\n\x20     mean: [0.5, 0.5, 0.5]\n\x20     std: [1, 1, 1]\n\x20     scale: unit\n\x20     output: 0\n\x20     sigmoid: true\n";
    write(
        root,
        "maskflow.yaml",
        &manifest_with(&model_yaml("models/junk.onnx", &digest, recipe)),
    );
    let error = apply_expecting_one_failure(root, cache.path());
    assert!(error.contains("model `models/junk.onnx`"), "{error}");
    assert!(error.contains("not an ONNX model"), "{error}");
}

#[test]
fn a_model_whose_shapes_do_not_fit_the_recipe_is_refused() {
    let dir = scratch(&["horse.png", "chelsea.png", "camera.png"]);
    let root = dir.path();
    let cache = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.join("models")).unwrap();
    std::fs::write(root.join("models/u2netp.onnx"), u2netp()).unwrap();
    // A model that runs at any input size fits any `input_size`; what the runtime cannot
    // feed or read is refused at load, once.
    write(
        root,
        "maskflow.yaml",
        &manifest_with(&model_yaml(
            "models/u2netp.onnx",
            U2NETP_SHA256,
            "\x20     output: 9\n",
        )),
    );
    let error = apply_expecting_one_failure(root, cache.path());
    assert!(error.contains("model `models/u2netp.onnx`"), "{error}");
    assert!(error.contains("does not fit its recipe"), "{error}");
    assert!(
        error.contains("asks for output #9, and it has 7"),
        "{error}"
    );
}

#[test]
fn an_unknown_model_needs_its_recipe() {
    let dir = scratch(&["horse.png"]);
    let root = dir.path();
    write(
        root,
        "maskflow.yaml",
        &format!(
            "version: 1\n\
             defaults:\n\
             \x20 model:\n\
             \x20   source: https://models.example/birefnet.onnx\n\
             \x20   sha256: {}\n\
             \x20   input_size: 1024\n\
             images:\n\
             \x20 - glob: \"photos/*.png\"\n",
            "c".repeat(64)
        ),
    );
    let output = run(root, &["validate"]);
    assert_eq!(code(&output), 1);
    let text = stderr(&output);
    assert!(
        text.contains(
            "is not a known model, so its recipe must be given: missing `mean`, `std`, `scale`, `output`, `sigmoid`"
        ),
        "{text}"
    );
    assert!(text.contains("maskflow.yaml:4:5"), "{text}");
}

#[test]
fn models_lists_the_known_models() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(dir.path(), &["models", "--format", "json"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let models: Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = models
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["u2netp", "u2net"]);
    assert_eq!(models[1]["sha256"], U2NET_SHA256);
    assert_eq!(models[1]["bytes"], 175_997_641);
    assert_eq!(models[1]["input_size"], 320);
    assert_eq!(models[1]["licence"], "Apache-2.0");
    let text = run(dir.path(), &["models"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("u2net "));
}
