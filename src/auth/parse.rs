//! Reading a request's SigV4 signature: the `Authorization` header
//! (`AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`) or a presigned
//! query string (`X-Amz-Algorithm=…&X-Amz-Credential=…`), and the credential scope
//! (`key/date/region/service/aws4_request`) both carry.
//!
//! Owns the syntax and DynamoDB's messages for a signature that is missing or
//! incomplete. Must not know any key or secret: whether the signature is right is
//! `verify.rs`'s business.

use std::borrow::Cow;

use axum::http::{HeaderMap, HeaderName, header};

use super::AuthError;

/// The only algorithm DynamoDB accepts.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The longest life of a presigned URL, seconds (SigV4's week).
pub const PRESIGNED_EXPIRES_S_MAX: u64 = 7 * 24 * 3600;

/// A signature as the request states it: borrowed from its headers (the common case,
/// read on every request), owned when decoded from a presigned query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed<'a> {
    pub algorithm: Cow<'a, str>,
    /// The whole `Credential` (`key/date/region/service/terminator`).
    pub credential: Cow<'a, str>,
    /// `SignedHeaders`, lower-case names separated by `;`.
    pub signed_headers: Cow<'a, str>,
    pub signature: Cow<'a, str>,
    /// `X-Amz-Date` (or `Date`), as sent.
    pub date: Cow<'a, str>,
    /// `X-Amz-Expires` of a presigned query string, seconds.
    pub expires_s: Option<u64>,
    /// `X-Amz-Security-Token`, from the header or the query.
    pub security_token: Option<Cow<'a, str>>,
    /// Whether the signature came in the query string.
    pub presigned: bool,
}

/// A credential scope's five parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope<'a> {
    pub key: &'a str,
    pub date: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    pub terminator: &'a str,
}

/// The credential scope of a request's `Authorization` header, if it has one; no
/// check beyond its shape (DynamoDB Local's namespaces read the key and region of
/// requests it never verifies).
pub fn header_scope(headers: &HeaderMap) -> Option<(String, String)> {
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let params = header_params(auth);
    let credential = params.into_iter().find(|(k, _)| *k == "Credential")?.1;
    let scope = scope(credential).ok()?;
    Some((scope.key.to_owned(), scope.region.to_owned()))
}

/// The `key=value` parameters after the algorithm of an `Authorization` header, split
/// the way DynamoDB splits them (spaces are dropped, commas separate).
fn header_params(auth: &str) -> impl Iterator<Item = (&str, &str)> {
    let rest = auth.trim().split_once(' ').map_or("", |(_, rest)| rest);
    rest.split(',').filter_map(|p| {
        let p = p.trim();
        p.split_once('=').map(|(k, v)| (k.trim(), v.trim()))
    })
}

/// Splits a credential into its scope; DynamoDB's IncompleteSignatureException
/// when it does not have five parts (trailing slashes are ignored, as DynamoDB does).
pub fn scope(credential: &str) -> Result<Scope<'_>, AuthError> {
    let trimmed = credential.trim_end_matches('/');
    let mut parts = trimmed.split('/');
    let mut next = || parts.next();
    match (next(), next(), next(), next(), next(), next()) {
        (Some(key), Some(date), Some(region), Some(service), Some(terminator), None) => Ok(Scope {
            key,
            date,
            region,
            service,
            terminator,
        }),
        _ => Err(AuthError::Incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. \
             keyid/date/region/service/term, got '{trimmed}'"
        ))),
    }
}

/// Header names read on every request, made once rather than parsed each time.
const SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-amz-security-token");
const AMZ_DATE: HeaderName = HeaderName::from_static("x-amz-date");

/// The signature of a request: from its `Authorization` header, else from its query
/// string; DynamoDB's errors when it has none or an incomplete one.
pub fn signed<'a>(headers: &'a HeaderMap, query: Option<&str>) -> Result<Signed<'a>, AuthError> {
    let header_value = |name: HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let token_header = header_value(SECURITY_TOKEN);
    let Some(auth) = headers.get(header::AUTHORIZATION) else {
        let pairs = query.map(query_pairs).unwrap_or_default();
        if pairs.iter().any(|(k, _)| k.starts_with("X-Amz-")) {
            return presigned(&pairs, token_header);
        }
        return Err(AuthError::Missing);
    };
    let auth = auth.to_str().map_err(|_| AuthError::Missing)?;
    // DynamoDB answers anything that is not an AWS4 signature as if there were none.
    if !auth.trim().starts_with("AWS4-") {
        return Err(AuthError::Missing);
    }
    // Each parameter is read in one pass (the first of a name counts); an empty value
    // counts as missing.
    let (mut credential, mut signature, mut signed_headers) = (None, None, None);
    for (k, v) in header_params(auth) {
        let slot: &mut Option<&str> = match k {
            "Credential" => &mut credential,
            "Signature" => &mut signature,
            "SignedHeaders" => &mut signed_headers,
            _ => continue,
        };
        slot.get_or_insert(v);
    }
    let [credential, signature, signed_headers] =
        [credential, signature, signed_headers].map(|v| v.filter(|v| !v.is_empty()));
    let date = header_value(AMZ_DATE).or_else(|| header_value(header::DATE));
    let mut msg = String::new();
    for (name, value) in [
        ("Credential", credential),
        ("Signature", signature),
        ("SignedHeaders", signed_headers),
    ] {
        if value.is_none() {
            msg.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    if date.is_none() {
        msg.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    if !msg.is_empty() {
        return Err(AuthError::Incomplete(format!("{msg}Authorization={auth}")));
    }
    Ok(Signed {
        algorithm: Cow::Borrowed(auth.trim().split(' ').next().unwrap_or("")),
        credential: Cow::Borrowed(credential.unwrap_or_default()),
        signed_headers: Cow::Borrowed(signed_headers.unwrap_or_default()),
        signature: Cow::Borrowed(signature.unwrap_or_default()),
        date: Cow::Borrowed(date.unwrap_or_default()),
        expires_s: None,
        security_token: token_header.map(Cow::Borrowed),
        presigned: false,
    })
}

/// The signature of a presigned query string.
fn presigned<'a>(
    pairs: &[(String, String)],
    token_header: Option<&'a str>,
) -> Result<Signed<'a>, AuthError> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let required = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-SignedHeaders",
        "X-Amz-Date",
    ];
    let missing: String = required
        .iter()
        .filter(|name| get(name).is_none())
        .map(|name| format!("AWS query-string parameters must include '{name}'. "))
        .collect();
    if !missing.is_empty() {
        return Err(AuthError::Incomplete(format!(
            "{missing}Re-examine the query-string parameters."
        )));
    }
    let expires_s = match get("X-Amz-Expires") {
        None => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            AuthError::Incomplete(format!(
                "X-Amz-Expires must be a non-negative integer, got '{v}'. Re-examine the \
                 query-string parameters."
            ))
        })?),
    };
    // SigV4 caps a presigned URL's life at a week; the wording is S3's (DynamoDB's own
    // for this case is not recorded).
    if expires_s.is_some_and(|s| s > PRESIGNED_EXPIRES_S_MAX) {
        return Err(AuthError::Incomplete(format!(
            "X-Amz-Expires must be less than a week (in seconds) that is {PRESIGNED_EXPIRES_S_MAX}"
        )));
    }
    Ok(Signed {
        algorithm: Cow::Owned(get("X-Amz-Algorithm").unwrap_or_default()),
        credential: Cow::Owned(get("X-Amz-Credential").unwrap_or_default()),
        signed_headers: Cow::Owned(get("X-Amz-SignedHeaders").unwrap_or_default()),
        signature: Cow::Owned(get("X-Amz-Signature").unwrap_or_default()),
        date: Cow::Owned(get("X-Amz-Date").unwrap_or_default()),
        expires_s,
        security_token: get("X-Amz-Security-Token")
            .map(Cow::Owned)
            .or(token_header.map(Cow::Borrowed)),
        presigned: true,
    })
}

/// A query string's pairs, decoded (`None` pairs of a bad escape are kept raw, so
/// that the canonical request shows what was sent).
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| crate::percent::decode_component(s).unwrap_or_else(|| s.to_owned());
            (dec(k), dec(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn a_header_signature_is_read() {
        let h = headers(&[
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/dynamodb/aws4_request, \
                 SignedHeaders=host;x-amz-date, Signature=abc",
            ),
            ("x-amz-date", "20260101T000000Z"),
        ]);
        let s = signed(&h, None).unwrap();
        assert_eq!(
            s.credential,
            "AKID/20260101/eu-west-1/dynamodb/aws4_request"
        );
        assert_eq!(s.signed_headers, "host;x-amz-date");
        assert_eq!(s.signature, "abc");
        assert!(!s.presigned);
        assert_eq!(
            header_scope(&h),
            Some(("AKID".to_owned(), "eu-west-1".to_owned()))
        );
    }

    #[test]
    fn missing_and_incomplete_signatures_get_dynamodbs_messages() {
        assert_eq!(signed(&HeaderMap::new(), None), Err(AuthError::Missing));
        let h = headers(&[("authorization", "Basic abc")]);
        assert_eq!(signed(&h, None), Err(AuthError::Missing));
        let h = headers(&[("authorization", "AWS4-HMAC-SHA256 Signature=b")]);
        assert_eq!(
            signed(&h, None),
            Err(AuthError::Incomplete(
                "Authorization header requires 'Credential' parameter. Authorization header \
                 requires 'SignedHeaders' parameter. Authorization header requires existence \
                 of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 \
                 Signature=b"
                    .to_owned()
            ))
        );
        assert_eq!(
            scope("a/b/c/d").map(|s| s.key),
            Err(AuthError::Incomplete(
                "Credential must have exactly 5 slash-delimited elements, e.g. \
                 keyid/date/region/service/term, got 'a/b/c/d'"
                    .to_owned()
            ))
        );
        let presigned_query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=K%2F20260101%2Fr%2Fdynamodb%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=ab";
        let none = HeaderMap::new();
        let s = signed(&none, Some(&format!("{presigned_query}&X-Amz-Expires=300"))).unwrap();
        assert!(s.presigned);
        assert_eq!(s.credential, "K/20260101/r/dynamodb/aws4_request");
        assert_eq!(s.expires_s, Some(300));
        assert!(matches!(
            signed(&HeaderMap::new(), Some(&format!("{presigned_query}&X-Amz-Expires=604801"))),
            Err(AuthError::Incomplete(m)) if m.starts_with("X-Amz-Expires must be less than a week")
        ));
        let e = signed(&HeaderMap::new(), Some("X-Amz-Algorithm=AWS4-HMAC-SHA256")).unwrap_err();
        assert!(matches!(e, AuthError::Incomplete(m) if m.starts_with(
            "AWS query-string parameters must include 'X-Amz-Credential'. ")));
    }
}
