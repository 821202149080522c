//! `eddy apply`'s tables: creating the manifest's missing tables through the DynamoDB
//! API of the same endpoint, turning on a stream the manifest asks for, adding a
//! missing global index, and refusing (before anything is changed) a table that
//! exists with other keys or another stream view. A table is never dropped or
//! re-created.
//!
//! Owns the DynamoDB requests and the comparison of a described table with the
//! manifest's. Must not know functions, triggers or schedules.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::client::Client;
use super::manifest::{Key, Table};

/// Longest wait for a created or updated table to become ACTIVE.
pub const TABLE_ACTIVE_WAIT_MS: u64 = 60_000;
/// Pause between two DescribeTable calls while waiting.
const TABLE_POLL_MS: u64 = 100;

/// What the manifest's table needs on the server.
#[derive(Debug)]
pub enum TablePlan {
    /// Nothing: it exists as described.
    Current,
    Create,
    /// It exists; these updates bring it to the manifest (one UpdateTable each).
    Update(Vec<(String, Value)>),
}

/// Compares `table` with the server's; an error when it exists with other keys.
pub fn plan(client: &Client, table: &Table) -> Result<TablePlan, String> {
    let answer = client.dynamodb("DescribeTable", &json!({ "TableName": table.name }))?;
    if answer.dynamodb_error() == Some("ResourceNotFoundException") {
        return Ok(TablePlan::Create);
    }
    if !answer.ok() {
        return Err(format!(
            "describing table {}: {}",
            table.name,
            answer.error()
        ));
    }
    let described = &answer.body["Table"];
    let types = attribute_types(described);
    let served_keys = key_schema(&described["KeySchema"], &types);
    let wanted_keys = (Some(table.partition_key.clone()), table.sort_key.clone());
    if served_keys != wanted_keys {
        return Err(format!(
            "table {} exists with the key {}, the manifest says {}: Eddy never drops a \
             table; change the manifest, or delete the table yourself (nothing was changed)",
            table.name,
            show_keys(&served_keys),
            show_keys(&wanted_keys)
        ));
    }
    let mut updates = Vec::new();
    let served_stream = described["StreamSpecification"]
        .get("StreamEnabled")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        .then(|| described["StreamSpecification"]["StreamViewType"].as_str())
        .flatten();
    match (&table.stream, served_stream) {
        (Some(wanted), None) => updates.push((
            format!("enabled the stream ({wanted}) of table {}", table.name),
            json!({
                "TableName": table.name,
                "StreamSpecification": { "StreamEnabled": true, "StreamViewType": wanted },
            }),
        )),
        (Some(wanted), Some(served)) if wanted != served => {
            return Err(format!(
                "table {} streams {served}, the manifest says {wanted}: a stream's view type \
                 changes only by turning it off and on (a new stream, which its triggers do \
                 not follow), so apply leaves that to you (nothing was changed)",
                table.name
            ));
        }
        _ => {}
    }
    let served_indexes = described["GlobalSecondaryIndexes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for index in &table.global_indexes {
        let served = served_indexes
            .iter()
            .find(|i| i["IndexName"].as_str() == Some(index.name.as_str()));
        let wanted = (Some(index.partition_key.clone()), index.sort_key.clone());
        match served {
            Some(served) => {
                let keys = key_schema(&served["KeySchema"], &types);
                if keys != wanted {
                    return Err(format!(
                        "index {} of table {} exists with the key {}, the manifest says {} \
                         (nothing was changed)",
                        index.name,
                        table.name,
                        show_keys(&keys),
                        show_keys(&wanted)
                    ));
                }
            }
            None => updates.push((
                format!("created index {} of table {}", index.name, table.name),
                json!({
                    "TableName": table.name,
                    "AttributeDefinitions": definitions(&[&index.partition_key], index.sort_key.as_ref()),
                    "GlobalSecondaryIndexUpdates": [{ "Create": index_json(
                        &index.name, &index.partition_key, index.sort_key.as_ref(), table)
                    }],
                }),
            )),
        }
    }
    Ok(if updates.is_empty() {
        TablePlan::Current
    } else {
        TablePlan::Update(updates)
    })
}

/// Carries out a plan; returns the lines to print.
pub fn carry_out(client: &Client, table: &Table, plan: TablePlan) -> Result<Vec<String>, String> {
    match plan {
        TablePlan::Current => Ok(Vec::new()),
        TablePlan::Create => {
            let answer = client.dynamodb("CreateTable", &create_request(table))?;
            if !answer.ok() {
                return Err(format!("creating table {}: {}", table.name, answer.error()));
            }
            wait_active(client, &table.name)?;
            Ok(vec![format!("created table {}", table.name)])
        }
        TablePlan::Update(updates) => {
            let mut lines = Vec::new();
            for (line, request) in updates {
                let answer = client.dynamodb("UpdateTable", &request)?;
                if !answer.ok() {
                    return Err(format!("updating table {}: {}", table.name, answer.error()));
                }
                wait_active(client, &table.name)?;
                lines.push(line);
            }
            Ok(lines)
        }
    }
}

fn create_request(table: &Table) -> Value {
    let mut keys: Vec<&Key> = vec![&table.partition_key];
    keys.extend(table.sort_key.as_ref());
    for index in &table.global_indexes {
        keys.push(&index.partition_key);
        keys.extend(index.sort_key.as_ref());
    }
    let billing = table.billing_mode.as_deref().unwrap_or("PAY_PER_REQUEST");
    let mut request = json!({
        "TableName": table.name,
        "AttributeDefinitions": definitions(&keys, None),
        "KeySchema": schema(&table.partition_key, table.sort_key.as_ref()),
        "BillingMode": billing,
    });
    if billing == "PROVISIONED" {
        request["ProvisionedThroughput"] = provisioned();
    }
    if let Some(stream) = &table.stream {
        request["StreamSpecification"] = json!({ "StreamEnabled": true, "StreamViewType": stream });
    }
    if !table.global_indexes.is_empty() {
        request["GlobalSecondaryIndexes"] = table
            .global_indexes
            .iter()
            .map(|i| index_json(&i.name, &i.partition_key, i.sort_key.as_ref(), table))
            .collect();
    }
    request
}

/// The throughput of a PROVISIONED table or index the manifest creates (it has no
/// field for it; UpdateTable or auto scaling changes it).
fn provisioned() -> Value {
    json!({ "ReadCapacityUnits": 5, "WriteCapacityUnits": 5 })
}

fn index_json(name: &str, partition: &Key, sort: Option<&Key>, table: &Table) -> Value {
    let mut index = json!({
        "IndexName": name,
        "KeySchema": schema(partition, sort),
        "Projection": { "ProjectionType": "ALL" },
    });
    if table.billing_mode.as_deref() == Some("PROVISIONED") {
        index["ProvisionedThroughput"] = provisioned();
    }
    index
}

fn schema(partition: &Key, sort: Option<&Key>) -> Value {
    let mut schema = vec![json!({ "AttributeName": partition.name, "KeyType": "HASH" })];
    if let Some(sort) = sort {
        schema.push(json!({ "AttributeName": sort.name, "KeyType": "RANGE" }));
    }
    Value::Array(schema)
}

/// AttributeDefinitions of the keys, each attribute once.
fn definitions(keys: &[&Key], extra: Option<&Key>) -> Value {
    let mut seen = std::collections::BTreeMap::new();
    for key in keys.iter().copied().chain(extra) {
        seen.entry(key.name.clone())
            .or_insert_with(|| key.kind.clone());
    }
    seen.into_iter()
        .map(|(name, kind)| json!({ "AttributeName": name, "AttributeType": kind }))
        .collect()
}

fn attribute_types(described: &Value) -> std::collections::BTreeMap<String, String> {
    described["AttributeDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| {
            Some((
                d["AttributeName"].as_str()?.to_owned(),
                d["AttributeType"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// A described key schema as (partition, sort) keys with their types.
fn key_schema(
    schema: &Value,
    types: &std::collections::BTreeMap<String, String>,
) -> (Option<Key>, Option<Key>) {
    let key = |kind: &str| {
        schema.as_array().into_iter().flatten().find_map(|k| {
            (k["KeyType"] == kind).then(|| {
                let name = k["AttributeName"].as_str().unwrap_or_default().to_owned();
                Key {
                    kind: types.get(&name).cloned().unwrap_or_default(),
                    name,
                }
            })
        })
    };
    (key("HASH"), key("RANGE"))
}

fn show_keys(keys: &(Option<Key>, Option<Key>)) -> String {
    let one = |k: &Option<Key>| k.as_ref().map(|k| format!("{} ({})", k.name, k.kind));
    match (one(&keys.0), one(&keys.1)) {
        (Some(p), Some(s)) => format!("{p} + {s}"),
        (Some(p), None) => p,
        _ => "(none)".to_owned(),
    }
}

/// Waits until the table (and its indexes) are ACTIVE, within [`TABLE_ACTIVE_WAIT_MS`].
fn wait_active(client: &Client, name: &str) -> Result<(), String> {
    let started = Instant::now();
    loop {
        let answer = client.dynamodb("DescribeTable", &json!({ "TableName": name }))?;
        let table = &answer.body["Table"];
        let indexes_active = table["GlobalSecondaryIndexes"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|i| i["IndexStatus"] == "ACTIVE");
        if answer.ok() && table["TableStatus"] == "ACTIVE" && indexes_active {
            return Ok(());
        }
        if started.elapsed() >= Duration::from_millis(TABLE_ACTIVE_WAIT_MS) {
            return Err(format!(
                "table {name} is not ACTIVE after {TABLE_ACTIVE_WAIT_MS} ms"
            ));
        }
        std::thread::sleep(Duration::from_millis(TABLE_POLL_MS));
    }
}
