//! The executor's engine-wide settings, fixed for its life: pool sizes and what
//! functions' outbound HTTP may reach beyond their grants.
//!
//! Must not know how the settings are applied (that is `mod.rs` and `host.rs`).

/// Instance slots (invocations running at once) of the default configuration.
pub const INSTANCES_MAX: u32 = 64;
/// Invocations that may wait for an instance slot at once in the default configuration.
/// One more is refused at once with `InvokeError::Throttled` (Lambda's
/// `TooManyRequestsException`), so that a burst costs a bounded number of waiting
/// callers, not an unbounded queue whose deadlines pass while it waits.
pub const INVOKE_QUEUE_DEPTH_MAX: u32 = 256;

/// Engine-wide settings, fixed for the executor's life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutorConfig {
    /// Invocations that run at once; more wait for a slot. Sizes the instance pool.
    pub instances_max: u32,
    /// The largest memory limit a deployment may ask for, MiB; sizes the pool's memory
    /// slots (virtual address space, committed only as guests grow).
    pub memory_mb_max: u32,
    /// Invocations that may wait for a slot at once; one more is refused at once.
    pub queue_depth_max: u32,
    /// Whether deployments may opt into wildcard host grants (`allow_any_host`). Also
    /// checked at each request, so a deployment stored while it was permitted gains
    /// nothing from its wildcards once the server no longer permits them.
    pub any_host_grants_permitted: bool,
    /// The addresses this server listens on (as bound, so with the real port). No
    /// outbound request of a function may connect to them: a function reaches this
    /// server only through its DynamoDB capability.
    pub listeners: Vec<std::net::SocketAddr>,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            instances_max: INSTANCES_MAX,
            memory_mb_max: 512,
            queue_depth_max: INVOKE_QUEUE_DEPTH_MAX,
            any_host_grants_permitted: false,
            listeners: Vec::new(),
        }
    }
}
