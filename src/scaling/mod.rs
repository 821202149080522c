//! Auto scaling of provisioned capacity: Application Auto Scaling's scalable targets
//! and target-tracking policies on DynamoDB tables and global secondary indexes, and
//! the scaler that follows them.
//!
//! Layout: `model.rs` (targets, policies, activities and their storage in the engine's
//! `system` keyspace), `decide.rs` (when and how far to scale: a pure function),
//! `scaler.rs` (the thread that reads the engine's capacity totals every tick and
//! applies the decisions through UpdateTable), `api.rs` (the seven operations in
//! Application Auto Scaling's JSON shapes), `members.rs` (reading and checking their
//! members, with the service's errors), `wire.rs` (AWS's JSON 1.1 protocol on `POST /`;
//! the `/v1/autoscaling` routes are `src/api/autoscaling.rs`).
//!
//! Owns auto scaling. Must not know how capacity is counted or enforced (the engine's
//! `capacity/` does; this module reads `Engine::capacity_totals` and
//! `Engine::capacity_now_ms` and changes throughput only through
//! `Engine::update_table`).

pub mod api;
pub mod decide;
mod members;
pub mod model;
pub mod scaler;
pub mod wire;

use std::sync::{Arc, OnceLock};

use eddy_engine::{
    BillingMode, Engine, IndexKind, IndexThroughputUpdate, IndexUpdate, UpdateTableInput,
};

use self::model::{Dimension, Resource, Store};

/// How often the scaler reads the consumed capacity, by default (milliseconds).
pub const TICK_MS_DEFAULT: u64 = 5_000;
/// How long utilization must stay above the target before a scale-out: DynamoDB's
/// high alarm, 2 consecutive one-minute periods.
pub const SCALE_OUT_AFTER_S_DEFAULT: u64 = 120;
/// How long utilization must stay 20 points below the target before a scale-in:
/// DynamoDB's low alarm, 15 consecutive one-minute periods.
pub const SCALE_IN_AFTER_S_DEFAULT: u64 = 900;
/// The cooldown of a policy that names none: DynamoDB's default is 0 seconds (AWS's
/// table of default cooldowns in the Application Auto Scaling user guide).
pub const COOLDOWN_S_DEFAULT: u64 = 0;

/// The scaler's time constants (`--autoscaling-*` flags), so tests run in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    pub tick_ms: u64,
    pub scale_out_after_ms: u64,
    pub scale_in_after_ms: u64,
    /// The cooldown of a policy that gives none, both ways.
    pub default_cooldown_ms: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            tick_ms: TICK_MS_DEFAULT,
            scale_out_after_ms: SCALE_OUT_AFTER_S_DEFAULT * 1000,
            scale_in_after_ms: SCALE_IN_AFTER_S_DEFAULT * 1000,
            default_cooldown_ms: COOLDOWN_S_DEFAULT * 1000,
        }
    }
}

/// Auto scaling of one server: the engine, the records and the time constants.
#[derive(Debug)]
pub struct Scaling {
    pub engine: Engine,
    pub store: Store,
    pub config: Config,
}

static SCALING: OnceLock<Arc<Scaling>> = OnceLock::new();

/// Loads the stored targets and policies and starts the scaler thread; once per
/// process (a second call answers the first one's).
pub fn start(engine: &Engine, config: Config) -> Result<Arc<Scaling>, String> {
    if let Some(s) = SCALING.get() {
        return Ok(s.clone());
    }
    let scaling = Arc::new(Scaling {
        engine: engine.clone(),
        store: Store::open(engine)?,
        config,
    });
    let scaling = SCALING.get_or_init(|| scaling).clone();
    scaler::spawn(scaling.clone()).map_err(|e| format!("cannot start the auto scaler: {e}"))?;
    Ok(scaling)
}

/// Auto scaling, once started.
pub fn get() -> Option<Arc<Scaling>> {
    SCALING.get().cloned()
}

/// Why a capacity could not be read or set.
pub type CapacityError = String;

/// The provisioned capacity of a dimension now: `Ok(None)` for an on-demand table
/// (nothing to scale).
pub fn current_capacity(
    engine: &Engine,
    resource: &Resource,
    dimension: Dimension,
) -> Result<Option<i64>, CapacityError> {
    let desc = engine
        .describe_table(&resource.table)
        .map_err(|e| e.to_string())?;
    if desc.def.billing_mode == BillingMode::PayPerRequest {
        return Ok(None);
    }
    let throughput = match &resource.index {
        None => desc.def.throughput,
        Some(name) => desc
            .def
            .indexes
            .iter()
            .find(|i| i.name == *name && i.kind == IndexKind::Global)
            .and_then(|i| i.throughput)
            .ok_or_else(|| {
                format!(
                    "DynamoDB index does not exist: table/{}/index/{name}",
                    resource.table
                )
            })?,
    };
    Ok(Some(if dimension.is_read() {
        throughput.read_capacity_units
    } else {
        throughput.write_capacity_units
    }))
}

/// Sets the provisioned capacity of a dimension through UpdateTable (for an index,
/// its `GlobalSecondaryIndexUpdates` Update), keeping the other dimension as it is.
pub fn set_capacity(
    engine: &Engine,
    resource: &Resource,
    dimension: Dimension,
    to: i64,
) -> Result<(), CapacityError> {
    let desc = engine
        .describe_table(&resource.table)
        .map_err(|e| e.to_string())?;
    let with = |mut t: eddy_engine::Throughput| {
        if dimension.is_read() {
            t.read_capacity_units = to;
        } else {
            t.write_capacity_units = to;
        }
        t
    };
    let input = match &resource.index {
        None => UpdateTableInput {
            throughput: Some(with(desc.def.throughput)),
            ..UpdateTableInput::default()
        },
        Some(name) => {
            let current = desc
                .def
                .indexes
                .iter()
                .find(|i| i.name == *name && i.kind == IndexKind::Global)
                .and_then(|i| i.throughput)
                .unwrap_or_default();
            UpdateTableInput {
                index_updates: vec![IndexUpdate::Update(
                    name.clone(),
                    IndexThroughputUpdate {
                        provisioned: Some(with(current)),
                        ..IndexThroughputUpdate::default()
                    },
                )],
                ..UpdateTableInput::default()
            }
        }
    };
    engine
        .update_table(&resource.table, input)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
