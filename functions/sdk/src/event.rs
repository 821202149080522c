//! The events a function receives, field for field as AWS Lambda sends them.
//!
//! Owns: the DynamoDB-Streams event ([`StreamEvent`]), the EventBridge scheduled event
//! ([`ScheduledEvent`]) and attribute values in DynamoDB JSON ([`AttributeValue`]).
//! Must not know how the host produces them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// An item (or a key) in DynamoDB JSON: attribute name → value.
pub type Item = BTreeMap<String, AttributeValue>;

/// One attribute value in DynamoDB JSON, e.g. `{"S":"Ada"}` or `{"N":"42"}`.
///
/// Numbers are strings (DynamoDB numbers have 38 digits); binary values are base64 text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AttributeValue {
    /// A string.
    S(String),
    /// A number, as its decimal text.
    N(String),
    /// Binary, base64-encoded.
    B(String),
    /// A string set.
    #[serde(rename = "SS")]
    Ss(Vec<String>),
    /// A number set.
    #[serde(rename = "NS")]
    Ns(Vec<String>),
    /// A binary set, base64-encoded.
    #[serde(rename = "BS")]
    Bs(Vec<String>),
    /// A map.
    M(BTreeMap<String, AttributeValue>),
    /// A list.
    L(Vec<AttributeValue>),
    /// Null (always `true` on the wire).
    #[serde(rename = "NULL")]
    Null(bool),
    /// A boolean.
    #[serde(rename = "BOOL")]
    Bool(bool),
}

impl AttributeValue {
    /// A string value.
    pub fn s(value: impl Into<String>) -> Self {
        Self::S(value.into())
    }

    /// A number value from anything that prints as a number.
    pub fn n(value: impl fmt::Display) -> Self {
        Self::N(value.to_string())
    }

    /// The string, if this is `S`.
    pub fn as_s(&self) -> Option<&str> {
        match self {
            Self::S(s) => Some(s),
            _ => None,
        }
    }

    /// The number's text, if this is `N`.
    pub fn as_n(&self) -> Option<&str> {
        match self {
            Self::N(n) => Some(n),
            _ => None,
        }
    }

    /// The boolean, if this is `BOOL`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The map, if this is `M`.
    pub fn as_m(&self) -> Option<&BTreeMap<String, AttributeValue>> {
        match self {
            Self::M(m) => Some(m),
            _ => None,
        }
    }

    /// The list, if this is `L`.
    pub fn as_l(&self) -> Option<&[AttributeValue]> {
        match self {
            Self::L(l) => Some(l),
            _ => None,
        }
    }
}

/// A DynamoDB-Streams event: one batch of stream records from one shard.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamEvent {
    /// The records, in sequence order.
    #[serde(rename = "Records")]
    pub records: Vec<StreamRecord>,
    /// Tumbling windows only: the window this batch belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<TimeWindow>,
    /// Tumbling windows only: the state returned by the previous invocation of the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<serde_json::Map<String, serde_json::Value>>,
    /// Tumbling windows only: the shard.
    #[serde(rename = "shardId", default, skip_serializing_if = "Option::is_none")]
    pub shard_id: Option<String>,
    /// Tumbling windows only: the stream's ARN.
    #[serde(
        rename = "eventSourceARN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub event_source_arn: Option<String>,
    /// Tumbling windows only: whether this is the window's last invocation.
    #[serde(
        rename = "isFinalInvokeForWindow",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub is_final_invoke_for_window: Option<bool>,
    /// Tumbling windows only: whether the window ended before its time (shard closed).
    #[serde(
        rename = "isWindowTerminatedEarly",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub is_window_terminated_early: Option<bool>,
}

/// A tumbling window: `{"start": "<RFC 3339>", "end": "<RFC 3339>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    /// The window's start, inclusive.
    pub start: String,
    /// The window's end, exclusive.
    pub end: String,
}

/// What happened to the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventName {
    /// A new item was written.
    Insert,
    /// An existing item was changed.
    Modify,
    /// An item was deleted.
    Remove,
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Insert => "INSERT",
            Self::Modify => "MODIFY",
            Self::Remove => "REMOVE",
        })
    }
}

/// One stream record, as in Lambda's `Records[]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamRecord {
    /// Unique per record.
    #[serde(rename = "eventID")]
    pub event_id: String,
    /// INSERT, MODIFY or REMOVE.
    #[serde(rename = "eventName")]
    pub event_name: EventName,
    /// The record format version, `"1.1"`.
    #[serde(rename = "eventVersion")]
    pub event_version: String,
    /// `"aws:dynamodb"`.
    #[serde(rename = "eventSource")]
    pub event_source: String,
    /// The region of the table.
    #[serde(rename = "awsRegion")]
    pub aws_region: String,
    /// The stream's ARN.
    #[serde(rename = "eventSourceARN")]
    pub event_source_arn: String,
    /// The change itself.
    pub dynamodb: StreamRecordData,
    /// Who made the change, for changes made by the service (TTL deletions).
    #[serde(
        rename = "userIdentity",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub user_identity: Option<UserIdentity>,
}

/// The `dynamodb` part of a stream record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamRecordData {
    /// When the change was made, in seconds since the Unix epoch (fractional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_creation_date_time: Option<f64>,
    /// The item's key.
    #[serde(default)]
    pub keys: Item,
    /// The item after the change (NEW_IMAGE, NEW_AND_OLD_IMAGES).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_image: Option<Item>,
    /// The item before the change (OLD_IMAGE, NEW_AND_OLD_IMAGES).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_image: Option<Item>,
    /// The record's position in its shard, as decimal text.
    pub sequence_number: String,
    /// The record's size in bytes.
    #[serde(default)]
    pub size_bytes: u64,
    /// KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES.
    #[serde(default)]
    pub stream_view_type: String,
}

/// Who made a change made by the service itself (TTL: `{"type":"Service",
/// "principalId":"dynamodb.amazonaws.com"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserIdentity {
    /// `"Service"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `"dynamodb.amazonaws.com"`.
    #[serde(rename = "principalId")]
    pub principal_id: String,
}

/// An EventBridge scheduled event, what a schedule sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduledEvent {
    /// `"0"`.
    #[serde(default)]
    pub version: String,
    /// Unique per event.
    #[serde(default)]
    pub id: String,
    /// `"Scheduled Event"`.
    #[serde(rename = "detail-type", default)]
    pub detail_type: String,
    /// `"aws.events"`.
    #[serde(default)]
    pub source: String,
    /// The account, as in AWS.
    #[serde(default)]
    pub account: String,
    /// The scheduled time, RFC 3339.
    #[serde(default)]
    pub time: String,
    /// The region.
    #[serde(default)]
    pub region: String,
    /// The schedule's ARN.
    #[serde(default)]
    pub resources: Vec<String>,
    /// The schedule's fixed payload.
    #[serde(default)]
    pub detail: serde_json::Value,
}
