//! Full-text search indexes (tantivy) behind the functions' `search` capability, and the
//! `GET /v1/search/{index}?q=…` route users query them with.
//!
//! Owns the index directories under `<data-dir>/search/<index>/`. Must not know about
//! streams or triggers: functions feed it through [`SearchApi`].

use std::path::Path;

use axum::Router;
use eddy_triggers::{SearchApi, SearchError, SearchHit};

use crate::server::AppState;

/// The server's search indexes.
#[derive(Debug)]
pub struct SearchIndexes {}

impl SearchIndexes {
    /// Opens (creating if needed) the indexes under `dir`.
    pub fn open(dir: &Path) -> Result<Self, String> {
        let _ = dir;
        Ok(Self {})
    }
}

impl SearchApi for SearchIndexes {
    fn upsert(&self, _index: &str, _id: &str, _document_json: &str) -> Result<(), SearchError> {
        Err(SearchError::Internal("search is not built yet".to_owned()))
    }

    fn delete(&self, _index: &str, _id: &str) -> Result<(), SearchError> {
        Err(SearchError::Internal("search is not built yet".to_owned()))
    }

    fn commit(&self, _indexes: &[String]) -> Result<(), SearchError> {
        Err(SearchError::Internal("search is not built yet".to_owned()))
    }

    fn query(
        &self,
        _index: &str,
        _query: &str,
        _limit: usize,
    ) -> Result<Vec<SearchHit>, SearchError> {
        Err(SearchError::Internal("search is not built yet".to_owned()))
    }
}

/// `GET /v1/search/{index}`, merged into [`crate::api::routes`].
pub fn routes() -> Router<AppState> {
    Router::new()
}
