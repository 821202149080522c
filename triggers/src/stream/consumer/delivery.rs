//! Delivery: a batch to the function until it is handled — the event framed from the
//! rendered records, retries with backoff, throttles, bisecting, partial batch
//! responses, record age and the recursion guard.
//!
//! Owns Lambda's delivery semantics for one batch. Must not know where records come
//! from nor what the failure destination writes.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::time::Duration;

use eddy_engine::clock::now_us;
use serde_json::{Value, json};

use super::super::MappingConfig;
use super::super::render::{Rendered, RenderedBatch};
use super::lane::{Attempts, Consumer, Failed, Failure, Outcome, RECURSION_HOPS_MAX, backoff_ms};
use super::window::{WINDOW_STATE_BYTES_MAX, WindowCtx, iso_us};
use crate::executor::CallContext;

impl Consumer {
    /// Delivers a batch until it is handled. `pos` moves to the first record not yet
    /// handled whenever part of the batch is (a partial batch response).
    pub(super) fn deliver(
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
                Attempts::default(),
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
        let mut tried = Attempts::default();
        loop {
            if self.stopped() {
                return Outcome::Interrupted;
            }
            // Records retention removed from the stream while they were retried are
            // given up, as Lambda gives up a record when it expires (with
            // `MaximumRetryAttempts` and `MaximumRecordAgeInSeconds` at -1 that is the
            // only end of a poison record): the shard moves on, instead of retrying a
            // copy of what the stream no longer holds.
            let horizon = self.source().trim_horizon(&self.stream, self.shard);
            if batch[0].seq < horizon {
                let expired = batch.iter().take_while(|r| r.seq < horizon).count();
                if let Outcome::Interrupted = self.give_up(
                    cfg,
                    Failed::Rendered(rendered, &batch[..expired]),
                    "RecordAgeExceeded",
                    tried,
                ) {
                    return Outcome::Interrupted;
                }
                if expired == batch.len() {
                    return Outcome::Done;
                }
                batch.drain(..expired);
                *pos = batch[0].seq;
                self.save(*pos);
                continue;
            }
            if cfg.maximum_record_age_s >= 0 {
                let age_us = now_us().saturating_sub(batch[0].created_us);
                if age_us > (cfg.maximum_record_age_s as u64) * 1_000_000 {
                    return self.give_up(
                        cfg,
                        Failed::Rendered(rendered, &batch),
                        "RecordAgeExceeded",
                        tried,
                    );
                }
            }
            let result = self.contained(|| self.invoke(cfg, rendered, &batch));
            match result {
                Ok(response) => {
                    tried.invokes += 1;
                    tried.function_error = None;
                    match failed_from(&response, &batch, cfg.report_batch_item_failures, |pos| {
                        self.wire_sequence_number(pos)
                    }) {
                        Ok(None) => {
                            self.report_handled(&batch, attempts);
                            self.mapping.set_result("OK");
                            return Outcome::Done;
                        }
                        Ok(Some(first_failed)) if first_failed > 0 => {
                            // Records before the first failure are handled: checkpoint
                            // them and retry the rest.
                            self.report_invocation_failed(
                                &batch[first_failed..],
                                attempts + 1,
                                "the function reported these records failed (batchItemFailures)",
                            );
                            *pos = batch[first_failed].seq;
                            self.save(*pos);
                            batch.drain(..first_failed);
                            attempts = 0;
                            tried = Attempts::default();
                            self.mapping.metrics.retries.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        Ok(Some(_)) => {
                            self.mapping.metrics.errors.fetch_add(1, Ordering::Relaxed);
                            self.report_invocation_failed(
                                &batch,
                                attempts + 1,
                                "the function reported the first record failed (batchItemFailures)",
                            );
                        }
                        Err(()) => {
                            self.mapping.metrics.errors.fetch_add(1, Ordering::Relaxed);
                            self.report_invocation_failed(
                                &batch,
                                attempts + 1,
                                "the function's batchItemFailures is malformed",
                            );
                        }
                    }
                }
                Err(Failure::Throttled(e)) => {
                    throttles += 1;
                    self.throttled(&batch, &e, throttles);
                    continue;
                }
                Err(Failure::Unreached(e)) => {
                    self.mapping.metrics.errors.fetch_add(1, Ordering::Relaxed);
                    self.report_unreached(&batch, attempts + 1, &e);
                }
                Err(Failure::Failed(e)) => {
                    tried.invokes += 1;
                    tried.function_error = Some("Unhandled");
                    self.mapping.metrics.errors.fetch_add(1, Ordering::Relaxed);
                    self.report_invocation_failed(&batch, attempts + 1, &e);
                }
            }
            // The batch failed.
            if cfg.bisect_on_error && batch.len() > 1 {
                self.report_bisect(&batch, attempts + 1);
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
                    tried,
                );
            }
            self.mapping.metrics.retries.fetch_add(1, Ordering::Relaxed);
            let backoff = backoff_ms(attempts);
            self.report_retry(&batch, attempts, backoff);
            self.sleep_unless_stopped(Duration::from_millis(backoff));
        }
    }

    /// Runs `invoke` (rendering the event and invoking the function) and turns a panic
    /// of host code into this attempt's failure, so that the mapping's retry policy
    /// handles it like a function error.
    pub(super) fn contained(
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

    /// A throttled attempt on `batch` (the `throttles`th in a row): counted and
    /// reported, then a backoff before the batch is tried again. It does not use up a
    /// retry attempt.
    pub(super) fn throttled(&self, batch: &[Rendered], reason: &str, throttles: u32) {
        self.mapping
            .metrics
            .throttles
            .fetch_add(1, Ordering::Relaxed);
        self.report_throttled(batch, throttles, reason);
        self.sleep_unless_stopped(Duration::from_millis(backoff_ms(throttles)));
    }

    /// Runs the function on a batch; the response JSON or the failure. In a tumbling
    /// window, the event carries the window and its state, and the response's `state`
    /// is kept for the next invocation.
    pub(super) fn invoke(
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

    pub(super) fn invoke_with(
        &self,
        cfg: &MappingConfig,
        rendered: &RenderedBatch,
        batch: &[Rendered],
        window: Option<&WindowCtx>,
    ) -> Result<String, Failure> {
        let Some(function) = self.deps.functions.get(&cfg.function_name) else {
            return Err(Failure::Unreached(format!(
                "function {} is not deployed",
                cfg.function_name
            )));
        };
        let mut event = rendered.open_event(batch);
        if let Some(w) = window {
            let extra = json!({
                "window": { "start": iso_us(w.start_us), "end": iso_us(w.end_us) },
                "state": if w.state.is_null() { json!({}) } else { w.state.clone() },
                "shardId": self.wire_shard_id(),
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
        let event = String::from_utf8(event).map_err(|e| Failure::Unreached(e.to_string()))?;
        let metrics = &self.mapping.metrics;
        // The function's own writes carry one more hop than the records that caused them.
        let hops = batch
            .iter()
            .map(|r| r.hops)
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        let context = CallContext { origin_hops: hops };
        let inv = self
            .deps
            .executor
            .invoke_in(context, &function, &event, &self.deps.tables);
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
                    // "When using tumbling windows, the function response must contain
                    // a state property; if it does not, Lambda considers it a failed
                    // invocation" (Lambda's guide, services-ddb-windows). A `null`
                    // state carries nothing either. The final invocation's state is
                    // deleted with the window, so its answer is not read.
                    let Some(state) = serde_json::from_str::<Value>(&r)
                        .ok()
                        .and_then(|v| v.get("state").cloned())
                        .filter(|s| !s.is_null())
                    else {
                        return Err(Failure::Failed(
                            "the response to a tumbling-window invocation has no state \
                             property, so the invocation failed (return {\"state\": {...}})"
                                .into(),
                        ));
                    };
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
}

/// Reads a response for `batchItemFailures`. `Ok(None)`: the whole batch succeeded;
/// `Ok(Some(i))`: records from index `i` on failed (the lowest failed sequence number);
/// `Err(())`: the response is malformed, which fails the whole batch, as in Lambda.
/// `itemIdentifier` is a record's `SequenceNumber` as the function saw it, which
/// `wire_sequence_number` gives for a position (a remote stream's are not Eddy's).
pub(super) fn failed_from(
    response: &str,
    batch: &[Rendered],
    enabled: bool,
    wire_sequence_number: impl Fn(u64) -> String,
) -> Result<Option<usize>, ()> {
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
    let mut wire: Option<Vec<String>> = None;
    for f in failures {
        let id = f.get("itemIdentifier").and_then(Value::as_str).ok_or(())?;
        // Computed once, and only when a failure is reported.
        let wire =
            wire.get_or_insert_with(|| batch.iter().map(|r| wire_sequence_number(r.seq)).collect());
        let index = wire.iter().position(|w| w == id).ok_or(())?;
        lowest = Some(lowest.map_or(index, |l: usize| l.min(index)));
    }
    Ok(lowest)
}
