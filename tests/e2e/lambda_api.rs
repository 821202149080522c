//! Lambda's API where boto3's suite (`tests/python/lambda_api.py`) cannot look: the
//! server's own log. An asynchronous invocation (`X-Amz-Invocation-Type: Event`) is
//! answered before it runs, so its failure must be said on the server's log.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::api::{guest, http};

/// How long the failure of an Event invocation may take to reach the log.
const LOG_WAIT_MS: u64 = 10_000;

#[test]
fn a_failed_event_invocation_is_a_warning_on_the_servers_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The harness keeps only the address from the server's output; this test reads all
    // of it (tracing writes to stdout).
    let mut child = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start eddy");
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let stdout = child.stdout.take().expect("stdout");
    let seen = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            seen.lock().unwrap().push(line);
        }
    });
    let wait_for = |what: &dyn Fn(&str) -> bool| -> Option<String> {
        let deadline = Instant::now() + Duration::from_millis(LOG_WAIT_MS);
        while Instant::now() < deadline {
            if let Some(l) = lines.lock().unwrap().iter().find(|l| what(l)) {
                return Some(l.clone());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    };
    let listening = wait_for(&|l| l.starts_with("Eddy is listening on ")).expect("started");
    let endpoint = listening["Eddy is listening on ".len()..].trim().to_owned();

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
    let _ = child.kill();
    let _ = child.wait();
    let warning = warning.unwrap_or_else(|| {
        panic!(
            "no warning for the failed Event invocation in:\n{}",
            lines.lock().unwrap().join("\n")
        )
    });
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("async-fails"), "{warning}");
    assert!(warning.contains("fail-on: mode=error"), "{warning}");
}
