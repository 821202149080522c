//! Provisioned throughput and on-demand maximums enforced, through the AWS SDK for
//! Rust against a server whose capacity clock only moves when the test moves it
//! (`--capacity-clock manual`, `POST /v1/capacity/clock`), so every refusal is
//! deterministic.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::builders::GlobalSecondaryIndexBuilder;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as Av, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, OnDemandThroughput, Projection, ProjectionType, ProvisionedThroughput, PutRequest,
    ScalarAttributeType, WriteRequest,
};
use serde_json::json;

use crate::api::{get, send_json};
use crate::harness::{Server, raw_request, table_name};

const TABLE_MESSAGE: &str = "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.";

pub(crate) fn manual_server() -> Server {
    Server::start_with(&["--capacity-clock", "manual"])
}

/// Moves the server's capacity clock forward.
pub(crate) fn advance(endpoint: &str, ms: u64) {
    let r = send_json(
        endpoint,
        "POST",
        "/v1/capacity/clock",
        &json!({ "advance_ms": ms }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

/// A client that does not retry, so each refusal is seen as it is.
pub(crate) fn no_retries(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKID", "secret", None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

async fn create(c: &Client, name: &str, throughput: Option<(i64, i64)>) {
    let mut req = c
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
        );
    req = match throughput {
        Some((read, write)) => req.provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(read)
                .write_capacity_units(write)
                .build()
                .unwrap(),
        ),
        None => req.billing_mode(BillingMode::PayPerRequest),
    };
    req.send().await.unwrap();
}

/// A refused call's error code and message.
pub(crate) fn refusal<E: ProvideErrorMetadata, R>(
    e: aws_sdk_dynamodb::error::SdkError<E, R>,
) -> (String, String) {
    (
        e.code().unwrap_or_default().to_string(),
        e.message().unwrap_or_default().to_string(),
    )
}

async fn put(c: &Client, table: &str, pk: &str) -> Result<(), (String, String)> {
    c.put_item()
        .table_name(table)
        .item("pk", Av::S(pk.into()))
        .send()
        .await
        .map(|_| ())
        .map_err(refusal)
}

/// Provisioned units, `read` and `write` a second.
pub(crate) fn units(read: i64, write: i64) -> ProvisionedThroughput {
    ProvisionedThroughput::builder()
        .read_capacity_units(read)
        .write_capacity_units(write)
        .build()
        .unwrap()
}

fn hash(name: &str) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(KeyType::Hash)
        .build()
        .unwrap()
}

/// The global index `by_g`, keyed by the string attribute `g` and projecting every
/// attribute; the caller gives its throughput.
pub(crate) fn by_g() -> GlobalSecondaryIndexBuilder {
    GlobalSecondaryIndex::builder()
        .index_name("by_g")
        .key_schema(hash("g"))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
}

/// Creates table `name`, keyed by the string `pk`, with `index` (see [`by_g`]):
/// provisioned at `table`, or on demand when `table` is `None`.
pub(crate) async fn create_with_index(
    c: &Client,
    name: &str,
    table: Option<ProvisionedThroughput>,
    index: GlobalSecondaryIndexBuilder,
) -> Result<(), (String, String)> {
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let req = c
        .create_table()
        .table_name(name)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("g"))
        .key_schema(hash("pk"))
        .global_secondary_indexes(index.build().unwrap());
    let req = match table {
        Some(t) => req.provisioned_throughput(t),
        None => req.billing_mode(BillingMode::PayPerRequest),
    };
    req.send().await.map(|_| ()).map_err(refusal)
}

#[tokio::test]
async fn a_table_throttles_at_its_capacity_until_the_clock_refills_it() {
    let server = manual_server();
    let c = no_retries(&server.endpoint);
    let t = table_name("thr");
    create(&c, &t, Some((1, 2))).await;
    // A new table has one second's worth of units.
    put(&c, &t, "a").await.unwrap();
    put(&c, &t, "b").await.unwrap();
    let refused = put(&c, &t, "c").await.unwrap_err();
    assert_eq!(
        refused,
        (
            "ProvisionedThroughputExceededException".to_string(),
            TABLE_MESSAGE.to_string()
        )
    );
    // Reads have their own bucket.
    let got = c
        .get_item()
        .table_name(&t)
        .key("pk", Av::S("a".into()))
        .send()
        .await
        .unwrap();
    assert!(got.item.is_some());
    advance(&server.endpoint, 1_000);
    put(&c, &t, "c").await.unwrap();
    put(&c, &t, "d").await.unwrap();
    assert!(put(&c, &t, "e").await.is_err());
    // The raw answer: a 400 with DynamoDB's type and the reason's name.
    let (status, body) = raw_request(
        &server.endpoint,
        "POST",
        Some("DynamoDB_20120810.PutItem"),
        &json!({ "TableName": t, "Item": { "pk": { "S": "f" } } }).to_string(),
    );
    assert_eq!(status, 400);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body["__type"],
        "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
    );
    assert_eq!(body["message"], TABLE_MESSAGE);
    assert_eq!(
        body["ThrottlingReasons"][0]["reason"],
        "TableWriteProvisionedThroughputExceeded"
    );
    let arn = body["ThrottlingReasons"][0]["resource"].as_str().unwrap();
    assert!(arn.ends_with(&format!(":table/{t}")), "{arn}");
    let clock = get(&server.endpoint, "/v1/capacity/clock").json();
    assert_eq!(clock["manual"], json!(true));
}

#[tokio::test]
async fn the_sdks_retries_get_every_write_in_while_the_clock_moves() {
    let server = manual_server();
    let c = server.client();
    let t = table_name("retry");
    create(&c, &t, Some((1, 1))).await;
    // The bucket is empty: the next write is refused, so the SDK must retry it.
    let once = no_retries(&server.endpoint);
    put(&once, &t, "x").await.unwrap();
    assert!(put(&once, &t, "y").await.is_err());
    // A second of capacity every 20 ms: the writes outrun it, are refused, and the
    // SDK's default retries (standard mode, with backoff) get each one in.
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = {
        let (stop, endpoint) = (Arc::clone(&stop), server.endpoint.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                advance(&endpoint, 1_000);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    for n in 0..20 {
        c.put_item()
            .table_name(&t)
            .item("pk", Av::S(format!("k{n}")))
            .send()
            .await
            .unwrap_or_else(|e| panic!("write {n} did not get in: {e:?}"));
    }
    stop.store(true, Ordering::Relaxed);
    ticker.join().unwrap();
    let scanned = c.scan().table_name(&t).send().await.unwrap();
    assert_eq!(scanned.count, 21);
}

fn put_request(pk: &str) -> WriteRequest {
    WriteRequest::builder()
        .put_request(
            PutRequest::builder()
                .item("pk", Av::S(pk.into()))
                .build()
                .unwrap(),
        )
        .build()
}

#[tokio::test]
async fn batch_write_item_returns_the_throttled_requests_unprocessed() {
    let server = manual_server();
    let c = no_retries(&server.endpoint);
    let t = table_name("bwi");
    create(&c, &t, Some((5, 3))).await;
    let batch: Vec<WriteRequest> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|k| put_request(k))
        .collect();
    let out = c
        .batch_write_item()
        .request_items(&t, batch)
        .send()
        .await
        .unwrap();
    let left = &out.unprocessed_items.unwrap()[&t];
    let keys: Vec<&str> = left
        .iter()
        .map(|r| {
            r.put_request.as_ref().unwrap().item["pk"]
                .as_s()
                .unwrap()
                .as_str()
        })
        .collect();
    assert_eq!(keys, ["d", "e"]);
    // Nothing can be processed now: the whole batch is the exception.
    let e = c
        .batch_write_item()
        .request_items(&t, left.clone())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(e.code(), Some("ProvisionedThroughputExceededException"));
    assert_eq!(e.message(), Some(TABLE_MESSAGE));
    advance(&server.endpoint, 1_000);
    let out = c
        .batch_write_item()
        .request_items(&t, left.clone())
        .send()
        .await
        .unwrap();
    assert!(out.unprocessed_items.unwrap_or_default().is_empty());
    let scanned = c.scan().table_name(&t).send().await.unwrap();
    assert_eq!(scanned.count, 5);
}

async fn set_throughput(
    c: &Client,
    t: &str,
    read: i64,
    write: i64,
) -> Result<(), (String, String)> {
    c.update_table()
        .table_name(t)
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(read)
                .write_capacity_units(write)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            let e = e.into_service_error();
            (
                e.code().unwrap_or_default().to_string(),
                e.message().unwrap_or_default().to_string(),
            )
        })
}

#[tokio::test]
async fn update_table_limits_decreases_per_day_and_describe_table_shows_them() {
    let server = manual_server();
    let c = no_retries(&server.endpoint);
    let t = table_name("dec");
    create(&c, &t, Some((10, 10))).await;
    let d = c.describe_table().table_name(&t).send().await.unwrap();
    let pt = d
        .table
        .as_ref()
        .unwrap()
        .provisioned_throughput
        .clone()
        .unwrap();
    assert_eq!(pt.number_of_decreases_today, Some(0));
    assert!(pt.last_increase_date_time.is_none() && pt.last_decrease_date_time.is_none());
    for (n, read) in [9, 8, 7, 6].into_iter().enumerate() {
        set_throughput(&c, &t, read, 10).await.unwrap();
        let d = c.describe_table().table_name(&t).send().await.unwrap();
        let pt = d.table.unwrap().provisioned_throughput.unwrap();
        assert_eq!(pt.number_of_decreases_today, Some(n as i64 + 1));
        assert_eq!(pt.read_capacity_units, Some(read));
        assert!(pt.last_decrease_date_time.is_some());
    }
    let (code, message) = set_throughput(&c, &t, 5, 10).await.unwrap_err();
    assert_eq!(code, "LimitExceededException");
    assert!(
        message.starts_with("Subscriber limit exceeded: Provisioned throughput decreases are limited within a given UTC day. After the first 4 decreases, each subsequent decrease in the same UTC day can be performed at most once every 3600 seconds. Number of decreases today: 4. Last decrease at "),
        "{message}"
    );
    assert!(
        message.contains(" UTC. Next decrease can be made at "),
        "{message}"
    );
    // Increases are not limited and are reported.
    set_throughput(&c, &t, 6, 20).await.unwrap();
    let d = c.describe_table().table_name(&t).send().await.unwrap();
    let pt = d.table.unwrap().provisioned_throughput.unwrap();
    assert!(pt.last_increase_date_time.is_some());
    assert_eq!(pt.write_capacity_units, Some(20));
    // An hour later another decrease is allowed.
    advance(&server.endpoint, 3_600_000);
    set_throughput(&c, &t, 5, 20).await.unwrap();
}

#[tokio::test]
async fn an_on_demand_maximum_is_enforced_and_removed() {
    let server = manual_server();
    let c = no_retries(&server.endpoint);
    let t = table_name("odm");
    c.create_table()
        .table_name(&t)
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
        .billing_mode(BillingMode::PayPerRequest)
        .on_demand_throughput(
            OnDemandThroughput::builder()
                .max_write_request_units(2)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let d = c.describe_table().table_name(&t).send().await.unwrap();
    let table = d.table.unwrap();
    let od = table.on_demand_throughput.unwrap();
    assert_eq!(od.max_write_request_units, Some(2));
    assert_eq!(od.max_read_request_units, None);
    let warm = table.warm_throughput.unwrap();
    assert_eq!(warm.read_units_per_second, Some(12_000));
    assert_eq!(warm.write_units_per_second, Some(4_000));
    assert_eq!(warm.status.unwrap().as_str(), "ACTIVE");
    put(&c, &t, "a").await.unwrap();
    put(&c, &t, "b").await.unwrap();
    assert_eq!(
        put(&c, &t, "c").await.unwrap_err(),
        (
            "ThrottlingException".to_string(),
            "Throughput exceeds the maximum OnDemandThroughput configured on table or index"
                .to_string()
        )
    );
    // -1 removes the maximum: no throttling below the warm throughput.
    c.update_table()
        .table_name(&t)
        .on_demand_throughput(
            OnDemandThroughput::builder()
                .max_write_request_units(-1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    for n in 0..20 {
        put(&c, &t, &format!("k{n}")).await.unwrap();
    }
    let d = c.describe_table().table_name(&t).send().await.unwrap();
    assert!(d.table.unwrap().on_demand_throughput.is_none());
    // A provisioned table takes no maximum.
    let e = c
        .update_table()
        .table_name(&t)
        .billing_mode(BillingMode::Provisioned)
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(1)
                .write_capacity_units(1)
                .build()
                .unwrap(),
        )
        .send()
        .await;
    e.unwrap();
    let e = c
        .update_table()
        .table_name(&t)
        .on_demand_throughput(
            OnDemandThroughput::builder()
                .max_read_request_units(5)
                .build(),
        )
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(e.code(), Some("ValidationException"));
    assert_eq!(
        e.message(),
        Some(
            "One or more parameter values were invalid: MaxReadRequestUnits for OnDemandThroughput cannot be specified when the table BillingMode is PROVISIONED"
        )
    );
}

#[tokio::test]
async fn a_hot_partition_key_is_throttled_while_the_table_has_headroom() {
    let server = manual_server();
    let c = no_retries(&server.endpoint);
    let t = table_name("hot");
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    c.create_table()
        .table_name(&t)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    // 25 items of 40 KB under one partition key: 1,000 write units, that key's
    // ceiling for a second.
    let big = "x".repeat(40 * 1024 - 100);
    let batch: Vec<WriteRequest> = (0..25)
        .map(|n| {
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .item("pk", Av::S("hot".into()))
                        .item("sk", Av::S(format!("{n:02}")))
                        .item("v", Av::S(big.clone()))
                        .build()
                        .unwrap(),
                )
                .build()
        })
        .collect();
    let out = c
        .batch_write_item()
        .request_items(&t, batch)
        .send()
        .await
        .unwrap();
    assert!(out.unprocessed_items.unwrap_or_default().is_empty());
    let hot = c
        .put_item()
        .table_name(&t)
        .item("pk", Av::S("hot".into()))
        .item("sk", Av::S("more".into()))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(hot.code(), Some("ThrottlingException"));
    assert_eq!(
        hot.message(),
        Some(
            "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly. If exceptions persist, check if you have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html"
        )
    );
    // Another key of the same table still writes.
    c.put_item()
        .table_name(&t)
        .item("pk", Av::S("cold".into()))
        .item("sk", Av::S("a".into()))
        .send()
        .await
        .unwrap();
    advance(&server.endpoint, 1_000);
    c.put_item()
        .table_name(&t)
        .item("pk", Av::S("hot".into()))
        .item("sk", Av::S("more".into()))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn update_table_to_the_same_throughput_is_refused() {
    let server = manual_server();
    let c = no_retries(&server.endpoint);
    let t = table_name("same");
    create(&c, &t, Some((3, 4))).await;
    let (code, message) = set_throughput(&c, &t, 3, 4).await.unwrap_err();
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: 3. Requested ReadCapacityUnits: 3. Current WriteCapacityUnits provisioned for the table: 4. Requested WriteCapacityUnits: 4. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits."
    );
    let d = c.describe_table().table_name(&t).send().await.unwrap();
    let pt = d.table.unwrap().provisioned_throughput.unwrap();
    assert_eq!(pt.number_of_decreases_today, Some(0));
}

#[tokio::test]
async fn the_decrease_history_and_on_demand_maximums_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (t, od) = (table_name("keep"), table_name("keepod"));
    {
        let server = Server::start_in(dir.path(), &["--capacity-clock", "manual"]);
        let c = no_retries(&server.endpoint);
        create(&c, &t, Some((10, 10))).await;
        set_throughput(&c, &t, 5, 10).await.unwrap();
        set_throughput(&c, &t, 5, 20).await.unwrap();
        create(&c, &od, None).await;
        c.update_table()
            .table_name(&od)
            .on_demand_throughput(
                OnDemandThroughput::builder()
                    .max_read_request_units(7)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let server = Server::start_in(dir.path(), &["--capacity-clock", "manual"]);
    let c = no_retries(&server.endpoint);
    let d = c.describe_table().table_name(&t).send().await.unwrap();
    let pt = d.table.unwrap().provisioned_throughput.unwrap();
    assert_eq!(pt.number_of_decreases_today, Some(1));
    assert!(pt.last_decrease_date_time.is_some() && pt.last_increase_date_time.is_some());
    assert_eq!(
        (pt.read_capacity_units, pt.write_capacity_units),
        (Some(5), Some(20))
    );
    let d = c.describe_table().table_name(&od).send().await.unwrap();
    let max = d.table.unwrap().on_demand_throughput.unwrap();
    assert_eq!(max.max_read_request_units, Some(7));
    // The maximum is enforced again after the restart: seven strongly consistent
    // reads of at most 4 KB take the second's seven units.
    put(&c, &od, "a").await.unwrap();
    for n in 0..7 {
        c.get_item()
            .table_name(&od)
            .key("pk", Av::S(format!("k{n}")))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
    }
    let e = c
        .get_item()
        .table_name(&od)
        .key("pk", Av::S("a".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(e.code(), Some("ThrottlingException"));
}

#[tokio::test]
async fn a_global_index_out_of_capacity_throttles_the_tables_writes() {
    let server = manual_server();
    let c = no_retries(&server.endpoint);
    let t = table_name("gsi");
    let index = by_g().provisioned_throughput(units(1, 1));
    create_with_index(&c, &t, Some(units(100, 100)), index)
        .await
        .unwrap();
    let put_g = |pk: &'static str| {
        c.put_item()
            .table_name(&t)
            .item("pk", Av::S(pk.into()))
            .item("g", Av::S("x".into()))
            .send()
    };
    // The index's one unit goes to the first write's entry.
    put_g("a").await.unwrap();
    let e = put_g("b").await.unwrap_err().into_service_error();
    assert_eq!(e.code(), Some("ProvisionedThroughputExceededException"));
    assert_eq!(
        e.message(),
        Some(
            "The level of configured provisioned throughput for one or more global secondary indexes of the table was exceeded. Consider increasing your provisioning level for the under-provisioned global secondary indexes with the UpdateTable API."
        )
    );
    advance(&server.endpoint, 1_000);
    put_g("b").await.unwrap();
}

#[tokio::test]
async fn a_global_indexs_decreases_are_limited_on_their_own() {
    use aws_sdk_dynamodb::types::{GlobalSecondaryIndexUpdate, UpdateGlobalSecondaryIndexAction};
    let server = manual_server();
    let c = no_retries(&server.endpoint);
    let t = table_name("gdec");
    let throughput = |read| units(read, 10);
    let index = by_g().provisioned_throughput(throughput(10));
    create_with_index(&c, &t, Some(throughput(10)), index)
        .await
        .unwrap();
    let set_index = |read| {
        c.update_table()
            .table_name(&t)
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder()
                    .update(
                        UpdateGlobalSecondaryIndexAction::builder()
                            .index_name("by_g")
                            .provisioned_throughput(throughput(read))
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .send()
    };
    for read in [9, 8, 7, 6] {
        set_index(read).await.unwrap();
    }
    let e = set_index(5).await.unwrap_err().into_service_error();
    assert_eq!(e.code(), Some("LimitExceededException"));
    assert!(
        e.message()
            .unwrap()
            .contains("Number of decreases today: 4."),
        "{:?}",
        e.message()
    );
    let d = c.describe_table().table_name(&t).send().await.unwrap();
    let table = d.table.unwrap();
    let ix = table.global_secondary_indexes.unwrap()[0]
        .provisioned_throughput
        .clone()
        .unwrap();
    assert_eq!(ix.number_of_decreases_today, Some(4));
    assert_eq!(ix.read_capacity_units, Some(6));
    assert!(ix.last_decrease_date_time.is_some());
    // The table's own decreases are counted apart.
    let pt = table.provisioned_throughput.unwrap();
    assert_eq!(pt.number_of_decreases_today, Some(0));
    set_throughput(&c, &t, 9, 10).await.unwrap();
}
