//! The welcome-email pipeline end to end: the real binary with `--smtp-url`, a real SMTP
//! server on loopback (`tests/python/smtp_sink.py`, aiosmtpd, run by `$EDDY_TEST_PYTHON`)
//! that keeps every accepted message as an `.eml` file, the real `welcome-email` function
//! (`functions/pipelines/welcome-email`, built by `tests/run.sh`), and DynamoDB writes on
//! `POST /`.
//!
//! Checked: one mail per inserted user with the right sender, recipient, subject and body;
//! none for MODIFY, REMOVE, an item without e-mail or with a malformed address; a batch
//! whose SMTP send is refused (`451`) midway is retried and still mails every user once;
//! a second trigger replaying the stream from `TRIM_HORIZON` mails nobody again; a
//! deployment without the `email` grant is denied. Every wait polls against a deadline.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::api::{
    WAIT, attach, create_table, ddb, deploy, guest, logs, metric, send_json, trigger,
    wait_delivered, wait_for,
};
use crate::harness::Server;

/// How long the SMTP sink may take to print its address.
const SINK_STARTUP_TIMEOUT_S: u64 = 20;
/// The function's sender `Acme Welcome <welcome@example.org>`, percent-encoded for the
/// deploy query.
const FROM_QUERY: &str = "Acme%20Welcome%20%3Cwelcome%40example.org%3E";
/// Its `From` header as lettre writes it (a display name with a space is quoted).
const FROM_HEADER: &str = "\"Acme Welcome\" <welcome@example.org>";

// ---------------------------------------------------------------------------
// the SMTP sink
// ---------------------------------------------------------------------------

/// `tests/python/smtp_sink.py` on an ephemeral loopback port, writing into a temporary
/// directory; killed when dropped.
struct Sink {
    child: Child,
    /// `smtp://127.0.0.1:PORT`, for `--smtp-url`.
    url: String,
    dir: tempfile::TempDir,
}

impl Sink {
    /// Starts the sink; it answers `451` to `refuse_first` messages once `refuse_after`
    /// messages were accepted.
    fn start(refuse_first: u32, refuse_after: u32) -> Sink {
        let python = std::env::var("EDDY_TEST_PYTHON").unwrap_or_else(|_| {
            panic!(
                "EDDY_TEST_PYTHON is not set: run the suite with ./tests/run.sh, which \
                 installs aiosmtpd for the SMTP sink"
            )
        });
        let dir = tempfile::tempdir().expect("temp dir");
        let script = format!("{}/tests/python/smtp_sink.py", env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new(python)
            .arg(script)
            .args(["--listen", "127.0.0.1:0", "--dir"])
            .arg(dir.path())
            .args(["--refuse-first", &refuse_first.to_string()])
            .args(["--refuse-after", &refuse_after.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP sink");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Keeps draining, so that the sink never blocks on a full pipe.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("SMTP sink listening on ") {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
        let addr = wait_for(
            "the SMTP sink to start",
            Duration::from_secs(SINK_STARTUP_TIMEOUT_S),
            || {
                if let Ok(addr) = rx.try_recv() {
                    return Ok(addr);
                }
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "the SMTP sink exited during start-up: {status} (is aiosmtpd installed?)"
                    );
                }
                Err(String::new())
            },
        );
        Sink {
            child,
            url: format!("smtp://{addr}"),
            dir,
        }
    }

    /// Every message received so far, in arrival order.
    fn mails(&self) -> Vec<Mail> {
        mails_in(self.dir.path())
    }

    /// Waits until `count` messages arrived and `done` holds for them; returns them.
    fn wait_for(&self, what: &str, count: usize, done: impl Fn(&[Mail]) -> bool) -> Vec<Mail> {
        wait_for(what, WAIT, || {
            let mails = self.mails();
            if mails.len() >= count && done(&mails) {
                Ok(mails)
            } else {
                Err(format!("received {}: {mails:#?}", mails.len()))
            }
        })
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One received message: its headers (names lower-cased, folded lines joined) and body.
#[derive(Debug, Clone)]
struct Mail {
    file: String,
    headers: BTreeMap<String, String>,
    body: String,
}

impl Mail {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("{} has no {name} header: {self:#?}", self.file))
    }

    /// The recipient (each test user has exactly one).
    fn to(&self) -> &str {
        self.header("to")
    }
}

fn mails_in(dir: &Path) -> Vec<Mail> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read the mail directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| {
            let raw = std::fs::read_to_string(path).expect("read a message");
            let raw = raw.replace("\r\n", "\n");
            let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
            let mut headers = BTreeMap::new();
            let mut last: Option<String> = None;
            for line in head.lines() {
                if line.starts_with([' ', '\t']) {
                    if let Some(name) = &last {
                        let value: &mut String = headers.get_mut(name).expect("header");
                        value.push(' ');
                        value.push_str(line.trim());
                    }
                } else if let Some((name, value)) = line.split_once(':') {
                    let name = name.trim().to_ascii_lowercase();
                    headers.insert(name.clone(), value.trim().to_owned());
                    last = Some(name);
                }
            }
            Mail {
                file: path.file_name().unwrap().to_string_lossy().into_owned(),
                headers,
                body: body.to_owned(),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// the pipeline
// ---------------------------------------------------------------------------

/// Puts user `id`, with `email` and `name` when given.
fn put_user(endpoint: &str, id: &str, email: Option<&str>, name: Option<&str>) {
    let mut item = json!({"id": {"S": id}});
    if let Some(email) = email {
        item["email"] = json!({"S": email});
    }
    if let Some(name) = name {
        item["name"] = json!({"S": name});
    }
    ddb(
        endpoint,
        "PutItem",
        json!({"TableName": "users", "Item": item}),
    );
}

/// Deploys the welcome-email function as `name`, with the `email` grant if `email`.
fn deploy_welcome(endpoint: &str, name: &str, email: bool) {
    let grant = if email { "&email=true" } else { "" };
    deploy(
        endpoint,
        name,
        &format!("?env=FROM={FROM_QUERY}&env=APP_NAME=Acme{grant}"),
        &guest("welcome_email"),
    )
    .expect(201);
}

/// The single mail to `to` among `mails`.
fn mail_to<'a>(mails: &'a [Mail], to: &str) -> &'a Mail {
    let found: Vec<&Mail> = mails.iter().filter(|m| m.to() == to).collect();
    assert_eq!(found.len(), 1, "expected one mail to {to}: {mails:#?}");
    found[0]
}

// ---------------------------------------------------------------------------
// tests
// ---------------------------------------------------------------------------

/// INSERTs mail once each; MODIFY, REMOVE, a missing or malformed address do not; a
/// replay from TRIM_HORIZON through a second trigger mails nobody again.
#[test]
fn welcome_mail_once_per_new_user_and_never_again_on_modify_remove_or_replay() {
    let sink = Sink::start(0, 0);
    let server = Server::start_with(&["--smtp-url", &sink.url]);
    let ep = &server.endpoint;
    create_table(ep, "users", true);
    deploy_welcome(ep, "welcome-email", true);
    let first = attach(ep, "welcome-email", "users");

    put_user(ep, "u1", Some("ada@example.com"), Some("Ada"));
    put_user(ep, "u2", Some("grace@example.com"), Some("Grace"));
    put_user(ep, "u3", None, Some("Nobody"));
    put_user(ep, "u4", Some("not an address"), Some("Typo"));
    ddb(
        ep,
        "UpdateItem",
        json!({
            "TableName": "users",
            "Key": {"id": {"S": "u1"}},
            "UpdateExpression": "SET #n = :n",
            "ExpressionAttributeNames": {"#n": "name"},
            "ExpressionAttributeValues": {":n": {"S": "Ada Lovelace"}},
        }),
    );
    ddb(
        ep,
        "DeleteItem",
        json!({"TableName": "users", "Key": {"id": {"S": "u2"}}}),
    );
    // The last record: one shard delivers in order, so once its mail is in, every
    // record before it was handled (and would have mailed by then).
    put_user(ep, "u5", Some("lin@example.com"), None);
    let records = 7;

    let mails = sink.wait_for("the mail to lin@example.com", 1, |m| {
        m.iter().any(|m| m.to() == "lin@example.com")
    });
    wait_delivered(ep, &first, records, WAIT);
    let mails_after = sink.mails();
    assert_eq!(mails_after.len(), mails.len());
    assert_eq!(
        mails.len(),
        3,
        "one mail per user with an address, none for MODIFY or REMOVE: {mails:#?}"
    );

    let ada = mail_to(&mails, "ada@example.com");
    assert_eq!(ada.header("from"), FROM_HEADER);
    assert_eq!(ada.header("subject"), "Welcome to Acme, Ada!");
    assert_eq!(ada.header("x-envelope-to"), "ada@example.com");
    assert_eq!(ada.header("x-envelope-from"), "welcome@example.org");
    assert!(ada.header("content-type").starts_with("text/plain"));
    assert!(ada.body.starts_with("Hi Ada,\n"), "{}", ada.body);
    assert!(ada.body.contains("welcome to Acme!"), "{}", ada.body);
    let grace = mail_to(&mails, "grace@example.com");
    assert_eq!(grace.header("subject"), "Welcome to Acme, Grace!");
    assert!(grace.body.starts_with("Hi Grace,\n"), "{}", grace.body);
    let lin = mail_to(&mails, "lin@example.com");
    assert_eq!(lin.header("subject"), "Welcome to Acme!");
    assert!(lin.body.starts_with("Hi there,\n"), "{}", lin.body);
    let ids: std::collections::BTreeSet<&str> =
        mails.iter().map(|m| m.header("message-id")).collect();
    assert_eq!(ids.len(), 3, "distinct Message-IDs: {ids:?}");

    // The two records without a usable address were logged and skipped.
    let no_email = logs(ep, "welcome-email", "skipped: the user has no string email");
    assert_eq!(no_email.len(), 1, "{no_email:?}");
    assert_eq!(no_email[0]["fields"]["key"], "welcome/u3");
    let invalid = logs(ep, "welcome-email", "skipped: invalid e-mail");
    assert_eq!(invalid.len(), 1, "{invalid:?}");
    assert_eq!(invalid[0]["fields"]["key"], "welcome/u4");
    assert_eq!(metric(&trigger(ep, &first), "Errors"), 0);

    // A second trigger replays the whole stream through the same function: every
    // INSERT is handled again, and every send finds its key already recorded.
    let replay = attach(ep, "welcome-email", "users");
    wait_delivered(ep, &replay, records, WAIT);
    let after_replay = sink.mails();
    assert_eq!(
        after_replay.len(),
        3,
        "the replay must not mail again: {after_replay:#?}"
    );
    let sent_u1: Vec<String> = logs(ep, "welcome-email", "welcome e-mail sent")
        .iter()
        .filter(|l| l["fields"]["key"] == "welcome/u1")
        .map(|l| {
            l["fields"]["messageId"]
                .as_str()
                .expect("messageId")
                .to_owned()
        })
        .collect();
    assert_eq!(
        sent_u1.len(),
        2,
        "u1 was handled by both triggers: {sent_u1:?}"
    );
    assert!(
        sent_u1.iter().all(|id| id == ada.header("message-id")),
        "the replay got the first message's id: {sent_u1:?} vs {}",
        ada.header("message-id")
    );
}

/// The SMTP server refuses (451) the second message, twice: the batch of three new
/// users fails after the first mail went out and is retried; the retries skip the mail
/// already sent, and every user ends up with exactly one.
#[test]
fn a_refused_send_retries_the_batch_and_still_mails_each_user_once() {
    let sink = Sink::start(2, 1);
    let server = Server::start_with(&["--smtp-url", &sink.url]);
    let ep = &server.endpoint;
    create_table(ep, "users", true);
    deploy_welcome(ep, "welcome-email", true);
    // Written before the trigger exists, so that its first batch holds all three.
    put_user(ep, "u1", Some("ada@example.com"), Some("Ada"));
    put_user(ep, "u2", Some("grace@example.com"), Some("Grace"));
    put_user(ep, "u3", Some("lin@example.com"), Some("Lin"));
    let id = attach(ep, "welcome-email", "users");

    wait_delivered(ep, &id, 3, WAIT);
    let mails = sink.mails();
    assert_eq!(mails.len(), 3, "one mail per user: {mails:#?}");
    for to in ["ada@example.com", "grace@example.com", "lin@example.com"] {
        mail_to(&mails, to);
    }
    assert!(
        metric(&trigger(ep, &id), "Retries") >= 2,
        "the two refusals were retried"
    );
    // u1's mail went out in the first attempt; both retries asked again and got its id.
    let ada = mail_to(&mails, "ada@example.com");
    let sent_u1: Vec<Value> = logs(ep, "welcome-email", "welcome e-mail sent")
        .into_iter()
        .filter(|l| l["fields"]["key"] == "welcome/u1")
        .collect();
    assert_eq!(sent_u1.len(), 3, "{sent_u1:?}");
    assert!(
        sent_u1
            .iter()
            .all(|l| l["fields"]["messageId"] == ada.header("message-id")),
        "{sent_u1:?}"
    );
    let refused = logs(
        ep,
        "welcome-email",
        "welcome e-mail not sent; the batch will be retried",
    );
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused.iter().all(|l| l["fields"]["key"] == "welcome/u2"
            && l["fields"]["error"]
                .as_str()
                .is_some_and(|e| e.contains("451"))),
        "{refused:?}"
    );
}

/// A deployment without the `email` grant cannot send, even with an SMTP server
/// configured: the send is denied and the invocation fails.
#[test]
fn a_function_without_the_email_grant_is_denied() {
    let sink = Sink::start(0, 0);
    let server = Server::start_with(&["--smtp-url", &sink.url]);
    let ep = &server.endpoint;
    deploy_welcome(ep, "no-grant", false);
    let event = json!({"Records": [{
        "eventID": "1",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/users/stream/x",
        "dynamodb": {
            "ApproximateCreationDateTime": 1.7e9,
            "Keys": {"id": {"S": "u1"}},
            "NewImage": {"id": {"S": "u1"}, "email": {"S": "ada@example.com"}, "name": {"S": "Ada"}},
            "SequenceNumber": "1",
            "SizeBytes": 40,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }]});
    let out = send_json(ep, "POST", "/v1/functions/no-grant/invoke", &event).expect(200);
    assert_eq!(out["error"]["kind"], "FunctionError", "{out}");
    let message = out["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("denied") && message.contains("not granted"),
        "{out}"
    );
    assert!(sink.mails().is_empty());
}
