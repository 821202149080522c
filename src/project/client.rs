//! A blocking client of one Eddy server for the project commands: `/v1` requests and
//! DynamoDB API calls, over the client commands' transport (`crate::remote`), each
//! answered as (status, JSON).
//!
//! Owns turning a refusal into one line of text. Must not know what the calls mean.

use hyper::Method;
use serde_json::Value;

use crate::remote::{self, Endpoint};

/// The DynamoDB API version prefix of `X-Amz-Target`.
const DYNAMODB_TARGET_PREFIX: &str = "DynamoDB_20120810.";

/// A connection-less client: each call opens its own connection, as the other client
/// commands do.
pub struct Client {
    endpoint: Endpoint,
    runtime: tokio::runtime::Runtime,
}

/// A call's answer: its status and body (JSON, or `Null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    raw: Vec<u8>,
}

impl Answer {
    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The error as one line: Eddy's `code: message` or DynamoDB's `type: message`.
    pub fn error(&self) -> String {
        let dynamodb = self
            .body
            .get("__type")
            .and_then(Value::as_str)
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned());
        if let Some(kind) = dynamodb {
            let message = self
                .body
                .get("message")
                .or_else(|| self.body.get("Message"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            let error = format!("{kind}: {message}");
            // Said in the client commands' words (`remote::refusal`), for DynamoDB's
            // answer to an unsigned request too.
            return if kind == "MissingAuthenticationTokenException" {
                format!(
                    "{error} (this Eddy verifies signatures: set AWS_ACCESS_KEY_ID and \
                     AWS_SECRET_ACCESS_KEY to one of its access keys)"
                )
            } else {
                error
            };
        }
        format!("{}: {}", self.status, remote::refusal_text(&self.raw))
    }

    /// The DynamoDB error type (`ResourceNotFoundException`), if the body is one.
    pub fn dynamodb_error(&self) -> Option<&str> {
        self.body
            .get("__type")
            .and_then(Value::as_str)
            .map(|t| t.rsplit('#').next().unwrap_or(t))
    }
}

impl Client {
    pub fn new(endpoint: Endpoint) -> Result<Client, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the client: {e}"))?;
        Ok(Client { endpoint, runtime })
    }

    /// The endpoint's base URL, naming the server in messages and in deploy records.
    pub fn base(&self) -> String {
        self.endpoint.base().unwrap_or_default()
    }

    /// A `/v1` request.
    pub fn v1(
        &self,
        method: Method,
        path: &str,
        content_type: &'static str,
        body: Vec<u8>,
    ) -> Result<Answer, String> {
        self.call(method, path, content_type, None, body)
    }

    /// A `/v1` request with a JSON body (or none for `Value::Null`).
    pub fn v1_json(&self, method: Method, path: &str, body: &Value) -> Result<Answer, String> {
        let body = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        self.v1(method, path, "application/json", body)
    }

    /// A DynamoDB API call (`operation` is e.g. `CreateTable`).
    pub fn dynamodb(&self, operation: &str, body: &Value) -> Result<Answer, String> {
        self.call(
            Method::POST,
            "/",
            "application/x-amz-json-1.0",
            Some(format!("{DYNAMODB_TARGET_PREFIX}{operation}")),
            body.to_string().into_bytes(),
        )
    }

    fn call(
        &self,
        method: Method,
        path: &str,
        content_type: &'static str,
        amz_target: Option<String>,
        body: Vec<u8>,
    ) -> Result<Answer, String> {
        let (status, raw) = self.runtime.block_on(remote::call(
            &self.endpoint,
            method,
            path.to_owned(),
            content_type,
            amz_target,
            body,
        ))?;
        let raw = raw.to_vec();
        Ok(Answer {
            status: status.as_u16(),
            body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
            raw,
        })
    }
}

/// Percent-encodes a path segment.
pub fn encode(s: &str) -> String {
    remote::encode_segment(s)
}
