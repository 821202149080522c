//! Triggers on a remote DynamoDB Streams endpoint: two real Eddy processes, one standing
//! in for AWS (the "remote", with the source table and its stream, four shards) and
//! one running the trigger (the "local", `SourceEndpoint` naming the remote). The remote
//! also runs an ordinary local trigger on the same table, so the test compares what the
//! two deliver: the same records (eventIDs, names, keys, images, sequence numbers). The
//! local Eddy is restarted mid-way (it resumes from its checkpoint; duplicates only at
//! the boundary, counted), and the remote goes away (a PROBLEM naming the endpoint) and
//! comes back on the same port (delivery resumes); last the local Eddy is SIGKILLed
//! while it delivers (nothing is missing after its restart; what comes again is counted).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::api::{
    create_table, create_trigger, ddb, deploy, eddy_ok, get, guest, send_json, trigger, wait_until,
};
use crate::harness::{Server, table_name};

/// Shards of the remote's tables: more than one, so that each shard's order is kept
/// on its own and the mirror reads several.
const REMOTE_TABLE_SHARDS: &str = "4";

fn deploy_recorder(endpoint: &str, seen: &str) {
    crate::triggers::deploy_recorder(endpoint, "recorder", seen);
}

/// The recorder's items: eventID → the whole item (name, sequence number, keys, image).
fn seen(endpoint: &str, table: &str) -> BTreeMap<String, Value> {
    let out = ddb(endpoint, "Scan", json!({"TableName": table}));
    assert!(
        out.get("LastEvaluatedKey").is_none(),
        "the test tables stay small"
    );
    out["Items"]
        .as_array()
        .expect("Items")
        .iter()
        .map(|item| {
            (
                item["id"]["S"].as_str().expect("id").to_owned(),
                item.clone(),
            )
        })
        .collect()
}

/// The eventIDs the recorder logged, in delivery order (duplicates included).
fn delivered(endpoint: &str) -> Vec<String> {
    get(endpoint, "/v1/functions/recorder/logs?limit=10000").expect(200)["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .filter(|l| l["message"] == "recorded")
        .map(|l| l["fields"]["eventID"].as_str().expect("eventID").to_owned())
        .collect()
}

/// Three writes per key: an INSERT, a MODIFY and a REMOVE.
fn write_round(endpoint: &str, table: &str, prefix: &str, keys: usize) {
    for i in 0..keys {
        let id = format!("{prefix}-{i}");
        let item = json!({"id": {"S": id}, "v": {"N": i.to_string()}});
        ddb(
            endpoint,
            "PutItem",
            json!({"TableName": table, "Item": item}),
        );
        ddb(
            endpoint,
            "UpdateItem",
            json!({
                "TableName": table,
                "Key": {"id": {"S": id}},
                "UpdateExpression": "SET v = :v",
                "ExpressionAttributeValues": {":v": {"N": (i + 100).to_string()}},
            }),
        );
        ddb(
            endpoint,
            "DeleteItem",
            json!({"TableName": table, "Key": {"id": {"S": id}}}),
        );
    }
}

fn wait_seen(endpoint: &str, table: &str, count: usize) -> BTreeMap<String, Value> {
    let mut last = BTreeMap::new();
    wait_until(&format!("{count} records in {table}"), || {
        last = seen(endpoint, table);
        last.len() >= count
    });
    assert_eq!(last.len(), count, "more records than written: {last:?}");
    last
}

fn port_of(endpoint: &str) -> &str {
    endpoint.rsplit(':').next().expect("a port")
}

#[test]
fn a_remote_stream_trigger_delivers_what_a_local_trigger_does_across_restarts_and_outages() {
    let remote_dir = tempfile::tempdir().expect("temp dir");
    let remote = Server::start_in(remote_dir.path(), &["--table-shards", REMOTE_TABLE_SHARDS]);
    let r = remote.endpoint.clone();
    let local_dir = tempfile::tempdir().expect("temp dir");
    let local = Server::start_in(local_dir.path(), &[]);
    let l = local.endpoint.clone();

    let (src, seen_table) = (table_name("src"), table_name("seen"));
    create_table(&r, &src, true);
    let arn = ddb(&r, "DescribeTable", json!({"TableName": src}))["Table"]["LatestStreamArn"]
        .as_str()
        .expect("LatestStreamArn")
        .to_owned();
    // The reference: an ordinary trigger on the remote's own table.
    create_table(&r, &seen_table, false);
    deploy_recorder(&r, &seen_table);
    create_trigger(
        &r,
        json!({"FunctionName": "recorder", "TableName": src, "StartingPosition": "TRIM_HORIZON", "BatchSize": 7}),
    );
    // The subject: a trigger on the local Eddy reading the remote's stream.
    create_table(&l, &seen_table, false);
    deploy_recorder(&l, &seen_table);
    let t = create_trigger(
        &l,
        json!({
            "FunctionName": "recorder", "EventSourceArn": arn, "SourceEndpoint": r,
            "StartingPosition": "TRIM_HORIZON", "BatchSize": 7,
        }),
    );
    let id = t["UUID"].as_str().expect("UUID").to_owned();
    assert_eq!(t["EventSourceArn"], arn, "{t}");
    assert_eq!(t["SourceEndpoint"], r, "{t}");

    write_round(&r, &src, "a", 10);
    let first = wait_seen(&l, &seen_table, 30);
    wait_until("the first 30 deliveries logged", || {
        delivered(&l).len() >= 30
    });

    // The local Eddy restarts; what is written meanwhile is delivered after it.
    assert!(local.terminate().success(), "clean exit on SIGTERM");
    write_round(&r, &src, "b", 10);
    let local = Server::start_in(local_dir.path(), &[]);
    let l = local.endpoint.clone();
    write_round(&r, &src, "c", 10);
    wait_seen(&l, &seen_table, 90);

    // The remote goes away: the trigger shows a PROBLEM naming the endpoint…
    assert!(remote.terminate().success(), "clean exit on SIGTERM");
    wait_until("a PROBLEM naming the unreachable remote", || {
        let t = trigger(&l, &id);
        t["LastProcessingResult"].as_str().is_some_and(|s| {
            s.starts_with("PROBLEM: cannot read the remote stream at") && s.contains(&r)
        })
    });
    let t = trigger(&l, &id);
    let errors = t["RecentErrors"].as_array().expect("RecentErrors");
    assert!(
        errors.iter().any(|e| e["Kind"] == "SourceUnreachable"
            && e["Error"].as_str().is_some_and(|m| m.contains(&r))),
        "{t}"
    );
    // …and recovers when it returns on the same address.
    let remote = Server::start_listening(
        remote_dir.path(),
        &format!("127.0.0.1:{}", port_of(&r)),
        &["--table-shards", REMOTE_TABLE_SHARDS],
    );
    assert_eq!(remote.endpoint, r);
    write_round(&r, &src, "d", 10);
    wait_seen(&l, &seen_table, 120);
    // The local Eddy is killed (SIGKILL) while it delivers: the mirror's records and
    // remote position were committed together, so after the restart nothing is missing.
    let before_kill = delivered(&l).len();
    write_round(&r, &src, "e", 10);
    local.kill9();
    let local = Server::start_in(local_dir.path(), &[]);
    let l = local.endpoint.clone();
    write_round(&r, &src, "f", 10);
    let all = wait_seen(&l, &seen_table, 180);
    let reference = wait_seen(&r, &seen_table, 180);

    // The same records as the local trigger: eventIDs, names, sequence numbers, keys,
    // images.
    assert_eq!(all, reference);
    assert!(first.keys().all(|k| all.contains_key(k)));
    // Per item, in order: INSERT, MODIFY, REMOVE by sequence number.
    let mut by_key: BTreeMap<String, Vec<(u128, String)>> = BTreeMap::new();
    for item in all.values() {
        let key = item["keys"]["M"]["id"]["S"]
            .as_str()
            .expect("key")
            .to_owned();
        let seq = item["sequenceNumber"]["S"]
            .as_str()
            .expect("seq")
            .parse()
            .expect("a number");
        let name = item["eventName"]["S"].as_str().expect("name").to_owned();
        by_key.entry(key).or_default().push((seq, name));
    }
    assert_eq!(by_key.len(), 60);
    for (k, mut records) in by_key {
        records.sort();
        let names: Vec<&str> = records.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(names, ["INSERT", "MODIFY", "REMOVE"], "{k}");
    }
    // Delivered in order per item, each at least once; duplicates only from the
    // restart's boundary, counted and reported.
    let log = delivered(&l);
    let (graceful, after_kill) = log.split_at(before_kill);
    let unique: BTreeSet<&String> = graceful.iter().collect();
    assert_eq!(unique.len(), 120);
    let duplicates = graceful.len() - unique.len();
    let unique_after: BTreeSet<&String> = after_kill.iter().collect();
    assert!(
        unique_after.len() == after_kill.len(),
        "each record at most once after the SIGKILL"
    );
    let again = unique_after.intersection(&unique).count();
    println!(
        "remote source after SIGKILL: {} deliveries, {again} delivered before the kill too",
        after_kill.len()
    );
    println!(
        "remote source until the SIGKILL: {} deliveries, {duplicates} duplicates",
        graceful.len()
    );
    assert!(
        duplicates <= 7,
        "at most one batch again after a clean restart: {duplicates}"
    );
    // Per item in sequence order within each process's deliveries (after the SIGKILL
    // the tail before it may come again, from its start).
    for part in [graceful, after_kill] {
        let mut last_seq: BTreeMap<String, u128> = BTreeMap::new();
        for event_id in part {
            let item = &all[event_id];
            let key = item["keys"]["M"]["id"]["S"]
                .as_str()
                .expect("key")
                .to_owned();
            let seq: u128 = item["sequenceNumber"]["S"]
                .as_str()
                .expect("seq")
                .parse()
                .expect("a number");
            let before = last_seq.insert(key.clone(), seq);
            assert!(
                before.is_none_or(|b| b < seq),
                "{key} delivered out of order"
            );
        }
    }
    let t = trigger(&l, &id);
    assert_eq!(t["State"], "Enabled", "{t}");
    assert!(
        !t["LastProcessingResult"]
            .as_str()
            .unwrap_or("")
            .starts_with("PROBLEM"),
        "{t}"
    );
}

#[test]
fn a_remote_source_is_created_through_lambdas_api_and_the_cli_and_bad_endpoints_are_refused() {
    let remote = Server::start();
    let r = remote.endpoint.clone();
    let local = Server::start();
    let l = local.endpoint.clone();
    let src = table_name("src");
    create_table(&r, &src, true);
    let arn = ddb(&r, "DescribeTable", json!({"TableName": src}))["Table"]["LatestStreamArn"]
        .as_str()
        .expect("LatestStreamArn")
        .to_owned();
    deploy(&l, "noop", "", &guest("noop")).expect(201);

    // Lambda's CreateEventSourceMapping, with Eddy's member.
    let body = json!({
        "FunctionName": "noop", "EventSourceArn": arn, "SourceEndpoint": r,
        "StartingPosition": "LATEST",
    });
    let m = send_json(&l, "POST", "/2015-03-31/event-source-mappings/", &body).expect(202);
    assert_eq!(m["EventSourceArn"], arn, "{m}");
    assert_eq!(m["SourceEndpoint"], r, "{m}");

    // `eddy trigger create --stream-arn … --source-endpoint …`.
    let t = eddy_ok(
        &l,
        &[
            "trigger",
            "create",
            "--function",
            "noop",
            "--stream-arn",
            &arn,
            "--source-endpoint",
            &r,
        ],
    );
    assert_eq!(t["SourceEndpoint"], r, "{t}");
    assert_eq!(t["StartingPosition"], "LATEST", "{t}");

    // An endpoint that is not a URL, and one where nothing answers, are refused before
    // anything is stored.
    let with_endpoint = |endpoint: &str| {
        let mut b = body.clone();
        b["SourceEndpoint"] = json!(endpoint);
        send_json(&l, "POST", "/v1/triggers", &b)
    };
    with_endpoint("ftp://example.com").expect_error(
        400,
        Some("SourceEndpoint"),
        "must start with http:// or https://",
    );
    with_endpoint("http://127.0.0.1:1").expect_error(
        400,
        Some("EventSourceArn"),
        &format!("cannot describe the stream {arn} at http://127.0.0.1:1"),
    );
    let listed = get(&l, "/v1/triggers").expect(200);
    assert_eq!(
        listed["EventSourceMappings"].as_array().map(Vec::len),
        Some(2),
        "{listed}"
    );
}

/// A manifest's `[[trigger]]` may name a stream on another endpoint (`stream_arn`,
/// `source_endpoint`): `eddy apply` creates that trigger, its records are delivered,
/// and a second apply finds it by its ARN and changes nothing.
#[test]
fn eddy_apply_makes_a_remote_stream_trigger_once() {
    let remote = Server::start();
    let local = Server::start();
    let (r, l) = (remote.endpoint.clone(), local.endpoint.clone());
    let (src, seen_table) = (table_name("applied-src"), table_name("applied-seen"));
    create_table(&r, &src, true);
    create_table(&l, &seen_table, false);
    deploy_recorder(&l, &seen_table);
    let arn = ddb(&r, "DescribeTable", json!({"TableName": src}))["Table"]["LatestStreamArn"]
        .as_str()
        .expect("LatestStreamArn")
        .to_owned();
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = dir.path().join("eddy.toml");
    std::fs::write(
        &manifest,
        format!(
            "[[trigger]]\nfunction = \"recorder\"\nstream_arn = \"{arn}\"\n\
             source_endpoint = \"{r}\"\nstarting_position = \"TRIM_HORIZON\"\nbatch_size = 5\n"
        ),
    )
    .expect("write eddy.toml");
    let apply = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_eddy"))
            .args(["apply", manifest.to_str().expect("utf-8"), "--endpoint", &l])
            .output()
            .expect("run eddy apply");
        assert!(
            out.status.success(),
            "eddy apply: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = apply();
    assert!(
        first.starts_with(&format!("created trigger recorder on stream {arn} (")),
        "{first}"
    );
    ddb(
        &r,
        "PutItem",
        json!({"TableName": src, "Item": {"id": {"S": "a"}}}),
    );
    wait_until("the remote record delivered", || {
        !seen(&l, &seen_table).is_empty()
    });
    assert_eq!(apply(), "no changes\n");
}
