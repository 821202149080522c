//! Cross-region replication, active-active, last writer wins.
//!
//! Deploy this function in every region, attached to the replicated table's stream
//! (`NEW_AND_OLD_IMAGES`), with `PEER_ENDPOINT` set to the other region's Eddy (and that
//! host granted for outbound HTTP). It carries each write made in its own region to the
//! peer's table of the same name.
//!
//! ## The contract with writers
//!
//! Every write sets two attributes, the write's clock:
//! - `updated_at` (N): when it was made, milliseconds since the Unix epoch;
//! - `updated_in` (S): the region it was made in.
//!
//! (DynamoDB's first global tables stamped `aws:rep:updatetime` and
//! `aws:rep:updateregion` the same way.) The pair orders all writes of an item totally:
//! a later `updated_at` wins, and equal times are broken by the region name (the greater
//! one wins), so every region picks the same winner whatever order writes arrive in.
//! For that, a region must never give two writes of one item the same `updated_at`
//! (a writer whose clock has not moved since its last write of the item uses that time
//! plus one): two different writes with one clock have no winner, and the regions could
//! keep different ones. A delete's tombstone may share its clock with a write made in the
//! same millisecond; that tie goes to the write, everywhere.
//!
//! ## What the function does with each record, in stream order
//!
//! - A write whose `updated_in` is another region was put here by a replicator: it is
//!   never sent on (no ping-pong, no re-replication).
//! - A write made here is sent to the peer as a `PutItem` of the whole new image with the
//!   condition "the peer has no such item, or its clock is older". A refused condition
//!   means the peer already holds a newer write (or this one, from an earlier delivery):
//!   nothing to do. So a record delivered twice changes nothing.
//! - A delete made here (`REMOVE`) is turned into a local tombstone: the item comes back
//!   as `{key, deleted: true, updated_at, updated_in}` with a clock later than the deleted
//!   write's, written unless the key holds a newer write by now, and that tombstone
//!   replicates like any write. A tombstone is what lets last
//!   writer wins order a delete against a concurrent update in the other region; readers
//!   skip items with `deleted = true`.
//! - A failure to reach the peer fails the batch from that record on
//!   (`ReportBatchItemFailures`), so the runtime retries it — with backoff, in order —
//!   until the peer is back; nothing is skipped.
//!
//! Configuration: `PEER_ENDPOINT` (required, e.g. `http://127.0.0.1:8001`),
//! `PEER_TABLE` (default: the source table's name), `REGION` (default: the record's
//! `awsRegion`), and for collecting tombstones `TOMBSTONE_TTL_S` with `TTL_ATTRIBUTE`
//! (default `expires_at`).
//!
//! ## Collecting tombstones
//!
//! With `TOMBSTONE_TTL_S` set, a tombstone carries `TTL_ATTRIBUTE` = its time plus that
//! many seconds. Enable Time to Live on that attribute in every region and tombstones
//! expire everywhere (their own removal is never carried, see above). Choose the time
//! well beyond the longest a region can be cut off: a write older than a delete that
//! arrives after the delete's tombstone is gone would bring the item back.

use eddy_sdk::http::Request;
use eddy_sdk::{
    AttributeValue, BatchResponse, Context, Error, EventName, Item, StreamEvent, StreamRecord, log,
};
use serde_json::{Value, json};

/// The attribute holding a write's time, milliseconds since the Unix epoch.
pub const UPDATED_AT: &str = "updated_at";
/// The attribute holding the region a write was made in.
pub const UPDATED_IN: &str = "updated_in";
/// The attribute marking a tombstone (a replicated delete).
pub const DELETED: &str = "deleted";
/// The default attribute for a tombstone's expiry (see "Collecting tombstones").
pub const TTL_ATTRIBUTE_DEFAULT: &str = "expires_at";

/// The condition under which a write replaces an item: there is none, or it has an older
/// clock. The key attribute is checked with `attribute_not_exists`.
const NEWER_THAN_HELD: &str =
    "attribute_not_exists(#key) OR #at < :at OR (#at = :at AND #in < :in)";

/// The condition for a live write: as [`NEWER_THAN_HELD`], or the peer holds a tombstone
/// of the very same clock. A tombstone's time is its delete's, so a write stamped in
/// that millisecond ties with it; the write wins the tie in every region (the local
/// tombstone is refused by [`NEWER_THAN_HELD`]), so the regions cannot diverge on it.
const NEWER_THAN_HELD_OR_TIED_TOMBSTONE: &str = "attribute_not_exists(#key) OR #at < :at OR (#at = :at AND #in < :in) OR (#at = :at AND #in = :in AND #deleted = :true)";

fn handle(event: StreamEvent, ctx: &Context) -> Result<BatchResponse, Error> {
    let peer = ctx
        .config("PEER_ENDPOINT")
        .ok_or_else(|| Error::msg("PEER_ENDPOINT is not configured"))?;
    let mut response = BatchResponse::success();
    for record in &event.records {
        if let Err(e) = replicate(record, &peer, ctx) {
            log::log(
                log::Level::Warn,
                "replication failed; the batch is retried from this record",
                &[
                    ("sequence_number", &record.dynamodb.sequence_number),
                    ("error", &e.to_string()),
                ],
            );
            // Lambda checkpoints below the lowest failed record: report this one and
            // stop, so the rest is retried after it, in order.
            response.fail(record);
            break;
        }
    }
    Ok(response)
}

fn replicate(record: &StreamRecord, peer: &str, ctx: &Context) -> Result<(), Error> {
    let region = ctx
        .config("REGION")
        .unwrap_or_else(|| record.aws_region.clone());
    match record.event_name {
        EventName::Insert | EventName::Modify => {
            let Some(image) = &record.dynamodb.new_image else {
                return Err(Error::msg(
                    "the stream has no new images: use NEW_AND_OLD_IMAGES or NEW_IMAGE",
                ));
            };
            match text(image, UPDATED_IN) {
                Some(origin) if origin == region => send_to_peer(record, image, peer, ctx),
                Some(_) => Ok(()),
                None => {
                    log::log(
                        log::Level::Error,
                        "write without updated_in/updated_at is not replicated",
                        &[("keys", &keys_text(record))],
                    );
                    Ok(())
                }
            }
        }
        EventName::Remove => tombstone(record, &region, ctx),
    }
}

/// Puts `image` into the peer's table unless the peer holds a newer write.
fn send_to_peer(
    record: &StreamRecord,
    image: &Item,
    peer: &str,
    ctx: &Context,
) -> Result<(), Error> {
    let (Some(at), Some(origin)) = (number(image, UPDATED_AT), text(image, UPDATED_IN)) else {
        return Err(Error::msg("updated_at (N) and updated_in (S) are required"));
    };
    let table = match ctx.config("PEER_TABLE") {
        Some(t) => t,
        None => table_of(&record.event_source_arn)?,
    };
    let key = key_attribute(record)?;
    let is_tombstone = image.get(DELETED).and_then(AttributeValue::as_bool) == Some(true);
    let request = if is_tombstone {
        json!({
            "TableName": table,
            "Item": image,
            "ConditionExpression": NEWER_THAN_HELD,
            "ExpressionAttributeNames": {"#key": key, "#at": UPDATED_AT, "#in": UPDATED_IN},
            "ExpressionAttributeValues": {":at": {"N": at}, ":in": {"S": origin}},
        })
    } else {
        json!({
            "TableName": table,
            "Item": image,
            "ConditionExpression": NEWER_THAN_HELD_OR_TIED_TOMBSTONE,
            "ExpressionAttributeNames": {
                "#key": key, "#at": UPDATED_AT, "#in": UPDATED_IN, "#deleted": DELETED,
            },
            "ExpressionAttributeValues": {
                ":at": {"N": at}, ":in": {"S": origin}, ":true": {"BOOL": true},
            },
        })
    };
    let response = Request::post(&format!("{}/", peer.trim_end_matches('/')))
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", "DynamoDB_20120810.PutItem")
        .body(request.to_string())
        .send()?;
    if response.status == 200 {
        return Ok(());
    }
    let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let kind = body.get("__type").and_then(Value::as_str).unwrap_or("");
    if kind.ends_with("ConditionalCheckFailedException") {
        // The peer already holds this write or a newer one.
        return Ok(());
    }
    Err(Error::msg(format!(
        "the peer answered {}: {}",
        response.status,
        response.text()
    )))
}

/// Replaces a local delete by a tombstone (which then replicates like any write),
/// unless the key holds a newer write by now.
fn tombstone(record: &StreamRecord, region: &str, ctx: &Context) -> Result<(), Error> {
    let old = record.dynamodb.old_image.as_ref();
    if old
        .and_then(|o| o.get(DELETED))
        .and_then(AttributeValue::as_bool)
        == Some(true)
    {
        // A tombstone itself was removed (cleanup): nothing to carry.
        return Ok(());
    }
    let deleted_ms = record
        .dynamodb
        .approximate_creation_date_time
        .map_or(0, |s| (s * 1000.0) as u64);
    // The tombstone must order after the write it deletes, even if that write's clock
    // was ahead of this server's.
    let old_ms = old
        .and_then(|o| number(o, UPDATED_AT))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    let at = deleted_ms.max(old_ms + 1);
    let expiry = match ctx.config("TOMBSTONE_TTL_S") {
        Some(s) => Some((
            ctx.config("TTL_ATTRIBUTE")
                .unwrap_or_else(|| TTL_ATTRIBUTE_DEFAULT.to_owned()),
            s.parse::<u64>()
                .map_err(|_| Error::msg(format!("TOMBSTONE_TTL_S={s:?} is not whole seconds")))?,
        )),
        None => None,
    };
    let item = tombstone_item(&record.dynamodb.keys, at, region, expiry);
    let key = key_attribute(record)?;
    let table = table_of(&record.event_source_arn)?;
    // Written unless the table now holds a newer write: a write from the peer may have
    // landed on the empty key since the delete, and is overwritten only if older.
    let request = json!({
        "TableName": table,
        "Item": item,
        "ConditionExpression": NEWER_THAN_HELD,
        "ExpressionAttributeNames": {"#key": key, "#at": UPDATED_AT, "#in": UPDATED_IN},
        "ExpressionAttributeValues": {":at": {"N": at.to_string()}, ":in": {"S": region}},
    });
    match ctx.dynamodb().call_json("PutItem", &request.to_string()) {
        Ok(_) => Ok(()),
        Err(e) if e.code == "ConditionalCheckFailedException" => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// A tombstone for `keys` at clock (`at_ms`, `region`); with `expiry` = (attribute,
/// seconds), it expires that long after its clock.
fn tombstone_item(keys: &Item, at_ms: u64, region: &str, expiry: Option<(String, u64)>) -> Item {
    let mut item = keys.clone();
    item.insert(DELETED.to_owned(), AttributeValue::Bool(true));
    item.insert(UPDATED_AT.to_owned(), AttributeValue::n(at_ms));
    item.insert(UPDATED_IN.to_owned(), AttributeValue::s(region));
    if let Some((attribute, seconds)) = expiry {
        item.insert(attribute, AttributeValue::n(at_ms / 1000 + seconds));
    }
    item
}

/// The name of one of the item's key attributes (the hash key, or with a composite key
/// either): enough for `attribute_not_exists`, which holds for both or neither.
fn key_attribute(record: &StreamRecord) -> Result<&str, Error> {
    record
        .dynamodb
        .keys
        .keys()
        .next()
        .map(String::as_str)
        .ok_or_else(|| Error::msg("the record has no key"))
}

/// The table name in a stream ARN (`arn:aws:dynamodb:…:table/NAME/stream/LABEL`).
fn table_of(stream_arn: &str) -> Result<String, Error> {
    stream_arn
        .split_once(":table/")
        .and_then(|(_, rest)| rest.split('/').next())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Error::msg(format!("not a stream ARN: {stream_arn}")))
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(AttributeValue::as_s)
}

fn number<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(AttributeValue::as_n)
}

fn keys_text(record: &StreamRecord) -> String {
    serde_json::to_string(&record.dynamodb.keys).unwrap_or_default()
}

eddy_sdk::handler!(handle);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tombstone_expires_only_when_asked_to() {
        let keys = Item::from([("id".to_owned(), AttributeValue::s("k"))]);
        let plain = tombstone_item(&keys, 1_700_000_000_500, "us-east-1", None);
        assert_eq!(plain.get(DELETED), Some(&AttributeValue::Bool(true)));
        assert_eq!(
            plain.get(UPDATED_AT),
            Some(&AttributeValue::n(1_700_000_000_500u64))
        );
        assert_eq!(plain.len(), 4);
        let expiring = tombstone_item(
            &keys,
            1_700_000_000_500,
            "us-east-1",
            Some(("ttl".into(), 86_400)),
        );
        assert_eq!(
            expiring.get("ttl"),
            Some(&AttributeValue::n(1_700_086_400u64)),
            "epoch seconds, as Time to Live reads them"
        );
    }

    #[test]
    fn the_table_comes_from_the_stream_arn() {
        let arn =
            "arn:aws:dynamodb:eu-west-1:000000000000:table/profiles/stream/2026-11-26T17:00:00.000";
        assert_eq!(table_of(arn).expect("a table"), "profiles");
        assert!(table_of("arn:aws:dynamodb:eu-west-1:000000000000:table//stream/x").is_err());
        assert!(table_of("not an arn").is_err());
    }
}
