//! The control plane's settings and its refusals, through the AWS SDK for Rust (raw
//! JSON where an SDK cannot send the mistake): deletion protection, the table class,
//! UpdateTable's member rules, CreateTable's validation order, and the tags' errors.
//! Each refusal is checked for DynamoDB's code and exact message.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableClass,
};

use crate::harness::{Server, raw_request, table_name};

/// The code and message of an SDK error.
fn refusal<E: ProvideErrorMetadata>(e: &E) -> (String, String) {
    (
        e.code().unwrap_or("<none>").to_string(),
        e.message().unwrap_or("<none>").to_string(),
    )
}

fn validation(message: &str) -> (String, String) {
    ("ValidationException".to_string(), message.to_string())
}

/// A CreateTable request for a hash-key table `pk` (S), on demand.
fn create_request(
    c: &aws_sdk_dynamodb::Client,
    name: &str,
) -> aws_sdk_dynamodb::operation::create_table::builders::CreateTableFluentBuilder {
    c.create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
}

const PROTECTED: &str = "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.";

/// CreateTable keeps `DeletionProtectionEnabled`; DeleteTable is refused while it is on,
/// across a restart, until UpdateTable turns it off.
#[tokio::test]
async fn deletion_protection_refuses_delete_table_until_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let t = table_name("protected");
    {
        let server = Server::start_in(dir.path(), &[]);
        let c = server.client();
        let created = create_request(&c, &t)
            .deletion_protection_enabled(true)
            .send()
            .await
            .unwrap();
        let desc = created.table_description().unwrap();
        assert_eq!(desc.deletion_protection_enabled(), Some(true));
        // No class was given, so DynamoDB reports none.
        assert!(desc.table_class_summary().is_none());
        let e = c.delete_table().table_name(&t).send().await.unwrap_err();
        assert_eq!(refusal(&e), validation(PROTECTED));
        server.terminate();
    }
    let server = Server::start_in(dir.path(), &[]);
    let c = server.client();
    let t_desc = c.describe_table().table_name(&t).send().await.unwrap();
    assert_eq!(
        t_desc.table().unwrap().deletion_protection_enabled(),
        Some(true),
        "the flag survives a restart"
    );
    let e = c.delete_table().table_name(&t).send().await.unwrap_err();
    assert_eq!(refusal(&e), validation(PROTECTED));
    // The table is still there, and usable.
    c.put_item()
        .table_name(&t)
        .item("pk", aws_sdk_dynamodb::types::AttributeValue::S("a".into()))
        .send()
        .await
        .unwrap();

    let updated = c
        .update_table()
        .table_name(&t)
        .deletion_protection_enabled(false)
        .send()
        .await
        .unwrap();
    assert_eq!(
        updated
            .table_description()
            .unwrap()
            .deletion_protection_enabled(),
        Some(false)
    );
    let deleted = c.delete_table().table_name(&t).send().await.unwrap();
    assert_eq!(
        deleted
            .table_description()
            .unwrap()
            .deletion_protection_enabled(),
        Some(false)
    );
    let e = c.describe_table().table_name(&t).send().await.unwrap_err();
    assert_eq!(refusal(&e).0, "ResourceNotFoundException");
}

/// UpdateTable can turn protection on for an unprotected table; the table class is
/// reported once set, with its update time only after UpdateTable changed it.
#[tokio::test]
async fn update_table_sets_protection_and_table_class() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("class");
    let created = create_request(&c, &t)
        .table_class(TableClass::StandardInfrequentAccess)
        .send()
        .await
        .unwrap();
    let summary = created
        .table_description()
        .unwrap()
        .table_class_summary()
        .expect("a class given at creation is reported")
        .clone();
    assert_eq!(
        summary.table_class(),
        Some(&TableClass::StandardInfrequentAccess)
    );
    assert!(summary.last_update_date_time().is_none());

    let updated = c
        .update_table()
        .table_name(&t)
        .table_class(TableClass::Standard)
        .send()
        .await
        .unwrap();
    let summary = updated
        .table_description()
        .unwrap()
        .table_class_summary()
        .unwrap()
        .clone();
    assert_eq!(summary.table_class(), Some(&TableClass::Standard));
    assert!(summary.last_update_date_time().is_some());

    c.update_table()
        .table_name(&t)
        .deletion_protection_enabled(true)
        .send()
        .await
        .unwrap();
    let e = c.delete_table().table_name(&t).send().await.unwrap_err();
    assert_eq!(refusal(&e), validation(PROTECTED));
    let d = c.describe_table().table_name(&t).send().await.unwrap();
    assert_eq!(d.table().unwrap().deletion_protection_enabled(), Some(true));
}

/// UpdateTable's member rules: at least one change; deletion protection and the table
/// class alone. They are checked before the table is looked up, as DynamoDB does.
#[tokio::test]
async fn update_table_member_rules() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("members");
    create_request(&c, &t).send().await.unwrap();

    let nothing = "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates, SSESpecification, ReplicaUpdates, MultiAccountReplicaReady, ReplicaTransitRoleArn, MultiRegionConsistency, DeletionProtectionEnabled, OnDemandThroughput, WarmThroughput or TableClass is required";
    for name in [t.as_str(), "no-such-table"] {
        let e = c.update_table().table_name(name).send().await.unwrap_err();
        assert_eq!(refusal(&e), validation(nothing), "{name}");
    }
    let e = c
        .update_table()
        .table_name(&t)
        .deletion_protection_enabled(true)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        refusal(&e),
        validation(
            "One or more parameter values were invalid: DeletionProtection modification must be the only operation in the request"
        )
    );
    let e = c
        .update_table()
        .table_name(&t)
        .table_class(TableClass::Standard)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        refusal(&e),
        validation(
            "One or more parameter values were invalid: TableClass modification must be the only operation in the request"
        )
    );
    // A stream change with provisioned throughput, or with a switch to provisioned.
    let stream = aws_sdk_dynamodb::types::StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::NewImage)
        .build()
        .unwrap();
    let throughput = aws_sdk_dynamodb::types::ProvisionedThroughput::builder()
        .read_capacity_units(5)
        .write_capacity_units(5)
        .build()
        .unwrap();
    for with_mode in [false, true] {
        let mut req = c
            .update_table()
            .table_name(&t)
            .stream_specification(stream.clone())
            .provisioned_throughput(throughput.clone());
        if with_mode {
            req = req.billing_mode(BillingMode::Provisioned);
        }
        let e = req.send().await.unwrap_err();
        assert_eq!(
            refusal(&e),
            validation(
                "One or more parameter values were invalid: You cannot modify stream status while updating table IOPS"
            ),
            "with BillingMode: {with_mode}"
        );
    }
    // Nothing of a refused request was applied.
    let d = c.describe_table().table_name(&t).send().await.unwrap();
    let d = d.table().unwrap();
    assert_eq!(d.deletion_protection_enabled(), Some(false));
    assert!(d.table_class_summary().is_none());
    assert!(d.stream_specification().is_none());
    assert_eq!(
        d.billing_mode_summary().and_then(|b| b.billing_mode()),
        Some(&BillingMode::PayPerRequest)
    );
    // With a switch to on demand, the stream change is accepted.
    c.update_table()
        .table_name(&t)
        .stream_specification(stream)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();

    for op in ["CreateTable", "UpdateTable"] {
        let body = if op == "CreateTable" {
            serde_json::json!({
                "TableName": table_name("badclass"),
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
                "TableClass": "standard",
            })
        } else {
            serde_json::json!({"TableName": t, "TableClass": "junk"})
        };
        let (status, body) = raw_request(
            &server.endpoint,
            "POST",
            Some(&format!("DynamoDB_20120810.{op}")),
            &body.to_string(),
        );
        assert_eq!(status, 400, "{op}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v["__type"], "com.amazon.coral.validate#ValidationException",
            "{op}"
        );
        assert_eq!(
            v["message"],
            "Invalid table-class parameter provided. Please try again with a valid table-class value: [STANDARD, STANDARD_INFREQUENT_ACCESS].",
            "{op}"
        );
    }
}

/// Sends `body` to `op` as raw JSON and returns DynamoDB's error type (the part of
/// `__type` after `#`) and message; the request must fail with status 400.
fn raw_refusal(endpoint: &str, op: &str, body: serde_json::Value) -> (String, String) {
    let (status, text) = raw_request(
        endpoint,
        "POST",
        Some(&format!("DynamoDB_20120810.{op}")),
        &body.to_string(),
    );
    assert_eq!(status, 400, "{op}: {text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let kind = v["__type"].as_str().unwrap_or_default();
    (
        kind.rsplit_once('#').map_or(kind, |(_, c)| c).to_string(),
        v["message"].as_str().unwrap_or_default().to_string(),
    )
}

/// CreateTable's first errors, in DynamoDB's order: a missing or wrong-length table
/// name on its own, then every shape violation together (missing members are
/// ValidationExceptions, over-long key names are reported before any rule about what
/// the definitions mean), then the rules (duplicate definitions).
#[test]
fn create_table_validation_order_and_messages() {
    let server = Server::start();
    let e = &server.endpoint;
    let long = "k".repeat(256);
    let null = |f: &str| {
        format!("Value null at '{f}' failed to satisfy constraint: Member must not be null")
    };
    let cases: Vec<(serde_json::Value, String)> = vec![
        (
            serde_json::json!({}),
            "The parameter 'TableName' is required but was not present in the request".into(),
        ),
        (
            serde_json::json!({"TableName": "a;"}),
            "TableName must be at least 3 characters long and at most 255 characters long".into(),
        ),
        (
            serde_json::json!({"TableName": "abc;"}),
            format!(
                "3 validation errors detected: {}; Value 'abc;' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; {}",
                null("attributeDefinitions"),
                null("keySchema")
            ),
        ),
        (
            serde_json::json!({
                "TableName": "abc",
                "AttributeDefinitions": [{}],
                "KeySchema": [{"AttributeName": "pk"}],
                "BillingMode": "PAY_PER_REQUEST",
            }),
            format!(
                "3 validation errors detected: {}; {}; {}",
                // The type first, as recordings of DynamoDB show.
                null("attributeDefinitions.1.member.attributeType"),
                null("attributeDefinitions.1.member.attributeName"),
                null("keySchema.1.member.keyType")
            ),
        ),
        (
            serde_json::json!({
                "TableName": "abc",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": long, "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
            }),
            format!(
                "1 validation error detected: Value '{long}' at 'keySchema.1.member.attributeName' failed to satisfy constraint: Member must have length less than or equal to 255"
            ),
        ),
        (
            serde_json::json!({
                "TableName": "abc",
                "AttributeDefinitions": [{"AttributeName": "", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "ProvisionedThroughput": {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0},
            }),
            "3 validation errors detected: Value '' at 'attributeDefinitions.1.member.attributeName' failed to satisfy constraint: Member must have length greater than or equal to 1; Value '0' at 'provisionedThroughput.writeCapacityUnits' failed to satisfy constraint: Member must have value greater than or equal to 1; Value '0' at 'provisionedThroughput.readCapacityUnits' failed to satisfy constraint: Member must have value greater than or equal to 1".into(),
        ),
        (
            serde_json::json!({
                "TableName": "abc",
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "pk", "AttributeType": "N"},
                ],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
            }),
            "Attribute Name is duplicated: pk".into(),
        ),
    ];
    for (body, message) in cases {
        assert_eq!(
            raw_refusal(e, "CreateTable", body.clone()),
            validation(&message),
            "{body}"
        );
    }
    // The other control-plane operations check the name the same way.
    for op in ["DescribeTable", "DeleteTable", "UpdateTable"] {
        assert_eq!(
            raw_refusal(e, op, serde_json::json!({})),
            validation("The parameter 'TableName' is required but was not present in the request"),
            "{op}"
        );
        assert_eq!(
            raw_refusal(e, op, serde_json::json!({"TableName": "ab"})),
            validation(
                "TableName must be at least 3 characters long and at most 255 characters long"
            ),
            "{op}"
        );
        assert_eq!(
            raw_refusal(
                e,
                op,
                serde_json::json!({"TableName": "ab c", "BillingMode": "PAY_PER_REQUEST"})
            ),
            validation(
                "1 validation error detected: Value 'ab c' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
            ),
            "{op}"
        );
    }
    // Nothing was created by any of the refused requests.
    let listed = crate::api::ddb(e, "ListTables", serde_json::json!({}));
    assert_eq!(listed["TableNames"], serde_json::json!([]));
}

fn tag(k: &str, v: &str) -> aws_sdk_dynamodb::types::Tag {
    aws_sdk_dynamodb::types::Tag::builder()
        .key(k)
        .value(v)
        .build()
        .unwrap()
}

/// The tag operations' refusals: resource ARNs that are not table ARNs of this server
/// (each with DynamoDB's own message), unknown tables, and tags DynamoDB does not take.
/// A refused request applies none of its tags.
#[tokio::test]
async fn tag_operations_refuse_bad_arns_and_tags() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("tags");
    let created = create_request(&c, &t).send().await.unwrap();
    let arn = created
        .table_description()
        .unwrap()
        .table_arn()
        .unwrap()
        .to_string();
    let (prefix, _) = arn.rsplit_once(":table/").unwrap();
    let other_region = arn.replacen(":us-east-1:", ":eu-west-1:", 1);
    assert_ne!(other_region, arn, "the server's region is us-east-1");
    let missing = format!("{prefix}:table/no-such-table");
    let invalid = "One or more parameter values were invalid: ";
    let arn_cases = [
        (
            "abcd".to_string(),
            validation(&format!("{invalid}ARNs must start with 'arn:': abcd")),
        ),
        (
            "arn:aws:s3:::bucket".to_string(),
            validation(&format!(
                "{invalid}Provided Arn is not a DynamoDB resource arn: arn:aws:s3:::bucket"
            )),
        ),
        (
            format!("{arn}/index/by-x"),
            validation(&format!(
                "{invalid}Invalid resource arn provided, only table or stream is accepted. Provided resource arn: {arn}/index/by-x"
            )),
        ),
        (
            other_region.clone(),
            validation(&format!(
                "Invalid TableArn: Invalid ResourceArn provided as input {other_region}"
            )),
        ),
        (
            format!("{prefix}:table/ab"),
            validation(&format!(
                "Invalid TableArn: Invalid ResourceArn provided as input {prefix}:table/ab"
            )),
        ),
        (
            missing.clone(),
            (
                "ResourceNotFoundException".to_string(),
                format!("Requested resource not found: ResourcArn: {missing} not found"),
            ),
        ),
    ];
    for (bad, expected) in &arn_cases {
        let e = c
            .list_tags_of_resource()
            .resource_arn(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(&refusal(&e), expected, "ListTagsOfResource {bad}");
        let e = c
            .tag_resource()
            .resource_arn(bad)
            .tags(tag("k", "v"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(&refusal(&e), expected, "TagResource {bad}");
        let e = c
            .untag_resource()
            .resource_arn(bad)
            .tag_keys("k")
            .send()
            .await
            .unwrap_err();
        assert_eq!(&refusal(&e), expected, "UntagResource {bad}");
    }

    // Letters of any script, white space and + - = . _ : / @ are taken.
    c.tag_resource()
        .resource_arn(&arn)
        .tags(tag("ключ", "a+b-c=d.e_f:g/h@i"))
        .tags(tag("empty", ""))
        .send()
        .await
        .unwrap();
    let long_key = "k".repeat(129);
    let long_value = "v".repeat(257);
    let tag_cases = [
        (
            vec![],
            "Atleast one Tag needs to be provided as Input.".to_string(),
        ),
        (
            vec![tag("ok", "1"), tag("a#b", "v")],
            "The Tag Key provided is invalid, Key: a#b".to_string(),
        ),
        (
            vec![tag(&long_key, "v")],
            format!("The Tag Key provided is invalid, Key: {long_key}"),
        ),
        (
            vec![tag("k", &long_value)],
            format!("The Tag Value provided is invalid, Value: {long_value}"),
        ),
        (
            vec![tag("k", "100%")],
            "The Tag Value provided is invalid, Value: 100%".to_string(),
        ),
        (
            vec![tag("ok", "1"), tag("aws:zzz", "v")],
            "Tag Key cannot be prefixed with aws:, Key: aws:zzz".to_string(),
        ),
        (
            vec![tag("dup", "1"), tag("dup", "2")],
            "Duplicate Tag Keys provided as input: Duplicate Tag Key found dup".to_string(),
        ),
        (
            (0..49).map(|i| tag(&format!("n{i}"), "v")).collect(),
            "Number of Tags exceed the current limit for the provided ResourceArn".to_string(),
        ),
    ];
    for (tags, message) in tag_cases {
        let e = c
            .tag_resource()
            .resource_arn(&arn)
            .set_tags(Some(tags))
            .send()
            .await
            .unwrap_err();
        assert_eq!(refusal(&e), validation(&message));
    }
    let e = c
        .untag_resource()
        .resource_arn(&arn)
        .set_tag_keys(Some(vec![]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        refusal(&e),
        validation("Atleast one Tag Key needs to be provided as Input.")
    );
    // Only the accepted tags are there.
    let listed = c
        .list_tags_of_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    let mut keys: Vec<&str> = listed.tags().iter().map(|t| t.key()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["empty", "ключ"]);

    // What SDKs cannot send: no ResourceArn, a tag without its value.
    let e = &server.endpoint;
    assert_eq!(
        raw_refusal(e, "ListTagsOfResource", serde_json::json!({})),
        validation("Invalid TableArn")
    );
    assert_eq!(
        raw_refusal(
            e,
            "TagResource",
            serde_json::json!({"ResourceArn": arn, "Tags": [{"Key": "k"}]})
        ),
        validation("The Tag Value provided is invalid, Value: null")
    );

    // CreateTable checks its tags the same way and creates nothing when they are refused.
    let t2 = table_name("tags51");
    let e = create_request(&c, &t2)
        .set_tags(Some((0..51).map(|i| tag(&format!("n{i}"), "v")).collect()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        refusal(&e),
        validation("Number of Tags exceed the current limit for the provided ResourceArn")
    );
    let e = c.describe_table().table_name(&t2).send().await.unwrap_err();
    assert_eq!(refusal(&e).0, "ResourceNotFoundException");
}

/// DeleteTable describes the table without its key schema, attribute definitions,
/// creation time and indexes, as DynamoDB does; DescribeTable has them all.
#[test]
fn delete_table_leaves_out_schema_and_indexes() {
    let server = Server::start();
    let e = &server.endpoint;
    let t = table_name("deldesc");
    crate::api::ddb(
        e,
        "CreateTable",
        serde_json::json!({
            "TableName": t,
            "AttributeDefinitions": [
                {"AttributeName": "p", "AttributeType": "S"},
                {"AttributeName": "c", "AttributeType": "S"},
                {"AttributeName": "x", "AttributeType": "S"},
            ],
            "KeySchema": [
                {"AttributeName": "p", "KeyType": "HASH"},
                {"AttributeName": "c", "KeyType": "RANGE"},
            ],
            "GlobalSecondaryIndexes": [{
                "IndexName": "hello",
                "KeySchema": [{"AttributeName": "x", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }],
            "LocalSecondaryIndexes": [{
                "IndexName": "hithere",
                "KeySchema": [
                    {"AttributeName": "p", "KeyType": "HASH"},
                    {"AttributeName": "x", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }],
            "BillingMode": "PAY_PER_REQUEST",
        }),
    );
    let left_out = [
        "KeySchema",
        "AttributeDefinitions",
        "CreationDateTime",
        "GlobalSecondaryIndexes",
        "LocalSecondaryIndexes",
    ];
    let described = crate::api::ddb(e, "DescribeTable", serde_json::json!({"TableName": t}));
    for m in left_out {
        assert!(described["Table"].get(m).is_some(), "DescribeTable has {m}");
    }
    let deleted = crate::api::ddb(e, "DeleteTable", serde_json::json!({"TableName": t}));
    let d = &deleted["TableDescription"];
    for m in left_out {
        assert!(d.get(m).is_none(), "DeleteTable leaves out {m}: {d}");
    }
    assert_eq!(d["TableName"], serde_json::json!(t));
    assert_eq!(d["TableStatus"], "DELETING");
    assert_eq!(d["TableArn"], described["Table"]["TableArn"]);
    assert_eq!(d["TableId"], described["Table"]["TableId"]);
    assert_eq!(d["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(d["ItemCount"], 0);
    assert_eq!(d["TableSizeBytes"], 0);
    assert_eq!(d["ProvisionedThroughput"]["ReadCapacityUnits"], 0);
}

/// `--in-memory` keeps its scratch store in `<temp>/eddy-mem-<pid>`: a clean shutdown
/// removes it, and a server starting removes those of processes that are gone (killed
/// with SIGKILL), which a test run leaves by the hundred.
#[tokio::test]
async fn in_memory_scratch_directories_do_not_outlive_their_servers() {
    let temp = std::env::temp_dir();
    // A process id above the kernel's largest (4,194,304) names no process.
    let orphan = temp.join("eddy-mem-4999999");
    std::fs::create_dir_all(orphan.join("keyspaces")).unwrap();
    std::fs::write(orphan.join("0.jnl"), b"journal").unwrap();
    let server = Server::start_with(&["--in-memory"]);
    let scratch = temp.join(format!("eddy-mem-{}", server.pid()));
    assert!(scratch.is_dir(), "{} while serving", scratch.display());
    assert!(!orphan.exists(), "an orphaned scratch directory was left");
    let c = server.client();
    c.list_tables().send().await.unwrap();
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    assert!(
        !scratch.exists(),
        "{} after a clean shutdown",
        scratch.display()
    );
}
