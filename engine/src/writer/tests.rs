//! The writer's fault containment: a job that panics or stages a key the storage would
//! refuse fails alone, with nothing of it written; a commit that fails or panics is
//! fatal (the hook runs, nobody of the group is answered, writes are refused after);
//! below the disk reserve writes are refused and reads go on; background loops outlive
//! a panicking run.

use std::sync::atomic::AtomicUsize;
use std::sync::mpsc;
use std::time::Duration;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::health::{Fault, HealthStatus};
use crate::limits::STORAGE_KEY_BYTES_MAX;
use crate::sync::lock;
use crate::writer::job::{Applied, Change, Mutation};
use crate::{
    AttributeValue, BillingMode, CreateTableInput, EngineConfig, FatalHook, FaultKind,
    GetItemInput, IndexInput, IndexKind, Item, KeyAttribute, KeyRole, KeyType, PutItemInput,
    ScanInput, StorageState, StreamSpecification, WriterState,
};

/// How long a test waits for something the writer does at once (generous: a slow CI
/// machine, not a speed claim).
const WAIT_MS: u64 = 10_000;

/// What a fatal hook saw.
type Seen = Arc<Mutex<Vec<Fault>>>;

fn open_with(dir: &std::path::Path, reserve_bytes: u64) -> (Engine, Seen) {
    let seen: Seen = Arc::default();
    let hook_seen = Arc::clone(&seen);
    let mut config = EngineConfig::new(dir);
    config.disk_reserve_bytes = reserve_bytes;
    config.on_fatal = Some(FatalHook::new(move |f: &Fault| {
        lock(&hook_seen).push(f.clone());
    }));
    (Engine::open(config).unwrap(), seen)
}

/// An engine with table `tbl` (`pk` S; a stream with both images; a global index `by_g`
/// on `g`).
fn open() -> (Engine, Seen, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (engine, seen) = open_with(dir.path(), 0);
    create_table(&engine);
    (engine, seen, dir)
}

fn create_table(engine: &Engine) {
    engine
        .create_table(CreateTableInput {
            name: "tbl".into(),
            attribute_definitions: vec![
                KeyAttribute {
                    name: "pk".into(),
                    key_type: KeyType::S,
                },
                KeyAttribute {
                    name: "g".into(),
                    key_type: KeyType::S,
                },
            ],
            key_schema: vec![("pk".into(), KeyRole::Hash)],
            billing_mode: Some(BillingMode::PayPerRequest),
            stream: Some(StreamSpecification {
                enabled: true,
                view_type: Some(crate::StreamViewType::NewAndOldImages),
            }),
            indexes: vec![IndexInput {
                name: "by_g".into(),
                kind: IndexKind::Global,
                key_schema: vec![("g".into(), KeyRole::Hash)],
                projection_type: Some("ALL".into()),
                non_key_attributes: None,
                throughput: None,
                on_demand: None,
                warm: None,
            }],
            ..Default::default()
        })
        .unwrap();
}

fn item(pk: &str) -> Item {
    Item::from([
        ("pk".to_string(), AttributeValue::S(pk.into())),
        ("g".to_string(), AttributeValue::S(format!("g-{pk}"))),
    ])
}

fn key_of(engine: &Engine, pk: &str) -> Vec<u8> {
    let table = engine.state.table("tbl").unwrap();
    let key = Item::from([("pk".to_string(), AttributeValue::S(pk.into()))]);
    crate::items::input::storage_key_of(&table, &key).unwrap()
}

fn get(engine: &Engine, pk: &str) -> Option<Item> {
    engine
        .get_item(&GetItemInput {
            table: "tbl".into(),
            key: Item::from([("pk".to_string(), AttributeValue::S(pk.into()))]),
            ..Default::default()
        })
        .unwrap()
}

/// A mutation of `tbl` at `key` that puts `item`.
fn put_at(engine: &Engine, key: Vec<u8>, item: Item) -> Mutation {
    Mutation {
        table: engine.state.table("tbl").unwrap(),
        key,
        apply: Box::new(move |_| Ok(Change::Put(item))),
    }
}

fn put_mutation(engine: &Engine, pk: &str) -> Mutation {
    put_at(engine, key_of(engine, pk), item(pk))
}

/// A mutation of `pk` whose evaluation panics (a bug in the code that decides it).
fn panicking_mutation(engine: &Engine, pk: &str) -> Mutation {
    Mutation {
        table: engine.state.table("tbl").unwrap(),
        key: key_of(engine, pk),
        apply: Box::new(|_| panic!("a bug in a mutation")),
    }
}

/// Submits a job; its answer arrives on the receiver (which disconnects if the job is
/// dropped unanswered).
fn submit(engine: &Engine, mutations: Vec<Mutation>) -> mpsc::Receiver<Result<Vec<Applied>>> {
    let (tx, rx) = mpsc::channel();
    crate::writer::submit::submit(
        &engine.state,
        0,
        mutations,
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    rx
}

fn answer_of<T>(rx: &mpsc::Receiver<Result<T>>) -> Result<T> {
    rx.recv_timeout(Duration::from_millis(WAIT_MS))
        .expect("the job was answered")
}

/// Holds the writer inside a control job until the returned sender is dropped, so the
/// jobs submitted meanwhile are gathered into one commit group.
fn hold_writer(engine: &Engine) -> (mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (inside_tx, inside_rx) = mpsc::channel::<()>();
    let holder = engine.clone();
    let thread = std::thread::spawn(move || {
        crate::writer::submit::control(
            &holder.state,
            Box::new(move |_, _| {
                let _ = inside_tx.send(());
                let _ = release_rx.recv();
                Ok(())
            }),
        )
        .unwrap();
    });
    inside_rx
        .recv_timeout(Duration::from_millis(WAIT_MS))
        .expect("the writer took the holding job");
    (release_tx, thread)
}

/// Every record of `tbl`'s stream: (sequence number, key `pk`).
fn stream_records(engine: &Engine) -> Vec<(u64, String)> {
    let def = engine.list_streams(Some("tbl")).remove(0);
    let from = engine.trim_horizon(&def, 0);
    let read = engine.read_shard(&def, 0, from, 1000, 1 << 20).unwrap();
    read.records
        .iter()
        .map(|r| {
            let Some(AttributeValue::S(pk)) = r.keys.get("pk") else {
                panic!("a record keyed by pk")
            };
            (r.seq, pk.clone())
        })
        .collect()
}

/// The `pk`s the index `by_g` holds.
fn indexed(engine: &Engine) -> Vec<String> {
    let page = engine
        .scan(&ScanInput {
            table: "tbl".into(),
            index: Some("by_g".into()),
            ..Default::default()
        })
        .unwrap();
    let mut pks: Vec<String> = page
        .items
        .iter()
        .map(|s| match s.decode().unwrap().get("pk") {
            Some(AttributeValue::S(pk)) => pk.clone(),
            other => panic!("an indexed item without pk: {other:?}"),
        })
        .collect();
    pks.sort();
    pks
}

fn item_count(engine: &Engine) -> i64 {
    engine.describe_table("tbl").unwrap().item_count
}

#[test]
fn a_panicking_job_fails_alone_and_the_rest_of_its_group_commits() {
    let (engine, seen, _dir) = open();
    let (release, holder) = hold_writer(&engine);
    let a = submit(&engine, vec![put_mutation(&engine, "a")]);
    // A two-item job whose second item panics: its first item must not be written.
    let b = submit(
        &engine,
        vec![
            put_mutation(&engine, "b1"),
            panicking_mutation(&engine, "b2"),
        ],
    );
    let c = submit(&engine, vec![put_mutation(&engine, "c")]);
    drop(release);
    holder.join().unwrap();

    assert!(answer_of(&a).is_ok());
    match answer_of(&b) {
        Err(Error::Internal(message)) => {
            assert!(message.contains("a bug in a mutation"), "{message}");
            assert!(message.contains("nothing of it was written"), "{message}");
        }
        other => panic!("the panicking job answers Internal, got {other:?}"),
    }
    assert!(answer_of(&c).is_ok());

    assert!(get(&engine, "a").is_some() && get(&engine, "c").is_some());
    assert_eq!(get(&engine, "b1"), None, "nothing of the panicking job");
    assert_eq!(get(&engine, "b2"), None);
    let records = stream_records(&engine);
    let keys: Vec<&str> = records.iter().map(|(_, pk)| pk.as_str()).collect();
    assert_eq!(keys, ["a", "c"], "one record per committed item, none of b");
    assert_eq!(indexed(&engine), ["a", "c"]);
    assert_eq!(item_count(&engine), 2);

    // The writer goes on serving, and sequence numbers go on increasing.
    assert!(answer_of(&submit(&engine, vec![put_mutation(&engine, "d")])).is_ok());
    let records = stream_records(&engine);
    assert!(records.windows(2).all(|w| w[0].0 < w[1].0), "{records:?}");
    assert_eq!(records.last().unwrap().1, "d");
    assert!(lock(&seen).is_empty(), "a job's panic is not fatal");
    assert_eq!(engine.health().status(), HealthStatus::Ok);
}

#[test]
fn a_key_over_the_storage_bound_fails_its_job_cleanly() {
    let (engine, seen, _dir) = open();
    let (release, holder) = hold_writer(&engine);
    let a = submit(&engine, vec![put_mutation(&engine, "a")]);
    // An item key over fjall's bound (which it asserts on in reads too).
    let mut long_key = key_of(&engine, "x");
    long_key.resize(STORAGE_KEY_BYTES_MAX + 1, b'x');
    let b = submit(
        &engine,
        vec![
            put_mutation(&engine, "b1"),
            put_at(&engine, long_key.clone(), item("x")),
        ],
    );
    // A transaction whose item is staged (item, index entry, stream record) along
    // with a client-token record whose key is over the bound.
    let (tx, t) = mpsc::channel();
    crate::writer::submit::submit_transaction(
        &engine.state,
        0,
        vec![put_mutation(&engine, "t1")],
        Some((long_key, b"token".to_vec())),
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    let c = submit(&engine, vec![put_mutation(&engine, "c")]);
    drop(release);
    holder.join().unwrap();

    assert!(answer_of(&a).is_ok());
    for rx in [&b, &t] {
        match answer_of(rx) {
            Err(Error::Internal(message)) => {
                assert!(message.contains("65536 bytes"), "{message}");
                assert!(message.contains("nothing of it was written"), "{message}");
            }
            other => panic!("the job answers Internal, got {other:?}"),
        }
    }
    assert!(answer_of(&c).is_ok());
    assert_eq!(get(&engine, "b1"), None, "nothing of the failed jobs");
    assert_eq!(get(&engine, "t1"), None);
    let keys: Vec<String> = stream_records(&engine).into_iter().map(|r| r.1).collect();
    assert_eq!(keys, ["a", "c"]);
    assert_eq!(indexed(&engine), ["a", "c"]);
    assert_eq!(item_count(&engine), 2);
    assert!(lock(&seen).is_empty());

    // An empty key, outside the writer too: refused before it is staged.
    match engine.system_put(b"", b"v") {
        Err(Error::Validation(message)) => assert!(message.contains("0 bytes"), "{message}"),
        other => panic!("an empty system key fails cleanly, got {other:?}"),
    }
    assert!(engine.system_put(b"k", b"v").is_ok());
}

#[test]
fn a_failed_commit_is_fatal_and_answers_no_one_of_its_group() {
    let (engine, seen, _dir) = open();
    assert!(answer_of(&submit(&engine, vec![put_mutation(&engine, "before")])).is_ok());

    let (release, holder) = hold_writer(&engine);
    engine
        .state
        .injected
        .fail_commit
        .store(true, Ordering::Release);
    let a = submit(&engine, vec![put_mutation(&engine, "a")]);
    // A job that failed on its own is known not to be written: it still gets its answer.
    let b = submit(&engine, vec![panicking_mutation(&engine, "b")]);
    drop(release);
    holder.join().unwrap();

    assert!(
        matches!(
            a.recv_timeout(Duration::from_millis(WAIT_MS)),
            Err(mpsc::RecvTimeoutError::Disconnected)
        ),
        "a write whose commit failed is never answered"
    );
    assert!(matches!(answer_of(&b), Err(Error::Internal(_))));
    let faults = lock(&seen).clone();
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert_eq!(faults[0].kind, FaultKind::Storage);
    assert!(faults[0].message.contains("committing"), "{}", faults[0]);

    // No zombie: health says so, and every write is refused with the fault's message.
    let health = engine.health();
    assert_eq!(health.status(), HealthStatus::Failed);
    assert_eq!(health.storage, StorageState::Failed);
    assert!(health.reason().unwrap().contains("fatal fault"));
    match answer_of(&submit(&engine, vec![put_mutation(&engine, "after")])) {
        Err(Error::Storage(message)) => assert!(message.contains("fatal fault"), "{message}"),
        other => panic!("writes are refused after a fatal fault, got {other:?}"),
    }
    assert!(matches!(
        engine.system_put(b"k", b"v"),
        Err(Error::Storage(_))
    ));
    // Reads go on.
    assert!(get(&engine, "before").is_some());
    assert_eq!(lock(&seen).len(), 1, "the hook runs once");
}

#[test]
fn a_panic_in_the_commit_is_fatal() {
    let (engine, seen, _dir) = open();
    engine
        .state
        .injected
        .panic_commit
        .store(true, Ordering::Release);
    let a = submit(&engine, vec![put_mutation(&engine, "a")]);
    assert!(matches!(
        a.recv_timeout(Duration::from_millis(WAIT_MS)),
        Err(mpsc::RecvTimeoutError::Disconnected)
    ));
    let faults = lock(&seen).clone();
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert_eq!(faults[0].kind, FaultKind::WriterCrashed);
    let health = engine.health();
    assert_eq!(health.writer, WriterState::Failed);
    assert_eq!(health.status(), HealthStatus::Failed);
    // The writer thread is still there to refuse what comes, instead of leaving
    // callers to a closed queue.
    assert!(matches!(
        answer_of(&submit(&engine, vec![put_mutation(&engine, "b")])),
        Err(Error::Storage(_))
    ));
    assert!(matches!(
        engine.update_time_to_live("tbl", true, "exp"),
        Err(Error::Storage(_))
    ));
}

#[test]
fn a_storage_failure_outside_the_writer_is_fatal() {
    let (engine, seen, _dir) = open();
    engine
        .state
        .injected
        .fail_commit
        .store(true, Ordering::Release);
    assert!(matches!(
        engine.system_put(b"trigger/x", b"v"),
        Err(Error::Storage(_))
    ));
    let faults = lock(&seen).clone();
    assert_eq!(faults.len(), 1);
    assert_eq!(faults[0].kind, FaultKind::Storage);
    assert!(faults[0].message.contains("system key"), "{}", faults[0]);
    assert_eq!(engine.health().status(), HealthStatus::Failed);
}

#[test]
fn a_panicking_completion_does_not_stop_the_writer() {
    let (engine, seen, _dir) = open();
    crate::writer::submit::submit(
        &engine.state,
        0,
        vec![put_mutation(&engine, "a")],
        Box::new(|_| panic!("a bug in a caller's completion")),
    );
    assert!(answer_of(&submit(&engine, vec![put_mutation(&engine, "b")])).is_ok());
    assert!(get(&engine, "a").is_some(), "the write itself stands");
    assert!(lock(&seen).is_empty());
}

#[test]
fn below_the_disk_reserve_writes_are_refused_and_reads_go_on() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (engine, _) = open_with(dir.path(), 0);
        create_table(&engine);
        assert!(answer_of(&submit(&engine, vec![put_mutation(&engine, "a")])).is_ok());
        engine.shutdown();
    }
    // No file system has this much free.
    let (engine, seen) = open_with(dir.path(), u64::MAX / 4);
    let (tx, rx) = mpsc::channel();
    engine.put_item(
        PutItemInput {
            table: "tbl".into(),
            item: item("b"),
            ..Default::default()
        },
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    match answer_of(&rx) {
        Err(Error::Unavailable(message)) => {
            assert!(message.starts_with("The disk is full"), "{message}");
            assert!(message.contains("free"), "{message}");
        }
        other => panic!("a write below the reserve is refused, got {other:?}"),
    }
    assert!(matches!(
        engine.system_put(b"k", b"v"),
        Err(Error::Unavailable(_))
    ));
    assert_eq!(get(&engine, "b"), None, "nothing of the refused write");
    assert!(get(&engine, "a").is_some(), "reads go on");
    let health = engine.health();
    assert_eq!(health.status(), HealthStatus::Degraded);
    assert!(!health.disk.ok);
    assert!(health.reason().unwrap().starts_with("The disk is full"));
    assert!(lock(&seen).is_empty(), "a full disk is not fatal");
}

#[test]
fn a_refused_catalog_change_leaves_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (engine, _) = open_with(dir.path(), 0);
        create_table(&engine);
        engine.shutdown();
    }
    let check = |engine: &Engine| {
        let d = engine.describe_table("tbl").unwrap();
        assert!(d.stream_enabled, "the stream is as it was");
        assert_eq!(d.def.indexes.len(), 1, "the indexes are as they were");
        let (names, _) = engine.list_tables(None, None).unwrap();
        assert_eq!(names, ["tbl"]);
    };
    {
        // Every catalog change is one writer job, refused whole below the reserve.
        let (engine, seen) = open_with(dir.path(), u64::MAX / 4);
        let refused = |r: Result<crate::tables::TableDescription>| match r {
            Err(Error::Unavailable(m)) => assert!(m.starts_with("The disk is full"), "{m}"),
            other => panic!("refused below the reserve, got {other:?}"),
        };
        refused(engine.delete_table("tbl"));
        refused(engine.update_table(
            "tbl",
            crate::tables::UpdateTableInput {
                stream: Some(StreamSpecification {
                    enabled: false,
                    view_type: None,
                }),
                index_updates: vec![crate::IndexUpdate::Delete("by_g".into())],
                ..Default::default()
            },
        ));
        let mut other = CreateTableInput {
            name: "other".into(),
            attribute_definitions: vec![KeyAttribute {
                name: "pk".into(),
                key_type: KeyType::S,
            }],
            key_schema: vec![("pk".into(), KeyRole::Hash)],
            billing_mode: Some(BillingMode::PayPerRequest),
            ..Default::default()
        };
        other.stream = Some(StreamSpecification {
            enabled: true,
            view_type: Some(crate::StreamViewType::KeysOnly),
        });
        refused(engine.create_table(other));
        check(&engine);
        assert!(lock(&seen).is_empty());
        engine.shutdown();
    }
    // Nothing of them was stored either.
    let (engine, _) = open_with(dir.path(), 0);
    check(&engine);
}

#[test]
fn a_periodic_loop_outlives_a_panicking_run() {
    let (engine, _seen, _dir) = open();
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    engine
        .state
        .spawn_periodic("eddy-test", Duration::from_millis(1), move |_| {
            if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("a bug in one run");
            }
            true
        });
    let deadline = std::time::Instant::now() + Duration::from_millis(WAIT_MS);
    while runs.load(Ordering::SeqCst) < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the loop stopped after a panicking run"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn writes_made_while_the_stored_items_are_counted_are_counted_once() {
    const STORED: usize = 20_000;
    const CHANGED: usize = 500;
    let (engine, _seen, dir) = open();
    for chunk in (0..STORED).collect::<Vec<_>>().chunks(1000) {
        let mutations = chunk
            .iter()
            .map(|i| put_mutation(&engine, &format!("k{i}")))
            .collect();
        assert!(answer_of(&submit(&engine, mutations)).is_ok());
    }
    engine.shutdown();
    drop(engine);
    // Right after the reopen the count is reading what was stored while these writes
    // (new items, deletes of stored ones, overwrites) land.
    let (engine, _seen) = open_with(dir.path(), 0);
    let racing = !engine.counts_ready();
    for i in 0..CHANGED {
        let delete = Mutation {
            table: engine.state.table("tbl").unwrap(),
            key: key_of(&engine, &format!("k{i}")),
            apply: Box::new(|_| Ok(Change::Delete)),
        };
        let mutations = vec![
            put_mutation(&engine, &format!("new{i}")),
            delete,
            put_mutation(&engine, &format!("k{}", STORED - 1 - i)),
        ];
        assert!(answer_of(&submit(&engine, mutations)).is_ok());
    }
    let d = engine.describe_table("tbl").unwrap();
    assert_eq!(d.item_count, STORED as i64);
    assert_eq!(d.index_counts[0].0, STORED as i64, "every item has a `g`");
    let (mut scanned, mut start) = (0, None);
    loop {
        let page = engine
            .scan(&ScanInput {
                table: "tbl".into(),
                select: Some(crate::Select::Count),
                exclusive_start_key: start,
                ..Default::default()
            })
            .unwrap();
        scanned += page.count;
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    assert_eq!(scanned, STORED);
    eprintln!("the writes began while the count ran: {racing}");
}
