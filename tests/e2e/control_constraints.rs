//! The control plane's constraint checks, operation by operation, against the members'
//! types, lengths and ranges in botocore's service model: each case sends a raw request
//! (so no client-side validation interferes) with one or more violating members and
//! asserts DynamoDB's error type and exact message. The messages and member paths are
//! those dynalite's tests and recordings of DynamoDB record; the ones no record shows
//! are marked "not confirmed" where they are checked (src/dynamodb/shape.rs).

use serde_json::{Value, json};

use crate::harness::{Server, raw_request};

/// A live table the cases that need an existing one name.
const LIVE: &str = "constraints_live";
const VE: &str = "ValidationException";

/// One case: the operation, its body, the expected error type and message.
struct Case {
    op: &'static str,
    body: Value,
    error_type: &'static str,
    message: String,
}

fn case(op: &'static str, body: Value, error_type: &'static str, message: &str) -> Case {
    Case {
        op,
        body,
        error_type,
        message: message.to_string(),
    }
}

/// A valid CreateTable body (a HASH and RANGE key, provisioned) with `extra` members
/// set over it.
fn create(extra: Value) -> Value {
    let mut body = json!({
        "TableName": "constraints_new",
        "AttributeDefinitions": [
            {"AttributeName": "a", "AttributeType": "S"},
            {"AttributeName": "b", "AttributeType": "S"}
        ],
        "KeySchema": [
            {"AttributeName": "a", "KeyType": "HASH"},
            {"AttributeName": "b", "KeyType": "RANGE"}
        ],
        "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}
    });
    if let (Some(b), Value::Object(extra)) = (body.as_object_mut(), extra) {
        b.extend(extra);
    }
    body
}

/// A valid global secondary index with `extra` members set over it.
fn gsi(extra: Value) -> Value {
    let mut ix = json!({
        "IndexName": "gsi",
        "KeySchema": [{"AttributeName": "b", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"},
        "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}
    });
    if let (Some(i), Value::Object(extra)) = (ix.as_object_mut(), extra) {
        i.extend(extra);
    }
    ix
}

fn null(path: &str) -> String {
    format!("Value null at '{path}' failed to satisfy constraint: Member must not be null")
}

fn one(error: &str) -> String {
    format!("1 validation error detected: {error}")
}

fn errors(list: &[String]) -> String {
    format!(
        "{} validation errors detected: {}",
        list.len(),
        list.join("; ")
    )
}

fn pattern(value: &str, path: &str) -> String {
    format!(
        "Value '{value}' at '{path}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    )
}

fn length(value: &str, path: &str, relation: &str, bound: usize) -> String {
    format!(
        "Value '{value}' at '{path}' failed to satisfy constraint: Member must have length {relation} {bound}"
    )
}

fn range(value: i64, path: &str, relation: &str, bound: i64) -> String {
    format!(
        "Value '{value}' at '{path}' failed to satisfy constraint: Member must have value {relation} {bound}"
    )
}

fn enum_set(value: &str, path: &str, set: &str) -> String {
    format!(
        "Value '{value}' at '{path}' failed to satisfy constraint: Member must satisfy enum value set: [{set}]"
    )
}

const GE: &str = "greater than or equal to";
const LE: &str = "less than or equal to";

fn create_table_cases() -> Vec<Case> {
    let long = "a".repeat(256);
    let g1 = "globalSecondaryIndexes.1.member";
    vec![
        case(
            "CreateTable",
            create(json!({"GlobalSecondaryIndexes": [{}]})),
            VE,
            &errors(&[
                null(&format!("{g1}.indexName")),
                null(&format!("{g1}.keySchema")),
                null(&format!("{g1}.projection")),
            ]),
        ),
        // dynalite's "bad GlobalSecondaryIndex names": in index order, each index's name
        // (its length before its pattern, as a recording shows), key schema, throughput.
        case(
            "CreateTable",
            create(json!({"GlobalSecondaryIndexes": [
                gsi(json!({"IndexName": "h;", "KeySchema": [], "Projection": {},
                    "ProvisionedThroughput": {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0}})),
                gsi(json!({"IndexName": long, "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}],
                    "Projection": {}, "ProvisionedThroughput": {}})),
            ]})),
            VE,
            &errors(&[
                length("h;", &format!("{g1}.indexName"), GE, 3),
                pattern("h;", &format!("{g1}.indexName")),
                length("[]", &format!("{g1}.keySchema"), GE, 1),
                range(
                    0,
                    &format!("{g1}.provisionedThroughput.writeCapacityUnits"),
                    GE,
                    1,
                ),
                range(
                    0,
                    &format!("{g1}.provisionedThroughput.readCapacityUnits"),
                    GE,
                    1,
                ),
                length(&long, "globalSecondaryIndexes.2.member.indexName", LE, 255),
                null("globalSecondaryIndexes.2.member.provisionedThroughput.writeCapacityUnits"),
                null("globalSecondaryIndexes.2.member.provisionedThroughput.readCapacityUnits"),
            ]),
        ),
        case(
            "CreateTable",
            create(json!({"GlobalSecondaryIndexes": [gsi(json!({"IndexName": ""}))]})),
            VE,
            &errors(&[
                length("", &format!("{g1}.indexName"), GE, 3),
                pattern("", &format!("{g1}.indexName")),
            ]),
        ),
        case(
            "CreateTable",
            create(json!({"GlobalSecondaryIndexes": [gsi(json!({"KeySchema": [{}]}))]})),
            VE,
            &errors(&[
                null(&format!("{g1}.keySchema.1.member.attributeName")),
                null(&format!("{g1}.keySchema.1.member.keyType")),
            ]),
        ),
        case(
            "CreateTable",
            create(json!({"GlobalSecondaryIndexes": [gsi(json!({"KeySchema": [
                {"AttributeName": "", "KeyType": "X"}]}))]})),
            VE,
            &errors(&[
                length("", &format!("{g1}.keySchema.1.member.attributeName"), GE, 1),
                enum_set(
                    "X",
                    &format!("{g1}.keySchema.1.member.keyType"),
                    "HASH, RANGE",
                ),
            ]),
        ),
        // dynalite's "invalid properties in GlobalSecondaryIndex".
        case(
            "CreateTable",
            create(json!({"GlobalSecondaryIndexes": [gsi(json!({"Projection":
                {"ProjectionType": "abc", "NonKeyAttributes": []}}))]})),
            VE,
            &errors(&[
                enum_set(
                    "abc",
                    &format!("{g1}.projection.projectionType"),
                    "ALL, INCLUDE, KEYS_ONLY",
                ),
                length("[]", &format!("{g1}.projection.nonKeyAttributes"), GE, 1),
            ]),
        ),
        case(
            "CreateTable",
            create(json!({"GlobalSecondaryIndexes": [gsi(json!({"Projection":
                {"ProjectionType": "INCLUDE",
                 "NonKeyAttributes": (0..21).map(|i| format!("x{i}")).collect::<Vec<_>>()}}))]})),
            VE,
            &one(&length(
                &format!(
                    "[{}]",
                    (0..21)
                        .map(|i| format!("x{i}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                &format!("{g1}.projection.nonKeyAttributes"),
                LE,
                20,
            )),
        ),
        case(
            "CreateTable",
            create(json!({"GlobalSecondaryIndexes": [gsi(json!({"Projection": {}}))]})),
            VE,
            "One or more parameter values were invalid: Unknown ProjectionType: null",
        ),
        // dynalite's "extraneous values in LocalSecondaryIndexes": the seventh is numbered
        // as sent.
        case(
            "CreateTable",
            create(json!({"LocalSecondaryIndexes": [
                {"IndexName": "lsi", "KeySchema": [
                    {"AttributeName": "a", "KeyType": "HASH"},
                    {"AttributeName": "b", "KeyType": "RANGE"}],
                 "Projection": {"ProjectionType": "ALL"}},
                {}
            ]})),
            VE,
            &errors(&[
                null("localSecondaryIndexes.2.member.indexName"),
                null("localSecondaryIndexes.2.member.keySchema"),
                null("localSecondaryIndexes.2.member.projection"),
            ]),
        ),
        // At most ten errors are reported.
        case(
            "CreateTable",
            create(json!({"GlobalSecondaryIndexes": vec![json!({}); 9]})),
            VE,
            &format!(
                "10 validation errors detected: {}",
                (1..=4)
                    .flat_map(|i| ["indexName", "keySchema", "projection"]
                        .map(|m| null(&format!("globalSecondaryIndexes.{i}.member.{m}"))))
                    .take(10)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ),
        case(
            "CreateTable",
            create(json!({"ProvisionedThroughput":
                {"ReadCapacityUnits": 1_000_000_000_001_i64, "WriteCapacityUnits": 1_000_000_000_001_i64}})),
            VE,
            "Given value 1000000000001 for ReadCapacityUnits is out of bounds",
        ),
        case(
            "CreateTable",
            create(json!({"ProvisionedThroughput":
                {"ReadCapacityUnits": 1_000_000_000_000_i64, "WriteCapacityUnits": 1_000_000_000_001_i64}})),
            VE,
            "Given value 1000000000001 for WriteCapacityUnits is out of bounds",
        ),
        // A shape error comes before the bound (dynalite).
        case(
            "CreateTable",
            create(json!({"ProvisionedThroughput":
                {"ReadCapacityUnits": 1_000_000_000_001_i64, "WriteCapacityUnits": -1}})),
            VE,
            &one(&range(
                -1,
                "provisionedThroughput.writeCapacityUnits",
                GE,
                1,
            )),
        ),
        // A recording of DynamoDB: an empty definition's type before its name.
        case(
            "CreateTable",
            create(json!({"AttributeDefinitions": [{}]})),
            VE,
            &errors(&[
                null("attributeDefinitions.1.member.attributeType"),
                null("attributeDefinitions.1.member.attributeName"),
            ]),
        ),
        // dynalite: the billing mode's throughput rule before the keys' definitions.
        case(
            "CreateTable",
            json!({"TableName": "constraints_new", "AttributeDefinitions": [],
                "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}]}),
            VE,
            "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
        ),
        case(
            "CreateTable",
            json!({"TableName": "constraints_new", "AttributeDefinitions": [],
                "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}, {"AttributeName": "a", "KeyType": "HASH"}],
                "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
                "BillingMode": "PAY_PER_REQUEST"}),
            VE,
            "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
        ),
        case(
            "CreateTable",
            create(json!({"BillingMode": ""})),
            VE,
            &one(&enum_set("", "billingMode", "PROVISIONED, PAY_PER_REQUEST")),
        ),
        case(
            "CreateTable",
            create(json!({"TableName": "abc;", "BillingMode": "X"})),
            VE,
            &errors(&[
                pattern("abc;", "tableName"),
                enum_set("X", "billingMode", "PROVISIONED, PAY_PER_REQUEST"),
            ]),
        ),
        case(
            "CreateTable",
            create(json!({"StreamSpecification": {}})),
            VE,
            &one(&null("streamSpecification.streamEnabled")),
        ),
        case(
            "CreateTable",
            create(json!({"StreamSpecification": {"StreamEnabled": true, "StreamViewType": ""}})),
            VE,
            &one(&enum_set(
                "",
                "streamSpecification.streamViewType",
                "OLD_IMAGE, KEYS_ONLY, NEW_AND_OLD_IMAGES, NEW_IMAGE",
            )),
        ),
        case(
            "CreateTable",
            create(json!({"SSESpecification": {"Enabled": true, "KMSMasterKeyId": ""}})),
            VE,
            &one(&length("", "sSESpecification.kMSMasterKeyId", GE, 1)),
        ),
        case(
            "CreateTable",
            create(json!({"SSESpecification": {"SSEType": "AES-256"}})),
            VE,
            &one(&enum_set(
                "AES-256",
                "sSESpecification.sSEType",
                "AES256, KMS",
            )),
        ),
        case(
            "CreateTable",
            create(json!({"Tags": [{}]})),
            VE,
            "The Tag Key provided is invalid, Key: null",
        ),
        case(
            "CreateTable",
            create(json!({"Tags": [{"Key": "k"}]})),
            VE,
            "The Tag Value provided is invalid, Value: null",
        ),
    ]
}

fn update_table_cases() -> Vec<Case> {
    let u1 = "globalSecondaryIndexUpdates.1.member";
    vec![
        case(
            "UpdateTable",
            json!({"TableName": LIVE, "ProvisionedThroughput": {}}),
            VE,
            &errors(&[
                null("provisionedThroughput.writeCapacityUnits"),
                null("provisionedThroughput.readCapacityUnits"),
            ]),
        ),
        // The range before the billing-mode rule (the live table is PAY_PER_REQUEST).
        case(
            "UpdateTable",
            json!({"TableName": LIVE, "ProvisionedThroughput": {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0}}),
            VE,
            &errors(&[
                range(0, "provisionedThroughput.writeCapacityUnits", GE, 1),
                range(0, "provisionedThroughput.readCapacityUnits", GE, 1),
            ]),
        ),
        case(
            "UpdateTable",
            json!({"TableName": LIVE, "ProvisionedThroughput":
                {"ReadCapacityUnits": 1_000_000_000_001_i64, "WriteCapacityUnits": 1}}),
            VE,
            "Given value 1000000000001 for ReadCapacityUnits is out of bounds",
        ),
        case(
            "UpdateTable",
            json!({"TableName": LIVE, "GlobalSecondaryIndexUpdates": [{"Update": {"IndexName": "gsi1",
                "ProvisionedThroughput": {"ReadCapacityUnits": 1_000_000_000_001_i64, "WriteCapacityUnits": 1}}}]}),
            VE,
            "Given value 1000000000001 for ReadCapacityUnits is out of bounds for index gsi1",
        ),
        case(
            "UpdateTable",
            json!({"TableName": LIVE, "GlobalSecondaryIndexUpdates": [{"Update": {"IndexName": "gsi1",
                "ProvisionedThroughput": {}}}]}),
            VE,
            &errors(&[
                null(&format!(
                    "{u1}.update.provisionedThroughput.writeCapacityUnits"
                )),
                null(&format!(
                    "{u1}.update.provisionedThroughput.readCapacityUnits"
                )),
            ]),
        ),
        // A recording of DynamoDB: on an on-demand table an index update may only change
        // its on-demand or warm throughput.
        case(
            "UpdateTable",
            json!({"TableName": LIVE, "GlobalSecondaryIndexUpdates": [{"Update": {"IndexName": "gsi1"}}]}),
            VE,
            "One or more parameter values were invalid: The only Updates for index: gsi1 when TableThroughputMode is PAY_PER_REQUEST can be to OnDemandThroughput, WarmThroughput",
        ),
        case(
            "UpdateTable",
            json!({"TableName": LIVE, "OnDemandThroughput": {"MaxReadRequestUnits": 0, "MaxWriteRequestUnits": 0}}),
            VE,
            "One or more parameter values were invalid: Requested MaxReadRequestUnits for OnDemandThroughput for table is outside of valid range",
        ),
        // Recorded (ack-api-quirks): CreateTable has no maximum to remove, so -1 is out
        // of range there, and the read member is named first.
        case(
            "CreateTable",
            create(
                json!({"BillingMode": "PAY_PER_REQUEST", "ProvisionedThroughput": null,
                "OnDemandThroughput": {"MaxReadRequestUnits": -1, "MaxWriteRequestUnits": -2}}),
            ),
            VE,
            "One or more parameter values were invalid: Requested MaxReadRequestUnits for OnDemandThroughput for table is outside of valid range",
        ),
        case(
            "UpdateTable",
            json!({"TableName": LIVE, "GlobalSecondaryIndexUpdates": [{"Create": {}}]}),
            VE,
            &errors(&[
                null(&format!("{u1}.create.indexName")),
                null(&format!("{u1}.create.keySchema")),
                null(&format!("{u1}.create.projection")),
            ]),
        ),
        case(
            "UpdateTable",
            json!({"TableName": LIVE, "GlobalSecondaryIndexUpdates": [{"Create": {"IndexName": "",
                "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"}}}]}),
            VE,
            &errors(&[
                length("", &format!("{u1}.create.indexName"), GE, 3),
                pattern("", &format!("{u1}.create.indexName")),
            ]),
        ),
        case(
            "UpdateTable",
            json!({"TableName": LIVE, "GlobalSecondaryIndexUpdates": [{"Delete": {"IndexName": "x;"}}]}),
            VE,
            &errors(&[
                length("x;", &format!("{u1}.delete.indexName"), GE, 3),
                pattern("x;", &format!("{u1}.delete.indexName")),
            ]),
        ),
        case(
            "UpdateTable",
            json!({"TableName": LIVE, "StreamSpecification": {"StreamEnabled": true, "StreamViewType": ""}}),
            VE,
            &one(&enum_set(
                "",
                "streamSpecification.streamViewType",
                "OLD_IMAGE, KEYS_ONLY, NEW_AND_OLD_IMAGES, NEW_IMAGE",
            )),
        ),
        case(
            "UpdateTable",
            json!({"TableName": LIVE, "SSESpecification": {"KMSMasterKeyId": ""}}),
            VE,
            &one(&length("", "sSESpecification.kMSMasterKeyId", GE, 1)),
        ),
        case(
            "UpdateTable",
            json!({"TableName": LIVE, "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": ""}],
                "DeletionProtectionEnabled": false}),
            VE,
            &one(&enum_set(
                "",
                "attributeDefinitions.1.member.attributeType",
                "B, N, S",
            )),
        ),
    ]
}

fn other_cases() -> Vec<Case> {
    let long = "a".repeat(256);
    let ttl = |spec: Value| json!({"TableName": LIVE, "TimeToLiveSpecification": spec});
    vec![
        case(
            "ListTables",
            json!({"Limit": 101}),
            VE,
            &one(&range(101, "limit", LE, 100)),
        ),
        case(
            "ListTables",
            json!({"ExclusiveStartTableName": ""}),
            VE,
            &errors(&[
                pattern("", "exclusiveStartTableName"),
                length("", "exclusiveStartTableName", GE, 3),
            ]),
        ),
        case(
            "ListTables",
            json!({"ExclusiveStartTableName": "a;", "Limit": 500}),
            VE,
            &errors(&[
                range(500, "limit", LE, 100),
                pattern("a;", "exclusiveStartTableName"),
                length("a;", "exclusiveStartTableName", GE, 3),
            ]),
        ),
        case(
            "ListTables",
            json!({"ExclusiveStartTableName": long}),
            VE,
            &one(&length(&long, "exclusiveStartTableName", LE, 255)),
        ),
        case(
            "ListGlobalTables",
            json!({"Limit": 0}),
            VE,
            &one(&range(0, "limit", GE, 1)),
        ),
        case(
            "ListGlobalTables",
            json!({"ExclusiveStartGlobalTableName": "a;"}),
            VE,
            &errors(&[
                pattern("a;", "exclusiveStartGlobalTableName"),
                length("a;", "exclusiveStartGlobalTableName", GE, 3),
            ]),
        ),
        case(
            "UpdateTimeToLive",
            ttl(json!({})),
            VE,
            &errors(&[
                null("timeToLiveSpecification.attributeName"),
                null("timeToLiveSpecification.enabled"),
            ]),
        ),
        case(
            "UpdateTimeToLive",
            ttl(json!({"AttributeName": "x"})),
            VE,
            &one(&null("timeToLiveSpecification.enabled")),
        ),
        case(
            "UpdateTimeToLive",
            ttl(json!({"AttributeName": "", "Enabled": true})),
            VE,
            &one(&length("", "timeToLiveSpecification.attributeName", GE, 1)),
        ),
        case(
            "UpdateTimeToLive",
            ttl(json!({"AttributeName": long, "Enabled": true})),
            VE,
            &one(&length(
                &long,
                "timeToLiveSpecification.attributeName",
                LE,
                255,
            )),
        ),
        case(
            "DescribeTimeToLive",
            json!({"TableName": "abc;"}),
            VE,
            &one(&pattern("abc;", "tableName")),
        ),
        case(
            "DescribeTable",
            json!({}),
            VE,
            "The parameter 'TableName' is required but was not present in the request",
        ),
        case(
            "DeleteTable",
            json!({"TableName": long}),
            VE,
            "TableName must be at least 3 characters long and at most 255 characters long",
        ),
        case(
            "TagResource",
            json!({"ResourceArn": format!("arn:aws:dynamodb:us-east-1:000000000000:table/{LIVE}"),
                "Tags": [{"Key": "k"}]}),
            VE,
            "The Tag Value provided is invalid, Value: null",
        ),
        case(
            "UntagResource",
            json!({"ResourceArn": format!("arn:aws:dynamodb:us-east-1:000000000000:table/{LIVE}"),
                "TagKeys": []}),
            VE,
            "Atleast one Tag Key needs to be provided as Input.",
        ),
        case(
            "UntagResource",
            json!({"ResourceArn": format!("arn:aws:dynamodb:us-east-1:000000000000:table/{LIVE}"),
                "TagKeys": [""]}),
            VE,
            "The Tag Key provided is invalid, Key: ",
        ),
        case(
            "DescribeContributorInsights",
            json!({"TableName": LIVE, "IndexName": ""}),
            VE,
            "IndexName must be at least 3 characters long and at most 255 characters long",
        ),
        case(
            "DescribeContinuousBackups",
            json!({"TableName": ""}),
            VE,
            "TableName must be at least 3 characters long and at most 255 characters long",
        ),
        case(
            "DescribeContinuousBackups",
            json!({"TableName": "abc;"}),
            VE,
            &one(&pattern("abc;", "tableName")),
        ),
    ]
}

fn send(server: &Server, op: &str, body: &Value) -> (u16, Value) {
    let (status, text) = raw_request(
        &server.endpoint,
        "POST",
        Some(&format!("DynamoDB_20120810.{op}")),
        &body.to_string(),
    );
    let parsed = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, parsed)
}

#[test]
fn control_plane_constraints_answer_as_dynamodb_does() {
    let server = Server::start();
    let (status, _) = send(
        &server,
        "CreateTable",
        &json!({
            "TableName": LIVE,
            "AttributeDefinitions": [
                {"AttributeName": "a", "AttributeType": "S"},
                {"AttributeName": "b", "AttributeType": "S"}
            ],
            "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
            "GlobalSecondaryIndexes": [{
                "IndexName": "gsi1",
                "KeySchema": [{"AttributeName": "b", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"}
            }]
        }),
    );
    assert_eq!(status, 200);
    let cases: Vec<Case> = create_table_cases()
        .into_iter()
        .chain(update_table_cases())
        .chain(other_cases())
        .collect();
    let mut failures = Vec::new();
    for c in &cases {
        let (status, body) = send(&server, c.op, &c.body);
        let error_type = body["__type"]
            .as_str()
            .and_then(|t| t.rsplit('#').next())
            .unwrap_or("<none>");
        let message = body["message"].as_str().unwrap_or("<none>");
        if status != 400 || error_type != c.error_type || message != c.message {
            failures.push(format!(
                "{} {}\n  expected {} {}\n  got {status} {error_type} {message}",
                c.op, c.body, c.error_type, c.message
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // Nothing refused was applied: no table was created, the live one is unchanged.
    let (_, listed) = send(&server, "ListTables", &json!({}));
    assert_eq!(listed["TableNames"], json!([LIVE]));
    let (_, described) = send(&server, "DescribeTable", &json!({"TableName": LIVE}));
    assert_eq!(
        described["Table"]["BillingModeSummary"]["BillingMode"],
        "PAY_PER_REQUEST"
    );
    assert!(described["Table"]["StreamSpecification"].is_null());
    let (_, ttl) = send(&server, "DescribeTimeToLive", &json!({"TableName": LIVE}));
    assert_eq!(ttl["TimeToLiveDescription"]["TimeToLiveStatus"], "DISABLED");
}
