//! The policy language and IAM's evaluation rules, table-driven.

use super::*;

const TABLE: &str = "arn:aws:dynamodb:us-east-1:000000000000:table/Games";

fn alice() -> Principal {
    Principal {
        user: "alice".into(),
        user_id: "AIDAALICE".into(),
        arn: "arn:aws:iam::000000000000:user/alice".into(),
        source_ip: Some("10.1.2.3".parse().unwrap()),
    }
}

fn decide(doc: &str, action: &str, resource: &str, keys: &[(&str, Vec<String>)]) -> Decision {
    let policy = Policy::parse(doc).unwrap();
    evaluate(
        [&policy],
        &alice(),
        &Request {
            action,
            resource,
            keys,
        },
    )
}

fn vals(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn no_allow_denies_and_deny_wins() {
    let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:Get*","Resource":"*"}]}"#;
    assert_eq!(
        decide(allow, "dynamodb:GetItem", TABLE, &[]),
        Decision::Allow
    );
    assert_eq!(
        decide(allow, "dynamodb:PutItem", TABLE, &[]),
        Decision::ImplicitDeny
    );
    // Actions are case-insensitive.
    assert_eq!(
        decide(allow, "DynamoDB:getitem", TABLE, &[]),
        Decision::Allow
    );
    let both = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"dynamodb:*","Resource":"*"},
        {"Sid":"NoDelete","Effect":"Deny","Action":["dynamodb:DeleteItem","dynamodb:DeleteTable"],"Resource":"arn:aws:dynamodb:*:*:table/Games"}]}"#;
    assert_eq!(
        decide(both, "dynamodb:GetItem", TABLE, &[]),
        Decision::Allow
    );
    assert_eq!(
        decide(both, "dynamodb:DeleteItem", TABLE, &[]),
        Decision::ExplicitDeny
    );
}

#[test]
fn resources_match_with_wildcards_and_not_forms() {
    let doc = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:Query",
        "Resource":["arn:aws:dynamodb:*:*:table/Games/index/*"]}}"#;
    assert_eq!(
        decide(
            doc,
            "dynamodb:Query",
            &format!("{TABLE}/index/ByScore"),
            &[]
        ),
        Decision::Allow
    );
    assert_eq!(
        decide(doc, "dynamodb:Query", TABLE, &[]),
        Decision::ImplicitDeny
    );
    let not = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"dynamodb:Delete*",
        "NotResource":"arn:aws:dynamodb:*:*:table/Secret"}}"#;
    assert_eq!(decide(not, "dynamodb:PutItem", TABLE, &[]), Decision::Allow);
    assert_eq!(
        decide(not, "dynamodb:DeleteItem", TABLE, &[]),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(
            not,
            "dynamodb:PutItem",
            "arn:aws:dynamodb:us-east-1:000000000000:table/Secret",
            &[]
        ),
        Decision::ImplicitDeny
    );
}

#[test]
fn leading_keys_with_the_user_name() {
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Action":["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query"],"Resource":"*",
        "Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["${aws:username}"]}}}]}"#;
    let keys = |k: &[&str]| vec![("dynamodb:LeadingKeys", vals(k))];
    assert_eq!(
        decide(doc, "dynamodb:GetItem", TABLE, &keys(&["alice"])),
        Decision::Allow
    );
    assert_eq!(
        decide(doc, "dynamodb:GetItem", TABLE, &keys(&["bob"])),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(
            doc,
            "dynamodb:BatchGetItem",
            TABLE,
            &keys(&["alice", "bob"])
        ),
        Decision::ImplicitDeny
    );
    // IAM's rule, reproduced: ForAllValues over a key the request lacks is true.
    assert_eq!(decide(doc, "dynamodb:Query", TABLE, &[]), Decision::Allow);
}

#[test]
fn single_valued_operators_hold_for_every_value() {
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"*",
        "Condition":{"StringEquals":{"dynamodb:LeadingKeys":"${aws:userid}"}}}]}"#;
    let keys = |k: &[&str]| vec![("dynamodb:LeadingKeys", vals(k))];
    assert_eq!(
        decide(doc, "dynamodb:GetItem", TABLE, &keys(&["AIDAALICE"])),
        Decision::Allow
    );
    assert_eq!(
        decide(doc, "dynamodb:GetItem", TABLE, &keys(&["AIDAALICE", "x"])),
        Decision::ImplicitDeny
    );
    // A positive operator on an absent key is false.
    assert_eq!(
        decide(doc, "dynamodb:Scan", TABLE, &[]),
        Decision::ImplicitDeny
    );
}

#[test]
fn absent_keys_follow_iams_rules() {
    let rule = |cond: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{cond}}}]}}"#
        )
    };
    let cases = [
        (
            r#"{"StringNotEquals":{"dynamodb:Select":"ALL_ATTRIBUTES"}}"#,
            true,
        ),
        (r#"{"StringEquals":{"dynamodb:Select":"COUNT"}}"#, false),
        (
            r#"{"StringEqualsIfExists":{"dynamodb:Select":"COUNT"}}"#,
            true,
        ),
        (
            r#"{"ForAnyValue:StringEquals":{"dynamodb:Attributes":"a"}}"#,
            false,
        ),
        (
            r#"{"ForAllValues:StringEquals":{"dynamodb:Attributes":"a"}}"#,
            true,
        ),
        (r#"{"Null":{"dynamodb:Select":"true"}}"#, true),
        (r#"{"Null":{"dynamodb:Select":"false"}}"#, false),
    ];
    for (cond, allowed) in cases {
        let got = decide(&rule(cond), "dynamodb:Query", TABLE, &[]);
        assert_eq!(got == Decision::Allow, allowed, "{cond}");
    }
}

#[test]
fn attributes_select_return_values_and_source_ip() {
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"*",
        "Condition":{
            "ForAllValues:StringEquals":{"dynamodb:Attributes":["pk","name","score"]},
            "StringEqualsIfExists":{"dynamodb:Select":"SPECIFIC_ATTRIBUTES","dynamodb:ReturnValues":["NONE","UPDATED_NEW"]},
            "IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}}]}"#;
    let allowed = |keys: &[(&str, Vec<String>)]| decide(doc, "dynamodb:GetItem", TABLE, keys);
    assert_eq!(
        allowed(&[
            ("dynamodb:Attributes", vals(&["pk", "name"])),
            ("dynamodb:Select", vals(&["SPECIFIC_ATTRIBUTES"]))
        ]),
        Decision::Allow
    );
    assert_eq!(
        allowed(&[("dynamodb:Attributes", vals(&["pk", "secret"]))]),
        Decision::ImplicitDeny
    );
    assert_eq!(
        allowed(&[("dynamodb:Select", vals(&["ALL_ATTRIBUTES"]))]),
        Decision::ImplicitDeny
    );
    assert_eq!(
        allowed(&[("dynamodb:ReturnValues", vals(&["ALL_OLD"]))]),
        Decision::ImplicitDeny
    );
    let policy = Policy::parse(doc).unwrap();
    let mut outside = alice();
    outside.source_ip = Some("192.168.1.1".parse().unwrap());
    let request = Request {
        action: "dynamodb:GetItem",
        resource: TABLE,
        keys: &[],
    };
    assert_eq!(
        evaluate([&policy], &outside, &request),
        Decision::ImplicitDeny
    );
    // An IPv4 client seen on an IPv6 socket.
    outside.source_ip = Some("::ffff:10.9.9.9".parse().unwrap());
    assert_eq!(evaluate([&policy], &outside, &request), Decision::Allow);
}

#[test]
fn resources_take_policy_variables() {
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"eddy:GetFunctionLogs",
        "Resource":"arn:eddy:functions:*:*:function/${aws:username}-*"}]}"#;
    let own = "arn:eddy:functions:us-east-1:000000000000:function/alice-mailer";
    let other = "arn:eddy:functions:us-east-1:000000000000:function/bob-mailer";
    assert_eq!(
        decide(doc, "eddy:GetFunctionLogs", own, &[]),
        Decision::Allow
    );
    assert_eq!(
        decide(doc, "eddy:GetFunctionLogs", other, &[]),
        Decision::ImplicitDeny
    );
}

#[test]
fn malformed_documents_are_refused_with_what_is_wrong() {
    let v = |statement: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#);
    let ok = |extra: &str| {
        v(&format!(
            r#"{{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"{extra}}}"#
        ))
    };
    let syntax = "Syntax errors in policy.";
    let cases = [
        ("not json".to_owned(), syntax),
        ("[]".to_owned(), syntax),
        (r#"{"Version":"2012-10-17"}"#.to_owned(), syntax),
        (v(""), syntax),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}"#
                .to_owned(),
            "Policy document must be version 2012-10-17 or greater.",
        ),
        (
            ok("").replace("2012-10-17", "2008-10-17"),
            "Policy document must be version 2012-10-17 or greater.",
        ),
        (ok("").replace("2012-10-17", "2013-10-17"), syntax),
        (ok(r#","Extra":"x""#), syntax),
        (v(r#"{"Action":"dynamodb:*","Resource":"*"}"#), syntax),
        (
            v(r#"{"Effect":"Permit","Action":"dynamodb:*","Resource":"*"}"#),
            syntax,
        ),
        (
            v(r#"{"Effect":"allow","Action":"dynamodb:*","Resource":"*"}"#),
            "The policy failed legacy parsing",
        ),
        (
            v(r#"{"Effect":"Allow","Resource":"*"}"#),
            "Policy statement must contain actions.",
        ),
        (
            v(r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#),
            "Policy statement must contain actions.",
        ),
        (
            v(r#"{"Effect":"Allow","Action":"dynamodb:*"}"#),
            "Policy statement must contain resources.",
        ),
        (
            v(r#"{"Effect":"Allow","Action":"GetItem","Resource":"*"}"#),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (
            v(r#"{"Effect":"Allow","Action":"dynamodb:Get:Item","Resource":"*"}"#),
            "Actions/Condition can contain only one colon.",
        ),
        (
            v(r#"{"Effect":"Allow","Action":"dynamodb:*","Resource":"games"}"#),
            r#"Resource games must be in ARN format or "*"."#,
        ),
        (
            v(r#"{"Effect":"Allow","Action":"dynamodb:*","NotAction":"s3:*","Resource":"*"}"#),
            syntax,
        ),
        (
            ok(r#","Principal":"*""#),
            "Policy document should not specify a principal.",
        ),
        (ok(r#","Condition":[]"#), syntax),
        (ok(r#","Condition":{"StringSorta":{"a:b":"c"}}"#), syntax),
        (
            ok(r#","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}"#),
            "Eddy does not support the condition operator DateGreaterThan",
        ),
        (
            ok(r#","Condition":{"IpAddress":{"aws:SourceIp":"nope"}}"#),
            "The policy failed legacy parsing",
        ),
        (ok(r#","Sid":{}"#), syntax),
        (
            v(
                r#"{"Sid":"a","Effect":"Allow","Action":"dynamodb:*","Resource":"*"},{"Sid":"a","Effect":"Deny","Action":"dynamodb:*","Resource":"*"}"#,
            ),
            "Statement IDs (SID) in a single policy must be unique.",
        ),
    ];
    for (doc, expected) in cases {
        let e = Policy::parse(&doc).unwrap_err();
        assert_eq!(e.0, expected, "{doc}");
    }
    let long = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"dynamodb:*","Resource":"{}"}}]}}"#,
        "x".repeat(POLICY_DOCUMENT_CHARS_MAX)
    );
    assert!(Policy::parse(&long).unwrap_err().0.contains("PolicySize"));
}

#[test]
fn glob_matches_like_iam() {
    for (p, t, m) in [
        ("*", "", true),
        ("a*c", "abbbc", true),
        ("a?c", "abc", true),
        ("a?c", "ac", false),
        ("*table/G*", "arn:x:table/Games", true),
        ("table/*/index/*", "table/G/stream/x", false),
        ("a*b*c", "axxbyyc", true),
        ("a*b*c", "axxbyy", false),
    ] {
        assert_eq!(glob(p, t), m, "{p} {t}");
    }
}
