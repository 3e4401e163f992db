//! The plan: a pure diff of the manifest's steps against the lockfile.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::Serialize;

use crate::lock::{InputRecord, JobState, Lockfile};
use crate::manifest::Step;

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Create,
    Update { reasons: Vec<Reason> },
    Unchanged,
    Orphaned,
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update { .. } => "update",
            Action::Unchanged => "unchanged",
            Action::Orphaned => "orphaned",
        }
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
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub create: usize,
    pub update: usize,
    pub unchanged: usize,
    pub orphaned: usize,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub items: Vec<Item>,
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
            }
        }
        counts
    }

    /// Whether applying would change anything.
    pub fn has_changes(&self) -> bool {
        self.items.iter().any(|i| i.action != Action::Unchanged)
    }
}

/// Diffs `steps` (with what was observed on disk and what is desired) against `lock`.
pub fn diff(steps: Vec<(Step, Observation, Desired)>, lock: &Lockfile) -> Plan {
    let mut items = Vec::with_capacity(steps.len());
    let mut present = HashSet::new();
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
            Some(entry) => {
                let mut reasons = Vec::new();
                if entry.input.digest != observation.input.digest {
                    reasons.push(Reason::InputChanged);
                }
                reasons.extend(setting_changes(&entry.settings, &desired.settings));
                if entry.engine != desired.engine {
                    reasons.push(Reason::EngineChanged {
                        from: describe_engine(&entry.engine),
                        to: describe_engine(&desired.engine),
                    });
                }
                if reasons.is_empty() && entry.fingerprint != desired.fingerprint {
                    // Only a change in how fingerprints are computed gets here.
                    reasons.push(Reason::EngineChanged {
                        from: describe_engine(&entry.engine),
                        to: describe_engine(&desired.engine),
                    });
                }
                match (&entry.output, &observation.output) {
                    _ if entry.job.state == JobState::Failed => {
                        reasons.push(Reason::PreviousRunFailed)
                    }
                    (None, _) | (Some(_), None) => reasons.push(Reason::OutputMissing),
                    (Some(recorded), Some((_, digest))) if &recorded.digest != digest => {
                        reasons.push(Reason::OutputModified)
                    }
                    _ => {}
                }
                if reasons.is_empty() {
                    Action::Unchanged
                } else {
                    Action::Update { reasons }
                }
            }
        };
        items.push(Item {
            key: step.key.clone(),
            action,
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
        });
    }
    items.sort_by(|a, b| a.key.cmp(&b.key));
    Plan { items }
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
            output_path: key.into(),
            mask: MaskMode::Soft,
            engine: EngineKind::Local,
            mask_url: None,
            mask_read_url: None,
            origin: Pos::START,
        }
    }

    fn observed(input: &str, output: Option<&str>) -> Observation {
        Observation {
            input: InputRecord {
                source: "in".into(),
                size: 1,
                digest: input.into(),
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
            }),
            job: JobRecord {
                id: "j".into(),
                state: JobState::Succeeded,
                href: None,
                submitted_at: "t".into(),
                finished_at: None,
                error: None,
            },
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
            Action::Update {
                reasons: vec![Reason::OutputModified]
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
