//! Access control: Signature Version 4 on every DynamoDB, Streams and `/v1` request
//! (`--auth sigv4`), or none (`--auth off`, the default on a loopback address), and
//! whether the signer is an administrator (`/v1` changes and `/v1/iam` need one).
//!
//! Owns the mode, the credentials (`keys.rs`), reading a signature (`parse.rs`), the
//! SigV4 computation (`sign.rs`), verifying (`verify.rs`) and the answers to a refused
//! request. Must not know what a request does once it is let through (the `/v1` guard
//! that calls it lives with the `/v1` routes, in `api/guard.rs`).

pub mod decide;
pub mod keys;
mod parse;
pub mod policy;
pub mod sign;
pub mod users;
pub mod verify;

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;

pub use keys::{Key, Keys};
pub use parse::header_scope;
pub use users::Users;
pub use verify::CLOCK_SKEW_MS_MAX;

/// The service name of Eddy's signatures (DynamoDB's and DynamoDB Streams' signing name).
pub const SERVICE: &str = "dynamodb";
/// Application Auto Scaling's signing name: its calls (`scaling/wire.rs`) come signed
/// for it, on the same port and with the same keys.
pub const SCALING_SERVICE: &str = "application-autoscaling";
/// Lambda's signing name: its REST API (`crate::lambda`) shares the port and the keys.
pub const LAMBDA_SERVICE: &str = "lambda";

/// Largest `/v1` body buffered to check its payload hash; a request sending more must
/// sign it as `UNSIGNED-PAYLOAD` (the CLI signs the bodies it sends, all smaller).
pub const V1_SIGNED_BODY_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Whether requests are verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Off,
    SigV4,
}

/// What anyone may read unsigned while requests are verified (`--public-metrics`,
/// `--public-v1-reads`): by default nothing but `GET /` and `/health`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Public {
    /// `GET /metrics`.
    pub metrics: bool,
    /// `GET` and `HEAD` on `/v1` (functions, triggers, schedules, logs, search), never
    /// `/v1/iam`.
    pub v1_reads: bool,
}

struct Auth {
    mode: Mode,
    keys: Arc<Keys>,
    users: Arc<Users>,
    public: Public,
}

static AUTH: OnceLock<Auth> = OnceLock::new();

/// Sets the mode, the credential store and what is public, once, before the first
/// request; false if they were already set.
pub fn configure(mode: Mode, keys: Arc<Keys>, users: Arc<Users>, public: Public) -> bool {
    AUTH.set(Auth {
        mode,
        keys,
        users,
        public,
    })
    .is_ok()
}

/// The users and their policies, once configured (the `/v1/iam` routes and the
/// policy checks use them).
pub fn users() -> Option<&'static Arc<Users>> {
    AUTH.get().map(|a| &a.users)
}

/// What anyone may read unsigned (nothing, before [`configure`]).
pub fn public() -> Public {
    AUTH.get().map(|a| a.public).unwrap_or_default()
}

/// The credential store when requests are verified (`--auth sigv4`); `None` with
/// `--auth off`.
pub fn verifying() -> Option<&'static Arc<Keys>> {
    AUTH.get()
        .filter(|a| a.mode == Mode::SigV4)
        .map(|a| &a.keys)
}

/// The credential store, once configured (the `/v1/iam` routes use it).
pub fn keys() -> Option<&'static Arc<Keys>> {
    AUTH.get().map(|a| &a.keys)
}

/// Why a request was refused: DynamoDB's error types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    Missing,
    Incomplete(String),
    InvalidSignature(String),
    Unrecognized(&'static str),
    /// A valid signature of a key that is not an administrator's, on an
    /// administrator's route.
    NotAdmin(String),
}

impl AuthError {
    /// DynamoDB's name for the error (the part of `__type` after `#`).
    pub fn kind(&self) -> &'static str {
        match self {
            AuthError::Missing => "MissingAuthenticationTokenException",
            AuthError::Incomplete(_) => "IncompleteSignatureException",
            AuthError::InvalidSignature(_) => "InvalidSignatureException",
            AuthError::Unrecognized(_) => "UnrecognizedClientException",
            AuthError::NotAdmin(_) => "AccessDeniedException",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            AuthError::Missing => "Request is missing Authentication Token",
            AuthError::Incomplete(m) | AuthError::InvalidSignature(m) | AuthError::NotAdmin(m) => m,
            AuthError::Unrecognized(m) => m,
        }
    }

    /// DynamoDB's answer: 400 with `com.amazon.coral.service#<type>` (dynalite).
    pub fn dynamodb_response(&self) -> Response {
        let body = serde_json::json!({
            "__type": format!("com.amazon.coral.service#{}", self.kind()),
            "message": self.message(),
        });
        let mut resp =
            crate::error::json_response(StatusCode::BAD_REQUEST, body.to_string().into_bytes());
        crate::metrics::mark_error(&mut resp, self.kind());
        self.mark(resp)
    }

    /// A refusal carries its error in the response's extensions, so that whoever
    /// records refusals (the audit log) reads why without parsing the body.
    fn mark(&self, mut resp: Response) -> Response {
        resp.extensions_mut().insert(Refusal {
            kind: self.kind(),
            message: self.message().to_owned(),
        });
        resp
    }

    /// The `/v1` API's answer: its error shape with the same type, and 403, as AWS's
    /// REST APIs (Lambda's) refuse a signature.
    pub fn v1_response(&self) -> Response {
        let body = serde_json::json!({
            "error": {"code": self.kind(), "message": self.message()},
        });
        let resp =
            crate::error::json_response(StatusCode::FORBIDDEN, body.to_string().into_bytes());
        self.mark(resp)
    }
}

/// Why a request was refused, in the extensions of its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// DynamoDB's error type (`InvalidSignatureException`, …).
    pub kind: &'static str,
    pub message: String,
}

/// The access key id a request names (in its `Authorization` header or its presigned
/// query string), whether or not its signature is valid.
pub fn claimed_key_id(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    match parse::signed(headers, uri.query()) {
        Ok(signed) => parse::scope(&signed.credential)
            .ok()
            .map(|scope| scope.key.to_owned()),
        Err(_) => header_scope(headers).map(|(key, _)| key),
    }
}

/// Verifies a DynamoDB or Streams request (its body already read): the signer's key
/// (`None` with `--auth off`), or the answer to send instead when it is refused (which
/// carries its [`Refusal`]).
#[allow(
    clippy::result_large_err,
    reason = "a refusal is the rare path, and its answer is moved once, to the client"
)]
pub fn check_dynamodb(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<Arc<Key>>, Response> {
    let Some(auth) = AUTH.get().filter(|a| a.mode == Mode::SigV4) else {
        return Ok(None);
    };
    verify::verify(
        &auth.keys,
        method,
        uri,
        headers,
        Some(body),
        SystemTime::now(),
    )
    .map(Some)
    .map_err(|e| e.dynamodb_response())
}
