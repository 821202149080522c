//! `/v1/schedules`: cron schedules that invoke a function.
//!
//! Owns the routes and the reading of a schedule request. Must not know how a schedule
//! fires (that is `eddy-triggers`).

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use eddy_triggers::schedule::ScheduleRequest;
use serde_json::json;

use super::common::{ApiResult, blocking, created, definition_request, ok};
use super::triggers::TRIGGER_BODY_BYTES_MAX;
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/schedules", get(list_schedules).post(create_schedule))
        .route(
            "/v1/schedules/{name}",
            get(get_schedule)
                .patch(update_schedule)
                .delete(delete_schedule),
        )
}

async fn list_schedules(State(state): State<AppState>) -> ApiResult {
    ok(&json!({ "Schedules": state.platform.schedules.list() }))
}

async fn create_schedule(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let request: ScheduleRequest =
        definition_request(&headers, body, TRIGGER_BODY_BYTES_MAX).await?;
    let platform = state.platform.clone();
    created(&json!(
        blocking(move || platform.schedules.create(&request)).await??
    ))
}

async fn get_schedule(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult {
    ok(&json!(state.platform.schedules.get(&name)?))
}

async fn update_schedule(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let request: ScheduleRequest =
        definition_request(&headers, body, TRIGGER_BODY_BYTES_MAX).await?;
    let platform = state.platform.clone();
    ok(&json!(
        blocking(move || platform.schedules.update(&name, &request)).await??
    ))
}

async fn delete_schedule(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult {
    let platform = state.platform.clone();
    ok(&json!(
        blocking(move || platform.schedules.delete(&name)).await??
    ))
}
