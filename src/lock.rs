//! The lockfile (`maskflow.lock`): what each mask was made from, how, and what came out.
//! Deterministic JSON (sorted keys, fixed formatting), rewritten only when its bytes change.

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
}

/// The mask written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputRecord {
    /// Path relative to the manifest's folder.
    pub target: String,
    /// Size in bytes.
    pub size: u64,
    /// Content digest, `blake3:<hex>`.
    pub digest: String,
    pub width: u32,
    pub height: u32,
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
    #[error("cannot write lockfile {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
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
            _ => None,
        }
    }
}

/// The lockfile on disk plus the bytes last seen there, so unchanged content is never rewritten.
#[derive(Debug)]
pub struct LockStore {
    path: PathBuf,
    on_disk: Option<Vec<u8>>,
    pub lock: Lockfile,
}

impl LockStore {
    /// Reads the lockfile; a missing file is an empty lock.
    pub fn open(path: &Path) -> Result<Self, LockError> {
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
        let lock = match &on_disk {
            None => Lockfile::default(),
            Some(bytes) => parse(path, bytes)?,
        };
        Ok(Self {
            path: path.to_owned(),
            on_disk,
            lock,
        })
    }

    /// A store that will write `lock` to `path`, whatever is there now.
    pub fn replacing(path: &Path, lock: Lockfile) -> Self {
        Self {
            path: path.to_owned(),
            on_disk: std::fs::read(path).ok(),
            lock,
        }
    }

    /// Writes the lockfile if its serialized bytes differ from what is on disk.
    pub fn save(&mut self) -> Result<bool, LockError> {
        let bytes = to_bytes(&self.lock);
        if self.on_disk.as_deref() == Some(bytes.as_slice()) {
            return Ok(false);
        }
        fsutil::write_atomic(&self.path, &bytes).map_err(|source| LockError::Write {
            path: self.path.clone(),
            source,
        })?;
        self.on_disk = Some(bytes);
        Ok(true)
    }
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
/// when both entries are identical.
pub fn merge(parts: &[(PathBuf, Lockfile)]) -> Result<Lockfile, LockError> {
    let mut merged = Lockfile::default();
    let mut origin: BTreeMap<&str, &Path> = BTreeMap::new();
    for (path, part) in parts {
        for (key, entry) in &part.images {
            match merged.images.get(key) {
                Some(existing) if existing != entry => {
                    return Err(LockError::Conflict {
                        key: key.clone(),
                        first: origin[key.as_str()].to_owned(),
                        second: path.clone(),
                    });
                }
                Some(_) => {}
                None => {
                    merged.images.insert(key.clone(), entry.clone());
                    origin.insert(key, path);
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
mod tests {
    use super::*;

    fn entry() -> LockEntry {
        LockEntry {
            input: InputRecord {
                source: "a.png".into(),
                size: 1,
                digest: "blake3:00".into(),
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
        }
    }

    #[test]
    fn save_writes_only_when_bytes_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("maskflow.lock");
        let mut store = LockStore::open(&path).unwrap();
        assert!(store.save().unwrap());
        assert!(!store.save().unwrap());
        store.lock.images.insert("m.png".into(), entry());
        assert!(store.save().unwrap());
        let reopened = LockStore::open(&path).unwrap();
        assert_eq!(reopened.lock, store.lock);
    }

    #[test]
    fn broken_lockfile_reports_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("maskflow.lock");
        std::fs::write(&path, "{\n  \"version\": 1,\n  \"images\": {,}\n}\n").unwrap();
        match LockStore::open(&path).unwrap_err() {
            LockError::Parse { line, .. } => assert_eq!(line, 3),
            other => panic!("unexpected {other}"),
        }
        std::fs::write(&path, "{\"version\": 7, \"images\": {}}").unwrap();
        assert!(matches!(
            LockStore::open(&path).unwrap_err(),
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
