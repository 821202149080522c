//! The function store: deployed function versions, durable on disk, compiled once.
//!
//! Owns the on-disk layout, deployment configuration and its validation, versioning and
//! the compiled-component cache. Must not know how functions are invoked (it asks the
//! [`Executor`] to compile and type-check) nor what triggers them.
//!
//! Layout under the directory given to [`FunctionStore::open`] (e.g.
//! `<data-dir>/functions`):
//!
//! ```text
//! <name>/v<N>.wasm    the component as deployed (the source of truth)
//! <name>/v<N>.cwasm   the compiled component (`Component::serialize`), a cache: rebuilt
//!                     from v<N>.wasm when missing or made by another engine build
//! <name>/v<N>.json    the manifest (name, version, config, sizes); written last, so a
//!                     version exists iff its manifest does
//! ```
//!
//! With the engine's encryption key ([`FunctionStore::open_sealed`]) the three files are
//! sealed like stored items (`eddy_engine::Seal`, the file's `<name>/v<N>.<ext>` path as
//! associated data, so a file renamed to another function or version fails to open);
//! file names stay in clear. The function logs (`logs.rs`) stay in clear.
//!
//! Every file is written to `*.tmp`, fsynced and renamed, then the directory is fsynced.
//! Redeploying creates version N+1; the newest [`VERSIONS_KEPT_MAX`] versions stay on
//! disk, the newest loadable one is served.

use eddy_engine::clock::now_ms;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};

use eddy_engine::Seal;
use eddy_engine::sync::{lock, read, write};

use super::bindings::FunctionPre;
use super::deployment::{Deployment, FunctionConfig, validate_name};
use super::host::InvocationState;
use super::logs::{LogLine, LogRing};
use super::{DeployError, Executor};

/// Versions of a function kept on disk; older ones are deleted on deploy.
pub const VERSIONS_KEPT_MAX: u32 = 5;
/// Functions deployed at once. Every function keeps its compiled code in memory and
/// its files on disk, so their number is bounded: a deploy under a new name beyond it
/// is refused (Lambda's `ServiceQuotaExceededException`); redeploying an existing
/// function is always allowed. A store that already holds more (a lowered limit) loads
/// them all.
pub const FUNCTIONS_MAX: usize = 256;
/// The manifest format written by this code.
const MANIFEST_FORMAT: u32 = 1;

/// Where a loaded version's compiled code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Compiled from the `.wasm` (deploy, or a missing/incompatible cache).
    Compiled,
    /// Loaded from the cached `.cwasm` without compiling.
    Cached,
}

/// One deployed, compiled and type-checked version of a function, ready to invoke.
pub struct FunctionVersion {
    pub(crate) deployment: Arc<Deployment>,
    pub(crate) pre: FunctionPre<InvocationState>,
    pub(crate) logs: Arc<LogRing>,
    origin: Origin,
    deployed_at_ms: u64,
    wasm_bytes: u64,
}

impl std::fmt::Debug for FunctionVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionVersion")
            .field("name", &self.deployment.name)
            .field("version", &self.deployment.version)
            .field("config", &self.deployment.config)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl FunctionVersion {
    /// The function's name.
    pub fn name(&self) -> &str {
        &self.deployment.name
    }

    /// The version, from 1, increasing with every deploy.
    pub fn version(&self) -> u32 {
        self.deployment.version
    }

    /// The deployment's configuration.
    pub fn config(&self) -> &FunctionConfig {
        &self.deployment.config
    }

    /// Whether the compiled code was loaded from the cache or compiled.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// When this version was deployed, milliseconds since the Unix epoch.
    pub fn deployed_at_ms(&self) -> u64 {
        self.deployed_at_ms
    }

    /// Size of the deployed component.
    pub fn wasm_bytes(&self) -> u64 {
        self.wasm_bytes
    }

    /// The function's recent log lines (all versions since this process started).
    pub fn logs(&self) -> Vec<LogLine> {
        self.logs.snapshot()
    }
}

/// A version's manifest (`v<N>.json`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: u32,
    name: String,
    version: u32,
    deployed_at_ms: u64,
    wasm_bytes: u64,
    config: FunctionConfig,
}

/// A failure of the store's disk or contents.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_owned();
    move |source| StoreError::Io {
        action,
        path,
        source,
    }
}

/// The deployed functions, durable under one directory.
pub struct FunctionStore {
    dir: PathBuf,
    executor: Executor,
    functions: RwLock<BTreeMap<String, Arc<FunctionVersion>>>,
    /// Serializes deploys and deletes (version numbering, files).
    writer: Mutex<()>,
    /// Seals the files (a no-op without a key).
    seal: Seal,
}

impl std::fmt::Debug for FunctionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl FunctionStore {
    /// Opens (creating if needed) the store under `dir` and loads the newest loadable
    /// version of every function, from the compiled cache when it is valid.
    ///
    /// A function whose versions all fail to load is skipped with an error log rather than
    /// failing the whole store.
    pub fn open(dir: impl AsRef<Path>, executor: &Executor) -> Result<Self, StoreError> {
        Self::open_sealed(dir, executor, Seal::default())
    }

    /// [`FunctionStore::open`] with files sealed by `seal` (the engine's, so that the
    /// one key file covers the whole data directory).
    pub fn open_sealed(
        dir: impl AsRef<Path>,
        executor: &Executor,
        seal: Seal,
    ) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_owned();
        fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        let mut functions = BTreeMap::new();
        for entry in fs::read_dir(&dir).map_err(io("list", &dir))? {
            let entry = entry.map_err(io("list", &dir))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if name.starts_with('.') && entry.file_type().is_ok_and(|t| t.is_dir()) {
                // A delete that crashed half-way.
                fs::remove_dir_all(&path).map_err(io("remove", &path))?;
                continue;
            }
            if validate_name(&name).is_err() || !path.is_dir() {
                continue;
            }
            remove_temporaries(&path)?;
            let logs = Arc::new(LogRing::open(&path));
            let mut versions = manifest_versions(&path)?;
            versions.sort_unstable_by(|a, b| b.cmp(a));
            let loaded = versions.into_iter().find_map(|version| {
                match load_version(executor, &seal, &path, &name, version, logs.clone()) {
                    Ok(loaded) => Some(loaded),
                    Err(e) => {
                        tracing::error!(function = %name, version, error = %e, "cannot load function version");
                        None
                    }
                }
            });
            match loaded {
                Some(function) => {
                    functions.insert(name, Arc::new(function));
                }
                None => tracing::error!(function = %name, "no loadable version; skipped"),
            }
        }
        Ok(Self {
            dir,
            executor: executor.clone(),
            functions: RwLock::new(functions),
            writer: Mutex::new(()),
            seal,
        })
    }

    /// Compiles and type-checks `wasm` against the function world, then stores it as the
    /// next version of `name` and serves it from now on.
    pub fn deploy(
        &self,
        name: &str,
        wasm: &[u8],
        config: FunctionConfig,
    ) -> Result<Arc<FunctionVersion>, DeployError> {
        validate_name(name)?;
        let limits = self.executor.config();
        config.validate(limits.memory_mb_max, limits.any_host_grants_permitted)?;
        // Checked before compiling (the expensive part) and again under the writer lock,
        // where it is decided.
        self.check_quota(name)?;
        let (component, pre) = self.executor.compile(wasm)?;
        let compiled = component
            .serialize()
            .map_err(|e| DeployError::InvalidComponent {
                message: format!("cannot serialize the compiled component: {e}"),
            })?;

        let _writer = lock(&self.writer);
        self.check_quota(name)?;
        let function_dir = self.dir.join(name);
        fs::create_dir_all(&function_dir).map_err(io("create", &function_dir))?;
        let version = manifest_versions(&function_dir)?
            .into_iter()
            .max()
            .unwrap_or(0)
            + 1;
        let manifest = Manifest {
            format: MANIFEST_FORMAT,
            name: name.to_owned(),
            version,
            deployed_at_ms: now_ms(),
            wasm_bytes: wasm.len() as u64,
            config,
        };
        let sealed = |ext: &str, bytes: &[u8]| {
            let file = format!("v{version}.{ext}");
            let bytes = self
                .seal
                .seal_bytes(file_name(name, &file).as_bytes(), bytes);
            (function_dir.join(file), bytes)
        };
        let (path, bytes) = sealed("wasm", wasm);
        write_atomic(&path, &bytes)?;
        let (path, bytes) = sealed("cwasm", &compiled);
        write_atomic(&path, &bytes)?;
        let manifest_json =
            serde_json::to_vec_pretty(&manifest).expect("a manifest always serializes");
        let (path, bytes) = sealed("json", &manifest_json);
        write_atomic(&path, &bytes)?;
        sync_dir(&self.dir)?;

        let logs = self.get(name).map_or_else(
            || Arc::new(LogRing::open(&function_dir)),
            |f| f.logs.clone(),
        );
        let function = Arc::new(FunctionVersion {
            deployment: Arc::new(Deployment {
                name: manifest.name,
                version,
                config: manifest.config,
            }),
            pre,
            logs,
            origin: Origin::Compiled,
            deployed_at_ms: manifest.deployed_at_ms,
            wasm_bytes: manifest.wasm_bytes,
        });
        write(&self.functions).insert(name.to_owned(), function.clone());
        prune_versions(&function_dir, version)?;
        Ok(function)
    }

    /// Refuses a new function when [`FUNCTIONS_MAX`] are deployed.
    fn check_quota(&self, name: &str) -> Result<(), DeployError> {
        let functions = read(&self.functions);
        if functions.len() >= FUNCTIONS_MAX && !functions.contains_key(name) {
            return Err(DeployError::TooManyFunctions {
                deployed: functions.len(),
            });
        }
        Ok(())
    }

    /// The served (newest) version of `name`.
    pub fn get(&self, name: &str) -> Option<Arc<FunctionVersion>> {
        read(&self.functions).get(name).cloned()
    }

    /// The component of the served version of `name`, as it was deployed, with that
    /// version (for a trigger worker that runs the function in another process); `None`
    /// when no such function is served.
    pub fn component(&self, name: &str) -> Result<Option<(u32, Vec<u8>)>, String> {
        let Some(function) = self.get(name) else {
            return Ok(None);
        };
        let version = function.version();
        let dir = self.dir.join(name);
        read_file(&self.seal, &dir, name, &format!("v{version}.wasm"))
            .map(|wasm| Some((version, wasm)))
    }

    /// The served version of every function, by name.
    pub fn list(&self) -> Vec<Arc<FunctionVersion>> {
        read(&self.functions).values().cloned().collect()
    }

    /// Deletes `name` with all its versions; `false` if there was no such function.
    /// Invocations already running finish on the version they hold.
    pub fn delete(&self, name: &str) -> Result<bool, StoreError> {
        if validate_name(name).is_err() {
            return Ok(false);
        }
        let _writer = lock(&self.writer);
        let existed = write(&self.functions).remove(name).is_some();
        let function_dir = self.dir.join(name);
        if function_dir.exists() {
            // Rename first so that a crash leaves either the function or a dot-directory
            // that `open` removes, never a half-deleted function.
            let doomed = self.dir.join(format!(".{name}.deleting-{}", now_ms()));
            fs::rename(&function_dir, &doomed).map_err(io("rename", &function_dir))?;
            sync_dir(&self.dir)?;
            fs::remove_dir_all(&doomed).map_err(io("remove", &doomed))?;
        }
        Ok(existed)
    }
}

/// The name a function's file is sealed under: `<function>/<file>`.
fn file_name(function: &str, file: &str) -> String {
    format!("{function}/{file}")
}

/// Reads a function's file and opens it if it is sealed.
fn read_file(seal: &Seal, dir: &Path, name: &str, file: &str) -> Result<Vec<u8>, String> {
    let path = dir.join(file);
    let bytes = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    seal.open_bytes(file_name(name, file).as_bytes(), bytes)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn load_version(
    executor: &Executor,
    seal: &Seal,
    dir: &Path,
    name: &str,
    version: u32,
    logs: Arc<LogRing>,
) -> Result<FunctionVersion, String> {
    let manifest_path = dir.join(format!("v{version}.json"));
    let manifest: Manifest = read_file(seal, dir, name, &format!("v{version}.json"))
        .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
        .map_err(|e| format!("manifest {}: {e}", manifest_path.display()))?;
    if manifest.format != MANIFEST_FORMAT || manifest.name != name || manifest.version != version {
        return Err(format!(
            "manifest {} does not describe {name} v{version} (format {MANIFEST_FORMAT})",
            manifest_path.display()
        ));
    }
    let cwasm_path = dir.join(format!("v{version}.cwasm"));
    let cached = read_file(seal, dir, name, &format!("v{version}.cwasm"))
        .and_then(|bytes| executor.load_compiled(&bytes).map_err(|e| e.to_string()));
    let (pre, origin) = match cached {
        Ok(pre) => (pre, Origin::Cached),
        Err(e) => {
            tracing::warn!(function = %name, version, error = %e, "compiled cache unusable; recompiling");
            let wasm = read_file(seal, dir, name, &format!("v{version}.wasm"))?;
            let (component, pre) = executor.compile(&wasm).map_err(|e| e.to_string())?;
            match component.serialize() {
                Ok(compiled) => {
                    let file = file_name(name, &format!("v{version}.cwasm"));
                    let compiled = seal.seal_bytes(file.as_bytes(), &compiled);
                    if let Err(e) = write_atomic(&cwasm_path, &compiled) {
                        tracing::warn!(function = %name, version, error = %e, "cannot rewrite the compiled cache");
                    }
                }
                Err(e) => {
                    tracing::warn!(function = %name, version, error = %e, "cannot serialize")
                }
            }
            (pre, Origin::Compiled)
        }
    };
    Ok(FunctionVersion {
        deployment: Arc::new(Deployment {
            name: manifest.name,
            version,
            config: manifest.config,
        }),
        pre,
        logs,
        origin,
        deployed_at_ms: manifest.deployed_at_ms,
        wasm_bytes: manifest.wasm_bytes,
    })
}

/// The versions that have a manifest in `dir`.
fn manifest_versions(dir: &Path) -> Result<Vec<u32>, StoreError> {
    let mut versions = Vec::new();
    for entry in fs::read_dir(dir).map_err(io("list", dir))? {
        let entry = entry.map_err(io("list", dir))?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        if let Some(version) = file_name
            .strip_prefix('v')
            .and_then(|rest| rest.strip_suffix(".json"))
            .and_then(|n| n.parse::<u32>().ok())
        {
            versions.push(version);
        }
    }
    Ok(versions)
}

/// Deletes the files of versions older than the newest [`VERSIONS_KEPT_MAX`].
fn prune_versions(dir: &Path, newest: u32) -> Result<(), StoreError> {
    let Some(oldest_kept) = newest.checked_sub(VERSIONS_KEPT_MAX - 1) else {
        return Ok(());
    };
    for version in manifest_versions(dir)? {
        if version < oldest_kept {
            // The manifest goes first: without it the version no longer exists.
            for ext in ["json", "cwasm", "wasm"] {
                let path = dir.join(format!("v{version}.{ext}"));
                match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io("remove", &path)(e)),
                }
            }
        }
    }
    Ok(())
}

fn remove_temporaries(dir: &Path) -> Result<(), StoreError> {
    for entry in fs::read_dir(dir).map_err(io("list", dir))? {
        let entry = entry.map_err(io("list", dir))?;
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "tmp") {
            fs::remove_file(&path).map_err(io("remove", &path))?;
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` so that `path` holds either its old contents or all of the
/// new ones, durably: temporary file, fsync, rename, fsync of the directory.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = fs::File::create(&tmp).map_err(io("create", &tmp))?;
    file.write_all(bytes).map_err(io("write", &tmp))?;
    file.sync_all().map_err(io("fsync", &tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io("rename", &tmp))?;
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("fsync", dir))
}
