//! The DynamoDB expression language: parsing, validation and evaluation of
//! ConditionExpression, FilterExpression, KeyConditionExpression, UpdateExpression and
//! ProjectionExpression, with DynamoDB's error messages.
//!
//! # What this module owns
//!
//! - A hand-written lexer and recursive-descent parser (no parser generator) producing
//!   a typed AST ([`Condition`], [`UpdateExpr`], [`Projection`]) whose names and values
//!   are already substituted from ExpressionAttributeNames / ExpressionAttributeValues
//!   (each node keeps the `#n` / `:v` placeholder it was written with, so `Display`
//!   prints an expression that re-parses to an equal AST).
//! - DynamoDB's validation: syntax errors (`Syntax error; token: "…", near: "…"`),
//!   reserved words ([`RESERVED_WORDS`]), undefined and unused names/values, function
//!   names/arity/operand types, redundant parentheses, overlapping and conflicting
//!   document paths, duplicate update sections, and the expression limits of
//!   [`crate::limits`] (size, operators, `IN` operands, nesting depth).
//! - Evaluation: [`Condition::evaluate`], [`UpdateExpr::apply`], [`project`] and
//!   [`SortCondition::matches`].
//!
//! # What it must not know
//!
//! Nothing of JSON, HTTP or the wire format, of tables or storage: it sees
//! [`AttributeValue`]s and [`Item`]s, and returns [`Error::Validation`] with DynamoDB's
//! exact message. Checks that need the table (key attribute types, "Cannot update
//! attribute X. This attribute is part of the key") are the caller's, helped by
//! [`UpdateExpr::touched_attributes`] / [`UpdateExpr::check_key_update`] and
//! [`SortCondition::values`].
//!
//! # Usage
//!
//! One [`Resolver`] per request parses all of the request's expressions, then
//! [`Resolver::finish`] reports names/values that no expression used:
//!
//! ```ignore
//! let mut r = Resolver::new(req.names.as_ref(), req.values.as_ref())?;
//! let cond = req.condition.as_deref().map(|e| r.condition(e)).transpose()?;
//! let update = r.update(&req.update_expression)?;
//! r.finish()?;
//! update.check_key_update(&["pk", "sk"])?;
//! let mut item = stored.unwrap_or_default();
//! if let Some(c) = &cond {
//!     if !c.evaluate(&item)? { /* ConditionalCheckFailed */ }
//! }
//! update.apply(&mut item)?;
//! ```

mod ast;
mod eval;
mod key;
pub mod legacy;
mod lexer;
mod parser;
mod project;
mod reserved;
mod update;

#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};

pub use ast::{
    Comparator, Condition, Name, Operand, Path, PathElem, Projection, SetAction, SetValue,
    UpdateExpr, UpdateOperand, Value, ValueAction,
};
pub use eval::{compare_values, lookup, size_of};
pub(crate) use key::composite_key_condition;
pub use key::{CompositeKeyCondition, KeyCondition, SortCondition};
pub use project::project;
pub use reserved::{RESERVED_WORDS, is_reserved};

use crate::error::{Error, Result};
use crate::limits::{
    EXPRESSION_ATTRIBUTE_KEY_BYTES_MAX, EXPRESSION_ATTRIBUTES_BYTES_MAX, EXPRESSION_BYTES_MAX,
    EXPRESSION_CALLER_STACK_NESTING_MAX, EXPRESSION_DEEP_PARSE_STACK_BYTES,
};
use crate::value::{AttributeValue, Item, check_attribute_name};
use parser::{Context, Mode, PResult, Parser};

/// Which request parameter an expression came from; it names the expression in
/// messages (`Invalid ConditionExpression: …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpressionKind {
    Condition,
    Filter,
    KeyCondition,
    Update,
    Projection,
}

impl ExpressionKind {
    /// The request parameter's name, e.g. `"ConditionExpression"`.
    pub fn parameter(self) -> &'static str {
        match self {
            ExpressionKind::Condition => "ConditionExpression",
            ExpressionKind::Filter => "FilterExpression",
            ExpressionKind::KeyCondition => "KeyConditionExpression",
            ExpressionKind::Update => "UpdateExpression",
            ExpressionKind::Projection => "ProjectionExpression",
        }
    }
}

/// Substitutes ExpressionAttributeNames / ExpressionAttributeValues for one request and
/// tracks which of them the request's expressions use.
#[derive(Debug)]
pub struct Resolver<'r> {
    names: Option<&'r HashMap<String, String>>,
    values: Option<&'r HashMap<String, AttributeValue>>,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
}

fn valid_key(key: &str, sigil: char) -> bool {
    let mut chars = key.chars();
    chars.next() == Some(sigil)
        && key.len() > 1
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl<'r> Resolver<'r> {
    /// Starts a request. Fails as DynamoDB does on an empty map, a key longer than
    /// [`EXPRESSION_ATTRIBUTE_KEY_BYTES_MAX`] (checked before its syntax, as DynamoDB
    /// does) or not `#[0-9a-zA-Z_]+` / `:[0-9a-zA-Z_]+`, a substituted name that is not
    /// an attribute name, and substitutions over [`EXPRESSION_ATTRIBUTES_BYTES_MAX`]
    /// together. (Validating the values themselves is the caller's job.)
    pub fn new(
        names: Option<&'r HashMap<String, String>>,
        values: Option<&'r HashMap<String, AttributeValue>>,
    ) -> Result<Resolver<'r>> {
        let mut bytes = 0usize;
        if let Some(n) = names {
            if n.is_empty() {
                return Err(Error::validation(
                    "ExpressionAttributeNames must not be empty",
                ));
            }
            let mut keys: Vec<&String> = n.keys().collect();
            keys.sort();
            for k in keys {
                if k.len() > EXPRESSION_ATTRIBUTE_KEY_BYTES_MAX {
                    return Err(Error::validation(format!(
                        "ExpressionAttributeNames contains invalid key: The expression attribute map contains a key that is too long; size of key: {}",
                        k.len()
                    )));
                }
                if !valid_key(k, '#') {
                    return Err(Error::validation(format!(
                        "ExpressionAttributeNames contains invalid key: Syntax error; key: \"{k}\""
                    )));
                }
                let name = &n[k];
                if name.is_empty() {
                    return Err(Error::validation(format!(
                        "ExpressionAttributeNames contains invalid value: Empty attribute name for key {k}"
                    )));
                }
                check_attribute_name(name)?;
                bytes += k.len() + name.len();
            }
        }
        if let Some(v) = values {
            if v.is_empty() {
                return Err(Error::validation(
                    "ExpressionAttributeValues must not be empty",
                ));
            }
            let mut keys: Vec<&String> = v.keys().collect();
            keys.sort();
            for k in keys {
                // DynamoDB's message for values has no "size of key" (measured).
                if k.len() > EXPRESSION_ATTRIBUTE_KEY_BYTES_MAX {
                    return Err(Error::validation(
                        "ExpressionAttributeValues contains invalid key: The expression attribute map contains a key that is too long;",
                    ));
                }
                if !valid_key(k, ':') {
                    return Err(Error::validation(format!(
                        "ExpressionAttributeValues contains invalid key: Syntax error; key: \"{k}\""
                    )));
                }
                bytes += k.len() + v[k].size_bytes();
            }
        }
        if bytes > EXPRESSION_ATTRIBUTES_BYTES_MAX {
            return Err(Error::validation(
                "Combined size of ExpressionAttributeNames and ExpressionAttributeValues exceeds max size",
            ));
        }
        Ok(Resolver {
            names,
            values,
            used_names: BTreeSet::new(),
            used_values: BTreeSet::new(),
        })
    }

    fn run<T>(
        &mut self,
        kind: ExpressionKind,
        expr: &str,
        mode: Mode,
        parse: impl FnOnce(Parser<'_, '_, 'r>) -> PResult<T> + Send,
    ) -> Result<T>
    where
        T: Send,
    {
        let wrap = |msg: String| Error::validation(format!("Invalid {}: {msg}", kind.parameter()));
        if expr.is_empty() {
            return Err(wrap("The expression can not be empty;".into()));
        }
        if expr.len() > EXPRESSION_BYTES_MAX {
            return Err(wrap(format!(
                "Expression size has exceeded the maximum allowed size; expression size: {}",
                expr.len()
            )));
        }
        let ctx = Context {
            names: self.names,
            values: self.values,
            used_names: &mut self.used_names,
            used_values: &mut self.used_values,
        };
        if nesting_bound(expr) <= EXPRESSION_CALLER_STACK_NESTING_MAX {
            return parse(Parser::new(expr, ctx, mode)).map_err(wrap);
        }
        // DynamoDB accepts expressions nested hundreds of levels deep (it bounds them by
        // their operator count only), deeper than the recursive-descent parser can go
        // on a request thread's stack, so such an expression is parsed on a thread of
        // its own with a stack sized for the deepest nesting the parser accepts.
        let parsed: PResult<T> = std::thread::scope(|s| -> Result<PResult<T>> {
            let worker = std::thread::Builder::new()
                .name("eddy-expr-parse".into())
                .stack_size(EXPRESSION_DEEP_PARSE_STACK_BYTES)
                .spawn_scoped(s, move || parse(Parser::new(expr, ctx, mode)))
                .map_err(|e| {
                    Error::Internal(format!(
                        "cannot start a thread to parse a deeply nested {}: {e}",
                        kind.parameter()
                    ))
                })?;
            match worker.join() {
                Ok(parsed) => Ok(parsed),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })?;
        parsed.map_err(wrap)
    }

    /// Parses a ConditionExpression.
    pub fn condition(&mut self, expr: &str) -> Result<Condition> {
        self.run(ExpressionKind::Condition, expr, Mode::Condition, |p| {
            p.parse_condition()
        })
    }

    /// Parses a FilterExpression (same language as a condition, its own message prefix).
    pub fn filter(&mut self, expr: &str) -> Result<Condition> {
        self.run(ExpressionKind::Filter, expr, Mode::Condition, |p| {
            p.parse_condition()
        })
    }

    /// Parses an UpdateExpression.
    pub fn update(&mut self, expr: &str) -> Result<UpdateExpr> {
        self.run(ExpressionKind::Update, expr, Mode::Update, |p| {
            p.parse_update()
        })
    }

    /// Parses a ProjectionExpression.
    pub fn projection(&mut self, expr: &str) -> Result<Projection> {
        self.run(ExpressionKind::Projection, expr, Mode::Projection, |p| {
            p.parse_projection()
        })
    }

    /// Parses a KeyConditionExpression as an expression only, without checking it
    /// against a key schema: what DynamoDB validates before it looks at the table.
    pub fn key_condition_syntax(&mut self, expr: &str) -> Result<()> {
        self.run(ExpressionKind::KeyCondition, expr, Mode::Condition, |p| {
            p.parse_condition()
        })
        .map(drop)
    }

    /// Parses a KeyConditionExpression and checks it against the key schema of the
    /// table or index being queried.
    pub fn key_condition(
        &mut self,
        expr: &str,
        partition_key: &str,
        sort_key: Option<&str>,
    ) -> Result<KeyCondition> {
        let cond = self.run(ExpressionKind::KeyCondition, expr, Mode::Condition, |p| {
            p.parse_condition()
        })?;
        key::key_condition(&cond, partition_key, sort_key).map_err(Error::Validation)
    }

    /// Parses a KeyConditionExpression and checks it against a multi-attribute key
    /// (`hash` and `range` names in KeySchema order).
    pub fn composite_key_condition(
        &mut self,
        expr: &str,
        hash: &[&str],
        range: &[&str],
    ) -> Result<CompositeKeyCondition> {
        let cond = self.run(ExpressionKind::KeyCondition, expr, Mode::Condition, |p| {
            p.parse_condition()
        })?;
        key::composite_key_condition_expr(&cond, hash, range).map_err(Error::Validation)
    }

    /// Ends the request: DynamoDB's error for a name or value no expression used.
    pub fn finish(self) -> Result<()> {
        if let Some(names) = self.names {
            let mut unused: Vec<&str> = names
                .keys()
                .filter(|k| !self.used_names.contains(*k))
                .map(String::as_str)
                .collect();
            if !unused.is_empty() {
                unused.sort_unstable();
                return Err(Error::validation(format!(
                    "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                    unused.join(", ")
                )));
            }
        }
        if let Some(values) = self.values {
            let mut unused: Vec<&str> = values
                .keys()
                .filter(|k| !self.used_values.contains(*k))
                .map(String::as_str)
                .collect();
            if !unused.is_empty() {
                unused.sort_unstable();
                return Err(Error::validation(format!(
                    "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                    unused.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// An upper bound on how deeply the parser recurses for `expr`: the deepest nesting of
/// parentheses (a function call's included) plus every `not` (in any case, even inside
/// a name), since the `NOT`s on the parser's stack at any moment are some of them.
fn nesting_bound(expr: &str) -> usize {
    let bytes = expr.as_bytes();
    let (mut open, mut deepest) = (0usize, 0usize);
    for &b in bytes {
        match b {
            b'(' => {
                open += 1;
                deepest = deepest.max(open);
            }
            b')' => open = open.saturating_sub(1),
            _ => {}
        }
    }
    let nots = bytes
        .windows(3)
        .filter(|w| w.eq_ignore_ascii_case(b"not"))
        .count();
    deepest + nots
}

/// Convenience: the projection of `item` by a parsed [`Projection`].
pub fn project_item(item: &Item, projection: &Projection) -> Item {
    project(item, &projection.paths)
}
