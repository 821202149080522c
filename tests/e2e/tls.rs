//! HTTPS: `eddy serve --tls-cert FILE --tls-key FILE` with a self-signed certificate
//! made here (rcgen), spoken to by the AWS SDK for Rust trusting that certificate, by
//! the `eddy` client commands with `--ca-cert` / `EDDY_CA_CERT`, and refused cleanly
//! when a client speaks plain HTTP to it or never finishes its handshake. boto3 and the
//! aws CLI over HTTPS are in `python.rs` (tests/python/tls.py).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};

use crate::harness::{Server, table_name};

/// Slack on top of the server's header timeout for a busy test machine.
const TIMEOUT_SLACK_MS: u64 = 5_000;

/// A self-signed certificate for `localhost` and 127.0.0.1 and its key, as PEM files.
pub struct SelfSigned {
    _dir: tempfile::TempDir,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub cert_pem: String,
}

impl SelfSigned {
    pub fn new() -> SelfSigned {
        let made = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .expect("self-signed certificate");
        let dir = tempfile::tempdir().expect("temp dir");
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        let cert_pem = made.cert.pem();
        std::fs::write(&cert, &cert_pem).expect("write cert");
        std::fs::write(&key, made.signing_key.serialize_pem()).expect("write key");
        SelfSigned {
            _dir: dir,
            cert,
            key,
            cert_pem,
        }
    }

    /// Flags that make `eddy serve` use this certificate.
    pub fn serve_args(&self) -> [&str; 4] {
        [
            "--tls-cert",
            self.cert.to_str().expect("utf-8 path"),
            "--tls-key",
            self.key.to_str().expect("utf-8 path"),
        ]
    }
}

/// A server listening with HTTPS on a fresh self-signed certificate.
pub fn start_https() -> (Server, SelfSigned) {
    let certificate = SelfSigned::new();
    let server = Server::start_with(&certificate.serve_args());
    assert!(
        server.endpoint.starts_with("https://127.0.0.1:"),
        "the startup line names an https endpoint: {}",
        server.endpoint
    );
    (server, certificate)
}

/// An SDK client for `endpoint` whose HTTP client trusts exactly `trusted` (PEM), as a
/// user trusts a self-signed certificate: a trust store given to the SDK's rustls client.
fn client_trusting(endpoint: &str, trusted: Option<&str>) -> Client {
    let mut store = TrustStore::empty().with_native_roots(false);
    if let Some(pem) = trusted {
        store = store.with_pem_certificate(pem.as_bytes());
    }
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(
            TlsContext::builder()
                .with_trust_store(store)
                .build()
                .expect("TLS context"),
        )
        .build_https();
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "test",
        ))
        .http_client(http_client)
        .build();
    Client::from_conf(config)
}

async fn put_and_get(c: &Client, table: &str, id: &str) {
    c.put_item()
        .table_name(table)
        .item("pk", AttributeValue::S(id.to_owned()))
        .item("v", AttributeValue::N("42".to_owned()))
        .send()
        .await
        .expect("PutItem over https");
    let got = c
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(id.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem over https");
    let item = got.item().expect("the item is there");
    assert_eq!(item.get("v"), Some(&AttributeValue::N("42".to_owned())));
}

/// The socket address of an `https://host:port` endpoint.
fn addr(server: &Server) -> String {
    server
        .endpoint
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_owned()
}

/// The AWS SDK for Rust trusting the self-signed certificate creates a table, writes and
/// reads an item over `https://`; the same SDK without that trust cannot connect.
#[tokio::test]
async fn the_sdk_talks_to_an_https_endpoint_when_it_trusts_the_self_signed_certificate() {
    let (server, certificate) = start_https();
    let c = client_trusting(&server.endpoint, Some(&certificate.cert_pem));
    let table = table_name("tls-sdk");
    crate::control::create(&c, &table, false).await;
    put_and_get(&c, &table, "over-tls").await;

    // The certificate is really checked: a client that does not trust it gets no answer.
    let untrusting = client_trusting(&server.endpoint, None);
    let err = untrusting
        .list_tables()
        .send()
        .await
        .expect_err("an untrusted certificate is refused");
    assert!(
        matches!(err, SdkError::DispatchFailure(_)),
        "a connection failure, not a response: {err:?}"
    );
    // Nor does one that trusts another self-signed certificate.
    let other = SelfSigned::new();
    let err = client_trusting(&server.endpoint, Some(&other.cert_pem))
        .list_tables()
        .send()
        .await
        .expect_err("another certificate is refused");
    assert!(matches!(err, SdkError::DispatchFailure(_)), "{err:?}");
    put_and_get(&c, &table, "still-served").await;
}

/// A plain-HTTP request to the TLS port is answered with a plain-HTTP 400 that says
/// what is wrong, the connection closes, and the server goes on serving HTTPS; an SDK
/// pointed at `http://` of the TLS port gets an error, not a hang.
#[tokio::test]
async fn plain_http_to_the_tls_port_is_refused_and_harms_nothing() {
    let (server, certificate) = start_https();
    let c = client_trusting(&server.endpoint, Some(&certificate.cert_pem));
    let table = table_name("tls-plain");
    crate::control::create(&c, &table, false).await;

    let mut stream = TcpStream::connect(addr(&server)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let body = "{}";
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: eddy\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n\
         Content-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("read to the close");
    assert!(
        answer.starts_with("HTTP/1.0 400 Bad Request\r\n"),
        "{answer:?}"
    );
    assert!(
        answer.ends_with("\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"),
        "{answer:?}"
    );

    let plain = crate::harness::client(&server.endpoint.replace("https://", "http://"));
    let started = Instant::now();
    let err = plain
        .list_tables()
        .send()
        .await
        .expect_err("plain HTTP is refused");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "refused at once, not timed out: {err:?}"
    );
    put_and_get(&c, &table, "after-plain-http").await;
}

/// A client that opens a connection to the TLS port and never finishes its handshake
/// holds its place until the header timeout, like one that never sends a request, while
/// others are served.
#[tokio::test]
async fn a_handshake_that_never_finishes_is_closed_after_the_header_timeout() {
    let (server, certificate) = start_https();
    let c = client_trusting(&server.endpoint, Some(&certificate.cert_pem));
    let table = table_name("tls-slow");
    crate::control::create(&c, &table, false).await;

    let started = Instant::now();
    let silent = TcpStream::connect(addr(&server)).expect("connect");
    let mut partial = TcpStream::connect(addr(&server)).expect("connect");
    // The first bytes of a TLS record header (a handshake), and no more.
    partial.write_all(&[0x16, 0x03, 0x01]).expect("write");
    let header_timeout = Duration::from_millis(eddy::server::HEADER_READ_TIMEOUT_MS);
    let closes_by = started + header_timeout + Duration::from_millis(TIMEOUT_SLACK_MS);
    put_and_get(&c, &table, "during").await;
    for mut stream in [silent, partial] {
        stream
            .set_read_timeout(Some(closes_by.saturating_duration_since(Instant::now())))
            .expect("timeout");
        let mut buf = [0_u8; 64];
        // The server closes the connection (EOF, or a reset); a read timeout means it
        // is still open past its deadline.
        match stream.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!("unexpected {n} bytes from a connection that never shook hands"),
            Err(e) => assert!(
                !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "still open after the header timeout: {e}"
            ),
        }
    }
    assert!(
        started.elapsed() >= header_timeout,
        "{:?}",
        started.elapsed()
    );
    put_and_get(&c, &table, "after").await;
}

fn eddy(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_eddy"));
    command.args(args).env_remove("EDDY_CA_CERT");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run eddy")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `eddy function list` over `https://` with `--ca-cert` or `EDDY_CA_CERT`; without
/// either it fails, saying why and how to trust the certificate.
#[test]
fn the_eddy_cli_talks_to_an_https_endpoint_with_the_ca_flag() {
    let (server, certificate) = start_https();
    let cert = certificate.cert.to_str().expect("utf-8 path");
    let endpoint = server.endpoint.as_str();

    let out = eddy(
        &[
            "function",
            "list",
            "--endpoint",
            endpoint,
            "--ca-cert",
            cert,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(listed, serde_json::json!({"functions": []}));

    // The same through the environment, and by name (the certificate is for localhost).
    let by_name = endpoint.replace("127.0.0.1", "localhost");
    let out = eddy(
        &["function", "list", "--endpoint", &by_name],
        &[("EDDY_CA_CERT", &certificate.cert)],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = eddy(&["function", "list", "--endpoint", endpoint], &[]);
    assert!(!out.status.success());
    assert_eq!(
        text(&out.stderr).trim_end(),
        format!(
            "eddy: cannot talk to Eddy at {endpoint}: the TLS handshake failed: invalid peer \
             certificate: UnknownIssuer (a self-signed certificate, or one from a private CA, \
             is trusted with --ca-cert FILE or EDDY_CA_CERT=FILE)"
        )
    );
}

/// `--tls-cert` and `--tls-key` come together, and a file that cannot be used stops the
/// server at startup with a message naming it.
#[test]
fn bad_tls_flags_stop_the_server_at_startup_with_a_clear_error() {
    let certificate = SelfSigned::new();
    let other = SelfSigned::new();
    let data = tempfile::tempdir().expect("temp dir");
    let data = data.path().to_str().expect("utf-8 path");
    let cert = certificate.cert.to_str().expect("utf-8 path");
    let key = certificate.key.to_str().expect("utf-8 path");
    let other_key = other.key.to_str().expect("utf-8 path");
    let missing = format!("{data}/missing.pem");
    let serve = |tls: &[&str]| {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--data-dir", data];
        args.extend_from_slice(tls);
        let out = eddy(&args, &[]);
        assert!(!out.status.success(), "refused: {tls:?}");
        text(&out.stderr)
    };

    let err = serve(&["--tls-cert", cert]);
    assert!(
        err.contains("the following required arguments were not provided:\n  --tls-key <TLS_KEY>"),
        "{err}"
    );
    let err = serve(&["--tls-key", key]);
    assert!(err.contains("  --tls-cert <TLS_CERT>"), "{err}");
    assert_eq!(
        serve(&["--tls-cert", &missing, "--tls-key", key]).trim_end(),
        format!(
            "eddy: --tls-cert {missing}: cannot read PEM certificates (I/O error: No such \
             file or directory (os error 2))"
        )
    );
    assert_eq!(
        serve(&["--tls-cert", key, "--tls-key", key]).trim_end(),
        format!(
            "eddy: --tls-cert {key}: no certificate in it (expected PEM: -----BEGIN \
             CERTIFICATE-----)"
        )
    );
    assert_eq!(
        serve(&["--tls-cert", cert, "--tls-key", cert]).trim_end(),
        format!(
            "eddy: --tls-key {cert}: cannot read a PEM private key (no PEM section of the \
             expected kind in it)"
        )
    );
    assert_eq!(
        serve(&["--tls-cert", cert, "--tls-key", other_key]).trim_end(),
        format!(
            "eddy: --tls-cert {cert} with --tls-key {other_key}: not a usable certificate \
             and key (keys may not be consistent: KeyMismatch)"
        )
    );
}
