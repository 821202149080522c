//! The deadline test, in its own test binary so that no compilation from other tests
//! competes for the two CI cores while it measures time.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{RecordingTables, guest, stream_event};
use eddy_triggers::{
    Executor, ExecutorConfig, FunctionConfig, FunctionStore, InvokeError, TableApi,
};

/// The promise: a runaway function is stopped within its deadline plus this.
const DEADLINE_SLACK_MS: u64 = 10;
const TIMEOUT_MS: u64 = 300;

#[test]
fn a_runaway_loop_is_stopped_within_its_deadline_while_another_function_keeps_running() {
    let dir = tempfile::tempdir().expect("tempdir");
    let executor = Executor::new(ExecutorConfig {
        instances_max: 4,
        memory_mb_max: 128,
        ..ExecutorConfig::default()
    })
    .expect("executor");
    let store = FunctionStore::open(dir.path(), &executor).expect("open");
    let looping = store
        .deploy(
            "loop",
            &guest("loop_forever"),
            FunctionConfig {
                timeout_ms: TIMEOUT_MS,
                ..FunctionConfig::default()
            },
        )
        .expect("deploy");
    let busy = store
        .deploy("busy", &guest("fail_on"), FunctionConfig::default())
        .expect("deploy");
    let tables: Arc<dyn TableApi> = RecordingTables::new();

    let (invocation, elapsed, others) = std::thread::scope(|scope| {
        let runaway = scope.spawn(|| {
            let started = Instant::now();
            let invocation = executor.invoke(&looping, "{}", &tables);
            (invocation, started.elapsed())
        });
        let mut others = 0u32;
        while !runaway.is_finished() {
            let invocation = executor.invoke(&busy, &stream_event(10, &[4]), &tables);
            assert!(invocation.result.is_ok(), "{:?}", invocation.result);
            others += 1;
        }
        let (invocation, elapsed) = runaway.join().expect("no panic");
        (invocation, elapsed, others)
    });

    assert_eq!(
        invocation.result,
        Err(InvokeError::Timeout {
            timeout_ms: TIMEOUT_MS
        })
    );
    let limit = Duration::from_millis(TIMEOUT_MS + DEADLINE_SLACK_MS);
    assert!(
        invocation.duration >= Duration::from_millis(TIMEOUT_MS),
        "{:?}",
        invocation.duration
    );
    assert!(
        invocation.duration <= limit,
        "{:?} > {limit:?}",
        invocation.duration
    );
    assert!(
        elapsed <= limit,
        "invoke returned after {elapsed:?} > {limit:?}"
    );
    assert!(
        others >= 10,
        "only {others} other invocations ran meanwhile"
    );
    assert!(
        invocation
            .logs
            .iter()
            .any(|l| l.message == "looping forever")
    );
    println!(
        "runaway stopped after {:?} (invoke returned after {elapsed:?}); {others} other \
         invocations meanwhile",
        invocation.duration
    );
}
