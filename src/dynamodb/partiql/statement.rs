//! `ExecuteStatement`: one statement, a page of a read (with `Limit` and
//! `NextToken`) or one write.
//!
//! Owns its request shape and the paging token. Must not know how a statement is
//! lowered.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as TOKEN_BASE64;
use eddy_engine::limits::PARTIQL_NEXT_TOKEN_CHARS_MAX;
use eddy_engine::partiql::Lowered;
use eddy_engine::partiql::ast::Statement;
use eddy_engine::{Engine, Error, IndexKind, Item, Page, ReturnValues, WriteOutput};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ParsedStatement, RawStatement, Ready, duplicate, exists_outside_transaction};
use crate::dynamodb::request::{NamesTables, blocking, json_bytes, write};
use crate::dynamodb::violations::{RETURN_CONSUMED_CAPACITY, Violations};
use crate::error::ApiError;
use crate::wire::input::{WireItem, into_item};
use crate::wire::{WireOut, stored};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawExecute {
    #[serde(flatten)]
    statement: RawStatement,
    next_token: Option<String>,
    limit: Option<i64>,
    return_consumed_capacity: Option<String>,
}

#[derive(Deserialize)]
#[serde(from = "RawExecute")]
pub(in crate::dynamodb) struct ExecuteStatementRequest {
    statement: ParsedStatement,
    next_token: Option<String>,
    limit: Option<i64>,
    return_consumed_capacity: Option<String>,
}

impl From<RawExecute> for ExecuteStatementRequest {
    fn from(r: RawExecute) -> Self {
        ExecuteStatementRequest {
            statement: ParsedStatement::read(r.statement, String::new()),
            next_token: r.next_token,
            limit: r.limit,
            return_consumed_capacity: r.return_consumed_capacity,
        }
    }
}

impl NamesTables for ExecuteStatementRequest {
    fn tables(&self) -> Vec<&str> {
        self.statement.table().into_iter().collect()
    }
}

pub(in crate::dynamodb) async fn execute_statement(
    engine: &Engine,
    r: ExecuteStatementRequest,
) -> Result<Vec<u8>, ApiError> {
    // DynamoDB's first pass over the request's members, reported together in its
    // model's member order.
    let mut v = Violations::new();
    r.statement.check_members(&mut v);
    if let Some(t) = &r.next_token {
        v.length(Some(t), "nextToken", 1, PARTIQL_NEXT_TOKEN_CHARS_MAX);
    }
    v.one_of(
        r.return_consumed_capacity.as_deref(),
        "returnConsumedCapacity",
        RETURN_CONSUMED_CAPACITY,
    );
    v.range(r.limit, "limit", 1, i64::MAX);
    v.finish()?;
    let limit = r.limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX));
    let Ready {
        text,
        statement,
        params,
        consistent_read,
        return_old,
    } = r.statement.ready()?;
    let start_key = r
        .next_token
        .as_deref()
        .map(|t| decode_token(t, &text))
        .transpose()?;
    let lowered = engine.lower_partiql(&statement, &params)?;
    if let Statement::Select(select) = &statement
        && consistent_read
        && let Some(index) = &select.index
    {
        check_consistent_index(engine, &select.table, index)?;
    }
    match lowered {
        Lowered::Query(mut q) => {
            q.limit = limit;
            q.consistent_read = consistent_read;
            q.exclusive_start_key = start_key;
            let engine = engine.clone();
            blocking(move || read_output(&engine.query(&q)?, &text)).await
        }
        Lowered::Scan(mut s) => {
            s.limit = limit;
            s.consistent_read = consistent_read;
            s.exclusive_start_key = start_key;
            let engine = engine.clone();
            blocking(move || read_output(&engine.scan(&s)?, &text)).await
        }
        Lowered::Insert(mut put) => {
            put.return_old_on_condition_failure = return_old;
            write(|done| engine.put_item(put, done))
                .await
                .map_err(duplicate)?;
            Ok(write_response(None))
        }
        Lowered::Update(mut u) => {
            u.return_old_on_condition_failure = return_old;
            let returns = u.return_values != ReturnValues::None;
            let out = write(|done| engine.update_item(u, done)).await?;
            Ok(write_response(returns.then_some(out)))
        }
        Lowered::Delete(mut d) => {
            d.return_old_on_condition_failure = return_old;
            let returns = d.return_values != ReturnValues::None;
            let out = write(|done| engine.delete_item(d, done)).await?;
            Ok(write_response(returns.then_some(out)))
        }
        Lowered::ConditionCheck(_) => Err(exists_outside_transaction()),
    }
}

/// A strongly consistent read of a global index is refused, in the words of
/// DynamoDB's PartiQL front end (the JSON API's Query words it differently).
fn check_consistent_index(engine: &Engine, table: &str, index: &str) -> Result<(), ApiError> {
    let global = engine
        .table_def(table)?
        .indexes
        .iter()
        .any(|i| i.name == index && i.kind == IndexKind::Global);
    if global {
        return Err(Error::validation(
            "Strongly consistent read is not supported on Global Secondary Indexes",
        )
        .into());
    }
    Ok(())
}

/// A write answers `{"Items": []}`; with `RETURNING`, the item it returned.
fn write_response(out: Option<WriteOutput>) -> Vec<u8> {
    let items: Vec<Value> = out
        .and_then(|o| o.attributes)
        .map(|item| serde_json::to_value(WireOut(&item)).unwrap_or_default())
        .into_iter()
        .collect();
    json_bytes(&json!({ "Items": items }))
}

/// A read's page: `Items`, and while more follow, `NextToken` and `LastEvaluatedKey`.
fn read_output(page: &Page, statement: &str) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(32 + stored::json_len_hint(&page.items));
    out.extend_from_slice(br#"{"Items":"#);
    stored::write_items(&mut out, &page.items)?;
    if let Some(key) = &page.last_evaluated_key {
        out.extend_from_slice(br#","LastEvaluatedKey":"#);
        let _ = serde_json::to_writer(&mut out, &WireOut(key));
        out.extend_from_slice(br#","NextToken":"#);
        let _ = serde_json::to_writer(&mut out, &encode_token(key, statement));
    }
    out.push(b'}');
    Ok(out)
}

/// The statement a token belongs to, as a short fingerprint: a token is refused for
/// another statement, as DynamoDB refuses it.
fn fingerprint(statement: &str) -> String {
    format!("{:016x}", eddy_engine::hash::fnv1a_64(statement.as_bytes()))
}

/// `NextToken`: the page's last key and the statement's fingerprint, opaque to the
/// client (base64 of JSON).
fn encode_token(key: &Item, statement: &str) -> String {
    let body = json!({ "s": fingerprint(statement), "k": WireOut(key) });
    TOKEN_BASE64.encode(body.to_string())
}

fn decode_token(token: &str, statement: &str) -> Result<Item, ApiError> {
    let invalid = || ApiError::Engine(Error::validation("Invalid NextToken"));
    let bytes = TOKEN_BASE64.decode(token).map_err(|_| invalid())?;
    #[derive(Deserialize)]
    struct Token {
        s: String,
        k: WireItem,
    }
    let t: Token = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if t.s != fingerprint(statement) {
        return Err(Error::validation("NextToken does not match request").into());
    }
    into_item(t.k).map_err(|_| invalid())
}
