//! The expression AST and its `Display`, which prints an expression back in a form that
//! re-parses (with the same ExpressionAttributeNames/Values) to an equal AST.
//!
//! Names and values are stored resolved (so evaluation needs no lookup) together with
//! the placeholder they were written with (so printing can reproduce `#n` / `:v`).

use std::fmt;

use crate::value::AttributeValue;

/// One attribute-name segment of a document path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// The attribute name after substitution.
    pub name: String,
    /// The `#placeholder` it was written as, or `None` for a literal identifier.
    pub placeholder: Option<String>,
}

impl Name {
    /// A literal (unquoted) name.
    pub fn literal(name: impl Into<String>) -> Name {
        Name {
            name: name.into(),
            placeholder: None,
        }
    }
}

/// One step of a document path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathElem {
    /// `.name` (or the leading name).
    Attr(Name),
    /// `[index]`.
    Index(usize),
}

/// A document path such as `a.b[2].#c`. The first element is always an [`PathElem::Attr`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub elems: Vec<PathElem>,
}

impl Path {
    /// The top-level attribute name the path starts with.
    pub fn head(&self) -> &str {
        match self.elems.first() {
            Some(PathElem::Attr(n)) => &n.name,
            _ => "",
        }
    }

    /// DynamoDB's rendering of a path in messages: `[a, b, [2]]`.
    pub fn message_form(&self) -> String {
        let parts: Vec<String> = self
            .elems
            .iter()
            .map(|e| match e {
                PathElem::Attr(n) => n.name.clone(),
                PathElem::Index(i) => format!("[{i}]"),
            })
            .collect();
        format!("[{}]", parts.join(", "))
    }

    /// Whether two paths address the same location (placeholders ignored).
    pub fn same_location(&self, other: &Path) -> bool {
        self.elems.len() == other.elems.len()
            && self
                .elems
                .iter()
                .zip(&other.elems)
                .all(|(a, b)| elem_eq(a, b))
    }
}

pub(crate) fn elem_eq(a: &PathElem, b: &PathElem) -> bool {
    match (a, b) {
        (PathElem::Attr(x), PathElem::Attr(y)) => x.name == y.name,
        (PathElem::Index(x), PathElem::Index(y)) => x == y,
        _ => false,
    }
}

/// An `:placeholder` together with the value it stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub placeholder: String,
    pub value: AttributeValue,
}

/// An operand of a comparison or function in a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Path(Path),
    Value(Value),
    /// `size(operand)`.
    Size(Box<Operand>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Comparator {
    pub fn symbol(self) -> &'static str {
        match self {
            Comparator::Eq => "=",
            Comparator::Ne => "<>",
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
        }
    }
}

/// A ConditionExpression / FilterExpression (also the raw form of a KeyConditionExpression).
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare(Comparator, Operand, Operand),
    /// `operand BETWEEN low AND high`.
    Between(Operand, Operand, Operand),
    /// `operand IN (list…)`.
    In(Operand, Vec<Operand>),
    AttributeExists(Path),
    AttributeNotExists(Path),
    /// `attribute_type(path, :type)`.
    AttributeType(Path, Operand),
    BeginsWith(Operand, Operand),
    Contains(Operand, Operand),
    Not(Box<Condition>),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
}

impl Operand {
    fn attribute_paths<'a>(&'a self, out: &mut Vec<&'a Path>) {
        match self {
            Operand::Path(p) => out.push(p),
            Operand::Value(_) => {}
            Operand::Size(o) => o.attribute_paths(out),
        }
    }
}

impl Condition {
    /// The top-level attribute names the condition reads, in order, with repeats.
    pub fn attribute_heads<'a>(&'a self, out: &mut Vec<&'a str>) {
        let mut paths = Vec::new();
        self.attribute_paths(&mut paths);
        out.extend(paths.into_iter().map(Path::head));
    }

    /// The document paths the condition reads, in order, with repeats.
    pub fn attribute_paths<'a>(&'a self, out: &mut Vec<&'a Path>) {
        match self {
            Condition::Compare(_, a, b)
            | Condition::BeginsWith(a, b)
            | Condition::Contains(a, b) => {
                a.attribute_paths(out);
                b.attribute_paths(out);
            }
            Condition::Between(a, b, c) => {
                for o in [a, b, c] {
                    o.attribute_paths(out);
                }
            }
            Condition::In(a, list) => {
                a.attribute_paths(out);
                for o in list {
                    o.attribute_paths(out);
                }
            }
            Condition::AttributeExists(p) | Condition::AttributeNotExists(p) => out.push(p),
            Condition::AttributeType(p, o) => {
                out.push(p);
                o.attribute_paths(out);
            }
            Condition::Not(c) => c.attribute_paths(out),
            Condition::And(a, b) | Condition::Or(a, b) => {
                a.attribute_paths(out);
                b.attribute_paths(out);
            }
        }
    }

    /// The function name if this node is a function call, for messages.
    pub(crate) fn function_name(&self) -> Option<&'static str> {
        Some(match self {
            Condition::AttributeExists(_) => "attribute_exists",
            Condition::AttributeNotExists(_) => "attribute_not_exists",
            Condition::AttributeType(..) => "attribute_type",
            Condition::BeginsWith(..) => "begins_with",
            Condition::Contains(..) => "contains",
            _ => return None,
        })
    }
}

/// An operand of an update action's value.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateOperand {
    Path(Path),
    Value(Value),
    /// `if_not_exists(path, operand)`.
    IfNotExists(Path, Box<UpdateOperand>),
    /// `list_append(a, b)`.
    ListAppend(Box<UpdateOperand>, Box<UpdateOperand>),
}

/// The right-hand side of a `SET` action.
#[derive(Debug, Clone, PartialEq)]
pub enum SetValue {
    Operand(UpdateOperand),
    Plus(UpdateOperand, UpdateOperand),
    Minus(UpdateOperand, UpdateOperand),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SetAction {
    pub path: Path,
    pub value: SetValue,
}

/// `ADD path :v` or `DELETE path :v`.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueAction {
    pub path: Path,
    pub value: Value,
}

/// An UpdateExpression: its four clauses (each possibly empty), actions in source order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpdateExpr {
    pub set: Vec<SetAction>,
    pub remove: Vec<Path>,
    pub add: Vec<ValueAction>,
    pub delete: Vec<ValueAction>,
}

/// A ProjectionExpression: the paths to return.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub paths: Vec<Path>,
}

// ---------------------------------------------------------------------------------------
// Display

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.placeholder {
            Some(p) => f.write_str(p),
            None => f.write_str(&self.name),
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.elems.iter().enumerate() {
            match e {
                PathElem::Attr(n) if i == 0 => write!(f, "{n}")?,
                PathElem::Attr(n) => write!(f, ".{n}")?,
                PathElem::Index(ix) => write!(f, "[{ix}]")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.placeholder)
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Path(p) => write!(f, "{p}"),
            Operand::Value(v) => write!(f, "{v}"),
            Operand::Size(o) => write!(f, "size({o})"),
        }
    }
}

impl fmt::Display for Comparator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// Binding strength for printing: higher binds tighter.
fn strength(c: &Condition) -> u8 {
    match c {
        Condition::Or(..) => 1,
        Condition::And(..) => 2,
        Condition::Not(..) => 3,
        _ => 4,
    }
}

fn write_child(f: &mut fmt::Formatter<'_>, c: &Condition, min: u8) -> fmt::Result {
    if strength(c) < min {
        write!(f, "({c})")
    } else {
        write!(f, "{c}")
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Compare(op, a, b) => write!(f, "{a} {op} {b}"),
            Condition::Between(a, lo, hi) => write!(f, "{a} BETWEEN {lo} AND {hi}"),
            Condition::In(a, list) => {
                write!(f, "{a} IN (")?;
                for (i, o) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{o}")?;
                }
                f.write_str(")")
            }
            Condition::AttributeExists(p) => write!(f, "attribute_exists({p})"),
            Condition::AttributeNotExists(p) => write!(f, "attribute_not_exists({p})"),
            Condition::AttributeType(p, t) => write!(f, "attribute_type({p}, {t})"),
            Condition::BeginsWith(a, b) => write!(f, "begins_with({a}, {b})"),
            Condition::Contains(a, b) => write!(f, "contains({a}, {b})"),
            Condition::Not(c) => {
                f.write_str("NOT ")?;
                write_child(f, c, 3)
            }
            // The parser is left-associative: a right child of the same operator needs
            // parentheses to keep its shape.
            Condition::And(a, b) => {
                write_child(f, a, 2)?;
                f.write_str(" AND ")?;
                write_child(f, b, 3)
            }
            Condition::Or(a, b) => {
                write_child(f, a, 1)?;
                f.write_str(" OR ")?;
                write_child(f, b, 2)
            }
        }
    }
}

impl fmt::Display for UpdateOperand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpdateOperand::Path(p) => write!(f, "{p}"),
            UpdateOperand::Value(v) => write!(f, "{v}"),
            UpdateOperand::IfNotExists(p, o) => write!(f, "if_not_exists({p}, {o})"),
            UpdateOperand::ListAppend(a, b) => write!(f, "list_append({a}, {b})"),
        }
    }
}

impl fmt::Display for SetValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetValue::Operand(o) => write!(f, "{o}"),
            SetValue::Plus(a, b) => write!(f, "{a} + {b}"),
            SetValue::Minus(a, b) => write!(f, "{a} - {b}"),
        }
    }
}

impl fmt::Display for UpdateExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut clause = |f: &mut fmt::Formatter<'_>, kw: &str, items: Vec<String>| {
            if items.is_empty() {
                return Ok(());
            }
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(f, "{kw} {}", items.join(", "))
        };
        clause(
            f,
            "SET",
            self.set
                .iter()
                .map(|a| format!("{} = {}", a.path, a.value))
                .collect(),
        )?;
        clause(
            f,
            "REMOVE",
            self.remove.iter().map(|p| p.to_string()).collect(),
        )?;
        clause(
            f,
            "ADD",
            self.add
                .iter()
                .map(|a| format!("{} {}", a.path, a.value))
                .collect(),
        )?;
        clause(
            f,
            "DELETE",
            self.delete
                .iter()
                .map(|a| format!("{} {}", a.path, a.value))
                .collect(),
        )
    }
}

impl fmt::Display for Projection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.paths.iter().map(|p| p.to_string()).collect();
        f.write_str(&parts.join(", "))
    }
}
