//! The reconcile loop: run the planned steps on a bounded pool of workers, write each mask
//! atomically, and record each result in the lockfile as soon as it is known.

mod folders;
mod isolate;
mod prune;
pub mod share;

pub use folders::FolderError;
pub(crate) use isolate::panic_message;
pub use prune::Kept;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use image::GrayImage;
use serde::Serialize;

use crate::engine::photoshop::{self, JobHandle, Photoshop, Seat, WaitError};
use crate::engine::{self, DecodeLimits, Engine, EngineError};
use crate::lock::{InputRecord, JobRecord, JobState, LockEntry, LockStore, Origin, OutputRecord};
use crate::manifest::{EngineKind, Input, PhotoshopApi, PhotoshopSettings, RetouchPolicy, Step};
use crate::plan::{Action, Desired, Item, Plan, Reason};
use crate::report::{Event, Reporter};
use crate::storage::{Stager, StorageSettings};
use crate::{Error, fsutil, remote, thumbnail};

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

/// Shard `index` of `count` (1-based, as written: `2/3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Whether `key` belongs to this shard. Hashing the key keeps the assignment stable as
    /// images come and go, and the same on every machine.
    pub fn contains(&self, key: &str) -> bool {
        let hash = blake3::hash(key.as_bytes());
        let first = u64::from_le_bytes(hash.as_bytes()[..8].try_into().expect("8 bytes"));
        first % self.count == self.index - 1
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not a shard: write K/N with 1 <= K <= N, e.g. 2/3");
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let index: u64 = index.trim().parse().map_err(|_| bad())?;
        let count: u64 = count.trim().parse().map_err(|_| bad())?;
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
    /// Orphaned entries removed from the lockfile.
    pub removed: usize,
    /// Mask files of orphaned entries deleted (`--prune`).
    pub pruned: usize,
    /// Items left alone because `--only` did not select them.
    pub skipped: usize,
    pub engine_runs: usize,
    /// Paid jobs started (`photoshop` engine).
    pub submitted: usize,
    /// Local inputs uploaded to `storage.staging`.
    pub uploaded: usize,
    /// Jobs of an earlier run polled to the end instead of submitted again.
    pub resumed: usize,
    /// Jobs that did not finish in time; the next run resumes them.
    pub in_flight: usize,
    /// Masks modified outside maskflow, left in place (`retouched: keep`).
    pub kept: usize,
    /// Manual masks whose input or settings changed: left for the user to `adopt` or `--force`.
    pub conflicts: usize,
    pub seconds: f64,
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
        outcome: Outcome,
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
    Failed(String),
    /// The job may still finish; it stays recorded as in flight.
    Unfinished(String),
}

struct Done {
    input: InputRecord,
    output: OutputRecord,
}

/// The engines this run needs, created once and shared by every worker.
struct Engines {
    local: Option<&'static dyn Engine>,
    photoshop: Option<Photoshop>,
    /// Whether photoshop jobs use the `sensei` API (which writes masks to a URL).
    sensei: bool,
    stager: Option<Stager>,
    /// Bounds concurrent local inferences, which compete for the same cores.
    local_slots: Slots,
    /// What decoding one input may cost (`local` engine).
    decode: DecodeLimits,
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
    let mut work = Vec::new();
    let mut orphans = Vec::new();
    // Every input of the manifest, selected or not, is off limits to prune.
    let inputs = options.prune.then(|| {
        prune::Inputs::new(
            plan.items
                .iter()
                .filter_map(|item| item.step.as_ref()?.input.local_path()),
        )
    });
    // Masks someone else wrote, which this run leaves alone.
    let mut held = Vec::new();
    let mut unreadable = Vec::new();
    if let Some(shard) = options.shard {
        // A shard's lockfile holds its own entries only, so that merging shards cannot meet
        // two versions of one entry.
        store.lock.images.retain(|key, _| shard.contains(key));
    }
    for item in plan.items {
        let in_shard = options.shard.is_none_or(|shard| shard.contains(&item.key));
        if !in_shard || !selected(&options.only, &item) {
            summary.skipped += 1;
            continue;
        }
        let forced = selected_by(&options.force, &item);
        let action = match item.action {
            Action::Unchanged if forced => Action::Update {
                reasons: vec![Reason::Forced],
            },
            // Only `--force` overwrites a retouched or manual mask: the user asked for it.
            Action::Kept { reasons, .. } | Action::Conflict { reasons } if forced => {
                Action::Update {
                    reasons: [Reason::Forced].into_iter().chain(reasons).collect(),
                }
            }
            action => action,
        };
        match (action, item.step, item.desired, item.observation) {
            (Action::Orphaned, _, _, _) => orphans.push(item.key),
            (Action::Unchanged, _, _, _) => summary.unchanged += 1,
            (action @ (Action::Kept { .. } | Action::Conflict { .. }), Some(step), _, _) => {
                held.push((step, action));
            }
            // Fails alone, and leaves its lockfile entry as the last run that could read it left it.
            (Action::Unreadable { error }, Some(step), _, _) => unreadable.push((step, error)),
            (action, Some(step), Some(desired), Some(observation)) => {
                let resume = match &action {
                    Action::Update { reasons } => reasons.iter().find_map(|r| match r {
                        Reason::JobInFlight { job } => Some(recorded_job(store, &item.key, job)),
                        _ => None,
                    }),
                    _ => None,
                };
                work.push(Work {
                    step,
                    action,
                    desired,
                    observed: observation.input,
                    resume,
                });
            }
            (_, _, _, _) => unreachable!("create and update items always carry their step"),
        }
    }
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
    let folders = folders::OutputFolders::open(work.iter().map(|w| w.step.output_path.as_path()))?;
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
            inputs.as_ref(),
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

/// Tells the user about a mask this run leaves in place, and counts it.
fn report_held(step: &Step, action: &Action, summary: &mut Summary, reporter: &mut dyn Reporter) {
    match action {
        Action::Kept { reasons, policy } => {
            if *policy == RetouchPolicy::Fail {
                summary.failed += 1;
            } else {
                summary.kept += 1;
            }
            reporter.report(Event::Kept {
                step,
                reasons,
                policy: *policy,
            });
        }
        Action::Conflict { reasons } => {
            summary.conflicts += 1;
            reporter.report(Event::Conflict { step, reasons });
        }
        _ => {}
    }
}

/// The lockfile's record of job `id` of `key` (with the status link the service gave).
fn recorded_job(store: &LockStore, key: &str, id: &str) -> JobRecord {
    store
        .lock
        .images
        .get(key)
        .map(|entry| entry.job.clone())
        .filter(|job| job.id == id)
        .unwrap_or_else(|| JobRecord {
            id: id.to_owned(),
            state: JobState::Submitted,
            href: None,
            submitted_at: now(),
            finished_at: None,
            error: None,
        })
}

fn selected(only: &[glob::Pattern], item: &Item) -> bool {
    only.is_empty() || selected_by(only, item)
}

fn selected_by(patterns: &[glob::Pattern], item: &Item) -> bool {
    let input = item.step.as_ref().map(|s| s.input_source.as_str());
    patterns
        .iter()
        .any(|p| p.matches(&item.key) || input.is_some_and(|i| p.matches(i)))
}

/// Drops an orphaned entry; with `--prune` (`inputs` given), deletes its mask if that is
/// safe (see `prune`).
fn remove_orphan(
    key: &str,
    store: &mut LockStore,
    manifest_dir: &Path,
    inputs: Option<&prune::Inputs>,
    summary: &mut Summary,
    reporter: &mut dyn Reporter,
) -> Result<(), Error> {
    let Some(entry) = store.lock.images.remove(key) else {
        return Ok(());
    };
    summary.removed += 1;
    let mut deleted = None;
    let mut kept = None;
    if let (Some(_), Some(_), Origin::Manual) = (inputs, &entry.output, entry.origin) {
        // An adopted mask is a person's decision, whatever its digest says.
        kept = Some(prune::Kept::Manual);
    } else if let (Some(inputs), Some(output)) = (inputs, &entry.output) {
        let pruned = prune::prune(manifest_dir, &output.target, &output.digest, inputs).map_err(
            |source| Error::Io {
                path: manifest_dir.join(&output.target),
                source,
            },
        )?;
        match pruned {
            prune::Pruned::Deleted(path) => {
                summary.pruned += 1;
                deleted = Some(path);
            }
            prune::Pruned::Kept(why) => kept = Some(why),
            prune::Pruned::Missing => {}
        }
    }
    reporter.report(Event::Removed {
        key,
        deleted: deleted.as_deref(),
        kept,
    });
    Ok(())
}

fn load_engines(work: &[Work], options: &Options) -> Result<Engines, Error> {
    let uses = |kind| work.iter().any(|w| w.step.engine == kind);
    // Steps with a model file load theirs on first use, each failing on its own.
    let embedded = work
        .iter()
        .any(|w| w.step.engine == EngineKind::Local && w.step.model.is_none());
    let local = if embedded {
        Some(engine::local_engine()?)
    } else {
        None
    };
    let photoshop = if uses(EngineKind::Photoshop) {
        let credentials =
            photoshop::Credentials::from_env(&options.photoshop.credentials, |name| {
                std::env::var(name).ok()
            })
            .map_err(EngineError::from)?;
        // Shards run at once under one organization's limit: each submits at its share.
        let settings = PhotoshopSettings {
            limits: share::shard_limits(&options.photoshop.limits, options.shard),
            ..options.photoshop.clone()
        };
        Some(Photoshop::new(&settings, credentials))
    } else {
        None
    };
    Ok(Engines {
        local,
        photoshop,
        sensei: options.photoshop.api == PhotoshopApi::Sensei,
        stager: Stager::new(&options.storage),
        local_slots: Slots::new(options.jobs.max(1)),
        decode: options.decode,
    })
}

fn run_pool(
    work: Vec<Work>,
    engines: &Engines,
    folders: &folders::OutputFolders,
    options: &Options,
    store: &mut LockStore,
    summary: &mut Summary,
    reporter: &mut dyn Reporter,
) -> Result<(), Error> {
    let jobs = options.jobs.max(1);
    let local_work = work
        .iter()
        .filter(|w| w.step.engine == EngineKind::Local)
        .count();
    // Remote jobs mostly wait, so they get their own (larger) bound on jobs in flight; how
    // many of these workers actually hold a job is up to the engine's flight (Little's law).
    let workers = if engines.photoshop.is_some() {
        jobs.max(options.photoshop.limits.in_flight as usize)
    } else {
        jobs
    }
    .min(work.len());
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    engine::set_threads_per_job((cores / jobs.min(local_work).max(1)).max(1));
    let queue = Mutex::new(work.into_iter());
    let stop = AtomicBool::new(false);
    let (sender, receiver) = mpsc::channel::<Message>();
    let mut fatal = None;
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let sender = sender.clone();
            let (queue, stop) = (&queue, &stop);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    // A new paid job queues for its seat (in manifest order) and waits for
                    // it before it counts as started.
                    let (work, ticket) = {
                        let mut queue = queue.lock().expect("queue lock");
                        let Some(work) = queue.next() else {
                            break;
                        };
                        let ticket = engines
                            .photoshop
                            .as_ref()
                            .filter(|_| {
                                work.step.engine == EngineKind::Photoshop && work.resume.is_none()
                            })
                            .map(|photoshop| (photoshop, photoshop.ticket()));
                        (work, ticket)
                    };
                    let seat = ticket.map(|(photoshop, ticket)| photoshop.board(ticket));
                    let _ = sender.send(Message::Started {
                        key: work.step.key.clone(),
                    });
                    let submitted_at = now();
                    let previous = previous_mask(&work);
                    // One image's panic fails that image; the worker goes on to the next.
                    let (outcome, job) =
                        isolate::run_isolated(|| run_step(&work, engines, folders, &sender, seat))
                            .unwrap_or_else(|error| (Outcome::Failed(error), None));
                    let replaced = match (&outcome, previous) {
                        (Outcome::Masked(_), Some(previous)) => compare_masks(&work.step, previous),
                        _ => None,
                    };
                    let _ = sender.send(Message::Done {
                        work: Box::new(work),
                        outcome,
                        job,
                        submitted_at,
                        replaced,
                    });
                }
            });
        }
        drop(sender);
        for message in receiver {
            let result = match message {
                Message::Started { key } => {
                    reporter.report(Event::Started { key: &key });
                    Ok(())
                }
                Message::Uploaded { key, object } => {
                    summary.uploaded += 1;
                    reporter.report(Event::Uploaded {
                        key: &key,
                        object: &object,
                    });
                    Ok(())
                }
                Message::Submitted {
                    key,
                    entry,
                    recorded,
                } => {
                    let job = entry.job.id.clone();
                    summary.submitted += 1;
                    let result = store.record(&key, *entry).map_err(Error::from);
                    if result.is_ok() {
                        reporter.report(Event::Submitted {
                            key: &key,
                            job: &job,
                        });
                        let _ = recorded.send(());
                    }
                    result
                }
                Message::Done {
                    work,
                    outcome,
                    job,
                    submitted_at,
                    replaced,
                } => record(
                    *work,
                    (outcome, replaced),
                    job,
                    submitted_at,
                    store,
                    summary,
                    reporter,
                ),
            };
            if let Some(photoshop) = &engines.photoshop {
                for token in photoshop.take_minted_tokens() {
                    reporter.report(Event::SecretMinted(&token));
                }
            }
            if let Err(e) = result {
                // Without a lockfile, further work would be done and then forgotten.
                stop.store(true, Ordering::Relaxed);
                fatal.get_or_insert(e);
            }
        }
    });
    fatal.map_or(Ok(()), Err)
}

/// A preview of the mask an update is about to overwrite, for the report's before/after.
/// Only previews are kept (a few KB each), never the full mask.
fn previous_mask(work: &Work) -> Option<GrayImage> {
    if !matches!(work.action, Action::Update { .. }) || !work.step.output_path.is_file() {
        return None;
    }
    thumbnail::mask_file(&work.step.output_path).ok()
}

fn compare_masks(step: &Step, previous: GrayImage) -> Option<Replaced> {
    let current = thumbnail::mask_file(&step.output_path).ok()?;
    let changed = thumbnail::changed_share(&previous, &current);
    Some(Replaced { previous, changed })
}

/// Runs one step on its engine; returns the outcome and the id of the job, if one was made.
fn run_step(
    work: &Work,
    engines: &Engines,
    folders: &folders::OutputFolders,
    sender: &mpsc::Sender<Message>,
    seat: Option<Seat<'_>>,
) -> (Outcome, Option<String>) {
    let step = &work.step;
    match step.engine {
        EngineKind::Local => {
            let _slot = engines.local_slots.acquire();
            let outcome = match run_local(step, engines.local, engines.decode, folders) {
                Ok(done) => Outcome::Masked(done),
                Err(error) => Outcome::Failed(error),
            };
            (outcome, None)
        }
        EngineKind::Photoshop => run_photoshop(work, engines, folders, sender, seat),
    }
}

/// Submits (or resumes) one photoshop job, waits for it, and writes its mask. A new job holds
/// `seat` from before its input is staged until its mask is written.
fn run_photoshop(
    work: &Work,
    engines: &Engines,
    folders: &folders::OutputFolders,
    sender: &mpsc::Sender<Message>,
    mut seat: Option<Seat<'_>>,
) -> (Outcome, Option<String>) {
    let step = &work.step;
    let photoshop = engines
        .photoshop
        .as_ref()
        .expect("made for photoshop steps");
    let staging = || {
        engines
            .stager
            .as_ref()
            .ok_or_else(|| "local inputs need `storage.staging`".to_owned())
    };
    // Where a sensei job writes its mask, and where it is read back from.
    let mask_urls = match (&step.mask_url, engines.sensei) {
        (Some(put), _) => Ok((Some(put.clone()), step.mask_read_url.clone())),
        (None, true) => staging()
            .and_then(|stager| stager.mask_urls(&work.desired.fingerprint))
            .map(|(put, get)| (Some(put), Some(get))),
        (None, false) => Ok((None, None)),
    };
    let (mask_put, mask_get) = match mask_urls {
        Ok(urls) => urls,
        Err(error) => return (Outcome::Failed(error), None),
    };
    let job = match &work.resume {
        Some(job) => photoshop.resumed(&job.id, job.href.as_deref(), &job.submitted_at),
        None => {
            let input = match &step.input {
                Input::Remote(url) => url.clone(),
                Input::Local(path) => match staging().and_then(|s| s.stage_input(path)) {
                    Ok(staged) => {
                        if staged.uploaded {
                            let _ = sender.send(Message::Uploaded {
                                key: step.key.clone(),
                                object: staged.object.to_string(),
                            });
                        }
                        staged.url
                    }
                    Err(error) => return (Outcome::Failed(error), None),
                },
            };
            match photoshop.submit(step, &input, mask_put.as_ref()) {
                Ok(job) => {
                    if let Some(seat) = seat.as_mut() {
                        seat.took_off(job.accepted());
                    }
                    if !record_submission(work, &job, sender) {
                        let stopped = "the run stopped before the job was recorded".to_owned();
                        return (Outcome::Unfinished(stopped), Some(job.id));
                    }
                    job
                }
                Err(error) => return (Outcome::Failed(error), None),
            }
        }
    };
    let outcome = match photoshop.wait(step, &job, mask_get.as_ref()) {
        Ok(rendered) => match verify_size(step, rendered.dimensions())
            .and_then(|()| write_rendered(step, &rendered, work.observed.clone(), folders))
        {
            Ok(done) => Outcome::Masked(done),
            Err(error) => Outcome::Failed(error),
        },
        Err(WaitError::Failed(error)) => Outcome::Failed(explain_input_failure(error)),
        Err(WaitError::Unfinished(error)) => Outcome::Unfinished(error),
    };
    drop(seat);
    (outcome, Some(job.id))
}

/// The service's "cannot access the input" is most often an expired pre-signed URL.
fn explain_input_failure(error: String) -> String {
    if error.contains("Unable to access the input") {
        format!(
            "{error} (the service could not read the input URL: it must be reachable from the \
             service and must not expire before the job runs; staged URLs live \
             `storage.expires_seconds`)"
        )
    } else {
        error
    }
}

/// Has the main thread write the job to the lockfile, and waits until it has: waiting on a
/// job that is not in the lockfile would pay twice after a crash.
fn record_submission(work: &Work, job: &JobHandle, sender: &mpsc::Sender<Message>) -> bool {
    let (recorded, wait_recorded) = mpsc::channel();
    let entry = LockEntry {
        input: work.observed.clone(),
        settings: work.desired.settings.clone(),
        engine: work.desired.engine.clone(),
        fingerprint: work.desired.fingerprint.clone(),
        output: None,
        job: JobRecord {
            id: job.id.clone(),
            state: JobState::Submitted,
            href: job.href.clone(),
            submitted_at: now(),
            finished_at: None,
            error: None,
        },
        origin: Origin::Generated,
    };
    let _ = sender.send(Message::Submitted {
        key: work.step.key.clone(),
        entry: Box::new(entry),
        recorded,
    });
    wait_recorded.recv().is_ok()
}

/// A mask from a service must fit its image: same size (or turned, for an EXIF rotation).
fn verify_size(step: &Step, got: (u32, u32)) -> Result<(), String> {
    let Input::Local(path) = &step.input else {
        return Ok(());
    };
    let dimensions = image::ImageReader::open(path)
        .ok()
        .and_then(|r| r.with_guessed_format().ok())
        .and_then(|r| r.into_dimensions().ok());
    let Some((width, height)) = dimensions else {
        return Ok(());
    };
    if got == (width, height) || got == (height, width) {
        Ok(())
    } else {
        Err(format!(
            "the service's mask is {}x{}, but {} is {width}x{height}",
            got.0,
            got.1,
            path.display()
        ))
    }
}

/// Masks one image in-process: read and hash the exact bytes masked, run the engine.
fn run_local(
    step: &Step,
    engine: Option<&dyn Engine>,
    limits: DecodeLimits,
    folders: &folders::OutputFolders,
) -> Result<Done, String> {
    let (bytes, label) = match &step.input {
        Input::Local(path) => (
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?,
            path.clone(),
        ),
        Input::Remote(url) => {
            let agent = remote::agent(remote::TRANSFER_TIMEOUT);
            let (file, _, _) = remote::download(&agent, url, remote::MAX_DOWNLOAD_BYTES)
                .map_err(|e| e.to_string())?;
            let bytes = std::fs::read(file.path())
                .map_err(|e| format!("cannot read the download of {url}: {e}"))?;
            (bytes, url.redacted().into())
        }
    };
    let input = InputRecord {
        source: step.input_source.clone(),
        size: bytes.len() as u64,
        digest: fsutil::digest_bytes(&bytes),
    };
    let rendered = engine::render::local(step, engine, &label, &bytes, limits)?;
    // The input's bytes are not needed any more; free them before encoding.
    drop(bytes);
    write_rendered(step, &rendered, input, folders)
}

/// Writes the mask through its folder's handle. The error names the mask by its key: the
/// lockfile stores it, so it must not hold a temporary file's random name.
fn write_rendered(
    step: &Step,
    rendered: &engine::cutout::Rendered,
    input: InputRecord,
    folders: &folders::OutputFolders,
) -> Result<Done, String> {
    write_png(
        step,
        rendered.encode_png()?,
        rendered.dimensions(),
        input,
        folders,
    )
}

fn write_png(
    step: &Step,
    png: Vec<u8>,
    (width, height): (u32, u32),
    input: InputRecord,
    folders: &folders::OutputFolders,
) -> Result<Done, String> {
    folders
        .write(&step.output_path, &png)
        .map_err(|e| format!("cannot write {}: {}", step.key, fsutil::io_reason(&e)))?;
    Ok(Done {
        input,
        output: OutputRecord {
            target: step.key.clone(),
            size: png.len() as u64,
            digest: fsutil::digest_bytes(&png),
            width,
            height,
        },
    })
}

fn record(
    work: Work,
    (outcome, replaced): (Outcome, Option<Replaced>),
    job: Option<String>,
    submitted_at: String,
    store: &mut LockStore,
    summary: &mut Summary,
    reporter: &mut dyn Reporter,
) -> Result<(), Error> {
    summary.engine_runs += 1;
    let Work {
        step,
        action,
        desired,
        observed,
        resume,
    } = work;
    if resume.is_some() {
        summary.resumed += 1;
    }
    let finished_at = Some(now());
    let job_id =
        job.unwrap_or_else(|| format!("local-{}", &desired.fingerprint["blake3:".len()..][..16]));
    let submitted_at = store
        .lock
        .images
        .get(&step.key)
        .filter(|e| e.job.id == job_id && e.job.state == JobState::Submitted)
        .map_or(submitted_at, |e| e.job.submitted_at.clone());
    match outcome {
        Outcome::Masked(done) => {
            // The fingerprint covers the bytes actually masked, which may differ from those
            // planned if the file changed meanwhile; the next plan then sees the change.
            let fingerprint =
                crate::lock::fingerprint(&done.input.digest, &desired.settings, &desired.engine);
            store.record(
                &step.key,
                LockEntry {
                    input: done.input,
                    settings: desired.settings,
                    engine: desired.engine,
                    fingerprint,
                    output: Some(done.output.clone()),
                    job: JobRecord {
                        id: job_id,
                        state: JobState::Succeeded,
                        href: None,
                        submitted_at,
                        finished_at,
                        error: None,
                    },
                    origin: Origin::Generated,
                },
            )?;
            match action {
                Action::Create => summary.created += 1,
                _ => summary.updated += 1,
            }
            if let Some(replaced) = &replaced {
                reporter.report(Event::Replaced {
                    key: &step.key,
                    previous: &replaced.previous,
                    changed: replaced.changed,
                });
            }
            reporter.report(Event::Finished {
                step: &step,
                action: &action,
                output: &done.output,
            });
        }
        Outcome::Failed(error) => {
            let error = crate::redact::redact_text(&error);
            store.record(
                &step.key,
                LockEntry {
                    input: observed,
                    settings: desired.settings,
                    engine: desired.engine,
                    fingerprint: desired.fingerprint,
                    output: None,
                    job: JobRecord {
                        id: job_id,
                        state: JobState::Failed,
                        href: None,
                        submitted_at,
                        finished_at,
                        error: Some(error.clone()),
                    },
                    origin: Origin::Generated,
                },
            )?;
            summary.failed += 1;
            reporter.report(Event::Failed {
                step: &step,
                error: &error,
            });
        }
        Outcome::Unfinished(error) => {
            // The lockfile already says "submitted"; leaving it so is what lets the next run resume.
            let error = crate::redact::redact_text(&error);
            summary.failed += 1;
            summary.in_flight += 1;
            reporter.report(Event::Failed {
                step: &step,
                error: &error,
            });
        }
    }
    Ok(())
}

/// A counting semaphore.
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

struct Slot<'a>(&'a Slots);

impl Slots {
    fn new(count: usize) -> Self {
        Self {
            free: Mutex::new(count),
            freed: Condvar::new(),
        }
    }

    fn acquire(&self) -> Slot<'_> {
        let mut free = self.free.lock().expect("slots lock");
        while *free == 0 {
            free = self.freed.wait(free).expect("slots lock");
        }
        *free -= 1;
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().expect("slots lock") += 1;
        self.0.freed.notify_one();
    }
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn shards_parse_and_partition_keys() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let shards: Vec<Shard> = (1..=3).map(|k| Shard { index: k, count: 3 }).collect();
        let mut sizes = [0; 3];
        for i in 0..300 {
            let key = format!("masks/{i}.png");
            let owners: Vec<usize> = (0..3).filter(|&s| shards[s].contains(&key)).collect();
            assert_eq!(owners.len(), 1, "{key} belongs to exactly one shard");
            sizes[owners[0]] += 1;
        }
        assert!(sizes.iter().all(|&n| n > 50), "{sizes:?}");
    }

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
                Event::Failed { step, error } => {
                    self.0.push(format!("failed {}: {error}", step.key))
                }
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
                        output_path: dir.path().join(&key),
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
                    },
                    resume: None,
                }
            })
            .collect();
        let folders =
            folders::OutputFolders::open(work.iter().map(|w| w.step.output_path.as_path()))
                .unwrap();
        let engines = Engines {
            local: Some(&ENGINE),
            photoshop: None,
            sensei: false,
            stager: None,
            local_slots: Slots::new(2),
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
}
