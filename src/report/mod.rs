//! The only layer that prints. Commands emit events; a renderer turns them into text for
//! people (stderr) or JSON for machines (stdout).

pub mod cards;
mod github;
pub mod html;
mod human;
mod json;

use std::path::Path;

use crate::apply::Summary;
use crate::lock::OutputRecord;
use crate::manifest::{ManifestError, Step};
use crate::plan::{Action, Plan};

pub use github::Github;
pub use human::Human;
pub use json::Json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Text for people, on stderr.
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
    Valid {
        manifest: &'a Path,
        images: usize,
    },
    Plan(&'a Plan),
    ApplyStarted {
        to_run: usize,
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
    Removed {
        key: &'a str,
        pruned: bool,
        kept_modified: bool,
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
#[derive(Debug, Clone, serde::Serialize)]
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

pub trait Reporter {
    fn report(&mut self, event: Event<'_>);
}

/// The renderer for `format`; human output becomes GitHub's when running in Actions.
pub fn reporter(format: Format, manifest: &Path) -> Box<dyn Reporter> {
    match format {
        Format::Human if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") => Box::new(
            Github::new(manifest, crate::manifest::lock_path_for(manifest)),
        ),
        Format::Human => Box::new(Human::new()),
        Format::Json => Box::new(Json::new()),
    }
}
