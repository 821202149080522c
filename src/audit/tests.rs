//! The audit log's line format, action names and writer.

use super::*;

fn parsed(text: &str) -> Line {
    assert!(text.ends_with('\n') && !text[..text.len() - 1].contains('\n'));
    serde_json::from_str(text).unwrap()
}

#[test]
fn times_are_iso_8601_utc_with_milliseconds() {
    assert_eq!(iso8601_ms(0), "1970-01-01T00:00:00.000Z");
    // 2026-12-07T05:52:48.123Z.
    assert_eq!(iso8601_ms(1_796_622_768_123), "2026-12-07T05:52:48.123Z");
    assert_eq!(iso8601_ms(951_782_400_007), "2000-02-29T00:00:00.007Z");
}

#[test]
fn a_denial_is_one_line_with_every_field() {
    let who = Identity {
        user: Some("alice".into()),
        access_key_id: Some("EDDYKEY".into()),
    };
    let ip = Some("::ffff:10.1.2.3".parse().unwrap());
    let message = "The request signature we calculated does not match\n'POST\n/\n\"x\"'";
    let text = line(
        1_796_622_768_123,
        Event::Denied,
        &who,
        true,
        ip,
        "dynamodb:ListTables",
        "",
        Some(400),
        Some(("InvalidSignatureException", message)),
    );
    assert_eq!(
        text,
        format!(
            "{{\"time\":\"2026-12-07T05:52:48.123Z\",\"event\":\"denied\",\"identity\":\"key\",\
             \"user\":\"alice\",\"access_key_id\":\"EDDYKEY\",\"source_ip\":\"10.1.2.3\",\
             \"action\":\"dynamodb:ListTables\",\"resource\":\"*\",\"status\":400,\
             \"error_type\":\"InvalidSignatureException\",\"message\":{}}}\n",
            serde_json::to_string(message).unwrap()
        )
    );
    assert_eq!(parsed(&text).message.as_deref(), Some(message));
}

#[test]
fn a_change_has_its_status_and_no_error_and_nobody_is_anonymous_or_auth_off() {
    let nobody = Identity::default();
    let text = line(
        0,
        Event::Change,
        &nobody,
        false,
        None,
        "dynamodb:CreateTable",
        "t",
        Some(200),
        None,
    );
    let l = parsed(&text);
    assert_eq!(
        (l.event.as_str(), l.identity.as_str(), l.status),
        ("change", "auth-off", Some(200))
    );
    assert_eq!((l.user, l.access_key_id, l.source_ip), (None, None, None));
    assert!(!text.contains("error_type") && !text.contains("message"));
    assert!(text.contains("\"user\":null,\"access_key_id\":null,\"source_ip\":null"));
    let l = parsed(&line(
        0,
        Event::Denied,
        &nobody,
        true,
        None,
        "a",
        "r",
        None,
        Some(("E", "m")),
    ));
    assert_eq!(l.identity, "anonymous");
    assert_eq!(l.status, None);
}

#[test]
fn long_fields_are_clipped() {
    let long = "é".repeat(AUDIT_FIELD_CHARS_MAX + 10);
    let l = parsed(&line(
        0,
        Event::Denied,
        &Identity::default(),
        true,
        None,
        "a",
        &long,
        None,
        Some(("E", &long)),
    ));
    assert_eq!(l.resource.chars().count(), AUDIT_FIELD_CHARS_MAX + 1);
    assert_eq!(
        l.message.unwrap().chars().count(),
        AUDIT_FIELD_CHARS_MAX + 1
    );
}

#[test]
fn v1_routes_are_named_actions_on_named_resources() {
    let a = |m: Method, p: &str| v1_action(&m, p);
    let s = |x: &str, y: &str| (x.to_owned(), y.to_owned());
    assert_eq!(
        a(Method::PUT, "/v1/functions/f"),
        s("eddy:CreateFunction", "f")
    );
    assert_eq!(
        a(Method::DELETE, "/v1/functions/f"),
        s("eddy:DeleteFunction", "f")
    );
    assert_eq!(
        a(Method::POST, "/v1/functions/f/invoke"),
        s("eddy:InvokeFunction", "f")
    );
    assert_eq!(
        a(Method::POST, "/v1/triggers"),
        s("eddy:CreateTrigger", "*")
    );
    assert_eq!(
        a(Method::PATCH, "/v1/triggers/u-1"),
        s("eddy:UpdateTrigger", "u-1")
    );
    assert_eq!(
        a(Method::DELETE, "/v1/schedules/n"),
        s("eddy:DeleteSchedule", "n")
    );
    assert_eq!(
        a(Method::POST, "/v1/iam/keys"),
        s("eddy:CreateAccessKey", "*")
    );
    assert_eq!(
        a(Method::DELETE, "/v1/iam/keys/EDDYK"),
        s("eddy:DeleteAccessKey", "EDDYK")
    );
    assert_eq!(
        a(Method::GET, "/v1/iam/keys"),
        s("GET /v1/iam/keys", "/v1/iam/keys")
    );
    assert_eq!(
        a(Method::POST, "/v1/nothing"),
        s("POST /v1/nothing", "/v1/nothing")
    );
    assert_eq!(created_name("eddy:CreateTrigger"), Some("UUID"));
    assert_eq!(created_name("eddy:DeleteTrigger"), None);
}

#[test]
fn dynamodb_requests_name_their_table_or_arn() {
    assert_eq!(
        dynamodb_resource(br#"{"TableName":"t","KeySchema":[]}"#),
        "t"
    );
    assert_eq!(
        dynamodb_resource(br#"{"ResourceArn":"arn:aws:dynamodb:r:1:table/t","Tags":[]}"#),
        "arn:aws:dynamodb:r:1:table/t"
    );
    assert_eq!(dynamodb_resource(b"{}"), "*");
    assert_eq!(dynamodb_resource(b"not json"), "*");
}

#[test]
fn a_full_queue_drops_and_counts_instead_of_waiting() {
    let (queue, lines) = std::sync::mpsc::sync_channel(2);
    let log = Log {
        queue,
        counters: Arc::new(Counters::default()),
    };
    for i in 0..5 {
        log.push(format!("{i}\n"));
    }
    let c = &log.counters;
    assert_eq!(c.dropped.load(Ordering::Relaxed), 3);
    assert_eq!(c.queued_bytes.load(Ordering::Relaxed), 4);
    assert_eq!(lines.try_iter().count(), 2);

    // Bytes bound the queue too: a line that would take it over is dropped.
    let (queue, lines) = std::sync::mpsc::sync_channel(AUDIT_QUEUE_LINES_MAX);
    let log = Log {
        queue,
        counters: Arc::new(Counters::default()),
    };
    let big = "x".repeat(AUDIT_QUEUE_BYTES_MAX / 2);
    log.push(big.clone());
    log.push(big);
    log.push("small\n".to_owned());
    let c = &log.counters;
    assert_eq!(c.dropped.load(Ordering::Relaxed), 1);
    assert_eq!(
        c.queued_bytes.load(Ordering::Relaxed),
        AUDIT_QUEUE_BYTES_MAX
    );
    assert_eq!(lines.try_iter().count(), 2);
}

#[test]
fn the_writer_appends_every_line_and_close_waits_for_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    std::fs::write(&path, "earlier\n").unwrap();
    let file = OpenOptions::new().append(true).open(&path).unwrap();
    let (queue, lines) = std::sync::mpsc::sync_channel(AUDIT_QUEUE_LINES_MAX);
    let counters = Arc::new(Counters::default());
    let log = Log {
        queue: queue.clone(),
        counters: counters.clone(),
    };
    let writer = std::thread::spawn(move || write_lines(file, &lines, &counters));
    for i in 0..100 {
        log.push(format!("{i}\n"));
    }
    let (ack, done) = std::sync::mpsc::sync_channel(1);
    queue.send(Message::Close(ack)).unwrap();
    done.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(log.counters.written.load(Ordering::Relaxed), 100);
    assert_eq!(log.counters.queued_bytes.load(Ordering::Relaxed), 0);
    assert_eq!(log.counters.dropped.load(Ordering::Relaxed), 0);
    let text = std::fs::read_to_string(&path).unwrap();
    let expected: String = std::iter::once("earlier\n".to_owned())
        .chain((0..100).map(|i| format!("{i}\n")))
        .collect();
    assert_eq!(text, expected);
    drop((queue, log));
    writer.join().unwrap();
}
