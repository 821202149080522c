//! The one error type of the trigger runtime: what a change to a stream trigger or a
//! schedule (create, update, delete) or their start can fail with.
//!
//! Owns the error kinds and their messages, and the record source's error
//! ([`SourceError`], which a `StreamSource` returns). Must not know how the host reports them
//! (HTTP statuses and codes are the edge's).

/// A trigger or schedule request that cannot be carried out. `Invalid` names the field;
/// storage failures keep the engine's or the decoder's error as their source.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    /// A definition of that name exists already.
    #[error("{0}")]
    Conflict(String),
    /// A quota (`TRIGGERS_MAX`, `SCHEDULES_MAX`) would be exceeded.
    #[error("{0}")]
    LimitExceeded(String),
    /// The engine could not read or write a definition or a checkpoint.
    #[error("{0}")]
    Storage(#[source] eddy_engine::Error),
    /// The stream could not be read (finding where a new mapping starts).
    #[error("{0}")]
    Source(#[from] SourceError),
    /// A stored definition cannot be read back (`kind` says whose).
    #[error("corrupt {kind}: {source}")]
    Corrupt {
        kind: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// A definition cannot be encoded for storage.
    #[error("cannot encode the {kind}: {source}")]
    Encode {
        kind: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl TriggerError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> TriggerError {
        TriggerError::Invalid {
            field,
            message: message.into(),
        }
    }
}

impl From<eddy_engine::Error> for TriggerError {
    fn from(e: eddy_engine::Error) -> TriggerError {
        TriggerError::Storage(e)
    }
}

/// Why records could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Retention removed records at the position before they were read.
    #[error("records expired before they were read")]
    Trimmed,
    /// The source cannot be read now; a later read may work.
    #[error("{0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}
