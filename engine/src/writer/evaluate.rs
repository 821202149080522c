//! A job's read-check-write: each mutation evaluated against the item as the group so
//! far leaves it (the job's own earlier changes, then the group's, then the cache,
//! then fjall), all succeeding or the job failing; a transaction evaluates every
//! action to give one cancellation reason each.
//!
//! It owns that evaluation order; it must not stage or commit anything.

use std::collections::HashMap;

use crate::capacity::Consumed;
use crate::capacity::units::{item_write_units, key_partition};
use crate::catalog::{TableRef, is_deleted};
use crate::codec::decode_item;
use crate::error::{CancellationReason, Error, Result};
use crate::state::State;
use crate::value::{Item, item_size_bytes};
use crate::writer::job::{Change, Mutation};
use crate::writer::staging::storage_bounds_fault;

pub(crate) struct Staged {
    pub(crate) table: TableRef,
    pub(crate) key: Vec<u8>,
    pub(crate) old: Option<Item>,
    /// `Some(new state)` when the item changes; `None` when it does not (`Change::Keep`,
    /// or a write of what is already there).
    pub(crate) change: Option<Option<Item>>,
}

/// Evaluates a job's mutations against the current state; all succeed or the job fails.
pub(crate) fn evaluate(
    inner: &State,
    mutations: Vec<Mutation>,
    transaction: bool,
    overlay: &HashMap<Vec<u8>, Option<Item>>,
) -> Result<Vec<Staged>> {
    let mut staged: Vec<Staged> = Vec::with_capacity(mutations.len());
    // A transaction reports why each of its actions failed, as DynamoDB does, so it
    // goes on evaluating after a failure; nothing of it is staged once one failed.
    let mut reasons: Vec<CancellationReason> = Vec::new();
    let mut cancelled = false;
    for m in mutations {
        if is_deleted(&m.table) {
            return Err(Error::not_found("Requested resource not found"));
        }
        // fjall asserts on such a key in a read as in a write; input checks refuse
        // them before they are queued, so one here is a bug.
        if let Some(fault) = storage_bounds_fault(&m.key, 0) {
            return Err(Error::Internal(format!(
                "{fault}; nothing of it was written"
            )));
        }
        // A job may touch the same key twice only in a transaction, which DynamoDB
        // rejects up front; still read through earlier changes of this job to be safe.
        let earlier = staged
            .iter()
            .rev()
            .find(|s| s.key == m.key)
            .map(|s| s.change.clone().unwrap_or_else(|| s.old.clone()));
        let old = match earlier {
            Some(v) => v,
            None => match overlay.get(&m.key) {
                Some(v) => v.clone(),
                // The cache holds committed state: no write of this group has begun.
                None => match inner.cache.get(&m.key) {
                    Some(cached) => cached.map(|s| s.decode()).transpose()?,
                    None => match inner.items.get(&m.key)? {
                        Some(bytes) => Some(decode_item(&inner.seal.open(&m.key, bytes)?)?),
                        None => None,
                    },
                },
            },
        };
        // An item written must fit the table's indexes, whichever path wrote it.
        let change = (m.apply)(old.as_ref()).and_then(|change| {
            if let Change::Put(item) = &change {
                crate::index::entries::check_item(&m.table.stats.live_indexes(), item)?;
            }
            Ok(change)
        });
        let change = match change {
            Ok(change) => {
                if transaction {
                    reasons.push(CancellationReason::None);
                }
                change
            }
            Err(e) if transaction => {
                reasons.push(match e {
                    Error::ConditionalCheckFailed { item } => {
                        CancellationReason::ConditionalCheckFailed { item }
                    }
                    Error::Validation(message) => CancellationReason::ValidationError(message),
                    other => return Err(other),
                });
                cancelled = true;
                continue;
            }
            Err(e) => {
                if matches!(e, Error::ConditionalCheckFailed { .. }) {
                    charge_failed_condition(&m.table, &m.key, old.as_ref());
                }
                return Err(e);
            }
        };
        if cancelled {
            continue;
        }
        let change = match change {
            Change::Put(item) => {
                if old.as_ref() == Some(&item) {
                    None
                } else {
                    Some(Some(item))
                }
            }
            Change::Delete if old.is_some() => Some(None),
            Change::Delete | Change::Keep => None,
        };
        staged.push(Staged {
            table: m.table,
            key: m.key,
            old,
            change,
        });
    }
    if cancelled {
        return Err(Error::TransactionCanceled { reasons });
    }
    Ok(staged)
}

/// A write whose condition failed still consumes write capacity ("If the expression
/// evaluates to false, DynamoDB still consumes write capacity units from the table",
/// ProvisionedThroughput.md): charged on the item it was checked against, at least one
/// unit. The failure answers no ConsumedCapacity, so only the governor sees it.
fn charge_failed_condition(table: &TableRef, key: &[u8], old: Option<&Item>) {
    let mut c = Consumed::on_table(&table.def.name);
    c.table_write_units = item_write_units(old.map(item_size_bytes), None);
    table.stats.capacity.charge(key_partition(key), &c);
}
