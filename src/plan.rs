//! The plan: a pure diff of the manifest's steps against the lockfile.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::lock::{InputRecord, JobState, LockEntry, Lockfile, Origin};
use crate::manifest::{RetouchPolicy, Step};

/// What was found on disk for one step: the input's identity and the output's digest.
#[derive(Debug, Clone)]
pub struct Observation {
    pub input: InputRecord,
    /// Size and digest of the output file, if it exists.
    pub output: Option<(u64, String)>,
}

/// The desired state of one step, derived from the manifest and the engine.
#[derive(Debug, Clone)]
pub struct Desired {
    pub settings: BTreeMap<String, String>,
    pub engine: BTreeMap<String, String>,
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    InputChanged,
    SettingChanged {
        setting: String,
        from: Option<String>,
        to: Option<String>,
    },
    EngineChanged {
        from: String,
        to: String,
    },
    PreviousRunFailed,
    /// A job submitted by an earlier run that did not see it finish: it is polled, not paid for again.
    JobInFlight {
        job: String,
    },
    OutputMissing,
    OutputModified,
    Forced,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let none = || "(unset)".to_owned();
        match self {
            Reason::InputChanged => f.write_str("input changed"),
            Reason::SettingChanged { setting, from, to } => write!(
                f,
                "setting {setting} changed ({} -> {})",
                from.clone().unwrap_or_else(none),
                to.clone().unwrap_or_else(none)
            ),
            Reason::EngineChanged { from, to } => write!(f, "engine changed ({from} -> {to})"),
            Reason::PreviousRunFailed => f.write_str("previous run failed"),
            Reason::JobInFlight { job } => write!(f, "job {job} still in flight: resume it"),
            Reason::OutputMissing => f.write_str("output missing"),
            Reason::OutputModified => f.write_str("output modified"),
            Reason::Forced => f.write_str("forced"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Create,
    Update {
        reasons: Vec<Reason>,
    },
    Unchanged,
    Orphaned,
    /// The mask on disk is not the one the lockfile records: someone retouched it. It is left
    /// in place; `reasons` starts with `output_modified`, then what else would be redone.
    /// With `policy: fail` the run fails on it.
    Kept {
        reasons: Vec<Reason>,
        policy: RetouchPolicy,
    },
    /// A manual mask whose input (or settings) changed since it was adopted: only the user
    /// can say whether it still fits (`adopt`) or must be remade (`apply --force`).
    Conflict {
        reasons: Vec<Reason>,
    },
    /// The input could not be read (a URL that answers 404, a file gone or unreadable): this
    /// image fails on its own, and its lockfile entry stays as it was.
    Unreadable {
        error: String,
    },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update { .. } => "update",
            Action::Unchanged => "unchanged",
            Action::Orphaned => "orphaned",
            Action::Kept { .. } => "kept",
            Action::Conflict { .. } => "conflict",
            Action::Unreadable { .. } => "unreadable",
        }
    }

    /// Whether `apply` would do something for this item.
    pub fn is_change(&self) -> bool {
        matches!(
            self,
            Action::Create | Action::Update { .. } | Action::Orphaned
        )
    }
}

/// One line of the plan.
#[derive(Debug, Clone)]
pub struct Item {
    pub key: String,
    pub action: Action,
    /// The step, for everything still in the manifest (not for orphans).
    pub step: Option<Step>,
    pub desired: Option<Desired>,
    pub observation: Option<Observation>,
    /// Who made the mask the lockfile records, when it records one.
    pub origin: Option<Origin>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub create: usize,
    pub update: usize,
    pub unchanged: usize,
    pub orphaned: usize,
    /// Masks modified outside maskflow, left in place (any policy but `remake`).
    pub kept: usize,
    pub conflict: usize,
    pub unreadable: usize,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub items: Vec<Item>,
    /// With `--shard` and the `photoshop` engine: the submission quota the shard keeps to.
    pub submit_share: Option<crate::shard::share::SubmitShare>,
    /// `apply --shard`: the other shards' steps, neither observed (a bucket's changed objects
    /// are downloaded by their own shard only) nor run; their inputs stay off limits to prune.
    pub other_shards: Vec<Step>,
}

impl Plan {
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for item in &self.items {
            match item.action {
                Action::Create => counts.create += 1,
                Action::Update { .. } => counts.update += 1,
                Action::Unchanged => counts.unchanged += 1,
                Action::Orphaned => counts.orphaned += 1,
                Action::Kept { .. } => counts.kept += 1,
                Action::Conflict { .. } => counts.conflict += 1,
                Action::Unreadable { .. } => counts.unreadable += 1,
            }
        }
        counts
    }

    /// Whether applying would change anything. A kept mask or a conflict is not a change:
    /// `apply` leaves both alone.
    pub fn has_changes(&self) -> bool {
        self.items.iter().any(|i| i.action.is_change())
    }

    /// Whether a manual mask waits for the user to choose between `adopt` and `--force`.
    pub fn has_conflicts(&self) -> bool {
        self.items
            .iter()
            .any(|i| matches!(i.action, Action::Conflict { .. }))
    }

    /// Whether a retouched mask's policy (`retouched: fail`) makes the run fail.
    pub fn has_refusals(&self) -> bool {
        self.items.iter().any(|i| {
            matches!(
                i.action,
                Action::Kept {
                    policy: RetouchPolicy::Fail,
                    ..
                }
            )
        })
    }

    /// Whether some input could not be read: `plan` then exits 1, after showing the rest.
    pub fn has_failures(&self) -> bool {
        self.items
            .iter()
            .any(|i| matches!(i.action, Action::Unreadable { .. }))
    }
}

/// Diffs `steps` (with what was observed on disk and what is desired) against `lock`.
pub fn diff(steps: Vec<(Step, Observation, Desired)>, lock: &Lockfile) -> Plan {
    diff_with_unreadable(steps, Vec::new(), lock)
}

/// [`diff`], plus the steps whose input could not be read, with why. Those are still in the
/// manifest, so their lockfile entries are not orphaned.
pub fn diff_with_unreadable(
    steps: Vec<(Step, Observation, Desired)>,
    unreadable: Vec<(Step, String)>,
    lock: &Lockfile,
) -> Plan {
    let mut items = Vec::with_capacity(steps.len() + unreadable.len());
    let mut present = HashSet::new();
    for (step, error) in unreadable {
        present.insert(step.key.clone());
        items.push(Item {
            key: step.key.clone(),
            action: Action::Unreadable { error },
            origin: lock.images.get(&step.key).map(|e| e.origin),
            step: Some(step),
            desired: None,
            observation: None,
        });
    }
    for (step, observation, desired) in steps {
        present.insert(step.key.clone());
        let action = match lock.images.get(&step.key) {
            None => Action::Create,
            Some(entry)
                if entry.job.state == JobState::Submitted
                    && entry.fingerprint == desired.fingerprint =>
            {
                Action::Update {
                    reasons: vec![Reason::JobInFlight {
                        job: entry.job.id.clone(),
                    }],
                }
            }
            Some(entry) => classify(entry, &observation, &desired, step.retouched),
        };
        items.push(Item {
            key: step.key.clone(),
            action,
            origin: lock.images.get(&step.key).map(|e| e.origin),
            step: Some(step),
            desired: Some(desired),
            observation: Some(observation),
        });
    }
    for key in lock.images.keys().filter(|k| !present.contains(*k)) {
        items.push(Item {
            key: key.clone(),
            action: Action::Orphaned,
            step: None,
            desired: None,
            observation: None,
            origin: Some(lock.images[key].origin),
        });
    }
    items.sort_by(|a, b| a.key.cmp(&b.key));
    Plan {
        items,
        submit_share: None,
        other_shards: Vec::new(),
    }
}

/// What to do for a step the lockfile knows, when no job of it is in flight.
fn classify(
    entry: &LockEntry,
    observation: &Observation,
    desired: &Desired,
    policy: RetouchPolicy,
) -> Action {
    let mut reasons = Vec::new();
    if entry.input.digest != observation.input.digest {
        reasons.push(Reason::InputChanged);
    }
    reasons.extend(setting_changes(&entry.settings, &desired.settings));
    // A person made a manual mask, not the engine: a new model does not make it stale.
    let engine_matters = entry.origin == Origin::Generated;
    if engine_matters && entry.engine != desired.engine {
        reasons.push(Reason::EngineChanged {
            from: describe_engine(&entry.engine),
            to: describe_engine(&desired.engine),
        });
    }
    if engine_matters && reasons.is_empty() && entry.fingerprint != desired.fingerprint {
        // Only a change in how fingerprints are computed gets here.
        reasons.push(Reason::EngineChanged {
            from: describe_engine(&entry.engine),
            to: describe_engine(&desired.engine),
        });
    }
    let mut retouched = false;
    match (&entry.output, &observation.output) {
        _ if entry.job.state == JobState::Failed => reasons.push(Reason::PreviousRunFailed),
        // Nothing on disk is nobody's work: remake it, whoever made it.
        (None, _) | (Some(_), None) => {
            reasons.push(Reason::OutputMissing);
            return Action::Update { reasons };
        }
        (Some(recorded), Some((_, digest))) => retouched = &recorded.digest != digest,
    }
    if entry.origin == Origin::Manual && !reasons.is_empty() {
        if retouched {
            reasons.push(Reason::OutputModified);
        }
        return Action::Conflict { reasons };
    }
    match (retouched, policy) {
        (false, _) if reasons.is_empty() => Action::Unchanged,
        (false, _) => Action::Update { reasons },
        (true, RetouchPolicy::Remake) => {
            reasons.push(Reason::OutputModified);
            Action::Update { reasons }
        }
        (true, policy) => {
            reasons.insert(0, Reason::OutputModified);
            Action::Kept { reasons, policy }
        }
    }
}

fn setting_changes(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Vec<Reason> {
    let names: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    names
        .into_iter()
        .filter(|name| old.get(*name) != new.get(*name))
        .map(|name| Reason::SettingChanged {
            setting: name.clone(),
            from: old.get(name).cloned(),
            to: new.get(name).cloned(),
        })
        .collect()
}

fn describe_engine(identity: &BTreeMap<String, String>) -> String {
    identity
        .iter()
        .map(|(k, v)| {
            let short = if v.len() > 19 { &v[..19] } else { v };
            format!("{k}={short}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::{JobRecord, LockEntry, OutputRecord};
    use crate::manifest::{EngineKind, MaskMode, Pos};

    fn step(key: &str) -> Step {
        Step {
            key: key.into(),
            input_source: format!("in/{key}"),
            input: crate::manifest::Input::Local(format!("in/{key}").into()),
            output: crate::manifest::Output::File(key.into()),
            mask: MaskMode::Soft,
            engine: EngineKind::Local,
            mask_url: None,
            mask_read_url: None,
            origin: Pos::START,
            retouched: RetouchPolicy::Keep,
            output_kind: crate::manifest::OutputKind::Mask,
            model: None,
        }
    }

    fn observed(input: &str, output: Option<&str>) -> Observation {
        Observation {
            input: InputRecord {
                source: "in".into(),
                size: 1,
                digest: input.into(),
                etag: None,
                last_modified: None,
            },
            output: output.map(|d| (1, d.to_owned())),
        }
    }

    fn desired(mask: &str) -> Desired {
        let settings = BTreeMap::from([("mask".to_owned(), mask.to_owned())]);
        let engine = BTreeMap::from([("name".to_owned(), "local".to_owned())]);
        Desired {
            fingerprint: crate::lock::fingerprint("i1", &settings, &engine),
            settings,
            engine,
        }
    }

    fn locked(input: &str, mask: &str, output: &str) -> LockEntry {
        let d = desired(mask);
        LockEntry {
            input: InputRecord {
                source: "in".into(),
                size: 1,
                digest: input.into(),
                etag: None,
                last_modified: None,
            },
            settings: d.settings,
            engine: d.engine,
            fingerprint: d.fingerprint,
            output: Some(OutputRecord {
                target: "k".into(),
                size: 1,
                digest: output.into(),
                width: 1,
                height: 1,
                etag: None,
            }),
            job: JobRecord {
                id: "j".into(),
                state: JobState::Succeeded,
                href: None,
                submitted_at: "t".into(),
                finished_at: None,
                error: None,
            },
            origin: Origin::Generated,
        }
    }

    fn action_for(entry: Option<LockEntry>, obs: Observation, want: Desired) -> Action {
        let mut lock = Lockfile::default();
        if let Some(e) = entry {
            lock.images.insert("k".into(), e);
        }
        diff(vec![(step("k"), obs, want)], &lock).items[0]
            .action
            .clone()
    }

    #[test]
    fn classifies_every_case() {
        let same = || locked("i1", "soft", "o1");
        assert_eq!(
            action_for(None, observed("i1", None), desired("soft")),
            Action::Create
        );
        assert_eq!(
            action_for(Some(same()), observed("i1", Some("o1")), desired("soft")),
            Action::Unchanged
        );
        assert_eq!(
            action_for(Some(same()), observed("i2", Some("o1")), desired("soft")),
            Action::Update {
                reasons: vec![Reason::InputChanged]
            }
        );
        assert_eq!(
            action_for(Some(same()), observed("i1", Some("o1")), desired("binary")),
            Action::Update {
                reasons: vec![Reason::SettingChanged {
                    setting: "mask".into(),
                    from: Some("soft".into()),
                    to: Some("binary".into())
                }]
            }
        );
        assert_eq!(
            action_for(Some(same()), observed("i1", None), desired("soft")),
            Action::Update {
                reasons: vec![Reason::OutputMissing]
            }
        );
        assert_eq!(
            action_for(Some(same()), observed("i1", Some("o2")), desired("soft")),
            Action::Kept {
                reasons: vec![Reason::OutputModified],
                policy: RetouchPolicy::Keep
            }
        );
        let mut other_engine = desired("soft");
        other_engine
            .engine
            .insert("model".into(), "u2net sha256:ff".into());
        assert!(matches!(
            action_for(Some(same()), observed("i1", Some("o1")), other_engine),
            Action::Update { reasons } if matches!(reasons.as_slice(), [Reason::EngineChanged { .. }])
        ));
        let mut failed = same();
        failed.job.state = JobState::Failed;
        failed.output = None;
        assert_eq!(
            action_for(Some(failed), observed("i1", None), desired("soft")),
            Action::Update {
                reasons: vec![Reason::PreviousRunFailed]
            }
        );
        let mut in_flight = same();
        in_flight.job.state = JobState::Submitted;
        in_flight.output = None;
        assert_eq!(
            action_for(
                Some(in_flight.clone()),
                observed("i1", None),
                desired("soft")
            ),
            Action::Update {
                reasons: vec![Reason::JobInFlight { job: "j".into() }]
            }
        );
        // A job for input that has since changed is abandoned, not resumed.
        let mut changed = desired("soft");
        changed.fingerprint = crate::lock::fingerprint("i2", &changed.settings, &changed.engine);
        assert!(matches!(
            action_for(Some(in_flight), observed("i2", None), changed),
            Action::Update { reasons } if reasons.contains(&Reason::InputChanged)
        ));
    }

    fn action_with_policy(
        entry: LockEntry,
        obs: Observation,
        want: Desired,
        policy: RetouchPolicy,
    ) -> Action {
        let mut lock = Lockfile::default();
        lock.images.insert("k".into(), entry);
        let mut step = step("k");
        step.retouched = policy;
        diff(vec![(step, obs, want)], &lock).items[0].action.clone()
    }

    #[test]
    fn a_retouched_mask_follows_its_policy() {
        let same = || locked("i1", "soft", "o1");
        let retouched = || observed("i1", Some("o2"));
        let kept = |policy| Action::Kept {
            reasons: vec![Reason::OutputModified],
            policy,
        };
        for policy in [RetouchPolicy::Keep, RetouchPolicy::Fail] {
            assert_eq!(
                action_with_policy(same(), retouched(), desired("soft"), policy),
                kept(policy)
            );
        }
        assert_eq!(
            action_with_policy(same(), retouched(), desired("soft"), RetouchPolicy::Remake),
            Action::Update {
                reasons: vec![Reason::OutputModified]
            }
        );
        // A retouch is kept even when its input changed too: it was someone's work.
        assert_eq!(
            action_for(Some(same()), observed("i2", Some("o2")), desired("soft")),
            Action::Kept {
                reasons: vec![Reason::OutputModified, Reason::InputChanged],
                policy: RetouchPolicy::Keep
            }
        );
        let mut plan = Plan {
            items: vec![Item {
                key: "k".into(),
                action: kept(RetouchPolicy::Keep),
                step: None,
                desired: None,
                observation: None,
                origin: Some(Origin::Generated),
            }],
            submit_share: None,
            other_shards: Vec::new(),
        };
        assert!(!plan.has_changes() && !plan.has_conflicts() && !plan.has_refusals());
        assert_eq!(plan.counts().kept, 1);
        plan.items[0].action = kept(RetouchPolicy::Fail);
        assert!(plan.has_refusals());
    }

    #[test]
    fn a_manual_mask_is_kept_until_its_input_or_settings_change() {
        let manual = || LockEntry {
            origin: Origin::Manual,
            ..locked("i1", "soft", "o1")
        };
        assert_eq!(
            action_for(Some(manual()), observed("i1", Some("o1")), desired("soft")),
            Action::Unchanged
        );
        // A new model does not make a hand-made mask stale.
        let mut other_engine = desired("soft");
        other_engine.engine.insert("model".into(), "u2net".into());
        assert_eq!(
            action_for(Some(manual()), observed("i1", Some("o1")), other_engine),
            Action::Unchanged
        );
        assert_eq!(
            action_for(Some(manual()), observed("i2", Some("o1")), desired("soft")),
            Action::Conflict {
                reasons: vec![Reason::InputChanged]
            }
        );
        assert!(matches!(
            action_for(Some(manual()), observed("i1", Some("o1")), desired("binary")),
            Action::Conflict { reasons } if matches!(reasons.as_slice(), [Reason::SettingChanged { .. }])
        ));
        assert_eq!(
            action_for(Some(manual()), observed("i2", Some("o3")), desired("soft")),
            Action::Conflict {
                reasons: vec![Reason::InputChanged, Reason::OutputModified]
            }
        );
        // Retouched again after adoption: kept, like any retouch.
        assert_eq!(
            action_for(Some(manual()), observed("i1", Some("o3")), desired("soft")),
            Action::Kept {
                reasons: vec![Reason::OutputModified],
                policy: RetouchPolicy::Keep
            }
        );
        // Deleted: nothing is left to protect, so it is remade.
        assert_eq!(
            action_for(Some(manual()), observed("i1", None), desired("soft")),
            Action::Update {
                reasons: vec![Reason::OutputMissing]
            }
        );
        let mut lock = Lockfile::default();
        lock.images.insert("k".into(), manual());
        let plan = diff(
            vec![(step("k"), observed("i2", Some("o1")), desired("soft"))],
            &lock,
        );
        assert_eq!(plan.items[0].origin, Some(Origin::Manual));
        assert!(plan.has_conflicts() && !plan.has_changes());
    }

    #[test]
    fn an_unreadable_input_is_neither_a_change_nor_an_orphan() {
        let mut lock = Lockfile::default();
        lock.images.insert("k".into(), locked("i1", "soft", "o1"));
        let plan =
            diff_with_unreadable(vec![], vec![(step("k"), "GET answered 404".into())], &lock);
        assert_eq!(plan.items.len(), 1);
        assert!(matches!(plan.items[0].action, Action::Unreadable { .. }));
        assert!(!plan.has_changes());
        assert!(plan.has_failures());
        assert_eq!(plan.counts().unreadable, 1);
    }

    #[test]
    fn lock_entries_gone_from_the_manifest_are_orphaned() {
        let mut lock = Lockfile::default();
        lock.images
            .insert("gone.png".into(), locked("i1", "soft", "o1"));
        let plan = diff(vec![], &lock);
        assert_eq!(plan.items[0].action, Action::Orphaned);
        assert!(plan.has_changes());
        assert_eq!(plan.counts().orphaned, 1);
    }
}
