//! Test guest: panics (a Rust panic aborts with the `unreachable` instruction).

use eddy_sdk::{BatchResponse, Context, Error};

fn boom(_event: serde_json::Value, _ctx: &Context) -> Result<BatchResponse, Error> {
    eddy_sdk::log::info("about to panic");
    panic!("trap guest: deliberate panic");
}

eddy_sdk::handler!(boom);
