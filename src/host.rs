//! The host side of the trigger runtime: what `eddy-triggers` calls back into, and the
//! one place the server starts and stops it.
//!
//! Owns [`Platform`] (the executor, the function store, the stream trigger runtime and
//! the table capability, created once per server), [`EngineTables`] (a function's
//! DynamoDB calls, run through the same code as `POST /`) and [`WireCodec`] (a change
//! record in Lambda's JSON, through the same code as the Streams API). It does not know
//! the `/v1/` routes (that is `api/`).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use eddy_engine::{Engine, StreamDef, StreamRecord};
use eddy_triggers::schedule::Scheduler;
use eddy_triggers::stream::{EventCodec, RuntimeDeps, TriggerRuntime};
use eddy_triggers::{
    Executor, ExecutorConfig, FunctionStore, Services, TableApi, TableCall, TableCallError,
};

use crate::auth::decide::Subject;
use crate::error::ApiError;
use crate::services::mail::Mailer;
use crate::services::search::SearchIndexes;

/// Everything the functions and triggers API needs; cheap to clone.
#[derive(Clone)]
pub struct Platform {
    pub executor: Executor,
    pub functions: Arc<FunctionStore>,
    pub triggers: TriggerRuntime,
    /// Cron schedules (`/v1/schedules`).
    pub schedules: Scheduler,
    /// The DynamoDB capability handed to every invocation (triggers and `invoke`).
    pub tables: Arc<dyn TableApi>,
    /// Full-text indexes (the `search` capability and `GET /v1/search/{index}`).
    pub search: Arc<SearchIndexes>,
    pub started: Instant,
}

/// Server settings of the platform beyond the engine's.
#[derive(Debug, Clone, Default)]
pub struct PlatformOptions {
    /// The SMTP server functions granted `email` send through (`smtp://host:port`); none
    /// means the `email` capability is denied.
    pub smtp_url: Option<String>,
    /// Whether deployments may opt into wildcard host grants (`allow_any_host`).
    pub permit_any_host_grants: bool,
    /// The addresses the server is bound to, which functions' outbound HTTP may never
    /// reach (a function reaches this server only through its DynamoDB capability).
    pub listeners: Vec<std::net::SocketAddr>,
    /// Stream triggers on this server's tables are run by trigger workers (`eddy
    /// worker`) from NATS JetStream, not here (`--trigger-workers`).
    pub trigger_workers: bool,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("executor", &self.executor)
            .field("functions", &self.functions)
            .finish_non_exhaustive()
    }
}

impl Platform {
    /// Creates the executor (default configuration) with the search indexes under
    /// `data_dir/search` and the mailer, opens the function store under
    /// `data_dir/functions` and starts every stored trigger. `handle` runs the functions'
    /// table calls; it must belong to a multi-threaded runtime that outlives the
    /// platform (callers block on it from plain threads).
    pub fn start(
        engine: &Engine,
        data_dir: &Path,
        options: &PlatformOptions,
        handle: tokio::runtime::Handle,
    ) -> Result<Platform, String> {
        let functions_dir = data_dir.join("functions");
        let search = Arc::new(SearchIndexes::open(&data_dir.join("search"))?);
        let mail = match &options.smtp_url {
            Some(url) => Some(Arc::new(Mailer::new(url, engine.clone())?) as _),
            None => None,
        };
        let services = Services {
            search: Some(search.clone() as _),
            mail,
        };
        let executor = Executor::with_services(
            ExecutorConfig {
                any_host_grants_permitted: options.permit_any_host_grants,
                listeners: options.listeners.clone(),
                ..ExecutorConfig::default()
            },
            services,
        )
        .map_err(|e| e.to_string())?;
        let functions = Arc::new(
            FunctionStore::open_sealed(&functions_dir, &executor, engine.seal().clone())
                .map_err(|e| format!("cannot open the function store: {e}"))?,
        );
        let streams_api = Arc::new(crate::remote_streams::HttpStreamsApi {
            handle: handle.clone(),
            region: engine.config().region.clone(),
        });
        let tables: Arc<dyn TableApi> = Arc::new(EngineTables {
            engine: engine.clone(),
            handle,
        });
        let codec: Arc<dyn EventCodec> = Arc::new(WireCodec {
            region: engine.config().region.clone(),
        });
        let deps = RuntimeDeps {
            engine: engine.clone(),
            executor: executor.clone(),
            functions: functions.clone(),
            tables: tables.clone(),
            codec,
            streams_api: Some(streams_api),
        };
        let triggers = if options.trigger_workers {
            TriggerRuntime::start_for_workers(deps)
        } else {
            TriggerRuntime::start(deps)
        }
        .map_err(|e| format!("cannot start the triggers: {e}"))?;
        let schedules = Scheduler::start(
            engine.clone(),
            executor.clone(),
            functions.clone(),
            tables.clone(),
        )
        .map_err(|e| format!("cannot start the schedules: {e}"))?;
        Ok(Platform {
            schedules,
            executor,
            functions,
            triggers,
            tables,
            search,
            started: Instant::now(),
        })
    }

    /// Runs a trigger change (create, update, delete); the runtime serializes them.
    /// Blocks: call it off the async workers.
    pub fn change_triggers<T>(&self, change: impl FnOnce(&TriggerRuntime) -> T) -> T {
        change(&self.triggers)
    }

    /// Stops every trigger consumer (they finish the batch in hand and store their
    /// checkpoints). Blocks: call it before the engine shuts down, off the async
    /// workers.
    pub fn shutdown(&self) {
        self.schedules.shutdown();
        self.change_triggers(TriggerRuntime::shutdown);
    }
}

/// A function's DynamoDB capability: one operation through [`crate::dynamodb::dispatch_gated`],
/// exactly as if a client had sent it to `POST /`.
struct EngineTables {
    engine: Engine,
    handle: tokio::runtime::Handle,
}

impl TableApi for EngineTables {
    /// Called from consumer threads and `spawn_blocking` tasks, never from an async
    /// worker (where `block_on` would panic).
    /// A panic while handling the call (in the handler or its blocking task) is this
    /// call's `InternalServerError`, as for a client of `POST /`; it is logged, and the
    /// function and the thread that invoked it go on.
    /// Its writes carry the invocation's hops (`Engine::caused_by`), so a function
    /// that re-triggers itself is stopped by the recursive-loop guard.
    fn call(&self, call: TableCall<'_>) -> Result<String, TableCallError> {
        let operation = call.operation;
        let body = Bytes::copy_from_slice(call.request_json.as_bytes());
        let engine = self.engine.caused_by(call.context.origin_hops);
        // The request is parsed once, by the operation; the grant sees the tables it
        // names before anything runs.
        // The tables granted to the deployment are its role's policy, evaluated on
        // each action and resource the request needs, as a user's policies are.
        let config = self.engine.config();
        let role = Subject::function_role(
            call.grant.function(),
            call.grant.tables(),
            &config.account_id,
        );
        let gate = |request: &dyn crate::dynamodb::request::NamesTables| {
            let accesses = request.accesses(operation, &engine)?;
            role.allow_dynamodb(&accesses, &config.region, &config.account_id)
                .map_err(|d| ApiError::Refused {
                    code: "AccessDeniedException".to_owned(),
                    message: format!("{} (grant tables in the function's deployment)", d.message),
                })
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.handle.block_on(crate::dynamodb::dispatch_gated(
                &engine,
                operation,
                &body,
                Some(&gate),
            ))
        }));
        let result = match result {
            Ok(result) => result,
            Err(panic) => {
                let panic = eddy_engine::panic_text(panic.as_ref());
                tracing::error!(
                    operation,
                    panic = %panic,
                    "a function's DynamoDB call panicked; it fails with InternalServerError"
                );
                return Err(TableCallError::new(
                    "InternalServerError",
                    "Internal server error",
                ));
            }
        };
        match result {
            Ok(response) => String::from_utf8(response).map_err(|_| {
                TableCallError::new("InternalServerError", "the response is not UTF-8")
            }),
            Err(e) => {
                let (code, message) = e.code_and_message();
                Err(TableCallError { code, message })
            }
        }
    }
}

/// The header on a DynamoDB call a trigger worker (`eddy worker`) makes for a function:
/// the hop count of the records that invoked it, so that the function's writes carry
/// one more and the recursive-loop guard holds across processes.
pub const WORKER_HOPS_HEADER: &str = "x-eddy-hops";

/// The header naming the function a trigger worker's call is made for: the server
/// holds the call to that function's role (its table grant), as for an in-process
/// invocation.
pub const WORKER_FUNCTION_HEADER: &str = "x-eddy-function";

/// A DynamoDB call a trigger worker makes for a function. The server honours its
/// headers only from a caller that may do anything anyway (an administrator's key, or
/// any caller without `--auth`): a user's key cannot lower its hop count to escape the
/// loop guard, nor borrow a function's role.
#[derive(Debug)]
pub(crate) struct WorkerCall {
    pub hops: u8,
    pub function: Option<String>,
}

/// The worker headers of a request, if it has any.
pub(crate) fn worker_call(headers: &axum::http::HeaderMap) -> Option<WorkerCall> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let hops = text(WORKER_HOPS_HEADER);
    let function = text(WORKER_FUNCTION_HEADER);
    if hops.is_none() && function.is_none() {
        return None;
    }
    Some(WorkerCall {
        // A count that is not one is the loop guard's limit: such a caller is stopped
        // rather than let loose.
        hops: hops.map_or(0, |h| {
            h.trim()
                .parse()
                .unwrap_or(eddy_triggers::stream::RECURSION_HOPS_MAX)
        }),
        function: function.map(str::to_owned),
    })
}

/// Runs a trigger worker's call for a function: its writes carry the call's hops, and
/// with a function named, that function's role (its deployed table grant) is the gate,
/// exactly as [`EngineTables`] gates an in-process invocation. `note` learns the tables
/// the request names (the request metrics).
pub(crate) async fn dispatch_worker_call(
    engine: &Engine,
    functions: &FunctionStore,
    call: &WorkerCall,
    operation: &str,
    body: &Bytes,
    note: &(dyn Fn(&str) + Sync),
) -> Result<Vec<u8>, ApiError> {
    let engine = engine.caused_by(call.hops);
    let config = engine.config().clone();
    let role = call.function.as_ref().map(|name| {
        let deployed = functions.get(name);
        let tables: Vec<String> = deployed
            .map(|f| f.config().tables.iter().cloned().collect())
            .unwrap_or_default();
        Subject::function_role(name, tables.iter().map(String::as_str), &config.account_id)
    });
    let gate = |request: &dyn crate::dynamodb::request::NamesTables| {
        request.tables().into_iter().for_each(note);
        let Some(role) = &role else {
            return Ok(());
        };
        let accesses = request.accesses(operation, &engine)?;
        role.allow_dynamodb(&accesses, &config.region, &config.account_id)
            .map_err(|d| ApiError::Refused {
                code: "AccessDeniedException".to_owned(),
                message: format!("{} (grant tables in the function's deployment)", d.message),
            })
    };
    crate::dynamodb::dispatch_gated(&engine, operation, body, Some(&gate)).await
}

/// A change record in Lambda's DynamoDB-Streams event form.
struct WireCodec {
    region: String,
}

impl EventCodec for WireCodec {
    /// Written straight from the engine's values, no `Value` tree.
    fn write_record(
        &self,
        record: &StreamRecord,
        stream: &StreamDef,
        event_source_arn: &str,
        out: &mut Vec<u8>,
    ) {
        let wire =
            crate::streams::WireRecord::new(record, stream, &self.region, Some(event_source_arn));
        // Serializing our own values into a Vec cannot fail.
        let _ = serde_json::to_writer(out, &wire);
    }
}
