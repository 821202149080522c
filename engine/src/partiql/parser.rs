//! A recursive-descent parser of the PartiQL statements DynamoDB runs: SELECT, INSERT,
//! UPDATE and DELETE, with conditions (comparisons, BETWEEN, IN, IS [NOT] MISSING,
//! AND/OR/NOT, function calls) and literals (strings, numbers, booleans, NULL,
//! `{tuples}`, `[lists]`, `<<bags>>`, `?` parameters).
//!
//! Owns the grammar. Must not know the table's key schema: whether a WHERE names the
//! key is lowering's question.

use super::ast::{
    CmpOp, Delete, Expr, Insert, Path, Returning, Select, Statement, Step, Update, UpdateAction,
};
use super::lexer::{Tok, lex_spanned};
use super::{incomplete_key, malformed, validation};
use crate::error::Result;
use std::ops::Range;

/// Words that cannot be a bare attribute or table name (quote them to use them).
const RESERVED: &[&str] = &[
    "select",
    "from",
    "where",
    "and",
    "or",
    "not",
    "in",
    "is",
    "between",
    "set",
    "remove",
    "value",
    "insert",
    "into",
    "update",
    "delete",
    "missing",
    "null",
    "true",
    "false",
    "order",
    "by",
    "returning",
];

/// Deepest nesting of expressions the parser follows, so a hostile statement cannot
/// exhaust the stack (values nest at most 32 deep, so no valid statement comes near it).
const EXPR_DEPTH_MAX: usize = 100;

/// Parses one statement (an optional `;` may end it).
pub fn parse(src: &str) -> Result<Statement> {
    parse_spanned(src).map(|(stmt, _)| stmt)
}

/// The statement's table name and the byte range of `src` that names it (a bare or
/// `"quoted"` name, quotes included), if the statement parses: what a caller that
/// keeps tables under other names rewrites before the statement is run.
pub fn table_name_span(src: &str) -> Option<(String, Range<usize>)> {
    parse_spanned(src)
        .ok()
        .map(|(stmt, span)| (stmt.table().to_owned(), span))
}

fn parse_spanned(src: &str) -> Result<(Statement, Range<usize>)> {
    let (toks, spans): (Vec<Tok>, Vec<Range<usize>>) = lex_spanned(src)?.into_iter().unzip();
    let mut p = Parser {
        toks,
        pos: 0,
        params: 0,
        depth: 0,
        table_at: 0,
    };
    let stmt = if p.keyword("select") {
        Statement::Select(p.select()?)
    } else if p.keyword("insert") {
        Statement::Insert(p.insert()?)
    } else if p.keyword("update") {
        Statement::Update(p.update()?)
    } else if p.keyword("delete") {
        Statement::Delete(p.delete()?)
    } else if p.keyword("exists") {
        p.expect_punct("(")?;
        p.expect_keyword("select")?;
        let select = p.select()?;
        p.expect_punct(")")?;
        Statement::Exists(select)
    } else {
        return Err(malformed("Expected data manipulation"));
    };
    p.punct(";");
    if p.pos < p.toks.len() {
        return Err(malformed("Unexpected token after expression"));
    }
    let span = spans.get(p.table_at).cloned().unwrap_or_default();
    Ok((stmt, span))
}

/// How many `?` a statement holds, counted as the parser numbered them.
pub fn parameter_count(stmt: &Statement) -> usize {
    fn walk(e: &Expr) -> usize {
        match e {
            Expr::Param(i) => i + 1,
            Expr::Tuple(kv) => kv.iter().map(|(_, v)| walk(v)).max().unwrap_or(0),
            Expr::List(v) | Expr::Bag(v) | Expr::Call(_, v) => {
                v.iter().map(walk).max().unwrap_or(0)
            }
            Expr::Cmp(_, a, b) | Expr::And(a, b) | Expr::Or(a, b) | Expr::Arith(_, a, b) => {
                walk(a).max(walk(b))
            }
            Expr::Between(a, b, c) => walk(a).max(walk(b)).max(walk(c)),
            Expr::In(a, v) => v.iter().map(walk).max().unwrap_or(0).max(walk(a)),
            Expr::IsMissing(a, _) | Expr::IsNull(a, _) | Expr::Not(a) => walk(a),
            _ => 0,
        }
    }
    match stmt {
        Statement::Select(s) | Statement::Exists(s) => s.filter.as_ref().map_or(0, walk),
        Statement::Insert(s) => walk(&s.item),
        Statement::Update(s) => s
            .actions
            .iter()
            .map(|a| match a {
                UpdateAction::Set(_, v) => walk(v),
                UpdateAction::Remove(_) => 0,
            })
            .max()
            .unwrap_or(0)
            .max(walk(&s.filter)),
        Statement::Delete(s) => walk(&s.filter),
    }
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    /// `?` seen so far: the next one's number.
    params: usize,
    depth: usize,
    /// The index in `toks` of the table's name.
    table_at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn peek_is_keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case(word))
    }

    /// Takes the keyword if it comes next.
    fn keyword(&mut self, word: &str) -> bool {
        let yes = self.peek_is_keyword(word);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn expect_keyword(&mut self, word: &str) -> Result<()> {
        if self.keyword(word) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    /// Takes the punctuation if it comes next.
    fn punct(&mut self, p: &str) -> bool {
        let yes = matches!(self.peek(), Some(Tok::Punct(q)) if *q == p);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn expect_punct(&mut self, p: &str) -> Result<()> {
        if self.punct(p) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn unexpected(&self) -> crate::error::Error {
        match self.peek() {
            None => malformed("Unexpected end of statement"),
            Some(Tok::Ident(w)) if RESERVED.contains(&w.to_ascii_lowercase().as_str()) => {
                malformed(&format!("Unexpected keyword: {w}"))
            }
            Some(t) => malformed(&format!("Unexpected token: {}", show(t))),
        }
    }

    /// The statement's table name, whose token is remembered.
    fn table_name(&mut self) -> Result<String> {
        self.table_at = self.pos;
        self.name()
    }

    /// A table, attribute or index name: bare (not a keyword) or `"quoted"`.
    fn name(&mut self) -> Result<String> {
        match self.peek() {
            Some(Tok::Quoted(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            Some(Tok::Ident(w)) if !RESERVED.contains(&w.to_ascii_lowercase().as_str()) => {
                let w = w.clone();
                self.pos += 1;
                Ok(w)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn path(&mut self) -> Result<Path> {
        let name = self.name()?;
        self.path_steps(name)
    }

    fn path_steps(&mut self, name: String) -> Result<Path> {
        let mut steps = Vec::new();
        loop {
            if self.punct(".") {
                steps.push(Step::Key(self.name()?));
            } else if self.punct("[") {
                let index = match self.peek() {
                    Some(Tok::Num(n)) => n
                        .parse::<u32>()
                        .map_err(|_| malformed(&format!("Invalid list index: {n}")))?,
                    _ => return Err(self.unexpected()),
                };
                self.pos += 1;
                self.expect_punct("]")?;
                steps.push(Step::Index(index));
            } else {
                return Ok(Path { name, steps });
            }
        }
    }

    fn select(&mut self) -> Result<Select> {
        let projection = if self.punct("*") {
            if matches!(self.peek(), Some(Tok::Punct(","))) {
                return Err(validation(
                    "Other attributes should not be present in the projection when '*' is used.",
                ));
            }
            None
        } else {
            let mut paths = vec![self.path()?];
            while self.punct(",") {
                paths.push(self.path()?);
            }
            Some(paths)
        };
        self.expect_keyword("from")?;
        let table = self.table_name()?;
        let index = if self.punct(".") {
            Some(self.name()?)
        } else {
            None
        };
        self.no_alias()?;
        if matches!(self.peek(), Some(Tok::Punct(","))) {
            return Err(validation(
                "Only select from a single table or index is supported.",
            ));
        }
        let filter = if self.keyword("where") {
            Some(self.expr()?)
        } else {
            None
        };
        let mut order_by = Vec::new();
        if self.keyword("order") {
            self.expect_keyword("by")?;
            loop {
                let key = self.name()?;
                let desc = if self.keyword("desc") {
                    true
                } else {
                    self.keyword("asc");
                    false
                };
                order_by.push((key, desc));
                if !self.punct(",") {
                    break;
                }
            }
        }
        Ok(Select {
            projection,
            table,
            index,
            filter,
            order_by,
        })
    }

    fn insert(&mut self) -> Result<Insert> {
        self.expect_keyword("into")?;
        let table = self.table_name()?;
        if matches!(self.peek(), Some(Tok::Punct("<<"))) {
            return Err(validation(
                "Unsupported operation: Inserting multiple items in a single statement is not supported, use \"INSERT INTO tableName VALUE item\" instead",
            ));
        }
        self.expect_keyword("value")?;
        let item = self.expr()?;
        Ok(Insert { table, item })
    }

    fn update(&mut self) -> Result<Update> {
        let table = self.table_name()?;
        let mut actions = Vec::new();
        loop {
            if self.keyword("set") {
                loop {
                    let path = self.path()?;
                    self.expect_punct("=")?;
                    actions.push(UpdateAction::Set(path, self.additive()?));
                    if !self.punct(",") {
                        break;
                    }
                }
            } else if self.keyword("remove") {
                loop {
                    actions.push(UpdateAction::Remove(self.path()?));
                    if !self.punct(",") {
                        break;
                    }
                }
            } else {
                break;
            }
        }
        if actions.is_empty() {
            return Err(self.unexpected());
        }
        let filter = self.where_clause()?;
        let returning = self.returning()?;
        Ok(Update {
            table,
            actions,
            filter,
            returning,
        })
    }

    fn delete(&mut self) -> Result<Delete> {
        self.expect_keyword("from")?;
        let table = self.table_name()?;
        let filter = self.where_clause()?;
        let returning = self.returning()?;
        Ok(Delete {
            table,
            filter,
            returning,
        })
    }

    /// `FROM t AS x` or `FROM t x`: DynamoDB names no row, so an alias is refused.
    fn no_alias(&mut self) -> Result<()> {
        // SQL clauses DynamoDB does not have are syntax errors, not aliases.
        const CLAUSES: &[&str] = &[
            "limit", "offset", "group", "having", "join", "inner", "left", "right", "union",
        ];
        let alias = self.peek_is_keyword("as")
            || matches!(self.peek(), Some(Tok::Ident(w))
                if !RESERVED.contains(&w.to_ascii_lowercase().as_str())
                    && !CLAUSES.contains(&w.to_ascii_lowercase().as_str()));
        if alias {
            return Err(validation("Aliasing is not supported"));
        }
        Ok(())
    }

    /// The WHERE an UPDATE or DELETE must have: without one, no key is named.
    fn where_clause(&mut self) -> Result<Expr> {
        if self.keyword("where") {
            self.expr()
        } else if self.peek().is_none() || matches!(self.peek(), Some(Tok::Punct(";"))) {
            Err(incomplete_key())
        } else {
            Err(self.unexpected())
        }
    }

    /// `RETURNING (ALL | MODIFIED) (OLD | NEW) *`.
    fn returning(&mut self) -> Result<Option<Returning>> {
        if !self.keyword("returning") {
            return Ok(None);
        }
        let all = if self.keyword("all") {
            true
        } else if self.keyword("modified") {
            false
        } else {
            return Err(self.unexpected());
        };
        let old = if self.keyword("old") {
            true
        } else if self.keyword("new") {
            false
        } else {
            return Err(self.unexpected());
        };
        if !self.punct("*") {
            return Err(validation(
                "Expected '*' after ( MODIFIED | ALL ) ( NEW | OLD ) in RETURNING clause",
            ));
        }
        Ok(Some(match (all, old) {
            (true, true) => Returning::AllOld,
            (false, true) => Returning::ModifiedOld,
            (true, false) => Returning::AllNew,
            (false, false) => Returning::ModifiedNew,
        }))
    }

    fn expr(&mut self) -> Result<Expr> {
        self.depth += 1;
        if self.depth > EXPR_DEPTH_MAX {
            return Err(malformed("Expression is nested too deeply"));
        }
        let e = self.or();
        self.depth -= 1;
        e
    }

    fn or(&mut self) -> Result<Expr> {
        let mut left = self.and()?;
        while self.keyword("or") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr> {
        let mut left = self.not()?;
        while self.keyword("and") {
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr> {
        if self.keyword("not") {
            self.depth += 1;
            if self.depth > EXPR_DEPTH_MAX {
                return Err(malformed("Expression is nested too deeply"));
            }
            let e = self.not().map(|e| Expr::Not(Box::new(e)));
            self.depth -= 1;
            return e;
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr> {
        let left = self.additive()?;
        let cmp = match self.peek() {
            Some(Tok::Punct("=")) => Some(CmpOp::Eq),
            Some(Tok::Punct("<>" | "!=")) => Some(CmpOp::Ne),
            Some(Tok::Punct("<")) => Some(CmpOp::Lt),
            Some(Tok::Punct("<=")) => Some(CmpOp::Le),
            Some(Tok::Punct(">")) => Some(CmpOp::Gt),
            Some(Tok::Punct(">=")) => Some(CmpOp::Ge),
            _ => None,
        };
        if let Some(op) = cmp {
            self.pos += 1;
            let right = self.additive()?;
            return Ok(Expr::Cmp(op, Box::new(left), Box::new(right)));
        }
        if self.keyword("is") {
            let negated = self.keyword("not");
            return if self.keyword("missing") {
                Ok(Expr::IsMissing(Box::new(left), negated))
            } else if self.keyword("null") {
                Ok(Expr::IsNull(Box::new(left), negated))
            } else {
                Err(self.unexpected())
            };
        }
        let negated = self.peek_is_keyword("not")
            && matches!(self.toks.get(self.pos + 1), Some(Tok::Ident(w))
                if w.eq_ignore_ascii_case("between") || w.eq_ignore_ascii_case("in"));
        if negated {
            self.pos += 1;
        }
        let e = if self.keyword("between") {
            let low = self.additive()?;
            self.expect_keyword("and")?;
            let high = self.additive()?;
            Expr::Between(Box::new(left), Box::new(low), Box::new(high))
        } else if self.keyword("in") {
            let close = if self.punct("[") {
                "]"
            } else if self.punct("(") {
                ")"
            } else {
                return Err(self.unexpected());
            };
            let items = self.items(close)?;
            Expr::In(Box::new(left), items)
        } else {
            return Ok(left);
        };
        Ok(if negated { Expr::Not(Box::new(e)) } else { e })
    }

    fn additive(&mut self) -> Result<Expr> {
        let mut left = self.unary()?;
        loop {
            let plus = if self.punct("+") {
                true
            } else if self.punct("-") {
                false
            } else {
                return Ok(left);
            };
            left = Expr::Arith(plus, Box::new(left), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr> {
        if self.punct("-") {
            return match self.peek() {
                Some(Tok::Num(n)) => {
                    let n = format!("-{n}");
                    self.pos += 1;
                    Ok(Expr::Num(n))
                }
                _ => Err(self.unexpected()),
            };
        }
        self.primary()
    }

    /// Comma-separated expressions up to `close` (which may come at once).
    fn items(&mut self, close: &str) -> Result<Vec<Expr>> {
        let mut items = Vec::new();
        if self.punct(close) {
            return Ok(items);
        }
        loop {
            items.push(self.expr()?);
            if self.punct(close) {
                return Ok(items);
            }
            self.expect_punct(",")?;
        }
    }

    fn primary(&mut self) -> Result<Expr> {
        let Some(tok) = self.peek().cloned() else {
            return Err(self.unexpected());
        };
        match tok {
            Tok::Str(s) => {
                self.pos += 1;
                Ok(Expr::Str(s))
            }
            Tok::Num(n) => {
                self.pos += 1;
                Ok(Expr::Num(n))
            }
            Tok::Punct("?") => {
                self.pos += 1;
                self.params += 1;
                Ok(Expr::Param(self.params - 1))
            }
            Tok::Punct("(") => {
                self.pos += 1;
                let e = self.expr()?;
                self.expect_punct(")")?;
                Ok(e)
            }
            Tok::Punct("[") => {
                self.pos += 1;
                Ok(Expr::List(self.items("]")?))
            }
            Tok::Punct("<<") => {
                self.pos += 1;
                Ok(Expr::Bag(self.items(">>")?))
            }
            Tok::Punct("{") => {
                self.pos += 1;
                self.tuple()
            }
            Tok::Ident(w) => {
                let lower = w.to_ascii_lowercase();
                match lower.as_str() {
                    "true" | "false" => {
                        self.pos += 1;
                        Ok(Expr::Bool(lower == "true"))
                    }
                    "null" => {
                        self.pos += 1;
                        Ok(Expr::Null)
                    }
                    "missing" => {
                        self.pos += 1;
                        Ok(Expr::Missing)
                    }
                    _ if matches!(self.toks.get(self.pos + 1), Some(Tok::Punct("("))) => {
                        self.pos += 2;
                        let args = self.items(")")?;
                        Ok(Expr::Call(lower, args))
                    }
                    _ => Ok(Expr::Path(self.path()?)),
                }
            }
            Tok::Quoted(_) => Ok(Expr::Path(self.path()?)),
            Tok::Punct(_) => Err(self.unexpected()),
        }
    }

    /// `{'key': value, ...}` after its `{`.
    fn tuple(&mut self) -> Result<Expr> {
        let mut fields = Vec::new();
        if self.punct("}") {
            return Ok(Expr::Tuple(fields));
        }
        loop {
            let key = match self.peek() {
                Some(Tok::Str(s)) => s.clone(),
                _ => return Err(self.unexpected()),
            };
            self.pos += 1;
            self.expect_punct(":")?;
            fields.push((key, self.expr()?));
            if self.punct("}") {
                return Ok(Expr::Tuple(fields));
            }
            self.expect_punct(",")?;
        }
    }
}

fn show(t: &Tok) -> String {
    match t {
        Tok::Ident(w) => w.clone(),
        Tok::Quoted(w) => format!("\"{w}\""),
        Tok::Str(s) => format!("'{s}'"),
        Tok::Num(n) => n.clone(),
        Tok::Punct(p) => (*p).to_owned(),
    }
}
