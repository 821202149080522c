//! A cheap first look at what each partition key consumes, so that only keys that
//! could be near their per-key ceiling pay for an exact bucket (a locked map lookup).
//!
//! Keys are hashed onto fixed rows of cells (a count-min sketch); each cell counts the
//! units charged to its keys in the current and the previous aligned second, with one
//! atomic, and a key's count is the least of its cells'. A key's
//! bucket holds one second of its ceiling and refills at the ceiling's rate, so a key
//! that never takes more than half its ceiling in an aligned second can never empty
//! it: over any interval of `t` seconds it takes at most half the ceiling times the
//! `t + 2` aligned seconds the interval touches, which is less than the bucket's full
//! second plus `t` seconds of refill. While a key's count stays at or under half the
//! ceiling, it is therefore left untracked (a full bucket) without changing any
//! admission; above it, every charge goes to the exact bucket until the bucket is full
//! again. Cells shared with hot keys only make other keys take the exact (slower)
//! path: a key entering the exact buckets is charged for what it took untracked at
//! most half its ceiling, so it is never refused on entry.
//!
//! It owns the cells' arithmetic; it must not know buckets, tables or the wire.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many cells each row has (16 bytes each, allocated on the first charge that
/// names a key). Cells only cost speed when they collide: under a uniform load a cell
/// sees 1/1,024 of the table's units, far below half a key's ceiling until a table
/// takes hundreds of thousands of units per second.
pub(crate) const SIEVE_CELLS: usize = 1_024;

/// How many rows of cells there are, each hashing keys its own way; a key's count is
/// the least of its cells' (a count-min sketch), so a key is overestimated only when
/// it shares a cell with busy keys in every row.
pub(crate) const SIEVE_ROWS: usize = 2;

/// The odd multipliers of the rows' hashes.
const ROW_MULTIPLIERS: [u64; SIEVE_ROWS] = [0x9e37_79b9_7f4a_7c15, 0xc2b2_ae3d_27d4_eb4f];

/// The largest count a cell keeps for one second, in thousandths of a unit (the
/// 24 bits each count has). Counts saturate there, far above any threshold.
const COUNT_MILLI_MAX: u64 = (1 << 24) - 1;

/// One cell: the counts (packed, see [`Counts`]) and until when (capacity-clock
/// epoch milliseconds) some of its keys' exact buckets are not full.
#[derive(Default)]
struct Cell {
    counts: AtomicU64,
    tracked_until_ms: AtomicU64,
}

/// A cell's counts unpacked: the aligned second they belong to (its low 16 bits), the
/// thousandths of a unit charged in it and in the second before.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Counts {
    second: u64,
    current_milli: u64,
    previous_milli: u64,
}

impl Counts {
    fn unpack(v: u64) -> Counts {
        Counts {
            second: v >> 48,
            current_milli: (v >> 24) & COUNT_MILLI_MAX,
            previous_milli: v & COUNT_MILLI_MAX,
        }
    }

    fn pack(self) -> u64 {
        (self.second & 0xffff) << 48
            | (self.current_milli & COUNT_MILLI_MAX) << 24
            | (self.previous_milli & COUNT_MILLI_MAX)
    }

    /// These counts moved on to `second` (only its low 16 bits are kept: a cell left
    /// alone for exactly a multiple of 18 hours reads old counts as new, which only
    /// sends a charge down the exact path).
    fn at(self, second: u64) -> Counts {
        let second = second & 0xffff;
        if self.second == second {
            self
        } else if (self.second + 1) & 0xffff == second {
            Counts {
                second,
                current_milli: 0,
                previous_milli: self.current_milli,
            }
        } else {
            Counts {
                second,
                current_milli: 0,
                previous_milli: 0,
            }
        }
    }
}

/// What a charge to the exact buckets must take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Verdict {
    /// Nothing: the key stays untracked.
    Untracked,
    /// These units: the operation's own, plus (when the cell was untracked until now)
    /// an estimate of what the key took untracked lately.
    Exact(f64),
}

/// The cells of one table.
#[derive(Default)]
pub(crate) struct Sieve {
    cells: OnceLock<Box<[Cell]>>,
}

impl std::fmt::Debug for Sieve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sieve")
            .field("allocated", &self.cells.get().is_some())
            .finish()
    }
}

impl Sieve {
    /// The cell of `key` in each row.
    fn cells(&self, key: u64) -> [&Cell; SIEVE_ROWS] {
        let cells = self.cells.get_or_init(|| {
            (0..SIEVE_ROWS * SIEVE_CELLS)
                .map(|_| Cell::default())
                .collect()
        });
        // Multiplicative mixes, one per row, so that keys differing only in their
        // high bits (the slot and side the caller folds in) spread over the cells
        // too, and two keys sharing a cell in one row rarely share one in the other.
        std::array::from_fn(|row| {
            let mixed = key.wrapping_mul(ROW_MULTIPLIERS[row]);
            &cells[row * SIEVE_CELLS + (mixed >> 54) as usize % SIEVE_CELLS]
        })
    }

    /// Counts `units` charged to `key` at `now_ms`, against a key ceiling of
    /// `ceiling` units per second, and says what the exact bucket must take.
    pub(crate) fn charge(&self, key: u64, units: f64, ceiling: f64, now_ms: u64) -> Verdict {
        let milli = (units * 1000.0).ceil() as u64;
        let second = now_ms / 1000;
        // What the key took over about the last second, at most: the least of its
        // cells' counts of this second and of the part of the previous one a
        // second-long window still covers.
        let elapsed = (now_ms % 1000) as f64 / 1000.0;
        let mut estimate = f64::MAX;
        // Whether the key may have an exact bucket that is not full: only if every
        // one of its cells says some bucket of theirs is not.
        let mut tracked = true;
        for cell in self.cells(key) {
            let c = cell.add(milli, second);
            let cell_estimate =
                (c.current_milli as f64 + c.previous_milli as f64 * (1.0 - elapsed)) / 1000.0;
            estimate = estimate.min(cell_estimate);
            tracked &= now_ms < cell.tracked_until_ms.load(Ordering::Acquire);
        }
        let half = ceiling / 2.0;
        if tracked {
            Verdict::Exact(units)
        } else if estimate <= half {
            Verdict::Untracked
        } else {
            // What the cells took before this operation stands for what the key took
            // untracked, at most half the ceiling (more was taken by other keys).
            Verdict::Exact((estimate - units).clamp(0.0, half) + units)
        }
    }

    /// Records that an exact bucket of `key` is not full before `full_at_ms`: until
    /// then its cells' charges go to the exact buckets.
    pub(crate) fn tracked_until(&self, key: u64, full_at_ms: u64) {
        for cell in self.cells(key) {
            cell.tracked_until_ms
                .fetch_max(full_at_ms, Ordering::AcqRel);
        }
    }
}

impl Cell {
    /// Adds `milli` thousandths of a unit to the counts of `second`; the counts after.
    fn add(&self, milli: u64, second: u64) -> Counts {
        let mut old = self.counts.load(Ordering::Relaxed);
        loop {
            let mut c = Counts::unpack(old).at(second);
            c.current_milli = (c.current_milli + milli).min(COUNT_MILLI_MAX);
            match self.counts.compare_exchange_weak(
                old,
                c.pack(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return c,
                Err(now) => old = now,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_pack_and_move_on() {
        let c = Counts {
            second: 7,
            current_milli: 1_500_000,
            previous_milli: 3,
        };
        assert_eq!(Counts::unpack(c.pack()), c);
        let next = c.at(8);
        assert_eq!((next.current_milli, next.previous_milli), (0, 1_500_000));
        let later = c.at(10);
        assert_eq!((later.current_milli, later.previous_milli), (0, 0));
        assert_eq!(c.at(7), c);
        // The second wraps at 16 bits, and the previous second is found across it.
        let last = Counts {
            second: 0xffff,
            current_milli: 5,
            previous_milli: 0,
        };
        assert_eq!(last.at(0x1_0000).previous_milli, 5);
    }

    #[test]
    fn a_key_under_half_its_ceiling_stays_untracked() {
        let s = Sieve::default();
        for _ in 0..500 {
            assert_eq!(s.charge(1, 1.0, 1_000.0, 0), Verdict::Untracked);
        }
        // The 501st unit in one second crosses half the ceiling: the exact bucket
        // takes it and the 500 that went before.
        assert_eq!(s.charge(1, 1.0, 1_000.0, 0), Verdict::Exact(501.0));
        s.tracked_until(1, 2_000);
        assert_eq!(s.charge(1, 1.0, 1_000.0, 999), Verdict::Exact(1.0));
        // Once the exact buckets are full again and the counts have aged, the key is
        // untracked again.
        assert_eq!(s.charge(1, 1.0, 1_000.0, 2_000), Verdict::Untracked);
    }

    #[test]
    fn a_steady_key_under_half_its_ceiling_is_never_tracked() {
        let s = Sieve::default();
        // 450 units a second, one every 2.2 ms or so, for a minute.
        for ms in (0..60_000u64).step_by(20) {
            assert_eq!(s.charge(9, 9.0, 1_000.0, ms), Verdict::Untracked, "{ms}");
        }
    }

    #[test]
    fn a_large_operation_is_charged_whole() {
        let s = Sieve::default();
        assert_eq!(s.charge(3, 800.0, 1_000.0, 0), Verdict::Exact(800.0));
    }
}
