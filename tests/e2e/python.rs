//! The boto3 + aws CLI smoke test (`tests/python/smoke.py`) against the real binary.
//! `tests/run.sh` installs the Python clients into `target/test-venv` and exports
//! `EDDY_TEST_PYTHON`; run through plain `cargo test` without it, this test fails
//! and says how to run it, rather than silently passing.

use std::process::Command;

use crate::harness::Server;

#[test]
fn boto3_and_aws_cli_smoke() {
    let python = std::env::var("EDDY_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("EDDY_TEST_PYTHON is not set: run the suite with ./tests/run.sh, which installs boto3 and the aws CLI")
    });
    let server = Server::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/smoke.py");
    let out = Command::new(&python)
        .arg(script)
        .arg(&server.endpoint)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "smoke.py failed:\n{stdout}\n{stderr}");
}

/// `tests/python/expressions.py`: the expression language and the legacy parameters
/// through boto3.
#[test]
fn boto3_expressions() {
    let python = std::env::var("EDDY_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("EDDY_TEST_PYTHON is not set: run the suite with ./tests/run.sh, which installs boto3 and the aws CLI")
    });
    let server = Server::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/expressions.py");
    let out = Command::new(&python)
        .arg(script)
        .arg(&server.endpoint)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "expressions.py failed:\n{stdout}\n{stderr}"
    );
}

/// `tests/python/streams.py`: DynamoDB Streams through boto3's `dynamodbstreams`
/// client.
#[test]
fn boto3_streams() {
    let python = std::env::var("EDDY_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("EDDY_TEST_PYTHON is not set: run the suite with ./tests/run.sh, which installs boto3 and the aws CLI")
    });
    let server = Server::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/streams.py");
    let out = Command::new(&python)
        .arg(script)
        .arg(&server.endpoint)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "streams.py failed:\n{stdout}\n{stderr}"
    );
}
