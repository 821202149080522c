//! `/v1/functions`: deploying, listing, invoking and deleting functions, and their logs.
//!
//! Owns the routes, the deployment configuration read from a query or JSON, the slots
//! of concurrent uploads, and the JSON of a function, an invocation and a log line.
//! Must not know how a component is compiled or run (that is `eddy-triggers`):
//! deploying and invoking run off the async workers, and an invocation waits for its
//! instance slot without a thread.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::routing::{get, post, put};
use base64::Engine as _;
use eddy_triggers::{
    COMPONENT_BYTES_MAX, FunctionConfig, FunctionVersion, InvokeError, LogLine, Origin,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::common::{
    ApiResult, blocking, created, ok, parse_fields, parse_json, parse_query, read_body,
};
use super::problem::Problem;
pub use crate::body::DEPLOY_JSON_BYTES_MAX;
use crate::body::check_declared;
use crate::state::AppState;

/// Largest event `POST /v1/functions/{name}/invoke` accepts (Lambda's 6 MB payload).
pub const INVOKE_EVENT_BYTES_MAX: usize = 6 * 1024 * 1024;
/// Function uploads (deploys: reading and compiling a component) at once, unless the
/// memory budget sets it ([`configure_uploads`]); one more is refused at once with 429.
/// Each holds up to a whole component in memory and compiles on the machine's cores.
pub const UPLOADS_CONCURRENT_MAX: usize = 2;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/functions", get(list_functions))
        .route(
            "/v1/functions/{name}",
            put(deploy).get(get_function).delete(delete_function),
        )
        .route("/v1/functions/{name}/invoke", post(invoke))
        .route("/v1/functions/{name}/logs", get(function_logs))
        .route("/v1/functions/{name}/component", get(function_component))
}

/// The upload slots, one set per process: what they bound is this machine's memory and
/// cores.
static UPLOADS: std::sync::OnceLock<Uploads> = std::sync::OnceLock::new();

pub(super) struct Uploads {
    pub(super) slots: tokio::sync::Semaphore,
    pub(super) max: usize,
}

/// Sets how many uploads may run at once: as many whole components as `bytes` holds,
/// at least one. Call before the first request; returns false if the slots were
/// already in use.
pub fn configure_uploads(bytes: u64) -> bool {
    let max = usize::try_from(bytes / COMPONENT_BYTES_MAX as u64)
        .unwrap_or(usize::MAX)
        .max(1);
    UPLOADS
        .set(Uploads {
            slots: tokio::sync::Semaphore::new(max),
            max,
        })
        .is_ok()
}

/// One of the upload slots if one is free: Lambda's CreateFunction and
/// UpdateFunctionCode (`crate::lambda`) deploy through the same slots as `PUT
/// /v1/functions/{name}`, since what they bound is the same memory and cores.
pub(crate) fn upload_slot() -> Option<tokio::sync::SemaphorePermit<'static>> {
    uploads().slots.try_acquire().ok()
}

pub(super) fn uploads() -> &'static Uploads {
    UPLOADS.get_or_init(|| Uploads {
        slots: tokio::sync::Semaphore::new(UPLOADS_CONCURRENT_MAX),
        max: UPLOADS_CONCURRENT_MAX,
    })
}

/// The JSON form of `PUT /v1/functions/{name}` (the raw form sends the component bytes
/// with the configuration in the query).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeployJson {
    wasm_base64: String,
    #[serde(default)]
    config: Option<Value>,
}

/// `PUT /v1/functions/{name}`: the body is the component (`application/wasm`), the
/// configuration is in the query (`memory_mb`, `timeout_ms`, `table`/`tables`, `env`,
/// `host`/`hosts`, `allow_any_host`, `index`/`indexes`, `email`); or the body is `{"wasm_base64", "config"}` (`application/json`).
async fn deploy(
    State(state): State<AppState>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let json_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let limit_bytes = if json_form {
        DEPLOY_JSON_BYTES_MAX
    } else {
        COMPONENT_BYTES_MAX
    };
    // Both refusals come before any byte of the body is read.
    check_declared(&headers, limit_bytes).map_err(|e| Problem::body(&e))?;
    let _upload = uploads().slots.try_acquire().map_err(|_| {
        Problem::throttled(
            None,
            format!(
                "{UPLOADS_CONCURRENT_MAX} function uploads are in progress; retry when one is done"
            ),
        )
    })?;
    let body = read_body(&headers, body, limit_bytes).await?;
    let bytes = &body.bytes;
    // A component starts with `\0asm`, never with `{`: JSON sent without its type is
    // still understood.
    let (wasm, config) = if json_form || bytes.first() == Some(&b'{') {
        if uri.query().is_some_and(|q| !q.is_empty()) {
            return Err(Problem::bad_request(
                "InvalidParameterValueException",
                "give the configuration either in the JSON body or in the query, not both",
            ));
        }
        deploy_from_json(bytes)?
    } else {
        (
            bytes.to_vec(),
            config_from_query(uri.query().unwrap_or(""))?,
        )
    };
    drop(body);
    let functions = state.platform.functions.clone();
    let function = blocking(move || functions.deploy(&name, &wasm, config)).await??;
    created(&function_json(&function))
}

fn deploy_from_json(bytes: &[u8]) -> Result<(Vec<u8>, FunctionConfig), Problem> {
    let value = parse_json(bytes)?;
    let request: DeployJson = serde_json::from_value(value).map_err(|e| {
        Problem::bad_request(
            "InvalidRequestContentException",
            format!("expected {{\"wasm_base64\": \"…\", \"config\": {{…}}}}: {e}"),
        )
    })?;
    let wasm = base64::engine::general_purpose::STANDARD
        .decode(request.wasm_base64.trim())
        .map_err(|e| Problem::invalid("wasm_base64", format!("not valid base64: {e}")))?;
    let config = match request.config {
        None | Some(Value::Null) => FunctionConfig::default(),
        Some(config) => parse_fields::<FunctionConfig>(config, "config.")?,
    };
    Ok((wasm, config))
}

/// The deployment configuration from query parameters a user can type:
/// `?memory_mb=128&timeout_ms=3000&tables=orders,totals&env=KEY=VALUE&env=K2=V2`.
fn config_from_query(query: &str) -> Result<FunctionConfig, Problem> {
    let mut config = FunctionConfig::default();
    for (key, value) in parse_query(query)? {
        match key.as_str() {
            "memory_mb" => {
                config.memory_mb = value.parse().map_err(|_| {
                    Problem::invalid(
                        "memory_mb",
                        format!("{value:?} is not a whole number of MiB"),
                    )
                })?;
            }
            "timeout_ms" => {
                config.timeout_ms = value.parse().map_err(|_| {
                    Problem::invalid(
                        "timeout_ms",
                        format!("{value:?} is not a whole number of milliseconds"),
                    )
                })?;
            }
            "table" | "tables" => config.tables.extend(
                value
                    .split(',')
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned),
            ),
            "host" | "hosts" => config.hosts.extend(
                value
                    .split(',')
                    .filter(|h| !h.is_empty())
                    .map(str::to_owned),
            ),
            "index" | "indexes" => config.indexes.extend(
                value
                    .split(',')
                    .filter(|i| !i.is_empty())
                    .map(str::to_owned),
            ),
            "allow_any_host" => {
                config.allow_any_host = value.parse().map_err(|_| {
                    Problem::invalid("allow_any_host", format!("{value:?} is not true or false"))
                })?;
            }
            "email" => {
                config.email = value.parse().map_err(|_| {
                    Problem::invalid("email", format!("{value:?} is not true or false"))
                })?;
            }
            "env" => {
                let (k, v) = value.split_once('=').ok_or_else(|| {
                    Problem::invalid("env", format!("{value:?} is not KEY=VALUE"))
                })?;
                config.environment.insert(k.to_owned(), v.to_owned());
            }
            other => {
                return Err(Problem::invalid(
                    other,
                    "unknown parameter: use memory_mb, timeout_ms, table, env (KEY=VALUE), host, \
                     allow_any_host, index or email",
                ));
            }
        }
    }
    Ok(config)
}

async fn list_functions(State(state): State<AppState>) -> ApiResult {
    let functions: Vec<Value> = state
        .platform
        .functions
        .list()
        .iter()
        .map(|f| function_json(f))
        .collect();
    ok(&json!({ "functions": functions }))
}

fn function_or_404(state: &AppState, name: &str) -> Result<Arc<FunctionVersion>, Problem> {
    state
        .platform
        .functions
        .get(name)
        .ok_or_else(|| Problem::not_found(format!("Function not found: {name}")))
}

async fn get_function(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult {
    let function = function_or_404(&state, &name)?;
    ok(&function_json(&function))
}

/// `GET /v1/functions/{name}/component` (administrators only): the served version's
/// component as it was deployed, in the JSON form of a deploy plus the version
/// (`{"name", "version", "config", "wasm_base64"}`), for a trigger worker (`eddy
/// worker`) that runs the function in another process.
async fn function_component(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult {
    let function = function_or_404(&state, &name)?;
    let functions = state.platform.functions.clone();
    let read_name = name.clone();
    let component = blocking(move || functions.component(&read_name))
        .await?
        .map_err(Problem::internal)?;
    let Some((version, wasm)) = component else {
        return Err(Problem::not_found(format!("Function not found: {name}")));
    };
    ok(&json!({
        "name": name,
        "version": version,
        // The config of the version whose bytes these are (a deploy in between serves
        // a newer one: the worker sees that version on its next look).
        "config": if version == function.version() { json!(function.config()) } else { Value::Null },
        "wasm_base64": base64::engine::general_purpose::STANDARD.encode(&wasm),
    }))
}

async fn delete_function(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult {
    let function = function_or_404(&state, &name)?;
    let functions = state.platform.functions.clone();
    let deleted_name = name.clone();
    let existed = blocking(move || functions.delete(&deleted_name))
        .await?
        .map_err(|e| Problem::internal(e.to_string()))?;
    if !existed {
        return Err(Problem::not_found(format!("Function not found: {name}")));
    }
    ok(&json!({ "name": name, "version": function.version(), "deleted": true }))
}

/// `POST /v1/functions/{name}/invoke`: runs the function once on the body (an event
/// JSON; empty means `{}`) and returns its result, error, logs and duration. Its
/// deadline counts from when the request was read: waiting for an instance slot (done
/// here, without a thread) counts, and a full queue is refused at once with Lambda's
/// 429 `TooManyRequestsException`.
async fn invoke(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let function = function_or_404(&state, &name)?;
    let body = read_body(&headers, body, INVOKE_EVENT_BYTES_MAX).await?;
    let bytes = &body.bytes;
    let event = if bytes.iter().all(u8::is_ascii_whitespace) {
        "{}".to_owned()
    } else {
        parse_json(bytes)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| {
            Problem::bad_request("InvalidRequestContentException", "the event is not UTF-8")
        })?
    };
    // `body` keeps its share of the edge's budget until the answer: the event lives as
    // long, so queued and running invocations count against the budget too.
    let executor = state.platform.executor.clone();
    let tables = state.platform.tables.clone();
    let version = function.version();
    let mut ticket = executor.admit(&function).map_err(|e| {
        // Every instance slot is busy and the queue is full: Lambda's answer when an
        // invocation would exceed the account's concurrency.
        Problem::throttled(Some("ConcurrentInvocationLimitExceeded"), e)
    })?;
    let _ = tokio::time::timeout_at(ticket.deadline().into(), ticket.slot()).await;
    let invocation = if ticket.has_slot() {
        ticket.run_on_thread(function, event, tables).await
    } else {
        ticket.expire()
    };
    drop(body);
    let (result, error) = match &invocation.result {
        Ok(response) if response.trim().is_empty() => (Value::Null, Value::Null),
        Ok(response) => (
            serde_json::from_str(response).unwrap_or_else(|_| Value::String(response.clone())),
            Value::Null,
        ),
        // A panic of host code is Eddy's failure, not the function's (it was logged).
        Err(InvokeError::Host { message }) => {
            return Err(Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                message.clone(),
            ));
        }
        Err(e) => (
            Value::Null,
            json!({ "kind": invoke_error_kind(e), "message": e.to_string() }),
        ),
    };
    ok(&json!({
        "function": name,
        "version": version,
        "result": result,
        "error": error,
        "logs": invocation.logs.iter().map(log_json).collect::<Vec<_>>(),
        "duration_ms": duration_ms(invocation.duration),
        "queued_ms": duration_ms(invocation.queued),
        "started": invocation.started,
    }))
}

fn invoke_error_kind(e: &InvokeError) -> &'static str {
    match e {
        InvokeError::Timeout { .. } => "Timeout",
        InvokeError::Throttled { .. } => "Throttled",
        InvokeError::Host { .. } => "HostError",
        InvokeError::OutOfMemory { .. } => "OutOfMemory",
        InvokeError::Trap { .. } => "Trap",
        InvokeError::FunctionError { .. } => "FunctionError",
    }
}

/// `GET /v1/functions/{name}/logs[?limit=N]`: the newest lines of the function's log
/// ring, oldest first.
async fn function_logs(
    State(state): State<AppState>,
    Path(name): Path<String>,
    uri: Uri,
) -> ApiResult {
    let function = function_or_404(&state, &name)?;
    let mut limit = usize::MAX;
    for (key, value) in parse_query(uri.query().unwrap_or(""))? {
        match key.as_str() {
            "limit" => {
                limit = value.parse().map_err(|_| {
                    Problem::invalid("limit", format!("{value:?} is not a whole number"))
                })?;
            }
            other => return Err(Problem::invalid(other, "unknown parameter: use limit")),
        }
    }
    let lines = function.logs();
    let skip = lines.len().saturating_sub(limit);
    ok(&json!({
        "function": name,
        "logs": lines[skip..].iter().map(log_json).collect::<Vec<_>>(),
    }))
}

fn function_json(f: &FunctionVersion) -> Value {
    json!({
        "name": f.name(),
        "version": f.version(),
        "config": f.config(),
        "deployed_at": eddy_engine::clock::rfc3339_ms(f.deployed_at_ms()),
        "deployed_at_ms": f.deployed_at_ms(),
        "origin": match f.origin() {
            Origin::Compiled => "compiled",
            Origin::Cached => "cached",
        },
        "wasm_bytes": f.wasm_bytes(),
    })
}

fn log_json(line: &LogLine) -> Value {
    let fields: Map<String, Value> = line
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({
        "invocation": line.invocation,
        "version": line.version,
        "timestamp": eddy_engine::clock::rfc3339_ms(line.timestamp_ms),
        "timestamp_ms": line.timestamp_ms,
        "level": line.level,
        "message": line.message,
        "fields": fields,
    })
}

fn duration_ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_config_names_the_bad_parameter() {
        let c =
            config_from_query("memory_mb=64&timeout_ms=10&tables=a-1,b-2&table=c-3&env=K=V%3D1")
                .unwrap();
        assert_eq!(c.memory_mb, 64);
        assert_eq!(c.timeout_ms, 10);
        assert_eq!(c.tables.len(), 3);
        assert_eq!(c.environment.get("K").map(String::as_str), Some("V=1"));
        for (query, field) in [
            ("memory_mb=x", "memory_mb"),
            ("timeout_ms=-1", "timeout_ms"),
            ("env=novalue", "env"),
            ("colour=red", "colour"),
        ] {
            let e = config_from_query(query).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{query}");
            assert!(e.message.starts_with(field), "{}", e.message);
        }
    }
}
