//! The wire shapes of DynamoDB's legacy parameters (`Expected`, `KeyConditions`,
//! `QueryFilter`, `ScanFilter`, `AttributeUpdates`, `ConditionalOperator`) and their
//! translation into the engine's typed form (`eddy_engine::expr::legacy`). Only the
//! enum and not-null constraints are checked here (with DynamoDB's "1 validation error
//! detected" messages); every other rule is the engine's.

use std::collections::{BTreeMap, HashMap};

use eddy_engine::Error;
use eddy_engine::expr::legacy::{
    AttributeUpdate, COMPARISON_OPERATOR_VALUES, ComparisonOperator, ConditionalOperator,
    ExpectedAttribute, LegacyCondition, UpdateAction,
};
use serde::Deserialize;

use crate::error::ApiError;
use crate::wire::input::WireValue;

/// One entry of `KeyConditions`, `QueryFilter` or `ScanFilter`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireCondition {
    attribute_value_list: Option<Vec<WireValue>>,
    comparison_operator: Option<String>,
}

/// One entry of `Expected`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireExpected {
    value: Option<WireValue>,
    exists: Option<bool>,
    comparison_operator: Option<String>,
    attribute_value_list: Option<Vec<WireValue>>,
}

/// One entry of `AttributeUpdates`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireAttributeUpdate {
    value: Option<WireValue>,
    action: Option<String>,
}

fn constraint(value: Option<&str>, at: &str, rule: &str) -> ApiError {
    let value = value.map_or_else(|| "null".to_string(), |v| format!("'{v}'"));
    Error::validation(format!(
        "1 validation error detected: Value {value} at '{at}' failed to satisfy constraint: {rule}"
    ))
    .into()
}

fn comparison_operator(s: &str, at: &str) -> Result<ComparisonOperator, ApiError> {
    ComparisonOperator::parse(s).ok_or_else(|| {
        constraint(
            Some(s),
            at,
            &format!("Member must satisfy enum value set: {COMPARISON_OPERATOR_VALUES}"),
        )
    })
}

fn values(list: Vec<WireValue>) -> Result<Vec<eddy_engine::AttributeValue>, ApiError> {
    list.into_iter().map(WireValue::into_value).collect()
}

/// `KeyConditions` / `QueryFilter` / `ScanFilter`; `field` is the parameter's name as
/// DynamoDB writes it in messages (`queryFilter`).
pub fn conditions(
    m: Option<HashMap<String, WireCondition>>,
    field: &str,
) -> Result<Option<BTreeMap<String, LegacyCondition>>, ApiError> {
    let Some(m) = m else { return Ok(None) };
    let mut out = BTreeMap::new();
    for (attr, c) in m {
        let at = format!("{field}.{attr}.member.comparisonOperator");
        let Some(op) = c.comparison_operator else {
            return Err(constraint(None, &at, "Member must not be null"));
        };
        let operator = comparison_operator(&op, &at)?;
        out.insert(
            attr,
            LegacyCondition {
                operator,
                values: values(c.attribute_value_list.unwrap_or_default())?,
            },
        );
    }
    Ok(Some(out))
}

/// `Expected`.
pub fn expected(
    m: Option<HashMap<String, WireExpected>>,
) -> Result<Option<BTreeMap<String, ExpectedAttribute>>, ApiError> {
    let Some(m) = m else { return Ok(None) };
    let mut out = BTreeMap::new();
    for (attr, e) in m {
        let at = format!("expected.{attr}.member.comparisonOperator");
        let operator = e
            .comparison_operator
            .map(|o| comparison_operator(&o, &at))
            .transpose()?;
        out.insert(
            attr,
            ExpectedAttribute {
                value: e.value.map(WireValue::into_value).transpose()?,
                exists: e.exists,
                operator,
                values: e.attribute_value_list.map(values).transpose()?,
            },
        );
    }
    Ok(Some(out))
}

/// `AttributeUpdates` (`Action` defaults to `PUT`).
pub fn attribute_updates(
    m: Option<HashMap<String, WireAttributeUpdate>>,
) -> Result<Option<BTreeMap<String, AttributeUpdate>>, ApiError> {
    let Some(m) = m else { return Ok(None) };
    let mut out = BTreeMap::new();
    for (attr, u) in m {
        let action = match u.action.as_deref() {
            None => UpdateAction::Put,
            Some(a) => UpdateAction::parse(a).ok_or_else(|| {
                constraint(
                    Some(a),
                    &format!("attributeUpdates.{attr}.member.action"),
                    "Member must satisfy enum value set: [ADD, PUT, DELETE]",
                )
            })?,
        };
        out.insert(
            attr,
            AttributeUpdate {
                action,
                value: u.value.map(WireValue::into_value).transpose()?,
            },
        );
    }
    Ok(Some(out))
}

/// `ConditionalOperator`.
pub fn conditional_operator(s: Option<String>) -> Result<Option<ConditionalOperator>, ApiError> {
    s.map(|s| {
        ConditionalOperator::parse(&s).ok_or_else(|| {
            constraint(
                Some(&s),
                "conditionalOperator",
                "Member must satisfy enum value set: [OR, AND]",
            )
        })
    })
    .transpose()
}
