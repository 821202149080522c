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
    hex::encode(Sha256::digest(bytes))
}

/// What the canonical request is built from.
#[derive(Debug)]
pub struct Parts<'a> {
    pub method: &'a str,
    /// The path as sent (still percent-encoded).
    pub path: &'a str,
    /// Query pairs, decoded, without `X-Amz-Signature`.
    pub query: &'a [(String, String)],
    /// `(name, value)` of each signed header in `SignedHeaders`' order, values as sent.
    pub headers: &'a [(String, String)],
    pub signed_headers: &'a str,
    pub payload_hash: &'a str,
}

/// SigV4's URI encoding: every byte but the unreserved characters as `%XX`, and `/` kept
/// where `keep_slash`.
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The canonical request (SigV4's "task 1"). The path is encoded once more, as every
/// service but S3 expects (the SDKs' "double encoding").
pub fn canonical_request(p: &Parts<'_>) -> String {
    let path = if p.path.is_empty() { "/" } else { p.path };
    let mut query: Vec<(String, String)> = p
        .query
        .iter()
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    query.sort();
    let query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut headers = String::new();
    for (name, value) in p.headers {
        headers.push_str(name);
        headers.push(':');
        headers.push_str(&value.split_whitespace().collect::<Vec<_>>().join(" "));
        headers.push('\n');
    }
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        p.method,
        uri_encode(path, true),
        query,
        headers,
        p.signed_headers,
        p.payload_hash
    )
}

/// The string to sign (SigV4's "task 2").
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
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
        ("host".to_owned(), host.to_owned()),
        ("x-amz-content-sha256".to_owned(), payload_hash.clone()),
        ("x-amz-date".to_owned(), amz_date.clone()),
    ];
    if let Some(token) = session_token {
        headers.push(("x-amz-security-token".to_owned(), token.to_owned()));
    }
    let signed_headers = headers
        .iter()
        .map(|(n, _)| n.as_str())
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
            ("host".to_owned(), "example.amazonaws.com".to_owned()),
            ("x-amz-date".to_owned(), "20150830T123600Z".to_owned()),
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
