//! The concurrent writers. Each owns a disjoint set of keys, so the writes to a key are
//! sequential and its owner knows exactly what the key holds — except for the one write
//! whose answer was lost when the server died, which stays pending until a check after
//! the restart shows what the table holds.
//!
//! Every write that puts an item gives it a unique `tag` (`w<writer>:<write id>`) and
//! `ver` (the write id), so any value the table shows can be traced to the one write
//! that made it, and a value no write made is a phantom.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue as Av, ConditionCheck, Delete, DeleteRequest, Put, PutRequest, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update, WriteRequest,
};

use crate::model::{Item, KeyModel, Pending, Rng, Val, from_av_item, to_av, to_av_item};

/// Keys each writer owns.
pub const KEYS_PER_WRITER: usize = 12;
/// Distinct values of the GSI hash key `g`, so index partitions hold several items.
const GROUPS: u64 = 4;
/// Requests in one BatchWriteItem and actions in one TransactWriteItems, at most.
const BATCH_REQUESTS_MAX: usize = 6;
const TRANSACT_ACTIONS_MAX: usize = 4;
/// A request that takes longer than this is treated as lost (the server is gone).
const REQUEST_TIMEOUT_MS: u64 = 30_000;
/// Payload sizes: most small, some of a few kilobytes, a few of 20–40 KB (bigger commit
/// groups and journal entries), and a rare one over the 400 KB item limit (refused).
const PAYLOAD_SMALL_BYTES_MAX: u64 = 200;
const PAYLOAD_MEDIUM_BYTES_MAX: u64 = 4_000;
const PAYLOAD_LARGE_BYTES_MIN: u64 = 20_000;
const PAYLOAD_LARGE_BYTES_MAX: u64 = 40_000;
const PAYLOAD_OVERSIZED_BYTES: u64 = 410_000;

/// What a request is expected to be answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Success,
    /// A condition the writer made false on purpose.
    ConditionFails,
    /// A request DynamoDB refuses (an index key of the wrong type, an oversized item).
    Invalid,
}

/// How a request was answered.
enum Answer {
    Ok,
    /// A 400: the server looked at the request and refused it, so nothing applied.
    Rejected {
        code: String,
        detail: String,
    },
    /// No answer, or a 5xx: the write may or may not have applied.
    Unknown(String),
}

/// Whether the writer goes on after a request.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Continue,
    Stop,
}

/// A TransactWriteItems whose answer was lost, kept to be sent again with the same
/// ClientRequestToken after the restart.
#[derive(Debug, Clone)]
pub struct LostTransaction {
    pub token: String,
    pub items: Vec<TransactWriteItem>,
    /// Indexes into the writer's keys, and what each becomes if the transaction applies.
    pub keys: Vec<usize>,
    pub results: Vec<Option<Item>>,
    pub expect_cancel: bool,
}

#[derive(Debug, Default, Clone)]
pub struct WriterStats {
    /// Requests that were acknowledged with success.
    pub acknowledged: u64,
    /// Requests refused as they were meant to be (false conditions, invalid items).
    pub refused_as_expected: u64,
    pub transactions: u64,
    /// Transactions whose keys live in more than one shard.
    pub cross_shard_transactions: u64,
    /// Answers that contradict the model (a success for a false condition, returned
    /// attributes that differ from the item's known state, …).
    pub answer_mismatches: Vec<String>,
    /// Errors while the server was up (not caused by the kill).
    pub unexpected_errors: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Writer {
    pub id: usize,
    pub keys: Vec<KeyModel>,
    /// The last write id used; every attempted item carries its own.
    pub seq: u64,
    rng: Rng,
    /// The table's shard count, to count cross-shard transactions.
    shards: u16,
    pub stats: WriterStats,
    pub lost_transactions: Vec<LostTransaction>,
}

/// The shard a key lives in (the engine's own hash; the stream check uses it too).
pub fn shard_of_key(key: &str, shards: u16) -> u16 {
    eddy_engine::shard_of(
        eddy_engine::partition_hash(&eddy_engine::AttributeValue::S(key.to_owned())),
        shards,
    )
}

/// The key names a writer owns.
pub fn key_name(writer: usize, k: usize) -> String {
    format!("w{writer}-k{k}")
}

/// Parses a `tag` back into its writer and write id.
pub fn parse_tag(tag: &str) -> Option<(usize, u64)> {
    let (w, seq) = tag.strip_prefix('w')?.split_once(':')?;
    Some((w.parse().ok()?, seq.parse().ok()?))
}

fn classify<E: ProvideErrorMetadata + std::error::Error + 'static>(
    e: &SdkError<E, HttpResponse>,
) -> Answer {
    match e {
        SdkError::ServiceError(ctx) if ctx.raw().status().as_u16() == 400 => Answer::Rejected {
            code: ctx.err().code().unwrap_or("").to_owned(),
            detail: ctx.err().message().unwrap_or("").to_owned(),
        },
        other => Answer::Unknown(DisplayErrorContext(other).to_string()),
    }
}

/// The number attribute `name` of an item, if it is one.
fn number(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(Val::N(n)) => n.parse().ok(),
        _ => None,
    }
}

fn same(returned: Option<&std::collections::HashMap<String, Av>>, model: Option<&Item>) -> bool {
    let returned = returned.map(from_av_item).filter(|i| !i.is_empty());
    returned.as_ref() == model
}

impl Writer {
    pub fn new(id: usize, seed: u64, shards: u16) -> Writer {
        Writer {
            id,
            keys: (0..KEYS_PER_WRITER)
                .map(|k| KeyModel {
                    key: key_name(id, k),
                    state: None,
                    pending: None,
                })
                .collect(),
            seq: 0,
            rng: Rng::derive(seed, &[1, id as u64]),
            shards,
            stats: WriterStats::default(),
            lost_transactions: Vec::new(),
        }
    }

    /// Writes until a request's answer is lost (the server was killed).
    pub async fn run(mut self, c: Client, table: Arc<str>, killing: Arc<AtomicBool>) -> Writer {
        loop {
            let step = match self.rng.range(0, 100) {
                0..25 => self.put(&c, &table, &killing).await,
                25..50 => self.update(&c, &table, &killing).await,
                50..62 => self.delete(&c, &table, &killing).await,
                62..80 => self.batch(&c, &table, &killing).await,
                _ => self.transact(&c, &table, &killing).await,
            };
            if step == Step::Stop {
                return self;
            }
        }
    }

    fn payload(&mut self) -> String {
        let len = match self.rng.range(0, 100) {
            0..70 => self.rng.range(1, PAYLOAD_SMALL_BYTES_MAX),
            70..95 => self
                .rng
                .range(PAYLOAD_SMALL_BYTES_MAX, PAYLOAD_MEDIUM_BYTES_MAX),
            _ => self
                .rng
                .range(PAYLOAD_LARGE_BYTES_MIN, PAYLOAD_LARGE_BYTES_MAX),
        };
        self.letters(len)
    }

    fn letters(&mut self, len: u64) -> String {
        let mut x = self.rng.next_u64();
        (0..len)
            .map(|i| {
                if i % 12 == 0 {
                    x = self.rng.next_u64();
                }
                let c = char::from(b'a' + (x % 26) as u8);
                x /= 26;
                c
            })
            .collect()
    }

    /// A fresh item for key `k`, made by write `seq`.
    fn item(&mut self, k: usize, seq: u64) -> Item {
        let mut i = Item::new();
        i.insert("pk".into(), Val::s(self.keys[k].key.clone()));
        i.insert("tag".into(), Val::s(format!("w{}:{seq}", self.id)));
        i.insert("ver".into(), Val::n(seq as i64));
        if self.rng.percent(85) {
            let g = self.rng.range(0, GROUPS);
            i.insert("g".into(), Val::s(format!("g{g}")));
        }
        if self.rng.percent(80) {
            i.insert("n".into(), Val::n(self.rng.range(0, 1000) as i64));
        }
        let v = self.payload();
        i.insert("v".into(), Val::S(v));
        if self.rng.percent(20) {
            let len = self.rng.range(1, 64) as usize;
            let bytes = (0..len).map(|_| self.rng.next_u64() as u8).collect();
            i.insert("b".into(), Val::B(bytes));
        }
        if self.rng.percent(15) {
            let n = self.rng.range(1, 5);
            let set = (0..n).map(|j| format!("s{j}-{seq}")).collect();
            i.insert("ss".into(), Val::Ss(set));
        }
        if self.rng.percent(10) {
            let nested = [
                ("x".to_owned(), Val::n(seq as i64)),
                (
                    "l".to_owned(),
                    Val::L(vec![Val::s("e"), Val::Bool(true), Val::Null]),
                ),
            ];
            i.insert("m".into(), Val::M(nested.into_iter().collect()));
        }
        i
    }

    /// An item DynamoDB refuses: its GSI hash key has the wrong type, or it is larger
    /// than 400 KB.
    fn invalid_item(&mut self, k: usize, seq: u64) -> Item {
        let mut i = self.item(k, seq);
        if self.rng.percent(50) {
            i.insert("g".into(), Val::n(1));
        } else {
            let v = self.letters(PAYLOAD_OVERSIZED_BYTES);
            i.insert("v".into(), Val::S(v));
        }
        i
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// A condition true of key `k`'s known state, with its values.
    fn true_condition(&self, k: usize) -> (String, Vec<(String, Av)>) {
        match self.keys[k].state.as_ref().and_then(|s| number(s, "ver")) {
            Some(ver) => (
                "ver = :cur".into(),
                vec![(":cur".into(), Av::N(ver.to_string()))],
            ),
            None => ("attribute_not_exists(pk)".into(), Vec::new()),
        }
    }

    /// A condition false of key `k`'s known state.
    fn false_condition(&self, k: usize) -> (String, Vec<(String, Av)>) {
        match &self.keys[k].state {
            Some(_) => (
                "ver = :cur".into(),
                vec![(":cur".into(), Av::N("-1".into()))],
            ),
            None => ("attribute_exists(pk)".into(), Vec::new()),
        }
    }

    /// Settles the answer of a request that writes `keys` (whose items become `results`
    /// if it applies).
    #[allow(
        clippy::too_many_arguments,
        reason = "one place settles every kind of write"
    )]
    fn settle(
        &mut self,
        what: &str,
        answer: Answer,
        expect: Expect,
        keys: &[usize],
        results: Vec<Option<Item>>,
        transaction: Option<String>,
        killing: &AtomicBool,
    ) -> Step {
        match answer {
            Answer::Ok if expect == Expect::Success => {
                self.stats.acknowledged += 1;
                for (k, r) in keys.iter().zip(results) {
                    self.keys[*k].state = r;
                }
                Step::Continue
            }
            Answer::Ok => {
                self.stats.answer_mismatches.push(format!(
                    "writer {}: {what} was acknowledged, expected {expect:?}",
                    self.id
                ));
                // The server says it applied; the check decides.
                self.mark_pending(keys, results, transaction);
                Step::Stop
            }
            Answer::Rejected { code, detail } => {
                let expected = match expect {
                    Expect::Success => false,
                    Expect::ConditionFails => {
                        code == "ConditionalCheckFailedException"
                            || code == "TransactionCanceledException"
                    }
                    Expect::Invalid => code == "ValidationException",
                };
                if expected {
                    self.stats.refused_as_expected += 1;
                } else {
                    self.stats.answer_mismatches.push(format!(
                        "writer {}: {what} was refused with {code} ({detail}), expected {expect:?}",
                        self.id
                    ));
                }
                Step::Continue
            }
            Answer::Unknown(e) => {
                if !killing.load(Ordering::SeqCst) {
                    self.stats
                        .unexpected_errors
                        .push(format!("writer {}: {what}: {e}", self.id));
                }
                self.mark_pending(keys, results, transaction);
                Step::Stop
            }
        }
    }

    fn mark_pending(&mut self, keys: &[usize], results: Vec<Option<Item>>, tx: Option<String>) {
        for (k, r) in keys.iter().zip(results) {
            self.keys[*k].pending = Some(Pending {
                result: r,
                transaction: tx.clone(),
            });
        }
    }

    fn check_returned(
        &mut self,
        what: &str,
        returned: Option<&std::collections::HashMap<String, Av>>,
        model: Option<&Item>,
    ) {
        if !same(returned, model) {
            self.stats.answer_mismatches.push(format!(
                "writer {}: {what} returned {} but the item was {}",
                self.id,
                crate::model::describe(returned.map(from_av_item).as_ref()),
                crate::model::describe(model)
            ));
        }
    }

    async fn put(&mut self, c: &Client, table: &str, killing: &AtomicBool) -> Step {
        let k = self.rng.range(0, self.keys.len() as u64) as usize;
        let seq = self.next_seq();
        let mode = self.rng.range(0, 100);
        let (item, expect, condition) = match mode {
            0..10 => (
                self.item(k, seq),
                Expect::ConditionFails,
                Some(self.false_condition(k)),
            ),
            10..13 => (self.invalid_item(k, seq), Expect::Invalid, None),
            13..50 => (
                self.item(k, seq),
                Expect::Success,
                Some(self.true_condition(k)),
            ),
            _ => (self.item(k, seq), Expect::Success, None),
        };
        let mut req = c
            .put_item()
            .table_name(table)
            .set_item(Some(to_av_item(&item)))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some((expr, values)) = condition {
            req = req.condition_expression(expr);
            for (name, v) in values {
                req = req.expression_attribute_values(name, v);
            }
        }
        let what = format!("PutItem {} (write {seq})", self.keys[k].key);
        let old = self.keys[k].state.clone();
        let answer = match tokio::time::timeout(
            std::time::Duration::from_millis(REQUEST_TIMEOUT_MS),
            req.send(),
        )
        .await
        {
            Err(_) => Answer::Unknown("timed out".into()),
            Ok(Ok(out)) => {
                if expect == Expect::Success {
                    self.check_returned(&what, out.attributes(), old.as_ref());
                }
                Answer::Ok
            }
            Ok(Err(e)) => {
                if let Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(f)) = e.as_service_error() {
                    self.check_returned(&format!("{what}'s ConditionalCheckFailed"), f.item(), old.as_ref());
                }
                classify(&e)
            }
        };
        self.settle(&what, answer, expect, &[k], vec![Some(item)], None, killing)
    }

    /// The item an update makes of `old`: `SET ver, tag [, g] [REMOVE g] ADD n :one`.
    fn updated(&self, k: usize, old: Option<&Item>, seq: u64, g: &GroupChange) -> Item {
        let mut new = old
            .cloned()
            .unwrap_or_else(|| Item::from([("pk".to_owned(), Val::s(self.keys[k].key.clone()))]));
        new.insert("ver".into(), Val::n(seq as i64));
        new.insert("tag".into(), Val::s(format!("w{}:{seq}", self.id)));
        let n = old.and_then(|o| number(o, "n")).unwrap_or(0) + 1;
        new.insert("n".into(), Val::n(n));
        match g {
            GroupChange::Keep => {}
            GroupChange::Set(g) => {
                new.insert("g".into(), Val::s(g.clone()));
            }
            GroupChange::Remove => {
                new.remove("g");
            }
        }
        new
    }

    fn group_change(&mut self) -> GroupChange {
        match self.rng.range(0, 10) {
            0..6 => GroupChange::Keep,
            6..9 => GroupChange::Set(format!("g{}", self.rng.range(0, GROUPS))),
            _ => GroupChange::Remove,
        }
    }

    async fn update(&mut self, c: &Client, table: &str, killing: &AtomicBool) -> Step {
        let k = self.rng.range(0, self.keys.len() as u64) as usize;
        let seq = self.next_seq();
        let g = self.group_change();
        let fail = self.rng.percent(10);
        let (condition, mut values) = if fail {
            self.false_condition(k)
        } else {
            self.true_condition(k)
        };
        let old = self.keys[k].state.clone();
        let new = self.updated(k, old.as_ref(), seq, &g);
        let mut expr = "SET ver = :ver, tag = :tag".to_owned();
        values.push((":ver".into(), Av::N(seq.to_string())));
        values.push((":tag".into(), Av::S(format!("w{}:{seq}", self.id))));
        values.push((":one".into(), Av::N("1".into())));
        match &g {
            GroupChange::Keep => {}
            GroupChange::Set(g) => {
                expr.push_str(", g = :g");
                values.push((":g".into(), to_av(&Val::s(g.clone()))));
            }
            GroupChange::Remove => expr.push_str(" REMOVE g"),
        }
        expr.push_str(" ADD n :one");
        let mut req = c
            .update_item()
            .table_name(table)
            .key("pk", Av::S(self.keys[k].key.clone()))
            .update_expression(expr)
            .condition_expression(condition)
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (name, v) in values {
            req = req.expression_attribute_values(name, v);
        }
        let expect = if fail {
            Expect::ConditionFails
        } else {
            Expect::Success
        };
        let what = format!("UpdateItem {} (write {seq})", self.keys[k].key);
        let answer = match tokio::time::timeout(
            std::time::Duration::from_millis(REQUEST_TIMEOUT_MS),
            req.send(),
        )
        .await
        {
            Err(_) => Answer::Unknown("timed out".into()),
            Ok(Ok(out)) => {
                if expect == Expect::Success {
                    self.check_returned(&what, out.attributes(), Some(&new));
                }
                Answer::Ok
            }
            Ok(Err(e)) => {
                if let Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(f)) = e.as_service_error() {
                    self.check_returned(&format!("{what}'s ConditionalCheckFailed"), f.item(), old.as_ref());
                }
                classify(&e)
            }
        };
        self.settle(&what, answer, expect, &[k], vec![Some(new)], None, killing)
    }

    async fn delete(&mut self, c: &Client, table: &str, killing: &AtomicBool) -> Step {
        let k = self.rng.range(0, self.keys.len() as u64) as usize;
        let seq = self.next_seq();
        let conditional = self.rng.percent(50);
        let exists = self.keys[k].state.is_some();
        let mut req = c
            .delete_item()
            .table_name(table)
            .key("pk", Av::S(self.keys[k].key.clone()))
            .return_values(ReturnValue::AllOld);
        if conditional {
            req = req.condition_expression("attribute_exists(pk)");
        }
        let expect = if conditional && !exists {
            Expect::ConditionFails
        } else {
            Expect::Success
        };
        let what = format!("DeleteItem {} (write {seq})", self.keys[k].key);
        let old = self.keys[k].state.clone();
        let answer = match tokio::time::timeout(
            std::time::Duration::from_millis(REQUEST_TIMEOUT_MS),
            req.send(),
        )
        .await
        {
            Err(_) => Answer::Unknown("timed out".into()),
            Ok(Ok(out)) => {
                if expect == Expect::Success {
                    self.check_returned(&what, out.attributes(), old.as_ref());
                }
                Answer::Ok
            }
            Ok(Err(e)) => classify(&e),
        };
        self.settle(&what, answer, expect, &[k], vec![None], None, killing)
    }

    async fn batch(&mut self, c: &Client, table: &str, killing: &AtomicBool) -> Step {
        let count = self.rng.range(2, BATCH_REQUESTS_MAX as u64 + 1) as usize;
        let keys = self.rng.distinct(self.keys.len(), count);
        let invalid_at = self
            .rng
            .percent(3)
            .then(|| self.rng.range(0, keys.len() as u64) as usize);
        let first = self.seq + 1;
        let mut requests = Vec::new();
        let mut results = Vec::new();
        for (i, &k) in keys.iter().enumerate() {
            let seq = self.next_seq();
            if invalid_at == Some(i) {
                let item = self.invalid_item(k, seq);
                requests.push(put_request(&item));
                results.push(Some(item));
            } else if self.rng.percent(70) {
                let item = self.item(k, seq);
                requests.push(put_request(&item));
                results.push(Some(item));
            } else {
                requests.push(
                    WriteRequest::builder()
                        .delete_request(
                            DeleteRequest::builder()
                                .key("pk", Av::S(self.keys[k].key.clone()))
                                .build()
                                .expect("a delete request with its key"),
                        )
                        .build(),
                );
                results.push(None);
            }
        }
        let expect = if invalid_at.is_some() {
            Expect::Invalid
        } else {
            Expect::Success
        };
        let what = format!("BatchWriteItem of {count} (writes {first}..={})", self.seq);
        let req = c.batch_write_item().request_items(table, requests);
        let answer = match tokio::time::timeout(
            std::time::Duration::from_millis(REQUEST_TIMEOUT_MS),
            req.send(),
        )
        .await
        {
            Err(_) => Answer::Unknown("timed out".into()),
            Ok(Ok(out)) => {
                // Unprocessed requests did not apply: take their keys out of the answer.
                let unprocessed: Vec<String> = out
                    .unprocessed_items()
                    .and_then(|m| m.get(table))
                    .into_iter()
                    .flatten()
                    .filter_map(|w| {
                        let key = w
                            .put_request()
                            .map(|p| p.item())
                            .or_else(|| w.delete_request().map(|d| d.key()))?;
                        key.get("pk").and_then(|v| v.as_s().ok()).cloned()
                    })
                    .collect();
                if !unprocessed.is_empty() {
                    let (mut ks, mut rs) = (Vec::new(), Vec::new());
                    for (k, r) in keys.iter().zip(results) {
                        if !unprocessed.contains(&self.keys[*k].key) {
                            ks.push(*k);
                            rs.push(r);
                        }
                    }
                    return self.settle(&what, Answer::Ok, expect, &ks, rs, None, killing);
                }
                Answer::Ok
            }
            Ok(Err(e)) => classify(&e),
        };
        self.settle(&what, answer, expect, &keys, results, None, killing)
    }

    async fn transact(&mut self, c: &Client, table: &str, killing: &AtomicBool) -> Step {
        let count = self.rng.range(2, TRANSACT_ACTIONS_MAX as u64 + 1) as usize;
        let keys = self.rng.distinct(self.keys.len(), count);
        let fail_at = self
            .rng
            .percent(10)
            .then(|| self.rng.range(0, keys.len() as u64) as usize);
        let seq = self.next_seq();
        let token = format!("t{}-{seq}", self.id);
        let mut items = Vec::new();
        let mut results = Vec::new();
        for (i, &k) in keys.iter().enumerate() {
            let (condition, mut values) = if fail_at == Some(i) {
                self.false_condition(k)
            } else {
                self.true_condition(k)
            };
            let old = self.keys[k].state.clone();
            // Each action writes its own version, so every key's new value is unique.
            let action_seq = self.next_seq();
            let names = |values: &[(String, Av)]| -> Option<std::collections::HashMap<String, Av>> {
                (!values.is_empty()).then(|| values.iter().cloned().collect())
            };
            let action = match self.rng.range(0, 100) {
                0..35 => {
                    let item = self.item(k, action_seq);
                    let put = Put::builder()
                        .table_name(table)
                        .set_item(Some(to_av_item(&item)))
                        .condition_expression(condition)
                        .set_expression_attribute_values(names(&values))
                        .build()
                        .expect("a put with its table and item");
                    results.push(Some(item));
                    TransactWriteItem::builder().put(put).build()
                }
                35..70 => {
                    let g = self.group_change();
                    let new = self.updated(k, old.as_ref(), action_seq, &g);
                    let mut expr = "SET ver = :ver, tag = :tag".to_owned();
                    values.push((":ver".into(), Av::N(action_seq.to_string())));
                    values.push((":tag".into(), Av::S(format!("w{}:{action_seq}", self.id))));
                    values.push((":one".into(), Av::N("1".into())));
                    match &g {
                        GroupChange::Keep => {}
                        GroupChange::Set(g) => {
                            expr.push_str(", g = :g");
                            values.push((":g".into(), Av::S(g.clone())));
                        }
                        GroupChange::Remove => expr.push_str(" REMOVE g"),
                    }
                    expr.push_str(" ADD n :one");
                    let update = Update::builder()
                        .table_name(table)
                        .key("pk", Av::S(self.keys[k].key.clone()))
                        .update_expression(expr)
                        .condition_expression(condition)
                        .set_expression_attribute_values(names(&values))
                        .build()
                        .expect("an update with its table, key and expression");
                    results.push(Some(new));
                    TransactWriteItem::builder().update(update).build()
                }
                70..85 => {
                    let delete = Delete::builder()
                        .table_name(table)
                        .key("pk", Av::S(self.keys[k].key.clone()))
                        .condition_expression(condition)
                        .set_expression_attribute_values(names(&values))
                        .build()
                        .expect("a delete with its table and key");
                    results.push(None);
                    TransactWriteItem::builder().delete(delete).build()
                }
                _ => {
                    let check = ConditionCheck::builder()
                        .table_name(table)
                        .key("pk", Av::S(self.keys[k].key.clone()))
                        .condition_expression(condition)
                        .set_expression_attribute_values(names(&values))
                        .build()
                        .expect("a condition check with its table, key and condition");
                    results.push(old);
                    TransactWriteItem::builder().condition_check(check).build()
                }
            };
            items.push(action);
        }
        self.stats.transactions += 1;
        let shards: std::collections::BTreeSet<u16> = keys
            .iter()
            .map(|k| shard_of_key(&self.keys[*k].key, self.shards))
            .collect();
        if shards.len() > 1 {
            self.stats.cross_shard_transactions += 1;
        }
        let expect = if fail_at.is_some() {
            Expect::ConditionFails
        } else {
            Expect::Success
        };
        let what = format!("TransactWriteItems {token} of {count}");
        let req = c
            .transact_write_items()
            .set_transact_items(Some(items.clone()))
            .client_request_token(&token);
        let answer = match tokio::time::timeout(
            std::time::Duration::from_millis(REQUEST_TIMEOUT_MS),
            req.send(),
        )
        .await
        {
            Err(_) => Answer::Unknown("timed out".into()),
            Ok(Ok(_)) => Answer::Ok,
            Ok(Err(e)) => {
                if let Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(x)) = e.as_service_error() {
                    let reasons: Vec<&str> = x.cancellation_reasons().iter().map(|r| r.code().unwrap_or("")).collect();
                    let want_failed = fail_at.map_or(usize::MAX, |i| i);
                    let right = reasons.len() == count
                        && reasons.iter().enumerate().all(|(i, r)| {
                            if i == want_failed { *r == "ConditionalCheckFailed" } else { *r == "None" }
                        });
                    if expect == Expect::ConditionFails && !right {
                        self.stats.answer_mismatches.push(format!(
                            "writer {}: {what} was cancelled with reasons {reasons:?}, expected action {want_failed} to fail",
                            self.id
                        ));
                    }
                }
                classify(&e)
            }
        };
        if let Answer::Unknown(_) = &answer {
            self.lost_transactions.push(LostTransaction {
                token: token.clone(),
                items,
                keys: keys.clone(),
                results: results.clone(),
                expect_cancel: expect == Expect::ConditionFails,
            });
        }
        self.settle(&what, answer, expect, &keys, results, Some(token), killing)
    }
}

/// How an update changes the GSI hash key `g`.
#[derive(Debug, Clone)]
enum GroupChange {
    Keep,
    Set(String),
    Remove,
}

fn put_request(item: &Item) -> WriteRequest {
    WriteRequest::builder()
        .put_request(
            PutRequest::builder()
                .set_item(Some(to_av_item(item)))
                .build()
                .expect("a put request with its item"),
        )
        .build()
}

/// Sends a lost transaction again with its ClientRequestToken. DynamoDB: a retry within
/// the ten-minute window "returns successfully without making any changes" if the first
/// request applied, and applies it if it did not — so either way the keys end up as the
/// transaction makes them (or, for one meant to fail, cancelled and unchanged).
pub async fn retry_transaction(c: &Client, lost: &LostTransaction) -> Result<bool, String> {
    let out = c
        .transact_write_items()
        .set_transact_items(Some(lost.items.clone()))
        .client_request_token(&lost.token)
        .send()
        .await;
    match out {
        Ok(_) => Ok(true),
        Err(e) => match classify(&e) {
            Answer::Rejected { code, .. } if code == "TransactionCanceledException" => Ok(false),
            Answer::Rejected { code, detail } => Err(format!("{code}: {detail}")),
            Answer::Unknown(e) => Err(e),
            Answer::Ok => Ok(true),
        },
    }
}
