//! The state every handler shares: the engine and the platform (functions, triggers,
//! schedules, services).
//!
//! Owns [`AppState`]. Must not know any route: it sits below the handlers and the
//! router, which all take it.

use std::sync::Arc;

use eddy_engine::Engine;

use crate::host::Platform;

/// Shared state of all handlers, cloned for every request (axum's `State`): keep it to a
/// couple of reference counts, since every clone and drop is an atomic operation on a
/// cache line all cores share.
#[derive(Clone, Debug)]
pub struct AppState {
    pub engine: Engine,
    /// Functions and triggers (`/v1/`).
    pub platform: Arc<Platform>,
}
