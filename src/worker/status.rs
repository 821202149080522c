//! What a worker has done for each trigger, published to Eddy: the trigger's counters,
//! its `LastProcessingResult` (with its time) and its recent errors, one key per
//! trigger and worker instance in the JetStream KV bucket `EDDY_TRIGGER_STATUS`.
//!
//! The key is `status.<trigger>.<worker id>.<instance>`: the instance is a number this
//! process gives each trigger it makes (a new `ParallelizationFactor` makes a new one),
//! so the counters under one key are cumulative and never go down. Eddy sums the keys
//! of a trigger (see `src/worker_status.rs`): a dead worker's key stays with its last
//! counters, so Eddy's sum does not go down when another worker takes its lanes and
//! counts on from zero under its own key. The bucket forgets a key not written for
//! [`STATUS_KEEP_MS`]; a live worker writes each key at least every
//! [`STATUS_REPUBLISH_MS`].
//!
//! Owns the bucket, the key and the published form, and the publisher thread. Must not
//! know how Eddy merges nor how a lane counts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use async_nats::jetstream::kv;
use eddy_triggers::stream::{DetachedTrigger, RecentError, ReportedStatus, TriggerMetrics};
use serde::{Deserialize, Serialize};

use super::kv::KV_TIMEOUT_MS;
use super::{Triggers, lock, sleep_unless};

/// The bucket trigger workers publish their status to.
pub(crate) const STATUS_BUCKET: &str = "EDDY_TRIGGER_STATUS";

/// How often a worker looks for changes in its triggers' status and publishes them.
pub(crate) const STATUS_PUBLISH_MS: u64 = 1_000;

/// A key whose status did not change is written again after this long, so that the
/// bucket keeps it and Eddy knows its worker is alive.
pub(crate) const STATUS_REPUBLISH_MS: u64 = 10_000;

/// How long the bucket (and Eddy) keep a key nobody writes: a dead worker's counters
/// count on Eddy for this long after its last write. Eddy folds a forgotten key's
/// counters into the trigger's total, so its sum still does not go down while Eddy
/// runs.
pub(crate) const STATUS_KEEP_MS: u64 = 60 * 60 * 1_000;

/// One key's value: what one worker instance did for one trigger, cumulative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct WorkerStatus {
    pub trigger: String,
    pub worker: String,
    pub metrics: TriggerMetrics,
    /// The last result this instance set, and when (epoch ms); empty and 0 before any.
    pub last_result: String,
    pub last_result_ms: u64,
    pub recent_errors: Vec<RecentError>,
}

impl WorkerStatus {
    pub(crate) fn of(trigger: &str, worker: &str, r: ReportedStatus) -> WorkerStatus {
        let (last_result, last_result_ms) = r.last_result.unwrap_or_default();
        WorkerStatus {
            trigger: trigger.to_owned(),
            worker: worker.to_owned(),
            metrics: r.metrics,
            last_result,
            last_result_ms,
            recent_errors: r.recent_errors,
        }
    }
}

/// The key of one trigger's status in one worker instance.
pub(crate) fn status_key(trigger: &str, worker: &str, instance: u64) -> String {
    format!("status.{trigger}.{worker}.{instance}")
}

/// Opens the status bucket, creating it if missing (by whichever of Eddy and the
/// workers comes first, with the same settings).
pub(crate) async fn open_bucket(js: &jetstream::Context) -> Result<kv::Store, String> {
    if let Ok(store) = js.get_key_value(STATUS_BUCKET).await {
        return Ok(store);
    }
    js.create_key_value(kv::Config {
        bucket: STATUS_BUCKET.to_owned(),
        history: 1,
        max_age: Duration::from_millis(STATUS_KEEP_MS),
        ..Default::default()
    })
    .await
    .map_err(|e| format!("KV bucket {STATUS_BUCKET}: {e}"))
}

/// The publisher: every [`STATUS_PUBLISH_MS`] it writes the status of each trigger
/// whose status changed (or was not written for [`STATUS_REPUBLISH_MS`]).
pub(super) struct Publisher {
    pub handle: tokio::runtime::Handle,
    pub store: kv::Store,
    pub me: String,
    pub triggers: Triggers,
    /// Per key: what was last written, and when.
    written: BTreeMap<String, (WorkerStatus, Instant)>,
    /// Per key: the trigger object it reports, kept after the worker dropped it (a new
    /// `ParallelizationFactor` replaces it) until its lanes have stopped counting, so
    /// that its last counts reach Eddy too.
    known: BTreeMap<String, (String, Arc<DetachedTrigger>)>,
}

impl Publisher {
    pub(super) fn new(
        handle: tokio::runtime::Handle,
        store: kv::Store,
        me: String,
        triggers: Triggers,
    ) -> Publisher {
        Publisher {
            handle,
            store,
            me,
            triggers,
            written: BTreeMap::new(),
            known: BTreeMap::new(),
        }
    }

    /// Publishes until `lanes_stopped`, then once more: the lanes have stopped by
    /// then, so their last counts reach Eddy.
    pub(super) fn run(mut self, lanes_stopped: &AtomicBool) {
        loop {
            let last = lanes_stopped.load(Ordering::Acquire);
            self.publish_round();
            if last {
                return;
            }
            sleep_unless(lanes_stopped, Duration::from_millis(STATUS_PUBLISH_MS));
        }
    }

    /// Writes every status that changed; a failed write is tried again next round.
    fn publish_round(&mut self) {
        let now = Instant::now();
        let republish = Duration::from_millis(STATUS_REPUBLISH_MS);
        let current: BTreeSet<String> = {
            let triggers = lock(&self.triggers);
            for (id, r) in triggers.iter() {
                self.known
                    .entry(status_key(id, &self.me, r.instance))
                    .or_insert_with(|| (id.clone(), Arc::clone(&r.trigger)));
            }
            triggers
                .iter()
                .map(|(id, r)| status_key(id, &self.me, r.instance))
                .collect()
        };
        let mut due = Vec::new();
        let mut settled = Vec::new();
        for (key, (id, trigger)) in &self.known {
            let reported = trigger.reported();
            if reported == ReportedStatus::default() {
                // Nothing done here yet: nothing to add on Eddy.
                if !current.contains(key) {
                    settled.push(key.clone());
                }
                continue;
            }
            let status = WorkerStatus::of(id, &self.me, reported);
            let unchanged_for = self
                .written
                .get(key)
                .filter(|(last, _)| *last == status)
                .map(|(_, at)| now.duration_since(*at));
            match unchanged_for {
                // A dropped trigger object whose counts stood still since they were
                // written: its lanes have stopped, its key is final.
                Some(d) if !current.contains(key) && d >= republish => settled.push(key.clone()),
                Some(d) if d < republish => {}
                _ => due.push((key.clone(), status)),
            }
        }
        for key in settled {
            self.known.remove(&key);
            self.written.remove(&key);
        }
        for (key, status) in due {
            let Ok(body) = serde_json::to_vec(&status) else {
                continue;
            };
            let store = self.store.clone();
            let put_key = key.clone();
            let put = self.handle.block_on(async move {
                tokio::time::timeout(
                    Duration::from_millis(KV_TIMEOUT_MS),
                    store.put(put_key, body.into()),
                )
                .await
            });
            match put {
                Ok(Ok(_)) => {
                    self.written.insert(key, (status, now));
                }
                Ok(Err(e)) => {
                    tracing::debug!(key, error = %e, "cannot publish a trigger's status");
                }
                Err(_) => {
                    // NATS is away: the round ends here rather than wait once per
                    // trigger (a stopping worker waits for this round).
                    tracing::debug!(key, "publishing a trigger's status timed out");
                    break;
                }
            }
        }
    }
}

/// Starts the publisher on a thread of its own, so that a slow NATS never delays a
/// lease renewal.
pub(super) fn spawn(
    publisher: Publisher,
    lanes_stopped: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>, String> {
    std::thread::Builder::new()
        .name("eddy-worker-status".into())
        .spawn(move || publisher.run(&lanes_stopped))
        .map_err(|e| format!("cannot start the status publisher: {e}"))
}
