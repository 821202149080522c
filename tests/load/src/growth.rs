//! The `growth` workload: what a write costs as the table grows, and whether reads of a
//! full table keep the speed of a small one (issue 20).
//!
//! One run on `--table` per connection count of `--connections` (each starts afresh):
//! 1. the table is (re)created (pk S hash, sk S range, PAY_PER_REQUEST; for
//!    `--growth-table-kind gsi-stream` also the GSI `by-gk` on the items' `gk` attribute,
//!    projection `--growth-gsi-projection`, ALL by default, and a NEW_AND_OLD_IMAGES
//!    stream) and preloaded with the set-up's `--gets` g-items and `--parts` x 10
//!    q-items; GetItem and Query (the `get` and `query` workloads) are measured on it:
//!    the small table's baseline;
//! 2. PutItem of `--growth-items` unique items of about 200 bytes, item `i` keyed
//!    `w<hex of a bijective hash of i>` (spread over the whole key space, never
//!    sequential), each connection claiming the next `i` until all are written; a write
//!    that fails is retried with the same key, so the items written are exactly
//!    `0..--growth-items`. One row per `--growth-step` items: req/s, latency p50/p99/max
//!    (from the first attempt to the acknowledgement) and, with `--cpu-pids`, the
//!    server's CPU time per write;
//! 3. with `--cpu-pids`, a wait until the server is idle (its compactions done), whose
//!    CPU is added to the writes' in a second figure;
//! 4. GetItem of keys drawn uniformly from every single-item key written (the g-items
//!    and the growth items) and the same Query on the full table, with their ratios to
//!    the baseline; then a summary against the issue's goals and one `growth-result`
//!    line of `key=value` figures for tests/load/growth.sh.
//!
//! `--no-setup` runs only step 4, on a table an earlier run of the same flags filled.
//! `--restart-probe` times a restarted server's first answers.
//!
//! Owns the key derivation, the step accounting and the report; the connection, the
//! request shapes of the baseline, the histogram and the timed runs are main.rs's. It
//! does not know how the server stores anything.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::ValueEnum;
use http_body_util::Full;
use hyper::Request;
use hyper::header::HeaderValue;
use serde_json::json;

use super::lag::cpu_total;
use super::{
    Args, BoxError, Check, Conn, Op, PUT_PAD_LEN, Requests, Rng, Row, RunCfg, Stats, Target,
    Workload, api_request, ceiling_request, create_body, micros, ms, process_cpu_s, row_line,
    run_one, run_with, setup_with, snippet,
};

/// The most items `--growth-items` may ask for.
const ITEMS_MAX: u64 = 1_000_000_000;
/// The most steps of one run (each keeps a histogram of about 32 KB).
const STEPS_MAX: u64 = 1000;
/// Attempts at one item's PutItem before the run fails: a failed write is retried with
/// the same key, so that the items written stay exactly `0..N`.
const PUT_ATTEMPTS_MAX: u32 = 100;
/// Pause after a failed write before its retry, in milliseconds.
const RETRY_BACKOFF_MS: u64 = 10;
/// How often the write phase looks for steps to print, in milliseconds.
const ROW_POLL_MS: u64 = 250;
/// How often the settle looks at the server's CPU time, in milliseconds.
const SETTLE_POLL_MS: u64 = 1000;
/// The server is idle once [`IDLE_POLLS`] poll intervals in a row each used less than
/// this share of a core, in percent.
const IDLE_CPU_PCT: f64 = 10.0;
/// Quiet polls in a row that make the server idle: a compaction may start a moment
/// after the last write.
const IDLE_POLLS: u32 = 2;
/// The longest wait for the server to become idle after the writes, in seconds.
const SETTLE_WAIT_S_MAX: u64 = 600;
/// Pause between two attempts of the restart probe, in milliseconds.
const PROBE_POLL_MS: u64 = 2;
/// The longest the restart probe waits for the server, in seconds.
const PROBE_WAIT_S: u64 = 300;
/// Timeout of one probe request, in seconds (a server still opening may hold it).
const PROBE_CALL_TIMEOUT_S: u64 = 30;
/// The gsi-stream table's index and its hash key attribute, which every growth item
/// carries.
const GSI_NAME: &str = "by-gk";
const GSI_KEY: &str = "gk";
/// Distinct `gk` values: at 10 M items, index partitions of about 1,000 items.
const GSI_BUCKETS: u64 = 10_000;
/// The issue's goals: the last step's write throughput over the first's, at least.
const STEP_RATIO_GOAL: f64 = 0.8;
/// The worst step's p99, at most, in milliseconds.
const P99_GOAL_MS: f64 = 15.0;
/// Reads on the full table over reads on the small one, at least.
const READ_RATIO_GOAL: f64 = 0.9;

/// The growth workload's table (`--growth-table-kind`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum TableKind {
    /// Keys only: pk S hash, sk S range.
    Plain,
    /// One GSI on `gk` and a NEW_AND_OLD_IMAGES stream.
    GsiStream,
}

impl TableKind {
    fn name(self) -> &'static str {
        match self {
            TableKind::Plain => "plain",
            TableKind::GsiStream => "gsi-stream",
        }
    }
}

/// The GSI's projection (`--growth-gsi-projection`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum Projection {
    All,
    KeysOnly,
}

impl Projection {
    fn wire(self) -> &'static str {
        match self {
            Projection::All => "ALL",
            Projection::KeysOnly => "KEYS_ONLY",
        }
    }
}

/// Checks the growth flags (main's `validate` checks the rest).
pub(super) fn validate(a: &Args) -> Result<(), String> {
    if a.growth_items == 0 || a.growth_items > ITEMS_MAX {
        return Err(format!(
            "--growth-items must be 1..={ITEMS_MAX} (items_max)"
        ));
    }
    if a.growth_step == 0 || a.growth_items.div_ceil(a.growth_step) > STEPS_MAX {
        return Err(format!(
            "--growth-step must be >= 1 and make at most {STEPS_MAX} steps (steps_max)"
        ));
    }
    if a.gets == 0 || a.parts == 0 {
        return Err("the growth workload needs --gets >= 1 and --parts >= 1".into());
    }
    Ok(())
}

/// A bijective mix of 64 bits (splitmix64's finalizer: an added constant, xor-shifts
/// and odd multipliers, each invertible), so distinct counters give distinct keys
/// spread evenly over the key space.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The partition key of growth item `i` (its sort key is `s`, like the g-items').
fn item_key(i: u64) -> String {
    format!("w{:016x}", mix(i))
}

/// The GSI hash key of growth item `i`.
fn gsi_key(i: u64) -> String {
    format!("b{:04}", (mix(i) >> 32) % GSI_BUCKETS)
}

/// The partition key of single-item key `r` of the full table: the first `gets` are
/// the set-up's g-items, the rest the growth items.
fn full_key(r: u64, gets: u64) -> String {
    if r < gets {
        format!("g{r:06}")
    } else {
        item_key(r - gets)
    }
}

/// The items written so far at the end of each step; the last step is shorter when
/// `step` does not divide `items`.
fn step_ends(items: u64, step: u64) -> Vec<u64> {
    let step = step.max(1);
    (1..=items.div_ceil(step))
        .map(|k| (k * step).min(items))
        .collect()
}

/// The step whose end `done` items reach exactly, if any.
fn step_ended(done: u64, step: u64, items: u64) -> Option<usize> {
    let step = step.max(1);
    (done > 0 && (done.is_multiple_of(step) || done == items)).then(|| ((done - 1) / step) as usize)
}

/// The PutItem body of growth item `i`: about 200 bytes of item (key, `gk`, 165 bytes
/// of padding, a number), the same for both table kinds.
fn put_body(table: &str, i: u64, pad: &str) -> String {
    format!(
        r#"{{"TableName":"{table}","Item":{{"pk":{{"S":"{}"}},"sk":{{"S":"s"}},"{GSI_KEY}":{{"S":"{}"}},"data":{{"S":"{pad}"}},"n":{{"N":"{i}"}}}}}}"#,
        item_key(i),
        gsi_key(i)
    )
}

/// The CreateTable body of the growth table of `kind`.
fn create(args: &Args, kind: TableKind) -> serde_json::Value {
    let mut create = create_body(args);
    if kind == TableKind::GsiStream {
        if let Some(defs) = create["AttributeDefinitions"].as_array_mut() {
            defs.push(json!({"AttributeName": GSI_KEY, "AttributeType": "S"}));
        }
        let mut gsi = json!({
            "IndexName": GSI_NAME,
            "KeySchema": [{"AttributeName": GSI_KEY, "KeyType": "HASH"}],
            "Projection": {"ProjectionType": args.growth_gsi_projection.wire()},
        });
        // A provisioned table's index needs its own capacity; give it the table's.
        if let Some(p) = create.get("ProvisionedThroughput") {
            gsi["ProvisionedThroughput"] = p.clone();
        }
        create["GlobalSecondaryIndexes"] = json!([gsi]);
        create["StreamSpecification"] =
            json!({"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"});
    }
    create
}

/// GetItem of a key drawn uniformly from every single-item key of the full table.
struct FullGet {
    rng: Rng,
    table: Arc<str>,
    host: HeaderValue,
    gets: u64,
    items: u64,
}

impl Requests for FullGet {
    fn next_request(&mut self) -> (Request<Full<Bytes>>, Check) {
        let pk = full_key(self.rng.below(self.gets + self.items), self.gets);
        let body = format!(
            r#"{{"TableName":"{}","Key":{{"pk":{{"S":"{pk}"}},"sk":{{"S":"s"}}}}}}"#,
            self.table
        );
        (api_request(&self.host, Op::GetItem, body), Check::Item)
    }
}

/// When a step ended: the instant and the server's CPU time so far, in seconds.
#[derive(Clone, Copy)]
struct Mark {
    at: Instant,
    server_cpu_s: f64,
}

/// What the writers share: the next item to claim, the items acknowledged, the end of
/// each step and each step's statistics.
struct Shared {
    next: AtomicU64,
    done: AtomicU64,
    marks: Mutex<Vec<Option<Mark>>>,
    steps: Mutex<Vec<Stats>>,
}

impl Shared {
    fn add(&self, step: usize, st: Stats) {
        let mut steps = self.steps.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = steps.get_mut(step) {
            s.merge(st);
        }
    }
}

/// What every writer needs to know.
struct WriteCfg {
    target: Target,
    table: Arc<str>,
    pad: Arc<str>,
    items: u64,
    step: u64,
    timeout: Duration,
    cpu_pids: Vec<u32>,
}

/// One writer: claims the next item until every one is claimed, writes it (retrying
/// with the same key), and records its latency in its step's statistics.
async fn writer(mut conn: Conn, shared: Arc<Shared>, cfg: Arc<WriteCfg>) -> Result<(), BoxError> {
    // The claimed items only grow, so one step's statistics are held at a time.
    let mut current: Option<(usize, Stats)> = None;
    // Bounded by the items: each pass claims one, and each item by PUT_ATTEMPTS_MAX.
    loop {
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        if i >= cfg.items {
            break;
        }
        let step = (i / cfg.step) as usize;
        if let Some((s, st)) = current.take_if(|(s, _)| *s != step) {
            shared.add(s, st);
        }
        let (_, st) = current.get_or_insert_with(|| (step, Stats::new()));
        let body = put_body(&cfg.table, i, &cfg.pad);
        let start = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let req = api_request(&cfg.target.host, Op::PutItem, body.clone());
            match conn.send_timeout(req, cfg.timeout).await {
                Ok((status, answer)) if status.is_success() => {
                    st.hist.record(micros(start.elapsed()));
                    st.counted += 1;
                    if !Check::Empty.ok(&answer) {
                        st.bad_body += 1;
                        st.note_error(|| format!("bad body (Empty): {}", snippet(&answer)));
                    }
                    break;
                }
                Ok((status, answer)) => {
                    st.non2xx += 1;
                    st.note_error(|| format!("{} {}", status.as_u16(), snippet(&answer)));
                }
                Err(e) => {
                    st.transport_errors += 1;
                    st.note_error(|| format!("transport error: {e}"));
                }
            }
            if attempt >= PUT_ATTEMPTS_MAX {
                let first = st.first_error.clone().unwrap_or_default();
                return Err(format!(
                    "PutItem of growth item {i} failed {PUT_ATTEMPTS_MAX} times \
                     (put_attempts_max); first error: {first}"
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(RETRY_BACKOFF_MS)).await;
        }
        let done = shared.done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(k) = step_ended(done, cfg.step, cfg.items) {
            let mark = Mark {
                at: Instant::now(),
                server_cpu_s: cpu_total(&cfg.cpu_pids),
            };
            let mut marks = shared.marks.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(m) = marks.get_mut(k + 1) {
                *m = Some(mark);
            }
        }
    }
    if let Some((s, st)) = current {
        shared.add(s, st);
    }
    Ok(())
}

/// One printed step of the writes.
struct StepRow {
    items: u64,
    rps: f64,
    p50_us: u64,
    p99_us: u64,
    max_us: u64,
    cpu_us_per_write: Option<f64>,
    errors: u64,
}

/// The write phase's outcome.
struct Writes {
    rows: Vec<StepRow>,
    elapsed_s: f64,
    server_cpu_s: f64,
    gen_cpu_s: Option<f64>,
    first_error: Option<String>,
}

/// Writes every growth item on `conns` connections and prints a row per step.
async fn write_all(args: &Args, cfg: &RunCfg, conns: usize) -> Result<Writes, BoxError> {
    let items = args.growth_items;
    let ends = step_ends(items, args.growth_step);
    let wcfg = Arc::new(WriteCfg {
        target: cfg.target.clone(),
        table: cfg.table.clone(),
        pad: "x".repeat(PUT_PAD_LEN).into(),
        items,
        step: args.growth_step,
        timeout: cfg.timeout,
        cpu_pids: args.cpu_pids.clone(),
    });
    let shared = Arc::new(Shared {
        next: AtomicU64::new(0),
        done: AtomicU64::new(0),
        marks: Mutex::new(vec![None; ends.len() + 1]),
        steps: Mutex::new((0..ends.len()).map(|_| Stats::new()).collect()),
    });
    let mut connections = Vec::with_capacity(conns);
    for _ in 0..conns {
        connections.push(Conn::connect(cfg.target.clone()).await?);
    }
    eprintln!(
        "growth: writing {items} items on {conns} connections, a row every {} items ...",
        args.growth_step
    );
    println!("| items | req/s | p50 ms | p99 ms | max ms | server CPU us/write | errors |");
    println!("|---|---|---|---|---|---|---|");
    let gen_cpu0 = process_cpu_s();
    let start = Mark {
        at: Instant::now(),
        server_cpu_s: cpu_total(&args.cpu_pids),
    };
    if let Some(m) = shared
        .marks
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .first_mut()
    {
        *m = Some(start);
    }
    let mut handles: Vec<_> = connections
        .into_iter()
        .map(|c| tokio::spawn(writer(c, shared.clone(), wcfg.clone())))
        .collect();
    // Prints each step's row as soon as every write of it has been answered and handed
    // in by its writer (a writer hands a step's statistics in when it claims an item of
    // a later step, or ends). Bounded by the writers, which end once every item is
    // written or one fails.
    let mut printed = 0;
    let mut rows = Vec::with_capacity(ends.len());
    let mut failure = None;
    let mut first_error = None;
    while printed < ends.len() {
        tokio::time::sleep(Duration::from_millis(ROW_POLL_MS)).await;
        let (finished, running): (Vec<_>, Vec<_>) =
            handles.into_iter().partition(|h| h.is_finished());
        handles = running;
        for h in finished {
            if let Err(e) = h.await? {
                failure.get_or_insert(e);
            }
        }
        if failure.is_some() {
            break;
        }
        while printed < ends.len() {
            let n = ends[printed] - if printed == 0 { 0 } else { ends[printed - 1] };
            let marks = shared.marks.lock().unwrap_or_else(PoisonError::into_inner);
            let (Some(a), Some(b)) = (marks[printed], marks[printed + 1]) else {
                break;
            };
            drop(marks);
            let stats = {
                let mut steps = shared.steps.lock().unwrap_or_else(PoisonError::into_inner);
                if steps[printed].counted < n {
                    break;
                }
                std::mem::replace(&mut steps[printed], Stats::new())
            };
            let secs = (b.at - a.at).as_secs_f64().max(1e-9);
            let row = StepRow {
                items: ends[printed],
                rps: n as f64 / secs,
                p50_us: stats.hist.percentile(50.0),
                p99_us: stats.hist.percentile(99.0),
                max_us: stats.hist.max,
                cpu_us_per_write: (!args.cpu_pids.is_empty())
                    .then(|| (b.server_cpu_s - a.server_cpu_s) * 1e6 / n as f64),
                errors: stats.non2xx + stats.transport_errors + stats.bad_body,
            };
            println!("{}", step_line(&row));
            rows.push(row);
            if let Some(e) = stats.first_error {
                first_error.get_or_insert(format!("step {}: {e}", printed + 1));
            }
            printed += 1;
        }
        if handles.is_empty() && failure.is_none() && printed < ends.len() {
            return Err(format!(
                "every writer ended, but step {} was not whole: a bug in the step accounting",
                printed + 1
            )
            .into());
        }
    }
    if let Some(e) = failure {
        // The other writers stop at the next claim; they are not waited for.
        shared.next.store(items, Ordering::Relaxed);
        return Err(e);
    }
    for h in handles {
        h.await??;
    }
    let marks = shared.marks.lock().unwrap_or_else(PoisonError::into_inner);
    let end = marks
        .last()
        .copied()
        .flatten()
        .ok_or("the last step's end was not marked")?;
    Ok(Writes {
        rows,
        elapsed_s: (end.at - start.at).as_secs_f64(),
        server_cpu_s: end.server_cpu_s - start.server_cpu_s,
        gen_cpu_s: process_cpu_s().zip(gen_cpu0).map(|(b, a)| b - a),
        first_error,
    })
}

fn step_line(r: &StepRow) -> String {
    format!(
        "| {} | {:.0} | {} | {} | {} | {} | {} |",
        r.items,
        r.rps,
        ms(r.p50_us),
        ms(r.p99_us),
        ms(r.max_us),
        r.cpu_us_per_write
            .map_or_else(|| "-".to_owned(), |c| format!("{c:.1}")),
        r.errors
    )
}

/// Waits until the server (the `pids`) used less than [`IDLE_CPU_PCT`] of a core over
/// [`IDLE_POLLS`] polls in a row, at most [`SETTLE_WAIT_S_MAX`]; returns the seconds
/// waited and the CPU seconds the server spent meanwhile.
async fn settle(pids: &[u32]) -> (f64, f64) {
    let t0 = Instant::now();
    let cpu0 = cpu_total(pids);
    let mut last = cpu0;
    let mut quiet = 0;
    // Bounded by SETTLE_WAIT_S_MAX.
    while t0.elapsed() < Duration::from_secs(SETTLE_WAIT_S_MAX) {
        tokio::time::sleep(Duration::from_millis(SETTLE_POLL_MS)).await;
        let now = cpu_total(pids);
        let pct = (now - last) * 100.0 / (SETTLE_POLL_MS as f64 / 1000.0);
        last = now;
        quiet = if pct < IDLE_CPU_PCT { quiet + 1 } else { 0 };
        if quiet >= IDLE_POLLS {
            break;
        }
    }
    (t0.elapsed().as_secs_f64(), last - cpu0)
}

/// GetItem and Query runs, printed as rows; returns (get, query).
async fn reads(
    cfg: &RunCfg,
    conns: usize,
    full_items: Option<u64>,
) -> Result<(Row, Row), BoxError> {
    let get = match full_items {
        None => run_one(cfg, Workload::Get, conns).await?,
        Some(items) => {
            run_with(cfg, Workload::Get, conns, |_, rng| FullGet {
                rng,
                table: cfg.table.clone(),
                host: cfg.target.host.clone(),
                gets: cfg.gets,
                items,
            })
            .await?
        }
    };
    println!("{}", row_line(&get));
    tokio::time::sleep(Duration::from_millis(super::PAUSE_BETWEEN_RUNS_MS)).await;
    let query = run_one(cfg, Workload::Query, conns).await?;
    println!("{}", row_line(&query));
    for r in [&get, &query] {
        if let Some(e) = &r.stats.first_error {
            println!("- {} first error: {e}", r.workload.name());
        }
    }
    Ok((get, query))
}

fn read_header(what: &str, cfg: &RunCfg) {
    println!();
    println!(
        "{what}, {} s warm-up + {} s measured:",
        cfg.warmup.as_secs(),
        cfg.duration.as_secs()
    );
    println!(
        "| workload | conns | req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | bad body |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

/// The growth workload with `conns` connections (see the module's comment).
pub(super) async fn run(args: &Args, cfg: &RunCfg, conns: usize) -> Result<(), BoxError> {
    let kind = args.growth_table_kind;
    let items = args.growth_items;
    let full = cfg.gets + items;
    let cpu_note = if args.cpu_pids.is_empty() {
        "no server CPU (give --cpu-pids)".to_owned()
    } else {
        format!("server CPU of pids {:?}", args.cpu_pids)
    };
    let shape = match kind {
        TableKind::Plain => "pk S hash, sk S range".to_owned(),
        TableKind::GsiStream => format!(
            "pk S hash, sk S range, GSI {GSI_NAME} on {GSI_KEY} (projection {}), stream \
             NEW_AND_OLD_IMAGES",
            args.growth_gsi_projection.wire()
        ),
    };
    println!(
        "growth: table {} ({}: {shape}) at {}, {items} items of ~200 B in steps of {}, \
         {conns} connections, {cpu_note}",
        cfg.table,
        kind.name(),
        args.endpoint,
        args.growth_step
    );
    if args.no_setup {
        // The table holds what an earlier run of the same flags wrote: only the reads.
        read_header(&format!("reads at {full} single items (--no-setup)"), cfg);
        let (get, query) = reads(cfg, conns, Some(items)).await?;
        println!(
            "growth-result kind={} items={items} get_rps={:.0} query_rps={:.0}",
            kind.name(),
            get.rps,
            query.rps
        );
        return Ok(());
    }
    setup_with(args, &cfg.target, create(args, kind)).await?;
    read_header(
        &format!(
            "reads at {} g-items and {} x 10 q-items (the small table)",
            cfg.gets, cfg.parts
        ),
        cfg,
    );
    let (get0, query0) = reads(cfg, conns, None).await?;

    println!();
    let writes = write_all(args, cfg, conns).await?;
    let (settle_s, settle_cpu_s) = if args.cpu_pids.is_empty() {
        (0.0, 0.0)
    } else {
        eprintln!("growth: waiting for the server to become idle ...");
        settle(&args.cpu_pids).await
    };

    read_header(
        &format!("reads at {full} single items (the full table: GetItem over all of them)"),
        cfg,
    );
    let (get1, query1) = reads(cfg, conns, Some(items)).await?;

    let (first, last) = match (writes.rows.first(), writes.rows.last()) {
        (Some(f), Some(l)) => (f, l),
        _ => return Err("no step was written".into()),
    };
    let step_ratio = last.rps / first.rps.max(1e-9);
    let (worst_at, worst) = writes
        .rows
        .iter()
        .enumerate()
        .max_by_key(|(_, r)| r.p99_us)
        .map_or((0, 0), |(k, r)| (k + 1, r.p99_us));
    let worst_ms = worst as f64 / 1000.0;
    let get_ratio = get1.rps / get0.rps.max(1e-9);
    let query_ratio = query1.rps / query0.rps.max(1e-9);
    let cpu_per_write = writes.server_cpu_s * 1e6 / items as f64;
    let cpu_settled = (writes.server_cpu_s + settle_cpu_s) * 1e6 / items as f64;
    let errors: u64 = writes.rows.iter().map(|r| r.errors).sum();
    println!();
    println!(
        "summary ({}, {items} items, {conns} connections):",
        kind.name()
    );
    println!(
        "- writes: {items} in {:.1} s = {:.0} req/s; {errors} failed attempts (retried)",
        writes.elapsed_s,
        items as f64 / writes.elapsed_s.max(1e-9)
    );
    println!(
        "- write throughput, last step / first step: {:.0} / {:.0} req/s = {step_ratio:.3} \
         (goal >= {STEP_RATIO_GOAL}: {})",
        last.rps,
        first.rps,
        verdict(step_ratio >= STEP_RATIO_GOAL)
    );
    println!(
        "- worst step p99: {worst_ms:.3} ms (step {worst_at}) (goal <= {P99_GOAL_MS} ms: {})",
        verdict(worst_ms <= P99_GOAL_MS)
    );
    println!(
        "- GetItem, full / small table: {:.0} / {:.0} req/s = {get_ratio:.3} (goal >= \
         {READ_RATIO_GOAL}: {})",
        get1.rps,
        get0.rps,
        verdict(get_ratio >= READ_RATIO_GOAL)
    );
    println!(
        "- Query, full / small table: {:.0} / {:.0} req/s = {query_ratio:.3} (goal >= \
         {READ_RATIO_GOAL}: {})",
        query1.rps,
        query0.rps,
        verdict(query_ratio >= READ_RATIO_GOAL)
    );
    if !args.cpu_pids.is_empty() {
        println!(
            "- server CPU per write: {cpu_per_write:.1} us during the writes; \
             {cpu_settled:.1} us with the {settle_s:.0} s until the server was idle \
             ({settle_cpu_s:.1} CPU s)"
        );
    }
    if let Some(g) = writes.gen_cpu_s {
        println!(
            "- load generator CPU during the writes: {:.0}% (100% = one core)",
            g * 100.0 / writes.elapsed_s.max(1e-9)
        );
    }
    if let Some(e) = &writes.first_error {
        println!("- first write error: {e}");
    }
    let cpu = |v: f64| {
        if args.cpu_pids.is_empty() {
            "-".to_owned()
        } else {
            format!("{v:.2}")
        }
    };
    println!(
        "growth-result kind={} items={items} write_s={:.1} first_rps={:.0} last_rps={:.0} \
         step_ratio={step_ratio:.3} worst_p99_ms={worst_ms:.3} worst_step={worst_at} \
         get0_rps={:.0} get_rps={:.0} get_ratio={get_ratio:.3} query0_rps={:.0} \
         query_rps={:.0} query_ratio={query_ratio:.3} cpu_us_per_write={} \
         cpu_us_per_write_settled={} settle_s={settle_s:.1} write_errors={errors}",
        kind.name(),
        writes.elapsed_s,
        first.rps,
        last.rps,
        get0.rps,
        get1.rps,
        query0.rps,
        query1.rps,
        cpu(cpu_per_write),
        cpu(cpu_settled),
    );
    Ok(())
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Sends `make()` until an answer is a 2xx passing `check`, at most [`PROBE_WAIT_S`];
/// returns when it came, in microseconds since the Unix epoch.
async fn probe(
    target: Target,
    make: impl Fn() -> Request<Full<Bytes>>,
    check: Check,
) -> Result<u64, BoxError> {
    let deadline = Instant::now() + Duration::from_secs(PROBE_WAIT_S);
    let mut conn = Conn::new(target);
    let mut last = String::new();
    // Bounded by the deadline.
    while Instant::now() < deadline {
        match conn
            .send_timeout(make(), Duration::from_secs(PROBE_CALL_TIMEOUT_S))
            .await
        {
            Ok((status, body)) if status.is_success() && check.ok(&body) => return Ok(now_us()),
            Ok((status, body)) => last = format!("{} {}", status.as_u16(), snippet(&body)),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(PROBE_POLL_MS)).await;
    }
    Err(format!("no good answer within {PROBE_WAIT_S} s (probe_wait_s); last: {last}").into())
}

/// `--restart-probe`: how long after `--spawned-at-us` the server first answered `GET /`
/// and first found growth item 0 with GetItem (both polled at once).
pub(super) async fn restart_probe(args: &Args, target: &Target) -> Result<(), BoxError> {
    let since = args.spawned_at_us.unwrap_or_else(now_us);
    let host = target.host.clone();
    let root = tokio::spawn(probe(
        target.clone(),
        move || ceiling_request(&host),
        Check::Healthy,
    ));
    let body = format!(
        r#"{{"TableName":"{}","Key":{{"pk":{{"S":"{}"}},"sk":{{"S":"s"}}}}}}"#,
        args.table,
        item_key(0)
    );
    let host = target.host.clone();
    let get = tokio::spawn(probe(
        target.clone(),
        move || api_request(&host, Op::GetItem, body.clone()),
        Check::Item,
    ));
    let root_ms = root
        .await?
        .map_err(|e| format!("GET /: {e}"))?
        .saturating_sub(since) as f64
        / 1e3;
    let get_ms = get
        .await?
        .map_err(|e| format!("GetItem: {e}"))?
        .saturating_sub(since) as f64
        / 1e3;
    println!(
        "restart: GET / answered {root_ms:.1} ms after the spawn; GetItem found growth item 0 \
         {get_ms:.1} ms after"
    );
    println!("restart-result root_ms={root_ms:.1} get_item_ms={get_ms:.1}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_distinct_deterministic_and_not_sequential() {
        let n = 200_000;
        let mut keys: Vec<String> = (0..n).map(item_key).collect();
        assert_eq!(
            item_key(12_345),
            keys[12_345],
            "the same counter, the same key"
        );
        assert!(keys.iter().all(|k| k.len() == 17 && k.starts_with('w')));
        // Consecutive counters land far apart: not in key order.
        let in_order = keys.windows(2).filter(|w| w[0] < w[1]).count();
        assert!(in_order > n as usize / 3 && in_order < 2 * n as usize / 3);
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), n as usize, "every counter its own key");
    }

    #[test]
    fn full_table_keys_cover_the_g_items_then_the_growth_items() {
        assert_eq!(full_key(0, 20_000), "g000000");
        assert_eq!(full_key(19_999, 20_000), "g019999");
        assert_eq!(full_key(20_000, 20_000), item_key(0));
        assert_eq!(full_key(20_007, 20_000), item_key(7));
    }

    #[test]
    fn steps_end_every_step_and_at_the_last_item() {
        assert_eq!(step_ends(300_000, 100_000), vec![100_000, 200_000, 300_000]);
        assert_eq!(step_ends(250, 100), vec![100, 200, 250]);
        assert_eq!(step_ends(50, 100), vec![50]);
        assert_eq!(step_ended(100, 100, 250), Some(0));
        assert_eq!(step_ended(200, 100, 250), Some(1));
        assert_eq!(step_ended(250, 100, 250), Some(2));
        assert_eq!(step_ended(150, 100, 250), None);
        assert_eq!(step_ended(0, 100, 250), None);
        // Every end in step_ends is an end step_ended sees, in order.
        let ends = step_ends(1_050, 100);
        let seen: Vec<usize> = (1..=1_050)
            .filter_map(|d| step_ended(d, 100, 1_050))
            .collect();
        assert_eq!(seen, (0..ends.len()).collect::<Vec<_>>());
    }

    #[test]
    fn items_are_about_200_bytes_and_carry_the_gsi_key() {
        let pad = "x".repeat(PUT_PAD_LEN);
        let v: serde_json::Value = serde_json::from_str(&put_body("t", 9_999_999, &pad)).unwrap();
        let item = v["Item"].as_object().unwrap();
        // DynamoDB's item size: attribute names plus values (a number about its digits).
        let size: usize = item
            .iter()
            .map(|(k, v)| {
                k.len()
                    + v.as_object()
                        .unwrap()
                        .values()
                        .next()
                        .unwrap()
                        .as_str()
                        .unwrap()
                        .len()
            })
            .sum();
        assert!((190..=215).contains(&size), "{size} bytes");
        assert!(item[GSI_KEY]["S"].as_str().unwrap().starts_with('b'));
        assert_eq!(item["pk"]["S"], item_key(9_999_999));
    }
}
