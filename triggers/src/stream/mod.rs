//! The stream trigger: Lambda event-source mappings over Eddy's stream log.
//!
//! A mapping attaches a deployed function to a table's stream. For every shard (times
//! `ParallelizationFactor` lanes, each lane owning the items whose key hashes to it, so
//! per-item order holds) one consumer thread reads records from its durable
//! checkpoint, drops what the filters reject, hands batches to the executor, and moves
//! the checkpoint only when a batch is handled — by the function, or by the failure
//! destination once retries or record age run out. Consumers sleep in
//! `Engine::wait_for_records`, so a commit wakes them: there is no poll interval.
//!
//! This module owns mapping configuration, checkpoints and the delivery semantics. It
//! does not know HTTP; the record JSON comes from the host through [`EventCodec`], the
//! one place that knows DynamoDB's wire format.

mod config;
mod consumer;
mod detached;
mod failures;
mod filter;
mod lanes;
mod mapping;
mod remote;
mod render;
mod source;
mod view;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use eddy_engine::clock::now_ms;
use eddy_engine::sync::{lock, read, write};
use eddy_engine::{Engine, StreamDef};

use crate::error::TriggerError;
use crate::executor::{Executor, FunctionStore, TableApi};
use crate::registry::Registry;
use mapping::{Counters, Live, Mapping, STATE_CREATING, Status, Stored, checkpoint_key};

pub use config::{
    BATCH_SIZE_DEFAULT, BATCH_SIZE_MAX, DestinationConfig, Filter, FilterCriteria, MappingConfig,
    MappingRequest, OnFailure, PARALLELIZATION_FACTOR_MAX, StartingPosition,
};
pub use consumer::RECURSION_HOPS_MAX;
pub use detached::DetachedTrigger;
pub use failures::{RECENT_ERRORS_MAX, RecentError};
pub use filter::FilterPattern;
pub use lanes::{EngineFailureSink, EngineLaneStore, FailureSink, LaneDeps, LaneId, LaneStore};
pub use mapping::TriggerMetrics;
pub use remote::{RemoteError, StreamsApi, aws_endpoint, remote_stream_def};
pub use render::EventCodec;
pub use source::{EngineSource, SourceError, SourceRead, SourceShard, StreamSource};
pub use view::{
    DestinationView, FilterCriteriaView, FilterView, MetricsView, OnFailureView, ReportedStatus,
    TriggerSeries, TriggerView,
};

/// Triggers (event-source mappings) one server keeps. Every trigger runs a consumer
/// thread per shard lane, so their number is bounded: one more is refused (Lambda's
/// `ServiceQuotaExceededException`).
pub const TRIGGERS_MAX: usize = 128;

/// What a mapping's consumers share: where they read and how records are written.
struct Lanes {
    mapping: Arc<Mapping>,
    source: Arc<dyn StreamSource>,
    codec: Arc<dyn EventCodec>,
    stream: Arc<StreamDef>,
}

/// What the runtime needs from its host.
pub struct RuntimeDeps {
    pub engine: Engine,
    pub executor: Executor,
    pub functions: Arc<FunctionStore>,
    pub tables: Arc<dyn TableApi>,
    pub codec: Arc<dyn EventCodec>,
    /// Sends DynamoDB Streams calls to remote endpoints, for triggers on a remote
    /// stream (`SourceEndpoint`); `None` refuses them.
    pub streams_api: Option<Arc<dyn StreamsApi>>,
}

/// The stream trigger runtime: every mapping and its consumers.
#[derive(Clone)]
pub struct TriggerRuntime {
    pub(crate) inner: Arc<Runtime>,
}

impl std::fmt::Debug for TriggerRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TriggerRuntime").finish_non_exhaustive()
    }
}

pub(crate) struct Runtime {
    pub deps: RuntimeDeps,
    /// Where consumers read records: the embedded engine's stream log.
    pub source: Arc<dyn StreamSource>,
    /// What every consumer is handed: lane state and failed batches in the engine.
    lanes: Arc<LaneDeps>,
    /// Whether this process runs the consumers of triggers on its own streams; `false`
    /// when trigger workers (`eddy worker`) run them from NATS JetStream.
    local_consumers: bool,
    registry: Registry<Mapping>,
    /// What trigger workers report of the triggers they run, by id (merged by the
    /// host); empty when this process runs its triggers.
    reported: RwLock<HashMap<String, ReportedStatus>>,
}

/// A random UUID (version 4 layout), from the OS-seeded hasher keys.
fn new_uuid() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut words = [0u64; 2];
    for (i, w) in words.iter_mut().enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(now_ms());
        h.write_usize(i);
        *w = h.finish();
    }
    let (a, b) = (words[0], words[1]);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

impl TriggerRuntime {
    /// Loads the stored mappings and starts their consumers.
    pub fn start(deps: RuntimeDeps) -> Result<TriggerRuntime, TriggerError> {
        TriggerRuntime::start_placed(deps, true)
    }

    /// Loads the stored mappings, but leaves the consumers of triggers on this server's
    /// own streams to trigger workers (`eddy serve --trigger-workers`): mappings are
    /// created, listed, updated and deleted as always, and their initial checkpoints
    /// stored, but no consumer runs here. Triggers on a remote stream still run here
    /// (their mirror is this server's).
    pub fn start_for_workers(deps: RuntimeDeps) -> Result<TriggerRuntime, TriggerError> {
        TriggerRuntime::start_placed(deps, false)
    }

    fn start_placed(
        deps: RuntimeDeps,
        local_consumers: bool,
    ) -> Result<TriggerRuntime, TriggerError> {
        let registry = Registry::new(deps.engine.clone(), TRIGGERS_MAX);
        let source = Arc::new(EngineSource::new(deps.engine.clone()));
        let config = deps.engine.config();
        let lanes = Arc::new(LaneDeps {
            executor: deps.executor.clone(),
            functions: Arc::clone(&deps.functions),
            tables: Arc::clone(&deps.tables),
            store: Arc::new(EngineLaneStore {
                engine: deps.engine.clone(),
            }),
            failures: Arc::new(EngineFailureSink {
                engine: deps.engine.clone(),
            }),
            region: config.region.clone(),
            account_id: config.account_id.clone(),
        });
        let rt = TriggerRuntime {
            inner: Arc::new(Runtime {
                deps,
                source,
                lanes,
                local_consumers,
                registry,
                reported: RwLock::new(HashMap::new()),
            }),
        };
        for stored in rt.inner.registry.load()? {
            let mapping = rt.install(stored);
            rt.spawn_consumers(&mapping);
        }
        Ok(rt)
    }

    fn registry(&self) -> &Registry<Mapping> {
        &self.inner.registry
    }

    fn engine(&self) -> &Engine {
        &self.inner.deps.engine
    }

    /// Makes a stored mapping live. Its filters were checked when it was saved; one
    /// that no longer compiles (a stored definition changed by hand) disables the
    /// mapping rather than delivering what the filters would have held back.
    fn install(&self, s: Stored) -> Arc<Mapping> {
        let (live, broken) = match Live::compile(s.config.clone()) {
            Ok(live) => (live, None),
            Err(e) => (
                Live {
                    config: MappingConfig {
                        enabled: false,
                        ..s.config
                    },
                    filters: Vec::new(),
                },
                Some(e),
            ),
        };
        let state = if live.config.enabled {
            "Enabled"
        } else {
            "Disabled"
        };
        let mapping = Arc::new(Mapping {
            id: s.id.clone(),
            live: RwLock::new(Arc::new(live)),
            status: Mutex::new(Status {
                state: state.into(),
                reason: "User action".into(),
                last_result: "No records processed".into(),
                last_result_ms: 0,
                last_modified_ms: s.last_modified_ms,
            }),
            metrics: Counters::default(),
            recent_errors: Default::default(),
            created_ms: s.created_ms,
            stopped: AtomicBool::new(false),
            starting: AtomicUsize::new(0),
            workers: Mutex::new(Vec::new()),
        });
        if let Some(e) = broken {
            tracing::error!(trigger = %s.id, error = %e, "a stored trigger's filter does not compile; it stays disabled");
            mapping.set_state(
                "Disabled",
                &format!("The stored filters do not compile: {e}"),
            );
        }
        self.registry().insert(s.id, Arc::clone(&mapping));
        mapping
    }

    /// Creates a mapping (`POST /v1/triggers`).
    pub fn create(&self, r: &MappingRequest) -> Result<TriggerView, TriggerError> {
        let _one_change_at_a_time = self.registry().change();
        let engine = self.engine();
        let function_name = r
            .function_name
            .clone()
            .ok_or_else(|| TriggerError::invalid("FunctionName", "is required"))?;
        let function_name = function_name
            .rsplit_once(":function:")
            .map_or(function_name.clone(), |(_, n)| n.to_string());
        if self.inner.deps.functions.get(&function_name).is_none() {
            return Err(TriggerError::NotFound(format!(
                "Function not found: {function_name}"
            )));
        }
        self.registry().check_room()?;
        let remote_endpoint = self.remote_endpoint(r)?;
        let (stream, stream_arn, remote_shards) = match &remote_endpoint {
            Some(endpoint) => self.describe_remote(r, endpoint)?,
            None => {
                let stream = self.resolve_stream(r)?;
                let arn = engine.stream_arn(&stream);
                (stream, arn, Vec::new())
            }
        };
        let position = config::starting_position(r.starting_position.as_deref(), &stream_arn)?;
        let base = MappingConfig {
            function_name,
            stream_id: stream.id,
            stream_arn,
            table_name: stream.table_name.clone(),
            batch_size: BATCH_SIZE_DEFAULT,
            batching_window_s: 0,
            starting_position: position,
            parallelization_factor: 1,
            maximum_retry_attempts: -1,
            maximum_record_age_s: -1,
            bisect_on_error: false,
            on_failure_table: None,
            report_batch_item_failures: false,
            filters: Vec::new(),
            tumbling_window_s: 0,
            enabled: true,
            source_endpoint: remote_endpoint.clone(),
        };
        let config = base.apply(r)?;
        self.check_request_destination(r)?;
        check_supported(&config)?;
        // Compiled now, so a bad pattern is refused before anything is stored.
        Live::compile(config.clone())?;
        let now = now_ms();
        let stored = Stored {
            id: new_uuid(),
            config,
            created_ms: now,
            last_modified_ms: now,
        };
        // Where each consumer starts is decided now and stored, so a restart neither
        // replays from the start nor skips what arrived meanwhile.
        if remote_endpoint.is_some() {
            self.write_remote_start(&stored, &remote_shards)?;
        } else {
            self.write_initial_checkpoints(&stored, &stream)?;
        }
        let mapping = self.install(stored);
        self.registry().persist(&mapping.id, &mapping.stored())?;
        // Lambda answers a new mapping as `Creating` and reports it `Enabled` once it
        // polls: here, once every consumer has loaded its checkpoint and runs. The
        // answer is taken before they start, so it is always `Creating`.
        let lanes = usize::from(stream.shards) * mapping.config().parallelization_factor as usize;
        mapping.starting.store(lanes, Ordering::Release);
        mapping.set_state(STATE_CREATING, "User action");
        let created = self.view(&mapping);
        self.spawn_consumers(&mapping);
        if lanes == 0 {
            mapping.creation_done();
        }
        Ok(created)
    }

    /// Checks the failure destination a request names, as Lambda checks an `OnFailure`
    /// destination when a mapping is created or updated: one Eddy cannot write to is
    /// refused before anything is saved.
    fn check_request_destination(&self, r: &MappingRequest) -> Result<(), TriggerError> {
        let destination = r
            .destination_config
            .as_ref()
            .and_then(|d| d.on_failure.as_ref())
            .and_then(|o| o.destination.as_deref());
        match destination {
            Some(d) => consumer::check_destination(self.engine(), d),
            None => Ok(()),
        }
    }

    fn resolve_stream(&self, r: &MappingRequest) -> Result<Arc<StreamDef>, TriggerError> {
        let engine = self.engine();
        let latest_of = |table: &str| -> Result<Arc<StreamDef>, TriggerError> {
            engine
                .list_streams(Some(table))
                .into_iter()
                .filter(|s| s.is_enabled())
                .max_by_key(|s| s.id)
                .ok_or_else(|| {
                    TriggerError::invalid(
                        "EventSourceArn",
                        format!("table {table} has no enabled stream: enable one with UpdateTable StreamSpecification"),
                    )
                })
        };
        match (&r.event_source_arn, &r.table_name) {
            (Some(arn), _) if arn.contains("/stream/") => engine
                .stream_by_arn(arn)
                .ok_or_else(|| TriggerError::NotFound(format!("Stream not found: {arn}"))),
            (Some(arn), _) => latest_of(&config::table_name_of(arn)),
            (None, Some(t)) => latest_of(t),
            (None, None) => Err(TriggerError::invalid(
                "EventSourceArn",
                "is required (a stream ARN), or give TableName",
            )),
        }
    }

    fn write_initial_checkpoints(
        &self,
        s: &Stored,
        stream: &StreamDef,
    ) -> Result<(), TriggerError> {
        let (engine, source) = (self.engine(), &self.inner.source);
        for SourceShard { shard, .. } in source.shards(stream) {
            let pos = match s.config.starting_position {
                StartingPosition::TrimHorizon => source.trim_horizon(stream, shard),
                StartingPosition::Latest => source.latest(),
                StartingPosition::AtTimestamp(ms) => source.position_at(stream, shard, ms)?,
            };
            for lane in 0..s.config.parallelization_factor {
                engine.system_put(&checkpoint_key(&s.id, shard, lane), &pos.to_be_bytes())?;
            }
        }
        Ok(())
    }

    fn spawn_consumers(&self, mapping: &Arc<Mapping>) {
        let cfg = mapping.config();
        if !self.inner.local_consumers && cfg.source_endpoint.is_none() {
            // Trigger workers run it: it is as created as it gets here.
            mapping.creation_done();
            return;
        }
        let mut workers = lock(&mapping.workers);
        let remote = cfg
            .source_endpoint
            .as_ref()
            .map(|_| self.remote_source(&mapping.id, &cfg));
        let (source, codec): (Arc<dyn StreamSource>, Arc<dyn EventCodec>) = match &remote {
            None => (
                Arc::clone(&self.inner.source),
                Arc::clone(&self.inner.deps.codec),
            ),
            Some(src) => (src.clone(), src.clone()),
        };
        let Some(stream) = source.stream(cfg.stream_id) else {
            mapping.set_state("Disabled", "The stream no longer exists");
            return;
        };
        let lanes = Lanes {
            mapping: Arc::clone(mapping),
            source,
            codec,
            stream,
        };
        for SourceShard { shard, .. } in lanes.source.shards(&lanes.stream) {
            self.spawn_shard(&lanes, shard, &mut workers);
        }
        if let (Some(src), Some(endpoint)) = (remote, &cfg.source_endpoint) {
            // The poller starts the consumers of shards it discovers later.
            let rt = self.clone();
            let on_new_shard = Box::new(move |shard: u16| {
                let mut workers = lock(&lanes.mapping.workers);
                // Checked under the lock that `stop_consumers` drains: a consumer
                // started here is always joined with the others.
                if !lanes.mapping.stopped.load(Ordering::Acquire) {
                    rt.spawn_shard(&lanes, shard, &mut workers);
                }
            });
            match self.start_poller(mapping, &cfg, endpoint, src, on_new_shard) {
                Ok(poller) => workers.push(poller),
                Err(e) => mapping.set_state("Disabled", &e),
            }
        }
    }

    /// Starts the consumer threads of one shard (one per lane).
    fn spawn_shard(
        &self,
        lanes: &Lanes,
        shard: u16,
        workers: &mut Vec<std::thread::JoinHandle<()>>,
    ) {
        let mapping = &lanes.mapping;
        for lane in 0..mapping.config().parallelization_factor {
            let c = consumer::Consumer::new(
                Arc::clone(&self.inner.lanes),
                Arc::clone(mapping),
                (Arc::clone(&lanes.source), Arc::clone(&lanes.codec)),
                Arc::clone(&lanes.stream),
                (shard, lane),
                None,
            );
            let spawned = std::thread::Builder::new()
                .name(format!("eddy-trigger-{shard}-{lane}"))
                .spawn(move || c.run());
            match spawned {
                Ok(h) => workers.push(h),
                Err(e) => {
                    tracing::error!(trigger = %mapping.id, shard, lane, error = %e, "cannot start a consumer thread");
                    mapping.set_state("Disabled", &format!("cannot start a consumer: {e}"))
                }
            }
        }
    }

    fn stop_consumers(&self, mapping: &Mapping) {
        mapping.stopped.store(true, Ordering::Release);
        let workers: Vec<_> = lock(&mapping.workers).drain(..).collect();
        for w in workers {
            let _ = w.join();
        }
        mapping.stopped.store(false, Ordering::Release);
    }

    /// Every mapping, in id order.
    pub fn list(&self) -> Vec<TriggerView> {
        let all = self.registry().all();
        all.iter().map(|m| self.view(m)).collect()
    }

    /// How many mappings exist.
    pub fn len(&self) -> usize {
        self.registry().len()
    }

    /// Whether no mapping exists.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, id: &str) -> Result<TriggerView, TriggerError> {
        let m = self.registry().get(id)?;
        Ok(self.view(&m))
    }

    /// Changes a mapping (`PATCH /v1/triggers/{id}`): any field but the function's
    /// stream and starting position.
    pub fn update(&self, id: &str, r: &MappingRequest) -> Result<TriggerView, TriggerError> {
        let _one_change_at_a_time = self.registry().change();
        let m = self.registry().get(id)?;
        if r.event_source_arn.is_some() || r.table_name.is_some() || r.source_endpoint.is_some() {
            return Err(TriggerError::invalid(
                "EventSourceArn",
                "cannot be changed; create a new trigger",
            ));
        }
        if r.starting_position.is_some() || r.starting_position_timestamp.is_some() {
            return Err(TriggerError::invalid(
                "StartingPosition",
                "cannot be changed; create a new trigger",
            ));
        }
        let current = m.config();
        let mut next = current.clone().apply(r)?;
        if let Some(f) = &r.function_name {
            if self.inner.deps.functions.get(f).is_none() {
                return Err(TriggerError::NotFound(format!("Function not found: {f}")));
            }
            next.function_name.clone_from(f);
        }
        self.check_request_destination(r)?;
        check_supported(&next)?;
        let next = Live::compile(next)?;
        // Consumers restart with the new configuration. A new parallelization factor
        // redistributes items over lanes, so every lane restarts from the oldest lane
        // checkpoint of its shard: records may be delivered again, none is skipped.
        self.stop_consumers(&m);
        let engine = self.engine();
        let source = self.source_of(id, &current);
        if next.config.parallelization_factor != current.parallelization_factor
            && let Some(stream) = source.stream(current.stream_id)
        {
            for SourceShard { shard, .. } in source.shards(&stream) {
                let oldest = (0..current.parallelization_factor)
                    .filter_map(|lane| consumer::load_checkpoint(engine, id, shard, lane))
                    .min()
                    .unwrap_or_else(|| source.trim_horizon(&stream, shard));
                for lane in 0..next.config.parallelization_factor {
                    engine.system_put(&checkpoint_key(id, shard, lane), &oldest.to_be_bytes())?;
                }
            }
        }
        let enabled = next.config.enabled;
        *write(&m.live) = Arc::new(next);
        {
            let mut s = lock(&m.status);
            s.last_modified_ms = now_ms();
            s.state = if enabled { "Enabled" } else { "Disabled" }.into();
            s.reason = "User action".into();
        }
        self.registry().persist(&m.id, &m.stored())?;
        self.spawn_consumers(&m);
        Ok(self.view(&m))
    }

    pub fn delete(&self, id: &str) -> Result<TriggerView, TriggerError> {
        let _one_change_at_a_time = self.registry().change();
        let m = self.registry().get(id)?;
        self.stop_consumers(&m);
        m.stopped.store(true, Ordering::Release);
        self.registry().remove(id);
        self.registry().erase(id)?;
        m.set_state("Deleting", "User action");
        Ok(self.view(&m))
    }

    /// Stops every consumer (server shutdown); checkpoints are already durable.
    pub fn shutdown(&self) {
        let _one_change_at_a_time = self.registry().change();
        let all = self.registry().all();
        // Every consumer is told first, so that they all wind down at once and the joins
        // below do not add up.
        for m in &all {
            m.stopped.store(true, Ordering::Release);
        }
        for m in all {
            self.stop_consumers(&m);
            m.stopped.store(true, Ordering::Release);
        }
    }

    fn view(&self, m: &Mapping) -> TriggerView {
        let config = self.engine().config();
        let reported = read(&self.inner.reported);
        view::view(m, reported.get(&m.id), &config.region, &config.account_id)
    }

    /// Every mapping's counters, for `/metrics`.
    pub fn metrics(&self) -> Vec<TriggerSeries> {
        let reported = read(&self.inner.reported);
        self.registry()
            .all()
            .iter()
            .map(|m| view::series(m, reported.get(&m.id)))
            .collect()
    }

    /// The ids of every mapping, in id order.
    pub fn ids(&self) -> Vec<String> {
        self.registry().all().iter().map(|m| m.id.clone()).collect()
    }

    /// Replaces what trigger workers report of the triggers they run (by trigger id,
    /// merged over the workers): every view of a trigger named here shows it in place
    /// of this process's own counters, result and errors.
    pub fn set_reported(&self, reported: HashMap<String, ReportedStatus>) {
        *write(&self.inner.reported) = reported;
    }
}

/// Combinations Lambda refuses.
fn check_supported(c: &MappingConfig) -> Result<(), TriggerError> {
    if c.tumbling_window_s > 0 && c.parallelization_factor > 1 {
        // Window state is per shard on Lambda; Eddy keeps it per lane, which would
        // split one window's aggregate into several.
        return Err(TriggerError::invalid(
            "TumblingWindowInSeconds",
            "cannot be combined with a ParallelizationFactor above 1",
        ));
    }
    Ok(())
}
