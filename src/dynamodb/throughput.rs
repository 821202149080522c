//! The wire side of on-demand maximums and warm throughput: `OnDemandThroughput` and
//! `WarmThroughput` as requests give them (a table's and each global index's), and as
//! DescribeTable shows them.
//!
//! It owns those shapes; it must not check the values (the engine's `throughput.rs`
//! does) nor know the rest of a table's description.

use eddy_engine::{OnDemandThroughput, WarmThroughput};
use serde_json::{Map, Value, json};

use super::shape::{WireOnDemandThroughput, WireWarmThroughput};

pub(super) fn on_demand(t: WireOnDemandThroughput) -> OnDemandThroughput {
    OnDemandThroughput {
        max_read_request_units: t.max_read_request_units,
        max_write_request_units: t.max_write_request_units,
    }
}

pub(super) fn warm(t: WireWarmThroughput) -> WarmThroughput {
    WarmThroughput {
        read_units_per_second: t.read_units_per_second,
        write_units_per_second: t.write_units_per_second,
    }
}

/// The `OnDemandThroughput` of a table or index: the maximums a client set, `None`
/// when there are none (DynamoDB then reports no member, as it does once they were
/// removed).
pub(super) fn maximums_json(od: &OnDemandThroughput) -> Option<Value> {
    let mut maximums = Map::new();
    for (max, member) in [
        (od.max_read_request_units, "MaxReadRequestUnits"),
        (od.max_write_request_units, "MaxWriteRequestUnits"),
    ] {
        if let Some(max) = max {
            maximums.insert(member.into(), json!(max));
        }
    }
    (!maximums.is_empty()).then_some(Value::Object(maximums))
}

/// The `WarmThroughput` of a table or index: the units in force (read, write) and the
/// table's or index's status. Eddy applies a change at once, so it is never UPDATING
/// on its own.
pub(super) fn warm_json((read, write): (i64, i64), status: &str) -> Value {
    json!({
        "ReadUnitsPerSecond": read,
        "WriteUnitsPerSecond": write,
        "Status": status,
    })
}
