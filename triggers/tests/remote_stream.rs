//! A trigger on a remote DynamoDB Streams endpoint, against a scripted endpoint (the
//! e2e test `remote_source` runs it against a second Eddy): the shard lineage is
//! followed in order, the function sees the remote eventIDs, 40-digit sequence numbers
//! and `eventSourceARN`, an expired iterator is renewed without a gap or a repeat, and
//! a restart of the runtime resumes from its checkpoint and the mirror's remote
//! position.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{RecordingTables, guest};
use eddy_engine::{
    AttributeValue, BillingMode, CreateTableInput, Engine, EngineConfig, KeyAttribute, KeyRole,
    KeyType, ScanInput,
};
use eddy_triggers::stream::{
    EventCodec, MappingRequest, RemoteError, RuntimeDeps, StreamsApi, TriggerRuntime,
};
use eddy_triggers::{Executor, ExecutorConfig, FunctionConfig, FunctionStore, TableApi};
use serde_json::{Value, json};

const WAIT_MS_MAX: u64 = 20_000;
const ARN: &str =
    "arn:aws:dynamodb:eu-west-1:111122223333:table/orders/stream/2026-01-01T00:00:00.000";

/// One scripted shard: its id, parent, records and whether it is closed.
struct Shard {
    id: &'static str,
    parent: Option<&'static str>,
    records: Vec<Value>,
    closed: bool,
}

/// A DynamoDB Streams endpoint in memory. Iterators are `<shard>|<index>`.
#[derive(Default)]
struct Remote {
    shards: Mutex<Vec<Shard>>,
    /// The next `GetRecords` with an iterator past the start answers
    /// `ExpiredIteratorException`, once.
    expire_next: Mutex<bool>,
    get_records: Mutex<u32>,
    /// Every endpoint called.
    endpoints: Mutex<Vec<String>>,
}

fn record(shard: &str, i: usize, key: &str) -> Value {
    json!({
        "eventID": format!("{shard}-event-{i}"),
        "eventName": if i.is_multiple_of(2) { "INSERT" } else { "MODIFY" },
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_780_000_000.0,
            "Keys": {"id": {"S": key}},
            // The `fail_on` guest reports a batch item failure for `fail = true`.
            "NewImage": {"id": {"S": key}, "fail": {"BOOL": key == "fail"}},
            // AWS's sequence numbers have up to 40 digits.
            "SequenceNumber": format!("{:040}", 1_000_000_000_000_000_000_000u128 + i as u128),
            "SizeBytes": 20,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    })
}

impl Remote {
    fn push(&self, shard: &str, key: &str) {
        let mut shards = self.shards.lock().unwrap();
        let s = shards.iter_mut().find(|s| s.id == shard).unwrap();
        let i = s.records.len();
        s.records.push(record(shard, i, key));
    }
}

fn error(code: &str) -> RemoteError {
    RemoteError {
        code: code.into(),
        message: "scripted".into(),
    }
}

impl StreamsApi for Remote {
    fn call(&self, endpoint: &str, operation: &str, body: &Value) -> Result<Value, RemoteError> {
        self.endpoints.lock().unwrap().push(endpoint.to_owned());
        let shards = self.shards.lock().unwrap();
        let index_of = |id: &str| shards.iter().position(|s| s.id == id);
        match operation {
            "DescribeStream" => {
                let list: Vec<Value> = shards
                    .iter()
                    .map(|s| json!({"ShardId": s.id, "ParentShardId": s.parent}))
                    .collect();
                Ok(json!({"StreamDescription": {"StreamArn": ARN, "Shards": list}}))
            }
            "GetShardIterator" => {
                let id = body["ShardId"].as_str().unwrap();
                let s = &shards[index_of(id).ok_or_else(|| error("ResourceNotFoundException"))?];
                let at = match body["ShardIteratorType"].as_str().unwrap() {
                    "TRIM_HORIZON" => 0,
                    "LATEST" => s.records.len(),
                    "AFTER_SEQUENCE_NUMBER" => {
                        let seq = body["SequenceNumber"].as_str().unwrap();
                        1 + s
                            .records
                            .iter()
                            .position(|r| r["dynamodb"]["SequenceNumber"] == seq)
                            .unwrap()
                    }
                    other => panic!("iterator type {other}"),
                };
                Ok(json!({"ShardIterator": format!("{id}|{at}")}))
            }
            "GetRecords" => {
                *self.get_records.lock().unwrap() += 1;
                let (id, at) = body["ShardIterator"]
                    .as_str()
                    .unwrap()
                    .split_once('|')
                    .unwrap();
                let at: usize = at.parse().unwrap();
                if at > 0 && std::mem::take(&mut *self.expire_next.lock().unwrap()) {
                    return Err(error("ExpiredIteratorException"));
                }
                let s = &shards[index_of(id).unwrap()];
                let limit = body["Limit"].as_u64().unwrap() as usize;
                let end = (at + limit).min(s.records.len());
                let next = if s.closed && end == s.records.len() {
                    Value::Null
                } else {
                    json!(format!("{id}|{end}"))
                };
                Ok(json!({"Records": s.records[at..end], "NextShardIterator": next}))
            }
            other => panic!("unexpected call {other}"),
        }
    }
}

struct NoCodec;

impl EventCodec for NoCodec {
    fn write_record(
        &self,
        _: &eddy_engine::StreamRecord,
        _: &eddy_engine::StreamDef,
        _: &str,
        _: &mut Vec<u8>,
    ) {
        unreachable!("a remote mapping's records are written by its mirror");
    }
}

struct Setup {
    engine: Engine,
    executor: Executor,
    functions: Arc<FunctionStore>,
    tables: Arc<RecordingTables>,
    remote: Arc<Remote>,
    _dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let mut config = EngineConfig::new(dir.path().join("data"));
        config.in_memory = true;
        let engine = Engine::open(config).unwrap();
        let executor = Executor::new(ExecutorConfig {
            instances_max: 4,
            memory_mb_max: 128,
            ..ExecutorConfig::default()
        })
        .unwrap();
        let functions =
            Arc::new(FunctionStore::open(dir.path().join("functions"), &executor).unwrap());
        let config = FunctionConfig {
            environment: [("table".to_string(), "seen".to_string())].into(),
            tables: ["seen".to_string()].into(),
            ..FunctionConfig::default()
        };
        functions
            .deploy("recorder", &guest("recorder"), config)
            .unwrap();
        functions
            .deploy("fail-on", &guest("fail_on"), FunctionConfig::default())
            .unwrap();
        Setup {
            engine,
            executor,
            functions,
            tables: RecordingTables::new(),
            remote: Arc::new(Remote::default()),
            _dir: dir,
        }
    }

    fn runtime(&self) -> TriggerRuntime {
        let tables: Arc<dyn TableApi> = self.tables.clone();
        TriggerRuntime::start(RuntimeDeps {
            engine: self.engine.clone(),
            executor: self.executor.clone(),
            functions: Arc::clone(&self.functions),
            tables,
            codec: Arc::new(NoCodec),
            streams_api: Some(self.remote.clone()),
        })
        .unwrap()
    }

    /// The recorder's writes in call order: (eventID, sequence number).
    fn recorded(&self) -> Vec<(String, String)> {
        self.tables
            .calls()
            .into_iter()
            .filter(|(op, _)| op == "PutItem")
            .map(|(_, req)| {
                let item = &req["Item"];
                let s = |v: &Value| v["S"].as_str().unwrap_or_default().to_owned();
                (s(&item["id"]), s(&item["sequenceNumber"]))
            })
            .collect()
    }

    fn wait_recorded(&self, count: usize) -> Vec<(String, String)> {
        let deadline = Instant::now() + Duration::from_millis(WAIT_MS_MAX);
        while self.recorded().len() < count {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {count} records: {:?}",
                self.recorded()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Anything more than `count` would be a repeat; give it a moment to show.
        std::thread::sleep(Duration::from_millis(600));
        self.recorded()
    }
}

#[test]
fn a_remote_stream_is_delivered_parents_first_with_its_own_ids_and_resumes_after_a_restart() {
    let s = Setup::new();
    *s.remote.shards.lock().unwrap() = vec![
        // Listed child first, as DescribeStream may: the parent is still read first.
        Shard {
            id: "shard-child",
            parent: Some("shard-parent"),
            records: Vec::new(),
            closed: false,
        },
        Shard {
            id: "shard-parent",
            parent: None,
            records: Vec::new(),
            closed: true,
        },
    ];
    for i in 0..25 {
        s.remote.push("shard-parent", &format!("k{}", i % 5));
    }
    for i in 0..10 {
        s.remote.push("shard-child", &format!("k{}", i % 5));
    }
    let rt = s.runtime();
    let request: MappingRequest = serde_json::from_value(json!({
        "FunctionName": "recorder",
        "EventSourceArn": ARN,
        "SourceEndpoint": "http://remote.test:8000/",
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": 4,
        // Only records carrying the remote stream's ARN pass: every record must.
        "FilterCriteria": {"Filters": [{"Pattern": format!("{{\"eventSourceARN\": [\"{ARN}\"]}}")}]},
    }))
    .unwrap();
    let view = rt.create(&request).unwrap();
    assert_eq!(view.event_source_arn, ARN);
    assert_eq!(
        view.source_endpoint.as_deref(),
        Some("http://remote.test:8000")
    );
    let id = view.uuid.clone();

    let got = s.wait_recorded(35);
    assert_eq!(got.len(), 35, "each record once: {got:?}");
    let ids: Vec<&str> = got.iter().map(|(id, _)| id.as_str()).collect();
    let want: Vec<String> = (0..25)
        .map(|i| format!("shard-parent-event-{i}"))
        .chain((0..10).map(|i| format!("shard-child-event-{i}")))
        .collect();
    assert_eq!(
        ids, want,
        "the parent's records, in order, before the child's"
    );
    assert_eq!(
        got[0].1,
        format!("{:040}", 1_000_000_000_000_000_000_000u128)
    );

    // An expired iterator is renewed after the last mirrored record.
    *s.remote.expire_next.lock().unwrap() = true;
    for i in 10..13 {
        s.remote.push("shard-child", &format!("k{i}"));
    }
    let got = s.wait_recorded(38);
    assert_eq!(got.len(), 38, "{:?}", &got[35..]);
    assert!(
        !*s.remote.expire_next.lock().unwrap(),
        "the expiry was exercised"
    );

    // A restart resumes from the checkpoint and the remote position: nothing again.
    rt.shutdown();
    for i in 13..16 {
        s.remote.push("shard-child", &format!("k{i}"));
    }
    let rt = s.runtime();
    let got = s.wait_recorded(41);
    assert_eq!(got.len(), 41, "resumed without a repeat: {:?}", &got[38..]);
    assert_eq!(got[40].0, "shard-child-event-15");
    let view = json!(rt.get(&id).unwrap());
    // Counters are this process's: the three records since the restart.
    assert_eq!(view["Metrics"]["RecordsDelivered"], 3, "{view}");
    assert_eq!(view["Metrics"]["FilteredOut"], 0, "{view}");
    rt.shutdown();
}

#[test]
fn a_stream_arn_of_another_region_without_an_endpoint_is_read_from_aws() {
    let s = Setup::new();
    *s.remote.shards.lock().unwrap() = vec![Shard {
        id: "shard-0",
        parent: None,
        records: Vec::new(),
        closed: false,
    }];
    let rt = s.runtime();
    let request: MappingRequest = serde_json::from_value(json!({
        "FunctionName": "recorder",
        "EventSourceArn": ARN,
        "StartingPosition": "LATEST",
    }))
    .unwrap();
    let view = rt.create(&request).unwrap();
    let aws = "https://streams.dynamodb.eu-west-1.amazonaws.com";
    assert_eq!(view.source_endpoint.as_deref(), Some(aws));
    let called = s.remote.endpoints.lock().unwrap().clone();
    assert!(
        !called.is_empty() && called.iter().all(|e| e == aws),
        "{called:?}"
    );
    // LATEST is where the stream was when the mapping was created: records written
    // while this server is down before anything was mirrored are still delivered.
    rt.shutdown();
    for i in 0..3 {
        s.remote.push("shard-0", &format!("k{i}"));
    }
    let rt = s.runtime();
    let got = s.wait_recorded(3);
    assert_eq!(got.len(), 3, "{got:?}");
    rt.shutdown();
}

#[test]
fn batch_item_failures_name_remote_sequence_numbers_and_failure_records_name_the_remote_shard() {
    let s = Setup::new();
    s.engine
        .create_table(CreateTableInput {
            name: "failures".into(),
            attribute_definitions: vec![KeyAttribute {
                name: "id".into(),
                key_type: KeyType::S,
            }],
            key_schema: vec![("id".into(), KeyRole::Hash)],
            billing_mode: Some(BillingMode::PayPerRequest),
            ..Default::default()
        })
        .unwrap();
    *s.remote.shards.lock().unwrap() = vec![Shard {
        id: "shard-remote-7",
        parent: None,
        records: Vec::new(),
        closed: false,
    }];
    for i in 0..8 {
        let key = if i == 5 {
            "fail".to_owned()
        } else {
            format!("k{i}")
        };
        s.remote.push("shard-remote-7", &key);
    }
    let rt = s.runtime();
    let request: MappingRequest = serde_json::from_value(json!({
        "FunctionName": "fail-on",
        "EventSourceArn": ARN,
        "SourceEndpoint": "http://remote.test:8000",
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": 10,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "MaximumRetryAttempts": 1,
        "DestinationConfig": {"OnFailure": {"Destination": "failures"}},
    }))
    .unwrap();
    let id = rt.create(&request).unwrap().uuid;
    let scan = || {
        s.engine
            .scan(&ScanInput {
                table: "failures".into(),
                ..Default::default()
            })
            .unwrap()
            .decoded_items()
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_millis(WAIT_MS_MAX);
    while scan().is_empty() {
        assert!(Instant::now() < deadline, "no failure record");
        std::thread::sleep(Duration::from_millis(20));
    }
    let failures = scan();
    assert_eq!(failures.len(), 1, "{failures:?}");
    let f = &failures[0];
    // The batch was retried from the failed record (its remote sequence number matched
    // the function's itemIdentifier), and the failure record names the remote shard.
    let seq5 = format!("{:040}", 1_000_000_000_000_000_000_005u128);
    assert_eq!(f["startSequenceNumber"], AttributeValue::S(seq5), "{f:?}");
    assert_eq!(
        f["shardId"],
        AttributeValue::S("shard-remote-7".into()),
        "{f:?}"
    );
    let view = json!(rt.get(&id).unwrap());
    assert!(view["Metrics"]["Retries"].as_u64() >= Some(1), "{view}");
    rt.shutdown();
}
