//! Reading an IAM policy document: `Version`, `Id`, and `Statement` (one object or a
//! list) whose members are `Sid`, `Effect`, `Action`/`NotAction`,
//! `Resource`/`NotResource` and `Condition`. A document that IAM would refuse is
//! refused with `MalformedPolicyDocument` and what is wrong, never half-read.
//!
//! Owns the document's syntax. Must not know how a policy is evaluated.

use serde_json::{Map, Value};

use super::condition::Condition;
use super::{Effect, POLICY_DOCUMENT_CHARS_MAX, Patterns, Policy, PolicyError, Statement};

fn err<T>(message: impl Into<String>) -> Result<T, PolicyError> {
    Err(PolicyError(message.into()))
}

/// The most statements one document may hold (a bound on evaluation work; IAM bounds
/// them by the document's size).
const STATEMENTS_MAX: usize = 100;

pub(super) fn parse(text: &str) -> Result<Policy, PolicyError> {
    let chars = text.chars().count();
    if chars > POLICY_DOCUMENT_CHARS_MAX {
        return err(format!(
            "Cannot exceed quota for PolicySize: {POLICY_DOCUMENT_CHARS_MAX} (the document has {chars} characters)"
        ));
    }
    let doc: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return err(format!("Syntax errors in policy: {e}")),
    };
    let Value::Object(doc) = doc else {
        return err("Syntax errors in policy: a policy document is a JSON object");
    };
    let mut variables = false;
    let mut statements = None;
    for (name, value) in &doc {
        match name.as_str() {
            "Version" => match value.as_str() {
                Some("2012-10-17") => variables = true,
                Some("2008-10-17") => variables = false,
                _ => {
                    return err(format!(
                        "The policy's Version must be \"2012-10-17\" or \"2008-10-17\", not {value}"
                    ));
                }
            },
            "Id" => {}
            "Statement" => statements = Some(value),
            other => return err(format!("Syntax errors in policy: unknown field {other}")),
        }
    }
    let statements = match statements {
        Some(Value::Array(list)) => list.iter().collect::<Vec<_>>(),
        Some(one @ Value::Object(_)) => vec![one],
        Some(_) => return err("Statement must be an object or a list of objects"),
        None => return err("Missing required field Statement"),
    };
    if statements.is_empty() {
        return err("Missing required field Statement (the list is empty)");
    }
    if statements.len() > STATEMENTS_MAX {
        return err(format!(
            "A policy holds at most {STATEMENTS_MAX} statements, not {}",
            statements.len()
        ));
    }
    let statements = statements
        .into_iter()
        .map(statement)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Policy {
        variables,
        statements,
    })
}

fn statement(value: &Value) -> Result<Statement, PolicyError> {
    let Value::Object(s) = value else {
        return err("Each statement must be a JSON object");
    };
    for name in s.keys() {
        if !matches!(
            name.as_str(),
            "Sid" | "Effect" | "Action" | "NotAction" | "Resource" | "NotResource" | "Condition"
        ) {
            // An identity-based policy names no principal: the user it is attached to is.
            if name == "Principal" || name == "NotPrincipal" {
                return err("Policy document should not specify a principal.");
            }
            return err(format!("Syntax errors in policy: unknown field {name}"));
        }
    }
    if let Some(sid) = s.get("Sid")
        && !sid
            .as_str()
            .is_some_and(|t| t.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        return err(format!(
            "Statement IDs (SID) must be alpha-numeric, got {sid}"
        ));
    }
    let effect = match s.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        Some(other) => {
            return err(format!(
                "Invalid effect: {other} (it is \"Allow\" or \"Deny\")"
            ));
        }
        None => return err("Missing required field Effect"),
    };
    let actions = either(s, "Action", "NotAction")?;
    for a in &actions.patterns {
        if a != "*" && !a.contains(':') {
            return err(format!(
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. (got \"{a}\")"
            ));
        }
    }
    let resources = either(s, "Resource", "NotResource")?;
    let conditions = match s.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(c)) => conditions(c)?,
        Some(_) => return err("Condition must be a JSON object"),
    };
    Ok(Statement {
        effect,
        actions,
        resources,
        conditions,
    })
}

/// `Action` or `NotAction` (or the resource pair): exactly one of them, a string or a
/// non-empty list of strings.
fn either(s: &Map<String, Value>, name: &str, not_name: &str) -> Result<Patterns, PolicyError> {
    let (not, value) = match (s.get(name), s.get(not_name)) {
        (Some(_), Some(_)) => {
            return err(format!("A statement has {name} or {not_name}, not both"));
        }
        (Some(v), None) => (false, v),
        (None, Some(v)) => (true, v),
        (None, None) => {
            return err(if name == "Action" {
                // IAM's message (recorded in aws-cdk#7615).
                "Policy statement must contain actions.".to_owned()
            } else {
                "Policy statement must contain resources.".to_owned()
            });
        }
    };
    let patterns = strings(value)
        .ok_or_else(|| PolicyError(format!("{name} must be a string or a list of strings")))?;
    if patterns.is_empty() {
        return err(format!("{name} must not be an empty list"));
    }
    Ok(Patterns { not, patterns })
}

/// A string or a list of strings.
pub(super) fn strings(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(list) => list.iter().map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => None,
    }
}

/// `{"<operator>": {"<key>": <value or values>}}`: one condition per operator and key.
fn conditions(c: &Map<String, Value>) -> Result<Vec<Condition>, PolicyError> {
    let mut out = Vec::new();
    for (operator, block) in c {
        let Value::Object(block) = block else {
            return err(format!(
                "The condition operator {operator} must map condition keys to values"
            ));
        };
        for (key, values) in block {
            let values = match values {
                Value::Bool(b) => Some(vec![b.to_string()]),
                Value::Number(n) => Some(vec![n.to_string()]),
                Value::Array(list) => list
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => Some(s.clone()),
                        Value::Bool(b) => Some(b.to_string()),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect(),
                other => strings(other),
            }
            .ok_or_else(|| {
                PolicyError(format!(
                    "The values of {operator} {key} must be strings, numbers or booleans"
                ))
            })?;
            out.push(Condition::parse(operator, key, values)?);
        }
    }
    Ok(out)
}
