//! Integration tests of the executor and the function store with the real test guests
//! (`functions/test-guests/`, built for `wasm32-wasip2` by `tests/run.sh`).

mod common;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::{RecordingTables, guest, sequence_number, stream_event};
use eddy_triggers::{
    DeployError, Executor, ExecutorConfig, FUNCTIONS_MAX, FunctionConfig, FunctionStore,
    InvokeError, LogLevel, Origin, TableApi, TableCall, TableCallError,
};
use serde_json::Value;

/// One executor for the tests that do not count compilations, as in the server.
fn executor() -> &'static Executor {
    static EXECUTOR: OnceLock<Executor> = OnceLock::new();
    EXECUTOR.get_or_init(|| {
        Executor::new(ExecutorConfig {
            instances_max: 16,
            memory_mb_max: 128,
            ..ExecutorConfig::default()
        })
        .expect("executor")
    })
}

fn store() -> (tempfile::TempDir, FunctionStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FunctionStore::open(dir.path().join("functions"), executor()).expect("open");
    (dir, store)
}

fn config(tables: &[&str], environment: &[(&str, &str)]) -> FunctionConfig {
    FunctionConfig {
        tables: tables.iter().map(|t| (*t).to_owned()).collect(),
        environment: environment
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..FunctionConfig::default()
    }
}

fn as_tables(tables: &Arc<RecordingTables>) -> Arc<dyn TableApi> {
    tables.clone()
}

#[test]
fn deploy_rejects_what_is_not_a_function_and_says_why() {
    let (_dir, store) = store();
    let cfg = FunctionConfig::default;

    let err = store.deploy("f", b"hello, world", cfg()).unwrap_err();
    assert!(matches!(err, DeployError::NotWasm), "{err:?}");
    assert!(
        err.to_string().contains("not a WebAssembly binary"),
        "{err}"
    );

    let core_module = b"\0asm\x01\0\0\0";
    let err = store.deploy("f", core_module, cfg()).unwrap_err();
    assert!(matches!(err, DeployError::CoreModule), "{err:?}");
    assert!(err.to_string().contains("core WebAssembly module"), "{err}");
    assert!(err.to_string().contains("wasm32-wasip2"), "{err}");

    let err = store.deploy("f", &guest("wrong-world"), cfg()).unwrap_err();
    assert!(matches!(err, DeployError::WrongWorld { .. }), "{err:?}");
    assert!(err.to_string().contains("wrong world"), "{err}");
    assert!(err.to_string().contains("handle"), "{err}");

    let truncated = &guest("noop")[..200];
    let err = store.deploy("f", truncated, cfg()).unwrap_err();
    assert!(
        matches!(err, DeployError::InvalidComponent { .. }),
        "{err:?}"
    );

    let err = store.deploy("no/slash", &guest("noop"), cfg()).unwrap_err();
    assert!(matches!(err, DeployError::InvalidName { .. }), "{err:?}");
    let too_big = FunctionConfig {
        memory_mb: 129,
        ..cfg()
    };
    let err = store.deploy("f", &guest("noop"), too_big).unwrap_err();
    assert!(
        matches!(
            err,
            DeployError::InvalidConfig {
                field: "memory_mb",
                ..
            }
        ),
        "{err:?}"
    );

    assert!(store.get("f").is_none());
    assert!(store.list().is_empty());
}

#[test]
fn recorder_sees_a_lambda_event_and_writes_through_the_dynamodb_capability() {
    let (_dir, store) = store();
    let function = store
        .deploy(
            "recorder",
            &guest("recorder"),
            config(&["seen"], &[("table", "seen")]),
        )
        .expect("deploy");
    let tables = RecordingTables::new();

    let invocation = executor().invoke(&function, &stream_event(3, &[]), &as_tables(&tables));

    let response: Value = serde_json::from_str(invocation.result.as_ref().expect("ok")).unwrap();
    assert_eq!(response, serde_json::json!({ "batchItemFailures": [] }));
    let calls = tables.calls();
    let ops: Vec<&str> = calls.iter().map(|(op, _)| op.as_str()).collect();
    assert_eq!(
        ops,
        [
            "PutItem", "GetItem", "PutItem", "GetItem", "PutItem", "GetItem"
        ]
    );
    for (i, (_, put)) in calls.iter().step_by(2).enumerate() {
        assert_eq!(put["TableName"], "seen");
        assert_eq!(put["Item"]["id"]["S"], format!("event-{i}"));
        assert_eq!(put["Item"]["eventName"]["S"], "INSERT");
        assert_eq!(put["Item"]["sequenceNumber"]["S"], sequence_number(i));
        assert_eq!(put["Item"]["keys"]["M"]["id"]["S"], format!("u{i}"));
        assert_eq!(put["Item"]["newImage"]["M"]["n"]["N"], i.to_string());
    }

    let batch = invocation
        .logs
        .iter()
        .find(|l| l.message == "batch received")
        .expect("structured log line");
    assert_eq!(batch.level, LogLevel::Info);
    assert!(
        batch
            .fields
            .contains(&("records".to_owned(), "3".to_owned()))
    );
    assert!(
        batch
            .fields
            .contains(&("table".to_owned(), "seen".to_owned()))
    );
    let stdout = invocation
        .logs
        .iter()
        .find(|l| l.fields == [("stream".to_owned(), "stdout".to_owned())])
        .expect("captured stdout");
    assert_eq!(stdout.message, "recorder: 3 records into seen");
    assert_eq!(
        function.logs(),
        invocation.logs,
        "kept in the function's ring"
    );
    assert!(invocation.logs.iter().all(|l| l.version == 1));
}

#[test]
fn requests_for_tables_not_granted_never_reach_the_table_api() {
    let (_dir, store) = store();
    let function = store
        .deploy(
            "snoop",
            &guest("recorder"),
            config(&["seen"], &[("table", "secret")]),
        )
        .expect("deploy");
    let tables = RecordingTables::new();

    let invocation = executor().invoke(&function, &stream_event(1, &[]), &as_tables(&tables));

    match &invocation.result {
        Err(InvokeError::FunctionError { message }) => {
            assert!(message.contains("AccessDeniedException"), "{message}");
            assert!(message.contains("table/secret"), "{message}");
        }
        other => panic!("expected a function error, got {other:?}"),
    }
    assert!(tables.calls().is_empty());
}

#[test]
fn fail_on_reports_batch_item_failures_and_function_errors() {
    let (_dir, store) = store();
    let function = store
        .deploy("fail-on", &guest("fail_on"), FunctionConfig::default())
        .expect("deploy");
    let tables: Arc<dyn TableApi> = RecordingTables::new();

    let invocation = executor().invoke(&function, &stream_event(5, &[1, 3]), &tables);
    let response: Value = serde_json::from_str(&invocation.result.expect("ok")).unwrap();
    assert_eq!(
        response,
        serde_json::json!({ "batchItemFailures": [
            { "itemIdentifier": sequence_number(1) },
            { "itemIdentifier": sequence_number(3) },
        ]})
    );
    assert_eq!(
        invocation
            .logs
            .iter()
            .filter(|l| l.level == LogLevel::Warn)
            .count(),
        2
    );

    let erroring = store
        .deploy(
            "fail-on",
            &guest("fail_on"),
            config(&[], &[("mode", "error")]),
        )
        .expect("redeploy");
    assert_eq!(erroring.version(), 2);
    let invocation = executor().invoke(&erroring, &stream_event(1, &[]), &tables);
    assert_eq!(
        invocation.result,
        Err(InvokeError::FunctionError {
            message: "fail-on: mode=error".to_owned()
        })
    );
    // The old version still runs with its own configuration.
    assert!(
        executor()
            .invoke(&function, &stream_event(1, &[]), &tables)
            .result
            .is_ok()
    );
}

#[test]
fn a_memory_hog_is_contained_as_out_of_memory() {
    let (_dir, store) = store();
    let cfg = FunctionConfig {
        memory_mb: 16,
        ..FunctionConfig::default()
    };
    let hog = store
        .deploy("hog", &guest("alloc_unbounded"), cfg)
        .expect("deploy");
    let tables: Arc<dyn TableApi> = RecordingTables::new();

    let invocation = executor().invoke(&hog, "{}", &tables);

    assert_eq!(
        invocation.result,
        Err(InvokeError::OutOfMemory { memory_mb: 16 })
    );
    assert!(
        invocation
            .logs
            .iter()
            .any(|l| l.message == "allocating without bound")
    );
    // The host and other functions are unaffected; the hog itself starts fresh.
    let noop = store
        .deploy("noop", &guest("noop"), FunctionConfig::default())
        .expect("deploy");
    assert!(
        executor()
            .invoke(&noop, &stream_event(2, &[]), &tables)
            .result
            .is_ok()
    );
    assert!(matches!(
        executor().invoke(&hog, "{}", &tables).result,
        Err(InvokeError::OutOfMemory { .. })
    ));
    // A limit below what the component needs to start is reported the same way.
    let tiny = FunctionConfig {
        memory_mb: 1,
        ..FunctionConfig::default()
    };
    let cramped = store
        .deploy("cramped", &guest("noop"), tiny)
        .expect("deploy");
    assert_eq!(
        executor().invoke(&cramped, "{}", &tables).result,
        Err(InvokeError::OutOfMemory { memory_mb: 1 })
    );
}

#[test]
fn a_trap_is_reported_with_the_panic_message() {
    let (_dir, store) = store();
    let function = store
        .deploy("trap", &guest("trap"), FunctionConfig::default())
        .expect("deploy");
    let tables: Arc<dyn TableApi> = RecordingTables::new();

    let invocation = executor().invoke(&function, "{}", &tables);

    match &invocation.result {
        Err(InvokeError::Trap { message }) => {
            assert!(message.contains("unreachable"), "{message}");
            assert!(message.contains("deliberate panic"), "{message}");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert!(
        invocation
            .logs
            .iter()
            .any(|l| l.message == "about to panic")
    );
    assert!(
        invocation
            .logs
            .iter()
            .any(|l| l.level == LogLevel::Error && l.message.contains("deliberate panic"))
    );
    // Each invocation is a fresh instance: it traps the same way again, no worse.
    assert!(matches!(
        executor().invoke(&function, "{}", &tables).result,
        Err(InvokeError::Trap { .. })
    ));
}

#[test]
fn a_restart_loads_the_cached_compiled_component_and_versions_increase() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("functions");
    // A private executor so that the compilation counter is this test's alone.
    let executor = Executor::new(ExecutorConfig {
        instances_max: 2,
        memory_mb_max: 128,
        ..ExecutorConfig::default()
    })
    .expect("executor");
    let tables: Arc<dyn TableApi> = RecordingTables::new();
    let cfg = FunctionConfig {
        memory_mb: 32,
        timeout_ms: 1_500,
        hosts: ["api.example.com".to_owned()].into(),
        ..config(&["seen"], &[("mode", "ok")])
    };
    {
        let store = FunctionStore::open(&path, &executor).expect("open");
        let v1 = store.deploy("f", &guest("fail_on"), cfg.clone()).unwrap();
        let v2 = store.deploy("f", &guest("fail_on"), cfg.clone()).unwrap();
        store
            .deploy("g", &guest("noop"), FunctionConfig::default())
            .unwrap();
        assert_eq!((v1.version(), v2.version()), (1, 2));
        assert_eq!(store.get("f").unwrap().version(), 2);
        assert_eq!(v2.origin(), Origin::Compiled);
        assert_eq!(executor.compilations(), 3);
    }

    let store = FunctionStore::open(&path, &executor).expect("reopen");
    assert_eq!(executor.compilations(), 3, "nothing recompiled on restart");
    let names: Vec<(String, u32)> = store
        .list()
        .iter()
        .map(|f| (f.name().to_owned(), f.version()))
        .collect();
    assert_eq!(names, [("f".to_owned(), 2), ("g".to_owned(), 1)]);
    let f = store.get("f").unwrap();
    assert_eq!(f.origin(), Origin::Cached);
    assert_eq!(f.config(), &cfg);
    let invocation = executor.invoke(&f, &stream_event(3, &[2]), &tables);
    assert!(invocation.result.unwrap().contains(&sequence_number(2)));

    let v3 = store.deploy("f", &guest("fail_on"), cfg.clone()).unwrap();
    assert_eq!(v3.version(), 3);

    // A cache that does not load (another engine build, a torn file) is rebuilt.
    std::fs::write(path.join("f/v3.cwasm"), b"not a compiled component").unwrap();
    drop(store);
    let store = FunctionStore::open(&path, &executor).expect("reopen");
    assert_eq!(store.get("f").unwrap().origin(), Origin::Compiled);
    assert_eq!(executor.compilations(), 5);
    drop(store);
    let store = FunctionStore::open(&path, &executor).expect("reopen");
    assert_eq!(store.get("f").unwrap().origin(), Origin::Cached);

    assert!(store.delete("f").unwrap());
    assert!(!store.delete("f").unwrap());
    assert!(store.get("f").is_none());
    drop(store);
    let store = FunctionStore::open(&path, &executor).expect("reopen");
    assert!(store.get("f").is_none());
    assert_eq!(store.list().len(), 1);
    let again = store
        .deploy("f", &guest("noop"), FunctionConfig::default())
        .unwrap();
    assert_eq!(again.version(), 1, "a deleted function starts over");
}

#[test]
fn old_versions_beyond_the_kept_count_are_pruned_from_disk() {
    let (dir, store) = store();
    let wasm = guest("noop");
    for _ in 0..7 {
        store.deploy("p", &wasm, FunctionConfig::default()).unwrap();
    }
    let mut files: Vec<String> = std::fs::read_dir(dir.path().join("functions/p"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["v3.json", "v4.json", "v5.json", "v6.json", "v7.json"]
    );
}

/// A table capability with a bug: every call panics.
struct PanickingTables;

impl TableApi for PanickingTables {
    fn call(&self, _call: TableCall<'_>) -> Result<String, TableCallError> {
        panic!("the table capability broke");
    }
}

#[test]
fn a_panic_in_host_code_is_that_invocations_error_and_its_slot_comes_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    // One slot: the next invocation runs only if the panicking one gave it back.
    let executor = Executor::new(ExecutorConfig {
        instances_max: 1,
        memory_mb_max: 128,
        ..ExecutorConfig::default()
    })
    .expect("executor");
    let store = FunctionStore::open(dir.path(), &executor).expect("open");
    let recorder = store
        .deploy(
            "recorder",
            &guest("recorder"),
            config(&["seen"], &[("table", "seen")]),
        )
        .expect("deploy");
    let broken: Arc<dyn TableApi> = Arc::new(PanickingTables);
    let invocation = executor.invoke(&recorder, &stream_event(2, &[]), &broken);
    match &invocation.result {
        Err(InvokeError::Host { message }) => {
            assert!(message.contains("the table capability broke"), "{message}")
        }
        other => panic!("expected the host failure: {other:?}"),
    }
    assert!(invocation.started);
    assert!(
        invocation
            .logs
            .iter()
            .any(|l| l.message == "batch received"),
        "what it logged before the panic is kept: {:?}",
        invocation.logs
    );

    let tables = RecordingTables::new();
    let invocation = executor.invoke(&recorder, &stream_event(2, &[]), &as_tables(&tables));
    assert!(invocation.result.is_ok(), "{:?}", invocation.result);
    assert_eq!(tables.calls().len(), 4, "a put and a get per record");
}

#[test]
fn a_full_queue_refuses_at_once_and_time_waiting_for_a_slot_counts_against_the_deadline() {
    /// The runaway that holds the only slot.
    const HOLDER_TIMEOUT_MS: u64 = 3_000;
    /// The one that waits behind it: its deadline passes long before the slot frees.
    const WAITER_TIMEOUT_MS: u64 = 300;
    let dir = tempfile::tempdir().expect("tempdir");
    let executor = Executor::new(ExecutorConfig {
        instances_max: 1,
        memory_mb_max: 128,
        queue_depth_max: 1,
        ..ExecutorConfig::default()
    })
    .expect("executor");
    let store = FunctionStore::open(dir.path(), &executor).expect("open");
    let deploy = |name: &str, timeout_ms: u64| {
        store
            .deploy(
                name,
                &guest("loop_forever"),
                FunctionConfig {
                    timeout_ms,
                    ..FunctionConfig::default()
                },
            )
            .expect("deploy")
    };
    let holder = deploy("holder", HOLDER_TIMEOUT_MS);
    let waiter = deploy("waiter", WAITER_TIMEOUT_MS);
    let tables: Arc<dyn TableApi> = RecordingTables::new();

    let holding = executor.admit(&holder).expect("the free slot");
    let waiting = executor.admit(&waiter).expect("the place in the queue");
    assert_eq!(executor.queued(), 1);
    let refused = executor.admit(&waiter).expect_err("the queue is full");
    assert_eq!(
        refused,
        InvokeError::Throttled {
            instances_max: 1,
            queue_depth_max: 1
        }
    );
    let throttled = executor.invoke(&waiter, "{}", &tables);
    assert!(throttled.throttled(), "{:?}", throttled.result);
    assert!(matches!(
        throttled.result,
        Err(InvokeError::Throttled { .. })
    ));

    let asked = Instant::now();
    let (held, waited, waited_for) = std::thread::scope(|scope| {
        let held = scope.spawn(|| holding.run(&holder, "{}", &tables));
        let waited = scope.spawn(|| {
            let invocation = waiting.run(&waiter, "{}", &tables);
            (invocation, asked.elapsed())
        });
        let (waited, waited_for) = waited.join().expect("no panic");
        (held.join().expect("no panic"), waited, waited_for)
    });
    assert_eq!(
        waited.result,
        Err(InvokeError::Timeout {
            timeout_ms: WAITER_TIMEOUT_MS
        })
    );
    assert!(!waited.started, "it never got the slot");
    assert!(waited.queued >= Duration::from_millis(WAITER_TIMEOUT_MS));
    // Its deadline counted from when it was asked for: it ended long before the holder
    // gave the slot back (a generous margin, not a speed claim).
    assert!(
        waited_for < Duration::from_millis(HOLDER_TIMEOUT_MS / 2),
        "the waiter ended after {waited_for:?}"
    );
    assert_eq!(
        held.result,
        Err(InvokeError::Timeout {
            timeout_ms: HOLDER_TIMEOUT_MS
        })
    );
    assert!(held.started);
    assert_eq!(executor.queued(), 0, "the waiter left the queue");
    let again = executor.admit(&waiter).expect("the slot is free again");
    drop(again);
}

#[test]
fn a_new_function_beyond_the_quota_is_refused_but_redeploying_one_is_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("functions");
    {
        let store = FunctionStore::open(&path, executor()).expect("open");
        store
            .deploy("f0", &guest("noop"), FunctionConfig::default())
            .expect("deploy");
    }
    // The store fills up from disk: copies of f0 under other names, loaded from the
    // compiled cache rather than compiled FUNCTIONS_MAX times.
    for i in 1..FUNCTIONS_MAX {
        let name = format!("f{i}");
        let to = path.join(&name);
        std::fs::create_dir(&to).expect("mkdir");
        for file in ["v1.wasm", "v1.cwasm"] {
            std::fs::copy(path.join("f0").join(file), to.join(file)).expect("copy");
        }
        let mut manifest: Value =
            serde_json::from_slice(&std::fs::read(path.join("f0/v1.json")).expect("read"))
                .expect("manifest");
        manifest["name"] = Value::String(name);
        std::fs::write(to.join("v1.json"), manifest.to_string()).expect("write");
    }
    let store = FunctionStore::open(&path, executor()).expect("reopen");
    assert_eq!(store.list().len(), FUNCTIONS_MAX);
    let err = store
        .deploy("one-more", &guest("noop"), FunctionConfig::default())
        .expect_err("over the quota");
    assert!(
        matches!(err, DeployError::TooManyFunctions { deployed } if deployed == FUNCTIONS_MAX),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&FUNCTIONS_MAX.to_string()),
        "{err}"
    );
    let redeployed = store
        .deploy("f7", &guest("noop"), FunctionConfig::default())
        .expect("a redeploy is no new function");
    assert_eq!(redeployed.version(), 2);
    assert!(store.delete("f7").expect("delete"));
    store
        .deploy("one-more", &guest("noop"), FunctionConfig::default())
        .expect("room for one again");
}
