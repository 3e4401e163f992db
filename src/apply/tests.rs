//! The pool driven in-process with an engine that panics on one input.

use super::engines::Engines;
use super::scheduler::run_pool;
use super::*;
use crate::engine::{self, Engine, EngineError, MaskRequest};
use crate::fsutil;
use crate::lock::JobState;
use crate::manifest::{Input, RetouchPolicy};
use std::collections::BTreeMap;

/// An engine with a bug on one input. The panic has to come from somewhere: no input makes
/// the real decoders or model panic any more (the bombs that did are refused first), and
/// product code has no test hook, so the pool is driven here, in-process.
struct PanicsOn(&'static str);

impl Engine for PanicsOn {
    fn mask(&self, request: &MaskRequest<'_>) -> Result<GrayImage, EngineError> {
        if request.input.ends_with(self.0) {
            panic!("index out of bounds in {}", request.input.display());
        }
        Ok(GrayImage::new(3, 2))
    }
}

#[derive(Default)]
struct Collect(Vec<String>);

impl Reporter for Collect {
    fn report(&mut self, event: Event<'_>) {
        match event {
            Event::Failed { step, error } => self.0.push(format!("failed {}: {error}", step.key)),
            Event::Finished { step, .. } => self.0.push(format!("finished {}", step.key)),
            _ => {}
        }
    }
}

#[test]
fn a_panicking_image_fails_alone_and_the_others_finish() {
    static ENGINE: PanicsOn = PanicsOn("photos/b.png");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("photos")).unwrap();
    let work: Vec<Work> = ["a", "b", "c"]
        .iter()
        .map(|name| {
            let input_source = format!("photos/{name}.png");
            let input = dir.path().join(&input_source);
            std::fs::write(&input, name.as_bytes()).unwrap();
            let key = format!("masks/{name}.png");
            let settings = BTreeMap::from([("mask".to_owned(), "soft".to_owned())]);
            let engine = engine::local::identity();
            let digest = fsutil::digest_bytes(name.as_bytes());
            Work {
                step: Step {
                    output: crate::manifest::Output::File(dir.path().join(&key)),
                    key,
                    input_source: input_source.clone(),
                    input: Input::Local(input),
                    mask: crate::manifest::MaskMode::Soft,
                    engine: EngineKind::Local,
                    mask_url: None,
                    mask_read_url: None,
                    origin: crate::manifest::Pos::START,
                    retouched: RetouchPolicy::default(),
                    output_kind: crate::manifest::OutputKind::Mask,
                    model: None,
                },
                action: Action::Create,
                desired: Desired {
                    fingerprint: crate::lock::fingerprint(&digest, &settings, &engine),
                    settings,
                    engine,
                },
                observed: InputRecord {
                    source: input_source,
                    size: 1,
                    digest,
                    etag: None,
                    last_modified: None,
                },
                resume: None,
            }
        })
        .collect();
    let folders =
        folders::OutputFolders::open(work.iter().filter_map(|w| w.step.output.local_path()))
            .unwrap();
    let engines = Engines {
        local: Some(&ENGINE),
        photoshop: None,
        sensei: false,
        stager: None,
        decode: DecodeLimits::default(),
    };
    let options = Options {
        jobs: 2,
        ..Options::default()
    };
    let mut store = LockStore::open(&dir.path().join("maskflow.lock"), dir.path()).unwrap();
    let (mut summary, mut reporter) = (Summary::default(), Collect::default());
    run_pool(
        work,
        &engines,
        &folders,
        &options,
        &mut store,
        &mut summary,
        &mut reporter,
    )
    .unwrap();

    assert_eq!(
        (summary.created, summary.failed),
        (2, 1),
        "{:?}",
        reporter.0
    );
    let failure = reporter.0.iter().find(|e| e.starts_with("failed")).unwrap();
    assert!(
        failure.starts_with("failed masks/b.png: maskflow crashed"),
        "{failure}"
    );
    assert!(failure.contains("index out of bounds in"), "{failure}");
    let entry = &store.lock.images["masks/b.png"];
    assert_eq!(entry.job.state, JobState::Failed);
    assert!(
        entry
            .job
            .error
            .as_deref()
            .unwrap()
            .contains("index out of bounds")
    );
    for done in ["a", "c"] {
        assert!(dir.path().join(format!("masks/{done}.png")).exists());
        assert_eq!(
            store.lock.images[&format!("masks/{done}.png")].job.state,
            JobState::Succeeded
        );
    }
    // Recorded in the journal as it happened; the fold puts it in the lockfile.
    store.save().unwrap();
    let on_disk = std::fs::read_to_string(dir.path().join("maskflow.lock")).unwrap();
    assert!(
        on_disk.contains("index out of bounds"),
        "the failure is saved"
    );
}
