//! DynamoDB's shape validation of CreateTable: the members a request leaves out, their
//! lengths and enum values, reported together ("N validation errors detected: ...") in
//! the order DynamoDB reports them, before any rule about what the members mean.
//!
//! Owns that first pass, its messages, and the request shapes it reads (attribute
//! definitions, key schema elements, provisioned throughput). Must not know what a
//! valid key schema or index is (the engine checks that afterwards) nor the request's
//! other operations.
//!
//! The order is DynamoDB's as dynalite's tests record it (they were written against
//! real DynamoDB): `attributeDefinitions` (each member's name, then its type), then
//! `tableName`, then `provisionedThroughput` (write units, then read units), then
//! `keySchema` (its length, then each member's name and key type).

use eddy_engine::{check_table_name_length, constraint_errors, table_name_pattern_error};
use serde::Deserialize;

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

/// DynamoDB's bounds on a key attribute name (`KeySchemaAttributeName`), in characters.
const KEY_ATTRIBUTE_NAME_CHARS_MIN: usize = 1;
const KEY_ATTRIBUTE_NAME_CHARS_MAX: usize = 255;

/// The members of a CreateTable request the first pass looks at.
pub(super) struct CreateTableShape<'a> {
    pub(super) table_name: &'a str,
    pub(super) attribute_definitions: Option<&'a [AttributeDefinition]>,
    pub(super) key_schema: Option<&'a [KeySchemaElement]>,
    pub(super) provisioned_throughput: Option<&'a ProvisionedThroughput>,
}

fn null(field: &str) -> String {
    format!("Value null at '{field}' failed to satisfy constraint: Member must not be null")
}

/// The length violation of a key attribute name at `field`, if any.
fn name_length(name: &str, field: &str) -> Option<String> {
    let n = name.chars().count();
    let (relation, bound) = if n < KEY_ATTRIBUTE_NAME_CHARS_MIN {
        ("greater than or equal to", KEY_ATTRIBUTE_NAME_CHARS_MIN)
    } else if n > KEY_ATTRIBUTE_NAME_CHARS_MAX {
        ("less than or equal to", KEY_ATTRIBUTE_NAME_CHARS_MAX)
    } else {
        return None;
    };
    Some(format!(
        "Value '{name}' at '{field}' failed to satisfy constraint: Member must have length {relation} {bound}"
    ))
}

fn not_in(value: &str, field: &str, set: &str) -> String {
    format!(
        "Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy enum value set: [{set}]"
    )
}

fn definitions(list: Option<&[AttributeDefinition]>, errors: &mut Vec<String>) {
    let Some(list) = list else {
        errors.push(null("attributeDefinitions"));
        return;
    };
    for (i, d) in list.iter().enumerate() {
        let field = |m: &str| format!("attributeDefinitions.{}.member.{m}", i + 1);
        match &d.attribute_name {
            None => errors.push(null(&field("attributeName"))),
            Some(n) => errors.extend(name_length(n, &field("attributeName"))),
        }
        match d.attribute_type.as_deref() {
            None => errors.push(null(&field("attributeType"))),
            Some("S" | "N" | "B") => {}
            Some(other) => errors.push(not_in(other, &field("attributeType"), "B, N, S")),
        }
    }
}

fn throughput(t: Option<&ProvisionedThroughput>, errors: &mut Vec<String>) {
    let Some(t) = t else { return };
    for (v, field) in [
        (
            t.write_capacity_units,
            "provisionedThroughput.writeCapacityUnits",
        ),
        (
            t.read_capacity_units,
            "provisionedThroughput.readCapacityUnits",
        ),
    ] {
        match v {
            None => errors.push(null(field)),
            Some(v) if v < 1 => errors.push(format!(
                "Value '{v}' at '{field}' failed to satisfy constraint: Member must have value greater than or equal to 1"
            )),
            Some(_) => {}
        }
    }
}

fn key_schema(list: Option<&[KeySchemaElement]>, errors: &mut Vec<String>) {
    let Some(list) = list else {
        errors.push(null("keySchema"));
        return;
    };
    if list.is_empty() || list.len() > 2 {
        let (relation, bound) = if list.is_empty() {
            ("greater than or equal to", 1)
        } else {
            ("less than or equal to", 2)
        };
        // DynamoDB prints its own objects here; the names are the useful part of them.
        let names: Vec<&str> = list
            .iter()
            .map(|k| k.attribute_name.as_deref().unwrap_or("null"))
            .collect();
        errors.push(format!(
            "Value '[{}]' at 'keySchema' failed to satisfy constraint: Member must have length {relation} {bound}",
            names.join(", ")
        ));
    }
    for (i, k) in list.iter().enumerate() {
        let field = |m: &str| format!("keySchema.{}.member.{m}", i + 1);
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
    throughput(r.provisioned_throughput, &mut errors);
    key_schema(r.key_schema, &mut errors);
    Ok(constraint_errors(errors)?)
}
