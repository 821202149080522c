//! The errors of throttling, with DynamoDB's texts and `ThrottlingReasons`.
//!
//! Sources of the texts: the table and global index messages of
//! ProvisionedThroughputExceededException and the on-demand ones are quoted in
//! DynamoDB's API reference (TransactionCanceledException's cancellation reasons) and
//! in many client reports (e.g. mozilla-services/autopush#435, grailbio/reflow#101,
//! praetorian-inc/chariot-ui#684); the on-demand maximum's in DynamoDB's throttling
//! guide and airbytehq's DynamoDB exception classifier tests. The `reason` names follow
//! the API reference's ThrottlingReason: resource, operation, limit.
//!
//! It owns the texts; it must not know when a request is throttled.

use crate::error::{Error, Throttle, ThrottleException};

/// A provisioned table (or a hot key of one) ran out of capacity.
pub const TABLE_PROVISIONED_MESSAGE: &str = "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.";

/// A provisioned global index ran out of capacity (a write to the table is refused).
pub const INDEX_PROVISIONED_MESSAGE: &str = "The level of configured provisioned throughput for one or more global secondary indexes of the table was exceeded. Consider increasing your provisioning level for the under-provisioned global secondary indexes with the UpdateTable API.";

/// A hot key of an on-demand table.
pub const TABLE_ON_DEMAND_MESSAGE: &str = "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly. If exceptions persist, check if you have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html";

/// A hot key of an on-demand global index.
pub const INDEX_ON_DEMAND_MESSAGE: &str = "Throughput exceeds the current capacity for one or more global secondary indexes. DynamoDB is automatically scaling your index so please try again shortly.";

/// An on-demand table's or index's `OnDemandThroughput` maximum.
pub const ON_DEMAND_MAXIMUM_MESSAGE: &str =
    "Throughput exceeds the maximum OnDemandThroughput configured on table or index";

/// Reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Read,
    Write,
}

/// What ran out: the table's or index's capacity (provisioned units, or an on-demand
/// maximum), or one partition key's ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Why {
    Capacity,
    HotKey,
}

/// The error of a throttled request on table `arn` (or its index `index`), whose
/// limit is provisioned or on demand.
pub(crate) fn throttle(
    arn: &str,
    index: Option<&str>,
    op: Op,
    why: Why,
    provisioned: bool,
) -> Error {
    let (exception, message, limit) = match (why, provisioned, index.is_some()) {
        (Why::Capacity, true, false) => (
            ThrottleException::ProvisionedThroughputExceeded,
            TABLE_PROVISIONED_MESSAGE,
            "ProvisionedThroughputExceeded",
        ),
        (Why::Capacity, true, true) => (
            ThrottleException::ProvisionedThroughputExceeded,
            INDEX_PROVISIONED_MESSAGE,
            "ProvisionedThroughputExceeded",
        ),
        (Why::Capacity, false, _) => (
            ThrottleException::Throttling,
            ON_DEMAND_MAXIMUM_MESSAGE,
            "MaxOnDemandThroughputExceeded",
        ),
        (Why::HotKey, true, false) => (
            ThrottleException::ProvisionedThroughputExceeded,
            TABLE_PROVISIONED_MESSAGE,
            "KeyRangeThroughputExceeded",
        ),
        (Why::HotKey, true, true) => (
            ThrottleException::ProvisionedThroughputExceeded,
            INDEX_PROVISIONED_MESSAGE,
            "KeyRangeThroughputExceeded",
        ),
        (Why::HotKey, false, false) => (
            ThrottleException::Throttling,
            TABLE_ON_DEMAND_MESSAGE,
            "KeyRangeThroughputExceeded",
        ),
        (Why::HotKey, false, true) => (
            ThrottleException::Throttling,
            INDEX_ON_DEMAND_MESSAGE,
            "KeyRangeThroughputExceeded",
        ),
    };
    let (resource, kind) = match index {
        None => (arn.to_string(), "Table"),
        Some(name) => (format!("{arn}/index/{name}"), "Index"),
    };
    let op = match op {
        Op::Read => "Read",
        Op::Write => "Write",
    };
    Error::Throttled(Throttle {
        exception,
        message,
        reason: format!("{kind}{op}{limit}"),
        resource,
    })
}
