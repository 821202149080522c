//! Items read in place: [`StoredItem`] holds an item's stored encoding (see `codec.rs`)
//! and walks it, calling a [`Visitor`] for each name and value, without building an
//! [`Item`].
//!
//! Reads that only pass an item on (GetItem, and Query and Scan pages without a filter
//! or projection) hand stored items to the wire layer, which writes the response from
//! the walk: no maps, strings or digit vectors are allocated per attribute, and the
//! walk is one pass with the visitor's calls inlined. Every step checks bounds, tags,
//! UTF-8 and numbers, so corrupt storage is an [`Error::Storage`], never a panic;
//! unlike `decode_item` the walk does not check that names are in order, which costs a
//! comparison per attribute and cannot make a read unsafe. This module knows the
//! encoding, not any wire format.

use crate::error::{Error, Result};
use crate::number::size_bytes_of;
use crate::reader::{
    DECODE_DEPTH_MAX, FORMAT_VERSION, NumberRef, Reader, TAG_B, TAG_BS, TAG_FALSE, TAG_L, TAG_M,
    TAG_N, TAG_NS, TAG_NULL, TAG_S, TAG_SS, TAG_TRUE, corrupt,
};
use crate::value::Item;

/// An item as stored: cheap to clone (a reference count), read with
/// [`StoredItem::walk`] or built with [`StoredItem::decode`].
#[derive(Clone, PartialEq, Eq)]
pub struct StoredItem {
    bytes: fjall::Slice,
}

impl std::fmt::Debug for StoredItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.decode() {
            Ok(item) => item.fmt(f),
            Err(e) => write!(f, "StoredItem({e})"),
        }
    }
}

impl StoredItem {
    pub(crate) fn from_slice(bytes: fjall::Slice) -> StoredItem {
        StoredItem { bytes }
    }

    /// The same item in an allocation of its own. A value fjall reads from a table
    /// file is a view into the whole data block it came from (kilobytes, whose one
    /// reference count the block cache and every other item read from that block
    /// share); whatever keeps an item longer than a request (the item cache) keeps
    /// this copy, so that it holds the bytes it accounts for and nothing else.
    pub(crate) fn detached(&self) -> StoredItem {
        StoredItem {
            bytes: fjall::Slice::from(&self.bytes[..]),
        }
    }

    /// The stored form of `item`.
    pub fn encode(item: &Item) -> StoredItem {
        StoredItem {
            bytes: crate::codec::encode_item(item).into(),
        }
    }

    pub(crate) fn slice(&self) -> &fjall::Slice {
        &self.bytes
    }

    /// Builds the item.
    pub fn decode(&self) -> Result<Item> {
        crate::codec::decode_item(&self.bytes)
    }

    /// Length of the stored encoding in bytes.
    pub fn encoded_len(&self) -> usize {
        self.bytes.len()
    }

    /// Walks the item: `map_start` of its attributes (depth 0), then for each attribute
    /// in ascending name order `entry` and its value, then `map_end`.
    pub fn walk(&self, visitor: &mut impl Visitor) -> Result<()> {
        let mut r = Reader::new(&self.bytes);
        match r.byte()? {
            FORMAT_VERSION => {}
            v => return Err(Error::Storage(format!("unknown item format version {v}"))),
        }
        walk_map(&mut r, 0, visitor)?;
        if !r.at_end() {
            return Err(corrupt("trailing bytes"));
        }
        Ok(())
    }

    /// An upper bound of [`StoredItem::size_bytes`] without reading the item: twice its
    /// encoded length. A value's stored form is never less than half (plus one byte)
    /// of its size as DynamoDB counts it: a string, a binary or a number is stored
    /// with its tag and length, at least what it counts; a null or a boolean is one
    /// byte stored and counted; a set's elements count at most one byte more than
    /// stored; a list or map counts 3 bytes and 1 per element (plus the names) where
    /// it stores a tag, a length and a name's length, so by induction each value
    /// counts at most twice its stored bytes less one. GetItem charges reads from it
    /// when it alone decides the units (any size up to 4 KB is one read unit).
    pub fn size_bytes_at_most(&self) -> usize {
        2 * self.bytes.len()
    }

    /// The item's size as DynamoDB counts it (`item_size_bytes` of the decoded item).
    ///
    /// Query and Scan call this for every item they pass, so it only reads tags and
    /// lengths: it checks bounds (corrupt bytes are an error, not a panic) but not
    /// UTF-8 or name order, which the read that writes the item out checks.
    pub fn size_bytes(&self) -> Result<usize> {
        let mut r = Reader::new(&self.bytes);
        match r.byte()? {
            FORMAT_VERSION => {}
            v => return Err(Error::Storage(format!("unknown item format version {v}"))),
        }
        let mut total = 0;
        for _ in 0..r.len()? {
            total += r.bytes()?.len() + value_size(&mut r, 1)?;
        }
        Ok(total)
    }
}

/// The size of the value at `r` (`AttributeValue::size_bytes`); moves `r` past it.
fn value_size(r: &mut Reader<'_>, depth: usize) -> Result<usize> {
    if depth > DECODE_DEPTH_MAX {
        return Err(corrupt("nested too deeply"));
    }
    Ok(match r.byte()? {
        TAG_S | TAG_B => r.bytes()?.len(),
        TAG_N => number_size(r)?,
        TAG_FALSE | TAG_TRUE | TAG_NULL => 1,
        TAG_M => {
            let mut total = 3;
            for _ in 0..r.len()? {
                total += 1 + r.bytes()?.len() + value_size(r, depth + 1)?;
            }
            total
        }
        TAG_L => {
            let mut total = 3;
            for _ in 0..r.len()? {
                total += 1 + value_size(r, depth + 1)?;
            }
            total
        }
        TAG_SS | TAG_BS => {
            let mut total = 0;
            for _ in 0..r.len()? {
                total += r.bytes()?.len();
            }
            total
        }
        TAG_NS => {
            let mut total = 0;
            for _ in 0..r.len()? {
                total += number_size(r)?;
            }
            total
        }
        t => return Err(corrupt(&format!("unknown tag {t:#04x}"))),
    })
}

/// The size of the number at `r` from its head and exponent; moves `r` past it.
fn number_size(r: &mut Reader<'_>) -> Result<usize> {
    let head = r.byte()?;
    let n = usize::from(head & 0x7F);
    if n == 0 {
        return Ok(1);
    }
    let exponent = i32::from(r.byte()?) - 129;
    r.take(n.div_ceil(2))?;
    Ok(size_bytes_of(head & 0x80 != 0, n, exponent))
}

/// What [`StoredItem::walk`] reports, in document order. A map's entries and a list's
/// or set's elements are numbered from 0, so a writer knows where separators go.
pub trait Visitor {
    /// A map of `len` entries starts: the item itself at depth 0, an `M` value deeper.
    fn map_start(&mut self, depth: usize, len: usize);
    /// Entry `index` of the current map is called `name`; its value follows.
    fn entry(&mut self, index: usize, name: &str);
    fn map_end(&mut self, depth: usize);
    /// An `L` value of `len` elements starts.
    fn list_start(&mut self, len: usize);
    /// A set of `len` members starts; its members are reported as scalar values.
    fn set_start(&mut self, kind: SetKind, len: usize);
    /// Element `index` of the current list or set follows.
    fn element(&mut self, index: usize);
    /// The current list or set ends.
    fn list_end(&mut self);
    fn string(&mut self, s: &str);
    fn number(&mut self, n: NumberRef<'_>);
    fn binary(&mut self, b: &[u8]);
    fn bool(&mut self, b: bool);
    fn null(&mut self);
}

/// The three set types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetKind {
    Ss,
    Ns,
    Bs,
}

/// Walks the map at `r` (from its count on).
fn walk_map(r: &mut Reader<'_>, depth: usize, v: &mut impl Visitor) -> Result<()> {
    let len = r.len()?;
    v.map_start(depth, len);
    for index in 0..len {
        v.entry(index, r.str()?);
        walk_value(r, depth + 1, v)?;
    }
    v.map_end(depth);
    Ok(())
}

/// Walks the value at `r` (from its tag on).
fn walk_value(r: &mut Reader<'_>, depth: usize, v: &mut impl Visitor) -> Result<()> {
    if depth > DECODE_DEPTH_MAX {
        return Err(corrupt("nested too deeply"));
    }
    match r.byte()? {
        TAG_S => v.string(r.str()?),
        TAG_N => v.number(NumberRef::read(r)?),
        TAG_B => v.binary(r.bytes()?),
        TAG_FALSE => v.bool(false),
        TAG_TRUE => v.bool(true),
        TAG_NULL => v.null(),
        TAG_M => walk_map(r, depth, v)?,
        TAG_L => {
            let len = r.len()?;
            v.list_start(len);
            for index in 0..len {
                v.element(index);
                walk_value(r, depth + 1, v)?;
            }
            v.list_end();
        }
        tag @ (TAG_SS | TAG_NS | TAG_BS) => {
            let len = r.len()?;
            let kind = match tag {
                TAG_SS => SetKind::Ss,
                TAG_NS => SetKind::Ns,
                _ => SetKind::Bs,
            };
            v.set_start(kind, len);
            for index in 0..len {
                v.element(index);
                match kind {
                    SetKind::Ss => v.string(r.str()?),
                    SetKind::Ns => v.number(NumberRef::read(r)?),
                    SetKind::Bs => v.binary(r.bytes()?),
                }
            }
            v.list_end();
        }
        t => return Err(corrupt(&format!("unknown tag {t:#04x}"))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::number::Number;
    use proptest::prelude::*;

    use super::*;
    use crate::codec::tests::arb_item;
    use crate::value::{AttributeValue, item_size_bytes};

    /// Builds an item from a walk, to compare with `decode_item`.
    #[derive(Default)]
    struct Builder {
        /// Open containers, innermost last, each with the name its next value gets.
        stack: Vec<(Container, String)>,
        item: Option<Item>,
    }

    enum Container {
        Map(Item),
        List(Vec<AttributeValue>),
        /// An empty `Ss`, `Ns` or `Bs` that members are pushed onto.
        Set(AttributeValue),
    }

    impl Builder {
        fn value(&mut self, v: AttributeValue) {
            match self.stack.last_mut() {
                Some((Container::Map(m), name)) => {
                    m.insert(std::mem::take(name), v);
                }
                Some((Container::List(l), _)) => l.push(v),
                Some((Container::Set(set), _)) => match (set, v) {
                    (AttributeValue::Ss(s), AttributeValue::S(m)) => s.push(m),
                    (AttributeValue::Ns(s), AttributeValue::N(m)) => s.push(m),
                    (AttributeValue::Bs(s), AttributeValue::B(m)) => s.push(m),
                    (set, m) => panic!("{m:?} in {set:?}"),
                },
                None => panic!("a value outside the item"),
            }
        }
    }

    impl Visitor for Builder {
        fn map_start(&mut self, _depth: usize, _len: usize) {
            self.stack
                .push((Container::Map(Item::new()), String::new()));
        }
        fn entry(&mut self, _index: usize, name: &str) {
            self.stack.last_mut().unwrap().1 = name.to_owned();
        }
        fn map_end(&mut self, depth: usize) {
            let Some((Container::Map(m), _)) = self.stack.pop() else {
                panic!("map_end without a map")
            };
            if depth == 0 {
                self.item = Some(m);
            } else {
                self.value(AttributeValue::M(m));
            }
        }
        fn list_start(&mut self, _len: usize) {
            self.stack
                .push((Container::List(Vec::new()), String::new()));
        }
        fn set_start(&mut self, kind: SetKind, _len: usize) {
            let set = match kind {
                SetKind::Ss => AttributeValue::Ss(Vec::new()),
                SetKind::Ns => AttributeValue::Ns(Vec::new()),
                SetKind::Bs => AttributeValue::Bs(Vec::new()),
            };
            self.stack.push((Container::Set(set), String::new()));
        }
        fn element(&mut self, _index: usize) {}
        fn list_end(&mut self) {
            let v = match self.stack.pop() {
                Some((Container::List(l), _)) => AttributeValue::L(l),
                Some((Container::Set(set), _)) => set,
                _ => panic!("list_end without a list"),
            };
            self.value(v);
        }
        fn string(&mut self, s: &str) {
            self.value(AttributeValue::S(s.to_owned()));
        }
        fn number(&mut self, n: NumberRef<'_>) {
            // Through the text, so the formatting is checked too.
            self.value(AttributeValue::N(Number::parse(&n.to_string()).unwrap()));
        }
        fn binary(&mut self, b: &[u8]) {
            self.value(AttributeValue::B(b.to_vec()));
        }
        fn bool(&mut self, b: bool) {
            self.value(AttributeValue::Bool(b));
        }
        fn null(&mut self) {
            self.value(AttributeValue::Null);
        }
    }

    fn rebuild(stored: &StoredItem) -> Result<Item> {
        let mut builder = Builder::default();
        stored.walk(&mut builder)?;
        Ok(builder.item.expect("the walk reported the item"))
    }

    fn same(a: &Item, b: &Item) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    #[test]
    fn the_size_bound_holds_where_counting_outgrows_storing() {
        use crate::number::Number;
        let n = |s: &str| Number::parse(s).unwrap();
        let nulls = AttributeValue::L(vec![AttributeValue::Null; 100]);
        let empties = AttributeValue::L(vec![AttributeValue::M(Item::new()); 50]);
        let numbers = AttributeValue::Ns(vec![n("-1"), n("-0.1"), n("-10"), n("0")]);
        for value in [nulls, empties, numbers] {
            let item = Item::from([(String::new(), value)]);
            let stored = StoredItem::encode(&item);
            assert!(
                stored.size_bytes().unwrap() <= stored.size_bytes_at_most(),
                "{item:?}: {} > {}",
                stored.size_bytes().unwrap(),
                stored.size_bytes_at_most()
            );
        }
    }

    proptest! {
        #[test]
        fn view_reads_what_decode_reads(item in arb_item()) {
            let stored = StoredItem::encode(&item);
            let rebuilt = rebuild(&stored).unwrap();
            prop_assert!(same(&rebuilt, &item), "{rebuilt:?} != {item:?}");
            prop_assert_eq!(stored.size_bytes().unwrap(), item_size_bytes(&item));
            prop_assert!(stored.size_bytes().unwrap() <= stored.size_bytes_at_most());
        }

        #[test]
        fn view_of_mutated_bytes_never_panics(item in arb_item(), at in any::<usize>(), to in any::<u8>()) {
            let mut bytes = crate::codec::encode_item(&item);
            let at = at % bytes.len();
            bytes[at] = to;
            let stored = StoredItem::from_slice(bytes.into());
            let decoded = stored.decode();
            let viewed = rebuild(&stored);
            let sized = stored.size_bytes();
            // Whatever decoding accepts, the view reads the same.
            if let Ok(decoded) = decoded {
                let viewed = viewed.unwrap();
                prop_assert!(same(&viewed, &decoded), "{viewed:?} != {decoded:?}");
                prop_assert_eq!(sized.unwrap(), item_size_bytes(&decoded));
            }
        }

        #[test]
        fn truncated_bytes_are_errors(item in arb_item(), cut in any::<usize>()) {
            let bytes = crate::codec::encode_item(&item);
            let cut = cut % bytes.len();
            let stored = StoredItem::from_slice(bytes[..cut].to_vec().into());
            prop_assert!(rebuild(&stored).is_err());
        }
    }
}
