//! Durability: SIGKILL the real server during concurrent writes, restart it on the
//! same data directory, and check that every acknowledged write survived and nothing
//! unacknowledged is half-applied.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue as Av, PutRequest, WriteRequest};

use crate::control::create;
use crate::harness::{Server, table_name};

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
