//! The control plane: CreateTable, DescribeTable, ListTables, UpdateTable (billing mode,
//! throughput, streams, global secondary indexes, deletion protection, table class,
//! server-side encryption, read in `sse.rs`),
//! DeleteTable, and the tags.
//!
//! Owns their request shapes and DynamoDB's `TableDescription`. Must not know how the
//! engine validates or stores a table definition.

use eddy_engine::{
    BillingMode, CreateTableInput, Engine, Error, IndexBuild, IndexInput, IndexKeys, IndexKind,
    IndexProjection, IndexThroughputUpdate, IndexUpdate, KeyAttribute, KeyRole, KeySchema, KeyType,
    StreamSpecification, StreamViewType, TableClass, TableDescription, TableStatus, Throughput,
    ThroughputChanges, UpdateTableInput, key_type_descriptor,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::request::{NamesTables, TableNameRequest, json_bytes, names_its_table, required};
use super::shape::{
    AttributeDefinition, CreateTableShape, IndexUpdateShape, KeySchemaElement,
    ProvisionedThroughput, UpdateTableShape, WireIndex, WireOnDemandThroughput,
    WireSseSpecification, WireStreamSpecification, WireWarmThroughput, check_capacity_bounds,
    check_create_table, check_list_start_and_limit, check_on_demand_throughput, check_update_table,
    control_table_name,
};
use super::sse::{sse_description, sse_setting};
use super::throughput::{maximums_json, on_demand, warm, warm_json};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Tag {
    key: Option<String>,
    value: Option<String>,
}

/// Tags as the engine takes them. A missing key or value is DynamoDB's refusal of the
/// tag, naming the member as `null` (not a SerializationException).
fn tag_pairs(tags: Vec<Tag>) -> Result<Vec<(String, String)>, ApiError> {
    tags.into_iter()
        .map(|t| {
            let key = t
                .key
                .ok_or_else(|| Error::validation("The Tag Key provided is invalid, Key: null"))?;
            let value = t.value.ok_or_else(|| {
                Error::validation("The Tag Value provided is invalid, Value: null")
            })?;
            Ok((key, value))
        })
        .collect()
}

/// The `ResourceArn` of a tag operation: DynamoDB answers a missing one with this
/// message (dynalite's tests, written against DynamoDB, record it).
fn resource_arn(arn: Option<String>) -> Result<String, ApiError> {
    arn.ok_or_else(|| Error::validation("Invalid TableArn").into())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateTableRequest {
    table_name: Option<String>,
    attribute_definitions: Option<Vec<AttributeDefinition>>,
    key_schema: Option<Vec<KeySchemaElement>>,
    billing_mode: Option<String>,
    provisioned_throughput: Option<ProvisionedThroughput>,
    tags: Option<Vec<Tag>>,
    stream_specification: Option<WireStreamSpecification>,
    global_secondary_indexes: Option<Vec<WireIndex>>,
    local_secondary_indexes: Option<Vec<WireIndex>>,
    deletion_protection_enabled: Option<bool>,
    table_class: Option<String>,
    #[serde(rename = "SSESpecification")]
    sse_specification: Option<WireSseSpecification>,
    on_demand_throughput: Option<WireOnDemandThroughput>,
    warm_throughput: Option<WireWarmThroughput>,
}

names_its_table!(CreateTableRequest);

fn key_roles(elements: Vec<KeySchemaElement>) -> Result<Vec<(String, KeyRole)>, ApiError> {
    let mut key_schema = Vec::with_capacity(elements.len());
    for k in elements {
        let key_type = required(k.key_type, "keySchema.1.member.keyType")?;
        let role = match key_type.as_str() {
            "HASH" => KeyRole::Hash,
            "RANGE" => KeyRole::Range,
            other => {
                return Err(Error::validation(format!(
                    "1 validation error detected: Value '{other}' at 'keySchema.1.member.keyType' failed to satisfy constraint: Member must satisfy enum value set: [HASH, RANGE]"
                ))
                .into());
            }
        };
        key_schema.push((
            required(k.attribute_name, "keySchema.1.member.attributeName")?,
            role,
        ));
    }
    Ok(key_schema)
}

/// CreateTable's index lists, in the order given (global ones first).
fn index_inputs(
    global: Option<Vec<WireIndex>>,
    local: Option<Vec<WireIndex>>,
) -> Result<Vec<IndexInput>, ApiError> {
    let mut out = Vec::new();
    for (list, kind, label, field) in [
        (
            global,
            IndexKind::Global,
            "GlobalSecondaryIndexes",
            "globalSecondaryIndexes",
        ),
        (
            local,
            IndexKind::Local,
            "LocalSecondaryIndexes",
            "localSecondaryIndexes",
        ),
    ] {
        let Some(list) = list else { continue };
        if list.is_empty() {
            return Err(Error::validation(format!(
                "One or more parameter values were invalid: List of {label} is empty"
            ))
            .into());
        }
        for (i, ix) in list.into_iter().enumerate() {
            let member = |m: &str| format!("{field}.{}.member.{m}", i + 1);
            let projection = required(ix.projection, &member("projection"))?;
            // Only a global index has on-demand maximums and warm throughput.
            let global = kind == IndexKind::Global;
            out.push(IndexInput {
                on_demand: ix.on_demand_throughput.filter(|_| global).map(on_demand),
                warm: ix.warm_throughput.filter(|_| global).map(warm),
                name: required(ix.index_name, &member("indexName"))?,
                kind,
                key_schema: key_roles(required(ix.key_schema, &member("keySchema"))?)?,
                projection_type: projection.projection_type,
                non_key_attributes: projection.non_key_attributes,
                throughput: throughput(ix.provisioned_throughput)?,
            });
        }
    }
    Ok(out)
}

fn stream_spec(
    s: Option<WireStreamSpecification>,
) -> Result<Option<StreamSpecification>, ApiError> {
    s.map(|s| {
        Ok(StreamSpecification {
            enabled: required(s.stream_enabled, "streamSpecification.streamEnabled")?,
            view_type: s
                .stream_view_type
                .as_deref()
                .map(StreamViewType::parse)
                .transpose()?,
        })
    })
    .transpose()
}

fn billing_mode(s: Option<String>) -> Result<Option<BillingMode>, ApiError> {
    s.map(|s| match s.as_str() {
        "PROVISIONED" => Ok(BillingMode::Provisioned),
        "PAY_PER_REQUEST" => Ok(BillingMode::PayPerRequest),
        other => Err(Error::validation(format!(
            "1 validation error detected: Value '{other}' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]"
        ))
        .into()),
    })
    .transpose()
}

fn throughput(p: Option<ProvisionedThroughput>) -> Result<Option<Throughput>, ApiError> {
    p.map(|p| {
        Ok(Throughput {
            read_capacity_units: required(
                p.read_capacity_units,
                "provisionedThroughput.readCapacityUnits",
            )?,
            write_capacity_units: required(
                p.write_capacity_units,
                "provisionedThroughput.writeCapacityUnits",
            )?,
        })
    })
    .transpose()
}

fn attribute_definitions(list: Vec<AttributeDefinition>) -> Result<Vec<KeyAttribute>, ApiError> {
    let mut definitions = Vec::with_capacity(list.len());
    for d in list {
        let attribute_type = required(
            d.attribute_type,
            "attributeDefinitions.1.member.attributeType",
        )?;
        let key_type = match attribute_type.as_str() {
            "S" => KeyType::S,
            "N" => KeyType::N,
            "B" => KeyType::B,
            other => {
                return Err(Error::validation(format!(
                    "1 validation error detected: Value '{other}' at 'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]"
                ))
                .into());
            }
        };
        definitions.push(KeyAttribute {
            name: required(
                d.attribute_name,
                "attributeDefinitions.1.member.attributeName",
            )?,
            key_type,
        });
    }
    Ok(definitions)
}

pub(super) fn create_table(engine: &Engine, r: CreateTableRequest) -> Result<Vec<u8>, ApiError> {
    let name = control_table_name(r.table_name)?;
    check_create_table(&CreateTableShape {
        table_name: &name,
        attribute_definitions: r.attribute_definitions.as_deref(),
        key_schema: r.key_schema.as_deref(),
        provisioned_throughput: r.provisioned_throughput.as_ref(),
        local_secondary_indexes: r.local_secondary_indexes.as_deref(),
        global_secondary_indexes: r.global_secondary_indexes.as_deref(),
        billing_mode: r.billing_mode.as_deref(),
        stream_specification: r.stream_specification.as_ref(),
        sse_specification: r.sse_specification.as_ref(),
    })?;
    // A table billed per request has no capacity to bound (the engine refuses one given).
    if r.billing_mode.as_deref() != Some("PAY_PER_REQUEST") {
        check_capacity_bounds(r.provisioned_throughput.as_ref(), None)?;
    }
    check_on_demand_throughput(r.on_demand_throughput.as_ref(), false)?;
    let definitions =
        attribute_definitions(required(r.attribute_definitions, "attributeDefinitions")?)?;
    let key_schema = key_roles(required(r.key_schema, "keySchema")?)?;
    let input = CreateTableInput {
        name,
        attribute_definitions: definitions,
        key_schema,
        billing_mode: billing_mode(r.billing_mode)?,
        throughput: throughput(r.provisioned_throughput)?,
        tags: tag_pairs(r.tags.unwrap_or_default())?,
        stream: stream_spec(r.stream_specification)?,
        indexes: index_inputs(r.global_secondary_indexes, r.local_secondary_indexes)?,
        deletion_protection: r.deletion_protection_enabled.unwrap_or(false),
        table_class: r
            .table_class
            .as_deref()
            .map(TableClass::parse)
            .transpose()?,
        sse: sse_setting(r.sse_specification, engine.seal().is_on())?.flatten(),
        on_demand: r.on_demand_throughput.map(on_demand),
        warm: r.warm_throughput.map(warm),
    };
    let desc = engine.create_table(input)?;
    Ok(json_bytes(&json!({ "TableDescription": describe(&desc) })))
}

/// DynamoDB's `TableDescription` object.
fn describe(d: &TableDescription) -> Value {
    let def = &d.def;
    let key_schema = key_schema_json(&def.key_schema);
    let definitions: Vec<Value> = def
        .attribute_definitions
        .iter()
        .map(|a| json!({ "AttributeName": a.name, "AttributeType": key_type_descriptor(a.key_type) }))
        .collect();
    let mut v = json!({
        "TableName": def.name,
        "TableStatus": d.status.as_str(),
        "TableArn": d.arn,
        "TableId": table_id(def.id, def.created_at_ms),
        "CreationDateTime": def.created_at_ms as f64 / 1000.0,
        "KeySchema": key_schema,
        "AttributeDefinitions": definitions,
        "ItemCount": d.item_count,
        "TableSizeBytes": d.size_bytes,
        "ProvisionedThroughput": {
            "NumberOfDecreasesToday": 0,
            "ReadCapacityUnits": def.throughput.read_capacity_units,
            "WriteCapacityUnits": def.throughput.write_capacity_units,
        },
        "DeletionProtectionEnabled": def.settings.deletion_protection,
    });
    let capacity = &def.settings.capacity;
    throughput_changes(
        &mut v["ProvisionedThroughput"],
        &capacity.changes,
        d.capacity_now_ms,
    );
    if let Some(maximums) = maximums_json(&capacity.on_demand) {
        v["OnDemandThroughput"] = maximums;
    }
    v["WarmThroughput"] = warm_json(eddy_engine::throughput::warm_throughput(def), "ACTIVE");
    // Only a table whose class a client set reports it; the time only once
    // UpdateTable changed it (as DynamoDB does).
    if let Some(class) = def.settings.table_class {
        v["TableClassSummary"] = json!({ "TableClass": class.class.as_str() });
        if let Some(ms) = class.updated_at_ms {
            v["TableClassSummary"]["LastUpdateDateTime"] = json!(ms as f64 / 1000.0);
        }
    }
    if let Some(sse) = sse_description(def, &d.arn) {
        v["SSEDescription"] = sse;
    }
    let (global, local) = index_descriptions(d);
    if !global.is_empty() {
        v["GlobalSecondaryIndexes"] = Value::Array(global);
    }
    if !local.is_empty() {
        v["LocalSecondaryIndexes"] = Value::Array(local);
    }
    if let Some((stream, arn)) = &d.latest_stream {
        v["LatestStreamArn"] = json!(arn);
        v["LatestStreamLabel"] = json!(stream.label);
        if d.stream_enabled {
            v["StreamSpecification"] = json!({
                "StreamEnabled": true,
                "StreamViewType": stream.view_type.as_str(),
            });
        }
    }
    if def.billing_mode == BillingMode::PayPerRequest {
        v["BillingModeSummary"] = json!({
            "BillingMode": "PAY_PER_REQUEST",
            "LastUpdateToPayPerRequestDateTime":
                def.pay_per_request_since_ms.unwrap_or(def.created_at_ms) as f64 / 1000.0,
        });
    } else {
        v["BillingModeSummary"] = json!({ "BillingMode": "PROVISIONED" });
    }
    v
}

/// `NumberOfDecreasesToday`, `LastIncreaseDateTime` and `LastDecreaseDateTime` of a
/// table's or a global index's `ProvisionedThroughput`.
fn throughput_changes(pt: &mut Value, changes: &ThroughputChanges, now_ms: u64) {
    pt["NumberOfDecreasesToday"] = json!(eddy_engine::throughput::decreases_today(changes, now_ms));
    for (ms, member) in [
        (changes.last_increase_ms, "LastIncreaseDateTime"),
        (changes.last_decrease_ms, "LastDecreaseDateTime"),
    ] {
        if let Some(ms) = ms {
            pt[member] = json!(ms as f64 / 1000.0);
        }
    }
}

fn key_schema_json(k: &KeySchema) -> Value {
    index_key_schema_json(&IndexKeys::of(k))
}

/// An index's KeySchema as DescribeTable lists it: every HASH element, then every
/// RANGE one, in the order CreateTable or UpdateTable gave them (a multi-attribute key
/// of a global index lists several of each).
fn index_key_schema_json(k: &IndexKeys) -> Value {
    let element = |(a, role): (&KeyAttribute, KeyRole)| {
        let key_type = match role {
            KeyRole::Hash => "HASH",
            KeyRole::Range => "RANGE",
        };
        json!({ "AttributeName": a.name, "KeyType": key_type })
    };
    Value::Array(k.attributes().map(element).collect())
}

/// DescribeTable's `GlobalSecondaryIndexes` and `LocalSecondaryIndexes` entries. A
/// local index reports no status or throughput, as in DynamoDB.
fn index_descriptions(d: &TableDescription) -> (Vec<Value>, Vec<Value>) {
    let (mut global, mut local) = (Vec::new(), Vec::new());
    for (i, ix) in d.def.indexes.iter().enumerate() {
        let (items, bytes) = d.index_counts.get(i).copied().unwrap_or_default();
        let mut projection = json!({ "ProjectionType": ix.projection.type_name() });
        if let IndexProjection::Include(attrs) = &ix.projection {
            projection["NonKeyAttributes"] = json!(attrs);
        }
        let mut v = json!({
            "IndexName": ix.name,
            "KeySchema": index_key_schema_json(&ix.key_schema),
            "Projection": projection,
            "IndexSizeBytes": bytes,
            "ItemCount": items,
            "IndexArn": format!("{}/index/{}", d.arn, ix.name),
        });
        match ix.kind {
            IndexKind::Global => {
                // An on-demand table's index reports no units, as DynamoDB's does
                // (a definition stored before a switch to on-demand cleared an
                // index's units may still hold its last ones).
                let t = match d.def.billing_mode {
                    BillingMode::PayPerRequest => Default::default(),
                    BillingMode::Provisioned => ix.throughput.unwrap_or_default(),
                };
                // An index added by UpdateTable is CREATING while it is backfilled and
                // reports `Backfilling` (DynamoDB reports it only for such indexes);
                // its ItemCount is then the items indexed so far.
                let status = match (d.status, ix.build) {
                    (TableStatus::Deleting, _) => TableStatus::Deleting.as_str(),
                    (_, IndexBuild::Backfilling) => "CREATING",
                    _ => "ACTIVE",
                };
                v["IndexStatus"] = json!(status);
                match ix.build {
                    IndexBuild::WithTable => {}
                    IndexBuild::Backfilling => v["Backfilling"] = json!(true),
                    IndexBuild::Backfilled => v["Backfilling"] = json!(false),
                }
                v["ProvisionedThroughput"] = json!({
                    "NumberOfDecreasesToday": 0,
                    "ReadCapacityUnits": t.read_capacity_units,
                    "WriteCapacityUnits": t.write_capacity_units,
                });
                if let Some(changes) = d.def.settings.capacity.indexes.get(&ix.name) {
                    throughput_changes(&mut v["ProvisionedThroughput"], changes, d.capacity_now_ms);
                }
                let limits = d.def.settings.capacity.index_limits.get(&ix.name);
                if let Some(maximums) = limits.and_then(|l| maximums_json(&l.on_demand)) {
                    v["OnDemandThroughput"] = maximums;
                }
                // An index's warm throughput follows a table's rules (its own units).
                let units = eddy_engine::throughput::index_warm_throughput(&d.def, ix);
                v["WarmThroughput"] = warm_json(units, status);
                global.push(v);
            }
            IndexKind::Local => local.push(v),
        }
    }
    (global, local)
}

/// A stable UUID-shaped id for a table, from its storage id and creation time.
fn table_id(id: u32, created_ms: u64) -> String {
    let h = eddy_engine::hash::fnv1a_64(
        &[&id.to_be_bytes()[..], &created_ms.to_be_bytes()[..]].concat(),
    );
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        id,
        (h >> 48) & 0xffff,
        (h >> 36) & 0xfff,
        (h >> 24) & 0xfff,
        (created_ms ^ h) & 0xffff_ffff_ffff
    )
}

pub(super) fn describe_table(engine: &Engine, r: TableNameRequest) -> Result<Vec<u8>, ApiError> {
    let d = engine.describe_table(&control_table_name(r.table_name)?)?;
    Ok(json_bytes(&json!({ "Table": describe(&d) })))
}

/// The `TableDescription` members DeleteTable's answer leaves out.
const DELETE_TABLE_LEAVES_OUT: [&str; 5] = [
    "KeySchema",
    "AttributeDefinitions",
    "CreationDateTime",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
];

pub(super) fn delete_table(engine: &Engine, r: TableNameRequest) -> Result<Vec<u8>, ApiError> {
    let d = engine.delete_table(&control_table_name(r.table_name)?)?;
    let mut v = describe(&d);
    // DynamoDB's DeleteTable describes the table without its schema, creation time and
    // indexes (scylladb's Alternator tests, run against DynamoDB, record which members
    // it leaves out; the API reference: "If the table is in the DELETING state, no
    // information about indexes will be returned").
    if let Some(members) = v.as_object_mut() {
        for left_out in DELETE_TABLE_LEAVES_OUT {
            members.remove(left_out);
        }
    }
    Ok(json_bytes(&json!({ "TableDescription": v })))
}

/// The most table names one ListTables page may ask for (`Limit`).
const LIST_TABLES_LIMIT_MAX: i64 = 100;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListTablesRequest {
    exclusive_start_table_name: Option<String>,
    limit: Option<i64>,
}

/// Lists every table: it names none.
impl NamesTables for ListTablesRequest {
    fn tables(&self) -> Vec<&str> {
        Vec::new()
    }
}

pub(super) fn list_tables(engine: &Engine, r: ListTablesRequest) -> Result<Vec<u8>, ApiError> {
    check_list_start_and_limit(
        r.exclusive_start_table_name.as_deref(),
        "exclusiveStartTableName",
        r.limit,
        Some(LIST_TABLES_LIMIT_MAX),
    )?;
    let limit = r.limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX));
    let (names, last) = engine.list_tables(r.exclusive_start_table_name.as_deref(), limit)?;
    let mut v = json!({ "TableNames": names });
    if let Some(last) = last {
        v["LastEvaluatedTableName"] = json!(last);
    }
    Ok(json_bytes(&v))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UpdateTableRequest {
    table_name: Option<String>,
    billing_mode: Option<String>,
    provisioned_throughput: Option<ProvisionedThroughput>,
    stream_specification: Option<WireStreamSpecification>,
    attribute_definitions: Option<Vec<AttributeDefinition>>,
    global_secondary_index_updates: Option<Vec<WireIndexUpdate>>,
    deletion_protection_enabled: Option<bool>,
    table_class: Option<String>,
    #[serde(rename = "SSESpecification")]
    sse_specification: Option<WireSseSpecification>,
    on_demand_throughput: Option<WireOnDemandThroughput>,
    warm_throughput: Option<WireWarmThroughput>,
}

names_its_table!(UpdateTableRequest);

/// One entry of `GlobalSecondaryIndexUpdates`: exactly one of its members is set.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireIndexUpdate {
    create: Option<WireIndex>,
    delete: Option<WireIndexName>,
    update: Option<WireIndexName>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireIndexName {
    index_name: Option<String>,
    provisioned_throughput: Option<ProvisionedThroughput>,
    on_demand_throughput: Option<WireOnDemandThroughput>,
    warm_throughput: Option<WireWarmThroughput>,
}

fn index_updates(
    list: Option<Vec<WireIndexUpdate>>,
    other_changes: bool,
) -> Result<Vec<IndexUpdate>, ApiError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    if list.is_empty() && other_changes {
        return Err(Error::validation(
            "One or more parameter values were invalid: List of GlobalSecondaryIndexUpdates is empty",
        )
        .into());
    }
    let mut out = Vec::with_capacity(list.len());
    for u in list {
        out.push(match (u.create, u.delete, u.update) {
            (Some(c), None, None) => {
                let mut inputs = index_inputs(Some(vec![c]), None)?;
                IndexUpdate::Create(inputs.remove(0))
            }
            (None, Some(d), None) => IndexUpdate::Delete(required(
                d.index_name,
                "globalSecondaryIndexUpdates.1.member.delete.indexName",
            )?),
            (None, None, Some(u)) => IndexUpdate::Update(
                required(
                    u.index_name,
                    "globalSecondaryIndexUpdates.1.member.update.indexName",
                )?,
                IndexThroughputUpdate {
                    provisioned: throughput(u.provisioned_throughput)?,
                    on_demand: u.on_demand_throughput.map(on_demand),
                    warm: u.warm_throughput.map(warm),
                },
            ),
            (None, None, None) => {
                return Err(Error::validation(
                    "One or more parameter values were invalid: One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Delete must not be null",
                )
                .into());
            }
            _ => {
                return Err(Error::validation(
                    "One or more parameter values were invalid: Only one global secondary index action is allowed per GlobalSecondaryIndexUpdate object",
                )
                .into());
            }
        });
    }
    Ok(out)
}

/// UpdateTable's first pass, then its capacity bounds (the table's, then each index
/// update's, as dynalite's checks order them).
fn check_update_table_shape(name: &str, r: &UpdateTableRequest) -> Result<(), ApiError> {
    let updates: Vec<&WireIndexUpdate> =
        r.global_secondary_index_updates.iter().flatten().collect();
    let index_updates = updates
        .iter()
        .map(|u| match (&u.create, &u.delete, &u.update) {
            (Some(c), None, None) => IndexUpdateShape::Create(c),
            (None, Some(d), None) => IndexUpdateShape::Named {
                member: "delete",
                index_name: d.index_name.as_deref(),
                throughput: None,
            },
            (None, None, Some(u)) => IndexUpdateShape::Named {
                member: "update",
                index_name: u.index_name.as_deref(),
                throughput: u.provisioned_throughput.as_ref(),
            },
            _ => IndexUpdateShape::Other,
        })
        .collect();
    check_update_table(&UpdateTableShape {
        table_name: name,
        attribute_definitions: r.attribute_definitions.as_deref(),
        provisioned_throughput: r.provisioned_throughput.as_ref(),
        billing_mode: r.billing_mode.as_deref(),
        index_updates,
        stream_specification: r.stream_specification.as_ref(),
        sse_specification: r.sse_specification.as_ref(),
    })?;
    check_capacity_bounds(r.provisioned_throughput.as_ref(), None)?;
    for u in updates.iter().filter_map(|u| u.update.as_ref()) {
        check_capacity_bounds(u.provisioned_throughput.as_ref(), u.index_name.as_deref())?;
    }
    check_on_demand_throughput(r.on_demand_throughput.as_ref(), true)?;
    Ok(())
}

pub(super) fn update_table(
    engine: &Engine,
    mut r: UpdateTableRequest,
) -> Result<Vec<u8>, ApiError> {
    let name = control_table_name(r.table_name.take())?;
    check_update_table_shape(&name, &r)?;
    let other_changes = r.billing_mode.is_some()
        || r.provisioned_throughput.is_some()
        || r.stream_specification.is_some();
    let input = UpdateTableInput {
        billing_mode: billing_mode(r.billing_mode)?,
        throughput: throughput(r.provisioned_throughput)?,
        stream: stream_spec(r.stream_specification)?,
        attribute_definitions: r
            .attribute_definitions
            .map(attribute_definitions)
            .transpose()?,
        index_updates: index_updates(r.global_secondary_index_updates, other_changes)?,
        deletion_protection: r.deletion_protection_enabled,
        table_class: r
            .table_class
            .as_deref()
            .map(TableClass::parse)
            .transpose()?,
        sse: sse_setting(r.sse_specification, engine.seal().is_on())?,
        on_demand: r.on_demand_throughput.map(on_demand),
        warm: r.warm_throughput.map(warm),
    };
    let d = engine.update_table(&name, input)?;
    Ok(json_bytes(&json!({ "TableDescription": describe(&d) })))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TagRequest {
    resource_arn: Option<String>,
    tags: Option<Vec<Tag>>,
    tag_keys: Option<Vec<String>>,
}

/// Names a resource by ARN, not a table by name.
impl NamesTables for TagRequest {
    fn tables(&self) -> Vec<&str> {
        Vec::new()
    }
}

pub(super) fn tag_resource(engine: &Engine, r: TagRequest) -> Result<Vec<u8>, ApiError> {
    let arn = resource_arn(r.resource_arn)?;
    let tags = tag_pairs(required(r.tags, "tags")?)?;
    engine.tag_resource(&arn, tags)?;
    // DynamoDB answers TagResource and UntagResource with an empty body (their output
    // shape has no members).
    Ok(Vec::new())
}

pub(super) fn untag_resource(engine: &Engine, r: TagRequest) -> Result<Vec<u8>, ApiError> {
    let arn = resource_arn(r.resource_arn)?;
    engine.untag_resource(&arn, &required(r.tag_keys, "tagKeys")?)?;
    Ok(Vec::new())
}

pub(super) fn list_tags(engine: &Engine, r: TagRequest) -> Result<Vec<u8>, ApiError> {
    let tags: Vec<Value> = engine
        .list_tags(&resource_arn(r.resource_arn)?)?
        .into_iter()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect();
    Ok(json_bytes(&json!({ "Tags": tags })))
}
