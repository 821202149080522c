//! The DynamoDB endpoint's own conventions, against the real binary over raw HTTP:
//! compressed request bodies (`Content-Encoding: gzip` and `deflate`) and their bound,
//! and requests over 16 MB sent chunked.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};
use serde_json::{Value, json};

use crate::api::{Resp, create_table, ddb, http};
use crate::harness::{Server, raw_request, table_name};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A DynamoDB request whose body is sent as given, with `Content-Encoding: encoding`.
fn encoded(endpoint: &str, op: &str, encoding: &str, body: &[u8]) -> Resp {
    let target = format!("DynamoDB_20120810.{op}");
    http(
        endpoint,
        "POST",
        "/",
        &[
            ("X-Amz-Target", &target),
            ("Content-Type", "application/x-amz-json-1.0"),
            ("Content-Encoding", encoding),
        ],
        body,
    )
}

fn put(table: &str, id: &str) -> Vec<u8> {
    json!({"TableName": table, "Item": {"id": {"S": id}, "v": {"S": "x".repeat(1000)}}})
        .to_string()
        .into_bytes()
}

fn stored(endpoint: &str, table: &str, id: &str) -> bool {
    let got = ddb(
        endpoint,
        "GetItem",
        json!({"TableName": table, "Key": {"id": {"S": id}}}),
    );
    got.get("Item").is_some()
}

/// `__type` after its `#`, and the message.
fn error(resp: &Resp) -> (String, String) {
    let body: Value = resp.json();
    let kind = body["__type"].as_str().unwrap_or_default();
    (
        kind.rsplit('#').next().unwrap_or_default().to_owned(),
        body["message"].as_str().unwrap_or_default().to_owned(),
    )
}

#[test]
fn gzip_and_deflate_bodies_are_decoded_and_broken_or_unknown_ones_get_dynamodbs_500() {
    let server = Server::start();
    let e = &server.endpoint;
    let table = table_name("edge-gzip");
    create_table(e, &table, false);

    // gzip, also as two members one after the other, and deflate (zlib).
    let resp = encoded(e, "PutItem", "gzip", &gzip(&put(&table, "gz")));
    assert_eq!(resp.status, 200, "{}", resp.text());
    let body = put(&table, "gz2");
    let two = [gzip(&body[..10]), gzip(&body[10..])].concat();
    assert_eq!(encoded(e, "PutItem", "gzip", &two).status, 200);
    let resp = encoded(e, "PutItem", "deflate", &zlib(&put(&table, "zl")));
    assert_eq!(resp.status, 200, "{}", resp.text());
    for id in ["gz", "gz2", "zl"] {
        assert!(stored(e, &table, id), "{id} was written");
    }
    // A compressed read is answered as usual.
    let get = json!({"TableName": table, "Key": {"id": {"S": "gz"}}}).to_string();
    let resp = encoded(e, "GetItem", "gzip", &gzip(get.as_bytes()));
    assert_eq!(resp.expect(200)["Item"]["id"]["S"], "gz");

    // A body that is not what its coding says, or empty, and a coding DynamoDB does not
    // know: a 500 InternalServerError, as DynamoDB answers, and nothing written.
    let cases: [(&str, Vec<u8>, &str, &str); 5] = [
        ("gzip", put(&table, "b1"), "b1", "not valid gzip data"),
        ("deflate", put(&table, "b2"), "b2", "not valid deflate data"),
        (
            "gzip",
            gzip(&put(&table, "b3"))[..40].to_vec(),
            "b3",
            "gzip",
        ),
        ("gzip", Vec::new(), "-", "empty"),
        ("br", put(&table, "b4"), "b4", "'br' is not supported"),
    ];
    for (encoding, body, id, needle) in cases {
        let resp = encoded(e, "PutItem", encoding, &body);
        assert_eq!(resp.status, 500, "{encoding} {id}: {}", resp.text());
        let (kind, message) = error(&resp);
        assert_eq!(kind, "InternalServerError", "{}", resp.text());
        assert!(
            message.contains(needle),
            "{message:?} should say {needle:?}"
        );
        assert!(!stored(e, &table, id), "{id} was not written");
    }
}

#[test]
fn a_compressed_body_that_inflates_past_16_mb_is_refused_with_413_without_inflating_it() {
    let server = Server::start();
    let e = &server.endpoint;
    let table = table_name("edge-bomb");
    create_table(e, &table, false);
    // A valid PutItem padded with 64 MiB of spaces: about 64 KiB compressed.
    let mut body = put(&table, "bomb");
    let close = body.pop().unwrap();
    body.extend(std::iter::repeat_n(b' ', 64 * 1024 * 1024));
    body.push(close);
    let bomb = gzip(&body);
    drop(body);
    assert!(bomb.len() < eddy::server::REQUEST_BODY_BYTES_MAX / 100);
    let resp = encoded(e, "PutItem", "gzip", &bomb);
    assert_eq!(resp.status, 413, "{}", resp.text());
    let (kind, message) = error(&resp);
    assert_eq!(kind, "RequestEntityTooLargeException");
    assert!(
        message.contains(&eddy::server::REQUEST_BODY_DECODED_BYTES_MAX.to_string()),
        "{message}"
    );
    assert!(!stored(e, &table, "bomb"));
    // Nothing of it stays buffered.
    let metrics = crate::api::get(e, "/metrics").text();
    assert!(
        metrics.contains("eddy_request_body_bytes_in_flight 0\n"),
        "{metrics}"
    );
}

#[test]
fn a_chunked_request_over_16_mb_is_refused_with_413() {
    /// One chunk of the body.
    const CHUNK_BYTES: usize = 1024 * 1024;
    let server = Server::start();
    let addr = server.endpoint.trim_start_matches("http://").to_owned();
    let mut s = TcpStream::connect(&addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(
        format!(
            "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: DynamoDB_20120810.BatchWriteItem\r\n\
             Content-Type: application/x-amz-json-1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    // The server answers once the body passes the limit and closes the connection: the
    // writer stops at the first failed write.
    let mut writer = s.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        let chunk = vec![b' '; CHUNK_BYTES];
        let chunks = eddy::server::REQUEST_BODY_BYTES_MAX / CHUNK_BYTES + 2;
        for _ in 0..chunks {
            let framed = [
                format!("{CHUNK_BYTES:x}\r\n").into_bytes(),
                chunk.clone(),
                b"\r\n".to_vec(),
            ]
            .concat();
            if writer.write_all(&framed).is_err() {
                return;
            }
        }
        let _ = writer.write_all(b"0\r\n\r\n");
    });
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    let _ = sending.join();
    let head = String::from_utf8_lossy(&raw).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 413"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
}

/// A `GET /` with `Host: host`; the status and body.
fn get_root(endpoint: &str, host: &str) -> (u16, String) {
    let addr = endpoint.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an answer");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_root_and_describe_endpoints_name_the_host_the_client_used() {
    let server = Server::start();
    let (status, body) = get_root(&server.endpoint, "dynamodb.eu-west-1.amazonaws.com");
    assert_eq!(status, 200);
    assert_eq!(body, "healthy: dynamodb.eu-west-1.amazonaws.com ");
    let (_, body) = get_root(&server.endpoint, "localhost:8000");
    assert_eq!(body, "healthy: localhost:8000 ");

    // The SDK names the host and port it was given.
    let c = server.client();
    let out = c.describe_endpoints().send().await.unwrap();
    let [endpoint] = out.endpoints() else {
        panic!("{out:?}")
    };
    assert_eq!(
        endpoint.address(),
        server.endpoint.trim_start_matches("http://")
    );
    assert_eq!(endpoint.cache_period_in_minutes(), 1440);
}

#[test]
fn an_operation_eddy_lacks_is_an_unknown_operation_exception_that_names_it() {
    let server = Server::start();
    for (target, named) in [
        ("DynamoDB_20120810.DescribeBackup", "DescribeBackup"),
        ("DynamoDBStreams_20120810.ListShards", "ListShards"),
        (
            "Kinesis_20131202.ListStreams",
            "Kinesis_20131202.ListStreams",
        ),
    ] {
        let (status, body) = raw_request(&server.endpoint, "POST", Some(target), "{}");
        assert_eq!(status, 400, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            body["__type"],
            "com.amazon.coral.service#UnknownOperationException"
        );
        assert_eq!(
            body["message"],
            format!("An unknown operation was requested: {named}")
        );
    }
    let (status, body) = raw_request(&server.endpoint, "POST", None, "{}");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("has no X-Amz-Target"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calls_tools_make_on_every_table_answer_as_for_a_table_without_the_feature() {
    use aws_sdk_dynamodb::types::{
        ContinuousBackupsStatus, ContributorInsightsStatus, PointInTimeRecoveryStatus, TableStatus,
    };
    let server = Server::start();
    let c = server.client();
    let t = table_name("edge-absent");
    crate::control::create(&c, &t, false).await;

    let backups = c
        .describe_continuous_backups()
        .table_name(&t)
        .send()
        .await
        .unwrap();
    let d = backups.continuous_backups_description().unwrap();
    assert_eq!(
        d.continuous_backups_status(),
        &ContinuousBackupsStatus::Enabled
    );
    assert_eq!(
        d.point_in_time_recovery_description()
            .unwrap()
            .point_in_time_recovery_status(),
        Some(&PointInTimeRecoveryStatus::Disabled)
    );

    let insights = c
        .describe_contributor_insights()
        .table_name(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(insights.table_name(), Some(t.as_str()));
    assert_eq!(
        insights.contributor_insights_status(),
        Some(&ContributorInsightsStatus::Disabled)
    );

    let kinesis = c
        .describe_kinesis_streaming_destination()
        .table_name(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(kinesis.table_name(), Some(t.as_str()));
    assert!(kinesis.kinesis_data_stream_destinations().is_empty());

    let global = c.list_global_tables().send().await.unwrap();
    assert!(global.global_tables().is_empty());

    let scaling = c
        .describe_table_replica_auto_scaling()
        .table_name(&t)
        .send()
        .await
        .unwrap();
    let d = scaling.table_auto_scaling_description().unwrap();
    assert_eq!(d.table_name(), Some(t.as_str()));
    assert_eq!(d.table_status(), Some(&TableStatus::Active));
    assert!(d.replicas().is_empty());

    // A table that does not exist.
    let missing = "edge-absent-missing";
    let not_found = format!("Requested resource not found: Table: {missing} not found");
    let e = c
        .describe_continuous_backups()
        .table_name(missing)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_table_not_found_exception(), "{e:?}");
    assert_eq!(
        e.meta().message(),
        Some(&*format!("Table not found: {missing}"))
    );
    let e = c
        .describe_contributor_insights()
        .table_name(missing)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    assert_eq!(e.meta().message(), Some(not_found.as_str()));
    let e = c
        .describe_kinesis_streaming_destination()
        .table_name(missing)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    assert_eq!(e.meta().message(), Some(not_found.as_str()));
    let e = c
        .describe_table_replica_auto_scaling()
        .table_name(missing)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    assert_eq!(e.meta().message(), Some(not_found.as_str()));
}

/// The `x-amz-crc32` header of an answer.
fn crc_header(resp: &Resp) -> u32 {
    resp.headers
        .lines()
        .find_map(|l| l.strip_prefix("x-amz-crc32:"))
        .unwrap_or_else(|| panic!("no x-amz-crc32 in {}", resp.headers))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn every_error_body_carries_its_crc32_as_dynamodb_sends_it() {
    let server = Server::start();
    let e = &server.endpoint;
    let call = |target: &str, body: &str| {
        http(
            e,
            "POST",
            "/",
            &[
                ("X-Amz-Target", target),
                ("Content-Type", "application/x-amz-json-1.0"),
            ],
            body.as_bytes(),
        )
    };
    for (resp, kind) in [
        (
            call(
                "DynamoDB_20120810.GetItem",
                r#"{"TableName":"missing","Key":{"id":{"S":"a"}}}"#,
            ),
            "ResourceNotFoundException",
        ),
        (
            call("DynamoDB_20120810.ListTables", "{not json"),
            "SerializationException",
        ),
        (
            call("DynamoDB_20120810.NoSuchThing", "{}"),
            "UnknownOperationException",
        ),
        (
            call("DynamoDB_20120810.ListTables", r#"{"Limit":0}"#),
            "ValidationException",
        ),
    ] {
        assert_eq!(resp.status, 400, "{}", resp.text());
        assert_eq!(error(&resp).0, kind, "{}", resp.text());
        assert_eq!(crc_header(&resp), crc32fast::hash(&resp.body), "{kind}");
    }
    // A success body too.
    let resp = call("DynamoDB_20120810.ListTables", "{}");
    assert_eq!(resp.status, 200);
    assert_eq!(crc_header(&resp), crc32fast::hash(&resp.body));
}

#[test]
fn oversized_headers_and_urls_get_dynamodbs_400() {
    let server = Server::start();
    let e = &server.endpoint;
    let list = |path: &str, extra: &[(&str, &str)]| {
        let mut headers = vec![
            ("X-Amz-Target", "DynamoDB_20120810.ListTables"),
            ("Content-Type", "application/x-amz-json-1.0"),
        ];
        headers.extend_from_slice(extra);
        http(e, "POST", path, &headers, b"{}")
    };
    // Just under the limit: served.
    let near = "x".repeat(eddy::server::REQUEST_HEADERS_BYTES_MAX - 1024);
    assert_eq!(list("/", &[("X-Padding", &near)]).status, 200);
    // One header over it, and many headers that add up to more.
    let over = "x".repeat(eddy::server::REQUEST_HEADERS_BYTES_MAX + 1);
    let piece = "y".repeat(1000);
    let names: Vec<String> = (0..20).map(|i| format!("X-Piece-{i}")).collect();
    let many: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), piece.as_str())).collect();
    for resp in [list("/", &[("X-Padding", &over)]), list("/", &many)] {
        assert_eq!(resp.status, 400, "{}", resp.text());
        let (_, message) = error(&resp);
        assert!(message.contains("request headers are"), "{message}");
        assert!(
            resp.headers.contains("connection: close"),
            "{}",
            resp.headers
        );
        assert!(
            resp.headers.contains("x-amzn-requestid:"),
            "{}",
            resp.headers
        );
    }
    // A URL over 16 KB.
    let path = format!("/{}", "p".repeat(eddy::server::REQUEST_TARGET_BYTES_MAX));
    let resp = list(&path, &[]);
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert!(error(&resp).1.contains("request URL is"), "{}", resp.text());
}

/// The value of header `name` (lowercase) in an answer's head, if it is there.
fn header<'r>(resp: &'r Resp, name: &str) -> Option<&'r str> {
    resp.headers
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(str::trim)
}

#[test]
fn cross_origin_requests_are_answered_as_dynamodb_answers_them() {
    let server = Server::start();
    let e = &server.endpoint;
    // A preflight of the JavaScript SDK: allowed, its method and headers echoed back.
    let asked = "amz-sdk-invocation-id, amz-sdk-request, authorization, content-type, \
                 x-amz-date, x-amz-target, x-amz-user-agent";
    let resp = http(
        e,
        "OPTIONS",
        "/",
        &[
            ("Origin", "http://localhost:3000"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", asked),
        ],
        b"",
    );
    assert_eq!(resp.status, 200, "{}", resp.headers);
    assert_eq!(header(&resp, "access-control-allow-origin"), Some("*"));
    assert_eq!(header(&resp, "access-control-allow-methods"), Some("post"));
    assert_eq!(
        header(&resp, "access-control-allow-headers"),
        Some(asked.to_ascii_lowercase().as_str())
    );
    assert_eq!(
        header(&resp, "access-control-max-age"),
        Some(eddy::server::PREFLIGHT_MAX_AGE_S.to_string().as_str())
    );
    assert_eq!(header(&resp, "content-length"), Some("0"));
    assert!(header(&resp, "x-amzn-requestid").is_some());
    assert!(resp.body.is_empty());

    // OPTIONS without an Origin is DynamoDB's 404.
    let resp = http(e, "OPTIONS", "/", &[], b"");
    assert_eq!(resp.status, 404);
    assert_eq!(resp.text(), "<UnknownOperationException/>\n");
    assert_eq!(header(&resp, "x-amz-crc32"), Some("3552371480"));

    // The requests themselves, answered or refused, are readable by the page.
    let call = |target: &str| {
        http(
            e,
            "POST",
            "/",
            &[
                ("Origin", "http://localhost:3000"),
                ("X-Amz-Target", target),
                ("Content-Type", "application/x-amz-json-1.0"),
            ],
            b"{}",
        )
    };
    for (resp, status) in [
        (call("DynamoDB_20120810.ListTables"), 200),
        (call("DynamoDB_20120810.DescribeTable"), 400),
    ] {
        assert_eq!(resp.status, status, "{}", resp.text());
        assert_eq!(header(&resp, "access-control-allow-origin"), Some("*"));
        assert_eq!(
            header(&resp, "access-control-expose-headers"),
            Some("x-amzn-requestid")
        );
    }
    // A request without an Origin, and the /v1 API, get none.
    let resp = http(
        e,
        "POST",
        "/",
        &[("X-Amz-Target", "DynamoDB_20120810.ListTables")],
        b"{}",
    );
    assert_eq!(header(&resp, "access-control-allow-origin"), None);
    let resp = http(e, "GET", "/v1/functions", &[("Origin", "http://x")], b"");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(header(&resp, "access-control-allow-origin"), None);
}

/// A server started with DynamoDB Local's command line (no `serve`, no Eddy flags);
/// killed when dropped.
struct LocalStyle {
    child: std::process::Child,
    endpoint: String,
    stderr: std::sync::mpsc::Receiver<String>,
}

impl LocalStyle {
    fn start(args: &[&str]) -> LocalStyle {
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};
        let mut child = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start eddy");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("Eddy is listening on ") {
                    let _ = tx.send(rest.trim().to_owned());
                }
            }
        });
        let (etx, erx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = etx.send(line);
            }
        });
        let endpoint = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("eddy started");
        LocalStyle {
            child,
            endpoint,
            stderr: erx,
        }
    }
}

impl Drop for LocalStyle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free on the loopback address now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_locals_command_line_starts_eddy() {
    // `java -jar DynamoDBLocal.jar -inMemory -port N -sharedDb`.
    let port = free_port();
    let port_arg = port.to_string();
    let server = LocalStyle::start(&["-inMemory", "-port", &port_arg, "-sharedDb"]);
    assert_eq!(server.endpoint, format!("http://127.0.0.1:{port}"));
    let c = crate::harness::client(&server.endpoint);
    let t = table_name("edge-local");
    crate::control::create(&c, &t, false).await;
    let names = c.list_tables().send().await.unwrap();
    assert_eq!(names.table_names(), std::slice::from_ref(&t));
    drop(server);

    // `-dbPath DIR` keeps the tables in DIR across a restart.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let port_arg = free_port().to_string();
    let args = ["-sharedDb", "-dbPath", path, "-port", &port_arg];
    let server = LocalStyle::start(&args);
    let c = crate::harness::client(&server.endpoint);
    crate::control::create(&c, &t, false).await;
    drop(server);
    let server = LocalStyle::start(&args);
    let c = crate::harness::client(&server.endpoint);
    let names = c.list_tables().send().await.unwrap();
    assert_eq!(names.table_names(), std::slice::from_ref(&t));
    drop(server);

    // Without -sharedDb, Eddy says that its tables are shared all the same.
    let port_arg = free_port().to_string();
    let server = LocalStyle::start(&["-inMemory", "-port", &port_arg]);
    // Printed before the server listens; read by its own thread.
    let mut said = Vec::new();
    while let Ok(line) = server.stderr.recv_timeout(Duration::from_secs(5)) {
        let found = line.contains("without -sharedDb");
        said.push(line);
        if found {
            break;
        }
    }
    assert!(
        said.iter().any(|l| l.contains("without -sharedDb")),
        "{said:?}"
    );
}

/// An SDK client signing with access key `key` for `region`.
fn client_as(endpoint: &str, key: &str, region: &str) -> aws_sdk_dynamodb::Client {
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new(key, "secret", None, None, "test"))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_shared_db_each_access_key_and_region_has_its_own_tables() {
    use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
    let port = free_port().to_string();
    let server = LocalStyle::start(&["-inMemory", "-port", &port]);
    let e = &server.endpoint;
    let alice = client_as(e, "ALICE", "us-east-1");
    let bob = client_as(e, "BOB", "us-east-1");
    let alice_eu = client_as(e, "ALICE", "eu-west-1");

    // The same table name in three namespaces.
    for c in [&alice, &bob, &alice_eu] {
        crate::control::create(c, "users", false).await;
    }
    for (c, region) in [(&alice, "us-east-1"), (&alice_eu, "eu-west-1")] {
        let d = c.describe_table().table_name("users").send().await.unwrap();
        let t = d.table().unwrap();
        assert_eq!(t.table_name(), Some("users"));
        assert_eq!(
            t.table_arn(),
            Some(format!("arn:aws:dynamodb:{region}:000000000000:table/users").as_str())
        );
        let names = c.list_tables().send().await.unwrap();
        assert_eq!(names.table_names(), ["users".to_owned()]);
    }

    // Items do not cross namespaces, whatever they hold.
    let item = |id: &str| {
        [
            ("pk".to_owned(), AttributeValue::S(id.to_owned())),
            (
                "TableName".to_owned(),
                AttributeValue::S("ALICE_us-east-1.users".into()),
            ),
        ]
        .into_iter()
        .collect::<std::collections::HashMap<_, _>>()
    };
    alice
        .batch_write_item()
        .request_items(
            "users",
            vec![
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item("a1")))
                            .build()
                            .unwrap(),
                    )
                    .build(),
            ],
        )
        .send()
        .await
        .unwrap();
    let got = |c: aws_sdk_dynamodb::Client| async move {
        c.get_item()
            .table_name("users")
            .key("pk", AttributeValue::S("a1".into()))
            .send()
            .await
            .unwrap()
            .item
    };
    let mine = got(alice.clone()).await.expect("alice's item");
    assert_eq!(
        mine["TableName"],
        AttributeValue::S("ALICE_us-east-1.users".into()),
        "item data is not rewritten"
    );
    assert!(got(bob.clone()).await.is_none());
    assert!(got(alice_eu.clone()).await.is_none());

    // A missing table is named as the client named it.
    let err = bob
        .describe_table()
        .table_name("orders")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        err.meta().message(),
        Some("Requested resource not found: Table: orders not found")
    );
    // Streams: each namespace lists its own, with its region in the ARNs.
    for c in [&alice, &bob, &alice_eu] {
        crate::control::create_streamed(c, "events").await;
    }
    let streams = |key: &str, region: &str| {
        use aws_sdk_dynamodbstreams::config::{BehaviorVersion, Credentials, Region};
        let config = aws_sdk_dynamodbstreams::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(e)
            .region(Region::new(region.to_owned()))
            .credentials_provider(Credentials::new(key, "secret", None, None, "test"))
            .build();
        aws_sdk_dynamodbstreams::Client::from_conf(config)
    };
    let eu = streams("ALICE", "eu-west-1");
    let listed = eu.list_streams().send().await.unwrap();
    let [only] = listed.streams() else {
        panic!("{listed:?}")
    };
    assert_eq!(only.table_name(), Some("events"));
    let arn = only.stream_arn().unwrap();
    assert!(
        arn.starts_with("arn:aws:dynamodb:eu-west-1:000000000000:table/events/stream/"),
        "{arn}"
    );
    let described = eu.describe_stream().stream_arn(arn).send().await.unwrap();
    let d = described.stream_description().unwrap();
    assert_eq!(d.table_name(), Some("events"));
    assert_eq!(d.stream_arn(), Some(arn));

    // Deleting Bob's table leaves Alice's.
    bob.delete_table().table_name("users").send().await.unwrap();
    let left = bob.list_tables().send().await.unwrap();
    assert_eq!(left.table_names(), ["events".to_owned()]);
    assert!(got(alice).await.is_some());
}

#[tokio::test]
async fn without_shared_db_partiql_statements_name_their_namespace_tables() {
    use aws_sdk_dynamodb::types::{AttributeValue, BatchStatementRequest, ParameterizedStatement};
    let port = free_port().to_string();
    let server = LocalStyle::start(&["-inMemory", "-port", &port]);
    let e = &server.endpoint;
    let alice = client_as(e, "ALICE", "us-east-1");
    let bob = client_as(e, "BOB", "us-east-1");
    for c in [&alice, &bob] {
        crate::control::create(c, "users", false).await;
    }
    let s = |v: &str| AttributeValue::S(v.to_owned());

    // ExecuteStatement writes and reads the caller's own table, quoted or not.
    alice
        .execute_statement()
        .statement("INSERT INTO users VALUE {'pk': 'a1', 'who': 'alice'}")
        .send()
        .await
        .unwrap();
    let select = |c: aws_sdk_dynamodb::Client, stmt: &'static str| async move {
        c.execute_statement()
            .statement(stmt)
            .send()
            .await
            .unwrap()
            .items
            .unwrap_or_default()
    };
    let mine = select(alice.clone(), r#"SELECT * FROM "users" WHERE pk = 'a1'"#).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["who"], s("alice"));
    assert!(select(bob.clone(), "SELECT * FROM users").await.is_empty());

    // BatchExecuteStatement and ExecuteTransaction too.
    let batch = bob
        .batch_execute_statement()
        .statements(
            BatchStatementRequest::builder()
                .statement("INSERT INTO users VALUE {'pk': 'b1'}")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(batch.responses()[0].error().is_none(), "{batch:?}");
    bob.execute_transaction()
        .transact_statements(
            ParameterizedStatement::builder()
                .statement("UPDATE users SET who = ? WHERE pk = 'b1'")
                .parameters(s("bob"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let bobs = select(bob.clone(), "SELECT * FROM users").await;
    assert_eq!(bobs.len(), 1);
    assert_eq!(bobs[0]["who"], s("bob"));
    assert_eq!(select(alice.clone(), "SELECT * FROM users").await.len(), 1);

    // A table of no namespace of the caller's is not found, whatever it is called.
    for stmt in [
        "SELECT * FROM orders",
        r#"SELECT * FROM "ALICE_us-east-1.users""#,
    ] {
        let err = bob
            .execute_statement()
            .statement(stmt)
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(err.is_resource_not_found_exception(), "{stmt}: {err:?}");
        assert_eq!(
            err.meta().message(),
            Some("Requested resource not found"),
            "{stmt}"
        );
    }
}
