//! Verifying a request's SigV4 signature against the stored credentials, in the order
//! DynamoDB checks (dynalite's notes of DynamoDB's answers): the signature's presence
//! and parts, the date's format and the 15-minute window, `host` among the signed
//! headers, the algorithm, the credential scope, the access key, the signature itself
//! (compared in constant time), then the session token.
//!
//! Owns those checks and their messages. Must not know how an error is rendered.

use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};
use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, Method, Uri};
use subtle::ConstantTimeEq;

use super::keys::{Key, Keys};
use super::parse::{self, ALGORITHM};
use super::sign::{self, Parts, UNSIGNED_PAYLOAD};
use super::{AuthError, SERVICE};

/// How far a request's date may be from the server's clock, either way (DynamoDB's 15
/// minutes).
pub const CLOCK_SKEW_MS_MAX: u64 = 15 * 60 * 1000;

const UNKNOWN_KEY: &str = "The security token included in the request is invalid.";
/// DynamoDB's message for a wrong session token has no full stop (dynalite's notes).
const BAD_TOKEN: &str = "The security token included in the request is invalid";

/// Verifies a request; `body` is `None` only when the request declared
/// `X-Amz-Content-Sha256: UNSIGNED-PAYLOAD`.
pub fn verify(
    keys: &Keys,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Option<&[u8]>,
    now: SystemTime,
) -> Result<std::sync::Arc<Key>, AuthError> {
    let (signed, date, key) = prepare(keys, uri, headers, now)?;
    let scope = parse::scope(&signed.credential)?;
    check_signature(&signed, &scope, date, &key, method, uri, headers, body)?;
    check_token(&key, signed.security_token.as_deref()).map(|()| key)
}

/// Every check that needs no body, up to finding the access key: a request that fails
/// them is refused before its body is read.
pub fn prepare(
    keys: &Keys,
    uri: &Uri,
    headers: &HeaderMap,
    now: SystemTime,
) -> Result<(parse::Signed, SystemTime, std::sync::Arc<Key>), AuthError> {
    let signed = parse::signed(headers, uri.query())?;
    let Some(date) = sign::parse_amz_date(&signed.date) else {
        return Err(AuthError::Incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{}'. See \
             http://en.wikipedia.org/wiki/ISO_8601",
            signed.date
        )));
    };
    check_window(&signed, date, now)?;
    if !signed.signed_headers.split(';').any(|h| h == "host") {
        return Err(AuthError::InvalidSignature(
            "'Host' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
        ));
    }
    if signed.algorithm != ALGORITHM {
        return Err(AuthError::Incomplete(format!(
            "Unsupported AWS 'algorithm': '{}' (only {ALGORITHM} for now). ",
            signed.algorithm
        )));
    }
    let scope = parse::scope(&signed.credential)?;
    let mut msg = String::new();
    if scope.region.is_empty() {
        msg.push_str("Credential should be scoped to a valid region, not ''. ");
    }
    if scope.service != SERVICE {
        msg.push_str(&format!(
            "Credential should be scoped to correct service: '{SERVICE}'. "
        ));
    }
    if scope.terminator != "aws4_request" {
        msg.push_str(&format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'. ",
            scope.terminator
        ));
    }
    if scope.date != &signed.date[..8] {
        msg.push_str(&format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
             from HTTP: '{}' != '{}', from '{}'.",
            scope.date,
            &signed.date[..8],
            signed.date
        ));
    }
    if !msg.is_empty() {
        return Err(AuthError::InvalidSignature(msg.trim_end().to_owned()));
    }
    let Some(key) = keys.get(scope.key) else {
        return Err(AuthError::Unrecognized(UNKNOWN_KEY));
    };
    Ok((signed, date, key))
}

/// The signature itself, compared in constant time with the one computed from what
/// was received.
#[allow(clippy::too_many_arguments)]
fn check_signature(
    signed: &parse::Signed,
    scope: &parse::Scope<'_>,
    date: SystemTime,
    key: &Key,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Option<&[u8]>,
) -> Result<(), AuthError> {
    let names: Vec<&str> = signed.signed_headers.split(';').collect();
    let header_values: Vec<(String, String)> = names
        .iter()
        .map(|name| {
            let values: Vec<&str> = headers
                .get_all(*name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(str::trim)
                .collect();
            ((*name).to_owned(), values.join(","))
        })
        .collect();
    let query: Vec<(String, String)> = parse::query_pairs(uri.query().unwrap_or(""))
        .into_iter()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .collect();
    let declared = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok());
    // The payload hashes the signer may have used: UNSIGNED-PAYLOAD when it says so
    // (or, for a presigned URL, which binds no body unless it says otherwise), else
    // the hash of the body as received, so that a changed body fails.
    let mut candidates = Vec::new();
    if declared == Some(UNSIGNED_PAYLOAD) || (signed.presigned && declared.is_none()) {
        candidates.push(UNSIGNED_PAYLOAD.to_owned());
    }
    if declared != Some(UNSIGNED_PAYLOAD)
        && let Some(body) = body
    {
        candidates.push(sign::sha256_hex(body));
    }
    let scope_text = format!(
        "{}/{}/{}/{}",
        scope.date, scope.region, scope.service, scope.terminator
    );
    let mut first = None;
    for payload_hash in &candidates {
        let canonical = sign::canonical_request(&Parts {
            method: method.as_str(),
            path: uri.path(),
            query: &query,
            headers: &header_values,
            signed_headers: &signed.signed_headers,
            payload_hash,
        });
        let sts = sign::string_to_sign(&signed.date, &scope_text, &canonical);
        let expected = aws_sigv4::sign::v4::calculate_signature(
            signing_key(key, date, scope),
            sts.as_bytes(),
        );
        if bool::from(expected.as_bytes().ct_eq(signed.signature.as_bytes())) {
            return Ok(());
        }
        first.get_or_insert((canonical, sts));
    }
    let (canonical, sts) = first.unwrap_or_default();
    Err(AuthError::InvalidSignature(format!(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. Consult the service \
         documentation for details.\n\nThe Canonical String for this request should have \
         been\n'{canonical}'\n\nThe String-to-Sign should have been\n'{sts}'\n"
    )))
}

/// Signing keys already derived, by access key, secret, day, region and service: the
/// derivation is four HMACs, the same for every request of a key in a day, and SDKs
/// cache it too. The map is emptied when it reaches its bound (a new day's keys then
/// fill it again).
static SIGNING_KEYS: LazyLock<RwLock<HashMap<SigningScope, [u8; SIGNING_KEY_BYTES]>>> =
    LazyLock::new(Default::default);
/// The most signing keys kept.
const SIGNING_KEYS_CACHED_MAX: usize = 4096;
/// An HMAC-SHA256 key.
const SIGNING_KEY_BYTES: usize = 32;

/// What a signing key is derived from; the secret only as a fingerprint, so that a
/// replaced secret never meets the old key and no secret is kept twice.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SigningScope {
    access_key_id: String,
    secret_fingerprint: u64,
    day: String,
    region: String,
    service: String,
}

/// The signing key of `key` for the scope's day, region and service, derived by
/// `aws-sigv4` once and then cached.
fn signing_key(key: &Key, date: SystemTime, scope: &parse::Scope<'_>) -> [u8; SIGNING_KEY_BYTES] {
    use std::hash::{Hash, Hasher};
    let mut fingerprint = std::collections::hash_map::DefaultHasher::new();
    key.secret_access_key.hash(&mut fingerprint);
    let id = SigningScope {
        access_key_id: key.access_key_id.clone(),
        secret_fingerprint: fingerprint.finish(),
        day: scope.date.to_owned(),
        region: scope.region.to_owned(),
        service: scope.service.to_owned(),
    };
    if let Some(k) = SIGNING_KEYS.read().ok().and_then(|m| m.get(&id).copied()) {
        return k;
    }
    let derived = aws_sigv4::sign::v4::generate_signing_key(
        &key.secret_access_key,
        date,
        scope.region,
        scope.service,
    );
    let mut k = [0u8; SIGNING_KEY_BYTES];
    k.copy_from_slice(derived.as_ref());
    if let Ok(mut m) = SIGNING_KEYS.write() {
        if m.len() >= SIGNING_KEYS_CACHED_MAX {
            m.clear();
        }
        m.insert(id, k);
    }
    k
}

/// The 15-minute window around the server's clock (and a presigned URL's expiry).
fn check_window(
    signed: &parse::Signed,
    date: SystemTime,
    now: SystemTime,
) -> Result<(), AuthError> {
    let skew = Duration::from_millis(CLOCK_SKEW_MS_MAX);
    let fmt = sign::format_amz_date;
    // A presigned URL is good for its X-Amz-Expires; DynamoDB's message for an expired
    // one is not recorded, so it is the header form's with the URL's lifetime.
    let (earliest, label) = match signed.expires_s {
        Some(s) => (
            now.checked_sub(Duration::from_secs(s)).unwrap_or(now),
            format!("{s} sec."),
        ),
        None => (now.checked_sub(skew).unwrap_or(now), "15 min.".to_owned()),
    };
    if date < earliest {
        return Err(AuthError::InvalidSignature(format!(
            "Signature expired: {} is now earlier than {} ({} - {label})",
            signed.date,
            fmt(earliest),
            fmt(now)
        )));
    }
    let latest = now + skew;
    if date > latest {
        // ScyllaDB's Alternator, which copies DynamoDB's messages, words it so.
        return Err(AuthError::InvalidSignature(format!(
            "Signature not yet current: {} is still later than {} ({} + 15 min.)",
            signed.date,
            fmt(latest),
            fmt(now)
        )));
    }
    Ok(())
}

fn check_token(key: &Key, sent: Option<&str>) -> Result<(), AuthError> {
    let ok = match (key.session_token.as_deref(), sent) {
        (None, None) => true,
        (Some(a), Some(b)) => bool::from(a.as_bytes().ct_eq(b.as_bytes())),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(AuthError::Unrecognized(BAD_TOKEN))
    }
}
