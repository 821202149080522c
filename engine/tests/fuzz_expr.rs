//! Fuzz target: the expression parser and evaluator (`eddy_engine::expr`). Expressions
//! come from DynamoDB's grammar (conditions, updates, projections, key conditions),
//! texts at the limits (nesting, operator count, `IN` operands, 4 KB, long names) and
//! random text, a third of them mutated, with ExpressionAttributeNames/Values maps that
//! fit, miss one, have an unused or invalid key, or are empty. What parses is evaluated
//! against random items (conditions), applied to them (updates, which may overflow
//! numbers, grow lists, mix types), projected, or matched (key conditions).
//!
//! Asserted: no panic on any thread; every error is `Error::Validation` (DynamoDB's
//! ValidationException: the expression is the client's); a parsed condition prints
//! (`Display`) as text that parses back to the same condition.
//!
//! `EDDY_FUZZ_CASES=N` sets the number of cases, `EDDY_FUZZ_SEED=N` replays a run
//! (see `fuzz_support`).

mod fuzz_support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use eddy_engine::expr::Resolver;
use eddy_engine::{AttributeValue, Error, Item, Number};
use fuzz_support::{ExprKind, Expression, MapShape};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Cases that parsed, per kind (condition, update, projection, key condition).
static PARSED: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];

/// Cases of the default run (about a minute in a debug build on the CI machine).
const CASES_DEFAULT: u32 = 25_000;

fn number() -> impl Strategy<Value = AttributeValue> {
    fuzz_support::number_text()
        .prop_map(|t| AttributeValue::N(Number::parse(&t).unwrap_or_else(|_| Number::from_i64(1))))
}

fn scalar() -> impl Strategy<Value = AttributeValue> {
    prop_oneof![
        3 => "[a-c]{0,3}".prop_map(AttributeValue::S),
        1 => fuzz_support::string().prop_map(AttributeValue::S),
        3 => number(),
        1 => prop::collection::vec(any::<u8>(), 0..4).prop_map(AttributeValue::B),
        1 => any::<bool>().prop_map(AttributeValue::Bool),
        1 => Just(AttributeValue::Null),
        1 => prop::collection::vec("[a-c]{0,2}", 0..3).prop_map(AttributeValue::Ss),
        1 => prop::collection::vec(number().prop_map(|n| match n { AttributeValue::N(n) => n, _ => unreachable!() }), 0..3)
            .prop_map(AttributeValue::Ns),
        1 => prop::collection::vec(prop::collection::vec(any::<u8>(), 0..3), 0..3).prop_map(AttributeValue::Bs),
    ]
}

/// A value for a placeholder: mostly a string or a number (what comparisons and
/// functions take), else any value.
fn placeholder_value() -> impl Strategy<Value = AttributeValue> {
    prop_oneof![
        2 => "[a-c]{1,3}".prop_map(AttributeValue::S),
        2 => (-5i64..5).prop_map(|n| AttributeValue::N(Number::from_i64(n))),
        1 => prop::sample::select(&["S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"][..])
            .prop_map(|t| AttributeValue::S(t.to_owned())),
        2 => value(),
    ]
}

/// A value: scalars, lists and maps nested a few levels (sets may be empty or hold
/// duplicates: the expression layer must not trust values it was given).
fn value() -> impl Strategy<Value = AttributeValue> {
    scalar().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(AttributeValue::L),
            prop::collection::btree_map(
                prop::sample::select(&["x", "y", "a"][..]).prop_map(str::to_owned),
                inner,
                0..3
            )
            .prop_map(AttributeValue::M),
        ]
    })
}

fn item() -> impl Strategy<Value = Item> {
    prop::collection::btree_map(
        prop::sample::select(&["a", "b", "c", "pk", "sk", "l", "m", "x", "size", "name"][..])
            .prop_map(str::to_owned),
        value(),
        0..6,
    )
}

#[derive(Debug, Clone)]
struct Case {
    kind: ExprKind,
    expression: Expression,
    name_shape: MapShape,
    value_shape: MapShape,
    names: Vec<String>,
    values: Vec<AttributeValue>,
    items: Vec<Item>,
}

fn case() -> impl Strategy<Value = Case> {
    let kind = prop::sample::select(
        &[
            ExprKind::Condition,
            ExprKind::Update,
            ExprKind::Projection,
            ExprKind::KeyCondition,
        ][..],
    );
    kind.prop_flat_map(|kind| {
        (
            fuzz_support::expression(kind),
            fuzz_support::map_shape(),
            fuzz_support::map_shape(),
            prop::collection::vec(fuzz_support::substituted_name(), 8),
            prop::collection::vec(placeholder_value(), 8),
            prop::collection::vec(item(), 1..4),
        )
            .prop_map(
                move |(expression, name_shape, value_shape, names, values, items)| Case {
                    kind,
                    expression,
                    name_shape,
                    value_shape,
                    names,
                    values,
                    items,
                },
            )
    })
}

/// `Ok(Some(v))`, `Ok(None)` for a validation error, or a failure for any other error.
fn validation_only<T>(r: eddy_engine::Result<T>, what: &str) -> Result<Option<T>, TestCaseError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(Error::Validation(_)) => Ok(None),
        Err(e) => Err(TestCaseError::fail(format!(
            "{what}: an error other than Validation: {e:?}"
        ))),
    }
}

fn check(case: Case) -> Result<(), TestCaseError> {
    let before = fuzz_support::panics();
    let names: Option<HashMap<String, String>> =
        fuzz_support::map_keys(&case.expression.names, case.name_shape, '#').map(|keys| {
            keys.into_iter()
                .zip(case.names.iter().cycle().cloned())
                .collect()
        });
    let values: Option<HashMap<String, AttributeValue>> =
        fuzz_support::map_keys(&case.expression.values, case.value_shape, ':').map(|keys| {
            keys.into_iter()
                .zip(case.values.iter().cycle().cloned())
                .collect()
        });
    let text = &case.expression.text;
    let Some(mut resolver) = validation_only(
        Resolver::new(names.as_ref(), values.as_ref()),
        "Resolver::new",
    )?
    else {
        return fuzz_support::no_panic_since(before);
    };
    match case.kind {
        ExprKind::Condition => {
            if let Some(c) = validation_only(resolver.condition(text), "condition")? {
                validation_only(resolver.finish(), "finish")?;
                PARSED[0].fetch_add(1, Ordering::Relaxed);
                for item in &case.items {
                    validation_only(c.evaluate(item), "evaluate")?;
                }
                // The AST prints as an expression that parses back to it, unless the
                // printed form (which spaces every operator) has outgrown the
                // expression size limit the input itself kept to.
                let printed = c.to_string();
                if printed.len() > eddy_engine::limits::EXPRESSION_BYTES_MAX {
                    return fuzz_support::no_panic_since(before);
                }
                let mut again = Resolver::new(names.as_ref(), values.as_ref())
                    .map_err(|e| TestCaseError::fail(format!("resolver again: {e}")))?;
                match again.condition(&printed) {
                    Ok(c2) => prop_assert_eq!(&c2, &c, "{} printed as {}", text, printed),
                    Err(e) => {
                        return Err(TestCaseError::fail(format!(
                            "{text:?} parsed, printed as {printed:?}, which does not parse: {e}"
                        )));
                    }
                }
            }
        }
        ExprKind::Update => {
            if let Some(u) = validation_only(resolver.update(text), "update")? {
                validation_only(resolver.finish(), "finish")?;
                PARSED[1].fetch_add(1, Ordering::Relaxed);
                validation_only(u.check_key_update(&["pk", "sk"]), "check_key_update")?;
                let _ = u.touched_attributes();
                let _ = u.target_paths();
                for item in &case.items {
                    let mut updated = item.clone();
                    if validation_only(u.apply(&mut updated), "apply")?.is_none() {
                        prop_assert_eq!(
                            &updated,
                            item,
                            "a failed update leaves the item unchanged"
                        );
                    }
                    if let Some(new) = validation_only(u.applied(item.clone()), "applied")? {
                        prop_assert_eq!(&new, &updated, "apply and applied agree");
                    }
                    for v in updated.values() {
                        // An updated item is validated before it is stored; the check
                        // itself must hold up.
                        validation_only(v.validate(1), "validate")?;
                    }
                }
            }
        }
        ExprKind::Projection => {
            if let Some(p) = validation_only(resolver.projection(text), "projection")? {
                validation_only(resolver.finish(), "finish")?;
                PARSED[2].fetch_add(1, Ordering::Relaxed);
                for item in &case.items {
                    let _ = p.apply(item);
                }
            }
        }
        ExprKind::KeyCondition => {
            if let Some(k) = validation_only(
                resolver.key_condition(text, "pk", Some("sk")),
                "key_condition",
            )? {
                validation_only(resolver.finish(), "finish")?;
                PARSED[3].fetch_add(1, Ordering::Relaxed);
                if let Some(sort) = &k.sort {
                    let _ = sort.values();
                    for item in &case.items {
                        for v in item.values() {
                            let _ = sort.matches(v);
                        }
                    }
                }
            }
        }
    }
    fuzz_support::no_panic_since(before)
}

#[test]
fn fuzz_expressions() {
    fuzz_support::run("expressions", CASES_DEFAULT, case(), check);
    let parsed: Vec<u64> = PARSED.iter().map(|p| p.load(Ordering::Relaxed)).collect();
    fuzz_support::report(&format!(
        "fuzz expressions: parsed and evaluated {} conditions, {} updates, {} projections, {} key conditions",
        parsed[0], parsed[1], parsed[2], parsed[3]
    ));
    // A generator whose every case is refused would prove nothing about the evaluator.
    assert!(
        parsed.iter().all(|p| *p > 0),
        "every kind of expression reaches the evaluator: {parsed:?}"
    );
}
