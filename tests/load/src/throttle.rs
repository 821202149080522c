//! The `throttle` workload: does a provisioned table hold its writers to its capacity?
//!
//! It (re)creates `<table>-throttle`, PROVISIONED with `--wcu` write units, and writes
//! to it as fast as `--connections` connections can (PutItem of small items with
//! unique random keys, so each write is one WCU and the writes spread over every
//! partition), counting per second the writes accepted, the writes throttled
//! (`ProvisionedThroughputExceededException` or `ThrottlingException`, read from the
//! answer's `__type`) and anything else.
//!
//! A fresh table may first spend burst capacity (DynamoDB keeps up to 300 s of unused
//! capacity), so the run has two phases: the burst, until the first throttled write
//! (at most `--burst-wait-s`), printed apart; then, after one more second to settle, a
//! window of `--duration-s` whole seconds, whose accepted writes per second are
//! compared with the WCU (the goal: within 5%).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::{
    Args, BoxError, Conn, Op, Rng, Target, api_request, call, snippet, table_status, wait_table,
};

/// Seconds skipped between the burst (the first second with a throttled write) and the
/// measured window, so that the window starts with the bucket already drained.
const SETTLE_S: u64 = 1;
/// The largest `--burst-wait-s`.
pub(super) const BURST_WAIT_S_MAX: u64 = 3600;
/// How often the coordinator looks for the first throttled write, in milliseconds.
const BURST_POLL_MS: u64 = 50;
/// Bytes of padding in each item: with the key, well under 1 KB, so one WCU a write.
const ITEM_PAD_LEN: usize = 100;
/// How close the sustained rate must be to the WCU to pass, in percent.
const TOLERANCE_PCT: f64 = 5.0;
/// The throttling error types (the part of `__type` after `#`).
const THROTTLING_TYPES: [&str; 2] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
];

/// Per-second counters of one run, indexed by whole seconds since its start.
struct Seconds {
    accepted: Vec<AtomicU64>,
    throttled: Vec<AtomicU64>,
    other: Vec<AtomicU64>,
}

impl Seconds {
    fn new(len: usize) -> Self {
        let zeros = || (0..len).map(|_| AtomicU64::new(0)).collect();
        Seconds {
            accepted: zeros(),
            throttled: zeros(),
            other: zeros(),
        }
    }

    fn sum(v: &[AtomicU64], from: usize, to: usize) -> u64 {
        v[from.min(v.len())..to.min(v.len())]
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .sum()
    }
}

/// What one answer was, from its status and body.
fn classify(status: hyper::StatusCode, body: &[u8]) -> Outcome {
    if status.is_success() {
        return Outcome::Accepted;
    }
    let kind = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("__type")?.as_str().map(str::to_owned))
        .unwrap_or_default();
    let short = kind.rsplit_once('#').map_or(kind.as_str(), |(_, s)| s);
    if THROTTLING_TYPES.contains(&short) {
        Outcome::Throttled
    } else {
        Outcome::Other
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Accepted,
    Throttled,
    Other,
}

/// Creates `table` PROVISIONED with `rcu`/`wcu`, deleting any table of that name first.
async fn create(target: &Target, table: &str, rcu: u64, wcu: u64) -> Result<(), BoxError> {
    let mut c = Conn::new(target.clone());
    if table_status(&mut c, table).await?.is_some() {
        call(&mut c, Op::DeleteTable, &json!({ "TableName": table })).await?;
        wait_table(&mut c, table, true).await?;
    }
    let create = json!({
        "TableName": table,
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "BillingMode": "PROVISIONED",
        "ProvisionedThroughput": {"ReadCapacityUnits": rcu, "WriteCapacityUnits": wcu},
    });
    let (status, v) = call(&mut c, Op::CreateTable, &create).await?;
    if !status.is_success() {
        return Err(format!("CreateTable: {status} {v}").into());
    }
    wait_table(&mut c, table, false).await
}

/// One writer: PutItem back to back until `stop_ms` (milliseconds since `t0`), each
/// answer counted in the second it arrived.
#[allow(clippy::too_many_arguments)]
async fn writer(
    mut conn: Conn,
    table: Arc<str>,
    id: usize,
    seconds: Arc<Seconds>,
    first_throttle_ms: Arc<AtomicU64>,
    stop_ms: Arc<AtomicU64>,
    t0: Instant,
    backoff: Duration,
    timeout: Duration,
) -> Option<String> {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let mut rng = Rng::new(seed ^ ((id as u64 + 1) * 7919));
    let pad = "x".repeat(ITEM_PAD_LEN);
    let mut first_error = None;
    // Bounded by stop_ms, which the coordinator always sets (at the latest after the
    // burst wait and the window), and each request by `timeout`.
    loop {
        let now_ms = t0.elapsed().as_millis() as u64;
        if now_ms >= stop_ms.load(Ordering::Relaxed) {
            break;
        }
        let key = format!("t{id}-{:016x}", rng.next());
        let body = format!(
            r#"{{"TableName":"{table}","Item":{{"pk":{{"S":"{key}"}},"data":{{"S":"{pad}"}}}}}}"#
        );
        let req = api_request(&conn.target.host.clone(), Op::PutItem, body);
        let res = conn.send_timeout(req, timeout).await;
        let done_ms = t0.elapsed().as_millis() as u64;
        let second = (done_ms / 1000) as usize;
        let slot = |v: &Vec<AtomicU64>| v.get(second).map(|n| n.fetch_add(1, Ordering::Relaxed));
        match res.map(|(status, body)| (classify(status, &body), status, body)) {
            Ok((Outcome::Accepted, _, _)) => {
                slot(&seconds.accepted);
            }
            Ok((Outcome::Throttled, _, _)) => {
                slot(&seconds.throttled);
                first_throttle_ms.fetch_min(done_ms, Ordering::Relaxed);
                if !backoff.is_zero() {
                    tokio::time::sleep(backoff).await;
                }
            }
            Ok((Outcome::Other, status, body)) => {
                slot(&seconds.other);
                first_error.get_or_insert_with(|| format!("{status} {}", snippet(&body)));
            }
            Err(e) => {
                slot(&seconds.other);
                first_error.get_or_insert_with(|| format!("transport error: {e}"));
                tokio::time::sleep(Duration::from_millis(super::ERROR_BACKOFF_MS)).await;
            }
        }
    }
    first_error
}

/// The run's phases in whole seconds since its start: the burst ends with the second
/// of the first throttled write (or after the whole wait when none came), the window
/// starts [`SETTLE_S`] later and lasts `duration_s`. Returns (burst end, window start,
/// window end).
fn phases(first_throttle_ms: Option<u64>, burst_wait_s: u64, duration_s: u64) -> (u64, u64, u64) {
    let burst_end_s = first_throttle_ms.map_or(burst_wait_s, |ms| ms / 1000 + 1);
    let from = burst_end_s + SETTLE_S;
    (burst_end_s, from, from + duration_s)
}

/// The `throttle` workload with `conns` connections (see the module's comment).
pub(super) async fn run(args: &Args, target: &Target, conns: usize) -> Result<bool, BoxError> {
    let wcu = args
        .wcu
        .ok_or("the throttle workload needs --wcu (the table's provisioned write units)")?;
    let rcu = args.rcu.unwrap_or(1);
    let table: Arc<str> = format!("{}-throttle", args.table).into();
    create(target, &table, rcu, wcu).await?;
    let mut connections = Vec::with_capacity(conns);
    for _ in 0..conns {
        connections.push(Conn::connect(target.clone()).await?);
    }
    let burst_wait_s = args.burst_wait_s;
    // Every second the run can last: the burst wait, the settling and the window.
    let len = (burst_wait_s + 1 + SETTLE_S + args.duration_s + 1) as usize;
    let seconds = Arc::new(Seconds::new(len));
    let first_throttle_ms = Arc::new(AtomicU64::new(u64::MAX));
    let stop_ms = Arc::new(AtomicU64::new(len as u64 * 1000));
    eprintln!(
        "throttle: {table}, {wcu} WCU provisioned, {conns} connections writing; waiting up to \
         {burst_wait_s} s for the burst to end ..."
    );
    let t0 = Instant::now();
    let backoff = Duration::from_millis(args.throttle_backoff_ms);
    let timeout = Duration::from_secs(args.timeout_s);
    let handles: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(i, conn)| {
            tokio::spawn(writer(
                conn,
                table.clone(),
                i,
                seconds.clone(),
                first_throttle_ms.clone(),
                stop_ms.clone(),
                t0,
                backoff,
                timeout,
            ))
        })
        .collect();
    // Waits for the first throttled write, bounded by the burst wait.
    let burst_deadline = t0 + Duration::from_secs(burst_wait_s);
    while first_throttle_ms.load(Ordering::Relaxed) == u64::MAX && Instant::now() < burst_deadline {
        tokio::time::sleep(Duration::from_millis(BURST_POLL_MS)).await;
    }
    let first = first_throttle_ms.load(Ordering::Relaxed);
    let throttled_at_all = first != u64::MAX;
    let (burst_end_s, window_from, window_to) = phases(
        throttled_at_all.then_some(first),
        burst_wait_s,
        args.duration_s,
    );
    stop_ms.store(window_to * 1000, Ordering::Relaxed);
    let mut first_error = None;
    for h in handles {
        if let Some(e) = h.await? {
            first_error.get_or_insert(e);
        }
    }

    let (from, to) = (window_from as usize, window_to as usize);
    let burst_accepted = Seconds::sum(&seconds.accepted, 0, burst_end_s as usize);
    println!(
        "throttle: table {table}, {wcu} WCU provisioned, {conns} connections, PutItem of \
         1-WCU items with random keys{}",
        if backoff.is_zero() {
            String::new()
        } else {
            format!(", {} ms pause after a throttled write", backoff.as_millis())
        }
    );
    println!(
        "burst: {burst_end_s} s until the first throttled write: {burst_accepted} writes \
         accepted ({:.0}/s){}",
        burst_accepted as f64 / burst_end_s.max(1) as f64,
        if throttled_at_all {
            String::new()
        } else {
            format!(" — no write was throttled within {burst_wait_s} s (--burst-wait-s)")
        }
    );
    println!();
    println!("| second | phase | accepted | throttled | other |");
    println!("|---|---|---|---|---|");
    for s in 0..to {
        let phase = if s < burst_end_s as usize {
            "burst"
        } else if s < from {
            "settle"
        } else {
            "window"
        };
        let get = |v: &Vec<AtomicU64>| v.get(s).map_or(0, |n| n.load(Ordering::Relaxed));
        println!(
            "| {s} | {phase} | {} | {} | {} |",
            get(&seconds.accepted),
            get(&seconds.throttled),
            get(&seconds.other)
        );
    }
    let accepted = Seconds::sum(&seconds.accepted, from, to);
    let throttled = Seconds::sum(&seconds.throttled, from, to);
    let other = Seconds::sum(&seconds.other, from, to);
    let secs = args.duration_s as f64;
    let rate = accepted as f64 / secs;
    let ratio = rate / wcu as f64;
    let within = (ratio - 1.0).abs() * 100.0 <= TOLERANCE_PCT;
    println!();
    println!(
        "sustained: {rate:.1} accepted writes/s over {} s (seconds {from}..{to}) = {ratio:.3} of \
         {wcu} WCU ({:+.1}%), within {TOLERANCE_PCT}%: {}",
        args.duration_s,
        (ratio - 1.0) * 100.0,
        if within { "yes" } else { "no" }
    );
    println!(
        "throttled in the window: {throttled} ({:.0}/s); other errors: {other}",
        throttled as f64 / secs
    );
    if let Some(e) = first_error {
        println!("first error other than throttling: {e}");
    }
    Ok(throttled_at_all && within)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_starts_after_the_burst_and_a_settling_second() {
        // The first throttled write 4.2 s in: seconds 0..=4 are the burst, 5 settles.
        assert_eq!(phases(Some(4_200), 60, 30), (5, 6, 36));
        assert_eq!(phases(Some(0), 60, 30), (1, 2, 32));
        // None throttled within the wait: the window follows the wait.
        assert_eq!(phases(None, 60, 30), (60, 61, 91));
    }

    #[test]
    fn throttling_is_read_from_the_error_type() {
        let bad = hyper::StatusCode::BAD_REQUEST;
        let body = br#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"x"}"#;
        assert_eq!(classify(bad, body), Outcome::Throttled);
        assert_eq!(
            classify(
                bad,
                br#"{"__type":"com.amazon.coral.availability#ThrottlingException"}"#
            ),
            Outcome::Throttled
        );
        assert_eq!(
            classify(
                bad,
                br#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException"}"#
            ),
            Outcome::Other
        );
        assert_eq!(classify(hyper::StatusCode::OK, b"{}"), Outcome::Accepted);
        assert_eq!(
            classify(hyper::StatusCode::INTERNAL_SERVER_ERROR, b""),
            Outcome::Other
        );
    }
}
