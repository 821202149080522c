//! When and how far a target-tracking policy scales, as a pure function of what was
//! consumed and when: DynamoDB's timing is two CloudWatch alarms, a high one (the
//! utilization above the target for 2 consecutive minutes) that scales out, and a low
//! one (the utilization more than 20 points below the target for 15 consecutive
//! minutes) that scales in (AWS's knowledge-center article "DynamoDB auto scaling",
//! and the alarms' evaluation periods of 2 and 15 one-minute periods that moto's
//! applicationautoscaling models copy). The new capacity is the one at which the
//! consumption of the window would sit at the target, clamped to the target's range.
//!
//! Owns that arithmetic and the memory it needs between ticks ([`Tracker`]). Must not
//! know the engine, the store or the clock: the scaler hands it numbers.

/// How far below the target (in utilization points) the low alarm sits: DynamoDB
/// scales in when utilization is 20% or more below the target.
pub const SCALE_IN_MARGIN_PCT: f64 = 20.0;

/// One policy's settings, every duration in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Target utilization, percent.
    pub target_pct: f64,
    pub min: i64,
    pub max: i64,
    /// How long utilization must stay above the target before scaling out.
    pub scale_out_after_ms: u64,
    /// How long it must stay below the low threshold before scaling in.
    pub scale_in_after_ms: u64,
    pub scale_out_cooldown_ms: u64,
    pub scale_in_cooldown_ms: u64,
    /// The policy's `DisableScaleIn`, or a suspended scale-in.
    pub disable_scale_in: bool,
    /// A suspended scale-out (`SuspendedState.DynamicScalingOutSuspended`).
    pub disable_scale_out: bool,
}

/// A reading of the consumed-units counter (monotonic) at a time.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    at_ms: u64,
    consumed: f64,
}

/// What one policy remembers between ticks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tracker {
    last: Option<Sample>,
    /// The start of the current run of intervals above the target.
    high: Option<Sample>,
    /// The start of the current run of intervals below the low threshold.
    low: Option<Sample>,
    last_scale_out_ms: Option<u64>,
    last_scale_in_ms: Option<u64>,
}

/// What to do after a tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    Hold,
    /// Set the capacity to `to`; `utilization_pct` is the window's.
    ScaleOut {
        to: i64,
        utilization_pct: f64,
    },
    ScaleIn {
        to: i64,
        utilization_pct: f64,
    },
}

/// Units per second consumed between two samples.
fn rate(from: Sample, to: Sample) -> f64 {
    let seconds = (to.at_ms - from.at_ms) as f64 / 1000.0;
    (to.consumed - from.consumed) / seconds
}

/// The capacity at which `rate` units per second sit at the target, within the range.
fn desired(rate: f64, s: &Settings) -> i64 {
    let raw = (rate / (s.target_pct / 100.0)).ceil();
    // Clamped in floating point first: a huge rate must not overflow the cast.
    let clamped = raw.clamp(s.min as f64, s.max as f64);
    clamped as i64
}

/// Advances `t` by one reading: `consumed` is the counter of units consumed so far,
/// `provisioned` the capacity in force now.
pub fn step(
    t: &mut Tracker,
    s: &Settings,
    now_ms: u64,
    consumed: f64,
    provisioned: i64,
) -> Decision {
    let now = Sample {
        at_ms: now_ms,
        consumed,
    };
    let Some(last) = t
        .last
        .filter(|l| now_ms > l.at_ms && consumed >= l.consumed)
    else {
        // The first reading, a clock that did not move, or a counter that went back
        // (the table was recreated): start over from here.
        let (out, inn) = (t.last_scale_out_ms, t.last_scale_in_ms);
        *t = Tracker {
            last: Some(now),
            last_scale_out_ms: out,
            last_scale_in_ms: inn,
            ..Tracker::default()
        };
        return Decision::Hold;
    };
    t.last = Some(now);
    if provisioned <= 0 {
        t.high = None;
        t.low = None;
        return Decision::Hold;
    }
    let utilization = rate(last, now) / provisioned as f64 * 100.0;
    t.high = if utilization > s.target_pct {
        t.high.or(Some(last))
    } else {
        None
    };
    t.low = if utilization < s.target_pct - SCALE_IN_MARGIN_PCT {
        t.low.or(Some(last))
    } else {
        None
    };
    let cooling = |since: Option<u64>, cooldown: u64| {
        since.is_some_and(|at| now_ms < at.saturating_add(cooldown))
    };
    if let Some(start) = t.high
        && now_ms - start.at_ms >= s.scale_out_after_ms
        && !s.disable_scale_out
        && !cooling(t.last_scale_out_ms, s.scale_out_cooldown_ms)
    {
        let window = rate(start, now);
        let to = desired(window, s);
        if to > provisioned {
            t.high = None;
            t.low = None;
            t.last_scale_out_ms = Some(now_ms);
            return Decision::ScaleOut {
                to,
                utilization_pct: window / provisioned as f64 * 100.0,
            };
        }
    }
    if let Some(start) = t.low
        && now_ms - start.at_ms >= s.scale_in_after_ms
        && !s.disable_scale_in
        && !cooling(t.last_scale_in_ms, s.scale_in_cooldown_ms)
    {
        let window = rate(start, now);
        let to = desired(window, s);
        if to < provisioned {
            t.high = None;
            t.low = None;
            t.last_scale_in_ms = Some(now_ms);
            return Decision::ScaleIn {
                to,
                utilization_pct: window / provisioned as f64 * 100.0,
            };
        }
    }
    Decision::Hold
}

/// A capacity moved into the target's range, if it is outside it (what
/// RegisterScalableTarget does to the resource's current capacity).
pub fn clamp_into(current: i64, min: i64, max: i64) -> Option<i64> {
    let to = current.clamp(min, max);
    (to != current).then_some(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DynamoDB's defaults scaled down: 2 s above to scale out, 15 s below to scale
    /// in, no cooldowns, target 50%, range 1..=100.
    fn settings() -> Settings {
        Settings {
            target_pct: 50.0,
            min: 1,
            max: 100,
            scale_out_after_ms: 2_000,
            scale_in_after_ms: 15_000,
            scale_out_cooldown_ms: 0,
            scale_in_cooldown_ms: 0,
            disable_scale_in: false,
            disable_scale_out: false,
        }
    }

    /// Feeds one reading a second at a constant `rate` (units/s) for `seconds`,
    /// starting at `at_s` with `consumed`; returns the non-Hold decisions with the
    /// second they came at, and the final (time, counter).
    fn run(
        t: &mut Tracker,
        s: &Settings,
        provisioned: &mut i64,
        mut at_s: u64,
        mut consumed: f64,
        rate: f64,
        seconds: u64,
    ) -> (Vec<(u64, Decision)>, u64, f64) {
        let mut out = Vec::new();
        for _ in 0..seconds {
            at_s += 1;
            consumed += rate;
            let d = step(t, s, at_s * 1000, consumed, *provisioned);
            match d {
                Decision::Hold => {}
                Decision::ScaleOut { to, .. } | Decision::ScaleIn { to, .. } => {
                    *provisioned = to;
                    out.push((at_s, d));
                }
            }
        }
        (out, at_s, consumed)
    }

    fn tos(ds: &[(u64, Decision)]) -> Vec<(u64, i64)> {
        ds.iter()
            .map(|(at, d)| match d {
                Decision::ScaleOut { to, .. } | Decision::ScaleIn { to, .. } => (*at, *to),
                Decision::Hold => (*at, 0),
            })
            .collect()
    }

    #[test]
    fn table_of_cases() {
        struct Case {
            name: &'static str,
            settings: Settings,
            provisioned: i64,
            /// (units per second, seconds) phases.
            phases: &'static [(f64, u64)],
            /// (second, new capacity) of each scaling.
            want: &'static [(u64, i64)],
        }
        let s = settings();
        let cases = [
            Case {
                name: "steady at the target: nothing",
                settings: s,
                provisioned: 10,
                phases: &[(5.0, 60)],
                want: &[],
            },
            Case {
                name: "above the target: out after the 2 s window, to rate / target",
                settings: s,
                provisioned: 10,
                // 8 units/s on 10 is 80%; at 50% it needs 16. The window opens at the
                // first reading (second 0) and is 2 s long at second 2.
                phases: &[(8.0, 10)],
                want: &[(2, 16)],
            },
            Case {
                name: "a spike shorter than the window does not scale",
                settings: s,
                provisioned: 10,
                phases: &[(1.0, 3), (20.0, 1), (1.0, 3), (20.0, 1), (4.0, 5)],
                want: &[],
            },
            Case {
                name: "scale out is clamped to the maximum",
                settings: Settings { max: 12, ..s },
                provisioned: 10,
                phases: &[(100.0, 10)],
                want: &[(2, 12)],
            },
            Case {
                name: "at the maximum already: nothing",
                settings: Settings { max: 10, ..s },
                provisioned: 10,
                phases: &[(100.0, 10)],
                want: &[],
            },
            Case {
                name: "below target minus 20: in after the 15 s window",
                settings: s,
                provisioned: 100,
                // 10 units/s on 100 is 10%, under 30%; at 50% it needs 20.
                phases: &[(10.0, 30)],
                want: &[(15, 20)],
            },
            Case {
                name: "between the low threshold and the target: nothing",
                settings: s,
                provisioned: 100,
                phases: &[(40.0, 60)],
                want: &[],
            },
            Case {
                name: "scale in is clamped to the minimum",
                settings: Settings { min: 50, ..s },
                provisioned: 100,
                phases: &[(1.0, 30)],
                want: &[(15, 50)],
            },
            Case {
                name: "idle: in to the minimum",
                settings: Settings { min: 5, ..s },
                provisioned: 100,
                phases: &[(0.0, 30)],
                want: &[(15, 5)],
            },
            Case {
                name: "DisableScaleIn keeps the capacity",
                settings: Settings {
                    disable_scale_in: true,
                    ..s
                },
                provisioned: 100,
                phases: &[(1.0, 60)],
                want: &[],
            },
            Case {
                name: "a suspended scale-out keeps the capacity",
                settings: Settings {
                    disable_scale_out: true,
                    ..s
                },
                provisioned: 10,
                phases: &[(100.0, 60)],
                want: &[],
            },
            Case {
                name: "growing load: out again once the new window is over, no cooldown",
                settings: s,
                provisioned: 10,
                phases: &[(8.0, 3), (16.0, 4)],
                // 16 at second 2; 8/16 is not above 50% at second 3; 16/16 = 100% from
                // second 3 on: out at 5 to 32.
                want: &[(2, 16), (5, 32)],
            },
            Case {
                name: "the scale-out cooldown delays the second scale-out",
                settings: Settings {
                    scale_out_cooldown_ms: 10_000,
                    ..s
                },
                provisioned: 10,
                phases: &[(8.0, 3), (16.0, 12)],
                // The window is over at second 5, the cooldown of the scale-out at
                // second 2 only at second 12.
                want: &[(2, 16), (12, 32)],
            },
            Case {
                name: "load then quiet: out, then in after the scale-in window",
                settings: s,
                provisioned: 10,
                phases: &[(8.0, 5), (1.0, 40)],
                // Out to 16 at second 2; from second 5 on it is 1/16 = 6%: in at 20 to 2.
                want: &[(2, 16), (20, 2)],
            },
        ];
        for c in cases {
            let mut t = Tracker::default();
            let mut provisioned = c.provisioned;
            let (mut at, mut consumed) = (0u64, 0.0f64);
            // The first reading only starts the counter.
            assert_eq!(
                step(&mut t, &c.settings, 0, 0.0, provisioned),
                Decision::Hold
            );
            let mut got = Vec::new();
            for &(rate, seconds) in c.phases {
                let (ds, a, k) = run(
                    &mut t,
                    &c.settings,
                    &mut provisioned,
                    at,
                    consumed,
                    rate,
                    seconds,
                );
                got.extend(tos(&ds));
                (at, consumed) = (a, k);
            }
            assert_eq!(got, c.want, "{}", c.name);
        }
    }

    #[test]
    fn the_reported_utilization_is_the_windows() {
        let s = settings();
        let mut t = Tracker::default();
        step(&mut t, &s, 0, 0.0, 10);
        step(&mut t, &s, 1000, 8.0, 10);
        match step(&mut t, &s, 2000, 16.0, 10) {
            Decision::ScaleOut {
                to,
                utilization_pct,
            } => {
                assert_eq!(to, 16);
                assert!((utilization_pct - 80.0).abs() < 1e-9, "{utilization_pct}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_counter_that_goes_back_starts_over() {
        let s = settings();
        let mut t = Tracker::default();
        step(&mut t, &s, 0, 0.0, 10);
        step(&mut t, &s, 1000, 100.0, 10);
        // The table was recreated: its counter restarts at 0.
        assert_eq!(step(&mut t, &s, 2000, 1.0, 10), Decision::Hold);
        assert_eq!(step(&mut t, &s, 3000, 101.0, 10), Decision::Hold);
        // The window restarted at second 2, so it closes at second 4.
        assert!(matches!(
            step(&mut t, &s, 4000, 201.0, 10),
            Decision::ScaleOut { to: 100, .. }
        ));
    }

    #[test]
    fn an_on_demand_table_or_a_clock_that_stands_still_holds() {
        let s = settings();
        let mut t = Tracker::default();
        step(&mut t, &s, 0, 0.0, 0);
        for at in 1..10 {
            assert_eq!(
                step(&mut t, &s, at * 1000, at as f64 * 100.0, 0),
                Decision::Hold
            );
        }
        assert_eq!(step(&mut t, &s, 9000, 5000.0, 10), Decision::Hold);
    }

    #[test]
    fn huge_rates_clamp_without_overflow() {
        let s = Settings {
            max: 40_000,
            ..settings()
        };
        assert_eq!(desired(f64::MAX, &s), 40_000);
        assert_eq!(desired(0.0, &s), 1);
    }

    #[test]
    fn registering_clamps_the_current_capacity_into_the_range() {
        assert_eq!(clamp_into(5, 1, 10), None);
        assert_eq!(clamp_into(0, 1, 10), Some(1));
        assert_eq!(clamp_into(50, 1, 10), Some(10));
    }
}
