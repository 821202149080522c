//! Lambda's batch response for stream event sources.
//!
//! Owns the JSON shape `{"batchItemFailures":[{"itemIdentifier":"<SequenceNumber>"}]}`,
//! plus `state` for tumbling windows. Must not know how the host checkpoints.

use serde::{Deserialize, Serialize};

use crate::StreamRecord;

/// What a handler returns for a batch (with `ReportBatchItemFailures`): the records that
/// failed, by sequence number. The trigger checkpoints before the lowest one and retries
/// from there. An empty list means the whole batch succeeded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchResponse {
    /// The failed records.
    #[serde(rename = "batchItemFailures", default)]
    pub batch_item_failures: Vec<BatchItemFailure>,
    /// Tumbling windows only: the state handed to the next invocation of the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<serde_json::Map<String, serde_json::Value>>,
}

/// One failed record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchItemFailure {
    /// The record's `dynamodb.SequenceNumber`.
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

impl BatchResponse {
    /// The whole batch succeeded.
    pub fn success() -> Self {
        Self::default()
    }

    /// Marks `record` as failed.
    pub fn fail(&mut self, record: &StreamRecord) {
        self.batch_item_failures.push(BatchItemFailure {
            item_identifier: record.dynamodb.sequence_number.clone(),
        });
    }

    /// Sets the tumbling-window state handed to the next invocation.
    pub fn with_state(mut self, state: serde_json::Map<String, serde_json::Value>) -> Self {
        self.state = Some(state);
        self
    }
}
