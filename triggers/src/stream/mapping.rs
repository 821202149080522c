//! One mapping as the runtime keeps it: its stored definition, its live state (status,
//! counters, consumer threads) and the system keys of its state.
//!
//! Owns the mapping's stored form and where its checkpoints and window state live. Must
//! not know how consumers deliver nor how a mapping is shown.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};

use eddy_engine::sync::{lock, read};
use serde::{Deserialize, Serialize};

use super::config::MappingConfig;
use super::failures::RecentErrors;
use super::filter::FilterPattern;
use crate::registry::{Definition, Entry};

/// The stored form of a mapping.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Stored {
    pub id: String,
    pub config: MappingConfig,
    pub created_ms: u64,
    pub last_modified_ms: u64,
}

impl Definition for Stored {
    const KIND: &'static str = "trigger";
    const TITLE: &'static str = "Trigger";
    const PREFIX: &'static str = "trigger/";

    fn key(id: &str) -> Vec<u8> {
        format!("trigger/{id}/config").into_bytes()
    }

    fn state_prefix(id: &str) -> Option<Vec<u8>> {
        Some(format!("trigger/{id}/").into_bytes())
    }

    fn is_key(key: &[u8]) -> bool {
        key.ends_with(b"/config")
    }
}

/// Where a lane's checkpoint is kept.
pub(crate) fn checkpoint_key(id: &str, shard: u16, lane: u32) -> Vec<u8> {
    format!("trigger/{id}/ckpt/{shard:05}/{lane:02}").into_bytes()
}

/// Where a lane's tumbling-window state is kept (next to its checkpoint).
pub(crate) fn window_key(id: &str, shard: u16, lane: u32) -> Vec<u8> {
    format!("trigger/{id}/window/{shard:05}/{lane:02}").into_bytes()
}

/// Counters of one mapping, as `GET /v1/triggers/{id}` and `/metrics` report them.
#[derive(Debug, Default)]
pub(crate) struct Counters {
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

/// A mapping's counters at one moment (serialized as trigger workers report them to
/// Eddy).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TriggerMetrics {
    pub invocations: u64,
    pub errors: u64,
    pub retries: u64,
    pub throttles: u64,
    pub records_delivered: u64,
    pub filtered_out: u64,
    pub sent_to_failure_destination: u64,
    pub dropped: u64,
    pub trimmed_skips: u64,
    pub recursion_stops: u64,
    pub iterator_age_us: u64,
    pub batch_duration_us_total: u64,
    pub batch_duration_us_last: u64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> TriggerMetrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TriggerMetrics {
            invocations: get(&self.invocations),
            errors: get(&self.errors),
            retries: get(&self.retries),
            throttles: get(&self.throttles),
            records_delivered: get(&self.records_delivered),
            filtered_out: get(&self.filtered_out),
            sent_to_failure_destination: get(&self.sent_to_failure_destination),
            dropped: get(&self.dropped),
            trimmed_skips: get(&self.trimmed_skips),
            recursion_stops: get(&self.recursion_stops),
            iterator_age_us: get(&self.iterator_age_us),
            batch_duration_us_total: get(&self.batch_duration_us_total),
            batch_duration_us_last: get(&self.batch_duration_us_last),
        }
    }
}

/// The state of a mapping whose consumers are not all running yet (Lambda's word).
pub(crate) const STATE_CREATING: &str = "Creating";

/// A mapping's lifecycle state and last result, in Lambda's words.
#[derive(Debug, Clone)]
pub(crate) struct Status {
    pub state: String,
    pub reason: String,
    pub last_result: String,
    /// When `last_result` was last set (epoch ms; 0: never), so that results reported
    /// by several processes are ordered by time.
    pub last_result_ms: u64,
    pub last_modified_ms: u64,
}

/// A mapping's configuration with its filters compiled: what consumers read each round.
#[derive(Debug, Clone)]
pub(crate) struct Live {
    pub config: MappingConfig,
    /// The compiled form of `config.filters`, compiled when the mapping was saved.
    pub filters: Vec<FilterPattern>,
}

pub(crate) struct Mapping {
    pub id: String,
    pub live: RwLock<std::sync::Arc<Live>>,
    pub status: Mutex<Status>,
    pub metrics: Counters,
    /// The last errors of its consumers, as `GET /v1/triggers/{id}` shows them.
    pub recent_errors: RecentErrors,
    pub created_ms: u64,
    /// Set when the mapping is deleted (or the runtime stops): consumers exit.
    pub stopped: AtomicBool,
    /// Consumers of a new mapping that have not started yet: it is `Creating` (as
    /// Lambda reports a new mapping) until the last of them has its checkpoint.
    pub starting: AtomicUsize,
    pub workers: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl Entry for Mapping {
    type Def = Stored;
}

impl Mapping {
    /// The current configuration and compiled filters (shared, not copied).
    pub(crate) fn live(&self) -> std::sync::Arc<Live> {
        std::sync::Arc::clone(&read(&self.live))
    }

    pub(crate) fn config(&self) -> MappingConfig {
        read(&self.live).config.clone()
    }

    /// The stored form of the mapping as it is now.
    pub(crate) fn stored(&self) -> Stored {
        Stored {
            id: self.id.clone(),
            config: self.config(),
            created_ms: self.created_ms,
            last_modified_ms: lock(&self.status).last_modified_ms,
        }
    }

    pub(crate) fn set_result(&self, result: &str) {
        let mut s = lock(&self.status);
        if s.last_result != result {
            s.last_result = result.to_string();
        }
        s.last_result_ms = eddy_engine::clock::now_ms();
    }

    /// A consumer of this mapping has loaded its checkpoint and runs. When it is the
    /// last one a new mapping waited for, the mapping leaves `Creating` for `Enabled`
    /// (or `Disabled`, when it was created disabled).
    pub(crate) fn consumer_started(&self) {
        let was = self
            .starting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        if was == Ok(1) {
            self.creation_done();
        }
    }

    /// Ends `Creating`: the state the configuration asks for.
    pub(crate) fn creation_done(&self) {
        let enabled = read(&self.live).config.enabled;
        let mut s = lock(&self.status);
        if s.state == STATE_CREATING {
            s.state = if enabled { "Enabled" } else { "Disabled" }.into();
        }
    }

    pub(crate) fn set_state(&self, state: &str, reason: &str) {
        let mut s = lock(&self.status);
        s.state = state.to_string();
        s.reason = reason.to_string();
    }
}

impl Live {
    /// Compiles a configuration's filter patterns; a bad one is refused, naming
    /// `FilterCriteria`.
    pub(crate) fn compile(config: MappingConfig) -> Result<Live, crate::error::TriggerError> {
        let filters = config
            .filters
            .iter()
            .map(|p| {
                FilterPattern::parse(p)
                    .map_err(|e| crate::error::TriggerError::invalid("FilterCriteria", e))
            })
            .collect::<Result<_, _>>()?;
        Ok(Live { config, filters })
    }
}
