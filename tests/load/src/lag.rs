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
        for item in v["Items"].as_array().into_iter().flatten() {
            let (Some(id), Some(us)) = (item["id"]["S"].as_str(), item["seen_us"]["N"].as_str())
            else {
                continue;
            };
            if id.starts_with(prefix)
                && let Ok(us) = us.parse()
            {
                // A record delivered twice keeps its first sighting.
                seen.entry(id.to_owned())
                    .and_modify(|s: &mut u64| *s = (*s).min(us))
                    .or_insert(us);
            }
        }
        match v.get("LastEvaluatedKey") {
            Some(k) => start = Some(k.clone()),
            None => return Ok(seen),
        }
    }
}
