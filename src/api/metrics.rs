//! `GET /metrics`: the server's gauges and every trigger's and schedule's counters, in
//! Prometheus' text format.
//!
//! Owns the server gauges' names. Must not know how the counters are kept.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::functions::uploads;
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// `GET /metrics`: a few server gauges, the DynamoDB request and capacity families and
/// every trigger's counters, in Prometheus' text format.
async fn metrics(State(state): State<AppState>) -> Response {
    let platform = &state.platform;
    let mut out = String::new();
    let mut series = |name: &str, kind: &str, help: &str, value: f64| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    };
    series(
        "eddy_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        platform.started.elapsed().as_secs_f64(),
    );
    series(
        "eddy_functions",
        "gauge",
        "Deployed functions.",
        platform.functions.list().len() as f64,
    );
    series(
        "eddy_function_compilations_total",
        "counter",
        "Components compiled from WebAssembly (cache loads do not count).",
        platform.executor.compilations() as f64,
    );
    series(
        "eddy_triggers",
        "gauge",
        "Triggers (event-source mappings).",
        platform.triggers.len() as f64,
    );
    series(
        "eddy_invocations_queued",
        "gauge",
        "Invocations waiting for an instance slot.",
        f64::from(platform.executor.queued()),
    );
    series(
        "eddy_function_uploads_in_progress",
        "gauge",
        "Function uploads (deploys) being read or compiled.",
        (uploads().max - uploads().slots.available_permits()) as f64,
    );
    series(
        "eddy_request_body_bytes_in_flight",
        "gauge",
        "Request-body bytes buffered by the HTTP edge.",
        crate::body::bytes_in_flight() as f64,
    );
    if crate::audit::enabled() {
        series(
            "eddy_audit_lines_written_total",
            "counter",
            "Lines written to the audit log.",
            crate::audit::written() as f64,
        );
        series(
            "eddy_audit_lines_dropped_total",
            "counter",
            "Audit log lines dropped because its queue was full or the file refused them.",
            crate::audit::dropped() as f64,
        );
    }
    out.push_str(&crate::metrics::render(&state.engine));
    // The export-lag families, when `--nats` runs an export (nothing otherwise).
    out.push_str(&crate::export::render_metrics());
    out.push_str(&crate::prometheus::triggers(&platform.triggers.metrics()));
    out.push_str(&crate::prometheus::schedules(&platform.schedules.metrics()));
    let mut resp = out.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    resp
}
