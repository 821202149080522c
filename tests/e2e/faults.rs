//! Fault injection against the real binary: its data directory on a small tmpfs that
//! the test fills up.
//!
//! With a free-space reserve, a full disk is a clean, retryable 503 for writes (nothing
//! of the refused write is kept, reads go on, health says why) and writes resume by
//! themselves once space is freed. Without one, fjall's journal write fails, which
//! poisons it: the process exits at once with a clear message and its own exit code
//! (crash-only, no zombie), and a restart on the same data directory has every
//! acknowledged write, with item and stream record in agreement.
//!
//! The tmpfs is mounted with `mount` (the tests run as root here and on CI) or, if that
//! is not allowed, in a private mount namespace made with `unshare -Urm` (the server
//! then runs in it through `nsenter`). If neither works the test fails: it is never
//! skipped. `EDDY_TEST_FAULTS_UNSHARE=1` takes the second way even as root.
//!
//! A crashed writer thread (a panic outside any one write) cannot be caused from
//! outside without a test-only backdoor in the release binary; the engine's unit tests
//! (`engine/src/store/tests.rs`) cover that it is fatal.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue as Av;

use crate::control::create_streamed;
use crate::harness::{latest_stream_arn, read_shards, streams_client, table_name};

/// The payload of each item written to fill the disk (the journal takes it twice: the
/// item and its stream record's new image). It is random, as fjall compresses its
/// journal and its tables.
const PAYLOAD_BYTES: usize = 200 * 1024;
/// Writes a fill loop makes at most before the test gives up (far more than the small
/// disks hold).
const FILL_WRITES_MAX: usize = 2_000;
/// How long a server may take to print its endpoint.
const STARTUP_TIMEOUT_MS: u64 = 20_000;
/// How long the process may take to exit after its storage failed ("at once", with a
/// slow CI machine's margin).
const EXIT_TIMEOUT_MS: u64 = 10_000;
/// How long writes may take to resume after space was freed (the guard looks again
/// every few milliseconds).
const RESUME_TIMEOUT_MS: u64 = 10_000;
/// The exit code of a storage fault (`EXIT_STORAGE_FAULT` in `src/cli.rs`).
const EXIT_STORAGE_FAULT: i32 = 74;

const MIB: usize = 1024 * 1024;

/// A small tmpfs, unmounted when dropped.
struct SmallDisk {
    /// The mount point as the server sees it.
    inside: PathBuf,
    /// The mount point as this test sees it (the same path, or the holder's
    /// `/proc/<pid>/root/...` view of its private mount namespace).
    outside: PathBuf,
    /// The process that holds the private mount namespace, when `mount` was not allowed.
    holder: Option<Child>,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size_mib: usize) -> SmallDisk {
        let dir = tempfile::tempdir().expect("temp dir");
        let point = dir.path().to_path_buf();
        let size = format!("size={size_mib}m");
        let forced = std::env::var_os("EDDY_TEST_FAULTS_UNSHARE").is_some_and(|v| v == "1");
        let direct = if forced {
            "skipped (EDDY_TEST_FAULTS_UNSHARE=1)".to_string()
        } else {
            match Command::new("mount")
                .args(["-t", "tmpfs", "-o", &size, "tmpfs"])
                .arg(&point)
                .output()
            {
                Ok(out) if out.status.success() => {
                    return SmallDisk {
                        inside: point.clone(),
                        outside: point,
                        holder: None,
                        _dir: dir,
                    };
                }
                Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_string(),
                Err(e) => e.to_string(),
            }
        };
        // A private mount namespace, held open by a sleeping process.
        let script = format!(
            "mount -t tmpfs -o {size} tmpfs '{}' && echo mounted && exec sleep 3600",
            point.display()
        );
        let holder = Command::new("unshare")
            .args(["-Urm", "sh", "-c", &script])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut holder = match holder {
            Ok(h) => h,
            Err(e) => panic!(
                "cannot mount a small tmpfs for fault injection: `mount` failed ({direct}) and \
                 `unshare -Urm` could not start ({e}); run the tests as root or allow unprivileged \
                 user namespaces"
            ),
        };
        let mut line = String::new();
        let _ = BufReader::new(holder.stdout.take().expect("stdout")).read_line(&mut line);
        if line.trim() != "mounted" {
            let mut err = String::new();
            if let Some(mut e) = holder.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            let _ = holder.kill();
            let _ = holder.wait();
            panic!(
                "cannot mount a small tmpfs for fault injection: `mount` failed ({direct}) and \
                 so did `unshare -Urm` ({}); run the tests as root or allow unprivileged user \
                 namespaces",
                err.trim()
            );
        }
        let outside = Path::new(&format!("/proc/{}/root", holder.id())).join(
            point
                .strip_prefix("/")
                .expect("an absolute temporary directory"),
        );
        SmallDisk {
            inside: point,
            outside,
            holder: Some(holder),
            _dir: dir,
        }
    }

    /// A command that runs `program` where it sees this disk.
    fn command(&self, program: &str) -> Command {
        match &self.holder {
            None => Command::new(program),
            Some(h) => {
                let mut c = Command::new("nsenter");
                c.args([
                    "-t",
                    &h.id().to_string(),
                    "-U",
                    "-m",
                    "--preserve-credentials",
                ])
                .arg(program);
                c
            }
        }
    }

    /// Writes a file of `bytes` real bytes (tmpfs allocates what is written).
    fn put_ballast(&self, bytes: usize) {
        std::fs::write(self.outside.join("ballast"), vec![0xA5u8; bytes]).expect("write ballast");
    }

    fn free_ballast(&self) {
        std::fs::remove_file(self.outside.join("ballast")).expect("remove ballast");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        match &mut self.holder {
            Some(h) => {
                let _ = h.kill();
                let _ = h.wait();
            }
            None => {
                let _ = Command::new("umount").arg("-l").arg(&self.inside).status();
            }
        }
    }
}

/// The real binary on a [`SmallDisk`], its stderr kept.
struct FaultServer {
    child: Child,
    endpoint: String,
    stderr: Arc<Mutex<String>>,
}

impl FaultServer {
    fn start(disk: &SmallDisk, extra_args: &[&str]) -> FaultServer {
        let mut child = disk
            .command(env!("CARGO_BIN_EXE_eddy"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(disk.inside.join("data"))
            .args(extra_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start eddy");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("Eddy is listening on ") {
                    let _ = tx.send(rest.trim().to_string());
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let kept = Arc::clone(&stderr);
        let pipe = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                eprintln!("[eddy] {line}");
                let mut s = kept.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let deadline = Instant::now() + Duration::from_millis(STARTUP_TIMEOUT_MS);
        let endpoint = loop {
            if let Ok(e) = rx.recv_timeout(Duration::from_millis(50)) {
                break e;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "eddy exited during startup: {status}\n{}",
                    stderr.lock().unwrap()
                );
            }
            assert!(Instant::now() < deadline, "eddy did not start in time");
        };
        FaultServer {
            child,
            endpoint,
            stderr,
        }
    }

    /// A client that does not retry, so each refusal is seen as it is.
    fn client(&self) -> Client {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKID", "secret", None, None, "test"))
            .retry_config(RetryConfig::disabled())
            .build();
        Client::from_conf(config)
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` over a fresh connection: the status and the body.
fn http_get(endpoint: &str, path: &str) -> (u16, String) {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut resp = String::new();
    stream.read_to_string(&mut resp).expect("read");
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn health(endpoint: &str) -> (u16, serde_json::Value) {
    let (status, body) = http_get(endpoint, "/health");
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (status, json)
}

/// The item written as write number `i`: its key, a payload that fills the disk, and
/// `i` again to check it came back whole.
async fn put(c: &Client, table: &str, i: usize) -> Result<(), SdkError<PutItemError>> {
    c.put_item()
        .table_name(table)
        .item("pk", Av::S(format!("k{i}")))
        .item("payload", Av::S(payload(i)))
        .item("n", Av::N(i.to_string()))
        .send()
        .await
        .map(|_| ())
}

/// `PAYLOAD_BYTES` characters no compressor can shrink much, different for each `i`.
fn payload(i: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    // xorshift64*, seeded by `i`.
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (0..PAYLOAD_BYTES)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            char::from(ALPHABET[(x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 58) as usize])
        })
        .collect()
}

async fn get(c: &Client, table: &str, i: usize) -> Option<HashMap<String, Av>> {
    c.get_item()
        .table_name(table)
        .key("pk", Av::S(format!("k{i}")))
        .consistent_read(true)
        .send()
        .await
        .expect("reads work")
        .item
}

/// Asserts the item of write `i` is there, whole.
async fn assert_whole(c: &Client, table: &str, i: usize) {
    let item = get(c, table, i)
        .await
        .unwrap_or_else(|| panic!("acknowledged write k{i} is missing"));
    assert_eq!(item["n"], Av::N(i.to_string()), "k{i}");
    assert!(
        item["payload"].as_s().unwrap() == &payload(i),
        "k{i}: payload differs"
    );
}

/// The keys of every record of `table`'s stream, in order.
async fn stream_keys(endpoint: &str, c: &Client, table: &str) -> Vec<String> {
    let arn = latest_stream_arn(c, table).await;
    read_shards(&streams_client(endpoint), &arn)
        .await
        .concat()
        .iter()
        .map(|r| {
            let keys = r.dynamodb().unwrap().keys().unwrap();
            match &keys["pk"] {
                aws_sdk_dynamodbstreams::types::AttributeValue::S(s) => s.clone(),
                other => panic!("a record keyed by a string: {other:?}"),
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_a_retryable_503_and_writes_resume_once_space_is_freed() {
    let disk = SmallDisk::mount(48);
    disk.put_ballast(12 * MIB);
    let server = FaultServer::start(&disk, &["--disk-reserve-mib", "8"]);
    let c = server.client();
    let t = table_name("diskfull");
    create_streamed(&c, &t).await;
    let (status, body) = http_get(&server.endpoint, "/");
    assert_eq!(status, 200, "{body}");
    // `GET /` names the host the client used, as DynamoDB does.
    let host = server.endpoint.trim_start_matches("http://");
    assert_eq!(body, format!("healthy: {host} "));

    let mut acked = Vec::new();
    let mut refused = None;
    for i in 0..FILL_WRITES_MAX {
        match put(&c, &t, i).await {
            Ok(()) => acked.push(i),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let service = e.as_service_error().expect("a DynamoDB error answer");
                assert_eq!(status, Some(503), "{e:?}");
                assert_eq!(service.code(), Some("ServiceUnavailableException"));
                let message = service.message().unwrap_or_default();
                assert!(message.starts_with("The disk is full"), "{message}");
                assert!(
                    message.contains("MiB free") && message.contains("8.0 MiB"),
                    "{message}"
                );
                refused = Some(i);
                break;
            }
        }
    }
    let refused = refused.expect("the disk filled up before the writes ran out");
    assert!(acked.len() > 10, "the disk took writes before it was full");
    println!(
        "{} writes acknowledged before the disk was full",
        acked.len()
    );

    // The refused write left nothing; reads go on.
    assert_eq!(get(&c, &t, refused).await, None);
    assert_whole(&c, &t, acked[0]).await;
    assert_whole(&c, &t, *acked.last().unwrap()).await;
    let keys = stream_keys(&server.endpoint, &c, &t).await;
    assert_eq!(keys.len(), acked.len(), "one record per acknowledged write");
    assert!(!keys.contains(&format!("k{refused}")));

    // Health tells why.
    let (status, h) = health(&server.endpoint);
    assert_eq!(status, 503, "{h}");
    assert_eq!(h["status"], "degraded", "{h}");
    assert_eq!(h["writer"], "running", "{h}");
    assert_eq!(h["storage"], "ok", "{h}");
    assert_eq!(h["disk"]["ok"], false, "{h}");
    assert_eq!(h["disk"]["reserve_bytes"], 8 * MIB, "{h}");
    let needed = h["disk"]["reserve_bytes"].as_u64().unwrap()
        + h["disk"]["unflushed_bytes"].as_u64().unwrap();
    assert!(h["disk"]["free_bytes"].as_u64().unwrap() < needed, "{h}");
    let (status, body) = http_get(&server.endpoint, "/");
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("unhealthy: The disk is full"), "{body}");

    // Space freed: writes resume without a restart.
    disk.free_ballast();
    let deadline = Instant::now() + Duration::from_millis(RESUME_TIMEOUT_MS);
    while put(&c, &t, refused).await.is_err() {
        assert!(Instant::now() < deadline, "writes did not resume");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_whole(&c, &t, refused).await;
    let (status, body) = http_get(&server.endpoint, "/");
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("healthy:"), "{body}");
    let (status, h) = health(&server.endpoint);
    assert_eq!((status, h["status"].as_str()), (200, Some("ok")), "{h}");
    let keys = stream_keys(&server.endpoint, &c, &t).await;
    assert_eq!(keys.len(), acked.len() + 1);
    assert_eq!(keys.last(), Some(&format!("k{refused}")));
    assert!(
        server.stderr().lines().all(|l| !l.contains("FATAL")),
        "a full disk is not fatal:\n{}",
        server.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_reserve_a_full_disk_ends_the_process_and_a_restart_loses_nothing_acknowledged() {
    let disk = SmallDisk::mount(32);
    disk.put_ballast(8 * MIB);
    let mut server = FaultServer::start(&disk, &["--disk-reserve-mib", "0"]);
    let c = server.client();
    let t = table_name("nospace");
    create_streamed(&c, &t).await;

    let mut acked = Vec::new();
    let mut failed = None;
    for i in 0..FILL_WRITES_MAX {
        match put(&c, &t, i).await {
            Ok(()) => acked.push(i),
            Err(e) => {
                // Never an error answer for a write whose outcome is unknown: the
                // connection just ends with the process.
                assert!(
                    e.as_service_error().is_none() && e.raw_response().is_none(),
                    "the failed write got an answer: {e:?}"
                );
                failed = Some(i);
                break;
            }
        }
    }
    let failed = failed.expect("the disk filled up before the writes ran out");
    assert!(acked.len() > 5, "the disk took writes before it was full");
    println!(
        "{} writes acknowledged before the storage failed",
        acked.len()
    );

    // Crash-only: the process is gone at once, with its own code and a clear message.
    let status = server
        .wait_exit(Duration::from_millis(EXIT_TIMEOUT_MS))
        .unwrap_or_else(|| panic!("eddy did not exit after its storage failed (a zombie)"));
    assert_eq!(status.code(), Some(EXIT_STORAGE_FAULT), "{status}");
    let stderr = server.stderr();
    assert!(stderr.contains("FATAL"), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains("Restart Eddy"), "{stderr}");
    drop(server);

    // Space freed, a restart on the same data directory recovers from the journal.
    disk.free_ballast();
    let server = FaultServer::start(&disk, &["--disk-reserve-mib", "0"]);
    let c = server.client();
    for &i in &acked {
        assert_whole(&c, &t, i).await;
    }
    // The write whose commit failed is all there or not at all, item and record alike.
    let keys = stream_keys(&server.endpoint, &c, &t).await;
    let failed_key = format!("k{failed}");
    let failed_item = get(&c, &t, failed).await;
    assert_eq!(
        failed_item.is_some(),
        keys.contains(&failed_key),
        "item and stream record of the failed write disagree"
    );
    if failed_item.is_some() {
        assert_whole(&c, &t, failed).await;
    }
    println!(
        "after the restart: {} acknowledged writes whole, the failed one {}",
        acked.len(),
        if failed_item.is_some() {
            "applied whole"
        } else {
            "absent"
        }
    );
    let unique: HashSet<&String> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len(), "no record twice");
    let expected: HashSet<String> = acked
        .iter()
        .map(|i| format!("k{i}"))
        .chain(failed_item.map(|_| failed_key))
        .collect();
    assert_eq!(
        unique.into_iter().cloned().collect::<HashSet<_>>(),
        expected,
        "one record per write that is there, none for one that is not"
    );
    let (status, body) = http_get(&server.endpoint, "/");
    assert_eq!(status, 200, "{body}");
}
