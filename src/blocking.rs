//! Blocking work off the async workers, the one way every handler runs it (engine reads
//! and catalog changes, index searches, compiling and running functions, joining
//! trigger consumers).
//!
//! Owns what happens to the task's outcome: a panic in it is raised again in the
//! request's own task, where the edge's containment (`server.rs`) answers that request
//! with a 500 in its client's error shape and logs it with the operation and request
//! id; a task the runtime cancelled at shutdown is `None`. Must not know any error
//! shape: each caller says what `None` means to its clients.

/// Runs `f` on the blocking pool and waits for it.
pub(crate) async fn run<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(value) => Some(value),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => None,
    }
}
