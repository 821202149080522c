//! Benchmark guest: notes when it held each record. For every record it writes
//! `{id: <the record's partition key, a string>, seen_us: <the host's wall clock in
//! microseconds>}` into the table named by the config value `table`, so that a
//! benchmark that wrote each item with its own submission time can compute write ->
//! handler latency the same way in-process and through workers on JetStream.
//!
//! With the config value `mode=count` it writes one item per invocation instead:
//! `{id: <first record's key>@<seen_us>, n: <records in the batch>, seen_us}`, so that a
//! drain benchmark can count what was handled (and when) at one write per batch: close
//! to a no-op function.

use std::time::{SystemTime, UNIX_EPOCH};

use eddy_sdk::{AttributeValue, BatchResponse, Context, Error, Item, StreamEvent};

/// The key attribute of the written items, named by the config value `key`
/// (default `pk`).
const KEY_DEFAULT: &str = "pk";

fn stamp(event: StreamEvent, ctx: &Context) -> Result<BatchResponse, Error> {
    // The clock is read once, when the handler first holds the batch: the latency of
    // every record in it ends here, not after the writes below.
    let seen_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| Error::msg(format!("the wall clock is before 1970: {e}")))?
        .as_micros();
    let table = ctx
        .config("table")
        .ok_or_else(|| Error::msg("config value `table` is not set"))?;
    let key = ctx.config("key").unwrap_or_else(|| KEY_DEFAULT.to_owned());
    let db = ctx.dynamodb();
    if ctx.config("mode").as_deref() == Some("count") {
        let Some(first) = event.records.first() else {
            return Ok(BatchResponse::success());
        };
        let first = match first.dynamodb.keys.get(&key) {
            Some(AttributeValue::S(s)) => s.clone(),
            _ => return Err(Error::msg(format!("a record has no string key `{key}`"))),
        };
        let item = Item::from([
            ("id".to_owned(), AttributeValue::s(format!("{first}@{seen_us}"))),
            ("n".to_owned(), AttributeValue::n(event.records.len())),
            ("seen_us".to_owned(), AttributeValue::n(seen_us)),
        ]);
        db.put(&table, item)?;
        return Ok(BatchResponse::success());
    }
    for record in &event.records {
        let Some(id) = record.dynamodb.keys.get(&key) else {
            return Err(Error::msg(format!("a record has no key attribute `{key}`")));
        };
        let item = Item::from([
            ("id".to_owned(), id.clone()),
            ("seen_us".to_owned(), AttributeValue::n(seen_us)),
        ]);
        db.put(&table, item)?;
    }
    Ok(BatchResponse::success())
}

eddy_sdk::handler!(stamp);
