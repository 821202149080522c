//! The per-invocation host state (a wasmtime `Store`'s data) and the implementation of the
//! world's imports: logging, the DynamoDB capability (behind the table grant) and config.
//!
//! Owns what a guest can reach during one invocation: an empty WASI context (no files, no
//! network, no environment; stdout/stderr captured into the log), the deployment's
//! capabilities and the memory limiter. Must not know how invocations are scheduled,
//! timed or classified (`mod.rs`), nor where deployments are stored.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream as WasiOutputStream, Pollable, StreamResult};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::TableApi;
use super::bindings::eddy::function::{config, dynamodb, logging};
use super::grant;
use super::logs::{InvocationLog, LogLevel, OutputStream, SharedInvocationLog};
use super::store::Deployment;

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
    /// Set by the epoch callback when the deadline passed.
    pub(crate) timed_out: bool,
}

impl InvocationState {
    pub(crate) fn new(
        deployment: Arc<Deployment>,
        tables: Arc<dyn TableApi>,
        invocation: u64,
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
            deployment,
            tables,
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
        let to_record = |(code, message): (String, String)| dynamodb::ErrorRecord { code, message };
        grant::check(
            &self.deployment.name,
            &operation,
            &request_json,
            &self.deployment.config.tables,
        )
        .map_err(to_record)?;
        self.tables
            .call(&operation, &request_json)
            .map_err(to_record)
    }
}

impl config::Host for InvocationState {
    fn get(&mut self, key: String) -> Option<String> {
        self.deployment.config.environment.get(&key).cloned()
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

/// Locks the invocation log; a poisoned lock (a panic while logging) keeps its data.
pub(crate) fn lock(log: &SharedInvocationLog) -> std::sync::MutexGuard<'_, InvocationLog> {
    log.lock().unwrap_or_else(|e| e.into_inner())
}
