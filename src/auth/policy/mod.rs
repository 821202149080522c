//! IAM policy documents: reading them (`parse.rs`), matching actions and resources with
//! IAM's wildcards (`glob`), testing conditions (`condition.rs`), and IAM's evaluation
//! logic over a principal's policies: an explicit Deny wins, else any Allow allows,
//! else the request is denied (an implicit deny).
//!
//! Owns the policy language and its evaluation. Must not know where policies are
//! stored, who the principal is beyond the policy variables it supplies, or what a
//! DynamoDB request contains: the caller states the action, the resource and the
//! request's condition keys.

mod condition;
mod parse;

use std::net::IpAddr;

/// The longest policy document, in characters (IAM's limit for a managed policy; an
/// inline user policy is limited to 2,048 in IAM, which is too small for a policy
/// that lists several tables with conditions).
pub const POLICY_DOCUMENT_CHARS_MAX: usize = 6_144;

/// Why a document is refused (IAM's `MalformedPolicyDocument`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyError {}

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The statements, in document order. Policy variables (`${aws:username}`) in
    /// resources and condition values are replaced as they are evaluated (the
    /// document's `Version` is `2012-10-17`, which IAM requires for that).
    statements: Vec<Statement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

/// `Action` or `NotAction`, `Resource` or `NotResource`: patterns, and whether the
/// element is the negated form.
#[derive(Debug, Clone, PartialEq)]
struct Patterns {
    not: bool,
    patterns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
struct Statement {
    sid: Option<String>,
    effect: Effect,
    actions: Patterns,
    resources: Patterns,
    conditions: Vec<condition::Condition>,
}

/// Who is asking: what the policy variables and the `aws:` condition keys resolve to.
#[derive(Debug, Clone, Default)]
pub struct Principal {
    /// `aws:username`.
    pub user: String,
    /// `aws:userid` (the user's unique id, `AIDA…`).
    pub user_id: String,
    /// `aws:PrincipalArn`.
    pub arn: String,
    /// `aws:SourceIp`.
    pub source_ip: Option<IpAddr>,
}

/// One action on one resource, with the request's own condition keys.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// `dynamodb:GetItem`, `eddy:GetFunctionLogs`.
    pub action: &'a str,
    /// The resource's ARN, or `*` for an action on no resource (ListTables).
    pub resource: &'a str,
    /// The request's condition keys (`dynamodb:LeadingKeys`, …) with their values; a
    /// key not listed is absent from the request.
    pub keys: &'a [(&'a str, Vec<String>)],
}

/// IAM's three outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// No statement allows the request.
    ImplicitDeny,
    /// A Deny statement matches it.
    ExplicitDeny,
}

impl Policy {
    /// Reads a policy document, or says what is wrong with it.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        parse::parse(text)
    }

    /// The policy of one statement that allows `actions` on `resources`, with no
    /// condition (a function's role).
    pub fn allow(actions: Vec<String>, resources: Vec<String>) -> Policy {
        Policy {
            statements: vec![Statement {
                sid: None,
                effect: Effect::Allow,
                actions: Patterns {
                    not: false,
                    patterns: actions,
                },
                resources: Patterns {
                    not: false,
                    patterns: resources,
                },
                conditions: Vec::new(),
            }],
        }
    }
}

/// IAM's evaluation of a principal's policies on one request.
pub fn evaluate<'p>(
    policies: impl IntoIterator<Item = &'p Policy>,
    principal: &Principal,
    request: &Request<'_>,
) -> Decision {
    let mut allowed = false;
    for policy in policies {
        let vars = Variables { principal };
        for s in &policy.statements {
            if !s.applies(&vars, principal, request) {
                continue;
            }
            match s.effect {
                Effect::Deny => return Decision::ExplicitDeny,
                Effect::Allow => allowed = true,
            }
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

impl Statement {
    fn applies(&self, vars: &Variables<'_>, principal: &Principal, request: &Request<'_>) -> bool {
        // Actions are case-insensitive in IAM; resources (ARNs) are not.
        let action = self.actions.patterns.iter().any(|p| {
            glob(
                &p.to_ascii_lowercase(),
                &request.action.to_ascii_lowercase(),
            )
        });
        if action == self.actions.not {
            return false;
        }
        let resource = self.resources.patterns.iter().any(|p| {
            vars.substitute(p)
                .is_some_and(|p| glob(&p, request.resource))
        });
        if resource == self.resources.not {
            return false;
        }
        self.conditions
            .iter()
            .all(|c| c.holds(vars, &context_values(principal, request, c.key())))
    }
}

/// The values of a condition key in this request: the `aws:` keys from the principal,
/// the service's keys from the request (matched case-insensitively, as IAM does).
fn context_values(principal: &Principal, request: &Request<'_>, key: &str) -> Option<Vec<String>> {
    match key {
        "aws:username" => Some(vec![principal.user.clone()]),
        "aws:userid" => Some(vec![principal.user_id.clone()]),
        "aws:principalarn" => Some(vec![principal.arn.clone()]),
        "aws:sourceip" => principal.source_ip.map(|ip| vec![ip.to_string()]),
        _ => request
            .keys
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.clone()),
    }
}

/// Policy variables (`${aws:username}`).
struct Variables<'a> {
    principal: &'a Principal,
}

impl Variables<'_> {
    /// `text` with its variables replaced; `None` when one has no value here (IAM then
    /// treats the element as matching nothing).
    fn substitute<'t>(&self, text: &'t str) -> Option<std::borrow::Cow<'t, str>> {
        if !text.contains("${") {
            return Some(std::borrow::Cow::Borrowed(text));
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}')?;
            let name = after[..end].trim();
            let value = match name.to_ascii_lowercase().as_str() {
                "aws:username" => self.principal.user.clone(),
                "aws:userid" => self.principal.user_id.clone(),
                "aws:principalarn" => self.principal.arn.clone(),
                "aws:sourceip" => self.principal.source_ip?.to_string(),
                // The escapes for characters that are otherwise wildcards or syntax.
                "*" => "*".to_owned(),
                "?" => "?".to_owned(),
                "$" => "$".to_owned(),
                _ => return None,
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Some(std::borrow::Cow::Owned(out))
    }
}

/// IAM's wildcard match: `*` is any run of characters, `?` any one character.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    glob_case(pattern, text, false)
}

/// [`glob`], ignoring ASCII case where `ignore_case` (actions). ASCII text, nearly all of
/// it (ARNs, actions, key values), is matched byte by byte without copying.
fn glob_case(pattern: &str, text: &str, ignore_case: bool) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        return wildcard(pattern.as_bytes(), text.as_bytes(), |a, b| {
            if ignore_case {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        });
    }
    let lower = |s: &str| {
        if ignore_case {
            s.to_lowercase()
        } else {
            s.to_owned()
        }
    };
    let (p, t): (Vec<char>, Vec<char>) = (
        lower(pattern).chars().collect(),
        lower(text).chars().collect(),
    );
    wildcard(&p, &t, |a, b| a == b)
}

/// The wildcard match over any symbols, `*` and `?` being those of the pattern.
fn wildcard<T: Copy + PartialEq + From<u8>>(p: &[T], t: &[T], eq: impl Fn(&T, &T) -> bool) -> bool {
    let (star_sym, any_sym) = (T::from(b'*'), T::from(b'?'));
    let (mut pi, mut ti) = (0, 0);
    // The last `*` seen and the text position it was tried at, for backtracking.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] != star_sym && (p[pi] == any_sym || eq(&p[pi], &t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == star_sym {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == star_sym)
}

#[cfg(test)]
mod tests;
