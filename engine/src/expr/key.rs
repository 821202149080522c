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
