//! # order-totals: a materialized view of an orders table
//!
//! Runs on the stream (NEW_AND_OLD_IMAGES) of an `orders` table keyed by `customer_id`
//! (hash) and `order_id` (range), with a string `status` and a number `amount`, and keeps
//! a view table keyed by `customer_id` (hash) and `scope` (range) with, per customer,
//! `order_count` and `amount_sum` over all orders (`scope = "ALL"`) and over the orders
//! of each status (`scope = "status#<status>"`).
//!
//! ## Exactly-once effect under at-least-once delivery
//!
//! Retries, bisected batches, partial batch responses and restarts after a crash deliver
//! some records again. Each record is applied with ONE `TransactWriteItems`:
//!
//! - an `Update … ADD order_count :dc, amount_sum :da` per affected view item (the delta
//!   old image → new image, see `delta.rs`), and
//! - a `Put` of the order's ledger item `{customer_id, order_id, last_seq}` in the ledger
//!   table, conditioned on `attribute_not_exists(last_seq) OR last_seq < :seq`.
//!
//! Sequence numbers are fixed-width decimal strings, so string order is stream order. All
//! records of one order are delivered in stream order (they live in one shard and one
//! lane), so a record whose sequence number is not above the ledger's was already
//! applied: its transaction is cancelled as a whole and the record is skipped. The deltas
//! and the ledger move together or not at all, so a record is counted exactly once. The
//! aggregates only ever receive `ADD`s, which commute, so lanes and shards that update
//! the same customer at the same time need no coordination.
//!
//! The ledger is a separate table so that the view holds only aggregates (a `Scan` of it
//! is the answer). Its items are never deleted: a removed order keeps its `last_seq`, or
//! a replayed REMOVE would subtract twice.
//!
//! ## Configuration (the deployment's environment)
//!
//! - `VIEW_TABLE`: the view table (required).
//! - `LEDGER_TABLE`: the ledger table, keyed like `orders` (required). A rebuild from
//!   `TRIM_HORIZON` needs a fresh view AND a fresh ledger.
//! - `FAIL_PERCENT`: a fault-injection knob for tests (default 0), see `fault.rs`.
//!
//! This crate knows the shapes of the orders and the view; it does not know how the host
//! delivers batches beyond Lambda's contract.

mod decimal;
mod delta;
mod fault;

use eddy_sdk::{AttributeValue, BatchResponse, Context, DynamoDb, Error, Item, StreamEvent};
use eddy_sdk::{StreamRecord, log};
use serde_json::{Value, json};

use crate::delta::Delta;
use crate::fault::Fault;

/// The orders' hash key, copied into the view and the ledger.
pub(crate) const CUSTOMER_ATTR: &str = "customer_id";
/// The orders' range key, copied into the ledger.
pub(crate) const ORDER_ATTR: &str = "order_id";
/// The view's range key.
const SCOPE_ATTR: &str = "scope";
/// The ledger's attribute holding the sequence number of the last applied record.
const LAST_SEQ_ATTR: &str = "last_seq";
/// The only stream view type that carries both images, which the deltas need.
const REQUIRED_VIEW_TYPE: &str = "NEW_AND_OLD_IMAGES";

/// The deployment's configuration.
struct Config {
    view_table: String,
    ledger_table: String,
    fail_percent: u64,
}

impl Config {
    fn load(ctx: &Context) -> Result<Config, Error> {
        let required = |key: &str| {
            ctx.config(key)
                .ok_or_else(|| Error::msg(format!("config value {key} is not set")))
        };
        let fail_percent = match ctx.config("FAIL_PERCENT") {
            None => 0,
            Some(text) => text
                .parse::<u64>()
                .ok()
                .filter(|p| *p <= fault::PERCENT_RANGE)
                .ok_or_else(|| {
                    Error::msg(format!(
                        "FAIL_PERCENT {text:?} is not a whole number from 0 to {}",
                        fault::PERCENT_RANGE
                    ))
                })?,
        };
        Ok(Config {
            view_table: required("VIEW_TABLE")?,
            ledger_table: required("LEDGER_TABLE")?,
            fail_percent,
        })
    }
}

/// What became of one record.
enum Applied {
    /// Its deltas and its ledger entry were written.
    Now,
    /// The ledger shows it was applied before (a redelivery): nothing was written.
    Before,
}

fn on_orders(event: StreamEvent, ctx: &Context) -> Result<BatchResponse, Error> {
    let config = Config::load(ctx)?;
    let db = ctx.dynamodb();
    let fault = fault::decide(&db, &config.ledger_table, config.fail_percent, &event)?;
    let (mut applied, mut skipped) = (0usize, 0usize);
    for (i, record) in event.records.iter().enumerate() {
        match apply(&db, &config, record)? {
            Applied::Now => applied += 1,
            Applied::Before => skipped += 1,
        }
        if fault == Fault::ErrorAfter(i + 1) {
            log::warn(&format!(
                "injected fault: failing the batch after {} of {} records",
                i + 1,
                event.records.len()
            ));
            return Err(Error::msg("injected fault (FAIL_PERCENT)"));
        }
    }
    log::log(
        log::Level::Info,
        "batch applied",
        &[
            ("applied", &applied.to_string()),
            ("already_applied", &skipped.to_string()),
        ],
    );
    let mut response = BatchResponse::success();
    if let Fault::ReportFrom(n) = fault {
        // Every record was applied; reporting one as failed makes the trigger deliver it
        // and everything after it again (with ReportBatchItemFailures on; without, the
        // report is ignored and nothing is lost either).
        log::warn(&format!(
            "injected fault: reporting record {n} of {} as failed",
            event.records.len()
        ));
        response.fail(&event.records[n]);
    }
    Ok(response)
}

/// Applies one record's deltas and ledger entry in one transaction, or sees from the
/// ledger that it was applied before.
fn apply(db: &DynamoDb, config: &Config, record: &StreamRecord) -> Result<Applied, Error> {
    let data = &record.dynamodb;
    if data.stream_view_type != REQUIRED_VIEW_TYPE {
        return Err(Error::msg(format!(
            "the orders stream must be {REQUIRED_VIEW_TYPE}, not {:?}",
            data.stream_view_type
        )));
    }
    let key_attr = |name: &str| {
        data.keys
            .get(name)
            .cloned()
            .ok_or_else(|| Error::msg(format!("record {} has no key {name}", record.event_id)))
    };
    let (customer, order) = (key_attr(CUSTOMER_ATTR)?, key_attr(ORDER_ATTR)?);
    let seq = &data.sequence_number;
    let deltas = delta::deltas(data.old_image.as_ref(), data.new_image.as_ref())
        .map_err(|e| Error::msg(format!("record {}: {e}", record.event_id)))?;

    let mut items: Vec<Value> = deltas
        .iter()
        .map(|(scope, d)| view_update(&config.view_table, &customer, scope, d))
        .collect();
    // The ledger entry goes in even when there is no delta, so that the ledger always
    // says how far each order has been applied.
    let ledger_item = Item::from([
        (CUSTOMER_ATTR.to_owned(), customer.clone()),
        (ORDER_ATTR.to_owned(), order.clone()),
        (LAST_SEQ_ATTR.to_owned(), AttributeValue::s(seq)),
    ]);
    items.push(json!({"Put": {
        "TableName": config.ledger_table,
        "Item": ledger_item,
        "ConditionExpression": "attribute_not_exists(#seq) OR #seq < :seq",
        "ExpressionAttributeNames": {"#seq": LAST_SEQ_ATTR},
        "ExpressionAttributeValues": {":seq": AttributeValue::s(seq)},
    }}));
    let request = json!({ "TransactItems": items }).to_string();
    match db.call_json("TransactWriteItems", &request) {
        Ok(_) => Ok(Applied::Now),
        Err(e) if e.code == "TransactionCanceledException" => {
            // Cancelled: either the ledger condition failed (applied before), or
            // something else did (a conflict). The ledger, read consistently, tells which;
            // nothing else writes this order's ledger item, so the answer is stable.
            let key = Item::from([
                (CUSTOMER_ATTR.to_owned(), customer),
                (ORDER_ATTR.to_owned(), order),
            ]);
            let last = db
                .get(&config.ledger_table, key)?
                .and_then(|item| item.get(LAST_SEQ_ATTR).cloned());
            match last.as_ref().and_then(AttributeValue::as_s) {
                Some(last) if last >= seq.as_str() => Ok(Applied::Before),
                _ => Err(Error::msg(format!(
                    "record {} not applied: {e}",
                    record.event_id
                ))),
            }
        }
        Err(e) => Err(Error::msg(format!(
            "record {} not applied: {e}",
            record.event_id
        ))),
    }
}

/// The transaction item that adds `d` to the view item `(customer, scope)`.
fn view_update(table: &str, customer: &AttributeValue, scope: &str, d: &Delta) -> Value {
    json!({"Update": {
        "TableName": table,
        "Key": {CUSTOMER_ATTR: customer, SCOPE_ATTR: AttributeValue::s(scope)},
        "UpdateExpression": "ADD order_count :dc, amount_sum :da",
        "ExpressionAttributeValues": {
            ":dc": AttributeValue::n(d.count),
            ":da": AttributeValue::n(d.amount),
        },
    }})
}

eddy_sdk::handler!(on_orders);
