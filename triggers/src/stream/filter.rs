//! Lambda's event filter patterns (EventBridge syntax) over a record's JSON: exact
//! values, `prefix`, `suffix`, `equals-ignore-case`, `anything-but`, `numeric` ranges
//! and `exists`. A pattern is an object whose leaves are arrays of matchers; keys AND,
//! array entries OR, and an array in the event matches when any element does.
//! DynamoDB numbers are strings in the record (`{"N": "5"}`), so `numeric` also
//! accepts a string that parses as a number.

use serde_json::{Map, Value};

/// Deepest nesting of a pattern object.
pub const PATTERN_DEPTH_MAX: usize = 32;

/// A parsed filter pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterPattern {
    root: Map<String, Value>,
}

impl FilterPattern {
    /// Parses and checks a pattern; the error says what is wrong.
    pub fn parse(text: &str) -> Result<FilterPattern, String> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| format!("the pattern is not valid JSON: {e}"))?;
        let Value::Object(root) = v else {
            return Err("a pattern must be a JSON object".into());
        };
        check_object(&root, 1)?;
        Ok(FilterPattern { root })
    }

    /// Whether a record (its Lambda JSON) matches.
    pub fn matches(&self, record: &Value) -> bool {
        match_object(&self.root, Some(record))
    }
}

fn check_object(m: &Map<String, Value>, depth: usize) -> Result<(), String> {
    if depth > PATTERN_DEPTH_MAX {
        return Err(format!(
            "a pattern nests at most {PATTERN_DEPTH_MAX} levels"
        ));
    }
    for (k, v) in m {
        match v {
            Value::Object(inner) => check_object(inner, depth + 1)?,
            Value::Array(matchers) => {
                if matchers.is_empty() {
                    return Err(format!("the matcher list of {k:?} is empty"));
                }
                for matcher in matchers {
                    check_matcher(matcher)?;
                }
            }
            _ => {
                return Err(format!(
                    "the value of {k:?} must be an object or an array of matchers"
                ));
            }
        }
    }
    Ok(())
}

fn check_matcher(m: &Value) -> Result<(), String> {
    let Value::Object(op) = m else {
        return Ok(()); // an exact value
    };
    let (name, arg) = match op.iter().next() {
        Some(kv) if op.len() == 1 => kv,
        _ => return Err("a matcher object has exactly one operator".into()),
    };
    match name.as_str() {
        "prefix" | "suffix" | "equals-ignore-case" => match arg {
            Value::String(_) => Ok(()),
            _ => Err(format!("{name} takes a string")),
        },
        "exists" => match arg {
            Value::Bool(_) => Ok(()),
            _ => Err("exists takes true or false".into()),
        },
        "anything-but" => match arg {
            Value::Object(inner) if inner.len() == 1 && inner.contains_key("prefix") => Ok(()),
            Value::Object(_) => {
                Err("anything-but takes a value, a list, or {\"prefix\": …}".into())
            }
            _ => Ok(()),
        },
        "numeric" => {
            let Value::Array(parts) = arg else {
                return Err("numeric takes a list like [\">\", 0, \"<=\", 5]".into());
            };
            if parts.is_empty() || parts.len() % 2 != 0 || parts.len() > 4 {
                return Err("numeric takes one or two (operator, number) pairs".into());
            }
            for pair in parts.chunks(2) {
                match (&pair[0], &pair[1]) {
                    (Value::String(op), Value::Number(_))
                        if matches!(op.as_str(), "=" | "<" | "<=" | ">" | ">=") => {}
                    _ => {
                        return Err(
                            "numeric takes operators = < <= > >= each followed by a number".into(),
                        );
                    }
                }
            }
            Ok(())
        }
        other => Err(format!("unknown filter operator {other:?}")),
    }
}

fn match_object(pattern: &Map<String, Value>, event: Option<&Value>) -> bool {
    pattern.iter().all(|(k, p)| {
        let field = event.and_then(|e| e.get(k));
        match p {
            Value::Object(inner) => match field {
                Some(Value::Array(items)) => items.iter().any(|i| match_object(inner, Some(i))),
                other => match_object(inner, other),
            },
            Value::Array(matchers) => matchers.iter().any(|m| match_leaf(m, field)),
            _ => false,
        }
    })
}

/// One matcher against a field (absent, a value, or an array of values).
fn match_leaf(m: &Value, field: Option<&Value>) -> bool {
    if let Value::Object(op) = m
        && let Some(Value::Bool(want)) = op.get("exists")
    {
        return field.is_some() == *want;
    }
    match field {
        None => false,
        Some(Value::Array(items)) => items.iter().any(|i| match_value(m, i)),
        Some(v) => match_value(m, v),
    }
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn match_value(m: &Value, v: &Value) -> bool {
    let Value::Object(op) = m else {
        return exact(m, v);
    };
    let Some((name, arg)) = op.iter().next() else {
        return false;
    };
    let text = v.as_str();
    match name.as_str() {
        "prefix" => text
            .zip(arg.as_str())
            .is_some_and(|(t, p)| t.starts_with(p)),
        "suffix" => text.zip(arg.as_str()).is_some_and(|(t, p)| t.ends_with(p)),
        "equals-ignore-case" => text
            .zip(arg.as_str())
            .is_some_and(|(t, p)| t.to_lowercase() == p.to_lowercase()),
        "anything-but" => match arg {
            Value::Array(list) => !list.iter().any(|x| exact(x, v)),
            Value::Object(inner) => match inner.get("prefix").and_then(Value::as_str) {
                Some(p) => text.is_some_and(|t| !t.starts_with(p)),
                None => false,
            },
            single => !exact(single, v),
        },
        "numeric" => {
            let (Some(x), Value::Array(parts)) = (as_number(v), arg) else {
                return false;
            };
            parts.chunks(2).all(|pair| {
                let bound = pair.get(1).and_then(Value::as_f64).unwrap_or(f64::NAN);
                match pair.first().and_then(Value::as_str) {
                    Some("=") => x == bound,
                    Some("<") => x < bound,
                    Some("<=") => x <= bound,
                    Some(">") => x > bound,
                    Some(">=") => x >= bound,
                    _ => false,
                }
            })
        }
        _ => false,
    }
}

fn exact(m: &Value, v: &Value) -> bool {
    match (m, v) {
        (Value::Number(a), _) => as_number(v).is_some_and(|b| a.as_f64() == Some(b)),
        _ => m == v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(status: &str, amount: &str) -> Value {
        json!({
            "eventName": "INSERT",
            "dynamodb": {
                "Keys": {"pk": {"S": "o1"}},
                "NewImage": {"status": {"S": status}, "amount": {"N": amount}, "tags": {"SS": ["a", "vip"]}}
            }
        })
    }

    /// (pattern, status, amount, expected)
    const CASES: &[(&str, &str, &str, bool)] = &[
        (r#"{"eventName":["INSERT"]}"#, "paid", "5", true),
        (r#"{"eventName":["MODIFY","REMOVE"]}"#, "paid", "5", false),
        (
            r#"{"dynamodb":{"NewImage":{"status":{"S":["paid"]}}}}"#,
            "paid",
            "5",
            true,
        ),
        (
            r#"{"dynamodb":{"NewImage":{"status":{"S":["paid"]}}}}"#,
            "open",
            "5",
            false,
        ),
        (
            r#"{"dynamodb":{"NewImage":{"status":{"S":[{"prefix":"pa"}]}}}}"#,
            "paid",
            "5",
            true,
        ),
        (
            r#"{"dynamodb":{"NewImage":{"status":{"S":[{"suffix":"id"}]}}}}"#,
            "paid",
            "5",
            true,
        ),
        (
            r#"{"dynamodb":{"NewImage":{"status":{"S":[{"equals-ignore-case":"PAID"}]}}}}"#,
            "paid",
            "5",
            true,
        ),
        (
            r#"{"dynamodb":{"NewImage":{"status":{"S":[{"anything-but":["paid"]}]}}}}"#,
            "paid",
            "5",
            false,
        ),
        (
            r#"{"dynamodb":{"NewImage":{"status":{"S":[{"anything-but":"paid"}]}}}}"#,
            "open",
            "5",
            true,
        ),
        (
            r#"{"dynamodb":{"NewImage":{"status":{"S":[{"anything-but":{"prefix":"op"}}]}}}}"#,
            "open",
            "5",
            false,
        ),
        (
            r#"{"dynamodb":{"NewImage":{"amount":{"N":[{"numeric":[">",3,"<=",5]}]}}}}"#,
            "paid",
            "5",
            true,
        ),
        (
            r#"{"dynamodb":{"NewImage":{"amount":{"N":[{"numeric":[">",5]}]}}}}"#,
            "paid",
            "5",
            false,
        ),
        (
            r#"{"dynamodb":{"NewImage":{"amount":{"N":[{"numeric":["=",5]}]}}}}"#,
            "paid",
            "5.0",
            true,
        ),
        (
            r#"{"dynamodb":{"NewImage":{"missing":[{"exists":false}]}}}"#,
            "paid",
            "5",
            true,
        ),
        (
            r#"{"dynamodb":{"NewImage":{"status":[{"exists":true}]}}}"#,
            "paid",
            "5",
            true,
        ),
        (
            r#"{"dynamodb":{"NewImage":{"status":[{"exists":false}]}}}"#,
            "paid",
            "5",
            false,
        ),
        (
            r#"{"dynamodb":{"NewImage":{"tags":{"SS":["vip"]}}}}"#,
            "paid",
            "5",
            true,
        ),
        (
            r#"{"dynamodb":{"OldImage":{"status":{"S":["paid"]}}}}"#,
            "paid",
            "5",
            false,
        ),
        (
            r#"{"eventName":["INSERT"],"dynamodb":{"NewImage":{"status":{"S":["open"]}}}}"#,
            "paid",
            "5",
            false,
        ),
    ];

    #[test]
    fn patterns_match_as_lambda_documents() {
        for (pattern, status, amount, want) in CASES {
            let p = FilterPattern::parse(pattern).unwrap();
            assert_eq!(
                p.matches(&record(status, amount)),
                *want,
                "{pattern} on {status}/{amount}"
            );
        }
    }

    #[test]
    fn bad_patterns_are_rejected_with_a_reason() {
        for bad in [
            "[1]",
            "{\"a\": 1}",
            "{\"a\": []}",
            "{\"a\": [{\"numeric\": [\">\"]}]}",
            "{\"a\": [{\"wildcard\": \"x\"}]}",
            "{\"a\": [{\"prefix\": 1}]}",
            "not json",
        ] {
            assert!(FilterPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
