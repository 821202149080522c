//! The names of the export on the NATS side: one JetStream stream per table, one
//! subject per shard, one message id per record.
//!
//! A table name may hold `.` (DynamoDB allows `[a-zA-Z0-9_.-]`), which separates tokens
//! in a NATS subject and is not allowed in a stream name; it is written `~`, a character
//! no table name holds, so that two tables never share a name on the NATS side.

use eddy_engine::{StreamDef, format_sequence_number};

/// The header carrying a record's hop count (how many trigger invocations led to it),
/// present when it is above 0; trigger workers read it for the recursive-loop guard.
pub const HOPS_HEADER: &str = "Eddy-Hops";

/// A table or region name as one NATS token (no `.`).
fn token(name: &str) -> String {
    name.replace('.', "~")
}

/// The JetStream stream of a table: `EDDY_<region>_<table>`.
pub fn stream_name(region: &str, table: &str) -> String {
    format!("EDDY_{}_{}", token(region), token(table))
}

/// Every subject of a table's stream: `eddy.<region>.<table>.>`.
pub(super) fn table_subjects(region: &str, table: &str) -> String {
    format!("eddy.{}.{}.>", token(region), token(table))
}

/// The subject of one shard: `eddy.<region>.<table>.<shard id>`, the shard id being the
/// one DescribeStream reports, unique across the streams a table has had.
pub fn subject(region: &str, def: &StreamDef, shard: u16) -> String {
    format!(
        "eddy.{}.{}.{}",
        token(region),
        token(&def.table_name),
        def.shard_id(shard)
    )
}

/// The subject of the shard DescribeStream names `shard_id` (what [`subject`] gives
/// for it), for a reader that knows the shard by its id alone (a trigger worker).
pub fn shard_subject(region: &str, table: &str, shard_id: &str) -> String {
    format!("eddy.{}.{}.{}", token(region), token(table), shard_id)
}

/// The record's `Nats-Msg-Id`: table, shard id and sequence number, stable across
/// restarts, so that JetStream drops a record published again inside its de-duplication
/// window.
pub fn message_id(def: &StreamDef, shard: u16, seq: u64) -> String {
    format!(
        "{}/{}/{}",
        def.table_name,
        def.shard_id(shard),
        format_sequence_number(seq)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_have_no_dots_where_nats_forbids_them() {
        assert_eq!(
            stream_name("us-east-1", "K_R.orders"),
            "EDDY_us-east-1_K_R~orders"
        );
        assert_eq!(table_subjects("us-east-1", "a.b"), "eddy.us-east-1.a~b.>");
        // `a.b` and `a_b` stay apart.
        assert_ne!(stream_name("r", "a.b"), stream_name("r", "a_b"));
    }
}
