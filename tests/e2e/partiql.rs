//! PartiQL through the AWS SDK for Rust against the real binary: ExecuteStatement
//! (each statement kind, parameters, paging with Limit and NextToken, index reads),
//! BatchExecuteStatement, ExecuteTransaction, DynamoDB's error codes and messages, and
//! the stream records and trigger deliveries that PartiQL writes cause, exactly as the
//! JSON API's writes do.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::execute_statement::{
    ExecuteStatementError, ExecuteStatementOutput,
};
use aws_sdk_dynamodb::operation::execute_transaction::ExecuteTransactionError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as Av, BatchStatementErrorCodeEnum, BatchStatementRequest,
    BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, ParameterizedStatement,
    Projection, ProjectionType, ReturnValuesOnConditionCheckFailure, ScalarAttributeType,
};
use aws_sdk_dynamodbstreams::types::OperationType;
use serde_json::json;

use crate::api::{create_table, ddb, deploy, guest, wait_until};
use crate::control::{create, create_streamed};
use crate::harness::{Server, read_whole_stream, table_name};

type Item = HashMap<String, Av>;

fn s(v: &str) -> Av {
    Av::S(v.into())
}

fn n(v: &str) -> Av {
    Av::N(v.into())
}

/// Runs one statement; an error comes back as its code and message.
async fn exec(
    c: &Client,
    statement: &str,
    params: Vec<Av>,
) -> Result<ExecuteStatementOutput, (String, String)> {
    c.execute_statement()
        .statement(statement)
        .set_parameters((!params.is_empty()).then_some(params))
        .send()
        .await
        .map_err(|e| {
            let e = e.into_service_error();
            (
                e.code().unwrap_or_default().to_owned(),
                e.message().unwrap_or_default().to_owned(),
            )
        })
}

async fn exec_ok(c: &Client, statement: &str, params: Vec<Av>) -> Vec<Item> {
    exec(c, statement, params)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e:?}"))
        .items
        .unwrap_or_default()
}

async fn exec_err(c: &Client, statement: &str, params: Vec<Av>) -> (String, String) {
    match exec(c, statement, params).await {
        Ok(out) => panic!("{statement} succeeded: {out:?}"),
        Err(e) => e,
    }
}

fn validation(message: &str) -> (String, String) {
    ("ValidationException".into(), message.into())
}

#[tokio::test]
async fn insert_select_update_delete_with_parameters_and_dynamodb_errors() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("pql");
    create(&c, &t, true).await;

    let inserted = exec_ok(
        &c,
        &format!(r#"INSERT INTO "{t}" VALUE {{'pk': ?, 'sk': 1, 'name': 'ann', 'tags': <<'a', 'b'>>, 'doc': {{'n': [1, 'x']}}}}"#),
        vec![s("p1")],
    )
    .await;
    assert!(inserted.is_empty(), "a write answers no items");
    assert_eq!(
        exec_err(
            &c,
            &format!(r#"INSERT INTO "{t}" VALUE {{'pk': 'p1', 'sk': 1}}"#),
            vec![]
        )
        .await,
        (
            "DuplicateItemException".into(),
            "Duplicate primary key exists in table".into()
        )
    );

    // A key read is a Query; the item comes back as the JSON API stored it.
    let got = exec_ok(
        &c,
        &format!(r#"SELECT * FROM "{t}" WHERE pk = ? AND sk = ?"#),
        vec![s("p1"), n("1")],
    )
    .await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["name"], s("ann"));
    assert_eq!(got[0]["tags"], Av::Ss(vec!["a".into(), "b".into()]));
    assert_eq!(
        got[0]["doc"],
        Av::M(HashMap::from([("n".into(), Av::L(vec![n("1"), s("x")]))]))
    );
    let projected = exec_ok(
        &c,
        &format!(r#"SELECT name, doc.n[1] FROM "{t}" WHERE pk = 'p1'"#),
        vec![],
    )
    .await;
    assert_eq!(
        projected,
        vec![HashMap::from([
            ("name".to_string(), s("ann")),
            (
                "doc".to_string(),
                Av::M(HashMap::from([("n".into(), Av::L(vec![s("x")]))]))
            ),
        ])]
    );
    // A filter on a non-key attribute.
    assert!(
        exec_ok(
            &c,
            &format!(r#"SELECT * FROM "{t}" WHERE pk = 'p1' AND name <> 'ann'"#),
            vec![]
        )
        .await
        .is_empty()
    );

    let new = exec(
        &c,
        &format!(r#"UPDATE "{t}" SET name = ?, n = 5 SET n = n + 1 REMOVE doc WHERE pk = 'p1' AND sk = 1 RETURNING ALL NEW *"#),
        vec![s("bob")],
    )
    .await;
    // Two SETs of one attribute overlap, as they would in an UpdateExpression.
    assert_eq!(
        new.unwrap_err(),
        validation(
            "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [n], path two: [n]"
        )
    );
    let new = exec_ok(
        &c,
        &format!(r#"UPDATE "{t}" SET name = ?, n = 5 REMOVE doc WHERE pk = 'p1' AND sk = 1 RETURNING ALL NEW *"#),
        vec![s("bob")],
    )
    .await;
    assert_eq!(new.len(), 1);
    assert_eq!(new[0]["name"], s("bob"));
    assert_eq!(new[0]["n"], n("5"));
    assert!(!new[0].contains_key("doc"));
    // An UPDATE's extra WHERE conditions are its condition.
    assert_eq!(
        exec_err(
            &c,
            &format!(r#"UPDATE "{t}" SET n = 6 WHERE pk = 'p1' AND sk = 1 AND n > 10"#),
            vec![]
        )
        .await,
        (
            "ConditionalCheckFailedException".into(),
            "The conditional request failed".into()
        )
    );
    // ReturnValuesOnConditionCheckFailure=ALL_OLD returns the item that failed it.
    let failed = c
        .execute_statement()
        .statement(format!(
            r#"UPDATE "{t}" SET n = 6 WHERE pk = 'p1' AND sk = 1 AND n > 10"#
        ))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let ExecuteStatementError::ConditionalCheckFailedException(failed) = failed else {
        panic!("not a condition failure: {failed:?}");
    };
    assert_eq!(failed.item().map(|i| i["n"].clone()), Some(n("5")));
    // UPDATE changes an item that exists; it never creates one.
    assert_eq!(
        exec_err(
            &c,
            &format!(r#"UPDATE "{t}" SET n = 1 WHERE pk = 'nobody' AND sk = 1"#),
            vec![]
        )
        .await,
        (
            "ConditionalCheckFailedException".into(),
            "The conditional request failed".into()
        )
    );
    assert!(
        exec_ok(
            &c,
            &format!(r#"SELECT * FROM "{t}" WHERE pk = 'nobody'"#),
            vec![]
        )
        .await
        .is_empty()
    );
    assert_eq!(
        exec_err(
            &c,
            &format!(r#"UPDATE "{t}" SET n = 1 WHERE pk = 'p1'"#),
            vec![]
        )
        .await,
        validation("Where clause does not contain a mandatory equality on all key attributes")
    );
    assert_eq!(
        exec_err(&c, &format!(r#"DELETE FROM "{t}" WHERE pk = 'p1'"#), vec![]).await,
        validation("Where clause does not contain a mandatory equality on all key attributes")
    );

    let old = exec_ok(
        &c,
        &format!(r#"DELETE FROM "{t}" WHERE pk = 'p1' AND sk = 1 RETURNING ALL OLD *"#),
        vec![],
    )
    .await;
    assert_eq!(old[0]["name"], s("bob"));
    assert!(
        exec_ok(&c, &format!(r#"SELECT * FROM "{t}""#), vec![])
            .await
            .is_empty()
    );
    // Deleting a missing item is no error.
    exec_ok(
        &c,
        &format!(r#"DELETE FROM "{t}" WHERE pk = 'p1' AND sk = 1"#),
        vec![],
    )
    .await;

    // Malformed statements and the request's own limits.
    assert_eq!(
        exec_err(&c, &format!(r#"SELECT * FROM "{t}" WHERE"#), vec![]).await,
        validation("Statement wasn't well formed, can't be processed: Unexpected end of statement")
    );
    assert_eq!(
        exec_err(&c, "UPSERT INTO t VALUE {'pk': 'a'}", vec![]).await,
        validation("Statement wasn't well formed, can't be processed: Expected data manipulation")
    );
    assert_eq!(
        exec_err(
            &c,
            &format!(r#"SELECT * FROM "{t}" WHERE pk = ? AND sk = ?"#),
            vec![s("a")]
        )
        .await,
        validation("Number of parameters in request and statement don't match.")
    );
    assert_eq!(
        exec_err(
            &c,
            &format!(r#"DELETE FROM "{t}" WHERE pk = ? AND sk = 1"#),
            vec![n("1")]
        )
        .await,
        validation(
            "Key attribute's data type should match its data type in table's schema: Key pk"
        )
    );
    assert_eq!(
        exec_err(
            &c,
            &format!(r#"INSERT INTO "{t}" VALUE {{'pk': 'x'}}"#),
            vec![]
        )
        .await,
        validation("Key attribute should be present in the item: Key sk")
    );
    assert_eq!(
        exec_err(&c, r#"SELECT * FROM "no-such-table""#, vec![]).await,
        (
            "ResourceNotFoundException".into(),
            "Requested resource not found".into()
        )
    );
    let long = format!("SELECT * FROM t WHERE a = '{}'", "x".repeat(8192));
    let (code, message) = exec_err(&c, &long, vec![]).await;
    assert_eq!(code, "ValidationException");
    assert!(
        message.starts_with("1 validation error detected: Value '")
            && message.ends_with(
                "' at 'statement' failed to satisfy constraint: Member must have length less than or equal to 8192"
            ),
        "{message}"
    );
}

/// A SELECT naming several partitions (`pk IN (...)`, `pk = a OR pk = b`) reads them
/// one Query each, in the order named, as DynamoDB runs it without a full table scan
/// (its developer guide's SELECT reference): Limit counts only the named partitions'
/// items, and paging goes on across the Queries.
#[tokio::test]
async fn a_select_on_several_partitions_reads_them_one_query_each() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("pqlin");
    create(&c, &t, true).await;
    for (pk, count) in [("p", 3), ("q", 1), ("r", 12)] {
        for i in 0..count {
            exec_ok(
                &c,
                &format!(r#"INSERT INTO "{t}" VALUE {{'pk': ?, 'sk': ?}}"#),
                vec![s(pk), n(&i.to_string())],
            )
            .await;
        }
    }
    let want = ["q0", "p0", "p1", "p2"];
    for (statement, params) in [
        (
            format!(r#"SELECT * FROM "{t}" WHERE pk IN ('q', ?, 'q')"#),
            vec![s("p")],
        ),
        (
            format!(r#"SELECT * FROM "{t}" WHERE pk = 'q' OR ? = pk"#),
            vec![s("p")],
        ),
        (
            format!(r#"SELECT * FROM "{t}" WHERE sk < 9 AND pk IN ['q', 'x', 'p']"#),
            vec![],
        ),
    ] {
        for limit in [None, Some(1), Some(2), Some(3)] {
            let mut seen = Vec::new();
            let mut token = None;
            let mut pages = 0;
            loop {
                let out = c
                    .execute_statement()
                    .statement(&statement)
                    .set_parameters((!params.is_empty()).then(|| params.clone()))
                    .set_limit(limit)
                    .set_next_token(token)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{statement}: {e:?}"));
                pages += 1;
                assert!(pages <= 8, "{statement} {limit:?}: too many pages");
                for item in out.items() {
                    let (Av::S(pk), Av::N(sk)) = (&item["pk"], &item["sk"]) else {
                        panic!("{item:?}")
                    };
                    seen.push(format!("{pk}{sk}"));
                }
                token = out.next_token;
                if token.is_none() {
                    break;
                }
            }
            assert_eq!(seen, want, "{statement} {limit:?}");
            match limit {
                // One page holds every partition's items.
                None => assert_eq!(pages, 1, "{statement}"),
                // Partition r's 12 items are never read: a Scan would page through
                // 16 items, more than 8 pages of 2.
                Some(l) => assert!(pages <= 4usize.div_ceil(l as usize) + 2, "{statement} {l}"),
            }
        }
    }
    // A token belongs to its statement.
    let other = format!(r#"SELECT * FROM "{t}" WHERE pk IN ('q', 'p')"#);
    let first = c
        .execute_statement()
        .statement(&other)
        .limit(1)
        .send()
        .await
        .unwrap();
    let err = c
        .execute_statement()
        .statement(format!(r#"SELECT * FROM "{t}" WHERE pk IN ('p', 'q')"#))
        .set_next_token(first.next_token)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("ValidationException"));
    assert_eq!(err.message(), Some("NextToken does not match request"));
}

#[tokio::test]
async fn a_select_pages_with_limit_and_next_token() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("pqlpage");
    create(&c, &t, true).await;
    for i in 0..7 {
        exec_ok(
            &c,
            &format!(r#"INSERT INTO "{t}" VALUE {{'pk': 'p', 'sk': ?}}"#),
            vec![n(&i.to_string())],
        )
        .await;
    }
    exec_ok(
        &c,
        &format!(r#"INSERT INTO "{t}" VALUE {{'pk': 'q', 'sk': 0}}"#),
        vec![],
    )
    .await;

    for (statement, want) in [
        (
            format!(r#"SELECT sk FROM "{t}" WHERE pk = 'p' ORDER BY sk DESC"#),
            vec![6, 5, 4, 3, 2, 1, 0],
        ),
        (
            format!(r#"SELECT sk FROM "{t}" WHERE pk = 'p' AND sk BETWEEN 2 AND 4"#),
            vec![2, 3, 4],
        ),
        (format!(r#"SELECT sk FROM "{t}" WHERE sk >= 5"#), vec![5, 6]),
    ] {
        let mut seen = Vec::new();
        let mut token = None;
        let mut pages = 0;
        loop {
            let out = c
                .execute_statement()
                .statement(&statement)
                .limit(2)
                .set_next_token(token)
                .send()
                .await
                .unwrap();
            pages += 1;
            for item in out.items() {
                let Av::N(v) = &item["sk"] else {
                    panic!("{item:?}")
                };
                seen.push(v.parse::<i64>().unwrap());
            }
            token = out.next_token;
            if token.is_none() {
                break;
            }
            assert!(
                out.last_evaluated_key.is_some(),
                "a page with a next token has its key"
            );
        }
        if statement.contains("sk >= 5") {
            // A Scan visits every item of the table, matching or not.
            seen.sort();
            assert_eq!(pages, 5, "{statement}");
        } else {
            assert!(pages >= want.len().div_ceil(2), "{statement}");
        }
        assert_eq!(seen, want, "{statement}");
    }

    let first = c
        .execute_statement()
        .statement(format!(r#"SELECT * FROM "{t}" WHERE pk = 'p'"#))
        .limit(1)
        .send()
        .await
        .unwrap();
    let token = first.next_token.expect("more pages");
    let other = c
        .execute_statement()
        .statement(format!(r#"SELECT * FROM "{t}" WHERE pk = 'q'"#))
        .next_token(token)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(other.code(), Some("ValidationException"));
    assert_eq!(other.message(), Some("NextToken does not match request"));
    let garbage = c
        .execute_statement()
        .statement(format!(r#"SELECT * FROM "{t}" WHERE pk = 'q'"#))
        .next_token("not a token")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(garbage.message(), Some("Invalid NextToken"));
}

#[tokio::test]
async fn a_select_reads_a_global_index_named_after_the_table() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("pqlidx");
    let def = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |name: &str| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(KeyType::Hash)
            .build()
            .unwrap()
    };
    c.create_table()
        .table_name(&t)
        .attribute_definitions(def("pk"))
        .attribute_definitions(def("email"))
        .key_schema(key("pk"))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by_email")
                .key_schema(key("email"))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    for (pk, email) in [("u1", "a@x"), ("u2", "b@x"), ("u3", "a@x")] {
        exec_ok(
            &c,
            &format!(r#"INSERT INTO "{t}" VALUE {{'pk': ?, 'email': ?}}"#),
            vec![s(pk), s(email)],
        )
        .await;
    }
    let mut got: Vec<Av> = exec_ok(
        &c,
        &format!(r#"SELECT pk FROM "{t}"."by_email" WHERE email = 'a@x'"#),
        vec![],
    )
    .await
    .into_iter()
    .map(|i| i["pk"].clone())
    .collect();
    got.sort_by_key(|v| format!("{v:?}"));
    assert_eq!(got, vec![s("u1"), s("u3")]);
    let consistent = c
        .execute_statement()
        .statement(format!(
            r#"SELECT pk FROM "{t}"."by_email" WHERE email = 'a@x'"#
        ))
        .consistent_read(true)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(consistent.code(), Some("ValidationException"));
    assert_eq!(
        consistent.message(),
        Some("Strongly consistent read is not supported on Global Secondary Indexes")
    );
    assert_eq!(
        exec_err(
            &c,
            &format!(r#"SELECT * FROM "{t}"."nope" WHERE email = 'a@x'"#),
            vec![]
        )
        .await,
        validation("The table does not have the specified index: nope")
    );
}

#[tokio::test]
async fn batch_execute_statement_answers_each_statement() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("pqlbatch");
    create(&c, &t, false).await;
    exec_ok(
        &c,
        &format!(r#"INSERT INTO "{t}" VALUE {{'pk': 'old'}}"#),
        vec![],
    )
    .await;

    let stmt = |s: &str, params: Vec<Av>| {
        BatchStatementRequest::builder()
            .statement(s)
            .set_parameters((!params.is_empty()).then_some(params))
            .build()
            .unwrap()
    };
    let out = c
        .batch_execute_statement()
        .statements(stmt(
            &format!(r#"INSERT INTO "{t}" VALUE {{'pk': ?, 'v': 1}}"#),
            vec![s("new")],
        ))
        .statements(stmt(
            &format!(r#"INSERT INTO "{t}" VALUE {{'pk': 'old'}}"#),
            vec![],
        ))
        .statements(stmt(
            &format!(r#"UPDATE "{t}" SET v = 2 WHERE pk = 'missing'"#),
            vec![],
        ))
        .statements(stmt(
            &format!(r#"DELETE FROM "{t}" WHERE pk = 'old'"#),
            vec![],
        ))
        .statements(stmt("INSERT INTO", vec![]))
        .send()
        .await
        .unwrap();
    let r = out.responses();
    assert_eq!(r.len(), 5);
    assert!(r[0].error.is_none(), "{:?}", r[0]);
    assert_eq!(r[0].table_name(), Some(t.as_str()));
    let code = |i: usize| r[i].error.as_ref().and_then(|e| e.code.clone());
    let message = |i: usize| r[i].error.as_ref().and_then(|e| e.message.clone());
    assert_eq!(code(1), Some(BatchStatementErrorCodeEnum::DuplicateItem));
    assert_eq!(
        message(1).as_deref(),
        Some("Duplicate primary key exists in table")
    );
    assert_eq!(
        code(2),
        Some(BatchStatementErrorCodeEnum::ConditionalCheckFailed)
    );
    assert_eq!(
        message(2).as_deref(),
        Some("The conditional request failed")
    );
    assert!(r[3].error.is_none(), "{:?}", r[3]);
    assert_eq!(code(4), Some(BatchStatementErrorCodeEnum::ValidationError));
    assert_eq!(
        message(4).as_deref(),
        Some("Statement wasn't well formed, can't be processed: Unexpected end of statement")
    );

    let out = c
        .batch_execute_statement()
        .statements(stmt(
            &format!(r#"SELECT * FROM "{t}" WHERE pk = ?"#),
            vec![s("new")],
        ))
        .statements(stmt(
            &format!(r#"SELECT * FROM "{t}" WHERE pk = 'old'"#),
            vec![],
        ))
        .statements(stmt(&format!(r#"SELECT * FROM "{t}" WHERE v = 1"#), vec![]))
        .send()
        .await
        .unwrap();
    let r = out.responses();
    assert_eq!(r[0].item.as_ref().map(|i| i["v"].clone()), Some(n("1")));
    assert!(r[1].item.is_none() && r[1].error.is_none(), "{:?}", r[1]);
    let e = r[2].error.as_ref().expect("a read by no key is refused");
    assert_eq!(e.code, Some(BatchStatementErrorCodeEnum::ValidationError));
    assert_eq!(
        e.message.as_deref(),
        Some(
            "Select statements within BatchExecuteStatement must specify the primary key in the where clause."
        )
    );

    // A batch is all reads or all writes (DynamoDB documents the rule; the message is
    // Eddy's, worded as ExecuteTransaction's for the same rule), and nothing of a
    // refused batch runs.
    let mixed = c
        .batch_execute_statement()
        .statements(stmt(
            &format!(r#"SELECT * FROM "{t}" WHERE pk = 'new'"#),
            vec![],
        ))
        .statements(stmt(
            &format!(r#"INSERT INTO "{t}" VALUE {{'pk': 'mixed'}}"#),
            vec![],
        ))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(mixed.code(), Some("ValidationException"));
    assert_eq!(
        mixed.message(),
        Some(
            "BatchExecuteStatement API does not support both read and write operations in the same request."
        )
    );
    assert!(
        exec_ok(
            &c,
            &format!(r#"SELECT * FROM "{t}" WHERE pk = 'mixed'"#),
            vec![]
        )
        .await
        .is_empty()
    );

    let too_many = c
        .batch_execute_statement()
        .set_statements(Some(
            (0..26)
                .map(|i| stmt(&format!(r#"DELETE FROM "{t}" WHERE pk = 'k{i}'"#), vec![]))
                .collect(),
        ))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(too_many.code(), Some("ValidationException"));
    assert_eq!(
        too_many.message(),
        Some(
            "1 validation error detected: Value at 'statements' failed to satisfy constraint: Member must have length less than or equal to 25"
        )
    );
}

#[tokio::test]
async fn execute_transaction_is_all_or_nothing() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("pqltx");
    create(&c, &t, false).await;
    exec_ok(
        &c,
        &format!(r#"INSERT INTO "{t}" VALUE {{'pk': 'a', 'n': 1}}"#),
        vec![],
    )
    .await;
    let stmt = |s: String| {
        ParameterizedStatement::builder()
            .statement(s)
            .build()
            .unwrap()
    };

    c.execute_transaction()
        .transact_statements(stmt(format!(r#"INSERT INTO "{t}" VALUE {{'pk': 'b'}}"#)))
        .transact_statements(stmt(format!(
            r#"UPDATE "{t}" SET n = n + 1 WHERE pk = 'a'"#
        )))
        .send()
        .await
        .unwrap();

    let err = c
        .execute_transaction()
        .transact_statements(stmt(format!(r#"INSERT INTO "{t}" VALUE {{'pk': 'c'}}"#)))
        .transact_statements(stmt(format!(
            r#"UPDATE "{t}" SET n = 1 WHERE pk = 'missing'"#
        )))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("TransactionCanceledException"));
    assert_eq!(
        err.message(),
        Some(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]"
        )
    );
    let ExecuteTransactionError::TransactionCanceledException(cancelled) = err else {
        panic!("not cancelled");
    };
    let codes: Vec<_> = cancelled
        .cancellation_reasons()
        .iter()
        .map(|r| r.code().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(codes, ["None", "ConditionalCheckFailed"]);

    let reads = c
        .execute_transaction()
        .transact_statements(stmt(format!(r#"SELECT n FROM "{t}" WHERE pk = 'a'"#)))
        .transact_statements(stmt(format!(r#"SELECT * FROM "{t}" WHERE pk = 'b'"#)))
        .transact_statements(stmt(format!(r#"SELECT * FROM "{t}" WHERE pk = 'c'"#)))
        .send()
        .await
        .unwrap();
    let r = reads.responses();
    assert_eq!(r[0].item.as_ref().map(|i| i["n"].clone()), Some(n("2")));
    assert!(r[1].item.is_some());
    assert!(r[2].item.is_none(), "the cancelled insert left nothing");

    // An INSERT of a key that exists cancels the transaction (reported as DynamoDB
    // Local reports it).
    let dup = c
        .execute_transaction()
        .transact_statements(stmt(format!(r#"INSERT INTO "{t}" VALUE {{'pk': 'a'}}"#)))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let ExecuteTransactionError::TransactionCanceledException(dup) = dup else {
        panic!("not cancelled: {dup:?}");
    };
    let reason = &dup.cancellation_reasons()[0];
    assert_eq!(reason.code(), Some("ValidationError"));
    assert_eq!(
        reason.message(),
        Some("Duplicate primary key exists in table")
    );

    // EXISTS(SELECT ...) is a condition check on one item.
    let failed = c
        .execute_transaction()
        .transact_statements(stmt(format!(
            r#"EXISTS(SELECT * FROM "{t}" WHERE pk = 'a' AND n > 5)"#
        )))
        .transact_statements(stmt(format!(r#"DELETE FROM "{t}" WHERE pk = 'b'"#)))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        failed.message(),
        Some(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None]"
        )
    );
    c.execute_transaction()
        .transact_statements(stmt(format!(
            r#"EXISTS(SELECT * FROM "{t}" WHERE pk = 'a' AND n = 2)"#
        )))
        .transact_statements(stmt(format!(r#"INSERT INTO "{t}" VALUE {{'pk': 'd'}}"#)))
        .send()
        .await
        .unwrap();
    for pk in ["b", "d"] {
        let got = exec_ok(
            &c,
            &format!(r#"SELECT * FROM "{t}" WHERE pk = ?"#),
            vec![s(pk)],
        )
        .await;
        assert_eq!(
            got.len(),
            1,
            "{pk}: kept by the failed transaction, written by the other"
        );
    }
    assert_eq!(
        exec_err(
            &c,
            &format!(r#"EXISTS(SELECT * FROM "{t}" WHERE pk = 'a')"#),
            vec![]
        )
        .await,
        validation("EXISTS can only be used in ExecuteTransaction write requests.")
    );

    let mixed = c
        .execute_transaction()
        .transact_statements(stmt(format!(r#"SELECT * FROM "{t}" WHERE pk = 'a'"#)))
        .transact_statements(stmt(format!(r#"DELETE FROM "{t}" WHERE pk = 'a'"#)))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(mixed.code(), Some("ValidationException"));
    assert_eq!(
        mixed.message(),
        Some(
            "ExecuteTransaction API does not support both read and write operations in the same request."
        )
    );
    let by_filter = c
        .execute_transaction()
        .transact_statements(stmt(format!(r#"SELECT * FROM "{t}" WHERE n = 2"#)))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        by_filter.message(),
        Some(
            "Select statements within ExecuteTransaction must specify the primary key in the where clause."
        )
    );
}

#[tokio::test]
async fn partiql_writes_make_the_same_stream_records_as_the_json_api() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("pqlstream");
    create_streamed(&c, &t).await;
    exec_ok(
        &c,
        &format!(r#"INSERT INTO "{t}" VALUE {{'pk': 'k', 'v': 1}}"#),
        vec![],
    )
    .await;
    exec_ok(
        &c,
        &format!(r#"UPDATE "{t}" SET v = 2 WHERE pk = 'k'"#),
        vec![],
    )
    .await;
    // A failed write changes nothing, so it makes no record.
    exec_err(
        &c,
        &format!(r#"INSERT INTO "{t}" VALUE {{'pk': 'k'}}"#),
        vec![],
    )
    .await;
    exec_ok(&c, &format!(r#"DELETE FROM "{t}" WHERE pk = 'k'"#), vec![]).await;

    let records = read_whole_stream(&server, &c, &t).await;
    let kinds: Vec<_> = records
        .iter()
        .map(|r| r.event_name.clone().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            OperationType::Insert,
            OperationType::Modify,
            OperationType::Remove
        ]
    );
    let modify = records[1].dynamodb.as_ref().unwrap();
    let v = |image: Option<&HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
        image.and_then(|i| i.get("v")).cloned()
    };
    use aws_sdk_dynamodbstreams::types::AttributeValue as Sav;
    assert_eq!(v(modify.old_image.as_ref()), Some(Sav::N("1".into())));
    assert_eq!(v(modify.new_image.as_ref()), Some(Sav::N("2".into())));
}

/// A trigger fires on writes made by PartiQL: the recorder guest (granted the `seen`
/// table) records each delivered record there.
#[test]
fn a_trigger_fires_on_partiql_writes() {
    let server = Server::start();
    let e = &server.endpoint;
    let (src, seen) = (table_name("pqlsrc"), table_name("pqlseen"));
    create_table(e, &src, true);
    create_table(e, &seen, false);
    deploy(
        e,
        "recorder",
        &format!("?table={seen}&env=table={seen}"),
        &guest("recorder"),
    )
    .expect(201);
    crate::api::create_trigger(
        e,
        json!({"FunctionName": "recorder", "TableName": src, "StartingPosition": "TRIM_HORIZON"}),
    );
    for statement in [
        format!(r#"INSERT INTO "{src}" VALUE {{'id': 'k1', 'v': 1}}"#),
        format!(r#"UPDATE "{src}" SET v = 2 WHERE id = 'k1'"#),
        format!(r#"DELETE FROM "{src}" WHERE id = 'k1'"#),
    ] {
        ddb(e, "ExecuteStatement", json!({ "Statement": statement }));
    }
    let names = || -> Vec<String> {
        let out = ddb(e, "Scan", json!({ "TableName": seen }));
        let mut items: Vec<(u128, String)> = out["Items"]
            .as_array()
            .expect("Items")
            .iter()
            .map(|i| {
                (
                    i["sequenceNumber"]["S"].as_str().unwrap().parse().unwrap(),
                    i["eventName"]["S"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        items.sort();
        items.into_iter().map(|(_, name)| name).collect()
    };
    wait_until("three records delivered", || names().len() >= 3);
    assert_eq!(names(), ["INSERT", "MODIFY", "REMOVE"]);
}
