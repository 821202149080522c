//! A table's stream as the export left it in NATS JetStream, read by a worker's
//! consumers: a [`StreamSource`] whose positions are the JetStream stream's sequence
//! numbers (one stream per table, one subject per shard, so a position names one
//! record of the table), and the consumers' [`EventCodec`], so that a function sees
//! Eddy's own `eventID` and `SequenceNumber` from the exported payload.
//!
//! Each consumer thread keeps one cursor per shard it reads: an ordered JetStream
//! consumer filtered on the shard's subject, pushed to as records are published (no
//! poll interval), with the records it delivered since the lane's position buffered so
//! that a batch read again (a retry, a bisected half) costs no round trip. A read at a
//! position the cursor does not cover opens a new one there.
//!
//! Owns the cursors and the decoding of exported records. Must not know leases,
//! checkpoints or delivery.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use bytes::Bytes;
use eddy_engine::{AttributeValue, EventName, Item, StreamDef, StreamRecord, StreamViewType};
use eddy_triggers::stream::{EventCodec, SourceError, SourceRead, SourceShard, StreamSource};
use futures_util::StreamExt;
use serde_json::Value;

use super::lock;

/// Records a cursor takes from JetStream ahead of its consumer; the ordered consumer
/// waits (flow control) while they are not taken.
const CURSOR_AHEAD_RECORDS_MAX: usize = 4_096;

/// Sequence numbers kept per trigger, by position, for the failure records and
/// reports (every read puts those of the records it returns here); beyond this the
/// oldest positions go first, and a position is shown as itself.
const SEQUENCE_NUMBERS_KEPT_MAX: usize = 20_000;

/// The attribute name under which a record carries its exported JSON in its new image,
/// for the codec: DynamoDB attribute names are never empty, so no image of Eddy's has
/// it, and the consumer code never reads images.
const PAYLOAD_ATTRIBUTE: &str = "";

/// How long opening a cursor (creating its JetStream consumer) may take before the
/// read fails and is retried by the consumer's next round.
const CURSOR_OPEN_TIMEOUT_MS: u64 = 5_000;

/// How long the first position of a `LATEST` or `AT_TIMESTAMP` start waits for a record
/// at or after its time before it takes the stream's end.
const START_SEARCH_WAIT_MS: u64 = 500;

/// One exported record, as a cursor delivered it.
struct Delivered {
    pos: u64,
    record: StreamRecord,
    payload: Bytes,
    /// The record's `SequenceNumber` (Eddy's), from the payload.
    sequence_number: String,
}

/// An open cursor on one shard: every record of the shard in `[covered_from, next)` is
/// in `buf`, in order.
struct Cursor {
    rx: tokio::sync::mpsc::Receiver<Result<Delivered, String>>,
    task: tokio::task::JoinHandle<()>,
    covered_from: u64,
    next: u64,
    buf: VecDeque<Delivered>,
    /// The cursor failed (NATS restarted under it, the consumer was lost): reopen.
    broken: bool,
}

impl Drop for Cursor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One lane thread's cursor on one shard (`None` until opened, or after it broke).
type CursorSlot = Arc<Mutex<Option<Cursor>>>;

/// One table's stream in JetStream, for one trigger's lanes.
pub(super) struct JetStreamSource {
    handle: tokio::runtime::Handle,
    js: jetstream::Context,
    /// The JetStream stream of the table (`EDDY_<region>_<table>`).
    stream_name: String,
    /// Per shard number: its subject and its `ShardId`.
    subjects: Vec<String>,
    shard_ids: Vec<String>,
    def: Arc<StreamDef>,
    cursors: Mutex<HashMap<(ThreadId, u16), CursorSlot>>,
    sequence_numbers: Mutex<BTreeMap<u64, String>>,
}

impl std::fmt::Debug for JetStreamSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamSource")
            .field("stream", &self.stream_name)
            .finish_non_exhaustive()
    }
}

impl JetStreamSource {
    pub(super) fn new(
        handle: tokio::runtime::Handle,
        js: jetstream::Context,
        region: &str,
        def: Arc<StreamDef>,
        shard_ids: Vec<String>,
    ) -> JetStreamSource {
        let subjects = shard_ids
            .iter()
            .map(|id| crate::export::shard_subject(region, &def.table_name, id))
            .collect();
        JetStreamSource {
            handle,
            js,
            stream_name: crate::export::stream_name(region, &def.table_name),
            subjects,
            shard_ids,
            def,
            cursors: Mutex::new(HashMap::new()),
            sequence_numbers: Mutex::new(BTreeMap::new()),
        }
    }

    pub(super) fn def(&self) -> Arc<StreamDef> {
        Arc::clone(&self.def)
    }

    /// Closes the cursors a lane thread kept (it ended).
    pub(super) fn forget_thread(&self, thread: ThreadId) {
        lock(&self.cursors).retain(|(t, _), _| *t != thread);
    }

    fn slot(&self, shard: u16) -> CursorSlot {
        let key = (std::thread::current().id(), shard);
        Arc::clone(lock(&self.cursors).entry(key).or_default())
    }

    /// Opens a cursor on `shard` at position `from`.
    fn open(&self, shard: u16, from: u64) -> Result<Cursor, String> {
        let subject = self
            .subjects
            .get(usize::from(shard))
            .cloned()
            .ok_or_else(|| format!("no shard {shard}"))?;
        let (tx, rx) = tokio::sync::mpsc::channel(CURSOR_AHEAD_RECORDS_MAX);
        let js = self.js.clone();
        let name = self.stream_name.clone();
        let opened = self.handle.block_on(async {
            tokio::time::timeout(Duration::from_millis(CURSOR_OPEN_TIMEOUT_MS), async {
                let stream = js
                    .get_stream(&name)
                    .await
                    .map_err(|e| format!("JetStream stream {name}: {e}"))?;
                let consumer = stream
                    .create_consumer(OrderedConfig {
                        filter_subject: subject.clone(),
                        deliver_policy: DeliverPolicy::ByStartSequence {
                            start_sequence: from.max(1),
                        },
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| format!("a consumer on {subject}: {e}"))?;
                consumer
                    .messages()
                    .await
                    .map_err(|e| format!("reading {subject}: {e}"))
            })
            .await
            .map_err(|_| format!("JetStream did not open {subject} in time"))?
        })?;
        let task = self.handle.spawn(async move {
            let mut messages = opened;
            while let Some(m) = messages.next().await {
                let delivered = m
                    .map_err(|e| e.to_string())
                    .and_then(|m| decode_message(&m).ok_or_else(String::new));
                let failed = delivered.is_err();
                if tx.send(delivered).await.is_err() || failed {
                    return;
                }
            }
            let _ = tx.send(Err("the JetStream consumer ended".into())).await;
        });
        Ok(Cursor {
            rx,
            task,
            covered_from: from,
            next: from,
            buf: VecDeque::new(),
            broken: false,
        })
    }

    /// The cursor of this thread on `shard`, covering `from` (opened there if needed);
    /// records before `from` are let go.
    fn cursor_at<'c>(
        &self,
        slot: &'c mut Option<Cursor>,
        shard: u16,
        from: u64,
    ) -> Result<&'c mut Cursor, String> {
        let fits = slot
            .as_ref()
            .is_some_and(|c| !c.broken && c.covered_from <= from && from <= c.next);
        if !fits {
            *slot = None;
            *slot = Some(self.open(shard, from)?);
        }
        let Some(cursor) = slot.as_mut() else {
            return Err("no cursor".into());
        };
        while cursor.buf.front().is_some_and(|d| d.pos < from) {
            cursor.buf.pop_front();
        }
        cursor.covered_from = from;
        Ok(cursor)
    }

    fn take(&self, cursor: &mut Cursor, delivered: Result<Delivered, String>) {
        match delivered {
            Ok(d) => {
                cursor.next = d.pos + 1;
                cursor.buf.push_back(d);
            }
            Err(e) => {
                if !e.is_empty() {
                    tracing::debug!(stream = %self.stream_name, error = %e, "a JetStream cursor failed; it is reopened");
                }
                cursor.broken = true;
            }
        }
    }

    /// Keeps the sequence numbers of records a read returns.
    fn keep_sequence_numbers<'d>(&self, delivered: impl Iterator<Item = &'d Delivered>) {
        let mut kept = lock(&self.sequence_numbers);
        for d in delivered {
            kept.insert(d.pos, d.sequence_number.clone());
        }
        while kept.len() > SEQUENCE_NUMBERS_KEPT_MAX {
            kept.pop_first();
        }
    }

    /// The position a lane of a new trigger starts at: for `TRIM_HORIZON` the
    /// stream's beginning; for a time (`LATEST`: when the trigger was made;
    /// `AT_TIMESTAMP`), the first record published at or after it, or the stream's end.
    pub(super) fn start_position(&self, shard: u16, at_ms: Option<u64>) -> Result<u64, String> {
        let Some(at_ms) = at_ms else {
            return Ok(1);
        };
        let subject = self
            .subjects
            .get(usize::from(shard))
            .cloned()
            .ok_or_else(|| format!("no shard {shard}"))?;
        let js = self.js.clone();
        let name = self.stream_name.clone();
        self.handle.block_on(async {
            let mut stream = match js.get_stream(&name).await {
                Ok(s) => s,
                // Nothing exported yet: everything is after the start.
                Err(e)
                    if matches!(
                        e.kind(),
                        async_nats::jetstream::context::GetStreamErrorKind::JetStream(_)
                    ) =>
                {
                    return Ok(1);
                }
                Err(e) => return Err(format!("JetStream stream {name}: {e}")),
            };
            // Taken before the search: a record published after it is after the end.
            let end = stream
                .info()
                .await
                .map_err(|e| format!("JetStream stream {name}: {e}"))?
                .state
                .last_sequence
                + 1;
            let start_time = async_nats::datetime::from_nanos(i128::from(at_ms) * 1_000_000)
                .map_err(|e| e.to_string())?;
            let consumer = stream
                .create_consumer(OrderedConfig {
                    filter_subject: subject.clone(),
                    deliver_policy: DeliverPolicy::ByStartTime { start_time },
                    ..Default::default()
                })
                .await
                .map_err(|e| format!("a consumer on {subject}: {e}"))?;
            let mut messages = consumer
                .messages()
                .await
                .map_err(|e| format!("reading {subject}: {e}"))?;
            let first =
                tokio::time::timeout(Duration::from_millis(START_SEARCH_WAIT_MS), messages.next())
                    .await;
            Ok(match first {
                Ok(Some(Ok(m))) => m.info().map_or(end, |i| i.stream_sequence.min(end)),
                _ => end,
            })
        })
    }
}

/// An exported message as a record: its position is its stream sequence; the fields
/// delivery needs (event name, age, keys for the lane split, hop count) come from the
/// payload and the export's hop header; the rest stays in the payload, which the
/// record carries to the codec.
fn decode_message(m: &jetstream::Message) -> Option<Delivered> {
    let info = m.info().ok()?;
    let pos = info.stream_sequence;
    let published_us = u64::try_from(info.published.unix_timestamp_nanos() / 1000).unwrap_or(0);
    let hops = m
        .headers
        .as_ref()
        .and_then(|h| h.get(crate::export::HOPS_HEADER))
        .and_then(|v| v.as_str().parse().ok())
        .unwrap_or(0);
    let payload = m.payload.clone();
    let v: Value = serde_json::from_slice(&payload).ok()?;
    let d = &v["dynamodb"];
    let sequence_number = d["SequenceNumber"]
        .as_str()
        .map_or_else(|| pos.to_string(), str::to_owned);
    let event_name = match v["eventName"].as_str()? {
        "INSERT" => EventName::Insert,
        "MODIFY" => EventName::Modify,
        _ => EventName::Remove,
    };
    // The record says its commit time to the second; the publish time, within that
    // second, is a finer one (the export publishes as it commits).
    let created_s = d["ApproximateCreationDateTime"].as_f64().unwrap_or(0.0) as u64;
    let second_us = created_s.saturating_mul(1_000_000);
    let created_us = published_us.clamp(second_us, second_us + 999_999);
    // The lane split hashes the record's keys: their JSON text, as exported, is as
    // stable per item as the typed keys would be, and the same in every worker.
    let mut keys = Item::new();
    keys.insert(String::new(), AttributeValue::S(d["Keys"].to_string()));
    let mut carried = Item::new();
    carried.insert(
        PAYLOAD_ATTRIBUTE.to_owned(),
        AttributeValue::B(payload.to_vec()),
    );
    Some(Delivered {
        pos,
        record: StreamRecord {
            seq: pos,
            event_name,
            created_us,
            view_type: StreamViewType::NewAndOldImages,
            size_bytes: d["SizeBytes"].as_u64().unwrap_or(payload.len() as u64),
            hops,
            by_ttl: false,
            keys,
            new_image: Some(carried),
            old_image: None,
        },
        payload,
        sequence_number,
    })
}

impl StreamSource for JetStreamSource {
    fn stream(&self, _id: u32) -> Option<Arc<StreamDef>> {
        Some(self.def())
    }

    fn shards(&self, _stream: &StreamDef) -> Vec<SourceShard> {
        (0..self.shard_ids.len())
            .map(|i| SourceShard {
                shard: u16::try_from(i).unwrap_or(u16::MAX),
                parent: None,
            })
            .collect()
    }

    /// JetStream's sequences start at 1; a cursor opened there begins at the shard's
    /// first retained record.
    fn trim_horizon(&self, _stream: &StreamDef, _shard: u16) -> u64 {
        1
    }

    /// Not used by workers: a lane's first position is stored before it starts.
    fn latest(&self) -> u64 {
        1
    }

    fn read(
        &self,
        _stream: &StreamDef,
        shard: u16,
        from: u64,
        limit: usize,
        bytes_max: usize,
    ) -> Result<SourceRead, SourceError> {
        let slot = self.slot(shard);
        let mut slot = lock(&slot);
        let cursor = self
            .cursor_at(&mut slot, shard, from)
            .map_err(|e| SourceError::Unavailable(e.into()))?;
        while cursor.buf.len() < limit {
            match cursor.rx.try_recv() {
                Ok(d) => self.take(cursor, d),
                Err(_) => break,
            }
        }
        let mut bytes = 0usize;
        let mut taken = 0usize;
        for d in cursor.buf.iter() {
            if taken >= limit {
                break;
            }
            bytes += d.payload.len();
            if bytes > bytes_max && taken > 0 {
                break;
            }
            taken += 1;
        }
        let returned = cursor.buf.iter().take(taken);
        self.keep_sequence_numbers(returned.clone());
        let records: Vec<StreamRecord> = returned.map(|d| d.record.clone()).collect();
        let next = records
            .last()
            .map_or(cursor.next.max(from), |r: &StreamRecord| r.seq + 1);
        Ok(SourceRead {
            records,
            next,
            drained: false,
        })
    }

    fn wait(&self, _stream: &StreamDef, shard: u16, from: u64, timeout: Duration) -> bool {
        let slot = self.slot(shard);
        let mut slot = lock(&slot);
        let cursor = match self.cursor_at(&mut slot, shard, from) {
            Ok(c) => c,
            Err(_) => {
                // JetStream is away (or the table has exported nothing yet): the next
                // round tries again after the wait.
                std::thread::sleep(timeout);
                return false;
            }
        };
        if !cursor.buf.is_empty() {
            return true;
        }
        let received = self
            .handle
            .block_on(async { tokio::time::timeout(timeout, cursor.rx.recv()).await });
        match received {
            Ok(Some(d)) => {
                self.take(cursor, d);
                !cursor.buf.is_empty()
            }
            Ok(None) => {
                cursor.broken = true;
                false
            }
            Err(_) => false,
        }
    }

    fn shard_id(&self, _stream: &StreamDef, shard: u16) -> String {
        self.shard_ids
            .get(usize::from(shard))
            .cloned()
            .unwrap_or_else(|| format!("shard-{shard}"))
    }

    fn sequence_number(&self, pos: u64) -> String {
        lock(&self.sequence_numbers)
            .get(&pos)
            .cloned()
            .unwrap_or_else(|| pos.to_string())
    }
}

impl EventCodec for JetStreamSource {
    /// The exported record as Lambda delivers it: with the trigger's `eventSourceARN`
    /// after `awsRegion` (the export leaves it out, as GetRecords does) and a Time to
    /// Live delete's `userIdentity` in Lambda's spelling, as the in-process codec
    /// writes them.
    fn write_record(
        &self,
        record: &StreamRecord,
        _stream: &StreamDef,
        event_source_arn: &str,
        out: &mut Vec<u8>,
    ) {
        let carried = record
            .new_image
            .as_ref()
            .and_then(|image| image.get(PAYLOAD_ATTRIBUTE));
        match carried {
            Some(AttributeValue::B(json)) => write_lambda_record(json, event_source_arn, out),
            // Not a record this source read: an empty object, which the function sees
            // as a record without fields.
            _ => out.extend_from_slice(b"{}"),
        }
    }
}

/// The Streams API's record JSON (as exported) in Lambda's form: `eventSourceARN`
/// inserted before `dynamodb` (the keys before it are fixed strings, so the first
/// `,"dynamodb":` is the member), and the TTL identity's members renamed.
fn write_lambda_record(json: &[u8], event_source_arn: &str, out: &mut Vec<u8>) {
    const DYNAMODB_MEMBER: &[u8] = b",\"dynamodb\":";
    const TTL_STREAMS: &[u8] =
        b"\"userIdentity\":{\"PrincipalId\":\"dynamodb.amazonaws.com\",\"Type\":\"Service\"}";
    const TTL_LAMBDA: &[u8] =
        b"\"userIdentity\":{\"principalId\":\"dynamodb.amazonaws.com\",\"type\":\"Service\"}";
    let start = out.len();
    match find(json, DYNAMODB_MEMBER) {
        Some(at) => {
            out.extend_from_slice(&json[..at]);
            out.extend_from_slice(b",\"eventSourceARN\":");
            // A string serializes without failing.
            let _ = serde_json::to_writer(&mut *out, event_source_arn);
            out.extend_from_slice(&json[at..]);
        }
        None => out.extend_from_slice(json),
    }
    if let Some(at) = find(&out[start..], TTL_STREAMS) {
        let at = start + at;
        out.splice(at..at + TTL_STREAMS.len(), TTL_LAMBDA.iter().copied());
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exported_record_gets_lambdas_arn_and_identity() {
        let json = br#"{"eventID":"1","eventName":"REMOVE","eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":"us-east-1","dynamodb":{"Keys":{}},"userIdentity":{"PrincipalId":"dynamodb.amazonaws.com","Type":"Service"}}"#;
        let mut out = Vec::new();
        write_lambda_record(json, "arn:x", &mut out);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["eventSourceARN"], "arn:x");
        assert_eq!(v["userIdentity"]["principalId"], "dynamodb.amazonaws.com");
        assert_eq!(v["userIdentity"]["type"], "Service");
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(r#""awsRegion":"us-east-1","eventSourceARN":"arn:x","dynamodb""#),
            "{text}"
        );
    }
}
