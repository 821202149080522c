//! Query and Scan paging through the engine's API: `Limit` and `LastEvaluatedKey`
//! resume exactly where a page stopped, in both directions, and parallel-scan
//! segments split the table without overlap.

use std::collections::BTreeSet;

use eddy_engine::{
    AttributeValue, BatchWriteRequest, BillingMode, CreateTableInput, Engine, EngineConfig,
    ExpressionAttributes, Item, KeyAttribute, KeyRole, KeyType, Number, QueryInput, ScanInput,
};

fn engine_with_items(n: i64) -> (Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(dir.path());
    config.in_memory = true;
    let engine = Engine::open(config).unwrap();
    engine
        .create_table(CreateTableInput {
            name: "pages".into(),
            attribute_definitions: vec![
                KeyAttribute {
                    name: "pk".into(),
                    key_type: KeyType::S,
                },
                KeyAttribute {
                    name: "sk".into(),
                    key_type: KeyType::N,
                },
            ],
            key_schema: vec![("pk".into(), KeyRole::Hash), ("sk".into(), KeyRole::Range)],
            billing_mode: Some(BillingMode::PayPerRequest),
            ..Default::default()
        })
        .unwrap();
    let items: Vec<Item> = (0..n)
        .map(|i| {
            Item::from([
                ("pk".to_string(), AttributeValue::S(format!("p{}", i % 3))),
                (
                    "sk".to_string(),
                    AttributeValue::N(Number::from_i64(i - n / 2)),
                ),
            ])
        })
        .collect();
    for chunk in items.chunks(25) {
        let (tx, rx) = std::sync::mpsc::channel();
        engine.batch_write_item(
            vec![(
                "pages".into(),
                chunk.iter().cloned().map(BatchWriteRequest::Put).collect(),
            )],
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv().unwrap().unwrap();
    }
    (engine, dir)
}

fn sk(i: &Item) -> String {
    match &i["sk"] {
        AttributeValue::N(n) => n.to_string(),
        other => panic!("{other:?}"),
    }
}

fn query_all(engine: &Engine, forward: bool, limit: usize) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut start = None;
    let mut pages = 0;
    loop {
        let page = engine
            .query(&QueryInput {
                table: "pages".into(),
                key_condition: Some("pk = :p".into()),
                attributes: ExpressionAttributes {
                    names: None,
                    values: Some([(":p".to_string(), AttributeValue::S("p1".into()))].into()),
                },
                limit: Some(limit),
                scan_forward: forward,
                exclusive_start_key: start.take(),
                ..Default::default()
            })
            .unwrap();
        pages += 1;
        assert!(page.items.len() <= limit);
        out.extend(page.decoded_items().unwrap().iter().map(sk));
        match page.last_evaluated_key {
            Some(k) => start = Some(k),
            None => return (out, pages),
        }
        assert!(pages < 1000, "paging does not end");
    }
}

#[test]
fn query_pages_resume_after_the_last_evaluated_key_in_both_directions() {
    let (engine, _dir) = engine_with_items(90);
    let (all, _) = query_all(&engine, true, 1000);
    assert_eq!(all.len(), 30);
    let numeric: Vec<i64> = all.iter().map(|s| s.parse().unwrap()).collect();
    assert!(
        numeric.windows(2).all(|w| w[0] < w[1]),
        "ascending numeric order: {numeric:?}"
    );
    for limit in [1, 7, 29, 30, 31] {
        let (paged, pages) = query_all(&engine, true, limit);
        assert_eq!(paged, all, "limit {limit}");
        assert!(pages >= 30usize.div_ceil(limit));
        let (back, _) = query_all(&engine, false, limit);
        let mut reversed = all.clone();
        reversed.reverse();
        assert_eq!(back, reversed, "descending, limit {limit}");
    }
}

#[test]
fn scan_pages_and_segments_cover_every_item_once() {
    let (engine, _dir) = engine_with_items(200);
    let scan = |segment: Option<(u32, u32)>, limit: Option<usize>| {
        let mut keys = Vec::new();
        let mut start = None;
        loop {
            let page = engine
                .scan(&ScanInput {
                    table: "pages".into(),
                    limit,
                    exclusive_start_key: start.take(),
                    segment: segment.map(|s| s.0),
                    total_segments: segment.map(|s| s.1),
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(page.count, page.items.len());
            keys.extend(
                page.decoded_items()
                    .unwrap()
                    .iter()
                    .map(|i| format!("{:?}/{}", i["pk"], sk(i))),
            );
            match page.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return keys,
            }
        }
    };
    let all = scan(None, None);
    assert_eq!(all.len(), 200);
    assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), 200);
    assert_eq!(
        scan(None, Some(13)),
        all,
        "paging keeps the order and loses nothing"
    );
    for total in [1u32, 2, 5, 16] {
        let mut union = BTreeSet::new();
        for s in 0..total {
            for k in scan(Some((s, total)), Some(17)) {
                assert!(union.insert(k), "an item in two segments of {total}");
            }
        }
        assert_eq!(union.len(), 200, "{total} segments");
    }
    let err = engine
        .scan(&ScanInput {
            table: "pages".into(),
            segment: Some(3),
            total_segments: Some(3),
            ..Default::default()
        })
        .unwrap_err();
    assert!(err.to_string().contains("Segment"), "{err}");
}
