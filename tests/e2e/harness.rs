//! Starts the real `eddy` binary on an ephemeral port with a temporary data directory
//! and hands out AWS SDK clients pointed at it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};

/// How long a server may take to print its endpoint.
const STARTUP_TIMEOUT_MS: u64 = 20_000;
/// Bytes of a server's log kept for a failing test to print (the newest).
const SERVER_LOG_KEPT_BYTES_MAX: usize = 4 * 1024 * 1024;

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    pub endpoint: String,
    /// The server's log (stderr) so far, at most [`SERVER_LOG_KEPT_BYTES_MAX`].
    log: Arc<Mutex<String>>,
    log_reader: Option<std::thread::JoinHandle<()>>,
    _temp: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts a server on a fresh temporary data directory.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts a server with extra flags on a fresh temporary data directory.
    pub fn start_with(extra_args: &[&str]) -> Server {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().to_path_buf();
        let mut s = Server::start_in(&dir, extra_args);
        s._temp = Some(temp);
        s
    }

    /// Starts a server on `data_dir` (kept after the server stops).
    pub fn start_in(data_dir: &Path, extra_args: &[&str]) -> Server {
        Server::start_listening(data_dir, "127.0.0.1:0", extra_args)
    }

    /// Starts a server on `data_dir` listening on `listen` (a fixed port lets a restarted
    /// server keep the address its peers were given).
    pub fn start_listening(data_dir: &Path, listen: &str, extra_args: &[&str]) -> Server {
        Server::start_with_env(data_dir, listen, extra_args, &[])
    }

    /// Starts a server with extra environment variables (the root credential's).
    #[allow(
        dead_code,
        reason = "the soak (tests/soak), which shares this file, does not use it"
    )]
    pub fn start_with_env(
        data_dir: &Path,
        listen: &str,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_eddy"));
        command
            .args(["serve", "--listen", listen, "--data-dir"])
            .arg(data_dir)
            .args(extra_args)
            .envs(env.iter().copied());
        Server::spawn(command)
    }

    /// Starts a server on a fresh temporary data directory with `EDDY_LOG` set to
    /// `log_filter` (`None`: unset, the default level); the second value holds every
    /// line of its log (stderr) so far.
    #[allow(
        dead_code,
        reason = "the soak (tests/soak), which shares this file, does not use it"
    )]
    pub fn start_logged(
        extra_args: &[&str],
        log_filter: Option<&str>,
    ) -> (Server, Arc<Mutex<String>>) {
        let temp = tempfile::tempdir().expect("temp dir");
        let mut command = Command::new(env!("CARGO_BIN_EXE_eddy"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(temp.path())
            .args(extra_args)
            .env_remove("EDDY_LOG");
        if let Some(filter) = log_filter {
            command.env("EDDY_LOG", filter);
        }
        let mut server = Server::spawn(command);
        server._temp = Some(temp);
        let log = Arc::clone(&server.log);
        (server, log)
    }

    /// Starts `command` (an `eddy serve`) and waits for its endpoint. Its log (stderr) is
    /// kept, not echoed: a passing test stays quiet, and a failing one prints the log of
    /// each of its servers when it drops them (see [`Drop`]).
    fn spawn(mut command: Command) -> Server {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start eddy");
        let log = Arc::new(Mutex::new(String::new()));
        let kept = Arc::clone(&log);
        let pipe = child.stderr.take().expect("stderr");
        let log_reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut all = kept.lock().unwrap_or_else(PoisonError::into_inner);
                if all.len() + line.len() > SERVER_LOG_KEPT_BYTES_MAX {
                    // The oldest half goes, at a line boundary, so the end stays whole.
                    let cut = all[all.len() / 2..]
                        .find('\n')
                        .map_or(all.len(), |i| all.len() / 2 + i + 1);
                    all.drain(..cut);
                }
                all.push_str(&line);
                all.push('\n');
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent && let Some(rest) = line.strip_prefix("Eddy is listening on ") {
                    let _ = tx.send(rest.trim().to_string());
                    sent = true;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_millis(STARTUP_TIMEOUT_MS);
        let endpoint = loop {
            if let Ok(e) = rx.recv_timeout(Duration::from_millis(50)) {
                break e;
            }
            let said = || log.lock().unwrap_or_else(PoisonError::into_inner).clone();
            if let Ok(Some(status)) = child.try_wait() {
                panic!("eddy exited during startup: {status}\n{}", said());
            }
            assert!(
                Instant::now() < deadline,
                "eddy did not start in time\n{}",
                said()
            );
        };
        Server {
            child,
            endpoint,
            log,
            log_reader: Some(log_reader),
            _temp: None,
        }
    }

    pub fn client(&self) -> Client {
        client(&self.endpoint)
    }

    /// The server's process id.
    #[allow(
        dead_code,
        reason = "the soak (tests/soak), which shares this file, uses it"
    )]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How the server ended, if it has.
    #[allow(
        dead_code,
        reason = "the soak (tests/soak), which shares this file, uses it"
    )]
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn streams_client(&self) -> aws_sdk_dynamodbstreams::Client {
        streams_client(&self.endpoint)
    }

    /// Sends SIGKILL and waits for the process to be gone.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for a clean exit; returns the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        // The workspace forbids unsafe code, so the signal goes through kill(1).
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        self.child.wait().expect("wait")
    }
}

impl Drop for Server {
    /// Kills the server. When the test is failing (this thread panics), the server's
    /// log is printed, whole, after the failure.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            if let Some(reader) = self.log_reader.take() {
                let _ = reader.join();
            }
            let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
            eprintln!(
                "---- the log of eddy at {} ----\n{log}---- end of its log ----",
                self.endpoint
            );
        }
    }
}

/// An SDK client for `endpoint` with dummy credentials, as a user would configure it.
pub fn client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "test",
        ))
        .build();
    Client::from_conf(config)
}

/// A DynamoDB Streams SDK client for `endpoint` (Eddy serves both APIs on one port),
/// configured like [`client`].
pub fn streams_client(endpoint: &str) -> aws_sdk_dynamodbstreams::Client {
    let config = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_sdk_dynamodbstreams::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodbstreams::config::Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "test",
        ))
        .build();
    aws_sdk_dynamodbstreams::Client::from_conf(config)
}

/// A table name unique within the test run.
pub fn table_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// Sends one raw HTTP request (for what SDKs cannot send: malformed JSON, unknown
/// operations) and returns the status and body.
pub fn raw_request(
    endpoint: &str,
    method: &str,
    target: Option<&str>,
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let target_header = target.map_or(String::new(), |t| format!("X-Amz-Target: {t}\r\n"));
    let req = format!(
        "{method} / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.0\r\n{target_header}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).expect("write");
    let mut resp = String::new();
    stream.read_to_string(&mut resp).expect("read");
    let status: u16 = resp
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

/// The ARN of `table`'s latest stream.
pub async fn latest_stream_arn(c: &Client, table: &str) -> String {
    c.describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap()
        .latest_stream_arn
        .expect("the table has a stream")
}

/// Every record of `table`'s latest stream, shard after shard (see [`read_shards`]).
pub async fn read_whole_stream(
    server: &Server,
    c: &Client,
    table: &str,
) -> Vec<aws_sdk_dynamodbstreams::types::Record> {
    let arn = latest_stream_arn(c, table).await;
    read_shards(&server.streams_client(), &arn).await.concat()
}

/// Reads every record of every shard of `arn` from TRIM_HORIZON.
pub async fn read_shards(
    c: &aws_sdk_dynamodbstreams::Client,
    arn: &str,
) -> Vec<Vec<aws_sdk_dynamodbstreams::types::Record>> {
    use aws_sdk_dynamodbstreams::types::ShardIteratorType;
    let desc = c.describe_stream().stream_arn(arn).send().await.unwrap();
    let mut shards = Vec::new();
    for shard in desc.stream_description.unwrap().shards() {
        let mut it = c
            .get_shard_iterator()
            .stream_arn(arn)
            .shard_id(shard.shard_id().unwrap())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator;
        let mut records = Vec::new();
        // An open shard always hands out a next iterator; stop at the first empty page.
        while let Some(i) = it {
            let out = c.get_records().shard_iterator(i).send().await.unwrap();
            if out.records().is_empty() {
                break;
            }
            records.extend(out.records().iter().cloned());
            it = out.next_shard_iterator;
        }
        shards.push(records);
    }
    shards
}

/// The root credential a server started with `--auth sigv4` generated at its first
/// start, read from `<data_dir>/root-credentials`: its access key id and secret.
pub fn root_credentials(data_dir: &Path) -> (String, String) {
    let file = std::fs::read_to_string(data_dir.join("root-credentials")).expect("root file");
    let field = |name: &str| {
        file.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} = ")))
            .expect("root field")
            .to_owned()
    };
    (field("aws_access_key_id"), field("aws_secret_access_key"))
}
