//! What auto scaling keeps: scalable targets, target-tracking policies and scaling
//! activities, in Application Auto Scaling's terms, and where they are stored (the
//! engine's `system` keyspace, so targets and policies survive a restart).
//!
//! Owns the records and their keys. Must not know the wire (`api.rs` renders them) nor
//! when to scale (`decide.rs`).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use eddy_engine::Engine;
use serde::{Deserialize, Serialize};

/// Prefix of the system keys of scalable targets.
const TARGET_PREFIX: &str = "autoscaling/target/";
/// Prefix of the system keys of scaling policies.
const POLICY_PREFIX: &str = "autoscaling/policy/";
/// Scalable targets one server keeps: Application Auto Scaling's default quota of
/// scalable targets for DynamoDB (its user guide's quotas page).
pub const SCALABLE_TARGETS_MAX: usize = 5000;
/// Scaling activities kept in memory for DescribeScalingActivities, newest last; older
/// ones are dropped (AWS keeps six weeks; Eddy keeps the activities of this run only).
pub const ACTIVITIES_MAX: usize = 1000;

/// The capacity dimension a target scales, one of DynamoDB's four.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Dimension {
    TableRead,
    TableWrite,
    IndexRead,
    IndexWrite,
}

impl Dimension {
    pub const ALL: [Dimension; 4] = [
        Dimension::TableRead,
        Dimension::TableWrite,
        Dimension::IndexRead,
        Dimension::IndexWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::TableRead => "dynamodb:table:ReadCapacityUnits",
            Dimension::TableWrite => "dynamodb:table:WriteCapacityUnits",
            Dimension::IndexRead => "dynamodb:index:ReadCapacityUnits",
            Dimension::IndexWrite => "dynamodb:index:WriteCapacityUnits",
        }
    }

    pub fn parse(s: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.as_str() == s)
    }

    pub fn is_read(self) -> bool {
        matches!(self, Dimension::TableRead | Dimension::IndexRead)
    }

    pub fn is_index(self) -> bool {
        matches!(self, Dimension::IndexRead | Dimension::IndexWrite)
    }

    /// The predefined metric a target-tracking policy of this dimension follows.
    pub fn metric(self) -> &'static str {
        if self.is_read() {
            "DynamoDBReadCapacityUtilization"
        } else {
            "DynamoDBWriteCapacityUtilization"
        }
    }

    /// The units' name in an activity's description ("read capacity units").
    pub fn units(self) -> &'static str {
        if self.is_read() {
            "read capacity units"
        } else {
            "write capacity units"
        }
    }
}

/// A DynamoDB resource id: `table/T` or `table/T/index/I`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub table: String,
    pub index: Option<String>,
}

impl Resource {
    /// Parses a resource id; `None` when it names no table or index.
    pub fn parse(id: &str) -> Option<Resource> {
        let rest = id.strip_prefix("table/")?;
        let (table, index) = match rest.split_once('/') {
            None => (rest, None),
            Some((table, after)) => (table, Some(after.strip_prefix("index/")?)),
        };
        let name_ok = |n: &str| !n.is_empty() && !n.contains('/');
        if !name_ok(table) || index.is_some_and(|i| !name_ok(i)) {
            return None;
        }
        Some(Resource {
            table: table.to_owned(),
            index: index.map(str::to_owned),
        })
    }
}

/// A registered scalable target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub resource_id: String,
    pub dimension: Dimension,
    pub min: i64,
    pub max: i64,
    /// When it was first registered, epoch milliseconds.
    pub created_ms: u64,
    /// The target's ARN (`arn:aws:application-autoscaling:…:scalable-target/…`).
    pub arn: String,
    /// `SuspendedState.DynamicScalingInSuspended` / `…OutSuspended`.
    pub scale_in_suspended: bool,
    pub scale_out_suspended: bool,
}

/// A target-tracking scaling policy of one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub name: String,
    pub resource_id: String,
    pub dimension: Dimension,
    pub arn: String,
    /// Target utilization, percent (DynamoDB: 20 to 90).
    pub target_value: f64,
    /// Cooldowns as the client gave them, seconds (`None`: not given).
    pub scale_in_cooldown_s: Option<i64>,
    pub scale_out_cooldown_s: Option<i64>,
    pub disable_scale_in: bool,
    pub created_ms: u64,
}

/// One thing auto scaling did (or tried to do), for DescribeScalingActivities.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub id: String,
    pub resource_id: String,
    pub dimension: Dimension,
    pub description: String,
    pub cause: String,
    pub start_ms: u64,
    pub end_ms: u64,
    /// `Successful` or `Failed`.
    pub status: &'static str,
    pub status_message: Option<String>,
    /// `Details`: what the scaler saw (the window's utilization).
    pub details: Option<String>,
}

/// Targets, policies (write-through to the `system` keyspace) and recent activities.
#[derive(Debug, Default)]
pub struct Store {
    inner: Mutex<Records>,
}

#[derive(Debug, Default)]
struct Records {
    /// By (resource id, dimension).
    targets: BTreeMap<(String, Dimension), Target>,
    /// By (resource id, dimension, policy name).
    policies: BTreeMap<(String, Dimension, String), Policy>,
    activities: VecDeque<Activity>,
}

fn target_key(resource_id: &str, dimension: Dimension) -> String {
    format!("{TARGET_PREFIX}{resource_id}|{}", dimension.as_str())
}

fn policy_key(resource_id: &str, dimension: Dimension, name: &str) -> String {
    format!("{POLICY_PREFIX}{resource_id}|{}|{name}", dimension.as_str())
}

/// Why the store could not be read or written.
pub type StoreError = String;

impl Store {
    /// Loads the stored targets and policies.
    pub fn open(engine: &Engine) -> Result<Store, StoreError> {
        let mut records = Records::default();
        let read = |prefix: &str| {
            engine
                .system_scan(prefix.as_bytes())
                .map_err(|e| format!("cannot read the auto scaling records: {e}"))
        };
        for (_, value) in read(TARGET_PREFIX)? {
            let t: Target = serde_json::from_slice(&value)
                .map_err(|e| format!("a stored scalable target is unreadable: {e}"))?;
            records
                .targets
                .insert((t.resource_id.clone(), t.dimension), t);
        }
        for (_, value) in read(POLICY_PREFIX)? {
            let p: Policy = serde_json::from_slice(&value)
                .map_err(|e| format!("a stored scaling policy is unreadable: {e}"))?;
            records
                .policies
                .insert((p.resource_id.clone(), p.dimension, p.name.clone()), p);
        }
        Ok(Store {
            inner: Mutex::new(records),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Records> {
        // A panic while the lock was held left whole records (every change is one
        // insert or remove), so the records stay usable.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn target(&self, resource_id: &str, dimension: Dimension) -> Option<Target> {
        self.lock()
            .targets
            .get(&(resource_id.to_owned(), dimension))
            .cloned()
    }

    pub fn targets(&self) -> Vec<Target> {
        self.lock().targets.values().cloned().collect()
    }

    pub fn policies(&self) -> Vec<Policy> {
        self.lock().policies.values().cloned().collect()
    }

    /// Stores a target (durably first, then in memory); a new one only while there
    /// are fewer than `targets_max` (`Ok(false)` when there are that many).
    pub fn put_target(
        &self,
        engine: &Engine,
        t: Target,
        targets_max: usize,
    ) -> Result<bool, StoreError> {
        {
            let records = self.lock();
            let key = (t.resource_id.clone(), t.dimension);
            if !records.targets.contains_key(&key) && records.targets.len() >= targets_max {
                return Ok(false);
            }
        }
        let value = serde_json::to_vec(&t).map_err(|e| e.to_string())?;
        engine
            .system_put(target_key(&t.resource_id, t.dimension).as_bytes(), &value)
            .map_err(|e| format!("cannot store the scalable target: {e}"))?;
        self.lock()
            .targets
            .insert((t.resource_id.clone(), t.dimension), t);
        Ok(true)
    }

    /// Removes a target and its policies; false when there was none.
    pub fn delete_target(
        &self,
        engine: &Engine,
        resource_id: &str,
        dimension: Dimension,
    ) -> Result<bool, StoreError> {
        if self.target(resource_id, dimension).is_none() {
            return Ok(false);
        }
        let names: Vec<String> = self
            .policies()
            .into_iter()
            .filter(|p| p.resource_id == resource_id && p.dimension == dimension)
            .map(|p| p.name)
            .collect();
        for name in names {
            self.delete_policy(engine, resource_id, dimension, &name)?;
        }
        engine
            .system_delete(target_key(resource_id, dimension).as_bytes())
            .map_err(|e| format!("cannot delete the scalable target: {e}"))?;
        self.lock()
            .targets
            .remove(&(resource_id.to_owned(), dimension));
        Ok(true)
    }

    pub fn put_policy(&self, engine: &Engine, p: Policy) -> Result<(), StoreError> {
        let value = serde_json::to_vec(&p).map_err(|e| e.to_string())?;
        engine
            .system_put(
                policy_key(&p.resource_id, p.dimension, &p.name).as_bytes(),
                &value,
            )
            .map_err(|e| format!("cannot store the scaling policy: {e}"))?;
        self.lock()
            .policies
            .insert((p.resource_id.clone(), p.dimension, p.name.clone()), p);
        Ok(())
    }

    /// Removes a policy; false when there was none.
    pub fn delete_policy(
        &self,
        engine: &Engine,
        resource_id: &str,
        dimension: Dimension,
        name: &str,
    ) -> Result<bool, StoreError> {
        let key = (resource_id.to_owned(), dimension, name.to_owned());
        if !self.lock().policies.contains_key(&key) {
            return Ok(false);
        }
        engine
            .system_delete(policy_key(resource_id, dimension, name).as_bytes())
            .map_err(|e| format!("cannot delete the scaling policy: {e}"))?;
        self.lock().policies.remove(&key);
        Ok(true)
    }

    /// Records an activity, dropping the oldest past [`ACTIVITIES_MAX`].
    pub fn record(&self, activity: Activity) {
        let mut records = self.lock();
        if records.activities.len() >= ACTIVITIES_MAX {
            records.activities.pop_front();
        }
        records.activities.push_back(activity);
    }

    /// The activities, newest first (as DescribeScalingActivities lists them).
    pub fn activities(&self) -> Vec<Activity> {
        self.lock().activities.iter().rev().cloned().collect()
    }
}

/// A random version 4 UUID, for activity ids and ARNs.
pub fn uuid() -> String {
    let mut b = [0u8; 16];
    // Without randomness the id is still unique enough in a run: the time fills it.
    if getrandom::fill(&mut b).is_err() {
        b[..8].copy_from_slice(&eddy_engine::clock::now_us().to_be_bytes());
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_ids_name_a_table_or_an_index() {
        assert_eq!(
            Resource::parse("table/T"),
            Some(Resource {
                table: "T".into(),
                index: None
            })
        );
        assert_eq!(
            Resource::parse("table/T/index/I"),
            Some(Resource {
                table: "T".into(),
                index: Some("I".into())
            })
        );
        for bad in [
            "",
            "table/",
            "T",
            "dynamo/T",
            "table/T/",
            "table/T/idx/I",
            "table/T/index/",
            "table/T/index/I/x",
        ] {
            assert_eq!(Resource::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn dimensions_round_trip_and_know_their_metric() {
        for d in Dimension::ALL {
            assert_eq!(Dimension::parse(d.as_str()), Some(d));
        }
        assert_eq!(Dimension::parse("dynamodb:table:Read"), None);
        assert_eq!(
            Dimension::IndexRead.metric(),
            "DynamoDBReadCapacityUtilization"
        );
        assert_eq!(
            Dimension::TableWrite.metric(),
            "DynamoDBWriteCapacityUtilization"
        );
    }

    fn engine() -> Engine {
        let dir = std::env::temp_dir().join(format!("eddy-scaling-store-{}", uuid()));
        let mut config = eddy_engine::EngineConfig::new(dir);
        config.in_memory = true;
        Engine::open(config).unwrap()
    }

    fn target(id: &str, dimension: Dimension) -> Target {
        Target {
            resource_id: id.into(),
            dimension,
            min: 1,
            max: 10,
            created_ms: 1,
            arn: format!("arn:{id}"),
            scale_in_suspended: false,
            scale_out_suspended: false,
        }
    }

    /// What survives a restart is the e2e tests' (tests/e2e/autoscaling.rs); here the
    /// bound and the deregistering of a target's policies, in the keyspace too.
    #[test]
    fn the_target_count_is_bounded_and_a_target_takes_its_policies_with_it() {
        let e = engine();
        let store = Store::open(&e).unwrap();
        assert_eq!(
            store.put_target(&e, target("table/A", Dimension::TableRead), 2),
            Ok(true)
        );
        assert_eq!(
            store.put_target(&e, target("table/B", Dimension::TableRead), 2),
            Ok(true)
        );
        // A third is over the bound; changing one already there is not.
        assert_eq!(
            store.put_target(&e, target("table/C", Dimension::TableRead), 2),
            Ok(false)
        );
        let changed = Target {
            max: 20,
            ..target("table/B", Dimension::TableRead)
        };
        assert_eq!(store.put_target(&e, changed, 2), Ok(true));
        let policy = Policy {
            name: "p".into(),
            resource_id: "table/B".into(),
            dimension: Dimension::TableRead,
            arn: "arn:p".into(),
            target_value: 70.0,
            scale_in_cooldown_s: Some(5),
            scale_out_cooldown_s: None,
            disable_scale_in: false,
            created_ms: 2,
        };
        store.put_policy(&e, policy.clone()).unwrap();
        // A second store on the same engine reads what the first wrote.
        let again = Store::open(&e).unwrap();
        let kept: Vec<(String, i64)> = again
            .targets()
            .into_iter()
            .map(|t| (t.resource_id, t.max))
            .collect();
        assert_eq!(
            kept,
            vec![("table/A".to_owned(), 10), ("table/B".to_owned(), 20)]
        );
        assert_eq!(again.policies(), vec![policy]);
        assert_eq!(
            store.delete_target(&e, "table/B", Dimension::TableRead),
            Ok(true)
        );
        assert_eq!(
            store.delete_target(&e, "table/B", Dimension::TableRead),
            Ok(false)
        );
        assert!(store.policies().is_empty());
        assert!(Store::open(&e).unwrap().policies().is_empty());
        assert_eq!(Store::open(&e).unwrap().targets().len(), 1);
        e.shutdown();
    }

    #[test]
    fn activities_are_bounded_and_listed_newest_first() {
        let store = Store::default();
        for i in 0..ACTIVITIES_MAX + 5 {
            store.record(Activity {
                id: i.to_string(),
                resource_id: "table/T".into(),
                dimension: Dimension::TableWrite,
                description: String::new(),
                cause: String::new(),
                start_ms: i as u64,
                end_ms: i as u64,
                status: "Successful",
                status_message: None,
                details: None,
            });
        }
        let all = store.activities();
        assert_eq!(all.len(), ACTIVITIES_MAX);
        assert_eq!(all[0].id, (ACTIVITIES_MAX + 4).to_string());
        assert_eq!(all[ACTIVITIES_MAX - 1].id, "5");
    }

    #[test]
    fn uuids_are_version_4() {
        let u = uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(u, uuid());
    }
}
