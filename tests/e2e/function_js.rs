//! JavaScript functions end to end: a handler written against the `eddy` JS SDK
//! (`functions/js/`), built by `functions/js/build.sh` (esbuild + componentize-js, the
//! toolchain installed by `install.sh` into `$EDDY_TOOLCHAIN_DIR`), deployed to the real
//! binary and driven by table writes. Also runs the SDK's own unit tests under Node.
//!
//! Needs `node` and `EDDY_TOOLCHAIN_DIR` (tests/run.sh sets it and installs the toolchain
//! first); without them these tests fail with a message saying so, never skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::api::{WAIT, create_table, create_trigger, ddb, eddy_ok, logs, trigger, wait_for};
use crate::harness::{Server, table_name};

/// The handler the tests deploy. It records every record it sees (log line `seen`),
/// writes a derived item per record into the table named by its `DERIVED` setting
/// (`<eventName>:<id>` holding the decoded images and each attribute's JS type), fails a
/// record whose image has `flaky` on its first attempt only (counted in the derived
/// table with `ctx.dynamodb.call`), and throws on a record whose image has `explode`.
/// A scheduled event runs the SDK's table helpers and capability errors instead and
/// logs what they returned (log line `helpers`, field `result`).
const HANDLER_JS: &str = r#"
import { BatchResponse, CapabilityError, Decimal, DynamoDBError } from 'eddy';

function helpers(ctx, table) {
  const db = ctx.dynamodb;
  const out = {};
  db.put(table, { id: 'h', n: 1, tags: new Set(['x']) });
  out.updated = db.update(table, { id: 'h' }, { n: 2, tags: undefined, extra: 'e' });
  out.got = db.get(table, { id: 'h' });
  out.missing = db.get(table, { id: 'no-such-item' });
  out.queried = db.query(table, { id: 'h' });
  out.deleted = db.delete(table, { id: 'h' });
  out.afterDelete = db.get(table, { id: 'h' });
  try {
    db.call('PutItem', {
      TableName: table,
      Item: { id: { S: 'h' } },
      ConditionExpression: 'attribute_exists(id)',
    });
  } catch (e) {
    out.conditional = [e instanceof DynamoDBError, e.code, e.message];
  }
  try {
    db.get('not-granted', { id: 'h' });
  } catch (e) {
    out.notGranted = [e instanceof DynamoDBError, e.code];
  }
  try {
    ctx.search.query('no-index', 'x');
  } catch (e) {
    out.search = [e instanceof CapabilityError, e.kind];
  }
  try {
    ctx.email.send({ from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't' });
  } catch (e) {
    out.email = [e instanceof CapabilityError, e.kind];
  }
  out.config = [ctx.config.get('DERIVED') === table, ctx.config.get('NOT_SET') ?? 'unset'];
  return out;
}

function kind(value) {
  if (value === null) return 'null';
  if (value instanceof Set) return 'Set';
  if (value instanceof Uint8Array) return 'Uint8Array';
  if (value instanceof Decimal) return 'Decimal';
  if (Array.isArray(value)) return 'Array';
  return typeof value;
}

export async function handler(event, ctx) {
  const derived = ctx.config.get('DERIVED');
  if (event.isScheduled) {
    ctx.log.info('helpers', { result: helpers(ctx, derived) });
    return;
  }
  const response = new BatchResponse();
  for (const record of event.records) {
    const id = record.keys.id;
    ctx.log.info('seen', { id, event: record.eventName, sequence: record.sequenceNumber });
    const image = record.newImage ?? record.oldImage;
    if (image.explode) {
      throw new Error(`exploding on ${id}`);
    }
    if (image.flaky) {
      const { Attributes } = ctx.dynamodb.call('UpdateItem', {
        TableName: derived,
        Key: { id: { S: `attempts:${id}` } },
        UpdateExpression: 'ADD n :one',
        ExpressionAttributeValues: { ':one': { N: '1' } },
        ReturnValues: 'UPDATED_NEW',
      });
      if (Attributes.n.N === '1') {
        response.fail(record);
        break;
      }
    }
    const types = Object.fromEntries(Object.entries(image).map(([k, v]) => [k, kind(v)]));
    ctx.dynamodb.put(derived, {
      id: `${record.eventName}:${id}`,
      new: record.newImage ?? undefined,
      old: record.oldImage ?? undefined,
      types,
    });
  }
  return response;
}
"#;

/// The toolchain cache, which the suite's runner must name.
fn toolchain_dir() -> PathBuf {
    std::env::var_os("EDDY_TOOLCHAIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!(
                "EDDY_TOOLCHAIN_DIR is not set: run the suite with ./tests/run.sh, which \
                 installs the JavaScript toolchain (functions/js/install.sh) there"
            )
        })
}

/// The SDK directory the build scripts get: the repository's `functions/`.
fn sdk_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("functions")
}

/// Runs `functions/js/build.sh PROJECT HANDLER OUT`; returns its exit status and stderr.
fn build(project_dir: &Path, handler: &str, out: &Path) -> (bool, String) {
    let output = Command::new("bash")
        .arg(sdk_dir().join("js/build.sh"))
        .arg(project_dir)
        .arg(handler)
        .arg(out)
        .env("EDDY_TOOLCHAIN_DIR", toolchain_dir())
        .env("EDDY_SDK_DIR", sdk_dir())
        .output()
        .expect("run bash functions/js/build.sh");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A project directory holding `handler.js` with `source`.
fn project(source: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("handler.js"), source).expect("write handler.js");
    dir
}

/// A project made as a user makes one, `eddy function new NAME --lang js`, with its
/// handler replaced by `source`.
fn new_project(name: &str, source: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let parent = tempfile::tempdir().expect("temp dir");
    let dir = parent.path().join(name);
    let output = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["function", "new", name, "--lang", "js", "--dir"])
        .arg(&dir)
        .output()
        .expect("run eddy function new");
    assert!(
        output.status.success(),
        "eddy function new failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::write(dir.join("handler.js"), source).expect("write handler.js");
    (parent, dir)
}

/// Deploys the project in `project_dir` as a user does: `eddy function deploy DIR`
/// builds it (the SDK's `build.sh`, the toolchain from `EDDY_TOOLCHAIN_DIR`) and deploys
/// it with the grants of its `eddy.toml`.
fn build_and_deploy(server: &Server, project_dir: &Path) {
    // The toolchain must be the one tests/run.sh installed: a CLI left to its default
    // cache would download its own, and hide a missing install step.
    toolchain_dir();
    let dir = project_dir.to_str().expect("utf-8 path");
    let output = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["function", "deploy", dir, "--endpoint", &server.endpoint])
        .output()
        .expect("run eddy function deploy");
    assert!(
        output.status.success(),
        "eddy function deploy {dir} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn get_item(endpoint: &str, table: &str, id: &str) -> Option<Value> {
    let out = ddb(
        endpoint,
        "GetItem",
        json!({"TableName": table, "Key": {"id": {"S": id}}, "ConsistentRead": true}),
    );
    out.get("Item").cloned()
}

fn wait_item(endpoint: &str, table: &str, id: &str) -> Value {
    wait_for(&format!("{id} in {table}"), WAIT, || {
        get_item(endpoint, table, id).ok_or_else(String::new)
    })
}

/// `(id, invocation)` of the function's `seen` log lines for the ids in `ids`, oldest first.
fn seen(endpoint: &str, function: &str, ids: &[&str]) -> Vec<(String, u64)> {
    logs(endpoint, function, "seen")
        .iter()
        .filter_map(|line| {
            let id = line["fields"]["id"].as_str()?;
            ids.contains(&id).then(|| {
                (
                    id.to_owned(),
                    line["invocation"].as_u64().expect("invocation"),
                )
            })
        })
        .collect()
}

#[test]
fn the_js_sdk_unit_tests_pass_under_node() {
    let output = Command::new("node")
        .arg("--test")
        // The file itself, not the directory: newer Node versions read the arguments of
        // --test as glob patterns of files.
        .arg(sdk_dir().join("js/test/codec.test.mjs"))
        .output()
        .unwrap_or_else(|e| panic!("node is needed for the JavaScript SDK's tests: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "node --test functions/js/test/codec.test.mjs failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // A run that found no test file would also exit 0.
    assert!(stdout.contains("# fail 0"), "{stdout}");
    assert!(!stdout.contains("# pass 0"), "{stdout}");
}

// One test, one deployment: deploying a 12 MB JavaScript component compiles it, which
// takes 15-30 s even with the compiler's crates optimized in the debug build, so the
// behaviours share it (each through its
// own table and trigger).
#[test]
fn a_js_handler_gets_native_images_retries_partially_throws_and_calls_the_host_helpers() {
    let server = Server::start();
    let e = &server.endpoint;
    let source = table_name("jssrc");
    let flaky = table_name("jsflaky");
    let throws = table_name("jsthrow");
    let derived = table_name("jsderived");
    create_table(e, &source, true);
    create_table(e, &flaky, true);
    create_table(e, &throws, true);
    create_table(e, &derived, false);
    let (_project, project) = new_project("js-view", HANDLER_JS);
    std::fs::write(
        project.join("eddy.toml"),
        format!(
            "[[function]]\nname = \"js-view\"\nlang = \"js\"\nhandler = \"handler.handler\"\n\
             tables = [\"{derived}\"]\nenvironment = {{ DERIVED = \"{derived}\" }}\n"
        ),
    )
    .expect("write eddy.toml");
    build_and_deploy(&server, &project);

    // INSERT, MODIFY and REMOVE of one item holding every DynamoDB type.
    let item = json!({
        "id": {"S": "x"},
        "small": {"N": "42"},
        "big": {"N": "12345678901234567890"},
        "exact": {"N": "0.25"},
        "precise": {"N": "3.14159265358979323846264338327950288"},
        "yes": {"BOOL": true},
        "nothing": {"NULL": true},
        "bytes": {"B": "aGVsbG8="},
        "tags": {"SS": ["a", "b"]},
        "nums": {"NS": ["1", "2"]},
        "blobs": {"BS": ["AQ=="]},
        "list": {"L": [{"S": "one"}, {"N": "2"}]},
        "map": {"M": {"inner": {"S": "v"}}},
    });
    ddb(e, "PutItem", json!({"TableName": source, "Item": item}));
    ddb(
        e,
        "UpdateItem",
        json!({"TableName": source, "Key": {"id": {"S": "x"}},
               "UpdateExpression": "SET small = :n", "ExpressionAttributeValues": {":n": {"N": "43"}}}),
    );
    let stored = get_item(e, &source, "x").expect("the modified item");
    ddb(
        e,
        "DeleteItem",
        json!({"TableName": source, "Key": {"id": {"S": "x"}}}),
    );
    create_trigger(
        e,
        json!({"FunctionName": "js-view", "TableName": source, "StartingPosition": "TRIM_HORIZON"}),
    );

    let inserted = wait_item(e, &derived, "INSERT:x");
    let modified = wait_item(e, &derived, "MODIFY:x");
    let removed = wait_item(e, &derived, "REMOVE:x");
    // The images went to native values and back unchanged (as Eddy stores them).
    assert_eq!(inserted["new"]["M"], item, "{inserted}");
    assert!(inserted.get("old").is_none(), "{inserted}");
    assert_eq!(modified["new"]["M"], stored, "{modified}");
    assert_eq!(modified["old"]["M"], item, "{modified}");
    assert_eq!(removed["old"]["M"], stored, "{removed}");
    assert!(removed.get("new").is_none(), "{removed}");
    // Each DynamoDB type reached the handler as the documented JS type.
    let types: Value = serde_json::from_value(inserted["types"]["M"].clone()).expect("types");
    let expected = [
        ("id", "string"),
        ("small", "number"),
        ("big", "bigint"),
        ("exact", "number"),
        ("precise", "Decimal"),
        ("yes", "boolean"),
        ("nothing", "null"),
        ("bytes", "Uint8Array"),
        ("tags", "Set"),
        ("nums", "Set"),
        ("blobs", "Set"),
        ("list", "Array"),
        ("map", "object"),
    ];
    for (name, js_type) in expected {
        assert_eq!(types[name], json!({"S": js_type}), "{name}: {types}");
    }

    // A partial batch failure: three records in one batch, the middle one fails on its
    // first attempt; Eddy checkpoints the first and retries from the failed one.
    for (id, flaky_flag) in [("fa", false), ("fb", true), ("fc", false)] {
        ddb(
            e,
            "PutItem",
            json!({"TableName": flaky, "Item": {"id": {"S": id}, "flaky": {"BOOL": flaky_flag}}}),
        );
    }
    create_trigger(
        e,
        json!({"FunctionName": "js-view", "TableName": flaky, "StartingPosition": "TRIM_HORIZON",
               "BatchSize": 10, "FunctionResponseTypes": ["ReportBatchItemFailures"]}),
    );
    for id in ["INSERT:fa", "INSERT:fb", "INSERT:fc"] {
        wait_item(e, &derived, id);
    }
    let attempts = get_item(e, &derived, "attempts:fb").expect("the attempts counter");
    assert_eq!(attempts["n"], json!({"N": "2"}), "{attempts}");
    let order = seen(e, "js-view", &["fa", "fb", "fc"]);
    let ids: Vec<&str> = order.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["fa", "fb", "fb", "fc"], "{order:?}");
    assert_eq!(
        order[0].1, order[1].1,
        "fa and fb came in one batch: {order:?}"
    );
    assert!(
        order[2].1 > order[1].1 && order[2].1 == order[3].1,
        "the retry is a new invocation starting at fb: {order:?}"
    );

    // A thrown error is Lambda's function error: the trigger's RecentErrors show its
    // name and message, and the record's derived item is never written.
    ddb(
        e,
        "PutItem",
        json!({"TableName": throws, "Item": {"id": {"S": "boom"}, "explode": {"BOOL": true}}}),
    );
    let created = create_trigger(
        e,
        json!({"FunctionName": "js-view", "TableName": throws, "StartingPosition": "TRIM_HORIZON",
               "MaximumRetryAttempts": 0}),
    );
    let id = created["UUID"].as_str().expect("UUID");
    let first = wait_for("the thrown error in RecentErrors", WAIT, || {
        let shown = trigger(e, id);
        shown["RecentErrors"]
            .as_array()
            .and_then(|errors| errors.first().cloned())
            .ok_or_else(|| shown.to_string())
    });
    assert_eq!(first["Kind"], "FunctionError", "{first}");
    let text = first["Error"].as_str().unwrap_or_default();
    assert!(
        text.contains("Error: exploding on boom"),
        "the thrown error's name and message: {first}"
    );
    assert!(
        get_item(e, &derived, "INSERT:boom").is_none(),
        "nothing was written for the failed record"
    );

    // A scheduled event: recognised as one, and the table helpers, DynamoDB errors,
    // capability errors and configuration behave as documented against the real host.
    let event_dir = tempfile::tempdir().expect("temp dir");
    let event_file = event_dir.path().join("scheduled.json");
    std::fs::write(
        &event_file,
        json!({"version": "0", "id": "tick", "detail-type": "Scheduled Event",
               "source": "aws.events", "account": "000000000000", "time": "2026-01-01T00:00:00Z",
               "region": "us-east-1", "resources": [], "detail": {}})
        .to_string(),
    )
    .expect("write the event");
    let invoked = eddy_ok(
        e,
        &[
            "function",
            "invoke",
            "js-view",
            "--event",
            event_file.to_str().expect("utf-8 path"),
        ],
    );
    assert_eq!(invoked["error"], Value::Null, "{invoked}");
    let line = invoked["logs"]
        .as_array()
        .and_then(|lines| lines.iter().find(|l| l["message"] == "helpers"))
        .unwrap_or_else(|| panic!("no helpers line: {invoked}"));
    let result: Value = serde_json::from_str(line["fields"]["result"].as_str().expect("result"))
        .expect("the result is JSON");
    let after = json!({"id": "h", "n": 2, "extra": "e"});
    assert_eq!(result["updated"], after, "{result}");
    assert_eq!(result["got"], after, "{result}");
    assert_eq!(result["missing"], Value::Null, "{result}");
    assert_eq!(result["queried"], json!([after]), "{result}");
    assert_eq!(result["deleted"], after, "{result}");
    assert_eq!(result["afterDelete"], Value::Null, "{result}");
    assert_eq!(
        result["conditional"],
        json!([
            true,
            "ConditionalCheckFailedException",
            "The conditional request failed"
        ]),
        "{result}"
    );
    assert_eq!(
        result["notGranted"],
        json!([true, "AccessDeniedException"]),
        "{result}"
    );
    assert_eq!(result["search"], json!([true, "denied"]), "{result}");
    assert_eq!(result["email"], json!([true, "denied"]), "{result}");
    assert_eq!(result["config"], json!([true, "unset"]), "{result}");
}

#[test]
fn a_js_build_error_names_the_problem_and_writes_nothing_into_the_project() {
    let out_dir = tempfile::tempdir().expect("temp dir");
    let out = out_dir.path().join("f.wasm");

    // A syntax error: esbuild's message with the file and line.
    let broken = project("export function handler(event) {\n  return {;\n}\n");
    let (ok, stderr) = build(broken.path(), "handler.handler", &out);
    assert!(!ok, "a syntax error must fail the build");
    assert!(stderr.contains("handler.js:2:"), "{stderr}");
    assert!(stderr.contains("bundling"), "{stderr}");

    // No module of that name.
    let (ok, stderr) = build(broken.path(), "app.handler", &out);
    assert!(!ok);
    assert!(
        stderr.contains("neither app.js nor app.mjs"),
        "the missing module is named: {stderr}"
    );

    // A module without the named export: componentize-js evaluates the module, and the
    // SDK refuses the missing handler then.
    let wrong = project("export function other() {}\n");
    let (ok, stderr) = build(wrong.path(), "handler.handler", &out);
    assert!(!ok, "a missing export must fail the build");
    assert!(
        stderr.contains("handler.js does not export a function named handler"),
        "{stderr}"
    );

    assert!(!out.exists(), "a failed build leaves no component behind");
    for dir in [broken.path(), wrong.path()] {
        let names: Vec<_> = std::fs::read_dir(dir)
            .expect("read the project")
            .map(|entry| entry.expect("entry").file_name())
            .collect();
        assert_eq!(
            names,
            ["handler.js"],
            "the build wrote into {}",
            dir.display()
        );
    }
}
