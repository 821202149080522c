//! The trigger runtime's counters in Prometheus' text format, for `GET /metrics`.
//!
//! Owns the series names, types and labels of the trigger and schedule counters. Must
//! not know where the counters come from (the runtimes hand typed snapshots over) nor
//! the HTTP route that serves them.

use std::fmt::Write as _;

use eddy_triggers::schedule::ScheduleMetrics;
use eddy_triggers::stream::{TriggerMetrics, TriggerSeries};

/// One trigger series: name, Prometheus type, help, and how to read it from the counters.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&TriggerMetrics) -> f64,
);

const TRIGGER_SERIES: [Series; 11] = [
    (
        "eddy_trigger_invocations_total",
        "counter",
        "Invocations of a trigger's function that reached it, failed ones included.",
        |m| m.invocations as f64,
    ),
    (
        "eddy_trigger_errors_total",
        "counter",
        "Invocations of a trigger's function that failed (an error, a trap, a timeout, or failed records).",
        |m| m.errors as f64,
    ),
    (
        "eddy_trigger_retries_total",
        "counter",
        "Batches a trigger tried again after a failure.",
        |m| m.retries as f64,
    ),
    (
        "eddy_trigger_throttles_total",
        "counter",
        "Attempts that did not reach the function (no instance slot in time); retried without counting.",
        |m| m.throttles as f64,
    ),
    (
        "eddy_trigger_records_delivered_total",
        "counter",
        "Records a trigger's function handled.",
        |m| m.records_delivered as f64,
    ),
    (
        "eddy_trigger_filtered_out_total",
        "counter",
        "Records a trigger's filter criteria held back.",
        |m| m.filtered_out as f64,
    ),
    (
        "eddy_trigger_sent_to_failure_destination_total",
        "counter",
        "Records given up and written to the trigger's failure destination.",
        |m| m.sent_to_failure_destination as f64,
    ),
    (
        "eddy_trigger_dropped_total",
        "counter",
        "Records given up and discarded (no failure destination).",
        |m| m.dropped as f64,
    ),
    (
        "eddy_trigger_iterator_age_seconds",
        "gauge",
        "Age of the newest record delivered at its delivery; 0 while the trigger has read every record.",
        |m| m.iterator_age_us as f64 / 1e6,
    ),
    (
        "eddy_trigger_batch_duration_seconds_last",
        "gauge",
        "Duration of a trigger's last invocation.",
        |m| m.batch_duration_us_last as f64 / 1e6,
    ),
    (
        "eddy_trigger_batch_duration_seconds_total",
        "counter",
        "Time a trigger's invocations took, summed.",
        |m| m.batch_duration_us_total as f64 / 1e6,
    ),
];

/// Every trigger's counters, one block per series, labelled by trigger and function.
pub fn triggers(all: &[TriggerSeries]) -> String {
    let mut out = String::new();
    for (name, kind, help, get) in TRIGGER_SERIES {
        // Writing into a String cannot fail.
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
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
    type ScheduleSeries = (&'static str, &'static str, fn(&ScheduleMetrics) -> u64);
    let series: [ScheduleSeries; 2] = [
        (
            "eddy_schedule_invocations_total",
            "Invocations of a schedule's function.",
            |m| m.invocations,
        ),
        (
            "eddy_schedule_errors_total",
            "Invocations of a schedule's function that failed.",
            |m| m.errors,
        ),
    ];
    let mut out = String::new();
    for (name, help, get) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (schedule, m) in all {
            let _ = writeln!(out, "{name}{{schedule=\"{schedule}\"}} {}", get(m));
        }
    }
    out
}
