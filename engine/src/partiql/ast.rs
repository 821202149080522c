//! The PartiQL statements DynamoDB runs, as the parser builds them: one table (or
//! index) per statement, and one expression tree shared by conditions, values and
//! paths. Parameters stay `?` placeholders here; lowering binds them.
//!
//! Owns the tree's shape. Must not know the table's key schema or the JSON API.

/// One statement of `ExecuteStatement`, a batch or a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    Select(Select),
    Insert(Insert),
    Update(Update),
    Delete(Delete),
    /// `EXISTS(SELECT ...)`: a transaction's condition check on one item.
    Exists(Select),
}

impl Statement {
    /// The table the statement names (its index, if any, is in [`Select::index`]).
    pub fn table(&self) -> &str {
        match self {
            Statement::Select(s) => &s.table,
            Statement::Insert(s) => &s.table,
            Statement::Update(s) => &s.table,
            Statement::Delete(s) => &s.table,
            Statement::Exists(s) => &s.table,
        }
    }

    pub fn is_select(&self) -> bool {
        matches!(self, Statement::Select(_))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    /// `None` for `SELECT *`; otherwise the projected paths, in order.
    pub projection: Option<Vec<Path>>,
    pub table: String,
    /// `FROM "table"."index"`.
    pub index: Option<String>,
    pub filter: Option<Expr>,
    /// `ORDER BY`: the attribute and whether it is descending.
    pub order_by: Vec<(String, bool)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Insert {
    pub table: String,
    /// The `VALUE` tuple.
    pub item: Expr,
}

/// `RETURNING` of an UPDATE or DELETE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returning {
    AllOld,
    ModifiedOld,
    AllNew,
    ModifiedNew,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub table: String,
    pub actions: Vec<UpdateAction>,
    pub filter: Expr,
    pub returning: Option<Returning>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum UpdateAction {
    Set(Path, Expr),
    Remove(Path),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Delete {
    pub table: String,
    pub filter: Expr,
    pub returning: Option<Returning>,
}

/// A document path: an attribute name, then map keys and list indexes.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub name: String,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Key(String),
    Index(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Path(Path),
    /// `'text'`.
    Str(String),
    /// A number literal, as written.
    Num(String),
    Bool(bool),
    Null,
    Missing,
    /// The `n`-th `?` of the statement (0-based).
    Param(usize),
    /// `{'k': v, ...}`.
    Tuple(Vec<(String, Expr)>),
    /// `[v, ...]`.
    List(Vec<Expr>),
    /// `<<v, ...>>`: a string, number or binary set.
    Bag(Vec<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    Between(Box<Expr>, Box<Expr>, Box<Expr>),
    In(Box<Expr>, Vec<Expr>),
    /// `x IS [NOT] MISSING` (`true` when negated).
    IsMissing(Box<Expr>, bool),
    /// `x IS [NOT] NULL`.
    IsNull(Box<Expr>, bool),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    /// `a + b` (`true`) or `a - b`.
    Arith(bool, Box<Expr>, Box<Expr>),
    /// A function call; the name is lower-cased.
    Call(String, Vec<Expr>),
}
