//! What a DynamoDB request does, as an access policy sees it: one [`Access`] per IAM
//! action and resource the request needs (a BatchWriteItem, one per table; a
//! TransactWriteItems, its PutItem, UpdateItem, DeleteItem and ConditionCheckItem on
//! each table; a PartiQL statement, `PartiQLSelect` and its siblings), with the
//! request's condition keys: `dynamodb:LeadingKeys` (the partition-key values of every
//! item it reads or writes), `dynamodb:Attributes`, `dynamodb:Select` and
//! `dynamodb:ReturnValues`.
//!
//! Owns the helpers the request shapes use to state their accesses. Must not know
//! policies or who is asking (`crate::auth` evaluates).

use eddy_engine::{AttributeValue, Engine};

use crate::error::ApiError;
use crate::wire::input::WireItem;

/// The condition keys DynamoDB sets.
pub(crate) const KEY_LEADING: &str = "dynamodb:LeadingKeys";
pub(crate) const KEY_ATTRIBUTES: &str = "dynamodb:Attributes";
pub(crate) const KEY_SELECT: &str = "dynamodb:Select";
pub(crate) const KEY_RETURN_VALUES: &str = "dynamodb:ReturnValues";

/// One action on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Access {
    /// The IAM action without its `dynamodb:` prefix (`GetItem`, `PartiQLSelect`).
    pub action: String,
    /// The table (a name, or an ARN as the request gave it); `None` for an action on
    /// no table (ListTables), whose resource is `*`.
    pub table: Option<String>,
    /// The index a Query or Scan reads: the resource is then the index's ARN.
    pub index: Option<String>,
    /// The request's condition keys and their values.
    pub keys: Vec<(&'static str, Vec<String>)>,
}

impl Access {
    pub(crate) fn new(action: &str, table: Option<&str>) -> Access {
        Access {
            action: action.to_owned(),
            table: table.map(str::to_owned),
            index: None,
            keys: Vec::new(),
        }
    }

    pub(crate) fn on_index(mut self, index: Option<&str>) -> Access {
        self.index = index.map(str::to_owned);
        self
    }

    /// Adds a condition key (values already collected; none means the key is absent).
    pub(crate) fn with(mut self, key: &'static str, values: Vec<String>) -> Access {
        if !values.is_empty() {
            self.keys.push((key, values));
        }
        self
    }

    /// Adds a one-valued condition key when the request carries it.
    pub(crate) fn with_one(self, key: &'static str, value: Option<&str>) -> Access {
        match value {
            Some(v) => self.with(key, vec![v.to_owned()]),
            None => self,
        }
    }
}

/// The table name in `name`, which may be a table ARN.
pub(crate) fn table_name(name: &str) -> &str {
    match name
        .strip_prefix("arn:")
        .and_then(|arn| arn.split_once(":table/"))
    {
        Some((_, rest)) => rest.split('/').next().unwrap_or(rest),
        None => name,
    }
}

/// The table's partition-key attribute name; `None` when there is no such table (the
/// request then fails on its own, with DynamoDB's error for it).
pub(crate) fn partition_key(engine: &Engine, table: &str) -> Option<String> {
    engine.partition_key_name(table_name(table)).ok()
}

/// The partition-key values of `items` (keys or whole items) of `table`.
pub(crate) fn leading_keys<'a>(
    engine: &Engine,
    table: &str,
    items: impl IntoIterator<Item = &'a WireItem>,
) -> Vec<String> {
    let Some(pk) = partition_key(engine, table) else {
        return Vec::new();
    };
    let mut out: Vec<String> = items
        .into_iter()
        .filter_map(|item| item.get(&pk).and_then(|v| v.key_text()).map(str::to_owned))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A key value of the engine's form, as a policy compares it.
pub(crate) fn value_text(v: &AttributeValue) -> Option<String> {
    use base64::Engine as _;
    match v {
        AttributeValue::S(s) => Some(s.clone()),
        AttributeValue::N(n) => Some(n.to_string()),
        AttributeValue::B(b) => Some(base64::engine::general_purpose::STANDARD.encode(b)),
        _ => None,
    }
}

/// The top-level names of an item, a projection or an update, with `#name`
/// placeholders resolved.
pub(crate) fn attribute_names<'a>(
    item: Option<&'a WireItem>,
    listed: Option<&'a [String]>,
) -> Vec<String> {
    let mut out: Vec<String> = item
        .into_iter()
        .flat_map(|i| i.keys().cloned())
        .chain(listed.into_iter().flatten().cloned())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `dynamodb:Select` of a read: the request's `Select`, else what it amounts to (a
/// projection reads specific attributes, no projection all of them).
pub(crate) fn select_of(select: Option<&str>, projects: bool) -> Option<String> {
    Some(select.map_or_else(
        || {
            if projects {
                "SPECIFIC_ATTRIBUTES".to_owned()
            } else {
                "ALL_ATTRIBUTES".to_owned()
            }
        },
        str::to_owned,
    ))
}

/// The gate's error when a request's own accesses cannot be stated (an invalid
/// expression): the error the request would answer anyway.
pub(crate) type AccessResult = Result<Vec<Access>, ApiError>;

/// The top-level names a request's ProjectionExpression reads and UpdateExpression
/// writes (see `ExpressionAttributes::accessed_attributes`).
pub(crate) fn expression_names(
    names: &Option<std::collections::HashMap<String, String>>,
    values: &Option<std::collections::HashMap<String, crate::wire::input::WireValue>>,
    projection: Option<&str>,
    update: Option<&str>,
) -> Result<Vec<String>, ApiError> {
    if projection.is_none() && update.is_none() {
        return Ok(Vec::new());
    }
    let attrs = eddy_engine::ExpressionAttributes {
        names: names.clone(),
        values: crate::wire::input::into_values(values.clone())?,
    };
    Ok(attrs.accessed_attributes(projection, update)?)
}

/// The partition values a lowered PartiQL statement reads or writes (none for a Scan).
pub(crate) fn leading_of_lowered(
    engine: &Engine,
    lowered: &eddy_engine::partiql::Lowered,
) -> Vec<String> {
    use eddy_engine::partiql::Lowered;
    let key_of = |table: &str, item: &eddy_engine::Item| -> Vec<String> {
        partition_key(engine, table)
            .and_then(|pk| item.get(&pk).and_then(value_text))
            .into_iter()
            .collect()
    };
    let query = |q: &eddy_engine::QueryInput| -> Vec<String> {
        engine
            .query_partition(q)
            .map(|v| v.iter().filter_map(value_text).collect())
            .unwrap_or_default()
    };
    let mut out = match lowered {
        Lowered::Query(q) => query(q),
        Lowered::Queries(qs) => qs.iter().flat_map(query).collect(),
        Lowered::Scan(_) => Vec::new(),
        Lowered::Insert(p) => key_of(&p.table, &p.item),
        Lowered::Update(u) => key_of(&u.table, &u.key),
        Lowered::Delete(d) => key_of(&d.table, &d.key),
        Lowered::ConditionCheck(c) => key_of(&c.table, &c.key),
    };
    out.sort();
    out.dedup();
    out
}
