//! `eddy-load`: the project's closed-loop HTTP load benchmark (not a test) for a
//! DynamoDB-compatible server speaking DynamoDB's JSON 1.0 protocol (Eddy, or a peer such as
//! dynalite).
//!
//! What it measures: for every workload and every connection count it opens N keep-alive
//! HTTP/1.1 connections (one tokio task each) and sends requests back to back on each (closed
//! loop, like `wrk`): a warm-up phase of `--warmup-s` seconds that is not recorded, then a
//! measured phase of `--duration-s` seconds. It prints one markdown table row per run:
//! throughput (responses completed inside the measured window / `duration_s`), latency
//! p50/p90/p99/max (request written .. response body fully read, HDR-like histogram with
//! < 1% relative error, exact below 256 us, max exact), non-2xx responses and 2xx responses
//! whose body is wrong. Requests still in flight at the end of the window are awaited (at most
//! `--timeout-s`) so they do not leak into the next run; their latency is recorded but they
//! are not counted in req/s.
//!
//! Workloads (request and item shapes and key names mirror /work/shared/bench/lua/dynamodb.lua,
//! the neutral wrk harness, so the numbers are comparable with `bench.sh`):
//! * `put`     PutItem of ~200-byte items with unique keys `p-<runtag>-<conn>-<counter>`
//! * `get`     GetItem of a random preloaded key `g000000..` / sk `s`; body must contain "Item"
//! * `query`   Query `pk = :p` of a random preloaded partition `q00000..` (10 items);
//!   body must say `"Count":10`
//! * `mixed`   80% GetItem / 20% PutItem overwriting random preloaded `g` keys
//! * `update`  UpdateItem of a random preloaded `g` key with a 4-action expression
//!   (`SET #d = :d, tag = :t, n = :n ADD cnt :one`); body must be `{}`
//! * `put-same` PutItem of a random preloaded `g` key writing the item `update` leaves
//!   (same attributes and sizes); body must be `{}`. `update` vs `put-same` is the cost
//!   of an update expression (read, evaluate, write) over a blind write.
//! * `ceiling` `GET /` on the same server: the HTTP ceiling of the machine (DynamoDB answers
//!   200 `healthy: dynamodb.us-east-1.amazonaws.com `; a 2xx body not starting with
//!   `healthy:` counts as bad body)
//! * `throttle` PutItem as fast as possible to `<table>-throttle`, PROVISIONED with `--wcu`
//!   units: accepted vs throttled writes per second, the burst printed apart, and the
//!   sustained accepted writes/s over `--duration-s` against the WCU (`throttle.rs`; it
//!   prints its own report and fails the command when the rate is not within 5%)
//! * `growth`  the cost as the data grows (`growth.rs`, issue 20): GetItem and Query on
//!   the small preload, then PutItem of `--growth-items` unique ~200-byte items with
//!   hashed keys, one row per `--growth-step` items (req/s, p50/p99/max, server CPU per
//!   write with `--cpu-pids`), then GetItem over every item written and Query on the
//!   full table, against the small table; `--growth-table-kind gsi-stream` adds a GSI
//!   and a NEW_AND_OLD_IMAGES stream. Runs alone; `tests/load/growth.sh` drives it,
//!   with a restart on the grown data directory (`--restart-probe`)
//!
//! Unless `--no-setup` is given it first (re)creates the table (`--table`, default
//! `loadbench`: pk S hash, sk S range, PAY_PER_REQUEST; an existing table is deleted first)
//! and preloads `--gets` g-items and `--parts` partitions x 10 q-items with BatchWriteItem
//! (retrying UnprocessedItems), like /work/shared/bench/setup.py.
//!
//! Run (the server must already be listening; only loopback endpoints are accepted):
//!
//! ```text
//! cargo run --release -p eddy-load -- --endpoint http://127.0.0.1:8000 \
//!     --connections 16,64 --duration-s 10 --warmup-s 2 \
//!     --workloads put,get,query,mixed,ceiling [--gets 20000 --parts 1000] [--no-setup]
//! cargo run --release -p eddy-load -- --workloads put-same,update,put-same,update
//! ```
//!
//! `--wcu N` (and `--rcu N`) make the set-up table PROVISIONED with that capacity instead
//! of PAY_PER_REQUEST; `tests/load/capacity-cost.sh` compares the two.
//!
//! `--sign` signs every request with SigV4 (`sign.rs`) for a server on `--auth sigv4`;
//! `tests/load/auth-cost.sh` measures what verification costs GetItem with it.
//!
//! The table goes to stdout, followed by notes (load-generator CPU per run, first error
//! bodies); progress goes to stderr. The load generator shares the machine with the server:
//! check the `gen CPU` note (100% = one core) to see how much of the machine it used.
//!
//! One file of about 1,500 lines, over the house's ~800, on purpose: it is a stand-alone
//! benchmark program, not server code, read top to bottom (limits, request shapes, the
//! connection, the histogram, the workloads, set-up, the runs), and nothing else links it.

mod growth;
mod lag;
mod sign;
mod throttle;

use std::error::Error;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;

type BoxError = Box<dyn Error + Send + Sync>;

// ---- named limits (every loop in this program is bounded by one of these or by a deadline) ----
/// Most connections per run.
const CONNECTIONS_MAX: usize = 1024;
/// Longest measured phase per run, seconds.
const DURATION_S_MAX: u64 = 3600;
/// Longest warm-up phase per run, seconds.
const WARMUP_S_MAX: u64 = 600;
/// Longest per-request timeout, seconds.
const TIMEOUT_S_MAX: u64 = 300;
/// Most tokio worker threads.
const THREADS_MAX: usize = 64;
/// Most preloaded g-items.
const GETS_MAX: usize = 10_000_000;
/// Most preloaded q-partitions.
const PARTS_MAX: usize = 1_000_000;
/// Most concurrent connections used for the preload.
const SETUP_CONNECTIONS_MAX: usize = 64;
/// Longest wait for a table to become ACTIVE or disappear, seconds.
const TABLE_WAIT_S: u64 = 60;
/// DescribeTable polling interval while waiting, milliseconds.
const TABLE_POLL_MS: u64 = 100;
/// Most BatchWriteItem calls for one batch of 25 (UnprocessedItems retries + throttling).
const BATCH_ATTEMPTS_MAX: u32 = 100;
/// Back-off between BatchWriteItem retries, milliseconds (times attempt number, capped).
const BATCH_BACKOFF_MS: u64 = 20;
const BATCH_BACKOFF_MS_MAX: u64 = 1000;
/// Items per BatchWriteItem call (DynamoDB's limit).
const BATCH_ITEMS: usize = 25;
/// A load task gives up after this many transport errors in a row.
const CONSECUTIVE_ERRORS_MAX: u32 = 100;
/// Pause after a transport error before reconnecting, milliseconds.
const ERROR_BACKOFF_MS: u64 = 10;
/// Pause between runs so the server drains, milliseconds.
const PAUSE_BETWEEN_RUNS_MS: u64 = 1000;
/// TCP connect timeout, seconds.
const CONNECT_TIMEOUT_S: u64 = 5;
/// Timeout of each set-up API call, seconds.
const SETUP_CALL_TIMEOUT_S: u64 = 30;
/// Characters of an error body kept for the notes.
const FIRST_ERROR_CHARS: usize = 200;

// ---- request shapes (mirror lua/dynamodb.lua and setup.py) ----
const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000";
const AMZ_DATE: &str = "20261126T000000Z";
const JSON_CT: &str = "application/x-amz-json-1.0";
/// Padding of PutItem items written by the put/mixed workloads (lua: 165 x).
const PUT_PAD_LEN: usize = 165;
/// Padding of preloaded items (setup.py: 170 y).
const PRELOAD_PAD_LEN: usize = 170;
/// Items per preloaded query partition.
const PART_ITEMS: usize = 10;
/// Share of GetItem in the mixed workload, percent.
const MIXED_GET_PERCENT: u64 = 80;
/// The most provisioned units `--wcu`/`--rcu` may ask for (DynamoDB's default table
/// quota is 40,000 of each; a raised quota can be higher).
const CAPACITY_UNITS_MAX: u64 = 1_000_000;
/// The longest `--throttle-backoff-ms`.
const THROTTLE_BACKOFF_MS_MAX: u64 = 10_000;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Workload {
    Put,
    Get,
    Query,
    Mixed,
    Update,
    PutSame,
    Ceiling,
    /// Writes as fast as it can to a PROVISIONED table of `--wcu` units and compares the
    /// sustained accepted writes/s with the WCU (`throttle.rs`).
    Throttle,
    /// Reads on a small table, `--growth-items` writes in steps, reads on the full table
    /// (`growth.rs`); runs alone.
    Growth,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Put => "put",
            Workload::Get => "get",
            Workload::Query => "query",
            Workload::Mixed => "mixed",
            Workload::Update => "update",
            Workload::PutSame => "put-same",
            Workload::Ceiling => "ceiling",
            Workload::Throttle => "throttle",
            Workload::Growth => "growth",
        }
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "eddy-load",
    about = "Closed-loop HTTP load benchmark for a DynamoDB-compatible server (loopback only)"
)]
struct Args {
    /// Server base URL; must be http:// on a loopback address (127.0.0.0/8, ::1, localhost).
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    endpoint: String,
    /// Concurrent keep-alive connections; a comma-separated list runs each count.
    #[arg(long, value_delimiter = ',', default_value = "64")]
    connections: Vec<usize>,
    /// Measured seconds per run.
    #[arg(long, default_value_t = 10)]
    duration_s: u64,
    /// Unrecorded warm-up seconds before each measured phase.
    #[arg(long, default_value_t = 2)]
    warmup_s: u64,
    /// Workloads to run, in order.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "put,get,query,mixed,ceiling"
    )]
    workloads: Vec<Workload>,
    /// Preloaded GetItem keys g000000.. (get and mixed pick among them).
    #[arg(long, default_value_t = 20000)]
    gets: usize,
    /// Preloaded query partitions q00000.. of 10 items each.
    #[arg(long, default_value_t = 1000)]
    parts: usize,
    /// Skip table (re)creation and preload (the table must already hold the same data).
    #[arg(long)]
    no_setup: bool,
    /// Table name.
    #[arg(long, default_value = "loadbench")]
    table: String,
    /// Tokio worker threads of the load generator (wrk in bench.sh uses -t2).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Per-request timeout, seconds (a timed-out request counts as a transport error).
    #[arg(long, default_value_t = 30)]
    timeout_s: u64,
    /// Concurrent connections used for the BatchWriteItem preload.
    #[arg(long, default_value_t = 8)]
    setup_connections: usize,
    /// Create the table with a stream of this view type (KEYS_ONLY, NEW_IMAGE,
    /// OLD_IMAGE, NEW_AND_OLD_IMAGES), to measure what streams cost the writes.
    #[arg(long)]
    stream_view_type: Option<String>,
    /// After the workloads: write this many items into one partition of a
    /// stream-enabled table `<table>-drain`, then read them back from their shard with
    /// GetRecords (Limit 1000) on one connection and print records/s.
    #[arg(long)]
    getrecords_drain: Option<usize>,
    /// Only measure the disk: append 200 bytes and fdatasync, this many times, in a
    /// scratch file under `--fsync-probe-dir` (use the server's data disk). The bound
    /// group commit puts on PutItem is roughly connections / fdatasync latency.
    #[arg(long)]
    fsync_probe: Option<usize>,
    #[arg(long, default_value = "target")]
    fsync_probe_dir: std::path::PathBuf,
    /// Only measure replication lag: write this many items, one at a time, into
    /// `--replicated-table` at `--endpoint` (stamped with `updated_at`/`updated_in` as the
    /// replicator expects) and time each from its PutItem acknowledgement until GetItem
    /// finds it at `--peer-endpoint`. Both regions must already run the replicator
    /// (examples/replication/README.md sets them up).
    #[arg(long)]
    replication_lag: Option<usize>,
    /// The other region's server, for `--replication-lag`.
    #[arg(long, default_value = "http://127.0.0.1:8001")]
    peer_endpoint: String,
    /// The replicated table, for `--replication-lag` (hash key `id`, a string).
    #[arg(long, default_value = "profiles")]
    replicated_table: String,
    /// Only measure a stream trigger's write -> handler latency: write this many items
    /// at `--lag-rate` per second into `--lag-table`, whose trigger runs the `stamp`
    /// test guest writing into `--lag-seen-table` (`lag.rs`; tests/load/workers.sh).
    #[arg(long)]
    trigger_lag: Option<usize>,
    /// Only write this many items `{pk: "d-<i>"}` into `--lag-table`, for a drain.
    #[arg(long)]
    trigger_drain_load: Option<usize>,
    /// Only wait until the stamp guest (`mode=count`) reports this many records
    /// handled in `--lag-seen-table`, and print the drain rate (`lag.rs`).
    #[arg(long)]
    trigger_drain: Option<usize>,
    /// Processes whose CPU time `--trigger-drain` reports per record (comma-separated
    /// pids: the server, the workers, nats-server).
    #[arg(long, value_delimiter = ',')]
    cpu_pids: Vec<u32>,
    /// Items per second `--trigger-lag` offers.
    #[arg(long, default_value_t = 1000)]
    lag_rate: u64,
    /// The table `--trigger-lag` writes (hash key `pk`, a string; a stream and a trigger).
    #[arg(long, default_value = "lag-source")]
    lag_table: String,
    /// The table the stamp guest writes `{id, seen_us}` into.
    #[arg(long, default_value = "lag-seen")]
    lag_seen_table: String,
    /// Sign every request with SigV4, as an AWS SDK does (for a server started with
    /// `--auth sigv4`), with `--access-key-id`/`--secret-access-key` or else the
    /// environment's AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN).
    /// Without it requests carry a fixed dummy signature, which only a server that
    /// does not verify accepts.
    #[arg(long)]
    sign: bool,
    /// The access key id to sign with (implies `--sign`).
    #[arg(long)]
    access_key_id: Option<String>,
    /// The secret to sign with (else AWS_SECRET_ACCESS_KEY).
    #[arg(long)]
    secret_access_key: Option<String>,
    /// The region of the signatures' credential scope (else AWS_REGION, else us-east-1).
    #[arg(long)]
    region: Option<String>,
    /// Provisioned write capacity units: the set-up table is made PROVISIONED (instead of
    /// PAY_PER_REQUEST) with this many, and the `throttle` workload's table too.
    #[arg(long)]
    wcu: Option<u64>,
    /// Provisioned read capacity units (with `--wcu`; else the same as `--wcu`, and 1
    /// for the throttle workload's table).
    #[arg(long)]
    rcu: Option<u64>,
    /// The throttle workload: longest wait for the first throttled write (the end of the
    /// table's burst capacity) before the measured window starts anyway.
    #[arg(long, default_value_t = 60)]
    burst_wait_s: u64,
    /// The throttle workload: a writer's pause after a throttled write, in milliseconds
    /// (0: retry at once, the hardest case for the server).
    #[arg(long, default_value_t = 0)]
    throttle_backoff_ms: u64,
    /// The growth workload: items written with PutItem after the small-table reads
    /// (keys `w<hash of 0..N>`, so a later `--no-setup` run knows every key).
    #[arg(long, default_value_t = 10_000_000)]
    growth_items: u64,
    /// The growth workload: items per printed step.
    #[arg(long, default_value_t = 1_000_000)]
    growth_step: u64,
    /// The growth workload's table: `plain`, or `gsi-stream` (one GSI on the items'
    /// `gk` attribute and a NEW_AND_OLD_IMAGES stream).
    #[arg(long, value_enum, default_value = "plain")]
    growth_table_kind: growth::TableKind,
    /// The projection of the gsi-stream table's GSI.
    #[arg(long, value_enum, default_value = "all")]
    growth_gsi_projection: growth::Projection,
    /// Only wait (polling every few milliseconds) until the server answers `GET /` and
    /// GetItem finds growth item 0 in `--table`, and print how long each took since
    /// `--spawned-at-us` (tests/load/growth.sh times a restart with it).
    #[arg(long)]
    restart_probe: bool,
    /// When the server was spawned, in microseconds since the Unix epoch, for
    /// `--restart-probe` (else the probe's own start).
    #[arg(long)]
    spawned_at_us: Option<u64>,
}

fn validate(a: &Args) -> Result<(), String> {
    if a.connections.is_empty() || a.connections.iter().any(|&c| c == 0 || c > CONNECTIONS_MAX) {
        return Err(format!(
            "--connections must be 1..={CONNECTIONS_MAX} (connections_max)"
        ));
    }
    if a.duration_s == 0 || a.duration_s > DURATION_S_MAX {
        return Err(format!(
            "--duration-s must be 1..={DURATION_S_MAX} (duration_s_max)"
        ));
    }
    if a.warmup_s > WARMUP_S_MAX {
        return Err(format!(
            "--warmup-s must be 0..={WARMUP_S_MAX} (warmup_s_max)"
        ));
    }
    if a.timeout_s == 0 || a.timeout_s > TIMEOUT_S_MAX {
        return Err(format!(
            "--timeout-s must be 1..={TIMEOUT_S_MAX} (timeout_s_max)"
        ));
    }
    if a.threads == 0 || a.threads > THREADS_MAX {
        return Err(format!("--threads must be 1..={THREADS_MAX} (threads_max)"));
    }
    if a.setup_connections == 0 || a.setup_connections > SETUP_CONNECTIONS_MAX {
        return Err(format!(
            "--setup-connections must be 1..={SETUP_CONNECTIONS_MAX} (setup_connections_max)"
        ));
    }
    if a.gets > GETS_MAX || a.parts > PARTS_MAX {
        return Err(format!(
            "--gets must be <= {GETS_MAX} and --parts <= {PARTS_MAX}"
        ));
    }
    let needs_gets = a.workloads.iter().any(|w| {
        matches!(
            w,
            Workload::Get | Workload::Mixed | Workload::Update | Workload::PutSame
        )
    });
    if needs_gets && a.gets == 0 {
        return Err("--gets must be >= 1 for the get and mixed workloads".into());
    }
    if a.workloads.contains(&Workload::Query) && a.parts == 0 {
        return Err("--parts must be >= 1 for the query workload".into());
    }
    if a.workloads.is_empty() {
        return Err("--workloads is empty".into());
    }
    if [a.wcu, a.rcu]
        .iter()
        .flatten()
        .any(|&u| u == 0 || u > CAPACITY_UNITS_MAX)
    {
        return Err(format!(
            "--wcu and --rcu must be 1..={CAPACITY_UNITS_MAX} (capacity_units_max)"
        ));
    }
    if a.workloads.contains(&Workload::Throttle) && a.wcu.is_none() {
        return Err("the throttle workload needs --wcu".into());
    }
    if a.burst_wait_s > throttle::BURST_WAIT_S_MAX {
        return Err(format!(
            "--burst-wait-s must be 0..={} (burst_wait_s_max)",
            throttle::BURST_WAIT_S_MAX
        ));
    }
    if a.throttle_backoff_ms > THROTTLE_BACKOFF_MS_MAX {
        return Err(format!(
            "--throttle-backoff-ms must be 0..={THROTTLE_BACKOFF_MS_MAX} (throttle_backoff_ms_max)"
        ));
    }
    if a.workloads.contains(&Workload::Growth) {
        if a.workloads.iter().any(|w| *w != Workload::Growth) {
            return Err("the growth workload runs alone (it makes its own table)".into());
        }
        growth::validate(a)?;
    }
    // Table names go into JSON bodies unescaped: keep to DynamoDB's allowed characters.
    let ok_chars = a
        .table
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if !(3..=255).contains(&a.table.len()) || !ok_chars {
        return Err("--table must be 3..=255 characters of [A-Za-z0-9_.-]".into());
    }
    Ok(())
}

// ---- endpoint ----

#[derive(Clone, Debug)]
struct Target {
    addr: SocketAddr,
    host: HeaderValue,
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Parses the endpoint and refuses anything that is not plain http on a loopback address
/// (this machine's policy). Host names other than `localhost` are refused without a lookup.
fn parse_endpoint(s: &str) -> Result<Target, BoxError> {
    let uri: Uri = s
        .parse()
        .map_err(|e| format!("bad --endpoint {s:?}: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("--endpoint {s:?}: only http:// endpoints are supported").into());
    }
    let authority = uri
        .authority()
        .ok_or_else(|| format!("--endpoint {s:?} has no host"))?;
    if authority.as_str().contains('@') {
        return Err(format!("--endpoint {s:?}: user info is not supported").into());
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(format!("--endpoint {s:?}: give only scheme://host:port").into());
    }
    let host = authority.host();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let ip = if let Ok(ip) = bare.parse::<IpAddr>() {
        ip
    } else if bare.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        return Err(format!(
            "refusing endpoint host {host:?}: eddy-load only runs against loopback addresses \
             (127.0.0.0/8, ::1 or localhost) on this machine"
        )
        .into());
    };
    if !is_loopback(ip) {
        return Err(format!(
            "refusing non-loopback endpoint host {host}: eddy-load only runs against loopback \
             addresses (127.0.0.0/8, ::1 or localhost) on this machine"
        )
        .into());
    }
    let port = uri.port_u16().unwrap_or(80);
    Ok(Target {
        addr: SocketAddr::new(ip, port),
        host: HeaderValue::from_str(authority.as_str())?,
    })
}

// ---- one keep-alive HTTP/1.1 connection ----

struct Conn {
    target: Target,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    fn new(target: Target) -> Self {
        Conn {
            target,
            sender: None,
        }
    }

    async fn connect(target: Target) -> Result<Self, BoxError> {
        let mut c = Conn::new(target);
        c.sender = Some(open(&c.target).await?);
        Ok(c)
    }

    /// Drops the connection (after an error or a timeout); the next send reconnects.
    fn reset(&mut self) {
        self.sender = None;
    }

    async fn send(&mut self, req: Request<Full<Bytes>>) -> Result<(StatusCode, Bytes), BoxError> {
        let res = self.send_inner(req).await;
        if res.is_err() {
            self.reset();
        }
        res
    }

    async fn send_inner(
        &mut self,
        req: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, Bytes), BoxError> {
        let sender = match &mut self.sender {
            Some(s) if !s.is_closed() => s,
            slot => slot.insert(open(&self.target).await?),
        };
        sender.ready().await?;
        let resp = sender.send_request(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    /// Sends with a timeout; a timed-out connection is dropped.
    async fn send_timeout(
        &mut self,
        req: Request<Full<Bytes>>,
        timeout: Duration,
    ) -> Result<(StatusCode, Bytes), BoxError> {
        match tokio::time::timeout(timeout, self.send(req)).await {
            Ok(r) => r,
            Err(_) => {
                self.reset();
                Err(format!("request timed out after {}s", timeout.as_secs()).into())
            }
        }
    }
}

async fn open(target: &Target) -> Result<SendRequest<Full<Bytes>>, BoxError> {
    let stream = tokio::time::timeout(
        Duration::from_secs(CONNECT_TIMEOUT_S),
        TcpStream::connect(target.addr),
    )
    .await
    .map_err(|_| format!("connect to {} timed out", target.addr))?
    .map_err(|e| format!("connect to {}: {e}", target.addr))?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Ends when the sender is dropped or the peer closes; errors surface on the sender.
        let _ = conn.await;
    });
    Ok(sender)
}

static X_AMZ_TARGET: HeaderName = HeaderName::from_static("x-amz-target");
static X_AMZ_DATE: HeaderName = HeaderName::from_static("x-amz-date");

#[derive(Copy, Clone, Debug)]
enum Op {
    PutItem,
    GetItem,
    UpdateItem,
    Query,
    BatchWriteItem,
    CreateTable,
    DeleteTable,
    DescribeTable,
    DescribeStream,
    GetShardIterator,
    GetRecords,
    Scan,
}

impl Op {
    fn target(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Op::PutItem => "DynamoDB_20120810.PutItem",
            Op::GetItem => "DynamoDB_20120810.GetItem",
            Op::UpdateItem => "DynamoDB_20120810.UpdateItem",
            Op::Query => "DynamoDB_20120810.Query",
            Op::BatchWriteItem => "DynamoDB_20120810.BatchWriteItem",
            Op::CreateTable => "DynamoDB_20120810.CreateTable",
            Op::DeleteTable => "DynamoDB_20120810.DeleteTable",
            Op::DescribeTable => "DynamoDB_20120810.DescribeTable",
            Op::DescribeStream => "DynamoDBStreams_20120810.DescribeStream",
            Op::GetShardIterator => "DynamoDBStreams_20120810.GetShardIterator",
            Op::GetRecords => "DynamoDBStreams_20120810.GetRecords",
            Op::Scan => "DynamoDB_20120810.Scan",
        })
    }
}

/// The credentials every request is signed with (`--sign`); unset, requests carry a
/// fixed dummy signature.
static SIGNER: OnceLock<sign::Signer> = OnceLock::new();
static X_AMZ_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-amz-security-token");

fn api_request(host: &HeaderValue, op: Op, body: String) -> Request<Full<Bytes>> {
    let target = op.target();
    let signed = SIGNER.get().map(|signer| {
        let host = host.to_str().unwrap_or("");
        let target = target.to_str().unwrap_or("");
        let signed = signer.sign(host, JSON_CT, target, body.as_bytes(), SystemTime::now());
        (signed, signer.session_token())
    });
    let mut req = Request::new(Full::new(Bytes::from(body)));
    *req.method_mut() = Method::POST;
    *req.uri_mut() = Uri::from_static("/");
    let h = req.headers_mut();
    h.insert(HOST, host.clone());
    h.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_CT));
    h.insert(X_AMZ_TARGET.clone(), target);
    match signed {
        // Both are ASCII: a hex signature, a date, and the credential's parts.
        Some((signed, token)) => {
            if let Ok(v) = HeaderValue::from_str(&signed.authorization) {
                h.insert(AUTHORIZATION, v);
            }
            if let Ok(v) = HeaderValue::from_str(&signed.amz_date) {
                h.insert(X_AMZ_DATE.clone(), v);
            }
            if let Some(v) = token.and_then(|t| HeaderValue::from_str(t).ok()) {
                h.insert(X_AMZ_SECURITY_TOKEN.clone(), v);
            }
        }
        None => {
            h.insert(AUTHORIZATION, HeaderValue::from_static(AUTH));
            h.insert(X_AMZ_DATE.clone(), HeaderValue::from_static(AMZ_DATE));
        }
    }
    req
}

/// The signer of `--sign` (or `--access-key-id`): the flags' credentials, else the
/// environment's, as the AWS SDKs read them.
fn signer(a: &Args) -> Result<Option<sign::Signer>, String> {
    if !a.sign && a.access_key_id.is_none() {
        return Ok(None);
    }
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let id = a
        .access_key_id
        .clone()
        .or_else(|| env("AWS_ACCESS_KEY_ID"))
        .ok_or("--sign needs --access-key-id or AWS_ACCESS_KEY_ID")?;
    let secret = a
        .secret_access_key
        .clone()
        .or_else(|| env("AWS_SECRET_ACCESS_KEY"))
        .ok_or("--sign needs --secret-access-key or AWS_SECRET_ACCESS_KEY")?;
    let region = a
        .region
        .clone()
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| "us-east-1".to_owned());
    Ok(Some(sign::Signer::new(
        id,
        secret,
        env("AWS_SESSION_TOKEN"),
        region,
    )))
}

fn ceiling_request(host: &HeaderValue) -> Request<Full<Bytes>> {
    let mut req = Request::new(Full::new(Bytes::new()));
    *req.uri_mut() = Uri::from_static("/");
    req.headers_mut().insert(HOST, host.clone());
    req
}

// ---- histogram (HDR-like: exact below 256 us, then 128 sub-buckets per power of two) ----

const HIST_LINEAR: u64 = 256;
const HIST_SUB: u64 = 128;
const HIST_SUB_BITS: u32 = 7;
/// Largest distinct value, microseconds (~38 h); larger values are clamped.
const HIST_VALUE_MAX: u64 = (1 << 37) - 1;
const HIST_BUCKETS: usize = (HIST_LINEAR + (37 - 8) * HIST_SUB) as usize;

struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Histogram {
    fn new() -> Self {
        Histogram {
            counts: vec![0; HIST_BUCKETS],
            total: 0,
            max: 0,
        }
    }

    fn index(v: u64) -> usize {
        let v = v.min(HIST_VALUE_MAX);
        if v < HIST_LINEAR {
            return v as usize;
        }
        let exp = 63 - v.leading_zeros(); // >= 8
        let shift = exp - HIST_SUB_BITS;
        let mantissa = v >> shift; // HIST_SUB..2*HIST_SUB
        (HIST_LINEAR + u64::from(exp - 8) * HIST_SUB + (mantissa - HIST_SUB)) as usize
    }

    /// Midpoint of the bucket's range.
    fn value_at(i: usize) -> u64 {
        let i = i as u64;
        if i < HIST_LINEAR {
            return i;
        }
        let j = i - HIST_LINEAR;
        let exp = j / HIST_SUB + 8;
        let mantissa = j % HIST_SUB + HIST_SUB;
        let shift = exp - u64::from(HIST_SUB_BITS);
        (mantissa << shift) + (1u64 << shift) / 2
    }

    fn record(&mut self, micros: u64) {
        self.counts[Self::index(micros)] += 1;
        self.total += 1;
        self.max = self.max.max(micros);
    }

    fn merge(&mut self, o: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a += b;
        }
        self.total += o.total;
        self.max = self.max.max(o.max);
    }

    /// Value (us) at percentile `p` (0..=100), or 0 when empty.
    fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((p / 100.0 * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut cum = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            cum += c;
            if cum >= rank {
                return Self::value_at(i).min(self.max);
            }
        }
        self.max
    }
}

// ---- request generation ----

/// xorshift64* — plenty for picking keys.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in 0..n.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
}

#[derive(Copy, Clone, Debug)]
enum Check {
    /// No body check (put workload, like the lua harness).
    None,
    /// GetItem hit: body contains "Item".
    Item,
    /// Query: body says "Count":10.
    Count10,
    /// PutItem without ReturnValues in the mixed workload: body is "{}".
    Empty,
    /// GET /: body starts with "healthy:".
    Healthy,
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn count_is_10(body: &[u8]) -> bool {
    const KEY: &[u8] = b"\"Count\"";
    let Some(pos) = body.windows(KEY.len()).position(|w| w == KEY) else {
        return false;
    };
    let rest = body[pos + KEY.len()..].trim_ascii_start();
    let Some(rest) = rest.strip_prefix(b":") else {
        return false;
    };
    let rest = rest.trim_ascii_start();
    rest.starts_with(b"10") && !rest.get(2).is_some_and(u8::is_ascii_digit)
}

impl Check {
    fn ok(self, body: &[u8]) -> bool {
        match self {
            Check::None => true,
            Check::Item => contains(body, b"\"Item\""),
            Check::Count10 => count_is_10(body),
            Check::Empty => body.trim_ascii() == b"{}",
            Check::Healthy => body.starts_with(b"healthy:"),
        }
    }
}

struct Gen {
    workload: Workload,
    rng: Rng,
    counter: u64,
    conn_id: usize,
    runtag: Arc<str>,
    table: Arc<str>,
    gets: u64,
    parts: u64,
    host: HeaderValue,
    pad: Arc<str>,
}

impl Gen {
    fn put_body(&self, pk: &str, n: u64) -> String {
        format!(
            r#"{{"TableName":"{}","Item":{{"pk":{{"S":"{pk}"}},"sk":{{"S":"s"}},"data":{{"S":"{}"}},"n":{{"N":"{n}"}}}}}}"#,
            self.table, self.pad
        )
    }

    /// PutItem of the whole item an `update` request leaves behind.
    fn put_same_body(&self, pk: &str, n: u64) -> String {
        format!(
            r#"{{"TableName":"{}","Item":{{"pk":{{"S":"{pk}"}},"sk":{{"S":"s"}},"data":{{"S":"{}"}},"n":{{"N":"{n}"}},"tag":{{"S":"t{n}"}},"cnt":{{"N":"{n}"}}}}}}"#,
            self.table, self.pad
        )
    }

    /// UpdateItem with four actions (three SET, one ADD) producing the same item shape.
    fn update_body(&self, pk: &str, n: u64) -> String {
        format!(
            r##"{{"TableName":"{}","Key":{{"pk":{{"S":"{pk}"}},"sk":{{"S":"s"}}}},"UpdateExpression":"SET #d = :d, tag = :t, n = :n ADD cnt :one","ExpressionAttributeNames":{{"#d":"data"}},"ExpressionAttributeValues":{{":d":{{"S":"{}"}},":t":{{"S":"t{n}"}},":n":{{"N":"{n}"}},":one":{{"N":"1"}}}}}}"##,
            self.table, self.pad
        )
    }

    fn get(&mut self) -> (Request<Full<Bytes>>, Check) {
        let pk = format!("g{:06}", self.rng.below(self.gets));
        let body = format!(
            r#"{{"TableName":"{}","Key":{{"pk":{{"S":"{pk}"}},"sk":{{"S":"s"}}}}}}"#,
            self.table
        );
        (api_request(&self.host, Op::GetItem, body), Check::Item)
    }
}

/// What a load task sends on its connection: the next request and the check its answer
/// must pass. [`Gen`] makes the workloads above; `growth.rs` has its own.
trait Requests: Send + 'static {
    fn next_request(&mut self) -> (Request<Full<Bytes>>, Check);
}

impl Requests for Gen {
    fn next_request(&mut self) -> (Request<Full<Bytes>>, Check) {
        match self.workload {
            // The throttle and growth workloads have their own writers (`throttle.rs`,
            // `growth.rs`); here they are a put.
            Workload::Put | Workload::Throttle | Workload::Growth => {
                self.counter += 1;
                let pk = format!("p-{}-{}-{}", self.runtag, self.conn_id, self.counter);
                let body = self.put_body(&pk, self.counter);
                (api_request(&self.host, Op::PutItem, body), Check::None)
            }
            Workload::Get => self.get(),
            Workload::Query => {
                let pk = format!("q{:05}", self.rng.below(self.parts));
                let body = format!(
                    r#"{{"TableName":"{}","KeyConditionExpression":"pk = :p","ExpressionAttributeValues":{{":p":{{"S":"{pk}"}}}}}}"#,
                    self.table
                );
                (api_request(&self.host, Op::Query, body), Check::Count10)
            }
            Workload::Mixed => {
                if self.rng.below(100) < MIXED_GET_PERCENT {
                    self.get()
                } else {
                    self.counter += 1;
                    let pk = format!("g{:06}", self.rng.below(self.gets));
                    let body = self.put_body(&pk, self.counter);
                    (api_request(&self.host, Op::PutItem, body), Check::Empty)
                }
            }
            Workload::Update => {
                self.counter += 1;
                let pk = format!("g{:06}", self.rng.below(self.gets));
                let body = self.update_body(&pk, self.counter);
                (api_request(&self.host, Op::UpdateItem, body), Check::Empty)
            }
            Workload::PutSame => {
                self.counter += 1;
                let pk = format!("g{:06}", self.rng.below(self.gets));
                let body = self.put_same_body(&pk, self.counter);
                (api_request(&self.host, Op::PutItem, body), Check::Empty)
            }
            Workload::Ceiling => (ceiling_request(&self.host), Check::Healthy),
        }
    }
}

// ---- one run ----

struct Stats {
    hist: Histogram,
    /// Responses that started after the warm-up and completed inside the measured window.
    counted: u64,
    non2xx: u64,
    bad_body: u64,
    transport_errors: u64,
    gave_up: u64,
    first_error: Option<String>,
}

impl Stats {
    fn new() -> Self {
        Stats {
            hist: Histogram::new(),
            counted: 0,
            non2xx: 0,
            bad_body: 0,
            transport_errors: 0,
            gave_up: 0,
            first_error: None,
        }
    }

    fn note_error(&mut self, msg: impl FnOnce() -> String) {
        if self.first_error.is_none() {
            self.first_error = Some(msg());
        }
    }

    fn merge(&mut self, o: Stats) {
        self.hist.merge(&o.hist);
        self.counted += o.counted;
        self.non2xx += o.non2xx;
        self.bad_body += o.bad_body;
        self.transport_errors += o.transport_errors;
        self.gave_up += o.gave_up;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
    }
}

fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .take(FIRST_ERROR_CHARS)
        .collect()
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

async fn load_task<G: Requests>(
    mut conn: Conn,
    mut wgen: G,
    t_warm: Instant,
    t_end: Instant,
    timeout: Duration,
) -> Stats {
    let mut st = Stats::new();
    let mut consecutive_errors = 0u32;
    // Bounded by t_end (and each request by `timeout`).
    loop {
        let (req, check) = wgen.next_request();
        let start = Instant::now();
        if start >= t_end {
            break;
        }
        let res = conn.send_timeout(req, timeout).await;
        let done = Instant::now();
        let measured = start >= t_warm;
        match res {
            Ok((status, body)) => {
                consecutive_errors = 0;
                if measured {
                    st.hist.record(micros(done - start));
                    if done <= t_end {
                        st.counted += 1;
                    }
                }
                if !status.is_success() {
                    if measured {
                        st.non2xx += 1;
                    }
                    st.note_error(|| format!("{} {}", status.as_u16(), snippet(&body)));
                } else if !check.ok(&body) {
                    if measured {
                        st.bad_body += 1;
                    }
                    st.note_error(|| format!("bad body ({check:?}): {}", snippet(&body)));
                }
            }
            Err(e) => {
                if measured {
                    st.transport_errors += 1;
                }
                st.note_error(|| format!("transport error: {e}"));
                consecutive_errors += 1;
                if consecutive_errors >= CONSECUTIVE_ERRORS_MAX {
                    st.gave_up += 1;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(ERROR_BACKOFF_MS)).await;
            }
        }
    }
    st
}

struct Row {
    workload: Workload,
    conns: usize,
    rps: f64,
    stats: Stats,
    gen_cpu_pct: Option<f64>,
}

/// CPU time (user + system) of this process so far, seconds (Linux /proc; None elsewhere).
fn process_cpu_s() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the comm field: state is field 3, utime field 14, stime field 15.
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux platform Rust targets.
    Some((utime + stime) / 100.0)
}

struct RunCfg {
    target: Target,
    table: Arc<str>,
    runtag: String,
    gets: u64,
    parts: u64,
    warmup: Duration,
    duration: Duration,
    timeout: Duration,
}

async fn run_one(cfg: &RunCfg, workload: Workload, conns: usize) -> Result<Row, BoxError> {
    let runtag: Arc<str> = format!("{}c{}", cfg.runtag, conns).into();
    let pad: Arc<str> = "x".repeat(PUT_PAD_LEN).into();
    run_with(cfg, workload, conns, |i, rng| Gen {
        workload,
        rng,
        counter: 0,
        conn_id: i + 1,
        runtag: runtag.clone(),
        table: cfg.table.clone(),
        gets: cfg.gets.max(1),
        parts: cfg.parts.max(1),
        host: cfg.target.host.clone(),
        pad: pad.clone(),
    })
    .await
}

/// One run of `conns` connections, connection `i` sending what `make(i, rng)` makes
/// (`rng` seeded apart for each), labelled `workload` in its row.
async fn run_with<G: Requests>(
    cfg: &RunCfg,
    workload: Workload,
    conns: usize,
    mut make: impl FnMut(usize, Rng) -> G,
) -> Result<Row, BoxError> {
    // Connect everything before the clock starts.
    let mut connections = Vec::with_capacity(conns);
    for _ in 0..conns {
        connections.push(Conn::connect(cfg.target.clone()).await?);
    }
    let seed0 = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    let t_start = Instant::now();
    let t_warm = t_start + cfg.warmup;
    let t_end = t_warm + cfg.duration;
    let mut handles = Vec::with_capacity(conns);
    for (i, conn) in connections.into_iter().enumerate() {
        let wgen = make(i, Rng::new(seed0 ^ ((i as u64 + 1) * 7919)));
        handles.push(tokio::spawn(load_task(
            conn,
            wgen,
            t_warm,
            t_end,
            cfg.timeout,
        )));
    }
    tokio::time::sleep_until(t_warm.into()).await;
    let cpu0 = process_cpu_s();
    tokio::time::sleep_until(t_end.into()).await;
    let cpu1 = process_cpu_s();
    let mut stats = Stats::new();
    for h in handles {
        stats.merge(h.await?);
    }
    let secs = cfg.duration.as_secs_f64();
    let gen_cpu_pct = match (cpu0, cpu1) {
        (Some(a), Some(b)) => Some((b - a) * 100.0 / secs),
        _ => None,
    };
    Ok(Row {
        workload,
        conns,
        rps: stats.counted as f64 / secs,
        stats,
        gen_cpu_pct,
    })
}

fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

fn row_line(r: &Row) -> String {
    let h = &r.stats.hist;
    format!(
        "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {} |",
        r.workload.name(),
        r.conns,
        r.rps,
        ms(h.percentile(50.0)),
        ms(h.percentile(90.0)),
        ms(h.percentile(99.0)),
        ms(h.max),
        r.stats.non2xx,
        r.stats.bad_body
    )
}

// ---- set-up: (re)create the table and preload it ----

fn error_type(v: &Value) -> &str {
    v.get("__type").and_then(Value::as_str).unwrap_or("")
}

async fn call(conn: &mut Conn, op: Op, body: &Value) -> Result<(StatusCode, Value), BoxError> {
    let req = api_request(&conn.target.host.clone(), op, body.to_string());
    let (status, bytes) = conn
        .send_timeout(req, Duration::from_secs(SETUP_CALL_TIMEOUT_S))
        .await
        .map_err(|e| format!("{op:?}: {e}"))?;
    let v: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            format!(
                "{op:?}: {} answered non-JSON ({e}): {}",
                status,
                snippet(&bytes)
            )
        })?
    };
    Ok((status, v))
}

/// TableStatus, or None when the table does not exist.
async fn table_status(conn: &mut Conn, table: &str) -> Result<Option<String>, BoxError> {
    let (status, v) = call(conn, Op::DescribeTable, &json!({ "TableName": table })).await?;
    if status.is_success() {
        let st = v["Table"]["TableStatus"]
            .as_str()
            .unwrap_or("?")
            .to_string();
        Ok(Some(st))
    } else if error_type(&v).contains("ResourceNotFoundException") {
        Ok(None)
    } else {
        Err(format!("DescribeTable: {status} {v}").into())
    }
}

async fn wait_table(conn: &mut Conn, table: &str, want_gone: bool) -> Result<(), BoxError> {
    let deadline = Instant::now() + Duration::from_secs(TABLE_WAIT_S);
    // Bounded by the deadline.
    while Instant::now() < deadline {
        match table_status(conn, table).await? {
            None if want_gone => return Ok(()),
            Some(st) if !want_gone && st == "ACTIVE" => return Ok(()),
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(TABLE_POLL_MS)).await;
    }
    let want = if want_gone { "gone" } else { "ACTIVE" };
    Err(format!("table {table} was not {want} after {TABLE_WAIT_S}s (table_wait_s)").into())
}

fn preload_item(i: usize, gets: usize, pad: &str) -> Value {
    if i < gets {
        json!({"pk": {"S": format!("g{i:06}")}, "sk": {"S": "s"},
               "data": {"S": pad}, "n": {"N": i.to_string()}})
    } else {
        let q = i - gets;
        let (p, j) = (q / PART_ITEMS, q % PART_ITEMS);
        json!({"pk": {"S": format!("q{p:05}")}, "sk": {"S": format!("{j:02}")},
               "data": {"S": pad}, "n": {"N": j.to_string()}})
    }
}

async fn batch_put(conn: &mut Conn, table: &str, items: Vec<Value>) -> Result<(), BoxError> {
    let mut reqs: Vec<Value> = items
        .into_iter()
        .map(|it| json!({"PutRequest": {"Item": it}}))
        .collect();
    for attempt in 1..=BATCH_ATTEMPTS_MAX {
        let body = json!({ "RequestItems": { table: reqs } });
        let retry = match call(conn, Op::BatchWriteItem, &body).await {
            Ok((status, v)) if status.is_success() => {
                match v["UnprocessedItems"][table].as_array() {
                    Some(left) if !left.is_empty() => {
                        reqs = left.clone();
                        true
                    }
                    _ => return Ok(()),
                }
            }
            Ok((status, v)) => {
                let t = error_type(&v);
                if t.contains("Throughput") || t.contains("Throttl") || status.is_server_error() {
                    true
                } else {
                    return Err(format!("BatchWriteItem: {status} {v}").into());
                }
            }
            // Transport errors are retried on a fresh connection.
            Err(_) if attempt < BATCH_ATTEMPTS_MAX => true,
            Err(e) => return Err(e),
        };
        if retry {
            let ms = (BATCH_BACKOFF_MS * u64::from(attempt)).min(BATCH_BACKOFF_MS_MAX);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }
    Err(format!("BatchWriteItem: items still unprocessed after {BATCH_ATTEMPTS_MAX} attempts (batch_attempts_max)").into())
}

async fn setup(args: &Args, target: &Target) -> Result<(), BoxError> {
    setup_with(args, target, create_body(args)).await
}

/// The CreateTable body of the set-up table: `--table`, pk S hash, sk S range,
/// PAY_PER_REQUEST (or PROVISIONED with `--wcu`/`--rcu`), a stream with
/// `--stream-view-type`.
fn create_body(args: &Args) -> Value {
    let mut create = json!({
        "TableName": args.table,
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"}
        ],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"}
        ],
        "BillingMode": "PAY_PER_REQUEST"
    });
    if let Some(units) = args.wcu.or(args.rcu) {
        create["BillingMode"] = json!("PROVISIONED");
        create["ProvisionedThroughput"] = json!({
            "ReadCapacityUnits": args.rcu.unwrap_or(units),
            "WriteCapacityUnits": args.wcu.unwrap_or(units),
        });
    }
    if let Some(view) = &args.stream_view_type {
        create["StreamSpecification"] = json!({"StreamEnabled": true, "StreamViewType": view});
    }
    create
}

/// (Re)creates `--table` with the CreateTable body `create` and preloads it.
async fn setup_with(args: &Args, target: &Target, create: Value) -> Result<(), BoxError> {
    let t0 = Instant::now();
    let table = args.table.as_str();
    let mut c = Conn::new(target.clone());
    if let Some(st) = table_status(&mut c, table).await? {
        if st != "ACTIVE" {
            // DeleteTable of a CREATING/UPDATING table fails; wait for ACTIVE first
            // (a DELETING table simply goes away).
            if st != "DELETING" {
                wait_table(&mut c, table, false).await?;
            }
        }
        if st != "DELETING" {
            let (status, v) = call(&mut c, Op::DeleteTable, &json!({ "TableName": table })).await?;
            if !status.is_success() && !error_type(&v).contains("ResourceNotFoundException") {
                return Err(format!("DeleteTable: {status} {v}").into());
            }
        }
        wait_table(&mut c, table, true).await?;
    }
    let (status, v) = call(&mut c, Op::CreateTable, &create).await?;
    if !status.is_success() {
        return Err(format!("CreateTable: {status} {v}").into());
    }
    wait_table(&mut c, table, false).await?;

    // Preload: batch b holds items b*25 .. b*25+24; worker w does batches w, w+k, w+2k, ...
    let total = args.gets + args.parts * PART_ITEMS;
    let batches = total.div_ceil(BATCH_ITEMS);
    let workers = args.setup_connections.min(batches.max(1));
    let pad: Arc<str> = "y".repeat(PRELOAD_PAD_LEN).into();
    let mut handles = Vec::with_capacity(workers);
    for w in 0..workers {
        let (target, table, pad, gets) =
            (target.clone(), args.table.clone(), pad.clone(), args.gets);
        handles.push(tokio::spawn(async move {
            let mut conn = Conn::new(target);
            for b in (w..batches).step_by(workers) {
                let items = (b * BATCH_ITEMS..((b + 1) * BATCH_ITEMS).min(total))
                    .map(|i| preload_item(i, gets, &pad))
                    .collect();
                batch_put(&mut conn, &table, items).await?;
            }
            Ok::<(), BoxError>(())
        }));
    }
    for h in handles {
        h.await??;
    }

    // Sanity checks: one get and one query.
    if args.gets > 0 {
        let key = json!({"TableName": table, "Key": {"pk": {"S": "g000000"}, "sk": {"S": "s"}}});
        let (status, v) = call(&mut c, Op::GetItem, &key).await?;
        if !status.is_success() || v.get("Item").is_none() {
            return Err(format!("preload check: GetItem g000000 answered {status} {v}").into());
        }
    }
    if args.parts > 0 {
        let q = json!({"TableName": table, "KeyConditionExpression": "pk = :p",
                       "ExpressionAttributeValues": {":p": {"S": "q00000"}}});
        let (status, v) = call(&mut c, Op::Query, &q).await?;
        if !status.is_success() || v["Count"].as_u64() != Some(PART_ITEMS as u64) {
            return Err(format!("preload check: Query q00000 answered {status} {v}").into());
        }
    }
    eprintln!(
        "setup: table {table} at {}: {} get-items + {}x{PART_ITEMS} query-items loaded in {:.1}s",
        args.endpoint,
        args.gets,
        args.parts,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

// ---- main ----

async fn run(args: Args, target: Target) -> Result<(), BoxError> {
    if let Some(n) = args.replication_lag {
        return replication_lag(&args, &target, n).await;
    }
    if let Some(n) = args.trigger_lag {
        return lag::trigger_lag(&args, &target, n).await;
    }
    if let Some(n) = args.trigger_drain_load {
        return lag::drain_load(&args, &target, n).await;
    }
    if let Some(n) = args.trigger_drain {
        return lag::drain(&args, &target, n).await;
    }
    if args.restart_probe {
        return growth::restart_probe(&args, &target).await;
    }
    // The throttle and growth workloads make their own tables.
    let only_own_tables = args
        .workloads
        .iter()
        .all(|w| matches!(w, Workload::Throttle | Workload::Growth));
    if !args.no_setup && !only_own_tables {
        setup(&args, &target).await?;
    }
    if let Some(n) = args.getrecords_drain {
        getrecords_drain(&args, &target, n).await?;
    }
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let cfg = RunCfg {
        target,
        table: args.table.as_str().into(),
        runtag: format!("{unix}{}", std::process::id()),
        gets: args.gets as u64,
        parts: args.parts as u64,
        warmup: Duration::from_secs(args.warmup_s),
        duration: Duration::from_secs(args.duration_s),
        timeout: Duration::from_secs(args.timeout_s),
    };
    let mut rows = Vec::new();
    let mut throttle_failed = false;
    let mut first = true;
    for &wl in &args.workloads {
        for &c in &args.connections {
            if !first {
                tokio::time::sleep(Duration::from_millis(PAUSE_BETWEEN_RUNS_MS)).await;
            }
            first = false;
            if wl == Workload::Throttle {
                throttle_failed |= !throttle::run(&args, &cfg.target, c).await?;
                continue;
            }
            if wl == Workload::Growth {
                growth::run(&args, &cfg, c).await?;
                continue;
            }
            eprintln!(
                "run: {} with {c} connections, {}s warm-up + {}s measured ...",
                wl.name(),
                args.warmup_s,
                args.duration_s
            );
            let row = run_one(&cfg, wl, c).await?;
            eprintln!("{}", row_line(&row));
            rows.push(row);
        }
    }
    // A throttle run that missed its goal fails the command, after every table printed.
    let verdict = || -> Result<(), BoxError> {
        if throttle_failed {
            Err("throttle: nothing was throttled, or the sustained accepted writes/s were not within 5% of the WCU".into())
        } else {
            Ok(())
        }
    };
    if rows.is_empty() {
        return verdict();
    }
    let signing = SIGNER.get().map_or_else(
        || "unsigned (dummy signature)".to_owned(),
        |s| format!("SigV4-signed as {}", s.access_key_id()),
    );
    println!(
        "eddy-load {} ({} threads), {}s warm-up + {}s measured per row, {signing}",
        args.endpoint, args.threads, args.warmup_s, args.duration_s
    );
    println!();
    println!(
        "| workload | conns | req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | bad body |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!("{}", row_line(r));
    }
    println!();
    let cpu: Vec<String> = rows
        .iter()
        .map(|r| {
            let pct = r
                .gen_cpu_pct
                .map_or_else(|| "-".to_string(), |p| format!("{p:.0}%"));
            format!("{} c{} {pct}", r.workload.name(), r.conns)
        })
        .collect();
    println!("Load-generator CPU (100% = one core): {}", cpu.join(", "));
    for r in &rows {
        let s = &r.stats;
        if s.transport_errors > 0 || s.gave_up > 0 {
            println!(
                "- {} c{}: {} transport errors/timeouts, {} connections gave up",
                r.workload.name(),
                r.conns,
                s.transport_errors,
                s.gave_up
            );
        }
        if let Some(e) = &s.first_error {
            println!("- {} c{} first error: {e}", r.workload.name(), r.conns);
        }
    }
    verdict()
}

/// Writes `n` records into one partition of a fresh stream-enabled table and reads them
/// back from their shard with GetRecords, sequentially, as one consumer would.
async fn getrecords_drain(args: &Args, target: &Target, n: usize) -> Result<(), BoxError> {
    let table = format!("{}-drain", args.table);
    let mut c = Conn::new(target.clone());
    if table_status(&mut c, &table).await?.is_some() {
        call(&mut c, Op::DeleteTable, &json!({ "TableName": table })).await?;
        wait_table(&mut c, &table, true).await?;
    }
    let create = json!({
        "TableName": table,
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"}
        ],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"}
        ],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    });
    let (status, v) = call(&mut c, Op::CreateTable, &create).await?;
    if !status.is_success() {
        return Err(format!("CreateTable: {status} {v}").into());
    }
    let arn = v["TableDescription"]["LatestStreamArn"]
        .as_str()
        .ok_or("CreateTable returned no LatestStreamArn: the server has no streams")?
        .to_string();
    let pad: Arc<str> = "y".repeat(PRELOAD_PAD_LEN).into();
    eprintln!("getrecords-drain: writing {n} items into one partition of {table} ...");
    for chunk in (0..n).collect::<Vec<_>>().chunks(BATCH_ITEMS) {
        let items = chunk
            .iter()
            .map(|i| json!({"pk": {"S": "drain"}, "sk": {"S": format!("{i:09}")}, "data": {"S": &*pad}}))
            .collect();
        batch_put(&mut c, &table, items).await?;
    }
    let (_, d) = call(&mut c, Op::DescribeStream, &json!({ "StreamArn": arn })).await?;
    let shards: Vec<String> = d["StreamDescription"]["Shards"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s["ShardId"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let t0 = Instant::now();
    let mut total = 0usize;
    let mut calls = 0usize;
    for shard in shards {
        let (_, it) = call(
            &mut c,
            Op::GetShardIterator,
            &json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .await?;
        let mut iterator = it["ShardIterator"].as_str().map(str::to_string);
        // Only the record count and the next iterator are read from each page, so the
        // load generator's JSON parsing stays small next to the server's work.
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(rename = "Records")]
            records: Vec<serde::de::IgnoredAny>,
            #[serde(rename = "NextShardIterator")]
            next: Option<String>,
        }
        while let Some(i) = iterator {
            let body = json!({"ShardIterator": i, "Limit": 1000}).to_string();
            let req = api_request(&c.target.host.clone(), Op::GetRecords, body);
            let (status, bytes) = c
                .send_timeout(req, Duration::from_secs(SETUP_CALL_TIMEOUT_S))
                .await
                .map_err(|e| format!("GetRecords: {e}"))?;
            if !status.is_success() {
                return Err(format!("GetRecords: {status} {}", snippet(&bytes)).into());
            }
            let page: Page = serde_json::from_slice(&bytes)?;
            calls += 1;
            total += page.records.len();
            if page.records.is_empty() || calls > n {
                break;
            }
            iterator = page.next;
        }
    }
    let el = t0.elapsed().as_secs_f64();
    println!(
        "GetRecords drain (one partition, Limit 1000, one connection): {total} records in {calls} calls, {:.3} s = {:.0} records/s",
        el,
        total as f64 / el
    );
    Ok(())
}

/// How long `--replication-lag` waits for one item to appear in the peer region.
const REPLICATION_WAIT_S: u64 = 30;

/// Writes `n` items one at a time into the replicated table of one region and times each
/// from the PutItem acknowledgement to the first GetItem on the peer that finds it.
async fn replication_lag(args: &Args, target: &Target, n: usize) -> Result<(), BoxError> {
    let n = n.max(1);
    let peer = parse_endpoint(&args.peer_endpoint)?;
    let table = &args.replicated_table;
    let mut here = Conn::new(target.clone());
    let mut there = Conn::new(peer);
    let (status, described) =
        call(&mut here, Op::DescribeTable, &json!({"TableName": table})).await?;
    if !status.is_success() {
        return Err(format!("DescribeTable {table}: {status} {described}").into());
    }
    // The writer's region is the one in the table's ARN (arn:aws:dynamodb:REGION:…).
    let region = described["Table"]["TableArn"]
        .as_str()
        .and_then(|arn| arn.split(':').nth(3))
        .ok_or("DescribeTable returned no TableArn")?
        .to_owned();
    let run = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let mut all = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("lag-{run}-{i}");
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let item = json!({
            "id": {"S": id},
            "payload": {"S": "replication lag probe"},
            "updated_at": {"N": now_ms.to_string()},
            "updated_in": {"S": region},
        });
        let (status, v) = call(
            &mut here,
            Op::PutItem,
            &json!({"TableName": table, "Item": item}),
        )
        .await?;
        if !status.is_success() {
            return Err(format!("PutItem: {status} {v}").into());
        }
        let acked = Instant::now();
        let get = json!({"TableName": table, "Key": {"id": {"S": id}}, "ConsistentRead": true});
        loop {
            let (status, v) = call(&mut there, Op::GetItem, &get).await?;
            if !status.is_success() {
                return Err(format!("GetItem on the peer: {status} {v}").into());
            }
            if v.get("Item").is_some() {
                break;
            }
            if acked.elapsed() > Duration::from_secs(REPLICATION_WAIT_S) {
                return Err(format!(
                    "{id} did not reach {} within {REPLICATION_WAIT_S} s: is the replicator running?",
                    args.peer_endpoint
                )
                .into());
            }
        }
        all.push(micros(acked.elapsed()));
    }
    all.sort_unstable();
    let at = |p: f64| all[((all.len() - 1) as f64 * p).round() as usize];
    println!(
        "replication lag {} -> {} ({n} items, one at a time, PutItem acknowledged -> \
         GetItem finds it): p50 {} ms, p90 {} ms, p99 {} ms, max {} ms",
        args.endpoint,
        args.peer_endpoint,
        ms(at(0.5)),
        ms(at(0.9)),
        ms(at(0.99)),
        ms(at(1.0)),
    );
    Ok(())
}

/// Appends and fdatasyncs `n` times; prints the latency distribution.
fn fsync_probe(dir: &std::path::Path, n: usize) -> Result<(), BoxError> {
    use std::io::Write;
    let path = dir.join(format!("eddy-fsync-probe-{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        file.write_all(&[b'x'; 200])?;
        let t = Instant::now();
        file.sync_data()?;
        lat.push(t.elapsed().as_micros() as u64);
    }
    drop(file);
    std::fs::remove_file(&path)?;
    lat.sort_unstable();
    let at = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
    println!(
        "fdatasync of a 200-byte append in {}: {n} calls, p50 {} us, p99 {} us, max {} us",
        dir.display(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(n) = args.fsync_probe {
        return match fsync_probe(&args.fsync_probe_dir, n.max(1)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("eddy-load: fsync probe: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Err(e) = validate(&args) {
        eprintln!("eddy-load: {e}");
        return ExitCode::from(2);
    }
    match signer(&args) {
        Ok(Some(signer)) => {
            let _ = SIGNER.set(signer);
        }
        Ok(None) => {}
        Err(e) => {
            eprintln!("eddy-load: {e}");
            return ExitCode::from(2);
        }
    }
    let target = match parse_endpoint(&args.endpoint) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("eddy-load: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("eddy-load: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args, target)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eddy-load: error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_round_trip() {
        for v in [
            0u64,
            1,
            255,
            256,
            257,
            1000,
            12_345,
            1 << 20,
            HIST_VALUE_MAX,
        ] {
            let mid = Histogram::value_at(Histogram::index(v));
            let err = mid.abs_diff(v) as f64 / v.max(1) as f64;
            assert!(err < 0.01, "v={v} mid={mid}");
        }
        assert_eq!(Histogram::index(HIST_VALUE_MAX), HIST_BUCKETS - 1);
    }

    #[test]
    fn histogram_percentiles() {
        let mut h = Histogram::new();
        for v in 1..=1000 {
            h.record(v);
        }
        assert!(h.percentile(50.0).abs_diff(500) <= 3);
        assert!(h.percentile(99.0).abs_diff(990) <= 5);
        assert_eq!(h.percentile(100.0), 1000);
    }

    #[test]
    fn body_checks() {
        assert!(count_is_10(br#"{"Count":10,"Items":[]}"#));
        assert!(count_is_10(br#"{"Items":[],"Count" : 10}"#));
        assert!(!count_is_10(br#"{"Count":100}"#));
        assert!(!count_is_10(br#"{"Count":1}"#));
        assert!(Check::Item.ok(br#"{"Item":{}}"#));
        assert!(!Check::Item.ok(b"{}"));
        assert!(Check::Empty.ok(b"{}"));
    }

    #[test]
    fn update_and_put_same_bodies_are_json_of_the_same_item() {
        let g = Gen {
            workload: Workload::Update,
            rng: Rng::new(1),
            counter: 0,
            conn_id: 1,
            runtag: "t".into(),
            table: "loadbench".into(),
            gets: 1,
            parts: 1,
            host: HeaderValue::from_static("127.0.0.1"),
            pad: "x".repeat(PUT_PAD_LEN).into(),
        };
        let u: Value = serde_json::from_str(&g.update_body("g000000", 7)).unwrap();
        let p: Value = serde_json::from_str(&g.put_same_body("g000000", 7)).unwrap();
        assert_eq!(u["Key"]["pk"], p["Item"]["pk"]);
        assert_eq!(u["ExpressionAttributeValues"][":d"], p["Item"]["data"]);
        assert_eq!(u["ExpressionAttributeValues"][":t"], p["Item"]["tag"]);
        assert_eq!(u["ExpressionAttributeValues"][":n"], p["Item"]["n"]);
        assert_eq!(p["Item"].as_object().unwrap().len(), 6);
    }

    #[test]
    fn endpoint_policy() {
        assert!(parse_endpoint("http://127.0.0.1:8000").is_ok());
        assert!(parse_endpoint("http://localhost:8000/").is_ok());
        assert!(parse_endpoint("http://[::1]:8000").is_ok());
        assert!(parse_endpoint("http://10.0.0.1:8000").is_err());
        assert!(parse_endpoint("http://example.com").is_err());
        assert!(parse_endpoint("https://127.0.0.1").is_err());
    }
}
