//! Outgoing e-mail through the SMTP server named by `eddy serve --smtp-url`, behind the
//! functions' `email` capability, with durable idempotency keys.
//!
//! Must not know about streams or triggers: functions reach it through [`MailApi`].

use eddy_engine::Engine;
use eddy_triggers::{MailApi, MailError, MailMessage};

/// Sends mail through one SMTP server.
#[derive(Debug)]
pub struct Mailer {}

impl Mailer {
    /// A mailer for `smtp_url` (`smtp://host:port`), remembering sent idempotency keys in
    /// `engine`'s system keyspace.
    pub fn new(smtp_url: &str, engine: Engine) -> Result<Self, String> {
        let _ = (smtp_url, engine);
        Ok(Self {})
    }
}

impl MailApi for Mailer {
    fn send(&self, _function: &str, _message: MailMessage) -> Result<String, MailError> {
        Err(MailError::Denied("e-mail is not built yet".to_owned()))
    }
}
