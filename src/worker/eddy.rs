//! The worker's way to Eddy over HTTP: one request (plain or TLS, SigV4-signed when
//! the environment has `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, as the AWS CLI
//! reads them), on kept-alive connections; the functions' DynamoDB capability
//! ([`HttpTables`]) and the failure destination ([`HttpFailures`]) on top of it.
//!
//! Owns the transport to Eddy and the worker headers of a function's call. Must not
//! know leases, NATS or delivery.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use eddy_engine::{Item, KeyAttribute, KeySchema, KeyType};
use eddy_triggers::stream::FailureSink;
use eddy_triggers::{TableApi, TableCall, TableCallError};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::host::{WORKER_FUNCTION_HEADER, WORKER_HOPS_HEADER};

/// Longest one request to Eddy may take. A function's DynamoDB call is bounded by the
/// function's own deadline too; a definitions fetch is retried on the next refresh.
const REQUEST_TIMEOUT_MS: u64 = 30_000;

/// Idle connections kept open to Eddy for the next request.
const IDLE_CONNECTIONS_MAX: usize = 32;

/// The target prefix of DynamoDB's JSON protocol.
const DYNAMODB_TARGET: &str = "DynamoDB_20120810";
/// The target prefix of DynamoDB Streams' JSON protocol.
const STREAMS_TARGET: &str = "DynamoDBStreams_20120810";

/// An answer from Eddy: its status and body.
pub(super) struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

/// Eddy's endpoint as the worker reaches it.
pub(super) struct Eddy {
    handle: tokio::runtime::Handle,
    base: String,
    host: String,
    port: u16,
    authority: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// The signing region (`AWS_REGION`, or the server's default).
    region: String,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

impl std::fmt::Debug for Eddy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Eddy")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Eddy {
    /// Eddy at `endpoint` (`http://host:port` or `https://…`).
    pub(super) fn new(endpoint: &str, handle: tokio::runtime::Handle) -> Result<Eddy, String> {
        let base = endpoint.trim_end_matches('/').to_owned();
        let uri: hyper::Uri = base
            .parse()
            .map_err(|e| format!("--endpoint {endpoint}: {e}"))?;
        let tls = match uri.scheme_str() {
            Some("https") => Some(crate::tls::client_config(
                crate::tls::ca_cert_path(None).as_deref(),
            )?),
            Some("http") => None,
            _ => {
                return Err(format!(
                    "--endpoint {endpoint}: it must start with http:// or https://"
                ));
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| format!("--endpoint {endpoint}: no host"))?
            .to_owned();
        let port = uri
            .port_u16()
            .unwrap_or(if tls.is_some() { 443 } else { 80 });
        let authority = uri
            .authority()
            .map_or_else(|| host.clone(), ToString::to_string);
        let region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|_| "us-east-1".to_owned());
        Ok(Eddy {
            handle,
            base,
            host,
            port,
            authority,
            tls,
            region,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// One request, from a plain thread (never an async worker): blocks until the
    /// answer or [`REQUEST_TIMEOUT_MS`].
    pub(super) fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Answer, String> {
        self.handle.block_on(async {
            tokio::time::timeout(
                Duration::from_millis(REQUEST_TIMEOUT_MS),
                self.send(method, path, headers, body),
            )
            .await
            .map_err(|_| {
                format!(
                    "no answer from Eddy at {} within {REQUEST_TIMEOUT_MS} ms",
                    self.base
                )
            })?
        })
    }

    async fn connection(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        loop {
            let idle = super::lock(&self.idle).pop();
            let Some(mut sender) = idle else {
                break;
            };
            // A kept connection the server closed meanwhile is dropped.
            if sender.ready().await.is_ok() {
                return Ok(sender);
            }
        }
        let io = crate::tls::connect(&self.host, self.port, self.tls.clone())
            .await
            .map_err(|e| match e {
                crate::tls::ConnectError::Unreachable(e) => {
                    format!("cannot reach Eddy at {}: {e}", self.base)
                }
                crate::tls::ConnectError::Tls(e) => format!("TLS with Eddy at {}: {e}", self.base),
            })?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| format!("no HTTP answer from Eddy at {}: {e}", self.base))?;
        tokio::spawn(connection);
        Ok(sender)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Answer, String> {
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(hyper::header::HOST, &self.authority);
        for (name, value) in headers {
            builder = builder.header(*name, value);
        }
        if let (Ok(id), Ok(secret)) = (
            std::env::var("AWS_ACCESS_KEY_ID"),
            std::env::var("AWS_SECRET_ACCESS_KEY"),
        ) {
            let token = std::env::var("AWS_SESSION_TOKEN").ok();
            for (name, value) in crate::auth::sign::sign_headers(
                method.as_str(),
                path,
                &self.authority,
                &body,
                &id,
                &secret,
                token.as_deref(),
                &self.region,
                SystemTime::now(),
                false,
            ) {
                builder = builder.header(name, value);
            }
        }
        let request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("invalid request to Eddy: {e}"))?;
        let mut sender = self.connection().await?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("no HTTP answer from Eddy at {}: {e}", self.base))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading an answer of Eddy at {}: {e}", self.base))?
            .to_bytes();
        let mut idle = super::lock(&self.idle);
        if idle.len() < IDLE_CONNECTIONS_MAX {
            idle.push(sender);
        }
        Ok(Answer { status, body })
    }

    /// A `/v1` read, as JSON.
    pub(super) fn get_json(&self, path: &str) -> Result<Value, String> {
        let answer = self.request(Method::GET, path, &[], Vec::new())?;
        if !answer.status.is_success() {
            return Err(format!(
                "GET {path} answered {}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            ));
        }
        serde_json::from_slice(&answer.body)
            .map_err(|e| format!("GET {path} answered with a body that is not JSON: {e}"))
    }

    /// One DynamoDB (or, with `streams`, DynamoDB Streams) JSON call; a refusal is
    /// DynamoDB's error code (the `__type` without its prefix) and message.
    pub(super) fn dynamodb(
        &self,
        operation: &str,
        body: &[u8],
        extra: &[(&str, String)],
        streams: bool,
    ) -> Result<Bytes, TableCallError> {
        let prefix = if streams {
            STREAMS_TARGET
        } else {
            DYNAMODB_TARGET
        };
        let mut headers = vec![
            ("content-type", "application/x-amz-json-1.0".to_owned()),
            ("x-amz-target", format!("{prefix}.{operation}")),
        ];
        headers.extend(extra.iter().map(|(n, v)| (*n, v.clone())));
        let answer = self
            .request(Method::POST, "/", &headers, body.to_vec())
            .map_err(|e| TableCallError::new("InternalServerError", e))?;
        if answer.status.is_success() {
            return Ok(answer.body);
        }
        let json: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        let code = json["__type"]
            .as_str()
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
            .unwrap_or_else(|| "InternalServerError".to_owned());
        let message = json["message"]
            .as_str()
            .or_else(|| json["Message"].as_str())
            .map_or_else(|| format!("HTTP {}", answer.status), str::to_owned);
        Err(TableCallError { code, message })
    }
}

/// A function's DynamoDB capability in a worker: the call goes to Eddy's `POST /`
/// with the worker headers (the records' hop count and the function's name). Eddy
/// holds it to the function's role, as it holds an in-process invocation, and marks its
/// writes with the hops, so the recursive-loop guard sees them. The executor has
/// already checked the operation name and size.
pub(super) struct HttpTables {
    pub eddy: Arc<Eddy>,
}

impl TableApi for HttpTables {
    fn call(&self, call: TableCall<'_>) -> Result<String, TableCallError> {
        let headers = [
            (WORKER_HOPS_HEADER, call.context.origin_hops.to_string()),
            (WORKER_FUNCTION_HEADER, call.grant.function().to_owned()),
        ];
        let body = self.eddy.dynamodb(
            call.operation,
            call.request_json.as_bytes(),
            &headers,
            false,
        )?;
        String::from_utf8(body.to_vec())
            .map_err(|_| TableCallError::new("InternalServerError", "the answer is not UTF-8"))
    }
}

/// The failure destination in a worker: DescribeTable for the key schema, PutItem for
/// the item, both at Eddy.
pub(super) struct HttpFailures {
    pub eddy: Arc<Eddy>,
}

impl FailureSink for HttpFailures {
    fn key_schema(&self, table: &str) -> Result<KeySchema, String> {
        let body = json!({ "TableName": table }).to_string();
        let answer = self
            .eddy
            .dynamodb("DescribeTable", body.as_bytes(), &[], false)
            .map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_slice(&answer).map_err(|e| e.to_string())?;
        let t = &v["Table"];
        let type_of = |name: &str| {
            t["AttributeDefinitions"]
                .as_array()
                .and_then(|defs| {
                    defs.iter()
                        .find(|d| d["AttributeName"].as_str() == Some(name))
                })
                .and_then(|d| d["AttributeType"].as_str())
                .map(|t| match t {
                    "N" => KeyType::N,
                    "B" => KeyType::B,
                    _ => KeyType::S,
                })
                .unwrap_or(KeyType::S)
        };
        let mut hash = None;
        let mut range = None;
        for k in t["KeySchema"].as_array().into_iter().flatten() {
            let name = k["AttributeName"].as_str().unwrap_or_default().to_owned();
            let attr = KeyAttribute {
                key_type: type_of(&name),
                name,
            };
            match k["KeyType"].as_str() {
                Some("HASH") => hash = Some(attr),
                Some("RANGE") => range = Some(attr),
                _ => {}
            }
        }
        let hash = hash.ok_or_else(|| format!("table {table} has no partition key"))?;
        Ok(KeySchema { hash, range })
    }

    fn put(&self, table: &str, item: Item) -> Result<(), String> {
        let body = json!({ "TableName": table, "Item": crate::wire::WireOut(&item) }).to_string();
        self.eddy
            .dynamodb("PutItem", body.as_bytes(), &[], false)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
