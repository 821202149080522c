//! The control plane: create, describe, list, update and delete tables (their tags are
//! `tags.rs`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::backfill::spawn_backfill;
use crate::catalog::{
    CapacitySetting, CreateTableInput, SseSetting, Table, TableClassSetting, TableDef,
    TableSettings, TableStats, validate_create,
};
use crate::clock::now_ms;
use crate::error::{Error, Result, contain};
use crate::index::def::{IndexUpdate, LiveIndex};
use crate::index::plan::plan_updates;
use crate::limits::{LIST_TABLES_LIMIT_MAX, TABLE_SHARDS_MAX};
use crate::meta::{allocate_table_id, persist_table, stage_table_def};
use crate::schema::{
    BillingMode, KeyAttribute, OnDemandThroughput, TableClass, Throughput, WarmThroughput,
    validate_table_name, validate_throughput,
};
use crate::state::State;
use crate::stream::control::{disable_stream, enable_stream};
use crate::stream::def::{StreamDef, StreamSpecification};
use crate::stream::read::latest_stream;
use crate::sync::{lock, write};
use crate::throughput::{
    WarmOwner, change_warm, check_new_warm, check_on_demand, merge_on_demand, new_index_capacity,
    record_change, warm_throughput,
};
use crate::writer::staging::Staging;
use crate::writer::submit::control;

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
    /// The capacity clock's reading, which `NumberOfDecreasesToday` is counted by.
    pub capacity_now_ms: u64,
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
    /// `DeletionProtectionEnabled`, when given.
    pub deletion_protection: Option<bool>,
    /// `TableClass`, when given.
    pub table_class: Option<TableClass>,
    /// `SSESpecification`, when given: `Some(None)` goes back to DynamoDB's default key.
    pub sse: Option<Option<SseSetting>>,
    /// `OnDemandThroughput`, when given (-1 removes a maximum).
    pub on_demand: Option<OnDemandThroughput>,
    /// `WarmThroughput`, when given.
    pub warm: Option<WarmThroughput>,
}

impl UpdateTableInput {
    /// Whether the request changes anything but the deletion protection and the
    /// table class (those two must come alone).
    fn changes_capacity_streams_or_indexes(&self) -> bool {
        self.billing_mode.is_some()
            || self.throughput.is_some()
            || self.stream.is_some()
            || !self.index_updates.is_empty()
            || self.sse.is_some()
    }

    /// DynamoDB's checks of which members an UpdateTable may combine, made before the
    /// table is looked up: at least one change, and deletion protection or the table
    /// class alone (DynamoDB names deletion protection first when both are given).
    fn check_members(&self) -> Result<()> {
        let others = self.changes_capacity_streams_or_indexes();
        if !others
            && self.deletion_protection.is_none()
            && self.table_class.is_none()
            && self.on_demand.is_none()
            && self.warm.is_none()
        {
            // DynamoDB's list names members Eddy does not have (replicas); it is its
            // fixed text for a request with no change.
            return Err(Error::validation(
                "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates, SSESpecification, ReplicaUpdates, MultiAccountReplicaReady, ReplicaTransitRoleArn, MultiRegionConsistency, DeletionProtectionEnabled, OnDemandThroughput, WarmThroughput or TableClass is required",
            ));
        }
        let on_demand = self.on_demand.is_some();
        let capacity = on_demand || self.warm.is_some();
        if self.deletion_protection.is_some() && (others || self.table_class.is_some() || capacity)
        {
            return Err(Error::validation(
                "One or more parameter values were invalid: DeletionProtection modification must be the only operation in the request",
            ));
        }
        if self.table_class.is_some() && (others || capacity) {
            return Err(Error::validation(
                "One or more parameter values were invalid: TableClass modification must be the only operation in the request",
            ));
        }
        // Measured on DynamoDB (ack-api-quirks): maximums go alone or with BillingMode.
        if on_demand
            && (self.throughput.is_some()
                || self.stream.is_some()
                || !self.index_updates.is_empty()
                || self.sse.is_some())
        {
            return Err(Error::validation(
                "One or more parameter values were invalid: OnDemandThroughput can only be combined with BillingMode in an UpdateTable request",
            ));
        }
        // A stream change comes alone or with a switch to on-demand: with provisioned
        // throughput (or a switch to provisioned) DynamoDB refuses it as a static rule,
        // although no IOPS update is running (ack-api-quirks' DDB-TABLE-382, measured
        // on idle tables; the message is the one Terraform users report in
        // terraform-provider-aws#35673).
        let iops = self.throughput.is_some() || self.billing_mode == Some(BillingMode::Provisioned);
        if self.stream.is_some() && iops {
            return Err(Error::validation(
                "One or more parameter values were invalid: You cannot modify stream status while updating table IOPS",
            ));
        }
        Ok(())
    }
}

/// The ARN of a table in this engine's region and account.
pub(crate) fn table_arn(state: &State, name: &str) -> String {
    let c = &state.config;
    format!(
        "arn:aws:dynamodb:{}:{}:table/{name}",
        c.region, c.account_id
    )
}

fn describe(state: &State, t: &Table, status: TableStatus) -> TableDescription {
    // Right after a start the counts of what was stored before may still be running.
    state.wait_counts();
    let latest = latest_stream(state, &t.def);
    TableDescription {
        def: t.def.clone(),
        status,
        item_count: t.stats.item_count.load(Ordering::Relaxed),
        size_bytes: t.stats.size_bytes.load(Ordering::Relaxed),
        arn: table_arn(state, &t.def.name),
        capacity_now_ms: state.config.capacity_clock.now_ms(),
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
            let arn = crate::stream::read::stream_arn(state, &s);
            (s, arn)
        }),
    }
}

pub(crate) fn create_table(
    state: &Arc<State>,
    input: CreateTableInput,
) -> Result<TableDescription> {
    let valid = validate_create(&input)?;
    let (key_schema, billing_mode, throughput) =
        (valid.key_schema, valid.billing, valid.throughput);
    let on_demand = input.on_demand.unwrap_or_default();
    check_on_demand(billing_mode, &on_demand, false)?;
    let on_demand = merge_on_demand(OnDemandThroughput::default(), &on_demand);
    let warm = input.warm.unwrap_or_default();
    let table_throughput = (billing_mode == BillingMode::Provisioned).then_some(throughput);
    check_new_warm(WarmOwner::Table, billing_mode, table_throughput, &warm)?;
    // Each global index's own maximums and warm throughput, by name.
    let mut index_limits = std::collections::BTreeMap::new();
    for (given, index) in input.indexes.iter().zip(&valid.indexes) {
        if let Some(kept) = new_index_capacity(billing_mode, given, index)? {
            index_limits.insert(index.name.clone(), kept);
        }
    }
    let stream_view = input
        .stream
        .map(StreamSpecification::enabling)
        .transpose()?
        .flatten();
    let _guard = lock(&state.catalog_lock);
    if state.table(&input.name).is_ok() {
        return Err(Error::ResourceInUse(format!(
            "Table already exists: {}",
            input.name
        )));
    }
    let id = allocate_table_id(state)?;
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
        shards: state.config.table_shards.clamp(1, TABLE_SHARDS_MAX),
        tags: input.tags.iter().cloned().collect(),
        indexes,
        settings: TableSettings {
            deletion_protection: input.deletion_protection,
            // A class given at creation has no LastUpdateDateTime in DynamoDB.
            table_class: input.table_class.map(|class| TableClassSetting {
                class,
                updated_at_ms: None,
            }),
            sse: input.sse.clone(),
            capacity: CapacitySetting {
                on_demand,
                warm,
                index_limits,
                ..CapacitySetting::default()
            },
        },
    };
    let table = Arc::new(Table {
        stats: Arc::new(TableStats::with_indexes(&def.indexes)),
        def,
    });
    // The definition and its stream commit together, in one writer job: a refused
    // or failed job leaves no trace. The stream is live before the table is
    // visible, so no write can miss it.
    let t = Arc::clone(&table);
    control(
        state,
        Box::new(move |inner, batch| {
            stage_table_def(inner, batch, &t.def, false, Some(next_id))?;
            if let Some(view) = stream_view {
                enable_stream(inner, &t, view, batch)?;
            }
            Ok(())
        }),
    )?;
    state.publish_table(Arc::clone(&table));
    // Tables are usable as soon as CreateTable returns, as in DynamoDB Local.
    Ok(describe(state, &table, TableStatus::Active))
}

/// The live table `name` for a control-plane call: the name is checked, and a
/// missing table is the control plane's ResourceNotFoundException.
pub(crate) fn control_table(state: &State, name: &str) -> Result<crate::catalog::TableRef> {
    validate_table_name(name, "tableName")?;
    state.table(name).map_err(|_| {
        Error::not_found(format!(
            "Requested resource not found: Table: {name} not found"
        ))
    })
}

pub(crate) fn describe_table(state: &State, name: &str) -> Result<TableDescription> {
    let t = control_table(state, name)?;
    Ok(describe(state, &t, TableStatus::Active))
}

pub(crate) fn delete_table(state: &Arc<State>, name: &str) -> Result<TableDescription> {
    let _guard = lock(&state.catalog_lock);
    let t = control_table(state, name)?;
    if t.def.settings.deletion_protection {
        return Err(Error::validation(
            "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.",
        ));
    }
    // One writer job, ordered with the writes: those queued before the delete
    // commit (with their stream records), later ones find no table. The
    // definition's removal, the stream's end (it stays readable until retention
    // trims it) and the backfill cursors commit together, or none of them does.
    let closing = Arc::clone(&t);
    control(
        state,
        Box::new(move |inner, batch| {
            stage_table_def(inner, batch, &closing.def, true, None)?;
            disable_stream(inner, &closing, batch)?;
            // A backfill still running stops at its next step (the table is deleted);
            // its cursor goes with the table.
            for index in &closing.def.indexes {
                batch.remove(&inner.meta, crate::backfill::cursor_key(index.id));
            }
            inner.unpublish_table(&closing.def.name);
            Ok(())
        }),
    )?;
    let desc = describe(state, &t, TableStatus::Deleting);
    purge_table_items(state, t.def.id);
    for index in &t.def.indexes {
        purge_table_items(state, index.id);
    }
    Ok(desc)
}

/// Table names in order, starting after `start_after`, at most `limit`; the second
/// value is the last name returned when more follow.
pub(crate) fn list_tables(
    state: &State,
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
    let tables = state.tables_snapshot();
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

pub(crate) fn update_table(
    state: &Arc<State>,
    name: &str,
    input: UpdateTableInput,
) -> Result<TableDescription> {
    validate_table_name(name, "tableName")?;
    input.check_members()?;
    let _guard = lock(&state.catalog_lock);
    let t = control_table(state, name)?;
    let mut def = t.def.clone();
    if let Some(on) = input.deletion_protection {
        def.settings.deletion_protection = on;
    }
    if let Some(class) = input.table_class {
        def.settings.table_class = Some(TableClassSetting {
            class,
            updated_at_ms: Some(now_ms()),
        });
    }
    if let Some(sse) = &input.sse {
        def.settings.sse = sse.clone();
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
            // A switch from on-demand sets the throughput; it is no decrease.
            if def.billing_mode == BillingMode::Provisioned {
                crate::throughput::check_changes(def.throughput, tp)?;
                let now = state.config.capacity_clock.now_ms();
                record_change(&mut def.settings.capacity.changes, def.throughput, tp, now)?;
            }
            def.throughput = tp;
        }
        (BillingMode::Provisioned, None) if def.billing_mode == BillingMode::PayPerRequest => {
            return Err(Error::validation(
                "One or more parameter values were invalid: ProvisionedThroughput must be specified when BillingMode is PROVISIONED",
            ));
        }
        (BillingMode::PayPerRequest, None) => {
            // On demand, neither the table nor its global indexes keep units: a switch
            // back to provisioned must give them again (see below).
            def.throughput = Throughput::default();
            for ix in def.indexes.iter_mut() {
                ix.throughput = None;
            }
        }
        (BillingMode::Provisioned, None) => {}
    }
    if mode == BillingMode::PayPerRequest && def.billing_mode != mode {
        def.pay_per_request_since_ms = Some(now_ms());
    }
    if let Some(od) = &input.on_demand {
        check_on_demand(mode, od, true)?;
        def.settings.capacity.on_demand = merge_on_demand(def.settings.capacity.on_demand, od);
    }
    // Maximums belong to on-demand: a switch to provisioned leaves none behind, on the
    // table or its indexes.
    if mode == BillingMode::Provisioned {
        def.settings.capacity.on_demand = OnDemandThroughput::default();
        for limits in def.settings.capacity.index_limits.values_mut() {
            limits.on_demand = OnDemandThroughput::default();
        }
    }
    if let Some(warm) = &input.warm {
        let asked = def.settings.capacity.warm;
        def.settings.capacity.warm =
            change_warm(WarmOwner::Table, warm_throughput(&t.def), asked, warm)?;
    }
    def.billing_mode = mode;
    // Index updates are checked before anything changes, so a refused one leaves
    // the stream and billing as they were.
    let (build, drop) = plan_updates(
        &mut def,
        &input.index_updates,
        input.attribute_definitions.as_deref(),
    )?;
    let from_on_demand = t.def.billing_mode == BillingMode::PayPerRequest;
    if mode == BillingMode::Provisioned && from_on_demand {
        crate::throughput::check_index_units_on_switch(&def, &input.index_updates)?;
    }
    // Each global index's provisioned throughput has its own daily decrease limit; a
    // switch from on-demand sets it, as it does the table's, and is no decrease.
    let now = state.config.capacity_clock.now_ms();
    for ix in def.indexes.iter().filter(|_| !from_on_demand) {
        let old = t.def.index(&ix.name).and_then(|o| o.throughput);
        if let (Some(new), Some(old)) = (ix.throughput, old)
            && new != old
        {
            let changes = def.settings.capacity.indexes.entry(ix.name.clone());
            record_change(changes.or_default(), old, new, now)?;
        }
    }
    crate::throughput::record_warm(&t.def, &mut def);
    let names: Vec<&str> = def.indexes.iter().map(|i| i.name.as_str()).collect();
    def.settings
        .capacity
        .indexes
        .retain(|name, _| names.contains(&name.as_str()));
    def.settings.capacity.index_limits.retain(|name, limits| {
        names.contains(&name.as_str()) && *limits != crate::catalog::IndexCapacity::default()
    });
    // A stream change is checked here and applied below, in the same writer job as
    // the new definition.
    let stream_change = match input.stream {
        None => None,
        Some(spec) => {
            let view = spec.enabling()?;
            match (view, crate::stream::read::table_stream(&t).is_some()) {
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
            index.id = allocate_table_id(state)?;
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
    control(
        state,
        Box::new(move |inner, batch| {
            let next_table_id = built.as_ref().map(|i| i.id + 1);
            stage_table_def(inner, batch, &new_def, false, next_table_id)?;
            match stream_change {
                Some(Some(view)) => {
                    enable_stream(inner, &target, view, batch)?;
                }
                Some(None) => disable_stream(inner, &target, batch)?,
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
        }),
    )?;
    let table = Arc::new(Table {
        def,
        stats: Arc::clone(&t.stats),
    });
    state.publish_table(Arc::clone(&table));
    // UpdateTable returns while the backfill runs (CREATING, Backfilling), as
    // DynamoDB's does; see `backfill.rs`.
    if let Some(index) = build {
        spawn_backfill(state, Arc::clone(&t), index.id);
    }
    if let Some(index) = drop {
        purge_table_items(state, index.id);
    }
    Ok(describe(state, &table, TableStatus::Active))
}

/// Stores and publishes a new definition of table `t` (under the catalog lock).
pub(crate) fn replace_def(state: &State, t: &Table, def: TableDef) -> Result<TableDescription> {
    persist_table(state, &def)?;
    let table = Arc::new(Table {
        def,
        stats: Arc::clone(&t.stats),
    });
    state.publish_table(Arc::clone(&table));
    Ok(describe(state, &table, TableStatus::Active))
}

/// How long the purge of a deleted table waits before trying again while the disk is
/// below its reserve.
const PURGE_RETRY_MS: u64 = 1000;

/// Removes every item of a deleted table, in bounded chunks, off the request path.
/// The thread holds the engine only while it removes a chunk. While the disk is
/// below its reserve it waits; a chunk that panics, a fatal fault or the engine's
/// end stop it, and the rest stays as unreachable garbage: the table id is never
/// reused, so those items can never reappear.
pub(crate) fn purge_table_items(state: &Arc<State>, table_id: u32) {
    const PURGE_CHUNK_KEYS_MAX: usize = 10_000;
    let weak = Arc::downgrade(state);
    let spawned = std::thread::Builder::new()
        .name("eddy-purge".into())
        .spawn(move || {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                if inner.closed.load(Ordering::Acquire) {
                    return;
                }
                let chunk = contain("purging a deleted table", || {
                    let mut staging = Staging::default();
                    for kv in inner
                        .items
                        .prefix(table_id.to_be_bytes())
                        .take(PURGE_CHUNK_KEYS_MAX)
                    {
                        staging.remove(&inner.items, kv.key()?);
                    }
                    if staging.is_empty() {
                        return Ok(false);
                    }
                    inner.commit_outside(staging, None, "purging a deleted table")?;
                    Ok(true)
                });
                match chunk {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(Error::Unavailable(_)) => {
                        drop(inner);
                        std::thread::sleep(std::time::Duration::from_millis(PURGE_RETRY_MS));
                    }
                    Err(e) => {
                        eprintln!("eddy: purging the items of table {table_id} stopped: {e}");
                        return;
                    }
                }
            }
        });
    drop(spawned);
}
