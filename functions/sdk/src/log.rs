//! Structured logging through the host's `logging` capability: each line has a level, a
//! message and optional named fields, and ends up in the invocation's logs and the
//! function's log ring (`GET /v1/functions/{name}/logs`).
//!
//! Must not know how the host stores or bounds logs (it truncates and drops; see the WIT).

use crate::bindings::eddy::function::logging as host;

pub use host::Level;

/// Logs `message` at `level` with named fields, e.g. `&[("table", "users")]`.
pub fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<host::Field> = fields
        .iter()
        .map(|(name, value)| host::Field {
            name: (*name).to_owned(),
            value: (*value).to_owned(),
        })
        .collect();
    host::log(level, message, &fields);
}

/// Logs at trace level.
pub fn trace(message: &str) {
    log(Level::Trace, message, &[]);
}

/// Logs at debug level.
pub fn debug(message: &str) {
    log(Level::Debug, message, &[]);
}

/// Logs at info level.
pub fn info(message: &str) {
    log(Level::Info, message, &[]);
}

/// Logs at warn level.
pub fn warn(message: &str) {
    log(Level::Warn, message, &[]);
}

/// Logs at error level.
pub fn error(message: &str) {
    log(Level::Error, message, &[]);
}
