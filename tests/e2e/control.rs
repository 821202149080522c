//! The control plane through the AWS SDK for Rust.

use std::time::Duration;

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ProvisionedThroughput,
    ScalarAttributeType, TableStatus, Tag,
};

use crate::harness::{Server, table_name};

pub async fn create(client: &aws_sdk_dynamodb::Client, name: &str, range: bool) {
    let mut req = client
        .create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
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
        .billing_mode(BillingMode::PayPerRequest);
    if range {
        req = req
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("sk")
                    .attribute_type(ScalarAttributeType::N)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("sk")
                    .key_type(KeyType::Range)
                    .build()
                    .unwrap(),
            );
    }
    req.send().await.expect("create table");
}

/// Creates a hash-key table `pk` (S) with a NEW_AND_OLD_IMAGES stream.
pub async fn create_streamed(c: &aws_sdk_dynamodb::Client, name: &str) {
    create(c, name, false).await;
    c.update_table()
        .table_name(name)
        .stream_specification(
            aws_sdk_dynamodb::types::StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn create_describe_list_update_delete() {
    let server = Server::start();
    let c = server.client();
    let name = table_name("ctl");
    let out = c
        .create_table()
        .table_name(&name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(5)
                .write_capacity_units(7)
                .build()
                .unwrap(),
        )
        .tags(Tag::builder().key("team").value("eddy").build().unwrap())
        .send()
        .await
        .unwrap();
    let desc = out.table_description.unwrap();
    assert_eq!(desc.table_name(), Some(name.as_str()));
    assert!(
        desc.table_arn()
            .unwrap()
            .starts_with("arn:aws:dynamodb:us-east-1:")
    );

    c.wait_until_table_exists()
        .table_name(&name)
        .wait(Duration::from_secs(10))
        .await
        .expect("table_exists waiter");

    let t = c
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert_eq!(t.table_status(), Some(&TableStatus::Active));
    assert_eq!(t.item_count(), Some(0));
    assert!(t.creation_date_time().is_some());
    let tp = t.provisioned_throughput().unwrap();
    assert_eq!(
        (tp.read_capacity_units(), tp.write_capacity_units()),
        (Some(5), Some(7))
    );
    assert_eq!(t.key_schema().len(), 1);
    let arn = t.table_arn().unwrap().to_string();

    // Tags.
    let tags = c
        .list_tags_of_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);
    c.tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("env").value("test").build().unwrap())
        .send()
        .await
        .unwrap();
    c.untag_resource()
        .resource_arn(&arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = c
        .list_tags_of_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = tags.tags().iter().map(|t| t.key()).collect();
    assert_eq!(keys, vec!["env"]);

    // UpdateTable: to on-demand and back.
    let u = c
        .update_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap()
        .table_description
        .unwrap();
    assert_eq!(
        u.billing_mode_summary().unwrap().billing_mode(),
        Some(&BillingMode::PayPerRequest)
    );
    let u = c
        .update_table()
        .table_name(&name)
        .billing_mode(BillingMode::Provisioned)
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(3)
                .write_capacity_units(4)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .table_description
        .unwrap();
    assert_eq!(
        u.provisioned_throughput().unwrap().read_capacity_units(),
        Some(3)
    );

    // ListTables paging with Limit 1 visits every table once, in order.
    let others = [table_name("ctl"), table_name("ctl")];
    for o in &others {
        create(&c, o, true).await;
    }
    let mut seen = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let page = c
            .list_tables()
            .limit(1)
            .set_exclusive_start_table_name(start.clone())
            .send()
            .await
            .unwrap();
        seen.extend(page.table_names().iter().cloned());
        match page.last_evaluated_table_name() {
            Some(last) => start = Some(last.to_string()),
            None => break,
        }
        assert!(seen.len() <= 10, "paging does not end");
    }
    let mut expected = vec![name.clone(), others[0].clone(), others[1].clone()];
    expected.sort();
    assert_eq!(seen, expected);

    let limits = c.describe_limits().send().await.unwrap();
    assert!(limits.table_max_read_capacity_units().unwrap() > 0);
    let endpoints = c.describe_endpoints().send().await.unwrap();
    assert_eq!(endpoints.endpoints().len(), 1);

    c.delete_table().table_name(&name).send().await.unwrap();
    c.wait_until_table_not_exists()
        .table_name(&name)
        .wait(Duration::from_secs(10))
        .await
        .expect("table_not_exists waiter");
    let names = c.list_tables().send().await.unwrap();
    assert!(!names.table_names().contains(&name));
}

#[tokio::test]
async fn tables_survive_restart_and_sigterm_is_clean() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let c = server.client();
    let name = table_name("restart");
    create(&c, &name, true).await;
    c.put_item()
        .table_name(&name)
        .item("pk", aws_sdk_dynamodb::types::AttributeValue::S("a".into()))
        .item("sk", aws_sdk_dynamodb::types::AttributeValue::N("1".into()))
        .send()
        .await
        .unwrap();
    let status = server.terminate();
    assert!(status.success(), "SIGTERM exit status {status}");

    let server = Server::start_in(dir.path(), &[]);
    let c = server.client();
    let t = c
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert_eq!(t.item_count(), Some(1));
    assert_eq!(t.key_schema().len(), 2);
}

/// TagResource and UntagResource answer 200 with an empty body, as DynamoDB does.
#[test]
fn tagging_answers_an_empty_body() {
    let server = Server::start();
    let e = server.endpoint.clone();
    let t = table_name("tagbody");
    let created = crate::api::ddb(
        &e,
        "CreateTable",
        serde_json::json!({
            "TableName": t,
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
        }),
    );
    let arn = created["TableDescription"]["TableArn"]
        .as_str()
        .expect("TableArn")
        .to_owned();
    for (op, body) in [
        (
            "TagResource",
            serde_json::json!({"ResourceArn": arn, "Tags": [{"Key": "env", "Value": "test"}]}),
        ),
        (
            "UntagResource",
            serde_json::json!({"ResourceArn": arn, "TagKeys": ["env"]}),
        ),
    ] {
        let resp = crate::api::http(
            &e,
            "POST",
            "/",
            &[
                ("X-Amz-Target", &format!("DynamoDB_20120810.{op}")),
                ("Content-Type", "application/x-amz-json-1.0"),
            ],
            body.to_string().as_bytes(),
        );
        assert_eq!(
            resp.status,
            200,
            "{op}: {}",
            String::from_utf8_lossy(&resp.body)
        );
        assert!(
            resp.body.is_empty(),
            "{op}: {:?}",
            String::from_utf8_lossy(&resp.body)
        );
    }
}
