//! UpdateTable's index changes: which index to create or delete, checked against the
//! table's definition and DynamoDB's one-online-change rule, and the definition after.
//!
//! It owns that plan; it must not apply it (`tables.rs` does, on the writer).

use crate::catalog::TableDef;
use crate::error::{Error, Result};
use crate::index::def::{IndexBuild, IndexDef, IndexKind, IndexUpdate, invalid, validate_indexes};
use crate::limits::GLOBAL_INDEXES_PER_TABLE_MAX;
use crate::schema::{
    BillingMode, KeyAttribute, OnDemandThroughput, key_type_descriptor, validate_throughput,
};
use crate::throughput::{
    WarmOwner, change_warm, check_index_on_demand, index_warm_throughput, merge_on_demand,
    new_index_capacity,
};

/// DynamoDB's refusal of a second online index change on a table.
pub(crate) const ONE_ONLINE_INDEX: &str = "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table";

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
    for (at, u) in updates.iter().enumerate() {
        match u {
            IndexUpdate::Update(name, change) => {
                let billing = def.billing_mode;
                let at = def
                    .indexes
                    .iter()
                    .position(|i| i.name == *name && i.kind == IndexKind::Global)
                    .ok_or_else(|| not_found(name))?;
                let empty = OnDemandThroughput::default();
                let on_demand = change.on_demand.filter(|od| *od != empty);
                match (billing, change.provisioned, on_demand, change.warm) {
                    // A recording of DynamoDB refusing an index update that names only
                    // the index (and one with an empty OnDemandThroughput) on an
                    // on-demand table; provisioned units there are taken to be refused
                    // the same way.
                    (BillingMode::PayPerRequest, Some(_), _, _)
                    | (BillingMode::PayPerRequest, None, None, None) => {
                        return Err(invalid(format!(
                            "The only Updates for index: {name} when TableThroughputMode is PAY_PER_REQUEST can be to OnDemandThroughput, WarmThroughput"
                        )));
                    }
                    // No record shows DynamoDB's answer to an update without throughput
                    // on a provisioned table: CreateTable's words for an index without
                    // one are the most plausible.
                    (BillingMode::Provisioned, None, _, None) => {
                        if let Some(od) = &change.on_demand {
                            check_index_on_demand(billing, name, od, true)?;
                        }
                        return Err(invalid(format!(
                            "ProvisionedThroughput is not specified for index: {name}"
                        )));
                    }
                    _ => {}
                }
                if let Some(od) = &change.on_demand {
                    check_index_on_demand(billing, name, od, true)?;
                }
                let current_warm = index_warm_throughput(def, &def.indexes[at]);
                let limits = def
                    .settings
                    .capacity
                    .index_limits
                    .entry(name.clone())
                    .or_default();
                if let Some(warm) = &change.warm {
                    limits.warm =
                        change_warm(WarmOwner::Index(name), current_warm, limits.warm, warm)?;
                }
                if let Some(od) = &change.on_demand {
                    limits.on_demand = merge_on_demand(limits.on_demand, od);
                }
                if let Some(t) = change.provisioned {
                    validate_throughput(t)?;
                    def.indexes[at].throughput = Some(t);
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
                    Some(at + 1),
                )?;
                def.attribute_definitions = merged;
                let mut index = new.remove(0);
                if let Some(kept) = new_index_capacity(def.billing_mode, input, &index)? {
                    let limits = &mut def.settings.capacity.index_limits;
                    limits.insert(index.name.clone(), kept);
                }
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
