//! ProjectionExpression evaluation: the sub-document of an item that a list of paths
//! selects. Maps keep their structure; list elements selected by index are compacted
//! into a list in index order; paths that select nothing contribute nothing.

use std::collections::BTreeMap;

use super::ast::{Path, PathElem, Projection};
use crate::value::{AttributeValue, Item};

/// What to take from a value: all of it, or some of its map keys / list indexes.
#[derive(Default)]
struct Node {
    whole: bool,
    keys: BTreeMap<String, Node>,
    indexes: BTreeMap<usize, Node>,
}

impl Node {
    fn insert(&mut self, elems: &[PathElem]) {
        match elems.split_first() {
            None => self.whole = true,
            Some((PathElem::Attr(n), rest)) => {
                self.keys.entry(n.name.clone()).or_default().insert(rest)
            }
            Some((PathElem::Index(i), rest)) => self.indexes.entry(*i).or_default().insert(rest),
        }
    }

    fn extract(&self, v: &AttributeValue) -> Option<AttributeValue> {
        if self.whole {
            return Some(v.clone());
        }
        match v {
            AttributeValue::M(m) if !self.keys.is_empty() => {
                let out: BTreeMap<String, AttributeValue> = self
                    .keys
                    .iter()
                    .filter_map(|(k, n)| Some((k.clone(), n.extract(m.get(k)?)?)))
                    .collect();
                (!out.is_empty()).then_some(AttributeValue::M(out))
            }
            AttributeValue::L(l) if !self.indexes.is_empty() => {
                let out: Vec<AttributeValue> = self
                    .indexes
                    .iter()
                    .filter_map(|(i, n)| n.extract(l.get(*i)?))
                    .collect();
                (!out.is_empty()).then_some(AttributeValue::L(out))
            }
            _ => None,
        }
    }
}

/// The projection of `item` onto `paths`, as DynamoDB returns it.
pub fn project(item: &Item, paths: &[Path]) -> Item {
    let mut root = Node::default();
    for p in paths {
        root.insert(&p.elems);
    }
    root.keys
        .iter()
        .filter_map(|(k, n)| Some((k.clone(), n.extract(item.get(k)?)?)))
        .collect()
}

impl Projection {
    /// The projection of `item` onto this expression's paths.
    pub fn apply(&self, item: &Item) -> Item {
        project(item, &self.paths)
    }
}
