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
    TAG_KEY_CHARS_MAX, TAG_VALUE_CHARS_MAX, TAGS_PER_RESOURCE_MAX,
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

/// An on-demand table's maximums (`OnDemandThroughput`): request units per second,
/// `None` for no maximum. In a request, -1 asks to remove a maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OnDemandThroughput {
    pub max_read_request_units: Option<i64>,
    pub max_write_request_units: Option<i64>,
}

/// `WarmThroughput` as a request gives it, and as the catalog remembers what clients
/// asked for: read and write units per second a table or global index can take at
/// once, each `None` when not given (DynamoDB's default, or more, is then in force).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WarmThroughput {
    pub read_units_per_second: Option<i64>,
    pub write_units_per_second: Option<i64>,
}

/// A table's class (`TableClass`), which DynamoDB bills by; Eddy stores every class alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TableClass {
    Standard,
    StandardInfrequentAccess,
}

impl TableClass {
    /// Parses `TableClass` with DynamoDB's error for a value outside the set (its own
    /// message, not the generic enum constraint; case-sensitive: `standard` is refused).
    pub fn parse(s: &str) -> Result<TableClass> {
        match s {
            "STANDARD" => Ok(TableClass::Standard),
            "STANDARD_INFREQUENT_ACCESS" => Ok(TableClass::StandardInfrequentAccess),
            _ => Err(Error::validation(
                "Invalid table-class parameter provided. Please try again with a valid table-class value: [STANDARD, STANDARD_INFREQUENT_ACCESS].",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TableClass::Standard => "STANDARD",
            TableClass::StandardInfrequentAccess => "STANDARD_INFREQUENT_ACCESS",
        }
    }
}

/// Checks a table name as DynamoDB's control plane does: a length outside 3–255
/// characters is its own message, checked before any other member of the request; a
/// character outside `[a-zA-Z0-9_.-]` is a constraint violation.
pub fn validate_table_name(name: &str, field: &str) -> Result<()> {
    check_table_name_length(name)?;
    constraint_errors(table_name_pattern_error(name, field).into_iter().collect())
}

/// DynamoDB's refusal of a table name of the wrong length (its own message, which the
/// length constraints of the model would have phrased differently).
pub fn check_table_name_length(name: &str) -> Result<()> {
    let n = name.chars().count();
    if !(TABLE_NAME_CHARS_MIN..=TABLE_NAME_CHARS_MAX).contains(&n) {
        return Err(Error::validation(format!(
            "TableName must be at least {TABLE_NAME_CHARS_MIN} characters long and at most {TABLE_NAME_CHARS_MAX} characters long"
        )));
    }
    Ok(())
}

/// The pattern violation of a table name at `field`, if it has one.
pub fn table_name_pattern_error(name: &str, field: &str) -> Option<String> {
    (!name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')))
    .then(|| {
        format!(
            "Value '{name}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        )
    })
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

/// How many constraint violations DynamoDB's validator reports at most: it stops
/// collecting at this many (dynalite's tests record "10 validation errors detected" for
/// a request with more).
const VALIDATION_ERRORS_REPORTED_MAX: usize = 10;

/// Joins constraint violations the way DynamoDB's validator reports them.
pub fn constraint_errors(mut errors: Vec<String>) -> Result<()> {
    if errors.is_empty() {
        return Ok(());
    }
    errors.truncate(VALIDATION_ERRORS_REPORTED_MAX);
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

/// Whether `c` may appear in a tag key or value: letters and digits of any script,
/// white space, and `+ - = . _ : / @` (DynamoDB's tagging restrictions; probes of
/// DynamoDB also accept `@` and refuse other punctuation and emoji).
fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "+-=._:/@".contains(c)
}

/// DynamoDB's refusal of a tag key that is not 1–128 characters of [`tag_char`] (a key
/// to set or to remove).
pub fn check_tag_key(key: &str) -> Result<()> {
    let n = key.chars().count();
    if n == 0 || n > TAG_KEY_CHARS_MAX || !key.chars().all(tag_char) {
        return Err(Error::validation(format!(
            "The Tag Key provided is invalid, Key: {key}"
        )));
    }
    Ok(())
}

/// DynamoDB's refusal of more than [`TAGS_PER_RESOURCE_MAX`] tags on a table, or tag
/// keys in one request (a ValidationException, not a LimitExceededException).
pub fn too_many_tags() -> Error {
    Error::validation("Number of Tags exceed the current limit for the provided ResourceArn")
}

/// Checks tags as CreateTable and TagResource receive them: each key and value, then
/// keys given twice, then the count.
pub fn validate_tags(tags: &[(String, String)]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for (k, v) in tags {
        check_tag_key(k)?;
        // Keys under `aws:` are DynamoDB's own.
        if k.starts_with("aws:") {
            return Err(Error::validation(format!(
                "Tag Key cannot be prefixed with aws:, Key: {k}"
            )));
        }
        if v.chars().count() > TAG_VALUE_CHARS_MAX || !v.chars().all(tag_char) {
            return Err(Error::validation(format!(
                "The Tag Value provided is invalid, Value: {v}"
            )));
        }
    }
    for (k, _) in tags {
        if !seen.insert(k.as_str()) {
            return Err(Error::validation(format!(
                "Duplicate Tag Keys provided as input: Duplicate Tag Key found {k}"
            )));
        }
    }
    if tags.len() > TAGS_PER_RESOURCE_MAX {
        return Err(too_many_tags());
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
            return Err(Error::validation(format!(
                "Attribute Name is duplicated: {}",
                d.name
            )));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn message(r: Result<()>) -> String {
        match r {
            Err(Error::Validation(m)) => m,
            other => panic!("expected a ValidationException, got {other:?}"),
        }
    }

    #[test]
    fn table_names_are_refused_for_length_before_their_characters() {
        let length = "TableName must be at least 3 characters long and at most 255 characters long";
        assert_eq!(message(validate_table_name("a;", "tableName")), length);
        assert_eq!(
            message(validate_table_name(&"a".repeat(256), "tableName")),
            length
        );
        assert_eq!(
            message(validate_table_name("abc;", "tableName")),
            "1 validation error detected: Value 'abc;' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        );
        assert!(validate_table_name("a-b_c.9", "tableName").is_ok());
    }

    #[test]
    fn tags_take_letters_of_any_script_and_few_punctuation_marks() {
        let one = |k: &str, v: &str| validate_tags(&[(k.to_string(), v.to_string())]);
        assert!(one("ключ", "café 表\u{a0}a+b-c=d.e_f:g/h@i").is_ok());
        assert!(one("k", "").is_ok());
        for bad in ["a#b", "🔑", "a,b", "100%", "a;b", "<a>"] {
            assert_eq!(
                message(one(bad, "v")),
                format!("The Tag Key provided is invalid, Key: {bad}")
            );
            assert_eq!(
                message(one("k", bad)),
                format!("The Tag Value provided is invalid, Value: {bad}")
            );
        }
        assert_eq!(
            message(one("aws:x", "v")),
            "Tag Key cannot be prefixed with aws:, Key: aws:x"
        );
    }

    #[test]
    fn at_most_ten_violations_are_reported() {
        let errors: Vec<String> = (0..27).map(|i| format!("e{i}")).collect();
        let m = message(constraint_errors(errors));
        assert!(
            m.starts_with("10 validation errors detected: e0; e1;"),
            "{m}"
        );
        assert!(m.ends_with("; e9"), "{m}");
    }

    #[test]
    fn duplicate_attribute_definitions_name_the_attribute() {
        let attr = |name: &str| KeyAttribute {
            name: name.into(),
            key_type: KeyType::S,
        };
        let r = resolve_key_schema(&[("pk".into(), KeyRole::Hash)], &[attr("pk"), attr("pk")]);
        assert_eq!(message(r.map(|_| ())), "Attribute Name is duplicated: pk");
    }
}
