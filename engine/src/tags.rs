//! A table's tags: TagResource, UntagResource and ListTagsOfResource, the resource ARN
//! they name, and DynamoDB's errors for a malformed or unknown one.
//!
//! Owns reading a resource ARN and the order of the tag operations' checks. Must not
//! know how a definition is stored (`tables::replace_def` publishes it) nor what makes
//! a tag valid (`schema.rs`).

use std::sync::Arc;

use crate::catalog::Table;
use crate::error::{Error, Result};
use crate::limits::TAGS_PER_RESOURCE_MAX;
use crate::schema::{check_tag_key, too_many_tags, validate_table_name, validate_tags};
use crate::state::State;
use crate::sync::lock;
use crate::tables::replace_def;

/// The table name in `arn`, if the ARN names a table of this engine. The refusals are
/// DynamoDB's, as probes of DynamoDB record them: a string that is not an ARN, an ARN
/// of another service or of a DynamoDB resource that is not a table (an index has its
/// own message), and a table ARN of another region, partition or account or with an
/// invalid table name. Whether the table exists is the caller's question.
fn table_name_in<'a>(state: &State, arn: &'a str) -> Result<&'a str> {
    let invalid = |m: &str| {
        Error::validation(format!(
            "One or more parameter values were invalid: {m}{arn}"
        ))
    };
    let Some(rest) = arn.strip_prefix("arn:") else {
        return Err(invalid("ARNs must start with 'arn:': "));
    };
    // arn:partition:service:region:account:resource
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    let [partition, service, region, account, resource] = parts[..] else {
        return Err(invalid("Provided Arn is not a DynamoDB resource arn: "));
    };
    let Some(path) = resource
        .strip_prefix("table/")
        .filter(|_| service == "dynamodb")
    else {
        return Err(invalid("Provided Arn is not a DynamoDB resource arn: "));
    };
    let (name, below) = path.split_once('/').unwrap_or((path, ""));
    if below.starts_with("index/") {
        return Err(invalid(
            "Invalid resource arn provided, only table or stream is accepted. Provided resource arn: ",
        ));
    }
    // A stream or backup of a table is no resource Eddy tags.
    if !below.is_empty() {
        return Err(invalid("Provided Arn is not a DynamoDB resource arn: "));
    }
    let c = &state.config;
    if partition != "aws"
        || region != c.region
        || account != c.account_id
        || validate_table_name(name, "tableName").is_err()
    {
        return Err(Error::validation(format!(
            "Invalid TableArn: Invalid ResourceArn provided as input {arn}"
        )));
    }
    Ok(name)
}

/// The live table `name` that `arn` names, or DynamoDB's not-found (its spelling).
fn table_named(state: &State, name: &str, arn: &str) -> Result<Arc<Table>> {
    state.table(name).map_err(|_| {
        Error::not_found(format!(
            "Requested resource not found: ResourcArn: {arn} not found"
        ))
    })
}

/// Adds (or overwrites) tags. Checked in DynamoDB's order: the ARN, at least one tag,
/// each tag, then the table; the tags the table would then carry are counted last.
/// A refused request changes nothing.
pub(crate) fn tag_resource(state: &State, arn: &str, tags: Vec<(String, String)>) -> Result<()> {
    let name = table_name_in(state, arn)?;
    if tags.is_empty() {
        return Err(Error::validation(
            "Atleast one Tag needs to be provided as Input.",
        ));
    }
    validate_tags(&tags)?;
    let _guard = lock(&state.catalog_lock);
    let t = table_named(state, name, arn)?;
    let mut def = t.def.clone();
    def.tags.extend(tags);
    if def.tags.len() > TAGS_PER_RESOURCE_MAX {
        return Err(too_many_tags());
    }
    replace_def(state, &t, def).map(|_| ())
}

/// Removes tags by key (a key the table does not carry is no error).
pub(crate) fn untag_resource(state: &State, arn: &str, keys: &[String]) -> Result<()> {
    let name = table_name_in(state, arn)?;
    if keys.is_empty() {
        return Err(Error::validation(
            "Atleast one Tag Key needs to be provided as Input.",
        ));
    }
    for k in keys {
        check_tag_key(k)?;
    }
    if keys.len() > TAGS_PER_RESOURCE_MAX {
        return Err(too_many_tags());
    }
    let _guard = lock(&state.catalog_lock);
    let t = table_named(state, name, arn)?;
    let mut def = t.def.clone();
    for k in keys {
        def.tags.remove(k);
    }
    replace_def(state, &t, def).map(|_| ())
}

pub(crate) fn list_tags(state: &State, arn: &str) -> Result<Vec<(String, String)>> {
    let name = table_name_in(state, arn)?;
    let t = table_named(state, name, arn)?;
    Ok(t.def
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect())
}
