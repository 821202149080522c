//! DynamoDB's first pass over a request's members: each member's model constraints
//! (not null, length, value range, enum, pattern) checked together and reported as one
//! "N validation errors detected: ..." message, before any rule about what the members
//! mean. The data-plane operations and the Streams API collect their violations here.
//!
//! Owns the wording of each violation. Must not know any one operation's members: the
//! caller names each member's path (`requestItems.t.member.keys`) and its bounds, in the
//! order DynamoDB reports them.

use eddy_engine::constraint_errors;

use crate::error::ApiError;

/// The enum members DynamoDB lists for `ReturnConsumedCapacity`, in its order.
pub(crate) const RETURN_CONSUMED_CAPACITY: &[&str] = &["INDEXES", "TOTAL", "NONE"];
/// The enum members DynamoDB lists for `ReturnItemCollectionMetrics`, in its order.
pub(crate) const RETURN_ITEM_COLLECTION_METRICS: &[&str] = &["SIZE", "NONE"];

/// The enum members DynamoDB lists for `ReturnValuesOnConditionCheckFailure`.
pub(crate) const RETURN_VALUES_ON_CONDITION_CHECK_FAILURE: &[&str] = &["ALL_OLD", "NONE"];
/// The pattern of a table or index name, as DynamoDB prints it.
pub(crate) const NAME_PATTERN: &str = "[a-zA-Z0-9_.-]+";

/// The violations found so far, in the order they were found.
#[derive(Default)]
pub(crate) struct Violations(Vec<String>);

impl Violations {
    pub(crate) fn new() -> Violations {
        Violations::default()
    }

    fn push(&mut self, value: Option<&str>, field: &str, rule: &str) {
        self.0.push(violation(value, field, rule));
    }

    /// A required member left out.
    pub(crate) fn not_null<T>(&mut self, v: Option<&T>, field: &str) {
        if v.is_none() {
            self.push(None, field, "not be null");
        }
    }

    /// `ReturnConsumedCapacity` outside its enum (every operation that takes it).
    pub(crate) fn return_consumed_capacity(&mut self, v: Option<&str>) {
        self.one_of(v, "returnConsumedCapacity", RETURN_CONSUMED_CAPACITY);
    }

    /// `ReturnItemCollectionMetrics` outside its enum (every write that takes it).
    pub(crate) fn return_item_collection_metrics(&mut self, v: Option<&str>) {
        self.one_of(
            v,
            "returnItemCollectionMetrics",
            RETURN_ITEM_COLLECTION_METRICS,
        );
    }

    /// A string member outside its enum.
    pub(crate) fn one_of(&mut self, v: Option<&str>, field: &str, set: &[&str]) {
        if let Some(v) = v
            && !set.contains(&v)
        {
            self.0.push(enum_violation(v, field, &set.join(", ")));
        }
    }

    /// A string member whose length in characters is outside `min..=max`.
    pub(crate) fn length(&mut self, v: Option<&str>, field: &str, min: usize, max: usize) {
        if let Some(v) = v {
            self.count(Some(v), v.chars().count(), field, min, max);
        }
    }

    /// A list or map member of `n` entries, printed as `shown`, outside `min..=max`.
    pub(crate) fn count(
        &mut self,
        shown: Option<&str>,
        n: usize,
        field: &str,
        min: usize,
        max: usize,
    ) {
        self.0
            .extend(length_violation(shown, n, field, min, Some(max)));
    }

    /// A map at `field` with a value list outside `min..=max` entries. DynamoDB prints
    /// the whole map as its own objects here; the message leaves the value out, as the
    /// engine's message for a batch of too many writes does.
    pub(crate) fn map_value_length(&mut self, field: &str, min: usize, max: usize) {
        self.0.push(format!(
            "Value at '{field}' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to {max}, Member must have length greater than or equal to {min}]"
        ));
    }

    /// A violation its caller phrased ("Value ... at '...' failed to satisfy
    /// constraint: ..."), for a member whose bound is not one of the forms above.
    pub(crate) fn phrased(&mut self, detail: String) {
        self.0.push(detail);
    }

    /// A number member outside `min..=max`.
    pub(crate) fn range(&mut self, v: Option<i64>, field: &str, min: i64, max: i64) {
        let Some(v) = v else { return };
        self.0.extend(range_violation(v, field, min, Some(max)));
    }

    /// A table or index name outside DynamoDB's name pattern.
    pub(crate) fn name_pattern(&mut self, v: Option<&str>, field: &str) {
        if let Some(v) = v
            && !v
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            let rule = format!("satisfy regular expression pattern: {NAME_PATTERN}");
            self.push(Some(v), field, &rule);
        }
    }

    /// The request's answer: nothing, or every violation (at most DynamoDB's ten) in one
    /// ValidationException.
    pub(crate) fn finish(self) -> Result<(), ApiError> {
        Ok(constraint_errors(self.0)?)
    }
}

/// One violation in DynamoDB's words: the value as it prints it (`null` for a member
/// left out), the member's path and the rule it breaks. Every first-pass message of the
/// API, here and in `shape.rs`, is made by this function.
pub(crate) fn violation(value: Option<&str>, field: &str, rule: &str) -> String {
    let value = value.map_or_else(|| "null".to_owned(), |v| format!("'{v}'"));
    format!("Value {value} at '{field}' failed to satisfy constraint: Member must {rule}")
}

/// The violation of a length (a string's in characters, or a list's or map's entries)
/// outside `min..=max`, if any; `shown` is the value as DynamoDB prints it.
pub(crate) fn length_violation(
    shown: Option<&str>,
    n: usize,
    field: &str,
    min: usize,
    max: Option<usize>,
) -> Option<String> {
    if n < min {
        let rule = format!("have length greater than or equal to {min}");
        Some(violation(shown, field, &rule))
    } else if let Some(max) = max.filter(|&m| n > m) {
        let rule = format!("have length less than or equal to {max}");
        Some(violation(shown, field, &rule))
    } else {
        None
    }
}

/// The violation of a number outside `min..=max`, if any.
pub(crate) fn range_violation(v: i64, field: &str, min: i64, max: Option<i64>) -> Option<String> {
    let shown = v.to_string();
    if v < min {
        let rule = format!("have value greater than or equal to {min}");
        Some(violation(Some(&shown), field, &rule))
    } else if let Some(max) = max.filter(|&m| v > m) {
        let rule = format!("have value less than or equal to {max}");
        Some(violation(Some(&shown), field, &rule))
    } else {
        None
    }
}

/// The violation of a string outside its enum, `set` as DynamoDB lists it.
pub(crate) fn enum_violation(value: &str, field: &str, set: &str) -> String {
    violation(
        Some(value),
        field,
        &format!("satisfy enum value set: [{set}]"),
    )
}
