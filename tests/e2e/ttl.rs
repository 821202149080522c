//! Time to Live through the AWS SDK for Rust and a real trigger: UpdateTimeToLive and
//! DescribeTimeToLive with DynamoDB's errors, the sweeper deleting exactly the expired
//! items, the REMOVE records it leaves carrying the TTL service's `userIdentity` (in
//! the Streams API and in Lambda's event), a filter that picks only those, and the
//! setting surviving a SIGKILL.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue as Av, TimeToLiveSpecification, TimeToLiveStatus};
use aws_sdk_dynamodbstreams::types::OperationType;
use serde_json::json;

use crate::api::{create_table, create_trigger, ddb, deploy, guest, wait_until};
use crate::control::{create, create_streamed};
use crate::harness::{Server, read_whole_stream, table_name};

/// The sweeper's interval in these tests, so expiry is quick to observe.
const SWEEP_ARGS: [&str; 2] = ["--ttl-sweep-ms", "100"];

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn set_ttl(c: &Client, table: &str, enabled: bool, name: &str) -> Result<(), String> {
    c.update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(enabled)
                .attribute_name(name)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .map(|out| {
            let spec = out.time_to_live_specification.unwrap();
            assert_eq!(
                (spec.enabled, spec.attribute_name.as_str()),
                (enabled, name)
            );
        })
        .map_err(|e| {
            let e = e.into_service_error();
            format!(
                "{}: {}",
                e.code().unwrap_or("?"),
                e.message().unwrap_or("?")
            )
        })
}

async fn ttl_status(c: &Client, table: &str) -> (TimeToLiveStatus, Option<String>) {
    let d = c
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .unwrap();
    (d.time_to_live_status.unwrap(), d.attribute_name)
}

async fn put(c: &Client, table: &str, pk: &str, expires: Option<Av>) {
    let mut item = HashMap::from([("pk".to_string(), Av::S(pk.into()))]);
    if let Some(v) = expires {
        item.insert("expires".into(), v);
    }
    c.put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

async fn exists(c: &Client, table: &str, pk: &str) -> bool {
    c.get_item()
        .table_name(table)
        .key("pk", Av::S(pk.into()))
        .send()
        .await
        .unwrap()
        .item
        .is_some()
}

/// Every record of the table's stream: (event, pk, userIdentity type and principal).
async fn records(
    server: &Server,
    c: &Client,
    table: &str,
) -> Vec<(OperationType, String, Option<(String, String)>)> {
    read_whole_stream(server, c, table)
        .await
        .into_iter()
        .map(|r| {
            let pk = match r.dynamodb.unwrap().keys.unwrap().get("pk") {
                Some(aws_sdk_dynamodbstreams::types::AttributeValue::S(v)) => v.clone(),
                other => panic!("bad key {other:?}"),
            };
            let who = r.user_identity.map(|u| {
                (
                    u.r#type.unwrap_or_default(),
                    u.principal_id.unwrap_or_default(),
                )
            });
            (r.event_name.unwrap(), pk, who)
        })
        .collect()
}

#[tokio::test]
async fn update_and_describe_time_to_live_follow_dynamodb() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let c = server.client();
    let t = table_name("ttl-api");
    create(&c, &t, false).await;

    assert_eq!(ttl_status(&c, &t).await, (TimeToLiveStatus::Disabled, None));
    assert_eq!(
        set_ttl(&c, &t, false, "expires").await.unwrap_err(),
        "ValidationException: TimeToLive is already disabled"
    );
    set_ttl(&c, &t, true, "expires").await.unwrap();
    assert_eq!(
        ttl_status(&c, &t).await,
        (TimeToLiveStatus::Enabled, Some("expires".into()))
    );
    assert_eq!(
        set_ttl(&c, &t, true, "expires").await.unwrap_err(),
        "ValidationException: TimeToLive is already enabled"
    );
    assert_eq!(
        set_ttl(&c, &t, false, "other").await.unwrap_err(),
        "ValidationException: TimeToLive is active on a different AttributeName: current AttributeName is expires"
    );
    assert!(
        set_ttl(&c, &t, true, &"a".repeat(256))
            .await
            .unwrap_err()
            .starts_with("ValidationException: 1 validation error detected")
    );
    let missing = c
        .describe_time_to_live()
        .table_name("no-such-table")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        missing.as_service_error().unwrap().code(),
        Some("ResourceNotFoundException")
    );
    let (status, body) = crate::harness::raw_request(
        &server.endpoint,
        "POST",
        Some("DynamoDB_20120810.UpdateTimeToLive"),
        &format!(r#"{{"TableName":"{t}","TimeToLiveSpecification":{{"Enabled":false}}}}"#),
    );
    assert_eq!(status, 400);
    assert!(
        body.contains("Value null at 'timeToLiveSpecification.attributeName'"),
        "{body}"
    );

    // The setting is durable.
    server.kill9();
    let server = Server::start_in(dir.path(), &[]);
    let c = server.client();
    assert_eq!(
        ttl_status(&c, &t).await,
        (TimeToLiveStatus::Enabled, Some("expires".into()))
    );
    set_ttl(&c, &t, false, "expires").await.unwrap();
    assert_eq!(ttl_status(&c, &t).await, (TimeToLiveStatus::Disabled, None));
}

#[tokio::test]
async fn the_sweeper_deletes_only_expired_items_as_the_ttl_service() {
    let server = Server::start_with(&SWEEP_ARGS);
    let c = server.client();
    let t = table_name("ttl-sweep");
    create_streamed(&c, &t).await;
    let now = now_s();
    let n = |v: i64| Some(Av::N(v.to_string()));
    put(&c, &t, "expired", n(now - 60)).await;
    put(&c, &t, "future", n(now + 3600)).await;
    put(&c, &t, "ancient", n(now - 6 * 365 * 24 * 3600)).await;
    put(&c, &t, "millis", n(now * 1000)).await;
    put(&c, &t, "text", Some(Av::S((now - 60).to_string()))).await;
    put(&c, &t, "none", None).await;
    // Nothing is swept before TTL is enabled.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(exists(&c, &t, "expired").await);

    set_ttl(&c, &t, true, "expires").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while exists(&c, &t, "expired").await {
        assert!(tokio::time::Instant::now() < deadline, "not swept in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Several more sweeps pass; nothing else goes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for pk in ["future", "ancient", "millis", "text", "none"] {
        assert!(exists(&c, &t, pk).await, "{pk} must stay");
    }
    let desc = c.describe_table().table_name(&t).send().await.unwrap();
    assert_eq!(desc.table.unwrap().item_count, Some(5));

    // A user's delete has no userIdentity; the sweeper's has the service's.
    c.delete_item()
        .table_name(&t)
        .key("pk", Av::S("none".into()))
        .send()
        .await
        .unwrap();
    let all = records(&server, &c, &t).await;
    let removes: Vec<_> = all
        .iter()
        .filter(|r| r.0 == OperationType::Remove)
        .cloned()
        .collect();
    assert_eq!(
        removes,
        vec![
            (
                OperationType::Remove,
                "expired".to_string(),
                Some(("Service".to_string(), "dynamodb.amazonaws.com".to_string()))
            ),
            (OperationType::Remove, "none".to_string(), None),
        ]
    );
    assert!(
        all.iter()
            .filter(|r| r.0 == OperationType::Insert)
            .all(|r| r.2.is_none())
    );
}

/// The common use: a trigger that sees only TTL deletes (archive what expired), by a
/// filter on Lambda's `userIdentity`.
#[test]
fn a_trigger_filtered_on_user_identity_sees_only_ttl_deletes() {
    let server = Server::start_with(&SWEEP_ARGS);
    let e = &server.endpoint;
    let (src, seen) = (table_name("ttl-src"), table_name("ttl-seen"));
    create_table(e, &src, true);
    create_table(e, &seen, false);
    deploy(
        e,
        "archiver",
        &format!("?table={seen}&env=table={seen}"),
        &guest("recorder"),
    )
    .expect(201);
    create_trigger(
        e,
        json!({
            "FunctionName": "archiver",
            "TableName": src,
            "StartingPosition": "TRIM_HORIZON",
            "FilterCriteria": {"Filters": [
                {"Pattern": r#"{"userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]}}"#}
            ]},
        }),
    );
    ddb(
        e,
        "UpdateTimeToLive",
        json!({"TableName": src, "TimeToLiveSpecification": {"Enabled": true, "AttributeName": "expires"}}),
    );
    let past = (now_s() - 60).to_string();
    for id in ["a", "b"] {
        ddb(
            e,
            "PutItem",
            json!({"TableName": src, "Item": {"id": {"S": id}, "expires": {"N": past}}}),
        );
    }
    ddb(
        e,
        "PutItem",
        json!({"TableName": src, "Item": {"id": {"S": "kept"}}}),
    );
    ddb(
        e,
        "DeleteItem",
        json!({"TableName": src, "Key": {"id": {"S": "kept"}}}),
    );
    let scan = || ddb(e, "Scan", json!({"TableName": seen}))["Items"].clone();
    wait_until("two TTL deletes delivered", || {
        scan().as_array().is_some_and(|a| a.len() >= 2)
    });
    // Give a wrongly delivered user delete time to show up.
    std::thread::sleep(Duration::from_millis(crate::api::QUIET_MS));
    let items = scan();
    let items = items.as_array().unwrap();
    assert_eq!(items.len(), 2, "only the TTL deletes: {items:?}");
    let mut keys: Vec<&str> = items
        .iter()
        .map(|i| {
            assert_eq!(i["eventName"]["S"], "REMOVE");
            assert_eq!(i["userIdentity"]["M"]["type"]["S"], "Service");
            assert_eq!(
                i["userIdentity"]["M"]["principalId"]["S"],
                "dynamodb.amazonaws.com"
            );
            i["keys"]["M"]["id"]["S"].as_str().unwrap()
        })
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["a", "b"]);
}
