//! The search pipeline end to end: a `products` table with a stream, the real
//! `search-indexer` function (built by `tests/run.sh` for `wasm32-wasip2`) deployed with the
//! `products` index, a trigger, and `GET /v1/search/{index}` on the real binary.
//!
//! A few thousand products go in through BatchWriteItem (the AWS SDK for Rust); some are
//! updated and some deleted; the ranked results are checked. Then the same records are
//! delivered a second time (a second trigger from TRIM_HORIZON) and the server is
//! restarted on the same data directory: the results must not change. Every wait polls
//! against a deadline.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, DeleteRequest, KeySchemaElement, KeyType,
    PutRequest, ScalarAttributeType, StreamSpecification, StreamViewType, WriteRequest,
};
use serde_json::{Value, json};

use crate::api::{Resp, attach, deploy, get, guest, metric, wait_delivered, wait_for};
use crate::harness::{Server, table_name};

/// Upper bound of every poll loop in this file, longer than `api::WAIT` (indexing a few
/// thousand records through a debug build of the server takes a few seconds).
const WAIT: Duration = Duration::from_secs(120);
/// The generated catalogue.
const PRODUCTS: usize = 3_000;
/// Items per BatchWriteItem call (DynamoDB's limit).
const BATCH_WRITE_ITEMS_MAX: usize = 25;
/// Deadline of one invocation: generous, since the host is a debug build.
const FUNCTION_TIMEOUT_MS: u64 = 30_000;
/// The most hits a check asks for: more than any check matches.
const LIMIT: usize = 1_000;
/// The index the function writes and the tests read.
const INDEX: &str = "products";

const ADJECTIVES: [&str; 10] = [
    "red", "blue", "compact", "sturdy", "light", "classic", "modern", "soft", "bright", "quiet",
];
const NOUNS: [&str; 12] = [
    "chair", "table", "lamp", "shelf", "blanket", "mug", "bottle", "backpack", "jacket", "speaker",
    "clock", "rug",
];
const CATEGORIES: [&str; 5] = ["home", "kitchen", "garden", "outdoor", "office"];
const MATERIALS: [&str; 4] = ["oak", "steel", "wool", "glass"];
const PHRASES: [&str; 6] = [
    "built to last",
    "easy to clean",
    "made from recycled materials",
    "fits in small spaces",
    "a gift for any occasion",
    "for everyday use",
];

// ---------------------------------------------------------------------------
// the catalogue and what the index should answer

/// Products `i % 30 == 0` are "vintage" and get updated to "refurbished".
fn updated(i: usize) -> bool {
    i.is_multiple_of(30)
}

/// Products `i % 30 == 1` are on "clearance" and get deleted.
fn deleted(i: usize) -> bool {
    i % 30 == 1
}

fn product_id(i: usize) -> String {
    format!("p{i:04}")
}

fn product_name(i: usize) -> String {
    format!("{} {}", ADJECTIVES[i % 10], NOUNS[(i / 10) % 12])
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn product(i: usize) -> BTreeMap<String, AttributeValue> {
    let name = product_name(i);
    let mut description = format!("A {name}, {}.", PHRASES[i % PHRASES.len()]);
    if i.is_multiple_of(11) {
        description.push_str(" Looks good in the garden too.");
    }
    if updated(i) {
        description.push_str(" A vintage piece.");
    }
    if deleted(i) {
        description.push_str(" Last units on clearance.");
    }
    let details = AttributeValue::M(
        [
            ("material".to_owned(), s(MATERIALS[i % 4])),
            (
                "weight_g".to_owned(),
                AttributeValue::N((100 + i).to_string()),
            ),
        ]
        .into(),
    );
    [
        ("id", s(&product_id(i))),
        ("name", s(&name)),
        ("description", s(&description)),
        ("category", s(CATEGORIES[i % 5])),
        ("price", AttributeValue::N(format!("{}.99", 5 + i % 200))),
        ("details", details),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Products written for the ranking check: "zephyr" in the name and the description of
/// one, in the description alone of the others.
fn ranking_products() -> Vec<BTreeMap<String, AttributeValue>> {
    [
        (
            "s-both",
            "Zephyr reading lamp",
            "The zephyr lamp glows softly all night.",
        ),
        (
            "s-desc1",
            "Desk lamp",
            "Named after the zephyr, a gentle lamp that glows softly.",
        ),
        (
            "s-desc2",
            "Floor lamp",
            "A zephyr of light for any corner of the room.",
        ),
    ]
    .into_iter()
    .map(|(id, name, description)| {
        [
            ("id", s(id)),
            ("name", s(name)),
            ("description", s(description)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    })
    .collect()
}

/// Stream records the writes below produce: one INSERT per product, one MODIFY per
/// update, one REMOVE per delete.
fn records_written() -> u64 {
    let changed = (0..PRODUCTS).filter(|&i| updated(i) || deleted(i)).count();
    (PRODUCTS + ranking_products().len() + changed) as u64
}

/// The ids (sorted) of the live generated products for which `pred` holds.
fn live_ids(pred: impl Fn(usize) -> bool) -> Vec<String> {
    (0..PRODUCTS)
        .filter(|&i| !deleted(i) && pred(i))
        .map(product_id)
        .collect()
}

/// The checks: query → the ids it must find (all of them, sorted).
fn expected() -> BTreeMap<&'static str, Vec<String>> {
    let ids = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    BTreeMap::from([
        // Updated products are found by their new words, not their old ones.
        ("vintage", Vec::new()),
        ("refurbished", live_ids(updated)),
        // Deleted products are gone.
        ("clearance", Vec::new()),
        ("_id:p0001", Vec::new()),
        // A field-scoped query matches that field only; a plain word matches any field.
        ("category:garden", live_ids(|i| i % 5 == 2)),
        // (An update replaces the description, and with it the garden sentence.)
        (
            "garden",
            live_ids(|i| i % 5 == 2 || (i % 11 == 0 && !updated(i))),
        ),
        ("details.material:oak", live_ids(|i| i % 4 == 0)),
        ("name:zephyr", ids(&["s-both"])),
        ("zephyr", ids(&["s-both", "s-desc1", "s-desc2"])),
        // Phrases, stemming ("glow" finds "glows") and required/excluded words.
        ("\"glows softly\"", ids(&["s-both", "s-desc1"])),
        ("+glow -desk", ids(&["s-both"])),
    ])
}

// ---------------------------------------------------------------------------
// HTTP

/// `GET path` on the search API, which answers with a Content-Length, never chunked.
fn get_search(endpoint: &str, path: &str) -> Resp {
    let resp = get(endpoint, path);
    assert!(
        !resp.headers.contains("transfer-encoding: chunked"),
        "the /v1 API answers with a Content-Length"
    );
    resp
}

/// `text` for a URL's query string.
fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn search(endpoint: &str, query: &str, limit: usize) -> Value {
    get_search(
        endpoint,
        &format!("/v1/search/{INDEX}?q={}&limit={limit}", url_encode(query)),
    )
    .expect(200)
}

fn hit_ids(result: &Value) -> Vec<String> {
    result["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["id"].as_str().expect("id").to_owned())
        .collect()
}

/// What every check query finds now: query → (total, sorted ids).
fn snapshot(endpoint: &str) -> BTreeMap<&'static str, (u64, Vec<String>)> {
    expected()
        .into_keys()
        .map(|query| {
            let result = search(endpoint, query, LIMIT);
            let mut ids = hit_ids(&result);
            ids.sort();
            (query, (result["total"].as_u64().expect("total"), ids))
        })
        .collect()
}

/// Polls until every check query finds exactly what it should; returns the snapshot.
fn wait_for_expected(endpoint: &str, when: &str) -> BTreeMap<&'static str, (u64, Vec<String>)> {
    let want: BTreeMap<_, _> = expected()
        .into_iter()
        .map(|(q, ids)| (q, (ids.len() as u64, ids)))
        .collect();
    wait_for(
        &format!("{when}: the index to answer as expected"),
        WAIT,
        || {
            let have = snapshot(endpoint);
            if have == want {
                return Ok(have);
            }
            let wrong: Vec<_> = want
                .iter()
                .filter(|(q, w)| have.get(*q) != Some(*w))
                .map(|(q, w)| {
                    format!(
                        "{q}: want {} hits, have {:?}",
                        w.0,
                        have.get(q).map(|h| h.0)
                    )
                })
                .collect();
            Err(format!("{wrong:#?}"))
        },
    )
}

/// The ranking check: "zephyr" in the name and the description outranks "zephyr" in the
/// description alone.
fn assert_ranking(endpoint: &str) {
    let result = search(endpoint, "zephyr", 10);
    let hits = result["hits"].as_array().expect("hits");
    assert_eq!(hits.len(), 3, "{result}");
    assert_eq!(hits[0]["id"], "s-both", "{result}");
    let top = hits[0]["score"].as_f64().expect("score");
    for hit in &hits[1..] {
        assert!(
            hit["score"].as_f64().expect("score") < top,
            "a description-only match ranks as high as a name and description match: {result}"
        );
    }
    assert_eq!(
        hits[0]["document"]["name"], "Zephyr reading lamp",
        "{result}"
    );
}

/// Waits until trigger `id` delivered every record written; no invocation may fail.
fn wait_all_delivered(endpoint: &str, id: &str, records: u64) {
    let shown = wait_delivered(endpoint, id, records, WAIT);
    assert_eq!(
        metric(&shown, "Errors"),
        0,
        "trigger {id} had failed invocations: {shown}"
    );
}

// ---------------------------------------------------------------------------
// DynamoDB

async fn create_products_table(client: &aws_sdk_dynamodb::Client, table: &str) {
    client
        .create_table()
        .table_name(table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .expect("key schema"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .expect("stream specification"),
        )
        .send()
        .await
        .expect("create the products table");
}

async fn batch_write(client: &aws_sdk_dynamodb::Client, table: &str, requests: Vec<WriteRequest>) {
    for chunk in requests.chunks(BATCH_WRITE_ITEMS_MAX) {
        let out = client
            .batch_write_item()
            .request_items(table, chunk.to_vec())
            .send()
            .await
            .expect("BatchWriteItem");
        assert!(
            out.unprocessed_items().is_none_or(|u| u.is_empty()),
            "unprocessed items"
        );
    }
}

fn put_request(item: BTreeMap<String, AttributeValue>) -> WriteRequest {
    WriteRequest::builder()
        .put_request(
            PutRequest::builder()
                .set_item(Some(item.into_iter().collect()))
                .build()
                .expect("put request"),
        )
        .build()
}

// ---------------------------------------------------------------------------
// tests

#[tokio::test]
async fn products_are_indexed_ranked_updated_deleted_replayed_and_survive_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir.path(), &[]);
    let e = server.endpoint.clone();
    let client = server.client();
    let table = table_name("products");
    create_products_table(&client, &table).await;

    let deployed = deploy(
        &e,
        "search-indexer",
        &format!("?index={INDEX}&env=INDEX={INDEX}&timeout_ms={FUNCTION_TIMEOUT_MS}"),
        &guest("search_indexer"),
    )
    .expect(201);
    assert_eq!(deployed["config"]["indexes"], json!([INDEX]), "{deployed}");
    let first = attach(&e, "search-indexer", &table);

    // A few thousand products, then updates and deletes of some.
    let mut puts: Vec<WriteRequest> = (0..PRODUCTS).map(|i| put_request(product(i))).collect();
    puts.extend(ranking_products().into_iter().map(put_request));
    batch_write(&client, &table, puts).await;
    for i in (0..PRODUCTS).filter(|&i| updated(i)) {
        client
            .update_item()
            .table_name(&table)
            .key("id", s(&product_id(i)))
            .update_expression("SET description = :d")
            .expression_attribute_values(
                ":d",
                s(&format!(
                    "A refurbished {}, as good as new.",
                    product_name(i)
                )),
            )
            .send()
            .await
            .expect("UpdateItem");
    }
    let deletes = (0..PRODUCTS)
        .filter(|&i| deleted(i))
        .map(|i| {
            WriteRequest::builder()
                .delete_request(
                    DeleteRequest::builder()
                        .key("id", s(&product_id(i)))
                        .build()
                        .expect("delete request"),
                )
                .build()
        })
        .collect();
    batch_write(&client, &table, deletes).await;

    let records = records_written();
    wait_all_delivered(&e, &first, records);
    let indexed = wait_for_expected(&e, "after indexing");
    assert_ranking(&e);
    // A query tantivy cannot parse is the client's error, with tantivy's message.
    let bad = get_search(
        &e,
        &format!("/v1/search/{INDEX}?q={}", url_encode("name:(")),
    )
    .expect(400);
    assert_eq!(bad["error"]["field"], "q", "{bad}");
    assert!(
        bad["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Syntax Error")),
        "{bad}"
    );
    let live =
        (PRODUCTS - (0..PRODUCTS).filter(|&i| deleted(i)).count()) + ranking_products().len();
    let listed = get_search(&e, "/v1/search").expect(200);
    assert_eq!(
        listed["indexes"],
        json!([{"name": INDEX, "documents": live}]),
        "one document per live item, however often a record was delivered"
    );
    // The document is the item in plain JSON, as last written.
    let p0000 = search(&e, "_id:p0000", 1);
    assert_eq!(
        p0000["hits"][0]["document"],
        json!({
            "id": "p0000",
            "name": "red chair",
            "description": "A refurbished red chair, as good as new.",
            "category": "home",
            "price": 5.99,
            "details": {"material": "oak", "weight_g": 100},
        }),
        "{p0000}"
    );

    // Every record delivered again, from the start of the stream, by a second trigger of
    // the same function: nothing changes once it has caught up.
    let replay = attach(&e, "search-indexer", &table);
    wait_all_delivered(&e, &replay, records);
    assert_eq!(
        snapshot(&e),
        indexed,
        "a replay from TRIM_HORIZON changed the results"
    );
    assert_ranking(&e);
    assert_eq!(get_search(&e, "/v1/search").expect(200), listed);

    // A restart on the same data directory: the index is still there and still written.
    let status = server.terminate();
    assert!(status.success(), "eddy exited with {status}");
    let server = Server::start_in(dir.path(), &[]);
    let e = server.endpoint.clone();
    assert_eq!(snapshot(&e), indexed, "the index changed across a restart");
    assert_ranking(&e);
    assert_eq!(get_search(&e, "/v1/search").expect(200), listed);
    server
        .client()
        .update_item()
        .table_name(&table)
        .key("id", s("p0002"))
        .update_expression("SET #n = :n")
        .expression_attribute_names("#n", "name")
        .expression_attribute_values(":n", s("phoenix chair"))
        .send()
        .await
        .expect("UpdateItem after the restart");
    wait_for("a change after the restart to be indexed", WAIT, || {
        let found = hit_ids(&search(&e, "phoenix", 10));
        if found == ["p0002"] {
            Ok(())
        } else {
            Err(format!("phoenix finds {found:?}"))
        }
    });
    assert!(
        hit_ids(&search(&e, "name:compact", LIMIT))
            .iter()
            .all(|id| id != "p0002"),
        "the old name of p0002 still finds it"
    );
}

#[test]
fn the_search_route_rejects_bad_requests_with_json_errors() {
    let server = Server::start();
    let e = &server.endpoint;
    let error = |path: &str, status: u16| {
        let body = get_search(e, path).expect(status);
        assert!(body["error"]["code"].is_string(), "{path}: {body}");
        assert!(body["error"]["message"].is_string(), "{path}: {body}");
        body["error"].clone()
    };
    assert_eq!(
        get_search(e, "/v1/search").expect(200),
        json!({"indexes": []})
    );
    // Nothing was ever indexed into it.
    let missing = error("/v1/search/products?q=kettle", 404);
    assert_eq!(missing["code"], "ResourceNotFoundException");
    for (path, field) in [
        ("/v1/search/products", "q"),
        ("/v1/search/products?q=", "q"),
        ("/v1/search/products?q=%20%20", "q"),
        ("/v1/search/products?q=%FF", "q"),
        ("/v1/search/products?q=a&limit=0", "limit"),
        ("/v1/search/products?q=a&limit=ten", "limit"),
        ("/v1/search/products?q=a&limit=1000000", "limit"),
        ("/v1/search/products?q=a&colour=red", "query"),
        ("/v1/search/bad.name?q=a", "index"),
        (
            "/v1/search/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa?q=a",
            "index",
        ),
    ] {
        let err = error(path, 400);
        assert_eq!(err["code"], "InvalidParameterValueException", "{path}");
        assert_eq!(err["field"], field, "{path}: {err}");
    }
}
