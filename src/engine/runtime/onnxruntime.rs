//! The opt-in runtime: onnxruntime, loaded from `libonnxruntime.so` at run time (cargo
//! feature `onnxruntime`, `ort` with `load-dynamic`: nothing is downloaded at build time).

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock, PoisonError};

use ort::environment::Environment;
use ort::session::Session as OrtSession;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::TensorRef;

use super::{Input, RuntimeError, RuntimeKind, Session, Tensor};

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

/// One session for the whole process, run by one image at a time with every core.
///
/// Measured on the small workload of `bench/apply_vs_peer.sh` (2 cores, `--jobs 2`): a
/// session per worker peaked at 1021 MB (2x the peer) because each session plans and keeps
/// its own activations, and glibc keeps what each worker thread freed in that thread's own
/// malloc arena. One session with onnxruntime's arena and without memory patterns peaked at
/// 344 MB and was no slower: the other workers decode, resize and encode while it runs.
pub struct OnnxruntimeSession {
    session: Mutex<OrtSession>,
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
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let session = new_session(&model, cores)?;
        let output_names = session
            .outputs()
            .iter()
            .map(|o| o.name().to_owned())
            .collect();
        Ok(OnnxruntimeSession {
            session: Mutex::new(session),
            output_names,
        })
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
        // Spinning intra-op threads burn the core a decoding worker needs (+40 % CPU time
        // measured with spinning on).
        .with_intra_op_spinning(false)
        .map_err(load_error)?
        .with_execution_providers([ort::ep::CPU::default().with_arena_allocator(true).build()])
        .map_err(load_error)?
        .with_memory_pattern(false)
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
        let tensor = TensorRef::from_array_view((shape, input.data)).map_err(run_error)?;
        // A poisoned lock only means another image panicked; a session keeps nothing
        // between runs, so the next image may still use it.
        let mut session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
        let outputs = session.run(ort::inputs![tensor]).map_err(run_error)?;
        let (shape, data) = outputs[name.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(|_| RuntimeError::OutputType { index: output })?;
        Ok(Tensor {
            shape: shape.iter().map(|&d| d.max(0) as usize).collect(),
            data: data.to_vec(),
        })
    }
}
