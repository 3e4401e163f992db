//! What the top-level [`Error`](crate::Error) knows beyond its message, in the spirit of
//! `just`'s error type: where it is (the file, and the line and column when there is one), what
//! it is about (the image), what to do (the hint, beside each variant in `lib.rs`), and the exit
//! code, all derived from the variant rather than read back from the text.

use std::path::Path;

use crate::engine::EngineError;
use crate::lock::LockError;
use crate::manifest::ManifestError;
use crate::{Error, exit};

/// Where an error is: a file, and a 1-based line and column in it when the error has a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span<'a> {
    pub file: &'a Path,
    pub position: Option<(usize, usize)>,
}

impl<'a> Span<'a> {
    fn file(file: &'a Path) -> Self {
        Self {
            file,
            position: None,
        }
    }

    fn at(file: &'a Path, line: usize, column: usize) -> Self {
        Self {
            file,
            position: Some((line, column)),
        }
    }
}

/// How a command that did not fail as a whole ended, as the README's exit codes tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandOutcome {
    /// Done; with `plan --detailed-exitcode`, nothing to do.
    Done,
    /// Changes pending: `plan --detailed-exitcode` with something to do, or an `apply` that
    /// left a conflict for a person to resolve.
    Changes,
    /// Reported and finished, but an image failed (or a retouched mask under
    /// `retouched: fail`, or an input that cannot be read).
    Failed,
}

impl CommandOutcome {
    pub fn exit_code(self) -> u8 {
        match self {
            CommandOutcome::Done => exit::OK,
            CommandOutcome::Changes => exit::CHANGES,
            CommandOutcome::Failed => exit::ERROR,
        }
    }
}

impl Error {
    /// The exit code the process ends with when a command fails with this error. Every
    /// failure is `1` (as Terraform); the match is exhaustive so that a new variant chooses.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Manifest(_)
            | Error::Lock(_)
            | Error::Record { .. }
            | Error::Engine(_)
            | Error::Emulate(_)
            | Error::OutputFolder(_)
            | Error::TooManySubmits { .. }
            | Error::Io { .. }
            | Error::Prune { .. }
            | Error::PruneObject { .. }
            | Error::Busy { .. }
            | Error::InitExists { .. }
            | Error::InitEmpty { .. }
            | Error::AdoptUnmatched { .. } => exit::ERROR,
        }
    }

    /// The file the error is in or about, with the line and column when it has a place. A
    /// broken manifest's span is its first problem (each problem has its own besides).
    pub fn span(&self) -> Option<Span<'_>> {
        match self {
            Error::Manifest(ManifestError::Read { path, .. }) => Some(Span::file(path)),
            Error::Manifest(ManifestError::Invalid { file, diagnostics }) => {
                Some(diagnostics.first().map_or(Span::file(&file.path), |first| {
                    Span::at(&file.path, first.pos.line, first.pos.column)
                }))
            }
            Error::Lock(error) | Error::Record { source: error, .. } => lock_span(error),
            Error::Engine(error) => engine_span(error),
            Error::OutputFolder(error) => Some(Span::file(&error.path)),
            Error::Io { path, .. }
            | Error::Prune { path, .. }
            | Error::Busy { path }
            | Error::InitExists { path } => Some(Span::file(path)),
            Error::InitEmpty { dir } => Some(Span::file(dir)),
            Error::Emulate(_)
            | Error::TooManySubmits { .. }
            | Error::AdoptUnmatched { .. }
            | Error::PruneObject { .. } => None,
        }
    }

    /// The image (its key: the mask's path) the error is about, when it is about one.
    pub fn image(&self) -> Option<&str> {
        match self {
            Error::Record { key, .. }
            | Error::Prune { key, .. }
            | Error::PruneObject { key, .. } => Some(key),
            Error::Lock(
                LockError::Unsafe { key, .. }
                | LockError::Conflict { key, .. }
                | LockError::OriginConflict { key, .. },
            ) => Some(key),
            _ => None,
        }
    }
}

fn lock_span(error: &LockError) -> Option<Span<'_>> {
    match error {
        LockError::Parse {
            path, line, column, ..
        }
        | LockError::Journal {
            path, line, column, ..
        } => Some(Span::at(path, *line, *column)),
        LockError::Read { path, .. }
        | LockError::Version { path, .. }
        | LockError::Write { path, .. }
        | LockError::Unsafe { path, .. } => Some(Span::file(path)),
        // Two files disagree: the second is where the merge stopped.
        LockError::Conflict { second, .. } => Some(Span::file(second)),
        LockError::OriginConflict { generated, .. } => Some(Span::file(generated)),
    }
}

fn engine_span(error: &EngineError) -> Option<Span<'_>> {
    match error {
        EngineError::Decode { path, .. }
        | EngineError::TooLarge { path, .. }
        | EngineError::Damaged { path, .. }
        | EngineError::Inference { path, .. } => Some(Span::file(path)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn a_lockfile_that_does_not_parse_is_placed_at_its_line_and_column() {
        let error = Error::Lock(LockError::Parse {
            path: PathBuf::from("maskflow.lock"),
            line: 7,
            column: 3,
            message: "expected `,`".to_owned(),
        });
        assert_eq!(
            error.span(),
            Some(Span::at(Path::new("maskflow.lock"), 7, 3))
        );
        assert_eq!(error.exit_code(), exit::ERROR);
        assert!(error.hint().is_some());
    }

    #[test]
    fn a_failed_lockfile_write_names_the_image_being_recorded() {
        let error = Error::Record {
            key: "masks/a.png".to_owned(),
            source: LockError::Write {
                path: PathBuf::from("maskflow.lock"),
                source: std::io::Error::other("disk full"),
            },
        };
        assert_eq!(error.image(), Some("masks/a.png"));
        assert_eq!(error.span(), Some(Span::file(Path::new("maskflow.lock"))));
        // The message is the lockfile's, unchanged.
        assert_eq!(
            error.to_string(),
            "cannot write lockfile maskflow.lock: disk full"
        );
    }

    #[test]
    fn outcomes_map_to_the_documented_exit_codes() {
        assert_eq!(CommandOutcome::Done.exit_code(), 0);
        assert_eq!(CommandOutcome::Failed.exit_code(), 1);
        assert_eq!(CommandOutcome::Changes.exit_code(), 2);
    }
}
