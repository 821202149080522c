//! Embeds the guest side an installed `eddy` needs to build functions without the
//! repository: `functions/wit`, `functions/sdk`, `functions/python`, `functions/js` and
//! `functions/templates`, plus `functions/Cargo.lock` (the Rust template's pinned
//! versions). `src/project/sdk.rs` writes them out on first use.
//!
//! Owns walking those directories and generating `$OUT_DIR/embedded_sdk.rs` (a table
//! of paths and `include_bytes!`, and a content hash). The SDK's `Cargo.toml` is
//! rewritten standalone: its `workspace = true` entries are resolved from
//! `functions/Cargo.toml`, since the copy has no workspace above it. Must not know what
//! the files mean.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The directories of `functions/` that are embedded.
const EMBEDDED_ROOTS: [&str; 5] = ["wit", "sdk", "python", "js", "templates"];
/// Single files of `functions/` that are embedded besides the roots.
const EMBEDDED_FILES: [&str; 1] = ["Cargo.lock"];
/// Names never embedded: build output, caches and dependencies fetched by a toolchain.
const SKIPPED_NAMES: [&str; 5] = ["target", "__pycache__", "node_modules", ".git", ".venv"];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    let functions = manifest_dir.join("functions");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=functions/Cargo.toml");

    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for root in EMBEDDED_ROOTS {
        // A root that does not exist yet is watched too: cargo reruns this script
        // while a watched path is missing, so a directory added later is embedded.
        println!("cargo:rerun-if-changed=functions/{root}");
        walk(&functions, &functions.join(root), &mut files);
    }
    for file in EMBEDDED_FILES {
        println!("cargo:rerun-if-changed=functions/{file}");
        let path = functions.join(file);
        if path.is_file() {
            files.push((file.to_owned(), path));
        }
    }
    files.sort();

    let sdk_manifest = functions.join("sdk/Cargo.toml");
    let standalone = out_dir.join("sdk-Cargo.toml");
    if sdk_manifest.is_file() {
        let sdk = std::fs::read_to_string(&sdk_manifest).expect("read functions/sdk/Cargo.toml");
        let workspace = std::fs::read_to_string(functions.join("Cargo.toml"))
            .expect("read functions/Cargo.toml");
        std::fs::write(&standalone, standalone_manifest(&sdk, &workspace))
            .expect("write the standalone SDK manifest");
        for entry in &mut files {
            if entry.0 == "sdk/Cargo.toml" {
                entry.1 = standalone.clone();
            }
        }
    }

    let mut hash = Fnv::default();
    let mut table = String::from("pub static FILES: &[(&str, &[u8])] = &[\n");
    for (relative, path) in &files {
        let bytes = std::fs::read(path).expect("read an embedded file");
        hash.write(relative.as_bytes());
        hash.write(&[0]);
        hash.write(&bytes);
        let _ = writeln!(
            table,
            "    ({relative:?}, include_bytes!({:?})),",
            path.display().to_string()
        );
    }
    table.push_str("];\n");
    let _ = writeln!(
        table,
        "pub const CONTENT_HASH: &str = \"{:016x}\";",
        hash.finish()
    );
    std::fs::write(out_dir.join("embedded_sdk.rs"), table).expect("write embedded_sdk.rs");
}

/// Collects the files under `dir` (paths relative to `base`, with `/`), skipping
/// [`SKIPPED_NAMES`], and asks cargo to rerun when any of them or a directory changes.
fn walk(base: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if SKIPPED_NAMES.contains(&name.as_str()) || name.ends_with(".pyc") {
            continue;
        }
        let path = entry.path();
        println!("cargo:rerun-if-changed={}", path.display());
        if path.is_dir() {
            walk(base, &path, files);
        } else if path.is_file() {
            let relative = path
                .strip_prefix(base)
                .expect("under base")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            files.push((relative, path));
        }
    }
}

/// The SDK's manifest with every `workspace = true` entry replaced by the workspace's
/// value: `key.workspace = true` lines take `functions/Cargo.toml`'s
/// `[workspace.package]` or `[workspace.dependencies]` line of that key, and
/// `[lints] workspace = true` takes its `[workspace.lints.*]` sections.
fn standalone_manifest(sdk: &str, workspace: &str) -> String {
    let sections = sections(workspace);
    let section = |name: &str| -> Vec<String> {
        sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, lines)| lines.clone())
            .unwrap_or_default()
    };
    let lookup = |section_name: &str, key: &str| -> Option<String> {
        section(section_name)
            .into_iter()
            .find(|line| line.split_once('=').is_some_and(|(k, _)| k.trim() == key))
    };
    let mut out = String::from(
        "# Written by eddy from functions/sdk/Cargo.toml: the workspace's values are\n\
         # inlined, since this copy of the SDK has no workspace above it.\n",
    );
    let mut current = String::new();
    for line in sdk.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            current = trimmed.trim_matches(['[', ']']).to_owned();
            if current == "lints" {
                continue;
            }
        } else if current == "lints" {
            if trimmed == "workspace = true" {
                for name in ["workspace.lints.rust", "workspace.lints.clippy"] {
                    let lines = section(name);
                    if !lines.is_empty() {
                        let _ = writeln!(out, "[{}]", name.trim_start_matches("workspace."));
                        for l in lines {
                            let _ = writeln!(out, "{l}");
                        }
                    }
                }
            }
            continue;
        }
        let inherited = trimmed
            .split_once('=')
            .filter(|(k, v)| k.trim().ends_with(".workspace") && v.trim() == "true")
            .map(|(k, _)| k.trim().trim_end_matches(".workspace").to_owned());
        match inherited {
            Some(key) => {
                let from = if current == "package" {
                    "workspace.package"
                } else {
                    "workspace.dependencies"
                };
                match lookup(from, &key) {
                    Some(line) => {
                        let _ = writeln!(out, "{line}");
                    }
                    None => panic!("functions/Cargo.toml has no {key} in [{from}]"),
                }
            }
            None => {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    out
}

/// A TOML file's sections as (header, its non-comment lines).
fn sections(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = vec![(String::new(), Vec::new())];
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') && !trimmed.starts_with("[[") && trimmed.ends_with(']') {
            out.push((trimmed.trim_matches(['[', ']']).to_owned(), Vec::new()));
        } else if !trimmed.is_empty()
            && !trimmed.starts_with('#')
            && let Some(last) = out.last_mut()
        {
            last.1.push(trimmed.to_owned());
        }
    }
    out
}

/// FNV-1a, 64 bits: the content hash that names the materialized copy (no
/// cryptographic strength needed, only that a changed file changes the name).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
