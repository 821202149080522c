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
    /// A TransactWriteItems action failed, so none applied
    /// (`TransactionCanceledException`). One reason per action, in request order.
    #[error("Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", codes(.reasons))]
    TransactionCanceled { reasons: Vec<CancellationReason> },
    /// A ClientRequestToken was reused within its idempotency window with a different
    /// request (`IdempotentParameterMismatchException`).
    #[error("{0}")]
    IdempotentParameterMismatch(String),
    /// A ClientRequestToken's first request has not finished yet
    /// (`TransactionInProgressException`).
    #[error("{0}")]
    TransactionInProgress(String),
    /// Storage failed, or refuses writes since a fatal fault (see `health.rs`). This is
    /// Eddy's fault or the disk's, never the client's.
    #[error("storage error: {0}")]
    Storage(String),
    /// A bug was caught at a job boundary (a panic in one request's work): that request
    /// fails with DynamoDB's retryable `InternalServerError` and nothing of it is written.
    #[error("internal error: {0}")]
    Internal(String),
    /// Writes cannot be taken for now, for a reason that passes by itself (the disk is
    /// below its free-space reserve): a retryable `ServiceUnavailableException`; reads go on.
    #[error("{0}")]
    Unavailable(String),
    /// The engine is shutting down and takes no more writes.
    #[error("the engine is shutting down")]
    ShuttingDown,
    /// The table, an index or one partition key has no throughput left for now
    /// (`ProvisionedThroughputExceededException` or `ThrottlingException`, both
    /// retryable); see `capacity/`.
    #[error("{}", .0.message)]
    Throttled(Throttle),
}

/// Why a request was throttled, as DynamoDB reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Throttle {
    pub exception: ThrottleException,
    /// DynamoDB's message for this kind of throttling.
    pub message: &'static str,
    /// `ThrottlingReasons[].reason`: resource, operation and limit, as
    /// `TableWriteProvisionedThroughputExceeded`.
    pub reason: String,
    /// `ThrottlingReasons[].resource`: the ARN of the table or index.
    pub resource: String,
}

/// The exception a throttled request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleException {
    /// Provisioned capacity (of the table, an index or a hot key) ran out.
    ProvisionedThroughputExceeded,
    /// An on-demand table's maximum, or a hot key of an on-demand table.
    Throttling,
}

/// Why one action of a cancelled transaction failed, or that it did not.
#[derive(Debug, Clone, PartialEq)]
pub enum CancellationReason {
    /// The action itself was fine; another one cancelled the transaction.
    None,
    /// The action's condition was false. Carries the item as it was when
    /// `ReturnValuesOnConditionCheckFailure=ALL_OLD` asked for it.
    ConditionalCheckFailed { item: Option<crate::Item> },
    /// Applying the action to the current item broke a rule (an update on an
    /// attribute of the wrong type, an item grown past its size limit).
    ValidationError(String),
    /// The action's table, index or key had no throughput left.
    Throttled(Throttle),
}

impl CancellationReason {
    /// DynamoDB's `Code` of the reason.
    pub fn code(&self) -> &'static str {
        match self {
            CancellationReason::None => "None",
            CancellationReason::ConditionalCheckFailed { .. } => "ConditionalCheckFailed",
            CancellationReason::ValidationError(_) => "ValidationError",
            // The codes of DynamoDB's API reference (TransactionCanceledException).
            CancellationReason::Throttled(t) => match t.exception {
                ThrottleException::ProvisionedThroughputExceeded => "ProvisionedThroughputExceeded",
                ThrottleException::Throttling => "ThrottlingError",
            },
        }
    }

    /// DynamoDB's `Message` of the reason; `None` carries none.
    pub fn message(&self) -> Option<&str> {
        match self {
            CancellationReason::None => None,
            CancellationReason::ConditionalCheckFailed { .. } => {
                Some("The conditional request failed")
            }
            CancellationReason::ValidationError(m) => Some(m),
            CancellationReason::Throttled(t) => Some(t.message),
        }
    }
}

fn codes(reasons: &[CancellationReason]) -> String {
    reasons
        .iter()
        .map(CancellationReason::code)
        .collect::<Vec<_>>()
        .join(", ")
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

/// The text of a caught panic's payload (what `panic!` was given), for the error and the
/// log line of a job that panicked. Shared by every crate that contains panics to a job.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// Runs one unit of work, turning a panic into that unit's [`Error::Internal`]. The
/// panic hook has already printed the panic and where it happened; this adds which
/// unit paid for it.
pub(crate) fn contain<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(panic) => {
            let message = panic_text(&*panic);
            eprintln!(
                "eddy: {what} panicked ({message}); it fails alone and nothing of it is written"
            );
            Err(Error::Internal(format!(
                "{what} failed on a bug ({message}); nothing of it was written"
            )))
        }
    }
}
