//! Reporting what went wrong with a lane's batches: every failed invocation, retry,
//! bisect, give-up and failure-destination send is a `tracing` event on the server's
//! log (WARN; INFO for a batch that succeeded after retries) with the trigger, the
//! function, the shard, the records' sequence range, the attempt and the error; the
//! errors are also kept in the mapping's ring of recent errors and set its
//! `LastProcessingResult`, so that the API shows them.
//!
//! Owns the events' names, fields and words. Must not decide anything: the delivery
//! rooms call one function per event, and what happens next is theirs.

use std::sync::atomic::Ordering;

use eddy_engine::clock::{now_ms, rfc3339_ms};

use super::super::failures::RecentError;
use super::super::render::Rendered;
use super::lane::{Consumer, Failed};

/// A `tracing` event at `$level` carrying the fields every report of a lane has (the
/// trigger, the function, the shard, the lane, the sequence range and the number of
/// records), then the report's own fields and message.
macro_rules! lane_event {
    ($level:ident, $consumer:expr, $span:expr, $($rest:tt)+) => {
        tracing::$level!(
            trigger = %$consumer.mapping.id,
            function = %$consumer.function_name(),
            shard = %$consumer.wire_shard_id(),
            lane = $consumer.lane,
            sequence = %$consumer.wire_range(&$span),
            records = $span.records,
            $($rest)+
        )
    };
}

/// The records a report is about: the first and last sequence numbers and how many.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    first: u64,
    last: u64,
    records: usize,
}

impl Span {
    pub(super) fn of(batch: &[Rendered]) -> Span {
        Span {
            first: batch.first().map_or(0, |r| r.seq),
            last: batch.last().map_or(0, |r| r.seq),
            records: batch.len(),
        }
    }

    pub(super) fn of_failed(batch: &Failed<'_>) -> Span {
        match batch {
            Failed::Rendered(_, batch) => Span::of(batch),
            Failed::Raw(records) => Span {
                first: records.first().map_or(0, |r| r.seq),
                last: records.last().map_or(0, |r| r.seq),
                records: records.len(),
            },
        }
    }
}

impl Consumer {
    /// `first..last` of a span, as the function saw the sequence numbers.
    fn wire_range(&self, span: &Span) -> String {
        format!(
            "{}..{}",
            self.wire_sequence_number(span.first),
            self.wire_sequence_number(span.last)
        )
    }

    fn function_name(&self) -> String {
        self.mapping.live().config.function_name.clone()
    }

    /// Keeps an error in the mapping's ring of recent errors.
    fn remember(&self, kind: &str, span: Span, attempt: u32, error: &str) {
        self.mapping.recent_errors.push(RecentError {
            time: rfc3339_ms(now_ms()),
            kind: kind.to_string(),
            error: error.to_string(),
            shard_id: self.wire_shard_id(),
            first_sequence_number: self.wire_sequence_number(span.first),
            last_sequence_number: self.wire_sequence_number(span.last),
            attempt,
        });
    }

    /// The function failed on a batch (attempt `attempt`, 1 for the first): it
    /// returned an error, trapped, timed out, or answered with failed records.
    pub(super) fn report_invocation_failed(&self, batch: &[Rendered], attempt: u32, error: &str) {
        let span = Span::of(batch);
        lane_event!(
            warn,
            self,
            span,
            attempt,
            error,
            "a trigger's invocation failed"
        );
        self.remember("FunctionError", span, attempt, error);
        self.mapping
            .set_result(&format!("PROBLEM: Function call failed: {error}"));
    }

    /// The batch did not reach the function (attempt `attempt`): it is not deployed,
    /// or the event could not be built. The retry policy applies as to a failure.
    pub(super) fn report_unreached(&self, batch: &[Rendered], attempt: u32, error: &str) {
        let span = Span::of(batch);
        lane_event!(
            warn,
            self,
            span,
            attempt,
            error,
            "a trigger's batch did not reach its function"
        );
        self.remember("FunctionNotReached", span, attempt, error);
        self.mapping
            .set_result(&format!("PROBLEM: Function call failed: {error}"));
    }

    /// An invocation was refused for want of capacity (the `throttles`th time in a row
    /// for this batch; an empty batch is a window's final invocation). It is retried
    /// after a backoff without using up an attempt.
    pub(super) fn report_throttled(&self, batch: &[Rendered], throttles: u32, reason: &str) {
        let span = Span::of(batch);
        lane_event!(
            warn,
            self,
            span,
            throttles,
            reason,
            "a trigger's invocation was throttled"
        );
        self.remember("Throttled", span, 0, reason);
        self.mapping
            .set_result(&format!("PROBLEM: Function call throttled: {reason}"));
    }

    /// A failed batch is tried again after `backoff_ms` (retry number `attempt`).
    pub(super) fn report_retry(&self, batch: &[Rendered], attempt: u32, backoff_ms: u64) {
        let span = Span::of(batch);
        lane_event!(
            warn,
            self,
            span,
            attempt,
            backoff_ms,
            "retrying a trigger's failed batch"
        );
    }

    /// A batch was handled; after `failed_attempts` failed attempts it is a successful
    /// retry, which is logged (INFO) so that the log shows how a run of failures ended.
    pub(super) fn report_handled(&self, batch: &[Rendered], failed_attempts: u32) {
        if failed_attempts == 0 {
            return;
        }
        let span = Span::of(batch);
        lane_event!(
            info,
            self,
            span,
            attempt = failed_attempts + 1,
            "a trigger's batch succeeded on retry"
        );
    }

    /// A failed batch is split in two halves, each delivered on its own.
    pub(super) fn report_bisect(&self, batch: &[Rendered], attempt: u32) {
        let span = Span::of(batch);
        lane_event!(
            warn,
            self,
            span,
            attempt,
            "bisecting a trigger's failed batch"
        );
    }

    /// A batch was given up for `condition` (`RetryAttemptsExhausted`, …): sent to
    /// the failure destination `sent_to`, or discarded when there is none.
    pub(super) fn report_given_up(
        &self,
        batch: &Failed<'_>,
        condition: &str,
        sent_to: Option<&str>,
    ) {
        let span = Span::of_failed(batch);
        let outcome = match sent_to {
            Some(table) => format!("batch sent to {table}"),
            None => "batch dropped (no failure destination)".to_string(),
        };
        lane_event!(
            warn,
            self,
            span,
            condition,
            destination = sent_to.unwrap_or(""),
            "a trigger gave up a batch: {outcome}"
        );
        let error = format!("{condition}: {outcome}");
        self.remember(condition, span, 0, &error);
        self.mapping.set_result(&format!("PROBLEM: {error}"));
    }

    /// The failure destination `table` refused a given-up batch (attempt `attempt`
    /// of sending it); it is tried again.
    pub(super) fn report_destination_failed(
        &self,
        batch: &Failed<'_>,
        table: &str,
        attempt: u32,
        error: &str,
    ) {
        let span = Span::of_failed(batch);
        lane_event!(
            warn,
            self,
            span,
            destination = table,
            attempt,
            error,
            "a trigger cannot write to its failure destination"
        );
        let error = format!("cannot write to the failure destination {table}: {error}");
        self.remember("FailureDestinationError", span, attempt, &error);
        self.mapping.set_result(&format!("PROBLEM: {error}"));
    }

    /// The lane has read every record there is: nothing waits, so the iterator age
    /// (the age of the newest record delivered) is 0, not what it was at the last
    /// delivery, which would keep a lag alert firing on an idle trigger. The gauge is
    /// one per mapping: with several shards or lanes it is the word of the lane that
    /// spoke last (a lagging lane writes its age again at its next invocation).
    pub(super) fn report_caught_up(&self) {
        self.mapping
            .metrics
            .iterator_age_us
            .store(0, Ordering::Relaxed);
    }
}
