//! # eddy-triggers: Eddy's trigger runtime
//!
//! Runs user functions — WebAssembly components of the world in `functions/wit/` — on
//! events. Two layers, as in Spin:
//!
//! - the **executor** ([`Executor`], [`FunctionStore`]): one wasmtime engine with the
//!   pooling allocator, a durable store of deployed function versions (each compiled and
//!   type-checked at deploy time, the compiled form cached on disk), and per-invocation
//!   sandboxing (fresh instance, memory cap, deadline, capabilities granted per
//!   deployment). It knows nothing about where events come from.
//! - the **triggers**: [`stream::TriggerRuntime`] (Lambda event-source mappings over the
//!   engine's stream log) and [`schedule::Scheduler`] (cron schedules): their
//!   definitions live in one registry under system keys; they own their loops and
//!   checkpoints, call the executor, and show themselves as typed views and counters
//!   that the host renders. Both fail with the one [`TriggerError`].
//!
//! ```no_run
//! use std::sync::Arc;
//! use eddy_triggers::{
//!     Executor, ExecutorConfig, FunctionConfig, FunctionStore, TableApi, TableCall,
//!     TableCallError,
//! };
//!
//! struct NoTables;
//! impl TableApi for NoTables {
//!     fn call(&self, _call: TableCall<'_>) -> Result<String, TableCallError> {
//!         Err(TableCallError::new("ResourceNotFoundException", "no tables here"))
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let executor = Executor::new(ExecutorConfig::default())?;
//! let store = FunctionStore::open("eddy-data/functions", &executor)?;
//! let wasm = std::fs::read("recorder.wasm")?;
//! let function = store.deploy("recorder", &wasm, FunctionConfig::default())?;
//! let tables: Arc<dyn TableApi> = Arc::new(NoTables);
//! let invocation = executor.invoke(&function, r#"{"Records":[]}"#, &tables);
//! println!("{:?} in {:?}", invocation.result, invocation.duration);
//! # Ok(()) }
//! ```
//!
//! Architecture invariants: this crate does not know HTTP or the DynamoDB wire format
//! beyond the table names in a request (the allow-list); tables are reached only through
//! the [`TableApi`] the host passes in.

mod error;
mod executor;
mod registry;
pub mod schedule;
pub mod stream;

pub use error::TriggerError;
pub use executor::{
    COMPONENT_BYTES_MAX, CallContext, DeployError, Executor, ExecutorConfig, ExecutorError,
    FUNCTIONS_MAX, FunctionConfig, FunctionStore, FunctionVersion, INDEX_NAME_CHARS_MAX,
    INSTANCES_MAX, INVOCATION_THREAD_NICE, INVOKE_QUEUE_DEPTH_MAX, Invocation, InvokeError,
    LogLevel, LogLine, MailApi, MailError, MailMessage, Origin, SearchApi, SearchError, SearchHit,
    Services, StoreError, TableApi, TableCall, TableCallError, TableGrant, Ticket, is_index_name,
};
