//! Shared helpers of the executor's integration tests: the test guests (built by
//! `tests/run.sh`), Lambda-shaped events and a recording [`TableApi`].

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use eddy_triggers::{TableApi, TableCall, TableCallError};
use serde_json::{Value, json};

/// The directory of the built test guests: `$EDDY_TEST_GUESTS_DIR`, or the functions
/// workspace's release output.
pub fn guests_dir() -> PathBuf {
    std::env::var_os("EDDY_TEST_GUESTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../functions/target/wasm32-wasip2/release")
        })
}

/// The bytes of test guest `name` (e.g. `fail_on`).
pub fn guest(name: &str) -> Vec<u8> {
    let path = guests_dir().join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "test guest {} is missing ({e}): run tests/run.sh, which builds the guests with \
             `cargo build --release --target wasm32-wasip2 --manifest-path functions/Cargo.toml`",
            path.display()
        )
    })
}

/// The sequence number of record `i` in [`stream_event`].
pub fn sequence_number(i: usize) -> String {
    format!("{:021}", 1_000 + i)
}

/// A DynamoDB-Streams event as Lambda sends it, with `count` INSERT records of table
/// `users`; records in `failing` have `fail = true` in their NewImage.
pub fn stream_event(count: usize, failing: &[usize]) -> String {
    let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/users/stream/2024-01-01T00:00:00.000";
    let records: Vec<Value> = (0..count)
        .map(|i| {
            json!({
                "eventID": format!("event-{i}"),
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "eventSourceARN": arn,
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_700_000_000.123,
                    "Keys": {"id": {"S": format!("u{i}")}},
                    "NewImage": {
                        "id": {"S": format!("u{i}")},
                        "n": {"N": i.to_string()},
                        "fail": {"BOOL": failing.contains(&i)},
                    },
                    "SequenceNumber": sequence_number(i),
                    "SizeBytes": 42,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
            })
        })
        .collect();
    json!({ "Records": records }).to_string()
}

/// A [`TableApi`] that records every call and keeps items by `(table, id)`: PutItem and
/// GetItem work, everything else answers `{}`.
#[derive(Default)]
pub struct RecordingTables {
    pub calls: Mutex<Vec<(String, Value)>>,
    items: Mutex<HashMap<(String, String), Value>>,
}

impl RecordingTables {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn calls(&self) -> Vec<(String, Value)> {
        self.calls.lock().unwrap().clone()
    }
}

impl TableApi for RecordingTables {
    fn call(&self, call: TableCall<'_>) -> Result<String, TableCallError> {
        let operation = call.operation;
        let request: Value = serde_json::from_str(call.request_json)
            .map_err(|e| TableCallError::new("SerializationException", e.to_string()))?;
        // Like the server's table capability, the grant is checked on the parsed
        // request before anything is recorded.
        let mut named: Vec<&str> = request["TableName"].as_str().into_iter().collect();
        if let Some(items) = request["RequestItems"].as_object() {
            named.extend(items.keys().map(String::as_str));
        }
        let granted: Vec<&str> = call.grant.tables().collect();
        let refused = match named.iter().find(|t| !granted.contains(t)) {
            Some(table) => Some(format!("table/{table}")),
            None => named.is_empty().then(|| "*".to_owned()),
        };
        if let Some(resource) = refused {
            return Err(TableCallError::new(
                "AccessDeniedException",
                format!(
                    "function {} is not authorized to perform: dynamodb:{operation} on resource: {resource}",
                    call.grant.function()
                ),
            ));
        }
        self.calls
            .lock()
            .unwrap()
            .push((operation.to_owned(), request.clone()));
        let table = request["TableName"].as_str().unwrap_or_default().to_owned();
        match operation {
            "PutItem" => {
                let id = request["Item"]["id"]["S"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                self.items
                    .lock()
                    .unwrap()
                    .insert((table, id), request["Item"].clone());
                Ok("{}".to_owned())
            }
            "GetItem" => {
                let id = request["Key"]["id"]["S"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                Ok(match self.items.lock().unwrap().get(&(table, id)) {
                    Some(item) => json!({ "Item": item }).to_string(),
                    None => "{}".to_owned(),
                })
            }
            _ => Ok("{}".to_owned()),
        }
    }
}
