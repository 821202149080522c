//! The attribute-value model: DynamoDB's ten attribute types, items, and the size and
//! shape rules DynamoDB applies to them.
//!
//! This module knows nothing of the wire JSON: the HTTP edge converts `{"S": "x"}` into
//! [`AttributeValue::S`] and back. What lives here is what every engine path needs to
//! agree on: equality, DynamoDB's item-size arithmetic and the validation of a value
//! that came from a client (no empty sets, no duplicate set members, nesting depth).

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::limits::{ATTRIBUTE_NAME_BYTES_MAX, ATTRIBUTE_NAME_BYTES_MIN, NESTING_DEPTH_MAX};
use crate::number::Number;

/// An item: attribute name to value. A `BTreeMap` so that the stored encoding of an
/// item is canonical (two equal items encode to the same bytes).
pub type Item = BTreeMap<String, AttributeValue>;

/// One DynamoDB attribute value.
///
/// Sets keep their members in the order the client sent them (DynamoDB does not promise
/// an order) but never hold duplicates once validated; set equality ignores order.
#[derive(Debug, Clone)]
pub enum AttributeValue {
    S(String),
    N(Number),
    B(Vec<u8>),
    Bool(bool),
    Null,
    M(BTreeMap<String, AttributeValue>),
    L(Vec<AttributeValue>),
    Ss(Vec<String>),
    Ns(Vec<Number>),
    Bs(Vec<Vec<u8>>),
}

/// The type of an attribute value, named as DynamoDB names it (`"S"`, `"NS"`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttributeType {
    S,
    N,
    B,
    Bool,
    Null,
    M,
    L,
    Ss,
    Ns,
    Bs,
}

impl AttributeType {
    /// DynamoDB's descriptor for the type, as used in the wire JSON and in messages.
    pub fn descriptor(self) -> &'static str {
        match self {
            AttributeType::S => "S",
            AttributeType::N => "N",
            AttributeType::B => "B",
            AttributeType::Bool => "BOOL",
            AttributeType::Null => "NULL",
            AttributeType::M => "M",
            AttributeType::L => "L",
            AttributeType::Ss => "SS",
            AttributeType::Ns => "NS",
            AttributeType::Bs => "BS",
        }
    }

    /// Parses a descriptor (`"S"`, `"BOOL"`, …), as `attribute_type()` takes it.
    pub fn from_descriptor(s: &str) -> Option<AttributeType> {
        Some(match s {
            "S" => AttributeType::S,
            "N" => AttributeType::N,
            "B" => AttributeType::B,
            "BOOL" => AttributeType::Bool,
            "NULL" => AttributeType::Null,
            "M" => AttributeType::M,
            "L" => AttributeType::L,
            "SS" => AttributeType::Ss,
            "NS" => AttributeType::Ns,
            "BS" => AttributeType::Bs,
            _ => return None,
        })
    }
}

impl std::fmt::Display for AttributeType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.descriptor())
    }
}

impl AttributeValue {
    pub fn attribute_type(&self) -> AttributeType {
        match self {
            AttributeValue::S(_) => AttributeType::S,
            AttributeValue::N(_) => AttributeType::N,
            AttributeValue::B(_) => AttributeType::B,
            AttributeValue::Bool(_) => AttributeType::Bool,
            AttributeValue::Null => AttributeType::Null,
            AttributeValue::M(_) => AttributeType::M,
            AttributeValue::L(_) => AttributeType::L,
            AttributeValue::Ss(_) => AttributeType::Ss,
            AttributeValue::Ns(_) => AttributeType::Ns,
            AttributeValue::Bs(_) => AttributeType::Bs,
        }
    }

    /// The value's size in bytes by DynamoDB's item-size rules: strings and binaries
    /// by their length, numbers by `Number::size_bytes`, booleans and null 1 byte,
    /// lists and maps 3 bytes plus 1 byte per element plus their contents (map keys
    /// count as attribute names), sets the sum of their members.
    pub fn size_bytes(&self) -> usize {
        match self {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.size_bytes(),
            AttributeValue::B(b) => b.len(),
            AttributeValue::Bool(_) | AttributeValue::Null => 1,
            AttributeValue::M(m) => {
                3 + m
                    .iter()
                    .map(|(k, v)| 1 + k.len() + v.size_bytes())
                    .sum::<usize>()
            }
            AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + v.size_bytes()).sum::<usize>(),
            AttributeValue::Ss(s) => s.iter().map(|x| x.len()).sum(),
            AttributeValue::Ns(s) => s.iter().map(|x| x.size_bytes()).sum(),
            AttributeValue::Bs(s) => s.iter().map(|x| x.len()).sum(),
        }
    }

    /// Checks that the value nests at most [`NESTING_DEPTH_MAX`] levels, `depth` being
    /// its own level (1 for a top-level attribute). Its recursion is bounded by that
    /// limit plus one, whatever the value.
    pub fn check_depth(&self, depth: usize) -> Result<()> {
        if depth > NESTING_DEPTH_MAX {
            return Err(nesting_error());
        }
        match self {
            AttributeValue::M(m) => m.values().try_for_each(|v| v.check_depth(depth + 1)),
            AttributeValue::L(l) => l.iter().try_for_each(|v| v.check_depth(depth + 1)),
            _ => Ok(()),
        }
    }

    /// Checks what DynamoDB checks of a value from a client: sets are non-empty and
    /// hold no duplicates, documents nest at most [`NESTING_DEPTH_MAX`] levels, and the
    /// names of a map's members are attribute names ([`check_attribute_name`]). `depth`
    /// is the nesting level of this value (1 for a top-level attribute).
    pub fn validate(&self, depth: usize) -> Result<()> {
        if depth > NESTING_DEPTH_MAX {
            return Err(nesting_error());
        }
        match self {
            AttributeValue::Ss(s) => validate_set(s.iter(), s.len(), "string"),
            AttributeValue::Ns(s) => validate_set(s.iter(), s.len(), "number"),
            AttributeValue::Bs(s) => validate_set(s.iter(), s.len(), "binary"),
            AttributeValue::M(m) => m.iter().try_for_each(|(k, v)| {
                check_attribute_name(k)?;
                v.validate(depth + 1)
            }),
            AttributeValue::L(l) => l.iter().try_for_each(|v| v.validate(depth + 1)),
            _ => Ok(()),
        }
    }
}

fn nesting_error() -> Error {
    Error::validation(format!(
        "Nesting Levels have exceeded supported limits: Nesting levels must be <= {NESTING_DEPTH_MAX}"
    ))
}

/// Checks the names of the maps nested in `v` ([`check_attribute_name`]), alone: a
/// bad name gets its own message, not one wrapped as an invalid value.
pub(crate) fn check_nested_names(v: &AttributeValue) -> Result<()> {
    match v {
        AttributeValue::M(m) => m.iter().try_for_each(|(k, v)| {
            check_attribute_name(k)?;
            check_nested_names(v)
        }),
        AttributeValue::L(l) => l.iter().try_for_each(check_nested_names),
        _ => Ok(()),
    }
}

/// Checks an attribute name (of an item, a map member, an `ExpressionAttributeNames`
/// substitution or a legacy parameter): 1 to [`ATTRIBUTE_NAME_BYTES_MAX`] bytes, with
/// DynamoDB's messages. (The too-large message, with its 65536, was measured against
/// the service; the empty one is DynamoDB Local's wording in the same form.)
pub fn check_attribute_name(name: &str) -> Result<()> {
    if name.len() < ATTRIBUTE_NAME_BYTES_MIN {
        return Err(Error::validation(
            "1 validation error detected: Empty attribute name",
        ));
    }
    if name.len() > ATTRIBUTE_NAME_BYTES_MAX {
        return Err(Error::validation(format!(
            "1 validation error detected: Attribute name is too large, must be less than {} bytes",
            ATTRIBUTE_NAME_BYTES_MAX + 1
        )));
    }
    Ok(())
}

fn validate_set<'a, T: Ord + 'a>(
    members: impl Iterator<Item = &'a T>,
    len: usize,
    kind: &str,
) -> Result<()> {
    if len == 0 {
        // DynamoDB's own wording, double space included.
        return Err(Error::validation(format!(
            "One or more parameter values were invalid: An {kind} set  may not be empty"
        )));
    }
    let mut seen: Vec<&T> = members.collect();
    seen.sort();
    if seen.windows(2).any(|w| w[0] == w[1]) {
        return Err(Error::validation(
            "One or more parameter values were invalid: Input collection contains duplicates",
        ));
    }
    Ok(())
}

impl PartialEq for AttributeValue {
    fn eq(&self, other: &Self) -> bool {
        use AttributeValue::*;
        match (self, other) {
            (S(a), S(b)) => a == b,
            (N(a), N(b)) => a == b,
            (B(a), B(b)) => a == b,
            (Bool(a), Bool(b)) => a == b,
            (Null, Null) => true,
            (M(a), M(b)) => a == b,
            (L(a), L(b)) => a == b,
            (Ss(a), Ss(b)) => set_eq(a, b),
            (Ns(a), Ns(b)) => set_eq(a, b),
            (Bs(a), Bs(b)) => set_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for AttributeValue {}

/// Set equality: same members, in any order (sets hold no duplicates).
fn set_eq<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

/// The size of a whole item by DynamoDB's rules: each attribute's name length plus its
/// value's size.
pub fn item_size_bytes(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + v.size_bytes()).sum()
}
