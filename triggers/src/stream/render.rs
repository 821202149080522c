//! The event renderer: each record of a batch is rendered once, into its Lambda JSON,
//! and those bytes serve the filters, the function's event and the failure
//! destination's payload.
//!
//! Owns the rendered form of a batch and the framing of a `{"Records":[…]}` event. Must
//! not know DynamoDB's wire format (the host's [`EventCodec`] writes each record) nor
//! delivery semantics.

use std::ops::Range;

use eddy_engine::{StreamDef, StreamRecord};
use serde_json::Value;

use super::filter::FilterPattern;

/// Builds the JSON of one change record as Lambda delivers it (DynamoDB's wire format
/// plus `eventSourceARN`). The host implements it; this crate does not know the wire
/// format.
pub trait EventCodec: Send + Sync {
    /// Appends the record's JSON to `out`.
    fn write_record(
        &self,
        record: &StreamRecord,
        stream: &StreamDef,
        event_source_arn: &str,
        out: &mut Vec<u8>,
    );
}

/// Bytes reserved per record when a batch is rendered (a small item's JSON).
const RECORD_BYTES_GUESS: usize = 512;

/// What delivery needs of a record once it is rendered: its position, age and hop
/// count, and where its JSON is in the batch's text.
#[derive(Debug, Clone)]
pub(crate) struct Rendered {
    pub seq: u64,
    pub created_us: u64,
    pub hops: u8,
    span: Range<usize>,
}

/// A batch rendered once: every record's JSON, back to back in one buffer.
#[derive(Debug, Default)]
pub(crate) struct RenderedBatch {
    text: Vec<u8>,
    pub records: Vec<Rendered>,
}

impl RenderedBatch {
    /// Renders `records` with `codec`, one buffer for the whole batch.
    pub(crate) fn render(
        codec: &dyn EventCodec,
        stream: &StreamDef,
        event_source_arn: &str,
        records: &[StreamRecord],
    ) -> RenderedBatch {
        let mut text = Vec::with_capacity(RECORD_BYTES_GUESS * records.len());
        let rendered = records
            .iter()
            .map(|r| {
                let start = text.len();
                codec.write_record(r, stream, event_source_arn, &mut text);
                Rendered {
                    seq: r.seq,
                    created_us: r.created_us,
                    hops: r.hops,
                    span: start..text.len(),
                }
            })
            .collect();
        RenderedBatch {
            text,
            records: rendered,
        }
    }

    /// The JSON of one record of this batch.
    pub(crate) fn json(&self, r: &Rendered) -> &[u8] {
        &self.text[r.span.clone()]
    }

    /// Keeps the records some filter accepts (none to keep them all); returns how many
    /// were dropped. A record whose JSON the filters cannot read matches nothing.
    pub(crate) fn retain_matching(&mut self, filters: &[FilterPattern]) -> usize {
        if filters.is_empty() {
            return 0;
        }
        let before = self.records.len();
        let text = &self.text;
        self.records.retain(|r| {
            serde_json::from_slice::<Value>(&text[r.span.clone()])
                .is_ok_and(|json| filters.iter().any(|p| p.matches(&json)))
        });
        before - self.records.len()
    }

    /// The event `{"Records":[…]` of `part` (records of this batch), left open so that
    /// the caller can add fields before the closing brace.
    pub(crate) fn open_event(&self, part: &[Rendered]) -> Vec<u8> {
        let bytes: usize = part.iter().map(|r| r.span.len() + 1).sum();
        let mut event = Vec::with_capacity(bytes + 16);
        event.extend_from_slice(b"{\"Records\":[");
        for (i, r) in part.iter().enumerate() {
            if i > 0 {
                event.push(b',');
            }
            event.extend_from_slice(self.json(r));
        }
        event.push(b']');
        event
    }

    /// The records of `part` as one JSON array, in the form the failure destination has
    /// always stored (each record's fields in name order).
    pub(crate) fn records_array(&self, part: &[Rendered]) -> Result<String, serde_json::Error> {
        let records = part
            .iter()
            .map(|r| serde_json::from_slice::<Value>(self.json(r)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Value::Array(records).to_string())
    }
}
