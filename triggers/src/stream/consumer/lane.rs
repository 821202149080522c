//! The consumer's state and what its rooms share: the lane's identity, its mapping and
//! source, the checkpoint, problems, and the outcomes of a batch.
//!
//! Owns the consumer's fields and the small vocabulary of its rooms. Must not know how
//! batches are read, delivered or given up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use eddy_engine::{StreamDef, StreamRecord};
use serde_json::Value;

use super::super::lanes::{LaneDeps, LaneId};
use super::super::mapping::Mapping;
use super::super::render::{EventCodec, Rendered, RenderedBatch};
use super::super::source::StreamSource;

/// Longest a consumer sleeps before it looks at its mapping again (disabled, deleted,
/// updated). Records wake it at once; this bounds only how late it notices a change.
pub(super) const CONTROL_CHECK_MS: u64 = 200;

/// The first retry waits this long; each next one twice as long…
pub(super) const RETRY_BACKOFF_MS_MIN: u64 = 10;

/// …up to this.
pub(super) const RETRY_BACKOFF_MS_MAX: u64 = 5_000;

/// Exponential backoff before retry number `attempt` (1-based).
pub(super) fn backoff_ms(attempt: u32) -> u64 {
    RETRY_BACKOFF_MS_MIN
        .saturating_mul(1u64 << attempt.min(20))
        .min(RETRY_BACKOFF_MS_MAX)
}

/// Largest event handed to a function (Lambda: 6 MB).
pub(super) const EVENT_BYTES_MAX: usize = 6 * 1024 * 1024;
/// A record caused by this many chained trigger invocations (a function whose writes
/// trigger itself, directly or through other functions) is not delivered: Lambda's
/// recursive-loop guard stops after about 16 hops.
pub const RECURSION_HOPS_MAX: u8 = 16;

pub(crate) struct Consumer {
    pub(super) deps: Arc<LaneDeps>,
    pub(super) mapping: Arc<Mapping>,
    /// Set to stop this lane alone (a worker gives the lane to another worker); the
    /// mapping's `stopped` stops all of its lanes.
    pub(super) halt: Option<Arc<AtomicBool>>,
    /// The open tumbling window of this lane: its start (µs) and the function's state.
    pub(super) window: std::cell::RefCell<Option<(u64, Value)>>,
    /// Where records are read (this Eddy's stream log, or a remote stream's mirror)
    /// and how they are written into the function's event.
    pub(super) source: Arc<dyn StreamSource>,
    pub(super) codec: Arc<dyn EventCodec>,
    pub(super) stream: Arc<StreamDef>,
    pub(super) shard: u16,
    pub(super) lane: u32,
}

/// Why an invocation of the function did not handle a batch.
pub(super) enum Failure {
    /// The batch did not reach the function (refused, or no instance slot before the
    /// deadline): retried without counting a retry attempt.
    Throttled(String),
    /// The function or the host failed: the mapping's retry policy applies.
    Failed(String),
    /// The host failed before the function ran (it is not deployed, the event could not
    /// be built): the retry policy applies, but no invocation is counted for the
    /// failure record's `approximateInvokeCount`.
    Unreached(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Throttled(m) | Failure::Failed(m) | Failure::Unreached(m) => f.write_str(m),
        }
    }
}

/// A batch given up (to the failure destination or dropped): rendered, or still raw
/// when rendering it is what failed.
#[derive(Clone, Copy)]
pub(super) enum Failed<'a> {
    Rendered(&'a RenderedBatch, &'a [Rendered]),
    Raw(&'a [StreamRecord]),
}

impl Failed<'_> {
    pub(super) fn len(&self) -> usize {
        match self {
            Failed::Rendered(_, batch) => batch.len(),
            Failed::Raw(records) => records.len(),
        }
    }
}

/// What the function made of a batch before it was given up: the failure record's
/// `requestContext.approximateInvokeCount` and `responseContext`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Attempts {
    /// Invocations of this batch (of these very records, a bisected half counting its
    /// own) that reached the function.
    pub(super) invokes: u32,
    /// The last invocation's `functionError` (`Unhandled`: the function failed or
    /// trapped), or `None` when it answered (with failed items, or a response that
    /// failed the batch).
    pub(super) function_error: Option<&'static str>,
}

/// What became of a batch.
pub(super) enum Outcome {
    /// Handled (by the function or the failure destination): move past it.
    Done,
    /// The mapping stopped or changed before the batch was handled.
    Interrupted,
}

impl Consumer {
    /// This lane's name in its [`LaneStore`](super::super::lanes::LaneStore).
    pub(super) fn lane_id(&self) -> LaneId<'_> {
        LaneId {
            trigger: &self.mapping.id,
            shard: self.shard,
            lane: self.lane,
        }
    }

    /// Where this consumer reads records (never the engine directly).
    pub(super) fn source(&self) -> &dyn StreamSource {
        self.source.as_ref()
    }

    /// This lane's shard as DynamoDB Streams names it.
    pub(super) fn wire_shard_id(&self) -> String {
        self.source.shard_id(&self.stream, self.shard)
    }

    /// The wire `SequenceNumber` of the record at `pos` of this lane's source.
    pub(super) fn wire_sequence_number(&self, pos: u64) -> String {
        self.source.sequence_number(pos)
    }

    pub(super) fn stopped(&self) -> bool {
        self.mapping.stopped.load(Ordering::Acquire)
            || self
                .halt
                .as_ref()
                .is_some_and(|h| h.load(Ordering::Acquire))
    }

    /// Reports a problem of this lane: the mapping's `LastProcessingResult` shows it
    /// (`PROBLEM: …`, as Lambda words it) and a tracing event records it with the
    /// trigger, function, shard and lane.
    pub(super) fn problem(&self, text: &str) {
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

    pub(super) fn save(&self, pos: u64) {
        // A checkpoint that cannot be stored is reported; the lane goes on (a lost
        // checkpoint only means records are delivered again).
        if let Err(e) = self.deps.store.save_checkpoint(self.lane_id(), pos) {
            self.problem(&format!("cannot store the checkpoint: {e}"));
        }
    }

    pub(super) fn sleep_unless_stopped(&self, d: Duration) {
        let end = Instant::now() + d;
        while !self.stopped() {
            let now = Instant::now();
            if now >= end {
                return;
            }
            std::thread::sleep((end - now).min(Duration::from_millis(CONTROL_CHECK_MS)));
        }
    }
}
