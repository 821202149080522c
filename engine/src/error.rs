//! The engine's one error type. Each DynamoDB outcome a client can see is a variant;
//! the HTTP edge maps variants to wire errors (`__type`, status) in one place.

/// What can go wrong in an engine call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is malformed or breaks a DynamoDB rule (`ValidationException`).
    #[error("{0}")]
    Validation(String),
    /// The table (or index, stream, shard) does not exist (`ResourceNotFoundException`).
    #[error("{0}")]
    ResourceNotFound(String),
    /// The table already exists or is busy (`ResourceInUseException`).
    #[error("{0}")]
    ResourceInUse(String),
    /// A `ConditionExpression` evaluated to false. Carries the item as it was when
    /// `ReturnValuesOnConditionCheckFailure=ALL_OLD` asked for it.
    #[error("The conditional request failed")]
    ConditionalCheckFailed { item: Option<crate::Item> },
    /// A DynamoDB limit other than validation was hit (`LimitExceededException`).
    #[error("{0}")]
    LimitExceeded(String),
    /// A stream read asked for records retention already removed
    /// (`TrimmedDataAccessException`).
    #[error("{0}")]
    TrimmedDataAccess(String),
    /// A shard iterator is older than its 15-minute life (`ExpiredIteratorException`).
    #[error("{0}")]
    ExpiredIterator(String),
    /// Storage failed. This is Eddy's fault or the disk's, never the client's.
    #[error("storage error: {0}")]
    Storage(String),
    /// The engine is shutting down and takes no more writes.
    #[error("the engine is shutting down")]
    ShuttingDown,
}

impl Error {
    pub fn validation(message: impl Into<String>) -> Error {
        Error::Validation(message.into())
    }

    pub fn not_found(message: impl Into<String>) -> Error {
        Error::ResourceNotFound(message.into())
    }
}

impl From<fjall::Error> for Error {
    fn from(e: fjall::Error) -> Self {
        Error::Storage(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
