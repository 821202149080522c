//! # welcome-email: one welcome mail per new user
//!
//! Runs on the stream (`NEW_IMAGE` or `NEW_AND_OLD_IMAGES`) of a `users` table whose
//! items have a string `email` and, optionally, a string `name`. For every INSERT it
//! sends one plain-text welcome mail through the host's `email` capability (the SMTP
//! server of `eddy serve --smtp-url`; the deployment needs the `email` grant). MODIFY and
//! REMOVE send nothing.
//!
//! ## Once per user, under at-least-once delivery
//!
//! Every mail carries the idempotency key `welcome/<the item's key>`. The host records a
//! key durably once the SMTP server accepted its message and answers a later send with
//! the same key with the first message's id, without sending. So a batch that is retried
//! (after a transient SMTP failure of a later record, say) or replayed (a second trigger
//! from `TRIM_HORIZON`) does not mail anyone twice.
//!
//! ## Failures
//!
//! - An item without a usable `email`, or a message the host calls invalid (a malformed
//!   address, a name that cannot be a subject): logged and skipped. One bad record must
//!   not wedge the stream.
//! - The SMTP server refused or could not be reached (transient), or the capability is
//!   denied: the invocation fails, so the batch is retried with the trigger's backoff
//!   (already sent mails are not sent again, see above).
//!
//! ## Configuration (the deployment's environment)
//!
//! - `FROM`: the sender (default `Eddy <welcome@eddy.local>`).
//! - `APP_NAME`: what the user is welcomed to (default `Eddy`).
//!
//! This crate knows the shape of a user item; it does not know how the host delivers
//! batches beyond Lambda's contract, nor how mail is delivered.

mod welcome;

use eddy_sdk::email::{Email, EmailError};
use eddy_sdk::log::{self, Level};
use eddy_sdk::{BatchResponse, Context, Error, EventName, StreamEvent, StreamRecord};

/// The sender when `FROM` is not configured.
const FROM_DEFAULT: &str = "Eddy <welcome@eddy.local>";
/// The product name when `APP_NAME` is not configured.
const APP_NAME_DEFAULT: &str = "Eddy";

fn on_users(event: StreamEvent, ctx: &Context) -> Result<BatchResponse, Error> {
    let from = ctx
        .config("FROM")
        .unwrap_or_else(|| FROM_DEFAULT.to_owned());
    let app = ctx
        .config("APP_NAME")
        .unwrap_or_else(|| APP_NAME_DEFAULT.to_owned());
    for record in &event.records {
        welcome(record, &from, &app)?;
    }
    Ok(BatchResponse::success())
}

/// Sends the welcome mail of `record` if it is a new user; `Err` fails the batch.
fn welcome(record: &StreamRecord, from: &str, app: &str) -> Result<(), Error> {
    if record.event_name != EventName::Insert {
        return Ok(());
    }
    let seq = record.dynamodb.sequence_number.as_str();
    let Some(key) = welcome::idempotency_key(&record.dynamodb.keys) else {
        log::log(
            Level::Warn,
            "skipped: unusable item key",
            &[("sequenceNumber", seq)],
        );
        return Ok(());
    };
    let Some(image) = &record.dynamodb.new_image else {
        log::log(
            Level::Warn,
            "skipped: no NewImage (use StreamViewType NEW_IMAGE or NEW_AND_OLD_IMAGES)",
            &[("key", &key)],
        );
        return Ok(());
    };
    let Some(to) = image.get("email").and_then(|v| v.as_s()) else {
        log::log(
            Level::Warn,
            "skipped: the user has no string email",
            &[("key", &key)],
        );
        return Ok(());
    };
    let name = image.get("name").and_then(|v| v.as_s());
    let (subject, body) = welcome::compose(app, name);
    match Email::new(from, to, &subject, &body)
        .idempotency_key(&key)
        .send()
    {
        Ok(message_id) => {
            log::log(
                Level::Info,
                "welcome e-mail sent",
                &[("to", to), ("key", &key), ("messageId", &message_id)],
            );
            Ok(())
        }
        Err(EmailError::Invalid(why)) => {
            log::log(
                Level::Warn,
                "skipped: invalid e-mail",
                &[("to", to), ("key", &key), ("error", &why)],
            );
            Ok(())
        }
        Err(e @ (EmailError::Transient(_) | EmailError::Denied(_))) => {
            log::log(
                Level::Error,
                "welcome e-mail not sent; the batch will be retried",
                &[("to", to), ("key", &key), ("error", &e.to_string())],
            );
            Err(Error::msg(format!("welcome e-mail for {key}: {e}")))
        }
    }
}

eddy_sdk::handler!(on_users);
