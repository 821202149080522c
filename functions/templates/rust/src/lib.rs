//! The function `{{name}}`: runs on each batch of changes of the tables its triggers
//! name (or on a schedule), like an AWS Lambda handler.

use eddy_sdk::{BatchResponse, Context, Error, StreamEvent};

/// Logs each record and reports every record handled.
///
/// To write to a table the function is granted (`tables` in eddy.toml):
/// `ctx.dynamodb().put("greetings", image.clone())?`.
/// To have a record retried (with the ones after it) instead of failing the whole
/// batch: `response.fail(record)` and `report_batch_item_failures = true` on the trigger.
fn handler(event: StreamEvent, _ctx: &Context) -> Result<BatchResponse, Error> {
    let response = BatchResponse::success();
    for record in &event.records {
        eddy_sdk::log::info(&format!(
            "{{name}} handled {} {}",
            record.event_name, record.event_id
        ));
    }
    Ok(response)
}

eddy_sdk::handler!(handler);
