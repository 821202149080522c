//! Global and Local Secondary Indexes through the AWS SDK for Rust: CreateTable and
//! DescribeTable with both index lists, index maintenance on every write path, Query
//! and Scan on indexes (key conditions, order, paging, projections, parallel
//! segments), DynamoDB's validation errors, indexes surviving a SIGKILL and a table
//! being dropped and recreated, and indexes added and deleted through UpdateTable: the
//! background backfill of the items already there (`CREATING` with `Backfilling` until
//! it is done), the items it leaves out for index-key violations (a 66,500-byte key
//! among them), and a backfill killed by SIGKILL resuming on restart.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::create_table::{CreateTableError, CreateTableOutput};
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::operation::update_table::builders::UpdateTableFluentBuilder as TableUpdate;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as Av, BillingMode, ConditionCheck,
    CreateGlobalSecondaryIndexAction as CreateAction, Delete, DeleteGlobalSecondaryIndexAction,
    DeleteRequest, GlobalSecondaryIndex as Gsi, GlobalSecondaryIndexDescription as GsiDescription,
    GlobalSecondaryIndexUpdate as GsiUpdate, IndexStatus, KeySchemaElement, KeyType,
    LocalSecondaryIndex as Lsi, Projection, ProjectionType, Put, PutRequest,
    ScalarAttributeType as Ty, Select, StreamSpecification, StreamViewType, TableDescription,
    TransactWriteItem, Update, WriteRequest,
};

use crate::harness::{Server, table_name};

type Item = HashMap<String, Av>;

/// What an index query that finds nothing returns, as ids.
const NONE: [&str; 0] = [];

/// A condition that fails for an item that exists.
const NOT_EXISTS: &str = "attribute_not_exists(pk)";

fn s(v: &str) -> Av {
    Av::S(v.into())
}

fn n(v: i64) -> Av {
    Av::N(v.to_string())
}

/// An item written as `"pk/sk attr=text attr:number ..."` (`=` gives a string, `:` a
/// number); the sort key is `-` when the first word has no `/`, so `item("u1")` is
/// the key of `item("u1 email=a@x")`.
fn item(spec: &str) -> Item {
    let mut words = spec.split_whitespace();
    let first = words.next().expect("a key");
    let (pk, sk) = first.split_once('/').unwrap_or((first, "-"));
    let mut it = Item::from([("pk".into(), s(pk)), ("sk".into(), s(sk))]);
    for w in words {
        let (k, v) = match w.split_once('=') {
            Some((k, v)) => (k, s(v)),
            None => w
                .split_once(':')
                .map(|(k, v)| (k, Av::N(v.into())))
                .unwrap(),
        };
        it.insert(k.into(), v);
    }
    it
}

fn key_schema(hash: &str, range: Option<&str>) -> Vec<KeySchemaElement> {
    let range = range.map(|r| (r, KeyType::Range));
    let elements = std::iter::once((hash, KeyType::Hash)).chain(range);
    let element = |(name, kind)| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
    };
    elements.map(|e| element(e).build().unwrap()).collect()
}

fn projection(kind: ProjectionType, include: &[&str]) -> Projection {
    let include: Vec<String> = include.iter().map(|a| a.to_string()).collect();
    let include = (!include.is_empty()).then_some(include);
    Projection::builder()
        .projection_type(kind)
        .set_non_key_attributes(include)
        .build()
}

fn keys_only() -> Projection {
    projection(ProjectionType::KeysOnly, &[])
}

fn gsi(name: &str, hash: &str, range: Option<&str>, p: Projection) -> Gsi {
    let ks = Some(key_schema(hash, range));
    let g = Gsi::builder().index_name(name).projection(p);
    g.set_key_schema(ks).build().unwrap()
}

fn lsi(name: &str, hash: &str, range: &str, p: Projection) -> Lsi {
    let ks = Some(key_schema(hash, Some(range)));
    let l = Lsi::builder().index_name(name).projection(p);
    l.set_key_schema(ks).build().unwrap()
}

/// Sends an on-demand CreateTable; empty index lists are left out, as DynamoDB rejects
/// an empty list.
async fn try_create(
    c: &Client,
    name: &str,
    defs: &[(&str, Ty)],
    (hash, range): (&str, Option<&str>),
    gsis: Vec<Gsi>,
    lsis: Vec<Lsi>,
) -> Result<CreateTableOutput, SdkError<CreateTableError>> {
    let def = |(name, ty): &(&str, Ty)| {
        let d = AttributeDefinition::builder().attribute_name(*name);
        d.attribute_type(ty.clone()).build().unwrap()
    };
    c.create_table()
        .table_name(name)
        .set_attribute_definitions(Some(defs.iter().map(def).collect()))
        .set_key_schema(Some(key_schema(hash, range)))
        .set_global_secondary_indexes((!gsis.is_empty()).then_some(gsis))
        .set_local_secondary_indexes((!lsis.is_empty()).then_some(lsis))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
}

/// Creates the table most tests use: key pk (S) + sk (S); GSI `by_email` on email (S),
/// ALL; GSI `by_status_time` on status (S) + created (N), INCLUDE name; LSI `by_rank`
/// on pk + rank (N), KEYS_ONLY.
async fn create_users(c: &Client, t: &str) -> TableDescription {
    let defs = [
        ("pk", Ty::S),
        ("sk", Ty::S),
        ("email", Ty::S),
        ("status", Ty::S),
        ("created", Ty::N),
        ("rank", Ty::N),
    ];
    let include_name = projection(ProjectionType::Include, &["name"]);
    let all = projection(ProjectionType::All, &[]);
    let gsis = vec![
        gsi("by_email", "email", None, all),
        gsi("by_status_time", "status", Some("created"), include_name),
    ];
    let lsis = vec![lsi("by_rank", "pk", "rank", keys_only())];
    let out = try_create(c, t, &defs, ("pk", Some("sk")), gsis, lsis).await;
    out.expect("create the users table")
        .table_description
        .unwrap()
}

/// A fresh server with a users table: the server, a client and the table's name.
async fn users(prefix: &str) -> (Server, Client, String) {
    let server = Server::start();
    let c = server.client();
    let t = table_name(prefix);
    create_users(&c, &t).await;
    (server, c, t)
}

async fn describe(c: &Client, t: &str) -> TableDescription {
    let out = c.describe_table().table_name(t).send().await.unwrap();
    out.table.unwrap()
}

async fn put(c: &Client, t: &str, spec: &str) {
    try_put(c, t, spec).send().await.unwrap();
}

async fn get(c: &Client, t: &str, key: &str) -> Option<Item> {
    let g = c.get_item().table_name(t).set_key(Some(item(key)));
    g.consistent_read(true).send().await.unwrap().item
}

/// `SET #a = :v` when `v` is given, `REMOVE #a` otherwise (placeholders because
/// `status`, `name` and `rank` are reserved words).
async fn try_set(
    c: &Client,
    t: &str,
    key: &str,
    attr: &str,
    v: Option<Av>,
) -> Result<UpdateItemOutput, SdkError<UpdateItemError>> {
    let u = c.update_item().table_name(t).set_key(Some(item(key)));
    let u = u.expression_attribute_names("#a", attr);
    let u = match v {
        Some(v) => u
            .update_expression("SET #a = :v")
            .expression_attribute_values(":v", v),
        None => u.update_expression("REMOVE #a"),
    };
    u.send().await
}

async fn set(c: &Client, t: &str, key: &str, attr: &str, v: Option<Av>) {
    try_set(c, t, key, attr, v).await.unwrap();
}

/// A Query on `index` with key condition `cond`, whose values `vals` bind to `:a`,
/// `:b` and `:c` in order; `#status` and `#rank` stand for those reserved words.
fn query(c: &Client, t: &str, index: &str, cond: &str, vals: &[Av]) -> QueryFluentBuilder {
    let q = c.query().table_name(t).index_name(index);
    let mut q = q.key_condition_expression(cond);
    for word in ["status", "rank"] {
        if cond.contains(&format!("#{word}")) {
            q = q.expression_attribute_names(format!("#{word}"), word);
        }
    }
    for (v, p) in vals.iter().zip([":a", ":b", ":c"]) {
        q = q.expression_attribute_values(p, v.clone());
    }
    q
}

/// Pages through a Query or a Scan, following LastEvaluatedKey; yields the items in
/// order and the key each page stopped at.
macro_rules! all_pages {
    ($q:expr) => {{
        let (q, mut items, mut stops) = ($q, Vec::<Item>::new(), Vec::<Item>::new());
        let mut start = None;
        loop {
            let out = q.clone().set_exclusive_start_key(start).send().await;
            let out = out.unwrap();
            items.extend(out.items().iter().cloned());
            let Some(k) = out.last_evaluated_key else {
                break (items, stops);
            };
            stops.push(k.clone());
            start = Some(k);
            assert!(stops.len() < 500, "paging does not end");
        }
    }};
}

async fn query_pages(q: QueryFluentBuilder) -> (Vec<Item>, Vec<Item>) {
    all_pages!(q)
}

async fn scan_pages(q: ScanFluentBuilder) -> (Vec<Item>, Vec<Item>) {
    all_pages!(q)
}

/// The items of every page of `q`.
async fn query_all(q: QueryFluentBuilder) -> Vec<Item> {
    query_pages(q).await.0
}

fn scan(c: &Client, t: &str, index: &str) -> ScanFluentBuilder {
    c.scan().table_name(t).index_name(index)
}

/// The items of every page of a Scan of `index`.
async fn scan_all(c: &Client, t: &str, index: &str) -> Vec<Item> {
    scan_pages(scan(c, t, index)).await.0
}

/// Each item's `pk`, or `pk/sk` when its sort key is not `-`, sorted: GSI keys need
/// not be unique and DynamoDB promises no order among items with equal index keys.
fn ids<'a>(items: impl IntoIterator<Item = &'a Item>) -> Vec<String> {
    let id = |i: &Item| match (i["pk"].as_s().unwrap(), i["sk"].as_s().unwrap()) {
        (pk, sk) if sk == "-" => pk.clone(),
        (pk, sk) => format!("{pk}/{sk}"),
    };
    let mut v: Vec<String> = items.into_iter().map(id).collect();
    v.sort();
    v
}

fn nums(items: &[Item], attr: &str) -> Vec<i64> {
    let num = |i: &Item| i[attr].as_n().unwrap().parse::<i64>().unwrap();
    items.iter().map(num).collect()
}

/// The attribute names of `it`, sorted.
fn names(it: &Item) -> Vec<&str> {
    let mut v: Vec<&str> = it.keys().map(String::as_str).collect();
    v.sort();
    v
}

/// The ids of all items in `by_email` under `email`.
async fn by_email(c: &Client, t: &str, email: &str) -> Vec<String> {
    ids(&query_all(query(c, t, "by_email", "email = :a", &[s(email)])).await)
}

/// The error code and message of a failed call.
fn failure<E: ProvideErrorMetadata>(e: E) -> (String, String) {
    let code = e.code().unwrap_or("<none>").to_string();
    (code, e.message().unwrap_or_default().to_string())
}

/// The error code of a call that must have failed.
fn code_of<T>(r: Result<T, impl ProvideErrorMetadata>) -> String {
    match r.map_err(failure) {
        Ok(_) => panic!("expected an error, the call succeeded"),
        Err((code, _)) => code,
    }
}

/// The message of a call that must have failed with a ValidationException.
fn validation<T>(r: Result<T, impl ProvideErrorMetadata>) -> String {
    match r.map_err(failure) {
        Ok(_) => panic!("expected a ValidationException, the call succeeded"),
        Err((code, message)) => {
            assert_eq!(code, "ValidationException", "{message}");
            message
        }
    }
}

fn put_request(spec: &str) -> WriteRequest {
    let put = PutRequest::builder().set_item(Some(item(spec)));
    let put = put.build().unwrap();
    WriteRequest::builder().put_request(put).build()
}

fn delete_request(key: &str) -> WriteRequest {
    let delete = DeleteRequest::builder().set_key(Some(item(key)));
    let delete = delete.build().unwrap();
    WriteRequest::builder().delete_request(delete).build()
}

/// Sends a BatchWriteItem that must be processed whole.
async fn batch(c: &Client, t: &str, reqs: Vec<WriteRequest>) {
    let out = c.batch_write_item().request_items(t, reqs).send().await;
    let unprocessed = out.unwrap().unprocessed_items;
    assert!(unprocessed.is_none_or(|u| u.is_empty()));
}

fn try_put(c: &Client, t: &str, spec: &str) -> PutItemFluentBuilder {
    c.put_item().table_name(t).set_item(Some(item(spec)))
}

/// One GSI or LSI description as text: name, key schema, projection type and included
/// attributes, `status` (`-` for none), ARN with the table's ARN shortened to `T`, and
/// item count.
macro_rules! summary {
    ($i:expr, $status:expr, $table_arn:expr) => {{
        let (i, status): (_, Option<&IndexStatus>) = ($i, $status);
        let key = |k: &KeySchemaElement| format!("{}:{}", k.attribute_name(), k.key_type());
        let ks: Vec<_> = i.key_schema().iter().map(key).collect();
        let p = i.projection().unwrap();
        let p = (
            p.projection_type().unwrap().as_str(),
            p.non_key_attributes(),
        );
        let arn = i.index_arn().unwrap_or_default().replace($table_arn, "T");
        let (name, status) = (i.index_name().unwrap(), status.map_or("-", |s| s.as_str()));
        format!("{name} {ks:?} {p:?} {status} {arn} {:?}", i.item_count())
    }};
}

#[tokio::test]
async fn describe_table_reports_both_index_lists_with_exact_counts() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("idx-describe");
    let created = create_users(&c, &t).await;
    assert_eq!(created.global_secondary_indexes().len(), 2);
    assert_eq!(created.local_secondary_indexes().len(), 1);

    // Each index counts only the items that carry all of its key attributes: u5 has a
    // status but no `created`.
    put(&c, &t, "u1 email=a@x status=open created:1").await;
    put(&c, &t, "u2 email=b@x name=Bo").await;
    put(&c, &t, "u3 status=open created:2 rank:3").await;
    put(&c, &t, "u4 name=Dan").await;
    put(&c, &t, "u5 rank:1 status=open").await;
    let d = describe(&c, &t).await;
    assert_eq!(d.item_count(), Some(5));
    assert_eq!(d.attribute_definitions().len(), 6);
    let arn = d.table_arn().unwrap();
    let gsis = d.global_secondary_indexes().iter();
    let mut gsis: Vec<String> = gsis.map(|g| summary!(g, g.index_status(), arn)).collect();
    gsis.sort();
    assert_eq!(
        gsis,
        [
            r#"by_email ["email:HASH"] ("ALL", []) ACTIVE T/index/by_email Some(2)"#,
            concat!(
                r#"by_status_time ["status:HASH", "created:RANGE"] ("INCLUDE", ["name"]) "#,
                "ACTIVE T/index/by_status_time Some(2)"
            ),
        ]
    );
    let lsis = d.local_secondary_indexes().iter();
    let lsis = lsis.map(|l| summary!(l, None, arn));
    let want = r#"by_rank ["pk:HASH", "rank:RANGE"] ("KEYS_ONLY", []) - T/index/by_rank Some(2)"#;
    assert_eq!(lsis.collect::<Vec<_>>(), [want]);
}

#[tokio::test]
async fn every_write_path_maintains_the_gsi() {
    let (_server, c, t) = users("idx-writes").await;
    put(&c, &t, "u1 email=a@x").await;
    put(&c, &t, "u2 email=a@x").await;
    put(&c, &t, "u3 email=b@x").await;
    put(&c, &t, "u4 name=Dan").await;
    assert_eq!(by_email(&c, &t, "a@x").await, ["u1", "u2"]);
    assert_eq!(by_email(&c, &t, "b@x").await, ["u3"]);

    // A PutItem that replaces an item moves it to its new index key.
    put(&c, &t, "u2 email=b@x").await;
    assert_eq!(by_email(&c, &t, "a@x").await, ["u1"]);
    assert_eq!(by_email(&c, &t, "b@x").await, ["u2", "u3"]);

    // SET of the index key moves the item; REMOVE of it drops the item from the index.
    set(&c, &t, "u1", "email", Some(s("c@x"))).await;
    set(&c, &t, "u3", "email", None).await;
    assert_eq!(by_email(&c, &t, "a@x").await, NONE);
    assert_eq!(by_email(&c, &t, "b@x").await, ["u2"]);
    assert_eq!(by_email(&c, &t, "c@x").await, ["u1"]);

    // SET brings an item without the key into the index, and a later SET of another
    // attribute refreshes the copy that an ALL projection holds.
    set(&c, &t, "u4", "email", Some(s("a@x"))).await;
    set(&c, &t, "u4", "age", Some(n(40))).await;
    let got = query_all(query(&c, &t, "by_email", "email = :a", &[s("a@x")])).await;
    assert_eq!(got, [item("u4 name=Dan email=a@x age:40")]);

    // A write whose condition fails must leave the index as it was.
    let p = try_put(&c, &t, "u4 email=z@x");
    let e = p.condition_expression(NOT_EXISTS).send().await;
    assert_eq!(code_of(e), "ConditionalCheckFailedException");
    assert_eq!(by_email(&c, &t, "a@x").await, ["u4"]);
    assert_eq!(by_email(&c, &t, "z@x").await, NONE);

    let d = c.delete_item().table_name(&t).set_key(Some(item("u4")));
    d.send().await.unwrap();
    assert_eq!(by_email(&c, &t, "a@x").await, NONE);

    let puts = ["u5 email=a@x", "u6 email=a@x"].map(put_request);
    batch(&c, &t, [&puts[..], &[delete_request("u1")]].concat()).await;
    assert_eq!(by_email(&c, &t, "a@x").await, ["u5", "u6"]);
    assert_eq!(by_email(&c, &t, "c@x").await, NONE);

    let tx = TransactWriteItem::builder;
    let tx_put = |spec: &str| {
        let p = Put::builder().table_name(&t).set_item(Some(item(spec)));
        tx().put(p.build().unwrap()).build()
    };
    let update = Update::builder().table_name(&t).set_key(Some(item("u5")));
    let update = update.update_expression("SET email = :e");
    let update = update.expression_attribute_values(":e", s("d@x")).build();
    let delete = Delete::builder().table_name(&t).set_key(Some(item("u6")));
    let items = vec![
        tx_put("u7 email=a@x"),
        tx().update(update.unwrap()).build(),
        tx().delete(delete.build().unwrap()).build(),
    ];
    let w = c.transact_write_items().set_transact_items(Some(items));
    w.send().await.unwrap();
    assert_eq!(by_email(&c, &t, "a@x").await, ["u7"]);
    assert_eq!(by_email(&c, &t, "d@x").await, ["u5"]);

    // A cancelled transaction must not leave its Put in the index.
    let check = ConditionCheck::builder().table_name(&t);
    let check = check.set_key(Some(item("u7")));
    let check = check.condition_expression(NOT_EXISTS).build();
    let items = vec![
        tx_put("u8 email=a@x"),
        tx().condition_check(check.unwrap()).build(),
    ];
    let w = c.transact_write_items().set_transact_items(Some(items));
    assert_eq!(code_of(w.send().await), "TransactionCanceledException");
    assert_eq!(by_email(&c, &t, "a@x").await, ["u7"]);

    // The whole index, through Scan and DescribeTable, is exactly the items that still
    // have an email.
    assert_eq!(ids(&scan_all(&c, &t, "by_email").await), ["u2", "u5", "u7"]);
    let d = describe(&c, &t).await;
    let gsis = d.global_secondary_indexes().iter();
    let mut gsis = gsis.filter(|g| g.index_name() == Some("by_email"));
    assert_eq!(gsis.next().unwrap().item_count(), Some(3));
}

#[tokio::test]
async fn sparse_index_holds_only_items_with_every_index_key_attribute() {
    let (_server, c, t) = users("idx-sparse").await;
    put(&c, &t, "s1 status=open created:1").await;
    put(&c, &t, "s2 status=open").await;
    put(&c, &t, "s3 created:2").await;
    put(&c, &t, "s4 name=none").await;
    put(&c, &t, "s5 status=open created:3 email=e@x").await;

    let q = query(&c, &t, "by_status_time", "#status = :a", &[s("open")]);
    assert_eq!(ids(&query_all(q).await), ["s1", "s5"]);
    assert_eq!(ids(&scan_all(&c, &t, "by_status_time").await), ["s1", "s5"]);
    assert_eq!(ids(&scan_all(&c, &t, "by_email").await), ["s5"]);

    // Completing the index key of s2 brings it in.
    set(&c, &t, "s2", "created", Some(n(9))).await;
    let all = scan_all(&c, &t, "by_status_time").await;
    assert_eq!(ids(&all), ["s1", "s2", "s5"]);
}

#[tokio::test]
async fn gsi_sort_key_conditions_order_and_shared_key_values() {
    let (_server, c, t) = users("idx-range").await;
    // o3 and o5 share both index key values: a GSI key is not unique.
    for (i, at) in [5, 1, 8, 2, 3, 2].into_iter().enumerate() {
        put(&c, &t, &format!("o{i} status=open created:{at}")).await;
    }
    put(&c, &t, "c0 status=closed created:2").await;
    put(&c, &t, "c1 status=closed created:1").await;
    // The open items matching a condition on `created`, whose values bind from `:b`.
    let open = async |cond: &str, vals: &[Av]| {
        let vals = [&[s("open")][..], vals].concat();
        let cond = format!("#status = :a {cond}");
        query_all(query(&c, &t, "by_status_time", &cond, &vals)).await
    };
    let created = async |cond: &str, vals: &[Av]| nums(&open(cond, vals).await, "created");
    assert_eq!(created("", &[]).await, [1, 2, 2, 3, 5, 8]);
    assert_eq!(created("AND created = :b", &[n(2)]).await, [2, 2]);
    assert_eq!(ids(&open("AND created = :b", &[n(2)]).await), ["o3", "o5"]);
    assert_eq!(created("AND created < :b", &[n(3)]).await, [1, 2, 2]);
    assert_eq!(created("AND created <= :b", &[n(3)]).await, [1, 2, 2, 3]);
    assert_eq!(created("AND created > :b", &[n(3)]).await, [5, 8]);
    assert_eq!(created("AND created >= :b", &[n(3)]).await, [3, 5, 8]);
    let between = "AND created BETWEEN :b AND :c";
    assert_eq!(created(between, &[n(2), n(5)]).await, [2, 2, 3, 5]);

    let closed = query(&c, &t, "by_status_time", "#status = :a", &[s("closed")]);
    assert_eq!(nums(&query_all(closed).await, "created"), [1, 2]);
    let q = query(&c, &t, "by_status_time", "#status = :a", &[s("open")]);
    let desc = query_all(q.scan_index_forward(false)).await;
    assert_eq!(nums(&desc, "created"), [8, 5, 3, 2, 2, 1]);
}

#[tokio::test]
async fn gsi_begins_with_on_a_string_sort_key_of_a_hash_only_table() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("idx-prefix");
    let defs = [("pk", Ty::S), ("team", Ty::S), ("handle", Ty::S)];
    let all = projection(ProjectionType::All, &[]);
    let g = gsi("by_team_handle", "team", Some("handle"), all);
    let created = try_create(&c, &t, &defs, ("pk", None), vec![g], vec![]).await;
    created.unwrap();
    let handles = ["ab", "abc", "abd", "b", "abc", "a", "abc"];
    for (i, handle) in handles.into_iter().enumerate() {
        let team = if i == 4 { "blue" } else { "red" };
        let mut it = item(&format!("h{i} team={team} handle={handle}"));
        it.remove("sk");
        let p = c.put_item().table_name(&t).set_item(Some(it));
        p.send().await.unwrap();
    }
    let cond = "team = :a AND begins_with(handle, :b)";
    let q = query(&c, &t, "by_team_handle", cond, &[s("red"), s("ab")]);
    let handles = |items: &[Item]| -> Vec<String> {
        let handle = |i: &Item| i["handle"].as_s().unwrap().clone();
        items.iter().map(handle).collect()
    };
    let got = query_all(q.clone()).await;
    assert_eq!(handles(&got), ["ab", "abc", "abc", "abd"]);
    let mut pks: Vec<_> = got.iter().map(|i| i["pk"].as_s().unwrap()).collect();
    pks.sort();
    assert_eq!(pks, ["h0", "h1", "h2", "h6"]);
    let (got, stops) = query_pages(q.scan_index_forward(false).limit(1)).await;
    assert_eq!(handles(&got), ["abd", "abc", "abc", "ab"]);
    // On a hash-only table a page stops at the table key plus the index key.
    assert!(stops.len() >= 3);
    for k in &stops {
        assert_eq!(names(k), ["handle", "pk", "team"]);
    }
}

#[tokio::test]
async fn gsi_and_lsi_paging_returns_every_item_once() {
    let (_server, c, t) = users("idx-pages").await;
    // Many items share each `created` value, so page boundaries fall inside runs of
    // equal index keys, where only the table key tells items apart.
    for i in 0..25 {
        put(&c, &t, &format!("m{i:02} status=many created:{}", i % 7)).await;
        put(&c, &t, &format!("p/s{i:02} rank:{}", i % 4)).await;
    }
    put(&c, &t, "x status=few created:1").await;
    let want: Vec<String> = (0..25).map(|i| format!("m{i:02}")).collect();
    for limit in [1, 3, 7, 25] {
        for forward in [true, false] {
            let q = query(&c, &t, "by_status_time", "#status = :a", &[s("many")]);
            let q = q.limit(limit).scan_index_forward(forward);
            let (items, stops) = query_pages(q).await;
            assert_eq!(ids(&items), want, "limit {limit}, forward {forward}");
            let mut order = nums(&items, "created");
            if !forward {
                order.reverse();
            }
            assert!(order.is_sorted(), "index order across pages: {order:?}");
            assert!(stops.len() >= 24 / limit as usize, "Limit {limit} pages");
            for k in &stops {
                assert_eq!(names(k), ["created", "pk", "sk", "status"]);
            }
        }
    }
    let q = query(&c, &t, "by_rank", "pk = :a", &[s("p")]).limit(5);
    let (items, stops) = query_pages(q).await;
    assert!(nums(&items, "rank").is_sorted());
    let want: Vec<String> = (0..25).map(|i| format!("p/s{i:02}")).collect();
    assert_eq!(ids(&items), want);
    assert!(stops.len() >= 4);
    for k in &stops {
        assert_eq!(names(k), ["pk", "rank", "sk"]);
    }
}

#[tokio::test]
async fn projections_shape_what_index_reads_return() {
    let (_server, c, t) = users("idx-proj").await;
    let full = "p/a email=a@x status=open created:1 name=Ann rank:3 age:30";
    let nameless = "p/b status=open created:2 rank:1 age:31";
    put(&c, &t, full).await;
    put(&c, &t, nameless).await;

    let got = query_all(query(&c, &t, "by_email", "email = :a", &[s("a@x")])).await;
    assert_eq!(got, [item(full)], "ALL projects every attribute");

    let open = query(&c, &t, "by_status_time", "#status = :a", &[s("open")]);
    let got = query_all(open.clone()).await;
    let got: Vec<_> = got.iter().map(names).collect();
    let with_name = vec!["created", "name", "pk", "sk", "status"];
    let included = [with_name, vec!["created", "pk", "sk", "status"]];
    assert_eq!(got, included, "INCLUDE: keys and included attributes");
    let explicit = open.clone().select(Select::AllProjectedAttributes);
    let explicit = explicit.send().await.unwrap();
    let explicit: Vec<_> = explicit.items().iter().map(names).collect();
    assert_eq!(explicit, included);

    let by_p = query(&c, &t, "by_rank", "pk = :a", &[s("p")]);
    let got: Vec<_> = query_all(by_p.clone()).await;
    let got: Vec<_> = got.iter().map(names).collect();
    assert_eq!(got, [["pk", "rank", "sk"]; 2], "KEYS_ONLY: the keys");

    let m = validation(open.clone().select(Select::AllAttributes).send().await);
    assert_eq!(
        m,
        "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not \
         supported for global secondary index by_status_time because its projection type \
         is not ALL"
    );

    let count = open.select(Select::Count).send().await.unwrap();
    assert_eq!(count.count, 2);
    assert!(count.items().is_empty());
    let count = scan(&c, &t, "by_email").select(Select::Count);
    assert_eq!(count.send().await.unwrap().count, 1);

    // An LSI can fetch what it does not project from its table, so ALL_ATTRIBUTES on
    // a KEYS_ONLY LSI returns whole items, in rank order.
    let whole = by_p.select(Select::AllAttributes).send().await.unwrap();
    assert_eq!(whole.items(), [item(nameless), item(full)]);
}

#[tokio::test]
async fn consistent_reads_unknown_indexes_and_wrong_key_conditions() {
    let (_server, c, t) = users("idx-reads").await;
    put(&c, &t, "p/a email=a@x rank:1").await;

    let q = query(&c, &t, "by_email", "email = :a", &[s("a@x")]);
    let m = validation(q.consistent_read(true).send().await);
    let gsi_consistent = "Consistent reads are not supported on global secondary indexes";
    assert_eq!(m, gsi_consistent);

    // An LSI lives in its table's partitions, so it can be read consistently.
    let q = query(&c, &t, "by_rank", "pk = :a", &[s("p")]);
    assert_eq!(q.consistent_read(true).send().await.unwrap().count, 1);

    let nope = "The table does not have the specified index: nope";
    let q = query(&c, &t, "nope", "email = :a", &[s("a@x")]);
    assert_eq!(validation(q.send().await), nope);
    assert_eq!(validation(scan(&c, &t, "nope").send().await), nope);

    // The key condition must name the index's key, not the table's.
    let q = query(&c, &t, "by_email", "pk = :a", &[s("p")]);
    let m = validation(q.send().await);
    let missed = "Query condition missed key schema element";
    assert!(m.contains(missed), "{m}");
}

#[tokio::test]
async fn index_key_of_the_wrong_type_is_rejected_and_writes_nothing() {
    let (_server, c, t) = users("idx-types").await;
    let u1 = "u1 email=a@x status=open created:1 rank:2";
    put(&c, &t, u1).await;
    let mismatch = |attr: &str, want: &str, got: &str, index: &str| {
        format!(
            "One or more parameter values were invalid: Type mismatch for Index Key {attr} \
             Expected: {want} Actual: {got} IndexName: {index}"
        )
    };
    let email_n = mismatch("email", "S", "N", "by_email");
    let try_put = |spec: &str| try_put(&c, &t, spec).send();

    assert_eq!(validation(try_put("u1 email:5").await), email_n);
    let m = validation(try_put("u2 status=open created=x").await);
    assert_eq!(m, mismatch("created", "N", "S", "by_status_time"));
    let m = validation(try_set(&c, &t, "u1", "email", Some(n(5))).await);
    assert_eq!(m, email_n);
    let m = validation(try_set(&c, &t, "u1", "rank", Some(s("high"))).await);
    assert_eq!(m, mismatch("rank", "N", "S", "by_rank"));

    // One bad item fails the whole batch, so its good neighbour is not written either.
    let batch = vec![put_request("u3 email=c@x"), put_request("u4 email:7")];
    let m = validation(c.batch_write_item().request_items(&t, batch).send().await);
    assert_eq!(m, email_n);

    assert_eq!(get(&c, &t, "u1").await, Some(item(u1)));
    for pk in ["u2", "u3", "u4"] {
        assert_eq!(get(&c, &t, pk).await, None, "{pk}");
    }
    assert_eq!(by_email(&c, &t, "a@x").await, ["u1"]);
    assert_eq!(by_email(&c, &t, "c@x").await, NONE);
    assert_eq!(ids(&scan_all(&c, &t, "by_status_time").await), ["u1"]);
}

#[tokio::test]
async fn create_table_rejects_invalid_index_definitions() {
    let server = Server::start();
    let c = server.client();
    let invalid = "One or more parameter values were invalid: ";
    // Each CreateTable must fail with a message starting as given and create nothing.
    let rejected = async |defs: &[(&str, Ty)], key, gsis, lsis, want: &str| {
        let t = table_name("idx-bad");
        let m = validation(try_create(&c, &t, defs, key, gsis, lsis).await);
        let want = format!("{invalid}{want}");
        assert!(m.starts_with(&want), "{m:?} should start with {want:?}");
        let gone = c.describe_table().table_name(&t).send().await;
        assert_eq!(code_of(gone), "ResourceNotFoundException");
    };
    let email_gsi = |name: &str| gsi(name, "email", None, keys_only());
    // The message goes on to list the AttributeDefinitions, in an order DynamoDB does
    // not document, so only its start is checked.
    let undefined = "Some index key attributes are not defined in AttributeDefinitions. \
                     Keys: [email]";
    let gsis = vec![email_gsi("by_email")];
    rejected(&[("pk", Ty::S)], ("pk", None), gsis, vec![], undefined).await;

    let table = ("pk", Some("sk"));
    let defs = [
        ("pk", Ty::S),
        ("sk", Ty::S),
        ("email", Ty::S),
        ("rank", Ty::N),
    ];
    let dup = "Duplicate index name: dup";
    let gsis = vec![email_gsi("dup"), email_gsi("dup")];
    rejected(&defs[..3], table, gsis, vec![], dup).await;
    // GSIs and LSIs share one namespace of index names.
    let lsis = vec![lsi("dup", "pk", "rank", keys_only())];
    rejected(&defs, table, vec![email_gsi("dup")], lsis, dup).await;

    let lsis = vec![lsi("by_email_rank", "email", "rank", keys_only())];
    let other_hash = "Index KeySchema does not have the same leading hash key as table \
                      KeySchema for index: by_email_rank. index hash key: email, table hash \
                      key: pk";
    rejected(&defs, table, vec![], lsis, other_hash).await;

    let listed = c.list_tables().send().await.unwrap();
    assert!(
        listed.table_names().is_empty(),
        "{:?}",
        listed.table_names()
    );
}

#[tokio::test]
async fn indexes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let c = server.client();
    let t = table_name("idx-crash");
    create_users(&c, &t).await;
    let (u3, p) = ("u3 status=open created:4 name=Ann", "p/x rank:5 age:1");
    for spec in ["u1 email=a@x", "u2 email=a@x", u3, p] {
        put(&c, &t, spec).await;
    }
    set(&c, &t, "u2", "email", Some(s("b@x"))).await;
    server.kill9();

    let server = Server::start_in(dir.path(), &[]);
    let c = server.client();
    let d = describe(&c, &t).await;
    assert_eq!(d.global_secondary_indexes().len(), 2);
    assert_eq!(d.local_secondary_indexes().len(), 1);
    assert_eq!(d.item_count(), Some(4));
    assert_eq!(by_email(&c, &t, "a@x").await, ["u1"]);
    assert_eq!(by_email(&c, &t, "b@x").await, ["u2"]);
    let q = query(&c, &t, "by_status_time", "#status = :a", &[s("open")]);
    assert_eq!(query_all(q).await, [item(u3)]);
    let q = query(&c, &t, "by_rank", "pk = :a", &[s("p")]);
    assert_eq!(query_all(q).await, [item("p/x rank:5")]);

    // The restarted server keeps maintaining the recovered index.
    set(&c, &t, "u1", "email", Some(s("b@x"))).await;
    assert_eq!(by_email(&c, &t, "a@x").await, NONE);
    assert_eq!(by_email(&c, &t, "b@x").await, ["u1", "u2"]);
}

#[tokio::test]
async fn recreated_table_starts_with_empty_indexes() {
    let (_server, c, t) = users("idx-recreate").await;
    put(&c, &t, "old email=a@x status=open created:1 rank:1").await;
    c.delete_table().table_name(&t).send().await.unwrap();
    let gone = c.wait_until_table_not_exists().table_name(&t);
    gone.wait(Duration::from_secs(10)).await.unwrap();

    create_users(&c, &t).await;
    assert_eq!(by_email(&c, &t, "a@x").await, NONE);
    let q = query(&c, &t, "by_status_time", "#status = :a", &[s("open")]);
    assert!(query_all(q).await.is_empty());
    let q = query(&c, &t, "by_rank", "pk = :a", &[s("old")]);
    assert!(query_all(q).await.is_empty());
    for index in ["by_email", "by_status_time", "by_rank"] {
        assert!(scan_all(&c, &t, index).await.is_empty(), "{index}");
    }
    let d = describe(&c, &t).await;
    let counts = d.global_secondary_indexes().iter().map(|g| g.item_count());
    assert_eq!(counts.collect::<Vec<_>>(), [Some(0), Some(0)]);
    assert_eq!(d.local_secondary_indexes()[0].item_count(), Some(0));

    put(&c, &t, "new email=a@x").await;
    assert_eq!(by_email(&c, &t, "a@x").await, ["new"]);
}

#[tokio::test]
async fn scan_on_an_index_covers_its_items_once_in_pages_and_segments() {
    let (_server, c, t) = users("idx-scan").await;
    // Every item has `age`; a third lack an email, half lack status, created and name,
    // and the LSI holds every fifth.
    let spec = |i: i64| {
        let mut spec = format!("i{i:02} age:{i}");
        if i % 3 != 0 {
            spec += &format!(" email=e{}@x", i % 4);
        }
        if i % 2 == 0 {
            spec += &format!(" status=s{} created:{i} name=n{i}", i % 4 / 2);
        }
        if i % 5 == 0 {
            spec += &format!(" rank:{i}");
        }
        spec
    };
    let specs: Vec<String> = (0..60).map(spec).collect();
    for chunk in specs.chunks(25) {
        batch(&c, &t, chunk.iter().map(|spec| put_request(spec)).collect()).await;
    }
    let items: Vec<Item> = specs.iter().map(|spec| item(spec)).collect();
    // The ids of the written items that have `attr`.
    let having = |attr: &str| ids(items.iter().filter(|i| i.contains_key(attr)));

    let got = scan_all(&c, &t, "by_email").await;
    assert_eq!(ids(&got), having("email"), "each indexed item once");
    for it in &got {
        let written = items.iter().find(|i| i["pk"] == it["pk"]);
        assert_eq!(Some(it), written, "ALL projects whole items");
    }

    let (got, stops) = scan_pages(scan(&c, &t, "by_status_time").limit(4)).await;
    assert_eq!(ids(&got), having("created"), "each item once across pages");
    for it in &got {
        assert_eq!(names(it), ["created", "name", "pk", "sk", "status"]);
    }
    assert!(stops.len() >= 7, "Limit 4 pages");
    for k in &stops {
        assert_eq!(names(k), ["created", "pk", "sk", "status"]);
    }

    let got = scan_all(&c, &t, "by_rank").await;
    assert_eq!(ids(&got), having("rank"));
    for it in &got {
        assert_eq!(names(it), ["pk", "rank", "sk"]);
    }

    for total in [1, 2, 3, 5] {
        let mut seen = Vec::new();
        for segment in 0..total {
            let q = scan(&c, &t, "by_email").segment(segment);
            let q = q.total_segments(total);
            seen.extend(scan_pages(q).await.0);
        }
        assert_eq!(ids(&seen), having("email"), "{total} segments");
    }
}

// UpdateTable's GlobalSecondaryIndexUpdates: an index created on a table that has
// items (with a backfill) or deleted, and the updates DynamoDB refuses.

/// The AttributeDefinitions of `by_grp`'s key.
const GRP_DEFS: &[(&str, Ty)] = &[("grp", Ty::S), ("seq", Ty::N)];

/// GSI `by_grp` on grp (S) + seq (N), INCLUDE name.
fn by_grp() -> Gsi {
    let include_name = projection(ProjectionType::Include, &["name"]);
    gsi("by_grp", "grp", Some("seq"), include_name)
}

/// Item `i` of the backfill tests: `grp` is missing from every fifth item and a number
/// (not the index's S) in items 1, 102, 203, ...; `seq` is missing from every seventh.
fn grp_spec(i: usize) -> String {
    let mut spec = format!("i{i:04} name=n{i} age:{i}");
    if i % 101 == 1 {
        spec += &format!(" grp:{i}");
    } else if !i.is_multiple_of(5) {
        spec += &format!(" grp=g{}", i % 10);
    }
    if !i.is_multiple_of(7) {
        spec += &format!(" seq:{i}");
    }
    spec
}

/// Whether `by_grp` holds `it`: both key attributes present, with their defined types.
fn indexed(it: &Item) -> bool {
    matches!(it.get("grp"), Some(Av::S(_))) && matches!(it.get("seq"), Some(Av::N(_)))
}

/// `it` as `by_grp` projects it.
fn projected(it: &Item) -> Item {
    let mut it = it.clone();
    it.retain(|k, _| ["pk", "sk", "grp", "seq", "name"].contains(&k.as_str()));
    it
}

/// Creates an on-demand table keyed pk (S) + sk (S) with these extra definitions and GSIs.
async fn table_with(c: &Client, t: &str, extra: &[(&str, Ty)], gsis: Vec<Gsi>) {
    let defs = [&[("pk", Ty::S), ("sk", Ty::S)][..], extra].concat();
    let key = ("pk", Some("sk"));
    try_create(c, t, &defs, key, gsis, vec![]).await.unwrap();
}

/// Writes items `0..n` of `grp_spec` in batches.
async fn load(c: &Client, t: &str, n: usize) {
    let specs: Vec<String> = (0..n).map(grp_spec).collect();
    for chunk in specs.chunks(25) {
        batch(c, t, chunk.iter().map(|spec| put_request(spec)).collect()).await;
    }
}

async fn delete(c: &Client, t: &str, key: &str) {
    let d = c.delete_item().table_name(t).set_key(Some(item(key)));
    d.send().await.unwrap();
}

fn create_index(g: Gsi) -> GsiUpdate {
    let a = CreateAction::builder().index_name(g.index_name());
    let a = a.set_key_schema(Some(g.key_schema().to_vec()));
    let a = a.set_projection(g.projection().cloned()).build().unwrap();
    GsiUpdate::builder().create(a).build()
}

fn delete_index(name: &str) -> GsiUpdate {
    let a = DeleteGlobalSecondaryIndexAction::builder().index_name(name);
    GsiUpdate::builder().delete(a.build().unwrap()).build()
}

/// An UpdateTable with these index updates, and AttributeDefinitions `defs` unless empty.
fn update_indexes(c: &Client, t: &str, defs: &[(&str, Ty)], u: Vec<GsiUpdate>) -> TableUpdate {
    let def = |(name, ty): &(&str, Ty)| {
        let d = AttributeDefinition::builder().attribute_name(*name);
        d.attribute_type(ty.clone()).build().unwrap()
    };
    let defs: Vec<_> = defs.iter().map(def).collect();
    let update = c.update_table().table_name(t);
    let update = update.set_attribute_definitions((!defs.is_empty()).then_some(defs));
    update.set_global_secondary_index_updates(Some(u))
}

/// Polls DescribeTable (for at most 30 s) until GSI `name` is listed and ACTIVE
/// (`Some`), or no longer listed (`None`): DynamoDB changes indexes in the background.
async fn wait_index(c: &Client, t: &str, name: &str, listed: bool) -> Option<GsiDescription> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = describe(c, t).await;
        let mut gsis = d.global_secondary_indexes().iter();
        let g = gsis.find(|g| g.index_name() == Some(name));
        let active = g.is_some_and(|g| {
            g.index_status() == Some(&IndexStatus::Active) && g.backfilling() != Some(true)
        });
        if listed == active && listed == g.is_some() {
            return g.cloned();
        }
        assert!(Instant::now() < deadline, "{name} (listed {listed}): {g:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Adds `by_grp` through UpdateTable and waits for it; returns the UpdateTable reply.
async fn add_by_grp(c: &Client, t: &str) -> TableDescription {
    let update = update_indexes(c, t, GRP_DEFS, vec![create_index(by_grp())]);
    let out = update.send().await.unwrap();
    wait_index(c, t, "by_grp", true).await;
    out.table_description.unwrap()
}

async fn drop_index(c: &Client, t: &str, name: &str) {
    let update = update_indexes(c, t, &[], vec![delete_index(name)]);
    update.send().await.unwrap();
    wait_index(c, t, name, false).await;
}

/// The GSI names and attribute definition names of `d`, each sorted, and whether a
/// stream is enabled.
fn shape(d: &TableDescription) -> (Vec<String>, Vec<String>, bool) {
    let gsis = d.global_secondary_indexes().iter();
    let mut gsis: Vec<String> = gsis.map(|g| g.index_name().unwrap().into()).collect();
    let defs = d.attribute_definitions().iter();
    let mut defs: Vec<String> = defs.map(|a| a.attribute_name().into()).collect();
    gsis.sort();
    defs.sort();
    let stream = d.stream_specification().is_some_and(|s| s.stream_enabled());
    (gsis, defs, stream || d.latest_stream_arn().is_some())
}

/// The table's items, ordered by id.
async fn table_items(c: &Client, t: &str) -> Vec<Item> {
    let q = c.scan().table_name(t).consistent_read(true);
    let mut items = scan_pages(q).await.0;
    items.sort_by_cached_key(|i| ids([i]));
    items
}

/// Checks that `by_grp` holds exactly the projection of each table item it should
/// (by a Scan of the index, with and without Select COUNT, and DescribeTable's
/// ItemCount); returns how many that is.
async fn by_grp_matches_table(c: &Client, t: &str) -> usize {
    let table = table_items(c, t).await;
    let want: Vec<Item> = table.iter().filter(|i| indexed(i)).map(projected).collect();
    let mut got = scan_all(c, t, "by_grp").await;
    got.sort_by_cached_key(|i| ids([i]));
    let (w, g) = (ids(&want), ids(&got));
    let missing: Vec<_> = w.iter().filter(|i| g.binary_search(i).is_err()).collect();
    let extra: Vec<_> = g.iter().filter(|i| w.binary_search(i).is_err()).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    let differ = got.iter().zip(&want).find(|(g, w)| g != w);
    assert_eq!(differ, None, "an indexed item differs from the table's");
    // The index's projected items are far below a 1 MB page.
    let count = scan(c, t, "by_grp")
        .select(Select::Count)
        .send()
        .await
        .unwrap();
    assert!(count.last_evaluated_key.is_none());
    assert_eq!(count.count as usize, want.len(), "Scan with Select COUNT");
    let g = wait_index(c, t, "by_grp", true).await.unwrap();
    assert_eq!(g.item_count(), Some(want.len() as i64), "ItemCount");
    want.len()
}

/// The ids `by_grp` returns for `grp = g`.
async fn in_grp(c: &Client, t: &str, g: &str) -> Vec<String> {
    ids(&query_all(query(c, t, "by_grp", "grp = :a", &[s(g)])).await)
}

#[tokio::test]
async fn update_table_creates_a_gsi_backfilled_from_existing_items() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("idx-add");
    table_with(&c, &t, &[], vec![]).await;
    load(&c, &t, 2_500).await;
    let items: Vec<Item> = (0..2_500).map(|i| item(&grp_spec(i))).collect();
    let want = items.iter().filter(|i| indexed(i)).count();
    assert_eq!(shape(&add_by_grp(&c, &t).await).0, ["by_grp"]);
    assert_eq!(shape(&describe(&c, &t).await).1, ["grp", "pk", "seq", "sk"]);
    assert_eq!(by_grp_matches_table(&c, &t).await, want);

    for grp in (1..10).map(|g| format!("g{g}")) {
        let expected = items.iter().filter(|i| indexed(i) && i["grp"] == s(&grp));
        let got = query_all(query(&c, &t, "by_grp", "grp = :a", &[s(&grp)])).await;
        assert_eq!(ids(&got), ids(expected), "{grp}");
        assert!(nums(&got, "seq").is_sorted(), "{grp} in seq order");
    }
    for i in [2, 1_003, 2_498] {
        let (grp, seq) = (items[i]["grp"].clone(), items[i]["seq"].clone());
        let q = query(&c, &t, "by_grp", "grp = :a AND seq = :b", &[grp, seq]);
        assert_eq!(query_all(q).await, [projected(&items[i])], "i{i:04}");
    }

    // The new index is maintained: a put, a key moved, a key completed (i0005 had no
    // grp, i0001 a number), a delete, and a wrong-typed key is now refused.
    put(&c, &t, "new grp=g1 seq:9000 name=x").await;
    set(&c, &t, "i0002", "grp", Some(s("g7"))).await;
    set(&c, &t, "i0005", "grp", Some(s("g5"))).await;
    set(&c, &t, "i0001", "grp", Some(s("g5"))).await;
    delete(&c, &t, "i0003").await;
    let m = validation(try_put(&c, &t, "bad grp:1 seq:1").send().await);
    assert!(m.contains("Type mismatch for Index Key grp"), "{m}");
    let has = async |g: &str, id: &str| in_grp(&c, &t, g).await.contains(&id.to_string());
    assert!(has("g1", "new").await && has("g7", "i0002").await);
    assert!(!has("g2", "i0002").await && !has("g3", "i0003").await);
    assert_eq!(in_grp(&c, &t, "g5").await, ["i0001", "i0005"]);
    assert_eq!(by_grp_matches_table(&c, &t).await, want + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_during_the_backfill_are_indexed_exactly() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("idx-add-live");
    table_with(&c, &t, &[], vec![]).await;
    const N: usize = 5_000;
    load(&c, &t, N).await;
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..3 {
        let (c, t, stop, done) = (c.clone(), t.clone(), stop.clone(), done.clone());
        writers.push(tokio::spawn(async move {
            let mut k = w;
            while !stop.load(Relaxed) || k < 300 {
                // Items all over the key range, but none with a wrong-typed grp (writes
                // that keep it are refused once the index exists).
                let i = (k * 7_919) % N;
                let key = format!("i{:04}", if i % 101 == 1 { i + 1 } else { i });
                match k % 5 {
                    0 => put(&c, &t, &format!("w{k:05} grp=g{} seq:{k}", k % 10)).await,
                    1 => set(&c, &t, &key, "grp", Some(s(&format!("g{}", k % 10)))).await,
                    2 => delete(&c, &t, &key).await,
                    3 => set(&c, &t, &key, "name", Some(s(&format!("m{k}")))).await,
                    _ => set(&c, &t, &key, "grp", None).await,
                }
                done.fetch_add(1, Relaxed);
                k += 3;
            }
        }));
    }
    while done.load(Relaxed) < 30 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before = done.load(Relaxed);
    add_by_grp(&c, &t).await;
    let during = done.load(Relaxed) - before;
    stop.store(true, Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    eprintln!("{during} writes while the index was added, {done:?} in all");
    assert!(during > 0, "no write overlapped the backfill");
    by_grp_matches_table(&c, &t).await;
}

#[tokio::test]
async fn update_table_deletes_a_gsi_and_a_recreated_one_starts_afresh() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("idx-drop");
    let defs = [GRP_DEFS, &[("tag", Ty::S)]].concat();
    let by_tag = gsi("by_tag", "tag", None, keys_only());
    table_with(&c, &t, &defs, vec![by_grp(), by_tag]).await;
    let specs = [
        "a grp=g1 seq:1 name=A tag=x",
        "b grp=g1 seq:2",
        "c grp=g2 seq:3 tag=x",
        "d name=D",
    ];
    for spec in specs {
        put(&c, &t, spec).await;
    }
    assert_eq!(in_grp(&c, &t, "g1").await, ["a", "b"]);

    drop_index(&c, &t, "by_grp").await;
    let (gsis, defs, _) = shape(&describe(&c, &t).await);
    assert_eq!(gsis, ["by_tag"]);
    assert_eq!(defs, ["pk", "sk", "tag"]);
    let nope = "The table does not have the specified index: by_grp";
    let q = query(&c, &t, "by_grp", "grp = :a", &[s("g1")]);
    assert_eq!(validation(q.send().await), nope);
    assert_eq!(validation(scan(&c, &t, "by_grp").send().await), nope);
    // The table's items are untouched.
    assert_eq!(table_items(&c, &t).await, specs.map(item));
    let q = query(&c, &t, "by_tag", "tag = :a", &[s("x")]);
    assert_eq!(ids(&query_all(q).await), ["a", "c"]);

    // Without the index grp may hold a number; the recreated index sees only what the
    // items are now.
    put(&c, &t, "e grp=g1 seq:5").await;
    put(&c, &t, "f grp:7 seq:6").await;
    set(&c, &t, "b", "grp", None).await;
    delete(&c, &t, "a").await;
    add_by_grp(&c, &t).await;
    assert_eq!(in_grp(&c, &t, "g1").await, ["e"]);
    assert_eq!(in_grp(&c, &t, "g2").await, ["c"]);
    assert_eq!(by_grp_matches_table(&c, &t).await, 2);
    assert_eq!(shape(&describe(&c, &t).await).0, ["by_grp", "by_tag"]);
}

#[tokio::test]
async fn refused_index_updates_change_nothing() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("idx-update-bad");
    table_with(&c, &t, GRP_DEFS, vec![by_grp()]).await;
    put(&c, &t, "a grp=g1 seq:1").await;
    let before = shape(&describe(&c, &t).await);
    assert_eq!(before.0, ["by_grp"]);
    let unchanged = async |what: &str| {
        assert_eq!(shape(&describe(&c, &t).await), before, "{what}");
    };
    let update = |defs, updates| update_indexes(&c, &t, defs, updates);
    let x_index = || create_index(gsi("by_x", "x", None, keys_only()));

    validation(update(GRP_DEFS, vec![create_index(by_grp())]).send().await);
    unchanged("existing name").await;
    let missing = update(&[], vec![delete_index("nope")]).send().await;
    assert_eq!(code_of(missing), "ResourceNotFoundException");
    unchanged("missing index").await;
    let y_index = create_index(gsi("by_y", "y", None, keys_only()));
    let two = update(&[("x", Ty::S), ("y", Ty::S)], vec![x_index(), y_index]);
    assert_eq!(code_of(two.send().await), "LimitExceededException");
    unchanged("two creates").await;
    let m = validation(update(&[], vec![x_index()]).send().await);
    let undefined = "AttributeDefinitions is not specified for index";
    assert!(m.contains(undefined), "{m}");
    unchanged("no AttributeDefinitions").await;

    // A refused index update refuses the whole UpdateTable, stream change included.
    let stream = StreamSpecification::builder().stream_enabled(true);
    let stream = stream.stream_view_type(StreamViewType::NewImage).build();
    let stream = stream.unwrap();
    let both = update(GRP_DEFS, vec![create_index(by_grp())]);
    validation(both.stream_specification(stream.clone()).send().await);
    unchanged("stream with an existing index name").await;
    let both = update(&[("x", Ty::S)], vec![delete_index("nope")]);
    let e = both.stream_specification(stream).send().await;
    assert_eq!(code_of(e), "ResourceNotFoundException");
    unchanged("stream with a missing index").await;
    assert_eq!(in_grp(&c, &t, "g1").await, ["a"]);
}

#[tokio::test]
async fn index_updates_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let c = server.client();
    let t = table_name("idx-add-crash");
    let by_tag = gsi("by_tag", "tag", None, keys_only());
    table_with(&c, &t, &[("tag", Ty::S)], vec![by_tag]).await;
    load(&c, &t, 1_500).await;
    put(&c, &t, "t grp=g3 seq:1 tag=x").await;
    drop_index(&c, &t, "by_tag").await;
    add_by_grp(&c, &t).await;
    let want = by_grp_matches_table(&c, &t).await;
    let g3 = in_grp(&c, &t, "g3").await;
    server.kill9();

    let server = Server::start_in(dir.path(), &[]);
    let c = server.client();
    let d = describe(&c, &t).await;
    assert_eq!(shape(&d).0, ["by_grp"]);
    assert_eq!(shape(&d).1, ["grp", "pk", "seq", "sk"]);
    assert_eq!(by_grp_matches_table(&c, &t).await, want);
    assert_eq!(in_grp(&c, &t, "g3").await, g3);
    let q = query(&c, &t, "by_tag", "tag = :a", &[s("x")]);
    let m = validation(q.send().await);
    assert_eq!(m, "The table does not have the specified index: by_tag");
    put(&c, &t, "u grp=g3 seq:2").await;
    assert_eq!(in_grp(&c, &t, "g3").await.len(), g3.len() + 1);
}

/// The IndexStatus and Backfilling of GSI `name` in `d`.
fn build_state(d: &TableDescription, name: &str) -> (IndexStatus, Option<bool>) {
    let mut gsis = d.global_secondary_indexes().iter();
    let g = gsis.find(|g| g.index_name() == Some(name)).expect(name);
    (g.index_status().unwrap().clone(), g.backfilling())
}

/// A put that must succeed on `t`, and one on `other`: writes go on while indexes are
/// added (a panic in the writer once stopped every table's writes).
async fn writes_go_on(c: &Client, t: &str, other: &str, n: usize) {
    put(c, t, &format!("w{n} y:{n}")).await;
    put(c, other, &format!("o{n} y:{n}")).await;
    assert!(get(c, t, &format!("w{n}")).await.is_some());
    assert!(get(c, other, &format!("o{n}")).await.is_some());
}

#[tokio::test]
async fn gsis_added_over_a_66500_byte_key_become_active_without_it() {
    // The issue's reproduction: the backfill met an index key fjall cannot hold, the
    // writer thread panicked, and every write of every table failed from then on.
    let server = Server::start();
    let c = server.client();
    let (t, other) = (table_name("idx-huge"), table_name("idx-huge-other"));
    table_with(&c, &t, &[], vec![]).await;
    table_with(&c, &other, &[], vec![]).await;
    put(&c, &t, "small x=hello").await;
    put(&c, &t, &format!("huge x={}", "a".repeat(66_500))).await;
    writes_go_on(&c, &t, &other, 0).await;
    for (n, name) in ["index1", "index2"].into_iter().enumerate() {
        let all = projection(ProjectionType::All, &[]);
        let update = update_indexes(
            &c,
            &t,
            &[("x", Ty::S)],
            vec![create_index(gsi(name, "x", None, all))],
        );
        let out = update.send().await.unwrap().table_description.unwrap();
        assert_eq!(build_state(&out, name), (IndexStatus::Creating, Some(true)));
        writes_go_on(&c, &t, &other, 2 * n + 1).await;
        let g = wait_index(&c, &t, name, true).await.unwrap();
        assert_eq!(g.backfilling(), Some(false));
        assert_eq!(g.item_count(), Some(1), "{name}");
        writes_go_on(&c, &t, &other, 2 * n + 2).await;
    }
    for name in ["index1", "index2"] {
        assert_eq!(ids(&scan_all(&c, &t, name).await), ["small"], "{name}");
        let q = query(&c, &t, name, "x = :a", &[s("hello")]);
        assert_eq!(ids(&query_all(q).await), ["small"]);
    }
    // The huge item stays in the table; a write of such a key is now refused.
    assert!(get(&c, &t, "huge").await.is_some());
    let m = validation(
        try_put(&c, &t, &format!("h2 x={}", "a".repeat(66_500)))
            .send()
            .await,
    );
    assert!(m.contains("exceeds the limit of 2048 bytes"), "{m}");
    writes_go_on(&c, &t, &other, 9).await;
}

#[tokio::test]
async fn the_backfill_leaves_out_index_key_violations_and_counts_only_what_it_indexed() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("idx-violations");
    table_with(&c, &t, &[], vec![]).await;
    let specs = [
        "ok x=v".to_string(),
        format!("max x={}", "b".repeat(2_048)),
        format!("long x={}", "b".repeat(3_000)),
        "number x:7".to_string(),
        "missing y=1".to_string(),
    ];
    for spec in &specs {
        put(&c, &t, spec).await;
    }
    // An empty string is a valid non-key value until the index exists.
    let mut empty = item("empty");
    empty.insert("x".into(), s(""));
    let p = c.put_item().table_name(&t).set_item(Some(empty));
    p.send().await.unwrap();
    let keys = gsi("by_x", "x", None, keys_only());
    let update = update_indexes(&c, &t, &[("x", Ty::S)], vec![create_index(keys)]);
    let out = update.send().await.unwrap().table_description.unwrap();
    assert_eq!(
        build_state(&out, "by_x"),
        (IndexStatus::Creating, Some(true))
    );
    let g = wait_index(&c, &t, "by_x", true).await.unwrap();
    assert_eq!(g.item_count(), Some(2));
    assert_eq!(ids(&scan_all(&c, &t, "by_x").await), ["max", "ok"]);
    let d = describe(&c, &t).await;
    assert_eq!(d.item_count(), Some(6));
    assert_eq!(build_state(&d, "by_x"), (IndexStatus::Active, Some(false)));
    // Now ACTIVE, the index holds writes to its key; the items left out stay.
    let m = validation(
        try_put(&c, &t, &format!("l2 x={}", "b".repeat(3_000)))
            .send()
            .await,
    );
    assert!(m.contains("exceeds the limit of 2048 bytes"), "{m}");
    let m = validation(try_put(&c, &t, "n2 x:1").send().await);
    assert!(m.contains("Type mismatch for Index Key x"), "{m}");
    assert_eq!(table_items(&c, &t).await.len(), 6);
    // A GSI declared at CreateTable reports no Backfilling at all.
    let u = table_name("idx-with-table");
    table_with(&c, &u, GRP_DEFS, vec![by_grp()]).await;
    assert_eq!(
        build_state(&describe(&c, &u).await, "by_grp"),
        (IndexStatus::Active, None)
    );
}

#[tokio::test]
async fn a_backfill_killed_midway_resumes_on_restart_and_matches_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let c = server.client();
    let t = table_name("idx-backfill-crash");
    table_with(&c, &t, &[], vec![]).await;
    // Enough items that the backfill takes many steps (a step is 256 items).
    const N: usize = 20_000;
    load(&c, &t, N).await;
    let update = update_indexes(&c, &t, GRP_DEFS, vec![create_index(by_grp())]);
    let out = update.send().await.unwrap().table_description.unwrap();
    assert_eq!(
        build_state(&out, "by_grp"),
        (IndexStatus::Creating, Some(true))
    );
    // Kill the server once the backfill is visibly under way.
    let deadline = Instant::now() + Duration::from_secs(30);
    let so_far = loop {
        let d = describe(&c, &t).await;
        let (status, _) = build_state(&d, "by_grp");
        assert_eq!(
            status,
            IndexStatus::Creating,
            "done before it could be killed"
        );
        let g = d.global_secondary_indexes().first().unwrap();
        if let Some(n) = g.item_count().filter(|n| *n > 0) {
            break n;
        }
        assert!(Instant::now() < deadline, "the backfill makes no progress");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    server.kill9();
    eprintln!("killed with {so_far} items indexed");

    let server = Server::start_in(dir.path(), &[]);
    let c = server.client();
    let items: Vec<Item> = (0..N).map(|i| item(&grp_spec(i))).collect();
    let want = items.iter().filter(|i| indexed(i)).count();
    wait_index(&c, &t, "by_grp", true).await;
    assert_eq!(by_grp_matches_table(&c, &t).await, want);
    put(&c, &t, "after grp=g3 seq:1").await;
    assert!(in_grp(&c, &t, "g3").await.contains(&"after".to_string()));
}
