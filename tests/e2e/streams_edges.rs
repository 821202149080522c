//! The DynamoDB Streams API at its edges: DescribeStream's `ShardFilter`, and shard
//! iterators at the start of a shard that holds no records (a new one, or one whose
//! records retention trimmed).

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodbstreams::Client as Streams;
use aws_sdk_dynamodbstreams::types::{ShardFilter, ShardFilterType};

use crate::control::create_streamed;
use crate::harness::{Server, latest_stream_arn, table_name};

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
