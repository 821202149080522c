//! Python functions end to end: a handler written against the `eddy` SDK
//! (functions/python), built by functions/python/build.sh with componentize-py and
//! deployed to the real server, sees a table's INSERT, MODIFY and REMOVE records with
//! native images, writes a derived table through `ctx.dynamodb`, reports a partial batch
//! failure that Eddy retries from that record, reaches a granted host (and only that)
//! through `ctx.http`, and an exception in it is a function error in the trigger's
//! RecentErrors. Also runs the SDK's CPython unit tests
//! (tests/python/test_eddy_sdk.py).
//!
//! Needs the Python toolchain in `$EDDY_TOOLCHAIN_DIR` (tests/run.sh installs it with
//! functions/python/install.sh) and `$EDDY_TEST_PYTHON`; without them the tests fail and
//! say so.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};

use crate::api::{WAIT, create_table, create_trigger, ddb, logs, send_json, trigger, wait_for};
use crate::harness::Server;

/// The toolchain directory install.sh creates (its pinned componentize-py version).
const TOOLCHAIN_NAME: &str = "python-componentize-py-0.25.1";

/// How long the first invocations may take: a debug server compiles the ~19 MB
/// component at deploy time, but the first call still instantiates an interpreter.
const FIRST_RESULT_WITHIN: Duration = Duration::from_secs(60);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared toolchain cache, which must hold the Python toolchain.
pub(crate) fn toolchain_dir() -> PathBuf {
    let dir = std::env::var_os("EDDY_TOOLCHAIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!(
                "EDDY_TOOLCHAIN_DIR is not set: run the suite with ./tests/run.sh, which installs \
             the Python toolchain (functions/python/install.sh) into target/toolchains"
            )
        });
    let marker = dir.join(TOOLCHAIN_NAME).join(".installed");
    assert!(
        marker.is_file(),
        "the Python toolchain is missing from {}: run `EDDY_TOOLCHAIN_DIR={} bash \
         functions/python/install.sh` (tests/run.sh does)",
        dir.display(),
        dir.display()
    );
    dir
}

/// Makes a project as a user does, `eddy function new NAME --lang python`, puts the
/// test's handler in its `app.py` and `manifest` in its `eddy.toml`, and deploys it with
/// `eddy function deploy DIR`: the CLI builds it with the SDK's `build.sh` (the toolchain
/// tests/run.sh installed) and deploys it with the manifest's grants.
fn new_and_deploy(server: &Server, parent: &Path, name: &str, manifest: &str) {
    // The toolchain must be the one tests/run.sh installed: a CLI left to its default
    // cache would download its own, and hide a missing install step.
    toolchain_dir();
    let dir = parent.join(name);
    let eddy = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .args(args)
            .output()
            .expect("run eddy");
        assert!(
            output.status.success(),
            "eddy {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let shown = dir.to_str().expect("utf-8 path");
    eddy(&["function", "new", name, "--lang", "python", "--dir", shown]);
    write_project(&dir);
    std::fs::write(dir.join("eddy.toml"), manifest).expect("write eddy.toml");
    eddy(&["function", "deploy", shown, "--endpoint", &server.endpoint]);
}

/// The handler under test. Per record it logs what it saw (with the Python types of the
/// decoded images), mirrors the item into the derived table (put on INSERT/MODIFY, delete
/// on REMOVE), fails an item marked `fail_once` the first time it sees it (leaving a
/// marker so that the retry succeeds), and raises on an item marked `explode`. It imports
/// a module inside the handler, which works only if build.sh imported it at build time.
const HANDLER: &str = r#"
import json
import eddy


def type_names(image):
    return " ".join("%s=%s" % (k, type(v).__name__) for k, v in sorted((image or {}).items()))


def handler(event, ctx):
    # Imported inside the handler: build.sh must have put it in the component's snapshot.
    import fractions

    # Invoked directly with {"url": ...}: fetch it through ctx.http and return what came.
    if event.get("url"):
        fetched = ctx.http.get(event["url"], headers={"x-from": "python"})
        return {"status": fetched.status, "body": fetched.text(),
                "type": fetched.header("Content-Type")}

    derived = ctx.config.get("DERIVED")
    response = eddy.BatchResponse()
    for record in event.records:
        key = record.keys["id"]
        ctx.log.info("seen", event=record.event_name, id=key, seq=record.sequence_number,
                     new_types=type_names(record.new_image), old_types=type_names(record.old_image))
        new = record.new_image
        if new and new.get("explode"):
            raise RuntimeError("exploding on " + key)
        if new and new.get("fail_once") and record.event_name == "INSERT":
            if ctx.dynamodb.get(derived, {"id": "marker-" + key}, consistent=True) is None:
                ctx.dynamodb.put(derived, {"id": "marker-" + key})
                response.fail(record)
                continue
        if record.event_name == "REMOVE":
            ctx.dynamodb.delete(derived, record.keys)
            continue
        item = dict(new)
        item["last_event"] = record.event_name
        item["third"] = str(fractions.Fraction(1, 3))
        if record.old_image:
            item["old_n"] = record.old_image["n"]
        if isinstance(new.get("n"), int):
            item["n_plus_one"] = new["n"] + 1
        if "price" in new:
            item["price_twice"] = new["price"] * 2
        ctx.dynamodb.put(derived, item)
        try:
            ctx.dynamodb.get("not-granted", {"id": key})
        except eddy.DynamoDBError as err:
            ctx.log.info("denied", code=err.code)
    return response
"#;

/// A one-thread HTTP/1.1 server on 127.0.0.1 that answers every request with `200 hello`
/// and keeps the request heads it got.
fn serve() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            seen.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(head);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello"
            );
        }
    });
    (addr, heads)
}

/// Invokes `function` once with `event`; returns the invocation's output.
fn invoke(endpoint: &str, function: &str, event: &Value) -> Value {
    send_json(
        endpoint,
        "POST",
        &format!("/v1/functions/{function}/invoke"),
        event,
    )
    .expect(200)
}

fn write_project(dir: &Path) {
    std::fs::write(dir.join("app.py"), HANDLER).expect("write app.py");
}

fn item(endpoint: &str, table: &str, id: &str) -> Value {
    ddb(
        endpoint,
        "GetItem",
        json!({"TableName": table, "Key": {"id": {"S": id}}, "ConsistentRead": true}),
    )["Item"]
        .clone()
}

/// (event, id) of each `seen` log line, oldest first.
fn seen(endpoint: &str) -> Vec<(String, String)> {
    logs(endpoint, "pyview", "seen")
        .iter()
        .map(|l| {
            (
                l["fields"]["event"].as_str().unwrap_or_default().to_owned(),
                l["fields"]["id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The sequence number the handler logged for its `index`th `seen` record.
fn lines_seq(endpoint: &str, index: usize) -> Value {
    logs(endpoint, "pyview", "seen")[index]["fields"]["seq"].clone()
}

#[test]
fn the_python_sdk_unit_tests_pass_on_cpython() {
    let python = std::env::var("EDDY_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("EDDY_TEST_PYTHON is not set: run the suite with ./tests/run.sh")
    });
    let out = Command::new(python)
        .arg(repo().join("tests/python/test_eddy_sdk.py"))
        .output()
        .expect("run test_eddy_sdk.py");
    assert!(
        out.status.success(),
        "test_eddy_sdk.py failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_python_handler_sees_native_images_writes_a_derived_table_retries_from_a_failed_record_and_reports_exceptions()
 {
    let server = Server::start();
    let e = &server.endpoint;
    create_table(e, "py-source", true);
    create_table(e, "py-derived", false);
    create_table(e, "py-explode", true);
    let (web, heads) = serve();
    let granted = web.to_string();
    let project = tempfile::tempdir().expect("temp dir");
    new_and_deploy(
        &server,
        project.path(),
        "pyview",
        &format!(
            "[[function]]\nname = \"pyview\"\nlang = \"python\"\nhandler = \"app.handler\"\n\
             timeout_ms = 30000\nhosts = [\"{granted}\"]\ntables = [\"py-derived\"]\n\
             environment = {{ DERIVED = \"py-derived\" }}\n"
        ),
    );

    // Five records written before the trigger starts at TRIM_HORIZON: one batch.
    let a = json!({
        "id": {"S": "a"}, "n": {"N": "41"}, "price": {"N": "1.25"},
        "tags": {"SS": ["x", "y"]}, "blob": {"B": "AAEC"}, "flag": {"BOOL": true},
        "nothing": {"NULL": true},
        "nested": {"M": {"l": {"L": [{"N": "1"}, {"S": "two"}, {"NS": ["3", "4.5"]}]}}},
    });
    ddb(e, "PutItem", json!({"TableName": "py-source", "Item": a}));
    ddb(
        e,
        "PutItem",
        json!({"TableName": "py-source", "Item": {"id": {"S": "b"}, "fail_once": {"BOOL": true}}}),
    );
    ddb(
        e,
        "PutItem",
        json!({"TableName": "py-source", "Item": {"id": {"S": "c"}}}),
    );
    ddb(
        e,
        "UpdateItem",
        json!({"TableName": "py-source", "Key": {"id": {"S": "a"}},
               "UpdateExpression": "SET n = :n", "ExpressionAttributeValues": {":n": {"N": "42"}}}),
    );
    ddb(
        e,
        "DeleteItem",
        json!({"TableName": "py-source", "Key": {"id": {"S": "c"}}}),
    );
    let id = create_trigger(
        e,
        json!({
            "FunctionName": "pyview", "TableName": "py-source",
            "StartingPosition": "TRIM_HORIZON", "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        }),
    )["UUID"]
        .as_str()
        .expect("UUID")
        .to_owned();

    // The first invocation sees all five; b fails, so the second starts again at b.
    let first = [
        ("INSERT", "a"),
        ("INSERT", "b"),
        ("INSERT", "c"),
        ("MODIFY", "a"),
        ("REMOVE", "c"),
    ];
    let retry = [
        ("INSERT", "b"),
        ("INSERT", "c"),
        ("MODIFY", "a"),
        ("REMOVE", "c"),
    ];
    let want: Vec<(String, String)> = first
        .iter()
        .chain(retry.iter())
        .map(|(ev, id)| ((*ev).to_owned(), (*id).to_owned()))
        .collect();
    wait_for("both invocations of the batch", FIRST_RESULT_WITHIN, || {
        let got = seen(e);
        if got.len() >= want.len() {
            Ok(())
        } else {
            Err(format!("seen so far: {got:?}"))
        }
    });
    assert_eq!(seen(e), want, "the retry starts at the failed record");
    // Eddy shows the partial failure, from b's record on, in RecentErrors.
    let shown = trigger(e, &id);
    let partial = &shown["RecentErrors"][0];
    assert_eq!(partial["Kind"], "FunctionError", "{shown}");
    assert_eq!(
        partial["Error"], "the function reported these records failed (batchItemFailures)",
        "{shown}"
    );
    assert_eq!(partial["FirstSequenceNumber"], lines_seq(e, 1), "{shown}");

    // The images arrived as native Python values.
    let lines = logs(e, "pyview", "seen");
    assert_eq!(
        lines[0]["fields"]["new_types"],
        "blob=bytes flag=bool id=str n=int nested=dict nothing=NoneType price=Decimal tags=set",
        "{}",
        lines[0]
    );
    assert_eq!(lines[0]["fields"]["old_types"], "", "{}", lines[0]);
    assert_eq!(
        lines[3]["fields"]["old_types"]
            .as_str()
            .map(|t| t.contains("n=int")),
        Some(true)
    );
    assert_eq!(
        lines[4]["fields"]["new_types"], "",
        "REMOVE has no new image"
    );
    let denied = logs(e, "pyview", "denied");
    assert_eq!(
        denied[0]["fields"]["code"], "AccessDeniedException",
        "{denied:?}"
    );

    // The derived table: a mirrors the source after MODIFY (native values encoded back
    // exactly), b was written on the retry, c was removed.
    let derived_a = item(e, "py-derived", "a");
    for attr in ["id", "price", "tags", "blob", "flag", "nothing", "nested"] {
        assert_eq!(derived_a[attr], a[attr], "{attr} in {derived_a}");
    }
    assert_eq!(derived_a["n"], json!({"N": "42"}));
    assert_eq!(derived_a["old_n"], json!({"N": "41"}));
    assert_eq!(derived_a["n_plus_one"], json!({"N": "43"}));
    // Decimal("2.50"); Eddy, like DynamoDB, drops the trailing zero.
    assert_eq!(derived_a["price_twice"], json!({"N": "2.5"}));
    assert_eq!(derived_a["last_event"], json!({"S": "MODIFY"}));
    assert_eq!(
        derived_a["third"],
        json!({"S": "1/3"}),
        "an import inside the handler"
    );
    assert_eq!(
        item(e, "py-derived", "b")["last_event"],
        json!({"S": "INSERT"})
    );
    assert_eq!(item(e, "py-derived", "c"), Value::Null);

    // Outbound HTTP through ctx.http reaches a granted host ...
    let out = invoke(
        e,
        "pyview",
        &json!({"url": format!("http://{web}/hello?x=1")}),
    );
    assert_eq!(out["error"], Value::Null, "{out}");
    let result: Value = match &out["result"] {
        Value::String(text) => serde_json::from_str(text).expect("the result is JSON"),
        other => other.clone(),
    };
    assert_eq!(
        result,
        json!({"status": 200, "body": "hello", "type": "text/plain"}),
        "{out}"
    );
    let head = heads.lock().unwrap_or_else(PoisonError::into_inner)[0].clone();
    assert!(head.starts_with("GET /hello?x=1 HTTP/1.1\r\n"), "{head}");
    assert!(head.to_lowercase().contains("x-from: python"), "{head}");
    // ... and is denied, as a function error naming wasi:http's code, for any other.
    let ungranted = TcpListener::bind("127.0.0.1:0").expect("bind");
    let other = ungranted.local_addr().expect("addr");
    let out = invoke(e, "pyview", &json!({"url": format!("http://{other}/")}));
    assert!(
        out["error"]
            .to_string()
            .contains("HttpError: HttpRequestDenied"),
        "{out}"
    );

    // An exception is the invocation's function error, shown in RecentErrors.
    let boom = create_trigger(
        e,
        json!({
            "FunctionName": "pyview", "TableName": "py-explode",
            "StartingPosition": "TRIM_HORIZON", "BatchSize": 10, "MaximumRetryAttempts": 0,
        }),
    )["UUID"]
        .as_str()
        .expect("UUID")
        .to_owned();
    ddb(
        e,
        "PutItem",
        json!({"TableName": "py-explode", "Item": {"id": {"S": "boom"}, "explode": {"BOOL": true}}}),
    );
    let error = wait_for("the exception in RecentErrors", WAIT, || {
        let shown = trigger(e, &boom);
        shown["RecentErrors"]
            .as_array()
            .and_then(|errors| errors.first().cloned())
            .ok_or_else(|| shown.to_string())
    });
    assert_eq!(error["Kind"], "FunctionError", "{error}");
    let text = error["Error"].as_str().unwrap_or_default();
    assert!(
        text.contains("RuntimeError: exploding on boom (at app.py:"),
        "{error}"
    );
}

/// Runs build.sh on `project` with `handler` into `out`; returns (success, stderr).
fn build(project: &Path, handler: &str, out: &Path) -> (bool, String) {
    let built = Command::new("bash")
        .arg(repo().join("functions/python/build.sh"))
        .arg(project)
        .arg(handler)
        .arg(out)
        .env("EDDY_SDK_DIR", repo().join("functions"))
        .env("EDDY_TOOLCHAIN_DIR", toolchain_dir())
        .output()
        .expect("run build.sh");
    (
        built.status.success(),
        String::from_utf8_lossy(&built.stderr).into_owned(),
    )
}

#[test]
fn the_python_template_and_a_project_with_requirements_build_and_build_errors_say_what_is_wrong() {
    let out_dir = tempfile::tempdir().expect("temp dir");
    // The template as `eddy function new` copies it (its `{{name}}` placeholders are in
    // comments and strings only) builds into a component.
    let wasm = out_dir.path().join("template.wasm");
    let (ok, stderr) = build(
        &repo().join("functions/templates/python"),
        "app.handler",
        &wasm,
    );
    assert!(ok, "the template does not build: {stderr}");
    let bytes = std::fs::read(&wasm).expect("the built component");
    assert_eq!(&bytes[..4], b"\0asm", "not WebAssembly");

    // A requirements.txt of pure-Python wheels is installed into the build (not into the
    // project) and importable: app.py imports it at build time, inside the component's
    // interpreter, so a missing package would fail the build.
    let with_deps = tempfile::tempdir().expect("temp dir");
    std::fs::write(with_deps.path().join("requirements.txt"), "six==1.16.0\n")
        .expect("write requirements.txt");
    std::fs::write(
        with_deps.path().join("app.py"),
        "import six\n\ndef handler(event, ctx):\n    return {\"six\": six.__version__}\n",
    )
    .expect("write app.py");
    let (ok, stderr) = build(
        with_deps.path(),
        "app.handler",
        &out_dir.path().join("deps.wasm"),
    );
    assert!(
        ok,
        "a project with requirements.txt does not build: {stderr}"
    );
    let mut files: Vec<_> = std::fs::read_dir(with_deps.path())
        .expect("list the project")
        .map(|f| f.expect("entry").file_name())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["app.py", "requirements.txt"],
        "build.sh wrote into the project"
    );

    // A handler that is not module.function is refused before anything is built.
    let none = out_dir.path().join("none.wasm");
    let (ok, stderr) = build(&repo().join("functions/templates/python"), "handler", &none);
    assert!(!ok);
    assert!(
        stderr.contains("eddy: python build: handler 'handler' is not of the form module.function"),
        "{stderr}"
    );
    let (ok, stderr) = build(
        &repo().join("functions/templates/python"),
        "main.handler",
        &none,
    );
    assert!(!ok);
    assert!(stderr.contains("handler 'main.handler': no "), "{stderr}");

    // A syntax error shows Python's own message, and no component is written.
    let broken = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        broken.path().join("app.py"),
        "def handler(event, ctx):\n    return (\n",
    )
    .expect("write app.py");
    let (ok, stderr) = build(broken.path(), "app.handler", &none);
    assert!(!ok);
    assert!(
        stderr.contains("SyntaxError: '(' was never closed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("componentize-py failed to build"),
        "{stderr}"
    );
    assert!(!none.exists(), "a failed build left {}", none.display());
}
