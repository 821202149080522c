//! The executor: runs one function version on one event in a fresh, limited sandbox.
//!
//! Owns the wasmtime `Engine` (pooling allocator, epoch interruption with a ticker
//! thread), the `Linker` (WASI p2 with nothing granted, plus Eddy's imports), compiling and
//! type-checking components at deploy time, and the per-invocation `Store` with its memory
//! cap and deadline. A trap, runaway loop or out-of-memory ends only that invocation and
//! is reported as its [`InvokeError`].
//!
//! Must not know where events come from (streams, schedules, HTTP) or what happens with
//! the result (checkpoints, retries): that is the triggers' business.

mod bindings;
mod grant;
mod host;
mod logs;
mod services;
mod store;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Trap,
    UpdateDeadline,
};

pub use logs::{LogLevel, LogLine};
pub use services::{MailApi, MailError, MailMessage, SearchApi, SearchError, SearchHit, Services};
pub use store::{
    FunctionConfig, FunctionStore, FunctionVersion, INDEX_NAME_CHARS_MAX, Origin, StoreError,
    is_index_name,
};

use bindings::{Function, FunctionPre};
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

/// Engine-wide settings, fixed for the executor's life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutorConfig {
    /// Invocations that run at once; more wait for a slot. Sizes the instance pool.
    pub instances_max: u32,
    /// The largest memory limit a deployment may ask for, MiB; sizes the pool's memory
    /// slots (virtual address space, committed only as guests grow).
    pub memory_mb_max: u32,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            instances_max: 64,
            memory_mb_max: 512,
        }
    }
}

/// The host's table engine, as the DynamoDB capability sees it: one DynamoDB operation
/// in, its JSON response or its error `(code, message)` out. The executor calls it only
/// for requests that name granted tables.
pub trait TableApi: Send + Sync {
    /// Runs `operation` (e.g. `PutItem`) with a DynamoDB JSON 1.0 request body.
    fn call(&self, operation: &str, request_json: &str) -> Result<String, (String, String)>;
}

/// The outcome of one invocation.
#[derive(Debug)]
pub struct Invocation {
    /// The function's response JSON, or why there is none.
    pub result: Result<String, InvokeError>,
    /// What the function logged (also appended to its log ring).
    pub logs: Vec<LogLine>,
    /// Time from instantiation to the end of the call (not the wait for a slot).
    pub duration: Duration,
}

/// Why an invocation has no response. Each is that invocation's failure only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// It ran past its deadline and was stopped.
    #[error("timed out after {timeout_ms} ms")]
    Timeout { timeout_ms: u64 },
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
        store::FUNCTION_NAME_CHARS_MAX
    )]
    InvalidName { name: String },
    #[error("invalid configuration: {field}: {message}")]
    InvalidConfig {
        field: &'static str,
        message: String,
    },
    #[error("the component is {bytes} bytes, over the limit of {COMPONENT_BYTES_MAX} bytes")]
    TooLarge { bytes: usize },
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
                slots: Slots::new(instances),
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
    /// deployment's memory limit and deadline. Waits for a free slot when
    /// [`ExecutorConfig::instances_max`] invocations are running.
    ///
    /// The deadline is checked by running guest code at every epoch tick; time spent in a
    /// host call (`tables`) is counted but cannot be interrupted.
    pub fn invoke(
        &self,
        function: &FunctionVersion,
        event_json: &str,
        tables: &Arc<dyn TableApi>,
    ) -> Invocation {
        let _slot = self.inner.slots.acquire();
        let invocation = self.inner.invocations.fetch_add(1, Ordering::Relaxed) + 1;
        let deployment = &function.deployment;
        let started = Instant::now();
        let deadline = started + Duration::from_millis(deployment.config.timeout_ms);

        let state = InvocationState::new(
            deployment.clone(),
            tables.clone(),
            self.inner.services.clone(),
            invocation,
            deadline,
        );
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

        let mut outcome = function
            .pre
            .instantiate(&mut store)
            .and_then(|instance| instance.call_handle(&mut store, event_json));
        let state = store.into_data();
        if let Ok(Ok(_)) = &outcome
            && let Err(e) = state.commit_search()
        {
            outcome = Ok(Err(format!(
                "the search index changes were not committed: {e}"
            )));
        }
        let duration = started.elapsed();

        let logs = host::lock(&state.log).finish();
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
        Invocation {
            result,
            logs,
            duration,
        }
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

/// A counting semaphore over the instance pool's slots.
struct Slots {
    free: Mutex<u32>,
    freed: Condvar,
}

struct Slot<'a>(&'a Slots);

impl Slots {
    fn new(count: u32) -> Self {
        Self {
            free: Mutex::new(count),
            freed: Condvar::new(),
        }
    }

    fn acquire(&self) -> Slot<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}
