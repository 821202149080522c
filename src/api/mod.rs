//! Eddy's own REST API under `/v1/` (functions, triggers, schedules, search) and
//! `/metrics`, one file per concern; this file assembles their routes.
//!
//! Owns the routes, their request and response JSON, and the mapping of executor and
//! trigger errors to HTTP: `{"error": {"code", "message", "field"?}}` with 400 for
//! invalid input (naming the field), 404 for an unknown function or trigger, 408 for a
//! body that did not arrive in time, 413 for an oversized body (refused on its
//! `Content-Length` before any of it is read), 429 (Lambda's `TooManyRequestsException`)
//! when the executor's queue, the uploads or the body budget are full, and 500 only for
//! internal failures. Deploying (compiling) and invoking (running wasm), and every
//! trigger change (which stops and starts consumer threads), run in `spawn_blocking`;
//! an invocation waits for its instance slot without a thread. The semantics live in
//! `eddy-triggers`; this module only translates.
//!
//! Must not know how a DynamoDB request is answered (that is `dynamodb/`) nor how a
//! search index or a mail is kept (that is `services/`).
//!
//! Layout: `problem.rs` (the error shape, and the mapping of the executor's, the
//! triggers' and the schedules' errors to it), `common.rs` (reading bodies, query strings
//! and JSON; answering JSON; blocking work), then one file per concern, each with its own
//! routes: `functions.rs`, `triggers.rs`, `schedules.rs`, `iam.rs` (access keys), `search.rs` (which maps a search
//! failure itself, since the field it names depends on the route), `metrics.rs`,
//! `capacity.rs` (the manual capacity clock). This
//! file only merges them, so nothing imports it back.

mod autoscaling;
mod capacity;
mod common;
mod functions;
mod guard;
mod iam;
mod metrics;
mod problem;
mod schedules;
mod search;
mod triggers;

use axum::Router;
use axum::http::Uri;

pub(crate) use functions::upload_slot;
pub use functions::{
    DEPLOY_JSON_BYTES_MAX, INVOKE_EVENT_BYTES_MAX, UPLOADS_CONCURRENT_MAX, configure_uploads,
};
pub use guard::v1_guard;
pub use problem::Problem;
pub use triggers::TRIGGER_BODY_BYTES_MAX;

use crate::state::AppState;

/// The `/v1/` routes and `/metrics`, merged into [`crate::server::app`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(functions::routes())
        .merge(triggers::routes())
        .merge(schedules::routes())
        .merge(iam::routes())
        .merge(search::routes())
        .merge(capacity::routes())
        .merge(autoscaling::routes())
        .route("/v1/{*rest}", axum::routing::any(unknown_route))
        // Inside the guard (which `server::app` layers around these routes): it sees the
        // verified key the guard leaves in the request.
        .layer(axum::middleware::from_fn(crate::audit::v1_changes))
        .merge(metrics::routes())
}

async fn unknown_route(uri: Uri) -> Problem {
    Problem::not_found(format!("no such API route: {}", uri.path()))
}
