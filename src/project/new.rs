//! `eddy function new NAME --lang rust|python|js [--dir DIR]`: writes a project from
//! the embedded template of the language, with `{{name}}` (and, for Rust, `{{sdk_dir}}`)
//! replaced.
//!
//! Owns the template expansion and the refusal to write into a non-empty directory.
//! Must not know how a project is built or deployed.

use std::path::{Path, PathBuf};

use super::manifest::Lang;
use super::sdk;

/// Characters of a function name (the server's rule: 1-64 of `[A-Za-z0-9_-]`).
pub const FUNCTION_NAME_CHARS_MAX: usize = 64;

/// Writes the project and returns the lines to print (what to do next).
pub fn new(name: &str, lang: &str, dir: Option<&Path>) -> Result<String, String> {
    if name.is_empty()
        || name.len() > FUNCTION_NAME_CHARS_MAX
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "{name:?} is not a function name (1-{FUNCTION_NAME_CHARS_MAX} characters of [A-Za-z0-9_-])"
        ));
    }
    let lang =
        Lang::parse(lang).ok_or_else(|| format!("--lang {lang:?}: expected rust, python or js"))?;
    let dir = dir.map_or_else(|| PathBuf::from(name), Path::to_path_buf);
    if let Ok(mut entries) = std::fs::read_dir(&dir) {
        if entries.next().is_some() {
            return Err(format!(
                "{} exists and is not empty: choose another --dir (nothing was written)",
                dir.display()
            ));
        }
    } else if dir.exists() {
        return Err(format!("{} exists and is not a directory", dir.display()));
    }
    let prefix = format!("templates/{}/", lang.as_str());
    let template: Vec<_> = sdk::files()
        .iter()
        .filter_map(|(path, bytes)| path.strip_prefix(&prefix).map(|p| (p, *bytes)))
        .collect();
    if template.is_empty() {
        return Err(format!(
            "this eddy has no {} template (functions/{prefix} was empty when it was built)",
            lang.as_str()
        ));
    }
    let sdk_dir = match lang {
        Lang::Rust => sdk::sdk_dir()?.display().to_string(),
        Lang::Python | Lang::Js => String::new(),
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (relative, bytes) in &template {
        let out = dir.join(relative);
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        let bytes = match std::str::from_utf8(bytes) {
            Ok(text) => text
                .replace("{{name}}", name)
                .replace("{{crate_name}}", &crate_name(name))
                .replace("{{sdk_dir}}", &toml_path(&sdk_dir))
                .into_bytes(),
            Err(_) => bytes.to_vec(),
        };
        std::fs::write(&out, bytes).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    // The versions the SDK was built and tested with, so a first build fetches and
    // compiles exactly those (cargo drops the entries this project does not use).
    if lang == Lang::Rust
        && let Some(lock) = sdk::file("Cargo.lock")
    {
        let out = dir.join("Cargo.lock");
        std::fs::write(&out, lock).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    let shown = dir.display();
    Ok(format!(
        "eddy: wrote the {lang} function {name} in {shown}\n\
         next:\n  \
         cd {shown}\n  \
         eddy dev                # create {name}-items and its trigger, deploy, redeploy on save, print its logs\n  \
         eddy function deploy    # build and deploy once\n  \
         eddy apply              # also create eddy.toml's tables, triggers and schedules",
        lang = lang.as_str()
    ))
}

/// The cargo package name of a Rust function `name`. Every function name is one of
/// cargo's names but for those that start with a digit or are the names of Rust's own
/// crates, which cargo refuses; they get the prefix `fn-` (the component's name comes
/// from the manifest, not from the package).
fn crate_name(name: &str) -> String {
    const RUST_CRATES: [&str; 6] = ["test", "core", "std", "alloc", "proc_macro", "proc-macro"];
    if name.starts_with(|c: char| c.is_ascii_digit()) || RUST_CRATES.contains(&name) {
        format!("fn-{name}")
    } else {
        name.to_owned()
    }
}

/// A path as the inside of a TOML basic string: backslashes (Windows) and quotes
/// escaped.
fn toml_path(path: &str) -> String {
    path.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::crate_name;

    #[test]
    fn a_function_name_cargo_refuses_gets_a_package_name_it_takes() {
        assert_eq!(crate_name("greeter"), "greeter");
        assert_eq!(crate_name("order-totals_2"), "order-totals_2");
        assert_eq!(crate_name("1st"), "fn-1st");
        assert_eq!(crate_name("test"), "fn-test");
        assert_eq!(crate_name("std"), "fn-std");
    }
}
