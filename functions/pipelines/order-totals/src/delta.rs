//! What one change to an order does to the view.
//!
//! Owns the rule "old image out, new image in": an order counts once (with its amount) in
//! its customer's overall total and once in the bucket of its status, so a change moves
//! it out of the buckets of the old image and into those of the new one. Must not know
//! how the deltas are written (transactions, ledger) or where records come from.

use std::collections::BTreeMap;

use eddy_sdk::{AttributeValue, Item};

use crate::decimal::Decimal;

/// The attribute of an order that holds its status.
pub const STATUS_ATTR: &str = "status";
/// The attribute of an order that holds its amount (a DynamoDB number).
pub const AMOUNT_ATTR: &str = "amount";
/// The view's sort key value of a customer's overall total.
pub const SCOPE_ALL: &str = "ALL";
/// The prefix of the view's sort key value of a customer's total for one status.
pub const SCOPE_STATUS_PREFIX: &str = "status#";

/// A change to one aggregate: how many orders and how much amount to add (both may be
/// negative).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delta {
    pub count: i64,
    pub amount: Decimal,
}

impl Delta {
    fn is_zero(&self) -> bool {
        self.count == 0 && self.amount.is_zero()
    }
}

/// What an order image contributes: one order, with its amount, to `ALL` and to the
/// bucket of its status (if it has a string status).
struct Contribution {
    status: Option<String>,
    amount: Decimal,
}

fn contribution(image: &Item) -> Result<Contribution, String> {
    let status = image
        .get(STATUS_ATTR)
        .and_then(AttributeValue::as_s)
        .map(str::to_owned);
    // An order without a numeric amount still counts as an order; its amount is zero.
    let amount = match image.get(AMOUNT_ATTR).and_then(AttributeValue::as_n) {
        Some(text) => Decimal::parse(text)?,
        None => Decimal::ZERO,
    };
    Ok(Contribution { status, amount })
}

/// The scopes (the view's sort key values) an order contributes to.
fn scopes(c: &Contribution) -> impl Iterator<Item = String> + '_ {
    std::iter::once(SCOPE_ALL.to_owned()).chain(
        c.status
            .iter()
            .map(|status| format!("{SCOPE_STATUS_PREFIX}{status}")),
    )
}

/// The non-zero deltas, by scope, of the change `old` → `new` of one order (`None` for
/// "did not exist"). A change that touches neither status nor amount yields none.
pub fn deltas(old: Option<&Item>, new: Option<&Item>) -> Result<BTreeMap<String, Delta>, String> {
    let mut out: BTreeMap<String, Delta> = BTreeMap::new();
    let overflow = || "the amount delta overflows".to_owned();
    if let Some(old) = old {
        let c = contribution(old)?;
        for scope in scopes(&c) {
            let d = out.entry(scope).or_default();
            d.count -= 1;
            d.amount = d.amount.checked_add(c.amount.neg()).ok_or_else(overflow)?;
        }
    }
    if let Some(new) = new {
        let c = contribution(new)?;
        for scope in scopes(&c) {
            let d = out.entry(scope).or_default();
            d.count += 1;
            d.amount = d.amount.checked_add(c.amount).ok_or_else(overflow)?;
        }
    }
    out.retain(|_, d| !d.is_zero());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(status: &str, amount: &str) -> Item {
        Item::from([
            ("customer_id".to_owned(), AttributeValue::s("c1")),
            ("order_id".to_owned(), AttributeValue::s("o1")),
            (STATUS_ATTR.to_owned(), AttributeValue::s(status)),
            (AMOUNT_ATTR.to_owned(), AttributeValue::N(amount.to_owned())),
        ])
    }

    fn show(deltas: &BTreeMap<String, Delta>) -> Vec<(String, i64, String)> {
        deltas
            .iter()
            .map(|(scope, d)| (scope.clone(), d.count, d.amount.to_string()))
            .collect()
    }

    fn row(scope: &str, count: i64, amount: &str) -> (String, i64, String) {
        (scope.to_owned(), count, amount.to_owned())
    }

    #[test]
    fn insert_adds_to_all_and_its_status() {
        let d = deltas(None, Some(&order("paid", "12.50"))).unwrap();
        assert_eq!(
            show(&d),
            [row("ALL", 1, "12.5"), row("status#paid", 1, "12.5")]
        );
    }

    #[test]
    fn remove_takes_out_of_all_and_its_status() {
        let d = deltas(Some(&order("paid", "12.50")), None).unwrap();
        assert_eq!(
            show(&d),
            [row("ALL", -1, "-12.5"), row("status#paid", -1, "-12.5")]
        );
    }

    #[test]
    fn amount_change_moves_only_the_amount() {
        let d = deltas(Some(&order("paid", "10.00")), Some(&order("paid", "7.25"))).unwrap();
        assert_eq!(
            show(&d),
            [row("ALL", 0, "-2.75"), row("status#paid", 0, "-2.75")]
        );
    }

    #[test]
    fn status_change_moves_the_order_between_buckets() {
        let d = deltas(Some(&order("paid", "10")), Some(&order("shipped", "11.5"))).unwrap();
        assert_eq!(
            show(&d),
            [
                row("ALL", 0, "1.5"),
                row("status#paid", -1, "-10"),
                row("status#shipped", 1, "11.5"),
            ]
        );
    }

    #[test]
    fn an_irrelevant_change_has_no_delta() {
        let mut new = order("paid", "10");
        new.insert("note".to_owned(), AttributeValue::s("gift"));
        assert!(
            deltas(Some(&order("paid", "10.00")), Some(&new))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_bad_amount_is_an_error() {
        assert!(deltas(None, Some(&order("paid", "1e-40"))).is_err());
    }
}
