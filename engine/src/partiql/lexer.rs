//! PartiQL's tokens: names (bare or `"quoted"`), `'strings'`, numbers, `?` and
//! punctuation, with `--` and `/* */` comments skipped.
//!
//! Owns the token shapes. Must not know the grammar.

use std::ops::Range;

use super::malformed;
use crate::error::Result;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// A bare name or keyword, as written.
    Ident(String),
    /// A `"quoted"` name (never a keyword).
    Quoted(String),
    /// A `'string'` literal.
    Str(String),
    /// A number literal, as written.
    Num(String),
    /// Punctuation: `* , . ( ) [ ] { } : ; = <> != < <= > >= + - ? << >>`.
    Punct(&'static str),
}

const PUNCTS: [&str; 23] = [
    "<<", ">>", "<>", "!=", "<=", ">=", "*", ",", ".", "(", ")", "[", "]", "{", "}", ":", ";", "=",
    "<", ">", "+", "-", "?",
];

/// Splits a statement into tokens, each with the byte range of `src` it was read from
/// (so that a caller can rewrite one token of the text, such as the table name).
pub(super) fn lex_spanned(src: &str) -> Result<Vec<(Tok, Range<usize>)>> {
    let mut out = Vec::new();
    let bytes = src.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let rest = &src[i..];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if rest.starts_with("--") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if let Some(body) = rest.strip_prefix("/*") {
            let end = body
                .find("*/")
                .ok_or_else(|| malformed("Unterminated comment"))?;
            i += end + 4;
        } else if c == b'\'' || c == b'"' {
            let (text, used) = quoted(rest, c as char)?;
            let tok = if c == b'\'' {
                Tok::Str(text)
            } else {
                Tok::Quoted(text)
            };
            out.push((tok, i..i + used));
            i += used;
        } else if c.is_ascii_digit()
            || (c == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let used = number_len(rest);
            out.push((Tok::Num(rest[..used].to_owned()), i..i + used));
            i += used;
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            let used = rest
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '$'))
                .unwrap_or(rest.len());
            out.push((Tok::Ident(rest[..used].to_owned()), i..i + used));
            i += used;
        } else if let Some(p) = PUNCTS.iter().find(|p| rest.starts_with(**p)) {
            out.push((Tok::Punct(p), i..i + p.len()));
            i += p.len();
        } else {
            let ch = rest.chars().next().unwrap_or('?');
            return Err(malformed(&format!("Unexpected character: {ch}")));
        }
    }
    Ok(out)
}

/// A quoted string or name starting at `rest[0]`; a doubled quote is one quote.
/// Returns the text and the bytes used.
fn quoted(rest: &str, q: char) -> Result<(String, usize)> {
    let mut text = String::new();
    let mut chars = rest.char_indices().skip(1).peekable();
    while let Some((at, ch)) = chars.next() {
        if ch == q {
            if chars.peek().is_some_and(|&(_, n)| n == q) {
                chars.next();
                text.push(q);
            } else {
                return Ok((text, at + 1));
            }
        } else {
            text.push(ch);
        }
    }
    Err(malformed(if q == '\'' {
        "Unterminated string literal"
    } else {
        "Unterminated quoted identifier"
    }))
}

/// The length of the number at the start of `rest`: digits, a fraction, an exponent.
fn number_len(rest: &str) -> usize {
    let b = rest.as_bytes();
    let digits = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut i = digits(0);
    if i < b.len() && b[i] == b'.' {
        i = digits(i + 1);
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            i = digits(j);
        }
    }
    i
}
