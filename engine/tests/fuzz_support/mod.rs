//! What the fuzz targets share (the engine's `fuzz_expr.rs` and `fuzz_write.rs`, and
//! the root package's `tests/fuzz/main.rs`, which includes this file by path): a
//! proptest runner that prints its seed and the number of cases it ran, a panic counter
//! that sees panics on every thread (a writer thread's too, which no test body can
//! catch), the extreme sizes and numbers DynamoDB's limits sit between, and a generator
//! of expressions from DynamoDB's grammar, mutated.
//!
//! `EDDY_FUZZ_CASES=N` sets the number of cases of every target (a long run);
//! `EDDY_FUZZ_SEED=N` replays a run.

#![allow(
    dead_code,
    reason = "each fuzz target uses a different part of this module"
)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// Stack of the thread that generates the cases: proptest builds a value tree through
/// the whole composed strategy, and in a debug build those frames are tens of KB each.
const GENERATOR_STACK_BYTES: usize = /* 256 MiB */ 256 * 1024 * 1024;
/// Stack of the thread each case runs on: what a thread gets by default (and a tokio
/// worker), so a recursion in Eddy overflows here as it would in the server.
pub const CASE_STACK_BYTES: usize = /* 2 MiB */ 2 * 1024 * 1024;

/// Shrinking steps after a failure at most: enough to reach a small input, bounded so a
/// failing run still ends.
const SHRINK_ITERS_MAX: u32 = 2_000;

static PANICS: AtomicU64 = AtomicU64::new(0);
static LAST_PANIC: Mutex<String> = Mutex::new(String::new());

/// Counts every panic in the process (and keeps the last one's message and place), then
/// prints it as the default hook would.
pub fn install_panic_counter() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            let thread = std::thread::current();
            let message = format!(
                "thread '{}' panicked at {}: {}",
                thread.name().unwrap_or("<unnamed>"),
                info.location().map_or(String::new(), ToString::to_string),
                info.payload()
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default()
            );
            if let Ok(mut last) = LAST_PANIC.lock() {
                *last = message;
            }
            default_hook(info);
        }));
    });
}

/// Panics so far.
pub fn panics() -> u64 {
    PANICS.load(Ordering::SeqCst)
}

/// Fails the case if any thread panicked since `before` was taken.
pub fn no_panic_since(before: u64) -> Result<(), TestCaseError> {
    let now = panics();
    if now == before {
        return Ok(());
    }
    let last = LAST_PANIC.lock().map(|l| l.clone()).unwrap_or_default();
    Err(TestCaseError::fail(format!(
        "{} panic(s) during the case; the last: {last}",
        now - before
    )))
}

/// Prints a line past libtest's capture (which takes only the `print!` macros'
/// output), so a passing run still shows its seed and case count.
pub fn report(line: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The number of cases: `EDDY_FUZZ_CASES`, or the target's default.
pub fn cases(default: u32) -> u32 {
    std::env::var("EDDY_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn seed() -> u64 {
    std::env::var("EDDY_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

/// Runs `test` on `cases(default_cases)` inputs drawn from `strategy` with a seed that is
/// printed (and replayed by `EDDY_FUZZ_SEED`), then prints how many cases ran. A
/// failure is shrunk and reported with its input, its seed, and the command line.
pub fn run<S>(
    name: &str,
    default_cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError> + Sync,
) where
    S: Strategy + Send,
    S::Value: std::fmt::Debug + Send,
{
    install_panic_counter();
    let cases = cases(default_cases);
    let seed = seed();
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: SHRINK_ITERS_MAX,
        // A case may be refused (`prop_assume!`, a known-failing input) many times in a
        // row without the run giving up.
        max_global_rejects: cases.saturating_mul(10).max(1024),
        ..Config::default()
    };
    let ran = AtomicU64::new(0);
    let started = std::time::Instant::now();
    report(&format!(
        "fuzz {name}: {cases} cases, seed {seed} (EDDY_FUZZ_SEED={seed} replays it)"
    ));
    let (ran_ref, test) = (&ran, &test);
    let result = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name(format!("fuzz {name}"))
            .stack_size(GENERATOR_STACK_BYTES)
            .spawn_scoped(scope, move || {
                let mut runner = TestRunner::new_with_rng(
                    config,
                    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
                );
                runner
                    .run(&strategy, |input| {
                        ran_ref.fetch_add(1, Ordering::Relaxed);
                        on_case_stack(|| test(input))
                    })
                    .map_err(|e| e.to_string())
            })
            .expect("spawn the generator thread")
            .join()
            .unwrap_or_else(|_| Err("the generator thread panicked".into()))
    });
    let ran = ran.load(Ordering::Relaxed);
    report(&format!(
        "fuzz {name}: ran {ran} cases (with shrinking) in {:.1} s, seed {seed}",
        started.elapsed().as_secs_f64()
    ));
    if let Err(e) = result {
        panic!(
            "fuzz {name} failed: {e}\nreplay with: EDDY_FUZZ_SEED={seed} EDDY_FUZZ_CASES={cases} cargo test … {name}"
        );
    }
}

/// Runs one case on a thread of its own with an ordinary stack; a panic there fails
/// the case (proptest then shrinks it like any failure).
fn on_case_stack(
    case: impl FnOnce() -> Result<(), TestCaseError> + Send,
) -> Result<(), TestCaseError> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("fuzz case".into())
            .stack_size(CASE_STACK_BYTES)
            .spawn_scoped(scope, case)
            .expect("spawn a case thread")
            .join()
            .unwrap_or_else(|_| {
                let last = LAST_PANIC.lock().map(|l| l.clone()).unwrap_or_default();
                Err(TestCaseError::fail(format!("the case panicked: {last}")))
            })
    })
}

/// Lengths around every size limit DynamoDB and the storage layer have: key attribute
/// names (255), sort and partition keys (1,024 / 2,048), expressions (4,096), storage
/// keys (65,535), the item (400 KB).
pub const LENGTHS: &[usize] = &[
    0, 1, 2, 254, 255, 256, 1_023, 1_024, 1_025, 2_047, 2_048, 2_049, 4_095, 4_096, 4_097, 65_519,
    65_520, 65_534, 65_535, 65_536, 65_537, 66_500, 409_599, 409_600, 409_601,
];

/// Characters of one to four bytes in UTF-8: a length in characters is not a length in
/// bytes.
pub const FILL_CHARS: &[char] = &['a', 'é', '€', '😀', '\u{0}', '"', '\\'];

/// A string of about `bytes` bytes of `fill` (whole characters, padded with `a`).
pub fn fill(bytes: usize, fill: char) -> String {
    let mut s = String::with_capacity(bytes);
    let width = fill.len_utf8();
    for _ in 0..bytes / width {
        s.push(fill);
    }
    while s.len() < bytes {
        s.push('a');
    }
    s
}

/// A string: mostly short, sometimes any Unicode, sometimes at a limit.
pub fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-z]{0,6}",
        2 => any::<String>(),
        2 => (prop::sample::select(LENGTHS), prop::sample::select(FILL_CHARS))
            .prop_map(|(len, c)| fill(len, c)),
    ]
}

/// An attribute name: short ones that collide, reserved words, placeholders' look-alikes,
/// and names of 0/1/255/256/65,535/65,536 bytes.
pub fn attribute_name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(&["pk", "sk", "g", "a", "b", "c", "n", "v", "l", "m"][..])
            .prop_map(str::to_owned),
        1 => prop::sample::select(&["name", "size", "status", "#a", ":v", "a.b", "a[0]", "", " "][..])
            .prop_map(str::to_owned),
        1 => (prop::sample::select(&[0usize, 1, 255, 256, 65_535, 65_536][..]), prop::sample::select(&['x', 'é'][..]))
            .prop_map(|(len, c)| fill(len, c)),
    ]
}

/// Number texts: valid ones at the edges of DynamoDB's range and precision (38
/// significant digits, exponents 10^-130 to 10^126), and invalid ones.
pub const NUMBER_TEXTS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "1.5",
    "0.0",
    "00001",
    "1.",
    ".5",
    "-.5",
    "+1",
    "1e5",
    "1E+125",
    "9.9999999999999999999999999999999999999E+125",
    "-9.9999999999999999999999999999999999999E+125",
    "1E+126",
    "1E-130",
    "-1E-130",
    "1E-131",
    "99999999999999999999999999999999999999",
    "999999999999999999999999999999999999999",
    "12345678901234567890123456789012345678.000000",
    "1.2345678901234567890123456789012345678",
    "1.23456789012345678901234567890123456789",
    "100000000000000000000000000000000000000000000000000000000000",
    "0.000000000000000000000000000000000000000000000000000000000001",
    "1E2147483648",
    "1E-2147483649",
    "1E99999999999999999999",
    "",
    " ",
    " 1",
    "1 ",
    "NaN",
    "Infinity",
    "-Infinity",
    "0x10",
    "1_000",
    "1E",
    "E5",
    "--1",
    "1e+",
    "١",
];

/// A number text: an edge, or random digits with a random exponent.
pub fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(NUMBER_TEXTS).prop_map(str::to_owned),
        2 => (any::<bool>(), "[0-9]{1,45}", prop::option::of(-200i32..200)).prop_map(|(neg, digits, exp)| {
            let mut s = if neg { format!("-{digits}") } else { digits };
            if let Some(e) = exp {
                s.push_str(&format!("E{e}"));
            }
            s
        }),
        2 => (-1000i64..1000).prop_map(|n| n.to_string()),
    ]
}

/// One expression and the placeholders its text uses.
#[derive(Debug, Clone)]
pub struct Expression {
    pub text: String,
    pub names: Vec<String>,
    pub values: Vec<String>,
}

/// Which expression parameter a text is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExprKind {
    Condition,
    Update,
    Projection,
    KeyCondition,
}

fn path() -> impl Strategy<Value = String> {
    let head = prop_oneof![
        30 => prop::sample::select(&["a", "b", "c", "pk", "sk", "l", "m", "#n0", "#n1", "#n2"][..]),
        // Reserved words and a function name: refused unless given through `#` names.
        1 => prop::sample::select(&["size", "name", "Name", "status"][..]),
    ];
    let elem = prop_oneof![
        20 => prop::sample::select(&[".x", ".y", "[0]", "[1]", ".#n1"][..]),
        1 => prop::sample::select(&["[99999999999]", "[-1]", ". x", "[ 0 ]", ".size"][..]),
    ];
    (head, prop::collection::vec(elem, 0..3)).prop_map(|(h, es)| format!("{h}{}", es.concat()))
}

fn value_placeholder() -> impl Strategy<Value = String> {
    prop::sample::select(&[":v0", ":v1", ":v2", ":v3", ":v4"][..]).prop_map(str::to_owned)
}

fn operand() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => path(),
        3 => value_placeholder(),
        1 => path().prop_map(|p| format!("size({p})")),
    ]
}

fn comparator() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&["=", "<>", "<", "<=", ">", ">="][..])
}

fn condition_leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (operand(), comparator(), operand()).prop_map(|(a, c, b)| format!("{a} {c} {b}")),
        1 => (operand(), operand(), operand()).prop_map(|(a, b, c)| format!("{a} BETWEEN {b} AND {c}")),
        1 => (operand(), prop::collection::vec(operand(), 1..4))
            .prop_map(|(a, list)| format!("{a} IN ({})", list.join(", "))),
        1 => path().prop_map(|p| format!("attribute_exists({p})")),
        1 => path().prop_map(|p| format!("attribute_not_exists({p})")),
        1 => (path(), value_placeholder()).prop_map(|(p, v)| format!("attribute_type({p}, {v})")),
        1 => (path(), value_placeholder()).prop_map(|(p, v)| format!("begins_with({p}, {v})")),
        1 => (path(), operand()).prop_map(|(p, v)| format!("contains({p}, {v})")),
    ]
}

fn condition() -> impl Strategy<Value = String> {
    condition_leaf().prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} AND {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} OR {b}")),
            inner.clone().prop_map(|a| format!("NOT {a}")),
            inner.prop_map(|a| format!("({a})")),
        ]
    })
}

fn set_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => operand(),
        1 => (operand(), prop::sample::select(&["+", "-"][..]), operand()).prop_map(|(a, o, b)| format!("{a} {o} {b}")),
        1 => (path(), operand()).prop_map(|(p, v)| format!("if_not_exists({p}, {v})")),
        1 => (operand(), operand()).prop_map(|(a, b)| format!("list_append({a}, {b})")),
    ]
}

fn update() -> impl Strategy<Value = String> {
    let set = prop::collection::vec(
        (path(), set_value()).prop_map(|(p, v)| format!("{p} = {v}")),
        1..4,
    )
    .prop_map(|a| format!("SET {}", a.join(", ")));
    let remove =
        prop::collection::vec(path(), 1..3).prop_map(|a| format!("REMOVE {}", a.join(", ")));
    let add = prop::collection::vec(
        (path(), value_placeholder()).prop_map(|(p, v)| format!("{p} {v}")),
        1..3,
    )
    .prop_map(|a| format!("ADD {}", a.join(", ")));
    let delete = prop::collection::vec(
        (path(), value_placeholder()).prop_map(|(p, v)| format!("{p} {v}")),
        1..3,
    )
    .prop_map(|a| format!("DELETE {}", a.join(", ")));
    // Each section at most once, mostly (a repeated one is a case of its own).
    let repeated =
        prop::collection::vec(path(), 1..2).prop_map(|p| format!("REMOVE {} REMOVE b", p[0]));
    let sections = (
        prop::option::weighted(0.8, set),
        prop::option::weighted(0.3, remove),
        prop::option::weighted(0.3, add),
        prop::option::weighted(0.2, delete),
        prop::option::weighted(0.03, repeated),
    );
    sections.prop_map(|(a, b, c, d, e)| {
        let parts: Vec<String> = [a, b, c, d, e].into_iter().flatten().collect();
        if parts.is_empty() {
            "SET a = :v0".to_owned()
        } else {
            parts.join(" ")
        }
    })
}

fn projection() -> impl Strategy<Value = String> {
    prop::collection::vec(path(), 1..5).prop_map(|p| p.join(", "))
}

fn key_condition() -> impl Strategy<Value = String> {
    let sort = prop_oneof![
        (comparator(), value_placeholder()).prop_map(|(c, v)| format!(" AND sk {c} {v}")),
        (value_placeholder(), value_placeholder())
            .prop_map(|(a, b)| format!(" AND sk BETWEEN {a} AND {b}")),
        value_placeholder().prop_map(|v| format!(" AND begins_with(sk, {v})")),
        Just(String::new()),
    ];
    let key = prop_oneof![
        6 => Just("pk"),
        1 => prop::sample::select(&["#n0", "sk", "g"][..]),
    ];
    (key, value_placeholder(), sort).prop_map(|(k, v, s)| format!("{k} = {v}{s}"))
}

/// Texts at the expression limits: nesting at and past the parser's bound, the operator
/// count, `IN` operands, the 4 KB size, long identifiers.
fn extreme_expression() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(&[49usize, 50, 51, 200, 5_000][..]).prop_map(|n| format!(
            "{}a = :v0{}",
            "(".repeat(n),
            ")".repeat(n)
        )),
        prop::sample::select(&[49usize, 50, 51, 5_000][..])
            .prop_map(|n| format!("{}a = :v0", "NOT ".repeat(n))),
        prop::sample::select(&[299usize, 300, 301][..])
            .prop_map(|n| vec!["a = :v0"; n / 2 + 1].join(" OR ")),
        prop::sample::select(&[100usize, 101][..])
            .prop_map(|n| format!("a IN ({})", vec![":v0"; n].join(", "))),
        prop::sample::select(&[4_095usize, 4_096, 4_097][..]).prop_map(|n| format!(
            "a = :v0 AND {}",
            fill(n.saturating_sub(12), 'b')
        )
        .chars()
        .take(n)
        .collect()),
        prop::sample::select(&[255usize, 256, 65_536][..])
            .prop_map(|n| format!("{} = :v0", fill(n, 'x'))),
        prop::sample::select(&[30usize, 200][..])
            .prop_map(|n| format!("a{} = :v0", "[0]".repeat(n))),
        prop::sample::select(&[30usize, 200][..])
            .prop_map(|n| format!("SET a{} = :v0", ".b".repeat(n))),
    ]
}

/// Tokens a mutation inserts.
const TOKENS: &[&str] = &[
    "(",
    ")",
    ",",
    ".",
    "[",
    "]",
    " AND ",
    " OR ",
    " NOT ",
    " BETWEEN ",
    " IN ",
    "=",
    "<>",
    "<",
    "#",
    ":",
    "#n0",
    ":v0",
    "size",
    "SET ",
    "REMOVE ",
    "ADD ",
    "DELETE ",
    "[0]",
    "\0",
    "é",
    "😀",
    "\"",
    "'",
    "\\",
    " ",
    "\t",
    "\n",
    "99999999999999999999",
];

fn mutate(
    text: String,
    mutations: Vec<(u8, prop::sample::Index, prop::sample::Index, usize)>,
) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for (kind, at, len, token) in mutations {
        let i = if chars.is_empty() {
            0
        } else {
            at.index(chars.len() + 1)
        };
        match kind % 4 {
            0 => {
                let end = (i + len.index(4) + 1).min(chars.len());
                if i < end {
                    chars.drain(i..end);
                }
            }
            1 | 2 => {
                let t: Vec<char> = TOKENS[token % TOKENS.len()].chars().collect();
                chars.splice(i..i, t);
            }
            _ => chars.truncate(i),
        }
    }
    chars.into_iter().collect()
}

/// Placeholders (`#x`, `:x`) a text uses, in order of first use.
fn placeholders(text: &str, sigil: char) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == sigil {
            let mut end = i + 1;
            while let Some((j, d)) = chars.peek().copied() {
                if d.is_ascii_alphanumeric() || d == '_' {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            let p = text[i..end].to_owned();
            if p.len() > 1 && !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// An expression of `kind`: from the grammar (most), at a limit, or random text; about
/// one in seven mutated.
pub fn expression(kind: ExprKind) -> impl Strategy<Value = Expression> {
    let grammar = match kind {
        ExprKind::Condition => condition().boxed(),
        ExprKind::Update => update().boxed(),
        ExprKind::Projection => projection().boxed(),
        ExprKind::KeyCondition => key_condition().boxed(),
    };
    let text = prop_oneof![
        16 => grammar,
        1 => extreme_expression(),
        1 => any::<String>(),
    ];
    let mutation = (
        any::<u8>(),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        any::<usize>(),
    );
    (
        text,
        prop::option::weighted(0.15, prop::collection::vec(mutation, 1..4)),
    )
        .prop_map(|(t, m)| {
            let text = match m {
                Some(m) => mutate(t, m),
                None => t,
            };
            Expression {
                names: placeholders(&text, '#'),
                values: placeholders(&text, ':'),
                text,
            }
        })
}

/// How the names or values map of a request relates to its expressions' placeholders:
/// usually exactly them, sometimes with one missing, one unused, an invalid key, or an
/// empty map.
#[derive(Debug, Clone, Copy)]
pub enum MapShape {
    Exact,
    DropOne,
    AddUnused,
    InvalidKey,
    Empty,
    Absent,
}

pub fn map_shape() -> impl Strategy<Value = MapShape> {
    prop_oneof![
        30 => Just(MapShape::Exact),
        1 => Just(MapShape::DropOne),
        1 => Just(MapShape::AddUnused),
        1 => Just(MapShape::InvalidKey),
        1 => Just(MapShape::Empty),
        1 => Just(MapShape::Absent),
    ]
}

/// The keys of a names or values map of `shape` for `used` placeholders (`sigil` is `#`
/// or `:`); `None` when the map is absent.
pub fn map_keys(used: &[String], shape: MapShape, sigil: char) -> Option<Vec<String>> {
    let mut keys: Vec<String> = used.to_vec();
    match shape {
        MapShape::Exact => {}
        MapShape::DropOne => {
            keys.pop();
        }
        MapShape::AddUnused => keys.push(format!("{sigil}unused")),
        MapShape::InvalidKey => keys.push(format!("{sigil}in-valid")),
        MapShape::Empty => keys.clear(),
        MapShape::Absent => return None,
    }
    if keys.is_empty() && !matches!(shape, MapShape::Empty) {
        return None;
    }
    Some(keys)
}

/// Attribute names the `#` placeholders stand for.
pub fn substituted_name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(&["pk", "sk", "a", "b", "x", "g", "n"][..]).prop_map(str::to_owned),
        1 => attribute_name(),
    ]
}
