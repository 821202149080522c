//! Unit tests of the PartiQL parser and of lowering onto the JSON API's requests.

use super::ast::{CmpOp, Expr, Path, Returning, Statement, Step, UpdateAction};
use super::{Lowered, lower, parse};
use crate::catalog::TableDef;
use crate::error::Error;
use crate::keys::KeyType;
use crate::schema::{BillingMode, KeyAttribute, KeySchema, Throughput};
use crate::value::AttributeValue;

fn message(e: Error) -> String {
    match e {
        Error::Validation(m) => m,
        other => panic!("not a validation error: {other:?}"),
    }
}

fn def(range: bool) -> TableDef {
    TableDef {
        name: "t".into(),
        key_schema: KeySchema {
            hash: KeyAttribute {
                name: "pk".into(),
                key_type: KeyType::S,
            },
            range: range.then(|| KeyAttribute {
                name: "sk".into(),
                key_type: KeyType::N,
            }),
        },
        id: 1,
        attribute_definitions: vec![],
        billing_mode: BillingMode::PayPerRequest,
        throughput: Throughput::default(),
        pay_per_request_since_ms: None,
        created_at_ms: 0,
        shards: 1,
        tags: Default::default(),
        indexes: vec![],
        settings: Default::default(),
    }
}

fn path(name: &str) -> Path {
    Path {
        name: name.into(),
        steps: vec![],
    }
}

#[test]
fn parses_a_select_with_quoted_names_paths_and_parameters() {
    let Statement::Select(s) =
        parse(r#"select a, "b c".d[2] FROM "my-table"."by-x" WHERE pk = ? AND x.y[0] >= 5;"#)
            .unwrap()
    else {
        panic!("not a select");
    };
    assert_eq!(s.table, "my-table");
    assert_eq!(s.index.as_deref(), Some("by-x"));
    let projection = s.projection.unwrap();
    assert_eq!(projection[0], path("a"));
    assert_eq!(
        projection[1].steps,
        vec![Step::Key("d".into()), Step::Index(2)]
    );
    assert_eq!(projection[1].name, "b c");
    let Some(Expr::And(left, _)) = s.filter else {
        panic!("no AND");
    };
    assert_eq!(
        *left,
        Expr::Cmp(
            CmpOp::Eq,
            Box::new(Expr::Path(path("pk"))),
            Box::new(Expr::Param(0))
        )
    );
}

#[test]
fn parses_literals_of_every_kind() {
    let Statement::Insert(i) = parse(
        "INSERT INTO t VALUE {'pk': 'it''s', 'n': -1.5e3, 'b': true, 'z': null, 'l': [1, 'a'], 'm': {'x': <<'p', 'q'>>}}",
    )
    .unwrap() else {
        panic!("not an insert");
    };
    let Expr::Tuple(fields) = i.item else {
        panic!("not a tuple");
    };
    assert_eq!(fields[0], ("pk".into(), Expr::Str("it's".into())));
    assert_eq!(fields[1], ("n".into(), Expr::Num("-1.5e3".into())));
    assert_eq!(fields[2], ("b".into(), Expr::Bool(true)));
    assert_eq!(fields[3], ("z".into(), Expr::Null));
    assert!(
        matches!(&fields[5].1, Expr::Tuple(m) if matches!(&m[0].1, Expr::Bag(b) if b.len() == 2))
    );
}

#[test]
fn parses_update_actions_and_returning() {
    let Statement::Update(u) = parse(
        "UPDATE t SET a = a + 1, b = 'x' REMOVE c SET d = list_append(d, [1]) WHERE pk = 'k' RETURNING ALL NEW *",
    )
    .unwrap() else {
        panic!("not an update");
    };
    assert_eq!(u.actions.len(), 4);
    assert_eq!(u.actions[2], UpdateAction::Remove(path("c")));
    assert_eq!(u.returning, Some(Returning::AllNew));
}

#[test]
fn parses_conditions_with_precedence() {
    let Statement::Select(s) = parse(
        "SELECT * FROM t WHERE NOT a IS MISSING OR b BETWEEN 1 AND 3 AND c IN ['x', 'y'] AND begins_with(d, 'p') AND e NOT IN [1]",
    )
    .unwrap() else {
        panic!("not a select");
    };
    let Some(Expr::Or(left, right)) = s.filter else {
        panic!("OR does not bind loosest");
    };
    assert!(matches!(*left, Expr::Not(ref m) if matches!(**m, Expr::IsMissing(_, false))));
    assert!(matches!(*right, Expr::And(..)));
}

#[test]
fn comments_and_case_do_not_matter() {
    parse("-- a comment\nselect * /* inline */ from t where pk = 'a'").unwrap();
}

#[test]
fn refuses_malformed_statements_with_dynamodb_messages() {
    let cases = [
        (
            "",
            "Statement wasn't well formed, can't be processed: Expected data manipulation",
        ),
        (
            "UPSERT INTO t VALUE {'a': 1}",
            "Statement wasn't well formed, can't be processed: Expected data manipulation",
        ),
        (
            "SELECT * FROM t WHERE",
            "Statement wasn't well formed, can't be processed: Unexpected end of statement",
        ),
        (
            "SELECT * FROM t; SELECT * FROM t",
            "Statement wasn't well formed, can't be processed: Unexpected token after expression",
        ),
        (
            "SELECT * FROM t WHERE a = 'open",
            "Statement wasn't well formed, can't be processed: Unterminated string literal",
        ),
        (
            "SELECT * FROM where",
            "Statement wasn't well formed, can't be processed: Unexpected keyword: where",
        ),
        (
            "DELETE FROM t",
            "Where clause does not contain a mandatory equality on all key attributes",
        ),
        (
            "UPDATE t SET a = 1 WHERE pk = 'a' RETURNING ALL NEW",
            "Expected '*' after ( MODIFIED | ALL ) ( NEW | OLD ) in RETURNING clause",
        ),
        (
            "SELECT *, a FROM t",
            "Other attributes should not be present in the projection when '*' is used.",
        ),
        (
            "SELECT * FROM t AS x WHERE x.pk = 'a'",
            "Aliasing is not supported",
        ),
        ("SELECT * FROM t x", "Aliasing is not supported"),
        (
            "SELECT * FROM t LIMIT 5",
            "Statement wasn't well formed, can't be processed: Unexpected token after expression",
        ),
        (
            "SELECT * FROM a, b",
            "Only select from a single table or index is supported.",
        ),
        (
            "INSERT INTO t <<{'pk': 'a'}, {'pk': 'b'}>>",
            "Unsupported operation: Inserting multiple items in a single statement is not supported, use \"INSERT INTO tableName VALUE item\" instead",
        ),
    ];
    for (stmt, want) in cases {
        assert_eq!(message(parse(stmt).unwrap_err()), want, "{stmt}");
    }
}

#[test]
fn a_deeply_nested_statement_is_refused_not_a_stack_overflow() {
    let stmt = format!(
        "SELECT * FROM t WHERE {}a = 1{}",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    assert!(message(parse(&stmt).unwrap_err()).starts_with("Statement wasn't well formed"));
}

#[test]
fn a_select_on_the_partition_key_is_a_query_and_anything_else_a_scan() {
    let d = def(true);
    let q = lower(
        &parse("SELECT a FROM t WHERE pk = 'x' AND sk > 3 AND c = ?").unwrap(),
        &[AttributeValue::S("v".into())],
        &d,
    )
    .unwrap();
    let Lowered::Query(q) = q else {
        panic!("not a query: {q:?}");
    };
    assert_eq!(q.key_condition.as_deref(), Some("#p1 = :v0 AND #p2 > :v1"));
    assert_eq!(q.filter.as_deref(), Some("(#p3 = :v2)"));
    assert_eq!(q.projection.as_deref(), Some("#p0"));
    let names = q.attributes.names.unwrap();
    assert_eq!(names["#p3"], "c");
    assert_eq!(
        q.attributes.values.unwrap()[":v2"],
        AttributeValue::S("v".into())
    );

    let Lowered::Query(q) = lower(
        &parse("SELECT * FROM t WHERE 3 < sk AND 'x' = pk").unwrap(),
        &[],
        &d,
    )
    .unwrap() else {
        panic!("not a query");
    };
    assert_eq!(q.key_condition.as_deref(), Some("#p0 = :v0 AND #p1 > :v1"));

    for stmt in [
        "SELECT * FROM t",
        "SELECT * FROM t WHERE pk > 'a'",
        "SELECT * FROM t WHERE pk = 'a' OR c = 'b'",
        "SELECT * FROM t WHERE pk = 'a' AND sk > 1 AND sk < 5",
        "SELECT * FROM t WHERE pk IN ('a', 1)",
        "SELECT * FROM t WHERE pk IN ('a', 'b') AND pk = 'c'",
        "SELECT * FROM t WHERE pk IN ('a', 'b') AND sk > 1 AND sk < 5",
    ] {
        let l = lower(&parse(stmt).unwrap(), &[], &d).unwrap();
        assert!(matches!(l, Lowered::Scan(_)), "{stmt}: {l:?}");
    }
}

#[test]
fn a_select_on_several_partitions_is_one_query_per_partition() {
    let d = def(true);
    for stmt in [
        "SELECT a FROM t WHERE pk IN ['x', ?, 'x'] AND sk > 3 AND c = 1",
        "SELECT a FROM t WHERE (pk = 'x' OR ? = pk) AND sk > 3 AND c = 1",
        "SELECT a FROM t WHERE sk > 3 AND (pk = 'x' OR pk IN (?, 'y')) AND c = 1",
    ] {
        let l = lower(&parse(stmt).unwrap(), &[AttributeValue::S("y".into())], &d).unwrap();
        let Lowered::Queries(qs) = l else {
            panic!("{stmt}: {l:?}");
        };
        let partitions: Vec<_> = qs
            .iter()
            .map(|q| {
                let values = q.attributes.values.as_ref().unwrap();
                let names = q.attributes.names.as_ref().unwrap();
                let (name, value) = q.key_condition.as_deref().unwrap()[..9]
                    .split_once(" = ")
                    .unwrap();
                assert_eq!(names[name], "pk", "{stmt}");
                assert!(q.filter.is_some() && q.scan_forward, "{stmt}");
                assert_eq!(q.projection.as_deref(), Some("#p0"), "{stmt}");
                values[value].clone()
            })
            .collect();
        assert_eq!(
            partitions,
            [AttributeValue::S("x".into()), AttributeValue::S("y".into())],
            "{stmt}"
        );
    }
}

#[test]
fn writes_lower_onto_conditional_item_writes() {
    let d = def(false);
    let Lowered::Insert(put) = lower(
        &parse("INSERT INTO t VALUE {'pk': 'a', 'n': 1}").unwrap(),
        &[],
        &d,
    )
    .unwrap() else {
        panic!("not a put");
    };
    assert_eq!(put.condition.as_deref(), Some("attribute_not_exists(#p0)"));
    assert_eq!(put.item["n"], AttributeValue::N(1.into()));

    let Lowered::Update(u) = lower(
        &parse("UPDATE t SET n = n + 1 REMOVE old WHERE pk = 'a' AND n < 10").unwrap(),
        &[],
        &d,
    )
    .unwrap() else {
        panic!("not an update");
    };
    assert_eq!(u.key["pk"], AttributeValue::S("a".into()));
    assert_eq!(u.update.as_deref(), Some("SET #p0 = #p0 + :v0 REMOVE #p1"));
    assert_eq!(
        u.condition.as_deref(),
        Some("attribute_exists(#p2) AND (#p0 < :v1)")
    );

    let Lowered::Delete(del) =
        lower(&parse("DELETE FROM t WHERE pk = 'a'").unwrap(), &[], &d).unwrap()
    else {
        panic!("not a delete");
    };
    assert_eq!(del.condition, None);
}

#[test]
fn conditions_are_parenthesized_once() {
    let d = def(false);
    let Lowered::Scan(scan) = lower(
        &parse("SELECT * FROM t WHERE (a = 1 OR NOT (b = 2)) AND c IS MISSING").unwrap(),
        &[],
        &d,
    )
    .unwrap() else {
        panic!("not a scan");
    };
    assert_eq!(
        scan.filter.as_deref(),
        Some("((#p0 = :v0) OR (NOT (#p1 = :v1))) AND (attribute_not_exists(#p2))")
    );
}

#[test]
fn exists_is_a_condition_check_on_one_item() {
    let d = def(true);
    let Lowered::ConditionCheck(check) = lower(
        &parse("EXISTS(SELECT * FROM t WHERE pk = 'a' AND sk = 1 AND n > 2)").unwrap(),
        &[],
        &d,
    )
    .unwrap() else {
        panic!("not a condition check");
    };
    assert_eq!(check.condition, "attribute_exists(#p0) AND (#p1 > :v0)");
    assert_eq!(check.key.len(), 2);
    let e = lower(
        &parse("EXISTS(SELECT * FROM t WHERE pk = 'a')").unwrap(),
        &[],
        &d,
    )
    .unwrap_err();
    assert_eq!(
        message(e),
        "EXISTS() must contain a single item read with additional condition"
    );
}

#[test]
fn writes_must_name_the_whole_key_and_enough_parameters() {
    let d = def(true);
    let cases = [
        (
            "DELETE FROM t WHERE pk = 'a'",
            vec![],
            "Where clause does not contain a mandatory equality on all key attributes",
        ),
        (
            "UPDATE t SET a = 1 WHERE pk = 'a' OR sk = 1",
            vec![],
            "Where clause does not contain a mandatory equality on all key attributes",
        ),
        (
            "DELETE FROM t WHERE pk = 'a' AND sk = 1 AND sk = 2",
            vec![],
            "Multiple conditions on same key sk. Only single item Update/Insert/Delete are supported",
        ),
        (
            "SELECT * FROM t WHERE pk = ? AND sk = ?",
            vec![AttributeValue::S("a".into())],
            "Number of parameters in request and statement don't match.",
        ),
        (
            "INSERT INTO t VALUE [1]",
            vec![],
            "Unsupported format in item expression. Please use struct format {...} to express item values for insert statement.",
        ),
        (
            "INSERT INTO t VALUE {'pk': 'a', 's': <<'a', 1>>}",
            vec![],
            "Unsupported data type in Bag. DynamoDB only supports either numbers or strings in bags",
        ),
        (
            "DELETE FROM t WHERE pk = 'a' AND sk = 1 RETURNING ALL NEW *",
            vec![],
            "Invalid returning clause: RETURNING ALL NEW *. Only RETURNING ALL OLD * is allowed in DELETE statements.",
        ),
        (
            "SELECT * FROM t WHERE a = MISSING",
            vec![],
            "MISSING must be compared using IS operator",
        ),
    ];
    for (stmt, params, want) in cases {
        let e = parse(stmt)
            .and_then(|s| lower(&s, &params, &d))
            .unwrap_err();
        assert_eq!(message(e), want, "{stmt}");
    }
}

#[test]
fn the_table_name_span_covers_the_table_token_only() {
    let cases = [
        ("SELECT * FROM users WHERE pk = 'users'", "users", "users"),
        (
            "select a FROM \"users\".\"byEmail\" WHERE b = 1",
            "\"users\"",
            "users",
        ),
        (
            "INSERT INTO /* c */ users VALUE {'pk': 'x'}",
            "users",
            "users",
        ),
        (
            "UPDATE \"us\"\"ers\" SET a = 1 WHERE pk = 'x'",
            "\"us\"\"ers\"",
            "us\"ers",
        ),
        ("DELETE FROM users WHERE pk = 'x';", "users", "users"),
        (
            "EXISTS(SELECT * FROM users WHERE pk = 'x')",
            "users",
            "users",
        ),
    ];
    for (stmt, text, name) in cases {
        let (got, span) = super::table_name_span(stmt).expect(stmt);
        assert_eq!(&stmt[span], text, "{stmt}");
        assert_eq!(got, name, "{stmt}");
    }
    assert_eq!(super::table_name_span("SELECT * FROM"), None);
}
