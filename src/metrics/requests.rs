//! The request counters and latency histograms, and their text.
//!
//! Every request adds to a few atomics: a counter of its (table, operation, outcome)
//! and a histogram bucket and sum of its operation. The atomics are striped by worker
//! thread ([`STRIPES`] copies, summed when rendered), so that two cores answering the
//! same operation never write the same cache line. Table names get slots in a bounded
//! registry ([`METRIC_TABLES_MAX`]); a thread remembers its last name's slot, so that a
//! request normally takes no lock.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use eddy_engine::Engine;

use super::{OPERATIONS, OPERATIONS_COUNT, OUTCOMES, OUTCOMES_COUNT, escape};

/// Tables counted under their own `table` label; requests on further tables, and on
/// names that are no table, are counted under `table="_other"`. It bounds the series a
/// client can create by naming tables, and the memory they take (a few KB per table).
pub const METRIC_TABLES_MAX: usize = 256;

/// Distinct tables one request (a batch or a transaction) is counted under; it counts
/// once under each. Tables past this many are counted once under `_other`.
pub const TABLES_PER_REQUEST_COUNTED_MAX: usize = 8;

/// Copies of the counters, one per worker thread (threads past this many share them).
const STRIPES: usize = 8;

/// The latency histogram's upper bounds, in microseconds (100 µs to 10 s; slower
/// requests fall in `+Inf`).
pub const LATENCY_BUCKETS_US: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// The same bounds in seconds, as the `le` labels print them.
pub const LATENCY_BUCKETS_S: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The slot of requests that name no table (ListTables, the Streams operations, a body
/// that did not parse).
const SLOT_NONE: u16 = 0;
/// The slot of tables past [`METRIC_TABLES_MAX`] and of names that are no table.
const SLOT_OTHER: u16 = 1;
const SLOTS: usize = METRIC_TABLES_MAX + 2;

/// Table names by slot, and slots by name. Slots are never freed: a counter must not go
/// back, so a deleted table keeps its series.
struct Registry {
    by_name: HashMap<Box<str>, u16>,
    names: Vec<Box<str>>,
}

impl Registry {
    fn new() -> Self {
        Registry {
            by_name: HashMap::new(),
            names: vec!["".into(), "_other".into()],
        }
    }

    /// The slot of table `name`: its own, made now if there is room, else `_other`.
    fn slot_for(&mut self, name: &str) -> u16 {
        if let Some(slot) = self.by_name.get(name) {
            return *slot;
        }
        if self.names.len() >= SLOTS {
            return SLOT_OTHER;
        }
        // SLOTS is far below u16::MAX, so the slot fits.
        let slot = self.names.len() as u16;
        self.names.push(name.into());
        self.by_name.insert(name.into(), slot);
        slot
    }
}

static REGISTRY: LazyLock<RwLock<Registry>> = LazyLock::new(|| RwLock::new(Registry::new()));

type Row = [AtomicU64; OUTCOMES_COUNT];

/// One table's counters in one stripe: a row of outcomes per operation, made when the
/// table first sees the operation.
struct TableRows {
    ops: [OnceLock<Box<Row>>; OPERATIONS_COUNT],
    /// The latency histogram of each operation on this table, made when the table
    /// first sees the operation.
    latency: [OnceLock<Box<Histogram>>; OPERATIONS_COUNT],
}

#[derive(Default)]
struct Histogram {
    /// Requests per bucket (not cumulative; the last is `+Inf`).
    buckets: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
    sum_ns: AtomicU64,
}

struct Stripe {
    tables: Box<[OnceLock<Box<TableRows>>]>,
    latency: [Histogram; OPERATIONS_COUNT],
}

static STRIPES_ALL: LazyLock<Box<[Stripe]>> = LazyLock::new(|| {
    (0..STRIPES)
        .map(|_| Stripe {
            tables: (0..SLOTS).map(|_| OnceLock::new()).collect(),
            latency: std::array::from_fn(|_| Histogram::default()),
        })
        .collect()
});

static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static STRIPE: usize = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES;
    /// The last table name this thread looked up, and its slot.
    static LAST: RefCell<Option<(Box<str>, u16)>> = const { RefCell::new(None) };
}

/// The tables one request named, filled in by the edge as the request is parsed.
#[derive(Debug, Default)]
pub struct Tally {
    named: Mutex<Named>,
}

#[derive(Debug, Default)]
struct Named {
    /// The slots counted: up to the per-request maximum, and `_other` after them.
    slots: [u16; TABLES_PER_REQUEST_COUNTED_MAX + 1],
    len: usize,
    /// Names without a slot yet: given one after the request if they are a table then
    /// (so that CreateTable counts under its own table).
    pending: Vec<String>,
    /// More distinct tables than are counted apart.
    overflow: bool,
}

impl Named {
    fn add(&mut self, slot: u16) {
        if self.slots[..self.len].contains(&slot) {
            return;
        }
        if self.len + self.pending.len() < TABLES_PER_REQUEST_COUNTED_MAX {
            self.slots[self.len] = slot;
            self.len += 1;
        } else {
            self.overflow = true;
        }
    }

    /// The slots the request is counted under, once its pending names are resolved:
    /// `_other` after the tables counted apart if it named more, the no-table slot if
    /// it named none.
    fn finish(&mut self) -> &[u16] {
        if self.overflow && !self.slots[..self.len].contains(&SLOT_OTHER) {
            // `add` keeps `len` at most the maximum, so the last place is free.
            self.slots[self.len] = SLOT_OTHER;
            self.len += 1;
        }
        if self.len == 0 {
            self.slots[0] = SLOT_NONE;
            self.len = 1;
        }
        &self.slots[..self.len]
    }
}

impl Tally {
    /// Notes a table the request names (a name or a table ARN).
    pub fn note(&self, name: &str) {
        // A table ARN (`arn:aws:dynamodb:REGION:ACCOUNT:table/NAME`) counts under NAME.
        let name = match name.strip_prefix("arn:") {
            Some(arn) => arn.rsplit_once(":table/").map_or(name, |(_, table)| table),
            None => name,
        };
        let slot = lookup(name);
        let mut named = self.named.lock().unwrap_or_else(PoisonError::into_inner);
        match slot {
            Some(slot) => named.add(slot),
            None if named.pending.iter().any(|p| p == name) => {}
            None if named.len + named.pending.len() < TABLES_PER_REQUEST_COUNTED_MAX => {
                named.pending.push(name.to_owned());
            }
            None => named.overflow = true,
        }
    }
}

/// The slot of a registered table name (`_other` for any name once the registry is
/// full).
fn lookup(name: &str) -> Option<u16> {
    let cached = LAST.with_borrow(|last| {
        last.as_ref()
            .filter(|(n, _)| &**n == name)
            .map(|(_, slot)| *slot)
    });
    if cached.is_some() {
        return cached;
    }
    let slot = {
        let registry = REGISTRY.read().unwrap_or_else(PoisonError::into_inner);
        match registry.by_name.get(name) {
            Some(slot) => *slot,
            // Once every slot is taken a new name can only be `_other`: known at once,
            // with no check of the engine and no write lock, on every request.
            None if registry.names.len() >= SLOTS => SLOT_OTHER,
            None => return None,
        }
    };
    LAST.set(Some((name.into(), slot)));
    Some(slot)
}

/// The slot of a name not registered when its request was parsed: a new slot if it is
/// a table now and there is room, else `_other` (so that names of no table, which any
/// client can make up, never take a slot).
fn register(engine: &Engine, name: &str) -> u16 {
    if let Some(slot) = lookup(name) {
        return slot;
    }
    if engine.partition_key_name(name).is_err() {
        return SLOT_OTHER;
    }
    REGISTRY
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .slot_for(name)
}

/// The table slots one request was counted under (see [`Named::finish`]).
pub(super) type Counted = ([u16; TABLES_PER_REQUEST_COUNTED_MAX + 1], usize);

/// Counts one request; returns the table slots it was counted under.
pub(super) fn record(
    engine: &Engine,
    op: usize,
    tally: &Tally,
    outcome: usize,
    elapsed: Duration,
) -> Counted {
    let stripe = &STRIPES_ALL[STRIPE.with(|s| *s)];
    stripe.latency[op].observe(elapsed);

    let mut named =
        std::mem::take(&mut *tally.named.lock().unwrap_or_else(PoisonError::into_inner));
    for name in std::mem::take(&mut named.pending) {
        let slot = register(engine, &name);
        named.add(slot);
    }
    let len = named.finish().len();
    for slot in &named.slots[..len] {
        let rows = stripe.tables[usize::from(*slot)].get_or_init(|| {
            Box::new(TableRows {
                ops: std::array::from_fn(|_| OnceLock::new()),
                latency: std::array::from_fn(|_| OnceLock::new()),
            })
        });
        let row = rows.ops[op].get_or_init(|| Box::new(std::array::from_fn(|_| AtomicU64::new(0))));
        row[outcome].fetch_add(1, Ordering::Relaxed);
        rows.latency[op].get_or_init(Box::default).observe(elapsed);
    }
    (named.slots, len)
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let bucket = LATENCY_BUCKETS_US
            .iter()
            .position(|bound| us <= *bound)
            .unwrap_or(LATENCY_BUCKETS_US.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }
}

/// The samples of one histogram series (the stripes' copies summed): cumulative
/// buckets, sum and count, labelled `labels`; nothing for a series that saw no request.
fn write_histogram<'a>(
    out: &mut String,
    name: &str,
    labels: &str,
    stripes: impl Iterator<Item = &'a Histogram>,
) {
    let mut buckets = [0u64; LATENCY_BUCKETS_US.len() + 1];
    let mut sum_ns = 0u64;
    for h in stripes {
        for (total, b) in buckets.iter_mut().zip(&h.buckets) {
            *total += b.load(Ordering::Relaxed);
        }
        sum_ns = sum_ns.wrapping_add(h.sum_ns.load(Ordering::Relaxed));
    }
    let count: u64 = buckets.iter().sum();
    if count == 0 {
        return;
    }
    // Writing into a String cannot fail.
    let mut cumulative = 0;
    for (bound, n) in LATENCY_BUCKETS_S.iter().zip(&buckets) {
        cumulative += n;
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", sum_ns as f64 / 1e9);
    let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
}

/// The names of the table slots a request was counted under (`""` for none).
pub(super) fn slot_names((slots, len): &Counted) -> Vec<String> {
    let registry = REGISTRY.read().unwrap_or_else(PoisonError::into_inner);
    slots[..*len]
        .iter()
        .map(|slot| {
            registry
                .names
                .get(usize::from(*slot))
                .map_or_else(String::new, |n| n.to_string())
        })
        .collect()
}

/// `eddy_dynamodb_requests_total` and `eddy_dynamodb_request_duration_seconds`.
pub(super) fn render() -> String {
    let names = REGISTRY
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .names
        .clone();
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = writeln!(
        out,
        "# HELP eddy_dynamodb_requests_total DynamoDB API requests answered, by operation, \
         table (\"\" for none, \"_other\" past the tables counted apart or for no such table) \
         and outcome (ok, throttled, server_error, or the client error's type)."
    );
    let _ = writeln!(out, "# TYPE eddy_dynamodb_requests_total counter");
    for (slot, table) in names.iter().enumerate() {
        for (op, op_name) in OPERATIONS.iter().enumerate() {
            for (outcome, outcome_name) in OUTCOMES.iter().enumerate() {
                let n: u64 = STRIPES_ALL
                    .iter()
                    .filter_map(|s| s.tables[slot].get()?.ops[op].get())
                    .map(|row| row[outcome].load(Ordering::Relaxed))
                    .sum();
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "eddy_dynamodb_requests_total{{operation=\"{op_name}\",table=\"{}\",outcome=\"{outcome_name}\"}} {n}",
                        escape(table)
                    );
                }
            }
        }
    }
    let name = "eddy_dynamodb_request_duration_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Time from a DynamoDB API request's arrival to its answer, by operation."
    );
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (op, op_name) in OPERATIONS.iter().enumerate() {
        let stripes = STRIPES_ALL.iter().map(|stripe| &stripe.latency[op]);
        write_histogram(&mut out, name, &format!("operation=\"{op_name}\""), stripes);
    }
    let name = "eddy_dynamodb_table_request_duration_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Time from a DynamoDB API request's arrival to its answer, by operation \
         and table (labelled as in eddy_dynamodb_requests_total; a request naming several \
         tables is counted under each)."
    );
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (slot, table) in names.iter().enumerate() {
        for (op, op_name) in OPERATIONS.iter().enumerate() {
            let stripes = STRIPES_ALL
                .iter()
                .filter_map(|stripe| stripe.tables[slot].get()?.latency[op].get())
                .map(|h| &**h);
            let labels = format!("operation=\"{op_name}\",table=\"{}\"", escape(table));
            write_histogram(&mut out, name, &labels, stripes);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_past_the_limit_fold_into_other() {
        let mut registry = Registry::new();
        let slots: Vec<u16> = (0..METRIC_TABLES_MAX + 3)
            .map(|i| registry.slot_for(&format!("t{i}")))
            .collect();
        assert_eq!(
            slots[0], 2,
            "the first table's slot follows \"\" and _other"
        );
        assert_eq!(slots[METRIC_TABLES_MAX - 1] as usize, METRIC_TABLES_MAX + 1);
        assert!(slots[METRIC_TABLES_MAX..].iter().all(|s| *s == SLOT_OTHER));
        assert_eq!(registry.names.len(), SLOTS);
        // A table with a slot keeps it.
        assert_eq!(registry.slot_for("t5"), slots[5]);
    }

    #[test]
    fn a_request_counts_once_per_table_and_once_under_other_past_the_maximum() {
        let mut named = Named::default();
        assert_eq!(named.finish(), &[SLOT_NONE]);

        let mut named = Named::default();
        named.add(7);
        named.add(7);
        named.add(9);
        assert_eq!(named.finish(), &[7, 9]);

        let mut named = Named::default();
        let many = TABLES_PER_REQUEST_COUNTED_MAX as u16 + 4;
        for slot in 10..10 + many {
            named.add(slot);
        }
        let counted = named.finish().to_vec();
        assert_eq!(counted.len(), TABLES_PER_REQUEST_COUNTED_MAX + 1);
        assert_eq!(
            counted[..TABLES_PER_REQUEST_COUNTED_MAX],
            (10..)
                .take(TABLES_PER_REQUEST_COUNTED_MAX)
                .collect::<Vec<u16>>()[..]
        );
        assert_eq!(counted[TABLES_PER_REQUEST_COUNTED_MAX], SLOT_OTHER);
    }

    #[test]
    fn a_table_arn_counts_under_its_name() {
        let tally = Tally::default();
        tally.note("arn:aws:dynamodb:us-east-1:123456789012:table/orders");
        tally.note("orders");
        let named = tally.named.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(named.pending, vec!["orders".to_owned()]);
    }
}
