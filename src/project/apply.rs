//! `eddy apply [FILE]`: makes a running server match a manifest, in order: tables
//! (`tables.rs`), functions (deployed when the served version is not the one built
//! here, `deploy.rs`), triggers (known by function and source, a table of this server or a
//! stream ARN: created, or updated in
//! the fields that differ) and schedules (known by name). One line per change; "no
//! changes" when there was none. Nothing the manifest does not name is ever deleted,
//! and every table is checked before anything is changed, so a table that exists
//! with other keys stops the apply with nothing changed.
//!
//! Owns the order, the trigger and schedule comparisons and the printing. Must not
//! know how tables are described or components built.

use hyper::Method;
use serde_json::{Map, Value, json};

use super::client::{Client, encode};
use super::deploy;
use super::manifest::{Project, Schedule, Trigger};
use super::tables;

/// Makes the server match `project`; prints each change.
pub fn apply(client: &Client, project: &Project) -> Result<(), String> {
    let mut changes = apply_tables(client, project)?;
    for function in &project.manifest.functions {
        deploy::build_if_stale(project, function)?;
        if !deploy::is_current(client, project, function)? {
            let version = deploy::deploy(client, project, function)?;
            println!("deployed function {} version {version}", function.name);
            changes += 1;
        }
    }
    changes += apply_attachments(client, project)?;
    if changes == 0 {
        println!("no changes");
    }
    Ok(())
}

/// Makes the server's tables match the manifest's, after checking every one (a table
/// with other keys refuses before anything changes); prints one line per change and
/// returns how many there were.
pub fn apply_tables(client: &Client, project: &Project) -> Result<usize, String> {
    let mut plans = Vec::new();
    for table in &project.manifest.tables {
        plans.push((table, tables::plan(client, table)?));
    }
    let mut changes = 0usize;
    for (table, plan) in plans {
        for line in tables::carry_out(client, table, plan)? {
            println!("{line}");
            changes += 1;
        }
    }
    Ok(changes)
}

/// Makes the server's triggers and schedules match the manifest's (their functions
/// and tables must exist); prints one line per change and returns how many there were.
pub fn apply_attachments(client: &Client, project: &Project) -> Result<usize, String> {
    let mut changes = 0usize;
    for trigger in &project.manifest.triggers {
        if let Some(line) = apply_trigger(client, trigger)? {
            println!("{line}");
            changes += 1;
        }
    }
    for schedule in &project.manifest.schedules {
        if let Some(line) = apply_schedule(client, schedule)? {
            println!("{line}");
            changes += 1;
        }
    }
    Ok(changes)
}

/// The mapping fields the manifest sets, in Lambda's names. `StartingPosition` is
/// only for creating (Lambda cannot change it).
fn trigger_fields(trigger: &Trigger) -> Map<String, Value> {
    let mut fields = Map::new();
    let mut set = |key: &str, value: Option<Value>| {
        if let Some(v) = value {
            fields.insert(key.to_owned(), v);
        }
    };
    set("BatchSize", trigger.batch_size.map(Value::from));
    set(
        "MaximumRetryAttempts",
        trigger.maximum_retry_attempts.map(Value::from),
    );
    set(
        "MaximumRecordAgeInSeconds",
        trigger.maximum_record_age_in_seconds.map(Value::from),
    );
    set(
        "MaximumBatchingWindowInSeconds",
        trigger.maximum_batching_window_in_seconds.map(Value::from),
    );
    set(
        "ParallelizationFactor",
        trigger.parallelization_factor.map(Value::from),
    );
    set(
        "BisectBatchOnFunctionError",
        trigger.bisect_batch_on_function_error.map(Value::from),
    );
    set(
        "TumblingWindowInSeconds",
        trigger.tumbling_window_in_seconds.map(Value::from),
    );
    set(
        "FunctionResponseTypes",
        Some(if trigger.report_batch_item_failures {
            json!(["ReportBatchItemFailures"])
        } else {
            json!([])
        }),
    );
    set(
        "FilterCriteria",
        Some(json!({
            "Filters": trigger.filters.iter().map(|p| json!({ "Pattern": p })).collect::<Vec<_>>()
        })),
    );
    set(
        "DestinationConfig",
        Some(
            json!({ "OnFailure": trigger.on_failure_table.as_ref().map_or_else(
                || json!({}),
                |t| json!({ "Destination": t }),
            )}),
        ),
    );
    set("Enabled", trigger.enabled.map(Value::from));
    fields
}

/// Whether the served mapping's `key` already says what the manifest's `wanted` says.
fn trigger_field_matches(served: &Value, key: &str, wanted: &Value) -> bool {
    match key {
        "Enabled" => {
            let enabled = !matches!(served["State"].as_str(), Some("Disabled" | "Disabling"));
            wanted.as_bool() == Some(enabled)
        }
        // The server answers a table ARN for a destination given by name.
        "DestinationConfig" => {
            let name = |v: &Value| {
                v["OnFailure"]["Destination"].as_str().map(|d| {
                    d.split_once(":table/")
                        .map_or(d, |(_, t)| t.split('/').next().unwrap_or(t))
                        .to_owned()
                })
            };
            name(&served[key]) == name(wanted)
        }
        "FilterCriteria" => {
            let patterns = |v: &Value| -> Vec<Value> {
                v["Filters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|f| {
                        let p = f["Pattern"].as_str().unwrap_or_default();
                        serde_json::from_str(p).unwrap_or_else(|_| Value::from(p))
                    })
                    .collect()
            };
            patterns(&served[key]) == patterns(wanted)
        }
        _ => &served[key] == wanted,
    }
}

fn apply_trigger(client: &Client, trigger: &Trigger) -> Result<Option<String>, String> {
    let listed = client.v1_json(
        Method::GET,
        &format!("/v1/triggers?FunctionName={}", encode(&trigger.function)),
        &Value::Null,
    )?;
    if !listed.ok() {
        return Err(format!(
            "listing the triggers of {}: {}",
            trigger.function,
            listed.error()
        ));
    }
    // A trigger is known by its function and its source: the table's current stream,
    // or exactly the stream ARN named.
    let on_table = trigger
        .table
        .as_ref()
        .map(|table| format!(":table/{table}/stream/"));
    let served = listed.body["EventSourceMappings"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| {
            m["EventSourceArn"]
                .as_str()
                .is_some_and(|arn| match (&on_table, &trigger.stream_arn) {
                    (Some(on_table), _) => arn.contains(on_table.as_str()),
                    (None, Some(wanted)) => arn == wanted,
                    (None, None) => false,
                })
        });
    let fields = trigger_fields(trigger);
    let Some(served) = served else {
        let mut body = fields;
        body.insert("FunctionName".into(), Value::from(trigger.function.clone()));
        match (&trigger.table, &trigger.stream_arn) {
            (Some(table), _) => {
                body.insert("TableName".into(), Value::from(table.clone()));
            }
            (None, Some(arn)) => {
                body.insert("EventSourceArn".into(), Value::from(arn.clone()));
                if let Some(endpoint) = &trigger.source_endpoint {
                    body.insert("SourceEndpoint".into(), Value::from(endpoint.clone()));
                }
            }
            (None, None) => {}
        }
        body.insert(
            "StartingPosition".into(),
            Value::from(trigger.starting_position.as_deref().unwrap_or("LATEST")),
        );
        let answer = client.v1_json(Method::POST, "/v1/triggers", &Value::Object(body))?;
        if !answer.ok() {
            return Err(format!(
                "creating the trigger of {} on {}: {}",
                trigger.function,
                trigger.source(),
                answer.error()
            ));
        }
        return Ok(Some(format!(
            "created trigger {} on {} ({})",
            trigger.function,
            trigger.source(),
            answer.body["UUID"].as_str().unwrap_or_default()
        )));
    };
    let changed: Map<String, Value> = fields
        .into_iter()
        .filter(|(key, wanted)| !trigger_field_matches(served, key, wanted))
        .collect();
    if changed.is_empty() {
        return Ok(None);
    }
    let id = served["UUID"].as_str().unwrap_or_default();
    let names: Vec<String> = changed.keys().cloned().collect();
    let answer = client.v1_json(
        Method::PATCH,
        &format!("/v1/triggers/{}", encode(id)),
        &Value::Object(changed),
    )?;
    if !answer.ok() {
        return Err(format!(
            "updating the trigger of {} on {}: {}",
            trigger.function,
            trigger.source(),
            answer.error()
        ));
    }
    Ok(Some(format!(
        "updated trigger {} on {} ({id}): {}",
        trigger.function,
        trigger.source(),
        names.join(", ")
    )))
}

fn apply_schedule(client: &Client, schedule: &Schedule) -> Result<Option<String>, String> {
    let input: Value = match &schedule.input {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| format!("schedule {}: input is not JSON: {e}", schedule.name))?,
        None => json!({}),
    };
    let enabled = schedule.enabled.unwrap_or(true);
    let mut body = json!({
        "FunctionName": schedule.function,
        "ScheduleExpression": schedule.cron,
        "Input": input,
        "Enabled": enabled,
    });
    let path = format!("/v1/schedules/{}", encode(&schedule.name));
    let served = client.v1_json(Method::GET, &path, &Value::Null)?;
    if served.status == 404 {
        body["Name"] = Value::from(schedule.name.clone());
        let answer = client.v1_json(Method::POST, "/v1/schedules", &body)?;
        if !answer.ok() {
            return Err(format!(
                "creating schedule {}: {}",
                schedule.name,
                answer.error()
            ));
        }
        return Ok(Some(format!("created schedule {}", schedule.name)));
    }
    if !served.ok() {
        return Err(format!(
            "reading schedule {}: {}",
            schedule.name,
            served.error()
        ));
    }
    let s = &served.body;
    let same = s["FunctionName"] == body["FunctionName"]
        && s["ScheduleExpression"] == body["ScheduleExpression"]
        && s["Input"] == body["Input"]
        && (s["State"] == "ENABLED") == enabled;
    if same {
        return Ok(None);
    }
    let answer = client.v1_json(Method::PATCH, &path, &body)?;
    if !answer.ok() {
        return Err(format!(
            "updating schedule {}: {}",
            schedule.name,
            answer.error()
        ));
    }
    Ok(Some(format!("updated schedule {}", schedule.name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger() -> Trigger {
        super::super::manifest::parse(
            "[[trigger]]\nfunction = \"f\"\ntable = \"t\"\nbatch_size = 10\n\
             on_failure_table = \"dead\"\nfilters = ['{\"eventName\": [\"INSERT\"]}']\n",
        )
        .expect("manifest")
        .triggers
        .remove(0)
    }

    #[test]
    fn a_served_mapping_in_the_servers_words_matches_the_manifest() {
        // As the server answers: a table ARN for the destination, the pattern as the
        // text it was given (spacing may differ), the state instead of Enabled.
        let served = json!({
            "BatchSize": 10,
            "FunctionResponseTypes": [],
            "FilterCriteria": { "Filters": [{ "Pattern": "{\"eventName\":[\"INSERT\"]}" }] },
            "DestinationConfig": { "OnFailure": {
                "Destination": "arn:aws:dynamodb:us-east-1:000000000000:table/dead" } },
            "State": "Enabled",
        });
        let fields = trigger_fields(&trigger());
        let differing: Vec<&String> = fields
            .iter()
            .filter(|(k, v)| !trigger_field_matches(&served, k, v))
            .map(|(k, _)| k)
            .collect();
        assert!(differing.is_empty(), "{differing:?}");
        // StartingPosition is never compared: Lambda cannot change it.
        assert!(!fields.contains_key("StartingPosition"));
    }

    #[test]
    fn each_difference_is_found() {
        let served = json!({
            "BatchSize": 100,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "FilterCriteria": { "Filters": [] },
            "DestinationConfig": { "OnFailure": {} },
        });
        let fields = trigger_fields(&trigger());
        let mut differing: Vec<&str> = fields
            .iter()
            .filter(|(k, v)| !trigger_field_matches(&served, k, v))
            .map(|(k, _)| k.as_str())
            .collect();
        differing.sort_unstable();
        assert_eq!(
            differing,
            [
                "BatchSize",
                "DestinationConfig",
                "FilterCriteria",
                "FunctionResponseTypes"
            ]
        );
        let disabled = json!({ "State": "Disabled" });
        assert!(!trigger_field_matches(&disabled, "Enabled", &json!(true)));
        assert!(trigger_field_matches(&disabled, "Enabled", &json!(false)));
    }
}
