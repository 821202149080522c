//! The client commands `eddy function …` and `eddy trigger …`: thin HTTP clients over
//! the `/v1/` API of a running server (`--endpoint`, default the local one).
//!
//! Owns the subcommands' flags, turning them into requests, and printing: a success
//! prints the response JSON pretty on stdout and exits 0; a failed request prints the
//! server's error (or why it could not be reached) on stderr and exits 1
//! ([`EXIT_REQUEST_FAILED`]); `function invoke` of a function that failed exits 3
//! ([`EXIT_FUNCTION_FAILED`]). A reader that stops reading (`| head`) ends the output
//! quietly. The endpoint is `--endpoint`, else `EDDY_ENDPOINT`, else the local default
//! (`endpoint.rs`); sending is `transport.rs`. No semantics live here.

mod autoscaling;
mod endpoint;
mod follow;
pub(crate) use follow::Follower;
mod iam;
mod transport;

pub use autoscaling::{AutoscalingArgs, autoscaling};
pub use endpoint::{ENDPOINT_DEFAULT, ENDPOINT_ENV};
pub use iam::{KeyArgs, UserArgs, key, user};
use transport::send;

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use hyper::Method;
use serde_json::{Map, Value, json};

/// Longest a client command waits for its response: the longest function timeout
/// (15 minutes, for `invoke`) plus a minute.
pub const REQUEST_TIMEOUT_MS: u64 = 960_000;
/// The event `eddy function invoke` sends without `--event`: an empty stream batch.
pub const INVOKE_EVENT_DEFAULT: &str = r#"{"Records":[]}"#;

/// Exit code of a client command whose request failed: the server refused it (its
/// error is printed), could not be reached, or the command's input was unreadable.
pub const EXIT_REQUEST_FAILED: u8 = 1;
/// Exit code of `eddy function invoke` when the request worked but the function failed
/// (it returned an error, trapped, ran out of memory or time, or found no instance
/// slot before its deadline): the output is the same JSON, with its `error` set. 2 is
/// clap's, for a command line it cannot parse.
pub const EXIT_FUNCTION_FAILED: u8 = 3;

/// `--endpoint` and `--ca-cert`, shared by the client commands.
#[derive(Debug, Args, Clone)]
pub struct Endpoint {
    /// The Eddy server to talk to: `http://host:port`, `https://host:port`, or
    /// `host:port` (meaning `http://`). Default: the value of EDDY_ENDPOINT, else
    /// http://127.0.0.1:8000.
    #[arg(long, global = true)]
    endpoint: Option<String>,
    /// A PEM certificate to trust for an `https://` endpoint besides the public roots:
    /// the server's self-signed certificate, or the CA that signed it. Default: the
    /// file named by EDDY_CA_CERT.
    #[arg(long, global = true)]
    ca_cert: Option<PathBuf>,
}

/// `eddy function …`
#[derive(Debug, Args)]
pub struct FunctionArgs {
    #[command(flatten)]
    endpoint: Endpoint,
    #[command(subcommand)]
    command: FunctionCommand,
}

#[derive(Debug, Subcommand)]
enum FunctionCommand {
    /// Write a new function project from a template (eddy.toml, the handler, a README).
    New {
        /// The function's name (1-64 characters of [A-Za-z0-9_-]).
        name: String,
        /// The language: rust, python or js.
        #[arg(long, value_parser = ["rust", "python", "js"])]
        lang: String,
        /// Where to write it (default ./NAME); refused if it exists and is not empty.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Build each function of a project's eddy.toml into target/eddy/NAME.wasm.
    Build {
        /// The project directory (default the current one).
        dir: Option<PathBuf>,
    },
    /// Deploy a project (`deploy [DIR]`: build what changed, deploy each function of
    /// its eddy.toml with the grants written there), or one WebAssembly component
    /// (`deploy NAME FILE`, wasm32-wasip2) as the next version of a function.
    Deploy {
        /// `DIR` (default the current one), or `NAME FILE`: the function's name (1-64
        /// characters of [A-Za-z0-9_-]) and the component file.
        #[arg(value_name = "DIR | NAME FILE", num_args = 0..=2)]
        target: Vec<String>,
        /// Memory limit of one invocation, MiB (default 128).
        #[arg(long)]
        memory_mb: Option<u32>,
        /// Deadline of one invocation, milliseconds (default 3000).
        #[arg(long)]
        timeout_ms: Option<u64>,
        /// A table the function may use through the DynamoDB capability (repeatable).
        #[arg(long = "table")]
        tables: Vec<String>,
        /// A configuration value KEY=VALUE (repeatable).
        #[arg(long = "env")]
        env: Vec<String>,
        /// A host the function may reach over outbound HTTP (repeatable): `name` for
        /// the scheme's default port only (80 for http, 443 for https), `name:port` for
        /// exactly that port.
        #[arg(long = "host")]
        hosts: Vec<String>,
        /// Let `--host` name wildcards (`*`, `*.domain`); refused unless the server runs
        /// with `--permit-any-host-grants`.
        #[arg(long)]
        allow_any_host: bool,
        /// A full-text search index the function may read and write (repeatable).
        #[arg(long = "index")]
        indexes: Vec<String>,
        /// Let the function send e-mail through the server's SMTP server.
        #[arg(long)]
        email: bool,
    },
    /// List the deployed functions.
    List,
    /// Show one function's served version and configuration.
    Show { name: String },
    /// Print a function's recent log lines.
    Logs {
        name: String,
        /// Only the newest N lines.
        #[arg(long)]
        limit: Option<usize>,
        /// Keep printing new lines, and the errors of the function's triggers, until
        /// Ctrl-C.
        #[arg(long, short)]
        follow: bool,
    },
    /// Delete a function and all its versions.
    Delete { name: String },
    /// Run a function once on an event and print its result and logs.
    ///
    /// Exits with 0 when the function returned, 3 when it failed (its error is in the
    /// output's `error` and on stderr) and 1 when the request failed.
    Invoke {
        name: String,
        /// The event JSON: a file, or `-` for stdin (default: an empty stream batch).
        #[arg(long)]
        event: Option<String>,
    },
}

/// `eddy trigger …`
#[derive(Debug, Args)]
pub struct TriggerArgs {
    #[command(flatten)]
    endpoint: Endpoint,
    #[command(subcommand)]
    command: TriggerCommand,
}

#[derive(Debug, Subcommand)]
enum TriggerCommand {
    /// Attach a function to a table's stream (Lambda's CreateEventSourceMapping).
    Create(CreateArgs),
    /// List the triggers.
    List {
        /// Only the triggers of this function.
        #[arg(long)]
        function: Option<String>,
    },
    /// Show one trigger with its state and counters.
    Show { id: String },
    /// Change a trigger: a JSON file (or `-`) of Lambda's UpdateEventSourceMapping fields.
    Update {
        id: String,
        #[arg(long)]
        json: String,
    },
    /// Resume a trigger from its checkpoint.
    Enable { id: String },
    /// Pause a trigger (its checkpoint stays).
    Disable { id: String },
    /// Delete a trigger and its checkpoints.
    Delete { id: String },
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// The function to run.
    #[arg(long)]
    function: Option<String>,
    /// The table whose (current) stream feeds the function.
    #[arg(long, conflicts_with = "stream_arn")]
    table: Option<String>,
    /// A stream ARN (from DescribeTable's LatestStreamArn).
    #[arg(long)]
    stream_arn: Option<String>,
    /// The DynamoDB Streams endpoint serving --stream-arn when the stream is not this
    /// server's (another Eddy, AWS, any DynamoDB-compatible endpoint): http(s)://host:port.
    #[arg(long, requires = "stream_arn")]
    source_endpoint: Option<String>,
    /// Records per invocation (1-10000, default 100).
    #[arg(long)]
    batch_size: Option<u32>,
    /// Where to start reading (default LATEST).
    #[arg(long, value_parser = ["TRIM_HORIZON", "LATEST"])]
    starting_position: Option<String>,
    /// Lambda's full CreateEventSourceMapping JSON (a file, or `-`); the flags above
    /// override its fields.
    #[arg(long)]
    json: Option<String>,
}

/// `eddy schedule …`
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(flatten)]
    endpoint: Endpoint,
    #[command(subcommand)]
    command: ScheduleCommand,
}

#[derive(Debug, Subcommand)]
enum ScheduleCommand {
    /// Run a function on a cron expression with a fixed payload.
    Create {
        name: String,
        /// The function to run.
        #[arg(long)]
        function: String,
        /// `*/5 * * * *` (5 fields), with seconds (6), or EventBridge's `cron(…)`.
        #[arg(long)]
        cron: String,
        /// The event's `detail`: JSON text.
        #[arg(long)]
        input: Option<String>,
    },
    /// List the schedules.
    List,
    /// Show one schedule with its last and next fire time.
    Show { name: String },
    /// Resume a schedule.
    Enable { name: String },
    /// Pause a schedule.
    Disable { name: String },
    /// Delete a schedule.
    Delete { name: String },
}

/// Runs `eddy schedule …`.
pub fn schedule(args: ScheduleArgs) -> std::process::ExitCode {
    run(&args.endpoint, schedule_request(args.command))
}

fn schedule_request(command: ScheduleCommand) -> Result<ApiRequest, String> {
    let path = |name: &str| format!("/v1/schedules/{}", encode(name));
    let state = |enabled: bool| {
        serde_json::json!({ "Enabled": enabled })
            .to_string()
            .into_bytes()
    };
    Ok(match command {
        ScheduleCommand::Create {
            name,
            function,
            cron,
            input,
        } => {
            let mut body = serde_json::json!({
                "Name": name,
                "FunctionName": function,
                "ScheduleExpression": cron,
            });
            if let Some(input) = input {
                body["Input"] = serde_json::from_str(&input)
                    .map_err(|e| format!("--input is not JSON: {e}"))?;
            }
            ApiRequest::json(
                Method::POST,
                "/v1/schedules".into(),
                body.to_string().into_bytes(),
            )
        }
        ScheduleCommand::List => ApiRequest::get("/v1/schedules".into()),
        ScheduleCommand::Show { name } => ApiRequest::get(path(&name)),
        ScheduleCommand::Enable { name } => {
            ApiRequest::json(Method::PATCH, path(&name), state(true))
        }
        ScheduleCommand::Disable { name } => {
            ApiRequest::json(Method::PATCH, path(&name), state(false))
        }
        ScheduleCommand::Delete { name } => {
            ApiRequest::json(Method::DELETE, path(&name), Vec::new())
        }
    })
}

/// `eddy function new|build|deploy [DIR]`: the project commands, which `crate::project`
/// runs (cli.rs hands them over). This module must not call that one: the project
/// commands send their requests through this module's transport.
#[derive(Debug)]
pub enum ProjectCommand {
    New {
        name: String,
        lang: String,
        dir: Option<PathBuf>,
    },
    Build {
        dir: Option<PathBuf>,
    },
    Deploy {
        endpoint: Endpoint,
        dir: Option<PathBuf>,
    },
    /// `deploy [DIR]` given a flag of `deploy NAME FILE`: the message.
    Refused(String),
}

impl FunctionArgs {
    /// The project command this is, if it is one (else [`function`] runs it).
    pub fn project_command(&self) -> Option<ProjectCommand> {
        Some(match &self.command {
            FunctionCommand::New { name, lang, dir } => ProjectCommand::New {
                name: name.clone(),
                lang: lang.clone(),
                dir: dir.clone(),
            },
            FunctionCommand::Build { dir } => ProjectCommand::Build { dir: dir.clone() },
            FunctionCommand::Deploy { target, .. } if target.len() < 2 => {
                match deploy_flag_given(&self.command) {
                    Some(flag) => ProjectCommand::Refused(format!(
                        "{flag} goes with `deploy NAME FILE`; `deploy [DIR]` takes the \
                         configuration from the project's eddy.toml"
                    )),
                    None => ProjectCommand::Deploy {
                        endpoint: self.endpoint.clone(),
                        dir: target.first().map(PathBuf::from),
                    },
                }
            }
            _ => return None,
        })
    }
}

/// Runs `eddy function …`.
pub fn function(args: FunctionArgs) -> std::process::ExitCode {
    if let FunctionCommand::Logs {
        name,
        limit,
        follow: true,
    } = &args.command
    {
        return follow::logs(&args.endpoint, name, *limit);
    }
    let judge = match &args.command {
        FunctionCommand::Invoke { name, .. } => Judge::Invocation(name.clone()),
        _ => Judge::Status,
    };
    run_judged(&args.endpoint, function_request(args.command), &judge)
}

/// Runs `eddy trigger …`.
pub fn trigger(args: TriggerArgs) -> std::process::ExitCode {
    run(&args.endpoint, trigger_request(args.command))
}

/// One API request a command makes.
struct ApiRequest {
    method: Method,
    path: String,
    content_type: &'static str,
    /// `X-Amz-Target`, for a DynamoDB API call (`eddy apply` creating tables).
    amz_target: Option<String>,
    body: Vec<u8>,
}

impl ApiRequest {
    fn get(path: String) -> Self {
        Self::json(Method::GET, path, Vec::new())
    }

    fn json(method: Method, path: String, body: Vec<u8>) -> Self {
        Self {
            method,
            path,
            content_type: "application/json",
            amz_target: None,
            body,
        }
    }
}

fn function_request(command: FunctionCommand) -> Result<ApiRequest, String> {
    Ok(match command {
        FunctionCommand::New { .. } | FunctionCommand::Build { .. } => {
            return Err("not a request".into());
        }
        FunctionCommand::Deploy {
            target,
            memory_mb,
            timeout_ms,
            tables,
            env,
            hosts,
            allow_any_host,
            indexes,
            email,
        } => {
            let [name, file] =
                <[String; 2]>::try_from(target).map_err(|_| "give DIR, or NAME FILE".to_owned())?;
            let wasm = std::fs::read(&file).map_err(|e| format!("{file}: {e}"))?;
            let mut query = Vec::new();
            if let Some(m) = memory_mb {
                query.push(format!("memory_mb={m}"));
            }
            if let Some(t) = timeout_ms {
                query.push(format!("timeout_ms={t}"));
            }
            for (key, values) in [
                ("table", &tables),
                ("env", &env),
                ("host", &hosts),
                ("index", &indexes),
            ] {
                query.extend(values.iter().map(|v| format!("{key}={}", encode(v))));
            }
            if allow_any_host {
                query.push("allow_any_host=true".to_owned());
            }
            if email {
                query.push("email=true".to_owned());
            }
            let query = if query.is_empty() {
                String::new()
            } else {
                format!("?{}", query.join("&"))
            };
            ApiRequest {
                method: Method::PUT,
                path: format!("/v1/functions/{}{query}", encode(&name)),
                content_type: "application/wasm",
                amz_target: None,
                body: wasm,
            }
        }
        FunctionCommand::List => ApiRequest::get("/v1/functions".into()),
        FunctionCommand::Show { name } => {
            ApiRequest::get(format!("/v1/functions/{}", encode(&name)))
        }
        FunctionCommand::Logs { name, limit, .. } => ApiRequest::get(format!(
            "/v1/functions/{}/logs{}",
            encode(&name),
            limit.map_or(String::new(), |l| format!("?limit={l}"))
        )),
        FunctionCommand::Delete { name } => ApiRequest::json(
            Method::DELETE,
            format!("/v1/functions/{}", encode(&name)),
            Vec::new(),
        ),
        FunctionCommand::Invoke { name, event } => {
            let event = match event {
                None => INVOKE_EVENT_DEFAULT.as_bytes().to_vec(),
                Some(source) => read_source(&source)?,
            };
            ApiRequest::json(
                Method::POST,
                format!("/v1/functions/{}/invoke", encode(&name)),
                event,
            )
        }
    })
}

fn trigger_request(command: TriggerCommand) -> Result<ApiRequest, String> {
    let path = |id: &str| format!("/v1/triggers/{}", encode(id));
    let patch = |id: &str, body: Value| {
        ApiRequest::json(Method::PATCH, path(id), body.to_string().into_bytes())
    };
    Ok(match command {
        TriggerCommand::Create(args) => {
            let mut body = match &args.json {
                Some(source) => match serde_json::from_slice(&read_source(source)?) {
                    Ok(Value::Object(m)) => m,
                    Ok(_) => return Err(format!("{source}: expected a JSON object")),
                    Err(e) => return Err(format!("{source}: not valid JSON: {e}")),
                },
                None => Map::new(),
            };
            let mut set = |key: &str, value: Option<Value>| {
                if let Some(v) = value {
                    body.insert(key.to_owned(), v);
                }
            };
            set("FunctionName", args.function.map(Value::from));
            set("TableName", args.table.map(Value::from));
            set("EventSourceArn", args.stream_arn.map(Value::from));
            set("SourceEndpoint", args.source_endpoint.map(Value::from));
            set("BatchSize", args.batch_size.map(Value::from));
            set("StartingPosition", args.starting_position.map(Value::from));
            if !body.contains_key("StartingPosition") {
                body.insert("StartingPosition".into(), Value::from("LATEST"));
            }
            if !body.contains_key("FunctionName") {
                return Err(
                    "give the function: --function NAME (or FunctionName in --json)".into(),
                );
            }
            if !body.contains_key("TableName") && !body.contains_key("EventSourceArn") {
                return Err(
                    "give the source: --table NAME or --stream-arn ARN (or EventSourceArn in --json)"
                        .into(),
                );
            }
            ApiRequest::json(
                Method::POST,
                "/v1/triggers".into(),
                Value::Object(body).to_string().into_bytes(),
            )
        }
        TriggerCommand::List { function } => ApiRequest::get(format!(
            "/v1/triggers{}",
            function.map_or(String::new(), |f| format!("?FunctionName={}", encode(&f)))
        )),
        TriggerCommand::Show { id } => ApiRequest::get(path(&id)),
        TriggerCommand::Update { id, json } => {
            ApiRequest::json(Method::PATCH, path(&id), read_source(&json)?)
        }
        TriggerCommand::Enable { id } => patch(&id, json!({ "Enabled": true })),
        TriggerCommand::Disable { id } => patch(&id, json!({ "Enabled": false })),
        TriggerCommand::Delete { id } => ApiRequest::json(Method::DELETE, path(&id), Vec::new()),
    })
}

/// The deploy flags given with `deploy [DIR]`, where the manifest says them instead.
fn deploy_flag_given(command: &FunctionCommand) -> Option<&'static str> {
    let FunctionCommand::Deploy {
        memory_mb,
        timeout_ms,
        tables,
        env,
        hosts,
        allow_any_host,
        indexes,
        email,
        ..
    } = command
    else {
        return None;
    };
    [
        (memory_mb.is_some(), "--memory-mb"),
        (timeout_ms.is_some(), "--timeout-ms"),
        (!tables.is_empty(), "--table"),
        (!env.is_empty(), "--env"),
        (!hosts.is_empty(), "--host"),
        (*allow_any_host, "--allow-any-host"),
        (!indexes.is_empty(), "--index"),
        (*email, "--email"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag))
}

/// One request of the project commands (`crate::project`): a `/v1` route, or with
/// `amz_target` a DynamoDB API call, on the endpoint's server.
pub(crate) async fn call(
    endpoint: &Endpoint,
    method: Method,
    path: String,
    content_type: &'static str,
    amz_target: Option<String>,
    body: Vec<u8>,
) -> Result<(hyper::StatusCode, bytes::Bytes), String> {
    let request = ApiRequest {
        method,
        path,
        content_type,
        amz_target,
        body,
    };
    send(endpoint, request).await
}

/// A refused request's body as one line (see [`refusal`]).
pub(crate) fn refusal_text(body: &[u8]) -> String {
    refusal(body, "the endpoint")
}

/// Percent-encodes one path segment.
pub(crate) fn encode_segment(s: &str) -> String {
    encode(s)
}

/// A file's bytes, or stdin's for `-`.
fn read_source(source: &str) -> Result<Vec<u8>, String> {
    if source == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| format!("stdin: {e}"))?;
        Ok(bytes)
    } else {
        std::fs::read(Path::new(source)).map_err(|e| format!("{source}: {e}"))
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Endpoint {
    /// The server's base URL (no trailing `/`): `--endpoint`, else `EDDY_ENDPOINT`, else
    /// the default; `host:port` means `http://host:port`.
    pub(crate) fn base(&self) -> Result<String, String> {
        let env = std::env::var(ENDPOINT_ENV).ok();
        endpoint::resolve(self.endpoint.as_deref(), env.as_deref())
    }
}

/// What makes a command's answer a success.
enum Judge {
    /// A 2xx status.
    Status,
    /// A 2xx status and an invocation whose `error` is null: `eddy function invoke` of
    /// the named function, whose exit code says whether the function failed.
    Invocation(String),
}

/// Sends the request and prints the outcome; the exit code says whether the request
/// worked.
fn run(endpoint: &Endpoint, request: Result<ApiRequest, String>) -> std::process::ExitCode {
    run_judged(endpoint, request, &Judge::Status)
}

fn run_judged(
    endpoint: &Endpoint,
    request: Result<ApiRequest, String>,
    judge: &Judge,
) -> std::process::ExitCode {
    use crate::console;
    let failed = || std::process::ExitCode::from(EXIT_REQUEST_FAILED);
    let outcome = request.and_then(|request| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the client: {e}"))?
            .block_on(send(endpoint, request))
    });
    match outcome {
        Ok((status, body)) if status.is_success() => {
            let parsed = serde_json::from_slice::<Value>(&body).ok();
            let text = match &parsed {
                Some(v) => serde_json::to_string_pretty(v).unwrap_or_default(),
                None => String::from_utf8_lossy(&body).into_owned(),
            };
            if let Err(e) = console::out(&text) {
                console::err(&format!("eddy: cannot write the output: {e}"));
                return failed();
            }
            let error = parsed.as_ref().and_then(|v| v.get("error"));
            match (judge, error) {
                (Judge::Invocation(name), Some(error)) if !error.is_null() => {
                    console::err(&format!(
                        "eddy: function {name} failed: {}",
                        invocation_error(error)
                    ));
                    std::process::ExitCode::from(EXIT_FUNCTION_FAILED)
                }
                _ => std::process::ExitCode::SUCCESS,
            }
        }
        Ok((status, body)) => {
            let base = endpoint.base().unwrap_or_default();
            console::err(&format!("eddy: {status}: {}", refusal(&body, &base)));
            failed()
        }
        Err(e) => {
            console::err(&format!("eddy: {e}"));
            failed()
        }
    }
}

/// An invocation's `error` (`{"kind", "message"}`) as one line.
fn invocation_error(error: &Value) -> String {
    let field = |name: &str| error.get(name).and_then(Value::as_str).unwrap_or_default();
    match (field("kind"), field("message")) {
        ("", "") => error.to_string(),
        (kind, "") => kind.to_owned(),
        ("", message) => message.to_owned(),
        (kind, message) => format!("{kind}: {message}"),
    }
}

/// The error of a refused request: Eddy's `{"error": {"code", "message"}}` as
/// `code: message`; anything else is not Eddy's answer (a proxy's, or another server's
/// at that address), so it is shown as it came with a word about that.
fn refusal(body: &[u8], base: &str) -> String {
    let eddys = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        let error = v.get("error")?;
        Some(format!(
            "{}: {}",
            error.get("code")?.as_str()?,
            error.get("message")?.as_str()?
        ))
    });
    if let Some(error) = eddys {
        // The server's words say what is missing; what to do about it is the client's.
        return if error.starts_with("MissingAuthenticationTokenException:") {
            format!(
                "{error} (this Eddy verifies signatures: set AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY to one of its access keys; the root credential is \
                 printed at its first start)"
            )
        } else {
            error
        };
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let shown = if text.is_empty() { "(no body)" } else { text };
    format!("{shown} (not an answer of Eddy's /v1 API: is {base} an Eddy server?)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_not_shaped_as_eddys_says_so() {
        let eddys =
            br#"{"error":{"code":"ResourceNotFoundException","message":"Function not found: f"}}"#;
        assert_eq!(
            refusal(eddys, "http://h:1"),
            "ResourceNotFoundException: Function not found: f"
        );
        assert_eq!(
            refusal(b"", "http://h:1"),
            "(no body) (not an answer of Eddy's /v1 API: is http://h:1 an Eddy server?)"
        );
        assert!(refusal(b"<html>nginx</html>", "http://h:1").starts_with("<html>nginx</html> ("));
        let unsigned = br#"{"error":{"code":"MissingAuthenticationTokenException","message":"Request is missing Authentication Token"}}"#;
        assert!(
            refusal(unsigned, "http://h:1").ends_with("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to one of its access keys; the root credential is printed at its first start)"),
        );
    }

    #[test]
    fn an_invocation_error_is_one_line() {
        let e = json!({"kind": "FunctionError", "message": "boom"});
        assert_eq!(invocation_error(&e), "FunctionError: boom");
        assert_eq!(invocation_error(&json!({"kind": "Timeout"})), "Timeout");
    }
}
