//! A trigger run outside the runtime that keeps its definition: a trigger worker
//! (`eddy worker`, another process) runs some of a trigger's lanes with the same
//! consumer code as the in-process runtime, reading through its own
//! [`StreamSource`] and keeping lane state in its own [`LaneStore`].
//!
//! Owns the detached mapping's live state (configuration, counters, last result) and
//! the start of one lane. Must not know which lanes a process should run (the worker's
//! leases decide) nor where the definition comes from.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use eddy_engine::StreamDef;
use eddy_engine::clock::now_ms;
use eddy_engine::sync::{lock, write};

use super::consumer::Consumer;
use super::lanes::LaneDeps;
use super::mapping::{Counters, Live, Mapping, Status, TriggerMetrics};
use super::render::EventCodec;
use super::source::StreamSource;
use super::view::ReportedStatus;
use super::{MappingConfig, TriggerError};

/// One trigger as a worker runs it.
pub struct DetachedTrigger {
    mapping: Arc<Mapping>,
}

impl std::fmt::Debug for DetachedTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetachedTrigger")
            .field("id", &self.mapping.id)
            .finish_non_exhaustive()
    }
}

impl DetachedTrigger {
    /// A trigger with this id and configuration; its filters are compiled now (a bad
    /// one is refused).
    pub fn new(id: &str, config: MappingConfig) -> Result<DetachedTrigger, TriggerError> {
        let live = Live::compile(config)?;
        let now = now_ms();
        let mapping = Arc::new(Mapping {
            id: id.to_owned(),
            live: RwLock::new(Arc::new(live)),
            status: Mutex::new(Status {
                state: "Enabled".into(),
                reason: "User action".into(),
                last_result: "No records processed".into(),
                last_result_ms: 0,
                last_modified_ms: now,
            }),
            metrics: Counters::default(),
            recent_errors: Default::default(),
            created_ms: now,
            stopped: AtomicBool::new(false),
            starting: AtomicUsize::new(0),
            workers: Mutex::new(Vec::new()),
        });
        Ok(DetachedTrigger { mapping })
    }

    /// The trigger's id.
    pub fn id(&self) -> &str {
        &self.mapping.id
    }

    /// The configuration the lanes read now.
    pub fn config(&self) -> MappingConfig {
        self.mapping.config()
    }

    /// Changes the configuration: running lanes read it from their next round.
    pub fn set_config(&self, config: MappingConfig) -> Result<(), TriggerError> {
        let live = Live::compile(config)?;
        *write(&self.mapping.live) = Arc::new(live);
        Ok(())
    }

    /// Starts one lane on its own thread. It runs until `halt` is set (the lane alone)
    /// or [`DetachedTrigger::stop`] (every lane of the trigger).
    pub fn spawn_lane(
        &self,
        deps: &Arc<LaneDeps>,
        (source, codec): (Arc<dyn StreamSource>, Arc<dyn EventCodec>),
        stream: Arc<StreamDef>,
        (shard, lane): (u16, u32),
        halt: Arc<AtomicBool>,
    ) -> std::io::Result<JoinHandle<()>> {
        let c = Consumer::new(
            Arc::clone(deps),
            Arc::clone(&self.mapping),
            (source, codec),
            stream,
            (shard, lane),
            Some(halt),
        );
        std::thread::Builder::new()
            .name(format!("eddy-worker-{shard}-{lane}"))
            .spawn(move || c.run())
    }

    /// Tells every lane of the trigger to stop after the batch in hand.
    pub fn stop(&self) {
        self.mapping.stopped.store(true, Ordering::Release);
    }

    /// The trigger's counters in this process.
    pub fn metrics(&self) -> TriggerMetrics {
        self.mapping.metrics.snapshot()
    }

    /// The last processing result of a lane in this process (Lambda's words).
    pub fn last_result(&self) -> String {
        lock(&self.mapping.status).last_result.clone()
    }

    /// What this process has done for the trigger, as a worker reports it to Eddy: its
    /// counters (cumulative since this trigger was made here), its last result with the
    /// time it was set (`None` before any), and its recent errors.
    pub fn reported(&self) -> ReportedStatus {
        let metrics = self.mapping.metrics.snapshot();
        let s = lock(&self.mapping.status);
        let last_result = (s.last_result_ms > 0).then(|| (s.last_result.clone(), s.last_result_ms));
        drop(s);
        ReportedStatus {
            metrics,
            last_result,
            recent_errors: self.mapping.recent_errors.snapshot(),
        }
    }
}
