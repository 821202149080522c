//! Lambda's function operations over Eddy's function store: CreateFunction,
//! GetFunction, GetFunctionConfiguration, ListFunctions, UpdateFunctionCode and
//! DeleteFunction.
//!
//! Lambda's members map onto a deployment: `Timeout` (seconds) and `MemorySize` (MB)
//! onto its limits, `Environment.Variables` onto the configuration a function reads
//! with `config.get`. A Lambda function's permissions come from its execution role;
//! an Eddy function's from grants, which Lambda has no member for, so they are tags:
//! `eddy:tables`, `eddy:hosts`, `eddy:indexes` (names separated by spaces or commas),
//! `eddy:email` and `eddy:allow-any-host` (`true` or `false`). `Role` is kept and shown
//! but grants nothing.
//!
//! Owns the reading of those requests and the `FunctionConfiguration` JSON. Must not
//! know how a component is compiled (the function store does).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use base64::Engine as _;
use eddy_triggers::{FunctionConfig, FunctionVersion};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::error::LambdaError;
use super::meta::{self, Meta};
use super::names::{function_arn, function_name};
use super::zip::{self, ZipError};
use super::{LambdaResult, answer, blocking, last_modified, parse, query_param, read_body};
use crate::state::AppState;

/// Lambda's `Timeout` range, seconds (Eddy's longest deadline is Lambda's 15 minutes).
pub(super) const TIMEOUT_S_MIN: i64 = 1;
pub(super) const TIMEOUT_S_MAX: i64 = 900;
/// Lambda's `MemorySize` range, MB (the server's own cap may be lower: the deployment
/// says so).
pub(super) const MEMORY_SIZE_MB_MIN: i64 = 128;
pub(super) const MEMORY_SIZE_MB_MAX: i64 = 10_240;
/// Functions a ListFunctions page holds when `MaxItems` is not given (Lambda's 50), and
/// the most it may ask for.
pub(super) const LIST_PAGE_ITEMS_DEFAULT: usize = 50;
pub(super) const LIST_PAGE_ITEMS_MAX: usize = 10_000;
/// Largest CreateFunction or UpdateFunctionCode body: a whole component in base64 in
/// JSON, as `/v1`'s JSON deploy takes.
pub(super) const DEPLOY_BODY_BYTES_MAX: usize = crate::body::DEPLOY_JSON_BYTES_MAX;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Code {
    zip_file: Option<String>,
    #[serde(rename = "S3Bucket")]
    s3_bucket: Option<String>,
    image_uri: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Environment {
    variables: Option<BTreeMap<String, String>>,
}

/// CreateFunction's members Eddy reads; the others (`Publish`, `Architectures`,
/// `TracingConfig`, …) have no meaning for a component and are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateRequest {
    function_name: Option<String>,
    role: Option<String>,
    runtime: Option<String>,
    handler: Option<String>,
    code: Option<Code>,
    description: Option<String>,
    timeout: Option<i64>,
    memory_size: Option<i64>,
    environment: Option<Environment>,
    tags: Option<BTreeMap<String, String>>,
    package_type: Option<String>,
}

/// UpdateFunctionCode's members Eddy reads.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateCodeRequest {
    zip_file: Option<String>,
    #[serde(rename = "S3Bucket")]
    s3_bucket: Option<String>,
    image_uri: Option<String>,
    revision_id: Option<String>,
    dry_run: Option<bool>,
}

/// The component in `Code.ZipFile` (base64 of a `.wasm` or of a zip holding one), and
/// the SHA-256 (base64) and size of the package as sent, as Lambda reports them.
fn component_of(
    zip_file: Option<&str>,
    s3_bucket: Option<&str>,
    image_uri: Option<&str>,
    handler: Option<&str>,
) -> Result<(Vec<u8>, String, u64), LambdaError> {
    if image_uri.is_some() {
        return Err(LambdaError::invalid(
            "Eddy runs WebAssembly components, not container images: send the component \
             (or a zip holding it) as Code.ZipFile",
        ));
    }
    if s3_bucket.is_some() {
        return Err(LambdaError::invalid(
            "Eddy does not read code from S3: send the component (or a zip holding it) as \
             Code.ZipFile",
        ));
    }
    let Some(encoded) = zip_file else {
        return Err(LambdaError::invalid(
            "Please provide a source for function code.",
        ));
    };
    let package = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| LambdaError::invalid(format!("Code.ZipFile is not valid base64: {e}")))?;
    let sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&package));
    let size = package.len() as u64;
    let wasm = if zip::is_zip(&package) {
        zip::component(&package, handler).map_err(|e| match e {
            ZipError::Unreadable(why) => {
                LambdaError::invalid(format!("{} ({why})", zip::UNZIP_FAILED))
            }
            ZipError::NoComponent(why) => LambdaError::invalid(why),
        })?
    } else {
        package
    };
    Ok((wasm, sha, size))
}

/// Eddy's grants from the `eddy:` tags; other tags are only kept.
fn grants_from_tags(
    tags: &BTreeMap<String, String>,
    config: &mut FunctionConfig,
) -> Result<(), LambdaError> {
    let names = |v: &str| -> Vec<String> {
        v.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let flag = |k: &str, v: &str| {
        v.parse::<bool>()
            .map_err(|_| LambdaError::invalid(format!("Tags.{k}: {v:?} is not true or false")))
    };
    for (k, v) in tags {
        match k.as_str() {
            "eddy:tables" => config.tables.extend(names(v)),
            "eddy:hosts" => config.hosts.extend(names(v)),
            "eddy:indexes" => config.indexes.extend(names(v)),
            "eddy:email" => config.email = flag(k, v)?,
            "eddy:allow-any-host" => config.allow_any_host = flag(k, v)?,
            other if other.starts_with("eddy:") => {
                return Err(LambdaError::invalid(format!(
                    "Tags.{other}: unknown Eddy grant; use eddy:tables, eddy:hosts, \
                     eddy:indexes, eddy:email or eddy:allow-any-host"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// An upload's request (CreateFunction, UpdateFunctionCode): one of `/v1`'s upload
/// slots, held while the returned guard lives (429 when none is free), and the body read
/// within [`DEPLOY_BODY_BYTES_MAX`] and parsed; the raw bytes go before the deploy.
async fn read_upload<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    operation: &str,
) -> Result<(impl Sized, T), LambdaError> {
    let upload = crate::api::upload_slot().ok_or_else(|| {
        LambdaError::throttled(
            None,
            "function uploads are in progress; retry when one is done",
        )
    })?;
    let buffered = read_body(headers, body, DEPLOY_BODY_BYTES_MAX, operation).await?;
    let request = parse(&buffered.bytes)?;
    Ok((upload, request))
}

/// `POST /2015-03-31/functions`: deploys the component as a new function (201).
pub(super) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> LambdaResult {
    let (_upload, r): (_, CreateRequest) = read_upload(&headers, body, "CreateFunction").await?;
    // The members botocore requires, checked here too for clients that do not.
    let Some(reference) = r.function_name.as_deref() else {
        return Err(LambdaError::invalid("FunctionName is required"));
    };
    let (name, _) = function_name(reference);
    if r.role.is_none() {
        return Err(LambdaError::invalid("Role is required"));
    }
    if r.package_type.as_deref().is_some_and(|p| p != "Zip") {
        return Err(LambdaError::invalid(
            "Eddy runs WebAssembly components: PackageType must be Zip",
        ));
    }
    let mut config = FunctionConfig::default();
    if let Some(t) = r.timeout {
        if !(TIMEOUT_S_MIN..=TIMEOUT_S_MAX).contains(&t) {
            return Err(out_of_range(t, "timeout", TIMEOUT_S_MIN, TIMEOUT_S_MAX));
        }
        config.timeout_ms = t as u64 * 1000;
    }
    if let Some(m) = r.memory_size {
        if !(MEMORY_SIZE_MB_MIN..=MEMORY_SIZE_MB_MAX).contains(&m) {
            return Err(out_of_range(
                m,
                "memorySize",
                MEMORY_SIZE_MB_MIN,
                MEMORY_SIZE_MB_MAX,
            ));
        }
        config.memory_mb = m as u32;
    }
    if let Some(vars) = r.environment.and_then(|e| e.variables) {
        config.environment = vars;
    }
    let tags = r.tags.unwrap_or_default();
    grants_from_tags(&tags, &mut config)?;
    let code = r.code.unwrap_or_default();
    let (wasm, code_sha256, code_size) = component_of(
        code.zip_file.as_deref(),
        code.s3_bucket.as_deref(),
        code.image_uri.as_deref(),
        r.handler.as_deref(),
    )?;
    let engine_config = state.engine.config();
    let arn = function_arn(&engine_config.region, &engine_config.account_id, &name);
    let creating = Creating::claim(&state, &name)?;
    let mut meta = Meta {
        version: 0,
        description: r.description.unwrap_or_default(),
        runtime: r.runtime,
        handler: r.handler,
        role: r.role,
        code_sha256,
        code_size,
        tags,
    };
    let (functions, engine) = (state.platform.functions.clone(), state.engine.clone());
    let function = blocking(move || {
        // The claim is held until the deploy is done, even if the client goes away.
        let _creating = creating;
        let f = functions
            .deploy(&name, &wasm, config)
            .map_err(LambdaError::deploy)?;
        meta.version = f.version();
        meta::store(&engine, &name, &meta)
            .map_err(|e| LambdaError::service(format!("storing {arn}'s attributes: {e}")))?;
        Ok::<_, LambdaError>((f, meta))
    })
    .await??;
    Ok(answer(
        StatusCode::CREATED,
        &configuration(&state, &function.0, Some(&function.1)),
    ))
}

/// Names a CreateFunction is deploying now. The function store replaces a function
/// deployed under an existing name (that is `/v1`'s deploy); Lambda's create refuses
/// one, so two creates of one name at once must not both deploy.
static CREATING: std::sync::Mutex<std::collections::BTreeSet<String>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// A claim on a name in [`CREATING`], given up when dropped.
struct Creating(String);

impl Creating {
    /// Claims `name` for a create: refused as Lambda refuses a create of an existing
    /// function if one is deployed or being created.
    fn claim(state: &AppState, name: &str) -> Result<Creating, LambdaError> {
        let conflict = || LambdaError::conflict(format!("Function already exist: {name}"));
        let mut creating = eddy_engine::sync::lock(&CREATING);
        if state.platform.functions.get(name).is_some() || !creating.insert(name.to_owned()) {
            return Err(conflict());
        }
        Ok(Creating(name.to_owned()))
    }
}

impl Drop for Creating {
    fn drop(&mut self) {
        eddy_engine::sync::lock(&CREATING).remove(&self.0);
    }
}

fn out_of_range(value: i64, member: &str, min: i64, max: i64) -> LambdaError {
    let rule = if value < min {
        format!("Member must have value greater than or equal to {min}")
    } else {
        format!("Member must have value less than or equal to {max}")
    };
    LambdaError::constraint(value, member, &rule)
}

/// The deployed function a reference names, with its Lambda attributes: a qualifier
/// must be `$LATEST` or the deployed version (Eddy keeps no older ones).
pub(super) fn resolve(
    state: &AppState,
    reference: &str,
    qualifier: Option<&str>,
) -> Result<(Arc<FunctionVersion>, Option<Meta>), LambdaError> {
    let (name, in_name) = function_name(reference);
    let config = state.engine.config();
    let arn = function_arn(&config.region, &config.account_id, &name);
    let function = state
        .platform
        .functions
        .get(&name)
        .ok_or_else(|| LambdaError::function_not_found(&arn))?;
    if let Some(q) = qualifier.or(in_name.as_deref())
        && q != "$LATEST"
        && q != function.version().to_string()
    {
        return Err(LambdaError::function_not_found(&format!("{arn}:{q}")));
    }
    let meta = meta::load(&state.engine, &name);
    Ok((function, meta))
}

/// `FunctionConfiguration` of a deployed function.
pub(super) fn configuration(state: &AppState, f: &FunctionVersion, meta: Option<&Meta>) -> Value {
    let config = state.engine.config();
    let c = f.config();
    // A deploy through `/v1` since the record was written leaves its code hash stale.
    let current = meta.filter(|m| m.version == f.version());
    let mut out = json!({
        "FunctionName": f.name(),
        "FunctionArn": function_arn(&config.region, &config.account_id, f.name()),
        "Role": meta.and_then(|m| m.role.clone()).unwrap_or_else(|| {
            format!("arn:aws:iam::{}:role/eddy-function-{}", config.account_id, f.name())
        }),
        "CodeSize": current.map_or(f.wasm_bytes(), |m| m.code_size),
        "Description": meta.map(|m| m.description.clone()).unwrap_or_default(),
        "Timeout": c.timeout_ms.div_ceil(1000),
        "MemorySize": c.memory_mb,
        "LastModified": last_modified(f.deployed_at_ms()),
        "Version": "$LATEST",
        // Eddy's deploy counter: it changes with every deploy, as a revision id must.
        "RevisionId": f.version().to_string(),
        "Environment": { "Variables": c.environment },
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
    });
    if let Some(m) = current {
        out["CodeSha256"] = json!(m.code_sha256);
    }
    if let Some(runtime) = meta.and_then(|m| m.runtime.clone()) {
        out["Runtime"] = json!(runtime);
    }
    if let Some(handler) = meta.and_then(|m| m.handler.clone()) {
        out["Handler"] = json!(handler);
    }
    out
}

/// `GET /2015-03-31/functions/{name}`: the configuration and the tags.
pub(super) async fn get(
    State(state): State<AppState>,
    Path(reference): Path<String>,
    uri: Uri,
) -> LambdaResult {
    let (f, meta) = resolve(
        &state,
        &reference,
        query_param(&uri, "Qualifier")?.as_deref(),
    )?;
    Ok(answer(
        StatusCode::OK,
        &json!({
            "Configuration": configuration(&state, &f, meta.as_ref()),
            "Tags": meta.map(|m| m.tags).unwrap_or_default(),
        }),
    ))
}

/// `GET /2015-03-31/functions/{name}/configuration`.
pub(super) async fn get_configuration(
    State(state): State<AppState>,
    Path(reference): Path<String>,
    uri: Uri,
) -> LambdaResult {
    let (f, meta) = resolve(
        &state,
        &reference,
        query_param(&uri, "Qualifier")?.as_deref(),
    )?;
    Ok(answer(
        StatusCode::OK,
        &configuration(&state, &f, meta.as_ref()),
    ))
}

/// The page size a `MaxItems` asks for (1 to [`LIST_PAGE_ITEMS_MAX`]).
pub(super) fn page_size(max_items: Option<&str>) -> Result<usize, LambdaError> {
    let Some(v) = max_items else {
        return Ok(LIST_PAGE_ITEMS_DEFAULT);
    };
    match v.parse::<i64>() {
        Ok(n) if (1..=LIST_PAGE_ITEMS_MAX as i64).contains(&n) => Ok(n as usize),
        Ok(n) if n < 1 => Err(LambdaError::constraint(
            n,
            "maxItems",
            "Member must have value greater than or equal to 1",
        )),
        Ok(n) => Err(LambdaError::constraint(
            n,
            "maxItems",
            &format!("Member must have value less than or equal to {LIST_PAGE_ITEMS_MAX}"),
        )),
        Err(_) => Err(LambdaError::invalid(format!(
            "MaxItems: {v:?} is not a number"
        ))),
    }
}

/// `GET /2015-03-31/functions[?Marker=…&MaxItems=…]`, in name order; the marker is the
/// last name of the previous page.
pub(super) async fn list(State(state): State<AppState>, uri: Uri) -> LambdaResult {
    let size = page_size(query_param(&uri, "MaxItems")?.as_deref())?;
    let marker = query_param(&uri, "Marker")?;
    let mut all = state.platform.functions.list();
    all.sort_by(|a, b| a.name().cmp(b.name()));
    let engine = state.engine.clone();
    let page: Vec<Arc<FunctionVersion>> = all
        .into_iter()
        .filter(|f| marker.as_deref().is_none_or(|m| f.name() > m))
        .take(size + 1)
        .collect();
    let more = page.len() > size;
    let page: Vec<Arc<FunctionVersion>> = page.into_iter().take(size).collect();
    let names: Vec<String> = page.iter().map(|f| f.name().to_owned()).collect();
    // Each record is one point read of a system key.
    let metas = blocking(move || {
        names
            .iter()
            .map(|n| meta::load(&engine, n))
            .collect::<Vec<_>>()
    })
    .await?;
    let functions: Vec<Value> = page
        .iter()
        .zip(metas.iter())
        .map(|(f, m)| configuration(&state, f, m.as_ref()))
        .collect();
    let mut out = json!({ "Functions": functions });
    if more && let Some(last) = page.last() {
        out["NextMarker"] = json!(last.name());
    }
    Ok(answer(StatusCode::OK, &out))
}

/// `DELETE /2015-03-31/functions/{name}`: 204. Its triggers stay, as Lambda's
/// mappings of a deleted function do, and fail until a function of that name exists.
pub(super) async fn delete(
    State(state): State<AppState>,
    Path(reference): Path<String>,
    uri: Uri,
) -> LambdaResult {
    let qualifier = query_param(&uri, "Qualifier")?;
    if let Some(qualifier) = qualifier.as_deref().filter(|q| *q != "$LATEST") {
        // Lambda deletes one published version with a qualifier; Eddy keeps none.
        let (f, _) = resolve(&state, &reference, None)?;
        return Err(LambdaError::invalid(format!(
            "Eddy keeps only the deployed version of {}; delete the function without \
             Qualifier {qualifier}",
            f.name()
        )));
    }
    let (f, _) = resolve(&state, &reference, None)?;
    let name = f.name().to_owned();
    let (functions, engine) = (state.platform.functions.clone(), state.engine.clone());
    let arn = {
        let c = state.engine.config();
        function_arn(&c.region, &c.account_id, &name)
    };
    let existed = blocking(move || {
        let existed = functions
            .delete(&name)
            .map_err(|e| LambdaError::service(e.to_string()))?;
        meta::erase(&engine, &name).map_err(|e| LambdaError::service(e.to_string()))?;
        Ok::<_, LambdaError>(existed)
    })
    .await??;
    if !existed {
        return Err(LambdaError::function_not_found(&arn));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT /2015-03-31/functions/{name}/code`: deploys new code with the function's
/// configuration (200 with the new configuration).
pub(super) async fn update_code(
    State(state): State<AppState>,
    Path(reference): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> LambdaResult {
    let (_upload, r): (_, UpdateCodeRequest) =
        read_upload(&headers, body, "UpdateFunctionCode").await?;
    let (f, meta) = resolve(&state, &reference, None)?;
    if let Some(revision) = r.revision_id.as_deref()
        && revision != f.version().to_string()
    {
        return Err(LambdaError::new(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailedException",
            "The Revision Id provided does not match the latest Revision Id. Call the \
             GetFunction/GetAlias API to retrieve the latest Revision Id",
        ));
    }
    let mut meta = meta.unwrap_or_default();
    let (wasm, code_sha256, code_size) = component_of(
        r.zip_file.as_deref(),
        r.s3_bucket.as_deref(),
        r.image_uri.as_deref(),
        meta.handler.as_deref(),
    )?;
    if r.dry_run == Some(true) {
        return Ok(answer(
            StatusCode::OK,
            &configuration(&state, &f, Some(&meta)),
        ));
    }
    let name = f.name().to_owned();
    let config = f.config().clone();
    meta.code_sha256 = code_sha256;
    meta.code_size = code_size;
    let (functions, engine) = (state.platform.functions.clone(), state.engine.clone());
    let (function, meta) = blocking(move || {
        let f = functions
            .deploy(&name, &wasm, config)
            .map_err(LambdaError::deploy)?;
        meta.version = f.version();
        meta::store(&engine, &name, &meta).map_err(|e| LambdaError::service(e.to_string()))?;
        Ok::<_, LambdaError>((f, meta))
    })
    .await??;
    Ok(answer(
        StatusCode::OK,
        &configuration(&state, &function, Some(&meta)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_come_from_eddy_tags_and_a_typo_is_refused() {
        let mut config = FunctionConfig::default();
        let tags = BTreeMap::from([
            ("eddy:tables".to_owned(), "orders totals,audit".to_owned()),
            ("eddy:email".to_owned(), "true".to_owned()),
            ("team".to_owned(), "billing".to_owned()),
        ]);
        grants_from_tags(&tags, &mut config).unwrap();
        assert_eq!(config.tables.len(), 3);
        assert!(config.email);
        let typo = BTreeMap::from([("eddy:table".to_owned(), "orders".to_owned())]);
        let e = grants_from_tags(&typo, &mut FunctionConfig::default()).unwrap_err();
        assert_eq!(e.code, "InvalidParameterValueException");
        assert!(e.message.contains("eddy:table"), "{}", e.message);
    }

    #[test]
    fn out_of_range_members_are_awss_validation_errors() {
        let e = out_of_range(0, "timeout", TIMEOUT_S_MIN, TIMEOUT_S_MAX);
        assert_eq!(e.code, "ValidationException");
        assert_eq!(
            e.message,
            "1 validation error detected: Value '0' at 'timeout' failed to satisfy \
             constraint: Member must have value greater than or equal to 1"
        );
        assert!(page_size(Some("0")).is_err());
        assert_eq!(page_size(None).unwrap(), LIST_PAGE_ITEMS_DEFAULT);
    }
}
