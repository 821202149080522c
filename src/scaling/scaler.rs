//! The scaler: a thread that, every tick, reads each policy's consumed units from the
//! engine's capacity totals, asks `decide.rs` what to do, and applies a change of
//! capacity through UpdateTable, recording each as a scaling activity.
//!
//! Owns the loop and the trackers of the policies. Must not know the wire.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::api::outcome;
use super::decide::{Decision, Settings, Tracker, step};
use super::model::{Activity, Dimension, Policy, Resource, Target, uuid};
use super::{Scaling, current_capacity, set_capacity};

/// Starts the scaler thread; it runs as long as the process does (a tick only reads
/// counters and, rarely, makes an UpdateTable, so nothing needs it stopped first).
pub fn spawn(scaling: Arc<Scaling>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("eddy-autoscaler".into())
        .spawn(move || {
            let mut trackers = HashMap::new();
            loop {
                std::thread::sleep(Duration::from_millis(scaling.config.tick_ms.max(1)));
                tick(&scaling, &mut trackers);
            }
        })
        .map(|_| ())
}

/// The key of a policy's tracker.
type PolicyKey = (String, Dimension, String);

/// One pass over every policy.
pub fn tick(scaling: &Scaling, trackers: &mut HashMap<PolicyKey, Tracker>) {
    let policies = scaling.store.policies();
    // A deleted policy's tracker goes with it, so a policy put again starts afresh.
    trackers.retain(|k, _| {
        policies
            .iter()
            .any(|p| (&p.resource_id, p.dimension, &p.name) == (&k.0, k.1, &k.2))
    });
    for policy in policies {
        let Some(target) = scaling.store.target(&policy.resource_id, policy.dimension) else {
            continue;
        };
        let key = (
            policy.resource_id.clone(),
            policy.dimension,
            policy.name.clone(),
        );
        let tracker = trackers.entry(key).or_default();
        follow(scaling, &target, &policy, tracker);
    }
}

/// The consumed-units counter of a dimension.
fn consumed(scaling: &Scaling, resource: &Resource, dimension: Dimension) -> Option<f64> {
    let totals = scaling.engine.capacity_totals(&resource.table).ok()?;
    match &resource.index {
        None if dimension.is_read() => Some(totals.read_units),
        None => Some(totals.write_units),
        Some(name) => {
            let (_, ix) = totals.indexes.iter().find(|(n, _)| n == name)?;
            Some(if dimension.is_read() {
                ix.read_units
            } else {
                ix.write_units
            })
        }
    }
}

/// One policy's tick.
fn follow(scaling: &Scaling, target: &Target, policy: &Policy, tracker: &mut Tracker) {
    let Some(resource) = Resource::parse(&target.resource_id) else {
        return;
    };
    // A table or index deleted since (or an on-demand table) has nothing to scale.
    let Ok(Some(provisioned)) = current_capacity(&scaling.engine, &resource, target.dimension)
    else {
        *tracker = Tracker::default();
        return;
    };
    let Some(consumed) = consumed(scaling, &resource, target.dimension) else {
        return;
    };
    let config = &scaling.config;
    let cooldown = |s: Option<i64>| {
        s.map_or(config.default_cooldown_ms, |s| {
            u64::try_from(s).unwrap_or(0).saturating_mul(1000)
        })
    };
    let settings = Settings {
        target_pct: policy.target_value,
        // DynamoDB's capacity is at least 1 unit whatever the range says.
        min: target.min.max(1),
        max: target.max.max(1),
        scale_out_after_ms: config.scale_out_after_ms,
        scale_in_after_ms: config.scale_in_after_ms,
        scale_out_cooldown_ms: cooldown(policy.scale_out_cooldown_s),
        scale_in_cooldown_ms: cooldown(policy.scale_in_cooldown_s),
        disable_scale_in: policy.disable_scale_in || target.scale_in_suspended,
        disable_scale_out: target.scale_out_suspended,
    };
    let now_ms = scaling.engine.capacity_now_ms();
    let (to, utilization, alarm) = match step(tracker, &settings, now_ms, consumed, provisioned) {
        Decision::Hold => return,
        Decision::ScaleOut {
            to,
            utilization_pct,
        } => (to, utilization_pct, "AlarmHigh"),
        Decision::ScaleIn {
            to,
            utilization_pct,
        } => (to, utilization_pct, "AlarmLow"),
    };
    let applied = set_capacity(&scaling.engine, &resource, target.dimension, to);
    let end_ms = scaling.engine.capacity_now_ms();
    if let Err(e) = &applied {
        tracing::warn!(resource = %target.resource_id, dimension = target.dimension.as_str(), to, error = %e, "auto scaling could not change the capacity");
    }
    let (status, status_message) = outcome(target.dimension, to, &applied);
    // AWS names the CloudWatch alarm that fired (`TargetTracking-<resource>-AlarmHigh-
    // <id>`); Eddy has no alarms, so the id is the policy's, from its ARN.
    let alarm_id = policy.arn.split(':').nth(6).unwrap_or(policy.name.as_str());
    scaling.store.record(Activity {
        id: uuid(),
        resource_id: target.resource_id.clone(),
        dimension: target.dimension,
        description: format!("Setting {} to {to}.", target.dimension.units()),
        cause: format!(
            "monitor alarm TargetTracking-{}-{alarm}-{alarm_id} in state ALARM triggered policy {}",
            target.resource_id, policy.name
        ),
        start_ms: now_ms,
        end_ms,
        status,
        status_message: Some(status_message),
        details: Some(format!(
            "{} {utilization:.1}% of {provisioned} units over the window, target {}%",
            target.dimension.metric(),
            policy.target_value
        )),
    });
}
