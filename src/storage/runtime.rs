//! `object_store` is async; the rest of maskflow is synchronous threads, so the storage module
//! blocks on its futures here, at its boundary, on the program's one tokio runtime (the one
//! `http` drives every exchange on), so storage adds no threads of its own.

use std::future::Future;

/// Runs `future` to completion from synchronous code.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let runtime = crate::http::runtime()
        .unwrap_or_else(|e| panic!("the async runtime cannot start: {}", e.reason));
    crate::http::block_on(runtime, future)
}
