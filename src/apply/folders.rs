//! The folders masks go to: created, opened and proved writable before any engine runs, then
//! written through the handle opened then.
//!
//! On Unix each mask is written with `openat`/`renameat` relative to that handle, so replacing
//! a folder with a symlink during a run cannot send later masks elsewhere, and an error names
//! the mask, never a temporary file. Elsewhere masks are written by path (`fsutil::write_atomic`)
//! after the same up-front check.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::fsutil;

#[derive(Debug, thiserror::Error)]
#[error("cannot write masks to {}: {reason}", path.display())]
pub struct FolderError {
    pub path: PathBuf,
    pub reason: String,
}

/// The output folders of a run, each opened once.
#[derive(Debug, Default)]
pub struct OutputFolders {
    folders: BTreeMap<PathBuf, Folder>,
}

#[derive(Debug)]
struct Folder {
    #[cfg(unix)]
    handle: std::fs::File,
}

impl OutputFolders {
    /// Creates, opens and probes the folder of every output.
    pub fn open<'a>(outputs: impl IntoIterator<Item = &'a Path>) -> Result<Self, FolderError> {
        let mut folders = BTreeMap::new();
        for output in outputs {
            let dir = parent(output).to_owned();
            if folders.contains_key(&dir) {
                continue;
            }
            let fail = |e: std::io::Error| FolderError {
                path: dir.clone(),
                reason: fsutil::io_reason(&e),
            };
            std::fs::create_dir_all(&dir).map_err(fail)?;
            let folder = Folder::open(&dir).map_err(fail)?;
            folder.probe(&dir).map_err(fail)?;
            folders.insert(dir, folder);
        }
        Ok(Self { folders })
    }

    /// Replaces `output` with `bytes` atomically, through its folder's handle.
    pub fn write(&self, output: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let dir = parent(output);
        let name = output
            .file_name()
            .ok_or_else(|| std::io::Error::other("the output names no file"))?;
        match self.folders.get(dir) {
            Some(folder) => folder.write(dir, Path::new(name), bytes),
            None => Err(std::io::Error::other(
                "its folder was not opened before the run",
            )),
        }
    }
}

fn parent(output: &Path) -> &Path {
    match output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

fn temp_name() -> String {
    let mut rng = fastrand::Rng::new();
    let suffix: String = std::iter::repeat_with(|| rng.alphanumeric())
        .take(12)
        .collect();
    format!("{}{suffix}", fsutil::TEMP_PREFIX)
}

#[cfg(unix)]
impl Folder {
    fn open(dir: &Path) -> std::io::Result<Folder> {
        use rustix::fs::{Mode, OFlags};
        let fd = rustix::fs::open(
            dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Folder {
            handle: std::fs::File::from(fd),
        })
    }

    /// Creates and removes a file, as writing a mask will.
    fn probe(&self, _dir: &Path) -> std::io::Result<()> {
        let name = temp_name();
        drop(self.create(&name)?);
        rustix::fs::unlinkat(&self.handle, name.as_str(), rustix::fs::AtFlags::empty())?;
        Ok(())
    }

    fn create(&self, name: &str) -> std::io::Result<std::fs::File> {
        use rustix::fs::{Mode, OFlags};
        let fd = rustix::fs::openat(
            &self.handle,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            // Masks are ordinary repository files (the umask still applies).
            Mode::from_raw_mode(0o644),
        )?;
        Ok(std::fs::File::from(fd))
    }

    fn write(&self, _dir: &Path, name: &Path, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        let temp = temp_name();
        let result = (|| -> std::io::Result<()> {
            let mut file = self.create(&temp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            rustix::fs::renameat(&self.handle, temp.as_str(), &self.handle, name)?;
            Ok(())
        })();
        if result.is_err() {
            let _ = rustix::fs::unlinkat(&self.handle, temp.as_str(), rustix::fs::AtFlags::empty());
        }
        result?;
        self.handle.sync_all()
    }
}

#[cfg(not(unix))]
impl Folder {
    fn open(dir: &Path) -> std::io::Result<Folder> {
        if std::fs::metadata(dir)?.is_dir() {
            Ok(Folder {})
        } else {
            Err(std::io::Error::other("not a folder"))
        }
    }

    fn probe(&self, dir: &Path) -> std::io::Result<()> {
        tempfile::Builder::new()
            .prefix(fsutil::TEMP_PREFIX)
            .tempfile_in(dir)
            .map(drop)
    }

    fn write(&self, dir: &Path, name: &Path, bytes: &[u8]) -> std::io::Result<()> {
        fsutil::write_atomic(&dir.join(name), bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_through_the_folder_opened_at_the_start() {
        let root = tempfile::tempdir().unwrap();
        let output = root.path().join("masks/a.png");
        let folders = OutputFolders::open([output.as_path()]).unwrap();
        folders.write(&output, b"one").unwrap();
        folders.write(&output, b"two").unwrap();
        assert_eq!(std::fs::read(&output).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(root.path().join("masks"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["a.png"], "no probe or temporary file is left");

        #[cfg(unix)]
        {
            // The folder is swapped for a symlink to elsewhere: writes still land in the
            // folder that was opened (now moved), never through the link.
            let elsewhere = root.path().join("elsewhere");
            std::fs::create_dir(&elsewhere).unwrap();
            std::fs::rename(root.path().join("masks"), root.path().join("moved")).unwrap();
            std::os::unix::fs::symlink(&elsewhere, root.path().join("masks")).unwrap();
            folders.write(&output, b"three").unwrap();
            assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
            assert_eq!(
                std::fs::read(root.path().join("moved/a.png")).unwrap(),
                b"three"
            );
        }
    }

    #[test]
    fn a_folder_that_cannot_be_made_is_refused_up_front() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("masks"), b"a file, not a folder").unwrap();
        let output = root.path().join("masks/a.png");
        let error = OutputFolders::open([output.as_path()]).unwrap_err();
        assert_eq!(error.path, root.path().join("masks"));
        assert!(!error.to_string().contains(fsutil::TEMP_PREFIX), "{error}");
    }
}
