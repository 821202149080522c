//! `GET /` and `GET /health`: whether this Eddy can serve writes, as the engine reports
//! it ([`Engine::health`](eddy_engine::Engine::health)).
//!
//! `GET /` keeps DynamoDB's answer, `healthy: <host> ` where the host is the one the
//! client named (`dynamodb.<region>.amazonaws.com` for DynamoDB's own clients, and
//! without a `Host` header; SDK health checks and load balancers look at it), but only
//! while writes can be served;
//! otherwise it is a 503 with one line saying why. `GET /health` gives the details as
//! JSON, with the same status codes:
//!
//! ```json
//! {"status": "ok" | "degraded" | "failed", "reason": null | "one line",
//!  "writer": "running" | "stopped" | "failed", "storage": "ok" | "failed",
//!  "fault": null | "what ended writes",
//!  "disk": {"free_bytes": 123, "reserve_bytes": 456, "unflushed_bytes": 78,
//!           "ok": true, "error": null}}
//! ```
//!
//! `disk.ok` is false while `free_bytes` is below `reserve_bytes` plus
//! `unflushed_bytes` (what the storage has yet to write out from memory), and then
//! writes are refused.
//!
//! `degraded` means reads are served and writes are refused for a reason that passes by
//! itself (the disk is below its reserve); `failed` means writes cannot come back
//! without a restart (the `eddy` binary exits on such a fault, so it is seen only
//! during a shutdown or from an embedding that keeps the engine up).
//!
//! This module knows nothing of the DynamoDB API.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use eddy_engine::{Health, HealthStatus};
use serde_json::{Value, json};

use crate::state::AppState;

/// `GET /`.
pub async fn root(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let health = state.engine.health();
    match health.reason() {
        None => match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
            Some(host) => format!("healthy: {host} "),
            None => format!(
                "healthy: dynamodb.{}.amazonaws.com ",
                state.engine.config().region
            ),
        }
        .into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("unhealthy: {reason}"),
        )
            .into_response(),
    }
}

/// `GET /health`.
pub async fn details(State(state): State<AppState>) -> Response {
    let health = state.engine.health();
    let status = match health.status() {
        HealthStatus::Ok => StatusCode::OK,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    let mut resp = (status, details_json(&health).to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// The `/health` body.
fn details_json(health: &Health) -> Value {
    json!({
        "status": health.status().as_str(),
        "reason": health.reason(),
        "writer": health.writer.as_str(),
        "storage": health.storage.as_str(),
        "fault": health.fault.as_ref().map(|f| f.message.clone()),
        "disk": {
            "free_bytes": health.disk.free_bytes,
            "reserve_bytes": health.disk.reserve_bytes,
            "unflushed_bytes": health.disk.unflushed_bytes,
            "ok": health.disk.ok,
            "error": health.disk.error,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_engine::{DiskHealth, StorageState, WriterState};

    fn health(free_bytes: u64, reserve_bytes: u64) -> Health {
        Health {
            writer: WriterState::Running,
            storage: StorageState::Ok,
            fault: None,
            disk: DiskHealth {
                free_bytes: Some(free_bytes),
                reserve_bytes,
                unflushed_bytes: 1 << 18,
                ok: free_bytes >= reserve_bytes + (1 << 18),
                error: None,
            },
        }
    }

    #[test]
    fn the_details_say_what_stops_writes() {
        let ok = details_json(&health(2 << 20, 1 << 20));
        assert_eq!(ok["status"], "ok");
        assert_eq!(ok["reason"], Value::Null);
        assert_eq!(ok["writer"], "running");
        assert_eq!(ok["storage"], "ok");
        assert_eq!(ok["disk"]["free_bytes"], 2 << 20);
        assert_eq!(ok["disk"]["reserve_bytes"], 1 << 20);
        assert_eq!(ok["disk"]["unflushed_bytes"], 1 << 18);
        assert_eq!(ok["disk"]["ok"], true);

        let full = details_json(&health(1 << 19, 1 << 20));
        assert_eq!(full["status"], "degraded");
        assert_eq!(full["disk"]["ok"], false);
        let reason = full["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("The disk is full: 0.5 MiB free"),
            "{reason}"
        );
    }
}
