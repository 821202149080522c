//! One token bucket: units per second refilled continuously up to a window's worth,
//! taken after the fact (so it may go negative: a debt the refill pays back first).
//!
//! The bucket is one atomic, read and changed without a lock, because every request
//! on a provisioned table reads its table's bucket and charges it: a lock there was
//! shared by every request of the table. Its state is not a count of units but a
//! moment, `empty_at`: the bucket holds `rate` units for every second since then, up
//! to its window's worth (the generic cell rate algorithm). The refill is the clock
//! moving on; a take moves the moment later by the time the units take to refill.
//!
//! It owns the arithmetic of one bucket; it must not know what the units are for.

use std::sync::atomic::{AtomicI64, Ordering};

const NS_PER_MS: i64 = 1_000_000;
const NS_PER_S: f64 = 1e9;

/// The most one take moves a bucket's moment: a year, so that an absurd take (or a
/// rate of nothing) cannot overflow it.
const TAKE_NS_MAX: i64 = 366 * 24 * 3_600 * 1_000_000_000;

/// A bucket of units, read against a clock in epoch milliseconds.
#[derive(Debug)]
pub(crate) struct Bucket {
    /// Units added per second.
    rate: f64,
    /// How long the bucket takes to fill from empty: the most it holds is `rate`
    /// units for each second of it.
    window_ns: i64,
    /// The moment (nanoseconds on the capacity clock) from which the refill would
    /// have brought an empty bucket to what it holds now. Later than now while the
    /// bucket is in debt.
    empty_at_ns: AtomicI64,
}

fn ns(ms: u64) -> i64 {
    i64::try_from(ms)
        .unwrap_or(i64::MAX / NS_PER_MS)
        .saturating_mul(NS_PER_MS)
}

impl Bucket {
    /// A bucket of `rate` units per second keeping up to `window_s` seconds of them,
    /// starting with one second's worth (DynamoDB's new table has no burst capacity
    /// yet, so a sustained test measures the rate).
    pub(crate) fn new(rate: f64, window_s: f64, now_ms: u64) -> Bucket {
        let window_ns = (window_s * NS_PER_S) as i64;
        Bucket {
            rate,
            window_ns,
            empty_at_ns: AtomicI64::new(ns(now_ms) - window_ns.min(NS_PER_S as i64)),
        }
    }

    /// The nanoseconds `units` take to refill.
    fn refill_ns(&self, units: f64) -> i64 {
        if self.rate <= 0.0 {
            return TAKE_NS_MAX;
        }
        // Rounded up, so that a bucket exactly emptied reads as empty.
        ((units / self.rate * NS_PER_S).ceil() as i64).clamp(0, TAKE_NS_MAX)
    }

    /// The units held at `now_ns` if the moment is `empty_at_ns` (negative: owed).
    fn level(&self, now_ns: i64, empty_at_ns: i64) -> f64 {
        let since_ns = now_ns.saturating_sub(empty_at_ns).min(self.window_ns);
        self.rate * since_ns as f64 / NS_PER_S
    }

    /// Whether an operation may start: the bucket is positive once `pending` units
    /// (admitted earlier in the same batch, not charged yet) are set aside.
    pub(crate) fn admits(&self, now_ms: u64, pending: f64) -> bool {
        let empty_at = self.empty_at_ns.load(Ordering::Acquire);
        self.level(ns(now_ms), empty_at) - pending > 0.0
    }

    /// Takes what an admitted operation consumed, into debt if need be. Returns, when
    /// the bucket is left with nothing (it admits nothing now), the first millisecond
    /// at which the refill makes it positive again.
    pub(crate) fn take(&self, now_ms: u64, units: f64) -> Option<u64> {
        let now = ns(now_ms);
        // A full bucket holds no more than its window's worth: its moment is at most
        // a window ago. Then the units move it on; two takes racing between these
        // steps only leave a full bucket a little emptier.
        // The look first spares a busy bucket (never full) the compare-and-swap loop
        // a maximum is on most processors.
        let floor = now - self.window_ns;
        if self.empty_at_ns.load(Ordering::Acquire) < floor {
            self.empty_at_ns.fetch_max(floor, Ordering::AcqRel);
        }
        let add = self.refill_ns(units);
        let empty_at = self.empty_at_ns.fetch_add(add, Ordering::AcqRel) + add;
        (empty_at >= now).then(|| (empty_at.div_euclid(NS_PER_MS) + 1).max(0) as u64)
    }

    /// Whether the bucket holds all it can (an idle one).
    pub(crate) fn is_full(&self, now_ms: u64) -> bool {
        ns(now_ms) - self.empty_at_ns.load(Ordering::Acquire) >= self.window_ns
    }

    /// The first millisecond at which the bucket holds all it can again, if nothing
    /// more is taken.
    pub(crate) fn full_at_ms(&self, now_ms: u64) -> u64 {
        let full_at = self.empty_at_ns.load(Ordering::Acquire) + self.window_ns;
        let ms = (full_at + NS_PER_MS - 1).div_euclid(NS_PER_MS).max(0) as u64;
        ms.max(now_ms)
    }

    /// This bucket at a new rate and window (UpdateTable): what is unused stays, up to
    /// the new most; a debt stays a debt.
    pub(crate) fn retuned(&self, now_ms: u64, rate: f64, window_s: f64) -> Bucket {
        let now = ns(now_ms);
        let level = self.level(now, self.empty_at_ns.load(Ordering::Acquire));
        let b = Bucket::new(rate, window_s, now_ms);
        let level = level.min(rate * window_s);
        let back_ns = if rate > 0.0 {
            ((level / rate * NS_PER_S).floor() as i64).clamp(-TAKE_NS_MAX, TAKE_NS_MAX)
        } else {
            0
        };
        b.empty_at_ns.store(now - back_ns, Ordering::Release);
        b
    }

    #[cfg(test)]
    pub(crate) fn tokens(&self, now_ms: u64) -> f64 {
        self.level(ns(now_ms), self.empty_at_ns.load(Ordering::Acquire))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_with_one_second_and_keeps_a_window() {
        let b = Bucket::new(10.0, 300.0, 0);
        assert_eq!(b.tokens(0), 10.0);
        assert_eq!(b.tokens(100_000), 1_010.0);
        assert_eq!(b.tokens(1_000_000), 3_000.0);
        assert!(b.is_full(1_000_000));
        // A window shorter than a second starts full.
        assert_eq!(Bucket::new(10.0, 0.5, 0).tokens(0), 5.0);
    }

    #[test]
    fn takes_go_into_debt_and_say_when_it_is_repaid() {
        let b = Bucket::new(3.0, 1.0, 1_000);
        assert_eq!(b.take(1_000, 1.0), None);
        assert_eq!(b.take(1_000, 1.0), None);
        // Emptied exactly: it admits nothing, and says so.
        assert_eq!(b.take(1_000, 1.0), Some(1_001));
        assert!(!b.admits(1_000, 0.0));
        assert!(b.admits(1_001, 0.0));
        // Three units owed at three a second: a second to repay.
        assert_eq!(b.take(1_001, 3.0), Some(2_001));
        assert!(!b.admits(2_000, 0.0));
        assert!(b.admits(2_001, 0.0));
        assert_eq!(b.full_at_ms(2_001), 3_001);
        assert!(!b.is_full(3_000));
        assert!(b.is_full(3_001));
    }

    #[test]
    fn pending_units_are_set_aside() {
        let b = Bucket::new(10.0, 1.0, 0);
        assert!(b.admits(0, 9.0));
        assert!(!b.admits(0, 10.0));
    }

    #[test]
    fn a_new_rate_keeps_what_is_unused_and_what_is_owed() {
        let b = Bucket::new(10.0, 300.0, 0);
        let r = b.retuned(100_000, 5.0, 300.0);
        assert_eq!(r.tokens(100_000), 1_010.0);
        let capped = b.retuned(100_000, 1.0, 300.0);
        assert_eq!(capped.tokens(100_000), 300.0);
        b.take(100_000, 1_030.0);
        let owed = b.retuned(100_000, 20.0, 300.0);
        assert_eq!(owed.tokens(100_000), -20.0);
        assert!(owed.admits(101_001, 0.0));
    }
}
