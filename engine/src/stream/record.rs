//! A change record's stored form (see the layout in `stream/mod.rs`), its key in the
//! `streams` keyspace, and the wire form of a sequence number.
//!
//! It owns the record encoding; it must not know where records are kept in memory or
//! who reads them.

use crate::codec::{decode_item, encode_item};
use crate::error::{Error, Result};
use crate::stream::def::{EventName, StreamViewType};
use crate::value::{Item, item_size_bytes};

/// Version 2 added `hops`; version 1 records (without it) still decode, with 0 hops.
const RECORD_VERSION: u8 = 2;

/// One change record as the engine reads it back.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRecord {
    pub seq: u64,
    pub event_name: EventName,
    /// Commit time in microseconds since the epoch (iterator age is measured from it).
    pub created_us: u64,
    pub view_type: StreamViewType,
    pub size_bytes: u64,
    /// Trigger invocations that led to this change (0 for a client's write).
    pub hops: u8,
    /// A REMOVE made by the Time to Live sweeper (see `ttl.rs`), which the wire reports
    /// as the TTL service's `userIdentity`.
    pub by_ttl: bool,
    pub keys: Item,
    pub new_image: Option<Item>,
    pub old_image: Option<Item>,
}

/// The wire form of a sequence number: `"1"` and the counter in 20 digits.
pub fn format_sequence_number(seq: u64) -> String {
    format!("1{seq:020}")
}

/// Parses a wire sequence number; `None` when it is not one Eddy issued.
pub fn parse_sequence_number(s: &str) -> Option<u64> {
    let digits = s.strip_prefix('1')?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The storage key of a record.
pub(crate) fn record_key(stream_id: u32, shard: u16, seq: u64) -> [u8; 14] {
    let mut k = [0u8; 14];
    k[..4].copy_from_slice(&stream_id.to_be_bytes());
    k[4..6].copy_from_slice(&shard.to_be_bytes());
    k[6..].copy_from_slice(&seq.to_be_bytes());
    k
}

pub(crate) fn shard_prefix(stream_id: u32, shard: u16) -> [u8; 6] {
    let mut k = [0u8; 6];
    k[..4].copy_from_slice(&stream_id.to_be_bytes());
    k[4..].copy_from_slice(&shard.to_be_bytes());
    k
}

pub(crate) fn seq_of_key(key: &[u8]) -> Result<u64> {
    let b: [u8; 8] = key
        .get(6..14)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| Error::Storage("corrupt stream record key".into()))?;
    Ok(u64::from_be_bytes(b))
}

/// Builds the stored record of one change, with the images the view type asks for.
/// Returns `None` when nothing changed.
pub(crate) fn encode_record(
    view: StreamViewType,
    key_names: &[&str],
    old: Option<&Item>,
    new: Option<&Item>,
    created_us: u64,
    hops: u8,
    by_ttl: bool,
) -> Option<Vec<u8>> {
    let (event, source) = match (old, new) {
        (None, Some(n)) => (EventName::Insert, n),
        (Some(_), Some(n)) => (EventName::Modify, n),
        (Some(o), None) => (EventName::Remove, o),
        (None, None) => return None,
    };
    let keys: Item = key_names
        .iter()
        .filter_map(|k| source.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();
    let with_new = matches!(
        view,
        StreamViewType::NewImage | StreamViewType::NewAndOldImages
    );
    let with_old = matches!(
        view,
        StreamViewType::OldImage | StreamViewType::NewAndOldImages
    );
    let new = new.filter(|_| with_new);
    let old = old.filter(|_| with_old);
    let size =
        item_size_bytes(&keys) + new.map_or(0, item_size_bytes) + old.map_or(0, item_size_bytes);
    let mut out = Vec::with_capacity(32 + size * 2);
    out.push(RECORD_VERSION);
    out.push(match event {
        EventName::Insert => 1,
        EventName::Modify => 2,
        EventName::Remove if by_ttl => 4,
        EventName::Remove => 3,
    });
    out.extend(created_us.to_be_bytes());
    out.push(view.tag());
    out.extend(u32::try_from(size).unwrap_or(u32::MAX).to_be_bytes());
    out.push(hops);
    for section in [Some(&keys), new, old] {
        match section {
            Some(item) => {
                let bytes = encode_item(item);
                out.extend(u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
                out.extend(bytes);
            }
            None => out.extend(0u32.to_be_bytes()),
        }
    }
    Some(out)
}

/// Decodes a stored record; corrupt bytes are an error, never a panic.
pub(crate) fn decode_record(seq: u64, bytes: &[u8]) -> Result<StreamRecord> {
    let corrupt = || Error::Storage("corrupt stream record".into());
    let mut r = bytes;
    let mut take = |n: usize| -> Result<&[u8]> {
        if r.len() < n {
            return Err(corrupt());
        }
        let (head, rest) = r.split_at(n);
        r = rest;
        Ok(head)
    };
    let version = take(1)?[0];
    if version != RECORD_VERSION && version != 1 {
        return Err(Error::Storage("unknown stream record version".into()));
    }
    let (event_name, by_ttl) = match take(1)?[0] {
        1 => (EventName::Insert, false),
        2 => (EventName::Modify, false),
        3 => (EventName::Remove, false),
        4 => (EventName::Remove, true),
        _ => return Err(corrupt()),
    };
    let created_us = u64::from_be_bytes(take(8)?.try_into().map_err(|_| corrupt())?);
    let view_type = StreamViewType::from_tag(take(1)?[0])?;
    let size_bytes = u64::from(u32::from_be_bytes(
        take(4)?.try_into().map_err(|_| corrupt())?,
    ));
    let hops = if version >= 2 { take(1)?[0] } else { 0 };
    let mut sections = [None, None, None];
    for s in &mut sections {
        let len = u32::from_be_bytes(take(4)?.try_into().map_err(|_| corrupt())?) as usize;
        if len > 0 {
            *s = Some(decode_item(take(len)?)?);
        }
    }
    let [keys, new_image, old_image] = sections;
    Ok(StreamRecord {
        seq,
        event_name,
        created_us,
        view_type,
        size_bytes,
        hops,
        by_ttl,
        keys: keys.ok_or_else(corrupt)?,
        new_image,
        old_image,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_round_trip_and_order() {
        let a = format_sequence_number(1);
        let b = format_sequence_number(20);
        assert_eq!(a.len(), 21);
        assert!(a < b, "string order follows numeric order");
        assert_eq!(parse_sequence_number(&a), Some(1));
        assert_eq!(
            parse_sequence_number(&format_sequence_number(u64::MAX)),
            Some(u64::MAX)
        );
        assert_eq!(parse_sequence_number("12"), None);
        assert_eq!(parse_sequence_number("2000000000000000000001"), None);
    }

    #[test]
    fn records_round_trip_per_view_type() {
        use crate::value::AttributeValue;
        let old: Item = [
            ("pk".to_string(), AttributeValue::S("k".into())),
            ("v".to_string(), AttributeValue::Bool(false)),
        ]
        .into();
        let new: Item = [
            ("pk".to_string(), AttributeValue::S("k".into())),
            ("v".to_string(), AttributeValue::Bool(true)),
        ]
        .into();
        for view in [
            StreamViewType::KeysOnly,
            StreamViewType::NewImage,
            StreamViewType::OldImage,
            StreamViewType::NewAndOldImages,
        ] {
            let bytes = encode_record(view, &["pk"], Some(&old), Some(&new), 42, 3, false).unwrap();
            let r = decode_record(7, &bytes).unwrap();
            assert_eq!(r.event_name, EventName::Modify);
            assert_eq!(r.keys.len(), 1);
            assert_eq!(
                r.new_image.is_some(),
                matches!(
                    view,
                    StreamViewType::NewImage | StreamViewType::NewAndOldImages
                )
            );
            assert_eq!(
                r.old_image.is_some(),
                matches!(
                    view,
                    StreamViewType::OldImage | StreamViewType::NewAndOldImages
                )
            );
            assert_eq!(r.created_us, 42);
            assert_eq!(r.hops, 3);
            for cut in 0..bytes.len() {
                assert!(decode_record(7, &bytes[..cut]).is_err());
            }
        }
        assert!(
            encode_record(StreamViewType::KeysOnly, &["pk"], None, None, 1, 0, false).is_none()
        );
    }
}
