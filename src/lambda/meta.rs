//! What Lambda's API says of a function that Eddy's deployment does not keep: its
//! description, runtime, handler, the role it was given, its tags and the SHA-256 of
//! the code it was created from. Kept durably in the engine's system keys
//! (`lambda/function/<name>`), beside the deployment, so that GetFunction answers the
//! same after a restart.
//!
//! Owns that record and its key. Must not know how it is rendered.

use std::collections::BTreeMap;

use eddy_engine::Engine;
use serde::{Deserialize, Serialize};

/// The system-key prefix of these records.
const META_PREFIX: &str = "lambda/function/";

/// A function's Lambda-only attributes, as of the deployed version they describe.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Meta {
    /// The deployed version this record was written with: a version deployed through
    /// `/v1` or `eddy function deploy` since then makes its code hash stale.
    pub(super) version: u32,
    pub(super) description: String,
    pub(super) runtime: Option<String>,
    pub(super) handler: Option<String>,
    pub(super) role: Option<String>,
    /// Base64 of the SHA-256 of the deployment package, as Lambda's `CodeSha256`.
    pub(super) code_sha256: String,
    pub(super) code_size: u64,
    pub(super) tags: BTreeMap<String, String>,
}

fn key(name: &str) -> Vec<u8> {
    format!("{META_PREFIX}{name}").into_bytes()
}

/// The record of `name`, if one was written (an unreadable one counts as none: it only
/// describes, and the deployment itself is intact).
pub(super) fn load(engine: &Engine, name: &str) -> Option<Meta> {
    let bytes = engine.system_get(&key(name)).ok()??;
    serde_json::from_slice(&bytes).ok()
}

pub(super) fn store(engine: &Engine, name: &str, meta: &Meta) -> Result<(), eddy_engine::Error> {
    let bytes = serde_json::to_vec(meta).unwrap_or_default();
    engine.system_put(&key(name), &bytes)
}

pub(super) fn erase(engine: &Engine, name: &str) -> Result<(), eddy_engine::Error> {
    engine.system_delete(&key(name))
}
