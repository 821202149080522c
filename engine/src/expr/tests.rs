//! Tests as data: tables of (expression, expected outcome) for every operator,
//! function, precedence rule and error, plus property tests (no panics on random
//! input; parse → print → parse round-trips).

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;

use super::*;
use crate::limits::{EXPRESSION_NESTING_MAX, EXPRESSION_OPERATORS_MAX};
use crate::number::Number;
use crate::value::{AttributeValue as V, Item};

// ------------------------------------------------------------------------- fixtures

fn n(s: &str) -> V {
    V::N(Number::parse(s).expect("test number"))
}

fn s(x: &str) -> V {
    V::S(x.to_string())
}

fn l(items: Vec<V>) -> V {
    V::L(items)
}

fn m(pairs: Vec<(&str, V)>) -> V {
    V::M(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn ss(xs: &[&str]) -> V {
    V::Ss(xs.iter().map(|x| x.to_string()).collect())
}

fn ns(xs: &[&str]) -> V {
    V::Ns(
        xs.iter()
            .map(|x| Number::parse(x).expect("test number"))
            .collect(),
    )
}

fn item(pairs: Vec<(&str, V)>) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn names() -> HashMap<String, String> {
    [
        ("#a", "a"),
        ("#s", "s"),
        ("#n", "n"),
        ("#m", "m"),
        ("#l", "l"),
        ("#size", "size"),
        ("#name", "name"),
        ("#dot", "x.y"),
        ("#pk", "pk"),
        ("#sk", "sk"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn values() -> HashMap<String, V> {
    [
        (":s", s("abc")),
        (":ab", s("ab")),
        (":b", s("b")),
        (":z", s("z")),
        (":x", s("x")),
        (":empty", s("")),
        (":n0", n("0")),
        (":n1", n("1")),
        (":n2", n("2")),
        (":n3", n("3")),
        (":n5", n("5")),
        (":n10", n("10")),
        (":neg", n("-1.5")),
        (":bin", V::B(vec![1, 2, 3])),
        (":bin12", V::B(vec![1, 2])),
        (":bin9", V::B(vec![9])),
        (":t", V::Bool(true)),
        (":f", V::Bool(false)),
        (":null", V::Null),
        (":ss", ss(&["a", "b"])),
        (":ssc", ss(&["c"])),
        (":ssa", ss(&["a"])),
        (":ns", ns(&["1", "2"])),
        (":ns3", ns(&["3"])),
        (":bs", V::Bs(vec![vec![1]])),
        (":l", l(vec![s("x"), n("1")])),
        (":l2", l(vec![s("y")])),
        (":m", m(vec![("a", s("x"))])),
        (":tS", s("S")),
        (":tN", s("N")),
        (":tSS", s("SS")),
        (":tM", s("M")),
        (":tL", s("L")),
        (":tNULL", s("NULL")),
        (":tBOOL", s("BOOL")),
        (":tB", s("B")),
        (":tBad", s("STRING")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn base_item() -> Item {
    item(vec![
        ("pk", s("p1")),
        ("s", s("abc")),
        ("n", n("5")),
        ("b", V::B(vec![1, 2, 3])),
        ("t", V::Bool(true)),
        ("nul", V::Null),
        ("ss", ss(&["a", "b"])),
        ("ns", ns(&["1", "2"])),
        ("bs", V::Bs(vec![vec![1], vec![2]])),
        ("l", l(vec![s("x"), n("1"), m(vec![("c", n("3"))])])),
        (
            "m",
            m(vec![
                ("a", s("x")),
                ("b", m(vec![("c", n("1"))])),
                ("l", l(vec![n("1"), n("2")])),
            ]),
        ),
        ("x.y", s("dotted")),
        ("name", s("nm")),
        ("size", n("7")),
        ("e", s("")),
    ])
}

fn cond_result(expr: &str) -> Result<bool, String> {
    let (nm, vs) = (names(), values());
    let mut r = Resolver::new(Some(&nm), Some(&vs)).map_err(|e| e.to_string())?;
    let c = r.condition(expr).map_err(|e| e.to_string())?;
    c.evaluate(&base_item()).map_err(|e| e.to_string())
}

// ------------------------------------------------------------------------- conditions

type CondCase = (&'static str, Result<bool, &'static str>);

const CONDITION_CASES: &[CondCase] = &[
    // = and <> on every type
    ("s = :s", Ok(true)),
    ("s = :ab", Ok(false)),
    ("#s = :s", Ok(true)),
    (":s = s", Ok(true)),
    ("n = :n5", Ok(true)),
    ("n = :n1", Ok(false)),
    ("b = :bin", Ok(true)),
    ("t = :t", Ok(true)),
    ("t = :f", Ok(false)),
    ("nul = :null", Ok(true)),
    ("ss = :ss", Ok(true)),
    ("ns = :ns", Ok(true)),
    ("l = :l", Ok(false)),
    ("m.a = :x", Ok(true)),
    ("s <> :s", Ok(false)),
    ("s <> :ab", Ok(true)),
    ("n <> :s", Ok(true)),
    ("nope <> :s", Ok(true)),
    ("nope = :s", Ok(false)),
    ("n = :s", Ok(false)),
    // ordering: S, N, B only; different types false
    ("n < :n10", Ok(true)),
    ("n < :n5", Ok(false)),
    ("n <= :n5", Ok(true)),
    ("n > :n1", Ok(true)),
    ("n > :n5", Ok(false)),
    ("n >= :n5", Ok(true)),
    ("n >= :n10", Ok(false)),
    ("n > :neg", Ok(true)),
    ("s > :ab", Ok(true)),
    ("s < :b", Ok(true)),
    ("s >= :s", Ok(true)),
    ("b < :bin9", Ok(true)),
    ("b > :bin12", Ok(true)),
    ("n < :s", Ok(false)),
    ("s < :n10", Ok(false)),
    // an ordering operator's constant must order (S, N or B), whatever the item holds
    (
        "t < :f",
        Err(
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: <, operand type: BOOL",
        ),
    ),
    (
        "nope <= :l",
        Err(
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: <=, operand type: L",
        ),
    ),
    (
        ":m > n",
        Err(
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: >, operand type: M",
        ),
    ),
    (
        "n >= :null",
        Err(
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: >=, operand type: NULL",
        ),
    ),
    (
        "attribute_exists(s) OR n < :ns",
        Err(
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: <, operand type: NS",
        ),
    ),
    (
        "n BETWEEN :l AND :l2",
        Err(
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: BETWEEN, operand type: L",
        ),
    ),
    (
        "n BETWEEN :n1 AND :t",
        Err(
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: BETWEEN, operand type: BOOL",
        ),
    ),
    (
        ":ss BETWEEN n AND m",
        Err(
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: BETWEEN, operand type: SS",
        ),
    ),
    // an item's attribute of such a type only makes the comparison false; = and <>
    // take constants of every type
    ("l < m", Ok(false)),
    ("t BETWEEN l AND m", Ok(false)),
    ("l <> :m", Ok(true)),
    ("t = :t", Ok(true)),
    ("n IN (:l, :m, :t, :n5)", Ok(true)),
    ("nope < :n10", Ok(false)),
    (
        "ss < :ss",
        Err(
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: <, operand type: SS",
        ),
    ),
    (":n1 < :n2", Ok(true)),
    ("m.b.c = :n1", Ok(true)),
    ("l[1] = :n1", Ok(true)),
    ("l[2].c = :n3", Ok(true)),
    ("l[7] = :n1", Ok(false)),
    ("m[0] = :n1", Ok(false)),
    ("m.l[1] = :n2", Ok(true)),
    ("#m.#a = :x", Ok(true)),
    ("#dot = :s", Ok(false)),
    ("attribute_exists(#dot)", Ok(true)),
    ("attribute_exists(x.y)", Ok(false)),
    ("#name = :s", Ok(false)),
    ("#size = :n5", Ok(false)),
    ("n = s", Ok(false)),
    ("s = e", Ok(false)),
    // BETWEEN
    ("n BETWEEN :n1 AND :n10", Ok(true)),
    ("n BETWEEN :n5 AND :n5", Ok(true)),
    ("n BETWEEN :n1 AND :n3", Ok(false)),
    ("s BETWEEN :ab AND :b", Ok(true)),
    ("s BETWEEN :b AND :z", Ok(false)),
    ("nope BETWEEN :n1 AND :n10", Ok(false)),
    ("s BETWEEN :n1 AND :n10", Ok(false)),
    ("n between :n1 and :n10", Ok(true)),
    ("size(s) BETWEEN :n1 AND :n3", Ok(true)),
    // IN
    ("n IN (:n1, :n5)", Ok(true)),
    ("n IN (:n1, :n2)", Ok(false)),
    ("s IN (:s)", Ok(true)),
    ("s IN (:n5, :s)", Ok(true)),
    ("nope IN (:n1)", Ok(false)),
    ("ss IN (:ss)", Ok(true)),
    ("n in (:n5)", Ok(true)),
    ("n IN (n, :n1)", Ok(true)),
    // attribute_exists / attribute_not_exists
    ("attribute_exists(s)", Ok(true)),
    ("attribute_exists(nope)", Ok(false)),
    ("attribute_exists(m.b.c)", Ok(true)),
    ("attribute_exists(m.b.d)", Ok(false)),
    ("attribute_exists(l[2])", Ok(true)),
    ("attribute_exists(l[3])", Ok(false)),
    ("attribute_exists(nul)", Ok(true)),
    ("attribute_not_exists(nope)", Ok(true)),
    ("attribute_not_exists(s)", Ok(false)),
    ("attribute_not_exists(#size)", Ok(false)),
    // attribute_type
    ("attribute_type(s, :tS)", Ok(true)),
    ("attribute_type(s, :tN)", Ok(false)),
    ("attribute_type(n, :tN)", Ok(true)),
    ("attribute_type(ss, :tSS)", Ok(true)),
    ("attribute_type(m, :tM)", Ok(true)),
    ("attribute_type(l, :tL)", Ok(true)),
    ("attribute_type(nul, :tNULL)", Ok(true)),
    ("attribute_type(t, :tBOOL)", Ok(true)),
    ("attribute_type(b, :tB)", Ok(true)),
    ("attribute_type(nope, :tS)", Ok(false)),
    // begins_with
    ("begins_with(s, :ab)", Ok(true)),
    ("begins_with(s, :b)", Ok(false)),
    ("begins_with(s, :empty)", Ok(true)),
    ("begins_with(b, :bin12)", Ok(true)),
    ("begins_with(b, :bin9)", Ok(false)),
    ("begins_with(n, :ab)", Ok(false)),
    ("begins_with(nope, :ab)", Ok(false)),
    ("begins_with(m.a, :x)", Ok(true)),
    // contains
    ("contains(s, :b)", Ok(true)),
    ("contains(s, :z)", Ok(false)),
    ("contains(ss, :b)", Ok(true)),
    ("contains(ss, :z)", Ok(false)),
    ("contains(ns, :n2)", Ok(true)),
    ("contains(ns, :n5)", Ok(false)),
    ("contains(l, :x)", Ok(true)),
    ("contains(l, :n1)", Ok(true)),
    ("contains(l, :n2)", Ok(false)),
    ("contains(b, :bin12)", Ok(true)),
    ("contains(n, :n5)", Ok(false)),
    ("contains(nope, :s)", Ok(false)),
    ("contains(ss, :n1)", Ok(false)),
    // size
    ("size(s) = :n3", Ok(true)),
    ("size(ss) = :n2", Ok(true)),
    ("size(ns) = :n2", Ok(true)),
    ("size(l) = :n3", Ok(true)),
    ("size(m) = :n3", Ok(true)),
    ("size(b) = :n3", Ok(true)),
    ("size(e) = :n0", Ok(true)),
    ("size(n) = :n1", Ok(false)),
    ("size(nope) = :n0", Ok(false)),
    ("size(nope) <> :n0", Ok(true)),
    ("size(s) > :n2", Ok(true)),
    ("size(m.b) = :n1", Ok(true)),
    ("size(l) < size(m)", Ok(false)),
    ("size(l) <= size(m)", Ok(true)),
    ("size(:s) = :n3", Ok(true)),
    // logic and precedence (NOT > AND > OR)
    ("s = :s AND n = :n5", Ok(true)),
    ("s = :s AND n = :n1", Ok(false)),
    ("s = :ab OR n = :n5", Ok(true)),
    ("s = :ab OR n = :n1", Ok(false)),
    ("NOT s = :s", Ok(false)),
    ("NOT s = :ab", Ok(true)),
    ("not s = :ab", Ok(true)),
    ("NOT NOT s = :s", Ok(true)),
    ("NOT (s = :s)", Ok(false)),
    ("NOT attribute_exists(nope)", Ok(true)),
    ("s = :ab OR s = :s AND n = :n1", Ok(false)),
    ("s = :s OR s = :s AND n = :n1", Ok(true)),
    ("(s = :s OR s = :s) AND n = :n1", Ok(false)),
    ("n = :n1 AND n = :n1 OR s = :s", Ok(true)),
    ("n = :n1 AND (n = :n1 OR s = :s)", Ok(false)),
    ("NOT s = :s OR n = :n5", Ok(true)),
    ("NOT (s = :s OR n = :n5)", Ok(false)),
    ("NOT s = :s AND n = :n5", Ok(false)),
    ("s = :s AND NOT n = :n1", Ok(true)),
    ("(s = :s)", Ok(true)),
    ("(s) = :s", Ok(true)),
    ("s = (:s)", Ok(true)),
    ("(s = :s) AND (n = :n5)", Ok(true)),
    ("((s = :s) AND (n = :n5))", Ok(true)),
    ("(attribute_exists(s))", Ok(true)),
    ("  s\t=\n:s  ", Ok(true)),
    ("s=:s AND(n=:n5)", Ok(true)),
    ("n BETWEEN :n1 AND :n10 AND s = :s", Ok(true)),
    ("n IN (:n5) AND NOT n IN (:n1)", Ok(true)),
    (
        "attribute_exists(s) AND attribute_not_exists(nope) AND begins_with(s, :ab)",
        Ok(true),
    ),
    ("s = :ab OR s = :b OR s = :s", Ok(true)),
    // syntax errors
    (
        "",
        Err("Invalid ConditionExpression: The expression can not be empty;"),
    ),
    (
        "s",
        Err("Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"s\""),
    ),
    (
        "foo",
        Err("Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"foo\""),
    ),
    (
        "s = ",
        Err("Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"= \""),
    ),
    (
        "s == :s",
        Err("Invalid ConditionExpression: Syntax error; token: \"=\", near: \"== :s\""),
    ),
    (
        "s = :s :s",
        Err("Invalid ConditionExpression: Syntax error; token: \":s\", near: \":s :s\""),
    ),
    (
        "s = !",
        Err("Invalid ConditionExpression: Syntax error; token: \"!\", near: \"= !\""),
    ),
    (
        "s = :s AND",
        Err("Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"AND\""),
    ),
    (
        "_u = :s",
        Err("Invalid ConditionExpression: Syntax error; token: \"_\", near: \"_u\""),
    ),
    (
        "m._a = :s",
        Err("Invalid ConditionExpression: Syntax error; token: \"_\", near: \"._a\""),
    ),
    (
        "s = :s AND n",
        Err("Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"n\""),
    ),
    (
        "(s = :s",
        Err("Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \":s\""),
    ),
    (
        "s = :s)",
        Err("Invalid ConditionExpression: Syntax error; token: \")\", near: \":s)\""),
    ),
    (
        "s BETWEEN :n1",
        Err("Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \":n1\""),
    ),
    (
        "s BETWEEN :n1 OR :n2",
        Err("Invalid ConditionExpression: Syntax error; token: \"OR\", near: \":n1 OR :n2\""),
    ),
    (
        "s IN :n1",
        Err("Invalid ConditionExpression: Syntax error; token: \":n1\", near: \"IN :n1\""),
    ),
    (
        "s IN ()",
        Err("Invalid ConditionExpression: Syntax error; token: \")\", near: \"()\""),
    ),
    (
        "NOT",
        Err("Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"NOT\""),
    ),
    (
        "s = :s + :s",
        Err("Invalid ConditionExpression: Syntax error; token: \"+\", near: \":s + :s\""),
    ),
    (
        "a.b. = :s",
        Err("Invalid ConditionExpression: Syntax error; token: \"=\", near: \". = :s\""),
    ),
    (
        "a[x] = :s",
        Err("Invalid ConditionExpression: Syntax error; token: \"x\", near: \"[x]\""),
    ),
    (
        "a[1 = :s",
        Err("Invalid ConditionExpression: Syntax error; token: \"=\", near: \"1 = :s\""),
    ),
    (
        "a[-1] = :s",
        Err("Invalid ConditionExpression: Syntax error; token: \"-\", near: \"[-1\""),
    ),
    (
        "1 = :s",
        Err("Invalid ConditionExpression: Syntax error; token: \"1\", near: \"1 =\""),
    ),
    (
        "AND = :s",
        Err("Invalid ConditionExpression: Syntax error; token: \"AND\", near: \"AND =\""),
    ),
    (
        "s = :s OR",
        Err("Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"OR\""),
    ),
    (
        "attribute_exists(s",
        Err("Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"s\""),
    ),
    (
        "(s = :s) = :s",
        Err("Invalid ConditionExpression: Syntax error; token: \"=\", near: \") = :s\""),
    ),
    // names and values
    (
        "#zz = :s",
        Err(
            "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #zz",
        ),
    ),
    (
        "s = :zz",
        Err(
            "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :zz",
        ),
    ),
    (
        "m.#zz = :s",
        Err(
            "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #zz",
        ),
    ),
    (
        "s = :zz OR #zz = :s",
        Err(
            "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :zz",
        ),
    ),
    // reserved words
    (
        "name = :s",
        Err(
            "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: name",
        ),
    ),
    (
        "Size = :s",
        Err(
            "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: Size",
        ),
    ),
    (
        "m.status = :s",
        Err(
            "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status",
        ),
    ),
    (
        "attribute_exists(data)",
        Err(
            "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: data",
        ),
    ),
    (
        "#zz = :s AND name = :s",
        Err(
            "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: name",
        ),
    ),
    // functions
    (
        "foo(s)",
        Err("Invalid ConditionExpression: Invalid function name; function: foo"),
    ),
    (
        "SIZE(s) = :n1",
        Err("Invalid ConditionExpression: Invalid function name; function: SIZE"),
    ),
    (
        "if_not_exists(s, :s) = :s",
        Err(
            "Invalid ConditionExpression: The function is not allowed in a condition expression; function: if_not_exists",
        ),
    ),
    (
        "list_append(l, :l) = :l",
        Err(
            "Invalid ConditionExpression: The function is not allowed in a condition expression; function: list_append",
        ),
    ),
    (
        "attribute_exists(s, n)",
        Err(
            "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2",
        ),
    ),
    (
        "attribute_not_exists(s, n)",
        Err(
            "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: attribute_not_exists, number of operands: 2",
        ),
    ),
    (
        "begins_with(s)",
        Err(
            "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: begins_with, number of operands: 1",
        ),
    ),
    (
        "contains(s, :s, :s)",
        Err(
            "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: contains, number of operands: 3",
        ),
    ),
    (
        "size(s, n) = :n1",
        Err(
            "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: size, number of operands: 2",
        ),
    ),
    (
        "attribute_type(s)",
        Err(
            "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: attribute_type, number of operands: 1",
        ),
    ),
    (
        "attribute_exists(:s)",
        Err(
            "Invalid ConditionExpression: Operator or function requires a document path; operator or function: attribute_exists",
        ),
    ),
    (
        "attribute_not_exists(:s)",
        Err(
            "Invalid ConditionExpression: Operator or function requires a document path; operator or function: attribute_not_exists",
        ),
    ),
    (
        "begins_with(s, :n1)",
        Err(
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
        ),
    ),
    (
        "begins_with(:ss, s)",
        Err(
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: SS",
        ),
    ),
    (
        "begins_with(size(s), :s)",
        Err(
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
        ),
    ),
    (
        "attribute_type(s, :n1)",
        Err(
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: attribute_type, operand type: N",
        ),
    ),
    (
        "attribute_type(s, n)",
        Err(
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: attribute_type, operand type: {NS,SS,L,BS,N,M,B,BOOL,NULL,S}",
        ),
    ),
    (
        "attribute_type(s, :tBad)",
        Err(
            "Invalid ConditionExpression: Invalid attribute type name found; type: STRING, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
        ),
    ),
    (
        "size(:n1) = :n1",
        Err(
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: size, operand type: N",
        ),
    ),
    (
        "size(:t) = :n1",
        Err(
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: size, operand type: BOOL",
        ),
    ),
    (
        "size(:null) = :n1",
        Err(
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: size, operand type: NULL",
        ),
    ),
    (
        "size(size(s)) = :n1",
        Err(
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: size, operand type: N",
        ),
    ),
    (
        "size(s)",
        Err(
            "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: size",
        ),
    ),
    (
        "size(s) AND s = :s",
        Err(
            "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: size",
        ),
    ),
    (
        "NOT size(s)",
        Err(
            "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: size",
        ),
    ),
    (
        "attribute_exists(s) = :t",
        Err(
            "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: attribute_exists",
        ),
    ),
    (
        "s = contains(s, :s)",
        Err(
            "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: contains",
        ),
    ),
    (
        "begins_with(attribute_type(s, :tS), :s)",
        Err(
            "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: attribute_type",
        ),
    ),
    (
        "s IN (:s, attribute_exists(n))",
        Err(
            "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: attribute_exists",
        ),
    ),
    (
        "foo(s) = attribute_exists(n)",
        Err("Invalid ConditionExpression: Invalid function name; function: foo"),
    ),
    // distinct operands
    (
        "s = s",
        Err(
            "Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [s]",
        ),
    ),
    (
        "m.b < #m.b",
        Err(
            "Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: <, first operand: [m, b]",
        ),
    ),
    (
        "l[1] <> l[1]",
        Err(
            "Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: <>, first operand: [l, [1]]",
        ),
    ),
    (
        "begins_with(s, s)",
        Err(
            "Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: begins_with, first operand: [s]",
        ),
    ),
    (
        "contains(#s, s)",
        Err(
            "Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: contains, first operand: [s]",
        ),
    ),
    // BETWEEN bounds
    (
        "n BETWEEN :n10 AND :n1",
        Err(
            "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:10}, upper bound operand: AttributeValue: {N:1}",
        ),
    ),
    (
        "n BETWEEN :s AND :n1",
        Err(
            "Invalid ConditionExpression: The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {S:abc}, upper bound operand: AttributeValue: {N:1}",
        ),
    ),
    (
        "s BETWEEN :z AND :ab",
        Err(
            "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {S:z}, upper bound operand: AttributeValue: {S:ab}",
        ),
    ),
    (
        "b BETWEEN :bin9 AND :bin",
        Err(
            "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {B:CQ==}, upper bound operand: AttributeValue: {B:AQID}",
        ),
    ),
    // redundant parentheses
    (
        "((s = :s))",
        Err("Invalid ConditionExpression: The expression has redundant parentheses;"),
    ),
    (
        "((s)) = :s",
        Err("Invalid ConditionExpression: The expression has redundant parentheses;"),
    ),
    (
        "s = ((:s))",
        Err("Invalid ConditionExpression: The expression has redundant parentheses;"),
    ),
    (
        "((s = :s)) AND foo(s)",
        Err("Invalid ConditionExpression: The expression has redundant parentheses;"),
    ),
    (
        "NOT ((s = :s))",
        Err("Invalid ConditionExpression: The expression has redundant parentheses;"),
    ),
    // error priority: parens > unknown function > misused > reserved > names > operands > distinct > function
    (
        "foo(s) AND name = :zz",
        Err("Invalid ConditionExpression: Invalid function name; function: foo"),
    ),
    (
        "size(s) AND name = :s",
        Err(
            "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: size",
        ),
    ),
    (
        "s = :zz AND attribute_exists(s, n)",
        Err(
            "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :zz",
        ),
    ),
    (
        "s = s AND attribute_exists(s, n)",
        Err(
            "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2",
        ),
    ),
    (
        "begins_with(s, :n1) AND n = n",
        Err(
            "Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [n]",
        ),
    ),
    (
        "s = :s AND",
        Err("Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"AND\""),
    ),
    (
        "_u = :s",
        Err("Invalid ConditionExpression: Syntax error; token: \"_\", near: \"_u\""),
    ),
    (
        "m._a = :s",
        Err("Invalid ConditionExpression: Syntax error; token: \"_\", near: \"._a\""),
    ),
    (
        "foo(s) AND",
        Err("Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"AND\""),
    ),
];

#[test]
fn condition_table() {
    let mut failures = Vec::new();
    for (expr, want) in CONDITION_CASES {
        let got = cond_result(expr);
        let want = want.map_err(|e| e.to_string());
        if got != want {
            failures.push(format!("{expr:?}\n   want {want:?}\n    got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn filter_prefix_and_missing_item() {
    let (nm, vs) = (names(), values());
    let mut r = Resolver::new(Some(&nm), Some(&vs)).unwrap();
    let e = r.filter("s = ").unwrap_err().to_string();
    assert_eq!(
        e,
        "Invalid FilterExpression: Syntax error; token: \"<EOF>\", near: \"= \""
    );
    let c = r.filter("attribute_not_exists(pk)").unwrap();
    assert!(c.evaluate(&Item::new()).unwrap());
    let c = r.condition("s <> :s").unwrap();
    assert!(c.evaluate(&Item::new()).unwrap());
}

#[test]
fn size_limit_and_nesting_limit() {
    let (nm, vs) = (names(), values());
    let mut r = Resolver::new(Some(&nm), Some(&vs)).unwrap();
    let long = format!("s = :s{}", " ".repeat(4096));
    assert_eq!(
        r.condition(&long).unwrap_err().to_string(),
        format!(
            "Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; expression size: {}",
            long.len()
        )
    );
    let exactly = format!("s = :s{}", " ".repeat(4096 - 6));
    assert!(r.condition(&exactly).is_ok());
    assert!(
        r.update(&format!("SET s = :s{}", " ".repeat(4096)))
            .is_err()
    );
    // DynamoDB bounds nesting only through its 300 operators: the deepest chains those
    // allow parse (on a thread of their own when deeper than the caller's stack allows).
    let nots = format!("{}s = :s", "NOT ".repeat(EXPRESSION_OPERATORS_MAX - 1));
    // 299 NOTs: the comparison (true) negated an odd number of times.
    assert!(!r.condition(&nots).unwrap().evaluate(&base_item()).unwrap());
    let wrapped = format!(
        "{}s = :s{}",
        "(NOT ".repeat(EXPRESSION_OPERATORS_MAX - 1),
        ")".repeat(EXPRESSION_OPERATORS_MAX - 1)
    );
    assert!(
        !r.condition(&wrapped)
            .unwrap()
            .evaluate(&base_item())
            .unwrap()
    );
    let ands = format!("{}s = :s{}", "(s = :s AND ".repeat(149), ")".repeat(149));
    assert!(r.filter(&ands).unwrap().evaluate(&base_item()).unwrap());
    let too_many = format!("{}s = :s", "NOT ".repeat(EXPRESSION_OPERATORS_MAX));
    assert_eq!(
        r.condition(&too_many).unwrap_err().to_string(),
        "Invalid ConditionExpression: The expression contains too many operators; operator count: 301"
    );
    // Past every depth an expression within the operator limit can reach, the parser
    // stops with its own message instead of recursing on.
    let deep = format!("{}s = :s", "NOT ".repeat(EXPRESSION_NESTING_MAX + 1));
    assert_eq!(
        r.condition(&deep).unwrap_err().to_string(),
        format!(
            "Invalid ConditionExpression: The expression has exceeded the maximum nesting depth; nesting depth: {}, maximum: {EXPRESSION_NESTING_MAX}",
            EXPRESSION_NESTING_MAX + 1
        )
    );
    // Redundant parentheses nested as deep as the limit are DynamoDB's redundant
    // parentheses; the deepest an expression's size allows never overflow the stack.
    let parens = format!("{}s = :s{}", "(".repeat(600), ")".repeat(600));
    assert_eq!(
        r.condition(&parens).unwrap_err().to_string(),
        "Invalid ConditionExpression: The expression has redundant parentheses;"
    );
    let parens = format!("{}s=:s{}", "(".repeat(2045), ")".repeat(2045));
    assert!(r.condition(&parens).is_err());
    let calls = format!(
        "SET a = {}:s{}",
        "list_append(".repeat(300),
        ", :l)".repeat(300)
    );
    assert!(r.update(&calls).is_err());
    assert!(r.condition(&parens).is_err());
}

#[test]
fn operator_and_in_limits() {
    let mut vs = values();
    let mut list = Vec::new();
    for i in 0..101 {
        vs.insert(format!(":v{i}"), n(&i.to_string()));
        list.push(format!(":v{i}"));
    }
    let nm = names();
    let mut r = Resolver::new(Some(&nm), Some(&vs)).unwrap();
    let at_limit = format!("n IN ({})", list[..100].join(","));
    assert!(
        r.condition(&at_limit)
            .unwrap()
            .evaluate(&base_item())
            .unwrap()
    );
    let over = format!("n IN ({})", list.join(","));
    let e = r.condition(&over).unwrap_err().to_string();
    assert_eq!(
        e,
        "Invalid ConditionExpression: The IN operator is provided with too many operands; number of operands: 101"
    );

    let ops = vec!["n = :n5"; 151].join(" AND "); // 151 comparisons + 150 ANDs = 301
    let e = r.condition(&ops).unwrap_err().to_string();
    assert_eq!(
        e,
        "Invalid ConditionExpression: The expression contains too many operators; operator count: 301"
    );
    let ops = vec!["n = :n5"; 150].join(" AND "); // 299
    assert!(r.condition(&ops).is_ok());
}

// ------------------------------------------------------------------------- updates

type UpdateCase = (
    &'static str,
    Result<&'static [(&'static str, Option<fn() -> V>)], &'static str>,
);

const fn none() -> Option<fn() -> V> {
    None
}

macro_rules! want {
    ($($name:literal => $v:expr),* $(,)?) => {
        Ok(&[$(($name, $v)),*])
    };
}

const UPDATE_CASES: &[UpdateCase] = &[
    // SET
    ("SET s = :ab", want!["s" => Some(|| s("ab"))]),
    ("SET newattr = :s", want!["newattr" => Some(|| s("abc"))]),
    ("SET #a = :s", want!["a" => Some(|| s("abc"))]),
    ("set s = :ab", want!["s" => Some(|| s("ab"))]),
    (
        "SET s = :ab, n = :n1",
        want!["s" => Some(|| s("ab")), "n" => Some(|| n("1"))],
    ),
    ("SET n = n + :n1", want!["n" => Some(|| n("6"))]),
    ("SET n = :n10 - n", want!["n" => Some(|| n("5"))]),
    ("SET n = n - :neg", want!["n" => Some(|| n("6.5"))]),
    ("SET c = n + n", want!["c" => Some(|| n("10"))]),
    ("SET c = :n1 + :n2", want!["c" => Some(|| n("3"))]),
    ("SET n = (n + :n1)", want!["n" => Some(|| n("6"))]),
    ("SET n = (n) + (:n1)", want!["n" => Some(|| n("6"))]),
    ("SET c = s", want!["c" => Some(|| s("abc"))]),
    ("SET c = m.b", want!["c" => Some(|| m(vec![("c", n("1"))]))]),
    (
        "SET c = if_not_exists(c, :n0)",
        want!["c" => Some(|| n("0"))],
    ),
    (
        "SET n = if_not_exists(n, :n0)",
        want!["n" => Some(|| n("5"))],
    ),
    (
        "SET c = if_not_exists(c, :n0) + :n1",
        want!["c" => Some(|| n("1"))],
    ),
    (
        "SET n = if_not_exists(n, :n0) + :n1",
        want!["n" => Some(|| n("6"))],
    ),
    (
        "SET c = if_not_exists(c, s)",
        want!["c" => Some(|| s("abc"))],
    ),
    (
        "SET l = list_append(l, :l2)",
        want!["l" => Some(|| l(vec![s("x"), n("1"), m(vec![("c", n("3"))]), s("y")]))],
    ),
    (
        "SET l = list_append(:l2, l)",
        want!["l" => Some(|| l(vec![s("y"), s("x"), n("1"), m(vec![("c", n("3"))])]))],
    ),
    (
        "SET c = list_append(if_not_exists(c, :l2), :l)",
        want!["c" => Some(|| l(vec![s("y"), s("x"), n("1")]))],
    ),
    (
        "SET m.a = :z",
        want!["m" => Some(|| m(vec![("a", s("z")), ("b", m(vec![("c", n("1"))])), ("l", l(vec![n("1"), n("2")]))]))],
    ),
    (
        "SET m.b.d = :n2",
        want!["m" => Some(|| m(vec![("a", s("x")), ("b", m(vec![("c", n("1")), ("d", n("2"))])), ("l", l(vec![n("1"), n("2")]))]))],
    ),
    (
        "SET l[0] = :z",
        want!["l" => Some(|| l(vec![s("z"), n("1"), m(vec![("c", n("3"))])]))],
    ),
    (
        "SET l[2].c = :n0",
        want!["l" => Some(|| l(vec![s("x"), n("1"), m(vec![("c", n("0"))])]))],
    ),
    (
        "SET l[9] = :z",
        want!["l" => Some(|| l(vec![s("x"), n("1"), m(vec![("c", n("3"))]), s("z")]))],
    ),
    // several writes past the end append in the order of their indexes
    (
        "SET l[84] = :z, l[37] = :b, l[17] = :x, l[50] = :n1",
        want!["l" => Some(|| l(vec![s("x"), n("1"), m(vec![("c", n("3"))]), s("x"), s("b"), n("1"), s("z")]))],
    ),
    (
        "SET l[9] = :z, l[1] = :b, l[4] = :x",
        want!["l" => Some(|| l(vec![s("x"), s("b"), m(vec![("c", n("3"))]), s("x"), s("z")]))],
    ),
    (
        "SET m.l[5] = :z REMOVE m.l[0]",
        want!["m" => Some(|| m(vec![("a", s("x")), ("b", m(vec![("c", n("1"))])), ("l", l(vec![n("2"), s("z")]))]))],
    ),
    (
        "SET m.l[1] = m.l[0]",
        want!["m" => Some(|| m(vec![("a", s("x")), ("b", m(vec![("c", n("1"))])), ("l", l(vec![n("1"), n("1")]))]))],
    ),
    (
        "SET s = n, n = s",
        want!["s" => Some(|| n("5")), "n" => Some(|| s("abc"))],
    ),
    ("SET #dot = :z", want!["x.y" => Some(|| s("z"))]),
    // REMOVE
    ("REMOVE s", want!["s" => none()]),
    ("REMOVE s, n", want!["s" => none(), "n" => none()]),
    ("REMOVE nope", want!["nope" => none()]),
    (
        "REMOVE m.a",
        want!["m" => Some(|| m(vec![("b", m(vec![("c", n("1"))])), ("l", l(vec![n("1"), n("2")]))]))],
    ),
    (
        "REMOVE l[0]",
        want!["l" => Some(|| l(vec![n("1"), m(vec![("c", n("3"))])]))],
    ),
    ("REMOVE l[0], l[2]", want!["l" => Some(|| l(vec![n("1")]))]),
    ("REMOVE l[2], l[0]", want!["l" => Some(|| l(vec![n("1")]))]),
    (
        "REMOVE l[5]",
        want!["l" => Some(|| l(vec![s("x"), n("1"), m(vec![("c", n("3"))])]))],
    ),
    (
        "REMOVE m.b.c, m.l[0]",
        want!["m" => Some(|| m(vec![("a", s("x")), ("b", m(vec![])), ("l", l(vec![n("2")]))]))],
    ),
    // a missing leaf is nothing to remove, but its parent must exist (and be a
    // container of the right kind)
    (
        "REMOVE m.nope, l[9]",
        want!["m" => Some(|| m(vec![("a", s("x")), ("b", m(vec![("c", n("1"))])), ("l", l(vec![n("1"), n("2")]))]))],
    ),
    (
        "REMOVE nope.deep",
        Err("The document path provided in the update expression is invalid for update"),
    ),
    (
        "REMOVE nope[0]",
        Err("The document path provided in the update expression is invalid for update"),
    ),
    (
        "REMOVE m.nope.deep",
        Err("The document path provided in the update expression is invalid for update"),
    ),
    (
        "REMOVE s[0]",
        Err("The document path provided in the update expression is invalid for update"),
    ),
    (
        "REMOVE m[0]",
        Err("The document path provided in the update expression is invalid for update"),
    ),
    (
        "REMOVE l.a",
        Err("The document path provided in the update expression is invalid for update"),
    ),
    (
        "SET s = :ab REMOVE nope.deep",
        Err("The document path provided in the update expression is invalid for update"),
    ),
    ("REMOVE #dot", want!["x.y" => none()]),
    // ADD
    ("ADD n :n1", want!["n" => Some(|| n("6"))]),
    ("ADD n :neg", want!["n" => Some(|| n("3.5"))]),
    ("ADD c :n5", want!["c" => Some(|| n("5"))]),
    ("ADD ss :ssc", want!["ss" => Some(|| ss(&["a", "b", "c"]))]),
    ("ADD ss :ss", want!["ss" => Some(|| ss(&["a", "b"]))]),
    ("ADD ns :ns3", want!["ns" => Some(|| ns(&["1", "2", "3"]))]),
    ("ADD c :ss", want!["c" => Some(|| ss(&["a", "b"]))]),
    (
        "ADD bs :bs",
        want!["bs" => Some(|| V::Bs(vec![vec![1], vec![2]]))],
    ),
    (
        "ADD m.b.c :n1",
        want!["m" => Some(|| m(vec![("a", s("x")), ("b", m(vec![("c", n("2"))])), ("l", l(vec![n("1"), n("2")]))]))],
    ),
    (
        "ADD n :n1, c :n1",
        want!["n" => Some(|| n("6")), "c" => Some(|| n("1"))],
    ),
    // DELETE
    ("DELETE ss :ssa", want!["ss" => Some(|| ss(&["b"]))]),
    ("DELETE ss :ss", want!["ss" => none()]),
    ("DELETE ss :ssc", want!["ss" => Some(|| ss(&["a", "b"]))]),
    ("DELETE ns :ns", want!["ns" => none()]),
    ("DELETE nope :ss", want!["nope" => none()]),
    (
        "DELETE bs :bs",
        want!["bs" => Some(|| V::Bs(vec![vec![2]]))],
    ),
    // all clauses together, any order
    (
        "SET s = :ab REMOVE n ADD c :n1 DELETE ss :ssa",
        want!["s" => Some(|| s("ab")), "n" => none(), "c" => Some(|| n("1")), "ss" => Some(|| ss(&["b"]))],
    ),
    (
        "DELETE ss :ssa ADD c :n1 REMOVE n SET s = :ab",
        want!["s" => Some(|| s("ab")), "n" => none(), "c" => Some(|| n("1")), "ss" => Some(|| ss(&["b"]))],
    ),
    (
        "remove n set s = :ab",
        want!["s" => Some(|| s("ab")), "n" => none()],
    ),
    // runtime errors
    (
        "SET c = nope + :n1",
        Err("The provided expression refers to an attribute that does not exist in the item"),
    ),
    (
        "SET c = nope",
        Err("The provided expression refers to an attribute that does not exist in the item"),
    ),
    (
        "SET c = list_append(nope, :l)",
        Err("The provided expression refers to an attribute that does not exist in the item"),
    ),
    (
        "SET c = s + :n1",
        Err("An operand in the update expression has an incorrect data type"),
    ),
    (
        "SET c = :n1 - s",
        Err("An operand in the update expression has an incorrect data type"),
    ),
    (
        "SET c = list_append(s, :l)",
        Err("An operand in the update expression has an incorrect data type"),
    ),
    (
        "ADD s :n1",
        Err("An operand in the update expression has an incorrect data type"),
    ),
    (
        "ADD n :ss",
        Err("An operand in the update expression has an incorrect data type"),
    ),
    (
        "ADD ss :ns",
        Err("An operand in the update expression has an incorrect data type"),
    ),
    (
        "DELETE s :ss",
        Err("An operand in the update expression has an incorrect data type"),
    ),
    (
        "DELETE ss :ns",
        Err("An operand in the update expression has an incorrect data type"),
    ),
    (
        "SET nope.a = :s",
        Err("The document path provided in the update expression is invalid for update"),
    ),
    (
        "SET s.a = :s",
        Err("The document path provided in the update expression is invalid for update"),
    ),
    (
        "SET s[0] = :s",
        Err("The document path provided in the update expression is invalid for update"),
    ),
    (
        "SET m[0] = :s",
        Err("The document path provided in the update expression is invalid for update"),
    ),
    (
        "SET l.a = :s",
        Err("The document path provided in the update expression is invalid for update"),
    ),
    (
        "SET l[7].a = :s",
        Err("The document path provided in the update expression is invalid for update"),
    ),
    (
        "ADD nope.a :n1",
        Err("The document path provided in the update expression is invalid for update"),
    ),
    (
        "REMOVE s.a",
        Err("The document path provided in the update expression is invalid for update"),
    ),
    // parse errors
    (
        "",
        Err("Invalid UpdateExpression: The expression can not be empty;"),
    ),
    // list_append inside list_append parses but is refused; if_not_exists inside it
    // is the usual way to append to a list that may not exist
    (
        "SET l = list_append(list_append(:l, :l2), :l)",
        Err(
            "Invalid UpdateExpression: The function is not allowed to be used this way in an expression; function: list_append",
        ),
    ),
    (
        "SET l = list_append(:l, list_append(l, :l2))",
        Err(
            "Invalid UpdateExpression: The function is not allowed to be used this way in an expression; function: list_append",
        ),
    ),
    (
        "SET l = list_append(list_append(list_append(:l, :l2), :l), :l2)",
        Err(
            "Invalid UpdateExpression: The function is not allowed to be used this way in an expression; function: list_append",
        ),
    ),
    (
        "SET nl = list_append(if_not_exists(nl, :l2), :l)",
        want!["nl" => Some(|| l(vec![s("y"), s("x"), n("1")]))],
    ),
    (
        "SET nl = if_not_exists(nope, list_append(:l2, :l))",
        want!["nl" => Some(|| l(vec![s("y"), s("x"), n("1")]))],
    ),
    // a name token starts with a letter; `#` and `:` need at least one character after
    (
        "SET A123_ = :s, a_1 = :n1",
        want!["A123_" => Some(|| s("abc")), "a_1" => Some(|| n("1"))],
    ),
    (
        "SET _123 = :s",
        Err("Invalid UpdateExpression: Syntax error; token: \"_\", near: \"SET _123\""),
    ),
    (
        "SET _abc = :s",
        Err("Invalid UpdateExpression: Syntax error; token: \"_\", near: \"SET _abc\""),
    ),
    (
        "SET a = _f(s)",
        Err("Invalid UpdateExpression: Syntax error; token: \"_\", near: \"= _f\""),
    ),
    (
        "SET 123a = :s",
        Err("Invalid UpdateExpression: Syntax error; token: \"123\", near: \"SET 123a\""),
    ),
    (
        "SET # = :s",
        Err("Invalid UpdateExpression: Syntax error; token: \"#\", near: \"SET # =\""),
    ),
    (
        "SET a = :",
        Err("Invalid UpdateExpression: Syntax error; token: \":\", near: \"= :\""),
    ),
    (
        "s = :s",
        Err("Invalid UpdateExpression: Syntax error; token: \"s\", near: \"s =\""),
    ),
    (
        "SET",
        Err("Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"SET\""),
    ),
    (
        "SET s",
        Err("Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"s\""),
    ),
    (
        "SET s = ",
        Err("Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"= \""),
    ),
    (
        "SET s = :s,",
        Err("Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \",\""),
    ),
    (
        "SET s = :s n = :n1",
        Err("Invalid UpdateExpression: Syntax error; token: \"n\", near: \":s n =\""),
    ),
    (
        "SET s = a + b + c",
        Err("Invalid UpdateExpression: Syntax error; token: \"+\", near: \"b + c\""),
    ),
    (
        "SET value = :s 1",
        Err("Invalid UpdateExpression: Syntax error; token: \"1\", near: \":s 1\""),
    ),
    (
        "ADD n",
        Err("Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"n\""),
    ),
    (
        "ADD n n",
        Err("Invalid UpdateExpression: Syntax error; token: \"n\", near: \"n n\""),
    ),
    (
        "DELETE ss",
        Err("Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"ss\""),
    ),
    (
        "REMOVE s = :s",
        Err("Invalid UpdateExpression: Syntax error; token: \"=\", near: \"s = :s\""),
    ),
    (
        "SET s = :s WHERE",
        Err("Invalid UpdateExpression: Syntax error; token: \"WHERE\", near: \":s WHERE\""),
    ),
    (
        "SET set = :s",
        Err("Invalid UpdateExpression: Syntax error; token: \"set\", near: \"SET set =\""),
    ),
    (
        "SET s = (:s",
        Err("Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \":s\""),
    ),
    (
        "SET s == :s",
        Err("Invalid UpdateExpression: Syntax error; token: \"=\", near: \"== :s\""),
    ),
    // sections
    (
        "SET s = :s SET n = :n1",
        Err(
            "Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;",
        ),
    ),
    (
        "REMOVE s REMOVE n",
        Err(
            "Invalid UpdateExpression: The \"REMOVE\" section can only be used once in an update expression;",
        ),
    ),
    (
        "ADD n :n1 remove s add c :n1",
        Err(
            "Invalid UpdateExpression: The \"ADD\" section can only be used once in an update expression;",
        ),
    ),
    (
        "DELETE ss :ss DELETE ns :ns",
        Err(
            "Invalid UpdateExpression: The \"DELETE\" section can only be used once in an update expression;",
        ),
    ),
    // names, values, reserved
    (
        "SET #zz = :s",
        Err(
            "Invalid UpdateExpression: An expression attribute name used in the document path is not defined; attribute name: #zz",
        ),
    ),
    (
        "SET s = :zz",
        Err(
            "Invalid UpdateExpression: An expression attribute value used in expression is not defined; attribute value: :zz",
        ),
    ),
    (
        "SET s = :zz, #zz = :s",
        Err(
            "Invalid UpdateExpression: An expression attribute name used in the document path is not defined; attribute name: #zz",
        ),
    ),
    (
        "SET name = :s",
        Err(
            "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: name",
        ),
    ),
    (
        "REMOVE m.comment",
        Err(
            "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: comment",
        ),
    ),
    (
        "SET s = :s SET name = :zz",
        Err(
            "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: name",
        ),
    ),
    // paths
    (
        "SET a = :s, a.b = :s",
        Err(
            "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]",
        ),
    ),
    (
        "SET a.b = :s REMOVE a",
        Err(
            "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a]",
        ),
    ),
    (
        "SET a = :s REMOVE #a",
        Err(
            "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]",
        ),
    ),
    (
        "ADD n :n1 DELETE n :ns",
        Err(
            "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [n], path two: [n]",
        ),
    ),
    (
        "REMOVE l[1], l[1]",
        Err(
            "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [l, [1]], path two: [l, [1]]",
        ),
    ),
    (
        "SET a.b = :s, a[0] = :s",
        Err(
            "Invalid UpdateExpression: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a, [0]]",
        ),
    ),
    (
        "SET a.b = :s, a[0] = :s, a = :s",
        Err(
            "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a]",
        ),
    ),
    (
        "SET a.b = :s, a.c = :s, a.b.d = :s",
        Err(
            "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a, b, d]",
        ),
    ),
    // functions and operand types
    (
        "SET s = foo(s)",
        Err("Invalid UpdateExpression: Invalid function name; function: foo"),
    ),
    (
        "SET s = size(s)",
        Err(
            "Invalid UpdateExpression: The function is not allowed in an update expression; function: size",
        ),
    ),
    (
        "SET s = attribute_exists(s)",
        Err(
            "Invalid UpdateExpression: The function is not allowed in an update expression; function: attribute_exists",
        ),
    ),
    (
        "SET s = if_not_exists(s)",
        Err(
            "Invalid UpdateExpression: Incorrect number of operands for operator or function; operator or function: if_not_exists, number of operands: 1",
        ),
    ),
    (
        "SET s = list_append(l, :l, :l)",
        Err(
            "Invalid UpdateExpression: Incorrect number of operands for operator or function; operator or function: list_append, number of operands: 3",
        ),
    ),
    (
        "SET s = if_not_exists(:s, s)",
        Err(
            "Invalid UpdateExpression: Operator or function requires a document path; operator or function: if_not_exists",
        ),
    ),
    (
        "SET l = list_append(l, :s)",
        Err(
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: list_append, operand type: S",
        ),
    ),
    (
        "SET l = list_append(:m, l)",
        Err(
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: list_append, operand type: M",
        ),
    ),
    (
        "SET n = n + :s",
        Err(
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: +, operand type: S",
        ),
    ),
    (
        "SET n = :ss - n",
        Err(
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: -, operand type: SS",
        ),
    ),
    (
        "ADD s :s",
        Err(
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING",
        ),
    ),
    (
        "ADD s :bin",
        Err(
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: BINARY",
        ),
    ),
    (
        "ADD s :t",
        Err(
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: BOOLEAN",
        ),
    ),
    (
        "ADD s :null",
        Err(
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: NULL",
        ),
    ),
    (
        "ADD l :l",
        Err(
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: LIST",
        ),
    ),
    (
        "ADD m :m",
        Err(
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: MAP",
        ),
    ),
    (
        "DELETE n :n1",
        Err(
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER",
        ),
    ),
    (
        "DELETE s :s",
        Err(
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: STRING",
        ),
    ),
    // priority: reserved > unknown function > section > names > values > overlap > conflict > operand > function
    (
        "SET s = foo(name)",
        Err(
            "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: name",
        ),
    ),
    (
        "SET s = foo(s) SET n = :n1",
        Err("Invalid UpdateExpression: Invalid function name; function: foo"),
    ),
    (
        "SET s = :zz SET n = :n1",
        Err(
            "Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;",
        ),
    ),
    (
        "SET s = :zz, s = :s",
        Err(
            "Invalid UpdateExpression: An expression attribute value used in expression is not defined; attribute value: :zz",
        ),
    ),
    (
        "ADD s :s, s :n1",
        Err(
            "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [s], path two: [s]",
        ),
    ),
    (
        "SET n = n + :s ADD c :s",
        Err(
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING",
        ),
    ),
];

#[test]
fn update_table() {
    let (nm, vs) = (names(), values());
    let mut failures = Vec::new();
    for (expr, want) in UPDATE_CASES {
        let mut r = Resolver::new(Some(&nm), Some(&vs)).unwrap();
        let mut it = base_item();
        let got = r
            .update(expr)
            .and_then(|u| u.apply(&mut it))
            .map_err(|e| e.to_string());
        match (got, want) {
            (Ok(()), Ok(checks)) => {
                for (attr, v) in checks.iter() {
                    let want_v = v.map(|f| f());
                    if it.get(*attr) != want_v.as_ref() {
                        failures.push(format!(
                            "{expr:?}: {attr} want {want_v:?} got {:?}",
                            it.get(*attr)
                        ));
                    }
                }
            }
            (Err(g), Err(w)) if g == *w => {
                // A failed update leaves the item untouched.
                assert_eq!(it, base_item(), "{expr}");
            }
            (g, w) => failures.push(format!(
                "{expr:?}\n   want {:?}\n    got {g:?}",
                w.map(|_| "ok")
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn update_on_missing_item_and_key_checks() {
    let (nm, vs) = (names(), values());
    let mut r = Resolver::new(Some(&nm), Some(&vs)).unwrap();
    let u = r
        .update("SET a = :s, m.x = :s REMOVE pk ADD c :n1 DELETE #sk :ss")
        .unwrap();
    assert_eq!(
        u.touched_attributes().into_iter().collect::<Vec<_>>(),
        vec!["a", "c", "m", "pk", "sk"]
    );
    assert_eq!(
        u.check_key_update(&["pk", "sk"]).unwrap_err().to_string(),
        "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key"
    );
    assert!(u.check_key_update(&["id"]).is_ok());
    let u = r.update("SET a = :s ADD c :n1").unwrap();
    let mut it = Item::new();
    u.apply(&mut it).unwrap();
    assert_eq!(it, item(vec![("a", s("abc")), ("c", n("1"))]));
}

// ------------------------------------------------------------------------- projection

fn projected(expr: &str) -> Result<Item, String> {
    let (nm, vs) = (names(), values());
    let mut r = Resolver::new(Some(&nm), Some(&vs)).unwrap();
    let p = r.projection(expr).map_err(|e| e.to_string())?;
    Ok(p.apply(&base_item()))
}

#[test]
fn projection_table() {
    type Case = (&'static str, Result<fn() -> Item, &'static str>);
    let cases: &[Case] = &[
        ("s", Ok(|| item(vec![("s", s("abc"))]))),
        ("s, n", Ok(|| item(vec![("s", s("abc")), ("n", n("5"))]))),
        ("#s,#n", Ok(|| item(vec![("s", s("abc")), ("n", n("5"))]))),
        ("nope", Ok(Item::new)),
        ("s, nope", Ok(|| item(vec![("s", s("abc"))]))),
        ("m.a", Ok(|| item(vec![("m", m(vec![("a", s("x"))]))]))),
        (
            "m.b.c",
            Ok(|| item(vec![("m", m(vec![("b", m(vec![("c", n("1"))]))]))])),
        ),
        (
            "m.a, m.b",
            Ok(|| {
                item(vec![(
                    "m",
                    m(vec![("a", s("x")), ("b", m(vec![("c", n("1"))]))]),
                )])
            }),
        ),
        ("m.zz", Ok(Item::new)),
        ("l[0]", Ok(|| item(vec![("l", l(vec![s("x")]))]))),
        (
            "l[2], l[0]",
            Ok(|| item(vec![("l", l(vec![s("x"), m(vec![("c", n("3"))])]))])),
        ),
        ("l[1], l[7]", Ok(|| item(vec![("l", l(vec![n("1")]))]))),
        (
            "l[2].c",
            Ok(|| item(vec![("l", l(vec![m(vec![("c", n("3"))])]))])),
        ),
        (
            "m.l[1]",
            Ok(|| item(vec![("m", m(vec![("l", l(vec![n("2")]))]))])),
        ),
        ("s[0]", Ok(Item::new)),
        ("m[0]", Ok(Item::new)),
        ("l.a", Ok(Item::new)),
        ("#dot", Ok(|| item(vec![("x.y", s("dotted"))]))),
        (
            "  s ,\tn  ",
            Ok(|| item(vec![("s", s("abc")), ("n", n("5"))])),
        ),
        (
            "",
            Err("Invalid ProjectionExpression: The expression can not be empty;"),
        ),
        (
            "s,",
            Err("Invalid ProjectionExpression: Syntax error; token: \"<EOF>\", near: \",\""),
        ),
        (
            "s n",
            Err("Invalid ProjectionExpression: Syntax error; token: \"n\", near: \"s n\""),
        ),
        (
            ":s",
            Err("Invalid ProjectionExpression: Syntax error; token: \":s\", near: \":s\""),
        ),
        (
            "size(s)",
            Err("Invalid ProjectionExpression: Syntax error; token: \"(\", near: \"size(s\""),
        ),
        (
            "name",
            Err(
                "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: name",
            ),
        ),
        (
            "#zz",
            Err(
                "Invalid ProjectionExpression: An expression attribute name used in the document path is not defined; attribute name: #zz",
            ),
        ),
        (
            "a, a.b",
            Err(
                "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]",
            ),
        ),
        (
            "a, #a",
            Err(
                "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]",
            ),
        ),
        (
            "a.b, a[1]",
            Err(
                "Invalid ProjectionExpression: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a, [1]]",
            ),
        ),
        (
            "#zz, name",
            Err(
                "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: name",
            ),
        ),
    ];
    let mut failures = Vec::new();
    for (expr, want) in cases {
        let got = projected(expr);
        let want = want.map(|f| f()).map_err(|e| e.to_string());
        if got != want {
            failures.push(format!("{expr:?}\n   want {want:?}\n    got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ------------------------------------------------------------------------- key conditions

fn key_cond(expr: &str, sort_key: Option<&str>) -> Result<KeyCondition, String> {
    let (nm, vs) = (names(), values());
    let mut r = Resolver::new(Some(&nm), Some(&vs)).unwrap();
    r.key_condition(expr, "pk", sort_key)
        .map_err(|e| e.to_string())
}

#[test]
fn key_condition_table() {
    use SortCondition as Sc;
    type Case = (
        &'static str,
        Option<&'static str>,
        Result<fn() -> KeyCondition, &'static str>,
    );
    fn kc(partition: V, sort: Option<Sc>) -> KeyCondition {
        KeyCondition { partition, sort }
    }
    let cases: &[Case] = &[
        ("pk = :s", Some("sk"), Ok(|| kc(s("abc"), None))),
        ("pk = :s", None, Ok(|| kc(s("abc"), None))),
        (":s = pk", None, Ok(|| kc(s("abc"), None))),
        ("#pk = :s", None, Ok(|| kc(s("abc"), None))),
        ("(pk = :s)", None, Ok(|| kc(s("abc"), None))),
        (
            "pk = :s AND sk = :n1",
            Some("sk"),
            Ok(|| kc(s("abc"), Some(Sc::Eq(n("1"))))),
        ),
        (
            "pk = :s AND sk < :n1",
            Some("sk"),
            Ok(|| kc(s("abc"), Some(Sc::Lt(n("1"))))),
        ),
        (
            "pk = :s AND sk <= :n1",
            Some("sk"),
            Ok(|| kc(s("abc"), Some(Sc::Le(n("1"))))),
        ),
        (
            "pk = :s AND sk > :n1",
            Some("sk"),
            Ok(|| kc(s("abc"), Some(Sc::Gt(n("1"))))),
        ),
        (
            "pk = :s AND sk >= :n1",
            Some("sk"),
            Ok(|| kc(s("abc"), Some(Sc::Ge(n("1"))))),
        ),
        (
            "pk = :s AND :n1 < sk",
            Some("sk"),
            Ok(|| kc(s("abc"), Some(Sc::Gt(n("1"))))),
        ),
        (
            "pk = :s AND :n1 >= #sk",
            Some("sk"),
            Ok(|| kc(s("abc"), Some(Sc::Le(n("1"))))),
        ),
        (
            "pk = :s AND sk BETWEEN :n1 AND :n5",
            Some("sk"),
            Ok(|| kc(s("abc"), Some(Sc::Between(n("1"), n("5"))))),
        ),
        (
            "pk = :s AND begins_with(sk, :ab)",
            Some("sk"),
            Ok(|| kc(s("abc"), Some(Sc::BeginsWith(s("ab"))))),
        ),
        (
            "sk = :n1 AND pk = :s",
            Some("sk"),
            Ok(|| kc(s("abc"), Some(Sc::Eq(n("1"))))),
        ),
        (
            "(pk = :s) AND (sk = :n1)",
            Some("sk"),
            Ok(|| kc(s("abc"), Some(Sc::Eq(n("1"))))),
        ),
        (
            "(pk = :s AND sk = :n1)",
            Some("sk"),
            Ok(|| kc(s("abc"), Some(Sc::Eq(n("1"))))),
        ),
        (
            "sk = :n1",
            Some("sk"),
            Err("Query condition missed key schema element: pk"),
        ),
        (
            "xtra = :n1",
            Some("sk"),
            Err("Query condition missed key schema element: pk"),
        ),
        (
            "pk = :s AND xtra = :n1",
            Some("sk"),
            Err("Query condition missed key schema element: sk"),
        ),
        (
            "pk = :s AND xtra = :n1",
            None,
            Err("Query key condition not supported"),
        ),
        (
            "pk = :s AND sk = :n1",
            None,
            Err("Query key condition not supported"),
        ),
        (
            "pk = :s AND sk = :n1 AND xtra = :n1",
            Some("sk"),
            Err("Conditions can be of length 1 or 2 only"),
        ),
        ("pk > :s", None, Err("Query key condition not supported")),
        (
            "begins_with(pk, :s)",
            None,
            Err("Query key condition not supported"),
        ),
        (
            "pk BETWEEN :ab AND :s",
            None,
            Err("Query key condition not supported"),
        ),
        (
            "pk = :s AND sk = :n1 AND sk > :n0",
            Some("sk"),
            Err("KeyConditionExpressions must only contain one condition per key"),
        ),
        (
            "pk = :s AND pk = :s",
            Some("sk"),
            Err("KeyConditionExpressions must only contain one condition per key"),
        ),
        (
            "pk = :s OR sk = :n1",
            Some("sk"),
            Err("Invalid operator used in KeyConditionExpression: OR"),
        ),
        (
            "NOT pk = :s",
            Some("sk"),
            Err("Invalid operator used in KeyConditionExpression: NOT"),
        ),
        (
            "pk = :s AND NOT sk = :n1",
            Some("sk"),
            Err("Invalid operator used in KeyConditionExpression: NOT"),
        ),
        (
            "pk IN (:s)",
            Some("sk"),
            Err("Invalid operator used in KeyConditionExpression: IN"),
        ),
        (
            "pk <> :s",
            Some("sk"),
            Err("Invalid operator used in KeyConditionExpression: <>"),
        ),
        (
            "pk = :s AND attribute_exists(sk)",
            Some("sk"),
            Err("Invalid operator used in KeyConditionExpression: attribute_exists"),
        ),
        (
            "pk = :s AND attribute_not_exists(sk)",
            Some("sk"),
            Err("Invalid operator used in KeyConditionExpression: attribute_not_exists"),
        ),
        (
            "pk = :s AND attribute_type(sk, :tS)",
            Some("sk"),
            Err("Invalid operator used in KeyConditionExpression: attribute_type"),
        ),
        (
            "pk = :s AND contains(sk, :s)",
            Some("sk"),
            Err("Invalid operator used in KeyConditionExpression: contains"),
        ),
        (
            "pk = :s AND size(sk) = :n1",
            Some("sk"),
            Err("KeyConditionExpressions cannot contain nested operations"),
        ),
        (
            "pk = :s AND :n1 BETWEEN sk AND :n5",
            Some("sk"),
            Err(
                "Invalid condition in KeyConditionExpression: BETWEEN operator must have the key attribute as its first operand",
            ),
        ),
        (
            "pk = :s AND begins_with(:s, sk)",
            Some("sk"),
            Err(
                "Invalid condition in KeyConditionExpression: begins_with operator must have the key attribute as its first operand",
            ),
        ),
        (
            "pk = sk",
            Some("sk"),
            Err(
                "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
            ),
        ),
        (
            "pk = :s AND sk BETWEEN :n1 AND n",
            Some("sk"),
            Err(
                "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
            ),
        ),
        (
            "pk.a = :s",
            Some("sk"),
            Err("KeyConditionExpressions cannot have conditions on nested attributes"),
        ),
        (
            "pk = :s AND sk[0] = :s",
            Some("sk"),
            Err("KeyConditionExpressions cannot have conditions on nested attributes"),
        ),
        (
            ":s = :s",
            Some("sk"),
            Err("Invalid condition in KeyConditionExpression: No key attribute specified"),
        ),
        (
            "pk = ",
            Some("sk"),
            Err("Invalid KeyConditionExpression: Syntax error; token: \"<EOF>\", near: \"= \""),
        ),
        (
            "pk = :zz",
            Some("sk"),
            Err(
                "Invalid KeyConditionExpression: An expression attribute value used in expression is not defined; attribute value: :zz",
            ),
        ),
        (
            "",
            Some("sk"),
            Err("Invalid KeyConditionExpression: The expression can not be empty;"),
        ),
    ];
    let mut failures = Vec::new();
    for (expr, sk, want) in cases {
        let got = key_cond(expr, *sk);
        let want = want.map(|f| f()).map_err(|e| e.to_string());
        if got != want {
            failures.push(format!("{expr:?}\n   want {want:?}\n    got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn sort_condition_matches() {
    use SortCondition as Sc;
    let cases: &[(Sc, V, bool)] = &[
        (Sc::Eq(n("1")), n("1.0"), true),
        (Sc::Eq(n("1")), s("1"), false),
        (Sc::Lt(n("5")), n("4"), true),
        (Sc::Lt(n("5")), n("5"), false),
        (Sc::Le(n("5")), n("5"), true),
        (Sc::Gt(s("b")), s("ba"), true),
        (Sc::Ge(s("b")), s("a"), false),
        (Sc::Between(n("1"), n("3")), n("3"), true),
        (Sc::Between(n("1"), n("3")), n("3.1"), false),
        (Sc::BeginsWith(s("ab")), s("abc"), true),
        (Sc::BeginsWith(s("ab")), s("a"), false),
        (Sc::BeginsWith(V::B(vec![1])), V::B(vec![1, 2]), true),
    ];
    for (c, v, want) in cases {
        assert_eq!(c.matches(v), *want, "{c:?} on {v:?}");
    }
}

// ------------------------------------------------------------------------- resolver

#[test]
fn resolver_unused_and_invalid_maps() {
    let nm: HashMap<String, String> = [("#a", "a"), ("#b", "b"), ("#c", "c")]
        .map(|(k, v)| (k.into(), v.into()))
        .into();
    let vs: HashMap<String, V> = [(":x", s("x")), (":y", s("y"))]
        .map(|(k, v)| (k.into(), v))
        .into();

    let mut r = Resolver::new(Some(&nm), Some(&vs)).unwrap();
    r.condition("#a = :x").unwrap();
    r.projection("#b").unwrap();
    assert_eq!(
        r.finish().unwrap_err().to_string(),
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#c}"
    );

    let mut r = Resolver::new(Some(&nm), Some(&vs)).unwrap();
    r.condition("#a = :x").unwrap();
    r.update("SET #b = #c").unwrap();
    assert_eq!(
        r.finish().unwrap_err().to_string(),
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:y}"
    );

    let mut r = Resolver::new(Some(&nm), Some(&vs)).unwrap();
    r.condition("#a = :x AND #b = :y").unwrap();
    r.projection("#c").unwrap();
    r.finish().unwrap();

    let r = Resolver::new(None, Some(&vs)).unwrap();
    assert_eq!(
        r.finish().unwrap_err().to_string(),
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:x, :y}"
    );
    Resolver::new(None, None).unwrap().finish().unwrap();

    let empty_n: HashMap<String, String> = HashMap::new();
    assert_eq!(
        Resolver::new(Some(&empty_n), None).unwrap_err().to_string(),
        "ExpressionAttributeNames must not be empty"
    );
    let empty_v: HashMap<String, V> = HashMap::new();
    assert_eq!(
        Resolver::new(None, Some(&empty_v)).unwrap_err().to_string(),
        "ExpressionAttributeValues must not be empty"
    );
    let bad_n: HashMap<String, String> = [("a".to_string(), "a".to_string())].into();
    assert_eq!(
        Resolver::new(Some(&bad_n), None).unwrap_err().to_string(),
        "ExpressionAttributeNames contains invalid key: Syntax error; key: \"a\""
    );
    let bad_v: HashMap<String, V> = [(":a-b".to_string(), s("x"))].into();
    assert_eq!(
        Resolver::new(None, Some(&bad_v)).unwrap_err().to_string(),
        "ExpressionAttributeValues contains invalid key: Syntax error; key: \":a-b\""
    );

    // Without maps, every placeholder is undefined.
    let mut r = Resolver::new(None, None).unwrap();
    assert_eq!(
        r.condition("#a = :x").unwrap_err().to_string(),
        "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #a"
    );
}

#[test]
fn reserved_words_list() {
    assert_eq!(RESERVED_WORDS.len(), 573);
    assert!(RESERVED_WORDS.windows(2).all(|w| w[0] < w[1]));
    for w in ["abort", "Zone", "SIZE", "status", "name", "Data", "ttl"] {
        assert!(is_reserved(w), "{w}");
    }
    for w in ["abc", "size2", "pk", "namez", "", "statuses"] {
        assert!(!is_reserved(w), "{w}");
    }
}

// ------------------------------------------------------------------------- display

#[test]
fn display_round_trips_examples() {
    let (nm, vs) = (names(), values());
    let mut r = Resolver::new(Some(&nm), Some(&vs)).unwrap();
    for e in [
        "a = :s",
        "NOT (a = :s OR b = :s)",
        "(a = :s OR b = :s) AND c = :s",
        "a = :s OR (b = :s OR c = :s)",
        "a = :s AND (b = :s AND c = :s)",
        "NOT NOT a = :s",
        "size(#m.a[3]) BETWEEN :n1 AND :n5",
        "a IN (:s, :ab, b)",
        "attribute_type(a, :tS) AND contains(a, :s) OR begins_with(a, :s)",
    ] {
        let c = r.condition(e).unwrap();
        let printed = c.to_string();
        assert_eq!(r.condition(&printed).unwrap(), c, "{e} -> {printed}");
    }
    let u = r
        .update("DELETE d :ss ADD c :n1 REMOVE b[1], #m.x SET a = if_not_exists(a, :n0) + :n1, e = list_append(e, :l)")
        .unwrap();
    assert_eq!(
        u.to_string(),
        "SET a = if_not_exists(a, :n0) + :n1, e = list_append(e, :l) REMOVE b[1], #m.x ADD c :n1 DELETE d :ss"
    );
    assert_eq!(r.update(&u.to_string()).unwrap(), u);
    let p = r.projection("a, #m.b[2].c").unwrap();
    assert_eq!(p.to_string(), "a, #m.b[2].c");
}

// ------------------------------------------------------------------------- properties

fn arb_path(heads: &'static [&'static str]) -> impl Strategy<Value = Path> {
    let head = prop::sample::select(heads).prop_map(|h| match h.strip_prefix('#') {
        Some(rest) => Name {
            name: rest.to_string(),
            placeholder: Some(h.to_string()),
        },
        None => Name::literal(h),
    });
    let elem = prop_oneof![
        prop::sample::select(&["x", "y", "#a", "#s"][..]).prop_map(|h| PathElem::Attr(
            match h.strip_prefix('#') {
                Some(rest) => Name {
                    name: rest.to_string(),
                    placeholder: Some(h.to_string())
                },
                None => Name::literal(h),
            }
        )),
        (0usize..20).prop_map(PathElem::Index),
    ];
    (head, prop::collection::vec(elem, 0..3)).prop_map(|(h, mut rest)| {
        let mut elems = vec![PathElem::Attr(h)];
        elems.append(&mut rest);
        Path { elems }
    })
}

fn value_of(p: &str) -> Value {
    Value {
        placeholder: p.to_string(),
        value: values()[p].clone(),
    }
}

fn arb_value() -> impl Strategy<Value = Value> {
    prop::sample::select(&[":s", ":ab", ":n1", ":n5", ":t", ":ss", ":l"][..]).prop_map(value_of)
}

const COND_HEADS: &[&str] = &["a", "b", "c", "#a", "#n", "u_1"];

fn arb_leaf() -> impl Strategy<Value = Condition> {
    let path = || arb_path(COND_HEADS);
    let lhs = prop_oneof![
        path().prop_map(Operand::Path),
        path().prop_map(|p| Operand::Size(Box::new(Operand::Path(p)))),
    ];
    let cmp = prop::sample::select(
        &[
            Comparator::Eq,
            Comparator::Ne,
            Comparator::Lt,
            Comparator::Le,
            Comparator::Gt,
            Comparator::Ge,
        ][..],
    );
    prop_oneof![
        // An ordering comparison with a constant that does not order is an error, not
        // an expression: those constants are compared with `=` instead.
        (cmp, lhs.clone(), arb_value()).prop_map(|(c, a, v)| {
            let orders = matches!(v.value, V::S(_) | V::N(_) | V::B(_));
            let c = if orders { c } else { Comparator::Eq };
            Condition::Compare(c, a, Operand::Value(v))
        }),
        lhs.clone().prop_map(|a| Condition::Between(
            a,
            Operand::Value(value_of(":n1")),
            Operand::Value(value_of(":n5"))
        )),
        (lhs, prop::collection::vec(arb_value(), 1..4))
            .prop_map(|(a, vs)| Condition::In(a, vs.into_iter().map(Operand::Value).collect())),
        path().prop_map(Condition::AttributeExists),
        path().prop_map(Condition::AttributeNotExists),
        path().prop_map(|p| Condition::AttributeType(p, Operand::Value(value_of(":tN")))),
        path()
            .prop_map(|p| Condition::BeginsWith(Operand::Path(p), Operand::Value(value_of(":ab")))),
        (path(), arb_value())
            .prop_map(|(p, v)| Condition::Contains(Operand::Path(p), Operand::Value(v))),
    ]
}

fn arb_condition() -> impl Strategy<Value = Condition> {
    arb_leaf().prop_recursive(6, 40, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|c| Condition::Not(Box::new(c))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| Condition::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Condition::Or(Box::new(a), Box::new(b))),
        ]
    })
}

fn arb_update_operand() -> impl Strategy<Value = UpdateOperand> {
    let path = || arb_path(COND_HEADS);
    let leaf = prop_oneof![
        path().prop_map(UpdateOperand::Path),
        arb_value().prop_map(UpdateOperand::Value),
    ];
    leaf.prop_recursive(3, 10, 2, move |inner| {
        prop_oneof![
            (arb_path(COND_HEADS), inner.clone())
                .prop_map(|(p, o)| UpdateOperand::IfNotExists(p, Box::new(o))),
            (
                arb_path(COND_HEADS),
                prop::sample::select(&[":l", ":l2"][..])
            )
                .prop_map(|(p, v)| {
                    UpdateOperand::ListAppend(
                        Box::new(UpdateOperand::Path(p)),
                        Box::new(UpdateOperand::Value(value_of(v))),
                    )
                }),
        ]
    })
}

fn arb_set_value() -> impl Strategy<Value = SetValue> {
    prop_oneof![
        arb_update_operand().prop_map(SetValue::Operand),
        arb_path(COND_HEADS).prop_map(|p| SetValue::Plus(
            UpdateOperand::Path(p),
            UpdateOperand::Value(value_of(":n1"))
        )),
        arb_path(COND_HEADS).prop_map(|p| SetValue::Minus(
            UpdateOperand::Value(value_of(":n5")),
            UpdateOperand::Path(p)
        )),
    ]
}

/// A target path whose head is unique (`t{i}`), so generated actions never overlap.
fn with_head(mut p: Path, i: usize) -> Path {
    p.elems[0] = PathElem::Attr(Name::literal(format!("t{i}")));
    p
}

fn arb_update() -> impl Strategy<Value = UpdateExpr> {
    let target = || arb_path(&["t"]);
    (
        prop::collection::vec((target(), arb_set_value()), 0..4),
        prop::collection::vec(target(), 0..3),
        prop::collection::vec((target(), prop::sample::select(&[":n1", ":ss"][..])), 0..3),
        prop::collection::vec(target(), 0..3),
    )
        .prop_filter("at least one action", |(a, b, c, d)| {
            !(a.is_empty() && b.is_empty() && c.is_empty() && d.is_empty())
        })
        .prop_map(|(set, remove, add, delete)| {
            let mut i = 0;
            let mut next = |p: Path| {
                i += 1;
                with_head(p, i)
            };
            UpdateExpr {
                set: set
                    .into_iter()
                    .map(|(p, value)| SetAction {
                        path: next(p),
                        value,
                    })
                    .collect(),
                remove: remove.into_iter().map(&mut next).collect(),
                add: add
                    .into_iter()
                    .map(|(p, v)| ValueAction {
                        path: next(p),
                        value: value_of(v),
                    })
                    .collect(),
                delete: delete
                    .into_iter()
                    .map(|p| ValueAction {
                        path: next(p),
                        value: value_of(":ss"),
                    })
                    .collect(),
            }
        })
}

fn arb_projection() -> impl Strategy<Value = Projection> {
    prop::collection::vec(arb_path(&["t"]), 1..5).prop_map(|ps| Projection {
        paths: ps
            .into_iter()
            .enumerate()
            .map(|(i, p)| with_head(p, i))
            .collect(),
    })
}

/// Feeds `s` to every parser; only asserts that nothing panics.
fn parse_everything(s: &str) {
    let (nm, vs) = (names(), values());
    let mut r = Resolver::new(Some(&nm), Some(&vs)).unwrap();
    let it = base_item();
    if let Ok(c) = r.condition(s) {
        let _ = c.evaluate(&it);
        let _ = c.to_string();
    }
    let _ = r.filter(s);
    if let Ok(u) = r.update(s) {
        let mut it = it.clone();
        let _ = u.apply(&mut it);
        let _ = u.to_string();
    }
    if let Ok(p) = r.projection(s) {
        let _ = p.apply(&it);
    }
    let _ = r.key_condition(s, "pk", Some("sk"));
    let _ = r.finish();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_strings_never_panic(s in "\\PC{0,80}") {
        parse_everything(&s);
    }

    #[test]
    fn random_token_soup_never_panics(
        toks in prop::collection::vec(prop::sample::select(&[
            "a", "b", "#a", "#zz", ":s", ":n1", ":zz", "(", ")", "[", "]", "0", "3", ",", ".",
            "=", "<>", "<", "<=", ">", ">=", "+", "-", "AND", "OR", "NOT", "BETWEEN", "IN",
            "SET", "REMOVE", "ADD", "DELETE", "size", "contains", "begins_with",
            "attribute_exists", "attribute_type", "if_not_exists", "list_append", "name", " ",
        ][..]), 0..30)
    ) {
        parse_everything(&toks.join(" "));
        parse_everything(&toks.concat());
    }

    #[test]
    fn conditions_round_trip(c in arb_condition()) {
        let printed = c.to_string();
        let (nm, vs) = (names(), values());
        let mut r = Resolver::new(Some(&nm), Some(&vs)).unwrap();
        let reparsed = r.condition(&printed).map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
        prop_assert_eq!(&reparsed, &c, "{}", printed);
        prop_assert_eq!(reparsed.to_string(), printed);
        let _ = reparsed.evaluate(&base_item());
    }

    #[test]
    fn updates_round_trip(u in arb_update()) {
        let printed = u.to_string();
        let (nm, vs) = (names(), values());
        let mut r = Resolver::new(Some(&nm), Some(&vs)).unwrap();
        let reparsed = r.update(&printed).map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
        prop_assert_eq!(&reparsed, &u, "{}", printed);
        let mut it = base_item();
        let _ = reparsed.apply(&mut it);
    }

    #[test]
    fn projections_round_trip(p in arb_projection()) {
        let printed = p.to_string();
        let (nm, vs) = (names(), values());
        let mut r = Resolver::new(Some(&nm), Some(&vs)).unwrap();
        let reparsed = r.projection(&printed).map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
        prop_assert_eq!(&reparsed, &p, "{}", printed);
    }
}

#[test]
fn projection_of_nested_lists_keeps_order() {
    let it = item(vec![(
        "a",
        l(vec![l(vec![n("0"), n("1"), n("2")]), l(vec![n("3")])]),
    )]);
    let (nm, vs) = (names(), values());
    let mut r = Resolver::new(Some(&nm), Some(&vs)).unwrap();
    let p = r.projection("a[1][0], a[0][2], a[0][0]").unwrap();
    let want = item(vec![(
        "a",
        l(vec![l(vec![n("0"), n("2")]), l(vec![n("3")])]),
    )]);
    assert_eq!(p.apply(&it), want);
    let _ = BTreeMap::<String, V>::new();
}
