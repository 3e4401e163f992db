//! What a lockfile entry may name. The lockfile is committed, so it can arrive edited by
//! hand, by a bad merge or by a hostile pull request; `apply --prune` deletes what it names.
//! Every entry is checked when a lockfile, a journal or a part of `lock merge` is read, so
//! that nothing downstream ever sees a key that leads out of the manifest's folder.

use std::path::{Path, PathBuf};

use super::LockEntry;
use crate::storage::ObjectUrl;

/// Why an entry cannot be one maskflow wrote, phrased to follow "entry `key` ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    #[error("is empty")]
    Empty,
    #[error("contains a NUL byte")]
    Nul,
    #[error("is an absolute path; keys are relative to the manifest's folder")]
    Absolute,
    #[error("contains `\\`; keys are `/`-separated")]
    Backslash,
    #[error("leaves the manifest's folder through `..`")]
    Parent,
    #[error("is not normalized (an empty or `.` part)")]
    NotNormalized,
    #[error("does not end in .png, so it is no mask maskflow wrote")]
    NotPng,
    #[error("records the target `{}`, but a mask's target is always its key", target.escape_debug())]
    TargetNotKey { target: String },
    #[error(
        "is reached through the symlink `{}`, which leads out of the manifest's folder",
        link.to_string_lossy().escape_debug()
    )]
    SymlinkOut { link: PathBuf },
    #[error("has an empty, `.` or `..` part in its object key")]
    ObjectKeyParts,
    #[error("is not an object URL: {expected}")]
    NotAnObject { expected: &'static str },
}

/// Whether an entry (its key and its target) can be one maskflow wrote.
pub fn check_entry(key: &str, entry: &LockEntry) -> Result<(), KeyProblem> {
    check_key(key)?;
    if let Some(output) = &entry.output
        && output.target != key
    {
        return Err(KeyProblem::TargetNotKey {
            target: output.target.clone(),
        });
    }
    Ok(())
}

/// A key is the mask's path relative to the manifest's folder, exactly as maskflow
/// normalizes it: relative, `/`-separated, no empty, `.` or `..` parts, ending in `.png`.
/// A mask written to a bucket is keyed by its object URL, whose key follows the same rules.
pub fn check_key(key: &str) -> Result<(), KeyProblem> {
    if key.is_empty() {
        return Err(KeyProblem::Empty);
    }
    if key.contains('\0') {
        return Err(KeyProblem::Nul);
    }
    match ObjectUrl::parse(key) {
        Some(Ok(object)) => return check_object_key(&object),
        Some(Err(e)) => {
            return Err(KeyProblem::NotAnObject {
                expected: e.expected,
            });
        }
        None => {}
    }
    if key.starts_with('/') || Path::new(key).is_absolute() || has_drive_prefix(key) {
        return Err(KeyProblem::Absolute);
    }
    if key.contains('\\') {
        return Err(KeyProblem::Backslash);
    }
    for part in key.split('/') {
        match part {
            ".." => return Err(KeyProblem::Parent),
            "." | "" => {
                return Err(KeyProblem::NotNormalized);
            }
            _ => {}
        }
    }
    if !key.to_ascii_lowercase().ends_with(".png") {
        return Err(KeyProblem::NotPng);
    }
    Ok(())
}

/// An object a mask may be written to: its key is `/`-separated, without empty, `.` or `..`
/// parts (which some stores normalize away and others keep), and ends in `.png`.
pub fn check_object_key(object: &ObjectUrl) -> Result<(), KeyProblem> {
    let key = object.key();
    if key.contains('\0') {
        return Err(KeyProblem::Nul);
    }
    if key.contains('\\') {
        return Err(KeyProblem::Backslash);
    }
    if key.split('/').any(|part| matches!(part, "" | "." | "..")) {
        return Err(KeyProblem::ObjectKeyParts);
    }
    if !key.to_ascii_lowercase().ends_with(".png") {
        return Err(KeyProblem::NotPng);
    }
    Ok(())
}

/// `C:` style prefixes are absolute on Windows even without a separator after them.
fn has_drive_prefix(key: &str) -> bool {
    let bytes = key.as_bytes();
    cfg!(windows) && bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic()
}

/// The manifest's folder, resolved once so that every key can be checked against it.
#[derive(Debug, Clone)]
pub struct Root {
    dir: PathBuf,
    canonical: Option<PathBuf>,
}

impl Root {
    pub fn new(dir: &Path) -> Self {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        Self {
            dir: dir.to_owned(),
            canonical: std::fs::canonicalize(dir).ok(),
        }
    }

    /// The first symlink on the way to `key` that leads out of the manifest's folder (or
    /// nowhere). The manifest accepts outputs through symlinks that stay inside, so entries
    /// written through them are accepted here too; prune never follows any symlink.
    pub fn check_reach(&self, key: &str) -> Result<(), KeyProblem> {
        let Some(root) = &self.canonical else {
            return Ok(());
        };
        if ObjectUrl::parse(key).is_some() {
            return Ok(());
        }
        match crate::fsutil::symlink_escape(&self.dir, root, key) {
            Some(link) => Err(KeyProblem::SymlinkOut { link }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_relative_normalized_pngs() {
        for good in [
            "a.png",
            "masks/a.png",
            "masks/deep/A.PNG",
            "masks/..a.png",
            "s3://bucket/masks/a.png",
            "az://account/container/a.png",
        ] {
            assert_eq!(check_key(good), Ok(()), "{good}");
        }
        let bad = [
            ("", "empty"),
            ("../decoy.png", "leaves"),
            ("masks/../../decoy.png", "leaves"),
            ("/tmp/decoy.png", "absolute"),
            ("//host/decoy.png", "absolute"),
            ("masks\\..\\decoy.png", "`/`-separated"),
            ("./masks/a.png", "normalized"),
            ("masks//a.png", "normalized"),
            ("masks/a.png/", "normalized"),
            ("photos/rocket.jpg", ".png"),
            ("masks/a\0.png", "NUL"),
            ("s3://bucket/masks/../a.png", "`..` part"),
            ("s3://bucket/masks//a.png", "empty"),
            ("gs://bucket/masks/a.jpg", ".png"),
            ("az://account/container", "object URL"),
        ];
        for (key, why) in bad {
            let error = check_key(key).unwrap_err();
            assert!(error.to_string().contains(why), "{key:?}: {error}");
        }
    }

    #[test]
    fn a_target_is_its_key() {
        let mut entry = crate::lock::tests::entry();
        entry.output = Some(crate::lock::OutputRecord {
            target: "../decoy.png".into(),
            size: 1,
            digest: "blake3:00".into(),
            width: 1,
            height: 1,
            etag: None,
        });
        assert!(
            check_entry("masks/a.png", &entry)
                .unwrap_err()
                .to_string()
                .contains("target")
        );
        entry.output.as_mut().unwrap().target = "masks/a.png".into();
        assert_eq!(check_entry("masks/a.png", &entry), Ok(()));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_leading_out_are_refused_and_inside_ones_accepted() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("generated")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
        std::os::unix::fs::symlink(root.join("generated"), root.join("masks")).unwrap();
        std::os::unix::fs::symlink("nowhere", root.join("dangling")).unwrap();
        let root = Root::new(root);
        assert!(
            root.check_reach("out/decoy.png")
                .unwrap_err()
                .to_string()
                .contains("`out`")
        );
        assert!(root.check_reach("dangling/a.png").is_err());
        assert_eq!(root.check_reach("masks/a.png"), Ok(()));
        assert_eq!(root.check_reach("missing/a.png"), Ok(()));
    }
}
