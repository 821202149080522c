//! The boto3 and aws CLI suites (`tests/python/*.py`) against the real binary.
//! `tests/run.sh` installs the Python clients into `target/test-venv` and exports
//! `EDDY_TEST_PYTHON`; run through plain `cargo test` without it, these tests fail
//! and say how to run them, rather than silently passing.

use std::process::Command;

use crate::harness::Server;

/// Runs `tests/python/<script>` against a fresh server; fails with its output.
fn run_python_suite(script: &str) {
    run_python_suite_on(script, &[]);
}

/// [`run_python_suite`] against a server started with `server_flags`.
fn run_python_suite_on(script: &str, server_flags: &[&str]) {
    let python = std::env::var("EDDY_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("EDDY_TEST_PYTHON is not set: run the suite with ./tests/run.sh, which installs boto3 and the aws CLI")
    });
    let server = Server::start_with(server_flags);
    let path = format!("{}/tests/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(&python)
        .arg(&path)
        .arg(&server.endpoint)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
}

/// The control plane and data plane through boto3 and the aws CLI, every call signed
/// with a key the test creates and allowed by its user's policy.
#[test]
fn boto3_and_aws_cli_smoke() {
    run_python_suite_signed("smoke.py");
}

/// Provisioned throughput enforced, through boto3, on a manual capacity clock.
#[test]
fn boto3_throttling() {
    run_python_suite_on("throttling.py", &["--capacity-clock", "manual"]);
}

/// Global indexes' on-demand maximums and warm throughput (and a table's warm
/// throughput) through boto3: taken, described, enforced and refused, on a manual
/// capacity clock.
#[test]
fn boto3_gsi_throughput() {
    run_python_suite_on("gsi_throughput.py", &["--capacity-clock", "manual"]);
}

/// The expression language and the legacy parameters through boto3.
#[test]
fn boto3_expressions() {
    run_python_suite("expressions.py");
}

/// DynamoDB Streams through boto3's `dynamodbstreams` client.
#[test]
fn boto3_streams() {
    run_python_suite("streams.py");
}

/// Global secondary indexes with multi-attribute keys through boto3.
#[test]
fn boto3_multi_attribute_gsi() {
    run_python_suite("multi_key_gsi.py");
}

/// Deletion protection, the table class and the tag operations' refusals through boto3.
#[test]
fn boto3_control_plane() {
    run_python_suite("control_plane.py");
}

/// Auto scaling through Application Auto Scaling's protocol (boto3 and the aws CLI).
#[test]
fn boto3_and_aws_cli_autoscaling() {
    run_python_suite("autoscaling.py");
}

/// The same on a server that verifies signatures: the administrator's key (signing
/// for `application-autoscaling`) may do everything, a DynamoDB-only user's nothing.
#[test]
fn boto3_and_aws_cli_autoscaling_signed() {
    let python = std::env::var("EDDY_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("EDDY_TEST_PYTHON is not set: run the suite with ./tests/run.sh, which installs boto3 and the aws CLI")
    });
    let (server, dir, id, secret) = signed_server();
    let (root_id, root_secret) = crate::harness::root_credentials(dir.path());
    let path = format!("{}/tests/python/autoscaling.py", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(&python)
        .arg(&path)
        .arg(&server.endpoint)
        .env("EDDY_ADMIN_ID", root_id)
        .env("EDDY_ADMIN_SECRET", root_secret)
        .env("EDDY_KEY_ID", id)
        .env("EDDY_KEY_SECRET", secret)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "autoscaling.py failed:\n{stdout}\n{stderr}"
    );
}

/// Lambda's API on Eddy's port through boto3's `lambda` client and `aws lambda`:
/// functions from a plain `.wasm` and from a zip, Invoke's headers, the event-source
/// mapping operations delivering a stream, and Lambda's errors.
#[test]
fn boto3_and_aws_cli_lambda_api() {
    run_lambda_suite(None);
}

/// The same on a server that verifies signatures (the suite signs for `lambda` with the
/// administrator's key), where a DynamoDB-only user's key is refused each Lambda
/// action by name.
#[test]
fn boto3_and_aws_cli_lambda_api_signed() {
    let (server, dir, id, secret) = signed_server();
    let (root_id, root_secret) = crate::harness::root_credentials(dir.path());
    run_lambda_suite(Some((server, [root_id, root_secret, id, secret])));
}

/// Runs `lambda_api.py` against a fresh server, or against `signed` with its keys
/// (administrator's id and secret, then a DynamoDB-only user's).
fn run_lambda_suite(signed: Option<(Server, [String; 4])>) {
    let python = std::env::var("EDDY_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("EDDY_TEST_PYTHON is not set: run the suite with ./tests/run.sh, which installs boto3 and the aws CLI")
    });
    let path = format!("{}/tests/python/lambda_api.py", env!("CARGO_MANIFEST_DIR"));
    // The unsigned server keeps an audit log, which the suite reads for its changes.
    let audit = tempfile::tempdir().expect("temp dir");
    let audit_log = audit.path().join("audit.jsonl");
    let (server, keys) = match signed {
        Some((server, keys)) => (server, Some(keys)),
        None => (
            Server::start_with(&["--audit-log", audit_log.to_str().expect("UTF-8 path")]),
            None,
        ),
    };
    let mut command = Command::new(&python);
    command
        .arg(&path)
        .arg(&server.endpoint)
        .env("EDDY_TEST_GUESTS_DIR", crate::api::guests_dir());
    if keys.is_none() {
        command.env("EDDY_AUDIT_LOG", &audit_log);
    }
    if let Some([admin_id, admin_secret, id, secret]) = keys {
        command
            .env("EDDY_ADMIN_ID", admin_id)
            .env("EDDY_ADMIN_SECRET", admin_secret)
            .env("EDDY_KEY_ID", id)
            .env("EDDY_KEY_SECRET", secret);
    }
    let out = command.output().expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "lambda_api.py failed:\n{stdout}\n{stderr}"
    );
}

/// PartiQL (ExecuteStatement, BatchExecuteStatement, ExecuteTransaction) through boto3.
#[test]
fn boto3_partiql() {
    run_python_suite("partiql.py");
}

/// ConsumedCapacity of every operation that takes ReturnConsumedCapacity, exact
/// numbers, through boto3.
#[test]
fn boto3_consumed_capacity() {
    run_python_suite("consumed_capacity.py");
}

/// boto3 (`verify=` and `AWS_CA_BUNDLE`) and the aws CLI (`AWS_CA_BUNDLE`) over
/// `https://` with a self-signed certificate (`eddy serve --tls-cert/--tls-key`).
#[test]
fn boto3_and_aws_cli_over_https() {
    let python = std::env::var("EDDY_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("EDDY_TEST_PYTHON is not set: run the suite with ./tests/run.sh, which installs boto3 and the aws CLI")
    });
    let (server, certificate) = crate::tls::start_https();
    let path = format!("{}/tests/python/tls.py", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(&python)
        .arg(&path)
        .arg(&server.endpoint)
        .arg(&certificate.cert)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tls.py failed:\n{stdout}\n{stderr}");
}

/// A server with `--auth sigv4` and a key of a user allowed every DynamoDB action
/// (AWS's managed full-access policy), made as a user would: `eddy key create` and
/// `eddy user policy put`, signed with the root credential generated at first start.
/// The server, its directory, and the key's id and secret.
fn signed_server() -> (Server, tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir.path(), &["--auth", "sigv4"]);
    let (root_id, root_secret) = crate::harness::root_credentials(dir.path());
    let eddy = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .args(args)
            .args(["--endpoint", &server.endpoint])
            .env("AWS_ACCESS_KEY_ID", &root_id)
            .env("AWS_SECRET_ACCESS_KEY", &root_secret)
            .env_remove("AWS_SESSION_TOKEN")
            .output()
            .expect("run eddy");
        assert!(
            out.status.success(),
            "eddy {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let key: serde_json::Value =
        serde_json::from_slice(&eddy(&["key", "create", "--user", "py"])).expect("key JSON");
    eddy(&[
        "user",
        "policy",
        "put",
        "py",
        "full",
        "--managed",
        "AmazonDynamoDBFullAccess",
    ]);
    let id = key["AccessKeyId"].as_str().expect("id").to_owned();
    let secret = key["SecretAccessKey"].as_str().expect("secret").to_owned();
    (server, dir, id, secret)
}

/// Runs `tests/python/<script>` against a server that verifies signatures, with a key
/// the test creates (`EDDY_KEY_ID`, `EDDY_KEY_SECRET`): every call the suite makes is
/// signed and passes the key's user's policy.
fn run_python_suite_signed(script: &str) {
    let python = std::env::var("EDDY_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("EDDY_TEST_PYTHON is not set: run the suite with ./tests/run.sh, which installs boto3 and the aws CLI")
    });
    let (server, _dir, id, secret) = signed_server();
    let path = format!("{}/tests/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(&python)
        .arg(&path)
        .arg(&server.endpoint)
        .env("EDDY_KEY_ID", id)
        .env("EDDY_KEY_SECRET", secret)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
}

/// SigV4 verification through boto3 and the aws CLI, with a key made by `eddy key
/// create`: allowed calls, and each refusal with DynamoDB's error.
#[test]
fn boto3_and_aws_cli_sigv4() {
    run_python_suite_signed("auth.py");
}
