//! Lines for a person at a terminal, on stdout and stderr, written without panicking.
//!
//! Rust's `println!` panics when its reader has gone away (`eddy function list | head -1`
//! closes the pipe after one line, and the next write fails with `EPIPE`): the client
//! died with exit code 101 and a panic message, and a server whose output was piped
//! into a reader that ended would have died on its next line. Unix tools stop writing
//! quietly instead, and so does everything written through here. Owns only that; it
//! must not know what the lines say.

use std::io::{ErrorKind, Write};

/// Writes `text` and a newline to stdout. A closed pipe is not an error (the reader
/// wanted no more, and the exit code goes on saying whether the command worked); any
/// other write error (a full disk under a redirection) is returned, since the output
/// the user asked for is then lost.
pub fn out(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    quiet_on_closed_pipe(writeln!(stdout, "{text}").and_then(|()| stdout.flush()))
}

/// Writes `text` and a newline to stderr, ignoring every failure: there is nowhere
/// left to report that the report could not be written.
pub fn err(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{text}");
}

fn quiet_on_closed_pipe(written: std::io::Result<()>) -> std::io::Result<()> {
    match written {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_pipe_is_quiet_and_other_failures_are_not() {
        let broken = std::io::Error::from(ErrorKind::BrokenPipe);
        assert!(quiet_on_closed_pipe(Err(broken)).is_ok());
        let full = std::io::Error::from(ErrorKind::StorageFull);
        assert_eq!(
            quiet_on_closed_pipe(Err(full)).unwrap_err().kind(),
            ErrorKind::StorageFull
        );
        assert!(quiet_on_closed_pipe(Ok(())).is_ok());
    }
}
