//! A table's throughput rules beyond its units: the governor's [`CapacitySpec`] built
//! from a definition, UpdateTable's daily limit on decreases (and the dates
//! DescribeTable reports), on-demand maximums and their validation, warm throughput.
//!
//! It owns those rules; it must not know the wire or how definitions are stored.

use crate::capacity::{CapacitySpec, IndexSpec, Limits};
use crate::catalog::{TableDef, ThroughputChanges};
use crate::clock::civil_from_days;
use crate::error::{Error, Result};
use crate::schema::{BillingMode, OnDemandThroughput, Throughput};

/// DynamoDB allows four decreases of a table's provisioned throughput at any time of a
/// UTC day...
pub const DECREASES_ANY_TIME_PER_DAY: u32 = 4;

/// ...and after those one more each time an hour has passed since the last decrease
/// (up to 27 a day). The rule and its message: a LimitExceededException quoted from
/// DynamoDB ("After the first 4 decreases, each subsequent decrease in the same UTC day
/// can be performed at most once every 3600 seconds").
pub const DECREASE_INTERVAL_MS: u64 = 3_600_000;

const DAY_MS: u64 = 86_400_000;

/// A new table's warm throughput: what DynamoDB reports for a new on-demand table
/// (12,000 read and 4,000 write units per second, the documented minimums of
/// `WarmThroughput`). Eddy does not throttle an on-demand table below it.
pub const WARM_READ_UNITS_PER_S_DEFAULT: i64 = 12_000;
pub const WARM_WRITE_UNITS_PER_S_DEFAULT: i64 = 4_000;

/// The governor's settings for a table.
pub(crate) fn capacity_spec(def: &TableDef, arn: String) -> CapacitySpec {
    let on_demand = |od: OnDemandThroughput| Limits::OnDemand {
        max_read: od.max_read_request_units,
        max_write: od.max_write_request_units,
    };
    let provisioned = |t: Throughput| Limits::Provisioned {
        read: t.read_capacity_units,
        write: t.write_capacity_units,
    };
    let (limits, index_limits) = match def.billing_mode {
        BillingMode::Provisioned => (provisioned(def.throughput), None),
        BillingMode::PayPerRequest => (
            on_demand(def.settings.capacity.on_demand),
            Some(Limits::default()),
        ),
    };
    CapacitySpec {
        arn,
        limits,
        indexes: def
            .indexes
            .iter()
            .map(|ix| IndexSpec {
                name: ix.name.clone(),
                kind: ix.kind,
                limits: index_limits
                    .or(ix.throughput.map(provisioned))
                    .unwrap_or_default(),
            })
            .collect(),
    }
}

/// The decreases made during the UTC day of `now_ms` (`NumberOfDecreasesToday`).
pub fn decreases_today(setting: &ThroughputChanges, now_ms: u64) -> u32 {
    match setting.last_decrease_ms {
        Some(last) if last / DAY_MS == now_ms / DAY_MS => setting.decreases_that_day,
        _ => 0,
    }
}

/// DynamoDB refuses an UpdateTable whose ProvisionedThroughput is the table's own
/// (dynalite's UpdateTable validation, written against DynamoDB, gives the text).
pub(crate) fn check_changes(old: Throughput, new: Throughput) -> Result<()> {
    if old != new {
        return Ok(());
    }
    Err(Error::validation(format!(
        "The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: {}. Requested ReadCapacityUnits: {}. Current WriteCapacityUnits provisioned for the table: {}. Requested WriteCapacityUnits: {}. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.",
        old.read_capacity_units,
        new.read_capacity_units,
        old.write_capacity_units,
        new.write_capacity_units
    )))
}

/// Records a change of a table's provisioned throughput from `old` to `new` at
/// `now_ms`, refusing a decrease beyond the day's limit with DynamoDB's
/// LimitExceededException. A change that lowers either unit is a decrease; one that
/// raises either is an increase (a change can be both).
pub(crate) fn record_change(
    setting: &mut ThroughputChanges,
    old: Throughput,
    new: Throughput,
    now_ms: u64,
) -> Result<()> {
    let lower = new.read_capacity_units < old.read_capacity_units
        || new.write_capacity_units < old.write_capacity_units;
    let higher = new.read_capacity_units > old.read_capacity_units
        || new.write_capacity_units > old.write_capacity_units;
    if lower {
        let count = decreases_today(setting, now_ms);
        if count >= DECREASES_ANY_TIME_PER_DAY
            && let Some(last) = setting.last_decrease_ms
            && now_ms < last + DECREASE_INTERVAL_MS
        {
            return Err(Error::LimitExceeded(format!(
                "Subscriber limit exceeded: Provisioned throughput decreases are limited within a given UTC day. After the first {DECREASES_ANY_TIME_PER_DAY} decreases, each subsequent decrease in the same UTC day can be performed at most once every {} seconds. Number of decreases today: {count}. Last decrease at {}. Next decrease can be made at {}",
                DECREASE_INTERVAL_MS / 1000,
                long_date(last),
                long_date(last + DECREASE_INTERVAL_MS),
            )));
        }
        setting.decreases_that_day = count + 1;
        setting.last_decrease_ms = Some(now_ms);
    }
    if higher {
        setting.last_increase_ms = Some(now_ms);
    }
    Ok(())
}

/// Epoch milliseconds as DynamoDB writes them in the decrease limit's message:
/// `Sunday, March 24, 2019 9:07:28 AM UTC`.
fn long_date(ms: u64) -> String {
    const WEEKDAYS: [&str; 7] = [
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
    ];
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let days = ms / DAY_MS;
    let (y, m, d) = civil_from_days(days);
    let secs = (ms / 1000) % 86_400;
    let (h, mi, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let (h12, half) = match h {
        0 => (12, "AM"),
        1..=11 => (h, "AM"),
        12 => (12, "PM"),
        _ => (h - 12, "PM"),
    };
    format!(
        "{}, {} {d}, {y} {h12}:{mi:02}:{s:02} {half} UTC",
        WEEKDAYS[(days % 7) as usize],
        MONTHS[(m - 1).clamp(0, 11) as usize],
    )
}

/// Checks `OnDemandThroughput` for a table of `mode`: only on-demand tables take it,
/// and each maximum is at least 1, or -1 for none. The messages are DynamoDB's as
/// measured (ack-api-quirks' UpdateTable and CreateTable probes).
pub(crate) fn check_on_demand(mode: BillingMode, od: &OnDemandThroughput) -> Result<()> {
    for (value, member) in [
        (od.max_read_request_units, "MaxReadRequestUnits"),
        (od.max_write_request_units, "MaxWriteRequestUnits"),
    ] {
        let Some(v) = value else { continue };
        if mode == BillingMode::Provisioned {
            return Err(Error::validation(format!(
                "One or more parameter values were invalid: {member} for OnDemandThroughput cannot be specified when the table BillingMode is PROVISIONED"
            )));
        }
        if v < 1 && v != -1 {
            return Err(Error::validation(format!(
                "One or more parameter values were invalid: Requested {member} for OnDemandThroughput for table is outside of valid range"
            )));
        }
    }
    Ok(())
}

/// The maximums after an UpdateTable's `OnDemandThroughput`: a member given replaces
/// the current one, -1 removes it.
pub(crate) fn merge_on_demand(
    current: OnDemandThroughput,
    change: &OnDemandThroughput,
) -> OnDemandThroughput {
    let merge = |now: Option<i64>, given: Option<i64>| match given {
        None => now,
        Some(-1) => None,
        Some(v) => Some(v),
    };
    OnDemandThroughput {
        max_read_request_units: merge(
            current.max_read_request_units,
            change.max_read_request_units,
        ),
        max_write_request_units: merge(
            current.max_write_request_units,
            change.max_write_request_units,
        ),
    }
}

/// The table's warm throughput (read, write units per second): DynamoDB's default for
/// a new table, or more when the provisioned throughput is higher.
pub fn warm_throughput(def: &TableDef) -> (i64, i64) {
    (
        WARM_READ_UNITS_PER_S_DEFAULT.max(def.throughput.read_capacity_units),
        WARM_WRITE_UNITS_PER_S_DEFAULT.max(def.throughput.write_capacity_units),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(read: i64, write: i64) -> Throughput {
        Throughput {
            read_capacity_units: read,
            write_capacity_units: write,
        }
    }

    #[test]
    fn four_decreases_any_time_then_one_an_hour_and_a_new_day_starts_afresh() {
        // 2019-03-24 09:07:28 UTC, a Sunday.
        let start = 1_553_418_448_000;
        let mut s = ThroughputChanges::default();
        for n in 0..4u64 {
            record_change(&mut s, tp(10, 10), tp(5, 10), start + n).unwrap();
        }
        assert_eq!(decreases_today(&s, start + 10), 4);
        let last = start + 3;
        let Err(Error::LimitExceeded(m)) = record_change(&mut s, tp(5, 10), tp(4, 10), last + 1)
        else {
            panic!("a fifth decrease within the hour")
        };
        assert_eq!(
            m,
            "Subscriber limit exceeded: Provisioned throughput decreases are limited within a given UTC day. After the first 4 decreases, each subsequent decrease in the same UTC day can be performed at most once every 3600 seconds. Number of decreases today: 4. Last decrease at Sunday, March 24, 2019 9:07:28 AM UTC. Next decrease can be made at Sunday, March 24, 2019 10:07:28 AM UTC"
        );
        // Increases are not limited, and do not count.
        record_change(&mut s, tp(5, 10), tp(50, 10), last + 2).unwrap();
        assert_eq!(s.last_increase_ms, Some(last + 2));
        record_change(&mut s, tp(50, 10), tp(40, 10), last + DECREASE_INTERVAL_MS).unwrap();
        assert_eq!(decreases_today(&s, last + DECREASE_INTERVAL_MS), 5);
        assert!(
            record_change(
                &mut s,
                tp(40, 10),
                tp(30, 10),
                last + DECREASE_INTERVAL_MS + 1
            )
            .is_err()
        );
        // The next UTC day.
        let tomorrow = (start / DAY_MS + 1) * DAY_MS;
        assert_eq!(decreases_today(&s, tomorrow), 0);
        record_change(&mut s, tp(40, 10), tp(30, 10), tomorrow).unwrap();
        assert_eq!(decreases_today(&s, tomorrow), 1);
    }

    #[test]
    fn on_demand_maximums_are_checked_and_merged() {
        let od = |r, w| OnDemandThroughput {
            max_read_request_units: r,
            max_write_request_units: w,
        };
        assert!(check_on_demand(BillingMode::PayPerRequest, &od(Some(1), None)).is_ok());
        let Err(Error::Validation(m)) =
            check_on_demand(BillingMode::PayPerRequest, &od(None, Some(0)))
        else {
            panic!("0 is no maximum")
        };
        assert_eq!(
            m,
            "One or more parameter values were invalid: Requested MaxWriteRequestUnits for OnDemandThroughput for table is outside of valid range"
        );
        assert!(check_on_demand(BillingMode::PayPerRequest, &od(Some(-1), None)).is_ok());
        let Err(Error::Validation(m)) =
            check_on_demand(BillingMode::Provisioned, &od(Some(5), None))
        else {
            panic!("on a provisioned table")
        };
        assert!(m.contains("MaxReadRequestUnits for OnDemandThroughput cannot be specified"));
        let merged = merge_on_demand(od(Some(5), Some(7)), &od(Some(-1), Some(9)));
        assert_eq!(merged, od(None, Some(9)));
    }

    #[test]
    fn long_dates_are_written_as_dynamodb_writes_them() {
        assert_eq!(long_date(0), "Thursday, January 1, 1970 12:00:00 AM UTC");
        assert_eq!(
            long_date(1_553_461_648_000),
            "Sunday, March 24, 2019 9:07:28 PM UTC"
        );
    }
}
