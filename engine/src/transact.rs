//! TransactWriteItems and TransactGetItems: DynamoDB's transactions.
//!
//! A TransactWriteItems first checks every action's key against its table's schema
//! (`transact/keys.rs`: a key of the wrong shape cancels the transaction, as DynamoDB's
//! does), then validates every action on the caller's thread, with the same
//! code as the single-item writes (`items/write.rs`), then queues all their mutations as
//! one writer job, so they commit in one fjall batch (with their change records) or
//! not at all. The writer evaluates every action even after one failed, so a
//! cancellation names each action's outcome, as DynamoDB's does. The
//! `ClientRequestToken` idempotency window lives here: in memory for the checks, and
//! durably in `meta` (a record per succeeded token, committed in the transaction's
//! own batch), so a retry after a crash and restart is still answered, not re-applied.
//!
//! A TransactGetItems reads every item from one fjall snapshot, so it never sees half
//! of a transaction.
//!
//! This module knows nothing of the wire JSON; the edge maps its inputs and errors.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;

use fjall::Readable as _;
use xxhash_rust::xxh3::xxh3_128;

use crate::capacity::Consumed;
use crate::capacity::units::{ReadKind, key_partition, merge_by_table, read_units};
use crate::clock::now_ms;
use crate::codec::decode_item;
use crate::error::{CancellationReason, Error, Result};
use crate::items::consume;
use crate::items::input::{
    DeleteItemInput, Done, ExpressionAttributes, GetItemInput, PutItemInput, UpdateItemInput,
    storage_key_of,
};
use crate::items::read::{prepare_get, project};
use crate::items::write::{
    admit_write, charge_writes, conditional, prepare_delete, prepare_put, prepare_update,
    write_targets,
};
use crate::limits::{
    CLIENT_REQUEST_TOKEN_CHARS_MAX, CLIENT_REQUEST_TOKEN_WINDOW_MS, TRANSACT_ITEMS_MAX,
    TRANSACT_REQUEST_BYTES_MAX,
};
use crate::state::State;
use crate::tokens::{
    Admission, TOKEN_EXPIRY_CHUNK_RECORDS_MAX, TOKEN_PREFIX, parse_token_record, token_record,
};
use crate::value::{Item, item_size_bytes};
use crate::writer::job::{Change, Mutation};
use crate::writer::staging::Staging;
use crate::writer::submit::submit_transaction;

/// A transaction's ConditionCheck: a condition on an item the transaction does not
/// write.
#[derive(Debug, Clone, Default)]
pub struct ConditionCheckInput {
    pub table: String,
    pub key: Item,
    pub condition: String,
    pub attributes: ExpressionAttributes,
    /// `ReturnValuesOnConditionCheckFailure = ALL_OLD`.
    pub return_old_on_condition_failure: bool,
}

/// One action of a TransactWriteItems. The write inputs are those of the single-item
/// calls; a transaction's actions leave `return_values` and `legacy` at their
/// defaults, since DynamoDB's transaction actions have neither.
#[derive(Debug, Clone)]
pub enum TransactWriteAction {
    ConditionCheck(ConditionCheckInput),
    Put(PutItemInput),
    Update(UpdateItemInput),
    Delete(DeleteItemInput),
}

#[derive(Debug, Clone, Default)]
pub struct TransactWriteInput {
    pub actions: Vec<TransactWriteAction>,
    /// Makes a retry within [`CLIENT_REQUEST_TOKEN_WINDOW_MS`] a no-op.
    pub client_request_token: Option<String>,
}

const MULTIPLE_OPERATIONS: &str =
    "Transaction request cannot include multiple operations on one item";

const TOO_LARGE: &str = "Transaction size has exceeded the maximum allowed size";

fn check_count(n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::validation(
            "1 validation error detected: Value '[]' at 'transactItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    if n > TRANSACT_ITEMS_MAX {
        return Err(Error::validation(format!(
            "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to {TRANSACT_ITEMS_MAX}"
        )));
    }
    Ok(())
}

fn check_token(token: &str) -> Result<()> {
    let chars = token.chars().count();
    let constraint = if chars == 0 {
        "greater than or equal to 1".to_string()
    } else if chars > CLIENT_REQUEST_TOKEN_CHARS_MAX {
        format!("less than or equal to {CLIENT_REQUEST_TOKEN_CHARS_MAX}")
    } else {
        return Ok(());
    };
    Err(Error::validation(format!(
        "1 validation error detected: Value '{token}' at 'clientRequestToken' failed to satisfy constraint: Member must have length {constraint}"
    )))
}

impl TransactWriteAction {
    /// The name of the table the action writes or checks.
    fn table(&self) -> &str {
        match self {
            TransactWriteAction::Put(p) => &p.table,
            TransactWriteAction::Update(u) => &u.table,
            TransactWriteAction::Delete(d) => &d.table,
            TransactWriteAction::ConditionCheck(c) => &c.table,
        }
    }

    /// The bytes the action counts toward [`TRANSACT_REQUEST_BYTES_MAX`]: a Put's
    /// item, the key of the others.
    fn size_bytes(&self) -> usize {
        match self {
            TransactWriteAction::Put(p) => item_size_bytes(&p.item),
            TransactWriteAction::Update(u) => item_size_bytes(&u.key),
            TransactWriteAction::Delete(d) => item_size_bytes(&d.key),
            TransactWriteAction::ConditionCheck(c) => item_size_bytes(&c.key),
        }
    }
}

/// Applies all actions atomically, or none: see the module documentation.
/// `hops` marks the transaction's change records (see `Engine::caused_by`).
pub(crate) fn transact_write_items(
    state: &State,
    hops: u8,
    input: TransactWriteInput,
    done: Done<Vec<Consumed>>,
) {
    let prepared = (|| {
        check_count(input.actions.len())?;
        if let Some(t) = &input.client_request_token {
            check_token(t)?;
        }
        let bytes: usize = input
            .actions
            .iter()
            .map(TransactWriteAction::size_bytes)
            .sum();
        if bytes > TRANSACT_REQUEST_BYTES_MAX {
            return Err(Error::validation(TOO_LARGE));
        }
        // Only a request with a token is fingerprinted: it costs a pass over it.
        let fingerprint = input
            .client_request_token
            .as_ref()
            .map(|_| fingerprint(&input.actions));
        // Every action's key is checked against its table's schema before anything
        // else about the transaction (see `keys.rs`).
        let mut faults = Vec::with_capacity(input.actions.len());
        for action in &input.actions {
            let table = state.table(action.table())?;
            faults.push(keys::key_fault(&table, action)?);
        }
        let first_fault = faults.iter().position(Option::is_some);
        let mut mutations = Vec::with_capacity(input.actions.len());
        let mut seen = HashSet::with_capacity(input.actions.len());
        for (action, fault) in input.actions.into_iter().zip(&faults) {
            // The other actions are still validated: a request error of any of them
            // is the answer before a cancellation.
            if fault.is_some() {
                continue;
            }
            let mutation = match action {
                TransactWriteAction::ConditionCheck(c) => prepare_condition_check(state, c)?,
                TransactWriteAction::Put(p) => prepare_put(state, p)?.mutation,
                TransactWriteAction::Update(u) => prepare_update(state, u)?.mutation,
                TransactWriteAction::Delete(d) => prepare_delete(state, d)?.mutation,
            };
            // The storage key starts with the table id, so equal keys of two
            // tables differ.
            if first_fault.is_none() && !seen.insert(mutation.key.clone()) {
                return Err(Error::validation(MULTIPLE_OPERATIONS));
            }
            mutations.push(mutation);
        }
        if let Some(at) = first_fault {
            let mut reasons = vec![CancellationReason::None; faults.len()];
            if let Some(m) = faults.swap_remove(at) {
                reasons[at] = CancellationReason::ValidationError(m);
            }
            return Err(Error::TransactionCanceled { reasons });
        }
        // Throughput is asked for once the whole request is valid; a refused action
        // cancels the transaction with DynamoDB's throttling reason.
        for (at, m) in mutations.iter().enumerate() {
            if let Err(e) = admit_write(m) {
                return Err(cancelled_by(e, at, mutations.len()));
            }
        }
        Ok((mutations, input.client_request_token.zip(fingerprint)))
    })();
    let (mutations, token) = match prepared {
        Ok(p) => p,
        Err(e) => return done(Err(e)),
    };
    // Each action is charged as a transactional write on its table (ConditionCheck
    // too, on the item it read), its index writes as outside a transaction.
    let targets = write_targets(&mutations);
    let Some((token, fingerprint)) = token else {
        return submit_transaction(
            state,
            hops,
            mutations,
            None,
            Box::new(move |r| done(r.map(|a| charge_writes(&targets, &a, true)))),
        );
    };
    let tokens = Arc::clone(&state.client_tokens);
    match tokens.admit(&token, fingerprint, now_ms()) {
        Err(e) => done(Err(e)),
        Ok(Admission::Replay) => done(replay_consumed(state, &mutations)),
        Ok(Admission::First) => submit_transaction(
            state,
            hops,
            mutations,
            Some(token_record(&token, fingerprint, now_ms())),
            Box::new(move |r| {
                tokens.finish(&token, fingerprint, r.is_ok(), now_ms());
                done(r.map(|a| charge_writes(&targets, &a, true)));
            }),
        ),
    }
}

/// The cancellation of a transaction whose action `at` (of `n`) was throttled.
fn cancelled_by(e: Error, at: usize, n: usize) -> Error {
    let Error::Throttled(t) = e else { return e };
    let mut reasons = vec![CancellationReason::None; n];
    reasons[at] = CancellationReason::Throttled(t);
    Error::TransactionCanceled { reasons }
}

/// What a replayed TransactWriteItems (a client request token seen before) consumed:
/// DynamoDB answers it by reading, a transactional read of each item the transaction
/// names (dynamodb-conformance's captures: 2 read units for a small item on the replay
/// where the first call took 2 write units). Eddy reads the items as they are now.
fn replay_consumed(state: &State, mutations: &[Mutation]) -> Result<Vec<Consumed>> {
    let mut per_table = Vec::new();
    for m in mutations {
        let bytes = match state.read_stored(&m.key)? {
            Some(s) => s.size_bytes()?,
            None => 0,
        };
        let mut c = Consumed::on_table(&m.table.def.name);
        c.table_read_units = read_units(bytes, ReadKind::Transactional);
        consume::charge(&m.table, key_partition(&m.key), &c);
        merge_by_table(&mut per_table, &c);
    }
    Ok(per_table)
}

/// Validates a ConditionCheck and builds its mutation, which writes nothing.
fn prepare_condition_check(state: &State, input: ConditionCheckInput) -> Result<Mutation> {
    let table = state.table(&input.table)?;
    let key = storage_key_of(&table, &input.key)?;
    let mut resolver = input.attributes.resolver()?;
    let condition = Some(resolver.condition(&input.condition)?);
    resolver.finish()?;
    let apply = conditional(
        condition,
        input.return_old_on_condition_failure,
        Change::Keep,
    );
    Ok(Mutation { table, key, apply })
}

/// Reads up to [`TRANSACT_ITEMS_MAX`] items from one snapshot; `None` for an item
/// that does not exist, in request order.
pub(crate) fn transact_get_items(
    state: &State,
    gets: &[GetItemInput],
) -> Result<(Vec<Option<Item>>, Vec<Consumed>)> {
    check_count(gets.len())?;
    let mut plans = Vec::with_capacity(gets.len());
    let mut seen = HashSet::with_capacity(gets.len());
    for g in gets {
        let (table, key, projection) = prepare_get(state, g)?;
        if !seen.insert(key.clone()) {
            return Err(Error::validation(MULTIPLE_OPERATIONS));
        }
        plans.push((table, key, projection));
    }
    for (at, (table, key, _)) in plans.iter().enumerate() {
        let admitted = table.stats.capacity.admit_read(None, key_partition(key));
        if let Err(e) = admitted {
            return Err(cancelled_by(e, at, plans.len()));
        }
    }
    let snapshot = state.db.snapshot();
    let mut bytes = 0usize;
    let mut out = Vec::with_capacity(plans.len());
    // Each item is a transactional read, a missing one too (dynamodb-conformance's
    // captures via dynoxide issue 37: one present and one missing item cost 4).
    let mut reads = Vec::with_capacity(plans.len());
    for (table, key, projection) in plans {
        let item = match snapshot.get(&state.items, &key)? {
            Some(v) => decode_item(&state.seal.open(&key, v)?)?,
            None => {
                reads.push((table, key, 0));
                out.push(None);
                continue;
            }
        };
        let size = item_size_bytes(&item);
        bytes += size;
        if bytes > TRANSACT_REQUEST_BYTES_MAX {
            return Err(Error::validation(TOO_LARGE));
        }
        reads.push((table, key, size));
        out.push(Some(project(item, projection.as_ref())));
    }
    // Charged only once the whole transaction was read: a refused one answers
    // nothing, and is charged nothing.
    let mut per_table = Vec::new();
    for (table, key, size) in reads {
        let mut c = Consumed::on_table(&table.def.name);
        c.table_read_units = read_units(size, ReadKind::Transactional);
        consume::charge(&table, key_partition(&key), &c);
        merge_by_table(&mut per_table, &c);
    }
    Ok((out, per_table))
}

/// A stable digest of a transaction's actions (everything but the token), to tell a
/// retry from a different request under the same token.
fn fingerprint(actions: &[TransactWriteAction]) -> u128 {
    // Expression attribute maps are hash maps; they are put in key order so that the
    // same request always has the same digest.
    fn attributes(a: &ExpressionAttributes) -> impl std::fmt::Debug + '_ {
        (
            a.names
                .as_ref()
                .map(|m| m.iter().collect::<BTreeMap<_, _>>()),
            a.values
                .as_ref()
                .map(|m| m.iter().collect::<BTreeMap<_, _>>()),
        )
    }
    let mut text = String::new();
    for action in actions {
        // Writing to a String cannot fail.
        let _ = match action {
            TransactWriteAction::ConditionCheck(c) => writeln!(
                text,
                "C {:?} {:?} {:?} {:?} {}",
                c.table,
                c.key,
                c.condition,
                attributes(&c.attributes),
                c.return_old_on_condition_failure
            ),
            TransactWriteAction::Put(p) => writeln!(
                text,
                "P {:?} {:?} {:?} {:?} {} {:?} {:?}",
                p.table,
                p.item,
                p.condition,
                attributes(&p.attributes),
                p.return_old_on_condition_failure,
                p.return_values,
                p.legacy
            ),
            TransactWriteAction::Update(u) => writeln!(
                text,
                "U {:?} {:?} {:?} {:?} {:?} {} {:?} {:?} {:?}",
                u.table,
                u.key,
                u.update,
                u.condition,
                attributes(&u.attributes),
                u.return_old_on_condition_failure,
                u.return_values,
                u.legacy,
                u.attribute_updates
            ),
            TransactWriteAction::Delete(d) => writeln!(
                text,
                "D {:?} {:?} {:?} {:?} {} {:?} {:?}",
                d.table,
                d.key,
                d.condition,
                attributes(&d.attributes),
                d.return_old_on_condition_failure,
                d.return_values,
                d.legacy
            ),
        };
    }
    xxh3_128(text.as_bytes())
}

/// Deletes the token records whose window has passed (called by the trimmer).
pub(crate) fn expire_client_tokens(state: &State) -> Result<()> {
    let cutoff = now_ms().saturating_sub(CLIENT_REQUEST_TOKEN_WINDOW_MS);
    let mut batch = Staging::default();
    for kv in state
        .meta
        .prefix(TOKEN_PREFIX)
        .take(TOKEN_EXPIRY_CHUNK_RECORDS_MAX)
    {
        let (k, v) = kv.into_inner()?;
        let (at, _, _) = parse_token_record(&k, &v)?;
        if at > cutoff {
            break;
        }
        batch.remove(&state.meta, k);
    }
    state.commit_outside(batch, None, "expiring client request tokens")
}

mod keys;

#[cfg(test)]
mod tests;
