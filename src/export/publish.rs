//! The export loop: reads each shard from its checkpoint, publishes its records to
//! JetStream with a bounded number of acknowledgements in flight, stores the
//! acknowledged position, and retries from it with backoff while NATS is away.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::stream::LastRawMessageErrorKind;
use async_nats::jetstream::{self, context::Context, message::PublishMessage};
use bytes::Bytes;
use eddy_engine::{StreamDef, StreamRecord, parse_sequence_number};
use eddy_triggers::stream::{SourceError, StreamSource};

use super::{Shared, checkpoint_key, lock, names};

/// Acknowledgements awaited at once: records published before the first of them is
/// acknowledged. Bounds the memory a slow NATS can hold and the work a failed batch
/// wastes.
pub(super) const ACKS_IN_FLIGHT_MAX: usize = 256;

/// Records read from one shard per round (one checkpoint per round).
const READ_BATCH_RECORDS_MAX: usize = ACKS_IN_FLIGHT_MAX;

/// Bytes read from one shard per round, about.
const READ_BATCH_BYTES_MAX: usize = 4 * 1024 * 1024;

/// JetStream's de-duplication window of every exported stream: a record published
/// again within it is dropped by JetStream. The resync with JetStream's last record
/// (`Exporter::resync`) already avoids republishing; this is the second guard, for a
/// record whose ack was lost while JetStream stored it. A restart of Eddy must take less.
pub(super) const DUPLICATE_WINDOW_MS: u64 = 120_000;

/// How long a publish waits for JetStream's acknowledgement before the round counts as
/// failed and is retried from the checkpoint.
const ACK_TIMEOUT_MS: u64 = 5_000;

/// How long the client waits for a TCP connection to the server.
const CONNECT_TIMEOUT_MS: u64 = 2_000;

/// The pause before the client's n-th reconnection attempt grows by this much…
const RECONNECT_DELAY_MS_STEP: u64 = 100;

/// …up to this: a returning server is found within a second.
const RECONNECT_DELAY_MS_MAX: u64 = 1_000;

/// Longest sleep without a commit before the loop looks for new streams and shards
/// again (commits wake it at once).
const IDLE_WAIT_MS: u64 = 500;

/// The first retry after a failed round waits this long; each next one twice as long…
const RETRY_BACKOFF_MS_MIN: u64 = 100;

/// …up to this.
const RETRY_BACKOFF_MS_MAX: u64 = 5_000;

fn backoff_ms(attempt: u32) -> u64 {
    RETRY_BACKOFF_MS_MIN
        .saturating_mul(1u64 << attempt.min(16))
        .min(RETRY_BACKOFF_MS_MAX)
}

/// Runs until [`super::shutdown`]: connects (in the background, retrying forever),
/// then exports every shard of every stream round after round.
pub(super) async fn run(shared: Arc<Shared>, url: String) {
    let events = (shared.clone(), url.clone());
    let client = match async_nats::ConnectOptions::new()
        .name("eddy-export")
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS))
        .reconnect_delay_callback(|attempt| {
            Duration::from_millis(
                RECONNECT_DELAY_MS_STEP
                    .saturating_mul(attempt as u64)
                    .min(RECONNECT_DELAY_MS_MAX),
            )
        })
        .event_callback(move |event| {
            let (shared, url) = events.clone();
            async move {
                // The outage ends when a batch is acknowledged again, not on
                // reconnection: acks lost with the old connection still fail
                // afterwards, and belong to the same outage.
                if let async_nats::Event::Disconnected = event {
                    shared.outage_begins(&url, "disconnected from the server");
                }
            }
        })
        .connect(url.as_str())
        .await
    {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(url, error = %e, "the NATS export cannot connect; it does not run");
            return;
        }
    };
    let mut js = jetstream::new(client);
    js.set_timeout(Duration::from_millis(ACK_TIMEOUT_MS));
    let mut exporter = Exporter {
        shared,
        js,
        tables: HashMap::new(),
        synced: HashSet::new(),
    };
    let mut failures: u32 = 0;
    tracing::info!(url, "exporting streams to NATS JetStream");
    while !exporter.shared.stop.load(Ordering::Acquire) {
        match exporter.round().await {
            Ok(progressed) => {
                failures = 0;
                // A round with nothing to publish proves nothing about NATS.
                if progressed {
                    exporter.shared.outage_ends(&url);
                } else {
                    let _ = tokio::time::timeout(
                        Duration::from_millis(IDLE_WAIT_MS),
                        exporter.shared.wake.notified(),
                    )
                    .await;
                }
            }
            Err(e) => {
                // Once per outage, not per attempt: the retries go on quietly.
                exporter.shared.outage_begins(&url, &e);
                failures = failures.saturating_add(1);
                // A stream that was lost with the server (or never made) is made again,
                // and every shard is compared again with what JetStream holds.
                exporter.forget();
                // Cut short by a shutdown (the stop flag is read again above).
                let _ = tokio::time::timeout(
                    Duration::from_millis(backoff_ms(failures)),
                    exporter.shared.stopping.notified(),
                )
                .await;
            }
        }
    }
}

struct Exporter {
    shared: Arc<Shared>,
    js: Context,
    /// Per table whose JetStream stream was created (or updated) since the last
    /// failure: the stream's last sequence number, kept up to date from the acks.
    tables: HashMap<String, u64>,
    /// The shards whose position was compared with what JetStream holds since the last
    /// failure (see [`Exporter::resync`]).
    synced: HashSet<(u32, u16)>,
}

impl Exporter {
    /// One round over every shard of every stream: publishes what each has beyond its
    /// checkpoint. Returns whether anything was published.
    async fn round(&mut self) -> Result<bool, String> {
        let mut progressed = false;
        for def in self.shared.engine.list_streams(None) {
            for shard in self.shared.source.shards(&def) {
                if self.shared.stop.load(Ordering::Acquire) {
                    return Ok(progressed);
                }
                progressed |= self.export_shard(&def, shard.shard).await?;
            }
        }
        Ok(progressed)
    }

    /// After a failure (and at the start) nothing is known of what JetStream holds:
    /// forgets it, so that the next rounds ask again.
    fn forget(&mut self) {
        self.tables.clear();
        self.synced.clear();
    }

    /// Publishes the next batch of one shard and checkpoints it once JetStream has
    /// acknowledged all of it. Returns whether there was a batch.
    async fn export_shard(&mut self, def: &StreamDef, shard: u16) -> Result<bool, String> {
        let from = self.shared.position(def, shard);
        let read = match self.shared.source.read(
            def,
            shard,
            from,
            READ_BATCH_RECORDS_MAX,
            READ_BATCH_BYTES_MAX,
        ) {
            Ok(read) => read,
            Err(SourceError::Trimmed) => {
                // NATS was away longer than the stream's retention: those records are
                // gone from the log and cannot be exported; say so, and go on from the
                // oldest one left.
                let horizon = self.shared.source.trim_horizon(def, shard);
                tracing::warn!(
                    table = %def.table_name,
                    shard = %def.shard_id(shard),
                    from,
                    horizon,
                    "stream records expired before they were exported to NATS"
                );
                self.set_position(def, shard, horizon)?;
                return Ok(true);
            }
            Err(e) => return Err(format!("cannot read the stream log: {e}")),
        };
        if read.records.is_empty() {
            lock(&self.shared.acked).insert((def.id, shard), from);
            return Ok(false);
        }
        let stream_last = self.ensure_stream(def).await?;
        if !self.synced.contains(&(def.id, shard)) {
            self.resync(def, shard, from).await?;
            // The position may have moved past records JetStream already holds: read
            // again from there.
            return Ok(true);
        }
        let last = self.publish(def, shard, &read.records, stream_last).await?;
        self.tables.insert(def.table_name.clone(), last);
        self.set_position(def, shard, read.next)?;
        Ok(true)
    }

    /// Moves a shard's position past the last record JetStream holds on its subject:
    /// records acknowledged but not checkpointed before a crash, or stored while their
    /// acks were lost with the connection, are not published again, and the next
    /// batch continues JetStream's copy of the shard exactly where it ends.
    async fn resync(&mut self, def: &StreamDef, shard: u16, from: u64) -> Result<(), String> {
        let config = self.shared.engine.config();
        let name = names::stream_name(&config.region, &def.table_name);
        let subject = names::subject(&config.region, def, shard);
        let stream = self
            .js
            .get_stream_no_info(&name)
            .await
            .map_err(|e| format!("cannot open the JetStream stream {name}: {e}"))?;
        match stream.get_last_raw_message_by_subject(&subject).await {
            Ok(msg) => {
                let stored = msg
                    .headers
                    .get(async_nats::header::NATS_MESSAGE_ID)
                    .and_then(|id| id.as_str().rsplit('/').next().map(str::to_owned))
                    .and_then(|seq| parse_sequence_number(&seq));
                if let Some(seq) = stored
                    && seq >= from
                {
                    self.set_position(def, shard, seq + 1)?;
                }
            }
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => {}
            Err(e) => return Err(format!("cannot read the last message of {subject}: {e}")),
        }
        self.synced.insert((def.id, shard));
        Ok(())
    }

    /// Stores a shard's acknowledged position, durably: a checkpoint lost in a crash
    /// would republish records that may be older than the de-duplication window.
    fn set_position(&self, def: &StreamDef, shard: u16, pos: u64) -> Result<(), String> {
        self.shared
            .engine
            .system_put(&checkpoint_key(def.id, shard), &pos.to_be_bytes())
            .map_err(|e| format!("cannot store the export checkpoint: {e}"))?;
        lock(&self.shared.acked).insert((def.id, shard), pos);
        Ok(())
    }

    /// Creates the table's JetStream stream, or brings its retention and
    /// de-duplication window up to date. Returns the stream's last sequence number.
    async fn ensure_stream(&mut self, def: &StreamDef) -> Result<u64, String> {
        if let Some(last) = self.tables.get(&def.table_name) {
            return Ok(*last);
        }
        let config = self.shared.engine.config();
        let region = &config.region;
        let max_age = Duration::from_millis(config.stream_retention_ms);
        let name = names::stream_name(region, &def.table_name);
        let info = self
            .js
            .create_or_update_stream(jetstream::stream::Config {
                name: name.clone(),
                subjects: vec![names::table_subjects(region, &def.table_name)],
                max_age,
                // JetStream refuses a window longer than the stream's age limit.
                duplicate_window: Duration::from_millis(DUPLICATE_WINDOW_MS).min(max_age),
                storage: jetstream::stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| format!("cannot create the JetStream stream {name}: {e}"))?;
        self.tables
            .insert(def.table_name.clone(), info.state.last_sequence);
        Ok(info.state.last_sequence)
    }

    /// Publishes `records` in order with their acknowledgements in flight together,
    /// then waits for every one of them. Returns the stream's last sequence number.
    ///
    /// Order is kept when the connection drops in the middle: what the old socket held
    /// is lost while what was still queued goes out on the new connection, which would
    /// store record n+1 before n. So every record after the first expects the previous
    /// one to be the last of its subject (`Nats-Expected-Last-Subject-Sequence`):
    /// this exporter is the stream's only publisher and waits for a batch before the
    /// next, so record i of a batch lands at `stream_last + 1 + i`. A record whose
    /// predecessor is missing is refused, the round fails, and the next one resyncs.
    async fn publish(
        &self,
        def: &StreamDef,
        shard: u16,
        records: &[StreamRecord],
        stream_last: u64,
    ) -> Result<u64, String> {
        let region = &self.shared.engine.config().region;
        let subject = names::subject(region, def, shard);
        let mut acks = Vec::with_capacity(records.len());
        for (i, rec) in records.iter().enumerate() {
            let wire = crate::streams::WireRecord::new(rec, def, region, None);
            // Serializing our own values into a Vec cannot fail.
            let payload = serde_json::to_vec(&wire).unwrap_or_default();
            let mut msg = PublishMessage::build()
                .payload(Bytes::from(payload))
                .message_id(names::message_id(def, shard, rec.seq));
            if i > 0 {
                msg = msg.expected_last_subject_sequence(stream_last + i as u64);
            }
            // The record's hop count is no part of DynamoDB's record: it rides in a
            // header, so that a trigger worker's recursive-loop guard sees it.
            if rec.hops > 0 {
                msg = msg.header(names::HOPS_HEADER, rec.hops.to_string().as_str());
            }
            let ack = self
                .js
                .send_publish(subject.clone(), msg)
                .await
                .map_err(|e| format!("cannot publish to {subject}: {e}"))?;
            acks.push(ack);
        }
        let mut last = stream_last;
        for ack in acks {
            let ack = ack
                .await
                .map_err(|e| format!("JetStream did not acknowledge a record on {subject}: {e}"))?;
            if ack.duplicate {
                self.shared.duplicates.fetch_add(1, Ordering::Relaxed);
            }
            last = last.max(ack.sequence);
        }
        Ok(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_ceiling() {
        assert_eq!(backoff_ms(0), RETRY_BACKOFF_MS_MIN);
        assert_eq!(backoff_ms(1), 2 * RETRY_BACKOFF_MS_MIN);
        assert_eq!(backoff_ms(40), RETRY_BACKOFF_MS_MAX);
    }
}
