//! Applying an [`UpdateExpr`] to an item.
//!
//! Every right-hand side (SET values, ADD/DELETE results) is computed from the item as
//! it was before the update, then the changes are written: SET, ADD and DELETE in path
//! order (so writes past the end of a list append in index order), then REMOVE (list
//! elements removed from the highest index down, so the indexes mean what they meant in
//! the original item). Paths never overlap (the parser rejects that), so the order is
//! otherwise unobservable.

use std::collections::BTreeSet;

use super::ast::{Path, PathElem, SetValue, UpdateExpr, UpdateOperand};
use super::eval::lookup;
use crate::error::{Error, Result};
use crate::value::{AttributeValue, Item};

const MISSING_ATTRIBUTE: &str =
    "The provided expression refers to an attribute that does not exist in the item";
pub(crate) const INCORRECT_TYPE: &str =
    "An operand in the update expression has an incorrect data type";
const INVALID_PATH: &str =
    "The document path provided in the update expression is invalid for update";

fn err(msg: &str) -> Error {
    Error::validation(msg)
}

impl UpdateExpr {
    /// The top-level attribute names the update writes (SET, REMOVE, ADD and DELETE
    /// targets), for the caller's "Cannot update attribute X. This attribute is part of
    /// the key" check.
    pub fn touched_attributes(&self) -> BTreeSet<String> {
        self.set
            .iter()
            .map(|a| &a.path)
            .chain(&self.remove)
            .chain(self.add.iter().map(|a| &a.path))
            .chain(self.delete.iter().map(|a| &a.path))
            .map(|p| p.head().to_string())
            .collect()
    }

    /// Every path the update writes (SET, REMOVE, ADD and DELETE targets), in clause
    /// order: what `ReturnValues=UPDATED_OLD/UPDATED_NEW` projects.
    pub fn target_paths(&self) -> Vec<Path> {
        self.set
            .iter()
            .map(|a| &a.path)
            .chain(&self.remove)
            .chain(self.add.iter().map(|a| &a.path))
            .chain(self.delete.iter().map(|a| &a.path))
            .cloned()
            .collect()
    }

    /// DynamoDB's error if the update touches one of `keys` (the table's key attribute
    /// names), checked in the order the keys are given.
    pub fn check_key_update(&self, keys: &[&str]) -> Result<()> {
        let touched = self.touched_attributes();
        for k in keys {
            if touched.contains(*k) {
                return Err(Error::validation(format!(
                    "One or more parameter values were invalid: Cannot update attribute {k}. This attribute is part of the key"
                )));
            }
        }
        Ok(())
    }

    /// Applies the update to `item` (an empty item if it did not exist). On error the
    /// item is left unchanged.
    pub fn apply(&self, item: &mut Item) -> Result<()> {
        *item = self.applied(item.clone())?;
        Ok(())
    }

    /// Applies the update to an owned item and returns it (on error the item is
    /// dropped): [`UpdateExpr::apply`] without its copy, for a caller that already owns
    /// a copy it can discard.
    pub fn applied(&self, mut item: Item) -> Result<Item> {
        let original: &Item = &item;
        let mut puts: Vec<(&Path, AttributeValue)> = Vec::new();
        // A DELETE that empties a set removes the attribute, so it joins the REMOVEs.
        let mut removes: Vec<&Path> = self.remove.iter().collect();
        for a in &self.set {
            puts.push((&a.path, set_value(original, &a.value)?));
        }
        for a in &self.add {
            let new = match (lookup(original, &a.path), &a.value.value) {
                (None, v) => v.clone(),
                (Some(AttributeValue::N(x)), AttributeValue::N(y)) => {
                    AttributeValue::N(x.checked_add(y)?)
                }
                (Some(AttributeValue::Ss(x)), AttributeValue::Ss(y)) => {
                    AttributeValue::Ss(union(x, y))
                }
                (Some(AttributeValue::Ns(x)), AttributeValue::Ns(y)) => {
                    AttributeValue::Ns(union(x, y))
                }
                (Some(AttributeValue::Bs(x)), AttributeValue::Bs(y)) => {
                    AttributeValue::Bs(union(x, y))
                }
                _ => return Err(err(INCORRECT_TYPE)),
            };
            puts.push((&a.path, new));
        }
        for a in &self.delete {
            let new = match (lookup(original, &a.path), &a.value.value) {
                (None, _) => continue,
                (Some(AttributeValue::Ss(x)), AttributeValue::Ss(y)) => {
                    difference(x, y).map(AttributeValue::Ss)
                }
                (Some(AttributeValue::Ns(x)), AttributeValue::Ns(y)) => {
                    difference(x, y).map(AttributeValue::Ns)
                }
                (Some(AttributeValue::Bs(x)), AttributeValue::Bs(y)) => {
                    difference(x, y).map(AttributeValue::Bs)
                }
                _ => return Err(err(INCORRECT_TYPE)),
            };
            match new {
                Some(v) => puts.push((&a.path, v)),
                None => removes.push(&a.path),
            }
        }
        // Writes past the end of a list append, and several of them append in the order
        // of their indexes, not of the expression (DynamoDB: "the elements are sorted in
        // order by element number"); the sort is stable and otherwise changes nothing, as
        // the paths never overlap.
        puts.sort_by(|a, b| path_order(a.0, b.0));
        removes.sort_by(|a, b| path_order(b, a));

        for (path, v) in puts {
            put(&mut item, path, v)?;
        }
        for path in removes {
            remove(&mut item, path)?;
        }
        Ok(item)
    }
}

/// Orders paths element by element (names by string, indexes numerically).
fn path_order(a: &Path, b: &Path) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    for (x, y) in a.elems.iter().zip(&b.elems) {
        let o = match (x, y) {
            (PathElem::Attr(m), PathElem::Attr(n)) => m.name.cmp(&n.name),
            (PathElem::Index(i), PathElem::Index(j)) => i.cmp(j),
            (PathElem::Attr(_), PathElem::Index(_)) => Ordering::Less,
            (PathElem::Index(_), PathElem::Attr(_)) => Ordering::Greater,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.elems.len().cmp(&b.elems.len())
}

fn union<T: Clone + PartialEq>(x: &[T], y: &[T]) -> Vec<T> {
    let mut out = x.to_vec();
    for v in y {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    out
}

/// `x` without the members of `y`; `None` if nothing is left.
fn difference<T: Clone + PartialEq>(x: &[T], y: &[T]) -> Option<Vec<T>> {
    let out: Vec<T> = x.iter().filter(|v| !y.contains(v)).cloned().collect();
    (!out.is_empty()).then_some(out)
}

fn operand(item: &Item, o: &UpdateOperand) -> Result<AttributeValue> {
    match o {
        UpdateOperand::Path(p) => lookup(item, p)
            .cloned()
            .ok_or_else(|| err(MISSING_ATTRIBUTE)),
        UpdateOperand::Value(v) => Ok(v.value.clone()),
        UpdateOperand::IfNotExists(p, default) => match lookup(item, p) {
            Some(v) => Ok(v.clone()),
            None => operand(item, default),
        },
        UpdateOperand::ListAppend(a, b) => {
            let (a, b) = (operand(item, a)?, operand(item, b)?);
            match (a, b) {
                (AttributeValue::L(mut x), AttributeValue::L(y)) => {
                    x.extend(y);
                    Ok(AttributeValue::L(x))
                }
                _ => Err(err(INCORRECT_TYPE)),
            }
        }
    }
}

fn set_value(item: &Item, v: &SetValue) -> Result<AttributeValue> {
    match v {
        SetValue::Operand(o) => operand(item, o),
        SetValue::Plus(a, b) | SetValue::Minus(a, b) => {
            let (a, b) = (operand(item, a)?, operand(item, b)?);
            match (a, b) {
                (AttributeValue::N(x), AttributeValue::N(y)) => {
                    Ok(AttributeValue::N(if matches!(v, SetValue::Plus(..)) {
                        x.checked_add(&y)?
                    } else {
                        x.checked_sub(&y)?
                    }))
                }
                _ => Err(err(INCORRECT_TYPE)),
            }
        }
    }
}

/// The container holding the last element of `path`, which must exist.
fn parent_mut<'a>(item: &'a mut Item, path: &Path) -> Result<Option<&'a mut AttributeValue>> {
    let n = path.elems.len();
    if n == 1 {
        return Ok(None);
    }
    let mut elems = path.elems[..n - 1].iter();
    let mut cur = match elems.next() {
        Some(PathElem::Attr(name)) => item.get_mut(&name.name).ok_or_else(|| err(INVALID_PATH))?,
        _ => return Err(err(INVALID_PATH)),
    };
    for e in elems {
        cur = match (e, cur) {
            (PathElem::Attr(name), AttributeValue::M(m)) => {
                m.get_mut(&name.name).ok_or_else(|| err(INVALID_PATH))?
            }
            (PathElem::Index(i), AttributeValue::L(l)) => {
                l.get_mut(*i).ok_or_else(|| err(INVALID_PATH))?
            }
            _ => return Err(err(INVALID_PATH)),
        };
    }
    Ok(Some(cur))
}

/// Writes `v` at `path`. A list index past the end appends.
fn put(item: &mut Item, path: &Path, v: AttributeValue) -> Result<()> {
    let last = path.elems.last().ok_or_else(|| err(INVALID_PATH))?;
    match (parent_mut(item, path)?, last) {
        (None, PathElem::Attr(name)) => {
            item.insert(name.name.clone(), v);
        }
        (Some(AttributeValue::M(m)), PathElem::Attr(name)) => {
            m.insert(name.name.clone(), v);
        }
        (Some(AttributeValue::L(l)), PathElem::Index(i)) => {
            if *i < l.len() {
                l[*i] = v;
            } else {
                l.push(v);
            }
        }
        _ => return Err(err(INVALID_PATH)),
    }
    Ok(())
}

/// Removes what is at `path`; nothing happens if it does not exist. Its parent must:
/// DynamoDB refuses a REMOVE whose parent is missing or not a container of the right
/// kind ("The document path provided in the update expression is invalid for update"),
/// as it refuses such a SET.
fn remove(item: &mut Item, path: &Path) -> Result<()> {
    let last = path.elems.last().ok_or_else(|| err(INVALID_PATH))?;
    let parent = parent_mut(item, path)?;
    match (parent, last) {
        (None, PathElem::Attr(name)) => {
            item.remove(&name.name);
        }
        (Some(AttributeValue::M(m)), PathElem::Attr(name)) => {
            m.remove(&name.name);
        }
        (Some(AttributeValue::L(l)), PathElem::Index(i)) => {
            if *i < l.len() {
                l.remove(*i);
            }
        }
        _ => return Err(err(INVALID_PATH)),
    }
    Ok(())
}
