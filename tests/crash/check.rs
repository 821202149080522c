//! What is checked after every restart: the table against the writers' model (lost
//! writes, phantoms, torn transactions), each GSI against a recomputation from the
//! table, the counts DescribeTable reports, and the stream replayed over an empty map
//! against the table.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;

use crate::model::{Item, Val, describe, from_av_item, from_sv_item};
use crate::writers::{Writer, parse_tag, shard_of_key};

/// Whether a value has the type an index key attribute needs.
type KeyTypeCheck = fn(&Val) -> bool;

/// One of the table's GSIs: its name, hash key, range key, and the non-key attributes
/// it projects.
pub struct IndexSpec {
    pub name: &'static str,
    pub hash: &'static str,
    pub hash_type: KeyTypeCheck,
    pub range: Option<(&'static str, KeyTypeCheck)>,
    pub include: &'static [&'static str],
}

fn is_s(v: &Val) -> bool {
    matches!(v, Val::S(s) if !s.is_empty())
}

fn is_n(v: &Val) -> bool {
    matches!(v, Val::N(_))
}

/// `by_g`: hash `g` (S), range `n` (N), INCLUDE `tag`; `by_tag`: hash `tag` (S),
/// KEYS_ONLY. Updates move items in and out of `by_g` (they set and remove `g` and
/// change `n`).
pub const INDEXES: [IndexSpec; 2] = [
    IndexSpec {
        name: "by_g",
        hash: "g",
        hash_type: is_s,
        range: Some(("n", is_n)),
        include: &["tag"],
    },
    IndexSpec {
        name: "by_tag",
        hash: "tag",
        hash_type: is_s,
        range: None,
        include: &[],
    },
];

impl IndexSpec {
    /// The index entry of a table item, or none if the item lacks the index's keys.
    fn project(&self, item: &Item) -> Option<Item> {
        let mut out = Item::new();
        let hash = item.get(self.hash).filter(|v| (self.hash_type)(v))?;
        out.insert(self.hash.into(), hash.clone());
        if let Some((range, is_type)) = self.range {
            let r = item.get(range).filter(|v| is_type(v))?;
            out.insert(range.into(), r.clone());
        }
        out.insert("pk".into(), item.get("pk")?.clone());
        for name in self.include {
            if let Some(v) = item.get(*name) {
                out.insert((*name).into(), v.clone());
            }
        }
        Some(out)
    }
}

/// Counters of one check, added up over the run.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub lost: u64,
    pub phantom: u64,
    pub torn_transactions: u64,
    pub stream_mismatches: u64,
    pub index_mismatches: u64,
    pub count_mismatches: u64,
    pub token_mismatches: u64,
    /// In-flight writes found applied and not applied.
    pub in_flight_applied: u64,
    pub in_flight_not_applied: u64,
    pub problems: Vec<String>,
}

impl Tally {
    pub fn failures(&self) -> u64 {
        self.lost
            + self.phantom
            + self.torn_transactions
            + self.stream_mismatches
            + self.index_mismatches
            + self.count_mismatches
            + self.token_mismatches
    }

    pub fn add(&mut self, other: &Tally) {
        self.lost += other.lost;
        self.phantom += other.phantom;
        self.torn_transactions += other.torn_transactions;
        self.stream_mismatches += other.stream_mismatches;
        self.index_mismatches += other.index_mismatches;
        self.count_mismatches += other.count_mismatches;
        self.token_mismatches += other.token_mismatches;
        self.in_flight_applied += other.in_flight_applied;
        self.in_flight_not_applied += other.in_flight_not_applied;
    }

    fn problem(&mut self, p: String) {
        self.problems.push(p);
    }
}

/// Every item of the table (or of one of its indexes), by `pk`.
pub async fn scan(
    c: &Client,
    table: &str,
    index: Option<&str>,
) -> Result<BTreeMap<String, Item>, String> {
    let mut out = BTreeMap::new();
    let mut start = None;
    loop {
        let page = c
            .scan()
            .table_name(table)
            .set_index_name(index.map(str::to_owned))
            .consistent_read(index.is_none())
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "Scan {index:?}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                )
            })?;
        for i in page.items() {
            let item = from_av_item(i);
            let Some(Val::S(pk)) = item.get("pk").cloned() else {
                return Err(format!(
                    "Scan {index:?} returned an item without pk: {}",
                    describe(Some(&item))
                ));
            };
            if out.insert(pk.clone(), item).is_some() {
                return Err(format!("Scan {index:?} returned {pk} twice"));
            }
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return Ok(out);
        }
    }
}

/// Checks the table against the model and settles every pending write to what the
/// table shows.
pub fn check_model(writers: &mut [Writer], table: &BTreeMap<String, Item>, t: &mut Tally) {
    let mut owned = HashSet::new();
    for w in writers.iter_mut() {
        // Per transaction: which of its keys show it applied, and which not.
        let mut transactions: BTreeMap<String, (u32, u32)> = BTreeMap::new();
        let attempted = w.seq;
        let id = w.id;
        for key in &mut w.keys {
            owned.insert(key.key.clone());
            let found = table.get(&key.key);
            let pending = key.pending.take();
            if found == key.state.as_ref() {
                if let Some(p) = &pending {
                    // A pending write whose result equals the old state cannot be told
                    // apart; count only distinguishable ones.
                    if p.result != key.state {
                        t.in_flight_not_applied += 1;
                        if let Some(tx) = &p.transaction {
                            transactions.entry(tx.clone()).or_default().1 += 1;
                        }
                    }
                }
                continue;
            }
            if let Some(p) = &pending
                && found == p.result.as_ref()
            {
                t.in_flight_applied += 1;
                if let Some(tx) = &p.transaction {
                    transactions.entry(tx.clone()).or_default().0 += 1;
                }
                key.state = found.cloned();
                continue;
            }
            // Neither the acknowledged state nor the pending write's result.
            let made_by_an_attempted_write = found
                .and_then(|i| match i.get("tag") {
                    Some(Val::S(tag)) => parse_tag(tag),
                    _ => None,
                })
                .is_some_and(|(w, seq)| w == id && seq <= attempted);
            let what = format!(
                "{}: the table has {}, the last acknowledged write left {}{}",
                key.key,
                describe(found),
                describe(key.state.as_ref()),
                pending
                    .as_ref()
                    .map(|p| format!(
                        ", the write in flight would leave {}",
                        describe(p.result.as_ref())
                    ))
                    .unwrap_or_default()
            );
            if found.is_none() || made_by_an_attempted_write {
                t.lost += 1;
                t.problem(format!("lost: {what}"));
            } else {
                t.phantom += 1;
                t.problem(format!("phantom: {what}"));
            }
            key.state = found.cloned();
        }
        for (tx, (applied, not)) in transactions {
            if applied > 0 && not > 0 {
                t.torn_transactions += 1;
                t.problem(format!(
                    "torn transaction {tx}: {applied} of its keys applied, {not} did not"
                ));
            }
        }
    }
    for (k, item) in table {
        if !owned.contains(k) {
            t.phantom += 1;
            t.problem(format!(
                "phantom: key {k} was never written: {}",
                describe(Some(item))
            ));
        }
    }
}

/// Checks every GSI against a recomputation from the table, and DescribeTable's counts.
pub async fn check_indexes(
    c: &Client,
    name: &str,
    table: &BTreeMap<String, Item>,
    t: &mut Tally,
) -> Result<(), String> {
    for spec in &INDEXES {
        let found = scan(c, name, Some(spec.name)).await?;
        let expected: BTreeMap<String, Item> = table
            .iter()
            .filter_map(|(k, item)| Some((k.clone(), spec.project(item)?)))
            .collect();
        let keys: BTreeSet<&String> = found.keys().chain(expected.keys()).collect();
        for k in keys {
            let (f, e) = (found.get(k), expected.get(k));
            if f != e {
                t.index_mismatches += 1;
                t.problem(format!(
                    "index {}: {k} has entry {:?}, the table's item projects to {:?}",
                    spec.name, f, e
                ));
            }
        }
    }
    let d = c
        .describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(|e| {
            format!(
                "DescribeTable: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            )
        })?;
    let d = d.table.ok_or("DescribeTable without a table")?;
    if d.item_count() != Some(table.len() as i64) {
        t.count_mismatches += 1;
        t.problem(format!(
            "DescribeTable says ItemCount {:?}, a Scan finds {}",
            d.item_count(),
            table.len()
        ));
    }
    for gsi in d.global_secondary_indexes() {
        let Some(spec) = INDEXES.iter().find(|s| Some(s.name) == gsi.index_name()) else {
            continue;
        };
        let expected = table.values().filter(|i| spec.project(i).is_some()).count();
        if gsi.item_count() != Some(expected as i64) {
            t.count_mismatches += 1;
            t.problem(format!(
                "DescribeTable says index {} has ItemCount {:?}, the table has {expected} items with its keys",
                spec.name,
                gsi.item_count()
            ));
        }
    }
    Ok(())
}

/// The stream replayed so far: per key its image, per shard the last record read.
#[derive(Debug, Default, Clone)]
pub struct Replay {
    images: BTreeMap<String, Item>,
    last: BTreeMap<String, (u128, String)>,
    key_shard: HashMap<String, String>,
    event_ids: HashSet<String>,
    pub records: u64,
}

/// The table shard a stream shard id stands for (its last four hex digits).
fn shard_index(shard_id: &str) -> Option<u16> {
    shard_id
        .get(shard_id.len().checked_sub(4)?..)
        .and_then(|h| u16::from_str_radix(h, 16).ok())
}

impl Replay {
    /// Reads every shard from where this replay stopped (TRIM_HORIZON for a new one) to
    /// its end, applying and checking each record, then compares the images with the
    /// table.
    pub async fn advance(
        &mut self,
        c: &aws_sdk_dynamodbstreams::Client,
        arn: &str,
        shards: u16,
        table: &BTreeMap<String, Item>,
        t: &mut Tally,
    ) -> Result<(), String> {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let mut shard_ids = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let d = c
                .describe_stream()
                .stream_arn(arn)
                .set_exclusive_start_shard_id(start)
                .send()
                .await
                .map_err(|e| err(&aws_sdk_dynamodbstreams::error::DisplayErrorContext(e)))?;
            let d = d
                .stream_description
                .ok_or("DescribeStream without a description")?;
            shard_ids.extend(
                d.shards()
                    .iter()
                    .filter_map(|s| s.shard_id().map(str::to_owned)),
            );
            start = d.last_evaluated_shard_id;
            if start.is_none() {
                break;
            }
        }
        if shard_ids.len() != usize::from(shards) {
            t.stream_mismatches += 1;
            t.problem(format!(
                "the stream has {} shards, the table {shards}",
                shard_ids.len()
            ));
        }
        for shard_id in shard_ids {
            let mut req = c.get_shard_iterator().stream_arn(arn).shard_id(&shard_id);
            req = match self.last.get(&shard_id) {
                Some((_, seq)) => req
                    .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                    .sequence_number(seq),
                None => req.shard_iterator_type(ShardIteratorType::TrimHorizon),
            };
            let mut it = req
                .send()
                .await
                .map_err(|e| err(&aws_sdk_dynamodbstreams::error::DisplayErrorContext(e)))?
                .shard_iterator;
            while let Some(i) = it {
                let out = c
                    .get_records()
                    .shard_iterator(i)
                    .send()
                    .await
                    .map_err(|e| err(&aws_sdk_dynamodbstreams::error::DisplayErrorContext(e)))?;
                if out.records().is_empty() {
                    break;
                }
                for r in out.records() {
                    self.apply(&shard_id, shards, r, t);
                }
                it = out.next_shard_iterator;
            }
        }
        let keys: BTreeSet<&String> = self.images.keys().chain(table.keys()).collect();
        for k in keys {
            let (replayed, found) = (self.images.get(k), table.get(k));
            if replayed != found {
                t.stream_mismatches += 1;
                t.problem(format!(
                    "stream: replaying the records leaves {k} {}, the table has {}",
                    describe(replayed),
                    describe(found)
                ));
            }
        }
        Ok(())
    }

    fn apply(
        &mut self,
        shard_id: &str,
        shards: u16,
        r: &aws_sdk_dynamodbstreams::types::Record,
        t: &mut Tally,
    ) {
        self.records += 1;
        let bad = |t: &mut Tally, what: String| {
            t.stream_mismatches += 1;
            t.problem(format!("stream record in {shard_id}: {what}"));
        };
        let id = r.event_id().unwrap_or_default().to_owned();
        if !self.event_ids.insert(id.clone()) {
            bad(t, format!("duplicate eventID {id}"));
            return;
        }
        let Some(d) = r.dynamodb() else {
            bad(t, format!("{id} has no dynamodb field"));
            return;
        };
        let seq_text = d.sequence_number().unwrap_or_default().to_owned();
        let Ok(seq) = seq_text.parse::<u128>() else {
            bad(t, format!("{id} has sequence number {seq_text:?}"));
            return;
        };
        if let Some((last, _)) = self.last.get(shard_id)
            && seq <= *last
        {
            bad(t, format!("sequence number {seq} follows {last}"));
        }
        self.last.insert(shard_id.to_owned(), (seq, seq_text));
        let keys = d.keys().map(from_sv_item).unwrap_or_default();
        let Some(Val::S(pk)) = keys.get("pk").cloned() else {
            bad(t, format!("{id} has keys {keys:?}"));
            return;
        };
        if keys.len() != 1 {
            bad(t, format!("{id} has keys {keys:?}"));
        }
        match self.key_shard.get(&pk) {
            Some(s) if s != shard_id => bad(t, format!("{pk} also has records in {s}")),
            _ => {
                self.key_shard.insert(pk.clone(), shard_id.to_owned());
            }
        }
        if shard_index(shard_id) != Some(shard_of_key(&pk, shards)) {
            bad(
                t,
                format!("{pk} belongs to table shard {}", shard_of_key(&pk, shards)),
            );
        }
        let old = d.old_image().map(from_sv_item);
        let new = d.new_image().map(from_sv_item);
        let previous = self.images.get(&pk);
        let event = r
            .event_name()
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default();
        let ok = match event.as_str() {
            "INSERT" => previous.is_none() && old.is_none() && new.is_some(),
            "MODIFY" => {
                previous.is_some() && old.as_ref() == previous && new.is_some() && old != new
            }
            "REMOVE" => previous.is_some() && old.as_ref() == previous && new.is_none(),
            _ => false,
        };
        if !ok {
            bad(
                t,
                format!(
                    "{event} {pk} (sequence number {seq}): old image {}, new image {}, but the replayed item was {}",
                    describe(old.as_ref()),
                    describe(new.as_ref()),
                    describe(previous)
                ),
            );
        }
        if let Some(n) = &new
            && n.get("pk") != Some(&Val::S(pk.clone()))
        {
            bad(
                t,
                format!("{pk}'s new image has another key: {}", describe(Some(n))),
            );
        }
        match new {
            Some(n) => self.images.insert(pk, n),
            None => self.images.remove(&pk),
        };
    }
}
