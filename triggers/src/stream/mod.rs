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
mod filter;

use eddy_engine::clock::now_ms;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use eddy_engine::{Engine, StreamDef, StreamRecord};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::executor::{Executor, FunctionStore, TableApi};

pub use config::{
    BATCH_SIZE_DEFAULT, BATCH_SIZE_MAX, DestinationConfig, Filter, FilterCriteria, MappingConfig,
    MappingRequest, OnFailure, StartingPosition,
};
pub use filter::FilterPattern;

/// Builds the JSON of one change record as Lambda delivers it (DynamoDB's wire format
/// plus `eventSourceARN`). The host implements it; this crate does not know the wire
/// format.
pub trait EventCodec: Send + Sync {
    fn record(&self, record: &StreamRecord, stream: &StreamDef, event_source_arn: &str) -> Value;

    /// Appends the same record's JSON to `out`; override it to skip building a
    /// `Value` on the delivery path.
    fn write_record(
        &self,
        record: &StreamRecord,
        stream: &StreamDef,
        event_source_arn: &str,
        out: &mut Vec<u8>,
    ) {
        let v = self.record(record, stream, event_source_arn);
        // Writing a `Value` into a Vec cannot fail.
        let _ = serde_json::to_writer(out, &v);
    }
}

/// Triggers (event-source mappings) one server keeps. Every trigger runs a consumer
/// thread per shard lane, so their number is bounded: one more is refused (Lambda's
/// `ServiceQuotaExceededException`).
pub const TRIGGERS_MAX: usize = 128;

/// A mapping request that cannot be carried out. `Invalid` names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    /// A quota ([`TRIGGERS_MAX`]) would be exceeded.
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    Storage(String),
}

impl TriggerError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> TriggerError {
        TriggerError::Invalid {
            field,
            message: message.into(),
        }
    }
}

/// What the runtime needs from its host.
pub struct RuntimeDeps {
    pub engine: Engine,
    pub executor: Executor,
    pub functions: Arc<FunctionStore>,
    pub tables: Arc<dyn TableApi>,
    pub codec: Arc<dyn EventCodec>,
}

/// Counters of one mapping, as `GET /v1/triggers/{id}` and `/metrics` report them.
#[derive(Debug, Default)]
pub struct Metrics {
    pub invocations: AtomicU64,
    pub errors: AtomicU64,
    pub retries: AtomicU64,
    /// Attempts that did not reach the function (the executor's queue was full, or no
    /// instance slot came free before the deadline); retried without counting.
    pub throttles: AtomicU64,
    pub records_delivered: AtomicU64,
    pub filtered_out: AtomicU64,
    pub sent_to_failure_destination: AtomicU64,
    pub dropped: AtomicU64,
    pub trimmed_skips: AtomicU64,
    /// Records not delivered because they closed a recursive loop.
    pub recursion_stops: AtomicU64,
    /// Microseconds between the newest delivered record's commit and its delivery.
    pub iterator_age_us: AtomicU64,
    pub batch_duration_us_total: AtomicU64,
    pub batch_duration_us_last: AtomicU64,
}

/// A mapping's lifecycle state and last result, in Lambda's words.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Status {
    state: String,
    reason: String,
    last_result: String,
    last_modified_ms: u64,
}

/// The stored form of a mapping.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    id: String,
    config: MappingConfig,
    created_ms: u64,
    last_modified_ms: u64,
}

pub(crate) struct Mapping {
    pub id: String,
    pub config: RwLock<MappingConfig>,
    status: Mutex<Status>,
    pub metrics: Metrics,
    created_ms: u64,
    /// Set when the mapping is deleted (or the runtime stops): consumers exit.
    pub stopped: AtomicBool,
    workers: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl Mapping {
    pub(crate) fn set_result(&self, result: &str) {
        let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        if s.last_result != result {
            s.last_result = result.to_string();
        }
    }

    pub(crate) fn set_state(&self, state: &str, reason: &str) {
        let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        s.state = state.to_string();
        s.reason = reason.to_string();
    }
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
    mappings: Mutex<BTreeMap<String, Arc<Mapping>>>,
    /// Serializes changes (create, update, delete, shutdown): an update stops a
    /// mapping's consumers and starts new ones, and two at once would leave two sets
    /// running on the same checkpoints.
    control: Mutex<()>,
}

fn config_key(id: &str) -> Vec<u8> {
    format!("trigger/{id}/config").into_bytes()
}

pub(crate) fn checkpoint_key(id: &str, shard: u16, lane: u32) -> Vec<u8> {
    format!("trigger/{id}/ckpt/{shard:05}/{lane:02}").into_bytes()
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
        let rt = TriggerRuntime {
            inner: Arc::new(Runtime {
                deps,
                mappings: Mutex::new(BTreeMap::new()),
                control: Mutex::new(()),
            }),
        };
        let stored = rt
            .inner
            .deps
            .engine
            .system_scan(b"trigger/")
            .map_err(|e| TriggerError::Storage(e.to_string()))?;
        for (k, v) in stored {
            if !k.ends_with(b"/config") {
                continue;
            }
            let s: Stored = serde_json::from_slice(&v)
                .map_err(|e| TriggerError::Storage(format!("corrupt trigger: {e}")))?;
            let mapping = rt.install(s);
            rt.spawn_consumers(&mapping);
        }
        Ok(rt)
    }

    fn install(&self, s: Stored) -> Arc<Mapping> {
        let state = if s.config.enabled {
            "Enabled"
        } else {
            "Disabled"
        };
        let mapping = Arc::new(Mapping {
            id: s.id.clone(),
            config: RwLock::new(s.config),
            status: Mutex::new(Status {
                state: state.into(),
                reason: "User action".into(),
                last_result: "No records processed".into(),
                last_modified_ms: s.last_modified_ms,
            }),
            metrics: Metrics::default(),
            created_ms: s.created_ms,
            stopped: AtomicBool::new(false),
            workers: Mutex::new(Vec::new()),
        });
        self.inner
            .mappings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(s.id, Arc::clone(&mapping));
        mapping
    }

    fn persist(&self, m: &Mapping) -> Result<(), TriggerError> {
        let status = m.status.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let stored = Stored {
            id: m.id.clone(),
            config: m.config.read().unwrap_or_else(|e| e.into_inner()).clone(),
            created_ms: m.created_ms,
            last_modified_ms: status.last_modified_ms,
        };
        let bytes =
            serde_json::to_vec(&stored).map_err(|e| TriggerError::Storage(e.to_string()))?;
        self.inner
            .deps
            .engine
            .system_put(&config_key(&m.id), &bytes)
            .map_err(|e| TriggerError::Storage(e.to_string()))
    }

    /// Creates a mapping (`POST /v1/triggers`).
    pub fn create(&self, r: &MappingRequest) -> Result<Value, TriggerError> {
        let _one_change_at_a_time = self.inner.control.lock().unwrap_or_else(|e| e.into_inner());
        let engine = &self.inner.deps.engine;
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
        let count = self
            .inner
            .mappings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len();
        if count >= TRIGGERS_MAX {
            return Err(TriggerError::LimitExceeded(format!(
                "{count} triggers exist, the most this server keeps ({TRIGGERS_MAX}): delete \
                 one before creating another"
            )));
        }
        let stream = self.resolve_stream(r)?;
        let position = config::starting_position(
            r.starting_position.as_deref(),
            r.starting_position_timestamp,
        )?;
        let base = MappingConfig {
            function_name,
            stream_id: stream.id,
            stream_arn: engine.stream_arn(&stream),
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
        };
        let config = base.apply(r)?;
        check_supported(&config)?;
        let now = now_ms();
        let stored = Stored {
            id: new_uuid(),
            config,
            created_ms: now,
            last_modified_ms: now,
        };
        // Where each consumer starts is decided now and stored, so a restart neither
        // replays from the start nor skips what arrived meanwhile.
        self.write_initial_checkpoints(&stored, &stream)?;
        let mapping = self.install(stored);
        self.persist(&mapping)?;
        self.spawn_consumers(&mapping);
        Ok(self.view(&mapping))
    }

    fn resolve_stream(&self, r: &MappingRequest) -> Result<Arc<StreamDef>, TriggerError> {
        let engine = &self.inner.deps.engine;
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
        let engine = &self.inner.deps.engine;
        for shard in 0..stream.shards {
            let pos = match s.config.starting_position {
                StartingPosition::TrimHorizon => engine.trim_horizon(stream, shard),
                StartingPosition::Latest => engine.latest_position(),
                StartingPosition::AtTimestamp(ms) => {
                    consumer::position_at(engine, stream, shard, ms)?
                }
            };
            for lane in 0..s.config.parallelization_factor {
                engine
                    .system_put(&checkpoint_key(&s.id, shard, lane), &pos.to_be_bytes())
                    .map_err(|e| TriggerError::Storage(e.to_string()))?;
            }
        }
        Ok(())
    }

    fn spawn_consumers(&self, mapping: &Arc<Mapping>) {
        let cfg = mapping
            .config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(stream) = self.inner.deps.engine.stream(cfg.stream_id) else {
            mapping.set_state("Disabled", "The stream no longer exists");
            return;
        };
        let mut workers = mapping.workers.lock().unwrap_or_else(|e| e.into_inner());
        for shard in 0..stream.shards {
            for lane in 0..cfg.parallelization_factor {
                let c = consumer::Consumer::new(
                    Arc::clone(&self.inner),
                    Arc::clone(mapping),
                    Arc::clone(&stream),
                    shard,
                    lane,
                );
                let spawned = std::thread::Builder::new()
                    .name(format!("eddy-trigger-{shard}-{lane}"))
                    .spawn(move || c.run());
                match spawned {
                    Ok(h) => workers.push(h),
                    Err(e) => {
                        mapping.set_state("Disabled", &format!("cannot start a consumer: {e}"))
                    }
                }
            }
        }
    }

    fn stop_consumers(&self, mapping: &Mapping) {
        mapping.stopped.store(true, Ordering::Release);
        let workers: Vec<_> = mapping
            .workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect();
        for w in workers {
            let _ = w.join();
        }
        mapping.stopped.store(false, Ordering::Release);
    }

    fn mapping(&self, id: &str) -> Result<Arc<Mapping>, TriggerError> {
        self.inner
            .mappings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| TriggerError::NotFound(format!("Trigger not found: {id}")))
    }

    /// A snapshot of every mapping (the lock is not held while callers use them).
    fn all_mappings(&self) -> Vec<Arc<Mapping>> {
        self.inner
            .mappings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    pub fn list(&self) -> Vec<Value> {
        let all = self.all_mappings();
        all.iter().map(|m| self.view(m)).collect()
    }

    pub fn get(&self, id: &str) -> Result<Value, TriggerError> {
        let m = self.mapping(id)?;
        Ok(self.view(&m))
    }

    /// Changes a mapping (`PATCH /v1/triggers/{id}`): any field but the function's
    /// stream and starting position.
    pub fn update(&self, id: &str, r: &MappingRequest) -> Result<Value, TriggerError> {
        let _one_change_at_a_time = self.inner.control.lock().unwrap_or_else(|e| e.into_inner());
        let m = self.mapping(id)?;
        if r.event_source_arn.is_some() || r.table_name.is_some() {
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
        let current = m.config.read().unwrap_or_else(|e| e.into_inner()).clone();
        let mut next = current.clone().apply(r)?;
        if let Some(f) = &r.function_name {
            if self.inner.deps.functions.get(f).is_none() {
                return Err(TriggerError::NotFound(format!("Function not found: {f}")));
            }
            next.function_name.clone_from(f);
        }
        check_supported(&next)?;
        // Consumers restart with the new configuration. A new parallelization factor
        // redistributes items over lanes, so every lane restarts from the oldest lane
        // checkpoint of its shard: records may be delivered again, none is skipped.
        self.stop_consumers(&m);
        if next.parallelization_factor != current.parallelization_factor
            && let Some(stream) = self.inner.deps.engine.stream(current.stream_id)
        {
            for shard in 0..stream.shards {
                let oldest = (0..current.parallelization_factor)
                    .filter_map(|lane| {
                        consumer::load_checkpoint(&self.inner.deps.engine, id, shard, lane)
                    })
                    .min()
                    .unwrap_or_else(|| self.inner.deps.engine.trim_horizon(&stream, shard));
                for lane in 0..next.parallelization_factor {
                    self.inner
                        .deps
                        .engine
                        .system_put(&checkpoint_key(id, shard, lane), &oldest.to_be_bytes())
                        .map_err(|e| TriggerError::Storage(e.to_string()))?;
                }
            }
        }
        *m.config.write().unwrap_or_else(|e| e.into_inner()) = next.clone();
        {
            let mut s = m.status.lock().unwrap_or_else(|e| e.into_inner());
            s.last_modified_ms = now_ms();
            s.state = if next.enabled { "Enabled" } else { "Disabled" }.into();
            s.reason = "User action".into();
        }
        self.persist(&m)?;
        self.spawn_consumers(&m);
        Ok(self.view(&m))
    }

    pub fn delete(&self, id: &str) -> Result<Value, TriggerError> {
        let _one_change_at_a_time = self.inner.control.lock().unwrap_or_else(|e| e.into_inner());
        let m = self.mapping(id)?;
        self.stop_consumers(&m);
        m.stopped.store(true, Ordering::Release);
        self.inner
            .mappings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        let engine = &self.inner.deps.engine;
        let keys = engine
            .system_scan(format!("trigger/{id}/").as_bytes())
            .map_err(|e| TriggerError::Storage(e.to_string()))?;
        for (k, _) in keys {
            engine
                .system_delete(&k)
                .map_err(|e| TriggerError::Storage(e.to_string()))?;
        }
        m.set_state("Deleting", "User action");
        Ok(self.view(&m))
    }

    /// Stops every consumer (server shutdown); checkpoints are already durable.
    pub fn shutdown(&self) {
        let _one_change_at_a_time = self.inner.control.lock().unwrap_or_else(|e| e.into_inner());
        let all = self.all_mappings();
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

    /// A mapping in Lambda's `EventSourceMappingConfiguration` shape, plus Eddy's
    /// metrics.
    fn view(&self, m: &Mapping) -> Value {
        let c = m.config.read().unwrap_or_else(|e| e.into_inner()).clone();
        let s = m.status.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let region = &self.inner.deps.engine.config().region;
        let account = &self.inner.deps.engine.config().account_id;
        let mt = &m.metrics;
        let invocations = mt.invocations.load(Ordering::Relaxed);
        let mut v = json!({
            "UUID": m.id,
            "FunctionArn": format!("arn:aws:lambda:{region}:{account}:function:{}", c.function_name),
            "EventSourceArn": c.stream_arn,
            "BatchSize": c.batch_size,
            "MaximumBatchingWindowInSeconds": c.batching_window_s,
            "StartingPosition": c.starting_position.as_str(),
            "ParallelizationFactor": c.parallelization_factor,
            "MaximumRetryAttempts": c.maximum_retry_attempts,
            "MaximumRecordAgeInSeconds": c.maximum_record_age_s,
            "BisectBatchOnFunctionError": c.bisect_on_error,
            "TumblingWindowInSeconds": c.tumbling_window_s,
            "FunctionResponseTypes": if c.report_batch_item_failures { vec!["ReportBatchItemFailures"] } else { vec![] },
            "DestinationConfig": { "OnFailure": c.on_failure_table.as_ref().map_or(json!({}), |t| json!({ "Destination": t })) },
            "FilterCriteria": { "Filters": c.filters.iter().map(|p| json!({ "Pattern": p })).collect::<Vec<_>>() },
            "State": s.state,
            "StateTransitionReason": s.reason,
            "LastProcessingResult": s.last_result,
            "LastModified": s.last_modified_ms as f64 / 1000.0,
            "Metrics": {
                "Invocations": invocations,
                "Errors": mt.errors.load(Ordering::Relaxed),
                "Retries": mt.retries.load(Ordering::Relaxed),
                "Throttles": mt.throttles.load(Ordering::Relaxed),
                "RecordsDelivered": mt.records_delivered.load(Ordering::Relaxed),
                "FilteredOut": mt.filtered_out.load(Ordering::Relaxed),
                "SentToFailureDestination": mt.sent_to_failure_destination.load(Ordering::Relaxed),
                "Dropped": mt.dropped.load(Ordering::Relaxed),
                "TrimmedSkips": mt.trimmed_skips.load(Ordering::Relaxed),
                "RecursionStops": mt.recursion_stops.load(Ordering::Relaxed),
                "IteratorAgeMilliseconds": mt.iterator_age_us.load(Ordering::Relaxed) as f64 / 1000.0,
                "BatchDurationMillisecondsLast": mt.batch_duration_us_last.load(Ordering::Relaxed) as f64 / 1000.0,
                "BatchDurationMillisecondsAverage": if invocations == 0 { 0.0 } else {
                    mt.batch_duration_us_total.load(Ordering::Relaxed) as f64 / 1000.0 / invocations as f64
                },
            },
        });
        if let StartingPosition::AtTimestamp(ms) = c.starting_position {
            v["StartingPositionTimestamp"] = json!(ms as f64 / 1000.0);
        }
        v
    }

    /// Every mapping's counters in Prometheus' text format.
    pub fn metrics_text(&self) -> String {
        let all = self.all_mappings();
        let mut out = String::new();
        // (series name, Prometheus type, how to read it from a mapping's counters)
        type Series = (&'static str, &'static str, fn(&Metrics) -> f64);
        let series: [Series; 11] = [
            ("eddy_trigger_invocations_total", "counter", |m| {
                m.invocations.load(Ordering::Relaxed) as f64
            }),
            ("eddy_trigger_errors_total", "counter", |m| {
                m.errors.load(Ordering::Relaxed) as f64
            }),
            ("eddy_trigger_retries_total", "counter", |m| {
                m.retries.load(Ordering::Relaxed) as f64
            }),
            ("eddy_trigger_throttles_total", "counter", |m| {
                m.throttles.load(Ordering::Relaxed) as f64
            }),
            ("eddy_trigger_records_delivered_total", "counter", |m| {
                m.records_delivered.load(Ordering::Relaxed) as f64
            }),
            ("eddy_trigger_filtered_out_total", "counter", |m| {
                m.filtered_out.load(Ordering::Relaxed) as f64
            }),
            (
                "eddy_trigger_sent_to_failure_destination_total",
                "counter",
                |m| m.sent_to_failure_destination.load(Ordering::Relaxed) as f64,
            ),
            ("eddy_trigger_dropped_total", "counter", |m| {
                m.dropped.load(Ordering::Relaxed) as f64
            }),
            ("eddy_trigger_iterator_age_seconds", "gauge", |m| {
                m.iterator_age_us.load(Ordering::Relaxed) as f64 / 1e6
            }),
            ("eddy_trigger_batch_duration_seconds_last", "gauge", |m| {
                m.batch_duration_us_last.load(Ordering::Relaxed) as f64 / 1e6
            }),
            (
                "eddy_trigger_batch_duration_seconds_total",
                "counter",
                |m| m.batch_duration_us_total.load(Ordering::Relaxed) as f64 / 1e6,
            ),
        ];
        for (name, kind, get) in series {
            out.push_str(&format!("# TYPE {name} {kind}\n"));
            for m in &all {
                let function = m
                    .config
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .function_name
                    .clone();
                out.push_str(&format!(
                    "{name}{{trigger=\"{}\",function=\"{function}\"}} {}\n",
                    m.id,
                    get(&m.metrics)
                ));
            }
        }
        out
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
