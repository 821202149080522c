//! Test guest: records what it saw. For every record it logs a structured line and writes
//! `{id: eventID, eventName, sequenceNumber, keys, newImage?, userIdentity?}` into the table named by the
//! config value `table` through the DynamoDB capability, reads it back, and prints one line
//! to stdout (captured into the logs).

use eddy_sdk::{AttributeValue, BatchResponse, Context, Error, Item, StreamEvent};

fn record(event: StreamEvent, ctx: &Context) -> Result<BatchResponse, Error> {
    let table = ctx
        .config("table")
        .ok_or_else(|| Error::msg("config value `table` is not set"))?;
    let db = ctx.dynamodb();
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

eddy_sdk::handler!(record);
