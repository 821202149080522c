//! Outbound HTTP (`wasi:http`) from a real guest (`test-guests/http-client`) to a real
//! HTTP server on loopback: allowed only to the deployment's granted hosts, bounded by
//! the invocation's deadline.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{RecordingTables, guest};
use eddy_triggers::{
    Executor, ExecutorConfig, FunctionConfig, FunctionStore, InvokeError, TableApi,
};
use serde_json::{Value, json};

/// A one-thread HTTP/1.1 server that answers every request with `200` and a body naming
/// the method, path, test header and request body; counts the requests it got. With
/// `delay`, it waits that long before answering.
fn serve(delay: Duration) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut content_length = 0usize;
            let mut test_header = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    content_length = v.trim().parse().unwrap_or(0);
                }
                if let Some(v) = lower.strip_prefix("x-eddy-test:") {
                    test_header = v.trim().to_owned();
                }
            }
            let mut body = vec![0; content_length];
            let _ = reader.read_exact(&mut body);
            std::thread::sleep(delay);
            let mut parts = request_line.split_whitespace();
            let answer = format!(
                "{} {} x-eddy-test={} body={}",
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                test_header,
                String::from_utf8_lossy(&body)
            );
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (addr, hits)
}

fn deploy(hosts: &[String], timeout_ms: u64) -> (tempfile::TempDir, FunctionStore, Executor) {
    let executor = Executor::new(ExecutorConfig {
        instances_max: 4,
        memory_mb_max: 128,
        ..ExecutorConfig::default()
    })
    .expect("executor");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FunctionStore::open(dir.path().join("functions"), &executor).expect("open");
    let config = FunctionConfig {
        hosts: hosts.iter().cloned().collect(),
        timeout_ms,
        ..FunctionConfig::default()
    };
    store
        .deploy("http-client", &guest("http_client"), config)
        .expect("deploy");
    (dir, store, executor)
}

fn invoke(store: &FunctionStore, executor: &Executor, event: Value) -> Result<Value, InvokeError> {
    let tables: Arc<dyn TableApi> = RecordingTables::new();
    let function = store.get("http-client").expect("deployed");
    executor
        .invoke(&function, &event.to_string(), &tables)
        .result
        .map(|r| serde_json::from_str(&r).expect("response JSON"))
}

#[test]
fn a_granted_host_is_reached_with_method_path_headers_and_body() {
    let (addr, hits) = serve(Duration::ZERO);
    let by_name = format!("localhost:{}", addr.port());
    for (granted, authority) in [
        (addr.to_string(), addr.to_string()),
        (by_name.clone(), by_name),
    ] {
        let (_dir, store, executor) = deploy(std::slice::from_ref(&granted), 5_000);
        let response = invoke(
            &store,
            &executor,
            json!({"method": "POST", "url": format!("http://{authority}/items?x=1"), "body": "hello"}),
        )
        .unwrap_or_else(|e| panic!("granted {granted}: {e}"));
        assert_eq!(response["status"], 200, "{response}");
        assert_eq!(
            response["body"], "POST /items?x=1 x-eddy-test=1 body=hello",
            "{response}"
        );
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[test]
fn any_other_host_or_port_is_denied_without_a_connection() {
    let (addr, hits) = serve(Duration::ZERO);
    let other_port = format!("127.0.0.1:{}", addr.port().wrapping_add(1).max(1));
    // A grant without a port allows only the scheme's default port (80 here), never
    // another port of the same host.
    for hosts in [
        vec![],
        vec![other_port],
        vec!["localhost".to_owned()],
        vec!["127.0.0.1".to_owned()],
    ] {
        let (_dir, store, executor) = deploy(&hosts, 5_000);
        let err = invoke(&store, &executor, json!({"url": format!("http://{addr}/")}))
            .expect_err("must be denied");
        match err {
            InvokeError::FunctionError { message } => {
                assert!(message.starts_with("denied:"), "hosts {hosts:?}: {message}");
            }
            other => panic!("hosts {hosts:?}: {other:?}"),
        }
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "a denied request reached the server"
    );
}

#[test]
fn a_slow_server_cannot_hold_an_invocation_past_its_deadline() {
    let (addr, _hits) = serve(Duration::from_secs(5));
    let (_dir, store, executor) = deploy(&[addr.to_string()], 300);
    let started = Instant::now();
    let err = invoke(&store, &executor, json!({"url": format!("http://{addr}/")}))
        .expect_err("must time out");
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(2),
        "the invocation took {elapsed:?} with a 300 ms timeout"
    );
    assert!(
        matches!(
            &err,
            InvokeError::FunctionError { message } if message.starts_with("transport:")
        ) || matches!(err, InvokeError::Timeout { .. }),
        "{err:?}"
    );
}
