//! Auto scaling of provisioned capacity through the `eddy autoscaling` commands (the
//! `/v1/autoscaling` routes): targets and target-tracking policies on a table and a
//! global secondary index, their refusals, their survival across a restart, and the
//! scaler raising a table's and an index's capacity under real load and lowering it
//! after (the time constants shrunk by the `--autoscaling-*` flags). The AWS protocol
//! (`aws application-autoscaling`, boto3) is `tests/python/autoscaling.py`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue as Av;
use serde_json::{Value, json};

use crate::api::{ddb, eddy, eddy_ok, wait_for};
use crate::harness::{Server, table_name};

/// A provisioned table with a global index `byG` on `g`, both at `units` reads and
/// writes.
fn create_provisioned(endpoint: &str, name: &str, units: i64) {
    let throughput = json!({"ReadCapacityUnits": units, "WriteCapacityUnits": units});
    ddb(
        endpoint,
        "CreateTable",
        json!({
            "TableName": name,
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "g", "AttributeType": "S"},
            ],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "ProvisionedThroughput": throughput,
            "GlobalSecondaryIndexes": [{
                "IndexName": "byG",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
                "ProvisionedThroughput": throughput,
            }],
        }),
    );
}

/// The (read, write) capacity of the table, and of its index `byG`.
fn capacities(endpoint: &str, name: &str) -> ((i64, i64), (i64, i64)) {
    let t = ddb(endpoint, "DescribeTable", json!({"TableName": name}));
    let pair = |p: &Value| {
        (
            p["ReadCapacityUnits"].as_i64().unwrap(),
            p["WriteCapacityUnits"].as_i64().unwrap(),
        )
    };
    (
        pair(&t["Table"]["ProvisionedThroughput"]),
        pair(&t["Table"]["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"]),
    )
}

/// A client command that must fail; its error line.
fn eddy_err(endpoint: &str, args: &[&str]) -> String {
    let out = eddy(endpoint, args);
    assert!(!out.status.success(), "eddy {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).trim().to_owned()
}

#[test]
fn targets_and_policies_through_the_eddy_cli_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let e = server.endpoint.clone();
    let table = table_name("scaled");
    create_provisioned(&e, &table, 5);
    let resource = format!("table/{table}");
    let index = format!("table/{table}/index/byG");

    // Registering clamps the current capacity into the range: 5 writes rise to 10.
    let out = eddy_ok(
        &e,
        &[
            "autoscaling",
            "target",
            "put",
            "--resource-id",
            &resource,
            "--dimension",
            "dynamodb:table:WriteCapacityUnits",
            "--min",
            "10",
            "--max",
            "200",
        ],
    );
    assert!(
        out["ScalableTargetARN"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:application-autoscaling:us-east-1:000000000000:scalable-target/"),
        "{out}"
    );
    eddy_ok(
        &e,
        &[
            "autoscaling",
            "target",
            "put",
            "--resource-id",
            &index,
            "--dimension",
            "dynamodb:index:ReadCapacityUnits",
            "--min",
            "1",
            "--max",
            "3",
        ],
    );
    assert_eq!(capacities(&e, &table), ((5, 10), (3, 5)));
    let activities = eddy_ok(
        &e,
        &["autoscaling", "activities", "--resource-id", &resource],
    );
    assert_eq!(
        activities["ScalingActivities"][0]["Description"],
        "Setting write capacity units to 10."
    );
    assert_eq!(
        activities["ScalingActivities"][0]["StatusCode"],
        "Successful"
    );
    assert_eq!(
        activities["ScalingActivities"][0]["Cause"],
        "minimum capacity was set to 10"
    );

    let policy = eddy_ok(
        &e,
        &[
            "autoscaling",
            "policy",
            "put",
            "writes",
            "--resource-id",
            &resource,
            "--dimension",
            "dynamodb:table:WriteCapacityUnits",
            "--target-value",
            "70",
            "--scale-in-cooldown-s",
            "60",
        ],
    );
    let arn = policy["PolicyARN"].as_str().unwrap().to_owned();
    assert!(
        arn.ends_with(&format!(":resource/dynamodb/{resource}:policyName/writes")),
        "{arn}"
    );

    // The refusals, with Application Auto Scaling's types and messages.
    for (args, want) in [
        (
            vec![
                "autoscaling", "policy", "put", "again", "--resource-id", &resource,
                "--dimension", "dynamodb:table:WriteCapacityUnits", "--target-value", "50",
            ],
            "ValidationException: Only one TargetTrackingScaling policy for a given metric specification is allowed.".to_owned(),
        ),
        (
            vec![
                "autoscaling", "policy", "put", "reads", "--resource-id", &resource,
                "--dimension", "dynamodb:table:ReadCapacityUnits", "--target-value", "50",
            ],
            format!("ObjectNotFoundException: No scalable target registered for service namespace: dynamodb, resource ID: {resource}, scalable dimension: dynamodb:table:ReadCapacityUnits"),
        ),
        (
            vec![
                "autoscaling", "target", "put", "--resource-id", "table/nope-nope",
                "--dimension", "dynamodb:table:ReadCapacityUnits", "--min", "1", "--max", "2",
            ],
            "ValidationException: DynamoDB table does not exist: table/nope-nope".to_owned(),
        ),
        (
            vec![
                "autoscaling", "target", "put", "--resource-id", &format!("{resource}/index/nope"),
                "--dimension", "dynamodb:index:ReadCapacityUnits", "--min", "1", "--max", "2",
            ],
            format!("ValidationException: DynamoDB index does not exist: {resource}/index/nope"),
        ),
        (
            vec![
                "autoscaling", "target", "put", "--resource-id", &resource,
                "--dimension", "dynamodb:index:ReadCapacityUnits", "--min", "1", "--max", "2",
            ],
            "ValidationException: Unsupported service namespace, resource type or scalable dimension".to_owned(),
        ),
        (
            vec![
                "autoscaling", "target", "delete", "--resource-id", &resource,
                "--dimension", "dynamodb:table:ReadCapacityUnits",
            ],
            format!("ObjectNotFoundException: No scalable target found for service namespace: dynamodb, resource ID: {resource}, scalable dimension: dynamodb:table:ReadCapacityUnits"),
        ),
        (
            vec![
                "autoscaling", "policy", "delete", "gone", "--resource-id", &resource,
                "--dimension", "dynamodb:table:WriteCapacityUnits",
            ],
            format!("ObjectNotFoundException: No scaling policy found for service namespace: dynamodb, resource ID: {resource}, scalable dimension: dynamodb:table:WriteCapacityUnits, policy name: gone"),
        ),
    ] {
        let err = eddy_err(&e, &args);
        assert!(err.ends_with(&want), "eddy {args:?}: {err}\nwant …{want}");
    }

    // Everything survives a restart on the same directory.
    drop(server);
    let server = Server::start_in(dir.path(), &[]);
    let e = server.endpoint.clone();
    let targets = eddy_ok(&e, &["autoscaling", "target", "list"]);
    let got: Vec<(String, String, i64, i64)> = targets["ScalableTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["ResourceId"].as_str().unwrap().to_owned(),
                t["ScalableDimension"].as_str().unwrap().to_owned(),
                t["MinCapacity"].as_i64().unwrap(),
                t["MaxCapacity"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                resource.clone(),
                "dynamodb:table:WriteCapacityUnits".into(),
                10,
                200
            ),
            (
                index.clone(),
                "dynamodb:index:ReadCapacityUnits".into(),
                1,
                3
            ),
        ]
    );
    let policies = eddy_ok(
        &e,
        &["autoscaling", "policy", "list", "--resource-id", &resource],
    );
    let p = &policies["ScalingPolicies"][0];
    assert_eq!(p["PolicyARN"], arn.as_str());
    assert_eq!(p["PolicyType"], "TargetTrackingScaling");
    let config = &p["TargetTrackingScalingPolicyConfiguration"];
    assert_eq!(config["TargetValue"], 70.0);
    assert_eq!(config["ScaleInCooldown"], 60);
    assert_eq!(
        config["PredefinedMetricSpecification"]["PredefinedMetricType"],
        "DynamoDBWriteCapacityUtilization"
    );

    // Deregistering a target deletes its policies.
    eddy_ok(
        &e,
        &[
            "autoscaling",
            "target",
            "delete",
            "--resource-id",
            &resource,
            "--dimension",
            "dynamodb:table:WriteCapacityUnits",
        ],
    );
    let policies = eddy_ok(&e, &["autoscaling", "policy", "list"]);
    assert_eq!(policies["ScalingPolicies"], json!([]));
}

/// Writes items carrying the index key as fast as `writers` tasks can until `stop`.
async fn write_load(endpoint: String, table: String, stop: Arc<AtomicBool>, writers: usize) {
    let client = crate::harness::client(&endpoint);
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (client, table, stop) = (client.clone(), table.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                // Throttled writes are expected at the start; the SDK retries them.
                let _ = client
                    .put_item()
                    .table_name(&table)
                    .item("pk", Av::S(format!("{w}-{n}")))
                    .item("g", Av::S(format!("g{}", n % 16)))
                    .send()
                    .await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_rises_under_load_and_falls_after_it_for_a_table_and_its_index() {
    let server = Server::start_with(&[
        // A tick of a second: with throughput enforced, a throttled load's units arrive
        // a few at a time, and a shorter tick could see none and end the high run.
        "--autoscaling-tick-ms",
        "1000",
        "--autoscaling-scale-out-after-s",
        "2",
        "--autoscaling-scale-in-after-s",
        "4",
    ]);
    let e = server.endpoint.clone();
    let table = table_name("load");
    create_provisioned(&e, &table, 5);
    let resource = format!("table/{table}");
    let index = format!("table/{table}/index/byG");
    for (id, dimension) in [
        (&resource, "dynamodb:table:WriteCapacityUnits"),
        (&index, "dynamodb:index:WriteCapacityUnits"),
    ] {
        eddy_ok(
            &e,
            &[
                "autoscaling",
                "target",
                "put",
                "--resource-id",
                id,
                "--dimension",
                dimension,
                "--min",
                "5",
                "--max",
                "1000",
            ],
        );
        eddy_ok(
            &e,
            &[
                "autoscaling",
                "policy",
                "put",
                "writes",
                "--resource-id",
                id,
                "--dimension",
                dimension,
                "--target-value",
                "50",
            ],
        );
    }
    assert_eq!(capacities(&e, &table), ((5, 5), (5, 5)));

    // Load far above 50% of 5 units: both capacities must rise.
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(write_load(e.clone(), table.clone(), stop.clone(), 8));
    let (e2, t2) = (e.clone(), table.clone());
    let raised = tokio::task::spawn_blocking(move || {
        wait_for(
            "capacity to rise under load",
            Duration::from_secs(60),
            || {
                let ((_, tw), (_, iw)) = capacities(&e2, &t2);
                if tw > 5 && iw > 5 {
                    Ok((tw, iw))
                } else {
                    Err(format!("table {tw}, index {iw}"))
                }
            },
        )
    })
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();

    // Idle: after the scale-in window both fall back towards the minimum.
    let (e2, t2) = (e.clone(), table.clone());
    tokio::task::spawn_blocking(move || {
        wait_for(
            "capacity to fall when idle",
            Duration::from_secs(60),
            || {
                let ((_, tw), (_, iw)) = capacities(&e2, &t2);
                if tw < raised.0 && iw < raised.1 {
                    Ok(())
                } else {
                    Err(format!("table {tw}, index {iw}"))
                }
            },
        )
    })
    .await
    .unwrap();
    let activities = eddy_ok(&e, &["autoscaling", "activities"]);
    let causes: Vec<&str> = activities["ScalingActivities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["StatusCode"] == "Successful")
        .filter_map(|a| a["Cause"].as_str())
        .collect();
    assert!(causes.iter().any(|c| c.contains("AlarmHigh")), "{causes:?}");
    assert!(causes.iter().any(|c| c.contains("AlarmLow")), "{causes:?}");
}

/// Application Auto Scaling's protocol on `POST /` (JSON 1.1) and on
/// `POST /v1/autoscaling`, both by `X-Amz-Target`; the changes made the first way are
/// in the audit log with their status, failed ones too.
#[test]
fn the_aws_protocol_answers_json_1_1_and_its_changes_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let server = Server::start_with(&["--audit-log", log.to_str().unwrap()]);
    let e = server.endpoint.clone();
    let table = table_name("audited");
    create_provisioned(&e, &table, 5);
    let resource = format!("table/{table}");
    let call = |path: &str, op: &str, body: Value| {
        crate::api::http(
            &e,
            "POST",
            path,
            &[
                ("X-Amz-Target", &format!("AnyScaleFrontendService.{op}")),
                ("Content-Type", "application/x-amz-json-1.1"),
            ],
            body.to_string().as_bytes(),
        )
    };
    let target = json!({
        "ServiceNamespace": "dynamodb",
        "ResourceId": resource,
        "ScalableDimension": "dynamodb:table:ReadCapacityUnits",
        "MinCapacity": 2,
        "MaxCapacity": 4,
    });
    let ok = call("/", "RegisterScalableTarget", target.clone());
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert!(
        ok.headers
            .to_ascii_lowercase()
            .contains("content-type: application/x-amz-json-1.1"),
        "{}",
        ok.headers
    );
    let missing = call(
        "/",
        "DeregisterScalableTarget",
        json!({
            "ServiceNamespace": "dynamodb",
            "ResourceId": resource,
            "ScalableDimension": "dynamodb:table:WriteCapacityUnits",
        }),
    );
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json()["__type"], "ObjectNotFoundException");
    // The same operations under /v1, in the /v1 error shape.
    let listed = call(
        "/v1/autoscaling",
        "DescribeScalableTargets",
        json!({"ResourceIds": [resource]}),
    );
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert_eq!(listed.json()["ScalableTargets"][0]["MaxCapacity"], 4);
    let v1_missing = call(
        "/v1/autoscaling",
        "DeleteScalingPolicy",
        json!({
            "ResourceId": resource,
            "ScalableDimension": "dynamodb:table:ReadCapacityUnits",
            "PolicyName": "none",
        }),
    );
    assert_eq!(v1_missing.status, 404);
    assert_eq!(
        v1_missing.json()["error"]["code"],
        "ObjectNotFoundException"
    );
    let unknown = call("/v1/autoscaling", "PutScheduledAction", json!({}));
    assert_eq!(unknown.status, 400, "{}", unknown.text());

    // The audit log: both changes of the AWS protocol, with their status.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let lines: Vec<Value> = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .filter(|l: &Value| {
                l["action"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("application-autoscaling:"))
            })
            .collect();
        if lines.len() >= 2 || std::time::Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let seen: Vec<(&str, &str, i64)> = lines
        .iter()
        .map(|l| {
            (
                l["action"].as_str().unwrap(),
                l["resource"].as_str().unwrap(),
                l["status"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                "application-autoscaling:RegisterScalableTarget",
                resource.as_str(),
                200
            ),
            (
                "application-autoscaling:DeregisterScalableTarget",
                resource.as_str(),
                400
            ),
        ]
    );
    assert!(lines.iter().all(|l| l["event"] == "change"), "{lines:#?}");
}
