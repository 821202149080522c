//! Soak: the real binary under steady mixed load for minutes, with a trigger attached,
//! watching its memory. Not part of `cargo test` (the target has `test = false`); run it
//! as the README says:
//!
//! ```sh
//! cargo test --release --test soak -- --minutes 5
//! ```
//!
//! Load: PutItem, GetItem, Query, UpdateItem and DeleteItem at a steady rate from many
//! SDK clients over a key space that keeps growing, a fifth of the values 20–40 KB, on
//! a table whose NEW_AND_OLD_IMAGES stream feeds a test guest (`recorder` by default,
//! which writes every record it gets into a second table). Every 10 s it prints the
//! server's RSS (`VmRSS` of `/proc/<pid>/status`), the data directory's size, the
//! requests done and the trigger's progress.
//!
//! It fails if RSS ever exceeds the budget (`--budget-mib`, passed to the server as its
//! `--memory-budget-mib`; by default the server's default), if RSS keeps rising at the
//! end of the run (the median of its last quarter more than `--rise-percent` of the
//! budget above the median of the quarter before: a median, because RSS moves by tens
//! of MiB with every memtable flush and compaction, which a slope over a few minutes
//! mistakes for a trend), or if any request fails.

#[path = "../e2e/harness.rs"]
#[allow(
    dead_code,
    reason = "the harness is shared with tests/e2e, which uses all of it"
)]
mod harness;

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as Av, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, StreamSpecification, StreamViewType,
};

/// Minutes of load, unless `--minutes` or `EDDY_SOAK_MINUTES` say otherwise.
const MINUTES_DEFAULT: f64 = 15.0;
/// Requests per second, all clients together.
const RATE_PER_S_DEFAULT: u64 = 400;
const CLIENTS_DEFAULT: u64 = 32;
/// The memory budget the server runs with (`--memory-budget-mib`) and RSS is held to,
/// unless `--budget-mib` says otherwise: the server's own default.
const RSS_BUDGET_MIB_DEFAULT: u64 = eddy::budget::MEMORY_BUDGET_BYTES_DEFAULT / (1024 * 1024);
/// The last quarter's median RSS may exceed the third quarter's by this percent of the
/// budget at most; more is a leak or an unbounded buffer. (At the default budget that
/// is 51 MiB: a leak of 14 MiB/min shows in a 15-minute run, of 41 MiB/min in a
/// 5-minute one.)
const RISE_PERCENT_DEFAULT: f64 = 5.0;
const SAMPLE_EVERY_S: u64 = 10;
/// Percent of the values that are large, and their sizes.
const LARGE_VALUE_PERCENT: u64 = 20;
const LARGE_VALUE_BYTES_MIN: usize = 20 * 1024;
const LARGE_VALUE_BYTES_MAX: usize = 40 * 1024;
const SMALL_VALUE_BYTES_MAX: usize = 1_000;
/// Items per partition: Query reads one partition.
const ITEMS_PER_PARTITION: u64 = 10;
const TABLE: &str = "soak";
const SEEN_TABLE: &str = "soak_seen";
/// The server's memory budget flag.
const BUDGET_FLAG: &str = "--memory-budget-mib";

#[derive(Debug, Clone)]
struct Args {
    minutes: f64,
    rate_per_s: u64,
    clients: u64,
    budget_mib: Option<u64>,
    rise_percent: f64,
    guest: String,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        minutes: std::env::var("EDDY_SOAK_MINUTES")
            .ok()
            .and_then(|m| m.parse().ok())
            .unwrap_or(MINUTES_DEFAULT),
        rate_per_s: RATE_PER_S_DEFAULT,
        clients: CLIENTS_DEFAULT,
        budget_mib: None,
        rise_percent: RISE_PERCENT_DEFAULT,
        guest: "recorder".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--minutes" => a.minutes = value()?.parse().map_err(|e| format!("--minutes: {e}"))?,
            "--rate" => a.rate_per_s = value()?.parse().map_err(|e| format!("--rate: {e}"))?,
            "--clients" => a.clients = value()?.parse().map_err(|e| format!("--clients: {e}"))?,
            "--budget-mib" => {
                a.budget_mib = Some(value()?.parse().map_err(|e| format!("--budget-mib: {e}"))?)
            }
            "--rise-percent" => {
                a.rise_percent = value()?
                    .parse()
                    .map_err(|e| format!("--rise-percent: {e}"))?
            }
            "--guest" => a.guest = value()?,
            // libtest's flags, passed by `cargo test -- …`.
            "--nocapture" | "--quiet" | "-q" | "--show-output" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.clients == 0 || a.rate_per_s == 0 {
        return Err("--clients and --rate must be positive".into());
    }
    Ok(a)
}

/// One plain HTTP/1.1 request (the `/v1` API); returns the status and body.
fn http(
    endpoint: &str,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let addr = endpoint.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(body).expect("write");
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).expect("read");
    let text = String::from_utf8_lossy(&resp);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(Vec::new(), |i| resp[i + 4..].to_vec());
    (status, body)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn mib(bytes: f64) -> f64 {
    bytes / (1024.0 * 1024.0)
}

/// Counters of the load.
#[derive(Default)]
struct Load {
    requests: AtomicU64,
    errors: AtomicU64,
    /// The key space: items `0..next_key` have been written at least once.
    next_key: AtomicU64,
    first_errors: std::sync::Mutex<Vec<String>>,
}

/// A small, seedable generator (the load needs variety, not quality).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn key(i: u64) -> (Av, Av) {
    (
        Av::S(format!("p{}", i / ITEMS_PER_PARTITION)),
        Av::N((i % ITEMS_PER_PARTITION).to_string()),
    )
}

fn value(rng: &mut Rng) -> Av {
    let len = if rng.below(100) < LARGE_VALUE_PERCENT {
        LARGE_VALUE_BYTES_MIN
            + rng.below((LARGE_VALUE_BYTES_MAX - LARGE_VALUE_BYTES_MIN) as u64) as usize
    } else {
        1 + rng.below(SMALL_VALUE_BYTES_MAX as u64) as usize
    };
    let mut x = rng.next();
    Av::S(
        (0..len)
            .map(|i| {
                if i % 12 == 0 {
                    x = rng.next();
                }
                let c = char::from(b'a' + (x % 26) as u8);
                x /= 26;
                c
            })
            .collect(),
    )
}

/// One client: a request every `period`, the mix of the module documentation.
async fn client_loop(
    c: aws_sdk_dynamodb::Client,
    id: u64,
    period: Duration,
    load: Arc<Load>,
    stop: Arc<AtomicBool>,
) {
    let mut rng = Rng(id.wrapping_mul(0x1234_5678_9ABC_DEF1) ^ 0x5EED);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let known = load.next_key.load(Ordering::Relaxed);
        let roll = rng.below(100);
        let result: Result<(), String> = if roll < 35 || known == 0 {
            // PutItem: a new key half the time, so the key space keeps growing.
            let i = if rng.below(2) == 0 || known == 0 {
                load.next_key.fetch_add(1, Ordering::Relaxed)
            } else {
                rng.below(known)
            };
            let (pk, sk) = key(i);
            c.put_item()
                .table_name(TABLE)
                .item("pk", pk)
                .item("sk", sk)
                .item("v", value(&mut rng))
                .item("n", Av::N(i.to_string()))
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
        } else if roll < 65 {
            let (pk, sk) = key(rng.below(known));
            c.get_item()
                .table_name(TABLE)
                .key("pk", pk)
                .key("sk", sk)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
        } else if roll < 75 {
            let (pk, _) = key(rng.below(known));
            c.query()
                .table_name(TABLE)
                .key_condition_expression("pk = :p")
                .expression_attribute_values(":p", pk)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
        } else if roll < 90 {
            let (pk, sk) = key(rng.below(known));
            c.update_item()
                .table_name(TABLE)
                .key("pk", pk)
                .key("sk", sk)
                .update_expression("SET v = :v ADD u :one")
                .expression_attribute_values(":v", value(&mut rng))
                .expression_attribute_values(":one", Av::N("1".into()))
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
        } else {
            let (pk, sk) = key(rng.below(known));
            c.delete_item()
                .table_name(TABLE)
                .key("pk", pk)
                .key("sk", sk)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
        };
        load.requests.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = result {
            load.errors.fetch_add(1, Ordering::Relaxed);
            let mut first = load.first_errors.lock().unwrap_or_else(|p| p.into_inner());
            if first.len() < 5 {
                first.push(e);
            }
        }
    }
}

async fn create_tables(c: &aws_sdk_dynamodb::Client) {
    let def = |n: &str, t| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(t)
            .build()
            .expect("definition")
    };
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .expect("key")
    };
    c.create_table()
        .table_name(TABLE)
        .attribute_definitions(def("pk", ScalarAttributeType::S))
        .attribute_definitions(def("sk", ScalarAttributeType::N))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .expect("stream specification"),
        )
        .send()
        .await
        .expect("create the soak table");
    c.create_table()
        .table_name(SEEN_TABLE)
        .attribute_definitions(def("id", ScalarAttributeType::S))
        .key_schema(key("id", KeyType::Hash))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create the table the guest writes");
}

/// Deploys the guest and attaches it to the soak table's stream; returns the trigger id.
fn attach_guest(endpoint: &str, guest: &str) -> String {
    let dir = std::env::var("EDDY_TEST_GUESTS_DIR").unwrap_or_else(|_| {
        format!(
            "{}/functions/target/wasm32-wasip2/release",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    let path = Path::new(&dir).join(format!("{}.wasm", guest.replace('-', "_")));
    let wasm = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "read the guest {} ({e}); build the guests first (see tests/run.sh)",
            path.display()
        )
    });
    let (status, body) = http(
        endpoint,
        "PUT",
        &format!("/v1/functions/{guest}?table={SEEN_TABLE}&env=table={SEEN_TABLE}"),
        "application/wasm",
        &wasm,
    );
    assert!(
        status == 200 || status == 201,
        "deploy {guest}: {status} {}",
        String::from_utf8_lossy(&body)
    );
    let trigger = serde_json::json!({
        "FunctionName": guest,
        "TableName": TABLE,
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": 100,
    });
    let (status, body) = http(
        endpoint,
        "POST",
        "/v1/triggers",
        "application/json",
        trigger.to_string().as_bytes(),
    );
    assert_eq!(
        status,
        201,
        "create the trigger: {}",
        String::from_utf8_lossy(&body)
    );
    let v: serde_json::Value = serde_json::from_slice(&body).expect("trigger JSON");
    v["UUID"].as_str().expect("UUID").to_owned()
}

fn trigger_metrics(endpoint: &str, id: &str) -> serde_json::Value {
    let (_, body) = http(
        endpoint,
        "GET",
        &format!("/v1/triggers/{id}"),
        "application/json",
        b"",
    );
    serde_json::from_slice::<serde_json::Value>(&body)
        .map_or(serde_json::Value::Null, |v| v["Metrics"].clone())
}

/// The median of `values` (NaN for none).
fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// The least-squares slope of `points` (minutes, MiB), in MiB per minute.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| {
        (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
    });
    if den == 0.0 { 0.0 } else { num / den }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let budget_mib = args.budget_mib.unwrap_or(RSS_BUDGET_MIB_DEFAULT);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let budget = budget_mib.to_string();
    let mut server = harness::Server::start_in(dir.path(), &[BUDGET_FLAG, &budget]);
    let (endpoint, pid) = (server.endpoint.clone(), server.pid());
    println!(
        "soak: {} min at {} req/s from {} clients, guest {}, RSS budget {budget_mib} MiB (the server's --memory-budget-mib), last quarter at most {}% of it above the third; server pid {pid}",
        args.minutes, args.rate_per_s, args.clients, args.guest, args.rise_percent
    );
    let c = harness::client(&endpoint);
    create_tables(&c).await;
    let trigger = {
        let (endpoint, guest) = (endpoint.clone(), args.guest.clone());
        tokio::task::spawn_blocking(move || attach_guest(&endpoint, &guest))
            .await
            .expect("attach")
    };
    let load = Arc::new(Load::default());
    let stop = Arc::new(AtomicBool::new(false));
    let period = Duration::from_secs_f64(args.clients as f64 / args.rate_per_s as f64);
    let clients: Vec<_> = (0..args.clients)
        .map(|id| {
            tokio::spawn(client_loop(
                harness::client(&endpoint),
                id,
                period,
                load.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let started = Instant::now();
    let duration = Duration::from_secs_f64(args.minutes * 60.0);
    let mut samples: Vec<(f64, f64)> = Vec::new();
    let mut last_requests = 0;
    let mut exited = None;
    loop {
        let next = Duration::from_secs(SAMPLE_EVERY_S * (samples.len() as u64 + 1));
        let wait = next.min(duration).saturating_sub(started.elapsed());
        tokio::time::sleep(wait).await;
        let t = started.elapsed();
        if let Some(status) = server.exited() {
            exited = Some(status);
            break;
        }
        let rss = rss_kib(pid).map_or(f64::NAN, |k| k as f64 / 1024.0);
        let data = mib(dir_bytes(dir.path()) as f64);
        let requests = load.requests.load(Ordering::Relaxed);
        let m = {
            let (endpoint, trigger) = (endpoint.clone(), trigger.clone());
            tokio::task::spawn_blocking(move || trigger_metrics(&endpoint, &trigger))
                .await
                .unwrap_or_default()
        };
        println!(
            "soak: t={:>4.0}s rss={rss:>7.1} MiB data={data:>7.1} MiB requests={requests} ({:.0}/s) errors={} keys={} trigger: delivered={} invocations={} errors={} iterator_age={} ms",
            t.as_secs_f64(),
            (requests - last_requests) as f64 / SAMPLE_EVERY_S as f64,
            load.errors.load(Ordering::Relaxed),
            load.next_key.load(Ordering::Relaxed),
            m["RecordsDelivered"],
            m["Invocations"],
            m["Errors"],
            m["IteratorAgeMilliseconds"],
        );
        last_requests = requests;
        samples.push((t.as_secs_f64() / 60.0, rss));
        if t >= duration {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.await;
    }
    server.kill9();

    let mut failures = Vec::new();
    if let Some(status) = exited {
        failures.push(format!("the server exited during the soak: {status}"));
    }
    let peak = samples.iter().map(|(_, r)| *r).fold(0.0, f64::max);
    if peak > budget_mib as f64 {
        failures.push(format!(
            "RSS reached {peak:.1} MiB, over the {budget_mib} MiB budget"
        ));
    }
    let half = args.minutes / 2.0;
    let second_half: Vec<(f64, f64)> = samples
        .iter()
        .copied()
        .filter(|(t, _)| *t >= half)
        .collect();
    let rise = slope(&second_half);
    let quarter = |q: f64| {
        median(
            samples
                .iter()
                .filter(|(t, _)| {
                    *t >= args.minutes * (q - 1.0) / 4.0 && *t < args.minutes * q / 4.0 + 1e-9
                })
                .map(|(_, r)| *r)
                .collect(),
        )
    };
    let (third, last) = (quarter(3.0), quarter(4.0));
    let rise_allowed = budget_mib as f64 * args.rise_percent / 100.0;
    if third.is_nan() || last.is_nan() {
        failures.push(format!(
            "the run is too short to judge RSS's trend: no samples in a quarter of it (one every {SAMPLE_EVERY_S} s)"
        ));
    } else if last - third > rise_allowed {
        failures.push(format!(
            "RSS kept rising at the end of the run: the last quarter's median {last:.1} MiB is {:.1} MiB above the third quarter's {third:.1} MiB (at most {rise_allowed:.1} allowed)",
            last - third
        ));
    }
    let errors = load.errors.load(Ordering::Relaxed);
    if errors > 0 {
        let first = load
            .first_errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        failures.push(format!("{errors} requests failed; the first: {first:?}"));
    }
    println!(
        "soak summary: {:.1} min, {} requests, {errors} errors, peak RSS {peak:.1} MiB (budget {budget_mib}), median RSS of the last two quarters {third:.1} and {last:.1} MiB, last-half slope {rise:.2} MiB/min, data dir {:.1} MiB",
        started.elapsed().as_secs_f64() / 60.0,
        load.requests.load(Ordering::Relaxed),
        mib(dir_bytes(dir.path()) as f64),
    );
    if failures.is_empty() {
        println!("soak: ok");
        ExitCode::SUCCESS
    } else {
        for f in &failures {
            println!("soak: FAILED: {f}");
        }
        ExitCode::FAILURE
    }
}
