//! The `/v1/` API and the DynamoDB JSON protocol over plain HTTP/1.1, for the end-to-end
//! tests that deploy functions and create triggers: requests, responses, test guests and
//! poll loops. Knows nothing about what a test checks.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Upper bound of every poll loop of the end-to-end tests.
pub const WAIT: Duration = Duration::from_secs(30);
/// How long a test watches for something that must not happen (a disabled or deleted
/// trigger delivering): several times the consumers' 200 ms control interval.
pub const QUIET_MS: u64 = 1_000;
/// Read timeout of one API request (a deploy compiles for up to a few seconds in a
/// debug build).
pub const REQUEST_TIMEOUT_S: u64 = 60;
/// Pause between two polls of a wait: short, since every poll is a cheap local request.
const POLL_MS: u64 = 20;

/// The directory of the built test guests: `$EDDY_TEST_GUESTS_DIR`, or the functions
/// workspace's release output.
pub fn guests_dir() -> PathBuf {
    std::env::var_os("EDDY_TEST_GUESTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("functions/target/wasm32-wasip2/release")
        })
}

/// The path of test guest `name` (e.g. `recorder`), which must exist.
pub fn guest_path(name: &str) -> PathBuf {
    let path = guests_dir().join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "test guest {} is missing: run tests/run.sh, which builds the guests with \
         `cargo build --release --target wasm32-wasip2 --manifest-path functions/Cargo.toml` \
         (or set EDDY_TEST_GUESTS_DIR)",
        path.display()
    );
    path
}

pub fn guest(name: &str) -> Vec<u8> {
    std::fs::read(guest_path(name)).expect("read the test guest")
}

/// A response of the API.
pub struct Resp {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts the status and returns the JSON body.
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            self.text()
        );
        self.json()
    }

    /// Asserts an API error: its status, and that the message and `field` name `field`.
    pub fn expect_error(&self, status: u16, field: Option<&str>, needle: &str) -> Value {
        let body = self.expect(status);
        let error = &body["error"];
        let message = error["message"].as_str().unwrap_or_default();
        assert!(error["code"].is_string(), "no error code: {body}");
        assert!(
            message.contains(needle),
            "message {message:?} should mention {needle:?}"
        );
        if let Some(field) = field {
            assert_eq!(error["field"], field, "{body}");
            assert!(
                message.contains(field),
                "message {message:?} should name {field}"
            );
        }
        body
    }
}

/// One HTTP/1.1 request with `Connection: close`.
pub fn http(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(REQUEST_TIMEOUT_S)))
        .expect("timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("write");
    stream.write_all(body).expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let headers = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let mut body = raw[split + 4..].to_vec();
    if headers.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

pub fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size");
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&rest[..line_end])
                .split(';')
                .next()
                .unwrap_or("")
                .trim(),
            16,
        )
        .expect("chunk size");
        rest = &rest[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

pub fn get(endpoint: &str, path: &str) -> Resp {
    http(endpoint, "GET", path, &[], b"")
}

pub fn send_json(endpoint: &str, method: &str, path: &str, body: &Value) -> Resp {
    http(
        endpoint,
        method,
        path,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
}

pub fn deploy(endpoint: &str, name: &str, query: &str, wasm: &[u8]) -> Resp {
    http(
        endpoint,
        "PUT",
        &format!("/v1/functions/{name}{query}"),
        &[("Content-Type", "application/wasm")],
        wasm,
    )
}

/// One DynamoDB operation on `POST /`; panics on an error.
pub fn ddb(endpoint: &str, op: &str, body: Value) -> Value {
    wire_call(endpoint, "DynamoDB_20120810", op, body)
}

/// One DynamoDB Streams operation on `POST /`; panics on an error.
pub fn streams(endpoint: &str, op: &str, body: Value) -> Value {
    wire_call(endpoint, "DynamoDBStreams_20120810", op, body)
}

/// One call of the JSON 1.0 protocol (`X-Amz-Target: <service>.<op>`) that must succeed.
fn wire_call(endpoint: &str, service: &str, op: &str, body: Value) -> Value {
    let target = format!("{service}.{op}");
    let resp = http(
        endpoint,
        "POST",
        "/",
        &[
            ("X-Amz-Target", &target),
            ("Content-Type", "application/x-amz-json-1.0"),
        ],
        body.to_string().as_bytes(),
    );
    resp.expect(200)
}

/// Runs the `eddy` CLI (`eddy <args> --endpoint <endpoint>`), a client of the server.
pub fn eddy(endpoint: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(args)
        .args(["--endpoint", endpoint])
        .output()
        .expect("run eddy")
}

/// Runs a client command that must succeed; returns its JSON output.
pub fn eddy_ok(endpoint: &str, args: &[&str]) -> Value {
    let out = eddy(endpoint, args);
    assert!(
        out.status.success(),
        "eddy {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "eddy {args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

pub fn create_table(endpoint: &str, name: &str, stream: bool) {
    let mut req = json!({
        "TableName": name,
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    });
    if stream {
        req["StreamSpecification"] =
            json!({"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"});
    }
    ddb(endpoint, "CreateTable", req);
}

/// Polls `done` until it holds, for at most [`WAIT`].
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    wait_for(
        what,
        WAIT,
        || if done() { Ok(()) } else { Err(String::new()) },
    );
}

/// Polls `check` until it returns `Ok`, for at most `within`, and returns its value. A
/// check answers `Err` with what it saw instead, so that a timeout says more than that
/// it timed out: the last such answer is in the panic message. Tests whose wait is
/// longer than [`WAIT`] (indexing thousands of records in a debug build) pass their own
/// `within`.
pub fn wait_for<T>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        match check() {
            Ok(value) => return value,
            Err(seen) => {
                let seen = if seen.is_empty() {
                    seen
                } else {
                    format!("; {seen}")
                };
                assert!(
                    Instant::now() < deadline,
                    "timed out waiting for {what}{seen}"
                );
            }
        }
        std::thread::sleep(Duration::from_millis(POLL_MS));
    }
}

pub fn create_trigger(endpoint: &str, body: Value) -> Value {
    send_json(endpoint, "POST", "/v1/triggers", &body).expect(201)
}

/// Attaches `function` to `table`'s stream from `TRIM_HORIZON` in batches of up to 100
/// and returns the trigger's id: the plain trigger a pipeline test starts with, and the
/// one it adds later to replay every record through the same function.
pub fn attach(endpoint: &str, function: &str, table: &str) -> String {
    let created = create_trigger(
        endpoint,
        json!({
            "FunctionName": function,
            "TableName": table,
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 100,
        }),
    );
    created["UUID"].as_str().expect("UUID").to_owned()
}

pub fn trigger(endpoint: &str, id: &str) -> Value {
    get(endpoint, &format!("/v1/triggers/{id}")).expect(200)
}

pub fn metric(trigger: &Value, name: &str) -> u64 {
    trigger["Metrics"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("no metric {name}: {trigger}"))
}

/// Waits, for at most `within`, until trigger `id` delivered `records` records and
/// returns the trigger. Every record a test writes is delivered once by a healthy
/// trigger, so delivering more than that fails at once rather than passing by accident.
pub fn wait_delivered(endpoint: &str, id: &str, records: u64, within: Duration) -> Value {
    wait_for(
        &format!("trigger {id} to deliver {records} records"),
        within,
        || {
            let shown = trigger(endpoint, id);
            let delivered = metric(&shown, "RecordsDelivered");
            assert!(
                delivered <= records,
                "trigger {id} delivered {delivered} records, more than the {records} written"
            );
            if delivered == records {
                Ok(shown)
            } else {
                Err(format!("metrics: {}", shown["Metrics"]))
            }
        },
    )
}

/// The log lines of `function` whose message is `message`, oldest first: how a test sees
/// what a function decided about a record when the decision leaves no other trace.
pub fn logs(endpoint: &str, function: &str, message: &str) -> Vec<Value> {
    get(endpoint, &format!("/v1/functions/{function}/logs")).expect(200)["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .filter(|line| line["message"] == message)
        .cloned()
        .collect()
}
