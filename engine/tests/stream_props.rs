//! Property: for a random sequence of writes (Put, Update, Delete, BatchWrite,
//! TransactWriteItems, cancelled ones included), the
//! stream and the table agree. Replaying every shard's records in order over an empty
//! map reproduces the table exactly, each key's records live in one shard, and
//! sequence numbers strictly increase within each shard. Failures print the proptest
//! seed, so a run can be replayed.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;

use eddy_engine::{
    AttributeValue, BatchWriteRequest, CreateTableInput, DeleteItemInput, Engine, EngineConfig,
    EventName, ExpressionAttributes, Item, KeyAttribute, KeyRole, KeyType, Number, PutItemInput,
    ScanInput, StreamSpecification, StreamViewType, TransactWriteAction, TransactWriteInput,
    UpdateItemInput,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Put(u8, u8),
    Update(u8, u8),
    AddCounter(u8),
    RemoveValue(u8),
    Delete(u8),
    Batch(Vec<(u8, Option<u8>)>),
    /// A TransactWriteItems over distinct keys; its conditions may cancel it.
    Transact(Vec<(u8, TxAction)>),
}

#[derive(Debug, Clone)]
enum TxAction {
    /// Put, if the item does not exist.
    PutIfAbsent(u8),
    /// SET v, if the item exists.
    SetIfPresent(u8),
    AddCounter,
    Delete,
    /// ConditionCheck that the item exists.
    CheckPresent,
}

fn tx_action() -> impl Strategy<Value = TxAction> {
    prop_oneof![
        (0u8..4).prop_map(TxAction::PutIfAbsent),
        (0u8..4).prop_map(TxAction::SetIfPresent),
        Just(TxAction::AddCounter),
        Just(TxAction::Delete),
        Just(TxAction::CheckPresent),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u8..12;
    prop_oneof![
        (key.clone(), 0u8..4).prop_map(|(k, v)| Op::Put(k, v)),
        (key.clone(), 0u8..4).prop_map(|(k, v)| Op::Update(k, v)),
        key.clone().prop_map(Op::AddCounter),
        key.clone().prop_map(Op::RemoveValue),
        key.clone().prop_map(Op::Delete),
        proptest::collection::btree_map(key.clone(), proptest::option::of(0u8..4), 1..6)
            .prop_map(|m| Op::Batch(m.into_iter().collect())),
        proptest::collection::btree_map(key, tx_action(), 1..5)
            .prop_map(|m| Op::Transact(m.into_iter().collect())),
    ]
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn key(k: u8) -> Item {
    Item::from([("pk".to_string(), s(&format!("k{k}")))])
}

fn item(k: u8, v: u8) -> Item {
    let mut i = key(k);
    i.insert(
        "v".into(),
        AttributeValue::N(Number::from_i64(i64::from(v))),
    );
    i
}

/// Runs a write and waits for its completion.
fn wait<T: Send + 'static>(start: impl FnOnce(eddy_engine::Done<T>)) -> eddy_engine::Result<T> {
    let (tx, rx) = mpsc::channel();
    start(Box::new(move |r| {
        let _ = tx.send(r);
    }));
    rx.recv().expect("writer answered")
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

fn apply(engine: &Engine, op: &Op) {
    let t = "props".to_string();
    let r = match op {
        Op::Put(k, v) => wait(|d| {
            engine.put_item(
                PutItemInput {
                    table: t,
                    item: item(*k, *v),
                    ..Default::default()
                },
                d,
            )
        })
        .map(|_| ()),
        Op::Update(k, v) => wait(|d| {
            engine.update_item(
                UpdateItemInput {
                    table: t,
                    key: key(*k),
                    update: Some("SET v = :v".into()),
                    attributes: values(&[(
                        ":v",
                        AttributeValue::N(Number::from_i64(i64::from(*v))),
                    )]),
                    ..Default::default()
                },
                d,
            )
        })
        .map(|_| ()),
        Op::AddCounter(k) => wait(|d| {
            engine.update_item(
                UpdateItemInput {
                    table: t,
                    key: key(*k),
                    update: Some("ADD c :one".into()),
                    attributes: values(&[(":one", AttributeValue::N(Number::from_i64(1)))]),
                    ..Default::default()
                },
                d,
            )
        })
        .map(|_| ()),
        Op::RemoveValue(k) => wait(|d| {
            engine.update_item(
                UpdateItemInput {
                    table: t,
                    key: key(*k),
                    update: Some("REMOVE v".into()),
                    condition: Some("attribute_exists(pk)".into()),
                    ..Default::default()
                },
                d,
            )
        })
        .map(|_| ()),
        Op::Delete(k) => wait(|d| {
            engine.delete_item(
                DeleteItemInput {
                    table: t,
                    key: key(*k),
                    ..Default::default()
                },
                d,
            )
        })
        .map(|_| ()),
        Op::Batch(reqs) => {
            let reqs = reqs
                .iter()
                .map(|(k, v)| match v {
                    Some(v) => BatchWriteRequest::Put(item(*k, *v)),
                    None => BatchWriteRequest::Delete(key(*k)),
                })
                .collect();
            wait(|d| engine.batch_write_item(vec![(t, reqs)], d)).map(|_| ())
        }
        Op::Transact(actions) => {
            let actions = actions.iter().map(|(k, a)| tx(&t, *k, a)).collect();
            wait(|d| {
                engine.transact_write_items(
                    TransactWriteInput {
                        actions,
                        client_request_token: None,
                    },
                    d,
                )
            })
            .map(|_| ())
        }
    };
    match r {
        Ok(())
        | Err(eddy_engine::Error::ConditionalCheckFailed { .. })
        | Err(eddy_engine::Error::TransactionCanceled { .. }) => {}
        Err(e) => panic!("{op:?} failed: {e}"),
    }
}

fn tx(t: &str, k: u8, a: &TxAction) -> TransactWriteAction {
    let n = |v: u8| AttributeValue::N(Number::from_i64(i64::from(v)));
    match a {
        TxAction::PutIfAbsent(v) => TransactWriteAction::Put(PutItemInput {
            table: t.into(),
            item: item(k, *v),
            condition: Some("attribute_not_exists(pk)".into()),
            ..Default::default()
        }),
        TxAction::SetIfPresent(v) => TransactWriteAction::Update(UpdateItemInput {
            table: t.into(),
            key: key(k),
            update: Some("SET v = :v".into()),
            condition: Some("attribute_exists(pk)".into()),
            attributes: values(&[(":v", n(*v))]),
            ..Default::default()
        }),
        TxAction::AddCounter => TransactWriteAction::Update(UpdateItemInput {
            table: t.into(),
            key: key(k),
            update: Some("ADD c :one".into()),
            attributes: values(&[(":one", n(1))]),
            ..Default::default()
        }),
        TxAction::Delete => TransactWriteAction::Delete(DeleteItemInput {
            table: t.into(),
            key: key(k),
            ..Default::default()
        }),
        TxAction::CheckPresent => {
            TransactWriteAction::ConditionCheck(eddy_engine::ConditionCheckInput {
                table: t.into(),
                key: key(k),
                condition: "attribute_exists(pk)".into(),
                ..Default::default()
            })
        }
    }
}

fn table_contents(engine: &Engine) -> BTreeMap<String, Item> {
    let page = engine
        .scan(&ScanInput {
            table: "props".into(),
            ..Default::default()
        })
        .expect("scan");
    assert!(page.last_evaluated_key.is_none());
    page.decoded_items()
        .expect("decode")
        .into_iter()
        .map(|i| match i.get("pk") {
            Some(AttributeValue::S(k)) => (k.clone(), i),
            other => panic!("bad key {other:?}"),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn replaying_the_stream_reproduces_the_table(ops in proptest::collection::vec(op(), 1..80)) {
        let dir = tempfile::tempdir().unwrap();
        let mut config = EngineConfig::new(dir.path());
        config.in_memory = true;
        let engine = Engine::open(config).unwrap();
        engine
            .create_table(CreateTableInput {
                name: "props".into(),
                attribute_definitions: vec![KeyAttribute { name: "pk".into(), key_type: KeyType::S }],
                key_schema: vec![("pk".into(), KeyRole::Hash)],
                billing_mode: Some(eddy_engine::BillingMode::PayPerRequest),
                stream: Some(StreamSpecification {
                    enabled: true,
                    view_type: Some(StreamViewType::NewAndOldImages),
                }),
                ..Default::default()
            })
            .unwrap();
        for op in &ops {
            apply(&engine, op);
        }
        let stream = engine.list_streams(Some("props")).pop().expect("stream");
        let mut replayed: BTreeMap<String, Item> = BTreeMap::new();
        let mut shard_of_key: HashMap<String, u16> = HashMap::new();
        for shard in engine.stream_shards(&stream).unwrap() {
            let read = engine
                .read_shard(&stream, shard.shard, engine.trim_horizon(&stream, shard.shard), 100_000, usize::MAX)
                .unwrap();
            let mut last = 0;
            for r in read.records {
                prop_assert!(r.seq > last, "sequence numbers increase within a shard");
                last = r.seq;
                let k = match r.keys.get("pk") {
                    Some(AttributeValue::S(k)) => k.clone(),
                    other => panic!("bad key {other:?}"),
                };
                let prev = shard_of_key.insert(k.clone(), shard.shard);
                prop_assert!(prev.is_none_or(|p| p == shard.shard), "a key's records live in one shard");
                match r.event_name {
                    EventName::Insert => {
                        prop_assert!(!replayed.contains_key(&k), "INSERT of an existing item");
                        prop_assert!(r.old_image.is_none());
                        replayed.insert(k, r.new_image.expect("new image"));
                    }
                    EventName::Modify => {
                        let old = replayed.insert(k, r.new_image.clone().expect("new image"));
                        prop_assert_eq!(old.as_ref(), r.old_image.as_ref(), "old image is the previous state");
                        prop_assert!(r.new_image != r.old_image, "MODIFY changes something");
                    }
                    EventName::Remove => {
                        let old = replayed.remove(&k);
                        prop_assert_eq!(old.as_ref(), r.old_image.as_ref());
                    }
                }
            }
        }
        prop_assert_eq!(replayed, table_contents(&engine));
    }
}

/// Every write path marks its change records with the hops of the handle it went
/// through: a client's writes 0, a handle from `caused_by(n)` n, and the mark does not
/// leak from one handle to another or onto the thread.
#[test]
fn writes_carry_the_hops_of_their_handle() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(dir.path());
    config.in_memory = true;
    let engine = Engine::open(config).unwrap();
    engine
        .create_table(CreateTableInput {
            name: "hops".into(),
            attribute_definitions: vec![KeyAttribute {
                name: "pk".into(),
                key_type: KeyType::S,
            }],
            key_schema: vec![("pk".into(), KeyRole::Hash)],
            billing_mode: Some(eddy_engine::BillingMode::PayPerRequest),
            stream: Some(StreamSpecification {
                enabled: true,
                view_type: Some(StreamViewType::KeysOnly),
            }),
            ..Default::default()
        })
        .unwrap();
    let put = |engine: &Engine, k: &str| {
        wait(|done| {
            engine.put_item(
                PutItemInput {
                    table: "hops".into(),
                    item: [("pk".to_string(), s(k))].into(),
                    ..Default::default()
                },
                done,
            )
        })
        .unwrap();
    };
    let caused = engine.caused_by(3);
    assert_eq!(caused.origin_hops(), 3);
    put(&engine, "client");
    put(&caused, "put");
    wait(|done| {
        caused.update_item(
            UpdateItemInput {
                table: "hops".into(),
                key: [("pk".to_string(), s("update"))].into(),
                update: Some("SET v = :v".into()),
                attributes: values(&[(":v", s("x"))]),
                ..Default::default()
            },
            done,
        )
    })
    .unwrap();
    wait(|done| {
        caused.batch_write_item(
            vec![(
                "hops".into(),
                vec![BatchWriteRequest::Put(
                    [("pk".to_string(), s("batch"))].into(),
                )],
            )],
            done,
        )
    })
    .unwrap();
    wait(|done| {
        caused.transact_write_items(
            TransactWriteInput {
                actions: vec![TransactWriteAction::Put(PutItemInput {
                    table: "hops".into(),
                    item: [("pk".to_string(), s("transact"))].into(),
                    ..Default::default()
                })],
                client_request_token: None,
            },
            done,
        )
    })
    .unwrap();
    wait(|done| {
        caused.delete_item(
            DeleteItemInput {
                table: "hops".into(),
                key: [("pk".to_string(), s("put"))].into(),
                ..Default::default()
            },
            done,
        )
    })
    .unwrap();
    // The client handle is unchanged by the other's use.
    put(&engine, "client-after");
    let stream = engine.list_streams(Some("hops")).pop().expect("stream");
    let mut hops: Vec<(String, u8)> = Vec::new();
    for shard in engine.stream_shards(&stream).unwrap() {
        let read = engine
            .read_shard(
                &stream,
                shard.shard,
                engine.trim_horizon(&stream, shard.shard),
                1000,
                usize::MAX,
            )
            .unwrap();
        for r in read.records {
            let Some(AttributeValue::S(k)) = r.keys.get("pk") else {
                panic!("bad key");
            };
            hops.push((format!("{k}/{:?}", r.event_name), r.hops));
        }
    }
    hops.sort();
    assert_eq!(
        hops,
        vec![
            ("batch/Insert".to_string(), 3),
            ("client-after/Insert".to_string(), 0),
            ("client/Insert".to_string(), 0),
            ("put/Insert".to_string(), 3),
            ("put/Remove".to_string(), 3),
            ("transact/Insert".to_string(), 3),
            ("update/Insert".to_string(), 3),
        ]
    );
}
