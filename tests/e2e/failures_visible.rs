//! A failing trigger is visible, within a second, where an operator looks: the
//! server's log at its default level (stderr), `GET /v1/triggers/{id}` and
//! `eddy trigger show` (`RecentErrors`), `eddy function logs --follow`, and `/metrics`
//! (every family with `# HELP` and `# TYPE`, table sizes, and an iterator age that
//! falls to 0 once the trigger has caught up).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::api::{
    WAIT, create_table, create_trigger, ddb, deploy, eddy_ok, get, guest, trigger, wait_delivered,
    wait_for,
};
use crate::harness::{Server, table_name};
use crate::metrics::well_formed;

/// How soon a failure must show, as issue 18 asks.
const VISIBLE_WITHIN: Duration = Duration::from_secs(1);

fn put(endpoint: &str, table: &str, id: &str) {
    ddb(
        endpoint,
        "PutItem",
        json!({"TableName": table, "Item": {"id": {"S": id}}}),
    );
}

fn metrics_text(endpoint: &str) -> String {
    let m = get(endpoint, "/metrics");
    assert_eq!(m.status, 200);
    m.text()
}

/// The value of the sample `series` (name and labels exactly), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().expect("a number"))
}

/// The log lines with `message` of trigger `id`.
fn log_lines(log: &std::sync::Mutex<String>, message: &str, id: &str) -> Vec<String> {
    log.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .lines()
        .filter(|l| l.contains(message) && l.contains(&format!("trigger={id}")))
        .map(str::to_owned)
        .collect()
}

fn recent_errors(shown: &Value) -> Vec<Value> {
    shown["RecentErrors"]
        .as_array()
        .unwrap_or_else(|| panic!("no RecentErrors: {shown}"))
        .clone()
}

#[test]
fn a_failing_trigger_shows_its_error_in_the_log_the_api_the_cli_and_the_metrics_within_a_second() {
    let (server, log) = Server::start_logged(&[], None);
    let e = &server.endpoint;
    let table = table_name("fails");
    create_table(e, &table, true);
    deploy(e, "boom", "", &guest("trap")).expect(201);
    // Two records written before the trigger starts at TRIM_HORIZON make one batch of
    // two, which fails and is bisected; each half fails, is retried once and given up.
    put(e, &table, "a");
    put(e, &table, "b");
    let created = create_trigger(
        e,
        json!({
            "FunctionName": "boom",
            "TableName": table,
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 10,
            "MaximumRetryAttempts": 1,
            "BisectBatchOnFunctionError": true,
        }),
    );
    let id = created["UUID"].as_str().expect("UUID").to_owned();
    let mut follower = Command::new(env!("CARGO_BIN_EXE_eddy"))
        // A backlog larger than the lines this test makes, so that every error is
        // printed whether it came before the first poll or after it.
        .args(["function", "logs", "boom", "--follow", "--limit", "1000"])
        .args(["--endpoint", e])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start eddy function logs --follow");
    let (tx, followed) = mpsc::channel();
    let out = follower.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });

    // The server's log, at the default level.
    let failed = wait_for("the failure in the server's log", VISIBLE_WITHIN, || {
        log_lines(&log, "a trigger's invocation failed", &id)
            .into_iter()
            .next()
            .ok_or_else(String::new)
    });
    for field in [
        " WARN ",
        "function=boom",
        "shard=shardId-",
        "sequence=",
        "attempt=1",
        "error=",
        "trapped",
    ] {
        assert!(failed.contains(field), "{field} in {failed}");
    }
    // The API.
    let first = wait_for("the failure in RecentErrors", VISIBLE_WITHIN, || {
        let shown = trigger(e, &id);
        recent_errors(&shown)
            .into_iter()
            .next()
            .ok_or_else(|| shown.to_string())
    });
    assert_eq!(first["Kind"], "FunctionError", "{first}");
    assert_eq!(first["Attempt"], 1, "{first}");
    assert!(
        first["Error"]
            .as_str()
            .is_some_and(|t| t.contains("trapped")),
        "{first}"
    );
    assert!(
        first["ShardId"]
            .as_str()
            .is_some_and(|s| s.starts_with("shardId-")),
        "{first}"
    );
    let seq = |v: &Value, k: &str| -> u128 {
        v[k].as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{k} in {v}"))
    };
    assert!(
        seq(&first, "FirstSequenceNumber") < seq(&first, "LastSequenceNumber"),
        "the first failure is of the batch of two: {first}"
    );
    let time = first["Time"].as_str().expect("Time");
    assert!(
        time.len() == 24 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
        "RFC 3339 with milliseconds: {time}"
    );
    assert!(
        failed.contains(&format!(
            "sequence={}..{}",
            first["FirstSequenceNumber"].as_str().unwrap_or_default(),
            first["LastSequenceNumber"].as_str().unwrap_or_default()
        )),
        "the log and the API name the same records: {failed} / {first}"
    );
    // The metrics.
    let errors = format!("eddy_trigger_errors_total{{trigger=\"{id}\",function=\"boom\"}}");
    wait_for("the failure in /metrics", VISIBLE_WITHIN, || {
        let text = metrics_text(e);
        match sample(&text, &errors) {
            Some(n) if n >= 1.0 => Ok(()),
            other => Err(format!("{errors} is {other:?}")),
        }
    });

    // Both halves are given up (no failure destination): bisect, retry and give-up
    // are in the log too, and the API keeps the give-ups.
    let shown = wait_for("both halves given up", WAIT, || {
        let shown = trigger(e, &id);
        if shown["Metrics"]["Dropped"] == 2 {
            Ok(shown)
        } else {
            Err(shown["Metrics"].to_string())
        }
    });
    let kinds: Vec<&str> = shown["RecentErrors"]
        .as_array()
        .expect("RecentErrors")
        .iter()
        .filter_map(|e| e["Kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "FunctionError",
            "FunctionError",
            "FunctionError",
            "RetryAttemptsExhausted",
            "FunctionError",
            "FunctionError",
            "RetryAttemptsExhausted",
        ],
        "{shown}"
    );
    assert_eq!(
        log_lines(&log, "bisecting a trigger's failed batch", &id).len(),
        1
    );
    assert_eq!(
        log_lines(&log, "retrying a trigger's failed batch", &id).len(),
        2
    );
    let given_up = log_lines(&log, "a trigger gave up a batch", &id);
    assert_eq!(given_up.len(), 2, "{given_up:?}");
    assert!(
        given_up[0].contains("condition=\"RetryAttemptsExhausted\"")
            || given_up[0].contains("condition=RetryAttemptsExhausted"),
        "{}",
        given_up[0]
    );
    assert!(given_up[0].contains("records=1"), "{}", given_up[0]);
    // `eddy trigger show` prints the same errors.
    let cli = eddy_ok(e, &["trigger", "show", &id]);
    assert_eq!(cli["RecentErrors"], shown["RecentErrors"]);
    // `eddy function logs --follow` printed the failures as they came, once each.
    let mut lines = Vec::new();
    while let Ok(line) = followed.recv_timeout(Duration::from_millis(2_000)) {
        lines.push(line);
        if lines
            .iter()
            .filter(|l| l.contains(&format!("[trigger {id}]")))
            .count()
            == 7
        {
            break;
        }
    }
    let shown_errors: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(&format!("[trigger {id}]")))
        .collect();
    assert_eq!(shown_errors.len(), 7, "{lines:#?}");
    assert!(
        shown_errors[0].contains(&format!(" ERROR [trigger {id}] FunctionError shardId-"))
            && shown_errors[0].contains("attempt 1: trapped"),
        "{}",
        shown_errors[0]
    );
    assert!(
        lines.iter().any(|l| l.contains("] about to panic")),
        "the function's own lines are followed too: {lines:#?}"
    );
    // Ctrl-C ends it, successfully.
    let status = Command::new("kill")
        .args(["-INT", &follower.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let ended = follower.wait().expect("wait");
    assert!(ended.success(), "{ended}");

    // Every family /metrics prints has HELP and TYPE; the table's size is there.
    let text = metrics_text(e);
    well_formed(&text);
    for family in [
        "eddy_trigger_errors_total",
        "eddy_trigger_iterator_age_seconds",
        "eddy_schedule_invocations_total",
        "eddy_dynamodb_table_items",
        "eddy_dynamodb_table_size_bytes",
    ] {
        assert!(
            text.contains(&format!("# HELP {family} ")),
            "{family} in:\n{text}"
        );
    }
    assert_eq!(
        sample(
            &text,
            &format!("eddy_dynamodb_table_items{{table=\"{table}\",index=\"\"}}")
        ),
        Some(2.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            &format!("eddy_dynamodb_table_size_bytes{{table=\"{table}\",index=\"\"}}")
        )
        .is_some_and(|b| b > 0.0),
        "{text}"
    );
}

#[test]
fn the_iterator_age_is_zero_once_a_trigger_has_caught_up() {
    // With the audit log on, so that its families are among those checked at the end.
    let audit = tempfile::tempdir().expect("temp dir");
    let audit_log = audit.path().join("audit.jsonl");
    let server = Server::start_with(&["--audit-log", audit_log.to_str().expect("UTF-8")]);
    let e = &server.endpoint;
    let table = table_name("caught-up");
    create_table(e, &table, true);
    deploy(e, "noop", "", &guest("noop")).expect(201);
    put(e, &table, "old");
    // The record is over a second old when it is delivered, so its age shows.
    std::thread::sleep(Duration::from_millis(1_200));
    let created = create_trigger(
        e,
        json!({"FunctionName": "noop", "TableName": table, "StartingPosition": "TRIM_HORIZON"}),
    );
    let id = created["UUID"].as_str().expect("UUID").to_owned();
    wait_delivered(e, &id, 1, WAIT);
    let age = format!("eddy_trigger_iterator_age_seconds{{trigger=\"{id}\",function=\"noop\"}}");
    wait_for("the iterator age to fall to 0", VISIBLE_WITHIN, || {
        let text = metrics_text(e);
        match sample(&text, &age) {
            Some(0.0) => Ok(()),
            other => Err(format!("{age} is {other:?}")),
        }
    });
    assert_eq!(trigger(e, &id)["Metrics"]["IteratorAgeMilliseconds"], 0.0);
    // Every family the endpoint prints, the server's and the audit log's included,
    // has HELP and TYPE.
    let text = metrics_text(e);
    well_formed(&text);
    for family in [
        "eddy_uptime_seconds",
        "eddy_audit_lines_written_total",
        "eddy_trigger_iterator_age_seconds",
        "eddy_dynamodb_table_request_duration_seconds",
    ] {
        assert!(
            text.contains(&format!("# HELP {family} ")),
            "{family} in:\n{text}"
        );
    }
}

#[test]
fn a_function_writing_to_a_missing_table_is_logged_until_a_retry_succeeds() {
    let (server, log) = Server::start_logged(&[], None);
    let e = &server.endpoint;
    let (table, seen) = (table_name("source"), table_name("seen-later"));
    create_table(e, &table, true);
    // The recorder writes what it sees into `seen`, which does not exist yet.
    deploy(
        e,
        "recorder",
        &format!("?table={seen}&env=table={seen}"),
        &guest("recorder"),
    )
    .expect(201);
    let created = create_trigger(
        e,
        json!({"FunctionName": "recorder", "TableName": table, "StartingPosition": "TRIM_HORIZON"}),
    );
    let id = created["UUID"].as_str().expect("UUID").to_owned();
    put(e, &table, "k1");
    let failed = wait_for("the first failure in the log", VISIBLE_WITHIN, || {
        log_lines(&log, "a trigger's invocation failed", &id)
            .into_iter()
            .next()
            .ok_or_else(String::new)
    });
    assert!(failed.contains("function=recorder"), "{failed}");
    assert!(
        failed.contains("ResourceNotFoundException"),
        "the function's error: {failed}"
    );
    wait_for("a second attempt", WAIT, || {
        let lines = log_lines(&log, "a trigger's invocation failed", &id);
        if lines.iter().any(|l| l.contains("attempt=2")) {
            Ok(())
        } else {
            Err(format!("{lines:?}"))
        }
    });
    let shown = trigger(e, &id);
    let errors = recent_errors(&shown);
    assert!(
        errors.iter().all(|x| x["Kind"] == "FunctionError"
            && x["Error"]
                .as_str()
                .is_some_and(|t| t.contains("ResourceNotFoundException"))),
        "{shown}"
    );
    // Once the table exists a retry succeeds, and the log says so (INFO, by default).
    create_table(e, &seen, false);
    let recovered = wait_for("the successful retry in the log", WAIT, || {
        log_lines(&log, "a trigger's batch succeeded on retry", &id)
            .into_iter()
            .next()
            .ok_or_else(String::new)
    });
    assert!(recovered.contains(" INFO "), "{recovered}");
    assert!(recovered.contains("function=recorder"), "{recovered}");
    let attempts = log_lines(&log, "a trigger's invocation failed", &id).len();
    assert!(
        recovered.contains(&format!("attempt={}", attempts + 1)),
        "the successful attempt follows the {attempts} failed ones: {recovered}"
    );
    let shown = wait_delivered(e, &id, 1, WAIT);
    assert_eq!(shown["LastProcessingResult"], "OK", "{shown}");
}

#[test]
fn a_batch_sent_to_the_failure_destination_is_logged_and_kept() {
    let (server, log) = Server::start_logged(&[], None);
    let e = &server.endpoint;
    let (table, dlq) = (table_name("poison"), table_name("dlq"));
    create_table(e, &table, true);
    create_table(e, &dlq, false);
    let dlq_arn = ddb(e, "DescribeTable", json!({"TableName": dlq}))["Table"]["TableArn"]
        .as_str()
        .expect("TableArn")
        .to_owned();
    deploy(e, "boom", "", &guest("trap")).expect(201);
    let created = create_trigger(
        e,
        json!({
            "FunctionName": "boom",
            "TableName": table,
            "StartingPosition": "TRIM_HORIZON",
            "MaximumRetryAttempts": 0,
            "DestinationConfig": {"OnFailure": {"Destination": dlq_arn}},
        }),
    );
    let id = created["UUID"].as_str().expect("UUID").to_owned();
    put(e, &table, "poison");
    let sent = wait_for("the send in the log", VISIBLE_WITHIN, || {
        log_lines(&log, "a trigger gave up a batch", &id)
            .into_iter()
            .next()
            .ok_or_else(String::new)
    });
    assert!(
        sent.contains(&format!("batch sent to {dlq}")) && sent.contains("records=1"),
        "{sent}"
    );
    let shown = trigger(e, &id);
    let last = recent_errors(&shown).pop().expect("an error");
    assert_eq!(last["Kind"], "RetryAttemptsExhausted", "{shown}");
    assert_eq!(
        last["Error"],
        format!("RetryAttemptsExhausted: batch sent to {dlq}"),
        "{shown}"
    );
    assert_eq!(last["FirstSequenceNumber"], last["LastSequenceNumber"]);
    assert_eq!(shown["Metrics"]["SentToFailureDestination"], 1, "{shown}");
}

#[test]
fn every_dynamodb_request_is_a_debug_line() {
    let (server, log) = Server::start_logged(&[], Some("warn,eddy=debug"));
    let e = &server.endpoint;
    let table = table_name("debugged");
    create_table(e, &table, false);
    put(e, &table, "k1");
    let line = wait_for("the PutItem line", VISIBLE_WITHIN, || {
        log.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .lines()
            .find(|l| l.contains("DynamoDB request") && l.contains("PutItem"))
            .map(str::to_owned)
            .ok_or_else(String::new)
    });
    for field in [
        " DEBUG ",
        "operation=\"PutItem\"",
        &format!("table={table}"),
        "status=200",
        "outcome=\"ok\"",
        "duration_ms=",
    ] {
        assert!(line.contains(field), "{field} in {line}");
    }
    // At the default level there is no such line.
    let (quiet, quiet_log) = Server::start_logged(&[], None);
    create_table(&quiet.endpoint, &table, false);
    put(&quiet.endpoint, &table, "k1");
    std::thread::sleep(Duration::from_millis(200));
    let all = quiet_log
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    assert!(!all.contains("DynamoDB request"), "{all}");
}

/// A trigger whose function was deleted shows why its batches go nowhere: a
/// `FunctionNotReached` entry in `RecentErrors` naming the function, and a log line,
/// instead of only a `LastProcessingResult` string.
#[test]
fn a_trigger_whose_function_is_gone_says_so_in_recent_errors_and_the_log() {
    let (server, log) = Server::start_logged(&[], None);
    let e = &server.endpoint;
    let table = table_name("orphan");
    create_table(e, &table, true);
    deploy(e, "gone", "", &guest("noop")).expect(201);
    let created = create_trigger(
        e,
        json!({"FunctionName": "gone", "TableName": table, "StartingPosition": "TRIM_HORIZON"}),
    );
    let id = created["UUID"].as_str().expect("UUID").to_owned();
    eddy_ok(e, &["function", "delete", "gone"]);
    put(e, &table, "a");
    let entry = wait_for("the unreached function in RecentErrors", WAIT, || {
        let shown = trigger(e, &id);
        recent_errors(&shown)
            .into_iter()
            .find(|r| r["Kind"] == "FunctionNotReached")
            .ok_or_else(|| shown.to_string())
    });
    assert_eq!(entry["Error"], "function gone is not deployed", "{entry}");
    assert_eq!(entry["Attempt"], 1, "{entry}");
    let lines = log_lines(&log, "a trigger's batch did not reach its function", &id);
    assert!(
        lines.iter().any(|l| l.contains("function=gone")),
        "{lines:?}"
    );
}
