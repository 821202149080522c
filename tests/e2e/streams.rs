//! DynamoDB Streams end to end: writes through the DynamoDB SDK, reads through the
//! DynamoDB Streams SDK (`aws-sdk-dynamodbstreams`), against the real binary.
//!
//! Every wait polls against a deadline; nothing sleeps and hopes.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client as Ddb;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as Av, BillingMode, DeleteRequest, KeySchemaElement,
    KeyType, PutRequest, ScalarAttributeType, StreamSpecification, StreamViewType as DdbView,
    WriteRequest,
};
use aws_sdk_dynamodbstreams::Client as Streams;
use aws_sdk_dynamodbstreams::types::{
    AttributeValue as Sav, OperationType, Record, Shard, ShardIteratorType, StreamStatus,
    StreamViewType,
};

use crate::harness::{Server, table_name};

/// Upper bound of every poll loop in this file.
const WAIT: Duration = Duration::from_secs(20);
/// These tests run the server with this many hash shards per table, so that shard
/// paging, per-shard order and closing are exercised (the default is DynamoDB's one).
const SHARDS: usize = 4;

fn start_sharded() -> Server {
    Server::start_with(&["--table-shards", "4"])
}

type Item = HashMap<String, Av>;
type Image = HashMap<String, Sav>;

const VIEWS: [DdbView; 4] = [
    DdbView::KeysOnly,
    DdbView::NewImage,
    DdbView::OldImage,
    DdbView::NewAndOldImages,
];

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

fn code_and_message<E: ProvideErrorMetadata>(e: &E) -> (String, String) {
    (
        e.code().unwrap_or("<none>").to_string(),
        e.message().unwrap_or("").to_string(),
    )
}

/// Asserts an error's code and that its message mentions every `needles` entry.
fn assert_error<E: ProvideErrorMetadata + std::fmt::Debug>(e: &E, code: &str, needles: &[&str]) {
    let (c, m) = code_and_message(e);
    assert_eq!(c, code, "error code (message {m:?}): {e:?}");
    for n in needles {
        assert!(m.contains(n), "message {m:?} of {c} should mention {n:?}");
    }
}

fn s(v: &str) -> Av {
    Av::S(v.into())
}

fn n(v: &str) -> Av {
    Av::N(v.into())
}

fn item(pairs: &[(&str, Av)]) -> Item {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn key(pk: &str, sk: &str) -> Item {
    item(&[("pk", s(pk)), ("sk", n(sk))])
}

/// The DynamoDB SDK's attribute value as the Streams SDK's.
fn to_stream(v: &Av) -> Sav {
    match v {
        Av::S(x) => Sav::S(x.clone()),
        Av::N(x) => Sav::N(x.clone()),
        Av::B(x) => Sav::B(x.clone()),
        Av::Bool(x) => Sav::Bool(*x),
        Av::Null(x) => Sav::Null(*x),
        Av::Ss(x) => Sav::Ss(x.clone()),
        Av::Ns(x) => Sav::Ns(x.clone()),
        Av::Bs(x) => Sav::Bs(x.clone()),
        Av::L(x) => Sav::L(x.iter().map(to_stream).collect()),
        Av::M(x) => Sav::M(x.iter().map(|(k, v)| (k.clone(), to_stream(v))).collect()),
        other => panic!("unexpected attribute value {other:?}"),
    }
}

fn image(i: &Item) -> Image {
    i.iter().map(|(k, v)| (k.clone(), to_stream(v))).collect()
}

fn keys_of(i: &Item) -> Image {
    i.iter()
        .filter(|(k, _)| *k == "pk" || *k == "sk")
        .map(|(k, v)| (k.clone(), to_stream(v)))
        .collect()
}

/// Creates a `pk` (S) + `sk` (N) table, with a stream of `view` when given; returns
/// the `LatestStreamArn` CreateTable reported.
async fn create_table(c: &Ddb, name: &str, view: Option<DdbView>) -> Option<String> {
    let mut req = c
        .create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("sk")
                .attribute_type(ScalarAttributeType::N)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("sk")
                .key_type(KeyType::Range)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest);
    if let Some(v) = view {
        req = req.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(v)
                .build()
                .unwrap(),
        );
    }
    let out = req.send().await.expect("create table");
    let d = out.table_description().expect("table description");
    d.latest_stream_arn().map(str::to_string)
}

async fn put(c: &Ddb, table: &str, i: &Item) {
    c.put_item()
        .table_name(table)
        .set_item(Some(i.clone()))
        .send()
        .await
        .expect("put item");
}

async fn delete(c: &Ddb, table: &str, k: &Item) {
    c.delete_item()
        .table_name(table)
        .set_key(Some(k.clone()))
        .send()
        .await
        .expect("delete item");
}

async fn set_stream(c: &Ddb, table: &str, view: Option<DdbView>) -> Result<(), String> {
    let spec = match view {
        Some(v) => StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(v)
            .build()
            .unwrap(),
        None => StreamSpecification::builder()
            .stream_enabled(false)
            .build()
            .unwrap(),
    };
    c.update_table()
        .table_name(table)
        .stream_specification(spec)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            let (c, m) = code_and_message(&e);
            format!("{c}: {m}")
        })
}

/// All shards of a stream, one DescribeStream page (`Limit` 1) at a time.
async fn all_shards(sc: &Streams, arn: &str) -> Vec<Shard> {
    let mut shards = Vec::new();
    let mut start: Option<String> = None;
    for _ in 0..1000 {
        let out = sc
            .describe_stream()
            .stream_arn(arn)
            .limit(1)
            .set_exclusive_start_shard_id(start.clone())
            .send()
            .await
            .expect("describe stream");
        let d = out.stream_description().expect("stream description");
        assert!(
            d.shards().len() <= 1,
            "Limit 1 gave {} shards",
            d.shards().len()
        );
        shards.extend(d.shards().iter().cloned());
        match d.last_evaluated_shard_id() {
            Some(last) => {
                assert_eq!(
                    Some(last),
                    shards.last().and_then(|s| s.shard_id()),
                    "LastEvaluatedShardId is the last shard of the page"
                );
                start = Some(last.to_string());
            }
            None => return shards,
        }
    }
    panic!("DescribeStream paging did not end");
}

async fn iterator(
    sc: &Streams,
    arn: &str,
    shard: &str,
    kind: ShardIteratorType,
    seq: Option<&str>,
) -> String {
    sc.get_shard_iterator()
        .stream_arn(arn)
        .shard_id(shard)
        .shard_iterator_type(kind)
        .set_sequence_number(seq.map(str::to_string))
        .send()
        .await
        .expect("get shard iterator")
        .shard_iterator()
        .expect("ShardIterator")
        .to_string()
}

fn seq(r: &Record) -> u128 {
    r.dynamodb()
        .and_then(|d| d.sequence_number())
        .expect("SequenceNumber")
        .parse()
        .expect("numeric SequenceNumber")
}

fn seq_str(r: &Record) -> &str {
    r.dynamodb()
        .and_then(|d| d.sequence_number())
        .expect("SequenceNumber")
}

/// Reads from `it` with `limit` until a page comes back empty (open shard) or the
/// iterator ends (closed shard). Returns the records and the last next iterator.
async fn drain(sc: &Streams, mut it: String, limit: Option<i32>) -> (Vec<Record>, Option<String>) {
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let page = sc
            .get_records()
            .shard_iterator(&it)
            .set_limit(limit)
            .send()
            .await
            .expect("get records");
        if let Some(l) = limit {
            assert!(page.records().len() <= l as usize, "page exceeds Limit {l}");
        }
        let empty = page.records().is_empty();
        out.extend(page.records().iter().cloned());
        match page.next_shard_iterator() {
            None => return (out, None),
            Some(next) if empty => return (out, Some(next.to_string())),
            Some(next) => it = next.to_string(),
        }
    }
    panic!("GetRecords paging did not end");
}

/// Every record of a stream from TRIM_HORIZON, all shards, checking that sequence
/// numbers strictly increase within each shard; sorted by sequence number.
async fn read_stream(sc: &Streams, arn: &str) -> Vec<Record> {
    let mut all = Vec::new();
    for shard in all_shards(sc, arn).await {
        let id = shard.shard_id().unwrap();
        let it = iterator(sc, arn, id, ShardIteratorType::TrimHorizon, None).await;
        let (records, _) = drain(sc, it, None).await;
        for w in records.windows(2) {
            assert!(
                seq(&w[0]) < seq(&w[1]),
                "sequence numbers increase within {id}"
            );
        }
        all.extend(records);
    }
    all.sort_by_key(seq);
    all
}

/// Reads until the stream holds at least `count` records (bounded by [`WAIT`]).
async fn read_at_least(sc: &Streams, arn: &str, count: usize) -> Vec<Record> {
    let deadline = Instant::now() + WAIT;
    loop {
        let r = read_stream(sc, arn).await;
        if r.len() >= count || Instant::now() > deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn record_pk(r: &Record) -> String {
    match r
        .dynamodb()
        .and_then(|d| d.keys())
        .and_then(|k| k.get("pk"))
    {
        Some(Sav::S(v)) => v.clone(),
        other => panic!("record without a string pk: {other:?}"),
    }
}

/// A record reduced to what must match between equivalent writes.
#[derive(Debug, PartialEq)]
struct Event {
    name: OperationType,
    keys: Image,
    new: Option<Image>,
    old: Option<Image>,
}

fn event(r: &Record) -> Event {
    let d = r.dynamodb().expect("dynamodb");
    Event {
        name: r.event_name().expect("eventName").clone(),
        keys: d.keys().cloned().unwrap_or_default(),
        new: d.new_image().cloned(),
        old: d.old_image().cloned(),
    }
}

/// Events grouped by partition key, in stream order.
fn events_by_pk(records: &[Record]) -> HashMap<String, Vec<Event>> {
    let mut out: HashMap<String, Vec<Event>> = HashMap::new();
    for r in records {
        out.entry(record_pk(r)).or_default().push(event(r));
    }
    out
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The fields every record carries, as DynamoDB Streams fills them.
fn check_record_fields(records: &[Record], view: &StreamViewType, from_s: i64, to_s: i64) {
    let mut ids = HashSet::new();
    for r in records {
        let id = r.event_id().expect("eventID");
        assert!(!id.is_empty());
        assert!(ids.insert(id.to_string()), "eventID {id} is unique");
        assert_eq!(r.event_version(), Some("1.1"));
        assert_eq!(r.event_source(), Some("aws:dynamodb"));
        assert_eq!(r.aws_region(), Some("us-east-1"));
        assert!(
            r.user_identity().is_none(),
            "userIdentity is for TTL deletions only"
        );
        let d = r.dynamodb().expect("dynamodb");
        let t = d
            .approximate_creation_date_time()
            .expect("ApproximateCreationDateTime");
        assert_eq!(
            t.subsec_nanos(),
            0,
            "ApproximateCreationDateTime is whole seconds"
        );
        assert!(
            (from_s - 1..=to_s + 1).contains(&t.secs()),
            "ApproximateCreationDateTime {} within [{from_s}, {to_s}]",
            t.secs()
        );
        let sn = d.sequence_number().expect("SequenceNumber");
        assert!(
            (21..=40).contains(&sn.len()) && sn.bytes().all(|b| b.is_ascii_digit()),
            "SequenceNumber {sn:?} is 21-40 digits"
        );
        assert!(d.size_bytes().unwrap_or(0) > 0, "SizeBytes is positive");
        assert_eq!(d.stream_view_type(), Some(view));
    }
}

fn stream_view(v: &DdbView) -> StreamViewType {
    StreamViewType::from(v.as_str())
}

// ---------------------------------------------------------------------------
// records
// ---------------------------------------------------------------------------

#[tokio::test]
async fn every_view_type_insert_modify_remove() {
    let server = start_sharded();
    let (c, sc) = (server.client(), server.streams_client());
    for view in VIEWS {
        let t = table_name("sv");
        let arn = create_table(&c, &t, Some(view.clone()))
            .await
            .expect("LatestStreamArn");
        let from = now_s();

        let i1 = item(&[("pk", s("a")), ("sk", n("1")), ("v", s("one"))]);
        put(&c, &t, &i1).await;
        let i2 = item(&[("pk", s("a")), ("sk", n("1")), ("w", n("2"))]);
        put(&c, &t, &i2).await;
        c.update_item()
            .table_name(&t)
            .set_key(Some(key("a", "1")))
            .update_expression("SET v = :x ADD w :one")
            .expression_attribute_values(":x", s("x"))
            .expression_attribute_values(":one", n("1"))
            .send()
            .await
            .unwrap();
        let i3 = item(&[("pk", s("a")), ("sk", n("1")), ("w", n("3")), ("v", s("x"))]);
        c.update_item()
            .table_name(&t)
            .set_key(Some(key("a", "1")))
            .update_expression("REMOVE v")
            .send()
            .await
            .unwrap();
        let i4 = item(&[("pk", s("a")), ("sk", n("1")), ("w", n("3"))]);
        delete(&c, &t, &key("a", "1")).await;
        c.update_item()
            .table_name(&t)
            .set_key(Some(key("b", "7")))
            .update_expression("SET z = :z")
            .expression_attribute_values(":z", Av::Bool(true))
            .send()
            .await
            .unwrap();
        let i5 = item(&[("pk", s("b")), ("sk", n("7")), ("z", Av::Bool(true))]);
        let to = now_s();

        let records = read_at_least(&sc, &arn, 6).await;
        assert_eq!(records.len(), 6, "{view:?}: {records:#?}");
        check_record_fields(&records, &stream_view(&view), from, to);

        let with_new = matches!(view, DdbView::NewImage | DdbView::NewAndOldImages);
        let with_old = matches!(view, DdbView::OldImage | DdbView::NewAndOldImages);
        let expect = |name: OperationType, old: Option<&Item>, new: Option<&Item>| {
            let k = keys_of(new.or(old).unwrap());
            Event {
                name,
                keys: k,
                new: new.filter(|_| with_new).map(image),
                old: old.filter(|_| with_old).map(image),
            }
        };
        let by_pk = events_by_pk(&records);
        assert_eq!(
            by_pk["a"],
            vec![
                expect(OperationType::Insert, None, Some(&i1)),
                expect(OperationType::Modify, Some(&i1), Some(&i2)),
                expect(OperationType::Modify, Some(&i2), Some(&i3)),
                expect(OperationType::Modify, Some(&i3), Some(&i4)),
                expect(OperationType::Remove, Some(&i4), None),
            ],
            "{view:?}"
        );
        assert_eq!(
            by_pk["b"],
            vec![expect(OperationType::Insert, None, Some(&i5))],
            "{view:?}: UpdateItem that creates an item is an INSERT"
        );
    }
}

#[tokio::test]
async fn no_op_and_failed_writes_produce_no_record() {
    let server = start_sharded();
    let (c, sc) = (server.client(), server.streams_client());
    let t = table_name("snoop");
    let arn = create_table(&c, &t, Some(DdbView::NewAndOldImages))
        .await
        .unwrap();

    let a = item(&[
        ("pk", s("a")),
        ("sk", n("1")),
        ("v", n("1")),
        ("tags", Av::Ss(vec!["x".into(), "y".into()])),
    ]);
    put(&c, &t, &a).await;
    // An identical item.
    put(&c, &t, &a).await;
    // The same item with its set in another order.
    let reordered = item(&[
        ("pk", s("a")),
        ("sk", n("1")),
        ("v", n("1")),
        ("tags", Av::Ss(vec!["y".into(), "x".into()])),
    ]);
    put(&c, &t, &reordered).await;
    // UpdateItem setting what is already there, and removing what is not.
    c.update_item()
        .table_name(&t)
        .set_key(Some(key("a", "1")))
        .update_expression("SET v = :one REMOVE nothere")
        .expression_attribute_values(":one", n("1"))
        .send()
        .await
        .unwrap();
    // DeleteItem of a missing item.
    delete(&c, &t, &key("missing", "1")).await;
    // Failed conditional writes.
    let e = c
        .put_item()
        .table_name(&t)
        .set_item(Some(item(&[("pk", s("a")), ("sk", n("1")), ("v", n("9"))])))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_message(&e).0, "ConditionalCheckFailedException");
    let e = c
        .update_item()
        .table_name(&t)
        .set_key(Some(key("a", "1")))
        .update_expression("SET v = :nine")
        .condition_expression("v = :nine")
        .expression_attribute_values(":nine", n("9"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_message(&e).0, "ConditionalCheckFailedException");
    let e = c
        .delete_item()
        .table_name(&t)
        .set_key(Some(key("a", "1")))
        .condition_expression("attribute_not_exists(v)")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_message(&e).0, "ConditionalCheckFailedException");
    // BatchWriteItem of an identical item and of a delete of a missing one.
    c.batch_write_item()
        .request_items(
            &t,
            vec![
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(a.clone()))
                            .build()
                            .unwrap(),
                    )
                    .build(),
                WriteRequest::builder()
                    .delete_request(
                        DeleteRequest::builder()
                            .set_key(Some(key("missing", "2")))
                            .build()
                            .unwrap(),
                    )
                    .build(),
            ],
        )
        .send()
        .await
        .unwrap();
    // A marker write: once it is visible, every earlier write would be too.
    let m = item(&[("pk", s("marker")), ("sk", n("1"))]);
    put(&c, &t, &m).await;

    let records = read_at_least(&sc, &arn, 2).await;
    let events: Vec<(String, OperationType)> = records
        .iter()
        .map(|r| (record_pk(r), r.event_name().unwrap().clone()))
        .collect();
    assert_eq!(
        events,
        vec![
            ("a".to_string(), OperationType::Insert),
            ("marker".to_string(), OperationType::Insert)
        ],
        "only the two real modifications are recorded"
    );
}

/// One write of a scripted sequence: a whole item, or the key of a delete.
#[derive(Clone)]
enum Op {
    Put(Item),
    Delete(Item),
}

fn script() -> Vec<Op> {
    let mut ops = Vec::new();
    for k in 0..10 {
        ops.push(Op::Put(item(&[
            ("pk", s(&format!("k{k}"))),
            ("sk", n("1")),
            ("a", n(&k.to_string())),
            ("b", s("first")),
        ])));
    }
    for k in 0..5 {
        ops.push(Op::Put(item(&[
            ("pk", s(&format!("k{k}"))),
            ("sk", n("1")),
            ("a", n(&(k * 10).to_string())),
            ("c", Av::L(vec![s("x"), n("2")])),
        ])));
    }
    for k in 5..8 {
        ops.push(Op::Delete(key(&format!("k{k}"), "1")));
    }
    // A delete of a missing item and an identical put: no records.
    ops.push(Op::Delete(key("k20", "1")));
    ops.push(Op::Put(item(&[
        ("pk", s("k8")),
        ("sk", n("1")),
        ("a", n("8")),
        ("b", s("first")),
    ])));
    // Back again after a delete.
    ops.push(Op::Put(item(&[
        ("pk", s("k5")),
        ("sk", n("1")),
        ("m", Av::M(item(&[("in", Av::Bool(false))]))),
    ])));
    ops
}

#[tokio::test]
async fn batch_writes_and_update_expressions_match_single_calls() {
    let server = start_sharded();
    let (c, sc) = (server.client(), server.streams_client());
    let single = table_name("ssingle");
    let batch = table_name("sbatch");
    let update = table_name("supdate");
    let arn_single = create_table(&c, &single, Some(DdbView::NewAndOldImages))
        .await
        .unwrap();
    let arn_batch = create_table(&c, &batch, Some(DdbView::NewAndOldImages))
        .await
        .unwrap();
    let arn_update = create_table(&c, &update, Some(DdbView::NewAndOldImages))
        .await
        .unwrap();
    let ops = script();

    // Single calls.
    for op in &ops {
        match op {
            Op::Put(i) => put(&c, &single, i).await,
            Op::Delete(k) => delete(&c, &single, k).await,
        }
    }

    // The same through BatchWriteItem (a batch may not touch one key twice).
    let mut pending: Vec<WriteRequest> = Vec::new();
    let mut keys_in_batch: HashSet<String> = HashSet::new();
    for op in &ops {
        let (pk, req) = match op {
            Op::Put(i) => (
                format!("{:?}", i["pk"]),
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(i.clone()))
                            .build()
                            .unwrap(),
                    )
                    .build(),
            ),
            Op::Delete(k) => (
                format!("{:?}", k["pk"]),
                WriteRequest::builder()
                    .delete_request(
                        DeleteRequest::builder()
                            .set_key(Some(k.clone()))
                            .build()
                            .unwrap(),
                    )
                    .build(),
            ),
        };
        if keys_in_batch.contains(&pk) || pending.len() == 25 {
            let out = c
                .batch_write_item()
                .request_items(&batch, std::mem::take(&mut pending))
                .send()
                .await
                .unwrap();
            assert!(out.unprocessed_items().is_none_or(|u| u.is_empty()));
            keys_in_batch.clear();
        }
        keys_in_batch.insert(pk);
        pending.push(req);
    }
    if !pending.is_empty() {
        c.batch_write_item()
            .request_items(&batch, pending)
            .send()
            .await
            .unwrap();
    }

    // The same through UpdateItem expressions: SET every attribute of the new item,
    // REMOVE every attribute it no longer has.
    let mut current: HashMap<String, Item> = HashMap::new();
    for op in &ops {
        match op {
            Op::Put(i) => {
                let pk = format!("{:?}", i["pk"]);
                let mut sets = Vec::new();
                let mut req = c.update_item().table_name(&update).set_key(Some(
                    i.iter()
                        .filter(|(k, _)| *k == "pk" || *k == "sk")
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                ));
                for (idx, (name, v)) in i
                    .iter()
                    .filter(|(k, _)| *k != "pk" && *k != "sk")
                    .enumerate()
                {
                    sets.push(format!("#n{idx} = :v{idx}"));
                    req = req
                        .expression_attribute_names(format!("#n{idx}"), name)
                        .expression_attribute_values(format!(":v{idx}"), v.clone());
                }
                let removes: Vec<String> = current
                    .get(&pk)
                    .map(|old| {
                        old.keys()
                            .filter(|k| !i.contains_key(*k))
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                let mut expr = String::new();
                if !sets.is_empty() {
                    expr.push_str(&format!("SET {}", sets.join(", ")));
                }
                if !removes.is_empty() {
                    expr.push_str(&format!(" REMOVE {}", removes.join(", ")));
                }
                if !expr.is_empty() {
                    req = req.update_expression(expr.trim());
                }
                req.send().await.expect("update item");
                current.insert(pk, i.clone());
            }
            Op::Delete(k) => {
                delete(&c, &update, k).await;
                current.remove(&format!("{:?}", k["pk"]));
            }
        }
    }

    // 10 inserts + 5 modifies + 3 removes + 1 insert.
    let expected = 19;
    let a = read_at_least(&sc, &arn_single, expected).await;
    let b = read_at_least(&sc, &arn_batch, expected).await;
    let u = read_at_least(&sc, &arn_update, expected).await;
    assert_eq!(a.len(), expected, "single calls");
    let (a, b, u) = (events_by_pk(&a), events_by_pk(&b), events_by_pk(&u));
    assert_eq!(
        a, b,
        "BatchWriteItem records equal the single calls' records"
    );
    assert_eq!(a, u, "UpdateItem records equal the PutItem records");
}

#[tokio::test]
async fn per_item_order_equals_write_order() {
    let server = start_sharded();
    let (c, sc) = (server.client(), server.streams_client());
    let t = table_name("sorder");
    let arn = create_table(&c, &t, Some(DdbView::NewImage)).await.unwrap();
    const KEYS: usize = 3;
    const WRITES: usize = 60;
    // One task per key writes sequentially; the keys interleave in commit groups.
    let mut tasks = Vec::new();
    for k in 0..KEYS {
        let (c, t) = (c.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..WRITES {
                let it = item(&[
                    ("pk", s(&format!("p{k}"))),
                    ("sk", n("1")),
                    ("i", n(&i.to_string())),
                ]);
                put(&c, &t, &it).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let records = read_at_least(&sc, &arn, KEYS * WRITES).await;
    assert_eq!(records.len(), KEYS * WRITES);
    for k in 0..KEYS {
        let seen: Vec<String> = records
            .iter()
            .filter(|r| record_pk(r) == format!("p{k}"))
            .map(
                |r| match r.dynamodb().unwrap().new_image().unwrap().get("i") {
                    Some(Sav::N(v)) => v.clone(),
                    other => panic!("{other:?}"),
                },
            )
            .collect();
        let want: Vec<String> = (0..WRITES).map(|i| i.to_string()).collect();
        assert_eq!(seen, want, "records of p{k} in write order");
    }
}

// ---------------------------------------------------------------------------
// control plane: DescribeTable, ListStreams, DescribeStream
// ---------------------------------------------------------------------------

/// `arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<YYYY-MM-DDTHH:MM:SS.mmm>`
fn check_stream_arn(arn: &str, table: &str) -> String {
    let prefix = format!(":table/{table}/stream/");
    assert!(arn.starts_with("arn:aws:dynamodb:us-east-1:"), "{arn}");
    let (head, label) = arn.split_once(&prefix).unwrap_or_else(|| panic!("{arn}"));
    let account = head.trim_start_matches("arn:aws:dynamodb:us-east-1:");
    assert!(
        account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()),
        "account in {arn}"
    );
    let b = label.as_bytes();
    assert_eq!(b.len(), 23, "label {label}");
    for (i, ch) in b.iter().enumerate() {
        let want_digit = !matches!(i, 4 | 7 | 10 | 13 | 16 | 19);
        assert_eq!(ch.is_ascii_digit(), want_digit, "label {label}");
    }
    assert_eq!(&label[4..5], "-");
    assert_eq!(&label[10..11], "T");
    assert_eq!(&label[19..20], ".");
    label.to_string()
}

#[tokio::test]
async fn describe_table_and_list_streams() {
    let server = start_sharded();
    let (c, sc) = (server.client(), server.streams_client());
    let t1 = table_name("sls");
    let t2 = table_name("sls");
    let plain = table_name("sls");
    let arn1 = create_table(&c, &t1, Some(DdbView::KeysOnly))
        .await
        .unwrap();
    let arn2 = create_table(&c, &t2, Some(DdbView::NewAndOldImages))
        .await
        .unwrap();
    assert!(
        create_table(&c, &plain, None).await.is_none(),
        "no stream, no LatestStreamArn"
    );

    let d = c.describe_table().table_name(&t2).send().await.unwrap();
    let d = d.table().unwrap();
    let spec = d.stream_specification().expect("StreamSpecification");
    assert!(spec.stream_enabled());
    assert_eq!(spec.stream_view_type(), Some(&DdbView::NewAndOldImages));
    assert_eq!(d.latest_stream_arn(), Some(arn2.as_str()));
    let label = check_stream_arn(&arn2, &t2);
    assert_eq!(d.latest_stream_label(), Some(label.as_str()));
    let d = c.describe_table().table_name(&plain).send().await.unwrap();
    assert!(d.table().unwrap().stream_specification().is_none());
    assert!(d.table().unwrap().latest_stream_arn().is_none());

    // By table.
    let out = sc.list_streams().table_name(&t1).send().await.unwrap();
    assert_eq!(out.streams().len(), 1);
    let st = &out.streams()[0];
    assert_eq!(st.stream_arn(), Some(arn1.as_str()));
    assert_eq!(st.table_name(), Some(t1.as_str()));
    assert_eq!(
        st.stream_label(),
        Some(check_stream_arn(&arn1, &t1).as_str())
    );
    assert!(out.last_evaluated_stream_arn().is_none());
    let out = sc.list_streams().table_name(&plain).send().await.unwrap();
    assert!(
        out.streams().is_empty(),
        "a table without a stream lists none"
    );

    // A second stream of t1 (disable, enable): both listed, oldest first.
    set_stream(&c, &t1, None).await.unwrap();
    set_stream(&c, &t1, Some(DdbView::NewImage)).await.unwrap();
    let out = sc.list_streams().table_name(&t1).send().await.unwrap();
    let arns: Vec<&str> = out
        .streams()
        .iter()
        .filter_map(|s| s.stream_arn())
        .collect();
    assert_eq!(arns.len(), 2, "{arns:?}");
    assert_eq!(arns[0], arn1);
    assert_ne!(arns[1], arn1);

    // Paging over all streams, one per page.
    let mut seen = Vec::new();
    let mut start: Option<String> = None;
    for _ in 0..100 {
        let out = sc
            .list_streams()
            .limit(1)
            .set_exclusive_start_stream_arn(start.clone())
            .send()
            .await
            .unwrap();
        assert!(out.streams().len() <= 1);
        seen.extend(
            out.streams()
                .iter()
                .filter_map(|s| s.stream_arn())
                .map(str::to_string),
        );
        match out.last_evaluated_stream_arn() {
            Some(l) => {
                assert_eq!(Some(l), seen.last().map(String::as_str));
                start = Some(l.to_string());
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 3, "three streams, each listed once: {seen:?}");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 3);
    assert!(seen.contains(&arn1) && seen.contains(&arn2));

    // Limits.
    for bad in [0, 101] {
        let e = sc.list_streams().limit(bad).send().await.unwrap_err();
        assert_error(&e, "ValidationException", &["limit", &bad.to_string()]);
    }
}

#[tokio::test]
async fn describe_stream_shards_and_paging() {
    let server = start_sharded();
    let (c, sc) = (server.client(), server.streams_client());
    let t = table_name("sds");
    let arn = create_table(&c, &t, Some(DdbView::OldImage)).await.unwrap();
    let before = now_s();

    let out = sc.describe_stream().stream_arn(&arn).send().await.unwrap();
    let d = out.stream_description().unwrap();
    assert_eq!(d.stream_arn(), Some(arn.as_str()));
    assert_eq!(d.stream_status(), Some(&StreamStatus::Enabled));
    assert_eq!(d.stream_view_type(), Some(&StreamViewType::OldImage));
    assert_eq!(d.table_name(), Some(t.as_str()));
    assert_eq!(d.stream_label(), Some(check_stream_arn(&arn, &t).as_str()));
    let created = d
        .creation_request_date_time()
        .expect("CreationRequestDateTime");
    assert!((before - 60..=before + 1).contains(&created.secs()));
    let ks: Vec<(String, String)> = d
        .key_schema()
        .iter()
        .map(|k| {
            (
                k.attribute_name().to_string(),
                k.key_type().as_str().to_string(),
            )
        })
        .collect();
    assert_eq!(
        ks,
        vec![("pk".into(), "HASH".into()), ("sk".into(), "RANGE".into())]
    );
    assert!(
        d.last_evaluated_shard_id().is_none(),
        "all shards fit one default page"
    );
    let shards = d.shards().to_vec();
    assert_eq!(shards.len(), SHARDS);
    let ids: Vec<&str> = shards.iter().map(|s| s.shard_id().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "shards are listed in shard-id order");
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), SHARDS);
    for s in &shards {
        let id = s.shard_id().unwrap();
        assert!(
            (28..=65).contains(&id.len()),
            "ShardId {id} is 28-65 characters"
        );
        let r = s.sequence_number_range().expect("SequenceNumberRange");
        let start = r
            .starting_sequence_number()
            .expect("StartingSequenceNumber");
        assert!((21..=40).contains(&start.len()) && start.bytes().all(|b| b.is_ascii_digit()));
        assert!(
            r.ending_sequence_number().is_none(),
            "an enabled stream's shards are open"
        );
    }

    // Limit 1 pages through the same shards.
    let paged = all_shards(&sc, &arn).await;
    assert_eq!(paged, shards);
    // Starting after the last shard (or an unknown one) gives an empty page, as
    // DynamoDB does.
    for start in [ids[SHARDS - 1], "shardId-00000000000000000000-ffffffffffff"] {
        let out = sc
            .describe_stream()
            .stream_arn(&arn)
            .exclusive_start_shard_id(start)
            .send()
            .await
            .unwrap();
        let d = out.stream_description().unwrap();
        assert!(d.shards().is_empty(), "after {start}");
        assert!(d.last_evaluated_shard_id().is_none());
    }
    for bad in [0, 101] {
        let e = sc
            .describe_stream()
            .stream_arn(&arn)
            .limit(bad)
            .send()
            .await
            .unwrap_err();
        assert_error(&e, "ValidationException", &["limit"]);
    }
}

// ---------------------------------------------------------------------------
// iterators and GetRecords
// ---------------------------------------------------------------------------

/// The shard holding the records of partition key `pk`, and those records.
async fn shard_of(sc: &Streams, arn: &str, pk: &str, count: usize) -> (String, Vec<Record>) {
    let deadline = Instant::now() + WAIT;
    loop {
        for shard in all_shards(sc, arn).await {
            let id = shard.shard_id().unwrap().to_string();
            let it = iterator(sc, arn, &id, ShardIteratorType::TrimHorizon, None).await;
            let (records, _) = drain(sc, it, None).await;
            let mine: Vec<Record> = records.into_iter().filter(|r| record_pk(r) == pk).collect();
            if mine.len() >= count {
                return (id, mine);
            }
        }
        assert!(Instant::now() < deadline, "records of {pk} did not appear");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn shard_iterator_types() {
    let server = start_sharded();
    let (c, sc) = (server.client(), server.streams_client());
    let t = table_name("sit");
    let arn = create_table(&c, &t, Some(DdbView::NewImage)).await.unwrap();
    for i in 0..3 {
        put(
            &c,
            &t,
            &item(&[("pk", s("k")), ("sk", n("1")), ("i", n(&i.to_string()))]),
        )
        .await;
    }
    let (shard, recs) = shard_of(&sc, &arn, "k", 3).await;
    assert_eq!(recs.len(), 3);
    let seqs: Vec<String> = recs.iter().map(|r| seq_str(r).to_string()).collect();

    // TRIM_HORIZON: everything.
    let it = iterator(&sc, &arn, &shard, ShardIteratorType::TrimHorizon, None).await;
    let (got, next) = drain(&sc, it, None).await;
    assert_eq!(got.iter().map(seq_str).collect::<Vec<_>>(), seqs);
    assert!(next.is_some(), "an open shard always gives a next iterator");

    // AT_SEQUENCE_NUMBER / AFTER_SEQUENCE_NUMBER.
    let it = iterator(
        &sc,
        &arn,
        &shard,
        ShardIteratorType::AtSequenceNumber,
        Some(&seqs[1]),
    )
    .await;
    let (got, _) = drain(&sc, it, None).await;
    assert_eq!(got.iter().map(seq_str).collect::<Vec<_>>(), seqs[1..]);
    let it = iterator(
        &sc,
        &arn,
        &shard,
        ShardIteratorType::AfterSequenceNumber,
        Some(&seqs[1]),
    )
    .await;
    let (got, _) = drain(&sc, it, None).await;
    assert_eq!(got.iter().map(seq_str).collect::<Vec<_>>(), seqs[2..]);
    let it = iterator(
        &sc,
        &arn,
        &shard,
        ShardIteratorType::AfterSequenceNumber,
        Some(&seqs[2]),
    )
    .await;
    let (got, next) = drain(&sc, it, None).await;
    assert!(got.is_empty());
    assert!(next.is_some());
    // The shard's StartingSequenceNumber reads from the start too.
    let shards = all_shards(&sc, &arn).await;
    let start = shards
        .iter()
        .find(|s| s.shard_id() == Some(shard.as_str()))
        .and_then(|s| s.sequence_number_range())
        .and_then(|r| r.starting_sequence_number())
        .unwrap()
        .to_string();
    assert!(start.parse::<u128>().unwrap() <= seqs[0].parse::<u128>().unwrap());
    let it = iterator(
        &sc,
        &arn,
        &shard,
        ShardIteratorType::AtSequenceNumber,
        Some(&start),
    )
    .await;
    let (got, _) = drain(&sc, it, None).await;
    assert_eq!(got.len(), 3);

    // LATEST: nothing until the next write, then exactly that write.
    let latest = iterator(&sc, &arn, &shard, ShardIteratorType::Latest, None).await;
    let page = sc
        .get_records()
        .shard_iterator(&latest)
        .send()
        .await
        .unwrap();
    assert!(
        page.records().is_empty(),
        "LATEST starts after the newest record"
    );
    let next = page
        .next_shard_iterator()
        .expect("NextShardIterator on an open shard")
        .to_string();
    put(
        &c,
        &t,
        &item(&[("pk", s("k")), ("sk", n("1")), ("i", n("99"))]),
    )
    .await;
    let (got, _) = drain(&sc, next, None).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].dynamodb().unwrap().new_image().unwrap().get("i"),
        Some(&Sav::N("99".into()))
    );
    // The LATEST iterator itself is a position, not a moving target.
    let (got, _) = drain(&sc, latest, None).await;
    assert_eq!(got.len(), 1);

    // Sequence numbers only with AT_/AFTER_SEQUENCE_NUMBER (DynamoDB: ValidationException).
    for kind in [
        ShardIteratorType::AtSequenceNumber,
        ShardIteratorType::AfterSequenceNumber,
    ] {
        let e = sc
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(&shard)
            .shard_iterator_type(kind.clone())
            .send()
            .await
            .unwrap_err();
        assert_error(
            &e,
            "ValidationException",
            &["SequenceNumber", kind.as_str()],
        );
    }
    for kind in [ShardIteratorType::TrimHorizon, ShardIteratorType::Latest] {
        let e = sc
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(&shard)
            .shard_iterator_type(kind.clone())
            .sequence_number(&seqs[0])
            .send()
            .await
            .unwrap_err();
        assert_error(
            &e,
            "ValidationException",
            &["SequenceNumber", kind.as_str()],
        );
    }
    let e = sc
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(&shard)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .sequence_number("not-a-number-at-all-xx")
        .send()
        .await
        .unwrap_err();
    assert_error(
        &e,
        "ValidationException",
        &["SequenceNumber", "not-a-number-at-all-xx"],
    );
    // Beyond the end of the shard.
    let beyond = format!("1{:020}", 100_000_000_000u64);
    let e = sc
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(&shard)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .sequence_number(&beyond)
        .send()
        .await
        .unwrap_err();
    assert_error(
        &e,
        "ValidationException",
        &[&beyond, "beyond the end", &shard],
    );
    // Not a number Eddy issued (too large for its counter).
    let e = sc
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(&shard)
        .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
        .sequence_number("1".to_string() + &"9".repeat(20))
        .send()
        .await
        .unwrap_err();
    assert_error(&e, "ValidationException", &["Invalid SequenceNumber"]);
    let e = sc
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(&shard)
        .shard_iterator_type(ShardIteratorType::from("SIDEWAYS"))
        .send()
        .await
        .unwrap_err();
    assert_error(
        &e,
        "ValidationException",
        &["SIDEWAYS", "shardIteratorType"],
    );
}

#[tokio::test]
async fn get_records_paging_and_limits() {
    let server = start_sharded();
    let (c, sc) = (server.client(), server.streams_client());
    let t = table_name("spage");
    let arn = create_table(&c, &t, Some(DdbView::KeysOnly)).await.unwrap();
    const N: usize = 23;
    for i in 0..N {
        put(
            &c,
            &t,
            &item(&[("pk", s("one")), ("sk", n(&i.to_string()))]),
        )
        .await;
    }
    let (shard, all) = shard_of(&sc, &arn, "one", N).await;
    assert_eq!(all.len(), N);
    for limit in [1, 5, 7, 1000] {
        let it = iterator(&sc, &arn, &shard, ShardIteratorType::TrimHorizon, None).await;
        let (got, next) = drain(&sc, it, Some(limit)).await;
        assert_eq!(
            got.iter().map(seq_str).collect::<Vec<_>>(),
            all.iter().map(seq_str).collect::<Vec<_>>(),
            "Limit {limit} pages through every record once, in order"
        );
        assert!(next.is_some());
    }
    // An exact page.
    let it = iterator(&sc, &arn, &shard, ShardIteratorType::TrimHorizon, None).await;
    let page = sc
        .get_records()
        .shard_iterator(&it)
        .limit(5)
        .send()
        .await
        .unwrap();
    assert_eq!(page.records().len(), 5);

    // An open shard with nothing new: empty Records and a next iterator.
    let latest = iterator(&sc, &arn, &shard, ShardIteratorType::Latest, None).await;
    let page = sc
        .get_records()
        .shard_iterator(&latest)
        .send()
        .await
        .unwrap();
    assert!(page.records().is_empty());
    assert!(page.next_shard_iterator().is_some());

    for bad in [0, 1001, -1] {
        let e = sc
            .get_records()
            .shard_iterator(&it)
            .limit(bad)
            .send()
            .await
            .unwrap_err();
        assert_error(&e, "ValidationException", &["limit", &bad.to_string()]);
    }
}

// ---------------------------------------------------------------------------
// stream lifecycle
// ---------------------------------------------------------------------------

#[tokio::test]
async fn disable_reenable_and_delete_table() {
    let server = start_sharded();
    let (c, sc) = (server.client(), server.streams_client());
    let t = table_name("slife");
    let old_arn = create_table(&c, &t, Some(DdbView::NewAndOldImages))
        .await
        .unwrap();
    let old_label = check_stream_arn(&old_arn, &t);
    for i in 0..6 {
        put(
            &c,
            &t,
            &item(&[("pk", s(&format!("p{i}"))), ("sk", n("1"))]),
        )
        .await;
    }
    let before = read_at_least(&sc, &old_arn, 6).await;
    assert_eq!(before.len(), 6);
    // Iterators taken while the stream is enabled stay usable after it is disabled.
    let shards = all_shards(&sc, &old_arn).await;
    let mut early = Vec::new();
    for sh in &shards {
        early.push(
            iterator(
                &sc,
                &old_arn,
                sh.shard_id().unwrap(),
                ShardIteratorType::TrimHorizon,
                None,
            )
            .await,
        );
    }

    // Enabling an enabled stream: ValidationException, as DynamoDB answers.
    let e = set_stream(&c, &t, Some(DdbView::NewAndOldImages))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        format!("ValidationException: Table already has an enabled stream: TableName: {t}")
    );
    let e = set_stream(&c, &t, Some(DdbView::KeysOnly))
        .await
        .unwrap_err();
    assert!(
        e.starts_with("ValidationException: Table already has an enabled stream"),
        "{e}"
    );

    set_stream(&c, &t, None).await.unwrap();
    let e = set_stream(&c, &t, None).await.unwrap_err();
    assert!(e.starts_with("ValidationException: "), "{e}");
    assert!(e.contains("disabled") && e.contains(&t), "{e}");

    let d = c.describe_table().table_name(&t).send().await.unwrap();
    let d = d.table().unwrap();
    assert_eq!(
        d.latest_stream_arn(),
        Some(old_arn.as_str()),
        "the disabled stream is still the latest"
    );
    assert!(d.stream_specification().is_none_or(|s| !s.stream_enabled()));

    // Writes while disabled are not recorded anywhere.
    put(&c, &t, &item(&[("pk", s("while-off")), ("sk", n("1"))])).await;

    // The old stream: DISABLED, every shard closed, still readable, and each
    // shard's iterator chain ends once drained.
    let out = sc
        .describe_stream()
        .stream_arn(&old_arn)
        .send()
        .await
        .unwrap();
    let d = out.stream_description().unwrap();
    assert_eq!(d.stream_status(), Some(&StreamStatus::Disabled));
    assert_eq!(d.shards().len(), SHARDS);
    let mut total = Vec::new();
    for (sh, it) in d.shards().iter().zip(early) {
        let range = sh.sequence_number_range().unwrap();
        let end = range
            .ending_sequence_number()
            .expect("EndingSequenceNumber on a closed shard");
        assert!(end.bytes().all(|b| b.is_ascii_digit()) && (21..=40).contains(&end.len()));
        let (got, next) = drain(&sc, it, Some(2)).await;
        assert!(
            next.is_none(),
            "NextShardIterator is absent once a closed shard is drained"
        );
        for r in &got {
            assert!(
                seq(r) <= end.parse::<u128>().unwrap(),
                "records end at EndingSequenceNumber"
            );
        }
        // A new TRIM_HORIZON iterator on the closed shard reads the same.
        let it = iterator(
            &sc,
            &old_arn,
            sh.shard_id().unwrap(),
            ShardIteratorType::TrimHorizon,
            None,
        )
        .await;
        let (again, next) = drain(&sc, it, None).await;
        assert!(next.is_none());
        assert_eq!(
            again.iter().map(seq_str).collect::<Vec<_>>(),
            got.iter().map(seq_str).collect::<Vec<_>>()
        );
        // LATEST on a closed shard: nothing, and the end.
        let it = iterator(
            &sc,
            &old_arn,
            sh.shard_id().unwrap(),
            ShardIteratorType::Latest,
            None,
        )
        .await;
        let page = sc.get_records().shard_iterator(&it).send().await.unwrap();
        assert!(page.records().is_empty());
        assert!(page.next_shard_iterator().is_none());
        total.extend(got);
    }
    assert_eq!(total.len(), 6);

    // Re-enabling creates a new stream with a new label.
    set_stream(&c, &t, Some(DdbView::KeysOnly)).await.unwrap();
    let d = c.describe_table().table_name(&t).send().await.unwrap();
    let d = d.table().unwrap();
    let new_arn = d.latest_stream_arn().unwrap().to_string();
    let new_label = check_stream_arn(&new_arn, &t);
    assert_ne!(new_arn, old_arn);
    assert_ne!(new_label, old_label);
    assert_eq!(d.latest_stream_label(), Some(new_label.as_str()));
    assert_eq!(
        d.stream_specification().and_then(|s| s.stream_view_type()),
        Some(&DdbView::KeysOnly)
    );
    let out = sc
        .describe_stream()
        .stream_arn(&new_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.stream_description().unwrap().stream_status(),
        Some(&StreamStatus::Enabled)
    );
    put(&c, &t, &item(&[("pk", s("after")), ("sk", n("1"))])).await;
    let new_records = read_at_least(&sc, &new_arn, 1).await;
    assert_eq!(
        new_records.len(),
        1,
        "the new stream starts empty: {new_records:#?}"
    );
    assert_eq!(record_pk(&new_records[0]), "after");
    assert_eq!(
        read_stream(&sc, &old_arn).await.len(),
        6,
        "the old stream is unchanged"
    );

    // DeleteTable closes the stream; it stays readable.
    c.delete_table().table_name(&t).send().await.unwrap();
    let out = sc
        .describe_stream()
        .stream_arn(&new_arn)
        .send()
        .await
        .unwrap();
    let d = out.stream_description().unwrap();
    assert_eq!(d.stream_status(), Some(&StreamStatus::Disabled));
    assert!(d.shards().iter().all(|s| {
        s.sequence_number_range()
            .unwrap()
            .ending_sequence_number()
            .is_some()
    }));
    let after_delete = read_stream(&sc, &new_arn).await;
    assert_eq!(after_delete.len(), 1);
    let listed = sc.list_streams().table_name(&t).send().await.unwrap();
    assert_eq!(
        listed.streams().len(),
        2,
        "both streams of the deleted table are listed"
    );
}

#[tokio::test]
async fn expired_iterator() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(
        dir.path(),
        &["--shard-iterator-ttl-s", "1", "--table-shards", "4"],
    );
    let (c, sc) = (server.client(), server.streams_client());
    let t = table_name("sexp");
    let arn = create_table(&c, &t, Some(DdbView::KeysOnly)).await.unwrap();
    let shard = all_shards(&sc, &arn).await[0]
        .shard_id()
        .unwrap()
        .to_string();
    let issued = Instant::now();
    let it = iterator(&sc, &arn, &shard, ShardIteratorType::TrimHorizon, None).await;
    sc.get_records()
        .shard_iterator(&it)
        .send()
        .await
        .expect("fresh iterator works");
    let deadline = issued + Duration::from_secs(10);
    let e = loop {
        match sc.get_records().shard_iterator(&it).send().await {
            Ok(_) => {
                assert!(Instant::now() < deadline, "the iterator never expired");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => break e,
        }
    };
    assert!(
        issued.elapsed() >= Duration::from_millis(900),
        "expired too early: {:?}",
        issued.elapsed()
    );
    assert_error(
        &e,
        "ExpiredIteratorException",
        &["Iterator expired", "1000 milliseconds"],
    );
    // A fresh one works again.
    let it = iterator(&sc, &arn, &shard, ShardIteratorType::TrimHorizon, None).await;
    sc.get_records()
        .shard_iterator(&it)
        .send()
        .await
        .expect("fresh iterator works");
}

#[tokio::test]
async fn trimmed_data_access() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(
        dir.path(),
        &["--stream-retention-s", "1", "--table-shards", "4"],
    );
    let (c, sc) = (server.client(), server.streams_client());
    let t = table_name("strim");
    let arn = create_table(&c, &t, Some(DdbView::NewImage)).await.unwrap();
    put(
        &c,
        &t,
        &item(&[("pk", s("k")), ("sk", n("1")), ("v", s("old"))]),
    )
    .await;
    let (shard, recs) = shard_of(&sc, &arn, "k", 1).await;
    let old_seq = seq_str(&recs[0]).to_string();
    let early = iterator(&sc, &arn, &shard, ShardIteratorType::TrimHorizon, None).await;

    // Wait (bounded) until the trimmer removed the record.
    let deadline = Instant::now() + WAIT;
    let e = loop {
        match sc
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(&shard)
            .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
            .sequence_number(&old_seq)
            .send()
            .await
        {
            Ok(_) => {
                assert!(Instant::now() < deadline, "the record was never trimmed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => break e,
        }
    };
    assert_error(
        &e,
        "TrimmedDataAccessException",
        &["The operation attempted to read past the oldest stream record in a shard"],
    );
    // An iterator taken before the trim now points before the trim horizon.
    let e = sc
        .get_records()
        .shard_iterator(&early)
        .send()
        .await
        .unwrap_err();
    assert_error(
        &e,
        "TrimmedDataAccessException",
        &["The operation attempted to read past the oldest stream record in a shard"],
    );

    // TRIM_HORIZON works and sees only newer records. (With a 1 s retention the new
    // record may itself be trimmed before a slow read; then write another.)
    let deadline = Instant::now() + WAIT;
    for i in 0.. {
        let v = format!("new{i}");
        put(
            &c,
            &t,
            &item(&[("pk", s("k")), ("sk", n("1")), ("v", s(&v))]),
        )
        .await;
        let it = iterator(&sc, &arn, &shard, ShardIteratorType::TrimHorizon, None).await;
        let page = sc.get_records().shard_iterator(&it).send().await.unwrap();
        let vals: Vec<String> = page
            .records()
            .iter()
            .filter_map(|r| match r.dynamodb()?.new_image()?.get("v") {
                Some(Sav::S(x)) => Some(x.clone()),
                _ => None,
            })
            .collect();
        assert!(
            !vals.iter().any(|x| x == "old"),
            "the trimmed record is gone: {vals:?}"
        );
        for r in page.records() {
            assert!(seq(r) > old_seq.parse::<u128>().unwrap());
        }
        if vals.contains(&v) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "TRIM_HORIZON never showed a fresh record"
        );
    }
}

// ---------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------

#[tokio::test]
async fn bad_arns_unknown_streams_shards_and_iterators() {
    let server = start_sharded();
    let (c, sc) = (server.client(), server.streams_client());
    let t = table_name("serr");
    let arn = create_table(&c, &t, Some(DdbView::KeysOnly)).await.unwrap();
    let shard = all_shards(&sc, &arn).await[0]
        .shard_id()
        .unwrap()
        .to_string();

    // Malformed ARN: ValidationException (DynamoDB; DynamoDB Local says
    // ResourceNotFoundException).
    let garbage = "sdfadfsdfnlfkajakfgjalksfgklasjklasdjfklasdfasdfgasf";
    let e = sc
        .describe_stream()
        .stream_arn(garbage)
        .send()
        .await
        .unwrap_err();
    assert_error(&e, "ValidationException", &["StreamArn", garbage]);
    let e = sc
        .get_shard_iterator()
        .stream_arn(garbage)
        .shard_id(&shard)
        .shard_iterator_type(ShardIteratorType::Latest)
        .send()
        .await
        .unwrap_err();
    assert_error(&e, "ValidationException", &["StreamArn", garbage]);
    let e = sc
        .list_streams()
        .exclusive_start_stream_arn(garbage)
        .send()
        .await
        .unwrap_err();
    assert_error(&e, "ValidationException", &["StreamArn"]);

    // Well-formed but unknown: ResourceNotFoundException naming it.
    let unknown = arn.replace(&format!("table/{t}/"), "table/no-such-table/");
    let e = sc
        .describe_stream()
        .stream_arn(&unknown)
        .send()
        .await
        .unwrap_err();
    assert_error(&e, "ResourceNotFoundException", &[&unknown]);
    let other_label = format!(
        "{}/stream/2001-01-01T00:00:00.000",
        arn.split("/stream/").next().unwrap()
    );
    let e = sc
        .describe_stream()
        .stream_arn(&other_label)
        .send()
        .await
        .unwrap_err();
    assert_error(&e, "ResourceNotFoundException", &[&other_label]);

    // Unknown shard id.
    let bad_shard = "shardId-00000000000000000000-ffffffffffff";
    let e = sc
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(bad_shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap_err();
    assert_error(&e, "ResourceNotFoundException", &[bad_shard]);

    // Garbage and tampered iterators.
    let e = sc
        .get_records()
        .shard_iterator("sdfsdfsgagaddafgagasgasgasdfasdfasdf")
        .send()
        .await
        .unwrap_err();
    assert_error(&e, "ValidationException", &["ShardIterator"]);
    let good = iterator(&sc, &arn, &shard, ShardIteratorType::TrimHorizon, None).await;
    let mut tampered = good.clone().into_bytes();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == b'0' { b'1' } else { b'0' };
    let e = sc
        .get_records()
        .shard_iterator(String::from_utf8(tampered).unwrap())
        .send()
        .await
        .unwrap_err();
    assert_error(&e, "ValidationException", &["ShardIterator"]);

    // Missing required members.
    let e = sc.describe_stream().send().await.unwrap_err();
    assert_error(&e, "ValidationException", &["streamArn"]);
}

/// A new table has one stream shard, as on DynamoDB, unless the server was started
/// with `--table-shards`.
#[tokio::test]
async fn a_new_table_has_one_shard_by_default() {
    use aws_sdk_dynamodb::types::{StreamSpecification, StreamViewType};
    let server = Server::start();
    let c = server.client();
    let t = table_name("oneshard");
    crate::control::create(&c, &t, false).await;
    let desc = c
        .update_table()
        .table_name(&t)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::KeysOnly)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .table_description
        .unwrap();
    let arn = desc.latest_stream_arn().unwrap().to_string();
    let s = crate::harness::streams_client(&server.endpoint);
    let d = s.describe_stream().stream_arn(&arn).send().await.unwrap();
    assert_eq!(d.stream_description.unwrap().shards().len(), 1);
}
