//! `eddy function logs NAME --follow`: prints the function's log lines and the errors
//! of its triggers (each trigger's `RecentErrors`) as they come, one line each, oldest
//! first, until Ctrl-C.
//!
//! Owns the follow loop and the one-line rendering of a log line and of a trigger
//! error. Polls the `/v1` API a client command already uses (no stream endpoint): a
//! poll is a cheap local request, and a server restart between two polls loses nothing
//! the rings still hold. Must not know how the server keeps logs or errors.

use std::collections::HashSet;
use std::io::Write as _;
use std::time::Duration;

use hyper::Method;
use serde_json::Value;

use super::{ApiRequest, Endpoint, encode, send};

/// Pause between two polls: a new line shows within this.
pub const FOLLOW_POLL_MS: u64 = 500;

/// Lines printed from the backlog when following starts (unless `--limit` says).
pub const FOLLOW_BACKLOG_LINES_DEFAULT: usize = 20;

/// Follows the logs of function `name` until Ctrl-C or a closed stdout (exit 0), or a
/// failed request (exit 1, with the reason on stderr).
pub(super) fn logs(
    endpoint: &Endpoint,
    name: &str,
    limit: Option<usize>,
) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("eddy: cannot start the client: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        tokio::select! {
            outcome = follow(endpoint, name, limit) => outcome,
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    });
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eddy: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// What has been printed: log lines by (invocation, version, line within it), trigger
/// errors by their trigger and every member. Each poll keeps
/// only the keys the server still holds, so the sets stay as small as its rings.
#[derive(Default)]
struct Printed {
    lines: HashSet<(u64, u64, usize)>,
    errors: HashSet<String>,
}

/// The lines of one function not printed yet, for a caller that polls in its own loop
/// (`eddy dev`): the first call only notes what is there (no backlog).
#[derive(Default)]
pub(crate) struct Follower {
    printed: Printed,
    started: bool,
}

impl Follower {
    /// The new lines of `logs` (`GET /v1/functions/{name}/logs`) and `triggers`
    /// (`GET /v1/triggers?FunctionName=…`), oldest first.
    pub(crate) fn new_lines(&mut self, logs: &Value, triggers: &Value) -> Vec<String> {
        let backlog = if self.started { None } else { Some(0) };
        self.started = true;
        new_lines(&mut self.printed, logs, triggers, backlog)
    }
}

async fn follow(endpoint: &Endpoint, name: &str, limit: Option<usize>) -> Result<(), String> {
    let mut printed = Printed::default();
    let mut first = true;
    loop {
        let logs = get_json(endpoint, format!("/v1/functions/{}/logs", encode(name))).await?;
        let triggers = get_json(
            endpoint,
            format!("/v1/triggers?FunctionName={}", encode(name)),
        )
        .await?;
        let backlog = if first {
            Some(limit.unwrap_or(FOLLOW_BACKLOG_LINES_DEFAULT))
        } else {
            None
        };
        let mut out = std::io::stdout().lock();
        for line in new_lines(&mut printed, &logs, &triggers, backlog) {
            // A reader that went away (`| head`) ends the follow, quietly, as it
            // ends any Unix tool.
            if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                return Ok(());
            }
        }
        drop(out);
        first = false;
        tokio::time::sleep(Duration::from_millis(FOLLOW_POLL_MS)).await;
    }
}

async fn get_json(endpoint: &Endpoint, path: String) -> Result<Value, String> {
    let (status, body) = send(endpoint, ApiRequest::json(Method::GET, path, Vec::new())).await?;
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| format!("{status}: the answer is not JSON ({e})"))?;
    if !status.is_success() {
        let message = v["error"]["message"].as_str().unwrap_or("request failed");
        return Err(format!("{status}: {message}"));
    }
    Ok(v)
}

/// The lines not printed yet, oldest first (at most the newest `backlog` of them on the
/// first poll), and notes them as printed.
fn new_lines(
    printed: &mut Printed,
    logs: &Value,
    triggers: &Value,
    backlog: Option<usize>,
) -> Vec<String> {
    // (time, line): both kinds carry RFC 3339 UTC times with milliseconds, which sort
    // as text.
    let mut fresh: Vec<(String, String)> = Vec::new();
    let mut lines = HashSet::new();
    let mut within: (u64, u64, usize) = (u64::MAX, u64::MAX, 0);
    for line in logs["logs"].as_array().into_iter().flatten() {
        let invocation = line["invocation"].as_u64().unwrap_or(0);
        let version = line["version"].as_u64().unwrap_or(0);
        within = if (within.0, within.1) == (invocation, version) {
            (invocation, version, within.2 + 1)
        } else {
            (invocation, version, 0)
        };
        lines.insert(within);
        if !printed.lines.contains(&within) {
            let time = line["timestamp"].as_str().unwrap_or("").to_string();
            fresh.push((time, render_log_line(line)));
        }
    }
    let mut errors = HashSet::new();
    for mapping in triggers["EventSourceMappings"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let id = mapping["UUID"].as_str().unwrap_or("");
        for e in mapping["RecentErrors"].as_array().into_iter().flatten() {
            // Every member: two errors of one millisecond differ in their records
            // (a bisected batch and its first half) or their attempt.
            let key = format!("{id} {e}");
            if !printed.errors.contains(&key) {
                let time = e["Time"].as_str().unwrap_or("").to_string();
                fresh.push((time, render_trigger_error(id, e)));
            }
            errors.insert(key);
        }
    }
    printed.lines = lines;
    printed.errors = errors;
    // A stable sort keeps each invocation's lines in their order.
    fresh.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(n) = backlog {
        let skip = fresh.len().saturating_sub(n);
        fresh.drain(..skip);
    }
    fresh.into_iter().map(|(_, line)| line).collect()
}

/// `TIME LEVEL [vVERSION #INVOCATION] message key=value…`
fn render_log_line(line: &Value) -> String {
    let mut out = format!(
        "{} {:<5} [v{} #{}] {}",
        line["timestamp"].as_str().unwrap_or(""),
        line["level"].as_str().unwrap_or("").to_uppercase(),
        line["version"],
        line["invocation"],
        line["message"].as_str().unwrap_or("")
    );
    if let Some(fields) = line["fields"].as_object() {
        for (k, v) in fields {
            out.push_str(&format!(" {k}={}", v.as_str().unwrap_or("")));
        }
    }
    out
}

/// `TIME ERROR [trigger ID] KIND shard FIRST..LAST attempt N: error`
fn render_trigger_error(id: &str, e: &Value) -> String {
    let text = |k: &str| e[k].as_str().unwrap_or("").to_string();
    format!(
        "{} ERROR [trigger {id}] {} {} {}..{} attempt {}: {}",
        text("Time"),
        text("Kind"),
        text("ShardId"),
        text("FirstSequenceNumber"),
        text("LastSequenceNumber"),
        e["Attempt"],
        text("Error")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn log_line(invocation: u64, time: &str, message: &str) -> Value {
        json!({
            "invocation": invocation, "version": 1, "timestamp": time,
            "level": "info", "message": message, "fields": {"k": "v"},
        })
    }

    #[test]
    fn each_line_and_error_is_printed_once_in_time_order() {
        let error = json!({
            "Time": "2026-01-01T00:00:01.500Z", "Kind": "FunctionError", "Error": "trapped: boom",
            "ShardId": "shardId-1", "FirstSequenceNumber": "100", "LastSequenceNumber": "200",
            "Attempt": 2,
        });
        let logs = json!({"logs": [
            log_line(1, "2026-01-01T00:00:01.000Z", "one"),
            log_line(1, "2026-01-01T00:00:01.000Z", "two"),
        ]});
        let triggers = json!({"EventSourceMappings": [{"UUID": "t1", "RecentErrors": [error]}]});
        let mut printed = Printed::default();
        let first = new_lines(&mut printed, &logs, &triggers, Some(20));
        assert_eq!(
            first,
            [
                "2026-01-01T00:00:01.000Z INFO  [v1 #1] one k=v",
                "2026-01-01T00:00:01.000Z INFO  [v1 #1] two k=v",
                "2026-01-01T00:00:01.500Z ERROR [trigger t1] FunctionError shardId-1 100..200 attempt 2: trapped: boom",
            ]
        );
        assert!(new_lines(&mut printed, &logs, &triggers, None).is_empty());
        let mut more = logs.clone();
        more["logs"]
            .as_array_mut()
            .unwrap()
            .push(log_line(2, "2026-01-01T00:00:02.000Z", "three"));
        assert_eq!(
            new_lines(&mut printed, &more, &triggers, None),
            ["2026-01-01T00:00:02.000Z INFO  [v1 #2] three k=v"]
        );
    }

    #[test]
    fn errors_of_one_millisecond_on_different_records_are_both_printed() {
        let error = |last: &str| {
            json!({
                "Time": "2026-01-01T00:00:01.500Z", "Kind": "FunctionError", "Error": "e",
                "ShardId": "s", "FirstSequenceNumber": "1", "LastSequenceNumber": last,
                "Attempt": 1,
            })
        };
        let triggers = json!({"EventSourceMappings": [{"UUID": "t", "RecentErrors": [error("2"), error("1")]}]});
        let mut printed = Printed::default();
        let lines = new_lines(&mut printed, &json!({}), &triggers, None);
        assert_eq!(lines.len(), 2, "{lines:?}");
    }

    #[test]
    fn the_first_poll_prints_only_the_newest_backlog() {
        let logs = json!({"logs": (0..30)
            .map(|i| log_line(i, &format!("2026-01-01T00:00:{i:02}.000Z"), &format!("l{i}")))
            .collect::<Vec<_>>()});
        let mut printed = Printed::default();
        let first = new_lines(&mut printed, &logs, &json!({}), Some(3));
        assert_eq!(first.len(), 3);
        assert!(first[0].ends_with("l27 k=v"), "{first:?}");
    }
}
