//! The capacity families: consumed and provisioned read and write units and throttled
//! requests of every table and index, read from [`Engine::capacity_totals`] when
//! `/metrics` is scraped (nothing here runs per request).

use std::fmt::Write as _;

use eddy_engine::Engine;
use eddy_engine::capacity::{CapacityTotals, IndexTotals};

use super::escape;

/// One family: name, type, help, and how to read it from a table's or an index's totals.
type Family = (
    &'static str,
    &'static str,
    &'static str,
    fn(&IndexTotals) -> f64,
);

const FAMILIES: [Family; 4] = [
    (
        "eddy_dynamodb_consumed_read_units_total",
        "counter",
        "Read capacity units consumed, by table and index (\"\" for the table itself).",
        |t| t.read_units,
    ),
    (
        "eddy_dynamodb_consumed_write_units_total",
        "counter",
        "Write capacity units consumed, by table and index (\"\" for the table itself).",
        |t| t.write_units,
    ),
    (
        "eddy_dynamodb_provisioned_read_units",
        "gauge",
        "Provisioned read capacity units in force (0 for on-demand), by table and index.",
        |t| t.provisioned_read_units as f64,
    ),
    (
        "eddy_dynamodb_provisioned_write_units",
        "gauge",
        "Provisioned write capacity units in force (0 for on-demand), by table and index.",
        |t| t.provisioned_write_units as f64,
    ),
];

const THROTTLED: &str = "eddy_dynamodb_throttled_requests_total";

/// The table's own totals in an index's shape, so that one reader serves both.
fn own(t: &CapacityTotals) -> IndexTotals {
    IndexTotals {
        read_units: t.read_units,
        write_units: t.write_units,
        throttled_reads: t.throttled_reads,
        throttled_writes: t.throttled_writes,
        provisioned_read_units: t.provisioned_read_units,
        provisioned_write_units: t.provisioned_write_units,
    }
}

/// The capacity families of `names` (a table deleted since it was listed is left out).
pub(super) fn render(engine: &Engine, names: &[String]) -> String {
    let mut rows: Vec<(String, String, IndexTotals)> = Vec::new();
    for table in names {
        let Ok(totals) = engine.capacity_totals(table) else {
            continue;
        };
        rows.push((table.clone(), String::new(), own(&totals)));
        for (index, t) in totals.indexes {
            rows.push((table.clone(), index, t));
        }
    }
    let mut out = String::new();
    // Writing into a String cannot fail.
    for (name, kind, help, get) in FAMILIES {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (table, index, t) in &rows {
            let _ = writeln!(
                out,
                "{name}{{table=\"{}\",index=\"{}\"}} {}",
                escape(table),
                escape(index),
                get(t)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP {THROTTLED} Requests refused for throughput (ProvisionedThroughputExceededException \
         or ThrottlingException), by table, index and type (read or write).\n# TYPE {THROTTLED} counter"
    );
    for (table, index, t) in &rows {
        for (kind, n) in [("read", t.throttled_reads), ("write", t.throttled_writes)] {
            let _ = writeln!(
                out,
                "{THROTTLED}{{table=\"{}\",index=\"{}\",type=\"{kind}\"}} {n}",
                escape(table),
                escape(index)
            );
        }
    }
    out
}
