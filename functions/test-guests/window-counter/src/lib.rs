//! Test guest: a tumbling-window aggregate. Every invocation adds its records to the
//! `count` carried in the window's state; the final invocation of a window writes
//! `{id: <window start>, count}` into the table named by config `table`.

use eddy_sdk::{AttributeValue, Context, Error, Item};
use serde_json::{Value, json};

fn count(event: Value, ctx: &Context) -> Result<Value, Error> {
    let records = event["Records"].as_array().map_or(0, Vec::len) as u64;
    let total = event["state"]["count"].as_u64().unwrap_or(0) + records;
    if event["isFinalInvokeForWindow"] == json!(true) {
        let table = ctx
            .config("table")
            .ok_or_else(|| Error::msg("config value `table` is not set"))?;
        let start = event["window"]["start"].as_str().unwrap_or("?").to_owned();
        let item = Item::from([
            ("id".to_owned(), AttributeValue::s(start)),
            ("count".to_owned(), AttributeValue::n(total)),
        ]);
        ctx.dynamodb().put(&table, item)?;
        return Ok(json!({}));
    }
    Ok(json!({ "state": { "count": total } }))
}

eddy_sdk::handler!(count);
