//! The event-source mapping semantics that were checked against Lambda's documentation
//! setting by setting, end to end: the real binary, the `/v1/triggers` API over HTTP,
//! DynamoDB writes on `POST /`, and the test guests. `fail_on` reports every record whose
//! `fail` attribute is true as a batch item failure (with `mode=error` it fails every
//! invocation); `noop` answers success without a tumbling-window `state`.
//!
//! Each test is one departure from Lambda that was fixed: a poison record with the
//! default infinite retries ends when it expires from the stream; a failure destination
//! Eddy cannot write to is refused when the mapping is saved, and one that fails later
//! does not hold the shard; the failure record has Lambda's documented shape; a window
//! answer without `state` fails; a new mapping is `Creating`, then `Enabled`, and names
//! its ARN; `AT_TIMESTAMP` is refused for a DynamoDB stream.

use std::time::Duration;

use serde_json::{Value, json};

use crate::api::{
    WAIT, create_table, create_trigger, ddb, deploy, get, guest, metric, send_json, trigger,
    wait_for, wait_until,
};
use crate::harness::{Server, table_name};

/// Lambda's documented invocation record of a DynamoDB stream batch (the Lambda
/// developer guide, "Retain discarded records for a DynamoDB event source"), as printed
/// there: the shape Eddy's failure record is compared with, field by field.
const LAMBDA_INVOCATION_RECORD_EXAMPLE: &str = r#"{
    "requestContext": {
        "requestId": "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81",
        "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
        "condition": "RetryAttemptsExhausted",
        "approximateInvokeCount": 1
    },
    "responseContext": {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled"
    },
    "version": "1.0",
    "timestamp": "2019-11-14T00:13:49.717Z",
    "DDBStreamBatchInfo": {
        "shardId": "shardId-00000001573689847184-864758bb",
        "startSequenceNumber": "800000000003126276362",
        "endSequenceNumber": "800000000003126276362",
        "approximateArrivalOfFirstRecord": "2019-11-14T00:13:19Z",
        "approximateArrivalOfLastRecord": "2019-11-14T00:13:19Z",
        "batchSize": 1,
        "streamArn": "arn:aws:dynamodb:us-east-2:123456789012:table/mytable/stream/2019-11-14T00:04:06.388"
    }
}"#;

/// Writes item `id`, a poison record for `fail_on` when `fail`.
fn put(endpoint: &str, table: &str, id: &str, fail: bool) {
    ddb(
        endpoint,
        "PutItem",
        json!({"TableName": table, "Item": {"id": {"S": id}, "fail": {"BOOL": fail}}}),
    );
}

/// Every item of `table` (the tests' tables stay small).
fn scan(endpoint: &str, table: &str) -> Vec<Value> {
    ddb(endpoint, "Scan", json!({"TableName": table}))["Items"]
        .as_array()
        .expect("Items")
        .clone()
}

/// A table keyed by `id` of type `key_type` (`S`, `N` or `B`), without a stream.
fn create_keyed_table(endpoint: &str, name: &str, key_type: &str) {
    ddb(
        endpoint,
        "CreateTable",
        json!({
            "TableName": name,
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": key_type}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
        }),
    );
}

fn last_result(t: &Value) -> String {
    t["LastProcessingResult"]
        .as_str()
        .expect("LastProcessingResult")
        .to_owned()
}

/// Whether `s` is an ISO 8601 UTC time written like `pattern` (digits where the pattern
/// has digits, the same separators elsewhere).
fn is_time_like(s: &str, pattern: &str) -> bool {
    s.len() == pattern.len()
        && s.chars().zip(pattern.chars()).all(|(c, p)| {
            if p.is_ascii_digit() {
                c.is_ascii_digit()
            } else {
                c == p
            }
        })
}

/// Asserts that `ours` has exactly the fields of `lambda`, recursively, each of the
/// same JSON type.
fn assert_same_shape(ours: &Value, lambda: &Value, path: &str) {
    match (ours, lambda) {
        (Value::Object(o), Value::Object(l)) => {
            let ours_keys: Vec<&String> = o.keys().collect();
            let lambda_keys: Vec<&String> = l.keys().collect();
            assert_eq!(ours_keys, lambda_keys, "the fields of {path}");
            for (k, v) in l {
                assert_same_shape(&o[k], v, &format!("{path}.{k}"));
            }
        }
        (Value::String(_), Value::String(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::Bool(_), Value::Bool(_)) => {}
        _ => panic!("{path}: {ours} is not of the type of Lambda's {lambda}"),
    }
}

/// With the default `MaximumRetryAttempts` and `MaximumRecordAgeInSeconds` (-1), a
/// record the function always fails is retried until it expires from the stream; then
/// it is discarded (dropped: there is no failure destination) and the shard moves on, so
/// a later write is delivered.
#[test]
fn a_poison_record_is_discarded_when_it_expires_and_the_next_write_is_delivered() {
    let server = Server::start_with(&["--stream-retention-s", "15"]);
    let e = &server.endpoint;
    let src = table_name("src");
    create_table(e, &src, true);
    deploy(e, "poisoned", "", &guest("fail_on")).expect(201);
    let t = create_trigger(
        e,
        json!({
            "FunctionName": "poisoned", "TableName": src, "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 1, "FunctionResponseTypes": ["ReportBatchItemFailures"],
        }),
    );
    assert_eq!(t["MaximumRetryAttempts"], -1, "{t}");
    assert_eq!(t["MaximumRecordAgeInSeconds"], -1, "{t}");
    let id = t["UUID"].as_str().expect("UUID").to_owned();

    put(e, &src, "poison", true);
    wait_until("the poison record's retries", || {
        metric(&trigger(e, &id), "Errors") >= 2
    });
    // Retention is 15 s and the trimmer runs every 15/8 s; a retry waits at most 5 s.
    let expired = wait_for(
        "the poison record to expire and be discarded",
        Duration::from_secs(45),
        || {
            let t = trigger(e, &id);
            if metric(&t, "Dropped") == 1 {
                Ok(t)
            } else {
                Err(t.to_string())
            }
        },
    );
    assert!(
        last_result(&expired).contains("RecordAgeExceeded"),
        "{expired}"
    );
    let errors = metric(&expired, "Errors");

    put(e, &src, "after", false);
    let done = wait_for("the next write to be delivered", WAIT, || {
        let t = trigger(e, &id);
        if last_result(&t) == "OK" {
            Ok(t)
        } else {
            Err(t.to_string())
        }
    });
    assert_eq!(
        metric(&done, "Errors"),
        errors,
        "the next record succeeded at once: {done}"
    );
    assert_eq!(metric(&done, "Dropped"), 1, "{done}");
}

/// A failure destination Eddy cannot write to is refused when the mapping is created or
/// updated, with Lambda's `InvalidParameterValueException` "The destination ARN … is
/// invalid", and nothing is saved.
#[test]
fn an_unwritable_failure_destination_is_refused_at_create_and_update() {
    let server = Server::start();
    let e = &server.endpoint;
    let (src, numbered, failures) = (
        table_name("src"),
        table_name("numbered"),
        table_name("failures"),
    );
    create_table(e, &src, true);
    create_keyed_table(e, &numbered, "N");
    create_keyed_table(e, &failures, "S");
    deploy(e, "f", "?env=mode=error", &guest("fail_on")).expect(201);
    let with_destination = |destination: &str| {
        json!({
            "FunctionName": "f", "TableName": src, "StartingPosition": "LATEST",
            "DestinationConfig": {"OnFailure": {"Destination": destination}},
        })
    };
    let missing = table_name("missing");
    let sqs = "arn:aws:sqs:us-east-1:000000000000:dlq";
    let stream_arn = t_stream_arn(e, &src);
    for (destination, why) in [
        (missing.as_str(), format!("table {missing} does not exist")),
        (sqs, "queues, topics, buckets".to_owned()),
        (stream_arn.as_str(), "stream ARNs".to_owned()),
        (numbered.as_str(), "partition key id is a number".to_owned()),
    ] {
        let resp = send_json(e, "POST", "/v1/triggers", &with_destination(destination));
        let body = resp.expect_error(
            400,
            Some("DestinationConfig"),
            &format!("The destination ARN {destination} is invalid"),
        );
        assert_eq!(
            body["error"]["code"], "InvalidParameterValueException",
            "{body}"
        );
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains(&why), "{message:?} should say {why:?}");
        assert!(
            resp.headers
                .to_ascii_lowercase()
                .contains("x-amzn-errortype: invalidparametervalueexception"),
            "{}",
            resp.headers
        );
    }
    assert_eq!(
        get(e, "/v1/triggers").expect(200)["EventSourceMappings"],
        json!([]),
        "a refused mapping is not saved"
    );

    // A table ARN of a writable table is taken, and a bad one refused on update.
    let table_arn = format!("arn:aws:dynamodb:us-east-1:000000000000:table/{failures}");
    let t = create_trigger(e, with_destination(&table_arn));
    let path = format!("/v1/triggers/{}", t["UUID"].as_str().expect("UUID"));
    send_json(
        e,
        "PATCH",
        &path,
        &json!({"DestinationConfig": {"OnFailure": {"Destination": missing}}}),
    )
    .expect_error(
        400,
        Some("DestinationConfig"),
        &format!("The destination ARN {missing} is invalid"),
    );
    assert_eq!(
        get(e, &path).expect(200)["DestinationConfig"]["OnFailure"]["Destination"],
        failures.as_str(),
        "a refused update changes nothing"
    );
}

/// The ARN of `table`'s latest stream.
fn t_stream_arn(endpoint: &str, table: &str) -> String {
    ddb(endpoint, "DescribeTable", json!({"TableName": table}))["Table"]["LatestStreamArn"]
        .as_str()
        .expect("LatestStreamArn")
        .to_owned()
}

/// A destination that was writable when the mapping was saved and is gone when a batch
/// fails (even with `MaximumRetryAttempts` 0) is tried a bounded number of times; then
/// the batch is dropped, `LastProcessingResult` says why, and the shard moves on.
#[test]
fn a_failure_destination_that_fails_later_does_not_block_the_shard() {
    let server = Server::start();
    let e = &server.endpoint;
    let (src, failures) = (table_name("src"), table_name("failures"));
    create_table(e, &src, true);
    create_table(e, &failures, false);
    deploy(e, "f", "", &guest("fail_on")).expect(201);
    let t = create_trigger(
        e,
        json!({
            "FunctionName": "f", "TableName": src, "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 1, "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "MaximumRetryAttempts": 0,
            "DestinationConfig": {"OnFailure": {"Destination": failures}},
        }),
    );
    let id = t["UUID"].as_str().expect("UUID").to_owned();
    ddb(e, "DeleteTable", json!({"TableName": failures}));

    put(e, &src, "poison", true);
    let dropped = wait_for("the batch to be dropped", WAIT, || {
        let t = trigger(e, &id);
        if metric(&t, "Dropped") == 1 {
            Ok(t)
        } else {
            Err(t.to_string())
        }
    });
    let result = last_result(&dropped);
    assert!(
        result.starts_with("PROBLEM: RetryAttemptsExhausted: batch dropped")
            && result.contains(&failures),
        "{result}"
    );
    assert_eq!(metric(&dropped, "SentToFailureDestination"), 0);

    put(e, &src, "after", false);
    wait_for("the next write to be delivered", WAIT, || {
        let t = trigger(e, &id);
        if last_result(&t) == "OK" {
            Ok(())
        } else {
            Err(t.to_string())
        }
    });
}

/// The failure record is Lambda's invocation record: the same fields as Lambda's
/// documented example, of the same types, with `approximateInvokeCount` counting this
/// batch's invocations and ISO 8601 times; the records are Eddy's extension beside it.
#[test]
fn the_failure_record_has_lambdas_documented_shape() {
    let server = Server::start();
    let e = &server.endpoint;
    let (src, failures) = (table_name("src"), table_name("failures"));
    create_table(e, &src, true);
    create_table(e, &failures, false);
    deploy(e, "always-fails", "?env=mode=error", &guest("fail_on")).expect(201);
    // An earlier batch's invocations must not count in this one's record.
    let t = create_trigger(
        e,
        json!({
            "FunctionName": "always-fails", "TableName": src, "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 1, "MaximumRetryAttempts": 1,
            "DestinationConfig": {"OnFailure": {"Destination": failures}},
        }),
    );
    put(e, &src, "first", false);
    put(e, &src, "second", false);
    let items = wait_for("two failure records", WAIT, || {
        let items = scan(e, &failures);
        if items.len() == 2 {
            Ok(items)
        } else {
            Err(format!("{items:?}"))
        }
    });
    let lambda: Value = serde_json::from_str(LAMBDA_INVOCATION_RECORD_EXAMPLE).expect("JSON");
    for item in &items {
        let record: Value =
            serde_json::from_str(item["context"]["S"].as_str().expect("context")).expect("JSON");
        assert_same_shape(&record, &lambda, "the invocation record");
        let rc = &record["requestContext"];
        assert_eq!(rc["condition"], "RetryAttemptsExhausted", "{record}");
        assert_eq!(
            rc["approximateInvokeCount"], 2,
            "the first attempt and its one retry of this batch: {record}"
        );
        assert_eq!(rc["functionArn"], t["FunctionArn"], "{record}");
        assert_eq!(rc["requestId"], item["id"]["S"], "{record}");
        assert_eq!(
            record["responseContext"],
            json!({"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"})
        );
        assert_eq!(record["version"], "1.0");
        let timestamp = record["timestamp"].as_str().expect("timestamp");
        assert!(
            is_time_like(timestamp, "2019-11-14T00:13:49.717Z"),
            "{timestamp}"
        );
        let info = &record["DDBStreamBatchInfo"];
        assert_eq!(info["batchSize"], 1);
        assert_eq!(info["streamArn"], t["EventSourceArn"]);
        assert_eq!(info["startSequenceNumber"], info["endSequenceNumber"]);
        assert!(
            info["shardId"]
                .as_str()
                .is_some_and(|s| s.starts_with("shardId-")),
            "{info}"
        );
        for arrival in [
            "approximateArrivalOfFirstRecord",
            "approximateArrivalOfLastRecord",
        ] {
            let at = info[arrival].as_str().expect("an arrival time");
            assert!(is_time_like(at, "2019-11-14T00:13:19Z"), "{arrival}: {at}");
            assert!(at[..19] <= timestamp[..19], "arrived before it failed");
        }
        // The records themselves: Eddy's extension, in an attribute named so.
        let records: Value =
            serde_json::from_str(item["eddyRecords"]["S"].as_str().expect("eddyRecords"))
                .expect("JSON");
        assert_eq!(
            records[0]["dynamodb"]["SequenceNumber"], info["startSequenceNumber"],
            "{records}"
        );
        assert_eq!(records[0]["eventName"], "INSERT");
    }
}

/// "When using tumbling windows, the function response must contain a state property;
/// if it does not, Lambda considers it a failed invocation": a window invocation
/// answered without `state` is retried and, its retries spent, given up.
#[test]
fn a_tumbling_window_answer_without_state_is_a_failed_invocation() {
    let server = Server::start();
    let e = &server.endpoint;
    let (src, failures) = (table_name("src"), table_name("failures"));
    create_table(e, &src, true);
    create_table(e, &failures, false);
    deploy(e, "stateless", "", &guest("noop")).expect(201);
    let t = create_trigger(
        e,
        json!({
            "FunctionName": "stateless", "TableName": src, "StartingPosition": "TRIM_HORIZON",
            "TumblingWindowInSeconds": 60, "MaximumRetryAttempts": 1,
            "DestinationConfig": {"OnFailure": {"Destination": failures}},
        }),
    );
    let id = t["UUID"].as_str().expect("UUID").to_owned();
    put(e, &src, "a", false);
    let items = wait_for("the failed window batch", WAIT, || {
        let items = scan(e, &failures);
        if items.is_empty() {
            Err(trigger(e, &id).to_string())
        } else {
            Ok(items)
        }
    });
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["condition"]["S"], "RetryAttemptsExhausted");
    let shown = trigger(e, &id);
    assert_eq!(
        metric(&shown, "Errors"),
        2,
        "the invocation and its retry: {shown}"
    );
}

/// A new mapping is answered `Creating`, as Lambda answers CreateEventSourceMapping, and
/// is `Enabled` once its consumers run; it carries Lambda's `EventSourceMappingArn`.
/// `AT_TIMESTAMP`, which Lambda takes only for Kinesis, is refused with Lambda's words.
#[test]
fn a_new_mapping_is_creating_then_enabled_and_at_timestamp_is_refused() {
    let server = Server::start();
    let e = &server.endpoint;
    let src = table_name("src");
    create_table(e, &src, true);
    deploy(e, "f", "", &guest("noop")).expect(201);
    let t = create_trigger(
        e,
        json!({"FunctionName": "f", "TableName": src, "StartingPosition": "LATEST"}),
    );
    assert_eq!(t["State"], "Creating", "{t}");
    let id = t["UUID"].as_str().expect("UUID").to_owned();
    let function_arn = t["FunctionArn"].as_str().expect("FunctionArn");
    let (prefix, _) = function_arn
        .split_once(":function:")
        .expect("a function ARN");
    assert_eq!(
        t["EventSourceMappingArn"],
        format!("{prefix}:event-source-mapping:{id}"),
        "{t}"
    );
    wait_until("the mapping to be enabled", || {
        trigger(e, &id)["State"] == "Enabled"
    });
    let listed = get(e, "/v1/triggers").expect(200);
    assert_eq!(
        listed["EventSourceMappings"][0]["EventSourceMappingArn"],
        t["EventSourceMappingArn"]
    );

    let disabled = create_trigger(
        e,
        json!({"FunctionName": "f", "TableName": src, "StartingPosition": "LATEST", "Enabled": false}),
    );
    assert_eq!(disabled["State"], "Creating", "{disabled}");
    let disabled_id = disabled["UUID"].as_str().expect("UUID").to_owned();
    wait_until("the disabled mapping to be created", || {
        trigger(e, &disabled_id)["State"] == "Disabled"
    });

    let stream_arn = t["EventSourceArn"].as_str().expect("EventSourceArn");
    let body = send_json(
        e,
        "POST",
        "/v1/triggers",
        &json!({
            "FunctionName": "f", "EventSourceArn": stream_arn,
            "StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 1_700_000_000,
        }),
    )
    .expect_error(
        400,
        Some("StartingPosition"),
        &format!("Unsupported starting position for arn type: {stream_arn}"),
    );
    assert_eq!(
        body["error"]["code"], "InvalidParameterValueException",
        "{body}"
    );
    assert_eq!(
        get(e, "/v1/triggers").expect(200)["EventSourceMappings"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "the refused mapping is not saved"
    );
}
