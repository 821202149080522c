//! Literals and parameters as attribute values, and parsed conditions, paths and
//! values written as the JSON API's expressions, with generated `#pN` names and `:vN`
//! values.
//!
//! Owns the placeholders and the expression syntax. Must not know which operation a
//! statement becomes.

use std::collections::{BTreeMap, HashMap};

use super::ast::{Expr, Path, Step};
use super::{malformed, validation};
use crate::error::Result;
use crate::items::input::ExpressionAttributes;
use crate::number::Number;
use crate::value::AttributeValue;

/// `(s)`, unless `s` is already one parenthesized whole: the expression language
/// refuses redundant parentheses. Names and values are placeholders, so every
/// parenthesis in `s` is syntax.
pub(super) fn paren(s: String) -> String {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 && i + 1 < s.len() {
                    return format!("({s})");
                }
            }
            _ if depth == 0 => return format!("({s})"),
            _ => {}
        }
    }
    if s.starts_with('(') {
        s
    } else {
        format!("({s})")
    }
}

/// Writes expressions of the JSON API with generated placeholders.
pub(super) struct Printer<'p> {
    pub(super) params: &'p [AttributeValue],
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl<'p> Printer<'p> {
    pub(super) fn new(params: &'p [AttributeValue]) -> Self {
        Printer {
            params,
            names: HashMap::new(),
            values: HashMap::new(),
        }
    }

    pub(super) fn finish(self) -> ExpressionAttributes {
        // Each placeholder names its attribute; the map is keyed the other way round.
        let names: HashMap<String, String> = self
            .names
            .into_iter()
            .map(|(name, ph)| (ph, name))
            .collect();
        ExpressionAttributes {
            names: (!names.is_empty()).then_some(names),
            values: (!self.values.is_empty()).then_some(self.values),
        }
    }

    pub(super) fn name(&mut self, name: &str) -> String {
        let next = format!("#p{}", self.names.len());
        self.names.entry(name.to_owned()).or_insert(next).clone()
    }

    pub(super) fn value(&mut self, v: AttributeValue) -> String {
        let ph = format!(":v{}", self.values.len());
        self.values.insert(ph.clone(), v);
        ph
    }

    pub(super) fn path(&mut self, p: &Path) -> String {
        let mut out = self.name(&p.name);
        for step in &p.steps {
            match step {
                Step::Key(k) => {
                    out.push('.');
                    out.push_str(&self.name(k));
                }
                Step::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }

    /// An operand of a comparison or the value of a SET.
    pub(super) fn operand(&mut self, e: &Expr) -> Result<String> {
        Ok(match e {
            Expr::Path(p) => self.path(p),
            Expr::Arith(plus, a, b) => format!(
                "{} {} {}",
                self.operand(a)?,
                if *plus { "+" } else { "-" },
                self.operand(b)?
            ),
            Expr::Call(f, args)
                if matches!(f.as_str(), "size" | "list_append" | "if_not_exists") =>
            {
                let args = args
                    .iter()
                    .map(|a| self.operand(a))
                    .collect::<Result<Vec<_>>>()?;
                format!("{f}({})", args.join(", "))
            }
            Expr::Call(f, _) => return Err(validation(format!("Unrecognized function: {f}"))),
            other => {
                let v = value_of(other, self.params)?;
                self.value(v)
            }
        })
    }

    pub(super) fn and_all(&mut self, conds: &[&Expr]) -> Result<String> {
        let parts = conds
            .iter()
            .map(|c| self.cond(c).map(paren))
            .collect::<Result<Vec<_>>>()?;
        Ok(parts.join(" AND "))
    }

    /// An operand of a condition: arithmetic is for SET values only.
    pub(super) fn cond_operand(&mut self, e: &Expr) -> Result<String> {
        match e {
            Expr::Arith(plus, _, _) => Err(validation(format!(
                "Unsupported operator in Condition Expression. Operator: {}",
                if *plus { "+" } else { "-" }
            ))),
            Expr::Call(f, _) if f == "size" => self.operand(e),
            Expr::Call(f, _) => Err(validation(format!("Unrecognized function: {f}"))),
            _ => self.operand(e),
        }
    }

    /// A condition of a WHERE.
    pub(super) fn cond(&mut self, e: &Expr) -> Result<String> {
        let path_of = |e: &Expr| match e {
            Expr::Path(p) => Ok(p.clone()),
            _ => Err(validation(
                "The left hand side argument to IS must be a Variable Reference, Literal, or Path",
            )),
        };
        Ok(match e {
            Expr::And(a, b) => format!("{} AND {}", paren(self.cond(a)?), paren(self.cond(b)?)),
            Expr::Or(a, b) => format!("{} OR {}", paren(self.cond(a)?), paren(self.cond(b)?)),
            Expr::Not(a) => format!("NOT {}", paren(self.cond(a)?)),
            Expr::Cmp(op, a, b) => {
                if matches!(**a, Expr::Missing) || matches!(**b, Expr::Missing) {
                    return Err(validation("MISSING must be compared using IS operator"));
                }
                format!(
                    "{} {} {}",
                    self.cond_operand(a)?,
                    op.symbol(),
                    self.cond_operand(b)?
                )
            }
            Expr::Between(a, low, high) => format!(
                "{} BETWEEN {} AND {}",
                self.cond_operand(a)?,
                self.cond_operand(low)?,
                self.cond_operand(high)?
            ),
            Expr::In(a, items) => {
                if items.is_empty() || !matches!(**a, Expr::Path(_)) {
                    return Err(validation(
                        "IN operator must have a left hand argument of type Variable Reference and right hand argument of type Seq with at least one member",
                    ));
                }
                let left = self.cond_operand(a)?;
                let items = items
                    .iter()
                    .map(|i| self.cond_operand(i))
                    .collect::<Result<Vec<_>>>()?;
                format!("{left} IN ({})", items.join(", "))
            }
            Expr::IsMissing(a, negated) => {
                let p = self.path(&path_of(a)?);
                if *negated {
                    format!("attribute_exists({p})")
                } else {
                    format!("attribute_not_exists({p})")
                }
            }
            Expr::IsNull(a, negated) => {
                // In PartiQL a missing attribute IS NULL too.
                let p = self.path(&path_of(a)?);
                let null = self.value(AttributeValue::S("NULL".into()));
                let is_null = format!("attribute_not_exists({p}) OR attribute_type({p}, {null})");
                if *negated {
                    format!("NOT ({is_null})")
                } else {
                    is_null
                }
            }
            Expr::Call(f, args)
                if matches!(
                    f.as_str(),
                    "begins_with"
                        | "contains"
                        | "attribute_type"
                        | "attribute_exists"
                        | "attribute_not_exists"
                ) =>
            {
                let args = args
                    .iter()
                    .map(|a| self.cond_operand(a))
                    .collect::<Result<Vec<_>>>()?;
                format!("{f}({})", args.join(", "))
            }
            Expr::Call(f, args) if f == "missing" => {
                let [a] = args.as_slice() else {
                    return Err(validation("Unrecognized function: missing"));
                };
                format!("attribute_not_exists({})", self.path(&path_of(a)?))
            }
            Expr::Call(f, _) if !matches!(f.as_str(), "size" | "list_append" | "if_not_exists") => {
                return Err(validation(format!("Unrecognized function: {f}")));
            }
            _ => {
                return Err(validation(
                    "WHERE clause must contain an expression that resolves to a boolean",
                ));
            }
        })
    }
}

/// The attribute value of a literal, tuple, list, bag or parameter.
pub(super) fn value_of(e: &Expr, params: &[AttributeValue]) -> Result<AttributeValue> {
    Ok(match e {
        Expr::Str(s) => AttributeValue::S(s.clone()),
        Expr::Num(n) => AttributeValue::N(Number::parse(n)?),
        Expr::Bool(b) => AttributeValue::Bool(*b),
        Expr::Null => AttributeValue::Null,
        Expr::Param(i) => params.get(*i).cloned().ok_or_else(|| {
            validation("Number of parameters in request and statement don't match.")
        })?,
        Expr::Tuple(fields) => {
            let mut m = BTreeMap::new();
            for (k, v) in fields {
                if m.insert(k.clone(), value_of(v, params)?).is_some() {
                    return Err(validation(format!("Duplicate keys in tuple. Key: {k}")));
                }
            }
            AttributeValue::M(m)
        }
        Expr::List(items) => AttributeValue::L(
            items
                .iter()
                .map(|v| value_of(v, params))
                .collect::<Result<_>>()?,
        ),
        Expr::Bag(items) => bag(items, params)?,
        Expr::Missing => return Err(validation("MISSING must be compared using IS operator")),
        _ => return Err(malformed("Expected a value")),
    })
}

fn bag(items: &[Expr], params: &[AttributeValue]) -> Result<AttributeValue> {
    const MIXED: &str =
        "Unsupported data type in Bag. DynamoDB only supports either numbers or strings in bags";
    let values = items
        .iter()
        .map(|v| value_of(v, params))
        .collect::<Result<Vec<_>>>()?;
    let mut strings = Vec::new();
    let mut numbers = Vec::new();
    for v in values {
        match v {
            AttributeValue::S(s) => strings.push(s),
            AttributeValue::N(n) => numbers.push(n),
            _ => return Err(validation(MIXED)),
        }
    }
    match (strings.is_empty(), numbers.is_empty()) {
        (true, true) => Err(validation("Empty bags are not supported")),
        (false, true) => Ok(AttributeValue::Ss(strings)),
        (true, false) => Ok(AttributeValue::Ns(numbers)),
        (false, false) => Err(validation(MIXED)),
    }
}
