//! Fuzz target: the engine's write path (`eddy_engine::Engine` on a temporary
//! directory). Each case creates a table with a random key schema (S, N or B hash key,
//! maybe a sort key), a GSI with a random key schema and projection, an LSI when there
//! is a sort key, and a NEW_AND_OLD_IMAGES stream on three shards, then runs a random
//! sequence of PutItem, UpdateItem, DeleteItem, BatchWriteItem and TransactWriteItems
//! with extreme values: keys at and past 2,048 / 1,024 bytes and past the storage
//! layer's 65,535, empty keys, index keys of the wrong type or empty or oversized,
//! items at 400 KB ±1, attribute names of 0 to 65,536 bytes, nesting 31 to 33, numbers
//! at the edge of 38 digits and of the exponent range, empty and duplicate sets, update
//! expressions that overflow, grow, touch keys, or come from the grammar fuzzer.
//!
//! Asserted: no panic on any thread; every error is a DynamoDB outcome (Validation,
//! ConditionalCheckFailed, TransactionCanceled, an idempotency error), never Storage,
//! Internal, Unavailable or ShuttingDown; a write that failed changed neither the table
//! nor the stream; and at the end the GSI and the LSI equal a recomputation from the
//! table, DescribeTable's counts agree, and replaying every stream shard over an empty
//! map gives the table.
//!
//! `EDDY_FUZZ_CASES=N` sets the number of cases, `EDDY_FUZZ_SEED=N` replays a run
//! (see `fuzz_support`).

mod fuzz_support;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use eddy_engine::{
    AttributeValue, BatchWriteRequest, ConditionCheckInput, CreateTableInput, DeleteItemInput,
    Durability, Engine, EngineConfig, Error, EventName, ExpressionAttributes, IndexInput,
    IndexKind, Item, KeyAttribute, KeyRole, KeyType, Number, PutItemInput, ScanInput,
    StreamSpecification, StreamViewType, TransactWriteAction, TransactWriteInput, UpdateItemInput,
};
use fuzz_support::ExprKind;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Cases of the default run (about a minute in a debug build on the CI machine).
const CASES_DEFAULT: u32 = 1_200;
/// Writes per case at most.
const OPS_MAX: usize = 16;
const TABLE_SHARDS: u16 = 3;

/// Writes that applied, and that were refused (by kind), over the run: a generator
/// whose every write is refused would prove little about the write path.
static APPLIED: AtomicU64 = AtomicU64::new(0);
static REFUSED: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());

// ---------------------------------------------------------------------------------
// the schema of a case

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    S,
    N,
    B,
}

impl Ty {
    fn key_type(self) -> KeyType {
        match self {
            Ty::S => KeyType::S,
            Ty::N => KeyType::N,
            Ty::B => KeyType::B,
        }
    }

    fn matches(self, v: &AttributeValue) -> bool {
        matches!(
            (self, v),
            (Ty::S, AttributeValue::S(_))
                | (Ty::N, AttributeValue::N(_))
                | (Ty::B, AttributeValue::B(_))
        )
    }
}

fn ty() -> impl Strategy<Value = Ty> {
    prop::sample::select(&[Ty::S, Ty::N, Ty::B][..])
}

#[derive(Debug, Clone, PartialEq)]
enum Proj {
    All,
    KeysOnly,
    Include,
}

#[derive(Debug, Clone)]
struct Schema {
    hash: Ty,
    range: Option<Ty>,
    /// The GSI's hash key `g` and optional range key `h`.
    gsi_hash: Ty,
    gsi_range: Option<Ty>,
    gsi_projection: Proj,
    /// The LSI's sort key `l` (only with a table sort key).
    lsi: Option<Ty>,
}

fn schema() -> impl Strategy<Value = Schema> {
    (
        ty(),
        prop::option::of(ty()),
        ty(),
        prop::option::of(ty()),
        prop::sample::select(&[Proj::All, Proj::KeysOnly, Proj::Include][..]),
        ty(),
    )
        .prop_map(
            |(hash, range, gsi_hash, gsi_range, gsi_projection, lsi)| Schema {
                hash,
                range,
                gsi_hash,
                gsi_range,
                gsi_projection,
                lsi: range.map(|_| lsi),
            },
        )
}

// ---------------------------------------------------------------------------------
// values

/// A key-ish value of `ty`: one of a few small values (so writes collide), or an
/// extreme one (the limits, empty, past what storage takes).
fn key_value(ty: Ty) -> impl Strategy<Value = AttributeValue> {
    let small = (0u8..4).prop_map(move |i| match ty {
        Ty::S => AttributeValue::S(format!("k{i}")),
        Ty::N => AttributeValue::N(Number::from_i64(i64::from(i))),
        Ty::B => AttributeValue::B(vec![i]),
    });
    let extreme = prop::sample::select(fuzz_support::LENGTHS).prop_map(move |len| match ty {
        Ty::S => AttributeValue::S(fuzz_support::fill(len, 'k')),
        Ty::B => AttributeValue::B(vec![0xAB; len]),
        Ty::N => AttributeValue::N(
            Number::parse(&"9".repeat(len.clamp(1, 38))).expect("38 nines are a number"),
        ),
    });
    let number_edge = number().prop_map(AttributeValue::N);
    prop_oneof![
        40 => small,
        3 => extreme,
        1 => if ty == Ty::N { number_edge.boxed() } else { Just(AttributeValue::S(String::new())).boxed() },
        // The wrong type for the key.
        1 => Just(AttributeValue::Bool(true)),
    ]
}

/// A number at the edges of DynamoDB's range (a text that does not parse becomes 1:
/// filtering would make a long run give up on rejections).
fn number() -> impl Strategy<Value = Number> {
    fuzz_support::number_text()
        .prop_map(|t| Number::parse(&t).unwrap_or_else(|_| Number::from_i64(1)))
}

fn nested(depth: usize, list: bool) -> AttributeValue {
    let mut v = AttributeValue::S("leaf".into());
    for _ in 0..depth {
        v = if list {
            AttributeValue::L(vec![v])
        } else {
            AttributeValue::M(BTreeMap::from([("x".to_owned(), v)]))
        };
    }
    v
}

/// A non-key value: anything, at the limits sometimes.
fn value() -> impl Strategy<Value = AttributeValue> {
    let scalar = prop_oneof![
        10 => fuzz_support::string().prop_map(AttributeValue::S),
        8 => number().prop_map(AttributeValue::N),
        1 => prop::sample::select(fuzz_support::LENGTHS).prop_map(|l| AttributeValue::B(vec![7; l])),
        1 => any::<bool>().prop_map(AttributeValue::Bool),
        1 => Just(AttributeValue::Null),
        // Sets: empty, with duplicates, ordinary.
        1 => prop::collection::vec("[a-c]{0,2}", 0..4).prop_map(AttributeValue::Ss),
        1 => prop::collection::vec(number(), 0..4).prop_map(AttributeValue::Ns),
        1 => prop::collection::vec(prop::collection::vec(0u8..3, 0..2), 0..4).prop_map(AttributeValue::Bs),
        // Nesting at DynamoDB's limit of 32 and around it.
        1 => (prop::sample::select(&[30usize, 31, 32, 33, 100][..]), any::<bool>()).prop_map(|(d, l)| nested(d, l)),
    ];
    scalar.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(AttributeValue::L),
            prop::collection::btree_map(fuzz_support::attribute_name(), inner, 0..3)
                .prop_map(AttributeValue::M),
        ]
    })
}

/// An item of the schema: its keys (the key-ish values above), maybe its index keys,
/// and other attributes; sometimes grown to exactly 400 KB ±1.
fn item(s: &Schema) -> impl Strategy<Value = Item> + use<> {
    let s = s.clone();
    (
        key_value(s.hash),
        s.range
            .map_or(Just(None).boxed(), |t| key_value(t).prop_map(Some).boxed()),
        prop::option::weighted(0.8, key_value(s.gsi_hash)),
        s.gsi_range.map_or(Just(None).boxed(), |t| {
            prop::option::weighted(0.8, key_value(t)).boxed()
        }),
        s.lsi.map_or(Just(None).boxed(), |t| {
            prop::option::weighted(0.6, key_value(t)).boxed()
        }),
        prop::collection::btree_map(fuzz_support::attribute_name(), value(), 0..4),
        prop::option::weighted(0.1, -2i64..=1),
    )
        .prop_map(move |(pk, sk, g, h, l, rest, grow)| {
            let mut item = rest;
            item.insert("pk".into(), pk);
            if let Some(sk) = sk {
                item.insert("sk".into(), sk);
            }
            for (name, v) in [("g", g), ("h", h), ("l", l)] {
                match v {
                    Some(v) => {
                        item.insert(name.into(), v);
                    }
                    None => {
                        item.remove(name);
                    }
                }
            }
            if let Some(delta) = grow {
                grow_to(
                    &mut item,
                    (eddy_engine::limits::ITEM_BYTES_MAX as i64 + delta) as usize,
                );
            }
            item
        })
}

/// Pads `item` with an attribute `pad` so its DynamoDB size is `target` bytes (when it
/// is not already larger).
fn grow_to(item: &mut Item, target: usize) {
    item.remove("pad");
    let size = eddy_engine::item_size_bytes(item) + "pad".len();
    if size < target {
        item.insert("pad".into(), AttributeValue::S("p".repeat(target - size)));
    }
}

fn key_of(s: &Schema) -> impl Strategy<Value = Item> + use<> {
    (
        key_value(s.hash),
        s.range
            .map_or(Just(None).boxed(), |t| key_value(t).prop_map(Some).boxed()),
        prop::option::weighted(0.03, value()),
    )
        .prop_map(|(pk, sk, extra)| {
            let mut key = Item::from([("pk".to_owned(), pk)]);
            if let Some(sk) = sk {
                key.insert("sk".into(), sk);
            }
            // A key with an attribute that is not a key attribute.
            if let Some(v) = extra {
                key.insert("a".into(), v);
            }
            key
        })
}

// ---------------------------------------------------------------------------------
// operations

#[derive(Debug, Clone)]
struct Update {
    expression: String,
    values: Vec<(String, AttributeValue)>,
    names: Vec<(String, String)>,
}

fn update(s: &Schema) -> impl Strategy<Value = Update> + use<> {
    let s = s.clone();
    let plain = |e: &str, vals: Vec<(&str, AttributeValue)>| Update {
        expression: e.to_owned(),
        values: vals.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        names: Vec::new(),
    };
    let templates = prop_oneof![
        value().prop_map(move |v| plain("SET v = :v", vec![(":v", v)])),
        key_value(s.gsi_hash).prop_map(move |v| plain("SET g = :v", vec![(":v", v)])),
        key_value(s.hash).prop_map(move |v| plain("SET pk = :v", vec![(":v", v)])),
        Just(plain("REMOVE g, h", vec![])),
        number().prop_map(move |n| plain("ADD n :n", vec![(":n", AttributeValue::N(n))])),
        value().prop_map(move |v| plain(
            "SET l2 = list_append(if_not_exists(l2, :e), :v)",
            vec![
                (":e", AttributeValue::L(vec![])),
                (":v", AttributeValue::L(vec![v]))
            ]
        )),
        value().prop_map(move |v| plain("SET m.x.y = :v", vec![(":v", v)])),
        value().prop_map(move |v| plain("ADD s :v", vec![(":v", v)])),
        value().prop_map(move |v| plain("DELETE s :v", vec![(":v", v)])),
        (value(), fuzz_support::attribute_name()).prop_map(|(v, name)| Update {
            expression: "SET #n = :v".into(),
            values: vec![(":v".into(), v)],
            names: vec![("#n".into(), name)],
        }),
    ];
    let grammar = (
        fuzz_support::expression(ExprKind::Update),
        prop::collection::vec(value(), 6),
        prop::collection::vec(fuzz_support::substituted_name(), 6),
    )
        .prop_map(|(e, vals, names)| Update {
            values: e
                .values
                .iter()
                .cloned()
                .zip(vals.into_iter().cycle())
                .collect(),
            names: e
                .names
                .iter()
                .cloned()
                .zip(names.into_iter().cycle())
                .collect(),
            expression: e.text,
        });
    prop_oneof![4 => templates, 1 => grammar]
}

#[derive(Debug, Clone, Copy)]
enum Cond {
    None,
    Exists,
    NotExists,
}

fn cond() -> impl Strategy<Value = Cond> {
    prop_oneof![3 => Just(Cond::None), 1 => Just(Cond::Exists), 1 => Just(Cond::NotExists)]
}

impl Cond {
    fn text(self) -> Option<String> {
        match self {
            Cond::None => None,
            Cond::Exists => Some("attribute_exists(pk)".into()),
            Cond::NotExists => Some("attribute_not_exists(pk)".into()),
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Put(Item, Cond),
    Update(Item, Update, Cond),
    Delete(Item, Cond),
    Batch(Vec<Result<Item, Item>>),
    Transact(Vec<TxOp>, Option<u8>),
}

#[derive(Debug, Clone)]
enum TxOp {
    Put(Item, Cond),
    Update(Item, Update, Cond),
    Delete(Item, Cond),
    Check(Item, Cond),
}

fn op(s: &Schema) -> impl Strategy<Value = Op> + use<> {
    let tx = prop_oneof![
        (item(s), cond()).prop_map(|(i, c)| TxOp::Put(i, c)),
        (key_of(s), update(s), cond()).prop_map(|(k, u, c)| TxOp::Update(k, u, c)),
        (key_of(s), cond()).prop_map(|(k, c)| TxOp::Delete(k, c)),
        (key_of(s), cond()).prop_map(|(k, c)| TxOp::Check(k, c)),
    ];
    let batch_entry = prop_oneof![
        3 => item(s).prop_map(Ok),
        1 => key_of(s).prop_map(Err),
    ];
    prop_oneof![
        4 => (item(s), cond()).prop_map(|(i, c)| Op::Put(i, c)),
        4 => (key_of(s), update(s), cond()).prop_map(|(k, u, c)| Op::Update(k, u, c)),
        2 => (key_of(s), cond()).prop_map(|(k, c)| Op::Delete(k, c)),
        2 => prop::collection::vec(batch_entry, 0..27).prop_map(Op::Batch),
        2 => (prop::collection::vec(tx, 0..6), prop::option::of(0u8..3)).prop_map(|(a, t)| Op::Transact(a, t)),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    schema: Schema,
    ops: Vec<Op>,
}

fn case() -> impl Strategy<Value = Case> {
    schema().prop_flat_map(|schema| {
        prop::collection::vec(op(&schema), 1..OPS_MAX).prop_map(move |ops| Case {
            schema: schema.clone(),
            ops,
        })
    })
}

// ---------------------------------------------------------------------------------
// running a case

/// The engine the cases share, reopened after a case that failed (it may have left the
/// engine unable to write, and shrinking needs a working one).
struct Shared {
    engine: Engine,
    _dir: tempfile::TempDir,
    broken: bool,
    tables: u64,
}

static SHARED: Mutex<Option<Shared>> = Mutex::new(None);

fn open() -> Shared {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut config = EngineConfig::new(dir.path());
    // Buffered: the write path is the same, without an fsync per case's write.
    config.durability = Durability::Buffered;
    config.table_shards = TABLE_SHARDS;
    Shared {
        engine: Engine::open(config).expect("open the engine"),
        _dir: dir,
        broken: false,
        tables: 0,
    }
}

fn wait<T: Send + 'static>(start: impl FnOnce(eddy_engine::Done<T>)) -> eddy_engine::Result<T> {
    let (tx, rx) = mpsc::channel();
    start(Box::new(move |r| {
        let _ = tx.send(r);
    }));
    rx.recv().unwrap_or(Err(Error::ShuttingDown))
}

fn attrs(values: &[(String, AttributeValue)], names: &[(String, String)]) -> ExpressionAttributes {
    ExpressionAttributes {
        names: (!names.is_empty()).then(|| names.iter().cloned().collect()),
        values: (!values.is_empty()).then(|| values.iter().cloned().collect()),
    }
}

fn update_input(table: &str, key: &Item, u: &Update, c: Cond) -> UpdateItemInput {
    UpdateItemInput {
        table: table.into(),
        key: key.clone(),
        update: Some(u.expression.clone()),
        condition: c.text(),
        attributes: attrs(&u.values, &u.names),
        ..Default::default()
    }
}

fn apply(engine: &Engine, table: &str, op: &Op) -> eddy_engine::Result<()> {
    let t = table.to_owned();
    match op {
        Op::Put(item, c) => wait(|d| {
            engine.put_item(
                PutItemInput {
                    table: t,
                    item: item.clone(),
                    condition: c.text(),
                    ..Default::default()
                },
                d,
            )
        })
        .map(drop),
        Op::Update(key, u, c) => {
            wait(|d| engine.update_item(update_input(&t, key, u, *c), d)).map(drop)
        }
        Op::Delete(key, c) => wait(|d| {
            engine.delete_item(
                DeleteItemInput {
                    table: t,
                    key: key.clone(),
                    condition: c.text(),
                    ..Default::default()
                },
                d,
            )
        })
        .map(drop),
        Op::Batch(entries) => {
            let reqs = entries
                .iter()
                .map(|e| match e {
                    Ok(item) => BatchWriteRequest::Put(item.clone()),
                    Err(key) => BatchWriteRequest::Delete(key.clone()),
                })
                .collect();
            wait(|d| engine.batch_write_item(vec![(t, reqs)], d)).map(|_| ())
        }
        Op::Transact(actions, token) => {
            let actions = actions
                .iter()
                .map(|a| match a {
                    TxOp::Put(item, c) => TransactWriteAction::Put(PutItemInput {
                        table: table.into(),
                        item: item.clone(),
                        condition: c.text(),
                        ..Default::default()
                    }),
                    TxOp::Update(key, u, c) => {
                        TransactWriteAction::Update(update_input(table, key, u, *c))
                    }
                    TxOp::Delete(key, c) => TransactWriteAction::Delete(DeleteItemInput {
                        table: table.into(),
                        key: key.clone(),
                        condition: c.text(),
                        ..Default::default()
                    }),
                    TxOp::Check(key, c) => {
                        TransactWriteAction::ConditionCheck(ConditionCheckInput {
                            table: table.into(),
                            key: key.clone(),
                            condition: c.text().unwrap_or_else(|| "attribute_exists(pk)".into()),
                            ..Default::default()
                        })
                    }
                })
                .collect();
            wait(|d| {
                engine.transact_write_items(
                    TransactWriteInput {
                        actions,
                        // A token reused within the case, with the same or another
                        // request: the idempotency window's outcomes.
                        client_request_token: token.map(|t| format!("{table}-{t}")),
                    },
                    d,
                )
            })
            .map(|_| ())
        }
    }
}

/// The primary key of an item, as bytes that order and compare like the key.
fn key_bytes(item: &Item, schema: &Schema) -> Vec<u8> {
    let mut out = Vec::new();
    for name in ["pk", "sk"] {
        if name == "sk" && schema.range.is_none() {
            continue;
        }
        match item.get(name) {
            Some(v) => eddy_engine::encode_key_value(v, &mut out),
            None => out.extend_from_slice(b"<missing>"),
        }
    }
    out
}

fn scan_all(
    engine: &Engine,
    table: &str,
    index: Option<&str>,
    schema: &Schema,
) -> eddy_engine::Result<BTreeMap<Vec<u8>, Item>> {
    let mut out = BTreeMap::new();
    let mut start = None;
    loop {
        let page = engine.scan(&ScanInput {
            table: table.into(),
            index: index.map(str::to_owned),
            exclusive_start_key: start,
            ..Default::default()
        })?;
        for item in page.decoded_items()? {
            out.insert(key_bytes(&item, schema), item);
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return Ok(out);
        }
    }
}

/// The index entry of a table item, or none when the item lacks the index's keys.
fn project(
    item: &Item,
    schema: &Schema,
    keys: &[(&str, Ty)],
    proj: &Proj,
    include: &[&str],
) -> Option<Item> {
    for (name, ty) in keys {
        if !item.get(*name).is_some_and(|v| ty.matches(v)) {
            return None;
        }
    }
    if *proj == Proj::All {
        return Some(item.clone());
    }
    let mut names: Vec<&str> = vec!["pk"];
    if schema.range.is_some() {
        names.push("sk");
    }
    names.extend(keys.iter().map(|(n, _)| *n));
    if *proj == Proj::Include {
        names.extend(include);
    }
    Some(
        names
            .into_iter()
            .filter_map(|n| Some((n.to_owned(), item.get(n)?.clone())))
            .collect(),
    )
}

/// A write may fail only as DynamoDB's writes do.
fn dynamodb_outcome(e: &Error) -> bool {
    matches!(
        e,
        Error::Validation(_)
            | Error::ConditionalCheckFailed { .. }
            | Error::TransactionCanceled { .. }
            | Error::IdempotentParameterMismatch(_)
            | Error::TransactionInProgress(_)
            // Large items on one key outrun its per-key ceiling (1,000 write units a
            // second); a throttled write must change nothing, as any refusal.
            | Error::Throttled(_)
    )
}

fn create(engine: &Engine, name: &str, s: &Schema) -> eddy_engine::Result<()> {
    let mut defs = vec![KeyAttribute {
        name: "pk".into(),
        key_type: s.hash.key_type(),
    }];
    let mut key_schema = vec![("pk".to_owned(), KeyRole::Hash)];
    if let Some(r) = s.range {
        defs.push(KeyAttribute {
            name: "sk".into(),
            key_type: r.key_type(),
        });
        key_schema.push(("sk".into(), KeyRole::Range));
    }
    defs.push(KeyAttribute {
        name: "g".into(),
        key_type: s.gsi_hash.key_type(),
    });
    let mut gsi_keys = vec![("g".to_owned(), KeyRole::Hash)];
    if let Some(h) = s.gsi_range {
        defs.push(KeyAttribute {
            name: "h".into(),
            key_type: h.key_type(),
        });
        gsi_keys.push(("h".into(), KeyRole::Range));
    }
    let mut indexes = vec![IndexInput {
        name: "gsi".into(),
        kind: IndexKind::Global,
        key_schema: gsi_keys,
        projection_type: Some(
            match s.gsi_projection {
                Proj::All => "ALL",
                Proj::KeysOnly => "KEYS_ONLY",
                Proj::Include => "INCLUDE",
            }
            .into(),
        ),
        non_key_attributes: (s.gsi_projection == Proj::Include)
            .then(|| vec!["a".into(), "v".into()]),
        throughput: None,
        on_demand: None,
        warm: None,
    }];
    if let Some(l) = s.lsi {
        defs.push(KeyAttribute {
            name: "l".into(),
            key_type: l.key_type(),
        });
        indexes.push(IndexInput {
            name: "lsi".into(),
            kind: IndexKind::Local,
            key_schema: vec![("pk".into(), KeyRole::Hash), ("l".into(), KeyRole::Range)],
            projection_type: Some("ALL".into()),
            non_key_attributes: None,
            throughput: None,
            on_demand: None,
            warm: None,
        });
    }
    engine
        .create_table(CreateTableInput {
            name: name.into(),
            attribute_definitions: defs,
            key_schema,
            billing_mode: Some(eddy_engine::BillingMode::PayPerRequest),
            stream: Some(StreamSpecification {
                enabled: true,
                view_type: Some(StreamViewType::NewAndOldImages),
            }),
            indexes,
            ..Default::default()
        })
        .map(drop)
}

/// The newest sequence number of each shard of the table's stream.
fn stream_heads(engine: &Engine, table: &str) -> Vec<u64> {
    let Some(def) = engine.list_streams(Some(table)).pop() else {
        return Vec::new();
    };
    (0..def.shards)
        .map(|s| engine.shard_head(&def, s))
        .collect()
}

fn fail(what: impl Into<String>) -> TestCaseError {
    TestCaseError::fail(what.into())
}

fn check(case: Case) -> Result<(), TestCaseError> {
    let mut shared = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    if shared.as_ref().is_none_or(|s| s.broken) {
        if let Some(old) = shared.take() {
            old.engine.shutdown();
        }
        *shared = Some(open());
    }
    let sh = shared.as_mut().expect("an engine");
    sh.tables += 1;
    let table = format!("fuzz{}", sh.tables);
    let engine = sh.engine.clone();
    let before = fuzz_support::panics();
    let result = run_case(&engine, &table, &case);
    let result = result.and_then(|()| fuzz_support::no_panic_since(before));
    if result.is_err() {
        sh.broken = true;
    } else {
        let _ = engine.delete_table(&table);
    }
    result
}

fn run_case(engine: &Engine, table: &str, case: &Case) -> Result<(), TestCaseError> {
    let s = &case.schema;
    create(engine, table, s).map_err(|e| fail(format!("create the table: {e:?}")))?;
    for (i, op) in case.ops.iter().enumerate() {
        let items_before =
            scan_all(engine, table, None, s).map_err(|e| fail(format!("scan: {e:?}")))?;
        let heads_before = stream_heads(engine, table);
        match apply(engine, table, op) {
            Ok(()) => {
                APPLIED.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) if dynamodb_outcome(&e) => {
                let kind = match &e {
                    Error::Validation(_) => "Validation",
                    Error::ConditionalCheckFailed { .. } => "ConditionalCheckFailed",
                    Error::TransactionCanceled { .. } => "TransactionCanceled",
                    Error::Throttled(_) => "Throttled",
                    _ => "idempotency",
                };
                *REFUSED
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(kind)
                    .or_default() += 1;
                let items_after =
                    scan_all(engine, table, None, s).map_err(|e| fail(format!("scan: {e:?}")))?;
                if items_after != items_before {
                    return Err(fail(format!("op {i} failed ({e}) but changed the table")));
                }
                if stream_heads(engine, table) != heads_before {
                    return Err(fail(format!(
                        "op {i} failed ({e}) but wrote stream records"
                    )));
                }
            }
            Err(e) => return Err(fail(format!("op {i}: not a DynamoDB outcome: {e:?}"))),
        }
    }
    let items = scan_all(engine, table, None, s).map_err(|e| fail(format!("scan: {e:?}")))?;
    // The GSI and the LSI against a recomputation from the table.
    let mut gsi_keys = vec![("g", s.gsi_hash)];
    if let Some(h) = s.gsi_range {
        gsi_keys.push(("h", h));
    }
    let mut indexes = vec![("gsi", gsi_keys, s.gsi_projection.clone())];
    if let Some(l) = s.lsi {
        indexes.push(("lsi", vec![("l", l)], Proj::All));
    }
    let description = engine
        .describe_table(table)
        .map_err(|e| fail(format!("describe: {e:?}")))?;
    prop_assert_eq!(
        description.item_count,
        items.len() as i64,
        "DescribeTable's ItemCount"
    );
    for (n, (name, keys, proj)) in indexes.iter().enumerate() {
        let found = scan_all(engine, table, Some(name), s)
            .map_err(|e| fail(format!("scan {name}: {e:?}")))?;
        let expected: BTreeMap<Vec<u8>, Item> = items
            .iter()
            .filter_map(|(k, item)| Some((k.clone(), project(item, s, keys, proj, &["a", "v"])?)))
            .collect();
        if found != expected {
            let diff: Vec<String> = expected
                .keys()
                .chain(found.keys())
                .filter(|k| found.get(*k) != expected.get(*k))
                .take(3)
                .map(|k| format!("entry {:?}, expected {:?}", found.get(k), expected.get(k)))
                .collect();
            return Err(fail(format!(
                "index {name} differs from its recomputation: {diff:?}"
            )));
        }
        let counted = description.index_counts.get(n).map(|c| c.0);
        prop_assert_eq!(
            counted,
            Some(expected.len() as i64),
            "DescribeTable's ItemCount of {}",
            name
        );
    }
    // The stream, replayed over an empty map, against the table.
    let stream = engine
        .list_streams(Some(table))
        .pop()
        .ok_or_else(|| fail("no stream"))?;
    let mut replayed: BTreeMap<Vec<u8>, Item> = BTreeMap::new();
    let mut shard_of: HashMap<Vec<u8>, u16> = HashMap::new();
    for shard in engine
        .stream_shards(&stream)
        .map_err(|e| fail(format!("shards: {e:?}")))?
    {
        let read = engine
            .read_shard(
                &stream,
                shard.shard,
                engine.trim_horizon(&stream, shard.shard),
                usize::MAX,
                usize::MAX,
            )
            .map_err(|e| fail(format!("read shard: {e:?}")))?;
        let mut last = 0;
        for r in read.records {
            prop_assert!(r.seq > last, "sequence numbers increase within a shard");
            last = r.seq;
            let k = key_bytes(&r.keys, s);
            let prev = shard_of.insert(k.clone(), shard.shard);
            prop_assert!(
                prev.is_none_or(|p| p == shard.shard),
                "a key's records live in one shard"
            );
            match r.event_name {
                EventName::Insert => {
                    prop_assert!(!replayed.contains_key(&k), "INSERT of an existing item");
                    prop_assert!(r.old_image.is_none(), "INSERT without an old image");
                    replayed.insert(
                        k,
                        r.new_image
                            .ok_or_else(|| fail("INSERT without a new image"))?,
                    );
                }
                EventName::Modify => {
                    prop_assert!(r.new_image != r.old_image, "MODIFY changes something");
                    let old = replayed.insert(
                        k,
                        r.new_image
                            .clone()
                            .ok_or_else(|| fail("MODIFY without a new image"))?,
                    );
                    prop_assert_eq!(
                        old.as_ref(),
                        r.old_image.as_ref(),
                        "old image is the previous state"
                    );
                }
                EventName::Remove => {
                    let old = replayed.remove(&k);
                    prop_assert_eq!(
                        old.as_ref(),
                        r.old_image.as_ref(),
                        "REMOVE's old image is the previous state"
                    );
                }
            }
        }
    }
    if replayed != items {
        return Err(fail(format!(
            "replaying the stream gives {} items, the table has {}",
            replayed.len(),
            items.len()
        )));
    }
    Ok(())
}

#[test]
fn fuzz_write_path() {
    fuzz_support::run("write path", CASES_DEFAULT, case(), check);
    let applied = APPLIED.load(Ordering::Relaxed);
    let refused = REFUSED.lock().unwrap_or_else(|p| p.into_inner()).clone();
    fuzz_support::report(&format!(
        "fuzz write path: {applied} writes applied, refused {refused:?}"
    ));
    assert!(applied > 0, "some writes apply");
    if let Some(s) = SHARED.lock().unwrap_or_else(|p| p.into_inner()).take() {
        s.engine.shutdown();
    }
}
