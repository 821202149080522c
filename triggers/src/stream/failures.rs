//! The last errors of one mapping, kept in memory so that `GET /v1/triggers/{id}` and
//! `eddy trigger show` can say what went wrong, when, and on which records, without
//! anyone reading the server's log.
//!
//! Owns the bounded ring of recent errors and the shape of one entry as the API shows
//! it. Must not know why a batch failed nor who reports it (the consumer's `report`
//! room does).

use std::collections::VecDeque;
use std::sync::Mutex;

use eddy_engine::sync::lock;
use serde::{Deserialize, Serialize};

/// Errors kept per mapping; the oldest goes first. Ten is enough to see a pattern (the
/// same error on every attempt, or a new one) while the entries stay a few KB.
pub const RECENT_ERRORS_MAX: usize = 10;

/// A longer error text is cut (at a character boundary) and marked with `…`, so that
/// a function that fails with a huge message cannot grow a mapping's memory.
pub const RECENT_ERROR_BYTES_MAX: usize = 2 * 1024;

/// One error of a mapping, in the PascalCase of the mapping's other members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecentError {
    /// When it happened, RFC 3339 in UTC with milliseconds.
    pub time: String,
    /// What failed: `FunctionError` (an invocation), `FunctionNotReached` (the batch
    /// did not reach the function: it is not deployed, or its event could not be
    /// built), `Throttled` (no capacity to run it; retried without using up an
    /// attempt, which is then 0), `RetryAttemptsExhausted` / `RecordAgeExceeded` /
    /// `RecursiveInvocationDetected` (a batch given up), or `FailureDestinationError`
    /// (the failure destination refused the batch).
    pub kind: String,
    /// The error, as the function or the host reported it.
    pub error: String,
    pub shard_id: String,
    /// The first and last sequence numbers of the records concerned.
    pub first_sequence_number: String,
    pub last_sequence_number: String,
    /// Which attempt this was for the records concerned (1 for the first invocation).
    pub attempt: u32,
}

/// The ring of a mapping's recent errors, oldest first.
#[derive(Debug, Default)]
pub(crate) struct RecentErrors {
    ring: Mutex<VecDeque<RecentError>>,
}

impl RecentErrors {
    /// Keeps `e`, dropping the oldest entry when the ring is full.
    pub(crate) fn push(&self, mut e: RecentError) {
        e.error = truncate(e.error, RECENT_ERROR_BYTES_MAX);
        let mut ring = lock(&self.ring);
        if ring.len() >= RECENT_ERRORS_MAX {
            ring.pop_front();
        }
        ring.push_back(e);
    }

    /// The errors kept, oldest first.
    pub(crate) fn snapshot(&self) -> Vec<RecentError> {
        lock(&self.ring).iter().cloned().collect()
    }
}

fn truncate(mut s: String, bytes_max: usize) -> String {
    if s.len() <= bytes_max {
        return s;
    }
    let mut cut = bytes_max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u32, error: &str) -> RecentError {
        RecentError {
            time: "2026-01-01T00:00:00.000Z".into(),
            kind: "FunctionError".into(),
            error: error.into(),
            shard_id: "shardId-0".into(),
            first_sequence_number: "1".into(),
            last_sequence_number: "2".into(),
            attempt: n,
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_errors_oldest_first() {
        let ring = RecentErrors::default();
        for n in 1..=(RECENT_ERRORS_MAX as u32 + 3) {
            ring.push(entry(n, "boom"));
        }
        let kept = ring.snapshot();
        assert_eq!(kept.len(), RECENT_ERRORS_MAX);
        assert_eq!(kept[0].attempt, 4);
        assert_eq!(kept.last().unwrap().attempt, RECENT_ERRORS_MAX as u32 + 3);
    }

    #[test]
    fn a_long_error_is_cut_at_a_character_boundary() {
        let ring = RecentErrors::default();
        ring.push(entry(1, &"é".repeat(RECENT_ERROR_BYTES_MAX)));
        let e = &ring.snapshot()[0].error;
        assert!(e.len() <= RECENT_ERROR_BYTES_MAX + '…'.len_utf8());
        assert!(e.ends_with('…'));
    }
}
