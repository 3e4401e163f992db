//! Which items of the plan this run takes: `--only`, `--force`, `--shard`.

use crate::lock::{JobRecord, JobState, LockStore};
use crate::manifest::Step;
use crate::plan::{Action, Item, Plan, Reason};

use super::{Options, Summary, Work, now};

/// The plan's items sorted by what this run does with them.
pub(super) struct Selection {
    /// To run, in manifest order.
    pub work: Vec<Work>,
    /// Keys of lockfile entries no image has any more.
    pub orphans: Vec<String>,
    /// Masks someone else wrote, which this run leaves alone.
    pub held: Vec<(Step, Action)>,
    /// Inputs that cannot be read: each fails alone.
    pub unreadable: Vec<(Step, String)>,
}

/// Takes the items of `plan` this run selects (`--only`, `--shard`), turns `--force` into
/// updates, and counts the items left alone in `summary`. With `--shard`, `store` keeps only
/// the shard's entries.
pub(super) fn select(
    plan: Plan,
    store: &mut LockStore,
    options: &Options,
    summary: &mut Summary,
) -> Selection {
    let mut work = Vec::new();
    let mut orphans = Vec::new();
    // Masks someone else wrote, which this run leaves alone.
    let mut held = Vec::new();
    let mut unreadable = Vec::new();
    summary.skipped += plan.other_shards.len();
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
    Selection {
        work,
        orphans,
        held,
        unreadable,
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
