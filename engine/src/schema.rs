//! The shapes a table and its indexes are declared with (key schema, key attributes,
//! billing, throughput) and the checks every declaration and every key shares: names,
//! key types, key sizes, DynamoDB's constraint messages.
//!
//! It owns those shapes and checks; it must not know tables, indexes or streams, which
//! are built from them (`catalog.rs`, `index/`, `stream/def.rs`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::keys::KeyType;
use crate::limits::{
    INDEX_HASH_ATTRIBUTES_MAX, INDEX_RANGE_ATTRIBUTES_MAX, KEY_ATTRIBUTE_NAME_BYTES_MAX,
    PARTITION_KEY_BYTES_MAX, SORT_KEY_BYTES_MAX, TABLE_NAME_CHARS_MAX, TABLE_NAME_CHARS_MIN,
    TAGS_PER_RESOURCE_MAX,
};
use crate::value::{AttributeValue, Item};

/// A table's primary key: the partition (hash) key and an optional sort (range) key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySchema {
    pub hash: KeyAttribute,
    pub range: Option<KeyAttribute>,
}

impl KeySchema {
    /// The key attribute names, hash first.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.hash.name.as_str()).chain(self.range.as_ref().map(|r| r.name.as_str()))
    }
}

/// The key of an index (or, read the same way, of a table): one or more partition
/// (HASH) attributes and zero or more sort (RANGE) attributes, each list in KeySchema
/// order. A table and a local index have one and at most one; a global index may have
/// up to four of each (DynamoDB's multi-attribute keys): its partition is the
/// combination of all the HASH values, its order that of the RANGE values as a tuple.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexKeys {
    pub hash: Vec<KeyAttribute>,
    pub range: Vec<KeyAttribute>,
}

impl IndexKeys {
    /// The one-and-one key of a table (or of a local index).
    pub fn of(schema: &KeySchema) -> IndexKeys {
        IndexKeys {
            hash: vec![schema.hash.clone()],
            range: schema.range.iter().cloned().collect(),
        }
    }

    /// The key attribute names, HASH ones first, in KeySchema order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.attributes().map(|(a, _)| a.name.as_str())
    }

    /// The key attributes with their roles, HASH ones first, in KeySchema order.
    pub fn attributes(&self) -> impl Iterator<Item = (&KeyAttribute, KeyRole)> {
        let hash = self.hash.iter().map(|a| (a, KeyRole::Hash));
        hash.chain(self.range.iter().map(|a| (a, KeyRole::Range)))
    }

    /// Whether the key has more than one attribute of a role (a multi-attribute key).
    pub fn is_composite(&self) -> bool {
        self.hash.len() > 1 || self.range.len() > 1
    }
}

/// One key attribute: its name and scalar type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAttribute {
    pub name: String,
    #[serde(with = "KeyTypeDef")]
    pub key_type: KeyType,
}

/// The stored form of [`KeyType`] (serde's remote derive keeps `keys.rs` free of serde).
#[derive(Serialize, Deserialize)]
#[serde(remote = "KeyType")]
enum KeyTypeDef {
    S,
    N,
    B,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BillingMode {
    Provisioned,
    PayPerRequest,
}

/// Provisioned read and write capacity units (DynamoDB reports 0/0 on on-demand tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Throughput {
    pub read_capacity_units: i64,
    pub write_capacity_units: i64,
}

/// Checks a table name as DynamoDB does: 3–255 characters of `[a-zA-Z0-9_.-]`.
pub fn validate_table_name(name: &str, field: &str) -> Result<()> {
    constraint_errors(name_errors(name, field))
}

/// The constraint violations of a table or index name at `field`, in DynamoDB's words.
pub(crate) fn name_errors(name: &str, field: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if name.len() < TABLE_NAME_CHARS_MIN {
        errors.push(format!(
            "Value '{name}' at '{field}' failed to satisfy constraint: Member must have length greater than or equal to {TABLE_NAME_CHARS_MIN}"
        ));
    }
    if name.len() > TABLE_NAME_CHARS_MAX {
        errors.push(format!(
            "Value '{name}' at '{field}' failed to satisfy constraint: Member must have length less than or equal to {TABLE_NAME_CHARS_MAX}"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        errors.push(format!(
            "Value '{name}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        ));
    }
    errors
}

/// Joins constraint violations the way DynamoDB's validator reports them.
pub fn constraint_errors(errors: Vec<String>) -> Result<()> {
    if errors.is_empty() {
        return Ok(());
    }
    let n = errors.len();
    let noun = if n == 1 { "error" } else { "errors" };
    Err(Error::validation(format!(
        "{n} validation {noun} detected: {}",
        errors.join("; ")
    )))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    Hash,
    Range,
}

pub fn validate_throughput(t: Throughput) -> Result<()> {
    let mut errors = Vec::new();
    for (v, field) in [
        (
            t.read_capacity_units,
            "provisionedThroughput.readCapacityUnits",
        ),
        (
            t.write_capacity_units,
            "provisionedThroughput.writeCapacityUnits",
        ),
    ] {
        if v < 1 {
            errors.push(format!(
                "Value '{v}' at '{field}' failed to satisfy constraint: Member must have value greater than or equal to 1"
            ));
        }
    }
    constraint_errors(errors)
}

pub fn validate_tags(tags: &[(String, String)]) -> Result<()> {
    if tags.len() > TAGS_PER_RESOURCE_MAX {
        return Err(Error::LimitExceeded(format!(
            "The number of tags exceeds the limit of {TAGS_PER_RESOURCE_MAX}"
        )));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(Error::validation(
                "One or more parameter values were invalid: Tag keys must be between 1 and 128 characters",
            ));
        }
        if v.chars().count() > 256 {
            return Err(Error::validation(
                "One or more parameter values were invalid: Tag values must be 256 characters or less",
            ));
        }
    }
    Ok(())
}

/// Resolves a global index's KeySchema, which may name up to
/// [`INDEX_HASH_ATTRIBUTES_MAX`] HASH and [`INDEX_RANGE_ATTRIBUTES_MAX`] RANGE
/// attributes (DynamoDB's multi-attribute keys), every HASH one before the RANGE ones.
/// A one-and-one schema (or a shorter or malformed one) goes through the table's rules
/// and messages, so what DynamoDB answered before multi-attribute keys is unchanged.
///
/// The messages for a HASH after a RANGE and for too many of a role are DynamoDB's as
/// a catalogue of its live answers records them. For a name given twice that catalogue
/// has two texts without saying which case each answers; a name twice in one role gets
/// the one that says "duplicated" (Alternator's tests, run against DynamoDB, expect
/// that word there), a name in both roles the other.
pub(crate) fn resolve_global_index_keys(
    elements: &[(String, KeyRole)],
    definitions: &[KeyAttribute],
) -> Result<IndexKeys> {
    let hashes = elements.iter().filter(|(_, r)| *r == KeyRole::Hash).count();
    if elements.len() <= 1 || (elements.len() == 2 && hashes == 1) {
        return resolve_key_schema(elements, definitions).map(|k| IndexKeys::of(&k));
    }
    check_key_elements(elements, None, definitions)?;
    if elements[0].1 != KeyRole::Hash {
        return Err(first_not_hash());
    }
    if let Some(at) = elements.iter().position(|(_, r)| *r == KeyRole::Range)
        && elements[at..].iter().any(|(_, r)| *r == KeyRole::Hash)
    {
        return Err(Error::validation(
            "One or more parameter values were invalid: All HASH key attributes must precede RANGE key attributes in the KeySchema",
        ));
    }
    let ranges = elements.len() - hashes;
    for (count, max, role) in [
        (hashes, INDEX_HASH_ATTRIBUTES_MAX, "HASH"),
        (ranges, INDEX_RANGE_ATTRIBUTES_MAX, "RANGE"),
    ] {
        if count > max {
            return Err(Error::validation(format!(
                "One or more parameter values were invalid: The KeySchema exceeds the maximum allowed number of {role} key attributes"
            )));
        }
    }
    for (i, (name, role)) in elements.iter().enumerate() {
        if let Some((_, first)) = elements[..i].iter().find(|(n, _)| n == name) {
            return Err(Error::validation(if first == role {
                format!("Attribute Name is duplicated: {name}")
            } else {
                "The KeySchema contains multiple key attributes with the same name".to_string()
            }));
        }
    }
    let mut keys = IndexKeys {
        hash: Vec::with_capacity(hashes),
        range: Vec::with_capacity(ranges),
    };
    for (name, role) in elements {
        let attr = lookup_definition(name, definitions)?;
        match role {
            KeyRole::Hash => keys.hash.push(attr),
            KeyRole::Range => keys.range.push(attr),
        }
    }
    Ok(keys)
}

/// The checks every KeySchema gets first, with the validator's messages: its length
/// (at most `max_len` elements when given), its attribute names' lengths, and attribute
/// definitions without a name twice.
fn check_key_elements(
    elements: &[(String, KeyRole)],
    max_len: Option<usize>,
    definitions: &[KeyAttribute],
) -> Result<()> {
    let mut errors = Vec::new();
    let too_long = max_len.is_some_and(|m| elements.len() > m);
    if elements.is_empty() || too_long {
        let (relation, bound) = if elements.is_empty() {
            ("greater than or equal to", 1)
        } else {
            ("less than or equal to", max_len.unwrap_or_default())
        };
        errors.push(format!(
            "Value '[{}]' at 'keySchema' failed to satisfy constraint: Member must have length {relation} {bound}",
            elements.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    for (name, _) in elements {
        if name.is_empty() || name.len() > KEY_ATTRIBUTE_NAME_BYTES_MAX {
            errors.push(format!(
                "Value '{name}' at 'keySchema.member.attributeName' failed to satisfy constraint: Member must have length less than or equal to {KEY_ATTRIBUTE_NAME_BYTES_MAX}"
            ));
        }
    }
    constraint_errors(errors)?;
    let mut seen = std::collections::HashSet::new();
    for d in definitions {
        if !seen.insert(d.name.as_str()) {
            return Err(Error::validation(
                "Cannot have two attributes with the same name",
            ));
        }
    }
    Ok(())
}

/// The definition of key attribute `name`, or DynamoDB's refusal of a key attribute
/// missing from AttributeDefinitions.
fn lookup_definition(name: &str, definitions: &[KeyAttribute]) -> Result<KeyAttribute> {
    definitions
        .iter()
        .find(|d| d.name == name)
        .cloned()
        .ok_or_else(|| {
            Error::validation(
                "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [".to_string()
                    + name
                    + "], AttributeDefinitions: ["
                    + &definitions.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", ")
                    + "]",
            )
        })
}

fn first_not_hash() -> Error {
    Error::validation(
        "1 validation error detected: Value 'KeySchema' at 'keySchema' failed to satisfy constraint: Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
    )
}

pub(crate) fn resolve_key_schema(
    elements: &[(String, KeyRole)],
    definitions: &[KeyAttribute],
) -> Result<KeySchema> {
    check_key_elements(elements, Some(2), definitions)?;
    let lookup = |name: &str| lookup_definition(name, definitions);
    let invalid = first_not_hash;
    let (hash_name, hash_role) = &elements[0];
    if *hash_role != KeyRole::Hash {
        return Err(invalid());
    }
    let hash = lookup(hash_name)?;
    let range = match elements.get(1) {
        None => None,
        Some((name, KeyRole::Range)) => {
            if name == hash_name {
                return Err(Error::validation(
                    "Both the Hash Key and the Range Key element in the KeySchema have the same name",
                ));
            }
            Some(lookup(name)?)
        }
        Some((_, KeyRole::Hash)) => {
            return Err(Error::validation(
                "Too many hash keys specified.  All Dynamo DB tables must have exactly one hash key",
            ));
        }
    };
    Ok(KeySchema { hash, range })
}

pub fn key_type_descriptor(t: KeyType) -> &'static str {
    match t {
        KeyType::S => "S",
        KeyType::N => "N",
        KeyType::B => "B",
    }
}

pub(crate) fn item_key_attribute<'a>(
    item: &'a Item,
    attr: &KeyAttribute,
) -> Result<&'a AttributeValue> {
    let v = item.get(&attr.name).ok_or_else(|| {
        Error::validation(format!(
            "One or more parameter values were invalid: Missing the key {} in the item",
            attr.name
        ))
    })?;
    if !attr.key_type.is_type_of(v) {
        return Err(Error::validation(format!(
            "One or more parameter values were invalid: Type mismatch for key {} expected: {} actual: {}",
            attr.name,
            key_type_descriptor(attr.key_type),
            v.attribute_type().descriptor()
        )));
    }
    check_not_empty_key(v, &attr.name)?;
    Ok(v)
}

/// DynamoDB's error for an empty S or B value of a key attribute `name`.
pub(crate) fn check_not_empty_key(v: &AttributeValue, name: &str) -> Result<()> {
    let (empty, kind) = match v {
        AttributeValue::S(s) => (s.is_empty(), "string"),
        AttributeValue::B(b) => (b.is_empty(), "binary"),
        _ => (false, ""),
    };
    if empty {
        return Err(Error::validation(format!(
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {kind} value. Key: {name}"
        )));
    }
    Ok(())
}

pub(crate) fn check_key_sizes(pk: &AttributeValue, sk: Option<&AttributeValue>) -> Result<()> {
    check_partition_key_size(pk)?;
    sk.map_or(Ok(()), check_sort_key_size)
}

/// DynamoDB's limit on a partition key value ([`PARTITION_KEY_BYTES_MAX`]), with its
/// message (the missing space is DynamoDB's), for an item's key and a Query's alike.
pub(crate) fn check_partition_key_size(v: &AttributeValue) -> Result<()> {
    if v.size_bytes() > PARTITION_KEY_BYTES_MAX {
        return Err(Error::validation(format!(
            "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of{PARTITION_KEY_BYTES_MAX} bytes"
        )));
    }
    Ok(())
}

/// DynamoDB's limit on a sort key value ([`SORT_KEY_BYTES_MAX`]), with its message.
pub(crate) fn check_sort_key_size(v: &AttributeValue) -> Result<()> {
    if v.size_bytes() > SORT_KEY_BYTES_MAX {
        return Err(Error::validation(format!(
            "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of {SORT_KEY_BYTES_MAX} bytes"
        )));
    }
    Ok(())
}

/// An `ExclusiveStartKey` that is not a key of the table or index: DynamoDB's message
/// names the rule it breaks after "The provided starting key is invalid: " (a key of
/// the wrong shape, or a key value over its size limit).
pub(crate) fn invalid_start_key(e: Error) -> Error {
    match e {
        Error::Validation(m) => Error::Validation(format!(
            "The provided starting key is invalid: {}",
            if m.starts_with("The provided key element does not match the schema") {
                "The provided key element does not match the schema"
            } else {
                m.as_str()
            }
        )),
        other => other,
    }
}
