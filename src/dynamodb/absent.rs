//! The read-only calls that tools (the console, Terraform, CDK drift checks, backup
//! scanners) make on every table about features Eddy does not have: each answers what
//! DynamoDB answers for a table that does not use the feature, and what it answers for
//! a table that does not exist. Also DescribeEndpoints, which names the host the client
//! used.
//!
//! Owns these answers. Knows nothing of the features themselves (there is nothing to
//! know: none is ever on).

use eddy_engine::Engine;
use serde::Deserialize;
use serde_json::json;

use super::request::{NamesTables, TableNameRequest, json_bytes, names_its_table, required};
use super::shape::check_list_start_and_limit;
use crate::error::ApiError;

/// DynamoDB's bounds on an `IndexName`, in characters.
const INDEX_NAME_CHARS_MIN: usize = 3;
const INDEX_NAME_CHARS_MAX: usize = 255;

/// How long a client may keep an endpoint DescribeEndpoints names, in minutes
/// (DynamoDB: 1440).
pub const ENDPOINT_CACHE_PERIOD_MINUTES: u32 = 1440;

/// DescribeEndpoints: `host` is the `Host` the client's request named (so a client that
/// follows endpoint discovery comes back to this server); without one, DynamoDB's own
/// name for the region.
pub(crate) fn describe_endpoints(engine: &Engine, host: Option<&str>) -> Vec<u8> {
    let address = host.map_or_else(
        || format!("dynamodb.{}.amazonaws.com", engine.config().region),
        str::to_owned,
    );
    json_bytes(&json!({
        "Endpoints": [{
            "Address": address,
            "CachePeriodInMinutes": ENDPOINT_CACHE_PERIOD_MINUTES,
        }]
    }))
}

/// The table a request names, which must exist (DynamoDB's ResourceNotFoundException
/// for DescribeTable otherwise); returns its name.
fn existing(engine: &Engine, table_name: Option<String>) -> Result<String, ApiError> {
    let name = required(table_name, "tableName")?;
    engine.describe_table(&name)?;
    Ok(name)
}

/// DescribeContinuousBackups: continuous backups are always on in DynamoDB
/// (`ContinuousBackupsStatus: ENABLED`), point-in-time recovery is off until it is
/// turned on. A missing table is `TableNotFoundException` ("Table not found: <name>"),
/// the one error the API Reference lists for it besides the generic ones, with moto's
/// message (not confirmed against DynamoDB).
pub(super) fn describe_continuous_backups(
    engine: &Engine,
    r: TableNameRequest,
) -> Result<Vec<u8>, ApiError> {
    let name = required(r.table_name, "tableName")?;
    // A name DynamoDB could never have given a table is refused as DescribeTable
    // refuses it, not reported missing.
    eddy_engine::validate_table_name(&name, "tableName")?;
    if engine.describe_table(&name).is_err() {
        return Err(ApiError::TableNotFound(format!("Table not found: {name}")));
    }
    Ok(json_bytes(&json!({
        "ContinuousBackupsDescription": {
            "ContinuousBackupsStatus": "ENABLED",
            "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"},
        }
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ContributorInsightsRequest {
    table_name: Option<String>,
    index_name: Option<String>,
}

names_its_table!(ContributorInsightsRequest);

/// DescribeContributorInsights: off (`DISABLED`) for the table, or for the index named.
pub(super) fn describe_contributor_insights(
    engine: &Engine,
    r: ContributorInsightsRequest,
) -> Result<Vec<u8>, ApiError> {
    let name = existing(engine, r.table_name)?;
    if let Some(index) = r.index_name.as_deref() {
        // A recording of DynamoDB answering an empty IndexName shows this message of its
        // own, like TableName's; the pattern's is the generic constraint's (not confirmed).
        let n = index.chars().count();
        if !(INDEX_NAME_CHARS_MIN..=INDEX_NAME_CHARS_MAX).contains(&n) {
            return Err(eddy_engine::Error::validation(format!(
                "IndexName must be at least {INDEX_NAME_CHARS_MIN} characters long and at most {INDEX_NAME_CHARS_MAX} characters long"
            ))
            .into());
        }
        eddy_engine::constraint_errors(
            eddy_engine::table_name_pattern_error(index, "indexName")
                .into_iter()
                .collect(),
        )?;
    }
    let mut out = json!({ "TableName": name, "ContributorInsightsStatus": "DISABLED" });
    if let Some(index) = r.index_name {
        out["IndexName"] = json!(index);
    }
    Ok(json_bytes(&out))
}

/// DescribeKinesisStreamingDestination: no destinations.
pub(super) fn describe_kinesis_streaming_destination(
    engine: &Engine,
    r: TableNameRequest,
) -> Result<Vec<u8>, ApiError> {
    let name = existing(engine, r.table_name)?;
    Ok(json_bytes(&json!({
        "TableName": name,
        "KinesisDataStreamDestinations": [],
    })))
}

/// DescribeTableReplicaAutoScaling: an active table with no replicas.
pub(super) fn describe_table_replica_auto_scaling(
    engine: &Engine,
    r: TableNameRequest,
) -> Result<Vec<u8>, ApiError> {
    let name = existing(engine, r.table_name)?;
    Ok(json_bytes(&json!({
        "TableAutoScalingDescription": {
            "TableName": name,
            "TableStatus": "ACTIVE",
            "Replicas": [],
        }
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListGlobalTablesRequest {
    // Read so that a malformed request is refused as DynamoDB refuses it; there is
    // nothing to page through.
    exclusive_start_global_table_name: Option<String>,
    limit: Option<i64>,
    #[allow(dead_code, reason = "parsed for its type only")]
    region_name: Option<String>,
}

/// Lists global tables: it names no table.
impl NamesTables for ListGlobalTablesRequest {
    fn tables(&self) -> Vec<&str> {
        Vec::new()
    }
}

/// ListGlobalTables: none (it lists only global tables of version 2017.11.29, which a
/// table becomes only through CreateGlobalTable).
pub(super) fn list_global_tables(r: ListGlobalTablesRequest) -> Result<Vec<u8>, ApiError> {
    // The API reference gives Limit a minimum of 1 and no maximum.
    check_list_start_and_limit(
        r.exclusive_start_global_table_name.as_deref(),
        "exclusiveStartGlobalTableName",
        r.limit,
        None,
    )?;
    Ok(json_bytes(&json!({ "GlobalTables": [] })))
}
