//! `eddy autoscaling …`: scalable targets, target-tracking policies and scaling
//! activities of a running server, through `/v1/autoscaling` (changes need an
//! administrator's key under `--auth sigv4`).
//!
//! Owns these commands' arguments and the requests they make. Must not know how the
//! server scales.

use clap::{Args, Subcommand};
use hyper::Method;
use serde_json::{Map, Value, json};

use super::{ApiRequest, Endpoint, encode, run};

/// `eddy autoscaling …`
#[derive(Debug, Args)]
pub struct AutoscalingArgs {
    #[command(flatten)]
    endpoint: Endpoint,
    #[command(subcommand)]
    command: AutoscalingCommand,
}

#[derive(Debug, Subcommand)]
enum AutoscalingCommand {
    /// Scalable targets: a table's or a global secondary index's read or write
    /// capacity, with the range auto scaling keeps it in.
    Target {
        #[command(subcommand)]
        command: TargetCommand,
    },
    /// Target-tracking policies of scalable targets.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// What auto scaling did, newest first.
    Activities {
        /// Only those of this resource (`table/T` or `table/T/index/I`).
        #[arg(long)]
        resource_id: Option<String>,
    },
}

/// The resource and dimension a target or policy is of.
#[derive(Debug, Args)]
struct Scalable {
    /// `table/T` or `table/T/index/I`.
    #[arg(long)]
    resource_id: String,
    /// `dynamodb:table:ReadCapacityUnits`, `dynamodb:table:WriteCapacityUnits`,
    /// `dynamodb:index:ReadCapacityUnits` or `dynamodb:index:WriteCapacityUnits`.
    #[arg(long)]
    dimension: String,
}

#[derive(Debug, Subcommand)]
enum TargetCommand {
    /// Register a scalable target, or change its range (RegisterScalableTarget).
    Put {
        #[command(flatten)]
        scalable: Scalable,
        /// The lowest capacity auto scaling sets (required for a new target).
        #[arg(long)]
        min: Option<i64>,
        /// The highest capacity auto scaling sets (required for a new target).
        #[arg(long)]
        max: Option<i64>,
    },
    /// List the scalable targets (DescribeScalableTargets).
    List {
        #[arg(long)]
        resource_id: Option<String>,
    },
    /// Deregister a scalable target and its policies (DeregisterScalableTarget).
    Delete {
        #[command(flatten)]
        scalable: Scalable,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Put a target-tracking policy (PutScalingPolicy).
    Put {
        /// The policy's name (one policy per target: its metric is the target's).
        name: String,
        #[command(flatten)]
        scalable: Scalable,
        /// Target utilization, percent (20 to 90).
        #[arg(long)]
        target_value: f64,
        /// Seconds after a scale-in before another (default: the server's
        /// --autoscaling-default-cooldown-s).
        #[arg(long)]
        scale_in_cooldown_s: Option<i64>,
        /// Seconds after a scale-out before another (default: as for scale-in).
        #[arg(long)]
        scale_out_cooldown_s: Option<i64>,
        /// Never lower the capacity.
        #[arg(long)]
        disable_scale_in: bool,
    },
    /// List the scaling policies (DescribeScalingPolicies).
    List {
        #[arg(long)]
        resource_id: Option<String>,
    },
    /// Delete a scaling policy (DeleteScalingPolicy).
    Delete {
        /// The policy's name.
        name: String,
        #[command(flatten)]
        scalable: Scalable,
    },
}

const TARGETS: &str = "/v1/autoscaling/targets";
const POLICIES: &str = "/v1/autoscaling/policies";

/// A path with its query string of the pairs given.
fn with_query(path: &str, pairs: &[(&str, Option<&str>)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", encode(v))))
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

fn put(path: &str, body: Value) -> ApiRequest {
    ApiRequest::json(Method::PUT, path.into(), body.to_string().into_bytes())
}

fn request(command: AutoscalingCommand) -> ApiRequest {
    match command {
        AutoscalingCommand::Target { command } => match command {
            TargetCommand::Put { scalable, min, max } => {
                let mut body = Map::new();
                body.insert("ResourceId".into(), json!(scalable.resource_id));
                body.insert("ScalableDimension".into(), json!(scalable.dimension));
                if let Some(min) = min {
                    body.insert("MinCapacity".into(), json!(min));
                }
                if let Some(max) = max {
                    body.insert("MaxCapacity".into(), json!(max));
                }
                put(TARGETS, Value::Object(body))
            }
            TargetCommand::List { resource_id } => ApiRequest::get(with_query(
                TARGETS,
                &[("ResourceId", resource_id.as_deref())],
            )),
            TargetCommand::Delete { scalable } => ApiRequest::json(
                Method::DELETE,
                with_query(
                    TARGETS,
                    &[
                        ("ResourceId", Some(&scalable.resource_id)),
                        ("ScalableDimension", Some(&scalable.dimension)),
                    ],
                ),
                Vec::new(),
            ),
        },
        AutoscalingCommand::Policy { command } => match command {
            PolicyCommand::Put {
                name,
                scalable,
                target_value,
                scale_in_cooldown_s,
                scale_out_cooldown_s,
                disable_scale_in,
            } => {
                let metric = if scalable.dimension.ends_with("ReadCapacityUnits") {
                    "DynamoDBReadCapacityUtilization"
                } else {
                    "DynamoDBWriteCapacityUtilization"
                };
                let mut config = json!({
                    "TargetValue": target_value,
                    "PredefinedMetricSpecification": {"PredefinedMetricType": metric},
                    "DisableScaleIn": disable_scale_in,
                });
                if let Some(s) = scale_in_cooldown_s {
                    config["ScaleInCooldown"] = json!(s);
                }
                if let Some(s) = scale_out_cooldown_s {
                    config["ScaleOutCooldown"] = json!(s);
                }
                put(
                    POLICIES,
                    json!({
                        "PolicyName": name,
                        "ResourceId": scalable.resource_id,
                        "ScalableDimension": scalable.dimension,
                        "PolicyType": "TargetTrackingScaling",
                        "TargetTrackingScalingPolicyConfiguration": config,
                    }),
                )
            }
            PolicyCommand::List { resource_id } => ApiRequest::get(with_query(
                POLICIES,
                &[("ResourceId", resource_id.as_deref())],
            )),
            PolicyCommand::Delete { name, scalable } => ApiRequest::json(
                Method::DELETE,
                with_query(
                    POLICIES,
                    &[
                        ("ResourceId", Some(&scalable.resource_id)),
                        ("ScalableDimension", Some(&scalable.dimension)),
                        ("PolicyName", Some(&name)),
                    ],
                ),
                Vec::new(),
            ),
        },
        AutoscalingCommand::Activities { resource_id } => ApiRequest::get(with_query(
            "/v1/autoscaling/activities",
            &[("ResourceId", resource_id.as_deref())],
        )),
    }
}

/// Runs `eddy autoscaling …`.
pub fn autoscaling(args: AutoscalingArgs) -> std::process::ExitCode {
    run(&args.endpoint, Ok(request(args.command)))
}
