//! The item cache never serves an outdated item: readers racing the writer on the
//! same few keys always see each key's counter move forward, and every read that
//! starts after a write was acknowledged sees that write (or a later one). Run with
//! a cache that holds everything, one so small it evicts all the time, and none.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, mpsc};

use eddy_engine::{
    AttributeValue, CreateTableInput, DeleteItemInput, Engine, EngineConfig, GetItemInput, Item,
    KeyAttribute, KeyRole, KeyType, Number, PutItemInput,
};

const KEYS: usize = 4;
const WRITES_PER_KEY: i64 = 400;
const READERS: usize = 4;

fn open(cache_bytes: u64) -> (Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(dir.path());
    config.in_memory = true;
    config.item_cache_bytes = cache_bytes;
    let engine = Engine::open(config).unwrap();
    engine
        .create_table(CreateTableInput {
            name: "counters".into(),
            attribute_definitions: vec![KeyAttribute {
                name: "pk".into(),
                key_type: KeyType::S,
            }],
            key_schema: vec![("pk".into(), KeyRole::Hash)],
            billing_mode: Some(eddy_engine::BillingMode::PayPerRequest),
            ..Default::default()
        })
        .unwrap();
    (engine, dir)
}

fn key(k: usize) -> Item {
    Item::from([("pk".to_string(), AttributeValue::S(format!("k{k}")))])
}

/// The key's counter, or -1 when the item is absent (deleted or not yet written).
fn read(engine: &Engine, k: usize) -> i64 {
    let input = GetItemInput {
        table: "counters".into(),
        key: key(k),
        ..Default::default()
    };
    // The readers hammer a few keys far past one key's 3,000 read units a second, so
    // a throttled read (which reads nothing) is made again once its bucket refills.
    let item = loop {
        match engine.get_item_stored(&input) {
            Err(eddy_engine::Error::Throttled(_)) => std::thread::yield_now(),
            r => break r.unwrap().0,
        }
    };
    match item.map(|i| i.decode().unwrap()) {
        None => -1,
        Some(i) => match &i["n"] {
            AttributeValue::N(n) => n.to_string().parse().unwrap(),
            other => panic!("{other:?}"),
        },
    }
}

fn wait<T: Send + 'static>(f: impl FnOnce(eddy_engine::Done<T>)) -> T {
    let (tx, rx) = mpsc::channel();
    f(Box::new(move |r| {
        let _ = tx.send(r);
    }));
    rx.recv().unwrap().unwrap()
}

fn race(cache_bytes: u64) {
    let (engine, _dir) = open(cache_bytes);
    // The newest acknowledged counter of each key.
    let acked: Arc<Vec<AtomicI64>> = Arc::new((0..KEYS).map(|_| AtomicI64::new(-1)).collect());
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..READERS)
        .map(|r| {
            let (engine, acked, done) = (engine.clone(), acked.clone(), done.clone());
            std::thread::spawn(move || {
                let mut seen = [-1i64; KEYS];
                let mut reads = 0u64;
                while !done.load(Ordering::Acquire) {
                    let k = (reads as usize + r) % KEYS;
                    let floor = acked[k].load(Ordering::Acquire);
                    let n = read(&engine, k);
                    // Deletes (every 50th write) make a key absent for a moment, so the
                    // counter check only holds between present values.
                    if n >= 0 {
                        assert!(n >= seen[k], "key {k}: read {n} after {}", seen[k]);
                        assert!(
                            n >= floor,
                            "key {k}: read {n}, but {floor} was acknowledged"
                        );
                        seen[k] = n;
                    }
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for n in 0..WRITES_PER_KEY {
        for k in 0..KEYS {
            if n % 50 == 49 {
                wait(|done| {
                    engine.delete_item(
                        DeleteItemInput {
                            table: "counters".into(),
                            key: key(k),
                            ..Default::default()
                        },
                        done,
                    );
                });
            }
            let mut item = key(k);
            item.insert("n".into(), AttributeValue::N(Number::from_i64(n)));
            wait(|done| {
                engine.put_item(
                    PutItemInput {
                        table: "counters".into(),
                        item,
                        ..Default::default()
                    },
                    done,
                );
            });
            acked[k].store(n, Ordering::Release);
        }
    }
    done.store(true, Ordering::Release);
    let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(reads > 0);
    for k in 0..KEYS {
        assert_eq!(read(&engine, k), WRITES_PER_KEY - 1);
    }
}

#[test]
fn reads_never_go_back_with_a_large_cache() {
    race(64 * 1024 * 1024);
}

#[test]
fn reads_never_go_back_with_an_evicting_cache() {
    race(512);
}

#[test]
fn reads_never_go_back_without_a_cache() {
    race(0);
}
