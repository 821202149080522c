//! DynamoDB's limits, each a named constant with its unit last. Every check in the
//! engine and at the HTTP edge refers to these, so a limit is changed in one place.

/// Largest item, names and values included (DynamoDB: 400 KB).
pub const ITEM_BYTES_MAX: usize = /* 400 KiB */ 400 * 1024;
/// Largest partition (hash) key value.
pub const PARTITION_KEY_BYTES_MAX: usize = 2048;
/// Largest sort (range) key value.
pub const SORT_KEY_BYTES_MAX: usize = 1024;
/// Shortest and longest table name, of `[a-zA-Z0-9_.-]`.
pub const TABLE_NAME_CHARS_MIN: usize = 3;
pub const TABLE_NAME_CHARS_MAX: usize = 255;
/// Deepest nesting of maps and lists in an attribute value.
pub const NESTING_DEPTH_MAX: usize = 32;
/// Most levels (names and list indexes, the top-level attribute counted) of a
/// document path in an expression: 32, DynamoDB's nesting limit for documents.
pub const DOCUMENT_PATH_LEVELS_MAX: usize = NESTING_DEPTH_MAX;
/// Largest list index a document path may hold: DynamoDB parses it as a 32-bit signed
/// integer and refuses what does not fit.
pub const LIST_INDEX_MAX: u64 = i32::MAX as u64;
/// Longest attribute name (key attributes are limited further by DynamoDB to 255). The
/// documentation says 64 KB; the service accepts 65,535 bytes and refuses 65,536.
pub const ATTRIBUTE_NAME_BYTES_MAX: usize = 65535;
/// Shortest attribute name.
pub const ATTRIBUTE_NAME_BYTES_MIN: usize = 1;
pub const KEY_ATTRIBUTE_NAME_BYTES_MAX: usize = 255;
/// Most significant digits in a number.
pub const NUMBER_DIGITS_MAX: usize = 38;
/// A Query or Scan page stops after this much data has been read (DynamoDB: 1 MB).
pub const PAGE_BYTES_MAX: usize = /* 1 MiB */ 1024 * 1024;
/// Keys in one BatchGetItem request.
pub const BATCH_GET_KEYS_MAX: usize = 100;
/// Requests in one BatchWriteItem request.
pub const BATCH_WRITE_REQUESTS_MAX: usize = 25;
/// Data returned by one BatchGetItem (DynamoDB: 16 MB); keys beyond it are unprocessed.
pub const BATCH_GET_BYTES_MAX: usize = /* 16 MiB */ 16 * 1024 * 1024;
/// Actions in one TransactWriteItems, and Gets in one TransactGetItems.
pub const TRANSACT_ITEMS_MAX: usize = 100;
/// Longest PartiQL statement, in bytes (of ExecuteStatement, and of each statement of
/// a BatchExecuteStatement or ExecuteTransaction); the shortest is 1.
pub const PARTIQL_STATEMENT_BYTES_MAX: usize = 8192;
/// Statements in one BatchExecuteStatement.
pub const PARTIQL_BATCH_STATEMENTS_MAX: usize = 25;
/// Statements in one ExecuteTransaction.
pub const PARTIQL_TRANSACTION_STATEMENTS_MAX: usize = 100;
/// Longest `NextToken` of ExecuteStatement, in characters.
pub const PARTIQL_NEXT_TOKEN_CHARS_MAX: usize = 32768;
/// Aggregate size of the items of one transaction (DynamoDB: 4 MB): a
/// TransactWriteItems' Put items and keys, the items a TransactGetItems reads.
pub const TRANSACT_REQUEST_BYTES_MAX: usize = /* 4 MiB */ 4 * 1024 * 1024;
/// Longest `ClientRequestToken` of a TransactWriteItems (and the shortest is 1).
pub const CLIENT_REQUEST_TOKEN_CHARS_MAX: usize = 36;
/// How long a TransactWriteItems' `ClientRequestToken` makes a retry a no-op after
/// the first request completed (DynamoDB: 10 minutes).
pub const CLIENT_REQUEST_TOKEN_WINDOW_MS: u64 = 10 * 60 * 1000;
/// Client request tokens remembered at most (Eddy's own bound on the memory of the
/// idempotency window; past it the oldest are forgotten early).
pub const CLIENT_REQUEST_TOKENS_REMEMBERED_MAX: usize = 100_000;
/// Largest `TotalSegments` of a parallel Scan.
pub const SCAN_SEGMENTS_MAX: u32 = 1_000_000;
/// Tables a ListTables page returns at most.
pub const LIST_TABLES_LIMIT_MAX: usize = 100;
/// Global secondary indexes on one table (DynamoDB's default quota).
pub const GLOBAL_INDEXES_PER_TABLE_MAX: usize = 20;
/// Local secondary indexes on one table.
pub const LOCAL_INDEXES_PER_TABLE_MAX: usize = 5;
/// `NonKeyAttributes` projected into all the indexes of one table together.
pub const INDEX_NON_KEY_ATTRIBUTES_MAX: usize = 100;
/// `NonKeyAttributes` of one index.
pub const INDEX_NON_KEY_ATTRIBUTES_PER_INDEX_MAX: usize = 20;
/// Characters of one `NonKeyAttributes` name (the API's `NonKeyAttributeName`).
pub const INDEX_NON_KEY_ATTRIBUTE_NAME_CHARS_MAX: usize = 255;
/// Partition (HASH) attributes of a global index's multi-attribute key.
pub const INDEX_HASH_ATTRIBUTES_MAX: usize = 4;
/// Sort (RANGE) attributes of a global index's multi-attribute key.
pub const INDEX_RANGE_ATTRIBUTES_MAX: usize = 4;
/// Tags on one table.
pub const TAGS_PER_RESOURCE_MAX: usize = 50;
/// Characters of a tag key.
pub const TAG_KEY_CHARS_MAX: usize = 128;
/// Characters of a tag value (an empty value is allowed).
pub const TAG_VALUE_CHARS_MAX: usize = 256;
/// Hash shards a new table is split into, unless the server is told otherwise
/// (`--table-shards`). DynamoDB starts a new table with one partition, so one stream
/// shard, and simple stream readers rely on it. Each shard has its own stream log and
/// its own trigger consumers; the count is stored with the table, so changing it
/// affects new tables only.
pub const TABLE_SHARDS_DEFAULT: u16 = 1;
/// Most hash shards a table may have.
pub const TABLE_SHARDS_MAX: u16 = 64;
/// Longest expression string (Condition, Update, Projection, Filter, KeyCondition).
pub const EXPRESSION_BYTES_MAX: usize = 4096;
/// Longest key of `ExpressionAttributeNames` / `ExpressionAttributeValues` (`#name`,
/// `:val`), its `#` or `:` included.
pub const EXPRESSION_ATTRIBUTE_KEY_BYTES_MAX: usize = 255;
/// Most bytes of all substitutions of a request together: the keys and names of
/// `ExpressionAttributeNames` and the keys and values of `ExpressionAttributeValues`
/// (DynamoDB: 2 MB).
pub const EXPRESSION_ATTRIBUTES_BYTES_MAX: usize = /* 2 MiB */ 2 * 1024 * 1024;
/// Most operators and functions in one expression.
pub const EXPRESSION_OPERATORS_MAX: usize = 300;
/// Most operands of an `IN` comparison.
pub const EXPRESSION_IN_OPERANDS_MAX: usize = 100;
/// Deepest nesting of parentheses, `NOT`s and function calls the expression parser
/// accepts; it bounds the parser's recursion. DynamoDB bounds nesting only through its
/// operator limit, so this is set where no expression within
/// [`EXPRESSION_OPERATORS_MAX`] can reach it: each operator adds at most two levels (a
/// `NOT` and the one pair of parentheses around it), plus the outermost pair. Only an
/// expression DynamoDB rejects anyway (too many operators, or redundant parentheses)
/// gets this limit's message, which is Eddy's own.
pub const EXPRESSION_NESTING_MAX: usize = 2 * EXPRESSION_OPERATORS_MAX + 1;
/// Nesting (counted generously: every `(` and every `NOT`) up to which an expression is
/// parsed on the caller's own stack; a deeper one is parsed on a thread of its own with
/// [`EXPRESSION_DEEP_PARSE_STACK_BYTES`] of stack. A debug build's parser spends up to
/// about 30 KiB of stack per level (measured), so 24 levels stay well inside the 2 MiB
/// of a request's thread.
pub const EXPRESSION_CALLER_STACK_NESTING_MAX: usize = 24;
/// Stack of the thread that parses a deeply nested expression: room for
/// [`EXPRESSION_NESTING_MAX`] levels at a debug build's cost per level (about 18 MiB),
/// three times over. Only the pages the parse touches are ever backed by memory.
pub const EXPRESSION_DEEP_PARSE_STACK_BYTES: usize = /* 64 MiB */ 64 * 1024 * 1024;
/// Writes the group-commit writer folds into one fsync'd batch at most.
pub const COMMIT_GROUP_WRITES_MAX: usize = 1024;
/// Writes waiting for the writer before new ones are refused (back-pressure).
pub const WRITE_QUEUE_DEPTH_MAX: usize = 65_536;

/// Longest key the storage layer (fjall / lsm-tree) accepts: it asserts (panics) on a
/// longer one, in writes and in range bounds alike, so every key Eddy builds — item
/// keys, index entries, stream records, system and catalog keys, and the bounds of a
/// range read — is checked against this before it reaches fjall.
pub const STORAGE_KEY_BYTES_MAX: usize = 65_535;
/// Shortest key the storage layer accepts (it asserts on an empty key).
pub const STORAGE_KEY_BYTES_MIN: usize = 1;
/// Longest value the storage layer accepts (lsm-tree asserts on 2^32 bytes or more).
pub const STORAGE_VALUE_BYTES_MAX: usize = u32::MAX as usize;
