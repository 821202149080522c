//! Client mistakes get DynamoDB's error type, status and a useful message, and write
//! nothing.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue as Av, KeysAndAttributes, PutRequest, WriteRequest};

use crate::control::create;
use crate::harness::{Server, raw_request, table_name};

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("<none>").to_string()
}

#[tokio::test]
async fn errors_have_dynamodb_types_and_messages() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("err");
    create(&c, &t, true).await;

    let e = c
        .get_item()
        .table_name("nope-table")
        .key("pk", Av::S("a".into()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");

    let e = c
        .describe_table()
        .table_name("nope-table")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");

    let e = c
        .create_table()
        .table_name(&t)
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("pk")
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
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceInUseException");

    // Missing sort key, wrong key type, empty set, oversized item.
    let cases: Vec<(HashMap<String, Av>, &str)> = vec![
        (
            HashMap::from([("pk".into(), Av::S("a".into()))]),
            "Missing the key sk",
        ),
        (
            HashMap::from([
                ("pk".into(), Av::N("1".into())),
                ("sk".into(), Av::N("1".into())),
            ]),
            "Type mismatch for key pk",
        ),
        (
            HashMap::from([
                ("pk".into(), Av::S("a".into())),
                ("sk".into(), Av::N("1".into())),
                ("set".into(), Av::Ss(vec![])),
            ]),
            "may not be empty",
        ),
        (
            HashMap::from([
                ("pk".into(), Av::S("a".into())),
                ("sk".into(), Av::N("1".into())),
                ("big".into(), Av::S("x".repeat(400 * 1024))),
            ]),
            "Item size has exceeded the maximum allowed size",
        ),
        (
            HashMap::from([
                ("pk".into(), Av::S("a".into())),
                ("sk".into(), Av::N("1e126".into())),
            ]),
            "Number overflow",
        ),
    ];
    for (item, msg) in cases {
        let e = c
            .put_item()
            .table_name(&t)
            .set_item(Some(item))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "ValidationException");
        let m = e.message().unwrap_or_default().to_string();
        assert!(m.contains(msg), "message {m:?} should contain {msg:?}");
    }
    let e = c
        .get_item()
        .table_name(&t)
        .key("pk", Av::S("a".into()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    assert!(
        e.message()
            .unwrap()
            .contains("key element does not match the schema")
    );

    // Batch limits and duplicates.
    let dup: Vec<_> = (0..2)
        .map(|_| {
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .item("pk", Av::S("d".into()))
                        .item("sk", Av::N("1".into()))
                        .build()
                        .unwrap(),
                )
                .build()
        })
        .collect();
    let e = c
        .batch_write_item()
        .request_items(&t, dup)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    assert!(e.message().unwrap().contains("duplicates"));
    let mut keys = KeysAndAttributes::builder();
    for i in 0..101 {
        keys = keys.keys(HashMap::from([
            ("pk".to_string(), Av::S("k".into())),
            ("sk".to_string(), Av::N(i.to_string())),
        ]));
    }
    let e = c
        .batch_get_item()
        .request_items(&t, keys.build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");

    let e = c.describe_table().table_name("a").send().await.unwrap_err();
    assert_eq!(code(&e), "ValidationException");

    // Nothing was written by any of the failures.
    let n = c.scan().table_name(&t).send().await.unwrap();
    assert_eq!(n.count, 0);
}

#[test]
fn raw_protocol_errors() {
    let server = Server::start();
    let (status, body) = raw_request(
        &server.endpoint,
        "POST",
        Some("DynamoDB_20120810.ListTables"),
        "{not json",
    );
    assert_eq!(status, 400);
    assert!(body.contains("#SerializationException"), "{body}");

    let (status, body) = raw_request(
        &server.endpoint,
        "POST",
        Some("DynamoDB_20120810.Frobnicate"),
        "{}",
    );
    assert_eq!(status, 400);
    assert!(body.contains("#UnknownOperationException"), "{body}");

    let (status, body) = raw_request(
        &server.endpoint,
        "POST",
        Some("DynamoDB_20120810.ListTables"),
        "{\"Limit\": \"x\"}",
    );
    assert_eq!(status, 400);
    assert!(body.contains("#SerializationException"), "{body}");

    let (status, body) = raw_request(
        &server.endpoint,
        "POST",
        Some("DynamoDB_20120810.PutItem"),
        "{\"TableName\": \"abc\", \"Item\": {\"pk\": {}}}",
    );
    assert_eq!(status, 400);
    assert!(
        body.contains("ValidationException") && body.contains("empty"),
        "{body}"
    );

    let (status, body) = raw_request(&server.endpoint, "GET", None, "");
    assert_eq!(status, 200);
    assert!(body.starts_with("healthy:"), "{body}");
}
