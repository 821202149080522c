//! What trigger workers do is visible on Eddy (`eddy serve --nats … --trigger-workers`):
//! a failing function's error and the counters reach Eddy's `/v1/triggers`, the Lambda
//! API's view and `/metrics` through the workers' status bucket, and the counters never
//! go down when a worker is SIGKILLed and another takes its lanes. Also the semantics
//! proven here through a worker rather than in-process: `BisectBatchOnFunctionError`,
//! a partial batch response (`ReportBatchItemFailures`), and a SIGTERM that hands a
//! worker's lanes over at once.
//!
//! Every wait polls against a deadline; nats-server and the workers are started only
//! by these tests.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api::{create_table, create_trigger, ddb, deploy, get, guest, trigger, wait_for};
use crate::export::Nats;
use crate::harness::table_name;
use crate::workers::{DELIVERY_TIMEOUT, Worker, eddy_for_workers, lease_owners, put, scan_all};

/// The lease TTL of the SIGTERM test: long, so that a handover at once (well within
/// it) is told apart from a takeover after expiry (which takes at least the TTL).
const LONG_LEASE_TTL_MS: u64 = 10_000;

fn metric(t: &Value, name: &str) -> u64 {
    t["Metrics"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("no metric {name}: {t}"))
}

/// The value of the sample `series` (name and labels exactly) on `/metrics`, if any.
fn sample(endpoint: &str, series: &str) -> Option<f64> {
    get(endpoint, "/metrics")
        .text()
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Waits until the export has every record of `table` in JetStream, so that a worker
/// started next reads them all in its first batch.
fn wait_exported(endpoint: &str, table: &str) {
    let series = format!("eddy_export_pending_records{{table=\"{table}\"}}");
    wait_for("the records exported", DELIVERY_TIMEOUT, || {
        match sample(endpoint, &series) {
            Some(0.0) => Ok(()),
            p => Err(format!("{p:?} pending")),
        }
    });
}

/// The mapping as Lambda's GetEventSourceMapping shows it.
fn lambda_mapping(endpoint: &str, id: &str) -> Value {
    get(endpoint, &format!("/2015-03-31/event-source-mappings/{id}")).expect(200)
}

/// The failure records in `dlq`, each with its `DDBStreamBatchInfo`.
fn failure_batches(endpoint: &str, dlq: &str) -> Vec<Value> {
    scan_all(endpoint, dlq)
        .iter()
        .map(|item| {
            serde_json::from_str::<Value>(item["context"]["S"].as_str().unwrap_or("{}"))
                .unwrap_or_default()["DDBStreamBatchInfo"]
                .clone()
        })
        .collect()
}

fn batch_size(info: &Value) -> u64 {
    info["batchSize"].as_u64().unwrap_or(0)
}

/// A batch that fails is bisected by the worker (each half given up on its own, as
/// `BisectBatchOnFunctionError` asks), and Eddy shows what the worker did: the error in
/// `RecentErrors` and `LastProcessingResult` (on `/v1/triggers` and Lambda's
/// GetEventSourceMapping), and the counters on `/v1/triggers` and `/metrics`.
#[test]
fn a_worker_bisects_a_failing_batch_and_eddy_shows_its_errors_and_counters() {
    let nats = Nats::start();
    let server = eddy_for_workers(&nats, "1");
    let e = &server.endpoint;
    let (src, dlq) = (table_name("wbsrc"), table_name("wbdlq"));
    create_table(e, &src, true);
    create_table(e, &dlq, false);
    deploy(e, "wbisect", "?env=mode=error", &guest("fail_on")).expect(201);
    // Both records are written before any worker runs, so the first batch has both.
    put(e, &src, "a", 1, "keep");
    put(e, &src, "b", 1, "keep");
    let created = create_trigger(
        e,
        json!({
            "FunctionName": "wbisect",
            "TableName": src,
            "StartingPosition": "TRIM_HORIZON",
            // The worker's cursor may hand the records over one by one as JetStream
            // pushes them: a batch of exactly the records written, with the longest
            // window, is invoked once both are there (a window counts from the
            // oldest record's commit, long past on a loaded machine).
            "BatchSize": 2,
            "MaximumBatchingWindowInSeconds": 300,
            "MaximumRetryAttempts": 0,
            "BisectBatchOnFunctionError": true,
            "DestinationConfig": {"OnFailure": {"Destination": dlq}},
        }),
    );
    let id = created["UUID"].as_str().expect("UUID").to_owned();
    wait_exported(e, &src);
    // Before any worker ran it, Eddy shows nothing done.
    assert_eq!(metric(&trigger(e, &id), "Invocations"), 0);
    let mut worker = Worker::start(&nats.url(), e);
    let batches = wait_for("both halves given up", DELIVERY_TIMEOUT, || {
        worker.assert_running();
        let b = failure_batches(e, &dlq);
        if b.iter().map(batch_size).sum::<u64>() >= 2 {
            Ok(b)
        } else {
            Err(format!("{b:?}"))
        }
    });
    // Bisected: two batches of one, not one of two.
    assert_eq!(batches.len(), 2, "{batches:?}");
    assert!(batches.iter().all(|b| batch_size(b) == 1), "{batches:?}");

    // The whole batch and each half failed once: three invocations, three errors, two
    // records sent to the failure destination, all counted on Eddy.
    let shown = wait_for("the worker's counts on Eddy", DELIVERY_TIMEOUT, || {
        let t = trigger(e, &id);
        if metric(&t, "SentToFailureDestination") == 2 && metric(&t, "Invocations") == 3 {
            Ok(t)
        } else {
            Err(t.to_string())
        }
    });
    assert_eq!(metric(&shown, "Errors"), 3, "{shown}");
    let errors = shown["RecentErrors"].as_array().expect("RecentErrors");
    let failed: Vec<&Value> = errors
        .iter()
        .filter(|r| r["Kind"] == "FunctionError")
        .collect();
    assert_eq!(failed.len(), 3, "{shown}");
    assert!(
        failed.iter().all(|r| r["Error"]
            .as_str()
            .is_some_and(|t| t.contains("fail-on: mode=error"))),
        "{shown}"
    );
    assert!(
        errors.iter().any(|r| r["Kind"] == "RetryAttemptsExhausted"),
        "{shown}"
    );
    let result = shown["LastProcessingResult"].as_str().expect("result");
    assert!(result.starts_with("PROBLEM"), "{result}");
    // Lambda's view of the mapping says the same.
    let lambda = lambda_mapping(e, &id);
    assert_eq!(lambda["LastProcessingResult"], result, "{lambda}");
    let listed = get(e, "/2015-03-31/event-source-mappings/?FunctionName=wbisect").expect(200);
    assert_eq!(
        listed["EventSourceMappings"][0]["LastProcessingResult"], result,
        "{listed}"
    );
    // And /metrics.
    let labels = format!("{{trigger=\"{id}\",function=\"wbisect\"}}");
    wait_for("the counts on /metrics", DELIVERY_TIMEOUT, || {
        let invocations = sample(e, &format!("eddy_trigger_invocations_total{labels}"));
        let sent = sample(
            e,
            &format!("eddy_trigger_sent_to_failure_destination_total{labels}"),
        );
        if invocations == Some(3.0) && sent == Some(2.0) {
            Ok(())
        } else {
            Err(format!("{invocations:?} {sent:?}"))
        }
    });
}

/// A partial batch response through a worker: the records before the first reported
/// failure are handled, the batch is retried from the failed record, and when the
/// retries run out only the failed record and those after it go to the failure
/// destination.
#[test]
fn a_worker_retries_a_partial_batch_from_the_first_failed_record() {
    let nats = Nats::start();
    let server = eddy_for_workers(&nats, "1");
    let e = &server.endpoint;
    let (src, dlq) = (table_name("wpsrc"), table_name("wpdlq"));
    create_table(e, &src, true);
    create_table(e, &dlq, false);
    deploy(e, "wpartial", "", &guest("fail_on")).expect(201);
    let item = |id: &str, fail: bool| {
        ddb(
            e,
            "PutItem",
            json!({"TableName": src, "Item": {"id": {"S": id}, "fail": {"BOOL": fail}}}),
        );
    };
    // One batch of three, written before any worker runs: the second is poison.
    item("ok1", false);
    item("poison", true);
    item("ok2", false);
    let created = create_trigger(
        e,
        json!({
            "FunctionName": "wpartial",
            "TableName": src,
            "StartingPosition": "TRIM_HORIZON",
            // One batch of the three records (see the bisect test).
            "BatchSize": 3,
            "MaximumBatchingWindowInSeconds": 300,
            "MaximumRetryAttempts": 0,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "DestinationConfig": {"OnFailure": {"Destination": dlq}},
        }),
    );
    let id = created["UUID"].as_str().expect("UUID").to_owned();
    wait_exported(e, &src);
    let mut worker = Worker::start(&nats.url(), e);
    let batches = wait_for("the failed part given up", DELIVERY_TIMEOUT, || {
        worker.assert_running();
        let b = failure_batches(e, &dlq);
        if b.is_empty() {
            Err(String::new())
        } else {
            Ok(b)
        }
    });
    // The stream's records in order: ok1, poison, ok2.
    let seqs = sequence_numbers(e, &src);
    assert_eq!(seqs.len(), 3, "{seqs:?}");
    assert_eq!(batches.len(), 1, "{batches:?}");
    // From the poison record on: ok1 was handled by the first invocation.
    assert_eq!(batch_size(&batches[0]), 2, "{batches:?}");
    assert_eq!(
        batches[0]["startSequenceNumber"].as_str(),
        Some(seqs[1].as_str()),
        "{batches:?}"
    );
    assert_eq!(
        batches[0]["endSequenceNumber"].as_str(),
        Some(seqs[2].as_str()),
        "{batches:?}"
    );
    // Two invocations: the batch of three, then the retry of the last two.
    let shown = wait_for("the worker's counts on Eddy", DELIVERY_TIMEOUT, || {
        let t = trigger(e, &id);
        if metric(&t, "SentToFailureDestination") == 2 {
            Ok(t)
        } else {
            Err(t.to_string())
        }
    });
    assert_eq!(metric(&shown, "Invocations"), 2, "{shown}");
    assert_eq!(metric(&shown, "Retries"), 1, "{shown}");
}

/// The `SequenceNumber`s of `table`'s one-shard stream, in stream order.
fn sequence_numbers(endpoint: &str, table: &str) -> Vec<String> {
    let arn =
        ddb(endpoint, "DescribeTable", json!({ "TableName": table }))["Table"]["LatestStreamArn"]
            .as_str()
            .expect("a stream")
            .to_owned();
    let desc = crate::api::streams(endpoint, "DescribeStream", json!({ "StreamArn": arn }));
    let shard = desc["StreamDescription"]["Shards"][0]["ShardId"].clone();
    let it = crate::api::streams(
        endpoint,
        "GetShardIterator",
        json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
    )["ShardIterator"]
        .clone();
    crate::api::streams(endpoint, "GetRecords", json!({ "ShardIterator": it }))["Records"]
        .as_array()
        .expect("Records")
        .iter()
        .filter_map(|r| r["dynamodb"]["SequenceNumber"].as_str().map(str::to_owned))
        .collect()
}

/// Writes `count` items `k<from>`…, one PutItem each.
fn write(endpoint: &str, table: &str, from: u64, count: u64) {
    for k in from..from + count {
        put(endpoint, table, &format!("k{k}"), 1, "keep");
    }
}

/// The counters on Eddy never go down while the worker that ran the lane is SIGKILLed
/// and another takes the lane over and goes on counting.
#[test]
fn eddys_counters_never_go_down_through_a_worker_kill_and_a_takeover() {
    let nats = Nats::start();
    let server = eddy_for_workers(&nats, "1");
    let e = &server.endpoint;
    let (src, seen) = (table_name("wmsrc"), table_name("wmseen"));
    create_table(e, &src, true);
    create_table(e, &seen, false);
    deploy(
        e,
        "wmono",
        &format!("?table={seen}&env=table={seen}&env=mode=batches"),
        &guest("recorder"),
    )
    .expect(201);
    let created = create_trigger(
        e,
        json!({
            "FunctionName": "wmono",
            "TableName": src,
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 5,
        }),
    );
    let id = created["UUID"].as_str().expect("UUID").to_owned();
    let mut workers = [Worker::start(&nats.url(), e), Worker::start(&nats.url(), e)];
    const FIRST: u64 = 40;
    write(e, &src, 0, FIRST);
    // The highest counts seen so far on /v1/triggers and on /metrics.
    let mut high = (0u64, 0f64);
    let labels = format!("{{trigger=\"{id}\",function=\"wmono\"}}");
    let mut check = |e: &str| -> u64 {
        let t = trigger(e, &id);
        let delivered = metric(&t, "RecordsDelivered");
        assert!(
            delivered >= high.0,
            "RecordsDelivered went down from {} to {delivered}: {t}",
            high.0
        );
        high.0 = delivered;
        if let Some(m) = sample(e, &format!("eddy_trigger_records_delivered_total{labels}")) {
            assert!(m >= high.1, "/metrics went down from {} to {m}", high.1);
            high.1 = m;
        }
        delivered
    };
    wait_for(
        "the first records counted on Eddy",
        DELIVERY_TIMEOUT,
        || {
            let delivered = check(e);
            if delivered >= FIRST {
                Ok(())
            } else {
                Err(format!("{delivered} delivered"))
            }
        },
    );
    let owner = wait_for("the lane's owner", DELIVERY_TIMEOUT, || {
        lease_owners(&nats.url())
            .into_values()
            .next()
            .ok_or_else(String::new)
    });
    let victim = workers
        .iter()
        .position(|w| w.is(&owner))
        .unwrap_or_else(|| panic!("{owner} is none of the workers"));
    workers[victim].kill9();
    let survivor = 1 - victim;
    const SECOND: u64 = 40;
    write(e, &src, FIRST, SECOND);
    wait_for(
        "the rest counted after the takeover",
        DELIVERY_TIMEOUT,
        || {
            workers[survivor].assert_running();
            let delivered = check(e);
            if delivered >= FIRST + SECOND {
                Ok(())
            } else {
                Err(format!("{delivered} delivered"))
            }
        },
    );
    // The survivor runs the lane now.
    let owner = lease_owners(&nats.url())
        .into_values()
        .next()
        .expect("an owner");
    assert!(workers[survivor].is(&owner), "{owner}");
    // A few more looks: still never down.
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        check(e);
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A worker stopped with SIGTERM gives its leases back as it exits: another worker
/// runs its lane well within one lease TTL, where a killed worker's lane waits for the
/// lease to expire (at least the TTL).
#[test]
fn a_worker_stopped_with_sigterm_hands_its_lanes_over_at_once() {
    let nats = Nats::start();
    let server = eddy_for_workers(&nats, "1");
    let e = &server.endpoint;
    let (src, seen) = (table_name("wtsrc"), table_name("wtseen"));
    create_table(e, &src, true);
    create_table(e, &seen, false);
    deploy(
        e,
        "wterm",
        &format!("?table={seen}&env=table={seen}&env=mode=batches"),
        &guest("recorder"),
    )
    .expect(201);
    create_trigger(
        e,
        json!({
            "FunctionName": "wterm",
            "TableName": src,
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 5,
        }),
    );
    let mut workers = [
        Worker::start_with_ttl(&nats.url(), e, LONG_LEASE_TTL_MS),
        Worker::start_with_ttl(&nats.url(), e, LONG_LEASE_TTL_MS),
    ];
    let owner = wait_for("the lane leased", DELIVERY_TIMEOUT, || {
        lease_owners(&nats.url())
            .into_values()
            .next()
            .ok_or_else(String::new)
    });
    let stopping = workers
        .iter()
        .position(|w| w.is(&owner))
        .unwrap_or_else(|| panic!("{owner} is none of the workers"));
    let other = 1 - stopping;
    let stopped_at = Instant::now();
    workers[stopping].sigterm();
    let taken = wait_for(
        "the other worker to take the lane",
        DELIVERY_TIMEOUT,
        || {
            workers[other].assert_running();
            match lease_owners(&nats.url()).into_values().next() {
                Some(o) if workers[other].is(&o) => Ok(stopped_at.elapsed()),
                o => Err(format!("{o:?}")),
            }
        },
    );
    assert!(
        taken < Duration::from_millis(LONG_LEASE_TTL_MS),
        "the lane was taken over {taken:?} after SIGTERM: no faster than an expiry"
    );
    // And it delivers.
    put(e, &src, "after", 1, "keep");
    wait_for("the new owner to deliver", DELIVERY_TIMEOUT, || {
        workers[other].assert_running();
        if scan_all(e, &seen).is_empty() {
            Err(String::new())
        } else {
            Ok(())
        }
    });
}
