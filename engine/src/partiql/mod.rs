//! PartiQL for DynamoDB: the statements of `ExecuteStatement`,
//! `BatchExecuteStatement` and `ExecuteTransaction`, parsed (`lexer.rs`, `parser.rs`
//! into `ast.rs`) and lowered (`lower.rs`, writing values and expressions with
//! `print.rs`) onto the requests of the JSON API, which the engine then runs as it
//! runs any other request.
//!
//! Owns the language and its DynamoDB error messages. Must not know the wire JSON,
//! paging tokens or how the lowered requests are run.

pub mod ast;
mod lexer;
mod lower;
mod parser;
mod print;
#[cfg(test)]
mod tests;

pub use self::lower::{Lowered, lower, lower_get, names_full_key};
pub use self::parser::{parameter_count, parse, table_name_span};

use crate::error::Error;

/// DynamoDB's message for a statement the grammar refuses.
pub(crate) fn malformed(detail: &str) -> Error {
    Error::validation(format!(
        "Statement wasn't well formed, can't be processed: {detail}"
    ))
}

pub(crate) fn validation(message: impl Into<String>) -> Error {
    Error::validation(message)
}

/// An UPDATE or DELETE whose WHERE does not name the whole primary key.
pub(crate) fn incomplete_key() -> Error {
    Error::validation("Where clause does not contain a mandatory equality on all key attributes")
}
