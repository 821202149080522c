//! Storage key layout and the order-preserving encoding of key attribute values.
//!
//! **On-disk format, version 1.** Everything here is persisted: changing any byte of
//! it needs a new format version and a migration.
//!
//! Layout of a key in the `items` keyspace (all integers big-endian):
//!
//! ```text
//! [table_id: u32][shard: u16][partition_hash: u64][enc(partition key)][enc(sort key)]?
//! ```
//!
//! `shard = (partition_hash × shards) >> 64`, so shard order equals hash order and a
//! contiguous hash range (a parallel-scan segment) is a contiguous key range.
//! `enc` is prefix-free and order-preserving: byte strings compare as DynamoDB compares
//! the values (S and B bytewise, N numerically). The type of a key value is not
//! stored; it comes from the table's key schema.
//!
//! `enc` by type:
//!
//! - **S** (UTF-8 bytes) and **B** (raw bytes): every `0x00` byte becomes `0x00 0xFF`,
//!   then the terminator `0x00 0x01`. A shorter value sorts first because its
//!   terminator is below anything that can follow `0x00` in a longer one, and below
//!   any non-zero byte. `begins_with` on a prefix `p` is the key range starting with
//!   the escaped `p` without its terminator ([`encode_key_prefix`]).
//! - **N**, with the number as `±0.d₁d₂…dₙ × 10^e` (see [`Number`]):
//!   - zero: `0x02`;
//!   - positive: `0x03`, then `e + 129` (one byte: `e` is `-129..=126`), then the
//!     digits in pairs `d₁d₂`, `d₃d₄`, … (a missing last digit is 0), each pair
//!     `p` (0..=99) as the byte `p + 1`, then the terminator `0x00`;
//!   - negative: `0x01`, then every byte of the positive form of `|x|` after its
//!     first one inverted (`255 - b`): exponent, pairs and terminator (`0xFF`).
//!
//!   Zero sits between the negatives and the positives; positive magnitudes order by
//!   exponent then digits (a shorter digit string is a smaller fraction and its
//!   terminator sorts first); negatives mirror that. At most 22 bytes.
//!
//! The partition hash is xxh3-64 (seed 0) of a canonical byte form of the value: a
//! type byte `b'S'`, `b'N'` or `b'B'`, then the UTF-8 bytes, the number's normalized
//! decimal text (as DynamoDB prints it: `-12.5`, `1000`, `0.001`) or the raw bytes.
//!
//! A global index's multi-attribute key (several partition and sort attributes) is the
//! same layout generalised: `enc` of every partition value, then of every sort value,
//! in KeySchema order, after a hash of all the partition values together
//! ([`composite_partition_hash`]). A key of one attribute of each role is byte for byte
//! the layout above, so nothing already stored changes.

use std::ops::Bound;

use crate::error::{Error, Result};
use crate::limits::{STORAGE_KEY_BYTES_MAX, STORAGE_KEY_BYTES_MIN};
use crate::number::Number;
use crate::value::{AttributeType, AttributeValue};
use xxhash_rust::xxh3::xxh3_64;

/// The scalar types a key attribute may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    S,
    N,
    B,
}

impl KeyType {
    /// The key type of a value, or `None` if its type cannot be a key.
    pub fn of(v: &AttributeValue) -> Option<KeyType> {
        match v {
            AttributeValue::S(_) => Some(KeyType::S),
            AttributeValue::N(_) => Some(KeyType::N),
            AttributeValue::B(_) => Some(KeyType::B),
            _ => None,
        }
    }

    /// Whether `v` is a value of this key type.
    pub fn is_type_of(self, v: &AttributeValue) -> bool {
        KeyType::of(v) == Some(self)
    }

    /// The attribute type this key type is.
    pub fn attribute_type(self) -> AttributeType {
        match self {
            KeyType::S => AttributeType::S,
            KeyType::N => AttributeType::N,
            KeyType::B => AttributeType::B,
        }
    }

    /// DynamoDB's descriptor, `"S"`, `"N"` or `"B"`.
    pub fn descriptor(self) -> &'static str {
        self.attribute_type().descriptor()
    }

    /// Parses `"S"`, `"N"` or `"B"`.
    pub fn from_descriptor(s: &str) -> Option<KeyType> {
        match s {
            "S" => Some(KeyType::S),
            "N" => Some(KeyType::N),
            "B" => Some(KeyType::B),
            _ => None,
        }
    }
}

/// Bytes of the fixed header of an item key: table id, shard, partition hash.
pub const KEY_HEADER_LEN: usize = 4 + 2 + 8;

/// Checks a key against the bounds the storage layer accepts
/// ([`STORAGE_KEY_BYTES_MIN`]..=[`STORAGE_KEY_BYTES_MAX`]). fjall and lsm-tree *assert*
/// these bounds, in writes and in the bounds of range reads alike, so a key outside
/// them panics the thread that hands it over: the writer (every table's writes stop)
/// or a request's worker. Every key this module builds passes through here, and so do
/// the keys other subsystems bring (`Engine::system_*`), so no input reaches such an
/// assertion. DynamoDB's own, much smaller key limits are checked before, with
/// DynamoDB's messages; this is the backstop that holds whatever a caller forgot.
pub fn check_storage_key(key: &[u8]) -> Result<()> {
    let n = key.len();
    if (STORAGE_KEY_BYTES_MIN..=STORAGE_KEY_BYTES_MAX).contains(&n) {
        return Ok(());
    }
    Err(Error::validation(format!(
        "One or more parameter values were invalid: a key of {n} bytes is outside the \
         {STORAGE_KEY_BYTES_MIN} to {STORAGE_KEY_BYTES_MAX} bytes the storage layer accepts"
    )))
}

/// The bounds of a range read of the storage layer.
pub type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// Checks both bounds of a range read (see [`check_storage_key`]): an unbounded end is
/// always fine, a key bound must fit the storage layer.
pub fn check_range(range: KeyRange) -> Result<KeyRange> {
    for bound in [&range.0, &range.1] {
        if let Bound::Included(k) | Bound::Excluded(k) = bound {
            check_storage_key(k)?;
        }
    }
    Ok(range)
}

const N_NEGATIVE: u8 = 0x01;
const N_ZERO: u8 = 0x02;
const N_POSITIVE: u8 = 0x03;
/// Marks a value of a non-key type that reached [`encode_key_value`] (a caller's
/// bug); it is never decoded.
const NOT_A_KEY: u8 = 0xFE;

/// Appends the order-preserving, prefix-free encoding of a key value (S, N or B).
///
/// Only S, N and B are key types; the engine checks values against the key schema
/// first. Anything else is encoded in a form that is still prefix-free but that
/// [`decode_key_value`] refuses, rather than panicking.
pub fn encode_key_value(v: &AttributeValue, out: &mut Vec<u8>) {
    match v {
        AttributeValue::S(s) => encode_bytes(s.as_bytes(), out),
        AttributeValue::B(b) => encode_bytes(b, out),
        AttributeValue::N(n) => encode_number(n, out),
        other => {
            out.push(NOT_A_KEY);
            crate::codec::encode_value(other, out);
        }
    }
}

/// Appends the escaped bytes of an S or B value without the terminator: every key
/// whose value (of the same type) starts with `v` starts with these bytes. For
/// `begins_with` ranges. Returns false (and appends nothing) for other types.
pub fn encode_key_prefix(v: &AttributeValue, out: &mut Vec<u8>) -> bool {
    match v {
        AttributeValue::S(s) => escape(s.as_bytes(), out),
        AttributeValue::B(b) => escape(b, out),
        _ => return false,
    }
    true
}

/// The smallest byte string greater than every string starting with `prefix`, or
/// `None` if there is none (the prefix is empty or all `0xFF`). The exclusive end of
/// a prefix range.
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|&b| b != 0xFF)?;
    let mut end = prefix[..=last].to_vec();
    end[last] += 1;
    Some(end)
}

/// The upper bound of the range of keys starting with `prefix`: just before its
/// successor, or unbounded when it has none.
pub fn prefix_end(prefix: &[u8]) -> Bound<Vec<u8>> {
    prefix_successor(prefix).map_or(Bound::Unbounded, Bound::Excluded)
}

/// The lower bound just past every key starting with `prefix`.
pub fn after_prefix(prefix: &[u8]) -> Bound<Vec<u8>> {
    match prefix_successor(prefix) {
        Some(end) => Bound::Included(end),
        // Only an all-0xFF prefix has no successor, and no key starts with one (ids
        // are allocated from 1 up).
        None => Bound::Excluded(prefix.to_vec()),
    }
}

fn escape(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() + 2);
    let mut rest = bytes;
    while let Some(i) = rest.iter().position(|&b| b == 0) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(&[0x00, 0xFF]);
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
}

fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    escape(bytes, out);
    out.extend_from_slice(&[0x00, 0x01]);
}

fn encode_number(n: &Number, out: &mut Vec<u8>) {
    if n.is_zero() {
        out.push(N_ZERO);
        return;
    }
    let mask = if n.is_negative() { 0xFF } else { 0x00 };
    out.push(if n.is_negative() {
        N_NEGATIVE
    } else {
        N_POSITIVE
    });
    // -129..=126 → 0..=255
    out.push((n.exponent() + 129) as u8 ^ mask);
    for pair in n.digits().chunks(2) {
        let p = pair[0] * 10 + pair.get(1).copied().unwrap_or(0);
        out.push((p + 1) ^ mask);
    }
    out.push(mask);
}

fn corrupt(what: &str) -> Error {
    Error::Storage(format!("corrupt key: {what}"))
}

/// Decodes one key value of type `ty` from the front of `bytes`; returns it and the
/// number of bytes consumed. Corrupt input is an error, not a panic.
pub fn decode_key_value(ty: KeyType, bytes: &[u8]) -> Result<(AttributeValue, usize)> {
    match ty {
        KeyType::S => {
            let (raw, used) = decode_bytes(bytes)?;
            let s = String::from_utf8(raw).map_err(|_| corrupt("S value is not UTF-8"))?;
            Ok((AttributeValue::S(s), used))
        }
        KeyType::B => {
            let (raw, used) = decode_bytes(bytes)?;
            Ok((AttributeValue::B(raw), used))
        }
        KeyType::N => {
            let (n, used) = decode_number(bytes)?;
            Ok((AttributeValue::N(n), used))
        }
    }
}

fn decode_bytes(bytes: &[u8]) -> Result<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let Some(z) = bytes[i..].iter().position(|&b| b == 0) else {
            return Err(corrupt("unterminated S or B value"));
        };
        out.extend_from_slice(&bytes[i..i + z]);
        i += z;
        match bytes.get(i + 1) {
            Some(0xFF) => out.push(0),
            Some(0x01) => return Ok((out, i + 2)),
            _ => return Err(corrupt("bad escape in S or B value")),
        }
        i += 2;
    }
}

fn decode_number(bytes: &[u8]) -> Result<(Number, usize)> {
    let mask = match bytes.first() {
        Some(&N_ZERO) => return Ok((Number::ZERO, 1)),
        Some(&N_POSITIVE) => 0x00,
        Some(&N_NEGATIVE) => 0xFF,
        Some(_) => return Err(corrupt("bad N sign byte")),
        None => return Err(corrupt("empty N value")),
    };
    let exp_byte = bytes.get(1).ok_or_else(|| corrupt("truncated N value"))? ^ mask;
    let exponent = i32::from(exp_byte) - 129;
    let mut digits = Vec::with_capacity(38);
    let mut i = 2;
    loop {
        let b = bytes
            .get(i)
            .ok_or_else(|| corrupt("unterminated N value"))?
            ^ mask;
        i += 1;
        if b == 0 {
            break;
        }
        if b > 100 || digits.len() >= 38 {
            return Err(corrupt("bad N digits"));
        }
        digits.push((b - 1) / 10);
        digits.push((b - 1) % 10);
    }
    if digits.last() == Some(&0) {
        digits.pop(); // an odd digit count
    }
    let n =
        Number::from_parts(mask != 0, digits, exponent).ok_or_else(|| corrupt("bad N value"))?;
    Ok((n, i))
}

/// The 64-bit partition hash of a partition key value (stable across versions: it is
/// part of the on-disk layout). See the module documentation for the byte form.
pub fn partition_hash(pk: &AttributeValue) -> u64 {
    let mut buf = Vec::new();
    write_canonical(pk, &mut buf);
    xxh3_64(&buf)
}

/// The partition hash of a key of one or more partition attributes (a global index's
/// multi-attribute key): one attribute hashes as [`partition_hash`], so a one-attribute
/// key is laid out as it always was; several hash the concatenation of their canonical
/// forms, each preceded by its length (u32, big-endian), so no two tuples share it.
pub fn composite_partition_hash(values: &[&AttributeValue]) -> u64 {
    if let [one] = values {
        return partition_hash(one);
    }
    let mut buf = Vec::new();
    let mut one = Vec::new();
    for v in values {
        one.clear();
        write_canonical(v, &mut one);
        buf.extend_from_slice(&(one.len() as u32).to_be_bytes());
        buf.extend_from_slice(&one);
    }
    xxh3_64(&buf)
}

/// Appends the canonical byte form a partition hash is taken of (see the module doc).
fn write_canonical(pk: &AttributeValue, buf: &mut Vec<u8>) {
    match pk {
        AttributeValue::S(s) => {
            buf.reserve(1 + s.len());
            buf.push(b'S');
            buf.extend_from_slice(s.as_bytes());
        }
        AttributeValue::N(n) => {
            use std::io::Write as _;
            buf.push(b'N');
            let _ = write!(buf, "{n}");
        }
        AttributeValue::B(b) => {
            buf.reserve(1 + b.len());
            buf.push(b'B');
            buf.extend_from_slice(b);
        }
        other => {
            // Not a key type (a caller's bug): hash something stable anyway.
            buf.push(NOT_A_KEY);
            crate::codec::encode_value(other, buf);
        }
    }
}

/// The shard a hash falls into, for a table of `shards` shards.
pub fn shard_of(hash: u64, shards: u16) -> u16 {
    ((u128::from(hash) * u128::from(shards)) >> 64) as u16
}

/// The first four bytes of every key of a table.
pub fn table_prefix(table_id: u32) -> [u8; 4] {
    table_id.to_be_bytes()
}

/// Everything up to and including `enc(pk)`: the common prefix of all items of one
/// partition (one item collection), in sort-key order after it. Checked against the
/// storage layer's key bounds, as a range read starts with it.
/// Reads build it through [`composite_partition_prefix`], of which it is the
/// one-attribute case; the tests check the two agree.
#[cfg(test)]
pub fn partition_prefix(table_id: u32, shards: u16, pk: &AttributeValue) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(KEY_HEADER_LEN + 24);
    write_partition_prefix(table_id, shards, pk, &mut out);
    check_storage_key(&out)?;
    Ok(out)
}

/// The partition prefix of a key of one or more partition attributes (a global
/// index's multi-attribute key): the header with [`composite_partition_hash`], then
/// `enc` of every value in KeySchema order. As `enc` is prefix-free, so is the
/// concatenation, and one attribute gives exactly [`partition_prefix`].
pub fn composite_partition_prefix(
    id: u32,
    shards: u16,
    values: &[&AttributeValue],
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(KEY_HEADER_LEN + 24 * values.len());
    write_composite_prefix(id, shards, values, &mut out);
    check_storage_key(&out)?;
    Ok(out)
}

/// The storage key of a multi-attribute key (see [`composite_partition_prefix`]), the
/// sort values `enc`oded after the partition ones in KeySchema order, so keys order as
/// the tuple of sort values; and the shard. One attribute of each role gives exactly
/// [`item_key`].
pub fn composite_item_key(
    id: u32,
    shards: u16,
    hash: &[&AttributeValue],
    range: &[&AttributeValue],
) -> Result<(Vec<u8>, u16)> {
    let mut out = Vec::with_capacity(KEY_HEADER_LEN + 24 * (hash.len() + range.len()));
    let shard = write_composite_prefix(id, shards, hash, &mut out);
    for v in range {
        encode_key_value(v, &mut out);
    }
    check_storage_key(&out)?;
    Ok((out, shard))
}

fn write_composite_prefix(
    id: u32,
    shards: u16,
    values: &[&AttributeValue],
    out: &mut Vec<u8>,
) -> u16 {
    let hash = composite_partition_hash(values);
    let shard = shard_of(hash, shards);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&shard.to_be_bytes());
    out.extend_from_slice(&hash.to_be_bytes());
    for v in values {
        encode_key_value(v, out);
    }
    shard
}

/// Appends the partition prefix; returns the shard.
fn write_partition_prefix(
    table_id: u32,
    shards: u16,
    pk: &AttributeValue,
    out: &mut Vec<u8>,
) -> u16 {
    let hash = partition_hash(pk);
    let shard = shard_of(hash, shards);
    out.extend_from_slice(&table_id.to_be_bytes());
    out.extend_from_slice(&shard.to_be_bytes());
    out.extend_from_slice(&hash.to_be_bytes());
    encode_key_value(pk, out);
    shard
}

/// The full storage key of an item and the shard it lives in, checked against the
/// storage layer's key bounds.
pub fn item_key(
    table_id: u32,
    shards: u16,
    pk: &AttributeValue,
    sk: Option<&AttributeValue>,
) -> Result<(Vec<u8>, u16)> {
    let mut out = Vec::with_capacity(KEY_HEADER_LEN + 48);
    let shard = write_partition_prefix(table_id, shards, pk, &mut out);
    if let Some(sk) = sk {
        encode_key_value(sk, &mut out);
    }
    check_storage_key(&out)?;
    Ok((out, shard))
}

/// The fixed header of an item key: table id, shard, partition hash, and the rest.
/// Nothing reads keys back in production (items carry their key attributes); the
/// tests use it to check the layout.
#[cfg(test)]
pub fn split_key_header(key: &[u8]) -> Result<(u32, u16, u64, &[u8])> {
    let Some((header, rest)) = key.split_first_chunk::<KEY_HEADER_LEN>() else {
        return Err(corrupt("shorter than its header"));
    };
    let [t0, t1, t2, t3, s0, s1, h @ ..] = *header;
    Ok((
        u32::from_be_bytes([t0, t1, t2, t3]),
        u16::from_be_bytes([s0, s1]),
        u64::from_be_bytes(h),
        rest,
    ))
}

/// Decodes the key attribute values of a full storage key; the whole key must be
/// consumed. Only the tests read keys back (see [`split_key_header`]).
#[cfg(test)]
pub fn decode_item_key(
    key: &[u8],
    pk_type: KeyType,
    sk_type: Option<KeyType>,
) -> Result<(AttributeValue, Option<AttributeValue>)> {
    let (_, _, _, rest) = split_key_header(key)?;
    let (pk, used) = decode_key_value(pk_type, rest)?;
    let rest = &rest[used..];
    let (sk, rest) = match sk_type {
        Some(t) => {
            let (sk, used) = decode_key_value(t, rest)?;
            (Some(sk), &rest[used..])
        }
        None => (None, rest),
    };
    if !rest.is_empty() {
        return Err(corrupt("trailing bytes"));
    }
    Ok((pk, sk))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Ordering;

    fn enc(v: &AttributeValue) -> Vec<u8> {
        let mut out = Vec::new();
        encode_key_value(v, &mut out);
        out
    }

    fn num(s: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(s).unwrap())
    }

    /// DynamoDB's order of two key values of the same type.
    fn dynamo_cmp(a: &AttributeValue, b: &AttributeValue) -> Ordering {
        match (a, b) {
            (AttributeValue::S(a), AttributeValue::S(b)) => a.as_bytes().cmp(b.as_bytes()),
            (AttributeValue::B(a), AttributeValue::B(b)) => a.cmp(b),
            (AttributeValue::N(a), AttributeValue::N(b)) => a.cmp(b),
            _ => unreachable!("same key type"),
        }
    }

    fn ty(v: &AttributeValue) -> KeyType {
        KeyType::of(v).unwrap()
    }

    fn check_pair(
        a: &AttributeValue,
        b: &AttributeValue,
    ) -> std::result::Result<(), TestCaseError> {
        let (ea, eb) = (enc(a), enc(b));
        prop_assert_eq!(ea.cmp(&eb), dynamo_cmp(a, b), "{:?} vs {:?}", a, b);
        if a != b {
            prop_assert!(!eb.starts_with(&ea), "{:?} is a prefix of {:?}", a, b);
            prop_assert!(!ea.starts_with(&eb), "{:?} is a prefix of {:?}", b, a);
        }
        Ok(())
    }

    fn check_round_trip(v: &AttributeValue) -> std::result::Result<(), TestCaseError> {
        let mut e = enc(v);
        let (back, used) = decode_key_value(ty(v), &e).unwrap();
        prop_assert_eq!(&back, v);
        prop_assert_eq!(used, e.len());
        // Decoding stops at the end of the value.
        e.extend_from_slice(&[0x00, 0x01, 0x07]);
        let (back, used2) = decode_key_value(ty(v), &e).unwrap();
        prop_assert_eq!(&back, v);
        prop_assert_eq!(used2, used);
        Ok(())
    }

    fn arb_number() -> impl Strategy<Value = Number> {
        prop_oneof![
            // Anywhere in the range.
            (
                any::<bool>(),
                proptest::collection::vec(0u8..10, 1..=38),
                -129i32..=126
            ),
            // Near each other, so that exponents and digit prefixes collide.
            (
                any::<bool>(),
                proptest::collection::vec(0u8..3, 1..=6),
                -2i32..=2
            ),
        ]
        .prop_map(|(neg, mut digits, exp)| {
            digits[0] = digits[0].max(1);
            while digits.last() == Some(&0) {
                digits.pop();
            }
            let s = format!(
                "{}0.{}e{}",
                if neg { "-" } else { "" },
                digits
                    .iter()
                    .map(|d| char::from(b'0' + d))
                    .collect::<String>(),
                exp
            );
            Number::parse(&s).unwrap()
        })
    }

    fn arb_n() -> impl Strategy<Value = AttributeValue> {
        prop_oneof![
            1 => Just(Number::ZERO),
            10 => arb_number(),
            3 => (-1000i64..1000).prop_map(Number::from_i64),
        ]
        .prop_map(AttributeValue::N)
    }

    fn arb_s() -> impl Strategy<Value = AttributeValue> {
        prop_oneof![
            any::<String>(),
            proptest::collection::vec(
                prop_oneof![Just('\0'), Just('a'), Just('\u{1}'), Just('é')],
                0..6
            )
            .prop_map(|c| c.into_iter().collect()),
        ]
        .prop_map(AttributeValue::S)
    }

    fn arb_b() -> impl Strategy<Value = AttributeValue> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..40),
            proptest::collection::vec(
                prop_oneof![Just(0u8), Just(1), Just(0xFF), Just(0xFE)],
                0..6
            ),
        ]
        .prop_map(AttributeValue::B)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn n_order_round_trip_prefix_free(a in arb_n(), b in arb_n()) {
            check_pair(&a, &b)?;
            check_round_trip(&a)?;
        }

        #[test]
        fn s_order_round_trip_prefix_free(a in arb_s(), b in arb_s()) {
            check_pair(&a, &b)?;
            check_round_trip(&a)?;
        }

        #[test]
        fn b_order_round_trip_prefix_free(a in arb_b(), b in arb_b()) {
            check_pair(&a, &b)?;
            check_round_trip(&a)?;
        }

        #[test]
        fn prefixes_bound_begins_with(a in arb_b(), p in arb_b()) {
            let (AttributeValue::B(av), AttributeValue::B(pv)) = (&a, &p) else { unreachable!() };
            let mut start = Vec::new();
            prop_assert!(encode_key_prefix(&p, &mut start));
            let ea = enc(&a);
            let in_range = ea >= start && prefix_successor(&start).is_none_or(|end| ea < end);
            prop_assert_eq!(in_range, av.starts_with(pv));
        }

        #[test]
        fn item_keys_round_trip(pk in arb_s(), sk in arb_n(), shards in 1u16..64) {
            let (key, shard) = item_key(7, shards, &pk, Some(&sk)).unwrap();
            prop_assert!(shard < shards);
            let (t, s, h, _) = split_key_header(&key).unwrap();
            prop_assert_eq!((t, s, h), (7, shard, partition_hash(&pk)));
            prop_assert!(key.starts_with(&partition_prefix(7, shards, &pk).unwrap()));
            prop_assert!(key.starts_with(&[table_prefix(7).as_slice(), &shard.to_be_bytes()].concat()));
            prop_assert!(key.starts_with(&table_prefix(7)));
            let (p2, s2) = decode_item_key(&key, KeyType::S, Some(KeyType::N)).unwrap();
            prop_assert_eq!(p2, pk.clone());
            prop_assert_eq!(s2, Some(sk));
            let (key, _) = item_key(7, shards, &pk, None).unwrap();
            prop_assert_eq!(decode_item_key(&key, KeyType::S, None).unwrap(), (pk, None));
        }

        #[test]
        fn one_attribute_composite_keys_are_the_one_and_one_layout(
            pk in arb_s(), sk in arb_n(), shards in 1u16..64,
        ) {
            // Indexes stored before multi-attribute keys must read the same bytes.
            prop_assert_eq!(
                composite_item_key(7, shards, &[&pk], &[&sk]).unwrap(),
                item_key(7, shards, &pk, Some(&sk)).unwrap()
            );
            prop_assert_eq!(
                composite_item_key(7, shards, &[&pk], &[]).unwrap(),
                item_key(7, shards, &pk, None).unwrap()
            );
            prop_assert_eq!(
                composite_partition_prefix(7, shards, &[&pk]).unwrap(),
                partition_prefix(7, shards, &pk).unwrap()
            );
        }

        #[test]
        fn composite_keys_order_as_the_tuple_of_sort_values(
            a in (arb_s(), arb_n(), arb_b()),
            b in (arb_s(), arb_n(), arb_b()),
        ) {
            let (h1, h2) = (AttributeValue::S("t".into()), AttributeValue::N(3.into()));
            let key = |t: &(AttributeValue, AttributeValue, AttributeValue)| {
                composite_item_key(9, 4, &[&h1, &h2], &[&t.0, &t.1, &t.2]).unwrap().0
            };
            let order = |x: &AttributeValue, y: &AttributeValue| {
                crate::expr::compare_values(x, y).unwrap()
            };
            let want = order(&a.0, &b.0)
                .then_with(|| order(&a.1, &b.1))
                .then_with(|| order(&a.2, &b.2));
            prop_assert_eq!(key(&a).cmp(&key(&b)), want);
            // Every key of the partition starts with its prefix, and equal leading sort
            // values are a prefix too (what a Query reads).
            let prefix = composite_partition_prefix(9, 4, &[&h1, &h2]).unwrap();
            prop_assert!(key(&a).starts_with(&prefix));
            let mut lead = prefix.clone();
            encode_key_value(&a.0, &mut lead);
            prop_assert!(key(&a).starts_with(&lead));
            prop_assert_eq!(key(&b).starts_with(&lead), a.0 == b.0);
        }

        #[test]
        fn composite_partition_hashes_tell_tuples_apart(a in arb_s(), b in arb_s()) {
            // Moving bytes between attributes makes another partition.
            let (AttributeValue::S(x), AttributeValue::S(y)) = (&a, &b) else { unreachable!() };
            prop_assume!(!y.is_empty());
            let joined = AttributeValue::S(format!("{x}{y}"));
            let empty = AttributeValue::S(String::new());
            prop_assert_ne!(
                composite_partition_hash(&[&a, &b]),
                composite_partition_hash(&[&joined, &empty])
            );
        }

        #[test]
        fn corrupt_keys_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            for t in [KeyType::S, KeyType::N, KeyType::B] {
                if let Ok((v, used)) = decode_key_value(t, &bytes) {
                    // Whatever decodes re-encodes to exactly the bytes it consumed.
                    prop_assert_eq!(enc(&v), bytes[..used].to_vec());
                }
                let _ = decode_item_key(&bytes, t, Some(KeyType::N));
            }
        }
    }

    #[test]
    fn number_encoding_examples() {
        assert_eq!(enc(&num("0")), [N_ZERO]);
        assert_eq!(enc(&num("1")), [N_POSITIVE, 130, 11, 0]);
        assert_eq!(enc(&num("12")), [N_POSITIVE, 131, 13, 0]);
        assert_eq!(enc(&num("-1")), [N_NEGATIVE, !130, !11, 0xFF]);
        assert_eq!(enc(&num("1e-130")), [N_POSITIVE, 0, 11, 0]);
        assert_eq!(
            enc(&num("9.9999999999999999999999999999999999999e125")).len(),
            22
        );
        let sorted = [
            "-1e125", "-10", "-9.99", "-1", "-0.1", "0", "0.1", "1", "1.5", "10", "1e125",
        ];
        for w in sorted.windows(2) {
            assert!(enc(&num(w[0])) < enc(&num(w[1])), "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn string_encoding_examples() {
        let s = |x: &str| enc(&AttributeValue::S(x.to_owned()));
        assert_eq!(s(""), [0, 1]);
        assert_eq!(s("a\0b"), [b'a', 0, 0xFF, b'b', 0, 1]);
        assert!(s("") < s("\0"));
        assert!(s("a") < s("a\0"));
        assert!(s("a\0") < s("a\u{1}"));
        assert!(s("Z") < s("a"));
        assert!(s("é") > s("z"));
    }

    #[test]
    fn corrupt_keys_are_errors() {
        let bad: &[(KeyType, &[u8])] = &[
            (KeyType::S, b""),
            (KeyType::S, b"abc"),
            (KeyType::S, &[b'a', 0]),
            (KeyType::S, &[b'a', 0, 2]),
            (KeyType::S, &[0xC3, 0, 1]), // not UTF-8
            (KeyType::B, &[0, 0xFF]),
            (KeyType::N, &[]),
            (KeyType::N, &[0x04]),
            (KeyType::N, &[N_POSITIVE]),
            (KeyType::N, &[N_POSITIVE, 130]),
            (KeyType::N, &[N_POSITIVE, 130, 0]),    // no digits
            (KeyType::N, &[N_POSITIVE, 130, 1, 0]), // leading zero
            (KeyType::N, &[N_POSITIVE, 130, 11, 1, 0]), // trailing zero pair
            (KeyType::N, &[N_POSITIVE, 130, 101, 0]), // pair > 99
            (KeyType::N, &[N_NEGATIVE, !130, !11, 0]), // wrong terminator
        ];
        for (t, b) in bad {
            match decode_key_value(*t, b) {
                Err(Error::Storage(_)) => {}
                other => panic!("{t:?} {b:?}: {other:?}"),
            }
        }
        let mut too_long = vec![N_POSITIVE, 130];
        too_long.extend([12u8; 20]);
        too_long.push(0);
        assert!(decode_key_value(KeyType::N, &too_long).is_err());
        assert!(decode_item_key(&[0; 13], KeyType::S, None).is_err());
        let (mut key, _) = item_key(1, 4, &AttributeValue::S("x".into()), None).unwrap();
        key.push(0);
        assert!(decode_item_key(&key, KeyType::S, None).is_err());
    }

    #[test]
    fn partition_hash_is_stable() {
        // Pinned: these are part of the on-disk format.
        let canonical = |bytes: &[u8]| xxh3_64(bytes);
        assert_eq!(
            partition_hash(&AttributeValue::S("abc".into())),
            canonical(b"Sabc")
        );
        assert_eq!(partition_hash(&num("1.50")), canonical(b"N1.5"));
        assert_eq!(partition_hash(&num("-1e3")), canonical(b"N-1000"));
        assert_eq!(
            partition_hash(&AttributeValue::B(vec![1, 2])),
            canonical(&[b'B', 1, 2])
        );
        assert_eq!(partition_hash(&num("1")), partition_hash(&num("1.0")));
        assert_ne!(
            partition_hash(&num("1")),
            partition_hash(&AttributeValue::S("1".into()))
        );
        // xxh3-64 itself (its published value for empty input), and one full hash.
        assert_eq!(xxh3_64(b""), 0x2d06_8005_38d3_94c2);
        assert_eq!(
            partition_hash(&AttributeValue::S(String::new())),
            0x89d1_30da_47fb_908c
        );
    }

    #[test]
    fn shards_follow_hash_order() {
        assert_eq!(shard_of(0, 4), 0);
        assert_eq!(shard_of(u64::MAX, 4), 3);
        assert_eq!(shard_of(u64::MAX / 2, 4), 1);
        assert_eq!(shard_of(u64::MAX / 2 + 1, 4), 2);
        assert_eq!(shard_of(12345, 1), 0);
    }

    #[test]
    fn keys_outside_the_storage_bounds_are_errors() {
        assert!(check_storage_key(&[]).is_err());
        assert!(check_storage_key(&[0]).is_ok());
        assert!(check_storage_key(&vec![1; STORAGE_KEY_BYTES_MAX]).is_ok());
        assert!(check_storage_key(&vec![1; STORAGE_KEY_BYTES_MAX + 1]).is_err());
        let small = AttributeValue::S("x".into());
        let huge = AttributeValue::S("x".repeat(70_000));
        // Zero bytes are escaped to two: a 40,000-byte B of zeros encodes to 80,002.
        let zeros = AttributeValue::B(vec![0; 40_000]);
        assert!(partition_prefix(1, 1, &huge).is_err());
        assert!(item_key(1, 1, &huge, None).is_err());
        assert!(item_key(1, 1, &small, Some(&huge)).is_err());
        assert!(item_key(1, 1, &zeros, None).is_err());
        assert!(item_key(1, 1, &small, Some(&small)).is_ok());
        let long = || vec![1; STORAGE_KEY_BYTES_MAX + 1];
        assert!(check_range((Bound::Included(long()), Bound::Unbounded)).is_err());
        assert!(check_range((Bound::Unbounded, Bound::Excluded(long()))).is_err());
        assert!(check_range((Bound::Unbounded, Bound::Excluded(Vec::new()))).is_err());
        assert!(check_range((Bound::Included(vec![1]), Bound::Unbounded)).is_ok());
    }

    /// The bounds are fjall's own: a key of exactly the maximum is written and read back,
    /// as a point and as a range bound. (One byte more panics inside fjall, which is
    /// what `check_storage_key` keeps from happening.)
    #[test]
    fn the_storage_bounds_are_those_fjall_accepts() {
        let dir = tempfile::tempdir().unwrap();
        let db = fjall::Database::builder(dir.path()).open().unwrap();
        let ks = db
            .keyspace("k", fjall::KeyspaceCreateOptions::default)
            .unwrap();
        let longest = vec![7u8; STORAGE_KEY_BYTES_MAX];
        check_storage_key(&longest).unwrap();
        ks.insert(&longest, b"v").unwrap();
        assert_eq!(ks.get(&longest).unwrap().as_deref(), Some(&b"v"[..]));
        let range = check_range((Bound::Included(longest.clone()), Bound::Unbounded)).unwrap();
        assert_eq!(ks.range(range).count(), 1);
        let shortest = vec![0u8; STORAGE_KEY_BYTES_MIN];
        ks.insert(&shortest, b"w").unwrap();
        assert_eq!(ks.prefix(&shortest).count(), 1);
    }

    #[test]
    fn successor() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xFF, 0xFF]), None);
        assert_eq!(prefix_successor(&[]), None);
    }

    #[test]
    fn key_types() {
        assert_eq!(KeyType::of(&AttributeValue::Null), None);
        for t in [KeyType::S, KeyType::N, KeyType::B] {
            assert_eq!(KeyType::from_descriptor(t.descriptor()), Some(t));
        }
        // A non-key value is encoded without panicking and never decodes.
        let e = enc(&AttributeValue::Bool(true));
        for t in [KeyType::S, KeyType::N, KeyType::B] {
            assert!(decode_key_value(t, &e).is_err());
        }
    }
}
