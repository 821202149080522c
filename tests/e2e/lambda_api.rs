//! Lambda's API where boto3's suite (`tests/python/lambda_api.py`) cannot look: the
//! server's own log. An asynchronous invocation (`X-Amz-Invocation-Type: Event`) is
//! answered before it runs, so its failure must be said on the server's log.

use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::api::{guest, http};
use crate::harness::Server;

/// How long the failure of an Event invocation may take to reach the log.
const LOG_WAIT_MS: u64 = 10_000;

#[test]
fn a_failed_event_invocation_is_a_warning_on_the_servers_log() {
    // The server's log (its stderr) at the default level, kept by the harness.
    let (server, log) = Server::start_logged(&[], None);
    let endpoint = server.endpoint.clone();
    let wait_for = |what: &dyn Fn(&str) -> bool| -> Option<String> {
        let deadline = Instant::now() + Duration::from_millis(LOG_WAIT_MS);
        while Instant::now() < deadline {
            let all = log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(l) = all.lines().find(|l| what(l)) {
                return Some(l.to_owned());
            }
            drop(all);
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    };

    let code = base64::engine::general_purpose::STANDARD.encode(guest("fail_on"));
    let create = serde_json::json!({
        "FunctionName": "async-fails",
        "Role": "arn:aws:iam::000000000000:role/any",
        "Code": { "ZipFile": code },
        "Environment": { "Variables": { "mode": "error" } },
    });
    let resp = http(
        &endpoint,
        "POST",
        "/2015-03-31/functions",
        &[("content-type", "application/json")],
        create.to_string().as_bytes(),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let resp = http(
        &endpoint,
        "POST",
        "/2015-03-31/functions/async-fails/invocations",
        &[("x-amz-invocation-type", "Event")],
        br#"{"Records": []}"#,
    );
    assert_eq!(resp.status, 202, "{}", resp.text());
    let warning = wait_for(&|l| l.contains("asynchronous invocation"));
    let warning = warning.unwrap_or_else(|| {
        panic!(
            "no warning for the failed Event invocation in:\n{}",
            log.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        )
    });
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("async-fails"), "{warning}");
    assert!(warning.contains("fail-on: mode=error"), "{warning}");
}
