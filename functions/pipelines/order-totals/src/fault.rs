//! Fault injection for tests: the `FAIL_PERCENT` knob.
//!
//! Owns the decision whether a batch fails, and how. With `FAIL_PERCENT = p`, a batch
//! whose first record's eventID hashes into the bottom `p` percent fails once, after part
//! of it was applied, so the trigger delivers records again that were already applied —
//! the real at-least-once situation the ledger must absorb. Half of the chosen batches
//! return a function error after applying the first half of the batch (the whole batch
//! is retried, or bisected); the other half apply everything and then report the middle
//! record in `batchItemFailures` (it and the records after it are delivered again).
//!
//! Progress is certain: before failing, the function writes a marker item for the batch
//! (keyed by its first eventID) into the ledger table, with a condition that it does not
//! exist yet; a batch whose marker already exists is not failed again. A retried batch
//! starts at the same record, so every first record fails at most once. Must not know how
//! records are applied.

use eddy_sdk::{AttributeValue, DynamoDb, Error, Item, PutItemInput, StreamEvent};

use crate::{CUSTOMER_ATTR, ORDER_ATTR};

/// The ledger's `customer_id` under which fault markers are kept, apart from any order
/// (customer ids starting with `#` are reserved for the pipeline's bookkeeping).
const MARKER_CUSTOMER: &str = "#fault-injection";
/// The percentages are taken of this range of hash values; it is also the largest
/// `FAIL_PERCENT` (every batch fails once).
pub const PERCENT_RANGE: u64 = 100;

/// How a batch fails, if it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The batch is handled normally.
    None,
    /// A function error once this many records have been applied.
    ErrorAfter(usize),
    /// Every record is applied, then the record at this index is reported as failed.
    ReportFrom(usize),
}

/// Whether and how this batch fails (see the module documentation).
pub fn decide(
    db: &DynamoDb,
    ledger_table: &str,
    fail_percent: u64,
    event: &StreamEvent,
) -> Result<Fault, Error> {
    let Some(first) = event.records.first() else {
        return Ok(Fault::None);
    };
    let hash = fnv1a(first.event_id.as_bytes());
    if fail_percent == 0 || hash % PERCENT_RANGE >= fail_percent {
        return Ok(Fault::None);
    }
    let marker = Item::from([
        (CUSTOMER_ATTR.to_owned(), AttributeValue::s(MARKER_CUSTOMER)),
        (ORDER_ATTR.to_owned(), AttributeValue::s(&first.event_id)),
    ]);
    let first_time = db.put_item(&PutItemInput {
        table_name: ledger_table.to_owned(),
        item: marker,
        condition_expression: Some(format!("attribute_not_exists({CUSTOMER_ATTR})")),
        ..PutItemInput::default()
    });
    match first_time {
        Ok(_) => {}
        Err(e) if e.code == "ConditionalCheckFailedException" => return Ok(Fault::None),
        Err(e) => return Err(e.into()),
    }
    let len = event.records.len();
    // The next bit of the hash picks the kind, so both kinds occur.
    Ok(if (hash / PERCENT_RANGE).is_multiple_of(2) {
        Fault::ErrorAfter(len.div_ceil(2))
    } else {
        Fault::ReportFrom(len / 2)
    })
}

/// 64-bit FNV-1a: a stable hash, the same in every build and on every run.
fn fnv1a(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET_BASIS, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}
