//! An `ExclusiveStartKey` checked against the read it resumes, with DynamoDB's
//! messages: its shape (the attributes of a key of the table or index, of their
//! types), for a Query whether it lies inside the key condition, and for a parallel
//! Scan whether it lies in the segment.
//!
//! The messages are those dynalite's tests assert, which were recorded against
//! DynamoDB (its test/query.js and test/scan.js). This module owns those checks and
//! nothing else; it must not read, and it does not build the storage key (the table's
//! and the index's own code does, with its own key-limit messages).

use std::ops::Bound;

use crate::catalog::TableDef;
use crate::error::{Error, Result};
use crate::expr::{CompositeKeyCondition, SortCondition};
use crate::index::def::IndexDef;
use crate::keys::KeyRange;
use crate::schema::{IndexKeys, KeyAttribute};
use crate::value::{AttributeValue, Item};

/// A key not of the table's or index's shape; DynamoDB says no more than this.
const INVALID: &str = "The provided starting key is invalid";
/// A value of the wrong type for a key attribute of the key schema read.
const SCHEMA_MISMATCH: &str = "The provided key element does not match the schema";

/// Checks the shape of a Query's start key, or an index Scan's, before its storage key
/// is built: exactly the key attributes of the table and the index (any missing, or
/// one too many, is "The provided starting key is invalid"), and the attributes of the
/// key schema read of their types. A table Scan's start key is left to the table's key
/// check, which DynamoDB words "The provided starting key is invalid: The provided key
/// element does not match the schema" for every shape fault.
pub(crate) fn check_shape(
    table: &TableDef,
    index: Option<&IndexDef>,
    esk: &Item,
    query: bool,
) -> Result<()> {
    if !query && index.is_none() {
        return Ok(());
    }
    let names = match index {
        None => table.key_names().collect::<Vec<_>>(),
        Some(ix) => crate::index::entries::entry_key_names(table, ix),
    };
    if esk.len() != names.len() || names.iter().any(|n| !esk.contains_key(*n)) {
        return Err(Error::validation(INVALID));
    }
    let schema = index.map_or_else(
        || IndexKeys::of(&table.key_schema),
        |ix| ix.key_schema.clone(),
    );
    for (attr, _) in schema.attributes() {
        if !esk
            .get(&attr.name)
            .is_some_and(|v| attr.key_type.is_type_of(v))
        {
            return Err(Error::validation(SCHEMA_MISMATCH));
        }
    }
    Ok(())
}

/// Checks that a Query's start key (already of the right shape) lies inside its key
/// condition. Without a sort-key condition a start key of another partition is
/// "outside query boundaries"; with one, a sort key the condition does not match is
/// reported first, and then another partition, in DynamoDB's odd words for it. On a
/// multi-attribute key the partition is every HASH value, and the sort-key condition
/// the equal leading RANGE values with the condition on the next one.
pub(crate) fn check_query_bounds(
    schema: &IndexKeys,
    kc: &CompositeKeyCondition,
    esk: &Item,
) -> Result<()> {
    let equal = |attr: &KeyAttribute, want: &AttributeValue| {
        esk.get(&attr.name)
            .is_some_and(|v| SortCondition::Eq(want.clone()).matches(v))
    };
    let same_partition = schema
        .hash
        .iter()
        .zip(&kc.partition)
        .all(|(attr, want)| equal(attr, want));
    let conditioned = !kc.sort_prefix.is_empty() || kc.sort.is_some();
    let sort = conditioned.then(|| {
        let prefix = schema
            .range
            .iter()
            .zip(&kc.sort_prefix)
            .all(|(attr, want)| equal(attr, want));
        let last = match (schema.range.get(kc.sort_prefix.len()), &kc.sort) {
            (Some(attr), Some(cond)) => esk.get(&attr.name).is_some_and(|v| cond.matches(v)),
            _ => true,
        };
        prefix && last
    });
    match sort {
        None if !same_partition => Err(Error::validation(
            "The provided starting key is outside query boundaries based on provided conditions",
        )),
        Some(false) => Err(Error::validation(
            "The provided starting key does not match the range key predicate",
        )),
        Some(true) if !same_partition => Err(Error::validation(
            "The query can return at most one row and cannot be restarted",
        )),
        _ => Ok(()),
    }
}

/// Checks that a parallel Scan's start key (as a storage key) lies in the key range of
/// its segment: a key of another segment would make the segment read items that are
/// not its own.
pub(crate) fn check_segment(
    range: &KeyRange,
    key: &[u8],
    segment: Option<u32>,
    total: Option<u32>,
) -> Result<()> {
    let (Some(segment), Some(total)) = (segment, total) else {
        return Ok(());
    };
    let above = match &range.0 {
        Bound::Included(lo) => key >= lo.as_slice(),
        Bound::Excluded(lo) => key > lo.as_slice(),
        Bound::Unbounded => true,
    };
    let below = match &range.1 {
        Bound::Included(hi) => key <= hi.as_slice(),
        Bound::Excluded(hi) => key < hi.as_slice(),
        Bound::Unbounded => true,
    };
    if above && below {
        return Ok(());
    }
    Err(Error::validation(format!(
        "{INVALID}: Invalid ExclusiveStartKey. Please use ExclusiveStartKey with correct Segment. TotalSegments: {total} Segment: {segment}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyType;
    use crate::schema::KeyAttribute;
    use crate::value::AttributeValue as Av;

    fn schema() -> IndexKeys {
        IndexKeys {
            hash: vec![KeyAttribute {
                name: "pk".into(),
                key_type: KeyType::S,
            }],
            range: vec![KeyAttribute {
                name: "sk".into(),
                key_type: KeyType::N,
            }],
        }
    }

    fn esk(pk: &str, sk: &str) -> Item {
        Item::from([
            ("pk".to_string(), Av::S(pk.into())),
            ("sk".to_string(), Av::N(sk.parse().unwrap())),
        ])
    }

    fn message(r: Result<()>) -> String {
        match r {
            Err(Error::Validation(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_query_start_key_must_lie_in_the_key_condition() {
        let kc = |sort| CompositeKeyCondition {
            partition: vec![Av::S("a".into())],
            sort_prefix: Vec::new(),
            sort,
        };
        let s = schema();
        assert!(check_query_bounds(&s, &kc(None), &esk("a", "5")).is_ok());
        assert!(
            message(check_query_bounds(&s, &kc(None), &esk("b", "5"))).contains("outside query")
        );
        let gt3 = || Some(SortCondition::Gt(Av::N(3.into())));
        assert!(check_query_bounds(&s, &kc(gt3()), &esk("a", "5")).is_ok());
        assert!(message(check_query_bounds(&s, &kc(gt3()), &esk("a", "3"))).contains("predicate"));
        // The sort key is checked before the partition.
        assert!(message(check_query_bounds(&s, &kc(gt3()), &esk("b", "3"))).contains("predicate"));
        assert!(
            message(check_query_bounds(&s, &kc(gt3()), &esk("b", "4"))).contains("at most one row")
        );
        // Numbers compare as numbers.
        assert!(check_query_bounds(&s, &kc(None), &esk("a", "5.0")).is_ok());
    }

    #[test]
    fn a_multi_attribute_query_start_key_must_lie_in_every_condition() {
        let attr = |name: &str| KeyAttribute {
            name: name.into(),
            key_type: KeyType::S,
        };
        let keys = IndexKeys {
            hash: vec![attr("h1"), attr("h2")],
            range: vec![attr("r1"), attr("r2")],
        };
        let s = |v: &str| Av::S(v.into());
        let esk = |h2: &str, r1: &str, r2: &str| {
            Item::from([
                ("h1".to_string(), s("a")),
                ("h2".to_string(), s(h2)),
                ("r1".to_string(), s(r1)),
                ("r2".to_string(), s(r2)),
            ])
        };
        let kc = |sort_prefix: Vec<Av>, sort| CompositeKeyCondition {
            partition: vec![s("a"), s("b")],
            sort_prefix,
            sort,
        };
        let whole = kc(Vec::new(), None);
        assert!(check_query_bounds(&keys, &whole, &esk("b", "x", "y")).is_ok());
        let m = message(check_query_bounds(&keys, &whole, &esk("c", "x", "y")));
        assert!(m.contains("outside query"), "{m}");
        let prefix = kc(vec![s("x")], Some(SortCondition::Gt(s("m"))));
        assert!(check_query_bounds(&keys, &prefix, &esk("b", "x", "y")).is_ok());
        for (h2, r1, r2) in [("b", "w", "y"), ("b", "x", "a")] {
            let m = message(check_query_bounds(&keys, &prefix, &esk(h2, r1, r2)));
            assert!(m.contains("predicate"), "{m}");
        }
        let m = message(check_query_bounds(&keys, &prefix, &esk("c", "x", "y")));
        assert!(m.contains("at most one row"), "{m}");
    }

    #[test]
    fn a_segment_start_key_must_lie_in_the_segment() {
        let range = (Bound::Included(vec![1, 0]), Bound::Excluded(vec![2]));
        assert!(check_segment(&range, &[1, 5], Some(0), Some(2)).is_ok());
        assert!(check_segment(&range, &[2], None, None).is_ok());
        assert_eq!(
            message(check_segment(&range, &[2, 1], Some(1), Some(4))),
            "The provided starting key is invalid: Invalid ExclusiveStartKey. Please use ExclusiveStartKey with correct Segment. TotalSegments: 4 Segment: 1"
        );
        assert!(check_segment(&range, &[1], Some(0), Some(2)).is_err());
    }
}
