//! The model cache: files downloaded once, stored under their sha256, checked on every use.
//! A download goes to a temporary file beside its final name and is renamed only once its
//! digest matches, so the cache never holds a half-written or wrong file under a real name.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::Digest;

use super::{MAX_MODEL_BYTES, ModelError, ModelSource, ModelSpec, sha256_hex};

/// Whole-request ceiling for one model download (a 1 GB model on a slow runner).
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The cache folder: `MASKFLOW_CACHE`, else the platform's cache folder + `maskflow`.
pub fn dir() -> Option<PathBuf> {
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = env("MASKFLOW_CACHE") {
        return Some(PathBuf::from(dir));
    }
    let platform = if cfg!(windows) {
        env("LOCALAPPDATA").map(PathBuf::from)
    } else if cfg!(target_os = "macos") {
        env("HOME").map(|home| PathBuf::from(home).join("Library/Caches"))
    } else {
        env("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| env("HOME").map(|home| PathBuf::from(home).join(".cache")))
    };
    platform.map(|dir| dir.join("maskflow"))
}

/// Where the file with this digest lives in the cache.
pub fn path_in(dir: &Path, sha256: &str) -> PathBuf {
    dir.join("models").join(format!("sha256-{sha256}.onnx"))
}

/// The model's bytes, verified against its pinned sha256: read from its path, or from the
/// cache, downloading it there first when it is missing (or damaged).
pub fn obtain(spec: &ModelSpec) -> Result<Vec<u8>, ModelError> {
    let model = spec.label();
    match &spec.source {
        ModelSource::File { path, .. } => {
            let bytes = read_bounded(path).map_err(|e| ModelError::Read {
                model: model.clone(),
                path: path.clone(),
                reason: e.to_string(),
            })?;
            verify(&model, &spec.sha256, bytes)
        }
        ModelSource::Url(url) => {
            let dir = dir().ok_or_else(|| ModelError::NoCacheDir {
                model: model.clone(),
            })?;
            let path = path_in(&dir, &spec.sha256);
            if let Ok(bytes) = read_bounded(&path) {
                if sha256_hex(&bytes) == spec.sha256 {
                    return Ok(bytes);
                }
                // Damaged since it was stored (it was checked then): fetch it again.
                let _ = std::fs::remove_file(&path);
            }
            download(&model, url, &spec.sha256, &path)?;
            let bytes = read_bounded(&path).map_err(|e| ModelError::Cache {
                model: model.clone(),
                dir: dir.clone(),
                reason: e.to_string(),
            })?;
            verify(&model, &spec.sha256, bytes)
        }
    }
}

fn verify(model: &str, expected: &str, bytes: Vec<u8>) -> Result<Vec<u8>, ModelError> {
    let actual = sha256_hex(&bytes);
    if actual == expected {
        Ok(bytes)
    } else {
        Err(ModelError::Digest {
            model: model.to_owned(),
            expected: expected.to_owned(),
            actual,
        })
    }
}

/// Why a model file on disk cannot be used.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error("{}", crate::fsutil::io_reason(.0))]
    Io(#[from] std::io::Error),
    #[error("it is {size} bytes, over the limit of {MAX_MODEL_BYTES}")]
    TooLarge { size: u64 },
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > MAX_MODEL_BYTES {
        return Err(ReadError::TooLarge { size });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_MODEL_BYTES), &mut bytes)?;
    Ok(bytes)
}

/// Hashes what passes through on its way to the file.
struct Sha256Writer<W> {
    inner: W,
    hasher: sha2::Sha256,
}

impl<W: Write> Write for Sha256Writer<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Downloads `url` to `path` through a temporary file in the same folder; renames it into
/// place only when its sha256 is `expected`. On any failure the temporary file is deleted.
fn download(
    model: &str,
    url: &crate::redact::SecretUrl,
    expected: &str,
    path: &Path,
) -> Result<(), ModelError> {
    let folder = path.parent().expect("cache paths have a folder");
    let cache_error = |e: std::io::Error| ModelError::Cache {
        model: model.to_owned(),
        dir: folder.to_owned(),
        reason: crate::fsutil::io_reason(&e),
    };
    std::fs::create_dir_all(folder).map_err(cache_error)?;
    remove_abandoned_downloads(folder);
    let temp = tempfile::Builder::new()
        .prefix(crate::fsutil::TEMP_PREFIX)
        .tempfile_in(folder)
        .map_err(cache_error)?;
    let mut writer = Sha256Writer {
        inner: std::io::BufWriter::new(temp),
        hasher: sha2::Sha256::new(),
    };
    let agent = crate::remote::agent(DOWNLOAD_TIMEOUT);
    crate::remote::download_into(&agent, url, MAX_MODEL_BYTES, &mut writer).map_err(
        |e| match e {
            crate::remote::RemoteError::TooLarge { url, limit } => ModelError::TooLarge {
                model: model.to_owned(),
                what: url,
                limit,
            },
            e => ModelError::Download {
                model: model.to_owned(),
                reason: e.to_string(),
            },
        },
    )?;
    let actual = format!("{:x}", writer.hasher.finalize());
    if actual != expected {
        return Err(ModelError::Digest {
            model: model.to_owned(),
            expected: expected.to_owned(),
            actual,
        });
    }
    let temp = writer
        .inner
        .into_inner()
        .map_err(|e| cache_error(e.into_error()))?;
    temp.as_file().sync_all().map_err(cache_error)?;
    temp.persist(path).map_err(|e| cache_error(e.error))?;
    Ok(())
}

/// Deletes the temporary files of downloads that a killed run left in the cache. Other runs
/// (other checkouts on the same machine) may be downloading into it right now, so only files
/// older than a download may last are deleted: theirs cannot be that old. Best effort: what
/// cannot be deleted now is tried again at the next download.
fn remove_abandoned_downloads(folder: &Path) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let abandoned = entry
            .file_name()
            .to_string_lossy()
            .starts_with(crate::fsutil::TEMP_PREFIX)
            && entry.metadata().is_ok_and(|meta| {
                meta.is_file()
                    && meta
                        .modified()
                        .ok()
                        .and_then(|modified| modified.elapsed().ok())
                        .is_some_and(|age| age > DOWNLOAD_TIMEOUT)
            });
        if abandoned && std::fs::remove_file(entry.path()).is_ok() {
            tracing::debug!(file = %entry.path().display(), "removed an abandoned model download");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_files_are_named_by_their_digest() {
        let path = path_in(Path::new("/c"), "ab12");
        assert_eq!(path, Path::new("/c/models/sha256-ab12.onnx"));
    }
}
