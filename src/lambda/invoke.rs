//! Lambda's Invoke (`POST /2015-03-31/functions/{name}/invocations`) over Eddy's
//! executor: `RequestResponse` answers the function's response as the body, and a
//! function that failed with 200, `X-Amz-Function-Error: Unhandled` and Lambda's
//! `{"errorMessage", "errorType"}`; `LogType: Tail` adds the last 4 KB of the
//! invocation's log, base64, in `X-Amz-Log-Result`; `Event` queues the invocation and
//! answers 202 at once; `DryRun` checks the request and answers 204.
//!
//! Owns those answers. Must not know how the function runs (the executor does); the
//! invocation waits for its instance slot without a thread, as `/v1`'s does.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::IntoResponse;
use base64::Engine as _;
use eddy_triggers::{Invocation, InvokeError, LogLine};

use super::error::LambdaError;
use super::functions::resolve;
use super::{LambdaResult, query_param, read_body};
use crate::state::AppState;

/// Largest payload Invoke takes (Lambda's 6 MB of a synchronous invocation).
pub const INVOKE_PAYLOAD_BYTES_MAX: usize = 6 * 1024 * 1024;
/// How much of the log's end `LogType: Tail` returns (Lambda's last 4 KB).
pub const LOG_TAIL_BYTES_MAX: usize = 4 * 1024;

/// Lambda's invocation types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub(super) async fn invoke(
    State(state): State<AppState>,
    Path(reference): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> LambdaResult {
    let kind = match header_text(&headers, "x-amz-invocation-type") {
        None | Some("RequestResponse") => InvocationType::RequestResponse,
        Some("Event") => InvocationType::Event,
        Some("DryRun") => InvocationType::DryRun,
        Some(other) => {
            return Err(LambdaError::constraint(
                other,
                "invocationType",
                "Member must satisfy enum value set: [Event, RequestResponse, DryRun]",
            ));
        }
    };
    let tail = match header_text(&headers, "x-amz-log-type") {
        None | Some("None") => false,
        Some("Tail") => true,
        Some(other) => {
            return Err(LambdaError::constraint(
                other,
                "logType",
                "Member must satisfy enum value set: [None, Tail]",
            ));
        }
    };
    let qualifier = query_param(&uri, "Qualifier")?;
    let (function, _) = resolve(&state, &reference, qualifier.as_deref())?;
    // A call naming the deployed version ran that version; an unqualified one ran
    // `$LATEST`, which is the same code.
    let (_, in_name) = super::names::function_name(&reference);
    let qualified = qualifier
        .as_deref()
        .or(in_name.as_deref())
        .is_some_and(|q| q != "$LATEST");
    let body = read_body(&headers, body, INVOKE_PAYLOAD_BYTES_MAX, "Invoke").await?;
    let bytes = &body.bytes;
    let event = if bytes.iter().all(u8::is_ascii_whitespace) {
        "{}".to_owned()
    } else {
        serde_json::from_slice::<serde_json::Value>(bytes).map_err(|e| {
            LambdaError::unparsable(format!("Could not parse payload into json: {e}"))
        })?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| LambdaError::unparsable("the payload is not UTF-8"))?
    };
    if kind == InvocationType::DryRun {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let executor = state.platform.executor.clone();
    let tables = state.platform.tables.clone();
    let version = function.version();
    let mut ticket = executor.admit(&function).map_err(|e| {
        // Every instance slot is busy and the queue is full: Lambda's answer when an
        // invocation would exceed the account's concurrency.
        LambdaError::throttled(Some("ConcurrentInvocationLimitExceeded"), e)
    })?;
    if kind == InvocationType::Event {
        // Admitted (so counted against the queue) before the 202: an event Eddy could not
        // queue is refused, not lost. It runs on its own task; its failures are in the
        // function's log, as a Lambda asynchronous invocation's are in its log group.
        drop(body);
        tokio::spawn(async move {
            let name = function.name().to_owned();
            let _ = tokio::time::timeout_at(ticket.deadline().into(), ticket.slot()).await;
            let invocation = if ticket.has_slot() {
                ticket.run_on_thread(function, event, tables).await
            } else {
                ticket.expire()
            };
            // Nobody waits for the answer: a failure is said on the server's log, or it
            // would be seen nowhere but in the function's own lines.
            if let Err(e) = &invocation.result {
                tracing::warn!(
                    function = %name,
                    version,
                    error = %e,
                    "an asynchronous invocation (Lambda's Event) failed; it is not retried"
                );
            }
        });
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    let _ = tokio::time::timeout_at(ticket.deadline().into(), ticket.slot()).await;
    let invocation = if ticket.has_slot() {
        ticket.run_on_thread(function, event, tables).await
    } else {
        ticket.expire()
    };
    drop(body);
    let executed = if qualified {
        version.to_string()
    } else {
        "$LATEST".to_owned()
    };
    respond(invocation, tail, &executed)
}

/// Lambda's answer to a synchronous invocation that reached the executor.
fn respond(invocation: Invocation, tail: bool, executed: &str) -> LambdaResult {
    let (payload, function_error) = match &invocation.result {
        // A function that returns nothing answers `null`, as a Lambda handler returning
        // None does.
        Ok(response) if response.trim().is_empty() => ("null".to_owned(), false),
        Ok(response) => (response.clone(), false),
        // A panic of host code is Eddy's failure, not the function's (it was logged).
        Err(InvokeError::Host { message }) => return Err(LambdaError::service(message.clone())),
        // Refused before it ran: Lambda's throttle.
        Err(e @ InvokeError::Throttled { .. }) => {
            return Err(LambdaError::throttled(
                Some("ConcurrentInvocationLimitExceeded"),
                e,
            ));
        }
        Err(e) => (
            serde_json::json!({ "errorMessage": e.to_string(), "errorType": error_type(e) })
                .to_string(),
            true,
        ),
    };
    let mut resp = (StatusCode::OK, payload).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(executed) {
        h.insert("x-amz-executed-version", v);
    }
    if function_error {
        h.insert(
            "x-amz-function-error",
            HeaderValue::from_static("Unhandled"),
        );
    }
    if tail
        && let Ok(v) = HeaderValue::from_str(
            &base64::engine::general_purpose::STANDARD.encode(log_tail(&invocation)),
        )
    {
        h.insert("x-amz-log-result", v);
    }
    Ok(resp)
}

/// The `errorType` of a failed invocation: Lambda's names where Lambda has one for the
/// case (a timeout is `Sandbox.Timedout`, running out of memory
/// `Runtime.OutOfMemory`), Eddy's kind otherwise.
fn error_type(e: &InvokeError) -> &'static str {
    match e {
        InvokeError::Timeout { .. } => "Sandbox.Timedout",
        InvokeError::OutOfMemory { .. } => "Runtime.OutOfMemory",
        InvokeError::Trap { .. } => "Runtime.Trap",
        InvokeError::FunctionError { .. } => "FunctionError",
        InvokeError::Throttled { .. } => "Throttled",
        InvokeError::Host { .. } => "HostError",
    }
}

/// The invocation's log as text, one line per entry and a closing `REPORT` line as
/// Lambda writes one, cut to its last [`LOG_TAIL_BYTES_MAX`] bytes at a character
/// boundary.
fn log_tail(invocation: &Invocation) -> String {
    let mut text = String::new();
    for line in &invocation.logs {
        text.push_str(&log_text(line));
        text.push('\n');
    }
    text.push_str(&format!(
        "REPORT Duration: {:.2} ms\tQueued: {:.2} ms\n",
        invocation.duration.as_secs_f64() * 1000.0,
        invocation.queued.as_secs_f64() * 1000.0
    ));
    let mut cut = text.len().saturating_sub(LOG_TAIL_BYTES_MAX);
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    text[cut..].to_owned()
}

fn log_text(line: &LogLine) -> String {
    let level = serde_json::to_value(line.level)
        .ok()
        .and_then(|v| v.as_str().map(str::to_uppercase))
        .unwrap_or_default();
    let mut text = format!(
        "{}\t{level}\t{}",
        eddy_engine::clock::rfc3339_ms(line.timestamp_ms),
        line.message
    );
    for (k, v) in &line.fields {
        text.push_str(&format!(" {k}={v}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_log_tail_is_the_last_4_kb_at_a_character_boundary() {
        let line = |message: String| LogLine {
            invocation: 1,
            version: 1,
            timestamp_ms: 0,
            level: eddy_triggers::LogLevel::Info,
            message,
            fields: vec![("k".into(), "v".into())],
        };
        let invocation = Invocation {
            result: Ok(String::new()),
            logs: vec![line("é".repeat(3000)), line("last words".into())],
            duration: Duration::from_millis(2),
            queued: Duration::ZERO,
            started: true,
        };
        let tail = log_tail(&invocation);
        assert!(tail.len() <= LOG_TAIL_BYTES_MAX);
        assert!(tail.contains("INFO\tlast words k=v\n"), "{tail}");
        assert!(tail.ends_with("Queued: 0.00 ms\n"), "{tail}");
    }
}
