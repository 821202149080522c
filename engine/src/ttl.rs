//! Time to Live: a table's expiry attribute (UpdateTimeToLive, DescribeTimeToLive) and
//! the sweeper that deletes expired items.
//!
//! As in DynamoDB, an item expires when its TTL attribute is a Number of epoch seconds
//! in the past, but not more than five years in the past; any other value (a string, a
//! set, a missing attribute) never expires. Expired items stay readable until the
//! sweeper deletes them, which it does through the writer like any delete, re-checking
//! the item there (a write that moved its expiry into the future wins). The deletes'
//! change records are marked as the TTL service's, so the Streams API and triggers
//! report `userIdentity` `{"type": "Service", "principalId": "dynamodb.amazonaws.com"}`.
//!
//! DynamoDB deletes expired items within a few days; Eddy's sweeper runs every
//! [`EngineConfig::ttl_sweep_ms`](crate::EngineConfig) (10 s by default) and looks at
//! up to [`TTL_SCAN_ITEMS_PER_SWEEP_MAX`] items of each table per run, resuming where
//! the previous run stopped.
//!
//! # Layout
//!
//! | keyspace | key | value |
//! |---|---|---|
//! | `meta` | `b"ttl/" + table_id u32` | the attribute name (UTF-8); absent when disabled |
//!
//! This module knows nothing of the wire JSON.

use std::sync::Arc;
use std::time::Duration;

use crate::catalog::TableRef;
use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::meta::ttl_key;
use crate::reader::NumberRef;
use crate::state::State;
use crate::stored::{SetKind, StoredItem, Visitor};
use crate::sync::{lock, read, write};
use crate::value::{AttributeValue, Item};
use crate::writer::job::{Change, Mutation};
use crate::writer::staging::Staging;
use crate::writer::submit::submit_expiry;

/// Items whose expiry is further in the past than this are never deleted (DynamoDB's
/// rule, which keeps a millisecond or microsecond timestamp from reading as expired).
const TTL_PAST_LIMIT_S: f64 = 5.0 * 365.0 * 24.0 * 3600.0;

/// Deletes submitted as one writer job.
const TTL_DELETE_CHUNK_ITEMS_MAX: usize = 100;

/// Deletes per table per sweep; the rest wait for the next sweep, so expiring a large
/// table never floods the writer.
const TTL_DELETES_PER_SWEEP_MAX: usize = 10_000;

/// Items a sweep looks at per table. A larger table is covered over several sweeps,
/// each resuming where the last stopped, so a sweep's cost is bounded whatever the
/// table's size: 100,000 five-attribute items took 117 ms on the 2-core machine
/// (release build, from the memtable), about 1.2% of a core at the default interval.
const TTL_SCAN_ITEMS_PER_SWEEP_MAX: usize = 100_000;

/// The longest attribute name UpdateTimeToLive accepts.
const TTL_ATTRIBUTE_NAME_BYTES_MAX: usize = 255;

/// DescribeTimeToLive's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeToLiveDescription {
    /// `ENABLED` or `DISABLED`: Eddy's changes take effect at once, so it never reports
    /// `ENABLING` or `DISABLING`.
    pub enabled: bool,
    pub attribute_name: Option<String>,
}

/// Whether an expiry of `at_s` epoch seconds has passed at `now_s`.
fn is_expired(at_s: f64, now_s: f64) -> bool {
    at_s < now_s && at_s > now_s - TTL_PAST_LIMIT_S
}

/// The item's expiry, when its TTL attribute is a number.
fn expiry_of_item(item: &Item, attribute: &str) -> Option<f64> {
    match item.get(attribute)? {
        AttributeValue::N(n) => Some(n.to_f64_lossy()),
        _ => None,
    }
}

/// Finds a top-level number attribute in a stored item without building the item.
struct ExpiryFinder<'a> {
    attribute: &'a str,
    /// Open maps and lists: a map's depth, or `usize::MAX` for a list or set.
    open: Vec<usize>,
    /// The next value is the top-level attribute sought.
    pending: bool,
    found: Option<f64>,
}

impl ExpiryFinder<'_> {
    fn value(&mut self) {
        self.pending = false;
    }
}

impl Visitor for ExpiryFinder<'_> {
    fn map_start(&mut self, depth: usize, _len: usize) {
        self.value();
        self.open.push(depth);
    }
    fn entry(&mut self, _index: usize, name: &str) {
        self.pending = self.open.as_slice() == [0] && name == self.attribute;
    }
    fn map_end(&mut self, _depth: usize) {
        self.open.pop();
    }
    fn list_start(&mut self, _len: usize) {
        self.value();
        self.open.push(usize::MAX);
    }
    fn set_start(&mut self, _kind: SetKind, _len: usize) {
        self.value();
        self.open.push(usize::MAX);
    }
    fn element(&mut self, _index: usize) {}
    fn list_end(&mut self) {
        self.open.pop();
    }
    fn string(&mut self, _s: &str) {
        self.value();
    }
    fn number(&mut self, n: NumberRef<'_>) {
        if self.pending {
            self.found = n.with_text(|t| t.parse::<f64>().ok());
        }
        self.value();
    }
    fn binary(&mut self, _b: &[u8]) {
        self.value();
    }
    fn bool(&mut self, _b: bool) {
        self.value();
    }
    fn null(&mut self) {
        self.value();
    }
}

fn expiry_of_stored(item: &StoredItem, attribute: &str) -> Result<Option<f64>> {
    let mut finder = ExpiryFinder {
        attribute,
        open: Vec::new(),
        pending: false,
        found: None,
    };
    item.walk(&mut finder)?;
    Ok(finder.found)
}

fn now_s() -> f64 {
    now_ms() as f64 / 1000.0
}

/// UpdateTimeToLive: enables or disables expiry on `attribute_name`. Like
/// DynamoDB's, the call is not idempotent: enabling twice, or disabling what is not
/// enabled, is a `ValidationException`.
pub(crate) fn update_time_to_live(
    state: &State,
    table: &str,
    enabled: bool,
    attribute_name: &str,
) -> Result<()> {
    if attribute_name.is_empty() || attribute_name.len() > TTL_ATTRIBUTE_NAME_BYTES_MAX {
        return Err(Error::validation(format!(
            "1 validation error detected: Value '{attribute_name}' at 'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must have length less than or equal to {TTL_ATTRIBUTE_NAME_BYTES_MAX} and greater than or equal to 1"
        )));
    }
    let _guard = lock(&state.catalog_lock);
    let t = crate::tables::control_table(state, table)?;
    let current = read(&t.stats.ttl_attribute).clone();
    match &current {
        Some(name) if name != attribute_name => {
            return Err(Error::validation(format!(
                "TimeToLive is active on a different AttributeName: current AttributeName is {name}"
            )));
        }
        Some(_) if enabled => {
            return Err(Error::validation("TimeToLive is already enabled"));
        }
        None if !enabled => {
            return Err(Error::validation("TimeToLive is already disabled"));
        }
        _ => {}
    }
    let key = ttl_key(t.def.id);
    let mut staging = Staging::default();
    if enabled {
        staging.insert(&state.meta, key, attribute_name.as_bytes());
    } else {
        staging.remove(&state.meta, key);
    }
    let durability = (!state.config.in_memory).then_some(fjall::PersistMode::SyncData);
    state.commit_outside(staging, durability, "storing a Time to Live setting")?;
    *write(&t.stats.ttl_attribute) = enabled.then(|| attribute_name.to_string());
    Ok(())
}

/// DescribeTimeToLive.
pub(crate) fn describe_time_to_live(state: &State, table: &str) -> Result<TimeToLiveDescription> {
    let t = crate::tables::control_table(state, table)?;
    let attribute_name = read(&t.stats.ttl_attribute).clone();
    Ok(TimeToLiveDescription {
        enabled: attribute_name.is_some(),
        attribute_name,
    })
}

/// One sweep: deletes the expired items of every table with TTL enabled (at most
/// [`TTL_DELETES_PER_SWEEP_MAX`] per table) and returns how many it deleted.
pub(crate) fn expire_items(state: &State) -> Result<usize> {
    let tables: Vec<TableRef> = read(&state.tables).values().cloned().collect();
    let mut deleted = 0;
    for t in tables {
        let Some(attribute) = read(&t.stats.ttl_attribute).clone() else {
            continue;
        };
        deleted += expire_table(state, &t, &attribute, TTL_SCAN_ITEMS_PER_SWEEP_MAX)?;
    }
    Ok(deleted)
}

/// Looks at up to `scan_max` items of `t` from its cursor on, and deletes the
/// expired ones; the cursor moves past what was looked at, back to the start once
/// the table's end is reached.
fn expire_table(state: &State, t: &TableRef, attribute: &str, scan_max: usize) -> Result<usize> {
    use std::ops::Bound;
    let now = now_s();
    let id = t.def.id;
    let start = lock(&state.ttl_cursors)
        .get(&id)
        .cloned()
        .unwrap_or_else(|| id.to_be_bytes().to_vec());
    let end = match id.checked_add(1) {
        Some(next) => Bound::Excluded(next.to_be_bytes().to_vec()),
        None => Bound::Unbounded,
    };
    let mut keys = Vec::new();
    let mut resume = None;
    for (scanned, kv) in state.items.range((Bound::Included(start), end)).enumerate() {
        let (k, v) = kv.into_inner()?;
        if scanned >= scan_max || keys.len() >= TTL_DELETES_PER_SWEEP_MAX {
            resume = Some(k.to_vec());
            break;
        }
        let item = StoredItem::from_slice(state.seal.open(&k, v)?);
        if expiry_of_stored(&item, attribute)?.is_some_and(|at| is_expired(at, now)) {
            keys.push(k.to_vec());
        }
    }
    {
        let mut cursors = lock(&state.ttl_cursors);
        match resume {
            Some(k) => cursors.insert(id, k),
            None => cursors.remove(&id),
        };
    }
    let mut deleted = 0;
    for chunk in keys.chunks(TTL_DELETE_CHUNK_ITEMS_MAX) {
        let mutations = chunk
            .iter()
            .map(|key| {
                let attribute = attribute.to_string();
                Mutation {
                    table: Arc::clone(t),
                    key: key.clone(),
                    // The writer re-checks: an item written since the scan with a
                    // later expiry (or none) stays.
                    apply: Box::new(move |old: Option<&Item>| {
                        let now = now_s();
                        Ok(match old {
                            Some(item)
                                if expiry_of_item(item, &attribute)
                                    .is_some_and(|at| is_expired(at, now)) =>
                            {
                                Change::Delete
                            }
                            _ => Change::Keep,
                        })
                    }),
                }
            })
            .collect();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        submit_expiry(
            state,
            mutations,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        let applied = rx.recv().map_err(|_| Error::ShuttingDown)??;
        deleted += applied
            .iter()
            .filter(|a| a.old.is_some() && a.new.is_none())
            .count();
    }
    Ok(deleted)
}

/// Starts the sweeper thread (called once by `Engine::open`).
pub(crate) fn start_ttl_sweeper(state: &Arc<State>) {
    let interval = Duration::from_millis(state.config.ttl_sweep_ms.max(1));
    state.spawn_periodic("eddy-ttl", interval, |state| match expire_items(state) {
        Err(Error::ShuttingDown) => false,
        Err(e) => {
            eprintln!("eddy: TTL sweep failed: {e}");
            true
        }
        Ok(_) => true,
    });
}

#[cfg(test)]
mod tests;
