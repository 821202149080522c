//! Index definitions, plans and entries.

use crate::catalog::TableDef;
use crate::error::Error;
use crate::index::def::*;
use crate::index::entries::*;
use crate::index::plan::*;
use crate::keys::KeyType;
use crate::keys::item_key;
use crate::limits::PARTITION_KEY_BYTES_MAX;
use crate::schema::*;
use crate::value::*;

fn attr(name: &str, key_type: KeyType) -> KeyAttribute {
    KeyAttribute {
        name: name.into(),
        key_type,
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn table(projection: IndexProjection) -> TableDef {
    TableDef {
        name: "t".into(),
        id: 1,
        key_schema: KeySchema {
            hash: attr("pk", KeyType::S),
            range: None,
        },
        attribute_definitions: vec![attr("pk", KeyType::S), attr("email", KeyType::S)],
        billing_mode: BillingMode::PayPerRequest,
        throughput: Throughput::default(),
        pay_per_request_since_ms: None,
        created_at_ms: 0,
        shards: 1,
        tags: Default::default(),
        settings: Default::default(),
        indexes: vec![IndexDef {
            name: "by_email".into(),
            kind: IndexKind::Global,
            id: 2,
            key_schema: KeySchema {
                hash: attr("email", KeyType::S),
                range: None,
            },
            projection,
            throughput: None,
            build: IndexBuild::WithTable,
        }],
    }
}

fn live(t: &TableDef) -> Vec<LiveIndex> {
    t.indexes.iter().cloned().map(LiveIndex::new).collect()
}

fn item(pairs: &[(&str, AttributeValue)]) -> Item {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[test]
fn an_item_without_the_index_key_has_no_entry() {
    let t = table(IndexProjection::All);
    let i = item(&[("pk", s("a"))]);
    assert_eq!(entry_key(&t, &t.indexes[0], &i), Err(NoEntry::Missing));
    assert!(entry_changes(&t, &live(&t), None, Some(&i)).is_empty());
}

#[test]
fn items_sharing_an_index_key_have_distinct_entries_under_one_prefix() {
    let t = table(IndexProjection::All);
    let a = entry_key(
        &t,
        &t.indexes[0],
        &item(&[("pk", s("a")), ("email", s("x"))]),
    );
    let b = entry_key(
        &t,
        &t.indexes[0],
        &item(&[("pk", s("b")), ("email", s("x"))]),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a, b);
    let (prefix, _) = item_key(2, 1, &s("x"), None).unwrap();
    assert!(a.starts_with(&prefix) && b.starts_with(&prefix));
}

#[test]
fn changing_the_index_key_moves_the_entry_and_other_changes_rewrite_it() {
    let t = table(IndexProjection::KeysOnly);
    let old = item(&[("pk", s("a")), ("email", s("x")), ("n", s("1"))]);
    let moved = item(&[("pk", s("a")), ("email", s("y")), ("n", s("1"))]);
    let c = entry_changes(&t, &live(&t), Some(&old), Some(&moved));
    assert_eq!(c.len(), 1);
    assert!(c[0].remove.is_some());
    let (_, projected) = c[0].insert.as_ref().unwrap();
    assert_eq!(projected, &item(&[("pk", s("a")), ("email", s("y"))]));
    // A change to an attribute the index does not project leaves its entry alone.
    let other = item(&[("pk", s("a")), ("email", s("x")), ("n", s("2"))]);
    assert!(entry_changes(&t, &live(&t), Some(&old), Some(&other)).is_empty());
    // Deleting the item removes the entry.
    let c = entry_changes(&t, &live(&t), Some(&old), None);
    assert!(c[0].remove.is_some() && c[0].insert.is_none());
}

#[test]
fn a_wrongly_typed_index_key_is_rejected() {
    let t = table(IndexProjection::All);
    let bad = item(&[
        ("pk", s("a")),
        ("email", AttributeValue::N("1".parse().unwrap())),
    ]);
    let e = check_item(&live(&t), &bad).unwrap_err().to_string();
    assert!(e.contains("Type mismatch for Index Key email"), "{e}");
    let empty = item(&[("pk", s("a")), ("email", s(""))]);
    assert!(check_item(&live(&t), &empty).is_err());
    assert!(check_item(&live(&t), &item(&[("pk", s("a"))])).is_ok());
}

#[test]
fn one_online_index_change_at_a_time_but_a_backfilling_index_can_be_deleted() {
    let mut t = table(IndexProjection::All);
    t.indexes[0].build = IndexBuild::Backfilling;
    let mut other = t.indexes[0].clone();
    other.name = "other".into();
    other.id = 3;
    other.build = IndexBuild::WithTable;
    t.indexes.push(other);
    let create = IndexUpdate::Create(IndexInput {
        name: "by_pk".into(),
        kind: IndexKind::Global,
        key_schema: vec![("pk".into(), KeyRole::Hash)],
        projection_type: Some("ALL".into()),
        non_key_attributes: None,
        throughput: None,
    });
    let limit = |updates: &[IndexUpdate]| {
        let mut def = t.clone();
        match plan_updates(&mut def, updates, Some(&[attr("pk", KeyType::S)])) {
            Err(Error::LimitExceeded(m)) => assert_eq!(m, ONE_ONLINE_INDEX),
            other => panic!("{other:?}"),
        }
    };
    limit(&[create]);
    limit(&[IndexUpdate::Delete("other".into())]);
    let mut def = t.clone();
    let (build, drop) =
        plan_updates(&mut def, &[IndexUpdate::Delete("by_email".into())], None).unwrap();
    assert!(build.is_none());
    assert_eq!(drop.unwrap().name, "by_email");
    assert_eq!(def.indexes.len(), 1);
}

#[test]
fn entries_follow_dynamodb_index_key_violations() {
    let t = table(IndexProjection::All);
    let ix = &t.indexes[0];
    let with = |v: AttributeValue| entry_key(&t, ix, &item(&[("pk", s("a")), ("email", v)]));
    assert!(with(s(&"e".repeat(PARTITION_KEY_BYTES_MAX))).is_ok());
    let violations = [
        s(&"e".repeat(PARTITION_KEY_BYTES_MAX + 1)),
        s(""),
        AttributeValue::B(Vec::new()),
        AttributeValue::N(1.into()),
        AttributeValue::Ss(vec!["x".into()]),
    ];
    for v in violations {
        assert_eq!(with(v.clone()), Err(NoEntry::Violation), "{v:?}");
    }
    let building = LiveIndex::new(IndexDef {
        build: IndexBuild::Backfilling,
        ..ix.clone()
    });
    let bad = item(&[("pk", s("a")), ("email", AttributeValue::N(1.into()))]);
    // A backfilling index takes the write and leaves the item out.
    assert!(check_item(std::slice::from_ref(&building), &bad).is_ok());
    assert!(entry_changes(&t, &[building], None, Some(&bad)).is_empty());
}
