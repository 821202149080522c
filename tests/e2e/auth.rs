//! SigV4 verification (`--auth sigv4`): the root credential generated at first start,
//! a key created with `eddy key create`, the AWS SDK for Rust's signed calls, and each
//! refusal with DynamoDB's type, status and message; presigned query strings; the
//! `/v1` API's administrator routes.

use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use serde_json::Value;

use crate::harness::Server;

pub(crate) fn client_with(endpoint: &str, id: &str, secret: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(id, secret, None, None, "test"))
        .build();
    Client::from_conf(config)
}

/// Runs `eddy <args>` with `id`/`secret` as the environment's AWS credentials.
pub(crate) fn eddy(
    endpoint: &str,
    creds: Option<(&str, &str)>,
    args: &[&str],
) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_eddy"));
    cmd.args(args).args(["--endpoint", endpoint]);
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN");
    if let Some((id, secret)) = creds {
        cmd.env("AWS_ACCESS_KEY_ID", id)
            .env("AWS_SECRET_ACCESS_KEY", secret);
    }
    let out = cmd.output().expect("run eddy");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Sends one raw request and returns the status and the body as JSON.
pub(crate) fn send(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &str,
) -> (u16, Value) {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("host: {addr}\r\n"));
    }
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ));
    stream.write_all(req.as_bytes()).expect("write");
    let mut resp = String::new();
    stream.read_to_string(&mut resp).expect("read");
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let body = resp.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// A DynamoDB ListTables request signed with `eddy`'s signer at `at` over `signed_body`.
fn dynamodb_signed(
    endpoint: &str,
    id: &str,
    secret: &str,
    at: SystemTime,
    signed_body: &str,
) -> Vec<(String, String)> {
    dynamodb_signed_as(endpoint, id, secret, at, signed_body, false)
}

/// [`dynamodb_signed`], optionally with `X-Amz-Content-Sha256: UNSIGNED-PAYLOAD`.
fn dynamodb_signed_as(
    endpoint: &str,
    id: &str,
    secret: &str,
    at: SystemTime,
    signed_body: &str,
    unsigned: bool,
) -> Vec<(String, String)> {
    let host = endpoint.trim_start_matches("http://");
    let mut headers: Vec<(String, String)> = eddy::auth::sign::sign_headers(
        "POST",
        "/",
        host,
        signed_body.as_bytes(),
        id,
        secret,
        None,
        "us-east-1",
        at,
        unsigned,
    )
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v))
    .collect();
    headers.push(("x-amz-target".into(), "DynamoDB_20120810.ListTables".into()));
    headers.push(("content-type".into(), "application/x-amz-json-1.0".into()));
    headers
}

pub(crate) fn error_of(body: &Value) -> (&str, &str) {
    (
        body["__type"].as_str().unwrap_or(""),
        body["message"].as_str().unwrap_or(""),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn sigv4_verifies_every_request_and_refuses_with_dynamodbs_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &["--auth", "sigv4"]);
    let ep = server.endpoint.clone();
    // The root credential generated at first start, kept in the data directory.
    let (root_id, root_secret) = crate::harness::root_credentials(dir.path());

    // A key made with the CLI, signed with the root credential; unsigned, refused.
    let (ok, _, err) = eddy(&ep, None, &["key", "create", "--user", "alice"]);
    assert!(
        !ok && err.contains("MissingAuthenticationTokenException"),
        "{err}"
    );
    let (ok, out, err) = eddy(
        &ep,
        Some((&root_id, &root_secret)),
        &["key", "create", "--user", "alice"],
    );
    assert!(ok, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let id = created["AccessKeyId"].as_str().unwrap().to_owned();
    let secret = created["SecretAccessKey"].as_str().unwrap().to_owned();
    assert_eq!(created["Admin"], false);
    // A new user may do nothing until a policy allows it (IAM's implicit deny).
    let e = client_with(&ep, &id, &secret)
        .list_tables()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&e),
        Some("AccessDeniedException")
    );
    let (ok, _, err) = eddy(
        &ep,
        Some((&root_id, &root_secret)),
        &[
            "user",
            "policy",
            "put",
            "alice",
            "full",
            "--managed",
            "AmazonDynamoDBFullAccess",
        ],
    );
    assert!(ok, "{err}");

    // Allowed calls with the new key.
    let c = client_with(&ep, &id, &secret);
    c.create_table()
        .table_name("auth")
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    c.put_item()
        .table_name("auth")
        .item("pk", AttributeValue::S("a".into()))
        .send()
        .await
        .unwrap();
    let got = c
        .get_item()
        .table_name("auth")
        .key("pk", AttributeValue::S("a".into()))
        .send()
        .await
        .unwrap();
    assert!(got.item().is_some());

    // Wrong secret: InvalidSignatureException with the canonical string.
    let e = client_with(&ep, &id, "wrong")
        .list_tables()
        .send()
        .await
        .unwrap_err();
    let e = e.into_service_error();
    let meta = aws_sdk_dynamodb::error::ProvideErrorMetadata::meta(&e);
    assert_eq!(meta.code(), Some("InvalidSignatureException"));
    assert!(meta.message().unwrap().starts_with(
        "The request signature we calculated does not match the signature you provided. Check \
         your AWS Secret Access Key and signing method. Consult the service documentation for \
         details.\n\nThe Canonical String for this request should have been\n'POST\n/\n"
    ));
    // Unknown key.
    let e = client_with(&ep, "EDDYNOSUCHKEY", &secret)
        .list_tables()
        .send()
        .await
        .unwrap_err();
    let e = e.into_service_error();
    let meta = aws_sdk_dynamodb::error::ProvideErrorMetadata::meta(&e);
    assert_eq!(meta.code(), Some("UnrecognizedClientException"));
    assert_eq!(
        meta.message(),
        Some("The security token included in the request is invalid.")
    );

    // Missing authentication.
    let plain = vec![
        (
            "x-amz-target".to_owned(),
            "DynamoDB_20120810.ListTables".to_owned(),
        ),
        (
            "content-type".to_owned(),
            "application/x-amz-json-1.0".to_owned(),
        ),
    ];
    let (status, body) = send(&ep, "POST", "/", &plain, "{}");
    assert_eq!(status, 400);
    assert_eq!(
        error_of(&body),
        (
            "com.amazon.coral.service#MissingAuthenticationTokenException",
            "Request is missing Authentication Token"
        )
    );
    // Malformed Authorization.
    let mut bad = plain.clone();
    bad.push((
        "authorization".into(),
        "AWS4-HMAC-SHA256 Signature=abc".into(),
    ));
    let (status, body) = send(&ep, "POST", "/", &bad, "{}");
    assert_eq!(status, 400);
    assert_eq!(
        error_of(&body),
        (
            "com.amazon.coral.service#IncompleteSignatureException",
            "Authorization header requires 'Credential' parameter. Authorization header requires \
             'SignedHeaders' parameter. Authorization header requires existence of either a \
             'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 Signature=abc"
        )
    );

    // A correctly signed raw request passes; the same signature over another body fails.
    let now = SystemTime::now();
    let (status, _) = send(
        &ep,
        "POST",
        "/",
        &dynamodb_signed(&ep, &id, &secret, now, "{}"),
        "{}",
    );
    assert_eq!(status, 200);
    let (status, body) = send(
        &ep,
        "POST",
        "/",
        &dynamodb_signed(&ep, &id, &secret, now, "{}"),
        "{\"Limit\":1}",
    );
    assert_eq!(status, 400);
    let (kind, message) = error_of(&body);
    assert_eq!(kind, "com.amazon.coral.service#InvalidSignatureException");
    assert!(
        message.starts_with("The request signature we calculated does not match"),
        "{message}"
    );

    // A signature that says UNSIGNED-PAYLOAD binds no body.
    let unsigned = dynamodb_signed_as(&ep, &id, &secret, now, "", true);
    let (status, body) = send(&ep, "POST", "/", &unsigned, "{\"Limit\":1}");
    assert_eq!(status, 200, "{body}");

    // A clock 20 minutes behind, and 20 minutes ahead.
    let past = now - Duration::from_secs(20 * 60);
    let (status, body) = send(
        &ep,
        "POST",
        "/",
        &dynamodb_signed(&ep, &id, &secret, past, "{}"),
        "{}",
    );
    assert_eq!(status, 400);
    let (kind, message) = error_of(&body);
    assert_eq!(kind, "com.amazon.coral.service#InvalidSignatureException");
    let past_date = eddy::auth::sign::format_amz_date(past);
    assert!(
        message.starts_with(&format!(
            "Signature expired: {past_date} is now earlier than "
        )) && message.ends_with(" - 15 min.)"),
        "{message}"
    );
    let future = now + Duration::from_secs(20 * 60);
    let (_, body) = send(
        &ep,
        "POST",
        "/",
        &dynamodb_signed(&ep, &id, &secret, future, "{}"),
        "{}",
    );
    let (kind, message) = error_of(&body);
    assert_eq!(kind, "com.amazon.coral.service#InvalidSignatureException");
    assert!(
        message.starts_with("Signature not yet current: "),
        "{message}"
    );

    // A presigned query string made by the AWS SDK's signer.
    let host = ep.trim_start_matches("http://").to_owned();
    let mut settings = aws_sigv4::http_request::SigningSettings::default();
    settings.signature_location = aws_sigv4::http_request::SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(300));
    let identity = Credentials::new(&id, &secret, None, None, "test").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("dynamodb")
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let url = format!("{ep}/");
    let signed_headers = [
        ("host", host.as_str()),
        ("x-amz-target", "DynamoDB_20120810.ListTables"),
    ];
    let signable = aws_sigv4::http_request::SignableRequest::new(
        "POST",
        &url,
        signed_headers.iter().copied(),
        aws_sigv4::http_request::SignableBody::Bytes(b"{}"),
    )
    .unwrap();
    let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
        .unwrap()
        .into_parts();
    let (_, query) = instructions.into_parts();
    let query: Vec<String> = query
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.bytes()
                    .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        char::from(b).to_string()
                    } else {
                        format!("%{b:02X}")
                    })
                    .collect::<String>()
            )
        })
        .collect();
    let path = format!("/?{}", query.join("&"));
    let (status, body) = send(&ep, "POST", &path, &plain, "{}");
    assert_eq!(status, 200, "{body}");
    assert!(body["TableNames"].is_array());

    // The /v1 API: unsigned and non-administrator changes are refused; reads and an
    // administrator's key management work.
    let (status, body) = send(&ep, "DELETE", "/v1/functions/f", &[], "");
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "MissingAuthenticationTokenException");
    let (ok, _, err) = eddy(&ep, Some((&id, &secret)), &["function", "delete", "f"]);
    assert!(!ok && err.contains("AccessDeniedException"), "{err}");
    let (ok, _, err) = eddy(&ep, Some((&id, &secret)), &["key", "list"]);
    assert!(!ok && err.contains("AccessDeniedException"), "{err}");
    // A /v1 read needs its eddy: action allowed by the user's policies.
    let (ok, _, err) = eddy(&ep, Some((&id, &secret)), &["function", "list"]);
    assert!(!ok && err.contains("eddy:ListFunctions"), "{err}");
    let policy = dir.path().join("list.json");
    std::fs::write(
        &policy,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"eddy:List*","Resource":"*"}]}"#,
    )
    .unwrap();
    let (ok, _, err) = eddy(
        &ep,
        Some((&root_id, &root_secret)),
        &[
            "user",
            "policy",
            "put",
            "alice",
            "lists",
            "--file",
            policy.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let (ok, out, err) = eddy(&ep, Some((&id, &secret)), &["function", "list"]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = eddy(&ep, Some((&root_id, &root_secret)), &["key", "list"]);
    assert!(
        ok && out.contains(&id) && !out.contains(&secret),
        "{out}{err}"
    );
    // An unauthenticated deploy is refused before its component is looked at; an
    // administrator's signed upload passes the guard and reaches the deploy's own checks.
    let wasm = dir.path().join("not-a-component.wasm");
    std::fs::write(&wasm, b"\0asm not really").unwrap();
    let wasm = wasm.to_str().unwrap();
    let (ok, _, err) = eddy(&ep, None, &["function", "deploy", "f", wasm]);
    assert!(
        !ok && err.contains("403") && err.contains("MissingAuthenticationTokenException"),
        "{err}"
    );
    let (ok, _, err) = eddy(
        &ep,
        Some((&id, &secret)),
        &["function", "deploy", "f", wasm],
    );
    assert!(!ok && err.contains("AccessDeniedException"), "{err}");
    let (ok, _, err) = eddy(
        &ep,
        Some((&root_id, &root_secret)),
        &["function", "deploy", "f", wasm],
    );
    assert!(!ok && err.contains("400"), "{err}");
    // The Streams API is verified too.
    let streams = aws_sdk_dynamodbstreams::Client::from_conf(
        aws_sdk_dynamodbstreams::Config::builder()
            .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
            .endpoint_url(&ep)
            .region(aws_sdk_dynamodbstreams::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodbstreams::config::Credentials::new(
                &id, "wrong", None, None, "test",
            ))
            .build(),
    );
    let e = streams
        .list_streams()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        aws_sdk_dynamodbstreams::error::ProvideErrorMetadata::code(&e),
        Some("InvalidSignatureException")
    );
    let (ok, _, err) = eddy(&ep, Some((&root_id, &root_secret)), &["key", "delete", &id]);
    assert!(ok, "{err}");
    let e = c
        .list_tables()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&e),
        Some("UnrecognizedClientException")
    );
}

/// The root credential of `EDDY_ROOT_*`: nothing is generated, it is an administrator's,
/// and the keys it makes survive a restart.
#[tokio::test(flavor = "multi_thread")]
async fn the_root_credential_comes_from_the_environment_and_keys_are_durable() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("EDDY_ROOT_ACCESS_KEY_ID", "EDDYROOTFROMENV00000"),
        (
            "EDDY_ROOT_SECRET_ACCESS_KEY",
            "root-secret-from-the-environment",
        ),
    ];
    let root = Some(("EDDYROOTFROMENV00000", "root-secret-from-the-environment"));
    let server = Server::start_with_env(dir.path(), "127.0.0.1:0", &["--auth", "sigv4"], &env);
    assert!(!dir.path().join("root-credentials").exists());
    let (ok, out, err) = eddy(
        &server.endpoint,
        root,
        &["key", "create", "--user", "ops", "--admin"],
    );
    assert!(ok, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let id = created["AccessKeyId"].as_str().unwrap().to_owned();
    let secret = created["SecretAccessKey"].as_str().unwrap().to_owned();
    assert_eq!(created["Admin"], true);
    let status = server.terminate();
    assert!(status.success());

    // Restarted without the environment: the stored keys still sign in.
    let server = Server::start_in(dir.path(), &["--auth", "sigv4"]);
    assert!(!dir.path().join("root-credentials").exists());
    client_with(&server.endpoint, &id, &secret)
        .list_tables()
        .send()
        .await
        .unwrap();
    let (ok, out, err) = eddy(&server.endpoint, Some((&id, &secret)), &["key", "list"]);
    assert!(
        ok && out.contains("EDDYROOTFROMENV00000") && out.contains(&id),
        "{out}{err}"
    );
    // A key with a session token: requests must carry it.
    let (ok, out, err) = eddy(
        &server.endpoint,
        Some((&id, &secret)),
        &["key", "create", "--user", "temp", "--session-token"],
    );
    assert!(ok, "{err}");
    let (ok, _, err) = eddy(
        &server.endpoint,
        Some((&id, &secret)),
        &[
            "user",
            "policy",
            "put",
            "temp",
            "read",
            "--managed",
            "AmazonDynamoDBReadOnlyAccess",
        ],
    );
    assert!(ok, "{err}");
    let temp: Value = serde_json::from_str(&out).unwrap();
    let (temp_id, temp_secret, token) = (
        temp["AccessKeyId"].as_str().unwrap(),
        temp["SecretAccessKey"].as_str().unwrap(),
        temp["SessionToken"].as_str().unwrap(),
    );
    let with_token = |token: Option<&str>| {
        Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .endpoint_url(&server.endpoint)
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new(
                    temp_id,
                    temp_secret,
                    token.map(str::to_owned),
                    None,
                    "test",
                ))
                .build(),
        )
    };
    with_token(Some(token)).list_tables().send().await.unwrap();
    for wrong in [None, Some("not-the-token")] {
        let e = with_token(wrong)
            .list_tables()
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        let meta = aws_sdk_dynamodb::error::ProvideErrorMetadata::meta(&e);
        assert_eq!(meta.code(), Some("UnrecognizedClientException"));
        assert_eq!(
            meta.message(),
            Some("The security token included in the request is invalid")
        );
    }

    // An unsigned request is refused; an auth-off server on loopback takes it.
    let (ok, _, err) = eddy(&server.endpoint, None, &["key", "list"]);
    assert!(
        !ok && err.contains("MissingAuthenticationTokenException"),
        "{err}"
    );
    drop(server);
    let server = Server::start_in(dir.path(), &[]);
    let (ok, out, err) = eddy(&server.endpoint, None, &["key", "list"]);
    assert!(ok && out.contains(&id), "{out}{err}");
}

/// With `--auth sigv4`, `/metrics` and `/v1` reads need a signature unless the server
/// makes them public; `/v1/iam` and every change need one whatever the flags.
#[test]
fn metrics_and_v1_reads_are_public_only_by_flag() {
    let root_env = [
        ("EDDY_ROOT_ACCESS_KEY_ID", "EDDYROOTPUBLIC000000"),
        ("EDDY_ROOT_SECRET_ACCESS_KEY", "root-secret-public-reads"),
    ];
    let missing = |r: crate::api::Resp| {
        let body = r.expect(403);
        assert_eq!(
            body["error"]["code"], "MissingAuthenticationTokenException",
            "{body}"
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(dir.path(), "127.0.0.1:0", &["--auth", "sigv4"], &root_env);
    missing(crate::api::get(&server.endpoint, "/metrics"));
    missing(crate::api::get(&server.endpoint, "/v1/functions"));
    drop(server);

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(
        dir.path(),
        "127.0.0.1:0",
        &["--auth", "sigv4", "--public-metrics", "--public-v1-reads"],
        &root_env,
    );
    let metrics = crate::api::get(&server.endpoint, "/metrics");
    assert_eq!(metrics.status, 200, "{}", metrics.text());
    assert!(metrics.text().contains("# TYPE"), "{}", metrics.text());
    crate::api::get(&server.endpoint, "/v1/functions").expect(200);
    missing(crate::api::get(&server.endpoint, "/v1/iam/keys"));
    missing(crate::api::send_json(
        &server.endpoint,
        "POST",
        "/v1/triggers",
        &serde_json::json!({"FunctionName": "f", "TableName": "t"}),
    ));
}
