//! Durability: SIGKILL the real server during concurrent writes, restart it on the
//! same data directory, and check that every acknowledged write survived and nothing
//! unacknowledged is half-applied.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue as Av, PutRequest, WriteRequest};

use crate::control::{create, create_streamed};
use crate::harness::{Server, latest_stream_arn, read_shards, table_name};

/// Concurrent writers during the crash.
const WRITERS: usize = 16;
/// How long writers run before the SIGKILL.
const WRITE_PHASE_MS: u64 = 1500;

#[derive(Default)]
struct Acked {
    /// Single PutItems acknowledged: key -> value of `a`.
    puts: HashMap<String, i64>,
    /// BatchWriteItems acknowledged: batch id.
    batches: Vec<String>,
    /// Highest counter value acknowledged per writer.
    counters: HashMap<usize, i64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_concurrent_writes_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let t = table_name("crash");
    create(&server.client(), &t, false).await;

    let acked = Arc::new(Mutex::new(Acked::default()));
    let deadline = Instant::now() + Duration::from_millis(WRITE_PHASE_MS * 4);
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let c = server.client();
        let t = t.clone();
        let acked = Arc::clone(&acked);
        tasks.push(tokio::spawn(async move {
            let mut i: i64 = 0;
            while Instant::now() < deadline {
                i += 1;
                let result = match i % 3 {
                    0 => {
                        let key = format!("w{w}-{i}");
                        let r = c
                            .put_item()
                            .table_name(&t)
                            .item("pk", Av::S(key.clone()))
                            .item("a", Av::N(i.to_string()))
                            .item("b", Av::N((i * 2).to_string()))
                            .item("c", Av::S(format!("check-{i}")))
                            .send()
                            .await;
                        r.map(|_| acked.lock().unwrap().puts.insert(key, i))
                            .map(|_| ())
                            .map_err(|_| ())
                    }
                    1 => {
                        let batch = format!("g{w}-{i}");
                        let reqs: Vec<_> = (0..25)
                            .map(|j| {
                                WriteRequest::builder()
                                    .put_request(
                                        PutRequest::builder()
                                            .item("pk", Av::S(format!("{batch}-{j}")))
                                            .item("batch", Av::S(batch.clone()))
                                            .build()
                                            .unwrap(),
                                    )
                                    .build()
                            })
                            .collect();
                        let r = c.batch_write_item().request_items(&t, reqs).send().await;
                        r.map(|_| acked.lock().unwrap().batches.push(batch))
                            .map_err(|_| ())
                    }
                    _ => {
                        let r = c
                            .update_item()
                            .table_name(&t)
                            .key("pk", Av::S(format!("counter-{w}")))
                            .update_expression("SET n = :n")
                            .expression_attribute_values(":n", Av::N(i.to_string()))
                            .send()
                            .await;
                        r.map(|_| {
                            acked.lock().unwrap().counters.insert(w, i);
                        })
                        .map_err(|_| ())
                    }
                };
                if result.is_err() {
                    // The server is gone; stop this writer.
                    break;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(WRITE_PHASE_MS)).await;
    server.kill9();
    for t in tasks {
        let _ = t.await;
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(acked.puts.len() > 10, "the writers wrote before the kill");

    let server = Server::start_in(dir.path(), &[]);
    let c = server.client();
    // Read the whole table back.
    let mut items: HashMap<String, HashMap<String, Av>> = HashMap::new();
    let mut start = None;
    loop {
        let out = c
            .scan()
            .table_name(&t)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for i in out.items() {
            items.insert(i["pk"].as_s().unwrap().clone(), i.clone());
        }
        start = out.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    for (key, a) in &acked.puts {
        let item = items
            .get(key)
            .unwrap_or_else(|| panic!("acknowledged put {key} lost"));
        assert_eq!(item["a"], Av::N(a.to_string()));
    }
    for batch in &acked.batches {
        for j in 0..25 {
            assert!(
                items.contains_key(&format!("{batch}-{j}")),
                "acknowledged batch {batch} lost item {j}"
            );
        }
    }
    for (w, n) in &acked.counters {
        let item = items
            .get(&format!("counter-{w}"))
            .expect("acknowledged counter lost");
        let stored: i64 = item["n"].as_n().unwrap().parse().unwrap();
        assert!(
            stored >= *n,
            "counter {w}: stored {stored} < acknowledged {n}"
        );
    }
    // Whatever else survived is whole: every put has all its attributes, consistent,
    // and every batch is complete (a batch commits in one atomic storage batch).
    let mut batch_sizes: HashMap<String, usize> = HashMap::new();
    for (key, item) in &items {
        if let Some(Av::S(b)) = item.get("batch") {
            *batch_sizes.entry(b.clone()).or_default() += 1;
        } else if key.starts_with('w') {
            let a: i64 = item["a"].as_n().unwrap().parse().unwrap();
            assert_eq!(
                item["b"],
                Av::N((a * 2).to_string()),
                "half-applied item {key}"
            );
            assert_eq!(
                item["c"],
                Av::S(format!("check-{a}")),
                "half-applied item {key}"
            );
        }
    }
    for (b, n) in batch_sizes {
        assert_eq!(n, 25, "batch {b} is partly applied");
    }
    let d = c
        .describe_table()
        .table_name(&t)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert_eq!(
        d.item_count(),
        Some(items.len() as i64),
        "item count agrees after restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_keeps_the_stream_and_the_table_in_agreement() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let t = table_name("crashstream");
    let c = server.client();
    create_streamed(&c, &t).await;

    let deadline = Instant::now() + Duration::from_millis(WRITE_PHASE_MS * 4);
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let c = server.client();
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            let mut i: i64 = 0;
            while Instant::now() < deadline {
                i += 1;
                // A small key space, so that the same items are inserted, modified and
                // removed many times from different writers.
                let key = Av::S(format!("k{}", (i * 7 + w as i64) % 40));
                let ok = match i % 4 {
                    0 => c
                        .put_item()
                        .table_name(&t)
                        .item("pk", key)
                        .item("w", Av::N(w.to_string()))
                        .send()
                        .await
                        .is_ok(),
                    1 => c
                        .update_item()
                        .table_name(&t)
                        .key("pk", key)
                        .update_expression("ADD n :one")
                        .expression_attribute_values(":one", Av::N("1".into()))
                        .send()
                        .await
                        .is_ok(),
                    2 => c
                        .delete_item()
                        .table_name(&t)
                        .key("pk", key)
                        .send()
                        .await
                        .is_ok(),
                    _ => {
                        let reqs: Vec<_> = (0..5)
                            .map(|j| {
                                WriteRequest::builder()
                                    .put_request(
                                        PutRequest::builder()
                                            .item("pk", Av::S(format!("b{w}-{i}-{j}")))
                                            .build()
                                            .unwrap(),
                                    )
                                    .build()
                            })
                            .collect();
                        c.batch_write_item()
                            .request_items(&t, reqs)
                            .send()
                            .await
                            .is_ok()
                    }
                };
                if !ok {
                    break;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(WRITE_PHASE_MS)).await;
    server.kill9();
    for task in tasks {
        let _ = task.await;
    }

    let server = Server::start_in(dir.path(), &[]);
    let c = server.client();
    // The stream survives the restart.
    let arn = latest_stream_arn(&c, &t).await;
    let shards = read_shards(&server.streams_client(), &arn).await;
    let mut replayed: HashMap<
        String,
        HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>,
    > = HashMap::new();
    let mut event_ids = std::collections::HashSet::new();
    let mut total = 0;
    for records in &shards {
        let mut last: Option<u128> = None;
        for r in records {
            total += 1;
            assert!(
                event_ids.insert(r.event_id().unwrap().to_string()),
                "duplicate record"
            );
            let d = r.dynamodb().unwrap();
            let seq: u128 = d.sequence_number().unwrap().parse().unwrap();
            assert!(
                last.is_none_or(|l| seq > l),
                "sequence numbers increase per shard"
            );
            last = Some(seq);
            let key = d.keys().unwrap()["pk"].as_s().unwrap().clone();
            match r.event_name().unwrap().as_str() {
                "INSERT" => {
                    assert!(
                        replayed
                            .insert(key, d.new_image().unwrap().clone())
                            .is_none(),
                        "phantom INSERT"
                    );
                }
                "MODIFY" => {
                    let old = replayed.insert(key, d.new_image().unwrap().clone());
                    assert_eq!(
                        old.as_ref(),
                        d.old_image(),
                        "MODIFY's old image is the previous state"
                    );
                }
                "REMOVE" => {
                    let old = replayed.remove(&key);
                    assert_eq!(
                        old.as_ref(),
                        d.old_image(),
                        "REMOVE's old image is the previous state"
                    );
                }
                other => panic!("event {other}"),
            }
        }
    }
    assert!(
        total > 20,
        "the writers wrote before the kill ({total} records)"
    );
    // The table, read back after the restart.
    let mut table: HashMap<String, HashMap<String, Av>> = HashMap::new();
    let mut start = None;
    loop {
        let out = c
            .scan()
            .table_name(&t)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for i in out.items() {
            table.insert(i["pk"].as_s().unwrap().clone(), i.clone());
        }
        start = out.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    assert_eq!(
        replayed.len(),
        table.len(),
        "the stream and the table have the same items"
    );
    for (k, item) in &table {
        let r = &replayed[k];
        assert_eq!(r.len(), item.len(), "item {k}");
        for (name, v) in item {
            let rv = &r[name];
            let same = match (v, rv) {
                (Av::S(a), aws_sdk_dynamodbstreams::types::AttributeValue::S(b)) => a == b,
                (Av::N(a), aws_sdk_dynamodbstreams::types::AttributeValue::N(b)) => a == b,
                _ => false,
            };
            assert!(
                same,
                "item {k} attribute {name}: table {v:?} vs stream {rv:?}"
            );
        }
    }
}
