//! Evaluating conditions against an item: path lookup, DynamoDB's comparison rules
//! (values of different types are never equal nor ordered; only S, N and B order) and
//! the condition functions.

use std::cmp::Ordering;

use super::ast::{Comparator, Condition, Operand, Path, PathElem};
use crate::error::Result;
use crate::number::Number;
use crate::value::{AttributeType, AttributeValue, Item};

/// The value at `path` in `item`, if every step exists and has the right type.
pub fn lookup<'a>(item: &'a Item, path: &Path) -> Option<&'a AttributeValue> {
    let mut elems = path.elems.iter();
    let mut cur = match elems.next()? {
        PathElem::Attr(n) => item.get(&n.name)?,
        PathElem::Index(_) => return None,
    };
    for e in elems {
        cur = match (e, cur) {
            (PathElem::Attr(n), AttributeValue::M(m)) => m.get(&n.name)?,
            (PathElem::Index(i), AttributeValue::L(l)) => l.get(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Orders two values when DynamoDB can: both S (byte order), both N (numerically) or
/// both B (byte order). Anything else is unordered.
pub fn compare_values(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    match (a, b) {
        (AttributeValue::S(x), AttributeValue::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (AttributeValue::N(x), AttributeValue::N(y)) => Some(x.cmp(y)),
        (AttributeValue::B(x), AttributeValue::B(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// `size()` of a value: string length in characters, binary length in bytes, number of
/// members/elements of sets, lists and maps; none for N, BOOL and NULL.
pub fn size_of(v: &AttributeValue) -> Option<usize> {
    Some(match v {
        AttributeValue::S(s) => s.chars().count(),
        AttributeValue::B(b) => b.len(),
        AttributeValue::Ss(s) => s.len(),
        AttributeValue::Ns(s) => s.len(),
        AttributeValue::Bs(s) => s.len(),
        AttributeValue::L(l) => l.len(),
        AttributeValue::M(m) => m.len(),
        AttributeValue::N(_) | AttributeValue::Bool(_) | AttributeValue::Null => return None,
    })
}

/// An operand's value, borrowed from the item or the expression, or computed.
enum Val<'a> {
    Ref(&'a AttributeValue),
    Owned(AttributeValue),
}

impl Val<'_> {
    fn get(&self) -> &AttributeValue {
        match self {
            Val::Ref(v) => v,
            Val::Owned(v) => v,
        }
    }
}

fn operand<'a>(item: &'a Item, o: &'a Operand) -> Option<Val<'a>> {
    match o {
        Operand::Path(p) => lookup(item, p).map(Val::Ref),
        Operand::Value(v) => Some(Val::Ref(&v.value)),
        Operand::Size(inner) => {
            let v = operand(item, inner)?;
            let n = size_of(v.get())?;
            Some(Val::Owned(AttributeValue::N(Number::from_i64(n as i64))))
        }
    }
}

fn compare(op: Comparator, a: Option<&AttributeValue>, b: Option<&AttributeValue>) -> bool {
    match op {
        Comparator::Eq => matches!((a, b), (Some(x), Some(y)) if x == y),
        Comparator::Ne => !matches!((a, b), (Some(x), Some(y)) if x == y),
        _ => {
            let (Some(x), Some(y)) = (a, b) else {
                return false;
            };
            match compare_values(x, y) {
                None => false,
                Some(ord) => match op {
                    Comparator::Lt => ord == Ordering::Less,
                    Comparator::Le => ord != Ordering::Greater,
                    Comparator::Gt => ord == Ordering::Greater,
                    _ => ord != Ordering::Less,
                },
            }
        }
    }
}

fn begins_with(a: &AttributeValue, b: &AttributeValue) -> bool {
    match (a, b) {
        (AttributeValue::S(x), AttributeValue::S(y)) => x.starts_with(y.as_str()),
        (AttributeValue::B(x), AttributeValue::B(y)) => x.starts_with(y),
        _ => false,
    }
}

fn contains(a: &AttributeValue, b: &AttributeValue) -> bool {
    match (a, b) {
        (AttributeValue::S(x), AttributeValue::S(y)) => x.contains(y.as_str()),
        (AttributeValue::B(x), AttributeValue::B(y)) => {
            y.is_empty() || x.windows(y.len()).any(|w| w == y.as_slice())
        }
        (AttributeValue::Ss(s), AttributeValue::S(y)) => s.contains(y),
        (AttributeValue::Ns(s), AttributeValue::N(y)) => s.contains(y),
        (AttributeValue::Bs(s), AttributeValue::B(y)) => s.contains(y),
        (AttributeValue::L(l), y) => l.contains(y),
        _ => false,
    }
}

impl Condition {
    /// Evaluates the condition against `item` (pass an empty item when there is none).
    /// A missing attribute or a type mismatch makes a comparison false, not an error.
    pub fn evaluate(&self, item: &Item) -> Result<bool> {
        Ok(self.eval(item))
    }

    fn eval(&self, item: &Item) -> bool {
        match self {
            Condition::Compare(op, a, b) => {
                let (a, b) = (operand(item, a), operand(item, b));
                compare(*op, a.as_ref().map(Val::get), b.as_ref().map(Val::get))
            }
            Condition::Between(a, lo, hi) => {
                let (Some(a), Some(lo), Some(hi)) =
                    (operand(item, a), operand(item, lo), operand(item, hi))
                else {
                    return false;
                };
                matches!(
                    (compare_values(a.get(), lo.get()), compare_values(a.get(), hi.get())),
                    (Some(l), Some(h)) if l != Ordering::Less && h != Ordering::Greater
                )
            }
            Condition::In(a, list) => {
                let Some(a) = operand(item, a) else {
                    return false;
                };
                list.iter()
                    .any(|o| operand(item, o).is_some_and(|v| v.get() == a.get()))
            }
            Condition::AttributeExists(p) => lookup(item, p).is_some(),
            Condition::AttributeNotExists(p) => lookup(item, p).is_none(),
            Condition::AttributeType(p, t) => {
                let (Some(v), Some(t)) = (lookup(item, p), operand(item, t)) else {
                    return false;
                };
                match t.get() {
                    AttributeValue::S(s) => {
                        AttributeType::from_descriptor(s) == Some(v.attribute_type())
                    }
                    _ => false,
                }
            }
            Condition::BeginsWith(a, b) => match (operand(item, a), operand(item, b)) {
                (Some(a), Some(b)) => begins_with(a.get(), b.get()),
                _ => false,
            },
            Condition::Contains(a, b) => match (operand(item, a), operand(item, b)) {
                (Some(a), Some(b)) => contains(a.get(), b.get()),
                _ => false,
            },
            Condition::Not(c) => !c.eval(item),
            Condition::And(a, b) => a.eval(item) && b.eval(item),
            Condition::Or(a, b) => a.eval(item) || b.eval(item),
        }
    }
}
