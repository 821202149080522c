//! Query and Scan (with parallel segments): pages of items, written straight from the
//! stored items.
//!
//! Owns their request shapes, `Select` and `Limit`, and the page response. Must not
//! know how the engine reads a page.

use std::collections::HashMap;

use eddy_engine::{Engine, Error, Page, QueryInput, ScanInput, Select};
use serde::Deserialize;

use super::access::{
    Access, AccessResult, KEY_ATTRIBUTES, KEY_LEADING, KEY_SELECT, expression_names, select_of,
    value_text,
};
use super::capacity::{self, Detail, Split};
use super::request::{NamesTables, expr_attrs, required};
use super::violations::Violations;
use crate::error::ApiError;
use crate::legacy::{self, WireCondition};
use crate::wire::input::{WireItem, WireValue, into_item};
use crate::wire::{WireOut, stored};

fn select(s: Option<String>) -> Result<Option<Select>, ApiError> {
    s.map(|s| {
        Ok(match s.as_str() {
            "ALL_ATTRIBUTES" => Select::AllAttributes,
            "ALL_PROJECTED_ATTRIBUTES" => Select::AllProjectedAttributes,
            "SPECIFIC_ATTRIBUTES" => Select::SpecificAttributes,
            "COUNT" => Select::Count,
            other => {
                return Err(Error::validation(format!(
                    "1 validation error detected: Value '{other}' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]"
                ))
                .into());
            }
        })
    })
    .transpose()
}

fn limit(l: Option<i64>) -> Result<Option<usize>, ApiError> {
    match l {
        Some(l) if l < 1 => Err(Error::validation(format!(
            "1 validation error detected: Value '{l}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
        ))
        .into()),
        Some(l) => Ok(Some(usize::try_from(l).unwrap_or(usize::MAX))),
        None => Ok(None),
    }
}

/// A Query or Scan response, written straight from the stored items. The members come
/// in DynamoDB's order (`Count`, `Items`, `LastEvaluatedKey`, `ScannedCount`, as its
/// recorded responses show), so clients that scan the body for `Count` find it first.
fn page_output(page: &Page, select: Option<Select>) -> Result<Vec<u8>, ApiError> {
    use std::io::Write as _;
    let mut out = Vec::with_capacity(96 + stored::json_len_hint(&page.items));
    // Writing to a Vec cannot fail.
    let _ = write!(out, r#"{{"Count":{}"#, page.count);
    if select != Some(Select::Count) {
        out.extend_from_slice(br#","Items":"#);
        stored::write_items(&mut out, &page.items)?;
    }
    if let Some(key) = &page.last_evaluated_key {
        out.extend_from_slice(br#","LastEvaluatedKey":"#);
        let _ = serde_json::to_writer(&mut out, &WireOut(key));
    }
    let _ = write!(out, r#","ScannedCount":{}}}"#, page.scanned_count);
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct QueryRequest {
    table_name: Option<String>,
    key_condition_expression: Option<String>,
    filter_expression: Option<String>,
    projection_expression: Option<String>,
    select: Option<String>,
    limit: Option<i64>,
    scan_index_forward: Option<bool>,
    exclusive_start_key: Option<WireItem>,
    segment: Option<i64>,
    total_segments: Option<i64>,
    expression_attribute_names: Option<HashMap<String, String>>,
    expression_attribute_values: Option<HashMap<String, WireValue>>,
    attributes_to_get: Option<Vec<String>>,
    key_conditions: Option<HashMap<String, WireCondition>>,
    query_filter: Option<HashMap<String, WireCondition>>,
    scan_filter: Option<HashMap<String, WireCondition>>,
    conditional_operator: Option<String>,
    index_name: Option<String>,
    consistent_read: Option<bool>,
    return_consumed_capacity: Option<String>,
}

impl NamesTables for QueryRequest {
    fn tables(&self) -> Vec<&str> {
        self.table_name.as_deref().into_iter().collect()
    }

    /// Query and Scan on the table or the index: the attributes projected, `Select`,
    /// and for a Query the partition it reads (resolved from the key condition as the
    /// Query resolves it; a Scan reads no one partition, so it has no leading keys).
    fn accesses(&self, op: &str, engine: &Engine) -> AccessResult {
        let table = self.table_name.as_deref();
        let mut names = expression_names(
            &self.expression_attribute_names,
            &self.expression_attribute_values,
            self.projection_expression.as_deref(),
            None,
        )?;
        names.extend(self.attributes_to_get.iter().flatten().cloned());
        names.sort();
        names.dedup();
        let projects = self.projection_expression.is_some() || self.attributes_to_get.is_some();
        let mut leading = Vec::new();
        if let (Some(table), "Query") = (table, op) {
            let input = QueryInput {
                table: table.to_owned(),
                key_condition: self.key_condition_expression.clone(),
                attributes: expr_attrs(
                    self.expression_attribute_names.clone(),
                    self.expression_attribute_values.clone(),
                )?,
                index: self.index_name.clone(),
                consistent_read: self.consistent_read.unwrap_or(false),
                key_conditions: legacy::conditions(self.key_conditions.clone(), "keyConditions")?,
                ..QueryInput::default()
            };
            // A request the Query would refuse states no partition; it is refused
            // with its own error when it runs.
            if let Ok(values) = engine.query_partition(&input) {
                leading = values.iter().filter_map(value_text).collect();
            }
        }
        Ok(vec![
            Access::new(op, table)
                .on_index(self.index_name.as_deref())
                .with(KEY_LEADING, leading)
                .with(KEY_ATTRIBUTES, names)
                .with(
                    KEY_SELECT,
                    select_of(self.select.as_deref(), projects)
                        .into_iter()
                        .collect(),
                ),
        ])
    }
}

/// DynamoDB's bounds on an index name (`IndexName`), in characters.
const INDEX_NAME_CHARS_MIN: usize = 3;
const INDEX_NAME_CHARS_MAX: usize = 255;
/// The most segments DynamoDB's model allows a parallel Scan, and so its largest
/// `Segment` (zero-based).
const TOTAL_SEGMENTS_MAX: i64 = 1_000_000;
const SEGMENT_MAX: i64 = TOTAL_SEGMENTS_MAX - 1;
/// `Select`'s and `ConditionalOperator`'s members as DynamoDB lists them (dynalite's
/// recorded messages).
const SELECT: &[&str] = &[
    "SPECIFIC_ATTRIBUTES",
    "COUNT",
    "ALL_ATTRIBUTES",
    "ALL_PROJECTED_ATTRIBUTES",
];
const CONDITIONAL_OPERATOR: &[&str] = &["OR", "AND"];

impl QueryRequest {
    /// DynamoDB's first pass over Query's and Scan's own members, reported together
    /// before the table or index is looked up: the capacity flag, an empty
    /// `AttributesToGet` (before the expression families are compared), the missing
    /// table name, the index name's pattern and length, `Select`, `Limit` and
    /// `ConditionalOperator`, and for Scan (`scan`) its segment numbers. dynalite's
    /// recordings list these in differing orders, so DynamoDB's order is not stable.
    fn check_members(&self, scan: bool) -> Result<(), ApiError> {
        let mut v = Violations::new();
        v.return_consumed_capacity(self.return_consumed_capacity.as_deref());
        if self.attributes_to_get.as_ref().is_some_and(Vec::is_empty) {
            v.count(Some("[]"), 0, "attributesToGet", 1, usize::MAX);
        }
        v.not_null(self.table_name.as_ref(), "tableName");
        let index = self.index_name.as_deref();
        v.name_pattern(index, "indexName");
        v.length(
            index,
            "indexName",
            INDEX_NAME_CHARS_MIN,
            INDEX_NAME_CHARS_MAX,
        );
        v.one_of(self.select.as_deref(), "select", SELECT);
        v.range(self.limit, "limit", 1, i64::MAX);
        v.one_of(
            self.conditional_operator.as_deref(),
            "conditionalOperator",
            CONDITIONAL_OPERATOR,
        );
        if scan {
            v.range(self.segment, "segment", 0, SEGMENT_MAX);
            v.range(self.total_segments, "totalSegments", 1, TOTAL_SEGMENTS_MAX);
        }
        v.finish()
    }
}

pub(super) fn query(engine: &Engine, r: QueryRequest) -> Result<Vec<u8>, ApiError> {
    r.check_members(false)?;
    let detail = Detail::of(r.return_consumed_capacity.as_deref());
    let select_ = select(r.select)?;
    let input = QueryInput {
        table: required(r.table_name, "tableName")?,
        key_condition: r.key_condition_expression,
        filter: r.filter_expression,
        projection: r.projection_expression,
        attributes: expr_attrs(r.expression_attribute_names, r.expression_attribute_values)?,
        select: select_,
        limit: limit(r.limit)?,
        scan_forward: r.scan_index_forward.unwrap_or(true),
        exclusive_start_key: r.exclusive_start_key.map(into_item).transpose()?,
        index: r.index_name,
        consistent_read: r.consistent_read.unwrap_or(false),
        attributes_to_get: r.attributes_to_get,
        key_conditions: legacy::conditions(r.key_conditions, "keyConditions")?,
        query_filter: legacy::conditions(r.query_filter, "queryFilter")?,
        conditional_operator: legacy::conditional_operator(r.conditional_operator)?,
    };
    let page = engine.query(&input)?;
    let mut out = page_output(&page, select_)?;
    capacity::append(
        &mut out,
        capacity::object(&page.consumed, detail, Split::No),
    );
    Ok(out)
}

fn segment_number(v: Option<i64>, field: &str) -> Result<Option<u32>, ApiError> {
    v.map(|n| {
        u32::try_from(n).map_err(|_| {
            Error::validation(format!(
                "1 validation error detected: Value '{n}' at '{field}' failed to satisfy constraint: Member must have value greater than or equal to 0"
            ))
            .into()
        })
    })
    .transpose()
}

pub(super) fn scan(engine: &Engine, r: QueryRequest) -> Result<Vec<u8>, ApiError> {
    r.check_members(true)?;
    let detail = Detail::of(r.return_consumed_capacity.as_deref());
    let select_ = select(r.select)?;
    let input = ScanInput {
        table: required(r.table_name, "tableName")?,
        filter: r.filter_expression,
        projection: r.projection_expression,
        attributes: expr_attrs(r.expression_attribute_names, r.expression_attribute_values)?,
        select: select_,
        limit: limit(r.limit)?,
        exclusive_start_key: r.exclusive_start_key.map(into_item).transpose()?,
        segment: segment_number(r.segment, "segment")?,
        total_segments: segment_number(r.total_segments, "totalSegments")?,
        index: r.index_name,
        consistent_read: r.consistent_read.unwrap_or(false),
        attributes_to_get: r.attributes_to_get,
        scan_filter: legacy::conditions(r.scan_filter, "scanFilter")?,
        conditional_operator: legacy::conditional_operator(r.conditional_operator)?,
    };
    let page = engine.scan(&input)?;
    let mut out = page_output(&page, select_)?;
    capacity::append(
        &mut out,
        capacity::object(&page.consumed, detail, Split::No),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use eddy_engine::{AttributeValue, Item, StoredItem};

    use super::*;

    #[test]
    fn pages_are_written_in_dynamodb_member_order() {
        let item = Item::from([("pk".to_string(), AttributeValue::S("a".into()))]);
        let page = Page {
            items: vec![StoredItem::encode(&item)],
            count: 1,
            scanned_count: 2,
            last_evaluated_key: Some(item),
            consumed: Default::default(),
        };
        let all = page_output(&page, None).unwrap();
        assert_eq!(
            String::from_utf8(all).unwrap(),
            r#"{"Count":1,"Items":[{"pk":{"S":"a"}}],"LastEvaluatedKey":{"pk":{"S":"a"}},"ScannedCount":2}"#
        );
        let count = page_output(&page, Some(Select::Count)).unwrap();
        assert_eq!(
            String::from_utf8(count).unwrap(),
            r#"{"Count":1,"LastEvaluatedKey":{"pk":{"S":"a"}},"ScannedCount":2}"#
        );
    }
}
