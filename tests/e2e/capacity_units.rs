//! ConsumedCapacity through the AWS SDK for Rust, with exact numbers: each read and
//! write measured by DynamoDB's rules (engine/src/capacity/units.rs names the sources),
//! in the shape `ReturnConsumedCapacity` asks for.
//!
//! Item sizes are DynamoDB's: attribute name bytes plus value bytes. The items here are
//! a string key `pk` and a string `d` padded to a chosen size, so `sized(pk, n)` is an
//! item of exactly `n` bytes.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as Av, BillingMode, ConsumedCapacity, Delete, Get,
    GlobalSecondaryIndex, KeySchemaElement, KeyType, KeysAndAttributes, LocalSecondaryIndex,
    Projection, ProjectionType, Put, PutRequest, ReturnConsumedCapacity as Rcc,
    ScalarAttributeType, TransactGetItem, TransactWriteItem, WriteRequest,
};

use crate::control::create;
use crate::harness::{Server, table_name};

type Item = HashMap<String, Av>;

fn s(v: &str) -> Av {
    Av::S(v.into())
}

/// An item `{pk, d}` of exactly `bytes` bytes (`pk` + its value + `d` + the padding).
fn sized(pk: &str, bytes: usize) -> Item {
    let pad = bytes - "pk".len() - pk.len() - "d".len();
    HashMap::from([
        ("pk".to_string(), s(pk)),
        ("d".to_string(), s(&"x".repeat(pad))),
    ])
}

fn key(pk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk))])
}

/// `TableName` and `CapacityUnits` of a TOTAL answer, checking it has no split.
fn total(c: Option<&ConsumedCapacity>) -> (String, f64) {
    let c = c.expect("ConsumedCapacity was asked for");
    assert_eq!(c.read_capacity_units(), None, "no read/write split: {c:?}");
    assert_eq!(c.write_capacity_units(), None, "no read/write split: {c:?}");
    assert!(c.table().is_none(), "TOTAL has no Table arm: {c:?}");
    (
        c.table_name().unwrap_or_default().to_string(),
        c.capacity_units().expect("CapacityUnits"),
    )
}

async fn put(c: &Client, t: &str, item: Item) -> Option<ConsumedCapacity> {
    c.put_item()
        .table_name(t)
        .set_item(Some(item))
        .return_consumed_capacity(Rcc::Total)
        .send()
        .await
        .expect("put")
        .consumed_capacity
}

#[tokio::test]
async fn get_item_charges_4kb_units_half_for_eventual_reads_and_the_minimum_for_nothing() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("cu-get");
    create(&c, &t, false).await;
    put(&c, &t, sized("small", 3500)).await;
    put(&c, &t, sized("four", 4096)).await;
    put(&c, &t, sized("large", 4097)).await;
    let get = |pk: &str, consistent: bool| {
        c.get_item()
            .table_name(&t)
            .set_key(Some(key(pk)))
            .consistent_read(consistent)
            .return_consumed_capacity(Rcc::Total)
            .send()
    };
    for (pk, consistent, want) in [
        ("small", false, 0.5),
        ("small", true, 1.0),
        ("four", true, 1.0),
        ("large", false, 1.0),
        ("large", true, 2.0),
        ("missing", false, 0.5),
        ("missing", true, 1.0),
    ] {
        let out = get(pk, consistent).await.expect("get");
        assert_eq!(
            total(out.consumed_capacity()),
            (t.clone(), want),
            "{pk} consistent={consistent}"
        );
    }
    // A projection does not make the read cheaper: the whole item is read.
    let out = c
        .get_item()
        .table_name(&t)
        .set_key(Some(key("large")))
        .projection_expression("pk")
        .consistent_read(true)
        .return_consumed_capacity(Rcc::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(total(out.consumed_capacity()).1, 2.0);
    // NONE, or no ReturnConsumedCapacity at all, answers no ConsumedCapacity.
    let none = c
        .get_item()
        .table_name(&t)
        .set_key(Some(key("small")))
        .return_consumed_capacity(Rcc::None)
        .send()
        .await
        .unwrap();
    assert!(none.consumed_capacity().is_none());
    let absent = c
        .get_item()
        .table_name(&t)
        .set_key(Some(key("small")))
        .send()
        .await
        .unwrap();
    assert!(absent.consumed_capacity().is_none());
}

#[tokio::test]
async fn writes_charge_1kb_units_of_the_larger_image() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("cu-write");
    create(&c, &t, false).await;
    // A new item: its own size, rounded up to 1 KB.
    assert_eq!(total(put(&c, &t, sized("a", 1024)).await.as_ref()).1, 1.0);
    assert_eq!(total(put(&c, &t, sized("b", 1025)).await.as_ref()).1, 2.0);
    // Overwriting with a larger item costs the larger; with a smaller one, still the
    // larger (the old item's).
    assert_eq!(total(put(&c, &t, sized("a", 2500)).await.as_ref()).1, 3.0);
    assert_eq!(total(put(&c, &t, sized("a", 100)).await.as_ref()).1, 3.0);
    // An update is charged on the item before or after, whichever is larger.
    let up = c
        .update_item()
        .table_name(&t)
        .set_key(Some(key("a")))
        .update_expression("SET e = :e")
        .expression_attribute_values(":e", s(&"y".repeat(3000)))
        .return_consumed_capacity(Rcc::Total)
        .send()
        .await
        .unwrap();
    // 100 bytes + "e" + 3000 = 3101 bytes: 4 units.
    assert_eq!(total(up.consumed_capacity()), (t.clone(), 4.0));
    // Deleting is charged on the deleted item; deleting nothing still costs one.
    let del = |pk: &'static str| {
        c.delete_item()
            .table_name(&t)
            .set_key(Some(key(pk)))
            .return_consumed_capacity(Rcc::Total)
            .send()
    };
    assert_eq!(total(del("a").await.unwrap().consumed_capacity()).1, 4.0);
    assert_eq!(
        total(del("missing").await.unwrap().consumed_capacity()).1,
        1.0
    );
    // A failed condition is an error, and an error carries no ConsumedCapacity.
    let failed = c
        .put_item()
        .table_name(&t)
        .set_item(Some(sized("b", 10)))
        .condition_expression("attribute_not_exists(pk)")
        .return_consumed_capacity(Rcc::Total)
        .send()
        .await
        .expect_err("the condition fails");
    assert_eq!(failed.code(), Some("ConditionalCheckFailedException"));
    assert_eq!(failed.message(), Some("The conditional request failed"));
}

/// A table `pk` (S) / `sk` (N) holding three items of about 1,500 bytes in partition
/// `p` (4,500 bytes together, two 4 KB blocks; each alone under one).
async fn three_items(c: &Client, t: &str) {
    create(c, t, true).await;
    for sk in ["1", "2", "3"] {
        let mut item = sized("p", 1500);
        item.insert("sk".into(), Av::N(sk.into()));
        put(c, t, item).await;
    }
}

#[tokio::test]
async fn query_and_scan_sum_what_they_read_and_round_once() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("cu-query");
    three_items(&c, &t).await;
    let query = || {
        c.query()
            .table_name(&t)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("p"))
            .return_consumed_capacity(Rcc::Total)
    };
    let strong = query().consistent_read(true).send().await.unwrap();
    assert_eq!(strong.count(), 3);
    assert_eq!(total(strong.consumed_capacity()), (t.clone(), 2.0));
    let eventual = query().send().await.unwrap();
    assert_eq!(total(eventual.consumed_capacity()).1, 1.0);
    // A filter does not lower the cost: what was read is charged.
    let filtered = query()
        .filter_expression("d = :none")
        .expression_attribute_values(":none", s("nothing matches"))
        .send()
        .await
        .unwrap();
    assert_eq!((filtered.count(), filtered.scanned_count()), (0, 3));
    assert_eq!(total(filtered.consumed_capacity()).1, 1.0);
    // Limit stops the read: one item of 1.5 KB is half a unit.
    let limited = query().limit(1).send().await.unwrap();
    assert_eq!(total(limited.consumed_capacity()).1, 0.5);
    // A Query that finds nothing still costs the minimum.
    let empty = c
        .query()
        .table_name(&t)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("nobody"))
        .consistent_read(true)
        .return_consumed_capacity(Rcc::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(total(empty.consumed_capacity()).1, 1.0);
    // A Scan, Select COUNT or not, is charged the same way.
    let scan = c
        .scan()
        .table_name(&t)
        .consistent_read(true)
        .select(aws_sdk_dynamodb::types::Select::Count)
        .return_consumed_capacity(Rcc::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(scan.count(), 3);
    assert_eq!(total(scan.consumed_capacity()), (t.clone(), 2.0));
}

#[tokio::test]
async fn batches_round_each_item_and_answer_one_entry_per_table() {
    let server = Server::start();
    let c = server.client();
    let (t, u) = (table_name("cu-batch"), table_name("cu-batch-other"));
    create(&c, &t, false).await;
    create(&c, &u, false).await;
    // BatchWriteItem: 500 bytes and 3.5 KB are 1 + 4 units, not 4; the other table's
    // tiny item 1.
    let w = |item: Item| {
        WriteRequest::builder()
            .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
            .build()
    };
    let out = c
        .batch_write_item()
        .request_items(&t, vec![w(sized("a", 500)), w(sized("b", 3584))])
        .request_items(&u, vec![w(sized("c", 10))])
        .return_consumed_capacity(Rcc::Total)
        .send()
        .await
        .unwrap();
    let mut got: Vec<(String, f64)> = out
        .consumed_capacity()
        .iter()
        .map(|c| total(Some(c)))
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, [(t.clone(), 5.0), (u.clone(), 1.0)]);
    // BatchGetItem: 1.5 KB and 6.5 KB read strongly are 1 + 2 units, not 2; a missing
    // key costs the minimum.
    put(&c, &t, sized("a", 1536)).await;
    put(&c, &t, sized("b", 6656)).await;
    let keys = |pks: &[&str], consistent: bool| {
        KeysAndAttributes::builder()
            .set_keys(Some(pks.iter().map(|p| key(p)).collect()))
            .consistent_read(consistent)
            .build()
            .unwrap()
    };
    let out = c
        .batch_get_item()
        .request_items(&t, keys(&["a", "b"], true))
        .request_items(&u, keys(&["c", "missing"], false))
        .return_consumed_capacity(Rcc::Total)
        .send()
        .await
        .unwrap();
    let mut got: Vec<(String, f64)> = out
        .consumed_capacity()
        .iter()
        .map(|c| total(Some(c)))
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, [(t.clone(), 3.0), (u.clone(), 1.0)]);
}

#[tokio::test]
async fn transactions_cost_twice_and_split_read_and_write_units() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("cu-tx");
    create(&c, &t, false).await;
    put(&c, &t, sized("old", 3000)).await;
    let put_action = |item: Item| {
        TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&t)
                    .set_item(Some(item))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    // Two small puts (2 each) and the delete of a 3,000-byte item (2 x 3).
    let out = c
        .transact_write_items()
        .transact_items(put_action(sized("a", 10)))
        .transact_items(put_action(sized("b", 900)))
        .transact_items(
            TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(&t)
                        .set_key(Some(key("old")))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .return_consumed_capacity(Rcc::Total)
        .send()
        .await
        .unwrap();
    let [cc] = out.consumed_capacity() else {
        panic!("one entry per table: {:?}", out.consumed_capacity());
    };
    assert_eq!(cc.table_name(), Some(t.as_str()));
    assert_eq!(cc.capacity_units(), Some(10.0));
    assert_eq!(cc.write_capacity_units(), Some(10.0));
    assert_eq!(cc.read_capacity_units(), None);
    // TransactGetItems: 2 units per 4 KB, a missing item too.
    let get = |pk: &str| {
        TransactGetItem::builder()
            .get(
                Get::builder()
                    .table_name(&t)
                    .set_key(Some(key(pk)))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let out = c
        .transact_get_items()
        .transact_items(get("a"))
        .transact_items(get("old"))
        .return_consumed_capacity(Rcc::Indexes)
        .send()
        .await
        .unwrap();
    let [cc] = out.consumed_capacity() else {
        panic!("one entry per table: {:?}", out.consumed_capacity());
    };
    assert_eq!(cc.capacity_units(), Some(4.0));
    assert_eq!(cc.read_capacity_units(), Some(4.0));
    assert_eq!(cc.write_capacity_units(), None);
    let table = cc.table().expect("INDEXES has the Table arm");
    assert_eq!(table.capacity_units(), Some(4.0));
    assert_eq!(table.read_capacity_units(), Some(4.0));
    // A replay of a transaction (its client request token again) is answered by
    // reading: a transactional read of each item it names (dynamodb-conformance's
    // captures: 2 write units on the first call, 2 read units on the replay).
    let tokened = || {
        c.transact_write_items()
            .transact_items(put_action(sized("r", 10)))
            .client_request_token("replay-token")
            .return_consumed_capacity(Rcc::Total)
            .send()
    };
    let first = tokened().await.unwrap();
    let [cc] = first.consumed_capacity() else {
        panic!("{first:?}");
    };
    assert_eq!(
        (
            cc.capacity_units(),
            cc.write_capacity_units(),
            cc.read_capacity_units()
        ),
        (Some(2.0), Some(2.0), None)
    );
    let replay = tokened().await.unwrap();
    let [cc] = replay.consumed_capacity() else {
        panic!("{replay:?}");
    };
    assert_eq!(
        (
            cc.capacity_units(),
            cc.write_capacity_units(),
            cc.read_capacity_units()
        ),
        (Some(2.0), None, Some(2.0))
    );
    // A cancelled transaction answers the cancellation, without ConsumedCapacity.
    let failed = c
        .transact_write_items()
        .transact_items(
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&t)
                        .set_item(Some(sized("a", 10)))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .return_consumed_capacity(Rcc::Total)
        .send()
        .await
        .expect_err("cancelled");
    assert_eq!(failed.code(), Some("TransactionCanceledException"));
}

/// A table `pk`/`sk` (S) with a global index `gsi` on `g` projecting `proj`, and a
/// local index `lsi` on `pk`/`l` projecting keys only.
async fn create_indexed(c: &Client, t: &str) {
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let elem = |n: &str, k: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(k)
            .build()
            .unwrap()
    };
    c.create_table()
        .table_name(t)
        .set_attribute_definitions(Some(vec![attr("pk"), attr("sk"), attr("g"), attr("l")]))
        .key_schema(elem("pk", KeyType::Hash))
        .key_schema(elem("sk", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("gsi")
                .key_schema(elem("g", KeyType::Hash))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::Include)
                        .non_key_attributes("proj")
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name("lsi")
                .key_schema(elem("pk", KeyType::Hash))
                .key_schema(elem("l", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create table");
}

/// `(total, table, gsi arm, lsi arm)` of an INDEXES answer.
fn arms(c: Option<&ConsumedCapacity>) -> (f64, f64, Option<f64>, Option<f64>) {
    let c = c.expect("ConsumedCapacity was asked for");
    assert_eq!(c.read_capacity_units(), None, "no split: {c:?}");
    let arm = |m: Option<&HashMap<String, aws_sdk_dynamodb::types::Capacity>>, name: &str| {
        m.map(|m| {
            assert_eq!(m.len(), 1, "{m:?}");
            m[name].capacity_units().expect("CapacityUnits")
        })
    };
    (
        c.capacity_units().expect("CapacityUnits"),
        c.table()
            .and_then(|t| t.capacity_units())
            .expect("the Table arm"),
        arm(c.global_secondary_indexes(), "gsi"),
        arm(c.local_secondary_indexes(), "lsi"),
    )
}

#[tokio::test]
async fn indexes_are_charged_on_the_entries_a_write_changes_and_a_read_reads() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("cu-idx");
    create_indexed(&c, &t).await;
    let k = HashMap::from([("pk".to_string(), s("a")), ("sk".to_string(), s("1"))]);
    // A new item in both indexes: one write each.
    let item = HashMap::from([
        ("pk".to_string(), s("a")),
        ("sk".to_string(), s("1")),
        ("g".to_string(), s("x")),
        ("l".to_string(), s("y")),
        ("proj".to_string(), s("p")),
        ("extra".to_string(), s("o")),
    ]);
    let out = c
        .put_item()
        .table_name(&t)
        .set_item(Some(item))
        .return_consumed_capacity(Rcc::Indexes)
        .send()
        .await
        .unwrap();
    assert_eq!(
        arms(out.consumed_capacity()),
        (3.0, 1.0, Some(1.0), Some(1.0))
    );
    let update = |expr: &'static str, values: Vec<(&'static str, Av)>| {
        c.update_item()
            .table_name(&t)
            .set_key(Some(k.clone()))
            .update_expression(expr)
            .set_expression_attribute_values((!values.is_empty()).then(|| {
                values
                    .into_iter()
                    .map(|(n, v)| (n.to_string(), v))
                    .collect()
            }))
            .return_consumed_capacity(Rcc::Indexes)
            .send()
    };
    // An attribute neither index stores: the table alone, and no index arm at all.
    let out = update("SET extra = :o", vec![(":o", s("o2"))])
        .await
        .unwrap();
    assert_eq!(arms(out.consumed_capacity()), (1.0, 1.0, None, None));
    // A projected attribute of the global index: one write there.
    let out = update("SET proj = :p", vec![(":p", s("p2"))])
        .await
        .unwrap();
    assert_eq!(arms(out.consumed_capacity()), (2.0, 1.0, Some(1.0), None));
    // The global index's key moves: a delete and a put, two writes.
    let out = update("SET g = :g", vec![(":g", s("x2"))]).await.unwrap();
    assert_eq!(arms(out.consumed_capacity()), (3.0, 1.0, Some(2.0), None));
    // The local index's key removed: the entry's delete, one write.
    let out = update("REMOVE l", vec![]).await.unwrap();
    assert_eq!(arms(out.consumed_capacity()), (2.0, 1.0, None, Some(1.0)));
    // The global index's entry grows to 2,993 bytes (pk, sk, g and proj): 3 units, as
    // an entry is charged on its own size with no per-entry overhead (100 bytes more
    // would make it 4). The table's item is 2,999 bytes, 3 units.
    let out = update("SET proj = :p", vec![(":p", s(&"z".repeat(2980)))])
        .await
        .unwrap();
    assert_eq!(arms(out.consumed_capacity()), (6.0, 3.0, Some(3.0), None));
    // A Query of the global index reads its entries, on the index: the Table arm is
    // there with nothing.
    let out = c
        .query()
        .table_name(&t)
        .index_name("gsi")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", s("x2"))
        .return_consumed_capacity(Rcc::Indexes)
        .send()
        .await
        .unwrap();
    assert_eq!(out.count(), 1);
    assert_eq!(arms(out.consumed_capacity()), (0.5, 0.0, Some(0.5), None));
    // In a transaction the table's write costs twice; the index writes do not (dynoxide
    // PR 188, measured against DynamoDB). The 2,993-byte GSI entry moves (3 + 1).
    let out = c
        .transact_write_items()
        .transact_items(
            TransactWriteItem::builder()
                .update(
                    aws_sdk_dynamodb::types::Update::builder()
                        .table_name(&t)
                        .set_key(Some(k.clone()))
                        .update_expression("SET g = :g, proj = :p")
                        .expression_attribute_values(":g", s("x3"))
                        .expression_attribute_values(":p", s("p"))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .return_consumed_capacity(Rcc::Indexes)
        .send()
        .await
        .unwrap();
    let [cc] = out.consumed_capacity() else {
        panic!("{out:?}");
    };
    let gsi = &cc.global_secondary_indexes().expect("the GSI arm")["gsi"];
    assert_eq!(
        (
            cc.capacity_units(),
            cc.write_capacity_units(),
            cc.table().and_then(|t| t.write_capacity_units()),
            gsi.capacity_units(),
            gsi.write_capacity_units(),
            cc.local_secondary_indexes().is_none(),
        ),
        (
            Some(10.0),
            Some(10.0),
            Some(6.0),
            Some(4.0),
            Some(4.0),
            true
        )
    );
    update("SET g = :g", vec![(":g", s("x2"))]).await.unwrap();
    // A Query of the local index for attributes it does not store fetches the item
    // from the table: the entries on the index's arm, the fetched item (4 KB rounded,
    // eventually consistent) on the table's.
    update("SET l = :l", vec![(":l", s("y"))]).await.unwrap();
    let out = c
        .query()
        .table_name(&t)
        .index_name("lsi")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("a"))
        .projection_expression("extra")
        .return_consumed_capacity(Rcc::Indexes)
        .send()
        .await
        .unwrap();
    assert_eq!(out.count(), 1);
    assert_eq!(arms(out.consumed_capacity()), (1.0, 0.5, None, Some(0.5)));
}

#[tokio::test]
async fn partiql_statements_answer_their_consumed_capacity() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("cu-partiql");
    create(&c, &t, false).await;
    let run = |statement: String, consistent: bool| {
        c.execute_statement()
            .statement(statement)
            .consistent_read(consistent)
            .return_consumed_capacity(Rcc::Total)
            .send()
    };
    let pad = "x".repeat(2000);
    let out = run(
        format!("INSERT INTO \"{t}\" VALUE {{'pk': 'a', 'd': '{pad}'}}"),
        false,
    )
    .await
    .unwrap();
    // 2 + 1 + 1 + 2000 bytes: 2 write units.
    assert_eq!(total(out.consumed_capacity()), (t.clone(), 2.0));
    let out = run(format!("SELECT * FROM \"{t}\" WHERE pk = 'a'"), true)
        .await
        .unwrap();
    assert_eq!(out.items().len(), 1);
    assert_eq!(total(out.consumed_capacity()), (t.clone(), 1.0));
    let out = run(format!("SELECT * FROM \"{t}\" WHERE pk = 'a'"), false)
        .await
        .unwrap();
    assert_eq!(total(out.consumed_capacity()).1, 0.5);
    let out = run(format!("DELETE FROM \"{t}\" WHERE pk = 'a'"), false)
        .await
        .unwrap();
    assert_eq!(total(out.consumed_capacity()).1, 2.0);
}
