//! The HTTP edge: the axum router (DynamoDB on `POST /`, health on `GET /`, Eddy's own
//! API under `/v1/` and `/metrics` from `api.rs`) and the server loop with graceful
//! shutdown.

use std::net::SocketAddr;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use eddy_engine::{Engine, Error};

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
        .route("/", get(health).post(dynamodb_request))
        .route("/health", get(health))
        .merge(crate::api::routes())
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

/// DynamoDB's endpoint answers `GET /` with a health line; SDK health checks use it.
async fn health(State(state): State<AppState>) -> String {
    format!(
        "healthy: dynamodb.{}.amazonaws.com ",
        state.engine.config().region
    )
}

async fn dynamodb_request(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let target = headers
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
    if let Ok(id) = HeaderValue::from_str(&request_id()) {
        resp.headers_mut().insert("x-amzn-requestid", id);
    }
    resp
}

/// A unique request id shaped like DynamoDB's (52 characters of `[0-9A-Z]`).
fn request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static START: OnceLock<u128> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let start = *START.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    });
    // 32 hex digits of the process start time, then 20 digits of a counter.
    format!(
        "{start:032X}{:020}",
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Binds `listen`, prints the endpoint, and serves until Ctrl-C or SIGTERM.
pub async fn serve(state: AppState, listen: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    println!("Eddy is listening on http://{addr}");
    println!(
        "  aws dynamodb list-tables --endpoint-url http://{addr}   (any region and credentials)"
    );
    axum::serve(listener, app(state.clone()))
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
