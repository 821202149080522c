//! Crash consistency against the real binary: concurrent writers (the AWS SDK for Rust)
//! doing PutItem, conditional UpdateItem, DeleteItem, BatchWriteItem and
//! TransactWriteItems on a table with a NEW_AND_OLD_IMAGES stream, two GSIs and four
//! shards; SIGKILL at a seeded random moment; restart on the same data directory; check;
//! go on writing; repeat.
//!
//! After every restart:
//! - every acknowledged write is there exactly: each key holds what its last
//!   acknowledged write left, or what the one write in flight at the kill would have
//!   made it (a write answered with a 400 is known not to have applied);
//! - nothing never attempted appears (every value traces back to a write that was sent);
//! - a transaction in flight applied on all its keys or on none, and sending it again
//!   with its ClientRequestToken neither fails nor applies it twice;
//! - each GSI equals a recomputation from the table, and DescribeTable's counts agree;
//! - replaying the stream (every shard, from where the last check stopped, and from
//!   TRIM_HORIZON every few kills and at the end) over an empty map gives the table,
//!   each record's OldImage the previous NewImage of its key, sequence numbers
//!   increasing in each shard, each key in its one shard, no eventID twice.
//!
//! `cargo test --test crash` runs 20 kills with a random seed (printed);
//! `cargo test --release --test crash -- --kills 200 --seed N` is the long run, and any
//! failure prints the command that replays its seed. The seed fixes every choice the
//! writers make and every kill delay; the interleaving of the concurrent writers with
//! the kill is up to the machine, so a replay retraces the run, not its exact timing.
//!
//! The SDK clients of the writers do not retry: a retry of a write whose answer was lost
//! would hide the very outcome the harness is looking for.

#[path = "../e2e/harness.rs"]
#[allow(
    dead_code,
    reason = "the harness is shared with tests/e2e, which uses all of it"
)]
mod harness;

mod check;
mod model;
mod writers;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};

use crate::check::{Replay, Tally};
use crate::harness::Server;
use crate::writers::Writer;

/// Kills of the default (CI) run.
const KILLS_DEFAULT: u64 = 20;
const WRITERS: usize = 8;
/// Hash shards of the table (the server's `--table-shards`).
const TABLE_SHARDS: u16 = 4;
/// How long the writers run before the kill: most kills land mid-stream, some just after
/// the restart.
const KILL_DELAY_EARLY_MS_MAX: u64 = 100;
const KILL_DELAY_MS_MAX: u64 = 1_500;
const KILL_EARLY_PERCENT: u64 = 20;
/// Every this many kills the stream is replayed from TRIM_HORIZON, not only from where
/// the last check stopped.
const FULL_REPLAY_EVERY_KILLS: u64 = 10;
/// Problems printed per check at most.
const PROBLEMS_PRINTED_MAX: usize = 30;
const TABLE: &str = "crash";

/// The seed and kill count of this run, for the panic hook's replay line.
static SEED: AtomicU64 = AtomicU64::new(0);
static KILLS: AtomicU64 = AtomicU64::new(0);

#[derive(Debug)]
struct Args {
    kills: u64,
    seed: u64,
    /// `--list` (cargo test -- --list): name the one test and stop.
    list: bool,
    /// A test-name filter that does not match this harness, or `--ignored`.
    skip: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        kills: KILLS_DEFAULT,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
        list: false,
        skip: false,
    };
    let mut it = std::env::args().skip(1);
    let mut filters = Vec::new();
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} takes a number"))
        };
        match a.as_str() {
            "--kills" => args.kills = value("--kills")?,
            "--seed" => args.seed = value("--seed")?,
            "--list" => args.list = true,
            "--ignored" => args.skip = true,
            // libtest's flags, which `cargo test -- …` passes to every test binary.
            "--test-threads" | "--color" | "--format" | "--logfile" | "--skip" | "-Z" => {
                it.next();
            }
            s if s.starts_with('-') => {}
            filter => filters.push(filter.to_owned()),
        }
    }
    if !filters.is_empty() && !filters.iter().any(|f| "crash".contains(f.as_str())) {
        args.skip = true;
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("crash: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.list {
        println!("crash: test");
        return ExitCode::SUCCESS;
    }
    if args.skip {
        println!("crash: skipped (filtered out)");
        return ExitCode::SUCCESS;
    }
    SEED.store(args.seed, Ordering::SeqCst);
    KILLS.store(args.kills, Ordering::SeqCst);
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        eprintln!("crash: failed; {}", replay_line());
    }));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run(args))
}

fn replay_line() -> String {
    format!(
        "replay with: cargo test --release --test crash -- --seed {} --kills {}",
        SEED.load(Ordering::SeqCst),
        KILLS.load(Ordering::SeqCst)
    )
}

/// A DynamoDB client that never retries (see the module documentation).
fn client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "crash",
        ))
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

fn server_args() -> Vec<String> {
    vec!["--table-shards".into(), TABLE_SHARDS.to_string()]
}

fn start(dir: &std::path::Path) -> Server {
    let args = server_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start_in(dir, &args)
}

async fn create_table(c: &aws_sdk_dynamodb::Client) {
    let def = |name: &str, t: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(t)
            .build()
            .expect("an attribute definition")
    };
    let key = |name: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(t)
            .build()
            .expect("a key schema element")
    };
    let by_g = GlobalSecondaryIndex::builder()
        .index_name("by_g")
        .key_schema(key("g", KeyType::Hash))
        .key_schema(key("n", KeyType::Range))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::Include)
                .non_key_attributes("tag")
                .build(),
        )
        .build()
        .expect("an index");
    let by_tag = GlobalSecondaryIndex::builder()
        .index_name("by_tag")
        .key_schema(key("tag", KeyType::Hash))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::KeysOnly)
                .build(),
        )
        .build()
        .expect("an index");
    c.create_table()
        .table_name(TABLE)
        .attribute_definitions(def("pk", ScalarAttributeType::S))
        .attribute_definitions(def("g", ScalarAttributeType::S))
        .attribute_definitions(def("n", ScalarAttributeType::N))
        .attribute_definitions(def("tag", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash))
        .global_secondary_indexes(by_g)
        .global_secondary_indexes(by_tag)
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .expect("a stream specification"),
        )
        .send()
        .await
        .expect("create the table");
}

/// Totals of the run.
#[derive(Debug, Default)]
struct Totals {
    kills: u64,
    tally: Tally,
    answer_mismatches: u64,
    unexpected_errors: u64,
    token_retries: u64,
}

async fn run(args: Args) -> ExitCode {
    let started = Instant::now();
    println!(
        "crash: seed {} kills {} ({} writers, {} shards); {}",
        args.seed,
        args.kills,
        WRITERS,
        TABLE_SHARDS,
        replay_line()
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut server = start(dir.path());
    create_table(&client(&server.endpoint)).await;
    let mut writers: Vec<Writer> = (0..WRITERS)
        .map(|w| Writer::new(w, args.seed, TABLE_SHARDS))
        .collect();
    let mut replay = Replay::default();
    let mut totals = Totals::default();
    let mut kill_rng = model::Rng::derive(args.seed, &[2]);
    let table: Arc<str> = Arc::from(TABLE);
    for round in 1..=args.kills + 1 {
        let last = round == args.kills + 1;
        if !last {
            let delay_ms = if kill_rng.percent(KILL_EARLY_PERCENT) {
                kill_rng.range(0, KILL_DELAY_EARLY_MS_MAX)
            } else {
                kill_rng.range(KILL_DELAY_EARLY_MS_MAX, KILL_DELAY_MS_MAX)
            };
            let killing = Arc::new(AtomicBool::new(false));
            let c = client(&server.endpoint);
            let tasks: Vec<_> = writers
                .drain(..)
                .map(|w| tokio::spawn(w.run(c.clone(), table.clone(), killing.clone())))
                .collect();
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            killing.store(true, Ordering::SeqCst);
            server.kill9();
            totals.kills += 1;
            for task in tasks {
                writers.push(task.await.expect("a writer task"));
            }
            server = start(dir.path());
            print!("crash: kill {round} after {delay_ms} ms;");
        } else {
            print!("crash: final check;");
        }
        let c = client(&server.endpoint);
        let full = last || round % FULL_REPLAY_EVERY_KILLS == 0;
        let mut t = Tally::default();
        if let Err(e) = check_round(&c, &server, &mut writers, &mut replay, full, &mut t).await {
            t.problems.push(format!("the check could not run: {e}"));
            t.stream_mismatches += 1;
        }
        // Lost transactions, sent again with their tokens.
        for w in &mut writers {
            for lost in std::mem::take(&mut w.lost_transactions) {
                totals.token_retries += 1;
                match writers::retry_transaction(&c, &lost).await {
                    Ok(applied) if applied != lost.expect_cancel => {
                        if applied {
                            for (k, r) in lost.keys.iter().zip(&lost.results) {
                                w.keys[*k].state = r.clone();
                            }
                        }
                    }
                    Ok(applied) => {
                        t.token_mismatches += 1;
                        t.problems.push(format!(
                            "transaction {} sent again with its token was {}",
                            lost.token,
                            if applied {
                                "applied, but its condition was false"
                            } else {
                                "cancelled, but its conditions held or it had applied"
                            }
                        ));
                    }
                    Err(e) => {
                        t.token_mismatches += 1;
                        t.problems.push(format!(
                            "transaction {} sent again with its token: {e}",
                            lost.token
                        ));
                    }
                }
            }
        }
        let acknowledged: u64 = writers.iter().map(|w| w.stats.acknowledged).sum();
        println!(
            " {acknowledged} writes acknowledged so far, {} stream records; in flight: {} applied, {} not{}",
            replay.records,
            t.in_flight_applied,
            t.in_flight_not_applied,
            if full {
                "; stream replayed from TRIM_HORIZON"
            } else {
                ""
            }
        );
        let failed = t.failures() > 0;
        for p in t.problems.iter().take(PROBLEMS_PRINTED_MAX) {
            println!("  {p}");
        }
        totals.tally.add(&t);
        if failed {
            break;
        }
    }
    server.kill9();
    for w in &writers {
        totals.answer_mismatches += w.stats.answer_mismatches.len() as u64;
        totals.unexpected_errors += w.stats.unexpected_errors.len() as u64;
        for p in w
            .stats
            .answer_mismatches
            .iter()
            .chain(&w.stats.unexpected_errors)
            .take(PROBLEMS_PRINTED_MAX)
        {
            println!("  {p}");
        }
    }
    let sum = |f: fn(&Writer) -> u64| writers.iter().map(f).sum::<u64>();
    let t = &totals.tally;
    println!(
        "crash summary: seed {} kills {} acknowledged {} lost {} phantom {} stream_mismatches {} index_mismatches {} \
         count_mismatches {} torn_transactions {} token_mismatches {} answer_mismatches {} unexpected_errors {} \
         (in flight at the kills: {} applied, {} not; refused as meant {}; transactions {}, across shards {}; \
         tokens resent {}; stream records {}; {:.1} s)",
        args.seed,
        totals.kills,
        sum(|w| w.stats.acknowledged),
        t.lost,
        t.phantom,
        t.stream_mismatches,
        t.index_mismatches,
        t.count_mismatches,
        t.torn_transactions,
        t.token_mismatches,
        totals.answer_mismatches,
        totals.unexpected_errors,
        t.in_flight_applied,
        t.in_flight_not_applied,
        sum(|w| w.stats.refused_as_expected),
        sum(|w| w.stats.transactions),
        sum(|w| w.stats.cross_shard_transactions),
        totals.token_retries,
        replay.records,
        started.elapsed().as_secs_f64()
    );
    if t.failures() + totals.answer_mismatches + totals.unexpected_errors > 0
        || totals.kills < args.kills
    {
        println!("crash: FAILED; {}", replay_line());
        return ExitCode::FAILURE;
    }
    println!("crash: ok");
    ExitCode::SUCCESS
}

/// One check after a restart: the model, the indexes, the stream.
async fn check_round(
    c: &aws_sdk_dynamodb::Client,
    server: &Server,
    writers: &mut [Writer],
    replay: &mut Replay,
    full: bool,
    t: &mut Tally,
) -> Result<(), String> {
    let table = check::scan(c, TABLE, None).await?;
    check::check_model(writers, &table, t);
    check::check_indexes(c, TABLE, &table, t).await?;
    let arn = harness::latest_stream_arn(c, TABLE).await;
    let streams = server.streams_client();
    replay
        .advance(&streams, &arn, TABLE_SHARDS, &table, t)
        .await?;
    if full {
        let mut fresh = Replay::default();
        let mut ft = Tally::default();
        fresh
            .advance(&streams, &arn, TABLE_SHARDS, &table, &mut ft)
            .await?;
        t.stream_mismatches += ft.stream_mismatches;
        t.problems.extend(
            ft.problems
                .into_iter()
                .map(|p| format!("from TRIM_HORIZON: {p}")),
        );
        *replay = fresh;
    }
    Ok(())
}
