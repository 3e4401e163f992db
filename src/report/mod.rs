//! The only layer that prints. Commands emit events; a renderer turns them into text for
//! people (the plan on stdout, the rest on stderr) or JSON for machines (stdout).

pub mod cards;
pub mod escape;
pub mod events;
mod github;
pub mod html;
mod human;
mod json;

use std::path::Path;

use crate::lock::OutputRecord;
use crate::manifest::{ManifestError, Pos, RetouchPolicy, SkippedName, Source, Step};
use crate::plan::{Action, Plan, Reason};
use crate::shard::share::SubmitShare;
use crate::summary::Summary;

pub use github::Github;
pub use human::Human;
pub use json::Json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Text for people: the plan on stdout; progress and diagnostics on stderr.
    Human,
    /// JSON on stdout: one document for `plan` and `validate`, one event per line for `apply`.
    Json,
}

/// Everything a command can tell the user.
pub enum Event<'a> {
    /// The manifest has problems, each at a line and column.
    Invalid(&'a ManifestError),
    /// A command failed.
    Failure(&'a crate::Error),
    /// A file or folder left out because its name is not UTF-8, at the manifest entry whose
    /// glob met it (`init` has none).
    Skipped {
        skipped: &'a SkippedName,
        at: Option<(&'a Source, Pos)>,
    },
    Valid {
        manifest: &'a Path,
        images: usize,
    },
    Plan(&'a Plan),
    ApplyStarted {
        to_run: usize,
        /// With `--shard` and paid jobs to submit: the submission quota this shard keeps to.
        submit_share: Option<&'a SubmitShare>,
    },
    Started {
        key: &'a str,
    },
    Finished {
        step: &'a Step,
        action: &'a Action,
        output: &'a OutputRecord,
    },
    Failed {
        step: &'a Step,
        error: &'a str,
    },
    /// An image's mask was remade: a preview of the mask it replaced, taken before it was
    /// overwritten, and the share of pixels that changed (see `thumbnail::changed_share`).
    Replaced {
        key: &'a str,
        previous: &'a image::GrayImage,
        changed: f64,
    },
    /// The visual report was written.
    ReportWritten {
        path: &'a Path,
        images: usize,
    },
    /// A local input was uploaded to the staging bucket.
    Uploaded {
        key: &'a str,
        object: &'a str,
    },
    /// A paid job was submitted and recorded in the lockfile.
    Submitted {
        key: &'a str,
        job: &'a str,
    },
    /// A credential minted during the run (an access token): CI logs must mask it.
    SecretMinted(&'a str),
    /// `maskflow status`: the jobs recorded as in flight.
    Status(&'a [JobState]),
    /// An orphaned entry left the lockfile.
    Removed {
        key: &'a str,
        /// The file `--prune` deleted.
        deleted: Option<&'a Path>,
        /// Why `--prune` left the file there.
        kept: Option<crate::summary::Kept>,
    },
    /// A mask modified outside maskflow, left in place; with `retouched: fail` it fails the run.
    Kept {
        step: &'a Step,
        reasons: &'a [Reason],
        policy: RetouchPolicy,
    },
    /// A manual mask whose input or settings changed, left for the user to decide.
    Conflict {
        step: &'a Step,
        reasons: &'a [Reason],
    },
    /// `maskflow adopt` recorded the file on disk as the image's mask.
    Adopted {
        step: &'a Step,
        output: &'a OutputRecord,
    },
    /// `maskflow adopt` could not record this image's mask.
    NotAdopted {
        step: &'a Step,
        error: &'a str,
    },
    /// `maskflow adopt` is done.
    AdoptComplete {
        adopted: usize,
        failed: usize,
        /// Selected masks already recorded as manual, with the same input and file.
        unchanged: usize,
    },
    Summary(&'a Summary),
    /// Partial lockfiles combined by `lock merge`.
    Merged {
        path: &'a Path,
        parts: usize,
        images: usize,
    },
    /// A file written by `init`.
    Wrote {
        path: &'a Path,
        images: usize,
    },
    /// `maskflow emulate` is serving; these are the credentials it accepts.
    EmulatorListening {
        base_url: &'a str,
        client_id: &'a str,
        client_secret: &'a str,
    },
    /// A document to print as is (schemas).
    Document(&'a str),
}

/// One job recorded as in flight, and what the service says of it now.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct JobState {
    pub key: String,
    pub job: String,
    pub engine: String,
    pub submitted_at: String,
    /// `pending`, `running`, `succeeded`, `failed`, or `unknown` when the service could not say.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The one sentence every renderer uses for a skipped name.
pub(crate) fn skipped_message(skipped: &SkippedName) -> String {
    format!(
        "skipped {} `{}`: its name is not valid UTF-8",
        if skipped.is_dir { "folder" } else { "file" },
        escape::path(&skipped.path)
    )
}

pub(crate) const SKIPPED_HINT: &str =
    "rename it to include it: maskflow's keys, templates and lockfile are text";

pub trait Reporter {
    fn report(&mut self, event: Event<'_>);
}

/// Why a mask is kept (`modified outside maskflow`), and what else would have been redone.
pub fn kept_text(reasons: &[Reason], policy: RetouchPolicy) -> String {
    let mut text = "modified outside maskflow".to_owned();
    let also: Vec<String> = reasons
        .iter()
        .filter(|r| **r != Reason::OutputModified)
        .map(ToString::to_string)
        .collect();
    if !also.is_empty() {
        text.push_str(&format!(" (and {})", also.join(", ")));
    }
    if policy == RetouchPolicy::Fail {
        text.push_str("; `retouched: fail` fails the run");
    }
    text
}

/// Why a manual mask is in conflict: `input changed since the manual mask`.
pub fn conflict_text(reasons: &[Reason]) -> String {
    let why: Vec<String> = reasons
        .iter()
        .map(|r| match r {
            Reason::OutputModified => "mask modified".to_owned(),
            other => other.to_string(),
        })
        .collect();
    format!("{} since the manual mask", why.join(", "))
}

/// What the user can do about a kept mask or a conflict.
pub fn resolve_hint(key: &str) -> String {
    let key = glob::Pattern::escape(key);
    format!(
        "`maskflow adopt {key}` keeps the mask on disk, `maskflow apply --force {key}` remakes it"
    )
}

/// The renderer for `format`; human output becomes GitHub's when running in Actions.
pub fn reporter(format: Format, manifest: &Path) -> Box<dyn Reporter> {
    match format {
        Format::Human if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") => Box::new(
            Github::new(manifest, crate::manifest::lock_path_for(manifest)),
        ),
        Format::Human => Box::new(Human::new().with_manifest(manifest)),
        Format::Json => Box::new(Json::new()),
    }
}
