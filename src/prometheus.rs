//! The trigger runtime's counters in Prometheus' text format, for `GET /metrics`.
//!
//! Owns the series names, types and labels of the trigger and schedule counters. Must
//! not know where the counters come from (the runtimes hand typed snapshots over) nor
//! the HTTP route that serves them.

use std::fmt::Write as _;

use eddy_triggers::schedule::ScheduleMetrics;
use eddy_triggers::stream::{TriggerMetrics, TriggerSeries};

/// One trigger series: name, Prometheus type, and how to read it from the counters.
type Series = (&'static str, &'static str, fn(&TriggerMetrics) -> f64);

const TRIGGER_SERIES: [Series; 11] = [
    ("eddy_trigger_invocations_total", "counter", |m| {
        m.invocations as f64
    }),
    ("eddy_trigger_errors_total", "counter", |m| m.errors as f64),
    ("eddy_trigger_retries_total", "counter", |m| {
        m.retries as f64
    }),
    ("eddy_trigger_throttles_total", "counter", |m| {
        m.throttles as f64
    }),
    ("eddy_trigger_records_delivered_total", "counter", |m| {
        m.records_delivered as f64
    }),
    ("eddy_trigger_filtered_out_total", "counter", |m| {
        m.filtered_out as f64
    }),
    (
        "eddy_trigger_sent_to_failure_destination_total",
        "counter",
        |m| m.sent_to_failure_destination as f64,
    ),
    ("eddy_trigger_dropped_total", "counter", |m| {
        m.dropped as f64
    }),
    ("eddy_trigger_iterator_age_seconds", "gauge", |m| {
        m.iterator_age_us as f64 / 1e6
    }),
    ("eddy_trigger_batch_duration_seconds_last", "gauge", |m| {
        m.batch_duration_us_last as f64 / 1e6
    }),
    (
        "eddy_trigger_batch_duration_seconds_total",
        "counter",
        |m| m.batch_duration_us_total as f64 / 1e6,
    ),
];

/// Every trigger's counters, one block per series, labelled by trigger and function.
pub fn triggers(all: &[TriggerSeries]) -> String {
    let mut out = String::new();
    for (name, kind, get) in TRIGGER_SERIES {
        // Writing into a String cannot fail.
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for t in all {
            let _ = writeln!(
                out,
                "{name}{{trigger=\"{}\",function=\"{}\"}} {}",
                t.trigger,
                t.function,
                get(&t.metrics)
            );
        }
    }
    out
}

/// Every schedule's counters, labelled by schedule.
pub fn schedules(all: &[(String, ScheduleMetrics)]) -> String {
    type ScheduleSeries = (&'static str, fn(&ScheduleMetrics) -> u64);
    let series: [ScheduleSeries; 2] = [
        ("eddy_schedule_invocations_total", |m| m.invocations),
        ("eddy_schedule_errors_total", |m| m.errors),
    ];
    let mut out = String::new();
    for (name, get) in series {
        let _ = writeln!(out, "# TYPE {name} counter");
        for (schedule, m) in all {
            let _ = writeln!(out, "{name}{{schedule=\"{schedule}\"}} {}", get(m));
        }
    }
    out
}
