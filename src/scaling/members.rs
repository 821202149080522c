//! Reading and checking the members of an Application Auto Scaling request: coral's
//! constraint messages ("1 validation error detected: Value … at '…' failed to satisfy
//! constraint: …"), the namespace, resource id and dimension a change names, and the
//! filters and paging of the Describe calls; and the error every operation answers.
//!
//! Owns those checks. Must not know what an operation does (`api.rs`).

use serde_json::{Map, Value, json};

use super::model::{Dimension, Resource};

/// An Application Auto Scaling error: its type and message (400 unless internal).
#[derive(Debug, Clone, PartialEq)]
pub struct AasError {
    pub kind: &'static str,
    pub message: String,
}

impl AasError {
    pub(super) fn validation(message: impl Into<String>) -> AasError {
        AasError {
            kind: "ValidationException",
            message: message.into(),
        }
    }

    pub(super) fn not_found(message: impl Into<String>) -> AasError {
        AasError {
            kind: "ObjectNotFoundException",
            message: message.into(),
        }
    }

    pub(super) fn internal(message: impl Into<String>) -> AasError {
        AasError {
            kind: "InternalServiceException",
            message: message.into(),
        }
    }

    /// Whether the failure is the server's (a 500), not the client's.
    pub fn is_internal(&self) -> bool {
        self.kind == "InternalServiceException"
    }
}

/// Most targets, policies or activities one Describe call returns, and its default.
pub const DESCRIBE_RESULTS_MAX: usize = 50;

/// The `ServiceNamespace` values of the service model, in its order.
pub(super) const NAMESPACES: [&str; 15] = [
    "ecs",
    "elasticmapreduce",
    "ec2",
    "appstream",
    "dynamodb",
    "rds",
    "sagemaker",
    "custom-resource",
    "comprehend",
    "lambda",
    "cassandra",
    "kafka",
    "elasticache",
    "neptune",
    "workspaces",
];

/// The `ScalableDimension` values of the service model, in its order.
pub(super) const DIMENSIONS: [&str; 24] = [
    "ecs:service:DesiredCount",
    "ec2:spot-fleet-request:TargetCapacity",
    "elasticmapreduce:instancegroup:InstanceCount",
    "appstream:fleet:DesiredCapacity",
    "dynamodb:table:ReadCapacityUnits",
    "dynamodb:table:WriteCapacityUnits",
    "dynamodb:index:ReadCapacityUnits",
    "dynamodb:index:WriteCapacityUnits",
    "rds:cluster:ReadReplicaCount",
    "sagemaker:variant:DesiredInstanceCount",
    "custom-resource:ResourceType:Property",
    "comprehend:document-classifier-endpoint:DesiredInferenceUnits",
    "comprehend:entity-recognizer-endpoint:DesiredInferenceUnits",
    "lambda:function:ProvisionedConcurrency",
    "cassandra:table:ReadCapacityUnits",
    "cassandra:table:WriteCapacityUnits",
    "kafka:broker-storage:VolumeSize",
    "elasticache:cache-cluster:Nodes",
    "elasticache:replication-group:NodeGroups",
    "elasticache:replication-group:Replicas",
    "neptune:cluster:ReadReplicaCount",
    "sagemaker:variant:DesiredProvisionedConcurrency",
    "sagemaker:inference-component:DesiredCopyCount",
    "workspaces:workspacespool:DesiredUserSessions",
];

/// Longest resource id or role ARN (`ResourceIdMaxLen1600`).
pub(super) const RESOURCE_ID_CHARS_MAX: usize = 1600;
/// Longest policy name (`PolicyName`).
pub(super) const POLICY_NAME_CHARS_MAX: usize = 256;

/// The unsupported-combination message AWS answers for a resource id, namespace or
/// dimension it cannot scale.
pub(super) const UNSUPPORTED: &str =
    "Unsupported service namespace, resource type or scalable dimension";

/// The constraint violations of a request, gathered in member order as coral
/// reports them.
#[derive(Default)]
pub(super) struct Violations(Vec<String>);

impl Violations {
    pub(super) fn push(&mut self, v: String) {
        self.0.push(v);
    }

    pub(super) fn done(self) -> Result<(), AasError> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(AasError::validation(format!(
                "1 validation error detected: {}",
                self.0[0]
            ))),
            n => Err(AasError::validation(format!(
                "{n} validation errors detected: {}",
                self.0.join("; ")
            ))),
        }
    }
}

/// A string member: absent or null is `None`; another type is a serialization error.
pub(super) fn string<'a>(
    body: &'a Map<String, Value>,
    member: &str,
) -> Result<Option<&'a str>, AasError> {
    match body.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(AasError {
            kind: "SerializationException",
            message: format!("{member} must be a string"),
        }),
    }
}

pub(super) fn integer(body: &Map<String, Value>, member: &str) -> Result<Option<i64>, AasError> {
    match body.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| AasError {
            kind: "SerializationException",
            message: format!("{member} must be an integer"),
        }),
    }
}

pub(super) fn boolean(body: &Map<String, Value>, member: &str) -> Result<Option<bool>, AasError> {
    match body.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_bool().map(Some).ok_or_else(|| AasError {
            kind: "SerializationException",
            message: format!("{member} must be a boolean"),
        }),
    }
}

/// The lowerCamelCase name coral gives a member in its messages.
pub(super) fn field(member: &str) -> String {
    let mut chars = member.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_ascii_lowercase().to_string() + chars.as_str()
    })
}

/// Checks a required string member's presence and length.
pub(super) fn required(v: &mut Violations, value: Option<&str>, member: &str, max_chars: usize) {
    match value {
        None => v.push(format!(
            "Value null at '{}' failed to satisfy constraint: Member must not be null",
            field(member)
        )),
        Some(s) => length(v, s, member, max_chars),
    }
}

pub(super) fn length(v: &mut Violations, s: &str, member: &str, max_chars: usize) {
    let n = s.chars().count();
    if n == 0 {
        v.push(format!(
            "Value '' at '{}' failed to satisfy constraint: Member must have length greater than or equal to 1",
            field(member)
        ));
    } else if n > max_chars {
        v.push(format!(
            "Value '{s}' at '{}' failed to satisfy constraint: Member must have length less than or equal to {max_chars}",
            field(member)
        ));
    }
}

pub(super) fn one_of(v: &mut Violations, s: Option<&str>, member: &str, allowed: &[&str]) {
    if let Some(s) = s
        && !allowed.contains(&s)
    {
        v.push(format!(
            "Value '{s}' at '{}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            field(member),
            allowed.join(", ")
        ));
    }
}

/// The namespace, resource and dimension a change names, checked as AWS does: the
/// members' constraints first, then whether Eddy can scale the combination.
pub(super) struct Named {
    pub(super) resource_id: String,
    pub(super) resource: Resource,
    pub(super) dimension: Dimension,
}

pub(super) fn named(
    body: &Map<String, Value>,
    extra: impl FnOnce(&mut Violations),
) -> Result<Named, AasError> {
    let namespace = string(body, "ServiceNamespace")?;
    let resource_id = string(body, "ResourceId")?;
    let dimension = string(body, "ScalableDimension")?;
    let mut v = Violations::default();
    extra(&mut v);
    required(&mut v, namespace, "ServiceNamespace", usize::MAX);
    one_of(
        &mut v,
        namespace.filter(|s| !s.is_empty()),
        "ServiceNamespace",
        &NAMESPACES,
    );
    required(&mut v, resource_id, "ResourceId", RESOURCE_ID_CHARS_MAX);
    match dimension {
        None => required(&mut v, None, "ScalableDimension", usize::MAX),
        Some(d) => one_of(&mut v, Some(d), "ScalableDimension", &DIMENSIONS),
    }
    v.done()?;
    let (Some(namespace), Some(resource_id), Some(dimension)) = (namespace, resource_id, dimension)
    else {
        return Err(AasError::validation(UNSUPPORTED));
    };
    let dimension = Dimension::parse(dimension).filter(|_| namespace == "dynamodb");
    let resource = Resource::parse(resource_id);
    match (resource, dimension) {
        (Some(resource), Some(dimension)) if resource.index.is_some() == dimension.is_index() => {
            Ok(Named {
                resource_id: resource_id.to_owned(),
                resource,
                dimension,
            })
        }
        _ => Err(AasError::validation(UNSUPPORTED)),
    }
}

/// The filters and paging of a Describe call.
pub(super) struct Filter {
    /// False for a namespace other than `dynamodb`: nothing matches.
    dynamodb: bool,
    resource_ids: Option<Vec<String>>,
    dimension: Option<String>,
    max_results: usize,
    start: usize,
}

impl Filter {
    pub(super) fn read(
        body: &Map<String, Value>,
        ids_member: Option<&str>,
    ) -> Result<Filter, AasError> {
        let namespace = string(body, "ServiceNamespace")?;
        let dimension = string(body, "ScalableDimension")?;
        let mut v = Violations::default();
        required(&mut v, namespace, "ServiceNamespace", usize::MAX);
        one_of(
            &mut v,
            namespace.filter(|s| !s.is_empty()),
            "ServiceNamespace",
            &NAMESPACES,
        );
        one_of(&mut v, dimension, "ScalableDimension", &DIMENSIONS);
        let resource_ids = match ids_member {
            Some(member) => match body.get(member) {
                None | Some(Value::Null) => None,
                Some(Value::Array(ids)) => Some(
                    ids.iter()
                        .map(|id| id.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| AasError {
                            kind: "SerializationException",
                            message: format!("{member} must be a list of strings"),
                        })?,
                ),
                Some(_) => {
                    return Err(AasError {
                        kind: "SerializationException",
                        message: format!("{member} must be a list of strings"),
                    });
                }
            },
            None => string(body, "ResourceId")?.map(|id| vec![id.to_owned()]),
        };
        let max_results = integer(body, "MaxResults")?;
        if let Some(m) = max_results
            && !(1..=DESCRIBE_RESULTS_MAX as i64).contains(&m)
        {
            // The API reference gives 1 to 50; the wording is coral's range message.
            v.push(format!(
                "Value '{m}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and {DESCRIBE_RESULTS_MAX}"
            ));
        }
        v.done()?;
        let start = match string(body, "NextToken")? {
            None => 0,
            Some(t) => t.parse().map_err(|_| AasError {
                kind: "InvalidNextTokenException",
                message: "Invalid token".into(),
            })?,
        };
        Ok(Filter {
            dynamodb: namespace == Some("dynamodb"),
            resource_ids,
            dimension: dimension.map(str::to_owned),
            max_results: max_results.map_or(DESCRIBE_RESULTS_MAX, |m| m as usize),
            start,
        })
    }

    pub(super) fn matches(&self, resource_id: &str, dimension: Dimension) -> bool {
        self.dynamodb
            && self
                .resource_ids
                .as_ref()
                .is_none_or(|ids| ids.iter().any(|id| id == resource_id))
            && self
                .dimension
                .as_ref()
                .is_none_or(|d| d == dimension.as_str())
    }

    /// One page of `items` under `member`, with `NextToken` when more follow.
    pub(super) fn page(&self, member: &str, items: Vec<Value>) -> Value {
        let end = self.start.saturating_add(self.max_results).min(items.len());
        let page: Vec<Value> = items
            .get(self.start.min(items.len())..end)
            .unwrap_or_default()
            .to_vec();
        let mut out = Map::new();
        out.insert(member.into(), Value::Array(page));
        if end < items.len() {
            out.insert("NextToken".into(), json!(end.to_string()));
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn err(r: Result<Named, AasError>) -> AasError {
        match r {
            Ok(_) => panic!("accepted"),
            Err(e) => e,
        }
    }

    #[test]
    fn constraint_messages_are_corals_and_gathered_in_member_order() {
        let e = err(named(&body(json!({})), |_| {}));
        assert_eq!(e.kind, "ValidationException");
        assert_eq!(
            e.message,
            "3 validation errors detected: Value null at 'serviceNamespace' failed to satisfy constraint: Member must not be null; Value null at 'resourceId' failed to satisfy constraint: Member must not be null; Value null at 'scalableDimension' failed to satisfy constraint: Member must not be null"
        );
        let e = err(named(
            &body(
                json!({"ServiceNamespace": "", "ResourceId": "table/T", "ScalableDimension": "dynamodb:table:ReadCapacityUnits"}),
            ),
            |_| {},
        ));
        assert_eq!(
            e.message,
            "1 validation error detected: Value '' at 'serviceNamespace' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
        let long = "x".repeat(RESOURCE_ID_CHARS_MAX + 1);
        let e = err(named(
            &body(
                json!({"ServiceNamespace": "dynamodb", "ResourceId": long, "ScalableDimension": "dynamodb:table:ReadCapacityUnits"}),
            ),
            |_| {},
        ));
        assert!(
            e.message
                .ends_with("Member must have length less than or equal to 1600"),
            "{}",
            e.message
        );
        let e = err(named(
            &body(
                json!({"ServiceNamespace": "dynamodb", "ResourceId": 7, "ScalableDimension": "x"}),
            ),
            |_| {},
        ));
        assert_eq!(e.kind, "SerializationException");
    }

    #[test]
    fn a_valid_member_of_another_service_is_unsupported() {
        for (ns, id, dim) in [
            ("ecs", "table/T", "dynamodb:table:ReadCapacityUnits"),
            (
                "dynamodb",
                "service/c/s",
                "dynamodb:table:ReadCapacityUnits",
            ),
            ("dynamodb", "table/T", "ecs:service:DesiredCount"),
            (
                "dynamodb",
                "table/T/index/I",
                "dynamodb:table:ReadCapacityUnits",
            ),
            ("dynamodb", "table/T", "dynamodb:index:WriteCapacityUnits"),
        ] {
            let e = err(named(
                &body(json!({"ServiceNamespace": ns, "ResourceId": id, "ScalableDimension": dim})),
                |_| {},
            ));
            assert_eq!(e.message, UNSUPPORTED, "{ns} {id} {dim}");
        }
        let n = named(
            &body(json!({"ServiceNamespace": "dynamodb", "ResourceId": "table/T/index/I", "ScalableDimension": "dynamodb:index:WriteCapacityUnits"})),
            |_| {},
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(n.resource.index.as_deref(), Some("I"));
        assert_eq!(n.dimension, Dimension::IndexWrite);
    }

    #[test]
    fn describe_pages_by_next_token() {
        let f = Filter::read(
            &body(json!({"ServiceNamespace": "dynamodb", "MaxResults": 2})),
            None,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        let items: Vec<Value> = (0..5).map(|i| json!(i)).collect();
        let first = f.page("Items", items.clone());
        assert_eq!(first, json!({"Items": [0, 1], "NextToken": "2"}));
        let f = Filter::read(
            &body(json!({"ServiceNamespace": "dynamodb", "MaxResults": 2, "NextToken": "4"})),
            None,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(f.page("Items", items), json!({"Items": [4]}));
        let e = Filter::read(
            &body(json!({"ServiceNamespace": "dynamodb", "MaxResults": 51})),
            None,
        )
        .err()
        .unwrap();
        assert_eq!(
            e.message,
            "1 validation error detected: Value '51' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 50"
        );
        let e = Filter::read(
            &body(json!({"ServiceNamespace": "dynamodb", "NextToken": "x"})),
            None,
        )
        .err()
        .unwrap();
        assert_eq!(e.kind, "InvalidNextTokenException");
        // Another namespace matches nothing.
        let f = Filter::read(&body(json!({"ServiceNamespace": "ecs"})), None)
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(!f.matches("table/T", Dimension::TableRead));
    }
}
