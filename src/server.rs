//! The HTTP edge: the axum router (DynamoDB on `POST /`, health on `GET /`, Eddy's own
//! API under `/v1/` and `/metrics` from `api/`), the fast path for `POST /`, the
//! containment of a panicking handler to its own request, and the server loop with
//! graceful shutdown. Connections and their timeouts are `server/conn.rs`, CORS is
//! `server/cors.rs`; request bodies, their size limits, their decompression and the
//! budget of body bytes are `body.rs`.
//!
//! Owns the top of the edge: it knows every route, and no module imports it but the
//! CLI that starts it.

mod banner;
mod conn;
mod cors;
mod namespace;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::ServiceExt;

pub use crate::body::{
    BODY_BUDGET_WAIT_MS, BODY_READ_BYTES_PER_S_MIN, BODY_READ_TIMEOUT_MS,
    REQUEST_BODY_BYTES_IN_FLIGHT_MAX, REQUEST_BODY_BYTES_IN_FLIGHT_MIN,
    configure as configure_body_budget,
};
pub use conn::{CONNECTIONS_MAX, HEADER_READ_TIMEOUT_MS, IDLE_TIMEOUT_MS};
pub use cors::PREFLIGHT_MAX_AGE_S;
pub use namespace::configure as configure_namespaces;

use crate::api::Problem;
use crate::auth::decide::Subject;
use crate::body::coding::CodingError;
use crate::body::{self, BodyError};
use crate::dynamodb;
use crate::error::{ApiError, json_response};
use crate::metrics::{self, Tally};
use crate::state::AppState;
use bytes::Bytes;
use namespace::Namespace;

/// Largest request body DynamoDB accepts; a larger one is refused with 413 before it is
/// read, as DynamoDB's front end does.
pub const REQUEST_BODY_BYTES_MAX: usize = /* 16 MiB */ 16 * 1024 * 1024;

/// Largest body a compressed DynamoDB request (`Content-Encoding: gzip` or `deflate`)
/// may decompress to; beyond it the request is refused with 413 like a plain one over
/// [`REQUEST_BODY_BYTES_MAX`]. DynamoDB itself does not bound it (ScyllaDB's
/// Alternator tests found a 1 GB decompressed request accepted there); Eddy does, so
/// that a small compressed body cannot make it hold more than a plain one.
pub const REQUEST_BODY_DECODED_BYTES_MAX: usize = REQUEST_BODY_BYTES_MAX;

/// Bytes of header lines (names, values, and 4 for `: ` and the line end) a request may
/// carry. DynamoDB refuses a request whose headers are over 16 KB with a 400 Bad Request
/// (ScyllaDB's Alternator tests, run against DynamoDB: test_manual_requests.py).
/// hyper refuses on its own, with 431, a head over its read buffer (about 400 KB) or
/// with more than 100 header lines, before the edge sees it.
pub const REQUEST_HEADERS_BYTES_MAX: usize = 16 * 1024;
/// Bytes of the request target (path and query) a request may name: DynamoDB refuses a
/// longer URL with a 400 Bad Request too (same source). hyper answers 414 for a target
/// over 64 KiB before the edge sees it.
pub const REQUEST_TARGET_BYTES_MAX: usize = 16 * 1024;

/// Why a request's head is over DynamoDB's limits, if it is.
fn oversized_head(req: &Request) -> Option<String> {
    let target = req
        .uri()
        .path_and_query()
        .map_or(req.uri().path().len(), |pq| pq.as_str().len());
    if target > REQUEST_TARGET_BYTES_MAX {
        return Some(format!(
            "The request URL is {target} bytes long; the limit is {REQUEST_TARGET_BYTES_MAX} bytes"
        ));
    }
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    (headers > REQUEST_HEADERS_BYTES_MAX).then(|| {
        format!(
            "The request headers are {headers} bytes; the limit is {REQUEST_HEADERS_BYTES_MAX} bytes"
        )
    })
}

/// The whole HTTP surface, callable without a socket (`app(state).oneshot(req)`).
pub fn app(state: AppState) -> Router {
    Router::new()
        .route(
            "/",
            get(crate::health::root).post(
                |State(state): State<AppState>, req: Request| async move {
                    // Requests through the router (tests' `oneshot`) are not counted.
                    dynamodb_request(&state, req, &Tally::default()).await
                },
            ),
        )
        .route("/health", get(crate::health::details))
        .merge(crate::api::routes().layer(axum::middleware::from_fn(crate::api::v1_guard)))
        // Lambda's REST API (`/2015-03-31/…`), with its own guard and error shape.
        .merge(crate::lambda::routes())
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

const DYNAMODB: &str = "com.amazonaws.dynamodb.v20120810";

/// A request a policy refused: DynamoDB's `AccessDeniedException` (400), recorded in
/// the audit log.
fn denied(
    key: Option<&crate::auth::Key>,
    subject: &Subject,
    d: crate::auth::decide::Denial,
) -> ApiError {
    crate::audit::denied(
        &crate::audit::Identity::of(key),
        subject.principal.source_ip,
        &d.action,
        &d.resource,
        "AccessDeniedException",
        &d.message,
    );
    ApiError::Refused {
        code: "AccessDeniedException".to_owned(),
        message: d.message,
    }
}

/// Answers a DynamoDB or DynamoDB Streams request; `tally` learns the tables it names.
async fn dynamodb_request(state: &AppState, req: Request, tally: &Tally) -> Response {
    let (parts, body) = req.into_parts();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Application Auto Scaling's own protocol shares the port (`scaling/wire.rs`).
    if let Some(op) = target.strip_prefix("AnyScaleFrontendService.") {
        let op = op.to_owned();
        return crate::scaling::wire::request(parts, body, op).await;
    }
    let (service, op) = match target.split_once('.') {
        Some((service @ ("DynamoDB_20120810" | "DynamoDBStreams_20120810"), op)) => (service, op),
        _ => return ApiError::UnknownTarget(target.to_owned()).into_response(),
    };
    // The body's share of the budget is held until the answer is ready: the request
    // parsed from it lives that long too.
    let buffered = match body::read(&parts.headers, body, REQUEST_BODY_BYTES_MAX).await {
        Ok(buffered) => buffered,
        Err(e) => return body_error(&e, op),
    };
    // The signature covers the body as sent (before any decompression).
    let key = match crate::auth::check_dynamodb(
        &parts.method,
        &parts.uri,
        &parts.headers,
        &buffered.bytes,
    ) {
        Ok(key) => key,
        Err(refused) => {
            return crate::audit::dynamodb_refused(&parts, op, &buffered.bytes, refused);
        }
    };
    // A key that is not an administrator's is held to its user's policies.
    let subject = key.as_ref().filter(|k| !k.admin).and_then(|key| {
        let users = crate::auth::users()?;
        Some(Subject::of(
            key,
            users,
            &state.engine.config().account_id,
            crate::audit::source_ip(&parts.extensions),
        ))
    });
    let buffered = match body::coding::coding(&parts.headers) {
        Ok(coding) => body::coding::decode(buffered, coding, REQUEST_BODY_DECODED_BYTES_MAX).await,
        Err(e) => Err(e),
    };
    let buffered = match buffered {
        Ok(buffered) => buffered,
        Err(CodingError::Body(e)) => return body_error(&e, op),
        // DynamoDB answers a body it cannot decode, and a coding it does not know, with a
        // 500 InternalServerError (ScyllaDB's Alternator tests, run against DynamoDB:
        // test_compressed_request.py). Its message there is not recorded; Eddy's says
        // what is wrong with the body.
        Err(e) => {
            tracing::debug!(error = %e, operation = op, "a request body was not decoded");
            return dynamodb_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("{DYNAMODB}#InternalServerError"),
                &e.to_string(),
            );
        }
    };
    // DynamoDB Local's separate databases (off unless started its way without
    // -sharedDb): the request's table names become its namespace's.
    let namespace = Namespace::of(&parts.headers, &state.engine.config().region);
    let request = match &namespace {
        Some(ns) => ns
            .inward(op, &buffered.bytes)
            .map_or_else(|| buffered.bytes.clone(), Bytes::from),
        None => buffered.bytes.clone(),
    };
    // Worker headers count only from a caller not held to a user's policies.
    let worker = subject
        .is_none()
        .then(|| crate::host::worker_call(&parts.headers))
        .flatten();
    let result = match (service, op) {
        // DescribeEndpoints names the host the client used, which only the edge knows.
        ("DynamoDB_20120810", "DescribeEndpoints") => {
            let host = parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok());
            Ok(dynamodb::describe_endpoints(&state.engine, host))
        }
        ("DynamoDB_20120810", _) => match (&subject, &worker) {
            // A trigger worker's call for a function, from a caller trusted with it.
            (None, Some(call)) => {
                crate::host::dispatch_worker_call(
                    &state.engine,
                    &state.platform.functions,
                    call,
                    op,
                    &request,
                    &|t| tally.note(t),
                )
                .await
            }
            (None, None) => {
                let gate = |r: &dyn dynamodb::request::NamesTables| {
                    r.tables().into_iter().for_each(|t| tally.note(t));
                    Ok(())
                };
                dynamodb::dispatch_gated(&state.engine, op, &request, Some(&gate)).await
            }
            (Some(subject), _) => {
                let config = state.engine.config();
                let gate = |r: &dyn dynamodb::request::NamesTables| {
                    r.tables().into_iter().for_each(|t| tally.note(t));
                    let accesses = r.accesses(op, &state.engine)?;
                    subject
                        .allow_dynamodb(&accesses, &config.region, &config.account_id)
                        .map_err(|d| denied(key.as_deref(), subject, d))
                };
                dynamodb::dispatch_gated(&state.engine, op, &request, Some(&gate)).await
            }
        },
        _ => {
            let allowed = subject.as_ref().map_or(Ok(()), |subject| {
                let resource = crate::streams::resource_of(&state.engine, op, &request);
                subject
                    .allow(&format!("dynamodb:{op}"), &resource, &[])
                    .map_err(|d| denied(key.as_deref(), subject, d))
            });
            match allowed {
                Ok(()) => crate::streams::dispatch(&state.engine, op, &request).await,
                Err(e) => Err(e),
            }
        }
    };
    // The dispatchers do not know the operation's name in the answer: the edge names it.
    let result = match result {
        Err(ApiError::UnknownOperation) => Err(ApiError::UnknownTarget(op.to_owned())),
        other => other,
    };
    if crate::audit::records_change(op) {
        let status = result
            .as_ref()
            .map_or_else(|e| e.status(), |_| StatusCode::OK);
        crate::audit::dynamodb_change(key.as_deref(), &parts, op, &request, status.as_u16());
    }
    drop(request);
    drop(buffered);
    let Some(ns) = namespace else {
        return match result {
            Ok(body) => json_response(StatusCode::OK, body),
            Err(e) => e.into_response(),
        };
    };
    // The error's outcome mark (for the request metrics) moves to the rewritten answer.
    let mut marked = Response::new(axum::body::Body::empty());
    let (status, body) = match result {
        Ok(body) => (StatusCode::OK, body),
        Err(e) => {
            let resp = e.into_response();
            crate::metrics::carry_mark(&resp, &mut marked);
            let status = resp.status();
            match axum::body::to_bytes(resp.into_body(), usize::MAX).await {
                Ok(body) => (status, body.to_vec()),
                Err(_) => (status, Vec::new()),
            }
        }
    };
    let body = if body.is_empty() {
        body
    } else {
        ns.outward(&body).unwrap_or(body)
    };
    let mut resp = json_response(status, body);
    crate::metrics::carry_mark(&marked, &mut resp);
    resp
}

/// A DynamoDB-shaped error the edge itself answers: `{"__type", "message"}`.
fn dynamodb_error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = serde_json::json!({ "__type": kind, "message": message });
    let mut resp = json_response(status, body.to_string().into_bytes());
    crate::metrics::mark_error(&mut resp, kind);
    resp
}

/// A DynamoDB request whose body was not read.
fn body_error(e: &BodyError, op: &str) -> Response {
    let mut resp = match e {
        // DynamoDB's front end refuses a request over 16 MB with 413 before reading it
        // (dynalite, which copies DynamoDB's answers, answers a bare 413). The type and
        // message are those AWS's front end gives for Lambda's Invoke ("Request must be
        // smaller than 6291556 bytes for the Invoke operation"), so that SDKs show why.
        BodyError::TooLarge { limit_bytes } => dynamodb_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "com.amazon.coral.service#RequestEntityTooLargeException",
            &format!("Request must be smaller than {limit_bytes} bytes for the {op} operation"),
        ),
        // The Developer Guide's data-plane throttle, "Rate of on-demand requests exceeds
        // the allowed account throughput": a 400 every SDK retries with backoff.
        BodyError::Busy { .. } => dynamodb_error(
            StatusCode::BAD_REQUEST,
            &format!("{DYNAMODB}#RequestLimitExceeded"),
            &format!("Throughput exceeds the current throughput limit for your account: {e}"),
        ),
        BodyError::TimedOut { .. } => dynamodb_error(
            StatusCode::REQUEST_TIMEOUT,
            "com.amazon.coral.service#RequestTimeoutException",
            &e.to_string(),
        ),
        BodyError::Unreadable(_) => ApiError::Serialization(e.to_string()).into_response(),
    };
    if matches!(e, BodyError::TooLarge { .. } | BodyError::TimedOut { .. }) {
        // The rest of the body is not read: the connection cannot carry another request.
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// A unique request id shaped like DynamoDB's (52 characters of `[0-9A-Z]`): 32 hex
/// digits of the process start time, then 20 decimal digits of a counter.
fn request_id() -> [u8; 52] {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<[u8; 32]> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let mut hex = [0u8; 32];
        for (i, digit) in hex.iter_mut().enumerate() {
            *digit = b"0123456789ABCDEF"[((start >> (4 * (31 - i))) & 0xF) as usize];
        }
        hex
    });
    let mut id = [b'0'; 52];
    id[..32].copy_from_slice(prefix);
    let mut n = COUNTER.fetch_add(1, Ordering::Relaxed);
    for digit in id[32..].iter_mut().rev() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
    }
    id
}

/// The service each connection runs: DynamoDB's `POST /` goes straight to its handler,
/// skipping the router (it is nearly every request, and the router's matching and
/// boxing showed up in profiles); everything else goes through [`app`]'s router. Every
/// request gets a request id (`x-amzn-requestid`), and a handler that panics answers its
/// own request with a 500 in its client's error shape while the server goes on.
#[derive(Clone)]
struct Edge {
    state: AppState,
    router: Router,
}

/// Which error shape a client of a route reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// DynamoDB's `{"__type", "message"}` (`POST /`, and the health routes).
    DynamoDb,
    /// The `/v1` API's `{"error": {"code", "message"}}` (and `/metrics`).
    V1,
    /// Lambda's `x-amzn-ErrorType` and `{"Type", "message"}` (`/2015-03-31/…`).
    Lambda,
}

impl Edge {
    /// Answers a request: a preflight at once, anything else through [`Edge::route`],
    /// with the CORS headers of a cross-origin request added.
    fn respond(&self, req: Request) -> Pin<Box<dyn Future<Output = Response> + Send>> {
        if let Some(mut resp) = cors::options(&req) {
            if let Ok(id) = HeaderValue::from_bytes(&request_id()) {
                resp.headers_mut().insert("x-amzn-requestid", id);
            }
            return Box::pin(std::future::ready(resp));
        }
        let cross_origin = cors::applies(&req);
        let routed = self.route(req);
        if !cross_origin {
            return routed;
        }
        Box::pin(async move {
            let mut resp = routed.await;
            cors::allow(&mut resp);
            resp
        })
    }

    fn route(&self, req: Request) -> Pin<Box<dyn Future<Output = Response> + Send>> {
        let id = request_id();
        if let Some(why) = oversized_head(&req) {
            let v1 = req.uri().path().starts_with("/v1/");
            return Box::pin(async move {
                let mut resp = if v1 {
                    Problem::bad_request("RequestHeaderFieldsTooLarge", why).into_response()
                } else {
                    // DynamoDB's status; its body for this case is not recorded. The
                    // type is coral's generic client error, so that SDKs show the message.
                    dynamodb_error(
                        StatusCode::BAD_REQUEST,
                        "com.amazon.coral.service#BadRequestException",
                        &why,
                    )
                };
                // The body (if any) is not read: the connection cannot carry another request.
                resp.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                if let Ok(id) = HeaderValue::from_bytes(&id) {
                    resp.headers_mut().insert("x-amzn-requestid", id);
                }
                resp
            });
        }
        if req.method() == Method::POST && req.uri().path() == "/" {
            let state = self.state.clone();
            Box::pin(async move {
                let started = Instant::now();
                let target = req.headers().get("x-amz-target").cloned();
                let op = metrics::operation(target.as_ref().and_then(|t| t.to_str().ok()));
                let operation = || {
                    let target = target.as_ref().and_then(|t| t.to_str().ok());
                    target
                        .map_or("POST /", |t| t.rsplit('.').next().unwrap_or(t))
                        .to_owned()
                };
                let tally = Tally::default();
                let handled = pin!(dynamodb_request(&state, req, &tally));
                let resp = contain(handled, Shape::DynamoDb, operation, id).await;
                metrics::record(&state.engine, op, &tally, &resp, started.elapsed());
                resp
            })
        } else {
            let router = self.router.clone();
            Box::pin(async move {
                let path = req.uri().path();
                let shape = if path.starts_with("/v1/") || path == "/metrics" {
                    Shape::V1
                } else if path.starts_with(crate::lambda::API_PREFIX) {
                    Shape::Lambda
                } else {
                    Shape::DynamoDb
                };
                let route = format!("{} {}", req.method(), req.uri().path());
                let handled = pin!(async move {
                    match router.oneshot(req).await {
                        Ok(resp) => resp,
                        Err(never) => match never {},
                    }
                });
                contain(handled, shape, move || route, id).await
            })
        }
    }
}

impl conn::Serve for Edge {
    fn serve(
        &self,
        request: Request,
        busy: conn::Busy,
    ) -> Pin<Box<dyn Future<Output = Response> + Send>> {
        let responding = self.respond(request);
        Box::pin(async move {
            let resp = responding.await;
            drop(busy);
            resp
        })
    }
}

/// Runs a request's handler; a panic in it (or re-raised from its `spawn_blocking`
/// task) answers this request with a 500 in the client's error shape — DynamoDB's
/// retryable `InternalServerError`, or the `/v1` `ServiceException` — and is logged
/// with the operation (or route) and the request id. Every answer carries the id.
async fn contain<F>(
    handler: Pin<&mut F>,
    shape: Shape,
    operation: impl FnOnce() -> String,
    id: [u8; 52],
) -> Response
where
    F: Future<Output = Response> + ?Sized,
{
    let mut resp = match (CatchPanic { handler }).await {
        Ok(resp) => resp,
        Err(panic) => {
            let request_id = String::from_utf8_lossy(&id);
            let operation = operation();
            tracing::error!(
                operation = %operation,
                request_id = %request_id,
                panic = %panic,
                "a request handler panicked; the request fails with a 500 and the server goes on"
            );
            match shape {
                Shape::DynamoDb => dynamodb_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("{DYNAMODB}#InternalServerError"),
                    "Internal server error",
                ),
                Shape::V1 => Problem::panicked(&request_id).into_response(),
                Shape::Lambda => crate::lambda::panicked(&request_id),
            }
        }
    };
    if let Ok(id) = HeaderValue::from_bytes(&id) {
        resp.headers_mut().insert("x-amzn-requestid", id);
    }
    resp
}

/// Polls a handler's future, turning a panic while it is polled into `Err` with the
/// panic's message. The future is not polled again after it panicked.
struct CatchPanic<'a, F: ?Sized> {
    handler: Pin<&'a mut F>,
}

impl<F: Future<Output = Response> + ?Sized> Future for CatchPanic<'_, F> {
    type Output = Result<Response, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let handler = &mut self.handler;
        match std::panic::catch_unwind(AssertUnwindSafe(|| handler.as_mut().poll(cx))) {
            Ok(polled) => polled.map(Ok),
            Err(panic) => Poll::Ready(Err(eddy_engine::panic_text(panic.as_ref()))),
        }
    }
}

/// Serves on `listener` (already bound, so that the platform knows its address), prints
/// the endpoint, and serves (HTTPS when `tls` is given) until Ctrl-C or SIGTERM.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    banner::print(&state, &format!("{scheme}://{addr}"), tls.is_some());
    let edge = Edge {
        state: state.clone(),
        router: app(state.clone()),
    };
    conn::serve(
        listener,
        tls.map(tokio_rustls::TlsAcceptor::from),
        edge,
        shutdown_signal(),
    )
    .await;
    // Not `println!`: its reader may be gone (`eddy serve | head`), and a panic here
    // would skip the clean shutdown below.
    let _ = crate::console::out("Eddy is shutting down");
    // Triggers first: their consumers finish the batch in hand (which may write through
    // the engine) and store their checkpoints.
    let platform = state.platform.clone();
    let _ = tokio::task::spawn_blocking(move || platform.shutdown()).await;
    // The stream export (`--nats`) next, while the engine still reads.
    let _ = tokio::task::spawn_blocking(crate::export::shutdown).await;
    let engine = state.engine.clone();
    let _ = tokio::task::spawn_blocking(move || engine.shutdown()).await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::body::{Body, to_bytes};
    use serde_json::Value;

    async fn json(resp: Response) -> Value {
        let bytes = to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// The edge's containment ([`contain`], which [`Edge`] wraps around every handler)
    /// around handlers that panic: no test backdoor in the server can make one panic.
    #[tokio::test]
    async fn a_panicking_handler_answers_its_own_request_with_a_500_in_its_clients_shape() {
        // A DynamoDB handler.
        let handler = pin!(async {
            if true {
                panic!("a bug in a DynamoDB handler");
            }
            StatusCode::OK.into_response()
        });
        let resp = contain(handler, Shape::DynamoDb, || "PutItem".into(), request_id()).await;
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(resp.headers().contains_key("x-amzn-requestid"));
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            "application/x-amz-json-1.0"
        );
        let body = json(resp).await;
        assert_eq!(
            body["__type"],
            "com.amazonaws.dynamodb.v20120810#InternalServerError"
        );
        assert!(body["message"].is_string());

        // A DynamoDB handler whose blocking task panics.
        let handler = pin!(async {
            match dynamodb::request::blocking(|| -> Result<(), ApiError> {
                panic!("a bug in a blocking read")
            })
            .await
            {
                Ok(()) => StatusCode::OK.into_response(),
                Err(e) => e.into_response(),
            }
        });
        let resp = contain(handler, Shape::DynamoDb, || "Query".into(), request_id()).await;
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            json(resp).await["__type"],
            "com.amazonaws.dynamodb.v20120810#InternalServerError"
        );

        // A /v1 route, through a router as the edge calls it.
        let router: Router = Router::new()
            .route(
                "/v1/boom",
                get(|| async {
                    if true {
                        panic!("a bug in a /v1 handler");
                    }
                    "unreachable"
                }),
            )
            .route("/v1/fine", get(|| async { "fine" }));
        let request = |path: &str| Request::builder().uri(path).body(Body::empty()).unwrap();
        let r = router.clone();
        let req = request("/v1/boom");
        let handler = pin!(async move { r.oneshot(req).await.unwrap() });
        let resp = contain(handler, Shape::V1, || "GET /v1/boom".into(), request_id()).await;
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let id = resp.headers()["x-amzn-requestid"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = json(resp).await;
        assert_eq!(body["error"]["code"], "ServiceException");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(&id),
            "the message names the request id: {body}"
        );

        // The same router, and this runtime, go on serving.
        let req = request("/v1/fine");
        let handler = pin!(async move { router.oneshot(req).await.unwrap() });
        let resp = contain(handler, Shape::V1, || "GET /v1/fine".into(), request_id()).await;
        assert_eq!(resp.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_panicking_lambda_handler_answers_in_lambdas_shape() {
        let handler = pin!(async {
            if true {
                panic!("a bug in a Lambda handler");
            }
            "unreachable".into_response()
        });
        let resp = contain(
            handler,
            Shape::Lambda,
            || "GET /2015-03-31/functions".into(),
            request_id(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(resp.headers()["x-amzn-errortype"], "ServiceException");
        let id = resp.headers()["x-amzn-requestid"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = json(resp).await;
        assert_eq!(body["Type"], "Service", "{body}");
        assert!(
            body["message"].as_str().unwrap().contains(&id),
            "the message names the request id: {body}"
        );
    }

    #[test]
    fn request_ids_are_dynamodb_shaped_and_unique() {
        let a = request_id();
        let b = request_id();
        assert_ne!(a, b);
        for id in [a, b] {
            assert!(
                id.iter()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()),
                "{}",
                String::from_utf8_lossy(&id)
            );
        }
        assert_eq!(a[..32], b[..32], "the process prefix is fixed");
    }
}
