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
            key_schema: IndexKeys {
                hash: vec![attr("email", KeyType::S)],
                range: Vec::new(),
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
        on_demand: None,
        warm: None,
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

/// A table with a global index of two HASH and two RANGE attributes.
fn multi_key_table() -> TableDef {
    let mut t = table(IndexProjection::KeysOnly);
    t.attribute_definitions = vec![
        attr("pk", KeyType::S),
        attr("region", KeyType::S),
        attr("round", KeyType::N),
        attr("bracket", KeyType::S),
        attr("seq", KeyType::N),
    ];
    t.indexes[0].key_schema = IndexKeys {
        hash: vec![attr("region", KeyType::S), attr("round", KeyType::N)],
        range: vec![attr("bracket", KeyType::S), attr("seq", KeyType::N)],
    };
    t
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.into())
}

#[test]
fn multi_attribute_entries_need_every_key_attribute_and_sort_as_a_tuple() {
    let t = multi_key_table();
    let ix = &t.indexes[0];
    let full = |pk: &str, bracket: &str, seq: i64| {
        item(&[
            ("pk", s(pk)),
            ("region", s("eu")),
            ("round", n(2)),
            ("bracket", s(bracket)),
            ("seq", n(seq)),
            ("other", s("x")),
        ])
    };
    // Sparse: any one key attribute missing leaves the item out.
    for missing in ["region", "round", "bracket", "seq"] {
        let mut i = full("a", "upper", 1);
        i.remove(missing);
        assert_eq!(entry_key(&t, ix, &i), Err(NoEntry::Missing), "{missing}");
        assert!(entry_changes(&t, &live(&t), None, Some(&i)).is_empty());
    }
    let mut wrong = full("a", "upper", 1);
    wrong.insert("round".into(), s("two"));
    assert_eq!(entry_key(&t, ix, &wrong), Err(NoEntry::Violation));
    assert!(check_item(&live(&t), &wrong).is_err());
    // Ordered by (bracket, seq), whatever the table key.
    let keys: Vec<Vec<u8>> = [
        full("z", "lower", 10),
        full("y", "upper", 2),
        full("x", "upper", 10),
    ]
    .iter()
    .map(|i| entry_key(&t, ix, i).unwrap())
    .collect();
    assert!(keys[0] < keys[1] && keys[1] < keys[2]);
    // The entry carries the table's and every index key attribute, nothing else.
    let projected = project(&t, ix, &full("a", "upper", 1));
    let mut names: Vec<&str> = projected.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["bracket", "pk", "region", "round", "seq"]);
    assert_eq!(
        entry_key_names(&t, ix),
        ["pk", "region", "round", "bracket", "seq"]
    );
    // An ExclusiveStartKey names all of them.
    let esk = item(&[
        ("pk", s("a")),
        ("region", s("eu")),
        ("round", n(2)),
        ("bracket", s("upper")),
        ("seq", n(1)),
    ]);
    assert_eq!(
        start_key(&t, ix, &esk).unwrap(),
        entry_key(&t, ix, &full("a", "upper", 1)).unwrap()
    );
    let mut short = esk.clone();
    short.remove("seq");
    assert!(start_key(&t, ix, &short).is_err());
}

#[test]
fn global_index_key_schemas_take_up_to_four_attributes_of_each_role() {
    let defs: Vec<KeyAttribute> = (0..10)
        .map(|i| attr(&format!("a{i}"), KeyType::S))
        .collect();
    let table_key = KeySchema {
        hash: attr("a0", KeyType::S),
        range: None,
    };
    let validate = |roles: &[(usize, KeyRole)]| {
        let input = IndexInput {
            name: "gsi".into(),
            kind: IndexKind::Global,
            key_schema: roles.iter().map(|(i, r)| (format!("a{i}"), *r)).collect(),
            projection_type: Some("ALL".into()),
            non_key_attributes: None,
            throughput: None,
            on_demand: None,
            warm: None,
        };
        validate_indexes(
            &[input],
            &table_key,
            &defs,
            BillingMode::PayPerRequest,
            None,
        )
    };
    use KeyRole::{Hash as H, Range as R};
    let ok = validate(&[
        (1, H),
        (2, H),
        (3, H),
        (4, H),
        (5, R),
        (6, R),
        (7, R),
        (8, R),
    ])
    .unwrap();
    let keys = &ok[0].key_schema;
    assert_eq!(keys.hash.len(), 4);
    assert_eq!(keys.range.len(), 4);
    assert_eq!(
        keys.names().collect::<Vec<_>>(),
        ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"]
    );
    let err = |roles: &[(usize, KeyRole)]| validate(roles).unwrap_err().to_string();
    let invalid = "One or more parameter values were invalid: ";
    let too_many = |role: &str| {
        format!(
            "{invalid}The KeySchema exceeds the maximum allowed number of {role} key attributes"
        )
    };
    assert_eq!(
        err(&[(1, H), (2, H), (3, H), (4, H), (5, H)]),
        too_many("HASH")
    );
    let six = [(1, H), (2, R), (3, R), (4, R), (5, R), (6, R)];
    assert_eq!(err(&six), too_many("RANGE"));
    let order = "All HASH key attributes must precede RANGE key attributes in the KeySchema";
    assert_eq!(err(&[(1, H), (2, R), (3, H)]), format!("{invalid}{order}"));
    let same = "The KeySchema contains multiple key attributes with the same name";
    assert_eq!(err(&[(1, H), (2, H), (1, R)]), same);
    assert_eq!(err(&[(1, H), (1, H)]), "Attribute Name is duplicated: a1");
    assert!(err(&[(1, H), (11, H), (3, R)]).contains("Keys: [a11]"));
    assert!(err(&[(2, R), (1, H), (3, H)]).contains("The first KeySchemaElement is not a HASH"));
    // A one-and-one schema keeps the table's rules and messages.
    assert!(err(&[(1, H), (1, R)]).contains("Both the Hash Key and the Range Key"));
}

#[test]
fn projected_attribute_names_are_held_to_their_length() {
    let defs = vec![attr("pk", KeyType::S), attr("email", KeyType::S)];
    let table_key = KeySchema {
        hash: attr("pk", KeyType::S),
        range: None,
    };
    let with = |names: Vec<String>| {
        let input = IndexInput {
            name: "by_email".into(),
            kind: IndexKind::Global,
            key_schema: vec![("email".into(), KeyRole::Hash)],
            projection_type: Some("INCLUDE".into()),
            non_key_attributes: Some(names),
            throughput: None,
            on_demand: None,
            warm: None,
        };
        validate_indexes(
            &[input],
            &table_key,
            &defs,
            BillingMode::PayPerRequest,
            None,
        )
    };
    assert!(with(vec!["x".repeat(255)]).is_ok());
    let long = "x".repeat(256);
    let m = with(vec!["a".into(), long.clone()])
        .unwrap_err()
        .to_string();
    assert_eq!(
        m,
        format!(
            "1 validation error detected: Value '[a, {long}]' at 'globalSecondaryIndexes.1.member.projection.nonKeyAttributes' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 255, Member must have length greater than or equal to 1]"
        )
    );
}

#[test]
fn provisioned_units_for_an_on_demand_index_are_refused_in_each_calls_words() {
    let defs = vec![attr("pk", KeyType::S), attr("g", KeyType::S)];
    let table_key = KeySchema {
        hash: attr("pk", KeyType::S),
        range: None,
    };
    let input = IndexInput {
        name: "gsi".into(),
        kind: IndexKind::Global,
        key_schema: vec![("g".into(), KeyRole::Hash)],
        projection_type: Some("ALL".into()),
        non_key_attributes: None,
        throughput: Some(Throughput {
            read_capacity_units: 4,
            write_capacity_units: 5,
        }),
        on_demand: None,
        warm: None,
    };
    let refused = |update_position| match validate_indexes(
        std::slice::from_ref(&input),
        &table_key,
        &defs,
        BillingMode::PayPerRequest,
        update_position,
    ) {
        Err(Error::Validation(m)) => m,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        refused(None),
        "One or more parameter values were invalid: ProvisionedThroughput should not be specified for index: gsi when BillingMode is PAY_PER_REQUEST"
    );
    assert_eq!(
        refused(Some(1)),
        "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified for index: gsi when BillingMode is PAY_PER_REQUEST"
    );
}
