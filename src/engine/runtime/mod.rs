//! Runs an ONNX model on the CPU, whichever runtime does it.
//!
//! One f32 NCHW input in, one output (chosen by index) out, as a flat `Vec<f32>` with its
//! shape. Engines pick a model and own the pre- and post-processing; this module owns the
//! runtime, its threads and its errors, so a model is loaded the same way whatever it is.
//!
//! The default runtime is `rten` (pure Rust, compiled in). `onnxruntime` is opt-in: built
//! with the cargo feature `onnxruntime`, it loads `libonnxruntime.so` at run time.

mod rten;

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The runtimes maskflow knows, whether or not this build includes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RuntimeKind {
    /// rten, pure Rust, always compiled in.
    #[default]
    Rten,
    /// onnxruntime, loaded from a shared library at run time (cargo feature `onnxruntime`).
    Onnxruntime,
}

impl RuntimeKind {
    pub const ALL: [RuntimeKind; 2] = [RuntimeKind::Rten, RuntimeKind::Onnxruntime];

    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeKind::Rten => "rten",
            RuntimeKind::Onnxruntime => "onnxruntime",
        }
    }

    /// Whether this build can run it at all (the library may still be missing).
    pub fn compiled_in(self) -> bool {
        match self {
            RuntimeKind::Rten => true,
            RuntimeKind::Onnxruntime => false,
        }
    }
}

impl fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RuntimeKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        RuntimeKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| format!("unknown runtime `{text}`; use `rten` or `onnxruntime`"))
    }
}

/// Why a model could not be loaded or run. Cloneable so a failed shared load can be
/// reported to every image that needed it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuntimeError {
    #[error("the {runtime} runtime cannot load the model: {message}")]
    Load {
        runtime: RuntimeKind,
        message: String,
    },
    #[error("the {runtime} runtime failed to run the model: {message}")]
    Run {
        runtime: RuntimeKind,
        message: String,
    },
    #[error("the model has {count} outputs; output {index} was asked for")]
    NoSuchOutput { index: usize, count: usize },
    #[error("input of shape {shape:?} needs {expected} values, got {actual}")]
    InputSize {
        shape: Vec<usize>,
        expected: usize,
        actual: usize,
    },
    #[error("output {index} is not a float tensor")]
    OutputType { index: usize },
    #[error("this maskflow was built without the {runtime} runtime")]
    NotCompiledIn { runtime: RuntimeKind },
}

impl RuntimeError {
    pub fn hint(&self) -> Option<String> {
        match self {
            RuntimeError::NotCompiledIn { .. } => Some(
                "rebuild with `cargo build --release --features onnxruntime`, or use the default runtime (`--runtime rten`)".to_owned(),
            ),
            _ => None,
        }
    }
}

/// A flat f32 tensor: `data.len()` is the product of `shape`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// A borrowed f32 input, NCHW for image models.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub shape: &'a [usize],
    pub data: &'a [f32],
}

impl Input<'_> {
    fn check(&self) -> Result<(), RuntimeError> {
        let expected = self.shape.iter().product::<usize>();
        if expected == self.data.len() {
            Ok(())
        } else {
            Err(RuntimeError::InputSize {
                shape: self.shape.to_vec(),
                expected,
                actual: self.data.len(),
            })
        }
    }
}

/// A loaded model, shared by every worker thread.
pub trait Session: Send + Sync {
    fn runtime(&self) -> RuntimeKind;
    /// Runs the model on its (single) input and returns output `output`. Only what that
    /// output needs is computed where the runtime allows.
    fn run(&self, input: Input<'_>, output: usize) -> Result<Tensor, RuntimeError>;
}

/// Loads an ONNX model with `runtime`. Embedded models pass a `&'static` slice (no copy).
pub fn load(
    runtime: RuntimeKind,
    model: impl Into<Cow<'static, [u8]>>,
) -> Result<Box<dyn Session>, RuntimeError> {
    match runtime {
        RuntimeKind::Rten => Ok(Box::new(rten::RtenSession::load(model.into())?)),
        RuntimeKind::Onnxruntime => Err(RuntimeError::NotCompiledIn { runtime }),
    }
}

/// Threads one inference may use. `--jobs` images run at once, each with this many, so
/// callers set it to cores / jobs and the machine is never oversubscribed.
static THREADS_PER_JOB: AtomicUsize = AtomicUsize::new(0);

/// Sets how many threads each inference may use (at least 1); applies to runs that start
/// afterwards.
pub fn set_threads_per_job(threads: usize) {
    THREADS_PER_JOB.store(threads.max(1), Ordering::Relaxed);
}

/// The setting, or every core when nobody set it (one image at a time).
pub fn threads_per_job() -> usize {
    match THREADS_PER_JOB.load(Ordering::Relaxed) {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        n => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_names_round_trip_and_unknown_names_are_refused() {
        for kind in RuntimeKind::ALL {
            assert_eq!(kind.as_str().parse::<RuntimeKind>(), Ok(kind));
        }
        let err = "tract".parse::<RuntimeKind>().unwrap_err();
        assert!(err.contains("rten"), "{err}");
    }

    #[test]
    fn inputs_whose_length_does_not_match_their_shape_are_refused() {
        let data = [0.0f32; 5];
        let input = Input {
            shape: &[1, 2, 3],
            data: &data,
        };
        assert!(matches!(
            input.check(),
            Err(RuntimeError::InputSize {
                expected: 6,
                actual: 5,
                ..
            })
        ));
    }
}
