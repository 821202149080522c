//! Schedules with the real executor and a real guest: a cron expression fires the
//! function with an EventBridge scheduled event, survives a restart of the scheduler,
//! and can be disabled.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{RecordingTables, guest};
use eddy_engine::{Engine, EngineConfig};
use eddy_triggers::TriggerError;
use eddy_triggers::schedule::{SCHEDULES_MAX, ScheduleRequest, Scheduler};
use eddy_triggers::{Executor, ExecutorConfig, FunctionConfig, FunctionStore, TableApi};
use serde_json::json;

fn invocations(s: &Scheduler, name: &str) -> u64 {
    s.get(name).unwrap().metrics.invocations
}

#[test]
fn a_schedule_fires_every_second_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(dir.path().join("data"));
    config.in_memory = true;
    let engine = Engine::open(config).unwrap();
    let executor = Executor::new(ExecutorConfig {
        instances_max: 4,
        memory_mb_max: 128,
        ..ExecutorConfig::default()
    })
    .unwrap();
    let functions = Arc::new(FunctionStore::open(dir.path().join("functions"), &executor).unwrap());
    functions
        .deploy("tick", &guest("noop"), FunctionConfig::default())
        .unwrap();
    let tables: Arc<dyn TableApi> = RecordingTables::new();
    let start = || {
        Scheduler::start(
            engine.clone(),
            executor.clone(),
            Arc::clone(&functions),
            Arc::clone(&tables),
        )
        .unwrap()
    };
    let s = start();
    let req: ScheduleRequest = serde_json::from_value(json!({
        "Name": "every-second",
        "FunctionName": "tick",
        "ScheduleExpression": "* * * * * *",
        "Input": {"job": "cleanup"},
    }))
    .unwrap();
    let view = json!(s.create(&req).unwrap());
    assert_eq!(view["State"], "ENABLED");
    assert!(
        s.create(&req).is_err(),
        "a second schedule of the same name is refused"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while invocations(&s, "every-second") < 2 {
        assert!(Instant::now() < deadline, "the schedule did not fire twice");
        std::thread::sleep(Duration::from_millis(50));
    }
    let v = json!(s.get("every-second").unwrap());
    assert_eq!(v["Metrics"]["Errors"], 0, "{v}");
    assert_eq!(v["LastResult"], "OK");
    s.shutdown();

    // A new scheduler over the same store runs the stored schedule.
    let s = start();
    let before = invocations(&s, "every-second");
    let deadline = Instant::now() + Duration::from_secs(10);
    while invocations(&s, "every-second") <= before {
        assert!(
            Instant::now() < deadline,
            "the schedule did not fire after the restart"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let off: ScheduleRequest = serde_json::from_value(json!({"Enabled": false})).unwrap();
    assert_eq!(s.update("every-second", &off).unwrap().state, "DISABLED");
    for (bad, field) in [
        (
            json!({"Name": "x", "FunctionName": "tick", "ScheduleExpression": "* *"}),
            "ScheduleExpression",
        ),
        (
            json!({"Name": "bad name!", "FunctionName": "tick", "ScheduleExpression": "* * * * *"}),
            "Name",
        ),
    ] {
        let r: ScheduleRequest = serde_json::from_value(bad).unwrap();
        let err = s.create(&r).unwrap_err().to_string();
        assert!(err.starts_with(field), "{err}");
    }
    s.delete("every-second").unwrap();
    assert!(s.get("every-second").is_err());
    s.shutdown();
}

#[test]
fn schedules_beyond_the_quota_are_refused_until_one_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(dir.path().join("data"));
    config.in_memory = true;
    let engine = Engine::open(config).unwrap();
    let executor = Executor::new(ExecutorConfig::default()).unwrap();
    let functions = Arc::new(FunctionStore::open(dir.path().join("functions"), &executor).unwrap());
    functions
        .deploy("tick", &guest("noop"), FunctionConfig::default())
        .unwrap();
    let tables: Arc<dyn TableApi> = RecordingTables::new();
    let s = Scheduler::start(engine, executor, functions, tables).unwrap();
    let request = |name: &str| -> ScheduleRequest {
        serde_json::from_value(json!({
            "Name": name,
            "FunctionName": "tick",
            "ScheduleExpression": "0 0 1 1 *",
            "Enabled": false,
        }))
        .unwrap()
    };
    for i in 0..SCHEDULES_MAX {
        s.create(&request(&format!("s{i}"))).unwrap();
    }
    match s.create(&request("one-more")) {
        Err(TriggerError::LimitExceeded(message)) => {
            assert!(message.contains(&SCHEDULES_MAX.to_string()), "{message}")
        }
        other => panic!("expected the quota error: {other:?}"),
    }
    assert_eq!(s.list().len(), SCHEDULES_MAX);
    s.delete("s0").unwrap();
    s.create(&request("one-more")).expect("room for one again");
    s.shutdown();
}
