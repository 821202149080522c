//! A table's throughput rules beyond its units: the governor's [`CapacitySpec`] built
//! from a definition, UpdateTable's daily limit on decreases (and the dates
//! DescribeTable reports), on-demand maximums of the table and of each global index,
//! warm throughput, and their validation.
//!
//! It owns those rules; it must not know the wire or how definitions are stored.

use crate::capacity::{CapacitySpec, IndexSpec, Limits};
use crate::catalog::{IndexCapacity, TableDef, ThroughputChanges};
use crate::clock::civil_from_days;
use crate::error::{Error, Result};
use crate::index::def::{IndexDef, IndexInput, IndexKind, IndexUpdate};
use crate::schema::{BillingMode, OnDemandThroughput, Throughput, WarmThroughput};

/// DynamoDB allows four decreases of a table's provisioned throughput at any time of a
/// UTC day...
pub const DECREASES_ANY_TIME_PER_DAY: u32 = 4;

/// ...and after those one more each time an hour has passed since the last decrease
/// (up to 27 a day). The rule and its message: a LimitExceededException quoted from
/// DynamoDB ("After the first 4 decreases, each subsequent decrease in the same UTC day
/// can be performed at most once every 3600 seconds").
pub const DECREASE_INTERVAL_MS: u64 = 3_600_000;

const DAY_MS: u64 = 86_400_000;

/// A new on-demand table's (or index's) warm throughput: what DynamoDB reports for it
/// (12,000 read and 4,000 write units per second, the documented minimums of
/// `WarmThroughput` on demand). Eddy does not throttle an on-demand table below it.
pub const WARM_READ_UNITS_PER_S_DEFAULT: i64 = 12_000;
pub const WARM_WRITE_UNITS_PER_S_DEFAULT: i64 = 4_000;

/// The governor's settings for a table; `accounting_off` as the engine is configured
/// ([`EngineConfig::capacity_accounting_off`](crate::EngineConfig)).
pub(crate) fn capacity_spec(def: &TableDef, arn: String, accounting_off: bool) -> CapacitySpec {
    let on_demand = |od: OnDemandThroughput| Limits::OnDemand {
        max_read: od.max_read_request_units,
        max_write: od.max_write_request_units,
    };
    let provisioned = |t: Throughput| Limits::Provisioned {
        read: t.read_capacity_units,
        write: t.write_capacity_units,
    };
    let capacity = &def.settings.capacity;
    let limits = match def.billing_mode {
        BillingMode::Provisioned => provisioned(def.throughput),
        BillingMode::PayPerRequest => on_demand(capacity.on_demand),
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
                // An on-demand table's global index has its own maximums, if any.
                limits: match def.billing_mode {
                    BillingMode::PayPerRequest => on_demand(
                        capacity
                            .index_limits
                            .get(&ix.name)
                            .map(|l| l.on_demand)
                            .unwrap_or_default(),
                    ),
                    BillingMode::Provisioned => ix.throughput.map(provisioned).unwrap_or_default(),
                },
            })
            .collect(),
        accounting_off,
    }
}

/// Checks an UpdateTable that switches an on-demand table to provisioned billing:
/// every global index of `def` (the table as the request leaves it) must get its units
/// in the same request, by an `Update` with `ProvisionedThroughput` or as the index the
/// request creates. DynamoDB refuses the switch otherwise, naming the indexes left
/// without in the table's order, comma-separated (dynalite's UpdateTable test, written
/// against DynamoDB: "ProvisionedThroughput must be specified for index:
/// index3,index4").
pub(crate) fn check_index_units_on_switch(def: &TableDef, updates: &[IndexUpdate]) -> Result<()> {
    let given = |name: &str| {
        updates.iter().any(|u| match u {
            IndexUpdate::Update(n, change) => n == name && change.provisioned.is_some(),
            IndexUpdate::Create(input) => input.name == name,
            IndexUpdate::Delete(_) => false,
        })
    };
    let missing: Vec<&str> = def
        .indexes
        .iter()
        .filter(|ix| ix.kind == IndexKind::Global && !given(&ix.name))
        .map(|ix| ix.name.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::validation(format!(
        "One or more parameter values were invalid: ProvisionedThroughput must be specified for index: {}",
        missing.join(",")
    )))
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
/// and each maximum is at least 1, or -1 for none in an UpdateTable (`update`;
/// CreateTable refuses -1 as out of range). The messages are DynamoDB's as measured
/// (ack-api-quirks' UpdateTable and CreateTable probes).
pub(crate) fn check_on_demand(
    mode: BillingMode,
    od: &OnDemandThroughput,
    update: bool,
) -> Result<()> {
    check_maximums(mode, od, update, |member| {
        (
            format!("{member} for OnDemandThroughput cannot be specified"),
            format!(
                "Requested {member} for OnDemandThroughput for table is outside of valid range"
            ),
        )
    })
}

/// The checks [`check_on_demand`] and [`check_index_on_demand`] share: `words(member)`
/// gives the table's or the index's wording of the refusal on a provisioned table
/// (before "when the table BillingMode is PROVISIONED") and of a value out of range.
fn check_maximums(
    mode: BillingMode,
    od: &OnDemandThroughput,
    update: bool,
    words: impl Fn(&str) -> (String, String),
) -> Result<()> {
    for (value, member) in [
        (od.max_read_request_units, "MaxReadRequestUnits"),
        (od.max_write_request_units, "MaxWriteRequestUnits"),
    ] {
        let Some(v) = value else { continue };
        let (provisioned, out_of_range) = words(member);
        if mode == BillingMode::Provisioned {
            return Err(Error::validation(format!(
                "One or more parameter values were invalid: {provisioned} when the table BillingMode is PROVISIONED"
            )));
        }
        if v < 1 && !(update && v == -1) {
            return Err(Error::validation(format!(
                "One or more parameter values were invalid: {out_of_range}"
            )));
        }
    }
    Ok(())
}

/// Checks a global index's `OnDemandThroughput` (CreateTable's index, or UpdateTable's
/// index Create or Update): only an on-demand table's indexes take it, and each maximum
/// is at least 1; -1 removes a maximum, so only an Update may give it. The messages are
/// DynamoDB's as measured (ack-api-quirks' CreateTable probes of an index "g-a": "for
/// index: g-a cannot be specified", "for index : g-a is outside of valid range", the
/// spacing as recorded); the Update arm's range message is assumed to be Create's.
pub(crate) fn check_index_on_demand(
    mode: BillingMode,
    index: &str,
    od: &OnDemandThroughput,
    update: bool,
) -> Result<()> {
    check_maximums(mode, od, update, |member| {
        (
            format!("{member} for OnDemandThroughput for index: {index} cannot be specified"),
            format!(
                "Requested {member} for OnDemandThroughput for index : {index} is outside of valid range"
            ),
        )
    })
}

/// Checks the `OnDemandThroughput` and `WarmThroughput` of `input`, a global index being
/// created (by CreateTable or UpdateTable's index Create) as `index` on a table billed
/// by `mode`; returns what the catalog keeps for it, `None` when it has neither.
pub(crate) fn new_index_capacity(
    mode: BillingMode,
    input: &IndexInput,
    index: &IndexDef,
) -> Result<Option<IndexCapacity>> {
    if let Some(od) = &input.on_demand {
        check_index_on_demand(mode, &index.name, od, false)?;
    }
    if let Some(warm) = &input.warm {
        check_new_warm(WarmOwner::Index(&index.name), mode, index.throughput, warm)?;
    }
    let kept = IndexCapacity {
        on_demand: input.on_demand.unwrap_or_default(),
        warm: input.warm.unwrap_or_default(),
    };
    Ok((kept != IndexCapacity::default()).then_some(kept))
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

/// Where DynamoDB's refusal of a warm throughput below an on-demand table's initial
/// throughput points the client.
const ON_DEMAND_INITIAL_URL: &str = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html#on-demand-capacity-mode-initial";

/// What a warm throughput belongs to, as DynamoDB's messages name it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum WarmOwner<'a> {
    Table,
    Index(&'a str),
}

impl std::fmt::Display for WarmOwner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WarmOwner::Table => f.write_str("table"),
            WarmOwner::Index(name) => write!(f, "index {name}"),
        }
    }
}

/// The warm throughput in force (read, write units per second) of a table or index
/// billed by `mode`, from what was recorded (`recorded`: what clients asked for, and
/// what was in force before the last change, see [`record_warm`]) and its provisioned
/// throughput: on demand at least DynamoDB's initial throughput; provisioned, at least
/// the provisioned units (ack-api-quirks measured a 1/1 table at 1/1, then 3/3 after
/// 3/3 and a decrease).
pub fn warm_units(
    mode: BillingMode,
    recorded: WarmThroughput,
    throughput: Option<Throughput>,
) -> (i64, i64) {
    let t = throughput.unwrap_or_default();
    let (read, write) = match mode {
        BillingMode::PayPerRequest => (
            WARM_READ_UNITS_PER_S_DEFAULT,
            WARM_WRITE_UNITS_PER_S_DEFAULT,
        ),
        // A provisioned table has at least one unit each way.
        BillingMode::Provisioned => (1, 1),
    };
    (
        read.max(recorded.read_units_per_second.unwrap_or(0))
            .max(t.read_capacity_units),
        write
            .max(recorded.write_units_per_second.unwrap_or(0))
            .max(t.write_capacity_units),
    )
}

/// The table's warm throughput (read, write units per second).
pub fn warm_throughput(def: &TableDef) -> (i64, i64) {
    warm_units(
        def.billing_mode,
        def.settings.capacity.warm,
        Some(def.throughput),
    )
}

/// A global index's warm throughput (read, write units per second).
pub fn index_warm_throughput(def: &TableDef, index: &IndexDef) -> (i64, i64) {
    let recorded = def.settings.capacity.index_limits.get(&index.name);
    warm_units(
        def.billing_mode,
        recorded.map(|l| l.warm).unwrap_or_default(),
        index.throughput,
    )
}

/// Records in `new` (the definition an UpdateTable is about to publish) that warm
/// throughput never decreases: the table and each global index it keeps stay at
/// least at what `old` had in force. So a provisioned table keeps the highest units
/// it was ever provisioned with, and a table that was on demand keeps the initial
/// throughput after a switch back to provisioned, as DynamoDB was measured doing
/// (ack-api-quirks).
pub(crate) fn record_warm(old: &TableDef, new: &mut TableDef) {
    let keep = |before: (i64, i64), after: (i64, i64)| WarmThroughput {
        read_units_per_second: Some(before.0.max(after.0)),
        write_units_per_second: Some(before.1.max(after.1)),
    };
    new.settings.capacity.warm = keep(warm_throughput(old), warm_throughput(new));
    let mut kept = Vec::new();
    for ix in &new.indexes {
        if let Some(was) = old.index(&ix.name).filter(|o| o.id == ix.id) {
            let warm = keep(
                index_warm_throughput(old, was),
                index_warm_throughput(new, ix),
            );
            kept.push((ix.name.clone(), warm));
        }
    }
    for (name, warm) in kept {
        new.settings
            .capacity
            .index_limits
            .entry(name)
            .or_default()
            .warm = warm;
    }
}

/// Checks the `WarmThroughput` of a table or index being created: on demand, each
/// member at least DynamoDB's initial throughput (12,000 reads, 4,000 writes); when
/// provisioned, at least the provisioned units. The on-demand table's message is
/// DynamoDB's as measured (ack-api-quirks: 1/1 and 0/0 at CreateTable); the index's
/// was recorded without its tail, taken to be the table's; the provisioned one was
/// recorded for ReadUnitsPerSecond, the write member's is assumed to follow it.
pub(crate) fn check_new_warm(
    owner: WarmOwner,
    mode: BillingMode,
    throughput: Option<Throughput>,
    warm: &WarmThroughput,
) -> Result<()> {
    let t = throughput.unwrap_or_default();
    for (value, member, initial, units, capacity) in [
        (
            warm.read_units_per_second,
            "ReadUnitsPerSecond",
            WARM_READ_UNITS_PER_S_DEFAULT,
            t.read_capacity_units,
            "ReadCapacityUnits",
        ),
        (
            warm.write_units_per_second,
            "WriteUnitsPerSecond",
            WARM_WRITE_UNITS_PER_S_DEFAULT,
            t.write_capacity_units,
            "WriteCapacityUnits",
        ),
    ] {
        let Some(v) = value else { continue };
        match mode {
            BillingMode::PayPerRequest if v < initial => {
                return Err(Error::validation(format!(
                    "One or more parameter values were invalid: Requested {member} for WarmThroughput for {owner} is lower than initial throughput for OnDemand. See: {ON_DEMAND_INITIAL_URL}"
                )));
            }
            BillingMode::Provisioned if v < units => {
                return Err(Error::validation(format!(
                    "One or more parameter values were invalid: Requested {member} for WarmThroughput for {owner} is lower than {capacity} of ProvisionedThroughput"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks an UpdateTable's `WarmThroughput` against the one in force (`current`):
/// DynamoDB refuses a decrease and accepts the same value (ack-api-quirks measured
/// both, for a table and for an index); returns what clients asked for after it.
pub(crate) fn change_warm(
    owner: WarmOwner,
    current: (i64, i64),
    asked: WarmThroughput,
    change: &WarmThroughput,
) -> Result<WarmThroughput> {
    for (value, member, now) in [
        (
            change.read_units_per_second,
            "ReadUnitsPerSecond",
            current.0,
        ),
        (
            change.write_units_per_second,
            "WriteUnitsPerSecond",
            current.1,
        ),
    ] {
        if value.is_some_and(|v| v < now) {
            return Err(Error::validation(format!(
                "One or more parameter values were invalid: Requested {member} for WarmThroughput for {owner} is lower than current WarmThroughput, decreasing WarmThroughput is not supported"
            )));
        }
    }
    Ok(WarmThroughput {
        read_units_per_second: change.read_units_per_second.or(asked.read_units_per_second),
        write_units_per_second: change
            .write_units_per_second
            .or(asked.write_units_per_second),
    })
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
        assert!(check_on_demand(BillingMode::PayPerRequest, &od(Some(1), None), false).is_ok());
        let Err(Error::Validation(m)) =
            check_on_demand(BillingMode::PayPerRequest, &od(None, Some(0)), true)
        else {
            panic!("0 is no maximum")
        };
        assert_eq!(
            m,
            "One or more parameter values were invalid: Requested MaxWriteRequestUnits for OnDemandThroughput for table is outside of valid range"
        );
        assert!(check_on_demand(BillingMode::PayPerRequest, &od(Some(-1), None), true).is_ok());
        // CreateTable has no maximum to remove.
        assert!(check_on_demand(BillingMode::PayPerRequest, &od(Some(-1), None), false).is_err());
        let Err(Error::Validation(m)) =
            check_on_demand(BillingMode::Provisioned, &od(Some(5), None), true)
        else {
            panic!("on a provisioned table")
        };
        assert!(m.contains("MaxReadRequestUnits for OnDemandThroughput cannot be specified"));
        let merged = merge_on_demand(od(Some(5), Some(7)), &od(Some(-1), Some(9)));
        assert_eq!(merged, od(None, Some(9)));
    }

    #[test]
    fn index_maximums_are_checked_with_the_index_named() {
        let od = |r, w| OnDemandThroughput {
            max_read_request_units: r,
            max_write_request_units: w,
        };
        let on_demand = BillingMode::PayPerRequest;
        check_index_on_demand(on_demand, "g-a", &od(Some(1), Some(5)), false).unwrap();
        let refused = |mode, given, update| match check_index_on_demand(mode, "g-a", &given, update)
        {
            Err(Error::Validation(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            refused(on_demand, od(None, Some(-1)), false),
            "One or more parameter values were invalid: Requested MaxWriteRequestUnits for OnDemandThroughput for index : g-a is outside of valid range"
        );
        // -1 removes a maximum, so an Update may give it.
        check_index_on_demand(on_demand, "g-a", &od(Some(-1), None), true).unwrap();
        assert!(refused(on_demand, od(Some(0), None), true).contains("MaxReadRequestUnits"));
        assert_eq!(
            refused(BillingMode::Provisioned, od(Some(5), None), false),
            "One or more parameter values were invalid: MaxReadRequestUnits for OnDemandThroughput for index: g-a cannot be specified when the table BillingMode is PROVISIONED"
        );
    }

    #[test]
    fn warm_throughput_starts_at_the_initial_throughput_and_never_decreases() {
        let warm = |r, w| WarmThroughput {
            read_units_per_second: r,
            write_units_per_second: w,
        };
        let on_demand = BillingMode::PayPerRequest;
        check_new_warm(WarmOwner::Table, on_demand, None, &warm(Some(12_000), None)).unwrap();
        let Err(Error::Validation(m)) =
            check_new_warm(WarmOwner::Table, on_demand, None, &warm(Some(1), Some(1)))
        else {
            panic!("1/1 is below the initial throughput")
        };
        assert_eq!(
            m,
            "One or more parameter values were invalid: Requested ReadUnitsPerSecond for WarmThroughput for table is lower than initial throughput for OnDemand. See: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html#on-demand-capacity-mode-initial"
        );
        let Err(Error::Validation(m)) = check_new_warm(
            WarmOwner::Index("g-a"),
            on_demand,
            None,
            &warm(None, Some(3_999)),
        ) else {
            panic!("3,999 writes is below the initial throughput")
        };
        assert!(m.contains("Requested WriteUnitsPerSecond for WarmThroughput for index g-a is lower than initial throughput"));
        // A provisioned table's floor is its provisioned throughput.
        let Err(Error::Validation(m)) = check_new_warm(
            WarmOwner::Table,
            BillingMode::Provisioned,
            Some(tp(10, 10)),
            &warm(Some(5), Some(5)),
        ) else {
            panic!("below the provisioned units")
        };
        assert_eq!(
            m,
            "One or more parameter values were invalid: Requested ReadUnitsPerSecond for WarmThroughput for table is lower than ReadCapacityUnits of ProvisionedThroughput"
        );
        // In force: the initial throughput on demand (the provisioned units otherwise),
        // what was asked, or the provisioned units if higher.
        assert_eq!(
            warm_units(on_demand, warm(None, None), None),
            (12_000, 4_000)
        );
        assert_eq!(
            warm_units(on_demand, warm(Some(15_000), None), Some(tp(1, 9_000))),
            (15_000, 9_000)
        );
        let provisioned = BillingMode::Provisioned;
        assert_eq!(
            warm_units(provisioned, warm(None, None), Some(tp(1, 2))),
            (1, 2)
        );
        assert_eq!(
            warm_units(provisioned, warm(Some(50), None), Some(tp(1, 2))),
            (50, 2)
        );
        // A change: the same value is accepted, a lower one refused, a member not given
        // keeps what was asked.
        let asked = warm(Some(15_000), None);
        let now = warm_units(on_demand, asked, None);
        let same = change_warm(WarmOwner::Table, now, asked, &warm(Some(15_000), None)).unwrap();
        assert_eq!(same, asked);
        let up = change_warm(WarmOwner::Table, now, asked, &warm(None, Some(5_000))).unwrap();
        assert_eq!(up, warm(Some(15_000), Some(5_000)));
        let Err(Error::Validation(m)) = change_warm(
            WarmOwner::Index("gsi1"),
            now,
            asked,
            &warm(Some(14_000), None),
        ) else {
            panic!("a decrease is accepted")
        };
        assert_eq!(
            m,
            "One or more parameter values were invalid: Requested ReadUnitsPerSecond for WarmThroughput for index gsi1 is lower than current WarmThroughput, decreasing WarmThroughput is not supported"
        );
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
