//! The HTTP edge under hostile clients, against the real binary: connections that never
//! finish their headers, bodies that stop arriving, oversized bodies refused on their
//! `Content-Length`, uploads beyond the concurrent-upload cap, and a burst of
//! invocations larger than the executor's slots and queue. Meanwhile SDK clients are
//! served as usual.
//!
//! The limits are the server's own constants (`eddy::server`, `eddy::api`,
//! `eddy_triggers`), so the tests follow them when they change.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::api::{deploy, get, guest, wait_until};
use crate::harness::{Server, table_name};

/// Slack on top of a server-side timeout before a test expects its effect: the server
/// checks its deadlines on timers, and CI machines are busy.
const TIMEOUT_SLACK_MS: u64 = 5_000;
/// "At once": an answer that must not wait for the body, a queue or a timeout comes
/// well within this.
const AT_ONCE_MS: u64 = 3_000;

fn addr(server: &Server) -> String {
    server.endpoint.trim_start_matches("http://").to_owned()
}

/// A PutItem and a GetItem of item `pk = id` through the SDK, which must both succeed.
async fn put_and_get(c: &aws_sdk_dynamodb::Client, table: &str, id: &str) {
    c.put_item()
        .table_name(table)
        .item("pk", AttributeValue::S(id.to_owned()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutItem {id}: {e:?}"));
    let got = c
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(id.to_owned()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetItem {id}: {e:?}"));
    assert!(got.item.is_some(), "{id} was written");
}

/// Whether the server has closed `stream` (end of stream or reset), without waiting; a
/// stream the server sent bytes on is not closed yet.
fn closed_now(mut stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 64];
    let closed = match stream.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != ErrorKind::WouldBlock,
    };
    stream.set_nonblocking(false).expect("blocking");
    closed
}

/// Whether the server closes `stream` (end of stream or reset) within `within`, reading
/// past any answer it sends first.
fn closed_within(mut stream: &TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).expect("timeout");
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// Reads an answer's status line and headers (the server may close the connection
/// right after it, even reset it if the client's body was not read), and the body if
/// it comes before the connection ends.
fn read_answer(stream: &mut TcpStream, within: Duration) -> (u16, String, String) {
    stream.set_read_timeout(Some(within)).expect("timeout");
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if raw.is_empty() => panic!("no answer: {e}"),
            Err(_) => break,
        }
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if raw.len() >= end + 4 + length {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, head.to_ascii_lowercase(), body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_never_finish_their_headers_are_closed_while_sdk_clients_are_served() {
    /// As many as the client that found the problem opened.
    const SLOW_CONNECTIONS: usize = 1_500;
    let server = Server::start();
    let c = server.client();
    let table = table_name("edge-slow-headers");
    crate::control::create(&c, &table, false).await;

    let started = Instant::now();
    let target = addr(&server);
    let slow: Vec<TcpStream> = (0..SLOW_CONNECTIONS)
        .map(|i| {
            let mut s = TcpStream::connect(&target).expect("connect");
            // Half send nothing at all, half the start of a request and no more.
            if i % 2 == 1 {
                s.write_all(b"POST / HTTP/1.1\r\nHost: eddy\r\nX-Amz-Tar")
                    .expect("write");
            }
            s
        })
        .collect();
    let connected = Instant::now();
    let header_timeout = Duration::from_millis(eddy::server::HEADER_READ_TIMEOUT_MS);
    // The server counts from when it accepted each connection, which on a busy machine
    // can be a while after the client connected.
    let closes_by = connected + header_timeout + 2 * Duration::from_millis(TIMEOUT_SLACK_MS);

    // They are held (not refused), and meanwhile SDK clients are served as usual.
    let mut served = 0;
    while Instant::now() < started + header_timeout / 2 {
        put_and_get(&c, &table, &format!("during-{served}")).await;
        served += 1;
    }
    let open = slow.iter().filter(|s| !closed_now(s)).count();
    assert_eq!(
        open, SLOW_CONNECTIONS,
        "the slow connections are held until their header timeout"
    );
    let all_closed_after = loop {
        put_and_get(&c, &table, &format!("during-{served}")).await;
        served += 1;
        let open = slow.iter().filter(|s| !closed_now(s)).count();
        if open == 0 {
            break started.elapsed();
        }
        assert!(
            Instant::now() < closes_by,
            "{open} connections that never finished their headers are still open"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(all_closed_after >= header_timeout, "{all_closed_after:?}");
    put_and_get(&c, &table, "after").await;
    println!(
        "{SLOW_CONNECTIONS} slow connections opened in {:?}, all closed {all_closed_after:?} \
         after the first was; {served} PutItem/GetItem pairs served meanwhile",
        connected - started
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_arriving_is_answered_408_after_the_body_timeout_and_others_are_served() {
    let server = Server::start();
    let c = server.client();
    let table = table_name("edge-slow-body");
    crate::control::create(&c, &table, false).await;
    let target = addr(&server);

    // Announces 100,000 bytes, sends 13: on the DynamoDB route and on /v1.
    let stalled = |head: &str| {
        let mut s = TcpStream::connect(&target).expect("connect");
        s.write_all(head.as_bytes()).expect("write");
        s.write_all(b"{\"TableName\":").expect("write");
        s
    };
    let started = Instant::now();
    let mut dynamodb = stalled(
        "POST / HTTP/1.1\r\nHost: eddy\r\nX-Amz-Target: DynamoDB_20120810.PutItem\r\n\
         Content-Type: application/x-amz-json-1.0\r\nContent-Length: 100000\r\n\r\n",
    );
    let mut v1 = stalled(
        "POST /v1/triggers HTTP/1.1\r\nHost: eddy\r\nContent-Type: application/json\r\n\
         Content-Length: 100000\r\n\r\n",
    );
    let body_timeout = Duration::from_millis(eddy::server::BODY_READ_TIMEOUT_MS);
    let answer_within = body_timeout + Duration::from_millis(TIMEOUT_SLACK_MS);

    let waiting = tokio::task::spawn_blocking(move || {
        let dynamodb_answer = read_answer(&mut dynamodb, answer_within);
        let v1_answer = read_answer(&mut v1, answer_within);
        let elapsed = started.elapsed();
        // After its answer the server closes the connection: the body was not read.
        let closed = Duration::from_millis(AT_ONCE_MS);
        assert!(
            closed_within(&dynamodb, closed),
            "the DynamoDB connection is closed"
        );
        assert!(closed_within(&v1, closed), "the /v1 connection is closed");
        (dynamodb_answer, v1_answer, elapsed)
    });
    // Other clients are not held up meanwhile.
    let mut served = 0;
    while !waiting.is_finished() {
        put_and_get(&c, &table, &format!("during-{served}")).await;
        served += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ((status, head, body), (v1_status, v1_head, v1_body), elapsed) = waiting.await.unwrap();
    assert_eq!(status, 408, "{head}\n{body}");
    assert!(head.contains("connection: close"), "{head}");
    let body: Value = serde_json::from_str(&body).expect("a JSON error");
    assert!(
        body["__type"]
            .as_str()
            .unwrap()
            .ends_with("#RequestTimeoutException"),
        "{body}"
    );
    assert_eq!(v1_status, 408, "{v1_head}\n{v1_body}");
    let v1_body: Value = serde_json::from_str(&v1_body).expect("a JSON error");
    assert_eq!(v1_body["error"]["code"], "RequestTimeoutException");
    assert!(
        elapsed >= body_timeout - Duration::from_millis(500),
        "answered after {elapsed:?}, before the body timeout"
    );
    assert!(served > 0);
    println!("stalled bodies answered 408 after {elapsed:?}; {served} pairs served meanwhile");
}

/// Sends the head of a request that announces `content_length` bytes and the first
/// kilobyte of them, and returns the answer, which must come before the rest is sent.
fn announce(target: &str, head: &str, content_length: usize) -> (u16, String, String, Duration) {
    let mut s = TcpStream::connect(target).expect("connect");
    let started = Instant::now();
    s.write_all(format!("{head}Content-Length: {content_length}\r\n\r\n").as_bytes())
        .expect("write");
    let _ = s.write_all(&[b'x'; 1024]);
    let (status, head, body) = read_answer(&mut s, Duration::from_millis(AT_ONCE_MS));
    (status, head, body, started.elapsed())
}

#[test]
fn an_oversized_body_is_refused_with_413_on_its_content_length_before_it_is_read() {
    let server = Server::start();
    let target = addr(&server);
    deploy(&server.endpoint, "x", "", &guest("noop")).expect(201);

    // A 100 MB function upload, raw and as JSON.
    for content_type in ["application/wasm", "application/json"] {
        let (status, head, body, took) = announce(
            &target,
            &format!(
                "PUT /v1/functions/x HTTP/1.1\r\nHost: eddy\r\nContent-Type: {content_type}\r\n"
            ),
            100_000_000,
        );
        assert_eq!(status, 413, "{head}\n{body}");
        let body: Value = serde_json::from_str(&body).expect("a JSON error");
        assert_eq!(body["error"]["code"], "RequestTooLargeException", "{body}");
        assert!(took < Duration::from_millis(AT_ONCE_MS), "{took:?}");
    }
    // An invocation event over Lambda's 6 MB.
    let (status, ..) = announce(
        &target,
        "POST /v1/functions/x/invoke HTTP/1.1\r\nHost: eddy\r\n",
        eddy::api::INVOKE_EVENT_BYTES_MAX + 1,
    );
    assert_eq!(status, 413);

    // A DynamoDB request over 16 MB.
    let (status, head, body, took) = announce(
        &target,
        "POST / HTTP/1.1\r\nHost: eddy\r\nX-Amz-Target: DynamoDB_20120810.BatchWriteItem\r\n\
         Content-Type: application/x-amz-json-1.0\r\n",
        eddy::server::REQUEST_BODY_BYTES_MAX + 1,
    );
    assert_eq!(status, 413, "{head}\n{body}");
    let body: Value = serde_json::from_str(&body).expect("a JSON error");
    assert!(
        body["__type"]
            .as_str()
            .unwrap()
            .ends_with("#RequestEntityTooLargeException"),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains(&eddy::server::REQUEST_BODY_BYTES_MAX.to_string()),
        "{body}"
    );
    assert!(took < Duration::from_millis(AT_ONCE_MS), "{took:?}");

    // Nothing of them was buffered.
    let metrics = get(&server.endpoint, "/metrics").text();
    assert!(
        metrics.contains("eddy_request_body_bytes_in_flight 0\n"),
        "{metrics}"
    );
}

/// `/metrics`' value of a series without labels.
fn gauge(endpoint: &str, name: &str) -> f64 {
    let text = get(endpoint, "/metrics").text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[test]
fn uploads_beyond_the_concurrent_upload_cap_are_refused_at_once_with_429() {
    let server = Server::start();
    let target = addr(&server);
    let cap = eddy::api::UPLOADS_CONCURRENT_MAX;
    // Uploads in progress: their bodies are still arriving.
    let held: Vec<TcpStream> = (0..cap)
        .map(|i| {
            let mut s = TcpStream::connect(&target).expect("connect");
            s.write_all(
                format!(
                    "PUT /v1/functions/slow{i} HTTP/1.1\r\nHost: eddy\r\n\
                     Content-Type: application/wasm\r\nContent-Length: 1000000\r\n\r\n"
                )
                .as_bytes(),
            )
            .expect("write");
            s.write_all(&[0u8; 100]).expect("write");
            s
        })
        .collect();
    wait_until("the uploads to be in progress", || {
        gauge(&server.endpoint, "eddy_function_uploads_in_progress") == cap as f64
    });
    let started = Instant::now();
    let refused = deploy(&server.endpoint, "one-more", "", &guest("noop"));
    let took = started.elapsed();
    assert_eq!(refused.status, 429, "{}", refused.text());
    assert!(took < Duration::from_millis(AT_ONCE_MS), "{took:?}");
    assert!(
        refused.headers.contains("retry-after:"),
        "{}",
        refused.headers
    );
    assert_eq!(refused.json()["error"]["code"], "TooManyRequestsException");

    // Broken-off uploads give their places back.
    drop(held);
    wait_until("the uploads to end", || {
        gauge(&server.endpoint, "eddy_function_uploads_in_progress") == 0.0
    });
    deploy(&server.endpoint, "one-more", "", &guest("noop")).expect(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_invocations_is_answered_by_its_deadline_with_timeouts_or_429() {
    /// As many as the client that found the problem sent at once.
    const INVOCATIONS: usize = 600;
    const TIMEOUT_MS: u64 = 2_000;
    /// Every answer comes within this: a generous bound of the deadline, far from the
    /// 20 s the burst took when time waiting for a slot was not counted.
    const ANSWERED_WITHIN_MS: u64 = 8_000;
    let server = Server::start();
    deploy(
        &server.endpoint,
        "spin",
        &format!("?timeout_ms={TIMEOUT_MS}"),
        &guest("loop_forever"),
    )
    .expect(201);
    let target = addr(&server);
    let started = Instant::now();
    let calls: Vec<_> = (0..INVOCATIONS)
        .map(|_| {
            let target = target.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut s = tokio::net::TcpStream::connect(&target)
                    .await
                    .expect("connect");
                s.write_all(
                    b"POST /v1/functions/spin/invoke HTTP/1.1\r\nHost: eddy\r\n\
                      Content-Length: 2\r\nConnection: close\r\n\r\n{}",
                )
                .await
                .expect("write");
                let mut raw = Vec::new();
                s.read_to_end(&mut raw).await.expect("read");
                (
                    String::from_utf8_lossy(&raw).into_owned(),
                    started.elapsed(),
                )
            })
        })
        .collect();
    let (mut timeouts, mut throttled, mut latest) = (0, 0, Duration::ZERO);
    let mut times = Vec::new();
    for call in calls {
        let (raw, at) = call.await.expect("no panic");
        latest = latest.max(at);
        times.push((at, raw.contains(" 429 ")));
        let (head, body) = raw.split_once("\r\n\r\n").expect("an answer");
        let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        let body: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {raw}"));
        match status {
            200 => {
                assert_eq!(body["error"]["kind"], "Timeout", "{body}");
                timeouts += 1;
            }
            429 => {
                assert_eq!(body["error"]["code"], "TooManyRequestsException", "{body}");
                assert_eq!(body["error"]["Reason"], "ConcurrentInvocationLimitExceeded");
                throttled += 1;
            }
            other => panic!("unexpected status {other}: {raw}"),
        }
    }
    println!(
        "{INVOCATIONS} invocations: {timeouts} timed out, {throttled} refused with 429; \
         the last answered after {latest:?}"
    );
    times.sort();
    for q in [0, 10, 50, 100, 300, 500, 590, 599] {
        println!("answer #{q}: {:?} (429: {})", times[q].0, times[q].1);
    }
    assert_eq!(timeouts + throttled, INVOCATIONS);
    assert!(timeouts > 0 && throttled > 0);
    assert!(
        latest < Duration::from_millis(ANSWERED_WITHIN_MS),
        "the last answer came after {latest:?}"
    );
    assert_eq!(gauge(&server.endpoint, "eddy_invocations_queued"), 0.0);
}
