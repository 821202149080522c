//! Eddy's side of the trigger workers' status (`eddy serve --nats URL
//! --trigger-workers`): it watches the `EDDY_TRIGGER_STATUS` bucket the workers
//! publish to and hands the trigger runtime each trigger's status merged over every
//! worker, so that `/v1/triggers`, the Lambda API and `/metrics` show what the workers
//! did as they show an in-process trigger.
//!
//! The merge: a key holds one worker instance's cumulative counters for one trigger,
//! so a trigger's counters are the sum of its keys. A dead worker's key keeps its last
//! value (its lanes' new owner counts under its own key), so the sum never goes down
//! on a takeover. A key not written for [`STATUS_KEEP_MS`] (its worker is gone) is
//! forgotten by the bucket and here, where its counters are first folded into the
//! trigger's retired total: while Eddy runs, the sum never goes down. After Eddy
//! restarts it sums the keys the bucket still holds (a restart resets in-process
//! counters too). The newest `LastProcessingResult` by its time wins; the recent
//! errors are the newest of all keys; the iterator age is the largest among keys
//! written in the last [`STATUS_FRESH_MS`] (a dead worker's stops counting).
//!
//! Owns the watch, the merge and its state. Must not know how workers run lanes nor
//! how the views are rendered.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use async_nats::jetstream::kv::Operation;
use eddy_triggers::stream::{RECENT_ERRORS_MAX, ReportedStatus, TriggerMetrics, TriggerRuntime};
use futures_util::StreamExt;

use crate::worker::status::{
    STATUS_KEEP_MS, STATUS_PUBLISH_MS, STATUS_REPUBLISH_MS, WorkerStatus, open_bucket,
};

/// A key written within this long counts as a live worker's (for the iterator age,
/// which is a gauge, not a sum): a live worker writes each key at least every
/// [`STATUS_REPUBLISH_MS`].
const STATUS_FRESH_MS: u64 = STATUS_REPUBLISH_MS * 5 / 2;

/// How long the watcher waits before it connects or watches again after a failure.
const WATCH_RETRY_MS: u64 = 1_000;

/// Starts the watcher on its own thread (with its own single-threaded runtime, so
/// that NATS never takes a worker from the API). Returns at once; the connection is
/// made (and remade) in the background. It runs as long as the process.
pub fn start(triggers: TriggerRuntime, url: &str) -> Result<(), String> {
    crate::export::check_url(url)?;
    let url = url.to_owned();
    std::thread::Builder::new()
        .name("eddy-worker-status".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "the trigger status watcher cannot start its runtime");
                    return;
                }
            };
            runtime.block_on(watch(triggers, url));
        })
        .map_err(|e| format!("cannot start the trigger status watcher: {e}"))?;
    Ok(())
}

/// Watches the bucket forever, merging each write; a lost watch is made again.
async fn watch(triggers: TriggerRuntime, url: String) {
    let client = loop {
        match async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(&url)
            .await
        {
            Ok(c) => break c,
            Err(e) => {
                tracing::warn!(url, error = %e, "the trigger status watcher cannot reach NATS; retrying");
                tokio::time::sleep(Duration::from_millis(WATCH_RETRY_MS)).await;
            }
        }
    };
    let js = async_nats::jetstream::new(client);
    let mut merge = Merge::default();
    let mut failing = false;
    loop {
        let watched = match open_bucket(&js).await {
            Ok(store) => store
                .watch_with_history("status.>")
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        let mut entries = match watched {
            Ok(w) => w,
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "cannot watch the trigger workers' status; retrying");
                }
                failing = true;
                tokio::time::sleep(Duration::from_millis(WATCH_RETRY_MS)).await;
                continue;
            }
        };
        failing = false;
        let mut tick = tokio::time::interval(Duration::from_millis(STATUS_PUBLISH_MS));
        loop {
            tokio::select! {
                entry = entries.next() => {
                    let Some(Ok(entry)) = entry else {
                        // The watch ended (NATS went away): watch again, with history,
                        // so nothing written meanwhile is missed.
                        break;
                    };
                    let now = Instant::now();
                    match entry.operation {
                        Operation::Put => match serde_json::from_slice::<WorkerStatus>(&entry.value) {
                            Ok(status) => merge.put(entry.key, status, now),
                            Err(e) => tracing::debug!(key = entry.key, error = %e, "an unreadable trigger status is ignored"),
                        },
                        Operation::Delete | Operation::Purge => merge.forget(&entry.key),
                    }
                }
                _ = tick.tick() => {}
            }
            let now = Instant::now();
            let ids: HashSet<String> = triggers.ids().into_iter().collect();
            merge.forget_old(now, &ids);
            triggers.set_reported(merge.merged(now));
        }
        tokio::time::sleep(Duration::from_millis(WATCH_RETRY_MS)).await;
    }
}

/// The merge's state: the last value of every key, and per trigger the totals of the
/// keys it forgot.
#[derive(Debug, Default)]
struct Merge {
    keys: HashMap<String, (WorkerStatus, Instant)>,
    retired: HashMap<String, ReportedStatus>,
}

impl Merge {
    /// A key's new value. Its counters are cumulative: a value that went down (an old
    /// write delivered late) leaves the key as it is.
    fn put(&mut self, key: String, status: WorkerStatus, now: Instant) {
        if let Some((known, _)) = self.keys.get(&key)
            && known.metrics.invocations > status.metrics.invocations
        {
            return;
        }
        self.keys.insert(key, (status, now));
    }

    /// Forgets a key, keeping its counters in its trigger's retired total.
    fn forget(&mut self, key: &str) {
        let Some((status, _)) = self.keys.remove(key) else {
            return;
        };
        let retired = self.retired.entry(status.trigger.clone()).or_default();
        add(&mut retired.metrics, &status.metrics);
        retired.metrics.iterator_age_us = 0;
        if status.last_result_ms > retired.last_result.as_ref().map_or(0, |(_, at)| *at) {
            retired.last_result = Some((status.last_result, status.last_result_ms));
        }
    }

    /// Forgets the keys not written for [`STATUS_KEEP_MS`], and everything of the
    /// triggers that no longer exist.
    fn forget_old(&mut self, now: Instant, ids: &HashSet<String>) {
        let keep = Duration::from_millis(STATUS_KEEP_MS);
        let old: Vec<String> = self
            .keys
            .iter()
            .filter(|(_, (_, at))| now.duration_since(*at) >= keep)
            .map(|(k, _)| k.clone())
            .collect();
        for k in old {
            self.forget(&k);
        }
        self.keys.retain(|_, (s, _)| ids.contains(&s.trigger));
        self.retired.retain(|id, _| ids.contains(id));
    }

    /// Every trigger's status, merged over its keys.
    fn merged(&self, now: Instant) -> HashMap<String, ReportedStatus> {
        let fresh = Duration::from_millis(STATUS_FRESH_MS);
        let mut out: HashMap<String, ReportedStatus> = self.retired.clone();
        // The key whose result is the newest, per trigger: its last batch duration.
        let mut newest: HashMap<&str, u64> = HashMap::new();
        for (status, at) in self.keys.values() {
            let r = out.entry(status.trigger.clone()).or_default();
            let age = r.metrics.iterator_age_us;
            let last = r.metrics.batch_duration_us_last;
            add(&mut r.metrics, &status.metrics);
            r.metrics.iterator_age_us = if now.duration_since(*at) < fresh {
                age.max(status.metrics.iterator_age_us)
            } else {
                age
            };
            let newest_ms = newest.entry(status.trigger.as_str()).or_insert(0);
            r.metrics.batch_duration_us_last = if status.last_result_ms >= *newest_ms {
                *newest_ms = status.last_result_ms;
                status.metrics.batch_duration_us_last
            } else {
                last
            };
            if status.last_result_ms > r.last_result.as_ref().map_or(0, |(_, at)| *at) {
                r.last_result = Some((status.last_result.clone(), status.last_result_ms));
            }
            r.recent_errors.extend(status.recent_errors.iter().cloned());
        }
        for r in out.values_mut() {
            // RFC 3339 times in UTC with milliseconds sort as text.
            r.recent_errors.sort_by(|a, b| a.time.cmp(&b.time));
            let extra = r.recent_errors.len().saturating_sub(RECENT_ERRORS_MAX);
            r.recent_errors.drain(..extra);
        }
        out
    }
}

/// Adds the cumulative counters of `b` to `a` (the gauges are the caller's).
fn add(a: &mut TriggerMetrics, b: &TriggerMetrics) {
    a.invocations = a.invocations.saturating_add(b.invocations);
    a.errors = a.errors.saturating_add(b.errors);
    a.retries = a.retries.saturating_add(b.retries);
    a.throttles = a.throttles.saturating_add(b.throttles);
    a.records_delivered = a.records_delivered.saturating_add(b.records_delivered);
    a.filtered_out = a.filtered_out.saturating_add(b.filtered_out);
    a.sent_to_failure_destination = a
        .sent_to_failure_destination
        .saturating_add(b.sent_to_failure_destination);
    a.dropped = a.dropped.saturating_add(b.dropped);
    a.trimmed_skips = a.trimmed_skips.saturating_add(b.trimmed_skips);
    a.recursion_stops = a.recursion_stops.saturating_add(b.recursion_stops);
    a.batch_duration_us_total = a
        .batch_duration_us_total
        .saturating_add(b.batch_duration_us_total);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(trigger: &str, worker: &str, invocations: u64, result_ms: u64) -> WorkerStatus {
        WorkerStatus {
            trigger: trigger.into(),
            worker: worker.into(),
            metrics: TriggerMetrics {
                invocations,
                records_delivered: invocations * 2,
                ..Default::default()
            },
            last_result: format!("from {worker}"),
            last_result_ms: result_ms,
            recent_errors: Vec::new(),
        }
    }

    #[test]
    fn keys_are_summed_and_a_forgotten_key_still_counts() {
        let mut m = Merge::default();
        let now = Instant::now();
        let ids: HashSet<String> = ["t".to_owned()].into();
        m.put("status.t.a.0".into(), status("t", "a", 5, 10), now);
        m.put("status.t.b.0".into(), status("t", "b", 3, 20), now);
        let merged = m.merged(now);
        assert_eq!(merged["t"].metrics.invocations, 8);
        assert_eq!(merged["t"].metrics.records_delivered, 16);
        assert_eq!(merged["t"].last_result, Some(("from b".into(), 20)));
        // A late, older write of a key does not take its counts back.
        m.put("status.t.a.0".into(), status("t", "a", 4, 5), now);
        assert_eq!(m.merged(now)["t"].metrics.invocations, 8);
        // A key forgotten (its worker long gone) still counts.
        m.forget("status.t.a.0");
        m.forget_old(now, &ids);
        assert_eq!(m.merged(now)["t"].metrics.invocations, 8);
        // A deleted trigger's status goes.
        m.forget_old(now, &HashSet::new());
        assert!(m.merged(now).is_empty());
    }

    #[test]
    fn the_newest_errors_of_all_keys_and_a_live_workers_iterator_age_are_shown() {
        let mut m = Merge::default();
        let start = Instant::now();
        let error = |n: u64| eddy_triggers::stream::RecentError {
            time: format!("2026-01-01T00:00:{n:02}.000Z"),
            kind: "FunctionError".into(),
            error: format!("e{n}"),
            shard_id: "shardId-0".into(),
            first_sequence_number: "1".into(),
            last_sequence_number: "1".into(),
            attempt: 1,
        };
        let mut a = status("t", "a", 1, 1);
        a.recent_errors = (0..8).map(|n| error(n * 2)).collect();
        a.metrics.iterator_age_us = 9_000;
        let mut b = status("t", "b", 1, 2);
        b.recent_errors = (0..8).map(|n| error(n * 2 + 1)).collect();
        b.metrics.iterator_age_us = 4_000;
        m.put("status.t.a.0".into(), a, start);
        let later = start + Duration::from_millis(STATUS_FRESH_MS);
        m.put("status.t.b.0".into(), b, later);
        let merged = m.merged(later);
        let shown: Vec<&str> = merged["t"]
            .recent_errors
            .iter()
            .map(|e| e.error.as_str())
            .collect();
        assert_eq!(shown.len(), RECENT_ERRORS_MAX);
        assert_eq!(shown.first(), Some(&"e6"));
        assert_eq!(shown.last(), Some(&"e15"));
        // Worker a has not written for STATUS_FRESH_MS: its iterator age no longer
        // counts; b's does.
        assert_eq!(merged["t"].metrics.iterator_age_us, 4_000);
        assert_eq!(m.merged(start)["t"].metrics.iterator_age_us, 9_000);
    }
}
