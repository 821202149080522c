//! The DynamoDB Streams API at its edges: DescribeStream's `ShardFilter`, and shard
//! iterators at the start of a shard that holds no records (a new one, or one whose
//! records retention trimmed).

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue as Av;
use aws_sdk_dynamodbstreams::Client as Streams;
use aws_sdk_dynamodbstreams::types::{ShardFilter, ShardFilterType, ShardIteratorType};

use crate::control::create_streamed;
use crate::harness::{Server, latest_stream_arn, table_name};

/// Upper bound of every poll loop in this file.
const WAIT: Duration = Duration::from_secs(20);

fn failure<T, E: ProvideErrorMetadata>(r: Result<T, E>) -> (String, String) {
    let e = r.err().expect("the call should have failed");
    (
        e.code().unwrap_or("<none>").to_string(),
        e.message().unwrap_or("<none>").to_string(),
    )
}

/// The first shard of a stream: its id and StartingSequenceNumber.
async fn first_shard(sc: &Streams, arn: &str) -> (String, String) {
    let d = sc.describe_stream().stream_arn(arn).send().await.unwrap();
    let shard = d.stream_description().unwrap().shards()[0].clone();
    let start = shard
        .sequence_number_range()
        .and_then(|r| r.starting_sequence_number())
        .unwrap()
        .to_string();
    (shard.shard_id().unwrap().to_string(), start)
}

async fn iterator_at(
    sc: &Streams,
    arn: &str,
    shard: &str,
    kind: ShardIteratorType,
    seq: &str,
) -> Result<String, (String, String)> {
    sc.get_shard_iterator()
        .stream_arn(arn)
        .shard_id(shard)
        .shard_iterator_type(kind)
        .sequence_number(seq)
        .send()
        .await
        .map(|o| o.shard_iterator().unwrap().to_string())
        .map_err(|e| {
            (
                e.code().unwrap_or("<none>").to_string(),
                e.message().unwrap_or("").to_string(),
            )
        })
}

#[tokio::test]
async fn an_empty_shard_can_be_read_from_its_starting_sequence_number() {
    let server = Server::start();
    let (c, sc) = (server.client(), server.streams_client());
    let t = table_name("se-empty");
    create_streamed(&c, &t).await;
    let arn = latest_stream_arn(&c, &t).await;
    let (shard, start) = first_shard(&sc, &arn).await;
    // Nothing was written since the stream began: both iterators at its start are
    // given, as DynamoDB gives them (ScyllaDB's test_get_shard_iterator).
    let at = iterator_at(
        &sc,
        &arn,
        &shard,
        ShardIteratorType::AtSequenceNumber,
        &start,
    )
    .await
    .unwrap();
    iterator_at(
        &sc,
        &arn,
        &shard,
        ShardIteratorType::AfterSequenceNumber,
        &start,
    )
    .await
    .unwrap();
    let page = sc.get_records().shard_iterator(&at).send().await.unwrap();
    assert!(page.records().is_empty());
    // The iterator taken at the start reads the first record written after it.
    c.put_item()
        .table_name(&t)
        .item("pk", Av::S("first".into()))
        .send()
        .await
        .unwrap();
    let mut it = page.next_shard_iterator().unwrap().to_string();
    let deadline = Instant::now() + WAIT;
    loop {
        let page = sc.get_records().shard_iterator(&it).send().await.unwrap();
        if let Some(r) = page.records().first() {
            let keys = r.dynamodb().unwrap().keys().unwrap();
            assert_eq!(
                keys["pk"],
                aws_sdk_dynamodbstreams::types::AttributeValue::S("first".into())
            );
            break;
        }
        assert!(Instant::now() < deadline, "the record never came");
        it = page.next_shard_iterator().unwrap().to_string();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_trimmed_shard_starts_at_its_oldest_record() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &["--stream-retention-s", "1"]);
    let (c, sc) = (server.client(), server.streams_client());
    let t = table_name("se-trim");
    create_streamed(&c, &t).await;
    let arn = latest_stream_arn(&c, &t).await;
    c.put_item()
        .table_name(&t)
        .item("pk", Av::S("old".into()))
        .send()
        .await
        .unwrap();
    let (shard, start) = first_shard(&sc, &arn).await;
    // Wait (bounded) until retention trimmed the record: the shard then starts after
    // it, and an iterator at its StartingSequenceNumber is still given.
    let deadline = Instant::now() + WAIT;
    let moved = loop {
        let (_, now) = first_shard(&sc, &arn).await;
        if now != start {
            break now;
        }
        assert!(Instant::now() < deadline, "the record was never trimmed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(moved.parse::<u128>().unwrap() > start.parse::<u128>().unwrap());
    let at = iterator_at(
        &sc,
        &arn,
        &shard,
        ShardIteratorType::AtSequenceNumber,
        &moved,
    )
    .await
    .unwrap();
    let page = sc.get_records().shard_iterator(&at).send().await.unwrap();
    assert!(page.records().is_empty());
    // The old start is below the trim horizon.
    let (code, message) = iterator_at(
        &sc,
        &arn,
        &shard,
        ShardIteratorType::AtSequenceNumber,
        &start,
    )
    .await
    .unwrap_err();
    assert_eq!(code, "TrimmedDataAccessException", "{message}");
}

#[tokio::test]
async fn describe_stream_shard_filter_lists_child_shards() {
    let server = Server::start();
    let (c, sc) = (server.client(), server.streams_client());
    let t = table_name("se-filter");
    create_streamed(&c, &t).await;
    let arn = latest_stream_arn(&c, &t).await;
    let (shard, _) = first_shard(&sc, &arn).await;
    let describe = |filter: ShardFilter| {
        sc.describe_stream()
            .stream_arn(&arn)
            .shard_filter(filter)
            .send()
    };
    let children = |id: &str| {
        ShardFilter::builder()
            .r#type(ShardFilterType::ChildShards)
            .shard_id(id)
            .build()
    };
    // Eddy's shards never split, so a shard has no children; the stream is described
    // as without the filter otherwise.
    let d = describe(children(&shard)).await.unwrap();
    let d = d.stream_description().unwrap();
    assert!(d.shards().is_empty());
    assert!(d.last_evaluated_shard_id().is_none());
    assert_eq!(d.stream_arn(), Some(arn.as_str()));
    assert_eq!(d.table_name(), Some(t.as_str()));

    let bad_type = ShardFilter::builder()
        .r#type(ShardFilterType::from("PARENT_SHARDS"))
        .shard_id(&shard)
        .build();
    assert_eq!(
        failure(describe(bad_type).await),
        (
            "ValidationException".to_string(),
            "1 validation error detected: Value 'PARENT_SHARDS' at 'shardFilter.type' failed to satisfy constraint: Member must satisfy enum value set: [CHILD_SHARDS]".to_string()
        )
    );
    assert_eq!(
        failure(describe(children("shardId-1")).await),
        (
            "ValidationException".to_string(),
            "1 validation error detected: Value 'shardId-1' at 'shardFilter.shardId' failed to satisfy constraint: Member must have length greater than or equal to 28".to_string()
        )
    );
    let long = format!("shardId-{}", "0".repeat(60));
    assert_eq!(
        failure(describe(children(&long)).await),
        (
            "ValidationException".to_string(),
            format!(
                "1 validation error detected: Value '{long}' at 'shardFilter.shardId' failed to satisfy constraint: Member must have length less than or equal to 65"
            )
        )
    );
    let no_shard = ShardFilter::builder()
        .r#type(ShardFilterType::ChildShards)
        .build();
    assert_eq!(failure(describe(no_shard).await).0, "ValidationException");
    let unknown = "shardId-00000000000000000000-ffffffffffff";
    assert_eq!(
        failure(describe(children(unknown)).await),
        (
            "ResourceNotFoundException".to_string(),
            format!("Requested resource not found: Shard: {unknown} in Stream: {arn} not found")
        )
    );
}
