//! KeyConditionExpression: a parsed condition checked against the table's (or index's)
//! key names and reduced to a partition value and an optional sort-key condition.
//! The messages are DynamoDB's (as dynalite's `convertKeyCondition` reproduces them);
//! they carry no `Invalid KeyConditionExpression:` prefix.

use std::cmp::Ordering;

use super::ast::{Comparator, Condition, Operand};
use super::eval::compare_values;
use crate::value::AttributeValue;

/// A Query's key condition.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyCondition {
    /// The partition key value (`pk = :v`).
    pub partition: AttributeValue,
    /// The condition on the sort key, if any.
    pub sort: Option<SortCondition>,
}

/// The one condition a Query may put on the sort key.
#[derive(Debug, Clone, PartialEq)]
pub enum SortCondition {
    Eq(AttributeValue),
    Lt(AttributeValue),
    Le(AttributeValue),
    Gt(AttributeValue),
    Ge(AttributeValue),
    /// Inclusive bounds.
    Between(AttributeValue, AttributeValue),
    BeginsWith(AttributeValue),
}

impl SortCondition {
    /// Whether a sort-key value satisfies the condition (false across types).
    pub fn matches(&self, v: &AttributeValue) -> bool {
        let cmp = |b: &AttributeValue| compare_values(v, b);
        match self {
            SortCondition::Eq(b) => cmp(b) == Some(Ordering::Equal),
            SortCondition::Lt(b) => cmp(b) == Some(Ordering::Less),
            SortCondition::Le(b) => matches!(cmp(b), Some(Ordering::Less | Ordering::Equal)),
            SortCondition::Gt(b) => cmp(b) == Some(Ordering::Greater),
            SortCondition::Ge(b) => matches!(cmp(b), Some(Ordering::Greater | Ordering::Equal)),
            SortCondition::Between(lo, hi) => {
                matches!(cmp(lo), Some(Ordering::Greater | Ordering::Equal))
                    && matches!(cmp(hi), Some(Ordering::Less | Ordering::Equal))
            }
            SortCondition::BeginsWith(p) => match (v, p) {
                (AttributeValue::S(s), AttributeValue::S(p)) => s.starts_with(p.as_str()),
                (AttributeValue::B(s), AttributeValue::B(p)) => s.starts_with(p),
                _ => false,
            },
        }
    }

    /// The values the condition compares against, for type checks against the schema.
    pub fn values(&self) -> Vec<&AttributeValue> {
        match self {
            SortCondition::Eq(v)
            | SortCondition::Lt(v)
            | SortCondition::Le(v)
            | SortCondition::Gt(v)
            | SortCondition::Ge(v)
            | SortCondition::BeginsWith(v) => vec![v],
            SortCondition::Between(a, b) => vec![a, b],
        }
    }
}

/// A Query's key condition on a key of any shape, a global index's multi-attribute key
/// included: equality on every partition attribute, equality on a leading run of the
/// sort attributes, and at most one condition on the sort attribute after that run.
#[derive(Debug, Clone, PartialEq)]
pub struct CompositeKeyCondition {
    /// The value of every partition attribute, in KeySchema order.
    pub partition: Vec<AttributeValue>,
    /// The values of the first sort attributes, in KeySchema order.
    pub sort_prefix: Vec<AttributeValue>,
    /// The condition on the sort attribute after `sort_prefix`, if any.
    pub sort: Option<SortCondition>,
}

impl From<KeyCondition> for CompositeKeyCondition {
    fn from(kc: KeyCondition) -> CompositeKeyCondition {
        CompositeKeyCondition {
            partition: vec![kc.partition],
            sort_prefix: Vec::new(),
            sort: kc.sort,
        }
    }
}

/// Reduces the conditions of a Query on a multi-attribute key (`hash` and `range` in
/// KeySchema order) to a [`CompositeKeyCondition`], DynamoDB's rules: every partition
/// attribute with `=`; sort attributes left to right without a gap, every one but the
/// last given with `=`. The conditions are `(attribute, condition)` in the request's
/// order, at most one per attribute. The error is the complete message.
///
/// The messages for a missing or non-equal partition attribute and for a non-key
/// attribute are DynamoDB's for a one-and-one key. The one for a sort attribute left
/// out or not `=` before a later one is DynamoDB's, as tests run against it record it
/// (for a gap and for a range condition alike).
pub(crate) fn composite_key_condition(
    conditions: Vec<(String, SortCondition)>,
    hash: &[&str],
    range: &[&str],
) -> Result<CompositeKeyCondition, String> {
    let mut conditions = conditions;
    let mut take = |name: &str| {
        let at = conditions.iter().position(|(a, _)| a == name)?;
        Some(conditions.remove(at).1)
    };
    let mut partition = Vec::with_capacity(hash.len());
    for h in hash {
        match take(h) {
            None => return Err(format!("Query condition missed key schema element: {h}")),
            Some(SortCondition::Eq(v)) => partition.push(v),
            Some(_) => return Err("Query key condition not supported".into()),
        }
    }
    let mut given: Vec<Option<SortCondition>> = range.iter().map(|r| take(r)).collect();
    if !conditions.is_empty() {
        // A condition on a non-key attribute: DynamoDB names the first sort attribute
        // the query leaves out, as it does for a one-and-one key.
        return Err(match range.iter().zip(&given).find(|(_, g)| g.is_none()) {
            Some((r, _)) => format!("Query condition missed key schema element: {r}"),
            None => "Query key condition not supported".into(),
        });
    }
    let used = given.iter().rposition(Option::is_some).map_or(0, |i| i + 1);
    given.truncate(used);
    let present: Vec<bool> = given.iter().map(Option::is_some).collect();
    let sort = given.pop().flatten();
    let mut sort_prefix = Vec::with_capacity(given.len());
    for (i, g) in given.into_iter().enumerate() {
        match g {
            Some(SortCondition::Eq(v)) => sort_prefix.push(v),
            _ => {
                // The next attribute with a condition (there is one: the last used).
                let next = (i + 1..used).find(|&j| present[j]).map_or("", |j| range[j]);
                return Err(format!(
                    "RANGE key attributes {} must have equality conditions specified in the query because a condition is present on key attribute {next}",
                    range[i]
                ));
            }
        }
    }
    Ok(CompositeKeyCondition {
        partition,
        sort_prefix,
        sort,
    })
}

/// [`composite_key_condition`] of a parsed KeyConditionExpression.
pub(crate) fn composite_key_condition_expr(
    cond: &Condition,
    hash: &[&str],
    range: &[&str],
) -> Result<CompositeKeyCondition, String> {
    let mut leaves = Vec::new();
    collect(cond, &mut leaves)?;
    composite_key_condition(
        leaves.into_iter().map(|l| (l.attr, l.cond)).collect(),
        hash,
        range,
    )
}

/// One simple condition on one attribute.
struct Leaf {
    attr: String,
    cond: SortCondition,
}

fn invalid_operator(name: &str) -> String {
    format!("Invalid operator used in KeyConditionExpression: {name}")
}

const NESTED_OPERATIONS: &str = "KeyConditionExpressions cannot contain nested operations";

/// Finds the one key attribute among `operands`, DynamoDB's way: at most one path, not
/// nested, no `size()`. Returns its name and position.
fn key_attribute(operands: &[&Operand]) -> Result<(String, usize), String> {
    let mut found: Option<(String, usize)> = None;
    for (i, o) in operands.iter().enumerate() {
        match o {
            Operand::Path(p) => {
                if found.is_some() {
                    return Err(
                        "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"
                            .into(),
                    );
                }
                if p.elems.len() > 1 {
                    return Err(
                        "KeyConditionExpressions cannot have conditions on nested attributes"
                            .into(),
                    );
                }
                found = Some((p.head().to_string(), i));
            }
            Operand::Size(_) => return Err(NESTED_OPERATIONS.into()),
            Operand::Value(_) => {}
        }
    }
    found.ok_or_else(|| {
        "Invalid condition in KeyConditionExpression: No key attribute specified".into()
    })
}

fn value(o: &Operand) -> AttributeValue {
    match o {
        Operand::Value(v) => v.value.clone(),
        // key_attribute has ensured the other operands are values.
        _ => AttributeValue::Null,
    }
}

fn first_is_path(o: &Operand, op: &str) -> Result<(), String> {
    match o {
        Operand::Path(_) => Ok(()),
        _ => Err(format!(
            "Invalid condition in KeyConditionExpression: {op} operator must have the key attribute as its first operand"
        )),
    }
}

fn collect(c: &Condition, out: &mut Vec<Leaf>) -> Result<(), String> {
    let leaf = match c {
        Condition::And(a, b) => {
            collect(a, out)?;
            return collect(b, out);
        }
        Condition::Or(..) => return Err(invalid_operator("OR")),
        Condition::Not(..) => return Err(invalid_operator("NOT")),
        Condition::In(..) => return Err(invalid_operator("IN")),
        Condition::Compare(Comparator::Ne, ..) => return Err(invalid_operator("<>")),
        Condition::AttributeExists(_)
        | Condition::AttributeNotExists(_)
        | Condition::AttributeType(..)
        | Condition::Contains(..) => {
            return Err(invalid_operator(c.function_name().unwrap_or_default()));
        }
        Condition::Compare(op, a, b) => {
            let (attr, at) = key_attribute(&[a, b])?;
            // `:v < sk` is `sk > :v`.
            let (op, v) = if at == 0 {
                (*op, value(b))
            } else {
                let flipped = match op {
                    Comparator::Lt => Comparator::Gt,
                    Comparator::Le => Comparator::Ge,
                    Comparator::Gt => Comparator::Lt,
                    Comparator::Ge => Comparator::Le,
                    other => *other,
                };
                (flipped, value(a))
            };
            let cond = match op {
                Comparator::Eq => SortCondition::Eq(v),
                Comparator::Lt => SortCondition::Lt(v),
                Comparator::Le => SortCondition::Le(v),
                Comparator::Gt => SortCondition::Gt(v),
                Comparator::Ge | Comparator::Ne => SortCondition::Ge(v),
            };
            Leaf { attr, cond }
        }
        Condition::Between(a, lo, hi) => {
            first_is_path(a, "BETWEEN")?;
            let (attr, _) = key_attribute(&[a, lo, hi])?;
            Leaf {
                attr,
                cond: SortCondition::Between(value(lo), value(hi)),
            }
        }
        Condition::BeginsWith(a, b) => {
            first_is_path(a, "begins_with")?;
            let (attr, _) = key_attribute(&[a, b])?;
            Leaf {
                attr,
                cond: SortCondition::BeginsWith(value(b)),
            }
        }
    };
    if out.iter().any(|l| l.attr == leaf.attr) {
        return Err("KeyConditionExpressions must only contain one condition per key".into());
    }
    out.push(leaf);
    Ok(())
}

/// Reduces a parsed KeyConditionExpression to a [`KeyCondition`] for the key schema
/// `partition_key` / `sort_key`. The error is the complete message.
pub(crate) fn key_condition(
    cond: &Condition,
    partition_key: &str,
    sort_key: Option<&str>,
) -> Result<KeyCondition, String> {
    let mut leaves = Vec::new();
    collect(cond, &mut leaves)?;
    let Some(pk_at) = leaves.iter().position(|l| l.attr == partition_key) else {
        return Err(format!(
            "Query condition missed key schema element: {partition_key}"
        ));
    };
    if leaves
        .iter()
        .any(|l| Some(l.attr.as_str()) != sort_key && l.attr != partition_key)
    {
        if leaves.len() > 2 {
            return Err("Conditions can be of length 1 or 2 only".into());
        }
        return Err(match sort_key {
            Some(sk) => format!("Query condition missed key schema element: {sk}"),
            None => "Query key condition not supported".into(),
        });
    }
    let pk = leaves.swap_remove(pk_at);
    let SortCondition::Eq(partition) = pk.cond else {
        return Err("Query key condition not supported".into());
    };
    Ok(KeyCondition {
        partition,
        sort: leaves.pop().map(|l| l.cond),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    const HASH: &[&str] = &["h1", "h2"];
    const RANGE: &[&str] = &["r1", "r2", "r3"];

    fn reduce(conds: &[(&str, SortCondition)]) -> Result<CompositeKeyCondition, String> {
        let conds = conds.iter().map(|(a, c)| (a.to_string(), c.clone()));
        composite_key_condition(conds.collect(), HASH, RANGE)
    }

    fn eq(v: &str) -> SortCondition {
        SortCondition::Eq(s(v))
    }

    #[test]
    fn multi_attribute_keys_take_a_left_prefix_of_the_sort_attributes() {
        let kc = reduce(&[
            ("r2", SortCondition::BeginsWith(s("b"))),
            ("h2", eq("y")),
            ("r1", eq("a")),
            ("h1", eq("x")),
        ])
        .unwrap();
        assert_eq!(kc.partition, [s("x"), s("y")]);
        assert_eq!(kc.sort_prefix, [s("a")]);
        assert_eq!(kc.sort, Some(SortCondition::BeginsWith(s("b"))));

        let kc = reduce(&[("h1", eq("x")), ("h2", eq("y"))]).unwrap();
        assert_eq!((kc.sort_prefix.len(), kc.sort), (0, None));
        let all = [
            ("h1", eq("x")),
            ("h2", eq("y")),
            ("r1", eq("a")),
            ("r2", eq("b")),
            ("r3", SortCondition::Between(s("c"), s("d"))),
        ];
        let kc = reduce(&all).unwrap();
        assert_eq!(kc.sort_prefix, [s("a"), s("b")]);
        assert_eq!(kc.sort, Some(SortCondition::Between(s("c"), s("d"))));
    }

    #[test]
    fn multi_attribute_key_conditions_fail_with_dynamodb_messages() {
        let cases: &[(&[(&str, SortCondition)], &str)] = &[
            (
                &[("h1", eq("x"))],
                "Query condition missed key schema element: h2",
            ),
            (
                &[("h2", eq("y")), ("r1", eq("a"))],
                "Query condition missed key schema element: h1",
            ),
            (
                &[("h1", SortCondition::Gt(s("x"))), ("h2", eq("y"))],
                "Query key condition not supported",
            ),
            (
                &[("h1", eq("x")), ("h2", eq("y")), ("r2", eq("b"))],
                "RANGE key attributes r1 must have equality conditions specified in the query because a condition is present on key attribute r2",
            ),
            (
                &[
                    ("h1", eq("x")),
                    ("h2", eq("y")),
                    ("r1", eq("a")),
                    ("r3", SortCondition::Lt(s("c"))),
                ],
                "RANGE key attributes r2 must have equality conditions specified in the query because a condition is present on key attribute r3",
            ),
            (
                &[
                    ("h1", eq("x")),
                    ("h2", eq("y")),
                    ("r1", SortCondition::Gt(s("a"))),
                    ("r2", eq("b")),
                ],
                "RANGE key attributes r1 must have equality conditions specified in the query because a condition is present on key attribute r2",
            ),
            (
                &[("h1", eq("x")), ("h2", eq("y")), ("r3", eq("c"))],
                "RANGE key attributes r1 must have equality conditions specified in the query because a condition is present on key attribute r3",
            ),
            (
                &[("h1", eq("x")), ("h2", eq("y")), ("other", eq("z"))],
                "Query condition missed key schema element: r1",
            ),
        ];
        for (conds, want) in cases {
            assert_eq!(reduce(conds).unwrap_err(), *want, "{conds:?}");
        }
    }
}
