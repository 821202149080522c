//! The audit log (`--audit-log`): a request refused by authentication, a DynamoDB table
//! change and a `/v1` change each leave one JSON line with who, from where, what, on
//! what and the outcome; data-plane requests leave none.

use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use serde_json::Value;

use crate::auth::client_with;
use crate::harness::Server;

/// How long a line may take to reach the file (the writer flushes each batch at once).
const LINE_WAIT_MS: u64 = 10_000;

const ROOT_ID: &str = "EDDYAUDITROOT0000000";
const ROOT_SECRET: &str = "audit-root-secret";

/// Runs `eddy <args>` against `endpoint` signed with `creds`.
fn eddy(endpoint: &str, creds: (&str, &str), args: &[&str]) -> (bool, String, String) {
    crate::auth::eddy(endpoint, Some(creds), args)
}

async fn create_table(c: &Client, name: &str) -> Result<(), String> {
    let attribute = AttributeDefinition::builder()
        .attribute_name("pk")
        .attribute_type(ScalarAttributeType::S)
        .build()
        .unwrap();
    let key = KeySchemaElement::builder()
        .attribute_name("pk")
        .key_type(KeyType::Hash)
        .build()
        .unwrap();
    c.create_table()
        .table_name(name)
        .attribute_definitions(attribute)
        .key_schema(key)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| e.into_service_error().code().unwrap_or("").to_owned())
}

/// The log's lines once it has at least `n` (each must be a JSON object).
fn lines(path: &Path, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_millis(LINE_WAIT_MS);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        // A line being written may be there in part: only whole lines count.
        let text = &text[..text.rfind('\n').map_or(0, |end| end + 1)];
        if text.lines().count() >= n || Instant::now() > deadline {
            return text
                .lines()
                .map(|l| serde_json::from_str(l).expect("a JSON line"))
                .collect();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The one line with `action` and `resource` (and the given event).
fn find<'a>(lines: &'a [Value], event: &str, action: &str, resource: &str) -> &'a Value {
    let found: Vec<&Value> = lines
        .iter()
        .filter(|l| l["event"] == event && l["action"] == action && l["resource"] == resource)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {event} {action} on {resource} in {lines:#?}"
    );
    found[0]
}

/// Fields every line has: the time (ISO 8601 UTC with milliseconds) and the source IP.
fn assert_common(line: &Value) {
    let time = line["time"].as_str().unwrap();
    assert_eq!(time.len(), "2026-12-07T05:52:48.123Z".len(), "{time}");
    assert!(time.ends_with('Z') && time.as_bytes()[19] == b'.', "{time}");
    assert_eq!(line["source_ip"], "127.0.0.1");
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_and_control_plane_changes_are_audited_with_the_identity() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let env = [
        ("EDDY_ROOT_ACCESS_KEY_ID", ROOT_ID),
        ("EDDY_ROOT_SECRET_ACCESS_KEY", ROOT_SECRET),
    ];
    let data = dir.path().join("data");
    let server = Server::start_with_env(
        &data,
        "127.0.0.1:0",
        &["--auth", "sigv4", "--audit-log", log.to_str().unwrap()],
        &env,
    );
    let ep = server.endpoint.clone();
    let root = client_with(&ep, ROOT_ID, ROOT_SECRET);

    // A table change, and the same change failing; a write and a read leave no line.
    create_table(&root, "audited").await.unwrap();
    assert_eq!(
        create_table(&root, "audited").await,
        Err("ResourceInUseException".to_owned())
    );
    root.put_item()
        .table_name("audited")
        .item("pk", AttributeValue::S("a".into()))
        .send()
        .await
        .unwrap();
    // The wrong secret for the root's key, on a read of the table.
    let e = client_with(&ep, ROOT_ID, "wrong")
        .get_item()
        .table_name("audited")
        .key("pk", AttributeValue::S("a".into()))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(e.code(), Some("InvalidSignatureException"));
    let refusal = e.message().unwrap().to_owned();

    // /v1: an administrator creates a key; its non-administrator holder is refused a
    // deletion; the administrator's deletion of nothing is a failed change.
    let (ok, out, err) = eddy(
        &ep,
        (ROOT_ID, ROOT_SECRET),
        &["key", "create", "--user", "bob"],
    );
    assert!(ok, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let bob = created["AccessKeyId"].as_str().unwrap().to_owned();
    let bob_secret = created["SecretAccessKey"].as_str().unwrap().to_owned();
    let (ok, _, err) = eddy(&ep, (&bob, &bob_secret), &["function", "delete", "f"]);
    assert!(!ok && err.contains("AccessDeniedException"), "{err}");
    let (ok, _, err) = eddy(&ep, (ROOT_ID, ROOT_SECRET), &["function", "delete", "f"]);
    assert!(!ok && err.contains("404"), "{err}");

    let all = lines(&log, 6);
    assert_eq!(all.len(), 6, "{all:#?}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains(ROOT_SECRET) && !text.contains(&bob_secret),
        "no secret is logged: {text}"
    );

    // In the order they were made: each line is queued before its request is answered.
    let created = &all[0];
    assert_common(created);
    assert_eq!(
        (&created["event"], &created["action"], &created["resource"]),
        (
            &Value::from("change"),
            &Value::from("dynamodb:CreateTable"),
            &Value::from("audited")
        )
    );
    assert_eq!(created["identity"], "key");
    assert_eq!(created["user"], "root");
    assert_eq!(created["access_key_id"], ROOT_ID);
    assert_eq!(created["status"], 200);
    assert!(created.get("error_type").is_none() && created.get("message").is_none());
    let failed = &all[1];
    assert_eq!(
        (&failed["action"], &failed["resource"], &failed["status"]),
        (
            &Value::from("dynamodb:CreateTable"),
            &Value::from("audited"),
            &Value::from(400)
        )
    );

    let denied = find(&all, "denied", "dynamodb:GetItem", "audited");
    assert_common(denied);
    assert_eq!(denied["identity"], "key");
    assert_eq!(denied["access_key_id"], ROOT_ID);
    assert_eq!(denied["user"], "root");
    assert_eq!(denied["status"], 400);
    assert_eq!(denied["error_type"], "InvalidSignatureException");
    assert_eq!(denied["message"], refusal.as_str());

    let key = find(&all, "change", "eddy:CreateAccessKey", &bob);
    assert_common(key);
    assert_eq!(
        (&key["user"], &key["status"]),
        (&Value::from("root"), &Value::from(201))
    );

    let not_admin = find(&all, "denied", "eddy:DeleteFunction", "f");
    assert_common(not_admin);
    assert_eq!(not_admin["user"], "bob");
    assert_eq!(not_admin["access_key_id"], bob.as_str());
    assert_eq!(not_admin["status"], 403);
    assert_eq!(not_admin["error_type"], "AccessDeniedException");
    assert!(
        not_admin["message"]
            .as_str()
            .unwrap()
            .starts_with("User bob (access key "),
        "{not_admin}"
    );

    let missing = find(&all, "change", "eddy:DeleteFunction", "f");
    assert_eq!(
        (&missing["user"], &missing["status"]),
        (&Value::from("root"), &Value::from(404))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_auth_off_changes_are_audited_as_auth_off() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let server = Server::start_with(&["--audit-log", log.to_str().unwrap()]);
    let c = server.client();
    create_table(&c, "open").await.unwrap();
    c.list_tables().send().await.unwrap();
    c.delete_table().table_name("open").send().await.unwrap();
    let (ok, _, err) = eddy(
        &server.endpoint,
        ("any", "any"),
        &["schedule", "delete", "nope"],
    );
    assert!(!ok && err.contains("404"), "{err}");
    let all = lines(&log, 3);
    assert_eq!(all.len(), 3, "{all:#?}");
    let schedule = &all[2];
    assert_common(schedule);
    assert_eq!(
        (
            &schedule["action"],
            &schedule["resource"],
            &schedule["identity"],
            &schedule["status"]
        ),
        (
            &Value::from("eddy:DeleteSchedule"),
            &Value::from("nope"),
            &Value::from("auth-off"),
            &Value::from(404)
        )
    );
    for (line, action) in all
        .iter()
        .zip(["dynamodb:CreateTable", "dynamodb:DeleteTable"])
    {
        assert_common(line);
        assert_eq!(line["event"], "change");
        assert_eq!(line["action"], action);
        assert_eq!(line["resource"], "open");
        assert_eq!(line["identity"], "auth-off");
        assert_eq!(
            (&line["user"], &line["access_key_id"]),
            (&Value::Null, &Value::Null)
        );
        assert_eq!(line["status"], 200);
    }
}
