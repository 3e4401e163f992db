//! The only layer that prints. Commands emit events; a renderer turns them into text for
//! people (stderr) or JSON for machines (stdout).

mod github;
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
