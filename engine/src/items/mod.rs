//! The data plane: single-item reads and writes, Query, Scan and the batch calls.
//!
//! Each call validates its input and parses its expressions on the caller's thread, so
//! a client mistake is reported before anything is queued; only the read-check-write
//! of the item itself runs on the writer (see `writer/`).
//!
//! The rooms: `input.rs` (the request types and the checks and expression parsing
//! every call shares), `write.rs` (PutItem, UpdateItem, DeleteItem, BatchWriteItem:
//! validated into mutations for the writer), `read.rs` (GetItem, BatchGetItem, and
//! Query and Scan through one shared read preparation) and `bounds.rs` (the key range
//! a key condition or a scan segment selects), `start.rs` (an ExclusiveStartKey checked
//! against the read it resumes).

pub(crate) mod bounds;
pub(crate) mod consume;
pub(crate) mod input;
pub(crate) mod read;
pub(crate) mod start;
pub(crate) mod write;
