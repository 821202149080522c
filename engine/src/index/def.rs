//! An index's definition (kind, key schema, projection, build state), its live form
//! with its counters, and the validation of CreateTable's and UpdateTable's index
//! inputs.
//!
//! It owns those shapes and checks; it must not know tables (the catalog holds index
//! definitions, so this sits below it) nor entries.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::limits::{
    GLOBAL_INDEXES_PER_TABLE_MAX, INDEX_NON_KEY_ATTRIBUTE_NAME_CHARS_MAX,
    INDEX_NON_KEY_ATTRIBUTES_MAX, INDEX_NON_KEY_ATTRIBUTES_PER_INDEX_MAX,
    LOCAL_INDEXES_PER_TABLE_MAX,
};
use crate::schema::{
    BillingMode, IndexKeys, KeyAttribute, KeyRole, KeySchema, OnDemandThroughput, Throughput,
    WarmThroughput, constraint_errors, name_errors, resolve_global_index_keys, resolve_key_schema,
    validate_throughput,
};
use crate::sync::lock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndexKind {
    /// A global secondary index: any key attributes, eventually consistent in
    /// DynamoDB (in Eddy it is written with the item, but reads keep DynamoDB's rules).
    Global,
    /// A local secondary index: the table's partition key and another sort key.
    Local,
}

/// The attributes an index entry carries besides the keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndexProjection {
    All,
    KeysOnly,
    /// The keys and these attributes.
    Include(Vec<String>),
}

impl IndexProjection {
    pub fn type_name(&self) -> &'static str {
        match self {
            IndexProjection::All => "ALL",
            IndexProjection::KeysOnly => "KEYS_ONLY",
            IndexProjection::Include(_) => "INCLUDE",
        }
    }
}

/// An index as it is stored with its table's definition (format version 4, see
/// `catalog.rs`; version 3 had a one-and-one key schema, version 2 no `build`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexDef {
    pub name: String,
    pub kind: IndexKind,
    /// The storage id: the first four bytes of every entry of this index.
    pub id: u32,
    /// The index's key: a local index's is the table's partition key and one sort key,
    /// a global index's may have several attributes of each role.
    pub key_schema: IndexKeys,
    pub projection: IndexProjection,
    /// A global index's own capacity on a provisioned table (enforced by the governor;
    /// an on-demand index's maximums are in the table's capacity settings).
    pub throughput: Option<Throughput>,
    /// Where the index's build stands.
    pub build: IndexBuild,
}

/// Where an index's build stands; DescribeTable reports it as `IndexStatus` and
/// `Backfilling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndexBuild {
    /// Declared at CreateTable, so complete from the start: `ACTIVE`, and no
    /// `Backfilling` reported (DynamoDB reports it only for indexes added later).
    WithTable,
    /// Added by UpdateTable, its backfill still running: `CREATING` with `Backfilling`
    /// true. It cannot be read yet, and a write that violates its key is taken and
    /// left out of it, as DynamoDB does until the backfill is done.
    Backfilling,
    /// Added by UpdateTable and backfilled: `ACTIVE`, `Backfilling` false.
    Backfilled,
}

/// One index of a CreateTable request, as the client gave it.
#[derive(Debug, Clone)]
pub struct IndexInput {
    pub name: String,
    pub kind: IndexKind,
    pub key_schema: Vec<(String, KeyRole)>,
    /// `ProjectionType`: `ALL`, `KEYS_ONLY` or `INCLUDE` (None when missing).
    pub projection_type: Option<String>,
    pub non_key_attributes: Option<Vec<String>>,
    pub throughput: Option<Throughput>,
    /// A global index's `OnDemandThroughput` and `WarmThroughput`, when given (kept
    /// in the table's capacity settings, checked by `throughput.rs`).
    pub on_demand: Option<OnDemandThroughput>,
    pub warm: Option<WarmThroughput>,
}

/// An index the writer keeps, with its counters.
#[derive(Debug, Clone)]
pub struct LiveIndex {
    pub def: IndexDef,
    pub counters: Arc<IndexStats>,
    /// While the index is backfilled: how far the backfill has come (see
    /// [`BackfillCursor`]); `None` once it is complete.
    pub backfill: Option<Arc<BackfillCursor>>,
}

impl LiveIndex {
    pub fn new(def: IndexDef) -> LiveIndex {
        let backfill =
            (def.build == IndexBuild::Backfilling).then(|| Arc::new(BackfillCursor::default()));
        LiveIndex {
            def,
            counters: Arc::new(IndexStats::default()),
            backfill,
        }
    }
}

/// The storage key of the last table item a backfill has visited (`None`: none yet).
/// Only the writer thread reads or moves it, between commit groups, so a write and the
/// backfill agree on which side of it an item is. The counters of a backfilling index
/// count the entries of visited items only: the backfill counts each item it visits,
/// and a write counts its change only for an item already visited (an item ahead of
/// the cursor is counted when the backfill reaches it). So `ItemCount` is the items
/// indexed so far, and exact once the backfill is done.
#[derive(Debug, Default)]
pub struct BackfillCursor {
    pub last: Mutex<Option<Vec<u8>>>,
}

impl BackfillCursor {
    /// Whether the table item with storage key `key` has been visited.
    pub fn visited(&self, key: &[u8]) -> bool {
        lock(&self.last).as_deref().is_some_and(|last| key <= last)
    }
}

/// One entry of UpdateTable's `GlobalSecondaryIndexUpdates`.
#[derive(Debug, Clone)]
pub enum IndexUpdate {
    Create(IndexInput),
    Delete(String),
    /// New throughput settings for the index.
    Update(String, IndexThroughputUpdate),
}

/// What an index `Update` changes: its provisioned throughput (a provisioned table's),
/// its on-demand maximums (an on-demand table's), its warm throughput (either).
#[derive(Debug, Clone, Default)]
pub struct IndexThroughputUpdate {
    pub provisioned: Option<Throughput>,
    pub on_demand: Option<OnDemandThroughput>,
    pub warm: Option<WarmThroughput>,
}

impl IndexUpdate {
    pub(crate) fn name(&self) -> &str {
        match self {
            IndexUpdate::Create(i) => &i.name,
            IndexUpdate::Delete(n) | IndexUpdate::Update(n, _) => n,
        }
    }
}

/// Item count and size of one index, kept like the table's (`catalog::TableStats`).
#[derive(Debug, Default)]
pub struct IndexStats {
    pub item_count: AtomicI64,
    pub size_bytes: AtomicI64,
}

impl IndexStats {
    pub fn add(&self, items: i64, bytes: i64) {
        self.item_count.fetch_add(items, Ordering::Relaxed);
        self.size_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

pub(crate) fn invalid(message: impl std::fmt::Display) -> Error {
    Error::validation(format!(
        "One or more parameter values were invalid: {message}"
    ))
}

/// The constraint violations of a projection's `NonKeyAttributes` at `field`: each
/// name is the API's `NonKeyAttributeName`, 1 to 255 characters, and DynamoDB's
/// validator reports the list as it reports a list whose members break a constraint.
fn non_key_attribute_errors(names: Option<&[String]>, field: &str) -> Vec<String> {
    let Some(names) = names else {
        return Vec::new();
    };
    let bad = names.iter().any(|n| {
        let chars = n.chars().count();
        chars == 0 || chars > INDEX_NON_KEY_ATTRIBUTE_NAME_CHARS_MAX
    });
    if !bad {
        return Vec::new();
    }
    vec![format!(
        "Value '[{}]' at '{field}' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to {INDEX_NON_KEY_ATTRIBUTE_NAME_CHARS_MAX}, Member must have length greater than or equal to 1]",
        names.join(", ")
    )]
}

/// Checks CreateTable's indexes against the table's key schema and attribute
/// definitions, and resolves them (their storage ids are assigned later, at 0 here).
pub fn validate_indexes(
    inputs: &[IndexInput],
    table: &KeySchema,
    definitions: &[KeyAttribute],
    billing: BillingMode,
    update_position: Option<usize>,
) -> Result<Vec<IndexDef>> {
    let locals = inputs.iter().filter(|i| i.kind == IndexKind::Local).count();
    let globals = inputs.len() - locals;
    if globals > GLOBAL_INDEXES_PER_TABLE_MAX {
        return Err(Error::LimitExceeded(format!(
            "One or more parameter values were invalid: GlobalSecondaryIndex count exceeds the per-table limit of {GLOBAL_INDEXES_PER_TABLE_MAX}"
        )));
    }
    if locals > LOCAL_INDEXES_PER_TABLE_MAX {
        return Err(invalid(format!(
            "Number of LocalSecondaryIndexes exceeds per-table limit of {LOCAL_INDEXES_PER_TABLE_MAX}"
        )));
    }
    let mut errors = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        // Members are numbered within their own list, as the client sent them (global
        // ones first, see the wire layer); an UpdateTable create is its own member.
        let field = match (update_position, input.kind) {
            (Some(at), _) => format!("globalSecondaryIndexUpdates.{at}.member.create"),
            (None, IndexKind::Global) => format!("globalSecondaryIndexes.{}.member", i + 1),
            (None, IndexKind::Local) => {
                format!("localSecondaryIndexes.{}.member", i + 1 - globals)
            }
        };
        errors.extend(name_errors(&input.name, &format!("{field}.indexName")));
        errors.extend(non_key_attribute_errors(
            input.non_key_attributes.as_deref(),
            &format!("{field}.projection.nonKeyAttributes"),
        ));
    }
    constraint_errors(errors)?;

    let mut defs: Vec<IndexDef> = Vec::with_capacity(inputs.len());
    let mut non_key_total = 0usize;
    for input in inputs {
        if defs.iter().any(|d| d.name == input.name) {
            return Err(invalid(format!("Duplicate index name: {}", input.name)));
        }
        let key_schema = match input.kind {
            IndexKind::Global => resolve_global_index_keys(&input.key_schema, definitions)?,
            IndexKind::Local => {
                let key_schema = resolve_key_schema(&input.key_schema, definitions)?;
                if table.range.is_none() {
                    return Err(invalid(
                        "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
                    ));
                }
                if key_schema.hash.name != table.hash.name {
                    return Err(invalid(format!(
                        "Index KeySchema does not have the same leading hash key as table KeySchema for index: {}. index hash key: {}, table hash key: {}",
                        input.name, key_schema.hash.name, table.hash.name
                    )));
                }
                if key_schema.range.is_none() {
                    return Err(invalid(format!(
                        "Index KeySchema does not have a range key for index: {}",
                        input.name
                    )));
                }
                IndexKeys::of(&key_schema)
            }
        };
        let projection = match (input.projection_type.as_deref(), &input.non_key_attributes) {
            (None, _) => {
                return Err(invalid("Unknown ProjectionType: null"));
            }
            (Some("ALL"), None) => IndexProjection::All,
            (Some("KEYS_ONLY"), None) => IndexProjection::KeysOnly,
            (Some("ALL" | "KEYS_ONLY"), Some(_)) => {
                return Err(invalid(format!(
                    "ProjectionType is {}, but NonKeyAttributes is specified",
                    input.projection_type.as_deref().unwrap_or_default()
                )));
            }
            (Some("INCLUDE"), None) => {
                return Err(invalid(
                    "ProjectionType is INCLUDE, but NonKeyAttributes is not specified",
                ));
            }
            (Some("INCLUDE"), Some(attrs)) => {
                if attrs.len() > INDEX_NON_KEY_ATTRIBUTES_PER_INDEX_MAX {
                    return Err(Error::validation(format!(
                        "1 validation error detected: Value '[{}]' at '{}.projection.nonKeyAttributes' failed to satisfy constraint: Member must have length less than or equal to {INDEX_NON_KEY_ATTRIBUTES_PER_INDEX_MAX}",
                        attrs.join(", "),
                        match input.kind {
                            IndexKind::Global => "globalSecondaryIndexes",
                            IndexKind::Local => "localSecondaryIndexes",
                        }
                    )));
                }
                if let Some(dup) = attrs
                    .iter()
                    .enumerate()
                    .find_map(|(i, a)| attrs[..i].contains(a).then_some(a))
                {
                    return Err(invalid(format!(
                        "Duplicate element in NonKeyAttributes: {dup}"
                    )));
                }
                non_key_total += attrs.len();
                IndexProjection::Include(attrs.clone())
            }
            (Some(other), _) => {
                return Err(Error::validation(format!(
                    "1 validation error detected: Value '{other}' at 'projection.projectionType' failed to satisfy constraint: Member must satisfy enum value set: [ALL, INCLUDE, KEYS_ONLY]"
                )));
            }
        };
        let throughput = match (input.kind, billing, input.throughput) {
            // LocalSecondaryIndex has no ProvisionedThroughput member in the API.
            (IndexKind::Local, _, _) => None,
            (IndexKind::Global, BillingMode::Provisioned, None) => {
                return Err(invalid(format!(
                    "ProvisionedThroughput is not specified for index: {}",
                    input.name
                )));
            }
            (IndexKind::Global, BillingMode::Provisioned, Some(t)) => {
                validate_throughput(t)?;
                Some(t)
            }
            // CreateTable's words (ack-api-quirks) differ from UpdateTable's index
            // Create's (a client's report of DynamoDB's answer, and scylladb's
            // Alternator tests run against DynamoDB).
            (IndexKind::Global, BillingMode::PayPerRequest, Some(_)) => {
                return Err(invalid(match update_position {
                    None => format!(
                        "ProvisionedThroughput should not be specified for index: {} when BillingMode is PAY_PER_REQUEST",
                        input.name
                    ),
                    Some(_) => format!(
                        "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified for index: {} when BillingMode is PAY_PER_REQUEST",
                        input.name
                    ),
                }));
            }
            (IndexKind::Global, BillingMode::PayPerRequest, None) => None,
        };
        defs.push(IndexDef {
            name: input.name.clone(),
            kind: input.kind,
            id: 0,
            key_schema,
            projection,
            throughput,
            build: IndexBuild::WithTable,
        });
    }
    if non_key_total > INDEX_NON_KEY_ATTRIBUTES_MAX {
        return Err(invalid(format!(
            "Number of projected attributes in all indexes exceeds limit of {INDEX_NON_KEY_ATTRIBUTES_MAX}, provided: {non_key_total}"
        )));
    }
    Ok(defs)
}
