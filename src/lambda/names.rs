//! How Lambda names a function: a name, a partial ARN (`123456789012:function:name`) or
//! a full ARN, each optionally with a `:qualifier` (a version or `$LATEST`).
//!
//! Owns the parsing of those forms and the ARN Eddy answers with. Must not know whether
//! a function exists.

/// The function's name and the qualifier the reference carries, if any.
pub(super) fn function_name(reference: &str) -> (String, Option<String>) {
    let after = match reference.split_once(":function:") {
        Some((_, rest)) => rest,
        None => reference,
    };
    match after.split_once(':') {
        Some((name, qualifier)) => (name.to_owned(), Some(qualifier.to_owned())),
        None => (after.to_owned(), None),
    }
}

/// The ARN of a function (unqualified) in this region and account.
pub(super) fn function_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:function:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_partial_and_full_arns_with_and_without_qualifiers() {
        let n = |s: &str| function_name(s);
        assert_eq!(n("f"), ("f".into(), None));
        assert_eq!(n("f:$LATEST"), ("f".into(), Some("$LATEST".into())));
        assert_eq!(n("000000000000:function:f"), ("f".into(), None));
        assert_eq!(
            n("arn:aws:lambda:us-east-1:000000000000:function:f:3"),
            ("f".into(), Some("3".into()))
        );
    }
}
