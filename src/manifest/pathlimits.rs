//! Whether an output path can exist at all: checked in `validate`, so that a name no
//! filesystem takes fails at its manifest line instead of after the engine ran.

use std::path::Path;

/// The longest path the system calls take, in bytes with the final NUL (`PATH_MAX`).
#[cfg(target_os = "linux")]
const PATH_MAX: usize = 4096;
#[cfg(all(unix, not(target_os = "linux")))]
const PATH_MAX: usize = 1024;
#[cfg(not(unix))]
const PATH_MAX: usize = 32_767;

/// `NAME_MAX` when the filesystem cannot be asked (nearly every filesystem's value).
const DEFAULT_NAME_MAX: usize = 255;

/// Why an output path cannot be a file, phrased to follow "output `path` ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathLimit {
    #[error("contains a NUL character, which no file name can hold")]
    Nul,
    #[error("has a name of {length} bytes (`{start}…`); this filesystem allows {name_max}")]
    NameTooLong {
        length: usize,
        /// The name's first characters.
        start: String,
        name_max: usize,
    },
    #[error("makes a path of {length} bytes inside {}; the system allows {PATH_MAX}", base.display())]
    PathTooLong {
        length: usize,
        base: std::path::PathBuf,
    },
}

/// Why `key` (relative, `/`-separated) cannot be a file under `dir`, if it cannot.
pub fn check(dir: &Path, key: &str) -> Result<(), PathLimit> {
    if key.contains('\0') {
        return Err(PathLimit::Nul);
    }
    let name_max = name_max(&dir.join(key));
    if let Some(long) = key.split('/').find(|part| part.len() > name_max) {
        return Err(PathLimit::NameTooLong {
            length: long.len(),
            start: long.chars().take(24).collect(),
            name_max,
        });
    }
    let base = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    let length = base.as_os_str().len() + 1 + key.len() + 1;
    if length > PATH_MAX {
        return Err(PathLimit::PathTooLong { length, base });
    }
    Ok(())
}

/// The filesystem's `NAME_MAX` where `path` would be: asked of its nearest existing folder.
fn name_max(path: &Path) -> usize {
    #[cfg(unix)]
    for ancestor in path.ancestors().skip(1) {
        if let Ok(stats) = rustix::fs::statvfs(ancestor) {
            return usize::try_from(stats.f_namemax)
                .ok()
                .filter(|&n| n > 0)
                .unwrap_or(DEFAULT_NAME_MAX);
        }
    }
    let _ = path;
    DEFAULT_NAME_MAX
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_nul_long_names_and_long_paths() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(check(dir.path(), "masks/a.png"), Ok(()));
        assert!(
            check(dir.path(), "masks/a\0.png")
                .unwrap_err()
                .to_string()
                .contains("NUL")
        );
        let long_name = format!("masks/{}.png", "n".repeat(300));
        assert!(
            check(dir.path(), &long_name)
                .unwrap_err()
                .to_string()
                .contains("304 bytes")
        );
        let deep = format!("{}a.png", "d/".repeat(PATH_MAX / 2));
        assert!(
            check(dir.path(), &deep)
                .unwrap_err()
                .to_string()
                .contains("path of")
        );
    }
}
