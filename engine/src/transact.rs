//! TransactWriteItems and TransactGetItems: DynamoDB's transactions.
//!
//! A TransactWriteItems validates every action on the caller's thread, with the same
//! code as the single-item writes (`items.rs`), then queues all their mutations as
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

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use fjall::Readable as _;
use xxhash_rust::xxh3::xxh3_128;

use crate::codec::decode_item;
use crate::error::{Error, Result};
use crate::items::{
    DeleteItemInput, Done, ExpressionAttributes, GetItemInput, PutItemInput, UpdateItemInput,
    conditional, project, storage_key_of,
};
use crate::limits::{
    CLIENT_REQUEST_TOKEN_CHARS_MAX, CLIENT_REQUEST_TOKEN_WINDOW_MS,
    CLIENT_REQUEST_TOKENS_REMEMBERED_MAX, TRANSACT_ITEMS_MAX, TRANSACT_REQUEST_BYTES_MAX,
};
use crate::store::{Change, Engine, Mutation, lock, now_ms};
use crate::value::{Item, item_size_bytes};

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

impl Engine {
    /// Applies all actions atomically, or none: see the module documentation.
    pub fn transact_write_items(&self, input: TransactWriteInput, done: Done<()>) {
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
            let mut mutations = Vec::with_capacity(input.actions.len());
            let mut seen = HashSet::with_capacity(input.actions.len());
            for action in input.actions {
                let mutation = match action {
                    TransactWriteAction::ConditionCheck(c) => self.prepare_condition_check(c)?,
                    TransactWriteAction::Put(p) => self.prepare_put(p)?.mutation,
                    TransactWriteAction::Update(u) => self.prepare_update(u)?.mutation,
                    TransactWriteAction::Delete(d) => self.prepare_delete(d)?.mutation,
                };
                // The storage key starts with the table id, so equal keys of two
                // tables differ.
                if !seen.insert(mutation.key.clone()) {
                    return Err(Error::validation(MULTIPLE_OPERATIONS));
                }
                mutations.push(mutation);
            }
            Ok((mutations, input.client_request_token.zip(fingerprint)))
        })();
        let (mutations, token) = match prepared {
            Ok(p) => p,
            Err(e) => return done(Err(e)),
        };
        let Some((token, fingerprint)) = token else {
            return self.submit_transaction(
                mutations,
                None,
                Box::new(move |r| done(r.map(|_| ()))),
            );
        };
        let tokens = Arc::clone(&self.inner.client_tokens);
        match tokens.admit(&token, fingerprint, now_ms()) {
            Err(e) => done(Err(e)),
            Ok(Admission::Replay) => done(Ok(())),
            Ok(Admission::First) => self.submit_transaction(
                mutations,
                Some(token_record(&token, fingerprint, now_ms())),
                Box::new(move |r| {
                    tokens.finish(&token, fingerprint, r.is_ok(), now_ms());
                    done(r.map(|_| ()));
                }),
            ),
        }
    }

    /// Validates a ConditionCheck and builds its mutation, which writes nothing.
    fn prepare_condition_check(&self, input: ConditionCheckInput) -> Result<Mutation> {
        let table = self.table(&input.table)?;
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
    pub fn transact_get_items(&self, gets: &[GetItemInput]) -> Result<Vec<Option<Item>>> {
        check_count(gets.len())?;
        let mut plans = Vec::with_capacity(gets.len());
        let mut seen = HashSet::with_capacity(gets.len());
        for g in gets {
            let (_, key, projection) = self.prepare_get(g)?;
            if !seen.insert(key.clone()) {
                return Err(Error::validation(MULTIPLE_OPERATIONS));
            }
            plans.push((key, projection));
        }
        let snapshot = self.inner.db.snapshot();
        let mut bytes = 0usize;
        let mut out = Vec::with_capacity(plans.len());
        for (key, projection) in plans {
            let item = match snapshot.get(&self.inner.items, &key)? {
                Some(v) => decode_item(&v)?,
                None => {
                    out.push(None);
                    continue;
                }
            };
            bytes += item_size_bytes(&item);
            if bytes > TRANSACT_REQUEST_BYTES_MAX {
                return Err(Error::validation(TOO_LARGE));
            }
            out.push(Some(project(item, projection.as_ref())));
        }
        Ok(out)
    }
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

/// The `meta` key prefix of succeeded client request tokens. The key goes on with the
/// completion time (`u64` milliseconds, big-endian, so records sort by time and
/// expired ones are a prefix of the range) and the token; the value is the
/// fingerprint (`u128`, big-endian). A token used again after its window gets a new
/// record under a new time; the older one expires on its own.
const TOKEN_PREFIX: &[u8] = b"txtoken/";

/// Expired token records removed per trimmer pass.
const TOKEN_EXPIRY_CHUNK_RECORDS_MAX: usize = 10_000;

/// The durable record of a token whose transaction succeeded at `at_ms`.
fn token_record(token: &str, fingerprint: u128, at_ms: u64) -> crate::store::Marker {
    let mut key = Vec::with_capacity(TOKEN_PREFIX.len() + 8 + token.len());
    key.extend_from_slice(TOKEN_PREFIX);
    key.extend_from_slice(&at_ms.to_be_bytes());
    key.extend_from_slice(token.as_bytes());
    (key, fingerprint.to_be_bytes().to_vec())
}

/// Reads a token record back: (completion time, token, fingerprint).
fn parse_token_record(key: &[u8], value: &[u8]) -> Result<(u64, String, u128)> {
    let corrupt = || Error::Storage("corrupt client request token record".into());
    let rest = key.strip_prefix(TOKEN_PREFIX).ok_or_else(corrupt)?;
    let (at, token) = rest.split_at_checked(8).ok_or_else(corrupt)?;
    let at = u64::from_be_bytes(at.try_into().map_err(|_| corrupt())?);
    let token = String::from_utf8(token.to_vec()).map_err(|_| corrupt())?;
    let fingerprint = u128::from_be_bytes(value.try_into().map_err(|_| corrupt())?);
    Ok((at, token, fingerprint))
}

impl Engine {
    /// Deletes the token records whose window has passed (called by the trimmer).
    pub(crate) fn expire_client_tokens(&self) -> Result<()> {
        let cutoff = now_ms().saturating_sub(CLIENT_REQUEST_TOKEN_WINDOW_MS);
        let mut batch = crate::store::Staging::default();
        for kv in self
            .inner
            .meta
            .prefix(TOKEN_PREFIX)
            .take(TOKEN_EXPIRY_CHUNK_RECORDS_MAX)
        {
            let (k, v) = kv.into_inner()?;
            let (at, _, _) = parse_token_record(&k, &v)?;
            if at > cutoff {
                break;
            }
            batch.remove(&self.inner.meta, k);
        }
        self.inner
            .commit_outside(batch, None, "expiring client request tokens")
    }
}

/// What a request with a client token may do.
#[derive(Debug, PartialEq, Eq)]
enum Admission {
    /// The token is new (or its window passed): run the transaction.
    First,
    /// The same request already succeeded within the window: answer success again
    /// without writing.
    Replay,
}

/// The idempotency window of TransactWriteItems' `ClientRequestToken`s. Only tokens
/// of running or succeeded transactions are kept: a cancelled or failed transaction
/// wrote nothing, so running it again is what a retry should do.
#[derive(Default)]
pub(crate) struct ClientTokens {
    state: Mutex<TokenState>,
}

#[derive(Default)]
struct TokenState {
    by_token: HashMap<String, TokenEntry>,
    /// Succeeded tokens in completion order with their completion time, so expired
    /// ones are dropped from the front.
    completed: VecDeque<(u64, String)>,
}

struct TokenEntry {
    fingerprint: u128,
    /// When the transaction succeeded; `None` while it runs.
    completed_ms: Option<u64>,
}

impl TokenState {
    /// Forgets tokens whose window has passed, and the oldest beyond the memory bound.
    fn expire(&mut self, now_ms: u64) {
        while let Some((at, _)) = self.completed.front() {
            let expired = at.saturating_add(CLIENT_REQUEST_TOKEN_WINDOW_MS) <= now_ms;
            if !expired && self.by_token.len() <= CLIENT_REQUEST_TOKENS_REMEMBERED_MAX {
                break;
            }
            let Some((at, token)) = self.completed.pop_front() else {
                break;
            };
            // The token may have been used again after an earlier expiry; only the
            // entry this queue slot belongs to is removed.
            if self
                .by_token
                .get(&token)
                .is_some_and(|e| e.completed_ms == Some(at))
            {
                self.by_token.remove(&token);
            }
        }
    }
}

impl ClientTokens {
    /// The window as the durable records left it: every token that succeeded within
    /// it, newest last.
    pub(crate) fn load(meta: &fjall::Keyspace, now_ms: u64) -> Result<ClientTokens> {
        let mut state = TokenState::default();
        for kv in meta.prefix(TOKEN_PREFIX) {
            let (k, v) = kv.into_inner()?;
            let (at, token, fingerprint) = parse_token_record(&k, &v)?;
            if at.saturating_add(CLIENT_REQUEST_TOKEN_WINDOW_MS) <= now_ms {
                continue;
            }
            // Records come in time order, so a token used twice keeps its newer entry.
            state.by_token.insert(
                token.clone(),
                TokenEntry {
                    fingerprint,
                    completed_ms: Some(at),
                },
            );
            state.completed.push_back((at, token));
        }
        state.expire(now_ms);
        Ok(ClientTokens {
            state: Mutex::new(state),
        })
    }

    fn admit(&self, token: &str, fingerprint: u128, now_ms: u64) -> Result<Admission> {
        let mut state = lock(&self.state);
        state.expire(now_ms);
        match state.by_token.get(token) {
            None => {
                state.by_token.insert(
                    token.to_string(),
                    TokenEntry {
                        fingerprint,
                        completed_ms: None,
                    },
                );
                Ok(Admission::First)
            }
            Some(e) if e.fingerprint != fingerprint => Err(Error::IdempotentParameterMismatch(
                "DynamoDB rejected the request because you retried a request with a different payload but with an idempotent token that was already used.".into(),
            )),
            Some(TokenEntry {
                completed_ms: None, ..
            }) => Err(Error::TransactionInProgress(
                "The transaction with the given request token is already in progress.".into(),
            )),
            Some(_) => Ok(Admission::Replay),
        }
    }

    /// Records how the token's first transaction ended.
    fn finish(&self, token: &str, fingerprint: u128, succeeded: bool, now_ms: u64) {
        let mut state = lock(&self.state);
        let Some(entry) = state.by_token.get_mut(token) else {
            return;
        };
        if entry.fingerprint != fingerprint || entry.completed_ms.is_some() {
            return;
        }
        if succeeded {
            entry.completed_ms = Some(now_ms);
            state.completed.push_back((now_ms, token.to_string()));
        } else {
            state.by_token.remove(token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_replays_only_the_same_request_within_its_window() {
        let tokens = ClientTokens::default();
        assert_eq!(tokens.admit("t", 1, 0).unwrap(), Admission::First);
        assert!(matches!(
            tokens.admit("t", 1, 1),
            Err(Error::TransactionInProgress(_))
        ));
        tokens.finish("t", 1, true, 10);
        assert_eq!(tokens.admit("t", 1, 20).unwrap(), Admission::Replay);
        assert!(matches!(
            tokens.admit("t", 2, 20),
            Err(Error::IdempotentParameterMismatch(_))
        ));
        let later = 10 + CLIENT_REQUEST_TOKEN_WINDOW_MS;
        assert_eq!(tokens.admit("t", 2, later).unwrap(), Admission::First);
    }

    #[test]
    fn a_failed_transaction_leaves_its_token_free() {
        let tokens = ClientTokens::default();
        assert_eq!(tokens.admit("t", 1, 0).unwrap(), Admission::First);
        tokens.finish("t", 1, false, 5);
        assert_eq!(tokens.admit("t", 2, 6).unwrap(), Admission::First);
    }

    #[test]
    fn token_records_round_trip_and_sort_by_time() {
        let (k1, v1) = token_record("b", 7, 1_000);
        let (k2, _) = token_record("a", 7, 2_000);
        assert!(k1 < k2, "records sort by completion time, not by token");
        assert_eq!(
            parse_token_record(&k1, &v1).unwrap(),
            (1_000, "b".to_string(), 7)
        );
        assert!(parse_token_record(&k1, &v1[1..]).is_err());
        assert!(parse_token_record(b"txtoken/1", &v1).is_err());
    }

    #[test]
    fn the_window_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let db = fjall::Database::builder(dir.path()).open().unwrap();
        let meta = db
            .keyspace("meta", fjall::KeyspaceCreateOptions::default)
            .unwrap();
        let window = CLIENT_REQUEST_TOKEN_WINDOW_MS;
        for (token, fp, at) in [("old", 1, 0), ("t", 2, window), ("t", 3, window + 10)] {
            let (k, v) = token_record(token, fp, at);
            meta.insert(k, v).unwrap();
        }
        let tokens = ClientTokens::load(&meta, window + 20).unwrap();
        assert_eq!(
            tokens.admit("old", 9, window + 20).unwrap(),
            Admission::First
        );
        assert_eq!(
            tokens.admit("t", 3, window + 20).unwrap(),
            Admission::Replay
        );
        assert!(matches!(
            tokens.admit("t", 2, window + 20),
            Err(Error::IdempotentParameterMismatch(_))
        ));
    }

    #[test]
    fn expiry_deletes_only_records_past_their_window() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(crate::EngineConfig::new(dir.path())).unwrap();
        let meta = &engine.inner.meta;
        let now = now_ms();
        for (token, at) in [
            ("a", 0),
            ("b", now - CLIENT_REQUEST_TOKEN_WINDOW_MS),
            ("c", now),
        ] {
            let (k, v) = token_record(token, 1, at);
            meta.insert(k, v).unwrap();
        }
        engine.expire_client_tokens().unwrap();
        let left: Vec<String> = meta
            .prefix(TOKEN_PREFIX)
            .map(|kv| {
                let (k, v) = kv.into_inner().unwrap();
                parse_token_record(&k, &v).unwrap().1
            })
            .collect();
        assert_eq!(left, ["c"]);
        engine.shutdown();
    }

    #[test]
    fn token_length_is_checked() {
        assert!(check_token("").is_err());
        assert!(check_token(&"x".repeat(CLIENT_REQUEST_TOKEN_CHARS_MAX)).is_ok());
        assert!(check_token(&"x".repeat(CLIENT_REQUEST_TOKEN_CHARS_MAX + 1)).is_err());
    }
}
