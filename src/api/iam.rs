//! `/v1/iam`: access keys (`/v1/iam/keys`), users and their inline policies
//! (`/v1/iam/users/{user}/policies/{name}`, as IAM's `PutUserPolicy`). Only an
//! administrator reaches these routes when requests are verified (the `/v1` guard sees
//! to it).
//!
//! Owns the routes' JSON. Must not know how keys and users are stored or how policies
//! are evaluated (`auth`).

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, put};
use serde_json::{Value, json};

use super::common::{ApiResult, blocking, created, ok, parse_fields, parse_json, read_body};
use super::problem::Problem;
use crate::auth::users::{POLICY_NAME_CHARS_MAX, User, UserError};
use crate::auth::{Key, Keys, Users};
use crate::state::AppState;

/// Largest body of a key creation request.
const IAM_BODY_BYTES_MAX: usize = 4 * 1024;
use crate::auth::users::USER_NAME_CHARS_MAX;
/// Largest policy document body accepted, in bytes (the document's own limit is in
/// characters and is checked when it is read).
const POLICY_BODY_BYTES_MAX: usize = 64 * 1024;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/iam/keys", get(list_keys).post(create_key))
        .route("/v1/iam/keys/{id}", delete(delete_key))
        .route("/v1/iam/users", get(list_users).post(create_user))
        .route("/v1/iam/users/{user}", delete(delete_user))
        .route("/v1/iam/users/{user}/policies", get(list_policies))
        .route(
            "/v1/iam/users/{user}/policies/{name}",
            put(put_policy).get(get_policy).delete(delete_policy),
        )
}

fn users() -> Result<&'static std::sync::Arc<Users>, Problem> {
    crate::auth::users().ok_or_else(|| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceException",
            "the user store is not open",
        )
    })
}

/// IAM's rule for user and policy names: 1 to `max` characters of `[A-Za-z0-9+=,.@_-]`.
fn check_name(field: &str, name: &str, max: usize) -> Result<(), Problem> {
    if name.is_empty()
        || name.chars().count() > max
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    {
        return Err(Problem::bad_request(
            "InvalidParameterValueException",
            format!("{field} must be 1-{max} characters of [A-Za-z0-9+=,.@_-], got '{name}'"),
        ));
    }
    Ok(())
}

fn check_user_name(user: &str) -> Result<(), Problem> {
    check_name("User", user, USER_NAME_CHARS_MAX)
}

fn user_error(e: UserError) -> Problem {
    match e {
        UserError::Store(e) => Problem::internal(e.to_string()),
        UserError::NoSuchUser(u) => Problem::not_found(format!("no such user: {u}")),
        UserError::Malformed(e) => Problem::bad_request("MalformedPolicyDocumentException", e.0),
        UserError::TooManyPolicies(m) => Problem::quota_exceeded(m),
    }
}

fn user_json(u: &User, keys: &Keys) -> Value {
    let ids: Vec<String> = keys
        .list()
        .iter()
        .filter(|k| k.user == u.name)
        .map(|k| k.access_key_id.clone())
        .collect();
    json!({
        "User": u.name,
        "UserId": u.user_id,
        "CreatedMs": u.created_ms,
        "Policies": u.policies.keys().collect::<Vec<_>>(),
        "AccessKeys": ids,
    })
}

async fn list_users() -> ApiResult {
    let (users, keys) = (users()?, store()?);
    let list: Vec<Value> = users.list().iter().map(|u| user_json(u, keys)).collect();
    ok(&json!({ "Users": list }))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateUser {
    #[serde(rename = "User")]
    user: String,
}

async fn create_user(headers: HeaderMap, body: Body) -> ApiResult {
    let (users, keys) = (users()?, store()?);
    let buffered = read_body(&headers, body, IAM_BODY_BYTES_MAX).await?;
    let request: CreateUser = parse_fields(parse_json(&buffered.bytes)?, "")?;
    check_user_name(&request.user)?;
    if users.get(&request.user).is_some() {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "EntityAlreadyExistsException",
            format!("User with name {} already exists.", request.user),
        ));
    }
    let user = blocking(move || users.ensure(&request.user))
        .await?
        .map_err(|e| Problem::internal(e.to_string()))?;
    created(&user_json(&user, keys))
}

async fn delete_user(Path(name): Path<String>) -> ApiResult {
    let (users, keys) = (users()?, store()?);
    if users.get(&name).is_none() {
        return Err(Problem::not_found(format!("no such user: {name}")));
    }
    let own: Vec<std::sync::Arc<Key>> =
        keys.list().into_iter().filter(|k| k.user == name).collect();
    let admins_left = keys
        .list()
        .iter()
        .filter(|k| k.admin && k.user != name)
        .count();
    if own.iter().any(|k| k.admin) && admins_left == 0 {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "ResourceConflictException",
            format!("{name} holds the last administrator's key; create another one first"),
        ));
    }
    let deleted = name.clone();
    blocking(move || {
        for k in &own {
            keys.delete(&k.access_key_id)?;
        }
        users.delete(&name)
    })
    .await?
    .map_err(|e| Problem::internal(e.to_string()))?;
    ok(&json!({ "Deleted": deleted }))
}

async fn list_policies(Path(user): Path<String>) -> ApiResult {
    let Some(u) = users()?.get(&user) else {
        return Err(Problem::not_found(format!("no such user: {user}")));
    };
    ok(&json!({ "User": u.name, "PolicyNames": u.policies.keys().collect::<Vec<_>>() }))
}

async fn put_policy(
    Path((user, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let users = users()?;
    check_name("PolicyName", &name, POLICY_NAME_CHARS_MAX)?;
    let buffered = read_body(&headers, body, POLICY_BODY_BYTES_MAX).await?;
    let document = String::from_utf8(buffered.bytes.to_vec()).map_err(|_| {
        Problem::bad_request(
            "MalformedPolicyDocumentException",
            "the document is not UTF-8",
        )
    })?;
    let (u, n) = (user.clone(), name.clone());
    blocking(move || users.put_policy(&u, &n, &document))
        .await?
        .map_err(user_error)?;
    ok(&json!({ "User": user, "PolicyName": name }))
}

async fn get_policy(Path((user, name)): Path<(String, String)>) -> ApiResult {
    let Some(u) = users()?.get(&user) else {
        return Err(Problem::not_found(format!("no such user: {user}")));
    };
    let Some((text, _)) = u.policies.get(&name) else {
        return Err(Problem::not_found(format!(
            "user {user} has no policy {name}"
        )));
    };
    let document: Value = serde_json::from_str(text).unwrap_or(Value::String(text.clone()));
    ok(&json!({ "User": user, "PolicyName": name, "PolicyDocument": document }))
}

async fn delete_policy(Path((user, name)): Path<(String, String)>) -> ApiResult {
    let users = users()?;
    let (u, n) = (user.clone(), name.clone());
    let deleted = blocking(move || users.delete_policy(&u, &n))
        .await?
        .map_err(user_error)?;
    if !deleted {
        return Err(Problem::not_found(format!(
            "user {user} has no policy {name}"
        )));
    }
    ok(&json!({ "User": user, "Deleted": name }))
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
    check_user_name(&user)?;
    let users = users()?;
    // A key's user is created with it when new (allowed nothing until a policy is
    // attached, unless the key is an administrator's).
    let key = blocking(move || {
        users.ensure(&user)?;
        store.create(&user, request.admin, request.session_token)
    })
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
