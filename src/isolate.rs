//! Keeping one image's panic to that image.
//!
//! A panic in a decoder or the model is a bug, but it is one input's bug: the image fails with
//! what the panic said, and the workers go on with the rest of the run.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A panic caught while one image was worked on.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Crash {
    pub message: String,
}

/// Runs `work`; a panic becomes an `Err` with its message.
///
/// Unwind safety: what `work` shares with other workers is behind mutexes (poisoned, and so
/// refused, if the panic hit while one was held) or read-only.
pub fn run_isolated<T>(work: impl FnOnce() -> T) -> Result<T, Crash> {
    catch_unwind(AssertUnwindSafe(work)).map_err(|panic| Crash {
        message: panic_message(panic.as_ref()),
    })
}

/// What a panic said, as the failure stored for its image.
pub fn panic_message(panic: &(dyn Any + Send)) -> String {
    let said = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned());
    format!("maskflow crashed on this image (a bug; please report it): {said}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_with_its_message() {
        assert_eq!(run_isolated(|| 7).ok(), Some(7));
        let error = run_isolated(|| -> u8 { panic!("index {} out of range", 9) }).unwrap_err();
        assert!(error.message.contains("index 9 out of range"), "{error}");
        let error = run_isolated(|| -> u8 { std::panic::panic_any(3u8) }).unwrap_err();
        assert!(error.message.contains("no message"), "{error}");
    }
}
