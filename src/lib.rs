//! maskflow: a YAML manifest of images in, subject masks and a lockfile out, redoing only
//! what changed. The pipeline is load -> validate -> expand -> plan -> apply -> lock.

pub mod adopt;
pub mod apply;
pub mod cli;
mod commands;
pub mod diagnostics;
pub mod emulate;
pub mod engine;
mod error;
pub mod fsutil;
pub mod http;
mod init;
pub mod isolate;
pub mod lock;
pub mod manifest;
pub mod models;
pub mod observe;
pub mod percent;
pub mod plan;
pub mod png;
pub mod redact;
pub mod remote;
pub mod report;
pub mod shard;
pub mod storage;
pub mod summary;
pub mod thumbnail;

use std::path::PathBuf;

pub use commands::{execute, report_error, start};
pub use error::{CommandOutcome, Span};

/// Exit codes, as Terraform's `-detailed-exitcode` defines them.
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    /// Changes pending: `plan --detailed-exitcode` with something to do, or an `apply` that
    /// left a conflict (a manual mask whose input changed) for the user to resolve.
    pub const CHANGES: u8 = 2;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Manifest(#[from] manifest::ManifestError),
    #[error(transparent)]
    Lock(#[from] lock::LockError),
    /// A lockfile write that failed while recording one image.
    #[error("{source}")]
    Record {
        key: String,
        source: lock::LockError,
    },
    #[error(transparent)]
    Engine(#[from] engine::EngineError),
    #[error(transparent)]
    Emulate(#[from] emulate::EmulateError),
    #[error(transparent)]
    OutputFolder(#[from] apply::FolderError),
    #[error("this run would submit {submits} paid jobs, more than --max-submits {max}")]
    TooManySubmits { submits: usize, max: usize },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `--prune` could not check or delete an orphan's mask.
    #[error("{}: {source}", path.display())]
    Prune {
        key: String,
        path: PathBuf,
        source: std::io::Error,
    },
    /// `--prune` could not check or delete an orphan's mask in a bucket.
    #[error("{}", redact::redact_text(&source.described()))]
    PruneObject {
        key: String,
        source: storage::StorageError,
    },
    #[error("another `maskflow apply` is running on {}", path.display())]
    Busy { path: PathBuf },
    #[error("{} already exists", path.display())]
    InitExists { path: PathBuf },
    #[error("no PNG or JPEG images found under {}", dir.display())]
    InitEmpty { dir: PathBuf },
    #[error("`{pattern}` matches no image of the manifest")]
    AdoptUnmatched { pattern: String },
}

impl Error {
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Manifest(e) => e.hint(),
            Error::Lock(e) | Error::Record { source: e, .. } => e.hint(),
            Error::Engine(e) => e.hint(),
            Error::Emulate(e) => e.hint(),
            Error::InitExists { .. } => Some("pass --force to overwrite it".to_owned()),
            Error::Busy { .. } => {
                Some("wait for it to finish; two runs would race on the lockfile".to_owned())
            }
            Error::InitEmpty { .. } => {
                Some("point `maskflow init` at the folder that holds the images".to_owned())
            }
            Error::TooManySubmits { .. } => Some(
                "raise --max-submits, or run part of the images with --only or --shard".to_owned(),
            ),
            Error::AdoptUnmatched { .. } => Some(
                "a pattern matches an image's mask path (as `maskflow plan` lists it) or its \
                 input path"
                    .to_owned(),
            ),
            Error::OutputFolder(_) => Some(
                "make the folder writable, or point `output` elsewhere; no image was masked"
                    .to_owned(),
            ),
            Error::PruneObject { source, .. } => source.hint(),
            Error::Io { .. } | Error::Prune { .. } => None,
        }
    }
}

/// An error as a report line and the lockfile keep it: its message, then its hint in
/// parentheses when it has one.
pub fn with_hint(error: &impl std::fmt::Display, hint: Option<impl std::fmt::Display>) -> String {
    match hint {
        Some(hint) => format!("{error} ({hint})"),
        None => error.to_string(),
    }
}
