//! The idempotency window of TransactWriteItems' `ClientRequestToken`s: in memory for
//! the checks, and durably in `meta` (a record per succeeded token, committed in the
//! transaction's own batch), so a retry after a crash and restart is still answered,
//! not re-applied.
//!
//! It owns the window and the token records' form; it must not know transactions
//! (`transact.rs` asks it) nor the writer beyond the record it commits.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::limits::{CLIENT_REQUEST_TOKEN_WINDOW_MS, CLIENT_REQUEST_TOKENS_REMEMBERED_MAX};
use crate::sync::lock;
use crate::writer::job::Marker;

/// The `meta` key prefix of succeeded client request tokens. The key goes on with the
/// completion time (`u64` milliseconds, big-endian, so records sort by time and
/// expired ones are a prefix of the range) and the token; the value is the
/// fingerprint (`u128`, big-endian). A token used again after its window gets a new
/// record under a new time; the older one expires on its own.
pub(crate) const TOKEN_PREFIX: &[u8] = b"txtoken/";

/// Expired token records removed per trimmer pass.
pub(crate) const TOKEN_EXPIRY_CHUNK_RECORDS_MAX: usize = 10_000;

/// The durable record of a token whose transaction succeeded at `at_ms`.
pub(crate) fn token_record(token: &str, fingerprint: u128, at_ms: u64) -> Marker {
    let mut key = Vec::with_capacity(TOKEN_PREFIX.len() + 8 + token.len());
    key.extend_from_slice(TOKEN_PREFIX);
    key.extend_from_slice(&at_ms.to_be_bytes());
    key.extend_from_slice(token.as_bytes());
    (key, fingerprint.to_be_bytes().to_vec())
}

/// Reads a token record back: (completion time, token, fingerprint).
pub(crate) fn parse_token_record(key: &[u8], value: &[u8]) -> Result<(u64, String, u128)> {
    let corrupt = || Error::Storage("corrupt client request token record".into());
    let rest = key.strip_prefix(TOKEN_PREFIX).ok_or_else(corrupt)?;
    let (at, token) = rest.split_at_checked(8).ok_or_else(corrupt)?;
    let at = u64::from_be_bytes(at.try_into().map_err(|_| corrupt())?);
    let token = String::from_utf8(token.to_vec()).map_err(|_| corrupt())?;
    let fingerprint = u128::from_be_bytes(value.try_into().map_err(|_| corrupt())?);
    Ok((at, token, fingerprint))
}

/// What a request with a client token may do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admission {
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

    pub(crate) fn admit(&self, token: &str, fingerprint: u128, now_ms: u64) -> Result<Admission> {
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
    pub(crate) fn finish(&self, token: &str, fingerprint: u128, succeeded: bool, now_ms: u64) {
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
}
