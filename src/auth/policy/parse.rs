//! Reading an IAM policy document: `Version`, `Id`, and `Statement` (one object or a
//! list) whose members are `Sid`, `Effect`, `Action`/`NotAction`,
//! `Resource`/`NotResource` and `Condition`. A document that IAM would refuse is
//! refused with `MalformedPolicyDocument` and IAM's message (moto's tests record IAM's
//! answers for malformed documents), never half-read.
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

/// IAM's message for most malformed documents (moto's recorded cases of IAM's answers).
const SYNTAX: &str = "Syntax errors in policy.";

pub(super) fn parse(text: &str) -> Result<Policy, PolicyError> {
    let chars = text.chars().count();
    if chars > POLICY_DOCUMENT_CHARS_MAX {
        return err(format!(
            "Cannot exceed quota for PolicySize: {POLICY_DOCUMENT_CHARS_MAX}"
        ));
    }
    let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(text) else {
        return err(SYNTAX);
    };
    if doc
        .keys()
        .any(|k| !matches!(k.as_str(), "Version" | "Id" | "Statement"))
        || doc.get("Id").is_some_and(|id| !id.is_string())
    {
        return err(SYNTAX);
    }
    // Identity policies need the version under which policy variables are replaced;
    // IAM refuses an older or missing one with this message, another value as syntax.
    match doc.get("Version") {
        None => return err("Policy document must be version 2012-10-17 or greater."),
        Some(Value::String(v)) if v == "2012-10-17" => {}
        Some(Value::String(v)) if v == "2008-10-17" => {
            return err("Policy document must be version 2012-10-17 or greater.");
        }
        Some(_) => return err(SYNTAX),
    }
    let statements = match doc.get("Statement") {
        Some(Value::Array(list)) if !list.is_empty() => list.iter().collect::<Vec<_>>(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => return err(SYNTAX),
    };
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
    let mut sids: Vec<&str> = statements.iter().filter_map(|s| s.sid.as_deref()).collect();
    sids.sort_unstable();
    if sids.windows(2).any(|w| w[0] == w[1]) {
        return err("Statement IDs (SID) in a single policy must be unique.");
    }
    Ok(Policy { statements })
}

fn statement(value: &Value) -> Result<Statement, PolicyError> {
    let Value::Object(s) = value else {
        return err(SYNTAX);
    };
    // An identity-based policy names no principal: the user it is attached to is.
    if s.contains_key("Principal") || s.contains_key("NotPrincipal") {
        return err("Policy document should not specify a principal.");
    }
    if s.keys().any(|name| {
        !matches!(
            name.as_str(),
            "Sid" | "Effect" | "Action" | "NotAction" | "Resource" | "NotResource" | "Condition"
        )
    }) || s.get("Sid").is_some_and(|sid| !sid.is_string())
    {
        return err(SYNTAX);
    }
    let effect = match s.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        // IAM's older parser still knows the word in another case, and says so.
        Some(e) if e.eq_ignore_ascii_case("allow") || e.eq_ignore_ascii_case("deny") => {
            return err("The policy failed legacy parsing");
        }
        _ => return err(SYNTAX),
    };
    let actions = either(
        s,
        "Action",
        "NotAction",
        "Policy statement must contain actions.",
    )?;
    for a in &actions.patterns {
        if a == "*" {
            continue;
        }
        match a.matches(':').count() {
            0 => {
                return err(
                    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
                );
            }
            1 => {}
            _ => return err("Actions/Condition can contain only one colon."),
        }
    }
    let resources = either(
        s,
        "Resource",
        "NotResource",
        "Policy statement must contain resources.",
    )?;
    for r in &resources.patterns {
        if r != "*" && !r.starts_with("arn:") {
            return err(format!("Resource {r} must be in ARN format or \"*\"."));
        }
    }
    let conditions = match s.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(c)) => conditions(c)?,
        Some(_) => return err(SYNTAX),
    };
    Ok(Statement {
        sid: s.get("Sid").and_then(Value::as_str).map(str::to_owned),
        effect,
        actions,
        resources,
        conditions,
    })
}

/// `Action` or `NotAction` (or the resource pair): exactly one of them, a string or a
/// list of strings; `missing` is IAM's message when there is none (or an empty list).
fn either(
    s: &Map<String, Value>,
    name: &str,
    not_name: &str,
    missing: &str,
) -> Result<Patterns, PolicyError> {
    let (not, value) = match (s.get(name), s.get(not_name)) {
        (Some(_), Some(_)) => return err(SYNTAX),
        (Some(v), None) => (false, v),
        (None, Some(v)) => (true, v),
        (None, None) => return err(missing),
    };
    let patterns = strings(value).ok_or_else(|| PolicyError(SYNTAX.to_owned()))?;
    if patterns.is_empty() {
        return err(missing);
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
            return err(SYNTAX);
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
            .ok_or_else(|| PolicyError(SYNTAX.to_owned()))?;
            out.push(Condition::parse(operator, key, values)?);
        }
    }
    Ok(out)
}
