//! Stream benchmarks inside one process (not a test):
//!
//! 1. write → reader wake-up: a reader thread blocks in `Engine::wait_for_records`
//!    while a writer puts items at a steady rate; it reports the time from the write's
//!    submission (and from its acknowledgement) to the reader holding the record.
//! 2. shard drain: `Engine::read_shard` over a shard of N records, in pages of 1,000.
//!
//! ```sh
//! cargo run --release -p eddy-engine --example stream_bench -- [--dir DIR] [--writes 2000] [--rate 1000] [--drain 200000]
//! ```
//! The data directory defaults to a temporary one under `target/`; fsync is on
//! (`Durability::Sync`), as in production.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eddy_engine::{
    AttributeValue, BatchWriteRequest, CreateTableInput, Engine, EngineConfig, Item, KeyAttribute,
    KeyRole, KeyType, PutItemInput, StreamSpecification, StreamViewType,
};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[u128], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64
}

fn table(engine: &Engine, name: &str) {
    engine
        .create_table(CreateTableInput {
            name: name.into(),
            attribute_definitions: vec![
                KeyAttribute {
                    name: "pk".into(),
                    key_type: KeyType::S,
                },
                KeyAttribute {
                    name: "sk".into(),
                    key_type: KeyType::N,
                },
            ],
            key_schema: vec![("pk".into(), KeyRole::Hash), ("sk".into(), KeyRole::Range)],
            billing_mode: Some(eddy_engine::BillingMode::PayPerRequest),
            stream: Some(StreamSpecification {
                enabled: true,
                view_type: Some(StreamViewType::NewAndOldImages),
            }),
            ..Default::default()
        })
        .expect("create table");
}

fn item(pk: &str, sk: u64) -> Item {
    Item::from([
        ("pk".to_string(), AttributeValue::S(pk.into())),
        (
            "sk".to_string(),
            AttributeValue::N(eddy_engine::Number::from_i64(sk as i64)),
        ),
        ("data".to_string(), AttributeValue::S("x".repeat(150))),
    ])
}

fn main() {
    let writes = arg("--writes", 2000);
    let rate = arg("--rate", 1000).max(1);
    let drain = arg("--drain", 200_000);
    let dir = std::env::args()
        .skip_while(|a| a != "--dir")
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("eddy-stream-bench-{}", std::process::id()))
        });
    let _ = std::fs::remove_dir_all(&dir);
    let engine = Engine::open(EngineConfig::new(&dir)).expect("open");

    // 1. Wake-up latency: one partition, so one shard and one reader.
    table(&engine, "wake");
    let stream = engine.list_streams(Some("wake")).pop().expect("stream");
    let shard = {
        // Find the shard of partition "p" by writing one record.
        let (tx, rx) = mpsc::channel();
        engine.put_item(
            PutItemInput {
                table: "wake".into(),
                item: item("p", 0),
                ..Default::default()
            },
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv().unwrap().unwrap();
        (0..stream.shards)
            .find(|s| engine.shard_head(&stream, *s) > stream.start_seq)
            .expect("the shard that got the record")
    };
    // Per write: when it was submitted and when it was acknowledged.
    type Timings = Arc<Mutex<Vec<(Instant, Option<Instant>)>>>;
    let submitted: Timings = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let engine = engine.clone();
        let stream = Arc::clone(&stream);
        std::thread::spawn(move || {
            let mut next = engine.shard_head(&stream, shard) + 1;
            let mut woke = Vec::with_capacity(writes as usize);
            while (woke.len() as u64) < writes {
                if !engine.wait_for_records(&stream, shard, next, Duration::from_secs(5)) {
                    break;
                }
                let read = engine
                    .read_shard(&stream, shard, next, 1000, usize::MAX)
                    .expect("read");
                let now = Instant::now();
                for _ in &read.records {
                    woke.push(now);
                }
                next = read.next_seq;
            }
            woke
        })
    };
    let interval = Duration::from_nanos(1_000_000_000 / rate);
    let start = Instant::now();
    for i in 0..writes {
        let due = start + interval * (i as u32);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let slot = {
            let mut s = submitted.lock().unwrap();
            s.push((Instant::now(), None));
            s.len() - 1
        };
        let acked = Arc::clone(&submitted);
        engine.put_item(
            PutItemInput {
                table: "wake".into(),
                item: item("p", i + 1),
                ..Default::default()
            },
            Box::new(move |r| {
                r.expect("put");
                acked.lock().unwrap()[slot].1 = Some(Instant::now());
            }),
        );
    }
    let woke = reader.join().expect("reader");
    let submitted = submitted.lock().unwrap().clone();
    let mut from_submit: Vec<u128> = Vec::new();
    let mut from_ack: Vec<u128> = Vec::new();
    for (w, (s, a)) in woke.iter().zip(submitted.iter()) {
        from_submit.push(w.duration_since(*s).as_micros());
        if let Some(a) = a {
            from_ack.push(w.saturating_duration_since(*a).as_micros());
        }
    }
    from_submit.sort_unstable();
    from_ack.sort_unstable();
    println!(
        "write -> reader wake-up at {rate} writes/s, {} writes, fsync on:",
        woke.len()
    );
    println!(
        "  from write submission: p50 {:.0} us, p99 {:.0} us",
        percentile(&from_submit, 0.5),
        percentile(&from_submit, 0.99)
    );
    println!(
        "  from write acknowledgement (commit durable): p50 {:.0} us, p99 {:.0} us",
        percentile(&from_ack, 0.5),
        percentile(&from_ack, 0.99)
    );

    // 2. Drain one shard.
    table(&engine, "drain");
    let stream = engine.list_streams(Some("drain")).pop().expect("stream");
    let mut sk = 0u64;
    while sk < drain {
        let batch: Vec<BatchWriteRequest> = (0..25)
            .map(|j| BatchWriteRequest::Put(item("one-partition", sk + j)))
            .collect();
        sk += 25;
        let (tx, rx) = mpsc::channel();
        engine.batch_write_item(
            vec![("drain".into(), batch)],
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv().unwrap().unwrap();
    }
    let shard = (0..stream.shards)
        .find(|s| engine.shard_head(&stream, *s) > stream.start_seq)
        .expect("shard");
    let t0 = Instant::now();
    let mut pos = engine.trim_horizon(&stream, shard);
    let mut n = 0usize;
    loop {
        let read = engine
            .read_shard(&stream, shard, pos, 1000, 1024 * 1024)
            .expect("read");
        if read.records.is_empty() {
            break;
        }
        n += read.records.len();
        pos = read.next_seq;
    }
    let el = t0.elapsed();
    println!(
        "in-process shard drain: {n} records in {:.1} ms = {:.0} records/s",
        el.as_secs_f64() * 1e3,
        n as f64 / el.as_secs_f64()
    );
    engine.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
