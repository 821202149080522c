//! Condition operators: the string, numeric, boolean, IP-address, ARN and `Null`
//! families, their `…IfExists` forms, and the `ForAllValues:` / `ForAnyValue:` set
//! qualifiers, with IAM's rules for a key the request does not carry: a positive
//! operator is false, a negated one (`StringNotEquals`, `NotIpAddress`) true,
//! `…IfExists` true, `ForAllValues:` true (an empty set), `ForAnyValue:` false.
//!
//! A single-valued operator on a key with several values (`StringEquals` on
//! `dynamodb:LeadingKeys` of a BatchGetItem) holds only when it holds for every value:
//! IAM warns that such policies give unexpected results, and the safe reading is the
//! one that never lets a second key slip past a condition written for one.
//!
//! Owns the operators. Must not know where the request's values come from.

use std::net::IpAddr;

use super::{PolicyError, Variables, glob};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(NumericOp),
    Bool,
    IpAddress,
    /// `ArnEquals` and `ArnLike` match alike (wildcards allowed in both, as IAM does).
    ArnLike,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumericOp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Set {
    One,
    ForAllValues,
    ForAnyValue,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Condition {
    family: Family,
    /// `StringNotEquals`, `NotIpAddress`, …: the family's test, negated.
    negated: bool,
    if_exists: bool,
    set: Set,
    /// The condition key, lower case (keys are case-insensitive).
    key: String,
    values: Vec<String>,
}

impl Condition {
    pub(super) fn parse(
        operator: &str,
        key: &str,
        values: Vec<String>,
    ) -> Result<Condition, PolicyError> {
        let (set, rest) = if let Some(rest) = operator.strip_prefix("ForAllValues:") {
            (Set::ForAllValues, rest)
        } else if let Some(rest) = operator.strip_prefix("ForAnyValue:") {
            (Set::ForAnyValue, rest)
        } else {
            (Set::One, operator)
        };
        let (if_exists, base) = match rest.strip_suffix("IfExists") {
            Some(base) => (true, base),
            None => (false, rest),
        };
        let (family, negated) = match base {
            "StringEquals" => (Family::StringEquals, false),
            "StringNotEquals" => (Family::StringEquals, true),
            "StringEqualsIgnoreCase" => (Family::StringEqualsIgnoreCase, false),
            "StringNotEqualsIgnoreCase" => (Family::StringEqualsIgnoreCase, true),
            "StringLike" => (Family::StringLike, false),
            "StringNotLike" => (Family::StringLike, true),
            "NumericEquals" => (Family::Numeric(NumericOp::Eq), false),
            "NumericNotEquals" => (Family::Numeric(NumericOp::Eq), true),
            "NumericLessThan" => (Family::Numeric(NumericOp::Lt), false),
            "NumericLessThanEquals" => (Family::Numeric(NumericOp::Le), false),
            "NumericGreaterThan" => (Family::Numeric(NumericOp::Gt), false),
            "NumericGreaterThanEquals" => (Family::Numeric(NumericOp::Ge), false),
            "Bool" => (Family::Bool, false),
            "IpAddress" => (Family::IpAddress, false),
            "NotIpAddress" => (Family::IpAddress, true),
            "ArnEquals" | "ArnLike" => (Family::ArnLike, false),
            "ArnNotEquals" | "ArnNotLike" => (Family::ArnLike, true),
            "Null" if !if_exists && set == Set::One => (Family::Null, false),
            // IAM's operators Eddy does not evaluate are refused by name, rather than
            // a policy that silently never matches.
            other if other.starts_with("Date") || other.starts_with("Binary") => {
                return Err(PolicyError(format!(
                    "Eddy does not support the condition operator {operator}"
                )));
            }
            _ => return Err(PolicyError("Syntax errors in policy.".to_owned())),
        };
        if !key.contains(':') {
            return Err(PolicyError(format!(
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. (condition key \"{key}\")"
            )));
        }
        if values.is_empty() {
            return Err(PolicyError("Syntax errors in policy.".to_owned()));
        }
        // A value its operator cannot read is what IAM calls a legacy parse failure
        // (its answer for a date operator given no date).
        let readable = |v: &String| match family {
            Family::Numeric(_) => v.parse::<f64>().is_ok(),
            Family::Bool | Family::Null => {
                v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false")
            }
            Family::IpAddress => Cidr::parse(v).is_some(),
            _ => true,
        };
        if !values.iter().all(readable) {
            return Err(PolicyError("The policy failed legacy parsing".to_owned()));
        }
        Ok(Condition {
            family,
            negated,
            if_exists,
            set,
            key: key.to_ascii_lowercase(),
            values,
        })
    }

    pub(super) fn key(&self) -> &str {
        &self.key
    }

    /// Whether the condition holds, given the key's values in the request (`None`:
    /// the request does not carry the key).
    pub(super) fn holds(&self, vars: &Variables<'_>, request: &Option<Vec<String>>) -> bool {
        if self.family == Family::Null {
            let absent = request.as_ref().is_none_or(Vec::is_empty);
            return self
                .values
                .iter()
                .any(|v| v.eq_ignore_ascii_case("true") == absent);
        }
        // The policy's values, with the variables replaced; one without a value here
        // matches nothing.
        let policy: Vec<std::borrow::Cow<'_, str>> = self
            .values
            .iter()
            .filter_map(|v| vars.substitute(v))
            .collect();
        let present = request.as_ref().filter(|v| !v.is_empty());
        match (self.set, present) {
            (Set::ForAllValues, None) => true,
            (Set::ForAnyValue, None) => false,
            (Set::One, None) => self.if_exists || self.negated,
            (Set::ForAllValues, Some(values)) => values.iter().all(|v| self.one(&policy, v)),
            (Set::ForAnyValue, Some(values)) => values.iter().any(|v| self.one(&policy, v)),
            (Set::One, Some(values)) => values.iter().all(|v| self.one(&policy, v)),
        }
    }

    /// Whether one request value passes: it matches one of the policy's values, or for
    /// a negated operator, none of them.
    fn one(&self, policy: &[std::borrow::Cow<'_, str>], value: &str) -> bool {
        let matched = policy.iter().any(|p| self.matches(p, value));
        matched != self.negated
    }

    fn matches(&self, policy: &str, value: &str) -> bool {
        match self.family {
            Family::StringEquals => policy == value,
            Family::StringEqualsIgnoreCase => policy.eq_ignore_ascii_case(value),
            Family::StringLike | Family::ArnLike => glob(policy, value),
            Family::Numeric(op) => match (policy.parse::<f64>(), value.parse::<f64>()) {
                (Ok(p), Ok(v)) => match op {
                    NumericOp::Eq => v == p,
                    NumericOp::Lt => v < p,
                    NumericOp::Le => v <= p,
                    NumericOp::Gt => v > p,
                    NumericOp::Ge => v >= p,
                },
                _ => false,
            },
            Family::Bool => policy.eq_ignore_ascii_case(value),
            Family::IpAddress => match (Cidr::parse(policy), value.parse::<IpAddr>()) {
                (Some(cidr), Ok(ip)) => cidr.contains(ip),
                _ => false,
            },
            Family::Null => false,
        }
    }
}

/// An address block (`203.0.113.0/24`, `2001:db8::/32`) or one address.
#[derive(Debug, Clone, Copy)]
struct Cidr {
    ip: IpAddr,
    prefix_bits: u32,
}

impl Cidr {
    fn parse(text: &str) -> Option<Cidr> {
        let (ip, bits) = match text.split_once('/') {
            Some((ip, bits)) => (ip.parse::<IpAddr>().ok()?, Some(bits.parse::<u32>().ok()?)),
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix_bits = bits.unwrap_or(max);
        (prefix_bits <= max).then_some(Cidr { ip, prefix_bits })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 client on an IPv6 socket arrives as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.ip, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - self.prefix_bits).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - self.prefix_bits).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}
