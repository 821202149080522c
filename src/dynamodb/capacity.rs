//! The `ConsumedCapacity` member of DynamoDB's answers, written from the engine's
//! [`Consumed`] as `ReturnConsumedCapacity` asks: nothing for `NONE` (or no member),
//! `TableName` and `CapacityUnits` for `TOTAL`, and for `INDEXES` also the `Table`
//! arm and an arm per index touched (`GlobalSecondaryIndexes`,
//! `LocalSecondaryIndexes`, each a map by index name).
//!
//! It owns the wire shape only; it must not compute units (the engine does, see
//! `engine/src/capacity/units.rs`) nor know any operation's other members.
//!
//! The shapes follow real DynamoDB answers: the AWS CLI's documented examples (query
//! on a local index under `INDEXES` gives `"Table": {"CapacityUnits": 0.0}` and the
//! index's arm; transact-write-items and transact-get-items give `WriteCapacityUnits`
//! and `ReadCapacityUnits` beside `CapacityUnits`), and dynamodb-conformance's
//! captures (issue 69 there: single-item operations, Query and Scan answer the total
//! alone, the read/write split only on TransactWriteItems, TransactGetItems and
//! ExecuteTransaction; an index a write did not touch has no arm).

use eddy_engine::IndexKind;
use eddy_engine::capacity::Consumed;
use serde_json::{Map, Value, json};

/// How much `ReturnConsumedCapacity` asks for (already checked against its enum by
/// `violations.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detail {
    None,
    Total,
    Indexes,
}

impl Detail {
    pub(crate) fn of(v: Option<&str>) -> Detail {
        match v {
            Some("TOTAL") => Detail::Total,
            Some("INDEXES") => Detail::Indexes,
            _ => Detail::None,
        }
    }
}

/// Whether the answer splits units into `ReadCapacityUnits` and `WriteCapacityUnits`
/// (transactions do; everything else gives `CapacityUnits` alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Split {
    No,
    ReadWrite,
}

/// One `ConsumedCapacity` object, or `None` when none was asked for.
pub(crate) fn object(c: &Consumed, detail: Detail, split: Split) -> Option<Value> {
    if detail == Detail::None {
        return None;
    }
    let mut o = Map::new();
    o.insert("TableName".into(), json!(c.table));
    units(&mut o, c.read_units(), c.write_units(), split);
    if detail == Detail::Indexes {
        let mut table = Map::new();
        units(&mut table, c.table_read_units, c.table_write_units, split);
        o.insert("Table".into(), Value::Object(table));
        for (kind, member) in [
            (IndexKind::Global, "GlobalSecondaryIndexes"),
            (IndexKind::Local, "LocalSecondaryIndexes"),
        ] {
            let arms: Map<String, Value> = c
                .indexes
                .iter()
                .filter(|i| i.kind == kind)
                .map(|i| {
                    let mut arm = Map::new();
                    units(&mut arm, i.read_units, i.write_units, split);
                    (i.name.clone(), Value::Object(arm))
                })
                .collect();
            if !arms.is_empty() {
                o.insert(member.into(), Value::Object(arms));
            }
        }
    }
    Some(Value::Object(o))
}

/// `CapacityUnits`, and with a split the read and write units that are not zero.
fn units(o: &mut Map<String, Value>, read: f64, write: f64, split: Split) {
    o.insert("CapacityUnits".into(), json!(read + write));
    if split == Split::ReadWrite {
        if read > 0.0 {
            o.insert("ReadCapacityUnits".into(), json!(read));
        }
        if write > 0.0 {
            o.insert("WriteCapacityUnits".into(), json!(write));
        }
    }
}

/// The list a batch or transaction answers, one object per table, or `None` when none
/// was asked for.
pub(crate) fn list(cs: &[Consumed], detail: Detail, split: Split) -> Option<Value> {
    if detail == Detail::None {
        return None;
    }
    Some(Value::Array(
        cs.iter().filter_map(|c| object(c, detail, split)).collect(),
    ))
}

/// Adds `"ConsumedCapacity": value` to a response already written as a JSON object
/// (`{}` or `{...}`), when there is a value.
pub(crate) fn append(out: &mut Vec<u8>, value: Option<Value>) {
    let Some(value) = value else {
        return;
    };
    // Every response body here is one JSON object; one that is not is left alone
    // rather than made invalid.
    if out.last() != Some(&b'}') {
        return;
    }
    out.pop();
    let empty = out.iter().rev().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if !empty {
        out.push(b',');
    }
    out.extend_from_slice(br#""ConsumedCapacity":"#);
    // Writing a Value to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &value);
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use eddy_engine::capacity::IndexConsumed;

    use super::*;

    fn sample() -> Consumed {
        Consumed {
            table: "t".into(),
            table_read_units: 0.0,
            table_write_units: 1.0,
            indexes: vec![
                IndexConsumed {
                    name: "g".into(),
                    kind: IndexKind::Global,
                    read_units: 0.0,
                    write_units: 2.0,
                },
                IndexConsumed {
                    name: "l".into(),
                    kind: IndexKind::Local,
                    read_units: 0.0,
                    write_units: 1.0,
                },
            ],
        }
    }

    #[test]
    fn shapes_by_detail() {
        let c = sample();
        assert_eq!(object(&c, Detail::None, Split::No), None);
        assert_eq!(
            object(&c, Detail::Total, Split::No).unwrap().to_string(),
            r#"{"CapacityUnits":4.0,"TableName":"t"}"#
        );
        assert_eq!(
            object(&c, Detail::Indexes, Split::No).unwrap(),
            json!({
                "TableName": "t",
                "CapacityUnits": 4.0,
                "Table": {"CapacityUnits": 1.0},
                "GlobalSecondaryIndexes": {"g": {"CapacityUnits": 2.0}},
                "LocalSecondaryIndexes": {"l": {"CapacityUnits": 1.0}},
            })
        );
        assert_eq!(
            object(&c, Detail::Total, Split::ReadWrite).unwrap(),
            json!({"TableName": "t", "CapacityUnits": 4.0, "WriteCapacityUnits": 4.0})
        );
    }

    #[test]
    fn appended_to_any_object() {
        let v = Some(json!({"CapacityUnits": 1.0}));
        let mut empty = b"{}".to_vec();
        append(&mut empty, v.clone());
        assert_eq!(empty, br#"{"ConsumedCapacity":{"CapacityUnits":1.0}}"#);
        let mut full = br#"{"Item":{"a":{"S":"b"}}}"#.to_vec();
        append(&mut full, v);
        assert_eq!(
            full,
            br#"{"Item":{"a":{"S":"b"}},"ConsumedCapacity":{"CapacityUnits":1.0}}"#
        );
        let mut none = b"{}".to_vec();
        append(&mut none, None);
        assert_eq!(none, b"{}");
    }
}
