//! The engine with a key: what reaches fjall is sealed, and the directory check refuses
//! a sealed directory opened without its key.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::engine::Engine;
use crate::{
    AttributeValue, BillingMode, CreateTableInput, EngineConfig, GetItemInput, IndexInput,
    IndexKind, Item, KeyAttribute, KeyRole, KeyType, PutItemInput, StreamSpecification,
    StreamViewType,
};

use super::{SEALED_TAG, SealKey};

/// How long a reopen waits for the closed engine's threads to let go of the lock.
const REOPEN_WAIT_MS_MAX: u64 = 30_000;
const MARKER: &str = "zebra-marker-4f1d";

fn key(b: u8) -> SealKey {
    SealKey::from_bytes(&[b; 32])
}

/// Opens `dir`, retrying only while the previous engine still holds the lock.
fn open(dir: &Path, key: Option<SealKey>) -> crate::Result<Engine> {
    let deadline = Instant::now() + Duration::from_millis(REOPEN_WAIT_MS_MAX);
    loop {
        let mut config = EngineConfig::new(dir);
        config.seal_key = key.clone();
        match Engine::open(config) {
            Err(e) if !e.to_string().contains("encrypt") && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn put(engine: &Engine, pk: &str) {
    let (tx, rx) = std::sync::mpsc::channel();
    let item = Item::from([
        ("pk".to_string(), s(pk)),
        ("g".to_string(), s("group")),
        ("secret".to_string(), s(MARKER)),
    ]);
    engine.put_item(
        PutItemInput {
            table: "things".into(),
            item,
            ..PutItemInput::default()
        },
        Box::new(move |r| {
            let _ = tx.send(r.map(|_| ()));
        }),
    );
    rx.recv().unwrap().unwrap();
}

fn get(engine: &Engine, pk: &str) -> Option<Item> {
    engine
        .get_item(&GetItemInput {
            table: "things".into(),
            key: Item::from([("pk".to_string(), s(pk))]),
            ..GetItemInput::default()
        })
        .unwrap()
}

fn create(engine: &Engine) {
    let attr = |name: &str| KeyAttribute {
        name: name.into(),
        key_type: KeyType::S,
    };
    engine
        .create_table(CreateTableInput {
            name: "things".into(),
            attribute_definitions: vec![attr("pk"), attr("g")],
            key_schema: vec![("pk".into(), KeyRole::Hash)],
            billing_mode: Some(BillingMode::PayPerRequest),
            stream: Some(StreamSpecification {
                enabled: true,
                view_type: Some(StreamViewType::NewAndOldImages),
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
            ..CreateTableInput::default()
        })
        .unwrap();
}

/// Every value of `items`, `streams` and `system`, read straight from fjall.
fn raw_values(dir: &Path) -> Vec<Vec<u8>> {
    let db = fjall::Database::builder(dir).open().unwrap();
    let mut out = Vec::new();
    for name in ["items", "streams", "system"] {
        let ks = db
            .keyspace(name, fjall::KeyspaceCreateOptions::default)
            .unwrap();
        for kv in ks.iter() {
            out.push(kv.into_inner().unwrap().1.to_vec());
        }
    }
    out
}

fn has_marker(v: &[u8]) -> bool {
    v.windows(MARKER.len()).any(|w| w == MARKER.as_bytes())
}

#[test]
fn items_index_entries_and_records_are_sealed_and_need_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), Some(key(1))).unwrap();
    create(&engine);
    put(&engine, "a");
    put(&engine, "b");
    engine.system_put(b"sub/one", MARKER.as_bytes()).unwrap();
    engine
        .system_put_relaxed(b"sub/two", MARKER.as_bytes())
        .unwrap();
    engine.shutdown();
    drop(engine);

    let values = raw_values(dir.path());
    // Two items, two index entries, two change records, two system records.
    assert_eq!(values.len(), 8, "{values:?}");
    for v in &values {
        assert_eq!(v.first(), Some(&SEALED_TAG));
        assert!(!has_marker(v), "a value is stored in clear");
    }

    let e = open(dir.path(), None).unwrap_err();
    assert!(
        e.to_string().contains("encrypted and no encryption key"),
        "{e}"
    );
    let e = open(dir.path(), Some(key(2))).unwrap_err();
    assert!(
        e.to_string().contains("does not open this data directory"),
        "{e}"
    );

    let engine = open(dir.path(), Some(key(1))).unwrap();
    assert_eq!(get(&engine, "a").unwrap()["secret"], s(MARKER));
    assert_eq!(
        engine.system_get(b"sub/one").unwrap().unwrap(),
        MARKER.as_bytes()
    );
    let scanned = engine.system_scan(b"sub/").unwrap();
    assert_eq!(scanned.len(), 2);
    assert!(scanned.iter().all(|(_, v)| v == MARKER.as_bytes()));
    let table = engine.state.table("things").unwrap();
    assert!(engine.state.wait_counts());
    assert_eq!(
        table
            .stats
            .item_count
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    let stream = engine.table_stream(&table).unwrap();
    let records: usize = (0..stream.shards)
        .map(|shard| {
            let read = engine
                .read_shard(
                    &stream,
                    shard,
                    engine.trim_horizon(&stream, shard),
                    100,
                    1 << 20,
                )
                .unwrap();
            for r in &read.records {
                assert_eq!(r.new_image.as_ref().unwrap()["secret"], s(MARKER));
            }
            read.records.len()
        })
        .sum();
    assert_eq!(records, 2);
    engine.shutdown();
}

#[test]
fn a_key_added_to_a_clear_directory_reads_old_values_and_seals_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), None).unwrap();
    create(&engine);
    put(&engine, "old");
    engine.shutdown();
    drop(engine);
    assert!(raw_values(dir.path()).iter().all(|v| has_marker(v)));

    let engine = open(dir.path(), Some(key(1))).unwrap();
    assert_eq!(get(&engine, "old").unwrap()["secret"], s(MARKER));
    put(&engine, "new");
    assert_eq!(get(&engine, "new").unwrap()["secret"], s(MARKER));
    engine.shutdown();
    drop(engine);
    let values = raw_values(dir.path());
    let sealed = values
        .iter()
        .filter(|v| v.first() == Some(&SEALED_TAG))
        .count();
    assert_eq!(
        (values.len(), sealed),
        (6, 3),
        "the new item, entry and record"
    );

    // From now on the directory needs the key.
    let e = open(dir.path(), None).unwrap_err();
    assert!(e.to_string().contains("no encryption key"), "{e}");
}

#[test]
fn a_tampered_value_is_an_error_never_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), Some(key(1))).unwrap();
    create(&engine);
    put(&engine, "a");
    engine.shutdown();
    drop(engine);
    {
        let db = fjall::Database::builder(dir.path()).open().unwrap();
        let items = db
            .keyspace("items", fjall::KeyspaceCreateOptions::default)
            .unwrap();
        let (k, v) = items.iter().next().unwrap().into_inner().unwrap();
        let mut bad = v.to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 0x40;
        items.insert(k, bad).unwrap();
        db.persist(fjall::PersistMode::SyncAll).unwrap();
    }
    // The count after opening reads every item, so the tampered one is found there:
    // a fatal storage fault, and writes are refused.
    let engine = open(dir.path(), Some(key(1))).unwrap();
    assert!(engine.state.wait_counts());
    let health = engine.health();
    let reason = health.reason().unwrap_or_default();
    assert!(reason.contains("fails its authentication"), "{reason}");
    assert!(engine.system_put(b"k", b"v").is_err());
}
