//! On-demand maximums and warm throughput of global secondary indexes, and warm
//! throughput as an input, through the AWS SDK for Rust: CreateTable and UpdateTable
//! take them, DescribeTable shows them, and an index's maximum throttles the table's
//! writes and the index's reads, against a server whose capacity clock only moves
//! when the test moves it.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as Av, CreateGlobalSecondaryIndexAction,
    GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, OnDemandThroughput, Projection,
    ProjectionType, ScalarAttributeType, UpdateGlobalSecondaryIndexAction, WarmThroughput,
};
use serde_json::json;

use crate::harness::{Server, raw_request, table_name};
use crate::throttling::{
    advance, by_g, create_with_index, manual_server, no_retries, refusal, units,
};

const MAXIMUM: &str =
    "Throughput exceeds the maximum OnDemandThroughput configured on table or index";

fn maximums(read: Option<i64>, write: Option<i64>) -> OnDemandThroughput {
    OnDemandThroughput::builder()
        .set_max_read_request_units(read)
        .set_max_write_request_units(write)
        .build()
}

fn warm(read: Option<i64>, write: Option<i64>) -> WarmThroughput {
    WarmThroughput::builder()
        .set_read_units_per_second(read)
        .set_write_units_per_second(write)
        .build()
}

/// Puts an item with index key `g` = "x", so that it has an entry in `by_g`.
async fn put_g(c: &Client, table: &str, pk: &str) -> Result<(), (String, String)> {
    c.put_item()
        .table_name(table)
        .item("pk", Av::S(pk.into()))
        .item("g", Av::S("x".into()))
        .send()
        .await
        .map(|_| ())
        .map_err(refusal)
}

async fn query_g(c: &Client, table: &str) -> Result<(), (String, String)> {
    c.query()
        .table_name(table)
        .index_name("by_g")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", Av::S("x".into()))
        .send()
        .await
        .map(|_| ())
        .map_err(refusal)
}

/// Updates index `by_g` with `action` (its name is set here).
async fn update_g(
    c: &Client,
    table: &str,
    action: aws_sdk_dynamodb::types::builders::UpdateGlobalSecondaryIndexActionBuilder,
) -> Result<(), (String, String)> {
    c.update_table()
        .table_name(table)
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .update(action.index_name("by_g").build().unwrap())
                .build(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(refusal)
}

#[tokio::test]
async fn an_index_maximum_throttles_the_tables_writes_and_the_index_reads() {
    let server = manual_server();
    let c = no_retries(&server.endpoint);
    let t = table_name("gmax");
    let index = by_g()
        .on_demand_throughput(maximums(Some(1), Some(1)))
        .warm_throughput(warm(Some(13_000), None));
    create_with_index(&c, &t, None, index).await.unwrap();
    let d = c.describe_table().table_name(&t).send().await.unwrap();
    let table = d.table.unwrap();
    assert!(
        table.on_demand_throughput.is_none(),
        "the table has no maximum"
    );
    let ix = &table.global_secondary_indexes.unwrap()[0];
    let od = ix.on_demand_throughput.clone().unwrap();
    assert_eq!(
        (od.max_read_request_units, od.max_write_request_units),
        (Some(1), Some(1))
    );
    let w = ix.warm_throughput.clone().unwrap();
    assert_eq!(
        (w.read_units_per_second, w.write_units_per_second),
        (Some(13_000), Some(4_000))
    );
    assert_eq!(w.status.unwrap().as_str(), "ACTIVE");
    // The index's one write unit a second goes to the first item's entry; the second
    // write is refused for the index, though the table has no maximum.
    put_g(&c, &t, "a").await.unwrap();
    assert_eq!(
        put_g(&c, &t, "b").await.unwrap_err(),
        ("ThrottlingException".to_string(), MAXIMUM.to_string())
    );
    // A write without an index entry is held back too while the index has no units,
    // as a provisioned index holds back the table's writes.
    let (status, body) = raw_request(
        &server.endpoint,
        "POST",
        Some("DynamoDB_20120810.PutItem"),
        &json!({ "TableName": t, "Item": { "pk": { "S": "c" } } }).to_string(),
    );
    assert_eq!(status, 400);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body["__type"],
        "com.amazon.coral.availability#ThrottlingException"
    );
    assert_eq!(body["message"], MAXIMUM);
    // ThrottlingException spells the member in lower camel case (the service model).
    assert_eq!(
        body["throttlingReasons"][0]["reason"],
        "IndexWriteMaxOnDemandThroughputExceeded"
    );
    let resource = body["throttlingReasons"][0]["resource"].as_str().unwrap();
    assert!(
        resource.ends_with(&format!(":table/{t}/index/by_g")),
        "{resource}"
    );
    // Reads of the index: an eventually consistent query of one small entry takes half
    // a unit, so the second's one unit admits two.
    query_g(&c, &t).await.unwrap();
    query_g(&c, &t).await.unwrap();
    assert_eq!(
        query_g(&c, &t).await.unwrap_err(),
        ("ThrottlingException".to_string(), MAXIMUM.to_string())
    );
    // A Scan of the index takes the same units.
    let scan = c
        .scan()
        .table_name(&t)
        .index_name("by_g")
        .send()
        .await
        .map_err(refusal);
    assert_eq!(
        scan.unwrap_err(),
        ("ThrottlingException".to_string(), MAXIMUM.to_string())
    );
    // Reads of the table are not the index's concern.
    c.get_item()
        .table_name(&t)
        .key("pk", Av::S("a".into()))
        .send()
        .await
        .unwrap();
    let q = c
        .query()
        .table_name(&t)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", Av::S("a".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(q.count, 1);
    c.scan().table_name(&t).send().await.unwrap();
    advance(&server.endpoint, 1_000);
    put_g(&c, &t, "b").await.unwrap();
    query_g(&c, &t).await.unwrap();
}

#[tokio::test]
async fn update_table_sets_and_removes_index_maximums_and_raises_warm_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let t = table_name("gupd");
    {
        let server = Server::start_in(dir.path(), &["--capacity-clock", "manual"]);
        let c = no_retries(&server.endpoint);
        create_with_index(&c, &t, None, by_g()).await.unwrap();
        let d = c.describe_table().table_name(&t).send().await.unwrap();
        let ix = &d.table.unwrap().global_secondary_indexes.unwrap()[0];
        assert!(ix.on_demand_throughput.is_none());
        update_g(
            &c,
            &t,
            UpdateGlobalSecondaryIndexAction::builder()
                .on_demand_throughput(maximums(None, Some(1)))
                .warm_throughput(warm(None, Some(5_000))),
        )
        .await
        .unwrap();
        c.update_table()
            .table_name(&t)
            .warm_throughput(warm(Some(20_000), None))
            .send()
            .await
            .unwrap();
    }
    // The settings survive a restart, and the maximum is enforced again.
    let server = Server::start_in(dir.path(), &["--capacity-clock", "manual"]);
    let c = no_retries(&server.endpoint);
    let d = c.describe_table().table_name(&t).send().await.unwrap();
    let table = d.table.unwrap();
    let w = table.warm_throughput.unwrap();
    assert_eq!(
        (w.read_units_per_second, w.write_units_per_second),
        (Some(20_000), Some(4_000))
    );
    let ix = &table.global_secondary_indexes.unwrap()[0];
    let od = ix.on_demand_throughput.clone().unwrap();
    assert_eq!(
        (od.max_read_request_units, od.max_write_request_units),
        (None, Some(1))
    );
    let w = ix.warm_throughput.clone().unwrap();
    assert_eq!(
        (w.read_units_per_second, w.write_units_per_second),
        (Some(12_000), Some(5_000))
    );
    put_g(&c, &t, "a").await.unwrap();
    assert_eq!(
        put_g(&c, &t, "b").await.unwrap_err(),
        ("ThrottlingException".to_string(), MAXIMUM.to_string())
    );
    // Warm throughput never decreases, for the table or the index.
    let e = c
        .update_table()
        .table_name(&t)
        .warm_throughput(warm(Some(15_000), None))
        .send()
        .await
        .map_err(refusal)
        .unwrap_err();
    assert_eq!(
        e,
        (
            "ValidationException".to_string(),
            "One or more parameter values were invalid: Requested ReadUnitsPerSecond for WarmThroughput for table is lower than current WarmThroughput, decreasing WarmThroughput is not supported".to_string()
        )
    );
    let e = update_g(
        &c,
        &t,
        UpdateGlobalSecondaryIndexAction::builder().warm_throughput(warm(None, Some(4_000))),
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.1,
        "One or more parameter values were invalid: Requested WriteUnitsPerSecond for WarmThroughput for index by_g is lower than current WarmThroughput, decreasing WarmThroughput is not supported"
    );
    // -1 removes the maximum.
    update_g(
        &c,
        &t,
        UpdateGlobalSecondaryIndexAction::builder().on_demand_throughput(maximums(None, Some(-1))),
    )
    .await
    .unwrap();
    put_g(&c, &t, "b").await.unwrap();
    let d = c.describe_table().table_name(&t).send().await.unwrap();
    let ix = &d.table.unwrap().global_secondary_indexes.unwrap()[0];
    assert!(ix.on_demand_throughput.is_none(), "{ix:?}");
    // An index created by UpdateTable takes its maximums too.
    c.update_table()
        .table_name(&t)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("h")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .create(
                    CreateGlobalSecondaryIndexAction::builder()
                        .index_name("by_h")
                        .key_schema(
                            KeySchemaElement::builder()
                                .attribute_name("h")
                                .key_type(KeyType::Hash)
                                .build()
                                .unwrap(),
                        )
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::KeysOnly)
                                .build(),
                        )
                        .on_demand_throughput(maximums(Some(9), None))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let d = c.describe_table().table_name(&t).send().await.unwrap();
    let indexes = d.table.unwrap().global_secondary_indexes.unwrap();
    let by_h = indexes
        .iter()
        .find(|i| i.index_name() == Some("by_h"))
        .unwrap();
    let od = by_h.on_demand_throughput.clone().unwrap();
    assert_eq!(od.max_read_request_units, Some(9));
}

#[tokio::test]
async fn index_maximums_and_warm_throughput_are_validated_as_dynamodb_does() {
    let server = manual_server();
    let c = no_retries(&server.endpoint);
    let invalid = |m: &str| {
        (
            "ValidationException".to_string(),
            format!("One or more parameter values were invalid: {m}"),
        )
    };
    let provisioned = by_g()
        .provisioned_throughput(units(1, 1))
        .on_demand_throughput(maximums(Some(5), None));
    assert_eq!(
        create_with_index(&c, &table_name("gv1"), Some(units(1, 1)), provisioned)
            .await
            .unwrap_err(),
        invalid(
            "MaxReadRequestUnits for OnDemandThroughput for index: by_g cannot be specified when the table BillingMode is PROVISIONED"
        )
    );
    let zero = by_g().on_demand_throughput(maximums(None, Some(0)));
    assert_eq!(
        create_with_index(&c, &table_name("gv2"), None, zero)
            .await
            .unwrap_err(),
        invalid(
            "Requested MaxWriteRequestUnits for OnDemandThroughput for index : by_g is outside of valid range"
        )
    );
    let cold = by_g().warm_throughput(warm(Some(100), Some(100)));
    assert_eq!(
        create_with_index(&c, &table_name("gv3"), None, cold)
            .await
            .unwrap_err(),
        invalid(
            "Requested ReadUnitsPerSecond for WarmThroughput for index by_g is lower than initial throughput for OnDemand. See: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html#on-demand-capacity-mode-initial"
        )
    );
    // A provisioned index's floor is its provisioned units.
    let low = by_g()
        .provisioned_throughput(units(10, 10))
        .warm_throughput(warm(None, Some(5)));
    assert_eq!(
        create_with_index(&c, &table_name("gv4"), Some(units(1, 1)), low)
            .await
            .unwrap_err(),
        invalid(
            "Requested WriteUnitsPerSecond for WarmThroughput for index by_g is lower than WriteCapacityUnits of ProvisionedThroughput"
        )
    );
    // None of the refused tables exists.
    let names = c.list_tables().send().await.unwrap().table_names.unwrap();
    assert!(names.iter().all(|n| !n.contains("gv")), "{names:?}");
    // On an on-demand table an index update may only change its maximums or warm
    // throughput; on a provisioned one maximums are refused.
    let t = table_name("gv5");
    create_with_index(
        &c,
        &t,
        Some(units(1, 1)),
        by_g().provisioned_throughput(units(1, 1)),
    )
    .await
    .unwrap();
    assert_eq!(
        update_g(
            &c,
            &t,
            UpdateGlobalSecondaryIndexAction::builder()
                .on_demand_throughput(maximums(None, Some(3)))
        )
        .await
        .unwrap_err(),
        invalid(
            "MaxWriteRequestUnits for OnDemandThroughput for index: by_g cannot be specified when the table BillingMode is PROVISIONED"
        )
    );
    // An index created by UpdateTable on an on-demand table takes no provisioned
    // units, in UpdateTable's words (not CreateTable's).
    let od = table_name("gv6");
    create_with_index(&c, &od, None, by_g()).await.unwrap();
    let e = c
        .update_table()
        .table_name(&od)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("h")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .create(
                    CreateGlobalSecondaryIndexAction::builder()
                        .index_name("by_h")
                        .key_schema(
                            KeySchemaElement::builder()
                                .attribute_name("h")
                                .key_type(KeyType::Hash)
                                .build()
                                .unwrap(),
                        )
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::All)
                                .build(),
                        )
                        .provisioned_throughput(units(4, 5))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .map_err(refusal)
        .unwrap_err();
    assert_eq!(
        e,
        invalid(
            "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified for index: by_h when BillingMode is PAY_PER_REQUEST"
        )
    );
    // A provisioned index's warm throughput may rise on its own.
    update_g(
        &c,
        &t,
        UpdateGlobalSecondaryIndexAction::builder().warm_throughput(warm(Some(12_500), None)),
    )
    .await
    .unwrap();
    let d = c.describe_table().table_name(&t).send().await.unwrap();
    let ix = &d.table.unwrap().global_secondary_indexes.unwrap()[0];
    let w = ix.warm_throughput.clone().unwrap();
    assert_eq!(w.read_units_per_second, Some(12_500));
}

/// Creates table `name` keyed by the string `pk` with `warm` as its WarmThroughput:
/// provisioned at 10 units each way, or on demand.
async fn create_warm(
    c: &Client,
    name: &str,
    provisioned: bool,
    warm: WarmThroughput,
) -> Result<(), (String, String)> {
    let req = c
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
        .warm_throughput(warm);
    let req = if provisioned {
        req.provisioned_throughput(units(10, 10))
    } else {
        req.billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
    };
    req.send().await.map(|_| ()).map_err(refusal)
}

#[tokio::test]
async fn a_tables_warm_throughput_is_taken_at_creation_and_checked() {
    let server = manual_server();
    let c = no_retries(&server.endpoint);
    assert_eq!(
        create_warm(&c, &table_name("w1"), false, warm(Some(1), Some(1)))
            .await
            .unwrap_err(),
        (
            "ValidationException".to_string(),
            "One or more parameter values were invalid: Requested ReadUnitsPerSecond for WarmThroughput for table is lower than initial throughput for OnDemand. See: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html#on-demand-capacity-mode-initial".to_string()
        )
    );
    assert_eq!(
        create_warm(&c, &table_name("w2"), true, warm(Some(5), None))
            .await
            .unwrap_err()
            .1,
        "One or more parameter values were invalid: Requested ReadUnitsPerSecond for WarmThroughput for table is lower than ReadCapacityUnits of ProvisionedThroughput"
    );
    // One member given: the other keeps DynamoDB's initial throughput.
    let t = table_name("w3");
    create_warm(&c, &t, false, warm(None, Some(6_000)))
        .await
        .unwrap();
    let d = c.describe_table().table_name(&t).send().await.unwrap();
    let w = d.table.unwrap().warm_throughput.unwrap();
    assert_eq!(
        (w.read_units_per_second, w.write_units_per_second),
        (Some(12_000), Some(6_000))
    );
    assert_eq!(w.status.unwrap().as_str(), "ACTIVE");
    // A provisioned table's is the highest it was provisioned with, and a table that
    // was on demand keeps the initial throughput after it (as DynamoDB was measured).
    let p = table_name("w4");
    create_warm(&c, &p, true, warm(None, None)).await.unwrap();
    let warm_of = |name: String| {
        let c = c.clone();
        async move {
            let d = c.describe_table().table_name(name).send().await.unwrap();
            let w = d.table.unwrap().warm_throughput.unwrap();
            (
                w.read_units_per_second.unwrap(),
                w.write_units_per_second.unwrap(),
            )
        }
    };
    assert_eq!(warm_of(p.clone()).await, (10, 10));
    let billing = |mode, throughput| {
        c.update_table()
            .table_name(&p)
            .billing_mode(mode)
            .set_provisioned_throughput(throughput)
            .send()
    };
    use aws_sdk_dynamodb::types::BillingMode;
    billing(BillingMode::Provisioned, Some(units(30, 5)))
        .await
        .unwrap();
    billing(BillingMode::Provisioned, Some(units(2, 2)))
        .await
        .unwrap();
    assert_eq!(warm_of(p.clone()).await, (30, 10));
    billing(BillingMode::PayPerRequest, None).await.unwrap();
    assert_eq!(warm_of(p.clone()).await, (12_000, 4_000));
    billing(BillingMode::Provisioned, Some(units(1, 1)))
        .await
        .unwrap();
    assert_eq!(warm_of(p.clone()).await, (12_000, 4_000));
}
