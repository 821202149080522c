//! Writes stored items as DynamoDB JSON straight from their stored bytes.
//!
//! GetItem, Query and Scan spend much of their time turning items into JSON, so this
//! path skips both building the item and serde: it walks the engine's view of the
//! stored encoding and appends to the response buffer. The output is byte for byte
//! what `serde_json` writes for the same item through [`super::WireOut`] (the tests
//! check it), including how strings are escaped.

use base64::Engine as _;
use eddy_engine::{Error, NumberRef, SetKind, StoredItem, Visitor};

use super::BASE64;

/// Appends `item` as a JSON object of attribute values.
pub fn write_item(out: &mut Vec<u8>, item: &StoredItem) -> Result<(), Error> {
    item.walk(&mut JsonWriter { out, in_set: false })
}

/// Appends `items` as a JSON array.
pub fn write_items(out: &mut Vec<u8>, items: &[StoredItem]) -> Result<(), Error> {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_item(out, item)?;
    }
    out.push(b']');
    Ok(())
}

/// A guess at the JSON size of `items`, to allocate the response once.
pub fn json_len_hint(items: &[StoredItem]) -> usize {
    items.iter().map(|i| 2 * i.encoded_len() + 16).sum()
}

/// Writes each value as `{"<type>":<value>}`, except set members, which are bare.
struct JsonWriter<'o> {
    out: &'o mut Vec<u8>,
    /// Inside a set (sets never nest, and hold only scalars).
    in_set: bool,
}

impl JsonWriter<'_> {
    /// Opens a scalar value's type wrapper (`{"S":`) unless it is a set member.
    fn scalar(&mut self, wrapper: &[u8]) -> bool {
        if self.in_set {
            return false;
        }
        self.out.extend_from_slice(wrapper);
        true
    }
}

impl Visitor for JsonWriter<'_> {
    fn map_start(&mut self, depth: usize, _len: usize) {
        if depth > 0 {
            self.out.extend_from_slice(br#"{"M":"#);
        }
        self.out.push(b'{');
    }

    fn entry(&mut self, index: usize, name: &str) {
        if index > 0 {
            self.out.push(b',');
        }
        write_str(self.out, name);
        self.out.push(b':');
    }

    fn map_end(&mut self, depth: usize) {
        self.out.push(b'}');
        if depth > 0 {
            self.out.push(b'}');
        }
    }

    fn list_start(&mut self, _len: usize) {
        self.out.extend_from_slice(br#"{"L":["#);
    }

    fn set_start(&mut self, kind: SetKind, _len: usize) {
        self.out.extend_from_slice(match kind {
            SetKind::Ss => br#"{"SS":["#,
            SetKind::Ns => br#"{"NS":["#,
            SetKind::Bs => br#"{"BS":["#,
        });
        self.in_set = true;
    }

    fn element(&mut self, index: usize) {
        if index > 0 {
            self.out.push(b',');
        }
    }

    fn list_end(&mut self) {
        self.out.extend_from_slice(b"]}");
        self.in_set = false;
    }

    fn string(&mut self, s: &str) {
        let wrapped = self.scalar(br#"{"S":"#);
        write_str(self.out, s);
        if wrapped {
            self.out.push(b'}');
        }
    }

    fn number(&mut self, n: NumberRef<'_>) {
        let wrapped = self.scalar(br#"{"N":"#);
        self.out.push(b'"');
        n.with_text(|text| self.out.extend_from_slice(text.as_bytes()));
        self.out.push(b'"');
        if wrapped {
            self.out.push(b'}');
        }
    }

    fn binary(&mut self, b: &[u8]) {
        let wrapped = self.scalar(br#"{"B":"#);
        write_base64(self.out, b);
        if wrapped {
            self.out.push(b'}');
        }
    }

    fn bool(&mut self, b: bool) {
        self.out.extend_from_slice(if b {
            br#"{"BOOL":true}"#
        } else {
            br#"{"BOOL":false}"#
        });
    }

    fn null(&mut self) {
        self.out.extend_from_slice(br#"{"NULL":true}"#);
    }
}

/// Appends `bytes` as a JSON string of standard, padded base64.
fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let start = out.len();
    // 4 output bytes per 3 input bytes, rounded up (padded).
    out.resize(start + bytes.len().div_ceil(3) * 4, 0);
    let written = BASE64.encode_slice(bytes, &mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
    out.push(b'"');
}

/// How each byte is written inside a JSON string, as `serde_json` writes it: 0 as is,
/// `u` as `\u00XX`, any other as a backslash and that character.
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0A] = b'n';
    table[0x0C] = b'f';
    table[0x0D] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Appends `s` as a JSON string.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.push(b'"');
    // Bytes from `start` on are copied at the next escape or at the end.
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate().skip(clean_prefix_len(bytes)) {
        let escape = ESCAPE[usize::from(b)];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if escape == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0x0F)]);
        } else {
            out.push(b'\\');
            out.push(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The length of the longest prefix of whole 8-byte words that need no escaping,
/// checked a word at a time (most attribute strings need none).
fn clean_prefix_len(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Whether any byte of `w` is zero (exact for existence, which is all we ask).
    let has_zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGHS != 0;
    let mut clean = 0;
    for chunk in bytes.chunks_exact(8) {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let w = u64::from_le_bytes(word);
        // A byte below 0x20, a quote or a backslash.
        let control = w.wrapping_sub(ONES * 0x20) & !w & HIGHS != 0;
        if control
            || has_zero(w ^ (ONES * u64::from(b'"')))
            || has_zero(w ^ (ONES * u64::from(b'\\')))
        {
            break;
        }
        clean += 8;
    }
    clean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_as_serde_json_escapes_them() {
        let mut cases: Vec<String> = vec![
            String::new(),
            "plain".into(),
            "exactly8".into(),
            "sixteen bytes ok".into(),
            "quote\" and backslash\\ at 14".into(),
            "\u{7f} del and \u{1F600} emoji and é".into(),
        ];
        // Every byte below 0x80 at every offset of a 20-byte string.
        for b in 0u8..0x80 {
            for at in 0..20 {
                let mut s = vec![b'a'; 20];
                s[at] = b;
                cases.push(String::from_utf8(s).unwrap());
            }
        }
        for s in cases {
            let mut out = Vec::new();
            write_str(&mut out, &s);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&s).unwrap(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn base64_matches_the_standard_engine() {
        for len in 0..10 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 250) as u8).collect();
            let mut out = Vec::new();
            write_base64(&mut out, &bytes);
            assert_eq!(out, format!("\"{}\"", BASE64.encode(&bytes)).into_bytes());
        }
    }
}
