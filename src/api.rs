//! Eddy's own REST API under `/v1/` (functions and triggers) and `/metrics`.
//!
//! Owns the routes, their request and response JSON, and the mapping of executor and
//! trigger errors to HTTP: `{"error": {"code", "message", "field"?}}` with 400 for
//! invalid input (naming the field), 404 for an unknown function or trigger, 408 for a
//! body that did not arrive in time, 413 for an oversized body (refused on its
//! `Content-Length` before any of it is read), 429 (Lambda's `TooManyRequestsException`)
//! when the executor's queue, the uploads or the body budget are full, and 500 only for
//! internal failures. Deploying (compiling) and invoking (running wasm), and every
//! trigger change (which stops and starts consumer threads), run in `spawn_blocking`;
//! an invocation waits for its instance slot without a thread. The semantics live in
//! `eddy-triggers`; this module only translates.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine as _;
use eddy_triggers::schedule::ScheduleRequest;
use eddy_triggers::stream::MappingRequest;
use eddy_triggers::{
    COMPONENT_BYTES_MAX, DeployError, FunctionConfig, FunctionVersion, InvokeError, LogLine,
    Origin, TriggerError,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::server::AppState;

/// Largest JSON deploy body: the component in base64 (4 characters per 3 bytes) plus
/// room for the configuration.
pub const DEPLOY_JSON_BYTES_MAX: usize = COMPONENT_BYTES_MAX / 3 * 4 + 1024 * 1024;
/// Largest event `POST /v1/functions/{name}/invoke` accepts (Lambda's 6 MB payload).
pub const INVOKE_EVENT_BYTES_MAX: usize = 6 * 1024 * 1024;
/// Largest trigger body (five 4,096-character filter patterns fit many times over).
pub const TRIGGER_BODY_BYTES_MAX: usize = 256 * 1024;
/// Function uploads (deploys: reading and compiling a component) at once, unless the
/// memory budget sets it ([`configure_uploads`]); one more is refused at once with 429.
/// Each holds up to a whole component in memory and compiles on the machine's cores.
pub const UPLOADS_CONCURRENT_MAX: usize = 2;
/// What a throttled client is told to wait before it retries (`Retry-After`, seconds).
const RETRY_AFTER_S: u64 = 1;

/// The upload slots, one set per process: what they bound is this machine's memory and
/// cores.
static UPLOADS: std::sync::OnceLock<Uploads> = std::sync::OnceLock::new();

struct Uploads {
    slots: tokio::sync::Semaphore,
    max: usize,
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

fn uploads() -> &'static Uploads {
    UPLOADS.get_or_init(|| Uploads {
        slots: tokio::sync::Semaphore::new(UPLOADS_CONCURRENT_MAX),
        max: UPLOADS_CONCURRENT_MAX,
    })
}

/// The `/v1/` routes and `/metrics`, merged into [`crate::server::app`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/functions", get(list_functions))
        .route(
            "/v1/functions/{name}",
            put(deploy).get(get_function).delete(delete_function),
        )
        .route("/v1/functions/{name}/invoke", post(invoke))
        .route("/v1/functions/{name}/logs", get(function_logs))
        .route("/v1/triggers", get(list_triggers).post(create_trigger))
        .route(
            "/v1/triggers/{id}",
            get(get_trigger)
                .patch(update_trigger)
                .delete(delete_trigger),
        )
        .route("/v1/schedules", get(list_schedules).post(create_schedule))
        .route(
            "/v1/schedules/{name}",
            get(get_schedule)
                .patch(update_schedule)
                .delete(delete_schedule),
        )
        .merge(crate::search::routes())
        .route("/v1/{*rest}", axum::routing::any(unknown_route))
        .route("/metrics", get(metrics))
}

// ---------------------------------------------------------------------------------------
// Errors

/// An API error: `{"error": {"code", "message", "field"?}}` with its status, and
/// Lambda's `Type` and `Reason` where Lambda sends them (a throttle).
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<String>,
    /// Lambda's `Reason` of a `TooManyRequestsException`.
    reason: Option<&'static str>,
    /// `Retry-After` (seconds) for a throttled request.
    retry_after_s: Option<u64>,
    /// The connection cannot carry another request (the body was not read to its end).
    close: bool,
}

impl Problem {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Problem {
        Problem {
            status,
            code,
            message: message.into(),
            field: None,
            reason: None,
            retry_after_s: None,
            close: false,
        }
    }

    /// Lambda's throttle: 429 `TooManyRequestsException`, "Rate Exceeded.", with its
    /// `Reason` (when Lambda has one for the case) and `Retry-After`.
    fn throttled(reason: Option<&'static str>, detail: impl std::fmt::Display) -> Problem {
        Problem {
            reason,
            retry_after_s: Some(RETRY_AFTER_S),
            ..Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequestsException",
                format!("Rate Exceeded. {detail}"),
            )
        }
    }

    /// The answer to a request whose handler panicked (the edge logged it).
    pub(crate) fn panicked(request_id: &str) -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            format!(
                "the server failed while handling this request (request id {request_id}); \
                 the failure was logged"
            ),
        )
    }

    /// A body that was not read.
    fn body(e: &crate::server::BodyError) -> Problem {
        use crate::server::BodyError;
        match e {
            BodyError::TooLarge { .. } => Problem {
                close: true,
                ..Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "RequestTooLargeException",
                    e.to_string(),
                )
            },
            BodyError::Busy { .. } => Problem::throttled(None, e),
            BodyError::TimedOut { .. } => Problem {
                close: true,
                ..Problem::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "RequestTimeoutException",
                    e.to_string(),
                )
            },
            BodyError::Unreadable(_) => {
                Problem::bad_request("InvalidRequestContentException", e.to_string())
            }
        }
    }

    /// A 400 about one field (or query parameter); the message names it.
    pub(crate) fn invalid(field: &str, message: impl std::fmt::Display) -> Problem {
        Problem {
            field: Some(field.to_owned()),
            ..Problem::new(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                format!("{field}: {message}"),
            )
        }
    }

    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", message)
    }

    /// A 400 for a request that would exceed one of the server's quotas (the number of
    /// functions, triggers or schedules): Lambda's `ServiceQuotaExceededException`, "The
    /// request would exceed a service quota".
    pub(crate) fn quota_exceeded(message: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "ServiceQuotaExceededException",
            message,
        )
    }

    pub(crate) fn internal(message: impl Into<String>) -> Problem {
        let message = message.into();
        tracing::error!(error = %message, "internal error in the /v1 API");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            message,
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(field) = self.field {
            error["field"] = Value::String(field);
        }
        if let Some(reason) = self.reason {
            error["Reason"] = Value::from(reason);
            error["Type"] = Value::from("User");
        }
        let mut resp = (self.status, json_body(&json!({ "error": error }))).into_response();
        let headers = resp.headers_mut();
        // Lambda names its error type in this header too.
        headers.insert("x-amzn-errortype", HeaderValue::from_static(self.code));
        if let Some(seconds) = self.retry_after_s {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.close {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

impl From<TriggerError> for Problem {
    fn from(e: TriggerError) -> Problem {
        match e {
            TriggerError::Invalid { field, message } => Problem::invalid(field, message),
            TriggerError::NotFound(message) => Problem::not_found(message),
            TriggerError::Conflict(message) => {
                Problem::new(StatusCode::CONFLICT, "ResourceConflictException", message)
            }
            TriggerError::LimitExceeded(message) => Problem::quota_exceeded(message),
            e @ (TriggerError::Storage(_)
            | TriggerError::Source(_)
            | TriggerError::Corrupt { .. }
            | TriggerError::Encode { .. }) => Problem::internal(e.to_string()),
        }
    }
}

impl From<DeployError> for Problem {
    fn from(e: DeployError) -> Problem {
        match &e {
            DeployError::InvalidName { .. } => Problem {
                field: Some("name".to_owned()),
                ..Problem::bad_request("InvalidParameterValueException", e.to_string())
            },
            DeployError::InvalidConfig { field, message } => Problem::invalid(field, message),
            DeployError::TooLarge { .. } => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestTooLargeException",
                e.to_string(),
            ),
            DeployError::NotWasm
            | DeployError::CoreModule
            | DeployError::InvalidComponent { .. }
            | DeployError::WrongWorld { .. } => {
                Problem::bad_request("InvalidComponentException", e.to_string())
            }
            DeployError::TooManyFunctions { .. } => Problem::quota_exceeded(e.to_string()),
            DeployError::Store(_) => Problem::internal(e.to_string()),
            // A rejection added later: its message says what is wrong.
            _ => Problem::bad_request("InvalidParameterValueException", e.to_string()),
        }
    }
}

type ApiResult = Result<Response, Problem>;

pub(crate) fn json_body(v: &Value) -> Response {
    let mut resp = v.to_string().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn ok(v: &Value) -> ApiResult {
    Ok(json_body(v))
}

fn created(v: &Value) -> ApiResult {
    Ok((StatusCode::CREATED, json_body(v)).into_response())
}

/// Runs blocking work (compiling, running wasm, joining consumer threads) off the async
/// workers. A panic in it is raised again in the request's task, where the edge answers
/// it with a 500 and logs it with the route and the request id.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Problem> {
    crate::server::join_blocking(tokio::task::spawn_blocking(f))
        .await
        .ok_or_else(|| {
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceException",
                "the server is shutting down",
            )
        })
}

/// Reads a body of at most `limit_bytes` (refused on its `Content-Length` before any of
/// it is read); keep the result until the request is answered, it holds the body's
/// share of the edge's budget.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit_bytes: usize,
) -> Result<crate::server::Buffered, Problem> {
    crate::server::read_body(headers, body, limit_bytes)
        .await
        .map_err(|e| Problem::body(&e))
}

fn parse_json(bytes: &[u8]) -> Result<Value, Problem> {
    serde_json::from_slice(bytes).map_err(|e| {
        Problem::bad_request(
            "InvalidRequestContentException",
            format!("the body is not valid JSON: {e}"),
        )
    })
}

async fn unknown_route(uri: Uri) -> Problem {
    Problem::not_found(format!("no such API route: {}", uri.path()))
}

// ---------------------------------------------------------------------------------------
// Functions

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
/// `host`/`hosts`, `index`/`indexes`, `email`); or the body is `{"wasm_base64", "config"}` (`application/json`).
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
    crate::server::check_declared(&headers, limit_bytes).map_err(|e| Problem::body(&e))?;
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
                     index or email",
                ));
            }
        }
    }
    Ok(config)
}

/// Deserializes a JSON object field by field first, so that an unknown field or a
/// value of the wrong type is reported with the field's name.
fn parse_fields<T: serde::de::DeserializeOwned>(value: Value, prefix: &str) -> Result<T, Problem> {
    let Value::Object(fields) = value else {
        return Err(Problem::bad_request(
            "InvalidRequestContentException",
            "the body must be a JSON object",
        ));
    };
    for (key, v) in &fields {
        let single = Value::Object(Map::from_iter([(key.clone(), v.clone())]));
        if let Err(e) = serde_json::from_value::<T>(single) {
            return Err(Problem::invalid(&format!("{prefix}{key}"), e));
        }
    }
    serde_json::from_value(Value::Object(fields))
        .map_err(|e| Problem::bad_request("InvalidRequestContentException", e.to_string()))
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

// ---------------------------------------------------------------------------------------
// Triggers

/// Reads a `CreateEventSourceMapping`-shaped body; an unknown field or a value of the
/// wrong type is a 400 naming the field.
fn mapping_request(bytes: &[u8]) -> Result<MappingRequest, Problem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(MappingRequest::default());
    }
    parse_fields(parse_json(bytes)?, "")
}

async fn create_trigger(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let request = mapping_request(
        &read_body(&headers, body, TRIGGER_BODY_BYTES_MAX)
            .await?
            .bytes,
    )?;
    let platform = state.platform.clone();
    created(&json!(
        blocking(move || platform.change_triggers(|t| t.create(&request))).await??
    ))
}

/// `GET /v1/triggers[?FunctionName=F][&EventSourceArn=A]`, as Lambda's
/// `ListEventSourceMappings`.
async fn list_triggers(State(state): State<AppState>, uri: Uri) -> ApiResult {
    let mut function = None;
    let mut source = None;
    for (key, value) in parse_query(uri.query().unwrap_or(""))? {
        match key.as_str() {
            "FunctionName" => function = Some(value),
            "EventSourceArn" => source = Some(value),
            other => {
                return Err(Problem::invalid(
                    other,
                    "unknown parameter: use FunctionName or EventSourceArn",
                ));
            }
        }
    }
    let mappings: Vec<_> = state
        .platform
        .triggers
        .list()
        .into_iter()
        .filter(|m| {
            function
                .as_deref()
                .is_none_or(|f| m.function_arn == f || m.function_name == f)
        })
        .filter(|m| {
            source.as_deref().is_none_or(|s| {
                let arn = &m.event_source_arn;
                arn == s || arn.starts_with(&format!("{s}/stream/"))
            })
        })
        .collect();
    ok(&json!({ "EventSourceMappings": mappings }))
}

async fn get_trigger(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    ok(&json!(state.platform.triggers.get(&id)?))
}

async fn update_trigger(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let request = mapping_request(
        &read_body(&headers, body, TRIGGER_BODY_BYTES_MAX)
            .await?
            .bytes,
    )?;
    let platform = state.platform.clone();
    ok(&json!(
        blocking(move || platform.change_triggers(|t| t.update(&id, &request))).await??
    ))
}

async fn delete_trigger(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let platform = state.platform.clone();
    ok(&json!(
        blocking(move || platform.change_triggers(|t| t.delete(&id))).await??
    ))
}

// ---------------------------------------------------------------------------------------
// Metrics

/// `GET /metrics`: every trigger's counters plus a few server gauges, in Prometheus'
/// text format.
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
        crate::server::body_bytes_in_flight() as f64,
    );
    out.push_str(&crate::prometheus::triggers(&platform.triggers.metrics()));
    out.push_str(&crate::prometheus::schedules(&platform.schedules.metrics()));
    let mut resp = out.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    resp
}

// ---------------------------------------------------------------------------------------
// Helpers

/// `a=1&b=x%20y&b=z` into ordered pairs (repeated keys kept); `+` is a space.
fn parse_query(query: &str) -> Result<Vec<(String, String)>, Problem> {
    let mut pairs = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        let key = percent_decode(key).ok_or_else(|| {
            Problem::invalid("query", format!("{key:?} is not URL-encoded UTF-8"))
        })?;
        let value = percent_decode(value)
            .ok_or_else(|| Problem::invalid(&key, format!("{value:?} is not URL-encoded UTF-8")))?;
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// `x%20y` or `x+y` into `x y`; `None` for a bad escape or text that is not UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = char::from(bytes.next()?).to_digit(16)?;
                let lo = char::from(bytes.next()?).to_digit(16)?;
                out.push(u8::try_from(hi * 16 + lo).ok()?);
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

fn duration_ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------------------
// Schedules

fn schedule_request(bytes: &[u8]) -> Result<ScheduleRequest, Problem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(ScheduleRequest::default());
    }
    parse_fields(parse_json(bytes)?, "")
}

async fn list_schedules(State(state): State<AppState>) -> ApiResult {
    ok(&json!({ "Schedules": state.platform.schedules.list() }))
}

async fn create_schedule(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let request = schedule_request(
        &read_body(&headers, body, TRIGGER_BODY_BYTES_MAX)
            .await?
            .bytes,
    )?;
    let platform = state.platform.clone();
    created(&json!(
        blocking(move || platform.schedules.create(&request)).await??
    ))
}

async fn get_schedule(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult {
    ok(&json!(state.platform.schedules.get(&name)?))
}

async fn update_schedule(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let request = schedule_request(
        &read_body(&headers, body, TRIGGER_BODY_BYTES_MAX)
            .await?
            .bytes,
    )?;
    let platform = state.platform.clone();
    ok(&json!(
        blocking(move || platform.schedules.update(&name, &request)).await??
    ))
}

async fn delete_schedule(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult {
    let platform = state.platform.clone();
    ok(&json!(
        blocking(move || platform.schedules.delete(&name)).await??
    ))
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

    #[test]
    fn quotas_and_throttles_answer_lambdas_shapes() {
        let quota = Problem::from(TriggerError::LimitExceeded("too many".into()));
        assert_eq!(quota.status, StatusCode::BAD_REQUEST);
        assert_eq!(quota.code, "ServiceQuotaExceededException");
        let quota = Problem::from(TriggerError::LimitExceeded("too many".into()));
        assert_eq!(quota.code, "ServiceQuotaExceededException");
        let quota = Problem::from(DeployError::TooManyFunctions { deployed: 256 });
        assert_eq!(quota.code, "ServiceQuotaExceededException");
        assert!(quota.message.contains("256"), "{}", quota.message);

        let throttled = Problem::throttled(Some("ConcurrentInvocationLimitExceeded"), "busy");
        let resp = throttled.into_response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            resp.headers()["x-amzn-errortype"],
            "TooManyRequestsException"
        );
        assert_eq!(resp.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn mapping_request_names_unknown_and_mistyped_fields() {
        let e = mapping_request(br#"{"FunctionName":"f","Colour":1}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("Colour"));
        let e = mapping_request(br#"{"BatchSize":"ten"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("BatchSize"));
        let r = mapping_request(br#"{"FunctionName":"f","BatchSize":5}"#).unwrap();
        assert_eq!(r.batch_size, Some(5));
    }
}
