//! Secondary indexes, global and local: their definitions, the checks CreateTable and
//! writes make against them, and the index entries the writer keeps in step with the
//! table.
//!
//! An index is a sorted copy of the table's items under other key attributes. The
//! writer stages an item's index entries in the same batch as the item (`writer/`),
//! so an index is never behind or ahead of its table, even across a crash. An item has
//! an entry only if every index key attribute is present, of its defined type, not
//! empty and within DynamoDB's key-size limits ([`entry_key`]; a missing attribute
//! makes a *sparse* index, the rest are DynamoDB's *index-key violations*). A write
//! that would violate the key of a complete index is rejected before anything is
//! written, as DynamoDB rejects it ([`check_item`]).
//!
//! UpdateTable adds a global index to a live table without waiting for it: the writer
//! starts keeping the index (in the UpdateTable job, `tables.rs`) and `backfill.rs` indexes the
//! items already there in the background, from a stored cursor, while the index is
//! `CREATING` and cannot be read. Deleting an index stops the writer keeping it before
//! its entries are purged.
//!
//! # Layout
//!
//! Entries live in the `items` keyspace under the index's own storage id, allocated
//! from the same counter as table ids (so never reused):
//!
//! ```text
//! [index_id: u32][shard: u16][hash: u64][enc(index pk)][enc(index sk)]?[enc(table pk)][enc(table sk)]?
//! ```
//!
//! A global index with a multi-attribute key (up to four HASH and four RANGE
//! attributes) has `enc` of every HASH value, then of every RANGE value, in KeySchema
//! order, after a hash of all the HASH values together (`keys.rs`): its partition is
//! the tuple of HASH values and its order that of the tuple of RANGE values, and a
//! Query's equal leading values are a key prefix. One attribute of each role is the
//! layout above byte for byte.
//!
//! The head is an item key (`keys.rs`) of the index's own key values; the table key
//! after it tells apart items that share index key values, which an index allows. As
//! `enc` is prefix-free, "index keys = v" is a key prefix, which is how Query reads an
//! index. The value is the item projected to the index, in the item codec.
//!
//! This module knows nothing of the wire JSON.

//! The rooms: `def.rs` (an index's definition, its validation and counters: below the
//! catalog, which holds them), `plan.rs` (UpdateTable's index changes), `entries.rs`
//! (an item's entries, their keys and projection).

pub(crate) mod def;
pub(crate) mod entries;
pub(crate) mod plan;

#[cfg(test)]
mod tests;
