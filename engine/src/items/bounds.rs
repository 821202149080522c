//! The key range a Query's key condition selects, and the range of a Scan or of one
//! of its parallel segments, in the layout `keys.rs` documents.
//!
//! It owns those bounds and the key limits a Query is held to; it must not read.

use std::ops::Bound;

use crate::error::{Error, Result};
use crate::expr::{CompositeKeyCondition, SortCondition};
use crate::keys::{
    KeyRange, after_prefix, check_range, composite_partition_prefix, encode_key_prefix,
    encode_key_value, prefix_end, shard_of,
};
use crate::limits::SCAN_SEGMENTS_MAX;
use crate::schema::{
    IndexKeys, check_not_empty_key, check_partition_key_size, check_sort_key_size,
};
use crate::value::AttributeValue;

/// The key range a key condition selects in the table or index with storage id `id`.
/// Each sort key condition is a range of key *prefixes*: an index entry's key goes on
/// after its sort key (`index/`), and as the encoding is prefix-free, the keys
/// starting with `enc(v)` are exactly those whose sort key is `v`. On a multi-attribute
/// key the partition values and the equal leading sort values make the prefix, and the
/// condition on the next sort attribute is a range after it, the same way.
///
/// The key values are held to DynamoDB's key limits first, as DynamoDB holds a Query's
/// (with the messages of an item's key), so no value can build a range bound the
/// storage layer refuses; the bounds are checked against it all the same.
pub(crate) fn query_bounds(
    id: u32,
    shards: u16,
    keys: &IndexKeys,
    kc: &CompositeKeyCondition,
) -> Result<KeyRange> {
    let mismatch = || {
        Error::validation(
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        )
    };
    for (attr, v) in keys.hash.iter().zip(&kc.partition) {
        if !attr.key_type.is_type_of(v) {
            return Err(mismatch());
        }
        check_not_empty_key(v, &attr.name)?;
        check_partition_key_size(v)?;
    }
    for (attr, v) in keys.range.iter().zip(&kc.sort_prefix) {
        if !attr.key_type.is_type_of(v) {
            return Err(mismatch());
        }
        check_not_empty_key(v, &attr.name)?;
        check_sort_key_size(v)?;
    }
    let partition: Vec<&AttributeValue> = kc.partition.iter().collect();
    let mut prefix = composite_partition_prefix(id, shards, &partition)?;
    for v in &kc.sort_prefix {
        encode_key_value(v, &mut prefix);
    }
    let with = |v: &AttributeValue| {
        let mut k = prefix.clone();
        encode_key_value(v, &mut k);
        k
    };
    let whole = (Bound::Included(prefix.clone()), prefix_end(&prefix));
    let Some(sort) = &kc.sort else {
        return check_range(whole);
    };
    if let Some(range) = keys.range.get(kc.sort_prefix.len())
        && sort.values().iter().any(|v| !range.key_type.is_type_of(v))
    {
        return Err(mismatch());
    }
    for v in sort.values() {
        check_sort_key_size(v)?;
    }
    check_range(match sort {
        SortCondition::Eq(v) => (Bound::Included(with(v)), prefix_end(&with(v))),
        SortCondition::Lt(v) => (whole.0, Bound::Excluded(with(v))),
        SortCondition::Le(v) => (whole.0, prefix_end(&with(v))),
        SortCondition::Gt(v) => (after_prefix(&with(v)), whole.1),
        SortCondition::Ge(v) => (Bound::Included(with(v)), whole.1),
        SortCondition::Between(a, b) => (Bound::Included(with(a)), prefix_end(&with(b))),
        SortCondition::BeginsWith(v) => {
            if matches!(v, AttributeValue::N(_)) {
                return Err(Error::validation(
                    "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
                ));
            }
            let mut p = prefix.clone();
            encode_key_prefix(v, &mut p);
            let end = prefix_end(&p);
            (Bound::Included(p), end)
        }
    })
}

/// The key range of a whole table, or of one parallel-scan segment: segment `s` of `n`
/// covers partition hashes `[s·2⁶⁴/n, (s+1)·2⁶⁴/n)`, which is a contiguous key range
/// because keys start with the shard and the hash (see `keys.rs`).
pub(crate) fn scan_bounds(
    id: u32,
    shards: u16,
    segment: Option<u32>,
    total: Option<u32>,
) -> Result<KeyRange> {
    let id = id.to_be_bytes();
    let (segment, total) = match (segment, total) {
        (None, None) => return Ok((Bound::Included(id.to_vec()), prefix_end(&id))),
        (Some(s), Some(t)) => (s, t),
        (Some(_), None) => {
            return Err(Error::validation(
                "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
            ));
        }
        (None, Some(_)) => {
            return Err(Error::validation(
                "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
            ));
        }
    };
    if total == 0 || total > SCAN_SEGMENTS_MAX {
        return Err(Error::validation(format!(
            "1 validation error detected: Value '{total}' at 'totalSegments' failed to satisfy constraint: Member must have value {}",
            if total == 0 {
                "greater than or equal to 1".to_string()
            } else {
                format!("less than or equal to {SCAN_SEGMENTS_MAX}")
            }
        )));
    }
    if segment >= total {
        return Err(Error::validation(format!(
            "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {segment} is not less than TotalSegments: {total}"
        )));
    }
    let bound = |s: u32| -> Option<Vec<u8>> {
        // ceil(s · 2^64 / total); None past the end of the hash space.
        let h = (u128::from(s) << 64).div_ceil(u128::from(total));
        if h > u128::from(u64::MAX) {
            return None;
        }
        let h = h as u64;
        let mut k = id.to_vec();
        k.extend(shard_of(h, shards).to_be_bytes());
        k.extend(h.to_be_bytes());
        Some(k)
    };
    let lo = bound(segment).map_or(Bound::Included(id.to_vec()), Bound::Included);
    let hi = if segment + 1 == total {
        prefix_end(&id)
    } else {
        bound(segment + 1).map_or_else(|| prefix_end(&id), Bound::Excluded)
    };
    Ok((lo, hi))
}

#[cfg(test)]
mod tests {
    use std::ops::RangeBounds;

    use proptest::prelude::*;

    use super::*;
    use crate::keys::{KeyType, composite_item_key};
    use crate::schema::KeyAttribute;

    fn attr(name: &str, key_type: KeyType) -> KeyAttribute {
        KeyAttribute {
            name: name.into(),
            key_type,
        }
    }

    /// HASH (S, N), RANGE (S, N): a multi-attribute key.
    fn keys() -> IndexKeys {
        IndexKeys {
            hash: vec![attr("h1", KeyType::S), attr("h2", KeyType::N)],
            range: vec![attr("r1", KeyType::S), attr("r2", KeyType::N)],
        }
    }

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    fn n(v: i64) -> AttributeValue {
        AttributeValue::N(v.into())
    }

    fn sort_condition() -> impl Strategy<Value = SortCondition> {
        let v = -5i64..5;
        prop_oneof![
            v.clone().prop_map(|x| SortCondition::Eq(n(x))),
            v.clone().prop_map(|x| SortCondition::Lt(n(x))),
            v.clone().prop_map(|x| SortCondition::Le(n(x))),
            v.clone().prop_map(|x| SortCondition::Gt(n(x))),
            v.clone().prop_map(|x| SortCondition::Ge(n(x))),
            (v.clone(), v).prop_map(|(a, b)| SortCondition::Between(n(a.min(b)), n(a.max(b)))),
        ]
    }

    proptest! {
        /// The key range of a Query on a multi-attribute key holds exactly the entries
        /// whose partition values are equal, whose leading sort value is equal and whose
        /// next sort value meets the condition (the table key after them included).
        #[test]
        fn composite_query_ranges_hold_exactly_the_matching_entries(
            entry in (prop_oneof![Just("a"), Just("ab"), Just("b")], -6i64..6, -2i64..2),
            cond in sort_condition(),
            prefix_only in any::<bool>(),
        ) {
            let (r1, r2, h2) = entry;
            let kc = CompositeKeyCondition {
                partition: vec![s("p"), n(1)],
                sort_prefix: vec![s("ab")],
                sort: (!prefix_only).then(|| cond.clone()),
            };
            let range = query_bounds(3, 4, &keys(), &kc).unwrap();
            let (h1v, h2v, r1v, r2v) = (s("p"), n(h2), s(r1), n(r2));
            let mut key =
                composite_item_key(3, 4, &[&h1v, &h2v], &[&r1v, &r2v]).unwrap().0;
            encode_key_value(&s("table-key"), &mut key);
            let want = h2 == 1 && r1 == "ab" && (prefix_only || cond.matches(&r2v));
            prop_assert_eq!(range.contains(&key), want);
        }
    }

    #[test]
    fn begins_with_on_a_later_sort_attribute_is_a_prefix_range() {
        let keys = IndexKeys {
            hash: vec![attr("h", KeyType::S)],
            range: vec![attr("r1", KeyType::N), attr("r2", KeyType::S)],
        };
        let kc = CompositeKeyCondition {
            partition: vec![s("p")],
            sort_prefix: vec![n(2)],
            sort: Some(SortCondition::BeginsWith(s("up"))),
        };
        let range = query_bounds(3, 1, &keys, &kc).unwrap();
        let key = |r1: i64, r2: &str| {
            composite_item_key(3, 1, &[&s("p")], &[&n(r1), &s(r2)])
                .unwrap()
                .0
        };
        assert!(range.contains(&key(2, "upper")));
        assert!(range.contains(&key(2, "up")));
        assert!(!range.contains(&key(2, "lower")));
        assert!(!range.contains(&key(3, "upper")));
        // A value of the wrong type for its attribute is DynamoDB's type mismatch.
        let wrong = CompositeKeyCondition {
            partition: vec![s("p")],
            sort_prefix: vec![s("two")],
            sort: None,
        };
        let m = query_bounds(3, 1, &keys, &wrong).unwrap_err().to_string();
        assert!(
            m.contains("Condition parameter type does not match schema type"),
            "{m}"
        );
    }
}
