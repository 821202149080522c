//! Lowering: a parsed statement becomes the request of the JSON API that does the same
//! thing — SELECT a Query (the WHERE names the partition key by equality), one Query
//! per partition (it names the partition key by `IN` or by equalities joined by `OR`)
//! or a Scan,
//! INSERT a PutItem that must not find the key, UPDATE an UpdateItem that must find
//! it, DELETE a DeleteItem — with generated `#pN` names and `:vN` values. So streams,
//! indexes, conditions and triggers see exactly what the JSON API would have done.
//!
//! Owns which operation a statement becomes and how its WHERE splits into key,
//! key condition and filter. Must not run anything.

use super::ast::{
    CmpOp, Delete, Expr, Insert, Path, Returning, Select, Statement, Update, UpdateAction,
};
use super::parser::parameter_count;
use super::print::{Printer, paren, value_of};
use super::{incomplete_key, validation};
use crate::catalog::TableDef;
use crate::error::Result;
use crate::items::input::{
    DeleteItemInput, GetItemInput, PutItemInput, QueryInput, ReturnValues, ScanInput,
    UpdateItemInput,
};
use crate::keys::KeyType;
use crate::schema::{IndexKeys, KeyAttribute, KeySchema};
use crate::transact::ConditionCheckInput;
use crate::value::{AttributeValue, Item};

/// The JSON API request a statement became.
#[derive(Debug, Clone)]
pub enum Lowered {
    Query(QueryInput),
    /// A SELECT naming several partitions (`pk IN (...)`, `pk = a OR pk = b`): one
    /// Query per distinct value, in the order the statement names them, which the
    /// caller runs one after the other as one read.
    Queries(Vec<QueryInput>),
    Scan(ScanInput),
    /// An INSERT: its condition fails exactly when the key already exists.
    Insert(PutItemInput),
    Update(UpdateItemInput),
    Delete(DeleteItemInput),
    /// An `EXISTS(SELECT ...)`: only a transaction of writes can run it.
    ConditionCheck(ConditionCheckInput),
}

/// Partition values a SELECT may name by `IN` or `OR` and still run as one Query per
/// value; a statement naming more stays a Scan (correct, if slower), which keeps the
/// Queries one read runs bounded.
const PARTITION_QUERIES_MAX: usize = 100;

/// Lowers a statement with its parameters against the table's definition.
pub fn lower(stmt: &Statement, params: &[AttributeValue], def: &TableDef) -> Result<Lowered> {
    check_parameters(stmt, params)?;
    match stmt {
        Statement::Select(s) => select(s, params, def),
        Statement::Insert(s) => insert(s, params, def),
        Statement::Update(s) => update(s, params, def),
        Statement::Delete(s) => delete(s, params, def),
        Statement::Exists(s) => exists(s, params, def),
    }
}

/// A SELECT that names the table's whole primary key by equality (what a transaction
/// may read), as a GetItem; `None` when it names less, other conditions, or an index.
pub fn lower_get(
    s: &Select,
    params: &[AttributeValue],
    def: &TableDef,
) -> Result<Option<GetItemInput>> {
    check_parameters(&Statement::Select(s.clone()), params)?;
    let Some(filter) = &s.filter else {
        return Ok(None);
    };
    if s.index.is_some() {
        return Ok(None);
    }
    let conjuncts = conjuncts(filter);
    let Some((key, rest)) = key_of(&conjuncts, &def.key_schema, params)? else {
        return Ok(None);
    };
    if !rest.is_empty() {
        return Ok(None);
    }
    let mut p = Printer::new(params);
    let projection = projection(&mut p, s)?;
    Ok(Some(GetItemInput {
        table: s.table.clone(),
        key,
        projection,
        attributes: p.finish(),
        attributes_to_get: None,
        // The caller sets the statement's ConsistentRead.
        consistent_read: false,
    }))
}

/// Whether a SELECT names the table's whole primary key by equality (what a batch may
/// read); other conditions may come with it.
pub fn names_full_key(s: &Select, params: &[AttributeValue], def: &TableDef) -> Result<bool> {
    let Some(filter) = &s.filter else {
        return Ok(false);
    };
    if s.index.is_some() {
        return Ok(false);
    }
    Ok(key_of(&conjuncts(filter), &def.key_schema, params)?.is_some())
}

fn check_parameters(stmt: &Statement, params: &[AttributeValue]) -> Result<()> {
    // DynamoDB accepts more parameters than the statement uses, and refuses fewer.
    if parameter_count(stmt) > params.len() {
        return Err(validation(
            "Number of parameters in request and statement don't match.",
        ));
    }
    Ok(())
}

fn select(s: &Select, params: &[AttributeValue], def: &TableDef) -> Result<Lowered> {
    let keys = match &s.index {
        Some(name) => def
            .indexes
            .iter()
            .find(|i| &i.name == name)
            .map(|i| i.key_schema.clone()),
        None => Some(IndexKeys::of(&def.key_schema)),
    };
    let schema = keys.as_ref();
    let mut p = Printer::new(params);
    let projection = projection(&mut p, s)?;
    let query = match (schema, &s.filter) {
        (Some(schema), Some(filter)) => query_parts(&mut p, filter, schema)?,
        _ => None,
    };
    if query.is_none()
        && s.order_by.is_empty()
        && let (Some(schema), Some(filter)) = (schema, &s.filter)
        && let Some(queries) = partition_queries(s, filter, schema, params)?
    {
        return Ok(Lowered::Queries(queries));
    }
    if !s.order_by.is_empty() {
        check_order_by(s, schema, query.is_some())?;
    }
    let descending = s.order_by.first().is_some_and(|(_, desc)| *desc);
    Ok(match query {
        Some((key_condition, filter)) => Lowered::Query(QueryInput {
            table: s.table.clone(),
            key_condition: Some(key_condition),
            filter,
            projection,
            attributes: p.finish(),
            scan_forward: !descending,
            index: s.index.clone(),
            ..Default::default()
        }),
        None => {
            let filter = s.filter.as_ref().map(|f| p.cond(f)).transpose()?;
            Lowered::Scan(ScanInput {
                table: s.table.clone(),
                filter,
                projection,
                attributes: p.finish(),
                index: s.index.clone(),
                ..Default::default()
            })
        }
    })
}

/// One Query per partition value when exactly one of the WHERE's top-level conjuncts
/// names the (one-attribute) partition key by `IN` or by equalities joined by `OR`,
/// and the WHERE with that conjunct turned into one equality is a Query; values of
/// another type than the key's (which match nothing) leave the statement a Scan, as
/// do more than [`PARTITION_QUERIES_MAX`] values.
fn partition_queries(
    s: &Select,
    filter: &Expr,
    schema: &IndexKeys,
    params: &[AttributeValue],
) -> Result<Option<Vec<QueryInput>>> {
    let [hash] = schema.hash.as_slice() else {
        return Ok(None);
    };
    let conjuncts = conjuncts(filter);
    let mut named = conjuncts
        .iter()
        .enumerate()
        .filter_map(|(at, c)| partition_values(c, &hash.name).map(|v| (at, v)));
    let (Some((at, values)), None) = (named.next(), named.next()) else {
        return Ok(None);
    };
    let mut seen: Vec<AttributeValue> = Vec::with_capacity(values.len());
    let mut queries = Vec::with_capacity(values.len());
    for v in values {
        let value = value_of(v, params)?;
        if !hash.key_type.is_type_of(&value) {
            return Ok(None);
        }
        if seen.contains(&value) {
            continue;
        }
        seen.push(value);
        if seen.len() > PARTITION_QUERIES_MAX {
            return Ok(None);
        }
        let key = Path {
            name: hash.name.clone(),
            steps: Vec::new(),
        };
        let equality = Expr::Cmp(CmpOp::Eq, Box::new(Expr::Path(key)), Box::new(v.clone()));
        let Some(one) = conjuncts
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == at {
                    equality.clone()
                } else {
                    (*c).clone()
                }
            })
            .reduce(|a, b| Expr::And(Box::new(a), Box::new(b)))
        else {
            return Ok(None);
        };
        let mut p = Printer::new(params);
        let projection = projection(&mut p, s)?;
        let Some((key_condition, filter)) = query_parts(&mut p, &one, schema)? else {
            return Ok(None);
        };
        queries.push(QueryInput {
            table: s.table.clone(),
            key_condition: Some(key_condition),
            filter,
            projection,
            attributes: p.finish(),
            // Without ORDER BY (which keeps a statement off this path) a Query reads
            // its partition in key order.
            scan_forward: true,
            index: s.index.clone(),
            ..Default::default()
        });
    }
    Ok(Some(queries))
}

/// The values `e` names the key by: `key IN (v, ...)`, or equalities and `IN`s of the
/// key joined by `OR`; `None` if it is anything else.
fn partition_values<'e>(e: &'e Expr, key: &str) -> Option<Vec<&'e Expr>> {
    match e {
        Expr::Or(a, b) => {
            let mut v = partition_values(a, key)?;
            v.extend(partition_values(b, key)?);
            Some(v)
        }
        Expr::In(a, values) => match a.as_ref() {
            Expr::Path(p) if is_attribute(p, key) && values.iter().all(is_value) => {
                Some(values.iter().collect())
            }
            _ => None,
        },
        other => key_equality(other, key).map(|v| vec![v]),
    }
}

fn check_order_by(s: &Select, schema: Option<&IndexKeys>, is_query: bool) -> Result<()> {
    if s.filter.is_none() {
        return Err(validation(
            "Must have WHERE clause in the statement when using ORDER BY clause.",
        ));
    }
    if let Some(schema) = schema {
        for (key, _) in &s.order_by {
            if !schema.names().any(|n| n == key) {
                return Err(validation(format!(
                    "Variable reference {key} in ORDER BY clause must be part of the primary key"
                )));
            }
        }
    }
    if !is_query {
        return Err(validation(
            "Must have at least one non-optional hash key condition in WHERE clause when using ORDER BY clause.",
        ));
    }
    Ok(())
}

fn projection(p: &mut Printer<'_>, s: &Select) -> Result<Option<String>> {
    Ok(s.projection.as_ref().map(|paths| {
        paths
            .iter()
            .map(|path| p.path(path))
            .collect::<Vec<_>>()
            .join(", ")
    }))
}

/// The key condition and filter of a Query, when the WHERE's top-level conjuncts
/// name every partition key attribute by equality and the rest can be a filter (a
/// filter may not name a key attribute, so a WHERE with a second condition on a key
/// stays a Scan). A one-attribute sort key's condition joins the key condition; the
/// conditions on a multi-attribute sort key stay in the WHERE, which makes it a Scan.
fn query_parts(
    p: &mut Printer<'_>,
    filter: &Expr,
    schema: &IndexKeys,
) -> Result<Option<(String, Option<String>)>> {
    let conjuncts = conjuncts(filter);
    let mut hash_at = Vec::with_capacity(schema.hash.len());
    for hash in &schema.hash {
        let Some(at) = conjuncts
            .iter()
            .position(|c| key_equality(c, &hash.name).is_some())
        else {
            return Ok(None);
        };
        if let Some(v) = key_equality(conjuncts[at], &hash.name) {
            check_key_type(hash, &value_of(v, p.params)?)?;
        }
        hash_at.push(at);
    }
    let range_at = match schema.range.as_slice() {
        [r] => conjuncts
            .iter()
            .enumerate()
            .position(|(i, c)| !hash_at.contains(&i) && is_range_condition(c, &r.name)),
        _ => None,
    };
    let rest: Vec<&Expr> = conjuncts
        .iter()
        .enumerate()
        .filter(|(i, _)| !hash_at.contains(i) && Some(*i) != range_at)
        .map(|(_, c)| *c)
        .collect();
    if rest
        .iter()
        .any(|c| schema.names().any(|key| mentions(c, key)))
    {
        return Ok(None);
    }
    let mut key_condition = Vec::with_capacity(hash_at.len() + 1);
    for at in hash_at.iter().copied().chain(range_at) {
        key_condition.push(p.cond(&path_first(conjuncts[at]))?);
    }
    let key_condition = key_condition.join(" AND ");
    let filter = if rest.is_empty() {
        None
    } else {
        Some(p.and_all(&rest)?)
    };
    Ok(Some((key_condition, filter)))
}

fn insert(s: &Insert, params: &[AttributeValue], def: &TableDef) -> Result<Lowered> {
    let item = match value_of(&s.item, params)? {
        AttributeValue::M(m) => m.into_iter().collect::<Item>(),
        _ => {
            return Err(validation(
                "Unsupported format in item expression. Please use struct format {...} to express item values for insert statement.",
            ));
        }
    };
    for key in key_attributes(&def.key_schema) {
        let value = item.get(&key.name).ok_or_else(|| {
            validation(format!(
                "Key attribute should be present in the item: Key {}",
                key.name
            ))
        })?;
        check_key_type(key, value)?;
    }
    let mut p = Printer::new(params);
    let hash = p.name(&def.key_schema.hash.name);
    Ok(Lowered::Insert(PutItemInput {
        table: s.table.clone(),
        item,
        condition: Some(format!("attribute_not_exists({hash})")),
        attributes: p.finish(),
        ..Default::default()
    }))
}

fn update(s: &Update, params: &[AttributeValue], def: &TableDef) -> Result<Lowered> {
    let conjuncts = conjuncts(&s.filter);
    let (key, rest) = key_of(&conjuncts, &def.key_schema, params)?.ok_or_else(incomplete_key)?;
    let mut p = Printer::new(params);
    let (mut sets, mut removes, mut adds, mut deletes) = (vec![], vec![], vec![], vec![]);
    for action in &s.actions {
        match action {
            UpdateAction::Remove(path) => removes.push(p.path(path)),
            UpdateAction::Set(path, Expr::Call(f, args)) if f == "set_add" || f == "set_delete" => {
                let [Expr::Path(of), value] = args.as_slice() else {
                    return Err(validation(format!(
                        "{} must have exactly two arguments",
                        f.to_ascii_uppercase()
                    )));
                };
                if of != path {
                    return Err(validation(format!(
                        "The first argument to {} must equal the assignment value",
                        f.to_ascii_uppercase()
                    )));
                }
                let action = format!("{} {}", p.path(path), p.operand(value)?);
                if f == "set_add" {
                    adds.push(action);
                } else {
                    deletes.push(action);
                }
            }
            UpdateAction::Set(path, value) => {
                let target = p.path(path);
                sets.push(format!("{target} = {}", p.operand(value)?));
            }
        }
    }
    let mut clauses = Vec::new();
    for (word, list) in [
        ("SET", sets),
        ("REMOVE", removes),
        ("ADD", adds),
        ("DELETE", deletes),
    ] {
        if !list.is_empty() {
            clauses.push(format!("{word} {}", list.join(", ")));
        }
    }
    // UPDATE changes an item that exists; a missing one fails the condition.
    let hash = p.name(&def.key_schema.hash.name);
    let mut condition = format!("attribute_exists({hash})");
    if !rest.is_empty() {
        condition = format!("{condition} AND {}", paren(p.and_all(&rest)?));
    }
    Ok(Lowered::Update(UpdateItemInput {
        table: s.table.clone(),
        key,
        update: Some(clauses.join(" ")),
        condition: Some(condition),
        return_values: match s.returning {
            None => ReturnValues::None,
            Some(Returning::AllOld) => ReturnValues::AllOld,
            Some(Returning::ModifiedOld) => ReturnValues::UpdatedOld,
            Some(Returning::AllNew) => ReturnValues::AllNew,
            Some(Returning::ModifiedNew) => ReturnValues::UpdatedNew,
        },
        attributes: p.finish(),
        ..Default::default()
    }))
}

fn delete(s: &Delete, params: &[AttributeValue], def: &TableDef) -> Result<Lowered> {
    let return_values = match s.returning {
        None => ReturnValues::None,
        Some(Returning::AllOld) => ReturnValues::AllOld,
        Some(other) => {
            let words = match other {
                Returning::ModifiedOld => "MODIFIED OLD *",
                Returning::AllNew => "ALL NEW *",
                _ => "MODIFIED NEW *",
            };
            return Err(validation(format!(
                "Invalid returning clause: RETURNING {words}. Only RETURNING ALL OLD * is allowed in DELETE statements."
            )));
        }
    };
    let conjuncts = conjuncts(&s.filter);
    let (key, rest) = key_of(&conjuncts, &def.key_schema, params)?.ok_or_else(incomplete_key)?;
    let mut p = Printer::new(params);
    // A DELETE of a missing item is a no-op even when the WHERE has more conditions
    // than the key (a DynamoDB-compatibility suite records this; not confirmed
    // against the service itself): only an existing item must meet them.
    let condition = if rest.is_empty() {
        None
    } else {
        let hash = p.name(&def.key_schema.hash.name);
        Some(format!(
            "attribute_not_exists({hash}) OR {}",
            paren(p.and_all(&rest)?)
        ))
    };
    Ok(Lowered::Delete(DeleteItemInput {
        table: s.table.clone(),
        key,
        condition,
        return_values,
        attributes: p.finish(),
        ..Default::default()
    }))
}

/// `EXISTS(SELECT ... WHERE <whole key> [AND <conditions>])`: the item must exist and
/// meet the conditions.
fn exists(s: &Select, params: &[AttributeValue], def: &TableDef) -> Result<Lowered> {
    const NOT_ONE_ITEM: &str = "EXISTS() must contain a single item read with additional condition";
    if s.index.is_some() {
        return Err(validation(
            "Operations on indices are not supported in transactions",
        ));
    }
    let Some(filter) = &s.filter else {
        return Err(validation(NOT_ONE_ITEM));
    };
    let conjuncts = conjuncts(filter);
    let (key, rest) =
        key_of(&conjuncts, &def.key_schema, params)?.ok_or_else(|| validation(NOT_ONE_ITEM))?;
    let mut p = Printer::new(params);
    let hash = p.name(&def.key_schema.hash.name);
    let mut condition = format!("attribute_exists({hash})");
    if !rest.is_empty() {
        condition = format!("{condition} AND {}", paren(p.and_all(&rest)?));
    }
    Ok(Lowered::ConditionCheck(ConditionCheckInput {
        table: s.table.clone(),
        key,
        condition,
        attributes: p.finish(),
        return_old_on_condition_failure: false,
    }))
}

/// The top-level AND-ed conditions of a WHERE.
fn conjuncts(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::And(a, b) => {
            let mut v = conjuncts(a);
            v.extend(conjuncts(b));
            v
        }
        other => vec![other],
    }
}

/// The primary key named by equality among the conjuncts, and the other conjuncts;
/// `None` when a key attribute has no equality. Two equalities on one key attribute
/// name more than one item, which DynamoDB refuses.
fn key_of<'e>(
    conjuncts: &[&'e Expr],
    schema: &KeySchema,
    params: &[AttributeValue],
) -> Result<Option<(Item, Vec<&'e Expr>)>> {
    let mut key = Item::new();
    let mut used = vec![false; conjuncts.len()];
    for attribute in key_attributes(schema) {
        let name = attribute.name.as_str();
        let mut found = conjuncts
            .iter()
            .enumerate()
            .filter_map(|(i, c)| key_equality(c, name).map(|v| (i, v)));
        let Some((i, value)) = found.next() else {
            return Ok(None);
        };
        if found.next().is_some() {
            return Err(validation(format!(
                "Multiple conditions on same key {name}. Only single item Update/Insert/Delete are supported"
            )));
        }
        used[i] = true;
        let value = value_of(value, params)?;
        check_key_type(attribute, &value)?;
        key.insert(name.to_owned(), value);
    }
    let rest = conjuncts
        .iter()
        .zip(used)
        .filter(|(_, u)| !u)
        .map(|(c, _)| *c)
        .collect();
    Ok(Some((key, rest)))
}

/// DynamoDB's PartiQL refuses a key value of another type than the schema's (its
/// message is shared by DynamoDB Local's PartiQL front end, `ddb.partiql.shared`).
fn check_key_type(key: &KeyAttribute, value: &AttributeValue) -> Result<()> {
    let matches = matches!(
        (key.key_type, value),
        (KeyType::S, AttributeValue::S(_))
            | (KeyType::N, AttributeValue::N(_))
            | (KeyType::B, AttributeValue::B(_))
    );
    if matches {
        Ok(())
    } else {
        Err(validation(format!(
            "Key attribute's data type should match its data type in table's schema: Key {}",
            key.name
        )))
    }
}

/// The key attributes of a schema, hash first.
fn key_attributes(schema: &KeySchema) -> impl Iterator<Item = &KeyAttribute> {
    std::iter::once(&schema.hash).chain(schema.range.as_ref())
}

/// `key = value` (either way round) with a literal or parameter as the value.
fn key_equality<'e>(e: &'e Expr, key: &str) -> Option<&'e Expr> {
    let Expr::Cmp(CmpOp::Eq, a, b) = e else {
        return None;
    };
    match (a.as_ref(), b.as_ref()) {
        (Expr::Path(p), v) | (v, Expr::Path(p)) if is_attribute(p, key) && is_value(v) => Some(v),
        _ => None,
    }
}

/// A key comparison written value first (`5 < sk`) turned round (`sk > 5`), the form a
/// KeyConditionExpression takes.
fn path_first(e: &Expr) -> Expr {
    match e {
        Expr::Cmp(op, a, b) if !matches!(**a, Expr::Path(_)) && matches!(**b, Expr::Path(_)) => {
            let flipped = match op {
                CmpOp::Lt => CmpOp::Gt,
                CmpOp::Le => CmpOp::Ge,
                CmpOp::Gt => CmpOp::Lt,
                CmpOp::Ge => CmpOp::Le,
                other => *other,
            };
            Expr::Cmp(flipped, b.clone(), a.clone())
        }
        other => other.clone(),
    }
}

/// A condition a Query's key condition can hold on the sort key.
fn is_range_condition(e: &Expr, key: &str) -> bool {
    let path_value =
        |a: &Expr, b: &Expr| matches!(a, Expr::Path(p) if is_attribute(p, key)) && is_value(b);
    match e {
        Expr::Cmp(op, a, b) if *op != CmpOp::Ne => path_value(a, b) || path_value(b, a),
        Expr::Between(a, low, high) => path_value(a, low) && is_value(high),
        Expr::Call(f, args) if f == "begins_with" => {
            matches!(args.as_slice(), [a, b] if path_value(a, b))
        }
        _ => false,
    }
}

fn is_attribute(p: &Path, name: &str) -> bool {
    p.steps.is_empty() && p.name == name
}

fn is_value(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Str(_) | Expr::Num(_) | Expr::Bool(_) | Expr::Null | Expr::Param(_)
    )
}

/// Whether an expression reads the top-level attribute `name`.
fn mentions(e: &Expr, name: &str) -> bool {
    match e {
        Expr::Path(p) => p.name == name,
        Expr::Tuple(kv) => kv.iter().any(|(_, v)| mentions(v, name)),
        Expr::List(v) | Expr::Bag(v) | Expr::Call(_, v) => v.iter().any(|x| mentions(x, name)),
        Expr::Cmp(_, a, b) | Expr::And(a, b) | Expr::Or(a, b) | Expr::Arith(_, a, b) => {
            mentions(a, name) || mentions(b, name)
        }
        Expr::Between(a, b, c) => mentions(a, name) || mentions(b, name) || mentions(c, name),
        Expr::In(a, v) => mentions(a, name) || v.iter().any(|x| mentions(x, name)),
        Expr::IsMissing(a, _) | Expr::IsNull(a, _) | Expr::Not(a) => mentions(a, name),
        _ => false,
    }
}
