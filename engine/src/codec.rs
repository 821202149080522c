//! The stored encoding of an item (the value in the `items` keyspace).
//!
//! **On-disk format, version 1:**
//!
//! ```text
//! item   := 0x01 (format version) count:varint (name value){count}
//! name   := len:varint utf8-bytes           (names in strictly ascending byte order)
//! value  := tag payload
//! varint := unsigned LEB128, at most 10 bytes, no redundant trailing 0x80 groups
//! ```
//!
//! | tag    | type  | payload                                                      |
//! |--------|-------|--------------------------------------------------------------|
//! | `0x01` | S     | len:varint utf8-bytes                                         |
//! | `0x02` | N     | number (below)                                                |
//! | `0x03` | B     | len:varint bytes                                              |
//! | `0x04` | BOOL  | none: false                                                   |
//! | `0x05` | BOOL  | none: true                                                    |
//! | `0x06` | NULL  | none                                                          |
//! | `0x07` | M     | count:varint (name value){count}, names ascending             |
//! | `0x08` | L     | count:varint value{count}                                     |
//! | `0x09` | SS    | count:varint (len:varint utf8-bytes){count}                   |
//! | `0x0A` | NS    | count:varint number{count}                                    |
//! | `0x0B` | BS    | count:varint (len:varint bytes){count}                        |
//!
//! `number := head [exp digits]`: `head` has the sign in bit 7 and the count `n` of
//! significant digits (0..=38; 0 is zero, whose head is `0x00` and nothing follows)
//! in the low bits; then `exp + 129` as one byte (the exponent of `0.d₁…dₙ × 10^exp`,
//! -129..=126); then the digits as packed BCD, two per byte, high nibble first, a
//! last odd digit padded with a 0 nibble. It decodes to exactly the same [`Number`].
//!
//! Sets keep their members in stored order. Decoding refuses unknown versions and
//! tags, truncation, trailing bytes, non-canonical numbers, invalid UTF-8, duplicate
//! or unordered names, and nesting deeper than [`DECODE_DEPTH_MAX`], all as
//! [`Error::Storage`].

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::number::Number;
use crate::reader::{
    DECODE_DEPTH_MAX, FORMAT_VERSION, NumberRef, Reader, TAG_B, TAG_BS, TAG_FALSE, TAG_L, TAG_M,
    TAG_N, TAG_NS, TAG_NULL, TAG_S, TAG_SS, TAG_TRUE, corrupt,
};
use crate::value::{AttributeValue, Item};

/// Encodes an item into its versioned binary form.
pub fn encode_item(item: &Item) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len_hint(item));
    out.push(FORMAT_VERSION);
    encode_map(item, &mut out);
    out
}

/// Decodes an item; an unknown version or corrupt bytes is an error, not a panic.
pub fn decode_item(bytes: &[u8]) -> Result<Item> {
    let mut r = Reader::new(bytes);
    match r.byte()? {
        FORMAT_VERSION => {}
        v => return Err(Error::Storage(format!("unknown item format version {v}"))),
    }
    let item = r.map(0)?;
    if !r.at_end() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(item)
}

/// A cheap upper-ish estimate of the encoded size, to allocate once.
fn encoded_len_hint(item: &Item) -> usize {
    // Names and values plus a few bytes of framing each; numbers cost ≤ 21 bytes.
    16 + crate::value::item_size_bytes(item) + 4 * item.len()
}

/// Appends one value (tag and payload).
pub(crate) fn encode_value(v: &AttributeValue, out: &mut Vec<u8>) {
    match v {
        AttributeValue::S(s) => {
            out.push(TAG_S);
            put_bytes(s.as_bytes(), out);
        }
        AttributeValue::N(n) => {
            out.push(TAG_N);
            put_number(n, out);
        }
        AttributeValue::B(b) => {
            out.push(TAG_B);
            put_bytes(b, out);
        }
        AttributeValue::Bool(b) => out.push(if *b { TAG_TRUE } else { TAG_FALSE }),
        AttributeValue::Null => out.push(TAG_NULL),
        AttributeValue::M(m) => {
            out.push(TAG_M);
            encode_map(m, out);
        }
        AttributeValue::L(l) => {
            out.push(TAG_L);
            put_varint(l.len() as u64, out);
            for v in l {
                encode_value(v, out);
            }
        }
        AttributeValue::Ss(s) => {
            out.push(TAG_SS);
            put_varint(s.len() as u64, out);
            for x in s {
                put_bytes(x.as_bytes(), out);
            }
        }
        AttributeValue::Ns(s) => {
            out.push(TAG_NS);
            put_varint(s.len() as u64, out);
            for x in s {
                put_number(x, out);
            }
        }
        AttributeValue::Bs(s) => {
            out.push(TAG_BS);
            put_varint(s.len() as u64, out);
            for x in s {
                put_bytes(x, out);
            }
        }
    }
}

fn encode_map(m: &BTreeMap<String, AttributeValue>, out: &mut Vec<u8>) {
    put_varint(m.len() as u64, out);
    for (k, v) in m {
        put_bytes(k.as_bytes(), out);
        encode_value(v, out);
    }
}

fn put_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(b: &[u8], out: &mut Vec<u8>) {
    put_varint(b.len() as u64, out);
    out.extend_from_slice(b);
}

fn put_number(n: &Number, out: &mut Vec<u8>) {
    let digits = n.digits();
    if digits.is_empty() {
        out.push(0);
        return;
    }
    out.push((if n.is_negative() { 0x80 } else { 0 }) | digits.len() as u8);
    out.push((n.exponent() + 129) as u8);
    for pair in digits.chunks(2) {
        out.push(pair[0] << 4 | pair.get(1).copied().unwrap_or(0));
    }
}

/// Decoding: the owned item, built from the reader's borrowed pieces.
impl Reader<'_> {
    fn raw(&mut self) -> Result<Vec<u8>> {
        Ok(self.bytes()?.to_vec())
    }

    fn string(&mut self) -> Result<String> {
        self.str().map(str::to_owned)
    }

    fn number(&mut self) -> Result<Number> {
        Ok(NumberRef::read(self)?.to_number())
    }

    fn map(&mut self, depth: usize) -> Result<BTreeMap<String, AttributeValue>> {
        let count = self.len()?;
        let mut m = BTreeMap::new();
        for _ in 0..count {
            let k = self.string()?;
            if m.last_key_value().is_some_and(|(last, _)| *last >= k) {
                return Err(corrupt("names out of order"));
            }
            let v = self.value(depth + 1)?;
            m.insert(k, v);
        }
        Ok(m)
    }

    fn value(&mut self, depth: usize) -> Result<AttributeValue> {
        if depth > DECODE_DEPTH_MAX {
            return Err(corrupt("nested too deeply"));
        }
        Ok(match self.byte()? {
            TAG_S => AttributeValue::S(self.string()?),
            TAG_N => AttributeValue::N(self.number()?),
            TAG_B => AttributeValue::B(self.raw()?),
            TAG_FALSE => AttributeValue::Bool(false),
            TAG_TRUE => AttributeValue::Bool(true),
            TAG_NULL => AttributeValue::Null,
            TAG_M => AttributeValue::M(self.map(depth)?),
            TAG_L => {
                let count = self.len()?;
                let mut l = Vec::with_capacity(count);
                for _ in 0..count {
                    l.push(self.value(depth + 1)?);
                }
                AttributeValue::L(l)
            }
            TAG_SS => {
                let count = self.len()?;
                let mut s = Vec::with_capacity(count);
                for _ in 0..count {
                    s.push(self.string()?);
                }
                AttributeValue::Ss(s)
            }
            TAG_NS => {
                let count = self.len()?;
                let mut s = Vec::with_capacity(count);
                for _ in 0..count {
                    s.push(self.number()?);
                }
                AttributeValue::Ns(s)
            }
            TAG_BS => {
                let count = self.len()?;
                let mut s = Vec::with_capacity(count);
                for _ in 0..count {
                    s.push(self.raw()?);
                }
                AttributeValue::Bs(s)
            }
            t => return Err(corrupt(&format!("unknown tag {t:#04x}"))),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn num(s: &str) -> Number {
        Number::parse(s).unwrap()
    }

    /// Structural equality, sets in stored order (stricter than `PartialEq`).
    fn same(a: &AttributeValue, b: &AttributeValue) -> bool {
        use AttributeValue::*;
        match (a, b) {
            (Ss(x), Ss(y)) => x == y,
            (Ns(x), Ns(y)) => x == y,
            (Bs(x), Bs(y)) => x == y,
            (M(x), M(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .zip(y)
                        .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
            }
            (L(x), L(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
            _ => a == b,
        }
    }

    fn sample() -> Item {
        let mut inner = BTreeMap::new();
        inner.insert("x".to_owned(), AttributeValue::Null);
        inner.insert(
            "y".to_owned(),
            AttributeValue::L(vec![AttributeValue::Bool(false)]),
        );
        Item::from([
            ("s".to_owned(), AttributeValue::S("héllo\0".into())),
            ("n".to_owned(), AttributeValue::N(num("-12.345e3"))),
            ("z".to_owned(), AttributeValue::N(Number::ZERO)),
            ("b".to_owned(), AttributeValue::B(vec![0, 1, 255])),
            ("t".to_owned(), AttributeValue::Bool(true)),
            ("m".to_owned(), AttributeValue::M(inner)),
            (
                "ss".to_owned(),
                AttributeValue::Ss(vec!["b".into(), "a".into()]),
            ),
            (
                "ns".to_owned(),
                AttributeValue::Ns(vec![num("1e125"), num("-1e-130"), num("7")]),
            ),
            ("bs".to_owned(), AttributeValue::Bs(vec![vec![], vec![9]])),
            (String::new(), AttributeValue::S(String::new())),
        ])
    }

    #[test]
    fn round_trips_every_type() {
        let item = sample();
        let bytes = encode_item(&item);
        assert_eq!(bytes[0], FORMAT_VERSION);
        let back = decode_item(&bytes).unwrap();
        assert!(same(&AttributeValue::M(item), &AttributeValue::M(back)));
        assert_eq!(
            decode_item(&encode_item(&Item::new())).unwrap(),
            Item::new()
        );
        assert_eq!(encode_item(&Item::new()), [1, 0]);
    }

    #[test]
    fn number_bytes() {
        let enc = |s: &str| {
            let mut out = Vec::new();
            put_number(&num(s), &mut out);
            out
        };
        assert_eq!(enc("0"), [0]);
        assert_eq!(enc("1"), [1, 130, 0x10]);
        assert_eq!(enc("-12.5"), [0x83, 131, 0x12, 0x50]);
        assert_eq!(
            enc("9.9999999999999999999999999999999999999E+125").len(),
            21
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = encode_item(&sample());
        for n in 0..bytes.len() {
            match decode_item(&bytes[..n]) {
                Err(Error::Storage(_)) => {}
                other => panic!("truncated to {n}: {other:?}"),
            }
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_item(&longer).is_err());
    }

    #[test]
    fn corrupt_inputs_are_errors() {
        let cases: &[&[u8]] = &[
            &[],
            &[0],
            &[2, 0],
            &[0xFF, 0],
            &[1, 1, 1, b'a', 0x0C],                        // unknown tag
            &[1, 1, 1, b'a', 0x00],                        // tag 0
            &[1, 1, 1, b'a', TAG_S, 1, 0xFF],              // not UTF-8
            &[1, 1, 2, 0xC3, 0x28, TAG_NULL],              // name not UTF-8
            &[1, 2, 1, b'b', TAG_NULL, 1, b'a', TAG_NULL], // unordered names
            &[1, 2, 1, b'a', TAG_NULL, 1, b'a', TAG_NULL], // duplicate names
            &[1, 1, 1, b'a', TAG_N, 0x80],                 // negative zero
            &[1, 1, 1, b'a', TAG_N, 39, 130],              // too many digits
            &[1, 1, 1, b'a', TAG_N, 1, 130, 0x00],         // leading zero digit
            &[1, 1, 1, b'a', TAG_N, 2, 130, 0x10],         // trailing zero digit
            &[1, 1, 1, b'a', TAG_N, 1, 130, 0x11],         // non-zero padding
            &[1, 1, 1, b'a', TAG_N, 1, 130, 0xA0],         // nibble > 9
            &[1, 0x80, 0x00],                              // overlong varint
            &[
                1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F,
            ], // overflow
            &[
                1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
            ], // huge count
            &[1, 1, 1, b'a', TAG_L, 0xFF, 0xFF, 0xFF, 0x0F], // huge list
        ];
        for c in cases {
            match decode_item(c) {
                Err(Error::Storage(_)) => {}
                other => panic!("{c:?}: {other:?}"),
            }
        }
        // Unbounded nesting from corrupt bytes stops at the depth limit.
        let mut deep = vec![1, 1, 1, b'a'];
        for _ in 0..100_000 {
            deep.extend([TAG_L, 1]);
        }
        deep.push(TAG_NULL);
        assert!(decode_item(&deep).is_err());
    }

    #[test]
    fn deep_but_legal_nesting_round_trips() {
        let mut v = AttributeValue::Null;
        for i in 0..32 {
            v = if i % 2 == 0 {
                AttributeValue::L(vec![v])
            } else {
                AttributeValue::M(BTreeMap::from([("k".to_owned(), v)]))
            };
        }
        let item = Item::from([("a".to_owned(), v)]);
        assert_eq!(decode_item(&encode_item(&item)).unwrap(), item);
    }

    fn arb_number() -> impl Strategy<Value = Number> {
        prop_oneof![
            1 => Just(Number::ZERO),
            5 => (any::<bool>(), proptest::collection::vec(0u8..10, 1..=38), -129i32..=126)
                .prop_map(|(neg, mut d, e)| {
                    d[0] = d[0].max(1);
                    while d.last() == Some(&0) {
                        d.pop();
                    }
                    Number::from_parts(neg, d, e).unwrap()
                }),
        ]
    }

    fn arb_value() -> impl Strategy<Value = AttributeValue> {
        let leaf = prop_oneof![
            any::<String>().prop_map(AttributeValue::S),
            arb_number().prop_map(AttributeValue::N),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(AttributeValue::B),
            any::<bool>().prop_map(AttributeValue::Bool),
            Just(AttributeValue::Null),
            proptest::collection::vec(any::<String>(), 1..5).prop_map(AttributeValue::Ss),
            proptest::collection::vec(arb_number(), 1..5).prop_map(AttributeValue::Ns),
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..8), 1..5)
                .prop_map(AttributeValue::Bs),
        ];
        leaf.prop_recursive(6, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(AttributeValue::L),
                proptest::collection::btree_map(any::<String>(), inner, 0..8)
                    .prop_map(AttributeValue::M),
            ]
        })
    }

    pub(crate) fn arb_item() -> impl Strategy<Value = Item> {
        proptest::collection::btree_map("[a-z]{0,4}|\\PC{0,8}", arb_value(), 0..12)
    }

    proptest! {
        #[test]
        fn round_trip(item in arb_item()) {
            let bytes = encode_item(&item);
            let back = decode_item(&bytes).unwrap();
            prop_assert!(same(&AttributeValue::M(item.clone()), &AttributeValue::M(back.clone())));
            // Canonical: equal items encode to equal bytes.
            prop_assert_eq!(encode_item(&back), bytes);
        }

        #[test]
        fn random_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_item(&bytes);
            if !bytes.is_empty() {
                bytes[0] = FORMAT_VERSION;
            }
            if let Ok(item) = decode_item(&bytes) {
                // Whatever decodes is canonical.
                prop_assert_eq!(encode_item(&item), bytes);
            }
        }

        #[test]
        fn mutated_items_never_panic(item in arb_item(), at in any::<usize>(), to in any::<u8>()) {
            let mut bytes = encode_item(&item);
            let i = at % bytes.len();
            bytes[i] = to;
            let _ = decode_item(&bytes);
            let _ = decode_item(&bytes[..i]);
        }
    }
}
