//! The poller of a remote stream: `DescribeStream`, `GetShardIterator` and
//! `GetRecords` as Lambda calls them, copying each remote shard's records in order into
//! the mapping's mirror, the remote position committed with them.
//!
//! Owns polling, the shard lineage and the remote position. Must not know delivery:
//! consumers read the mirror through [`RemoteSource`](super::RemoteSource).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use eddy_engine::Engine;
use serde_json::json;

use super::super::consumer::load_checkpoint;
use super::super::failures::RecentError;
use super::super::mapping::Mapping;
use super::{
    RemoteError, RemoteSource, ShardState, StreamsApi, record_key, shard_base, shards_key,
};

/// Lambda polls an idle shard about four times a second.
pub(crate) const POLL_INTERVAL_MS: u64 = 250;
/// Records asked for per `GetRecords` (DynamoDB Streams' maximum); a full page is
/// followed at once by the next.
const GET_RECORDS_LIMIT: usize = 1000;
/// How often the stream is described again to discover new shards.
const DESCRIBE_INTERVAL_MS: u64 = 10_000;
/// Backoff after a failed poll: the first wait, doubled per failure up to the maximum.
const FAILURE_BACKOFF_MS_MIN: u64 = 250;
const FAILURE_BACKOFF_MS_MAX: u64 = 10_000;
/// Pages of `DescribeStream` read at most (100 shards each).
const DESCRIBE_PAGES_MAX: usize = 100;
/// How often records every lane passed are removed from the mirror…
const TRIM_INTERVAL_MS: u64 = 1_000;
/// …and at most how many in one commit.
const TRIM_RECORDS_MAX: usize = 10_000;
/// Longest the poller sleeps before it looks at its mapping again.
const STOP_CHECK_MS: u64 = 50;

/// A remote shard as `DescribeStream` lists it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Described {
    pub shard_id: String,
    pub parent_id: Option<String>,
}

/// Every shard of the remote stream, parents before their children.
pub(crate) fn describe_shards(
    api: &dyn StreamsApi,
    endpoint: &str,
    arn: &str,
) -> Result<Vec<Described>, RemoteError> {
    let mut all = Vec::new();
    let mut start: Option<String> = None;
    for _ in 0..DESCRIBE_PAGES_MAX {
        let mut body = json!({"StreamArn": arn});
        if let Some(s) = &start {
            body["ExclusiveStartShardId"] = json!(s);
        }
        let out = api.call(endpoint, "DescribeStream", &body)?;
        let desc = &out["StreamDescription"];
        for s in desc["Shards"].as_array().into_iter().flatten() {
            if let Some(id) = s["ShardId"].as_str() {
                all.push(Described {
                    shard_id: id.to_owned(),
                    parent_id: s["ParentShardId"].as_str().map(str::to_owned),
                });
            }
        }
        match desc["LastEvaluatedShardId"].as_str() {
            Some(last) => start = Some(last.to_owned()),
            None => break,
        }
    }
    Ok(parents_first(all))
}

/// Orders shards so that every parent in the list comes before its children.
fn parents_first(mut rest: Vec<Described>) -> Vec<Described> {
    let mut out: Vec<Described> = Vec::with_capacity(rest.len());
    while !rest.is_empty() {
        let before = rest.len();
        let mut i = 0;
        while i < rest.len() {
            let waits = rest[i].parent_id.as_ref().is_some_and(|p| {
                rest.iter().any(|o| &o.shard_id == p) && !out.iter().any(|o| &o.shard_id == p)
            });
            if waits {
                i += 1;
            } else {
                out.push(rest.remove(i));
            }
        }
        if rest.len() == before {
            // A cycle cannot come from a real stream; keep the rest in listed order.
            out.append(&mut rest);
        }
    }
    out
}

/// The poller of one remote mapping.
pub(crate) struct Poller {
    pub engine: Engine,
    pub mapping: Arc<Mapping>,
    pub api: Arc<dyn StreamsApi>,
    pub endpoint: String,
    pub arn: String,
    /// `StartingPosition: LATEST` (else `TRIM_HORIZON`), for a shard with nothing
    /// mirrored yet.
    pub start_latest: bool,
    pub source: Arc<RemoteSource>,
    /// Starts the consumers of a shard discovered after the mapping started.
    pub on_new_shard: Box<dyn Fn(u16) + Send>,
}

impl Poller {
    fn stopped(&self) -> bool {
        self.mapping.stopped.load(Ordering::Acquire)
    }

    fn sleep(&self, ms: u64) {
        let end = Instant::now() + Duration::from_millis(ms);
        while !self.stopped() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(STOP_CHECK_MS.min(ms)));
        }
    }

    /// Polls until the mapping stops. A panic of the poller (a bug) does not end it: it
    /// is reported as the mapping's PROBLEM and polling starts again from the mirror's
    /// committed state after a backoff.
    pub(crate) fn run_guarded(self) {
        while !self.stopped() {
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run()));
            let Err(panic) = run else {
                return;
            };
            let text = eddy_engine::panic_text(panic.as_ref());
            tracing::error!(trigger = %self.mapping.id, panic = %text, "the remote stream's poller panicked; it starts again");
            self.mapping.set_result(&format!(
                "PROBLEM: the remote stream's poller failed: {text}"
            ));
            self.sleep(FAILURE_BACKOFF_MS_MAX);
        }
    }

    fn run(&self) {
        let mut shards = super::load_shards(&self.engine, &self.mapping.id);
        let mut iterators: Vec<Option<String>> = vec![None; shards.len()];
        let mut failures = 0u32;
        let mut described = Instant::now();
        let mut trimmed = Instant::now();
        while !self.stopped() {
            if !self.mapping.config().enabled {
                self.sleep(POLL_INTERVAL_MS);
                continue;
            }
            let mut full = false;
            let mut error = None;
            for i in 0..shards.len() {
                if self.stopped() {
                    return;
                }
                if shards[i].closed || !self.parent_done(&shards, i) {
                    continue;
                }
                match self.poll(&mut shards, i, &mut iterators[i]) {
                    Ok(f) => full |= f,
                    Err(e) => {
                        error = Some((Some(i), e));
                        break;
                    }
                }
            }
            if trimmed.elapsed() >= Duration::from_millis(TRIM_INTERVAL_MS) {
                trimmed = Instant::now();
                if let Err(e) = self.trim(&mut shards) {
                    error.get_or_insert((None, e));
                }
            }
            if described.elapsed() >= Duration::from_millis(DESCRIBE_INTERVAL_MS) {
                described = Instant::now();
                if let Err(e) = self.discover(&mut shards, &mut iterators) {
                    error.get_or_insert((None, e));
                }
            }
            match error {
                Some((shard, e)) => {
                    failures += 1;
                    let text = format!(
                        "PROBLEM: cannot read the remote stream at {}: {e}",
                        self.endpoint
                    );
                    tracing::warn!(trigger = %self.mapping.id, problem = %text, "a remote stream could not be polled");
                    self.mapping.set_result(&text);
                    self.remember(&shards, shard, failures, &e);
                    let backoff = FAILURE_BACKOFF_MS_MIN
                        .saturating_mul(1u64 << failures.min(16))
                        .min(FAILURE_BACKOFF_MS_MAX);
                    self.sleep(backoff);
                }
                None => {
                    if failures > 0 {
                        failures = 0;
                        self.mapping
                            .set_result("OK: the remote stream is reachable again");
                    }
                    if !full {
                        self.sleep(POLL_INTERVAL_MS);
                    }
                }
            }
        }
    }

    /// Keeps a failed poll in the mapping's recent errors (`SourceUnreachable`, Eddy's
    /// kind), naming the remote shard and the last sequence number mirrored from it.
    fn remember(&self, shards: &[ShardState], shard: Option<usize>, attempt: u32, e: &RemoteError) {
        let s = shard.and_then(|i| shards.get(i));
        let last = s.and_then(|s| s.last_seq.clone()).unwrap_or_default();
        self.mapping.recent_errors.push(RecentError {
            time: eddy_engine::clock::rfc3339_ms(eddy_engine::clock::now_ms()),
            kind: "SourceUnreachable".into(),
            error: format!("{}: {e}", self.endpoint),
            shard_id: s.map(|s| s.shard_id.clone()).unwrap_or_default(),
            first_sequence_number: last.clone(),
            last_sequence_number: last,
            attempt,
        });
    }

    /// Whether shard `i` may be polled: its parent (when the mirror has it) is closed
    /// and wholly mirrored, so a child's records never come before its parent's.
    fn parent_done(&self, shards: &[ShardState], i: usize) -> bool {
        match &shards[i].parent_id {
            Some(p) => shards
                .iter()
                .find(|s| &s.shard_id == p)
                .is_none_or(|s| s.closed),
            None => true,
        }
    }

    /// Shards the remote has that the mirror does not: appended (their consumers start
    /// when the mapping's consumers are next started).
    fn discover(
        &self,
        shards: &mut Vec<ShardState>,
        iterators: &mut Vec<Option<String>>,
    ) -> Result<(), RemoteError> {
        let described = describe_shards(self.api.as_ref(), &self.endpoint, &self.arn)?;
        let mut added = Vec::new();
        for d in described {
            if shards.iter().any(|s| s.shard_id == d.shard_id) {
                continue;
            }
            let index = u16::try_from(shards.len()).unwrap_or(u16::MAX);
            shards.push(ShardState {
                shard_id: d.shard_id,
                parent_id: d.parent_id,
                last_seq: None,
                next_pos: shard_base(index),
                closed: false,
                trimmed_to: 0,
                start_iterator: None,
            });
            iterators.push(None);
            added.push(index);
        }
        if !added.is_empty() {
            self.commit(shards, Vec::new(), Vec::new())?;
            for shard in added {
                (self.on_new_shard)(shard);
            }
        }
        Ok(())
    }

    /// Stores the shards' states, the records they now count (`puts`) and the
    /// removal of records every lane passed (`deletes`) in one atomic commit, and lets
    /// the consumers read on. After a crash the mirror holds exactly the records its
    /// remote positions say, so polling again from them neither skips nor repeats.
    fn commit(
        &self,
        shards: &[ShardState],
        mut puts: Vec<(Vec<u8>, Vec<u8>)>,
        deletes: Vec<Vec<u8>>,
    ) -> Result<(), RemoteError> {
        let bytes = serde_json::to_vec(shards).map_err(|e| local(&e))?;
        puts.push((shards_key(&self.mapping.id), bytes));
        self.engine
            .system_batch(&puts, &deletes)
            .map_err(|e| local(&e))?;
        self.source.committed(shards.to_vec());
        Ok(())
    }

    /// Removes the mirrored records every lane of every shard has passed, at most
    /// [`TRIM_RECORDS_MAX`] a round.
    fn trim(&self, shards: &mut [ShardState]) -> Result<(), RemoteError> {
        let lanes = self.mapping.config().parallelization_factor.max(1);
        let mut deletes = Vec::new();
        for (i, s) in shards.iter_mut().enumerate() {
            let shard = u16::try_from(i).unwrap_or(u16::MAX);
            let from = s.horizon(shard);
            let passed = (0..lanes)
                .map(|lane| {
                    load_checkpoint(&self.engine, &self.mapping.id, shard, lane).unwrap_or(from)
                })
                .min()
                .unwrap_or(from)
                .min(s.next_pos);
            let room = TRIM_RECORDS_MAX.saturating_sub(deletes.len()) as u64;
            let to = passed.min(from.saturating_add(room));
            if to > from {
                deletes.extend((from..to).map(|pos| record_key(&self.mapping.id, pos)));
                s.trimmed_to = to;
            }
        }
        if deletes.is_empty() {
            return Ok(());
        }
        self.commit(shards, Vec::new(), deletes)
    }

    /// A new iterator for shard `s`: after the last mirrored record, or at the
    /// mapping's starting position.
    fn iterator(&self, s: &ShardState, trim_horizon: bool) -> Result<String, RemoteError> {
        let mut body = json!({"StreamArn": self.arn, "ShardId": s.shard_id});
        match (&s.last_seq, trim_horizon || !self.start_latest) {
            (Some(seq), _) if !trim_horizon => {
                body["ShardIteratorType"] = json!("AFTER_SEQUENCE_NUMBER");
                body["SequenceNumber"] = json!(seq);
            }
            (_, true) => body["ShardIteratorType"] = json!("TRIM_HORIZON"),
            (_, false) => body["ShardIteratorType"] = json!("LATEST"),
        }
        let out = self.api.call(&self.endpoint, "GetShardIterator", &body)?;
        out["ShardIterator"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| RemoteError {
                code: String::new(),
                message: "GetShardIterator answered without a ShardIterator".into(),
            })
    }

    /// One `GetRecords` of shard `i`; `true` when the page was full.
    fn poll(
        &self,
        shards: &mut [ShardState],
        i: usize,
        iterator: &mut Option<String>,
    ) -> Result<bool, RemoteError> {
        let start = shards[i].start_iterator.take();
        let it = match (iterator.take(), start) {
            (Some(it), _) => it,
            (None, Some(it)) if shards[i].last_seq.is_none() => it,
            (None, _) => self.iterator(&shards[i], false)?,
        };
        let body = json!({"ShardIterator": it, "Limit": GET_RECORDS_LIMIT});
        let out = match self.api.call(&self.endpoint, "GetRecords", &body) {
            Ok(out) => out,
            // An iterator lives 15 minutes: a new one from the last mirrored record.
            Err(e) if e.code == "ExpiredIteratorException" => return Ok(true),
            Err(e) if e.code == "TrimmedDataAccessException" => {
                // Retention removed records the mirror had not copied: they are gone, as
                // for Lambda. Count it and go on from the oldest record still there.
                self.mapping
                    .metrics
                    .trimmed_skips
                    .fetch_add(1, Ordering::Relaxed);
                self.mapping.set_result(
                    "PROBLEM: records of the remote stream expired before they were processed",
                );
                *iterator = Some(self.iterator(&shards[i], true)?);
                return Ok(true);
            }
            Err(e) => return Err(e),
        };
        let records = out["Records"].as_array().cloned().unwrap_or_default();
        let count = records.len();
        let s = &mut shards[i];
        let mut puts = Vec::with_capacity(count);
        for mut r in records {
            if let Some(o) = r.as_object_mut() {
                o.insert("eventSourceARN".into(), json!(self.arn));
            }
            let bytes = serde_json::to_vec(&r).map_err(|e| local(&e))?;
            puts.push((record_key(&self.mapping.id, s.next_pos), bytes));
            s.next_pos += 1;
            if let Some(seq) = r["dynamodb"]["SequenceNumber"].as_str() {
                s.last_seq = Some(seq.to_owned());
            }
        }
        match out["NextShardIterator"].as_str() {
            Some(next) => *iterator = Some(next.to_owned()),
            None => s.closed = true,
        }
        if count > 0 || s.closed {
            self.commit(shards, puts, Vec::new())?;
        }
        Ok(count >= GET_RECORDS_LIMIT)
    }
}

/// A local failure (the mirror could not be written), in the poller's error type.
fn local(e: &dyn std::fmt::Display) -> RemoteError {
    RemoteError {
        code: String::new(),
        message: format!("cannot write the local mirror: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(id: &str, parent: Option<&str>) -> Described {
        Described {
            shard_id: id.into(),
            parent_id: parent.map(Into::into),
        }
    }

    #[test]
    fn children_come_after_their_parents_whatever_the_listed_order() {
        let listed = vec![
            d("c1", Some("b")),
            d("b", Some("a")),
            d("a", None),
            d("x", Some("gone")),
        ];
        let ids: Vec<_> = parents_first(listed)
            .into_iter()
            .map(|s| s.shard_id)
            .collect();
        assert_eq!(ids, ["a", "x", "b", "c1"]);
    }
}
