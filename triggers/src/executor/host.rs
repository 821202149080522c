//! The per-invocation host state (a wasmtime `Store`'s data) and the implementation of the
//! world's imports: logging, the DynamoDB capability (behind the table grant), config,
//! search and e-mail (behind their grants), and outbound `wasi:http` (behind the host
//! allow-list).
//!
//! Owns what a guest can reach during one invocation: an empty WASI context (no files, no
//! sockets, no environment; stdout/stderr captured into the log), the deployment's
//! capabilities and the memory limiter. Must not know how invocations are scheduled,
//! timed or classified (`mod.rs`), nor where deployments are stored.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream as WasiOutputStream, Pollable, StreamResult};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

use eddy_engine::sync::lock;

use super::bindings::eddy::function::{config, dynamodb, email, logging, search};
use super::deployment::Deployment;
use super::grant;
use super::host_grant::host_allowed;
use super::logs::{InvocationLog, LogLevel, OutputStream, SharedInvocationLog};
use super::outbound;
use super::services::{MailError, MailMessage, SearchError, Services};
use super::tables::{CallContext, TableApi, TableCall, TableCallError, TableGrant};

/// Bytes a guest may have in flight per `write` on stdout/stderr (WASI's write permit).
const OUTPUT_WRITE_PERMIT_BYTES_MAX: usize = 64 * 1024;

/// The data of one invocation's `Store`.
pub(crate) struct InvocationState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: MemoryLimiter,
    pub(crate) log: SharedInvocationLog,
    deployment: Arc<Deployment>,
    tables: Arc<dyn TableApi>,
    /// Carried into every table call (see [`CallContext`]).
    context: CallContext,
    services: Services,
    http: WasiHttpCtx,
    outbound: OutboundHttp,
    /// Search indexes this invocation changed: committed when it succeeds.
    pub(crate) search_touched: std::collections::BTreeSet<String>,
    /// Set by the epoch callback when the deadline passed.
    pub(crate) timed_out: bool,
}

impl InvocationState {
    pub(crate) fn new(
        deployment: Arc<Deployment>,
        tables: Arc<dyn TableApi>,
        context: CallContext,
        services: Services,
        policy: outbound::OutboundPolicy,
        invocation: u64,
        deadline: Instant,
    ) -> Self {
        let log: SharedInvocationLog = Arc::new(Mutex::new(InvocationLog::new(
            invocation,
            deployment.version,
        )));
        // Nothing is inherited: no preopened directories, no environment or arguments, no
        // network addresses (every socket address is denied by default), no stdin.
        let wasi = WasiCtx::builder()
            .stdout(CapturedOutput {
                log: log.clone(),
                stream: OutputStream::Stdout,
            })
            .stderr(CapturedOutput {
                log: log.clone(),
                stream: OutputStream::Stderr,
            })
            .build();
        let memory_bytes_max = usize::try_from(deployment.config.memory_mb)
            .unwrap_or(usize::MAX)
            .saturating_mul(1024 * 1024);
        Self {
            wasi,
            table: ResourceTable::new(),
            limits: MemoryLimiter::new(memory_bytes_max),
            log,
            outbound: OutboundHttp {
                deployment: deployment.clone(),
                wildcards_allowed: policy.any_host_grants_permitted
                    && deployment.config.allow_any_host,
                listeners: policy.listeners,
                deadline,
            },
            deployment,
            tables,
            context,
            services,
            http: WasiHttpCtx::new(),
            search_touched: std::collections::BTreeSet::new(),
            timed_out: false,
        }
    }
}

impl WasiView for InvocationState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for InvocationState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// Outbound HTTP of one invocation: only to the deployment's granted hosts, never to
/// this server's own listener (see `outbound.rs`), and never
/// past the invocation's deadline (a host call cannot be interrupted by the epoch, so the
/// connect and first-byte timeouts are cut to the time left).
struct OutboundHttp {
    /// The deployment, shared (not its host set copied) so that an invocation that makes
    /// no request pays nothing for the allow-list.
    deployment: Arc<Deployment>,
    /// Whether the deployment's wildcard grants count: it opted in and the server
    /// permits it.
    wildcards_allowed: bool,
    /// This server's listening addresses, which no request may reach.
    listeners: Arc<[std::net::SocketAddr]>,
    deadline: Instant,
}

/// The shortest timeout an outbound request gets, so that a request made just before the
/// deadline fails as a timeout rather than with a zero-duration error.
const OUTBOUND_TIMEOUT_MS_MIN: u64 = 1;

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<WasiBody>,
                        Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        _ = fut;
        let allowed = host_allowed(
            &self.deployment.config.hosts,
            self.wildcards_allowed,
            request.uri(),
        );
        let left = self
            .deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(OUTBOUND_TIMEOUT_MS_MIN));
        let mut options = options.unwrap_or_default();
        for timeout in [
            &mut options.connect_timeout,
            &mut options.first_byte_timeout,
            &mut options.between_bytes_timeout,
        ] {
            *timeout = Some(timeout.map_or(left, |t| t.min(left)));
        }
        let listeners = self.listeners.clone();
        Box::new(async move {
            use http_body_util::BodyExt;

            if !allowed {
                return Err(wasmtime_wasi_http::Error::HttpRequestDenied);
            }
            let (response, io) = outbound::send(request, options, listeners).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

impl logging::Host for InvocationState {
    fn log(&mut self, level: logging::Level, message: String, fields: Vec<logging::Field>) {
        let level = match level {
            logging::Level::Trace => LogLevel::Trace,
            logging::Level::Debug => LogLevel::Debug,
            logging::Level::Info => LogLevel::Info,
            logging::Level::Warn => LogLevel::Warn,
            logging::Level::Error => LogLevel::Error,
        };
        let fields = fields.into_iter().map(|f| (f.name, f.value)).collect();
        lock(&self.log).push(level, &message, fields);
    }
}

impl dynamodb::Host for InvocationState {
    fn call(
        &mut self,
        operation: String,
        request_json: String,
    ) -> Result<String, dynamodb::ErrorRecord> {
        let to_record = |TableCallError { code, message }| dynamodb::ErrorRecord { code, message };
        grant::check_request(&operation, &request_json).map_err(to_record)?;
        self.tables
            .call(TableCall {
                operation: &operation,
                request_json: &request_json,
                context: self.context,
                grant: TableGrant {
                    function: &self.deployment.name,
                    granted: &self.deployment.config.tables,
                },
            })
            .map_err(to_record)
    }
}

impl config::Host for InvocationState {
    fn get(&mut self, key: String) -> Option<String> {
        self.deployment.config.environment.get(&key).cloned()
    }
}

impl InvocationState {
    /// Commits the search indexes this invocation changed (see
    /// [`super::services::SearchApi::commit`]).
    pub(crate) fn commit_search(&self) -> Result<(), SearchError> {
        match (&self.services.search, self.search_touched.is_empty()) {
            (Some(search), false) => {
                let touched: Vec<String> = self.search_touched.iter().cloned().collect();
                search.commit(&touched)
            }
            _ => Ok(()),
        }
    }

    /// The search service, if the deployment is granted `index` and the server has one.
    fn search_for(
        &self,
        index: &str,
    ) -> Result<&Arc<dyn super::services::SearchApi>, search::Error> {
        if !self.deployment.config.indexes.contains(index) {
            return Err(search::Error::Denied(format!(
                "function {:?} is not granted search index {index:?}",
                self.deployment.name
            )));
        }
        self.services
            .search
            .as_ref()
            .ok_or_else(|| search::Error::Denied("this server has no search service".to_owned()))
    }
}

fn to_search_error(error: SearchError) -> search::Error {
    match error {
        SearchError::Denied(m) => search::Error::Denied(m),
        SearchError::Invalid(m) => search::Error::Invalid(m),
        SearchError::Internal(m) => search::Error::Internal(m),
    }
}

impl search::Host for InvocationState {
    fn upsert(
        &mut self,
        index: String,
        id: String,
        document_json: String,
    ) -> Result<(), search::Error> {
        self.search_for(&index)?
            .upsert(&index, &id, &document_json)
            .map_err(to_search_error)?;
        self.search_touched.insert(index);
        Ok(())
    }

    fn delete(&mut self, index: String, id: String) -> Result<(), search::Error> {
        self.search_for(&index)?
            .delete(&index, &id)
            .map_err(to_search_error)?;
        self.search_touched.insert(index);
        Ok(())
    }

    fn query(
        &mut self,
        index: String,
        query: String,
        limit: u32,
    ) -> Result<Vec<search::Hit>, search::Error> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let hits = self
            .search_for(&index)?
            .query(&index, &query, limit)
            .map_err(to_search_error)?;
        Ok(hits
            .into_iter()
            .map(|hit| search::Hit {
                id: hit.id,
                score: hit.score,
                document_json: hit.document_json,
            })
            .collect())
    }
}

impl email::Host for InvocationState {
    fn send(&mut self, message: email::Message) -> Result<String, email::Error> {
        if !self.deployment.config.email {
            return Err(email::Error::Denied(format!(
                "function {:?} is not granted e-mail",
                self.deployment.name
            )));
        }
        let Some(mail) = &self.services.mail else {
            return Err(email::Error::Denied(
                "this server has no SMTP server configured (eddy serve --smtp-url)".to_owned(),
            ));
        };
        let message = MailMessage {
            from: message.from,
            to: message.to,
            subject: message.subject,
            body_text: message.body_text,
            idempotency_key: message.idempotency_key,
        };
        mail.send(&self.deployment.name, message)
            .map_err(|error| match error {
                MailError::Denied(m) => email::Error::Denied(m),
                MailError::Invalid(m) => email::Error::Invalid(m),
                MailError::Transient(m) => email::Error::Transient(m),
            })
    }
}

/// [`StoreLimits`] with `trap_on_grow_failure`, plus a cap on the *total* of all linear
/// memories of the invocation (`StoreLimits` caps each memory alone), remembering whether
/// it refused memory so that the executor reports `OutOfMemory` rather than a trap.
pub(crate) struct MemoryLimiter {
    inner: StoreLimits,
    memory_bytes_max: usize,
    memory_bytes_total: usize,
    pub(crate) memory_refused: bool,
}

impl MemoryLimiter {
    fn new(memory_bytes_max: usize) -> Self {
        Self {
            inner: StoreLimitsBuilder::new()
                .memory_size(memory_bytes_max)
                .trap_on_grow_failure(true)
                .build(),
            memory_bytes_max,
            memory_bytes_total: 0,
            memory_refused: false,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self
            .memory_bytes_total
            .saturating_sub(current)
            .saturating_add(desired);
        if total > self.memory_bytes_max {
            self.memory_refused = true;
            return Err(wasmtime::Error::msg(format!(
                "memory limit reached: {total} bytes wanted, {} allowed",
                self.memory_bytes_max
            )));
        }
        let grown = self.inner.memory_growing(current, desired, maximum);
        match grown {
            Ok(true) => self.memory_bytes_total = total,
            _ => self.memory_refused = true,
        }
        grown
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.memory_refused = true;
        self.inner.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

/// stdout or stderr of a guest, written line by line into the invocation's log. Never
/// refuses a write (a full log drops lines instead), so a chatty guest does not fail.
#[derive(Clone)]
struct CapturedOutput {
    log: SharedInvocationLog,
    stream: OutputStream,
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn p2_stream(&self) -> Box<dyn WasiOutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl WasiOutputStream for CapturedOutput {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        lock(&self.log).write_output(self.stream, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(OUTPUT_WRITE_PERMIT_BYTES_MAX)
    }
}

#[async_trait::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        lock(&self.log).write_output(self.stream, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
