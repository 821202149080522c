//! The house's shape, checked on every test run: no import circle inside any crate, and
//! no production file longer than [`FILE_LINES_MAX`] unless its header says why.
//!
//! It reads the sources as text (no compiler): each file is a room, and an arrow runs
//! from a file to every file of the same crate whose items it names through a
//! `crate::…`, `super::…` or `self::…` path (in a `use` or inline). A `mod x;`
//! declaration is not an arrow: a parent that only declares its children does not
//! depend on them. Test files (`tests.rs`, anything under `tests/`) and `#[cfg(test)]`
//! modules are left out, as are `mod.rs`/parent re-exports (`pub use self::child::…`),
//! which only name what a child defines and are how a folder shows its door, and a
//! child's use of its own folder's door (`super::Shared`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Longer production files must say why in their first comment block, in a line that
/// starts `Over 800 lines` (as `engine/src/expr/parser.rs` does).
const FILE_LINES_MAX: usize = 800;

/// The crates checked, as (crate root file, source folder).
const CRATES: &[(&str, &str)] = &[
    ("src/lib.rs", "src"),
    ("engine/src/lib.rs", "engine/src"),
    ("triggers/src/lib.rs", "triggers/src"),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every production `.rs` file of a crate, keyed by its module path (`a::b`).
fn modules(dir: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read a source folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "tests" && n != "bin") {
                    stack.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(dir).expect("under its folder");
            let mut parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
                .collect();
            let last = parts.last().cloned().unwrap_or_default();
            if last == "tests" {
                continue;
            }
            if last == "mod" || (parts.len() == 1 && (last == "lib" || last == "main")) {
                parts.pop();
            }
            out.insert(parts.join("::"), path);
        }
    }
    out
}

/// The text of a file without `#[cfg(test)]` items, comments and string literals, so
/// that neither test imports nor prose make arrows.
fn production_code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut skip_depth: Option<usize> = None;
    let mut depth = 0usize;
    let mut pending_cfg_test = false;
    for line in text.lines() {
        let code = strip_comment(line);
        let trimmed = code.trim();
        if skip_depth.is_none() && trimmed.starts_with("#[cfg(test)]") {
            pending_cfg_test = true;
            continue;
        }
        let opens = code.matches('{').count();
        let closes = code.matches('}').count();
        if pending_cfg_test && !trimmed.is_empty() && !trimmed.starts_with("#[") {
            pending_cfg_test = false;
            if opens > closes {
                skip_depth = Some(depth);
            } else {
                // A one-line test item (`use …;` or `mod tests;`): skip just it.
                continue;
            }
        }
        depth = (depth + opens).saturating_sub(closes);
        match skip_depth {
            Some(d) if depth <= d => skip_depth = None,
            Some(_) => {}
            None => {
                out.push_str(&strip_strings(&code));
                out.push('\n');
            }
        }
    }
    out
}

fn strip_comment(line: &str) -> String {
    // Good enough for this tree: `//` inside a string is rare and only loses an arrow
    // in the rest of that line.
    match line.find("//") {
        Some(i) => line[..i].to_string(),
        None => line.to_string(),
    }
}

fn strip_strings(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in line.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        if c == '"' {
            in_string = true;
            continue;
        }
        out.push(c);
    }
    out
}

/// The module paths named from `code` (in module `me`): `crate::a::b::{c, d::e}` gives
/// `a::b`, `a::b::c`, `a::b::d::e`…; the caller keeps those that are files.
fn named_paths(me: &str, code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let me_parts: Vec<&str> = if me.is_empty() {
        vec![]
    } else {
        me.split("::").collect()
    };
    let bytes = code.as_bytes();
    for (start, prefix) in [("crate::", 0usize), ("super::", 1), ("self::", 2)]
        .iter()
        .flat_map(|(p, k)| code.match_indices(p).map(move |(i, _)| (i, (*p, *k))))
    {
        let (word, kind) = prefix;
        // Only a path start: not `foo_crate::` or `a::super::`.
        if start > 0 {
            let before = bytes[start - 1];
            if before.is_ascii_alphanumeric() || before == b'_' || before == b':' {
                continue;
            }
        }
        let base: Vec<String> = match kind {
            0 => vec![],
            1 => {
                let mut b: Vec<String> = me_parts.iter().map(|s| s.to_string()).collect();
                // `super::` from a file module is its parent; chains of `super::` are
                // handled by the loop below.
                b.pop();
                b
            }
            _ => me_parts.iter().map(|s| s.to_string()).collect(),
        };
        let rest = &code[start + word.len()..];
        let mut base = base;
        let mut rest = rest;
        while let Some(r) = rest.strip_prefix("super::") {
            base.pop();
            rest = r;
        }
        expand(&base, rest, &mut out);
    }
    out
}

/// The module paths named relative to `me` without a prefix (`child::f()`,
/// `use child::X`), for each of `me`'s child modules in `children`.
fn relative_paths(me: &str, children: &[&str], code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let base: Vec<String> = if me.is_empty() {
        vec![]
    } else {
        me.split("::").map(str::to_string).collect()
    };
    let bytes = code.as_bytes();
    for child in children {
        let word = format!("{child}::");
        for (start, _) in code.match_indices(&word) {
            if start > 0 {
                let before = bytes[start - 1];
                if before.is_ascii_alphanumeric() || before == b'_' || before == b':' {
                    continue;
                }
            }
            expand(&base, &code[start..], &mut out);
        }
    }
    out
}

/// Expands one path (`a::b::{c, d}` …) after its prefix into every module path it names.
fn expand(base: &[String], rest: &str, out: &mut BTreeSet<String>) {
    let mut path = base.to_vec();
    let mut chars = rest.char_indices().peekable();
    let mut ident = String::new();
    while let Some((i, c)) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            ident.push(c);
            continue;
        }
        if c == ':' && rest[i..].starts_with("::") {
            chars.next();
            if !ident.is_empty() {
                path.push(std::mem::take(&mut ident));
                out.insert(path.join("::"));
            }
            continue;
        }
        if c == '{' {
            let inner = &rest[i + 1..];
            let end = matching_brace(inner);
            for part in split_top_level(&inner[..end]) {
                let part = part.trim();
                if part.is_empty() || part == "self" {
                    continue;
                }
                expand(&path, part, out);
            }
            return;
        }
        break;
    }
    if !ident.is_empty() {
        path.push(ident);
        out.insert(path.join("::"));
    }
}

fn matching_brace(s: &str) -> usize {
    let mut depth = 1;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    s.len()
}

fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Arrows between the files of one crate: file -> files it names.
fn arrows(mods: &BTreeMap<String, PathBuf>) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for (me, path) in mods {
        let text = std::fs::read_to_string(path).expect("read a source file");
        let code: String = production_code(&text)
            .lines()
            // A folder's door: re-exports of its own children name, not depend.
            .filter(|l| {
                let t = l.trim_start();
                !(t.starts_with("pub use self::")
                    || t.starts_with("pub(crate) use self::")
                    || (t.starts_with("pub use ") && !t.contains("crate::"))
                    || (t.starts_with("pub(crate) use ") && !t.contains("crate::")))
            })
            .collect::<Vec<_>>()
            .join("\n");
        let prefix = if me.is_empty() {
            String::new()
        } else {
            format!("{me}::")
        };
        let children: Vec<&str> = mods
            .keys()
            .filter_map(|m| m.strip_prefix(&prefix))
            .filter(|c| !c.is_empty() && !c.contains("::"))
            .collect();
        let mut named = named_paths(me, &code);
        named.extend(relative_paths(me, &children, &code));
        let mut targets = BTreeSet::new();
        for named in named {
            // The longest prefix of the named path that is a file of this crate.
            let parts: Vec<&str> = named.split("::").collect();
            for n in (1..=parts.len()).rev() {
                let candidate = parts[..n].join("::");
                if mods.contains_key(&candidate) {
                    // A child may use what its folder's door (`mod.rs` or the parent
                    // file) defines: the folder and its door are one room seen from
                    // outside, so that is not an arrow.
                    let is_ancestor = me.starts_with(&format!("{candidate}::"))
                        || (candidate.is_empty() && !me.is_empty());
                    if candidate != *me && !is_ancestor {
                        targets.insert(candidate);
                    }
                    break;
                }
            }
        }
        out.insert(me.clone(), targets);
    }
    out
}

/// Strongly connected components with more than one file (Tarjan).
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(lw));
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn no_import_circle_inside_a_crate() {
    let mut found = Vec::new();
    for (_, dir) in CRATES {
        let mods = modules(&root().join(dir));
        let graph = arrows(&mods);
        for circle in circles(&graph) {
            let ties: Vec<String> = circle
                .iter()
                .flat_map(|a| {
                    graph[a]
                        .iter()
                        .filter(|b| circle.contains(b))
                        .map(move |b| format!("{a} -> {b}"))
                })
                .collect();
            found.push(format!("{dir}: {}", ties.join(", ")));
        }
    }
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

#[test]
fn long_files_say_why() {
    let mut found = Vec::new();
    for (_, dir) in CRATES {
        for path in modules(&root().join(dir)).values() {
            let text = std::fs::read_to_string(path).expect("read a source file");
            // An inline `#[cfg(test)]` module at the end is not production code.
            let lines = text
                .lines()
                .take_while(|l| !l.starts_with("#[cfg(test)]"))
                .count();
            let header_says_why = text.lines().take_while(|l| l.starts_with("//")).any(|l| {
                l.trim_start_matches(['/', '!'])
                    .trim()
                    .starts_with(&format!("Over {FILE_LINES_MAX} lines"))
            });
            if lines > FILE_LINES_MAX && !header_says_why {
                found.push(format!("{} ({lines} lines)", path.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "files over {FILE_LINES_MAX} lines without an `Over {FILE_LINES_MAX} lines …` reason in their header:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_checker_sees_a_circle() {
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    graph.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(
        circles(&graph),
        vec![vec!["a".to_string(), "b".to_string()]]
    );
    let named = named_paths("x::y", "use crate::a::{b::c, d};\nlet v = super::z::f();");
    assert!(named.contains("a::b::c") && named.contains("a::d") && named.contains("x::z"));
}
