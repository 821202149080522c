//! The stream trigger's delivery semantics, with the real engine, the real executor and
//! the real test guests: order, checkpoints across a restart, partial batch responses,
//! retries, bisecting, the failure destination, filters and starting positions; a panic
//! of host code while handling a batch, and the number of triggers.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{RecordingTables, guest};
use eddy_engine::{
    AttributeValue, BillingMode, CreateTableInput, DeleteItemInput, Engine, EngineConfig, Item,
    KeyAttribute, KeyRole, KeyType, Number, PutItemInput, ScanInput, StreamDef, StreamRecord,
    StreamSpecification, StreamViewType,
};
use eddy_triggers::TriggerError;
use eddy_triggers::stream::{
    EventCodec, MappingRequest, RuntimeDeps, TRIGGERS_MAX, TriggerRuntime,
};
use eddy_triggers::{Executor, ExecutorConfig, FunctionConfig, FunctionStore, TableApi};
use serde_json::{Value, json};

/// Longest a test waits for deliveries.
const WAIT_MS_MAX: u64 = 20_000;

/// DynamoDB JSON for the tests (the server has its own, in `src/streams.rs`).
fn av(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n.to_string() }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null => json!({ "NULL": true }),
        AttributeValue::M(m) => json!({ "M": item_json(m) }),
        AttributeValue::L(l) => json!({ "L": l.iter().map(av).collect::<Vec<_>>() }),
        other => json!({ "S": format!("{other:?}") }),
    }
}

fn item_json(i: &Item) -> Value {
    Value::Object(i.iter().map(|(k, v)| (k.clone(), av(v))).collect())
}

struct Codec;

impl Codec {
    fn record(&self, r: &StreamRecord, arn: &str) -> Value {
        let mut d = json!({
            "Keys": item_json(&r.keys),
            "SequenceNumber": eddy_engine::format_sequence_number(r.seq),
            "SizeBytes": r.size_bytes,
            "StreamViewType": r.view_type.as_str(),
            "ApproximateCreationDateTime": (r.created_us / 1_000_000) as f64,
        });
        if let Some(n) = &r.new_image {
            d["NewImage"] = item_json(n);
        }
        if let Some(o) = &r.old_image {
            d["OldImage"] = item_json(o);
        }
        json!({
            "eventID": format!("{:x}", r.seq),
            "eventName": r.event_name.as_str(),
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "eventSourceARN": arn,
            "dynamodb": d,
        })
    }
}

impl EventCodec for Codec {
    fn write_record(&self, r: &StreamRecord, _stream: &StreamDef, arn: &str, out: &mut Vec<u8>) {
        let _ = serde_json::to_writer(out, &self.record(r, arn));
    }
}

/// The host's codec with a bug: it panics on the record of item `boom` the first
/// `panics` times it renders it (the batch is rendered once per attempt, before the
/// filters and the function see it).
struct PanickyCodec {
    panics: std::sync::atomic::AtomicU32,
}

impl PanickyCodec {
    fn new(panics: u32) -> PanickyCodec {
        PanickyCodec {
            panics: std::sync::atomic::AtomicU32::new(panics),
        }
    }
}

fn is_boom(r: &StreamRecord) -> bool {
    r.keys.get("id") == Some(&AttributeValue::S("boom".into()))
}

impl EventCodec for PanickyCodec {
    fn write_record(&self, r: &StreamRecord, stream: &StreamDef, arn: &str, out: &mut Vec<u8>) {
        use std::sync::atomic::Ordering;
        if is_boom(r)
            && self
                .panics
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
        {
            panic!("the codec cannot render this record");
        }
        Codec.write_record(r, stream, arn, out);
    }
}

struct Setup {
    engine: Engine,
    executor: Executor,
    functions: Arc<FunctionStore>,
    tables: Arc<RecordingTables>,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(dir.path().join("data"));
    config.in_memory = true;
    let engine = Engine::open(config).unwrap();
    let executor = Executor::new(ExecutorConfig {
        instances_max: 8,
        memory_mb_max: 128,
        ..ExecutorConfig::default()
    })
    .unwrap();
    let functions = Arc::new(FunctionStore::open(dir.path().join("functions"), &executor).unwrap());
    Setup {
        engine,
        executor,
        functions,
        tables: RecordingTables::new(),
        _dir: dir,
    }
}

impl Setup {
    fn runtime(&self) -> TriggerRuntime {
        self.runtime_with(Arc::new(Codec))
    }

    fn runtime_with(&self, codec: Arc<dyn EventCodec>) -> TriggerRuntime {
        let tables: Arc<dyn TableApi> = self.tables.clone();
        TriggerRuntime::start(RuntimeDeps {
            engine: self.engine.clone(),
            executor: self.executor.clone(),
            functions: Arc::clone(&self.functions),
            tables,
            codec,
            streams_api: None,
        })
        .unwrap()
    }

    fn table(&self, name: &str, stream: bool) {
        self.engine
            .create_table(CreateTableInput {
                name: name.into(),
                attribute_definitions: vec![KeyAttribute {
                    name: "id".into(),
                    key_type: KeyType::S,
                }],
                key_schema: vec![("id".into(), KeyRole::Hash)],
                billing_mode: Some(BillingMode::PayPerRequest),
                stream: stream.then_some(StreamSpecification {
                    enabled: true,
                    view_type: Some(StreamViewType::NewAndOldImages),
                }),
                ..Default::default()
            })
            .unwrap();
    }

    fn deploy(&self, name: &str, guest_name: &str, env: &[(&str, &str)]) {
        let config = FunctionConfig {
            environment: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            tables: BTreeSet::from(["seen".to_string()]),
            ..FunctionConfig::default()
        };
        self.functions
            .deploy(name, &guest(guest_name), config)
            .unwrap();
    }

    fn put(&self, table: &str, id: &str, attrs: &[(&str, AttributeValue)]) {
        let mut item = Item::from([("id".to_string(), AttributeValue::S(id.into()))]);
        for (k, v) in attrs {
            item.insert(k.to_string(), v.clone());
        }
        let (tx, rx) = std::sync::mpsc::channel();
        self.engine.put_item(
            PutItemInput {
                table: table.into(),
                item,
                ..Default::default()
            },
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv().unwrap().unwrap();
    }

    fn delete(&self, table: &str, id: &str) {
        let (tx, rx) = std::sync::mpsc::channel();
        self.engine.delete_item(
            DeleteItemInput {
                table: table.into(),
                key: Item::from([("id".to_string(), AttributeValue::S(id.into()))]),
                ..Default::default()
            },
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv().unwrap().unwrap();
    }

    /// The records the recorder guest wrote, in call order: (eventName, id of the item,
    /// sequence number).
    fn recorded(&self) -> Vec<(String, String, String)> {
        self.tables
            .calls()
            .into_iter()
            .filter(|(op, _)| op == "PutItem")
            .map(|(_, req)| {
                let item = &req["Item"];
                (
                    item["eventName"]["S"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    item["keys"]["M"]["id"]["S"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    item["sequenceNumber"]["S"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect()
    }

    fn scan(&self, table: &str) -> Vec<Item> {
        self.engine
            .scan(&ScanInput {
                table: table.into(),
                ..Default::default()
            })
            .unwrap()
            .decoded_items()
            .unwrap()
    }
}

fn request(v: Value) -> MappingRequest {
    serde_json::from_value(v).expect("mapping request")
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_millis(WAIT_MS_MAX);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(Number::from_i64(v))
}

#[test]
fn records_arrive_once_in_order_and_resume_from_the_checkpoint_after_a_restart() {
    let s = setup();
    s.table("users", true);
    s.deploy("recorder", "recorder", &[("table", "seen")]);
    // Written before the trigger exists: TRIM_HORIZON delivers them too.
    for i in 0..10 {
        s.put("users", &format!("u{i}"), &[("v", n(0))]);
    }
    let rt = s.runtime();
    let view = rt
        .create(&request(json!({
            "FunctionName": "recorder",
            "TableName": "users",
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 7,
        })))
        .unwrap();
    let id = view.uuid.clone();
    for i in 0..10 {
        s.put("users", &format!("u{i}"), &[("v", n(1))]);
    }
    for i in 0..5 {
        s.delete("users", &format!("u{i}"));
    }
    wait_until("25 records", || s.recorded().len() >= 25);
    let got = s.recorded();
    assert_eq!(got.len(), 25, "exactly once without failures: {got:?}");
    let mut per_item: HashMap<String, Vec<String>> = HashMap::new();
    for (event, item, seq) in &got {
        per_item
            .entry(item.clone())
            .or_default()
            .push(event.clone());
        let _ = seq;
    }
    for i in 0..10 {
        let events = &per_item[&format!("u{i}")];
        let want: Vec<&str> = if i < 5 {
            vec!["INSERT", "MODIFY", "REMOVE"]
        } else {
            vec!["INSERT", "MODIFY"]
        };
        assert_eq!(events, &want, "per-item order of u{i}");
    }
    let metrics = json!(rt.get(&id).unwrap())["Metrics"].clone();
    assert!(metrics["Invocations"].as_u64().unwrap() >= 4, "{metrics}");

    // Restart the runtime: nothing is delivered twice, what comes next is delivered.
    rt.shutdown();
    let rt = s.runtime();
    s.put("users", "after-restart", &[]);
    wait_until("the record written after the restart", || {
        s.recorded().len() >= 26
    });
    std::thread::sleep(Duration::from_millis(300));
    let got = s.recorded();
    assert_eq!(
        got.len(),
        26,
        "resumed from the checkpoint: {:?}",
        &got[25..]
    );
    assert_eq!(got[25].1, "after-restart");
    rt.shutdown();
}

#[test]
fn latest_starts_after_existing_records_and_filters_drop_what_does_not_match() {
    let s = setup();
    s.table("users", true);
    s.deploy("recorder", "recorder", &[("table", "seen")]);
    s.put("users", "old", &[]);
    let rt = s.runtime();
    let view = rt
        .create(&request(json!({
            "FunctionName": "recorder",
            "TableName": "users",
            "StartingPosition": "LATEST",
            "FilterCriteria": {"Filters": [
                {"Pattern": "{\"dynamodb\": {\"NewImage\": {\"status\": {\"S\": [\"paid\"]}}}}"}
            ]},
        })))
        .unwrap();
    let id = view.uuid.clone();
    s.put(
        "users",
        "a",
        &[("status", AttributeValue::S("open".into()))],
    );
    s.put(
        "users",
        "b",
        &[("status", AttributeValue::S("paid".into()))],
    );
    s.put(
        "users",
        "c",
        &[("status", AttributeValue::S("open".into()))],
    );
    s.put(
        "users",
        "d",
        &[("status", AttributeValue::S("paid".into()))],
    );
    wait_until("two matching records", || s.recorded().len() >= 2);
    wait_until("filtered-out count", || {
        json!(rt.get(&id).unwrap())["Metrics"]["FilteredOut"].as_u64() == Some(2)
    });
    let ids: Vec<String> = s.recorded().into_iter().map(|r| r.1).collect();
    assert_eq!(
        ids,
        vec!["b", "d"],
        "LATEST skips 'old'; the filter drops a and c"
    );
    rt.shutdown();
}

#[test]
fn partial_failures_retry_from_the_lowest_failed_record_then_go_to_the_failure_destination() {
    let s = setup();
    s.table("orders", true);
    s.table("failures", false);
    s.deploy("fail-on", "fail_on", &[]);
    let rt = s.runtime();
    let view = rt
        .create(&request(json!({
            "FunctionName": "fail-on",
            "TableName": "orders",
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 10,
            "MaximumBatchingWindowInSeconds": 1,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnFailure": {"Destination": "failures"}},
        })))
        .unwrap();
    let id = view.uuid.clone();
    // One partition key per record would spread them over shards; the batching window
    // lets each shard's records gather into one batch.
    for i in 0..8 {
        s.put(
            "orders",
            &format!("o{i}"),
            &[("fail", AttributeValue::Bool(i == 5))],
        );
    }
    wait_until("a failure record", || !s.scan("failures").is_empty());
    let failures = s.scan("failures");
    assert_eq!(failures.len(), 1, "one failed batch: {failures:?}");
    let f = &failures[0];
    assert_eq!(
        f["condition"],
        AttributeValue::S("RetryAttemptsExhausted".into())
    );
    let AttributeValue::S(records) = &f["eddyRecords"] else {
        panic!("records")
    };
    let records: Value = serde_json::from_str(records).unwrap();
    let first = &records[0]["dynamodb"]["NewImage"]["id"]["S"];
    assert_eq!(
        first, "o5",
        "the batch resumes at the failed record: {records}"
    );
    // The metric is counted just after the failure record is written.
    let metrics = || json!(rt.get(&id).unwrap())["Metrics"].clone();
    wait_until("the failure destination's metric", || {
        metrics()["SentToFailureDestination"].as_u64() >= Some(1)
    });
    let m = metrics();
    assert!(m["Retries"].as_u64().unwrap() >= 2, "{m}");
    rt.shutdown();
}

#[test]
fn bisecting_isolates_a_failing_batch_down_to_single_records() {
    let s = setup();
    s.table("orders", true);
    s.table("failures", false);
    s.deploy("always-fails", "fail_on", &[("mode", "error")]);
    let rt = s.runtime();
    let view = rt
        .create(&request(json!({
            "FunctionName": "always-fails",
            "TableName": "orders",
            "StartingPosition": "TRIM_HORIZON",
            "BisectBatchOnFunctionError": true,
            "MaximumRetryAttempts": 0,
            "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:dynamodb:us-east-1:000000000000:table/failures"}},
        })))
        .unwrap();
    let id = view.uuid.clone();
    for i in 0..6 {
        s.put("orders", &format!("o{i}"), &[]);
    }
    wait_until("six single-record failures", || {
        s.scan("failures").len() >= 6
    });
    for f in s.scan("failures") {
        assert_eq!(f["batchSize"], n(1), "bisected down to one record");
    }
    // The metric is counted just after each failure record is written, so the last
    // one may still be on its way when the sixth record is seen.
    let metrics = || json!(rt.get(&id).unwrap())["Metrics"].clone();
    wait_until("the failure destination's metric", || {
        metrics()["SentToFailureDestination"].as_u64() >= Some(6)
    });
    let m = metrics();
    assert_eq!(m["SentToFailureDestination"].as_u64(), Some(6), "{m}");
    rt.shutdown();
}

#[test]
fn invalid_parameters_name_the_field() {
    let s = setup();
    s.table("users", true);
    s.deploy("recorder", "recorder", &[("table", "seen")]);
    let rt = s.runtime();
    let base =
        json!({"FunctionName": "recorder", "TableName": "users", "StartingPosition": "LATEST"});
    for (field, value) in [
        ("BatchSize", json!(0)),
        ("BatchSize", json!(10_001)),
        ("MaximumBatchingWindowInSeconds", json!(301)),
        ("ParallelizationFactor", json!(11)),
        ("MaximumRetryAttempts", json!(-2)),
        ("MaximumRecordAgeInSeconds", json!(30)),
        ("TumblingWindowInSeconds", json!(901)),
    ] {
        let mut r = base.clone();
        r[field] = value;
        let err = rt.create(&request(r)).unwrap_err().to_string();
        assert!(err.starts_with(field), "{field}: {err}");
    }
    let err = rt
        .create(&request(
            json!({"FunctionName": "recorder", "TableName": "users"}),
        ))
        .unwrap_err();
    assert!(err.to_string().starts_with("StartingPosition"), "{err}");
    let err = rt
        .create(&request(
            json!({"FunctionName": "nope", "TableName": "users", "StartingPosition": "LATEST"}),
        ))
        .unwrap_err();
    assert!(err.to_string().contains("Function not found"), "{err}");
    // Lambda takes AT_TIMESTAMP only for Kinesis.
    let mut r = base.clone();
    r["StartingPosition"] = json!("AT_TIMESTAMP");
    r["StartingPositionTimestamp"] = json!(1_700_000_000);
    let err = rt.create(&request(r)).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "StartingPosition: Unsupported starting position for arn type: arn:aws:dynamodb:"
        ),
        "{err}"
    );
    // A failure destination Eddy cannot write to is refused when the mapping is saved.
    for (destination, why) in [
        (
            "arn:aws:sns:us-east-1:000000000000:topic",
            "a DynamoDB table",
        ),
        ("missing", "table missing does not exist"),
    ] {
        let mut r = base.clone();
        r["DestinationConfig"] = json!({"OnFailure": {"Destination": destination}});
        let err = rt.create(&request(r)).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "DestinationConfig: The destination ARN {destination} is invalid"
            )) && err.contains(why),
            "{err}"
        );
    }
    assert!(rt.is_empty(), "nothing refused was saved");
    assert!(serde_json::from_value::<MappingRequest>(json!({"BatchSiz": 5})).is_err());
    rt.shutdown();
}

#[test]
fn tumbling_windows_carry_state_and_end_with_a_final_invocation() {
    let s = setup();
    s.table("clicks", true);
    s.deploy("counter", "window_counter", &[("table", "seen")]);
    let rt = s.runtime();
    let view = rt
        .create(&request(json!({
            "FunctionName": "counter",
            "TableName": "clicks",
            "StartingPosition": "TRIM_HORIZON",
            "TumblingWindowInSeconds": 1,
            "BatchSize": 2,
        })))
        .unwrap();
    assert_eq!(view.tumbling_window_in_seconds, 1);
    for i in 0..7 {
        s.put("clicks", &format!("c{i}"), &[]);
    }
    // Each shard's window ends with one final invocation that writes its count.
    let totals = || -> u64 {
        s.tables
            .calls()
            .iter()
            .filter(|(op, _)| op == "PutItem")
            .map(|(_, req)| {
                req["Item"]["count"]["N"]
                    .as_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
            })
            .sum()
    };
    wait_until("the windows' final counts", || totals() >= 7);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        totals(),
        7,
        "every record counted once, in its window's final state"
    );
    for (_, req) in s.tables.calls().iter().filter(|(op, _)| op == "PutItem") {
        let start = req["Item"]["id"]["S"].as_str().unwrap();
        assert!(
            start.ends_with(".000Z"),
            "a window starts on a second boundary: {start}"
        );
    }
    let err = rt
        .create(&request(json!({
            "FunctionName": "counter", "TableName": "clicks", "StartingPosition": "LATEST",
            "TumblingWindowInSeconds": 5, "ParallelizationFactor": 2,
        })))
        .unwrap_err();
    assert!(
        err.to_string().starts_with("TumblingWindowInSeconds"),
        "{err}"
    );
    rt.shutdown();
}

#[test]
fn a_panic_while_delivering_a_batch_is_that_batchs_failure_and_the_consumer_goes_on() {
    let s = setup();
    s.table("users", true);
    s.table("failures", false);
    s.deploy("recorder", "recorder", &[("table", "seen")]);
    // The first attempt and its one retry fail; the failure destination's rendering
    // works.
    let rt = s.runtime_with(Arc::new(PanickyCodec::new(2)));
    let view = rt
        .create(&request(json!({
            "FunctionName": "recorder",
            "TableName": "users",
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 1,
            "MaximumRetryAttempts": 1,
            "DestinationConfig": {"OnFailure": {"Destination": "failures"}},
        })))
        .unwrap();
    let id = view.uuid.clone();
    // One shard, one consumer: `c` comes after `boom` on the same thread.
    for item in ["a", "boom", "c"] {
        s.put("users", item, &[]);
    }
    wait_until("a and c delivered, boom given up", || {
        s.recorded().len() >= 2 && !s.scan("failures").is_empty()
    });
    let ids: Vec<String> = s.recorded().into_iter().map(|r| r.1).collect();
    assert_eq!(
        ids,
        ["a", "c"],
        "the consumer went on past the failed batch"
    );
    let failures = s.scan("failures");
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(
        failures[0]["condition"],
        AttributeValue::S("RetryAttemptsExhausted".into())
    );
    let AttributeValue::S(records) = &failures[0]["eddyRecords"] else {
        panic!("records")
    };
    assert!(records.contains("boom"), "{records}");
    let m = json!(rt.get(&id).unwrap())["Metrics"].clone();
    assert_eq!(m["Errors"], 2, "the first attempt and its one retry: {m}");
    assert_eq!(m["SentToFailureDestination"], 1, "{m}");
    // Still consuming.
    s.put("users", "d", &[]);
    wait_until("d delivered", || s.recorded().len() >= 3);
    rt.shutdown();
}

#[test]
fn a_panic_while_filtering_a_batch_is_retried_then_the_batch_is_dropped_and_the_consumer_goes_on() {
    let s = setup();
    s.table("users", true);
    s.deploy("recorder", "recorder", &[("table", "seen")]);
    let rt = s.runtime_with(Arc::new(PanickyCodec::new(u32::MAX)));
    let view = rt
        .create(&request(json!({
            "FunctionName": "recorder",
            "TableName": "users",
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 1,
            "MaximumRetryAttempts": 2,
            "FilterCriteria": {"Filters": [{"Pattern": "{\"eventName\": [\"INSERT\"]}"}]},
        })))
        .unwrap();
    let id = view.uuid.clone();
    for item in ["a", "boom", "c"] {
        s.put("users", item, &[]);
    }
    wait_until("a and c delivered", || s.recorded().len() >= 2);
    let ids: Vec<String> = s.recorded().into_iter().map(|r| r.1).collect();
    assert_eq!(
        ids,
        ["a", "c"],
        "the consumer went on past the failed batch"
    );
    let m = json!(rt.get(&id).unwrap())["Metrics"].clone();
    assert_eq!(m["Errors"], 3, "the first attempt and its two retries: {m}");
    assert_eq!(m["Retries"], 2, "{m}");
    assert_eq!(
        m["Dropped"], 1,
        "no failure destination: dropped, as Lambda does: {m}"
    );
    let shown = json!(rt.get(&id).unwrap());
    assert_eq!(shown["State"], "Enabled", "{shown}");
    rt.shutdown();
}

#[test]
fn triggers_beyond_the_quota_are_refused_until_one_is_deleted() {
    let s = setup();
    s.table("users", true);
    s.deploy("recorder", "recorder", &[("table", "seen")]);
    let rt = s.runtime();
    // Disabled triggers keep their consumers idle.
    let req = request(json!({
        "FunctionName": "recorder",
        "TableName": "users",
        "StartingPosition": "LATEST",
        "Enabled": false,
    }));
    let ids: Vec<String> = (0..TRIGGERS_MAX)
        .map(|_| rt.create(&req).unwrap().uuid)
        .collect();
    match rt.create(&req) {
        Err(TriggerError::LimitExceeded(message)) => {
            assert!(message.contains(&TRIGGERS_MAX.to_string()), "{message}")
        }
        other => panic!("expected the quota error: {other:?}"),
    }
    assert_eq!(rt.list().len(), TRIGGERS_MAX);
    rt.delete(&ids[0]).unwrap();
    rt.create(&req).expect("room for one again");
    rt.shutdown();
}
