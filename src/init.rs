//! `maskflow init`: a commented starter manifest for a folder of images.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::manifest::SkippedName;
use crate::report::{Event, Reporter};
use crate::{CommandOutcome, Error, fsutil};

const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];
/// Deep enough for real asset trees, shallow enough that `init /` cannot run forever.
const MAX_DEPTH: usize = 8;

pub fn init(dir: &Path, force: bool, reporter: &mut dyn Reporter) -> Result<CommandOutcome, Error> {
    let path = dir.join("maskflow.yaml");
    if path.exists() && !force {
        return Err(Error::InitExists { path });
    }
    let mut images = Vec::new();
    let mut skipped = Vec::new();
    collect_images(dir, dir, 0, &mut images, &mut skipped).map_err(|source| Error::Io {
        path: dir.to_owned(),
        source,
    })?;
    for skipped in &skipped {
        reporter.report(Event::Skipped { skipped, at: None });
    }
    if images.is_empty() {
        return Err(Error::InitEmpty {
            dir: dir.to_owned(),
        });
    }
    let text = starter_manifest(&images);
    fsutil::write_atomic(&path, text.as_bytes()).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    ignore_journal(dir)?;
    reporter.report(Event::Wrote {
        path: &path,
        images: images.len(),
    });
    Ok(CommandOutcome::Done)
}

/// The journal is a scratch file of a running (or killed) `apply`: like `cargo init` with
/// `target/`, keep it out of version control from the start. An existing `.gitignore` only
/// gains the line it lacks.
fn ignore_journal(dir: &Path) -> Result<(), Error> {
    let path = dir.join(".gitignore");
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => return Err(Error::Io { path, source }),
    };
    let Some(updated) = with_journal_ignored(&existing) else {
        return Ok(());
    };
    fsutil::write_atomic(&path, updated.as_bytes()).map_err(|source| Error::Io { path, source })
}

const JOURNAL_PATTERN: &str = "*.lock.journal";

/// `existing` with the journal pattern appended, or `None` when a line already covers it.
fn with_journal_ignored(existing: &str) -> Option<String> {
    let covered = existing
        .lines()
        .map(str::trim)
        .any(|line| line == JOURNAL_PATTERN || line == "maskflow.lock.journal");
    if covered {
        return None;
    }
    let mut updated = existing.to_owned();
    if !updated.is_empty() && !updated.ends_with('\n') {
        updated.push('\n');
    }
    updated.push_str("# maskflow's journal of a running apply (see README, \"The journal\")\n");
    updated.push_str(JOURNAL_PATTERN);
    updated.push('\n');
    Some(updated)
}

fn collect_images(
    root: &Path,
    dir: &Path,
    depth: usize,
    found: &mut Vec<PathBuf>,
    skipped: &mut Vec<SkippedName>,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        // Hidden folders and the default output folder hold no inputs.
        if name.starts_with('.') || (depth == 0 && name == "masks") {
            continue;
        }
        let file_type = entry.file_type()?;
        // A glob written from a lossy name would match nothing, and the manifest is text:
        // leave the name out, and say so.
        if entry.file_name().to_str().is_none() {
            if file_type.is_dir() || (file_type.is_file() && is_image(&name)) {
                let path = entry.path();
                skipped.push(SkippedName {
                    path: path.strip_prefix(root).unwrap_or(&path).to_owned(),
                    is_dir: file_type.is_dir(),
                });
            }
            continue;
        }
        if file_type.is_dir() && depth < MAX_DEPTH {
            collect_images(root, &entry.path(), depth + 1, found, skipped)?;
        } else if file_type.is_file() && is_image(&name) {
            found.push(
                entry
                    .path()
                    .strip_prefix(root)
                    .unwrap_or(&entry.path())
                    .to_owned(),
            );
        }
    }
    Ok(())
}

fn is_image(name: &str) -> bool {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// One glob per (folder, extension), and an output template that keeps outputs distinct.
fn starter_manifest(images: &[PathBuf]) -> String {
    let mut globs = BTreeSet::new();
    let mut stems: BTreeMap<(String, String), usize> = BTreeMap::new();
    for image in images {
        let dir = image
            .parent()
            .map(|d| d.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        let ext = image
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = image
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Folder names may hold `[`, `*` or `?`: match them literally.
        let (glob_dir, glob_ext) = (glob::Pattern::escape(&dir), glob::Pattern::escape(&ext));
        globs.insert(if dir.is_empty() {
            format!("*.{glob_ext}")
        } else {
            format!("{glob_dir}/*.{glob_ext}")
        });
        *stems.entry((dir, stem)).or_default() += 1;
    }
    let clash = stems.values().any(|&n| n > 1);
    let output = if clash {
        "masks/{{ dir }}/{{ stem }}.{{ ext }}.png"
    } else {
        "masks/{{ dir }}/{{ stem }}.png"
    };
    let mut text = String::from(
        "# maskflow manifest: which images get subject masks, and where the masks go.\n\
         # `maskflow plan` previews, `maskflow apply` makes the masks and records them in\n\
         # maskflow.lock (commit both files). `maskflow schema` prints the JSON Schema.\n\
         version: 1\n\
         \n\
         # Values templates can use as {{ vars.NAME }}.\n\
         # vars:\n\
         #   size: large\n\
         \n\
         defaults:\n\
         \x20 # Where each mask goes, relative to this file. Per image: name, path, dir, stem, ext;\n\
         \x20 # also vars.NAME and env(\"NAME\").\n",
    );
    text.push_str(&format!("  output: \"{output}\"\n"));
    text.push_str(
        "  # soft: 8-bit grey levels; binary: black or white only.\n\
         \x20 mask: soft\n\
         \x20 # local: the embedded model, on the CPU, offline and free.\n\
         \x20 engine: local\n\
         \n\
         images:\n",
    );
    for glob in &globs {
        // A JSON string is a YAML double-quoted scalar: quotes, backslashes and control
        // characters in folder names stay inside it.
        let quoted = serde_json::to_string(glob).expect("a string serializes");
        text.push_str(&format!("  - glob: {quoted}\n"));
    }
    text.push_str(
        "  # One file, with its own settings:\n\
         \x20 # - input: photos/cat.png\n\
         \x20 #   mask: binary\n\
         \x20 #   output: \"masks/cat-cutout.png\"\n",
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_is_ignored_once() {
        let fresh = with_journal_ignored("").expect("an empty .gitignore lacks the line");
        assert!(fresh.ends_with("\n*.lock.journal\n"), "{fresh}");
        assert_eq!(with_journal_ignored(&fresh), None);
        let appended = with_journal_ignored("target/").expect("the line is missing");
        assert!(appended.starts_with("target/\n# maskflow"), "{appended}");
        assert_eq!(with_journal_ignored("  maskflow.lock.journal  \n"), None);
    }

    #[test]
    fn starter_manifest_globs_each_folder_and_extension() {
        let text = starter_manifest(&[
            PathBuf::from("photos/a.png"),
            PathBuf::from("photos/b.png"),
            PathBuf::from("c.jpg"),
        ]);
        assert!(text.contains("- glob: \"photos/*.png\""));
        assert!(text.contains("- glob: \"*.jpg\""));
        assert!(text.contains("masks/{{ dir }}/{{ stem }}.png"));
    }

    #[test]
    fn odd_folder_names_stay_literal_and_quoted() {
        let text = starter_manifest(&[PathBuf::from("a\"b [1]/c.png")]);
        assert!(text.contains(r#"- glob: "a\"b [[]1[]]/*.png""#), "{text}");
    }

    #[test]
    fn same_stem_different_extension_keeps_outputs_apart() {
        let text = starter_manifest(&[PathBuf::from("a.png"), PathBuf::from("a.jpg")]);
        assert!(text.contains("{{ stem }}.{{ ext }}.png"));
    }
}
