//! Stream-trigger benchmarks inside one process (not a test), with the real engine
//! (fsync on), the real executor and the release-built test guests:
//!
//! 1. write → handler latency: items are written at a steady rate to a stream-enabled
//!    table; the `recorder` guest calls the DynamoDB capability for every record it
//!    receives, and the host notes when each call arrives. Reported: p50/p99 from the
//!    write's submission to the handler holding the record.
//! 2. drain: N records are written first, then a trigger with the `noop` guest and
//!    BatchSize 100 starts from TRIM_HORIZON; reported: records/s until all are
//!    delivered.
//!
//! ```sh
//! cargo build --release --target wasm32-wasip2 --manifest-path functions/Cargo.toml
//! cargo run --release -p eddy-triggers --example trigger_bench -- [--rate 1000] [--writes 3000] [--drain 200000]
//! ```

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eddy_engine::{
    AttributeValue, BatchWriteRequest, BillingMode, CreateTableInput, Engine, EngineConfig, Item,
    KeyAttribute, KeyRole, KeyType, PutItemInput, StreamDef, StreamRecord, StreamSpecification,
    StreamViewType,
};
use eddy_triggers::stream::{EventCodec, MappingRequest, RuntimeDeps, TriggerRuntime};
use eddy_triggers::{
    Executor, ExecutorConfig, FunctionConfig, FunctionStore, TableApi, TableCall, TableCallError,
};
use serde_json::{Value, json};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn guest(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("EDDY_TEST_GUESTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../functions/target/wasm32-wasip2/release")
        });
    std::fs::read(dir.join(format!("{name}.wasm")))
        .expect("build the guests first: cargo build --release --target wasm32-wasip2 --manifest-path functions/Cargo.toml")
}

/// A compact DynamoDB-JSON codec (the server's lives in `src/streams.rs`).
struct Codec;

fn av(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n.to_string() }),
        other => json!({ "S": format!("{other:?}") }),
    }
}

fn item_json(i: &Item) -> Value {
    Value::Object(i.iter().map(|(k, v)| (k.clone(), av(v))).collect())
}

impl Codec {
    fn record(&self, r: &StreamRecord, arn: &str) -> Value {
        let mut d = json!({
            "Keys": item_json(&r.keys),
            "SequenceNumber": eddy_engine::format_sequence_number(r.seq),
            "SizeBytes": r.size_bytes,
            "StreamViewType": r.view_type.as_str(),
        });
        if let Some(n) = &r.new_image {
            d["NewImage"] = item_json(n);
        }
        json!({ "eventID": format!("{:x}", r.seq), "eventName": r.event_name.as_str(), "eventVersion": "1.1",
                "eventSource": "aws:dynamodb", "awsRegion": "us-east-1", "eventSourceARN": arn, "dynamodb": d })
    }
}

impl EventCodec for Codec {
    fn write_record(&self, r: &StreamRecord, _stream: &StreamDef, arn: &str, out: &mut Vec<u8>) {
        let _ = serde_json::to_writer(out, &self.record(r, arn));
    }
}

/// Notes when the handler's DynamoDB call for each item arrives.
#[derive(Default)]
struct Arrivals {
    at: Mutex<HashMap<String, Instant>>,
}

impl TableApi for Arrivals {
    fn call(&self, call: TableCall<'_>) -> Result<String, TableCallError> {
        let (op, req) = (call.operation, call.request_json);
        if op == "PutItem" {
            let v: Value = serde_json::from_str(req).unwrap_or_default();
            if let Some(id) = v["Item"]["keys"]["M"]["pk"]["S"].as_str() {
                self.at
                    .lock()
                    .unwrap()
                    .insert(id.to_string(), Instant::now());
            }
            return Ok("{}".into());
        }
        // The recorder reads its write back.
        Ok(json!({ "Item": {"id": {"S": "x"}} }).to_string())
    }
}

fn table(engine: &Engine, name: &str) {
    engine
        .create_table(CreateTableInput {
            name: name.into(),
            attribute_definitions: vec![KeyAttribute {
                name: "pk".into(),
                key_type: KeyType::S,
            }],
            key_schema: vec![("pk".into(), KeyRole::Hash)],
            billing_mode: Some(BillingMode::PayPerRequest),
            stream: Some(StreamSpecification {
                enabled: true,
                view_type: Some(StreamViewType::NewAndOldImages),
            }),
            ..Default::default()
        })
        .expect("table");
}

fn pct(sorted: &[u128], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or(0) as f64
        / 1000.0
}

fn main() {
    let rate = arg("--rate", 1000).max(1);
    let writes = arg("--writes", 3000);
    let drain = arg("--drain", 200_000);
    let dir = std::env::temp_dir().join(format!("eddy-trigger-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let engine = Engine::open(EngineConfig::new(dir.join("data"))).expect("engine");
    let executor = Executor::new(ExecutorConfig::default()).expect("executor");
    let functions = Arc::new(FunctionStore::open(dir.join("functions"), &executor).expect("store"));
    let arrivals = Arc::new(Arrivals::default());
    let tables: Arc<dyn TableApi> = arrivals.clone();
    let rt = TriggerRuntime::start(RuntimeDeps {
        engine: engine.clone(),
        executor: executor.clone(),
        functions: Arc::clone(&functions),
        tables,
        codec: Arc::new(Codec),
        streams_api: None,
    })
    .expect("runtime");

    // 1. Latency.
    table(&engine, "latency");
    let config = FunctionConfig {
        environment: [("table".to_string(), "seen".to_string())].into(),
        tables: BTreeSet::from(["seen".to_string()]),
        ..FunctionConfig::default()
    };
    functions
        .deploy("recorder", &guest("recorder"), config)
        .expect("deploy recorder");
    let req: MappingRequest = serde_json::from_value(json!({
        "FunctionName": "recorder", "TableName": "latency", "StartingPosition": "LATEST", "BatchSize": 100,
    }))
    .unwrap();
    rt.create(&req).expect("trigger");
    let interval = Duration::from_nanos(1_000_000_000 / rate);
    let mut submitted = HashMap::new();
    let start = Instant::now();
    for i in 0..writes {
        let due = start + interval * (i as u32);
        if let Some(w) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(w);
        }
        let id = format!("item-{i}");
        submitted.insert(id.clone(), Instant::now());
        let item = Item::from([
            ("pk".to_string(), AttributeValue::S(id)),
            ("data".to_string(), AttributeValue::S("x".repeat(100))),
        ]);
        engine.put_item(
            PutItemInput {
                table: "latency".into(),
                item,
                ..Default::default()
            },
            Box::new(|r| {
                r.expect("put");
            }),
        );
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while arrivals.at.lock().unwrap().len() < writes as usize && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let at = arrivals.at.lock().unwrap().clone();
    let mut lat: Vec<u128> = submitted
        .iter()
        .filter_map(|(id, s)| at.get(id).map(|a| a.duration_since(*s).as_micros()))
        .collect();
    lat.sort_unstable();
    println!(
        "write -> handler latency at {rate} writes/s ({} of {writes} delivered): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat.len(),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 1.0)
    );

    // 2. Drain with a no-op handler.
    table(&engine, "drain");
    functions
        .deploy("noop", &guest("noop"), FunctionConfig::default())
        .expect("deploy noop");
    let mut n = 0u64;
    while n < drain {
        let batch: Vec<BatchWriteRequest> = (0..25)
            .map(|j| {
                BatchWriteRequest::Put(Item::from([
                    ("pk".to_string(), AttributeValue::S(format!("d{}", n + j))),
                    ("data".to_string(), AttributeValue::S("x".repeat(100))),
                ]))
            })
            .collect();
        n += 25;
        let (tx, rx) = std::sync::mpsc::channel();
        engine.batch_write_item(
            vec![("drain".into(), batch)],
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv().unwrap().expect("batch");
    }
    let req: MappingRequest = serde_json::from_value(json!({
        "FunctionName": "noop", "TableName": "drain", "StartingPosition": "TRIM_HORIZON", "BatchSize": 100,
    }))
    .unwrap();
    let t0 = Instant::now();
    let view = rt.create(&req).expect("trigger");
    let id = view.uuid.clone();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let delivered = json!(rt.get(&id).unwrap())["Metrics"]["RecordsDelivered"]
            .as_u64()
            .unwrap_or(0);
        if delivered >= n || Instant::now() > deadline {
            let el = t0.elapsed().as_secs_f64();
            println!(
                "no-op drain, BatchSize 100: {delivered} records in {:.2} s = {:.0} records/s",
                el,
                delivered as f64 / el
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    rt.shutdown();
    engine.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
