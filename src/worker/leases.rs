//! Who runs which lane: leases in a JetStream KV bucket, so that one worker at a time
//! runs each (trigger, shard, lane) unit and per-item order holds across workers.
//!
//! A unit is owned through its key in the leases bucket, created with `create` (which
//! fails if the key is there) and renewed by revision (`update`), every tick. A worker
//! heartbeats in the workers bucket. Expiry is seen, never computed from clocks: a
//! lease (or a heartbeat) whose revision has not changed for a whole lease TTL, as
//! this worker's own clock measures it, is expired, and so is every lease of a worker
//! whose heartbeat expired; it is taken over by revision, so that only one of the
//! workers that saw it expire gets it.
//!
//! Fair shares: with W live workers and U units, each worker aims for ceil(U/W); one
//! over its share (a worker joined) stops the extra lanes after their batch and then
//! deletes their leases; one under it takes free and expired units. A worker that
//! cannot renew stops its lanes once two thirds of the TTL passed since its last
//! renewal, before anyone else may take them.
//!
//! Owns the leases and heartbeats and the lanes' threads. Must not know delivery or how
//! a lane reads (the caller starts a lane).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_nats::jetstream::kv;
use bytes::Bytes;
use futures_util::StreamExt;

use super::kv::{Cas, KV_TIMEOUT_MS, cas_blocking, unit_key};
use super::source::JetStreamSource;

/// The share of the lease TTL after the last renewal at which a worker that cannot
/// renew stops its lanes (numerator / denominator): well before anyone may take them.
const RENEW_GIVE_UP_NUM: u32 = 2;
const RENEW_GIVE_UP_DEN: u32 = 3;

/// A dead worker's heartbeat is deleted (by whichever worker sees it first) once it
/// stood still this many lease TTLs, so that the bucket does not keep every worker
/// that ever ran.
const DEAD_WORKER_FORGET_TTLS: u32 = 10;

/// A lane running in this worker.
pub(super) struct RunningLane {
    pub halt: Arc<AtomicBool>,
    pub thread: JoinHandle<()>,
    pub source: Arc<JetStreamSource>,
}

impl RunningLane {
    fn stop(&self) {
        self.halt.store(true, Ordering::Release);
    }

    fn finish(self) {
        let thread = self.thread.thread().id();
        let _ = self.thread.join();
        self.source.forget_thread(thread);
    }
}

/// A unit this worker holds a lease on.
struct Owned {
    revision: u64,
    renewed: Instant,
    lane: RunningLane,
    /// Given back: the lane stops after its batch, then the lease is deleted.
    releasing: bool,
}

/// A revision as this worker saw it, and since when (its own clock).
#[derive(Clone, Copy)]
struct Seen {
    revision: u64,
    since: Instant,
}

/// This worker's leases and view of the others.
pub(super) struct Leases {
    handle: tokio::runtime::Handle,
    me: String,
    ttl: Duration,
    leases: kv::Store,
    workers: kv::Store,
    owned: BTreeMap<String, Owned>,
    seen_leases: HashMap<String, Seen>,
    seen_workers: HashMap<String, Seen>,
    /// Workers whose heartbeat stood still for a whole TTL (as of the last round): their
    /// leases are taken at once, without waiting for each lease to stand still too.
    dead: HashSet<String>,
    /// Lanes told to stop that no lease covers any more, by unit: joined once they
    /// end; their units are not taken again before.
    draining: Vec<(String, RunningLane)>,
}

impl Leases {
    pub(super) fn new(
        handle: tokio::runtime::Handle,
        me: String,
        ttl: Duration,
        leases: kv::Store,
        workers: kv::Store,
    ) -> Leases {
        Leases {
            handle,
            me,
            ttl,
            leases,
            workers,
            owned: BTreeMap::new(),
            seen_leases: HashMap::new(),
            seen_workers: HashMap::new(),
            dead: HashSet::new(),
            draining: Vec::new(),
        }
    }

    fn block<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        self.handle.block_on(async {
            tokio::time::timeout(Duration::from_millis(KV_TIMEOUT_MS), f)
                .await
                .map_err(|_| format!("NATS did not answer within {KV_TIMEOUT_MS} ms"))?
        })
    }

    /// How many lanes this worker runs now (given-back ones not counted).
    pub(super) fn running(&self) -> usize {
        self.owned.values().filter(|o| !o.releasing).count()
    }

    /// Whether the revision `revision` of `key` has stood for a whole TTL.
    fn expired(seen: &mut HashMap<String, Seen>, key: &str, revision: u64, ttl: Duration) -> bool {
        let now = Instant::now();
        let s = seen.entry(key.to_owned()).or_insert(Seen {
            revision,
            since: now,
        });
        if s.revision != revision {
            *s = Seen {
                revision,
                since: now,
            };
        }
        now.duration_since(s.since) >= ttl
    }

    /// Heartbeats and counts the live workers (this one included); notes the dead
    /// ones (a heartbeat that stood still for a whole TTL), whose leases are free.
    fn live_workers(&mut self) -> Result<usize, String> {
        let me_key = format!("worker.{}", self.me);
        let beat = Bytes::from(eddy_engine::clock::now_ms().to_string());
        self.block(async {
            self.workers
                .put(&me_key, beat)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })?;
        let entries = self.block(async {
            let mut keys = self.workers.keys().await.map_err(|e| e.to_string())?;
            let mut entries = Vec::new();
            while let Some(key) = keys.next().await {
                let key = key.map_err(|e| e.to_string())?;
                if let Some(e) = self
                    .workers
                    .entry(key.clone())
                    .await
                    .map_err(|e| e.to_string())?
                {
                    entries.push((key, e.revision, e.operation));
                }
            }
            Ok(entries)
        })?;
        let mut live = 1;
        self.dead.clear();
        for (key, revision, operation) in entries {
            if key == me_key {
                continue;
            }
            let id = key.strip_prefix("worker.").unwrap_or(&key).to_owned();
            if !matches!(operation, kv::Operation::Put) {
                // Deleted at a clean exit: its leases were deleted first.
                self.dead.insert(id);
                continue;
            }
            if Self::expired(&mut self.seen_workers, &key, revision, self.ttl) {
                self.dead.insert(id);
                let long_dead = Self::expired(
                    &mut self.seen_workers,
                    &key,
                    revision,
                    self.ttl * DEAD_WORKER_FORGET_TTLS,
                );
                if long_dead {
                    let _ = self.block(async {
                        self.workers
                            .delete_expect_revision(&key, Some(revision))
                            .await
                            .map_err(|e| e.to_string())
                    });
                }
            } else {
                live += 1;
            }
        }
        Ok(live)
    }

    /// One round: heartbeat, renew, give back extras, take free or expired units.
    /// `units` are every lane of every trigger, by key; `start` starts the lane of a
    /// unit just leased (`None`: it could not start; the lease is given back).
    pub(super) fn tick(
        &mut self,
        units: &BTreeMap<String, String>,
        start: &mut dyn FnMut(&str) -> Option<RunningLane>,
    ) {
        let workers = self.live_workers();
        self.renew(units);
        self.finish_draining();
        let workers = match workers {
            Ok(w) => w,
            Err(e) => {
                tracing::debug!(error = %e, "no heartbeat this round");
                return;
            }
        };
        let target = units.len().div_ceil(workers.max(1));
        // Over the share: give back the last units (in key order, so that workers
        // agree on which go), after their batch.
        let mut over = self.running().saturating_sub(target);
        for o in self.owned.values_mut().rev() {
            if over == 0 {
                break;
            }
            if !o.releasing {
                o.releasing = true;
                o.lane.stop();
                over -= 1;
            }
        }
        if self.running() < target {
            self.take(units, target, start);
        }
    }

    /// Renews every lease held; a lease lost (taken by revision, or not renewed for two
    /// thirds of the TTL) stops its lane. A given-back unit whose lane ended is deleted.
    fn renew(&mut self, units: &BTreeMap<String, String>) {
        let keys: Vec<String> = self.owned.keys().cloned().collect();
        for key in keys {
            let Some(o) = self.owned.get_mut(&key) else {
                continue;
            };
            if !units.contains_key(&key) && !o.releasing {
                // Its trigger is gone, or has fewer lanes now.
                o.releasing = true;
                o.lane.stop();
            }
            if o.releasing && o.lane.thread.is_finished() {
                let revision = o.revision;
                if let Some(o) = self.owned.remove(&key) {
                    o.lane.finish();
                }
                let lease = format!("lease.{key}");
                let _ = self.block(async {
                    self.leases
                        .delete_expect_revision(&lease, Some(revision))
                        .await
                        .map_err(|e| e.to_string())
                });
                continue;
            }
            let revision = o.revision;
            let lease = format!("lease.{key}");
            let me = Bytes::from(self.me.clone());
            let renewed = cas_blocking(&self.handle, &self.leases, &lease, me, Some(revision));
            let Some(o) = self.owned.get_mut(&key) else {
                continue;
            };
            match renewed {
                Ok(revision) => {
                    o.revision = revision;
                    o.renewed = Instant::now();
                }
                Err(e) => {
                    let lost = matches!(e, Cas::Conflict);
                    let late =
                        o.renewed.elapsed() >= self.ttl * RENEW_GIVE_UP_NUM / RENEW_GIVE_UP_DEN;
                    if lost || late {
                        tracing::warn!(unit = %key, error = %e, "a lease was lost; its lane stops");
                        if let Some(o) = self.owned.remove(&key) {
                            o.lane.stop();
                            self.draining.push((key.clone(), o.lane));
                        }
                    }
                }
            }
        }
    }

    fn finish_draining(&mut self) {
        let (done, running): (Vec<_>, Vec<_>) = std::mem::take(&mut self.draining)
            .into_iter()
            .partition(|(_, l)| l.thread.is_finished());
        self.draining = running;
        for (_, lane) in done {
            lane.finish();
        }
    }

    /// Takes free or expired units until this worker runs `target` lanes.
    fn take(
        &mut self,
        units: &BTreeMap<String, String>,
        target: usize,
        start: &mut dyn FnMut(&str) -> Option<RunningLane>,
    ) {
        // Workers look at the units from different places, so that they do not all
        // race for the same first ones.
        let offset =
            (eddy_engine::hash::fnv1a_64(self.me.as_bytes()) % units.len().max(1) as u64) as usize;
        let keys: Vec<&String> = units.keys().collect();
        let draining: HashSet<String> = self.draining.iter().map(|(k, _)| k.clone()).collect();
        for i in 0..keys.len() {
            if self.running() >= target {
                return;
            }
            let key = keys[(i + offset) % keys.len()];
            if self.owned.contains_key(key) || draining.contains(key) {
                continue;
            }
            let lease = format!("lease.{key}");
            let entry = self.block(async {
                self.leases
                    .entry(lease.clone())
                    .await
                    .map_err(|e| e.to_string())
            });
            let Ok(entry) = entry else {
                return;
            };
            let me = Bytes::from(self.me.clone());
            let taken = match entry {
                Some(e)
                    if matches!(e.operation, kv::Operation::Put)
                        && e.value.as_ref() != self.me.as_bytes() =>
                {
                    let owner = String::from_utf8_lossy(&e.value).into_owned();
                    let stale = Self::expired(&mut self.seen_leases, key, e.revision, self.ttl);
                    if !stale && !self.dead.contains(&owner) {
                        continue;
                    }
                    cas_blocking(&self.handle, &self.leases, &lease, me, Some(e.revision))
                }
                // Its own lease from before (lost while NATS was away): taken back.
                Some(e) if matches!(e.operation, kv::Operation::Put) => {
                    cas_blocking(&self.handle, &self.leases, &lease, me, Some(e.revision))
                }
                // Free (never leased, or given back): created, as `create` takes a
                // deleted key.
                _ => cas_blocking(&self.handle, &self.leases, &lease, me, None),
            };
            let Ok(revision) = taken else {
                continue;
            };
            match start(key) {
                Some(lane) => {
                    tracing::info!(unit = %key, worker = %self.me, "took a lane");
                    self.owned.insert(
                        key.clone(),
                        Owned {
                            revision,
                            renewed: Instant::now(),
                            lane,
                            releasing: false,
                        },
                    );
                }
                None => {
                    let _ = self.block(async {
                        self.leases
                            .delete_expect_revision(&lease, Some(revision))
                            .await
                            .map_err(|e| e.to_string())
                    });
                }
            }
        }
    }

    /// Stops every lane, waits for them and deletes the leases and the heartbeat, so
    /// that other workers take the units at once (a clean exit).
    pub(super) fn shutdown(&mut self) {
        for o in self.owned.values() {
            o.lane.stop();
        }
        let owned = std::mem::take(&mut self.owned);
        for (key, o) in owned {
            o.lane.finish();
            let lease = format!("lease.{key}");
            let _ = self.block(async {
                self.leases
                    .delete_expect_revision(&lease, Some(o.revision))
                    .await
                    .map_err(|e| e.to_string())
            });
        }
        for (_, lane) in std::mem::take(&mut self.draining) {
            lane.finish();
        }
        let me_key = format!("worker.{}", self.me);
        let _ = self.block(async {
            self.workers
                .delete(&me_key)
                .await
                .map_err(|e| e.to_string())
        });
    }
}

/// The key of a unit: `<trigger>.<lanes>.<shard>.<lane>` (as in the checkpoints
/// bucket).
pub(super) fn key_of(trigger: &str, lanes: u32, shard: u16, lane: u32) -> String {
    unit_key(trigger, lanes, shard, lane)
}
