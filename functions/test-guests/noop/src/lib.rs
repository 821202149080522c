//! Test guest: does nothing (the event is scanned but not kept) and reports success; the
//! executor benchmark measures the per-batch overhead with it.

use eddy_sdk::{BatchResponse, Context, Error};

fn noop(_event: serde::de::IgnoredAny, _ctx: &Context) -> Result<BatchResponse, Error> {
    Ok(BatchResponse::success())
}

eddy_sdk::handler!(noop);
