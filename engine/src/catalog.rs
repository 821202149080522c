//! The table catalog: table definitions (key schema, billing, tags), their validation
//! at CreateTable time, and their stored form in the `meta` keyspace.
//!
//! A definition is immutable once published; UpdateTable and tagging publish a new
//! `Arc<TableDef>` under the catalog lock, so readers never see a half-changed table.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::index::def::{IndexBuild, IndexDef, IndexInput, IndexStats, LiveIndex};
use crate::schema::{
    BillingMode, IndexKeys, KeyAttribute, KeyRole, KeySchema, OnDemandThroughput, TableClass,
    Throughput, WarmThroughput, check_key_sizes, check_not_empty_key, item_key_attribute,
    resolve_key_schema, validate_table_name, validate_tags, validate_throughput,
};
use crate::stream::def::{StreamDef, StreamSpecification};
use crate::sync::read;
use crate::value::{AttributeValue, Item};

/// A table as it is stored in the catalog.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableDef {
    pub name: String,
    /// The storage id: the first four bytes of every item key of this table. Never
    /// reused, so a table created under the name of a deleted one cannot see its items.
    pub id: u32,
    pub key_schema: KeySchema,
    /// All attribute definitions, in the order the client gave them.
    pub attribute_definitions: Vec<KeyAttribute>,
    pub billing_mode: BillingMode,
    pub throughput: Throughput,
    /// When the billing mode last changed to PAY_PER_REQUEST, in epoch milliseconds.
    pub pay_per_request_since_ms: Option<u64>,
    pub created_at_ms: u64,
    /// Hash shards of the table; fixed at creation.
    pub shards: u16,
    pub tags: BTreeMap<String, String>,
    /// Secondary indexes as readers see them. Stored after the rest (since format
    /// version 2), so definitions written before indexes existed still decode.
    #[serde(skip)]
    pub indexes: Vec<IndexDef>,
    /// Deletion protection and the table class. Stored after the indexes (since format
    /// version 4), so older definitions decode with the defaults (unprotected, no class
    /// set), which is what those tables had.
    #[serde(skip)]
    pub settings: TableSettings,
}

/// A table's settings that change nothing about how its items are stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSettings {
    /// While set, DeleteTable is refused.
    pub deletion_protection: bool,
    /// The table class, once a client set one: DynamoDB reports `TableClassSummary`
    /// only for such tables (the default class is implied by its absence).
    pub table_class: Option<TableClassSetting>,
    /// The table's declared server-side encryption (`SSESpecification` with `Enabled`),
    /// `None` for DynamoDB's default (an AWS owned key, which DescribeTable does not
    /// report). It only records the declaration: with an encryption key every value is
    /// sealed whatever a table declares (`seal.rs`). Stored after the other settings
    /// (since format version 6), so older definitions decode without it.
    #[serde(skip)]
    pub sse: Option<SseSetting>,
    /// The on-demand maximums and the history of throughput changes. Stored after the
    /// declared encryption (since format version 7), so older definitions decode
    /// without maximums or changes, which is what those tables had.
    #[serde(skip)]
    pub capacity: CapacitySetting,
}

/// What a table's throughput rules remember: its on-demand maximums, and when its
/// provisioned throughput (and each global index's) last went up and down (the daily
/// limit on decreases).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapacitySetting {
    pub on_demand: OnDemandThroughput,
    pub changes: ThroughputChanges,
    /// The same per global index, by name; an index without changes is absent.
    pub indexes: BTreeMap<String, ThroughputChanges>,
    /// The warm throughput clients asked for (since format version 8; older tables
    /// have DynamoDB's default, which is what they reported).
    pub warm: WarmThroughput,
    /// Each global index's on-demand maximums and warm throughput, by name; an index
    /// with neither is absent (since format version 8).
    pub index_limits: BTreeMap<String, IndexCapacity>,
}

/// A global index's own on-demand maximums and the warm throughput asked for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexCapacity {
    pub on_demand: OnDemandThroughput,
    pub warm: WarmThroughput,
}

/// [`CapacitySetting`] as format version 7 stored it: the same fields, in the same
/// order (postcard is positional), without warm throughput and index maximums.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct CapacitySettingV7 {
    on_demand: OnDemandThroughput,
    changes: ThroughputChanges,
    indexes: BTreeMap<String, ThroughputChanges>,
}

impl CapacitySettingV7 {
    fn upgrade(self) -> CapacitySetting {
        CapacitySetting {
            on_demand: self.on_demand,
            changes: self.changes,
            indexes: self.indexes,
            ..CapacitySetting::default()
        }
    }
}

/// When a provisioned throughput last went up and down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThroughputChanges {
    /// Epoch milliseconds of the last increase and decrease.
    pub last_increase_ms: Option<u64>,
    pub last_decrease_ms: Option<u64>,
    /// Decreases made during the UTC day of `last_decrease_ms`.
    pub decreases_that_day: u32,
}

/// A table's declared server-side encryption with a KMS key; Eddy's encryption key
/// stands in for KMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SseSetting {
    /// `KMSMasterKeyId` as the client gave it (a key id, key ARN, alias name or alias
    /// ARN); `None` for the account's default key.
    pub kms_master_key_id: Option<String>,
}

/// A table class a client set, and when UpdateTable last changed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableClassSetting {
    pub class: TableClass,
    /// Epoch milliseconds of the last UpdateTable that set the class; `None` when it
    /// was set by CreateTable (DynamoDB then reports no `LastUpdateDateTime`).
    pub updated_at_ms: Option<u64>,
}

/// A live table: its current definition plus counters kept in memory.
#[derive(Debug)]
pub struct Table {
    pub def: TableDef,
    pub stats: Arc<TableStats>,
}

/// Item count and size, maintained by the writer and recomputed on open. DynamoDB
/// itself only refreshes these about every six hours; Eddy's are exact.
#[derive(Debug, Default)]
pub struct TableStats {
    pub item_count: AtomicI64,
    pub size_bytes: AtomicI64,
    /// Set when the table is deleted, so that writes already queued for it fail.
    pub deleted: AtomicBool,
    /// The secondary indexes the writer keeps, with their counters. Only the writer
    /// thread changes the list, so a write and the indexes it maintains are ordered
    /// (an index being added is kept before readers can see it, see `index/`).
    pub indexes: std::sync::RwLock<Arc<Vec<LiveIndex>>>,
    /// The table's enabled stream, if any. Only the writer thread changes it, so a
    /// write and the stream state it sees are ordered (see `stream/`).
    pub stream: std::sync::RwLock<Option<Arc<StreamDef>>>,
    /// The Time to Live attribute, when TTL is enabled (see `ttl.rs`).
    pub ttl_attribute: std::sync::RwLock<Option<String>>,
    /// The throughput the table and its indexes may consume, and what they consumed
    /// (see `capacity/`).
    pub capacity: crate::capacity::Governor,
}

impl TableStats {
    /// Counters for a table with these secondary indexes.
    pub fn with_indexes(indexes: &[IndexDef]) -> TableStats {
        let live = indexes.iter().cloned().map(LiveIndex::new).collect();
        TableStats {
            indexes: std::sync::RwLock::new(Arc::new(live)),
            ..TableStats::default()
        }
    }

    /// The live index list (cheap: an `Arc`).
    pub fn live_indexes(&self) -> Arc<Vec<LiveIndex>> {
        Arc::clone(&read(&self.indexes))
    }

    /// The counters of index `id`, if the writer keeps it.
    pub fn index_counters(&self, id: u32) -> Option<Arc<IndexStats>> {
        self.live_indexes()
            .iter()
            .find(|l| l.def.id == id)
            .map(|l| Arc::clone(&l.counters))
    }

    pub fn add(&self, items: i64, bytes: i64) {
        self.item_count.fetch_add(items, Ordering::Relaxed);
        self.size_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// The parts of a CreateTable request the engine needs.
#[derive(Debug, Clone, Default)]
pub struct CreateTableInput {
    pub name: String,
    pub attribute_definitions: Vec<KeyAttribute>,
    /// `(attribute name, is_range)` in the client's order.
    pub key_schema: Vec<(String, KeyRole)>,
    pub billing_mode: Option<BillingMode>,
    pub throughput: Option<Throughput>,
    pub tags: Vec<(String, String)>,
    pub stream: Option<StreamSpecification>,
    pub indexes: Vec<IndexInput>,
    /// `DeletionProtectionEnabled` (false when absent).
    pub deletion_protection: bool,
    /// `TableClass`, when given.
    pub table_class: Option<TableClass>,
    /// `SSESpecification` with `Enabled`, when given.
    pub sse: Option<SseSetting>,
    /// `OnDemandThroughput`, when given.
    pub on_demand: Option<OnDemandThroughput>,
    /// `WarmThroughput`, when given.
    pub warm: Option<WarmThroughput>,
}

/// A CreateTable request, checked: the key schema, billing, throughput and indexes
/// (their storage ids not yet assigned).
pub struct ValidCreate {
    pub key_schema: KeySchema,
    pub billing: BillingMode,
    pub throughput: Throughput,
    pub indexes: Vec<IndexDef>,
}

/// Validates a CreateTable request and resolves its key schema and indexes.
pub fn validate_create(input: &CreateTableInput) -> Result<ValidCreate> {
    validate_table_name(&input.name, "tableName")?;
    let billing = input.billing_mode.unwrap_or(BillingMode::Provisioned);
    // The billing mode's throughput rules come before the key schema's (dynalite's
    // CreateTable tests, written against DynamoDB: a missing ProvisionedThroughput is
    // reported even when the keys have no definitions).
    let throughput = match (billing, input.throughput) {
        (BillingMode::Provisioned, None) => {
            return Err(Error::validation(
                "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
            ));
        }
        (BillingMode::Provisioned, Some(t)) => {
            validate_throughput(t)?;
            t
        }
        (BillingMode::PayPerRequest, Some(_)) => {
            return Err(Error::validation(
                "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            ));
        }
        (BillingMode::PayPerRequest, None) => Throughput::default(),
    };
    let schema = resolve_key_schema(&input.key_schema, &input.attribute_definitions)?;
    let indexes = crate::index::def::validate_indexes(
        &input.indexes,
        &schema,
        &input.attribute_definitions,
        billing,
        None,
    )?;
    // Every attribute definition must be a key of the table or of an index.
    let used: Vec<&str> = schema
        .names()
        .chain(indexes.iter().flat_map(|i| i.key_schema.names()))
        .collect();
    if input
        .attribute_definitions
        .iter()
        .any(|d| !used.contains(&d.name.as_str()))
    {
        return Err(Error::validation(if indexes.is_empty() {
            "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions".to_string()
        } else {
            let mut used = used.clone();
            used.sort_unstable();
            used.dedup();
            format!(
                "One or more parameter values were invalid: Some AttributeDefinitions are not used. AttributeDefinitions: [{}], keys used: [{}]",
                input
                    .attribute_definitions
                    .iter()
                    .map(|d| d.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                used.join(", ")
            )
        }));
    }
    validate_tags(&input.tags)?;
    Ok(ValidCreate {
        key_schema: schema,
        billing,
        throughput,
        indexes,
    })
}

impl TableDef {
    /// Encodes the definition for the `meta` keyspace: a version byte, then postcard of
    /// the definition, then postcard of its indexes, then postcard of its settings,
    /// then postcard of its declared encryption.
    /// A definition that cannot be encoded is an [`Error::Internal`] of the change
    /// that would store it: an empty payload must never be written in its place.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let failed = |e: postcard::Error| {
            Error::Internal(format!(
                "cannot encode the definition of table {}: {e}",
                self.name
            ))
        };
        let mut out = vec![TABLE_DEF_VERSION];
        out.extend(postcard::to_stdvec(self).map_err(failed)?);
        out.extend(postcard::to_stdvec(&self.indexes).map_err(failed)?);
        out.extend(postcard::to_stdvec(&self.settings).map_err(failed)?);
        out.extend(postcard::to_stdvec(&self.settings.sse).map_err(failed)?);
        out.extend(postcard::to_stdvec(&self.settings.capacity).map_err(failed)?);
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<TableDef> {
        let corrupt = |e: postcard::Error| Error::Storage(format!("corrupt table definition: {e}"));
        match bytes.split_first() {
            // Version 1: written before secondary indexes existed.
            Some((1, rest)) => postcard::from_bytes(rest).map_err(corrupt),
            // Version 2: indexes without a build state. Every index then was complete
            // once its definition was stored (UpdateTable backfilled before storing).
            Some((2, rest)) => {
                let (mut def, rest): (TableDef, _) =
                    postcard::take_from_bytes(rest).map_err(corrupt)?;
                let indexes: Vec<IndexDefV2> = postcard::from_bytes(rest).map_err(corrupt)?;
                def.indexes = indexes.into_iter().map(IndexDefV2::upgrade).collect();
                Ok(def)
            }
            // Version 3: indexes with their build state and one-and-one key schemas,
            // no settings.
            Some((3, rest)) => {
                let (mut def, rest): (TableDef, _) =
                    postcard::take_from_bytes(rest).map_err(corrupt)?;
                let indexes: Vec<IndexDefV3> = postcard::from_bytes(rest).map_err(corrupt)?;
                def.indexes = indexes.into_iter().map(IndexDefV3::upgrade).collect();
                Ok(def)
            }
            // Version 4: the table's settings after one-and-one index key schemas.
            Some((4, rest)) => {
                let (mut def, rest): (TableDef, _) =
                    postcard::take_from_bytes(rest).map_err(corrupt)?;
                let (indexes, rest): (Vec<IndexDefV3>, _) =
                    postcard::take_from_bytes(rest).map_err(corrupt)?;
                def.indexes = indexes.into_iter().map(IndexDefV3::upgrade).collect();
                def.settings = postcard::from_bytes(rest).map_err(corrupt)?;
                Ok(def)
            }
            // Version 5: index keys of several attributes, no declared encryption.
            Some((5, rest)) => {
                let (mut def, rest): (TableDef, _) =
                    postcard::take_from_bytes(rest).map_err(corrupt)?;
                let (indexes, rest) = postcard::take_from_bytes(rest).map_err(corrupt)?;
                def.indexes = indexes;
                def.settings = postcard::from_bytes(rest).map_err(corrupt)?;
                Ok(def)
            }
            // Version 6: the declared encryption last, no capacity settings.
            Some((6, rest)) => {
                let (mut def, rest): (TableDef, _) =
                    postcard::take_from_bytes(rest).map_err(corrupt)?;
                let (indexes, rest) = postcard::take_from_bytes(rest).map_err(corrupt)?;
                def.indexes = indexes;
                let (settings, rest) = postcard::take_from_bytes(rest).map_err(corrupt)?;
                def.settings = settings;
                def.settings.sse = postcard::from_bytes(rest).map_err(corrupt)?;
                Ok(def)
            }
            // Version 7: the capacity settings without warm throughput and index
            // maximums; version 8 with them.
            Some((&version @ (7 | TABLE_DEF_VERSION), rest)) => {
                let (mut def, rest): (TableDef, _) =
                    postcard::take_from_bytes(rest).map_err(corrupt)?;
                let (indexes, rest) = postcard::take_from_bytes(rest).map_err(corrupt)?;
                def.indexes = indexes;
                let (settings, rest) = postcard::take_from_bytes(rest).map_err(corrupt)?;
                def.settings = settings;
                let (sse, rest) = postcard::take_from_bytes(rest).map_err(corrupt)?;
                def.settings.sse = sse;
                def.settings.capacity = if version == 7 {
                    postcard::from_bytes::<CapacitySettingV7>(rest)
                        .map_err(corrupt)?
                        .upgrade()
                } else {
                    postcard::from_bytes(rest).map_err(corrupt)?
                };
                Ok(def)
            }
            Some((v, _)) => Err(Error::Storage(format!(
                "unknown table definition version {v}"
            ))),
            None => Err(Error::Storage("empty table definition".into())),
        }
    }

    /// The secondary index called `name`.
    pub fn index(&self, name: &str) -> Option<&IndexDef> {
        self.indexes.iter().find(|i| i.name == name)
    }

    /// Checks a full item's key attributes (PutItem, BatchWriteItem puts) and returns
    /// the partition and sort key values.
    pub fn item_key<'a>(
        &self,
        item: &'a Item,
    ) -> Result<(&'a AttributeValue, Option<&'a AttributeValue>)> {
        let pk = item_key_attribute(item, &self.key_schema.hash)?;
        let sk = match &self.key_schema.range {
            Some(r) => Some(item_key_attribute(item, r)?),
            None => None,
        };
        check_key_sizes(pk, sk)?;
        Ok((pk, sk))
    }

    /// Checks a `Key` parameter (GetItem, DeleteItem, UpdateItem, BatchGetItem): exactly
    /// the key attributes, of the right types.
    pub fn key_from<'a>(
        &self,
        key: &'a Item,
    ) -> Result<(&'a AttributeValue, Option<&'a AttributeValue>)> {
        let expected = 1 + usize::from(self.key_schema.range.is_some());
        let mismatch = || Error::validation("The provided key element does not match the schema");
        if key.len() != expected {
            return Err(mismatch());
        }
        let get = |attr: &KeyAttribute| -> Result<&'a AttributeValue> {
            let v = key.get(&attr.name).ok_or_else(mismatch)?;
            if !attr.key_type.is_type_of(v) {
                return Err(mismatch());
            }
            check_not_empty_key(v, &attr.name)?;
            Ok(v)
        };
        let pk = get(&self.key_schema.hash)?;
        let sk = match &self.key_schema.range {
            Some(r) => Some(get(r)?),
            None => None,
        };
        check_key_sizes(pk, sk)?;
        Ok((pk, sk))
    }

    /// The names of the key attributes, hash first.
    pub fn key_names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.key_schema.hash.name.as_str())
            .chain(self.key_schema.range.as_ref().map(|r| r.name.as_str()))
    }

    /// The primary key of an item, as an item of just the key attributes.
    pub fn key_of(&self, item: &Item) -> Item {
        self.key_names()
            .filter_map(|n| item.get(n).map(|v| (n.to_string(), v.clone())))
            .collect()
    }
}

/// The version of the stored form of a [`TableDef`]: 3 added the indexes' build state
/// ([`IndexBuild`]), 4 the table's settings ([`TableSettings`]), 5 index keys of
/// several attributes ([`IndexKeys`]), 6 the declared encryption ([`SseSetting`]), 7
/// the capacity settings ([`CapacitySetting`]), 8 their warm throughput and index
/// maximums ([`IndexCapacity`]). Versions 1 to 7 are still read. An index's
/// entries are laid out the same in every version (a one-and-one key encodes as
/// before), so only the definition is upgraded.
const TABLE_DEF_VERSION: u8 = 8;

/// An index as format versions 3 and 4 stored it: the fields of [`IndexDef`] in the
/// same order, with a one-and-one key schema.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct IndexDefV3 {
    name: String,
    kind: crate::index::def::IndexKind,
    id: u32,
    key_schema: KeySchema,
    projection: crate::index::def::IndexProjection,
    throughput: Option<Throughput>,
    build: IndexBuild,
}

impl IndexDefV3 {
    fn upgrade(self) -> IndexDef {
        IndexDef {
            name: self.name,
            kind: self.kind,
            id: self.id,
            key_schema: IndexKeys::of(&self.key_schema),
            projection: self.projection,
            throughput: self.throughput,
            build: self.build,
        }
    }
}

/// An index as format version 2 stored it: the fields of [`IndexDef`] before `build`,
/// in the same order (postcard is positional).
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct IndexDefV2 {
    name: String,
    kind: crate::index::def::IndexKind,
    id: u32,
    key_schema: KeySchema,
    projection: crate::index::def::IndexProjection,
    throughput: Option<Throughput>,
}

impl IndexDefV2 {
    fn upgrade(self) -> IndexDef {
        IndexDef {
            name: self.name,
            kind: self.kind,
            id: self.id,
            key_schema: IndexKeys::of(&self.key_schema),
            projection: self.projection,
            throughput: self.throughput,
            build: IndexBuild::WithTable,
        }
    }
}

/// The table's live handle, shared by readers and the writer.
pub type TableRef = Arc<Table>;

pub fn is_deleted(t: &Table) -> bool {
    t.stats.deleted.load(Ordering::Acquire)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::def::{IndexKind, IndexProjection};
    use crate::keys::KeyType;

    fn attr(name: &str) -> KeyAttribute {
        KeyAttribute {
            name: name.into(),
            key_type: KeyType::S,
        }
    }

    fn table(build: IndexBuild) -> TableDef {
        TableDef {
            name: "t".into(),
            id: 7,
            key_schema: KeySchema {
                hash: attr("pk"),
                range: None,
            },
            attribute_definitions: vec![attr("pk"), attr("x"), attr("y"), attr("z")],
            billing_mode: BillingMode::PayPerRequest,
            throughput: Throughput::default(),
            pay_per_request_since_ms: Some(1),
            created_at_ms: 1,
            shards: 1,
            tags: BTreeMap::new(),
            settings: TableSettings::default(),
            indexes: vec![IndexDef {
                name: "by_x".into(),
                kind: IndexKind::Global,
                id: 8,
                key_schema: IndexKeys {
                    hash: vec![attr("x"), attr("y")],
                    range: vec![attr("z")],
                },
                projection: IndexProjection::KeysOnly,
                throughput: None,
                build,
            }],
        }
    }

    #[test]
    fn definitions_round_trip_with_their_index_build_state() {
        for build in [
            IndexBuild::WithTable,
            IndexBuild::Backfilling,
            IndexBuild::Backfilled,
        ] {
            let def = table(build);
            let back = TableDef::decode(&def.encode().unwrap()).unwrap();
            assert_eq!(back.indexes, def.indexes);
            assert_eq!(back.key_schema, def.key_schema);
        }
    }

    /// A table as versions 2 and 3 could store it: one-attribute index keys.
    fn simple_table(build: IndexBuild) -> TableDef {
        let mut def = table(build);
        def.indexes[0].key_schema = IndexKeys::of(&KeySchema {
            hash: attr("x"),
            range: None,
        });
        def
    }

    fn v3_key_schema(i: &IndexDef) -> KeySchema {
        KeySchema {
            hash: i.key_schema.hash[0].clone(),
            range: i.key_schema.range.first().cloned(),
        }
    }

    /// The indexes of `def` as format versions 3 and 4 stored them.
    fn v3_indexes(def: &TableDef) -> Vec<IndexDefV3> {
        def.indexes
            .iter()
            .map(|i| IndexDefV3 {
                name: i.name.clone(),
                kind: i.kind,
                id: i.id,
                key_schema: v3_key_schema(i),
                projection: i.projection.clone(),
                throughput: i.throughput,
                build: i.build,
            })
            .collect()
    }

    #[test]
    fn version_3_definitions_still_decode_with_one_attribute_keys() {
        let def = simple_table(IndexBuild::Backfilled);
        let mut bytes = vec![3];
        bytes.extend(postcard::to_stdvec(&def).unwrap());
        bytes.extend(postcard::to_stdvec(&v3_indexes(&def)).unwrap());
        let back = TableDef::decode(&bytes).unwrap();
        assert_eq!(back.indexes, def.indexes);
    }

    #[test]
    fn settings_round_trip_and_version_3_definitions_decode_unprotected() {
        let settings = TableSettings {
            deletion_protection: true,
            table_class: Some(TableClassSetting {
                class: TableClass::StandardInfrequentAccess,
                updated_at_ms: Some(5),
            }),
            sse: None,
            capacity: CapacitySetting::default(),
        };
        let mut def = table(IndexBuild::WithTable);
        def.settings = settings.clone();
        let back = TableDef::decode(&def.encode().unwrap()).unwrap();
        assert_eq!(back.settings, def.settings);
        assert_eq!(back.indexes, def.indexes);
        // Version 3 wrote the definition and one-and-one indexes only; version 4 the
        // settings after them.
        let mut def = simple_table(IndexBuild::WithTable);
        def.settings = settings;
        let mut v3 = vec![3];
        v3.extend(postcard::to_stdvec(&def).unwrap());
        v3.extend(postcard::to_stdvec(&v3_indexes(&def)).unwrap());
        let back = TableDef::decode(&v3).unwrap();
        assert_eq!(back.settings, TableSettings::default());
        assert_eq!(back.indexes, def.indexes);
        let mut v4 = vec![4];
        v4.extend(postcard::to_stdvec(&def).unwrap());
        v4.extend(postcard::to_stdvec(&v3_indexes(&def)).unwrap());
        v4.extend(postcard::to_stdvec(&def.settings).unwrap());
        let back = TableDef::decode(&v4).unwrap();
        assert_eq!(back.settings, def.settings);
        assert_eq!(back.indexes, def.indexes);
    }

    #[test]
    fn declared_encryption_round_trips_and_version_5_decodes_without_it() {
        let mut def = table(IndexBuild::Backfilled);
        def.settings.deletion_protection = true;
        for sse in [
            None,
            Some(SseSetting {
                kms_master_key_id: None,
            }),
            Some(SseSetting {
                kms_master_key_id: Some("alias/orders".into()),
            }),
        ] {
            def.settings.sse = sse;
            let back = TableDef::decode(&def.encode().unwrap()).unwrap();
            assert_eq!(back.settings, def.settings);
            assert_eq!(back.indexes, def.indexes);
        }
        // Version 5 wrote the settings last, without the declared encryption.
        let mut v5 = vec![5];
        v5.extend(postcard::to_stdvec(&def).unwrap());
        v5.extend(postcard::to_stdvec(&def.indexes).unwrap());
        v5.extend(postcard::to_stdvec(&def.settings).unwrap());
        let back = TableDef::decode(&v5).unwrap();
        assert!(back.settings.deletion_protection);
        assert_eq!(back.settings.sse, None);
        assert_eq!(back.indexes, def.indexes);
    }

    #[test]
    fn capacity_settings_round_trip_and_version_6_decodes_without_them() {
        let mut def = table(IndexBuild::Backfilled);
        def.settings.capacity = CapacitySetting {
            on_demand: OnDemandThroughput {
                max_read_request_units: Some(10),
                max_write_request_units: None,
            },
            changes: ThroughputChanges {
                last_increase_ms: Some(5),
                last_decrease_ms: Some(7),
                decreases_that_day: 3,
            },
            indexes: BTreeMap::from([("by_x".to_string(), ThroughputChanges::default())]),
            ..CapacitySetting::default()
        };
        def.settings.sse = Some(SseSetting {
            kms_master_key_id: None,
        });
        let back = TableDef::decode(&def.encode().unwrap()).unwrap();
        assert_eq!(back.settings, def.settings);
        let mut v6 = vec![6];
        v6.extend(postcard::to_stdvec(&def).unwrap());
        v6.extend(postcard::to_stdvec(&def.indexes).unwrap());
        v6.extend(postcard::to_stdvec(&def.settings).unwrap());
        v6.extend(postcard::to_stdvec(&def.settings.sse).unwrap());
        let back = TableDef::decode(&v6).unwrap();
        assert_eq!(back.settings.sse, def.settings.sse);
        assert_eq!(back.settings.capacity, CapacitySetting::default());
    }

    #[test]
    fn index_maximums_and_warm_throughput_round_trip_and_version_7_decodes_without_them() {
        let mut def = table(IndexBuild::Backfilled);
        let limits = IndexCapacity {
            on_demand: OnDemandThroughput {
                max_read_request_units: None,
                max_write_request_units: Some(3),
            },
            warm: WarmThroughput {
                read_units_per_second: Some(13_000),
                write_units_per_second: None,
            },
        };
        def.settings.capacity.index_limits = BTreeMap::from([("by_x".to_string(), limits)]);
        def.settings.capacity.warm.write_units_per_second = Some(5_000);
        def.settings.capacity.changes.decreases_that_day = 2;
        let back = TableDef::decode(&def.encode().unwrap()).unwrap();
        assert_eq!(back.settings, def.settings);
        let capacity = &def.settings.capacity;
        let v7_capacity = CapacitySettingV7 {
            on_demand: capacity.on_demand,
            changes: capacity.changes,
            indexes: capacity.indexes.clone(),
        };
        let mut v7 = vec![7];
        v7.extend(postcard::to_stdvec(&def).unwrap());
        v7.extend(postcard::to_stdvec(&def.indexes).unwrap());
        v7.extend(postcard::to_stdvec(&def.settings).unwrap());
        v7.extend(postcard::to_stdvec(&def.settings.sse).unwrap());
        v7.extend(postcard::to_stdvec(&v7_capacity).unwrap());
        let back = TableDef::decode(&v7).unwrap();
        assert_eq!(back.settings.capacity.changes.decreases_that_day, 2);
        assert_eq!(back.settings.capacity.warm, WarmThroughput::default());
        assert!(back.settings.capacity.index_limits.is_empty());
    }

    #[test]
    fn version_2_definitions_still_decode_as_complete_indexes() {
        let def = simple_table(IndexBuild::WithTable);
        let old: Vec<IndexDefV2> = def
            .indexes
            .iter()
            .map(|i| IndexDefV2 {
                name: i.name.clone(),
                kind: i.kind,
                id: i.id,
                key_schema: v3_key_schema(i),
                projection: i.projection.clone(),
                throughput: i.throughput,
            })
            .collect();
        let mut bytes = vec![2];
        bytes.extend(postcard::to_stdvec(&def).unwrap());
        bytes.extend(postcard::to_stdvec(&old).unwrap());
        let back = TableDef::decode(&bytes).unwrap();
        assert_eq!(back.indexes, def.indexes);
        assert!(matches!(TableDef::decode(&[9]), Err(Error::Storage(_))));
    }
}
