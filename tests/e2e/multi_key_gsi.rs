//! Global secondary indexes with multi-attribute keys (DynamoDB, November 2025) through
//! the AWS SDK for Rust: a KeySchema of several HASH and RANGE attributes at
//! CreateTable and UpdateTable and as DescribeTable lists it, sparse items, Query with
//! equality on every HASH attribute and conditions on a left prefix of the RANGE
//! attributes (the last one a range condition), DynamoDB's errors for the rest,
//! LastEvaluatedKey and paging, Scan, projections, the backfill of an index added to a
//! table with data, TransactWriteItems, stream records (still the table's keys only)
//! and a restart on the same data directory. The GSI definition checks (key attribute
//! not defined, projected attribute names over 255 characters) are here too.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as Av, BillingMode, ComparisonOperator, Condition,
    CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex, GlobalSecondaryIndexUpdate,
    IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType, Put,
    ScalarAttributeType as Ty, Select, StreamSpecification, StreamViewType, TransactWriteItem,
    Update,
};

use crate::harness::{Server, read_whole_stream, table_name};

type Item = HashMap<String, Av>;

/// Expression attribute values, as `(":name", value)`.
type Values = Vec<(&'static str, Av)>;

fn s(v: &str) -> Av {
    Av::S(v.into())
}

fn n(v: i64) -> Av {
    Av::N(v.to_string())
}

/// The index most tests use: HASH tournament (S) and league (S); RANGE round (N),
/// bracket (S) and seq (N); it projects `score` besides the keys.
const INDEX: &str = "by_bracket";
const HASH: [&str; 2] = ["tournament", "league"];
const RANGE: [&str; 3] = ["round", "bracket", "seq"];

fn defs() -> Vec<AttributeDefinition> {
    let d = |name: &str, ty: Ty| {
        let d = AttributeDefinition::builder().attribute_name(name);
        d.attribute_type(ty).build().unwrap()
    };
    vec![
        d("id", Ty::S),
        d("tournament", Ty::S),
        d("league", Ty::S),
        d("round", Ty::N),
        d("bracket", Ty::S),
        d("seq", Ty::N),
    ]
}

fn elements(hash: &[&str], range: &[&str]) -> Vec<KeySchemaElement> {
    let e = |name: &&str, kind: KeyType| {
        let e = KeySchemaElement::builder().attribute_name(*name);
        e.key_type(kind).build().unwrap()
    };
    let hash = hash.iter().map(|h| e(h, KeyType::Hash));
    hash.chain(range.iter().map(|r| e(r, KeyType::Range)))
        .collect()
}

fn include(attrs: &[&str]) -> Projection {
    let attrs = attrs.iter().map(|a| a.to_string()).collect();
    let p = Projection::builder().projection_type(ProjectionType::Include);
    p.set_non_key_attributes(Some(attrs)).build()
}

fn gsi(name: &str, keys: Vec<KeySchemaElement>, p: Projection) -> GlobalSecondaryIndex {
    let g = GlobalSecondaryIndex::builder()
        .index_name(name)
        .projection(p);
    g.set_key_schema(Some(keys)).build().unwrap()
}

/// Creates an on-demand table keyed by `id` with a stream and these indexes.
async fn create(c: &Client, t: &str, gsis: Vec<GlobalSecondaryIndex>) {
    let stream = StreamSpecification::builder().stream_enabled(true);
    let stream = stream.stream_view_type(StreamViewType::NewAndOldImages);
    c.create_table()
        .table_name(t)
        .set_attribute_definitions(Some(if gsis.is_empty() {
            defs()[..1].to_vec()
        } else {
            defs()
        }))
        .set_key_schema(Some(elements(&["id"], &[])))
        .set_global_secondary_indexes((!gsis.is_empty()).then_some(gsis))
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(stream.build().unwrap())
        .send()
        .await
        .unwrap();
}

/// A match `"id tournament league round bracket seq"`, `_` leaving an attribute out;
/// every match also has a `score` and a `note`.
fn game(spec: &str) -> Item {
    let w: Vec<&str> = spec.split_whitespace().collect();
    let mut it = Item::from([
        ("id".into(), s(w[0])),
        ("score".into(), n(w[0].len() as i64)),
        ("note".into(), s("not projected")),
    ]);
    let attrs = ["tournament", "league", "round", "bracket", "seq"];
    for (name, v) in attrs.iter().zip(&w[1..]) {
        if *v == "_" {
            continue;
        }
        let v = match *name {
            "round" | "seq" => n(v.parse().unwrap()),
            _ => s(v),
        };
        it.insert(name.to_string(), v);
    }
    it
}

async fn put(c: &Client, t: &str, spec: &str) {
    let p = c.put_item().table_name(t).set_item(Some(game(spec)));
    p.send().await.unwrap();
}

/// The matches every test starts from: eight in the index under two partitions, two
/// sparse ones (no league, no seq) that are not.
const GAMES: [&str; 10] = [
    "g1 w24 eu 1 upper 1",
    "g2 w24 eu 1 upper 2",
    "g3 w24 eu 2 lower 1",
    "g4 w24 eu 2 upper 3",
    "g5 w24 eu 2 upper 1",
    "g6 w24 eu 3 final 1",
    "g7 w24 us 1 upper 1",
    "g8 s25 eu 1 upper 1",
    "g9 w24 _ 1 upper 4",
    "g10 w24 eu 2 upper _",
];

fn query(c: &Client, t: &str, cond: &str, vals: &[(&str, Av)]) -> QueryFluentBuilder {
    let q = c.query().table_name(t).index_name(INDEX);
    let mut q = q.key_condition_expression(cond);
    for (name, v) in vals {
        q = q.expression_attribute_values(*name, v.clone());
    }
    q
}

/// `:t = w24` and `:r = eu`, the values of the partition most queries read.
fn eu(more: &[(&'static str, Av)]) -> Vec<(&'static str, Av)> {
    let mut v = vec![(":t", s("w24")), (":r", s("eu"))];
    v.extend(more.iter().cloned());
    v
}

const EU: &str = "tournament = :t AND league = :r";

/// The ids of `items`, in order.
fn ids(items: &[Item]) -> Vec<&str> {
    items
        .iter()
        .map(|i| i["id"].as_s().unwrap().as_str())
        .collect()
}

/// Every page of `q`, following LastEvaluatedKey: the items and the keys pages
/// stopped at.
async fn pages(q: QueryFluentBuilder) -> (Vec<Item>, Vec<Item>) {
    let (mut items, mut stops) = (Vec::new(), Vec::new());
    let mut start = None;
    loop {
        let out = q
            .clone()
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        items.extend(out.items().iter().cloned());
        let Some(k) = out.last_evaluated_key else {
            return (items, stops);
        };
        stops.push(k.clone());
        start = Some(k);
        assert!(stops.len() < 100, "paging does not end");
    }
}

async fn query_ids(q: QueryFluentBuilder) -> Vec<String> {
    ids(&pages(q).await.0)
        .into_iter()
        .map(String::from)
        .collect()
}

/// The message of a call that must have failed with a ValidationException.
fn validation<T: std::fmt::Debug>(r: Result<T, impl ProvideErrorMetadata>) -> String {
    let e = r.expect_err("expected a ValidationException");
    assert_eq!(e.code(), Some("ValidationException"), "{:?}", e.message());
    e.message().unwrap_or_default().to_string()
}

/// Polls DescribeTable (at most 30 s) until index `name` is ACTIVE and backfilled.
async fn wait_active(c: &Client, t: &str, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = c.describe_table().table_name(t).send().await.unwrap();
        let d = d.table.unwrap();
        let g = d.global_secondary_indexes().iter();
        let g = g.clone().find(|g| g.index_name() == Some(name)).cloned();
        if g.as_ref().is_some_and(|g| {
            g.index_status() == Some(&IndexStatus::Active) && g.backfilling() != Some(true)
        }) {
            return;
        }
        assert!(Instant::now() < deadline, "{name}: {g:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn multi_attribute_gsi_is_described_queried_paged_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let c = server.client();
    let t = table_name("mgsi");
    create(
        &c,
        &t,
        vec![gsi(INDEX, elements(&HASH, &RANGE), include(&["score"]))],
    )
    .await;
    for g in GAMES {
        put(&c, &t, g).await;
    }

    let d = c.describe_table().table_name(&t).send().await.unwrap();
    let d = d.table.unwrap();
    let g = &d.global_secondary_indexes()[0];
    let listed: Vec<(&str, &KeyType)> = g
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type()))
        .collect();
    let (h, r) = (&KeyType::Hash, &KeyType::Range);
    let want = [
        ("tournament", h),
        ("league", h),
        ("round", r),
        ("bracket", r),
        ("seq", r),
    ];
    assert_eq!(listed, want);
    // The two sparse matches are not in the index.
    assert_eq!(g.item_count(), Some(8));

    // Equality on every HASH attribute: the partition, ordered by (round, bracket, seq).
    let all = ["g1", "g2", "g3", "g5", "g4", "g6"];
    assert_eq!(query_ids(query(&c, &t, EU, &eu(&[]))).await, all);
    let back = query(&c, &t, EU, &eu(&[])).scan_index_forward(false);
    let mut reversed = all;
    reversed.reverse();
    assert_eq!(query_ids(back).await, reversed);
    let us = [(":t", s("w24")), (":r", s("us"))];
    assert_eq!(query_ids(query(&c, &t, EU, &us)).await, ["g7"]);

    // A left prefix of the RANGE attributes, the last one a range condition.
    let cases: [(&str, Values, &[&str]); 6] = [
        ("round = :a", vec![(":a", n(2))], &["g3", "g5", "g4"]),
        ("round < :a", vec![(":a", n(2))], &["g1", "g2"]),
        (
            "round = :a AND bracket = :b",
            vec![(":a", n(2)), (":b", s("upper"))],
            &["g5", "g4"],
        ),
        (
            "round = :a AND begins_with(bracket, :b)",
            vec![(":a", n(2)), (":b", s("up"))],
            &["g5", "g4"],
        ),
        (
            "round = :a AND bracket = :b AND seq BETWEEN :c AND :d",
            vec![(":a", n(1)), (":b", s("upper")), (":c", n(2)), (":d", n(9))],
            &["g2"],
        ),
        (
            "seq = :c AND bracket = :b AND round = :a",
            vec![(":a", n(2)), (":b", s("upper")), (":c", n(3))],
            &["g4"],
        ),
    ];
    for (cond, vals, want) in cases {
        let q = query(&c, &t, &format!("{EU} AND {cond}"), &eu(&vals));
        assert_eq!(query_ids(q).await, want, "{cond}");
    }
    // The legacy KeyConditions take the same rules.
    let eq = |v: Av| {
        let c = Condition::builder().comparison_operator(ComparisonOperator::Eq);
        c.attribute_value_list(v).build().unwrap()
    };
    let gt = Condition::builder().comparison_operator(ComparisonOperator::Gt);
    let legacy = c
        .query()
        .table_name(&t)
        .index_name(INDEX)
        .key_conditions("tournament", eq(s("w24")))
        .key_conditions("league", eq(s("eu")))
        .key_conditions("round", gt.attribute_value_list(n(1)).build().unwrap());
    assert_eq!(query_ids(legacy).await, ["g3", "g5", "g4", "g6"]);

    // PartiQL reads the index too: equality on every HASH attribute is a Query, and a
    // condition on a RANGE attribute besides is read as a filter.
    let partiql = async |extra: &str| {
        let statement = format!(
            "SELECT id FROM \"{t}\".\"{INDEX}\" WHERE tournament = 'w24' AND league = 'eu'{extra}"
        );
        let out = c.execute_statement().statement(statement).send().await;
        ids(out.unwrap().items())
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(partiql("").await, all);
    assert_eq!(partiql(" AND round = 2").await, ["g3", "g5", "g4"]);

    // Paging: LastEvaluatedKey holds the table's key and every index key attribute.
    let (items, stops) = pages(query(&c, &t, EU, &eu(&[])).limit(2)).await;
    assert_eq!(ids(&items), all);
    assert_eq!(stops.len(), 3);
    let mut names: Vec<&str> = stops[0].keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["bracket", "id", "league", "round", "seq", "tournament"]
    );
    assert_eq!(stops[0]["id"], s("g2"));

    // Scan reads every indexed match once, and nothing sparse.
    let scanned = c.scan().table_name(&t).index_name(INDEX).limit(3);
    let mut start = None;
    let mut seen = Vec::new();
    loop {
        let out = scanned.clone().set_exclusive_start_key(start).send().await;
        let out = out.unwrap();
        seen.extend(ids(out.items()).into_iter().map(String::from));
        match out.last_evaluated_key {
            Some(k) => start = Some(k),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8"]);

    // Projections: the keys and `score`, not `note`.
    let out = query(&c, &t, EU, &eu(&[])).limit(1).send().await.unwrap();
    let mut attrs: Vec<&str> = out.items()[0].keys().map(String::as_str).collect();
    attrs.sort_unstable();
    let projected = [
        "bracket",
        "id",
        "league",
        "round",
        "score",
        "seq",
        "tournament",
    ];
    assert_eq!(attrs, projected);
    let m = validation(
        query(&c, &t, EU, &eu(&[]))
            .select(Select::AllAttributes)
            .send()
            .await,
    );
    assert_eq!(
        m,
        "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index by_bracket because its projection type is not ALL"
    );

    // Writes move items in and out of the index.
    put(&c, &t, "g9 w24 eu 1 upper 4").await;
    put(&c, &t, "g1 w24 eu 9 upper 1").await;
    let q = query(
        &c,
        &t,
        &format!("{EU} AND round = :a"),
        &eu(&[(":a", n(1))]),
    );
    assert_eq!(query_ids(q).await, ["g2", "g9"]);
    c.delete_item()
        .table_name(&t)
        .key("id", s("g2"))
        .send()
        .await
        .unwrap();
    c.update_item()
        .table_name(&t)
        .key("id", s("g9"))
        .update_expression("REMOVE bracket")
        .send()
        .await
        .unwrap();
    let q = query(
        &c,
        &t,
        &format!("{EU} AND round = :a"),
        &eu(&[(":a", n(1))]),
    );
    assert_eq!(query_ids(q).await, Vec::<String>::new());

    // The definition and the entries outlive a SIGKILL.
    server.kill9();
    let server = Server::start_in(dir.path(), &[]);
    let c = server.client();
    let want = ["g3", "g5", "g4", "g6", "g1"];
    assert_eq!(query_ids(query(&c, &t, EU, &eu(&[]))).await, want);
    let d = c.describe_table().table_name(&t).send().await.unwrap();
    let d = d.table.unwrap();
    assert_eq!(d.global_secondary_indexes()[0].key_schema().len(), 5);
}

#[tokio::test]
async fn multi_attribute_gsi_queries_fail_with_dynamodb_messages() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("mgsi-bad-q");
    create(
        &c,
        &t,
        vec![gsi(INDEX, elements(&HASH, &RANGE), include(&["score"]))],
    )
    .await;
    put(&c, &t, GAMES[0]).await;
    let fails = async |cond: &str, vals: Vec<(&str, Av)>| {
        validation(query(&c, &t, cond, &vals).send().await)
    };
    let cases: [(&str, Values, &str); 7] = [
        (
            "tournament = :t",
            vec![(":t", s("w24"))],
            "Query condition missed key schema element: league",
        ),
        (
            "league = :r AND round = :a",
            vec![(":r", s("eu")), (":a", n(1))],
            "Query condition missed key schema element: tournament",
        ),
        (
            "tournament = :t AND league > :r",
            vec![(":t", s("w24")), (":r", s("eu"))],
            "Query key condition not supported",
        ),
        (
            "tournament = :t AND league = :r AND bracket = :b",
            eu(&[(":b", s("upper"))]),
            "RANGE key attributes round must have equality conditions specified in the query because a condition is present on key attribute bracket",
        ),
        (
            "tournament = :t AND league = :r AND round = :a AND seq < :c",
            eu(&[(":a", n(1)), (":c", n(3))]),
            "RANGE key attributes bracket must have equality conditions specified in the query because a condition is present on key attribute seq",
        ),
        (
            "tournament = :t AND league = :r AND round > :a AND bracket = :b",
            eu(&[(":a", n(1)), (":b", s("upper"))]),
            "RANGE key attributes round must have equality conditions specified in the query because a condition is present on key attribute bracket",
        ),
        (
            "tournament = :t AND league = :r AND round = :a",
            eu(&[(":a", s("one"))]),
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        ),
    ];
    for (cond, vals, want) in cases {
        assert_eq!(fails(cond, vals).await, want, "{cond}");
    }
    // A FilterExpression may not name any key attribute of the index; the table's key
    // (not one of the index's) it may.
    let filtered = |filter: &str, v: Av| {
        let q = query(&c, &t, EU, &eu(&[(":f", v)])).filter_expression(filter);
        async move { q.send().await }
    };
    let m = validation(filtered("seq > :f", n(0)).await);
    assert_eq!(
        m,
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: seq"
    );
    let out = filtered("id = :f", s("g1")).await.unwrap();
    assert_eq!(ids(out.items()), ["g1"]);
    // An ExclusiveStartKey must name every index key attribute.
    let mut esk = game(GAMES[0]);
    esk.remove("score");
    esk.remove("note");
    esk.remove("seq");
    let q = query(&c, &t, EU, &eu(&[])).set_exclusive_start_key(Some(esk));
    let m = validation(q.send().await);
    assert_eq!(m, "The provided starting key is invalid");
}

/// Sends a CreateTable with one GSI of these elements and projection, on the usual
/// attribute definitions; returns the ValidationException's message.
async fn refused_create(c: &Client, keys: Vec<KeySchemaElement>, p: Projection) -> String {
    let t = table_name("mgsi-bad");
    let r = c
        .create_table()
        .table_name(&t)
        .set_attribute_definitions(Some(defs()))
        .set_key_schema(Some(elements(&["id"], &[])))
        .global_secondary_indexes(gsi("bad", keys, p))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    let m = validation(r);
    let gone = c.describe_table().table_name(&t).send().await;
    assert_eq!(gone.unwrap_err().code(), Some("ResourceNotFoundException"));
    m
}

#[tokio::test]
async fn create_and_update_table_refuse_invalid_multi_attribute_gsis() {
    let server = Server::start();
    let c = server.client();
    let all = || include(&["score"]);
    let five = ["tournament", "league", "round", "bracket", "seq"];
    let invalid = "One or more parameter values were invalid: ";
    let m = refused_create(&c, elements(&five, &[]), all()).await;
    assert_eq!(
        m,
        format!("{invalid}The KeySchema exceeds the maximum allowed number of HASH key attributes")
    );
    let m = refused_create(&c, elements(&["id"], &five), all()).await;
    assert_eq!(
        m,
        format!(
            "{invalid}The KeySchema exceeds the maximum allowed number of RANGE key attributes"
        )
    );
    let mut keys = elements(&["tournament"], &["round"]);
    keys.extend(elements(&["league"], &[]));
    let m = refused_create(&c, keys, all()).await;
    assert_eq!(
        m,
        format!(
            "{invalid}All HASH key attributes must precede RANGE key attributes in the KeySchema"
        )
    );
    let m = refused_create(&c, elements(&["tournament", "tournament"], &[]), all()).await;
    assert_eq!(m, "Attribute Name is duplicated: tournament");
    let m = refused_create(&c, elements(&["tournament", "league"], &["league"]), all()).await;
    assert_eq!(
        m,
        "The KeySchema contains multiple key attributes with the same name"
    );
    // A key attribute missing from AttributeDefinitions.
    let m = refused_create(&c, elements(&["tournament", "stage"], &["round"]), all()).await;
    assert_eq!(
        m,
        "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [stage], AttributeDefinitions: [id, tournament, league, round, bracket, seq]"
    );
    // A projected attribute name is 1 to 255 characters.
    let long = "x".repeat(256);
    let m = refused_create(
        &c,
        elements(&["tournament"], &[]),
        include(&["score", &long]),
    )
    .await;
    assert_eq!(
        m,
        format!(
            "1 validation error detected: Value '[score, {long}]' at 'globalSecondaryIndexes.1.member.projection.nonKeyAttributes' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 255, Member must have length greater than or equal to 1]"
        )
    );

    // UpdateTable holds a new index to the same rules.
    let t = table_name("mgsi-upd-bad");
    create(&c, &t, vec![]).await;
    let add = |keys: Vec<KeySchemaElement>, p: Projection| {
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name("late")
            .set_key_schema(Some(keys))
            .projection(p)
            .build()
            .unwrap();
        let u = GlobalSecondaryIndexUpdate::builder().create(create).build();
        c.update_table()
            .table_name(&t)
            .set_attribute_definitions(Some(defs()))
            .global_secondary_index_updates(u)
            .send()
    };
    let m = validation(add(elements(&["tournament", "stage"], &[]), all()).await);
    assert!(
        m.starts_with(
            "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [stage]"
        ),
        "{m}"
    );
    let m = validation(add(elements(&["tournament"], &[]), include(&[&long])).await);
    assert_eq!(
        m,
        format!(
            "1 validation error detected: Value '[{long}]' at 'globalSecondaryIndexUpdates.1.member.create.projection.nonKeyAttributes' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 255, Member must have length greater than or equal to 1]"
        )
    );
    let d = c.describe_table().table_name(&t).send().await.unwrap();
    assert!(d.table.unwrap().global_secondary_indexes().is_empty());
}

#[tokio::test]
async fn update_table_backfills_a_multi_attribute_gsi_kept_by_transactions() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("mgsi-late");
    create(&c, &t, vec![]).await;
    for g in GAMES {
        put(&c, &t, g).await;
    }
    let create = CreateGlobalSecondaryIndexAction::builder()
        .index_name(INDEX)
        .set_key_schema(Some(elements(&HASH, &RANGE)))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .unwrap();
    let u = GlobalSecondaryIndexUpdate::builder().create(create).build();
    c.update_table()
        .table_name(&t)
        .set_attribute_definitions(Some(defs()))
        .global_secondary_index_updates(u)
        .send()
        .await
        .unwrap();
    wait_active(&c, &t, INDEX).await;
    let all = ["g1", "g2", "g3", "g5", "g4", "g6"];
    assert_eq!(query_ids(query(&c, &t, EU, &eu(&[]))).await, all);
    let d = c.describe_table().table_name(&t).send().await.unwrap();
    assert_eq!(
        d.table.unwrap().global_secondary_indexes()[0].item_count(),
        Some(8)
    );

    // A transaction's put and update are in the index with the items.
    let put = Put::builder()
        .table_name(&t)
        .set_item(Some(game("g11 w24 eu 0 upper 1")))
        .build()
        .unwrap();
    let update = Update::builder()
        .table_name(&t)
        .key("id", s("g10"))
        .update_expression("SET seq = :v")
        .expression_attribute_values(":v", n(7))
        .build()
        .unwrap();
    c.transact_write_items()
        .transact_items(TransactWriteItem::builder().put(put).build())
        .transact_items(TransactWriteItem::builder().update(update).build())
        .send()
        .await
        .unwrap();
    let want = ["g11", "g1", "g2", "g3", "g5", "g4", "g10", "g6"];
    assert_eq!(query_ids(query(&c, &t, EU, &eu(&[]))).await, want);

    // Stream records keep their shape: the table's key only, and the images.
    let records = read_whole_stream(&server, &c, &t).await;
    assert_eq!(records.len(), GAMES.len() + 2);
    for r in &records {
        let d = r.dynamodb().unwrap();
        let keys: Vec<&String> = d.keys().unwrap().keys().collect();
        assert_eq!(keys, ["id"], "{r:?}");
    }
    let last = records.last().unwrap().dynamodb().unwrap();
    let new = last.new_image().unwrap();
    assert_eq!(
        new["seq"],
        aws_sdk_dynamodbstreams::types::AttributeValue::N("7".into())
    );
}
