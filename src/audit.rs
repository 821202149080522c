//! The audit log (`--audit-log PATH`): one JSON line per request refused by
//! authentication or by a policy (`"event":"denied"`), and per control-plane change —
//! DynamoDB's table changes and every `/v1` change, whether it succeeded or not
//! (`"event":"change"`) — with who made it, from where, what and on what.
//!
//! Owns the line format, the writer thread and its bounded queue, and which requests are
//! changes. Callers hand over finished facts ([`denied`], [`change`] and the helpers built
//! on them); a request never waits for the disk: a line that finds the queue full is
//! dropped and counted (`eddy_audit_lines_dropped_total`). Must not know how a signature
//! is verified nor how a refusal is rendered (`crate::auth` says why in a [`Refusal`]).
//!
//! Durability: each batch of lines the writer takes from the queue is written and flushed
//! to the file at once (so a crash of the process loses nothing it was handed), and
//! fsync'd at most every [`AUDIT_SYNC_INTERVAL_MS`]: an fsync per line would let anyone
//! who can send badly signed requests make the disk do a sync per request, on the disk
//! the journal needs. A machine crash can lose the last second of lines.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, Request};
use axum::http::request::Parts;
use axum::http::{Extensions, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::auth::{Key, Refusal};

/// Lines waiting for the writer thread, at most; a line that finds the queue full is
/// dropped and counted.
pub const AUDIT_QUEUE_LINES_MAX: usize = 4096;
/// Bytes of the lines waiting for the writer thread, at most (a line is usually a few
/// hundred bytes; a refusal's can be a few KiB, and one naming odd characters more).
pub const AUDIT_QUEUE_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Longest time between a line's write and its fsync.
pub const AUDIT_SYNC_INTERVAL_MS: u64 = 1000;
/// Longest wait at shutdown for the queued lines to reach the file.
const AUDIT_CLOSE_WAIT_MS: u64 = 5000;
/// Characters kept of a message, an action or a resource; a refusal's message (which
/// quotes the canonical request) can be as long as the request's headers.
const AUDIT_FIELD_CHARS_MAX: usize = 4096;
/// Largest body of a refused request that is read for the table it names: reading the
/// body of an unauthenticated request must cost little.
const REFUSED_BODY_SCAN_BYTES_MAX: usize = 64 * 1024;
/// Largest `/v1` creation answer read for the name of what it created (a trigger, a
/// schedule, a key: a few KiB of JSON); a larger one is passed on unread.
const CREATED_BODY_BYTES_MAX: usize = 64 * 1024;

/// The DynamoDB operations that change the control plane.
const DYNAMODB_CHANGES: [&str; 6] = [
    "CreateTable",
    "UpdateTable",
    "DeleteTable",
    "UpdateTimeToLive",
    "TagResource",
    "UntagResource",
];

/// Who made a request. Both `None`: nobody signed it (`anonymous` when requests are
/// verified, `auth-off` when they are not). For a refusal by authentication, the access
/// key id is the one the request named (not verified: that is why it was refused).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub user: Option<String>,
    pub access_key_id: Option<String>,
}

impl Identity {
    /// The identity of a verified key (`None`: the request was not signed, or requests
    /// are not verified).
    pub fn of(key: Option<&Key>) -> Identity {
        key.map_or_else(Identity::default, |k| Identity {
            user: Some(k.user.clone()),
            access_key_id: Some(k.access_key_id.clone()),
        })
    }

    /// The access key a request names, with its user when the key exists.
    pub(crate) fn claimed(parts: &Parts) -> Identity {
        let access_key_id = crate::auth::claimed_key_id(&parts.headers, &parts.uri);
        let user = access_key_id
            .as_deref()
            .and_then(|id| crate::auth::keys()?.get(id))
            .map(|k| k.user.clone());
        Identity {
            user,
            access_key_id,
        }
    }

    /// `key`, `anonymous` or `auth-off`.
    fn kind(&self, verifying: bool) -> &'static str {
        match (&self.user, &self.access_key_id, verifying) {
            (None, None, true) => "anonymous",
            (None, None, false) => "auth-off",
            _ => "key",
        }
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Denied,
    Change,
}

/// One line of the log, its fields in this order.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Line {
    /// ISO 8601 UTC, milliseconds.
    time: String,
    /// `denied` or `change`.
    event: String,
    /// `key`, `anonymous` or `auth-off`.
    identity: String,
    user: Option<String>,
    access_key_id: Option<String>,
    source_ip: Option<String>,
    /// `dynamodb:<Operation>`, `eddy:<Operation>` for `/v1` changes, `lambda:<Operation>`
    /// for Lambda's API (`crate::lambda`), or the method and path of another `/v1`
    /// request.
    action: String,
    /// A table name or ARN, a function, trigger, schedule or key; `*` when none.
    resource: String,
    /// The HTTP status answered, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// The open log: the queue to the writer thread and the counters.
struct Log {
    queue: SyncSender<Message>,
    counters: Arc<Counters>,
}

/// What the requests and the writer thread share.
#[derive(Debug, Default)]
struct Counters {
    /// Lines dropped because the queue was full or the file refused them.
    dropped: AtomicU64,
    /// Lines written to the file.
    written: AtomicU64,
    /// Bytes of the lines in the queue.
    queued_bytes: AtomicUsize,
}

enum Message {
    Line(String),
    /// Write and fsync everything before, then answer.
    Close(SyncSender<()>),
}

static LOG: OnceLock<Log> = OnceLock::new();

/// Opens (appending, creating it readable by its owner only) the audit log at `path`
/// and starts its writer thread; once, before the first request.
pub fn configure(path: &Path) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("audit log {}: {e}", path.display())))?;
    let (queue, lines) = std::sync::mpsc::sync_channel(AUDIT_QUEUE_LINES_MAX);
    let counters = Arc::new(Counters::default());
    let shared = counters.clone();
    std::thread::Builder::new()
        .name("eddy-audit".into())
        .spawn(move || write_lines(file, &lines, &shared))?;
    let log = Log { queue, counters };
    if LOG.set(log).is_err() {
        return Err(io::Error::other("the audit log is already open"));
    }
    Ok(())
}

/// Writes every queued line to the file and syncs it (at shutdown).
pub fn close() {
    let Some(log) = LOG.get() else { return };
    let (ack, done) = std::sync::mpsc::sync_channel(1);
    if log.queue.send(Message::Close(ack)).is_ok() {
        let _ = done.recv_timeout(Duration::from_millis(AUDIT_CLOSE_WAIT_MS));
    }
}

/// Lines dropped because the queue was full or the file refused them.
pub fn dropped() -> u64 {
    LOG.get()
        .map_or(0, |l| l.counters.dropped.load(Ordering::Relaxed))
}

/// Lines written to the file.
pub fn written() -> u64 {
    LOG.get()
        .map_or(0, |l| l.counters.written.load(Ordering::Relaxed))
}

/// Whether the log is open (`--audit-log`).
pub fn enabled() -> bool {
    LOG.get().is_some()
}

/// The writer thread: takes lines off the queue in batches, writes and flushes each
/// batch, and syncs the file at most every [`AUDIT_SYNC_INTERVAL_MS`].
fn write_lines(file: File, lines: &Receiver<Message>, counters: &Counters) {
    let interval = Duration::from_millis(AUDIT_SYNC_INTERVAL_MS);
    let mut out = BufWriter::new(file);
    let mut synced = Instant::now();
    let mut unsynced = false;
    loop {
        let first = if unsynced {
            match lines.recv_timeout(interval.saturating_sub(synced.elapsed())) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        } else {
            match lines.recv() {
                Ok(m) => Some(m),
                Err(_) => return,
            }
        };
        let mut closing = Vec::new();
        let mut batch = 0_u64;
        for message in first
            .into_iter()
            .chain(std::iter::from_fn(|| lines.try_recv().ok()))
        {
            match message {
                Message::Line(line) => {
                    batch += 1;
                    counters
                        .queued_bytes
                        .fetch_sub(line.len(), Ordering::Relaxed);
                    if let Err(e) = out.write_all(line.as_bytes()) {
                        lost(counters, &e, 1);
                    }
                }
                Message::Close(ack) => closing.push(ack),
            }
        }
        if batch > 0 {
            match out.flush() {
                Ok(()) => {
                    counters.written.fetch_add(batch, Ordering::Relaxed);
                    unsynced = true;
                }
                Err(e) => lost(counters, &e, batch),
            }
        }
        if unsynced && (!closing.is_empty() || synced.elapsed() >= interval) {
            if let Err(e) = out.get_ref().sync_data() {
                tracing::error!(error = %e, "cannot sync the audit log");
            }
            synced = Instant::now();
            unsynced = false;
        }
        for ack in closing {
            let _ = ack.send(());
        }
    }
}

/// Lines the file refused: counted as dropped, and said.
fn lost(counters: &Counters, e: &io::Error, n: u64) {
    tracing::error!(error = %e, lines = n, "cannot write to the audit log; lines are lost");
    counters.dropped.fetch_add(n, Ordering::Relaxed);
}

impl Log {
    /// Queues a line, or counts it dropped when the queue is full (of lines or bytes).
    fn push(&self, line: String) {
        let c = &self.counters;
        let n = line.len();
        if c.queued_bytes.fetch_add(n, Ordering::Relaxed) + n > AUDIT_QUEUE_BYTES_MAX {
            c.queued_bytes.fetch_sub(n, Ordering::Relaxed);
            c.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match self.queue.try_send(Message::Line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                c.queued_bytes.fetch_sub(n, Ordering::Relaxed);
                c.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Records a request refused (by authentication or a policy).
pub fn denied(
    identity: &Identity,
    source_ip: Option<IpAddr>,
    action: &str,
    resource: &str,
    error_type: &str,
    message: &str,
) {
    record(
        Event::Denied,
        identity,
        source_ip,
        action,
        resource,
        None,
        Some((error_type, message)),
    );
}

/// Records a control-plane change and the status it was answered with (a failed one
/// too).
pub fn change(
    identity: &Identity,
    source_ip: Option<IpAddr>,
    action: &str,
    resource: &str,
    status: u16,
) {
    record(
        Event::Change,
        identity,
        source_ip,
        action,
        resource,
        Some(status),
        None,
    );
}

fn record(
    event: Event,
    identity: &Identity,
    source_ip: Option<IpAddr>,
    action: &str,
    resource: &str,
    status: Option<u16>,
    error: Option<(&str, &str)>,
) {
    let Some(log) = LOG.get() else { return };
    let verifying = crate::auth::verifying().is_some();
    let line = line(
        now_ms(),
        event,
        identity,
        verifying,
        source_ip,
        action,
        resource,
        status,
        error,
    );
    log.push(line);
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `2026-12-07T05:52:48.123Z`.
fn iso8601_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let rem = secs % 86_400;
    let (y, m, d) = eddy_engine::clock::civil_from_days(secs / 86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        ms % 1000
    )
}

/// At most [`AUDIT_FIELD_CHARS_MAX`] characters of `s`.
fn clip(s: &str) -> String {
    match s.char_indices().nth(AUDIT_FIELD_CHARS_MAX) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

/// One JSON line, with its newline.
#[allow(clippy::too_many_arguments)]
fn line(
    at_ms: u64,
    event: Event,
    identity: &Identity,
    verifying: bool,
    source_ip: Option<IpAddr>,
    action: &str,
    resource: &str,
    status: Option<u16>,
    error: Option<(&str, &str)>,
) -> String {
    let line = Line {
        time: iso8601_ms(at_ms),
        event: match event {
            Event::Denied => "denied",
            Event::Change => "change",
        }
        .to_owned(),
        identity: identity.kind(verifying).to_owned(),
        user: identity.user.as_deref().map(clip),
        access_key_id: identity.access_key_id.as_deref().map(clip),
        source_ip: source_ip.map(|ip| ip.to_canonical().to_string()),
        action: clip(action),
        resource: clip(if resource.is_empty() { "*" } else { resource }),
        status,
        error_type: error.map(|(kind, _)| clip(kind)),
        message: error.map(|(_, message)| clip(message)),
    };
    // A struct of strings and numbers always serializes.
    let mut text = serde_json::to_string(&line).unwrap_or_default();
    text.push('\n');
    text
}

/// The client's address, from the connection (see `server/conn.rs`).
pub fn source_ip(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// The names a DynamoDB request body gives its resource.
#[derive(Deserialize)]
struct Names {
    #[serde(rename = "TableName")]
    table_name: Option<String>,
    #[serde(rename = "ResourceArn")]
    resource_arn: Option<String>,
}

/// The table (its name, or the ARN of Tag/UntagResource) a DynamoDB request body names.
fn dynamodb_resource(body: &[u8]) -> String {
    serde_json::from_slice::<Names>(body)
        .ok()
        .and_then(|n| n.table_name.or(n.resource_arn))
        .unwrap_or_else(|| "*".to_owned())
}

/// Records a refused DynamoDB or Streams request (the answer carries its [`Refusal`])
/// and hands the answer back. `body` is the request's body as received.
pub fn dynamodb_refused(parts: &Parts, op: &str, body: &[u8], resp: Response) -> Response {
    if !enabled() {
        return resp;
    }
    // A compressed or large body is not looked into for the table it names.
    let resource = if body.len() <= REFUSED_BODY_SCAN_BYTES_MAX
        && !parts.headers.contains_key(header::CONTENT_ENCODING)
    {
        dynamodb_resource(body)
    } else {
        "*".to_owned()
    };
    refused(parts, &format!("dynamodb:{op}"), &resource, resp)
}

/// Records a refused Application Auto Scaling request (`scaling/wire.rs`; the answer
/// carries its [`Refusal`]) and hands the answer back.
pub fn scaling_refused(parts: &Parts, op: &str, resp: Response) -> Response {
    if !enabled() {
        return resp;
    }
    refused(parts, &format!("application-autoscaling:{op}"), "*", resp)
}

/// Records a refused `/v1` (or `/metrics`) request and hands the answer back.
pub fn v1_refused(parts: &Parts, resp: Response) -> Response {
    if !enabled() {
        return resp;
    }
    let (action, resource) = v1_action(&parts.method, parts.uri.path());
    refused(parts, &action, &resource, resp)
}

/// A refusal, from its answer's [`Refusal`]; an answer without one is no refusal.
fn refused(parts: &Parts, action: &str, resource: &str, resp: Response) -> Response {
    if let Some(refusal) = resp.extensions().get::<Refusal>() {
        record(
            Event::Denied,
            &Identity::claimed(parts),
            source_ip(&parts.extensions),
            action,
            resource,
            Some(resp.status().as_u16()),
            Some((refusal.kind, &refusal.message)),
        );
    }
    resp
}

/// Whether DynamoDB operation `op` is recorded (the log is open, and `op` changes the
/// control plane: one of [`DYNAMODB_CHANGES`]); the edge asks before it works out a
/// status, so that the data plane's requests pay nothing for the log.
pub fn records_change(op: &str) -> bool {
    enabled() && DYNAMODB_CHANGES.contains(&op)
}

/// Records a DynamoDB control-plane change (see [`records_change`]) with the status it
/// was answered with. `body` is the request as dispatched.
pub fn dynamodb_change(key: Option<&Key>, parts: &Parts, op: &str, body: &[u8], status: u16) {
    if !records_change(op) {
        return;
    }
    change(
        &Identity::of(key),
        source_ip(&parts.extensions),
        &format!("dynamodb:{op}"),
        &dynamodb_resource(body),
        status,
    );
}

/// The action and resource of a `/v1` request: Eddy's name for each change route, with
/// the function, trigger, schedule or key it names (a creation names what it created
/// only in its answer: see [`created_name`]); otherwise the method and the path.
fn v1_action(method: &Method, path: &str) -> (String, String) {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let named = match (method.as_str(), segments.as_slice()) {
        ("PUT", ["v1", "functions", name]) => Some(("CreateFunction", *name)),
        ("DELETE", ["v1", "functions", name]) => Some(("DeleteFunction", *name)),
        ("POST", ["v1", "functions", name, "invoke"]) => Some(("InvokeFunction", *name)),
        ("POST", ["v1", "triggers"]) => Some(("CreateTrigger", "*")),
        ("PATCH", ["v1", "triggers", id]) => Some(("UpdateTrigger", *id)),
        ("DELETE", ["v1", "triggers", id]) => Some(("DeleteTrigger", *id)),
        ("POST", ["v1", "schedules"]) => Some(("CreateSchedule", "*")),
        ("PATCH", ["v1", "schedules", name]) => Some(("UpdateSchedule", *name)),
        ("DELETE", ["v1", "schedules", name]) => Some(("DeleteSchedule", *name)),
        ("POST", ["v1", "iam", "keys"]) => Some(("CreateAccessKey", "*")),
        ("DELETE", ["v1", "iam", "keys", id]) => Some(("DeleteAccessKey", *id)),
        _ => None,
    };
    match named {
        Some((action, resource)) => (format!("eddy:{action}"), resource.to_owned()),
        None => (format!("{method} {path}"), path.to_owned()),
    }
}

/// The field of a creation's answer that names what it created.
fn created_name(action: &str) -> Option<&'static str> {
    match action {
        "eddy:CreateTrigger" => Some("UUID"),
        "eddy:CreateSchedule" => Some("Name"),
        "eddy:CreateAccessKey" => Some("AccessKeyId"),
        _ => None,
    }
}

/// The middleware on the `/v1` routes (inside the guard, which leaves the verified key
/// in the request's extensions) that records every change: every request but GET,
/// HEAD and OPTIONS, with the status it was answered with.
pub async fn v1_changes(req: Request, next: Next) -> Response {
    if !enabled()
        || matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || !req.uri().path().starts_with("/v1/")
    {
        return next.run(req).await;
    }
    let (action, mut resource) = v1_action(req.method(), req.uri().path());
    let identity = Identity::of(req.extensions().get::<Arc<Key>>().map(|k| &**k));
    let ip = source_ip(req.extensions());
    let mut resp = next.run(req).await;
    let status = resp.status();
    if let Some(field) = created_name(&action).filter(|_| status == StatusCode::CREATED) {
        let (head, body) = resp.into_parts();
        let small = axum::body::HttpBody::size_hint(&body)
            .upper()
            .is_some_and(|n| n <= CREATED_BODY_BYTES_MAX as u64);
        let body = if small {
            match axum::body::to_bytes(body, CREATED_BODY_BYTES_MAX).await {
                Ok(bytes) => {
                    if let Some(name) = serde_json::from_slice::<serde_json::Value>(&bytes)
                        .ok()
                        .and_then(|v| v.get(field)?.as_str().map(str::to_owned))
                    {
                        resource = name;
                    }
                    axum::body::Body::from(bytes)
                }
                Err(_) => axum::body::Body::empty(),
            }
        } else {
            body
        };
        resp = Response::from_parts(head, body);
    }
    change(&identity, ip, &action, &resource, status.as_u16());
    resp
}

#[cfg(test)]
mod tests;
