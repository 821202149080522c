//! The expression language and the legacy parameters through the AWS SDK for Rust:
//! every operation's use of every expression kind, and each error's code and exact
//! message. Every failing write is checked to have written nothing.

use std::collections::HashMap;
use std::fmt::Debug;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeAction, AttributeValue as Av, AttributeValueUpdate, ComparisonOperator, Condition,
    ConditionalOperator, ExpectedAttributeValue, KeysAndAttributes, ReturnValue,
    ReturnValuesOnConditionCheckFailure, Select,
};

use crate::control::create;
use crate::harness::{Server, table_name};

fn s(v: &str) -> Av {
    Av::S(v.into())
}

fn n(v: &str) -> Av {
    Av::N(v.into())
}

fn l(v: Vec<Av>) -> Av {
    Av::L(v)
}

fn m(pairs: &[(&str, Av)]) -> Av {
    Av::M(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

fn ss(v: &[&str]) -> Av {
    Av::Ss(v.iter().map(|x| x.to_string()).collect())
}

fn item(pairs: &[(&str, Av)]) -> HashMap<String, Av> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Asserts a call failed with DynamoDB's `code` and exactly `message`.
#[track_caller]
fn assert_err<T: Debug, E: ProvideErrorMetadata + Debug>(
    r: Result<T, E>,
    code: &str,
    message: &str,
) {
    let e = r.expect_err("the call should have failed");
    assert_eq!(e.code(), Some(code), "code of {e:?}");
    assert_eq!(e.message(), Some(message), "message of {e:?}");
}

const VALIDATION: &str = "ValidationException";

/// An expression, its ExpressionAttributeValues and the message it must fail with.
type ErrorCase = (&'static str, Vec<(&'static str, Av)>, &'static str);
const CONDITION_FAILED: &str = "ConditionalCheckFailedException";

async fn get(c: &Client, t: &str, pk: &str) -> Option<HashMap<String, Av>> {
    c.get_item()
        .table_name(t)
        .key("pk", s(pk))
        .send()
        .await
        .unwrap()
        .item
}

fn sorted_ss(v: &Av) -> Vec<String> {
    let mut x = v.as_ss().unwrap().clone();
    x.sort();
    x
}

#[tokio::test]
async fn condition_expressions_on_put_update_delete() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("cond");
    create(&c, &t, false).await;
    let original = item(&[
        ("pk", s("k")),
        ("status", s("active")),
        ("n", n("5")),
        ("tags", ss(&["a", "b"])),
        ("email", s("ada@example.com")),
    ]);
    c.put_item()
        .table_name(&t)
        .set_item(Some(original.clone()))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await
        .unwrap();

    // PutItem: a failing condition, with and without ALL_OLD.
    let r = c
        .put_item()
        .table_name(&t)
        .item("pk", s("k"))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    assert_err(r, CONDITION_FAILED, "The conditional request failed");
    let e = c
        .put_item()
        .table_name(&t)
        .item("pk", s("k"))
        .condition_expression("#s = :v")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":v", s("inactive"))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_conditional_check_failed_exception(), "{e:?}");
    let aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(ex) =
        e
    else {
        unreachable!()
    };
    assert_eq!(ex.item.as_ref(), Some(&original), "ALL_OLD item");
    assert_eq!(get(&c, &t, "k").await.as_ref(), Some(&original));

    // The five-clause condition of the benchmark, true, then false by one clause.
    let five = "attribute_exists(pk) AND #s = :active AND size(tags) > :n AND begins_with(email, :dom) AND n BETWEEN :lo AND :hi";
    let run = |hi: &str| {
        c.update_item()
            .table_name(&t)
            .key("pk", s("k"))
            .update_expression("SET seen = :one")
            .condition_expression(five)
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":active", s("active"))
            .expression_attribute_values(":n", n("1"))
            .expression_attribute_values(":dom", s("ada@"))
            .expression_attribute_values(":lo", n("1"))
            .expression_attribute_values(":hi", n(hi))
            .expression_attribute_values(":one", n("1"))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
    };
    run("9").await.unwrap();
    let e = run("4").await.unwrap_err().into_service_error();
    let aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(
        ex,
    ) = e
    else {
        panic!("{e:?}")
    };
    assert_eq!(ex.item.unwrap()["seen"], n("1"), "ALL_OLD on UpdateItem");

    // Comparisons across types are false, not errors; OR / NOT / IN / parentheses.
    let r = c
        .delete_item()
        .table_name(&t)
        .key("pk", s("k"))
        .condition_expression("n = :five")
        .expression_attribute_values(":five", s("5"))
        .send()
        .await;
    assert_err(r, CONDITION_FAILED, "The conditional request failed");
    let out = c
        .delete_item()
        .table_name(&t)
        .key("pk", s("k"))
        .condition_expression("NOT (n < :five) AND (#s IN (:x, :y) OR contains(tags, :x))")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":five", n("5"))
        .expression_attribute_values(":x", s("a"))
        .expression_attribute_values(":y", s("active"))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(out.attributes.unwrap()["n"], n("5"));
    assert!(get(&c, &t, "k").await.is_none());

    // A condition on a missing item sees an empty item; ALL_OLD then returns nothing.
    let e = c
        .update_item()
        .table_name(&t)
        .key("pk", s("missing"))
        .update_expression("SET a = :one")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_values(":one", n("1"))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(
        ex,
    ) = e
    else {
        panic!("{e:?}")
    };
    assert!(ex.item.is_none());
    assert!(get(&c, &t, "missing").await.is_none(), "nothing written");

    // ReturnValues that PutItem and DeleteItem do not allow.
    for rv in [
        ReturnValue::AllNew,
        ReturnValue::UpdatedOld,
        ReturnValue::UpdatedNew,
    ] {
        let r = c
            .put_item()
            .table_name(&t)
            .item("pk", s("rv"))
            .return_values(rv.clone())
            .send()
            .await;
        assert_err(r, VALIDATION, "ReturnValues can only be ALL_OLD or NONE");
        let r = c
            .delete_item()
            .table_name(&t)
            .key("pk", s("rv"))
            .return_values(rv)
            .send()
            .await;
        assert_err(r, VALIDATION, "ReturnValues can only be ALL_OLD or NONE");
    }
    assert!(get(&c, &t, "rv").await.is_none());

    // Condition syntax and function errors.
    let cases = [
        (
            "a = ",
            "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"= \"",
        ),
        (
            "foo(a)",
            "Invalid ConditionExpression: Invalid function name; function: foo",
        ),
        (
            "begins_with(a)",
            "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: begins_with, number of operands: 1",
        ),
        (
            "a = a",
            "Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]",
        ),
    ];
    for (expr, msg) in cases {
        let r = c
            .put_item()
            .table_name(&t)
            .item("pk", s("bad"))
            .condition_expression(expr)
            .send()
            .await;
        assert_err(r, VALIDATION, msg);
    }
    assert!(get(&c, &t, "bad").await.is_none());
}

#[tokio::test]
async fn update_expressions_and_return_values() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("updx");
    create(&c, &t, false).await;
    c.put_item()
        .table_name(&t)
        .set_item(Some(item(&[
            ("pk", s("u")),
            ("count", n("10")),
            ("a", m(&[("b", l(vec![n("0"), m(&[("c", s("old"))])]))])),
            ("lst", l(vec![s("x"), s("y"), s("z")])),
            ("tags", ss(&["a", "b", "c"])),
            ("gone", s("bye")),
        ])))
        .send()
        .await
        .unwrap();

    // All four clauses, nested paths, list_append, if_not_exists, arithmetic.
    let out = c
        .update_item()
        .table_name(&t)
        .key("pk", s("u"))
        .update_expression(
            "SET a.b[1].c = :new, #cnt = #cnt + :two, fresh = if_not_exists(fresh, :zero) - :two, \
             lst = list_append(:front, lst) \
             REMOVE gone, a.b[0] ADD tags2 :d, tot :two DELETE tags :ab",
        )
        .expression_attribute_names("#cnt", "count")
        .expression_attribute_values(":new", s("new"))
        .expression_attribute_values(":two", n("2"))
        .expression_attribute_values(":zero", n("0"))
        .expression_attribute_values(":front", l(vec![s("w")]))
        .expression_attribute_values(":d", ss(&["d"]))
        .expression_attribute_values(":ab", ss(&["a", "b"]))
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await
        .unwrap();
    let new = out.attributes.unwrap();
    assert_eq!(new["count"], n("12"));
    assert_eq!(new["fresh"], n("-2"));
    assert_eq!(new["tot"], n("2"));
    assert_eq!(new["lst"], l(vec![s("w"), s("x"), s("y"), s("z")]));
    assert_eq!(sorted_ss(&new["tags"]), vec!["c"]);
    assert_eq!(sorted_ss(&new["tags2"]), vec!["d"]);
    // The nested SET comes back inside its parents; removed paths are absent.
    assert_eq!(new["a"], m(&[("b", l(vec![m(&[("c", s("new"))])]))]));
    assert!(!new.contains_key("gone"));
    assert_eq!(new.len(), 7, "{new:?}");
    let stored = get(&c, &t, "u").await.unwrap();
    assert_eq!(stored["a"], m(&[("b", l(vec![m(&[("c", s("new"))])]))]));
    assert!(!stored.contains_key("gone"));

    // UPDATED_OLD returns the updated paths as they were (nested ones projected).
    let out = c
        .update_item()
        .table_name(&t)
        .key("pk", s("u"))
        .update_expression("SET a.b[0].c = :v, #cnt = :v REMOVE lst[0]")
        .expression_attribute_names("#cnt", "count")
        .expression_attribute_values(":v", s("v"))
        .return_values(ReturnValue::UpdatedOld)
        .send()
        .await
        .unwrap();
    let old = out.attributes.unwrap();
    assert_eq!(
        old,
        item(&[
            ("a", m(&[("b", l(vec![m(&[("c", s("new"))])]))])),
            ("count", n("12")),
            ("lst", l(vec![s("w")])),
        ])
    );
    // ALL_OLD / ALL_NEW / NONE.
    let out = c
        .update_item()
        .table_name(&t)
        .key("pk", s("u"))
        .update_expression("SET x = :v")
        .expression_attribute_values(":v", n("1"))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert!(!out.attributes.unwrap().contains_key("x"));
    let out = c
        .update_item()
        .table_name(&t)
        .key("pk", s("u"))
        .update_expression("SET x = :v")
        .expression_attribute_values(":v", n("2"))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap();
    let all_new = out.attributes.unwrap();
    assert_eq!(all_new["x"], n("2"));
    assert_eq!(all_new["pk"], s("u"));
    let out = c
        .update_item()
        .table_name(&t)
        .key("pk", s("u"))
        .update_expression("SET x = :v")
        .expression_attribute_values(":v", n("3"))
        .send()
        .await
        .unwrap();
    assert!(out.attributes.is_none());

    // Errors: each is a 400 and the item is unchanged afterwards.
    let before = get(&c, &t, "u").await.unwrap();
    let cases: Vec<ErrorCase> = vec![
        (
            "SET a = :v, a.b = :v",
            vec![(":v", n("1"))],
            "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]",
        ),
        (
            "SET pk = :v",
            vec![(":v", s("x"))],
            "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key",
        ),
        (
            "SET x = nope + :v",
            vec![(":v", n("1"))],
            "The provided expression refers to an attribute that does not exist in the item",
        ),
        (
            "SET x = pk + :v",
            vec![(":v", n("1"))],
            "An operand in the update expression has an incorrect data type",
        ),
        (
            "ADD pk2 :v",
            vec![(":v", s("str"))],
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING",
        ),
        (
            "SET nope.deeper = :v",
            vec![(":v", n("1"))],
            "The document path provided in the update expression is invalid for update",
        ),
        (
            "SET x = list_append(x, :v)",
            vec![(":v", l(vec![]))],
            "An operand in the update expression has an incorrect data type",
        ),
        (
            "SET x = :v SET y = :v",
            vec![(":v", n("1"))],
            "Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;",
        ),
    ];
    for (expr, values, msg) in cases {
        let mut req = c
            .update_item()
            .table_name(&t)
            .key("pk", s("u"))
            .update_expression(expr);
        for (k, v) in values {
            req = req.expression_attribute_values(k, v);
        }
        assert_err(req.send().await, VALIDATION, msg);
    }
    assert_eq!(get(&c, &t, "u").await.unwrap(), before, "nothing written");
}

async fn fill(c: &Client, t: &str) {
    for i in 0..10 {
        c.put_item()
            .table_name(t)
            .set_item(Some(item(&[
                ("pk", s("p")),
                ("sk", n(&i.to_string())),
                ("v", n(&(i * 10).to_string())),
                (
                    "doc",
                    m(&[
                        ("name", s(&format!("n{i}"))),
                        ("lst", l(vec![s("a"), s("b"), s("c")])),
                        ("other", s("x")),
                    ]),
                ),
                ("extra", s("e")),
            ])))
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn projection_filter_and_key_conditions_on_reads() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("reads");
    create(&c, &t, true).await;
    fill(&c, &t).await;
    let projected = m(&[("name", s("n3")), ("lst", l(vec![s("c")]))]);

    // ProjectionExpression with nested paths and list indexes on all four reads.
    let got = c
        .get_item()
        .table_name(&t)
        .key("pk", s("p"))
        .key("sk", n("3"))
        .projection_expression("doc.#nm, doc.lst[2], nothere.deep")
        .expression_attribute_names("#nm", "name")
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(got, item(&[("doc", projected.clone())]));
    let out = c
        .batch_get_item()
        .request_items(
            &t,
            KeysAndAttributes::builder()
                .keys(item(&[("pk", s("p")), ("sk", n("3"))]))
                .projection_expression("doc.#nm, doc.lst[2]")
                .expression_attribute_names("#nm", "name")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.responses.unwrap()[&t],
        vec![item(&[("doc", projected.clone())])]
    );
    let out = c
        .query()
        .table_name(&t)
        .key_condition_expression("pk = :p AND sk = :three")
        .projection_expression("doc.#nm, doc.lst[2]")
        .expression_attribute_names("#nm", "name")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":three", n("3"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.items(), &[item(&[("doc", projected.clone())])]);
    let out = c
        .scan()
        .table_name(&t)
        .filter_expression("sk = :three")
        .projection_expression("doc.#nm, doc.lst[2]")
        .expression_attribute_names("#nm", "name")
        .expression_attribute_values(":three", n("3"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.items(), &[item(&[("doc", projected)])]);

    // FilterExpression applies after Limit: ScannedCount counts what was read.
    let out = c
        .query()
        .table_name(&t)
        .key_condition_expression("pk = :p")
        .filter_expression("v >= :forty")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":forty", n("40"))
        .limit(5)
        .send()
        .await
        .unwrap();
    assert_eq!((out.count, out.scanned_count), (1, 5));
    assert_eq!(
        out.last_evaluated_key.unwrap(),
        item(&[("pk", s("p")), ("sk", n("4"))])
    );
    let out = c
        .scan()
        .table_name(&t)
        .filter_expression("v >= :forty")
        .expression_attribute_values(":forty", n("40"))
        .select(Select::Count)
        .send()
        .await
        .unwrap();
    assert_eq!((out.count, out.scanned_count), (6, 10));
    assert!(out.items.is_none() || out.items().is_empty());
    let out = c
        .scan()
        .table_name(&t)
        .filter_expression("v >= :forty")
        .expression_attribute_values(":forty", n("40"))
        .limit(3)
        .send()
        .await
        .unwrap();
    assert_eq!(out.scanned_count, 3);
    assert!(out.last_evaluated_key.is_some());

    // KeyConditionExpression errors.
    let kc_cases: Vec<ErrorCase> = vec![
        (
            "pk = :p AND v = :one",
            vec![(":one", n("1"))],
            "Query condition missed key schema element: sk",
        ),
        (
            "pk = :p AND sk > :one AND sk < :one",
            vec![(":one", n("1"))],
            "KeyConditionExpressions must only contain one condition per key",
        ),
        (
            "pk = :p OR sk = :one",
            vec![(":one", n("1"))],
            "Invalid operator used in KeyConditionExpression: OR",
        ),
        (
            "sk = :one",
            vec![(":one", n("1"))],
            "Query condition missed key schema element: pk",
        ),
        (
            "pk = :p AND sk = :one",
            vec![(":one", s("one"))],
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        ),
        (
            "pk = :p AND begins_with(sk, :one)",
            vec![(":one", n("1"))],
            "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
        ),
    ];
    for (expr, values, msg) in kc_cases {
        let mut q = c
            .query()
            .table_name(&t)
            .key_condition_expression(expr)
            .expression_attribute_values(":p", s("p"));
        for (k, v) in values {
            q = q.expression_attribute_values(k, v);
        }
        assert_err(q.send().await, VALIDATION, msg);
    }
    let r = c.query().table_name(&t).send().await;
    assert_err(
        r,
        VALIDATION,
        "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
    );
}

#[tokio::test]
async fn names_values_and_reserved_words() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("names");
    create(&c, &t, false).await;
    let put = || c.put_item().table_name(&t).item("pk", s("x"));
    assert_err(
        put()
            .condition_expression("attribute_not_exists(pk)")
            .expression_attribute_names("#unused", "u")
            .send()
            .await,
        VALIDATION,
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}",
    );
    assert_err(
        put()
            .condition_expression("attribute_not_exists(pk)")
            .expression_attribute_values(":b", n("1"))
            .expression_attribute_values(":a", n("1"))
            .send()
            .await,
        VALIDATION,
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:a, :b}",
    );
    assert_err(
        put().condition_expression("#nope = :v").send().await,
        VALIDATION,
        "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #nope",
    );
    assert_err(
        put()
            .condition_expression("a = :v")
            .expression_attribute_values(":w", n("1"))
            .send()
            .await,
        VALIDATION,
        "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :v",
    );
    assert_err(
        put()
            .condition_expression("status = :v")
            .expression_attribute_values(":v", n("1"))
            .send()
            .await,
        VALIDATION,
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status",
    );
    assert_err(
        put().expression_attribute_names("#a", "a").send().await,
        VALIDATION,
        "ExpressionAttributeNames can only be specified when using expressions",
    );
    assert_err(
        put().expression_attribute_values(":a", n("1")).send().await,
        VALIDATION,
        "ExpressionAttributeValues can only be specified when using expressions: ConditionExpression is null",
    );
    assert_err(
        c.update_item()
            .table_name(&t)
            .key("pk", s("x"))
            .expression_attribute_values(":a", n("1"))
            .send()
            .await,
        VALIDATION,
        "ExpressionAttributeValues can only be specified when using expressions: UpdateExpression and ConditionExpression are null",
    );
    assert_err(
        put()
            .condition_expression("a = :a")
            .expression_attribute_values(":a", Av::Ss(vec![]))
            .send()
            .await,
        VALIDATION,
        "ExpressionAttributeValues contains invalid value: One or more parameter values were invalid: An string set  may not be empty for key :a",
    );
    assert_err(
        c.get_item()
            .table_name(&t)
            .key("pk", s("x"))
            .projection_expression("")
            .send()
            .await,
        VALIDATION,
        "Invalid ProjectionExpression: The expression can not be empty;",
    );
    // Quoted with a name, the reserved word is fine.
    put()
        .condition_expression("attribute_not_exists(#s)")
        .expression_attribute_names("#s", "status")
        .send()
        .await
        .unwrap();
    let n_items = c.scan().table_name(&t).send().await.unwrap().count;
    assert_eq!(n_items, 1, "only the last put wrote");
}

fn cond(op: ComparisonOperator, values: Vec<Av>) -> Condition {
    Condition::builder()
        .comparison_operator(op)
        .set_attribute_value_list(Some(values))
        .build()
        .unwrap()
}

#[tokio::test]
async fn legacy_parameters() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("legacy");
    create(&c, &t, true).await;
    fill(&c, &t).await;
    let key = item(&[("pk", s("p")), ("sk", n("1"))]);

    // AttributesToGet on GetItem, BatchGetItem, Query and Scan: literal top-level names.
    let got = c
        .get_item()
        .table_name(&t)
        .set_key(Some(key.clone()))
        .attributes_to_get("v")
        .attributes_to_get("extra")
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(got, item(&[("v", n("10")), ("extra", s("e"))]));
    let out = c
        .batch_get_item()
        .request_items(
            &t,
            KeysAndAttributes::builder()
                .keys(key.clone())
                .attributes_to_get("v")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.responses.unwrap()[&t], vec![item(&[("v", n("10"))])]);

    // KeyConditions + QueryFilter + ConditionalOperator + AttributesToGet.
    let out = c
        .query()
        .table_name(&t)
        .key_conditions("pk", cond(ComparisonOperator::Eq, vec![s("p")]))
        .key_conditions(
            "sk",
            cond(ComparisonOperator::Between, vec![n("2"), n("8")]),
        )
        .query_filter("v", cond(ComparisonOperator::Lt, vec![n("40")]))
        .query_filter("extra", cond(ComparisonOperator::Null, vec![]))
        .conditional_operator(ConditionalOperator::Or)
        .attributes_to_get("v")
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.items(),
        &[item(&[("v", n("20"))]), item(&[("v", n("30"))])]
    );
    assert_eq!((out.count, out.scanned_count), (2, 7));
    let out = c
        .scan()
        .table_name(&t)
        .scan_filter("doc", cond(ComparisonOperator::NotNull, vec![]))
        .scan_filter("v", cond(ComparisonOperator::In, vec![n("0"), n("90")]))
        .send()
        .await
        .unwrap();
    assert_eq!(out.count, 2);

    // Legacy key-condition and filter errors.
    let r = c
        .query()
        .table_name(&t)
        .key_conditions("pk", cond(ComparisonOperator::Eq, vec![s("p")]))
        .key_conditions("sk", cond(ComparisonOperator::Ne, vec![n("1")]))
        .send()
        .await;
    assert_err(
        r,
        VALIDATION,
        "Attempted conditional constraint is not an indexable operation",
    );
    let r = c
        .query()
        .table_name(&t)
        .key_conditions("pk", cond(ComparisonOperator::Eq, vec![s("p")]))
        .query_filter("sk", cond(ComparisonOperator::Eq, vec![n("1")]))
        .send()
        .await;
    assert_err(
        r,
        VALIDATION,
        "QueryFilter can only contain non-primary key attributes: Primary key attribute: sk",
    );
    let r = c
        .scan()
        .table_name(&t)
        .scan_filter("v", cond(ComparisonOperator::Between, vec![n("1")]))
        .send()
        .await;
    assert_err(
        r,
        VALIDATION,
        "One or more parameter values were invalid: Invalid number of argument(s) for the BETWEEN ComparisonOperator",
    );
    let r = c
        .scan()
        .table_name(&t)
        .scan_filter("v", cond(ComparisonOperator::BeginsWith, vec![n("1")]))
        .send()
        .await;
    assert_err(
        r,
        VALIDATION,
        "One or more parameter values were invalid: ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type",
    );

    // Expected (Exists / Value / ComparisonOperator) with ConditionalOperator.
    let exp = |value: Option<Av>, exists: Option<bool>| {
        ExpectedAttributeValue::builder()
            .set_value(value)
            .set_exists(exists)
            .build()
    };
    let r = c
        .put_item()
        .table_name(&t)
        .set_item(Some(key.clone()))
        .expected("v", exp(None, Some(false)))
        .send()
        .await;
    assert_err(r, CONDITION_FAILED, "The conditional request failed");
    c.put_item()
        .table_name(&t)
        .set_item(Some(item(&[
            ("pk", s("p")),
            ("sk", n("1")),
            ("v", n("11")),
        ])))
        .expected("v", exp(Some(n("10")), None))
        .expected("extra", exp(Some(s("nope")), Some(true)))
        .conditional_operator(ConditionalOperator::Or)
        .send()
        .await
        .unwrap();
    let r = c
        .delete_item()
        .table_name(&t)
        .set_key(Some(key.clone()))
        .expected(
            "v",
            ExpectedAttributeValue::builder()
                .comparison_operator(ComparisonOperator::Gt)
                .attribute_value_list(n("100"))
                .build(),
        )
        .send()
        .await;
    assert_err(r, CONDITION_FAILED, "The conditional request failed");
    let r = c
        .delete_item()
        .table_name(&t)
        .set_key(Some(key.clone()))
        .expected("v", exp(None, None))
        .send()
        .await;
    assert_err(
        r,
        VALIDATION,
        "One or more parameter values were invalid: Value must be provided when Exists is null for Attribute: v",
    );
    let r = c
        .delete_item()
        .table_name(&t)
        .set_key(Some(key.clone()))
        .expected("v", exp(Some(n("1")), Some(false)))
        .send()
        .await;
    assert_err(
        r,
        VALIDATION,
        "One or more parameter values were invalid: Value cannot be used when Exists is false for Attribute: v",
    );

    // AttributeUpdates: PUT, ADD (number, set, list), DELETE (attribute, set members).
    let upd = |action: AttributeAction, value: Option<Av>| {
        AttributeValueUpdate::builder()
            .action(action)
            .set_value(value)
            .build()
    };
    let out = c
        .update_item()
        .table_name(&t)
        .set_key(Some(key.clone()))
        .attribute_updates("v", upd(AttributeAction::Add, Some(n("4"))))
        .attribute_updates("tags", upd(AttributeAction::Add, Some(ss(&["x", "y"]))))
        .attribute_updates("more", upd(AttributeAction::Add, Some(l(vec![s("m")]))))
        .attribute_updates("extra", upd(AttributeAction::Delete, None))
        .attribute_updates("name", upd(AttributeAction::Put, Some(s("legacy"))))
        .expected("v", exp(Some(n("11")), None))
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await
        .unwrap();
    let new = out.attributes.unwrap();
    assert_eq!(new["v"], n("15"));
    assert_eq!(new["more"], l(vec![s("m")]));
    assert_eq!(new["name"], s("legacy"));
    assert!(!new.contains_key("extra"));
    c.update_item()
        .table_name(&t)
        .set_key(Some(key.clone()))
        .attribute_updates("tags", upd(AttributeAction::Delete, Some(ss(&["x"]))))
        .attribute_updates("more", upd(AttributeAction::Add, Some(l(vec![s("n")]))))
        .send()
        .await
        .unwrap();
    let stored = c
        .get_item()
        .table_name(&t)
        .set_key(Some(key.clone()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(sorted_ss(&stored["tags"]), vec!["y"]);
    assert_eq!(stored["more"], l(vec![s("m"), s("n")]));
    let before = stored;
    let legacy_errors: Vec<(AttributeValueUpdate, &str)> = vec![
        (
            upd(AttributeAction::Add, Some(s("s"))),
            "One or more parameter values were invalid: ADD action is not supported for the type S",
        ),
        (
            upd(AttributeAction::Put, None),
            "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified",
        ),
        (
            upd(AttributeAction::Delete, Some(n("1"))),
            "One or more parameter values were invalid: DELETE action with value is not supported for the type N",
        ),
    ];
    for (u, msg) in legacy_errors {
        let r = c
            .update_item()
            .table_name(&t)
            .set_key(Some(key.clone()))
            .attribute_updates("v", u)
            .send()
            .await;
        assert_err(r, VALIDATION, msg);
    }
    let r = c
        .update_item()
        .table_name(&t)
        .set_key(Some(key.clone()))
        .attribute_updates("name", upd(AttributeAction::Add, Some(n("1"))))
        .send()
        .await;
    assert_err(r, VALIDATION, "Type mismatch for attribute to update");
    let r = c
        .update_item()
        .table_name(&t)
        .set_key(Some(key.clone()))
        .attribute_updates("sk", upd(AttributeAction::Put, Some(n("5"))))
        .send()
        .await;
    assert_err(
        r,
        VALIDATION,
        "One or more parameter values were invalid: Cannot update attribute sk. This attribute is part of the key",
    );

    // Mixing legacy and expression parameters.
    let r = c
        .get_item()
        .table_name(&t)
        .set_key(Some(key.clone()))
        .attributes_to_get("v")
        .projection_expression("v")
        .send()
        .await;
    assert_err(
        r,
        VALIDATION,
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}",
    );
    let r = c
        .update_item()
        .table_name(&t)
        .set_key(Some(key.clone()))
        .attribute_updates("v", upd(AttributeAction::Put, Some(n("0"))))
        .expected("v", exp(Some(n("15")), None))
        .update_expression("SET v = :z")
        .expression_attribute_values(":z", n("0"))
        .send()
        .await;
    assert_err(
        r,
        VALIDATION,
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributeUpdates, Expected} Expression parameters: {UpdateExpression}",
    );
    let r = c
        .put_item()
        .table_name(&t)
        .set_item(Some(key.clone()))
        .expected("v", exp(None, Some(false)))
        .condition_expression("attribute_not_exists(v)")
        .send()
        .await;
    assert_err(
        r,
        VALIDATION,
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}",
    );
    let r = c
        .query()
        .table_name(&t)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .query_filter("v", cond(ComparisonOperator::Lt, vec![n("40")]))
        .conditional_operator(ConditionalOperator::And)
        .send()
        .await;
    assert_err(
        r,
        VALIDATION,
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {QueryFilter, ConditionalOperator} Expression parameters: {KeyConditionExpression}",
    );
    let r = c
        .scan()
        .table_name(&t)
        .filter_expression("v < :x")
        .expression_attribute_values(":x", n("1"))
        .attributes_to_get("v")
        .send()
        .await;
    assert_err(
        r,
        VALIDATION,
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {FilterExpression}",
    );
    let r = c
        .scan()
        .table_name(&t)
        .attributes_to_get("v")
        .select(Select::AllAttributes)
        .send()
        .await;
    assert_err(
        r,
        VALIDATION,
        "Cannot specify the AttributesToGet when choosing to get ALL_ATTRIBUTES",
    );
    let after = c
        .get_item()
        .table_name(&t)
        .set_key(Some(key))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(after, before, "no failed request wrote");
}

/// A constant an operator cannot compare is the request's mistake, found while parsing
/// (so even for a missing item, and before any item is filtered); an item's attribute
/// of such a type only makes the comparison false. Conditions nest as deep as 300
/// operators allow.
#[tokio::test]
async fn constant_operands_are_checked_while_parsing() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("constops");
    create(&c, &t, false).await;
    let stored = item(&[
        ("pk", s("k")),
        ("n", n("5")),
        ("lst", l(vec![n("1"), n("2")])),
    ]);
    c.put_item()
        .table_name(&t)
        .set_item(Some(stored.clone()))
        .send()
        .await
        .unwrap();

    let cases: Vec<ErrorCase> = vec![
        (
            "n < :v",
            vec![(":v", l(vec![n("1")]))],
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: <, operand type: L",
        ),
        (
            ":v >= n",
            vec![(":v", m(&[("a", n("1"))]))],
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: >=, operand type: M",
        ),
        (
            "n BETWEEN :a AND :b",
            vec![(":a", l(vec![n("1")])), (":b", l(vec![n("2")]))],
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: BETWEEN, operand type: L",
        ),
        (
            "n BETWEEN :a AND :b",
            vec![(":a", n("9")), (":b", n("1"))],
            "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:9}, upper bound operand: AttributeValue: {N:1}",
        ),
        (
            "n BETWEEN :a AND :b",
            vec![(":a", n("1")), (":b", s("x"))],
            "Invalid ConditionExpression: The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {N:1}, upper bound operand: AttributeValue: {S:x}",
        ),
        (
            "begins_with(n, :v)",
            vec![(":v", n("5"))],
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
        ),
    ];
    for (pk, exists) in [("k", true), ("missing", false)] {
        for (expr, values, message) in &cases {
            let r = c
                .delete_item()
                .table_name(&t)
                .key("pk", s(pk))
                .condition_expression(*expr)
                .set_expression_attribute_values(Some(
                    values
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.clone()))
                        .collect(),
                ))
                .send()
                .await;
            assert_err(r, VALIDATION, message);
            assert_eq!(get(&c, &t, pk).await.is_some(), exists, "{expr}");
        }
    }
    assert_eq!(get(&c, &t, "k").await, Some(stored.clone()));

    // In a filter the check comes before any item is read.
    let r = c
        .scan()
        .table_name(&t)
        .filter_expression("n > :v")
        .expression_attribute_values(":v", Av::Bool(true))
        .send()
        .await;
    assert_err(
        r,
        VALIDATION,
        "Invalid FilterExpression: Incorrect operand type for operator or function; operator or function: >, operand type: BOOL",
    );
    // An attribute of a type that does not order only makes the comparison false; = and
    // IN take constants of every type.
    let r = c
        .delete_item()
        .table_name(&t)
        .key("pk", s("k"))
        .condition_expression("lst < :v")
        .expression_attribute_values(":v", n("3"))
        .send()
        .await;
    assert_err(r, CONDITION_FAILED, "The conditional request failed");
    let out = c
        .scan()
        .table_name(&t)
        .filter_expression("lst = :v AND lst IN (:w, :v)")
        .expression_attribute_values(":v", l(vec![n("1"), n("2")]))
        .expression_attribute_values(":w", m(&[]))
        .send()
        .await
        .unwrap();
    assert_eq!(out.count, 1);

    // Nesting is bounded by the 300 operators only: 299 NOTs around a comparison.
    let deep = format!("{}attribute_exists(pk)", "NOT ".repeat(298));
    c.put_item()
        .table_name(&t)
        .set_item(Some(stored.clone()))
        .condition_expression(&deep)
        .send()
        .await
        .unwrap();
    let wrapped = format!(
        "{}attribute_exists(pk){}",
        "(NOT ".repeat(299),
        ")".repeat(299)
    );
    let r = c
        .put_item()
        .table_name(&t)
        .set_item(Some(stored.clone()))
        .condition_expression(&wrapped)
        .send()
        .await;
    assert_err(r, CONDITION_FAILED, "The conditional request failed");
    let too_many = format!("{}attribute_exists(pk)", "NOT ".repeat(300));
    let r = c
        .put_item()
        .table_name(&t)
        .set_item(Some(stored.clone()))
        .condition_expression(&too_many)
        .send()
        .await;
    assert_err(
        r,
        VALIDATION,
        "Invalid ConditionExpression: The expression contains too many operators; operator count: 301",
    );
    assert_eq!(get(&c, &t, "k").await, Some(stored));
}

/// UpdateExpression rules DynamoDB enforces: list writes past the end append in index
/// order, REMOVE needs an existing container as parent, names start with a letter, and
/// list_append does not nest in itself.
#[tokio::test]
async fn update_expression_paths_names_and_functions() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("updrules");
    create(&c, &t, false).await;
    let stored = item(&[
        ("pk", s("k")),
        ("a", l(vec![s("one"), s("two"), s("three")])),
        ("doc", m(&[("x", n("1"))])),
        ("str", s("hello")),
    ]);
    c.put_item()
        .table_name(&t)
        .set_item(Some(stored.clone()))
        .send()
        .await
        .unwrap();
    let update = |expr: &'static str, values: Vec<(&'static str, Av)>| {
        c.update_item()
            .table_name(&t)
            .key("pk", s("k"))
            .update_expression(expr)
            .set_expression_attribute_values((!values.is_empty()).then(|| {
                values
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect()
            }))
            .send()
    };

    let errors: Vec<ErrorCase> = vec![
        (
            "REMOVE nope.x",
            vec![],
            "The document path provided in the update expression is invalid for update",
        ),
        (
            "REMOVE nope[0]",
            vec![],
            "The document path provided in the update expression is invalid for update",
        ),
        (
            "REMOVE str.x",
            vec![],
            "The document path provided in the update expression is invalid for update",
        ),
        (
            "REMOVE doc[0]",
            vec![],
            "The document path provided in the update expression is invalid for update",
        ),
        (
            "SET _123 = :v",
            vec![(":v", n("1"))],
            "Invalid UpdateExpression: Syntax error; token: \"_\", near: \"SET _123\"",
        ),
        (
            "SET a = list_append(list_append(:v, :w), :v)",
            vec![(":v", l(vec![n("1")])), (":w", l(vec![n("2")]))],
            "Invalid UpdateExpression: The function is not allowed to be used this way in an expression; function: list_append",
        ),
    ];
    for (expr, values, message) in errors {
        assert_err(update(expr, values).await, VALIDATION, message);
    }
    assert_eq!(
        get(&c, &t, "k").await,
        Some(stored),
        "no failed update wrote"
    );

    // A missing leaf under an existing parent is nothing to remove.
    update("REMOVE doc.nope, a[17]", vec![]).await.unwrap();
    update(
        "SET a[84] = :a1, a[37] = :a2, a[17] = :a3, a[50] = :a4",
        vec![
            (":a1", s("a1")),
            (":a2", s("a2")),
            (":a3", s("a3")),
            (":a4", s("a4")),
        ],
    )
    .await
    .unwrap();
    update(
        "SET b = list_append(if_not_exists(b, :empty), :v), Alpha_1 = :n",
        vec![
            (":empty", l(vec![])),
            (":v", l(vec![n("7")])),
            (":n", n("1")),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        get(&c, &t, "k").await,
        Some(item(&[
            ("pk", s("k")),
            (
                "a",
                l(vec![
                    s("one"),
                    s("two"),
                    s("three"),
                    s("a3"),
                    s("a2"),
                    s("a4"),
                    s("a1"),
                ])
            ),
            ("doc", m(&[("x", n("1"))])),
            ("str", s("hello")),
            ("b", l(vec![n("7")])),
            ("Alpha_1", n("1")),
        ]))
    );

    // A REMOVE-only update of a missing item leaves it missing, whatever the path.
    c.update_item()
        .table_name(&t)
        .key("pk", s("gone"))
        .update_expression("REMOVE x.y, z[0]")
        .send()
        .await
        .unwrap();
    assert_eq!(get(&c, &t, "gone").await, None);
}

/// Legacy Expected and QueryFilter check their constants as the expressions do: a type
/// the operator cannot compare is a ValidationException before any item is read; EQ
/// takes lists, maps and BOOL; NOT_CONTAINS fails on a missing attribute.
#[tokio::test]
async fn legacy_operators_check_their_constants() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("legacyops");
    create(&c, &t, true).await;
    for (i, extra) in [
        (1, Some(l(vec![s("a"), n("1")]))),
        (2, Some(m(&[("k", Av::Bool(true))]))),
        (3, Some(Av::Bool(true))),
        (4, None),
    ] {
        let mut it = item(&[("pk", s("p")), ("sk", n(&i.to_string()))]);
        if let Some(v) = extra {
            it.insert("x".into(), v);
        }
        c.put_item()
            .table_name(&t)
            .set_item(Some(it))
            .send()
            .await
            .unwrap();
    }
    let key = item(&[("pk", s("p")), ("sk", n("1"))]);
    let before = c
        .get_item()
        .table_name(&t)
        .set_key(Some(key.clone()))
        .send()
        .await
        .unwrap()
        .item;

    // Expected: a list in LT or IN, a number in BEGINS_WITH, on an existing item and on
    // a missing one alike.
    let bad: Vec<(ComparisonOperator, Vec<Av>, &str)> = vec![
        (
            ComparisonOperator::Lt,
            vec![l(vec![n("1")])],
            "One or more parameter values were invalid: ComparisonOperator LT is not valid for L AttributeValue type",
        ),
        (
            ComparisonOperator::In,
            vec![l(vec![n("1")]), l(vec![n("2")])],
            "One or more parameter values were invalid: ComparisonOperator IN is not valid for L AttributeValue type",
        ),
        (
            ComparisonOperator::BeginsWith,
            vec![n("3")],
            "One or more parameter values were invalid: ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type",
        ),
    ];
    for sk in ["1", "9"] {
        for (op, values, message) in &bad {
            let r = c
                .delete_item()
                .table_name(&t)
                .key("pk", s("p"))
                .key("sk", n(sk))
                .expected(
                    "x",
                    ExpectedAttributeValue::builder()
                        .comparison_operator(op.clone())
                        .set_attribute_value_list(Some(values.clone()))
                        .build(),
                )
                .send()
                .await;
            assert_err(r, VALIDATION, message);
        }
    }
    // NOT_CONTAINS on an attribute the item lacks fails the condition.
    let r = c
        .delete_item()
        .table_name(&t)
        .key("pk", s("p"))
        .key("sk", n("1"))
        .expected(
            "nope",
            ExpectedAttributeValue::builder()
                .comparison_operator(ComparisonOperator::NotContains)
                .attribute_value_list(s("z"))
                .build(),
        )
        .send()
        .await;
    assert_err(r, CONDITION_FAILED, "The conditional request failed");
    let after = c
        .get_item()
        .table_name(&t)
        .set_key(Some(key))
        .send()
        .await
        .unwrap()
        .item;
    assert_eq!(after, before, "no failed request wrote");

    // QueryFilter: EQ on a list, a map and a BOOL; NOT_CONTAINS skips items without
    // the attribute; IN with lists is refused.
    let query = |op: ComparisonOperator, values: Vec<Av>| {
        c.query()
            .table_name(&t)
            .key_conditions("pk", cond(ComparisonOperator::Eq, vec![s("p")]))
            .query_filter("x", cond(op, values))
            .send()
    };
    let sks = |out: &aws_sdk_dynamodb::operation::query::QueryOutput| -> Vec<String> {
        out.items()
            .iter()
            .map(|i| i["sk"].as_n().unwrap().clone())
            .collect()
    };
    for (v, want) in [
        (l(vec![s("a"), n("1")]), "1"),
        (m(&[("k", Av::Bool(true))]), "2"),
        (Av::Bool(true), "3"),
    ] {
        let out = query(ComparisonOperator::Eq, vec![v]).await.unwrap();
        assert_eq!(sks(&out), vec![want.to_string()]);
    }
    let out = query(ComparisonOperator::NotContains, vec![n("1")])
        .await
        .unwrap();
    assert_eq!(sks(&out), vec!["2".to_string(), "3".to_string()]);
    let r = query(
        ComparisonOperator::In,
        vec![l(vec![n("1")]), l(vec![n("2")])],
    )
    .await;
    assert_err(
        r,
        VALIDATION,
        "One or more parameter values were invalid: ComparisonOperator IN is not valid for L AttributeValue type",
    );
}
