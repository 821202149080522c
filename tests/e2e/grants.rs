//! Outbound HTTP grants of functions end to end: the real binary, the `/v1/` API, the
//! `http-client` test guest (it makes the request its event describes and reports the
//! response or the error) and a plain HTTP server on loopback that counts what reaches
//! it. A grant is exact: no port means the scheme's default port only; wildcards need
//! both the deployment's `allow_any_host` and the server's `--permit-any-host-grants`.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::api::{deploy, guest, send_json};
use crate::harness::Server;

/// A one-thread HTTP/1.1 server on 127.0.0.1 that answers every request with `200 hello`
/// and counts the requests it got.
fn serve() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello"
            );
        }
    });
    (addr, hits)
}

/// The endpoint's `host:port`.
fn authority(endpoint: &str) -> &str {
    endpoint.trim_start_matches("http://")
}

/// Invokes the `http-client` function deployed as `name` with a GET of `url`.
fn fetch(endpoint: &str, name: &str, url: &str) -> Value {
    send_json(
        endpoint,
        "POST",
        &format!("/v1/functions/{name}/invoke"),
        &json!({"method": "GET", "url": url}),
    )
    .expect(200)
}

/// Asserts that the invocation failed with the guest's `denied:` error.
fn assert_denied(out: &Value) {
    assert_eq!(out["error"]["kind"], "FunctionError", "{out}");
    assert!(
        out["error"].to_string().contains("denied:"),
        "the request should have been denied: {out}"
    );
}

/// Asserts that the invocation failed because the request would have reached this
/// server's own listener (`wasi:http`'s `destination-IP-prohibited`).
fn assert_own_listener_refused(out: &Value) {
    assert_eq!(out["error"]["kind"], "FunctionError", "{out}");
    assert!(
        out["error"].to_string().contains("DestinationIpProhibited"),
        "the request should have been refused as this server's own listener: {out}"
    );
}

#[test]
fn a_host_grant_without_a_port_reaches_only_the_default_port() {
    let server = Server::start();
    let e = &server.endpoint;
    let (addr, hits) = serve();
    let port = addr.port();
    let client = guest("http_client");

    // `localhost` alone is port 80 (http) or 443 (https) of localhost, not every port:
    // neither the local server nor this Eddy's own API.
    deploy(e, "bare", "?host=localhost", &client).expect(201);
    assert_denied(&fetch(e, "bare", &format!("http://localhost:{port}/")));
    let own = port_of(e);
    assert_denied(&fetch(
        e,
        "bare",
        &format!("http://localhost:{own}/v1/functions"),
    ));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "a denied request got through"
    );

    // `localhost:PORT` is exactly that port.
    deploy(e, "exact", &format!("?host=localhost:{port}"), &client).expect(201);
    let out = fetch(e, "exact", &format!("http://localhost:{port}/"));
    assert_eq!(out["result"]["status"], 200, "{out}");
    assert_eq!(out["result"]["body"], "hello", "{out}");
    assert_denied(&fetch(e, "exact", &format!("http://127.0.0.1:{port}/")));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[test]
fn malformed_and_wildcard_host_grants_are_refused_at_deploy() {
    let server = Server::start();
    let e = &server.endpoint;
    let client = guest("http_client");
    for (query, needle) in [
        ("?host=*", "\"*\" is a wildcard: grant exact hosts"),
        ("?host=*.example.com", "is a wildcard"),
        ("?host=example.com:0", "the port is not 1-65535"),
        ("?host=example.com:http", "the port is not 1-65535"),
        ("?host=http://example.com", "is not a host grant"),
        ("?host=user@example.com", "is not a host grant"),
        ("?host=%5B::1", "is not a host grant"),
    ] {
        deploy(e, "wild", query, &client).expect_error(400, Some("hosts"), needle);
    }
    // The JSON form is checked the same way.
    let body = json!({
        "wasm_base64": base64_of(&client),
        "config": {"hosts": ["*"]},
    });
    send_json(e, "PUT", "/v1/functions/wild", &body).expect_error(
        400,
        Some("hosts"),
        "allow_any_host",
    );
    // Opting in is refused by a server that does not permit it.
    deploy(e, "wild", "?allow_any_host=true&host=*", &client).expect_error(
        400,
        Some("allow_any_host"),
        "--permit-any-host-grants",
    );
    // Nothing was deployed.
    crate::api::get(e, "/v1/functions/wild").expect_error(404, None, "wild");
}

#[test]
fn wildcard_grants_work_when_the_deployment_opts_in_and_the_server_permits_it() {
    let server = Server::start_with(&["--permit-any-host-grants"]);
    let e = &server.endpoint;
    let (addr, hits) = serve();
    let port = addr.port();
    let client = guest("http_client");

    // Still refused without the deployment's own opt-in.
    deploy(e, "any", &format!("?host=*:{port}"), &client).expect_error(
        400,
        Some("hosts"),
        "wildcard",
    );
    deploy(
        e,
        "any",
        &format!("?allow_any_host=true&host=*:{port}"),
        &client,
    )
    .expect(201);
    let out = fetch(e, "any", &format!("http://127.0.0.1:{port}/"));
    assert_eq!(out["result"]["status"], 200, "{out}");
    // The CLI's flag says the same: without it the wildcard is refused, with it the
    // deployment keeps the opt-in.
    let path = crate::api::guest_path("http_client");
    let path = path.to_str().expect("a UTF-8 path");
    let out = crate::api::eddy(e, &["function", "deploy", "cli", path, "--host", "*"]);
    assert!(
        !out.status.success(),
        "a wildcard without --allow-any-host deployed"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is a wildcard"), "{stderr}");
    let deployed = crate::api::eddy_ok(
        e,
        &[
            "function",
            "deploy",
            "cli",
            path,
            "--host",
            "*",
            "--allow-any-host",
        ],
    );
    assert_eq!(deployed["config"]["allow_any_host"], true, "{deployed}");
    assert_eq!(deployed["config"]["hosts"], json!(["*"]), "{deployed}");
    // A wildcard with a port is still that port only.
    assert_denied(&fetch(
        e,
        "any",
        &format!("http://127.0.0.1:{}/", port.wrapping_add(1).max(1)),
    ));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

/// The port of `endpoint` (`http://host:port`).
fn port_of(endpoint: &str) -> u16 {
    authority(endpoint)
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .expect("a port")
}

/// This machine's address on its default route, if it has one (a UDP "connection"
/// sends nothing; it only picks the source address).
fn outward_ip() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn a_function_cannot_reach_this_eddy_even_when_granted_its_address() {
    let server = Server::start_with(&["--permit-any-host-grants"]);
    let e = &server.endpoint;
    let port = port_of(e);
    let client = guest("http_client");
    // Every way of naming this server's listener: its IP, a name that resolves to it,
    // another loopback address, and a wildcard.
    let grants = format!(
        "?allow_any_host=true&host=127.0.0.1:{port}&host=localhost:{port}\
         &host=127.0.0.2:{port}&host=*:{port}"
    );
    deploy(e, "escalate", &grants, &client).expect(201);
    for url in [
        format!("http://127.0.0.1:{port}/v1/functions"),
        format!("http://localhost:{port}/v1/functions"),
        format!("http://127.0.0.2:{port}/v1/functions"),
    ] {
        assert_own_listener_refused(&fetch(e, "escalate", &url));
    }
    // Through the API it could deploy a function granted more than itself: refused,
    // and nothing is deployed.
    let out = send_json(
        e,
        "POST",
        "/v1/functions/escalate/invoke",
        &json!({
            "method": "PUT",
            "url": format!("http://127.0.0.1:{port}/v1/functions/wider?host=example.com"),
            "body": "",
        }),
    )
    .expect(200);
    assert_own_listener_refused(&out);
    crate::api::get(e, "/v1/functions/wider").expect_error(404, None, "wider");
}

#[test]
fn a_server_on_every_address_is_unreachable_on_each_of_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Listening on every address turns signature checks on by default; this test is
    // about the listener guard, so it turns them off explicitly.
    let server = Server::start_listening(dir.path(), "0.0.0.0:0", &["--auth", "off"]);
    let port = port_of(&server.endpoint);
    let e = &format!("http://127.0.0.1:{port}");
    let client = guest("http_client");
    let mut hosts = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
    hosts.extend(outward_ip().map(|ip| ip.to_string()));
    let query: Vec<String> = hosts.iter().map(|h| format!("host={h}:{port}")).collect();
    deploy(e, "escalate", &format!("?{}", query.join("&")), &client).expect(201);
    for host in &hosts {
        assert_own_listener_refused(&fetch(e, "escalate", &format!("http://{host}:{port}/")));
    }
}

/// Standard base64 (the JSON deploy form's `wasm_base64`).
fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
