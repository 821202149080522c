//! The HTTP edge: the axum router (DynamoDB on `POST /`, health on `GET /`, Eddy's own
//! API under `/v1/` and `/metrics` from `api.rs`) and the server loop with graceful
//! shutdown.

use std::net::SocketAddr;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::IncomingStream;
use eddy_engine::{Engine, Error};
use tower::{Service, ServiceExt};

use crate::dynamodb;
use crate::error::ApiError;

/// Largest request body DynamoDB accepts.
pub const REQUEST_BODY_BYTES_MAX: usize = /* 16 MiB */ 16 * 1024 * 1024;

/// Shared state of all handlers, cloned for every request (axum's `State`): keep it to a
/// couple of reference counts, since every clone and drop is an atomic operation on a
/// cache line all cores share.
#[derive(Clone, Debug)]
pub struct AppState {
    pub engine: Engine,
    /// Functions and triggers (`/v1/`).
    pub platform: std::sync::Arc<crate::host::Platform>,
}

/// The whole HTTP surface, callable without a socket (`app(state).oneshot(req)`).
pub fn app(state: AppState) -> Router {
    Router::new()
        .route(
            "/",
            get(crate::health::root)
                .post(|State(state): State<AppState>, req: Request| dynamodb_request(state, req)),
        )
        .route("/health", get(crate::health::details))
        .merge(crate::api::routes())
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

async fn dynamodb_request(state: AppState, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let result = match target.split_once('.') {
        Some(("DynamoDB_20120810", op)) => match to_bytes(body, REQUEST_BODY_BYTES_MAX).await {
            Ok(bytes) => dynamodb::dispatch(&state.engine, op, &bytes).await,
            Err(_) => Err(ApiError::Engine(Error::validation(format!(
                "Request size exceeded {REQUEST_BODY_BYTES_MAX} bytes"
            )))),
        },
        Some(("DynamoDBStreams_20120810", op)) => {
            match to_bytes(body, REQUEST_BODY_BYTES_MAX).await {
                Ok(bytes) => crate::streams::dispatch(&state.engine, op, &bytes).await,
                Err(_) => Err(ApiError::Engine(Error::validation(format!(
                    "Request size exceeded {REQUEST_BODY_BYTES_MAX} bytes"
                )))),
            }
        }
        _ => Err(ApiError::UnknownOperation),
    };
    let mut resp = match result {
        Ok(body) => {
            let crc = crc32fast::hash(&body);
            let mut resp = (StatusCode::OK, body).into_response();
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-amz-json-1.0"),
            );
            // DynamoDB sends a CRC32 of every body; SDKs verify it when present.
            h.insert("x-amz-crc32", HeaderValue::from(crc));
            resp
        }
        Err(e) => e.into_response(),
    };
    if let Ok(id) = HeaderValue::from_bytes(&request_id()) {
        resp.headers_mut().insert("x-amzn-requestid", id);
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
/// boxing showed up in profiles); everything else goes through [`app`]'s router.
#[derive(Clone)]
struct Edge {
    state: AppState,
    router: Router,
}

impl Service<Request> for Edge {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if req.method() == Method::POST && req.uri().path() == "/" {
            let state = self.state.clone();
            Box::pin(async move { Ok(dynamodb_request(state, req).await) })
        } else {
            let router = self.router.clone();
            Box::pin(router.oneshot(req))
        }
    }
}

/// Hands every accepted connection its own [`Edge`].
#[derive(Clone)]
struct MakeEdge(Edge);

impl Service<IncomingStream<'_, tokio::net::TcpListener>> for MakeEdge {
    type Response = Edge;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Edge, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _stream: IncomingStream<'_, tokio::net::TcpListener>) -> Self::Future {
        std::future::ready(Ok(self.0.clone()))
    }
}

/// Binds `listen`, prints the endpoint, and serves until Ctrl-C or SIGTERM.
pub async fn serve(state: AppState, listen: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    println!("Eddy is listening on http://{addr}");
    println!(
        "  aws dynamodb list-tables --endpoint-url http://{addr}   (any region and credentials)"
    );
    let edge = Edge {
        state: state.clone(),
        router: app(state.clone()),
    };
    axum::serve(listener, MakeEdge(edge))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    println!("Eddy is shutting down");
    // Triggers first: their consumers finish the batch in hand (which may write through
    // the engine) and store their checkpoints.
    let platform = state.platform.clone();
    let _ = tokio::task::spawn_blocking(move || platform.shutdown()).await;
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
