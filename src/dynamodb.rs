//! The DynamoDB JSON 1.0 operations: each reads its request shape, calls the engine,
//! and writes DynamoDB's response shape. Nothing here decides DynamoDB semantics; it
//! only translates between the wire and the engine's typed API.

use std::collections::HashMap;

use bytes::Bytes;
use eddy_engine::{
    BatchGetTable, BatchWriteRequest, BillingMode, ConditionCheckInput, CreateTableInput,
    DeleteItemInput, Done, Engine, Error, ExpressionAttributes, GetItemInput, IndexBuild,
    IndexInput, IndexKind, IndexProjection, IndexUpdate, KeyAttribute, KeyRole, KeySchema, KeyType,
    Page, PutItemInput, QueryInput, ReturnValues, ScanInput, Select, StreamSpecification,
    StreamViewType, TableDescription, TableStatus, Throughput, TransactWriteAction,
    TransactWriteInput, UpdateItemInput, UpdateTableInput, WriteOutput, key_type_descriptor,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::legacy::{self, WireAttributeUpdate, WireCondition, WireExpected};
use crate::wire::input::{WireItem, WireValue, into_item, into_values};
use crate::wire::{WireItems, WireOut, stored};

/// Runs one DynamoDB operation on a request body and returns the response body.
pub async fn dispatch(engine: &Engine, op: &str, body: &Bytes) -> Result<Vec<u8>, ApiError> {
    match op {
        "PutItem" => put_item(engine, parse(body)?).await,
        "GetItem" => get_item(engine, parse(body)?),
        "DeleteItem" => delete_item(engine, parse(body)?).await,
        "UpdateItem" => update_item(engine, parse(body)?).await,
        "Query" => query(engine, parse(body)?),
        "Scan" => {
            let engine = engine.clone();
            let req = parse(body)?;
            blocking(move || scan(&engine, req)).await
        }
        "BatchGetItem" => {
            let engine = engine.clone();
            let req = parse(body)?;
            blocking(move || batch_get_item(&engine, req)).await
        }
        "BatchWriteItem" => batch_write_item(engine, parse(body)?).await,
        "TransactWriteItems" => transact_write_items(engine, parse(body)?).await,
        "TransactGetItems" => {
            let engine = engine.clone();
            let req = parse(body)?;
            blocking(move || transact_get_items(&engine, req)).await
        }
        // Catalog changes may wait for the writer (stream enable/disable).
        "CreateTable" => {
            let (engine, req) = (engine.clone(), parse(body)?);
            blocking(move || create_table(&engine, req)).await
        }
        "DescribeTable" => describe_table(engine, parse(body)?),
        "DeleteTable" => {
            let (engine, req) = (engine.clone(), parse(body)?);
            blocking(move || delete_table(&engine, req)).await
        }
        "ListTables" => list_tables(engine, parse(body)?),
        "UpdateTable" => {
            let (engine, req) = (engine.clone(), parse(body)?);
            blocking(move || update_table(&engine, req)).await
        }
        "UpdateTimeToLive" => {
            let (engine, req) = (engine.clone(), parse(body)?);
            blocking(move || update_time_to_live(&engine, req)).await
        }
        "DescribeTimeToLive" => describe_time_to_live(engine, parse(body)?),
        "TagResource" => tag_resource(engine, parse(body)?),
        "UntagResource" => untag_resource(engine, parse(body)?),
        "ListTagsOfResource" => list_tags(engine, parse(body)?),
        "DescribeLimits" => Ok(json_bytes(&json!({
            "AccountMaxReadCapacityUnits": 80000,
            "AccountMaxWriteCapacityUnits": 80000,
            "TableMaxReadCapacityUnits": 40000,
            "TableMaxWriteCapacityUnits": 40000,
        }))),
        "DescribeEndpoints" => Ok(json_bytes(&json!({
            "Endpoints": [{
                "Address": format!("dynamodb.{}.amazonaws.com", engine.config().region),
                "CachePeriodInMinutes": 1440,
            }]
        }))),
        _ => Err(ApiError::UnknownOperation),
    }
}

pub(crate) fn parse<'a, T: Deserialize<'a>>(body: &'a Bytes) -> Result<T, ApiError> {
    Ok(serde_json::from_slice(body)?)
}

pub(crate) fn json_bytes(v: &impl serde::Serialize) -> Vec<u8> {
    // Serializing our own response values cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

/// Runs blocking engine work (reads, scans) off the async workers. A panic in it is
/// raised again in the request's own task, where the edge answers DynamoDB's
/// `InternalServerError` and logs it with the operation and request id (the function
/// capability, which calls in from plain threads, catches it itself). A task the
/// runtime cancelled at shutdown is `ShuttingDown`.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    crate::blocking::run(f)
        .await
        .unwrap_or(Err(ApiError::Engine(Error::ShuttingDown)))
}

/// Bridges an engine write (completed by a callback on the writer thread) to async. The
/// writer answers every job, `ShuttingDown` included; a callback dropped unanswered
/// means the writer stopped in the middle of the job, so whether it was applied is
/// unknown: that is DynamoDB's retryable `InternalServerError`, never an answer that
/// claims the write did not happen.
async fn write<T: Send + 'static>(start: impl FnOnce(Done<T>)) -> Result<T, ApiError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    start(Box::new(move |r| {
        let _ = tx.send(r);
    }));
    match rx.await {
        Ok(r) => Ok(r?),
        Err(_) => Err(ApiError::Engine(Error::Internal(
            "the writer stopped before it answered this write; its outcome is unknown".into(),
        ))),
    }
}

fn expr_attrs(
    names: Option<HashMap<String, String>>,
    values: Option<HashMap<String, WireValue>>,
) -> Result<ExpressionAttributes, ApiError> {
    Ok(ExpressionAttributes {
        names,
        values: into_values(values)?,
    })
}

fn return_values(rv: Option<String>) -> Result<ReturnValues, ApiError> {
    Ok(rv
        .as_deref()
        .map(ReturnValues::parse)
        .transpose()?
        .unwrap_or_default())
}

fn return_old_on_failure(v: Option<String>) -> Result<bool, ApiError> {
    match v.as_deref() {
        None | Some("NONE") => Ok(false),
        Some("ALL_OLD") => Ok(true),
        Some(other) => Err(Error::validation(format!(
            "1 validation error detected: Value '{other}' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]"
        ))
        .into()),
    }
}

pub(crate) fn required<T>(v: Option<T>, field: &str) -> Result<T, ApiError> {
    v.ok_or_else(|| {
        Error::validation(format!(
            "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
        ))
        .into()
    })
}

fn write_output(out: WriteOutput) -> Vec<u8> {
    match out.attributes {
        Some(item) => item_response("Attributes", &item),
        None => b"{}".to_vec(),
    }
}

/// `{"<field>": <item>}`, serialized straight from the engine's values.
fn item_response(field: &'static str, item: &eddy_engine::Item) -> Vec<u8> {
    use serde::ser::SerializeMap;
    struct One<'a>(&'static str, WireOut<'a>);
    impl serde::Serialize for One<'_> {
        fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
            let mut m = ser.serialize_map(Some(1))?;
            m.serialize_entry(self.0, &self.1)?;
            m.end()
        }
    }
    json_bytes(&One(field, WireOut(item)))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutItemRequest {
    table_name: Option<String>,
    item: Option<WireItem>,
    condition_expression: Option<String>,
    return_values: Option<String>,
    return_values_on_condition_check_failure: Option<String>,
    expression_attribute_names: Option<HashMap<String, String>>,
    expression_attribute_values: Option<HashMap<String, WireValue>>,
    expected: Option<HashMap<String, WireExpected>>,
    conditional_operator: Option<String>,
}

/// The legacy `Expected` / `ConditionalOperator` of a write.
fn legacy_write(
    expected: Option<HashMap<String, WireExpected>>,
    op: Option<String>,
) -> Result<eddy_engine::LegacyWrite, ApiError> {
    Ok(eddy_engine::LegacyWrite {
        expected: legacy::expected(expected)?,
        conditional_operator: legacy::conditional_operator(op)?,
    })
}

async fn put_item(engine: &Engine, r: PutItemRequest) -> Result<Vec<u8>, ApiError> {
    let input = PutItemInput {
        table: required(r.table_name, "tableName")?,
        item: into_item(required(r.item, "item")?)?,
        condition: r.condition_expression,
        attributes: expr_attrs(r.expression_attribute_names, r.expression_attribute_values)?,
        return_values: return_values(r.return_values)?,
        return_old_on_condition_failure: return_old_on_failure(
            r.return_values_on_condition_check_failure,
        )?,
        legacy: legacy_write(r.expected, r.conditional_operator)?,
    };
    Ok(write_output(
        write(|done| engine.put_item(input, done)).await?,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyedRequest {
    table_name: Option<String>,
    key: Option<WireItem>,
    condition_expression: Option<String>,
    update_expression: Option<String>,
    projection_expression: Option<String>,
    return_values: Option<String>,
    return_values_on_condition_check_failure: Option<String>,
    expression_attribute_names: Option<HashMap<String, String>>,
    expression_attribute_values: Option<HashMap<String, WireValue>>,
    attributes_to_get: Option<Vec<String>>,
    expected: Option<HashMap<String, WireExpected>>,
    conditional_operator: Option<String>,
    attribute_updates: Option<HashMap<String, WireAttributeUpdate>>,
}

async fn delete_item(engine: &Engine, r: KeyedRequest) -> Result<Vec<u8>, ApiError> {
    let input = DeleteItemInput {
        table: required(r.table_name, "tableName")?,
        key: into_item(required(r.key, "key")?)?,
        condition: r.condition_expression,
        attributes: expr_attrs(r.expression_attribute_names, r.expression_attribute_values)?,
        return_values: return_values(r.return_values)?,
        return_old_on_condition_failure: return_old_on_failure(
            r.return_values_on_condition_check_failure,
        )?,
        legacy: legacy_write(r.expected, r.conditional_operator)?,
    };
    Ok(write_output(
        write(|done| engine.delete_item(input, done)).await?,
    ))
}

async fn update_item(engine: &Engine, r: KeyedRequest) -> Result<Vec<u8>, ApiError> {
    let input = UpdateItemInput {
        table: required(r.table_name, "tableName")?,
        key: into_item(required(r.key, "key")?)?,
        update: r.update_expression,
        condition: r.condition_expression,
        attributes: expr_attrs(r.expression_attribute_names, r.expression_attribute_values)?,
        return_values: return_values(r.return_values)?,
        return_old_on_condition_failure: return_old_on_failure(
            r.return_values_on_condition_check_failure,
        )?,
        legacy: legacy_write(r.expected, r.conditional_operator)?,
        attribute_updates: legacy::attribute_updates(r.attribute_updates)?,
    };
    Ok(write_output(
        write(|done| engine.update_item(input, done)).await?,
    ))
}

fn get_item(engine: &Engine, r: KeyedRequest) -> Result<Vec<u8>, ApiError> {
    let input = GetItemInput {
        table: required(r.table_name, "tableName")?,
        key: into_item(required(r.key, "key")?)?,
        projection: r.projection_expression,
        attributes: expr_attrs(r.expression_attribute_names, r.expression_attribute_values)?,
        attributes_to_get: r.attributes_to_get,
    };
    match engine.get_item_stored(&input)? {
        Some(item) => {
            let mut out =
                Vec::with_capacity(16 + stored::json_len_hint(std::slice::from_ref(&item)));
            out.extend_from_slice(br#"{"Item":"#);
            stored::write_item(&mut out, &item)?;
            out.push(b'}');
            Ok(out)
        }
        None => Ok(b"{}".to_vec()),
    }
}

fn select(s: Option<String>) -> Result<Option<Select>, ApiError> {
    s.map(|s| {
        Ok(match s.as_str() {
            "ALL_ATTRIBUTES" => Select::AllAttributes,
            "ALL_PROJECTED_ATTRIBUTES" => Select::AllProjectedAttributes,
            "SPECIFIC_ATTRIBUTES" => Select::SpecificAttributes,
            "COUNT" => Select::Count,
            other => {
                return Err(Error::validation(format!(
                    "1 validation error detected: Value '{other}' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]"
                ))
                .into());
            }
        })
    })
    .transpose()
}

fn limit(l: Option<i64>) -> Result<Option<usize>, ApiError> {
    match l {
        Some(l) if l < 1 => Err(Error::validation(format!(
            "1 validation error detected: Value '{l}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
        ))
        .into()),
        Some(l) => Ok(Some(usize::try_from(l).unwrap_or(usize::MAX))),
        None => Ok(None),
    }
}

/// A Query or Scan response, written straight from the stored items. The members come
/// in DynamoDB's order (`Count`, `Items`, `LastEvaluatedKey`, `ScannedCount`, as its
/// recorded responses show), so clients that scan the body for `Count` find it first.
fn page_output(page: &Page, select: Option<Select>) -> Result<Vec<u8>, ApiError> {
    use std::io::Write as _;
    let mut out = Vec::with_capacity(96 + stored::json_len_hint(&page.items));
    // Writing to a Vec cannot fail.
    let _ = write!(out, r#"{{"Count":{}"#, page.count);
    if select != Some(Select::Count) {
        out.extend_from_slice(br#","Items":"#);
        stored::write_items(&mut out, &page.items)?;
    }
    if let Some(key) = &page.last_evaluated_key {
        out.extend_from_slice(br#","LastEvaluatedKey":"#);
        let _ = serde_json::to_writer(&mut out, &WireOut(key));
    }
    let _ = write!(out, r#","ScannedCount":{}}}"#, page.scanned_count);
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QueryRequest {
    table_name: Option<String>,
    key_condition_expression: Option<String>,
    filter_expression: Option<String>,
    projection_expression: Option<String>,
    select: Option<String>,
    limit: Option<i64>,
    scan_index_forward: Option<bool>,
    exclusive_start_key: Option<WireItem>,
    segment: Option<i64>,
    total_segments: Option<i64>,
    expression_attribute_names: Option<HashMap<String, String>>,
    expression_attribute_values: Option<HashMap<String, WireValue>>,
    attributes_to_get: Option<Vec<String>>,
    key_conditions: Option<HashMap<String, WireCondition>>,
    query_filter: Option<HashMap<String, WireCondition>>,
    scan_filter: Option<HashMap<String, WireCondition>>,
    conditional_operator: Option<String>,
    index_name: Option<String>,
    consistent_read: Option<bool>,
}

fn query(engine: &Engine, r: QueryRequest) -> Result<Vec<u8>, ApiError> {
    let select_ = select(r.select)?;
    let input = QueryInput {
        table: required(r.table_name, "tableName")?,
        key_condition: r.key_condition_expression,
        filter: r.filter_expression,
        projection: r.projection_expression,
        attributes: expr_attrs(r.expression_attribute_names, r.expression_attribute_values)?,
        select: select_,
        limit: limit(r.limit)?,
        scan_forward: r.scan_index_forward.unwrap_or(true),
        exclusive_start_key: r.exclusive_start_key.map(into_item).transpose()?,
        index: r.index_name,
        consistent_read: r.consistent_read.unwrap_or(false),
        attributes_to_get: r.attributes_to_get,
        key_conditions: legacy::conditions(r.key_conditions, "keyConditions")?,
        query_filter: legacy::conditions(r.query_filter, "queryFilter")?,
        conditional_operator: legacy::conditional_operator(r.conditional_operator)?,
    };
    let page = engine.query(&input)?;
    page_output(&page, select_)
}

fn segment_number(v: Option<i64>, field: &str) -> Result<Option<u32>, ApiError> {
    v.map(|n| {
        u32::try_from(n).map_err(|_| {
            Error::validation(format!(
                "1 validation error detected: Value '{n}' at '{field}' failed to satisfy constraint: Member must have value greater than or equal to 0"
            ))
            .into()
        })
    })
    .transpose()
}

fn scan(engine: &Engine, r: QueryRequest) -> Result<Vec<u8>, ApiError> {
    let select_ = select(r.select)?;
    let input = ScanInput {
        table: required(r.table_name, "tableName")?,
        filter: r.filter_expression,
        projection: r.projection_expression,
        attributes: expr_attrs(r.expression_attribute_names, r.expression_attribute_values)?,
        select: select_,
        limit: limit(r.limit)?,
        exclusive_start_key: r.exclusive_start_key.map(into_item).transpose()?,
        segment: segment_number(r.segment, "segment")?,
        total_segments: segment_number(r.total_segments, "totalSegments")?,
        index: r.index_name,
        consistent_read: r.consistent_read.unwrap_or(false),
        attributes_to_get: r.attributes_to_get,
        scan_filter: legacy::conditions(r.scan_filter, "scanFilter")?,
        conditional_operator: legacy::conditional_operator(r.conditional_operator)?,
    };
    let page = engine.scan(&input)?;
    page_output(&page, select_)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchGetRequest {
    request_items: Option<HashMap<String, KeysAndAttributes>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeysAndAttributes {
    keys: Option<Vec<WireItem>>,
    projection_expression: Option<String>,
    #[allow(
        dead_code,
        reason = "reads are always consistent; accepted for compatibility"
    )]
    consistent_read: Option<bool>,
    expression_attribute_names: Option<HashMap<String, String>>,
    expression_attribute_values: Option<HashMap<String, WireValue>>,
    attributes_to_get: Option<Vec<String>>,
}

fn batch_get_item(engine: &Engine, r: BatchGetRequest) -> Result<Vec<u8>, ApiError> {
    let items = required(r.request_items, "requestItems")?;
    let mut tables = Vec::with_capacity(items.len());
    for (name, ka) in items {
        tables.push(BatchGetTable {
            table: name,
            keys: required(ka.keys, "keys")?
                .into_iter()
                .map(into_item)
                .collect::<Result<_, _>>()?,
            projection: ka.projection_expression,
            attributes: expr_attrs(
                ka.expression_attribute_names,
                ka.expression_attribute_values,
            )?,
            attributes_to_get: ka.attributes_to_get,
        });
    }
    let out = engine.batch_get_item(&tables)?;
    let mut responses = Map::new();
    for (name, items) in &out.responses {
        responses.insert(
            name.clone(),
            serde_json::to_value(WireItems(items)).unwrap_or_default(),
        );
    }
    let mut unprocessed = Map::new();
    for (name, keys) in &out.unprocessed {
        unprocessed.insert(name.clone(), json!({ "Keys": WireItems(keys) }));
    }
    Ok(json_bytes(&json!({
        "Responses": responses,
        "UnprocessedKeys": unprocessed,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchWriteRequestBody {
    request_items: Option<HashMap<String, Vec<WriteRequest>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WriteRequest {
    put_request: Option<PutRequest>,
    delete_request: Option<DeleteRequest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRequest {
    item: Option<WireItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteRequest {
    key: Option<WireItem>,
}

async fn batch_write_item(engine: &Engine, r: BatchWriteRequestBody) -> Result<Vec<u8>, ApiError> {
    let items = required(r.request_items, "requestItems")?;
    let mut requests = Vec::with_capacity(items.len());
    for (name, reqs) in items {
        let mut converted = Vec::with_capacity(reqs.len());
        for w in reqs {
            converted.push(match (w.put_request, w.delete_request) {
                (Some(p), None) => BatchWriteRequest::Put(into_item(required(p.item, "item")?)?),
                (None, Some(d)) => BatchWriteRequest::Delete(into_item(required(d.key, "key")?)?),
                _ => {
                    return Err(Error::validation(
                        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                    )
                    .into());
                }
            });
        }
        requests.push((name, converted));
    }
    write(|done| engine.batch_write_item(requests, done)).await?;
    Ok(b"{\"UnprocessedItems\":{}}".to_vec())
}

/// `ReturnConsumedCapacity` and `ReturnItemCollectionMetrics` are checked and accepted;
/// Eddy has no capacity to report.
fn check_return_metrics(capacity: Option<&str>, metrics: Option<&str>) -> Result<(), ApiError> {
    if let Some(v) = capacity
        && !matches!(v, "INDEXES" | "TOTAL" | "NONE")
    {
        return Err(Error::validation(format!(
            "1 validation error detected: Value '{v}' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]"
        ))
        .into());
    }
    if let Some(v) = metrics
        && !matches!(v, "SIZE" | "NONE")
    {
        return Err(Error::validation(format!(
            "1 validation error detected: Value '{v}' at 'returnItemCollectionMetrics' failed to satisfy constraint: Member must satisfy enum value set: [SIZE, NONE]"
        ))
        .into());
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TransactWriteRequest {
    transact_items: Option<Vec<TransactWriteItem>>,
    client_request_token: Option<String>,
    return_consumed_capacity: Option<String>,
    return_item_collection_metrics: Option<String>,
}

/// One `TransactWriteItem`: exactly one of its four actions is set.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TransactWriteItem {
    condition_check: Option<TransactAction>,
    put: Option<TransactAction>,
    update: Option<TransactAction>,
    delete: Option<TransactAction>,
}

/// The fields of the four transaction actions (each uses its own subset).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TransactAction {
    table_name: Option<String>,
    item: Option<WireItem>,
    key: Option<WireItem>,
    condition_expression: Option<String>,
    update_expression: Option<String>,
    expression_attribute_names: Option<HashMap<String, String>>,
    expression_attribute_values: Option<HashMap<String, WireValue>>,
    return_values_on_condition_check_failure: Option<String>,
}

fn transact_action(i: usize, w: TransactWriteItem) -> Result<TransactWriteAction, ApiError> {
    let (kind, a) = match (w.condition_check, w.put, w.update, w.delete) {
        (Some(a), None, None, None) => ("conditionCheck", a),
        (None, Some(a), None, None) => ("put", a),
        (None, None, Some(a), None) => ("update", a),
        (None, None, None, Some(a)) => ("delete", a),
        _ => {
            return Err(Error::validation(
                "TransactItems can only contain one of Check, Put, Update or Delete",
            )
            .into());
        }
    };
    // DynamoDB names a member of a list by its 1-based position.
    let field = |name: &str| format!("transactItems.{}.member.{kind}.{name}", i + 1);
    let table = required(a.table_name, &field("tableName"))?;
    let attributes = expr_attrs(a.expression_attribute_names, a.expression_attribute_values)?;
    let return_old_on_condition_failure =
        return_old_on_failure(a.return_values_on_condition_check_failure)?;
    let key = |k: Option<WireItem>| into_item(required(k, &field("key"))?);
    Ok(match kind {
        "conditionCheck" => TransactWriteAction::ConditionCheck(ConditionCheckInput {
            table,
            key: key(a.key)?,
            condition: required(a.condition_expression, &field("conditionExpression"))?,
            attributes,
            return_old_on_condition_failure,
        }),
        "put" => TransactWriteAction::Put(PutItemInput {
            table,
            item: into_item(required(a.item, &field("item"))?)?,
            condition: a.condition_expression,
            attributes,
            return_old_on_condition_failure,
            ..Default::default()
        }),
        "update" => TransactWriteAction::Update(UpdateItemInput {
            table,
            key: key(a.key)?,
            update: Some(required(a.update_expression, &field("updateExpression"))?),
            condition: a.condition_expression,
            attributes,
            return_old_on_condition_failure,
            ..Default::default()
        }),
        _ => TransactWriteAction::Delete(DeleteItemInput {
            table,
            key: key(a.key)?,
            condition: a.condition_expression,
            attributes,
            return_old_on_condition_failure,
            ..Default::default()
        }),
    })
}

async fn transact_write_items(
    engine: &Engine,
    r: TransactWriteRequest,
) -> Result<Vec<u8>, ApiError> {
    check_return_metrics(
        r.return_consumed_capacity.as_deref(),
        r.return_item_collection_metrics.as_deref(),
    )?;
    let items = required(r.transact_items, "transactItems")?;
    let input = TransactWriteInput {
        actions: items
            .into_iter()
            .enumerate()
            .map(|(i, w)| transact_action(i, w))
            .collect::<Result<_, _>>()?,
        client_request_token: r.client_request_token,
    };
    write(|done| engine.transact_write_items(input, done)).await?;
    Ok(b"{}".to_vec())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TransactGetRequest {
    transact_items: Option<Vec<TransactGetItem>>,
    return_consumed_capacity: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TransactGetItem {
    get: Option<TransactGet>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TransactGet {
    table_name: Option<String>,
    key: Option<WireItem>,
    projection_expression: Option<String>,
    expression_attribute_names: Option<HashMap<String, String>>,
}

fn transact_get_items(engine: &Engine, r: TransactGetRequest) -> Result<Vec<u8>, ApiError> {
    check_return_metrics(r.return_consumed_capacity.as_deref(), None)?;
    let items = required(r.transact_items, "transactItems")?;
    let mut gets = Vec::with_capacity(items.len());
    for (i, t) in items.into_iter().enumerate() {
        let field = |name: &str| format!("transactItems.{}.member.{name}", i + 1);
        let g = required(t.get, &field("get"))?;
        gets.push(GetItemInput {
            table: required(g.table_name, &field("get.tableName"))?,
            key: into_item(required(g.key, &field("get.key"))?)?,
            projection: g.projection_expression,
            attributes: expr_attrs(g.expression_attribute_names, None)?,
            attributes_to_get: None,
        });
    }
    let responses: Vec<Value> = engine
        .transact_get_items(&gets)?
        .iter()
        .map(|item| match item {
            Some(item) => json!({ "Item": WireOut(item) }),
            None => json!({}),
        })
        .collect();
    Ok(json_bytes(&json!({ "Responses": responses })))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AttributeDefinition {
    attribute_name: String,
    attribute_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeySchemaElement {
    attribute_name: String,
    key_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProvisionedThroughput {
    read_capacity_units: Option<i64>,
    write_capacity_units: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Tag {
    key: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateTableRequest {
    table_name: Option<String>,
    attribute_definitions: Option<Vec<AttributeDefinition>>,
    key_schema: Option<Vec<KeySchemaElement>>,
    billing_mode: Option<String>,
    provisioned_throughput: Option<ProvisionedThroughput>,
    tags: Option<Vec<Tag>>,
    stream_specification: Option<WireStreamSpecification>,
    global_secondary_indexes: Option<Vec<WireIndex>>,
    local_secondary_indexes: Option<Vec<WireIndex>>,
}

/// A `GlobalSecondaryIndex` or `LocalSecondaryIndex` of CreateTable.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireIndex {
    index_name: Option<String>,
    key_schema: Option<Vec<KeySchemaElement>>,
    projection: Option<WireProjection>,
    provisioned_throughput: Option<ProvisionedThroughput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireProjection {
    projection_type: Option<String>,
    non_key_attributes: Option<Vec<String>>,
}

fn key_roles(elements: Vec<KeySchemaElement>) -> Result<Vec<(String, KeyRole)>, ApiError> {
    let mut key_schema = Vec::with_capacity(elements.len());
    for k in elements {
        let role = match k.key_type.as_str() {
            "HASH" => KeyRole::Hash,
            "RANGE" => KeyRole::Range,
            other => {
                return Err(Error::validation(format!(
                    "1 validation error detected: Value '{other}' at 'keySchema.1.member.keyType' failed to satisfy constraint: Member must satisfy enum value set: [HASH, RANGE]"
                ))
                .into());
            }
        };
        key_schema.push((k.attribute_name, role));
    }
    Ok(key_schema)
}

/// CreateTable's index lists, in the order given (global ones first).
fn index_inputs(
    global: Option<Vec<WireIndex>>,
    local: Option<Vec<WireIndex>>,
) -> Result<Vec<IndexInput>, ApiError> {
    let mut out = Vec::new();
    for (list, kind, label, field) in [
        (
            global,
            IndexKind::Global,
            "GlobalSecondaryIndexes",
            "globalSecondaryIndexes",
        ),
        (
            local,
            IndexKind::Local,
            "LocalSecondaryIndexes",
            "localSecondaryIndexes",
        ),
    ] {
        let Some(list) = list else { continue };
        if list.is_empty() {
            return Err(Error::validation(format!(
                "One or more parameter values were invalid: List of {label} is empty"
            ))
            .into());
        }
        for (i, ix) in list.into_iter().enumerate() {
            let member = |m: &str| format!("{field}.{}.member.{m}", i + 1);
            let projection = required(ix.projection, &member("projection"))?;
            out.push(IndexInput {
                name: required(ix.index_name, &member("indexName"))?,
                kind,
                key_schema: key_roles(required(ix.key_schema, &member("keySchema"))?)?,
                projection_type: projection.projection_type,
                non_key_attributes: projection.non_key_attributes,
                throughput: throughput(ix.provisioned_throughput)?,
            });
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireStreamSpecification {
    stream_enabled: Option<bool>,
    stream_view_type: Option<String>,
}

fn stream_spec(
    s: Option<WireStreamSpecification>,
) -> Result<Option<StreamSpecification>, ApiError> {
    s.map(|s| {
        Ok(StreamSpecification {
            enabled: required(s.stream_enabled, "streamSpecification.streamEnabled")?,
            view_type: s
                .stream_view_type
                .as_deref()
                .map(StreamViewType::parse)
                .transpose()?,
        })
    })
    .transpose()
}

fn billing_mode(s: Option<String>) -> Result<Option<BillingMode>, ApiError> {
    s.map(|s| match s.as_str() {
        "PROVISIONED" => Ok(BillingMode::Provisioned),
        "PAY_PER_REQUEST" => Ok(BillingMode::PayPerRequest),
        other => Err(Error::validation(format!(
            "1 validation error detected: Value '{other}' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]"
        ))
        .into()),
    })
    .transpose()
}

fn throughput(p: Option<ProvisionedThroughput>) -> Result<Option<Throughput>, ApiError> {
    p.map(|p| {
        Ok(Throughput {
            read_capacity_units: required(
                p.read_capacity_units,
                "provisionedThroughput.readCapacityUnits",
            )?,
            write_capacity_units: required(
                p.write_capacity_units,
                "provisionedThroughput.writeCapacityUnits",
            )?,
        })
    })
    .transpose()
}

fn attribute_definitions(list: Vec<AttributeDefinition>) -> Result<Vec<KeyAttribute>, ApiError> {
    let mut definitions = Vec::with_capacity(list.len());
    for d in list {
        let key_type = match d.attribute_type.as_str() {
            "S" => KeyType::S,
            "N" => KeyType::N,
            "B" => KeyType::B,
            other => {
                return Err(Error::validation(format!(
                    "1 validation error detected: Value '{other}' at 'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]"
                ))
                .into());
            }
        };
        definitions.push(KeyAttribute {
            name: d.attribute_name,
            key_type,
        });
    }
    Ok(definitions)
}

fn create_table(engine: &Engine, r: CreateTableRequest) -> Result<Vec<u8>, ApiError> {
    let definitions =
        attribute_definitions(required(r.attribute_definitions, "attributeDefinitions")?)?;
    let key_schema = key_roles(required(r.key_schema, "keySchema")?)?;
    let input = CreateTableInput {
        name: required(r.table_name, "tableName")?,
        attribute_definitions: definitions,
        key_schema,
        billing_mode: billing_mode(r.billing_mode)?,
        throughput: throughput(r.provisioned_throughput)?,
        tags: r
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect(),
        stream: stream_spec(r.stream_specification)?,
        indexes: index_inputs(r.global_secondary_indexes, r.local_secondary_indexes)?,
    };
    let desc = engine.create_table(input)?;
    Ok(json_bytes(&json!({ "TableDescription": describe(&desc) })))
}

/// DynamoDB's `TableDescription` object.
fn describe(d: &TableDescription) -> Value {
    let def = &d.def;
    let key_schema = key_schema_json(&def.key_schema);
    let definitions: Vec<Value> = def
        .attribute_definitions
        .iter()
        .map(|a| json!({ "AttributeName": a.name, "AttributeType": key_type_descriptor(a.key_type) }))
        .collect();
    let mut v = json!({
        "TableName": def.name,
        "TableStatus": d.status.as_str(),
        "TableArn": d.arn,
        "TableId": table_id(def.id, def.created_at_ms),
        "CreationDateTime": def.created_at_ms as f64 / 1000.0,
        "KeySchema": key_schema,
        "AttributeDefinitions": definitions,
        "ItemCount": d.item_count,
        "TableSizeBytes": d.size_bytes,
        "ProvisionedThroughput": {
            "NumberOfDecreasesToday": 0,
            "ReadCapacityUnits": def.throughput.read_capacity_units,
            "WriteCapacityUnits": def.throughput.write_capacity_units,
        },
        "DeletionProtectionEnabled": false,
    });
    let (global, local) = index_descriptions(d);
    if !global.is_empty() {
        v["GlobalSecondaryIndexes"] = Value::Array(global);
    }
    if !local.is_empty() {
        v["LocalSecondaryIndexes"] = Value::Array(local);
    }
    if let Some((stream, arn)) = &d.latest_stream {
        v["LatestStreamArn"] = json!(arn);
        v["LatestStreamLabel"] = json!(stream.label);
        if d.stream_enabled {
            v["StreamSpecification"] = json!({
                "StreamEnabled": true,
                "StreamViewType": stream.view_type.as_str(),
            });
        }
    }
    if def.billing_mode == BillingMode::PayPerRequest {
        v["BillingModeSummary"] = json!({
            "BillingMode": "PAY_PER_REQUEST",
            "LastUpdateToPayPerRequestDateTime":
                def.pay_per_request_since_ms.unwrap_or(def.created_at_ms) as f64 / 1000.0,
        });
    } else {
        v["BillingModeSummary"] = json!({ "BillingMode": "PROVISIONED" });
    }
    v
}

fn key_schema_json(k: &KeySchema) -> Value {
    let mut out = vec![json!({ "AttributeName": k.hash.name, "KeyType": "HASH" })];
    if let Some(r) = &k.range {
        out.push(json!({ "AttributeName": r.name, "KeyType": "RANGE" }));
    }
    Value::Array(out)
}

/// DescribeTable's `GlobalSecondaryIndexes` and `LocalSecondaryIndexes` entries. A
/// local index reports no status or throughput, as in DynamoDB.
fn index_descriptions(d: &TableDescription) -> (Vec<Value>, Vec<Value>) {
    let (mut global, mut local) = (Vec::new(), Vec::new());
    for (i, ix) in d.def.indexes.iter().enumerate() {
        let (items, bytes) = d.index_counts.get(i).copied().unwrap_or_default();
        let mut projection = json!({ "ProjectionType": ix.projection.type_name() });
        if let IndexProjection::Include(attrs) = &ix.projection {
            projection["NonKeyAttributes"] = json!(attrs);
        }
        let mut v = json!({
            "IndexName": ix.name,
            "KeySchema": key_schema_json(&ix.key_schema),
            "Projection": projection,
            "IndexSizeBytes": bytes,
            "ItemCount": items,
            "IndexArn": format!("{}/index/{}", d.arn, ix.name),
        });
        match ix.kind {
            IndexKind::Global => {
                let t = ix.throughput.unwrap_or_default();
                // An index added by UpdateTable is CREATING while it is backfilled and
                // reports `Backfilling` (DynamoDB reports it only for such indexes);
                // its ItemCount is then the items indexed so far.
                let status = match (d.status, ix.build) {
                    (TableStatus::Deleting, _) => TableStatus::Deleting.as_str(),
                    (_, IndexBuild::Backfilling) => "CREATING",
                    _ => "ACTIVE",
                };
                v["IndexStatus"] = json!(status);
                match ix.build {
                    IndexBuild::WithTable => {}
                    IndexBuild::Backfilling => v["Backfilling"] = json!(true),
                    IndexBuild::Backfilled => v["Backfilling"] = json!(false),
                }
                v["ProvisionedThroughput"] = json!({
                    "NumberOfDecreasesToday": 0,
                    "ReadCapacityUnits": t.read_capacity_units,
                    "WriteCapacityUnits": t.write_capacity_units,
                });
                global.push(v);
            }
            IndexKind::Local => local.push(v),
        }
    }
    (global, local)
}

/// A stable UUID-shaped id for a table, from its storage id and creation time.
fn table_id(id: u32, created_ms: u64) -> String {
    let h = eddy_engine::hash::fnv1a_64(
        &[&id.to_be_bytes()[..], &created_ms.to_be_bytes()[..]].concat(),
    );
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        id,
        (h >> 48) & 0xffff,
        (h >> 36) & 0xfff,
        (h >> 24) & 0xfff,
        (created_ms ^ h) & 0xffff_ffff_ffff
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TableNameRequest {
    table_name: Option<String>,
}

fn describe_table(engine: &Engine, r: TableNameRequest) -> Result<Vec<u8>, ApiError> {
    let d = engine.describe_table(&required(r.table_name, "tableName")?)?;
    Ok(json_bytes(&json!({ "Table": describe(&d) })))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateTimeToLiveRequest {
    table_name: Option<String>,
    time_to_live_specification: Option<TimeToLiveSpecification>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TimeToLiveSpecification {
    enabled: Option<bool>,
    attribute_name: Option<String>,
}

fn update_time_to_live(engine: &Engine, r: UpdateTimeToLiveRequest) -> Result<Vec<u8>, ApiError> {
    let table = required(r.table_name, "tableName")?;
    let spec = required(r.time_to_live_specification, "timeToLiveSpecification")?;
    let name = required(spec.attribute_name, "timeToLiveSpecification.attributeName")?;
    let enabled = required(spec.enabled, "timeToLiveSpecification.enabled")?;
    engine.update_time_to_live(&table, enabled, &name)?;
    Ok(json_bytes(&json!({
        "TimeToLiveSpecification": { "AttributeName": name, "Enabled": enabled }
    })))
}

fn describe_time_to_live(engine: &Engine, r: TableNameRequest) -> Result<Vec<u8>, ApiError> {
    let d = engine.describe_time_to_live(&required(r.table_name, "tableName")?)?;
    let description = match d.attribute_name {
        Some(name) if d.enabled => json!({ "TimeToLiveStatus": "ENABLED", "AttributeName": name }),
        _ => json!({ "TimeToLiveStatus": "DISABLED" }),
    };
    Ok(json_bytes(&json!({ "TimeToLiveDescription": description })))
}

fn delete_table(engine: &Engine, r: TableNameRequest) -> Result<Vec<u8>, ApiError> {
    let d = engine.delete_table(&required(r.table_name, "tableName")?)?;
    Ok(json_bytes(&json!({ "TableDescription": describe(&d) })))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListTablesRequest {
    exclusive_start_table_name: Option<String>,
    limit: Option<i64>,
}

fn list_tables(engine: &Engine, r: ListTablesRequest) -> Result<Vec<u8>, ApiError> {
    let limit = match r.limit {
        Some(l) if l < 1 => {
            return Err(Error::validation(format!(
                "1 validation error detected: Value '{l}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
            ))
            .into());
        }
        Some(l) => Some(usize::try_from(l).unwrap_or(usize::MAX)),
        None => None,
    };
    let (names, last) = engine.list_tables(r.exclusive_start_table_name.as_deref(), limit)?;
    let mut v = json!({ "TableNames": names });
    if let Some(last) = last {
        v["LastEvaluatedTableName"] = json!(last);
    }
    Ok(json_bytes(&v))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateTableRequest {
    table_name: Option<String>,
    billing_mode: Option<String>,
    provisioned_throughput: Option<ProvisionedThroughput>,
    stream_specification: Option<WireStreamSpecification>,
    attribute_definitions: Option<Vec<AttributeDefinition>>,
    global_secondary_index_updates: Option<Vec<WireIndexUpdate>>,
}

/// One entry of `GlobalSecondaryIndexUpdates`: exactly one of its members is set.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireIndexUpdate {
    create: Option<WireIndex>,
    delete: Option<WireIndexName>,
    update: Option<WireIndexName>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireIndexName {
    index_name: Option<String>,
    provisioned_throughput: Option<ProvisionedThroughput>,
}

fn index_updates(
    list: Option<Vec<WireIndexUpdate>>,
    other_changes: bool,
) -> Result<Vec<IndexUpdate>, ApiError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    if list.is_empty() && other_changes {
        return Err(Error::validation(
            "One or more parameter values were invalid: List of GlobalSecondaryIndexUpdates is empty",
        )
        .into());
    }
    let mut out = Vec::with_capacity(list.len());
    for u in list {
        out.push(match (u.create, u.delete, u.update) {
            (Some(c), None, None) => {
                let mut inputs = index_inputs(Some(vec![c]), None)?;
                IndexUpdate::Create(inputs.remove(0))
            }
            (None, Some(d), None) => IndexUpdate::Delete(required(
                d.index_name,
                "globalSecondaryIndexUpdates.1.member.delete.indexName",
            )?),
            (None, None, Some(u)) => IndexUpdate::Update(
                required(
                    u.index_name,
                    "globalSecondaryIndexUpdates.1.member.update.indexName",
                )?,
                throughput(u.provisioned_throughput)?,
            ),
            (None, None, None) => {
                return Err(Error::validation(
                    "One or more parameter values were invalid: One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Delete must not be null",
                )
                .into());
            }
            _ => {
                return Err(Error::validation(
                    "One or more parameter values were invalid: Only one global secondary index action is allowed per GlobalSecondaryIndexUpdate object",
                )
                .into());
            }
        });
    }
    Ok(out)
}

fn update_table(engine: &Engine, r: UpdateTableRequest) -> Result<Vec<u8>, ApiError> {
    let other_changes = r.billing_mode.is_some()
        || r.provisioned_throughput.is_some()
        || r.stream_specification.is_some();
    let input = UpdateTableInput {
        billing_mode: billing_mode(r.billing_mode)?,
        throughput: throughput(r.provisioned_throughput)?,
        stream: stream_spec(r.stream_specification)?,
        attribute_definitions: r
            .attribute_definitions
            .map(attribute_definitions)
            .transpose()?,
        index_updates: index_updates(r.global_secondary_index_updates, other_changes)?,
    };
    let d = engine.update_table(&required(r.table_name, "tableName")?, input)?;
    Ok(json_bytes(&json!({ "TableDescription": describe(&d) })))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagRequest {
    resource_arn: Option<String>,
    tags: Option<Vec<Tag>>,
    tag_keys: Option<Vec<String>>,
}

fn tag_resource(engine: &Engine, r: TagRequest) -> Result<Vec<u8>, ApiError> {
    let tags = required(r.tags, "tags")?
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect();
    engine.tag_resource(&required(r.resource_arn, "resourceArn")?, tags)?;
    Ok(b"{}".to_vec())
}

fn untag_resource(engine: &Engine, r: TagRequest) -> Result<Vec<u8>, ApiError> {
    engine.untag_resource(
        &required(r.resource_arn, "resourceArn")?,
        &required(r.tag_keys, "tagKeys")?,
    )?;
    Ok(b"{}".to_vec())
}

fn list_tags(engine: &Engine, r: TagRequest) -> Result<Vec<u8>, ApiError> {
    let tags: Vec<Value> = engine
        .list_tags(&required(r.resource_arn, "resourceArn")?)?
        .into_iter()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect();
    Ok(json_bytes(&json!({ "Tags": tags })))
}

#[cfg(test)]
mod tests {
    use eddy_engine::{AttributeValue, Item, StoredItem};

    use super::*;

    #[test]
    fn pages_are_written_in_dynamodb_member_order() {
        let item = Item::from([("pk".to_string(), AttributeValue::S("a".into()))]);
        let page = Page {
            items: vec![StoredItem::encode(&item)],
            count: 1,
            scanned_count: 2,
            last_evaluated_key: Some(item),
        };
        let all = page_output(&page, None).unwrap();
        assert_eq!(
            String::from_utf8(all).unwrap(),
            r#"{"Count":1,"Items":[{"pk":{"S":"a"}}],"LastEvaluatedKey":{"pk":{"S":"a"}},"ScannedCount":2}"#
        );
        let count = page_output(&page, Some(Select::Count)).unwrap();
        assert_eq!(
            String::from_utf8(count).unwrap(),
            r#"{"Count":1,"LastEvaluatedKey":{"pk":{"S":"a"}},"ScannedCount":2}"#
        );
    }
}
