//! The memory budget: how `eddy serve --memory-budget-mib` is shared out among the parts
//! of the server whose memory grows with load, so that together they stay inside it.
//!
//! Each share goes to the part that owns the memory, which keeps its own bound:
//!
//! | share | of the budget | kept by |
//! |---|---|---|
//! | write buffers (writes not yet flushed) | 1/4 | the engine's writer (`engine/src/buffers.rs`) |
//! | item cache (point reads) | 1/16 | the engine (`engine/src/cache.rs`) |
//! | block cache (table blocks read from disk) | 1/16 | fjall |
//! | request bodies being read or served | 1/8 (at least one largest upload) | the HTTP edge (`src/body.rs`) |
//! | function uploads being compiled | 1/4 (at least one) | the `/v1` API (`src/api/functions.rs`) |
//!
//! The remaining 1/4 is headroom for what is not proportional to load and for the
//! allocator's own slack: the program and its threads (about 30 MiB idle), a commit
//! group in flight, Query and Scan pages (1 MiB each), and memory the allocator holds
//! between uses. What a function itself uses while it runs is not in the budget: each
//! invocation is capped by its deployment's `memory_mb`, and the executor runs a bounded
//! number at once.
//!
//! It knows only sizes; nothing here allocates.

/// The default budget. At 512 MiB (write buffers of 128 MiB, 32 MiB memtables) the
/// server's RSS after the shared benchmark's million writes stays under 300 MB; at
/// 1 GiB it ended at 379 MB with no better PutItem tail (see README, Benchmark).
pub const MEMORY_BUDGET_BYTES_DEFAULT: u64 = 512 * 1024 * 1024;

/// The smallest budget the server accepts: below it the write buffers would be too
/// small to flush efficiently and one maximum-size request would not fit.
pub const MEMORY_BUDGET_BYTES_MIN: u64 = 128 * 1024 * 1024;

/// The memory budget, shared out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    pub total_bytes: u64,
}

impl MemoryBudget {
    /// A budget of `total_bytes`, raised to [`MEMORY_BUDGET_BYTES_MIN`].
    pub fn new(total_bytes: u64) -> MemoryBudget {
        MemoryBudget {
            total_bytes: total_bytes.max(MEMORY_BUDGET_BYTES_MIN),
        }
    }

    /// fjall's memtables, all keyspaces together.
    pub fn write_buffer_bytes(self) -> u64 {
        self.total_bytes / 4
    }

    /// The engine's item cache.
    pub fn item_cache_bytes(self) -> u64 {
        self.total_bytes / 16
    }

    /// fjall's block cache.
    pub fn block_cache_bytes(self) -> u64 {
        self.total_bytes / 16
    }

    /// Request bodies the HTTP edge holds at once.
    pub fn request_bodies_bytes(self) -> u64 {
        self.total_bytes / 8
    }

    /// Function uploads the `/v1` API holds at once: a quarter, so that the default
    /// budget takes two whole components at once (two deploys, as with 1/8 of the
    /// former 1 GiB default).
    pub fn uploads_bytes(self) -> u64 {
        self.total_bytes / 4
    }
}

impl Default for MemoryBudget {
    fn default() -> Self {
        MemoryBudget::new(MEMORY_BUDGET_BYTES_DEFAULT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shares_fit_inside_the_budget_with_headroom() {
        for total in [
            MEMORY_BUDGET_BYTES_MIN,
            MEMORY_BUDGET_BYTES_DEFAULT,
            64 << 30,
        ] {
            let b = MemoryBudget::new(total);
            let shares = b.write_buffer_bytes()
                + b.item_cache_bytes()
                + b.block_cache_bytes()
                + b.request_bodies_bytes()
                + b.uploads_bytes();
            assert_eq!(shares, total / 8 * 6, "{total}");
        }
    }

    #[test]
    fn the_default_shares() {
        let b = MemoryBudget::default();
        assert_eq!(b.write_buffer_bytes(), 128 << 20);
        assert_eq!(b.item_cache_bytes(), 32 << 20);
        assert_eq!(b.block_cache_bytes(), 32 << 20);
        assert_eq!(b.request_bodies_bytes(), 64 << 20);
        assert_eq!(b.uploads_bytes(), 128 << 20);
        assert_eq!(MemoryBudget::new(1).total_bytes, MEMORY_BUDGET_BYTES_MIN);
    }
}
