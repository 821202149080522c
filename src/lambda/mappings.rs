//! Lambda's event-source mapping operations over Eddy's stream triggers, which already
//! take Lambda's member names and answer in `EventSourceMappingConfiguration`'s shape:
//! this module only reads Lambda's request (refusing the members of other event
//! sources, which Eddy has no use for) and answers with Lambda's statuses (202 for
//! create, update and delete) and errors.
//!
//! Owns those translations. Must not know how a trigger runs (`eddy-triggers`).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use eddy_triggers::TriggerError;
use eddy_triggers::stream::{MappingRequest, TriggerView};
use serde_json::{Map, Value, json};

use super::error::LambdaError;
use super::functions::page_size;
use super::names::function_name;
use super::{LAMBDA_BODY_BYTES_MAX, LambdaResult, answer, blocking, parse, query_param, read_body};
use crate::state::AppState;

/// Members of Lambda's mapping requests that belong to other event sources (Kinesis,
/// SQS, Kafka, MQ, DocumentDB) or to features Eddy's triggers lack: refused by name, so
/// that a template written for them does not silently do less.
const UNSUPPORTED_MEMBERS: &[&str] = &[
    "Topics",
    "Queues",
    "SourceAccessConfigurations",
    "SelfManagedEventSource",
    "AmazonManagedKafkaEventSourceConfig",
    "SelfManagedKafkaEventSourceConfig",
    "DocumentDBEventSourceConfig",
    "ProvisionedPollerConfig",
    "ScalingConfig",
    "KMSKeyArn",
    "MetricsConfig",
    "LoggingConfig",
    "Tags",
];

/// A mapping request in Lambda's members, as the trigger runtime takes it: the function
/// named by its bare name (Lambda takes an ARN or a partial ARN too).
fn mapping_request(bytes: &[u8], uuid_in_path: bool) -> Result<MappingRequest, LambdaError> {
    let mut fields: Map<String, Value> = parse(bytes)?;
    // UpdateEventSourceMapping names the mapping in the path; a client sending it in
    // the body as well is not refused for it.
    if uuid_in_path {
        fields.remove("UUID");
    }
    if let Some(member) = UNSUPPORTED_MEMBERS
        .iter()
        .find(|m| fields.contains_key(**m))
    {
        return Err(LambdaError::invalid(format!(
            "{member}: Eddy's event-source mappings read DynamoDB streams and do not support \
             this member"
        )));
    }
    if let Some(Value::String(f)) = fields.get_mut("FunctionName") {
        *f = function_name(f).0;
    }
    // Each member alone first, so that the one of the wrong type is named.
    for (key, v) in &fields {
        let single = Value::Object(Map::from_iter([(key.clone(), v.clone())]));
        if let Err(e) = serde_json::from_value::<MappingRequest>(single) {
            return Err(LambdaError::invalid(format!("{key}: {e}")));
        }
    }
    serde_json::from_value(Value::Object(fields)).map_err(LambdaError::unparsable)
}

/// A trigger error, with Lambda's answer for a mapping that does not exist.
fn mapping_error(e: TriggerError) -> LambdaError {
    match e {
        TriggerError::NotFound(message) if message.starts_with("Function not found") => {
            LambdaError::not_found(message)
        }
        TriggerError::NotFound(message) if message.starts_with("Stream not found") => {
            LambdaError::invalid(message)
        }
        TriggerError::NotFound(_) => LambdaError::mapping_not_found(),
        other => other.into(),
    }
}

fn view_json(view: &TriggerView) -> Value {
    json!(view)
}

/// `POST /2015-03-31/event-source-mappings`: 202 with the new mapping.
pub(super) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> LambdaResult {
    let buffered = read_body(
        &headers,
        body,
        LAMBDA_BODY_BYTES_MAX,
        "CreateEventSourceMapping",
    )
    .await?;
    let request = mapping_request(&buffered.bytes, false)?;
    drop(buffered);
    if request.function_name.is_none() {
        return Err(LambdaError::invalid("FunctionName is required"));
    }
    let platform = state.platform.clone();
    let view = blocking(move || platform.change_triggers(|t| t.create(&request)))
        .await?
        .map_err(mapping_error)?;
    Ok(answer(StatusCode::ACCEPTED, &view_json(&view)))
}

/// `GET /2015-03-31/event-source-mappings/{uuid}`.
pub(super) async fn get(State(state): State<AppState>, Path(uuid): Path<String>) -> LambdaResult {
    let view = state.platform.triggers.get(&uuid).map_err(mapping_error)?;
    Ok(answer(StatusCode::OK, &view_json(&view)))
}

/// `PUT /2015-03-31/event-source-mappings/{uuid}`: 202 with the changed mapping.
pub(super) async fn update(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> LambdaResult {
    let buffered = read_body(
        &headers,
        body,
        LAMBDA_BODY_BYTES_MAX,
        "UpdateEventSourceMapping",
    )
    .await?;
    let request = mapping_request(&buffered.bytes, true)?;
    drop(buffered);
    // An unknown mapping is named as such before the request's members are judged.
    let before = state.platform.triggers.get(&uuid).map_err(mapping_error)?;
    let platform = state.platform.clone();
    let mut view = blocking(move || platform.change_triggers(|t| t.update(&uuid, &request)))
        .await?
        .map_err(mapping_error)?;
    view.state = transition_state(&before.state, &view.state).to_owned();
    Ok(answer(StatusCode::ACCEPTED, &view_json(&view)))
}

/// The state Lambda answers UpdateEventSourceMapping with: the transition it has
/// begun (`Enabling`, `Disabling`, or `Updating` when the mapping stays as it was),
/// which a later GetEventSourceMapping shows finished. Eddy's consumers restart within
/// the request, so only the answer shows the transition.
fn transition_state(before: &str, after: &str) -> &'static str {
    match (before == "Disabled", after == "Disabled") {
        (true, false) => "Enabling",
        (false, true) => "Disabling",
        _ => "Updating",
    }
}

/// `DELETE /2015-03-31/event-source-mappings/{uuid}`: 202 with the mapping, `Deleting`.
pub(super) async fn delete(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
) -> LambdaResult {
    let platform = state.platform.clone();
    let view = blocking(move || platform.change_triggers(|t| t.delete(&uuid)))
        .await?
        .map_err(mapping_error)?;
    Ok(answer(StatusCode::ACCEPTED, &view_json(&view)))
}

/// `GET /2015-03-31/event-source-mappings[?FunctionName=…&EventSourceArn=…]`, in UUID
/// order; the marker is the last UUID of the previous page. A table's ARN matches the
/// mappings of its streams.
pub(super) async fn list(State(state): State<AppState>, uri: Uri) -> LambdaResult {
    let size = page_size(query_param(&uri, "MaxItems")?.as_deref())?;
    let marker = query_param(&uri, "Marker")?;
    let source = query_param(&uri, "EventSourceArn")?;
    let function = query_param(&uri, "FunctionName")?.map(|f| function_name(&f).0);
    let mut all: Vec<TriggerView> = state
        .platform
        .triggers
        .list()
        .into_iter()
        .filter(|m| function.as_deref().is_none_or(|f| m.function_name == f))
        .filter(|m| {
            source.as_deref().is_none_or(|s| {
                let arn = &m.event_source_arn;
                arn == s || arn.starts_with(&format!("{s}/stream/"))
            })
        })
        .filter(|m| {
            marker
                .as_deref()
                .is_none_or(|after| m.uuid.as_str() > after)
        })
        .collect();
    all.sort_by(|a, b| a.uuid.cmp(&b.uuid));
    let more = all.len() > size;
    all.truncate(size);
    let mut out = json!({ "EventSourceMappings": all.iter().map(view_json).collect::<Vec<_>>() });
    if more && let Some(last) = all.last() {
        out["NextMarker"] = json!(last.uuid);
    }
    Ok(answer(StatusCode::OK, &out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_request_takes_arns_and_refuses_other_sources_members() {
        let r = mapping_request(
            br#"{"FunctionName":"arn:aws:lambda:us-east-1:000000000000:function:f","BatchSize":5}"#,
            false,
        )
        .unwrap();
        assert_eq!(r.function_name.as_deref(), Some("f"));
        assert_eq!(r.batch_size, Some(5));
        let e = mapping_request(br#"{"FunctionName":"f","Queues":["q"]}"#, false).unwrap_err();
        assert!(e.message.starts_with("Queues: "), "{}", e.message);
        let e = mapping_request(br#"{"BatchSize":"ten"}"#, false).unwrap_err();
        assert_eq!(e.code, "InvalidParameterValueException");
        assert!(e.message.starts_with("BatchSize: "), "{}", e.message);
        let r = mapping_request(br#"{"UUID":"u","Enabled":false}"#, true).unwrap();
        assert_eq!(r.enabled, Some(false));
    }
}
