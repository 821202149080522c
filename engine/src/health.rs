//! The engine's vital signs and what it does about faults it cannot survive.
//!
//! It owns three things:
//!
//! - The **fatal fault**: the first fault that leaves the engine unable to write (a
//!   commit the storage refused, which poisons fjall for good, or a writer thread that
//!   died). It is recorded once, reported on stderr, and handed to the [`FatalHook`] the
//!   embedder set; the `eddy` binary's hook exits the process, so a restart recovers
//!   from fjall's journal (crash-only). Without a hook the engine stays up but refuses
//!   every write with the fault's message and reports itself failed, so it is never a
//!   zombie that looks healthy.
//! - The **disk guard**: fjall poisons itself when a journal write fails, and just the
//!   same when one of its own memtable flushes or compactions fails, so the engine must
//!   never let the disk fill up under it. Every write is refused with a retryable
//!   [`Error::Unavailable`] while the data directory's file system has less free space
//!   than the reserve plus what fjall still holds in memory and will write out when it
//!   flushes (its write buffer), and is taken again as soon as there is more: nothing
//!   to restart. The reserve is what a compaction needs on top.
//! - The **health report** ([`Health`]) built from both.
//!
//! It knows nothing of the writer, tables or fjall (the writer and `state.rs` feed it what they see),
//! and nothing of HTTP (the binary turns [`Health`] into `GET /` and `/health`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use crate::error::{Error, Result};

/// Free space kept on the data directory's file system unless configured otherwise, on
/// top of fjall's unflushed write buffer (which the guard adds by itself, so a memtable
/// flush always has room). It must hold what fjall writes on its own besides: a
/// compaction writes its output before it deletes its input, and an L0 compaction of
/// the `items` keyspace (four flushed memtables of up to 256 MiB, see `MEMTABLE_BYTES`
/// in `state.rs`, compressed) rewrites up to about a GiB in the worst case. A GiB also
/// leaves room for the commit group in flight and for the OS.
pub const DISK_RESERVE_BYTES_DEFAULT: u64 = 1024 * 1024 * 1024;

/// How long one look at the file system's free space is trusted. Between looks the
/// guard subtracts what was committed since, so a burst of writes cannot overrun the
/// reserve between two looks; the interval only bounds how late space freed (or taken)
/// by someone else is seen. A look is one `statvfs`, a few microseconds.
const DISK_LOOK_INTERVAL_MS: u64 = 10;

/// What one staged key or value costs in fjall's journal beyond its own bytes (the
/// entry's header, checksum and keyspace id), for the guard's estimate.
pub(crate) const JOURNAL_ENTRY_OVERHEAD_BYTES: u64 = 32;

/// What kind of fault left the engine unable to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// The storage refused a write (a journal write or an fsync failed, or fjall is
    /// poisoned): fjall accepts no further write, and the failed commit's outcome is
    /// unknown (an fsync failure may still leave it in the journal).
    Storage,
    /// The writer thread panicked outside the one job it could have blamed (in the
    /// commit itself): no write can be taken any more.
    WriterCrashed,
}

/// The fault that ended the engine's writes, as reported to the [`FatalHook`].
#[derive(Debug, Clone)]
pub struct Fault {
    pub kind: FaultKind,
    /// One line saying what failed and why.
    pub message: String,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Called once, on the thread that found it, when a fault leaves the engine unable to
/// write. It runs before any request of the failed commit group is answered, so a hook
/// that ends the process (as the `eddy` binary's does) never lets an error reach a
/// client for a write that may have been applied. If it returns, the engine refuses
/// writes from then on; the failed group's writes whose outcome is unknown are never
/// answered (their completions are dropped uncalled).
#[derive(Clone)]
pub struct FatalHook(Arc<dyn Fn(&Fault) + Send + Sync>);

impl FatalHook {
    pub fn new(hook: impl Fn(&Fault) + Send + Sync + 'static) -> FatalHook {
        FatalHook(Arc::new(hook))
    }
}

impl std::fmt::Debug for FatalHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FatalHook")
    }
}

/// The state of the writer thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriterState {
    /// Taking writes (subject to the disk guard).
    Running,
    /// Stopped by a shutdown.
    Stopped,
    /// Died, or the engine can no longer write because of a fault (see
    /// [`Health::fault`]).
    Failed,
}

impl WriterState {
    pub fn as_str(self) -> &'static str {
        match self {
            WriterState::Running => "running",
            WriterState::Stopped => "stopped",
            WriterState::Failed => "failed",
        }
    }
}

/// The state of the storage (fjall).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StorageState {
    /// Writable.
    Ok,
    /// A write failed and fjall refuses all further writes until a restart.
    Failed,
}

impl StorageState {
    pub fn as_str(self) -> &'static str {
        match self {
            StorageState::Ok => "ok",
            StorageState::Failed => "failed",
        }
    }
}

/// The data directory's file system as the disk guard sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskHealth {
    /// Bytes available to Eddy; `None` when the file system could not be asked.
    pub free_bytes: Option<u64>,
    /// Bytes kept free; 0 when the guard is off.
    pub reserve_bytes: u64,
    /// Bytes fjall holds in memory and will write out when it flushes; kept free on
    /// top of the reserve.
    pub unflushed_bytes: u64,
    /// Whether writes are taken as far as space goes (always, with the guard off or the
    /// free space unknown).
    pub ok: bool,
    /// Why the free space is unknown.
    pub error: Option<String>,
}

/// Overall state, worst first in what it means for writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HealthStatus {
    /// Reads and writes are served.
    Ok,
    /// Reads are served; writes are refused for a reason that passes by itself (the
    /// disk is below its reserve).
    Degraded,
    /// Writes cannot be served until a restart (a fatal fault, or shut down).
    Failed,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Ok => "ok",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Failed => "failed",
        }
    }
}

/// What [`Engine::health`](crate::Engine::health) reports.
#[derive(Debug, Clone)]
pub struct Health {
    pub writer: WriterState,
    pub storage: StorageState,
    /// The fault that ended writes, if one did.
    pub fault: Option<Fault>,
    pub disk: DiskHealth,
}

impl Health {
    pub fn status(&self) -> HealthStatus {
        if self.fault.is_some()
            || self.writer != WriterState::Running
            || self.storage != StorageState::Ok
        {
            HealthStatus::Failed
        } else if !self.disk.ok {
            HealthStatus::Degraded
        } else {
            HealthStatus::Ok
        }
    }

    /// Whether a write would be taken now.
    pub fn writable(&self) -> bool {
        self.status() == HealthStatus::Ok
    }

    /// One line saying why writes are not served, or `None` when they are.
    pub fn reason(&self) -> Option<String> {
        if let Some(fault) = &self.fault {
            return Some(format!("writes are refused after a fatal fault: {fault}"));
        }
        match self.writer {
            WriterState::Running => {}
            WriterState::Stopped => return Some("the engine is shutting down".into()),
            WriterState::Failed => return Some("the writer thread is not running".into()),
        }
        if !self.disk.ok {
            return Some(disk_full_message(
                self.disk.free_bytes.unwrap_or(0),
                self.disk.reserve_bytes,
                self.disk.unflushed_bytes,
            ));
        }
        None
    }
}

/// The message of a write refused by the disk guard.
fn disk_full_message(free_bytes: u64, reserve_bytes: u64, unflushed_bytes: u64) -> String {
    format!(
        "The disk is full: {} free on the data directory's file system, below the {} \
         Eddy keeps free for its storage (--disk-reserve-mib) plus the {} it has yet to \
         write out from memory; retry once space is freed",
        mib(free_bytes),
        mib(reserve_bytes),
        mib(unflushed_bytes)
    )
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The fatal fault (once there is one) and the disk guard, shared by every writer.
pub(crate) struct Vitals {
    fault: OnceLock<Fault>,
    hook: Option<FatalHook>,
    pub(crate) disk: DiskGuard,
}

impl Vitals {
    pub(crate) fn new(hook: Option<FatalHook>, disk: DiskGuard) -> Vitals {
        Vitals {
            fault: OnceLock::new(),
            hook,
            disk,
        }
    }

    pub(crate) fn fault(&self) -> Option<&Fault> {
        self.fault.get()
    }

    /// Records a fault that leaves the engine unable to write, reports it on stderr
    /// (the engine has no logger of its own; stderr reaches the operator's log) and
    /// calls the hook. Only the first fault calls the hook; later ones are only
    /// reported.
    pub(crate) fn fatal(&self, kind: FaultKind, message: String) {
        let mut first = false;
        let fault = self.fault.get_or_init(|| {
            first = true;
            Fault { kind, message }
        });
        if !first {
            return;
        }
        eprintln!("eddy: FATAL: {fault}");
        if let Some(hook) = &self.hook {
            (hook.0)(fault);
        }
    }

    /// The error every write gets once a fatal fault happened.
    pub(crate) fn refusal(&self) -> Option<Error> {
        self.fault().map(|f| {
            Error::Storage(format!(
                "writes are refused after a fatal fault ({f}); restart to recover from the journal"
            ))
        })
    }

    /// Whether a write may go to the storage now: not after a fatal fault, and not
    /// while the disk is below its reserve plus `unflushed_bytes`.
    pub(crate) fn admit(&self, unflushed_bytes: u64) -> Result<()> {
        if let Some(e) = self.refusal() {
            return Err(e);
        }
        self.disk.admit(unflushed_bytes)
    }
}

/// Refuses writes while the data directory's file system has less free space than the
/// reserve. See the module documentation.
pub(crate) struct DiskGuard {
    dir: PathBuf,
    reserve_bytes: u64,
    /// When the guard was made: the zero of `looked_at_ms`.
    epoch: Instant,
    /// Milliseconds after `epoch` of the last look, plus one (0: never looked).
    looked_at_ms: AtomicU64,
    /// Free bytes at the last look (`u64::MAX`: unknown).
    free_bytes: AtomicU64,
    /// Bytes committed since the last look.
    spent_bytes: AtomicU64,
    /// Why the last look failed.
    error: Mutex<Option<String>>,
}

impl DiskGuard {
    /// A guard of the file system holding `dir`; a `reserve_bytes` of 0 turns it off.
    pub(crate) fn new(dir: &Path, reserve_bytes: u64) -> DiskGuard {
        DiskGuard {
            dir: dir.to_path_buf(),
            reserve_bytes,
            epoch: Instant::now(),
            looked_at_ms: AtomicU64::new(0),
            free_bytes: AtomicU64::new(u64::MAX),
            spent_bytes: AtomicU64::new(0),
            error: Mutex::new(None),
        }
    }

    /// Counts bytes just committed against the free space of the last look.
    pub(crate) fn spent(&self, bytes: u64) {
        if self.reserve_bytes > 0 {
            self.spent_bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// `Err(Unavailable)` while the free space is below the reserve plus
    /// `unflushed_bytes` (what fjall will write out when it flushes its memtables).
    pub(crate) fn admit(&self, unflushed_bytes: u64) -> Result<()> {
        if self.reserve_bytes == 0 {
            return Ok(());
        }
        match self.free_estimate() {
            Some(free) if free < self.reserve_bytes.saturating_add(unflushed_bytes) => Err(
                Error::Unavailable(disk_full_message(free, self.reserve_bytes, unflushed_bytes)),
            ),
            // Free space that cannot be known does not stop writes: the storage
            // reports a real failure itself.
            _ => Ok(()),
        }
    }

    /// The free space now, from a look no older than [`DISK_LOOK_INTERVAL_MS`] less
    /// what was committed since.
    fn free_estimate(&self) -> Option<u64> {
        let now_ms = self.epoch.elapsed().as_millis() as u64 + 1;
        let looked = self.looked_at_ms.load(Ordering::Acquire);
        if looked == 0 || now_ms.saturating_sub(looked) >= DISK_LOOK_INTERVAL_MS {
            self.look(now_ms);
        }
        let free = self.free_bytes.load(Ordering::Acquire);
        (free != u64::MAX).then(|| free.saturating_sub(self.spent_bytes.load(Ordering::Relaxed)))
    }

    /// Asks the file system. Two threads may look at once; either result is fresh.
    fn look(&self, now_ms: u64) {
        let looked = fs4::available_space(&self.dir);
        self.spent_bytes.store(0, Ordering::Relaxed);
        let free = match looked {
            Ok(free) => {
                *crate::sync::lock(&self.error) = None;
                free.min(u64::MAX - 1)
            }
            Err(e) => {
                *crate::sync::lock(&self.error) = Some(format!(
                    "cannot read the free space of {}: {e}",
                    self.dir.display()
                ));
                u64::MAX
            }
        };
        self.free_bytes.store(free, Ordering::Release);
        self.looked_at_ms.store(now_ms, Ordering::Release);
    }

    pub(crate) fn health(&self, unflushed_bytes: u64) -> DiskHealth {
        let free_bytes = self.free_estimate();
        let error = crate::sync::lock(&self.error).clone();
        let needed = self.reserve_bytes.saturating_add(unflushed_bytes);
        DiskHealth {
            free_bytes,
            reserve_bytes: self.reserve_bytes,
            unflushed_bytes,
            ok: self.reserve_bytes == 0 || free_bytes.is_none_or(|f| f >= needed),
            error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_refuses_below_its_reserve_and_counts_what_was_spent() {
        let dir = tempfile::tempdir().unwrap();
        let off = DiskGuard::new(dir.path(), 0);
        assert!(off.admit(u64::MAX).is_ok(), "0 turns the guard off");
        assert!(off.health(u64::MAX).ok);

        let free = fs4::available_space(dir.path()).unwrap();
        // A reserve above what is free: refused, with a message that says so.
        let full = DiskGuard::new(dir.path(), free.saturating_mul(2).max(1 << 40));
        let Err(Error::Unavailable(message)) = full.admit(0) else {
            panic!("a write below the reserve must be refused");
        };
        assert!(message.starts_with("The disk is full: "), "{message}");
        assert!(message.contains("MiB free"), "{message}");
        let health = full.health(0);
        assert!(!health.ok);
        assert!(health.free_bytes.is_some());

        // A reserve well below what is free: taken, unless what fjall has yet to write
        // out does not fit on top, or the bytes committed since the last look eat
        // into it.
        let room = DiskGuard::new(dir.path(), 1);
        assert!(room.admit(0).is_ok());
        assert!(room.admit(free.saturating_mul(2)).is_err());
        assert!(!room.health(free.saturating_mul(2)).ok);
        room.spent(u64::MAX / 2);
        assert!(
            room.admit(0).is_err(),
            "what was committed since the last look counts"
        );
    }

    #[test]
    fn an_unknown_free_space_does_not_stop_writes_but_is_reported() {
        let guard = DiskGuard::new(Path::new("/nonexistent/eddy/health"), 1 << 20);
        assert!(guard.admit(0).is_ok());
        let health = guard.health(0);
        assert!(health.ok);
        assert_eq!(health.free_bytes, None);
        assert!(health.error.unwrap().contains("cannot read the free space"));
    }

    #[test]
    fn the_first_fault_wins_and_calls_the_hook_once() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&calls);
        let dir = tempfile::tempdir().unwrap();
        let vitals = Vitals::new(
            Some(FatalHook::new(move |f: &Fault| {
                seen.lock().unwrap().push((f.kind, f.message.clone()));
            })),
            DiskGuard::new(dir.path(), 0),
        );
        assert!(vitals.admit(0).is_ok());
        vitals.fatal(FaultKind::Storage, "journal write failed".into());
        vitals.fatal(FaultKind::WriterCrashed, "later".into());
        assert_eq!(
            *calls.lock().unwrap(),
            vec![(FaultKind::Storage, "journal write failed".to_string())]
        );
        let Err(Error::Storage(message)) = vitals.admit(0) else {
            panic!("writes are refused after a fatal fault");
        };
        assert!(message.contains("journal write failed"), "{message}");
    }
}
