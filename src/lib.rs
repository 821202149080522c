//! `eddy`: the binary and the HTTP edge. This crate is the only place that knows HTTP
//! and DynamoDB's wire JSON; it turns requests into calls on [`eddy_engine::Engine`]
//! and engine results and errors into DynamoDB's responses.

pub mod api;
pub mod audit;
pub mod auth;
mod blocking;
mod body;
pub mod budget;
pub mod cli;
pub mod console;
mod dynamodb;
pub mod error;
pub mod export;
pub mod health;
pub mod host;
pub mod lambda;
mod legacy;
pub mod metrics;
mod percent;
pub mod project;
pub mod prometheus;
pub mod remote;
mod remote_streams;
pub mod scaling;
pub mod server;
pub mod services;
mod state;
pub mod streams;
pub mod tls;
pub mod wire;
pub mod worker;
pub mod worker_status;

pub use server::app;
pub use state::AppState;
