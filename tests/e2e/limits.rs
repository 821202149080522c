//! DynamoDB's key-size limits on every request path that takes a key or a key
//! condition, through the AWS SDK for Rust against the real binary. Values long enough
//! to reach the storage layer's own key bound (65,535 bytes) once made a Query panic a
//! server worker (the connection closed unanswered) and an index key panic the writer
//! (every table's writes failed from then on); each now gets DynamoDB's
//! ValidationException, and the server goes on taking writes after each.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as Av, BillingMode, ComparisonOperator, Condition,
    ConditionCheck, GlobalSecondaryIndex, KeySchemaElement, KeyType, KeysAndAttributes, Projection,
    ProjectionType, ScalarAttributeType, TransactGetItem, TransactWriteItem,
};

use crate::harness::{Server, table_name};

type Item = HashMap<String, Av>;

const HASH_TOO_LONG: &str = "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes";
const RANGE_TOO_LONG: &str = "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes";

/// Value sizes of the regressions: at DynamoDB's limits plus one, and at and past the
/// storage layer's key bound.
const HASH_SIZES: [usize; 3] = [2_049, 65_520, 70_000];
const RANGE_SIZES: [usize; 3] = [1_025, 65_520, 70_000];

fn s(v: &str) -> Av {
    Av::S(v.into())
}

fn long(n: usize) -> Av {
    s(&"k".repeat(n))
}

fn key(pk: Av, sk: Av) -> Item {
    Item::from([("pk".to_string(), pk), ("sk".to_string(), sk)])
}

fn element(name: &str, kind: KeyType) -> KeySchemaElement {
    let e = KeySchemaElement::builder().attribute_name(name);
    e.key_type(kind).build().unwrap()
}

fn definition(name: &str) -> AttributeDefinition {
    let d = AttributeDefinition::builder().attribute_name(name);
    d.attribute_type(ScalarAttributeType::S).build().unwrap()
}

/// Creates table `t`: pk (S) + sk (S), GSI `by_g` on g (S) + h (S), ALL.
async fn create(c: &Client, t: &str) {
    let all = Projection::builder()
        .projection_type(ProjectionType::All)
        .build();
    let gsi = GlobalSecondaryIndex::builder()
        .index_name("by_g")
        .key_schema(element("g", KeyType::Hash))
        .key_schema(element("h", KeyType::Range))
        .projection(all)
        .build()
        .unwrap();
    c.create_table()
        .table_name(t)
        .set_attribute_definitions(Some(["pk", "sk", "g", "h"].map(definition).to_vec()))
        .key_schema(element("pk", KeyType::Hash))
        .key_schema(element("sk", KeyType::Range))
        .global_secondary_indexes(gsi)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
}

/// The message of a call that must have failed with a ValidationException.
fn validation<T>(r: Result<T, impl ProvideErrorMetadata>) -> String {
    let Err(e) = r else {
        panic!("expected a ValidationException, the call succeeded");
    };
    let message = e.message().unwrap_or_default().to_string();
    assert_eq!(e.code(), Some("ValidationException"), "{message}");
    message
}

/// A write and a read of table `t` succeed: the server is still serving. `n` makes
/// each check's item its own.
async fn still_serving(c: &Client, t: &str, n: usize) {
    let k = key(s("alive"), s(&n.to_string()));
    let put = c.put_item().table_name(t).set_item(Some(k.clone()));
    put.send().await.expect("a write after a refused request");
    let get = c.get_item().table_name(t).set_key(Some(k.clone()));
    let got = get.consistent_read(true).send().await.unwrap().item;
    assert_eq!(got, Some(k));
}

#[tokio::test]
async fn query_key_conditions_over_the_key_limits_get_dynamodb_errors() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("lim-query");
    create(&c, &t).await;
    let mut checks = 0;
    for n in HASH_SIZES {
        // The table's hash key.
        let q = c.query().table_name(&t).key_condition_expression("pk = :p");
        let q = q.expression_attribute_values(":p", long(n));
        assert_eq!(validation(q.send().await), HASH_TOO_LONG, "table hash {n}");
        // A GSI's hash key.
        let q = c.query().table_name(&t).index_name("by_g");
        let q = q.key_condition_expression("g = :p");
        let q = q.expression_attribute_values(":p", long(n));
        assert_eq!(validation(q.send().await), HASH_TOO_LONG, "index hash {n}");
        // Legacy KeyConditions.
        let eq = Condition::builder()
            .comparison_operator(ComparisonOperator::Eq)
            .attribute_value_list(long(n))
            .build()
            .unwrap();
        let q = c.query().table_name(&t).key_conditions("pk", eq);
        assert_eq!(
            validation(q.send().await),
            HASH_TOO_LONG,
            "KeyConditions {n}"
        );
        checks += 1;
        still_serving(&c, &t, checks).await;
    }
    for n in RANGE_SIZES {
        for cond in ["pk = :p AND begins_with(sk, :s)", "pk = :p AND sk > :s"] {
            let q = c.query().table_name(&t).key_condition_expression(cond);
            let q = q.expression_attribute_values(":p", s("p"));
            let q = q.expression_attribute_values(":s", long(n));
            assert_eq!(validation(q.send().await), RANGE_TOO_LONG, "{cond} {n}");
        }
        let q = c.query().table_name(&t).index_name("by_g");
        let q = q.key_condition_expression("g = :p AND h > :s");
        let q = q.expression_attribute_values(":p", s("g"));
        let q = q.expression_attribute_values(":s", long(n));
        assert_eq!(validation(q.send().await), RANGE_TOO_LONG, "index sort {n}");
        let condition = |op, v: Av| {
            let b = Condition::builder().comparison_operator(op);
            b.attribute_value_list(v).build().unwrap()
        };
        let q = c.query().table_name(&t);
        let q = q.key_conditions("pk", condition(ComparisonOperator::Eq, s("p")));
        let q = q.key_conditions("sk", condition(ComparisonOperator::BeginsWith, long(n)));
        assert_eq!(
            validation(q.send().await),
            RANGE_TOO_LONG,
            "KeyConditions sk {n}"
        );
        checks += 1;
        still_serving(&c, &t, checks).await;
    }
    // Keys at the limits are queried normally.
    let edge = key(long(2_048), long(1_024));
    let put = c.put_item().table_name(&t).set_item(Some(edge));
    put.send().await.unwrap();
    let q = c.query().table_name(&t);
    let q = q.key_condition_expression("pk = :p AND begins_with(sk, :s)");
    let q = q.expression_attribute_values(":p", long(2_048));
    let q = q.expression_attribute_values(":s", long(1_024));
    assert_eq!(q.send().await.unwrap().count, 1);
}

#[tokio::test]
async fn every_path_that_takes_a_key_holds_it_to_the_key_limits() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("lim-keys");
    create(&c, &t).await;
    let cases = [
        (key(long(70_000), s("s")), HASH_TOO_LONG),
        (key(long(2_049), s("s")), HASH_TOO_LONG),
        (key(s("p"), long(70_000)), RANGE_TOO_LONG),
        (key(s("p"), long(1_025)), RANGE_TOO_LONG),
    ];
    for (i, (k, want)) in cases.into_iter().enumerate() {
        let put = c.put_item().table_name(&t).set_item(Some(k.clone()));
        assert_eq!(validation(put.send().await), want, "PutItem {i}");
        let get = c.get_item().table_name(&t).set_key(Some(k.clone()));
        assert_eq!(validation(get.send().await), want, "GetItem {i}");
        let del = c.delete_item().table_name(&t).set_key(Some(k.clone()));
        assert_eq!(validation(del.send().await), want, "DeleteItem {i}");
        let upd = c.update_item().table_name(&t).set_key(Some(k.clone()));
        let upd = upd.update_expression("SET a = :a");
        let upd = upd.expression_attribute_values(":a", s("a"));
        assert_eq!(validation(upd.send().await), want, "UpdateItem {i}");
        let keys = KeysAndAttributes::builder()
            .keys(k.clone())
            .build()
            .unwrap();
        let bget = c.batch_get_item().request_items(&t, keys);
        assert_eq!(validation(bget.send().await), want, "BatchGetItem {i}");
        let g = aws_sdk_dynamodb::types::Get::builder().table_name(&t);
        let g = g.set_key(Some(k.clone())).build().unwrap();
        let tget = c
            .transact_get_items()
            .transact_items(TransactGetItem::builder().get(g).build());
        assert_eq!(validation(tget.send().await), want, "TransactGetItems {i}");
        let check = ConditionCheck::builder()
            .table_name(&t)
            .set_key(Some(k.clone()));
        let check = check.condition_expression("attribute_exists(pk)");
        let check = check.build().unwrap();
        let twrite = c
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(check).build());
        assert_eq!(validation(twrite.send().await), want, "ConditionCheck {i}");
        let q = c.query().table_name(&t).key_condition_expression("pk = :p");
        let q = q.expression_attribute_values(":p", s("p"));
        let q = q.set_exclusive_start_key(Some(k.clone()));
        let starting = format!("The provided starting key is invalid: {want}");
        assert_eq!(validation(q.send().await), starting, "Query start {i}");
        let scan = c.scan().table_name(&t).set_exclusive_start_key(Some(k));
        assert_eq!(validation(scan.send().await), starting, "Scan start {i}");
        still_serving(&c, &t, i).await;
    }
    // A GSI's key is held to the same limits on writes, and its ExclusiveStartKey too.
    let mut it = key(s("p"), s("s"));
    it.insert("g".into(), long(70_000));
    let put = c.put_item().table_name(&t).set_item(Some(it.clone()));
    let m = validation(put.send().await);
    assert!(m.contains("exceeds the limit of 2048 bytes"), "{m}");
    let scan = c.scan().table_name(&t).index_name("by_g");
    it.insert("h".into(), s("h"));
    let scan = scan.set_exclusive_start_key(Some(it));
    let m = validation(scan.send().await);
    assert_eq!(
        m,
        format!("The provided starting key is invalid: {HASH_TOO_LONG}")
    );
    still_serving(&c, &t, 100).await;
}

#[tokio::test]
async fn attribute_names_and_expression_maps_are_held_to_dynamodb_limits() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("lim-names");
    create(&c, &t).await;
    let too_large =
        "1 validation error detected: Attribute name is too large, must be less than 65536 bytes";
    let mut it = key(s("p"), s("s"));
    it.insert("n".repeat(65_535), s("ok"));
    let put = c.put_item().table_name(&t).set_item(Some(it.clone()));
    put.send().await.unwrap();
    it.insert("n".repeat(65_536), s("too long"));
    let put = c.put_item().table_name(&t).set_item(Some(it));
    assert_eq!(validation(put.send().await), too_large);
    let upd = c
        .update_item()
        .table_name(&t)
        .set_key(Some(key(s("p"), s("s"))));
    let upd = upd.update_expression("SET #n = :v");
    let upd = upd.expression_attribute_values(":v", s("v"));
    let named = |name: String| upd.clone().expression_attribute_names("#n", name);
    assert_eq!(
        validation(named("n".repeat(65_536)).send().await),
        too_large
    );
    let m = validation(named(String::new()).send().await);
    assert_eq!(
        m,
        "ExpressionAttributeNames contains invalid value: Empty attribute name for key #n"
    );
    let long_key = upd
        .clone()
        .update_expression("SET a = :v")
        .expression_attribute_names(format!("#{}", "n".repeat(255)), "a");
    let m = validation(long_key.send().await);
    assert!(
        m.ends_with("contains a key that is too long; size of key: 256"),
        "{m}"
    );
    named("n".repeat(65_535)).send().await.unwrap();
    still_serving(&c, &t, 0).await;
}
