//! `eddy function deploy [DIR]`: builds what is stale and deploys each function of a
//! manifest with its grants, and the record that lets `eddy apply` tell whether the
//! served version is the one built here.
//!
//! The server does not return a deployed component's hash (`GET /v1/functions/{name}`
//! has `version`, `config` and `wasm_bytes`), so each deploy writes
//! `target/eddy/deployed.json`: per endpoint and function, the version the server
//! answered and the SHA-256 of the bytes sent. A function is current when the server
//! still serves that version (nobody deployed since), the built bytes hash the same,
//! and the served configuration equals the manifest's.
//!
//! Owns the deploy request and the record. Must not know how a component is built.

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine as _;
use eddy_triggers::FunctionConfig;
use hyper::Method;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::build;
use super::client::{Client, encode};
use super::manifest::{Function, Project};

/// The record's file name, beside the built components.
const RECORD_FILE: &str = "deployed.json";

/// The configuration a function is deployed with: the manifest's fields over the
/// server's defaults.
pub fn config_of(function: &Function) -> FunctionConfig {
    let defaults = FunctionConfig::default();
    FunctionConfig {
        memory_mb: function.memory_mb.unwrap_or(defaults.memory_mb),
        timeout_ms: function.timeout_ms.unwrap_or(defaults.timeout_ms),
        environment: function.environment.clone(),
        tables: function.tables.iter().cloned().collect(),
        hosts: function.hosts.iter().cloned().collect(),
        allow_any_host: function.allow_any_host,
        indexes: function.indexes.iter().cloned().collect(),
        email: function.email,
    }
}

/// Builds `function` if its sources are newer than its component.
pub fn build_if_stale(project: &Project, function: &Function) -> Result<(), String> {
    if build::is_stale(project, function) {
        build::build(project, function)?;
    }
    Ok(())
}

/// `eddy function deploy DIR`: builds what is stale, then deploys every function.
pub fn deploy_all(client: &Client, project: &Project) -> Result<(), String> {
    if project.manifest.functions.is_empty() {
        return Err(format!(
            "{} has no [[function]] to deploy",
            project.file.display()
        ));
    }
    for function in &project.manifest.functions {
        build_if_stale(project, function)?;
        let version = deploy(client, project, function)?;
        println!("eddy: deployed {} version {version}", function.name);
    }
    Ok(())
}

/// Deploys the built component of `function` and records it; returns the version.
pub fn deploy(client: &Client, project: &Project, function: &Function) -> Result<u32, String> {
    let path = project.wasm_path(function);
    let wasm = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let body = json!({
        "wasm_base64": base64::engine::general_purpose::STANDARD.encode(&wasm),
        "config": config_of(function),
    });
    let answer = client.v1_json(
        Method::PUT,
        &format!("/v1/functions/{}", encode(&function.name)),
        &body,
    )?;
    if !answer.ok() {
        return Err(format!("deploying {}: {}", function.name, answer.error()));
    }
    let version = answer.body["version"]
        .as_u64()
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| format!("deploying {}: the answer has no version", function.name))?;
    record(
        project,
        &client.base(),
        &function.name,
        version,
        &sha256_hex(&wasm),
    )?;
    Ok(version)
}

/// What the server serves under a name.
#[derive(Debug)]
pub struct Served {
    pub version: u32,
    pub config: Option<FunctionConfig>,
}

/// The served version of `name`, or none when no such function is deployed.
pub fn served(client: &Client, name: &str) -> Result<Option<Served>, String> {
    let answer = client.v1_json(
        Method::GET,
        &format!("/v1/functions/{}", encode(name)),
        &Value::Null,
    )?;
    if answer.status == 404 {
        return Ok(None);
    }
    if !answer.ok() {
        return Err(format!("reading function {name}: {}", answer.error()));
    }
    Ok(Some(Served {
        version: answer.body["version"]
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0),
        config: serde_json::from_value(answer.body["config"].clone()).ok(),
    }))
}

/// Whether the server serves exactly the built component of `function` with the
/// manifest's configuration (see the module's comment).
pub fn is_current(client: &Client, project: &Project, function: &Function) -> Result<bool, String> {
    let Some(served) = served(client, &function.name)? else {
        return Ok(false);
    };
    if served.config.as_ref() != Some(&config_of(function)) {
        return Ok(false);
    }
    let Ok(wasm) = std::fs::read(project.wasm_path(function)) else {
        return Ok(false);
    };
    let records = read_records(project);
    let recorded = records
        .get(&client.base())
        .and_then(|functions| functions.get(&function.name));
    Ok(recorded.is_some_and(|r| r.version == served.version && r.sha256 == sha256_hex(&wasm)))
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Record {
    version: u32,
    sha256: String,
}

type Records = BTreeMap<String, BTreeMap<String, Record>>;

fn record_path(project: &Project) -> PathBuf {
    project.dir.join("target").join("eddy").join(RECORD_FILE)
}

fn read_records(project: &Project) -> Records {
    std::fs::read(record_path(project))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Notes that `base` serves `version` of `name` with bytes hashing to `sha256`; the
/// file is replaced whole (temporary file, rename).
fn record(
    project: &Project,
    base: &str,
    name: &str,
    version: u32,
    sha256: &str,
) -> Result<(), String> {
    let mut records = read_records(project);
    records.entry(base.to_owned()).or_default().insert(
        name.to_owned(),
        Record {
            version,
            sha256: sha256.to_owned(),
        },
    );
    let path = record_path(project);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let temp = path.with_extension(format!("json.tmp-{}", std::process::id()));
    let text = serde_json::to_string_pretty(&records).unwrap_or_default();
    std::fs::write(&temp, text).map_err(|e| format!("{}: {e}", temp.display()))?;
    std::fs::rename(&temp, &path).map_err(|e| format!("{}: {e}", path.display()))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
