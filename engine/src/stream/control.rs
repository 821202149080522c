//! Enabling and disabling a table's stream, run on the writer (in a control job) so
//! it is ordered with item writes.
//!
//! It owns a stream's start and end; it must not know the operations that ask for
//! them (`tables.rs`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::catalog::TableRef;
use crate::clock::{iso8601_ms, now_ms};
use crate::error::Result;
use crate::meta::allocate_id;
use crate::state::State;
use crate::stream::def::{StreamDef, StreamViewType, stream_meta_key};
use crate::sync::{read, write};
use crate::writer::staging::Staging;

/// Creates and enables a new stream for `table` (in the batch being built).
pub(crate) fn enable_stream(
    state: &State,
    table: &TableRef,
    view: StreamViewType,
    batch: &mut Staging,
) -> Result<Arc<StreamDef>> {
    let id = allocate_id(state, b"next_stream_id", batch)?;
    let mut created_ms = now_ms();
    // Labels must be unique per table: never reuse a millisecond.
    let defs = read(&state.streams.defs);
    while defs
        .values()
        .any(|d| d.table_name == table.def.name && d.created_ms >= created_ms)
    {
        created_ms += 1;
    }
    drop(defs);
    let def = Arc::new(StreamDef {
        id,
        table_name: table.def.name.clone(),
        table_id: table.def.id,
        label: iso8601_ms(created_ms),
        view_type: view,
        key_schema: table.def.key_schema.clone(),
        shards: table.def.shards,
        created_ms,
        start_seq: state.seq.load(Ordering::Acquire),
        disabled_ms: None,
    });
    batch.insert(&state.meta, stream_meta_key(id), def.encode()?);
    *write(&table.stats.stream) = Some(Arc::clone(&def));
    write(&state.streams.defs).insert(id, Arc::clone(&def));
    Ok(def)
}

/// Disables the table's current stream: its shards close and stay readable until
/// retention trims them.
pub(crate) fn disable_stream(state: &State, table: &TableRef, batch: &mut Staging) -> Result<()> {
    let Some(current) = read(&table.stats.stream).clone() else {
        return Ok(());
    };
    let mut def = (*current).clone();
    def.disabled_ms = Some(now_ms());
    batch.insert(&state.meta, stream_meta_key(def.id), def.encode()?);
    write(&table.stats.stream).take();
    write(&state.streams.defs).insert(def.id, Arc::new(def));
    Ok(())
}
