//! TransactWriteItems and TransactGetItems through the engine's typed API: all or
//! nothing, one cancellation reason per action, request validation before anything
//! is queued, client request tokens, and reads from one snapshot.

use std::sync::mpsc;

use eddy_engine::{
    AttributeValue, CancellationReason, ConditionCheckInput, CreateTableInput, DeleteItemInput,
    Engine, EngineConfig, Error, ExpressionAttributes, GetItemInput, Item, KeyAttribute, KeyRole,
    KeyType, Number, PutItemInput, StreamSpecification, StreamViewType, TransactWriteAction,
    TransactWriteInput, UpdateItemInput,
};

fn open() -> (Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(dir.path());
    config.in_memory = true;
    let engine = Engine::open(config).unwrap();
    for name in ["aaa", "bbb"] {
        engine
            .create_table(CreateTableInput {
                name: name.into(),
                attribute_definitions: vec![KeyAttribute {
                    name: "pk".into(),
                    key_type: KeyType::S,
                }],
                key_schema: vec![("pk".into(), KeyRole::Hash)],
                billing_mode: Some(eddy_engine::BillingMode::PayPerRequest),
                stream: Some(StreamSpecification {
                    enabled: true,
                    view_type: Some(StreamViewType::NewAndOldImages),
                }),
                ..Default::default()
            })
            .unwrap();
    }
    (engine, dir)
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(Number::from_i64(v))
}

fn key(pk: &str) -> Item {
    Item::from([("pk".to_string(), s(pk))])
}

fn with(pk: &str, attr: &str, v: AttributeValue) -> Item {
    let mut i = key(pk);
    i.insert(attr.into(), v);
    i
}

fn put(table: &str, item: Item, condition: Option<&str>) -> TransactWriteAction {
    TransactWriteAction::Put(PutItemInput {
        table: table.into(),
        item,
        condition: condition.map(Into::into),
        ..Default::default()
    })
}

fn check(table: &str, pk: &str, condition: &str, return_old: bool) -> TransactWriteAction {
    TransactWriteAction::ConditionCheck(ConditionCheckInput {
        table: table.into(),
        key: key(pk),
        condition: condition.into(),
        return_old_on_condition_failure: return_old,
        ..Default::default()
    })
}

fn add(table: &str, pk: &str, by: i64) -> TransactWriteAction {
    TransactWriteAction::Update(UpdateItemInput {
        table: table.into(),
        key: key(pk),
        update: Some("ADD amount :by".into()),
        attributes: ExpressionAttributes {
            names: None,
            values: Some([(":by".to_string(), n(by))].into()),
        },
        ..Default::default()
    })
}

fn transact(
    engine: &Engine,
    actions: Vec<TransactWriteAction>,
    token: Option<&str>,
) -> eddy_engine::Result<()> {
    let (tx, rx) = mpsc::channel();
    engine.transact_write_items(
        TransactWriteInput {
            actions,
            client_request_token: token.map(Into::into),
        },
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    rx.recv().expect("writer answered").map(|_| ())
}

fn get(engine: &Engine, table: &str, pk: &str) -> Option<Item> {
    engine
        .get_item(&GetItemInput {
            table: table.into(),
            key: key(pk),
            ..Default::default()
        })
        .unwrap()
}

fn stream_len(engine: &Engine, table: &str) -> usize {
    let stream = engine.list_streams(Some(table)).pop().expect("stream");
    engine
        .stream_shards(&stream)
        .unwrap()
        .iter()
        .map(|shard| {
            engine
                .read_shard(
                    &stream,
                    shard.shard,
                    engine.trim_horizon(&stream, shard.shard),
                    100_000,
                    usize::MAX,
                )
                .unwrap()
                .records
                .len()
        })
        .sum()
}

#[test]
fn all_actions_apply_together_with_one_record_per_change() {
    let (engine, _dir) = open();
    transact(&engine, vec![put("aaa", with("x", "v", n(1)), None)], None).unwrap();
    transact(
        &engine,
        vec![
            add("aaa", "agg", 5),
            put(
                "bbb",
                with("ledger-1", "v", n(5)),
                Some("attribute_not_exists(pk)"),
            ),
            check("aaa", "x", "attribute_exists(v)", false),
            TransactWriteAction::Delete(DeleteItemInput {
                table: "bbb".into(),
                key: key("absent"),
                ..Default::default()
            }),
        ],
        None,
    )
    .unwrap();
    assert_eq!(
        get(&engine, "aaa", "agg"),
        Some(with("agg", "amount", n(5)))
    );
    assert_eq!(
        get(&engine, "bbb", "ledger-1"),
        Some(with("ledger-1", "v", n(5)))
    );
    // The ConditionCheck and the Delete of a missing item change nothing, so they
    // leave no record: a's stream has x's INSERT and agg's INSERT, b's has one.
    assert_eq!(stream_len(&engine, "aaa"), 2);
    assert_eq!(stream_len(&engine, "bbb"), 1);
}

#[test]
fn a_failed_condition_cancels_everything_and_names_each_action() {
    let (engine, _dir) = open();
    transact(&engine, vec![put("aaa", with("x", "v", n(1)), None)], None).unwrap();
    let before = stream_len(&engine, "aaa");
    let err = transact(
        &engine,
        vec![
            add("aaa", "agg", 1),
            check("aaa", "x", "attribute_not_exists(pk)", true),
            put("bbb", key("new"), None),
            put("aaa", key("x2"), Some("attribute_exists(pk)")),
        ],
        None,
    )
    .unwrap_err();
    let Error::TransactionCanceled { reasons } = &err else {
        panic!("expected a cancellation, got {err:?}");
    };
    assert_eq!(
        reasons,
        &vec![
            CancellationReason::None,
            CancellationReason::ConditionalCheckFailed {
                item: Some(with("x", "v", n(1)))
            },
            CancellationReason::None,
            CancellationReason::ConditionalCheckFailed { item: None },
        ]
    );
    assert_eq!(
        err.to_string(),
        "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed, None, ConditionalCheckFailed]"
    );
    assert_eq!(get(&engine, "aaa", "agg"), None);
    assert_eq!(get(&engine, "bbb", "new"), None);
    assert_eq!(stream_len(&engine, "aaa"), before);
    assert_eq!(stream_len(&engine, "bbb"), 0);
}

#[test]
fn an_update_that_cannot_apply_is_a_validation_reason() {
    let (engine, _dir) = open();
    transact(
        &engine,
        vec![put("aaa", with("agg", "amount", s("text")), None)],
        None,
    )
    .unwrap();
    let err = transact(
        &engine,
        vec![put("bbb", key("l"), None), add("aaa", "agg", 1)],
        None,
    )
    .unwrap_err();
    match err {
        Error::TransactionCanceled { reasons } => {
            assert_eq!(reasons[0], CancellationReason::None);
            assert!(
                matches!(&reasons[1], CancellationReason::ValidationError(m) if !m.is_empty()),
                "{reasons:?}"
            );
        }
        other => panic!("expected a cancellation, got {other:?}"),
    }
    assert_eq!(get(&engine, "bbb", "l"), None);
}

#[test]
fn requests_are_validated_before_anything_is_queued() {
    let (engine, _dir) = open();
    let err = transact(
        &engine,
        vec![put("aaa", key("k"), None), add("aaa", "k", 1)],
        None,
    );
    assert!(
        matches!(&err, Err(Error::Validation(m)) if m == "Transaction request cannot include multiple operations on one item"),
        "{err:?}"
    );
    // The same key in two tables is two items.
    transact(
        &engine,
        vec![put("aaa", key("k"), None), put("bbb", key("k"), None)],
        None,
    )
    .unwrap();
    let too_many = (0..101)
        .map(|i| put("aaa", key(&format!("m{i}")), None))
        .collect();
    assert!(matches!(
        transact(&engine, too_many, None),
        Err(Error::Validation(_))
    ));
    assert!(matches!(
        transact(&engine, vec![], None),
        Err(Error::Validation(_))
    ));
    assert!(matches!(
        transact(
            &engine,
            vec![put("aaa", key("q"), None), put("missing", key("q"), None)],
            None
        ),
        Err(Error::ResourceNotFound(_))
    ));
    assert!(matches!(
        transact(
            &engine,
            vec![put("aaa", key("q"), None)],
            Some(&"t".repeat(37))
        ),
        Err(Error::Validation(_))
    ));
    assert_eq!(get(&engine, "aaa", "q"), None);
    assert_eq!(get(&engine, "aaa", "m0"), None);
}

#[test]
fn a_client_request_token_makes_a_retry_a_no_op() {
    let (engine, _dir) = open();
    transact(&engine, vec![add("aaa", "agg", 1)], Some("token-1")).unwrap();
    transact(&engine, vec![add("aaa", "agg", 1)], Some("token-1")).unwrap();
    assert_eq!(
        get(&engine, "aaa", "agg"),
        Some(with("agg", "amount", n(1)))
    );
    assert!(matches!(
        transact(&engine, vec![add("aaa", "agg", 2)], Some("token-1")),
        Err(Error::IdempotentParameterMismatch(_))
    ));
    transact(&engine, vec![add("aaa", "agg", 1)], Some("token-2")).unwrap();
    assert_eq!(
        get(&engine, "aaa", "agg"),
        Some(with("agg", "amount", n(2)))
    );
}

#[test]
fn transact_get_reads_in_order_with_projection() {
    let (engine, _dir) = open();
    transact(
        &engine,
        vec![
            put("aaa", with("x", "v", n(1)), None),
            put("bbb", with("y", "w", s("hi")), None),
        ],
        None,
    )
    .unwrap();
    let g = |table: &str, pk: &str, projection: Option<&str>| GetItemInput {
        table: table.into(),
        key: key(pk),
        projection: projection.map(Into::into),
        ..Default::default()
    };
    let got = engine
        .transact_get_items(&[
            g("bbb", "y", Some("w")),
            g("aaa", "nope", None),
            g("aaa", "x", None),
        ])
        .unwrap()
        .0;
    assert_eq!(
        got,
        vec![
            Some(Item::from([("w".to_string(), s("hi"))])),
            None,
            Some(with("x", "v", n(1))),
        ]
    );
    assert!(matches!(
        engine.transact_get_items(&[g("aaa", "x", None), g("aaa", "x", Some("v"))]),
        Err(Error::Validation(_))
    ));
    assert!(matches!(
        engine.transact_get_items(&[g("missing", "x", None)]),
        Err(Error::ResourceNotFound(_))
    ));
}
