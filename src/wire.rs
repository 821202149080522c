//! DynamoDB's JSON form of attribute values (`{"S": "x"}`, `{"N": "1"}`, …), read
//! into and written from the engine's [`AttributeValue`].
//!
//! Reading happens in two steps: serde reads the JSON into [`WireValue`], whose every
//! type field is optional (a JSON shape error there is a `SerializationException`),
//! then [`WireValue::into_value`] checks DynamoDB's rules (exactly one type, valid
//! numbers, base64) and builds the engine value (a `ValidationException`).

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use eddy_engine::{AttributeValue, Error, Item, Number};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};

use crate::error::ApiError;

pub mod stored;

/// An attribute value as the client sent it, before validation.
#[derive(Debug, Default, Deserialize)]
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

/// Serializes an engine value in DynamoDB's JSON form.
pub struct Wire<'a>(pub &'a AttributeValue);

/// Serializes an item in DynamoDB's JSON form.
pub struct WireOut<'a>(pub &'a Item);

impl Serialize for WireOut<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, &Wire(v))?;
        }
        m.end()
    }
}

/// Serializes a list of items.
pub struct WireItems<'a>(pub &'a [Item]);

impl Serialize for WireItems<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut s = ser.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            s.serialize_element(&WireOut(item))?;
        }
        s.end()
    }
}

struct Seq<'a, T, F: Fn(&T) -> String>(&'a [T], F);

impl<T, F: Fn(&T) -> String> Serialize for Seq<'_, T, F> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut s = ser.serialize_seq(Some(self.0.len()))?;
        for x in self.0 {
            s.serialize_element(&(self.1)(x))?;
        }
        s.end()
    }
}

impl Serialize for Wire<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(Some(1))?;
        match self.0 {
            AttributeValue::S(s) => m.serialize_entry("S", s)?,
            AttributeValue::N(n) => m.serialize_entry("N", &n.to_string())?,
            AttributeValue::B(b) => m.serialize_entry("B", &BASE64.encode(b))?,
            AttributeValue::Bool(b) => m.serialize_entry("BOOL", b)?,
            AttributeValue::Null => m.serialize_entry("NULL", &true)?,
            AttributeValue::M(items) => m.serialize_entry("M", &WireOut(items))?,
            AttributeValue::L(l) => m.serialize_entry("L", &WireList(l))?,
            AttributeValue::Ss(s) => m.serialize_entry("SS", s)?,
            AttributeValue::Ns(s) => m.serialize_entry("NS", &Seq(s, |n| n.to_string()))?,
            AttributeValue::Bs(s) => m.serialize_entry("BS", &Seq(s, |b| BASE64.encode(b)))?,
        }
        m.end()
    }
}

/// A list of attribute values.
struct WireList<'a>(&'a [AttributeValue]);

impl Serialize for WireList<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut s = ser.serialize_seq(Some(self.0.len()))?;
        for v in self.0 {
            s.serialize_element(&Wire(v))?;
        }
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Number {
        Number::parse(s).unwrap()
    }

    /// Every type, nesting, escapes and extreme numbers.
    fn sample() -> Item {
        let mut nested = BTreeMap::new();
        nested.insert(
            "deep".into(),
            AttributeValue::L(vec![
                AttributeValue::N(n("-0.000120")),
                AttributeValue::M(BTreeMap::from([(
                    "q\"uote\\".into(),
                    AttributeValue::S("tab\tnew\nline \u{1F600} \u{0001}".into()),
                )])),
                AttributeValue::Null,
            ]),
        );
        BTreeMap::from([
            ("pk".into(), AttributeValue::S("k".into())),
            (
                "n".into(),
                AttributeValue::N(n("9.9999999999999999999999999999999999999E+125")),
            ),
            ("small".into(), AttributeValue::N(n("1E-130"))),
            ("zero".into(), AttributeValue::N(n("0"))),
            ("int".into(), AttributeValue::N(n("1200"))),
            ("b".into(), AttributeValue::B(vec![0, 1, 2, 250, 255])),
            ("empty_b".into(), AttributeValue::B(vec![])),
            ("t".into(), AttributeValue::Bool(true)),
            ("f".into(), AttributeValue::Bool(false)),
            ("nul".into(), AttributeValue::Null),
            ("m".into(), AttributeValue::M(nested)),
            ("empty_m".into(), AttributeValue::M(BTreeMap::new())),
            ("l".into(), AttributeValue::L(vec![])),
            (
                "ss".into(),
                AttributeValue::Ss(vec!["b".into(), "a\"".into()]),
            ),
            ("ns".into(), AttributeValue::Ns(vec![n("-1"), n("3.25")])),
            (
                "bs".into(),
                AttributeValue::Bs(vec![vec![1], vec![2, 3, 4, 5]]),
            ),
        ])
    }

    #[test]
    fn stored_items_are_written_as_built_items_serialize() {
        let item = sample();
        let stored = eddy_engine::StoredItem::encode(&item);
        let from_item = serde_json::to_string(&WireOut(&item)).unwrap();
        let mut out = Vec::new();
        stored::write_item(&mut out, &stored).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), from_item);
        let mut out = Vec::new();
        stored::write_items(&mut out, &[stored.clone(), stored]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("[{from_item},{from_item}]")
        );
    }
}
