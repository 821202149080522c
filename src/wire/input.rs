//! Attribute values as a client sends them (`{"S": "x"}`, `{"N": "1"}`, …), read into
//! the engine's [`AttributeValue`].
//!
//! Reading happens in two steps: serde reads the JSON into [`WireValue`], whose every
//! type field is optional (a JSON shape error there is a `SerializationException`),
//! then [`WireValue::into_value`] checks DynamoDB's rules (exactly one type, valid
//! numbers, base64) and builds the engine value (a `ValidationException`).
//!
//! Owns the reading side of the wire form. Must not know how values are written back
//! (that is `wire.rs`, which the error mapping uses; reading needs the error mapping,
//! so the two directions live apart).

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use eddy_engine::{AttributeValue, Error, Item, Number};
use serde::Deserialize;

use super::BASE64;
use crate::error::ApiError;

/// An attribute value as the client sent it, before validation.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct WireValue {
    #[serde(rename = "S")]
    s: Option<String>,
    #[serde(rename = "N")]
    n: Option<String>,
    #[serde(rename = "B")]
    b: Option<String>,
    #[serde(rename = "BOOL")]
    bool: Option<bool>,
    #[serde(rename = "NULL")]
    null: Option<bool>,
    #[serde(rename = "M")]
    m: Option<HashMap<String, WireValue>>,
    #[serde(rename = "L")]
    l: Option<Vec<WireValue>>,
    #[serde(rename = "SS")]
    ss: Option<Vec<String>>,
    #[serde(rename = "NS")]
    ns: Option<Vec<String>>,
    #[serde(rename = "BS")]
    bs: Option<Vec<String>>,
}

/// An item or key as the client sent it.
pub type WireItem = HashMap<String, WireValue>;

fn decode_base64(s: &str) -> Result<Vec<u8>, ApiError> {
    BASE64.decode(s).map_err(|_| {
        ApiError::Serialization(format!(
            "Base64 encoded length is expected a multiple of 4 bytes but found: {}",
            s.len()
        ))
    })
}

impl WireValue {
    /// A key value as an access policy compares it (`dynamodb:LeadingKeys`): the
    /// string, the number as written, or the binary's base64; `None` for a type no key
    /// may have.
    pub fn key_text(&self) -> Option<&str> {
        self.s
            .as_deref()
            .or(self.n.as_deref())
            .or(self.b.as_deref())
    }

    /// Checks the value and builds the engine's form of it.
    pub fn into_value(self) -> Result<AttributeValue, ApiError> {
        let set = [
            self.s.is_some(),
            self.n.is_some(),
            self.b.is_some(),
            self.bool.is_some(),
            self.null.is_some(),
            self.m.is_some(),
            self.l.is_some(),
            self.ss.is_some(),
            self.ns.is_some(),
            self.bs.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if set == 0 {
            return Err(validation(
                "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
            ));
        }
        if set > 1 {
            return Err(validation(
                "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
            ));
        }
        Ok(if let Some(s) = self.s {
            AttributeValue::S(s)
        } else if let Some(n) = self.n {
            AttributeValue::N(Number::parse(&n)?)
        } else if let Some(b) = self.b {
            AttributeValue::B(decode_base64(&b)?)
        } else if let Some(b) = self.bool {
            AttributeValue::Bool(b)
        } else if let Some(null) = self.null {
            if !null {
                return Err(validation(
                    "One or more parameter values were invalid: Null attribute value types must have the value of true",
                ));
            }
            AttributeValue::Null
        } else if let Some(m) = self.m {
            AttributeValue::M(into_map(m)?)
        } else if let Some(l) = self.l {
            AttributeValue::L(
                l.into_iter()
                    .map(WireValue::into_value)
                    .collect::<Result<_, _>>()?,
            )
        } else if let Some(ss) = self.ss {
            AttributeValue::Ss(ss)
        } else if let Some(ns) = self.ns {
            AttributeValue::Ns(
                ns.iter()
                    .map(|n| Number::parse(n))
                    .collect::<Result<_, _>>()?,
            )
        } else if let Some(bs) = self.bs {
            AttributeValue::Bs(
                bs.iter()
                    .map(|b| decode_base64(b))
                    .collect::<Result<_, _>>()?,
            )
        } else {
            unreachable!("exactly one type field is set")
        })
    }
}

fn validation(msg: &str) -> ApiError {
    ApiError::Engine(Error::validation(msg))
}

fn into_map(m: HashMap<String, WireValue>) -> Result<BTreeMap<String, AttributeValue>, ApiError> {
    m.into_iter()
        .map(|(k, v)| Ok((k, v.into_value()?)))
        .collect()
}

/// Checks and converts an item or key.
pub fn into_item(item: WireItem) -> Result<Item, ApiError> {
    into_map(item)
}

/// Checks and converts `ExpressionAttributeValues`.
pub fn into_values(
    values: Option<HashMap<String, WireValue>>,
) -> Result<Option<HashMap<String, AttributeValue>>, ApiError> {
    values
        .map(|m| {
            m.into_iter()
                .map(|(k, v)| Ok((k, v.into_value()?)))
                .collect()
        })
        .transpose()
}
