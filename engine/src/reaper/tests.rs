use super::*;
use fjall::{Database, KeyspaceCreateOptions};

fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn holds_each_memtable_until_fjall_lets_go_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::builder(dir.path()).open().unwrap();
    let ks = db.keyspace("k", KeyspaceCreateOptions::default).unwrap();
    let mut memtables = Memtables::default();
    memtables.watch(&ks);
    memtables.watch(&ks);
    assert_eq!(memtables.held.len(), 1, "one reference per memtable");
    assert_eq!(memtables.reap(), 0, "the active memtable is fjall's too");

    ks.insert(b"a", b"1").unwrap();
    ks.rotate_memtable_and_wait().unwrap();
    memtables.watch(&ks);
    assert_eq!(
        memtables.held.len(),
        2,
        "the new active memtable is taken too"
    );
    // Once flushed, the old memtable leaves the tree's versions when fjall's version
    // GC runs (at the next rotation); from then on only the reaper holds it.
    ks.insert(b"b", b"2").unwrap();
    ks.rotate_memtable_and_wait().unwrap();
    let mut reaped = 0;
    assert!(
        wait_until(|| {
            reaped += memtables.reap();
            reaped >= 1
        }),
        "the first memtable was freed by the reaper"
    );
    assert_eq!(ks.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
}

#[test]
fn links_files_and_frees_them_after_fjall_deletes_them() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("tables");
    std::fs::create_dir(&folder).unwrap();
    // A leftover link from a crash is cleared on open.
    std::fs::create_dir(dir.path().join(REAPING_DIR)).unwrap();
    std::fs::write(dir.path().join(REAPING_DIR).join("stale"), b"x").unwrap();
    let mut files = Files::open(dir.path());
    assert!(files.enabled);
    assert!(!dir.path().join(REAPING_DIR).join("stale").exists());

    std::fs::write(folder.join("7"), b"table bytes").unwrap();
    std::fs::write(folder.join("skip.tmp"), b"not wanted").unwrap();
    files.watch(&folder, "ks1", |name| !name.ends_with(".tmp"));
    files.watch(&folder, "ks1", |name| !name.ends_with(".tmp"));
    assert_eq!(files.links.len(), 1);
    let link = dir.path().join(REAPING_DIR).join("ks1-7");
    assert_eq!(std::fs::read(&link).unwrap(), b"table bytes");
    assert_eq!(files.reap(), 0, "the file is still fjall's");

    // fjall's delete only drops a link count; the reaper's unlink frees the file.
    std::fs::remove_file(folder.join("7")).unwrap();
    assert!(link.exists());
    assert_eq!(files.reap(), 1);
    assert!(!link.exists());
    assert!(files.links.is_empty());
}

#[test]
fn an_engine_frees_compacted_tables_through_its_links() {
    use crate::EngineConfig;
    use crate::engine::Engine;
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(EngineConfig::new(dir.path())).unwrap();
    let items = engine.state.items.clone();
    let tables = items.path().join("tables");
    let prefix = format!("{}-", keyspace_prefix(items.path()));
    let count = |dir: &Path, prefix: &str| {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
            .count()
    };
    let reaping = dir.path().join(REAPING_DIR);
    for round in 0..3u8 {
        items.insert([round], [round; 64]).unwrap();
        items.rotate_memtable_and_wait().unwrap();
    }
    assert!(
        wait_until(|| count(&reaping, &prefix) == 3),
        "each flushed table is linked"
    );
    items.major_compact().unwrap();
    // fjall deletes the compacted-away tables at its next version GC (a rotation).
    items.insert([9], [9; 64]).unwrap();
    items.rotate_memtable_and_wait().unwrap();
    assert!(
        wait_until(|| {
            let live = count(&tables, "");
            live < 4 && count(&reaping, &prefix) == live
        }),
        "the links follow the live tables: {} tables, {} links",
        count(&tables, ""),
        count(&reaping, &prefix)
    );
    for round in [0u8, 1, 2, 9] {
        assert!(items.get([round]).unwrap().is_some());
    }
    engine.shutdown();
}
