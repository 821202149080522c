//! Tumbling windows: a lane's open window and the state the function carries through
//! it, kept next to the checkpoint; the final invocation that ends a window.
//!
//! Owns the window's state and its end. Must not know how a batch is invoked beyond
//! asking delivery to invoke with a window.

use std::sync::atomic::Ordering;
use std::time::Duration;

use eddy_engine::StreamRecord;
use eddy_engine::clock::now_us;
use serde_json::{Value, json};

use super::super::MappingConfig;
use super::super::lanes::{LaneId, LaneStore};
use super::super::render::RenderedBatch;
use super::lane::{Consumer, Failure, Outcome, backoff_ms};

pub(super) fn load_window(
    store: &dyn LaneStore,
    trigger: &str,
    shard: u16,
    lane: u32,
) -> Option<(u64, Value)> {
    let bytes = store.load_window(LaneId {
        trigger,
        shard,
        lane,
    })?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    Some((v["start_us"].as_u64()?, v["state"].clone()))
}

/// The largest state a function may carry between invocations of a window (Lambda:
/// 1 MB).
pub(super) const WINDOW_STATE_BYTES_MAX: usize = 1024 * 1024;

/// The tumbling window an invocation belongs to.
pub(super) struct WindowCtx {
    pub(super) start_us: u64,
    pub(super) end_us: u64,
    pub(super) state: Value,
    pub(super) is_final: bool,
}

pub(super) fn iso_us(us: u64) -> String {
    eddy_engine::clock::rfc3339_ms(us / 1000)
}

impl Consumer {
    /// Tumbling windows: the open window ends (with its final invocation) when a later
    /// record arrives or its time is up with nothing of it waiting, and a batch is cut
    /// where the next window starts, so that it never spans two. `true` when the round
    /// is over.
    pub(super) fn tumbling(
        &self,
        cfg: &MappingConfig,
        batch: &mut Vec<StreamRecord>,
        upto: &mut u64,
    ) -> bool {
        let window_us = u64::from(cfg.tumbling_window_s) * 1_000_000;
        let open = self.window.borrow().clone();
        // The open window is over when a later record arrives, or when its time
        // is up and nothing of it is waiting: its final invocation comes first.
        if let Some((start, state)) = open {
            let later = batch
                .first()
                .is_some_and(|r| r.created_us / window_us * window_us > start);
            let idle_past_end = batch.is_empty() && now_us() >= start + window_us;
            if later || idle_past_end {
                let ctx = WindowCtx {
                    start_us: start,
                    end_us: start + window_us,
                    state,
                    is_final: true,
                };
                if let Outcome::Done = self.deliver_window_end(cfg, &ctx) {
                    self.set_window(None);
                }
                return true;
            }
        }
        // A batch never spans windows.
        if let Some(first) = batch.first() {
            let start = first.created_us / window_us * window_us;
            if let Some(cut) = batch
                .iter()
                .position(|r| r.created_us / window_us * window_us != start)
            {
                *upto = batch[cut].seq;
                batch.truncate(cut);
            }
            if self.window.borrow().is_none() {
                self.set_window(Some((start, Value::Null)));
            }
        }
        false
    }

    pub(super) fn set_window(&self, w: Option<(u64, Value)>) {
        let json = w
            .as_ref()
            .map(|(start, state)| json!({ "start_us": start, "state": state }).to_string());
        let stored = self
            .deps
            .store
            .save_window(self.lane_id(), json.as_ref().map(String::as_bytes));
        if let Err(e) = stored {
            self.problem(&format!("cannot store the window state: {e}"));
        }
        *self.window.borrow_mut() = w;
    }

    /// The final invocation of a window (no records, `isFinalInvokeForWindow`), retried
    /// like any batch; when retries run out the window's state is dropped.
    pub(super) fn deliver_window_end(&self, cfg: &MappingConfig, ctx: &WindowCtx) -> Outcome {
        let mut attempts: u32 = 0;
        let mut throttles: u32 = 0;
        loop {
            if self.stopped() {
                return Outcome::Interrupted;
            }
            match self
                .contained(|| self.invoke_with(cfg, &RenderedBatch::default(), &[], Some(ctx)))
            {
                Ok(_) => return Outcome::Done,
                Err(Failure::Throttled(e)) => {
                    throttles += 1;
                    self.throttled(&[], &e, throttles);
                    continue;
                }
                Err(Failure::Failed(e) | Failure::Unreached(e)) => {
                    self.mapping.metrics.errors.fetch_add(1, Ordering::Relaxed);
                    self.problem(&format!("final window invocation failed: {e}"));
                }
            }
            attempts += 1;
            if cfg.maximum_retry_attempts >= 0 && attempts > cfg.maximum_retry_attempts as u32 {
                return Outcome::Done;
            }
            self.mapping.metrics.retries.fetch_add(1, Ordering::Relaxed);
            let backoff = backoff_ms(attempts);
            self.sleep_unless_stopped(Duration::from_millis(backoff));
        }
    }
}
