//! End-to-end tests: the real `eddy` binary on an ephemeral port, driven by real
//! clients (the AWS SDK for Rust; boto3 and the aws CLI through `python.rs`).
//! One test binary made of modules keeps link time down as the suite grows.

mod api;
mod audit;
mod auth;
mod autoscaling;
mod capacity_units;
mod cli;
mod constraints;
mod control;
mod control_constraints;
mod control_plane;
mod crash;
mod data;
mod edge;
mod encryption;
mod endpoint;
mod errors;
mod expressions;
mod failures_visible;
mod faults;
mod grants;
mod gsi_throughput;
mod harness;
mod indexes;
mod lambda_api;
mod limits;
mod metrics;
mod multi_key_gsi;
mod partiql;
mod pipeline_email;
mod pipeline_replication;
mod pipeline_search;
mod pipeline_view;
mod policies;
mod python;
mod reads;
mod streams;
mod streams_edges;
mod throttling;
mod tls;
mod transactions;
mod trigger_semantics;
mod triggers;
mod ttl;
mod walkthroughs;
