//! What a run did, counted and explained: produced by `apply`, rendered by `report`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The counts of one `apply`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
    /// Orphaned entries removed from the lockfile.
    pub removed: usize,
    /// Mask files of orphaned entries deleted (`--prune`).
    pub pruned: usize,
    /// Items left alone because `--only` did not select them.
    pub skipped: usize,
    pub engine_runs: usize,
    /// Paid jobs started (`photoshop` engine).
    pub submitted: usize,
    /// Local inputs uploaded to `storage.staging`.
    pub uploaded: usize,
    /// Jobs of an earlier run polled to the end instead of submitted again.
    pub resumed: usize,
    /// Jobs that did not finish in time; the next run resumes them.
    pub in_flight: usize,
    /// Masks modified outside maskflow, left in place (`retouched: keep`).
    pub kept: usize,
    /// Manual masks whose input or settings changed: left for the user to `adopt` or `--force`.
    pub conflicts: usize,
    pub seconds: f64,
}

/// Why an orphan's mask was left on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kept {
    /// Its bytes differ from what maskflow wrote: the user's work since.
    Modified,
    /// It was adopted as a manual mask (`maskflow adopt`).
    Manual,
    /// A symlink is on the way to it (or replaced it while it was checked).
    Symlink,
    /// An image of the manifest reads it as its input.
    Input,
    /// It is a folder or another kind of non-file.
    NotAFile,
    /// It is in a bucket, outside every folder the manifest's outputs now write to.
    OutsideOutputs,
}

impl Kept {
    pub fn describe(self) -> &'static str {
        match self {
            Kept::Modified => "it was modified since maskflow wrote it",
            Kept::Manual => "it was adopted as a manual mask",
            Kept::Symlink => "it is reached through a symlink, which prune never follows",
            Kept::Input => "an image of the manifest uses it as its input",
            Kept::NotAFile => "it is not a regular file",
            Kept::OutsideOutputs => {
                "it is in a bucket folder that no output of the manifest writes to any more"
            }
        }
    }
}
