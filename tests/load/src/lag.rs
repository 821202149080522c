//! `--trigger-lag N`: write -> handler latency of a stream trigger, measured the same
//! way whether the trigger runs inside the server or in `eddy worker` processes over
//! NATS JetStream. It writes N items at `--lag-rate` items per second into
//! `--lag-table` (hash key `pk`, a string), each stamped with `t_us`, the wall clock
//! just before its PutItem is sent. The trigger on that table must run the `stamp`
//! test guest (functions/test-guests/stamp), which writes `{id: pk, seen_us}` into
//! `--lag-seen-table` when its handler first holds the record. Once every item is
//! seen, it prints p50/p90/p99/max of `seen_us - t_us` (both read on this machine's
//! wall clock). tests/load/workers.sh sets the tables, function and trigger up.
//!
//! `--trigger-drain-load N` writes N items into `--lag-table` (BatchWriteItem, before the
//! trigger exists); `--trigger-drain N` then waits until the stamp guest in
//! `mode=count` reports N records handled in `--lag-seen-table` and prints the drain
//! rate, from the first batch's `seen_us` to the last's, and, with `--cpu-pids`, the CPU
//! those processes spent per record between the first batch seen and the end.
//!
//! Owns the pacing of the writes and the arithmetic; it does not know how the trigger
//! is run.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::{Args, BoxError, Conn, Op, Target, call, error_type, ms};

/// Connections the paced writes go out on: at 1,000 writes/s with each PutItem waiting
/// for its fsync (about 1 ms here) one connection could fall behind the schedule.
const LAG_CONNECTIONS: usize = 8;

/// How long it waits, after the last write, for the handler to have seen every item.
const SEEN_WAIT_S: u64 = 60;

/// Items per Scan page of the seen table.
const SCAN_PAGE_ITEMS: usize = 1000;

/// Items per BatchWriteItem of `--trigger-drain-load` (DynamoDB's maximum).
const BATCH_ITEMS: usize = 25;

/// Concurrent BatchWriteItem calls of `--trigger-drain-load`.
const LOAD_CONNECTIONS: usize = 16;

/// How long `--trigger-drain` waits for the whole drain.
const DRAIN_WAIT_S: u64 = 600;

/// Pause between two looks at the seen table while draining.
const DRAIN_POLL_MS: u64 = 100;

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Writes `n` items at the paced rate and prints the write -> handler latency.
pub(super) async fn trigger_lag(args: &Args, target: &Target, n: usize) -> Result<(), BoxError> {
    let n = n.max(1);
    let rate = args.lag_rate.max(1) as f64;
    let run = now_us();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..LAG_CONNECTIONS {
        let target = target.clone();
        let table = args.lag_table.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(target);
            let mut sent = HashMap::new();
            for i in (c..n).step_by(LAG_CONNECTIONS) {
                // Item i is due at start + i / rate: a schedule, not a closed loop, so a
                // slow write does not lower the offered rate.
                let due = start + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
                let pk = format!("lag-{run}-{i}");
                let t_us = now_us();
                let item = json!({"pk": {"S": pk}, "t_us": {"N": t_us.to_string()}});
                let (status, v) = call(
                    &mut conn,
                    Op::PutItem,
                    &json!({"TableName": table, "Item": item}),
                )
                .await?;
                if !status.is_success() {
                    return Err::<_, BoxError>(format!("PutItem: {status} {v}").into());
                }
                sent.insert(pk, t_us);
            }
            Ok(sent)
        }));
    }
    let mut sent = HashMap::with_capacity(n);
    for t in tasks {
        sent.extend(t.await??);
    }
    let offered_s = start.elapsed().as_secs_f64();
    let prefix = format!("lag-{run}-");
    let mut conn = Conn::new(target.clone());
    let waited = Instant::now();
    let lat = loop {
        let seen = scan_seen(&mut conn, &args.lag_seen_table, &prefix).await?;
        if seen.len() >= n {
            let mut lat: Vec<u64> = seen
                .iter()
                .filter_map(|(pk, seen_us)| Some(seen_us.saturating_sub(*sent.get(pk)?)))
                .collect();
            lat.sort_unstable();
            break lat;
        }
        if waited.elapsed() > Duration::from_secs(SEEN_WAIT_S) {
            return Err(format!(
                "only {} of {n} items were seen by the handler within {SEEN_WAIT_S} s: is the \
                 trigger with the stamp guest running?",
                seen.len()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    if lat.is_empty() {
        return Err("no item was seen".into());
    }
    let at = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
    println!(
        "trigger lag {} ({n} items at {:.0}/s offered over {:.1} s; PutItem sent -> handler \
         holds the record): p50 {} ms, p90 {} ms, p99 {} ms, max {} ms",
        args.endpoint,
        n as f64 / offered_s,
        offered_s,
        ms(at(0.5)),
        ms(at(0.9)),
        ms(at(0.99)),
        ms(at(1.0)),
    );
    Ok(())
}

/// Every `{id, seen_us}` of this run in the seen table, by id.
async fn scan_seen(
    conn: &mut Conn,
    table: &str,
    prefix: &str,
) -> Result<HashMap<String, u64>, BoxError> {
    let mut seen = HashMap::new();
    scan_all(conn, table, |item| {
        let (Some(id), Some(us)) = (item["id"]["S"].as_str(), item["seen_us"]["N"].as_str()) else {
            return;
        };
        if id.starts_with(prefix)
            && let Ok(us) = us.parse()
        {
            // A record delivered twice keeps its first sighting.
            seen.entry(id.to_owned())
                .and_modify(|s: &mut u64| *s = (*s).min(us))
                .or_insert(us);
        }
    })
    .await?;
    Ok(seen)
}

/// Scans the whole table, page by page, handing each item to `each`.
async fn scan_all(
    conn: &mut Conn,
    table: &str,
    mut each: impl FnMut(&Value),
) -> Result<(), BoxError> {
    let mut start: Option<Value> = None;
    loop {
        let mut body = json!({"TableName": table, "Limit": SCAN_PAGE_ITEMS});
        if let Some(k) = start.take() {
            body["ExclusiveStartKey"] = k;
        }
        let (status, v) = call(conn, Op::Scan, &body).await?;
        if !status.is_success() {
            return Err(format!("Scan {table}: {status} {} {v}", error_type(&v)).into());
        }
        v["Items"]
            .as_array()
            .into_iter()
            .flatten()
            .for_each(&mut each);
        match v.get("LastEvaluatedKey") {
            Some(k) => start = Some(k.clone()),
            None => return Ok(()),
        }
    }
}

/// Writes `n` items `{pk: "d-<i>"}` into the lag table, `LOAD_CONNECTIONS` batches at a
/// time, retrying what comes back unprocessed.
pub(super) async fn drain_load(args: &Args, target: &Target, n: usize) -> Result<(), BoxError> {
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..LOAD_CONNECTIONS {
        let target = target.clone();
        let table = args.lag_table.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(target);
            let mut at = c * BATCH_ITEMS;
            while at < n {
                let mut items: Vec<Value> = (at..(at + BATCH_ITEMS).min(n))
                    .map(|i| json!({"PutRequest": {"Item": {"pk": {"S": format!("d-{i:08}")}}}}))
                    .collect();
                while !items.is_empty() {
                    let body = json!({"RequestItems": {table.as_str(): items}});
                    let (status, v) = call(&mut conn, Op::BatchWriteItem, &body).await?;
                    if !status.is_success() {
                        return Err::<(), BoxError>(format!("BatchWriteItem: {status} {v}").into());
                    }
                    items = v["UnprocessedItems"][table.as_str()]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                }
                at += LOAD_CONNECTIONS * BATCH_ITEMS;
            }
            Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    println!(
        "drain load: {n} items into {} in {:.1} s",
        args.lag_table,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The user and system CPU time of a process so far, in seconds (Linux `/proc`).
fn cpu_s(pid: u32) -> Result<f64, BoxError> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; the fields after it are plain numbers.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are the 14th and 15th fields of the line, the 12th and 13th after
    // the name; clock ticks are 100 per second on Linux.
    Ok((ticks(11) + ticks(12)) / 100.0)
}

/// The user and system CPU time of the processes `pids` so far, in seconds (a process
/// that is gone counts nothing).
pub(super) fn cpu_total(pids: &[u32]) -> f64 {
    pids.iter().filter_map(|p| cpu_s(*p).ok()).sum()
}

/// Waits until the stamp guest (`mode=count`) counted `n` records and prints the rate.
pub(super) async fn drain(args: &Args, target: &Target, n: usize) -> Result<(), BoxError> {
    let mut conn = Conn::new(target.clone());
    let waited = Instant::now();
    let mut cpu_first: Option<f64> = None;
    loop {
        let batches = scan_counts(&mut conn, &args.lag_seen_table).await?;
        let handled: u64 = batches.iter().map(|(_, n)| n).sum();
        if handled > 0 && cpu_first.is_none() {
            cpu_first = Some(cpu_total(&args.cpu_pids));
        }
        if handled >= n as u64 {
            let cpu = cpu_total(&args.cpu_pids) - cpu_first.unwrap_or(0.0);
            let first = batches.iter().map(|(us, _)| *us).min().unwrap_or(0);
            let last = batches.iter().map(|(us, _)| *us).max().unwrap_or(0);
            let span_s = (last.saturating_sub(first) as f64 / 1e6).max(1e-6);
            let mut line = format!(
                "trigger drain: {handled} records handled ({} redelivered) in {} batches, \
                 {span_s:.2} s from the first batch to the last = {:.0} records/s",
                handled - n as u64,
                batches.len(),
                handled as f64 / span_s,
            );
            if !args.cpu_pids.is_empty() {
                line.push_str(&format!(
                    "; CPU of pids {:?} from the first batch seen: {cpu:.2} s = {:.1} us/record",
                    args.cpu_pids,
                    cpu * 1e6 / handled as f64
                ));
            }
            println!("{line}");
            return Ok(());
        }
        if waited.elapsed() > Duration::from_secs(DRAIN_WAIT_S) {
            return Err(format!(
                "only {handled} of {n} records were handled within {DRAIN_WAIT_S} s"
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(DRAIN_POLL_MS)).await;
    }
}

/// Every `(seen_us, n)` the stamp guest wrote in `mode=count`.
async fn scan_counts(conn: &mut Conn, table: &str) -> Result<Vec<(u64, u64)>, BoxError> {
    let mut out = Vec::new();
    scan_all(conn, table, |item| {
        let n = item["n"]["N"].as_str().and_then(|s| s.parse().ok());
        let us = item["seen_us"]["N"].as_str().and_then(|s| s.parse().ok());
        if let (Some(n), Some(us)) = (n, us) {
            out.push((us, n));
        }
    })
    .await?;
    Ok(out)
}
