//! The credentials: access key ids with their secret, optional session token, user
//! name and whether they are an administrator's. Kept durably in the engine's `system`
//! keyspace under `auth/key/<id>` (JSON), and in memory for the per-request lookup; the
//! server is their only writer, so the two never disagree.
//!
//! Owns the store, the generation of new credentials and the root credential's
//! bootstrap. Must not know HTTP or how a signature is checked.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use eddy_engine::Engine;
use serde::{Deserialize, Serialize};

/// The system keyspace prefix of credentials.
const KEY_PREFIX: &str = "auth/key/";
/// Random bytes of a generated access key id (after its `EDDY` prefix, 16 characters of
/// base32 like AWS's `AKIA…` ids).
const KEY_ID_RANDOM_BYTES: usize = 10;
/// Random bytes of a generated secret (40 characters of base64, as AWS's secrets).
const SECRET_RANDOM_BYTES: usize = 30;
/// Random bytes of a generated session token (64 characters of base64).
const TOKEN_RANDOM_BYTES: usize = 48;
/// The root credential's user name.
pub const ROOT_USER: &str = "root";
/// Environment variables naming the root credential.
pub const ROOT_KEY_ENV: &str = "EDDY_ROOT_ACCESS_KEY_ID";
pub const ROOT_SECRET_ENV: &str = "EDDY_ROOT_SECRET_ACCESS_KEY";
/// The file (in the data directory) a generated root credential is written to, in the
/// AWS shared-credentials format, readable by its owner only.
pub const ROOT_FILE: &str = "root-credentials";

/// One credential.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Key {
    pub access_key_id: String,
    pub secret_access_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    pub user: String,
    pub admin: bool,
    pub created_ms: u64,
}

/// A root credential generated at first start, and the file it was written to (none
/// for an in-memory store).
pub type Generated = (Arc<Key>, Option<std::path::PathBuf>);

/// The credentials, durable and cached.
#[derive(Debug)]
pub struct Keys {
    engine: Engine,
    cache: RwLock<HashMap<String, Arc<Key>>>,
    /// Counts every change of the store, so that a thread's copy of the last key it
    /// looked up ([`Keys::get_recent`]) is known to be current without taking the lock.
    generation: AtomicU64,
}

thread_local! {
    /// The last key this thread found, with the store and generation it came from:
    /// a connection's requests come from one key, and finding it again then takes
    /// neither the store's lock (shared by every worker thread) nor a hash.
    static RECENT_KEY: RefCell<Option<(usize, u64, Arc<Key>)>> = const { RefCell::new(None) };
}

/// A store failure (the engine refused the write or the read).
#[derive(Debug)]
pub struct StoreError(String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "credential store: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

impl StoreError {
    pub(super) fn new(message: String) -> StoreError {
        StoreError(message)
    }
}

pub(super) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn random(n: usize) -> Result<Vec<u8>, StoreError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| StoreError(format!("no randomness: {e}")))?;
    Ok(buf)
}

/// RFC 4648 base32 without padding (upper case, digits 2-7).
pub(super) fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

impl Keys {
    /// Loads every stored credential.
    pub fn open(engine: &Engine) -> Result<Keys, StoreError> {
        let mut cache = HashMap::new();
        for (_, value) in engine
            .system_scan(KEY_PREFIX.as_bytes())
            .map_err(|e| StoreError(e.to_string()))?
        {
            if let Ok(key) = serde_json::from_slice::<Key>(&value) {
                cache.insert(key.access_key_id.clone(), Arc::new(key));
            }
        }
        Ok(Keys {
            engine: engine.clone(),
            cache: RwLock::new(cache),
            generation: AtomicU64::new(0),
        })
    }

    /// The credential of an access key id.
    pub fn get(&self, id: &str) -> Option<Arc<Key>> {
        self.cache.read().ok()?.get(id).cloned()
    }

    /// [`Keys::get`] for the per-request lookup: the thread's last key when it is the
    /// one asked for and the store has not changed since, else the store's.
    pub fn get_recent(&self, id: &str) -> Option<Arc<Key>> {
        let store = std::ptr::from_ref(self) as usize;
        let generation = self.generation.load(Ordering::Acquire);
        let hit = RECENT_KEY.with_borrow(|recent| {
            recent
                .as_ref()
                .filter(|(s, g, k)| *s == store && *g == generation && k.access_key_id == id)
                .map(|(_, _, k)| k.clone())
        });
        if hit.is_some() {
            return hit;
        }
        let key = self.get(id)?;
        RECENT_KEY.set(Some((store, generation, key.clone())));
        Some(key)
    }

    /// Every credential, by access key id.
    pub fn list(&self) -> Vec<Arc<Key>> {
        let mut keys: Vec<Arc<Key>> = self
            .cache
            .read()
            .map(|c| c.values().cloned().collect())
            .unwrap_or_default();
        keys.sort_by(|a, b| a.access_key_id.cmp(&b.access_key_id));
        keys
    }

    /// Stores a credential (durably, before it is usable).
    pub fn put(&self, key: Key) -> Result<Arc<Key>, StoreError> {
        let value = serde_json::to_vec(&key).map_err(|e| StoreError(e.to_string()))?;
        self.engine
            .system_put(
                format!("{KEY_PREFIX}{}", key.access_key_id).as_bytes(),
                &value,
            )
            .map_err(|e| StoreError(e.to_string()))?;
        let key = Arc::new(key);
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(key.access_key_id.clone(), key.clone());
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(key)
    }

    /// Generates and stores a new credential.
    /// With `session_token`, requests must also carry the generated token
    /// (`X-Amz-Security-Token`), as with AWS's temporary credentials.
    pub fn create(
        &self,
        user: &str,
        admin: bool,
        session_token: bool,
    ) -> Result<Arc<Key>, StoreError> {
        let token = if session_token {
            Some(base64::engine::general_purpose::STANDARD.encode(random(TOKEN_RANDOM_BYTES)?))
        } else {
            None
        };
        let key = Key {
            access_key_id: format!("EDDY{}", base32(&random(KEY_ID_RANDOM_BYTES)?)),
            secret_access_key: base64::engine::general_purpose::STANDARD
                .encode(random(SECRET_RANDOM_BYTES)?),
            session_token: token,
            user: user.to_owned(),
            admin,
            created_ms: now_ms(),
        };
        self.put(key)
    }

    /// Deletes a credential; false if there was none.
    pub fn delete(&self, id: &str) -> Result<bool, StoreError> {
        if self.get(id).is_none() {
            return Ok(false);
        }
        self.engine
            .system_delete(format!("{KEY_PREFIX}{id}").as_bytes())
            .map_err(|e| StoreError(e.to_string()))?;
        if let Ok(mut cache) = self.cache.write() {
            cache.remove(id);
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(true)
    }

    /// Makes sure an administrator can sign in: the credential of `EDDY_ROOT_*` when
    /// given (stored, replacing a root key of that id), else, when no administrator
    /// key exists yet, a generated one, written to `<data_dir>/root-credentials` and
    /// returned so that the caller prints it once.
    pub fn bootstrap_root(
        &self,
        from_env: Option<(String, String)>,
        data_dir: Option<&Path>,
    ) -> Result<Option<Generated>, StoreError> {
        if let Some((id, secret)) = from_env {
            let current = self.get(&id);
            if current
                .as_ref()
                .is_none_or(|k| k.secret_access_key != secret || !k.admin)
            {
                self.put(Key {
                    access_key_id: id,
                    secret_access_key: secret,
                    session_token: None,
                    user: ROOT_USER.to_owned(),
                    admin: true,
                    created_ms: now_ms(),
                })?;
            }
            return Ok(None);
        }
        if self.list().iter().any(|k| k.admin) {
            return Ok(None);
        }
        let key = self.create(ROOT_USER, true, false)?;
        let file = match data_dir {
            Some(dir) => Some(write_root_file(dir, &key)?),
            None => None,
        };
        Ok(Some((key, file)))
    }
}

/// Writes the root credential in the AWS shared-credentials format, owner-only.
fn write_root_file(dir: &Path, key: &Key) -> Result<std::path::PathBuf, StoreError> {
    use std::io::Write;
    let path = dir.join(ROOT_FILE);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&path)
        .map_err(|e| StoreError(format!("writing {}: {e}", path.display())))?;
    write!(
        file,
        "[eddy-root]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        key.access_key_id, key.secret_access_key
    )
    .map_err(|e| StoreError(format!("writing {}: {e}", path.display())))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_threads_recent_key_is_never_stale() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(eddy_engine::EngineConfig::new(dir.path())).unwrap();
        let keys = Keys::open(&engine).unwrap();
        let key = keys.create("alice", false, false).unwrap();
        let id = key.access_key_id.clone();
        assert_eq!(
            keys.get_recent(&id).unwrap().secret_access_key,
            key.secret_access_key
        );
        assert!(
            keys.get_recent(&id).is_some(),
            "found again from the thread's copy"
        );
        // A replaced secret is seen at once, and so is a deleted key.
        let mut replaced = (*key).clone();
        replaced.secret_access_key = "new".to_owned();
        keys.put(replaced).unwrap();
        assert_eq!(keys.get_recent(&id).unwrap().secret_access_key, "new");
        keys.delete(&id).unwrap();
        assert!(keys.get_recent(&id).is_none());
        engine.shutdown();
    }

    #[test]
    fn base32_is_rfc_4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(&[0u8; 10]).len(), 16);
    }
}
