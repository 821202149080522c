//! The export-lag families of `/metrics`: per table, the records not yet acknowledged by
//! JetStream and the age of the oldest of them. Read from the log when `/metrics` is
//! scraped; nothing here runs per record.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use eddy_triggers::stream::StreamSource;

use super::Shared;

const PENDING: &str = "eddy_export_pending_records";
const OLDEST_AGE: &str = "eddy_export_oldest_pending_age_seconds";
const DUPLICATES: &str = "eddy_export_duplicate_records_total";

/// Records counted per shard when a scrape measures the lag (a scrape reads them), so that
/// a long outage does not make `/metrics` slow; a longer backlog is
/// reported as this many (the gauge then says "at least").
pub(super) const LAG_SCAN_RECORDS_MAX: usize = 10_000;

/// Bytes read per shard by one scrape, about.
const LAG_SCAN_BYTES_MAX: usize = 64 * 1024 * 1024;

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Both gauges for every table with an enabled stream, or with records of an older
/// stream still to export.
pub(super) fn render(shared: &Shared) -> String {
    // Per table: pending records, and the commit time (µs) of the oldest of them.
    let mut tables: BTreeMap<String, (u64, Option<u64>)> = BTreeMap::new();
    for def in shared.engine.list_streams(None) {
        let mut pending = 0u64;
        let mut oldest: Option<u64> = None;
        for shard in shared.source.shards(&def) {
            let from = shared.position(&def, shard.shard);
            if from > shared.engine.shard_head(&def, shard.shard) {
                continue;
            }
            let Ok(read) = shared.source.read(
                &def,
                shard.shard,
                from,
                LAG_SCAN_RECORDS_MAX,
                LAG_SCAN_BYTES_MAX,
            ) else {
                continue;
            };
            pending += read.records.len() as u64;
            if let Some(first) = read.records.first() {
                oldest = Some(oldest.map_or(first.created_us, |o| o.min(first.created_us)));
            }
        }
        if !def.is_enabled() && pending == 0 {
            continue;
        }
        let entry = tables.entry(def.table_name.clone()).or_insert((0, None));
        entry.0 += pending;
        entry.1 = match (entry.1, oldest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    let now = now_us();
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = writeln!(
        out,
        "# HELP {PENDING} Stream records of a table not yet acknowledged by NATS JetStream \
         (counted up to {LAG_SCAN_RECORDS_MAX} per shard).\n# TYPE {PENDING} gauge"
    );
    for (table, (pending, _)) in &tables {
        let _ = writeln!(
            out,
            "{PENDING}{{table=\"{}\"}} {pending}",
            crate::metrics::escape(table)
        );
    }
    let _ = writeln!(
        out,
        "# HELP {OLDEST_AGE} Age of a table's oldest stream record not yet acknowledged by \
         NATS JetStream (0 when none is pending).\n# TYPE {OLDEST_AGE} gauge"
    );
    for (table, (_, oldest)) in &tables {
        let age_s = oldest.map_or(0.0, |us| now.saturating_sub(us) as f64 / 1e6);
        let _ = writeln!(
            out,
            "{OLDEST_AGE}{{table=\"{}\"}} {age_s}",
            crate::metrics::escape(table)
        );
    }
    let _ = writeln!(
        out,
        "# HELP {DUPLICATES} Records published again (after a restart or a failed publish) \
         that NATS JetStream dropped as duplicates, since this server started.\n\
         # TYPE {DUPLICATES} counter\n{DUPLICATES} {}",
        shared.duplicates.load(std::sync::atomic::Ordering::Relaxed)
    );
    out
}
