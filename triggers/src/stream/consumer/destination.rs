//! The failure destination: a batch whose retries or age ran out is written, with
//! Lambda's on-failure invocation record, into the mapping's destination table, or
//! dropped when there is none. A destination checked when the mapping was saved can
//! still fail later (the table deleted): the write is retried a bounded number of times
//! and the batch is then dropped, visibly, so that the shard never blocks on it.
//!
//! Owns the destination item's shape and key, and which destinations are writable.
//! Must not know why a batch failed beyond the condition and attempts it is given.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::time::Duration;

use eddy_engine::clock::{iso8601_ms, now_ms, rfc3339_ms};
use eddy_engine::{AttributeValue, Engine, Item, KeySchema, KeyType, format_sequence_number};
use serde_json::{Value, json};

use super::super::MappingConfig;
use super::super::render::{Rendered, RenderedBatch};
use super::lane::{Attempts, Consumer, Failed, Outcome, backoff_ms};
use crate::error::TriggerError;

/// Writes of one failed batch to its destination before the batch is dropped. With the
/// lane's backoff they span about 2.5 s: enough for a passing fault (a throttled or
/// briefly full destination), short enough that a destination that is gone does not
/// hold the shard.
pub(super) const DESTINATION_ATTEMPTS_MAX: u32 = 8;

/// The failure record's `version` (Lambda's documented invocation record).
const INVOCATION_RECORD_VERSION: &str = "1.0";

/// Checks that `destination` (a table name or a DynamoDB table ARN, Eddy's failure
/// destination) names a table Eddy can write failure records to: Lambda refuses an
/// `OnFailure` destination it cannot use when the mapping is created or updated, with
/// `InvalidParameterValueException` "The destination ARN <ARN> is invalid." (its words
/// for an ARN of a kind it does not take); the reason after them is Eddy's.
pub(crate) fn check_destination(engine: &Engine, destination: &str) -> Result<(), TriggerError> {
    let invalid = |why: String| {
        TriggerError::invalid(
            "DestinationConfig",
            format!("The destination ARN {destination} is invalid: {why}"),
        )
    };
    if destination.starts_with("arn:") {
        let parts: Vec<&str> = destination.splitn(6, ':').collect();
        let is_table = parts.len() == 6
            && parts[2] == "dynamodb"
            && parts[5]
                .strip_prefix("table/")
                .is_some_and(|name| !name.is_empty() && !name.contains('/'));
        if !is_table {
            return Err(invalid(
                "Eddy sends failed batches to a DynamoDB table, named or by its table ARN \
                 (arn:aws:dynamodb:<region>:<account>:table/<name>); queues, topics, buckets \
                 and stream ARNs are not destinations here"
                    .into(),
            ));
        }
    }
    let table = super::super::config::table_name_of(destination);
    let def = engine
        .table_def(&table)
        .map_err(|_| invalid(format!("table {table} does not exist")))?;
    item_key(&def.key_schema, "", 0).map_err(invalid)?;
    Ok(())
}

/// The destination item's key: its partition key holds the failure's id (so it must be
/// a string or binary), a sort key the first sequence number.
fn item_key(schema: &KeySchema, id: &str, first_seq: u64) -> Result<Item, String> {
    let text = |t: KeyType, text: String| match t {
        KeyType::S => Some(AttributeValue::S(text)),
        KeyType::B => Some(AttributeValue::B(text.into_bytes())),
        KeyType::N => None,
    };
    let mut key = Item::new();
    let hash = &schema.hash;
    let v = text(hash.key_type, id.to_string()).ok_or_else(|| {
        format!(
            "its partition key {} is a number; a failure destination's partition key must \
             be a string or binary (it holds the failure's id)",
            hash.name
        )
    })?;
    key.insert(hash.name.clone(), v);
    if let Some(range) = &schema.range {
        let v = match range.key_type {
            KeyType::N => AttributeValue::N(eddy_engine::Number::from_i64(first_seq as i64)),
            t => text(t, format_sequence_number(first_seq)).unwrap_or(AttributeValue::Null),
        };
        key.insert(range.name.clone(), v);
    }
    Ok(key)
}

/// An arrival time as Lambda's invocation record writes it: ISO 8601 UTC to the second
/// (`2019-11-14T00:13:19Z`).
fn iso_seconds(us: u64) -> String {
    let ms = us / 1000;
    format!("{}Z", &iso8601_ms(ms)[..19])
}

impl Consumer {
    /// Retries or age ran out: send the batch to the failure destination, or drop it
    /// when there is none, as Lambda does. A destination that cannot be written
    /// [`DESTINATION_ATTEMPTS_MAX`] times in a row loses the batch too (counted as
    /// dropped, and said in `LastProcessingResult`), so that the shard moves on.
    pub(super) fn give_up(
        &self,
        cfg: &MappingConfig,
        batch: Failed<'_>,
        condition: &str,
        attempts: Attempts,
    ) -> Outcome {
        // Each outcome is reported before it is counted, so that whoever sees the
        // counter move also sees why in `LastProcessingResult`.
        let Some(table) = &cfg.on_failure_table else {
            self.report_given_up(&batch, condition, None);
            self.mapping
                .metrics
                .dropped
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            return Outcome::Done;
        };
        let mut attempt = 0u32;
        loop {
            if self.stopped() {
                return Outcome::Interrupted;
            }
            let sent = std::panic::catch_unwind(AssertUnwindSafe(|| {
                self.send_to_destination(cfg, table, &batch, condition, attempts)
            }))
            .unwrap_or_else(|panic| {
                Err(format!(
                    "the host failed: {}",
                    eddy_engine::panic_text(panic.as_ref())
                ))
            });
            match sent {
                Ok(()) => {
                    self.report_given_up(&batch, condition, Some(table));
                    self.mapping
                        .metrics
                        .sent_to_failure_destination
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    return Outcome::Done;
                }
                Err(e) => {
                    attempt += 1;
                    self.report_destination_failed(&batch, table, attempt, &e);
                    if attempt >= DESTINATION_ATTEMPTS_MAX {
                        self.problem(&format!(
                            "{condition}: batch dropped: the failure destination {table} \
                             could not be written {attempt} times: {e}"
                        ));
                        self.mapping
                            .metrics
                            .dropped
                            .fetch_add(batch.len() as u64, Ordering::Relaxed);
                        return Outcome::Done;
                    }
                    self.sleep_unless_stopped(Duration::from_millis(backoff_ms(attempt)));
                }
            }
        }
    }

    /// Lambda's invocation record of a failed batch, as its documented example has it
    /// (services-dynamodb-errors): `requestContext`, `responseContext` (when the
    /// function was invoked), `version`, `timestamp` and `DDBStreamBatchInfo`. Lambda
    /// sends no records with it; Eddy keeps them beside it in the item.
    fn invocation_record(
        &self,
        cfg: &MappingConfig,
        id: &str,
        batch: (&Rendered, &Rendered, usize),
        condition: &str,
        attempts: Attempts,
    ) -> Value {
        let (first, last, size) = batch;
        let deps = &self.deps;
        let mut record = json!({
            "requestContext": {
                "requestId": id,
                "functionArn": format!(
                    "arn:aws:lambda:{}:{}:function:{}",
                    deps.region, deps.account_id, cfg.function_name
                ),
                "condition": condition,
                "approximateInvokeCount": attempts.invokes,
            },
            "version": INVOCATION_RECORD_VERSION,
            "timestamp": rfc3339_ms(now_ms()),
            "DDBStreamBatchInfo": {
                "shardId": self.wire_shard_id(),
                "startSequenceNumber": self.wire_sequence_number(first.seq),
                "endSequenceNumber": self.wire_sequence_number(last.seq),
                "approximateArrivalOfFirstRecord": iso_seconds(first.created_us),
                "approximateArrivalOfLastRecord": iso_seconds(last.created_us),
                "batchSize": size,
                "streamArn": cfg.stream_arn,
            },
        });
        // A batch the function never saw (expired or too old before its first
        // invocation, or a recursive loop) has no response to describe.
        if attempts.invokes > 0 {
            let mut response = json!({ "statusCode": 200, "executedVersion": "$LATEST" });
            if let Some(error) = attempts.function_error {
                response["functionError"] = Value::from(error);
            }
            record["responseContext"] = response;
        }
        record
    }

    /// Writes one item describing the failed batch into the destination table: its key
    /// (the failure's id, and the first sequence number for a sort key), the
    /// invocation record as JSON in `context`, its main fields as attributes to query
    /// by, and — Eddy's extension, named so — the records in `eddyRecords`.
    pub(super) fn send_to_destination(
        &self,
        cfg: &MappingConfig,
        table: &str,
        failed: &Failed<'_>,
        condition: &str,
        attempts: Attempts,
    ) -> Result<(), String> {
        // A batch that could not be rendered for delivery is rendered here, once more.
        let raw;
        let (rendered, batch) = match *failed {
            Failed::Rendered(rendered, batch) => (rendered, batch),
            Failed::Raw(records) => {
                raw = RenderedBatch::render(
                    self.codec.as_ref(),
                    &self.stream,
                    &cfg.stream_arn,
                    records,
                );
                (&raw, raw.records.as_slice())
            }
        };
        let key_schema = self.deps.failures.key_schema(table)?;
        let first = &batch[0];
        let last = &batch[batch.len() - 1];
        let shard_id = self.wire_shard_id();
        // The id is the batch's place in the stream, so that a write retried after an
        // unknown outcome overwrites its own item rather than adding a second one.
        let id = format!(
            "{}:{}:{}",
            self.mapping.id,
            shard_id,
            self.wire_sequence_number(first.seq)
        );
        let records = rendered
            .records_array(batch)
            .map_err(|e| format!("a rendered record is not JSON: {e}"))?;
        let record =
            self.invocation_record(cfg, &id, (first, last, batch.len()), condition, attempts);
        let s = |v: String| AttributeValue::S(v);
        let mut item = item_key(&key_schema, &id, first.seq)?;
        item.insert("condition".into(), s(condition.into()));
        item.insert("triggerId".into(), s(self.mapping.id.clone()));
        item.insert("functionName".into(), s(cfg.function_name.clone()));
        item.insert("shardId".into(), s(shard_id));
        item.insert(
            "startSequenceNumber".into(),
            s(self.wire_sequence_number(first.seq)),
        );
        item.insert(
            "endSequenceNumber".into(),
            s(self.wire_sequence_number(last.seq)),
        );
        item.insert(
            "batchSize".into(),
            AttributeValue::N(eddy_engine::Number::from_i64(batch.len() as i64)),
        );
        item.insert("context".into(), s(record.to_string()));
        item.insert("eddyRecords".into(), s(records));
        self.deps.failures.put(table, item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_engine::KeyAttribute;

    fn schema(hash: KeyType, range: Option<KeyType>) -> KeySchema {
        KeySchema {
            hash: KeyAttribute {
                name: "pk".into(),
                key_type: hash,
            },
            range: range.map(|key_type| KeyAttribute {
                name: "sk".into(),
                key_type,
            }),
        }
    }

    #[test]
    fn the_item_key_holds_the_failure_id_and_the_first_sequence_number() {
        let key = item_key(&schema(KeyType::S, Some(KeyType::N)), "t:s:1", 42).unwrap();
        assert_eq!(key["pk"], AttributeValue::S("t:s:1".into()));
        assert_eq!(
            key["sk"],
            AttributeValue::N(eddy_engine::Number::from_i64(42))
        );
        let key = item_key(&schema(KeyType::B, Some(KeyType::S)), "id", 7).unwrap();
        assert_eq!(key["pk"], AttributeValue::B(b"id".to_vec()));
        assert_eq!(key["sk"], AttributeValue::S(format_sequence_number(7)));
        let err = item_key(&schema(KeyType::N, None), "id", 7).unwrap_err();
        assert!(err.contains("partition key pk is a number"), "{err}");
    }

    #[test]
    fn arrival_times_are_iso_8601_to_the_second_as_in_lambdas_record() {
        // 2019-11-14T00:13:19.5Z, the arrival of Lambda's documented example.
        assert_eq!(iso_seconds(1_573_690_399_500_000), "2019-11-14T00:13:19Z");
        assert_eq!(iso_seconds(0), "1970-01-01T00:00:00Z");
    }
}
