//! Test guest: records what it saw. For every record it logs a structured line and writes
//! `{id: eventID, eventName, sequenceNumber, keys, newImage?, userIdentity?}` into the table named by the
//! config value `table` through the DynamoDB capability, reads it back, and prints one line
//! to stdout (captured into the logs).
//!
//! With the config value `mode=batches` it writes one item per invocation instead:
//! `{id: <first eventID>@<ns>, at: <ns since the epoch>, records: "<key>:<v>:<seq> …"}`
//! (each record's `id` key, its NewImage's `v` and its sequence number, in delivery
//! order), so that a test can count redeliveries and check per-item order from few
//! writes.

use eddy_sdk::{AttributeValue, BatchResponse, Context, Error, Item, StreamEvent};

fn record(event: StreamEvent, ctx: &Context) -> Result<BatchResponse, Error> {
    let table = ctx
        .config("table")
        .ok_or_else(|| Error::msg("config value `table` is not set"))?;
    let db = ctx.dynamodb();
    if ctx.config("mode").as_deref() == Some("batches") {
        return record_batch(&event, &table, &db);
    }
    eddy_sdk::log::log(
        eddy_sdk::log::Level::Info,
        "batch received",
        &[
            ("records", &event.records.len().to_string()),
            ("table", &table),
        ],
    );
    for record in &event.records {
        let mut item = Item::new();
        item.insert("id".into(), AttributeValue::s(&record.event_id));
        item.insert(
            "eventName".into(),
            AttributeValue::s(record.event_name.to_string()),
        );
        item.insert(
            "sequenceNumber".into(),
            AttributeValue::s(&record.dynamodb.sequence_number),
        );
        item.insert(
            "keys".into(),
            AttributeValue::M(record.dynamodb.keys.clone()),
        );
        if let Some(image) = &record.dynamodb.new_image {
            item.insert("newImage".into(), AttributeValue::M(image.clone()));
        }
        if let Some(who) = &record.user_identity {
            item.insert(
                "userIdentity".into(),
                AttributeValue::M(Item::from([
                    ("type".to_owned(), AttributeValue::s(&who.kind)),
                    (
                        "principalId".to_owned(),
                        AttributeValue::s(&who.principal_id),
                    ),
                ])),
            );
        }
        db.put(&table, item)?;
        let key = Item::from([("id".to_owned(), AttributeValue::s(&record.event_id))]);
        if db.get(&table, key)?.is_none() {
            return Err(Error::msg(format!(
                "{} not found after put",
                record.event_id
            )));
        }
        eddy_sdk::log::log(
            eddy_sdk::log::Level::Debug,
            "recorded",
            &[
                ("eventID", &record.event_id),
                ("sequenceNumber", &record.dynamodb.sequence_number),
            ],
        );
    }
    println!("recorder: {} records into {table}", event.records.len());
    Ok(BatchResponse::success())
}

/// `mode=batches`: the whole invocation as one item.
fn record_batch(
    event: &StreamEvent,
    table: &str,
    db: &eddy_sdk::DynamoDb,
) -> Result<BatchResponse, Error> {
    let Some(first) = event.records.first() else {
        return Ok(BatchResponse::success());
    };
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let text = |image: Option<&Item>, name: &str| {
        image
            .and_then(|i| i.get(name))
            .and_then(|v| v.as_s().or_else(|| v.as_n()))
            .unwrap_or("-")
            .to_owned()
    };
    let records: Vec<String> = event
        .records
        .iter()
        .map(|r| {
            format!(
                "{}:{}:{}",
                text(Some(&r.dynamodb.keys), "id"),
                text(r.dynamodb.new_image.as_ref(), "v"),
                r.dynamodb.sequence_number
            )
        })
        .collect();
    let mut item = Item::new();
    item.insert(
        "id".into(),
        AttributeValue::s(format!("{}@{at}", first.event_id)),
    );
    item.insert("at".into(), AttributeValue::n(at));
    item.insert("records".into(), AttributeValue::s(records.join(" ")));
    db.put(table, item)?;
    Ok(BatchResponse::success())
}

eddy_sdk::handler!(record);
