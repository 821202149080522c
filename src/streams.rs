//! The DynamoDB Streams API (`DynamoDBStreams_20120810.*` on the same endpoint):
//! ListStreams, DescribeStream, GetShardIterator and GetRecords, over the engine's
//! stream log. Also the one JSON form of a change record, shared with the trigger
//! runtime's Lambda events.

use eddy_engine::clock::now_ms;
use std::sync::Arc;

use bytes::Bytes;
use eddy_engine::{
    Engine, Error, StreamDef, StreamRecord, format_sequence_number, iso8601_ms,
    parse_sequence_number,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::dynamodb::request::{json_bytes, parse, required};
use crate::dynamodb::violations::Violations;
use crate::error::ApiError;
use crate::wire::WireOut;

/// Records one GetRecords call returns at most (DynamoDB: 1,000).
pub const GET_RECORDS_LIMIT_MAX: usize = 1000;
/// Bytes of records one GetRecords call returns at most (DynamoDB: 1 MB).
pub const GET_RECORDS_BYTES_MAX: usize = /* 1 MiB */ 1024 * 1024;
/// Streams or shards one ListStreams or DescribeStream page holds at most.
pub const STREAMS_PAGE_LIMIT_MAX: usize = 100;

/// Runs one DynamoDB Streams operation.
pub async fn dispatch(engine: &Engine, op: &str, body: &Bytes) -> Result<Vec<u8>, ApiError> {
    match op {
        "ListStreams" => list_streams(engine, parse(body)?),
        "DescribeStream" => describe_stream(engine, parse(body)?),
        "GetShardIterator" => get_shard_iterator(engine, parse(body)?),
        "GetRecords" => get_records(engine, parse(body)?),
        _ => Err(ApiError::UnknownOperation),
    }
}

/// The resource an access policy authorizes a Streams request on: the stream's ARN
/// (from `StreamArn`, or the stream a shard iterator reads), or `*` for ListStreams
/// and for a request that names no stream it can read (it fails on its own).
pub fn resource_of(engine: &Engine, op: &str, body: &[u8]) -> String {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Named {
        stream_arn: Option<String>,
        shard_iterator: Option<String>,
    }
    let Ok(named) = serde_json::from_slice::<Named>(body) else {
        return "*".to_owned();
    };
    if op == "ListStreams" {
        return "*".to_owned();
    }
    if let Some(arn) = named.stream_arn {
        return arn;
    }
    named
        .shard_iterator
        .as_deref()
        .and_then(ShardIterator::decode)
        .and_then(|it| engine.stream(it.stream_id))
        .map_or_else(|| "*".to_owned(), |def| engine.stream_arn(&def))
}

fn limit_field(limit: Option<i64>, max: usize, default: usize) -> Result<usize, ApiError> {
    match limit {
        None => Ok(default),
        Some(l) if l < 1 => Err(Error::validation(format!(
            "1 validation error detected: Value '{l}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
        ))
        .into()),
        Some(l) if l as u64 > max as u64 => Err(Error::validation(format!(
            "1 validation error detected: Value '{l}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to {max}"
        ))
        .into()),
        Some(l) => Ok(l as usize),
    }
}

/// The Streams API's bounds on its members, in characters (its service model's).
const STREAM_ARN_CHARS_MIN: usize = 37;
const STREAM_ARN_CHARS_MAX: usize = 1024;
const STREAMS_TABLE_NAME_CHARS_MIN: usize = 3;
const STREAMS_TABLE_NAME_CHARS_MAX: usize = 255;
const SEQUENCE_NUMBER_CHARS_MIN: usize = 21;
const SEQUENCE_NUMBER_CHARS_MAX: usize = 40;
const SHARD_ITERATOR_CHARS_MIN: usize = 1;
const SHARD_ITERATOR_CHARS_MAX: usize = 2048;

/// The shard iterator types, in the order Eddy's message has always listed them (which
/// order DynamoDB Streams prints could not be confirmed).
const SHARD_ITERATOR_TYPES: &[&str] = &[
    "AFTER_SEQUENCE_NUMBER",
    "LATEST",
    "AT_SEQUENCE_NUMBER",
    "TRIM_HORIZON",
];

/// A `Limit`'s lower bound, collected with the request's other violations (its upper
/// bound is Eddy's page size, checked by `limit_field` afterwards).
fn limit_min(v: &mut Violations, limit: Option<i64>) {
    v.range(limit, "limit", 1, i64::MAX);
}

/// A stream ARN's presence (when `required`) and length, before its form is read: a
/// value too short or too long is a constraint violation, not an invalid ARN.
fn stream_arn(v: &mut Violations, arn: Option<&String>, field: &str, required: bool) {
    if required {
        v.not_null(arn, field);
    }
    v.length(
        arn.map(String::as_str),
        field,
        STREAM_ARN_CHARS_MIN,
        STREAM_ARN_CHARS_MAX,
    );
}

fn stream_not_found(arn: &str) -> ApiError {
    Error::not_found(format!(
        "Requested resource not found: Stream: {arn} not found"
    ))
    .into()
}

/// Finds the stream an ARN names, with DynamoDB's errors for a malformed or unknown one.
fn stream_by_arn(engine: &Engine, arn: &str) -> Result<Arc<StreamDef>, ApiError> {
    if !arn.starts_with("arn:aws:dynamodb:") || !arn.contains("/stream/") || arn.len() < 37 {
        return Err(Error::validation(format!("Invalid StreamArn: {arn}")).into());
    }
    engine
        .stream_by_arn(arn)
        .ok_or_else(|| stream_not_found(arn))
}

fn parse_shard_id(def: &StreamDef, id: &str) -> Option<u16> {
    let shard = u16::from_str_radix(id.get(id.len().checked_sub(4)?..)?, 16).ok()?;
    (shard < def.shards && def.shard_id(shard) == id).then_some(shard)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListStreamsRequest {
    table_name: Option<String>,
    limit: Option<i64>,
    exclusive_start_stream_arn: Option<String>,
}

fn list_streams(engine: &Engine, r: ListStreamsRequest) -> Result<Vec<u8>, ApiError> {
    // The service model's constraints, collected in its member order. The table name's
    // are the data plane's (pattern, then length, as dynalite records for GetItem), not
    // the control plane's own length message; DynamoDB Streams' answer could not be
    // confirmed.
    let mut v = Violations::new();
    let table = r.table_name.as_deref();
    v.name_pattern(table, "tableName");
    v.length(
        table,
        "tableName",
        STREAMS_TABLE_NAME_CHARS_MIN,
        STREAMS_TABLE_NAME_CHARS_MAX,
    );
    limit_min(&mut v, r.limit);
    stream_arn(
        &mut v,
        r.exclusive_start_stream_arn.as_ref(),
        "exclusiveStartStreamArn",
        false,
    );
    v.finish()?;
    let limit = limit_field(r.limit, STREAMS_PAGE_LIMIT_MAX, STREAMS_PAGE_LIMIT_MAX)?;
    let all = engine.list_streams(r.table_name.as_deref());
    let start = match &r.exclusive_start_stream_arn {
        None => 0,
        Some(arn) => {
            let def = stream_by_arn(engine, arn)?;
            all.iter()
                .position(|d| d.id == def.id)
                .map_or(all.len(), |i| i + 1)
        }
    };
    let page: Vec<&Arc<StreamDef>> = all.iter().skip(start).take(limit).collect();
    let streams: Vec<Value> = page
        .iter()
        .map(|d| {
            json!({
                "StreamArn": engine.stream_arn(d),
                "TableName": d.table_name,
                "StreamLabel": d.label,
            })
        })
        .collect();
    let mut out = json!({ "Streams": streams });
    if start + page.len() < all.len()
        && let Some(last) = page.last()
    {
        out["LastEvaluatedStreamArn"] = json!(engine.stream_arn(last));
    }
    Ok(json_bytes(&out))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeStreamRequest {
    stream_arn: Option<String>,
    limit: Option<i64>,
    exclusive_start_shard_id: Option<String>,
    shard_filter: Option<WireShardFilter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireShardFilter {
    r#type: Option<String>,
    shard_id: Option<String>,
}

/// Shortest and longest shard id a `ShardFilter` may name (the API's constraints).
const SHARD_ID_CHARS_MIN: usize = 28;
const SHARD_ID_CHARS_MAX: usize = 65;

/// The shard a `ShardFilter` asks the children of, checked with the API's member
/// constraints in DynamoDB's validation words. Which answer a filter without a type or
/// a shard id gets could not be confirmed; both members are needed to mean anything,
/// so either missing is a ValidationException.
fn shard_filter_parent(f: WireShardFilter) -> Result<String, ApiError> {
    let invalid = |m: String| ApiError::from(Error::validation(m));
    match f.r#type.as_deref() {
        Some("CHILD_SHARDS") => {}
        Some(other) => {
            return Err(invalid(format!(
                "1 validation error detected: Value '{other}' at 'shardFilter.type' failed to satisfy constraint: Member must satisfy enum value set: [CHILD_SHARDS]"
            )));
        }
        None => {
            return Err(invalid(
                "ShardFilter requires a Type; the only one is CHILD_SHARDS".into(),
            ));
        }
    }
    let id = f.shard_id.ok_or_else(|| {
        invalid("ShardFilter of Type CHILD_SHARDS requires the ShardId of the parent shard".into())
    })?;
    let chars = id.chars().count();
    let constraint = if chars < SHARD_ID_CHARS_MIN {
        format!("greater than or equal to {SHARD_ID_CHARS_MIN}")
    } else if chars > SHARD_ID_CHARS_MAX {
        format!("less than or equal to {SHARD_ID_CHARS_MAX}")
    } else {
        return Ok(id);
    };
    Err(invalid(format!(
        "1 validation error detected: Value '{id}' at 'shardFilter.shardId' failed to satisfy constraint: Member must have length {constraint}"
    )))
}

fn shard_not_found(shard_id: &str, arn: &str) -> ApiError {
    Error::not_found(format!(
        "Requested resource not found: Shard: {shard_id} in Stream: {arn} not found"
    ))
    .into()
}

fn describe_stream(engine: &Engine, r: DescribeStreamRequest) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    stream_arn(&mut v, r.stream_arn.as_ref(), "streamArn", true);
    limit_min(&mut v, r.limit);
    v.length(
        r.exclusive_start_shard_id.as_deref(),
        "exclusiveStartShardId",
        SHARD_ID_CHARS_MIN,
        SHARD_ID_CHARS_MAX,
    );
    v.finish()?;
    let arn = required(r.stream_arn, "streamArn")?;
    let limit = limit_field(r.limit, STREAMS_PAGE_LIMIT_MAX, STREAMS_PAGE_LIMIT_MAX)?;
    let parent = r.shard_filter.map(shard_filter_parent).transpose()?;
    let def = stream_by_arn(engine, &arn)?;
    let mut shards = engine.stream_shards(&def)?;
    if let Some(parent) = parent {
        // A stream's shards never split, so no shard has children; the parent must
        // still be a shard of the stream, as a GetShardIterator's must.
        if parse_shard_id(&def, &parent).is_none() {
            return Err(shard_not_found(&parent, &arn));
        }
        shards.clear();
    }
    let start = match &r.exclusive_start_shard_id {
        None => 0,
        Some(id) => parse_shard_id(&def, id).map_or(shards.len(), |s| usize::from(s) + 1),
    };
    let page: Vec<_> = shards.iter().skip(start).take(limit).collect();
    let shard_json: Vec<Value> = page
        .iter()
        .map(|s| {
            let mut range =
                json!({ "StartingSequenceNumber": format_sequence_number(s.starting_seq) });
            if let Some(end) = s.ending_seq {
                // A shard closed before any record reached it still gets a
                // well-formed range (Ending >= Starting).
                range["EndingSequenceNumber"] =
                    json!(format_sequence_number(end.max(s.starting_seq)));
            }
            json!({ "ShardId": def.shard_id(s.shard), "SequenceNumberRange": range })
        })
        .collect();
    let mut key_schema =
        vec![json!({ "AttributeName": def.key_schema.hash.name, "KeyType": "HASH" })];
    if let Some(range) = &def.key_schema.range {
        key_schema.push(json!({ "AttributeName": range.name, "KeyType": "RANGE" }));
    }
    let mut desc = json!({
        "StreamArn": arn,
        "StreamLabel": def.label,
        "StreamStatus": if def.is_enabled() { "ENABLED" } else { "DISABLED" },
        "StreamViewType": def.view_type.as_str(),
        "CreationRequestDateTime": def.created_ms as f64 / 1000.0,
        "TableName": def.table_name,
        "KeySchema": key_schema,
        "Shards": shard_json,
    });
    if start + page.len() < shards.len()
        && let Some(last) = page.last()
    {
        desc["LastEvaluatedShardId"] = json!(def.shard_id(last.shard));
    }
    Ok(json_bytes(&json!({ "StreamDescription": desc })))
}

/// A shard iterator: where to read next in which shard, and when it was issued.
/// Opaque to clients; a checksum rejects hand-made or truncated ones.
struct ShardIterator {
    stream_id: u32,
    shard: u16,
    position: u64,
    issued_ms: u64,
}

impl ShardIterator {
    fn encode(&self) -> String {
        let body = format!(
            "EDDY1|{}|{}|{}|{}",
            self.stream_id, self.shard, self.position, self.issued_ms
        );
        let check = crc32fast::hash(body.as_bytes());
        format!("{body}|{check:08x}")
    }

    fn decode(s: &str) -> Option<ShardIterator> {
        let (body, check) = s.rsplit_once('|')?;
        if format!("{:08x}", crc32fast::hash(body.as_bytes())) != check {
            return None;
        }
        let mut parts = body.split('|');
        if parts.next()? != "EDDY1" {
            return None;
        }
        let it = ShardIterator {
            stream_id: parts.next()?.parse().ok()?,
            shard: parts.next()?.parse().ok()?,
            position: parts.next()?.parse().ok()?,
            issued_ms: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(it)
    }
}

/// `TrimmedDataAccessException` for reading `position` below the shard's trim horizon:
/// DynamoDB's sentence, then where the data now starts.
fn trimmed(position: u64, horizon: u64, shard_id: &str) -> ApiError {
    Error::TrimmedDataAccess(format!(
        "The operation attempted to read past the oldest stream record in a shard. Sequence number {} of shard {shard_id} is older than its oldest untrimmed record (sequence number {}); start from TRIM_HORIZON.",
        format_sequence_number(position),
        format_sequence_number(horizon)
    ))
    .into()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetShardIteratorRequest {
    stream_arn: Option<String>,
    shard_id: Option<String>,
    shard_iterator_type: Option<String>,
    sequence_number: Option<String>,
}

fn get_shard_iterator(engine: &Engine, r: GetShardIteratorRequest) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    stream_arn(&mut v, r.stream_arn.as_ref(), "streamArn", true);
    v.not_null(r.shard_id.as_ref(), "shardId");
    v.length(
        r.shard_id.as_deref(),
        "shardId",
        SHARD_ID_CHARS_MIN,
        SHARD_ID_CHARS_MAX,
    );
    v.not_null(r.shard_iterator_type.as_ref(), "shardIteratorType");
    v.one_of(
        r.shard_iterator_type.as_deref(),
        "shardIteratorType",
        SHARD_ITERATOR_TYPES,
    );
    v.length(
        r.sequence_number.as_deref(),
        "sequenceNumber",
        SEQUENCE_NUMBER_CHARS_MIN,
        SEQUENCE_NUMBER_CHARS_MAX,
    );
    v.finish()?;
    let arn = required(r.stream_arn, "streamArn")?;
    let shard_id_ = required(r.shard_id, "shardId")?;
    let kind = required(r.shard_iterator_type, "shardIteratorType")?;
    let def = stream_by_arn(engine, &arn)?;
    let shard =
        parse_shard_id(&def, &shard_id_).ok_or_else(|| shard_not_found(&shard_id_, &arn))?;
    let sequence = || -> Result<u64, ApiError> {
        let s = r.sequence_number.as_deref().ok_or_else(|| {
            ApiError::from(Error::validation(format!(
                "Must specify a SequenceNumber for ShardIteratorType {kind}"
            )))
        })?;
        parse_sequence_number(s).ok_or_else(|| {
            Error::validation(format!(
                "Invalid SequenceNumber: {s} is not a SequenceNumber of a stream record"
            ))
            .into()
        })
    };
    // DynamoDB rejects a SequenceNumber with TRIM_HORIZON or LATEST rather than
    // ignoring it (recorded against DynamoDB in ScyllaDB's test_streams.py,
    // test_get_shard_iterator).
    if matches!(kind.as_str(), "TRIM_HORIZON" | "LATEST")
        && let Some(s) = &r.sequence_number
    {
        return Err(Error::validation(format!(
            "Invalid request: SequenceNumber {s} may only be given with ShardIteratorType AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER, not {kind}"
        ))
        .into());
    }
    let position = match kind.as_str() {
        "TRIM_HORIZON" => engine.trim_horizon(&def, shard),
        "LATEST" => engine.latest_position().max(def.start_seq + 1),
        "AT_SEQUENCE_NUMBER" => sequence()?,
        "AFTER_SEQUENCE_NUMBER" => sequence()?.saturating_add(1),
        other => {
            return Err(Error::validation(format!(
                "1 validation error detected: Value '{other}' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]"
            ))
            .into());
        }
    };
    let horizon = engine.trim_horizon(&def, shard);
    if position < horizon {
        return Err(trimmed(position, horizon, &shard_id_));
    }
    // The number given may be at most the next sequence number the shard can hold; an
    // AFTER_SEQUENCE_NUMBER iterator may then start one past it (as at the start of a
    // shard no record reached yet, which DynamoDB gives: ScyllaDB's
    // test_get_shard_iterator, run against DynamoDB).
    let given = match kind.as_str() {
        "AFTER_SEQUENCE_NUMBER" => position.saturating_sub(1),
        _ => position,
    };
    if r.sequence_number.is_some()
        && given
            > engine
                .shard_head(&def, shard)
                .saturating_add(1)
                .max(engine.latest_position())
    {
        return Err(Error::validation(format!(
            "Invalid SequenceNumber: {} is beyond the end of shard {shard_id_}",
            r.sequence_number.unwrap_or_default()
        ))
        .into());
    }
    let it = ShardIterator {
        stream_id: def.id,
        shard,
        position,
        issued_ms: now_ms(),
    };
    Ok(json_bytes(&json!({ "ShardIterator": it.encode() })))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetRecordsRequest {
    shard_iterator: Option<String>,
    limit: Option<i64>,
}

fn get_records(engine: &Engine, r: GetRecordsRequest) -> Result<Vec<u8>, ApiError> {
    let mut v = Violations::new();
    v.not_null(r.shard_iterator.as_ref(), "shardIterator");
    v.length(
        r.shard_iterator.as_deref(),
        "shardIterator",
        SHARD_ITERATOR_CHARS_MIN,
        SHARD_ITERATOR_CHARS_MAX,
    );
    limit_min(&mut v, r.limit);
    v.finish()?;
    let raw = required(r.shard_iterator, "shardIterator")?;
    let limit = limit_field(r.limit, GET_RECORDS_LIMIT_MAX, GET_RECORDS_LIMIT_MAX)?;
    let it = ShardIterator::decode(&raw)
        .ok_or_else(|| {
            ApiError::from(Error::validation(
                "Invalid ShardIterator: not an iterator from GetShardIterator or GetRecords (it may have been truncated or altered)",
            ))
        })?;
    let now = now_ms();
    let ttl = engine.config().shard_iterator_ttl_ms;
    if now.saturating_sub(it.issued_ms) > ttl {
        // Kinesis' wording (DynamoDB Streams shares its iterator machinery), with
        // ISO-8601 UTC times.
        return Err(Error::ExpiredIterator(format!(
            "Iterator expired. The iterator was created at time {}Z while right now it is {}Z which is further in the future than the tolerated delay of {ttl} milliseconds.",
            iso8601_ms(it.issued_ms),
            iso8601_ms(now)
        ))
        .into());
    }
    let def = engine.stream(it.stream_id).ok_or_else(|| {
        ApiError::from(Error::not_found(
            "Requested resource not found: the stream of this ShardIterator no longer exists",
        ))
    })?;
    let read = engine
        .read_shard(&def, it.shard, it.position, limit, GET_RECORDS_BYTES_MAX)
        .map_err(|e| match e {
            Error::TrimmedDataAccess(_) => trimmed(
                it.position,
                engine.trim_horizon(&def, it.shard),
                &def.shard_id(it.shard),
            ),
            other => other.into(),
        })?;
    let region = &engine.config().region;
    let records: Vec<WireRecord<'_>> = read
        .records
        .iter()
        .map(|rec| WireRecord::new(rec, &def, region, None))
        .collect();
    let next = (!read.drained).then(|| {
        ShardIterator {
            stream_id: def.id,
            shard: it.shard,
            position: read.next_seq,
            issued_ms: now,
        }
        .encode()
    });
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Out<'a> {
        records: Vec<WireRecord<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        next_shard_iterator: Option<String>,
    }
    Ok(json_bytes(&Out {
        records,
        next_shard_iterator: next,
    }))
}

/// A change record in DynamoDB Streams' JSON form; with `event_source_arn`, Lambda's
/// form of the same record.
#[derive(Serialize)]
pub struct WireRecord<'a> {
    #[serde(rename = "eventID")]
    event_id: String,
    #[serde(rename = "eventName")]
    event_name: &'static str,
    #[serde(rename = "eventVersion")]
    event_version: &'static str,
    #[serde(rename = "eventSource")]
    event_source: &'static str,
    #[serde(rename = "awsRegion")]
    aws_region: &'a str,
    #[serde(rename = "eventSourceARN", skip_serializing_if = "Option::is_none")]
    event_source_arn: Option<&'a str>,
    dynamodb: WireStreamData<'a>,
    #[serde(rename = "userIdentity", skip_serializing_if = "Option::is_none")]
    user_identity: Option<TtlIdentity>,
}

/// The `userIdentity` of a record of a Time to Live delete. The Streams API spells
/// its members `PrincipalId` and `Type`; Lambda's event records `principalId` and
/// `type`.
struct TtlIdentity {
    lambda: bool,
}

impl Serialize for TtlIdentity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let (principal, kind) = if self.lambda {
            ("principalId", "type")
        } else {
            ("PrincipalId", "Type")
        };
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry(principal, "dynamodb.amazonaws.com")?;
        m.serialize_entry(kind, "Service")?;
        m.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct WireStreamData<'a> {
    approximate_creation_date_time: f64,
    keys: WireOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    new_image: Option<WireOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    old_image: Option<WireOut<'a>>,
    sequence_number: String,
    size_bytes: u64,
    stream_view_type: &'static str,
}

impl<'a> WireRecord<'a> {
    pub fn new(
        rec: &'a StreamRecord,
        def: &StreamDef,
        region: &'a str,
        event_source_arn: Option<&'a str>,
    ) -> WireRecord<'a> {
        WireRecord {
            // Unique per record: the stream and the sequence number, in 32 hex digits.
            event_id: format!("{:08x}{:024x}", def.id, rec.seq),
            event_name: rec.event_name.as_str(),
            event_version: "1.1",
            event_source: "aws:dynamodb",
            aws_region: region,
            event_source_arn,
            dynamodb: WireStreamData {
                // Whole seconds, as DynamoDB Streams reports it.
                approximate_creation_date_time: (rec.created_us / 1_000_000) as f64,
                keys: WireOut(&rec.keys),
                new_image: rec.new_image.as_ref().map(WireOut),
                old_image: rec.old_image.as_ref().map(WireOut),
                sequence_number: format_sequence_number(rec.seq),
                size_bytes: rec.size_bytes,
                stream_view_type: rec.view_type.as_str(),
            },
            user_identity: rec.by_ttl.then_some(TtlIdentity {
                lambda: event_source_arn.is_some(),
            }),
        }
    }
}
