//! Test guest: makes one outbound HTTP request described by the event
//! (`{"method": "GET", "url": "http://…", "body": "…"}`) and returns
//! `{"status": 200, "body": "…"}`, or the request's error as a function error
//! (`denied: …`, `invalid: …`, `transport: …`).

use eddy_sdk::http::{HttpError, Request};
use eddy_sdk::{Context, Error};
use serde_json::{Value, json};

fn handle(event: Value, _ctx: &Context) -> Result<Value, Error> {
    let field = |name: &str| event.get(name).and_then(Value::as_str).unwrap_or_default();
    let method = match field("method") {
        "" => "GET",
        m => m,
    };
    let response = Request::new(method, field("url"))
        .header("x-eddy-test", "1")
        .body(field("body"))
        .send()
        .map_err(|e| {
            Error::msg(match e {
                HttpError::Denied(m) => format!("denied: {m}"),
                HttpError::Invalid(m) => format!("invalid: {m}"),
                HttpError::Transport(m) => format!("transport: {m}"),
            })
        })?;
    Ok(json!({"status": response.status, "body": response.text()}))
}

eddy_sdk::handler!(handle);
