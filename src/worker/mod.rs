//! `eddy worker`: stream triggers run in a process of their own, on any machine, for an
//! Eddy started with `--nats URL --trigger-workers`.
//!
//! A worker reads the records the export published to NATS JetStream
//! (`source.rs`), shares the triggers' lanes with the other workers through leases in a
//! JetStream KV bucket (`leases.rs`), keeps the lanes' checkpoints and window state in
//! another (`kv.rs`), and fetches the trigger definitions and the functions' components
//! from Eddy, whose DynamoDB API also serves the functions' table calls and the failure
//! destinations (`eddy.rs`). Each lane runs the same consumer code as the in-process
//! runtime ([`DetachedTrigger`]), so every event-source-mapping semantic holds.
//!
//! Owns the worker's command line, its loop (refresh definitions, tick leases) and the
//! start of a leased lane. Must not know the server's internals: everything it knows
//! of Eddy comes over HTTP.

mod eddy;
mod kv;
mod leases;
mod source;
pub(crate) mod status;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use clap::Args;
use eddy_triggers::stream::{DetachedTrigger, LaneDeps, LaneId, MappingConfig, StartingPosition};
use eddy_triggers::{Executor, ExecutorConfig, FunctionConfig, FunctionStore};
use serde_json::{Value, json};

use eddy::{Eddy, HttpFailures, HttpTables};
use kv::{Buckets, KvLaneStore};
use leases::{Leases, RunningLane, key_of};
use source::JetStreamSource;

/// How long a lease lasts without renewal: a dead worker's lanes are taken over after
/// about this long (plus one tick).
pub const LEASE_TTL_MS_DEFAULT: u64 = 5_000;

/// The shortest lease TTL: renewals every quarter of it must still fit NATS round trips.
const LEASE_TTL_MS_MIN: u64 = 400;

/// How often the trigger definitions and functions are fetched from Eddy.
pub const REFRESH_MS_DEFAULT: u64 = 1_000;

/// Shards asked for per DescribeStream page (DynamoDB's maximum is 100).
const DESCRIBE_SHARDS_PAGE_MAX: u32 = 100;

/// Pages of one DescribeStream (a stream with more shards is not run).
const DESCRIBE_PAGES_MAX: usize = 100;

/// Lease rounds (heartbeat, renewals, takes) per lease TTL.
const TICKS_PER_TTL: u32 = 4;

/// The slice the loop sleeps in between rounds, so that a stop signal is seen soon.
const STOP_CHECK_MS: u64 = 20;

/// How long a worker waits for NATS at the start before each new try.
const CONNECT_RETRY_MS: u64 = 1_000;

/// The account in ARNs (Eddy's fixed one).
const ACCOUNT_ID: &str = "000000000000";

#[derive(Debug, Args, Clone)]
pub struct WorkerArgs {
    /// The NATS server Eddy exports to (`eddy serve --nats`), e.g. nats://127.0.0.1:4222.
    #[arg(long, value_name = "URL")]
    nats: String,
    /// The Eddy whose triggers this worker runs (definitions, functions, and the
    /// functions' DynamoDB calls). With AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (an
    /// administrator's key) in the environment, requests are signed.
    #[arg(long, default_value = crate::remote::ENDPOINT_DEFAULT)]
    endpoint: String,
    /// The region Eddy runs as (`eddy serve --region`), shown in failure records.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// How long a lane's lease lasts without renewal, in milliseconds: a dead worker's
    /// lanes are taken over after about this long.
    #[arg(long, default_value_t = LEASE_TTL_MS_DEFAULT,
          value_parser = clap::value_parser!(u64).range(LEASE_TTL_MS_MIN..))]
    lease_ttl_ms: u64,
    /// How often trigger definitions and functions are fetched from Eddy, in
    /// milliseconds.
    #[arg(long, default_value_t = REFRESH_MS_DEFAULT,
          value_parser = clap::value_parser!(u64).range(50..))]
    refresh_ms: u64,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `eddy worker` until SIGINT or SIGTERM.
pub fn main(args: WorkerArgs) -> std::process::ExitCode {
    match run(&args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            crate::console::err(&format!("eddy worker: {e}"));
            std::process::ExitCode::FAILURE
        }
    }
}

/// One trigger as this worker runs it.
#[derive(Clone)]
struct Running {
    trigger: Arc<DetachedTrigger>,
    source: Arc<JetStreamSource>,
    shards: u16,
    /// The `ParallelizationFactor` its lanes run with (a new one makes a new Running).
    lanes: u32,
    /// What its lanes are handed: the shared parts, and its lanes' checkpoints.
    deps: Arc<LaneDeps>,
    store: Arc<KvLaneStore>,
    /// For a lane's first position: `None` from the stream's beginning, else the time
    /// (epoch ms) from which records count.
    start_ms: Option<u64>,
    /// This process's number for this trigger object (its status key names it, so
    /// that a new object's counters, from zero, never replace an old one's on Eddy).
    instance: u64,
}

/// The next [`Running::instance`] of this process.
static INSTANCES: AtomicU64 = AtomicU64::new(0);

/// The triggers this worker runs, by id: written by the refresher, read by each lease
/// round.
type Triggers = Arc<Mutex<BTreeMap<String, Running>>>;

/// The refresher: brings [`Triggers`] and the functions in line with Eddy, on a thread
/// of its own, so that a slow fetch or a function's compilation never delays a lease
/// renewal.
struct Worker {
    eddy: Arc<Eddy>,
    handle: tokio::runtime::Handle,
    js: async_nats::jetstream::Context,
    functions: Arc<FunctionStore>,
    /// Eddy's version of each function deployed here.
    versions: HashMap<String, u32>,
    triggers: Triggers,
    /// What every trigger's lanes share (its `store` is replaced per trigger).
    base: Arc<LaneDeps>,
    checkpoints: async_nats::jetstream::kv::Store,
    /// The last refresh failed (its WARN was written).
    refresh_failing: bool,
}

fn run(args: &WorkerArgs) -> Result<(), String> {
    crate::export::check_url(&args.nats)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    // The NATS client spawns its tasks where it is made: in this runtime.
    let _in_runtime = runtime.enter();
    let handle = runtime.handle().clone();
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        runtime.spawn(async move {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(t) => t,
                    Err(_) => return,
                };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            stop.store(true, Ordering::Release);
        });
    }
    let eddy = Arc::new(Eddy::new(&args.endpoint, handle.clone())?);
    let client = runtime
        .block_on(
            async_nats::ConnectOptions::new()
                .retry_on_initial_connect()
                .connect(&args.nats),
        )
        .map_err(|e| format!("--nats {}: {e}", args.nats))?;
    let js = async_nats::jetstream::new(client);
    let buckets = loop {
        match runtime.block_on(Buckets::open(&js)) {
            Ok(b) => break b,
            Err(e) => {
                if stop.load(Ordering::Acquire) {
                    return Ok(());
                }
                tracing::warn!(error = %e, "the worker's KV buckets are not reachable yet");
                std::thread::sleep(Duration::from_millis(CONNECT_RETRY_MS));
            }
        }
    };
    let status_store = loop {
        match runtime.block_on(status::open_bucket(&js)) {
            Ok(s) => break s,
            Err(e) => {
                if stop.load(Ordering::Acquire) {
                    return Ok(());
                }
                tracing::warn!(error = %e, "the trigger status bucket is not reachable yet");
                std::thread::sleep(Duration::from_millis(CONNECT_RETRY_MS));
            }
        }
    };
    let executor = Executor::new(ExecutorConfig::default()).map_err(|e| e.to_string())?;
    let me = worker_id();
    let cache = std::env::temp_dir().join(format!("eddy-worker-{me}"));
    let functions = Arc::new(
        FunctionStore::open(&cache, &executor)
            .map_err(|e| format!("cannot open the function cache: {e}"))?,
    );
    let base = Arc::new(LaneDeps {
        executor,
        functions: Arc::clone(&functions),
        tables: Arc::new(HttpTables {
            eddy: Arc::clone(&eddy),
        }),
        store: Arc::new(KvLaneStore::new(
            handle.clone(),
            buckets.checkpoints.clone(),
            1,
        )),
        failures: Arc::new(HttpFailures {
            eddy: Arc::clone(&eddy),
        }),
        region: args.region.clone(),
        account_id: ACCOUNT_ID.to_owned(),
    });
    let triggers: Triggers = Arc::new(Mutex::new(BTreeMap::new()));
    let mut worker = Worker {
        eddy,
        handle: handle.clone(),
        js,
        functions,
        versions: HashMap::new(),
        triggers: Arc::clone(&triggers),
        base,
        checkpoints: buckets.checkpoints.clone(),
        refresh_failing: false,
    };
    let ttl = Duration::from_millis(args.lease_ttl_ms);
    let mut leases = Leases::new(
        handle.clone(),
        me.clone(),
        ttl,
        buckets.leases.clone(),
        buckets.workers.clone(),
    );
    let _ = crate::console::out(&format!(
        "Eddy worker {me}: triggers of {} from NATS {}",
        args.endpoint, args.nats
    ));
    let lanes_stopped = Arc::new(AtomicBool::new(false));
    let publisher = status::spawn(
        status::Publisher::new(
            handle.clone(),
            status_store,
            me.clone(),
            Arc::clone(&triggers),
        ),
        Arc::clone(&lanes_stopped),
    )?;
    let tick = ttl / TICKS_PER_TTL;
    let refresh = Duration::from_millis(args.refresh_ms);
    // The first refresh comes before the first lease: a lane never starts before its
    // function is here.
    worker.refresh();
    let refresher = {
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("eddy-worker-refresh".into())
            .spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    sleep_unless(&stop, refresh);
                    worker.refresh();
                }
            })
            .map_err(|e| format!("cannot start the refresher: {e}"))?
    };
    while !stop.load(Ordering::Acquire) {
        let snapshot = lock(&triggers).clone();
        let units = units_of(&snapshot);
        leases.tick(&units, &mut |key| start_lane(&snapshot, &units, key));
        sleep_unless(&stop, tick);
    }
    for running in lock(&triggers).values() {
        running.trigger.stop();
    }
    leases.shutdown();
    // The lanes are joined: the publisher's last round has their final counts.
    lanes_stopped.store(true, Ordering::Release);
    let _ = publisher.join();
    let _ = refresher.join();
    let _ = std::fs::remove_dir_all(&cache);
    Ok(())
}

/// A worker's id: unique per process (host, process id and start time).
fn worker_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .unwrap_or_default()
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect::<String>();
    let host = if host.is_empty() {
        "worker".into()
    } else {
        host
    };
    format!(
        "{host}-{}-{:x}",
        std::process::id(),
        eddy_engine::clock::now_us() & 0xff_ffff_ffff
    )
}

/// Sleeps `d`, in slices, unless `stop` is set meanwhile.
fn sleep_unless(stop: &AtomicBool, d: Duration) {
    let wake = Instant::now() + d;
    while Instant::now() < wake && !stop.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(STOP_CHECK_MS).min(d));
    }
}

/// Every lane of every trigger, by unit key, with its trigger's id.
fn units_of(triggers: &BTreeMap<String, Running>) -> BTreeMap<String, String> {
    let mut units = BTreeMap::new();
    for (id, r) in triggers {
        for shard in 0..r.shards {
            for lane in 0..r.lanes {
                units.insert(key_of(id, r.lanes, shard, lane), id.clone());
            }
        }
    }
    units
}

/// Starts the lane of unit `key` (its lease was just taken): its first checkpoint is
/// stored if it has none, then its consumer thread runs.
fn start_lane(
    triggers: &BTreeMap<String, Running>,
    units: &BTreeMap<String, String>,
    key: &str,
) -> Option<RunningLane> {
    let id = units.get(key)?;
    let r = triggers.get(id)?;
    let mut parts = key.rsplitn(4, '.');
    let lane: u32 = parts.next()?.parse().ok()?;
    let shard: u16 = parts.next()?.parse().ok()?;
    let lane_id = LaneId {
        trigger: id,
        shard,
        lane,
    };
    if eddy_triggers::stream::LaneStore::load_checkpoint(r.store.as_ref(), lane_id).is_none() {
        // A lane new to a shard other lanes read (another ParallelizationFactor, which
        // sends items to other lanes) starts at the oldest of their checkpoints, as the
        // in-process runtime restarts them: records may come again, none is skipped.
        let max = eddy_triggers::stream::PARALLELIZATION_FACTOR_MAX;
        let siblings = (1..=max)
            .flat_map(|lanes| (0..lanes).map(move |l| (lanes, l)))
            .filter(|&(lanes, l)| (lanes, l) != (r.lanes, lane))
            .filter_map(|(lanes, l)| {
                r.store.checkpoint_with(
                    lanes,
                    LaneId {
                        trigger: id,
                        shard,
                        lane: l,
                    },
                )
            })
            .min();
        let first = match siblings {
            Some(p) => p,
            None => match r.source.start_position(shard, r.start_ms) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(unit = key, error = %e, "cannot find a lane's first position");
                    return None;
                }
            },
        };
        if let Err(e) = r.store.init_checkpoint(lane_id, first) {
            tracing::warn!(unit = key, error = %e, "cannot store a lane's first checkpoint");
            return None;
        }
    }
    let halt = Arc::new(AtomicBool::new(false));
    let thread = r
        .trigger
        .spawn_lane(
            &r.deps,
            (r.source.clone(), r.source.clone()),
            r.source.def(),
            (shard, lane),
            Arc::clone(&halt),
        )
        .map_err(|e| tracing::error!(unit = key, error = %e, "cannot start a lane thread"))
        .ok()?;
    Some(RunningLane {
        halt,
        thread,
        source: r.source.clone(),
    })
}

impl Worker {
    /// Fetches the triggers and functions from Eddy and brings this worker in line:
    /// new triggers are added, changed ones reconfigured, deleted ones stopped, and
    /// functions deployed when Eddy serves a new version. A failure keeps what runs and
    /// is said once until a refresh succeeds again.
    fn refresh(&mut self) {
        match self.try_refresh() {
            Ok(()) => {
                if self.refresh_failing {
                    tracing::info!("Eddy answers again: triggers and functions are current");
                }
                self.refresh_failing = false;
            }
            Err(e) => {
                if !self.refresh_failing {
                    tracing::warn!(error = %e, "cannot fetch triggers and functions from Eddy; retrying");
                }
                self.refresh_failing = true;
            }
        }
    }

    fn try_refresh(&mut self) -> Result<(), String> {
        let listed = self.eddy.get_json("/v1/triggers")?;
        let views = listed["EventSourceMappings"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let functions = self.eddy.get_json("/v1/functions")?;
        let served: HashMap<String, (u32, Value)> = functions["functions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| {
                Some((
                    f["name"].as_str()?.to_owned(),
                    (
                        u32::try_from(f["version"].as_u64()?).ok()?,
                        f["config"].clone(),
                    ),
                ))
            })
            .collect();
        let mut seen = Vec::new();
        for view in &views {
            // Triggers on another endpoint's stream run in Eddy itself.
            if view.get("SourceEndpoint").is_some_and(|v| !v.is_null()) {
                continue;
            }
            let Some(id) = view["UUID"].as_str() else {
                continue;
            };
            let Some((config, start_ms)) = config_of(view) else {
                continue;
            };
            seen.push(id.to_owned());
            self.sync_function(&config.function_name, &served)?;
            let known = lock(&self.triggers).get(id).cloned();
            match known {
                // The same lanes: the running ones read the new configuration.
                Some(r) if r.lanes == config.parallelization_factor.max(1) => {
                    if r.trigger.config() != config
                        && let Err(e) = r.trigger.set_config(config)
                    {
                        tracing::warn!(trigger = id, error = %e, "a changed trigger's configuration is refused");
                    }
                }
                // Other lanes: the old ones stop (their units are gone, their leases
                // are given back) and new ones start on new units.
                Some(r) => {
                    r.trigger.stop();
                    let running = self.add_trigger(id, config, start_ms)?;
                    lock(&self.triggers).insert(id.to_owned(), running);
                }
                None => {
                    let running = self.add_trigger(id, config, start_ms)?;
                    lock(&self.triggers).insert(id.to_owned(), running);
                }
            }
        }
        lock(&self.triggers).retain(|id, r| {
            let keep = seen.contains(id);
            if !keep {
                // Its lanes see the stop; the leases' next round gives their units up.
                r.trigger.stop();
            }
            keep
        });
        Ok(())
    }

    /// Deploys Eddy's served version of `name` here if this worker has another.
    fn sync_function(
        &mut self,
        name: &str,
        served: &HashMap<String, (u32, Value)>,
    ) -> Result<(), String> {
        let Some((version, _)) = served.get(name) else {
            // Not deployed on Eddy: the lanes fail their batches as "not deployed",
            // as in-process lanes do.
            if self.versions.remove(name).is_some() {
                let _ = self.functions.delete(name);
            }
            return Ok(());
        };
        if self.versions.get(name) == Some(version) {
            return Ok(());
        }
        let component = self
            .eddy
            .get_json(&format!("/v1/functions/{name}/component"))?;
        let wasm = base64::engine::general_purpose::STANDARD
            .decode(component["wasm_base64"].as_str().unwrap_or_default())
            .map_err(|e| format!("the component of {name}: {e}"))?;
        let config: FunctionConfig = serde_json::from_value(component["config"].clone())
            .map_err(|e| format!("the configuration of {name}: {e}"))?;
        let got = u32::try_from(component["version"].as_u64().unwrap_or(0)).unwrap_or(0);
        self.functions
            .deploy(name, &wasm, config)
            .map_err(|e| format!("deploying {name} here: {e}"))?;
        tracing::info!(function = name, version = got, "deployed from Eddy");
        self.versions.insert(name.to_owned(), got);
        Ok(())
    }

    /// A trigger new to this worker: its stream's shards from Eddy's DescribeStream.
    fn add_trigger(
        &self,
        id: &str,
        config: MappingConfig,
        start_ms: Option<u64>,
    ) -> Result<Running, String> {
        let arn = config.stream_arn.clone();
        let region = arn.split(':').nth(3).unwrap_or_default().to_owned();
        let shard_ids = self.describe_shards(&arn)?;
        let def = Arc::new(eddy_triggers::stream::remote_stream_def(
            &arn,
            &config.table_name,
            shard_ids.len(),
        ));
        let shards = def.shards;
        let source = Arc::new(JetStreamSource::new(
            self.handle.clone(),
            self.js.clone(),
            &region,
            def,
            shard_ids,
        ));
        let lanes = config.parallelization_factor.max(1);
        let store = Arc::new(KvLaneStore::new(
            self.handle.clone(),
            self.checkpoints.clone(),
            lanes,
        ));
        let base = &self.base;
        let deps = Arc::new(LaneDeps {
            executor: base.executor.clone(),
            functions: Arc::clone(&base.functions),
            tables: Arc::clone(&base.tables),
            store: store.clone(),
            failures: Arc::clone(&base.failures),
            region: base.region.clone(),
            account_id: base.account_id.clone(),
        });
        let trigger = Arc::new(DetachedTrigger::new(id, config).map_err(|e| e.to_string())?);
        Ok(Running {
            trigger,
            source,
            shards,
            lanes,
            deps,
            store,
            start_ms,
            instance: INSTANCES.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// The `ShardId`s of a stream, in Eddy's order (shard 0 first).
    fn describe_shards(&self, arn: &str) -> Result<Vec<String>, String> {
        let mut shard_ids = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..DESCRIBE_PAGES_MAX {
            let mut body = json!({ "StreamArn": arn, "Limit": DESCRIBE_SHARDS_PAGE_MAX });
            if let Some(a) = &after {
                body["ExclusiveStartShardId"] = Value::from(a.clone());
            }
            let answer = self
                .eddy
                .dynamodb("DescribeStream", body.to_string().as_bytes(), &[], true)
                .map_err(|e| format!("DescribeStream {arn}: {e}"))?;
            let v: Value = serde_json::from_slice(&answer).map_err(|e| e.to_string())?;
            let d = &v["StreamDescription"];
            for s in d["Shards"].as_array().into_iter().flatten() {
                if let Some(id) = s["ShardId"].as_str() {
                    shard_ids.push(id.to_owned());
                }
            }
            match d["LastEvaluatedShardId"].as_str() {
                Some(last) => after = Some(last.to_owned()),
                None => return Ok(shard_ids),
            }
        }
        Err(format!(
            "DescribeStream {arn}: more than {DESCRIBE_PAGES_MAX} pages of shards"
        ))
    }
}

/// A trigger's configuration from its view (`GET /v1/triggers`, Lambda's field names),
/// and the time a new lane's records count from (`None`: the stream's beginning).
fn config_of(v: &Value) -> Option<(MappingConfig, Option<u64>)> {
    let stream_arn = v["EventSourceArn"].as_str()?.to_owned();
    let table_name = stream_arn
        .split_once(":table/")?
        .1
        .split('/')
        .next()?
        .to_owned();
    let function_name = v["FunctionArn"]
        .as_str()?
        .rsplit_once(":function:")?
        .1
        .to_owned();
    let u32_of = |name: &str| v[name].as_u64().and_then(|n| u32::try_from(n).ok());
    let starting_position = match v["StartingPosition"].as_str()? {
        "TRIM_HORIZON" => StartingPosition::TrimHorizon,
        "AT_TIMESTAMP" => StartingPosition::AtTimestamp(
            (v["StartingPositionTimestamp"].as_f64().unwrap_or(0.0) * 1000.0) as u64,
        ),
        _ => StartingPosition::Latest,
    };
    let start_ms = match starting_position {
        StartingPosition::TrimHorizon => None,
        StartingPosition::AtTimestamp(ms) => Some(ms),
        // When the trigger was made (it has not been changed before its lanes started,
        // or they have checkpoints already).
        StartingPosition::Latest => {
            Some((v["LastModified"].as_f64().unwrap_or(0.0) * 1000.0) as u64)
        }
    };
    let filters = v["FilterCriteria"]["Filters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["Pattern"].as_str().map(str::to_owned))
        .collect();
    let config = MappingConfig {
        function_name,
        stream_id: 0,
        stream_arn,
        table_name,
        batch_size: u32_of("BatchSize")?,
        batching_window_s: u32_of("MaximumBatchingWindowInSeconds").unwrap_or(0),
        starting_position,
        parallelization_factor: u32_of("ParallelizationFactor").unwrap_or(1),
        maximum_retry_attempts: v["MaximumRetryAttempts"]
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(-1),
        maximum_record_age_s: v["MaximumRecordAgeInSeconds"].as_i64().unwrap_or(-1),
        bisect_on_error: v["BisectBatchOnFunctionError"].as_bool().unwrap_or(false),
        on_failure_table: v["DestinationConfig"]["OnFailure"]["Destination"]
            .as_str()
            .map(str::to_owned),
        report_batch_item_failures: v["FunctionResponseTypes"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t == "ReportBatchItemFailures")),
        filters,
        tumbling_window_s: u32_of("TumblingWindowInSeconds").unwrap_or(0),
        enabled: v["State"].as_str() != Some("Disabled"),
        source_endpoint: None,
    };
    Some((config, start_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trigger_view_becomes_the_configuration_it_shows() {
        let view = json!({
            "UUID": "u",
            "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:f",
            "EventSourceArn": "arn:aws:dynamodb:us-east-1:000000000000:table/t.x/stream/2024-01-01T00:00:00.000",
            "BatchSize": 7,
            "MaximumBatchingWindowInSeconds": 2,
            "StartingPosition": "LATEST",
            "ParallelizationFactor": 3,
            "MaximumRetryAttempts": 4,
            "MaximumRecordAgeInSeconds": 60,
            "BisectBatchOnFunctionError": true,
            "TumblingWindowInSeconds": 0,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "DestinationConfig": {"OnFailure": {"Destination": "dlq"}},
            "FilterCriteria": {"Filters": [{"Pattern": "{\"eventName\":[\"INSERT\"]}"}]},
            "State": "Enabled",
            "LastModified": 1_700_000_000.5,
        });
        let (c, start_ms) = config_of(&view).expect("a configuration");
        assert_eq!(c.function_name, "f");
        assert_eq!(c.table_name, "t.x");
        assert_eq!(
            (c.batch_size, c.batching_window_s, c.parallelization_factor),
            (7, 2, 3)
        );
        assert_eq!((c.maximum_retry_attempts, c.maximum_record_age_s), (4, 60));
        assert!(c.bisect_on_error && c.report_batch_item_failures && c.enabled);
        assert_eq!(c.on_failure_table.as_deref(), Some("dlq"));
        assert_eq!(c.filters, vec!["{\"eventName\":[\"INSERT\"]}".to_owned()]);
        // LATEST counts from when the trigger was made.
        assert_eq!(start_ms, Some(1_700_000_000_500));
        let disabled = json!({"State": "Disabled", "StartingPosition": "TRIM_HORIZON"});
        let mut view = view;
        view.as_object_mut()
            .expect("object")
            .extend(disabled.as_object().expect("object").clone());
        let (c, start_ms) = config_of(&view).expect("a configuration");
        assert!(!c.enabled);
        assert_eq!(start_ms, None);
    }
}
