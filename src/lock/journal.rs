//! The lockfile's journal (`maskflow.lock.journal`): one JSON line per finished or submitted
//! image, appended and fsynced as it happens, and folded into the lockfile now and then.
//! Rewriting the whole lockfile per image wrote bytes that grew with the square of the
//! manifest; appending a record costs the same at the first image and the ten-thousandth.
//! A kill -9 at any moment leaves the lockfile valid and every finished image in one of
//! the two files; the next reader folds a leftover journal in.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::rules::{self, Root};
use super::{LockEntry, LockError};

/// The journal is folded once it holds as many bytes as the lockfile (at least this many):
/// a geometric schedule, so the lockfile rewrites add up to a small multiple of its size.
pub const FOLD_MIN_BYTES: u64 = 64 * 1024;
/// ...and at least this often, so a lockfile read by something other than maskflow (a CI
/// step that commits it after a cancelled run) is never far behind.
pub const FOLD_INTERVAL: Duration = Duration::from_secs(30);

/// One line of the journal: the entry `key` now has.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    key: String,
    entry: LockEntry,
}

/// The same line, written without copying the entry.
#[derive(Serialize)]
struct RecordRef<'a> {
    key: &'a str,
    entry: &'a LockEntry,
}

/// The journal that belongs to the lockfile at `lock`: same folder, `.journal` appended.
pub fn path_for(lock: &Path) -> PathBuf {
    let mut name = lock
        .file_name()
        .map_or_else(|| "maskflow.lock".into(), |n| n.to_os_string());
    name.push(".journal");
    lock.with_file_name(name)
}

/// Reads the records of a journal in the order they were written. A last line without its
/// newline is a record torn by a kill mid-write, and ignored; every complete line must be a
/// valid record, checked like a lockfile entry. `None` when there is no journal.
pub fn read(path: &Path, root: &Root) -> Result<Option<Vec<(String, LockEntry)>>, LockError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(LockError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let complete = bytes
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(&[][..], |end| &bytes[..=end]);
    let mut records = Vec::new();
    for (index, line) in complete.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record: Record = serde_json::from_slice(line).map_err(|e| LockError::Journal {
            path: path.to_owned(),
            line: index + 1,
            column: e.column(),
            message: e.to_string(),
        })?;
        rules::check_entry(&record.key, &record.entry)
            .and_then(|()| root.check_reach(&record.key))
            .map_err(|problem| LockError::Unsafe {
                path: path.to_owned(),
                key: record.key.clone(),
                problem,
            })?;
        records.push((record.key, record.entry));
    }
    Ok(Some(records))
}

/// The writing side: appends records durably and says when a fold is due.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: Option<File>,
    /// Whether a journal file may be on disk (found when reading, or written since).
    present: bool,
    /// Bytes appended since the last fold.
    appended: u64,
    last_fold: Instant,
}

impl Journal {
    pub fn new(path: PathBuf, present: bool) -> Self {
        Self {
            path,
            file: None,
            present,
            appended: 0,
            last_fold: Instant::now(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record and waits until it is on disk.
    pub fn append(&mut self, key: &str, entry: &LockEntry) -> std::io::Result<()> {
        let mut line =
            serde_json::to_vec(&RecordRef { key, entry }).expect("a record always serializes");
        line.push(b'\n');
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .read(true)
                    .open(&self.path)?;
                drop_torn_tail(&file)?;
                self.present = true;
                // The file's name must survive a crash as well as its contents.
                sync_parent(&self.path)?;
                self.file.insert(file)
            }
        };
        // One write call, so only the tail of the last record can be torn.
        file.write_all(&line)?;
        file.sync_data()?;
        self.appended += line.len() as u64;
        Ok(())
    }

    /// Whether the records since the last fold should now go into the lockfile.
    pub fn fold_due(&self, lock_bytes: u64) -> bool {
        self.appended > 0
            && (self.appended >= lock_bytes.max(FOLD_MIN_BYTES)
                || self.last_fold.elapsed() >= FOLD_INTERVAL)
    }

    /// Forgets every record: call only once the lockfile holds them all.
    pub fn clear(&mut self) -> std::io::Result<()> {
        self.file = None;
        self.appended = 0;
        self.last_fold = Instant::now();
        if !self.present {
            return Ok(());
        }
        match std::fs::remove_file(&self.path) {
            Ok(()) => sync_parent(&self.path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        self.present = false;
        Ok(())
    }
}

/// Cuts a record torn by a kill, so that the next record starts on a line of its own
/// (normally the journal was folded and deleted before anything is appended).
fn drop_torn_tail(file: &File) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut reader = file;
    let mut kept = len;
    let mut byte = [0u8; 1];
    while kept > 0 {
        reader.seek(SeekFrom::Start(kept - 1))?;
        reader.read_exact(&mut byte)?;
        if byte[0] == b'\n' {
            break;
        }
        kept -= 1;
    }
    if kept < len {
        file.set_len(kept)?;
    }
    Ok(())
}

fn sync_parent(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::tests::entry;

    fn root(dir: &Path) -> Root {
        Root::new(dir)
    }

    #[test]
    fn records_come_back_in_order_and_a_torn_tail_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("maskflow.lock"));
        assert_eq!(path.file_name().unwrap(), "maskflow.lock.journal");
        assert!(read(&path, &root(dir.path())).unwrap().is_none());
        let mut journal = Journal::new(path.clone(), false);
        let mut second = entry();
        second.fingerprint = "blake3:22".into();
        journal.append("a.png", &entry()).unwrap();
        journal.append("a.png", &second).unwrap();
        journal.append("b.png", &entry()).unwrap();
        // A kill in the middle of the next write leaves part of a line.
        let whole = std::fs::read(&path).unwrap();
        let mut torn = whole.clone();
        torn.extend_from_slice(&whole[..whole.len() / 5]);
        std::fs::write(&path, &torn).unwrap();
        let records = read(&path, &root(dir.path())).unwrap().unwrap();
        let keys: Vec<&str> = records.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a.png", "a.png", "b.png"]);
        assert_eq!(records[1].1, second);
        // Appending after a torn tail drops it first, so the new record reads back.
        let mut journal = Journal::new(path.clone(), true);
        journal.append("c.png", &entry()).unwrap();
        let records = read(&path, &root(dir.path())).unwrap().unwrap();
        let keys: Vec<&str> = records.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a.png", "a.png", "b.png", "c.png"]);
    }

    #[test]
    fn a_broken_complete_line_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("maskflow.lock"));
        let mut journal = Journal::new(path.clone(), false);
        journal.append("a.png", &entry()).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"{\"key\": 1}\n");
        std::fs::write(&path, &bytes).unwrap();
        match read(&path, &root(dir.path())).unwrap_err() {
            LockError::Journal { line, .. } => assert_eq!(line, 2),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn hostile_records_are_refused_like_lockfile_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("maskflow.lock"));
        let mut journal = Journal::new(path.clone(), false);
        journal.append("../decoy.png", &entry()).unwrap();
        match read(&path, &root(dir.path())).unwrap_err() {
            LockError::Unsafe {
                key, path: named, ..
            } => {
                assert_eq!(key, "../decoy.png");
                assert_eq!(named, path);
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn folds_follow_the_lockfile_size_and_clear_removes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("maskflow.lock"));
        let mut journal = Journal::new(path.clone(), false);
        assert!(!journal.fold_due(0));
        journal.append("a.png", &entry()).unwrap();
        assert!(!journal.fold_due(0), "below the minimum");
        while journal.appended < FOLD_MIN_BYTES {
            journal.append("a.png", &entry()).unwrap();
        }
        assert!(journal.fold_due(FOLD_MIN_BYTES));
        assert!(
            !journal.fold_due(journal.appended + 1),
            "below the lockfile's size"
        );
        journal.clear().unwrap();
        assert!(!path.exists());
        assert!(!journal.fold_due(0));
        journal.append("b.png", &entry()).unwrap();
        assert!(path.exists());
    }
}
