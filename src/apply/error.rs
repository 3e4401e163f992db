//! Why one image failed. The run goes on with the others; the text (with its hint) is what the
//! lockfile and the report keep for that image.

use std::path::PathBuf;

use crate::engine::EngineError;
use crate::engine::photoshop::lifecycle::JobError;
use crate::engine::render::RenderError;
use crate::fsutil;
use crate::isolate::Crash;
use crate::png::EncodeError;
use crate::remote::RemoteError;

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("cannot read {}: {source}", path.display())]
    ReadInput {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Download(#[from] RemoteError),
    #[error("cannot read the download of {url}: {source}")]
    ReadDownload {
        /// Redacted: no query signature.
        url: String,
        source: std::io::Error,
    },
    /// A cloud object could not be read or signed.
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error("cannot write {key}: {}", fsutil::io_reason(source))]
    WriteMask { key: String, source: std::io::Error },
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Crashed(#[from] Crash),
}

impl StepError {
    pub fn hint(&self) -> Option<String> {
        match self {
            StepError::Engine(e) => e.hint(),
            StepError::Storage(e) => e.hint(),
            StepError::Job(e) => e.hint(),
            StepError::Render(e) => e.hint(),
            StepError::ReadInput { .. }
            | StepError::Download(_)
            | StepError::ReadDownload { .. }
            | StepError::Encode(_)
            | StepError::WriteMask { .. }
            | StepError::Crashed(_) => None,
        }
    }

    /// The error with its hint, as the lockfile and the report keep it.
    pub fn describe(&self) -> String {
        crate::with_hint(self, self.hint())
    }

    /// Whether the image's job may still finish, so its entry must stay "submitted".
    pub fn is_unfinished(&self) -> bool {
        matches!(self, StepError::Job(e) if e.is_unfinished())
    }
}
