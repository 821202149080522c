//! The governor against a manual clock: admission, refill, burst, debt, the
//! per-key ceilings, global indexes and on-demand maximums.

use super::bucket::Bucket;
use super::governor::{BURST_WINDOW_S, PARTITION_WRITE_UNITS_PER_S};
use super::messages::{
    INDEX_PROVISIONED_MESSAGE, ON_DEMAND_MAXIMUM_MESSAGE, TABLE_ON_DEMAND_MESSAGE,
    TABLE_PROVISIONED_MESSAGE,
};
use super::*;
use crate::error::{Error, ThrottleException};
use crate::index::def::IndexKind;

const ARN: &str = "arn:aws:dynamodb:us-east-1:000000000000:table/t";

fn governor(clock: &CapacityClock, limits: Limits, indexes: Vec<IndexSpec>) -> Governor {
    let g = Governor::default();
    g.configure(
        clock,
        CapacitySpec {
            arn: ARN.into(),
            limits,
            indexes,
            accounting_off: false,
        },
    );
    g
}

fn writes(units: f64) -> Consumed {
    Consumed {
        table: "t".into(),
        table_write_units: units,
        ..Consumed::default()
    }
}

fn reads(units: f64) -> Consumed {
    Consumed {
        table: "t".into(),
        table_read_units: units,
        ..Consumed::default()
    }
}

/// Admits and charges one write of `units`; whether it was admitted.
fn write(g: &Governor, key: u64, units: f64) -> bool {
    match g.admit_write(Some(key)) {
        Ok(()) => {
            g.charge(Some(key), &writes(units));
            true
        }
        Err(Error::Throttled(_)) => false,
        Err(e) => panic!("unexpected {e}"),
    }
}

fn provisioned(read: i64, write: i64) -> Limits {
    Limits::Provisioned { read, write }
}

#[test]
fn ten_wcu_take_ten_writes_then_throttle_and_a_second_later_admit_again() {
    let clock = CapacityClock::manual_at(1_000_000);
    let g = governor(&clock, provisioned(5, 10), vec![]);
    for n in 0..10 {
        assert!(
            write(&g, n, 1.0),
            "write {n} within the first second's units"
        );
    }
    let err = g.admit_write(Some(99)).unwrap_err();
    let Error::Throttled(t) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        t.exception,
        ThrottleException::ProvisionedThroughputExceeded
    );
    assert_eq!(t.message, TABLE_PROVISIONED_MESSAGE);
    assert_eq!(t.reason, "TableWriteProvisionedThroughputExceeded");
    assert_eq!(t.resource, ARN);
    // A second later, another second's worth.
    clock.advance(1_000);
    for n in 0..10 {
        assert!(write(&g, n, 1.0), "write {n} a second later");
    }
    assert!(!write(&g, 10, 1.0));
    let totals = g.totals();
    assert_eq!(totals.provisioned_write_units, 10);
    assert_eq!(totals.throttled_writes, 2);
    assert_eq!(totals.write_units, 20.0);
}

#[test]
fn the_sustained_accepted_rate_equals_the_provisioned_rate() {
    let clock = CapacityClock::manual_at(0);
    let g = governor(&clock, provisioned(1, 20), vec![]);
    let mut accepted = 0u32;
    // A client trying every 5 ms for 30 s.
    for step in 0..6_000u64 {
        if write(&g, step, 1.0) {
            accepted += 1;
        }
        clock.advance(5);
    }
    // One second's worth at the start, then 20 a second.
    assert!((600..=621).contains(&accepted), "{accepted}");
}

#[test]
fn unused_capacity_accrues_up_to_300_seconds_as_burst() {
    let b = Bucket::new(10.0, BURST_WINDOW_S, 0);
    assert_eq!(b.tokens(0), 10.0);
    assert_eq!(b.tokens(100_000), 1_010.0);
    assert_eq!(b.tokens(1_000_000), 3_000.0);
    let clock = CapacityClock::manual_at(0);
    let g = governor(&clock, provisioned(1, 10), vec![]);
    clock.advance(3_600_000);
    let mut burst = 0;
    while write(&g, burst, 1.0) {
        burst += 1;
    }
    assert_eq!(burst, 3_000);
}

#[test]
fn a_large_write_puts_the_bucket_in_debt_until_the_refill_pays_it_back() {
    let clock = CapacityClock::manual_at(0);
    let g = governor(&clock, provisioned(1, 1), vec![]);
    // One unit left, five consumed: four owed.
    assert!(write(&g, 1, 5.0));
    assert!(!write(&g, 1, 1.0));
    clock.advance(4_000);
    assert!(
        !write(&g, 1, 1.0),
        "the debt is paid but the bucket is not positive"
    );
    clock.advance(1);
    assert!(write(&g, 1, 1.0));
}

#[test]
fn a_hot_key_is_throttled_while_the_table_has_headroom() {
    let clock = CapacityClock::manual_at(0);
    let g = governor(&clock, provisioned(10, 40_000), vec![]);
    let hot = 7;
    for _ in 0..PARTITION_WRITE_UNITS_PER_S as u32 {
        assert!(write(&g, hot, 1.0));
    }
    let Err(Error::Throttled(t)) = g.admit_write(Some(hot)) else {
        panic!("the hot key is admitted")
    };
    assert_eq!(t.reason, "TableWriteKeyRangeThroughputExceeded");
    assert_eq!(t.message, TABLE_PROVISIONED_MESSAGE);
    assert!(write(&g, 8, 1.0), "another key still writes");
    clock.advance(1);
    assert!(write(&g, hot, 1.0), "a millisecond refills one unit");
}

#[test]
fn an_on_demand_hot_key_gets_a_throttling_exception() {
    let clock = CapacityClock::manual_at(0);
    let g = governor(&clock, Limits::default(), vec![]);
    for _ in 0..3 {
        g.admit_read(None, Some(5)).unwrap();
        g.charge(Some(5), &reads(1_000.0));
    }
    let Err(Error::Throttled(t)) = g.admit_read(None, Some(5)) else {
        panic!("the hot key is admitted")
    };
    assert_eq!(t.exception, ThrottleException::Throttling);
    assert_eq!(t.message, TABLE_ON_DEMAND_MESSAGE);
    assert_eq!(t.reason, "TableReadKeyRangeThroughputExceeded");
    g.admit_read(None, None).unwrap();
    g.admit_read(None, Some(6)).unwrap();
    assert_eq!(g.totals().throttled_reads, 1);
}

fn gsi(name: &str, limits: Limits) -> IndexSpec {
    IndexSpec {
        name: name.into(),
        kind: IndexKind::Global,
        limits,
    }
}

#[test]
fn a_global_index_out_of_capacity_throttles_the_tables_write() {
    let clock = CapacityClock::manual_at(0);
    let g = governor(
        &clock,
        provisioned(100, 100),
        vec![gsi("by_x", provisioned(5, 2))],
    );
    let mut c = writes(1.0);
    c.indexes.push(IndexConsumed {
        name: "by_x".into(),
        kind: IndexKind::Global,
        read_units: 0.0,
        write_units: 2.0,
    });
    g.admit_write(Some(1)).unwrap();
    g.charge(Some(1), &c);
    let Err(Error::Throttled(t)) = g.admit_write(Some(2)) else {
        panic!("the write is admitted")
    };
    assert_eq!(t.message, INDEX_PROVISIONED_MESSAGE);
    assert_eq!(t.reason, "IndexWriteProvisionedThroughputExceeded");
    assert_eq!(t.resource, format!("{ARN}/index/by_x"));
    // Reads of the table are not the index's concern.
    g.admit_read(None, Some(2)).unwrap();
    let totals = g.totals();
    assert_eq!(totals.throttled_writes, 1);
    assert_eq!(totals.indexes[0].0, "by_x");
    assert_eq!(totals.indexes[0].1.throttled_writes, 1);
    assert_eq!(totals.indexes[0].1.write_units, 2.0);
    assert_eq!(totals.indexes[0].1.provisioned_read_units, 5);
    clock.advance(1_000);
    g.admit_write(Some(2)).unwrap();
}

#[test]
fn reads_of_a_global_index_take_its_capacity_and_a_local_index_the_tables() {
    let clock = CapacityClock::manual_at(0);
    let lsi = IndexSpec {
        name: "lsi".into(),
        kind: IndexKind::Local,
        limits: Limits::default(),
    };
    let g = governor(
        &clock,
        provisioned(2, 1),
        vec![gsi("g", provisioned(1, 1)), lsi],
    );
    let index_read = |name: &str, kind, units| Consumed {
        table: "t".into(),
        indexes: vec![IndexConsumed {
            name: name.into(),
            kind,
            read_units: units,
            write_units: 0.0,
        }],
        ..Consumed::default()
    };
    g.admit_read(Some("g"), Some(1)).unwrap();
    g.charge(Some(1), &index_read("g", IndexKind::Global, 1.0));
    assert!(g.admit_read(Some("g"), Some(1)).is_err());
    g.admit_read(None, Some(1)).unwrap();
    g.admit_read(Some("lsi"), Some(1)).unwrap();
    g.charge(Some(1), &index_read("lsi", IndexKind::Local, 2.0));
    let Err(Error::Throttled(t)) = g.admit_read(Some("lsi"), Some(1)) else {
        panic!("the local index read is admitted")
    };
    assert_eq!(t.reason, "TableReadProvisionedThroughputExceeded");
}

#[test]
fn an_on_demand_maximum_is_enforced_and_a_table_without_one_is_not() {
    let clock = CapacityClock::manual_at(0);
    let g = governor(
        &clock,
        Limits::OnDemand {
            max_read: None,
            max_write: Some(3),
        },
        vec![],
    );
    for key in 0..3 {
        assert!(write(&g, key, 1.0));
    }
    let Err(Error::Throttled(t)) = g.admit_write(Some(10)) else {
        panic!("the write is admitted")
    };
    assert_eq!(t.exception, ThrottleException::Throttling);
    assert_eq!(t.message, ON_DEMAND_MAXIMUM_MESSAGE);
    assert_eq!(t.reason, "TableWriteMaxOnDemandThroughputExceeded");
    // No burst above a maximum: an hour idle still gives one second's worth.
    clock.advance(3_600_000);
    for key in 0..3 {
        assert!(write(&g, key, 1.0));
    }
    assert!(!write(&g, 4, 1.0));
    // Reads have no maximum.
    for key in 0..100 {
        g.admit_read(None, Some(key)).unwrap();
        g.charge(Some(key), &reads(10.0));
    }
    assert_eq!(g.totals().provisioned_write_units, 0);
}

#[test]
fn an_on_demand_global_index_maximum_throttles_the_tables_writes_and_the_index_reads() {
    let clock = CapacityClock::manual_at(0);
    let max = |read, write| Limits::OnDemand {
        max_read: read,
        max_write: write,
    };
    let g = governor(
        &clock,
        Limits::default(),
        vec![
            gsi("by_x", max(Some(2), Some(1))),
            gsi("free", max(None, None)),
        ],
    );
    let index = |name: &str, read_units, write_units| IndexConsumed {
        name: name.into(),
        kind: IndexKind::Global,
        read_units,
        write_units,
    };
    let mut c = writes(1.0);
    c.indexes.push(index("by_x", 0.0, 1.0));
    g.admit_write(Some(1)).unwrap();
    g.charge(Some(1), &c);
    let Err(Error::Throttled(t)) = g.admit_write(Some(2)) else {
        panic!("the write is admitted past the index's maximum")
    };
    assert_eq!(t.exception, ThrottleException::Throttling);
    assert_eq!(t.message, ON_DEMAND_MAXIMUM_MESSAGE);
    assert_eq!(t.reason, "IndexWriteMaxOnDemandThroughputExceeded");
    assert_eq!(t.resource, format!("{ARN}/index/by_x"));
    // Its reads have their own maximum; the other index and the table have none.
    let read = Consumed {
        table: "t".into(),
        indexes: vec![index("by_x", 2.0, 0.0)],
        ..Consumed::default()
    };
    g.admit_read(Some("by_x"), None).unwrap();
    g.charge(None, &read);
    let Err(Error::Throttled(t)) = g.admit_read(Some("by_x"), None) else {
        panic!("the index read is admitted past its maximum")
    };
    assert_eq!(t.reason, "IndexReadMaxOnDemandThroughputExceeded");
    g.admit_read(Some("free"), None).unwrap();
    g.admit_read(None, None).unwrap();
    // A second later both maximums admit again.
    clock.advance(1_000);
    g.admit_write(Some(2)).unwrap();
    g.admit_read(Some("by_x"), None).unwrap();
}

#[test]
fn a_new_rate_keeps_the_unused_units_and_a_new_mode_starts_afresh() {
    let clock = CapacityClock::manual_at(0);
    let g = governor(&clock, provisioned(1, 10), vec![]);
    clock.advance(10_000);
    // 110 units now; lowering to 5 WCU caps them at 300 s of 5.
    let spec = |limits| CapacitySpec {
        arn: ARN.into(),
        limits,
        indexes: vec![],
        accounting_off: false,
    };
    g.configure(&clock, spec(provisioned(1, 5)));
    let mut n = 0;
    while write(&g, n, 1.0) {
        n += 1;
    }
    assert_eq!(n, 110);
    assert_eq!(g.totals().provisioned_write_units, 5);
    g.configure(&clock, spec(Limits::default()));
    assert!(write(&g, 1_000, 1.0), "on demand has no table bucket");
    assert_eq!(g.totals().write_units, 111.0);
}

#[test]
fn the_tracked_keys_stay_bounded() {
    let clock = CapacityClock::manual_at(0);
    let g = governor(&clock, Limits::default(), vec![]);
    for key in 0..(governor::PARTITIONS_TRACKED_MAX as u64 * 2) {
        g.charge(Some(key), &writes(1.0));
        clock.advance(1);
    }
    // Every key was idle long enough to be dropped; new ones are still tracked.
    for _ in 0..1_000 {
        g.charge(Some(u64::MAX), &writes(1.0));
    }
    assert!(g.admit_write(Some(u64::MAX)).is_err());
}

#[test]
fn keys_far_from_their_ceiling_get_no_exact_buckets() {
    let clock = CapacityClock::manual_at(0);
    let g = governor(&clock, Limits::default(), vec![]);
    // A thousand keys at a hundred units a second each, for ten seconds.
    for _ in 0..10 {
        for key in 0..1_000 {
            assert!(write(&g, key, 1.0));
            g.charge(Some(key), &reads(1.0));
        }
        for _ in 0..99 {
            for key in 0..10 {
                g.charge(Some(key), &writes(1.0));
            }
        }
        clock.advance(1_000);
    }
    assert_eq!(g.tracked_keys(), 0);
    // A hot key gets one, and is throttled at its ceiling all the same: what other
    // keys sharing its cells took last second may count against it, at most a few
    // units here.
    let admitted = (0..2_000).take_while(|_| write(&g, 5_000, 1.0)).count();
    assert!(
        (990..=PARTITION_WRITE_UNITS_PER_S as usize).contains(&admitted),
        "{admitted}"
    );
    assert_eq!(g.tracked_keys(), 1);
}

#[test]
fn an_on_demand_table_without_maximums_takes_its_warm_throughput_at_once() {
    use crate::throughput::{WARM_READ_UNITS_PER_S_DEFAULT, WARM_WRITE_UNITS_PER_S_DEFAULT};
    // Warm throughput is what an on-demand table and each of its global indexes take
    // at once: with the clock standing still, the initial 4,000 write and 12,000 read
    // units a second, spread over keys below their ceilings, are all admitted.
    let clock = CapacityClock::manual_at(0);
    let g = governor(
        &clock,
        Limits::default(),
        vec![gsi("by_x", Limits::default())],
    );
    let index = |read_units, write_units| IndexConsumed {
        name: "by_x".into(),
        kind: IndexKind::Global,
        read_units,
        write_units,
    };
    for key in 0..WARM_WRITE_UNITS_PER_S_DEFAULT as u64 {
        let mut c = writes(1.0);
        c.indexes.push(index(0.0, 1.0));
        g.admit_write(Some(key)).unwrap();
        g.charge(Some(key), &c);
    }
    // Reads of 1,000 units per key, a third of a key's ceiling.
    let per_key = 1_000.0;
    for key in 0..(WARM_READ_UNITS_PER_S_DEFAULT as f64 / per_key) as u64 {
        g.admit_read(None, Some(key)).unwrap();
        g.charge(Some(key), &reads(per_key));
        let on_index = Consumed {
            table: "t".into(),
            indexes: vec![index(per_key, 0.0)],
            ..Consumed::default()
        };
        g.admit_read(Some("by_x"), None).unwrap();
        g.charge(None, &on_index);
    }
    let totals = g.totals();
    assert_eq!((totals.throttled_reads, totals.throttled_writes), (0, 0));
}
