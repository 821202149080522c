//! The data plane through the AWS SDK for Rust.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue as Av, DeleteRequest, KeysAndAttributes, PutRequest, ReturnValue, Select,
    WriteRequest,
};

use crate::control::create;
use crate::harness::{Server, table_name};

fn s(v: &str) -> Av {
    Av::S(v.into())
}

fn n(v: &str) -> Av {
    Av::N(v.into())
}

#[tokio::test]
async fn all_attribute_types_round_trip() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("types");
    create(&c, &t, false).await;
    let nested = HashMap::from([
        (
            "inner".to_string(),
            Av::L(vec![n("1"), s("x"), Av::Null(true)]),
        ),
        ("flag".to_string(), Av::Bool(false)),
    ]);
    let item = HashMap::from([
        ("pk".to_string(), s("all")),
        ("s".to_string(), s("")),
        ("n".to_string(), n("1.50")),
        (
            "big".to_string(),
            n("12345678901234567890123456789012345678"),
        ),
        ("tiny".to_string(), n("-1E-130")),
        ("b".to_string(), Av::B(Blob::new(vec![0u8, 1, 255]))),
        ("t".to_string(), Av::Bool(true)),
        ("z".to_string(), Av::Null(true)),
        ("m".to_string(), Av::M(nested.clone())),
        ("l".to_string(), Av::L(vec![s("a"), Av::M(nested)])),
        ("ss".to_string(), Av::Ss(vec!["b".into(), "a".into()])),
        ("ns".to_string(), Av::Ns(vec!["3".into(), "1.0".into()])),
        (
            "bs".to_string(),
            Av::Bs(vec![Blob::new(vec![1u8]), Blob::new(vec![2u8])]),
        ),
    ]);
    c.put_item()
        .table_name(&t)
        .set_item(Some(item.clone()))
        .send()
        .await
        .unwrap();
    let got = c
        .get_item()
        .table_name(&t)
        .key("pk", s("all"))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(got.len(), item.len());
    assert_eq!(got["n"], n("1.5"), "numbers come back normalized");
    assert_eq!(got["big"], n("12345678901234567890123456789012345678"));
    assert_eq!(got["b"], item["b"]);
    assert_eq!(got["m"], item["m"]);
    assert_eq!(got["l"], item["l"]);
    let mut ss = got["ss"].as_ss().unwrap().clone();
    ss.sort();
    assert_eq!(ss, vec!["a", "b"]);
    let mut ns = got["ns"].as_ns().unwrap().clone();
    ns.sort();
    assert_eq!(ns, vec!["1", "3"]);

    // Projection.
    let got = c
        .get_item()
        .table_name(&t)
        .key("pk", s("all"))
        .projection_expression("#n, t")
        .expression_attribute_names("#n", "n")
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got["t"], Av::Bool(true));
}

#[tokio::test]
async fn update_and_delete_return_values() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("upd");
    create(&c, &t, false).await;
    c.put_item()
        .table_name(&t)
        .item("pk", s("k"))
        .item("a", n("1"))
        .item("c", s("gone"))
        .send()
        .await
        .unwrap();
    let out = c
        .update_item()
        .table_name(&t)
        .key("pk", s("k"))
        .update_expression("SET a = :v, b = :w REMOVE c")
        .expression_attribute_values(":v", n("2"))
        .expression_attribute_values(":w", s("new"))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap();
    let attrs = out.attributes.unwrap();
    assert_eq!(attrs["a"], n("2"));
    assert_eq!(attrs["b"], s("new"));
    assert!(!attrs.contains_key("c"));

    // UpdateItem of a missing item creates it.
    c.update_item()
        .table_name(&t)
        .key("pk", s("fresh"))
        .update_expression("SET x = :v")
        .expression_attribute_values(":v", n("7"))
        .send()
        .await
        .unwrap();
    let got = c
        .get_item()
        .table_name(&t)
        .key("pk", s("fresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.item.unwrap()["x"], n("7"));

    let out = c
        .delete_item()
        .table_name(&t)
        .key("pk", s("k"))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(out.attributes.unwrap()["b"], s("new"));
    let got = c
        .get_item()
        .table_name(&t)
        .key("pk", s("k"))
        .send()
        .await
        .unwrap();
    assert!(got.item.is_none());
}

/// An UpdateItem that only removes attributes or deletes from sets does not create a
/// missing item (DynamoDB's one exception to "update creates"); one with no action at
/// all, or with a SET, does.
#[tokio::test]
async fn an_update_that_only_removes_does_not_create_the_item() {
    use aws_sdk_dynamodb::types::{AttributeAction, AttributeValueUpdate};
    let server = Server::start();
    let c = server.client();
    let t = table_name("rm");
    create(&c, &t, false).await;
    let exists = |k: &'static str| {
        let c = c.clone();
        let t = t.clone();
        async move {
            c.get_item()
                .table_name(&t)
                .key("pk", s(k))
                .send()
                .await
                .unwrap()
                .item
                .is_some()
        }
    };
    let out = c
        .update_item()
        .table_name(&t)
        .key("pk", s("removed"))
        .update_expression("REMOVE a, b.c")
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap();
    assert!(out.attributes.is_none(), "{:?}", out.attributes);
    assert!(!exists("removed").await);
    c.update_item()
        .table_name(&t)
        .key("pk", s("deleted"))
        .update_expression("DELETE tags :t")
        .expression_attribute_values(":t", Av::Ss(vec!["x".into()]))
        .send()
        .await
        .unwrap();
    assert!(!exists("deleted").await);
    c.update_item()
        .table_name(&t)
        .key("pk", s("legacy"))
        .attribute_updates(
            "a",
            AttributeValueUpdate::builder()
                .action(AttributeAction::Delete)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(!exists("legacy").await);
    // No action at all, or a SET next to a REMOVE, creates the item.
    c.update_item()
        .table_name(&t)
        .key("pk", s("bare"))
        .send()
        .await
        .unwrap();
    assert!(exists("bare").await);
    c.update_item()
        .table_name(&t)
        .key("pk", s("mixed"))
        .update_expression("SET x = :v REMOVE a")
        .expression_attribute_values(":v", n("1"))
        .send()
        .await
        .unwrap();
    assert!(exists("mixed").await);
}

async fn fill_partition(c: &aws_sdk_dynamodb::Client, t: &str, pk: &str, sks: &[&str]) {
    for sk in sks {
        c.put_item()
            .table_name(t)
            .item("pk", s(pk))
            .item("sk", n(sk))
            .item("v", s(&format!("v{sk}")))
            .send()
            .await
            .unwrap();
    }
}

async fn query_sks(
    c: &aws_sdk_dynamodb::Client,
    t: &str,
    cond: &str,
    vals: &[(&str, Av)],
) -> Vec<String> {
    let mut q = c
        .query()
        .table_name(t)
        .key_condition_expression(cond)
        .expression_attribute_values(":p", s("p"));
    for (k, v) in vals {
        q = q.expression_attribute_values(*k, v.clone());
    }
    let out = q.send().await.unwrap();
    out.items()
        .iter()
        .map(|i| i["sk"].as_n().unwrap().clone())
        .collect()
}

#[tokio::test]
async fn query_orders_numbers_and_applies_key_conditions() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("query");
    create(&c, &t, true).await;
    fill_partition(&c, &t, "p", &["25", "-2", "3", "0", "-10", "1e2", "0.5"]).await;
    fill_partition(&c, &t, "other", &["1", "2"]).await;
    assert_eq!(
        query_sks(&c, &t, "pk = :p", &[]).await,
        vec!["-10", "-2", "0", "0.5", "3", "25", "100"]
    );
    assert_eq!(
        query_sks(&c, &t, "pk = :p AND sk = :a", &[(":a", n("3"))]).await,
        vec!["3"]
    );
    assert_eq!(
        query_sks(&c, &t, "pk = :p AND sk < :a", &[(":a", n("0"))]).await,
        vec!["-10", "-2"]
    );
    assert_eq!(
        query_sks(&c, &t, "pk = :p AND sk <= :a", &[(":a", n("0"))]).await,
        vec!["-10", "-2", "0"]
    );
    assert_eq!(
        query_sks(&c, &t, "pk = :p AND sk > :a", &[(":a", n("3"))]).await,
        vec!["25", "100"]
    );
    assert_eq!(
        query_sks(&c, &t, "pk = :p AND sk >= :a", &[(":a", n("3"))]).await,
        vec!["3", "25", "100"]
    );
    assert_eq!(
        query_sks(
            &c,
            &t,
            "pk = :p AND sk BETWEEN :a AND :b",
            &[(":a", n("-2")), (":b", n("3"))]
        )
        .await,
        vec!["-2", "0", "0.5", "3"]
    );

    // Descending, Limit paging, COUNT.
    let out = c
        .query()
        .table_name(&t)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .scan_index_forward(false)
        .limit(3)
        .send()
        .await
        .unwrap();
    let sks: Vec<_> = out
        .items()
        .iter()
        .map(|i| i["sk"].as_n().unwrap().clone())
        .collect();
    assert_eq!(sks, vec!["100", "25", "3"]);
    let lek = out.last_evaluated_key.clone().expect("more pages");
    let out = c
        .query()
        .table_name(&t)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .scan_index_forward(false)
        .set_exclusive_start_key(Some(lek))
        .send()
        .await
        .unwrap();
    let sks: Vec<_> = out
        .items()
        .iter()
        .map(|i| i["sk"].as_n().unwrap().clone())
        .collect();
    assert_eq!(sks, vec!["0.5", "0", "-2", "-10"]);
    assert!(out.last_evaluated_key.is_none());
    let out = c
        .query()
        .table_name(&t)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .select(Select::Count)
        .send()
        .await
        .unwrap();
    assert_eq!(out.count, 7);
    assert!(out.items.is_none() || out.items().is_empty());
}

#[tokio::test]
async fn query_begins_with_on_string_sort_keys() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("bw");
    c.create_table()
        .table_name(&t)
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("sk")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .unwrap(),
        )
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("sk")
                .key_type(aws_sdk_dynamodb::types::KeyType::Range)
                .build()
                .unwrap(),
        )
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    for sk in ["a", "ab", "abc", "abd", "b", "a\u{0}z", "Z"] {
        c.put_item()
            .table_name(&t)
            .item("pk", s("p"))
            .item("sk", s(sk))
            .send()
            .await
            .unwrap();
    }
    let out = c
        .query()
        .table_name(&t)
        .key_condition_expression("pk = :p AND begins_with(sk, :x)")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":x", s("ab"))
        .send()
        .await
        .unwrap();
    let sks: Vec<_> = out
        .items()
        .iter()
        .map(|i| i["sk"].as_s().unwrap().clone())
        .collect();
    assert_eq!(sks, vec!["ab", "abc", "abd"]);
    let all = c
        .query()
        .table_name(&t)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .send()
        .await
        .unwrap();
    let sks: Vec<_> = all
        .items()
        .iter()
        .map(|i| i["sk"].as_s().unwrap().clone())
        .collect();
    assert_eq!(
        sks,
        vec!["Z", "a", "a\u{0}z", "ab", "abc", "abd", "b"],
        "bytewise order"
    );
}

#[tokio::test]
async fn scan_pages_and_parallel_segments_cover_the_table_once() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("scan");
    create(&c, &t, false).await;
    let total = 200;
    for chunk in (0..total).collect::<Vec<_>>().chunks(25) {
        let reqs: Vec<_> = chunk
            .iter()
            .map(|i| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .item("pk", s(&format!("k{i}")))
                            .item("i", n(&i.to_string()))
                            .build()
                            .unwrap(),
                    )
                    .build()
            })
            .collect();
        let out = c
            .batch_write_item()
            .request_items(&t, reqs)
            .send()
            .await
            .unwrap();
        assert!(out.unprocessed_items().is_none_or(|u| u.is_empty()));
    }
    // Paging with Limit.
    let mut seen = HashSet::new();
    let mut start = None;
    let mut pages = 0;
    loop {
        let out = c
            .scan()
            .table_name(&t)
            .limit(30)
            .set_exclusive_start_key(start.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        for i in out.items() {
            assert!(
                seen.insert(i["pk"].as_s().unwrap().clone()),
                "duplicate across pages"
            );
        }
        match out.last_evaluated_key {
            Some(k) => start = Some(k),
            None => break,
        }
        assert!(pages < 50);
    }
    assert_eq!(seen.len(), total);
    // Parallel segments.
    for segments in [1, 3, 7] {
        let mut union = HashSet::new();
        for seg in 0..segments {
            let out = c
                .scan()
                .table_name(&t)
                .segment(seg)
                .total_segments(segments)
                .send()
                .await
                .unwrap();
            for i in out.items() {
                assert!(
                    union.insert(i["pk"].as_s().unwrap().clone()),
                    "item in two segments"
                );
            }
        }
        assert_eq!(union.len(), total, "{segments} segments cover the table");
    }
    let count = c
        .scan()
        .table_name(&t)
        .select(Select::Count)
        .send()
        .await
        .unwrap();
    assert_eq!(count.count, total as i32);
    let d = c.describe_table().table_name(&t).send().await.unwrap();
    assert_eq!(d.table.unwrap().item_count(), Some(total as i64));
}

#[tokio::test]
async fn batch_get_and_batch_write() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("batch");
    create(&c, &t, false).await;
    let puts: Vec<_> = (0..25)
        .map(|i| {
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .item("pk", s(&format!("b{i}")))
                        .build()
                        .unwrap(),
                )
                .build()
        })
        .collect();
    c.batch_write_item()
        .request_items(&t, puts)
        .send()
        .await
        .unwrap();
    let mut keys = KeysAndAttributes::builder();
    for i in 0..100 {
        keys = keys.keys(HashMap::from([("pk".to_string(), s(&format!("b{i}")))]));
    }
    let out = c
        .batch_get_item()
        .request_items(&t, keys.build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(out.responses().unwrap()[&t].len(), 25);
    let dels: Vec<_> = (0..10)
        .map(|i| {
            WriteRequest::builder()
                .delete_request(
                    DeleteRequest::builder()
                        .key("pk", s(&format!("b{i}")))
                        .build()
                        .unwrap(),
                )
                .build()
        })
        .collect();
    c.batch_write_item()
        .request_items(&t, dels)
        .send()
        .await
        .unwrap();
    let count = c
        .scan()
        .table_name(&t)
        .select(Select::Count)
        .send()
        .await
        .unwrap();
    assert_eq!(count.count, 15);
}

#[tokio::test]
async fn query_pages_at_one_megabyte() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("mb");
    create(&c, &t, true).await;
    let blob = "x".repeat(100 * 1024);
    for i in 0..14 {
        c.put_item()
            .table_name(&t)
            .item("pk", s("p"))
            .item("sk", n(&i.to_string()))
            .item("data", s(&blob))
            .send()
            .await
            .unwrap();
    }
    let first = c
        .query()
        .table_name(&t)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .send()
        .await
        .unwrap();
    assert!(
        first.count < 14 && first.count >= 9,
        "first page holds about 1 MB: {}",
        first.count
    );
    let second = c
        .query()
        .table_name(&t)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .set_exclusive_start_key(first.last_evaluated_key.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(first.count + second.count, 14);
}
