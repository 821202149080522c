//! Functions and triggers end to end: the real binary, the `/v1/` API over HTTP, the
//! real test guests (built by `tests/run.sh` for `wasm32-wasip2`), DynamoDB writes on
//! `POST /`, and the `eddy function` / `eddy trigger` CLI as subprocesses.
//!
//! The `recorder` guest writes every record it receives into the table named by its
//! configuration value `table` (item id = the record's `eventID`) and logs a `recorded`
//! line per record, in delivery order; the tests read both. Every wait polls against a
//! deadline.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api::{
    QUIET_MS, WAIT, create_table, create_trigger, ddb, deploy, eddy, eddy_ok, get, guest,
    guest_path, http, metric, send_json, streams, trigger, wait_until,
};
use crate::harness::{Server, table_name};

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

/// Deploys the recorder, granted `seen` and told to write there.
/// The recorder's invocation deadline in these tests, milliseconds.
const RECORDER_TIMEOUT_MS: u64 = 30_000;

pub(crate) fn deploy_recorder(endpoint: &str, name: &str, seen: &str) -> Value {
    // A generous deadline: a batch of ten fsync'd writes on a loaded machine can pass the
    // default 3 s, and a timed-out invocation is retried, so its records would be
    // recorded twice where these tests count exactly-once delivery.
    deploy(
        endpoint,
        name,
        &format!("?table={seen}&env=table={seen}&timeout_ms={RECORDER_TIMEOUT_MS}"),
        &guest("recorder"),
    )
    .expect(201)
}

/// A Lambda-shaped DynamoDB event with one INSERT of item `k1`, for invoking by hand.
fn insert_event(event_id: &str) -> Value {
    json!({"Records": [{
        "eventID": event_id,
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/x/stream/2024-01-01T00:00:00.000",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_700_000_000.0,
            "Keys": {"id": {"S": "k1"}},
            "NewImage": {"id": {"S": "k1"}},
            "SequenceNumber": "000000000000000000042",
            "SizeBytes": 10,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }]})
}

fn put(endpoint: &str, table: &str, id: &str, v: i64) {
    ddb(
        endpoint,
        "PutItem",
        json!({"TableName": table, "Item": {"id": {"S": id}, "v": {"N": v.to_string()}}}),
    );
}

fn update(endpoint: &str, table: &str, id: &str, v: i64) {
    ddb(
        endpoint,
        "UpdateItem",
        json!({
            "TableName": table,
            "Key": {"id": {"S": id}},
            "UpdateExpression": "SET v = :v",
            "ExpressionAttributeValues": {":v": {"N": v.to_string()}},
        }),
    );
}

fn delete(endpoint: &str, table: &str, id: &str) {
    ddb(
        endpoint,
        "DeleteItem",
        json!({"TableName": table, "Key": {"id": {"S": id}}}),
    );
}

/// What the recorder wrote: one entry per delivered record, by eventID.
#[derive(Debug, Clone)]
struct Seen {
    event_name: String,
    sequence_number: u128,
    key: String,
}

fn seen(endpoint: &str, table: &str) -> BTreeMap<String, Seen> {
    let out = ddb(endpoint, "Scan", json!({"TableName": table}));
    assert!(
        out.get("LastEvaluatedKey").is_none(),
        "the test tables stay small"
    );
    out["Items"]
        .as_array()
        .expect("Items")
        .iter()
        .map(|item| {
            let s = |v: &Value| v["S"].as_str().expect("a string attribute").to_owned();
            (
                s(&item["id"]),
                Seen {
                    event_name: s(&item["eventName"]),
                    sequence_number: s(&item["sequenceNumber"]).parse().expect("a number"),
                    key: s(&item["keys"]["M"]["id"]),
                },
            )
        })
        .collect()
}

/// Waits until the recorder has written `count` records into `table`.
fn wait_seen(endpoint: &str, table: &str, count: usize) -> BTreeMap<String, Seen> {
    let deadline = Instant::now() + WAIT;
    loop {
        let last = seen(endpoint, table);
        if last.len() >= count {
            assert_eq!(last.len(), count, "more records than written: {last:?}");
            return last;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {count} records in {table}; have {}: {last:?}",
            last.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The eventIDs of the recorder's `recorded` log lines, in delivery order.
fn recorded_in_order(endpoint: &str, function: &str) -> Vec<String> {
    get(endpoint, &format!("/v1/functions/{function}/logs")).expect(200)["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .filter(|l| l["message"] == "recorded")
        .map(|l| l["fields"]["eventID"].as_str().expect("eventID").to_owned())
        .collect()
}
// ---------------------------------------------------------------------------
// functions
// ---------------------------------------------------------------------------

#[test]
fn deploy_rejects_what_is_not_a_function_and_says_why() {
    let server = Server::start();
    let e = &server.endpoint;

    deploy(e, "garbage", "", b"this is not wasm").expect_error(
        400,
        None,
        "not a WebAssembly binary",
    );
    deploy(e, "core", "", b"\0asm\x01\0\0\0").expect_error(400, None, "core WebAssembly module");
    deploy(e, "wrong", "", &guest("wrong-world")).expect_error(400, None, "wrong world");
    // JSON form with garbage base64 and with an unknown config field.
    send_json(e, "PUT", "/v1/functions/j", &json!({"wasm_base64": "@@@"})).expect_error(
        400,
        Some("wasm_base64"),
        "base64",
    );
    send_json(
        e,
        "PUT",
        "/v1/functions/j",
        &json!({"wasm_base64": "AGFzbQ==", "config": {"memory": 1}}),
    )
    .expect_error(400, Some("config.memory"), "unknown field");
    // Configuration out of range, or unknown, names the parameter.
    let noop = guest("noop");
    deploy(e, "n", "?memory_mb=0", &noop).expect_error(400, Some("memory_mb"), "outside");
    deploy(e, "n", "?timeout_ms=ten", &noop).expect_error(400, Some("timeout_ms"), "whole number");
    deploy(e, "n", "?colour=red", &noop).expect_error(400, Some("colour"), "unknown parameter");
    deploy(e, "bad%20name", "", &noop).expect_error(400, Some("name"), "invalid function name");

    // Nothing was deployed; unknown names are 404s.
    assert_eq!(get(e, "/v1/functions").expect(200)["functions"], json!([]));
    get(e, "/v1/functions/garbage").expect_error(404, None, "garbage");
    http(e, "DELETE", "/v1/functions/garbage", &[], b"").expect_error(404, None, "garbage");
    http(e, "POST", "/v1/functions/garbage/invoke", &[], b"{}").expect_error(404, None, "garbage");
    get(e, "/v1/functions/garbage/logs").expect_error(404, None, "garbage");
}

/// A function's DynamoDB call to a table it was not granted is refused with
/// `AccessDeniedException` naming the table, and nothing reaches the table: the server
/// parses the request once and checks the grant on the tables it names before it runs.
#[test]
fn a_function_call_to_a_table_not_granted_is_denied_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir.path(), &[]);
    let e = server.endpoint.clone();
    let granted = table_name("granted");
    let secret = table_name("secret");
    create_table(&e, &granted, false);
    create_table(&e, &secret, false);
    deploy(
        &e,
        "snoop",
        &format!("?table={granted}&env=table={secret}"),
        &guest("recorder"),
    )
    .expect(201);
    let event = insert_event("snoop-1");
    let out = send_json(&e, "POST", "/v1/functions/snoop/invoke", &event).expect(200);
    let error = out["error"].to_string();
    assert!(error.contains("AccessDeniedException"), "{out}");
    assert!(error.contains(&format!("table/{secret}")), "{out}");
    let count = ddb(&e, "Scan", json!({"TableName": secret, "Select": "COUNT"}));
    assert_eq!(count["Count"], 0, "{count}");
}

#[test]
fn deploy_invoke_logs_redeploy_delete_and_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir.path(), &[]);
    let e = server.endpoint.clone();
    let seen_table = table_name("seen");
    create_table(&e, &seen_table, false);

    let v1 = deploy_recorder(&e, "recorder", &seen_table);
    assert_eq!(v1["name"], "recorder");
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["origin"], "compiled");
    assert_eq!(v1["config"]["tables"], json!([seen_table]));
    assert_eq!(v1["config"]["environment"]["table"], seen_table.as_str());
    assert!(
        v1["deployed_at"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{v1}"
    );

    // Invoke with a Lambda-shaped event: the result, the logs, the side effect.
    let event = insert_event("manual-1");
    let out = send_json(&e, "POST", "/v1/functions/recorder/invoke", &event).expect(200);
    assert_eq!(out["error"], Value::Null, "{out}");
    assert_eq!(out["version"], 1);
    assert!(out["result"].is_object(), "{out}");
    assert!(
        out["duration_ms"].as_f64().is_some_and(|d| d > 0.0),
        "{out}"
    );
    let messages: Vec<&str> = out["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .map(|l| l["message"].as_str().unwrap_or_default())
        .collect();
    assert!(messages.contains(&"batch received"), "{messages:?}");
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("recorder: 1 records")),
        "stdout is captured: {messages:?}"
    );
    let got = seen(&e, &seen_table);
    assert_eq!(got["manual-1"].key, "k1");
    let logs = get(&e, "/v1/functions/recorder/logs").expect(200);
    assert!(
        logs["logs"].as_array().is_some_and(|l| l.len() >= 3),
        "{logs}"
    );
    let limited = get(&e, "/v1/functions/recorder/logs?limit=1").expect(200);
    assert_eq!(limited["logs"].as_array().map(Vec::len), Some(1));

    // A failing invocation is a 200 with the error (Lambda's function error).
    deploy(&e, "trap", "", &guest("trap")).expect(201);
    let out = send_json(
        &e,
        "POST",
        "/v1/functions/trap/invoke",
        &json!({"Records": []}),
    )
    .expect(200);
    assert_eq!(out["result"], Value::Null, "{out}");
    assert_eq!(out["error"]["kind"], "Trap", "{out}");
    http(&e, "POST", "/v1/functions/trap/invoke", &[], b"{not json")
        .expect_error(400, None, "JSON");

    // Redeploying creates version 2; the JSON form works too.
    let v2 = deploy_recorder(&e, "recorder", &seen_table);
    assert_eq!(v2["version"], 2);
    assert_eq!(get(&e, "/v1/functions/recorder").expect(200)["version"], 2);
    use base64::Engine as _;
    let noop = base64::engine::general_purpose::STANDARD.encode(guest("noop"));
    let n = send_json(
        &e,
        "PUT",
        "/v1/functions/noop",
        &json!({"wasm_base64": noop, "config": {"memory_mb": 32, "timeout_ms": 500}}),
    )
    .expect(201);
    assert_eq!(n["config"]["memory_mb"], 32);
    let names: BTreeSet<String> = get(&e, "/v1/functions").expect(200)["functions"]
        .as_array()
        .expect("functions")
        .iter()
        .map(|f| f["name"].as_str().expect("name").to_owned())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["noop".into(), "recorder".into(), "trap".into()])
    );

    // Delete one.
    let d = http(&e, "DELETE", "/v1/functions/trap", &[], b"").expect(200);
    assert_eq!(d["deleted"], true);
    get(&e, "/v1/functions/trap").expect_error(404, None, "trap");

    // Functions survive a restart, served from the compiled cache.
    assert!(server.terminate().success(), "clean exit on SIGTERM");
    let server = Server::start_in(dir.path(), &[]);
    let e = server.endpoint.clone();
    let r = get(&e, "/v1/functions/recorder").expect(200);
    assert_eq!(r["version"], 2);
    assert_eq!(r["origin"], "cached");
    assert_eq!(r["config"]["tables"], json!([seen_table]));
    get(&e, "/v1/functions/trap").expect_error(404, None, "trap");
    assert_eq!(
        get(&e, "/v1/functions/noop").expect(200)["config"]["timeout_ms"],
        500
    );
    // So do its logs (kept in a file next to the function's versions).
    let logs_after = get(&e, "/v1/functions/recorder/logs").expect(200);
    assert_eq!(
        logs_after["logs"], logs["logs"],
        "the log lines from before the restart"
    );
    let mut again = event.clone();
    again["Records"][0]["eventID"] = json!("manual-2");
    let out = send_json(&e, "POST", "/v1/functions/recorder/invoke", &again).expect(200);
    assert_eq!(out["error"], Value::Null, "{out}");
    assert_eq!(out["version"], 2);
    assert!(seen(&e, &seen_table).contains_key("manual-2"));
    // A third deploy after the restart continues the numbering.
    assert_eq!(deploy_recorder(&e, "recorder", &seen_table)["version"], 3);
}

// ---------------------------------------------------------------------------
// triggers
// ---------------------------------------------------------------------------

#[test]
fn trigger_delivers_insert_modify_remove_in_order_and_reports_metrics() {
    let server = Server::start();
    let e = &server.endpoint;
    let (src, seen_table) = (table_name("src"), table_name("seen"));
    create_table(e, &src, true);
    create_table(e, &seen_table, false);
    deploy_recorder(e, "recorder", &seen_table);

    let t = create_trigger(
        e,
        json!({"FunctionName": "recorder", "TableName": src, "StartingPosition": "TRIM_HORIZON", "BatchSize": 10}),
    );
    let id = t["UUID"].as_str().expect("UUID").to_owned();
    // Lambda answers a new mapping `Creating`; it is `Enabled` once it polls.
    assert_eq!(t["State"], "Creating");
    assert_eq!(t["BatchSize"], 10);
    assert!(
        t["EventSourceArn"]
            .as_str()
            .is_some_and(|a| a.contains(&format!("table/{src}/stream/"))),
        "{t}"
    );
    assert!(
        t["FunctionArn"]
            .as_str()
            .is_some_and(|a| a.ends_with(":function:recorder")),
        "{t}"
    );

    let keys: Vec<String> = (0..5).map(|i| format!("k{i}")).collect();
    for (i, k) in keys.iter().enumerate() {
        put(e, &src, k, i as i64);
    }
    for (i, k) in keys.iter().enumerate() {
        update(e, &src, k, 100 + i as i64);
    }
    for k in &keys {
        delete(e, &src, k);
    }
    let got = wait_seen(e, &seen_table, 15);

    // Per item: INSERT, MODIFY, REMOVE, in sequence order...
    for k in &keys {
        let mut records: Vec<&Seen> = got.values().filter(|s| &s.key == k).collect();
        records.sort_by_key(|s| s.sequence_number);
        let names: Vec<&str> = records.iter().map(|s| s.event_name.as_str()).collect();
        assert_eq!(names, ["INSERT", "MODIFY", "REMOVE"], "{k}");
    }
    // ...and delivered in that order, each once.
    let delivered = recorded_in_order(e, "recorder");
    assert_eq!(
        delivered.len(),
        15,
        "each record delivered once: {delivered:?}"
    );
    for k in &keys {
        let seqs: Vec<u128> = delivered
            .iter()
            .map(|id| &got[id])
            .filter(|s| &s.key == k)
            .map(|s| s.sequence_number)
            .collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "{k} delivered out of order: {seqs:?}"
        );
    }

    let t = trigger(e, &id);
    assert_eq!(metric(&t, "RecordsDelivered"), 15, "{t}");
    assert_eq!(metric(&t, "Errors"), 0, "{t}");
    assert!(metric(&t, "Invocations") >= 1, "{t}");
    assert_eq!(t["LastProcessingResult"], "OK", "{t}");
    let listed = get(e, "/v1/triggers").expect(200);
    assert_eq!(
        listed["EventSourceMappings"].as_array().map(Vec::len),
        Some(1)
    );
    let by_function = get(e, "/v1/triggers?FunctionName=other").expect(200);
    assert_eq!(by_function["EventSourceMappings"], json!([]));

    // /metrics shows the trigger's counters in Prometheus' text format.
    let m = get(e, "/metrics");
    assert_eq!(m.status, 200);
    assert!(
        m.headers
            .contains("content-type: text/plain; version=0.0.4"),
        "{}",
        m.headers
    );
    let text = m.text();
    let line = format!(
        "eddy_trigger_records_delivered_total{{trigger=\"{id}\",function=\"recorder\"}} 15"
    );
    assert!(
        text.lines().any(|l| l == line),
        "{line} missing from:\n{text}"
    );
    assert!(
        text.contains("# TYPE eddy_trigger_invocations_total counter"),
        "{text}"
    );
    assert!(text.lines().any(|l| l == "eddy_functions 1"), "{text}");
    assert!(text.lines().any(|l| l == "eddy_triggers 1"), "{text}");
}

#[test]
fn trigger_parameters_out_of_range_are_400s_naming_the_field() {
    let server = Server::start();
    let e = &server.endpoint;
    let (src, plain) = (table_name("src"), table_name("plain"));
    create_table(e, &src, true);
    create_table(e, &plain, false);
    deploy(e, "noop", "", &guest("noop")).expect(201);
    let base = json!({"FunctionName": "noop", "TableName": src, "StartingPosition": "LATEST"});
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        send_json(e, "POST", "/v1/triggers", &body)
    };

    with("BatchSize", json!(0)).expect_error(400, Some("BatchSize"), "between 1 and 10000");
    with("BatchSize", json!(10_001)).expect_error(400, Some("BatchSize"), "10001");
    with("ParallelizationFactor", json!(11)).expect_error(400, Some("ParallelizationFactor"), "11");
    with("MaximumRecordAgeInSeconds", json!(30)).expect_error(
        400,
        Some("MaximumRecordAgeInSeconds"),
        "30",
    );
    with("MaximumRetryAttempts", json!(-2)).expect_error(400, Some("MaximumRetryAttempts"), "-2");
    with("MaximumBatchingWindowInSeconds", json!(301)).expect_error(
        400,
        Some("MaximumBatchingWindowInSeconds"),
        "301",
    );
    with("Colour", json!("blue")).expect_error(400, Some("Colour"), "unknown field");
    with("BatchSize", json!("ten")).expect_error(400, Some("BatchSize"), "invalid type");
    with("StartingPosition", json!("NOWHERE")).expect_error(
        400,
        Some("StartingPosition"),
        "NOWHERE",
    );
    with("FunctionResponseTypes", json!(["Everything"])).expect_error(
        400,
        Some("FunctionResponseTypes"),
        "Everything",
    );
    with(
        "FilterCriteria",
        json!({"Filters": [{"Pattern": "not json"}]}),
    )
    .expect_error(400, Some("FilterCriteria"), "JSON");
    with("FunctionName", json!("missing")).expect_error(404, None, "missing");
    with("TableName", json!(plain)).expect_error(400, Some("EventSourceArn"), "no enabled stream");
    http(e, "POST", "/v1/triggers", &[], b"{").expect_error(400, None, "not valid JSON");
    assert_eq!(
        get(e, "/v1/triggers").expect(200)["EventSourceMappings"],
        json!([])
    );

    // Unknown ids are 404s; a valid trigger rejects an out-of-range update.
    for method in ["GET", "PATCH", "DELETE"] {
        http(e, method, "/v1/triggers/no-such-id", &[], b"{}").expect_error(
            404,
            None,
            "no-such-id",
        );
    }
    let id = create_trigger(e, base.clone())["UUID"]
        .as_str()
        .expect("UUID")
        .to_owned();
    send_json(
        e,
        "PATCH",
        &format!("/v1/triggers/{id}"),
        &json!({"BatchSize": 0}),
    )
    .expect_error(400, Some("BatchSize"), "between");
    send_json(
        e,
        "PATCH",
        &format!("/v1/triggers/{id}"),
        &json!({"StartingPosition": "LATEST"}),
    )
    .expect_error(400, Some("StartingPosition"), "cannot be changed");
    assert_eq!(
        trigger(e, &id)["BatchSize"],
        100,
        "a rejected update changes nothing"
    );
}

/// Filter patterns are compiled when the mapping is saved: a pattern that is JSON but
/// not a pattern (an unknown operator, an empty matcher list) is a 400 naming
/// `FilterCriteria` on create and on update, and nothing is saved, across a restart too.
#[test]
fn a_bad_filter_pattern_is_a_400_and_nothing_is_saved() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir.path(), &[]);
    let e = server.endpoint.clone();
    let src = table_name("src");
    create_table(&e, &src, true);
    deploy(&e, "noop", "", &guest("noop")).expect(201);
    let base = json!({"FunctionName": "noop", "TableName": src, "StartingPosition": "LATEST"});
    let with_filter = |pattern: &str| {
        let mut body = base.clone();
        body["FilterCriteria"] = json!({"Filters": [{"Pattern": pattern}]});
        body
    };
    for (pattern, says) in [
        (
            r#"{"eventName": [{"wildcard": "INS*"}]}"#,
            "unknown filter operator",
        ),
        (r#"{"eventName": []}"#, "empty"),
        (r#"{"eventName": "INSERT"}"#, "array of matchers"),
    ] {
        send_json(&e, "POST", "/v1/triggers", &with_filter(pattern)).expect_error(
            400,
            Some("FilterCriteria"),
            says,
        );
    }
    assert_eq!(
        get(&e, "/v1/triggers").expect(200)["EventSourceMappings"],
        json!([]),
        "a refused trigger is not saved"
    );

    let good = r#"{"eventName": ["INSERT"]}"#;
    let id = create_trigger(&e, with_filter(good))["UUID"]
        .as_str()
        .expect("UUID")
        .to_owned();
    send_json(
        &e,
        "PATCH",
        &format!("/v1/triggers/{id}"),
        &json!({"FilterCriteria": {"Filters": [{"Pattern": r#"{"eventName": [{"wildcard": "x"}]}"#}]}}),
    )
    .expect_error(400, Some("FilterCriteria"), "unknown filter operator");
    let kept = json!({"Filters": [{"Pattern": good}]});
    assert_eq!(
        trigger(&e, &id)["FilterCriteria"],
        kept,
        "a refused update changes nothing"
    );

    assert!(server.terminate().success(), "clean exit on SIGTERM");
    let server = Server::start_in(dir.path(), &[]);
    let t = trigger(&server.endpoint, &id);
    assert_eq!(t["FilterCriteria"], kept, "{t}");
    assert_eq!(t["State"], "Enabled", "{t}");
}

#[test]
fn trigger_disable_enable_and_delete() {
    let server = Server::start();
    let e = &server.endpoint;
    let (src, seen_table) = (table_name("src"), table_name("seen"));
    create_table(e, &src, true);
    create_table(e, &seen_table, false);
    deploy_recorder(e, "recorder", &seen_table);
    let id = create_trigger(
        e,
        json!({"FunctionName": "recorder", "TableName": src, "StartingPosition": "LATEST"}),
    )["UUID"]
        .as_str()
        .expect("UUID")
        .to_owned();
    let path = format!("/v1/triggers/{id}");

    put(e, &src, "a", 1);
    wait_seen(e, &seen_table, 1);

    let t = send_json(e, "PATCH", &path, &json!({"Enabled": false})).expect(200);
    assert_eq!(t["State"], "Disabled");
    put(e, &src, "b", 2);
    std::thread::sleep(Duration::from_millis(QUIET_MS));
    assert_eq!(
        seen(e, &seen_table).len(),
        1,
        "a disabled trigger delivers nothing"
    );

    let t = send_json(e, "PATCH", &path, &json!({"Enabled": true, "BatchSize": 7})).expect(200);
    assert_eq!(t["State"], "Enabled");
    assert_eq!(t["BatchSize"], 7);
    let got = wait_seen(e, &seen_table, 2);
    assert!(
        got.values().any(|s| s.key == "b"),
        "resumed from the checkpoint: {got:?}"
    );

    let t = http(e, "DELETE", &path, &[], b"").expect(200);
    assert_eq!(t["UUID"], id.as_str());
    get(e, &path).expect_error(404, None, &id);
    assert_eq!(
        get(e, "/v1/triggers").expect(200)["EventSourceMappings"],
        json!([])
    );
    put(e, &src, "c", 3);
    std::thread::sleep(Duration::from_millis(QUIET_MS));
    assert_eq!(
        seen(e, &seen_table).len(),
        2,
        "a deleted trigger delivers nothing"
    );
}

#[test]
fn trigger_resumes_from_its_checkpoint_after_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir.path(), &[]);
    let e = server.endpoint.clone();
    let (src, seen_table) = (table_name("src"), table_name("seen"));
    create_table(&e, &src, true);
    create_table(&e, &seen_table, false);
    deploy_recorder(&e, "recorder", &seen_table);
    let id = create_trigger(
        &e,
        json!({"FunctionName": "recorder", "TableName": src, "StartingPosition": "TRIM_HORIZON", "BatchSize": 5}),
    )["UUID"]
        .as_str()
        .expect("UUID")
        .to_owned();

    for i in 0..20 {
        put(&e, &src, &format!("before-{i}"), i);
    }
    let before: BTreeSet<String> = wait_seen(&e, &seen_table, 20).into_keys().collect();
    // The log is appended when an invocation ends, just after its table writes.
    wait_until("the log of the first 20 deliveries", || {
        recorded_in_order(&e, "recorder").len() == 20
    });
    let logged_before = recorded_in_order(&e, "recorder");
    assert!(server.terminate().success(), "clean exit on SIGTERM");

    let server = Server::start_in(dir.path(), &[]);
    let e = server.endpoint.clone();
    let t = trigger(&e, &id);
    assert_eq!(t["State"], "Enabled", "{t}");
    for i in 0..20 {
        put(&e, &src, &format!("after-{i}"), i);
    }
    let all = wait_seen(&e, &seen_table, 40);
    assert!(
        all.values().filter(|s| s.key.starts_with("after-")).count() == 20,
        "none skipped: {all:?}"
    );
    // Every batch before the SIGTERM was finished (and checkpointed on the way out), so
    // this process delivers exactly the new records, each once.
    // The function's log survives the restart: what this process delivered follows the
    // lines of the first one.
    let logged = recorded_in_order(&e, "recorder");
    assert_eq!(logged[..logged_before.len()], logged_before[..]);
    let delivered = &logged[logged_before.len()..];
    let redelivered: Vec<&String> = delivered.iter().filter(|id| before.contains(*id)).collect();
    assert!(
        redelivered.is_empty(),
        "delivered again after the restart: {redelivered:?}"
    );
    assert_eq!(delivered.len(), 20, "{delivered:?}");
    wait_until("the trigger's counters", || {
        metric(&trigger(&e, &id), "RecordsDelivered") == 20
    });
}

// ---------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------

/// Runs a client command that must fail; returns its stderr.
fn eddy_err(endpoint: &str, args: &[&str]) -> String {
    let out = eddy(endpoint, args);
    assert!(!out.status.success(), "eddy {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn cli_deploys_functions_and_manages_triggers() {
    let server = Server::start();
    let e = &server.endpoint;
    let (src, seen_table) = (table_name("src"), table_name("seen"));
    create_table(e, &src, true);
    create_table(e, &seen_table, false);
    let recorder = guest_path("recorder");
    let recorder = recorder.to_str().expect("a UTF-8 path");
    let env = format!("table={seen_table}");

    let f = eddy_ok(
        e,
        &[
            "function",
            "deploy",
            "recorder",
            recorder,
            "--table",
            &seen_table,
            "--env",
            &env,
            "--timeout-ms",
            "2000",
        ],
    );
    assert_eq!(f["version"], 1);
    assert_eq!(f["config"]["timeout_ms"], 2000);
    assert_eq!(f["config"]["environment"]["table"], seen_table.as_str());
    let listed = eddy_ok(e, &["function", "list"]);
    assert_eq!(listed["functions"][0]["name"], "recorder");

    let garbage = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(garbage.path(), b"garbage").expect("write");
    let err = eddy_err(
        e,
        &[
            "function",
            "deploy",
            "bad",
            garbage.path().to_str().expect("path"),
        ],
    );
    assert!(err.contains("not a WebAssembly binary"), "{err}");

    let t = eddy_ok(
        e,
        &[
            "trigger",
            "create",
            "--function",
            "recorder",
            "--table",
            &src,
            "--batch-size",
            "10",
            "--starting-position",
            "TRIM_HORIZON",
        ],
    );
    let id = t["UUID"].as_str().expect("UUID").to_owned();
    assert_eq!(t["BatchSize"], 10);
    let listed = eddy_ok(e, &["trigger", "list"]);
    assert_eq!(listed["EventSourceMappings"][0]["UUID"], id.as_str());
    let err = eddy_err(
        e,
        &["trigger", "create", "--function", "nope", "--table", &src],
    );
    assert!(err.contains("Function not found: nope"), "{err}");
    let err = eddy_err(
        e,
        &[
            "trigger",
            "create",
            "--function",
            "recorder",
            "--table",
            &src,
            "--batch-size",
            "0",
        ],
    );
    assert!(err.contains("BatchSize"), "{err}");

    put(e, &src, "cli", 1);
    wait_seen(e, &seen_table, 1);
    let shown = eddy_ok(e, &["trigger", "show", &id]);
    assert_eq!(metric(&shown, "RecordsDelivered"), 1, "{shown}");
    assert_eq!(
        eddy_ok(e, &["trigger", "disable", &id])["State"],
        "Disabled"
    );
    assert_eq!(eddy_ok(e, &["trigger", "enable", &id])["State"], "Enabled");

    let event = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(event.path(), br#"{"Records": []}"#).expect("write");
    let out = eddy_ok(
        e,
        &[
            "function",
            "invoke",
            "recorder",
            "--event",
            event.path().to_str().expect("path"),
        ],
    );
    assert_eq!(out["error"], Value::Null, "{out}");
    let logs = eddy_ok(e, &["function", "logs", "recorder", "--limit", "2"]);
    assert_eq!(logs["logs"].as_array().map(Vec::len), Some(2), "{logs}");

    eddy_ok(e, &["trigger", "delete", &id]);
    assert_eq!(
        eddy_ok(e, &["trigger", "list"])["EventSourceMappings"],
        json!([])
    );
    let err = eddy_err(e, &["trigger", "show", &id]);
    assert!(err.contains("404"), "{err}");
    eddy_ok(e, &["function", "delete", "recorder"]);
    assert_eq!(eddy_ok(e, &["function", "list"])["functions"], json!([]));

    // Without a server: a clear message, non-zero exit.
    let err = eddy_err("http://127.0.0.1:9", &["function", "list"]);
    assert!(err.contains("cannot reach Eddy"), "{err}");
}

#[test]
fn a_function_that_retriggers_itself_is_stopped_after_16_hops() {
    let server = Server::start();
    let e = &server.endpoint;
    // The recorder writes one item per record it sees — here into its own source
    // table, so every write triggers it again.
    create_table(e, "loop", true);
    deploy_recorder(e, "looper", "loop");
    let t = create_trigger(
        e,
        json!({"FunctionName": "looper", "TableName": "loop", "StartingPosition": "LATEST"}),
    );
    let id = t["UUID"].as_str().unwrap().to_string();
    put(e, "loop", "seed", 1);
    wait_until("the loop guard", || {
        metric(&trigger(e, &id), "RecursionStops") >= 1
    });
    // Give a runaway loop time to show itself, then check it really stopped.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let view = trigger(e, &id);
    assert_eq!(metric(&view, "RecursionStops"), 1, "{view}");
    assert!(
        view["StateTransitionReason"]
            .as_str()
            .unwrap()
            .contains("RecursiveInvocationDetected"),
        "{view}"
    );
    // The seed plus one write per hop, hops 1 to 16; the 16th hop's record is not
    // delivered.
    let count = ddb(e, "Scan", json!({"TableName": "loop", "Select": "COUNT"}));
    assert_eq!(count["Count"], 17, "{count}");
    assert_eq!(metric(&view, "Invocations"), 16, "{view}");
}

#[test]
fn schedules_fire_on_cron_and_are_managed_from_the_cli() {
    let server = Server::start();
    let e = server.endpoint.clone();
    deploy(&e, "tick", "", &guest("noop")).expect(201);
    let created = eddy_ok(
        &e,
        &[
            "schedule",
            "create",
            "every-second",
            "--function",
            "tick",
            "--cron",
            "* * * * * *",
            "--input",
            "{\"job\":\"cleanup\"}",
        ],
    );
    assert_eq!(created["State"], "ENABLED", "{created}");
    wait_until("two fires", || {
        get(&e, "/v1/schedules/every-second").expect(200)["Metrics"]["Invocations"]
            .as_u64()
            .unwrap_or(0)
            >= 2
    });
    let shown = eddy_ok(&e, &["schedule", "show", "every-second"]);
    assert_eq!(shown["LastResult"], "OK", "{shown}");
    assert_eq!(shown["Metrics"]["Errors"], 0, "{shown}");
    let metrics = String::from_utf8(http(&e, "GET", "/metrics", &[], b"").body).unwrap();
    assert!(
        metrics.contains("eddy_schedule_invocations_total{schedule=\"every-second\"}"),
        "{metrics}"
    );
    assert_eq!(
        eddy_ok(&e, &["schedule", "disable", "every-second"])["State"],
        "DISABLED"
    );
    let err = eddy_err(
        &e,
        &[
            "schedule",
            "create",
            "bad",
            "--function",
            "tick",
            "--cron",
            "* *",
        ],
    );
    assert!(err.contains("ScheduleExpression"), "{err}");
    eddy_ok(&e, &["schedule", "delete", "every-second"]);
    assert_eq!(get(&e, "/v1/schedules/every-second").status, 404);
}

/// Reads every record of the table's latest stream, all shards, from TRIM_HORIZON:
/// `eventID -> (item key, sequence number)`.
fn stream_records(endpoint: &str, table: &str) -> BTreeMap<String, (String, u128)> {
    let desc = ddb(endpoint, "DescribeTable", json!({"TableName": table}));
    let arn = desc["Table"]["LatestStreamArn"]
        .as_str()
        .expect("a stream")
        .to_owned();
    let mut out = BTreeMap::new();
    let d = streams(endpoint, "DescribeStream", json!({"StreamArn": arn}));
    for shard in d["StreamDescription"]["Shards"].as_array().expect("shards") {
        let mut it = streams(
            endpoint,
            "GetShardIterator",
            json!({"StreamArn": arn, "ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}),
        )["ShardIterator"]
            .as_str()
            .map(str::to_owned);
        while let Some(i) = it {
            let page = streams(endpoint, "GetRecords", json!({"ShardIterator": i}));
            let records = page["Records"].as_array().expect("Records");
            if records.is_empty() {
                break;
            }
            for r in records {
                out.insert(
                    r["eventID"].as_str().expect("eventID").to_owned(),
                    (
                        r["dynamodb"]["Keys"]["id"]["S"]
                            .as_str()
                            .expect("key")
                            .to_owned(),
                        r["dynamodb"]["SequenceNumber"]
                            .as_str()
                            .expect("seq")
                            .parse()
                            .expect("number"),
                    ),
                );
            }
            it = page["NextShardIterator"].as_str().map(str::to_owned);
        }
    }
    out
}

#[test]
fn sigkill_mid_batch_redelivers_and_skips_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir.path(), &["--table-shards", "2"]);
    let e = server.endpoint.clone();
    let (src, seen_table) = (table_name("src"), table_name("seen"));
    create_table(&e, &src, true);
    create_table(&e, &seen_table, false);
    deploy_recorder(&e, "recorder", &seen_table);
    create_trigger(
        &e,
        json!({"FunctionName": "recorder", "TableName": src, "StartingPosition": "TRIM_HORIZON", "BatchSize": 7}),
    );
    // Writes that insert, modify and remove a few items many times, while the trigger
    // delivers; the server is killed in the middle of it.
    let write_round = |e: &str, round: usize| {
        for i in 0..60 {
            let key = format!("k{}", i % 6);
            match i % 5 {
                4 => delete(e, &src, &key),
                3 => update(e, &src, &key, (round * 100 + i) as i64),
                _ => put(e, &src, &key, (round * 100 + i) as i64),
            }
        }
    };
    write_round(&e, 0);
    // Kill while batches are in flight (the recorder is slow: two table calls per
    // record through the DynamoDB capability).
    let delivered_before_kill = seen(&e, &seen_table).len();
    server.kill9();
    eprintln!("{delivered_before_kill} records were delivered before the SIGKILL");

    let server = Server::start_in(dir.path(), &["--table-shards", "2"]);
    let e = server.endpoint.clone();
    write_round(&e, 1);
    let records = stream_records(&e, &src);
    assert!(
        records.len() >= 100,
        "the rounds produced records: {}",
        records.len()
    );
    // At least once: every record in the stream reaches the function, whether it was
    // delivered before the kill or again after it.
    let seen_all = wait_seen(&e, &seen_table, records.len());
    for (event_id, (key, seq)) in &records {
        let s = seen_all
            .get(event_id)
            .unwrap_or_else(|| panic!("record {event_id} ({key}) was skipped"));
        assert_eq!(
            (&s.key, s.sequence_number),
            (key, *seq),
            "record {event_id}"
        );
    }
    assert_eq!(
        seen_all.len(),
        records.len(),
        "no record the stream does not have"
    );
    // Per-item order across the kill: the function's log (kept on disk, so the
    // deliveries before the kill are in it too) lists deliveries in order. A record may
    // come again (at least once), but no record of a key is delivered for the first time
    // before an earlier record of the same key.
    let deliveries = recorded_in_order(&e, "recorder");
    let mut first_seen: BTreeSet<&str> = BTreeSet::new();
    let mut newest_by_key: BTreeMap<&str, u128> = BTreeMap::new();
    for event_id in &deliveries {
        let (key, seq) = records
            .get(event_id)
            .unwrap_or_else(|| panic!("delivered {event_id}, which the stream lacks"));
        if !first_seen.insert(event_id) {
            continue;
        }
        if let Some(newest) = newest_by_key.insert(key, *seq) {
            assert!(
                newest < *seq,
                "{key}: record {seq} was first delivered after record {newest}"
            );
        }
    }
    assert_eq!(
        first_seen.len(),
        records.len(),
        "the log lists every delivered record, before and after the kill"
    );
}
