//! The voting example (see `README.md` next to this file): votes for two candidates
//! written as fast as possible to a provisioned table, three ways —
//!
//! * `hot`: the candidate is the partition key, so all of one candidate's votes go to
//!   one partition, which DynamoDB holds to 1,000 WCU however much the table has;
//! * `random`: write sharding with a random suffix (`A#0` .. `A#9`): the votes spread
//!   over ten partitions per candidate, and counting reads every shard;
//! * `calculated`: the suffix is a hash of the voter's id, so the shard of one voter's
//!   vote is known and the vote can be read back with a GetItem.
//!
//! Each variant gets a fresh table of its own (`<table>-<variant>`, PROVISIONED with
//! `--wcu` write units), `--tasks` concurrent writers for `--seconds` seconds, and
//! prints the writes accepted and throttled per second. The SDK's retries are off, so
//! that every throttled write is seen and counted (an application would leave them on
//! and get its writes in later, slower). Afterwards it counts the votes by reading
//! every shard and checks the count against the writes accepted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ProvisionedThroughput, ScalarAttributeType, Select,
};
use clap::Parser;

/// The candidates: one partition key each in the `hot` variant.
const CANDIDATES: [&str; 2] = ["A", "B"];
/// The longest `--seconds` and the most `--tasks`, `--shards` and `--wcu`.
const SECONDS_MAX: u64 = 3600;
const TASKS_MAX: usize = 1024;
const SHARDS_MAX: u64 = 1000;
const WCU_MAX: i64 = 40_000;
/// How long the table may take to become ACTIVE, and how often it is looked at.
const TABLE_WAIT_MS: u64 = 60_000;
const TABLE_POLL_MS: u64 = 100;
/// A writer's pause after an error that is not throttling (the server going away).
const ERROR_PAUSE_MS: u64 = 10;
/// The error codes of a throttled write.
const THROTTLING: [&str; 2] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
];

#[derive(Parser, Debug)]
#[command(
    name = "voting",
    about = "Votes for two candidates, with and without write sharding"
)]
struct Args {
    /// The DynamoDB endpoint (Eddy's address).
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    endpoint: String,
    /// The tables' name prefix: each variant makes `<table>-<variant>`.
    #[arg(long, default_value = "votes")]
    table: String,
    /// Seconds each variant votes for.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent writers.
    #[arg(long, default_value_t = 64)]
    tasks: usize,
    /// The tables' provisioned write capacity units.
    #[arg(long, default_value_t = 4000)]
    wcu: i64,
    /// Shards per candidate in the sharded variants.
    #[arg(long, default_value_t = 10)]
    shards: u64,
    /// The variants to run, in order: hot, random, calculated.
    #[arg(long, value_delimiter = ',', default_value = "hot,random,calculated")]
    variants: Vec<Variant>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Variant {
    Hot,
    Random,
    Calculated,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Hot => "hot",
            Variant::Random => "random",
            Variant::Calculated => "calculated",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Variant::Hot => "hot partition (partition key = candidate)",
            Variant::Random => "random suffix (candidate#0..N-1, chosen at random)",
            Variant::Calculated => "calculated suffix (candidate#hash(voter) mod N)",
        }
    }

    /// The partition key a vote for `candidate` by `voter` goes to.
    fn partition(self, candidate: &str, voter: &str, shards: u64, rng: &mut Rng) -> String {
        match self {
            Variant::Hot => candidate.to_owned(),
            Variant::Random => format!("{candidate}#{}", rng.below(shards)),
            Variant::Calculated => format!("{candidate}#{}", fnv1a(voter.as_bytes()) % shards),
        }
    }

    /// Every partition key of `candidate`'s votes (what counting has to read).
    fn partitions(self, candidate: &str, shards: u64) -> Vec<String> {
        match self {
            Variant::Hot => vec![candidate.to_owned()],
            Variant::Random | Variant::Calculated => {
                (0..shards).map(|s| format!("{candidate}#{s}")).collect()
            }
        }
    }
}

/// FNV-1a: a stable hash, so that a voter's shard is the same in every run and process.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// xorshift64*: each writer's own random numbers, no shared state.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        ((u128::from(x.wrapping_mul(0x2545_F491_4F6C_DD1D)) * u128::from(n)) >> 64) as u64
    }
}

/// Writes accepted, throttled and failed otherwise, per second of one variant's run.
struct Counts {
    accepted: Vec<AtomicU64>,
    throttled: Vec<AtomicU64>,
    other: Vec<AtomicU64>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Deletes `table` if it exists and creates it PROVISIONED with `wcu` write units.
async fn fresh_table(c: &Client, table: &str, wcu: i64) -> Result<(), BoxError> {
    if c.delete_table().table_name(table).send().await.is_ok() {
        wait_for(c, table, false).await?;
    }
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
    };
    c.create_table()
        .table_name(table)
        .attribute_definitions(attribute("pk")?)
        .attribute_definitions(attribute("voter")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("voter", KeyType::Range)?)
        .billing_mode(BillingMode::Provisioned)
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(wcu)
                .write_capacity_units(wcu)
                .build()?,
        )
        .send()
        .await?;
    wait_for(c, table, true).await
}

/// Waits until `table` is ACTIVE (`active`) or gone.
async fn wait_for(c: &Client, table: &str, active: bool) -> Result<(), BoxError> {
    let deadline = Instant::now() + Duration::from_millis(TABLE_WAIT_MS);
    while Instant::now() < deadline {
        let status = match c.describe_table().table_name(table).send().await {
            Ok(d) => d
                .table()
                .and_then(|t| t.table_status())
                .map(|s| s.as_str().to_owned()),
            Err(_) => None,
        };
        if (active && status.as_deref() == Some("ACTIVE")) || (!active && status.is_none()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(TABLE_POLL_MS)).await;
    }
    Err(format!(
        "table {table} did not become {}",
        if active { "ACTIVE" } else { "gone" }
    )
    .into())
}

/// What every writer of one variant's run shares.
struct Ballot {
    table: Arc<str>,
    variant: Variant,
    shards: u64,
    t0: Instant,
    end: Instant,
    counts: Counts,
}

/// One writer: votes until the run's end, counting each answer in the second it came.
async fn voter(c: Client, ballot: Arc<Ballot>, id: usize) {
    let Ballot {
        table,
        variant,
        shards,
        t0,
        end,
        counts,
    } = &*ballot;
    let (variant, shards) = (*variant, *shards);
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let mut rng = Rng((seed ^ ((id as u64 + 1) * 0x9E37_79B9)) | 1);
    let mut n = 0u64;
    // Bounded by `end`; each request by the SDK's own timeouts.
    while Instant::now() < *end {
        n += 1;
        let voter = format!("voter-{id}-{n}");
        let candidate = CANDIDATES[rng.below(CANDIDATES.len() as u64) as usize];
        let pk = variant.partition(candidate, &voter, shards, &mut rng);
        let result = c
            .put_item()
            .table_name(&**table)
            .item("pk", AttributeValue::S(pk))
            .item("voter", AttributeValue::S(voter))
            .item("candidate", AttributeValue::S(candidate.to_owned()))
            .send()
            .await;
        // A write sent in the last second and answered after the end counts in it.
        let second = (t0.elapsed().as_secs() as usize).min(counts.accepted.len() - 1);
        let slot = |v: &Vec<AtomicU64>| v.get(second).map(|n| n.fetch_add(1, Ordering::Relaxed));
        match result {
            Ok(_) => {
                slot(&counts.accepted);
            }
            Err(e) if e.code().is_some_and(|code| THROTTLING.contains(&code)) => {
                slot(&counts.throttled);
            }
            Err(_) => {
                slot(&counts.other);
                tokio::time::sleep(Duration::from_millis(ERROR_PAUSE_MS)).await;
            }
        }
    }
}

/// The votes for `candidate`, read from every one of its shards (Query, Select COUNT).
async fn count(
    c: &Client,
    table: &str,
    variant: Variant,
    candidate: &str,
    shards: u64,
) -> Result<u64, BoxError> {
    let mut total = 0;
    for pk in variant.partitions(candidate, shards) {
        let mut pages = c
            .query()
            .table_name(table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .select(Select::Count)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            total += u64::try_from(page?.count()).unwrap_or(0);
        }
    }
    Ok(total)
}

/// Runs one variant; its accepted and throttled writes per second over the run.
async fn run(c: &Client, args: &Args, variant: Variant) -> Result<(f64, f64), BoxError> {
    let table: Arc<str> = format!("{}-{}", args.table, variant.name()).into();
    fresh_table(c, &table, args.wcu).await?;
    let seconds = args.seconds as usize;
    let zeros = || (0..seconds).map(|_| AtomicU64::new(0)).collect();
    let t0 = Instant::now();
    let ballot = Arc::new(Ballot {
        table: table.clone(),
        variant,
        shards: args.shards,
        t0,
        end: t0 + Duration::from_secs(args.seconds),
        counts: Counts {
            accepted: zeros(),
            throttled: zeros(),
            other: zeros(),
        },
    });
    let writers: Vec<_> = (0..args.tasks)
        .map(|id| tokio::spawn(voter(c.clone(), ballot.clone(), id)))
        .collect();
    for w in writers {
        w.await?;
    }
    let counts = &ballot.counts;
    println!(
        "\n## {}: table {table}, {} WCU, {} writers, {} s",
        variant.title(),
        args.wcu,
        args.tasks,
        args.seconds
    );
    println!("| second | accepted | throttled | other errors |");
    println!("|---|---|---|---|");
    let sum = |v: &Vec<AtomicU64>| v.iter().map(|n| n.load(Ordering::Relaxed)).sum::<u64>();
    for s in 0..seconds {
        let at = |v: &Vec<AtomicU64>| v[s].load(Ordering::Relaxed);
        println!(
            "| {s} | {} | {} | {} |",
            at(&counts.accepted),
            at(&counts.throttled),
            at(&counts.other)
        );
    }
    let (accepted, throttled) = (sum(&counts.accepted), sum(&counts.throttled));
    let secs = args.seconds as f64;
    println!(
        "{}: {:.0} accepted writes/s, {:.0} throttled writes/s",
        variant.name(),
        accepted as f64 / secs,
        throttled as f64 / secs
    );

    // Counting reads every shard of both candidates.
    let mut counted = BTreeMap::new();
    for candidate in CANDIDATES {
        counted.insert(
            candidate,
            count(c, &table, variant, candidate, args.shards).await?,
        );
    }
    let total: u64 = counted.values().sum();
    let reads = CANDIDATES.len() * variant.partitions("A", args.shards).len();
    println!(
        "counted with {reads} Query calls: {} = {total} votes",
        counted
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect::<Vec<_>>()
            .join(" + ")
    );
    // A write whose answer was lost (other errors) may have been written.
    if total == accepted {
        println!("every accepted vote was counted");
    } else if sum(&counts.other) == 0 {
        return Err(format!("{total} votes counted but {accepted} writes accepted").into());
    }
    if variant == Variant::Calculated {
        read_back(c, &table, args.shards).await?;
    }
    Ok((accepted as f64 / secs, throttled as f64 / secs))
}

/// With a calculated suffix a voter's vote is found by key: one GetItem per candidate
/// on the shard the voter's id hashes to, instead of a scan of every shard.
async fn read_back(c: &Client, table: &str, shards: u64) -> Result<(), BoxError> {
    let voter = "voter-0-1";
    let shard = fnv1a(voter.as_bytes()) % shards;
    for candidate in CANDIDATES {
        let pk = format!("{candidate}#{shard}");
        let item = c
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(pk.clone()))
            .key("voter", AttributeValue::S(voter.to_owned()))
            .send()
            .await?;
        if item.item().is_some() {
            println!("{voter} voted for {candidate} (read back with GetItem on pk {pk})");
            return Ok(());
        }
    }
    println!("{voter}'s vote was not accepted (throttled), so there is nothing to read back");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    if !(1..=SECONDS_MAX).contains(&args.seconds)
        || !(1..=TASKS_MAX).contains(&args.tasks)
        || !(1..=SHARDS_MAX).contains(&args.shards)
        || !(1..=WCU_MAX).contains(&args.wcu)
    {
        return Err(format!("--seconds 1..={SECONDS_MAX}, --tasks 1..={TASKS_MAX}, --shards 1..={SHARDS_MAX}, --wcu 1..={WCU_MAX}").into());
    }
    // Credentials and region come from the environment, as for any SDK program; the
    // retries are off so that throttled writes are seen (see the module comment).
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&args.endpoint)
        .retry_config(RetryConfig::disabled())
        .load()
        .await;
    let c = Client::new(&config);
    let mut summary = Vec::new();
    for &variant in &args.variants {
        summary.push((variant, run(&c, &args, variant).await?));
    }
    println!("\n| variant | accepted writes/s | throttled writes/s |");
    println!("|---|---|---|");
    for (variant, (accepted, throttled)) in summary {
        println!("| {} | {accepted:.0} | {throttled:.0} |", variant.title());
    }
    Ok(())
}
