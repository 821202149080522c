//! The schedule trigger: runs a function on a cron expression with a fixed payload, as
//! an EventBridge scheduled event. Schedules are stored durably (the engine's `system`
//! keyspace) and restart with the server; a fire missed while the server was down is
//! not replayed (EventBridge does not replay either), the next one comes on time.
//!
//! Owns schedule definitions (kept in the shared definition registry), their timer
//! threads and their counters, shown as typed views. Must not know HTTP nor how views
//! and counters are rendered (JSON and Prometheus text are the edge's).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use eddy_engine::Engine;
use eddy_engine::clock::{now_ms, rfc3339_ms};
use eddy_engine::sync::lock;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::TriggerError;
use crate::executor::{Executor, FunctionStore, TableApi};
use crate::registry::{self, Definition, Registry};

/// Longest a timer sleeps before it checks whether its schedule was deleted or
/// disabled.
const CONTROL_CHECK_MS: u64 = 200;
/// Longest schedule name.
pub const SCHEDULE_NAME_CHARS_MAX: usize = 64;
/// A throttled firing is retried after this long, then twice as long each time…
const THROTTLE_BACKOFF_MS_MIN: u64 = 100;
/// …up to this.
const THROTTLE_BACKOFF_MS_MAX: u64 = 10_000;
/// Largest fixed payload.
pub const SCHEDULE_PAYLOAD_BYTES_MAX: usize = 256 * 1024;
/// Schedules one server keeps. Every schedule has its own timer thread, so their number
/// is bounded: one more is refused (Lambda's `ServiceQuotaExceededException`).
pub const SCHEDULES_MAX: usize = 128;

/// The request body of `POST /v1/schedules` (EventBridge's rule words).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ScheduleRequest {
    pub name: Option<String>,
    pub function_name: Option<String>,
    /// `cron(…)` or a bare cron expression: 5 fields (minute precision, as crontab and
    /// EventBridge users write them) or 6–7 fields (with seconds, and a year).
    pub schedule_expression: Option<String>,
    /// The event's `detail`.
    pub input: Option<Value>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct ScheduleDef {
    name: String,
    function_name: String,
    expression: String,
    input: Value,
    enabled: bool,
    created_ms: u64,
}

/// Parses a cron expression the way users write it.
pub fn parse_cron(expression: &str) -> Result<cron::Schedule, TriggerError> {
    let inner = expression
        .trim()
        .strip_prefix("cron(")
        .and_then(|e| e.strip_suffix(')'))
        .unwrap_or(expression.trim());
    // EventBridge writes `?` for "any" in day fields; the cron crate wants `*`.
    let inner = inner.replace('?', "*");
    let fields = inner.split_whitespace().count();
    let full = match fields {
        5 => format!("0 {inner}"),
        6 | 7 => inner,
        _ => {
            return Err(TriggerError::invalid(
                "ScheduleExpression",
                format!(
                    "a cron expression has 5 fields (or 6–7 with seconds and year); got {fields}: {expression:?}"
                ),
            ));
        }
    };
    full.parse::<cron::Schedule>().map_err(|e| {
        TriggerError::invalid(
            "ScheduleExpression",
            format!("{expression:?} is not a cron expression: {e}"),
        )
    })
}

/// Where a schedule is stored.
impl Definition for ScheduleDef {
    const KIND: &'static str = "schedule";
    const TITLE: &'static str = "Schedule";
    const PREFIX: &'static str = "schedule/";

    fn key(name: &str) -> Vec<u8> {
        format!("schedule/{name}").into_bytes()
    }
}

struct Entry {
    def: Mutex<ScheduleDef>,
    stopped: AtomicBool,
    invocations: AtomicU64,
    errors: AtomicU64,
    last: Mutex<(Option<DateTime<Utc>>, String)>,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl registry::Entry for Entry {
    type Def = ScheduleDef;
}

/// A schedule as the API shows it (EventBridge's rule words plus Eddy's counters).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleView {
    pub name: String,
    pub arn: String,
    pub function_name: String,
    pub schedule_expression: String,
    pub input: Value,
    /// `ENABLED` or `DISABLED`.
    pub state: &'static str,
    /// RFC 3339.
    pub last_fire_time: Option<String>,
    /// RFC 3339; none while disabled.
    pub next_fire_time: Option<String>,
    pub last_result: String,
    pub metrics: ScheduleMetrics,
}

/// A schedule's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleMetrics {
    pub invocations: u64,
    pub errors: u64,
}

/// Every schedule and its timer.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler").finish_non_exhaustive()
    }
}

struct Inner {
    executor: Executor,
    functions: Arc<FunctionStore>,
    tables: Arc<dyn TableApi>,
    registry: Registry<Entry>,
}

impl Scheduler {
    /// Loads stored schedules and starts their timers.
    pub fn start(
        engine: Engine,
        executor: Executor,
        functions: Arc<FunctionStore>,
        tables: Arc<dyn TableApi>,
    ) -> Result<Scheduler, TriggerError> {
        let s = Scheduler {
            inner: Arc::new(Inner {
                executor,
                functions,
                tables,
                registry: Registry::new(engine, SCHEDULES_MAX),
            }),
        };
        for def in s.inner.registry.load()? {
            s.install(def);
        }
        Ok(s)
    }

    fn install(&self, def: ScheduleDef) -> Arc<Entry> {
        let entry = Arc::new(Entry {
            def: Mutex::new(def.clone()),
            stopped: AtomicBool::new(false),
            invocations: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            last: Mutex::new((None, "No invocations yet".into())),
            worker: Mutex::new(None),
        });
        let (inner, e) = (Arc::clone(&self.inner), Arc::clone(&entry));
        let handle = std::thread::Builder::new()
            .name(format!("eddy-schedule-{}", def.name))
            .spawn(move || timer(&inner, &e));
        let handle = match handle {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::error!(schedule = %def.name, error = %e, "cannot start a schedule's timer thread");
                None
            }
        };
        *lock(&entry.worker) = handle;
        self.inner.registry.insert(def.name, Arc::clone(&entry));
        entry
    }

    /// Creates a schedule (`POST /v1/schedules`).
    pub fn create(&self, r: &ScheduleRequest) -> Result<ScheduleView, TriggerError> {
        let registry = &self.inner.registry;
        let _one_change_at_a_time = registry.change();
        let name = r
            .name
            .clone()
            .ok_or_else(|| TriggerError::invalid("Name", "is required"))?;
        if name.is_empty()
            || name.chars().count() > SCHEDULE_NAME_CHARS_MAX
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return Err(TriggerError::invalid(
                "Name",
                format!("use 1 to {SCHEDULE_NAME_CHARS_MAX} characters of [A-Za-z0-9._-]"),
            ));
        }
        if registry.contains(&name) {
            return Err(TriggerError::Conflict(format!(
                "Schedule already exists: {name}"
            )));
        }
        registry.check_room()?;
        let function_name = r
            .function_name
            .clone()
            .ok_or_else(|| TriggerError::invalid("FunctionName", "is required"))?;
        if self.inner.functions.get(&function_name).is_none() {
            return Err(TriggerError::NotFound(format!(
                "Function not found: {function_name}"
            )));
        }
        let expression = r
            .schedule_expression
            .clone()
            .ok_or_else(|| TriggerError::invalid("ScheduleExpression", "is required"))?;
        parse_cron(&expression)?;
        let input = r.input.clone().unwrap_or_else(|| json!({}));
        if input.to_string().len() > SCHEDULE_PAYLOAD_BYTES_MAX {
            return Err(TriggerError::invalid(
                "Input",
                format!("at most {SCHEDULE_PAYLOAD_BYTES_MAX} bytes"),
            ));
        }
        let def = ScheduleDef {
            name,
            function_name,
            expression,
            input,
            enabled: r.enabled.unwrap_or(true),
            created_ms: now_ms(),
        };
        registry.persist(&def.name, &def)?;
        let entry = self.install(def);
        Ok(self.view(&entry))
    }

    pub fn get(&self, name: &str) -> Result<ScheduleView, TriggerError> {
        let e = self.inner.registry.get(name)?;
        Ok(self.view(&e))
    }

    /// Every schedule, in name order.
    pub fn list(&self) -> Vec<ScheduleView> {
        let all = self.inner.registry.all();
        all.iter().map(|e| self.view(e)).collect()
    }

    /// Enables or disables a schedule, or changes its expression or payload.
    pub fn update(&self, name: &str, r: &ScheduleRequest) -> Result<ScheduleView, TriggerError> {
        let registry = &self.inner.registry;
        let _one_change_at_a_time = registry.change();
        let e = registry.get(name)?;
        let mut def = lock(&e.def).clone();
        if let Some(expr) = &r.schedule_expression {
            parse_cron(expr)?;
            def.expression.clone_from(expr);
        }
        if let Some(f) = &r.function_name {
            if self.inner.functions.get(f).is_none() {
                return Err(TriggerError::NotFound(format!("Function not found: {f}")));
            }
            def.function_name.clone_from(f);
        }
        if let Some(input) = &r.input {
            def.input = input.clone();
        }
        if let Some(enabled) = r.enabled {
            def.enabled = enabled;
        }
        registry.persist(&def.name, &def)?;
        *lock(&e.def) = def;
        Ok(self.view(&e))
    }

    pub fn delete(&self, name: &str) -> Result<ScheduleView, TriggerError> {
        let registry = &self.inner.registry;
        let _one_change_at_a_time = registry.change();
        let e = registry.get(name)?;
        registry.erase(name)?;
        registry.remove(name);
        stop(&e);
        Ok(self.view(&e))
    }

    /// Stops every timer (server shutdown).
    pub fn shutdown(&self) {
        let all = self.inner.registry.all();
        // Every timer is told first, so that the joins below do not add up.
        for e in &all {
            e.stopped.store(true, Ordering::Release);
        }
        for e in all {
            stop(&e);
        }
    }

    fn view(&self, e: &Entry) -> ScheduleView {
        let def = lock(&e.def).clone();
        let (last_fire, last_result) = lock(&e.last).clone();
        let next = parse_cron(&def.expression)
            .ok()
            .and_then(|s| s.upcoming(Utc).next())
            .filter(|_| def.enabled);
        ScheduleView {
            arn: rule_arn(self.inner.registry.engine(), &def.name),
            name: def.name,
            function_name: def.function_name,
            schedule_expression: def.expression,
            input: def.input,
            state: if def.enabled { "ENABLED" } else { "DISABLED" },
            last_fire_time: last_fire.map(fire_time),
            next_fire_time: next.map(fire_time),
            last_result,
            metrics: metrics_of(e),
        }
    }

    /// Every schedule's counters by name, for `/metrics`.
    pub fn metrics(&self) -> Vec<(String, ScheduleMetrics)> {
        self.inner
            .registry
            .all()
            .iter()
            .map(|e| (lock(&e.def).name.clone(), metrics_of(e)))
            .collect()
    }
}

fn metrics_of(e: &Entry) -> ScheduleMetrics {
    ScheduleMetrics {
        invocations: e.invocations.load(Ordering::Relaxed),
        errors: e.errors.load(Ordering::Relaxed),
    }
}

/// The EventBridge rule ARN of schedule `name`.
fn rule_arn(engine: &Engine, name: &str) -> String {
    let config = engine.config();
    format!(
        "arn:aws:events:{}:{}:rule/{name}",
        config.region, config.account_id
    )
}

fn stop(e: &Entry) {
    e.stopped.store(true, Ordering::Release);
    if let Some(h) = lock(&e.worker).take() {
        let _ = h.join();
    }
}

/// The timer of one schedule: sleep until the next fire time, invoke, repeat.
fn timer(inner: &Inner, e: &Entry) {
    let mut after = Utc::now();
    while !e.stopped.load(Ordering::Acquire) {
        let def = lock(&e.def).clone();
        let schedule = match parse_cron(&def.expression) {
            Ok(schedule) => schedule,
            Err(err) => {
                // Expressions are checked when saved, so only a definition changed by
                // hand gets here; its timer stops rather than spin.
                tracing::error!(schedule = %def.name, error = %err, "a schedule's expression does not parse; its timer stops");
                return;
            }
        };
        let Some(next) = schedule.after(&after).next() else {
            return;
        };
        let now = Utc::now();
        if next > now {
            let wait = (next - now).to_std().unwrap_or_default();
            std::thread::sleep(wait.min(Duration::from_millis(CONTROL_CHECK_MS)));
            continue;
        }
        after = next;
        if !def.enabled {
            continue;
        }
        let following = schedule.after(&next).next();
        fire(inner, e, &def, next, following);
    }
}

/// One firing: the event is built and the function invoked. A panic of host code while
/// firing is this firing's error only (counted and shown as the last result); the timer
/// goes on to the next one.
fn fire(
    inner: &Inner,
    e: &Entry,
    def: &ScheduleDef,
    at: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
) {
    e.invocations.fetch_add(1, Ordering::Relaxed);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        fire_once(inner, e, def, at, next)
    }))
    .unwrap_or_else(|panic| {
        let message = eddy_engine::panic_text(panic.as_ref());
        tracing::error!(schedule = %def.name, panic = %message, "a schedule firing panicked");
        Err(format!("the firing failed in the host: {message}"))
    });
    let text = match result {
        Ok(()) => "OK".to_string(),
        Err(err) => {
            e.errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                schedule = %def.name,
                function = %def.function_name,
                error = %err,
                "a schedule firing failed"
            );
            format!("PROBLEM: {err}")
        }
    };
    *lock(&e.last) = (Some(at), text);
}

/// A fire time as the API shows every time: RFC 3339 UTC with milliseconds, from the
/// one renderer (`eddy_engine::clock`).
fn fire_time(t: DateTime<Utc>) -> String {
    rfc3339_ms(u64::try_from(t.timestamp_millis()).unwrap_or(0))
}

/// Invokes the function of a firing. A throttled invocation (refused, or never started
/// before its deadline) is retried with exponential backoff, as Lambda retries a
/// throttled asynchronous invocation, until it runs, the schedule stops, or the next
/// firing is due (`next`), which then takes over.
fn fire_once(
    inner: &Inner,
    e: &Entry,
    def: &ScheduleDef,
    at: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
) -> Result<(), String> {
    let config = inner.registry.engine().config();
    let event = json!({
        "version": "0",
        "id": format!("{:x}-{:x}", at.timestamp_millis(), def.created_ms),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": config.account_id,
        "time": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": config.region,
        "resources": [rule_arn(inner.registry.engine(), &def.name)],
        "detail": def.input,
    })
    .to_string();
    let mut throttles = 0u32;
    loop {
        let Some(f) = inner.functions.get(&def.function_name) else {
            return Err(format!("function {} is not deployed", def.function_name));
        };
        let invocation = inner.executor.invoke(&f, &event, &inner.tables);
        if !invocation.throttled() {
            return invocation.result.map(|_| ()).map_err(|e| e.to_string());
        }
        throttles += 1;
        let backoff = Duration::from_millis(THROTTLE_BACKOFF_MS_MIN)
            .saturating_mul(1 << throttles.min(16))
            .min(Duration::from_millis(THROTTLE_BACKOFF_MS_MAX));
        let reason = invocation
            .result
            .err()
            .map_or_else(String::new, |e| e.to_string());
        let retry_at = Utc::now() + backoff;
        if next.is_some_and(|n| retry_at >= n) || e.stopped.load(Ordering::Acquire) {
            return Err(format!(
                "throttled, not retried before the next firing: {reason}"
            ));
        }
        tracing::warn!(
            schedule = %def.name,
            function = %def.function_name,
            reason = %reason,
            "a schedule firing was throttled; it is retried"
        );
        *lock(&e.last) = (Some(at), format!("PROBLEM: throttled, retrying: {reason}"));
        sleep_unless_stopped(e, backoff);
    }
}

/// Sleeps `d`, waking every [`CONTROL_CHECK_MS`] to see whether the schedule stopped.
fn sleep_unless_stopped(e: &Entry, d: Duration) {
    let end = std::time::Instant::now() + d;
    while !e.stopped.load(Ordering::Acquire) {
        let now = std::time::Instant::now();
        if now >= end {
            return;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(CONTROL_CHECK_MS)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fire_times_render_like_every_other_time() {
        let t = DateTime::<Utc>::from_timestamp_millis(1_714_564_800_123).expect("a time");
        assert_eq!(fire_time(t), "2024-05-01T12:00:00.123Z");
    }

    #[test]
    fn cron_expressions_as_users_write_them() {
        for ok in [
            "*/5 * * * *",
            "0 */5 * * * *",
            "cron(0 12 * * ? *)",
            "0 0 12 * * Mon-Fri",
            "* * * * * *",
        ] {
            assert!(parse_cron(ok).is_ok(), "{ok}");
        }
        for bad in ["", "* * *", "61 * * * *", "cron(nope)"] {
            assert!(parse_cron(bad).is_err(), "{bad}");
        }
        // Five fields fire on the minute.
        let s = parse_cron("* * * * *").unwrap();
        let next = s.upcoming(Utc).next().unwrap();
        assert_eq!(next.timestamp() % 60, 0);
    }
}
