//! Test guest: allocates (and touches) 1 MiB after 1 MiB without bound; the host's memory
//! limit must stop it.

use eddy_sdk::{BatchResponse, Context, Error};

const CHUNK_BYTES: usize = 1024 * 1024;

fn hog(_event: serde_json::Value, _ctx: &Context) -> Result<BatchResponse, Error> {
    eddy_sdk::log::info("allocating without bound");
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        chunks.push(std::hint::black_box(vec![1u8; CHUNK_BYTES]));
    }
}

eddy_sdk::handler!(hog);
