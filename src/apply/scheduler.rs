//! The scheduler: runs the items on bounded workers, one lane per engine, and records each
//! result on the main thread as it arrives.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use image::GrayImage;

use crate::engine::{self, photoshop::Seat};
use crate::lock::LockStore;
use crate::manifest::{EngineKind, Step};
use crate::plan::Action;
use crate::report::{Event, Reporter};
use crate::{Error, thumbnail};

use super::engines::Engines;
use super::local::run_local;
use super::photoshop::run_photoshop;
use super::record::record;
use super::{Message, Options, Outcome, Replaced, Summary, Work, folders, now};
use crate::isolate;

pub(super) fn run_pool(
    work: Vec<Work>,
    engines: &Engines,
    folders: &folders::OutputFolders,
    options: &Options,
    store: &mut LockStore,
    summary: &mut Summary,
    reporter: &mut dyn Reporter,
) -> Result<(), Error> {
    let jobs = options.jobs.max(1);
    let lanes = Lane::split(work, jobs, options.photoshop.limits.in_flight as usize);
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    engine::set_threads_per_job((cores / lanes[0].workers.max(1)).max(1));
    let stop = AtomicBool::new(false);
    let (sender, receiver) = mpsc::channel::<Message>();
    let mut fatal = None;
    std::thread::scope(|scope| {
        for lane in &lanes {
            for _ in 0..lane.workers {
                let sender = sender.clone();
                let stop = &stop;
                scope.spawn(move || lane.work(engines, folders, &sender, stop));
            }
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
                    let result = store.record(&key, *entry).map_err(|source| Error::Record {
                        key: key.clone(),
                        source,
                    });
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
                    (*outcome, replaced),
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

/// The items of one engine, taken in manifest order by a fixed number of workers: the number
/// of workers is the bound, so no item waits for a permit once it has a worker.
struct Lane {
    queue: Mutex<std::vec::IntoIter<Work>>,
    workers: usize,
}

impl Lane {
    fn new(work: Vec<Work>, bound: usize) -> Self {
        Self {
            workers: bound.min(work.len()),
            queue: Mutex::new(work.into_iter()),
        }
    }

    /// Local inferences compete for the same cores, so `--jobs` of them run at once. Remote
    /// jobs mostly wait, so they get their own (larger) bound on jobs in flight; how many of
    /// these workers actually hold a job is up to the engine's flight (Little's law).
    fn split(work: Vec<Work>, jobs: usize, in_flight: usize) -> [Lane; 2] {
        let (local, remote): (Vec<Work>, Vec<Work>) = work
            .into_iter()
            .partition(|w| w.step.engine == EngineKind::Local);
        [
            Lane::new(local, jobs),
            Lane::new(remote, jobs.max(in_flight)),
        ]
    }

    /// One worker: takes the next item until the lane is empty or the run stops.
    fn work(
        &self,
        engines: &Engines,
        folders: &folders::OutputFolders,
        sender: &mpsc::Sender<Message>,
        stop: &AtomicBool,
    ) {
        while !stop.load(Ordering::Relaxed) {
            // A new paid job queues for its seat (in manifest order) and waits for
            // it before it counts as started.
            let (work, ticket) = {
                let mut queue = self.queue.lock().expect("queue lock");
                let Some(work) = queue.next() else {
                    break;
                };
                let ticket = engines
                    .photoshop
                    .as_ref()
                    .filter(|_| work.step.engine == EngineKind::Photoshop && work.resume.is_none())
                    .map(|photoshop| (photoshop, photoshop.ticket()));
                (work, ticket)
            };
            let seat = ticket.map(|(photoshop, ticket)| photoshop.board(ticket));
            let _image = tracing::info_span!("image", key = %work.step.key).entered();
            let _ = sender.send(Message::Started {
                key: work.step.key.clone(),
            });
            let submitted_at = now();
            let previous = previous_mask(&work);
            // One image's panic fails that image; the worker goes on to the next.
            let (outcome, job) =
                isolate::run_isolated(|| run_step(&work, engines, folders, sender, seat))
                    .unwrap_or_else(|crash| (Outcome::Failed(crash.into()), None));
            let replaced = match (&outcome, previous) {
                (Outcome::Masked(_), Some(previous)) => compare_masks(&work.step, previous),
                _ => None,
            };
            let _ = sender.send(Message::Done {
                work: Box::new(work),
                outcome: Box::new(outcome),
                job,
                submitted_at,
                replaced,
            });
        }
    }
}

/// A preview of the mask an update is about to overwrite, for the report's before/after.
/// Only previews are kept (a few KB each), never the full mask. Masks in a bucket get none:
/// that would cost a download of each before it is replaced.
pub(super) fn previous_mask(work: &Work) -> Option<GrayImage> {
    let path = work.step.output.local_path()?;
    if !matches!(work.action, Action::Update { .. }) || !path.is_file() {
        return None;
    }
    thumbnail::mask_file(path).ok()
}

pub(super) fn compare_masks(step: &Step, previous: GrayImage) -> Option<Replaced> {
    let current = thumbnail::mask_file(step.output.local_path()?).ok()?;
    let changed = thumbnail::changed_share(&previous, &current);
    Some(Replaced { previous, changed })
}

/// Runs one step on its engine; returns the outcome and the id of the job, if one was made.
pub(super) fn run_step(
    work: &Work,
    engines: &Engines,
    folders: &folders::OutputFolders,
    sender: &mpsc::Sender<Message>,
    seat: Option<Seat<'_>>,
) -> (Outcome, Option<String>) {
    let step = &work.step;
    match step.engine {
        EngineKind::Local => {
            let outcome = match run_local(step, engines.local, engines.decode, folders) {
                Ok(done) => Outcome::Masked(done),
                Err(error) => Outcome::Failed(error),
            };
            (outcome, None)
        }
        EngineKind::Photoshop => run_photoshop(work, engines, folders, sender, seat),
    }
}
