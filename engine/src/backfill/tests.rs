use std::path::Path;

use super::*;
use crate::engine::Engine;
use crate::{
    AttributeValue, BatchWriteRequest, BillingMode, CreateTableInput, EngineConfig, IndexInput,
    IndexKind, IndexUpdate, Item, KeyAttribute, KeyRole, KeyType, PutItemInput, QueryInput,
    ScanInput, UpdateTableInput,
};

/// How long a test waits for a backfill to finish (a debug build indexes a few
/// thousand items a second on a loaded 2-core machine; this is far beyond).
const BACKFILL_WAIT_MS_MAX: u64 = 60_000;

fn open(dir: &Path) -> Engine {
    // A closed engine's threads let go of the data directory's lock within a step.
    let deadline = Instant::now() + Duration::from_millis(BACKFILL_WAIT_MS_MAX);
    loop {
        match Engine::open(EngineConfig::new(dir)) {
            Ok(e) => return e,
            Err(e) if Instant::now() < deadline => {
                eprintln!("reopening: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("reopen: {e}"),
        }
    }
}

fn attr(name: &str, key_type: KeyType) -> KeyAttribute {
    KeyAttribute {
        name: name.into(),
        key_type,
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn create(engine: &Engine, table: &str) {
    engine
        .create_table(CreateTableInput {
            name: table.into(),
            attribute_definitions: vec![attr("pk", KeyType::S)],
            key_schema: vec![("pk".into(), KeyRole::Hash)],
            billing_mode: Some(BillingMode::PayPerRequest),
            ..CreateTableInput::default()
        })
        .unwrap();
}

fn write(engine: &Engine, table: &str, items: Vec<Item>) {
    for chunk in items.chunks(25) {
        let (tx, rx) = std::sync::mpsc::channel();
        let puts = chunk.iter().cloned().map(BatchWriteRequest::Put).collect();
        engine.batch_write_item(
            vec![(table.into(), puts)],
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv().unwrap().unwrap();
    }
}

fn put(engine: &Engine, table: &str, item: Item) -> Result<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    let input = PutItemInput {
        table: table.into(),
        item,
        ..PutItemInput::default()
    };
    engine.put_item(
        input,
        Box::new(move |r| {
            let _ = tx.send(r.map(|_| ()));
        }),
    );
    rx.recv().unwrap()
}

/// An UpdateTable that adds GSI `name` on `hash` (S) [+ `range` (S)], ALL.
fn add_index(engine: &Engine, table: &str, name: &str, hash: &str, range: Option<&str>) {
    let mut key_schema = vec![(hash.to_string(), KeyRole::Hash)];
    let mut definitions = vec![attr(hash, KeyType::S)];
    if let Some(r) = range {
        key_schema.push((r.to_string(), KeyRole::Range));
        definitions.push(attr(r, KeyType::S));
    }
    let input = UpdateTableInput {
        attribute_definitions: Some(definitions),
        index_updates: vec![IndexUpdate::Create(IndexInput {
            name: name.into(),
            kind: IndexKind::Global,
            key_schema,
            projection_type: Some("ALL".into()),
            non_key_attributes: None,
            throughput: None,
            on_demand: None,
            warm: None,
        })],
        ..UpdateTableInput::default()
    };
    let desc = engine.update_table(table, input).unwrap();
    // UpdateTable returns with the index still to be built.
    let ix = desc.def.index(name).unwrap();
    assert_eq!(ix.build, IndexBuild::Backfilling);
}

/// Waits until index `name` is built; returns its item count.
fn wait_built(engine: &Engine, table: &str, name: &str) -> i64 {
    let deadline = Instant::now() + Duration::from_millis(BACKFILL_WAIT_MS_MAX);
    loop {
        let d = engine.describe_table(table).unwrap();
        let at = d.def.indexes.iter().position(|i| i.name == name).unwrap();
        if d.def.indexes[at].build == IndexBuild::Backfilled {
            return d.index_counts[at].0;
        }
        assert!(Instant::now() < deadline, "{name} is not built");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `pk`s an index scan returns, sorted.
fn scan_index(engine: &Engine, table: &str, index: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = engine
            .scan(&ScanInput {
                table: table.into(),
                index: Some(index.into()),
                exclusive_start_key: start.take(),
                ..ScanInput::default()
            })
            .unwrap();
        for item in page.decoded_items().unwrap() {
            match &item["pk"] {
                AttributeValue::S(pk) => out.push(pk.clone()),
                other => panic!("{other:?}"),
            }
        }
        match page.last_evaluated_key {
            Some(k) => start = Some(k),
            None => break,
        }
    }
    out.sort();
    out
}

fn item(pk: &str, attrs: &[(&str, AttributeValue)]) -> Item {
    let mut i = Item::from([("pk".to_string(), s(pk))]);
    i.extend(attrs.iter().map(|(k, v)| (k.to_string(), v.clone())));
    i
}

#[test]
fn the_backfill_leaves_out_index_key_violations_and_counts_what_it_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    create(&engine, "tab");
    let x = |n: usize| s(&"x".repeat(n));
    let items = vec![
        item("small", &[("x", s("v")), ("g", s("g"))]),
        item("hash-max", &[("x", x(2048)), ("g", s("g"))]),
        item("hash-over", &[("x", x(2049)), ("g", s("g"))]),
        item("key-3000", &[("x", x(3000)), ("g", s("g"))]),
        item("key-66500", &[("x", x(66_500)), ("g", s("g"))]),
        item("sort-max", &[("x", x(1024)), ("g", s("g"))]),
        item("sort-over", &[("x", x(1025)), ("g", s("g"))]),
        item("empty", &[("x", s("")), ("g", s("g"))]),
        item(
            "number",
            &[("x", AttributeValue::N(7.into())), ("g", s("g"))],
        ),
        item("missing", &[("g", s("g"))]),
    ];
    write(&engine, "tab", items);
    add_index(&engine, "tab", "by_x", "x", None);
    assert_eq!(wait_built(&engine, "tab", "by_x"), 4);
    assert_eq!(
        scan_index(&engine, "tab", "by_x"),
        ["hash-max", "small", "sort-max", "sort-over"]
    );
    // The same value as a sort key is held to 1,024 bytes.
    add_index(&engine, "tab", "by_g_x", "g", Some("x"));
    assert_eq!(wait_built(&engine, "tab", "by_g_x"), 2);
    assert_eq!(scan_index(&engine, "tab", "by_g_x"), ["small", "sort-max"]);
    // Once built, the indexes hold writes to their keys; items left out stay in
    // the table, and writes elsewhere go on.
    let e = put(&engine, "tab", item("new", &[("x", x(3000))])).unwrap_err();
    assert!(
        e.to_string().contains("exceeds the limit of 2048 bytes"),
        "{e}"
    );
    let e = put(&engine, "tab", item("new", &[("x", s(""))])).unwrap_err();
    assert!(e.to_string().contains("empty string value"), "{e}");
    put(&engine, "tab", item("new", &[("x", s("w")), ("g", s("g"))])).unwrap();
    assert_eq!(scan_index(&engine, "tab", "by_g_x").len(), 3);
    let d = engine.describe_table("tab").unwrap();
    assert_eq!(d.item_count, 11);
    assert_eq!(
        d.index_counts,
        [(5, d.index_counts[0].1), (3, d.index_counts[1].1)]
    );
}

#[test]
fn a_backfilling_index_cannot_be_read_and_takes_writes_that_violate_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    create(&engine, "tab");
    // Several steps' worth of items: the builder needs a few writer jobs (each
    // fsync'd) before it can finish, and the finish needs the catalog lock, which
    // this thread takes back the moment UpdateTable releases it. Holding it keeps
    // the index CREATING for as long as this test looks.
    let items = (0..3 * BACKFILL_STEP_ITEMS_MAX).map(|i| item(&format!("i{i:05}"), &[]));
    write(&engine, "tab", items.collect());
    write(&engine, "tab", vec![item("a", &[("x", s("1"))])]);
    let input = UpdateTableInput {
        attribute_definitions: Some(vec![attr("x", KeyType::S)]),
        index_updates: vec![IndexUpdate::Create(IndexInput {
            name: "by_x".into(),
            kind: IndexKind::Global,
            key_schema: vec![("x".into(), KeyRole::Hash)],
            projection_type: Some("KEYS_ONLY".into()),
            non_key_attributes: None,
            throughput: None,
            on_demand: None,
            warm: None,
        })],
        ..UpdateTableInput::default()
    };
    engine.update_table("tab", input).unwrap();
    let catalog = lock(&engine.state.catalog_lock);
    let query = QueryInput {
        table: "tab".into(),
        index: Some("by_x".into()),
        key_condition: Some("x = :x".into()),
        attributes: crate::ExpressionAttributes {
            names: None,
            values: Some([(":x".to_string(), s("1"))].into()),
        },
        scan_forward: true,
        ..QueryInput::default()
    };
    let d = engine.describe_table("tab").unwrap();
    assert_eq!(d.def.indexes[0].build, IndexBuild::Backfilling);
    let e = engine.query(&query).unwrap_err().to_string();
    assert_eq!(
        e,
        "Cannot read from backfilling global secondary index: by_x"
    );
    let scan = ScanInput {
        table: "tab".into(),
        index: Some("by_x".into()),
        ..ScanInput::default()
    };
    let e = engine.scan(&scan).unwrap_err().to_string();
    assert_eq!(
        e,
        "Cannot read from backfilling global secondary index: by_x"
    );
    // DynamoDB takes a write that violates the key of an index being built, and
    // leaves the item out of it.
    put(
        &engine,
        "tab",
        item("b", &[("x", AttributeValue::N(1.into()))]),
    )
    .unwrap();
    put(&engine, "tab", item("c", &[("x", s(""))])).unwrap();
    drop(catalog);
    assert_eq!(wait_built(&engine, "tab", "by_x"), 1);
    assert_eq!(engine.query(&query).unwrap().count, 1);
    let e = put(
        &engine,
        "tab",
        item("d", &[("x", AttributeValue::N(1.into()))]),
    );
    assert!(
        e.unwrap_err()
            .to_string()
            .contains("Type mismatch for Index Key x")
    );
}

/// Shuts `engine` down once the backfill of its only index has stored a cursor
/// past `from`, or has finished (which removes the cursor). Returns whether it
/// finished: the builder runs on while the test waits, and on a loaded machine it
/// may reach the end of the table first.
fn stop_after_progress(engine: &Engine, from: Option<Vec<u8>>) -> bool {
    // The catalog, not DescribeTable, which waits for the item counts after an open.
    let built =
        || engine.state.table("tab").unwrap().def.indexes[0].build == IndexBuild::Backfilled;
    let id = engine.state.table("tab").unwrap().def.indexes[0].id;
    let deadline = Instant::now() + Duration::from_millis(BACKFILL_WAIT_MS_MAX);
    let finished = loop {
        let now = load_cursor(&engine.state.meta, id).unwrap();
        if now > from {
            break false;
        }
        // The finish removes the cursor before it publishes the definition.
        if now.is_none() && built() {
            break true;
        }
        assert!(
            Instant::now() < deadline,
            "the backfill makes no progress past {from:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    };
    engine.shutdown();
    finished
}

#[test]
fn a_backfill_resumes_from_its_stored_cursor_after_the_engine_stops() {
    let dir = tempfile::tempdir().unwrap();
    const ITEMS: usize = 30 * BACKFILL_STEP_ITEMS_MAX;
    let expected: Vec<String> = {
        let engine = open(dir.path());
        create(&engine, "tab");
        let items: Vec<Item> = (0..ITEMS)
            .map(|i| {
                let pk = format!("i{i:06}");
                match i % 4 {
                    0 => item(&pk, &[]),
                    1 => item(&pk, &[("x", AttributeValue::N((i as i64).into()))]),
                    _ => item(&pk, &[("x", s(&format!("x{}", i % 7)))]),
                }
            })
            .collect();
        write(&engine, "tab", items.clone());
        add_index(&engine, "tab", "by_x", "x", None);
        let finished = stop_after_progress(&engine, None);
        assert!(!finished, "30 steps ran before the first one was seen");
        items
            .iter()
            .filter(|i| matches!(i.get("x"), Some(AttributeValue::S(_))))
            .map(|i| match &i["pk"] {
                AttributeValue::S(pk) => pk.clone(),
                _ => unreachable!(),
            })
            .collect()
    };
    // Each reopen finds the index still backfilling, and resumes where the stored
    // cursor says; it is stopped again once it has made a step, or has finished.
    let mut cursors = Vec::new();
    for _ in 0..3 {
        let engine = open(dir.path());
        let def = engine.state.table("tab").unwrap().def.clone();
        let cursor = load_cursor(&engine.state.meta, def.indexes[0].id).unwrap();
        if def.indexes[0].build == IndexBuild::Backfilled {
            // The run before stopped just after its finish committed.
            assert_eq!(cursor, None, "a built index keeps no cursor");
            break;
        }
        assert!(cursor.is_some(), "the stopped backfill had stored a cursor");
        cursors.push(cursor.clone());
        if stop_after_progress(&engine, cursor) {
            break;
        }
    }
    assert!(!cursors.is_empty(), "no reopen resumed the backfill");
    assert!(cursors.is_sorted(), "the cursor only moves forward");
    let engine = open(dir.path());
    assert_eq!(wait_built(&engine, "tab", "by_x"), expected.len() as i64);
    assert_eq!(scan_index(&engine, "tab", "by_x"), expected);
    let id = engine.describe_table("tab").unwrap().def.indexes[0].id;
    assert_eq!(load_cursor(&engine.state.meta, id).unwrap(), None);
    // The count survives a restart of a built index too.
    engine.shutdown();
    drop(engine);
    let engine = open(dir.path());
    let d = engine.describe_table("tab").unwrap();
    assert_eq!(d.index_counts[0].0, expected.len() as i64);
}

#[test]
fn deleting_a_backfilling_index_or_its_table_stops_the_builder() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    const ITEMS: usize = 10 * BACKFILL_STEP_ITEMS_MAX;
    for table in ["tab", "unu"] {
        create(&engine, table);
        let items = (0..ITEMS).map(|i| item(&format!("i{i:05}"), &[("x", s("v"))]));
        write(&engine, table, items.collect());
        add_index(&engine, table, "by_x", "x", None);
    }
    let id = engine.describe_table("tab").unwrap().def.indexes[0].id;
    // Deleting an index allowed while it is being backfilled.
    let input = UpdateTableInput {
        index_updates: vec![IndexUpdate::Delete("by_x".into())],
        ..UpdateTableInput::default()
    };
    let d = engine.update_table("tab", input).unwrap();
    assert!(d.def.indexes.is_empty());
    engine.delete_table("unu").unwrap();
    assert_eq!(load_cursor(&engine.state.meta, id).unwrap(), None);
    // The table takes writes of any type for x again, and nothing of the index
    // remains once its entries are purged.
    put(
        &engine,
        "tab",
        item("n", &[("x", AttributeValue::N(1.into()))]),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_millis(BACKFILL_WAIT_MS_MAX);
    while engine.state.items.prefix(id.to_be_bytes()).next().is_some() {
        assert!(
            Instant::now() < deadline,
            "entries of the deleted index remain"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(engine.describe_table("unu").is_err());
}

#[test]
fn cursors_of_indexes_no_longer_built_are_forgotten_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    engine
        .state
        .meta
        .insert(cursor_key(999), encode_cursor(b"k"))
        .unwrap();
    engine.state.meta.insert(b"backfill/x", b"?").unwrap();
    engine.shutdown();
    drop(engine);
    let engine = open(dir.path());
    assert_eq!(engine.state.meta.prefix(CURSOR_PREFIX).count(), 0);
}
