//! The executor: runs one function version on one event in a fresh, limited sandbox.
//!
//! Owns the wasmtime `Engine` (pooling allocator, epoch interruption with a ticker
//! thread), the `Linker` (WASI p2 with nothing granted, plus Eddy's imports), compiling and
//! type-checking components at deploy time, the instance slots and their bounded wait
//! queue, and the per-invocation `Store` with its memory cap and deadline. A trap, runaway
//! loop, out-of-memory or a panic of host code ends only that invocation and is reported
//! as its [`InvokeError`]; an invocation that finds the queue full is refused at once.
//!
//! Must not know where events come from (streams, schedules, HTTP) or what happens with
//! the result (checkpoints, retries): that is the triggers' business.

mod bindings;
mod config;
mod deployment;
mod grant;
mod host;
mod host_grant;
mod logs;
mod outbound;
mod services;
mod store;
mod tables;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Trap,
    UpdateDeadline,
};

pub use config::{ExecutorConfig, INSTANCES_MAX, INVOKE_QUEUE_DEPTH_MAX};
pub use deployment::{FunctionConfig, INDEX_NAME_CHARS_MAX, is_index_name};
pub use logs::{LogLevel, LogLine};
pub use services::{MailApi, MailError, MailMessage, SearchApi, SearchError, SearchHit, Services};
pub use store::{FUNCTIONS_MAX, FunctionStore, FunctionVersion, Origin, StoreError};
pub use tables::{CallContext, TableApi, TableCall, TableCallError, TableGrant};

use bindings::{Function, FunctionPre};
use eddy_engine::sync::lock;
use host::InvocationState;

/// How often the ticker advances the engine's epoch. A running guest checks its deadline
/// at every tick, so a runaway loop is stopped at most one tick (plus scheduling delay)
/// after its deadline — well inside the promised 10 ms.
pub const EPOCH_TICK_US: u64 = 1_000;
/// A larger component is refused at deploy time (Lambda's 50 MB, with room for the
/// 18 MB Python and 12 MB JavaScript components).
pub const COMPONENT_BYTES_MAX: usize = 64 * 1024 * 1024;
/// A larger response is reported as a function error (Lambda's 6 MB payload limit).
pub const RESPONSE_BYTES_MAX: usize = 6 * 1024 * 1024;
/// Core instances in one component (a Rust `wasm32-wasip2` component has a handful; the
/// rest is headroom for other languages' toolchains).
pub const CORE_INSTANCES_PER_COMPONENT_MAX: u32 = 32;
/// Linear memories in one component.
pub const MEMORIES_PER_COMPONENT_MAX: u32 = 2;
/// Tables in one component.
pub const TABLES_PER_COMPONENT_MAX: u32 = 8;
/// Elements in one table.
pub const TABLE_ELEMENTS_MAX: usize = 20_000;
/// Low bytes of each pooled linear memory that stay resident between invocations and are
/// reset with `memset` of only the dirty pages (Linux `PAGEMAP_SCAN`, kernel ≥ 6.7)
/// instead of `madvise`: a small guest's stack and heap then do not page-fault again on
/// every invocation. Above this, memory is decommitted as usual.
pub const LINEAR_MEMORY_KEEP_RESIDENT_BYTES: usize = 2 * 1024 * 1024;
/// The same for tables.
pub const TABLE_KEEP_RESIDENT_BYTES: usize = 64 * 1024;
/// The nice value of the threads that run direct invocations
/// ([`Ticket::run_on_thread`], the `/v1` invoke route), above the server's own threads'
/// 0: a burst of CPU-bound invocations then cannot starve the HTTP edge that answers
/// them, the writer or the engine's readers, while it still has every cycle they do not
/// want. (A nice-0 thread weighs about nine nice-10 ones in Linux's scheduler; 64 runaway
/// loops on 2 cores left the edge 3% of the CPU at nice 0, and 600 invocations with a 2 s
/// deadline took 5.6 s to be answered instead of 4.3 s.) Trigger consumers and schedule
/// timers keep the default priority: their delivery latency is the platform's promise,
/// and a lower priority would also yield it to every other process on the machine.
pub const INVOCATION_THREAD_NICE: i32 = 10;
/// The outcome of one invocation.
#[derive(Debug)]
pub struct Invocation {
    /// The function's response JSON, or why there is none.
    pub result: Result<String, InvokeError>,
    /// What the function logged (also appended to its log ring).
    pub logs: Vec<LogLine>,
    /// Time from instantiation to the end of the call (not the wait for a slot).
    pub duration: Duration,
    /// Time spent waiting for an instance slot (it counts against the deadline).
    pub queued: Duration,
    /// Whether the function ran at all: `false` for an invocation refused because the
    /// queue was full, or whose deadline passed while it waited for a slot. Lambda's
    /// event-source mappings retry such a throttled batch without counting a retry.
    pub started: bool,
}

impl Invocation {
    /// An invocation that never reached the function.
    fn not_started(error: InvokeError, queued: Duration) -> Invocation {
        Invocation {
            result: Err(error),
            logs: Vec::new(),
            duration: Duration::ZERO,
            queued,
            started: false,
        }
    }

    /// Whether the invocation was throttled: refused, or never started before its
    /// deadline. The batch did not reach the function.
    pub fn throttled(&self) -> bool {
        !self.started
    }
}

/// Why an invocation has no response. Each is that invocation's failure only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// It ran past its deadline and was stopped, or its deadline (which counts from when
    /// it was asked for) passed while it waited for an instance slot.
    #[error("timed out after {timeout_ms} ms")]
    Timeout { timeout_ms: u64 },
    /// Refused at once: every instance slot was busy and the wait queue was full.
    #[error(
        "throttled: all {instances_max} instance slots are busy and {queue_depth_max} \
         invocations are already waiting for one"
    )]
    Throttled {
        instances_max: u32,
        queue_depth_max: u32,
    },
    /// Host code (a capability, the limiter, the search commit) panicked during the
    /// invocation: a bug in Eddy, contained to this invocation.
    #[error("the host failed during the invocation: {message}")]
    Host { message: String },
    /// It tried to grow its memory past its limit.
    #[error("out of memory (limit {memory_mb} MiB)")]
    OutOfMemory { memory_mb: u32 },
    /// It trapped (a panic, `unreachable`, a bad memory access, …).
    #[error("trapped: {message}")]
    Trap { message: String },
    /// It returned an error (Lambda's function error).
    #[error("function error: {message}")]
    FunctionError { message: String },
}

/// Why a component cannot be deployed. The message says what is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeployError {
    #[error(
        "invalid function name {name:?}: use 1 to {} characters of [A-Za-z0-9_-]",
        deployment::FUNCTION_NAME_CHARS_MAX
    )]
    InvalidName { name: String },
    #[error("invalid configuration: {field}: {message}")]
    InvalidConfig {
        field: &'static str,
        message: String,
    },
    #[error("the component is {bytes} bytes, over the limit of {COMPONENT_BYTES_MAX} bytes")]
    TooLarge { bytes: usize },
    #[error(
        "{deployed} functions are deployed, the most this server keeps ({}): delete one \
         before deploying another",
        store::FUNCTIONS_MAX
    )]
    TooManyFunctions { deployed: usize },
    #[error("not a WebAssembly binary (it does not start with the `\\0asm` magic number)")]
    NotWasm,
    #[error(
        "a core WebAssembly module, not a component: build the function for \
         `wasm32-wasip2` (or wrap the module with `wasm-tools component new`)"
    )]
    CoreModule,
    #[error("not a valid WebAssembly component: {message}")]
    InvalidComponent { message: String },
    #[error("a component of the wrong world (expected eddy:function/function@0.1.0): {message}")]
    WrongWorld { message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The engine could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot create the WebAssembly engine: {message}")]
pub struct ExecutorError {
    message: String,
}

/// Runs function versions. Cheap to clone (one shared engine).
#[derive(Clone)]
pub struct Executor {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<InvocationState>,
    config: ExecutorConfig,
    services: Services,
    /// What outbound HTTP may reach beyond the grants, shared with every invocation.
    outbound: outbound::OutboundPolicy,
    slots: Slots,
    invocations: AtomicU64,
    compilations: AtomicU64,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Executor {
    /// Creates the engine, the linker and the epoch ticker thread (which ends when the
    /// engine and everything compiled with it is dropped), with no search or mail service.
    pub fn new(config: ExecutorConfig) -> Result<Self, ExecutorError> {
        Self::with_services(config, Services::default())
    }

    /// [`Executor::new`] with the server's search and mail services, which functions reach
    /// through the `search` and `email` imports when their deployment grants them.
    pub fn with_services(
        config: ExecutorConfig,
        services: Services,
    ) -> Result<Self, ExecutorError> {
        let error = |e: wasmtime::Error| ExecutorError {
            message: format!("{e:#}"),
        };
        let instances = config.instances_max.max(1);
        let memory_bytes_max = usize::try_from(config.memory_mb_max)
            .unwrap_or(usize::MAX)
            .saturating_mul(1024 * 1024);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(instances)
            .total_core_instances(instances.saturating_mul(CORE_INSTANCES_PER_COMPONENT_MAX))
            .total_memories(instances.saturating_mul(MEMORIES_PER_COMPONENT_MAX))
            .total_tables(instances.saturating_mul(TABLES_PER_COMPONENT_MAX))
            .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT_MAX)
            .max_memories_per_component(MEMORIES_PER_COMPONENT_MAX)
            .max_tables_per_component(TABLES_PER_COMPONENT_MAX)
            .table_elements(TABLE_ELEMENTS_MAX)
            .max_memory_size(memory_bytes_max)
            .linear_memory_keep_resident(LINEAR_MEMORY_KEEP_RESIDENT_BYTES)
            .table_keep_resident(TABLE_KEEP_RESIDENT_BYTES)
            .pagemap_scan(Enabled::Auto);
        let mut engine_config = Config::new();
        engine_config
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&engine_config).map_err(error)?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(error)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker).map_err(error)?;
        Function::add_to_linker::<InvocationState, HasSelf<InvocationState>>(&mut linker, |s| s)
            .map_err(error)?;

        spawn_ticker(&engine);
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                slots: Slots::new(instances, config.queue_depth_max),
                outbound: outbound::OutboundPolicy {
                    any_host_grants_permitted: config.any_host_grants_permitted,
                    listeners: config.listeners.clone().into(),
                },
                config,
                services,
                invocations: AtomicU64::new(0),
                compilations: AtomicU64::new(0),
            }),
        })
    }

    /// The settings this executor was created with.
    pub fn config(&self) -> &ExecutorConfig {
        &self.inner.config
    }

    /// Components compiled from WebAssembly by this executor so far (cache loads do not
    /// count).
    pub fn compilations(&self) -> u64 {
        self.inner.compilations.load(Ordering::Relaxed)
    }

    /// Compiles `wasm` and checks it against the function world.
    pub(crate) fn compile(
        &self,
        wasm: &[u8],
    ) -> Result<(Component, FunctionPre<InvocationState>), DeployError> {
        if wasm.len() > COMPONENT_BYTES_MAX {
            return Err(DeployError::TooLarge { bytes: wasm.len() });
        }
        match wasm.get(..8) {
            Some([0x00, b'a', b's', b'm', 0x01, 0x00, 0x00, 0x00]) => {
                return Err(DeployError::CoreModule);
            }
            Some([0x00, b'a', b's', b'm', ..]) => {}
            _ => return Err(DeployError::NotWasm),
        }
        self.inner.compilations.fetch_add(1, Ordering::Relaxed);
        let component = Component::new(&self.inner.engine, wasm).map_err(|e| {
            DeployError::InvalidComponent {
                message: format!("{e:#}"),
            }
        })?;
        let pre = self.prepare(&component)?;
        Ok((component, pre))
    }

    /// Loads a component serialized by [`Component::serialize`] with this engine's
    /// configuration and checks it against the function world.
    pub(crate) fn load_compiled(
        &self,
        compiled: &[u8],
    ) -> Result<FunctionPre<InvocationState>, DeployError> {
        // SAFETY: `Component::deserialize` trusts its input to be machine code produced by
        // wasmtime. We pass only `.cwasm` files this store wrote itself (from
        // `Component::serialize`, atomically renamed into a directory only Eddy writes),
        // never user input; and wasmtime checks the header of the file (its version and
        // the engine's compilation settings) and refuses a mismatch, in which case the
        // caller recompiles from the stored `.wasm`.
        #[allow(
            unsafe_code,
            reason = "deserializing our own compiled-component cache; see SAFETY above"
        )]
        let component =
            unsafe { Component::deserialize(&self.inner.engine, compiled) }.map_err(|e| {
                DeployError::InvalidComponent {
                    message: format!("{e:#}"),
                }
            })?;
        self.prepare(&component)
    }

    /// Resolves the component's imports against the linker and finds its exports.
    fn prepare(&self, component: &Component) -> Result<FunctionPre<InvocationState>, DeployError> {
        let instance_pre =
            self.inner
                .linker
                .instantiate_pre(component)
                .map_err(|e| DeployError::WrongWorld {
                    message: format!("it imports something Eddy does not provide: {e:#}"),
                })?;
        FunctionPre::new(instance_pre).map_err(|e| DeployError::WrongWorld {
            message: format!(
                "it does not export `handle: func(event-json: string) -> result<string, \
                 string>`: {e:#}"
            ),
        })
    }

    /// Runs `function` once on `event_json` (a Lambda event) in a fresh instance, with the
    /// deployment's memory limit and deadline: [`Executor::admit`], then [`Ticket::run`].
    /// Blocks while it waits for a free slot; the wait counts against the deadline, and
    /// an invocation that finds the wait queue full is refused at once
    /// ([`InvokeError::Throttled`]).
    ///
    /// The deadline is checked by running guest code at every epoch tick; time spent in a
    /// host call (`tables`) is counted but cannot be interrupted.
    pub fn invoke(
        &self,
        function: &FunctionVersion,
        event_json: &str,
        tables: &Arc<dyn TableApi>,
    ) -> Invocation {
        self.invoke_in(CallContext::default(), function, event_json, tables)
    }

    /// [`Executor::invoke`] for an invocation caused by `context` (a trigger's records):
    /// the function's table calls carry it.
    pub fn invoke_in(
        &self,
        context: CallContext,
        function: &FunctionVersion,
        event_json: &str,
        tables: &Arc<dyn TableApi>,
    ) -> Invocation {
        match self.admit(function) {
            Ok(ticket) => ticket.run_in(context, function, event_json, tables),
            Err(refused) => Invocation::not_started(refused, Duration::ZERO),
        }
    }

    /// Asks for an invocation of `function`: its deadline starts now. The ticket holds an
    /// instance slot at once if one is free, or else a place in the wait queue; when the
    /// queue already holds [`ExecutorConfig::queue_depth_max`] waiting invocations it is
    /// refused at once with [`InvokeError::Throttled`]. Never blocks.
    pub fn admit(&self, function: &FunctionVersion) -> Result<Ticket, InvokeError> {
        let asked = Instant::now();
        let timeout_ms = function.deployment.config.timeout_ms;
        let deadline = asked + Duration::from_millis(timeout_ms);
        let slots = &self.inner.slots;
        let (slot, waiting) = match slots.permits.clone().try_acquire_owned() {
            Ok(slot) => (Some(slot), false),
            Err(TryAcquireError::NoPermits | TryAcquireError::Closed) => {
                let before = slots.waiting.fetch_add(1, Ordering::AcqRel);
                if before >= slots.queue_depth_max {
                    slots.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(InvokeError::Throttled {
                        instances_max: slots.instances_max,
                        queue_depth_max: slots.queue_depth_max,
                    });
                }
                (None, true)
            }
        };
        Ok(Ticket {
            executor: self.clone(),
            asked,
            deadline,
            timeout_ms,
            slot,
            waiting,
        })
    }

    /// Invocations waiting for an instance slot now.
    pub fn queued(&self) -> u32 {
        self.inner.slots.waiting.load(Ordering::Acquire)
    }

    /// Runs `function` in a fresh store until `deadline`, holding an instance slot. A
    /// panic of host code during the invocation becomes its [`InvokeError::Host`].
    fn run_in_slot(
        &self,
        context: CallContext,
        function: &FunctionVersion,
        event_json: &str,
        tables: &Arc<dyn TableApi>,
        deadline: Instant,
    ) -> (Result<String, InvokeError>, Vec<LogLine>, Duration) {
        let invocation = self.inner.invocations.fetch_add(1, Ordering::Relaxed) + 1;
        let deployment = &function.deployment;
        let started = Instant::now();

        let state = InvocationState::new(
            deployment.clone(),
            tables.clone(),
            context,
            self.inner.services.clone(),
            self.inner.outbound.clone(),
            invocation,
            deadline,
        );
        let log = state.log.clone();
        let mut store = wasmtime::Store::new(&self.inner.engine, state);
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut ctx| {
            if Instant::now() >= deadline {
                ctx.data_mut().timed_out = true;
                Err(Trap::Interrupt.into())
            } else {
                Ok(UpdateDeadline::Continue(1))
            }
        });

        // Host code runs inside the call (the capabilities, the limiter, the epoch
        // callback): a panic there unwinds out of wasmtime and is caught here, so it ends
        // this invocation only. The store is dropped afterwards and never used again.
        let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let mut outcome = function
                .pre
                .instantiate(&mut store)
                .and_then(|instance| instance.call_handle(&mut store, event_json));
            if let Ok(Ok(_)) = &outcome
                && let Err(e) = store.data().commit_search()
            {
                outcome = Ok(Err(format!(
                    "the search index changes were not committed: {e}"
                )));
            }
            outcome
        }));
        let duration = started.elapsed();
        let outcome = match ran {
            Ok(outcome) => outcome,
            Err(panic) => {
                let message = eddy_engine::panic_text(panic.as_ref());
                tracing::error!(
                    function = %deployment.name,
                    version = deployment.version,
                    invocation,
                    panic = %message,
                    "host code panicked during an invocation; the invocation failed"
                );
                drop(store);
                let logs = lock(&log).finish();
                function.logs.extend(&logs);
                return (Err(InvokeError::Host { message }), logs, duration);
            }
        };
        let state = store.into_data();

        let logs = lock(&state.log).finish();
        let result = match outcome {
            Ok(Ok(response)) if response.len() > RESPONSE_BYTES_MAX => {
                Err(InvokeError::FunctionError {
                    message: format!(
                        "the response is {} bytes, over the limit of {RESPONSE_BYTES_MAX} bytes",
                        response.len()
                    ),
                })
            }
            Ok(Ok(response)) => Ok(response),
            Ok(Err(message)) => Err(InvokeError::FunctionError { message }),
            Err(_) if state.timed_out => Err(InvokeError::Timeout {
                timeout_ms: deployment.config.timeout_ms,
            }),
            Err(_) if state.limits.memory_refused => Err(InvokeError::OutOfMemory {
                memory_mb: deployment.config.memory_mb,
            }),
            Err(e) => {
                let mut message = match e.downcast_ref::<Trap>() {
                    Some(trap) => trap.to_string(),
                    None => format!("{e:#}"),
                };
                if let Some(panic) = logs::panic_message(&logs) {
                    message = format!("{message} ({panic})");
                }
                Err(InvokeError::Trap { message })
            }
        };
        function.logs.extend(&logs);
        (result, logs, duration)
    }
}

/// An admitted invocation ([`Executor::admit`]): its deadline, counted from when it was
/// asked for, and an instance slot or a place in the wait queue. Dropping it gives both
/// back.
pub struct Ticket {
    executor: Executor,
    asked: Instant,
    deadline: Instant,
    timeout_ms: u64,
    slot: Option<OwnedSemaphorePermit>,
    /// Holds a place in the wait queue (until it gets a slot or is dropped).
    waiting: bool,
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket")
            .field("deadline", &self.deadline)
            .field("has_slot", &self.slot.is_some())
            .finish_non_exhaustive()
    }
}

impl Ticket {
    /// When the invocation's time is up: it was asked for `timeout_ms` before.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the ticket holds an instance slot (it will run at once).
    pub fn has_slot(&self) -> bool {
        self.slot.is_some()
    }

    /// Ends the invocation without running it: its deadline passed (or its caller gave
    /// up) before it got an instance slot. The same outcome as [`Ticket::run`] after a
    /// wait that reached the deadline, without a blocking call.
    pub fn expire(self) -> Invocation {
        Invocation::not_started(
            InvokeError::Timeout {
                timeout_ms: self.timeout_ms,
            },
            self.asked.elapsed(),
        )
    }

    /// Waits for an instance slot without blocking a thread; returns at once if the
    /// ticket holds one. It does not watch the deadline: bound it with the caller's own
    /// timer (dropping the future leaves the ticket waiting, as before).
    pub async fn slot(&mut self) {
        if self.slot.is_some() {
            return;
        }
        let permits = self.executor.inner.slots.permits.clone();
        if let Ok(slot) = permits.acquire_owned().await {
            self.took(slot);
        }
    }

    /// Runs the invocation: waits (blocking) for an instance slot until the deadline,
    /// then runs `function` (the one it was admitted for) with the time that is left. An
    /// invocation whose deadline passes before it gets a slot ends as a
    /// [`InvokeError::Timeout`] without running ([`Invocation::started`] is `false`).
    pub fn run(
        self,
        function: &FunctionVersion,
        event_json: &str,
        tables: &Arc<dyn TableApi>,
    ) -> Invocation {
        self.run_in(CallContext::default(), function, event_json, tables)
    }

    /// [`Ticket::run`] for an invocation caused by `context`.
    pub fn run_in(
        mut self,
        context: CallContext,
        function: &FunctionVersion,
        event_json: &str,
        tables: &Arc<dyn TableApi>,
    ) -> Invocation {
        if self.slot.is_none() {
            let permits = self.executor.inner.slots.permits.clone();
            if let Some(Ok(slot)) = block_on_until(permits.acquire_owned(), self.deadline) {
                self.took(slot);
            }
        }
        let queued = self.asked.elapsed();
        if self.slot.is_none() || Instant::now() >= self.deadline {
            return Invocation::not_started(
                InvokeError::Timeout {
                    timeout_ms: self.timeout_ms,
                },
                queued,
            );
        }
        let (result, logs, duration) =
            self.executor
                .run_in_slot(context, function, event_json, tables, self.deadline);
        Invocation {
            result,
            logs,
            duration,
            queued,
            started: true,
        }
    }

    /// [`Ticket::run`] on a thread of its own at the priority of function threads
    /// ([`lower_thread_priority`]), for async callers: the returned future resolves when
    /// the invocation is over, and holds no thread of the caller's while it runs.
    pub fn run_on_thread(
        self,
        function: Arc<FunctionVersion>,
        event_json: String,
        tables: Arc<dyn TableApi>,
    ) -> impl Future<Output = Invocation> + Send + 'static {
        let (done, outcome) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("eddy-invoke".to_owned())
            .spawn(move || {
                lower_thread_priority();
                let _ = done.send(self.run(&function, &event_json, &tables));
            });
        async move {
            let failed = |message: String| {
                tracing::error!(error = %message, "an invocation failed in the host");
                Invocation::not_started(InvokeError::Host { message }, Duration::ZERO)
            };
            match spawned {
                Ok(_) => outcome.await.unwrap_or_else(|_| {
                    failed("the invocation's thread ended without an answer".to_owned())
                }),
                Err(e) => failed(format!("cannot start a thread for the invocation: {e}")),
            }
        }
    }

    fn took(&mut self, slot: OwnedSemaphorePermit) {
        self.slot = Some(slot);
        self.leave_queue();
    }

    fn leave_queue(&mut self) {
        if std::mem::take(&mut self.waiting) {
            self.executor
                .inner
                .slots
                .waiting
                .fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.leave_queue();
    }
}

/// Lowers the calling thread's CPU priority to [`INVOCATION_THREAD_NICE`] (Linux keeps
/// the nice value per thread), unless it is lower already. For threads that run a
/// function and nothing else; a best effort, which leaves the priority as it is where
/// the system refuses.
fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    if let Ok(nice) = rustix::process::getpriority_process(None)
        && nice < INVOCATION_THREAD_NICE
    {
        let _ = rustix::process::setpriority_process(None, INVOCATION_THREAD_NICE);
    }
}

/// Polls `future` on this thread until it completes or `deadline` passes (`None`): the
/// blocking wait of callers that are plain threads (trigger consumers, schedules,
/// `spawn_blocking` tasks), with no runtime needed. The future is dropped on timeout,
/// which takes it out of the semaphore's queue.
fn block_on_until<F: Future>(future: F, deadline: Instant) -> Option<F::Output> {
    /// Wakes the waiting thread.
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return Some(output);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        // A spurious wake-up only polls once more.
        std::thread::park_timeout(deadline - now);
    }
}

/// Advances `engine`'s epoch every [`EPOCH_TICK_US`] until the engine is gone.
fn spawn_ticker(engine: &Engine) {
    let weak = engine.weak();
    let tick = Duration::from_micros(EPOCH_TICK_US);
    std::thread::Builder::new()
        .name("eddy-epoch".to_owned())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(tick);
            }
        })
        .expect("spawning the epoch ticker thread");
}

/// The instance pool's slots (a FIFO semaphore) and the count of invocations waiting for
/// one, bounded by [`ExecutorConfig::queue_depth_max`].
struct Slots {
    permits: Arc<Semaphore>,
    waiting: AtomicU32,
    instances_max: u32,
    queue_depth_max: u32,
}

impl Slots {
    fn new(instances_max: u32, queue_depth_max: u32) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(instances_max as usize)),
            waiting: AtomicU32::new(0),
            instances_max,
            queue_depth_max,
        }
    }
}
