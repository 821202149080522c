//! The project manifest `eddy.toml`: its shape (functions, tables, triggers,
//! schedules), reading it, and the checks that need no server.
//!
//! Owns the file format. Must not know how a function is built or how the server is
//! asked to match it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The manifest's file name in a project directory.
pub const MANIFEST_FILE: &str = "eddy.toml";

/// Largest manifest read, in bytes: a project's description, never data.
pub const MANIFEST_BYTES_MAX: u64 = 1024 * 1024;

/// A whole `eddy.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(default, rename = "function")]
    pub functions: Vec<Function>,
    #[serde(default, rename = "table")]
    pub tables: Vec<Table>,
    #[serde(default, rename = "trigger")]
    pub triggers: Vec<Trigger>,
    #[serde(default, rename = "schedule")]
    pub schedules: Vec<Schedule>,
}

/// The languages a function is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Rust,
    Python,
    Js,
}

impl Lang {
    /// The name used in `--lang`, in the manifest and for the SDK's directory.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
        }
    }

    /// The language named `name` (`--lang`).
    pub fn parse(name: &str) -> Option<Lang> {
        match name {
            "rust" => Some(Lang::Rust),
            "python" => Some(Lang::Python),
            "js" | "javascript" => Some(Lang::Js),
            _ => None,
        }
    }
}

/// One `[[function]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Function {
    pub name: String,
    pub lang: Lang,
    /// Lambda's `module.function`; python and js only.
    pub handler: Option<String>,
    /// The project directory, relative to the manifest.
    #[serde(default = "dot")]
    pub path: PathBuf,
    pub memory_mb: Option<u32>,
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub tables: Vec<String>,
    #[serde(default)]
    pub indexes: Vec<String>,
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub allow_any_host: bool,
    #[serde(default)]
    pub email: bool,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
}

fn dot() -> PathBuf {
    PathBuf::from(".")
}

/// A key attribute: its name and type (`S`, `N` or `B`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Key {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// One `[[table]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub name: String,
    pub partition_key: Key,
    pub sort_key: Option<Key>,
    /// The stream's view type; none = no stream.
    pub stream: Option<String>,
    pub billing_mode: Option<String>,
    #[serde(default)]
    pub global_indexes: Vec<GlobalIndex>,
}

/// A global secondary index of a `[[table]]` (projection: all attributes).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalIndex {
    pub name: String,
    pub partition_key: Key,
    pub sort_key: Option<Key>,
}

/// One `[[trigger]]`: Lambda's CreateEventSourceMapping fields in snake case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    pub function: String,
    /// The table of this server whose stream feeds the function; or else `stream_arn`.
    #[serde(default)]
    pub table: Option<String>,
    /// A stream on another DynamoDB Streams endpoint (AWS, another Eddy), read from
    /// `source_endpoint` (default: AWS's endpoint of the ARN's region).
    pub stream_arn: Option<String>,
    pub source_endpoint: Option<String>,
    pub batch_size: Option<u32>,
    pub starting_position: Option<String>,
    #[serde(default)]
    pub report_batch_item_failures: bool,
    pub maximum_retry_attempts: Option<i64>,
    pub maximum_record_age_in_seconds: Option<i64>,
    pub maximum_batching_window_in_seconds: Option<i64>,
    pub parallelization_factor: Option<i64>,
    pub bisect_batch_on_function_error: Option<bool>,
    pub tumbling_window_in_seconds: Option<i64>,
    /// A table that receives the records of a batch given up on (OnFailure).
    pub on_failure_table: Option<String>,
    /// EventBridge-style filter patterns (JSON text each).
    #[serde(default)]
    pub filters: Vec<String>,
    pub enabled: Option<bool>,
}

impl Trigger {
    /// What the trigger reads, as its messages name it: `table T` or `stream ARN`.
    pub fn source(&self) -> String {
        match (&self.table, &self.stream_arn) {
            (Some(table), _) => format!("table {table}"),
            (None, Some(arn)) => format!("stream {arn}"),
            (None, None) => "nothing".to_owned(),
        }
    }
}

/// One `[[schedule]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub name: String,
    pub function: String,
    pub cron: String,
    /// The event's `detail`, as JSON text.
    pub input: Option<String>,
    pub enabled: Option<bool>,
}

/// A manifest read from disk, with the directory its paths are relative to.
#[derive(Debug, Clone)]
pub struct Project {
    pub file: PathBuf,
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Project {
    /// Reads `eddy.toml` of the directory `dir`, or the file `path` when it names one.
    pub fn load(path: &Path) -> Result<Project, String> {
        if !path.exists() {
            return Err(format!(
                "{}: no such file or directory (a project directory holding {MANIFEST_FILE}, \
                 or its manifest)",
                path.display()
            ));
        }
        let file = if path.is_dir() {
            path.join(MANIFEST_FILE)
        } else {
            path.to_path_buf()
        };
        let dir = file
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let size = std::fs::metadata(&file)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => format!(
                    "{}: no such file: a project has an {MANIFEST_FILE} (make one with `eddy function new NAME --lang rust|python|js`)",
                    file.display()
                ),
                _ => format!("{}: {e}", file.display()),
            })?
            .len();
        if size > MANIFEST_BYTES_MAX {
            return Err(format!(
                "{}: {size} bytes is more than a manifest's {MANIFEST_BYTES_MAX}",
                file.display()
            ));
        }
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let manifest = parse(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        Ok(Project {
            file,
            dir,
            manifest,
        })
    }

    /// The project directory of `function`.
    pub fn function_dir(&self, function: &Function) -> PathBuf {
        if function.path == Path::new(".") {
            return self.dir.clone();
        }
        self.dir.join(&function.path)
    }

    /// Where `function`'s component is written: `target/eddy/<name>.wasm` under the
    /// manifest's directory.
    pub fn wasm_path(&self, function: &Function) -> PathBuf {
        self.dir
            .join("target")
            .join("eddy")
            .join(format!("{}.wasm", function.name))
    }
}

/// Parses and checks a manifest's text.
pub fn parse(text: &str) -> Result<Manifest, String> {
    let manifest: Manifest = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut names = std::collections::HashSet::new();
    for f in &manifest.functions {
        if !names.insert(f.name.as_str()) {
            return Err(format!("function {} is named twice", f.name));
        }
        match (f.lang, &f.handler) {
            (Lang::Python | Lang::Js, None) => {
                return Err(format!(
                    "function {}: a {} function needs `handler` (Lambda's module.function, e.g. {})",
                    f.name,
                    f.lang.as_str(),
                    if f.lang == Lang::Python {
                        "app.handler"
                    } else {
                        "handler.handler"
                    }
                ));
            }
            (Lang::Python | Lang::Js, Some(h)) if !h.contains('.') => {
                return Err(format!(
                    "function {}: handler {h:?} is not module.function",
                    f.name
                ));
            }
            _ => {}
        }
    }
    let mut pairs = std::collections::HashSet::new();
    for t in &manifest.triggers {
        match (&t.table, &t.stream_arn, &t.source_endpoint) {
            (Some(_), None, None) | (None, Some(_), _) => {}
            (Some(_), _, _) => {
                return Err(format!(
                    "a trigger of function {} names both `table` and `stream_arn` \
                     (or `source_endpoint`, which goes with `stream_arn`)",
                    t.function
                ));
            }
            (None, None, _) => {
                return Err(format!(
                    "a trigger of function {} needs `table` (of this server) or `stream_arn`",
                    t.function
                ));
            }
        }
        if !pairs.insert((t.function.as_str(), t.source())) {
            return Err(format!(
                "two triggers of function {} on {}: a trigger is known by its function and source",
                t.function,
                t.source()
            ));
        }
    }
    let mut tables = std::collections::HashSet::new();
    for t in &manifest.tables {
        if !tables.insert(t.name.as_str()) {
            return Err(format!("table {} is named twice", t.name));
        }
    }
    let mut schedules = std::collections::HashSet::new();
    for s in &manifest.schedules {
        if !schedules.insert(s.name.as_str()) {
            return Err(format!("schedule {} is named twice", s.name));
        }
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trigger_reads_a_table_of_this_server_or_a_stream_arn_never_both() {
        let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2026-01-01T00:00:00.000";
        let m = parse(&format!(
            "[[trigger]]\nfunction = \"f\"\nstream_arn = \"{arn}\"\n\
             source_endpoint = \"http://other:8000\"\n"
        ))
        .expect("a remote trigger");
        assert_eq!(m.triggers[0].source(), format!("stream {arn}"));
        let both = parse(&format!(
            "[[trigger]]\nfunction = \"f\"\ntable = \"t\"\nstream_arn = \"{arn}\"\n"
        ));
        assert!(both.is_err_and(|e| e.contains("both `table` and `stream_arn`")));
        let endpoint_alone =
            parse("[[trigger]]\nfunction = \"f\"\ntable = \"t\"\nsource_endpoint = \"http://x\"\n");
        assert!(endpoint_alone.is_err_and(|e| e.contains("goes with `stream_arn`")));
        let neither = parse("[[trigger]]\nfunction = \"f\"\n");
        assert!(neither.is_err_and(|e| e.contains("needs `table`")));
    }

    #[test]
    fn the_contracts_example_parses() {
        let m = parse(
            r#"
[[function]]
name = "hello"
lang = "python"
handler = "app.handler"
memory_mb = 128
tables = ["users"]
environment = { GREETING = "hello" }

[[table]]
name = "users"
partition_key = { name = "id", type = "S" }
sort_key = { name = "at", type = "N" }
stream = "NEW_AND_OLD_IMAGES"
global_indexes = [{ name = "by-email", partition_key = { name = "email", type = "S" } }]

[[trigger]]
function = "hello"
table = "users"
batch_size = 10
report_batch_item_failures = true

[[schedule]]
name = "nightly"
function = "hello"
cron = "0 0 3 * * *"
"#,
        )
        .unwrap();
        assert_eq!(m.functions[0].path, PathBuf::from("."));
        assert_eq!(m.functions[0].environment["GREETING"], "hello");
        assert_eq!(m.tables[0].sort_key.as_ref().unwrap().kind, "N");
        assert_eq!(m.tables[0].global_indexes[0].name, "by-email");
        assert!(m.triggers[0].report_batch_item_failures);
        assert_eq!(m.schedules[0].cron, "0 0 3 * * *");
    }

    #[test]
    fn mistakes_are_named() {
        let e = parse("[[function]]\nname = \"f\"\nlang = \"python\"\n").unwrap_err();
        assert!(e.contains("needs `handler`"), "{e}");
        let e = parse("[[function]]\nname = \"f\"\nlang = \"cobol\"\n").unwrap_err();
        assert!(e.contains("cobol"), "{e}");
        let e = parse("[[function]]\nname = \"f\"\nlang = \"rust\"\nmemroy_mb = 1\n").unwrap_err();
        assert!(e.contains("memroy_mb"), "{e}");
        let twice = "[[trigger]]\nfunction = \"f\"\ntable = \"t\"\n";
        let e = parse(&format!("{twice}{twice}")).unwrap_err();
        assert!(e.contains("two triggers"), "{e}");
    }
}
