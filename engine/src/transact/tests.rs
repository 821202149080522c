//! Transactions' client request tokens through the engine, and the token checks.

use super::*;
use crate::engine::Engine;
use crate::limits::CLIENT_REQUEST_TOKEN_WINDOW_MS;
use crate::tokens::{TOKEN_PREFIX, parse_token_record, token_record};

#[test]
fn expiry_deletes_only_records_past_their_window() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(crate::EngineConfig::new(dir.path())).unwrap();
    let meta = &engine.state.meta;
    let now = now_ms();
    for (token, at) in [
        ("a", 0),
        ("b", now - CLIENT_REQUEST_TOKEN_WINDOW_MS),
        ("c", now),
    ] {
        let (k, v) = token_record(token, 1, at);
        meta.insert(k, v).unwrap();
    }
    expire_client_tokens(&engine.state).unwrap();
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
