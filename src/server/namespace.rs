//! DynamoDB Local's separate databases: started with its flags and without `-sharedDb`,
//! DynamoDB Local keeps the tables of each access key and region apart. Eddy does it
//! with one mapping at the edge: the access key id and region of a request's SigV4
//! credential scope name a namespace, a table `users` of that namespace is the table
//! `<key>_<region>.users` in the engine, and the request and its answer are rewritten
//! between the two (table names, ARNs, whose region becomes the request's).
//!
//! Owns that mapping. It knows where DynamoDB's JSON carries table names and ARNs and
//! where it carries items (never rewritten), nothing of what an operation does. A
//! PartiQL `Statement` names its table in its text: the engine's PartiQL parser says
//! where, and that name is rewritten like any other. Off
//! unless [`configure`] turned it on: `eddy serve` keeps one namespace, which triggers
//! and functions name tables in.

use std::sync::OnceLock;

use axum::http::HeaderMap;
use serde_json::{Map, Value};

/// Whether requests are namespaced; set once, before the first request.
static ON: OnceLock<bool> = OnceLock::new();

/// Turns namespaces on (DynamoDB Local's flags without `-sharedDb`); returns false if
/// the setting was already made.
pub fn configure(on: bool) -> bool {
    ON.set(on).is_ok()
}

/// The shortest and longest table names DynamoDB accepts (a namespace's prefix counts
/// towards the engine's 255, so its tables' names are that much shorter at most).
const TABLE_NAME_BYTES_MIN: usize = 3;
const TABLE_NAME_BYTES_MAX: usize = 255;

/// Members whose values are items, keys or attribute values: user data, never
/// rewritten, even where it looks like a table name.
const USER_DATA: [&str; 19] = [
    "Item",
    "AttributeUpdates",
    "Expected",
    "KeyConditions",
    "QueryFilter",
    "ScanFilter",
    "AttributeValueList",
    "Value",
    "Items",
    "Attributes",
    "Key",
    "Keys",
    "LastEvaluatedKey",
    "ExclusiveStartKey",
    "ExpressionAttributeValues",
    "NewImage",
    "OldImage",
    "ItemCollectionKey",
    "Parameters",
];
/// Members whose string value is a PartiQL statement (of ExecuteStatement, and of the
/// entries of BatchExecuteStatement's `Statements` and ExecuteTransaction's
/// `TransactStatements`).
const STATEMENT_MEMBER: &str = "Statement";
/// The longest statement DynamoDB accepts, in characters.
const STATEMENT_CHARS_MAX: usize = 8192;
/// Members whose string value is a table name.
const NAME_MEMBERS: [&str; 3] = [
    "TableName",
    "ExclusiveStartTableName",
    "LastEvaluatedTableName",
];
/// Members whose string value is an ARN naming a table.
const ARN_MEMBERS: [&str; 7] = [
    "TableArn",
    "ResourceArn",
    "StreamArn",
    "LatestStreamArn",
    "IndexArn",
    "ExclusiveStartStreamArn",
    "LastEvaluatedStreamArn",
];
/// Members that map table names to what concerns each table.
const BY_TABLE: [&str; 5] = [
    "RequestItems",
    "Responses",
    "UnprocessedItems",
    "UnprocessedKeys",
    "ItemCollectionMetrics",
];

/// One request's namespace: its prefix in the engine and the regions of its ARNs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Namespace {
    /// `<access key>_<region>.`
    prefix: String,
    /// The region the client signed for, which its ARNs carry.
    region: String,
    /// The region of the engine's ARNs.
    engine_region: String,
}

impl Namespace {
    /// The namespace of a request, when namespaces are on and it is signed (an
    /// unsigned request, which DynamoDB refuses, sees the shared tables).
    pub(super) fn of(headers: &HeaderMap, engine_region: &str) -> Option<Namespace> {
        if !ON.get().copied().unwrap_or(false) {
            return None;
        }
        let (key, region) = crate::auth::header_scope(headers)?;
        Some(Namespace::new(&key, &region, engine_region))
    }

    fn new(key: &str, region: &str, engine_region: &str) -> Namespace {
        // Table names allow [a-zA-Z0-9_.-]: a key or region with other characters is
        // named by a hash of it instead (so two keys never share a namespace).
        let tidy = |s: &str, allowed: fn(char) -> bool| {
            if !s.is_empty() && s.chars().all(allowed) {
                s.to_owned()
            } else {
                format!("x{:08x}", crc32fast::hash(s.as_bytes()))
            }
        };
        let key = tidy(key, |c| c.is_ascii_alphanumeric());
        let region_part = tidy(region, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
        });
        Namespace {
            prefix: format!("{key}_{region_part}."),
            region: region.to_owned(),
            engine_region: engine_region.to_owned(),
        }
    }

    /// The engine's name of a table of this namespace.
    fn inward_name(&self, name: &str) -> String {
        if name.starts_with("arn:") {
            return self.inward_arn(name);
        }
        // A name DynamoDB refuses is passed on as it is, so that it is refused with the
        // message that names it.
        let valid = (TABLE_NAME_BYTES_MIN..=TABLE_NAME_BYTES_MAX).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !valid {
            return name.to_owned();
        }
        format!("{}{name}", self.prefix)
    }

    /// `arn:aws:dynamodb:<region>:<account>:table/<name>…` as the engine names it.
    fn inward_arn(&self, arn: &str) -> String {
        match split_arn(arn) {
            Some((_, account, rest)) => format!(
                "arn:aws:dynamodb:{}:{account}:table/{}{rest}",
                self.engine_region, self.prefix
            ),
            None => arn.to_owned(),
        }
    }

    /// The client's name of an engine table name (`None` if it is of no namespace of
    /// this one).
    fn outward_name(&self, name: &str) -> Option<String> {
        name.strip_prefix(&self.prefix).map(str::to_owned)
    }

    fn outward_arn(&self, arn: &str) -> String {
        match split_arn(arn) {
            Some((_, account, rest)) => match rest.strip_prefix(&self.prefix) {
                Some(rest) => format!("arn:aws:dynamodb:{}:{account}:table/{rest}", self.region),
                None => arn.to_owned(),
            },
            None => arn.to_owned(),
        }
    }

    /// Rewrites a request body's table names and ARNs to the engine's. A body that is
    /// not a JSON object is left as it is (the operation refuses it as usual).
    pub(super) fn inward(&self, op: &str, body: &[u8]) -> Option<Vec<u8>> {
        let mut v: Value = serde_json::from_slice(body).ok()?;
        // ListTables starts after the bare prefix: the namespace's first table sorts
        // right after it.
        if let ("ListTables", Some(o)) = (op, v.as_object_mut())
            && !o.contains_key("ExclusiveStartTableName")
        {
            o.insert(
                "ExclusiveStartTableName".into(),
                Value::String(self.prefix.clone()),
            );
            let mut v = Value::Object(std::mem::take(o));
            walk(
                &mut v,
                &mut |name| (name != self.prefix).then(|| self.inward_name(name)),
                &|arn| self.inward_arn(arn),
            );
            return Some(v.to_string().into_bytes());
        }
        walk(&mut v, &mut |name| Some(self.inward_name(name)), &|arn| {
            self.inward_arn(arn)
        });
        walk_statements(&mut v, &|stmt| self.inward_statement(stmt));
        Some(v.to_string().into_bytes())
    }

    /// A PartiQL statement naming the engine's table. A statement that does not parse
    /// is passed on as it is, so that it is refused with the parser's message; a table
    /// name DynamoDB refuses is too, so that it is refused as not found.
    fn inward_statement(&self, stmt: &str) -> Option<String> {
        // A statement too long for DynamoDB is refused with a message that quotes it,
        // which must quote the client's statement.
        if stmt.chars().count() > STATEMENT_CHARS_MAX {
            return None;
        }
        let (name, span) = eddy_engine::partiql::table_name_span(stmt)?;
        let inward = self.inward_name(&name);
        if inward == name {
            return None;
        }
        // The engine's name has a '.' and maybe a '-': quoted, it stays one name.
        let quoted = format!("\"{}\"", inward.replace('"', "\"\""));
        Some(format!(
            "{}{quoted}{}",
            &stmt[..span.start],
            &stmt[span.end..]
        ))
    }

    /// Rewrites an answer's table names and ARNs to the client's; table names of other
    /// namespaces (ListTables) are left out.
    pub(super) fn outward(&self, body: &[u8]) -> Option<Vec<u8>> {
        let mut v: Value = serde_json::from_slice(body).ok()?;
        if let Some(names) = v.get_mut("TableNames").and_then(Value::as_array_mut) {
            let all = names.len();
            names.retain(|n| n.as_str().is_some_and(|n| n.starts_with(&self.prefix)));
            if names.len() < all {
                // The list ran past this namespace's tables: there are no more.
                if let Some(o) = v.as_object_mut() {
                    o.remove("LastEvaluatedTableName");
                }
            }
        }
        if let Some(names) = v.get_mut("TableNames").and_then(Value::as_array_mut) {
            for n in names.iter_mut() {
                if let Some(out) = n.as_str().and_then(|s| self.outward_name(s)) {
                    *n = Value::String(out);
                }
            }
        }
        // ListStreams without a table lists every namespace's streams: keep this one's.
        // A page that ends on another namespace's stream ends the list (its ARN cannot
        // be named in this namespace), so that a listing of more than a page of streams
        // across namespaces may stop early.
        if let Some(streams) = v.get_mut("Streams").and_then(Value::as_array_mut) {
            streams.retain(|s| {
                s.get("TableName")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.starts_with(&self.prefix))
            });
            let foreign = v
                .get("LastEvaluatedStreamArn")
                .and_then(Value::as_str)
                .is_some_and(|arn| {
                    split_arn(arn).is_none_or(|(_, _, rest)| !rest.starts_with(&self.prefix))
                });
            if foreign && let Some(o) = v.as_object_mut() {
                o.remove("LastEvaluatedStreamArn");
            }
        }
        walk(&mut v, &mut |name| self.outward_name(name), &|arn| {
            self.outward_arn(arn)
        });
        // Error messages name the engine's table and ARN.
        for field in ["message", "Message"] {
            if let Some(Value::String(m)) = v.get_mut(field) {
                *m = m.replace(&self.prefix, "");
            }
        }
        Some(v.to_string().into_bytes())
    }
}

/// `(region, account, the part after ":table/")` of a table ARN.
fn split_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let rest = arn.strip_prefix("arn:aws:dynamodb:")?;
    let (region, rest) = rest.split_once(':')?;
    let (account, rest) = rest.split_once(':')?;
    let rest = rest.strip_prefix("table/")?;
    Some((region, account, rest))
}

/// Rewrites, in place, every table name (by `name`) and table ARN (by `arn`) of a
/// DynamoDB JSON document, leaving user data alone.
fn walk(v: &mut Value, name: &mut dyn FnMut(&str) -> Option<String>, arn: &dyn Fn(&str) -> String) {
    match v {
        Value::Object(o) => walk_object(o, name, arn),
        Value::Array(a) => a.iter_mut().for_each(|e| walk(e, name, arn)),
        _ => {}
    }
}

fn walk_object(
    o: &mut Map<String, Value>,
    name: &mut dyn FnMut(&str) -> Option<String>,
    arn: &dyn Fn(&str) -> String,
) {
    for (k, v) in o.iter_mut() {
        let k = k.as_str();
        if USER_DATA.contains(&k) {
            continue;
        }
        match v {
            Value::String(s) if NAME_MEMBERS.contains(&k) => {
                if let Some(new) = name(s) {
                    *s = new;
                }
            }
            Value::String(s) if ARN_MEMBERS.contains(&k) => *s = arn(s),
            Value::Object(by_table) if BY_TABLE.contains(&k) => {
                let entries = std::mem::take(by_table);
                for (table, mut inner) in entries {
                    // The values of `Responses` are items.
                    if k != "Responses" {
                        walk(&mut inner, name, arn);
                    }
                    let table = name(&table).unwrap_or(table);
                    by_table.insert(table, inner);
                }
            }
            other => walk(other, name, arn),
        }
    }
}

/// Rewrites, in place, every PartiQL statement of a request (by `stmt`, `None` leaving
/// it as it is), leaving user data (such as `Parameters`) alone.
fn walk_statements(v: &mut Value, stmt: &dyn Fn(&str) -> Option<String>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o.iter_mut() {
                match v {
                    _ if USER_DATA.contains(&k.as_str()) => {}
                    Value::String(s) if k == STATEMENT_MEMBER => {
                        if let Some(new) = stmt(s) {
                            *s = new;
                        }
                    }
                    other => walk_statements(other, stmt),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|e| walk_statements(e, stmt)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;
    use serde_json::json;

    fn ns() -> Namespace {
        Namespace::new("AKID", "eu-west-1", "us-east-1")
    }

    fn inward(v: Value) -> Value {
        serde_json::from_slice(&ns().inward("PutItem", v.to_string().as_bytes()).unwrap()).unwrap()
    }

    fn outward(v: Value) -> Value {
        serde_json::from_slice(&ns().outward(v.to_string().as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn table_names_and_arns_are_mapped_and_items_are_not() {
        let req = inward(json!({
            "TableName": "users",
            "Item": {"TableName": {"S": "users"}},
            "RequestItems": {"users": [{"PutRequest": {"Item": {"pk": {"S": "users"}}}}]},
            "TransactItems": [{"Put": {"TableName": "orders", "Item": {}}}],
            "ResourceArn": "arn:aws:dynamodb:eu-west-1:000000000000:table/users",
        }));
        assert_eq!(req["TableName"], "AKID_eu-west-1.users");
        assert_eq!(inward(json!({"TableName": "a"}))["TableName"], "a");
        assert_eq!(
            inward(json!({"TableName": "bad name!"}))["TableName"],
            "bad name!"
        );
        assert_eq!(req["Item"]["TableName"]["S"], "users");
        assert!(req["RequestItems"]["AKID_eu-west-1.users"].is_array());
        assert_eq!(
            req["TransactItems"][0]["Put"]["TableName"],
            "AKID_eu-west-1.orders"
        );
        assert_eq!(
            req["ResourceArn"],
            "arn:aws:dynamodb:us-east-1:000000000000:table/AKID_eu-west-1.users"
        );

        let out = outward(json!({
            "Table": {
                "TableName": "AKID_eu-west-1.users",
                "TableArn": "arn:aws:dynamodb:us-east-1:000000000000:table/AKID_eu-west-1.users",
                "LatestStreamArn": "arn:aws:dynamodb:us-east-1:000000000000:table/AKID_eu-west-1.users/stream/2026",
            },
            "Responses": {"AKID_eu-west-1.users": [{"TableName": {"S": "AKID_eu-west-1.x"}}]},
        }));
        assert_eq!(out["Table"]["TableName"], "users");
        assert_eq!(
            out["Table"]["TableArn"],
            "arn:aws:dynamodb:eu-west-1:000000000000:table/users"
        );
        assert_eq!(
            out["Table"]["LatestStreamArn"],
            "arn:aws:dynamodb:eu-west-1:000000000000:table/users/stream/2026"
        );
        assert_eq!(
            out["Responses"]["users"][0]["TableName"]["S"],
            "AKID_eu-west-1.x"
        );
    }

    #[test]
    fn partiql_statements_name_the_namespace_tables() {
        let req = inward(json!({
            "Statement": "SELECT * FROM \"users\".\"byEmail\" WHERE pk = 'users'",
            "Parameters": [{"S": "users"}],
            "Statements": [{"Statement": "DELETE FROM orders WHERE pk = ?"}],
            "TransactStatements": [{"Statement": "INSERT INTO t-1 VALUE {'a': 1}"}],
        }));
        assert_eq!(
            req["Statement"],
            "SELECT * FROM \"AKID_eu-west-1.users\".\"byEmail\" WHERE pk = 'users'"
        );
        assert_eq!(req["Parameters"][0]["S"], "users");
        assert_eq!(
            req["Statements"][0]["Statement"],
            "DELETE FROM \"AKID_eu-west-1.orders\" WHERE pk = ?"
        );
        // Neither a statement that does not parse nor a name DynamoDB refuses is
        // rewritten.
        assert_eq!(
            req["TransactStatements"][0]["Statement"],
            "INSERT INTO t-1 VALUE {'a': 1}"
        );
        let odd = inward(json!({"Statement": "SELECT * FROM \"a b\""}));
        assert_eq!(odd["Statement"], "SELECT * FROM \"a b\"");
    }

    #[test]
    fn list_tables_shows_this_namespace_only() {
        let req: Value =
            serde_json::from_slice(&ns().inward("ListTables", b"{\"Limit\":5}").unwrap()).unwrap();
        assert_eq!(
            req,
            json!({"Limit": 5, "ExclusiveStartTableName": "AKID_eu-west-1."})
        );
        let req: Value = serde_json::from_slice(
            &ns()
                .inward("ListTables", b"{\"ExclusiveStartTableName\":\"abc\"}")
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            req,
            json!({"ExclusiveStartTableName": "AKID_eu-west-1.abc"})
        );
        let out = outward(json!({
            "TableNames": ["AKID_eu-west-1.a", "AKID_eu-west-1.b"],
            "LastEvaluatedTableName": "AKID_eu-west-1.b",
        }));
        assert_eq!(
            out,
            json!({"TableNames": ["a", "b"], "LastEvaluatedTableName": "b"})
        );
        let out = outward(json!({
            "TableNames": ["AKID_eu-west-1.a", "OTHER_eu-west-1.b"],
            "LastEvaluatedTableName": "OTHER_eu-west-1.b",
        }));
        assert_eq!(out, json!({"TableNames": ["a"]}));
    }

    #[test]
    fn keys_and_regions_are_read_from_the_credential_scope() {
        configure(true);
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/dynamodb/aws4_request, \
             SignedHeaders=host, Signature=abc"
                .parse()
                .unwrap(),
        );
        assert_eq!(Namespace::of(&h, "us-east-1"), Some(ns()));
        assert_eq!(Namespace::of(&HeaderMap::new(), "us-east-1"), None);
        let odd = Namespace::new("my key!", "eu-west-1", "us-east-1");
        assert!(odd.prefix.starts_with('x') && odd.prefix.ends_with("_eu-west-1."));
    }
}
