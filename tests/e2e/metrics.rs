//! `/metrics`' DynamoDB families: request counts by operation, table and outcome,
//! latency histograms by operation, and the capacity families by table and index,
//! after requests made through the AWS SDK for Rust.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    Projection, ProjectionType, ProvisionedThroughput, PutRequest, ScalarAttributeType,
    WriteRequest,
};

use crate::api::get;
use crate::harness::{Server, raw_request, table_name};

/// A provisioned table `t` (5 RCU, 7 WCU) keyed by `id`, with a global index `by_g`
/// (3 RCU, 4 WCU) on `g`.
async fn create(c: &Client, t: &str) {
    let throughput = |r, w| {
        ProvisionedThroughput::builder()
            .read_capacity_units(r)
            .write_capacity_units(w)
            .build()
            .expect("throughput")
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute")
    };
    let hash = |name: &str| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(KeyType::Hash)
            .build()
            .expect("key")
    };
    c.create_table()
        .table_name(t)
        .attribute_definitions(attribute("id"))
        .attribute_definitions(attribute("g"))
        .key_schema(hash("id"))
        .provisioned_throughput(throughput(5, 7))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by_g")
                .key_schema(hash("g"))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .provisioned_throughput(throughput(3, 4))
                .build()
                .expect("index"),
        )
        .send()
        .await
        .expect("create table");
}

fn metrics_text(endpoint: &str) -> String {
    let m = get(endpoint, "/metrics");
    assert_eq!(m.status, 200);
    m.text()
}

/// The value of the series line `series` (name and labels exactly), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().expect("a number"))
}

/// Prometheus' text format as a scraper reads it: every family's `# TYPE` comes once,
/// after its `# HELP` (which every family has) and before its samples, and every sample belongs to the family
/// declared last (a histogram's as `_bucket`, `_sum` or `_count`) with a number value.
pub fn well_formed(text: &str) {
    let mut typed = std::collections::BTreeSet::new();
    let mut helped = std::collections::BTreeSet::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().expect("a name");
            assert!(helped.insert(name.to_owned()), "HELP twice for {name}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("a name and a type");
            assert!(typed.insert(name.to_owned()), "TYPE twice for {name}");
            assert!(helped.contains(name), "{name} has no HELP");
            current = Some((name.to_owned(), kind.to_owned()));
        } else if !line.is_empty() {
            let (series, value) = line.rsplit_once(' ').expect("a sample");
            value
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("value of {line}"));
            let name = series.split('{').next().expect("a name");
            let (family, kind) = current
                .as_ref()
                .unwrap_or_else(|| panic!("{line} before any TYPE"));
            let ok = if kind == "histogram" {
                ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| name.strip_suffix(suffix) == Some(family.as_str()))
            } else {
                name == family
            };
            assert!(
                ok,
                "{line} is not of the family {family} declared before it"
            );
        }
    }
}

fn requests(text: &str, op: &str, table: &str, outcome: &str) -> Option<f64> {
    value(
        text,
        &format!(
            "eddy_dynamodb_requests_total{{operation=\"{op}\",table=\"{table}\",outcome=\"{outcome}\"}}"
        ),
    )
}

#[tokio::test]
async fn metrics_count_requests_by_operation_table_and_outcome_with_latency_histograms() {
    let server = Server::start();
    let c = server.client();
    let (t, u) = (table_name("metrics"), table_name("metrics-other"));
    create(&c, &t).await;
    create(&c, &u).await;
    for i in 0..3 {
        c.put_item()
            .table_name(&t)
            .item("id", AttributeValue::S(format!("k{i}")))
            .item("g", AttributeValue::S("x".into()))
            .send()
            .await
            .expect("put");
    }
    for _ in 0..2 {
        c.get_item()
            .table_name(&t)
            .key("id", AttributeValue::S("k0".into()))
            .send()
            .await
            .expect("get");
    }
    // A failed condition is a client error counted under its type.
    let failed = c
        .put_item()
        .table_name(&t)
        .item("id", AttributeValue::S("k0".into()))
        .condition_expression("attribute_not_exists(id)")
        .send()
        .await
        .expect_err("the item exists");
    assert_eq!(
        failed.into_service_error().meta().code(),
        Some("ConditionalCheckFailedException")
    );
    // A table that does not exist gets no label of its own.
    let missing = c
        .get_item()
        .table_name("no-such-table-for-metrics")
        .key("id", AttributeValue::S("k0".into()))
        .send()
        .await
        .expect_err("no such table");
    assert_eq!(
        missing.into_service_error().meta().code(),
        Some("ResourceNotFoundException")
    );
    // A batch over two tables counts once under each.
    let put = |id: &str| {
        WriteRequest::builder()
            .put_request(
                PutRequest::builder()
                    .item("id", AttributeValue::S(id.into()))
                    .build()
                    .expect("put request"),
            )
            .build()
    };
    c.batch_write_item()
        .request_items(&t, vec![put("b1"), put("b2")])
        .request_items(&u, vec![put("b1")])
        .send()
        .await
        .expect("batch write");
    c.list_tables().send().await.expect("list tables");
    let (status, _) = raw_request(
        &server.endpoint,
        "POST",
        Some("DynamoDB_20120810.NoSuchOperation"),
        "{}",
    );
    assert_eq!(status, 400);

    let text = metrics_text(&server.endpoint);
    for (op, table, outcome, n) in [
        ("CreateTable", t.as_str(), "ok", 1.0),
        ("PutItem", &t, "ok", 3.0),
        ("GetItem", &t, "ok", 2.0),
        ("PutItem", &t, "ConditionalCheckFailedException", 1.0),
        ("GetItem", "_other", "ResourceNotFoundException", 1.0),
        ("BatchWriteItem", &t, "ok", 1.0),
        ("BatchWriteItem", &u, "ok", 1.0),
        ("ListTables", "", "ok", 1.0),
        ("_unknown", "", "UnknownOperationException", 1.0),
    ] {
        assert_eq!(
            requests(&text, op, table, outcome),
            Some(n),
            "{op} {table} {outcome} in:\n{text}"
        );
    }
    assert_eq!(
        requests(&text, "GetItem", &t, "ResourceNotFoundException"),
        None
    );
    for family in [
        "# HELP eddy_dynamodb_requests_total ",
        "# TYPE eddy_dynamodb_requests_total counter",
        "# HELP eddy_dynamodb_request_duration_seconds ",
        "# TYPE eddy_dynamodb_request_duration_seconds histogram",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(family)),
            "{family} in:\n{text}"
        );
    }

    well_formed(&text);

    // PutItem's histogram: 4 requests (3 ok, 1 failed condition), cumulative buckets
    // that never fall, ending at the count, and a positive sum.
    let h = "eddy_dynamodb_request_duration_seconds";
    let buckets: Vec<(String, f64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{h}_bucket{{operation=\"PutItem\",le=\"")))
        .map(|rest| {
            let (le, n) = rest.split_once("\"} ").expect("a bucket line");
            (le.to_owned(), n.parse().expect("a count"))
        })
        .collect();
    assert_eq!(buckets.len(), 17, "{text}");
    assert_eq!(buckets[0].0, "0.0001");
    assert_eq!(buckets[16], ("+Inf".to_owned(), 4.0));
    assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{buckets:?}");
    assert_eq!(
        value(&text, &format!("{h}_count{{operation=\"PutItem\"}}")),
        Some(4.0)
    );
    let sum = value(&text, &format!("{h}_sum{{operation=\"PutItem\"}}")).expect("sum");
    assert!(sum > 0.0 && sum < 60.0, "{sum}");
    assert_eq!(
        value(&text, &format!("{h}_count{{operation=\"GetItem\"}}")),
        Some(3.0)
    );
    assert_eq!(
        value(&text, &format!("{h}_count{{operation=\"Scan\"}}")),
        None
    );
    // The same latencies by operation and table: PutItem's 4 requests were all on t,
    // the batch write is counted under each of its tables, GetItem's on no table
    // under `_other`.
    let ht = "eddy_dynamodb_table_request_duration_seconds";
    for (op, table, n) in [
        ("PutItem", t.as_str(), Some(4.0)),
        ("PutItem", &u, None),
        ("GetItem", &t, Some(2.0)),
        ("GetItem", "_other", Some(1.0)),
        ("BatchWriteItem", &t, Some(1.0)),
        ("BatchWriteItem", &u, Some(1.0)),
        ("ListTables", "", Some(1.0)),
    ] {
        let series = format!("{ht}_count{{operation=\"{op}\",table=\"{table}\"}}");
        assert_eq!(value(&text, &series), n, "{series} in:\n{text}");
    }
    let put_on_t = format!("{ht}_bucket{{operation=\"PutItem\",table=\"{t}\",le=\"+Inf\"}}");
    assert_eq!(value(&text, &put_on_t), Some(4.0), "{text}");

    // The capacity families name every table (index "" for the table itself).
    for family in [
        ("eddy_dynamodb_consumed_read_units_total", "counter"),
        ("eddy_dynamodb_consumed_write_units_total", "counter"),
        ("eddy_dynamodb_provisioned_read_units", "gauge"),
        ("eddy_dynamodb_provisioned_write_units", "gauge"),
    ] {
        let (name, kind) = family;
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name}:\n{text}"
        );
        assert!(text.contains(&format!("# HELP {name} ")), "{name}:\n{text}");
        for table in [&t, &u] {
            let series = format!("{name}{{table=\"{table}\",index=\"\"}}");
            assert!(value(&text, &series).is_some(), "{series} in:\n{text}");
        }
    }
    let throttled = "eddy_dynamodb_throttled_requests_total";
    assert!(
        text.contains(&format!("# TYPE {throttled} counter\n")),
        "{text}"
    );
    for kind in ["read", "write"] {
        let series = format!("{throttled}{{table=\"{t}\",index=\"\",type=\"{kind}\"}}");
        assert_eq!(value(&text, &series), Some(0.0), "{series} in:\n{text}");
    }
}

/// The capacity figures themselves come from `Engine::capacity_totals`: the governor's
/// counters, charged with each operation's units.
#[tokio::test]
async fn metrics_show_provisioned_and_consumed_units_per_table_and_index() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("capacity-metrics");
    create(&c, &t).await;
    for i in 0..3 {
        c.put_item()
            .table_name(&t)
            .item("id", AttributeValue::S(format!("k{i}")))
            .item("g", AttributeValue::S("x".into()))
            .send()
            .await
            .expect("put");
    }
    c.get_item()
        .table_name(&t)
        .key("id", AttributeValue::S("k0".into()))
        .consistent_read(true)
        .send()
        .await
        .expect("get");
    let text = metrics_text(&server.endpoint);
    let series = |name: &str, index: &str| {
        value(&text, &format!("{name}{{table=\"{t}\",index=\"{index}\"}}"))
            .unwrap_or_else(|| panic!("{name} {index} in:\n{text}"))
    };
    assert_eq!(series("eddy_dynamodb_provisioned_read_units", ""), 5.0);
    assert_eq!(series("eddy_dynamodb_provisioned_write_units", ""), 7.0);
    assert_eq!(series("eddy_dynamodb_provisioned_read_units", "by_g"), 3.0);
    assert_eq!(series("eddy_dynamodb_provisioned_write_units", "by_g"), 4.0);
    // Three small puts (1 WCU each on the table and on the index it projects to) and
    // one strongly consistent read of a small item (1 RCU).
    assert_eq!(series("eddy_dynamodb_consumed_write_units_total", ""), 3.0);
    assert_eq!(
        series("eddy_dynamodb_consumed_write_units_total", "by_g"),
        3.0
    );
    assert_eq!(series("eddy_dynamodb_consumed_read_units_total", ""), 1.0);
}
