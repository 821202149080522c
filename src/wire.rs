//! DynamoDB's JSON form of attribute values (`{"S": "x"}`, `{"N": "1"}`, …), written
//! from the engine's [`AttributeValue`]: built items here, stored items straight from
//! their bytes in `wire/stored.rs`; reading a client's values is `wire/input.rs`.
//!
//! Owns the writing side of the wire form. Must not know errors: writing our own values
//! cannot fail, and the error mapping (`error.rs`) writes items with it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use eddy_engine::{AttributeValue, Item};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

pub mod input;
pub mod stored;

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
    use std::collections::BTreeMap;

    use eddy_engine::Number;

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
