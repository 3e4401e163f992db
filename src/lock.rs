//! The lockfile (`maskflow.lock`): what each mask was made from, how, and what came out.
//! Deterministic JSON (sorted keys, fixed formatting), rewritten only when its bytes change.
//! During a run, results go to its journal first (see `journal`); every entry read from
//! either file is checked against the rules of `rules`.

pub mod journal;
pub mod rules;

pub use rules::{KeyProblem, check_object_key};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::fsutil;

pub const LOCK_VERSION: u32 = 1;

/// maskflow's record of the masks it made. Written by maskflow; commit it, do not edit it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "maskflow lockfile")]
pub struct Lockfile {
    /// Lockfile format version. Must be 1.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// One entry per mask, keyed by the output path relative to the manifest's folder.
    pub images: BTreeMap<String, LockEntry>,
}

impl Default for Lockfile {
    fn default() -> Self {
        Self {
            version: LOCK_VERSION,
            images: BTreeMap::new(),
        }
    }
}

/// Everything that shaped one mask.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LockEntry {
    pub input: InputRecord,
    /// The settings that shaped the mask, normalized (defaults applied).
    pub settings: BTreeMap<String, String>,
    /// The engine's identity: its name and whatever else changes its output (e.g. the model digest).
    pub engine: BTreeMap<String, String>,
    /// BLAKE3 over the input digest, the settings and the engine identity.
    pub fingerprint: String,
    /// The mask written, if the job succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputRecord>,
    pub job: JobRecord,
    /// Who made the mask: maskflow (`generated`, the default, not written) or a person
    /// (`manual`, recorded by `maskflow adopt`; maskflow never overwrites it on its own).
    #[serde(default, skip_serializing_if = "Origin::is_generated")]
    pub origin: Origin,
}

/// Who made a mask.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Made by an engine in `maskflow apply`.
    #[default]
    Generated,
    /// Made or retouched by hand, and recorded with `maskflow adopt`.
    Manual,
}

impl Origin {
    pub fn is_generated(&self) -> bool {
        *self == Origin::Generated
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Generated => "generated",
            Origin::Manual => "manual",
        }
    }
}

/// The input image as it was when the mask was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputRecord {
    /// Path relative to the manifest's folder (or URL without its query string).
    pub source: String,
    /// Size in bytes.
    pub size: u64,
    /// Content digest, `blake3:<hex>`.
    pub digest: String,
    /// Remote inputs: the ETag (or generation/version) the store gave for these bytes. While
    /// it and the size stay the same, `plan` trusts `digest` without downloading again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The `Last-Modified` the server gave: `https://` inputs without an ETag, and cloud
    /// objects (RFC 3339; for stores whose listings carry no ETag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

impl InputRecord {
    /// A record without a validator (a local file, or a server that sends none).
    pub fn new(source: String, size: u64, digest: String) -> Self {
        Self {
            source,
            size,
            digest,
            etag: None,
            last_modified: None,
        }
    }
}

/// The mask written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputRecord {
    /// Path relative to the manifest's folder, or the object's URL (`s3://bucket/key`).
    pub target: String,
    /// Size in bytes.
    pub size: u64,
    /// Content digest, `blake3:<hex>`.
    pub digest: String,
    pub width: u32,
    pub height: u32,
    /// Masks written to a bucket: the ETag (or generation/version) the store gave them.
    /// While a HEAD answers the same, `plan` knows nobody replaced the mask without
    /// downloading it, and `apply --prune` may delete it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// The job that made (or failed to make) the mask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRecord {
    pub id: String,
    pub state: JobState,
    /// The status link the service returned for the job, polled when a later run resumes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
    /// RFC 3339, UTC.
    pub submitted_at: String,
    /// RFC 3339, UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Submitted,
    Succeeded,
    Failed,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot read lockfile {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: lockfile is not valid: {message}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("lockfile {} has version {found}; this maskflow reads version {LOCK_VERSION}", path.display())]
    Version { path: PathBuf, found: u32 },
    #[error("{} and {} disagree on `{key}`", first.display(), second.display())]
    Conflict {
        key: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error(
        "`{key}` is a manual mask in {} but a generated one in {}",
        manual.display(),
        generated.display()
    )]
    OriginConflict {
        key: String,
        manual: PathBuf,
        generated: PathBuf,
    },
    #[error("cannot write lockfile {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: entry `{}` {problem}", path.display(), key.escape_debug())]
    Unsafe {
        /// The lockfile (or journal) that holds the entry.
        path: PathBuf,
        key: String,
        problem: rules::KeyProblem,
    },
    #[error("{}:{line}:{column}: journal record is not valid: {message}", path.display())]
    Journal {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

impl LockError {
    pub fn hint(&self) -> Option<String> {
        match self {
            LockError::Parse { .. } | LockError::Version { .. } => Some(
                "restore it from version control, or delete it to rebuild every mask".to_owned(),
            ),
            LockError::Conflict { .. } => Some(
                "merge the partial lockfiles of one sharded run, each shard run once".to_owned(),
            ),
            LockError::Unsafe { .. } => Some(
                "maskflow never writes such an entry, so the file was edited (by hand, a bad \
                 merge or a pull request); nothing was deleted or written. Restore it from \
                 version control, or remove the entry"
                    .to_owned(),
            ),
            LockError::Journal { .. } => Some(
                "the journal holds what a killed run finished; delete it to run those images again"
                    .to_owned(),
            ),
            LockError::OriginConflict {
                key,
                manual,
                generated,
            } => Some(format!(
                "the mask was adopted by hand in {} and remade by a run in {}; merge only the \
                 parts of one sharded run, then `maskflow adopt {key}` keeps the mask on disk \
                 or `maskflow apply --force {key}` remakes it",
                manual.display(),
                generated.display()
            )),
            _ => None,
        }
    }
}

/// The lockfile on disk plus the bytes last seen there, so unchanged content is never
/// rewritten, plus its journal.
#[derive(Debug)]
pub struct LockStore {
    path: PathBuf,
    on_disk: Option<Vec<u8>>,
    pub lock: Lockfile,
    journal: journal::Journal,
}

impl LockStore {
    /// Reads the lockfile, with the journal a killed run left folded in (in memory: only
    /// `save` writes); a missing file is an empty lock. Every entry is checked against the
    /// manifest's folder `root`, and one that breaks the rules refuses the whole file.
    pub fn open(path: &Path, root: &Path) -> Result<Self, LockError> {
        let on_disk = match std::fs::read(path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(LockError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let mut lock = match &on_disk {
            None => Lockfile::default(),
            Some(bytes) => parse(path, bytes)?,
        };
        let root = rules::Root::new(root);
        check_all(path, &lock, &root)?;
        let journal_path = journal::path_for(path);
        let records = journal::read(&journal_path, &root)?;
        let present = records.is_some();
        for (key, entry) in records.into_iter().flatten() {
            lock.images.insert(key, entry);
        }
        Ok(Self {
            path: path.to_owned(),
            on_disk,
            lock,
            journal: journal::Journal::new(journal_path, present),
        })
    }

    /// A store that will write `lock` to `path`, whatever is there now (its journal too).
    pub fn replacing(path: &Path, lock: Lockfile) -> Self {
        let journal_path = journal::path_for(path);
        let present = journal_path.exists();
        Self {
            path: path.to_owned(),
            on_disk: std::fs::read(path).ok(),
            lock,
            journal: journal::Journal::new(journal_path, present),
        }
    }

    /// Sets the entry of `key` and makes it durable: appended to the journal and fsynced
    /// before this returns, folded into the lockfile when a fold is due.
    pub fn record(&mut self, key: &str, entry: LockEntry) -> Result<(), LockError> {
        self.journal
            .append(key, &entry)
            .map_err(|source| LockError::Write {
                path: self.journal.path().to_owned(),
                source,
            })?;
        self.lock.images.insert(key.to_owned(), entry);
        let lock_bytes = self.on_disk.as_ref().map_or(0, |b| b.len() as u64);
        if self.journal.fold_due(lock_bytes) {
            self.save()?;
        }
        Ok(())
    }

    /// Writes the lockfile if its serialized bytes differ from what is on disk, then drops
    /// the journal, whose records it now holds.
    pub fn save(&mut self) -> Result<bool, LockError> {
        let bytes = to_bytes(&self.lock);
        let changed = self.on_disk.as_deref() != Some(bytes.as_slice());
        if changed {
            fsutil::write_atomic(&self.path, &bytes).map_err(|source| LockError::Write {
                path: self.path.clone(),
                source,
            })?;
            self.on_disk = Some(bytes);
        }
        self.journal.clear().map_err(|source| LockError::Write {
            path: self.journal.path().to_owned(),
            source,
        })?;
        Ok(changed)
    }
}

/// Checks every entry of `lock` (read from `path`) against the rules.
fn check_all(path: &Path, lock: &Lockfile, root: &rules::Root) -> Result<(), LockError> {
    for (key, entry) in &lock.images {
        rules::check_entry(key, entry)
            .and_then(|()| root.check_reach(key))
            .map_err(|problem| LockError::Unsafe {
                path: path.to_owned(),
                key: key.clone(),
                problem,
            })?;
    }
    Ok(())
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Lockfile, LockError> {
    // Check the version first, so a newer lockfile gets a version error, not a field error.
    #[derive(Deserialize)]
    struct VersionOnly {
        version: u32,
    }
    let parse_error = |e: serde_json::Error| LockError::Parse {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    };
    let version: VersionOnly = serde_json::from_slice(bytes).map_err(parse_error)?;
    if version.version != LOCK_VERSION {
        return Err(LockError::Version {
            path: path.to_owned(),
            found: version.version,
        });
    }
    serde_json::from_slice(bytes).map_err(parse_error)
}

/// Combines partial lockfiles: every key from every part; the same key twice is fine only
/// when both entries are identical. A manual entry against a generated one is named as such:
/// silently keeping either would undo a person's decision or a run's work.
pub fn merge(parts: &[(PathBuf, Lockfile)]) -> Result<Lockfile, LockError> {
    let mut merged = Lockfile::default();
    let mut found_in: BTreeMap<&str, &Path> = BTreeMap::new();
    for (path, part) in parts {
        for (key, entry) in &part.images {
            // `LockStore::open` checked the parts it read; a part from elsewhere is checked
            // here too, so no merged lockfile holds an entry that leads out.
            rules::check_entry(key, entry).map_err(|problem| LockError::Unsafe {
                path: path.clone(),
                key: key.clone(),
                problem,
            })?;
            match merged.images.get(key) {
                Some(existing) if existing != entry => {
                    let first = found_in[key.as_str()].to_owned();
                    return Err(match (existing.origin, entry.origin) {
                        (Origin::Manual, Origin::Generated) => LockError::OriginConflict {
                            key: key.clone(),
                            manual: first,
                            generated: path.clone(),
                        },
                        (Origin::Generated, Origin::Manual) => LockError::OriginConflict {
                            key: key.clone(),
                            manual: path.clone(),
                            generated: first,
                        },
                        _ => LockError::Conflict {
                            key: key.clone(),
                            first,
                            second: path.clone(),
                        },
                    });
                }
                Some(_) => {}
                None => {
                    merged.images.insert(key.clone(), entry.clone());
                    found_in.insert(key, path);
                }
            }
        }
    }
    Ok(merged)
}

/// The canonical bytes of a lockfile: pretty JSON, sorted keys, trailing newline.
pub fn to_bytes(lock: &Lockfile) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(lock).expect("a lockfile always serializes");
    bytes.push(b'\n');
    bytes
}

/// The lockfile's JSON Schema, as committed under `schemas/`.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Lockfile);
    serde_json::to_string_pretty(&schema).expect("a schema always serializes") + "\n"
}

/// BLAKE3 over the canonical JSON of what determines a mask.
pub fn fingerprint(
    input_digest: &str,
    settings: &BTreeMap<String, String>,
    engine: &BTreeMap<String, String>,
) -> String {
    let canonical = serde_json::json!({
        "engine": engine,
        "input": input_digest,
        "settings": settings,
    });
    fsutil::digest_bytes(canonical.to_string().as_bytes())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn entry() -> LockEntry {
        LockEntry {
            input: InputRecord {
                source: "a.png".into(),
                size: 1,
                digest: "blake3:00".into(),
                etag: None,
                last_modified: None,
            },
            settings: BTreeMap::from([("mask".into(), "soft".into())]),
            engine: BTreeMap::from([("name".into(), "local".into())]),
            fingerprint: "blake3:11".into(),
            output: None,
            job: JobRecord {
                id: "x".into(),
                state: JobState::Succeeded,
                href: None,
                submitted_at: "2026-01-01T00:00:00Z".into(),
                finished_at: None,
                error: None,
            },
            origin: Origin::Generated,
        }
    }

    #[test]
    fn save_writes_only_when_bytes_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("maskflow.lock");
        let mut store = LockStore::open(&path, dir.path()).unwrap();
        assert!(store.save().unwrap());
        assert!(!store.save().unwrap());
        store.lock.images.insert("m.png".into(), entry());
        assert!(store.save().unwrap());
        let reopened = LockStore::open(&path, dir.path()).unwrap();
        assert_eq!(reopened.lock, store.lock);
    }

    #[test]
    fn broken_lockfile_reports_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("maskflow.lock");
        std::fs::write(&path, "{\n  \"version\": 1,\n  \"images\": {,}\n}\n").unwrap();
        match LockStore::open(&path, dir.path()).unwrap_err() {
            LockError::Parse { line, .. } => assert_eq!(line, 3),
            other => panic!("unexpected {other}"),
        }
        std::fs::write(&path, "{\"version\": 7, \"images\": {}}").unwrap();
        assert!(matches!(
            LockStore::open(&path, dir.path()).unwrap_err(),
            LockError::Version { found: 7, .. }
        ));
    }

    #[test]
    fn merge_combines_parts_and_refuses_conflicts() {
        let mut a = Lockfile::default();
        a.images.insert("a.png".into(), entry());
        let mut b = Lockfile::default();
        b.images.insert("b.png".into(), entry());
        b.images.insert("a.png".into(), entry());
        let merged = merge(&[("a".into(), a.clone()), ("b".into(), b)]).unwrap();
        assert_eq!(merged.images.len(), 2);
        let mut c = Lockfile::default();
        let mut changed = entry();
        changed.fingerprint = "blake3:22".into();
        c.images.insert("a.png".into(), changed);
        match merge(&[("a".into(), a), ("c".into(), c)]).unwrap_err() {
            LockError::Conflict { key, .. } => assert_eq!(key, "a.png"),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn a_hostile_entry_refuses_the_lockfile_and_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("maskflow.lock");
        let mut lock = Lockfile::default();
        lock.images.insert("masks/a.png".into(), entry());
        let mut hostile = entry();
        hostile.output = Some(OutputRecord {
            target: "photos/rocket.jpg".into(),
            size: 1,
            digest: "blake3:00".into(),
            width: 1,
            height: 1,
            etag: None,
        });
        lock.images
            .insert("photos/rocket.jpg".into(), hostile.clone());
        std::fs::write(&path, to_bytes(&lock)).unwrap();
        let error = LockStore::open(&path, dir.path()).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("`photos/rocket.jpg`"), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(error.hint().unwrap().contains("nothing was deleted"));

        let mut part = Lockfile::default();
        part.images.insert("../decoy.png".into(), hostile);
        match merge(&[("part.lock".into(), part)]).unwrap_err() {
            LockError::Unsafe { key, path, .. } => {
                assert_eq!(key, "../decoy.png");
                assert_eq!(path, Path::new("part.lock"));
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn merge_names_the_manual_and_the_generated_entry() {
        let mut generated = Lockfile::default();
        generated.images.insert("a.png".into(), entry());
        let mut manual = Lockfile::default();
        let mut adopted = entry();
        adopted.origin = Origin::Manual;
        manual.images.insert("a.png".into(), adopted);
        for parts in [
            [
                ("gen.lock".into(), generated.clone()),
                ("man.lock".into(), manual.clone()),
            ],
            [("man.lock".into(), manual), ("gen.lock".into(), generated)],
        ] {
            match merge(&parts).unwrap_err() {
                LockError::OriginConflict {
                    key,
                    manual,
                    generated,
                } => {
                    assert_eq!(key, "a.png");
                    assert_eq!(manual, PathBuf::from("man.lock"));
                    assert_eq!(generated, PathBuf::from("gen.lock"));
                }
                other => panic!("unexpected {other}"),
            }
        }
    }

    #[test]
    fn records_survive_a_kill_and_fold_into_the_lockfile() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("maskflow.lock");
        let journal = journal::path_for(&path);
        let mut store = LockStore::open(&path, dir.path()).unwrap();
        store.save().unwrap();
        let before = std::fs::read(&path).unwrap();
        store.record("a.png", entry()).unwrap();
        store.record("b.png", entry()).unwrap();
        // Killed here: the lockfile is untouched and valid, the journal holds both.
        drop(store);
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert!(journal.exists());
        let mut reopened = LockStore::open(&path, dir.path()).unwrap();
        assert_eq!(reopened.lock.images.len(), 2);
        // Reading alone writes nothing; saving folds and drops the journal.
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert!(reopened.save().unwrap());
        assert!(!journal.exists());
        let folded = LockStore::open(&path, dir.path()).unwrap();
        assert_eq!(folded.lock, reopened.lock);
        // A journal whose records the lockfile already holds is dropped without a rewrite.
        let mut again = LockStore::open(&path, dir.path()).unwrap();
        again.record("a.png", entry()).unwrap();
        drop(again);
        let mut again = LockStore::open(&path, dir.path()).unwrap();
        assert!(!again.save().unwrap());
        assert!(!journal.exists());
    }

    #[test]
    fn a_replacing_store_drops_the_journal_of_the_file_it_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("maskflow.lock");
        let mut store = LockStore::open(&path, dir.path()).unwrap();
        store.record("stale.png", entry()).unwrap();
        drop(store);
        let mut merged = Lockfile::default();
        merged.images.insert("a.png".into(), entry());
        LockStore::replacing(&path, merged.clone()).save().unwrap();
        assert!(!journal::path_for(&path).exists());
        assert_eq!(LockStore::open(&path, dir.path()).unwrap().lock, merged);
    }

    #[test]
    fn a_long_run_folds_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("maskflow.lock");
        let mut store = LockStore::open(&path, dir.path()).unwrap();
        let mut n = 0;
        while !path.exists() {
            store.record(&format!("m/{n}.png"), entry()).unwrap();
            n += 1;
            assert!(n < 10_000, "never folded");
        }
        let on_disk = LockStore::open(&path, dir.path()).unwrap();
        assert_eq!(on_disk.lock.images.len(), n);
        assert!(!journal::path_for(&path).exists());
    }

    #[test]
    fn origin_is_written_only_when_manual() {
        let mut lock = Lockfile::default();
        lock.images.insert("a.png".into(), entry());
        let generated = String::from_utf8(to_bytes(&lock)).unwrap();
        assert!(!generated.contains("origin"), "{generated}");
        let reread: Lockfile = serde_json::from_str(&generated).unwrap();
        assert_eq!(reread.images["a.png"].origin, Origin::Generated);
        lock.images.get_mut("a.png").unwrap().origin = Origin::Manual;
        let manual = String::from_utf8(to_bytes(&lock)).unwrap();
        assert!(manual.contains("\"origin\": \"manual\""), "{manual}");
        assert_eq!(serde_json::from_str::<Lockfile>(&manual).unwrap(), lock);
    }

    #[test]
    fn fingerprint_depends_on_every_part() {
        let s = BTreeMap::from([("mask".to_owned(), "soft".to_owned())]);
        let b = BTreeMap::from([("mask".to_owned(), "binary".to_owned())]);
        let e = BTreeMap::from([("name".to_owned(), "local".to_owned())]);
        let base = fingerprint("blake3:aa", &s, &e);
        assert_eq!(base, fingerprint("blake3:aa", &s, &e));
        assert_ne!(base, fingerprint("blake3:ab", &s, &e));
        assert_ne!(base, fingerprint("blake3:aa", &b, &e));
        assert_ne!(base, fingerprint("blake3:aa", &s, &BTreeMap::new()));
    }
}
