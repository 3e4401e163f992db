//! The visual report's data: one card per image, built from the plan and updated by the
//! events of a run, and the record of the last run kept beside the lockfile so that a later
//! `maskflow report` shows what that run did.
//!
//! A card's state is plain data (a short lowercase word), not an enum: the renderer gives every
//! state it meets a badge and a filter, so a new state needs no change here or there.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use image::GrayImage;
use serde::{Deserialize, Serialize};

use super::{Event, Reporter};
use crate::lock::{JobState, Lockfile, Origin};
use crate::plan::{Action, Plan, Reason};

/// The folder beside the lockfile where maskflow keeps what a later report needs. It ignores
/// itself in git, as `.pytest_cache` does, so nobody commits it by accident.
pub const CACHE_DIR: &str = ".maskflow";
const LAST_RUN: &str = "last-run.json";
const PREVIOUS_DIR: &str = "previous";
const RECORD_VERSION: u32 = 1;
/// A record larger than this is not ours (a thousand images make about 300 KB).
const MAX_RECORD_BYTES: u64 = 64 * 1024 * 1024;

/// One image of the report.
#[derive(Debug, Clone)]
pub struct Card {
    pub key: String,
    /// The input as the lockfile names it (a path, or a URL without its query string).
    pub input: Option<String>,
    /// The input file to preview, when it is local.
    pub input_path: Option<PathBuf>,
    /// The mask file to preview.
    pub mask_path: Option<PathBuf>,
    /// The engine's name, e.g. `local` or `photoshop`.
    pub engine: String,
    /// The model or API generation that made the mask, e.g. `u2netp` or `v2 API`.
    pub model: String,
    /// `created`, `updated`, `unchanged`, `failed`, `pending`, `skipped`, `removed`...
    pub state: String,
    pub reasons: Vec<String>,
    pub error: Option<String>,
    /// A small preview of the mask this run replaced.
    pub previous: Option<GrayImage>,
    /// The share of pixels that changed between the previous mask and the new one.
    pub changed: Option<f64>,
}

/// Cards for every item of `plan`, each in the state the plan gives it: `unchanged`, or
/// `pending` with the plan's reasons, or `orphaned`. A run then moves them on.
pub fn from_plan(plan: &Plan, lock: &Lockfile) -> Vec<Card> {
    plan.items
        .iter()
        .map(|item| {
            let (state, reasons) = match &item.action {
                // A mask adopted by hand gets its own badge and filter: a reviewer looks at
                // those differently from the engine's.
                Action::Unchanged if item.origin == Some(Origin::Manual) => (
                    "manual",
                    vec!["adopted by hand (maskflow adopt); kept as it is".to_owned()],
                ),
                Action::Unchanged => ("unchanged", Vec::new()),
                Action::Kept { reasons, .. } => ("kept", describe(reasons)),
                Action::Conflict { reasons } => ("conflict", describe(reasons)),
                Action::Unreadable { error } => ("failed", vec![error.clone()]),
                Action::Create => ("pending", vec!["new".to_owned()]),
                Action::Update { reasons } => ("pending", describe(reasons)),
                Action::Orphaned => (
                    "orphaned",
                    vec![
                        "no longer in the manifest; apply removes it from the lockfile".to_owned(),
                    ],
                ),
            };
            let (engine, model) = item
                .desired
                .as_ref()
                .map(|d| describe_engine(&d.engine))
                .or_else(|| {
                    lock.images
                        .get(&item.key)
                        .map(|e| describe_engine(&e.engine))
                })
                .unwrap_or_default();
            let step = item.step.as_ref();
            Card {
                key: item.key.clone(),
                input: step
                    .map(|s| s.input_source.clone())
                    .or_else(|| lock.images.get(&item.key).map(|e| e.input.source.clone())),
                input_path: step.and_then(|s| s.input.local_path().map(Path::to_owned)),
                mask_path: step.and_then(|s| s.output.local_path().map(Path::to_owned)),
                engine,
                model,
                state: state.to_owned(),
                reasons,
                error: None,
                previous: None,
                changed: None,
            }
        })
        .collect()
}

fn describe(reasons: &[Reason]) -> Vec<String> {
    reasons.iter().map(ToString::to_string).collect()
}

/// (engine, model) from a lockfile-style engine identity.
fn describe_engine(identity: &BTreeMap<String, String>) -> (String, String) {
    let engine = identity.get("name").cloned().unwrap_or_default();
    let model = match (identity.get("model"), identity.get("api")) {
        // `u2netp sha256:...`: the name says enough on a card; the digest is in the lockfile.
        (Some(model), _) => model
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned(),
        (None, Some(api)) => format!("{api} API"),
        (None, None) => String::new(),
    };
    (engine, model)
}

/// A reporter that passes every event on and moves the cards along with the run.
pub struct Recording<'a> {
    inner: &'a mut dyn Reporter,
    cards: Vec<Card>,
    index: HashMap<String, usize>,
}

impl<'a> Recording<'a> {
    pub fn new(inner: &'a mut dyn Reporter, cards: Vec<Card>) -> Self {
        let index = cards
            .iter()
            .enumerate()
            .map(|(i, c)| (c.key.clone(), i))
            .collect();
        Self {
            inner,
            cards,
            index,
        }
    }

    /// The cards once the run is over. Items the run did not touch (`--only`, `--shard`) are
    /// `skipped`.
    pub fn finish(mut self) -> Vec<Card> {
        for card in &mut self.cards {
            if card.state == "pending" {
                card.state = "skipped".to_owned();
                card.reasons
                    .push("not selected by --only or --shard in this run".to_owned());
            }
        }
        self.cards
    }

    fn card(&mut self, key: &str) -> Option<&mut Card> {
        self.index.get(key).map(|&i| &mut self.cards[i])
    }
}

impl Reporter for Recording<'_> {
    fn report(&mut self, event: Event<'_>) {
        match &event {
            Event::Finished { step, action, .. } => {
                if let Some(card) = self.card(&step.key) {
                    card.state = match action {
                        Action::Create => "created",
                        _ => "updated",
                    }
                    .to_owned();
                    card.reasons = match action {
                        Action::Update { reasons } => describe(reasons),
                        _ => vec!["new".to_owned()],
                    };
                    card.error = None;
                }
            }
            Event::Failed { step, error } => {
                if let Some(card) = self.card(&step.key) {
                    card.state = "failed".to_owned();
                    card.error = Some((*error).to_owned());
                }
            }
            Event::Replaced {
                key,
                previous,
                changed,
            } => {
                if let Some(card) = self.card(key) {
                    card.previous = Some((*previous).clone());
                    card.changed = Some(*changed);
                }
            }
            Event::Removed { key, deleted, .. } => {
                if let Some(card) = self.card(key) {
                    card.state = "removed".to_owned();
                    card.reasons = vec![
                        if deleted.is_some() {
                            "no longer in the manifest; its mask was deleted"
                        } else {
                            "no longer in the manifest; removed from the lockfile"
                        }
                        .to_owned(),
                    ];
                }
            }
            _ => {}
        }
        self.inner.report(event);
    }
}

/// What one run did to one image, as kept in `.maskflow/last-run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Recorded {
    state: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    reasons: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    changed: Option<f64>,
    /// The lockfile entry's fingerprint after the run: the record holds while it still matches.
    fingerprint: String,
    /// The file under `previous/` holding the replaced mask's preview.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunRecord {
    version: u32,
    finished_at: String,
    images: BTreeMap<String, Recorded>,
}

/// Keeps what the run did in `<lockfile's folder>/.maskflow/`, replacing the last run's
/// record and previews. Images without a lockfile entry (removed ones) are not kept.
pub fn save_last_run(dir: &Path, cards: &[Card], lock: &Lockfile) -> std::io::Result<()> {
    let cache = dir.join(CACHE_DIR);
    let previous_dir = cache.join(PREVIOUS_DIR);
    std::fs::create_dir_all(&previous_dir)?;
    let ignore = cache.join(".gitignore");
    if !ignore.exists() {
        crate::fsutil::write_atomic(
            &ignore,
            b"# maskflow's record of the last run, for `maskflow report`; safe to delete.\n*\n",
        )?;
    }
    let mut images = BTreeMap::new();
    let mut kept = Vec::new();
    for card in cards {
        let Some(entry) = lock.images.get(&card.key) else {
            continue;
        };
        let previous = match &card.previous {
            Some(preview) => {
                let name = format!("{}.png", &blake3::hash(card.key.as_bytes()).to_hex()[..32]);
                // A cache: a torn file only costs one preview, so no fsync per image.
                std::fs::write(previous_dir.join(&name), crate::thumbnail::png(preview))?;
                kept.push(name.clone());
                Some(name)
            }
            None => None,
        };
        images.insert(
            card.key.clone(),
            Recorded {
                state: card.state.clone(),
                reasons: card.reasons.clone(),
                error: card.error.clone(),
                changed: card.changed,
                fingerprint: entry.fingerprint.clone(),
                previous,
            },
        );
    }
    // Previews of earlier runs would only pile up.
    for file in std::fs::read_dir(&previous_dir)? {
        let file = file?;
        let name = file.file_name().to_string_lossy().into_owned();
        if !kept.contains(&name) {
            let _ = std::fs::remove_file(file.path());
        }
    }
    let record = RunRecord {
        version: RECORD_VERSION,
        finished_at: jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
        images,
    };
    let mut json = serde_json::to_vec_pretty(&record).expect("the record serializes");
    json.push(b'\n');
    crate::fsutil::write_atomic(&cache.join(LAST_RUN), &json)
}

/// Folds the last run's record into cards made from a fresh plan: an image whose lockfile
/// entry is still the one that run wrote, and that the plan finds up to date (or still
/// failed), shows what the run did to it; anything changed since shows as the plan sees it.
/// A missing or unreadable record leaves the cards as they are: it is only a cache.
pub fn recall_last_run(dir: &Path, cards: &mut [Card], plan: &Plan, lock: &Lockfile) {
    let cache = dir.join(CACHE_DIR);
    let path = cache.join(LAST_RUN);
    let record = std::fs::metadata(&path)
        .ok()
        .filter(|m| m.len() <= MAX_RECORD_BYTES)
        .and_then(|_| std::fs::read(&path).ok())
        .and_then(|bytes| serde_json::from_slice::<RunRecord>(&bytes).ok())
        .filter(|r| r.version == RECORD_VERSION);
    let actions: HashMap<&str, &Action> = plan
        .items
        .iter()
        .map(|i| (i.key.as_str(), &i.action))
        .collect();
    for card in cards.iter_mut() {
        let entry = lock.images.get(&card.key);
        let action = actions.get(card.key.as_str()).copied();
        let failed_before = entry.is_some_and(|e| e.job.state == JobState::Failed);
        let recorded = record
            .as_ref()
            .and_then(|r| r.images.get(&card.key))
            .filter(|r| entry.is_some_and(|e| e.fingerprint == r.fingerprint));
        match (recorded, action) {
            (Some(recorded), Some(Action::Unchanged))
                if matches!(recorded.state.as_str(), "created" | "updated" | "unchanged") =>
            {
                card.state.clone_from(&recorded.state);
                card.reasons.clone_from(&recorded.reasons);
                card.changed = recorded.changed;
                card.previous = recorded
                    .previous
                    .as_deref()
                    .filter(|name| is_preview_name(name))
                    .and_then(|name| {
                        crate::thumbnail::mask_file(&cache.join(PREVIOUS_DIR).join(name)).ok()
                    });
            }
            (_, Some(Action::Update { reasons }))
                if failed_before && reasons.contains(&Reason::PreviousRunFailed) =>
            {
                card.state = "failed".to_owned();
                card.error = entry.and_then(|e| e.job.error.clone());
            }
            _ => {}
        }
    }
}

/// Only names this module writes are read back: a record cannot point outside its folder.
fn is_preview_name(name: &str) -> bool {
    name.len() == 36 && name.ends_with(".png") && name[..32].bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_are_described_by_name_and_model() {
        let local = BTreeMap::from([
            ("name".to_owned(), "local".to_owned()),
            ("model".to_owned(), "u2netp sha256:abc".to_owned()),
        ]);
        assert_eq!(describe_engine(&local), ("local".into(), "u2netp".into()));
        let photoshop = BTreeMap::from([
            ("name".to_owned(), "photoshop".to_owned()),
            ("api".to_owned(), "v2".to_owned()),
        ]);
        assert_eq!(
            describe_engine(&photoshop),
            ("photoshop".into(), "v2 API".into())
        );
    }

    #[test]
    fn manual_masks_kept_retouches_and_conflicts_get_their_own_state() {
        let item = |key: &str, action: Action, origin: Origin| crate::plan::Item {
            key: key.to_owned(),
            action,
            step: None,
            desired: None,
            observation: None,
            origin: Some(origin),
        };
        let plan = Plan {
            items: vec![
                item("a.png", Action::Unchanged, Origin::Manual),
                item("b.png", Action::Unchanged, Origin::Generated),
                item(
                    "c.png",
                    Action::Kept {
                        reasons: vec![Reason::OutputModified],
                        policy: crate::manifest::RetouchPolicy::Keep,
                    },
                    Origin::Generated,
                ),
                item(
                    "d.png",
                    Action::Conflict {
                        reasons: vec![Reason::InputChanged],
                    },
                    Origin::Manual,
                ),
            ],
            submit_share: None,
            other_shards: Vec::new(),
        };
        let states: Vec<String> = from_plan(&plan, &Lockfile::default())
            .into_iter()
            .map(|card| card.state)
            .collect();
        assert_eq!(states, ["manual", "unchanged", "kept", "conflict"]);
    }

    #[test]
    fn only_our_own_preview_names_are_read_back() {
        assert!(is_preview_name(&format!("{}.png", "a".repeat(32))));
        assert!(!is_preview_name("../../etc/passwd"));
        assert!(!is_preview_name(&format!("{}.png", "/".repeat(32))));
    }
}
