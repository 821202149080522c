//! The command line: `eddy serve` (the default) and its flags; `eddy function …` and
//! `eddy trigger …` and `eddy schedule …` are clients of a running server (`remote.rs`).

mod claim;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use eddy_engine::{Durability, Engine, EngineConfig, FatalHook, Fault, FaultKind};

use crate::budget::MemoryBudget;
use crate::host::{Platform, PlatformOptions};
use crate::server::serve;
use crate::state::AppState;

/// Exit code when the storage refused a write (a journal write or fsync failed, fjall
/// is poisoned): sysexits' `EX_IOERR`. A restart recovers from the journal.
pub const EXIT_STORAGE_FAULT: i32 = 74;
/// Exit code when the writer thread died of a bug outside any one write: sysexits'
/// `EX_SOFTWARE`.
pub const EXIT_WRITER_CRASHED: i32 = 70;

/// One MiB, the unit of the size flags.
const MIB: u64 = 1024 * 1024;

#[derive(Debug, Parser)]
#[command(
    name = "eddy",
    version,
    about = "A DynamoDB-compatible table store with streams and WebAssembly triggers"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default). Boxed: its flags make it far larger than the
    /// other commands (clippy's large_enum_variant).
    Serve(Box<ServeArgs>),
    /// Deploy, list, invoke and delete functions on a running server.
    Function(crate::remote::FunctionArgs),
    /// Attach functions to table streams on a running server.
    Trigger(crate::remote::TriggerArgs),
    /// Run functions on cron schedules on a running server.
    Schedule(crate::remote::ScheduleArgs),
    /// Make a running server match a project's eddy.toml (as `apply`), then rebuild and
    /// redeploy it on every save and print its functions' logs, until Ctrl-C.
    Dev(crate::project::DevArgs),
    /// Make a running server match a project's eddy.toml: create missing tables,
    /// deploy changed functions, create or update triggers and schedules. Never deletes.
    Apply(crate::project::ApplyArgs),
    /// Create, list and delete access keys on a running server (needs an
    /// administrator's key in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY).
    Key(crate::remote::KeyArgs),
    /// Create, list and delete users, and attach IAM policies to them, on a running
    /// server (needs an administrator's key).
    User(crate::remote::UserArgs),
    /// Auto scaling of provisioned capacity on a running server: scalable targets,
    /// target-tracking policies and the scaling activities.
    Autoscaling(crate::remote::AutoscalingArgs),
    /// Run stream triggers in this process for an Eddy started with `--nats` and
    /// `--trigger-workers`: records from NATS JetStream, shards shared with the other
    /// workers through leases, functions and definitions fetched from Eddy.
    Worker(crate::worker::WorkerArgs),
}

#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: SocketAddr,
    /// Directory of the embedded store.
    #[arg(long, default_value = "./eddy-data")]
    data_dir: PathBuf,
    /// Region reported in ARNs and stream records.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Keep everything in a scratch directory that is removed on exit (like
    /// DynamoDB Local's -inMemory). Writes are not fsync'd.
    #[arg(long)]
    in_memory: bool,
    /// `sync` (fsync before acknowledging, the default) or `buffered` (benchmarks only:
    /// a machine crash may lose acknowledged writes).
    #[arg(long, default_value = "sync", value_parser = ["sync", "buffered"])]
    durability: String,
    /// How long stream records are kept, in seconds (DynamoDB: 24 hours). Lower it to
    /// test trimming.
    #[arg(long, default_value_t = eddy_engine::STREAM_RETENTION_MS_DEFAULT / 1000)]
    stream_retention_s: u64,
    /// How long a shard iterator stays valid, in seconds (DynamoDB: 15 minutes). Lower
    /// it to test expiry.
    #[arg(long, default_value_t = eddy_engine::SHARD_ITERATOR_TTL_MS / 1000)]
    shard_iterator_ttl_s: u64,
    /// Hash shards of each new table: its stream shards, and so its parallel trigger
    /// consumers. DynamoDB starts a table with one.
    #[arg(long, default_value_t = eddy_engine::limits::TABLE_SHARDS_DEFAULT,
          value_parser = clap::value_parser!(u16).range(1..=i64::from(eddy_engine::limits::TABLE_SHARDS_MAX)))]
    table_shards: u16,
    /// Memory the server's load-dependent parts stay inside, in MiB: writes not yet
    /// flushed (1/4), the item and block caches (1/16 each), request bodies (1/8) and
    /// function uploads (1/4); the rest is headroom (see `src/budget.rs`). Functions'
    /// own memory is capped per invocation by their `memory_mb`.
    #[arg(long, default_value_t = crate::budget::MEMORY_BUDGET_BYTES_DEFAULT / MIB,
          value_parser = clap::value_parser!(u64).range(crate::budget::MEMORY_BUDGET_BYTES_MIN / MIB..))]
    memory_budget_mib: u64,
    /// Memory for recently read and written items, in MiB, so GetItem of a hot item
    /// skips the storage lookup (reads stay strongly consistent); 0 turns it off.
    /// Defaults to 1/16 of the memory budget.
    #[arg(long)]
    item_cache_mib: Option<u64>,
    /// Free space to keep on the data directory's file system, in MiB. Below it every
    /// write is refused with a retryable ServiceUnavailableException (reads go on) and
    /// writes resume by themselves once space is freed; it also leaves the storage room
    /// for its own memtable flushes and compactions. 0 turns the guard off: a full disk
    /// then fails a commit, and Eddy exits (a restart recovers from the journal).
    #[arg(long, default_value_t = eddy_engine::DISK_RESERVE_BYTES_DEFAULT / MIB)]
    disk_reserve_mib: u64,
    /// How often items past their Time to Live are deleted, in milliseconds (DynamoDB
    /// takes up to a few days).
    #[arg(long, default_value_t = eddy_engine::TTL_SWEEP_MS_DEFAULT,
          value_parser = clap::value_parser!(u64).range(1..))]
    ttl_sweep_ms: u64,
    /// The clock of capacity (throttling, burst capacity, the daily limit on
    /// throughput decreases): `wall`, or `manual`, which stands still until an
    /// administrator moves it with `POST /v1/capacity/clock` (for deterministic tests).
    #[arg(long, default_value = "wall", value_parser = ["wall", "manual"])]
    capacity_clock: String,
    /// Capacity accounting: `on` (DynamoDB's behaviour: provisioned and on-demand
    /// limits enforced, consumed units counted on /metrics and for auto scaling) or
    /// `off` (nothing throttled or counted; ConsumedCapacity still returned when asked
    /// for). `off` exists to measure what the accounting costs (tests/load/capacity-cost.sh).
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    capacity_accounting: String,
    /// The SMTP server that functions granted `email` send through, e.g.
    /// `smtp://127.0.0.1:2525`. Without it, their `email.send` is denied.
    #[arg(long)]
    smtp_url: Option<String>,
    /// Export every table's stream records to NATS JetStream at this server, e.g.
    /// `nats://127.0.0.1:4222` (one JetStream stream per table, see README). Off
    /// without it: no connection to NATS is made.
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
    /// Leave the stream triggers on this server's tables to trigger workers (`eddy
    /// worker`), which read the records from NATS JetStream: needs `--nats`. Triggers
    /// are still created, listed and changed here; schedules and triggers on a remote
    /// stream still run here.
    #[arg(long, requires = "nats")]
    trigger_workers: bool,
    /// Let deployments opt into wildcard outbound host grants (`*`, `*.domain`) with
    /// `allow_any_host`. Off by default: a function then reaches only the exact hosts
    /// it is granted.
    #[arg(long)]
    permit_any_host_grants: bool,
    /// Port to listen on, on `--listen`'s address (DynamoDB Local's `-port`).
    #[arg(long)]
    port: Option<u16>,
    /// Serve HTTPS with this certificate chain (PEM, the server's certificate first);
    /// needs `--tls-key`.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM: PKCS#8, PKCS#1 or SEC1); needs `--tls-cert`.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Encrypt stored values at rest with the 256-bit key in this file, written as 64
    /// hexadecimal digits (`openssl rand -hex 32 > eddy.key`). Items, index entries,
    /// stream records, system records and deployed functions are sealed with AES-256-GCM;
    /// keys and table definitions stay in clear. A data directory once opened with a
    /// key can only be opened with it; tables may then declare `SSESpecification`.
    #[arg(long)]
    encryption_key_file: Option<PathBuf>,
    /// One set of tables for every access key and region (DynamoDB Local's `-sharedDb`).
    /// `eddy serve` always keeps one set; started with DynamoDB Local's flags, Eddy keeps
    /// one per access key and region unless this is given.
    #[arg(long)]
    shared_db: bool,
    /// `sigv4` (verify every DynamoDB, Streams and /v1 request's AWS Signature Version 4
    /// against the stored keys) or `off`. Default: `off` when listening on a loopback
    /// address, `sigv4` otherwise.
    #[arg(long, value_parser = ["off", "sigv4"])]
    auth: Option<String>,
    /// With `--auth sigv4`, let anyone read `/metrics` unsigned (for a Prometheus
    /// scraper without credentials).
    #[arg(long)]
    public_metrics: bool,
    /// With `--auth sigv4`, let anyone make `/v1` reads (GET, HEAD) unsigned; `/v1/iam`
    /// and every change still need a key.
    #[arg(long)]
    public_v1_reads: bool,
    /// Append a JSON-lines audit log to this file (created readable by its owner only):
    /// one line per request refused by authentication or a policy (`denied`: the access
    /// key it named, the error type and message), and per control-plane change, failed
    /// ones too (`change`: DynamoDB's CreateTable, UpdateTable, DeleteTable,
    /// UpdateTimeToLive, TagResource, UntagResource, and every /v1 POST, PUT, PATCH and
    /// DELETE: functions, triggers, schedules, keys), each with the time, the identity
    /// (user and access key id, `anonymous` or `auth-off`), the source IP, the action,
    /// the resource and the status. Off by default. Lines are flushed as they come and
    /// fsync'd at most once a second; when the writer falls behind, lines are dropped
    /// and counted in /metrics (eddy_audit_lines_dropped_total), never waited for.
    #[arg(long)]
    audit_log: Option<PathBuf>,
    /// How often auto scaling reads each scaled table's consumed capacity, in
    /// milliseconds.
    #[arg(long, default_value_t = crate::scaling::TICK_MS_DEFAULT,
          value_parser = clap::value_parser!(u64).range(1..))]
    autoscaling_tick_ms: u64,
    /// How long utilization must stay above a policy's target before auto scaling
    /// raises the capacity, in seconds (DynamoDB: 2 minutes).
    #[arg(long, default_value_t = crate::scaling::SCALE_OUT_AFTER_S_DEFAULT)]
    autoscaling_scale_out_after_s: u64,
    /// How long utilization must stay 20 points below a policy's target before auto
    /// scaling lowers the capacity, in seconds (DynamoDB: 15 minutes).
    #[arg(long, default_value_t = crate::scaling::SCALE_IN_AFTER_S_DEFAULT)]
    autoscaling_scale_in_after_s: u64,
    /// The cooldown, both ways, of a scaling policy that gives no ScaleInCooldown or
    /// ScaleOutCooldown, in seconds (DynamoDB: 0).
    #[arg(long, default_value_t = crate::scaling::COOLDOWN_S_DEFAULT)]
    autoscaling_default_cooldown_s: u64,
}

/// DynamoDB Local's single-dash flags (`java -jar DynamoDBLocal.jar -inMemory -port 8000
/// -sharedDb -dbPath DIR`) and the flags of Eddy they are: a script written for DynamoDB
/// Local starts Eddy with its own arguments.
const DYNAMODB_LOCAL_FLAGS: [(&str, &str); 4] = [
    ("-inMemory", "--in-memory"),
    ("-port", "--port"),
    ("-sharedDb", "--shared-db"),
    ("-dbPath", "--data-dir"),
];

/// The command line with DynamoDB Local's flags spelled as Eddy's; everything else is
/// left as it is.
fn with_dynamodb_local_flags(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    args.into_iter()
        .map(|arg| {
            DYNAMODB_LOCAL_FLAGS
                .iter()
                .find(|(local, _)| arg.to_str() == Some(local))
                .map_or(arg, |(_, eddy)| (*eddy).into())
        })
        .collect()
}

/// Whether the command line is DynamoDB Local's (any of its flags).
fn dynamodb_local_style(args: &[std::ffi::OsString]) -> bool {
    args.iter().any(|arg| {
        DYNAMODB_LOCAL_FLAGS
            .iter()
            .any(|(local, _)| arg.to_str() == Some(local))
    })
}

/// The log filter without `EDDY_LOG`: warnings and errors, and the trigger reports'
/// INFO events too (a batch that succeeded after failed attempts), so that the log
/// says how a run of trigger failures ended, not only that it began.
const LOG_FILTER_DEFAULT: &str = "warn,eddy_triggers::stream::consumer::report=info";

/// Parses the command line and runs it.
pub fn main() -> std::process::ExitCode {
    // The log goes to stderr (stdout is the server's start-up lines and the client
    // commands' JSON), coloured only on a terminal, so that a log file or a pipe gets
    // plain `key=value` fields.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("EDDY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(LOG_FILTER_DEFAULT)),
        )
        .init();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if dynamodb_local_style(&args) && !args.iter().any(|a| a == "-sharedDb") {
        // DynamoDB Local without -sharedDb keeps the tables of each access key and
        // region apart: so does Eddy, by one mapping at the edge.
        crate::server::configure_namespaces(true);
        crate::console::err(
            "eddy: started with DynamoDB Local's flags but without -sharedDb: the tables of \
             each access key and region are kept apart, as DynamoDB Local keeps them (in \
             Eddy's /v1 API and triggers, table <name> of key K in region R is K_R.<name>)",
        );
    }
    let cli = Cli::parse_from(with_dynamodb_local_flags(args));
    let args = match cli.command {
        Some(Command::Serve(a)) => *a,
        Some(Command::Function(a)) => {
            return match a.project_command() {
                Some(project) => crate::project::function(project),
                None => crate::remote::function(a),
            };
        }
        Some(Command::Trigger(a)) => return crate::remote::trigger(a),
        Some(Command::Schedule(a)) => return crate::remote::schedule(a),
        Some(Command::Key(a)) => return crate::remote::key(a),
        Some(Command::Dev(a)) => return crate::project::dev(a),
        Some(Command::Apply(a)) => return crate::project::apply(a),
        Some(Command::User(a)) => return crate::remote::user(a),
        Some(Command::Autoscaling(a)) => return crate::remote::autoscaling(a),
        Some(Command::Worker(a)) => return crate::worker::main(a),
        None => cli.serve,
    };
    match run_serve(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            crate::console::err(&format!("eddy: {e}"));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Crash-only: a fault that leaves the engine unable to write ends the process at once,
/// before any request of the failed commit is answered (its outcome is unknown, and an
/// error answer could deny a write that was applied). Whoever supervises Eddy restarts
/// it; the restart recovers every acknowledged write from the journal. A process that
/// stayed up would only refuse writes while looking alive.
fn exit_on_fatal_fault(fault: &Fault) {
    let code = match fault.kind {
        FaultKind::WriterCrashed => EXIT_WRITER_CRASHED,
        _ => EXIT_STORAGE_FAULT,
    };
    tracing::error!(%fault, code, "fatal fault, exiting");
    // Not `eprintln!`: a panic on a closed stderr would skip the exit below.
    crate::console::err(&format!(
        "eddy: exiting (code {code}) after a fatal fault: {fault}. Restart Eddy on the same \
         data directory: it recovers every acknowledged write from its journal."
    ));
    std::process::exit(code);
}

/// `--auth`, else `off` on a loopback address (only this machine can connect) and
/// `sigv4` on any other.
fn auth_mode(flag: Option<&str>, listen: SocketAddr) -> crate::auth::Mode {
    use crate::auth::Mode;
    match flag {
        Some("sigv4") => Mode::SigV4,
        Some(_) => Mode::Off,
        None if listen.ip().is_loopback() => Mode::Off,
        None => Mode::SigV4,
    }
}

/// Opens the credential store, sets the mode (by `--auth`, else by the listen address)
/// and, when requests are verified, makes sure an administrator's key exists: the one of
/// `EDDY_ROOT_ACCESS_KEY_ID` / `EDDY_ROOT_SECRET_ACCESS_KEY`, or one generated at the first
/// start and printed once.
fn configure_auth(
    args: &ServeArgs,
    engine: &Engine,
    data_dir: Option<&std::path::Path>,
) -> Result<(), Box<dyn std::error::Error>> {
    use crate::auth::{Mode, keys};
    let mode = auth_mode(args.auth.as_deref(), args.listen);
    let store = std::sync::Arc::new(crate::auth::Keys::open(engine)?);
    if mode == Mode::SigV4 {
        let from_env = match (
            std::env::var(keys::ROOT_KEY_ENV),
            std::env::var(keys::ROOT_SECRET_ENV),
        ) {
            (Ok(id), Ok(secret)) if !id.is_empty() && !secret.is_empty() => Some((id, secret)),
            _ => None,
        };
        if let Some((key, file)) = store.bootstrap_root(from_env, data_dir)? {
            let kept = file.map_or_else(
                || "It is kept nowhere else (--in-memory): note it now".to_owned(),
                |f| {
                    format!(
                        "It is also kept in {} (readable by its owner only)",
                        f.display()
                    )
                },
            );
            crate::console::err(&format!(
                "eddy: created the root credential (an administrator's key), shown only now:\n  \
                 AWS_ACCESS_KEY_ID={}\n  AWS_SECRET_ACCESS_KEY={}\n{kept}; set {} and {} \
                 to choose it yourself",
                key.access_key_id,
                key.secret_access_key,
                keys::ROOT_KEY_ENV,
                keys::ROOT_SECRET_ENV
            ));
        }
    }
    let public = crate::auth::Public {
        metrics: args.public_metrics,
        v1_reads: args.public_v1_reads,
    };
    let users = std::sync::Arc::new(crate::auth::Users::open(engine)?);
    crate::auth::configure(mode, store, users, public);
    Ok(())
}

fn run_serve(mut args: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(port) = args.port {
        args.listen.set_port(port);
    }
    // Read before parsing (in `main`): without it, DynamoDB Local's flags turn on one
    // namespace per access key and region; `eddy serve` always shares one.
    let _ = args.shared_db;
    // Read before the store opens, so that a bad certificate or key fails fast and
    // says which file is wrong.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::server_config(cert, key)?),
        _ => None,
    };
    // Likewise a `--nats` address that is not one.
    if let Some(url) = &args.nats {
        crate::export::check_url(url)?;
    }
    let seal_key = match &args.encryption_key_file {
        Some(path) => Some(eddy_engine::SealKey::load(path)?),
        None => None,
    };
    let data_dir = if args.in_memory {
        remove_orphaned_scratch_dirs();
        std::env::temp_dir().join(format!("{IN_MEMORY_DIR_PREFIX}{}", std::process::id()))
    } else {
        args.data_dir.clone()
    };
    // Held until the process ends: a second Eddy on the same directory stops here with
    // a message naming it, before either store is touched.
    let _data_dir_lock = if args.in_memory {
        None
    } else {
        Some(claim::data_dir(&data_dir)?)
    };
    // Bound before the store opens, so that a taken port fails at once (not after a
    // long journal recovery), and before the platform starts, so that functions are
    // told the real address (with the port the system chose for `:0`) that their
    // outbound HTTP may not reach.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(args.listen))
        .map_err(|e| claim::cannot_listen(args.listen, &e))?;
    let functions_dir = data_dir.join("functions");
    let budget = MemoryBudget::new(args.memory_budget_mib.saturating_mul(MIB));
    crate::server::configure_body_budget(budget.request_bodies_bytes());
    crate::api::configure_uploads(budget.uploads_bytes());
    let config = EngineConfig {
        data_dir: data_dir.clone(),
        in_memory: args.in_memory,
        region: args.region.clone(),
        account_id: "000000000000".into(),
        durability: if args.durability == "buffered" {
            Durability::Buffered
        } else {
            Durability::Sync
        },
        stream_retention_ms: args.stream_retention_s.saturating_mul(1000).max(1),
        shard_iterator_ttl_ms: args.shard_iterator_ttl_s.saturating_mul(1000),
        table_shards: args.table_shards,
        item_cache_bytes: args
            .item_cache_mib
            .map_or(budget.item_cache_bytes(), |mib| mib.saturating_mul(MIB)),
        ttl_sweep_ms: args.ttl_sweep_ms,
        write_buffer_bytes: budget.write_buffer_bytes(),
        block_cache_bytes: budget.block_cache_bytes(),
        disk_reserve_bytes: args.disk_reserve_mib.saturating_mul(MIB),
        on_fatal: Some(FatalHook::new(exit_on_fatal_fault)),
        seal_key,
        capacity_clock: if args.capacity_clock == "manual" {
            eddy_engine::capacity::CapacityClock::manual()
        } else {
            eddy_engine::capacity::CapacityClock::wall()
        },
        capacity_accounting_off: args.capacity_accounting == "off",
    };
    let engine = Engine::open(config).map_err(|e| format!("cannot open the store: {e}"))?;
    let _ = crate::console::out(&if args.in_memory {
        "Eddy keeps its data in memory (--in-memory): it is gone when the server stops".to_owned()
    } else {
        format!("Eddy data directory: {}", args.data_dir.display())
    });
    configure_auth(
        &args,
        &engine,
        (!args.in_memory).then_some(data_dir.as_path()),
    )?;
    if let Some(path) = &args.audit_log {
        crate::audit::configure(path)?;
    }
    crate::scaling::start(
        &engine,
        crate::scaling::Config {
            tick_ms: args.autoscaling_tick_ms,
            scale_out_after_ms: args.autoscaling_scale_out_after_s.saturating_mul(1000),
            scale_in_after_ms: args.autoscaling_scale_in_after_s.saturating_mul(1000),
            default_cooldown_ms: args.autoscaling_default_cooldown_s.saturating_mul(1000),
        },
    )?;
    let options = PlatformOptions {
        smtp_url: args.smtp_url.clone(),
        permit_any_host_grants: args.permit_any_host_grants,
        listeners: vec![listener.local_addr()?],
        trigger_workers: args.trigger_workers,
    };
    let platform = Platform::start(&engine, &data_dir, &options, runtime.handle().clone())?;
    if let Some(url) = &args.nats {
        crate::export::start(&engine, url)?;
        if args.trigger_workers {
            // What the workers do is shown here as if the triggers ran here.
            crate::worker_status::start(platform.triggers.clone(), url)?;
        }
    }
    let served = runtime.block_on(serve(
        AppState {
            engine,
            platform: std::sync::Arc::new(platform.clone()),
        },
        listener,
        tls,
    ));
    // Already done when `serve` ran to its end; not when it failed to start.
    platform.shutdown();
    crate::audit::close();
    if args.in_memory {
        // The engine is shut down (its writer stopped), so nothing writes into the
        // scratch directory any more: it goes whole, with the functions and search
        // indexes. Background threads still holding an engine handle (the auto scaler
        // runs as long as the process) keep it alive, so its removal cannot wait for
        // the engine to drop.
        let _ = std::fs::remove_dir_all(&functions_dir);
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    served?;
    Ok(())
}

/// The scratch directory of `--in-memory` is this prefix and the process id, under the
/// system's temporary directory.
const IN_MEMORY_DIR_PREFIX: &str = "eddy-mem-";

/// Removes the scratch directories of `--in-memory` servers that are gone without
/// cleaning up (killed with SIGKILL, or crashed): a directory whose process id names no
/// running process. Its journal can hold hundreds of megabytes, and a test run starts
/// and kills many such servers. Linux only (it asks `/proc`); elsewhere nothing is
/// removed.
fn remove_orphaned_scratch_dirs() {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(IN_MEMORY_DIR_PREFIX))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> ServeArgs {
        let args = with_dynamodb_local_flags(args.iter().map(std::ffi::OsString::from));
        let cli = Cli::try_parse_from(args).expect("parses");
        match cli.command {
            Some(Command::Serve(a)) => *a,
            None => cli.serve,
            Some(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn auth_defaults_to_off_on_loopback_only() {
        use crate::auth::Mode;
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(auth_mode(None, at("127.0.0.1:8000")), Mode::Off);
        assert_eq!(auth_mode(None, at("[::1]:8000")), Mode::Off);
        assert_eq!(auth_mode(None, at("0.0.0.0:8000")), Mode::SigV4);
        assert_eq!(auth_mode(None, at("10.1.2.3:8000")), Mode::SigV4);
        assert_eq!(auth_mode(Some("off"), at("0.0.0.0:8000")), Mode::Off);
        assert_eq!(auth_mode(Some("sigv4"), at("127.0.0.1:8000")), Mode::SigV4);
    }

    #[test]
    fn auto_scalings_time_constants_default_to_dynamodbs_and_are_flags() {
        let a = parsed(&["eddy"]);
        assert_eq!(
            (
                a.autoscaling_tick_ms,
                a.autoscaling_scale_out_after_s,
                a.autoscaling_scale_in_after_s,
                a.autoscaling_default_cooldown_s
            ),
            (5_000, 120, 900, 0)
        );
        let a = parsed(&[
            "eddy",
            "--autoscaling-tick-ms",
            "100",
            "--autoscaling-scale-out-after-s",
            "2",
            "--autoscaling-scale-in-after-s",
            "4",
            "--autoscaling-default-cooldown-s",
            "1",
        ]);
        assert_eq!(
            (
                a.autoscaling_tick_ms,
                a.autoscaling_scale_out_after_s,
                a.autoscaling_scale_in_after_s,
                a.autoscaling_default_cooldown_s
            ),
            (100, 2, 4, 1)
        );
        let err = Cli::try_parse_from(["eddy", "--autoscaling-tick-ms", "0"]).expect_err("0 ms");
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
    }

    #[test]
    fn dynamodb_locals_flags_are_eddys() {
        let a = parsed(&["eddy", "-inMemory", "-port", "8001", "-sharedDb"]);
        assert!(a.in_memory && a.shared_db);
        assert_eq!(a.port, Some(8001));
        let a = parsed(&["eddy", "serve", "-dbPath", "/tmp/x", "-sharedDb"]);
        assert_eq!(a.data_dir, PathBuf::from("/tmp/x"));
        assert!(!a.in_memory);
        // Eddy's own flags are unchanged.
        let a = parsed(&["eddy", "--listen", "0.0.0.0:9000", "--in-memory"]);
        assert!(a.in_memory && !a.shared_db);
        assert_eq!(a.listen.port(), 9000);
        assert!(dynamodb_local_style(&["eddy".into(), "-port".into()]));
        // A certificate needs its key and a key its certificate.
        let a = parsed(&["eddy", "--tls-cert", "c.pem", "--tls-key", "k.pem"]);
        assert_eq!(a.tls_cert, Some(PathBuf::from("c.pem")));
        assert_eq!(a.tls_key, Some(PathBuf::from("k.pem")));
        for half in [["--tls-cert", "c.pem"], ["--tls-key", "k.pem"]] {
            let err = Cli::try_parse_from(["eddy", half[0], half[1]]).expect_err("refused");
            assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        }
        assert!(!dynamodb_local_style(&["eddy".into(), "--port".into()]));
    }
}
