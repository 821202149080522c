//! `/v1/iam/keys`: creating, listing and deleting access keys. Only an administrator
//! reaches these routes when requests are verified (the guard in `auth` sees to it).
//!
//! Owns the routes' JSON. Must not know how keys are stored or checked (`auth`).

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get};
use serde_json::{Value, json};

use super::common::{ApiResult, blocking, created, ok, parse_fields, parse_json, read_body};
use super::problem::Problem;
use crate::auth::{Key, Keys};
use crate::state::AppState;

/// Largest body of a key creation request.
const IAM_BODY_BYTES_MAX: usize = 4 * 1024;
/// Longest user name, in characters (IAM's).
const USER_NAME_CHARS_MAX: usize = 64;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/iam/keys", get(list_keys).post(create_key))
        .route("/v1/iam/keys/{id}", delete(delete_key))
}

fn store() -> Result<&'static std::sync::Arc<Keys>, Problem> {
    crate::auth::keys().ok_or_else(|| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceException",
            "the credential store is not open",
        )
    })
}

/// A key as listed: never its secret.
fn listed(k: &Key) -> Value {
    json!({"AccessKeyId": k.access_key_id, "User": k.user, "Admin": k.admin, "CreatedMs": k.created_ms})
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    #[serde(rename = "User")]
    user: Option<String>,
    #[serde(rename = "Admin", default)]
    admin: bool,
    /// Whether the key gets a session token that requests must carry.
    #[serde(rename = "SessionToken", default)]
    session_token: bool,
}

async fn list_keys() -> ApiResult {
    let keys: Vec<Value> = store()?.list().iter().map(|k| listed(k)).collect();
    ok(&json!({ "Keys": keys }))
}

async fn create_key(headers: HeaderMap, body: Body) -> ApiResult {
    let store = store()?;
    let buffered = read_body(&headers, body, IAM_BODY_BYTES_MAX).await?;
    let request: CreateKey = if buffered.bytes.is_empty() {
        CreateKey::default()
    } else {
        parse_fields(parse_json(&buffered.bytes)?, "")?
    };
    let user = request.user.unwrap_or_else(|| "default".to_owned());
    if user.is_empty()
        || user.chars().count() > USER_NAME_CHARS_MAX
        || !user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    {
        return Err(Problem::bad_request(
            "InvalidParameterValueException",
            format!(
                "User must be 1-{USER_NAME_CHARS_MAX} characters of [A-Za-z0-9+=,.@_-], got '{user}'"
            ),
        ));
    }
    let key = blocking(move || store.create(&user, request.admin, request.session_token))
        .await?
        .map_err(|e| Problem::internal(e.to_string()))?;
    let mut v = listed(&key);
    v["SecretAccessKey"] = json!(key.secret_access_key);
    if let Some(token) = &key.session_token {
        v["SessionToken"] = json!(token);
    }
    created(&v)
}

async fn delete_key(Path(id): Path<String>) -> ApiResult {
    let store = store()?;
    let Some(key) = store.get(&id) else {
        return Err(Problem::not_found(format!("no such access key: {id}")));
    };
    // The last administrator's key is kept: without it nobody could manage keys again.
    if key.admin && store.list().iter().filter(|k| k.admin).count() == 1 {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "ResourceConflictException",
            format!("{id} is the last administrator's key; create another one first"),
        ));
    }
    blocking(move || store.delete(&id))
        .await?
        .map_err(|e| Problem::internal(e.to_string()))?;
    ok(&json!({ "Deleted": key.access_key_id }))
}
