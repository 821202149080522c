//! Query and Scan refuse what DynamoDB refuses, with its messages: a filter naming a
//! key attribute, an ExclusiveStartKey of the wrong shape or outside the read, a Select
//! that does not fit the projection, a projection path too deep or a list index too
//! large.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as Av, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, Select,
};

use crate::control::create;
use crate::harness::{Server, table_name};

fn s(v: &str) -> Av {
    Av::S(v.into())
}

fn n(v: &str) -> Av {
    Av::N(v.into())
}

fn key(pairs: &[(&str, Av)]) -> HashMap<String, Av> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// The code and message of a failed call.
fn failure<T, E: ProvideErrorMetadata>(r: Result<T, E>) -> (String, String) {
    let e = r.err().expect("the call should have failed");
    (
        e.code().unwrap_or("<none>").to_string(),
        e.message().unwrap_or("<none>").to_string(),
    )
}

fn validation(m: &str) -> (String, String) {
    ("ValidationException".to_string(), m.to_string())
}

/// A table `pk` (S) / `sk` (N) with a global index `by_g` on `g` (S) / `h` (N).
async fn create_indexed(c: &Client, name: &str) {
    let attr = |n: &str, t: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(t)
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
        .table_name(name)
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .attribute_definitions(attr("sk", ScalarAttributeType::N))
        .attribute_definitions(attr("g", ScalarAttributeType::S))
        .attribute_definitions(attr("h", ScalarAttributeType::N))
        .key_schema(elem("pk", KeyType::Hash))
        .key_schema(elem("sk", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by_g")
                .key_schema(elem("g", KeyType::Hash))
                .key_schema(elem("h", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
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

#[tokio::test]
async fn query_filter_expression_may_not_name_a_key_attribute() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("rd-filter");
    create_indexed(&c, &t).await;
    let query = |filter: &str| {
        c.query()
            .table_name(&t)
            .key_condition_expression("pk = :p")
            .filter_expression(filter)
            .expression_attribute_values(":p", s("p"))
            .expression_attribute_values(":v", n("1"))
    };
    // The path counts by its top-level attribute, the hash key is named first.
    for (filter, named) in [
        ("sk = :v", "sk"),
        ("attribute_exists(sk.a) AND v = :v", "sk"),
        ("sk[1] = :v", "sk"),
        ("sk = :v AND pk = :v", "pk"),
    ] {
        assert_eq!(
            failure(query(filter).send().await),
            validation(&format!(
                "Filter Expression can only contain non-primary key attributes: Primary key attribute: {named}"
            )),
            "{filter}"
        );
    }
    // A filter on other attributes is fine; so is one naming the index's keys on
    // the table, and the table's keys in a Scan.
    query("v = :v AND g = :v").send().await.unwrap();
    c.scan()
        .table_name(&t)
        .filter_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .send()
        .await
        .unwrap();
    // On an index, its own keys are the primary key.
    let r = c
        .query()
        .table_name(&t)
        .index_name("by_g")
        .key_condition_expression("g = :g")
        .filter_expression("h > :v AND pk = :g")
        .expression_attribute_values(":g", s("g"))
        .expression_attribute_values(":v", n("1"))
        .send()
        .await;
    assert_eq!(
        failure(r),
        validation(
            "Filter Expression can only contain non-primary key attributes: Primary key attribute: h"
        )
    );
    // The table is untouched by all this and still answers.
    let all = c.scan().table_name(&t).send().await.unwrap();
    assert_eq!(all.count, 0);
}

#[tokio::test]
async fn exclusive_start_key_is_checked_against_the_read_it_resumes() {
    let server = Server::start();
    let c = server.client();
    let hash_only = table_name("rd-esk-h");
    create(&c, &hash_only, false).await;
    let t = table_name("rd-esk");
    create_indexed(&c, &t).await;
    for i in 0..5 {
        let item = key(&[
            ("pk", s("p")),
            ("sk", n(&i.to_string())),
            ("g", s("g")),
            ("h", n(&i.to_string())),
        ]);
        c.put_item()
            .table_name(&t)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    let invalid = "The provided starting key is invalid";
    let mismatch = "The provided key element does not match the schema";

    // A hash-only table: a Query's start key of the wrong shape, and a Scan's.
    let query_h = |esk: HashMap<String, Av>| {
        c.query()
            .table_name(&hash_only)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("p"))
            .set_exclusive_start_key(Some(esk))
    };
    for esk in [
        key(&[]),
        key(&[("other", s("p"))]),
        key(&[("pk", s("p")), ("sk", n("1"))]),
    ] {
        assert_eq!(
            failure(query_h(esk.clone()).send().await),
            validation(invalid),
            "{esk:?}"
        );
    }
    assert_eq!(
        failure(query_h(key(&[("pk", n("1"))])).send().await),
        validation(mismatch)
    );
    let r = c
        .scan()
        .table_name(&hash_only)
        .set_exclusive_start_key(Some(key(&[("pk", s("p")), ("sk", n("1"))])))
        .send()
        .await;
    assert_eq!(failure(r), validation(&format!("{invalid}: {mismatch}")));

    // The start key's shape is checked before the key condition's meaning.
    let on_other = |esk: HashMap<String, Av>| {
        c.query()
            .table_name(&hash_only)
            .key_condition_expression("x = :p")
            .expression_attribute_values(":p", s("p"))
            .set_exclusive_start_key(Some(esk))
    };
    let r = on_other(key(&[("x", s("p"))])).send().await;
    assert_eq!(failure(r), validation(invalid));
    let r = on_other(key(&[("pk", s("p"))])).send().await;
    let (code, message) = failure(r);
    assert_eq!(code, "ValidationException");
    assert!(
        message.contains("missed key schema element: pk"),
        "{message}"
    );
    // But after the expressions' own errors (syntax, names, values), which are request
    // validation: dynalite's validations run validateExpressions before any table check.
    let bad_shape = key(&[("x", s("p"))]);
    let r = c
        .query()
        .table_name(&hash_only)
        .key_condition_expression("pk = = :p")
        .expression_attribute_values(":p", s("p"))
        .set_exclusive_start_key(Some(bad_shape.clone()))
        .send()
        .await;
    assert_eq!(
        failure(r),
        validation("Invalid KeyConditionExpression: Syntax error; token: \"=\", near: \"= = :p\"")
    );
    let r = query_h(bad_shape.clone())
        .filter_expression("a = :nope")
        .send()
        .await;
    assert_eq!(
        failure(r),
        validation(
            "Invalid FilterExpression: An expression attribute value used in expression is not defined; attribute value: :nope"
        )
    );
    let r = c
        .scan()
        .table_name(&t)
        .index_name("by_g")
        .projection_expression("a,,b")
        .set_exclusive_start_key(Some(bad_shape))
        .send()
        .await;
    assert_eq!(
        failure(r),
        validation("Invalid ProjectionExpression: Syntax error; token: \",\", near: \",,b\"")
    );

    // A Query's start key must lie inside its key condition.
    let query = |kc: &str, esk: HashMap<String, Av>| {
        c.query()
            .table_name(&t)
            .key_condition_expression(kc)
            .expression_attribute_values(":p", s("p"))
            .set_exclusive_start_key(Some(esk))
    };
    let cases = [
        (
            "pk = :p",
            key(&[("pk", s("q")), ("sk", n("1"))]),
            "The provided starting key is outside query boundaries based on provided conditions",
        ),
        (
            "pk = :p AND sk > :p3",
            key(&[("pk", s("p")), ("sk", n("2"))]),
            "The provided starting key does not match the range key predicate",
        ),
        (
            "pk = :p AND sk > :p3",
            key(&[("pk", s("q")), ("sk", n("2"))]),
            "The provided starting key does not match the range key predicate",
        ),
        (
            "pk = :p AND sk > :p3",
            key(&[("pk", s("q")), ("sk", n("4"))]),
            "The query can return at most one row and cannot be restarted",
        ),
    ];
    for (kc, esk, want) in cases {
        let mut q = query(kc, esk.clone());
        if kc.contains(":p3") {
            q = q.expression_attribute_values(":p3", n("3"));
        }
        assert_eq!(failure(q.send().await), validation(want), "{kc} {esk:?}");
    }
    // A start key inside the condition resumes after itself.
    let page = query(
        "pk = :p AND sk > :p3",
        key(&[("pk", s("p")), ("sk", n("3"))]),
    )
    .expression_attribute_values(":p3", n("2"))
    .send()
    .await
    .unwrap();
    assert_eq!(page.count, 1);
    assert_eq!(page.items()[0]["sk"], n("4"));

    // An index Query: the start key holds the table's and the index's keys, and its
    // index partition must be the one queried.
    let query_ix = |esk: HashMap<String, Av>| {
        c.query()
            .table_name(&t)
            .index_name("by_g")
            .key_condition_expression("g = :g")
            .expression_attribute_values(":g", s("g"))
            .set_exclusive_start_key(Some(esk))
    };
    let r = query_ix(key(&[("pk", s("p")), ("sk", n("1")), ("g", s("g"))]));
    assert_eq!(failure(r.send().await), validation(invalid));
    let r = query_ix(key(&[
        ("pk", s("p")),
        ("sk", n("1")),
        ("g", s("g")),
        ("h", s("1")),
    ]));
    assert_eq!(failure(r.send().await), validation(mismatch));
    let r = query_ix(key(&[
        ("pk", s("p")),
        ("sk", n("1")),
        ("g", s("other")),
        ("h", n("1")),
    ]));
    assert_eq!(
        failure(r.send().await),
        validation(
            "The provided starting key is outside query boundaries based on provided conditions"
        )
    );
    let page = query_ix(key(&[
        ("pk", s("p")),
        ("sk", n("1")),
        ("g", s("g")),
        ("h", n("1")),
    ]))
    .send()
    .await
    .unwrap();
    assert_eq!(page.count, 3);
}

#[tokio::test]
async fn a_parallel_scan_start_key_must_lie_in_its_segment() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("rd-seg");
    create(&c, &t, false).await;
    for i in 0..40 {
        c.put_item()
            .table_name(&t)
            .item("pk", s(&format!("item-{i}")))
            .send()
            .await
            .unwrap();
    }
    let segment = |seg: i32| c.scan().table_name(&t).segment(seg).total_segments(2);
    let one = segment(1).send().await.unwrap();
    let zero = segment(0).send().await.unwrap();
    assert!(one.count > 0 && zero.count > 0, "both segments hold items");
    assert_eq!(one.count + zero.count, 40);
    let of_one = key(&[("pk", one.items()[0]["pk"].clone())]);
    let r = segment(0).set_exclusive_start_key(Some(of_one.clone()));
    assert_eq!(
        failure(r.send().await),
        validation(
            "The provided starting key is invalid: Invalid ExclusiveStartKey. Please use ExclusiveStartKey with correct Segment. TotalSegments: 2 Segment: 0"
        )
    );
    // The segment's own keys resume it, page by page, to all of its items.
    let mut seen = 0;
    let mut start = None;
    loop {
        let page = segment(1)
            .limit(7)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        seen += page.count;
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    assert_eq!(seen, one.count);
    // A whole-table Scan takes any key of the table.
    let rest = c
        .scan()
        .table_name(&t)
        .set_exclusive_start_key(Some(of_one))
        .send()
        .await
        .unwrap();
    assert!(rest.count < 40);
}

#[tokio::test]
async fn select_must_fit_the_projection_and_the_index() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("rd-select");
    create_indexed(&c, &t).await;
    let query = || {
        c.query()
            .table_name(&t)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("p"))
    };
    let scan = || c.scan().table_name(&t);
    // A Query's messages carry the validation envelope, a Scan's do not.
    let specific = "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES";
    let r = query().select(Select::SpecificAttributes).send().await;
    assert_eq!(
        failure(r),
        validation(&format!("1 validation error detected: {specific}"))
    );
    let r = scan().select(Select::SpecificAttributes).send().await;
    assert_eq!(failure(r), validation(specific));
    for (select, described) in [
        (Select::AllAttributes, "ALL_ATTRIBUTES"),
        (Select::Count, "only the Count"),
    ] {
        let r = query()
            .select(select.clone())
            .projection_expression("v")
            .send()
            .await;
        assert_eq!(
            failure(r),
            validation(&format!(
                "1 validation error detected: Cannot specify the ProjectionExpression when choosing to get {described}"
            ))
        );
        let r = scan().select(select).attributes_to_get("v").send().await;
        assert_eq!(
            failure(r),
            validation(&format!(
                "Cannot specify the AttributesToGet when choosing to get {described}"
            ))
        );
    }
    let r = query().select(Select::AllProjectedAttributes).send().await;
    assert_eq!(
        failure(r),
        validation(
            "1 validation error detected: ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"
        )
    );
    let r = scan().select(Select::AllProjectedAttributes).send().await;
    assert_eq!(
        failure(r),
        validation("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName")
    );
    // What fits is read.
    c.put_item()
        .table_name(&t)
        .set_item(Some(key(&[("pk", s("p")), ("sk", n("1")), ("v", n("7"))])))
        .send()
        .await
        .unwrap();
    let r = query()
        .select(Select::SpecificAttributes)
        .projection_expression("v")
        .send()
        .await
        .unwrap();
    assert_eq!(r.items(), [key(&[("v", n("7"))])]);
    let r = scan()
        .index_name("by_g")
        .select(Select::AllProjectedAttributes)
        .send()
        .await
        .unwrap();
    assert_eq!(r.count, 0);
}

#[tokio::test]
async fn projection_paths_are_held_to_dynamodb_limits() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("rd-proj");
    create(&c, &t, false).await;
    let item = key(&[("pk", s("p")), ("a", Av::L(vec![n("1"), n("2")]))]);
    c.put_item()
        .table_name(&t)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
    let get = |projection: String| {
        c.get_item()
            .table_name(&t)
            .key("pk", s("p"))
            .projection_expression(projection)
    };
    // 32 levels, the top-level attribute counted, are read; 33 are refused.
    let deepest = format!("a{}", ".b".repeat(31));
    assert_eq!(get(deepest).send().await.unwrap().item(), Some(&key(&[])));
    let too_deep = format!("a{}", ".b".repeat(32));
    assert_eq!(
        failure(get(too_deep.clone()).send().await),
        validation(
            "Invalid ProjectionExpression: The document path has too many nesting levels; nesting levels: 33"
        )
    );
    let r = c
        .query()
        .table_name(&t)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .projection_expression(too_deep)
        .send()
        .await;
    assert_eq!(
        failure(r).1,
        "Invalid ProjectionExpression: The document path has too many nesting levels; nesting levels: 33"
    );
    // An index past the list's end selects nothing; one past a 32-bit integer is
    // refused.
    let past_end = get("a[999]".into()).send().await.unwrap();
    assert_eq!(past_end.item(), Some(&key(&[])));
    let r = c
        .scan()
        .table_name(&t)
        .projection_expression("a[99999999999999]")
        .send()
        .await;
    assert_eq!(
        failure(r),
        validation(
            "Invalid ProjectionExpression: List index is not within the allowable range; index: [99999999999999]"
        )
    );
    let first = get("a[0]".into()).send().await.unwrap();
    assert_eq!(first.item(), Some(&key(&[("a", Av::L(vec![n("1")]))])));
}

#[tokio::test]
async fn query_and_scan_may_not_look_inside_a_key_attribute() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("rd-keypath");
    create_indexed(&c, &t).await;
    let scalars = "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed";
    let scan = |filter: &str| {
        c.scan()
            .table_name(&t)
            .filter_expression(filter)
            .expression_attribute_values(":v", n("1"))
    };
    for (filter, named) in [
        ("attribute_exists(pk.a) OR v = :v", "Key: pk"),
        ("sk[0] = :v", "Key: sk"),
        ("v = :v AND size(g.x) > :v", "IndexKey: g"),
        ("h.x.y = :v OR g[1] = :v", "IndexKey: g"),
    ] {
        assert_eq!(
            failure(scan(filter).send().await),
            validation(&format!("{scalars}: {named}")),
            "{filter}"
        );
    }
    // A projection is held to it too, and is looked at before the filter.
    let r = c
        .query()
        .table_name(&t)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .projection_expression("v, h[2]")
        .send()
        .await;
    assert_eq!(failure(r), validation(&format!("{scalars}: IndexKey: h")));
    let r = scan("g.a = :v").projection_expression("sk.b").send().await;
    assert_eq!(failure(r), validation(&format!("{scalars}: Key: sk")));
    // Whole key attributes, and paths inside other attributes, are fine.
    scan("g = :v AND v.a[1] = :v")
        .projection_expression("pk, sk, m.x")
        .send()
        .await
        .unwrap();
    // A parallel Scan's start key outside its segment is reported first.
    for i in 0..20 {
        let item = key(&[("pk", s(&format!("p{i}"))), ("sk", n("1"))]);
        c.put_item()
            .table_name(&t)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    let one = c
        .scan()
        .table_name(&t)
        .segment(1)
        .total_segments(2)
        .send()
        .await
        .unwrap();
    let esk = key(&[("pk", one.items()[0]["pk"].clone()), ("sk", n("1"))]);
    let r = scan("attribute_exists(pk.a) OR v = :v")
        .segment(0)
        .total_segments(2)
        .set_exclusive_start_key(Some(esk))
        .send()
        .await;
    assert!(
        failure(r)
            .1
            .contains("Please use ExclusiveStartKey with correct Segment")
    );
}

#[tokio::test]
async fn a_parallel_index_scan_pages_through_its_segments() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("rd-ixseg");
    create_indexed(&c, &t).await;
    for i in 0..30 {
        let item = key(&[
            ("pk", s(&format!("p{i}"))),
            ("sk", n("1")),
            ("g", s(&format!("g{i}"))),
            ("h", n(&i.to_string())),
        ]);
        c.put_item()
            .table_name(&t)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    for segment in 0..3 {
        let mut start = None;
        loop {
            let page = c
                .scan()
                .table_name(&t)
                .index_name("by_g")
                .segment(segment)
                .total_segments(3)
                .limit(4)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            seen.extend(page.items().iter().map(|i| i["pk"].clone()));
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
    }
    seen.sort_by_key(|v| v.as_s().unwrap().clone());
    seen.dedup();
    assert_eq!(seen.len(), 30);
}
