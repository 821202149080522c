//! The table capability's contract: what the executor hands the host for each
//! DynamoDB call a function makes ([`TableCall`], with its [`CallContext`] and the
//! caller's [`TableGrant`]), and what comes back ([`TableCallError`]).
//!
//! Owns these types. Must not know how the host parses or runs a request.

use std::collections::BTreeSet;

/// What an invocation carries from its cause to every call the function makes, passed
/// explicitly (never on the thread): today the trigger hop count, so that a function's
/// own writes are marked one hop further than the records that invoked it and the
/// recursive-loop guard can stop a function that keeps re-triggering itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallContext {
    /// How many trigger invocations led to this one (0: a client, a schedule, a test).
    pub origin_hops: u8,
}

/// One DynamoDB call of a function. The operation name and size are checked; the host
/// parses the request once and must ask `grant` about the tables it names before it
/// runs anything.
#[derive(Debug, Clone, Copy)]
pub struct TableCall<'a> {
    /// The operation, e.g. `PutItem`.
    pub operation: &'a str,
    /// The DynamoDB JSON 1.0 request body.
    pub request_json: &'a str,
    /// Where the invocation making the call came from.
    pub context: CallContext,
    /// The calling function's table grant.
    pub grant: TableGrant<'a>,
}

/// A DynamoDB call's failure as the function sees it: DynamoDB's error code (the
/// `__type` without its prefix, e.g. `ConditionalCheckFailedException`) and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct TableCallError {
    pub code: String,
    pub message: String,
}

impl TableCallError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// The host's table engine, as the DynamoDB capability sees it: one DynamoDB operation
/// in, its JSON response or its error out. The implementation parses the request once
/// and checks [`TableCall::grant`] before it runs anything.
pub trait TableApi: Send + Sync {
    /// Runs one call; its writes carry `call.context`'s hops.
    fn call(&self, call: TableCall<'_>) -> Result<String, TableCallError>;
}

/// A function's table grant, as the host sees it in a [`TableCall`](super::TableCall):
/// the host parses the request once, lists the tables it names (`TableName`, the keys
/// of `RequestItems`, every `TransactItems[].<Action>.TableName`; a table ARN counts as
/// its table) and asks `TableGrant::allow` (in `grant.rs`, which owns the policy) before anything runs.
#[derive(Debug, Clone, Copy)]
pub struct TableGrant<'a> {
    pub(crate) function: &'a str,
    pub(crate) granted: &'a BTreeSet<String>,
}

impl<'a> TableGrant<'a> {
    /// The function the grant is of.
    pub fn function(&self) -> &'a str {
        self.function
    }

    /// The tables granted: the host makes them the function's role policy.
    pub fn tables(&self) -> impl Iterator<Item = &'a str> {
        self.granted.iter().map(String::as_str)
    }
}
