//! UpdateTimeToLive and DescribeTimeToLive.
//!
//! Owns their request shapes and responses. Must not know how the sweeper deletes.

use eddy_engine::Engine;
use serde::Deserialize;
use serde_json::json;

use super::request::{TableNameRequest, json_bytes, names_its_table, required};
use super::shape::{length_error, null};
use crate::error::ApiError;

/// DynamoDB's bounds on `TimeToLiveSpecification.AttributeName`, in characters.
const TTL_ATTRIBUTE_NAME_CHARS_MIN: usize = 1;
const TTL_ATTRIBUTE_NAME_CHARS_MAX: usize = 255;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UpdateTimeToLiveRequest {
    table_name: Option<String>,
    time_to_live_specification: Option<TimeToLiveSpecification>,
}

names_its_table!(UpdateTimeToLiveRequest);

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TimeToLiveSpecification {
    enabled: Option<bool>,
    attribute_name: Option<String>,
}

pub(super) fn update_time_to_live(
    engine: &Engine,
    r: UpdateTimeToLiveRequest,
) -> Result<Vec<u8>, ApiError> {
    let table = required(r.table_name, "tableName")?;
    let spec = required(r.time_to_live_specification, "timeToLiveSpecification")?;
    // The specification's members are reported together, the name first (a recording
    // of DynamoDB answering an empty specification shows both, in this order).
    let mut errors = Vec::new();
    match &spec.attribute_name {
        None => errors.push(null("timeToLiveSpecification.attributeName")),
        Some(n) => errors.extend(length_error(
            n.chars().count(),
            n,
            "timeToLiveSpecification.attributeName",
            TTL_ATTRIBUTE_NAME_CHARS_MIN,
            Some(TTL_ATTRIBUTE_NAME_CHARS_MAX),
        )),
    }
    if spec.enabled.is_none() {
        errors.push(null("timeToLiveSpecification.enabled"));
    }
    eddy_engine::constraint_errors(errors)?;
    let name = required(spec.attribute_name, "timeToLiveSpecification.attributeName")?;
    let enabled = required(spec.enabled, "timeToLiveSpecification.enabled")?;
    engine.update_time_to_live(&table, enabled, &name)?;
    Ok(json_bytes(&json!({
        "TimeToLiveSpecification": { "AttributeName": name, "Enabled": enabled }
    })))
}

pub(super) fn describe_time_to_live(
    engine: &Engine,
    r: TableNameRequest,
) -> Result<Vec<u8>, ApiError> {
    let d = engine.describe_time_to_live(&required(r.table_name, "tableName")?)?;
    let description = match d.attribute_name {
        Some(name) if d.enabled => json!({ "TimeToLiveStatus": "ENABLED", "AttributeName": name }),
        _ => json!({ "TimeToLiveStatus": "DISABLED" }),
    };
    Ok(json_bytes(&json!({ "TimeToLiveDescription": description })))
}
