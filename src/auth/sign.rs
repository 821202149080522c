//! The SigV4 computation both ends share: the canonical request of what was sent, the
//! string to sign, and the signature (whose signing key and HMAC are `aws-sigv4`'s, the
//! AWS SDK's own implementation). The server verifies with it; the CLI signs its `/v1`
//! requests with it.
//!
//! Owns the canonical forms. Must not know where a secret comes from or what a
//! mismatch is answered with.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use eddy_engine::clock::{civil_from_days, days_from_civil};
use sha2::{Digest, Sha256};

use super::parse::ALGORITHM;

/// The payload hash of a body the signer chose not to bind (S3's, and presigned URLs').
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// SHA-256 of `bytes`, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    HexDigest::of(&Sha256::digest(bytes)).as_str().to_owned()
}

/// A SHA-256 digest in lower-case hex, by table and on the stack (two per verified
/// request; the `hex` crate's iterator was a visible share of a verified request's CPU).
pub struct HexDigest([u8; 64]);

impl HexDigest {
    pub fn of(digest: &[u8]) -> HexDigest {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [b'0'; 64];
        for (pair, b) in out.chunks_exact_mut(2).zip(digest) {
            pair[0] = DIGITS[usize::from(b >> 4)];
            pair[1] = DIGITS[usize::from(b & 0x0f)];
        }
        HexDigest(out)
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// The 32 bytes of a 64-digit lower-case hex signature; `None` for anything else.
pub fn signature_bytes(hex: &str) -> Option<[u8; 32]> {
    // The value of each lower-case hex digit; 0xff for every other byte.
    const VALUES: [u8; 256] = {
        let mut t = [0xffu8; 256];
        let mut i = 0;
        while i < 10 {
            t[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            t[b'a' as usize + i] = 10 + i as u8;
            i += 1;
        }
        t
    };
    let h = hex.as_bytes();
    if h.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(h.chunks_exact(2)) {
        let (hi, lo) = (VALUES[usize::from(pair[0])], VALUES[usize::from(pair[1])]);
        bad |= (hi | lo) & 0xf0;
        *o = (hi << 4) | (lo & 0x0f);
    }
    // A signature is lower-case hex; another spelling is a different signature.
    (bad == 0).then_some(out)
}

/// What the canonical request is built from.
#[derive(Debug)]
pub struct Parts<'a> {
    pub method: &'a str,
    /// The path as sent (still percent-encoded).
    pub path: &'a str,
    /// Query pairs, decoded, without `X-Amz-Signature`.
    pub query: &'a [(String, String)],
    /// `(name, value)` of each signed header in `SignedHeaders`' order, values as sent
    /// (several of one name joined by `,`).
    pub headers: &'a [(&'a str, &'a str)],
    pub signed_headers: &'a str,
    pub payload_hash: &'a str,
}

/// Where a canonical request or a string to sign is written: a `String` to show it in
/// an error, or a running SHA-256 or HMAC to sign it without building the text.
pub trait Sink {
    fn put(&mut self, s: &str);
}

impl Sink for String {
    fn put(&mut self, s: &str) {
        self.push_str(s);
    }
}

impl Sink for Sha256 {
    fn put(&mut self, s: &str) {
        Digest::update(self, s.as_bytes());
    }
}

impl Sink for hmac::Hmac<Sha256> {
    fn put(&mut self, s: &str) {
        hmac::Mac::update(self, s.as_bytes());
    }
}

/// SigV4's URI encoding of `s` into `out`: every byte but the unreserved characters as
/// `%XX`, and `/` kept where `keep_slash`; runs of unreserved bytes are written whole.
fn put_uri_encoded(out: &mut impl Sink, s: &str, keep_slash: bool) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let plain = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/');
        if plain {
            continue;
        }
        out.put(&s[run..i]);
        let esc = [
            b'%',
            DIGITS[usize::from(b >> 4)],
            DIGITS[usize::from(b & 0x0f)],
        ];
        // Three ASCII bytes.
        out.put(std::str::from_utf8(&esc).unwrap_or_default());
        run = i + 1;
    }
    out.put(&s[run..]);
}

/// SigV4's URI encoding as a string.
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    put_uri_encoded(&mut out, s, keep_slash);
    out
}

/// Writes the canonical request (SigV4's "task 1") into `out`. The path is encoded once
/// more, as every service but S3 expects (the SDKs' "double encoding").
pub fn write_canonical_request(p: &Parts<'_>, out: &mut impl Sink) {
    let path = if p.path.is_empty() { "/" } else { p.path };
    out.put(p.method);
    out.put("\n");
    put_uri_encoded(out, path, true);
    out.put("\n");
    if !p.query.is_empty() {
        let mut query: Vec<(String, String)> = p
            .query
            .iter()
            .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
            .collect();
        query.sort();
        for (i, (k, v)) in query.iter().enumerate() {
            if i > 0 {
                out.put("&");
            }
            out.put(k);
            out.put("=");
            out.put(v);
        }
    }
    out.put("\n");
    for (name, value) in p.headers {
        out.put(name);
        out.put(":");
        // Runs of spaces become one (SigV4's trimall).
        for (i, word) in value.split_whitespace().enumerate() {
            if i > 0 {
                out.put(" ");
            }
            out.put(word);
        }
        out.put("\n");
    }
    out.put("\n");
    out.put(p.signed_headers);
    out.put("\n");
    out.put(p.payload_hash);
}

/// The canonical request as text.
pub fn canonical_request(p: &Parts<'_>) -> String {
    let mut out = String::new();
    write_canonical_request(p, &mut out);
    out
}

/// Writes the string to sign (SigV4's "task 2") of a canonical request's hash.
pub fn write_string_to_sign(
    amz_date: &str,
    scope: &str,
    canonical_hash_hex: &str,
    out: &mut impl Sink,
) {
    out.put(ALGORITHM);
    out.put("\n");
    out.put(amz_date);
    out.put("\n");
    out.put(scope);
    out.put("\n");
    out.put(canonical_hash_hex);
}

/// The string to sign (SigV4's "task 2").
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    let mut out = String::new();
    write_string_to_sign(
        amz_date,
        scope,
        &sha256_hex(canonical_request.as_bytes()),
        &mut out,
    );
    out
}

/// The signature of `string_to_sign` with `secret`'s signing key for the scope's day,
/// region and service (SigV4's "task 3" and "task 4", by `aws-sigv4`).
pub fn signature(secret: &str, day: SystemTime, region: &str, service: &str, sts: &str) -> String {
    let key = aws_sigv4::sign::v4::generate_signing_key(secret, day, region, service);
    aws_sigv4::sign::v4::calculate_signature(key, sts.as_bytes())
}

/// Parses an ISO 8601 basic timestamp (`20260101T120000Z`).
pub fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let days = days_from_civil(i64::try_from(y).ok()?, m, d);
    let secs = u64::try_from(days).ok()? * 86_400 + hh * 3600 + mm * 60 + ss;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Formats a time as ISO 8601 basic (`20260101T120000Z`).
pub fn format_amz_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(secs / 86_400);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Signs a request for the CLI: the headers to add (`x-amz-date`,
/// `x-amz-content-sha256`, `authorization`, and `x-amz-security-token` with a session
/// token) to a request that also carries `host`. With `unsigned_payload` the body is not
/// bound (`X-Amz-Content-Sha256: UNSIGNED-PAYLOAD`), for a body too large to hash twice.
#[allow(clippy::too_many_arguments)]
pub fn sign_headers(
    method: &str,
    path_and_query: &str,
    host: &str,
    body: &[u8],
    key_id: &str,
    secret: &str,
    session_token: Option<&str>,
    region: &str,
    now: SystemTime,
    unsigned_payload: bool,
) -> Vec<(&'static str, String)> {
    let amz_date = format_amz_date(now);
    let payload_hash = if unsigned_payload {
        UNSIGNED_PAYLOAD.to_owned()
    } else {
        sha256_hex(body)
    };
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let query = super::parse::query_pairs(query);
    let mut headers = vec![
        ("host", host),
        ("x-amz-content-sha256", payload_hash.as_str()),
        ("x-amz-date", amz_date.as_str()),
    ];
    if let Some(token) = session_token {
        headers.push(("x-amz-security-token", token));
    }
    let signed_headers = headers
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(";");
    let canonical = canonical_request(&Parts {
        method,
        path,
        query: &query,
        headers: &headers,
        signed_headers: &signed_headers,
        payload_hash: &payload_hash,
    });
    let scope = format!(
        "{}/{region}/{}/aws4_request",
        &amz_date[..8],
        super::SERVICE
    );
    let sts = string_to_sign(&amz_date, &scope, &canonical);
    let sig = signature(secret, now, region, super::SERVICE, &sts);
    let mut out = vec![
        ("x-amz-date", amz_date),
        ("x-amz-content-sha256", payload_hash),
        (
            "authorization",
            format!(
                "{ALGORITHM} Credential={key_id}/{scope}, SignedHeaders={signed_headers}, Signature={sig}"
            ),
        ),
    ];
    if let Some(token) = session_token {
        out.push(("x-amz-security-token", token.to_owned()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AWS SigV4 test suite's `get-vanilla` case (service `service`, region
    /// `us-east-1`, secret `wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY`).
    #[test]
    fn the_aws_test_suites_vanilla_get_is_signed_as_aws_signs_it() {
        let headers = vec![
            ("host", "example.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
        ];
        let canonical = canonical_request(&Parts {
            method: "GET",
            path: "/",
            query: &[],
            headers: &headers,
            signed_headers: "host;x-amz-date",
            payload_hash: &sha256_hex(b""),
        });
        let sts = string_to_sign(
            "20150830T123600Z",
            "20150830/us-east-1/service/aws4_request",
            &canonical,
        );
        let day = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(
            signature(
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                day,
                "us-east-1",
                "service",
                &sts
            ),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn hex_round_trips() {
        let bytes: Vec<u8> = (0..32).map(|i| i * 8 + 1).collect();
        let text = HexDigest::of(&bytes).as_str().to_owned();
        assert_eq!(text, hex::encode(&bytes));
        assert_eq!(signature_bytes(&text).unwrap().to_vec(), bytes);
        assert!(signature_bytes(&text.to_uppercase()).is_none());
        assert!(signature_bytes("zz").is_none());
        assert!(signature_bytes(&"g".repeat(64)).is_none());
    }

    #[test]
    fn dates_round_trip() {
        for s in ["20150830T123600Z", "20000229T235959Z", "19700101T000000Z"] {
            assert_eq!(format_amz_date(parse_amz_date(s).unwrap()), s);
        }
        for bad in [
            "2015-08-30",
            "20151330T000000Z",
            "20150830T123600",
            "x0150830T123600Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }
}
