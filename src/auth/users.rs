//! The users and their policies: each user has a unique id (`AIDA…`, the value of
//! `aws:userid`) and named inline policies, as IAM's `PutUserPolicy` attaches them.
//! Kept durably in the engine's `system` keyspace under `auth/user/<name>` (JSON, the
//! documents as their text), and in memory parsed, for the per-request evaluation; the
//! server is their only writer.
//!
//! Owns the store and the built-in policy templates. Must not know HTTP, keys or how a
//! request is turned into actions.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use eddy_engine::Engine;
use serde::{Deserialize, Serialize};

use super::keys::StoreError;
use super::policy::{Policy, PolicyError};

/// The system keyspace prefix of users.
const USER_PREFIX: &str = "auth/user/";
/// Random bytes of a generated user id (after `AIDA`, 16 base32 characters).
const USER_ID_RANDOM_BYTES: usize = 10;
/// The most inline policies one user may hold (IAM's default quota is 10 managed
/// policies per user; inline ones are bounded by size there).
pub const USER_POLICIES_MAX: usize = 10;
/// Longest user or policy name, in characters (IAM's 64 and 128).
pub const USER_NAME_CHARS_MAX: usize = 64;
pub const POLICY_NAME_CHARS_MAX: usize = 128;

/// A user as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    user: String,
    user_id: String,
    #[serde(default)]
    policies: BTreeMap<String, String>,
    created_ms: u64,
}

/// A user with its policies parsed.
#[derive(Debug)]
pub struct User {
    pub name: String,
    pub user_id: String,
    pub created_ms: u64,
    /// Inline policies by name: the document as written, and parsed.
    pub policies: BTreeMap<String, (String, Policy)>,
}

impl User {
    fn from_stored(s: Stored) -> User {
        let policies = s
            .policies
            .into_iter()
            .filter_map(|(name, text)| {
                // A stored document was checked when it was put.
                Policy::parse(&text).ok().map(|p| (name, (text, p)))
            })
            .collect();
        User {
            name: s.user,
            user_id: s.user_id,
            created_ms: s.created_ms,
            policies,
        }
    }

    fn to_stored(&self) -> Stored {
        Stored {
            user: self.name.clone(),
            user_id: self.user_id.clone(),
            policies: self
                .policies
                .iter()
                .map(|(n, (t, _))| (n.clone(), t.clone()))
                .collect(),
            created_ms: self.created_ms,
        }
    }
}

/// Why a user change was refused.
#[derive(Debug)]
pub enum UserError {
    Store(StoreError),
    NoSuchUser(String),
    Malformed(PolicyError),
    TooManyPolicies(String),
}

impl From<StoreError> for UserError {
    fn from(e: StoreError) -> Self {
        UserError::Store(e)
    }
}

/// The users, durable and cached.
#[derive(Debug)]
pub struct Users {
    engine: Engine,
    cache: RwLock<HashMap<String, Arc<User>>>,
}

impl Users {
    /// Loads every stored user.
    pub fn open(engine: &Engine) -> Result<Users, StoreError> {
        let mut cache = HashMap::new();
        for (_, value) in engine
            .system_scan(USER_PREFIX.as_bytes())
            .map_err(|e| StoreError::new(e.to_string()))?
        {
            if let Ok(stored) = serde_json::from_slice::<Stored>(&value) {
                cache.insert(stored.user.clone(), Arc::new(User::from_stored(stored)));
            }
        }
        Ok(Users {
            engine: engine.clone(),
            cache: RwLock::new(cache),
        })
    }

    /// The engine's configuration: the region and account of the ARNs policies name.
    pub fn engine_config(&self) -> &eddy_engine::EngineConfig {
        self.engine.config()
    }

    /// A user by name.
    pub fn get(&self, name: &str) -> Option<Arc<User>> {
        self.cache.read().ok()?.get(name).cloned()
    }

    /// Every user, by name.
    pub fn list(&self) -> Vec<Arc<User>> {
        let mut users: Vec<Arc<User>> = self
            .cache
            .read()
            .map(|c| c.values().cloned().collect())
            .unwrap_or_default();
        users.sort_by(|a, b| a.name.cmp(&b.name));
        users
    }

    fn store(&self, user: User) -> Result<Arc<User>, StoreError> {
        let value =
            serde_json::to_vec(&user.to_stored()).map_err(|e| StoreError::new(e.to_string()))?;
        self.engine
            .system_put(format!("{USER_PREFIX}{}", user.name).as_bytes(), &value)
            .map_err(|e| StoreError::new(e.to_string()))?;
        let user = Arc::new(user);
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(user.name.clone(), user.clone());
        }
        Ok(user)
    }

    /// The user of that name, created (with no policy, so allowed nothing) if there is
    /// none yet.
    pub fn ensure(&self, name: &str) -> Result<Arc<User>, StoreError> {
        if let Some(user) = self.get(name) {
            return Ok(user);
        }
        let mut id = vec![0u8; USER_ID_RANDOM_BYTES];
        getrandom::fill(&mut id).map_err(|e| StoreError::new(format!("no randomness: {e}")))?;
        self.store(User {
            name: name.to_owned(),
            user_id: format!("AIDA{}", super::keys::base32(&id)),
            created_ms: super::keys::now_ms(),
            policies: BTreeMap::new(),
        })
    }

    /// Attaches (or replaces) an inline policy, checked before it is stored.
    pub fn put_policy(
        &self,
        user: &str,
        name: &str,
        document: &str,
    ) -> Result<Arc<User>, UserError> {
        let policy = Policy::parse(document).map_err(UserError::Malformed)?;
        let current = self
            .get(user)
            .ok_or_else(|| UserError::NoSuchUser(user.to_owned()))?;
        let mut policies = current.policies.clone();
        policies.insert(name.to_owned(), (document.to_owned(), policy));
        if policies.len() > USER_POLICIES_MAX {
            return Err(UserError::TooManyPolicies(format!(
                "user {user} already has {USER_POLICIES_MAX} policies, the most one user may hold"
            )));
        }
        Ok(self.store(User {
            name: current.name.clone(),
            user_id: current.user_id.clone(),
            created_ms: current.created_ms,
            policies,
        })?)
    }

    /// Detaches an inline policy; false if the user had none of that name.
    pub fn delete_policy(&self, user: &str, name: &str) -> Result<bool, UserError> {
        let current = self
            .get(user)
            .ok_or_else(|| UserError::NoSuchUser(user.to_owned()))?;
        if !current.policies.contains_key(name) {
            return Ok(false);
        }
        let mut policies = current.policies.clone();
        policies.remove(name);
        self.store(User {
            name: current.name.clone(),
            user_id: current.user_id.clone(),
            created_ms: current.created_ms,
            policies,
        })?;
        Ok(true)
    }

    /// Deletes a user and its policies (its keys are the caller's to delete first).
    pub fn delete(&self, name: &str) -> Result<bool, StoreError> {
        if self.get(name).is_none() {
            return Ok(false);
        }
        self.engine
            .system_delete(format!("{USER_PREFIX}{name}").as_bytes())
            .map_err(|e| StoreError::new(e.to_string()))?;
        if let Ok(mut cache) = self.cache.write() {
            cache.remove(name);
        }
        Ok(true)
    }
}

/// The built-in policies, by their AWS managed-policy names: documents a user can be
/// given by name (they are copied in as inline policies, so they can be read and
/// edited like any other).
pub fn managed(name: &str) -> Option<&'static str> {
    match name {
        "AmazonDynamoDBFullAccess" => Some(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"}]}"#,
        ),
        "AmazonDynamoDBReadOnlyAccess" => Some(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:BatchGetItem","dynamodb:ConditionCheckItem","dynamodb:Describe*","dynamodb:GetItem","dynamodb:GetRecords","dynamodb:GetShardIterator","dynamodb:List*","dynamodb:PartiQLSelect","dynamodb:Query","dynamodb:Scan"],"Resource":"*"}]}"#,
        ),
        _ => None,
    }
}

/// The names [`managed`] knows.
pub const MANAGED_POLICIES: &[&str] = &["AmazonDynamoDBFullAccess", "AmazonDynamoDBReadOnlyAccess"];
