//! Server-wide services that functions reach through capabilities: full-text search
//! indexes and outgoing e-mail. The executor sees them as traits that the host
//! implements (the host owns tantivy and the SMTP client) and checks each deployment's
//! grant before calling them.
//!
//! Must not know how indexes are stored or how mail is delivered.

use std::sync::Arc;

/// A failed search call, as the `search` import reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// The index is not granted to the deployment (or there is no search service).
    #[error("denied: {0}")]
    Denied(String),
    /// The request is malformed (not a JSON object, a bad query, an empty id, …).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The index could not be read or written.
    #[error("internal: {0}")]
    Internal(String),
}

/// One ranked search result.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub id: String,
    pub score: f32,
    /// The document as last upserted (a JSON object).
    pub document_json: String,
}

/// Full-text indexes, by name. Every change is idempotent per `(index, id)` so that a
/// replayed stream record does not change the outcome.
///
/// Changes are staged by [`SearchApi::upsert`] and [`SearchApi::delete`] and made durable
/// and visible by [`SearchApi::commit`], which the executor calls once at the end of every
/// invocation that changed an index and returned successfully (a failed commit fails the
/// invocation, so its batch is retried). One commit per batch, not per document, keeps
/// indexing fast. Changes staged by a failed invocation may be committed by a later
/// commit; that is harmless because the failed batch is delivered again, in order.
pub trait SearchApi: Send + Sync {
    /// Stages `document_json` (a JSON object) under `id`, replacing any earlier document
    /// with that id.
    fn upsert(&self, index: &str, id: &str, document_json: &str) -> Result<(), SearchError>;
    /// Stages the removal of document `id` (no error when absent).
    fn delete(&self, index: &str, id: &str) -> Result<(), SearchError>;
    /// Makes the staged changes of `indexes` durable and visible to queries.
    fn commit(&self, indexes: &[String]) -> Result<(), SearchError>;
    /// The best `limit` documents for `query`, best first.
    fn query(&self, index: &str, query: &str, limit: usize) -> Result<Vec<SearchHit>, SearchError>;
}

/// One e-mail to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailMessage {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body_text: String,
    /// Deduplication key: a second message with the same key (per function) is not sent.
    pub idempotency_key: Option<String>,
}

/// A failed send, as the `email` import reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// Not granted, or no SMTP server configured.
    #[error("denied: {0}")]
    Denied(String),
    /// The message is malformed.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The SMTP server refused or could not be reached; a retry may succeed.
    #[error("transient: {0}")]
    Transient(String),
}

/// Outgoing e-mail.
pub trait MailApi: Send + Sync {
    /// Sends `message` on behalf of `function`; returns its `Message-ID`. With an
    /// idempotency key already sent for `function`, returns the first message's id
    /// without sending.
    fn send(&self, function: &str, message: MailMessage) -> Result<String, MailError>;
}

/// The services the host provides to all functions; `None` means not available on this
/// server (a call is then denied).
#[derive(Clone, Default)]
pub struct Services {
    pub search: Option<Arc<dyn SearchApi>>,
    pub mail: Option<Arc<dyn MailApi>>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("search", &self.search.is_some())
            .field("mail", &self.mail.is_some())
            .finish()
    }
}
