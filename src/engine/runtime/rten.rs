//! The default runtime: rten, pure Rust, compiled into the binary.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;

use rten::{Model, RunOptions, ThreadPool, Value, ValueOrView};
use rten_tensor::TensorView;
use rten_tensor::prelude::*;

use super::{Input, RuntimeError, RuntimeKind, Session, Tensor, threads_per_job};

pub struct RtenSession {
    model: Model,
}

impl RtenSession {
    pub fn load(bytes: Cow<'static, [u8]>) -> Result<RtenSession, RuntimeError> {
        let model = match bytes {
            Cow::Borrowed(slice) => Model::load_static_slice(slice),
            Cow::Owned(vec) => Model::load(vec),
        }
        .map_err(|e| RuntimeError::Load {
            runtime: RuntimeKind::Rten,
            message: e.to_string(),
        })?;
        Ok(RtenSession { model })
    }
}

thread_local! {
    /// This worker's own pool, so `--jobs` images in flight each get `threads_per_job`
    /// threads and no more (rten's global pool would be shared by all, sized to the cores,
    /// with no per-image bound).
    static POOL: RefCell<Option<(usize, Arc<ThreadPool>)>> = const { RefCell::new(None) };
}

/// The calling thread's pool, rebuilt when the thread setting changed.
fn worker_pool() -> Arc<ThreadPool> {
    let threads = threads_per_job();
    POOL.with(|cell| {
        let mut slot = cell.borrow_mut();
        match slot.as_ref() {
            Some((size, pool)) if *size == threads => Arc::clone(pool),
            _ => {
                let pool = Arc::new(ThreadPool::with_num_threads(threads));
                *slot = Some((threads, Arc::clone(&pool)));
                pool
            }
        }
    })
}

impl Session for RtenSession {
    fn runtime(&self) -> RuntimeKind {
        RuntimeKind::Rten
    }

    fn run(&self, input: Input<'_>, output: usize) -> Result<Tensor, RuntimeError> {
        input.check()?;
        let run_error = |message: String| RuntimeError::Run {
            runtime: RuntimeKind::Rten,
            message,
        };
        let outputs = self.model.output_ids();
        let &output_id = outputs.get(output).ok_or(RuntimeError::NoSuchOutput {
            index: output,
            count: outputs.len(),
        })?;
        let &input_id = self
            .model
            .input_ids()
            .first()
            .ok_or_else(|| run_error("the model has no input".to_owned()))?;
        let view = TensorView::try_from_data(input.shape, input.data)
            .map_err(|e| run_error(e.to_string()))?;
        let options = RunOptions::default().with_thread_pool(Some(worker_pool()));
        let [value] = self
            .model
            .run_n(
                vec![(input_id, ValueOrView::from(view))],
                [output_id],
                Some(options),
            )
            .map_err(|e| run_error(e.to_string()))?;
        match value {
            Value::FloatTensor(tensor) => Ok(Tensor {
                shape: tensor.shape().to_vec(),
                data: tensor.into_data(),
            }),
            _ => Err(RuntimeError::OutputType { index: output }),
        }
    }
}
