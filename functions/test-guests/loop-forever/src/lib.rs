//! Test guest: never returns (a busy loop); the host's deadline must stop it.

use eddy_sdk::{BatchResponse, Context, Error};

fn spin(_event: serde_json::Value, _ctx: &Context) -> Result<BatchResponse, Error> {
    eddy_sdk::log::info("looping forever");
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

eddy_sdk::handler!(spin);
