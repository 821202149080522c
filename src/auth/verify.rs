//! Verifying a request's SigV4 signature against the stored credentials, in the order
//! DynamoDB checks (dynalite's notes of DynamoDB's answers): the signature's presence
//! and parts, the date's format and the 15-minute window, `host` among the signed
//! headers, the algorithm, the credential scope, the access key, the signature itself
//! (compared in constant time), then the session token.
//!
//! Owns those checks and their messages. Must not know how an error is rendered.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};
use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, HeaderName, Method, Uri};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::keys::{Key, Keys};
use super::parse::{self, ALGORITHM};
use super::sign::{self, Parts, UNSIGNED_PAYLOAD};
use super::{AuthError, LAMBDA_SERVICE, SCALING_SERVICE, SERVICE};

/// The header naming the payload hash, made once rather than parsed per request.
const CONTENT_SHA256: HeaderName = HeaderName::from_static("x-amz-content-sha256");

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
pub fn prepare<'a>(
    keys: &Keys,
    uri: &Uri,
    headers: &'a HeaderMap,
    now: SystemTime,
) -> Result<(parse::Signed<'a>, SystemTime, std::sync::Arc<Key>), AuthError> {
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
    if ![SERVICE, SCALING_SERVICE, LAMBDA_SERVICE].contains(&scope.service) {
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
    let Some(key) = keys.get_recent(scope.key) else {
        return Err(AuthError::Unrecognized(UNKNOWN_KEY));
    };
    Ok((signed, date, key))
}

/// The signature itself, compared in constant time with the one computed from what
/// was received.
#[allow(clippy::too_many_arguments)]
fn check_signature(
    signed: &parse::Signed<'_>,
    scope: &parse::Scope<'_>,
    date: SystemTime,
    key: &Arc<Key>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Option<&[u8]>,
) -> Result<(), AuthError> {
    let names: Vec<&str> = signed.signed_headers.split(';').collect();
    // A header sent more than once is signed as its values joined by `,`; the common
    // single value is borrowed as it is. The few headers a request has are scanned by
    // name rather than each signed name parsed and hashed for a lookup.
    let found: Vec<(&str, std::borrow::Cow<'_, str>)> = names
        .iter()
        .map(|name| {
            let mut value = std::borrow::Cow::Borrowed("");
            let values = headers
                .iter()
                .filter(|(n, _)| n.as_str() == *name)
                .filter_map(|(_, v)| v.to_str().ok())
                .map(str::trim);
            for (i, v) in values.enumerate() {
                if i == 0 {
                    value = std::borrow::Cow::Borrowed(v);
                } else {
                    let joined = value.to_mut();
                    joined.push(',');
                    joined.push_str(v);
                }
            }
            (*name, value)
        })
        .collect();
    let header_values: Vec<(&str, &str)> = found.iter().map(|(n, v)| (*n, v.as_ref())).collect();
    let query: Vec<(String, String)> = parse::query_pairs(uri.query().unwrap_or(""))
        .into_iter()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .collect();
    let declared = headers.get(CONTENT_SHA256).and_then(|v| v.to_str().ok());
    // The payload hashes the signer may have used: UNSIGNED-PAYLOAD when it says so
    // (or, for a presigned URL, which binds no body unless it says otherwise), else
    // the hash of the body as received, so that a changed body fails.
    let unsigned = declared == Some(UNSIGNED_PAYLOAD) || (signed.presigned && declared.is_none());
    let body_hash = body
        .filter(|_| declared != Some(UNSIGNED_PAYLOAD))
        .map(|b| sign::HexDigest::of(&Sha256::digest(b)));
    let candidates: [Option<&str>; 2] = [
        unsigned.then_some(UNSIGNED_PAYLOAD),
        body_hash.as_ref().map(sign::HexDigest::as_str),
    ];
    // The credential scope as signed: the credential after its access key id.
    let scope_text = signed
        .credential
        .trim_end_matches('/')
        .split_once('/')
        .map_or("", |(_, scope)| scope);
    let provided = sign::signature_bytes(&signed.signature);
    let parts = |payload_hash| Parts {
        method: method.as_str(),
        path: uri.path(),
        query: &query,
        headers: &header_values,
        signed_headers: &signed.signed_headers,
        payload_hash,
    };
    // The canonical request is hashed and the string to sign is MACed as they are
    // written, without building either text; the texts are built only to say what was
    // expected when the signature does not match.
    let keyed = signing_mac(key, date, scope);
    for payload_hash in candidates.iter().flatten() {
        let mut canonical = Sha256::new();
        sign::write_canonical_request(&parts(payload_hash), &mut canonical);
        let canonical_hex = sign::HexDigest::of(&canonical.finalize());
        let mut mac = keyed.clone();
        sign::write_string_to_sign(&signed.date, scope_text, canonical_hex.as_str(), &mut mac);
        // The signature is checked as bytes, in constant time (`verify_slice`).
        if provided.is_some_and(|p| mac.verify_slice(&p).is_ok()) {
            return Ok(());
        }
    }
    let (canonical, sts) =
        candidates
            .iter()
            .flatten()
            .next()
            .map_or_else(Default::default, |hash| {
                let canonical = sign::canonical_request(&parts(hash));
                let sts = sign::string_to_sign(&signed.date, scope_text, &canonical);
                (canonical, sts)
            });
    Err(AuthError::InvalidSignature(format!(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. Consult the service \
         documentation for details.\n\nThe Canonical String for this request should have \
         been\n'{canonical}'\n\nThe String-to-Sign should have been\n'{sts}'\n"
    )))
}

/// HMACs keyed with a signing key, by what the key is derived from: the derivation is
/// four HMACs, the same for every request of an access key in a day, and SDKs cache it
/// too; keeping the keyed HMAC also saves hashing the key into its pads per request.
/// Entries are found by a hash of their scope without building a key, and the map is
/// emptied when it reaches its bound (a new day's keys then fill it again).
static SIGNING_KEYS: LazyLock<RwLock<HashMap<u64, SigningKey>>> = LazyLock::new(Default::default);
/// The most signing keys kept.
const SIGNING_KEYS_CACHED_MAX: usize = 4096;

/// A derived signing key and what it was derived from. The credential is held as the
/// stored `Key` itself: a replaced or deleted key is another allocation, so its old
/// signing key is never found for it, and no secret is kept twice.
#[derive(Clone)]
struct SigningKey {
    key: Arc<Key>,
    day: String,
    region: String,
    service: String,
    mac: Hmac<Sha256>,
}

/// The HMAC keyed with `key`'s signing key for the scope's day, region and service
/// (derived by `aws-sigv4` once, then cached).
fn signing_mac(key: &Arc<Key>, date: SystemTime, scope: &parse::Scope<'_>) -> Hmac<Sha256> {
    let same = |e: &SigningKey| {
        Arc::ptr_eq(&e.key, key)
            && e.day == scope.date
            && e.region == scope.region
            && e.service == scope.service
    };
    // The thread's last signing key first: no lock, no hash.
    if let Some(mac) =
        RECENT_SIGNING_KEY.with_borrow(|r| r.as_ref().filter(|e| same(e)).map(|e| e.mac.clone()))
    {
        return mac;
    }
    let mac = shared_signing_mac(key, date, scope);
    RECENT_SIGNING_KEY.set(Some(SigningKey {
        key: key.clone(),
        day: scope.date.to_owned(),
        region: scope.region.to_owned(),
        service: scope.service.to_owned(),
        mac: mac.clone(),
    }));
    mac
}

thread_local! {
    /// The signing key this thread used last (a connection's requests share one).
    static RECENT_SIGNING_KEY: std::cell::RefCell<Option<SigningKey>> =
        const { std::cell::RefCell::new(None) };
}

/// [`signing_mac`] from the map every thread shares.
fn shared_signing_mac(key: &Arc<Key>, date: SystemTime, scope: &parse::Scope<'_>) -> Hmac<Sha256> {
    use std::hash::BuildHasher;
    let slot =
        std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .hash_one((&key.access_key_id, scope.date, scope.region, scope.service));
    let hit = SIGNING_KEYS.read().ok().and_then(|m| {
        m.get(&slot)
            .filter(|e| {
                Arc::ptr_eq(&e.key, key)
                    && e.day == scope.date
                    && e.region == scope.region
                    && e.service == scope.service
            })
            .map(|e| e.mac.clone())
    });
    if let Some(mac) = hit {
        return mac;
    }
    let derived = aws_sigv4::sign::v4::generate_signing_key(
        &key.secret_access_key,
        date,
        scope.region,
        scope.service,
    );
    let mac =
        Hmac::<Sha256>::new_from_slice(derived.as_ref()).expect("HMAC takes a key of any length");
    if let Ok(mut m) = SIGNING_KEYS.write() {
        if m.len() >= SIGNING_KEYS_CACHED_MAX {
            m.clear();
        }
        m.insert(
            slot,
            SigningKey {
                key: key.clone(),
                day: scope.date.to_owned(),
                region: scope.region.to_owned(),
                service: scope.service.to_owned(),
                mac: mac.clone(),
            },
        );
    }
    mac
}

/// The 15-minute window around the server's clock (and a presigned URL's expiry).
fn check_window(
    signed: &parse::Signed<'_>,
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
