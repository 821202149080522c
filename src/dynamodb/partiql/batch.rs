//! `BatchExecuteStatement` (up to 25 statements, each with its own result or error,
//! all reads by full key or all writes) and `ExecuteTransaction` (up to 100
//! statements run as one TransactGetItems or TransactWriteItems).
//!
//! Owns their request shapes and responses. Must not know how a statement is lowered
//! or how the engine commits a transaction.

use eddy_engine::capacity::Consumed;
use eddy_engine::capacity::units::merge_by_table;
use eddy_engine::limits::{PARTIQL_BATCH_STATEMENTS_MAX, PARTIQL_TRANSACTION_STATEMENTS_MAX};
use eddy_engine::partiql::ast::Statement;
use eddy_engine::partiql::{Lowered, lower_get, names_full_key};
use eddy_engine::{
    AttributeValue, CancellationReason, Engine, Error, GetItemInput, Item, TransactWriteAction,
    TransactWriteInput,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{
    ParsedStatement, RawStatement, Ready, constraint, duplicate, exists_outside_transaction,
};
use crate::dynamodb::access::AccessResult;
use crate::dynamodb::capacity::{self, Detail, Split};
use crate::dynamodb::request::{NamesTables, blocking, json_bytes, write};
use crate::dynamodb::violations::Violations;
use crate::error::ApiError;

/// DynamoDB's bounds on a `ClientRequestToken`, in characters.
const CLIENT_REQUEST_TOKEN_CHARS_MIN: usize = 1;
const CLIENT_REQUEST_TOKEN_CHARS_MAX: usize = 36;
use crate::wire::WireOut;

/// Reads a request's statements, checking their count first.
fn read_statements(
    raw: Option<Vec<RawStatement>>,
    field: &str,
    max: usize,
) -> Result<Vec<ParsedStatement>, Error> {
    let raw = raw.ok_or_else(|| {
        constraint(format!(
            "Value null at '{field}' failed to satisfy constraint: Member must not be null"
        ))
    })?;
    if raw.is_empty() {
        // An empty list prints as `[]`, as DynamoDB prints every empty list member.
        return Err(constraint(format!(
            "Value '[]' at '{field}' failed to satisfy constraint: Member must have length greater than or equal to 1"
        )));
    }
    if raw.len() > max {
        // DynamoDB prints its own objects for the list here; the message leaves them out.
        return Err(constraint(format!(
            "Value at '{field}' failed to satisfy constraint: Member must have length less than or equal to {max}"
        )));
    }
    // DynamoDB names a member of a list by its 1-based position.
    Ok(raw
        .into_iter()
        .enumerate()
        .map(|(i, s)| ParsedStatement::read(s, format!("{field}.{}.member.", i + 1)))
        .collect())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawBatch {
    statements: Option<Vec<RawStatement>>,
    return_consumed_capacity: Option<String>,
}

#[derive(Deserialize)]
#[serde(from = "RawBatch")]
pub(in crate::dynamodb) struct BatchExecuteRequest {
    statements: Result<Vec<ParsedStatement>, Error>,
    return_consumed_capacity: Option<String>,
}

impl From<RawBatch> for BatchExecuteRequest {
    fn from(r: RawBatch) -> Self {
        BatchExecuteRequest {
            statements: read_statements(r.statements, "statements", PARTIQL_BATCH_STATEMENTS_MAX),
            return_consumed_capacity: r.return_consumed_capacity,
        }
    }
}

impl NamesTables for BatchExecuteRequest {
    fn tables(&self) -> Vec<&str> {
        self.statements
            .iter()
            .flatten()
            .filter_map(ParsedStatement::table)
            .collect()
    }

    fn accesses(&self, _op: &str, engine: &Engine) -> AccessResult {
        Ok(self
            .statements
            .iter()
            .flatten()
            .map(|s| s.access(engine))
            .collect())
    }
}

/// A batch statement's error code: the exception's name as `BatchStatementError`
/// spells it (`ConditionalCheckFailed`, `DuplicateItem`, `ValidationError`, …).
fn batch_error(e: &ApiError) -> Value {
    let (code, message) = e.code_and_message();
    let code = match code.strip_suffix("Exception").unwrap_or(&code) {
        "Validation" => "ValidationError".to_owned(),
        "ServiceUnavailable" => "InternalServerError".to_owned(),
        "Throttling" => "ThrottlingError".to_owned(),
        other => other.to_owned(),
    };
    let mut error = json!({ "Code": code, "Message": message });
    if let ApiError::Engine(Error::ConditionalCheckFailed { item: Some(item) }) = e {
        error["Item"] = serde_json::to_value(WireOut(item)).unwrap_or_default();
    }
    error
}

pub(in crate::dynamodb) async fn batch_execute_statement(
    engine: &Engine,
    r: BatchExecuteRequest,
) -> Result<Vec<u8>, ApiError> {
    let statements = r.statements?;
    // A statement's member constraints are the request's, checked before any statement
    // runs (as for every list member of DynamoDB's requests, e.g. TransactGetItems's);
    // only what a statement means is answered for it alone. Not confirmed against
    // BatchExecuteStatement itself.
    let mut v = Violations::new();
    for s in &statements {
        s.check_members(&mut v);
    }
    v.return_consumed_capacity(r.return_consumed_capacity.as_deref());
    v.finish()?;
    let reads = statements
        .iter()
        .filter(|s| matches!(&s.parsed, Ok(p) if p.is_select()))
        .count();
    let writes = statements
        .iter()
        .filter(|s| matches!(&s.parsed, Ok(p) if !p.is_select()))
        .count();
    if reads > 0 && writes > 0 {
        // DynamoDB documents the rule; its message here is not confirmed, so it is
        // worded as ExecuteTransaction's recorded message for the same rule.
        return Err(Error::validation(
            "BatchExecuteStatement API does not support both read and write operations in the same request.",
        )
        .into());
    }
    let detail = Detail::of(r.return_consumed_capacity.as_deref());
    let mut consumed = Vec::new();
    let mut responses = Vec::with_capacity(statements.len());
    for s in statements {
        let table = s.table().map(str::to_owned);
        let mut response = Map::new();
        if let Some(t) = &table {
            response.insert("TableName".into(), json!(t));
        }
        match batch_one(engine, s).await {
            Ok((item, c)) => {
                merge_by_table(&mut consumed, &c);
                if let Some(item) = item {
                    response.insert(
                        "Item".into(),
                        serde_json::to_value(WireOut(&item)).unwrap_or_default(),
                    );
                }
            }
            Err(e) => {
                response.insert("Error".into(), batch_error(&e));
            }
        }
        responses.push(Value::Object(response));
    }
    // One entry per table, the total alone (an assumption: DynamoDB's split into read
    // and write units is confirmed for the transactions only).
    let mut body = json_bytes(&json!({ "Responses": responses }));
    capacity::append(&mut body, capacity::list(&consumed, detail, Split::No));
    Ok(body)
}

/// Runs one statement of a batch: a read gives the item it found; either gives what it
/// consumed.
async fn batch_one(
    engine: &Engine,
    s: ParsedStatement,
) -> Result<(Option<Item>, Consumed), ApiError> {
    let Ready {
        statement: stmt,
        params,
        consistent_read,
        return_old,
        ..
    } = s.ready()?;
    if let Statement::Select(select) = &stmt
        && !names_full_key(select, &params, &engine.table_def(select.table.as_str())?)?
    {
        return Err(Error::validation(
            "Select statements within BatchExecuteStatement must specify the primary key in the where clause.",
        )
        .into());
    }
    match engine.lower_partiql(&stmt, &params)? {
        Lowered::Query(mut q) => {
            q.consistent_read = consistent_read;
            let engine = engine.clone();
            blocking(move || {
                let page = engine.query(&q)?;
                let item = page.items.first().map(|i| i.decode()).transpose()?;
                Ok((item, page.consumed))
            })
            .await
        }
        // A read that names the whole key is always one Query.
        Lowered::Scan(_) | Lowered::Queries(_) => {
            Err(Error::Internal("a batch read became a Scan or several Queries".into()).into())
        }
        Lowered::Insert(mut put) => {
            put.return_old_on_condition_failure = return_old;
            let out = write(|done| engine.put_item(put, done))
                .await
                .map_err(duplicate)?;
            Ok((None, out.consumed))
        }
        Lowered::Update(mut u) => {
            u.return_old_on_condition_failure = return_old;
            let out = write(|done| engine.update_item(u, done)).await?;
            Ok((None, out.consumed))
        }
        Lowered::Delete(mut d) => {
            d.return_old_on_condition_failure = return_old;
            let out = write(|done| engine.delete_item(d, done)).await?;
            Ok((None, out.consumed))
        }
        Lowered::ConditionCheck(_) => Err(exists_outside_transaction()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawTransaction {
    transact_statements: Option<Vec<RawStatement>>,
    client_request_token: Option<String>,
    return_consumed_capacity: Option<String>,
}

#[derive(Deserialize)]
#[serde(from = "RawTransaction")]
pub(in crate::dynamodb) struct ExecuteTransactionRequest {
    statements: Result<Vec<ParsedStatement>, Error>,
    client_request_token: Option<String>,
    return_consumed_capacity: Option<String>,
}

impl From<RawTransaction> for ExecuteTransactionRequest {
    fn from(r: RawTransaction) -> Self {
        ExecuteTransactionRequest {
            statements: read_statements(
                r.transact_statements,
                "transactStatements",
                PARTIQL_TRANSACTION_STATEMENTS_MAX,
            ),
            client_request_token: r.client_request_token,
            return_consumed_capacity: r.return_consumed_capacity,
        }
    }
}

impl NamesTables for ExecuteTransactionRequest {
    fn tables(&self) -> Vec<&str> {
        self.statements
            .iter()
            .flatten()
            .filter_map(ParsedStatement::table)
            .collect()
    }

    fn accesses(&self, _op: &str, engine: &Engine) -> AccessResult {
        Ok(self
            .statements
            .iter()
            .flatten()
            .map(|s| s.access(engine))
            .collect())
    }
}

pub(in crate::dynamodb) async fn execute_transaction(
    engine: &Engine,
    r: ExecuteTransactionRequest,
) -> Result<Vec<u8>, ApiError> {
    let statements = r.statements?;
    // The statements' member constraints, then the token's (the engine checks a write
    // transaction's token; a read transaction has the same member, with the same
    // bounds) and the capacity flag, reported together before anything runs.
    let mut v = Violations::new();
    for s in &statements {
        s.check_members(&mut v);
    }
    v.length(
        r.client_request_token.as_deref(),
        "clientRequestToken",
        CLIENT_REQUEST_TOKEN_CHARS_MIN,
        CLIENT_REQUEST_TOKEN_CHARS_MAX,
    );
    v.return_consumed_capacity(r.return_consumed_capacity.as_deref());
    v.finish()?;
    let detail = Detail::of(r.return_consumed_capacity.as_deref());
    // A transaction is all reads or all writes; any statement that does not parse
    // fails the whole request.
    let mut parsed = Vec::new();
    for s in statements {
        let ready = s.ready()?;
        parsed.push((ready.statement, ready.params, ready.return_old));
    }
    let reads = parsed.iter().filter(|(s, _, _)| s.is_select()).count();
    if reads > 0 && reads < parsed.len() {
        return Err(Error::validation(
            "ExecuteTransaction API does not support both read and write operations in the same request.",
        )
        .into());
    }
    if reads > 0 {
        let gets = parsed
            .iter()
            .map(|(stmt, params, _)| transaction_get(engine, stmt, params))
            .collect::<Result<Vec<_>, _>>()?;
        let engine = engine.clone();
        return blocking(move || {
            let (items, consumed) = engine.transact_get_items(&gets)?;
            let responses: Vec<Value> = items
                .iter()
                .map(|item| match item {
                    Some(item) => json!({ "Item": WireOut(item) }),
                    None => json!({}),
                })
                .collect();
            let mut body = json_bytes(&json!({ "Responses": responses }));
            capacity::append(
                &mut body,
                capacity::list(&consumed, detail, Split::ReadWrite),
            );
            Ok(body)
        })
        .await;
    }
    let mut actions = Vec::with_capacity(parsed.len());
    let mut inserts = Vec::with_capacity(parsed.len());
    for (stmt, params, return_old) in &parsed {
        let action = match engine.lower_partiql(stmt, params)? {
            Lowered::Insert(mut put) => {
                put.return_old_on_condition_failure = *return_old;
                TransactWriteAction::Put(put)
            }
            Lowered::Update(mut u) => {
                if u.return_values != eddy_engine::ReturnValues::None {
                    return Err(returning_refused());
                }
                u.return_old_on_condition_failure = *return_old;
                TransactWriteAction::Update(u)
            }
            Lowered::Delete(mut d) => {
                if d.return_values != eddy_engine::ReturnValues::None {
                    return Err(returning_refused());
                }
                d.return_old_on_condition_failure = *return_old;
                TransactWriteAction::Delete(d)
            }
            Lowered::ConditionCheck(mut c) => {
                c.return_old_on_condition_failure = *return_old;
                TransactWriteAction::ConditionCheck(c)
            }
            Lowered::Query(_) | Lowered::Scan(_) | Lowered::Queries(_) => {
                return Err(Error::Internal("a transaction write became a read".into()).into());
            }
        };
        inserts.push(matches!(action, TransactWriteAction::Put(_)));
        actions.push(action);
    }
    let input = TransactWriteInput {
        actions,
        client_request_token: r.client_request_token,
    };
    match write(|done| engine.transact_write_items(input, done)).await {
        Ok(consumed) => {
            let mut body = b"{}".to_vec();
            capacity::append(
                &mut body,
                capacity::list(&consumed, detail, Split::ReadWrite),
            );
            Ok(body)
        }
        Err(ApiError::Engine(Error::TransactionCanceled { reasons })) => {
            Err(Error::TransactionCanceled {
                reasons: duplicate_reasons(reasons, &inserts),
            }
            .into())
        }
        Err(e) => Err(e),
    }
}

/// An INSERT whose condition failed found its key taken: DynamoDB Local reports
/// that reason as `ValidationError` with the duplicate-key message (the service's
/// own answer here is not confirmed).
fn duplicate_reasons(
    reasons: Vec<CancellationReason>,
    inserts: &[bool],
) -> Vec<CancellationReason> {
    reasons
        .into_iter()
        .zip(inserts.iter().chain(std::iter::repeat(&false)))
        .map(|(r, insert)| match r {
            CancellationReason::ConditionalCheckFailed { .. } if *insert => {
                CancellationReason::ValidationError(crate::error::DUPLICATE_ITEM_MESSAGE.into())
            }
            other => other,
        })
        .collect()
}

/// `RETURNING` cannot be used in a transaction (recorded against DynamoDB Local; its
/// message there is not confirmed).
fn returning_refused() -> ApiError {
    Error::validation("Unsupported clause: RETURNING is not supported in ExecuteTransaction").into()
}

/// A transaction's read: a SELECT of the table (no index) that names the whole key.
fn transaction_get(
    engine: &Engine,
    stmt: &Statement,
    params: &[AttributeValue],
) -> Result<GetItemInput, ApiError> {
    let Statement::Select(select) = stmt else {
        return Err(Error::Internal("a transaction read is not a SELECT".into()).into());
    };
    if select.index.is_some() {
        return Err(
            Error::validation("Reads on indices are not supported within transactions.").into(),
        );
    }
    let def = engine.table_def(&select.table)?;
    lower_get(select, params, &def)?.ok_or_else(|| {
        Error::validation(
            "Select statements within ExecuteTransaction must specify the primary key in the where clause.",
        )
        .into()
    })
}
