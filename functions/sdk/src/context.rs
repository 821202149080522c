//! The handler's context and error type.
//!
//! Owns: [`Context`] (access to the host capabilities for one invocation) and [`Error`]
//! (a function error, like an exception thrown from a Lambda handler). Must not know the
//! bindings' details beyond the capability wrappers.

use std::fmt;

use crate::DynamoDb;

/// What a handler can reach during one invocation.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Context {}

impl Context {
    pub(crate) fn new() -> Self {
        Self {}
    }

    /// The DynamoDB API of this Eddy, limited to the tables granted to the deployment.
    pub fn dynamodb(&self) -> DynamoDb {
        DynamoDb::new()
    }

    /// A configuration value from the deployment's environment.
    pub fn config(&self, key: &str) -> Option<String> {
        crate::config::get(key)
    }
}

/// A function error: the whole invocation failed (Lambda's "function error"). Any error
/// type converts into it with `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    /// An error with this message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
        }
    }

    /// The message reported to the host.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: std::error::Error> From<E> for Error {
    fn from(e: E) -> Self {
        Self::msg(e)
    }
}
