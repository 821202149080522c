//! IAM policies (`eddy user policy put`): a user confined by `dynamodb:LeadingKeys =
//! ${aws:username}` reads and writes their own items and is refused every other key
//! with DynamoDB's `AccessDeniedException` naming the user, the action and the
//! resource, in GetItem, Query, BatchGetItem, TransactWriteItems and PartiQL; an
//! explicit Deny wins; `/v1` reads of function logs are authorized per name; a
//! malformed document is refused.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, KeysAndAttributes,
    Put, ScalarAttributeType, TransactWriteItem,
};
use serde_json::Value;

use crate::auth::{client_with, eddy};
use crate::harness::Server;

const POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "OwnItemsOnly",
      "Effect": "Allow",
      "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                 "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:BatchGetItem",
                 "dynamodb:BatchWriteItem", "dynamodb:PartiQLSelect", "dynamodb:PartiQLInsert",
                 "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"],
      "Resource": "arn:aws:dynamodb:*:*:table/games",
      "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:username}"]}}
    },
    {"Sid": "LogsOfOwnFunctions", "Effect": "Allow", "Action": "eddy:GetFunctionLogs",
     "Resource": "arn:eddy:*:*:function/${aws:username}-*"},
    {"Sid": "DescribeFromHere", "Effect": "Allow", "Action": "dynamodb:DescribeTable",
     "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}},
    {"Sid": "ListFromElsewhere", "Effect": "Allow", "Action": "dynamodb:ListTables",
     "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
  ]
}"#;

const DENY_DELETE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny",
  "Action":"dynamodb:DeleteItem","Resource":"*"}]}"#;

fn key(user: &str, game: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("user".to_owned(), AttributeValue::S(user.to_owned())),
        ("game".to_owned(), AttributeValue::S(game.to_owned())),
    ])
}

/// The error code and message of a refused call.
fn refusal<T, E, R>(r: Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>) -> (String, String)
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    use aws_sdk_dynamodb::error::ProvideErrorMetadata;
    let Err(e) = r else {
        panic!("the call must be refused")
    };
    (
        e.code().unwrap_or_default().to_owned(),
        e.message().unwrap_or_default().to_owned(),
    )
}

fn assert_denied(refused: (String, String), action: &str) {
    let (code, message) = refused;
    assert_eq!(code, "AccessDeniedException", "{message}");
    assert_eq!(
        message,
        format!(
            "User: arn:aws:iam::000000000000:user/alice is not authorized to perform: \
             dynamodb:{action} on resource: arn:aws:dynamodb:us-east-1:000000000000:table/games \
             because no identity-based policy allows the dynamodb:{action} action"
        )
    );
}

async fn create_games(root: &Client) {
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let schema = |name: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(t)
            .build()
            .unwrap()
    };
    root.create_table()
        .table_name("games")
        .attribute_definitions(attr("user"))
        .attribute_definitions(attr("game"))
        .key_schema(schema("user", KeyType::Hash))
        .key_schema(schema("game", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    for user in ["alice", "bob"] {
        root.put_item()
            .table_name("games")
            .set_item(Some(key(user, "chess")))
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn leading_keys_confine_a_user_to_their_own_items() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let server = Server::start_in(
        dir.path(),
        &["--auth", "sigv4", "--audit-log", audit.to_str().unwrap()],
    );
    let ep = server.endpoint.clone();
    let root = crate::harness::root_credentials(dir.path());
    let as_root = Some((root.0.as_str(), root.1.as_str()));
    create_games(&client_with(&ep, &root.0, &root.1)).await;

    // The user, the policy and a key, through the CLI.
    let (ok, out, err) = eddy(&ep, as_root, &["user", "create", "alice"]);
    assert!(ok, "{err}");
    let user: Value = serde_json::from_str(&out).unwrap();
    assert!(
        user["UserId"].as_str().unwrap().starts_with("AIDA"),
        "{out}"
    );
    let file = dir.path().join("own-items.json");
    std::fs::write(&file, POLICY).unwrap();
    let file = file.to_str().unwrap();
    let (ok, _, err) = eddy(
        &ep,
        as_root,
        &["user", "policy", "put", "alice", "own", "--file", file],
    );
    assert!(ok, "{err}");
    let (ok, out, err) = eddy(&ep, as_root, &["key", "create", "--user", "alice"]);
    assert!(ok, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let alice = client_with(
        &ep,
        created["AccessKeyId"].as_str().unwrap(),
        created["SecretAccessKey"].as_str().unwrap(),
    );

    // GetItem.
    let own = alice
        .get_item()
        .table_name("games")
        .set_key(Some(key("alice", "chess")))
        .send()
        .await
        .unwrap();
    assert!(own.item().is_some());
    assert_denied(
        refusal(
            alice
                .get_item()
                .table_name("games")
                .set_key(Some(key("bob", "chess")))
                .send()
                .await,
        ),
        "GetItem",
    );

    // Query: the partition the key condition names.
    let query = |user: &str| {
        alice
            .query()
            .table_name("games")
            .key_condition_expression("#u = :u")
            .expression_attribute_names("#u", "user")
            .expression_attribute_values(":u", AttributeValue::S(user.to_owned()))
            .send()
    };
    assert_eq!(query("alice").await.unwrap().count(), 1);
    assert_denied(refusal(query("bob").await), "Query");

    // BatchGetItem: every key is checked.
    let batch = |users: &[&str]| {
        let mut ka = KeysAndAttributes::builder();
        for u in users {
            ka = ka.keys(key(u, "chess"));
        }
        alice
            .batch_get_item()
            .request_items("games", ka.build().unwrap())
            .send()
    };
    let got = batch(&["alice"]).await.unwrap();
    assert_eq!(got.responses().unwrap()["games"].len(), 1);
    assert_denied(refusal(batch(&["alice", "bob"]).await), "BatchGetItem");

    // TransactWriteItems: each action is its own PutItem; nothing of a refused
    // transaction is written.
    let put = |user: &str, game: &str| {
        TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name("games")
                    .set_item(Some(key(user, game)))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    alice
        .transact_write_items()
        .transact_items(put("alice", "go"))
        .send()
        .await
        .unwrap();
    assert_denied(
        refusal(
            alice
                .transact_write_items()
                .transact_items(put("alice", "poker"))
                .transact_items(put("bob", "poker"))
                .send()
                .await,
        ),
        "PutItem",
    );
    let root_client = client_with(&ep, &root.0, &root.1);
    for user in ["alice", "bob"] {
        let got = root_client
            .get_item()
            .table_name("games")
            .set_key(Some(key(user, "poker")))
            .send()
            .await
            .unwrap();
        assert!(got.item().is_none(), "{user}'s poker must not be written");
    }

    // PartiQL: PartiQLSelect and PartiQLInsert, with the statement's partition.
    let select = |user: &str| {
        alice
            .execute_statement()
            .statement(r#"SELECT * FROM "games" WHERE "user" = ?"#)
            .parameters(AttributeValue::S(user.to_owned()))
            .send()
    };
    assert_eq!(select("alice").await.unwrap().items().len(), 2);
    assert_denied(refusal(select("bob").await), "PartiQLSelect");
    assert_denied(
        refusal(
            alice
                .execute_statement()
                .statement(r#"INSERT INTO "games" VALUE {'user': 'bob', 'game': 'go'}"#)
                .send()
                .await,
        ),
        "PartiQLInsert",
    );

    // aws:SourceIp is the client's address (this test's is loopback).
    alice
        .describe_table()
        .table_name("games")
        .send()
        .await
        .unwrap();
    let (code, message) = refusal(alice.list_tables().send().await);
    assert_eq!(code, "AccessDeniedException", "{message}");

    // No statement allows Scan or any other table.
    assert_denied(
        refusal(alice.scan().table_name("games").send().await),
        "Scan",
    );

    // An explicit Deny wins over the Allow.
    let deny = dir.path().join("deny.json");
    std::fs::write(&deny, DENY_DELETE).unwrap();
    let (ok, _, err) = eddy(
        &ep,
        as_root,
        &[
            "user",
            "policy",
            "put",
            "alice",
            "nodelete",
            "--file",
            deny.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let (code, message) = refusal(
        alice
            .delete_item()
            .table_name("games")
            .set_key(Some(key("alice", "go")))
            .send()
            .await,
    );
    assert_eq!(code, "AccessDeniedException");
    assert!(
        message.ends_with("with an explicit deny in an identity-based policy"),
        "{message}"
    );

    // /v1 reads: the logs of the user's own functions only (a function that does not
    // exist is then the route's own 404; another's name is refused by the guard).
    let (ok, _, err) = eddy(
        &ep,
        Some((
            created["AccessKeyId"].as_str().unwrap(),
            created["SecretAccessKey"].as_str().unwrap(),
        )),
        &["function", "logs", "alice-mailer"],
    );
    assert!(!ok && err.contains("404"), "{err}");
    let (ok, _, err) = eddy(
        &ep,
        Some((
            created["AccessKeyId"].as_str().unwrap(),
            created["SecretAccessKey"].as_str().unwrap(),
        )),
        &["function", "logs", "bob-mailer"],
    );
    assert!(
        !ok && err.contains("403") && err.contains("eddy:GetFunctionLogs"),
        "{err}"
    );

    // A malformed document is refused with what is wrong, and nothing is attached.
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"GetItem","Resource":"*"}]}"#,
    )
    .unwrap();
    let (ok, _, err) = eddy(
        &ep,
        as_root,
        &[
            "user",
            "policy",
            "put",
            "alice",
            "bad",
            "--file",
            bad.to_str().unwrap(),
        ],
    );
    assert!(
        !ok && err.contains("MalformedPolicyDocumentException") && err.contains("vendor"),
        "{err}"
    );
    let (ok, out, err) = eddy(&ep, as_root, &["user", "policy", "list", "alice"]);
    assert!(ok && !out.contains("\"bad\""), "{out}{err}");

    // Each policy denial is in the audit log with the user and the key.
    drop(server);
    let lines: Vec<Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let denial = lines
        .iter()
        .find(|l| l["action"] == "dynamodb:GetItem")
        .expect("the GetItem denial is audited");
    assert_eq!(denial["event"], "denied");
    assert_eq!(denial["user"], "alice");
    assert_eq!(denial["access_key_id"], created["AccessKeyId"]);
    assert_eq!(denial["error_type"], "AccessDeniedException");
    assert_eq!(
        denial["resource"],
        "arn:aws:dynamodb:us-east-1:000000000000:table/games"
    );
}
