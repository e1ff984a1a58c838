//! The tokio runtime that runs the client's network calls.
//!
//! Async calls from Kotlin (`suspend`), Swift (`async`) and Python (`async def`) are
//! polled by uniffi on the caller's executor; the actual work is spawned here, on a
//! small multi-threaded runtime created on first use, so no foreign thread ever blocks
//! on the network and reqwest always finds its reactor.

use std::future::Future;
use std::sync::LazyLock;

use crate::SatchelError;

static RUNTIME: LazyLock<Result<tokio::runtime::Runtime, String>> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("satchel-io")
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
});

/// Runs `future` on the runtime and waits for it without blocking the caller's thread.
///
/// The client's calls mix network I/O with SQLite transactions that wait for disk syncs
/// and for other processes' locks, so the future is driven on the runtime's *blocking*
/// pool (`spawn_blocking` + `block_on`): a slow disk or a held lock never stalls the
/// async workers that carry other calls' network traffic.
pub(crate) async fn run<F, T>(future: F) -> Result<T, SatchelError>
where
    F: Future<Output = Result<T, SatchelError>> + Send + 'static,
    T: Send + 'static,
{
    let runtime = RUNTIME.as_ref().map_err(|e| {
        SatchelError::Storage(format!("cannot start Satchel's network threads: {e}"))
    })?;
    let handle = runtime.handle().clone();
    runtime
        .spawn_blocking(move || handle.block_on(future))
        .await
        .map_err(|e| SatchelError::Storage(format!("a Satchel background task failed: {e}")))?
}
