//! The time source of capacity: the wall clock, or a manual clock that only moves when
//! told to, so that tests of throttling, burst capacity and the daily decrease limits
//! are deterministic (`eddy serve --capacity-clock manual`, `POST /v1/capacity/clock`).
//!
//! It owns reading and advancing that time; it must not know what is measured with it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The largest single step a manual clock takes: a year, so that a mistyped advance
/// cannot overflow the clock or wrap the buckets' arithmetic.
pub const CLOCK_ADVANCE_MS_MAX: u64 = 366 * 24 * 60 * 60 * 1000;

/// Epoch milliseconds, from the wall clock or a manual one. Cloning shares the clock:
/// every table's governor reads the one its engine was opened with.
#[derive(Debug, Clone, Default)]
pub struct CapacityClock {
    /// `None` for the wall clock; the manual clock's reading otherwise.
    manual: Option<Arc<AtomicU64>>,
}

impl CapacityClock {
    /// The wall clock (the default).
    pub fn wall() -> CapacityClock {
        CapacityClock { manual: None }
    }

    /// A manual clock starting at the wall clock's present reading, so the dates it
    /// gives (LastIncreaseDateTime, the UTC day of the decrease limit) are plausible.
    pub fn manual() -> CapacityClock {
        CapacityClock::manual_at(crate::clock::now_ms())
    }

    /// A manual clock starting at `start_ms`.
    pub fn manual_at(start_ms: u64) -> CapacityClock {
        CapacityClock {
            manual: Some(Arc::new(AtomicU64::new(start_ms))),
        }
    }

    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    /// The present time in epoch milliseconds.
    pub fn now_ms(&self) -> u64 {
        match &self.manual {
            None => crate::clock::now_ms(),
            Some(t) => t.load(Ordering::Acquire),
        }
    }

    /// Moves a manual clock forward by `ms` (at most [`CLOCK_ADVANCE_MS_MAX`]) and
    /// returns its new reading; `None` for the wall clock, which nobody moves.
    pub fn advance(&self, ms: u64) -> Option<u64> {
        let t = self.manual.as_ref()?;
        let step = ms.min(CLOCK_ADVANCE_MS_MAX);
        Some(t.fetch_add(step, Ordering::AcqRel).saturating_add(step))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced_and_clones_share_it() {
        let clock = CapacityClock::manual_at(1_000);
        let other = clock.clone();
        assert_eq!(clock.now_ms(), 1_000);
        assert_eq!(other.advance(250), Some(1_250));
        assert_eq!(clock.now_ms(), 1_250);
        assert_eq!(CapacityClock::wall().advance(5), None);
        assert!(CapacityClock::wall().now_ms() > 1_600_000_000_000);
    }
}
