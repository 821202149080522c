//! Benchmark guest: notes when it held each record. For every record it writes
//! `{id: <the record's partition key, a string>, seen_us: <the host's wall clock in
//! microseconds>}` into the table named by the config value `table`, so that a
//! benchmark that wrote each item with its own submission time can compute write ->
//! handler latency the same way in-process and through workers on JetStream.

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
