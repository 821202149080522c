//! The hand-written lexer shared by all expression kinds. It never fails: a character
//! that starts no token becomes an [`Tok::Unknown`] token, which the parser reports as
//! DynamoDB's `Syntax error; token: "…", near: "…"`.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    /// `[A-Za-z][A-Za-z0-9_]*`: a name, keyword or function name. DynamoDB's lexer
    /// starts one only at a letter: `_123` is the token `_` (a syntax error) and `123`.
    Ident,
    /// `#[A-Za-z0-9_]+`: an expression attribute name (a lone `#` is no token; DynamoDB
    /// refuses one with a ValidationException, and a syntax error on it is the likely
    /// message, not confirmed).
    Name,
    /// `:[A-Za-z0-9_]+`: an expression attribute value (a lone `:` is no token).
    Value,
    /// `[0-9]+`: a list index.
    Int,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Unknown,
    Eof,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    pub kind: Tok,
    pub start: usize,
    pub end: usize,
}

fn is_ident_part(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Splits `src` into tokens, whitespace (` \t\r\n`) skipped, ending with one `Eof`.
pub(crate) fn lex(src: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut it = src.char_indices().peekable();
    while let Some((start, c)) = it.next() {
        if matches!(c, ' ' | '\t' | '\r' | '\n') {
            continue;
        }
        let mut end = start + c.len_utf8();
        let next_is_ident_part = it.peek().is_some_and(|&(_, d)| is_ident_part(d));
        let mut take_while = |pred: fn(char) -> bool, end: &mut usize| {
            while let Some(&(i, d)) = it.peek() {
                if !pred(d) {
                    break;
                }
                *end = i + d.len_utf8();
                it.next();
            }
        };
        let kind = match c {
            c if c.is_ascii_alphabetic() => {
                take_while(is_ident_part, &mut end);
                Tok::Ident
            }
            c if c.is_ascii_digit() => {
                take_while(|d| d.is_ascii_digit(), &mut end);
                Tok::Int
            }
            '#' | ':' if next_is_ident_part => {
                take_while(is_ident_part, &mut end);
                if c == '#' { Tok::Name } else { Tok::Value }
            }
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            ',' => Tok::Comma,
            '.' => Tok::Dot,
            '=' => Tok::Eq,
            '+' => Tok::Plus,
            '-' => Tok::Minus,
            '<' => match it.peek() {
                Some(&(_, '=')) => {
                    it.next();
                    end += 1;
                    Tok::Le
                }
                Some(&(_, '>')) => {
                    it.next();
                    end += 1;
                    Tok::Ne
                }
                _ => Tok::Lt,
            },
            '>' => match it.peek() {
                Some(&(_, '=')) => {
                    it.next();
                    end += 1;
                    Tok::Ge
                }
                _ => Tok::Gt,
            },
            _ => Tok::Unknown,
        };
        out.push(Token { kind, start, end });
    }
    out.push(Token {
        kind: Tok::Eof,
        start: src.len(),
        end: src.len(),
    });
    out
}
