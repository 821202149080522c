//! The catalog's records in the `meta` keyspace: table definitions, the id counters,
//! each table's Time to Live setting, and the counting of a table's items on open.
//!
//! It owns those keys and how they are staged and read; it must not know the
//! operations that change the catalog (`tables.rs`, `ttl.rs`, `backfill.rs`).

use std::sync::atomic::{AtomicBool, Ordering};

use fjall::{Keyspace, PersistMode, Readable};

use crate::catalog::TableDef;
use crate::codec::decode_item;
use crate::error::{Error, Result};
use crate::seal::Seal;
use crate::state::State;
use crate::value::item_size_bytes;
use crate::writer::staging::Staging;

/// How many items a count reads between looks at its stop flag.
const COUNT_STOP_CHECK_ITEMS: i64 = 4096;

/// The item count and size of a table or index, by its storage id, as `snapshot` sees
/// them (counted after open, since the counters live in memory); `None` if `stop` was
/// set meanwhile (the engine is shutting down).
pub(crate) fn count_items(
    snapshot: &impl Readable,
    items: &Keyspace,
    seal: &Seal,
    id: u32,
    stop: &AtomicBool,
) -> Result<Option<(i64, i64)>> {
    let (mut n, mut bytes) = (0i64, 0i64);
    for kv in snapshot.prefix(items, id.to_be_bytes()) {
        let (k, v) = kv.into_inner()?;
        let v = seal.open(&k, v)?;
        n += 1;
        bytes += item_size_bytes(&decode_item(&v)?) as i64;
        if n % COUNT_STOP_CHECK_ITEMS == 0 && stop.load(Ordering::Acquire) {
            return Ok(None);
        }
    }
    Ok(Some((n, bytes)))
}
/// The next table id to hand out.
pub(crate) fn allocate_table_id(state: &State) -> Result<u32> {
    let next = match state.meta.get(b"next_table_id")? {
        Some(v) => {
            let b: [u8; 4] = v
                .as_ref()
                .try_into()
                .map_err(|_| Error::Storage("corrupt next_table_id".into()))?;
            u32::from_be_bytes(b)
        }
        None => 1,
    };
    Ok(next)
}

/// Writes (or removes) a table definition, durably, on its own (a change that
/// touches nothing else, such as tags). A change that must commit together with
/// other catalog state stages the definition in its writer job instead
/// ([`stage_table_def`]).
pub(crate) fn persist_table(state: &State, def: &TableDef) -> Result<()> {
    let mut staging = Staging::default();
    stage_table_def(state, &mut staging, def, false, None)?;
    let durability = (!state.config.in_memory).then_some(PersistMode::SyncData);
    state.commit_outside(staging, durability, "storing a table definition")
}

/// Stages a table definition, or its removal (with its TTL setting), and the next
/// table id to hand out, into a writer job's batch: the definition commits together
/// with whatever else the job changes (a stream, an index, a backfill cursor), so a
/// catalog change is applied whole or not at all.
pub(crate) fn stage_table_def(
    state: &State,
    staging: &mut Staging,
    def: &TableDef,
    removed: bool,
    next_table_id: Option<u32>,
) -> Result<()> {
    let key = [b"table/".as_slice(), def.name.as_bytes()].concat();
    if removed {
        staging.remove(&state.meta, key);
        // A deleted table's TTL setting goes with it (its id is never reused, so
        // this only tidies up).
        staging.remove(&state.meta, ttl_key(def.id));
    } else {
        staging.insert(&state.meta, key, def.encode()?);
    }
    if let Some(id) = next_table_id {
        staging.insert(&state.meta, b"next_table_id", id.to_be_bytes());
    }
    Ok(())
}

/// Hands out the next id from a `meta` counter, in the batch being built.
pub(crate) fn allocate_id(state: &State, key: &[u8], batch: &mut Staging) -> Result<u32> {
    let next = match state.meta.get(key)? {
        Some(v) => u32::from_be_bytes(
            v.as_ref()
                .try_into()
                .map_err(|_| Error::Storage("corrupt id counter".into()))?,
        ),
        None => 1,
    };
    batch.insert(&state.meta, key.to_vec(), (next + 1).to_be_bytes());
    Ok(next)
}

/// The `meta` key of a table's TTL attribute.
pub(crate) fn ttl_key(table_id: u32) -> [u8; 8] {
    let mut k = *b"ttl/\0\0\0\0";
    k[4..].copy_from_slice(&table_id.to_be_bytes());
    k
}

/// The TTL attribute of table `table_id`, as stored.
pub(crate) fn load_ttl(meta: &Keyspace, table_id: u32) -> Result<Option<String>> {
    meta.get(ttl_key(table_id))?
        .map(|v| {
            String::from_utf8(v.to_vec())
                .map_err(|_| Error::Storage("corrupt TTL attribute name".into()))
        })
        .transpose()
}
