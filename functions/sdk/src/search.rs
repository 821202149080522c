//! Full-text search through the host's `search` capability (tantivy indexes kept by the
//! server, queried by users at `GET /v1/search/{index}?q=…`).
//!
//! Must not know how the host stores or ranks documents.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::eddy::function::search as host;

/// A failed search call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchError {
    /// The index is not granted to this deployment (or the server has no search).
    Denied(String),
    /// The request is malformed.
    Invalid(String),
    /// The index could not be read or written; a retry may succeed.
    Internal(String),
}

impl fmt::Display for SearchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Denied(m) => write!(f, "search denied: {m}"),
            Self::Invalid(m) => write!(f, "invalid search request: {m}"),
            Self::Internal(m) => write!(f, "search failed: {m}"),
        }
    }
}

impl std::error::Error for SearchError {}

impl From<host::Error> for SearchError {
    fn from(e: host::Error) -> Self {
        match e {
            host::Error::Denied(m) => Self::Denied(m),
            host::Error::Invalid(m) => Self::Invalid(m),
            host::Error::Internal(m) => Self::Internal(m),
        }
    }
}

/// One ranked result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit<D> {
    pub id: String,
    pub score: f32,
    pub document: D,
}

/// One full-text index, by name (granted in the deployment's `indexes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    name: String,
}

impl Index {
    /// The index called `name`; created on the host on first use.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
        }
    }

    /// Adds `document` (a struct or map that serializes to a JSON object) under `id`,
    /// replacing an earlier document with that id. Idempotent.
    pub fn upsert<D: Serialize>(&self, id: &str, document: &D) -> Result<(), SearchError> {
        let json = serde_json::to_string(document)
            .map_err(|e| SearchError::Invalid(format!("cannot encode the document: {e}")))?;
        host::upsert(&self.name, id, &json).map_err(Into::into)
    }

    /// Removes the document `id`; no error if there is none.
    pub fn delete(&self, id: &str) -> Result<(), SearchError> {
        host::delete(&self.name, id).map_err(Into::into)
    }

    /// The best `limit` documents for `query`, best first.
    pub fn query<D: DeserializeOwned>(
        &self,
        query: &str,
        limit: u32,
    ) -> Result<Vec<Hit<D>>, SearchError> {
        host::query(&self.name, query, limit)?
            .into_iter()
            .map(|hit| {
                let document = serde_json::from_str(&hit.document_json).map_err(|e| {
                    SearchError::Invalid(format!("document {:?} does not decode: {e}", hit.id))
                })?;
                Ok(Hit {
                    id: hit.id,
                    score: hit.score,
                    document,
                })
            })
            .collect()
    }
}
