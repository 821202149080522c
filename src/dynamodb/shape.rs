//! DynamoDB's shape validation of the control plane's requests: the members a request
//! leaves out, their lengths, ranges and enum values, reported together ("N validation
//! errors detected: ...", at most ten) in the order DynamoDB reports them, before any
//! rule about what the members mean.
//!
//! Owns that first pass, its messages, and the request shapes it reads (attribute
//! definitions, key schema elements, provisioned throughput, indexes, projections, stream
//! and SSE specifications). Must not know what a valid key schema or index is (the
//! engine checks that afterwards) nor how a request is carried out.
//!
//! The errors are listed in the order dynalite's tests (written against real DynamoDB)
//! name them: `attributeDefinitions` (each member's type, then its name), then
//! `tableName`, then `provisionedThroughput` (write units, then read units), then
//! `keySchema` (its length, then each member's name and key type), then the indexes
//! (each: name, key schema, projection, throughput). dynalite's tests check which
//! errors a message lists, not their order, so where a recording of DynamoDB's own
//! answer shows an order it wins (an attribute definition's type before its name, an
//! index's name before its key schema). Where the members after the indexes go
//! (`billingMode`, `streamSpecification`, `sSESpecification`) no record shows; they
//! follow in the API reference's order.

use eddy_engine::{check_table_name_length, constraint_errors, table_name_pattern_error};
use serde::Deserialize;

use super::violations::{
    NAME_PATTERN, enum_violation, length_violation, range_violation, violation,
};
use crate::error::ApiError;

/// An `AttributeDefinition`; a member left out is DynamoDB's ValidationException
/// (reported by this pass), not a SerializationException, so every member is optional here.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AttributeDefinition {
    pub(super) attribute_name: Option<String>,
    pub(super) attribute_type: Option<String>,
}

/// A `KeySchemaElement`; optional members for the same reason.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeySchemaElement {
    pub(super) attribute_name: Option<String>,
    pub(super) key_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ProvisionedThroughput {
    pub(super) read_capacity_units: Option<i64>,
    pub(super) write_capacity_units: Option<i64>,
}

/// A `GlobalSecondaryIndex` or `LocalSecondaryIndex` of CreateTable, or the `Create`
/// of an UpdateTable index update.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct WireIndex {
    pub(super) index_name: Option<String>,
    pub(super) key_schema: Option<Vec<KeySchemaElement>>,
    pub(super) projection: Option<WireProjection>,
    pub(super) provisioned_throughput: Option<ProvisionedThroughput>,
    /// A global index's; a local index has neither member in the API, and is not read
    /// for them.
    pub(super) on_demand_throughput: Option<WireOnDemandThroughput>,
    pub(super) warm_throughput: Option<WireWarmThroughput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct WireProjection {
    pub(super) projection_type: Option<String>,
    pub(super) non_key_attributes: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct WireStreamSpecification {
    pub(super) stream_enabled: Option<bool>,
    pub(super) stream_view_type: Option<String>,
}

/// `SSESpecification`: its member constraints are checked here, its meaning in `sse.rs`.
#[derive(Deserialize)]
pub(super) struct WireSseSpecification {
    #[serde(rename = "Enabled")]
    pub(super) enabled: Option<bool>,
    #[serde(rename = "SSEType")]
    pub(super) sse_type: Option<String>,
    #[serde(rename = "KMSMasterKeyId")]
    pub(super) kms_master_key_id: Option<String>,
}

/// `OnDemandThroughput` of a table or a global index.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct WireOnDemandThroughput {
    pub(super) max_read_request_units: Option<i64>,
    pub(super) max_write_request_units: Option<i64>,
}

/// `WarmThroughput` of a table or a global index.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct WireWarmThroughput {
    pub(super) read_units_per_second: Option<i64>,
    pub(super) write_units_per_second: Option<i64>,
}

/// DynamoDB's bounds on a key attribute name (`KeySchemaAttributeName`), in characters.
const KEY_ATTRIBUTE_NAME_CHARS_MIN: usize = 1;
const KEY_ATTRIBUTE_NAME_CHARS_MAX: usize = 255;
/// DynamoDB's bounds on an index name (`IndexName`), in characters.
const INDEX_NAME_CHARS_MIN: usize = 3;
const INDEX_NAME_CHARS_MAX: usize = 255;
/// DynamoDB's bounds on a projection's `NonKeyAttributes` list, in names.
const NON_KEY_ATTRIBUTES_MIN: usize = 1;
const NON_KEY_ATTRIBUTES_MAX: usize = 20;
/// The largest capacity units DynamoDB accepts before its "out of bounds" refusal.
const CAPACITY_UNITS_MAX: i64 = 1_000_000_000_000;

/// The members of a CreateTable request the first pass looks at.
pub(super) struct CreateTableShape<'a> {
    pub(super) table_name: &'a str,
    pub(super) attribute_definitions: Option<&'a [AttributeDefinition]>,
    pub(super) key_schema: Option<&'a [KeySchemaElement]>,
    pub(super) provisioned_throughput: Option<&'a ProvisionedThroughput>,
    pub(super) local_secondary_indexes: Option<&'a [WireIndex]>,
    pub(super) global_secondary_indexes: Option<&'a [WireIndex]>,
    pub(super) billing_mode: Option<&'a str>,
    pub(super) stream_specification: Option<&'a WireStreamSpecification>,
    pub(super) sse_specification: Option<&'a WireSseSpecification>,
}

/// One entry of UpdateTable's `GlobalSecondaryIndexUpdates` as the first pass sees it.
pub(super) enum IndexUpdateShape<'a> {
    Create(&'a WireIndex),
    /// An `Update` (name and throughput) or a `Delete` (name only), with the member's
    /// name on the wire (`update` or `delete`).
    Named {
        member: &'static str,
        index_name: Option<&'a str>,
        throughput: Option<&'a ProvisionedThroughput>,
    },
    /// An entry with no action or several: the engine refuses it with its own message.
    Other,
}

/// The members of an UpdateTable request the first pass looks at.
pub(super) struct UpdateTableShape<'a> {
    pub(super) table_name: &'a str,
    pub(super) attribute_definitions: Option<&'a [AttributeDefinition]>,
    pub(super) provisioned_throughput: Option<&'a ProvisionedThroughput>,
    pub(super) billing_mode: Option<&'a str>,
    pub(super) index_updates: Vec<IndexUpdateShape<'a>>,
    pub(super) stream_specification: Option<&'a WireStreamSpecification>,
    pub(super) sse_specification: Option<&'a WireSseSpecification>,
}

pub(super) fn null(field: &str) -> String {
    violation(None, field, "not be null")
}

/// The violation of a length (of a string, in characters, or of a list) between `min`
/// and `max`, if any; `shown` is the value as DynamoDB prints it.
pub(super) fn length_error(
    n: usize,
    shown: &str,
    field: &str,
    min: usize,
    max: Option<usize>,
) -> Option<String> {
    length_violation(Some(shown), n, field, min, max)
}

/// The violation of a value's range between `min` and `max`, if any.
pub(super) fn range_error(v: i64, field: &str, min: i64, max: Option<i64>) -> Option<String> {
    range_violation(v, field, min, max)
}

/// The length violation of a key attribute name at `field`, if any.
fn name_length(name: &str, field: &str) -> Option<String> {
    length_error(
        name.chars().count(),
        name,
        field,
        KEY_ATTRIBUTE_NAME_CHARS_MIN,
        Some(KEY_ATTRIBUTE_NAME_CHARS_MAX),
    )
}

/// The violations of a table or index name (`TableName`'s and `IndexName`'s shared
/// constraints: 3 to 255 characters of `[a-zA-Z0-9_.-]`) at `field`: the length first,
/// then the pattern, as a recording of DynamoDB answering an empty index name shows.
pub(super) fn index_name_errors(name: &str, field: &str, errors: &mut Vec<String>) {
    errors.extend(length_error(
        name.chars().count(),
        name,
        field,
        INDEX_NAME_CHARS_MIN,
        Some(INDEX_NAME_CHARS_MAX),
    ));
    errors.extend(pattern_error(name, field));
}

/// The pattern violation of a name at `field`: `[a-zA-Z0-9_.-]+` also refuses the empty
/// name (a recording of DynamoDB answering an empty index name and an empty
/// ExclusiveStartTableName reports the pattern besides the length).
fn pattern_error(name: &str, field: &str) -> Option<String> {
    if name.is_empty() {
        let rule = format!("satisfy regular expression pattern: {NAME_PATTERN}");
        return Some(violation(Some(""), field, &rule));
    }
    table_name_pattern_error(name, field)
}

fn not_in(value: &str, field: &str, set: &str) -> String {
    enum_violation(value, field, set)
}

fn definitions(list: Option<&[AttributeDefinition]>, errors: &mut Vec<String>) {
    let Some(list) = list else {
        errors.push(null("attributeDefinitions"));
        return;
    };
    for (i, d) in list.iter().enumerate() {
        // The type before the name: two recordings of DynamoDB refusing an empty
        // definition (CreateTable's and UpdateTable's) list them so.
        let field = |m: &str| format!("attributeDefinitions.{}.member.{m}", i + 1);
        match d.attribute_type.as_deref() {
            None => errors.push(null(&field("attributeType"))),
            Some("S" | "N" | "B") => {}
            Some(other) => errors.push(not_in(other, &field("attributeType"), "B, N, S")),
        }
        match &d.attribute_name {
            None => errors.push(null(&field("attributeName"))),
            Some(n) => errors.extend(name_length(n, &field("attributeName"))),
        }
    }
}

/// A `ProvisionedThroughput` at `prefix`: each unit present and at least 1, write units
/// first.
fn throughput(t: Option<&ProvisionedThroughput>, prefix: &str, errors: &mut Vec<String>) {
    let Some(t) = t else { return };
    for (v, member) in [
        (t.write_capacity_units, "writeCapacityUnits"),
        (t.read_capacity_units, "readCapacityUnits"),
    ] {
        let field = format!("{prefix}.{member}");
        match v {
            None => errors.push(null(&field)),
            Some(v) => errors.extend(range_error(v, &field, 1, None)),
        }
    }
}

/// A key schema at `prefix`: its length (at most `max` elements when given), then each
/// element's name and key type.
fn key_elements(
    list: &[KeySchemaElement],
    prefix: &str,
    max: Option<usize>,
    errors: &mut Vec<String>,
) {
    // DynamoDB prints its own objects here; the names are the useful part of them.
    let names: Vec<&str> = list
        .iter()
        .map(|k| k.attribute_name.as_deref().unwrap_or("null"))
        .collect();
    errors.extend(length_error(
        list.len(),
        &format!("[{}]", names.join(", ")),
        prefix,
        1,
        max,
    ));
    for (i, k) in list.iter().enumerate() {
        let field = |m: &str| format!("{prefix}.{}.member.{m}", i + 1);
        match &k.attribute_name {
            None => errors.push(null(&field("attributeName"))),
            Some(n) => errors.extend(name_length(n, &field("attributeName"))),
        }
        match k.key_type.as_deref() {
            None => errors.push(null(&field("keyType"))),
            Some("HASH" | "RANGE") => {}
            Some(other) => errors.push(not_in(other, &field("keyType"), "HASH, RANGE")),
        }
    }
}

/// A projection at `prefix`: its type in the enum, its `NonKeyAttributes` 1 to 20
/// names of 1 to 255 characters each. DynamoDB reports a list whose members break a
/// constraint as the whole list with the members' constraints in brackets.
fn projection(p: &WireProjection, prefix: &str, errors: &mut Vec<String>) {
    if let Some(t) = p.projection_type.as_deref()
        && !matches!(t, "ALL" | "INCLUDE" | "KEYS_ONLY")
    {
        errors.push(not_in(
            t,
            &format!("{prefix}.projectionType"),
            "ALL, INCLUDE, KEYS_ONLY",
        ));
    }
    let Some(names) = &p.non_key_attributes else {
        return;
    };
    let field = format!("{prefix}.nonKeyAttributes");
    let shown = format!("[{}]", names.join(", "));
    errors.extend(length_error(
        names.len(),
        &shown,
        &field,
        NON_KEY_ATTRIBUTES_MIN,
        Some(NON_KEY_ATTRIBUTES_MAX),
    ));
    let bad_member = names.iter().any(|n| {
        !(KEY_ATTRIBUTE_NAME_CHARS_MIN..=KEY_ATTRIBUTE_NAME_CHARS_MAX).contains(&n.chars().count())
    });
    if bad_member {
        errors.push(format!(
            "Value '{shown}' at '{field}' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to {KEY_ATTRIBUTE_NAME_CHARS_MAX}, Member must have length greater than or equal to {KEY_ATTRIBUTE_NAME_CHARS_MIN}]"
        ));
    }
}

/// One index at `prefix` (`globalSecondaryIndexes.1.member`, ...): its name, key
/// schema, projection and throughput, each missing or violating, in that order (a
/// recording of DynamoDB refusing an empty GlobalSecondaryIndexOverride, the same
/// shape, lists the name's, then the key schema's).
fn index(ix: &WireIndex, prefix: &str, errors: &mut Vec<String>) {
    let field = |m: &str| format!("{prefix}.{m}");
    match &ix.index_name {
        None => errors.push(null(&field("indexName"))),
        Some(name) => index_name_errors(name, &field("indexName"), errors),
    }
    match &ix.key_schema {
        None => errors.push(null(&field("keySchema"))),
        Some(keys) => key_elements(keys, &field("keySchema"), None, errors),
    }
    match &ix.projection {
        None => errors.push(null(&field("projection"))),
        Some(p) => projection(p, &field("projection"), errors),
    }
    throughput(
        ix.provisioned_throughput.as_ref(),
        &field("provisionedThroughput"),
        errors,
    );
}

fn indexes(list: Option<&[WireIndex]>, field: &str, errors: &mut Vec<String>) {
    for (i, ix) in list.unwrap_or_default().iter().enumerate() {
        index(ix, &format!("{field}.{}.member", i + 1), errors);
    }
}

fn billing_mode(mode: Option<&str>, errors: &mut Vec<String>) {
    if let Some(m) = mode
        && !matches!(m, "PROVISIONED" | "PAY_PER_REQUEST")
    {
        errors.push(not_in(m, "billingMode", "PROVISIONED, PAY_PER_REQUEST"));
    }
}

/// `StreamSpecification`: `StreamEnabled` present, the view type in the enum, which
/// DynamoDB lists in this order (two recordings of DynamoDB's answer agree on it).
fn stream(s: Option<&WireStreamSpecification>, errors: &mut Vec<String>) {
    let Some(s) = s else { return };
    if s.stream_enabled.is_none() {
        errors.push(null("streamSpecification.streamEnabled"));
    }
    if let Some(v) = s.stream_view_type.as_deref()
        && !matches!(
            v,
            "NEW_IMAGE" | "OLD_IMAGE" | "NEW_AND_OLD_IMAGES" | "KEYS_ONLY"
        )
    {
        errors.push(not_in(
            v,
            "streamSpecification.streamViewType",
            "OLD_IMAGE, KEYS_ONLY, NEW_AND_OLD_IMAGES, NEW_IMAGE",
        ));
    }
}

/// `SSESpecification`, whose members DynamoDB's validator names `sSEType` and
/// `kMSMasterKeyId` (it lowers only the first letter).
fn sse(s: Option<&WireSseSpecification>, errors: &mut Vec<String>) {
    let Some(s) = s else { return };
    if let Some(t) = s.sse_type.as_deref()
        && !matches!(t, "AES256" | "KMS")
    {
        errors.push(not_in(t, "sSESpecification.sSEType", "AES256, KMS"));
    }
    if let Some(k) = s.kms_master_key_id.as_deref() {
        errors.extend(length_error(
            k.chars().count(),
            k,
            "sSESpecification.kMSMasterKeyId",
            1,
            None,
        ));
    }
}

/// DynamoDB's refusal of more capacity units than it can give (`for index <name>` on
/// an index update's), checked after the first pass: read units first.
pub(super) fn check_capacity_bounds(
    t: Option<&ProvisionedThroughput>,
    index: Option<&str>,
) -> Result<(), ApiError> {
    let Some(t) = t else { return Ok(()) };
    let suffix = index.map_or(String::new(), |n| format!(" for index {n}"));
    for (v, member) in [
        (t.read_capacity_units, "ReadCapacityUnits"),
        (t.write_capacity_units, "WriteCapacityUnits"),
    ] {
        if let Some(v) = v.filter(|&v| v > CAPACITY_UNITS_MAX) {
            return Err(eddy_engine::Error::validation(format!(
                "Given value {v} for {member} is out of bounds{suffix}"
            ))
            .into());
        }
    }
    Ok(())
}

/// The `TableName` of a control-plane request (CreateTable, DescribeTable, UpdateTable,
/// DeleteTable): DynamoDB refuses a missing or wrong-length name with messages of its
/// own, before it looks at any other member.
pub(super) fn control_table_name(name: Option<String>) -> Result<String, ApiError> {
    let name = name.ok_or_else(|| {
        eddy_engine::Error::validation(
            "The parameter 'TableName' is required but was not present in the request",
        )
    })?;
    check_table_name_length(&name)?;
    Ok(name)
}

/// The first pass over a CreateTable request (its `TableName` present and of a valid
/// length, which DynamoDB checks before this pass).
pub(super) fn check_create_table(r: &CreateTableShape<'_>) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    definitions(r.attribute_definitions, &mut errors);
    errors.extend(table_name_pattern_error(r.table_name, "tableName"));
    throughput(
        r.provisioned_throughput,
        "provisionedThroughput",
        &mut errors,
    );
    match r.key_schema {
        None => errors.push(null("keySchema")),
        Some(keys) => key_elements(keys, "keySchema", Some(2), &mut errors),
    }
    indexes(
        r.local_secondary_indexes,
        "localSecondaryIndexes",
        &mut errors,
    );
    indexes(
        r.global_secondary_indexes,
        "globalSecondaryIndexes",
        &mut errors,
    );
    billing_mode(r.billing_mode, &mut errors);
    stream(r.stream_specification, &mut errors);
    sse(r.sse_specification, &mut errors);
    Ok(constraint_errors(errors)?)
}

/// The first pass over an UpdateTable request (its `TableName` present and of a valid
/// length). The order follows CreateTable's where the members are the same; the index
/// updates come where CreateTable's indexes do (no record shows more).
pub(super) fn check_update_table(r: &UpdateTableShape<'_>) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if r.attribute_definitions.is_some() {
        definitions(r.attribute_definitions, &mut errors);
    }
    errors.extend(table_name_pattern_error(r.table_name, "tableName"));
    throughput(
        r.provisioned_throughput,
        "provisionedThroughput",
        &mut errors,
    );
    for (i, u) in r.index_updates.iter().enumerate() {
        let prefix = format!("globalSecondaryIndexUpdates.{}.member", i + 1);
        match u {
            IndexUpdateShape::Create(ix) => index(ix, &format!("{prefix}.create"), &mut errors),
            IndexUpdateShape::Named {
                member,
                index_name,
                throughput: t,
            } => {
                let field = format!("{prefix}.{member}.indexName");
                match index_name {
                    None => errors.push(null(&field)),
                    Some(name) => index_name_errors(name, &field, &mut errors),
                }
                throughput(
                    *t,
                    &format!("{prefix}.{member}.provisionedThroughput"),
                    &mut errors,
                );
            }
            IndexUpdateShape::Other => {}
        }
    }
    billing_mode(r.billing_mode, &mut errors);
    stream(r.stream_specification, &mut errors);
    sse(r.sse_specification, &mut errors);
    Ok(constraint_errors(errors)?)
}

/// The first pass over a listing's page size (`limit`, from 1 to `limit_max` when it has
/// one) and start name (a table name's constraints): the limit first, as a DynamoDB
/// answer quoted in dynalite's early source lists them.
pub(super) fn check_list_start_and_limit(
    start: Option<&str>,
    start_field: &str,
    limit: Option<i64>,
    limit_max: Option<i64>,
) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if let Some(limit) = limit {
        errors.extend(range_error(limit, "limit", 1, limit_max));
    }
    if let Some(start) = start {
        // DynamoDB reports the pattern before the length here (the same quoted answer,
        // and a recording of DynamoDB answering an empty ExclusiveStartTableName).
        errors.extend(pattern_error(start, start_field));
        errors.extend(length_error(
            start.chars().count(),
            start,
            start_field,
            INDEX_NAME_CHARS_MIN,
            Some(INDEX_NAME_CHARS_MAX),
        ));
    }
    Ok(constraint_errors(errors)?)
}

/// A table's `OnDemandThroughput`: each maximum at least 1, or -1 (no maximum) when
/// UpdateTable gives it (`removes`). Recordings of DynamoDB refusing {0, 0} on
/// UpdateTable and {0, 0}, {-1, -1} and {-2, -2} on CreateTable give the message (read
/// units first; ack-api-quirks).
pub(super) fn check_on_demand_throughput(
    t: Option<&WireOnDemandThroughput>,
    removes: bool,
) -> Result<(), ApiError> {
    let Some(t) = t else { return Ok(()) };
    for (v, member) in [
        (t.max_read_request_units, "MaxReadRequestUnits"),
        (t.max_write_request_units, "MaxWriteRequestUnits"),
    ] {
        if v.is_some_and(|v| v < 1 && !(removes && v == -1)) {
            return Err(eddy_engine::Error::validation(format!(
                "One or more parameter values were invalid: Requested {member} for OnDemandThroughput for table is outside of valid range"
            ))
            .into());
        }
    }
    Ok(())
}
