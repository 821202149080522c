//! The write buffers: the bound on the memory fjall's memtables take.
//!
//! fjall keeps every write in an in-memory memtable until a background worker flushes
//! it to a table file. Two things let that memory grow without a bound under a steady
//! write load:
//!
//! - fjall rotates a full memtable only when one of its workers gets around to the
//!   request, and every commit in between sends another request into the workers'
//!   bounded mailbox. When a long compaction holds the workers, the mailbox fills, the
//!   worker that rotates then blocks sending itself the flush message (fjall issue
//!   #323), and from then on the active memtable grows with every write: measured here,
//!   writes of 20-40 KB items took the server from 1 GiB to 12 GiB of RSS in 50 s.
//! - Nothing in fjall 3.1 bounds the sum of all memtables (its `max_write_buffer_size`
//!   is not enforced yet).
//!
//! So the writer thread keeps the bound itself, before each commit group
//! ([`WriteBuffers::make_room`]): it rotates (seals and hands to a flush) every memtable
//! that reached its share of the budget, which it can do without a worker, and while
//! the memtables together (active and sealed, not yet flushed) are over the budget it
//! waits for flushes, up to [`WRITE_STALL_MS_MAX`], after which the group is refused
//! with a retryable error instead of waiting on. Writes slow down to what the disk
//! absorbs; memory does not grow.
//!
//! It knows fjall's keyspaces and its write-buffer counter, nothing of what they hold.

use std::time::{Duration, Instant};

use fjall::{AbstractTree, Database, Keyspace};

use crate::error::Error;

/// The write-buffer budget unless configured otherwise (`--memory-budget-mib` shares it
/// out in the binary).
pub const WRITE_BUFFER_BYTES_DEFAULT: u64 = 256 * 1024 * 1024;

/// Smallest write-buffer budget: below it memtables are so small that flushes and
/// compactions of tiny tables would dominate.
pub const WRITE_BUFFER_BYTES_MIN: u64 = 16 * 1024 * 1024;

/// Each keyspace's active memtable is rotated once it holds this share of the budget
/// (1 / N): the two busy keyspaces (items, streams) can then each have an active and a
/// sealed memtable in flight inside the budget.
pub(crate) const MEMTABLE_SHARES: u64 = 4;

/// How long the writer waits for flushes to bring the memtables under the budget
/// before it refuses the commit group (a retryable error); a flush of a full memtable
/// takes well under a second, so a longer wait means the disk cannot keep up.
pub const WRITE_STALL_MS_MAX: u64 = 10_000;

/// How often the writer looks again while it waits for a flush.
const WRITE_STALL_POLL_MS: u64 = 1;

/// Why [`WriteBuffers::make_room`] could not make room.
#[derive(Debug)]
pub(crate) enum NoRoom {
    /// fjall refused to rotate a memtable, which it does only when it is poisoned: a
    /// fatal storage fault.
    Storage(fjall::Error),
    /// The flushes did not bring the memtables under the budget within
    /// [`WRITE_STALL_MS_MAX`]: a retryable [`Error::Unavailable`].
    Behind(Error),
}

/// The bound the writer keeps on fjall's memtables.
pub(crate) struct WriteBuffers {
    budget_bytes: u64,
}

impl WriteBuffers {
    pub(crate) fn new(budget_bytes: u64) -> WriteBuffers {
        WriteBuffers {
            budget_bytes: budget_bytes.max(WRITE_BUFFER_BYTES_MIN),
        }
    }

    /// The size at which a keyspace's memtable is rotated.
    pub(crate) fn memtable_bytes(&self) -> u64 {
        self.budget_bytes / MEMTABLE_SHARES
    }

    /// Rotates every memtable of `keyspaces` that reached its share, then waits until
    /// the memtables of `db` are under the budget.
    pub(crate) fn make_room(
        &self,
        db: &Database,
        keyspaces: &[&Keyspace],
    ) -> std::result::Result<(), NoRoom> {
        let memtable_bytes = self.memtable_bytes();
        for keyspace in keyspaces {
            if keyspace.tree.active_memtable().size() >= memtable_bytes {
                keyspace.rotate_memtable().map_err(NoRoom::Storage)?;
            }
        }
        let started = Instant::now();
        while db.write_buffer_size() > self.budget_bytes {
            if started.elapsed() >= Duration::from_millis(WRITE_STALL_MS_MAX) {
                return Err(NoRoom::Behind(Error::Unavailable(format!(
                    "Writes are arriving faster than they can be flushed to disk: {} bytes \
                     wait in memory, over the write-buffer budget of {} bytes; retry",
                    db.write_buffer_size(),
                    self.budget_bytes
                ))));
            }
            std::thread::sleep(Duration::from_millis(WRITE_STALL_POLL_MS));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjall::KeyspaceCreateOptions;

    #[test]
    fn a_full_memtable_is_rotated_and_the_total_stays_inside_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::builder(dir.path())
            .worker_threads(2)
            .open()
            .unwrap();
        // fjall's own rotation would come only at 1 GiB: the bound is ours.
        let ks = db
            .keyspace("k", || {
                KeyspaceCreateOptions::default().max_memtable_size(1024 * 1024 * 1024)
            })
            .unwrap();
        let buffers = WriteBuffers::new(WRITE_BUFFER_BYTES_MIN);
        let value = vec![7u8; 32 * 1024];
        let mut peak = 0;
        for i in 0u32..4_000 {
            buffers.make_room(&db, &[&ks]).unwrap();
            ks.insert(i.to_be_bytes(), &value).unwrap();
            peak = peak.max(db.write_buffer_size());
        }
        // 125 MiB were written; at no time did more than the budget plus one write
        // wait in memory.
        assert!(
            peak <= WRITE_BUFFER_BYTES_MIN + value.len() as u64 * 2,
            "peak {peak} over the budget {WRITE_BUFFER_BYTES_MIN}"
        );
        assert!(ks.table_count() > 1, "memtables were flushed");
        assert_eq!(
            ks.get(0u32.to_be_bytes()).unwrap().unwrap().len(),
            value.len()
        );
    }

    #[test]
    fn the_budget_has_a_floor() {
        assert_eq!(
            WriteBuffers::new(0).memtable_bytes(),
            WRITE_BUFFER_BYTES_MIN / MEMTABLE_SHARES
        );
    }
}
