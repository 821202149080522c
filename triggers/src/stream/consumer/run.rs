//! The consumer loop: read a lane's batch from the source at the checkpoint, end or
//! cut tumbling windows, wait for a batching window, render the batch once, filter it,
//! hand it to delivery and move the checkpoint; a round that panics is the batch's
//! failure.
//!
//! Owns the order of a round and the lane split. Must not know how a batch is invoked
//! or given up (delivery and destination do that).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use eddy_engine::clock::now_us;
use eddy_engine::{StreamDef, StreamRecord, encode_item};

use super::super::MappingConfig;
use super::super::lanes::LaneDeps;
use super::super::mapping::Mapping;
use super::super::render::{EventCodec, RenderedBatch};
use super::super::source::{SourceError, StreamSource};
use super::lane::{
    Attempts, CONTROL_CHECK_MS, Consumer, EVENT_BYTES_MAX, Failed, Outcome, backoff_ms,
};
use super::window::load_window;

/// What one round of the consumer loop decided.
pub(super) enum Round {
    /// Go on with the next round.
    Next,
    /// The shard is closed and drained: the consumer is done.
    Finished,
}

/// The records of one lane at a position, at most one batch, and the position after
/// the last record the round considered.
pub(super) struct LaneBatch {
    pub(super) records: Vec<StreamRecord>,
    pub(super) upto: u64,
    pub(super) drained: bool,
}

/// The lane of a record: a stable hash (FNV-1a) of its encoded keys, so an item always
/// goes to the same lane, across restarts too.
pub(super) fn lane_of(r: &StreamRecord, lanes: u32) -> u32 {
    if lanes <= 1 {
        return 0;
    }
    let h = eddy_engine::hash::fnv1a_64(&encode_item(&r.keys));
    (h % u64::from(lanes)) as u32
}

impl Consumer {
    pub(crate) fn new(
        deps: Arc<LaneDeps>,
        mapping: Arc<Mapping>,
        (source, codec): (Arc<dyn StreamSource>, Arc<dyn EventCodec>),
        stream: Arc<StreamDef>,
        (shard, lane): (u16, u32),
        halt: Option<Arc<std::sync::atomic::AtomicBool>>,
    ) -> Consumer {
        let window = load_window(deps.store.as_ref(), &mapping.id, shard, lane);
        Consumer {
            deps,
            mapping,
            halt,
            window: std::cell::RefCell::new(window),
            source,
            codec,
            stream,
            shard,
            lane,
        }
    }

    /// The consumer loop; returns when the mapping stops or the shard is closed and
    /// drained. Each round runs under `catch_unwind`: a panic of host code while
    /// handling a batch is that batch's failure (see [`Consumer::round_panicked`]).
    pub(crate) fn run(self) {
        let mut pos = self
            .deps
            .store
            .load_checkpoint(self.lane_id())
            .unwrap_or_else(|| self.source().trim_horizon(&self.stream, self.shard));
        self.mapping.consumer_started();
        // Consecutive rounds that panicked at one position: (position, rounds).
        let mut panicked: Option<(u64, u32)> = None;
        while !self.stopped() {
            let at = pos;
            match std::panic::catch_unwind(AssertUnwindSafe(|| self.round(&mut pos))) {
                Ok(Round::Next) => {
                    if pos != at {
                        panicked = None;
                    }
                }
                Ok(Round::Finished) => return,
                Err(panic) => {
                    let rounds = match panicked {
                        Some((p, n)) if p == at => n + 1,
                        _ => 1,
                    };
                    panicked = Some((at, rounds));
                    let message = eddy_engine::panic_text(panic.as_ref());
                    self.round_panicked(&mut pos, rounds, &message);
                }
            }
        }
    }

    /// Reads this lane's records at `pos`: at most one batch of them, and the position
    /// after the last record considered. `Err` when the stream cannot be read now (the
    /// round is over; the next one retries).
    pub(super) fn lane_batch(&self, cfg: &MappingConfig, pos: &mut u64) -> Option<LaneBatch> {
        let lanes = cfg.parallelization_factor.max(1);
        let want = cfg.batch_size as usize;
        let read = match self.source().read(
            &self.stream,
            self.shard,
            *pos,
            want.saturating_mul(lanes as usize).min(10_000),
            EVENT_BYTES_MAX,
        ) {
            Ok(r) => r,
            Err(SourceError::Trimmed) => {
                // Retention removed records this consumer had not read yet: they are
                // gone. Count them as skipped and go on from the horizon.
                self.mapping
                    .metrics
                    .trimmed_skips
                    .fetch_add(1, Ordering::Relaxed);
                self.problem("records expired before they were processed");
                *pos = self.source().trim_horizon(&self.stream, self.shard);
                self.save(*pos);
                return None;
            }
            Err(e) => {
                self.problem(&format!("cannot read the stream: {e}"));
                std::thread::sleep(Duration::from_millis(CONTROL_CHECK_MS));
                return None;
            }
        };
        let mut records = Vec::new();
        let mut upto = read.next;
        for r in read.records {
            if lane_of(&r, lanes) != self.lane {
                continue;
            }
            if records.len() == want {
                upto = r.seq;
                break;
            }
            records.push(r);
        }
        Some(LaneBatch {
            records,
            upto,
            drained: read.drained,
        })
    }

    /// One round: read a batch at `pos` and handle it.
    pub(super) fn round(&self, pos: &mut u64) -> Round {
        let live = self.mapping.live();
        let cfg = &live.config;
        if !cfg.enabled {
            std::thread::sleep(Duration::from_millis(CONTROL_CHECK_MS));
            return Round::Next;
        }
        let want = cfg.batch_size as usize;
        let Some(LaneBatch {
            records: mut batch,
            mut upto,
            drained,
        }) = self.lane_batch(cfg, pos)
        else {
            return Round::Next;
        };
        if cfg.tumbling_window_s > 0 && self.tumbling(cfg, &mut batch, &mut upto) {
            return Round::Next;
        }
        if batch.is_empty() {
            if upto > *pos {
                *pos = upto;
                self.save(*pos);
                return Round::Next;
            }
            if drained {
                self.mapping
                    .set_result("OK: the shard is closed and every record was processed");
                return Round::Finished;
            }
            self.report_caught_up();
            self.source().wait(
                &self.stream,
                self.shard,
                *pos,
                Duration::from_millis(CONTROL_CHECK_MS),
            );
            return Round::Next;
        }
        // Batching window: wait (woken by commits) for a full batch or the window's
        // end, measured from the oldest record's arrival.
        if batch.len() < want && cfg.batching_window_s > 0 && !drained {
            let window_end_us = batch[0].created_us + u64::from(cfg.batching_window_s) * 1_000_000;
            let now = now_us();
            if now < window_end_us {
                let wait = Duration::from_micros(window_end_us - now)
                    .min(Duration::from_millis(CONTROL_CHECK_MS));
                self.source().wait(&self.stream, self.shard, upto, wait);
                return Round::Next;
            }
        }
        // Rendered once: the filters read these bytes, the event is framed from them
        // and a failed batch's payload is built from them.
        let mut rendered =
            RenderedBatch::render(self.codec.as_ref(), &self.stream, &cfg.stream_arn, &batch);
        drop(batch);
        let skipped = rendered.retain_matching(&live.filters);
        self.mapping
            .metrics
            .filtered_out
            .fetch_add(skipped as u64, Ordering::Relaxed);
        if !rendered.records.is_empty() {
            match self.deliver(cfg, &rendered, &rendered.records, pos) {
                Outcome::Done => {}
                Outcome::Interrupted => return Round::Next,
            }
        }
        *pos = upto;
        self.save(*pos);
        Round::Next
    }

    /// A round at `pos` panicked in host code (`rounds` times in a row at this
    /// position): the batch there failed. It is retried after a backoff, like a batch
    /// the function failed, until `MaximumRetryAttempts` or `MaximumRecordAgeInSeconds`
    /// run out; then it goes where failed batches go and the consumer moves past it.
    pub(super) fn round_panicked(&self, pos: &mut u64, rounds: u32, message: &str) {
        tracing::error!(
            trigger = %self.mapping.id,
            shard = self.shard,
            lane = self.lane,
            position = *pos,
            panic = %message,
            "host code panicked while handling a batch; the batch failed"
        );
        self.mapping.metrics.errors.fetch_add(1, Ordering::Relaxed);
        self.problem(&format!(
            "the host failed while handling a batch: {message}"
        ));
        let given_up =
            std::panic::catch_unwind(AssertUnwindSafe(|| self.give_up_after_panics(pos, rounds)));
        match given_up {
            Ok(true) => return,
            Ok(false) => {}
            Err(panic) => tracing::error!(
                trigger = %self.mapping.id,
                panic = %eddy_engine::panic_text(panic.as_ref()),
                "giving up a failed batch panicked too; it is retried"
            ),
        }
        self.mapping.metrics.retries.fetch_add(1, Ordering::Relaxed);
        self.sleep_unless_stopped(Duration::from_millis(backoff_ms(rounds)));
    }

    /// Gives up the batch at `pos` if its retries or its records' age ran out: it goes
    /// to the failure destination (or is dropped) and `pos` moves past it. `true` when
    /// it was given up.
    pub(super) fn give_up_after_panics(&self, pos: &mut u64, rounds: u32) -> bool {
        let live = self.mapping.live();
        let cfg = &live.config;
        let Some(batch) = self.lane_batch(cfg, pos) else {
            return false;
        };
        let Some(first) = batch.records.first() else {
            return false;
        };
        let retries_exhausted =
            cfg.maximum_retry_attempts >= 0 && rounds > cfg.maximum_retry_attempts as u32;
        let too_old = cfg.maximum_record_age_s >= 0
            && now_us().saturating_sub(first.created_us)
                > (cfg.maximum_record_age_s as u64) * 1_000_000;
        let condition = if too_old {
            "RecordAgeExceeded"
        } else if retries_exhausted {
            "RetryAttemptsExhausted"
        } else {
            return false;
        };
        if let Outcome::Interrupted = self.give_up(
            cfg,
            Failed::Raw(&batch.records),
            condition,
            Attempts::default(),
        ) {
            return false;
        }
        *pos = batch.upto;
        self.save(*pos);
        true
    }
}
