//! Outgoing e-mail through the SMTP server named by `eddy serve --smtp-url`, behind the
//! functions' `email` capability, with durable idempotency keys.
//!
//! Owns the SMTP connection settings (parsed from the URL once, at start-up), the
//! validation of a function's message (addresses and the limits below), its rendering
//! (lettre's builder) and delivery (lettre's blocking SMTP client), and the idempotency
//! records `mail/<function>/<key>` → Message-ID in the engine's system keyspace.
//!
//! Must not know about HTTP, streams, triggers or grants: functions reach it through
//! [`MailApi`], after the executor has checked the deployment's `email` grant.
//!
//! ## At most once per idempotency key
//!
//! A send with a key takes an in-process lock on `(function, key)`, looks the key up, and
//! only if it is not recorded talks to the SMTP server; the moment the server accepts the
//! message (its `250` after the final `.`), the key is recorded with `system_put`
//! (fsync'd) before anything else happens, even before `QUIT`. Everything that can be
//! prepared (the validated message, its bytes, the record's key and value) is prepared
//! before connecting, so nothing but that one write stands between acceptance and the
//! durable record.
//!
//! The record is as durable as the engine's writes: fsync'd with the default
//! `--durability sync`, not with `--in-memory` or `--durability buffered`.
//!
//! What remains is the window between the server's acceptance and the end of that fsync:
//! if Eddy crashes (or the disk write fails) exactly there, the key is not recorded, the
//! batch is redelivered and the message is sent again. The same happens when the server
//! accepts but its `250` never reaches Eddy (connection lost after the final `.`, the
//! classic SMTP duplicate of RFC 1047): Eddy cannot tell that from a refusal and retries.
//! In both cases the duplicate carries the same `Message-ID`, derived only from
//! `(function, key)`, so a receiver can recognize and drop it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use eddy_engine::Engine;
use eddy_engine::sync::lock;
use eddy_triggers::{MailApi, MailError, MailMessage};
use lettre::address::Envelope;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{SmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

use crate::percent::decode_component;

/// Recipients of one message at most (a welcome mail has one; a newsletter belongs in a
/// mailing service, not in a per-record function).
pub const RECIPIENTS_MAX: usize = 50;
/// Longest mailbox string accepted from a function (`"Name <local@domain>"`).
pub const MAILBOX_BYTES_MAX: usize = 512;
/// Longest address (`local@domain`): RFC 5321's path limit minus the angle brackets.
pub const ADDRESS_BYTES_MAX: usize = 254;
/// Longest subject: RFC 5322's line length limit (lettre folds and encodes the header
/// itself; anything longer is no subject a reader will see).
pub const SUBJECT_BYTES_MAX: usize = 998;
/// Largest plain-text body; mail from a function is a notification, not an attachment.
pub const BODY_BYTES_MAX: usize = 1024 * 1024;
/// Longest idempotency key (it is stored, with the function name, as a system key).
pub const IDEMPOTENCY_KEY_BYTES_MAX: usize = 512;
/// Limit of connecting and of each SMTP round trip (greeting, EHLO, MAIL, one RCPT per
/// recipient, DATA, the message), not of the whole conversation. It bounds how long a
/// hung server can hold a function's invocation (and with it its trigger's lane).
pub const SMTP_TIMEOUT_MS: u64 = 10_000;

/// Default port of plain `smtp://` (RFC 5321).
const SMTP_PORT_DEFAULT: u16 = 25;
/// Default port of `smtp://…?tls=required|opportunistic` (submission with STARTTLS).
const SUBMISSION_PORT_DEFAULT: u16 = 587;
/// Default port of `smtps://` (submission over TLS, RFC 8314).
const SUBMISSIONS_PORT_DEFAULT: u16 = 465;
/// The right-hand side of every Message-ID Eddy generates. Fixed, so that the id of a
/// keyed message depends on nothing but the function and the key.
const MESSAGE_ID_DOMAIN: &str = "eddy";
/// Prefix of the idempotency records in the system keyspace.
const RECORD_PREFIX: &str = "mail/";

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// `smtp://host:port`: plain text (a local relay or a test server).
    Plain,
    /// `smtp://…?tls=opportunistic`: STARTTLS when the server offers it.
    StartTlsOpportunistic,
    /// `smtp://…?tls=required`: STARTTLS, or no mail.
    StartTlsRequired,
    /// `smtps://host:port`: TLS from the first byte.
    Wrapper,
}

/// The SMTP server, as `--smtp-url` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SmtpUrl {
    host: String,
    port: u16,
    security: Security,
    /// `user:password` from the URL, percent-decoded.
    credentials: Option<(String, String)>,
}

impl SmtpUrl {
    /// Parses `smtp://[user:pass@]host[:port][?tls=required|opportunistic]` or
    /// `smtps://[user:pass@]host[:port]`.
    fn parse(url: &str) -> Result<SmtpUrl, String> {
        let bad = |why: &str| format!("invalid --smtp-url {url:?}: {why}");
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected smtp://host:port or smtps://host:port"))?;
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (rest, None),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            return Err(bad("a path is not supported"));
        }
        let security = match (scheme.to_ascii_lowercase().as_str(), query) {
            ("smtp", None) => Security::Plain,
            ("smtp", Some("tls=opportunistic")) => Security::StartTlsOpportunistic,
            ("smtp", Some("tls=required")) => Security::StartTlsRequired,
            ("smtps", None) => Security::Wrapper,
            ("smtp" | "smtps", Some(q)) => {
                return Err(bad(&format!(
                    "unsupported query {q:?} (smtp:// accepts tls=required or tls=opportunistic)"
                )));
            }
            (other, _) => return Err(bad(&format!("unsupported scheme {other:?}"))),
        };
        let (userinfo, authority) = match rest.rsplit_once('@') {
            Some((userinfo, authority)) => (Some(userinfo), authority),
            None => (None, rest),
        };
        let credentials = match userinfo {
            Some(userinfo) => {
                let (user, pass) = userinfo
                    .split_once(':')
                    .ok_or_else(|| bad("credentials must be user:password"))?;
                Some((
                    decode_component(user).ok_or_else(|| bad("bad %-escape in the user"))?,
                    decode_component(pass).ok_or_else(|| bad("bad %-escape in the password"))?,
                ))
            }
            None => None,
        };
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| bad("unclosed [ in the host"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad(&format!("bad port {p:?}")))?,
            None => match security {
                Security::Plain => SMTP_PORT_DEFAULT,
                Security::StartTlsOpportunistic | Security::StartTlsRequired => {
                    SUBMISSION_PORT_DEFAULT
                }
                Security::Wrapper => SUBMISSIONS_PORT_DEFAULT,
            },
        };
        Ok(SmtpUrl {
            host: host.to_owned(),
            port,
            security,
            credentials,
        })
    }
}

/// A message checked and rendered, ready for the wire.
struct Prepared {
    envelope: Envelope,
    bytes: Vec<u8>,
    message_id: String,
}

/// Sends mail through one SMTP server.
pub struct Mailer {
    url: SmtpUrl,
    /// The TLS settings for `url.host` (webpki roots), unless the URL is plain `smtp://`.
    tls: Option<TlsParameters>,
    credentials: Option<Credentials>,
    engine: Engine,
    /// The idempotency records being sent right now; a second send of one of them
    /// waits on `sent` until the first is done, then finds its record.
    in_flight: Mutex<HashSet<Vec<u8>>>,
    sent: Condvar,
    /// Distinguishes the ids of messages without a key sent in the same nanosecond.
    unkeyed: AtomicU64,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the credentials.
        f.debug_struct("Mailer")
            .field("host", &self.url.host)
            .field("port", &self.url.port)
            .field("security", &self.url.security)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer for `smtp_url` (`smtp://host:port`, `smtp://…?tls=required`,
    /// `smtps://host:port`, each with optional `user:password@`), remembering sent
    /// idempotency keys in `engine`'s system keyspace. Does not connect: the SMTP server
    /// may start after Eddy, and a send before that is a transient failure.
    pub fn new(smtp_url: &str, engine: Engine) -> Result<Self, String> {
        let url = SmtpUrl::parse(smtp_url)?;
        let tls =
            match url.security {
                Security::Plain => None,
                _ => Some(TlsParameters::new(url.host.clone()).map_err(|e| {
                    format!("invalid --smtp-url {smtp_url:?}: cannot set up TLS: {e}")
                })?),
            };
        let credentials = url
            .credentials
            .as_ref()
            .map(|(user, pass)| Credentials::new(user.clone(), pass.clone()));
        Ok(Self {
            url,
            tls,
            credentials,
            engine,
            in_flight: Mutex::new(HashSet::new()),
            sent: Condvar::new(),
            unkeyed: AtomicU64::new(0),
        })
    }

    /// Opens a connection: greeting, EHLO, STARTTLS and AUTH as the URL asks.
    fn connect(&self) -> Result<SmtpConnection, lettre::transport::smtp::Error> {
        let timeout = Some(Duration::from_millis(SMTP_TIMEOUT_MS));
        let hello = ClientId::default();
        let wrapper = match self.url.security {
            Security::Wrapper => self.tls.as_ref(),
            _ => None,
        };
        let mut conn = SmtpConnection::connect(
            (self.url.host.as_str(), self.url.port),
            timeout,
            &hello,
            wrapper,
            None,
        )?;
        match (self.url.security, &self.tls) {
            (Security::StartTlsRequired, Some(tls)) => conn.starttls(tls, &hello)?,
            (Security::StartTlsOpportunistic, Some(tls)) if conn.can_starttls() => {
                conn.starttls(tls, &hello)?
            }
            _ => {}
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)?;
        }
        Ok(conn)
    }

    /// Hands `prepared` to the SMTP server; on success the connection is still open, so
    /// that the caller can record the acceptance before anything else.
    fn deliver(&self, prepared: &Prepared) -> Result<SmtpConnection, MailError> {
        // Every SMTP failure is transient to the function: a refusal (4xx or 5xx), an
        // unreachable or hung server, a TLS or AUTH failure. The message itself was
        // validated already, so what is left is the server or its configuration, which
        // an operator can fix; failing the batch (retried with backoff, then the
        // trigger's failure destination) loses nothing, dropping the mail would.
        let server = format!("{}:{}", self.url.host, self.url.port);
        let mut conn = self
            .connect()
            .map_err(|e| MailError::Transient(format!("SMTP server {server}: {e}")))?;
        match conn.send(&prepared.envelope, &prepared.bytes) {
            Ok(_) => Ok(conn),
            Err(e) => {
                conn.abort();
                Err(MailError::Transient(format!(
                    "SMTP server {server} did not accept the message: {e}"
                )))
            }
        }
    }

    /// Waits until no other send of `record` is in flight, then claims it until the
    /// returned guard drops.
    fn claim(&self, record: &[u8]) -> Claim<'_> {
        let mut in_flight = lock(&self.in_flight);
        while in_flight.contains(record) {
            // The same poison policy as `lock` (`eddy_engine::sync`), which has no
            // condition-variable form.
            in_flight = self
                .sent
                .wait(in_flight)
                .unwrap_or_else(PoisonError::into_inner);
        }
        in_flight.insert(record.to_vec());
        Claim {
            mailer: self,
            record: record.to_vec(),
        }
    }

    /// A fresh Message-ID for a message without a key.
    fn unkeyed_message_id(&self, function: &str) -> String {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let n = self.unkeyed.fetch_add(1, Ordering::Relaxed);
        let hash = eddy_engine::hash::fnv1a_128(&[
            function.as_bytes(),
            &nanos.to_le_bytes(),
            &n.to_le_bytes(),
            &std::process::id().to_le_bytes(),
        ]);
        format!("<{hash:032x}.{function}@{MESSAGE_ID_DOMAIN}>")
    }
}

/// A claimed idempotency record; releasing it wakes the sends waiting for it.
struct Claim<'a> {
    mailer: &'a Mailer,
    record: Vec<u8>,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut in_flight = lock(&self.mailer.in_flight);
        in_flight.remove(&self.record);
        drop(in_flight);
        self.mailer.sent.notify_all();
    }
}

impl MailApi for Mailer {
    fn send(&self, function: &str, message: MailMessage) -> Result<String, MailError> {
        let Some(key) = &message.idempotency_key else {
            let prepared = prepare(&message, self.unkeyed_message_id(function))?;
            let mut conn = self.deliver(&prepared)?;
            let _ = conn.quit();
            return Ok(prepared.message_id);
        };
        check_key(key)?;
        let prepared = prepare(&message, keyed_message_id(function, key))?;
        let record = record_key(function, key);
        let _claim = self.claim(&record);
        match self.engine.system_get(&record) {
            Ok(Some(id)) => return Ok(String::from_utf8_lossy(&id).into_owned()),
            Ok(None) => {}
            Err(e) => {
                return Err(MailError::Transient(format!(
                    "cannot read the idempotency record: {e}"
                )));
            }
        }
        let mut conn = self.deliver(&prepared)?;
        // The window of the module comment starts here: record before anything else.
        if let Err(e) = self
            .engine
            .system_put(&record, prepared.message_id.as_bytes())
        {
            // The message is out; failing the send would make the retry send it again
            // at once. Report success and leave the trace: only a later replay of the
            // record can duplicate it now (with the same Message-ID).
            tracing::error!(
                function,
                key = key.as_str(),
                message_id = prepared.message_id.as_str(),
                error = %e,
                "mail sent but its idempotency key could not be recorded"
            );
        }
        let _ = conn.quit();
        tracing::debug!(
            function,
            key = key.as_str(),
            message_id = prepared.message_id.as_str(),
            "mail sent"
        );
        Ok(prepared.message_id)
    }
}

/// Checks a function's idempotency key.
fn check_key(key: &str) -> Result<(), MailError> {
    if key.is_empty() {
        return Err(MailError::Invalid("the idempotency key is empty".into()));
    }
    if key.len() > IDEMPOTENCY_KEY_BYTES_MAX {
        return Err(MailError::Invalid(format!(
            "the idempotency key has {} bytes; at most {IDEMPOTENCY_KEY_BYTES_MAX} are allowed",
            key.len()
        )));
    }
    Ok(())
}

/// The system key recording `key` of `function`. Function names are `[A-Za-z0-9_-]`, so
/// the first `/` after the prefix ends the name whatever the key contains.
fn record_key(function: &str, key: &str) -> Vec<u8> {
    format!("{RECORD_PREFIX}{function}/{key}").into_bytes()
}

/// The Message-ID of the message with `key` of `function`: the same on every attempt
/// and after a restart (FNV-1a is fixed, unlike std's hasher), so that a duplicate from
/// the window of the module comment is recognizable. Collisions only cost that
/// recognizability; deduplication looks up the key itself.
fn keyed_message_id(function: &str, key: &str) -> String {
    let hash = eddy_engine::hash::fnv1a_128(&[function.as_bytes(), key.as_bytes()]);
    format!("<{hash:032x}.{function}@{MESSAGE_ID_DOMAIN}>")
}

/// Parses one mailbox (`local@domain` or `Name <local@domain>`) of field `field`.
fn mailbox(field: &str, value: &str) -> Result<Mailbox, MailError> {
    if value.len() > MAILBOX_BYTES_MAX {
        return Err(MailError::Invalid(format!(
            "{field} has {} bytes; at most {MAILBOX_BYTES_MAX} are allowed",
            value.len()
        )));
    }
    let mailbox: Mailbox = value.parse().map_err(|e| {
        MailError::Invalid(format!("{field} {value:?} is not an e-mail address: {e}"))
    })?;
    let address: &str = mailbox.email.as_ref();
    let address_len = address.len();
    if address_len > ADDRESS_BYTES_MAX {
        return Err(MailError::Invalid(format!(
            "{field} address has {address_len} bytes; at most {ADDRESS_BYTES_MAX} are allowed"
        )));
    }
    Ok(mailbox)
}

/// Checks `message` against the limits and renders it (plain text, UTF-8) with
/// `message_id`.
fn prepare(message: &MailMessage, message_id: String) -> Result<Prepared, MailError> {
    if message.to.is_empty() {
        return Err(MailError::Invalid("the message has no recipient".into()));
    }
    if message.to.len() > RECIPIENTS_MAX {
        return Err(MailError::Invalid(format!(
            "the message has {} recipients; at most {RECIPIENTS_MAX} are allowed",
            message.to.len()
        )));
    }
    if message.subject.len() > SUBJECT_BYTES_MAX {
        return Err(MailError::Invalid(format!(
            "the subject has {} bytes; at most {SUBJECT_BYTES_MAX} are allowed",
            message.subject.len()
        )));
    }
    // A line break in a header value would let the function inject headers.
    if message.subject.contains(['\r', '\n']) {
        return Err(MailError::Invalid(
            "the subject contains a line break".into(),
        ));
    }
    if message.body_text.len() > BODY_BYTES_MAX {
        return Err(MailError::Invalid(format!(
            "the body has {} bytes; at most {BODY_BYTES_MAX} are allowed",
            message.body_text.len()
        )));
    }
    let mut builder = Message::builder()
        .from(mailbox("from", &message.from)?)
        .subject(message.subject.clone())
        .message_id(Some(message_id.clone()))
        .header(ContentType::TEXT_PLAIN);
    for to in &message.to {
        builder = builder.to(mailbox("to", to)?);
    }
    let email = builder
        .body(message.body_text.clone())
        .map_err(|e| MailError::Invalid(format!("cannot build the message: {e}")))?;
    Ok(Prepared {
        envelope: email.envelope().clone(),
        bytes: email.formatted(),
        message_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::Arc;

    fn message(to: &str, key: Option<&str>) -> MailMessage {
        MailMessage {
            from: "Eddy <welcome@eddy.local>".into(),
            to: vec![to.into()],
            subject: "Welcome".into(),
            body_text: "Hello!\n".into(),
            idempotency_key: key.map(str::to_owned),
        }
    }

    #[test]
    fn smtp_urls_parse_with_defaults_and_reject_the_rest() {
        let u = SmtpUrl::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.security),
            ("127.0.0.1", 2525, Security::Plain)
        );
        let u = SmtpUrl::parse("smtps://me%40x:p%3As@mail.example.com").unwrap();
        assert_eq!((u.port, u.security), (465, Security::Wrapper));
        assert_eq!(u.credentials, Some(("me@x".into(), "p:s".into())));
        let u = SmtpUrl::parse("smtp://[::1]?tls=required").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.security),
            ("::1", 587, Security::StartTlsRequired)
        );
        for bad in [
            "127.0.0.1:25",
            "http://x",
            "smtp://",
            "smtp://x:0",
            "smtp://x:99999",
            "smtp://x/path",
            "smtp://x?tls=maybe",
            "smtp://u@x",
            "smtp://u:%zz@x",
        ] {
            assert!(SmtpUrl::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn messages_over_the_limits_or_with_bad_addresses_are_invalid() {
        let invalid =
            |m: MailMessage| matches!(prepare(&m, "<x@eddy>".into()), Err(MailError::Invalid(_)));
        assert!(!invalid(message("ada@example.com", None)));
        assert!(invalid(message("not an address", None)));
        assert!(invalid(message("", None)));
        let mut m = message("ada@example.com", None);
        m.from = "nobody".into();
        assert!(invalid(m));
        let mut m = message("ada@example.com", None);
        m.to.clear();
        assert!(invalid(m));
        let mut m = message("ada@example.com", None);
        m.to = vec!["a@example.com".into(); RECIPIENTS_MAX + 1];
        assert!(invalid(m));
        let mut m = message("ada@example.com", None);
        m.subject = "Hi\r\nBcc: eve@example.com".into();
        assert!(invalid(m));
        let mut m = message("ada@example.com", None);
        m.subject = "s".repeat(SUBJECT_BYTES_MAX + 1);
        assert!(invalid(m));
        let mut m = message("ada@example.com", None);
        m.body_text = "b".repeat(BODY_BYTES_MAX + 1);
        assert!(invalid(m));
        assert!(check_key("").is_err());
        assert!(check_key(&"k".repeat(IDEMPOTENCY_KEY_BYTES_MAX + 1)).is_err());
    }

    #[test]
    fn keyed_message_ids_depend_only_on_function_and_key() {
        let a = keyed_message_id("welcome", "welcome/u1");
        assert_eq!(a, keyed_message_id("welcome", "welcome/u1"));
        assert_ne!(a, keyed_message_id("welcome", "welcome/u2"));
        assert_ne!(a, keyed_message_id("welcome2", "welcome/u1"));
        assert!(a.starts_with('<') && a.ends_with(".welcome@eddy>"), "{a}");
    }

    /// A minimal SMTP server on loopback that accepts every message and counts them;
    /// `refuse_first` messages are answered `451` instead.
    fn fake_smtp(refuse_first: usize) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let out = received.clone();
        std::thread::spawn(move || {
            let mut refused = 0;
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                writer.write_all(b"220 fake\r\n").unwrap();
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 {
                    let cmd = line.to_ascii_uppercase();
                    if cmd.starts_with("DATA") {
                        writer.write_all(b"354 go on\r\n").unwrap();
                        let mut data = String::new();
                        loop {
                            let mut l = String::new();
                            if reader.read_line(&mut l).unwrap_or(0) == 0 || l == ".\r\n" {
                                break;
                            }
                            data.push_str(&l);
                        }
                        if refused < refuse_first {
                            refused += 1;
                            writer.write_all(b"451 try again later\r\n").unwrap();
                        } else {
                            out.lock().unwrap().push(data);
                            writer.write_all(b"250 queued\r\n").unwrap();
                        }
                    } else if cmd.starts_with("QUIT") {
                        let _ = writer.write_all(b"221 bye\r\n");
                        break;
                    } else {
                        writer.write_all(b"250 ok\r\n").unwrap();
                    }
                    line.clear();
                }
            }
        });
        (url, received)
    }

    fn engine() -> Engine {
        let dir = std::env::temp_dir().join(format!(
            "eddy-mail-test-{}-{}",
            std::process::id(),
            eddy_engine::hash::fnv1a_128(&[&SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos()
                .to_le_bytes()])
        ));
        let mut config = eddy_engine::EngineConfig::new(dir);
        config.in_memory = true;
        Engine::open(config).unwrap()
    }

    #[test]
    fn a_key_is_sent_once_even_by_racing_sends_and_refusals_are_transient() {
        let (url, received) = fake_smtp(1);
        let mailer = Arc::new(Mailer::new(&url, engine()).unwrap());
        let m = message("ada@example.com", Some("welcome/u1"));
        assert!(matches!(
            mailer.send("welcome", m.clone()),
            Err(MailError::Transient(_))
        ));
        assert!(received.lock().unwrap().is_empty());
        let ids: Vec<String> = (0..4)
            .map(|_| {
                let (mailer, m) = (mailer.clone(), m.clone());
                std::thread::spawn(move || mailer.send("welcome", m).unwrap())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        assert!(
            ids.iter()
                .all(|id| *id == keyed_message_id("welcome", "welcome/u1"))
        );
        let received = received.lock().unwrap().clone();
        assert_eq!(received.len(), 1, "{received:?}");
        assert!(received[0].contains(&format!("Message-ID: {}", ids[0])));
        assert!(received[0].contains("To: ada@example.com"));
        // Another function's key of the same name is its own.
        let other = mailer.send("other", m).unwrap();
        assert_ne!(other, ids[0]);
    }

    #[test]
    fn an_unreachable_server_is_transient() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mailer = Mailer::new(&format!("smtp://127.0.0.1:{port}"), engine()).unwrap();
        assert!(matches!(
            mailer.send("welcome", message("ada@example.com", None)),
            Err(MailError::Transient(_))
        ));
    }
}
