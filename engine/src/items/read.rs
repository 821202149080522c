//! The data plane's reads: GetItem and BatchGetItem by key through the item cache, and
//! Query and Scan over a key range of a table or an index, sharing one read
//! preparation and one page reader.
//!
//! It owns what a read returns (filter, projection, Select, paging); it must not know
//! the writer.

use std::collections::{BTreeMap, HashSet};
use std::ops::Bound;

use crate::capacity::Consumed;
use crate::capacity::units::{READ_UNIT_BYTES, ReadKind, key_partition, read_units};
use crate::catalog::{TableDef, TableRef};
use crate::error::{Error, Result};
use crate::expr::legacy::{self, ConditionalOperator, LegacyCondition};
use crate::expr::{CompositeKeyCondition, Condition, Path, Projection, Resolver};
use crate::index::def::{IndexDef, IndexKind, IndexProjection};
use crate::items::bounds::{query_bounds, scan_bounds};
use crate::items::input::{
    BatchGetOutput, BatchGetTable, ExpressionAttributes, GetItemInput, Page, QueryInput, ScanInput,
    Select, check_limit, find_index, read_filter, read_projection, resolve_select, start_key,
    storage_key_of,
};
use crate::items::{consume, start};
use crate::keys::{KeyRange, check_range, composite_partition_hash};
use crate::limits::{BATCH_GET_BYTES_MAX, BATCH_GET_KEYS_MAX, PAGE_BYTES_MAX};
use crate::schema::IndexKeys;
use crate::state::State;
use crate::stored::StoredItem;
use crate::value::{AttributeValue, Item, item_size_bytes};

pub(crate) fn project(item: Item, projection: Option<&Projection>) -> Item {
    match projection {
        Some(p) => p.apply(&item),
        None => item,
    }
}

/// Validates a GetItem (or a transaction's Get): the item's storage key and the
/// projection to apply to it.
pub(crate) fn prepare_get(
    state: &State,
    input: &GetItemInput,
) -> Result<(TableRef, Vec<u8>, Option<Projection>)> {
    input.attributes.check_families(
        &[("ProjectionExpression", input.projection.is_some())],
        &[("AttributesToGet", input.attributes_to_get.is_some())],
    )?;
    let table = state.table(&input.table)?;
    let key = storage_key_of(&table, &input.key)?;
    let mut resolver = input.attributes.resolver()?;
    let projection = read_projection(
        &mut resolver,
        input.projection.as_deref(),
        input.attributes_to_get.as_deref(),
    )?;
    resolver.finish()?;
    Ok((table, key, projection))
}

pub(crate) fn get_item(state: &State, input: &GetItemInput) -> Result<Option<Item>> {
    get_item_stored(state, input)?
        .0
        .map(|stored| stored.decode())
        .transpose()
}

/// [`Engine::get_item`] as stored: without a projection the item is not decoded. With
/// it, the capacity the read consumed, which is charged to the table here: the whole
/// item's size counts whatever the projection keeps, and a missing item still costs
/// the minimum (see `capacity/units.rs`).
pub(crate) fn get_item_stored(
    state: &State,
    input: &GetItemInput,
) -> Result<(Option<StoredItem>, Consumed)> {
    let (table, key, projection) = prepare_get(state, input)?;
    let partition = key_partition(&key);
    table.stats.capacity.admit_read(None, partition)?;
    let stored = state.read_stored(&key)?;
    // Any size up to a read unit costs one, so an item whose bound is inside it need
    // not be walked to be sized.
    let bytes = match &stored {
        Some(s) if s.size_bytes_at_most() <= READ_UNIT_BYTES => s.size_bytes_at_most(),
        Some(s) => s.size_bytes()?,
        None => 0,
    };
    let mut consumed = Consumed::on_table(&table.def.name);
    consumed.table_read_units = read_units(bytes, ReadKind::of(input.consistent_read));
    consume::charge(&table, partition, &consumed);
    let Some(stored) = stored else {
        return Ok((None, consumed));
    };
    Ok((
        Some(match projection {
            None => stored,
            Some(p) => StoredItem::encode(&project(stored.decode()?, Some(&p))),
        }),
        consumed,
    ))
}

/// A Query's key condition resolved against the key of the table or index it reads.
fn resolve_key_condition(
    input: &QueryInput,
    resolver: &mut Resolver<'_>,
    keys: &IndexKeys,
) -> Result<CompositeKeyCondition> {
    let no_key_condition = || {
        Error::validation(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
        )
    };
    Ok(if keys.is_composite() {
        // A global index's multi-attribute key has its own rules.
        let hash: Vec<&str> = keys.hash.iter().map(|a| a.name.as_str()).collect();
        let range: Vec<&str> = keys.range.iter().map(|a| a.name.as_str()).collect();
        match (input.key_condition.as_deref(), &input.key_conditions) {
            (Some(kc), _) => resolver.composite_key_condition(kc, &hash, &range)?,
            (None, Some(kc)) => legacy::composite_key_conditions(kc, &hash, &range)?,
            (None, None) => return Err(no_key_condition()),
        }
    } else {
        let hash = &keys.hash[0].name;
        let range = keys.range.first().map(|r| r.name.as_str());
        match (input.key_condition.as_deref(), &input.key_conditions) {
            (Some(kc), _) => resolver.key_condition(kc, hash, range)?,
            (None, Some(kc)) => legacy::key_conditions(kc, hash, range)?,
            (None, None) => return Err(no_key_condition()),
        }
        .into()
    })
}

/// The partition-key values a Query reads (what an access policy knows as
/// `dynamodb:LeadingKeys`), resolved exactly as the Query resolves them, against the
/// table's key or, on an index, the index's. An invalid request is the error the
/// Query itself would answer.
pub(crate) fn query_partition(
    state: &State,
    input: &QueryInput,
) -> Result<Vec<crate::value::AttributeValue>> {
    let table = state.table(&input.table)?;
    let index = find_index(&table, input.index.as_deref(), input.consistent_read)?;
    let keys = index.map_or_else(
        || IndexKeys::of(&table.def.key_schema),
        |i| i.key_schema.clone(),
    );
    let mut resolver = input.attributes.resolver()?;
    Ok(resolve_key_condition(input, &mut resolver, &keys)?.partition)
}

pub(crate) fn query(state: &State, input: &QueryInput) -> Result<Page> {
    // As DynamoDB: KeyConditions next to expression parameters is only a mix when
    // KeyConditionExpression is one of them.
    input.attributes.check_families(
        &[
            ("ProjectionExpression", input.projection.is_some()),
            ("FilterExpression", input.filter.is_some()),
            ("KeyConditionExpression", input.key_condition.is_some()),
        ],
        &[
            ("AttributesToGet", input.attributes_to_get.is_some()),
            ("QueryFilter", input.query_filter.is_some()),
            ("ConditionalOperator", input.conditional_operator.is_some()),
            (
                "KeyConditions",
                input.key_conditions.is_some() && input.key_condition.is_some(),
            ),
        ],
    )?;
    let no_key_condition = || {
        Error::validation(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
        )
    };
    if input.key_condition.is_none() && input.key_conditions.is_none() {
        return Err(no_key_condition());
    }
    let request = RangeRead {
        table: &input.table,
        index: input.index.as_deref(),
        consistent_read: input.consistent_read,
        attributes: &input.attributes,
        key_condition: input.key_condition.as_deref(),
        filter: input.filter.as_deref(),
        legacy_filter: input.query_filter.as_ref(),
        query: true,
        conditional_operator: input.conditional_operator,
        projection: input.projection.as_deref(),
        attributes_to_get: input.attributes_to_get.as_deref(),
        select: input.select,
        limit: input.limit,
        exclusive_start_key: input.exclusive_start_key.as_ref(),
    };
    let key_condition = |resolver: &mut Resolver<'_>, keys: &IndexKeys| {
        resolve_key_condition(input, resolver, keys)
    };
    let bounds = |source: &ReadSource<'_>, schema: &IndexKeys, kc: CompositeKeyCondition| {
        let partition: Vec<&AttributeValue> = kc.partition.iter().collect();
        source.admit(Some(composite_partition_hash(&partition)))?;
        let (lo, hi) = query_bounds(source.id(), source.table.def.shards, schema, &kc)?;
        let range = match &input.exclusive_start_key {
            None => (lo, hi),
            Some(esk) => {
                let k = source.start_key(esk)?;
                start::check_query_bounds(schema, &kc, esk)?;
                if input.scan_forward {
                    (Bound::Excluded(k), hi)
                } else {
                    (lo, Bound::Excluded(k))
                }
            }
        };
        Ok((range, input.scan_forward))
    };
    read_range(state, request, key_condition, bounds)
}

pub(crate) fn scan(state: &State, input: &ScanInput) -> Result<Page> {
    input.attributes.check_families(
        &[
            ("ProjectionExpression", input.projection.is_some()),
            ("FilterExpression", input.filter.is_some()),
        ],
        &[
            ("AttributesToGet", input.attributes_to_get.is_some()),
            ("ScanFilter", input.scan_filter.is_some()),
            ("ConditionalOperator", input.conditional_operator.is_some()),
        ],
    )?;
    let request = RangeRead {
        table: &input.table,
        index: input.index.as_deref(),
        consistent_read: input.consistent_read,
        attributes: &input.attributes,
        key_condition: None,
        filter: input.filter.as_deref(),
        legacy_filter: input.scan_filter.as_ref(),
        query: false,
        conditional_operator: input.conditional_operator,
        projection: input.projection.as_deref(),
        attributes_to_get: input.attributes_to_get.as_deref(),
        select: input.select,
        limit: input.limit,
        exclusive_start_key: input.exclusive_start_key.as_ref(),
    };
    let bounds = |source: &ReadSource<'_>, _: &IndexKeys, (): ()| {
        source.admit(None)?;
        let (lo, hi) = scan_bounds(
            source.id(),
            source.table.def.shards,
            input.segment,
            input.total_segments,
        )?;
        let lo = match &input.exclusive_start_key {
            None => lo,
            Some(esk) => {
                let k = source.start_key(esk)?;
                start::check_segment(&(lo, hi.clone()), &k, input.segment, input.total_segments)?;
                Bound::Excluded(k)
            }
        };
        Ok(((lo, hi), true))
    };
    read_range(state, request, |_, _| Ok(()), bounds)
}

/// A Query's filter may not name a key attribute of the table or index it reads (its
/// key condition does that); DynamoDB names the first key attribute, hash first, with
/// the parameter's own wording (dynalite's tests, recorded against DynamoDB: "QueryFilter
/// …" for the legacy filter, "Filter Expression …" for a FilterExpression, whose path
/// counts by its top-level attribute, so `sk.a` and `sk[1]` name `sk`).
fn check_filter_names_no_key(
    schema: &IndexKeys,
    legacy: Option<&BTreeMap<String, LegacyCondition>>,
    expression: Option<&Condition>,
) -> Result<()> {
    let (parameter, named) = match (legacy, expression) {
        (Some(f), _) => ("QueryFilter", schema.names().find(|k| f.contains_key(*k))),
        (None, Some(c)) => {
            let mut heads = Vec::new();
            c.attribute_heads(&mut heads);
            (
                "Filter Expression",
                schema.names().find(|k| heads.contains(k)),
            )
        }
        (None, None) => return Ok(()),
    };
    match named {
        Some(k) => Err(Error::validation(format!(
            "{parameter} can only contain non-primary key attributes: Primary key attribute: {k}"
        ))),
        None => Ok(()),
    }
}

/// A Query's or Scan's projection and filter may not look inside a key attribute of
/// the table or of any of its indexes (`pk.a`, `pk[0]`): DynamoDB refuses it, naming
/// the table's keys first, then the indexes', the projection's paths before the
/// filter's (dynalite's validateKeyPaths, whose tests were recorded against DynamoDB).
/// It is checked after the start key, as DynamoDB reports a start key outside its scan
/// segment first.
fn check_key_paths(
    def: &TableDef,
    projection: Option<&Projection>,
    filter: Option<&Condition>,
) -> Result<()> {
    let projected: Vec<&Path> = projection.map_or_else(Vec::new, |p| p.paths.iter().collect());
    let mut filtered = Vec::new();
    if let Some(f) = filter {
        f.attribute_paths(&mut filtered);
    }
    for paths in [projected, filtered] {
        let nested = |name: &str| paths.iter().any(|p| p.elems.len() > 1 && p.head() == name);
        let refuse = |kind: &str, name: &str| {
            Err(Error::validation(format!(
                "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: {kind}: {name}"
            )))
        };
        if let Some(k) = def.key_names().find(|k| nested(k)) {
            return refuse("Key", k);
        }
        for ix in &def.indexes {
            if let Some(k) = ix.key_schema.names().find(|k| nested(k)) {
                return refuse("IndexKey", k);
            }
        }
    }
    Ok(())
}

/// The request's expressions parsed as expressions only (the key condition without
/// the key schema), in the order the read parses them, and their names and values
/// each used: the expression errors DynamoDB reports before a start key's.
fn check_expressions(r: &RangeRead<'_>) -> Result<()> {
    let mut resolver = r.attributes.resolver()?;
    if let Some(kc) = r.key_condition {
        resolver.key_condition_syntax(kc)?;
    }
    if let Some(f) = r.filter {
        resolver.filter(f)?;
    }
    if let Some(p) = r.projection {
        resolver.projection(p)?;
    }
    resolver.finish()
}

/// What Query and Scan ask alike: the table or index, the filter, the projection and
/// how much to read.
struct RangeRead<'a> {
    table: &'a str,
    index: Option<&'a str>,
    consistent_read: bool,
    attributes: &'a ExpressionAttributes,
    /// A Query's KeyConditionExpression.
    key_condition: Option<&'a str>,
    filter: Option<&'a str>,
    /// `QueryFilter` or `ScanFilter`.
    legacy_filter: Option<&'a BTreeMap<String, LegacyCondition>>,
    /// A Query (not a Scan): its filter may not name key attributes, and its Select
    /// errors carry DynamoDB's validation envelope.
    query: bool,
    conditional_operator: Option<ConditionalOperator>,
    projection: Option<&'a str>,
    attributes_to_get: Option<&'a [String]>,
    select: Option<Select>,
    limit: Option<usize>,
    exclusive_start_key: Option<&'a Item>,
}

/// The read preparation Query and Scan share, and the read itself: the table and
/// index, the expressions parsed in DynamoDB's order (the key condition, which
/// `key_condition` parses for a Query, then the filter, then the projection), what to
/// select and return, and then one page of the key range `bounds` gives (with whether
/// to read it forward).
fn read_range<K>(
    state: &State,
    r: RangeRead<'_>,
    key_condition: impl FnOnce(&mut Resolver<'_>, &IndexKeys) -> Result<K>,
    bounds: impl FnOnce(&ReadSource<'_>, &IndexKeys, K) -> Result<(KeyRange, bool)>,
) -> Result<Page> {
    let table = state.table(r.table)?;
    let index = find_index(&table, r.index, r.consistent_read)?;
    let keys = index.map_or_else(
        || IndexKeys::of(&table.def.key_schema),
        |i| i.key_schema.clone(),
    );
    let schema = &keys;
    // DynamoDB checks the start key's shape before the key condition's meaning
    // (dynalite's tests pair a bad start key with a key condition on a non-key
    // attribute and expect the start key's error), but after the expressions
    // themselves: their syntax, names and values are request validation, which comes
    // before anything that needs the table (dynalite's validations/query.js and
    // scan.js run validateExpressions there). Only a request with a start key pays for
    // parsing its expressions twice.
    if let Some(esk) = r.exclusive_start_key {
        check_expressions(&r)?;
        start::check_shape(&table.def, index, esk, r.query)?;
    }
    let mut resolver = r.attributes.resolver()?;
    let key = key_condition(&mut resolver, schema)?;
    let filter = read_filter(
        &mut resolver,
        r.filter,
        r.legacy_filter,
        r.conditional_operator,
    )?;
    if r.query {
        check_filter_names_no_key(schema, r.legacy_filter, r.filter.and(filter.as_ref()))?;
    }
    let projection = read_projection(&mut resolver, r.projection, r.attributes_to_get)?;
    resolver.finish()?;
    let select = resolve_select(
        r.select,
        projection.is_some(),
        r.attributes_to_get.is_some(),
        index.is_some(),
        r.query,
    )?;
    let source = ReadSource::new(&table, index, select, projection.as_ref(), filter.as_ref())?;
    let limit = check_limit(r.limit)?;
    let (range, forward) = bounds(&source, schema, key)?;
    check_key_paths(&table.def, projection.as_ref(), filter.as_ref())?;
    let iter = state.items.range(check_range(range)?);
    let iter: Box<dyn Iterator<Item = fjall::Guard>> = if forward {
        Box::new(iter)
    } else {
        Box::new(iter.rev())
    };
    read_page(
        state,
        &source,
        iter,
        PageRead {
            limit,
            filter: filter.as_ref(),
            projection: projection.as_ref(),
            select,
            kind: ReadKind::of(r.consistent_read),
            query: r.query,
        },
    )
}

pub(crate) fn batch_get_item(state: &State, tables: &[BatchGetTable]) -> Result<BatchGetOutput> {
    let total: usize = tables.iter().map(|t| t.keys.len()).sum();
    if total > BATCH_GET_KEYS_MAX {
        return Err(Error::validation(
            "Too many items requested for the BatchGetItem call",
        ));
    }
    if tables.is_empty() {
        return Err(Error::validation(
            "1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    // Validate everything before reading anything.
    let mut plans = Vec::with_capacity(tables.len());
    for t in tables {
        t.attributes.check_families(
            &[("ProjectionExpression", t.projection.is_some())],
            &[("AttributesToGet", t.attributes_to_get.is_some())],
        )?;
        let table = state.table(&t.table)?;
        if t.keys.is_empty() {
            return Err(Error::validation(
                "1 validation error detected: Value '[]' at 'requestItems.1.member.keys' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        let mut resolver = t.attributes.resolver()?;
        let projection = read_projection(
            &mut resolver,
            t.projection.as_deref(),
            t.attributes_to_get.as_deref(),
        )?;
        resolver.finish()?;
        let mut seen = HashSet::new();
        let mut keys = Vec::with_capacity(t.keys.len());
        for k in &t.keys {
            let sk = storage_key_of(&table, k)?;
            if !seen.insert(sk.clone()) {
                return Err(Error::validation(
                    "Provided list of item keys contains duplicates",
                ));
            }
            keys.push((sk, k));
        }
        plans.push((t, table, keys, projection));
    }
    let mut out = BatchGetOutput::default();
    let mut bytes = 0usize;
    // A key its table's throughput refuses is left unprocessed; when every key is
    // refused, the batch fails with the (first) throttling error, as DynamoDB documents.
    let (mut admitted, mut throttled) = (false, None);
    for (t, table, keys, projection) in plans {
        let mut found = Vec::new();
        let mut unprocessed = Vec::new();
        // Each key is a GetItem of its own: its item rounded up alone, a missing one
        // at the minimum (ProvisionedThroughput.md, BatchGetItem).
        let kind = ReadKind::of(t.consistent_read);
        let mut consumed = Consumed::on_table(&table.def.name);
        for (sk, k) in keys {
            if bytes >= BATCH_GET_BYTES_MAX {
                unprocessed.push(k.clone());
                continue;
            }
            // The reads admitted before in this batch are not charged yet: they are
            // set aside, so a batch larger than the table's bucket is partly processed.
            let pending = consumed.table_read_units;
            let admission =
                table
                    .stats
                    .capacity
                    .admit_read_after(None, key_partition(&sk), pending);
            if let Err(e) = admission {
                throttled.get_or_insert(e);
                unprocessed.push(k.clone());
                continue;
            }
            admitted = true;
            let item = state.read_item(&sk)?;
            let size = item.as_ref().map_or(0, item_size_bytes);
            consumed.table_read_units += read_units(size, kind);
            if let Some(item) = item {
                bytes += size;
                found.push(project(item, projection.as_ref()));
            }
        }
        // A table's keys name many partitions; its charge names none.
        consume::charge(&table, None, &consumed);
        crate::capacity::units::merge_by_table(&mut out.consumed, &consumed);
        out.responses.push((t.table.clone(), found));
        if !unprocessed.is_empty() {
            out.unprocessed.push((t.table.clone(), unprocessed));
        }
    }
    if !admitted && let Some(e) = throttled {
        return Err(e);
    }
    Ok(out)
}

/// What a Query or Scan reads: a table's items, or the entries of one of its indexes.
struct ReadSource<'a> {
    table: &'a TableRef,
    index: Option<&'a IndexDef>,
    /// A local index whose entries lack attributes the request needs: each entry read
    /// is swapped for the table's item, as DynamoDB fetches them from the table.
    fetch: bool,
}

impl<'a> ReadSource<'a> {
    /// Checks that the request asks a global index only for what it projects (a
    /// local index fetches the rest from the table).
    fn new(
        table: &'a TableRef,
        index: Option<&'a IndexDef>,
        select: Select,
        projection: Option<&Projection>,
        filter: Option<&Condition>,
    ) -> Result<ReadSource<'a>> {
        let Some(ix) = index else {
            return Ok(ReadSource {
                table,
                index,
                fetch: false,
            });
        };
        let def = &table.def;
        let all = ix.projection == IndexProjection::All;
        let wanted: Vec<&str> =
            projection.map_or_else(Vec::new, |p| p.paths.iter().map(|p| p.head()).collect());
        let mut filtered = Vec::new();
        if let Some(f) = filter {
            f.attribute_heads(&mut filtered);
        }
        let missing = |names: &[&str]| -> Vec<String> {
            let mut out: Vec<String> = names
                .iter()
                .filter(|n| !crate::index::entries::projects_all(def, ix, &[**n]))
                .map(|n| n.to_string())
                .collect();
            out.dedup();
            out
        };
        let (missing_wanted, missing_filtered) = (missing(&wanted), missing(&filtered));
        let needs_table = (!all && select == Select::AllAttributes)
            || !missing_wanted.is_empty()
            || !missing_filtered.is_empty();
        if ix.kind == IndexKind::Global && needs_table {
            return Err(if select == Select::AllAttributes {
                Error::validation(format!(
                    "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index {} because its projection type is not ALL",
                    ix.name
                ))
            } else if !missing_wanted.is_empty() {
                Error::validation(format!(
                    "One or more parameter values were invalid: Global secondary index {} does not project [{}]",
                    ix.name,
                    missing_wanted.join(", ")
                ))
            } else {
                Error::validation(format!(
                    "One or more parameter values were invalid: Secondary index {} does not project one or more filter attributes: [{}]",
                    ix.name,
                    missing_filtered.join(", ")
                ))
            });
        }
        Ok(ReadSource {
            table,
            index,
            fetch: needs_table,
        })
    }

    /// Admits the read on the throughput of the table or index it reads (see
    /// `capacity/`), on the partition a Query names.
    fn admit(&self, partition: Option<u64>) -> Result<()> {
        self.table
            .stats
            .capacity
            .admit_read(self.index.map(|i| i.name.as_str()), partition)
    }

    /// The storage id the read's keys start with.
    fn id(&self) -> u32 {
        self.index.map_or(self.table.def.id, |i| i.id)
    }

    /// The attributes of a `LastEvaluatedKey`: the table's keys, and the index's.
    fn key_names(&self) -> Vec<&str> {
        match self.index {
            None => self.table.def.key_names().collect(),
            Some(ix) => crate::index::entries::entry_key_names(&self.table.def, ix),
        }
    }

    fn start_key(&self, esk: &Item) -> Result<Vec<u8>> {
        match self.index {
            None => start_key(self.table, esk),
            Some(ix) => crate::index::entries::start_key(&self.table.def, ix, esk),
        }
    }
}

/// How one page is read: how much, what of it is returned, and what it costs.
struct PageRead<'a> {
    limit: Option<usize>,
    filter: Option<&'a Condition>,
    projection: Option<&'a Projection>,
    select: Select,
    kind: ReadKind,
    /// A Query (its items share one partition, which the capacity is charged on).
    query: bool,
}

/// Reads one page: stops after `limit` items were evaluated or the page reached its
/// size limit, applies the filter to what was read, and projects what is returned.
/// The capacity is counted on everything read, before the filter, and charged here.
fn read_page(
    state: &State,
    source: &ReadSource<'_>,
    iter: Box<dyn Iterator<Item = fjall::Guard> + '_>,
    how: PageRead<'_>,
) -> Result<Page> {
    let PageRead {
        limit,
        filter,
        projection,
        select,
        kind,
        query,
    } = how;
    let mut page = Page::default();
    let mut bytes = 0usize;
    // What the capacity is counted on: the sizes of the items (or index entries) read,
    // summed, and the table items fetched for a local index, each on its own.
    let mut read_bytes = 0usize;
    let mut fetched_units = 0.0;
    let mut partition = None;
    let mut last: Option<Item> = None;
    let mut stopped_early = false;
    let key_names = source.key_names();
    let key_of = |item: &Item| -> Item {
        key_names
            .iter()
            .filter_map(|n| item.get(*n).map(|v| (n.to_string(), v.clone())))
            .collect()
    };
    for kv in iter {
        let (k, v) = kv.into_inner()?;
        if query && partition.is_none() {
            partition = key_partition(&k);
        }
        let mut stored = StoredItem::from_slice(state.seal.open(&k, v)?);
        let mut entry_bytes = None;
        if source.fetch {
            entry_bytes = Some(stored.size_bytes()?);
            // The entry's table key names the item; a write that deleted it after
            // this read began leaves the entry as the answer.
            let key = storage_key_of(source.table, &source.table.def.key_of(&stored.decode()?))?;
            if let Some(full) = state.read_stored(&key)? {
                fetched_units += read_units(full.size_bytes()?, kind);
                stored = full;
            }
        }
        page.scanned_count += 1;
        // Only a filter or a projection needs the item built; otherwise the stored
        // bytes go out as they are.
        let item = match (filter, projection) {
            (None, None) => None,
            _ => Some(stored.decode()?),
        };
        let size = match &item {
            Some(item) => item_size_bytes(item),
            None => stored.size_bytes()?,
        };
        bytes += size;
        read_bytes += entry_bytes.unwrap_or(size);
        let matches = match (filter, &item) {
            (Some(f), Some(item)) => f.evaluate(item)?,
            _ => true,
        };
        let at_limit = limit.is_some_and(|l| page.scanned_count >= l) || bytes >= PAGE_BYTES_MAX;
        if at_limit {
            last = Some(match &item {
                Some(item) => key_of(item),
                None => key_of(&stored.decode()?),
            });
        }
        if matches {
            page.count += 1;
            if select != Select::Count {
                page.items.push(match (item, projection) {
                    (Some(item), Some(p)) => StoredItem::encode(&project(item, Some(p))),
                    _ => stored,
                });
            }
        }
        if at_limit {
            stopped_early = true;
            break;
        }
    }
    if stopped_early {
        page.last_evaluated_key = last;
    }
    page.consumed =
        consume::range_read_consumed(source.table, source.index, kind, read_bytes, fetched_units);
    consume::charge(source.table, partition, &page.consumed);
    Ok(page)
}
