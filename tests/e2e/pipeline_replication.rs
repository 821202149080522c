//! Cross-region replication end to end: two real `eddy` processes stand for
//! `us-east-1` and `eu-west-1`, each running the `replicator` function
//! (`functions/pipelines/replicator`) on its table's stream and sending its own region's
//! writes to the other over `wasi:http`. Concurrent, conflicting writes go to both
//! regions, one region is SIGKILLed for a while and restarted; once both are quiet the
//! two tables must be identical, and equal to what last writer wins predicts.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::api::{create_table, create_trigger, ddb, deploy, guest, wait_until};
use crate::harness::Server;

const TABLE: &str = "profiles";
/// Keys written; few enough that the regions conflict on most of them.
const KEYS: u64 = 40;
/// Writes per writer thread (two per region).
const WRITES_PER_WRITER: u64 = 150;
/// How long both regions may take to converge once writes stop.
const CONVERGE_TIMEOUT_MS: u64 = 60_000;

/// A region: its name, fixed address (the peer's function is told it) and data dir.
struct Region {
    name: &'static str,
    listen: String,
    dir: tempfile::TempDir,
}

impl Region {
    fn new(name: &'static str) -> Region {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Region {
            name,
            listen: format!("127.0.0.1:{port}"),
            dir: tempfile::tempdir().expect("data dir"),
        }
    }

    fn start(&self) -> Server {
        self.start_with(&[])
    }

    fn start_with(&self, extra_args: &[&str]) -> Server {
        let mut args = vec!["--region", self.name];
        args.extend_from_slice(extra_args);
        Server::start_listening(self.dir.path(), &self.listen, &args)
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.listen)
    }
}

/// Creates the table and attaches the replicator, pointed at `peer`.
fn set_up(region: &Region, peer: &Region) {
    set_up_with(region, peer, "");
}

/// [`set_up`], with more of the replicator's deploy parameters (`&env=K=V…`).
fn set_up_with(region: &Region, peer: &Region, more: &str) {
    let endpoint = region.endpoint();
    create_table(&endpoint, TABLE, true);
    let query = format!(
        "?table={TABLE}&host={}&env=PEER_ENDPOINT={}{more}",
        peer.listen,
        peer.endpoint()
    );
    deploy(&endpoint, "replicator", &query, &guest("replicator")).expect(201);
    create_trigger(
        &endpoint,
        json!({
            "FunctionName": "replicator",
            "EventSourceArn": TABLE,
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 100,
            "MaximumRetryAttempts": -1,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        }),
    );
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A write's clock, as last writer wins orders it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Clock {
    at: u64,
    region: String,
}

/// What a writer did: per key, the clock and value (`None`: deleted) of its writes that
/// the server acknowledged.
type Acked = BTreeMap<String, Vec<(Clock, Option<u64>)>>;

/// Writes to `endpoint` as `region` until `count` writes were acknowledged or the
/// server is gone; every tenth write is a delete. Clocks are wall-clock milliseconds
/// kept in `clock`, shared by all writers of both regions; every other write reuses the
/// last time without reading the clock, so equal times across regions (ties) happen on
/// purpose. Within a region, writers keep the replicator's contract: no two writes get
/// one time (`region_clock` holds the region's last).
fn writer(
    endpoint: String,
    region: &'static str,
    seed: u64,
    clock: Arc<AtomicU64>,
    region_clock: Arc<AtomicU64>,
) -> Acked {
    let mut acked = Acked::new();
    let mut state = seed;
    for n in 0..WRITES_PER_WRITER {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let key = format!("k{}", (state >> 33) % KEYS);
        // Two regions' writers share one clock but read it without incrementing half the
        // time, so concurrent writes often carry the same time.
        let shared = if n % 2 == 0 {
            let now = now_ms();
            clock.fetch_max(now, Ordering::SeqCst).max(now)
        } else {
            clock.load(Ordering::SeqCst)
        };
        let last = region_clock
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
                Some(shared.max(last + 1))
            })
            .unwrap_or(0);
        let at = shared.max(last + 1);
        clock.fetch_max(at, Ordering::SeqCst);
        let value = state >> 40;
        let delete = n % 10 == 9;
        let request = if delete {
            (
                "DeleteItem",
                json!({"TableName": TABLE, "Key": {"id": {"S": key}}}),
            )
        } else {
            (
                "PutItem",
                json!({"TableName": TABLE, "Item": {
                    "id": {"S": key},
                    "value": {"N": value.to_string()},
                    "updated_at": {"N": at.to_string()},
                    "updated_in": {"S": region},
                }}),
            )
        };
        let Some(status) = try_ddb(&endpoint, request.0, &request.1) else {
            // The server was killed: this writer's part is over.
            break;
        };
        assert_eq!(status, 200, "{} failed", request.0);
        if !delete {
            acked.entry(key).or_default().push((
                Clock {
                    at,
                    region: region.to_owned(),
                },
                Some(value),
            ));
        }
    }
    acked
}

/// One DynamoDB call that tolerates a dead server (`None`).
fn try_ddb(endpoint: &str, op: &str, body: &Value) -> Option<u16> {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    use std::io::{Read, Write};
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let body = body.to_string();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: DynamoDB_20120810.{op}\r\n\
         Content-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    text.split_whitespace().nth(1)?.parse().ok()
}

/// The table's items by key, tombstones included (a tombstone is an item with
/// `deleted = true`).
fn items(endpoint: &str) -> BTreeMap<String, Value> {
    let out = ddb(endpoint, "Scan", json!({"TableName": TABLE}));
    assert!(
        out.get("LastEvaluatedKey").is_none(),
        "the table stays small"
    );
    out["Items"]
        .as_array()
        .expect("Items")
        .iter()
        .map(|item| {
            (
                item["id"]["S"].as_str().expect("id").to_owned(),
                item.clone(),
            )
        })
        .collect()
}

fn clock_of(item: &Value) -> Clock {
    Clock {
        at: item["updated_at"]["N"]
            .as_str()
            .and_then(|n| n.parse().ok())
            .expect("updated_at"),
        region: item["updated_in"]["S"]
            .as_str()
            .expect("updated_in")
            .to_owned(),
    }
}

#[test]
fn two_regions_converge_under_conflicting_writes_and_a_killed_region() {
    let east = Region::new("us-east-1");
    let west = Region::new("eu-west-1");
    let east_server = east.start();
    let mut west_server = Some(west.start());
    set_up(&east, &west);
    set_up(&west, &east);

    let clock = Arc::new(AtomicU64::new(now_ms()));
    let region_clocks = [
        (east.name, Arc::new(AtomicU64::new(0))),
        (west.name, Arc::new(AtomicU64::new(0))),
    ];
    let spawn = |endpoint: String, region: &'static str, seed: u64| {
        let clock = clock.clone();
        let region_clock = region_clocks
            .iter()
            .find(|(name, _)| *name == region)
            .map(|(_, c)| c.clone())
            .expect("a region's clock");
        std::thread::spawn(move || writer(endpoint, region, seed, clock, region_clock))
    };
    // Round one: both regions write concurrently.
    let mut writers = vec![
        spawn(east.endpoint(), east.name, 1),
        spawn(east.endpoint(), east.name, 2),
        spawn(west.endpoint(), west.name, 3),
        spawn(west.endpoint(), west.name, 4),
    ];
    // Kill the west region in the middle of it; the east keeps writing (its replicator
    // cannot reach the peer and retries), then the west comes back on the same address
    // and data directory and both catch up.
    std::thread::sleep(Duration::from_millis(300));
    if let Some(server) = west_server.take() {
        server.kill9();
    }
    let mut acked: Vec<Acked> = writers
        .drain(..)
        .map(|w| w.join().expect("writer"))
        .collect();
    writers.push(spawn(east.endpoint(), east.name, 5));
    acked.extend(writers.drain(..).map(|w| w.join().expect("writer")));
    let west_server = west.start();
    // Round two: both regions again, after the restart.
    writers.push(spawn(east.endpoint(), east.name, 6));
    writers.push(spawn(west.endpoint(), west.name, 7));
    acked.extend(writers.drain(..).map(|w| w.join().expect("writer")));

    // Quiet: wait until both tables are identical.
    let deadline = Instant::now() + Duration::from_millis(CONVERGE_TIMEOUT_MS);
    let (east_items, west_items) = loop {
        let (e, w) = (items(&east.endpoint()), items(&west.endpoint()));
        if e == w {
            // Identical twice in a row, a moment apart: nothing was still in flight.
            std::thread::sleep(Duration::from_millis(500));
            let (e2, w2) = (items(&east.endpoint()), items(&west.endpoint()));
            if e2 == w2 && e2 == e {
                break (e2, w2);
            }
        }
        assert!(
            Instant::now() < deadline,
            "the regions did not converge in {CONVERGE_TIMEOUT_MS} ms:\n east {e:?}\n west {w:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(east_items, west_items);

    // Every surviving item carries the greatest clock acknowledged for its key (a later
    // delete turns into a tombstone whose clock is later still), so no acknowledged
    // write was lost to an older one.
    let mut latest: BTreeMap<String, (Clock, Option<u64>)> = BTreeMap::new();
    for writer in &acked {
        for (key, writes) in writer {
            for (clock, value) in writes {
                let entry = latest
                    .entry(key.clone())
                    .or_insert_with(|| (clock.clone(), *value));
                if *clock > entry.0 {
                    *entry = (clock.clone(), *value);
                }
            }
        }
    }
    assert!(!latest.is_empty(), "no write was acknowledged");
    for (key, (clock, value)) in &latest {
        let item = east_items
            .get(key)
            .unwrap_or_else(|| panic!("{key} is missing in both regions"));
        let held = clock_of(item);
        assert!(
            held >= *clock,
            "{key}: the regions hold {held:?}, older than the acknowledged {clock:?}"
        );
        if held == *clock {
            assert_eq!(
                item["value"]["N"].as_str().and_then(|v| v.parse().ok()),
                *value,
                "{key}: {item}"
            );
        } else {
            assert_eq!(item["deleted"]["BOOL"], true, "{key}: {item}");
        }
    }
    drop(west_server);
    drop(east_server);
}

/// Tombstones are collected: with `TOMBSTONE_TTL_S` and Time to Live on in both regions,
/// a delete's tombstone reaches both regions and then expires in both; the expiries are
/// not carried as deletes, and a live item is untouched.
#[test]
fn tombstones_expire_in_both_regions_with_time_to_live() {
    let (east, west) = (Region::new("us-east-1"), Region::new("eu-west-1"));
    let sweep = ["--ttl-sweep-ms", "100"];
    let (_east_server, _west_server) = (east.start_with(&sweep), west.start_with(&sweep));
    for (region, peer) in [(&east, &west), (&west, &east)] {
        set_up_with(region, peer, "&env=TOMBSTONE_TTL_S=2");
        ddb(
            &region.endpoint(),
            "UpdateTimeToLive",
            json!({"TableName": TABLE, "TimeToLiveSpecification": {"Enabled": true, "AttributeName": "expires_at"}}),
        );
    }
    let (e, w) = (east.endpoint(), west.endpoint());
    for id in ["gone", "live"] {
        ddb(
            &e,
            "PutItem",
            json!({"TableName": TABLE, "Item": {
                "id": {"S": id},
                "updated_at": {"N": now_ms().to_string()},
                "updated_in": {"S": "us-east-1"},
            }}),
        );
    }
    wait_until("both items in the west", || items(&w).len() == 2);
    ddb(
        &e,
        "DeleteItem",
        json!({"TableName": TABLE, "Key": {"id": {"S": "gone"}}}),
    );
    let tombstone = |endpoint: &str| {
        items(endpoint)
            .get("gone")
            .is_some_and(|i| i["deleted"]["BOOL"] == true && i["expires_at"]["N"].is_string())
    };
    wait_until("a tombstone with an expiry in both regions", || {
        tombstone(&e) && tombstone(&w)
    });
    wait_until("the tombstone expired in both regions", || {
        !items(&e).contains_key("gone") && !items(&w).contains_key("gone")
    });
    for endpoint in [&e, &w] {
        let left = items(endpoint);
        assert_eq!(left.keys().collect::<Vec<_>>(), ["live"], "{endpoint}");
        assert!(left["live"].get("deleted").is_none());
    }
}
