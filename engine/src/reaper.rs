//! The reaper: frees what fjall lets go of (flushed memtables, deleted table and
//! journal files) on a thread of its own, so that the cost never lands under one of
//! fjall's locks.
//!
//! fjall drops a flushed memtable, and deletes the files of compacted-away tables, when
//! its version GC pops the last tree version that still lists them. It runs that GC
//! while it holds the tree's version lock, which every write (`append_entry`) and every
//! read needs. On the 2-core machine freeing a full 256 MiB memtable (about a million
//! skiplist nodes) took 320-370 ms, and unlinking a 64 MiB table file about 24 ms (the
//! kernel drops its cached pages), eight of them 160 ms at once after a compaction. Each
//! stalled every write that long, and one such stall in a 15 s wrk run made PutItem's
//! p99 155 ms instead of 4 ms.
//!
//! So the reaper keeps an extra owner of each of those resources while fjall uses them:
//! - a reference to every memtable that becomes active; when the reaper is the only
//!   holder left, it drops it;
//! - a hard link (in `<data dir>/reaping/`) to every table and journal file; once
//!   fjall has deleted the file, fjall's unlink only dropped a link count, and the
//!   reaper removes its own link, which is when the kernel frees the file.
//!
//! A resource that lives and dies between two looks (`REAP_INTERVAL_MS`) is freed by
//! fjall itself, as before; tables and full memtables live for seconds at the least.
//! The reaper knows fjall's keyspaces, memtable references and file layout; it must not
//! know what the keyspaces hold.

use std::any::Any;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use fjall::{AbstractTree, Keyspace};

use crate::state::State;

/// How often the reaper looks at the memtables and files. Each look is a few
/// syscalls per keyspace (about 0.3% of a core at 20 ms when idle); what it watches
/// lives for seconds.
const REAP_INTERVAL_MS: u64 = 50;

/// The directory, inside the data directory, that holds the reaper's hard links. It
/// is emptied when the engine opens (links left by a crash are of files fjall has
/// deleted or still lists; removing either is harmless).
const REAPING_DIR: &str = "reaping";

/// A memtable, held only to decide where its memory is freed.
type Held = Arc<dyn Any + Send + Sync>;

/// The memtables the reaper holds.
#[derive(Default)]
struct Memtables {
    held: Vec<Held>,
}

impl Memtables {
    /// Takes a reference to `keyspace`'s active memtable unless it has one already.
    fn watch(&mut self, keyspace: &Keyspace) {
        let active: Held = keyspace.tree.active_memtable();
        if !self.held.iter().any(|h| Arc::ptr_eq(h, &active)) {
            self.held.push(active);
        }
    }

    /// Drops (and so frees) every memtable nobody else refers to any more. Nothing can
    /// take a new reference to such a memtable: fjall hands them out only from its
    /// tree versions, and none lists it.
    fn reap(&mut self) -> usize {
        let before = self.held.len();
        self.held.retain(|h| Arc::strong_count(h) > 1);
        before - self.held.len()
    }
}

/// The reaper's hard links to fjall's files, by the file's own path.
struct Files {
    dir: PathBuf,
    links: HashMap<PathBuf, PathBuf>,
    /// Cleared when the file system refuses hard links; fjall then frees files itself.
    enabled: bool,
}

impl Files {
    /// Empties (or creates) the links directory in `data_dir`.
    fn open(data_dir: &Path) -> Files {
        let dir = data_dir.join(REAPING_DIR);
        let _ = std::fs::remove_dir_all(&dir);
        let enabled = std::fs::create_dir_all(&dir).is_ok();
        Files {
            dir,
            links: HashMap::new(),
            enabled,
        }
    }

    /// Links every file in `folder` whose name `wanted` accepts and that has no link yet.
    fn watch(&mut self, folder: &Path, prefix: &str, wanted: impl Fn(&str) -> bool) {
        if !self.enabled {
            return;
        }
        let Ok(entries) = std::fs::read_dir(folder) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !wanted(name) || self.links.contains_key(&path) {
                continue;
            }
            let link = self.dir.join(format!("{prefix}-{name}"));
            let _ = std::fs::remove_file(&link);
            match std::fs::hard_link(&path, &link) {
                Ok(()) => {
                    self.links.insert(path, link);
                }
                // fjall deleted it between the listing and the link.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    eprintln!(
                        "eddy: cannot hard-link {} ({e}); fjall will free its files itself",
                        path.display()
                    );
                    self.enabled = false;
                    return;
                }
            }
        }
    }

    /// Removes the links of files fjall has deleted, which frees them.
    fn reap(&mut self) -> usize {
        let before = self.links.len();
        self.links.retain(|path, link| {
            if matches!(path.try_exists(), Ok(false)) {
                let _ = std::fs::remove_file(link);
                false
            } else {
                true
            }
        });
        before - self.links.len()
    }
}

/// Starts the reaper thread (called once by `Engine::open`). It stops when the engine
/// is closed or dropped.
pub(crate) fn start_reaper(inner: &Arc<State>) {
    let weak: Weak<State> = Arc::downgrade(inner);
    let data_dir = inner.config.data_dir.clone();
    let _ = std::thread::Builder::new()
        .name("eddy-reaper".into())
        .spawn(move || {
            let mut memtables = Memtables::default();
            let mut files = Files::open(&data_dir);
            loop {
                // A round that panics is that round's fault: what it held is held
                // still (or was let go, which only moves the freeing back onto fjall's
                // threads), and the next round goes on.
                let round = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    {
                        let Some(inner) = weak.upgrade() else {
                            return false;
                        };
                        if inner.closed.load(Ordering::Acquire) {
                            return false;
                        }
                        for keyspace in [&inner.items, &inner.records, &inner.meta, &inner.system] {
                            memtables.watch(keyspace);
                            let prefix = keyspace_prefix(keyspace.path());
                            files.watch(&keyspace.path().join("tables"), &prefix, |_| true);
                        }
                        files.watch(&data_dir, "journal", |name| name.ends_with(".jnl"));
                    }
                    memtables.reap();
                    files.reap();
                    true
                }));
                match round {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(panic) => eprintln!(
                        "eddy: eddy-reaper: a round panicked ({}); the loop goes on",
                        crate::error::panic_text(&*panic)
                    ),
                }
                std::thread::sleep(Duration::from_millis(REAP_INTERVAL_MS));
            }
        });
}

/// A keyspace's folder name (fjall numbers them), used to keep link names unique.
fn keyspace_prefix(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    format!("ks{}", name.unwrap_or_default())
}

#[cfg(test)]
mod tests;
