//! The schedule trigger: runs a function on a cron expression with a fixed payload, as
//! an EventBridge scheduled event. Schedules are stored durably (the engine's `system`
//! keyspace) and restart with the server; a fire missed while the server was down is
//! not replayed (EventBridge does not replay either), the next one comes on time.
//!
//! Owns schedule definitions, their timer threads and their counters; knows nothing of
//! HTTP.

use eddy_engine::clock::now_ms;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use eddy_engine::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::executor::{Executor, FunctionStore, TableApi};

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

/// Why a schedule request cannot be carried out; `Invalid` names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A quota ([`SCHEDULES_MAX`]) would be exceeded.
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    Storage(String),
}

fn invalid(field: &'static str, message: impl Into<String>) -> ScheduleError {
    ScheduleError::Invalid {
        field,
        message: message.into(),
    }
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
pub fn parse_cron(expression: &str) -> Result<cron::Schedule, ScheduleError> {
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
            return Err(invalid(
                "ScheduleExpression",
                format!(
                    "a cron expression has 5 fields (or 6–7 with seconds and year); got {fields}: {expression:?}"
                ),
            ));
        }
    };
    full.parse::<cron::Schedule>().map_err(|e| {
        invalid(
            "ScheduleExpression",
            format!("{expression:?} is not a cron expression: {e}"),
        )
    })
}

struct Entry {
    def: Mutex<ScheduleDef>,
    stopped: AtomicBool,
    invocations: AtomicU64,
    errors: AtomicU64,
    last: Mutex<(Option<DateTime<Utc>>, String)>,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
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
    engine: Engine,
    executor: Executor,
    functions: Arc<FunctionStore>,
    tables: Arc<dyn TableApi>,
    entries: Mutex<BTreeMap<String, Arc<Entry>>>,
    /// Serializes changes (create, update, delete), so that a name check or the count
    /// check and the change that relies on it are one step.
    control: Mutex<()>,
}

fn key(name: &str) -> Vec<u8> {
    format!("schedule/{name}").into_bytes()
}

impl Scheduler {
    /// Loads stored schedules and starts their timers.
    pub fn start(
        engine: Engine,
        executor: Executor,
        functions: Arc<FunctionStore>,
        tables: Arc<dyn TableApi>,
    ) -> Result<Scheduler, ScheduleError> {
        let s = Scheduler {
            inner: Arc::new(Inner {
                engine,
                executor,
                functions,
                tables,
                entries: Mutex::new(BTreeMap::new()),
                control: Mutex::new(()),
            }),
        };
        let stored = s
            .inner
            .engine
            .system_scan(b"schedule/")
            .map_err(|e| ScheduleError::Storage(e.to_string()))?;
        for (_, v) in stored {
            let def: ScheduleDef = serde_json::from_slice(&v)
                .map_err(|e| ScheduleError::Storage(format!("corrupt schedule: {e}")))?;
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
            .spawn(move || timer(&inner, &e))
            .ok();
        *entry.worker.lock().unwrap_or_else(|e| e.into_inner()) = handle;
        self.inner
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(def.name, Arc::clone(&entry));
        entry
    }

    fn persist(&self, def: &ScheduleDef) -> Result<(), ScheduleError> {
        let bytes = serde_json::to_vec(def).map_err(|e| ScheduleError::Storage(e.to_string()))?;
        self.inner
            .engine
            .system_put(&key(&def.name), &bytes)
            .map_err(|e| ScheduleError::Storage(e.to_string()))
    }

    /// Creates a schedule (`POST /v1/schedules`).
    pub fn create(&self, r: &ScheduleRequest) -> Result<Value, ScheduleError> {
        let _one_change_at_a_time = self.inner.control.lock().unwrap_or_else(|e| e.into_inner());
        let name = r
            .name
            .clone()
            .ok_or_else(|| invalid("Name", "is required"))?;
        if name.is_empty()
            || name.chars().count() > SCHEDULE_NAME_CHARS_MAX
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return Err(invalid(
                "Name",
                format!("use 1 to {SCHEDULE_NAME_CHARS_MAX} characters of [A-Za-z0-9._-]"),
            ));
        }
        if self.entry(&name).is_ok() {
            return Err(ScheduleError::Conflict(format!(
                "Schedule already exists: {name}"
            )));
        }
        let count = self
            .inner
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len();
        if count >= SCHEDULES_MAX {
            return Err(ScheduleError::LimitExceeded(format!(
                "{count} schedules exist, the most this server keeps ({SCHEDULES_MAX}): delete \
                 one before creating another"
            )));
        }
        let function_name = r
            .function_name
            .clone()
            .ok_or_else(|| invalid("FunctionName", "is required"))?;
        if self.inner.functions.get(&function_name).is_none() {
            return Err(ScheduleError::NotFound(format!(
                "Function not found: {function_name}"
            )));
        }
        let expression = r
            .schedule_expression
            .clone()
            .ok_or_else(|| invalid("ScheduleExpression", "is required"))?;
        parse_cron(&expression)?;
        let input = r.input.clone().unwrap_or_else(|| json!({}));
        if input.to_string().len() > SCHEDULE_PAYLOAD_BYTES_MAX {
            return Err(invalid(
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
        self.persist(&def)?;
        let entry = self.install(def);
        Ok(self.view(&entry))
    }

    fn entry(&self, name: &str) -> Result<Arc<Entry>, ScheduleError> {
        self.inner
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(|| ScheduleError::NotFound(format!("Schedule not found: {name}")))
    }

    pub fn get(&self, name: &str) -> Result<Value, ScheduleError> {
        let e = self.entry(name)?;
        Ok(self.view(&e))
    }

    pub fn list(&self) -> Vec<Value> {
        let all: Vec<Arc<Entry>> = self
            .inner
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        all.iter().map(|e| self.view(e)).collect()
    }

    /// Enables or disables a schedule, or changes its expression or payload.
    pub fn update(&self, name: &str, r: &ScheduleRequest) -> Result<Value, ScheduleError> {
        let _one_change_at_a_time = self.inner.control.lock().unwrap_or_else(|e| e.into_inner());
        let e = self.entry(name)?;
        let mut def = e.def.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(expr) = &r.schedule_expression {
            parse_cron(expr)?;
            def.expression.clone_from(expr);
        }
        if let Some(f) = &r.function_name {
            if self.inner.functions.get(f).is_none() {
                return Err(ScheduleError::NotFound(format!("Function not found: {f}")));
            }
            def.function_name.clone_from(f);
        }
        if let Some(input) = &r.input {
            def.input = input.clone();
        }
        if let Some(enabled) = r.enabled {
            def.enabled = enabled;
        }
        self.persist(&def)?;
        *e.def.lock().unwrap_or_else(|e| e.into_inner()) = def;
        Ok(self.view(&e))
    }

    pub fn delete(&self, name: &str) -> Result<Value, ScheduleError> {
        let _one_change_at_a_time = self.inner.control.lock().unwrap_or_else(|e| e.into_inner());
        let e = self.entry(name)?;
        self.inner
            .engine
            .system_delete(&key(name))
            .map_err(|e| ScheduleError::Storage(e.to_string()))?;
        self.inner
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        stop(&e);
        Ok(self.view(&e))
    }

    /// Stops every timer (server shutdown).
    pub fn shutdown(&self) {
        let all: Vec<Arc<Entry>> = self
            .inner
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        // Every timer is told first, so that the joins below do not add up.
        for e in &all {
            e.stopped.store(true, Ordering::Release);
        }
        for e in all {
            stop(&e);
        }
    }

    fn view(&self, e: &Entry) -> Value {
        let def = e.def.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let (last_fire, last_result) = e.last.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let next = parse_cron(&def.expression)
            .ok()
            .and_then(|s| s.upcoming(Utc).next())
            .filter(|_| def.enabled);
        json!({
            "Name": def.name,
            "Arn": format!("arn:aws:events:{}:{}:rule/{}", self.inner.engine.config().region, self.inner.engine.config().account_id, def.name),
            "FunctionName": def.function_name,
            "ScheduleExpression": def.expression,
            "Input": def.input,
            "State": if def.enabled { "ENABLED" } else { "DISABLED" },
            "LastFireTime": last_fire.map(|t| t.to_rfc3339()),
            "NextFireTime": next.map(|t| t.to_rfc3339()),
            "LastResult": last_result,
            "Metrics": {
                "Invocations": e.invocations.load(Ordering::Relaxed),
                "Errors": e.errors.load(Ordering::Relaxed),
            },
        })
    }

    /// Counters in Prometheus' text format.
    pub fn metrics_text(&self) -> String {
        let all: Vec<Arc<Entry>> = self
            .inner
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        let mut out = String::from("# TYPE eddy_schedule_invocations_total counter\n");
        for e in &all {
            let name = e.def.lock().unwrap_or_else(|e| e.into_inner()).name.clone();
            out.push_str(&format!(
                "eddy_schedule_invocations_total{{schedule=\"{name}\"}} {}\n",
                e.invocations.load(Ordering::Relaxed)
            ));
        }
        out.push_str("# TYPE eddy_schedule_errors_total counter\n");
        for e in &all {
            let name = e.def.lock().unwrap_or_else(|e| e.into_inner()).name.clone();
            out.push_str(&format!(
                "eddy_schedule_errors_total{{schedule=\"{name}\"}} {}\n",
                e.errors.load(Ordering::Relaxed)
            ));
        }
        out
    }
}

fn stop(e: &Entry) {
    e.stopped.store(true, Ordering::Release);
    if let Some(h) = e.worker.lock().unwrap_or_else(|e| e.into_inner()).take() {
        let _ = h.join();
    }
}

/// The timer of one schedule: sleep until the next fire time, invoke, repeat.
fn timer(inner: &Inner, e: &Entry) {
    let mut after = Utc::now();
    while !e.stopped.load(Ordering::Acquire) {
        let def = e.def.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Ok(schedule) = parse_cron(&def.expression) else {
            return;
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
            format!("PROBLEM: {err}")
        }
    };
    *e.last.lock().unwrap_or_else(|e| e.into_inner()) = (Some(at), text);
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
    let config = inner.engine.config();
    let event = json!({
        "version": "0",
        "id": format!("{:x}-{:x}", at.timestamp_millis(), def.created_ms),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": config.account_id,
        "time": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": config.region,
        "resources": [format!("arn:aws:events:{}:{}:rule/{}", config.region, config.account_id, def.name)],
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
        *e.last.lock().unwrap_or_else(|e| e.into_inner()) =
            (Some(at), format!("PROBLEM: throttled, retrying: {reason}"));
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
