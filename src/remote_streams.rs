//! The DynamoDB Streams client of remote-source triggers: one JSON call
//! (`DynamoDBStreams_20120810.<Operation>`) to another endpoint, over HTTP or HTTPS,
//! signed with SigV4 when the server's environment has credentials
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), as the AWS CLI
//! reads them. Credentials are never stored in a mapping.
//!
//! Owns the transport and the error shape of a remote answer. Must not know polling or
//! triggers (`eddy-triggers` does that through [`StreamsApi`]).

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use eddy_triggers::stream::{RemoteError, StreamsApi};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// Longest one remote call may take: `GetRecords` answers at once, so a slower answer
/// is a sick endpoint, retried by the poller.
const CALL_TIMEOUT_MS: u64 = 5_000;

/// The target prefix of DynamoDB Streams' JSON protocol.
const TARGET_PREFIX: &str = "DynamoDBStreams_20120810";

/// Sends DynamoDB Streams calls from the server's async runtime.
pub struct HttpStreamsApi {
    pub handle: tokio::runtime::Handle,
    /// This server's region: the signing region of an endpoint that does not name one.
    pub region: String,
}

/// The region an AWS endpoint names (`streams.dynamodb.<region>.amazonaws.com`).
fn endpoint_region(host: &str) -> Option<&str> {
    host.strip_prefix("streams.dynamodb.")?
        .strip_suffix(".amazonaws.com")
}

fn failure(message: String) -> RemoteError {
    RemoteError {
        code: String::new(),
        message,
    }
}

impl StreamsApi for HttpStreamsApi {
    fn call(&self, endpoint: &str, operation: &str, body: &Value) -> Result<Value, RemoteError> {
        // Poller threads are plain threads, never runtime workers: blocking here is fine.
        self.handle.block_on(async {
            tokio::time::timeout(
                Duration::from_millis(CALL_TIMEOUT_MS),
                self.send(endpoint, operation, body),
            )
            .await
            .map_err(|_| {
                failure(format!(
                    "no answer from {endpoint} within {CALL_TIMEOUT_MS} ms"
                ))
            })?
        })
    }
}

impl HttpStreamsApi {
    async fn send(
        &self,
        endpoint: &str,
        operation: &str,
        body: &Value,
    ) -> Result<Value, RemoteError> {
        let uri: hyper::Uri = endpoint
            .parse()
            .map_err(|e| failure(format!("invalid endpoint {endpoint}: {e}")))?;
        let tls = match uri.scheme_str() {
            Some("https") => Some(crate::tls::client_config(None).map_err(failure)?),
            _ => None,
        };
        let host = uri.host().unwrap_or_default().to_owned();
        let port = uri
            .port_u16()
            .unwrap_or(if tls.is_some() { 443 } else { 80 });
        let authority = uri
            .authority()
            .map_or_else(|| host.clone(), ToString::to_string);
        let bytes = serde_json::to_vec(body).map_err(|e| failure(e.to_string()))?;
        let mut builder = Request::builder()
            .method("POST")
            .uri("/")
            .header(hyper::header::HOST, &authority)
            .header(hyper::header::CONTENT_TYPE, "application/x-amz-json-1.0")
            .header("x-amz-target", format!("{TARGET_PREFIX}.{operation}"));
        if let (Ok(id), Ok(secret)) = (
            std::env::var("AWS_ACCESS_KEY_ID"),
            std::env::var("AWS_SECRET_ACCESS_KEY"),
        ) {
            let token = std::env::var("AWS_SESSION_TOKEN").ok();
            let region = endpoint_region(&host).unwrap_or(&self.region);
            for (name, value) in crate::auth::sign::sign_headers(
                "POST",
                "/",
                &authority,
                &bytes,
                &id,
                &secret,
                token.as_deref(),
                region,
                SystemTime::now(),
                false,
            ) {
                builder = builder.header(name, value);
            }
        }
        let request = builder
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|e| failure(format!("invalid request to {endpoint}: {e}")))?;
        let io = crate::tls::connect(&host, port, tls)
            .await
            .map_err(|e| match e {
                crate::tls::ConnectError::Unreachable(e) => {
                    failure(format!("cannot connect to {endpoint}: {e}"))
                }
                crate::tls::ConnectError::Tls(e) => failure(format!("TLS with {endpoint}: {e}")),
            })?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| failure(format!("no HTTP answer from {endpoint}: {e}")))?;
        tokio::spawn(connection);
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| failure(format!("no HTTP answer from {endpoint}: {e}")))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| failure(format!("reading the answer of {endpoint}: {e}")))?
            .to_bytes();
        let json: Value = serde_json::from_slice(&body).map_err(|_| {
            failure(format!(
                "{endpoint} answered {status} with a body that is not JSON"
            ))
        })?;
        if status.is_success() {
            return Ok(json);
        }
        // `__type` is `com.amazonaws.dynamodb.v20120810#ExpiredIteratorException` or
        // the bare name; the poller matches the bare name.
        let code = json["__type"]
            .as_str()
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
            .unwrap_or_else(|| format!("HTTP {status}"));
        let message = json["message"]
            .as_str()
            .or_else(|| json["Message"].as_str())
            .unwrap_or_default()
            .to_owned();
        Err(RemoteError { code, message })
    }
}
