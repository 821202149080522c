//! The client commands `eddy function …` and `eddy trigger …`: thin HTTP clients over
//! the `/v1/` API of a running server (`--endpoint`, default the local one).
//!
//! Owns the subcommands' flags, turning them into requests, and printing: a success
//! prints the response JSON pretty on stdout; a failure prints the server's error
//! message on stderr and exits non-zero. No semantics live here.

mod autoscaling;
mod follow;
mod iam;

pub use autoscaling::{AutoscalingArgs, autoscaling};
pub use iam::{KeyArgs, UserArgs, key, user};

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};

/// The server the client commands talk to by default (`eddy serve`'s default address).
pub const ENDPOINT_DEFAULT: &str = "http://127.0.0.1:8000";
/// Longest a client command waits for its response: the longest function timeout
/// (15 minutes, for `invoke`) plus a minute.
pub const REQUEST_TIMEOUT_MS: u64 = 960_000;
/// The event `eddy function invoke` sends without `--event`: an empty stream batch.
pub const INVOKE_EVENT_DEFAULT: &str = r#"{"Records":[]}"#;

/// `--endpoint` and `--ca-cert`, shared by the client commands.
#[derive(Debug, Args, Clone)]
pub struct Endpoint {
    /// The Eddy server to talk to (`http://` or `https://`).
    #[arg(long, global = true, default_value = ENDPOINT_DEFAULT)]
    endpoint: String,
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
    /// Deploy a WebAssembly component (wasm32-wasip2) as the next version of a function.
    Deploy {
        /// The function's name (1-64 characters of [A-Za-z0-9_-]).
        name: String,
        /// The component file.
        file: PathBuf,
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
    run(&args.endpoint, function_request(args.command))
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
            body,
        }
    }
}

fn function_request(command: FunctionCommand) -> Result<ApiRequest, String> {
    Ok(match command {
        FunctionCommand::Deploy {
            name,
            file,
            memory_mb,
            timeout_ms,
            tables,
            env,
            hosts,
            allow_any_host,
            indexes,
            email,
        } => {
            let wasm = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
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

/// Sends the request and prints the outcome.
fn run(endpoint: &Endpoint, request: Result<ApiRequest, String>) -> std::process::ExitCode {
    let outcome = request.and_then(|request| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the client: {e}"))?
            .block_on(send(endpoint, request))
    });
    match outcome {
        Ok((status, body)) if status.is_success() => {
            match serde_json::from_slice::<Value>(&body) {
                Ok(v) => println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default()),
                Err(_) => println!("{}", String::from_utf8_lossy(&body)),
            }
            std::process::ExitCode::SUCCESS
        }
        Ok((status, body)) => {
            let message = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| {
                    let error = v.get("error")?;
                    Some(format!(
                        "{}: {}",
                        error.get("code")?.as_str()?,
                        error.get("message")?.as_str()?
                    ))
                })
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            eprintln!("eddy: {status}: {message}");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("eddy: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Sends one request on a connection of its own (plain, or TLS for `https://`) and
/// reads the whole response.
async fn send(
    endpoint: &Endpoint,
    request: ApiRequest,
) -> Result<(hyper::StatusCode, Bytes), String> {
    let base = endpoint.endpoint.trim_end_matches('/');
    let uri: hyper::Uri = format!("{base}{}", request.path)
        .parse()
        .map_err(|e| format!("invalid endpoint {base}: {e}"))?;
    let tls = match uri.scheme_str() {
        Some("https") => Some(crate::tls::client_config(
            crate::tls::ca_cert_path(endpoint.ca_cert.as_deref()).as_deref(),
        )?),
        Some("http") => None,
        _ => {
            return Err(format!(
                "invalid endpoint {base}: it must start with http:// or https://"
            ));
        }
    };
    let host = uri
        .host()
        .ok_or_else(|| format!("invalid endpoint {base}: no host"))?
        .to_owned();
    let port = uri
        .port_u16()
        .unwrap_or(if tls.is_some() { 443 } else { 80 });
    let authority = uri
        .authority()
        .map_or_else(|| host.clone(), ToString::to_string);
    let path = uri
        .path_and_query()
        .map_or("/", hyper::http::uri::PathAndQuery::as_str)
        .to_owned();
    let mut builder = Request::builder()
        .method(request.method.clone())
        .uri(&path)
        .header(hyper::header::HOST, &authority)
        .header(hyper::header::CONTENT_TYPE, request.content_type);
    // With credentials in the environment (as the AWS CLI reads them) the request is
    // signed, for a server that verifies signatures.
    if let (Ok(id), Ok(secret)) = (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) {
        let token = std::env::var("AWS_SESSION_TOKEN").ok();
        let region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|_| "us-east-1".to_owned());
        for (name, value) in crate::auth::sign::sign_headers(
            request.method.as_str(),
            &path,
            &authority,
            &request.body,
            &id,
            &secret,
            token.as_deref(),
            &region,
            std::time::SystemTime::now(),
            // The server buffers a signed /v1 body up to its limit to check it; a
            // larger one is sent unbound.
            request.body.len() > crate::auth::V1_SIGNED_BODY_BYTES_MAX,
        ) {
            builder = builder.header(name, value);
        }
    }
    let http = builder
        .body(Full::new(Bytes::from(request.body)))
        .map_err(|e| format!("invalid request to {uri}: {e}"))?;
    let exchange = async {
        let unreachable = |e: &dyn std::fmt::Display| {
            format!("cannot reach Eddy at {base} ({e}); is `eddy serve` running there?")
        };
        let io = crate::tls::connect(&host, port, tls)
            .await
            .map_err(|e| match e {
                crate::tls::ConnectError::Unreachable(e) => unreachable(&e),
                crate::tls::ConnectError::Tls(e) => format!("cannot talk to Eddy at {base}: {e}"),
            })?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| unreachable(&e))?;
        tokio::spawn(connection);
        let response = sender
            .send_request(http)
            .await
            .map_err(|e| unreachable(&e))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the response from {base}: {e}"))?
            .to_bytes();
        Ok((status, body))
    };
    tokio::time::timeout(Duration::from_millis(REQUEST_TIMEOUT_MS), exchange)
        .await
        .map_err(|_| format!("no response from {base} within {REQUEST_TIMEOUT_MS} ms"))?
}
