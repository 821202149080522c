//! The legacy (pre-expression) request parameters, validated with DynamoDB's messages
//! and converted into the expression AST so that one evaluator serves both:
//!
//! - `Expected` (PutItem, UpdateItem, DeleteItem) → a [`Condition`],
//! - `QueryFilter` / `ScanFilter` → a [`Condition`], `KeyConditions` → a
//!   [`KeyCondition`],
//! - `ConditionalOperator` → how the per-attribute conditions combine (`AND` / `OR`),
//! - `AttributesToGet` → a [`Projection`] of top-level names,
//! - `AttributeUpdates` → an [`UpdateExpr`] (`PUT` → `SET`, `DELETE` → `REMOVE` or
//!   `DELETE`, `ADD` → `ADD`, or `SET a = list_append(if_not_exists(a, []), v)` for
//!   lists).
//!
//! Attribute names in legacy parameters are literal top-level names: `a.b` is the
//! attribute called `a.b`, never a path. The messages follow DynamoDB as dynalite's
//! validations reproduce them (`validations/index.js`, `validateConditions`,
//! `validateAttributeConditions`, `validateExpressionParams`).
//!
//! Over 800 lines with its tests on purpose: one concern (each legacy parameter's
//! validation and translation, sharing the messages and the operator table).

use std::collections::BTreeMap;
use std::fmt;

use super::ast::{
    Comparator, Condition, Name, Operand, Path, PathElem, Projection, SetAction, SetValue,
    UpdateExpr, UpdateOperand, Value, ValueAction,
};
use super::eval::compare_values;
use super::key::{CompositeKeyCondition, KeyCondition, SortCondition};
use crate::error::{Error, Result};
use crate::value::{AttributeType, AttributeValue, check_attribute_name};

const INVALID: &str = "One or more parameter values were invalid: ";

fn invalid(msg: impl fmt::Display) -> Error {
    Error::validation(format!("{INVALID}{msg}"))
}

/// A legacy `ComparisonOperator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComparisonOperator {
    Eq,
    Ne,
    Le,
    Lt,
    Ge,
    Gt,
    NotNull,
    Null,
    Contains,
    NotContains,
    BeginsWith,
    In,
    Between,
}

/// DynamoDB's enum constraint text for `ComparisonOperator`, in its order.
pub const COMPARISON_OPERATOR_VALUES: &str =
    "[IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]";

impl ComparisonOperator {
    pub fn parse(s: &str) -> Option<ComparisonOperator> {
        use ComparisonOperator::*;
        Some(match s {
            "EQ" => Eq,
            "NE" => Ne,
            "LE" => Le,
            "LT" => Lt,
            "GE" => Ge,
            "GT" => Gt,
            "NOT_NULL" => NotNull,
            "NULL" => Null,
            "CONTAINS" => Contains,
            "NOT_CONTAINS" => NotContains,
            "BEGINS_WITH" => BeginsWith,
            "IN" => In,
            "BETWEEN" => Between,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        use ComparisonOperator::*;
        match self {
            Eq => "EQ",
            Ne => "NE",
            Le => "LE",
            Lt => "LT",
            Ge => "GE",
            Gt => "GT",
            NotNull => "NOT_NULL",
            Null => "NULL",
            Contains => "CONTAINS",
            NotContains => "NOT_CONTAINS",
            BeginsWith => "BEGINS_WITH",
            In => "IN",
            Between => "BETWEEN",
        }
    }

    /// Whether `n` values are the right number for the operator.
    fn takes(self, n: usize) -> bool {
        use ComparisonOperator::*;
        match self {
            NotNull | Null => n == 0,
            In => n >= 1,
            Between => n == 2,
            _ => n == 1,
        }
    }

    /// The value types the operator accepts in `AttributeValueList`, in `Expected` as
    /// in the filters. EQ and NE compare values of every type (lists, maps and BOOL
    /// too, whatever the API reference's list says: DynamoDB filters on them);
    /// CONTAINS and NOT_CONTAINS look for a scalar, BOOL and NULL included; the
    /// ordering operators, IN and BETWEEN take only types that order. (AWS's own DAX
    /// client makes the same checks when it turns these parameters into expressions.)
    fn accepts(self, t: AttributeType) -> bool {
        use AttributeType as T;
        use ComparisonOperator::*;
        match self {
            Eq | Ne | NotNull | Null => true,
            BeginsWith => matches!(t, T::S | T::B),
            Contains | NotContains => matches!(t, T::S | T::N | T::B | T::Bool | T::Null),
            _ => matches!(t, T::S | T::N | T::B),
        }
    }
}

impl fmt::Display for ComparisonOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `ConditionalOperator`: how the conditions of a legacy map combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConditionalOperator {
    #[default]
    And,
    Or,
}

impl ConditionalOperator {
    pub fn parse(s: &str) -> Option<ConditionalOperator> {
        match s {
            "AND" => Some(ConditionalOperator::And),
            "OR" => Some(ConditionalOperator::Or),
            _ => None,
        }
    }
}

/// One entry of `KeyConditions`, `QueryFilter` or `ScanFilter`.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyCondition {
    pub operator: ComparisonOperator,
    /// `AttributeValueList` (empty when absent).
    pub values: Vec<AttributeValue>,
}

/// One entry of `Expected`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpectedAttribute {
    pub value: Option<AttributeValue>,
    pub exists: Option<bool>,
    pub operator: Option<ComparisonOperator>,
    pub values: Option<Vec<AttributeValue>>,
}

/// The `Action` of one `AttributeUpdates` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpdateAction {
    #[default]
    Put,
    Add,
    Delete,
}

impl UpdateAction {
    pub fn parse(s: &str) -> Option<UpdateAction> {
        match s {
            "PUT" => Some(UpdateAction::Put),
            "ADD" => Some(UpdateAction::Add),
            "DELETE" => Some(UpdateAction::Delete),
            _ => None,
        }
    }
}

/// One entry of `AttributeUpdates`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeUpdate {
    pub action: UpdateAction,
    pub value: Option<AttributeValue>,
}

// ------------------------------------------------------------------ mixing parameters

/// DynamoDB's checks on which parameter families a request uses: `expression` and
/// `legacy` are the operation's parameter names with whether the request set them (in
/// DynamoDB's order); `names` / `values` say whether ExpressionAttributeNames /
/// ExpressionAttributeValues were given.
pub fn check_parameter_families(
    expression: &[(&str, bool)],
    legacy: &[(&str, bool)],
    names: bool,
    values: bool,
) -> Result<()> {
    let used = |params: &[(&str, bool)]| -> Vec<String> {
        params
            .iter()
            .filter(|(_, set)| *set)
            .map(|(n, _)| n.to_string())
            .collect()
    };
    let expr_used = used(expression);
    if !expr_used.is_empty() {
        let legacy_used = used(legacy);
        if !legacy_used.is_empty() {
            return Err(Error::validation(format!(
                "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
                legacy_used.join(", "),
                expr_used.join(", ")
            )));
        }
    }
    if names && expr_used.is_empty() {
        return Err(Error::validation(
            "ExpressionAttributeNames can only be specified when using expressions",
        ));
    }
    let value_exprs: Vec<&str> = expression
        .iter()
        .filter(|(n, _)| *n != "ProjectionExpression")
        .map(|(n, _)| *n)
        .collect();
    let any_value_expr = expression
        .iter()
        .any(|(n, set)| *n != "ProjectionExpression" && *set);
    if values && !value_exprs.is_empty() && !any_value_expr {
        return Err(Error::validation(format!(
            "ExpressionAttributeValues can only be specified when using expressions: {} {} null",
            value_exprs.join(" and "),
            if value_exprs.len() > 1 { "are" } else { "is" }
        )));
    }
    Ok(())
}

// ------------------------------------------------------------------ conditions

fn path(attr: &str) -> Path {
    Path {
        elems: vec![PathElem::Attr(Name::literal(attr))],
    }
}

fn value(attr: &str, i: usize, v: AttributeValue) -> Operand {
    Operand::Value(Value {
        placeholder: format!(":{}_{i}", placeholder_safe(attr)),
        value: v,
    })
}

/// A placeholder-shaped rendering of a legacy attribute name (only used when the
/// converted condition is printed).
fn placeholder_safe(attr: &str) -> String {
    attr.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The condition one legacy entry stands for. `values` has been checked to have the
/// operator's arity.
fn build(attr: &str, op: ComparisonOperator, values: Vec<AttributeValue>) -> Condition {
    use ComparisonOperator as C;
    let p = || Operand::Path(path(attr));
    let mut vals = values
        .into_iter()
        .enumerate()
        .map(|(i, v)| value(attr, i, v));
    let cmp = |c: Comparator, v: Operand| Condition::Compare(c, p(), v);
    match op {
        C::In => Condition::In(p(), vals.collect()),
        C::NotNull => Condition::AttributeExists(path(attr)),
        C::Null => Condition::AttributeNotExists(path(attr)),
        C::Between => {
            let lo = vals.next().unwrap_or_else(p);
            let hi = vals.next().unwrap_or_else(p);
            Condition::Between(p(), lo, hi)
        }
        _ => {
            let v = vals.next().unwrap_or_else(p);
            match op {
                C::Eq => cmp(Comparator::Eq, v),
                C::Ne => cmp(Comparator::Ne, v),
                C::Le => cmp(Comparator::Le, v),
                C::Lt => cmp(Comparator::Lt, v),
                C::Ge => cmp(Comparator::Ge, v),
                C::Gt => cmp(Comparator::Gt, v),
                C::Contains => Condition::Contains(p(), v),
                // NOT_CONTAINS is false on an item without the attribute, so it is not
                // simply CONTAINS negated (DynamoDB, and AWS's DAX client's translation
                // of it: `attribute_exists(a) AND NOT contains(a, v)`).
                C::NotContains => Condition::And(
                    Box::new(Condition::AttributeExists(path(attr))),
                    Box::new(Condition::Not(Box::new(Condition::Contains(p(), v)))),
                ),
                _ => Condition::BeginsWith(p(), v),
            }
        }
    }
}

fn combine(conds: Vec<Condition>, op: ConditionalOperator) -> Option<Condition> {
    conds.into_iter().reduce(|a, b| match op {
        ConditionalOperator::And => Condition::And(Box::new(a), Box::new(b)),
        ConditionalOperator::Or => Condition::Or(Box::new(a), Box::new(b)),
    })
}

/// The checks every `AttributeValueList` gets, in `Expected`, the filters and
/// `KeyConditions` alike: arity, one type, a type the operator takes, BETWEEN's order.
/// They are made before any item is read, so a wrong constant is a ValidationException
/// even when the item is missing.
fn check_list(op: ComparisonOperator, values: &[AttributeValue]) -> Result<()> {
    for v in values {
        v.validate(1)?;
    }
    if !op.takes(values.len()) {
        return Err(invalid(format_args!(
            "Invalid number of argument(s) for the {op} ComparisonOperator"
        )));
    }
    if let Some(first) = values.first() {
        let t = first.attribute_type();
        if values.iter().any(|v| v.attribute_type() != t) {
            return Err(invalid(
                "AttributeValues inside AttributeValueList must be of same type",
            ));
        }
    }
    if let Some(bad) = values.iter().find(|v| !op.accepts(v.attribute_type())) {
        return Err(invalid(format_args!(
            "ComparisonOperator {op} is not valid for {} AttributeValue type",
            bad.attribute_type()
        )));
    }
    if op == ComparisonOperator::Between
        && let [lo, hi] = values
        && compare_values(lo, hi) == Some(std::cmp::Ordering::Greater)
    {
        return Err(Error::validation(
            "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
        ));
    }
    Ok(())
}

/// `QueryFilter` / `ScanFilter` with `ConditionalOperator`, as one condition (`None`
/// for an empty map).
pub fn filter_condition(
    filter: &BTreeMap<String, LegacyCondition>,
    op: ConditionalOperator,
) -> Result<Option<Condition>> {
    let mut conds = Vec::with_capacity(filter.len());
    for (attr, c) in filter {
        check_attribute_name(attr)?;
        check_list(c.operator, &c.values)?;
        conds.push(build(attr, c.operator, c.values.clone()));
    }
    Ok(combine(conds, op))
}

/// `Expected` with `ConditionalOperator`, as one condition (`None` for an empty map).
pub fn expected_condition(
    expected: &BTreeMap<String, ExpectedAttribute>,
    op: ConditionalOperator,
) -> Result<Option<Condition>> {
    let mut conds = Vec::with_capacity(expected.len());
    for (attr, e) in expected {
        check_attribute_name(attr)?;
        if let Some(v) = &e.value {
            v.validate(1)?;
        }
        if e.values.is_some() && e.value.is_some() {
            return Err(invalid(format_args!(
                "Value and AttributeValueList cannot be used together for Attribute: {attr}"
            )));
        }
        if let Some(cop) = e.operator {
            if e.exists.is_some() {
                return Err(invalid(format_args!(
                    "Exists and ComparisonOperator cannot be used together for Attribute: {attr}"
                )));
            }
            if !matches!(cop, ComparisonOperator::Null | ComparisonOperator::NotNull)
                && e.values.is_none()
                && e.value.is_none()
            {
                return Err(invalid(format_args!(
                    "Value or AttributeValueList must be used with ComparisonOperator: {cop} for Attribute: {attr}"
                )));
            }
            let values: Vec<AttributeValue> = match (&e.values, &e.value) {
                (Some(list), _) => list.clone(),
                (None, Some(v)) => vec![v.clone()],
                (None, None) => Vec::new(),
            };
            check_list(cop, &values)?;
            conds.push(build(attr, cop, values));
        } else if e.values.is_some() {
            return Err(invalid(format_args!(
                "AttributeValueList can only be used with a ComparisonOperator for Attribute: {attr}"
            )));
        } else {
            let exists = e.exists.unwrap_or(true);
            match (exists, &e.value) {
                (true, None) => {
                    return Err(invalid(format_args!(
                        "Value must be provided when Exists is {} for Attribute: {attr}",
                        if e.exists.is_none() { "null" } else { "true" }
                    )));
                }
                (false, Some(_)) => {
                    return Err(invalid(format_args!(
                        "Value cannot be used when Exists is false for Attribute: {attr}"
                    )));
                }
                (false, None) => conds.push(Condition::AttributeNotExists(path(attr))),
                (true, Some(v)) => conds.push(build(attr, ComparisonOperator::Eq, vec![v.clone()])),
            }
        }
    }
    Ok(combine(conds, op))
}

/// `KeyConditions` checked against the key schema being queried and reduced to a
/// [`KeyCondition`] (the messages are DynamoDB's, as dynalite's `query` reproduces them).
pub fn key_conditions(
    conds: &BTreeMap<String, LegacyCondition>,
    partition_key: &str,
    sort_key: Option<&str>,
) -> Result<KeyCondition> {
    for c in conds.values() {
        check_list(c.operator, &c.values)?;
    }
    if conds.len() != 1 && conds.len() != 2 {
        return Err(Error::validation("Conditions can be of length 1 or 2 only"));
    }
    if sort_key.is_none() && conds.len() > 1 {
        return Err(Error::validation("Query key condition not supported"));
    }
    let mut keys = vec![(partition_key, true)];
    if let Some(sk) = sort_key {
        keys.push((sk, false));
    }
    let mut partition = None;
    let mut sort = None;
    for (attr, is_hash) in keys {
        let Some(c) = conds.get(attr) else {
            if is_hash || conds.len() > 1 {
                return Err(Error::validation(format!(
                    "Query condition missed key schema element: {attr}"
                )));
            }
            continue;
        };
        use ComparisonOperator as C;
        if matches!(
            c.operator,
            C::Null | C::NotNull | C::Ne | C::Contains | C::NotContains | C::In
        ) {
            return Err(Error::validation(
                "Attempted conditional constraint is not an indexable operation",
            ));
        }
        let v = |i: usize| c.values.get(i).cloned().unwrap_or(AttributeValue::Null);
        if is_hash {
            if c.operator != C::Eq {
                return Err(Error::validation("Query key condition not supported"));
            }
            partition = Some(v(0));
        } else {
            sort = Some(match c.operator {
                C::Eq => SortCondition::Eq(v(0)),
                C::Lt => SortCondition::Lt(v(0)),
                C::Le => SortCondition::Le(v(0)),
                C::Gt => SortCondition::Gt(v(0)),
                C::Ge => SortCondition::Ge(v(0)),
                C::BeginsWith => SortCondition::BeginsWith(v(0)),
                _ => SortCondition::Between(v(0), v(1)),
            });
        }
    }
    let Some(partition) = partition else {
        return Err(Error::validation(format!(
            "Query condition missed key schema element: {partition_key}"
        )));
    };
    Ok(KeyCondition { partition, sort })
}

/// `KeyConditions` on a multi-attribute key (`hash` and `range` in KeySchema order):
/// each condition checked as for a one-and-one key, then DynamoDB's rules for such a
/// key (see `expr/key.rs`).
pub fn composite_key_conditions(
    conds: &BTreeMap<String, LegacyCondition>,
    hash: &[&str],
    range: &[&str],
) -> Result<CompositeKeyCondition> {
    use ComparisonOperator as C;
    let mut leaves = Vec::with_capacity(conds.len());
    for (attr, c) in conds {
        check_list(c.operator, &c.values)?;
        if matches!(
            c.operator,
            C::Null | C::NotNull | C::Ne | C::Contains | C::NotContains | C::In
        ) {
            return Err(Error::validation(
                "Attempted conditional constraint is not an indexable operation",
            ));
        }
        let v = |i: usize| c.values.get(i).cloned().unwrap_or(AttributeValue::Null);
        let cond = match c.operator {
            C::Eq => SortCondition::Eq(v(0)),
            C::Lt => SortCondition::Lt(v(0)),
            C::Le => SortCondition::Le(v(0)),
            C::Gt => SortCondition::Gt(v(0)),
            C::Ge => SortCondition::Ge(v(0)),
            C::BeginsWith => SortCondition::BeginsWith(v(0)),
            _ => SortCondition::Between(v(0), v(1)),
        };
        leaves.push((attr.clone(), cond));
    }
    super::composite_key_condition(leaves, hash, range).map_err(Error::Validation)
}

// ------------------------------------------------------------------ projection

/// `AttributesToGet` as a projection of top-level attribute names.
pub fn attributes_to_get(names: &[String]) -> Result<Projection> {
    if names.is_empty() {
        return Err(Error::validation(
            "1 validation error detected: Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    let mut seen = std::collections::HashSet::with_capacity(names.len());
    for n in names {
        check_attribute_name(n)?;
        if !seen.insert(n.as_str()) {
            return Err(invalid(format_args!(
                "Duplicate value in attribute name: {n}"
            )));
        }
    }
    Ok(Projection {
        paths: names.iter().map(|n| path(n)).collect(),
    })
}

// ------------------------------------------------------------------ updates

/// The message a type clash in an `AttributeUpdates` update gets (instead of the
/// expression language's "An operand in the update expression has an incorrect data
/// type").
pub const ATTRIBUTE_UPDATE_TYPE_MISMATCH: &str = "Type mismatch for attribute to update";

/// `AttributeUpdates` as an update expression.
pub fn attribute_updates(updates: &BTreeMap<String, AttributeUpdate>) -> Result<UpdateExpr> {
    use AttributeType as T;
    let mut out = UpdateExpr::default();
    for (attr, u) in updates {
        check_attribute_name(attr)?;
        let Some(v) = &u.value else {
            if u.action != UpdateAction::Delete {
                return Err(invalid(
                    "Only DELETE action is allowed when no attribute value is specified",
                ));
            }
            out.remove.push(path(attr));
            continue;
        };
        v.validate(1)?;
        let t = v.attribute_type();
        let val = |v: AttributeValue| Value {
            placeholder: format!(":{}", placeholder_safe(attr)),
            value: v,
        };
        match u.action {
            UpdateAction::Put => out.set.push(SetAction {
                path: path(attr),
                value: SetValue::Operand(UpdateOperand::Value(val(v.clone()))),
            }),
            UpdateAction::Delete => {
                if !matches!(t, T::Ss | T::Ns | T::Bs) {
                    return Err(invalid(format_args!(
                        "DELETE action with value is not supported for the type {t}"
                    )));
                }
                out.delete.push(ValueAction {
                    path: path(attr),
                    value: val(v.clone()),
                });
            }
            UpdateAction::Add => match t {
                T::N | T::Ss | T::Ns | T::Bs => out.add.push(ValueAction {
                    path: path(attr),
                    value: val(v.clone()),
                }),
                T::L => out.set.push(SetAction {
                    path: path(attr),
                    value: SetValue::Operand(UpdateOperand::ListAppend(
                        Box::new(UpdateOperand::IfNotExists(
                            path(attr),
                            Box::new(UpdateOperand::Value(Value {
                                placeholder: ":empty_list".into(),
                                value: AttributeValue::L(Vec::new()),
                            })),
                        )),
                        Box::new(UpdateOperand::Value(val(v.clone()))),
                    )),
                }),
                _ => {
                    return Err(invalid(format_args!(
                        "ADD action is not supported for the type {t}"
                    )));
                }
            },
        }
    }
    Ok(out)
}

/// Rewrites the expression language's type error into the one `AttributeUpdates` gets.
pub fn attribute_update_error(e: Error) -> Error {
    match e {
        Error::Validation(m) if m == super::update::INCORRECT_TYPE => {
            Error::validation(ATTRIBUTE_UPDATE_TYPE_MISMATCH)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::Number;
    use crate::value::Item;

    fn n(s: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(s).unwrap())
    }
    fn s(x: &str) -> AttributeValue {
        AttributeValue::S(x.into())
    }
    fn lc(op: &str, values: Vec<AttributeValue>) -> LegacyCondition {
        LegacyCondition {
            operator: ComparisonOperator::parse(op).unwrap(),
            values,
        }
    }
    fn one(attr: &str, c: LegacyCondition) -> BTreeMap<String, LegacyCondition> {
        BTreeMap::from([(attr.to_string(), c)])
    }
    fn item() -> Item {
        Item::from([
            ("a".to_string(), n("5")),
            ("s".to_string(), s("hello")),
            (
                "ss".to_string(),
                AttributeValue::Ss(vec!["x".into(), "y".into()]),
            ),
            ("l".to_string(), AttributeValue::L(vec![s("x"), n("1")])),
        ])
    }
    fn eval(attr: &str, op: &str, values: Vec<AttributeValue>) -> Result<bool, String> {
        let c = filter_condition(&one(attr, lc(op, values)), ConditionalOperator::And)
            .map_err(|e| e.to_string())?
            .unwrap();
        Ok(c.evaluate(&item()).unwrap())
    }

    #[test]
    fn filter_operators_evaluate() {
        type Case = (
            &'static str,
            &'static str,
            Vec<AttributeValue>,
            Result<bool, &'static str>,
        );
        let cases: Vec<Case> = vec![
            ("a", "EQ", vec![n("5")], Ok(true)),
            ("a", "EQ", vec![s("5")], Ok(false)),
            ("a", "NE", vec![n("5")], Ok(false)),
            ("a", "NE", vec![s("5")], Ok(true)),
            ("zz", "NE", vec![n("5")], Ok(true)),
            ("a", "LT", vec![n("6")], Ok(true)),
            ("a", "LE", vec![n("5")], Ok(true)),
            ("a", "GT", vec![n("5")], Ok(false)),
            ("a", "GE", vec![n("5")], Ok(true)),
            ("s", "GT", vec![n("5")], Ok(false)),
            ("a", "NOT_NULL", vec![], Ok(true)),
            ("zz", "NOT_NULL", vec![], Ok(false)),
            ("zz", "NULL", vec![], Ok(true)),
            ("s", "CONTAINS", vec![s("ell")], Ok(true)),
            ("ss", "CONTAINS", vec![s("y")], Ok(true)),
            ("l", "CONTAINS", vec![n("1")], Ok(true)),
            ("ss", "NOT_CONTAINS", vec![s("z")], Ok(true)),
            // NOT_CONTAINS fails on a missing attribute (so does CONTAINS).
            ("zz", "NOT_CONTAINS", vec![s("z")], Ok(false)),
            ("zz", "CONTAINS", vec![s("z")], Ok(false)),
            ("l", "NOT_CONTAINS", vec![n("2")], Ok(true)),
            // EQ and NE take lists, maps, BOOL and NULL; CONTAINS takes BOOL and NULL.
            (
                "l",
                "EQ",
                vec![AttributeValue::L(vec![s("x"), n("1")])],
                Ok(true),
            ),
            ("l", "NE", vec![AttributeValue::L(vec![s("x")])], Ok(true)),
            (
                "zz",
                "EQ",
                vec![AttributeValue::M(Default::default())],
                Ok(false),
            ),
            ("a", "EQ", vec![AttributeValue::Bool(true)], Ok(false)),
            ("a", "NE", vec![AttributeValue::Null], Ok(true)),
            ("l", "CONTAINS", vec![AttributeValue::Bool(true)], Ok(false)),
            ("l", "NOT_CONTAINS", vec![AttributeValue::Null], Ok(true)),
            ("s", "NOT_CONTAINS", vec![s("he")], Ok(false)),
            ("s", "BEGINS_WITH", vec![s("he")], Ok(true)),
            ("s", "BEGINS_WITH", vec![s("lo")], Ok(false)),
            ("a", "IN", vec![n("1"), n("5")], Ok(true)),
            ("a", "IN", vec![n("1")], Ok(false)),
            ("a", "BETWEEN", vec![n("1"), n("5")], Ok(true)),
            ("a", "BETWEEN", vec![n("6"), n("9")], Ok(false)),
            (
                "a",
                "EQ",
                vec![],
                Err(
                    "One or more parameter values were invalid: Invalid number of argument(s) for the EQ ComparisonOperator",
                ),
            ),
            (
                "a",
                "NULL",
                vec![n("1")],
                Err(
                    "One or more parameter values were invalid: Invalid number of argument(s) for the NULL ComparisonOperator",
                ),
            ),
            (
                "a",
                "BETWEEN",
                vec![n("1")],
                Err(
                    "One or more parameter values were invalid: Invalid number of argument(s) for the BETWEEN ComparisonOperator",
                ),
            ),
            (
                "a",
                "IN",
                vec![],
                Err(
                    "One or more parameter values were invalid: Invalid number of argument(s) for the IN ComparisonOperator",
                ),
            ),
            (
                "a",
                "IN",
                vec![n("1"), s("x")],
                Err(
                    "One or more parameter values were invalid: AttributeValues inside AttributeValueList must be of same type",
                ),
            ),
            (
                "a",
                "LT",
                vec![AttributeValue::Bool(true)],
                Err(
                    "One or more parameter values were invalid: ComparisonOperator LT is not valid for BOOL AttributeValue type",
                ),
            ),
            (
                "a",
                "BEGINS_WITH",
                vec![n("1")],
                Err(
                    "One or more parameter values were invalid: ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type",
                ),
            ),
            (
                "a",
                "CONTAINS",
                vec![AttributeValue::Ss(vec!["x".into()])],
                Err(
                    "One or more parameter values were invalid: ComparisonOperator CONTAINS is not valid for SS AttributeValue type",
                ),
            ),
            (
                "a",
                "BETWEEN",
                vec![n("9"), n("1")],
                Err(
                    "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
                ),
            ),
            (
                "l",
                "IN",
                vec![AttributeValue::L(vec![n("1")]), AttributeValue::L(vec![])],
                Err(
                    "One or more parameter values were invalid: ComparisonOperator IN is not valid for L AttributeValue type",
                ),
            ),
            (
                "a",
                "BETWEEN",
                vec![
                    AttributeValue::Ns(vec![Number::parse("1").unwrap()]),
                    AttributeValue::Ns(vec![Number::parse("2").unwrap()]),
                ],
                Err(
                    "One or more parameter values were invalid: ComparisonOperator BETWEEN is not valid for NS AttributeValue type",
                ),
            ),
            (
                "a",
                "GE",
                vec![AttributeValue::M(Default::default())],
                Err(
                    "One or more parameter values were invalid: ComparisonOperator GE is not valid for M AttributeValue type",
                ),
            ),
            (
                "l",
                "NOT_CONTAINS",
                vec![AttributeValue::L(vec![n("1")])],
                Err(
                    "One or more parameter values were invalid: ComparisonOperator NOT_CONTAINS is not valid for L AttributeValue type",
                ),
            ),
        ];
        for (attr, op, values, want) in cases {
            let got = eval(attr, op, values.clone());
            assert_eq!(got, want.map_err(String::from), "{attr} {op} {values:?}");
        }
    }

    #[test]
    fn conditional_operator_combines() {
        let f = BTreeMap::from([
            ("a".to_string(), lc("EQ", vec![n("5")])),
            ("s".to_string(), lc("EQ", vec![s("nope")])),
        ]);
        let and = filter_condition(&f, ConditionalOperator::And)
            .unwrap()
            .unwrap();
        assert!(!and.evaluate(&item()).unwrap());
        let or = filter_condition(&f, ConditionalOperator::Or)
            .unwrap()
            .unwrap();
        assert!(or.evaluate(&item()).unwrap());
        assert!(
            filter_condition(&BTreeMap::new(), ConditionalOperator::And)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn expected_forms() {
        let ev = |attr: &str, e: ExpectedAttribute| -> Result<bool, String> {
            let m = BTreeMap::from([(attr.to_string(), e)]);
            Ok(expected_condition(&m, ConditionalOperator::And)
                .map_err(|e| e.to_string())?
                .unwrap()
                .evaluate(&item())
                .unwrap())
        };
        let e = |value: Option<AttributeValue>,
                 exists: Option<bool>,
                 op: Option<&str>,
                 values: Option<Vec<AttributeValue>>| ExpectedAttribute {
            value,
            exists,
            operator: op.map(|o| ComparisonOperator::parse(o).unwrap()),
            values,
        };
        assert_eq!(ev("a", e(Some(n("5")), None, None, None)), Ok(true));
        assert_eq!(ev("a", e(Some(n("6")), Some(true), None, None)), Ok(false));
        assert_eq!(ev("zz", e(None, Some(false), None, None)), Ok(true));
        assert_eq!(ev("a", e(None, Some(false), None, None)), Ok(false));
        assert_eq!(ev("a", e(Some(n("4")), None, Some("GT"), None)), Ok(true));
        assert_eq!(ev("a", e(None, None, Some("NOT_NULL"), None)), Ok(true));
        assert_eq!(
            ev("a", e(None, None, Some("IN"), Some(vec![n("4"), n("5")]))),
            Ok(true)
        );
        let err = |attr: &str, x: ExpectedAttribute| ev(attr, x).unwrap_err();
        assert_eq!(
            err("a", e(None, None, None, None)),
            "One or more parameter values were invalid: Value must be provided when Exists is null for Attribute: a"
        );
        assert_eq!(
            err("a", e(None, Some(true), None, None)),
            "One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: a"
        );
        assert_eq!(
            err("a", e(Some(n("1")), Some(false), None, None)),
            "One or more parameter values were invalid: Value cannot be used when Exists is false for Attribute: a"
        );
        assert_eq!(
            err("a", e(None, Some(true), Some("NULL"), None)),
            "One or more parameter values were invalid: Exists and ComparisonOperator cannot be used together for Attribute: a"
        );
        assert_eq!(
            err("a", e(Some(n("1")), None, Some("EQ"), Some(vec![n("1")]))),
            "One or more parameter values were invalid: Value and AttributeValueList cannot be used together for Attribute: a"
        );
        assert_eq!(
            err("a", e(None, None, Some("EQ"), None)),
            "One or more parameter values were invalid: Value or AttributeValueList must be used with ComparisonOperator: EQ for Attribute: a"
        );
        assert_eq!(
            err("a", e(None, None, None, Some(vec![n("1")]))),
            "One or more parameter values were invalid: AttributeValueList can only be used with a ComparisonOperator for Attribute: a"
        );
        assert_eq!(
            err("a", e(None, None, Some("BETWEEN"), Some(vec![n("1")]))),
            "One or more parameter values were invalid: Invalid number of argument(s) for the BETWEEN ComparisonOperator"
        );
        // Expected checks the constants' types as the filters do, before any item is
        // read: a constant the operator cannot compare is a ValidationException, not a
        // failed condition.
        assert_eq!(
            err(
                "a",
                e(
                    None,
                    None,
                    Some("LT"),
                    Some(vec![AttributeValue::L(vec![])])
                )
            ),
            "One or more parameter values were invalid: ComparisonOperator LT is not valid for L AttributeValue type"
        );
        assert_eq!(
            err("s", e(Some(n("3")), None, Some("BEGINS_WITH"), None)),
            "One or more parameter values were invalid: ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type"
        );
        assert_eq!(
            err(
                "a",
                e(
                    None,
                    None,
                    Some("IN"),
                    Some(vec![
                        AttributeValue::L(vec![n("1")]),
                        AttributeValue::L(vec![])
                    ])
                )
            ),
            "One or more parameter values were invalid: ComparisonOperator IN is not valid for L AttributeValue type"
        );
        assert_eq!(
            err(
                "a",
                e(
                    None,
                    None,
                    Some("CONTAINS"),
                    Some(vec![AttributeValue::L(vec![])])
                )
            ),
            "One or more parameter values were invalid: ComparisonOperator CONTAINS is not valid for L AttributeValue type"
        );
        assert_eq!(
            err(
                "a",
                e(None, None, Some("BETWEEN"), Some(vec![n("4"), n("3")]))
            ),
            "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound"
        );
        // EQ and NE compare any type; NOT_CONTAINS fails on a missing attribute.
        let list = AttributeValue::L(vec![s("x"), n("1")]);
        assert_eq!(ev("l", e(Some(list.clone()), None, None, None)), Ok(true));
        assert_eq!(
            ev("l", e(None, None, Some("EQ"), Some(vec![list.clone()]))),
            Ok(true)
        );
        assert_eq!(
            ev("zz", e(None, None, Some("NE"), Some(vec![list]))),
            Ok(true)
        );
        assert_eq!(
            ev(
                "zz",
                e(None, None, Some("NOT_CONTAINS"), Some(vec![n("1")]))
            ),
            Ok(false)
        );
        assert_eq!(
            ev("s", e(None, None, Some("NOT_CONTAINS"), Some(vec![s("z")]))),
            Ok(true)
        );
    }

    #[test]
    fn key_conditions_reduce_and_fail() {
        let kc = |m: Vec<(&str, LegacyCondition)>, sk: Option<&str>| {
            let m: BTreeMap<String, LegacyCondition> =
                m.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            key_conditions(&m, "pk", sk).map_err(|e| e.to_string())
        };
        let ok = kc(
            vec![
                ("pk", lc("EQ", vec![s("p")])),
                ("sk", lc("BETWEEN", vec![n("1"), n("3")])),
            ],
            Some("sk"),
        )
        .unwrap();
        assert_eq!(ok.partition, s("p"));
        assert_eq!(ok.sort, Some(SortCondition::Between(n("1"), n("3"))));
        type Case = (
            Vec<(&'static str, LegacyCondition)>,
            Option<&'static str>,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (
                vec![],
                Some("sk"),
                "Conditions can be of length 1 or 2 only",
            ),
            (
                vec![("sk", lc("EQ", vec![n("1")]))],
                Some("sk"),
                "Query condition missed key schema element: pk",
            ),
            (
                vec![("pk", lc("GT", vec![s("p")]))],
                None,
                "Query key condition not supported",
            ),
            (
                vec![("pk", lc("NULL", vec![]))],
                None,
                "Attempted conditional constraint is not an indexable operation",
            ),
            (
                vec![
                    ("pk", lc("EQ", vec![s("p")])),
                    ("x", lc("EQ", vec![s("p")])),
                ],
                None,
                "Query key condition not supported",
            ),
            (
                vec![
                    ("pk", lc("EQ", vec![s("p")])),
                    ("x", lc("EQ", vec![s("p")])),
                ],
                Some("sk"),
                "Query condition missed key schema element: sk",
            ),
            (
                vec![
                    ("pk", lc("EQ", vec![s("p")])),
                    ("sk", lc("IN", vec![n("1")])),
                ],
                Some("sk"),
                "Attempted conditional constraint is not an indexable operation",
            ),
        ];
        for (m, sk, want) in cases {
            assert_eq!(kc(m, sk).unwrap_err(), want);
        }
    }

    #[test]
    fn parameter_families() {
        let e = check_parameter_families(
            &[("ProjectionExpression", true)],
            &[("AttributesToGet", true)],
            false,
            false,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}"
        );
        let e = check_parameter_families(
            &[("UpdateExpression", false), ("ConditionExpression", false)],
            &[("AttributeUpdates", false), ("Expected", false)],
            false,
            true,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "ExpressionAttributeValues can only be specified when using expressions: UpdateExpression and ConditionExpression are null"
        );
        let e = check_parameter_families(&[("ProjectionExpression", false)], &[], true, false)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "ExpressionAttributeNames can only be specified when using expressions"
        );
        assert!(
            check_parameter_families(&[("ProjectionExpression", true)], &[], true, false).is_ok()
        );
    }

    #[test]
    fn attribute_updates_convert_and_apply() {
        let ups = BTreeMap::from([
            (
                "p".to_string(),
                AttributeUpdate {
                    action: UpdateAction::Put,
                    value: Some(s("v")),
                },
            ),
            (
                "a".to_string(),
                AttributeUpdate {
                    action: UpdateAction::Add,
                    value: Some(n("2")),
                },
            ),
            (
                "l".to_string(),
                AttributeUpdate {
                    action: UpdateAction::Add,
                    value: Some(AttributeValue::L(vec![s("z")])),
                },
            ),
            (
                "ss".to_string(),
                AttributeUpdate {
                    action: UpdateAction::Delete,
                    value: Some(AttributeValue::Ss(vec!["x".into()])),
                },
            ),
            (
                "s".to_string(),
                AttributeUpdate {
                    action: UpdateAction::Delete,
                    value: None,
                },
            ),
        ]);
        let u = attribute_updates(&ups).unwrap();
        let mut it = item();
        u.apply(&mut it).unwrap();
        assert_eq!(it["p"], s("v"));
        assert_eq!(it["a"], n("7"));
        assert_eq!(it["l"], AttributeValue::L(vec![s("x"), n("1"), s("z")]));
        assert_eq!(it["ss"], AttributeValue::Ss(vec!["y".into()]));
        assert!(!it.contains_key("s"));

        let bad = |action, value| {
            attribute_updates(&BTreeMap::from([(
                "a".to_string(),
                AttributeUpdate { action, value },
            )]))
            .unwrap_err()
            .to_string()
        };
        assert_eq!(
            bad(UpdateAction::Put, None),
            "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified"
        );
        assert_eq!(
            bad(UpdateAction::Add, Some(s("x"))),
            "One or more parameter values were invalid: ADD action is not supported for the type S"
        );
        assert_eq!(
            bad(UpdateAction::Delete, Some(n("1"))),
            "One or more parameter values were invalid: DELETE action with value is not supported for the type N"
        );
        let u = attribute_updates(&BTreeMap::from([(
            "s".to_string(),
            AttributeUpdate {
                action: UpdateAction::Add,
                value: Some(n("1")),
            },
        )]))
        .unwrap();
        let e = attribute_update_error(u.apply(&mut item()).unwrap_err());
        assert_eq!(e.to_string(), ATTRIBUTE_UPDATE_TYPE_MISMATCH);
    }

    #[test]
    fn attributes_to_get_projects_top_level_names() {
        let p = attributes_to_get(&["a".into(), "x.y".into()]).unwrap();
        let mut it = item();
        it.insert("x.y".into(), n("1"));
        let got = p.apply(&it);
        assert_eq!(got.len(), 2);
        assert!(got.contains_key("x.y"));
        assert_eq!(
            attributes_to_get(&["a".into(), "a".into()])
                .unwrap_err()
                .to_string(),
            "One or more parameter values were invalid: Duplicate value in attribute name: a"
        );
    }
}
