//! One consumer: a shard lane of one mapping. It owns a checkpoint and delivers the
//! lane's records in sequence order with Lambda's semantics: batching window, filters,
//! retries with exponential backoff, bisecting, partial batch responses, record age,
//! and the failure destination.
//!
//! A fault in host code while handling a batch (rendering the event, filtering,
//! checkpointing, the failure destination) is that batch's failure: it is caught at the
//! batch boundary and handled by the mapping's retry policy, and the consumer thread
//! lives on. A throttled invocation (the executor's queue was full, or the deadline
//! passed before an instance slot was free) is retried with backoff without using up
//! `MaximumRetryAttempts`, as Lambda does for throttles where the batch did not reach
//! the function.

use eddy_engine::clock::now_us;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use eddy_engine::{
    AttributeValue, Engine, Item, PutItemInput, StreamDef, StreamRecord, encode_item,
    format_sequence_number,
};
use serde_json::{Value, json};

use super::mapping::{Mapping, checkpoint_key, window_key};
use super::render::{Rendered, RenderedBatch};
use super::source::{SourceError, StreamSource};
use super::{MappingConfig, Runtime};

/// Longest a consumer sleeps before it looks at its mapping again (disabled, deleted,
/// updated). Records wake it at once; this bounds only how late it notices a change.
const CONTROL_CHECK_MS: u64 = 200;
/// The first retry waits this long; each next one twice as long…
const RETRY_BACKOFF_MS_MIN: u64 = 10;
/// …up to this.
const RETRY_BACKOFF_MS_MAX: u64 = 5_000;
/// Exponential backoff before retry number `attempt` (1-based).
fn backoff_ms(attempt: u32) -> u64 {
    RETRY_BACKOFF_MS_MIN
        .saturating_mul(1u64 << attempt.min(20))
        .min(RETRY_BACKOFF_MS_MAX)
}

/// Largest event handed to a function (Lambda: 6 MB).
const EVENT_BYTES_MAX: usize = 6 * 1024 * 1024;
/// A record caused by this many chained trigger invocations (a function whose writes
/// trigger itself, directly or through other functions) is not delivered: Lambda's
/// recursive-loop guard stops after about 16 hops.
pub const RECURSION_HOPS_MAX: u8 = 16;

pub(crate) struct Consumer {
    rt: Arc<Runtime>,
    mapping: Arc<Mapping>,
    /// The open tumbling window of this lane: its start (µs) and the function's state.
    window: std::cell::RefCell<Option<(u64, Value)>>,
    stream: Arc<StreamDef>,
    shard: u16,
    lane: u32,
}

/// What one round of the consumer loop decided.
enum Round {
    /// Go on with the next round.
    Next,
    /// The shard is closed and drained: the consumer is done.
    Finished,
}

/// Why an invocation of the function did not handle a batch.
enum Failure {
    /// The batch did not reach the function (refused, or no instance slot before the
    /// deadline): retried without counting a retry attempt.
    Throttled(String),
    /// The function or the host failed: the mapping's retry policy applies.
    Failed(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Throttled(m) | Failure::Failed(m) => f.write_str(m),
        }
    }
}

/// The records of one lane at a position, at most one batch, and the position after
/// the last record the round considered.
struct LaneBatch {
    records: Vec<StreamRecord>,
    upto: u64,
    drained: bool,
}

/// A batch given up (to the failure destination or dropped): rendered, or still raw
/// when rendering it is what failed.
#[derive(Clone, Copy)]
enum Failed<'a> {
    Rendered(&'a RenderedBatch, &'a [Rendered]),
    Raw(&'a [StreamRecord]),
}

impl Failed<'_> {
    fn len(&self) -> usize {
        match self {
            Failed::Rendered(_, batch) => batch.len(),
            Failed::Raw(records) => records.len(),
        }
    }
}

/// What became of a batch.
enum Outcome {
    /// Handled (by the function or the failure destination): move past it.
    Done,
    /// The mapping stopped or changed before the batch was handled.
    Interrupted,
}

pub(crate) fn load_checkpoint(engine: &Engine, id: &str, shard: u16, lane: u32) -> Option<u64> {
    engine
        .system_get(&checkpoint_key(id, shard, lane))
        .ok()
        .flatten()
        .and_then(|v| v.as_slice().try_into().ok())
        .map(u64::from_be_bytes)
}

fn load_window(engine: &Engine, id: &str, shard: u16, lane: u32) -> Option<(u64, Value)> {
    let bytes = engine.system_get(&window_key(id, shard, lane)).ok()??;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    Some((v["start_us"].as_u64()?, v["state"].clone()))
}

/// The largest state a function may carry between invocations of a window (Lambda:
/// 1 MB).
const WINDOW_STATE_BYTES_MAX: usize = 1024 * 1024;

/// The tumbling window an invocation belongs to.
struct WindowCtx {
    start_us: u64,
    end_us: u64,
    state: Value,
    is_final: bool,
}

fn iso_us(us: u64) -> String {
    eddy_engine::clock::rfc3339_ms(us / 1000)
}

/// The lane of a record: a stable hash (FNV-1a) of its encoded keys, so an item always
/// goes to the same lane, across restarts too.
fn lane_of(r: &StreamRecord, lanes: u32) -> u32 {
    if lanes <= 1 {
        return 0;
    }
    let h = eddy_engine::hash::fnv1a_64(&encode_item(&r.keys));
    (h % u64::from(lanes)) as u32
}

impl Consumer {
    pub(crate) fn new(
        rt: Arc<Runtime>,
        mapping: Arc<Mapping>,
        stream: Arc<StreamDef>,
        shard: u16,
        lane: u32,
    ) -> Consumer {
        let window = load_window(&rt.deps.engine, &mapping.id, shard, lane);
        Consumer {
            rt,
            mapping,
            window: std::cell::RefCell::new(window),
            stream,
            shard,
            lane,
        }
    }

    fn engine(&self) -> &Engine {
        &self.rt.deps.engine
    }

    /// Where this consumer reads records (never the engine directly).
    fn source(&self) -> &dyn StreamSource {
        self.rt.source.as_ref()
    }

    fn stopped(&self) -> bool {
        self.mapping.stopped.load(Ordering::Acquire)
    }

    /// Reports a problem of this lane: the mapping's `LastProcessingResult` shows it
    /// (`PROBLEM: …`, as Lambda words it) and a tracing event records it with the
    /// trigger, function, shard and lane.
    fn problem(&self, text: &str) {
        let live = self.mapping.live();
        tracing::warn!(
            trigger = %self.mapping.id,
            function = %live.config.function_name,
            shard = self.shard,
            lane = self.lane,
            problem = text,
            "a stream trigger could not handle records"
        );
        self.mapping.set_result(&format!("PROBLEM: {text}"));
    }

    fn save(&self, pos: u64) {
        let key = checkpoint_key(&self.mapping.id, self.shard, self.lane);
        // Not fsync'd: a checkpoint lost in a crash only means records are delivered
        // again (at-least-once), and a per-batch fsync would cap throughput. Writes
        // reach the journal in order, so a recovered checkpoint is never ahead of a
        // handled batch. A checkpoint that cannot be stored at all is reported.
        if let Err(e) = self.engine().system_put_relaxed(&key, &pos.to_be_bytes()) {
            self.problem(&format!("cannot store the checkpoint: {e}"));
        }
    }

    /// The consumer loop; returns when the mapping stops or the shard is closed and
    /// drained. Each round runs under `catch_unwind`: a panic of host code while
    /// handling a batch is that batch's failure (see [`Consumer::round_panicked`]).
    pub(crate) fn run(self) {
        let mut pos = load_checkpoint(self.engine(), &self.mapping.id, self.shard, self.lane)
            .unwrap_or_else(|| self.source().trim_horizon(&self.stream, self.shard));
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
    fn lane_batch(&self, cfg: &MappingConfig, pos: &mut u64) -> Option<LaneBatch> {
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
    fn round(&self, pos: &mut u64) -> Round {
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
        if cfg.tumbling_window_s > 0 {
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
                    if let Outcome::Interrupted = self.deliver_window_end(cfg, &ctx) {
                        return Round::Next;
                    }
                    self.set_window(None);
                    return Round::Next;
                }
            }
            // A batch never spans windows.
            if let Some(first) = batch.first() {
                let start = first.created_us / window_us * window_us;
                if let Some(cut) = batch
                    .iter()
                    .position(|r| r.created_us / window_us * window_us != start)
                {
                    upto = batch[cut].seq;
                    batch.truncate(cut);
                }
                if self.window.borrow().is_none() {
                    self.set_window(Some((start, Value::Null)));
                }
            }
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
        let mut rendered = RenderedBatch::render(
            self.rt.deps.codec.as_ref(),
            &self.stream,
            &cfg.stream_arn,
            &batch,
        );
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
    fn round_panicked(&self, pos: &mut u64, rounds: u32, message: &str) {
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
    fn give_up_after_panics(&self, pos: &mut u64, rounds: u32) -> bool {
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
        if let Outcome::Interrupted = self.give_up(cfg, Failed::Raw(&batch.records), condition) {
            return false;
        }
        *pos = batch.upto;
        self.save(*pos);
        true
    }

    /// Delivers a batch until it is handled. `pos` moves to the first record not yet
    /// handled whenever part of the batch is (a partial batch response).
    fn deliver(
        &self,
        cfg: &MappingConfig,
        rendered: &RenderedBatch,
        batch: &[Rendered],
        pos: &mut u64,
    ) -> Outcome {
        let mut batch = batch.to_vec();
        // Records that closed a loop are not delivered: they go where failed records go.
        if batch.iter().any(|r| r.hops >= RECURSION_HOPS_MAX) {
            let (looped, rest): (Vec<Rendered>, Vec<Rendered>) = batch
                .into_iter()
                .partition(|r| r.hops >= RECURSION_HOPS_MAX);
            self.mapping
                .metrics
                .recursion_stops
                .fetch_add(looped.len() as u64, Ordering::Relaxed);
            self.mapping.set_state(
                "Enabled",
                &format!(
                    "RecursiveInvocationDetected: records caused by {RECURSION_HOPS_MAX} chained invocations were not delivered"
                ),
            );
            if let Outcome::Interrupted = self.give_up(
                cfg,
                Failed::Rendered(rendered, &looped),
                "RecursiveInvocationDetected",
            ) {
                return Outcome::Interrupted;
            }
            if rest.is_empty() {
                return Outcome::Done;
            }
            batch = rest;
        }
        let mut attempts: u32 = 0;
        let mut throttles: u32 = 0;
        loop {
            if self.stopped() {
                return Outcome::Interrupted;
            }
            if cfg.maximum_record_age_s >= 0 {
                let age_us = now_us().saturating_sub(batch[0].created_us);
                if age_us > (cfg.maximum_record_age_s as u64) * 1_000_000 {
                    return self.give_up(
                        cfg,
                        Failed::Rendered(rendered, &batch),
                        "RecordAgeExceeded",
                    );
                }
            }
            let result = self.contained(|| self.invoke(cfg, rendered, &batch));
            match result {
                Ok(response) => {
                    match failed_from(&response, &batch, cfg.report_batch_item_failures) {
                        Ok(None) => {
                            self.mapping.set_result("OK");
                            return Outcome::Done;
                        }
                        Ok(Some(first_failed)) if first_failed > 0 => {
                            // Records before the first failure are handled: checkpoint
                            // them and retry the rest.
                            *pos = batch[first_failed].seq;
                            self.save(*pos);
                            batch.drain(..first_failed);
                            attempts = 0;
                            self.mapping.metrics.retries.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        Ok(Some(_)) | Err(()) => {
                            self.mapping.metrics.errors.fetch_add(1, Ordering::Relaxed);
                            self.problem("Function call failed");
                        }
                    }
                }
                Err(Failure::Throttled(e)) => {
                    throttles += 1;
                    self.throttled(&e, throttles);
                    continue;
                }
                Err(Failure::Failed(e)) => {
                    self.mapping.metrics.errors.fetch_add(1, Ordering::Relaxed);
                    self.problem(&format!("Function call failed: {e}"));
                }
            }
            // The batch failed.
            if cfg.bisect_on_error && batch.len() > 1 {
                let (left, right) = batch.split_at(batch.len() / 2);
                for half in [left, right] {
                    if let Outcome::Interrupted = self.deliver(cfg, rendered, half, pos) {
                        return Outcome::Interrupted;
                    }
                }
                return Outcome::Done;
            }
            attempts += 1;
            if cfg.maximum_retry_attempts >= 0 && attempts > cfg.maximum_retry_attempts as u32 {
                return self.give_up(
                    cfg,
                    Failed::Rendered(rendered, &batch),
                    "RetryAttemptsExhausted",
                );
            }
            self.mapping.metrics.retries.fetch_add(1, Ordering::Relaxed);
            let backoff = backoff_ms(attempts);
            self.sleep_unless_stopped(Duration::from_millis(backoff));
        }
    }

    /// Runs `invoke` (rendering the event and invoking the function) and turns a panic
    /// of host code into this attempt's failure, so that the mapping's retry policy
    /// handles it like a function error.
    fn contained(
        &self,
        invoke: impl FnOnce() -> Result<String, Failure>,
    ) -> Result<String, Failure> {
        std::panic::catch_unwind(AssertUnwindSafe(invoke)).unwrap_or_else(|panic| {
            let message = eddy_engine::panic_text(panic.as_ref());
            tracing::error!(
                trigger = %self.mapping.id,
                shard = self.shard,
                lane = self.lane,
                panic = %message,
                "host code panicked while delivering a batch; the attempt failed"
            );
            Err(Failure::Failed(format!(
                "the host failed while delivering the batch: {message}"
            )))
        })
    }

    /// A throttled attempt (the `throttles`th in a row): counted and reported, then a
    /// backoff before the batch is tried again. It does not use up a retry attempt.
    fn throttled(&self, reason: &str, throttles: u32) {
        self.mapping
            .metrics
            .throttles
            .fetch_add(1, Ordering::Relaxed);
        self.problem(&format!("Function call throttled: {reason}"));
        self.sleep_unless_stopped(Duration::from_millis(backoff_ms(throttles)));
    }

    fn sleep_unless_stopped(&self, d: Duration) {
        let end = Instant::now() + d;
        while !self.stopped() {
            let now = Instant::now();
            if now >= end {
                return;
            }
            std::thread::sleep((end - now).min(Duration::from_millis(CONTROL_CHECK_MS)));
        }
    }

    fn set_window(&self, w: Option<(u64, Value)>) {
        let key = window_key(&self.mapping.id, self.shard, self.lane);
        let stored = match &w {
            Some((start, state)) => self.engine().system_put_relaxed(
                &key,
                json!({ "start_us": start, "state": state })
                    .to_string()
                    .as_bytes(),
            ),
            None => self.engine().system_delete(&key),
        };
        if let Err(e) = stored {
            self.problem(&format!("cannot store the window state: {e}"));
        }
        *self.window.borrow_mut() = w;
    }

    /// The final invocation of a window (no records, `isFinalInvokeForWindow`), retried
    /// like any batch; when retries run out the window's state is dropped.
    fn deliver_window_end(&self, cfg: &MappingConfig, ctx: &WindowCtx) -> Outcome {
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
                    self.throttled(&e, throttles);
                    continue;
                }
                Err(Failure::Failed(e)) => {
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

    /// Runs the function on a batch; the response JSON or the failure. In a tumbling
    /// window, the event carries the window and its state, and the response's `state`
    /// is kept for the next invocation.
    fn invoke(
        &self,
        cfg: &MappingConfig,
        rendered: &RenderedBatch,
        batch: &[Rendered],
    ) -> Result<String, Failure> {
        if cfg.tumbling_window_s == 0 {
            return self.invoke_with(cfg, rendered, batch, None);
        }
        let window_us = u64::from(cfg.tumbling_window_s) * 1_000_000;
        let (start, state) = self.window.borrow().clone().unwrap_or_else(|| {
            let start = batch
                .first()
                .map_or(0, |r| r.created_us / window_us * window_us);
            (start, Value::Null)
        });
        let ctx = WindowCtx {
            start_us: start,
            end_us: start + window_us,
            state,
            is_final: false,
        };
        self.invoke_with(cfg, rendered, batch, Some(&ctx))
    }

    fn invoke_with(
        &self,
        cfg: &MappingConfig,
        rendered: &RenderedBatch,
        batch: &[Rendered],
        window: Option<&WindowCtx>,
    ) -> Result<String, Failure> {
        let Some(function) = self.rt.deps.functions.get(&cfg.function_name) else {
            return Err(Failure::Failed(format!(
                "function {} is not deployed",
                cfg.function_name
            )));
        };
        let mut event = rendered.open_event(batch);
        if let Some(w) = window {
            let extra = json!({
                "window": { "start": iso_us(w.start_us), "end": iso_us(w.end_us) },
                "state": if w.state.is_null() { json!({}) } else { w.state.clone() },
                "shardId": self.stream.shard_id(self.shard),
                "eventSourceARN": cfg.stream_arn,
                "isFinalInvokeForWindow": w.is_final,
                "isWindowTerminatedEarly": false,
            });
            if let Value::Object(fields) = extra {
                for (k, v) in fields {
                    event.push(b',');
                    let _ = serde_json::to_writer(&mut event, &k);
                    event.push(b':');
                    let _ = serde_json::to_writer(&mut event, &v);
                }
            }
        }
        event.push(b'}');
        // The codec writes JSON, which is UTF-8.
        let event = String::from_utf8(event).map_err(|e| Failure::Failed(e.to_string()))?;
        let metrics = &self.mapping.metrics;
        // The function's own writes carry one more hop than the records that caused them.
        let hops = batch
            .iter()
            .map(|r| r.hops)
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        let inv = eddy_engine::with_origin_hops(hops, || {
            self.rt
                .deps
                .executor
                .invoke(&function, &event, &self.rt.deps.tables)
        });
        if inv.throttled() {
            let reason = inv.result.err().map_or_else(String::new, |e| e.to_string());
            return Err(Failure::Throttled(reason));
        }
        // Invocations that reached the function, as Lambda's metric counts them.
        metrics.invocations.fetch_add(1, Ordering::Relaxed);
        let us = inv.duration.as_micros() as u64;
        metrics.batch_duration_us_last.store(us, Ordering::Relaxed);
        metrics
            .batch_duration_us_total
            .fetch_add(us, Ordering::Relaxed);
        if let Some(last) = batch.last() {
            metrics
                .iterator_age_us
                .store(now_us().saturating_sub(last.created_us), Ordering::Relaxed);
        }
        match inv.result {
            Ok(r) => {
                metrics
                    .records_delivered
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                if let Some(w) = window
                    && !w.is_final
                {
                    let state = serde_json::from_str::<Value>(&r)
                        .ok()
                        .and_then(|v| v.get("state").cloned())
                        .unwrap_or(Value::Null);
                    if state.to_string().len() > WINDOW_STATE_BYTES_MAX {
                        return Err(Failure::Failed(format!(
                            "the window state is over {WINDOW_STATE_BYTES_MAX} bytes"
                        )));
                    }
                    self.set_window(Some((w.start_us, state)));
                }
                Ok(r)
            }
            Err(e) => Err(Failure::Failed(e.to_string())),
        }
    }

    /// Retries or age ran out: send the batch to the failure destination (retrying
    /// that until it works), or drop it when there is none, as Lambda does.
    fn give_up(&self, cfg: &MappingConfig, batch: Failed<'_>, condition: &str) -> Outcome {
        let Some(table) = &cfg.on_failure_table else {
            self.mapping
                .metrics
                .dropped
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            self.problem(&format!(
                "{condition}: batch dropped (no failure destination)"
            ));
            return Outcome::Done;
        };
        let mut attempt = 0u32;
        loop {
            if self.stopped() {
                return Outcome::Interrupted;
            }
            let sent = std::panic::catch_unwind(AssertUnwindSafe(|| {
                self.send_to_destination(cfg, table, &batch, condition)
            }))
            .unwrap_or_else(|panic| {
                Err(format!(
                    "the host failed: {}",
                    eddy_engine::panic_text(panic.as_ref())
                ))
            });
            match sent {
                Ok(()) => {
                    self.mapping
                        .metrics
                        .sent_to_failure_destination
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    self.problem(&format!("{condition}: batch sent to {table}"));
                    return Outcome::Done;
                }
                Err(e) => {
                    self.problem(&format!(
                        "cannot write to the failure destination {table}: {e}"
                    ));
                    attempt += 1;
                    let backoff = backoff_ms(attempt);
                    self.sleep_unless_stopped(Duration::from_millis(backoff));
                }
            }
        }
    }

    /// Writes one item describing the failed batch (Lambda's on-failure record, plus the
    /// records themselves) into the destination table.
    fn send_to_destination(
        &self,
        cfg: &MappingConfig,
        table: &str,
        failed: &Failed<'_>,
        condition: &str,
    ) -> Result<(), String> {
        // A batch that could not be rendered for delivery is rendered here, once more.
        let raw;
        let (rendered, batch) = match *failed {
            Failed::Rendered(rendered, batch) => (rendered, batch),
            Failed::Raw(records) => {
                raw = RenderedBatch::render(
                    self.rt.deps.codec.as_ref(),
                    &self.stream,
                    &cfg.stream_arn,
                    records,
                );
                (&raw, raw.records.as_slice())
            }
        };
        let engine = self.engine();
        let desc = engine.describe_table(table).map_err(|e| e.to_string())?;
        let first = &batch[0];
        let last = &batch[batch.len() - 1];
        let shard_id = self.stream.shard_id(self.shard);
        let id = format!(
            "{}:{}:{}",
            self.mapping.id,
            shard_id,
            format_sequence_number(first.seq)
        );
        let records = rendered
            .records_array(batch)
            .map_err(|e| format!("a rendered record is not JSON: {e}"))?;
        let context = json!({
            "requestContext": {
                "requestId": id,
                "functionArn": format!("arn:aws:lambda:{}:{}:function:{}", engine.config().region, engine.config().account_id, cfg.function_name),
                "condition": condition,
                "approximateInvokeCount": self.mapping.metrics.invocations.load(Ordering::Relaxed),
            },
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": format_sequence_number(first.seq),
                "endSequenceNumber": format_sequence_number(last.seq),
                "approximateArrivalOfFirstRecord": first.created_us as f64 / 1e6,
                "approximateArrivalOfLastRecord": last.created_us as f64 / 1e6,
                "batchSize": batch.len(),
                "streamArn": cfg.stream_arn,
            },
            "timestamp": now_us() as f64 / 1e6,
        });
        let s = |v: String| AttributeValue::S(v);
        let mut item = Item::new();
        item.insert("condition".into(), s(condition.into()));
        item.insert("triggerId".into(), s(self.mapping.id.clone()));
        item.insert("functionName".into(), s(cfg.function_name.clone()));
        item.insert("shardId".into(), s(shard_id));
        item.insert(
            "startSequenceNumber".into(),
            s(format_sequence_number(first.seq)),
        );
        item.insert(
            "endSequenceNumber".into(),
            s(format_sequence_number(last.seq)),
        );
        item.insert(
            "batchSize".into(),
            AttributeValue::N(eddy_engine::Number::from_i64(batch.len() as i64)),
        );
        item.insert("context".into(), s(context.to_string()));
        item.insert("records".into(), s(records));
        // The destination's own key: its hash key holds the failure id, a sort key (if
        // any) the first sequence number.
        let key_value = |t: eddy_engine::KeyType, text: String| match t {
            eddy_engine::KeyType::S => Some(AttributeValue::S(text)),
            eddy_engine::KeyType::B => Some(AttributeValue::B(text.into_bytes())),
            eddy_engine::KeyType::N => None,
        };
        let hash = &desc.def.key_schema.hash;
        let v = key_value(hash.key_type, id).ok_or_else(|| {
            format!(
                "the destination's partition key {} must be a string or binary",
                hash.name
            )
        })?;
        item.insert(hash.name.clone(), v);
        if let Some(range) = &desc.def.key_schema.range {
            let v = match range.key_type {
                eddy_engine::KeyType::N => {
                    AttributeValue::N(eddy_engine::Number::from_i64(first.seq as i64))
                }
                t => {
                    key_value(t, format_sequence_number(first.seq)).unwrap_or(AttributeValue::Null)
                }
            };
            item.insert(range.name.clone(), v);
        }
        let (tx, rx) = std::sync::mpsc::channel();
        engine.put_item(
            PutItemInput {
                table: table.to_string(),
                item,
                ..Default::default()
            },
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv()
            .map_err(|_| "the engine stopped".to_string())?
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Reads a response for `batchItemFailures`. `Ok(None)`: the whole batch succeeded;
/// `Ok(Some(i))`: records from index `i` on failed (the lowest failed sequence number);
/// `Err(())`: the response is malformed, which fails the whole batch, as in Lambda.
fn failed_from(response: &str, batch: &[Rendered], enabled: bool) -> Result<Option<usize>, ()> {
    if !enabled {
        return Ok(None);
    }
    let v: Value = match serde_json::from_str(response) {
        Ok(v) => v,
        // A response that is not JSON (or empty) reports no failures.
        Err(_) => return Ok(None),
    };
    let failures = match v.get("batchItemFailures") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(f)) => f,
        Some(_) => return Err(()),
    };
    let mut lowest: Option<usize> = None;
    for f in failures {
        let id = f.get("itemIdentifier").and_then(Value::as_str).ok_or(())?;
        let seq = eddy_engine::parse_sequence_number(id).ok_or(())?;
        let index = batch.iter().position(|r| r.seq == seq).ok_or(())?;
        lowest = Some(lowest.map_or(index, |l: usize| l.min(index)));
    }
    Ok(lowest)
}
