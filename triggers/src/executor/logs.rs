//! Function logs: the lines of one invocation (structured `logging` calls plus captured
//! stdout/stderr) and the bounded per-function ring of recent lines, kept in a file so
//! that they survive a restart (or a crash).
//!
//! Owns the log line shape, every log bound and the log file's format (JSON lines). Must
//! not know wasmtime or where a line came from beyond its level and fields.

use eddy_engine::clock::now_ms;
use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use eddy_engine::sync::lock;
use serde::{Deserialize, Serialize};

/// Lines kept per invocation; later lines are dropped and counted in one final line.
pub const LOG_LINES_PER_INVOCATION_MAX: usize = 1_000;
/// A longer message is cut (at a character boundary) and marked with `…`.
pub const LOG_MESSAGE_BYTES_MAX: usize = 8 * 1024;
/// Fields kept per line; later fields are dropped.
pub const LOG_FIELDS_PER_LINE_MAX: usize = 32;
/// A longer field name or value is cut and marked with `…`.
pub const LOG_FIELD_BYTES_MAX: usize = 1024;
/// Lines kept per function across invocations and versions (the oldest go first).
pub const LOG_RING_LINES_MAX: usize = 2_000;
/// When a function's log file grows past this, it is rewritten with only the ring's
/// lines, so the file stays within a few times the ring's size.
pub const LOG_FILE_BYTES_MAX: u64 = 8 * 1024 * 1024;
/// The log file in a function's directory.
pub const LOG_FILE_NAME: &str = "logs.jsonl";

/// A log line's severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// One line of a function's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// The invocation that wrote it (unique per executor, increasing).
    pub invocation: u64,
    /// The function version that wrote it.
    pub version: u32,
    /// Wall-clock time, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    pub level: LogLevel,
    pub message: String,
    /// Structured fields; captured output has `("stream", "stdout" | "stderr")`.
    pub fields: Vec<(String, String)>,
}

/// The lines of one invocation, bounded. Shared between the store data and the captured
/// stdout/stderr streams (hence the lock; it is never contended across invocations).
#[derive(Debug)]
pub(crate) struct InvocationLog {
    invocation: u64,
    version: u32,
    lines: Vec<LogLine>,
    dropped_lines: u64,
    /// Bytes of an unfinished stdout / stderr line.
    partial: [Vec<u8>; 2],
}

pub(crate) type SharedInvocationLog = Arc<Mutex<InvocationLog>>;

/// Which captured output stream.
#[derive(Debug, Clone, Copy)]
pub(crate) enum OutputStream {
    Stdout = 0,
    Stderr = 1,
}

impl OutputStream {
    fn name(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }

    fn level(self) -> LogLevel {
        match self {
            Self::Stdout => LogLevel::Info,
            Self::Stderr => LogLevel::Error,
        }
    }
}

impl InvocationLog {
    pub(crate) fn new(invocation: u64, version: u32) -> Self {
        Self {
            invocation,
            version,
            lines: Vec::new(),
            dropped_lines: 0,
            partial: [Vec::new(), Vec::new()],
        }
    }

    /// Adds a line, truncating its parts to their bounds.
    pub(crate) fn push(&mut self, level: LogLevel, message: &str, fields: Vec<(String, String)>) {
        if self.lines.len() >= LOG_LINES_PER_INVOCATION_MAX {
            self.dropped_lines += 1;
            return;
        }
        let fields = fields
            .into_iter()
            .take(LOG_FIELDS_PER_LINE_MAX)
            .map(|(name, value)| {
                (
                    truncate(&name, LOG_FIELD_BYTES_MAX),
                    truncate(&value, LOG_FIELD_BYTES_MAX),
                )
            })
            .collect();
        self.lines.push(LogLine {
            invocation: self.invocation,
            version: self.version,
            timestamp_ms: now_ms(),
            level,
            message: truncate(message, LOG_MESSAGE_BYTES_MAX),
            fields,
        });
    }

    /// Adds captured output: every complete line becomes a log line; an unfinished line
    /// waits for its end (bounded by [`LOG_MESSAGE_BYTES_MAX`]).
    pub(crate) fn write_output(&mut self, stream: OutputStream, bytes: &[u8]) {
        let mut rest = bytes;
        while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
            let (line, tail) = rest.split_at(newline);
            self.partial_extend(stream, line);
            self.flush_output(stream);
            rest = &tail[1..];
        }
        self.partial_extend(stream, rest);
        if self.partial[stream as usize].len() >= LOG_MESSAGE_BYTES_MAX {
            self.flush_output(stream);
        }
    }

    fn partial_extend(&mut self, stream: OutputStream, bytes: &[u8]) {
        let partial = &mut self.partial[stream as usize];
        let room = LOG_MESSAGE_BYTES_MAX.saturating_sub(partial.len());
        partial.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn flush_output(&mut self, stream: OutputStream) {
        let bytes = std::mem::take(&mut self.partial[stream as usize]);
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim_end_matches('\r');
        self.push(
            stream.level(),
            text,
            vec![("stream".to_owned(), stream.name().to_owned())],
        );
    }

    /// Ends the invocation's log: flushes unfinished output lines and notes dropped lines.
    pub(crate) fn finish(&mut self) -> Vec<LogLine> {
        for stream in [OutputStream::Stdout, OutputStream::Stderr] {
            if !self.partial[stream as usize].is_empty() {
                self.flush_output(stream);
            }
        }
        let mut lines = std::mem::take(&mut self.lines);
        if self.dropped_lines > 0 {
            lines.push(LogLine {
                invocation: self.invocation,
                version: self.version,
                timestamp_ms: now_ms(),
                level: LogLevel::Warn,
                message: format!(
                    "{} log lines dropped (at most {LOG_LINES_PER_INVOCATION_MAX} per invocation)",
                    self.dropped_lines
                ),
                fields: Vec::new(),
            });
        }
        lines
    }
}

/// The last Rust panic message on the captured stderr of `lines`, if any: the
/// `panicked at` line and the message line that follows it.
pub(crate) fn panic_message(lines: &[LogLine]) -> Option<String> {
    let stderr: Vec<&str> = lines
        .iter()
        .filter(|line| line.fields.len() == 1 && line.fields[0].1 == "stderr")
        .map(|line| line.message.as_str())
        .collect();
    let at = stderr
        .iter()
        .rposition(|line| line.contains("panicked at"))?;
    Some(match stderr.get(at + 1) {
        Some(message) => format!("{} {message}", stderr[at]),
        None => stderr[at].to_owned(),
    })
}

/// The recent log lines of one function (all its versions), bounded by
/// [`LOG_RING_LINES_MAX`], appended to the function's log file as they come.
///
/// The file is written without fsync: logs are for people, and a write that reached the
/// kernel survives the process being killed; only a machine crash may lose the last
/// lines. A line that cannot be written is still kept in memory.
#[derive(Debug, Default)]
pub(crate) struct LogRing {
    lines: Mutex<VecDeque<LogLine>>,
    file: Mutex<Option<LogFile>>,
}

#[derive(Debug)]
struct LogFile {
    path: PathBuf,
    file: File,
    bytes: u64,
}

impl LogRing {
    /// The ring of the function whose directory is `dir`, with the newest lines of its
    /// log file (unreadable lines are skipped).
    pub(crate) fn open(dir: &Path) -> Self {
        let path = dir.join(LOG_FILE_NAME);
        let mut lines = VecDeque::new();
        if let Ok(file) = File::open(&path) {
            for line in BufReader::new(file).lines().map_while(Result::ok) {
                if let Ok(line) = serde_json::from_str::<LogLine>(&line) {
                    if lines.len() >= LOG_RING_LINES_MAX {
                        lines.pop_front();
                    }
                    lines.push_back(line);
                }
            }
        }
        let file = match OpenOptions::new().create(true).append(true).open(&path) {
            Ok(file) => {
                let bytes = file.metadata().map_or(0, |m| m.len());
                Some(LogFile { path, file, bytes })
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "function logs will not be kept on disk");
                None
            }
        };
        Self {
            lines: Mutex::new(lines),
            file: Mutex::new(file),
        }
    }

    pub(crate) fn extend(&self, lines: &[LogLine]) {
        if lines.is_empty() {
            return;
        }
        let mut ring = lock(&self.lines);
        for line in lines {
            if ring.len() >= LOG_RING_LINES_MAX {
                ring.pop_front();
            }
            ring.push_back(line.clone());
        }
        let mut file = lock(&self.file);
        if let Some(log_file) = file.as_mut() {
            let appended = log_file.append(lines.iter());
            if appended.is_ok() && log_file.bytes > LOG_FILE_BYTES_MAX {
                let rewritten = log_file.rewrite(ring.iter());
                if let Err(e) = rewritten {
                    tracing::warn!(error = %e, "cannot rewrite a function log file");
                }
            }
            if let Err(e) = appended {
                tracing::warn!(error = %e, "cannot append to a function log file");
            }
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<LogLine> {
        let ring = lock(&self.lines);
        ring.iter().cloned().collect()
    }
}

impl LogFile {
    fn append<'a>(&mut self, lines: impl Iterator<Item = &'a LogLine>) -> std::io::Result<()> {
        let bytes = encode(lines);
        // One write per invocation, so that concurrent appends never interleave lines.
        self.file.write_all(&bytes)?;
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    /// Replaces the file by `lines` (write a temporary file, rename it over).
    fn rewrite<'a>(&mut self, lines: impl Iterator<Item = &'a LogLine>) -> std::io::Result<()> {
        let bytes = encode(lines);
        let mut tmp = self.path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        fs::write(&tmp, &bytes)?;
        fs::rename(&tmp, &self.path)?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.bytes = bytes.len() as u64;
        Ok(())
    }
}

fn encode<'a>(lines: impl Iterator<Item = &'a LogLine>) -> Vec<u8> {
    let mut bytes = Vec::new();
    for line in lines {
        if serde_json::to_writer(&mut bytes, line).is_ok() {
            bytes.push(b'\n');
        }
    }
    bytes
}

fn truncate(text: &str, bytes_max: usize) -> String {
    if text.len() <= bytes_max {
        return text.to_owned();
    }
    let mut end = bytes_max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_split_into_lines_and_bounded() {
        let mut log = InvocationLog::new(1, 1);
        log.write_output(OutputStream::Stdout, b"hello\nwor");
        log.write_output(OutputStream::Stdout, b"ld\n");
        log.write_output(OutputStream::Stderr, b"tail without newline");
        let lines = log.finish();
        let messages: Vec<_> = lines.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(messages, ["hello", "world", "tail without newline"]);
        assert_eq!(lines[2].level, LogLevel::Error);
    }

    #[test]
    fn lines_per_invocation_are_bounded() {
        let mut log = InvocationLog::new(1, 1);
        for i in 0..LOG_LINES_PER_INVOCATION_MAX + 5 {
            log.push(LogLevel::Info, &i.to_string(), Vec::new());
        }
        let lines = log.finish();
        assert_eq!(lines.len(), LOG_LINES_PER_INVOCATION_MAX + 1);
        assert!(
            lines
                .last()
                .unwrap()
                .message
                .starts_with("5 log lines dropped")
        );
    }

    #[test]
    fn long_messages_are_cut_at_a_char_boundary() {
        let long = "é".repeat(LOG_MESSAGE_BYTES_MAX);
        let cut = truncate(&long, LOG_MESSAGE_BYTES_MAX - 1);
        assert!(cut.ends_with('…'));
        assert!(cut.len() <= LOG_MESSAGE_BYTES_MAX + '…'.len_utf8());
    }

    #[test]
    fn the_ring_survives_reopening_and_its_file_stays_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ring = LogRing::open(dir.path());
        let mut log = InvocationLog::new(1, 1);
        for i in 0..10 {
            log.push(
                LogLevel::Info,
                &format!("line {i}"),
                vec![("k".into(), "v".into())],
            );
        }
        let written = log.finish();
        ring.extend(&written);
        drop(ring);
        let reopened = LogRing::open(dir.path());
        assert_eq!(reopened.snapshot(), written);

        // Past the file bound, the file is rewritten with the ring's lines only.
        let long = "x".repeat(LOG_MESSAGE_BYTES_MAX - 10);
        let lines_over_bound = (LOG_FILE_BYTES_MAX as usize / LOG_MESSAGE_BYTES_MAX) + 10;
        for _ in 0..lines_over_bound / 100 + 1 {
            let mut log = InvocationLog::new(2, 1);
            for _ in 0..100 {
                log.push(LogLevel::Info, &long, Vec::new());
            }
            reopened.extend(&log.finish());
        }
        let bytes = std::fs::metadata(dir.path().join(LOG_FILE_NAME))
            .expect("log file")
            .len();
        assert!(
            bytes <= LOG_FILE_BYTES_MAX + 100 * LOG_MESSAGE_BYTES_MAX as u64,
            "{bytes}"
        );
        assert_eq!(
            LogRing::open(dir.path()).snapshot(),
            reopened.snapshot(),
            "the file holds what the ring holds"
        );
    }

    #[test]
    fn the_ring_keeps_the_newest_lines() {
        let ring = LogRing::default();
        let mut log = InvocationLog::new(1, 1);
        for i in 0..LOG_RING_LINES_MAX + 10 {
            log.push(LogLevel::Info, &i.to_string(), Vec::new());
            if i % 500 == 0 {
                ring.extend(&log.finish());
            }
        }
        ring.extend(&log.finish());
        let lines = ring.snapshot();
        assert_eq!(lines.len(), LOG_RING_LINES_MAX);
        assert_eq!(
            lines.last().unwrap().message,
            (LOG_RING_LINES_MAX + 9).to_string()
        );
    }
}
