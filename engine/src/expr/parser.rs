//! The recursive-descent parser for condition, update and projection expressions.
//!
//! Like DynamoDB (and dynalite, which reproduces its messages), a syntax error is
//! reported at once, while semantic problems (undefined names, reserved words, bad
//! functions, overlapping paths, …) are collected by category while parsing continues,
//! and the one reported is the first of the highest-priority category.
//!
//! Over 800 lines on purpose: it is one concern (one grammar with one error-collection
//! scheme shared by every production), and splitting the productions across files
//! would scatter that scheme without making any part simpler.

use std::collections::{BTreeSet, HashMap};

use super::ast::*;
use super::lexer::{Tok, Token, lex};
use super::reserved::is_reserved;
use crate::limits::{
    DOCUMENT_PATH_LEVELS_MAX, EXPRESSION_IN_OPERANDS_MAX, EXPRESSION_NESTING_MAX,
    EXPRESSION_OPERATORS_MAX, LIST_INDEX_MAX,
};
use crate::value::{AttributeType, AttributeValue};

/// A parse failure: the message without the `Invalid XExpression: ` prefix.
pub(crate) type PResult<T> = Result<T, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Condition,
    Update,
    Projection,
}

const CONDITION_KEYWORDS: [&str; 5] = ["AND", "OR", "NOT", "BETWEEN", "IN"];
const UPDATE_KEYWORDS: [&str; 4] = ["SET", "REMOVE", "ADD", "DELETE"];
const CONDITION_FUNCTIONS: [&str; 6] = [
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "begins_with",
    "contains",
    "size",
];
const UPDATE_FUNCTIONS: [&str; 2] = ["if_not_exists", "list_append"];

/// Semantic errors by category; the first message of each category is kept.
#[derive(Default)]
struct Errs {
    parens: Option<String>,
    unknown_function: Option<String>,
    misused_function: Option<String>,
    section: Option<String>,
    reserved: Option<String>,
    attr_name: Option<String>,
    attr_val: Option<String>,
    path_overlap: Option<String>,
    path_conflict: Option<String>,
    operand: Option<String>,
    distinct: Option<String>,
    function: Option<String>,
}

fn note(slot: &mut Option<String>, msg: impl FnOnce() -> String) {
    if slot.is_none() {
        *slot = Some(msg());
    }
}

impl Errs {
    fn first(self, mode: Mode) -> Option<String> {
        match mode {
            // dynalite's conditionParser: parens, unknownFunction, misusedFunction,
            // reserved, then the per-condition ones (attrNameVal, operand, distinct,
            // function).
            Mode::Condition => self
                .parens
                .or(self.unknown_function)
                .or(self.misused_function)
                .or(self.reserved)
                .or(self.attr_name)
                .or(self.operand)
                .or(self.distinct)
                .or(self.function),
            // updateParser: reserved, unknownFunction, section, attrName, attrVal,
            // pathOverlap, pathConflict, operand, function; a misused function (which
            // dynalite does not know in updates) ranks with the unknown ones, as in
            // conditions.
            Mode::Update => self
                .reserved
                .or(self.unknown_function)
                .or(self.misused_function)
                .or(self.section)
                .or(self.attr_name)
                .or(self.attr_val)
                .or(self.path_overlap)
                .or(self.path_conflict)
                .or(self.operand)
                .or(self.function),
            // projectionParser: reserved, attrNameVal, pathOverlap, pathConflict.
            Mode::Projection => self
                .reserved
                .or(self.attr_name)
                .or(self.path_overlap)
                .or(self.path_conflict),
        }
    }
}

/// What a condition-level term parsed to: a condition, or an operand that a comparison
/// may still follow.
enum Node {
    Cond(Condition),
    Opnd(Operand),
}

struct Parsed {
    node: Node,
    /// The term was written as exactly `( … )`; a second pair around it is redundant.
    wrapped: bool,
}

/// The request-wide state a parse reads and updates.
pub(crate) struct Context<'p, 'r> {
    pub names: Option<&'r HashMap<String, String>>,
    pub values: Option<&'r HashMap<String, AttributeValue>>,
    pub used_names: &'p mut BTreeSet<String>,
    pub used_values: &'p mut BTreeSet<String>,
}

pub(crate) struct Parser<'s, 'p, 'r> {
    src: &'s str,
    toks: Vec<Token>,
    pos: usize,
    ctx: Context<'p, 'r>,
    mode: Mode,
    errs: Errs,
    depth: usize,
    operators: usize,
    in_operands: usize,
    paths: Vec<Path>,
    sections: Vec<&'static str>,
}

fn dummy_path() -> Path {
    Path {
        elems: vec![PathElem::Attr(Name::literal(""))],
    }
}

fn dummy_value() -> Value {
    Value {
        placeholder: ":".into(),
        value: AttributeValue::Null,
    }
}

fn dummy_operand() -> Operand {
    Operand::Value(dummy_value())
}

fn dummy_cond() -> Condition {
    Condition::AttributeExists(dummy_path())
}

/// The type an operand is known to have before evaluation (dynalite's `getType`). The
/// stand-in for an operand that already failed (an undefined value, a misused function)
/// has none, so that it adds no second error.
fn static_type(o: &Operand) -> Option<AttributeType> {
    match o {
        Operand::Value(v) if v.placeholder == dummy_value().placeholder => None,
        Operand::Value(v) => Some(v.value.attribute_type()),
        Operand::Size(_) => Some(AttributeType::N),
        Operand::Path(_) => None,
    }
}

impl<'s, 'p, 'r> Parser<'s, 'p, 'r> {
    pub(crate) fn new(src: &'s str, ctx: Context<'p, 'r>, mode: Mode) -> Self {
        Parser {
            src,
            toks: lex(src),
            pos: 0,
            ctx,
            mode,
            errs: Errs::default(),
            depth: 0,
            operators: 0,
            in_operands: 0,
            paths: Vec::new(),
            sections: Vec::new(),
        }
    }

    // ---------------------------------------------------------------- token helpers

    fn peek(&self) -> Tok {
        self.toks[self.pos].kind
    }

    fn peek_at(&self, n: usize) -> Tok {
        self.toks.get(self.pos + n).map_or(Tok::Eof, |t| t.kind)
    }

    fn text(&self, i: usize) -> &'s str {
        let t = self.toks[i];
        &self.src[t.start..t.end]
    }

    fn advance(&mut self) {
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
    }

    fn is_keyword(&self, kw: &str) -> bool {
        self.peek() == Tok::Ident && self.text(self.pos).eq_ignore_ascii_case(kw)
    }

    fn keywords(&self) -> &'static [&'static str] {
        match self.mode {
            Mode::Condition => &CONDITION_KEYWORDS,
            Mode::Update => &UPDATE_KEYWORDS,
            Mode::Projection => &[],
        }
    }

    fn is_any_keyword(&self) -> bool {
        self.keywords().iter().any(|k| self.is_keyword(k))
    }

    /// DynamoDB's syntax error at token `at`: the token, and the text from the token
    /// before it to the token after it.
    fn syntax_error_at(&self, at: usize) -> String {
        let tok = self.toks[at];
        let token = if tok.kind == Tok::Eof {
            "<EOF>"
        } else {
            self.text(at)
        };
        let start = if at > 0 {
            self.toks[at - 1].start
        } else {
            tok.start
        };
        let end = match self.toks.get(at + 1) {
            Some(next) if tok.kind != Tok::Eof && next.kind != Tok::Eof => next.end,
            _ => tok.end,
        };
        format!(
            "Syntax error; token: \"{token}\", near: \"{}\"",
            &self.src[start..end]
        )
    }

    fn syntax_error(&self) -> String {
        self.syntax_error_at(self.pos)
    }

    fn expect(&mut self, kind: Tok) -> PResult<()> {
        if self.peek() == kind {
            self.advance();
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > EXPRESSION_NESTING_MAX {
            return Err(format!(
                "The expression has exceeded the maximum nesting depth; nesting depth: {}, maximum: {EXPRESSION_NESTING_MAX}",
                self.depth
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Called once the top-level rule has parsed: rejects trailing tokens, then reports
    /// limit and semantic errors.
    fn finish<T>(mut self, value: T) -> PResult<T> {
        if self.peek() != Tok::Eof {
            return Err(self.syntax_error());
        }
        if self.in_operands > EXPRESSION_IN_OPERANDS_MAX {
            return Err(format!(
                "The IN operator is provided with too many operands; number of operands: {}",
                self.in_operands
            ));
        }
        if self.operators > EXPRESSION_OPERATORS_MAX {
            return Err(format!(
                "The expression contains too many operators; operator count: {}",
                self.operators
            ));
        }
        let mode = self.mode;
        match std::mem::take(&mut self.errs).first(mode) {
            Some(e) => Err(e),
            None => Ok(value),
        }
    }

    // ---------------------------------------------------------------- names, values, paths

    fn resolve_name(&mut self) -> Name {
        let placeholder = self.text(self.pos).to_string();
        self.advance();
        match self.ctx.names.and_then(|m| m.get(&placeholder)) {
            Some(name) => {
                self.ctx.used_names.insert(placeholder.clone());
                Name {
                    name: name.clone(),
                    placeholder: Some(placeholder),
                }
            }
            None => {
                note(&mut self.errs.attr_name, || {
                    format!(
                        "An expression attribute name used in the document path is not defined; attribute name: {placeholder}"
                    )
                });
                Name {
                    name: placeholder.clone(),
                    placeholder: Some(placeholder),
                }
            }
        }
    }

    /// Resolves the `:value` token at the cursor; `None` (error noted) if undefined.
    fn resolve_value(&mut self) -> Option<Value> {
        let placeholder = self.text(self.pos).to_string();
        self.advance();
        match self.ctx.values.and_then(|m| m.get(&placeholder)) {
            Some(v) => {
                self.ctx.used_values.insert(placeholder.clone());
                Some(Value {
                    placeholder,
                    value: v.clone(),
                })
            }
            None => {
                let slot = match self.mode {
                    Mode::Update => &mut self.errs.attr_val,
                    _ => &mut self.errs.attr_name,
                };
                note(slot, || {
                    format!(
                        "An expression attribute value used in expression is not defined; attribute value: {placeholder}"
                    )
                });
                None
            }
        }
    }

    fn path_segment(&mut self) -> PResult<Name> {
        match self.peek() {
            Tok::Name => Ok(self.resolve_name()),
            Tok::Ident if !self.is_any_keyword() => {
                let name = self.text(self.pos).to_string();
                self.advance();
                if is_reserved(&name) {
                    note(&mut self.errs.reserved, || {
                        format!("Attribute name is a reserved keyword; reserved keyword: {name}")
                    });
                }
                Ok(Name::literal(name))
            }
            _ => Err(self.syntax_error()),
        }
    }

    fn parse_path(&mut self) -> PResult<Path> {
        let mut elems = vec![PathElem::Attr(self.path_segment()?)];
        loop {
            match self.peek() {
                Tok::Dot => {
                    self.advance();
                    elems.push(PathElem::Attr(self.path_segment()?));
                }
                Tok::LBracket => {
                    self.advance();
                    if self.peek() != Tok::Int {
                        return Err(self.syntax_error());
                    }
                    // DynamoDB's words for an index past a 32-bit integer (recorded in
                    // ScyllaDB's issue 25947); the digits are quoted as written.
                    let digits = self.text(self.pos);
                    let index = match digits.parse::<u64>() {
                        Ok(i) if i <= LIST_INDEX_MAX => i as usize,
                        _ => {
                            return Err(format!(
                                "List index is not within the allowable range; index: [{digits}]"
                            ));
                        }
                    };
                    self.advance();
                    self.expect(Tok::RBracket)?;
                    elems.push(PathElem::Index(index));
                }
                _ => break,
            }
        }
        // DynamoDB's words, recorded in ScyllaDB's test_projection_expression.py.
        if elems.len() > DOCUMENT_PATH_LEVELS_MAX {
            return Err(format!(
                "The document path has too many nesting levels; nesting levels: {}",
                elems.len()
            ));
        }
        Ok(Path { elems })
    }

    /// Records `path` as an update/projection target, noting overlap and conflict
    /// with an earlier one (dynalite's `checkPath`).
    fn check_path(&mut self, path: &Path) {
        if self.errs.path_overlap.is_some() {
            return;
        }
        for prev in &self.paths {
            let mut diverged = false;
            for (a, b) in prev.elems.iter().zip(&path.elems) {
                let same_kind = matches!(
                    (a, b),
                    (PathElem::Attr(_), PathElem::Attr(_))
                        | (PathElem::Index(_), PathElem::Index(_))
                );
                if !same_kind {
                    note(&mut self.errs.path_conflict, || {
                        format!(
                            "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: {}, path two: {}",
                            prev.message_form(),
                            path.message_form()
                        )
                    });
                    diverged = true;
                    break;
                }
                if !elem_eq(a, b) {
                    diverged = true;
                    break;
                }
            }
            if !diverged {
                self.errs.path_overlap = Some(format!(
                    "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {}, path two: {}",
                    prev.message_form(),
                    path.message_form()
                ));
                return;
            }
        }
        self.paths.push(path.clone());
    }

    // ---------------------------------------------------------------- conditions

    pub(crate) fn parse_condition(mut self) -> PResult<Condition> {
        let at_end_check = self.parse_or()?;
        let cond = self.as_cond(at_end_check)?;
        self.finish(cond)
    }

    fn parse_or(&mut self) -> PResult<Parsed> {
        let mut left = self.parse_and()?;
        while self.is_keyword("OR") {
            let l = self.as_cond(left)?;
            self.advance();
            self.operators += 1;
            let right = self.parse_and()?;
            let r = self.as_cond(right)?;
            left = Parsed {
                node: Node::Cond(Condition::Or(Box::new(l), Box::new(r))),
                wrapped: false,
            };
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> PResult<Parsed> {
        let mut left = self.parse_not()?;
        while self.is_keyword("AND") {
            let l = self.as_cond(left)?;
            self.advance();
            self.operators += 1;
            let right = self.parse_not()?;
            let r = self.as_cond(right)?;
            left = Parsed {
                node: Node::Cond(Condition::And(Box::new(l), Box::new(r))),
                wrapped: false,
            };
        }
        Ok(left)
    }

    fn parse_not(&mut self) -> PResult<Parsed> {
        if self.is_keyword("NOT") {
            self.advance();
            self.operators += 1;
            self.enter()?;
            let inner = self.parse_not()?;
            let c = self.as_cond(inner)?;
            self.leave();
            return Ok(Parsed {
                node: Node::Cond(Condition::Not(Box::new(c))),
                wrapped: false,
            });
        }
        self.parse_comparison()
    }

    /// A term where a condition is required. A bare `size(…)` is DynamoDB's "misused
    /// function"; any other bare operand is a syntax error at the current token.
    fn as_cond(&mut self, p: Parsed) -> PResult<Condition> {
        match p.node {
            Node::Cond(c) => Ok(c),
            Node::Opnd(Operand::Size(_)) => {
                self.misused("size");
                Ok(dummy_cond())
            }
            Node::Opnd(_) => Err(self.syntax_error()),
        }
    }

    /// A term where an operand is required. A condition function there is DynamoDB's
    /// "misused function"; any other condition is a syntax error.
    fn as_operand(&mut self, p: Parsed) -> PResult<Operand> {
        match p.node {
            Node::Opnd(o) => Ok(o),
            Node::Cond(c) => match c.function_name() {
                Some(name) => {
                    self.misused(name);
                    Ok(dummy_operand())
                }
                None => Err(self.syntax_error()),
            },
        }
    }

    fn misused(&mut self, name: &str) {
        note(&mut self.errs.misused_function, || {
            format!(
                "The function is not allowed to be used this way in an expression; function: {name}"
            )
        });
    }

    fn comparator(&self) -> Option<Comparator> {
        Some(match self.peek() {
            Tok::Eq => Comparator::Eq,
            Tok::Ne => Comparator::Ne,
            Tok::Lt => Comparator::Lt,
            Tok::Le => Comparator::Le,
            Tok::Gt => Comparator::Gt,
            Tok::Ge => Comparator::Ge,
            _ => return None,
        })
    }

    fn check_distinct(&mut self, op: &str, a: &Operand, b: &Operand) {
        if let (Operand::Path(x), Operand::Path(y)) = (a, b)
            && x.same_location(y)
        {
            note(&mut self.errs.distinct, || {
                format!(
                    "The first operand must be distinct from the remaining operands for this operator or function; operator: {op}, first operand: {}",
                    x.message_form()
                )
            });
        }
    }

    fn parse_comparison(&mut self) -> PResult<Parsed> {
        let lhs = self.parse_primary()?;
        if let Some(op) = self.comparator() {
            let a = self.as_operand(lhs)?;
            self.advance();
            self.operators += 1;
            let rhs = self.parse_operand_term()?;
            let b = self.as_operand(rhs)?;
            self.check_distinct(op.symbol(), &a, &b);
            if !matches!(op, Comparator::Eq | Comparator::Ne) {
                self.check_orderable(op.symbol(), [&a, &b]);
            }
            return Ok(Parsed {
                node: Node::Cond(Condition::Compare(op, a, b)),
                wrapped: false,
            });
        }
        if self.is_keyword("BETWEEN") {
            let a = self.as_operand(lhs)?;
            self.advance();
            self.operators += 1;
            let lo = self.parse_operand_term()?;
            let lo = self.as_operand(lo)?;
            if !self.is_keyword("AND") {
                return Err(self.syntax_error());
            }
            self.advance();
            let hi = self.parse_operand_term()?;
            let hi = self.as_operand(hi)?;
            self.check_orderable("BETWEEN", [&a, &lo, &hi]);
            self.check_between(&lo, &hi);
            return Ok(Parsed {
                node: Node::Cond(Condition::Between(a, lo, hi)),
                wrapped: false,
            });
        }
        if self.is_keyword("IN") {
            let a = self.as_operand(lhs)?;
            self.advance();
            self.operators += 1;
            self.expect(Tok::LParen)?;
            let mut list = Vec::new();
            loop {
                let o = self.parse_operand_term()?;
                list.push(self.as_operand(o)?);
                if self.peek() == Tok::Comma {
                    self.advance();
                } else {
                    break;
                }
            }
            self.expect(Tok::RParen)?;
            self.in_operands = self.in_operands.max(list.len());
            return Ok(Parsed {
                node: Node::Cond(Condition::In(a, list)),
                wrapped: false,
            });
        }
        Ok(lhs)
    }

    /// DynamoDB's check, made while parsing and so whatever the item holds, that every
    /// constant operand of an ordering operator (`<`, `<=`, `>`, `>=`, `BETWEEN`) is of a
    /// type that orders (S, N or B). An item's attribute of another type only makes the
    /// comparison false; a constant of one is the request's mistake. (That it is a
    /// ValidationException is confirmed against DynamoDB by ScyllaDB's Alternator tests;
    /// the message follows begins_with's, as other emulators checked against DynamoDB
    /// report it, and the operator is named as written: `<`, `BETWEEN`.)
    fn check_orderable<const N: usize>(&mut self, op: &str, operands: [&Operand; N]) {
        let unorderable = operands.iter().find_map(|o| {
            static_type(o)
                .filter(|t| !matches!(t, AttributeType::S | AttributeType::N | AttributeType::B))
        });
        if let Some(t) = unorderable {
            self.incorrect_operand_type(op, t);
        }
    }

    fn check_between(&mut self, lo: &Operand, hi: &Operand) {
        let (Operand::Value(x), Operand::Value(y)) = (lo, hi) else {
            return;
        };
        let (tx, ty) = (x.value.attribute_type(), y.value.attribute_type());
        let bounds = || {
            format!(
                "lower bound operand: AttributeValue: {{{tx}:{}}}, upper bound operand: AttributeValue: {{{ty}:{}}}",
                scalar_text(&x.value),
                scalar_text(&y.value)
            )
        };
        if tx != ty {
            note(&mut self.errs.function, || {
                format!(
                    "The BETWEEN operator requires same data type for lower and upper bounds; {}",
                    bounds()
                )
            });
        } else if super::eval::compare_values(&x.value, &y.value)
            == Some(std::cmp::Ordering::Greater)
        {
            note(&mut self.errs.function, || {
                format!(
                    "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; {}",
                    bounds()
                )
            });
        }
    }

    /// A condition-level term: `( condition-or-operand )`, a function call, a path or a
    /// value.
    fn parse_primary(&mut self) -> PResult<Parsed> {
        if self.peek() == Tok::LParen {
            self.advance();
            self.enter()?;
            let inner = self.parse_or()?;
            self.expect(Tok::RParen)?;
            self.leave();
            if inner.wrapped {
                self.redundant_parens();
            }
            return Ok(Parsed {
                node: inner.node,
                wrapped: true,
            });
        }
        self.parse_operand_atom()
    }

    /// An operand position (comparison right side, BETWEEN bounds, IN list, function
    /// arguments): `( operand )`, a function call, a path or a value.
    fn parse_operand_term(&mut self) -> PResult<Parsed> {
        if self.peek() == Tok::LParen {
            self.advance();
            self.enter()?;
            let inner = self.parse_operand_term()?;
            self.expect(Tok::RParen)?;
            self.leave();
            if inner.wrapped {
                self.redundant_parens();
            }
            return Ok(Parsed {
                node: inner.node,
                wrapped: true,
            });
        }
        self.parse_operand_atom()
    }

    fn redundant_parens(&mut self) {
        note(&mut self.errs.parens, || {
            "The expression has redundant parentheses;".to_string()
        });
    }

    fn parse_operand_atom(&mut self) -> PResult<Parsed> {
        let node = match self.peek() {
            Tok::Ident if self.peek_at(1) == Tok::LParen && !self.is_any_keyword() => {
                return self.parse_condition_function();
            }
            Tok::Ident | Tok::Name => Node::Opnd(Operand::Path(self.parse_path()?)),
            Tok::Value => Node::Opnd(Operand::Value(
                self.resolve_value().unwrap_or_else(dummy_value),
            )),
            _ => return Err(self.syntax_error()),
        };
        Ok(Parsed {
            node,
            wrapped: false,
        })
    }

    fn parse_condition_function(&mut self) -> PResult<Parsed> {
        let name = self.text(self.pos).to_string();
        self.advance();
        self.advance(); // '('
        self.enter()?;
        let mut args = Vec::new();
        loop {
            let a = self.parse_operand_term()?;
            args.push(self.as_operand(a)?);
            if self.peek() == Tok::Comma {
                self.advance();
            } else {
                break;
            }
        }
        self.expect(Tok::RParen)?;
        self.leave();
        self.operators += 1;
        let is_size = name == "size";
        let dummy = |is_size: bool| Parsed {
            node: if is_size {
                Node::Opnd(dummy_operand())
            } else {
                Node::Cond(dummy_cond())
            },
            wrapped: false,
        };

        if !CONDITION_FUNCTIONS.contains(&name.as_str()) {
            let msg = if UPDATE_FUNCTIONS.contains(&name.as_str()) {
                format!("The function is not allowed in a condition expression; function: {name}")
            } else {
                format!("Invalid function name; function: {name}")
            };
            note(&mut self.errs.unknown_function, || msg);
            return Ok(dummy(false));
        }
        let arity = match name.as_str() {
            "attribute_exists" | "attribute_not_exists" | "size" => 1,
            _ => 2,
        };
        if args.len() != arity {
            note(&mut self.errs.operand, || {
                format!(
                    "Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {}",
                    args.len()
                )
            });
            return Ok(dummy(is_size));
        }
        if arity == 2 {
            self.check_distinct(&name, &args[0], &args[1]);
        }
        let mut args = args.into_iter();
        let a = args.next().unwrap_or_else(dummy_operand);
        let b = args.next();
        let node = match name.as_str() {
            "attribute_exists" | "attribute_not_exists" | "attribute_type" => {
                let path = match a {
                    Operand::Path(p) => p,
                    _ => {
                        self.function_error(format!(
                            "Operator or function requires a document path; operator or function: {name}"
                        ));
                        dummy_path()
                    }
                };
                match name.as_str() {
                    "attribute_exists" => Node::Cond(Condition::AttributeExists(path)),
                    "attribute_not_exists" => Node::Cond(Condition::AttributeNotExists(path)),
                    _ => {
                        let t = b.unwrap_or_else(dummy_operand);
                        self.check_attribute_type_operand(&t);
                        Node::Cond(Condition::AttributeType(path, t))
                    }
                }
            }
            "begins_with" => {
                let b = b.unwrap_or_else(dummy_operand);
                for o in [&a, &b] {
                    if let Some(t) = static_type(o)
                        && t != AttributeType::S
                        && t != AttributeType::B
                    {
                        self.incorrect_operand_type(&name, t);
                        break;
                    }
                }
                Node::Cond(Condition::BeginsWith(a, b))
            }
            "contains" => Node::Cond(Condition::Contains(a, b.unwrap_or_else(dummy_operand))),
            _ => {
                if let Some(t) = static_type(&a)
                    && matches!(
                        t,
                        AttributeType::N | AttributeType::Bool | AttributeType::Null
                    )
                {
                    self.incorrect_operand_type("size", t);
                }
                Node::Opnd(Operand::Size(Box::new(a)))
            }
        };
        Ok(Parsed {
            node,
            wrapped: false,
        })
    }

    fn function_error(&mut self, msg: String) {
        note(&mut self.errs.function, || msg);
    }

    fn incorrect_operand_type(&mut self, name: &str, t: impl std::fmt::Display) {
        self.function_error(format!(
            "Incorrect operand type for operator or function; operator or function: {name}, operand type: {t}"
        ));
    }

    fn check_attribute_type_operand(&mut self, t: &Operand) {
        match t {
            Operand::Value(Value {
                value: AttributeValue::S(s),
                ..
            }) => {
                if AttributeType::from_descriptor(s).is_none() {
                    self.function_error(format!(
                        "Invalid attribute type name found; type: {s}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"
                    ));
                }
            }
            other => {
                let shown = match static_type(other) {
                    Some(t) => t.to_string(),
                    None => "{NS,SS,L,BS,N,M,B,BOOL,NULL,S}".to_string(),
                };
                self.incorrect_operand_type("attribute_type", shown);
            }
        }
    }

    // ---------------------------------------------------------------- update

    pub(crate) fn parse_update(mut self) -> PResult<UpdateExpr> {
        let mut out = UpdateExpr::default();
        loop {
            let section = if self.is_keyword("SET") {
                "SET"
            } else if self.is_keyword("REMOVE") {
                "REMOVE"
            } else if self.is_keyword("ADD") {
                "ADD"
            } else if self.is_keyword("DELETE") {
                "DELETE"
            } else {
                return Err(self.syntax_error());
            };
            self.advance();
            if self.sections.contains(&section) {
                note(&mut self.errs.section, || {
                    format!(
                        "The \"{section}\" section can only be used once in an update expression;"
                    )
                });
            }
            self.sections.push(section);
            loop {
                self.operators += 1;
                match section {
                    "SET" => {
                        let path = self.parse_path()?;
                        self.expect(Tok::Eq)?;
                        let value = self.parse_set_value()?;
                        self.check_path(&path);
                        out.set.push(SetAction { path, value });
                    }
                    "REMOVE" => {
                        let path = self.parse_path()?;
                        self.check_path(&path);
                        out.remove.push(path);
                    }
                    _ => {
                        let path = self.parse_path()?;
                        if self.peek() != Tok::Value {
                            return Err(self.syntax_error());
                        }
                        let value = self.resolve_value();
                        self.check_path(&path);
                        if let Some(v) = &value {
                            self.check_add_delete_operand(section, &v.value);
                        }
                        let action = ValueAction {
                            path,
                            value: value.unwrap_or_else(dummy_value),
                        };
                        if section == "ADD" {
                            out.add.push(action);
                        } else {
                            out.delete.push(action);
                        }
                    }
                }
                if self.peek() == Tok::Comma {
                    self.advance();
                } else {
                    break;
                }
            }
            if self.peek() == Tok::Eof {
                break;
            }
        }
        self.finish(out)
    }

    fn check_add_delete_operand(&mut self, section: &str, v: &AttributeValue) {
        let shown = match v.attribute_type() {
            AttributeType::S => "STRING",
            AttributeType::N if section == "ADD" => return,
            AttributeType::N => "NUMBER",
            AttributeType::B => "BINARY",
            AttributeType::Null => "NULL",
            AttributeType::Bool => "BOOLEAN",
            AttributeType::L => "LIST",
            AttributeType::M => "MAP",
            AttributeType::Ss | AttributeType::Ns | AttributeType::Bs => return,
        };
        note(&mut self.errs.operand, || {
            format!(
                "Incorrect operand type for operator or function; operator: {section}, operand type: {shown}"
            )
        });
    }

    fn parse_set_value(&mut self) -> PResult<SetValue> {
        let first = if self.peek() == Tok::LParen {
            // Either `( operand [+|- operand] )` or a parenthesized first operand.
            self.advance();
            self.enter()?;
            let inner = self.parse_update_operand()?;
            if matches!(self.peek(), Tok::Plus | Tok::Minus) {
                let v = self.parse_arithmetic(inner)?;
                self.expect(Tok::RParen)?;
                self.leave();
                return Ok(v);
            }
            self.expect(Tok::RParen)?;
            self.leave();
            inner
        } else {
            self.parse_update_operand()?
        };
        if matches!(self.peek(), Tok::Plus | Tok::Minus) {
            return self.parse_arithmetic(first);
        }
        Ok(SetValue::Operand(first))
    }

    fn parse_arithmetic(&mut self, a: UpdateOperand) -> PResult<SetValue> {
        let plus = self.peek() == Tok::Plus;
        self.advance();
        self.operators += 1;
        let b = self.parse_update_operand()?;
        let symbol = if plus { "+" } else { "-" };
        for o in [&a, &b] {
            if let UpdateOperand::Value(v) = o
                && v.value.attribute_type() != AttributeType::N
            {
                self.incorrect_operand_type(symbol, v.value.attribute_type());
                break;
            }
        }
        Ok(if plus {
            SetValue::Plus(a, b)
        } else {
            SetValue::Minus(a, b)
        })
    }

    fn parse_update_operand(&mut self) -> PResult<UpdateOperand> {
        match self.peek() {
            Tok::LParen => {
                self.advance();
                self.enter()?;
                let inner = self.parse_update_operand()?;
                self.expect(Tok::RParen)?;
                self.leave();
                Ok(inner)
            }
            Tok::Ident if self.peek_at(1) == Tok::LParen && !self.is_any_keyword() => {
                self.parse_update_function()
            }
            Tok::Ident | Tok::Name => Ok(UpdateOperand::Path(self.parse_path()?)),
            Tok::Value => Ok(UpdateOperand::Value(
                self.resolve_value().unwrap_or_else(dummy_value),
            )),
            _ => Err(self.syntax_error()),
        }
    }

    fn parse_update_function(&mut self) -> PResult<UpdateOperand> {
        let name = self.text(self.pos).to_string();
        self.advance();
        self.advance(); // '('
        self.enter()?;
        let mut args = Vec::new();
        loop {
            args.push(self.parse_update_operand()?);
            if self.peek() == Tok::Comma {
                self.advance();
            } else {
                break;
            }
        }
        self.expect(Tok::RParen)?;
        self.leave();
        self.operators += 1;
        let dummy = || UpdateOperand::Value(dummy_value());
        if !UPDATE_FUNCTIONS.contains(&name.as_str()) {
            let msg = if CONDITION_FUNCTIONS.contains(&name.as_str()) {
                format!("The function is not allowed in an update expression; function: {name}")
            } else {
                format!("Invalid function name; function: {name}")
            };
            note(&mut self.errs.unknown_function, || msg);
            return Ok(dummy());
        }
        if args.len() != 2 {
            self.function_error(format!(
                "Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {}",
                args.len()
            ));
            return Ok(dummy());
        }
        let b = args.pop().unwrap_or_else(dummy);
        let a = args.pop().unwrap_or_else(dummy);
        if name == "if_not_exists" {
            let UpdateOperand::Path(p) = a else {
                self.function_error(format!(
                    "Operator or function requires a document path; operator or function: {name}"
                ));
                return Ok(dummy());
            };
            return Ok(UpdateOperand::IfNotExists(p, Box::new(b)));
        }
        // DynamoDB parses a list_append inside a list_append but refuses it ("The
        // function is not allowed to be used this way in an expression"); other
        // nestings (if_not_exists inside list_append, the usual way to append to a
        // list that may not exist yet) are allowed.
        if [&a, &b]
            .iter()
            .any(|o| matches!(o, UpdateOperand::ListAppend(..)))
        {
            self.misused(&name);
        }
        for o in [&a, &b] {
            if let UpdateOperand::Value(v) = o
                && v.value.attribute_type() != AttributeType::L
            {
                self.incorrect_operand_type(&name, v.value.attribute_type());
                break;
            }
        }
        Ok(UpdateOperand::ListAppend(Box::new(a), Box::new(b)))
    }

    // ---------------------------------------------------------------- projection

    pub(crate) fn parse_projection(mut self) -> PResult<Projection> {
        let mut paths = Vec::new();
        loop {
            paths.push(self.parse_path()?);
            if self.peek() == Tok::Comma {
                self.advance();
            } else {
                break;
            }
        }
        if self.peek() != Tok::Eof {
            return Err(self.syntax_error());
        }
        for p in &paths {
            self.check_path(p);
        }
        self.finish(Projection { paths })
    }
}

/// How dynalite/DynamoDB print a scalar inside `AttributeValue: {T:…}`.
fn scalar_text(v: &AttributeValue) -> String {
    match v {
        AttributeValue::S(s) => s.clone(),
        AttributeValue::N(n) => n.to_string(),
        AttributeValue::B(b) => base64(b),
        AttributeValue::Bool(b) => b.to_string(),
        AttributeValue::Null => "true".to_string(),
        _ => "[object Object]".to_string(),
    }
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
