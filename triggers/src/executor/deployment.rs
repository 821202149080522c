//! A deployment: the configuration a function is deployed with (limits and granted
//! capabilities), its validation and the rules for names.
//!
//! Owns what a deployment may ask for and what an invocation knows of its deployment.
//! Must not know where deployments are stored nor how they are invoked.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::DeployError;
use super::host_grant::{HostGrant, HostGrantError};

/// Function names are 1 to this many characters of `[A-Za-z0-9_-]` (Lambda's rule).
pub const FUNCTION_NAME_CHARS_MAX: usize = 64;
/// The smallest memory limit a deployment may ask for.
pub const MEMORY_MB_MIN: u32 = 1;
/// The default memory limit (Lambda's default).
pub const MEMORY_MB_DEFAULT: u32 = 128;
/// The shortest timeout.
pub const TIMEOUT_MS_MIN: u64 = 1;
/// The default timeout (Lambda's default).
pub const TIMEOUT_MS_DEFAULT: u64 = 3_000;
/// The longest timeout (Lambda's 15 minutes).
pub const TIMEOUT_MS_MAX: u64 = 900_000;
/// Total size of the environment's keys and values (Lambda's 4 KB).
pub const ENVIRONMENT_BYTES_MAX: usize = 4 * 1024;
/// Tables one deployment may be granted.
pub const GRANTED_TABLES_MAX: usize = 100;
/// Hosts one deployment may be granted for outbound HTTP.
pub const GRANTED_HOSTS_MAX: usize = 100;
/// Search indexes one deployment may be granted.
pub const GRANTED_INDEXES_MAX: usize = 100;
/// Characters in a search index name.
pub const INDEX_NAME_CHARS_MAX: usize = 64;
/// A deployment's configuration: limits and granted capabilities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FunctionConfig {
    /// Memory limit of one invocation (the total of its linear memories), MiB.
    pub memory_mb: u32,
    /// Deadline of one invocation, milliseconds.
    pub timeout_ms: u64,
    /// Configuration values the function reads with `config.get` (not WASI environment).
    pub environment: BTreeMap<String, String>,
    /// Tables the function may reach through the DynamoDB capability.
    pub tables: BTreeSet<String>,
    /// Hosts the function may reach over outbound HTTP (`wasi:http`): `name` allows only
    /// the scheme's default port of that host (80 for `http`, 443 for `https`),
    /// `name:port` exactly that port.
    pub hosts: BTreeSet<String>,
    /// Whether `hosts` may hold wildcards (`*` for every host, `*.domain` for its
    /// subdomains). Refused at deploy time unless the server permits it
    /// (`eddy serve --permit-any-host-grants`): a wildcard reaches far more than one
    /// exact grant, so it takes an explicit opt-in by both the deployer and the operator.
    pub allow_any_host: bool,
    /// Full-text search indexes the function may read and write (the `search` import).
    pub indexes: BTreeSet<String>,
    /// Whether the function may send e-mail (the `email` import) through the server's
    /// SMTP server.
    pub email: bool,
}

impl Default for FunctionConfig {
    fn default() -> Self {
        Self {
            memory_mb: MEMORY_MB_DEFAULT,
            timeout_ms: TIMEOUT_MS_DEFAULT,
            environment: BTreeMap::new(),
            tables: BTreeSet::new(),
            hosts: BTreeSet::new(),
            allow_any_host: false,
            indexes: BTreeSet::new(),
            email: false,
        }
    }
}

impl FunctionConfig {
    /// Checks every field against its limit; the error names the field.
    /// `any_host_permitted` is whether the server lets deployments opt into wildcard
    /// host grants.
    pub fn validate(
        &self,
        memory_mb_max: u32,
        any_host_permitted: bool,
    ) -> Result<(), DeployError> {
        let invalid = |field: &'static str, message: String| {
            Err(DeployError::InvalidConfig { field, message })
        };
        if !(MEMORY_MB_MIN..=memory_mb_max).contains(&self.memory_mb) {
            return invalid(
                "memory_mb",
                format!(
                    "{} is outside {MEMORY_MB_MIN}..={memory_mb_max}",
                    self.memory_mb
                ),
            );
        }
        if !(TIMEOUT_MS_MIN..=TIMEOUT_MS_MAX).contains(&self.timeout_ms) {
            return invalid(
                "timeout_ms",
                format!(
                    "{} is outside {TIMEOUT_MS_MIN}..={TIMEOUT_MS_MAX}",
                    self.timeout_ms
                ),
            );
        }
        let environment_bytes: usize = self
            .environment
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        if environment_bytes > ENVIRONMENT_BYTES_MAX {
            return invalid(
                "environment",
                format!("{environment_bytes} bytes is over the limit of {ENVIRONMENT_BYTES_MAX}"),
            );
        }
        if self.environment.keys().any(String::is_empty) {
            return invalid("environment", "a key is empty".to_owned());
        }
        if self.tables.len() > GRANTED_TABLES_MAX {
            return invalid(
                "tables",
                format!(
                    "{} tables is over the limit of {GRANTED_TABLES_MAX}",
                    self.tables.len()
                ),
            );
        }
        if let Some(table) = self.tables.iter().find(|t| !is_table_name(t)) {
            return invalid(
                "tables",
                format!("{table:?} is not a table name (3-255 characters of [A-Za-z0-9_.-])"),
            );
        }
        if self.hosts.len() > GRANTED_HOSTS_MAX {
            return invalid(
                "hosts",
                format!(
                    "{} hosts is over the limit of {GRANTED_HOSTS_MAX}",
                    self.hosts.len()
                ),
            );
        }
        if self.allow_any_host && !any_host_permitted {
            return invalid(
                "allow_any_host",
                "this server does not permit wildcard host grants (start it with \
                 --permit-any-host-grants to allow them)"
                    .to_owned(),
            );
        }
        for host in &self.hosts {
            if let Err(HostGrantError::Malformed(message) | HostGrantError::Wildcard(message)) =
                HostGrant::parse(host, self.allow_any_host)
            {
                return invalid("hosts", message);
            }
        }
        if self.indexes.len() > GRANTED_INDEXES_MAX {
            return invalid(
                "indexes",
                format!(
                    "{} indexes is over the limit of {GRANTED_INDEXES_MAX}",
                    self.indexes.len()
                ),
            );
        }
        if let Some(index) = self.indexes.iter().find(|i| !is_index_name(i)) {
            return invalid(
                "indexes",
                format!(
                    "{index:?} is not an index name (1-{INDEX_NAME_CHARS_MAX} characters of \
                     [A-Za-z0-9_-])"
                ),
            );
        }
        Ok(())
    }
}

/// Whether `name` is a valid search index name: it names a directory on the host, so
/// only 1 to [`INDEX_NAME_CHARS_MAX`] characters of `[A-Za-z0-9_-]`.
pub fn is_index_name(name: &str) -> bool {
    (1..=INDEX_NAME_CHARS_MAX).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

fn is_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

pub(crate) fn validate_name(name: &str) -> Result<(), DeployError> {
    let ok = !name.is_empty()
        && name.len() <= FUNCTION_NAME_CHARS_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(DeployError::InvalidName {
            name: name.to_owned(),
        })
    }
}

/// What an invocation needs to know about its deployment (shared with the store data).
#[derive(Debug)]
pub(crate) struct Deployment {
    pub(crate) name: String,
    pub(crate) version: u32,
    pub(crate) config: FunctionConfig,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation_names_the_field() {
        let cases: &[(&str, FunctionConfig)] = &[
            (
                "memory_mb",
                FunctionConfig {
                    memory_mb: 0,
                    ..Default::default()
                },
            ),
            (
                "memory_mb",
                FunctionConfig {
                    memory_mb: 513,
                    ..Default::default()
                },
            ),
            (
                "timeout_ms",
                FunctionConfig {
                    timeout_ms: 0,
                    ..Default::default()
                },
            ),
            (
                "timeout_ms",
                FunctionConfig {
                    timeout_ms: TIMEOUT_MS_MAX + 1,
                    ..Default::default()
                },
            ),
            (
                "environment",
                FunctionConfig {
                    environment: [("k".to_owned(), "v".repeat(ENVIRONMENT_BYTES_MAX))].into(),
                    ..Default::default()
                },
            ),
            (
                "tables",
                FunctionConfig {
                    tables: ["a/b".to_owned()].into(),
                    ..Default::default()
                },
            ),
            (
                "hosts",
                FunctionConfig {
                    hosts: [String::new()].into(),
                    ..Default::default()
                },
            ),
        ];
        for (field, config) in cases {
            match config.validate(512, false) {
                Err(DeployError::InvalidConfig { field: got, .. }) => assert_eq!(got, *field),
                other => panic!("{field}: {other:?}"),
            }
        }
        FunctionConfig::default()
            .validate(512, false)
            .expect("the default is valid");
    }

    #[test]
    fn wildcard_hosts_need_allow_any_host_and_the_servers_permission() {
        let wildcard = FunctionConfig {
            hosts: ["*".to_owned(), "*.example.com:8443".to_owned()].into(),
            ..Default::default()
        };
        let field = |config: &FunctionConfig, permitted| match config.validate(512, permitted) {
            Err(DeployError::InvalidConfig { field, message }) => Some((field, message)),
            Ok(()) => None,
            Err(other) => panic!("{other:?}"),
        };
        let (name, message) = field(&wildcard, true).expect("refused without the opt-in");
        assert_eq!(name, "hosts");
        assert!(message.contains("wildcard"), "{message}");
        let opted_in = FunctionConfig {
            allow_any_host: true,
            ..wildcard
        };
        let (name, message) = field(&opted_in, false).expect("refused by the server");
        assert_eq!(name, "allow_any_host");
        assert!(message.contains("--permit-any-host-grants"), "{message}");
        assert_eq!(field(&opted_in, true), None);
    }

    #[test]
    fn names_follow_lambda_rules() {
        for good in ["a", "my-fn_2", &"x".repeat(FUNCTION_NAME_CHARS_MAX)] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".hidden",
            "a/b",
            "..",
            "spa ce",
            &"x".repeat(FUNCTION_NAME_CHARS_MAX + 1),
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn config_json_rejects_unknown_fields() {
        let err = serde_json::from_str::<FunctionConfig>(r#"{"memory":1}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let config: FunctionConfig = serde_json::from_str(r#"{"timeout_ms":5}"#).unwrap();
        assert_eq!(config.memory_mb, MEMORY_MB_DEFAULT);
    }
}
