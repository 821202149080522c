//! Micro-benchmark (not a test): nanoseconds per evaluation of a typical 5-clause
//! ConditionExpression on a ~1 KB item.
//!
//! ```text
//! cargo run --release -p eddy-engine --example expr_bench [-- ITERATIONS RUNS]
//! ```
//!
//! The condition is parsed once (as the engine does per request); the timed loop only
//! evaluates it. Each run evaluates it ITERATIONS times (default 1,000,000) against
//! the same item; the median of RUNS runs (default 7) is printed, with the minimum and
//! maximum. The issue's target is ≤ 2 µs per evaluation. Parsing is timed the same way
//! and printed for reference.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use eddy_engine::expr::Resolver;
use eddy_engine::{AttributeValue, Item, Number, item_size_bytes};

/// Evaluations per run unless given on the command line.
const ITERATIONS_DEFAULT: u64 = 1_000_000;
/// Runs unless given on the command line.
const RUNS_DEFAULT: usize = 7;
/// Parses per run (parsing is far slower than evaluating, so fewer).
const PARSES_PER_RUN: u64 = 100_000;

const CONDITION: &str = "attribute_exists(pk) AND #s = :active AND size(tags) > :n \
                         AND begins_with(email, :dom) AND amount BETWEEN :lo AND :hi";

fn num(s: &str) -> AttributeValue {
    AttributeValue::N(Number::parse(s).expect("benchmark number"))
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

/// A realistic ~1 KB item: the five attributes the condition reads plus a profile-like
/// spread of strings, numbers, a map and a list.
fn item() -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), s("customer#000123456"));
    item.insert("sk".into(), s("profile"));
    item.insert("status".into(), s("active"));
    item.insert(
        "tags".into(),
        AttributeValue::Ss((0..6).map(|i| format!("tag-{i}")).collect()),
    );
    item.insert("email".into(), s("ada.lovelace@example.com"));
    item.insert("amount".into(), num("1234.56"));
    for i in 0..13 {
        item.insert(format!("field{i:02}"), s(&format!("{:0>48}", i)));
    }
    for i in 0..8 {
        item.insert(format!("counter{i}"), num(&(i * 1_000_003).to_string()));
    }
    item.insert(
        "address".into(),
        AttributeValue::M(
            [
                ("street", s("12 St James's Square")),
                ("city", s("London")),
                ("zip", s("SW1Y 4JH")),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        ),
    );
    item.insert(
        "history".into(),
        AttributeValue::L((0..5).map(|i| num(&format!("{i}.5"))).collect()),
    );
    item
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let iterations: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(ITERATIONS_DEFAULT)
        .max(1);
    let runs: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(RUNS_DEFAULT)
        .max(1);

    let item = item();
    let names = HashMap::from([("#s".to_string(), "status".to_string())]);
    let values = HashMap::from([
        (":active".to_string(), s("active")),
        (":n".to_string(), num("3")),
        (":dom".to_string(), s("ada.")),
        (":lo".to_string(), num("100")),
        (":hi".to_string(), num("5000")),
    ]);
    let parse = || {
        let mut r = Resolver::new(Some(&names), Some(&values)).expect("maps");
        let c = r.condition(CONDITION).expect("condition parses");
        r.finish().expect("all names and values used");
        c
    };
    let cond = parse();
    assert!(
        cond.evaluate(&item).expect("evaluates"),
        "the benchmark condition must be true on the item (every clause evaluated)"
    );

    let mut eval_ns = Vec::with_capacity(runs);
    let mut parse_ns = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        for _ in 0..iterations {
            let r = black_box(&cond).evaluate(black_box(&item));
            black_box(r.is_ok());
        }
        eval_ns.push(t.elapsed().as_nanos() as f64 / iterations as f64);

        let t = Instant::now();
        for _ in 0..PARSES_PER_RUN {
            black_box(parse());
        }
        parse_ns.push(t.elapsed().as_nanos() as f64 / PARSES_PER_RUN as f64);
    }
    let (lo, hi) = eval_ns
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
    println!("condition: {CONDITION}");
    println!(
        "item: {} attributes, {} bytes (DynamoDB item size)",
        item.len(),
        item_size_bytes(&item)
    );
    println!(
        "evaluate: median {:.1} ns/eval over {runs} runs x {iterations} evaluations (min {lo:.1}, max {hi:.1}); target <= 2000 ns",
        median(eval_ns.clone())
    );
    println!(
        "parse (reference): median {:.1} ns/parse over {runs} runs x {PARSES_PER_RUN} parses",
        median(parse_ns)
    );
}
