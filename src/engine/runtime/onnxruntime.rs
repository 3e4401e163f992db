//! The opt-in runtime: onnxruntime, loaded from `libonnxruntime.so` at run time (cargo
//! feature `onnxruntime`, `ort` with `load-dynamic`: nothing is downloaded at build time).

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;
use ort::session::Session as OrtSession;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::TensorRef;

use super::{Input, RuntimeError, RuntimeKind, Session, Tensor, threads_per_job};

/// The onnxruntime release this build was tested with (bench/requirements.txt pins the
/// same wheel); `ort` itself accepts any library from 1.{ort::MINOR_VERSION} on.
pub const TESTED_VERSION: &str = "1.25.1";

/// The library: `ORT_DYLIB_PATH`, else `libonnxruntime.so` on the loader's search path.
fn library_path() -> PathBuf {
    match std::env::var_os("ORT_DYLIB_PATH") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from(format!(
            "{}onnxruntime{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_SUFFIX
        )),
    }
}

/// Loads the library once per process. `ort` would panic on first use if it were missing;
/// loading it here first turns that into an error naming the file.
fn environment() -> Result<&'static Environment, RuntimeError> {
    static ENVIRONMENT: OnceLock<Result<Environment, RuntimeError>> = OnceLock::new();
    ENVIRONMENT
        .get_or_init(|| {
            let path = library_path();
            let library = |message: String| RuntimeError::Library {
                path: path.display().to_string(),
                message,
            };
            ort::init_from(&path)
                .map_err(|e| library(e.to_string()))?
                .with_name("maskflow")
                .build()
                .map_err(|e| library(e.to_string()))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// `ort` runs a session through `&mut`, so concurrent images each take a session of their
/// own from this pool (as many as run at once, each with `threads_per_job` threads).
pub struct OnnxruntimeSession {
    model: Cow<'static, [u8]>,
    idle: Mutex<Vec<(usize, OrtSession)>>,
    output_names: Vec<String>,
}

fn load_error(e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Load {
        runtime: RuntimeKind::Onnxruntime,
        message: e.to_string(),
    }
}

fn run_error(e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Run {
        runtime: RuntimeKind::Onnxruntime,
        message: e.to_string(),
    }
}

impl OnnxruntimeSession {
    pub fn load(model: Cow<'static, [u8]>) -> Result<OnnxruntimeSession, RuntimeError> {
        let threads = threads_per_job();
        let first = new_session(&model, threads)?;
        let output_names = first
            .outputs()
            .iter()
            .map(|o| o.name().to_owned())
            .collect();
        Ok(OnnxruntimeSession {
            model,
            idle: Mutex::new(vec![(threads, first)]),
            output_names,
        })
    }

    /// An idle session with the current thread setting, or a new one.
    fn take(&self) -> Result<(usize, OrtSession), RuntimeError> {
        let threads = threads_per_job();
        let mut idle = self.idle.lock().expect("session pool lock");
        // Sessions made for another thread count are dropped: their pools would be too big.
        idle.retain(|(size, _)| *size == threads);
        match idle.pop() {
            Some(session) => Ok(session),
            None => {
                drop(idle);
                Ok((threads, new_session(&self.model, threads)?))
            }
        }
    }
}

fn new_session(model: &[u8], threads: usize) -> Result<OrtSession, RuntimeError> {
    let environment = environment()?;
    OrtSession::builder(environment)
        .map_err(load_error)?
        // As rembg's session: default optimization, sequential execution.
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(load_error)?
        .with_intra_threads(threads)
        .map_err(load_error)?
        .with_inter_threads(1)
        .map_err(load_error)?
        .commit_from_memory(model)
        .map_err(load_error)
}

impl Session for OnnxruntimeSession {
    fn runtime(&self) -> RuntimeKind {
        RuntimeKind::Onnxruntime
    }

    fn run(&self, input: Input<'_>, output: usize) -> Result<Tensor, RuntimeError> {
        input.check()?;
        let name = self
            .output_names
            .get(output)
            .ok_or(RuntimeError::NoSuchOutput {
                index: output,
                count: self.output_names.len(),
            })?;
        let shape: Vec<i64> = input.shape.iter().map(|&d| d as i64).collect();
        let tensor =
            TensorRef::from_array_view((shape, input.data)).map_err(run_error)?;
        let (threads, mut session) = self.take()?;
        let result = (|| {
            let outputs = session
                .run(ort::inputs![tensor])
                .map_err(run_error)?;
            let (shape, data) = outputs[name.as_str()]
                .try_extract_tensor::<f32>()
                .map_err(|_| RuntimeError::OutputType { index: output })?;
            Ok(Tensor {
                shape: shape.iter().map(|&d| d.max(0) as usize).collect(),
                data: data.to_vec(),
            })
        })();
        self.idle
            .lock()
            .expect("session pool lock")
            .push((threads, session));
        result
    }
}
