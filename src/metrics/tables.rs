//! The table-size families: every table's and index's item count and size in bytes,
//! read from the engine's running totals (the ones DescribeTable reports) when
//! `/metrics` is scraped (once the engine has counted what was stored before the
//! start); nothing here runs per request.

use std::fmt::Write as _;

use eddy_engine::Engine;

use super::escape;

const ITEMS: &str = "eddy_dynamodb_table_items";
const SIZE: &str = "eddy_dynamodb_table_size_bytes";

/// The item-count and size gauges of `tables` (a table deleted since it was listed is
/// left out).
pub(super) fn render(engine: &Engine, tables: &[String]) -> String {
    // Right after a start the stored items are still being counted, and a scrape
    // does not wait for that: the families appear once the counts are there.
    if !engine.counts_ready() {
        return String::new();
    }
    // (table, index, items, bytes); index "" is the table itself.
    let mut rows: Vec<(&str, String, i64, i64)> = Vec::new();
    for table in tables {
        let Ok(d) = engine.describe_table(table) else {
            continue;
        };
        rows.push((table, String::new(), d.item_count, d.size_bytes));
        for (ix, (items, bytes)) in d.def.indexes.iter().zip(&d.index_counts) {
            rows.push((table, ix.name.clone(), *items, *bytes));
        }
    }
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = writeln!(
        out,
        "# HELP {ITEMS} Items in a table or index (\"\" for the table itself), as \
         DescribeTable's ItemCount, but current.\n# TYPE {ITEMS} gauge"
    );
    for (table, index, items, _) in &rows {
        let _ = writeln!(
            out,
            "{ITEMS}{{table=\"{}\",index=\"{}\"}} {items}",
            escape(table),
            escape(index)
        );
    }
    let _ = writeln!(
        out,
        "# HELP {SIZE} Bytes of the items in a table or index (\"\" for the table itself), \
         as DescribeTable's TableSizeBytes, but current.\n# TYPE {SIZE} gauge"
    );
    for (table, index, _, bytes) in &rows {
        let _ = writeln!(
            out,
            "{SIZE}{{table=\"{}\",index=\"{}\"}} {bytes}",
            escape(table),
            escape(index)
        );
    }
    out
}
