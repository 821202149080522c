//! Secondary indexes, global and local: their definitions, the checks CreateTable and
//! writes make against them, and the index entries the writer keeps in step with the
//! table.
//!
//! An index is a sorted copy of the table's items under other key attributes. The
//! writer stages an item's index entries in the same batch as the item (`store.rs`),
//! so an index is never behind or ahead of its table, even across a crash. An item has
//! an entry only if every index key attribute is present, of its defined type, not
//! empty and within DynamoDB's key-size limits ([`entry_key`]; a missing attribute
//! makes a *sparse* index, the rest are DynamoDB's *index-key violations*). A write
//! that would violate the key of a complete index is rejected before anything is
//! written, as DynamoDB rejects it ([`check_item`]).
//!
//! UpdateTable adds a global index to a live table without waiting for it: the writer
//! starts keeping the index ([`Engine::start_index`]) and `backfill.rs` indexes the
//! items already there in the background, from a stored cursor, while the index is
//! `CREATING` and cannot be read. Deleting an index stops the writer keeping it before
//! its entries are purged.
//!
//! # Layout
//!
//! Entries live in the `items` keyspace under the index's own storage id, allocated
//! from the same counter as table ids (so never reused):
//!
//! ```text
//! [index_id: u32][shard: u16][hash: u64][enc(index pk)][enc(index sk)]?[enc(table pk)][enc(table sk)]?
//! ```
//!
//! The head is an item key (`keys.rs`) of the index's own key values; the table key
//! after it tells apart items that share index key values, which an index allows. As
//! `enc` is prefix-free, "index keys = v" is a key prefix, which is how Query reads an
//! index. The value is the item projected to the index, in the item codec.
//!
//! This module knows nothing of the wire JSON.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::catalog::{
    BillingMode, KeyAttribute, KeyRole, KeySchema, TableDef, Throughput, check_not_empty_key,
    check_partition_key_size, check_sort_key_size, constraint_errors, invalid_start_key,
    key_type_descriptor, name_errors, resolve_key_schema, validate_throughput,
};
use crate::error::{Error, Result};
use crate::keys::{check_storage_key, encode_key_value, item_key};
use crate::limits::{
    GLOBAL_INDEXES_PER_TABLE_MAX, INDEX_NON_KEY_ATTRIBUTES_MAX,
    INDEX_NON_KEY_ATTRIBUTES_PER_INDEX_MAX, LOCAL_INDEXES_PER_TABLE_MAX, PARTITION_KEY_BYTES_MAX,
    SORT_KEY_BYTES_MAX,
};
use crate::store::lock;
use crate::value::{AttributeValue, Item, item_size_bytes};

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

/// An index as it is stored with its table's definition (format version 3, see
/// `catalog.rs`; version 2 had no `build`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexDef {
    pub name: String,
    pub kind: IndexKind,
    /// The storage id: the first four bytes of every entry of this index.
    pub id: u32,
    pub key_schema: KeySchema,
    pub projection: IndexProjection,
    /// A global index's own capacity on a provisioned table (reported, not enforced).
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
    /// A new provisioned throughput for the index.
    Update(String, Option<Throughput>),
}

impl IndexUpdate {
    fn name(&self) -> &str {
        match self {
            IndexUpdate::Create(i) => &i.name,
            IndexUpdate::Delete(n) | IndexUpdate::Update(n, _) => n,
        }
    }
}

/// DynamoDB's refusal of a second online index change on a table.
const ONE_ONLINE_INDEX: &str = "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table";

/// Checks UpdateTable's index updates against the table and applies them to `def`
/// (which the caller persists and publishes); returns the index to build, if one is
/// created, and the index to drop, if one is deleted.
pub(crate) fn plan_updates(
    def: &mut TableDef,
    updates: &[IndexUpdate],
    definitions: Option<&[KeyAttribute]>,
) -> Result<(Option<IndexDef>, Option<IndexDef>)> {
    let online = updates
        .iter()
        .filter(|u| !matches!(u, IndexUpdate::Update(..)))
        .count();
    if online > 1 {
        return Err(Error::LimitExceeded(ONE_ONLINE_INDEX.into()));
    }
    for (i, u) in updates.iter().enumerate() {
        if updates[..i].iter().any(|e| e.name() == u.name()) {
            return Err(invalid(format!(
                "Only one global secondary index update per index is allowed simultaneously. Index: {}",
                u.name()
            )));
        }
    }
    let not_found = |name: &str| {
        Error::not_found(format!(
            "Requested resource not found: Index {name} for table {}",
            def.name
        ))
    };
    // An index being backfilled is one online index change in progress: DynamoDB
    // refuses another create or delete until it is done, except deleting that index
    // itself (allowed while it is still backfilling).
    if let Some(building) = def
        .indexes
        .iter()
        .find(|i| i.build == IndexBuild::Backfilling)
    {
        let busy = updates.iter().any(|u| match u {
            IndexUpdate::Create(_) => true,
            IndexUpdate::Delete(name) => *name != building.name,
            IndexUpdate::Update(..) => false,
        });
        if busy {
            return Err(Error::LimitExceeded(ONE_ONLINE_INDEX.into()));
        }
    }
    let (mut build, mut drop) = (None, None);
    for u in updates {
        match u {
            IndexUpdate::Update(name, throughput) => {
                let billing = def.billing_mode;
                let ix = def
                    .indexes
                    .iter_mut()
                    .find(|i| i.name == *name && i.kind == IndexKind::Global)
                    .ok_or_else(|| not_found(name))?;
                match (billing, throughput) {
                    (BillingMode::Provisioned, Some(t)) => {
                        validate_throughput(*t)?;
                        ix.throughput = Some(*t);
                    }
                    _ => {
                        return Err(invalid(format!(
                            "ProvisionedThroughput of index {name} can only be updated on a PROVISIONED table"
                        )));
                    }
                }
            }
            IndexUpdate::Delete(name) => {
                let at = def
                    .indexes
                    .iter()
                    .position(|i| i.name == *name && i.kind == IndexKind::Global)
                    .ok_or_else(|| not_found(name))?;
                drop = Some(def.indexes.remove(at));
            }
            IndexUpdate::Create(input) => {
                if input.kind != IndexKind::Global {
                    return Err(invalid(
                        "Local secondary indexes can only be created with the table",
                    ));
                }
                if def.indexes.iter().any(|i| i.name == input.name) {
                    return Err(invalid(format!("Index already exists: {}", input.name)));
                }
                let globals = def
                    .indexes
                    .iter()
                    .filter(|i| i.kind == IndexKind::Global)
                    .count();
                if globals >= GLOBAL_INDEXES_PER_TABLE_MAX {
                    return Err(Error::LimitExceeded(format!(
                        "Subscriber limit exceeded: Number of global secondary indexes exceeds per-table limit of {GLOBAL_INDEXES_PER_TABLE_MAX}"
                    )));
                }
                let mut merged = def.attribute_definitions.clone();
                for d in definitions.unwrap_or_default() {
                    match merged.iter().find(|m| m.name == d.name) {
                        Some(m) if m.key_type != d.key_type => {
                            return Err(invalid(format!(
                                "Attributes cannot be redefined. Please check that your attribute has the same type as previously defined. Existing schema: {}({}) New schema: {}({})",
                                m.name,
                                key_type_descriptor(m.key_type),
                                d.name,
                                key_type_descriptor(d.key_type)
                            )));
                        }
                        Some(_) => {}
                        None => merged.push(d.clone()),
                    }
                }
                let defined = |n: &String| merged.iter().any(|m| m.name == *n);
                if definitions.is_none() && !input.key_schema.iter().all(|(n, _)| defined(n)) {
                    return Err(invalid(format!(
                        "AttributeDefinitions is not specified for index: {}",
                        input.name
                    )));
                }
                let mut new = validate_indexes(
                    std::slice::from_ref(input),
                    &def.key_schema,
                    &merged,
                    def.billing_mode,
                )?;
                def.attribute_definitions = merged;
                let mut index = new.remove(0);
                index.build = IndexBuild::Backfilling;
                def.indexes.push(index.clone());
                build = Some(index);
            }
        }
    }
    // Attribute definitions are those of the keys in use; an unused one is refused
    // (as at CreateTable), and a dropped index's go with it.
    let used: Vec<String> = def
        .key_schema
        .names()
        .chain(def.indexes.iter().flat_map(|i| i.key_schema.names()))
        .map(str::to_string)
        .collect();
    if let Some(unused) = def
        .attribute_definitions
        .iter()
        .find(|d| !used.contains(&d.name))
        && build.is_some()
    {
        return Err(invalid(format!(
            "Some AttributeDefinitions are not used. AttributeDefinitions: [{}], keys used: [{}]",
            unused.name,
            used.join(", ")
        )));
    }
    def.attribute_definitions.retain(|d| used.contains(&d.name));
    Ok((build, drop))
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

fn invalid(message: impl std::fmt::Display) -> Error {
    Error::validation(format!(
        "One or more parameter values were invalid: {message}"
    ))
}

/// Checks CreateTable's indexes against the table's key schema and attribute
/// definitions, and resolves them (their storage ids are assigned later, at 0 here).
pub fn validate_indexes(
    inputs: &[IndexInput],
    table: &KeySchema,
    definitions: &[KeyAttribute],
    billing: BillingMode,
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
        let field = match input.kind {
            IndexKind::Global => "globalSecondaryIndexes",
            IndexKind::Local => "localSecondaryIndexes",
        };
        errors.extend(name_errors(
            &input.name,
            &format!("{field}.{}.member.indexName", i + 1),
        ));
    }
    constraint_errors(errors)?;

    let mut defs: Vec<IndexDef> = Vec::with_capacity(inputs.len());
    let mut non_key_total = 0usize;
    for input in inputs {
        if defs.iter().any(|d| d.name == input.name) {
            return Err(invalid(format!("Duplicate index name: {}", input.name)));
        }
        let key_schema = resolve_key_schema(&input.key_schema, definitions)?;
        if input.kind == IndexKind::Local {
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
        }
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
            (IndexKind::Global, BillingMode::PayPerRequest, Some(_)) => {
                return Err(invalid(format!(
                    "ProvisionedThroughput should not be specified for index: {} when BillingMode is PAY_PER_REQUEST",
                    input.name
                )));
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

/// The names of an index entry's key attributes: the table's, then the index's own.
pub fn entry_key_names<'a>(table: &'a TableDef, index: &'a IndexDef) -> Vec<&'a str> {
    let mut names: Vec<&str> = table.key_names().collect();
    for n in [
        Some(index.key_schema.hash.name.as_str()),
        index.key_schema.range.as_ref().map(|r| r.name.as_str()),
    ]
    .into_iter()
    .flatten()
    {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
}

/// Why an item has no entry in an index: DynamoDB's *index-key violations* (a key
/// attribute of another type, an empty S or B, a value over the key-size limits), or
/// simply a missing key attribute (a sparse index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoEntry {
    Missing,
    Violation,
}

/// The index key values of an item, if the item belongs in the index: every index key
/// attribute present, of its defined type, not empty, and within DynamoDB's key-size
/// limits. The writer and the backfill decide with this one function, so they agree
/// on what an index holds.
fn index_keys<'a>(
    index: &IndexDef,
    item: &'a Item,
) -> Result<(&'a AttributeValue, Option<&'a AttributeValue>), NoEntry> {
    let value = |attr: &KeyAttribute, bytes_max: usize| -> Result<&'a AttributeValue, NoEntry> {
        let v = item.get(&attr.name).ok_or(NoEntry::Missing)?;
        let eligible =
            attr.key_type.is_type_of(v) && !is_empty_value(v) && v.size_bytes() <= bytes_max;
        if eligible {
            Ok(v)
        } else {
            Err(NoEntry::Violation)
        }
    };
    let pk = value(&index.key_schema.hash, PARTITION_KEY_BYTES_MAX)?;
    let sk = match &index.key_schema.range {
        Some(r) => Some(value(r, SORT_KEY_BYTES_MAX)?),
        None => None,
    };
    Ok((pk, sk))
}

fn is_empty_value(v: &AttributeValue) -> bool {
    match v {
        AttributeValue::S(s) => s.is_empty(),
        AttributeValue::B(b) => b.is_empty(),
        _ => false,
    }
}

/// The storage key of an item's entry in `index`, or why it has none. The item must
/// carry the table's key attributes (every stored item does).
pub fn entry_key(table: &TableDef, index: &IndexDef, item: &Item) -> Result<Vec<u8>, NoEntry> {
    let (ipk, isk) = index_keys(index, item)?;
    let table_keys = table.key_names().map(|n| item.get(n));
    let mut key = item_key(index.id, table.shards, ipk, isk)
        .map_err(|_| NoEntry::Violation)?
        .0;
    for v in table_keys {
        encode_key_value(v.ok_or(NoEntry::Missing)?, &mut key);
    }
    // Index and table keys within DynamoDB's limits make an entry key of at most
    // about 12 KB; the storage bound is asserted where the key is made, not assumed.
    let fits = check_storage_key(&key).is_ok();
    debug_assert!(fits, "index entry key of {} bytes", key.len());
    if fits {
        Ok(key)
    } else {
        Err(NoEntry::Violation)
    }
}

/// The storage key an index Query or Scan's `ExclusiveStartKey` names: it must hold
/// the table's and the index's key attributes, of their types and within DynamoDB's
/// key limits.
pub fn start_key(table: &TableDef, index: &IndexDef, esk: &Item) -> Result<Vec<u8>> {
    let names = entry_key_names(table, index);
    let attrs = table
        .attribute_definitions
        .iter()
        .filter(|a| names.contains(&a.name.as_str()));
    let well_typed = attrs
        .clone()
        .all(|a| esk.get(&a.name).is_some_and(|v| a.key_type.is_type_of(v)));
    let mismatch = || {
        invalid_start_key(Error::validation(
            "The provided key element does not match the schema",
        ))
    };
    if esk.len() != names.len() || !well_typed {
        return Err(mismatch());
    }
    let schemas = [&table.key_schema, &index.key_schema];
    for (attr, hash) in schemas
        .iter()
        .flat_map(|k| std::iter::once((&k.hash, true)).chain(k.range.iter().map(|r| (r, false))))
    {
        let v = &esk[&attr.name];
        check_not_empty_key(v, &attr.name).map_err(invalid_start_key)?;
        let sized = if hash {
            check_partition_key_size(v)
        } else {
            check_sort_key_size(v)
        };
        sized.map_err(invalid_start_key)?;
    }
    entry_key(table, index, esk).map_err(|_| mismatch())
}

/// Whether the index's entries carry attribute `name`, given its key attribute names.
fn projects(index: &IndexDef, keys: &[&str], name: &str) -> bool {
    match &index.projection {
        IndexProjection::All => true,
        IndexProjection::KeysOnly => keys.contains(&name),
        IndexProjection::Include(attrs) => keys.contains(&name) || attrs.iter().any(|a| a == name),
    }
}

/// An item as its entry in `index` stores it.
pub fn project(table: &TableDef, index: &IndexDef, item: &Item) -> Item {
    if index.projection == IndexProjection::All {
        return item.clone();
    }
    let keys = entry_key_names(table, index);
    item.iter()
        .filter(|(k, _)| projects(index, &keys, k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Whether every attribute of `names` is in the index's entries.
pub fn projects_all(table: &TableDef, index: &IndexDef, names: &[&str]) -> bool {
    let keys = entry_key_names(table, index);
    names.iter().all(|n| projects(index, &keys, n))
}

/// Rejects an item whose value for an index key attribute has the wrong type, is
/// empty, or is too long, as DynamoDB rejects such a write. An index still being
/// backfilled is not held to this: DynamoDB takes such a write and leaves the item out
/// of the index until the backfill is done, and refuses it only after.
pub fn check_item(indexes: &[LiveIndex], item: &Item) -> Result<()> {
    let built = indexes
        .iter()
        .map(|l| &l.def)
        .filter(|d| d.build != IndexBuild::Backfilling);
    for index in built {
        let attrs = std::iter::once((&index.key_schema.hash, PARTITION_KEY_BYTES_MAX)).chain(
            index
                .key_schema
                .range
                .as_ref()
                .map(|r| (r, SORT_KEY_BYTES_MAX)),
        );
        for (attr, bytes_max) in attrs {
            let Some(v) = item.get(&attr.name) else {
                continue;
            };
            if !attr.key_type.is_type_of(v) {
                return Err(invalid(format!(
                    "Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {}",
                    attr.name,
                    key_type_descriptor(attr.key_type),
                    v.attribute_type().descriptor(),
                    index.name
                )));
            }
            if is_empty_value(v) {
                return Err(Error::validation(format!(
                    "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: {}, IndexKey: {}",
                    index.name, attr.name
                )));
            }
            if v.size_bytes() > bytes_max {
                return Err(invalid(format!(
                    "Size of the index key attribute {} of index {} exceeds the limit of {bytes_max} bytes",
                    attr.name, index.name
                )));
            }
        }
    }
    Ok(())
}

/// What one item change does to one index: the entry to remove, the entry to write
/// (with the item as the index stores it), and the change to the index's item count
/// and size.
pub struct EntryChange {
    pub counters: Arc<IndexStats>,
    pub remove: Option<Vec<u8>>,
    pub insert: Option<(Vec<u8>, Item)>,
    pub items_delta: i64,
    pub bytes_delta: i64,
}

/// What an item going from `old` to `new` does to each index of its table. An index
/// whose entry stays the same (same key, same projected item) is left out. On an index
/// being backfilled, the change of an item the backfill has not visited yet is written
/// but not counted: the backfill counts the item when it gets there (see
/// [`BackfillCursor`]).
pub fn entry_changes(
    table: &TableDef,
    indexes: &[LiveIndex],
    old: Option<&Item>,
    new: Option<&Item>,
) -> Vec<EntryChange> {
    let mut out = Vec::new();
    for live in indexes {
        let index = &live.def;
        let entry = |i: &Item| {
            entry_key(table, index, i)
                .ok()
                .map(|k| (k, project(table, index, i)))
        };
        let old_entry = old.and_then(entry);
        let new_entry = new.and_then(entry);
        if old_entry == new_entry {
            continue;
        }
        let counted = match (&live.backfill, new.or(old)) {
            (Some(cursor), Some(item)) => {
                table_key(table, item).is_some_and(|k| cursor.visited(&k))
            }
            _ => true,
        };
        let size =
            |e: &Option<(Vec<u8>, Item)>| e.as_ref().map_or(0, |(_, i)| item_size_bytes(i) as i64);
        let (items_delta, bytes_delta) = if counted {
            (
                i64::from(new_entry.is_some()) - i64::from(old_entry.is_some()),
                size(&new_entry) - size(&old_entry),
            )
        } else {
            (0, 0)
        };
        // A rewrite under the same key needs no removal first.
        let remove = match (old_entry, &new_entry) {
            (Some((ok, _)), Some((nk, _))) if ok == *nk => None,
            (old, _) => old.map(|(k, _)| k),
        };
        out.push(EntryChange {
            counters: Arc::clone(&live.counters),
            remove,
            insert: new_entry,
            items_delta,
            bytes_delta,
        });
    }
    out
}

/// The storage key of a stored item of `table` (it carries the key attributes).
pub(crate) fn table_key(table: &TableDef, item: &Item) -> Option<Vec<u8>> {
    let pk = item.get(&table.key_schema.hash.name)?;
    let sk = match &table.key_schema.range {
        Some(r) => Some(item.get(&r.name)?),
        None => None,
    };
    item_key(table.id, table.shards, pk, sk)
        .ok()
        .map(|(k, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyType;

    fn attr(name: &str, key_type: KeyType) -> KeyAttribute {
        KeyAttribute {
            name: name.into(),
            key_type,
        }
    }

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    fn table(projection: IndexProjection) -> TableDef {
        TableDef {
            name: "t".into(),
            id: 1,
            key_schema: KeySchema {
                hash: attr("pk", KeyType::S),
                range: None,
            },
            attribute_definitions: vec![attr("pk", KeyType::S), attr("email", KeyType::S)],
            billing_mode: BillingMode::PayPerRequest,
            throughput: Throughput::default(),
            pay_per_request_since_ms: None,
            created_at_ms: 0,
            shards: 1,
            tags: Default::default(),
            indexes: vec![IndexDef {
                name: "by_email".into(),
                kind: IndexKind::Global,
                id: 2,
                key_schema: KeySchema {
                    hash: attr("email", KeyType::S),
                    range: None,
                },
                projection,
                throughput: None,
                build: IndexBuild::WithTable,
            }],
        }
    }

    fn live(t: &TableDef) -> Vec<LiveIndex> {
        t.indexes.iter().cloned().map(LiveIndex::new).collect()
    }

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn an_item_without_the_index_key_has_no_entry() {
        let t = table(IndexProjection::All);
        let i = item(&[("pk", s("a"))]);
        assert_eq!(entry_key(&t, &t.indexes[0], &i), Err(NoEntry::Missing));
        assert!(entry_changes(&t, &live(&t), None, Some(&i)).is_empty());
    }

    #[test]
    fn items_sharing_an_index_key_have_distinct_entries_under_one_prefix() {
        let t = table(IndexProjection::All);
        let a = entry_key(
            &t,
            &t.indexes[0],
            &item(&[("pk", s("a")), ("email", s("x"))]),
        );
        let b = entry_key(
            &t,
            &t.indexes[0],
            &item(&[("pk", s("b")), ("email", s("x"))]),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_ne!(a, b);
        let (prefix, _) = item_key(2, 1, &s("x"), None).unwrap();
        assert!(a.starts_with(&prefix) && b.starts_with(&prefix));
    }

    #[test]
    fn changing_the_index_key_moves_the_entry_and_other_changes_rewrite_it() {
        let t = table(IndexProjection::KeysOnly);
        let old = item(&[("pk", s("a")), ("email", s("x")), ("n", s("1"))]);
        let moved = item(&[("pk", s("a")), ("email", s("y")), ("n", s("1"))]);
        let c = entry_changes(&t, &live(&t), Some(&old), Some(&moved));
        assert_eq!(c.len(), 1);
        assert!(c[0].remove.is_some());
        let (_, projected) = c[0].insert.as_ref().unwrap();
        assert_eq!(projected, &item(&[("pk", s("a")), ("email", s("y"))]));
        // A change to an attribute the index does not project leaves its entry alone.
        let other = item(&[("pk", s("a")), ("email", s("x")), ("n", s("2"))]);
        assert!(entry_changes(&t, &live(&t), Some(&old), Some(&other)).is_empty());
        // Deleting the item removes the entry.
        let c = entry_changes(&t, &live(&t), Some(&old), None);
        assert!(c[0].remove.is_some() && c[0].insert.is_none());
    }

    #[test]
    fn a_wrongly_typed_index_key_is_rejected() {
        let t = table(IndexProjection::All);
        let bad = item(&[
            ("pk", s("a")),
            ("email", AttributeValue::N("1".parse().unwrap())),
        ]);
        let e = check_item(&live(&t), &bad).unwrap_err().to_string();
        assert!(e.contains("Type mismatch for Index Key email"), "{e}");
        let empty = item(&[("pk", s("a")), ("email", s(""))]);
        assert!(check_item(&live(&t), &empty).is_err());
        assert!(check_item(&live(&t), &item(&[("pk", s("a"))])).is_ok());
    }

    #[test]
    fn one_online_index_change_at_a_time_but_a_backfilling_index_can_be_deleted() {
        let mut t = table(IndexProjection::All);
        t.indexes[0].build = IndexBuild::Backfilling;
        let mut other = t.indexes[0].clone();
        other.name = "other".into();
        other.id = 3;
        other.build = IndexBuild::WithTable;
        t.indexes.push(other);
        let create = IndexUpdate::Create(IndexInput {
            name: "by_pk".into(),
            kind: IndexKind::Global,
            key_schema: vec![("pk".into(), KeyRole::Hash)],
            projection_type: Some("ALL".into()),
            non_key_attributes: None,
            throughput: None,
        });
        let limit = |updates: &[IndexUpdate]| {
            let mut def = t.clone();
            match plan_updates(&mut def, updates, Some(&[attr("pk", KeyType::S)])) {
                Err(Error::LimitExceeded(m)) => assert_eq!(m, ONE_ONLINE_INDEX),
                other => panic!("{other:?}"),
            }
        };
        limit(&[create]);
        limit(&[IndexUpdate::Delete("other".into())]);
        let mut def = t.clone();
        let (build, drop) =
            plan_updates(&mut def, &[IndexUpdate::Delete("by_email".into())], None).unwrap();
        assert!(build.is_none());
        assert_eq!(drop.unwrap().name, "by_email");
        assert_eq!(def.indexes.len(), 1);
    }

    #[test]
    fn entries_follow_dynamodb_index_key_violations() {
        let t = table(IndexProjection::All);
        let ix = &t.indexes[0];
        let with = |v: AttributeValue| entry_key(&t, ix, &item(&[("pk", s("a")), ("email", v)]));
        assert!(with(s(&"e".repeat(PARTITION_KEY_BYTES_MAX))).is_ok());
        let violations = [
            s(&"e".repeat(PARTITION_KEY_BYTES_MAX + 1)),
            s(""),
            AttributeValue::B(Vec::new()),
            AttributeValue::N(1.into()),
            AttributeValue::Ss(vec!["x".into()]),
        ];
        for v in violations {
            assert_eq!(with(v.clone()), Err(NoEntry::Violation), "{v:?}");
        }
        let building = LiveIndex::new(IndexDef {
            build: IndexBuild::Backfilling,
            ..ix.clone()
        });
        let bad = item(&[("pk", s("a")), ("email", AttributeValue::N(1.into()))]);
        // A backfilling index takes the write and leaves the item out.
        assert!(check_item(std::slice::from_ref(&building), &bad).is_ok());
        assert!(entry_changes(&t, &[building], None, Some(&bad)).is_empty());
    }
}
