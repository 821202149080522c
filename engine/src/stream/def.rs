//! A stream's definition as the catalog keeps it, its view type, the
//! `StreamSpecification` of CreateTable and UpdateTable, and the `meta` keys of a
//! stream.
//!
//! It owns the stored form of a definition; it must not know records, the registry or
//! any operation (the catalog, below them, refers to it).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::schema::KeySchema;

/// Which images a stream record carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamViewType {
    KeysOnly,
    NewImage,
    OldImage,
    NewAndOldImages,
}

impl StreamViewType {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamViewType::KeysOnly => "KEYS_ONLY",
            StreamViewType::NewImage => "NEW_IMAGE",
            StreamViewType::OldImage => "OLD_IMAGE",
            StreamViewType::NewAndOldImages => "NEW_AND_OLD_IMAGES",
        }
    }

    pub fn parse(s: &str) -> Result<StreamViewType> {
        Ok(match s {
            "KEYS_ONLY" => StreamViewType::KeysOnly,
            "NEW_IMAGE" => StreamViewType::NewImage,
            "OLD_IMAGE" => StreamViewType::OldImage,
            "NEW_AND_OLD_IMAGES" => StreamViewType::NewAndOldImages,
            other => {
                return Err(Error::validation(format!(
                    "1 validation error detected: Value '{other}' at 'streamSpecification.streamViewType' failed to satisfy constraint: Member must satisfy enum value set: [OLD_IMAGE, KEYS_ONLY, NEW_AND_OLD_IMAGES, NEW_IMAGE]"
                )));
            }
        })
    }

    pub(crate) fn tag(self) -> u8 {
        match self {
            StreamViewType::KeysOnly => 1,
            StreamViewType::NewImage => 2,
            StreamViewType::OldImage => 3,
            StreamViewType::NewAndOldImages => 4,
        }
    }

    pub(crate) fn from_tag(t: u8) -> Result<StreamViewType> {
        Ok(match t {
            1 => StreamViewType::KeysOnly,
            2 => StreamViewType::NewImage,
            3 => StreamViewType::OldImage,
            4 => StreamViewType::NewAndOldImages,
            _ => return Err(Error::Storage(format!("unknown stream view type {t}"))),
        })
    }
}

/// The kind of change a record describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    Insert,
    Modify,
    Remove,
}

impl EventName {
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::Insert => "INSERT",
            EventName::Modify => "MODIFY",
            EventName::Remove => "REMOVE",
        }
    }
}

/// A stream as the catalog keeps it. Immutable except for `disabled_ms`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamDef {
    pub id: u32,
    pub table_name: String,
    pub table_id: u32,
    /// ISO-8601 creation time with milliseconds, unique per table.
    pub label: String,
    pub view_type: StreamViewType,
    pub key_schema: KeySchema,
    pub shards: u16,
    pub created_ms: u64,
    /// Every record of this stream has a larger sequence number.
    pub start_seq: u64,
    /// When the stream was disabled (or its table deleted); its shards are closed.
    pub disabled_ms: Option<u64>,
}

const STREAM_DEF_VERSION: u8 = 1;

impl StreamDef {
    /// The DynamoDB Streams id of one of this stream's shards
    /// (`shardId-<created ms, 20 digits>-<stream id><shard>`), stable for the stream's
    /// life and unique across streams of the same table.
    pub fn shard_id(&self, shard: u16) -> String {
        format!(
            "shardId-{:020}-{:08x}{:04x}",
            self.created_ms, self.id, shard
        )
    }

    /// A definition that cannot be encoded is an [`Error::Internal`] of the change
    /// that would store it: an empty payload must never be written in its place.
    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        let mut out = vec![STREAM_DEF_VERSION];
        out.extend(
            postcard::to_stdvec(self)
                .map_err(|e| Error::Internal(format!("cannot encode stream {}: {e}", self.id)))?,
        );
        Ok(out)
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<StreamDef> {
        match bytes.split_first() {
            Some((&STREAM_DEF_VERSION, rest)) => postcard::from_bytes(rest)
                .map_err(|e| Error::Storage(format!("corrupt stream definition: {e}"))),
            _ => Err(Error::Storage("unknown stream definition version".into())),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.disabled_ms.is_none()
    }
}

/// `StreamSpecification` of CreateTable and UpdateTable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSpecification {
    pub enabled: bool,
    pub view_type: Option<StreamViewType>,
}

impl StreamSpecification {
    /// The view type of a specification that enables a stream.
    pub(crate) fn enabling(self) -> Result<Option<StreamViewType>> {
        match (self.enabled, self.view_type) {
            (true, Some(v)) => Ok(Some(v)),
            (true, None) => Err(Error::validation(
                "One or more parameter values were invalid: You must specify a StreamViewType when you enable a stream",
            )),
            (false, _) => Ok(None),
        }
    }
}

/// How long GetRecords' iterators live (DynamoDB: 15 minutes).
pub const SHARD_ITERATOR_TTL_MS: u64 = 15 * 60 * 1000;

/// The `meta` key of a shard's trim horizon.
pub(crate) fn trim_key(stream_id: u32, shard: u16) -> Vec<u8> {
    [
        b"trim/".as_slice(),
        &stream_id.to_be_bytes(),
        &shard.to_be_bytes(),
    ]
    .concat()
}

/// The `meta` key of a stream's definition.
pub(crate) fn stream_meta_key(id: u32) -> Vec<u8> {
    [b"stream/".as_slice(), &id.to_be_bytes()].concat()
}
