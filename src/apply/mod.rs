//! The reconcile loop: run the planned steps on a bounded pool of workers, write each mask
//! atomically, and record each result in the lockfile as soon as it is known.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use image::GrayImage;
use serde::Serialize;

use crate::engine::{self, Engine, EngineError, MaskRequest};
use crate::lock::{InputRecord, JobRecord, JobState, LockEntry, LockStore, OutputRecord};
use crate::manifest::{EngineKind, Step};
use crate::plan::{Action, Desired, Item, Plan, Reason};
use crate::report::{Event, Reporter};
use crate::{Error, fsutil};

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
    pub seconds: f64,
}

struct Work {
    step: Step,
    action: Action,
    desired: Desired,
}

enum Message {
    Started {
        key: String,
    },
    Done {
        work: Box<Work>,
        result: Result<Done, String>,
        submitted_at: String,
    },
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
    let mut work = Vec::new();
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
        let action = match item.action {
            Action::Unchanged if selected_by(&options.force, &item) => Action::Update {
                reasons: vec![Reason::Forced],
            },
            action => action,
        };
        match (action, item.step, item.desired) {
            (Action::Orphaned, _, _) => remove_orphan(
                &item.key,
                store,
                manifest_dir,
                options.prune,
                &mut summary,
                reporter,
            )?,
            (Action::Unchanged, _, _) => summary.unchanged += 1,
            (action, Some(step), Some(desired)) => work.push(Work {
                step,
                action,
                desired,
            }),
            (_, _, _) => unreachable!("create and update items always carry their step"),
        }
    }
    store.save()?;
    let engines = load_engines(&work)?;
    reporter.report(Event::ApplyStarted { to_run: work.len() });
    run_pool(
        work,
        &engines,
        options.jobs.max(1),
        store,
        &mut summary,
        reporter,
    )?;
    summary.seconds = started.elapsed().as_secs_f64();
    reporter.report(Event::Summary(&summary));
    Ok(summary)
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

fn remove_orphan(
    key: &str,
    store: &mut LockStore,
    manifest_dir: &Path,
    prune: bool,
    summary: &mut Summary,
    reporter: &mut dyn Reporter,
) -> Result<(), Error> {
    let Some(entry) = store.lock.images.remove(key) else {
        return Ok(());
    };
    summary.removed += 1;
    let mut pruned = false;
    let mut kept_modified = false;
    if prune && let Some(output) = &entry.output {
        let path = manifest_dir.join(&output.target);
        match fsutil::digest_file(&path) {
            // Only delete what maskflow wrote: a mask edited since is the user's work.
            Ok((_, digest)) if digest == output.digest => {
                std::fs::remove_file(&path).map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?;
                pruned = true;
                summary.pruned += 1;
            }
            Ok(_) => kept_modified = true,
            Err(_) => {}
        }
    }
    reporter.report(Event::Removed {
        key,
        pruned,
        kept_modified,
    });
    Ok(())
}

fn load_engines(work: &[Work]) -> Result<BTreeMap<EngineKind, &'static dyn Engine>, Error> {
    let mut engines = BTreeMap::new();
    for item in work {
        if let std::collections::btree_map::Entry::Vacant(slot) = engines.entry(item.step.engine) {
            slot.insert(engine::engine(item.step.engine)?);
        }
    }
    Ok(engines)
}

fn run_pool(
    work: Vec<Work>,
    engines: &BTreeMap<EngineKind, &'static dyn Engine>,
    jobs: usize,
    store: &mut LockStore,
    summary: &mut Summary,
    reporter: &mut dyn Reporter,
) -> Result<(), Error> {
    let workers = jobs.min(work.len());
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    engine::set_threads_per_job((cores / workers.max(1)).max(1));
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
                    let Some(work) = queue.lock().expect("queue lock").next() else {
                        break;
                    };
                    let _ = sender.send(Message::Started {
                        key: work.step.key.clone(),
                    });
                    let submitted_at = now();
                    let result = run_one(&work.step, engines[&work.step.engine]);
                    let _ = sender.send(Message::Done {
                        work: Box::new(work),
                        result,
                        submitted_at,
                    });
                }
            });
        }
        drop(sender);
        for message in receiver {
            match message {
                Message::Started { key } => reporter.report(Event::Started { key: &key }),
                Message::Done {
                    work,
                    result,
                    submitted_at,
                } => {
                    if let Err(e) = record(*work, result, submitted_at, store, summary, reporter) {
                        // Without a lockfile, further work would be done and then forgotten.
                        stop.store(true, Ordering::Relaxed);
                        fatal.get_or_insert(e);
                    }
                }
            }
        }
    });
    fatal.map_or(Ok(()), Err)
}

/// Masks one image: read and hash the exact bytes masked, run the engine, write the PNG.
fn run_one(step: &Step, engine: &dyn Engine) -> Result<Done, String> {
    let bytes = std::fs::read(&step.input_path)
        .map_err(|e| format!("cannot read {}: {e}", step.input_path.display()))?;
    let input = InputRecord {
        source: step.input_source.clone(),
        size: bytes.len() as u64,
        digest: fsutil::digest_bytes(&bytes),
    };
    let mask = engine
        .mask(&MaskRequest {
            input: &step.input_path,
            bytes: &bytes,
            mask: step.mask,
        })
        .map_err(|e| describe_engine_error(&e))?;
    let png = encode_png(&mask)?;
    fsutil::write_atomic(&step.output_path, &png)
        .map_err(|e| format!("cannot write {}: {e}", step.output_path.display()))?;
    Ok(Done {
        input,
        output: OutputRecord {
            target: step.key.clone(),
            size: png.len() as u64,
            digest: fsutil::digest_bytes(&png),
            width: mask.width(),
            height: mask.height(),
        },
    })
}

fn describe_engine_error(e: &EngineError) -> String {
    match e.hint() {
        Some(hint) => format!("{e} ({hint})"),
        None => e.to_string(),
    }
}

pub(crate) fn encode_png(mask: &GrayImage) -> Result<Vec<u8>, String> {
    let mut png = Vec::new();
    mask.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| format!("cannot encode the mask as PNG: {e}"))?;
    Ok(png)
}

fn record(
    work: Work,
    result: Result<Done, String>,
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
    } = work;
    let finished_at = Some(now());
    let job_id = format!("local-{}", &desired.fingerprint["blake3:".len()..][..16]);
    match result {
        Ok(done) => {
            // The fingerprint covers the bytes actually masked, which may differ from those
            // planned if the file changed meanwhile; the next plan then sees the change.
            let fingerprint =
                crate::lock::fingerprint(&done.input.digest, &desired.settings, &desired.engine);
            store.lock.images.insert(
                step.key.clone(),
                LockEntry {
                    input: done.input,
                    settings: desired.settings,
                    engine: desired.engine,
                    fingerprint,
                    output: Some(done.output.clone()),
                    job: JobRecord {
                        id: job_id,
                        state: JobState::Succeeded,
                        submitted_at,
                        finished_at,
                        error: None,
                    },
                },
            );
            store.save()?;
            match action {
                Action::Create => summary.created += 1,
                _ => summary.updated += 1,
            }
            reporter.report(Event::Finished {
                step: &step,
                action: &action,
                output: &done.output,
            });
        }
        Err(error) => {
            let previous_input = store.lock.images.get(&step.key).map(|e| e.input.clone());
            let input = fsutil::digest_file(&step.input_path)
                .map(|(size, digest)| InputRecord {
                    source: step.input_source.clone(),
                    size,
                    digest,
                })
                .ok()
                .or(previous_input)
                .unwrap_or(InputRecord {
                    source: step.input_source.clone(),
                    size: 0,
                    digest: String::new(),
                });
            store.lock.images.insert(
                step.key.clone(),
                LockEntry {
                    input,
                    settings: desired.settings,
                    engine: desired.engine,
                    fingerprint: desired.fingerprint,
                    output: None,
                    job: JobRecord {
                        id: job_id,
                        state: JobState::Failed,
                        submitted_at,
                        finished_at,
                        error: Some(error.clone()),
                    },
                },
            );
            store.save()?;
            summary.failed += 1;
            reporter.report(Event::Failed {
                step: &step,
                error: &error,
            });
        }
    }
    Ok(())
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
