//! The capabilities the server gives functions beyond its tables: full-text search
//! (`search.rs`, tantivy) and e-mail (`mail.rs`, SMTP with idempotency records).
//!
//! Owns the services themselves, behind the traits `eddy-triggers` defines
//! (`SearchApi`, `MailApi`). Must not know HTTP, axum or the `/v1` error shape: their
//! routes live with the other routes in `api/`, and map their errors there.

pub mod mail;
pub mod search;
