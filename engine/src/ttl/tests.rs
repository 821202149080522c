use super::*;
use crate::codec::encode_item;
use crate::engine::Engine;
use crate::number::Number;
use std::sync::atomic::Ordering;

fn item(pairs: &[(&str, AttributeValue)]) -> Item {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn n(s: &str) -> AttributeValue {
    AttributeValue::N(Number::parse(s).unwrap())
}

#[test]
fn a_sweep_looks_at_a_bounded_slice_and_resumes_there() {
    use crate::{CreateTableInput, EngineConfig, KeyAttribute, KeyRole, KeyType, PutItemInput};
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(dir.path());
    config.in_memory = true;
    let engine = Engine::open(config).unwrap();
    engine
        .create_table(CreateTableInput {
            name: "sessions".into(),
            attribute_definitions: vec![KeyAttribute {
                name: "pk".into(),
                key_type: KeyType::S,
            }],
            key_schema: vec![("pk".into(), KeyRole::Hash)],
            billing_mode: Some(crate::BillingMode::PayPerRequest),
            ..Default::default()
        })
        .unwrap();
    let past = (now_ms() / 1000 - 60).to_string();
    let future = (now_ms() / 1000 + 3600).to_string();
    for i in 0..10 {
        let expires = if i % 2 == 0 { &past } else { &future };
        let (tx, rx) = std::sync::mpsc::channel();
        engine.put_item(
            PutItemInput {
                table: "sessions".into(),
                item: item(&[
                    ("pk", AttributeValue::S(format!("s{i}"))),
                    ("exp", n(expires)),
                ]),
                ..Default::default()
            },
            Box::new(move |r| {
                let _ = tx.send(r.map(|_| ()));
            }),
        );
        rx.recv().unwrap().unwrap();
    }
    let t = engine.state.table("sessions").unwrap();
    let mut per_sweep = Vec::new();
    for sweep in 1..=4 {
        per_sweep.push(expire_table(&engine.state, &t, "exp", 3).unwrap());
        let resumes = lock(&engine.state.ttl_cursors).contains_key(&t.def.id);
        assert_eq!(resumes, sweep < 4, "sweep {sweep} looked at 3 of 10 items");
    }
    assert!(
        per_sweep.iter().all(|&d| d <= 3),
        "at most what it looked at: {per_sweep:?}"
    );
    assert_eq!(per_sweep.iter().sum::<usize>(), 5, "{per_sweep:?}");
    assert_eq!(t.stats.item_count.load(Ordering::Relaxed), 5);
    assert_eq!(expire_table(&engine.state, &t, "exp", 3).unwrap(), 0);
    engine.shutdown();
}

#[test]
fn expiry_is_a_top_level_number_in_the_last_five_years() {
    let now = 1_800_000_000.0;
    assert!(is_expired(now - 1.0, now));
    assert!(!is_expired(now + 1.0, now));
    assert!(!is_expired(now - TTL_PAST_LIMIT_S - 1.0, now));
    // Milliseconds since the epoch read as a date far in the future: never expired.
    assert!(!is_expired(now * 1000.0, now));
}

#[test]
fn the_stored_walk_finds_what_the_item_holds() {
    let nested = AttributeValue::M(item(&[("exp", n("5"))]));
    let cases = [
        (
            item(&[("pk", AttributeValue::S("a".into())), ("exp", n("12.5"))]),
            Some(12.5),
        ),
        (item(&[("exp", AttributeValue::S("12".into()))]), None),
        (item(&[("m", nested.clone())]), None),
        (item(&[("a", nested), ("exp", n("7"))]), Some(7.0)),
        (item(&[("exp", AttributeValue::L(vec![n("1")]))]), None),
        (item(&[("pk", n("3"))]), None),
    ];
    for (it, want) in cases {
        let stored = StoredItem::from_slice(encode_item(&it).into());
        assert_eq!(expiry_of_stored(&stored, "exp").unwrap(), want, "{it:?}");
        assert_eq!(expiry_of_item(&it, "exp"), want, "{it:?}");
    }
}
