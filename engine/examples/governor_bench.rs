//! The cost of the capacity governor on the request path (not a test): admission and
//! charging of one read or write, on an on-demand table without maximums (the common
//! case: only the per-key ceilings apply) and on a provisioned one, single-threaded
//! and from several threads at once.
//!
//! ```sh
//! cargo run --release -p eddy-engine --example governor_bench -- [--ops 2000000] [--threads 4]
//! ```

use std::sync::Arc;
use std::time::Instant;

use eddy_engine::capacity::{CapacityClock, CapacitySpec, Consumed, Governor, Limits};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn governor(limits: Limits) -> Arc<Governor> {
    let g = Governor::default();
    g.configure(
        &CapacityClock::wall(),
        CapacitySpec {
            arn: "arn:aws:dynamodb:us-east-1:000000000000:table/bench".into(),
            limits,
            indexes: Vec::new(),
            accounting_off: false,
        },
    );
    Arc::new(g)
}

/// Nanoseconds per admitted and charged write, over `ops` writes on `threads` threads,
/// each writing its own keys (a hash each, as a uniform workload has).
fn run(g: &Arc<Governor>, ops: u64, threads: u64) -> f64 {
    let used = Consumed {
        table_write_units: 1.0,
        ..Consumed::default()
    };
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (g, used) = (Arc::clone(g), used.clone());
            std::thread::spawn(move || {
                let mut refused = 0u64;
                for n in 0..ops / threads {
                    let key = eddy_engine::hash::fnv1a_64(&(t * ops + n).to_le_bytes());
                    if g.admit_write(Some(key)).is_ok() {
                        g.charge(Some(key), &used);
                    } else {
                        refused += 1;
                    }
                }
                refused
            })
        })
        .collect();
    let refused: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let ns = start.elapsed().as_nanos() as f64 / ops as f64 * threads as f64;
    if refused > 0 {
        println!("  ({refused} refused)");
    }
    ns
}

fn main() {
    let ops = arg("--ops", 2_000_000);
    let start = Instant::now();
    let mut sum = 0u64;
    for _ in 0..ops {
        sum = sum.wrapping_add(eddy_engine::clock::now_ms());
    }
    println!(
        "wall clock read: {:.0} ns ({sum})",
        start.elapsed().as_nanos() as f64 / ops as f64
    );
    let threads = arg("--threads", 4);
    let on_demand = governor(Limits::default());
    let provisioned = governor(Limits::Provisioned {
        read: 40_000,
        write: 40_000,
    });
    for (name, g) in [("on-demand", &on_demand), ("provisioned", &provisioned)] {
        println!("{name}, 1 thread: {:.0} ns per write", run(g, ops, 1));
        println!(
            "{name}, {threads} threads: {:.0} ns per write (per thread)",
            run(g, ops, threads)
        );
    }
}
