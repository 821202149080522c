//! The stream log: one change record per real item modification, per hash shard,
//! written by the group-commit writer in the same fjall batch as the item, kept for the
//! retention period (24 h by default) and read through `Engine::read_shard`.
//!
//! # Layout (format version 1)
//!
//! | keyspace | key | value |
//! |---|---|---|
//! | `streams` | `[stream_id u32][shard u16][seq u64]` (big-endian) | a record, below |
//! | `meta` | `b"stream/" + stream_id u32` | a [`StreamDef`] (version byte + postcard) |
//! | `meta` | `b"trim/" + stream_id u32 + shard u16` | `u64`: the shard's trim horizon |
//! | `meta` | `b"seq_hwm"` | `u64`: the highest sequence number ever assigned |
//!
//! A record is `[version 2][event u8: 1 INSERT, 2 MODIFY, 3 REMOVE, 4 REMOVE by TTL][created_us u64]`
//! `[view u8][size_bytes u32][hops u8]` then three length-prefixed (`u32`) sections: the keys,
//! the new image and the old image, each an item in the `codec.rs` format or empty
//! (length 0) when the view type leaves it out.
//!
//! Sequence numbers come from one counter per database, assigned by the writer in
//! commit order, so they strictly increase within every shard (and across shards).
//! On the wire a sequence number is `"1"` followed by the counter in 20 digits: a
//! 21-digit decimal that orders like the counter.
//!
//! This module knows nothing of the Streams wire API; `src/streams.rs` builds the JSON.

//!
//! The rooms: `def.rs` (a stream's definition and specification, the lowest: the
//! catalog refers to it), `record.rs` (a record's stored form and key), `registry.rs`
//! (what the engine keeps in memory: definitions, heads, trim horizons, commit
//! listeners), `control.rs` (enabling and disabling, run on the writer), `read.rs`
//! (reading shards and waiting for records) and `trim.rs` (retention).

pub(crate) mod control;
pub(crate) mod def;
pub(crate) mod read;
pub(crate) mod record;
pub(crate) mod registry;
pub(crate) mod trim;
