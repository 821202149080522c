//! The handler writer's loop through the real binary: `eddy function new` from the
//! embedded template, `eddy function deploy DIR` (a real `cargo build` for
//! wasm32-wasip2 against the SDK the binary writes out), `eddy apply` (idempotent, and
//! refusing a table with other keys before changing anything) and `eddy dev` (a saved
//! edit is rebuilt, redeployed and its log line printed).
//!
//! Every project here builds with one shared `CARGO_TARGET_DIR` and one shared cache
//! directory (so one copy of the SDK), which keeps the dependencies compiled once.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api::{create_table, ddb, eddy_ok, get, wait_for};
use crate::harness::Server;

/// Longest a first build of a function may take (it compiles the SDK's dependencies,
/// on a machine shared with other builds).
const BUILD_WAIT: Duration = Duration::from_secs(600);

/// The directories shared by every project of these tests.
fn shared(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("function-loop")
        .join(name);
    std::fs::create_dir_all(&dir).expect("shared dir");
    dir
}

/// `eddy <args>` as a user without the repository runs it: no `EDDY_SDK_DIR` (the
/// embedded SDK is written to the cache), the shared cache and cargo target.
fn eddy_cmd(endpoint: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_eddy"));
    command
        .args(args)
        .env("EDDY_ENDPOINT", endpoint)
        .env_remove("EDDY_SDK_DIR")
        .env("XDG_CACHE_HOME", shared("cache"))
        .env("CARGO_TARGET_DIR", shared("cargo-target"));
    command
}

fn run(endpoint: &str, args: &[&str]) -> Output {
    eddy_cmd(endpoint, args).output().expect("run eddy")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a command that must succeed; returns its stdout.
fn run_ok(endpoint: &str, args: &[&str]) -> String {
    let out = run(endpoint, args);
    assert!(
        out.status.success(),
        "eddy {args:?} failed ({}): {}",
        out.status,
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// `eddy function new NAME --lang rust --dir DIR`.
fn new_rust(endpoint: &str, name: &str, dir: &Path) {
    let out = run_ok(
        endpoint,
        &[
            "function",
            "new",
            name,
            "--lang",
            "rust",
            "--dir",
            &dir.display().to_string(),
        ],
    );
    assert!(out.contains("eddy dev"), "{out}");
}

/// The messages of `function`'s log lines, oldest first.
fn log_messages(endpoint: &str, function: &str) -> Vec<String> {
    get(endpoint, &format!("/v1/functions/{function}/logs")).expect(200)["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .map(|l| l["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn put_item(endpoint: &str, table: &str, id: &str) {
    ddb(
        endpoint,
        "PutItem",
        json!({ "TableName": table, "Item": { "id": { "S": id } } }),
    );
}

#[test]
fn a_new_rust_function_deploys_from_its_directory_and_handles_a_write() {
    let server = Server::start();
    let e = server.endpoint.as_str();
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path().join("greeter");
    // Whether the SDK's dependencies were compiled by an earlier run (the shared
    // target directory persists): the printed time says which it measured.
    let warm = shared("cargo-target").join("wasm32-wasip2").is_dir();
    let started = Instant::now();
    new_rust(e, "greeter", &dir);
    assert!(dir.join("src/lib.rs").is_file());
    assert!(dir.join("eddy.toml").is_file());

    let out = eddy_cmd(e, &["function", "deploy", &dir.display().to_string()])
        .output()
        .expect("run eddy");
    assert!(out.status.success(), "deploy DIR: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "eddy: deployed greeter version 1\n");
    assert!(dir.join("target/eddy/greeter.wasm").is_file());

    create_table(e, "loop-users", true);
    eddy_ok(
        e,
        &[
            "trigger",
            "create",
            "--function",
            "greeter",
            "--table",
            "loop-users",
            "--starting-position",
            "TRIM_HORIZON",
        ],
    );
    put_item(e, "loop-users", "ada");
    let line = wait_for("the first handled record in the logs", BUILD_WAIT, || {
        let messages = log_messages(e, "greeter");
        messages
            .iter()
            .find(|m| m.starts_with("greeter handled INSERT "))
            .cloned()
            .ok_or_else(|| format!("logs: {messages:?}"))
    });
    eprintln!(
        "newcomer path: `eddy function new` to the first handled record ({line:?}) took \
         {:.1} s ({})",
        started.elapsed().as_secs_f64(),
        if warm {
            "the SDK's dependencies were compiled by an earlier run"
        } else {
            "a cold build: the SDK's dependencies compiled too"
        }
    );

    // The old form, NAME FILE with flags, still deploys; the flags do not go with DIR.
    let wasm = dir.join("target/eddy/greeter.wasm").display().to_string();
    let shown = eddy_ok(
        e,
        &["function", "deploy", "greeter", &wasm, "--memory-mb", "64"],
    );
    assert_eq!(shown["version"], 2);
    assert_eq!(shown["config"]["memory_mb"], 64);
    let out = run(
        e,
        &[
            "function",
            "deploy",
            &dir.display().to_string(),
            "--table",
            "x",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "eddy: --table goes with `deploy NAME FILE`; `deploy [DIR]` takes the configuration \
         from the project's eddy.toml\n"
    );
}

#[test]
fn new_refuses_a_non_empty_directory_and_writes_nothing() {
    let server = Server::start();
    let e = server.endpoint.as_str();
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path().join("taken");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("notes.txt"), "mine").expect("write");
    let shown = dir.display().to_string();
    let out = run(
        e,
        &["function", "new", "f", "--lang", "rust", "--dir", &shown],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "eddy: {shown} exists and is not empty: choose another --dir (nothing was written)\n"
        )
    );
    let names: Vec<_> = std::fs::read_dir(&dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("notes.txt")]);

    // A name the server would refuse is refused before anything is written.
    let fresh = temp.path().join("fresh").display().to_string();
    let out = run(
        e,
        &[
            "function",
            "new",
            "no spaces",
            "--lang",
            "rust",
            "--dir",
            &fresh,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "eddy: \"no spaces\" is not a function name (1-64 characters of [A-Za-z0-9_-])\n"
    );
    assert!(!temp.path().join("fresh").exists());
    // An empty directory is fine.
    let empty = temp.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    run_ok(
        e,
        &[
            "function",
            "new",
            "f",
            "--lang",
            "rust",
            "--dir",
            &empty.display().to_string(),
        ],
    );
    assert!(empty.join("eddy.toml").is_file());
}

/// What `eddy apply` governs, as the server shows it, without what moves by itself
/// (counters, processing results, fire times).
fn server_state(endpoint: &str) -> Value {
    let tables = ddb(endpoint, "ListTables", json!({}));
    let mut described = Vec::new();
    for name in tables["TableNames"].as_array().expect("names") {
        let mut t = ddb(endpoint, "DescribeTable", json!({ "TableName": name }))["Table"].clone();
        for volatile in ["ItemCount", "TableSizeBytes"] {
            t.as_object_mut().expect("table").remove(volatile);
        }
        described.push(t);
    }
    let functions = eddy_ok(endpoint, &["function", "list"]);
    let mut triggers = eddy_ok(endpoint, &["trigger", "list"]);
    for m in triggers["EventSourceMappings"]
        .as_array_mut()
        .expect("mappings")
    {
        let m = m.as_object_mut().expect("mapping");
        for volatile in [
            "Metrics",
            "LastProcessingResult",
            "State",
            "StateTransitionReason",
        ] {
            m.remove(volatile);
        }
    }
    let schedules = eddy_ok(endpoint, &["schedule", "list"]);
    json!({ "tables": described, "functions": functions, "triggers": triggers, "schedules": schedules })
}

const APPLY_MANIFEST: &str = r#"
[[function]]
name = "applied"
lang = "rust"
tables = ["apply-users"]
environment = { GREETING = "hi" }

[[table]]
name = "apply-users"
partition_key = { name = "id", type = "S" }
sort_key = { name = "at", type = "N" }
stream = "NEW_AND_OLD_IMAGES"
global_indexes = [{ name = "by-email", partition_key = { name = "email", type = "S" } }]

[[table]]
name = "apply-audit"
partition_key = { name = "id", type = "S" }

[[trigger]]
function = "applied"
table = "apply-users"
batch_size = 10
starting_position = "TRIM_HORIZON"
report_batch_item_failures = true

[[schedule]]
name = "apply-nightly"
function = "applied"
cron = "0 0 3 * * *"
"#;

#[test]
fn apply_twice_makes_the_server_match_once_and_then_changes_nothing() {
    let server = Server::start();
    let e = server.endpoint.as_str();
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path().join("applied");
    new_rust(e, "applied", &dir);
    std::fs::write(dir.join("eddy.toml"), APPLY_MANIFEST).expect("manifest");
    let shown = dir.display().to_string();

    let first = run_ok(e, &["apply", &shown]);
    let lines: Vec<&str> = first.lines().collect();
    assert_eq!(lines.len(), 5, "{first}");
    assert_eq!(lines[0], "created table apply-users");
    assert_eq!(lines[1], "created table apply-audit");
    assert_eq!(lines[2], "deployed function applied version 1");
    assert!(
        lines[3].starts_with("created trigger applied on table apply-users ("),
        "{first}"
    );
    assert_eq!(lines[4], "created schedule apply-nightly");
    let users = ddb(e, "DescribeTable", json!({ "TableName": "apply-users" }))["Table"].clone();
    assert_eq!(
        users["KeySchema"][1],
        json!({ "AttributeName": "at", "KeyType": "RANGE" })
    );
    assert_eq!(
        users["StreamSpecification"]["StreamViewType"],
        "NEW_AND_OLD_IMAGES"
    );
    assert_eq!(users["GlobalSecondaryIndexes"][0]["IndexName"], "by-email");
    let function = eddy_ok(e, &["function", "show", "applied"]);
    assert_eq!(function["config"]["tables"], json!(["apply-users"]));
    assert_eq!(
        function["config"]["environment"],
        json!({ "GREETING": "hi" })
    );
    let mapping = &eddy_ok(e, &["trigger", "list"])["EventSourceMappings"][0];
    assert_eq!(mapping["BatchSize"], 10);
    assert_eq!(
        mapping["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );

    let before = server_state(e);
    let second = run_ok(e, &["apply", &format!("{shown}/eddy.toml")]);
    assert_eq!(second, "no changes\n");
    assert_eq!(server_state(e), before);

    // A changed field is updated in place, named, and nothing else moves.
    let changed = APPLY_MANIFEST.replace("batch_size = 10", "batch_size = 20");
    std::fs::write(dir.join("eddy.toml"), changed).expect("manifest");
    let third = run_ok(e, &["apply", &shown]);
    assert!(
        third.starts_with("updated trigger applied on table apply-users (")
            && third.ends_with("): BatchSize\n"),
        "{third}"
    );
    assert_eq!(third.lines().count(), 1, "{third}");
    assert_eq!(
        eddy_ok(e, &["trigger", "list"])["EventSourceMappings"][0]["BatchSize"],
        20
    );
    assert_eq!(eddy_ok(e, &["function", "show", "applied"])["version"], 1);
    assert_eq!(run_ok(e, &["apply", &shown]), "no changes\n");

    // A function deployed by someone else since is redeployed: the served version is
    // no longer the one built here.
    let wasm = dir.join("target/eddy/applied.wasm").display().to_string();
    eddy_ok(
        e,
        &[
            "function",
            "deploy",
            "applied",
            &wasm,
            "--table",
            "apply-users",
            "--env",
            "GREETING=hi",
        ],
    );
    assert_eq!(
        run_ok(e, &["apply", &shown]),
        "deployed function applied version 3\n"
    );
}

#[test]
fn apply_refuses_a_table_with_other_keys_before_changing_anything() {
    let server = Server::start();
    let e = server.endpoint.as_str();
    create_table(e, "keyed-users", false);
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path().join("keyed");
    new_rust(e, "keyed", &dir);
    std::fs::write(
        dir.join("eddy.toml"),
        r#"
[[function]]
name = "keyed"
lang = "rust"

[[table]]
name = "keyed-new"
partition_key = { name = "id", type = "S" }

[[table]]
name = "keyed-users"
partition_key = { name = "id", type = "N" }

[[schedule]]
name = "keyed-nightly"
function = "keyed"
cron = "0 0 3 * * *"
"#,
    )
    .expect("manifest");
    let out = run(e, &["apply", &dir.display().to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(
        text(&out.stderr),
        "eddy: table keyed-users exists with the key id (S), the manifest says id (N): Eddy \
         never drops a table; change the manifest, or delete the table yourself (nothing was \
         changed)\n"
    );
    assert_eq!(
        ddb(e, "ListTables", json!({}))["TableNames"],
        json!(["keyed-users"])
    );
    assert_eq!(eddy_ok(e, &["function", "list"])["functions"], json!([]));
    assert_eq!(eddy_ok(e, &["schedule", "list"])["Schedules"], json!([]));
    // Nothing was built either: the refusal came before any build.
    assert!(!dir.join("target").exists());
}

/// The lines a child prints on one of its pipes, collected by a thread.
fn collect(pipe: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(line);
        }
    });
    lines
}

fn seen(lines: &Arc<Mutex<Vec<String>>>, needle: &str) -> Result<String, String> {
    let lines = lines.lock().unwrap_or_else(PoisonError::into_inner);
    lines
        .iter()
        .find(|l| l.contains(needle))
        .cloned()
        .ok_or_else(|| {
            format!(
                "so far: {:?}",
                lines.iter().rev().take(5).collect::<Vec<_>>()
            )
        })
}

/// Kills the `eddy dev` child when the test ends, passed or not.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines a child printed so far, one stream.
type Lines = Arc<Mutex<Vec<String>>>;

/// Starts `eddy dev DIR` against `endpoint`: its stdout and stderr lines as they come,
/// and the child, killed when dropped.
fn start_dev(endpoint: &str, dir: &str) -> (Lines, Lines, Killed) {
    let mut child = eddy_cmd(endpoint, &["dev", dir])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start eddy dev");
    let stdout = collect(child.stdout.take().expect("stdout"));
    let stderr = collect(child.stderr.take().expect("stderr"));
    (stdout, stderr, Killed(child))
}

#[test]
fn dev_rebuilds_and_redeploys_a_saved_edit_and_prints_its_log_line() {
    let server = Server::start();
    let e = server.endpoint.as_str();
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path().join("watched");
    new_rust(e, "watched", &dir);
    create_table(e, "dev-users", true);

    let (stdout, stderr, _child) = start_dev(e, &dir.display().to_string());
    wait_for("the first deploy", BUILD_WAIT, || {
        seen(&stderr, "eddy: deployed watched version 1")
    });
    wait_for("watching", BUILD_WAIT, || seen(&stderr, "eddy: watching"));
    // What the build itself rewrote (cargo prunes the template's Cargo.lock) is not a
    // change: nothing is built again while nobody edits.
    std::thread::sleep(Duration::from_millis(1_500));
    assert!(
        seen(&stderr, "eddy: building watched").is_ok()
            && stderr
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .filter(|l| l.starts_with("eddy: building watched"))
                .count()
                == 1,
        "{:?}",
        stderr.lock().unwrap_or_else(PoisonError::into_inner)
    );
    eddy_ok(
        e,
        &[
            "trigger",
            "create",
            "--function",
            "watched",
            "--table",
            "dev-users",
            "--starting-position",
            "TRIM_HORIZON",
        ],
    );

    let source = dir.join("src/lib.rs");
    let code = std::fs::read_to_string(&source).expect("read lib.rs");
    std::fs::write(&source, code.replace("handled", "saw")).expect("edit lib.rs");
    wait_for("the edit's deploy", BUILD_WAIT, || {
        seen(&stderr, "eddy: deployed watched version 2")
    });
    put_item(e, "dev-users", "grace");
    let line = wait_for("the new version's log line on stdout", BUILD_WAIT, || {
        seen(&stdout, "watched saw INSERT ")
    });
    assert!(line.contains("[v2 #"), "{line}");

    // A build error is printed and the served version keeps serving.
    let before = stderr.lock().unwrap_or_else(PoisonError::into_inner).len();
    std::fs::write(&source, "this is not rust").expect("break lib.rs");
    wait_for("the build error", BUILD_WAIT, || {
        let lines = stderr.lock().unwrap_or_else(PoisonError::into_inner);
        let after = &lines[before..];
        match after
            .iter()
            .any(|l| l.contains("watched keeps serving its previous version"))
        {
            true => Ok(()),
            false => Err(format!("{after:?}")),
        }
    });
    assert_eq!(
        eddy_ok(e, &["function", "show", "watched"])["version"],
        2,
        "{:?}",
        stderr.lock().unwrap_or_else(PoisonError::into_inner)
    );

    // An edited manifest is read again: the fixed source deploys with the new grant.
    std::fs::write(&source, code.replace("handled", "saw")).expect("fix lib.rs");
    let manifest = std::fs::read_to_string(dir.join("eddy.toml")).expect("manifest");
    std::fs::write(
        dir.join("eddy.toml"),
        manifest.replace("tables = []", "tables = [\"dev-users\"]"),
    )
    .expect("edit eddy.toml");
    wait_for("the grant's deploy", BUILD_WAIT, || {
        seen(&stderr, "eddy: deployed watched version 3")
    });
    let shown = eddy_ok(e, &["function", "show", "watched"]);
    assert_eq!(shown["config"]["tables"], json!(["dev-users"]));
}

/// A build script with the contract's interface (`build.sh DIR HANDLER OUT`, with
/// `EDDY_SDK_DIR` and `EDDY_TOOLCHAIN_DIR`) that notes how it was called and "builds"
/// by copying a test guest: what the CLI hands the Python and JavaScript scripts, and
/// what it does with their output, without their toolchains (their own tests build
/// real components).
const RECORDING_BUILD_SH: &str = r#"#!/usr/bin/env bash
set -euo pipefail
printf '%s|%s|%s|%s|%s\n' "$1" "$2" "$3" "$EDDY_SDK_DIR" "$EDDY_TOOLCHAIN_DIR" >> "$EDDY_SDK_DIR/calls"
cp "$GUEST_WASM" "$3"
"#;

#[test]
fn a_python_project_is_built_by_the_sdks_script_with_the_contracts_arguments() {
    let server = Server::start();
    let e = server.endpoint.as_str();
    let temp = tempfile::tempdir().expect("temp dir");
    let sdk = temp.path().join("sdk");
    std::fs::create_dir_all(sdk.join("python")).expect("mkdir");
    std::fs::write(sdk.join("python/build.sh"), RECORDING_BUILD_SH).expect("script");
    let toolchains = temp.path().join("toolchains");
    let project = temp.path().join("py");
    std::fs::create_dir_all(&project).expect("mkdir");
    std::fs::write(
        project.join("app.py"),
        "def handler(event, ctx):\n    pass\n",
    )
    .expect("app");
    std::fs::write(
        project.join("eddy.toml"),
        "[[function]]\nname = \"py-one\"\nlang = \"python\"\nhandler = \"app.handler\"\n\
         tables = [\"py-seen\"]\n",
    )
    .expect("manifest");
    let deploy = || {
        eddy_cmd(e, &["function", "deploy", &project.display().to_string()])
            .env("EDDY_SDK_DIR", &sdk)
            .env("EDDY_TOOLCHAIN_DIR", &toolchains)
            .env("GUEST_WASM", crate::api::guest_path("noop"))
            .output()
            .expect("run eddy")
    };
    let calls = || {
        std::fs::read_to_string(sdk.join("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };

    let out = deploy();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "eddy: deployed py-one version 1\n");
    let call = calls();
    assert_eq!(call.len(), 1, "{call:?}");
    let fields: Vec<&str> = call[0].split('|').collect();
    assert_eq!(fields[0], project.display().to_string());
    assert_eq!(fields[1], "app.handler");
    let out_prefix = project
        .join("target/eddy/py-one.wasm.tmp-")
        .display()
        .to_string();
    assert!(fields[2].starts_with(&out_prefix), "{}", fields[2]);
    assert_eq!(fields[3], sdk.display().to_string());
    assert_eq!(fields[4], toolchains.display().to_string());
    let shown = eddy_ok(e, &["function", "show", "py-one"]);
    assert_eq!(shown["config"]["tables"], json!(["py-seen"]));
    assert_eq!(
        shown["wasm_bytes"],
        std::fs::metadata(crate::api::guest_path("noop"))
            .expect("guest")
            .len()
    );

    // Nothing changed: deployed again without a build. A saved source: built again.
    let out = deploy();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "eddy: deployed py-one version 2\n");
    assert_eq!(calls().len(), 1);
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(
        project.join("app.py"),
        "def handler(event, ctx):\n    return None\n",
    )
    .expect("edit");
    assert!(deploy().status.success());
    assert_eq!(calls().len(), 2);

    // An SDK directory without the language's script is a clear error.
    let empty = temp.path().join("empty-sdk");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let out = eddy_cmd(e, &["function", "build", &project.display().to_string()])
        .env("EDDY_SDK_DIR", &empty)
        .env("EDDY_TOOLCHAIN_DIR", &toolchains)
        .output()
        .expect("run eddy");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).ends_with(&format!(
            "eddy: function py-one: no python build script at {}: this eddy (or \
             EDDY_SDK_DIR) has no python toolchain\n",
            empty.join("python/build.sh").display()
        )),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn apply_signs_its_dynamodb_and_v1_requests_for_a_server_that_verifies_them() {
    let data = tempfile::tempdir().expect("temp dir");
    let (id, secret) = ("EDDYROOTAPPLY0000000", "apply-root-secret");
    let server = Server::start_with_env(
        data.path(),
        "127.0.0.1:0",
        &["--auth", "sigv4"],
        &[
            ("EDDY_ROOT_ACCESS_KEY_ID", id),
            ("EDDY_ROOT_SECRET_ACCESS_KEY", secret),
        ],
    );
    let e = server.endpoint.as_str();
    let temp = tempfile::tempdir().expect("temp dir");
    let manifest = temp.path().join("eddy.toml");
    std::fs::write(
        &manifest,
        "[[table]]\nname = \"signed-users\"\npartition_key = { name = \"id\", type = \"S\" }\n\
         stream = \"NEW_IMAGE\"\n",
    )
    .expect("manifest");
    let shown = manifest.display().to_string();
    let apply = |keys: bool| {
        let mut command = eddy_cmd(e, &["apply", &shown]);
        command
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN");
        if keys {
            command
                .env("AWS_ACCESS_KEY_ID", id)
                .env("AWS_SECRET_ACCESS_KEY", secret);
        }
        command.output().expect("run eddy")
    };
    // Unsigned: refused, and said so (DynamoDB's own error type and message).
    let out = apply(false);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with(
            "eddy: describing table signed-users: MissingAuthenticationTokenException: "
        ),
        "{err}"
    );
    // Signed: created, then nothing to do.
    let out = apply(true);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "created table signed-users\n");
    let out = apply(true);
    assert_eq!(text(&out.stdout), "no changes\n");
}

/// The newcomer's path in Python, as the template's README tells it: `eddy function new`,
/// then one command, `eddy dev`, which creates the template's table and trigger and
/// deploys the function; a write to the table runs the handler, whose log line `eddy dev`
/// prints. The time from `new` to that line is printed for the notes (not asserted).
#[test]
fn a_newcomer_runs_eddy_dev_on_a_new_python_function_and_a_write_is_handled() {
    // The toolchain tests/run.sh installed, or a clear failure.
    crate::function_python::toolchain_dir();
    let server = Server::start();
    let e = server.endpoint.as_str();
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path().join("hello");
    let shown = dir.display().to_string();
    let started = Instant::now();
    run_ok(
        e,
        &[
            "function", "new", "hello", "--lang", "python", "--dir", &shown,
        ],
    );
    let (stdout, stderr, _child) = start_dev(e, &shown);
    wait_for("eddy dev to deploy and watch", BUILD_WAIT, || {
        seen(&stderr, "eddy: watching")
    });
    seen(&stdout, "created table hello-items").expect("the template's table");
    seen(&stdout, "created trigger").expect("the template's trigger");
    seen(&stderr, "eddy: deployed hello version 1").expect("the function");

    put_item(e, "hello-items", "ada");
    let line = wait_for("the handled write in eddy dev's output", BUILD_WAIT, || {
        seen(&stdout, "] INSERT keys=")
    });
    eprintln!(
        "newcomer path (Python, debug server): `eddy function new` to the first handled \
         record ({line:?}) took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
