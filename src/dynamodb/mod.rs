//! The DynamoDB JSON 1.0 operations: each reads its request shape, calls the engine,
//! and writes DynamoDB's response shape. Nothing here decides DynamoDB semantics; it
//! only translates between the wire and the engine's typed API.
//!
//! One file per group of operations, as the engine groups them: `tables.rs` (the control
//! plane and tags), `items.rs` (single-item reads and writes), `query.rs` (Query and
//! Scan), `batch.rs`, `transact.rs`, `ttl.rs`, `partiql/` (ExecuteStatement,
//! BatchExecuteStatement, ExecuteTransaction); `request.rs` holds what they share (body
//! parsing, expression attributes, return values, writes bridged to async, blocking
//! reads, item responses) and `capacity.rs` the `ConsumedCapacity` member they answer. This file only dispatches an operation by name, so nothing
//! below imports it back.

mod absent;
pub(crate) mod access;
mod batch;
mod capacity;
mod items;
mod partiql;
mod query;
pub(crate) mod request;
mod shape;
mod sse;
mod tables;
mod throughput;
mod transact;
mod ttl;
pub(crate) mod violations;

use bytes::Bytes;
use eddy_engine::Engine;
use serde_json::json;

pub(crate) use self::absent::describe_endpoints;
use self::absent::{
    describe_continuous_backups, describe_contributor_insights,
    describe_kinesis_streaming_destination, describe_table_replica_auto_scaling,
    list_global_tables,
};
use self::batch::{batch_get_item, batch_write_item};
use self::items::{delete_item, get_item, put_item, update_item};
use self::partiql::{batch_execute_statement, execute_statement, execute_transaction};
use self::query::{query, scan};
use self::request::{Gate, blocking, json_bytes, parse_gated};
use self::tables::{
    create_table, delete_table, describe_table, list_tables, list_tags, tag_resource,
    untag_resource, update_table,
};
use self::transact::{transact_get_items, transact_write_items};
use self::ttl::{describe_time_to_live, update_time_to_live};
use crate::error::ApiError;

/// Runs one DynamoDB operation on a request body and returns the response body; the
/// gate sees the tables the request names, once it is parsed and before anything runs
/// (a function's table grant, a user's policy, the request metrics; see `Gate`).
pub(crate) async fn dispatch_gated(
    engine: &Engine,
    op: &str,
    body: &Bytes,
    gate: Gate<'_>,
) -> Result<Vec<u8>, ApiError> {
    // The operations that read no request still pass the gate, naming no table.
    if let (Some(gate), "DescribeLimits" | "DescribeEndpoints") = (gate, op) {
        gate(&request::NoTable)?;
    }
    match op {
        "PutItem" => put_item(engine, parse_gated(body, gate)?).await,
        "GetItem" => get_item(engine, parse_gated(body, gate)?),
        "DeleteItem" => delete_item(engine, parse_gated(body, gate)?).await,
        "UpdateItem" => update_item(engine, parse_gated(body, gate)?).await,
        "Query" => query(engine, parse_gated(body, gate)?),
        "Scan" => {
            let engine = engine.clone();
            let req = parse_gated(body, gate)?;
            blocking(move || scan(&engine, req)).await
        }
        "BatchGetItem" => {
            let engine = engine.clone();
            let req = parse_gated(body, gate)?;
            blocking(move || batch_get_item(&engine, req)).await
        }
        "BatchWriteItem" => batch_write_item(engine, parse_gated(body, gate)?).await,
        "TransactWriteItems" => transact_write_items(engine, parse_gated(body, gate)?).await,
        "TransactGetItems" => {
            let engine = engine.clone();
            let req = parse_gated(body, gate)?;
            blocking(move || transact_get_items(&engine, req)).await
        }
        "ExecuteStatement" => execute_statement(engine, parse_gated(body, gate)?).await,
        "BatchExecuteStatement" => batch_execute_statement(engine, parse_gated(body, gate)?).await,
        "ExecuteTransaction" => execute_transaction(engine, parse_gated(body, gate)?).await,
        // Catalog changes may wait for the writer (stream enable/disable).
        "CreateTable" => {
            let (engine, req) = (engine.clone(), parse_gated(body, gate)?);
            blocking(move || create_table(&engine, req)).await
        }
        // Right after a start it waits for the counts of the stored items.
        "DescribeTable" if engine.counts_ready() => {
            describe_table(engine, parse_gated(body, gate)?)
        }
        "DescribeTable" => {
            let (engine, req) = (engine.clone(), parse_gated(body, gate)?);
            blocking(move || describe_table(&engine, req)).await
        }
        "DeleteTable" => {
            let (engine, req) = (engine.clone(), parse_gated(body, gate)?);
            blocking(move || delete_table(&engine, req)).await
        }
        "ListTables" => list_tables(engine, parse_gated(body, gate)?),
        "UpdateTable" => {
            let (engine, req) = (engine.clone(), parse_gated(body, gate)?);
            blocking(move || update_table(&engine, req)).await
        }
        "UpdateTimeToLive" => {
            let (engine, req) = (engine.clone(), parse_gated(body, gate)?);
            blocking(move || update_time_to_live(&engine, req)).await
        }
        "DescribeTimeToLive" => describe_time_to_live(engine, parse_gated(body, gate)?),
        "TagResource" => tag_resource(engine, parse_gated(body, gate)?),
        "UntagResource" => untag_resource(engine, parse_gated(body, gate)?),
        "ListTagsOfResource" => list_tags(engine, parse_gated(body, gate)?),
        // Features Eddy lacks, as DynamoDB answers for a table without them.
        "DescribeContinuousBackups" => {
            describe_continuous_backups(engine, parse_gated(body, gate)?)
        }
        "DescribeContributorInsights" => {
            describe_contributor_insights(engine, parse_gated(body, gate)?)
        }
        "DescribeKinesisStreamingDestination" => {
            describe_kinesis_streaming_destination(engine, parse_gated(body, gate)?)
        }
        "DescribeTableReplicaAutoScaling" => {
            describe_table_replica_auto_scaling(engine, parse_gated(body, gate)?)
        }
        "ListGlobalTables" => list_global_tables(parse_gated(body, gate)?),
        "DescribeLimits" => Ok(json_bytes(&json!({
            "AccountMaxReadCapacityUnits": 80000,
            "AccountMaxWriteCapacityUnits": 80000,
            "TableMaxReadCapacityUnits": 40000,
            "TableMaxWriteCapacityUnits": 40000,
        }))),
        "DescribeEndpoints" => Ok(json_bytes(&json!({
            "Endpoints": [{
                "Address": format!("dynamodb.{}.amazonaws.com", engine.config().region),
                "CachePeriodInMinutes": 1440,
            }]
        }))),
        _ => Err(ApiError::UnknownOperation),
    }
}
