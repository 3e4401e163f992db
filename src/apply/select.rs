//! Which items of the plan this run takes: `--only`, `--force`, `--shard`.

use crate::lock::{JobRecord, JobState, LockStore};
use crate::plan::Item;

use super::now;

/// The lockfile's record of job `id` of `key` (with the status link the service gave).
pub(super) fn recorded_job(store: &LockStore, key: &str, id: &str) -> JobRecord {
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

pub(super) fn selected(only: &[glob::Pattern], item: &Item) -> bool {
    only.is_empty() || selected_by(only, item)
}

pub(super) fn selected_by(patterns: &[glob::Pattern], item: &Item) -> bool {
    let input = item.step.as_ref().map(|s| s.input_source.as_str());
    patterns
        .iter()
        .any(|p| p.matches(&item.key) || input.is_some_and(|i| p.matches(i)))
}
