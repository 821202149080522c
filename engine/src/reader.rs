//! The stored item format's vocabulary, shared by the decoder (`codec.rs`) and the
//! in-place walker (`stored.rs`): the format version, the value tags, a bounds-checked
//! cursor over stored bytes and the borrowed number it reads.
//!
//! It owns the reading of the format's atoms (varints, lengths, strings, numbers); it
//! must not know items or attribute values, which the two readers above it build or
//! visit. The format itself is documented in `codec.rs`.

use crate::error::{Error, Result};
use crate::limits::NUMBER_DIGITS_MAX;
use crate::number::{Number, PLAIN_DECIMAL_BYTES_MAX, plain_decimal, size_bytes_of};

/// The format version this code writes (and the only one it reads).
pub const FORMAT_VERSION: u8 = 1;

/// Deepest nesting `decode_item` accepts. DynamoDB allows 32 levels; the margin only
/// keeps corrupt bytes from recursing without bound.
pub const DECODE_DEPTH_MAX: usize = 64;

pub(crate) const TAG_S: u8 = 0x01;
pub(crate) const TAG_N: u8 = 0x02;
pub(crate) const TAG_B: u8 = 0x03;
pub(crate) const TAG_FALSE: u8 = 0x04;
pub(crate) const TAG_TRUE: u8 = 0x05;
pub(crate) const TAG_NULL: u8 = 0x06;
pub(crate) const TAG_M: u8 = 0x07;
pub(crate) const TAG_L: u8 = 0x08;
pub(crate) const TAG_SS: u8 = 0x09;
pub(crate) const TAG_NS: u8 = 0x0A;
pub(crate) const TAG_BS: u8 = 0x0B;

#[cold]
pub(crate) fn corrupt(what: &str) -> Error {
    Error::Storage(format!("corrupt item: {what}"))
}

/// A cursor over stored bytes; every read checks bounds.
#[derive(Clone, Copy)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0 }
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.bytes.len()
    }

    #[inline]
    pub(crate) fn byte(&mut self) -> Result<u8> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| corrupt("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| corrupt("truncated"))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    #[inline]
    fn varint(&mut self) -> Result<u64> {
        // Names, strings and counts are mostly shorter than 128: one byte.
        if let Some(&b) = self.bytes.get(self.pos)
            && b < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7F);
            if shift == 63 && bits > 1 {
                return Err(corrupt("varint overflow"));
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                if b == 0 && shift > 0 {
                    return Err(corrupt("overlong varint"));
                }
                return Ok(v);
            }
        }
        Err(corrupt("varint too long"))
    }

    /// A length or count, which can never exceed the bytes left (every element takes
    /// at least one byte), so a corrupt one cannot make us allocate wildly.
    #[inline]
    pub(crate) fn len(&mut self) -> Result<usize> {
        let v = self.varint()?;
        let left = (self.bytes.len() - self.pos) as u64;
        if v > left {
            return Err(corrupt("length beyond the end"));
        }
        Ok(v as usize)
    }

    /// A length-prefixed byte string, borrowed.
    #[inline]
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }

    /// A length-prefixed UTF-8 string, borrowed.
    #[inline]
    pub(crate) fn str(&mut self) -> Result<&'a str> {
        std::str::from_utf8(self.bytes()?).map_err(|_| corrupt("string is not UTF-8"))
    }
}

/// A number as stored: its sign, exponent and packed digits, borrowed. Kept small,
/// because every attribute value is moved around by value during a walk.
#[derive(Clone, Copy)]
pub struct NumberRef<'a> {
    negative: bool,
    exponent: i32,
    /// Two digits per byte, high nibble first; empty for zero.
    packed: &'a [u8],
    /// How many digits `packed` holds (its last low nibble is padding when odd).
    len: usize,
}

impl<'a> NumberRef<'a> {
    /// Reads `number` (see `codec.rs`), refusing what [`Number`] would not hold.
    pub(crate) fn read(r: &mut Reader<'a>) -> Result<NumberRef<'a>> {
        let head = r.byte()?;
        let negative = head & 0x80 != 0;
        let n = usize::from(head & 0x7F);
        if n == 0 {
            return if negative {
                Err(corrupt("negative zero"))
            } else {
                Ok(NumberRef {
                    negative,
                    exponent: 0,
                    packed: &[],
                    len: 0,
                })
            };
        }
        if n > NUMBER_DIGITS_MAX {
            return Err(corrupt("number with too many digits"));
        }
        let exponent = i32::from(r.byte()?) - 129;
        let packed = r.take(n.div_ceil(2))?;
        let number = NumberRef {
            negative,
            exponent,
            packed,
            len: n,
        };
        let padding_ok = n % 2 == 0 || packed[n / 2] & 0x0F == 0;
        let digits_ok = (0..n).all(|k| number.digit(k) <= 9);
        let canonical = number.digit(0) != 0 && number.digit(n - 1) != 0;
        if !padding_ok || !digits_ok || !canonical || !Number::exponent_in_range(exponent) {
            return Err(corrupt("bad number"));
        }
        Ok(number)
    }

    fn digit(&self, k: usize) -> u8 {
        let b = self.packed[k / 2];
        if k.is_multiple_of(2) {
            b >> 4
        } else {
            b & 0x0F
        }
    }

    /// Unpacks the digits into `buf` and returns them.
    fn digits<'b>(&self, buf: &'b mut [u8; NUMBER_DIGITS_MAX]) -> &'b [u8] {
        for (k, d) in buf[..self.len].iter_mut().enumerate() {
            *d = self.digit(k);
        }
        &buf[..self.len]
    }

    /// The size DynamoDB counts for this number ([`Number::size_bytes`]).
    pub fn size_bytes(&self) -> usize {
        size_bytes_of(self.negative, self.len, self.exponent)
    }

    /// Calls `f` with the number in plain decimal (its `Display` text), formatted on
    /// the stack.
    pub fn with_text<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        f(plain_decimal(
            self.negative,
            self.digits(&mut [0; NUMBER_DIGITS_MAX]),
            self.exponent,
            &mut [0; PLAIN_DECIMAL_BYTES_MAX],
        ))
    }

    pub fn to_number(&self) -> Number {
        let digits = self.digits(&mut [0; NUMBER_DIGITS_MAX]).to_vec();
        Number::from_parts(self.negative, digits, self.exponent).unwrap_or(Number::ZERO)
    }
}

impl std::fmt::Display for NumberRef<'_> {
    /// The same text as the [`Number`]'s: plain decimal, normalized.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.with_text(|text| f.write_str(text))
    }
}
