//! The single-item writes and BatchWriteItem: each validated on the caller's thread
//! into a mutation (a closure the writer runs against the current item), and the
//! answer built from the item before and after.
//!
//! It owns the writes' conditions and return values; it must not know how the writer
//! groups and commits them.

use std::collections::HashSet;

use crate::capacity::Consumed;
use crate::capacity::units::{key_partition, merge_by_table};
use crate::catalog::TableRef;
use crate::error::{Error, Result};
use crate::expr::legacy;
use crate::expr::{
    Condition, Path, PathElem, SetValue, UpdateExpr, UpdateOperand, project as project_paths,
};
use crate::items::consume;
use crate::items::input::{
    BatchWriteOutput, BatchWriteRequest, DeleteItemInput, Done, ExpressionAttributes, LegacyWrite,
    PutItemInput, ReturnValues, UpdateItemInput, WriteOutput, check_item, check_old_only,
    storage_key_of, storage_key_of_item, write_condition,
};
use crate::limits::{BATCH_WRITE_REQUESTS_MAX, ITEM_BYTES_MAX};
use crate::state::State;
use crate::value::{AttributeValue, Item, item_size_bytes};
use crate::writer::job::{Applied, Change, Mutation, MutationFn};
use crate::writer::submit::submit;

fn condition_failed(old: Option<&Item>, return_old: bool) -> Error {
    Error::ConditionalCheckFailed {
        item: if return_old { old.cloned() } else { None },
    }
}

fn check_condition(cond: &Option<Condition>, old: Option<&Item>, return_old: bool) -> Result<()> {
    if let Some(c) = cond {
        let empty = Item::new();
        if !c.evaluate(old.unwrap_or(&empty))? {
            return Err(condition_failed(old, return_old));
        }
    }
    Ok(())
}

/// A validated single-item write, ready for the writer: its mutation, and what its
/// answer needs.
pub(crate) struct PreparedWrite {
    pub mutation: Mutation,
    return_values: ReturnValues,
    /// The paths an update writes (UPDATED_OLD / UPDATED_NEW return them).
    touched: Vec<Path>,
}

/// A mutation that makes `change` if `condition` holds for the current item.
pub(crate) fn conditional(
    condition: Option<Condition>,
    return_old: bool,
    change: Change,
) -> MutationFn {
    Box::new(move |old: Option<&Item>| {
        check_condition(&condition, old, return_old)?;
        Ok(change)
    })
}

/// `hops` marks the write's change record (see `Engine::caused_by`); likewise below.
pub(crate) fn put_item(state: &State, hops: u8, input: PutItemInput, done: Done<WriteOutput>) {
    submit_write(state, hops, prepare_put(state, input), done);
}

pub(crate) fn delete_item(
    state: &State,
    hops: u8,
    input: DeleteItemInput,
    done: Done<WriteOutput>,
) {
    submit_write(state, hops, prepare_delete(state, input), done);
}

pub(crate) fn update_item(
    state: &State,
    hops: u8,
    input: UpdateItemInput,
    done: Done<WriteOutput>,
) {
    submit_write(state, hops, prepare_update(state, input), done);
}

fn submit_write(state: &State, hops: u8, prepared: Result<PreparedWrite>, done: Done<WriteOutput>) {
    let p = match prepared {
        Ok(p) => p,
        Err(e) => return done(Err(e)),
    };
    if let Err(e) = admit_write(&p.mutation) {
        return done(Err(e));
    }
    let (rv, touched) = (p.return_values, p.touched);
    let table = TableRef::clone(&p.mutation.table);
    let partition = key_partition(&p.mutation.key);
    submit(
        state,
        hops,
        vec![p.mutation],
        Box::new(move |r| {
            done(r.map(|a| {
                let out = single_output(a, rv, &touched, &table);
                consume::charge(&table, partition, &out.consumed);
                out
            }))
        }),
    );
}

/// Admits a validated write on its table's throughput (see `capacity/`), on the
/// partition its key names.
pub(crate) fn admit_write(m: &Mutation) -> Result<()> {
    m.table.stats.capacity.admit_write(key_partition(&m.key))
}

/// What PutItem and DeleteItem check alike: the parameter families, ReturnValues,
/// the table, and the condition (parsed).
fn prepare_whole_item_write(
    state: &State,
    table: &str,
    condition: Option<&str>,
    attributes: &ExpressionAttributes,
    legacy: &LegacyWrite,
    return_values: ReturnValues,
) -> Result<(TableRef, Option<Condition>)> {
    attributes.check_families(
        &[("ConditionExpression", condition.is_some())],
        &[("Expected", legacy.expected.is_some())],
    )?;
    check_old_only(return_values)?;
    let table = state.table(table)?;
    let mut resolver = attributes.resolver()?;
    let condition = write_condition(&mut resolver, condition, legacy)?;
    resolver.finish()?;
    Ok((table, condition))
}

/// Validates a PutItem (or a transaction's Put) and builds its mutation.
pub(crate) fn prepare_put(state: &State, input: PutItemInput) -> Result<PreparedWrite> {
    let (table, condition) = prepare_whole_item_write(
        state,
        &input.table,
        input.condition.as_deref(),
        &input.attributes,
        &input.legacy,
        input.return_values,
    )?;
    check_item(&table, &input.item)?;
    let key = storage_key_of_item(&table, &input.item)?;
    let apply = conditional(
        condition,
        input.return_old_on_condition_failure,
        Change::Put(input.item),
    );
    Ok(PreparedWrite {
        mutation: Mutation { table, key, apply },
        return_values: input.return_values,
        touched: Vec::new(),
    })
}

/// Validates a DeleteItem (or a transaction's Delete) and builds its mutation.
pub(crate) fn prepare_delete(state: &State, input: DeleteItemInput) -> Result<PreparedWrite> {
    let (table, condition) = prepare_whole_item_write(
        state,
        &input.table,
        input.condition.as_deref(),
        &input.attributes,
        &input.legacy,
        input.return_values,
    )?;
    let key = storage_key_of(&table, &input.key)?;
    let apply = conditional(
        condition,
        input.return_old_on_condition_failure,
        Change::Delete,
    );
    Ok(PreparedWrite {
        mutation: Mutation { table, key, apply },
        return_values: input.return_values,
        touched: Vec::new(),
    })
}

/// Validates an UpdateItem (or a transaction's Update) and builds its mutation.
pub(crate) fn prepare_update(state: &State, input: UpdateItemInput) -> Result<PreparedWrite> {
    input.attributes.check_families(
        &[
            ("UpdateExpression", input.update.is_some()),
            ("ConditionExpression", input.condition.is_some()),
        ],
        &[
            ("AttributeUpdates", input.attribute_updates.is_some()),
            ("Expected", input.legacy.expected.is_some()),
        ],
    )?;
    let table = state.table(&input.table)?;
    let key = storage_key_of(&table, &input.key)?;
    let mut resolver = input.attributes.resolver()?;
    let update = match (&input.update, &input.attribute_updates) {
        (Some(u), _) => Some(resolver.update(u)?),
        (None, Some(a)) => Some(legacy::attribute_updates(a)?),
        (None, None) => None,
    };
    let condition = write_condition(&mut resolver, input.condition.as_deref(), &input.legacy)?;
    resolver.finish()?;
    let mut touched = Vec::new();
    if let Some(u) = &update {
        u.check_key_update(&table.def.key_names().collect::<Vec<_>>())?;
        touched = u.target_paths();
        if input.update.is_some() {
            crate::index::entries::check_update_values(
                &table.stats.live_indexes(),
                plain_top_level_sets(u),
            )?;
        }
    }
    let legacy_update = input.update.is_none();
    let return_old = input.return_old_on_condition_failure;
    let key_item = input.key;
    // DynamoDB creates a missing item only for an update that has something to write:
    // one that only removes attributes or deletes from sets (or legacy DELETE actions)
    // leaves it missing, with no change record. An update with no actions at all
    // still creates the item with its key.
    let only_removes = update.as_ref().is_some_and(|u| {
        u.set.is_empty() && u.add.is_empty() && !(u.remove.is_empty() && u.delete.is_empty())
    });
    let apply = Box::new(move |old: Option<&Item>| {
        check_condition(&condition, old, return_old)?;
        if old.is_none() && only_removes {
            return Ok(Change::Keep);
        }
        let mut item = old.cloned().unwrap_or(key_item);
        if let Some(u) = &update {
            item = apply_update(u, item).map_err(|e| {
                if legacy_update {
                    legacy::attribute_update_error(e)
                } else {
                    e
                }
            })?;
        }
        Ok(Change::Put(item))
    });
    Ok(PreparedWrite {
        mutation: Mutation { table, key, apply },
        return_values: input.return_values,
        touched,
    })
}

/// The top-level attributes an update expression sets to a plain `:value`, with the
/// value: what DynamoDB checks against the indexes' keys before reading the item.
fn plain_top_level_sets(u: &UpdateExpr) -> impl Iterator<Item = (&str, &AttributeValue)> {
    u.set
        .iter()
        .filter_map(|a| match (&a.path.elems[..], &a.value) {
            ([PathElem::Attr(n)], SetValue::Operand(UpdateOperand::Value(v))) => {
                Some((n.name.as_str(), &v.value))
            }
            _ => None,
        })
}

/// Applies the requests of a BatchWriteItem together, answering the capacity consumed
/// per table (each item a PutItem or DeleteItem of its own). A request its table's
/// throughput refuses is left unprocessed; when every request is refused, the batch
/// fails with the (first) throttling error, as DynamoDB documents.
pub(crate) fn batch_write_item(
    state: &State,
    hops: u8,
    requests: Vec<(String, Vec<BatchWriteRequest>)>,
    done: Done<BatchWriteOutput>,
) {
    let prepared = (|| {
        let total: usize = requests.iter().map(|(_, r)| r.len()).sum();
        if total > BATCH_WRITE_REQUESTS_MAX {
            return Err(Error::validation(format!(
                "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to {BATCH_WRITE_REQUESTS_MAX}, Member must have length greater than or equal to 1]"
            )));
        }
        if total == 0 {
            return Err(Error::validation(
                "1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        let mut mutations = Vec::with_capacity(total);
        let mut seen = HashSet::new();
        let mut out = BatchWriteOutput::default();
        let mut throttled = None;
        for (name, reqs) in requests {
            let table = state.table(&name)?;
            let mut left = Vec::new();
            // The units the table's requests admitted so far will consume (estimated
            // before they run: a put's own size in 1 KB units, one for a delete; the
            // exact units are charged once the batch ran), so that a batch larger
            // than the table's bucket is partly processed, as DynamoDB's is.
            let mut pending = 0.0;
            for r in reqs {
                let key = match &r {
                    BatchWriteRequest::Put(item) => {
                        check_item(&table, item)?;
                        storage_key_of_item(&table, item)?
                    }
                    BatchWriteRequest::Delete(key) => storage_key_of(&table, key)?,
                };
                if !seen.insert(key.clone()) {
                    return Err(Error::validation(
                        "Provided list of item keys contains duplicates",
                    ));
                }
                let partition = key_partition(&key);
                let admitted = table.stats.capacity.admit_write_after(partition, pending);
                if let Err(e) = admitted {
                    throttled.get_or_insert(e);
                    left.push(r);
                    continue;
                }
                let units = match &r {
                    BatchWriteRequest::Put(item) => item_size_bytes(item).div_ceil(1024).max(1),
                    BatchWriteRequest::Delete(_) => 1,
                } as f64;
                pending += units;
                let change = match r {
                    BatchWriteRequest::Put(item) => Change::Put(item),
                    BatchWriteRequest::Delete(_) => Change::Delete,
                };
                mutations.push(Mutation {
                    table: TableRef::clone(&table),
                    key,
                    apply: Box::new(move |_| Ok(change)),
                });
            }
            if !left.is_empty() {
                out.unprocessed.push((name, left));
            }
        }
        if mutations.is_empty()
            && let Some(e) = throttled
        {
            return Err(e);
        }
        Ok((mutations, out))
    })();
    match prepared {
        Ok((m, mut out)) => {
            let targets = write_targets(&m);
            submit(
                state,
                hops,
                m,
                Box::new(move |r| {
                    done(r.map(|a| {
                        out.consumed = charge_writes(&targets, &a, false);
                        out
                    }))
                }),
            )
        }
        Err(e) => done(Err(e)),
    }
}

/// The table and partition of each mutation of a job, in order: what its writes are
/// charged to once applied.
pub(crate) fn write_targets(mutations: &[Mutation]) -> Vec<(TableRef, Option<u64>)> {
    mutations
        .iter()
        .map(|m| (TableRef::clone(&m.table), key_partition(&m.key)))
        .collect()
}

/// Charges each applied write of a job to its table and partition, and answers what
/// they consumed per table, in the order the tables were first written.
pub(crate) fn charge_writes(
    targets: &[(TableRef, Option<u64>)],
    applied: &[Applied],
    transaction: bool,
) -> Vec<Consumed> {
    let mut per_table = Vec::new();
    for ((table, partition), a) in targets.iter().zip(applied) {
        let c = consume::write_consumed(table, a, transaction);
        consume::charge(table, *partition, &c);
        merge_by_table(&mut per_table, &c);
    }
    per_table
}

/// Applies an update and holds the result to DynamoDB's item rules. Besides the size,
/// the nesting depth: an update can set a document inside an existing one, so without
/// this check repeated updates could nest an item ever deeper, until the recursive
/// walks over it (encoding, evaluation) overflowed a thread's stack.
fn apply_update(u: &UpdateExpr, item: Item) -> Result<Item> {
    let item = u.applied(item)?;
    if item_size_bytes(&item) > ITEM_BYTES_MAX {
        return Err(Error::validation(
            "Item size to update has exceeded the maximum allowed size",
        ));
    }
    for v in item.values() {
        v.check_depth(1)?;
    }
    Ok(item)
}

/// Builds a single write's output from its before/after images.
/// `touched` is the paths an update wrote: UPDATED_OLD / UPDATED_NEW return the item
/// projected onto them (a nested path returns the nested value inside its parents, as a
/// ProjectionExpression would).
fn single_output(
    applied: Vec<Applied>,
    rv: ReturnValues,
    touched: &[Path],
    table: &TableRef,
) -> WriteOutput {
    let Some(a) = applied.into_iter().next() else {
        return WriteOutput::default();
    };
    let consumed = consume::write_consumed(table, &a, false);
    let pick = |item: Option<Item>| -> Option<Item> {
        let picked = project_paths(&item?, touched);
        (!picked.is_empty()).then_some(picked)
    };
    let attributes = match rv {
        ReturnValues::None => None,
        ReturnValues::AllOld => a.old,
        ReturnValues::AllNew => a.new,
        ReturnValues::UpdatedOld => pick(a.old),
        ReturnValues::UpdatedNew => pick(a.new),
    };
    WriteOutput {
        attributes,
        consumed,
    }
}
