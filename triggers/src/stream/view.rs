//! What a mapping looks like from outside: Lambda's `EventSourceMappingConfiguration`
//! fields plus Eddy's metrics, as typed values the host renders.
//!
//! Owns the view's field names (Lambda's). Must not know how the host renders them
//! (JSON for the API, Prometheus text for `/metrics` are the edge's).

use serde::Serialize;

use super::config::StartingPosition;
use super::failures::RecentError;
use super::mapping::{Mapping, TriggerMetrics};
use eddy_engine::sync::lock;

/// A mapping in Lambda's `EventSourceMappingConfiguration` shape, plus Eddy's metrics.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TriggerView {
    #[serde(rename = "UUID")]
    pub uuid: String,
    /// `arn:aws:lambda:<region>:<account>:event-source-mapping:<UUID>`, as Lambda names
    /// a mapping.
    pub event_source_mapping_arn: String,
    pub function_arn: String,
    /// The function's name (the last part of `FunctionArn`); not shown.
    #[serde(skip)]
    pub function_name: String,
    pub event_source_arn: String,
    /// The endpoint of a remote stream (Eddy's extension); absent for this Eddy's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_endpoint: Option<String>,
    pub batch_size: u32,
    pub maximum_batching_window_in_seconds: u32,
    pub starting_position: &'static str,
    /// Epoch seconds, shown only for `AT_TIMESTAMP`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starting_position_timestamp: Option<f64>,
    pub parallelization_factor: u32,
    pub maximum_retry_attempts: i32,
    pub maximum_record_age_in_seconds: i64,
    pub bisect_batch_on_function_error: bool,
    pub tumbling_window_in_seconds: u32,
    pub function_response_types: Vec<&'static str>,
    pub destination_config: DestinationView,
    pub filter_criteria: FilterCriteriaView,
    pub state: String,
    pub state_transition_reason: String,
    pub last_processing_result: String,
    /// The last errors of the mapping's consumers (Eddy's; Lambda shows only
    /// `LastProcessingResult`), oldest first.
    pub recent_errors: Vec<RecentError>,
    /// Epoch seconds.
    pub last_modified: f64,
    pub metrics: MetricsView,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationView {
    pub on_failure: OnFailureView,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OnFailureView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FilterCriteriaView {
    pub filters: Vec<FilterView>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FilterView {
    pub pattern: String,
}

/// A mapping's counters as the API shows them (durations in milliseconds).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricsView {
    pub invocations: u64,
    pub errors: u64,
    pub retries: u64,
    pub throttles: u64,
    pub records_delivered: u64,
    pub filtered_out: u64,
    pub sent_to_failure_destination: u64,
    pub dropped: u64,
    pub trimmed_skips: u64,
    pub recursion_stops: u64,
    pub iterator_age_milliseconds: f64,
    pub batch_duration_milliseconds_last: f64,
    pub batch_duration_milliseconds_average: f64,
}

impl From<TriggerMetrics> for MetricsView {
    fn from(m: TriggerMetrics) -> MetricsView {
        MetricsView {
            invocations: m.invocations,
            errors: m.errors,
            retries: m.retries,
            throttles: m.throttles,
            records_delivered: m.records_delivered,
            filtered_out: m.filtered_out,
            sent_to_failure_destination: m.sent_to_failure_destination,
            dropped: m.dropped,
            trimmed_skips: m.trimmed_skips,
            recursion_stops: m.recursion_stops,
            iterator_age_milliseconds: m.iterator_age_us as f64 / 1000.0,
            batch_duration_milliseconds_last: m.batch_duration_us_last as f64 / 1000.0,
            batch_duration_milliseconds_average: if m.invocations == 0 {
                0.0
            } else {
                m.batch_duration_us_total as f64 / 1000.0 / m.invocations as f64
            },
        }
    }
}

/// What the processes that run a trigger elsewhere (trigger workers, `eddy worker`)
/// report of it, merged over all of them by the host: shown in every view of the
/// trigger in place of this process's counters (whose lanes do not run here).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportedStatus {
    pub metrics: TriggerMetrics,
    /// The newest `LastProcessingResult` and when it was set (epoch ms); `None` while
    /// no worker has processed anything.
    pub last_result: Option<(String, u64)>,
    /// The newest errors, oldest first, at most [`super::RECENT_ERRORS_MAX`].
    pub recent_errors: Vec<RecentError>,
}

/// One mapping's counters with the labels `/metrics` gives them.
#[derive(Debug, Clone)]
pub struct TriggerSeries {
    pub trigger: String,
    pub function: String,
    pub metrics: TriggerMetrics,
}

/// The view of `m`, with ARNs in `region` and `account`, and what workers `reported`
/// of it if they run it.
pub(crate) fn view(
    m: &Mapping,
    reported: Option<&ReportedStatus>,
    region: &str,
    account: &str,
) -> TriggerView {
    let c = m.config();
    // The counters are read before the status: a consumer reports an outcome before it
    // counts it, so a counter seen to move comes with the result that explains it.
    let metrics = match reported {
        Some(r) => r.metrics,
        None => m.metrics.snapshot(),
    }
    .into();
    let mut s = lock(&m.status).clone();
    let mut recent_errors = m.recent_errors.snapshot();
    if let Some(r) = reported {
        // The newest result wins, whoever set it.
        if let Some((text, at_ms)) = &r.last_result
            && *at_ms >= s.last_result_ms
        {
            s.last_result.clone_from(text);
        }
        if !r.recent_errors.is_empty() {
            recent_errors.clone_from(&r.recent_errors);
        }
    }
    TriggerView {
        uuid: m.id.clone(),
        event_source_mapping_arn: format!(
            "arn:aws:lambda:{region}:{account}:event-source-mapping:{}",
            m.id
        ),
        function_arn: format!(
            "arn:aws:lambda:{region}:{account}:function:{}",
            c.function_name
        ),
        function_name: c.function_name,
        event_source_arn: c.stream_arn,
        source_endpoint: c.source_endpoint,
        batch_size: c.batch_size,
        maximum_batching_window_in_seconds: c.batching_window_s,
        starting_position: c.starting_position.as_str(),
        starting_position_timestamp: match c.starting_position {
            StartingPosition::AtTimestamp(ms) => Some(ms as f64 / 1000.0),
            _ => None,
        },
        parallelization_factor: c.parallelization_factor,
        maximum_retry_attempts: c.maximum_retry_attempts,
        maximum_record_age_in_seconds: c.maximum_record_age_s,
        bisect_batch_on_function_error: c.bisect_on_error,
        tumbling_window_in_seconds: c.tumbling_window_s,
        function_response_types: if c.report_batch_item_failures {
            vec!["ReportBatchItemFailures"]
        } else {
            vec![]
        },
        destination_config: DestinationView {
            on_failure: OnFailureView {
                destination: c.on_failure_table,
            },
        },
        filter_criteria: FilterCriteriaView {
            filters: c
                .filters
                .into_iter()
                .map(|pattern| FilterView { pattern })
                .collect(),
        },
        state: s.state,
        state_transition_reason: s.reason,
        last_processing_result: s.last_result,
        recent_errors,
        last_modified: s.last_modified_ms as f64 / 1000.0,
        metrics,
    }
}

/// The `/metrics` series of `m` (what workers `reported` of it, if they run it).
pub(crate) fn series(m: &Mapping, reported: Option<&ReportedStatus>) -> TriggerSeries {
    TriggerSeries {
        trigger: m.id.clone(),
        function: m.config().function_name,
        metrics: reported.map_or_else(|| m.metrics.snapshot(), |r| r.metrics),
    }
}
