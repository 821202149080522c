//! `/v1/triggers`: stream triggers (Lambda's event-source mappings), with Lambda's
//! field names and shapes.
//!
//! Owns the routes and the reading of a mapping request. Must not know how a trigger
//! runs (that is `eddy-triggers`); every change runs in blocking work, since it stops
//! and starts consumer threads.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::routing::get;
use eddy_triggers::stream::MappingRequest;
use serde_json::json;

use super::common::{ApiResult, blocking, created, definition_request, ok, parse_query};
use super::problem::Problem;
use crate::state::AppState;

/// Largest trigger body (five 4,096-character filter patterns fit many times over).
pub const TRIGGER_BODY_BYTES_MAX: usize = 256 * 1024;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/triggers", get(list_triggers).post(create_trigger))
        .route(
            "/v1/triggers/{id}",
            get(get_trigger)
                .patch(update_trigger)
                .delete(delete_trigger),
        )
}

async fn create_trigger(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    // A `CreateEventSourceMapping`-shaped body.
    let request: MappingRequest =
        definition_request(&headers, body, TRIGGER_BODY_BYTES_MAX).await?;
    source_table_exists(&state, &request)?;
    let platform = state.platform.clone();
    created(&json!(
        blocking(move || platform.change_triggers(|t| t.create(&request))).await??
    ))
}

/// A trigger on a table that does not exist is refused as such (a 404 naming the
/// table), not with the advice to enable the stream of a table that is not there.
fn source_table_exists(state: &AppState, request: &MappingRequest) -> Result<(), Problem> {
    // A stream ARN is looked up as a stream; a table ARN means that table.
    let table = match (&request.event_source_arn, &request.table_name) {
        (Some(arn), _) if arn.contains("/stream/") => return Ok(()),
        (Some(arn), _) => arn
            .split_once(":table/")
            .map_or(arn.as_str(), |(_, t)| t.split('/').next().unwrap_or(t)),
        (None, Some(table)) => table.as_str(),
        (None, None) => return Ok(()),
    };
    match state.engine.describe_table(table) {
        Err(eddy_engine::Error::ResourceNotFound(_)) => {
            Err(Problem::not_found(format!("Table not found: {table}")))
        }
        _ => Ok(()),
    }
}

/// `GET /v1/triggers[?FunctionName=F][&EventSourceArn=A]`, as Lambda's
/// `ListEventSourceMappings`.
async fn list_triggers(State(state): State<AppState>, uri: Uri) -> ApiResult {
    let mut function = None;
    let mut source = None;
    for (key, value) in parse_query(uri.query().unwrap_or(""))? {
        match key.as_str() {
            "FunctionName" => function = Some(value),
            "EventSourceArn" => source = Some(value),
            other => {
                return Err(Problem::invalid(
                    other,
                    "unknown parameter: use FunctionName or EventSourceArn",
                ));
            }
        }
    }
    let mappings: Vec<_> = state
        .platform
        .triggers
        .list()
        .into_iter()
        .filter(|m| {
            function
                .as_deref()
                .is_none_or(|f| m.function_arn == f || m.function_name == f)
        })
        .filter(|m| {
            source.as_deref().is_none_or(|s| {
                let arn = &m.event_source_arn;
                arn == s || arn.starts_with(&format!("{s}/stream/"))
            })
        })
        .collect();
    ok(&json!({ "EventSourceMappings": mappings }))
}

async fn get_trigger(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    ok(&json!(state.platform.triggers.get(&id)?))
}

async fn update_trigger(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let request: MappingRequest =
        definition_request(&headers, body, TRIGGER_BODY_BYTES_MAX).await?;
    let platform = state.platform.clone();
    ok(&json!(
        blocking(move || platform.change_triggers(|t| t.update(&id, &request))).await??
    ))
}

async fn delete_trigger(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let platform = state.platform.clone();
    ok(&json!(
        blocking(move || platform.change_triggers(|t| t.delete(&id))).await??
    ))
}

#[cfg(test)]
mod tests {
    use super::super::common::definition_from_bytes;
    use super::*;

    fn mapping_request(bytes: &[u8]) -> Result<MappingRequest, Problem> {
        definition_from_bytes(bytes)
    }

    #[test]
    fn mapping_request_names_unknown_and_mistyped_fields() {
        let e = mapping_request(br#"{"FunctionName":"f","Colour":1}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("Colour"));
        let e = mapping_request(br#"{"BatchSize":"ten"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("BatchSize"));
        let r = mapping_request(br#"{"FunctionName":"f","BatchSize":5}"#).unwrap();
        assert_eq!(r.batch_size, Some(5));
    }
}
