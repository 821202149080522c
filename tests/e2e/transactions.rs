//! TransactWriteItems and TransactGetItems through the AWS SDK for Rust, against the
//! real binary: all or nothing, DynamoDB's cancellation reasons and validation errors,
//! one stream record per modified item, client request tokens, ordered reads.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue as Av, ConditionCheck, Delete, Get, Put, ReturnConsumedCapacity,
    ReturnValuesOnConditionCheckFailure, TransactGetItem, TransactWriteItem, Update,
};
use aws_sdk_dynamodbstreams::types::OperationType;

use crate::control::{create, create_streamed};
use crate::harness::{Server, raw_request, read_whole_stream, table_name};

type Item = HashMap<String, Av>;

fn s(v: &str) -> Av {
    Av::S(v.into())
}

fn n(v: &str) -> Av {
    Av::N(v.into())
}

fn key(pk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk))])
}

fn put(table: &str, item: Item) -> TransactWriteItem {
    TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .build()
                .unwrap(),
        )
        .build()
}

/// The materialized-view shape: add to an aggregate.
fn add_to(table: &str, pk: &str, amount: &str) -> TransactWriteItem {
    TransactWriteItem::builder()
        .update(
            Update::builder()
                .table_name(table)
                .set_key(Some(key(pk)))
                .update_expression(
                    "ADD #amount :a SET #count = if_not_exists(#count, :zero) + :one",
                )
                .expression_attribute_names("#amount", "amount")
                .expression_attribute_names("#count", "count")
                .expression_attribute_values(":a", n(amount))
                .expression_attribute_values(":zero", n("0"))
                .expression_attribute_values(":one", n("1"))
                .build()
                .unwrap(),
        )
        .build()
}

/// The ledger entry of the materialized view: written once, never overwritten.
fn ledger(table: &str, pk: &str, amount: &str) -> TransactWriteItem {
    TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name(table)
                .set_item(Some(HashMap::from([
                    ("pk".to_string(), s(pk)),
                    ("amount".to_string(), n(amount)),
                ])))
                .condition_expression("attribute_not_exists(pk)")
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build()
                .unwrap(),
        )
        .build()
}

async fn get(c: &Client, table: &str, pk: &str) -> Option<Item> {
    c.get_item()
        .table_name(table)
        .set_key(Some(key(pk)))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

/// A server with the two streamed tables of a materialized view: the view and its
/// ledger.
async fn view_and_ledger() -> (Server, Client, String, String) {
    let server = Server::start();
    let c = server.client();
    let (views, ledgers) = (table_name("tx-view"), table_name("tx-ledger"));
    create_streamed(&c, &views).await;
    create_streamed(&c, &ledgers).await;
    (server, c, views, ledgers)
}

/// Every record of a table's stream, as (event, pk), in shard order.
async fn stream_events(server: &Server, c: &Client, table: &str) -> Vec<(OperationType, String)> {
    read_whole_stream(server, c, table)
        .await
        .into_iter()
        .map(|r| {
            let pk = match r.dynamodb.unwrap().keys.unwrap().get("pk") {
                Some(aws_sdk_dynamodbstreams::types::AttributeValue::S(v)) => v.clone(),
                other => panic!("bad key {other:?}"),
            };
            (r.event_name.unwrap(), pk)
        })
        .collect()
}

fn assert_one_item_error(e: &impl ProvideErrorMetadata) {
    assert_eq!(e.code(), Some("ValidationException"));
    assert_eq!(
        e.message(),
        Some("Transaction request cannot include multiple operations on one item")
    );
}

fn canceled(e: &TransactWriteItemsError) -> Vec<(String, Option<String>, Option<Item>)> {
    match e {
        TransactWriteItemsError::TransactionCanceledException(t) => t
            .cancellation_reasons()
            .iter()
            .map(|r| {
                (
                    r.code().unwrap_or_default().to_string(),
                    r.message().map(str::to_string),
                    r.item().cloned(),
                )
            })
            .collect(),
        other => panic!("expected TransactionCanceledException, got {other:?}"),
    }
}

#[tokio::test]
async fn all_actions_succeed_with_one_stream_record_per_changed_item() {
    let (server, c, views, ledgers) = view_and_ledger().await;
    c.put_item()
        .table_name(&views)
        .set_item(Some(key("doomed")))
        .send()
        .await
        .unwrap();
    c.transact_write_items()
        .transact_items(add_to(&views, "total", "5"))
        .transact_items(ledger(&ledgers, "e1", "5"))
        .transact_items(
            TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(&views)
                        .set_key(Some(key("doomed")))
                        .condition_expression("attribute_exists(pk)")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .transact_items(
            TransactWriteItem::builder()
                .condition_check(
                    ConditionCheck::builder()
                        .table_name(&ledgers)
                        .set_key(Some(key("e0")))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    let total = get(&c, &views, "total").await.unwrap();
    assert_eq!(total["amount"], n("5"));
    assert_eq!(total["count"], n("1"));
    assert_eq!(get(&c, &ledgers, "e1").await.unwrap()["amount"], n("5"));
    assert!(get(&c, &views, "doomed").await.is_none());

    // A second event: the aggregate is updated, not replaced.
    c.transact_write_items()
        .transact_items(add_to(&views, "total", "2"))
        .transact_items(ledger(&ledgers, "e2", "2"))
        .send()
        .await
        .unwrap();
    let total = get(&c, &views, "total").await.unwrap();
    assert_eq!(total["amount"], n("7"));
    assert_eq!(total["count"], n("2"));

    // Exactly the records the equivalent single writes make; none for the
    // ConditionCheck.
    let mut v = stream_events(&server, &c, &views).await;
    v.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        v,
        vec![
            (OperationType::Insert, "doomed".into()),
            (OperationType::Remove, "doomed".into()),
            (OperationType::Insert, "total".into()),
            (OperationType::Modify, "total".into()),
        ]
    );
    let l = stream_events(&server, &c, &ledgers).await;
    assert_eq!(
        l,
        vec![
            (OperationType::Insert, "e1".into()),
            (OperationType::Insert, "e2".into())
        ]
    );
}

#[tokio::test]
async fn a_failed_condition_cancels_everything() {
    let (server, c, views, ledgers) = view_and_ledger().await;
    c.transact_write_items()
        .transact_items(add_to(&views, "total", "5"))
        .transact_items(ledger(&ledgers, "e1", "5"))
        .send()
        .await
        .unwrap();
    // The same event again (a redelivery): its ledger entry exists, so nothing applies.
    let err = c
        .transact_write_items()
        .transact_items(add_to(&views, "total", "5"))
        .transact_items(ledger(&ledgers, "e1", "5"))
        .send()
        .await
        .unwrap_err();
    let e = err.as_service_error().expect("service error");
    assert_eq!(e.code(), Some("TransactionCanceledException"));
    assert_eq!(
        e.message(),
        Some(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]"
        )
    );
    let reasons = canceled(e);
    assert_eq!(reasons.len(), 2);
    assert_eq!(reasons[0], ("None".to_string(), None, None));
    assert_eq!(reasons[1].0, "ConditionalCheckFailed");
    assert_eq!(
        reasons[1].1.as_deref(),
        Some("The conditional request failed")
    );
    assert_eq!(
        reasons[1].2.as_ref().map(|i| i["amount"].clone()),
        Some(n("5")),
        "ALL_OLD returns the item that failed the condition"
    );
    let total = get(&c, &views, "total").await.unwrap();
    assert_eq!(
        total["amount"],
        n("5"),
        "the aggregate was not updated twice"
    );
    assert_eq!(stream_events(&server, &c, &views).await.len(), 1);
    assert_eq!(stream_events(&server, &c, &ledgers).await.len(), 1);
}

#[tokio::test]
async fn condition_check_guards_the_transaction() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("tx-check");
    create(&c, &t, false).await;
    let guarded = || {
        TransactWriteItem::builder()
            .condition_check(
                ConditionCheck::builder()
                    .table_name(&t)
                    .set_key(Some(key("switch")))
                    .condition_expression("#on = :yes")
                    .expression_attribute_names("#on", "on")
                    .expression_attribute_values(":yes", Av::Bool(true))
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .build()
                    .unwrap(),
            )
            .build()
    };
    // The item checked does not exist: the check fails and reports no item.
    let err = c
        .transact_write_items()
        .transact_items(guarded())
        .transact_items(put(&t, key("written")))
        .send()
        .await
        .unwrap_err();
    let reasons = canceled(err.as_service_error().unwrap());
    assert_eq!(
        reasons[0],
        (
            "ConditionalCheckFailed".to_string(),
            Some("The conditional request failed".to_string()),
            None
        )
    );
    assert_eq!(reasons[1].0, "None");
    assert!(get(&c, &t, "written").await.is_none());

    let mut switch = key("switch");
    switch.insert("on".into(), Av::Bool(true));
    c.put_item()
        .table_name(&t)
        .set_item(Some(switch.clone()))
        .send()
        .await
        .unwrap();
    c.transact_write_items()
        .transact_items(guarded())
        .transact_items(put(&t, key("written")))
        .send()
        .await
        .unwrap();
    assert!(get(&c, &t, "written").await.is_some());
    assert_eq!(
        get(&c, &t, "switch").await.unwrap(),
        switch,
        "a ConditionCheck writes nothing"
    );
}

#[tokio::test]
async fn invalid_requests_are_validation_errors_and_write_nothing() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("tx-invalid");
    create(&c, &t, false).await;

    let err = c
        .transact_write_items()
        .transact_items(put(&t, key("same")))
        .transact_items(add_to(&t, "same", "1"))
        .send()
        .await
        .unwrap_err();
    assert_one_item_error(err.as_service_error().unwrap());

    let mut req = c.transact_write_items();
    for i in 0..101 {
        req = req.transact_items(put(&t, key(&format!("k{i}"))));
    }
    let err = req.send().await.unwrap_err();
    let e = err.as_service_error().unwrap();
    assert_eq!(e.code(), Some("ValidationException"));
    assert!(
        e.message().unwrap().contains("less than or equal to 100"),
        "{e:?}"
    );

    // 100 actions are fine.
    let mut req = c.transact_write_items();
    for i in 0..100 {
        req = req.transact_items(put(&t, key(&format!("k{i}"))));
    }
    req.send().await.unwrap();

    let err = c
        .transact_write_items()
        .transact_items(put(&t, key("fresh")))
        .transact_items(put("no-such-table", key("x")))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.as_service_error().unwrap().code(),
        Some("ResourceNotFoundException")
    );
    assert!(get(&c, &t, "fresh").await.is_none());

    // An action with two operations, and an unused expression value, through raw JSON.
    let body = format!(
        r#"{{"TransactItems":[{{"Put":{{"TableName":"{t}","Item":{{"pk":{{"S":"x"}}}}}},"Delete":{{"TableName":"{t}","Key":{{"pk":{{"S":"x"}}}}}}}}]}}"#
    );
    let (status, body) = raw_transact_write(&server.endpoint, &body);
    assert_eq!(status, 400);
    assert!(body.contains("ValidationException"), "{body}");
    assert!(
        body.contains("TransactItems can only contain one of Check, Put, Update or Delete"),
        "{body}"
    );
    let body = format!(
        r#"{{"TransactItems":[{{"Put":{{"TableName":"{t}","Item":{{"pk":{{"S":"x"}}}},"ExpressionAttributeValues":{{":unused":{{"S":"v"}}}}}}}}]}}"#
    );
    let (status, body) = raw_transact_write(&server.endpoint, &body);
    assert_eq!(status, 400);
    assert!(body.contains("ValidationException"), "{body}");
    assert!(get(&c, &t, "x").await.is_none());

    let err = c
        .transact_write_items()
        .transact_items(put(&t, key("tok")))
        .client_request_token("x".repeat(37))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.as_service_error().unwrap().code(),
        Some("ValidationException")
    );
}

/// A TransactWriteItems request with a hand-written body; its status and body.
fn raw_transact_write(endpoint: &str, body: &str) -> (u16, String) {
    raw_request(
        endpoint,
        "POST",
        Some("DynamoDB_20120810.TransactWriteItems"),
        body,
    )
}

#[tokio::test]
async fn client_request_token_makes_a_retry_idempotent() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("tx-token");
    create(&c, &t, false).await;
    for _ in 0..2 {
        c.transact_write_items()
            .transact_items(add_to(&t, "total", "3"))
            .client_request_token("event-0001")
            .send()
            .await
            .unwrap();
    }
    assert_eq!(get(&c, &t, "total").await.unwrap()["amount"], n("3"));
    let err = c
        .transact_write_items()
        .transact_items(add_to(&t, "total", "4"))
        .client_request_token("event-0001")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.as_service_error().unwrap().code(),
        Some("IdempotentParameterMismatchException")
    );
    assert_eq!(get(&c, &t, "total").await.unwrap()["amount"], n("3"));
}

/// A client that retries after losing its connection to a crashed server must not get
/// its transaction applied twice: the token's window is durable, committed in the same
/// batch as the transaction.
#[tokio::test]
async fn client_request_token_window_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let c = server.client();
    let t = table_name("tx-token-crash");
    create(&c, &t, false).await;
    c.transact_write_items()
        .transact_items(add_to(&t, "total", "3"))
        .client_request_token("event-0002")
        .send()
        .await
        .unwrap();
    // A cancelled transaction leaves its token free, durably too.
    c.put_item()
        .table_name(&t)
        .set_item(Some(key("guard")))
        .send()
        .await
        .unwrap();
    let err = c
        .transact_write_items()
        .transact_items(put(&t, key("never")))
        .transact_items(
            TransactWriteItem::builder()
                .condition_check(
                    ConditionCheck::builder()
                        .table_name(&t)
                        .set_key(Some(key("guard")))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .client_request_token("event-0003")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.as_service_error().unwrap().code(),
        Some("TransactionCanceledException")
    );
    server.kill9();

    let server = Server::start_in(dir.path(), &[]);
    let c = server.client();
    c.transact_write_items()
        .transact_items(add_to(&t, "total", "3"))
        .client_request_token("event-0002")
        .send()
        .await
        .expect("the retry is answered as a success");
    assert_eq!(
        get(&c, &t, "total").await.unwrap()["amount"],
        n("3"),
        "the retry after the restart was not applied again"
    );
    let err = c
        .transact_write_items()
        .transact_items(add_to(&t, "total", "4"))
        .client_request_token("event-0002")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.as_service_error().unwrap().code(),
        Some("IdempotentParameterMismatchException")
    );
    c.transact_write_items()
        .transact_items(add_to(&t, "total", "5"))
        .client_request_token("event-0003")
        .send()
        .await
        .expect("a cancelled transaction's token is free after the restart");
    assert_eq!(get(&c, &t, "total").await.unwrap()["amount"], n("8"));
}

#[tokio::test]
async fn transact_get_items_in_order_with_projection_and_missing_items() {
    let server = Server::start();
    let c = server.client();
    let (a, b) = (table_name("tx-get-a"), table_name("tx-get-b"));
    create(&c, &a, false).await;
    create(&c, &b, false).await;
    let mut item = key("one");
    item.insert("x".into(), n("1"));
    item.insert("y".into(), s("why"));
    c.transact_write_items()
        .transact_items(put(&a, item.clone()))
        .transact_items(put(&b, key("two")))
        .send()
        .await
        .unwrap();
    let g = |table: &str, pk: &str| Get::builder().table_name(table).set_key(Some(key(pk)));
    let out = c
        .transact_get_items()
        .transact_items(
            TransactGetItem::builder()
                .get(g(&a, "missing").build().unwrap())
                .build(),
        )
        .transact_items(
            TransactGetItem::builder()
                .get(
                    g(&a, "one")
                        .projection_expression("#y")
                        .expression_attribute_names("#y", "y")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .transact_items(
            TransactGetItem::builder()
                .get(g(&b, "two").build().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let got: Vec<Option<Item>> = out.responses().iter().map(|r| r.item().cloned()).collect();
    assert_eq!(
        got,
        vec![
            None,
            Some(HashMap::from([("y".to_string(), s("why"))])),
            Some(key("two")),
        ]
    );

    let err = c
        .transact_get_items()
        .transact_items(
            TransactGetItem::builder()
                .get(g(&a, "one").build().unwrap())
                .build(),
        )
        .transact_items(
            TransactGetItem::builder()
                .get(g(&a, "one").build().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_one_item_error(err.as_service_error().unwrap());
    let err = c
        .transact_get_items()
        .transact_items(
            TransactGetItem::builder()
                .get(g("no-such-table", "one").build().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.as_service_error().unwrap().code(),
        Some("ResourceNotFoundException")
    );
}

fn update_key(table: &str, k: Item) -> TransactWriteItem {
    TransactWriteItem::builder()
        .update(
            Update::builder()
                .table_name(table)
                .set_key(Some(k))
                .update_expression("SET v = :v")
                .expression_attribute_values(":v", s("x"))
                .build()
                .unwrap(),
        )
        .build()
}

fn delete_key(table: &str, k: Item) -> TransactWriteItem {
    TransactWriteItem::builder()
        .delete(
            Delete::builder()
                .table_name(table)
                .set_key(Some(k))
                .build()
                .unwrap(),
        )
        .build()
}

fn check_key(table: &str, k: Item) -> TransactWriteItem {
    TransactWriteItem::builder()
        .condition_check(
            ConditionCheck::builder()
                .table_name(table)
                .set_key(Some(k))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .unwrap(),
        )
        .build()
}

#[tokio::test]
async fn a_key_not_of_the_schema_cancels_the_transaction() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("tx-keys");
    create(&c, &t, false).await;
    c.put_item()
        .table_name(&t)
        .set_item(Some(key("taken")))
        .send()
        .await
        .unwrap();
    let mismatch = "The provided key element does not match the schema";
    let cases: Vec<(TransactWriteItem, &str)> = vec![
        (
            put(&t, HashMap::from([("pk".to_string(), n("5"))])),
            "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N",
        ),
        (
            put(&t, HashMap::from([("pk".to_string(), Av::L(vec![s("x")]))])),
            "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: L",
        ),
        (
            put(&t, HashMap::from([("v".to_string(), s("x"))])),
            "One or more parameter values were invalid: Missing the key pk in the item",
        ),
        (
            update_key(&t, HashMap::from([("pk".to_string(), n("5"))])),
            mismatch,
        ),
        (
            delete_key(&t, HashMap::from([("pk".to_string(), Av::L(vec![s("x")]))])),
            mismatch,
        ),
        (
            check_key(&t, HashMap::from([("pk".to_string(), n("5"))])),
            mismatch,
        ),
        (
            check_key(
                &t,
                HashMap::from([("pk".to_string(), s("a")), ("v".to_string(), s("b"))]),
            ),
            mismatch,
        ),
    ];
    for (bad, message) in cases {
        // The bad action is the second of three; the others get `None`, even the
        // failing condition and the duplicate item, which are never looked at.
        let err = c
            .transact_write_items()
            .transact_items(put(&t, key("fresh")))
            .transact_items(bad)
            .transact_items(check_key(&t, key("taken")))
            .transact_items(delete_key(&t, key("fresh")))
            .send()
            .await
            .unwrap_err();
        let e = err.as_service_error().unwrap();
        assert_eq!(
            e.message(),
            Some(
                "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ValidationError, None, None]"
            )
        );
        let none = ("None".to_string(), None, None);
        assert_eq!(
            canceled(e),
            vec![
                none.clone(),
                (
                    "ValidationError".to_string(),
                    Some(message.to_string()),
                    None
                ),
                none.clone(),
                none,
            ],
            "{message}"
        );
        assert!(get(&c, &t, "fresh").await.is_none());
    }
    // An empty key value is refused up front, for the whole request.
    for bad in [
        put(&t, key("")),
        update_key(&t, key("")),
        delete_key(&t, key("")),
        check_key(&t, key("")),
    ] {
        let err = c
            .transact_write_items()
            .transact_items(bad)
            .transact_items(put(&t, HashMap::from([("pk".to_string(), n("5"))])))
            .send()
            .await
            .unwrap_err();
        let e = err.as_service_error().unwrap();
        assert_eq!(e.code(), Some("ValidationException"));
        assert_eq!(
            e.message(),
            Some(
                "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"
            )
        );
    }
}

#[tokio::test]
async fn size_limits_in_a_transaction() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("tx-size");
    create(&c, &t, false).await;
    let big = || s(&"x".repeat(300_000));
    // A Put's item is known too large from the request: a request error.
    let mut item = key("p");
    item.insert("a".into(), big());
    item.insert("b".into(), big());
    let err = c
        .transact_write_items()
        .transact_items(put(&t, item))
        .send()
        .await
        .unwrap_err();
    let e = err.as_service_error().unwrap();
    assert_eq!(e.code(), Some("ValidationException"));
    assert_eq!(
        e.message(),
        Some("Item size has exceeded the maximum allowed size")
    );
    // An Update's result depends on the stored item: it cancels the transaction.
    let mut item = key("u");
    item.insert("a".into(), big());
    c.put_item()
        .table_name(&t)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
    let grow = TransactWriteItem::builder()
        .update(
            Update::builder()
                .table_name(&t)
                .set_key(Some(key("u")))
                .update_expression("SET b = :b")
                .expression_attribute_values(":b", big())
                .build()
                .unwrap(),
        )
        .build();
    let err = c
        .transact_write_items()
        .transact_items(put(&t, key("other")))
        .transact_items(grow)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        canceled(err.as_service_error().unwrap()),
        vec![
            ("None".to_string(), None, None),
            (
                "ValidationError".to_string(),
                Some("Item size to update has exceeded the maximum allowed size".to_string()),
                None
            ),
        ]
    );
    assert!(get(&c, &t, "other").await.is_none());
    assert!(!get(&c, &t, "u").await.unwrap().contains_key("b"));
}

#[tokio::test]
async fn index_keys_in_a_transaction() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType,
    };
    let server = Server::start();
    let c = server.client();
    let t = table_name("tx-ixkeys");
    let attr = |n: &str, ty| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ty)
            .build()
            .unwrap()
    };
    let hash = |n: &str| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(KeyType::Hash)
            .build()
            .unwrap()
    };
    c.create_table()
        .table_name(&t)
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .attribute_definitions(attr("g", ScalarAttributeType::S))
        .key_schema(hash("pk"))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by_g")
                .key_schema(hash("g"))
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
        .unwrap();
    let with_g = |pk: &str, g: Av| {
        let mut i = key(pk);
        i.insert("g".into(), g);
        i
    };
    // An empty index key value is refused up front, for the whole request.
    let err = c
        .transact_write_items()
        .transact_items(put(&t, key("fine")))
        .transact_items(put(&t, with_g("a", s(""))))
        .send()
        .await
        .unwrap_err();
    let e = err.as_service_error().unwrap();
    assert_eq!(e.code(), Some("ValidationException"));
    assert_eq!(
        e.message(),
        Some(
            "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: by_g, IndexKey: g"
        )
    );
    // One of the wrong type cancels the transaction when the action is evaluated.
    let err = c
        .transact_write_items()
        .transact_items(put(&t, key("fine")))
        .transact_items(put(&t, with_g("a", n("5"))))
        .send()
        .await
        .unwrap_err();
    let reasons = canceled(err.as_service_error().unwrap());
    assert_eq!(reasons[0], ("None".to_string(), None, None));
    assert_eq!(reasons[1].0, "ValidationError");
    assert!(
        reasons[1]
            .1
            .as_deref()
            .unwrap()
            .contains("Type mismatch for Index Key g Expected: S Actual: N IndexName: by_g"),
        "{reasons:?}"
    );
    assert!(get(&c, &t, "fine").await.is_none());
    // An Update setting an index key to an empty value is refused up front too, in
    // words of its own (the conformance suite's capture), for the whole request;
    // UpdateItem says the same.
    let set_g = |pk: &str, g: Av| {
        TransactWriteItem::builder()
            .update(
                Update::builder()
                    .table_name(&t)
                    .set_key(Some(key(pk)))
                    .update_expression("SET #g = :g")
                    .expression_attribute_names("#g", "g")
                    .expression_attribute_values(":g", g)
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let update_empty = "One or more parameter values are not valid. The update expression attempted to update a secondary index key to a value that is not supported. The AttributeValue for a key attribute cannot contain an empty string value.";
    let err = c
        .transact_write_items()
        .transact_items(put(&t, key("fine")))
        .transact_items(set_g("a", s("")))
        .send()
        .await
        .unwrap_err();
    let e = err.as_service_error().unwrap();
    assert_eq!(e.code(), Some("ValidationException"));
    assert_eq!(e.message(), Some(update_empty));
    assert!(get(&c, &t, "fine").await.is_none());
    let err = c
        .update_item()
        .table_name(&t)
        .set_key(Some(key("a")))
        .update_expression("SET g = :g")
        .expression_attribute_values(":g", s(""))
        .send()
        .await
        .unwrap_err();
    let e = err.as_service_error().unwrap();
    assert_eq!(e.code(), Some("ValidationException"));
    assert_eq!(e.message(), Some(update_empty));
    assert!(get(&c, &t, "a").await.is_none());
    // An Update setting one of the wrong type still cancels.
    let err = c
        .transact_write_items()
        .transact_items(set_g("a", n("5")))
        .send()
        .await
        .unwrap_err();
    let reasons = canceled(err.as_service_error().unwrap());
    assert_eq!(reasons[0].0, "ValidationError", "{reasons:?}");
    // A good one is written.
    c.transact_write_items()
        .transact_items(put(&t, with_g("a", s("x"))))
        .send()
        .await
        .unwrap();
    assert_eq!(get(&c, &t, "a").await.unwrap()["g"], s("x"));
}
