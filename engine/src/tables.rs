//! The control plane: create, describe, list, update and delete tables, and tags.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::catalog::KeyAttribute;
use crate::catalog::{
    BillingMode, CreateTableInput, Table, TableDef, TableStats, Throughput, validate_create,
    validate_table_name, validate_tags, validate_throughput,
};
use crate::error::{Error, Result};
use crate::index::{IndexUpdate, LiveIndex, plan_updates};
use crate::limits::{LIST_TABLES_LIMIT_MAX, TABLE_SHARDS_MAX};
use crate::store::{Engine, lock, now_ms, write};
use crate::stream::{StreamDef, StreamViewType};

/// A table's lifecycle state as DescribeTable reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableStatus {
    Creating,
    Active,
    Deleting,
    Updating,
}

impl TableStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TableStatus::Creating => "CREATING",
            TableStatus::Active => "ACTIVE",
            TableStatus::Deleting => "DELETING",
            TableStatus::Updating => "UPDATING",
        }
    }
}

/// What DescribeTable (and the other control-plane calls) report about a table.
#[derive(Debug, Clone)]
pub struct TableDescription {
    pub def: TableDef,
    pub status: TableStatus,
    pub item_count: i64,
    pub size_bytes: i64,
    pub arn: String,
    /// The table's latest stream (enabled or not) and its ARN.
    pub latest_stream: Option<(Arc<StreamDef>, String)>,
    /// Whether that stream is enabled.
    pub stream_enabled: bool,
    /// Item count and size of each index, in the order of `def.indexes`.
    pub index_counts: Vec<(i64, i64)>,
}

/// The parts of UpdateTable the engine applies.
#[derive(Debug, Clone, Default)]
pub struct UpdateTableInput {
    pub billing_mode: Option<BillingMode>,
    pub throughput: Option<Throughput>,
    pub stream: Option<StreamSpecification>,
    /// `AttributeDefinitions`: the key attributes of an index being created.
    pub attribute_definitions: Option<Vec<KeyAttribute>>,
    /// `GlobalSecondaryIndexUpdates`.
    pub index_updates: Vec<IndexUpdate>,
}

/// `StreamSpecification` of CreateTable and UpdateTable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSpecification {
    pub enabled: bool,
    pub view_type: Option<StreamViewType>,
}

impl StreamSpecification {
    /// The view type of a specification that enables a stream.
    fn enabling(self) -> Result<Option<StreamViewType>> {
        match (self.enabled, self.view_type) {
            (true, Some(v)) => Ok(Some(v)),
            (true, None) => Err(Error::validation(
                "One or more parameter values were invalid: You must specify a StreamViewType when you enable a stream",
            )),
            (false, _) => Ok(None),
        }
    }
}

impl Engine {
    /// The ARN of a table in this engine's region and account.
    pub fn table_arn(&self, name: &str) -> String {
        let c = self.config();
        format!(
            "arn:aws:dynamodb:{}:{}:table/{name}",
            c.region, c.account_id
        )
    }

    fn describe(&self, t: &Table, status: TableStatus) -> TableDescription {
        let latest = self.latest_stream(&t.def);
        TableDescription {
            def: t.def.clone(),
            status,
            item_count: t.stats.item_count.load(Ordering::Relaxed),
            size_bytes: t.stats.size_bytes.load(Ordering::Relaxed),
            arn: self.table_arn(&t.def.name),
            stream_enabled: latest.as_ref().is_some_and(|s| s.is_enabled()),
            index_counts: t
                .def
                .indexes
                .iter()
                .map(|ix| {
                    t.stats.index_counters(ix.id).map_or((0, 0), |c| {
                        (
                            c.item_count.load(Ordering::Relaxed),
                            c.size_bytes.load(Ordering::Relaxed),
                        )
                    })
                })
                .collect(),
            latest_stream: latest.map(|s| {
                let arn = self.stream_arn(&s);
                (s, arn)
            }),
        }
    }

    pub fn create_table(&self, input: CreateTableInput) -> Result<TableDescription> {
        let valid = validate_create(&input)?;
        let (key_schema, billing_mode, throughput) =
            (valid.key_schema, valid.billing, valid.throughput);
        let stream_view = input
            .stream
            .map(StreamSpecification::enabling)
            .transpose()?
            .flatten();
        let _guard = lock(&self.inner.catalog_lock);
        if self.table(&input.name).is_ok() {
            return Err(Error::ResourceInUse(format!(
                "Table already exists: {}",
                input.name
            )));
        }
        let id = self.allocate_table_id()?;
        // Each index takes the storage ids after the table's.
        let mut indexes = valid.indexes;
        for (n, index) in (1u32..).zip(indexes.iter_mut()) {
            index.id = id + n;
        }
        let next_id = id + 1 + indexes.len() as u32;
        let now = now_ms();
        let def = TableDef {
            name: input.name.clone(),
            id,
            key_schema,
            attribute_definitions: input.attribute_definitions.clone(),
            billing_mode,
            throughput,
            pay_per_request_since_ms: (billing_mode == BillingMode::PayPerRequest).then_some(now),
            created_at_ms: now,
            shards: self.config().table_shards.clamp(1, TABLE_SHARDS_MAX),
            tags: input.tags.iter().cloned().collect(),
            indexes,
        };
        let table = Arc::new(Table {
            stats: Arc::new(TableStats::with_indexes(&def.indexes)),
            def,
        });
        // The definition and its stream commit together, in one writer job: a refused
        // or failed job leaves no trace. The stream is live before the table is
        // visible, so no write can miss it.
        let t = Arc::clone(&table);
        self.control(Box::new(move |inner, batch| {
            inner.stage_table_def(batch, &t.def, false, Some(next_id))?;
            if let Some(view) = stream_view {
                inner.enable_stream(&t, view, batch)?;
            }
            Ok(())
        }))?;
        self.publish_table(Arc::clone(&table));
        // Tables are usable as soon as CreateTable returns, as in DynamoDB Local.
        Ok(self.describe(&table, TableStatus::Active))
    }

    /// The live table `name` for a control-plane call: the name is checked, and a
    /// missing table is the control plane's ResourceNotFoundException.
    pub(crate) fn control_table(&self, name: &str) -> Result<crate::catalog::TableRef> {
        validate_table_name(name, "tableName")?;
        self.table(name).map_err(|_| {
            Error::not_found(format!(
                "Requested resource not found: Table: {name} not found"
            ))
        })
    }

    pub fn describe_table(&self, name: &str) -> Result<TableDescription> {
        let t = self.control_table(name)?;
        Ok(self.describe(&t, TableStatus::Active))
    }

    pub fn delete_table(&self, name: &str) -> Result<TableDescription> {
        let _guard = lock(&self.inner.catalog_lock);
        let t = self.control_table(name)?;
        // One writer job, ordered with the writes: those queued before the delete
        // commit (with their stream records), later ones find no table. The
        // definition's removal, the stream's end (it stays readable until retention
        // trims it) and the backfill cursors commit together, or none of them does.
        let closing = Arc::clone(&t);
        self.control(Box::new(move |inner, batch| {
            inner.stage_table_def(batch, &closing.def, true, None)?;
            inner.disable_stream(&closing, batch)?;
            // A backfill still running stops at its next step (the table is deleted);
            // its cursor goes with the table.
            for index in &closing.def.indexes {
                batch.remove(&inner.meta, crate::backfill::cursor_key(index.id));
            }
            inner.unpublish_table(&closing.def.name);
            Ok(())
        }))?;
        let desc = self.describe(&t, TableStatus::Deleting);
        self.purge_table_items(t.def.id);
        for index in &t.def.indexes {
            self.purge_table_items(index.id);
        }
        Ok(desc)
    }

    /// Table names in order, starting after `start_after`, at most `limit`; the second
    /// value is the last name returned when more follow.
    pub fn list_tables(
        &self,
        start_after: Option<&str>,
        limit: Option<usize>,
    ) -> Result<(Vec<String>, Option<String>)> {
        let limit = limit.unwrap_or(LIST_TABLES_LIMIT_MAX);
        if limit == 0 || limit > LIST_TABLES_LIMIT_MAX {
            return Err(Error::validation(format!(
                "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value {} {}",
                if limit == 0 {
                    "greater than or equal to"
                } else {
                    "less than or equal to"
                },
                if limit == 0 { 1 } else { LIST_TABLES_LIMIT_MAX }
            )));
        }
        let tables = self.tables_snapshot();
        let mut names: Vec<String> = tables
            .iter()
            .map(|t| t.def.name.clone())
            .filter(|n| start_after.is_none_or(|s| n.as_str() > s))
            .collect();
        let more = names.len() > limit;
        names.truncate(limit);
        let last = if more { names.last().cloned() } else { None };
        Ok((names, last))
    }

    pub fn update_table(&self, name: &str, input: UpdateTableInput) -> Result<TableDescription> {
        let _guard = lock(&self.inner.catalog_lock);
        let t = self.control_table(name)?;
        let mut def = t.def.clone();
        if input.billing_mode.is_none()
            && input.throughput.is_none()
            && input.stream.is_none()
            && input.index_updates.is_empty()
        {
            return Err(Error::validation(
                "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
            ));
        }
        let mode = input.billing_mode.unwrap_or(def.billing_mode);
        match (mode, input.throughput) {
            (BillingMode::PayPerRequest, Some(_)) => {
                return Err(Error::validation(
                    "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
                ));
            }
            (BillingMode::Provisioned, Some(tp)) => {
                validate_throughput(tp)?;
                def.throughput = tp;
            }
            (BillingMode::Provisioned, None) if def.billing_mode == BillingMode::PayPerRequest => {
                return Err(Error::validation(
                    "One or more parameter values were invalid: ProvisionedThroughput must be specified when BillingMode is PROVISIONED",
                ));
            }
            (BillingMode::PayPerRequest, None) => def.throughput = Throughput::default(),
            (BillingMode::Provisioned, None) => {}
        }
        if mode == BillingMode::PayPerRequest && def.billing_mode != mode {
            def.pay_per_request_since_ms = Some(now_ms());
        }
        def.billing_mode = mode;
        // Index updates are checked before anything changes, so a refused one leaves
        // the stream and billing as they were.
        let (build, drop) = plan_updates(
            &mut def,
            &input.index_updates,
            input.attribute_definitions.as_deref(),
        )?;
        // A stream change is checked here and applied below, in the same writer job as
        // the new definition.
        let stream_change = match input.stream {
            None => None,
            Some(spec) => {
                let view = spec.enabling()?;
                match (view, self.table_stream(&t).is_some()) {
                    (Some(_), true) => {
                        return Err(Error::validation(format!(
                            "Table already has an enabled stream: TableName: {name}"
                        )));
                    }
                    (None, false) => {
                        return Err(Error::validation(format!(
                            "Table already has streams disabled: TableName: {name}"
                        )));
                    }
                    (view, _) => Some(view),
                }
            }
        };
        let build = match build {
            Some(mut index) => {
                // The id is taken in the same commit as the definition that names it.
                index.id = self.allocate_table_id()?;
                if let Some(slot) = def.indexes.iter_mut().find(|i| i.name == index.name) {
                    slot.id = index.id;
                }
                Some(index)
            }
            None => None,
        };
        // One writer job, ordered with the writes: the stream change, the indexes the
        // writer keeps (a new one from this commit on, so every later write maintains
        // it; a dropped one no more) and the new definition commit together, or none
        // of them does.
        let (target, new_def) = (Arc::clone(&t), def.clone());
        let (built, dropped) = (build.clone(), drop.as_ref().map(|i| i.id));
        self.control(Box::new(move |inner, batch| {
            let next_table_id = built.as_ref().map(|i| i.id + 1);
            inner.stage_table_def(batch, &new_def, false, next_table_id)?;
            match stream_change {
                Some(Some(view)) => {
                    inner.enable_stream(&target, view, batch)?;
                }
                Some(None) => inner.disable_stream(&target, batch)?,
                None => {}
            }
            if built.is_some() || dropped.is_some() {
                let mut live = (*target.stats.live_indexes()).clone();
                if let Some(id) = dropped {
                    live.retain(|l| l.def.id != id);
                    batch.remove(&inner.meta, crate::backfill::cursor_key(id));
                }
                if let Some(index) = &built {
                    live.push(LiveIndex::new(index.clone()));
                }
                *write(&target.stats.indexes) = Arc::new(live);
            }
            Ok(())
        }))?;
        let table = Arc::new(Table {
            def,
            stats: Arc::clone(&t.stats),
        });
        self.publish_table(Arc::clone(&table));
        // UpdateTable returns while the backfill runs (CREATING, Backfilling), as
        // DynamoDB's does; see `backfill.rs`.
        if let Some(index) = build {
            self.spawn_backfill(Arc::clone(&t), index.id);
        }
        if let Some(index) = drop {
            self.purge_table_items(index.id);
        }
        Ok(self.describe(&table, TableStatus::Active))
    }

    /// Stores and publishes a new definition of table `t` (under the catalog lock).
    pub(crate) fn replace_def(&self, t: &Table, def: TableDef) -> Result<TableDescription> {
        self.persist_table(&def)?;
        let table = Arc::new(Table {
            def,
            stats: Arc::clone(&t.stats),
        });
        self.publish_table(Arc::clone(&table));
        Ok(self.describe(&table, TableStatus::Active))
    }

    /// Resolves a table ARN of this engine to its table.
    fn table_by_arn(&self, arn: &str) -> Result<Arc<Table>> {
        let invalid = || {
            Error::validation(format!(
                "Invalid TableArn: Invalid ResourceArn provided as input {arn}"
            ))
        };
        let name = arn
            .strip_prefix("arn:aws:dynamodb:")
            .and_then(|rest| rest.split_once(":table/"))
            .map(|(_, name)| name)
            .ok_or_else(invalid)?;
        self.table(name).map_err(|_| {
            Error::not_found(format!(
                "Requested resource not found: ResourcArn: {arn} not found"
            ))
        })
    }

    pub fn tag_resource(&self, arn: &str, tags: Vec<(String, String)>) -> Result<()> {
        validate_tags(&tags)?;
        let _guard = lock(&self.inner.catalog_lock);
        let t = self.table_by_arn(arn)?;
        let mut def = t.def.clone();
        def.tags.extend(tags);
        validate_tags(&def.tags.clone().into_iter().collect::<Vec<_>>())?;
        self.replace_def(&t, def).map(|_| ())
    }

    pub fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<()> {
        let _guard = lock(&self.inner.catalog_lock);
        let t = self.table_by_arn(arn)?;
        let mut def = t.def.clone();
        for k in keys {
            def.tags.remove(k);
        }
        self.replace_def(&t, def).map(|_| ())
    }

    pub fn list_tags(&self, arn: &str) -> Result<Vec<(String, String)>> {
        let t = self.table_by_arn(arn)?;
        Ok(t.def
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}
