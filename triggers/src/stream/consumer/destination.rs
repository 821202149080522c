//! The failure destination: a batch whose retries or age ran out is written, with
//! Lambda's on-failure record, into the mapping's destination table (retried until it
//! is), or dropped when there is none.
//!
//! Owns the destination item's shape and key. Must not know why a batch failed beyond
//! the condition it is given.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::time::Duration;

use eddy_engine::clock::now_us;
use eddy_engine::{AttributeValue, Item, PutItemInput, format_sequence_number};
use serde_json::json;

use super::super::MappingConfig;
use super::super::render::RenderedBatch;
use super::lane::{Consumer, Failed, Outcome, backoff_ms};

impl Consumer {
    /// Retries or age ran out: send the batch to the failure destination (retrying
    /// that until it works), or drop it when there is none, as Lambda does.
    pub(super) fn give_up(
        &self,
        cfg: &MappingConfig,
        batch: Failed<'_>,
        condition: &str,
    ) -> Outcome {
        let Some(table) = &cfg.on_failure_table else {
            self.mapping
                .metrics
                .dropped
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            self.report_given_up(&batch, condition, None);
            return Outcome::Done;
        };
        let mut attempt = 0u32;
        loop {
            if self.stopped() {
                return Outcome::Interrupted;
            }
            let sent = std::panic::catch_unwind(AssertUnwindSafe(|| {
                self.send_to_destination(cfg, table, &batch, condition)
            }))
            .unwrap_or_else(|panic| {
                Err(format!(
                    "the host failed: {}",
                    eddy_engine::panic_text(panic.as_ref())
                ))
            });
            match sent {
                Ok(()) => {
                    self.mapping
                        .metrics
                        .sent_to_failure_destination
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    self.report_given_up(&batch, condition, Some(table));
                    return Outcome::Done;
                }
                Err(e) => {
                    attempt += 1;
                    self.report_destination_failed(&batch, table, attempt, &e);
                    let backoff = backoff_ms(attempt);
                    self.sleep_unless_stopped(Duration::from_millis(backoff));
                }
            }
        }
    }

    /// Writes one item describing the failed batch (Lambda's on-failure record, plus the
    /// records themselves) into the destination table.
    pub(super) fn send_to_destination(
        &self,
        cfg: &MappingConfig,
        table: &str,
        failed: &Failed<'_>,
        condition: &str,
    ) -> Result<(), String> {
        // A batch that could not be rendered for delivery is rendered here, once more.
        let raw;
        let (rendered, batch) = match *failed {
            Failed::Rendered(rendered, batch) => (rendered, batch),
            Failed::Raw(records) => {
                raw = RenderedBatch::render(
                    self.rt.deps.codec.as_ref(),
                    &self.stream,
                    &cfg.stream_arn,
                    records,
                );
                (&raw, raw.records.as_slice())
            }
        };
        let engine = self.engine();
        let desc = engine.describe_table(table).map_err(|e| e.to_string())?;
        let first = &batch[0];
        let last = &batch[batch.len() - 1];
        let shard_id = self.stream.shard_id(self.shard);
        let id = format!(
            "{}:{}:{}",
            self.mapping.id,
            shard_id,
            format_sequence_number(first.seq)
        );
        let records = rendered
            .records_array(batch)
            .map_err(|e| format!("a rendered record is not JSON: {e}"))?;
        let context = json!({
            "requestContext": {
                "requestId": id,
                "functionArn": format!("arn:aws:lambda:{}:{}:function:{}", engine.config().region, engine.config().account_id, cfg.function_name),
                "condition": condition,
                "approximateInvokeCount": self.mapping.metrics.invocations.load(Ordering::Relaxed),
            },
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": format_sequence_number(first.seq),
                "endSequenceNumber": format_sequence_number(last.seq),
                "approximateArrivalOfFirstRecord": first.created_us as f64 / 1e6,
                "approximateArrivalOfLastRecord": last.created_us as f64 / 1e6,
                "batchSize": batch.len(),
                "streamArn": cfg.stream_arn,
            },
            "timestamp": now_us() as f64 / 1e6,
        });
        let s = |v: String| AttributeValue::S(v);
        let mut item = Item::new();
        item.insert("condition".into(), s(condition.into()));
        item.insert("triggerId".into(), s(self.mapping.id.clone()));
        item.insert("functionName".into(), s(cfg.function_name.clone()));
        item.insert("shardId".into(), s(shard_id));
        item.insert(
            "startSequenceNumber".into(),
            s(format_sequence_number(first.seq)),
        );
        item.insert(
            "endSequenceNumber".into(),
            s(format_sequence_number(last.seq)),
        );
        item.insert(
            "batchSize".into(),
            AttributeValue::N(eddy_engine::Number::from_i64(batch.len() as i64)),
        );
        item.insert("context".into(), s(context.to_string()));
        item.insert("records".into(), s(records));
        // The destination's own key: its hash key holds the failure id, a sort key (if
        // any) the first sequence number.
        let key_value = |t: eddy_engine::KeyType, text: String| match t {
            eddy_engine::KeyType::S => Some(AttributeValue::S(text)),
            eddy_engine::KeyType::B => Some(AttributeValue::B(text.into_bytes())),
            eddy_engine::KeyType::N => None,
        };
        let hash = &desc.def.key_schema.hash;
        let v = key_value(hash.key_type, id).ok_or_else(|| {
            format!(
                "the destination's partition key {} must be a string or binary",
                hash.name
            )
        })?;
        item.insert(hash.name.clone(), v);
        if let Some(range) = &desc.def.key_schema.range {
            let v = match range.key_type {
                eddy_engine::KeyType::N => {
                    AttributeValue::N(eddy_engine::Number::from_i64(first.seq as i64))
                }
                t => {
                    key_value(t, format_sequence_number(first.seq)).unwrap_or(AttributeValue::Null)
                }
            };
            item.insert(range.name.clone(), v);
        }
        let (tx, rx) = std::sync::mpsc::channel();
        engine.put_item(
            PutItemInput {
                table: table.to_string(),
                item,
                ..Default::default()
            },
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv()
            .map_err(|_| "the engine stopped".to_string())?
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
