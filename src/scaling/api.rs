//! The operations of Application Auto Scaling that Eddy serves, on its JSON shapes:
//! RegisterScalableTarget, DescribeScalableTargets, DeregisterScalableTarget,
//! PutScalingPolicy, DescribeScalingPolicies, DeleteScalingPolicy and
//! DescribeScalingActivities, for the `dynamodb` namespace.
//!
//! The messages are AWS's where they are recorded: the coral constraint messages
//! ("1 validation error detected: Value … at '…' failed to satisfy constraint: …"),
//! "Unsupported service namespace, resource type or scalable dimension" (Pulumi's
//! issue 11 of pulumi-policy-aws), "DynamoDB table does not exist: table/T"
//! (terraform-aws-dynamodb-table issue 15), "No scalable target registered for service
//! namespace: …" (Ansible issue 40237), "No scalable target found for service
//! namespace: …" (a .NET lab against AWS), "Only one TargetTrackingScaling policy for a
//! given metric specification is allowed." (terraform-provider-aws issue 41179). The
//! others are marked where they are written.
//!
//! Owns the operations' validation and answers. Must not know HTTP (`wire.rs`).

use serde_json::{Map, Value, json};

use super::decide::clamp_into;
pub use super::members::AasError;
use super::members::{
    Filter, POLICY_NAME_CHARS_MAX, RESOURCE_ID_CHARS_MAX, Violations, boolean, integer, named,
    one_of, required, string,
};
use super::model::{Activity, Dimension, Policy, SCALABLE_TARGETS_MAX, Target, uuid};
use super::{Scaling, current_capacity, set_capacity};

/// The operations that change something (an administrator's, with `--auth sigv4`).
pub const CHANGES: [&str; 4] = [
    "RegisterScalableTarget",
    "DeregisterScalableTarget",
    "PutScalingPolicy",
    "DeleteScalingPolicy",
];

/// Every operation Eddy serves.
pub const OPERATIONS: [&str; 7] = [
    "RegisterScalableTarget",
    "DescribeScalableTargets",
    "DeregisterScalableTarget",
    "PutScalingPolicy",
    "DescribeScalingPolicies",
    "DeleteScalingPolicy",
    "DescribeScalingActivities",
];

/// DynamoDB's range of a target utilization, percent (the Developer Guide's "between
/// 20 and 90 percent").
const TARGET_VALUE_MIN: f64 = 20.0;
const TARGET_VALUE_MAX: f64 = 90.0;
/// Runs one operation on its JSON request.
pub fn call(scaling: &Scaling, op: &str, body: &Value) -> Result<Value, AasError> {
    let Some(body) = body.as_object() else {
        return Err(AasError {
            kind: "SerializationException",
            message: "the request body must be a JSON object".into(),
        });
    };
    match op {
        "RegisterScalableTarget" => register(scaling, body),
        "DescribeScalableTargets" => describe_targets(scaling, body),
        "DeregisterScalableTarget" => deregister(scaling, body),
        "PutScalingPolicy" => put_policy(scaling, body),
        "DescribeScalingPolicies" => describe_policies(scaling, body),
        "DeleteScalingPolicy" => delete_policy(scaling, body),
        "DescribeScalingActivities" => describe_activities(scaling, body),
        _ => Err(AasError {
            kind: "UnknownOperationException",
            message: format!("Eddy does not serve the Application Auto Scaling operation {op}"),
        }),
    }
}

/// Epoch seconds with milliseconds, as JSON 1.1 writes a timestamp.
fn seconds(ms: u64) -> Value {
    json!(ms as f64 / 1000.0)
}

fn target_arn(scaling: &Scaling) -> String {
    let c = scaling.engine.config();
    format!(
        "arn:aws:application-autoscaling:{}:{}:scalable-target/{}",
        c.region,
        c.account_id,
        uuid().replace('-', "")
    )
}

fn register(scaling: &Scaling, body: &Map<String, Value>) -> Result<Value, AasError> {
    let n = named(body, |_| {})?;
    let min = integer(body, "MinCapacity")?;
    let max = integer(body, "MaxCapacity")?;
    let suspended = match body.get("SuspendedState") {
        None | Some(Value::Null) => None,
        Some(Value::Object(s)) => Some((
            boolean(s, "DynamicScalingInSuspended")?,
            boolean(s, "DynamicScalingOutSuspended")?,
        )),
        Some(_) => {
            return Err(AasError {
                kind: "SerializationException",
                message: "SuspendedState must be an object".into(),
            });
        }
    };
    // AWS looks the resource up when it registers it.
    let engine = &scaling.engine;
    let desc = engine.describe_table(&n.resource.table).map_err(|_| {
        AasError::validation(format!(
            "DynamoDB table does not exist: table/{}",
            n.resource.table
        ))
    })?;
    if let Some(index) = &n.resource.index
        && !desc
            .def
            .indexes
            .iter()
            .any(|i| i.name == *index && i.kind == eddy_engine::IndexKind::Global)
    {
        return Err(AasError::validation(format!(
            "DynamoDB index does not exist: {}",
            n.resource_id
        )));
    }
    let existing = scaling.store.target(&n.resource_id, n.dimension);
    let (min, max) = match (&existing, min, max) {
        (Some(t), min, max) => (min.unwrap_or(t.min), max.unwrap_or(t.max)),
        (None, Some(min), Some(max)) => (min, max),
        // Not recorded: the API reference says both are required to register a new
        // target; the wording is Eddy's.
        (None, _, _) => {
            return Err(AasError::validation(
                "MinCapacity and MaxCapacity are required to register a new scalable target",
            ));
        }
    };
    if min < 0 || max < 0 {
        // Not recorded; the wording is Eddy's.
        return Err(AasError::validation("Capacity values must not be negative"));
    }
    if min > max {
        // AWS refuses it (a .NET lab's note); its message is not recorded.
        return Err(AasError::validation(format!(
            "Minimum capacity ({min}) cannot be greater than maximum capacity ({max})"
        )));
    }
    let now = engine.capacity_now_ms();
    let target = match existing {
        Some(t) => Target {
            min,
            max,
            scale_in_suspended: suspended.and_then(|s| s.0).unwrap_or(t.scale_in_suspended),
            scale_out_suspended: suspended.and_then(|s| s.1).unwrap_or(t.scale_out_suspended),
            ..t
        },
        None => Target {
            resource_id: n.resource_id.clone(),
            dimension: n.dimension,
            min,
            max,
            created_ms: now,
            arn: target_arn(scaling),
            scale_in_suspended: suspended.and_then(|s| s.0).unwrap_or(false),
            scale_out_suspended: suspended.and_then(|s| s.1).unwrap_or(false),
        },
    };
    let stored = scaling
        .store
        .put_target(engine, target.clone(), SCALABLE_TARGETS_MAX)
        .map_err(AasError::internal)?;
    if !stored {
        // AWS's quota; its message is not recorded, the wording is Eddy's.
        return Err(AasError {
            kind: "LimitExceededException",
            message: format!(
                "A server keeps at most {SCALABLE_TARGETS_MAX} scalable targets for DynamoDB"
            ),
        });
    }
    // "If the specified resource is active, it changes the resource's current capacity
    // to a value inside this range" (the API reference); DynamoDB's floor is 1 unit.
    if let Ok(Some(current)) = current_capacity(engine, &n.resource, n.dimension)
        && let Some(to) = clamp_into(current, min.max(1), max.max(1))
    {
        let applied = set_capacity(engine, &n.resource, n.dimension, to);
        // AWS's wording for such an activity (the Application Auto Scaling user guide's
        // describe-scaling-activities example).
        let cause = if to > current {
            format!("minimum capacity was set to {min}")
        } else {
            format!("maximum capacity was set to {max}")
        };
        let (status, status_message) = outcome(n.dimension, to, &applied);
        scaling.store.record(Activity {
            id: uuid(),
            resource_id: n.resource_id.clone(),
            dimension: n.dimension,
            description: format!("Setting {} to {to}.", n.dimension.units()),
            cause,
            start_ms: now,
            end_ms: engine.capacity_now_ms(),
            status,
            status_message: Some(status_message),
            details: None,
        });
    }
    Ok(json!({ "ScalableTargetARN": target.arn }))
}

/// An activity's `StatusCode` and `StatusMessage` after setting `to` units (AWS's
/// wording on success, from the user guide's examples).
pub(super) fn outcome(
    dimension: Dimension,
    to: i64,
    applied: &Result<(), String>,
) -> (&'static str, String) {
    match applied {
        Ok(()) => (
            "Successful",
            format!(
                "Successfully set {} to {to}. Change successfully fulfilled by dynamodb.",
                dimension.units()
            ),
        ),
        Err(e) => (
            "Failed",
            format!("Failed to set {} to {to}: {e}", dimension.units()),
        ),
    }
}

fn deregister(scaling: &Scaling, body: &Map<String, Value>) -> Result<Value, AasError> {
    let n = named(body, |_| {})?;
    let removed = scaling
        .store
        .delete_target(&scaling.engine, &n.resource_id, n.dimension)
        .map_err(AasError::internal)?;
    if !removed {
        return Err(AasError::not_found(format!(
            "No scalable target found for service namespace: dynamodb, resource ID: {}, scalable dimension: {}",
            n.resource_id,
            n.dimension.as_str()
        )));
    }
    Ok(json!({}))
}

fn describe_targets(scaling: &Scaling, body: &Map<String, Value>) -> Result<Value, AasError> {
    let f = Filter::read(body, Some("ResourceIds"))?;
    let c = scaling.engine.config();
    let role = format!(
        "arn:aws:iam::{}:role/aws-service-role/dynamodb.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_DynamoDBTable",
        c.account_id
    );
    let items = scaling
        .store
        .targets()
        .into_iter()
        .filter(|t| f.matches(&t.resource_id, t.dimension))
        .map(|t| {
            json!({
                "ServiceNamespace": "dynamodb",
                "ResourceId": t.resource_id,
                "ScalableDimension": t.dimension.as_str(),
                "MinCapacity": t.min,
                "MaxCapacity": t.max,
                "RoleARN": role,
                "CreationTime": seconds(t.created_ms),
                "SuspendedState": {
                    "DynamicScalingInSuspended": t.scale_in_suspended,
                    "DynamicScalingOutSuspended": t.scale_out_suspended,
                    "ScheduledScalingSuspended": false,
                },
                "ScalableTargetARN": t.arn,
            })
        })
        .collect();
    Ok(f.page("ScalableTargets", items))
}

fn put_policy(scaling: &Scaling, body: &Map<String, Value>) -> Result<Value, AasError> {
    let name = string(body, "PolicyName")?;
    let policy_type = string(body, "PolicyType")?;
    let n = named(body, |v| {
        required(v, name, "PolicyName", POLICY_NAME_CHARS_MAX);
    })?;
    let mut v = Violations::default();
    one_of(
        &mut v,
        policy_type,
        "PolicyType",
        &["StepScaling", "TargetTrackingScaling", "PredictiveScaling"],
    );
    v.done()?;
    let name = name.unwrap_or_default().to_owned();
    if policy_type != Some("TargetTrackingScaling") {
        // Not recorded: Eddy scales DynamoDB by target tracking only (the policy type
        // DynamoDB's auto scaling uses); the wording is Eddy's.
        return Err(AasError::validation(format!(
            "Eddy supports only TargetTrackingScaling policies for DynamoDB, not {}",
            policy_type.unwrap_or("StepScaling (the default)")
        )));
    }
    let Some(Value::Object(config)) = body.get("TargetTrackingScalingPolicyConfiguration") else {
        // Not recorded; the wording is Eddy's.
        return Err(AasError::validation(
            "TargetTrackingScalingPolicyConfiguration is required for a TargetTrackingScaling policy",
        ));
    };
    let target_value = match config.get("TargetValue") {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        _ => {
            return Err(AasError::validation(
                "1 validation error detected: Value null at 'targetTrackingScalingPolicyConfiguration.targetValue' failed to satisfy constraint: Member must not be null",
            ));
        }
    };
    if config.contains_key("CustomizedMetricSpecification") {
        return Err(AasError::validation(
            "Eddy tracks only the predefined DynamoDB utilization metrics: give PredefinedMetricSpecification",
        ));
    }
    let metric = config
        .get("PredefinedMetricSpecification")
        .and_then(|m| m.get("PredefinedMetricType"))
        .and_then(Value::as_str);
    if metric != Some(n.dimension.metric()) {
        // Not recorded; the wording is Eddy's.
        return Err(AasError::validation(format!(
            "The predefined metric type for scalable dimension {} must be {}",
            n.dimension.as_str(),
            n.dimension.metric()
        )));
    }
    if !(TARGET_VALUE_MIN..=TARGET_VALUE_MAX).contains(&target_value) {
        // DynamoDB's documented range; AWS's message for it is not recorded.
        return Err(AasError::validation(format!(
            "The target value for {} must be between {TARGET_VALUE_MIN} and {TARGET_VALUE_MAX}",
            n.dimension.metric()
        )));
    }
    let cooldown = |member: &str| -> Result<Option<i64>, AasError> {
        let c = integer(config, member)?;
        if c.is_some_and(|c| c < 0) {
            return Err(AasError::validation(format!(
                "{member} must not be negative"
            )));
        }
        Ok(c)
    };
    let scale_in_cooldown_s = cooldown("ScaleInCooldown")?;
    let scale_out_cooldown_s = cooldown("ScaleOutCooldown")?;
    let disable_scale_in = boolean(config, "DisableScaleIn")?.unwrap_or(false);
    let target_missing = || {
        AasError::not_found(format!(
            "No scalable target registered for service namespace: dynamodb, resource ID: {}, scalable dimension: {}",
            n.resource_id,
            n.dimension.as_str()
        ))
    };
    scaling
        .store
        .target(&n.resource_id, n.dimension)
        .ok_or_else(target_missing)?;
    let others = scaling.store.policies();
    // Every policy of a dimension follows the same predefined metric.
    if others
        .iter()
        .any(|p| p.resource_id == n.resource_id && p.dimension == n.dimension && p.name != name)
    {
        return Err(AasError::validation(
            "Only one TargetTrackingScaling policy for a given metric specification is allowed.",
        ));
    }
    let existing = others
        .into_iter()
        .find(|p| p.resource_id == n.resource_id && p.dimension == n.dimension);
    let c = scaling.engine.config();
    let policy = Policy {
        arn: existing.as_ref().map_or_else(
            || {
                format!(
                    "arn:aws:autoscaling:{}:{}:scalingPolicy:{}:resource/dynamodb/{}:policyName/{name}",
                    c.region,
                    c.account_id,
                    uuid(),
                    n.resource_id
                )
            },
            |p| p.arn.clone(),
        ),
        created_ms: existing
            .as_ref()
            .map_or_else(|| scaling.engine.capacity_now_ms(), |p| p.created_ms),
        name,
        resource_id: n.resource_id,
        dimension: n.dimension,
        target_value,
        scale_in_cooldown_s,
        scale_out_cooldown_s,
        disable_scale_in,
    };
    let arn = policy.arn.clone();
    scaling
        .store
        .put_policy(&scaling.engine, policy)
        .map_err(AasError::internal)?;
    Ok(json!({ "PolicyARN": arn, "Alarms": [] }))
}

fn describe_policies(scaling: &Scaling, body: &Map<String, Value>) -> Result<Value, AasError> {
    let f = Filter::read(body, None)?;
    let names: Option<Vec<String>> = match body.get("PolicyNames") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect(),
        ),
        Some(_) => {
            return Err(AasError {
                kind: "SerializationException",
                message: "PolicyNames must be a list of strings".into(),
            });
        }
    };
    let items = scaling
        .store
        .policies()
        .into_iter()
        .filter(|p| f.matches(&p.resource_id, p.dimension))
        .filter(|p| names.as_ref().is_none_or(|n| n.contains(&p.name)))
        .map(|p| {
            let mut config = json!({
                "TargetValue": p.target_value,
                "PredefinedMetricSpecification": {"PredefinedMetricType": p.dimension.metric()},
                "DisableScaleIn": p.disable_scale_in,
            });
            if let Some(s) = p.scale_in_cooldown_s {
                config["ScaleInCooldown"] = json!(s);
            }
            if let Some(s) = p.scale_out_cooldown_s {
                config["ScaleOutCooldown"] = json!(s);
            }
            json!({
                "PolicyARN": p.arn,
                "PolicyName": p.name,
                "ServiceNamespace": "dynamodb",
                "ResourceId": p.resource_id,
                "ScalableDimension": p.dimension.as_str(),
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": config,
                "Alarms": [],
                "CreationTime": seconds(p.created_ms),
            })
        })
        .collect();
    Ok(f.page("ScalingPolicies", items))
}

fn delete_policy(scaling: &Scaling, body: &Map<String, Value>) -> Result<Value, AasError> {
    let name = string(body, "PolicyName")?;
    let n = named(body, |v| {
        required(v, name, "PolicyName", RESOURCE_ID_CHARS_MAX);
    })?;
    let name = name.unwrap_or_default();
    let removed = scaling
        .store
        .delete_policy(&scaling.engine, &n.resource_id, n.dimension, name)
        .map_err(AasError::internal)?;
    if !removed {
        // moto's message (not confirmed against AWS).
        return Err(AasError::not_found(format!(
            "No scaling policy found for service namespace: dynamodb, resource ID: {}, scalable dimension: {}, policy name: {name}",
            n.resource_id,
            n.dimension.as_str()
        )));
    }
    Ok(json!({}))
}

fn describe_activities(scaling: &Scaling, body: &Map<String, Value>) -> Result<Value, AasError> {
    let f = Filter::read(body, None)?;
    let items = scaling
        .store
        .activities()
        .into_iter()
        .filter(|a| f.matches(&a.resource_id, a.dimension))
        .map(|a| {
            let mut out = json!({
                "ActivityId": a.id,
                "ServiceNamespace": "dynamodb",
                "ResourceId": a.resource_id,
                "ScalableDimension": a.dimension.as_str(),
                "Description": a.description,
                "Cause": a.cause,
                "StartTime": seconds(a.start_ms),
                "EndTime": seconds(a.end_ms),
                "StatusCode": a.status,
            });
            if let Some(m) = a.status_message {
                out["StatusMessage"] = json!(m);
            }
            if let Some(d) = a.details {
                out["Details"] = json!(d);
            }
            out
        })
        .collect();
    Ok(f.page("ScalingActivities", items))
}
