//! The `eddy` command line as a user meets it, through the real binary: the endpoint
//! (`EDDY_ENDPOINT`, `--endpoint`, no scheme), exit codes, a closed pipe, the messages
//! naming the real cause, and the server's start-up lines and refusals.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api::{create_table, create_trigger, deploy, eddy, eddy_ok, guest, guest_path};
use crate::harness::Server;

/// How long a server refused at start-up may take to exit.
const REFUSAL_TIMEOUT_MS: u64 = 20_000;

/// Runs `eddy <args>` with `env` and no `--endpoint`.
fn eddy_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(args)
        .env_remove("EDDY_ENDPOINT")
        .envs(env.iter().copied())
        .output()
        .expect("run eddy")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A local address where nothing listens (a port the system handed out, then freed).
fn dead_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}

#[test]
fn every_client_command_takes_its_endpoint_from_eddy_endpoint_and_the_flag_wins() {
    let server = Server::start();
    let e = server.endpoint.as_str();
    let schemeless = e.strip_prefix("http://").expect("an http endpoint");
    let commands: [&[&str]; 5] = [
        &["function", "list"],
        &["trigger", "list"],
        &["schedule", "list"],
        &["autoscaling", "target", "list"],
        &["user", "list"],
    ];
    for args in commands {
        for endpoint in [e, schemeless] {
            let out = eddy_env(args, &[("EDDY_ENDPOINT", endpoint)]);
            assert!(
                out.status.success(),
                "EDDY_ENDPOINT={endpoint} eddy {args:?}: {}",
                text(&out.stderr)
            );
            serde_json::from_slice::<Value>(&out.stdout).expect("JSON on stdout");
        }
    }
    // `--endpoint` without a scheme means http:// too.
    let listed = eddy_ok(schemeless, &["function", "list"]);
    assert_eq!(listed["functions"], json!([]));

    // The flag wins over the variable: a dead address in the flag fails even though
    // the variable names the live server, and the message names the flag's address.
    let dead = dead_endpoint();
    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["function", "list", "--endpoint", &dead])
        .env("EDDY_ENDPOINT", e)
        .output()
        .expect("run eddy");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let port = dead.rsplit(':').next().expect("a port");
    assert!(
        err.starts_with(&format!(
            "eddy: cannot reach Eddy at {dead}: nothing is listening at 127.0.0.1:{port} \
             (connection refused). Is Eddy running there? Start it with `eddy serve`, or give \
             its address with --endpoint or EDDY_ENDPOINT"
        )),
        "{err}"
    );

    // A scheme Eddy does not speak, or a port that is not one, is named as such.
    let out = eddy_env(
        &["function", "list"],
        &[("EDDY_ENDPOINT", "ftp://127.0.0.1:1")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim_end(),
        "eddy: EDDY_ENDPOINT \"ftp://127.0.0.1:1\": the scheme ftp:// is not one Eddy speaks: \
         use http:// or https:// (or host:port, which means http://)"
    );
    let err = text(&eddy(&format!("{e}/v1"), &["function", "list"]).stderr);
    assert!(err.contains("has a path; give only the server"), "{err}");
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let server = Server::start();
    let e = &server.endpoint;
    for name in ["a", "b", "c"] {
        deploy(e, name, "", &guest("noop")).expect(201);
    }
    // The reader is gone before the command writes a byte (as `| head -1` is after its
    // line): every write of the listing fails with EPIPE.
    for args in [
        ["function", "list"].as_slice(),
        ["function", "show", "a"].as_slice(),
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .args(args)
            .args(["--endpoint", e])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run eddy");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "eddy {args:?}: {err}");
        assert_eq!(err, "", "eddy {args:?} wrote to stderr");
    }
    // Through a shell, as a user types it.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' function list --endpoint {e} | head -1",
            env!("CARGO_BIN_EXE_eddy")
        ))
        .output()
        .expect("run sh");
    assert_eq!(text(&out.stdout), "{\n");
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn invoke_exits_3_when_the_function_fails_and_0_when_it_returns() {
    let server = Server::start();
    let e = &server.endpoint;
    deploy(e, "trap", "", &guest("trap")).expect(201);
    deploy(e, "noop", "", &guest("noop")).expect(201);

    let out = eddy(e, &["function", "invoke", "trap"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    // The output is the invocation as on success, with its error.
    let shown: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(shown["error"]["kind"], "Trap", "{shown}");
    let message = shown["error"]["message"].as_str().expect("a message");
    assert_eq!(
        text(&out.stderr).trim_end(),
        format!("eddy: function trap failed: Trap: {message}")
    );

    let out = eddy(e, &["function", "invoke", "noop"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(shown["error"], Value::Null, "{shown}");

    // A request that fails is 1, with the server's error.
    let out = eddy(e, &["function", "invoke", "missing"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim_end(),
        "eddy: 404 Not Found: ResourceNotFoundException: Function not found: missing"
    );
}

#[test]
fn a_trigger_on_a_missing_table_says_the_table_does_not_exist() {
    let server = Server::start();
    let e = &server.endpoint;
    let recorder = guest_path("recorder");
    let recorder = recorder.to_str().expect("a UTF-8 path");
    eddy_ok(e, &["function", "deploy", "recorder", recorder]);

    let out = eddy(
        e,
        &[
            "trigger",
            "create",
            "--function",
            "recorder",
            "--table",
            "missing",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim_end(),
        "eddy: 404 Not Found: ResourceNotFoundException: Table not found: missing"
    );
    // The same for a table ARN, which means the table's latest stream.
    let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/missing";
    let out = eddy(
        e,
        &[
            "trigger",
            "create",
            "--function",
            "recorder",
            "--stream-arn",
            arn,
        ],
    );
    assert!(
        text(&out.stderr).ends_with("Table not found: missing\n"),
        "{}",
        text(&out.stderr)
    );
    // A table that exists without a stream is still told to enable one.
    create_table(e, "plain", false);
    let out = eddy(
        e,
        &[
            "trigger",
            "create",
            "--function",
            "recorder",
            "--table",
            "plain",
        ],
    );
    let err = text(&out.stderr);
    assert!(err.contains("table plain has no enabled stream"), "{err}");
    assert_eq!(
        crate::api::get(e, "/v1/triggers").expect(200)["EventSourceMappings"],
        json!([])
    );
}

/// Starts `eddy serve <args>` expecting it to refuse and exit; returns its exit code
/// and stderr.
fn refused_serve(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .arg("serve")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start eddy");
    let deadline = Instant::now() + Duration::from_millis(REFUSAL_TIMEOUT_MS);
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("eddy serve {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("wait");
    (out.status.code(), text(&out.stderr))
}

#[test]
fn a_taken_port_or_data_directory_stops_a_second_server_with_one_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = Server::start_in(dir.path(), &[]);
    let addr = first.endpoint.strip_prefix("http://").expect("http");

    let (code, err) = refused_serve(&["--in-memory", "--listen", addr]);
    assert_eq!(code, Some(1), "{err}");
    let port = addr.rsplit(':').next().expect("a port");
    assert_eq!(
        err,
        format!(
            "eddy: cannot listen on {addr}: the address is already in use (another Eddy, or \
             another server, listens on port {port}): stop it, or choose another address with \
             --listen ADDR:PORT or --port N\n"
        )
    );

    let data_dir = dir.path().to_str().expect("a UTF-8 path");
    let (code, err) = refused_serve(&["--data-dir", data_dir, "--listen", "127.0.0.1:0"]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        err,
        format!(
            "eddy: the data directory {data_dir} is in use by another Eddy (process {}), which \
             holds {}: stop it, or start this one on another directory (--data-dir DIR, or \
             --in-memory)\n",
            first.pid(),
            Path::new(data_dir).join("eddy.lock").display()
        )
    );
    // The first server is untouched and still serves.
    eddy_ok(&first.endpoint, &["function", "list"]);
    // Once it is gone, the directory is free (the lock dies with the process).
    first.kill9();
    let again = Server::start_in(dir.path(), &[]);
    eddy_ok(&again.endpoint, &["function", "list"]);
}

#[test]
fn start_up_lines_name_the_routes_and_what_was_loaded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir.path(), &[]);
    let e = server.endpoint.clone();
    create_table(&e, "users", true);
    deploy(&e, "recorder", "", &guest("noop")).expect(201);
    deploy(&e, "indexer", "", &guest("noop")).expect(201);
    create_trigger(
        &e,
        json!({"FunctionName": "recorder", "TableName": "users", "StartingPosition": "LATEST"}),
    );
    let status = server.terminate();
    assert!(status.success(), "{status}");

    let mut child = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start eddy");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.starts_with("  loaded")) {
        match lines.next() {
            Some(Ok(line)) => seen.push(line),
            _ => panic!("the server's output ended early: {seen:?}"),
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let url = seen
        .iter()
        .find_map(|l| l.strip_prefix("Eddy is listening on "))
        .expect("the listening line")
        .to_owned();
    let expected = [
        format!("Eddy data directory: {}", dir.path().display()),
        format!("Eddy is listening on {url}"),
        format!(
            "  DynamoDB and Streams: aws dynamodb list-tables --endpoint-url {url}   (any \
             region and credentials)"
        ),
        format!(
            "  functions, triggers, schedules: {url}/v1   (eddy function list --endpoint \
             {url}, or EDDY_ENDPOINT={url})"
        ),
        format!("  metrics: {url}/metrics   health: {url}/health"),
        "  loaded 2 functions (indexer, recorder), 1 trigger (recorder on users) and no \
         schedules"
            .to_owned(),
    ];
    assert_eq!(seen, expected);
}

#[test]
fn an_unsigned_command_to_a_verifying_server_says_what_to_set() {
    let server = Server::start_with(&["--auth", "sigv4"]);
    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["function", "list", "--endpoint", &server.endpoint])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .expect("run eddy");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "MissingAuthenticationTokenException: Request is missing Authentication Token (this \
             Eddy verifies signatures: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to one \
             of its access keys; the root credential is printed at its first start)"
        ),
        "{err}"
    );
}
