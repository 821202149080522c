//! A stream trigger's configuration: Lambda's `CreateEventSourceMapping` fields (so a
//! mapping from a SAM or CloudFormation template can be pasted), their defaults and
//! ranges, and the stored form.

use serde::{Deserialize, Serialize};

use crate::error::TriggerError;

/// Records per invocation (Lambda: 1–10,000, default 100).
pub const BATCH_SIZE_MAX: u32 = 10_000;
pub const BATCH_SIZE_DEFAULT: u32 = 100;
/// How long to wait to fill a batch, seconds (Lambda: 0–300).
pub const BATCHING_WINDOW_S_MAX: u32 = 300;
/// Concurrent batches per shard (Lambda: 1–10).
pub const PARALLELIZATION_FACTOR_MAX: u32 = 10;
/// Retries of a failed batch (Lambda: -1 for infinite, or 0–10,000).
pub const RETRY_ATTEMPTS_MAX: i32 = 10_000;
/// Oldest record still processed, seconds (Lambda: -1 for infinite, or 60–604,800).
pub const RECORD_AGE_S_MIN: i64 = 60;
pub const RECORD_AGE_S_MAX: i64 = 604_800;
/// Tumbling window length, seconds (Lambda: 0–900).
pub const TUMBLING_WINDOW_S_MAX: u32 = 900;
/// Filters per mapping (Lambda: 5), and the longest pattern (4,096 characters).
pub const FILTERS_MAX: usize = 5;
pub const FILTER_PATTERN_CHARS_MAX: usize = 4096;

/// The request body of `POST /v1/triggers`, in Lambda's field names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MappingRequest {
    pub function_name: Option<String>,
    /// A stream ARN (as on AWS), or a table ARN whose latest stream is meant.
    pub event_source_arn: Option<String>,
    /// Eddy's shorthand for the table's current stream.
    pub table_name: Option<String>,
    pub batch_size: Option<i64>,
    pub maximum_batching_window_in_seconds: Option<i64>,
    pub starting_position: Option<String>,
    /// Epoch seconds, for `AT_TIMESTAMP`.
    pub starting_position_timestamp: Option<f64>,
    pub parallelization_factor: Option<i64>,
    pub maximum_retry_attempts: Option<i64>,
    pub maximum_record_age_in_seconds: Option<i64>,
    pub bisect_batch_on_function_error: Option<bool>,
    pub destination_config: Option<DestinationConfig>,
    pub function_response_types: Option<Vec<String>>,
    pub filter_criteria: Option<FilterCriteria>,
    pub tumbling_window_in_seconds: Option<i64>,
    pub enabled: Option<bool>,
    /// Eddy's extension: the DynamoDB Streams endpoint serving `EventSourceArn` when
    /// the stream is not this Eddy's (`http://host:port` of another Eddy, any
    /// DynamoDB-compatible endpoint). Without it, a stream ARN of another region or
    /// account is read from AWS (`https://streams.dynamodb.<region>.amazonaws.com`).
    pub source_endpoint: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DestinationConfig {
    pub on_failure: Option<OnFailure>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct OnFailure {
    /// An Eddy table (name or ARN) that receives failed batches.
    pub destination: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct FilterCriteria {
    pub filters: Option<Vec<Filter>>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Filter {
    pub pattern: Option<String>,
}

/// Where a new mapping starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum StartingPosition {
    TrimHorizon,
    Latest,
    /// Epoch milliseconds.
    AtTimestamp(u64),
}

impl StartingPosition {
    pub fn as_str(self) -> &'static str {
        match self {
            StartingPosition::TrimHorizon => "TRIM_HORIZON",
            StartingPosition::Latest => "LATEST",
            StartingPosition::AtTimestamp(_) => "AT_TIMESTAMP",
        }
    }
}

/// A validated mapping configuration, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MappingConfig {
    pub function_name: String,
    pub stream_id: u32,
    pub stream_arn: String,
    pub table_name: String,
    pub batch_size: u32,
    pub batching_window_s: u32,
    pub starting_position: StartingPosition,
    pub parallelization_factor: u32,
    /// -1 is infinite.
    pub maximum_retry_attempts: i32,
    /// -1 is infinite.
    pub maximum_record_age_s: i64,
    pub bisect_on_error: bool,
    pub on_failure_table: Option<String>,
    pub report_batch_item_failures: bool,
    /// The pattern texts, as given (compiled when the mapping is saved, see
    /// `mapping::Live`).
    pub filters: Vec<String>,
    pub tumbling_window_s: u32,
    pub enabled: bool,
    /// The endpoint of a remote stream (see [`MappingRequest::source_endpoint`]);
    /// `None` for this Eddy's own stream.
    #[serde(default)]
    pub source_endpoint: Option<String>,
}

fn range(field: &'static str, v: i64, min: i64, max: i64) -> Result<i64, TriggerError> {
    if v < min || v > max {
        return Err(TriggerError::invalid(
            field,
            format!("must be between {min} and {max}, got {v}"),
        ));
    }
    Ok(v)
}

impl MappingConfig {
    /// Validates the fields a request sets over `base` (defaults for a new mapping, the
    /// current configuration for an update). Stream, function and starting position are
    /// resolved by the caller.
    pub fn apply(mut self, r: &MappingRequest) -> Result<MappingConfig, TriggerError> {
        if let Some(v) = r.batch_size {
            self.batch_size = range("BatchSize", v, 1, i64::from(BATCH_SIZE_MAX))? as u32;
        }
        if let Some(v) = r.maximum_batching_window_in_seconds {
            self.batching_window_s = range(
                "MaximumBatchingWindowInSeconds",
                v,
                0,
                i64::from(BATCHING_WINDOW_S_MAX),
            )? as u32;
        }
        if let Some(v) = r.parallelization_factor {
            self.parallelization_factor = range(
                "ParallelizationFactor",
                v,
                1,
                i64::from(PARALLELIZATION_FACTOR_MAX),
            )? as u32;
        }
        if let Some(v) = r.maximum_retry_attempts {
            self.maximum_retry_attempts =
                range("MaximumRetryAttempts", v, -1, i64::from(RETRY_ATTEMPTS_MAX))? as i32;
        }
        if let Some(v) = r.maximum_record_age_in_seconds {
            if v != -1 {
                range(
                    "MaximumRecordAgeInSeconds",
                    v,
                    RECORD_AGE_S_MIN,
                    RECORD_AGE_S_MAX,
                )?;
            }
            self.maximum_record_age_s = v;
        }
        if let Some(v) = r.bisect_batch_on_function_error {
            self.bisect_on_error = v;
        }
        if let Some(d) = &r.destination_config {
            self.on_failure_table = d
                .on_failure
                .as_ref()
                .and_then(|o| o.destination.clone())
                .map(|dest| table_name_of(&dest));
        }
        if let Some(types) = &r.function_response_types {
            for t in types {
                if t != "ReportBatchItemFailures" {
                    return Err(TriggerError::invalid(
                        "FunctionResponseTypes",
                        format!(
                            "unknown response type {t:?}: the only one is ReportBatchItemFailures"
                        ),
                    ));
                }
            }
            self.report_batch_item_failures = !types.is_empty();
        }
        if let Some(fc) = &r.filter_criteria {
            let filters = fc.filters.clone().unwrap_or_default();
            if filters.len() > FILTERS_MAX {
                return Err(TriggerError::invalid(
                    "FilterCriteria",
                    format!("at most {FILTERS_MAX} filters, got {}", filters.len()),
                ));
            }
            let mut patterns = Vec::with_capacity(filters.len());
            for f in filters {
                let p = f.pattern.unwrap_or_default();
                if p.chars().count() > FILTER_PATTERN_CHARS_MAX {
                    return Err(TriggerError::invalid(
                        "FilterCriteria",
                        format!("a pattern may have at most {FILTER_PATTERN_CHARS_MAX} characters"),
                    ));
                }
                patterns.push(p);
            }
            self.filters = patterns;
        }
        if let Some(v) = r.tumbling_window_in_seconds {
            self.tumbling_window_s = range(
                "TumblingWindowInSeconds",
                v,
                0,
                i64::from(TUMBLING_WINDOW_S_MAX),
            )? as u32;
        }
        if let Some(v) = r.enabled {
            self.enabled = v;
        }
        Ok(self)
    }
}

/// A table name from a name or a table ARN (`arn:aws:dynamodb:…:table/<name>`).
pub fn table_name_of(s: &str) -> String {
    match s.split_once(":table/") {
        Some((_, rest)) => rest.split('/').next().unwrap_or(rest).to_string(),
        None => s.to_string(),
    }
}

/// Parses Lambda's `StartingPosition` for a DynamoDB stream (`stream_arn`). Lambda
/// takes `AT_TIMESTAMP` only for Kinesis: for a DynamoDB stream it answers
/// `InvalidParameterValueException` "Unsupported starting position for arn type: <ARN>"
/// (LocalStack's validation, whose tests are recorded against AWS, words it so), and so
/// does Eddy. Mappings stored with `AT_TIMESTAMP` before this keep their position.
pub fn starting_position(
    s: Option<&str>,
    stream_arn: &str,
) -> Result<StartingPosition, TriggerError> {
    match s {
        None => Err(TriggerError::invalid(
            "StartingPosition",
            "is required for a DynamoDB stream: TRIM_HORIZON or LATEST",
        )),
        Some("TRIM_HORIZON") => Ok(StartingPosition::TrimHorizon),
        Some("LATEST") => Ok(StartingPosition::Latest),
        Some("AT_TIMESTAMP") => Err(TriggerError::invalid(
            "StartingPosition",
            format!("Unsupported starting position for arn type: {stream_arn}"),
        )),
        Some(other) => Err(TriggerError::invalid(
            "StartingPosition",
            format!("must be TRIM_HORIZON or LATEST, got {other:?}"),
        )),
    }
}
