//! Full-text search indexes (tantivy) behind the functions' `search` capability; users
//! query them at `GET /v1/search/{index}?q=…` (the route is `api/search.rs`).
//!
//! Owns the index directories under `<data-dir>/search/<index>/`: the schema, the
//! tokenizer, one writer and one reader per index, and the limits of a query.
//! Must not know about HTTP, streams or triggers: functions feed it through
//! [`SearchApi`], and what makes a change durable is the executor calling
//! [`SearchApi::commit`].
//!
//! ## How a document is indexed
//!
//! A document is any JSON object. It is kept in four fields:
//!
//! - `_id`: the id, untokenized, so that an upsert or a delete can remove the earlier
//!   version with one term (and `_id:p1` finds a document by id);
//! - `_source`: the JSON exactly as upserted, stored and not indexed, returned with hits;
//! - `_all`: every string value of the document (nested ones and list elements too),
//!   tokenized: plain words search this field;
//! - `_fields`: the document as a tantivy JSON field, tokenized the same way, so that
//!   `name:word` (or `dimensions.unit:cm` for a nested value) searches one field.
//!
//! Plain words go to one catch-all field rather than to the JSON field alone because a
//! JSON field only matches a bare word at its root path, never inside the object; and
//! because BM25 on a catch-all field counts a word in every field of the document, so a
//! product whose name *and* description say "kettle" outranks one whose description alone
//! does (BM25 per field would need a schema fixed in advance, which arbitrary JSON has not).
//! Both fields use one analyzer: words split on non-alphanumerics, lower-cased, folded to
//! ASCII and stemmed (English), so "Kettles" finds "kettle" and "café" finds "cafe".
//!
//! A user attribute named like one of the four fields is shadowed by it in `field:word`
//! queries (plain words still find it).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use eddy_engine::sync::lock;
use eddy_triggers::{INDEX_NAME_CHARS_MAX, SearchApi, SearchError, SearchHit, is_index_name};
use serde_json::Value;
use tantivy::collector::{Count, TopDocs};
use tantivy::directory::MmapDirectory;
use tantivy::indexer::UserOperation;
use tantivy::query::QueryParser;
use tantivy::schema::document::OwnedValue;
use tantivy::schema::{
    Field, IndexRecordOption, JsonObjectOptions, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value as _,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    TextAnalyzer,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, TantivyError, Term};

/// Memory one index's writer buffers documents in before it writes a segment. Small:
/// functions commit once per batch, so a segment rarely grows past a few megabytes, and
/// every open index holds this much.
pub const WRITER_MEMORY_BUDGET_BYTES: usize = 32 * 1024 * 1024;
/// Indexing threads per index writer: one, because batches are committed one at a time
/// and the machine is shared with the table engine and the functions.
const WRITER_THREADS: usize = 1;
/// Largest document an upsert accepts, in its JSON text: a DynamoDB item is at most
/// 400 KB, and its plain JSON can be longer only by escaping.
pub const DOCUMENT_BYTES_MAX: usize = 1024 * 1024;
/// Longest document id: a DynamoDB key (2,048 bytes of partition key and 1,024 of sort
/// key) fits, as text or as JSON.
pub const ID_BYTES_MAX: usize = 4 * 1024;
/// Longest query text.
pub const QUERY_BYTES_MAX: usize = 4 * 1024;
/// Deepest nesting of parentheses in a query: tantivy's parser recurses per level, and a
/// real query never needs more.
pub const QUERY_NESTING_DEPTH_MAX: usize = 32;
/// Most hits one query returns.
pub const RESULT_LIMIT_MAX: usize = 1_000;
/// Hits `GET /v1/search/{index}` returns without `limit`.
pub const RESULT_LIMIT_DEFAULT: usize = 10;
/// Longest token indexed, in bytes: longer "words" are base64, hashes or garbage, and
/// would only bloat the term dictionary.
const TOKEN_BYTES_MAX: usize = 40;

/// The name the analyzer is registered under in every index.
const ANALYZER: &str = "eddy_text";
const FIELD_ID: &str = "_id";
const FIELD_SOURCE: &str = "_source";
const FIELD_ALL: &str = "_all";
const FIELD_FIELDS: &str = "_fields";

/// The server's search indexes, opened on first use and kept open.
pub struct SearchIndexes {
    dir: PathBuf,
    open: Mutex<HashMap<String, Arc<OpenIndex>>>,
}

impl std::fmt::Debug for SearchIndexes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndexes")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// One open index: its writer (one per index; tantivy allows no other) and a reader that
/// is reloaded after every commit, so a query sees exactly the committed changes.
struct OpenIndex {
    index: Index,
    reader: IndexReader,
    /// Behind a mutex, not shared: an upsert's delete and add must take their operation
    /// stamps together (see [`SearchIndexes::upsert`]), and a commit needs the writer to
    /// itself anyway.
    writer: Mutex<IndexWriter>,
    fields: Fields,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    source: Field,
    all: Field,
    fields: Field,
}

/// The results of one query.
#[derive(Debug, Clone)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    /// How many documents matched (all of them, not only the hits returned).
    pub total: usize,
}

/// Checks an index name (the capability's rule: `[A-Za-z0-9_-]`, 1 to
/// [`INDEX_NAME_CHARS_MAX`] characters), so that it is safe as a directory name.
pub fn check_index_name(name: &str) -> Result<(), SearchError> {
    if is_index_name(name) {
        Ok(())
    } else {
        Err(SearchError::Invalid(format!(
            "{name:?} is not an index name (1-{INDEX_NAME_CHARS_MAX} characters of \
             A-Z, a-z, 0-9, _ and -)"
        )))
    }
}

fn internal(what: &str, error: impl std::fmt::Display) -> SearchError {
    SearchError::Internal(format!("{what}: {error}"))
}

fn schema() -> Schema {
    let indexing = TextFieldIndexing::default()
        .set_tokenizer(ANALYZER)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    let mut builder = Schema::builder();
    builder.add_text_field(FIELD_ID, STRING | STORED);
    builder.add_text_field(FIELD_SOURCE, STORED);
    builder.add_text_field(
        FIELD_ALL,
        TextOptions::default().set_indexing_options(indexing.clone()),
    );
    builder.add_json_field(
        FIELD_FIELDS,
        JsonObjectOptions::default().set_indexing_options(indexing),
    );
    builder.build()
}

fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(TOKEN_BYTES_MAX))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(Language::English))
        .build()
}

impl OpenIndex {
    fn open(dir: &Path) -> Result<OpenIndex, SearchError> {
        std::fs::create_dir_all(dir).map_err(|e| internal("cannot create the index", e))?;
        let directory =
            MmapDirectory::open(dir).map_err(|e| internal("cannot open the index", e))?;
        let index = Index::open_or_create(directory, schema())
            .map_err(|e| internal("cannot open the index", e))?;
        // Tokenizers are not stored with the index: register ours every time it opens.
        index.tokenizers().register(ANALYZER, analyzer());
        let schema = index.schema();
        let field = |name| {
            schema
                .get_field(name)
                .map_err(|e| internal("the index has another schema", e))
        };
        let fields = Fields {
            id: field(FIELD_ID)?,
            source: field(FIELD_SOURCE)?,
            all: field(FIELD_ALL)?,
            fields: field(FIELD_FIELDS)?,
        };
        let writer = index
            .writer_with_num_threads(WRITER_THREADS, WRITER_MEMORY_BUDGET_BYTES)
            .map_err(|e| internal("cannot open the index writer", e))?;
        // Reloaded by hand after each commit: tantivy's default reloads a little later,
        // and a query right after a batch must see it.
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| internal("cannot open the index reader", e))?;
        Ok(OpenIndex {
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
        })
    }

    fn document(&self, id: &str, document_json: &str) -> Result<TantivyDocument, SearchError> {
        let value: Value = serde_json::from_str(document_json)
            .map_err(|e| SearchError::Invalid(format!("the document is not JSON: {e}")))?;
        let Value::Object(object) = value else {
            return Err(SearchError::Invalid(
                "the document is not a JSON object".to_owned(),
            ));
        };
        let mut doc = TantivyDocument::default();
        doc.add_text(self.fields.id, id);
        doc.add_text(self.fields.source, document_json);
        let mut texts = Vec::new();
        let mut fields = BTreeMap::new();
        for (key, value) in object {
            collect_texts(&value, &mut texts);
            if let Some(value) = owned_value(value) {
                fields.insert(key, value);
            }
        }
        for text in texts {
            doc.add_text(self.fields.all, text);
        }
        doc.add_object(self.fields.fields, fields);
        Ok(doc)
    }
}

/// Every string in `value`, depth first, for the catch-all field.
fn collect_texts(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_texts(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_texts(v, out)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// `value` for the JSON field. Strings stay strings (tantivy's own conversion would turn
/// date-like text into dates, which are not tokenized); nulls are left out.
fn owned_value(value: Value) -> Option<OwnedValue> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => OwnedValue::Bool(b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => OwnedValue::I64(i),
            (None, Some(u), _) => OwnedValue::U64(u),
            (None, None, Some(f)) => OwnedValue::F64(f),
            (None, None, None) => return None,
        },
        Value::String(s) => OwnedValue::Str(s),
        Value::Array(items) => {
            OwnedValue::Array(items.into_iter().filter_map(owned_value).collect())
        }
        Value::Object(map) => OwnedValue::Object(
            map.into_iter()
                .filter_map(|(k, v)| owned_value(v).map(|v| (k, v)))
                .collect(),
        ),
    })
}

/// How deeply `query` nests parentheses.
fn nesting_depth(query: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for c in query.chars() {
        match c {
            '(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Whether a failed search was the query's fault (a range or a field type tantivy cannot
/// search) rather than the index's.
fn query_error(error: TantivyError) -> SearchError {
    match error {
        TantivyError::InvalidArgument(m) | TantivyError::SchemaError(m) => {
            SearchError::Invalid(format!("the query cannot run: {m}"))
        }
        other => internal("the search failed", other),
    }
}

impl SearchIndexes {
    /// Opens (creating if needed) the directory of the indexes; each index is opened when
    /// first used.
    pub fn open(dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the search directory {}: {e}", dir.display()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Whether index `name` exists (has been written to at least once, ever).
    pub fn exists(&self, name: &str) -> bool {
        is_index_name(name)
            && (lock(&self.open).contains_key(name)
                || self.dir.join(name).join("meta.json").is_file())
    }

    /// The names of the existing indexes, sorted.
    pub fn names(&self) -> Result<Vec<String>, SearchError> {
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|e| internal("cannot list the search directory", e))?;
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|name| self.exists(name))
            .collect();
        names.sort();
        Ok(names)
    }

    /// How many documents index `name` holds (committed ones).
    pub fn document_count(&self, name: &str) -> Result<u64, SearchError> {
        Ok(self.index(name)?.reader.searcher().num_docs())
    }

    /// Index `name`, opened (and created) if it is not open yet.
    fn index(&self, name: &str) -> Result<Arc<OpenIndex>, SearchError> {
        check_index_name(name)?;
        let mut open = lock(&self.open);
        if let Some(index) = open.get(name) {
            return Ok(index.clone());
        }
        // Opened under the map's lock so that two callers never open one index twice
        // (tantivy allows one writer per directory). Opening is rare: once per index.
        let index = Arc::new(OpenIndex::open(&self.dir.join(name))?);
        open.insert(name.to_owned(), index.clone());
        Ok(index)
    }

    /// The best `limit` documents of index `name` for `query`, and how many matched. An
    /// index that does not exist matches nothing (and is not created).
    pub fn search(
        &self,
        name: &str,
        query: &str,
        limit: usize,
    ) -> Result<SearchResults, SearchError> {
        check_index_name(name)?;
        if query.len() > QUERY_BYTES_MAX {
            return Err(SearchError::Invalid(format!(
                "the query is {} bytes, over the limit of {QUERY_BYTES_MAX} bytes",
                query.len()
            )));
        }
        if nesting_depth(query) > QUERY_NESTING_DEPTH_MAX {
            return Err(SearchError::Invalid(format!(
                "the query nests parentheses deeper than {QUERY_NESTING_DEPTH_MAX} levels"
            )));
        }
        if !self.exists(name) {
            return Ok(SearchResults {
                hits: Vec::new(),
                total: 0,
            });
        }
        let index = self.index(name)?;
        let parser =
            QueryParser::for_index(&index.index, vec![index.fields.all, index.fields.fields]);
        let parsed = parser
            .parse_query(query)
            .map_err(|e| SearchError::Invalid(e.to_string()))?;
        let searcher = index.reader.searcher();
        let limit = limit.min(RESULT_LIMIT_MAX);
        // TopDocs does not take a limit of zero; counting alone answers that.
        let (top, total) = if limit == 0 {
            (
                Vec::new(),
                searcher.search(&parsed, &Count).map_err(query_error)?,
            )
        } else {
            searcher
                .search(
                    &parsed,
                    &(TopDocs::with_limit(limit).order_by_score(), Count),
                )
                .map_err(query_error)?
        };
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher
                .doc(address)
                .map_err(|e| internal("cannot read a document", e))?;
            let text = |field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            hits.push(SearchHit {
                id: text(index.fields.id),
                score,
                document_json: text(index.fields.source),
            });
        }
        Ok(SearchResults { hits, total })
    }
}

impl SearchApi for SearchIndexes {
    fn upsert(&self, index: &str, id: &str, document_json: &str) -> Result<(), SearchError> {
        if id.is_empty() || id.len() > ID_BYTES_MAX {
            return Err(SearchError::Invalid(format!(
                "the id is {} bytes; it must be 1 to {ID_BYTES_MAX} bytes",
                id.len()
            )));
        }
        if document_json.len() > DOCUMENT_BYTES_MAX {
            return Err(SearchError::Invalid(format!(
                "the document is {} bytes, over the limit of {DOCUMENT_BYTES_MAX} bytes",
                document_json.len()
            )));
        }
        let open = self.index(index)?;
        let doc = open.document(id, document_json)?;
        // One batch of operations takes consecutive stamps, so no other upsert of the same
        // id can slip between this delete and this add (two adds would survive).
        lock(&open.writer)
            .run([
                UserOperation::Delete(Term::from_field_text(open.fields.id, id)),
                UserOperation::Add(doc),
            ])
            .map_err(|e| internal("cannot stage the document", e))?;
        Ok(())
    }

    fn delete(&self, index: &str, id: &str) -> Result<(), SearchError> {
        if id.is_empty() || id.len() > ID_BYTES_MAX {
            return Err(SearchError::Invalid(format!(
                "the id is {} bytes; it must be 1 to {ID_BYTES_MAX} bytes",
                id.len()
            )));
        }
        let open = self.index(index)?;
        lock(&open.writer).delete_term(Term::from_field_text(open.fields.id, id));
        Ok(())
    }

    fn commit(&self, indexes: &[String]) -> Result<(), SearchError> {
        for name in indexes {
            let open = self.index(name)?;
            // Staged changes are never rolled back here, even when the commit fails: they
            // may belong to another invocation still running, which must not see its
            // changes vanish and then commit "successfully". The next commit retries them.
            lock(&open.writer)
                .commit()
                .map_err(|e| internal(&format!("cannot commit index {name:?}"), e))?;
            open.reader
                .reload()
                .map_err(|e| internal(&format!("cannot reload index {name:?}"), e))?;
        }
        Ok(())
    }

    fn query(&self, index: &str, query: &str, limit: usize) -> Result<Vec<SearchHit>, SearchError> {
        Ok(self.search(index, query, limit)?.hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indexes() -> (tempfile::TempDir, SearchIndexes) {
        let dir = tempfile::tempdir().expect("temp dir");
        let indexes = SearchIndexes::open(dir.path()).expect("open");
        (dir, indexes)
    }

    fn ids(indexes: &SearchIndexes, query: &str) -> Vec<String> {
        indexes
            .query("products", query, 10)
            .expect("query")
            .into_iter()
            .map(|hit| hit.id)
            .collect()
    }

    #[test]
    fn upsert_replaces_delete_removes_and_ranking_counts_every_field() {
        let (_dir, s) = indexes();
        let both = r#"{"name":"Steel kettle","description":"A kettle for tea","tags":["kitchen"]}"#;
        let description_only = r#"{"name":"Teapot","description":"Goes well with a kettle"}"#;
        s.upsert("products", "p1", both).expect("upsert");
        s.upsert("products", "p2", description_only)
            .expect("upsert");
        // Twice, as a replayed record would be: still one document.
        s.upsert("products", "p2", description_only)
            .expect("upsert");
        s.commit(&["products".to_owned()]).expect("commit");
        assert_eq!(ids(&s, "kettles"), ["p1", "p2"]);
        assert_eq!(ids(&s, "name:kettle"), ["p1"]);
        assert_eq!(ids(&s, "tags:kitchen"), ["p1"]);
        assert_eq!(ids(&s, "_id:p2"), ["p2"]);

        s.upsert("products", "p1", r#"{"name":"Copper pan"}"#)
            .expect("upsert");
        s.delete("products", "p2").expect("delete");
        s.delete("products", "p2")
            .expect("a second delete is no error");
        // Not visible before the commit.
        assert_eq!(ids(&s, "kettle"), ["p1", "p2"]);
        s.commit(&["products".to_owned()]).expect("commit");
        assert!(ids(&s, "kettle").is_empty());
        let hits = s.query("products", "copper", 10).expect("query");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].document_json, r#"{"name":"Copper pan"}"#);
    }

    #[test]
    fn bad_input_is_invalid_not_internal() {
        let (_dir, s) = indexes();
        let invalid = |r: Result<(), SearchError>| matches!(r, Err(SearchError::Invalid(_)));
        assert!(invalid(s.upsert("products", "p1", "[1]")));
        assert!(invalid(s.upsert("products", "p1", "{")));
        assert!(invalid(s.upsert("products", "", "{}")));
        assert!(invalid(s.upsert("../x", "p1", "{}")));
        assert!(invalid(s.delete("products", &"x".repeat(ID_BYTES_MAX + 1))));
        s.upsert("products", "p1", r#"{"a":"b"}"#).expect("upsert");
        s.commit(&["products".to_owned()]).expect("commit");
        for query in [
            "a:(b",
            "\"unclosed",
            &"(".repeat(100),
            &"x ".repeat(QUERY_BYTES_MAX),
        ] {
            assert!(
                matches!(s.query("products", query, 10), Err(SearchError::Invalid(_))),
                "{query:?}"
            );
        }
        assert!(s.query("products", "b", 0).expect("limit 0").is_empty());
        assert!(s.query("missing", "b", 10).expect("no index").is_empty());
        assert!(!s.exists("missing"));
    }

    #[test]
    fn committed_documents_survive_reopening() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let s = SearchIndexes::open(dir.path()).expect("open");
            s.upsert("products", "p1", r#"{"name":"Kettle"}"#)
                .expect("upsert");
            s.commit(&["products".to_owned()]).expect("commit");
            s.upsert("products", "p2", r#"{"name":"Kettle"}"#)
                .expect("upsert");
            // Not committed: gone with the writer, as an unacknowledged batch is.
        }
        let s = SearchIndexes::open(dir.path()).expect("reopen");
        assert_eq!(s.names().expect("names"), ["products"]);
        assert_eq!(ids(&s, "kettle"), ["p1"]);
    }
}
