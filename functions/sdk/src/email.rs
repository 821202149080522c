//! E-mail through the host's `email` capability (the server's SMTP server, granted per
//! deployment).
//!
//! Must not know how the host delivers mail.

use std::fmt;

use crate::bindings::eddy::function::email as host;

/// A failed send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailError {
    /// Not granted, or the server has no SMTP server configured.
    Denied(String),
    /// The message is malformed (bad address, no recipient, too large).
    Invalid(String),
    /// The SMTP server refused or was unreachable; retrying may succeed.
    Transient(String),
}

impl fmt::Display for EmailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Denied(m) => write!(f, "e-mail denied: {m}"),
            Self::Invalid(m) => write!(f, "invalid e-mail: {m}"),
            Self::Transient(m) => write!(f, "e-mail not sent (transient): {m}"),
        }
    }
}

impl std::error::Error for EmailError {}

/// One message. Build it with [`Email::new`] and the setters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    from: String,
    to: Vec<String>,
    subject: String,
    body_text: String,
    idempotency_key: Option<String>,
}

impl Email {
    /// A plain-text message from `from` to `to`.
    pub fn new(from: &str, to: &str, subject: &str, body_text: &str) -> Self {
        Self {
            from: from.to_owned(),
            to: vec![to.to_owned()],
            subject: subject.to_owned(),
            body_text: body_text.to_owned(),
            idempotency_key: None,
        }
    }

    /// Adds a recipient.
    pub fn also_to(mut self, to: &str) -> Self {
        self.to.push(to.to_owned());
        self
    }

    /// Names the message for deduplication: the host sends at most one message per key
    /// (per function), so a retried or replayed batch does not mail twice. Derive it from
    /// what the message is about (e.g. `welcome/<user id>`), not from the record.
    pub fn idempotency_key(mut self, key: &str) -> Self {
        self.idempotency_key = Some(key.to_owned());
        self
    }

    /// Sends the message; returns its `Message-ID`.
    pub fn send(self) -> Result<String, EmailError> {
        let message = host::Message {
            from: self.from,
            to: self.to,
            subject: self.subject,
            body_text: self.body_text,
            idempotency_key: self.idempotency_key,
        };
        host::send(&message).map_err(|e| match e {
            host::Error::Denied(m) => EmailError::Denied(m),
            host::Error::Invalid(m) => EmailError::Invalid(m),
            host::Error::Transient(m) => EmailError::Transient(m),
        })
    }
}
