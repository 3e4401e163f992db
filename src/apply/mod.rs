//! The reconcile loop: run the planned steps on a bounded pool of workers, write each mask
//! atomically, and record each result in the lockfile as soon as it is known.

mod engines;
mod error;
mod folders;
mod local;
mod photoshop;
mod prune;
mod record;
mod scheduler;
mod select;
#[cfg(test)]
mod tests;

pub use crate::shard::{Shard, share};
pub use crate::summary::{Kept, Summary};
pub use error::StepError;
pub use folders::FolderError;

use std::path::Path;
use std::sync::mpsc;
use std::time::Instant;

use image::GrayImage;

use crate::Error;
use crate::engine::DecodeLimits;
use crate::lock::{InputRecord, JobRecord, LockEntry, LockStore, OutputRecord};
use crate::manifest::{EngineKind, Input, Output, PhotoshopSettings, Step};
use crate::plan::{Action, Desired, Plan};
use crate::report::{Event, Reporter};
use crate::storage::StorageSettings;

use engines::load_engines;
use record::{PruneScope, remove_orphan, report_held};
use scheduler::run_pool;
use select::{Selection, select};

/// Which items to run and how.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub jobs: usize,
    /// Only items whose key or input matches one of these (all when empty).
    pub only: Vec<glob::Pattern>,
    /// Items to rerun even when unchanged.
    pub force: Vec<glob::Pattern>,
    /// Delete the masks of orphaned entries too.
    pub prune: bool,
    /// Run only this share of the items.
    pub shard: Option<Shard>,
    /// Refuse to start more than this many paid jobs.
    pub max_submits: Option<usize>,
    /// What decoding one input may cost (`local` engine).
    pub decode: DecodeLimits,
    pub photoshop: PhotoshopSettings,
    pub storage: StorageSettings,
}

struct Work {
    step: Step,
    action: Action,
    desired: Desired,
    /// The input as planning found it.
    observed: InputRecord,
    /// A job an earlier run submitted and did not see finish: poll it, do not pay again.
    resume: Option<JobRecord>,
}

enum Message {
    Started {
        key: String,
    },
    /// A local input was uploaded to the staging bucket.
    Uploaded {
        key: String,
        object: String,
    },
    /// A paid job exists: record it before waiting on it, then let the worker go on.
    Submitted {
        key: String,
        entry: Box<LockEntry>,
        recorded: mpsc::Sender<()>,
    },
    Done {
        work: Box<Work>,
        outcome: Box<Outcome>,
        job: Option<String>,
        submitted_at: String,
        replaced: Option<Replaced>,
    },
}

/// The mask a remade image had before, as a preview, and how much of it changed.
struct Replaced {
    previous: GrayImage,
    changed: f64,
}

enum Outcome {
    Masked(Done),
    /// No mask; if the job may still finish (`StepError::is_unfinished`), it stays recorded
    /// as in flight.
    Failed(StepError),
}

struct Done {
    input: InputRecord,
    output: OutputRecord,
}

/// Applies `plan`, updating `store` after every finished item.
pub fn apply(
    plan: Plan,
    store: &mut LockStore,
    manifest_dir: &Path,
    options: &Options,
    reporter: &mut dyn Reporter,
) -> Result<Summary, Error> {
    let started = Instant::now();
    let mut summary = Summary::default();
    // Every input of the manifest, selected or not, is off limits to prune.
    let prune_scope = options.prune.then(|| prune_scope(&plan, options));
    let Selection {
        work,
        orphans,
        held,
        unreadable,
    } = select(plan, store, options, &mut summary);
    let submits = work
        .iter()
        .filter(|w| w.step.engine == EngineKind::Photoshop && w.resume.is_none())
        .count();
    // Refusals come before anything is changed: no orphan pruned, no lockfile written.
    if let Some(max) = options.max_submits
        && submits > max
    {
        return Err(Error::TooManySubmits { submits, max });
    }
    // Before any engine runs or anything is deleted: a folder that cannot take the masks
    // would otherwise be found after paying for them.
    let folders =
        folders::OutputFolders::open(work.iter().filter_map(|w| w.step.output.local_path()))?;
    let engines = load_engines(&work, options)?;
    let submit_share = options
        .shard
        .filter(|_| engines.photoshop.is_some())
        .map(|shard| share::submit_share(&options.photoshop.limits, shard));
    if let Some(photoshop) = &engines.photoshop {
        photoshop.learn_from(&store.lock);
    }
    for key in orphans {
        remove_orphan(
            &key,
            store,
            manifest_dir,
            prune_scope.as_ref(),
            &mut summary,
            reporter,
        )?;
    }
    store.save()?;
    for (step, action) in &held {
        report_held(step, action, &mut summary, reporter);
    }
    for (step, error) in &unreadable {
        summary.failed += 1;
        reporter.report(Event::Failed { step, error });
    }
    reporter.report(Event::ApplyStarted {
        to_run: work.len(),
        submit_share: submit_share.as_ref(),
    });
    let ran = run_pool(
        work,
        &engines,
        &folders,
        options,
        store,
        &mut summary,
        reporter,
    );
    // Fold the journal in even after a fatal error: what finished stays finished.
    let folded = store.save();
    ran?;
    folded?;
    summary.seconds = started.elapsed().as_secs_f64();
    reporter.report(Event::Summary(&summary));
    Ok(summary)
}

/// What `--prune` must not touch (every input of the manifest, selected or not), and the
/// bucket folders its outputs write to.
fn prune_scope(plan: &Plan, options: &Options) -> PruneScope {
    let steps = || {
        plan.items
            .iter()
            .filter_map(|item| item.step.as_ref())
            .chain(&plan.other_shards)
    };
    PruneScope {
        files: prune::Inputs::new(steps().filter_map(|step| step.input.local_path())),
        objects: prune::Objects::new(
            steps().filter_map(|step| match &step.input {
                Input::Object(cloud) => Some(cloud.object.to_string()),
                _ => None,
            }),
            steps().filter_map(|step| match &step.output {
                Output::Object(cloud) => Some(cloud.root.clone()),
                Output::File(_) => None,
            }),
            crate::storage::Storage::new(&options.storage),
        ),
    }
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}
