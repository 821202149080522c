//! Executor overhead per batch: fresh `Store` + instantiate + call + drop of a no-op
//! handler on a 10-record DynamoDB-Streams event, p50/p99 over many invocations.
//!
//! ```sh
//! cargo build --release --target wasm32-wasip2 --manifest-path functions/Cargo.toml
//! cargo run --release -p eddy-triggers --example executor_bench [invocations]
//! ```
//!
//! The guest is `functions/target/wasm32-wasip2/release/noop.wasm` (or
//! `$EDDY_TEST_GUESTS_DIR/noop.wasm`). Target: p99 ≤ 50 µs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy_triggers::{
    Executor, ExecutorConfig, FunctionConfig, FunctionStore, TableApi, TableCall, TableCallError,
};

const INVOCATIONS_DEFAULT: usize = 20_000;
const WARMUP_INVOCATIONS: usize = 2_000;
const RECORDS_PER_BATCH: usize = 10;

struct NoTables;

impl TableApi for NoTables {
    fn call(&self, _call: TableCall<'_>) -> Result<String, TableCallError> {
        Err(TableCallError::new(
            "ResourceNotFoundException",
            "no tables",
        ))
    }
}

fn event(count: usize) -> String {
    let records: Vec<serde_json::Value> = (0..count)
        .map(|i| {
            serde_json::json!({
                "eventID": format!("event-{i}"),
                "eventName": "MODIFY",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/users/stream/2024-01-01T00:00:00.000",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_700_000_000.123,
                    "Keys": {"id": {"S": format!("user-{i}")}},
                    "NewImage": {"id": {"S": format!("user-{i}")}, "name": {"S": "Ada"}, "visits": {"N": "42"}},
                    "OldImage": {"id": {"S": format!("user-{i}")}, "name": {"S": "Ada"}, "visits": {"N": "41"}},
                    "SequenceNumber": format!("{:021}", 1_000 + i),
                    "SizeBytes": 120,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
            })
        })
        .collect();
    serde_json::json!({ "Records": records }).to_string()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let invocations: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => INVOCATIONS_DEFAULT,
    };
    let guests = std::env::var_os("EDDY_TEST_GUESTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../functions/target/wasm32-wasip2/release")
        });
    let wasm = std::fs::read(guests.join("noop.wasm")).map_err(|e| {
        format!(
            "{}: {e} (build the functions workspace first)",
            guests.display()
        )
    })?;

    let executor = Executor::new(ExecutorConfig::default())?;
    let dir = tempfile::tempdir()?;
    let store = FunctionStore::open(dir.path(), &executor)?;
    let started = Instant::now();
    let function = store.deploy("noop", &wasm, FunctionConfig::default())?;
    let deploy = started.elapsed();
    let tables: Arc<dyn TableApi> = Arc::new(NoTables);
    let event = event(RECORDS_PER_BATCH);

    for _ in 0..WARMUP_INVOCATIONS {
        executor.invoke(&function, &event, &tables).result?;
    }
    let mut samples = Vec::with_capacity(invocations);
    for _ in 0..invocations {
        let started = Instant::now();
        let invocation = executor.invoke(&function, &event, &tables);
        samples.push(started.elapsed());
        invocation.result?;
    }
    samples.sort_unstable();
    let total: Duration = samples.iter().sum();
    println!(
        "noop.wasm ({} bytes): deploy (compile + check + store) {:.1} ms",
        wasm.len(),
        deploy.as_secs_f64() * 1e3
    );
    println!(
        "executor overhead per batch ({RECORDS_PER_BATCH} records, {} bytes; fresh Store + \
         instantiate + call + drop), {invocations} invocations:",
        event.len()
    );
    for (label, p) in [
        ("p50", 0.50),
        ("p90", 0.90),
        ("p99", 0.99),
        ("p99.9", 0.999),
    ] {
        println!(
            "  {label:>5} {:>7.1} µs",
            percentile(&samples, p).as_secs_f64() * 1e6
        );
    }
    println!(
        "  mean  {:>7.1} µs, max {:.1} µs",
        total.as_secs_f64() * 1e6 / invocations as f64,
        samples.last().map_or(0.0, |d| d.as_secs_f64() * 1e6)
    );
    Ok(())
}
