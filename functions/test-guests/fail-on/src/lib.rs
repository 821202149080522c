//! Test guest: reports a batch item failure for every record whose NewImage has
//! `fail = true`; with config `mode=error` it fails the whole invocation instead.

use eddy_sdk::{AttributeValue, BatchResponse, Context, Error, StreamEvent};

fn fail_on(event: StreamEvent, ctx: &Context) -> Result<BatchResponse, Error> {
    if ctx.config("mode").as_deref() == Some("error") {
        return Err(Error::msg("fail-on: mode=error"));
    }
    let mut response = BatchResponse::success();
    for record in &event.records {
        let fail = record
            .dynamodb
            .new_image
            .as_ref()
            .and_then(|image| image.get("fail"))
            .and_then(AttributeValue::as_bool)
            .unwrap_or(false);
        if fail {
            eddy_sdk::log::warn(&format!("failing {}", record.dynamodb.sequence_number));
            response.fail(record);
        }
    }
    Ok(response)
}

eddy_sdk::handler!(fail_on);
