//! What a server holds alone, claimed at start-up with a one-line answer when another
//! holds it: its data directory (a lock file) and its listening address.
//!
//! Owns the lock file and the wording of these refusals. Must not know the store: the
//! directory is claimed before the store opens, so that a second Eddy never touches
//! the files of a running one.

use std::io::{ErrorKind, Read, Seek, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The lock file in a data directory, held (an advisory lock of the operating system,
/// released when the process ends, even by SIGKILL) by the Eddy serving it. It holds
/// that server's process id, so the refusal of a second one can name it.
pub const LOCK_FILE: &str = "eddy.lock";

/// Locks `dir` (created if missing) for this process; the lock lasts as long as the
/// returned file is open. Refused with a message naming the directory and the other
/// server's process id when another Eddy holds it.
pub fn data_dir(dir: &Path) -> Result<std::fs::File, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the data directory {}: {e}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(in_use(dir, &path, holder(&mut file).as_deref()));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(format!("cannot lock {}: {e}", path.display()));
        }
    }
    // Best effort: the process id only makes a later refusal more helpful.
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| write!(file, "{}", std::process::id()))
        .and_then(|()| file.flush());
    Ok(file)
}

/// The process id the holder wrote into the lock file, if readable.
fn holder(file: &mut std::fs::File) -> Option<String> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    let pid = text.trim();
    (!pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())).then(|| pid.to_owned())
}

fn in_use(dir: &Path, lock: &Path, pid: Option<&str>) -> String {
    let who = pid.map_or_else(
        || "another Eddy".to_owned(),
        |pid| format!("another Eddy (process {pid})"),
    );
    format!(
        "the data directory {} is in use by {who}, which holds {}: stop it, or start this \
         one on another directory (--data-dir DIR, or --in-memory)",
        dir.display(),
        PathBuf::from(lock).display()
    )
}

/// The refusal of an address that cannot be listened on, naming the cause and the way
/// out.
pub fn cannot_listen(addr: SocketAddr, e: &std::io::Error) -> String {
    let why = match e.kind() {
        ErrorKind::AddrInUse => format!(
            "the address is already in use (another Eddy, or another server, listens on port \
             {}): stop it, or choose another address with --listen ADDR:PORT or --port N",
            addr.port()
        ),
        ErrorKind::PermissionDenied => format!(
            "permission denied (ports below 1024 need privileges): choose another port with \
             --port N ({e})"
        ),
        ErrorKind::AddrNotAvailable => format!(
            "{} is not an address of this machine ({e}): listen on 127.0.0.1 (this machine \
             only) or 0.0.0.0 (every interface) with --listen",
            addr.ip()
        ),
        _ => e.to_string(),
    };
    format!("cannot listen on {addr}: {why}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_a_data_directory_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = data_dir(dir.path()).expect("first lock");
        // Locks are per open file description, so a second open in this process
        // conflicts just as another process's would.
        let e = data_dir(dir.path()).expect_err("second lock refused");
        let pid = std::process::id();
        assert!(
            e.contains(&format!("is in use by another Eddy (process {pid})")),
            "{e}"
        );
        drop(first);
        data_dir(dir.path()).expect("free again once the holder is gone");
    }

    #[test]
    fn a_taken_port_names_the_way_out() {
        let addr: SocketAddr = "127.0.0.1:8000".parse().unwrap();
        let e = cannot_listen(addr, &std::io::Error::from(ErrorKind::AddrInUse));
        assert!(
            e.starts_with("cannot listen on 127.0.0.1:8000: the address is already in use"),
            "{e}"
        );
    }
}
