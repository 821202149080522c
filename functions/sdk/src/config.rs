//! Configuration values: the deployment's `environment` map (Lambda's environment
//! variables), read through the host's `config` capability.
//!
//! Must not know where the host stores them.

use crate::bindings::eddy::function::config as host;

/// The value of `key` in the deployment's environment, if set.
pub fn get(key: &str) -> Option<String> {
    host::get(key)
}

/// The value of `key`, or `default` when it is not set.
pub fn get_or(key: &str, default: &str) -> String {
    get(key).unwrap_or_else(|| default.to_owned())
}
