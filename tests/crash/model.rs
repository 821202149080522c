//! The harness's own view of items: a canonical value type that both SDKs' attribute
//! values convert into (sets ordered, so two equal items compare equal whatever order
//! the server returns set members in), a seeded random number generator, and the
//! per-key model of what the table may hold.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue as Av;
use aws_sdk_dynamodbstreams::types::AttributeValue as Sv;

/// An attribute value in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Val {
    S(String),
    /// Numbers are compared as the server writes them; the harness only sends canonical
    /// integers, which the server writes back unchanged.
    N(String),
    B(Vec<u8>),
    Bool(bool),
    Null,
    M(BTreeMap<String, Val>),
    L(Vec<Val>),
    Ss(BTreeSet<String>),
    Ns(BTreeSet<String>),
    Bs(BTreeSet<Vec<u8>>),
    /// A shape the SDK did not know: never equal to anything the harness wrote.
    Unknown(String),
}

/// An item in canonical form.
pub type Item = BTreeMap<String, Val>;

impl Val {
    pub fn n(n: i64) -> Val {
        Val::N(n.to_string())
    }

    pub fn s(s: impl Into<String>) -> Val {
        Val::S(s.into())
    }
}

pub fn from_av(v: &Av) -> Val {
    match v {
        Av::S(s) => Val::S(s.clone()),
        Av::N(n) => Val::N(n.clone()),
        Av::B(b) => Val::B(b.as_ref().to_vec()),
        Av::Bool(b) => Val::Bool(*b),
        Av::Null(_) => Val::Null,
        Av::M(m) => Val::M(from_av_item(m)),
        Av::L(l) => Val::L(l.iter().map(from_av).collect()),
        Av::Ss(s) => Val::Ss(s.iter().cloned().collect()),
        Av::Ns(s) => Val::Ns(s.iter().cloned().collect()),
        Av::Bs(s) => Val::Bs(s.iter().map(|b| b.as_ref().to_vec()).collect()),
        other => Val::Unknown(format!("{other:?}")),
    }
}

pub fn from_av_item(m: &std::collections::HashMap<String, Av>) -> Item {
    m.iter().map(|(k, v)| (k.clone(), from_av(v))).collect()
}

pub fn from_sv(v: &Sv) -> Val {
    match v {
        Sv::S(s) => Val::S(s.clone()),
        Sv::N(n) => Val::N(n.clone()),
        Sv::B(b) => Val::B(b.as_ref().to_vec()),
        Sv::Bool(b) => Val::Bool(*b),
        Sv::Null(_) => Val::Null,
        Sv::M(m) => Val::M(from_sv_item(m)),
        Sv::L(l) => Val::L(l.iter().map(from_sv).collect()),
        Sv::Ss(s) => Val::Ss(s.iter().cloned().collect()),
        Sv::Ns(s) => Val::Ns(s.iter().cloned().collect()),
        Sv::Bs(s) => Val::Bs(s.iter().map(|b| b.as_ref().to_vec()).collect()),
        other => Val::Unknown(format!("{other:?}")),
    }
}

pub fn from_sv_item(m: &std::collections::HashMap<String, Sv>) -> Item {
    m.iter().map(|(k, v)| (k.clone(), from_sv(v))).collect()
}

pub fn to_av(v: &Val) -> Av {
    match v {
        Val::S(s) => Av::S(s.clone()),
        Val::N(n) => Av::N(n.clone()),
        Val::B(b) => Av::B(Blob::new(b.clone())),
        Val::Bool(b) => Av::Bool(*b),
        Val::Null => Av::Null(true),
        Val::M(m) => Av::M(to_av_item(m)),
        Val::L(l) => Av::L(l.iter().map(to_av).collect()),
        Val::Ss(s) => Av::Ss(s.iter().cloned().collect()),
        Val::Ns(s) => Av::Ns(s.iter().cloned().collect()),
        Val::Bs(s) => Av::Bs(s.iter().map(|b| Blob::new(b.clone())).collect()),
        Val::Unknown(s) => Av::S(s.clone()),
    }
}

pub fn to_av_item(item: &Item) -> std::collections::HashMap<String, Av> {
    item.iter().map(|(k, v)| (k.clone(), to_av(v))).collect()
}

/// A short description of an item for failure messages: its tag and version, and the
/// names of its attributes (payloads can be tens of kilobytes).
pub fn describe(item: Option<&Item>) -> String {
    match item {
        None => "absent".into(),
        Some(i) => {
            let field = |name: &str| match i.get(name) {
                Some(Val::S(s)) => s.clone(),
                Some(Val::N(n)) => n.clone(),
                Some(other) => format!("{other:?}"),
                None => "-".into(),
            };
            format!(
                "{{tag {} ver {} g {} n {} attributes {:?}}}",
                field("tag"),
                field("ver"),
                field("g"),
                field("n"),
                i.keys().collect::<Vec<_>>()
            )
        }
    }
}

/// SplitMix64: a small, seedable generator. The harness needs reproducible choices,
/// not cryptographic quality.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator derived from this seed and a stream name, independent of how many
    /// numbers others have drawn.
    pub fn derive(seed: u64, parts: &[u64]) -> Rng {
        let mut r = Rng(seed);
        for p in parts {
            r.0 ^= p.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            r.next_u64();
        }
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..hi` (`hi` exclusive, `lo < hi`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo)
    }

    /// True with probability `percent` / 100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// `count` distinct indexes of `0..n`.
    pub fn distinct(&mut self, n: usize, count: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..count.min(n) {
            let j = self.range(i as u64, n as u64) as usize;
            all.swap(i, j);
        }
        all.truncate(count.min(n));
        all
    }
}

/// What the harness knows of one key. Writes to a key come from one writer only, one
/// at a time, so this is exact except for the single write whose answer never came.
#[derive(Debug, Clone)]
pub struct KeyModel {
    pub key: String,
    /// The item as the last acknowledged write left it (or as the last check found it).
    pub state: Option<Item>,
    /// The write in flight when its answer was lost: what the item is if it applied.
    pub pending: Option<Pending>,
}

/// A write with an unknown outcome.
#[derive(Debug, Clone)]
pub struct Pending {
    pub result: Option<Item>,
    /// The transaction it belongs to, whose keys must all have applied or none.
    pub transaction: Option<String>,
}
