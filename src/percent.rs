//! Percent-decoding (`%XX`) of text taken from a URL: one loop for every caller, with the
//! one difference between them explicit. In a query string (form encoding, as browsers
//! and `curl --data-urlencode` write it) `+` is a space; in the other parts of a URL (the
//! SMTP URL's `user:password`, for one) `+` is itself.
//!
//! Owns the decoding. Must not know where the text comes from or what it means.

/// Decodes a query-string key or value: `x%20y` and `x+y` are both `x y`. `None` for a
/// bad escape or a result that is not UTF-8.
pub fn decode_query(s: &str) -> Option<String> {
    decode(s, true)
}

/// Decodes a URL component outside the query (userinfo, path): `x%20y` is `x y` and `+`
/// stays `+`. `None` for a bad escape or a result that is not UTF-8.
pub fn decode_component(s: &str) -> Option<String> {
    decode(s, false)
}

fn decode(s: &str, plus_is_space: bool) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' if plus_is_space => out.push(b' '),
            b'%' => {
                let hi = char::from(bytes.next()?).to_digit(16)?;
                let lo = char::from(bytes.next()?).to_digit(16)?;
                out.push(u8::try_from(hi * 16 + lo).ok()?);
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_is_a_space_only_in_a_query() {
        assert_eq!(decode_query("a+b%20c%2B").as_deref(), Some("a b c+"));
        assert_eq!(decode_component("a+b%20c%2B").as_deref(), Some("a+b c+"));
        assert_eq!(decode_component("me%40x").as_deref(), Some("me@x"));
        assert_eq!(decode_query("caf%C3%A9").as_deref(), Some("café"));
        for bad in ["%", "%4", "%zz", "%+1", "%C3"] {
            assert_eq!(decode_query(bad), None, "{bad}");
            assert_eq!(decode_component(bad), None, "{bad}");
        }
    }
}
