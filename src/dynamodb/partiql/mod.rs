//! The PartiQL operations: `ExecuteStatement` (`statement.rs`),
//! `BatchExecuteStatement` and `ExecuteTransaction` (`batch.rs`). Each statement is
//! parsed once as the request is read (so a function's table grant sees the table it
//! names), lowered by the engine onto the JSON API's request, and run as that request
//! runs: the same writer, conditions, indexes, streams and triggers.
//!
//! Owns the request shapes, the paging token and the PartiQL-only error
//! (`DuplicateItemException`). Must not know the PartiQL grammar (the engine's
//! `partiql` module) or how the engine runs a request.

mod batch;
mod statement;

pub(super) use self::batch::{batch_execute_statement, execute_transaction};
pub(super) use self::statement::execute_statement;

use eddy_engine::limits::PARTIQL_STATEMENT_BYTES_MAX;
use eddy_engine::partiql::ast::Statement;
use eddy_engine::{AttributeValue, Error};
use serde::Deserialize;

use crate::dynamodb::request::return_old_on_failure_at;
use crate::dynamodb::violations::{RETURN_VALUES_ON_CONDITION_CHECK_FAILURE, Violations};
use crate::error::ApiError;
use crate::wire::input::WireValue;

/// One statement as a request carries it (`ExecuteStatement`'s own fields, a batch's
/// `BatchStatementRequest`, a transaction's `ParameterizedStatement`).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RawStatement {
    statement: Option<String>,
    parameters: Option<Vec<WireValue>>,
    consistent_read: Option<bool>,
    return_values_on_condition_check_failure: Option<String>,
}

/// A statement read from a request and parsed once: the parse result is kept (an
/// error included) so the request's other checks come first, as DynamoDB orders them.
pub(super) struct ParsedStatement {
    /// `None` when the request had no `Statement`.
    text: Option<String>,
    /// The path DynamoDB names the statement's members under: empty for
    /// ExecuteStatement, `transactStatements.2.member.` inside a list.
    member: String,
    parsed: Result<Statement, Error>,
    parameters: Option<Vec<WireValue>>,
    consistent_read: bool,
    return_values_on_condition_check_failure: Option<String>,
}

impl ParsedStatement {
    /// Reads and parses one statement; `field` is its name in DynamoDB's messages.
    fn read(raw: RawStatement, member: String) -> ParsedStatement {
        let field = &format!("{member}statement");
        let parsed = match statement_violation(raw.statement.as_deref(), field) {
            Some(detail) => Err(constraint(detail)),
            None => eddy_engine::partiql::parse(raw.statement.as_deref().unwrap_or_default()),
        };
        ParsedStatement {
            text: raw.statement,
            member,
            parsed,
            parameters: raw.parameters,
            consistent_read: raw.consistent_read.unwrap_or(false),
            return_values_on_condition_check_failure: raw.return_values_on_condition_check_failure,
        }
    }

    /// The statement's member constraints alone (its text present and of a valid
    /// length, its parameters not empty, its return-values flag in its enum), added to
    /// the request's: DynamoDB's first pass checks them over the whole request, so a
    /// batch answers a violation for the request rather than for the one statement.
    fn check_members(&self, v: &mut Violations) {
        let field = format!("{}statement", self.member);
        if let Some(detail) = statement_violation(self.text.as_deref(), &field) {
            v.phrased(detail);
        }
        if self.parameters.as_ref().is_some_and(Vec::is_empty) {
            v.count(
                Some("[]"),
                0,
                &format!("{}parameters", self.member),
                1,
                usize::MAX,
            );
        }
        v.one_of(
            self.return_values_on_condition_check_failure.as_deref(),
            &format!("{}returnValuesOnConditionCheckFailure", self.member),
            RETURN_VALUES_ON_CONDITION_CHECK_FAILURE,
        );
    }

    /// The table the statement names, when it parsed.
    fn table(&self) -> Option<&str> {
        self.parsed.as_ref().ok().map(Statement::table)
    }

    /// The statement as an access policy sees it: `PartiQLSelect`, `PartiQLInsert`,
    /// `PartiQLUpdate` or `PartiQLDelete` on its table (or index), with the partition
    /// values it reads or writes, found by lowering it as it will run. A statement that
    /// does not parse or lower states no keys; it is refused with its own error when it
    /// runs.
    fn access(&self, engine: &eddy_engine::Engine) -> crate::dynamodb::access::Access {
        use crate::dynamodb::access::{Access, KEY_LEADING, leading_of_lowered};
        let Ok(stmt) = &self.parsed else {
            return Access::new("PartiQLSelect", None);
        };
        let (action, index) = match stmt {
            Statement::Select(s) | Statement::Exists(s) => ("PartiQLSelect", s.index.as_deref()),
            Statement::Insert(_) => ("PartiQLInsert", None),
            Statement::Update(_) => ("PartiQLUpdate", None),
            Statement::Delete(_) => ("PartiQLDelete", None),
        };
        let params: Option<Vec<AttributeValue>> = self
            .parameters
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.into_value().ok())
            .collect();
        let leading = params
            .and_then(|params| engine.lower_partiql(stmt, &params).ok())
            .map(|lowered| leading_of_lowered(engine, &lowered))
            .unwrap_or_default();
        Access::new(action, Some(stmt.table()))
            .on_index(index)
            .with(KEY_LEADING, leading)
    }

    /// The statement ready to lower: parsed, its parameters and options checked.
    fn ready(self) -> Result<Ready, ApiError> {
        let return_old = return_old_on_failure_at(
            self.return_values_on_condition_check_failure,
            &format!("{}returnValuesOnConditionCheckFailure", self.member),
        )?;
        let statement = self.parsed?;
        let params = match self.parameters {
            None => Vec::new(),
            Some(p) if p.is_empty() => {
                return Err(empty_parameters(&self.member).into());
            }
            Some(p) => p
                .into_iter()
                .map(WireValue::into_value)
                .collect::<Result<_, _>>()?,
        };
        Ok(Ready {
            text: self.text.unwrap_or_default(),
            statement,
            params,
            consistent_read: self.consistent_read,
            return_old,
        })
    }
}

/// A statement with everything checked that can be checked without the table.
struct Ready {
    /// The statement as written (what a paging token belongs to).
    text: String,
    statement: Statement,
    params: Vec<AttributeValue>,
    consistent_read: bool,
    /// `ReturnValuesOnConditionCheckFailure = ALL_OLD`.
    return_old: bool,
}

/// The violation of a statement's text at `field`, if it has one.
fn statement_violation(text: Option<&str>, field: &str) -> Option<String> {
    match text {
        None => Some(format!(
            "Value null at '{field}' failed to satisfy constraint: Member must not be null"
        )),
        Some("") => Some(format!(
            "Value '' at '{field}' failed to satisfy constraint: Member must have length greater than or equal to 1"
        )),
        Some(s) if s.len() > PARTIQL_STATEMENT_BYTES_MAX => Some(format!(
            "Value '{s}' at '{field}' failed to satisfy constraint: Member must have length less than or equal to {PARTIQL_STATEMENT_BYTES_MAX}"
        )),
        Some(_) => None,
    }
}

/// An empty `Parameters` list of the statement whose members are under `member`.
fn empty_parameters(member: &str) -> Error {
    constraint(format!(
        "Value '[]' at '{member}parameters' failed to satisfy constraint: Member must have length greater than or equal to 1"
    ))
}

/// DynamoDB's one-constraint validation message.
fn constraint(detail: impl std::fmt::Display) -> Error {
    Error::validation(format!("1 validation error detected: {detail}"))
}

/// `EXISTS(...)` is a condition of a transaction's writes and nothing by itself.
fn exists_outside_transaction() -> ApiError {
    Error::validation("EXISTS can only be used in ExecuteTransaction write requests.").into()
}

/// An INSERT's condition failed: the key exists.
fn duplicate(e: ApiError) -> ApiError {
    match e {
        ApiError::Engine(Error::ConditionalCheckFailed { .. }) => ApiError::DuplicateItem,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use bytes::Bytes;

    use super::batch::{BatchExecuteRequest, ExecuteTransactionRequest};
    use super::statement::ExecuteStatementRequest;
    use crate::dynamodb::request::{NamesTables, parse_gated};
    use crate::error::ApiError;

    /// The tables a request names, as a function's grant sees them.
    fn named<T: for<'a> serde::Deserialize<'a> + NamesTables>(body: &str) -> Vec<String> {
        let seen = Mutex::new(Vec::new());
        let gate = |request: &dyn NamesTables| -> Result<(), ApiError> {
            seen.lock()
                .unwrap()
                .extend(request.tables().iter().map(|t| t.to_string()));
            Ok(())
        };
        let body = Bytes::from(body.to_owned());
        let _: T = parse_gated(&body, Some(&gate)).unwrap_or_else(|_| panic!("{body:?}"));
        seen.into_inner().unwrap()
    }

    #[test]
    fn a_grant_sees_the_tables_the_statements_name() {
        assert_eq!(
            named::<ExecuteStatementRequest>(
                r#"{"Statement": "SELECT * FROM \"users\".\"by_email\" WHERE email = ?"}"#
            ),
            ["users"]
        );
        assert_eq!(
            named::<BatchExecuteRequest>(
                r#"{"Statements": [{"Statement": "DELETE FROM audit WHERE pk = 'a'"}, {"Statement": "not parsed"}, {"Statement": "INSERT INTO \"users\" VALUE {'pk': 'a'}"}]}"#
            ),
            ["audit", "users"]
        );
        assert_eq!(
            named::<ExecuteTransactionRequest>(
                r#"{"TransactStatements": [{"Statement": "UPDATE secret SET a = 1 WHERE pk = 'a'"}]}"#
            ),
            ["secret"]
        );
    }
}
