//! DynamoDB's limits on the keys, names and expressions a request brings, and the
//! storage layer's key bounds behind them, through the engine's API: a value that
//! fjall would assert on is an `Error`, never a panic, on every path that builds a key
//! from it (writes, point reads, Query and Scan bounds, `system_*` keys).

use std::collections::{BTreeMap, HashMap};

use eddy_engine::expr::legacy::{ComparisonOperator, LegacyCondition};
use eddy_engine::limits::STORAGE_KEY_BYTES_MAX;
use eddy_engine::{
    AttributeValue, BillingMode, CreateTableInput, Engine, EngineConfig, Error,
    ExpressionAttributes, GetItemInput, IndexInput, IndexKind, Item, KeyAttribute, KeyRole,
    KeyType, PutItemInput, QueryInput, ScanInput, UpdateItemInput,
};

const HASH_TOO_LONG: &str = "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes";
const RANGE_TOO_LONG: &str = "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes";

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn long(n: usize) -> AttributeValue {
    s(&"k".repeat(n))
}

fn attr(name: &str) -> KeyAttribute {
    KeyAttribute {
        name: name.into(),
        key_type: KeyType::S,
    }
}

/// An engine with table `tbl` (pk S, sk S) and its GSI `by_g` (g S, h S).
fn engine() -> (Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(dir.path());
    config.in_memory = true;
    let engine = Engine::open(config).unwrap();
    engine
        .create_table(CreateTableInput {
            name: "tbl".into(),
            attribute_definitions: vec![attr("pk"), attr("sk"), attr("g"), attr("h")],
            key_schema: vec![("pk".into(), KeyRole::Hash), ("sk".into(), KeyRole::Range)],
            billing_mode: Some(BillingMode::PayPerRequest),
            indexes: vec![IndexInput {
                name: "by_g".into(),
                kind: IndexKind::Global,
                key_schema: vec![("g".into(), KeyRole::Hash), ("h".into(), KeyRole::Range)],
                projection_type: Some("ALL".into()),
                non_key_attributes: None,
                throughput: None,
                on_demand: None,
                warm: None,
            }],
            ..CreateTableInput::default()
        })
        .unwrap();
    (engine, dir)
}

fn put(engine: &Engine, item: Item) -> Result<(), Error> {
    let (tx, rx) = std::sync::mpsc::channel();
    let input = PutItemInput {
        table: "tbl".into(),
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

fn item(pairs: &[(&str, AttributeValue)]) -> Item {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn values(pairs: &[(&str, AttributeValue)]) -> ExpressionAttributes {
    ExpressionAttributes {
        names: None,
        values: Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        ),
    }
}

fn query(index: Option<&str>, cond: &str, vals: &[(&str, AttributeValue)]) -> QueryInput {
    QueryInput {
        table: "tbl".into(),
        index: index.map(str::to_string),
        key_condition: Some(cond.into()),
        attributes: values(vals),
        scan_forward: true,
        ..QueryInput::default()
    }
}

fn message(r: Result<impl std::fmt::Debug, Error>) -> String {
    match r {
        Err(Error::Validation(m)) => m,
        other => panic!("expected a ValidationException, got {other:?}"),
    }
}

#[test]
fn query_key_values_over_dynamodb_limits_are_refused_before_any_range_is_read() {
    let (engine, _dir) = engine();
    put(
        &engine,
        item(&[("pk", s("p")), ("sk", s("s")), ("g", s("g")), ("h", s("h"))]),
    )
    .unwrap();
    // 65,520 bytes and more would make range bounds fjall asserts on.
    for n in [2_049, 65_520, 70_000] {
        let q = query(None, "pk = :p", &[(":p", long(n))]);
        assert_eq!(message(engine.query(&q)), HASH_TOO_LONG, "table hash {n}");
        let q = query(Some("by_g"), "g = :p", &[(":p", long(n))]);
        assert_eq!(message(engine.query(&q)), HASH_TOO_LONG, "index hash {n}");
        for cond in ["pk = :p AND begins_with(sk, :s)", "pk = :p AND sk > :s"] {
            let q = query(None, cond, &[(":p", s("p")), (":s", long(n))]);
            assert_eq!(message(engine.query(&q)), RANGE_TOO_LONG, "{cond} {n}");
        }
        let q = query(
            Some("by_g"),
            "g = :p AND h BETWEEN :a AND :b",
            &[(":p", s("g")), (":a", s("a")), (":b", long(n))],
        );
        assert_eq!(message(engine.query(&q)), RANGE_TOO_LONG, "index sort {n}");
        // Legacy KeyConditions reach the same bounds.
        let mut legacy = QueryInput {
            table: "tbl".into(),
            key_conditions: Some(BTreeMap::from([(
                "pk".to_string(),
                LegacyCondition {
                    operator: ComparisonOperator::Eq,
                    values: vec![long(n)],
                },
            )])),
            scan_forward: true,
            ..QueryInput::default()
        };
        assert_eq!(
            message(engine.query(&legacy)),
            HASH_TOO_LONG,
            "KeyConditions {n}"
        );
        legacy.key_conditions = Some(BTreeMap::from([
            (
                "pk".to_string(),
                LegacyCondition {
                    operator: ComparisonOperator::Eq,
                    values: vec![s("p")],
                },
            ),
            (
                "sk".to_string(),
                LegacyCondition {
                    operator: ComparisonOperator::BeginsWith,
                    values: vec![long(n)],
                },
            ),
        ]));
        assert_eq!(
            message(engine.query(&legacy)),
            RANGE_TOO_LONG,
            "KeyConditions sk {n}"
        );
    }
    // The limits themselves are allowed.
    let q = query(
        None,
        "pk = :p AND sk < :s",
        &[(":p", long(2_048)), (":s", long(1_024))],
    );
    assert_eq!(engine.query(&q).unwrap().count, 0);
    let q = query(None, "pk = :p", &[(":p", s(""))]);
    assert!(message(engine.query(&q)).contains("cannot contain an empty string value"));
    // And the engine goes on serving writes and reads.
    put(&engine, item(&[("pk", s("p")), ("sk", s("t"))])).unwrap();
    assert_eq!(
        engine
            .query(&query(None, "pk = :p", &[(":p", s("p"))]))
            .unwrap()
            .count,
        2
    );
}

#[test]
fn exclusive_start_keys_over_the_key_limits_are_refused() {
    let (engine, _dir) = engine();
    let table_key = |pk: AttributeValue, sk: AttributeValue| item(&[("pk", pk), ("sk", sk)]);
    let cases = [
        (table_key(long(70_000), s("s")), HASH_TOO_LONG),
        (table_key(s("p"), long(70_000)), RANGE_TOO_LONG),
    ];
    for (esk, want) in cases {
        let mut q = query(None, "pk = :p", &[(":p", s("p"))]);
        q.exclusive_start_key = Some(esk.clone());
        let m = message(engine.query(&q));
        assert_eq!(m, format!("The provided starting key is invalid: {want}"));
        let scan = ScanInput {
            table: "tbl".into(),
            exclusive_start_key: Some(esk),
            ..ScanInput::default()
        };
        assert_eq!(message(engine.scan(&scan)), m);
    }
    let mut esk = item(&[
        ("pk", s("p")),
        ("sk", s("s")),
        ("g", long(70_000)),
        ("h", s("h")),
    ]);
    let scan = |esk: &Item| ScanInput {
        table: "tbl".into(),
        index: Some("by_g".into()),
        exclusive_start_key: Some(esk.clone()),
        ..ScanInput::default()
    };
    let m = message(engine.scan(&scan(&esk)));
    assert_eq!(
        m,
        format!("The provided starting key is invalid: {HASH_TOO_LONG}")
    );
    esk.insert("g".into(), s("g"));
    esk.insert("h".into(), long(1_025));
    let m = message(engine.scan(&scan(&esk)));
    assert_eq!(
        m,
        format!("The provided starting key is invalid: {RANGE_TOO_LONG}")
    );
}

#[test]
fn keys_over_the_limits_are_refused_on_writes_and_point_reads() {
    let (engine, _dir) = engine();
    for (pk, sk, want) in [
        (long(70_000), s("s"), HASH_TOO_LONG),
        (s("p"), long(70_000), RANGE_TOO_LONG),
    ] {
        let key = item(&[("pk", pk), ("sk", sk)]);
        assert_eq!(message(put(&engine, key.clone())), want);
        let get = GetItemInput {
            table: "tbl".into(),
            key: key.clone(),
            ..GetItemInput::default()
        };
        assert_eq!(message(engine.get_item(&get)), want);
        assert_eq!(message(engine.transact_get_items(&[get])), want);
    }
}

#[test]
fn attribute_names_are_one_to_65535_bytes_everywhere() {
    let (engine, _dir) = engine();
    let too_large =
        "1 validation error detected: Attribute name is too large, must be less than 65536 bytes";
    let base = || item(&[("pk", s("p")), ("sk", s("s"))]);
    let mut ok = base();
    ok.insert("n".repeat(65_535), s("v"));
    put(&engine, ok).unwrap();
    let mut top = base();
    top.insert("n".repeat(65_536), s("v"));
    assert_eq!(message(put(&engine, top)), too_large);
    let mut nested = base();
    let map = AttributeValue::M(BTreeMap::from([("n".repeat(65_536), s("v"))]));
    nested.insert("doc".into(), map.clone());
    assert_eq!(message(put(&engine, nested)), too_large);
    let mut empty = base();
    empty.insert(String::new(), s("v"));
    assert_eq!(
        message(put(&engine, empty)),
        "1 validation error detected: Empty attribute name"
    );

    let update = |names: Option<HashMap<String, String>>, vals: &[(&str, AttributeValue)]| {
        let (tx, rx) = std::sync::mpsc::channel();
        let input = UpdateItemInput {
            table: "tbl".into(),
            key: base(),
            update: Some("SET #n = :v".into()),
            attributes: ExpressionAttributes {
                names,
                values: values(vals).values,
            },
            ..UpdateItemInput::default()
        };
        engine.update_item(
            input,
            Box::new(move |r| {
                let _ = tx.send(r.map(|_| ()));
            }),
        );
        rx.recv().unwrap()
    };
    let named = |n: &str| Some(HashMap::from([("#n".to_string(), n.to_string())]));
    assert_eq!(
        message(update(named(&"n".repeat(65_536)), &[(":v", s("v"))])),
        too_large
    );
    assert_eq!(
        message(update(named(""), &[(":v", s("v"))])),
        "ExpressionAttributeNames contains invalid value: Empty attribute name for key #n"
    );
    assert_eq!(message(update(named("a"), &[(":v", map)])), too_large);
    let long_key = Some(HashMap::from([(
        format!("#{}", "n".repeat(255)),
        "a".to_string(),
    )]));
    assert_eq!(
        message(update(long_key, &[(":v", s("v"))])),
        "ExpressionAttributeNames contains invalid key: The expression attribute map contains a key that is too long; size of key: 256"
    );
    update(named("a"), &[(":v", s("v"))]).unwrap();
}

#[test]
fn an_update_cannot_nest_an_item_deeper_than_32_levels() {
    let (engine, _dir) = engine();
    // A 31-level document under `doc`: the item's deepest value is at level 32.
    let mut deep = s("leaf");
    for _ in 0..31 {
        deep = AttributeValue::M(BTreeMap::from([("a".to_string(), deep)]));
    }
    put(
        &engine,
        item(&[("pk", s("p")), ("sk", s("s")), ("doc", deep.clone())]),
    )
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let path = format!("doc{}", ".a".repeat(30));
    let input = UpdateItemInput {
        table: "tbl".into(),
        key: item(&[("pk", s("p")), ("sk", s("s"))]),
        update: Some(format!("SET {path} = :v")),
        attributes: values(&[(":v", deep)]),
        ..UpdateItemInput::default()
    };
    engine.update_item(
        input,
        Box::new(move |r| {
            let _ = tx.send(r.map(|_| ()));
        }),
    );
    let m = message(rx.recv().unwrap());
    assert!(
        m.starts_with("Nesting Levels have exceeded supported limits"),
        "{m}"
    );
}

#[test]
fn system_keys_outside_the_storage_bounds_are_errors() {
    let (engine, _dir) = engine();
    let too_long = vec![b'k'; STORAGE_KEY_BYTES_MAX + 1];
    let longest = vec![b'k'; STORAGE_KEY_BYTES_MAX];
    for key in [&[][..], &too_long[..]] {
        assert!(matches!(
            engine.system_put(key, b"v"),
            Err(Error::Validation(_))
        ));
        assert!(engine.system_put_relaxed(key, b"v").is_err());
        assert!(engine.system_get(key).is_err());
        assert!(engine.system_delete(key).is_err());
    }
    assert!(engine.system_scan(&too_long).is_err());
    engine.system_put(&longest, b"v").unwrap();
    assert_eq!(
        engine.system_get(&longest).unwrap().as_deref(),
        Some(&b"v"[..])
    );
    assert_eq!(engine.system_scan(&longest).unwrap().len(), 1);
    assert_eq!(engine.system_scan(b"").unwrap().len(), 1);
    engine.system_delete(&longest).unwrap();
}
