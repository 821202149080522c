//! `ExecuteStatement`: one statement, a page of a read (with `Limit` and
//! `NextToken`) or one write.
//!
//! Owns its request shape and the paging token. Must not know how a statement is
//! lowered.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as TOKEN_BASE64;
use eddy_engine::capacity::Consumed;
use eddy_engine::limits::PAGE_BYTES_MAX;
use eddy_engine::limits::PARTIQL_NEXT_TOKEN_CHARS_MAX;
use eddy_engine::partiql::Lowered;
use eddy_engine::partiql::ast::Statement;
use eddy_engine::{
    Engine, Error, IndexKind, Item, Page, QueryInput, ReturnValues, StoredItem, WriteOutput,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ParsedStatement, RawStatement, Ready, duplicate, exists_outside_transaction};
use crate::dynamodb::access::AccessResult;
use crate::dynamodb::capacity::{self, Detail, Split};
use crate::dynamodb::request::{NamesTables, blocking, json_bytes, write};
use crate::dynamodb::violations::Violations;
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

    fn accesses(&self, _op: &str, engine: &Engine) -> AccessResult {
        Ok(vec![self.statement.access(engine)])
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
    v.return_consumed_capacity(r.return_consumed_capacity.as_deref());
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
    let resume = r
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
    let detail = Detail::of(r.return_consumed_capacity.as_deref());
    let (mut body, consumed) = match lowered {
        Lowered::Query(mut q) => {
            q.limit = limit;
            q.consistent_read = consistent_read;
            q.exclusive_start_key = resume.map(Resume::single).transpose()?;
            let engine = engine.clone();
            blocking(move || {
                let page = engine.query(&q)?;
                Ok((read_output(&page, &text)?, page.consumed))
            })
            .await?
        }
        Lowered::Scan(mut s) => {
            s.limit = limit;
            s.consistent_read = consistent_read;
            s.exclusive_start_key = resume.map(Resume::single).transpose()?;
            let engine = engine.clone();
            blocking(move || {
                let page = engine.scan(&s)?;
                Ok((read_output(&page, &text)?, page.consumed))
            })
            .await?
        }
        Lowered::Queries(qs) => {
            let engine = engine.clone();
            blocking(move || run_queries(&engine, qs, limit, consistent_read, resume, &text))
                .await?
        }
        Lowered::Insert(mut put) => {
            put.return_old_on_condition_failure = return_old;
            let out = write(|done| engine.put_item(put, done))
                .await
                .map_err(duplicate)?;
            (write_response(None), out.consumed)
        }
        Lowered::Update(mut u) => {
            u.return_old_on_condition_failure = return_old;
            let returns = u.return_values != ReturnValues::None;
            let mut out = write(|done| engine.update_item(u, done)).await?;
            let consumed = std::mem::take(&mut out.consumed);
            (write_response(returns.then_some(out)), consumed)
        }
        Lowered::Delete(mut d) => {
            d.return_old_on_condition_failure = return_old;
            let returns = d.return_values != ReturnValues::None;
            let mut out = write(|done| engine.delete_item(d, done)).await?;
            let consumed = std::mem::take(&mut out.consumed);
            (write_response(returns.then_some(out)), consumed)
        }
        Lowered::ConditionCheck(_) => return Err(exists_outside_transaction()),
    };
    // ExecuteStatement answers the total alone, as the JSON API's single operations
    // do (dynamodb-conformance's captures).
    capacity::append(&mut body, capacity::object(&consumed, detail, Split::No));
    Ok(body)
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

/// A SELECT on several partitions: its Queries run one after the other as one read,
/// `Limit` counting the items read by all of them, and a page ending after the 1 MB a
/// Query page reads (a Query stops at it by itself; several together stop at the end
/// of the Query that passes it). The token names the Query to go on with, and its
/// start key if it stopped inside it.
fn run_queries(
    engine: &Engine,
    queries: Vec<QueryInput>,
    limit: Option<usize>,
    consistent_read: bool,
    resume: Option<Resume>,
    statement: &str,
) -> Result<(Vec<u8>, Consumed), ApiError> {
    // What every Query of the read consumed together.
    let mut consumed = Consumed::default();
    let Resume {
        query: first,
        key: mut start,
    } = resume.unwrap_or_default();
    if first >= queries.len() {
        return Err(invalid_token());
    }
    let count = queries.len();
    let mut items: Vec<StoredItem> = Vec::new();
    let mut bytes = 0usize;
    let mut remaining = limit;
    for (at, mut q) in queries.into_iter().enumerate().skip(first) {
        q.limit = remaining;
        q.consistent_read = consistent_read;
        q.exclusive_start_key = start.take();
        let page = engine.query(&q)?;
        if consumed.table.is_empty() {
            consumed.table.clone_from(&page.consumed.table);
        }
        consumed.absorb(&page.consumed);
        bytes += page
            .items
            .iter()
            .map(StoredItem::encoded_len)
            .sum::<usize>();
        items.extend(page.items);
        if let Some(key) = page.last_evaluated_key {
            let resume = Resume {
                query: at,
                key: Some(key),
            };
            return Ok((output(&items, Some(&resume), statement)?, consumed));
        }
        if let Some(r) = &mut remaining {
            *r = r.saturating_sub(page.scanned_count);
        }
        let full = remaining == Some(0) || bytes >= PAGE_BYTES_MAX;
        if full && at + 1 < count {
            let resume = Resume {
                query: at + 1,
                key: None,
            };
            return Ok((output(&items, Some(&resume), statement)?, consumed));
        }
    }
    Ok((output(&items, None, statement)?, consumed))
}

/// A read's page: `Items`, and while more follow, `NextToken` and `LastEvaluatedKey`.
fn read_output(page: &Page, statement: &str) -> Result<Vec<u8>, ApiError> {
    let resume = page.last_evaluated_key.clone().map(|key| Resume {
        query: 0,
        key: Some(key),
    });
    output(&page.items, resume.as_ref(), statement)
}

/// `Items`, and while more follow, `NextToken` (and `LastEvaluatedKey` when the read
/// stopped inside a Query or Scan rather than between two Queries).
fn output(
    items: &[StoredItem],
    resume: Option<&Resume>,
    statement: &str,
) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(32 + stored::json_len_hint(items));
    out.extend_from_slice(br#"{"Items":"#);
    stored::write_items(&mut out, items)?;
    if let Some(resume) = resume {
        if let Some(key) = &resume.key {
            out.extend_from_slice(br#","LastEvaluatedKey":"#);
            let _ = serde_json::to_writer(&mut out, &WireOut(key));
        }
        out.extend_from_slice(br#","NextToken":"#);
        let _ = serde_json::to_writer(&mut out, &encode_token(resume, statement));
    }
    out.push(b'}');
    Ok(out)
}

/// Where a read goes on: the Query of a several-partition SELECT (0 for any other
/// read), and the key it starts after (`None`: that Query's start).
#[derive(Default)]
struct Resume {
    query: usize,
    key: Option<Item>,
}

impl Resume {
    /// The start key of a read that is one Query or Scan.
    fn single(self) -> Result<Item, ApiError> {
        match self {
            Resume {
                query: 0,
                key: Some(key),
            } => Ok(key),
            _ => Err(invalid_token()),
        }
    }
}

fn invalid_token() -> ApiError {
    ApiError::Engine(Error::validation("Invalid NextToken"))
}

/// The statement a token belongs to, as a short fingerprint: a token is refused for
/// another statement, as DynamoDB refuses it.
fn fingerprint(statement: &str) -> String {
    format!("{:016x}", eddy_engine::hash::fnv1a_64(statement.as_bytes()))
}

/// `NextToken`: where the read goes on and the statement's fingerprint, opaque to the
/// client (base64 of JSON).
fn encode_token(resume: &Resume, statement: &str) -> String {
    let mut body = json!({ "s": fingerprint(statement) });
    if let Some(key) = &resume.key {
        body["k"] = json!(WireOut(key));
    }
    if resume.query > 0 {
        body["q"] = json!(resume.query);
    }
    TOKEN_BASE64.encode(body.to_string())
}

fn decode_token(token: &str, statement: &str) -> Result<Resume, ApiError> {
    let bytes = TOKEN_BASE64.decode(token).map_err(|_| invalid_token())?;
    #[derive(Deserialize)]
    struct Token {
        s: String,
        k: Option<WireItem>,
        #[serde(default)]
        q: usize,
    }
    let t: Token = serde_json::from_slice(&bytes).map_err(|_| invalid_token())?;
    if t.s != fingerprint(statement) {
        return Err(Error::validation("NextToken does not match request").into());
    }
    let key =
        t.k.map(into_item)
            .transpose()
            .map_err(|_| invalid_token())?;
    Ok(Resume { query: t.q, key })
}
