//! What a welcome mail says and what names it: the idempotency key of a user and the
//! text of the message. Pure functions of the stream record, so that a retried or
//! replayed record yields the very same key and message.
//!
//! Must not know how mail is sent (that is the host's `email` capability).

use eddy_sdk::{AttributeValue, Item};

/// The idempotency key of the welcome mail of the item with `keys`:
/// `welcome/<key value>`, with the values of a composite key joined by `/` in attribute
/// name order. `%` and `/` inside a value are escaped (`%25`, `%2F`), so that two
/// different keys never share a name. `None` for a key attribute that is not a scalar
/// (the stream never sends one).
pub fn idempotency_key(keys: &Item) -> Option<String> {
    let mut out = String::from("welcome");
    for value in keys.values() {
        let text = match value {
            AttributeValue::S(s) | AttributeValue::N(s) | AttributeValue::B(s) => s,
            _ => return None,
        };
        out.push('/');
        out.push_str(&text.replace('%', "%25").replace('/', "%2F"));
    }
    Some(out)
}

/// The subject and body of the welcome mail for `name` (if the item has one) from the
/// team of `app`.
pub fn compose(app: &str, name: Option<&str>) -> (String, String) {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    let subject = match name {
        Some(name) => format!("Welcome to {app}, {name}!"),
        None => format!("Welcome to {app}!"),
    };
    let greeting = name.unwrap_or("there");
    let body = format!(
        "Hi {greeting},\n\
         \n\
         welcome to {app}! Your account is ready, and we are glad to have you.\n\
         \n\
         If you did not sign up, you can ignore this message.\n\
         \n\
         The {app} team\n"
    );
    (subject, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_the_item_and_cannot_collide() {
        let one = Item::from([("id".to_owned(), AttributeValue::s("u1"))]);
        assert_eq!(idempotency_key(&one).as_deref(), Some("welcome/u1"));
        let a = Item::from([
            ("a".to_owned(), AttributeValue::s("x/y")),
            ("b".to_owned(), AttributeValue::s("z")),
        ]);
        let b = Item::from([
            ("a".to_owned(), AttributeValue::s("x")),
            ("b".to_owned(), AttributeValue::s("y/z")),
        ]);
        assert_eq!(idempotency_key(&a).as_deref(), Some("welcome/x%2Fy/z"));
        assert_ne!(idempotency_key(&a), idempotency_key(&b));
        let n = Item::from([("n".to_owned(), AttributeValue::n(7))]);
        assert_eq!(idempotency_key(&n).as_deref(), Some("welcome/7"));
    }

    #[test]
    fn the_message_greets_by_name_when_there_is_one() {
        let (subject, body) = compose("Eddy", Some("Ada"));
        assert_eq!(subject, "Welcome to Eddy, Ada!");
        assert!(body.starts_with("Hi Ada,\n"));
        let (subject, body) = compose("Eddy", Some("  "));
        assert_eq!(subject, "Welcome to Eddy!");
        assert!(body.starts_with("Hi there,\n"));
    }
}
