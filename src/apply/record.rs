//! Writing what the run learns to the lockfile (and telling the reporter), one item at a time.

use std::path::Path;
use std::sync::mpsc;

use crate::Error;
use crate::engine::photoshop::JobHandle;
use crate::lock::{JobRecord, JobState, LockEntry, LockStore, Origin};
use crate::manifest::{RetouchPolicy, Step};
use crate::plan::Action;
use crate::report::{Event, Reporter};
use crate::storage::ObjectUrl;
use crate::summary::Kept;

use super::{Message, Outcome, Replaced, Summary, Work, now, prune};

/// Tells the user about a mask this run leaves in place, and counts it.
pub(super) fn report_held(
    step: &Step,
    action: &Action,
    summary: &mut Summary,
    reporter: &mut dyn Reporter,
) {
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

/// What `--prune` may delete: files that are no input, objects under the outputs' folders.
pub(super) struct PruneScope {
    pub files: prune::Inputs,
    pub objects: prune::Objects,
}

/// Drops an orphaned entry; with `--prune` (`scope` given), deletes its mask if that is safe
/// (see `prune`).
pub(super) fn remove_orphan(
    key: &str,
    store: &mut LockStore,
    manifest_dir: &Path,
    scope: Option<&PruneScope>,
    summary: &mut Summary,
    reporter: &mut dyn Reporter,
) -> Result<(), Error> {
    let Some(entry) = store.lock.images.remove(key) else {
        return Ok(());
    };
    summary.removed += 1;
    let mut deleted = None;
    let mut kept = None;
    if let (Some(_), Some(_), Origin::Manual) = (scope, &entry.output, entry.origin) {
        // An adopted mask is a person's decision, whatever its digest says.
        kept = Some(Kept::Manual);
    } else if let (Some(scope), Some(output)) = (scope, &entry.output) {
        let pruned = match ObjectUrl::parse(&output.target) {
            Some(Ok(object)) => {
                prune::prune_object(&object, output, &scope.objects).map_err(|source| {
                    Error::PruneObject {
                        key: key.to_owned(),
                        source,
                    }
                })?
            }
            // The lockfile's rules refuse a target that is neither a path nor an object URL.
            Some(Err(_)) => prune::Pruned::Missing,
            None => prune::prune(manifest_dir, &output.target, &output.digest, &scope.files)
                .map_err(|source| Error::Prune {
                    key: key.to_owned(),
                    path: manifest_dir.join(&output.target),
                    source,
                })?,
        };
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

/// Has the main thread write the job to the lockfile, and waits until it has: waiting on a
/// job that is not in the lockfile would pay twice after a crash.
pub(super) fn record_submission(
    work: &Work,
    job: &JobHandle,
    sender: &mpsc::Sender<Message>,
) -> bool {
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

pub(super) fn record(
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
            record_entry(
                store,
                &step.key,
                LockEntry {
                    input: with_validator(done.input, &observed),
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
        Outcome::Failed(error) if error.is_unfinished() => {
            // The lockfile already says "submitted"; leaving it so is what lets the next run resume.
            let error = crate::redact::redact_text(&error.describe());
            summary.failed += 1;
            summary.in_flight += 1;
            reporter.report(Event::Failed {
                step: &step,
                error: &error,
            });
        }
        Outcome::Failed(error) => {
            let error = crate::redact::redact_text(&error.describe());
            record_entry(
                store,
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
    }
    Ok(())
}

/// Writes one image's entry; a failure names the image being recorded.
fn record_entry(store: &mut LockStore, key: &str, entry: LockEntry) -> Result<(), Error> {
    store.record(key, entry).map_err(|source| Error::Record {
        key: key.to_owned(),
        source,
    })
}

/// The bytes masked, with the ETag (or Last-Modified) plan saw for them when they are the
/// same bytes, so that the next plan can skip downloading them.
fn with_validator(
    mut masked: crate::lock::InputRecord,
    planned: &crate::lock::InputRecord,
) -> crate::lock::InputRecord {
    if masked.digest == planned.digest && masked.source == planned.source {
        masked.etag = masked.etag.or_else(|| planned.etag.clone());
        masked.last_modified = masked
            .last_modified
            .or_else(|| planned.last_modified.clone());
    }
    masked
}
