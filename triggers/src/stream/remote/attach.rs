//! Creating and starting a mapping on a remote stream: which endpoint serves a stream
//! ARN, the remote shards at creation, and the poller beside the consumers.
//!
//! Owns the runtime's remote-specific steps. Must not know polling or delivery.

use std::sync::Arc;
use std::thread::JoinHandle;

use eddy_engine::StreamDef;

use super::super::TriggerRuntime;
use super::super::config::{self, MappingConfig, MappingRequest, StartingPosition};
use super::super::mapping::{Mapping, Stored, checkpoint_key};
use super::super::source::StreamSource;
use super::{
    Poller, RemoteSource, ShardState, aws_endpoint, describe_shards, remote_stream_def, shard_base,
    shards_key,
};
use crate::error::TriggerError;

/// The region and account of a stream ARN (`arn:aws:dynamodb:<region>:<account>:…`).
fn region_and_account(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.split(':');
    let (_, _, _, region, account) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    Some((region, account))
}

impl TriggerRuntime {
    /// The endpoint of the stream a request names when it is not this Eddy's:
    /// `SourceEndpoint`, or AWS's for a stream ARN of another region or account.
    pub(in super::super) fn remote_endpoint(
        &self,
        r: &MappingRequest,
    ) -> Result<Option<String>, TriggerError> {
        if let Some(e) = &r.source_endpoint {
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                return Err(TriggerError::invalid(
                    "SourceEndpoint",
                    format!("must start with http:// or https://, got {e:?}"),
                ));
            }
            return Ok(Some(e.trim_end_matches('/').to_owned()));
        }
        let Some(arn) = r
            .event_source_arn
            .as_deref()
            .filter(|a| a.contains("/stream/"))
        else {
            return Ok(None);
        };
        let config = self.engine().config();
        Ok(match region_and_account(arn) {
            Some((region, account)) if region != config.region || account != config.account_id => {
                Some(aws_endpoint(region))
            }
            _ => None,
        })
    }

    /// Describes the remote stream a request names: its stand-in definition, ARN and
    /// shards (parents first). A stream that cannot be described is refused before
    /// anything is stored, as Lambda refuses a stream it cannot read.
    pub(in super::super) fn describe_remote(
        &self,
        r: &MappingRequest,
        endpoint: &str,
    ) -> Result<(Arc<StreamDef>, String, Vec<ShardState>), TriggerError> {
        let arn = r
            .event_source_arn
            .clone()
            .filter(|a| a.contains("/stream/"))
            .ok_or_else(|| {
                TriggerError::invalid(
                    "EventSourceArn",
                    "must be a stream ARN (…:table/<name>/stream/<label>) with SourceEndpoint",
                )
            })?;
        let api = self.inner.deps.streams_api.as_ref().ok_or_else(|| {
            TriggerError::invalid("SourceEndpoint", "remote streams are not enabled here")
        })?;
        let described = describe_shards(api.as_ref(), endpoint, &arn).map_err(|e| {
            TriggerError::invalid(
                "EventSourceArn",
                format!("cannot describe the stream {arn} at {endpoint}: {e}"),
            )
        })?;
        let shards: Vec<ShardState> = described
            .into_iter()
            .enumerate()
            .map(|(i, d)| ShardState {
                shard_id: d.shard_id,
                parent_id: d.parent_id,
                last_seq: None,
                next_pos: shard_base(u16::try_from(i).unwrap_or(u16::MAX)),
                closed: false,
                trimmed_to: 0,
                start_iterator: None,
            })
            .collect();
        let table = config::table_name_of(&arn);
        let stream = Arc::new(remote_stream_def(&arn, &table, shards.len()));
        Ok((stream, arn, shards))
    }

    /// Stores a new remote mapping's mirror state and its consumers' checkpoints (each
    /// shard's first mirror position). `LATEST` is the poller's first iterator.
    pub(in super::super) fn write_remote_start(
        &self,
        s: &Stored,
        shards: &[ShardState],
    ) -> Result<(), TriggerError> {
        // `AT_TIMESTAMP` was refused with the request (DynamoDB streams have none).
        let mut shards = shards.to_vec();
        if s.config.starting_position == StartingPosition::Latest
            && let Some(api) = &self.inner.deps.streams_api
            && let Some(endpoint) = &s.config.source_endpoint
        {
            for shard in &mut shards {
                let body = serde_json::json!({
                    "StreamArn": s.config.stream_arn,
                    "ShardId": shard.shard_id,
                    "ShardIteratorType": "LATEST",
                });
                let out = api.call(endpoint, "GetShardIterator", &body).map_err(|e| {
                    TriggerError::invalid(
                        "EventSourceArn",
                        format!(
                            "cannot read the stream {} at {endpoint}: {e}",
                            s.config.stream_arn
                        ),
                    )
                })?;
                shard.start_iterator = out["ShardIterator"].as_str().map(str::to_owned);
            }
        }
        let engine = self.engine();
        let bytes = serde_json::to_vec(&shards)
            .map_err(|e| TriggerError::invalid("EventSourceArn", e.to_string()))?;
        engine.system_put(&shards_key(&s.id), &bytes)?;
        for i in 0..shards.len() {
            let shard = u16::try_from(i).unwrap_or(u16::MAX);
            for lane in 0..s.config.parallelization_factor {
                engine.system_put(
                    &checkpoint_key(&s.id, shard, lane),
                    &shard_base(shard).to_be_bytes(),
                )?;
            }
        }
        Ok(())
    }

    /// Starts the poller of a remote mapping's mirror; `on_new_shard` starts the
    /// consumers of a shard it discovers.
    pub(in super::super) fn start_poller(
        &self,
        mapping: &Arc<Mapping>,
        cfg: &MappingConfig,
        endpoint: &str,
        source: Arc<RemoteSource>,
        on_new_shard: Box<dyn Fn(u16) + Send>,
    ) -> Result<JoinHandle<()>, String> {
        let api = self
            .inner
            .deps
            .streams_api
            .clone()
            .ok_or("remote streams are not enabled here")?;
        let poller = Poller {
            engine: self.engine().clone(),
            mapping: Arc::clone(mapping),
            api,
            endpoint: endpoint.to_owned(),
            arn: cfg.stream_arn.clone(),
            start_latest: cfg.starting_position == StartingPosition::Latest,
            source,
            on_new_shard,
        };
        std::thread::Builder::new()
            .name("eddy-remote-poller".into())
            .spawn(move || poller.run_guarded())
            .map_err(|e| format!("cannot start the remote stream's poller: {e}"))
    }

    /// The mirror of a remote mapping, as its consumers read it.
    pub(in super::super) fn remote_source(
        &self,
        id: &str,
        cfg: &MappingConfig,
    ) -> Arc<RemoteSource> {
        let shards = super::load_shards(self.engine(), id).len();
        let stream = Arc::new(remote_stream_def(&cfg.stream_arn, &cfg.table_name, shards));
        RemoteSource::new(
            self.engine().clone(),
            id,
            stream,
            cfg.parallelization_factor,
        )
    }

    /// Where a mapping's records are read: this Eddy's stream log, or its mirror.
    pub(in super::super) fn source_of(
        &self,
        id: &str,
        cfg: &MappingConfig,
    ) -> Arc<dyn StreamSource> {
        match cfg.source_endpoint {
            None => Arc::clone(&self.inner.source),
            Some(_) => self.remote_source(id, cfg),
        }
    }
}
