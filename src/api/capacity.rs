//! `/v1/capacity/clock`: the capacity clock of a server started with
//! `--capacity-clock manual`, which tests move forward to make throttling, burst
//! capacity and the daily decrease limits deterministic. `GET` reads it; `POST
//! {"advance_ms": N}` moves it (a change, so only an administrator may).
//!
//! Owns the route and its JSON. Must not know what the clock measures.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;

use super::common::{ApiResult, definition_request, ok};
use super::problem::Problem;
use crate::state::AppState;

/// The largest body the route reads: one small JSON object.
const CLOCK_BODY_BYTES_MAX: usize = 1024;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/v1/capacity/clock", get(read_clock).post(advance_clock))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    advance_ms: Option<u64>,
}

async fn read_clock(State(state): State<AppState>) -> ApiResult {
    let manual = state.engine.config().capacity_clock.is_manual();
    ok(&json!({ "now_ms": state.engine.capacity_now_ms(), "manual": manual }))
}

async fn advance_clock(State(state): State<AppState>, headers: HeaderMap, body: Body) -> ApiResult {
    let request: Advance = definition_request(&headers, body, CLOCK_BODY_BYTES_MAX).await?;
    let Some(ms) = request.advance_ms else {
        return Err(Problem::invalid("advance_ms", "advance_ms is required"));
    };
    if ms > eddy_engine::capacity::clock::CLOCK_ADVANCE_MS_MAX {
        return Err(Problem::invalid(
            "advance_ms",
            format!(
                "advance_ms must be at most {}",
                eddy_engine::capacity::clock::CLOCK_ADVANCE_MS_MAX
            ),
        ));
    }
    match state.engine.advance_capacity_clock(ms) {
        Some(now_ms) => ok(&json!({ "now_ms": now_ms, "manual": true })),
        None => Err(Problem::bad_request(
            "InvalidRequestContentException",
            "the capacity clock is the wall clock; start the server with --capacity-clock manual to move it",
        )),
    }
}
