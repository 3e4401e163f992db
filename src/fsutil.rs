//! Crash-safe file writes: temp file in the target's folder, fsync, rename, fsync the folder.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Prefix of our temporary files, so that globs and users can recognise them.
pub const TEMP_PREFIX: &str = ".maskflow-tmp-";

/// Replaces `path` with `bytes` so that readers see the old file or the new one, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // tempfile creates 0600 files; masks and lockfiles are ordinary repository files.
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    // Same folder, same filesystem: the rename cannot fail with EXDEV and is atomic.
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Why an I/O operation failed, without the path some errors carry (`tempfile` names its
/// random temporary file): safe to store in the lockfile and stable from run to run.
pub fn io_reason(error: &std::io::Error) -> String {
    match error.raw_os_error() {
        Some(code) => std::io::Error::from_raw_os_error(code).to_string(),
        None => error.kind().to_string(),
    }
}

/// Deletes temporary files that a killed run left in `dir`. Only safe while no other run
/// can be writing there, i.e. with the manifest locked.
pub fn remove_stale_temp_files(dir: &Path) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX)
            && entry.file_type()?.is_file()
        {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// The size and BLAKE3 digest of a file, streamed so large inputs need no large buffer.
pub fn digest_file(path: &Path) -> std::io::Result<(u64, String)> {
    digest_reader(&mut std::fs::File::open(path)?)
}

/// The size and BLAKE3 digest of what `reader` yields, e.g. a file already opened.
pub fn digest_reader(reader: &mut impl std::io::Read) -> std::io::Result<(u64, String)> {
    let mut hasher = blake3::Hasher::new();
    let size = std::io::copy(reader, &mut hasher)?;
    Ok((size, format_digest(&hasher.finalize())))
}

pub fn digest_bytes(bytes: &[u8]) -> String {
    format_digest(&blake3::hash(bytes))
}

fn format_digest(hash: &blake3::Hash) -> String {
    format!("blake3:{}", hash.to_hex())
}

/// The first symlink on the way from `dir` along `relative` (`/`-separated) that resolves
/// outside `root` (the canonical form of `dir`) or nowhere, as the part of `relative` that
/// reaches it. Outputs a manifest names and entries a lockfile names are both checked with
/// it, so the two can never disagree about what stays inside the project.
pub fn symlink_escape(dir: &Path, root: &Path, relative: &str) -> Option<PathBuf> {
    let mut path = dir.to_path_buf();
    let mut shown = PathBuf::new();
    for part in relative.split('/') {
        path.push(part);
        shown.push(part);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => match std::fs::canonicalize(&path) {
                Ok(target) if target.starts_with(root) => {}
                _ => return Some(shown),
            },
            Ok(meta) if meta.is_dir() => {}
            // A file, or nothing: the rest of the path cannot lead anywhere.
            Ok(_) | Err(_) => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.txt");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["out.txt"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
    }

    #[test]
    fn digests_agree_between_file_and_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        std::fs::write(&path, b"hello").unwrap();
        let (size, digest) = digest_file(&path).unwrap();
        assert_eq!(size, 5);
        assert_eq!(digest, digest_bytes(b"hello"));
        assert!(digest.starts_with("blake3:"));
    }
}
