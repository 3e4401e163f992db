//! The one async runtime of the program. `object_store` is async; the rest of maskflow is
//! synchronous threads, so the storage module blocks on its futures here, at its boundary.

use std::future::Future;
use std::sync::OnceLock;

/// Two workers are plenty: they only wait on sockets. Built on first use, so a run that never
/// touches a bucket never starts it.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("maskflow-storage")
            .enable_all()
            .build()
            .expect("the storage runtime needs two threads and an I/O driver")
    })
}

/// Runs `future` to completion from synchronous code (any thread but the runtime's own).
pub fn block_on<F: Future>(future: F) -> F::Output {
    runtime().block_on(future)
}
