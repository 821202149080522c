//! Stream export to NATS JetStream (`eddy serve --nats nats://host:4222`): every change
//! record of every table with a stream is published, in commit order per shard, to one
//! JetStream stream per table, and the acknowledged position of each shard is
//! checkpointed in the engine's system keyspace so that a restart resumes where the
//! export stopped.
//!
//! Owns the names on the NATS side (stream, subject, message id), the export's
//! checkpoints, its thread and connection, and the export-lag metric families. Must not
//! know the DynamoDB API or the triggers: it reads the log only through the
//! [`StreamSource`](eddy_triggers::stream::StreamSource) seam and renders a record with
//! the Streams API's own [`WireRecord`](crate::streams::WireRecord). Without `--nats`
//! nothing here runs: no thread, no connection.

mod lag;
mod names;
mod publish;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use eddy_engine::{Engine, StreamDef};
use eddy_triggers::stream::{EngineSource, StreamSource};

pub use names::{HOPS_HEADER, message_id, shard_subject, stream_name, subject};

/// What the export thread and the `/metrics` scrape share.
struct Shared {
    engine: Engine,
    /// The log, read as the triggers read it.
    source: EngineSource,
    /// Per (stream id, shard): the position after the last record JetStream
    /// acknowledged, once the exporter has looked at the shard.
    acked: Mutex<HashMap<(u32, u16), u64>>,
    stop: AtomicBool,
    /// NATS is away (disconnected, or refusing to store records): its WARN was
    /// written, and is not written again until it is back.
    outage: AtomicBool,
    /// Records JetStream answered as duplicates (published again after a restart or a
    /// failed round, and dropped by its de-duplication window) since this start.
    duplicates: AtomicU64,
    /// Woken by every commit that wrote stream records, and by [`shutdown`].
    wake: tokio::sync::Notify,
    /// Woken by [`shutdown`] only (it cuts a retry's backoff short, which commits must
    /// not).
    stopping: tokio::sync::Notify,
    /// Told when the export thread ends.
    ended: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
}

/// How long [`shutdown`] waits for the export to finish the batch in hand. A batch whose
/// acks are still awaited after that is not lost: a restart resyncs with JetStream.
const STOP_WAIT_MS: u64 = 2_000;

/// The running export, if `--nats` was given.
static EXPORT: OnceLock<Arc<Shared>> = OnceLock::new();

/// The checkpoint of one shard of one stream: the position after the last record
/// JetStream acknowledged.
fn checkpoint_key(stream_id: u32, shard: u16) -> Vec<u8> {
    format!("export/nats/{stream_id:08x}/{shard:05}").into_bytes()
}

impl Shared {
    /// Where the export of a shard stands: in memory once seen, else its durable
    /// checkpoint, else the oldest record still retained (a shard never exported starts
    /// with everything the log holds).
    fn position(&self, def: &StreamDef, shard: u16) -> u64 {
        if let Some(p) = lock(&self.acked).get(&(def.id, shard)) {
            return *p;
        }
        self.engine
            .system_get(&checkpoint_key(def.id, shard))
            .ok()
            .flatten()
            .and_then(|v| v.as_slice().try_into().ok())
            .map(u64::from_be_bytes)
            .unwrap_or_else(|| self.source.trim_horizon(def, shard))
    }
}

impl Shared {
    /// Notes that NATS is away: a WARN the first time in an outage, silence after.
    fn outage_begins(&self, url: &str, why: &str) {
        if !self.outage.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                url,
                error = why,
                "the stream export to NATS failed; retrying with backoff until NATS answers"
            );
        }
    }

    /// Notes that NATS answers again, once per outage.
    fn outage_ends(&self, url: &str) {
        if self.outage.swap(false, Ordering::AcqRel) {
            tracing::info!(url, "NATS is reachable again: the stream export catches up");
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Checks a `--nats` URL before anything starts, so that a typo fails the start with
/// a message instead of an export that never connects.
pub fn check_url(url: &str) -> Result<(), String> {
    url.parse::<async_nats::ServerAddr>()
        .map(|_| ())
        .map_err(|e| format!("--nats {url}: not a NATS server address ({e})"))
}

/// Starts the export to the NATS server at `url` on its own thread (with its own
/// single-threaded runtime, so that neither a slow NATS nor a log read ever takes a
/// worker from the DynamoDB API). Returns at once; the connection is made (and
/// remade) in the background.
pub fn start(engine: &Engine, url: &str) -> Result<(), String> {
    check_url(url)?;
    let shared = Arc::new(Shared {
        engine: engine.clone(),
        source: EngineSource::new(engine.clone()),
        acked: Mutex::new(HashMap::new()),
        stop: AtomicBool::new(false),
        outage: AtomicBool::new(false),
        duplicates: AtomicU64::new(0),
        wake: tokio::sync::Notify::new(),
        stopping: tokio::sync::Notify::new(),
        ended: Mutex::new(None),
    });
    let (ended_tx, ended_rx) = std::sync::mpsc::channel();
    *lock(&shared.ended) = Some(ended_rx);
    if EXPORT.set(shared.clone()).is_err() {
        return Err("the NATS export is already running".to_owned());
    }
    let woken = shared.clone();
    engine.on_stream_commit(Arc::new(move |_| woken.wake.notify_one()));
    let url = url.to_owned();
    std::thread::Builder::new()
        .name("eddy-export".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "the NATS export cannot start its runtime");
                    return;
                }
            };
            runtime.block_on(publish::run(shared, url));
            let _ = ended_tx.send(());
        })
        .map_err(|e| format!("cannot start the NATS export: {e}"))?;
    Ok(())
}

/// Stops the export after the batch in hand (its checkpoints are stored as each batch
/// is acknowledged), waiting at most [`STOP_WAIT_MS`]. Blocks: call it off the async
/// workers, before the engine shuts down.
pub fn shutdown() {
    let Some(shared) = EXPORT.get() else {
        return;
    };
    shared.stop.store(true, Ordering::Release);
    shared.wake.notify_one();
    shared.stopping.notify_one();
    if let Some(ended) = lock(&shared.ended).take() {
        let _ = ended.recv_timeout(std::time::Duration::from_millis(STOP_WAIT_MS));
    }
}

/// The export-lag families for `/metrics`; empty without `--nats`.
pub fn render_metrics() -> String {
    match EXPORT.get() {
        Some(shared) => lag::render(shared),
        None => String::new(),
    }
}
