//! Query and Scan refuse what DynamoDB refuses, with its messages: a filter naming a
//! key attribute, an ExclusiveStartKey of the wrong shape or outside the read, a Select
//! that does not fit the projection, a projection path too deep or a list index too
//! large.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as Av, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType,
};

use crate::harness::{Server, table_name};

fn s(v: &str) -> Av {
    Av::S(v.into())
}

fn n(v: &str) -> Av {
    Av::N(v.into())
}

/// The code and message of a failed call.
fn failure<T, E: ProvideErrorMetadata>(r: Result<T, E>) -> (String, String) {
    let e = r.err().expect("the call should have failed");
    (
        e.code().unwrap_or("<none>").to_string(),
        e.message().unwrap_or("<none>").to_string(),
    )
}

fn validation(m: &str) -> (String, String) {
    ("ValidationException".to_string(), m.to_string())
}

/// A table `pk` (S) / `sk` (N) with a global index `by_g` on `g` (S) / `h` (N).
async fn create_indexed(c: &Client, name: &str) {
    let attr = |n: &str, t: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(t)
            .build()
            .unwrap()
    };
    let elem = |n: &str, k: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(k)
            .build()
            .unwrap()
    };
    c.create_table()
        .table_name(name)
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .attribute_definitions(attr("sk", ScalarAttributeType::N))
        .attribute_definitions(attr("g", ScalarAttributeType::S))
        .attribute_definitions(attr("h", ScalarAttributeType::N))
        .key_schema(elem("pk", KeyType::Hash))
        .key_schema(elem("sk", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by_g")
                .key_schema(elem("g", KeyType::Hash))
                .key_schema(elem("h", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create table");
}

#[tokio::test]
async fn query_filter_expression_may_not_name_a_key_attribute() {
    let server = Server::start();
    let c = server.client();
    let t = table_name("rd-filter");
    create_indexed(&c, &t).await;
    let query = |filter: &str| {
        c.query()
            .table_name(&t)
            .key_condition_expression("pk = :p")
            .filter_expression(filter)
            .expression_attribute_values(":p", s("p"))
            .expression_attribute_values(":v", n("1"))
    };
    // The path counts by its top-level attribute, the hash key is named first.
    for (filter, named) in [
        ("sk = :v", "sk"),
        ("attribute_exists(sk.a) AND v = :v", "sk"),
        ("sk[1] = :v", "sk"),
        ("sk = :v AND pk = :v", "pk"),
    ] {
        assert_eq!(
            failure(query(filter).send().await),
            validation(&format!(
                "Filter Expression can only contain non-primary key attributes: Primary key attribute: {named}"
            )),
            "{filter}"
        );
    }
    // A filter on other attributes is fine; so is one naming the index's keys on
    // the table, and the table's keys in a Scan.
    query("v = :v AND g = :v").send().await.unwrap();
    c.scan()
        .table_name(&t)
        .filter_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .send()
        .await
        .unwrap();
    // On an index, its own keys are the primary key.
    let r = c
        .query()
        .table_name(&t)
        .index_name("by_g")
        .key_condition_expression("g = :g")
        .filter_expression("h > :v AND pk = :g")
        .expression_attribute_values(":g", s("g"))
        .expression_attribute_values(":v", n("1"))
        .send()
        .await;
    assert_eq!(
        failure(r),
        validation(
            "Filter Expression can only contain non-primary key attributes: Primary key attribute: h"
        )
    );
    // The table is untouched by all this and still answers.
    let all = c.scan().table_name(&t).send().await.unwrap();
    assert_eq!(all.count, 0);
}
