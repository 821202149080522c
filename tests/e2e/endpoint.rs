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
use crate::harness::{Server, table_name};

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
