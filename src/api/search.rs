//! `/v1/search`: the full-text indexes functions keep, listed and queried by users.
//!
//! Owns the routes, the query string of a search (`q`, `limit`) and the JSON of its
//! hits, and the mapping of a search failure to a `/v1` error. Must not know how an
//! index is kept (that is `services/search.rs`); index work runs off the async workers.

use std::time::Instant;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::Uri;
use axum::routing::get;
use eddy_triggers::SearchError;
use serde_json::{Value, json};

use super::common::{ApiResult, blocking, ok};
use super::problem::Problem;
use crate::percent::decode_query;
use crate::services::search::{RESULT_LIMIT_DEFAULT, RESULT_LIMIT_MAX, check_index_name};
use crate::state::AppState;

/// `GET /v1/search` (the indexes) and `GET /v1/search/{index}?q=…&limit=N`, merged into
/// [`crate::api::routes`].
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/search", get(list_indexes))
        .route("/v1/search/{index}", get(search_index))
}

/// The `/v1/` error for a search failure on `field`.
fn problem(field: &'static str, error: SearchError) -> Problem {
    match error {
        SearchError::Invalid(m) | SearchError::Denied(m) => Problem::invalid(field, m),
        SearchError::Internal(m) => Problem::internal(m),
    }
}

async fn list_indexes(State(state): State<AppState>) -> ApiResult {
    let search = state.platform.search.clone();
    let listed = blocking(move || {
        let mut indexes = Vec::new();
        for name in search.names().map_err(|e| problem("index", e))? {
            let documents = search
                .document_count(&name)
                .map_err(|e| problem("index", e))?;
            indexes.push(json!({ "name": name, "documents": documents }));
        }
        Ok::<_, Problem>(json!({ "indexes": indexes }))
    })
    .await??;
    ok(&listed)
}

/// The parameters of a search, from the URL's query string.
struct SearchParams {
    q: String,
    limit: usize,
}

fn search_params(uri: &Uri) -> Result<SearchParams, Problem> {
    let mut q = None;
    let mut limit = RESULT_LIMIT_DEFAULT;
    for part in uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        let decoded = decode_query(value);
        match key {
            "q" => {
                let value =
                    decoded.ok_or_else(|| Problem::invalid("q", "is not URL-encoded UTF-8"))?;
                q = Some(value);
            }
            "limit" => {
                limit = decoded
                    .and_then(|v| v.parse::<usize>().ok())
                    .filter(|n| (1..=RESULT_LIMIT_MAX).contains(n))
                    .ok_or_else(|| {
                        Problem::invalid(
                            "limit",
                            format!("{value:?} is not a whole number from 1 to {RESULT_LIMIT_MAX}"),
                        )
                    })?;
            }
            _ => {
                return Err(Problem::invalid(
                    "query",
                    format!("unknown parameter {key:?} (the parameters are q and limit)"),
                ));
            }
        }
    }
    let q = q.ok_or_else(|| Problem::invalid("q", "the query is missing (?q=words)"))?;
    if q.trim().is_empty() {
        return Err(Problem::invalid("q", "the query is empty"));
    }
    Ok(SearchParams { q, limit })
}

async fn search_index(
    State(state): State<AppState>,
    UrlPath(index): UrlPath<String>,
    uri: Uri,
) -> ApiResult {
    check_index_name(&index).map_err(|e| problem("index", e))?;
    let params = search_params(&uri)?;
    let search = state.platform.search.clone();
    let answered = blocking(move || {
        if !search.exists(&index) {
            return Err(Problem::not_found(format!(
                "index {index:?} does not exist (nothing was indexed into it)"
            )));
        }
        let started = Instant::now();
        let results = search
            .search(&index, &params.q, params.limit)
            .map_err(|e| problem("q", e))?;
        let hits: Vec<Value> = results
            .hits
            .into_iter()
            .map(|hit| {
                let document = serde_json::from_str(&hit.document_json)
                    .unwrap_or(Value::String(hit.document_json));
                json!({ "id": hit.id, "score": hit.score, "document": document })
            })
            .collect();
        Ok(json!({
            "index": index,
            "query": params.q,
            "total": results.total,
            "hits": hits,
            "took_ms": started.elapsed().as_secs_f64() * 1000.0,
        }))
    })
    .await??;
    ok(&answered)
}
