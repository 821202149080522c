//! Runs the walkthroughs in `examples/*/README.md` command by command, so that what a
//! newcomer copies from them keeps working. The conventions (which blocks run, how
//! expected output is checked, how ports and `/tmp/` paths are rewritten) are written
//! down in `examples/README.md`; this file is their only implementation.
//!
//! It knows nothing about what a walkthrough does: it runs shell blocks with the `eddy`
//! binary under test and the test venv's `aws` CLI on `PATH`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The walkthroughs, by directory under `examples/`. A new directory must be added here
/// (checked by [`every_walkthrough_is_tested`]).
const WALKTHROUGHS: &[&str] = &[
    "welcome-email",
    "materialized-view",
    "search",
    "replication",
    "voting",
];

/// How long one `sh` block may run (a cold `cargo build` of a function included).
const BLOCK_TIMEOUT_MS: u64 = 600_000;
/// How long a block with expected output is retried until its output matches.
const EXPECT_RETRY_MS: u64 = 30_000;
/// Pause between two tries of a block with expected output.
const EXPECT_RETRY_PAUSE_MS: u64 = 500;
/// How long a background block's ports may take to accept connections.
const BACKGROUND_READY_TIMEOUT_MS: u64 = 120_000;
/// Bytes of a failing block's output (and of background logs) quoted in the panic.
const QUOTED_OUTPUT_BYTES_MAX: usize = 8_000;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Sh,
    Background,
}

#[derive(Debug, Clone)]
struct Block {
    kind: Kind,
    /// 1-based line of the opening fence, for messages.
    line: usize,
    code: String,
    /// Lines the output must contain (from a following ```text block).
    expect: Vec<String>,
}

/// The runnable blocks of a walkthrough, with their expected output attached.
fn parse(markdown: &str) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    // Whether the last fenced block was a runnable `sh` block that a `text` block may
    // attach to.
    let mut attachable = false;
    let mut lines = markdown.lines().enumerate();
    while let Some((number, line)) = lines.next() {
        let Some(info) = line.trim_start().strip_prefix("```") else {
            continue;
        };
        let info: Vec<&str> = info.split_whitespace().collect();
        let mut body = Vec::new();
        for (_, inner) in lines.by_ref() {
            if inner.trim_start().starts_with("```") {
                break;
            }
            body.push(inner);
        }
        let code = body.join("\n");
        match info.as_slice() {
            ["sh"] | ["bash"] => {
                blocks.push(Block {
                    kind: Kind::Sh,
                    line: number + 1,
                    code,
                    expect: Vec::new(),
                });
                attachable = true;
            }
            ["sh", "background"] | ["bash", "background"] => {
                blocks.push(Block {
                    kind: Kind::Background,
                    line: number + 1,
                    code,
                    expect: Vec::new(),
                });
                attachable = false;
            }
            ["text"] if attachable => {
                if let Some(last) = blocks.last_mut() {
                    last.expect = body
                        .iter()
                        .map(|l| l.trim().to_owned())
                        .filter(|l| !l.is_empty())
                        .collect();
                }
                attachable = false;
            }
            _ => attachable = false,
        }
    }
    blocks
}

/// Rewrites what must differ from the text when tests run: loopback ports (to free
/// ones, consistently), `/tmp/` (to a scratch directory) and `cargo run --release`
/// (to the binary under test, which is also on `PATH` as `eddy`).
struct Rewriter {
    ports: BTreeMap<u16, u16>,
    scratch: PathBuf,
    eddy: String,
}

impl Rewriter {
    fn rewrite(&mut self, code: &str) -> String {
        // `/tmp/` first: the binary's own path may be under `/tmp/` (a fresh clone there).
        let code = code
            .replace("/tmp/", &format!("{}/", self.scratch.display()))
            .replace("cargo run --release --", &self.eddy)
            .replace("cargo run --release", &self.eddy);
        let mut out = String::with_capacity(code.len());
        let mut rest = code.as_str();
        loop {
            let next = ["127.0.0.1:", "localhost:"]
                .iter()
                .filter_map(|p| rest.find(p).map(|i| (i, p.len())))
                .min();
            let Some((at, prefix_len)) = next else {
                out.push_str(rest);
                break;
            };
            let digits_from = at + prefix_len;
            let digits: String = rest[digits_from..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            out.push_str(&rest[..digits_from]);
            match digits.parse::<u16>() {
                Ok(port) if port != 0 => {
                    let free = *self.ports.entry(port).or_insert_with(free_port);
                    out.push_str(&free.to_string());
                }
                _ => out.push_str(&digits),
            }
            rest = &rest[digits_from + digits.len()..];
        }
        out
    }

    /// The rewritten loopback ports named in `code` (already rewritten).
    fn ports_in(&self, code: &str) -> Vec<u16> {
        self.ports
            .values()
            .copied()
            .filter(|p| {
                code.contains(&format!("127.0.0.1:{p}")) || code.contains(&format!("localhost:{p}"))
            })
            .collect()
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One walkthrough's run: its scratch directory, carried-over environment and
/// background processes (stopped on drop).
struct Run {
    name: String,
    root: PathBuf,
    scratch: tempfile::TempDir,
    state: PathBuf,
    path: String,
    background: Vec<(Child, PathBuf)>,
}

impl Drop for Run {
    fn drop(&mut self) {
        for (child, _) in &mut self.background {
            // Each background block runs in its own process group: stop all of it.
            let group = format!("-{}", child.id());
            let _ = Command::new("kill")
                .args(["-TERM", "--", &group])
                .stderr(Stdio::null())
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for (child, _) in &mut self.background {
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let group = format!("-{}", child.id());
            let _ = Command::new("kill")
                .args(["-KILL", "--", &group])
                .stderr(Stdio::null())
                .status();
            let _ = child.wait();
        }
    }
}

impl Run {
    fn command(&self, script: &str) -> Command {
        let file = self.scratch.path().join(format!(
            "block-{}.sh",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let wrapped = format!(
            "set -euo pipefail\nsource {state:?}\ncd {root:?}\n{script}\nexport -p > {state:?}\n",
            state = self.state,
            root = self.root,
        );
        std::fs::write(&file, wrapped).expect("write block script");
        let mut command = Command::new("bash");
        command
            .arg(&file)
            .env("PATH", &self.path)
            // A developer's own AWS configuration must not make a walkthrough pass that
            // would fail for a newcomer, nor the other way round.
            .env("AWS_CONFIG_FILE", self.scratch.path().join("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.scratch.path().join("no-aws-credentials"),
            )
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_DEFAULT_REGION")
            .env_remove("AWS_REGION")
            .env_remove("AWS_ENDPOINT_URL")
            // The walkthroughs build functions where a newcomer's build puts them.
            .env_remove("CARGO_TARGET_DIR")
            .env("AWS_PAGER", "");
        command
    }

    fn fail(&self, block: &Block, code: &str, what: &str) -> ! {
        let mut logs = String::new();
        for (_, log) in &self.background {
            logs.push_str(&format!(
                "\n--- background log {} ---\n{}",
                log.display(),
                tail(&std::fs::read_to_string(log).unwrap_or_default())
            ));
        }
        panic!(
            "walkthrough examples/{}/README.md, block at line {}:\n{code}\n\n{what}{logs}",
            self.name, block.line
        );
    }

    fn run_sh(&self, block: &Block, code: &str) {
        let deadline = Instant::now() + Duration::from_millis(EXPECT_RETRY_MS);
        loop {
            let (ok, output) = self.run_once(code);
            if !ok {
                if !block.expect.is_empty() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(EXPECT_RETRY_PAUSE_MS));
                    continue;
                }
                self.fail(block, code, &format!("failed; output:\n{}", tail(&output)));
            }
            let missing: Vec<&String> = block
                .expect
                .iter()
                .filter(|line| !output.contains(line.as_str()))
                .collect();
            if missing.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                self.fail(
                    block,
                    code,
                    &format!(
                        "its output lacks {missing:?} (retried for {EXPECT_RETRY_MS} ms); \
                         output:\n{}",
                        tail(&output)
                    ),
                );
            }
            std::thread::sleep(Duration::from_millis(EXPECT_RETRY_PAUSE_MS));
        }
    }

    /// Runs `code` once; whether it exited 0, and its stdout and stderr.
    fn run_once(&self, code: &str) -> (bool, String) {
        let log = self.scratch.path().join("block.log");
        let out = File::create(&log).expect("block log");
        let err = out.try_clone().expect("block log");
        let mut child = self
            .command(code)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .expect("run bash");
        let deadline = Instant::now() + Duration::from_millis(BLOCK_TIMEOUT_MS);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for bash") {
                break Some(status);
            }
            if Instant::now() >= deadline {
                let group = format!("-{}", child.id());
                let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut output = String::new();
        let _ = File::open(&log).and_then(|mut f| f.read_to_string(&mut output));
        match status {
            Some(s) => (s.success(), output),
            None => (
                false,
                format!("{output}\n(killed after {BLOCK_TIMEOUT_MS} ms)"),
            ),
        }
    }

    fn start_background(&mut self, block: &Block, code: &str, ports: &[u16]) {
        let log = self
            .scratch
            .path()
            .join(format!("background-{}.log", self.background.len()));
        let out = File::create(&log).expect("background log");
        let err = out.try_clone().expect("background log");
        // A background block is a server: it does not write the carried environment.
        let child = self
            .command(&format!("{code}\nexit 0"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .expect("start background block");
        self.background.push((child, log));
        let deadline = Instant::now() + Duration::from_millis(BACKGROUND_READY_TIMEOUT_MS);
        for &port in ports {
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                let exited = self
                    .background
                    .last_mut()
                    .and_then(|(c, _)| c.try_wait().ok().flatten());
                if let Some(status) = exited {
                    self.fail(block, code, &format!("exited early: {status}"));
                }
                if Instant::now() >= deadline {
                    self.fail(
                        block,
                        code,
                        &format!("port {port} never accepted connections"),
                    );
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn tail(text: &str) -> &str {
    let mut start = text.len().saturating_sub(QUOTED_OUTPUT_BYTES_MAX);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding the test venv's `aws` and `python`, if the test command made it.
fn venv_bin() -> Option<PathBuf> {
    std::env::var_os("EDDY_TEST_AWS")
        .map(PathBuf::from)
        .and_then(|aws| aws.parent().map(Path::to_path_buf))
}

fn run_walkthrough(name: &str) {
    let Some(venv) = venv_bin() else {
        eprintln!("skipping walkthrough {name}: EDDY_TEST_AWS is not set (run tests/run.sh)");
        return;
    };
    let root = repo_root();
    let readme = root.join("examples").join(name).join("README.md");
    let markdown =
        std::fs::read_to_string(&readme).unwrap_or_else(|e| panic!("{}: {e}", readme.display()));
    let blocks = parse(&markdown);
    assert!(
        blocks.iter().any(|b| b.kind == Kind::Sh),
        "{} has no ```sh blocks",
        readme.display()
    );
    let eddy = PathBuf::from(env!("CARGO_BIN_EXE_eddy"));
    let eddy_dir = eddy.parent().expect("binary directory").to_path_buf();
    let scratch = tempfile::tempdir().expect("scratch dir");
    let state = scratch.path().join("env.sh");
    std::fs::write(&state, "").expect("state file");
    let path = format!(
        "{}:{}:{}",
        eddy_dir.display(),
        venv.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut rewriter = Rewriter {
        ports: BTreeMap::new(),
        scratch: scratch.path().join("tmp"),
        eddy: eddy.display().to_string(),
    };
    std::fs::create_dir_all(&rewriter.scratch).expect("scratch tmp");
    let mut run = Run {
        name: name.to_owned(),
        root,
        scratch,
        state,
        path,
        background: Vec::new(),
    };
    for block in &blocks {
        let code = rewriter.rewrite(&block.code);
        match block.kind {
            Kind::Sh => run.run_sh(block, &code),
            Kind::Background => {
                let ports = rewriter.ports_in(&code);
                run.start_background(block, &code, &ports);
            }
        }
    }
}

#[test]
fn every_walkthrough_is_tested() {
    let examples = repo_root().join("examples");
    let mut found: Vec<String> = std::fs::read_dir(&examples)
        .expect("examples/")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("README.md").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut known: Vec<String> = WALKTHROUGHS.iter().map(|s| (*s).to_owned()).collect();
    known.sort();
    assert_eq!(
        found, known,
        "examples/ and WALKTHROUGHS in tests/e2e/walkthroughs.rs disagree"
    );
}

#[test]
fn the_runner_parses_and_rewrites_as_documented() {
    let markdown = "Intro\n\n```sh background\ncargo run --release -- serve --listen 127.0.0.1:8000 --data-dir /tmp/a\n```\n\n```sh\naws dynamodb list-tables --endpoint-url http://127.0.0.1:8000\n```\n\nprose\n\n```text\n  TableNames  \n\n```\n\n```console\n$ not run\n```\n\n```text\nnot attached\n```\n";
    let blocks = parse(markdown);
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    assert_eq!(blocks[0].kind, Kind::Background);
    assert_eq!(blocks[1].kind, Kind::Sh);
    assert_eq!(blocks[1].expect, vec!["TableNames".to_owned()]);
    let mut rewriter = Rewriter {
        ports: BTreeMap::new(),
        scratch: PathBuf::from("/scratch"),
        // A clone under /tmp/ must keep its binary's path.
        eddy: "/tmp/clone/eddy".to_owned(),
    };
    let server = rewriter.rewrite(&blocks[0].code);
    let client = rewriter.rewrite(&blocks[1].code);
    let port = rewriter.ports[&8000];
    assert_eq!(
        server,
        format!("/tmp/clone/eddy serve --listen 127.0.0.1:{port} --data-dir /scratch/a")
    );
    assert!(
        client.contains(&format!("http://127.0.0.1:{port}")),
        "{client}"
    );
    assert_eq!(rewriter.ports_in(&server), vec![port]);
}

#[test]
fn welcome_email() {
    run_walkthrough("welcome-email");
}

#[test]
fn materialized_view() {
    run_walkthrough("materialized-view");
}

#[test]
fn search() {
    run_walkthrough("search");
}

#[test]
fn replication() {
    run_walkthrough("replication");
}

#[test]
fn voting() {
    run_walkthrough("voting");
}
