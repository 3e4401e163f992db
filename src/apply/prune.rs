//! `apply --prune`: deleting the mask an orphaned entry recorded, and nothing else. The
//! entry's key already passed the lockfile's rules (relative, normalized, a `.png`, its
//! target); here the file itself must still be what maskflow wrote, must be no input of
//! the manifest, and must be reached without following any symlink. A mask in a bucket must
//! still have the ETag and size recorded when maskflow wrote it, must be no input, and must
//! lie under a folder an output of the manifest still writes to: a lockfile from a pull
//! request cannot point prune at any other object.

use std::collections::HashSet;
use std::fs::Metadata;
use std::path::{Path, PathBuf};

use crate::lock::OutputRecord;
use crate::storage::{ObjectUrl, Storage, StorageError};
use crate::summary::Kept;

pub enum Pruned {
    /// The file deleted.
    Deleted(PathBuf),
    /// Nothing there (already deleted, or never written).
    Missing,
    Kept(Kept),
}

/// The files the manifest reads, by identity: a path spelled differently (`./`, a symlink,
/// letter case on a case-insensitive disk) or a hard link still names the same input.
pub struct Inputs {
    ids: HashSet<FileId>,
}

impl Inputs {
    pub fn new<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Self {
        let ids = paths
            .into_iter()
            .filter_map(|path| Some(file_id(&std::fs::metadata(path).ok()?, path)))
            .collect();
        Self { ids }
    }
}

/// What prune may touch in buckets: the manifest's cloud inputs are off limits, and only
/// objects under the folders its outputs write to (`CloudOutput::root`) are candidates.
pub struct Objects {
    inputs: HashSet<String>,
    roots: Vec<String>,
    storage: Storage,
}

impl Objects {
    pub fn new(
        inputs: impl IntoIterator<Item = String>,
        roots: impl IntoIterator<Item = String>,
        storage: Storage,
    ) -> Self {
        Self {
            inputs: inputs.into_iter().collect(),
            roots: roots.into_iter().collect(),
            storage,
        }
    }
}

/// Deletes the object `output` recorded if it lies under one of the manifest's output folders,
/// is no input, and the store still gives the ETag and size recorded (or, where either side
/// has no ETag, the same bytes). Between that check and the delete another writer could replace it:
/// object stores offer no conditional delete that `object_store` exposes.
pub fn prune_object(
    object: &ObjectUrl,
    output: &OutputRecord,
    scope: &Objects,
) -> Result<Pruned, StorageError> {
    let url = object.to_string();
    if !scope
        .roots
        .iter()
        .any(|root| url.starts_with(root.as_str()))
    {
        return Ok(Pruned::Kept(Kept::OutsideOutputs));
    }
    if scope.inputs.contains(&url) {
        return Ok(Pruned::Kept(Kept::Input));
    }
    let Some(info) = scope.storage.head(object)? else {
        return Ok(Pruned::Missing);
    };
    let unchanged = match info.same_etag_as(output) {
        Some(same) => same,
        // Without an ETag on both sides (a store that sends none), the bytes decide.
        None if info.size != output.size => false,
        None => {
            let (_, digest, _) =
                scope
                    .storage
                    .download_into(object, output.size, &mut std::io::sink())?;
            digest == output.digest
        }
    };
    if !unchanged {
        return Ok(Pruned::Kept(Kept::Modified));
    }
    scope.storage.delete(object)?;
    Ok(Pruned::Deleted(PathBuf::from(url)))
}

#[cfg(unix)]
type FileId = (u64, u64);
#[cfg(not(unix))]
type FileId = PathBuf;

#[cfg(unix)]
fn file_id(meta: &Metadata, _path: &Path) -> FileId {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn file_id(_meta: &Metadata, path: &Path) -> FileId {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// Deletes `root/target` if it still holds `digest`, is no input, and no symlink is on the
/// way. Only the deletion itself can fail: a file that cannot be examined is left alone.
pub fn prune(root: &Path, target: &str, digest: &str, inputs: &Inputs) -> std::io::Result<Pruned> {
    let mut path = root.to_owned();
    let parts: Vec<&str> = target.split('/').collect();
    let mut last = None;
    for (index, part) in parts.iter().enumerate() {
        path.push(part);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            return Ok(Pruned::Missing);
        };
        if meta.file_type().is_symlink() {
            return Ok(Pruned::Kept(Kept::Symlink));
        }
        if index + 1 < parts.len() {
            if !meta.is_dir() {
                return Ok(Pruned::Missing);
            }
        } else if !meta.is_file() {
            return Ok(Pruned::Kept(Kept::NotAFile));
        } else {
            last = Some(meta);
        }
    }
    let Some(checked) = last else {
        return Ok(Pruned::Missing);
    };
    let Ok(mut file) = std::fs::File::open(&path) else {
        return Ok(Pruned::Missing);
    };
    let Ok(opened) = file.metadata() else {
        return Ok(Pruned::Missing);
    };
    // Swapped for a symlink (or another file) between the check and the open.
    if file_id(&opened, &path) != file_id(&checked, &path) {
        return Ok(Pruned::Kept(Kept::Symlink));
    }
    match crate::fsutil::digest_reader(&mut file) {
        Ok((_, found)) if found == digest => {}
        Ok(_) => return Ok(Pruned::Kept(Kept::Modified)),
        Err(_) => return Ok(Pruned::Missing),
    }
    if inputs.ids.contains(&file_id(&opened, &path)) {
        return Ok(Pruned::Kept(Kept::Input));
    }
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(Pruned::Deleted(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(path: &Path) -> String {
        crate::fsutil::digest_file(path).unwrap().1
    }

    #[test]
    fn deletes_only_an_unchanged_file_that_is_no_input() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("masks")).unwrap();
        std::fs::write(root.join("masks/a.png"), b"mask").unwrap();
        std::fs::write(root.join("masks/b.png"), b"photo").unwrap();
        let (a, b) = (
            digest(&root.join("masks/a.png")),
            digest(&root.join("masks/b.png")),
        );
        let inputs = Inputs::new([root.join("./masks/b.png").as_path()]);

        assert!(matches!(
            prune(root, "masks/a.png", &b, &inputs).unwrap(),
            Pruned::Kept(Kept::Modified)
        ));
        assert!(matches!(
            prune(root, "masks/b.png", &b, &inputs).unwrap(),
            Pruned::Kept(Kept::Input)
        ));
        assert!(matches!(
            prune(root, "masks/none.png", &a, &inputs).unwrap(),
            Pruned::Missing
        ));
        assert!(matches!(
            prune(root, "masks", &a, &inputs).unwrap(),
            Pruned::Kept(Kept::NotAFile)
        ));
        match prune(root, "masks/a.png", &a, &inputs).unwrap() {
            Pruned::Deleted(path) => assert_eq!(path, root.join("masks/a.png")),
            _ => panic!("not deleted"),
        }
        assert!(!root.join("masks/a.png").exists());
        assert!(root.join("masks/b.png").exists());
    }

    #[cfg(unix)]
    #[test]
    fn never_follows_a_symlink() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("decoy.png"), b"decoy").unwrap();
        let decoy = digest(&outside.path().join("decoy.png"));
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("inside")).unwrap();
        std::fs::write(root.join("inside/decoy.png"), b"decoy").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
        std::os::unix::fs::symlink(root.join("inside"), root.join("masks")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("decoy.png"), root.join("link.png"))
            .unwrap();
        let none = Inputs::new([]);
        for target in ["out/decoy.png", "masks/decoy.png", "link.png"] {
            assert!(
                matches!(
                    prune(root, target, &decoy, &none).unwrap(),
                    Pruned::Kept(Kept::Symlink)
                ),
                "{target}"
            );
        }
        assert!(outside.path().join("decoy.png").exists());
        assert!(root.join("inside/decoy.png").exists());
    }
}
