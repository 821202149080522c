//! The throughput a table and its indexes may consume: token buckets per table and per
//! global index (provisioned capacity with DynamoDB's burst capacity, or an on-demand
//! table's maximums), and a ceiling per partition key value.
//!
//! Admission works as DynamoDB's does: a request is admitted while its buckets are
//! positive, and what it consumed is charged after it ran (`charge`), so a bucket may
//! go into debt and the sustained accepted rate equals the provisioned rate.
//!
//! It owns admission (before an operation runs) and charging (after, with what it
//! consumed); it must not know request shapes, the wire or the catalog (callers hand
//! it a [`CapacitySpec`] built from the table's definition).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::capacity::bucket::Bucket;
use crate::capacity::clock::CapacityClock;
use crate::capacity::consumed::Consumed;
use crate::capacity::messages::{Op, Why, throttle};
use crate::capacity::sieve::{Sieve, Verdict};
use crate::error::Result;
use crate::index::def::IndexKind;
use crate::sync::lock;

/// DynamoDB retains up to five minutes of unused provisioned capacity (burst capacity).
pub const BURST_WINDOW_S: f64 = 300.0;

/// An on-demand maximum is a rate, not a budget: it keeps no more than one second of
/// unused units (DynamoDB documents no burst above a maximum).
pub const ON_DEMAND_MAX_WINDOW_S: f64 = 1.0;

/// The read units per second one partition key value can take. DynamoDB limits each
/// partition to 3,000 RCU and 1,000 WCU; with adaptive capacity a hot key ends up
/// isolated on its own partition, so this models a split down to one hot key: the
/// hard per-key ceiling left after adaptive capacity. It applies to provisioned and
/// on-demand tables alike, and to each global index's partitions.
pub const PARTITION_READ_UNITS_PER_S: f64 = 3_000.0;

/// The write units per second one partition key value can take (see above).
pub const PARTITION_WRITE_UNITS_PER_S: f64 = 1_000.0;

/// How many partition key values each table tracks at most. A key's buckets exist only
/// once something was charged to it; when the map is full, the keys whose buckets are
/// full again (idle, so forgetting them loses nothing) are dropped, and if none is, a
/// new key goes untracked (admitted) until room is made.
pub const PARTITIONS_TRACKED_MAX: usize = 65_536;

/// The tracked keys are split over this many maps, each with its own lock, so that
/// requests on different keys rarely wait for each other.
const PARTITION_SHARDS: usize = 16;

/// The throughput rules of a table or of a global index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limits {
    /// Provisioned capacity units per second.
    Provisioned { read: i64, write: i64 },
    /// On demand, with `OnDemandThroughput` maximums when set.
    OnDemand {
        max_read: Option<i64>,
        max_write: Option<i64>,
    },
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::OnDemand {
            max_read: None,
            max_write: None,
        }
    }
}

impl Limits {
    fn provisioned(self) -> bool {
        matches!(self, Limits::Provisioned { .. })
    }

    /// The read and write buckets' rates and windows, `None` for no limit.
    fn rates(self) -> (Option<Rate>, Option<Rate>) {
        match self {
            Limits::Provisioned { read, write } => (
                Some((read as f64, BURST_WINDOW_S)),
                Some((write as f64, BURST_WINDOW_S)),
            ),
            Limits::OnDemand {
                max_read,
                max_write,
            } => (
                max_read.map(|m| (m as f64, ON_DEMAND_MAX_WINDOW_S)),
                max_write.map(|m| (m as f64, ON_DEMAND_MAX_WINDOW_S)),
            ),
        }
    }
}

/// A bucket's units per second and the seconds of them it keeps.
type Rate = (f64, f64);

/// The tracked keys of one shard, by (slot, partition hash).
type KeyMap = HashMap<(u32, u64), KeyBuckets, BuildHasherDefault<KeyHasher>>;

/// The keys are partition hashes already (xxh3 of the value): hashing them again with
/// SipHash would only cost time on every request.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 ^= u64::from(n).rotate_left(32);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

/// One secondary index as the governor needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSpec {
    pub name: String,
    pub kind: IndexKind,
    /// A global index's own throughput; a local index uses the table's.
    pub limits: Limits,
}

/// A table's throughput settings, built from its definition by the caller.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CapacitySpec {
    /// The table's ARN, for `ThrottlingReasons[].resource`.
    pub arn: String,
    pub limits: Limits,
    pub indexes: Vec<IndexSpec>,
    /// Set when the server runs with capacity accounting off (`eddy serve
    /// --capacity-accounting off`): nothing is admitted against buckets or charged,
    /// so nothing is throttled or counted. ConsumedCapacity is still returned when a
    /// request asks for it; this exists to measure what the accounting costs.
    pub accounting_off: bool,
}

/// One table's throughput state: its own buckets and its global indexes'.
#[derive(Debug, Default)]
pub struct Governor {
    /// The settings and buckets in force; replaced whole by [`Governor::configure`].
    shape: ArcSwap<Shape>,
    /// Held while a new shape is built from the old, so two reconfigurations do not
    /// each start from the same old one.
    configuring: Mutex<()>,
    counters: Counters,
    partitions: Partitions,
}

#[derive(Debug, Default)]
struct Shape {
    clock: CapacityClock,
    arn: String,
    limits: Limits,
    buckets: Buckets,
    indexes: Vec<IndexState>,
    /// See [`CapacitySpec::accounting_off`].
    off: bool,
}

#[derive(Debug)]
struct IndexState {
    spec: IndexSpec,
    buckets: Buckets,
    /// Kept across reconfigurations, so the index's totals stay monotonic.
    counters: Arc<Counters>,
}

/// The read and write buckets of a table or index; `None` where nothing is limited.
#[derive(Debug, Default)]
struct Buckets {
    read: Option<Bucket>,
    write: Option<Bucket>,
}

impl Buckets {
    /// Buckets for `limits`, carrying over what `old` had unused (or owed) when the
    /// kind of limit stays the same, so a change of rate neither refills nor empties
    /// a bucket.
    fn retuned(old: Option<(&Buckets, Limits)>, limits: Limits, now: u64) -> Buckets {
        let (read, write) = limits.rates();
        let same_kind = old.filter(|(_, l)| l.provisioned() == limits.provisioned());
        let one = |rate: Option<Rate>, old: Option<&Bucket>| {
            rate.map(|(rate, window)| match old {
                Some(b) => b.retuned(now, rate, window),
                None => Bucket::new(rate, window, now),
            })
        };
        Buckets {
            read: one(read, same_kind.and_then(|(b, _)| b.read.as_ref())),
            write: one(write, same_kind.and_then(|(b, _)| b.write.as_ref())),
        }
    }
}

/// Monotonic consumption and throttle counts, in thousandths of a unit so that they
/// stay atomics.
#[derive(Debug, Default)]
struct Counters {
    read_milli: AtomicU64,
    write_milli: AtomicU64,
    throttled_reads: AtomicU64,
    throttled_writes: AtomicU64,
}

fn milli(units: f64) -> u64 {
    if units > 0.0 {
        (units * 1000.0).round() as u64
    } else {
        0
    }
}

impl Counters {
    fn add(&self, read: f64, write: f64) {
        if read > 0.0 {
            self.read_milli.fetch_add(milli(read), Ordering::Relaxed);
        }
        if write > 0.0 {
            self.write_milli.fetch_add(milli(write), Ordering::Relaxed);
        }
    }

    fn throttled(&self, op: Op) {
        let c = match op {
            Op::Read => &self.throttled_reads,
            Op::Write => &self.throttled_writes,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    fn units(&self) -> (f64, f64) {
        (
            self.read_milli.load(Ordering::Relaxed) as f64 / 1000.0,
            self.write_milli.load(Ordering::Relaxed) as f64 / 1000.0,
        )
    }
}

/// The per-key buckets of one table: keyed by (0 for the table, 1 + position for an
/// index; the partition hash).
#[derive(Debug)]
struct Partitions {
    shards: Box<[Mutex<KeyMap>]>,
    /// Until when (epoch milliseconds on the capacity clock) some key's bucket may hold
    /// nothing: the latest moment a take left a bucket empty will be repaid. Before it
    /// a key may refuse; from it on every key admits, so admission needs no lock and no
    /// lookup (the common case: no key is hot).
    exhausted_until_ms: AtomicU64,
    /// The cheap count in front of the map: a key only enters it once its cell's
    /// units come near its ceiling (see `sieve.rs`).
    sieve: Sieve,
}

impl Default for Partitions {
    fn default() -> Partitions {
        Partitions {
            shards: (0..PARTITION_SHARDS)
                .map(|_| Mutex::new(KeyMap::default()))
                .collect(),
            exhausted_until_ms: AtomicU64::new(0),
            sieve: Sieve::default(),
        }
    }
}

#[derive(Debug)]
struct KeyBuckets {
    read: Bucket,
    write: Bucket,
}

impl KeyBuckets {
    fn new(now: u64) -> KeyBuckets {
        KeyBuckets {
            read: Bucket::new(PARTITION_READ_UNITS_PER_S, 1.0, now),
            write: Bucket::new(PARTITION_WRITE_UNITS_PER_S, 1.0, now),
        }
    }

    fn side(&mut self, op: Op) -> &mut Bucket {
        match op {
            Op::Read => &mut self.read,
            Op::Write => &mut self.write,
        }
    }
}

impl Partitions {
    fn shard(&self, hash: u64) -> &Mutex<KeyMap> {
        // The top bits choose the shard, so the low bits the map's buckets use stay
        // uniform within one.
        &self.shards[(hash >> 60) as usize % PARTITION_SHARDS]
    }

    /// Whether the key admits an operation: an untracked key has full buckets.
    fn admits(&self, slot: u32, hash: u64, op: Op, now: u64) -> bool {
        if now >= self.exhausted_until_ms.load(Ordering::Acquire) {
            return true;
        }
        match lock(self.shard(hash)).get_mut(&(slot, hash)) {
            Some(b) => b.side(op).admits(now, 0.0),
            None => true,
        }
    }

    fn take(&self, slot: u32, hash: u64, op: Op, units: f64, now: u64) {
        if units <= 0.0 {
            return;
        }
        let (ceiling, side) = match op {
            Op::Read => (PARTITION_READ_UNITS_PER_S, 0),
            Op::Write => (PARTITION_WRITE_UNITS_PER_S, 1),
        };
        // The slot and the side make separate counts of one key hash.
        let sieve_key = hash ^ (u64::from(slot) << 1 | side).wrapping_mul(0xff51_afd7_ed55_8ccd);
        let units = match self.sieve.charge(sieve_key, units, ceiling, now) {
            Verdict::Untracked => return,
            Verdict::Exact(units) => units,
        };
        let mut map = lock(self.shard(hash));
        let per_shard = PARTITIONS_TRACKED_MAX / PARTITION_SHARDS;
        if map.len() >= per_shard && !map.contains_key(&(slot, hash)) {
            map.retain(|_, b| !(b.read.is_full(now) && b.write.is_full(now)));
            if map.len() >= per_shard {
                return;
            }
        }
        let bucket = map
            .entry((slot, hash))
            .or_insert_with(|| KeyBuckets::new(now))
            .side(op);
        let empty_until = bucket.take(now, units);
        self.sieve.tracked_until(sieve_key, bucket.full_at_ms(now));
        if let Some(until) = empty_until {
            self.exhausted_until_ms.fetch_max(until, Ordering::AcqRel);
        }
    }
}

/// Monotonic totals of one table, for metrics and auto scaling.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CapacityTotals {
    /// Units consumed on the table itself since the server started.
    pub read_units: f64,
    pub write_units: f64,
    /// Requests refused for throughput since the server started.
    pub throttled_reads: u64,
    pub throttled_writes: u64,
    /// The provisioned units now in force (0 for on-demand).
    pub provisioned_read_units: i64,
    pub provisioned_write_units: i64,
    /// The same per global and local secondary index, by name.
    pub indexes: Vec<(String, IndexTotals)>,
}

/// Monotonic totals of one index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexTotals {
    pub read_units: f64,
    pub write_units: f64,
    pub throttled_reads: u64,
    pub throttled_writes: u64,
    pub provisioned_read_units: i64,
    pub provisioned_write_units: i64,
}

fn provisioned(limits: Limits) -> (i64, i64) {
    match limits {
        Limits::Provisioned { read, write } => (read, write),
        Limits::OnDemand { .. } => (0, 0),
    }
}

impl Governor {
    /// Puts `spec` in force, read with `clock`. Buckets of the table and of indexes
    /// that stay keep what they had unused; a new index starts with one second's
    /// worth, as a new table does.
    pub fn configure(&self, clock: &CapacityClock, spec: CapacitySpec) {
        let _configuring = lock(&self.configuring);
        let shape = self.shape.load_full();
        let now = clock.now_ms();
        let buckets = Buckets::retuned(Some((&shape.buckets, shape.limits)), spec.limits, now);
        let indexes = spec
            .indexes
            .into_iter()
            .map(|ix| {
                let old = shape.indexes.iter().find(|o| o.spec.name == ix.name);
                let limits = if ix.kind == IndexKind::Global {
                    ix.limits
                } else {
                    Limits::default()
                };
                IndexState {
                    buckets: Buckets::retuned(
                        old.map(|o| (&o.buckets, o.spec.limits)),
                        limits,
                        now,
                    ),
                    counters: old.map_or_else(Arc::default, |o| Arc::clone(&o.counters)),
                    spec: IndexSpec { limits, ..ix },
                }
            })
            .collect();
        self.shape.store(Arc::new(Shape {
            clock: clock.clone(),
            arn: spec.arn,
            limits: spec.limits,
            buckets,
            indexes,
            off: spec.accounting_off,
        }));
    }

    /// The time source the governor reads.
    pub fn now_ms(&self) -> u64 {
        self.shape.load().clock.now_ms()
    }

    /// Admits a read of the table (`index` None) or of one index, on the partition
    /// with this hash when the read names one (a Scan does not). A local index's reads
    /// take the table's capacity, as in DynamoDB.
    pub fn admit_read(&self, index: Option<&str>, partition: Option<u64>) -> Result<()> {
        self.admit_read_after(index, partition, 0.0)
    }

    /// [`Governor::admit_read`] for one read of a batch, with `pending` units its
    /// earlier reads of the table (or index) consumed and have not been charged yet:
    /// a batch larger than the bucket is then partly processed, as DynamoDB's is.
    pub fn admit_read_after(
        &self,
        index: Option<&str>,
        partition: Option<u64>,
        pending: f64,
    ) -> Result<()> {
        let shape = self.shape.load();
        if shape.off {
            return Ok(());
        }
        let now = shape.clock.now_ms();
        let gsi = index.and_then(|name| {
            shape
                .indexes
                .iter()
                .position(|i| i.spec.name == name && i.spec.kind == IndexKind::Global)
        });
        let (buckets, limits, slot) = match gsi {
            Some(p) => {
                let ix = &shape.indexes[p];
                (&ix.buckets, ix.spec.limits, p as u32 + 1)
            }
            None => (&shape.buckets, shape.limits, 0),
        };
        let ix = gsi.map(|p| &shape.indexes[p]);
        let refuse = |why: Why| {
            self.counters.throttled(Op::Read);
            if let Some(ix) = ix {
                ix.counters.throttled(Op::Read);
            }
            Err(throttle(
                &shape.arn,
                ix.map(|i| i.spec.name.as_str()),
                Op::Read,
                why,
                limits.provisioned(),
            ))
        };
        if let Some(b) = &buckets.read
            && !b.admits(now, pending)
        {
            return refuse(Why::Capacity);
        }
        if let Some(h) = partition
            && !self.partitions.admits(slot, h, Op::Read, now)
        {
            return refuse(Why::HotKey);
        }
        Ok(())
    }

    /// Admits a write to the table on the partition with this hash; a global index
    /// without capacity throttles the table's write, as in DynamoDB.
    pub fn admit_write(&self, partition: Option<u64>) -> Result<()> {
        self.admit_write_after(partition, 0.0)
    }

    /// [`Governor::admit_write`] for one write of a batch, with `pending` units its
    /// earlier writes to the table consumed and have not been charged yet.
    pub fn admit_write_after(&self, partition: Option<u64>, pending: f64) -> Result<()> {
        let shape = self.shape.load();
        if shape.off {
            return Ok(());
        }
        let now = shape.clock.now_ms();
        let table_refusal = |why: Why| {
            self.counters.throttled(Op::Write);
            Err(throttle(
                &shape.arn,
                None,
                Op::Write,
                why,
                shape.limits.provisioned(),
            ))
        };
        if let Some(b) = &shape.buckets.write
            && !b.admits(now, pending)
        {
            return table_refusal(Why::Capacity);
        }
        for ix in &shape.indexes {
            if let Some(b) = &ix.buckets.write
                && !b.admits(now, 0.0)
            {
                self.counters.throttled(Op::Write);
                ix.counters.throttled(Op::Write);
                return Err(throttle(
                    &shape.arn,
                    Some(&ix.spec.name),
                    Op::Write,
                    Why::Capacity,
                    ix.spec.limits.provisioned(),
                ));
            }
        }
        if let Some(h) = partition
            && !self.partitions.admits(0, h, Op::Write, now)
        {
            return table_refusal(Why::HotKey);
        }
        Ok(())
    }

    /// Charges what an admitted operation consumed: the table's units and its local
    /// indexes' to the table's buckets (local indexes share the table's capacity), each
    /// global index's to its own, and the table's (and a read index's) units to the
    /// partition key's buckets. A global index's writes land on partitions of the
    /// index the caller does not name, so they are not charged per key.
    pub fn charge(&self, partition: Option<u64>, consumed: &Consumed) {
        let shape = self.shape.load();
        if shape.off {
            return;
        }
        let now = shape.clock.now_ms();
        let (mut read, mut write) = (consumed.table_read_units, consumed.table_write_units);
        self.counters.add(read, write);
        for used in &consumed.indexes {
            let Some((p, ix)) = shape
                .indexes
                .iter()
                .enumerate()
                .find(|(_, i)| i.spec.name == used.name)
            else {
                continue;
            };
            ix.counters.add(used.read_units, used.write_units);
            if ix.spec.kind == IndexKind::Local {
                read += used.read_units;
                write += used.write_units;
                continue;
            }
            take(&ix.buckets.read, now, used.read_units);
            take(&ix.buckets.write, now, used.write_units);
            if let Some(h) = partition {
                self.partitions
                    .take(p as u32 + 1, h, Op::Read, used.read_units, now);
            }
        }
        take(&shape.buckets.read, now, read);
        take(&shape.buckets.write, now, write);
        if let Some(h) = partition {
            self.partitions.take(0, h, Op::Read, read, now);
            self.partitions.take(0, h, Op::Write, write, now);
        }
    }

    /// How many keys have exact buckets now.
    #[cfg(test)]
    pub(crate) fn tracked_keys(&self) -> usize {
        self.partitions.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// The table's totals so far.
    pub fn totals(&self) -> CapacityTotals {
        let shape = self.shape.load();
        let (read_units, write_units) = self.counters.units();
        let (provisioned_read_units, provisioned_write_units) = provisioned(shape.limits);
        CapacityTotals {
            read_units,
            write_units,
            throttled_reads: self.counters.throttled_reads.load(Ordering::Relaxed),
            throttled_writes: self.counters.throttled_writes.load(Ordering::Relaxed),
            provisioned_read_units,
            provisioned_write_units,
            indexes: shape
                .indexes
                .iter()
                .map(|ix| {
                    let (read_units, write_units) = ix.counters.units();
                    let (provisioned_read_units, provisioned_write_units) =
                        provisioned(ix.spec.limits);
                    let totals = IndexTotals {
                        read_units,
                        write_units,
                        throttled_reads: ix.counters.throttled_reads.load(Ordering::Relaxed),
                        throttled_writes: ix.counters.throttled_writes.load(Ordering::Relaxed),
                        provisioned_read_units,
                        provisioned_write_units,
                    };
                    (ix.spec.name.clone(), totals)
                })
                .collect(),
        }
    }
}

fn take(bucket: &Option<Bucket>, now: u64, units: f64) {
    if let Some(b) = bucket
        && units > 0.0
    {
        b.take(now, units);
    }
}
