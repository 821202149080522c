//! The materialized-view pipeline end to end: the real binary with several table
//! shards, the real `order-totals` function (functions/pipelines/order-totals, built for
//! `wasm32-wasip2`) deployed and attached with the `eddy` CLI, random order traffic
//! through the AWS SDK for Rust, injected function faults (the function's `FAIL_PERCENT`
//! knob) and a SIGKILL of the server mid-stream. After catch-up the view must equal a
//! recomputation from a Scan of the orders, exactly; a second trigger from TRIM_HORIZON
//! into fresh tables must rebuild the identical view.
//!
//! This file owns its helpers (tables, CLI, stream reading); it knows the pipeline's
//! table layout, not the function's code.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as Av, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, StreamSpecification, StreamViewType,
};
use serde_json::json;

use crate::api::{eddy_ok, guest_path};
use crate::harness::{Server, table_name};

/// Hash shards of every table (so the orders stream has several shards).
const TABLE_SHARDS: &str = "2";
/// Concurrent writer tasks.
const WRITERS: u64 = 4;
/// Random operations done before the SIGKILL (which hits while the writers and the
/// trigger are still busy), and after the restart: 10,000 at least in all.
const OPS_BEFORE_KILL: u64 = 6_000;
const OPS_AFTER_KILL: u64 = 4_000;
/// The key space: customers, and orders per customer. Small enough that orders are
/// inserted, modified and removed many times, by different writers.
const CUSTOMERS: u64 = 40;
const ORDERS_PER_CUSTOMER: u64 = 25;
const STATUSES: [&str; 4] = ["pending", "paid", "shipped", "cancelled"];
/// Amounts are 0.01 to this many cents, with two decimals.
const AMOUNT_CENTS_MAX: u64 = 50_000;
/// The function's fault-injection knob: the share of batches that fail once.
const FAIL_PERCENT: &str = "20";
/// The live trigger's settings. Small batches make more batches, so more of them fail;
/// the batching window holds records back while traffic flows, so that when the SIGKILL
/// hits there are records committed but not yet delivered (the test cannot observe that
/// moment without racing the consumers, so it does not assert it).
const BATCH_SIZE: u32 = 50;
const PARALLELIZATION_FACTOR: u32 = 2;
const BATCHING_WINDOW_S: u32 = 1;
/// The rebuild's settings differ, so that its batches are cut elsewhere: the view must
/// not depend on how the stream is batched.
const REBUILD_BATCH_SIZE: u32 = 100;
const REBUILD_PARALLELIZATION_FACTOR: u32 = 1;
/// The function's deadline per invocation: generous, because a batch of transactions on
/// a debug-built server sharing two cores with other builds can take seconds, and a
/// batch that always times out would never be applied.
const FUNCTION_TIMEOUT_MS: u64 = 30_000;
/// Upper bound of the wait for a trigger to catch up (it normally takes seconds; the
/// bound only decides how long a broken pipeline takes to fail the test).
const CATCH_UP_TIMEOUT_S: u64 = 300;
/// Pause between two looks at the pipeline's progress.
const POLL_INTERVAL_MS: u64 = 250;
/// The SDK's page size for GetRecords.
const STREAM_PAGE_RECORDS: i32 = 1_000;

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

/// Creates a table keyed by string attributes `hash` and `range`, optionally with a
/// NEW_AND_OLD_IMAGES stream.
async fn create_table(c: &Client, name: &str, hash: &str, range: &str, stream: bool) {
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute definition")
    };
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .expect("key schema")
    };
    let mut req = c
        .create_table()
        .table_name(name)
        .attribute_definitions(attr(hash))
        .attribute_definitions(attr(range))
        .key_schema(key(hash, KeyType::Hash))
        .key_schema(key(range, KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest);
    if stream {
        req = req.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .expect("stream specification"),
        );
    }
    req.send().await.expect("create table");
}

/// Every item of `table`, all pages.
async fn scan_all(c: &Client, table: &str) -> Vec<std::collections::HashMap<String, Av>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = c
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        items.extend(out.items().iter().cloned());
        start = out.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}

fn s(item: &std::collections::HashMap<String, Av>, name: &str) -> String {
    match item.get(name) {
        Some(Av::S(v)) => v.clone(),
        other => panic!("attribute {name} is not a string: {other:?} in {item:?}"),
    }
}

/// A DynamoDB number with at most two decimals, in cents ("-12.5" is -1250).
fn cents(text: &str) -> i64 {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    assert!(frac_part.len() <= 2, "{text} has more than two decimals");
    let whole: i64 = int_part.parse().expect("a plain decimal number");
    let frac: i64 = format!("{frac_part:0<2}").parse().expect("decimals");
    let value = whole * 100 + frac;
    if negative { -value } else { value }
}

fn n(item: &std::collections::HashMap<String, Av>, name: &str) -> String {
    match item.get(name) {
        Some(Av::N(v)) => v.clone(),
        other => panic!("attribute {name} is not a number: {other:?} in {item:?}"),
    }
}

/// A view: `(customer_id, scope) -> (order_count, amount_sum in cents)`.
type View = BTreeMap<(String, String), (i64, i64)>;

/// The view as the function keeps it, every item (zero aggregates included).
async fn read_view(c: &Client, table: &str) -> View {
    scan_all(c, table)
        .await
        .iter()
        .map(|item| {
            (
                (s(item, "customer_id"), s(item, "scope")),
                (
                    n(item, "order_count").parse().expect("a count"),
                    cents(&n(item, "amount_sum")),
                ),
            )
        })
        .collect()
}

/// The view recomputed from the orders as they are now.
async fn recompute_view(c: &Client, orders: &str) -> View {
    let mut view = View::new();
    for order in scan_all(c, orders).await {
        let customer = s(&order, "customer_id");
        let amount = cents(&n(&order, "amount"));
        for scope in ["ALL".to_owned(), format!("status#{}", s(&order, "status"))] {
            let entry = view.entry((customer.clone(), scope)).or_default();
            entry.0 += 1;
            entry.1 += amount;
        }
    }
    view
}

/// The aggregates that are not zero: what must match a recomputation exactly (an
/// aggregate whose orders all went away stays in the view as zero).
fn non_zero(view: &View) -> View {
    view.iter()
        .filter(|(_, v)| **v != (0, 0))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// A small deterministic PRNG (splitmix64), one per writer.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn amount(&mut self) -> String {
        let c = 1 + self.below(AMOUNT_CENTS_MAX);
        format!("{}.{:02}", c / 100, c % 100)
    }

    fn status(&mut self) -> &'static str {
        STATUSES[self.below(STATUSES.len() as u64) as usize]
    }
}

/// What the writers of one phase share: how many operations they have done, and whether
/// the server has been killed under them (then an error ends a writer instead of the
/// test).
#[derive(Default)]
struct Progress {
    done: AtomicU64,
    killed: AtomicBool,
}

/// One writer: up to `ops` random puts, updates (of existing orders only) and deletes,
/// until the server is killed.
async fn write_orders(c: Client, table: String, seed: u64, ops: u64, progress: Arc<Progress>) {
    let mut rng = Rng(seed);
    for _ in 0..ops {
        if progress.killed.load(Ordering::SeqCst) {
            return;
        }
        match write_one(&c, &table, &mut rng).await {
            Ok(()) => {
                progress.done.fetch_add(1, Ordering::SeqCst);
            }
            Err(_) if progress.killed.load(Ordering::SeqCst) => return,
            Err(e) => panic!("{e}"),
        }
    }
}

/// One random operation; `Err` describes an unexpected failure.
async fn write_one(c: &Client, table: &str, rng: &mut Rng) -> Result<(), String> {
    let customer = Av::S(format!("c{:02}", rng.below(CUSTOMERS)));
    let order = Av::S(format!("o{:02}", rng.below(ORDERS_PER_CUSTOMER)));
    match rng.below(100) {
        0..40 => {
            c.put_item()
                .table_name(table)
                .item("customer_id", customer)
                .item("order_id", order)
                .item("status", Av::S(rng.status().to_owned()))
                .item("amount", Av::N(rng.amount()))
                .send()
                .await
                .map_err(|e| format!("put order: {e:?}"))?;
        }
        40..80 => {
            let (expr, status, amount) = match rng.below(3) {
                0 => ("SET amount = :a", None, Some(rng.amount())),
                1 => ("SET #s = :s", Some(rng.status()), None),
                _ => (
                    "SET #s = :s, amount = :a",
                    Some(rng.status()),
                    Some(rng.amount()),
                ),
            };
            let mut req = c
                .update_item()
                .table_name(table)
                .key("customer_id", customer)
                .key("order_id", order)
                .update_expression(expr)
                .condition_expression("attribute_exists(order_id)");
            if let Some(status) = status {
                req = req
                    .expression_attribute_names("#s", "status")
                    .expression_attribute_values(":s", Av::S(status.to_owned()));
            }
            if let Some(amount) = amount {
                req = req.expression_attribute_values(":a", Av::N(amount));
            }
            match req.send().await {
                Ok(_) => {}
                // Updating an order that is not there is a no-op by design.
                Err(SdkError::ServiceError(e))
                    if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) => {}
                Err(e) => return Err(format!("update order: {e:?}")),
            }
        }
        _ => {
            c.delete_item()
                .table_name(table)
                .key("customer_id", customer)
                .key("order_id", order)
                .send()
                .await
                .map_err(|e| format!("delete order: {e:?}"))?;
        }
    }
    Ok(())
}

/// Starts `WRITERS` concurrent writers for up to `ops` operations in all.
fn start_writers(
    server: &Server,
    orders: &str,
    phase: u64,
    ops: u64,
    progress: &Arc<Progress>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..WRITERS)
        .map(|w| {
            tokio::spawn(write_orders(
                server.client(),
                orders.to_owned(),
                phase * 1_000 + w,
                ops.div_ceil(WRITERS),
                Arc::clone(progress),
            ))
        })
        .collect()
}

async fn join(writers: Vec<tokio::task::JoinHandle<()>>) {
    for w in writers {
        w.await.expect("a writer failed");
    }
}

/// The last sequence number of every order key in the stream of `table` (all shards,
/// from TRIM_HORIZON), and the number of records.
async fn stream_heads(
    server: &Server,
    c: &Client,
    table: &str,
) -> (BTreeMap<(String, String), String>, usize) {
    use aws_sdk_dynamodbstreams::types::{AttributeValue as Sav, ShardIteratorType};
    let arn = c
        .describe_table()
        .table_name(table)
        .send()
        .await
        .expect("describe table")
        .table
        .and_then(|t| t.latest_stream_arn)
        .expect("a stream");
    let sc = server.streams_client();
    let desc = sc
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .expect("describe stream");
    let shards = desc.stream_description.expect("description").shards;
    assert!(
        shards.as_ref().is_some_and(|s| s.len() > 1),
        "the orders stream has several shards"
    );
    let mut heads = BTreeMap::new();
    let mut total = 0;
    for shard in shards.unwrap_or_default() {
        let mut it = sc
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard.shard_id().expect("shard id"))
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("shard iterator")
            .shard_iterator;
        // An open shard always hands out a next iterator; stop at the first empty page.
        while let Some(i) = it {
            let page = sc
                .get_records()
                .shard_iterator(i)
                .limit(STREAM_PAGE_RECORDS)
                .send()
                .await
                .expect("get records");
            if page.records().is_empty() {
                break;
            }
            for r in page.records() {
                let d = r.dynamodb().expect("dynamodb");
                let key = d.keys().expect("keys");
                let text = |name: &str| match key.get(name) {
                    Some(Sav::S(v)) => v.clone(),
                    other => panic!("key {name}: {other:?}"),
                };
                let seq = d.sequence_number().expect("sequence number").to_owned();
                let head = heads
                    .entry((text("customer_id"), text("order_id")))
                    .or_insert_with(String::new);
                assert!(*head < seq, "records of one key are in order");
                *head = seq;
                total += 1;
            }
            it = page.next_shard_iterator;
        }
    }
    (heads, total)
}

/// The ledger's `last_seq` per order (fault markers left out).
async fn read_ledger(c: &Client, table: &str) -> BTreeMap<(String, String), String> {
    scan_all(c, table)
        .await
        .iter()
        .filter(|item| !s(item, "customer_id").starts_with('#'))
        .map(|item| {
            (
                (s(item, "customer_id"), s(item, "order_id")),
                s(item, "last_seq"),
            )
        })
        .collect()
}

/// Waits until the ledger shows the last record of every order applied: then every
/// record of the stream has been applied (per-order order holds, and the ledger moves
/// in the same transaction as the deltas).
async fn wait_caught_up(
    c: &Client,
    ledger: &str,
    heads: &BTreeMap<(String, String), String>,
    what: &str,
) {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(CATCH_UP_TIMEOUT_S);
    loop {
        let got = read_ledger(c, ledger).await;
        let behind = heads
            .iter()
            .filter(|(k, seq)| got.get(*k) != Some(*seq))
            .count();
        if behind == 0 {
            assert_eq!(
                got.len(),
                heads.len(),
                "the ledger has no order the stream lacks"
            );
            eprintln!("{what}: caught up in {:?}", started.elapsed());
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {behind} of {} orders not caught up after {CATCH_UP_TIMEOUT_S} s",
            heads.len()
        );
        tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
    }
}

/// Deploys the function as `name` writing into `view` and `ledger`, with faults on.
fn deploy(endpoint: &str, name: &str, view: &str, ledger: &str) {
    let wasm = guest_path("order_totals");
    let f = eddy_ok(
        endpoint,
        &[
            "function",
            "deploy",
            name,
            wasm.to_str().expect("a UTF-8 path"),
            "--table",
            view,
            "--table",
            ledger,
            "--env",
            &format!("VIEW_TABLE={view}"),
            "--env",
            &format!("LEDGER_TABLE={ledger}"),
            "--env",
            &format!("FAIL_PERCENT={FAIL_PERCENT}"),
            "--timeout-ms",
            &FUNCTION_TIMEOUT_MS.to_string(),
        ],
    );
    assert_eq!(f["name"], name, "{f}");
}

/// Attaches `function` to the orders stream from TRIM_HORIZON with Lambda's full
/// settings (the CLI takes them as CreateEventSourceMapping JSON); returns the UUID.
fn create_trigger(
    endpoint: &str,
    function: &str,
    orders: &str,
    batch_size: u32,
    parallelization_factor: u32,
    batching_window_s: u32,
) -> String {
    let mapping = json!({
        "FunctionName": function,
        "TableName": orders,
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": batch_size,
        "ParallelizationFactor": parallelization_factor,
        "MaximumBatchingWindowInSeconds": batching_window_s,
        "BisectBatchOnFunctionError": true,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    });
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), mapping.to_string()).expect("write mapping");
    let t = eddy_ok(
        endpoint,
        &[
            "trigger",
            "create",
            "--json",
            file.path().to_str().expect("a UTF-8 path"),
        ],
    );
    t["UUID"].as_str().expect("UUID").to_owned()
}

fn metric(endpoint: &str, id: &str, name: &str) -> u64 {
    let t = eddy_ok(endpoint, &["trigger", "show", id]);
    t["Metrics"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("no metric {name}: {t}"))
}

// ---------------------------------------------------------------------------
// the test
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_totals_view_is_exact_after_faults_a_sigkill_and_a_rebuild() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir.path(), &["--table-shards", TABLE_SHARDS]);
    let e = server.endpoint.clone();
    let c = server.client();
    let (orders, view, ledger) = (
        table_name("orders"),
        table_name("customer_totals"),
        table_name("customer_totals_ledger"),
    );
    create_table(&c, &orders, "customer_id", "order_id", true).await;
    create_table(&c, &view, "customer_id", "scope", false).await;
    create_table(&c, &ledger, "customer_id", "order_id", false).await;
    deploy(&e, "order-totals", &view, &ledger);
    let trigger = create_trigger(
        &e,
        "order-totals",
        &orders,
        BATCH_SIZE,
        PARALLELIZATION_FACTOR,
        BATCHING_WINDOW_S,
    );

    // Phase 1: traffic while the trigger runs, and a SIGKILL in the middle of it, while
    // writes arrive and batches are in flight.
    let phase1 = Arc::new(Progress::default());
    let writers = start_writers(&server, &orders, 1, u64::MAX, &phase1);
    while phase1.done.load(Ordering::SeqCst) < OPS_BEFORE_KILL {
        assert!(
            !writers.iter().all(|w| w.is_finished()),
            "the writers stopped early"
        );
        tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
    }
    let delivered = metric(&e, &trigger, "RecordsDelivered");
    phase1.killed.store(true, Ordering::SeqCst);
    server.kill9();
    join(writers).await;
    let phase1_ops = phase1.done.load(Ordering::SeqCst);
    eprintln!(
        "SIGKILL after {:?}, {phase1_ops} operations, {delivered} records delivered",
        started.elapsed()
    );
    assert!(delivered > 0, "the trigger was running before the SIGKILL");

    // Phase 2: the same data directory; the trigger resumes from its checkpoints.
    let server = Server::start_in(dir.path(), &["--table-shards", TABLE_SHARDS]);
    let e = server.endpoint.clone();
    let c = server.client();
    let phase2 = Arc::new(Progress::default());
    join(start_writers(&server, &orders, 2, OPS_AFTER_KILL, &phase2)).await;
    let ops = phase1_ops + phase2.done.load(Ordering::SeqCst);
    eprintln!("{ops} operations written after {:?}", started.elapsed());
    assert!(ops >= OPS_BEFORE_KILL + OPS_AFTER_KILL, "{ops} operations");

    let (heads, records) = stream_heads(&server, &c, &orders).await;
    eprintln!("{records} stream records over {} orders", heads.len());
    assert!(records >= 5_000, "the traffic made records: {records}");
    wait_caught_up(&c, &ledger, &heads, "order-totals").await;

    let expected = recompute_view(&c, &orders).await;
    let got = read_view(&c, &view).await;
    assert_eq!(
        non_zero(&got),
        expected,
        "the view equals a recomputation from the orders"
    );
    // Faults really happened in this process, so records really were delivered again.
    let errors = metric(&e, &trigger, "Errors");
    let retries = metric(&e, &trigger, "Retries");
    eprintln!("after the restart: {errors} function errors, {retries} retries");
    // A function error (bisected or retried) counts as an error, a partial batch
    // response that keeps a prefix as a retry: each injected fault shows in one of them.
    assert!(errors + retries > 0, "the fault injection failed batches");
    let logs = eddy_ok(&e, &["function", "logs", "order-totals"]);
    let skipped: u64 = logs["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .filter_map(|l| l["fields"]["already_applied"].as_str()?.parse::<u64>().ok())
        .sum();
    eprintln!("{skipped} redelivered records skipped (in the log ring)");
    assert!(
        skipped > 0,
        "redelivered records were recognized and skipped"
    );

    // A new trigger from TRIM_HORIZON into fresh tables rebuilds the same view.
    let (view2, ledger2) = (
        table_name("customer_totals_rebuilt"),
        table_name("customer_totals_rebuilt_ledger"),
    );
    create_table(&c, &view2, "customer_id", "scope", false).await;
    create_table(&c, &ledger2, "customer_id", "order_id", false).await;
    deploy(&e, "order-totals-rebuild", &view2, &ledger2);
    create_trigger(
        &e,
        "order-totals-rebuild",
        &orders,
        REBUILD_BATCH_SIZE,
        REBUILD_PARALLELIZATION_FACTOR,
        0,
    );
    wait_caught_up(&c, &ledger2, &heads, "rebuild").await;
    let rebuilt = read_view(&c, &view2).await;
    assert_eq!(
        rebuilt, got,
        "the rebuild equals the view, zero aggregates included"
    );
    eprintln!("done in {:?}", started.elapsed());
}
