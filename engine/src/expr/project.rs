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

#[cfg(test)]
mod tests {
    use crate::error::Error;
    use crate::expr::Resolver;

    fn projection(expr: &str) -> Result<usize, String> {
        let mut r = Resolver::new(None, None).unwrap();
        match r.projection(expr) {
            Ok(p) => Ok(p.paths.len()),
            Err(Error::Validation(m)) => Err(m),
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn a_path_has_at_most_32_levels() {
        let deepest = format!("a{}", ".b".repeat(31));
        assert_eq!(projection(&deepest), Ok(1));
        // List indexes count as levels too.
        let with_index = format!("a{}[0]", ".b".repeat(30));
        assert_eq!(projection(&with_index), Ok(1));
        assert_eq!(
            projection(&format!("x, a{}", ".b".repeat(32))),
            Err(
                "Invalid ProjectionExpression: The document path has too many nesting levels; nesting levels: 33"
                    .to_string()
            )
        );
    }

    #[test]
    fn a_list_index_fits_a_32_bit_integer() {
        assert_eq!(projection("a[2147483647]"), Ok(1));
        for index in ["2147483648", "99999999999999", "99999999999999999999999"] {
            assert_eq!(
                projection(&format!("a[{index}]")),
                Err(format!(
                    "Invalid ProjectionExpression: List index is not within the allowable range; index: [{index}]"
                ))
            );
        }
    }
}
