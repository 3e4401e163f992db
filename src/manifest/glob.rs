//! Globs over local files, walked by us and matched with `glob::Pattern` one path component
//! at a time. The `glob` crate's own walker panics on a file name that is not UTF-8 (and a
//! repository can hold one by accident); here such a name is set aside for a warning when
//! it would have matched, and every other match is found as before.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// A file or folder a glob would have looked at, skipped because its name is not UTF-8:
/// maskflow's keys, templates and lockfile are text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedName {
    /// The path as found (relative to the manifest's folder for relative globs).
    pub path: PathBuf,
    pub is_dir: bool,
}

/// What a glob found: the files it matches, by the path shown for them, and the names it
/// had to skip.
#[derive(Debug, Default)]
pub struct Found {
    pub files: BTreeMap<String, PathBuf>,
    pub skipped: Vec<SkippedName>,
}

pub(super) const OPTIONS: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    // Hidden files include our own temporary files; never treat them as images.
    require_literal_leading_dot: true,
};

enum Part {
    /// A name without wildcards (also `.` and `..`): joined without listing the folder.
    Literal(String),
    Pattern(glob::Pattern),
    /// `**`: any number of folders, hidden ones excepted.
    AnyDepth,
}

/// Finds the files `pattern` matches under `base` (or from the root, when it is absolute).
/// An invalid pattern is an error with the `glob` crate's message.
pub fn find(base: &Path, pattern: &str) -> Result<Found, glob::PatternError> {
    glob::Pattern::new(pattern)?;
    let path = Path::new(pattern);
    let mut start = (base.to_owned(), String::new());
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => {
                start.0.push(component.as_os_str());
                start.1.push_str(&component.as_os_str().to_string_lossy());
            }
            Component::CurDir => {}
            Component::ParentDir => parts.push(Part::Literal("..".to_owned())),
            Component::Normal(name) => {
                let name = name.to_string_lossy();
                let name = name.as_ref();
                parts.push(if name == "**" {
                    Part::AnyDepth
                } else if name.contains(['*', '?', '[']) {
                    Part::Pattern(glob::Pattern::new(name)?)
                } else {
                    Part::Literal(name.to_owned())
                });
            }
        }
    }
    let mut found = Found::default();
    let mut ancestors = Vec::new();
    walk(&start.0, &start.1, &parts, &mut ancestors, &mut found);
    Ok(found)
}

fn join(shown: &str, name: &str) -> String {
    if shown.is_empty() {
        name.to_owned()
    } else if shown.ends_with(['/', '\\']) {
        format!("{shown}{name}")
    } else {
        format!("{shown}/{name}")
    }
}

/// Matches `parts` inside `dir` (shown to the user as `shown`). `ancestors` holds the
/// folders `**` is inside of, so that a symlink back up the tree ends the descent.
fn walk(dir: &Path, shown: &str, parts: &[Part], ancestors: &mut Vec<PathBuf>, found: &mut Found) {
    let Some((part, rest)) = parts.split_first() else {
        return;
    };
    match part {
        Part::Literal(name) => visit(&dir.join(name), &join(shown, name), rest, ancestors, found),
        Part::Pattern(pattern) => {
            for (name, path) in entries(dir) {
                match name {
                    Name::Utf8(name) if pattern.matches_with(&name, OPTIONS) => {
                        visit(&path, &join(shown, &name), rest, ancestors, found);
                    }
                    Name::Utf8(_) => {}
                    Name::Lossy(lossy) if pattern.matches_with(&lossy, OPTIONS) => {
                        skip_if_relevant(path, rest.is_empty(), found);
                    }
                    Name::Lossy(_) => {}
                }
            }
        }
        Part::AnyDepth => {
            let Ok(canonical) = std::fs::canonicalize(dir) else {
                return;
            };
            if ancestors.contains(&canonical) {
                return;
            }
            // Zero folders deep first, then each (non-hidden) folder with `**` still ahead.
            walk(dir, shown, rest, ancestors, found);
            ancestors.push(canonical);
            for (name, path) in entries(dir) {
                match name {
                    Name::Utf8(name) if !name.starts_with('.') && path.is_dir() => {
                        walk(&path, &join(shown, &name), parts, ancestors, found);
                    }
                    Name::Utf8(_) => {}
                    Name::Lossy(lossy) if !lossy.starts_with('.') => {
                        skip_if_relevant(path, false, found);
                    }
                    Name::Lossy(_) => {}
                }
            }
            ancestors.pop();
        }
    }
}

/// `path` matched a component: it is a match itself, or the folder the rest applies to.
fn visit(path: &Path, shown: &str, rest: &[Part], ancestors: &mut Vec<PathBuf>, found: &mut Found) {
    if rest.is_empty() {
        if path.is_file() {
            found.files.insert(shown.to_owned(), path.to_owned());
        }
    } else if path.is_dir() {
        walk(path, shown, rest, ancestors, found);
    }
}

/// A name that is not UTF-8 matched: it is worth a warning when it is what the glob was
/// after there, a file at the last component or a folder before it.
fn skip_if_relevant(path: PathBuf, last: bool, found: &mut Found) {
    let relevant = if last { path.is_file() } else { path.is_dir() };
    if relevant && !found.skipped.iter().any(|s| s.path == path) {
        found.skipped.push(SkippedName {
            is_dir: !last,
            path,
        });
    }
}

/// A file name as read from a folder.
enum Name {
    Utf8(String),
    /// Not UTF-8: shown lossily, never matched as an image.
    Lossy(String),
}

/// The entries of `dir`, sorted, each with its name, or its lossy name when it is not
/// UTF-8. An unreadable folder holds no matches, as with the `glob` crate.
fn entries(dir: &Path) -> Vec<(Name, PathBuf)> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<(OsString, PathBuf)> = read
        .filter_map(Result::ok)
        .map(|e| (e.file_name(), e.path()))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|(name, path)| {
            let name = match name.into_string() {
                Ok(name) => Name::Utf8(name),
                Err(raw) => Name::Lossy(raw.to_string_lossy().into_owned()),
            };
            (name, path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, relative: &str) {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x").unwrap();
    }

    fn shown(found: &Found) -> Vec<&str> {
        found.files.keys().map(String::as_str).collect()
    }

    #[test]
    fn matches_like_the_glob_crate() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for file in [
            "a.png",
            "b.jpg",
            ".hidden.png",
            "photos/c.png",
            "photos/deep/d.png",
            "photos/.git/e.png",
            ".cache/f.png",
        ] {
            touch(root, file);
        }
        let find = |p: &str| find(root, p).unwrap();
        assert_eq!(shown(&find("*.png")), ["a.png"]);
        assert_eq!(shown(&find("photos/*.png")), ["photos/c.png"]);
        assert_eq!(
            shown(&find("**/*.png")),
            ["a.png", "photos/c.png", "photos/deep/d.png"]
        );
        assert_eq!(
            shown(&find("photos/**/*.png")),
            ["photos/c.png", "photos/deep/d.png"]
        );
        assert_eq!(shown(&find("./photos/c.[pj]ng")), ["photos/c.png"]);
        assert_eq!(shown(&find(".cache/*.png")), [".cache/f.png"]);
        assert_eq!(shown(&find("photos/../a.png")), ["photos/../a.png"]);
        assert!(find("nothing/*.png").files.is_empty());
        assert!(super::find(root, "a**b").is_err());
        let absolute = format!("{}/photos/*.png", root.display());
        assert_eq!(find(&absolute).files.len(), 1);
    }

    // Linux file systems take any bytes in a name; macOS's refuse names that are not UTF-8.
    #[cfg(target_os = "linux")]
    #[test]
    fn symlink_loops_end_and_odd_names_are_skipped() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(root, "photos/ok.png");
        std::os::unix::fs::symlink("..", root.join("photos/up")).unwrap();
        let odd = root.join("photos").join(OsStr::from_bytes(b"caf\xe9.png"));
        std::fs::write(&odd, b"x").unwrap();
        let found = find(root, "**/*.png").unwrap();
        assert!(found.files.contains_key("photos/ok.png"));
        assert_eq!(
            found.skipped,
            [SkippedName {
                path: odd,
                is_dir: false
            }]
        );
    }
}
