//! `eddy function build [DIR]`: builds each `[[function]]` of a manifest into
//! `target/eddy/<name>.wasm`. Rust runs `cargo build --release --target wasm32-wasip2`
//! in the function's directory; Python and JavaScript run the SDK's
//! `<lang>/build.sh DIR HANDLER OUT` with `EDDY_SDK_DIR` and `EDDY_TOOLCHAIN_DIR` set.
//! The component is written to a temporary name and renamed, so a failed or killed
//! build leaves the previous component in place.
//!
//! Owns choosing the builder and knowing whether a build is stale. Must not know the
//! server.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use super::manifest::{Function, Lang, Project};
use super::sdk;

/// Directory names a project's sources never live in (build output, dependencies,
/// caches): their changes neither make a build stale nor wake `eddy dev`.
pub const IGNORED_DIRS: [&str; 5] = ["target", "node_modules", "__pycache__", ".git", ".venv"];

/// File names that are not sources though they live beside them: cargo rewrites
/// `Cargo.lock` during a build (the template's lock is pruned to what the project uses
/// on its first one), which must not count as a change to build again.
pub const IGNORED_FILES: [&str; 1] = ["Cargo.lock"];

/// Files looked at when deciding whether a function's sources changed: a bound on the
/// walk of a project that holds more than sources.
pub const SOURCE_FILES_MAX: usize = 10_000;

/// Builds `function` into [`Project::wasm_path`]; the builder's messages go to stderr.
pub fn build(project: &Project, function: &Function) -> Result<PathBuf, String> {
    let dir = project.function_dir(function);
    if !dir.is_dir() {
        return Err(format!(
            "function {}: its directory {} does not exist",
            function.name,
            dir.display()
        ));
    }
    let out = project.wasm_path(function);
    let out_dir = out.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let temp = out.with_extension(format!("wasm.tmp-{}", std::process::id()));
    eprintln!(
        "eddy: building {} ({}) in {}",
        function.name,
        function.lang.as_str(),
        dir.display()
    );
    let built = match function.lang {
        Lang::Rust => build_rust(&dir).and_then(|wasm| {
            std::fs::copy(&wasm, &temp)
                .map(|_| ())
                .map_err(|e| format!("{}: {e}", wasm.display()))
        }),
        Lang::Python | Lang::Js => build_script(function, &dir, &temp),
    };
    if let Err(e) = built {
        let _ = std::fs::remove_file(&temp);
        return Err(format!("function {}: {e}", function.name));
    }
    std::fs::rename(&temp, &out).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(out)
}

/// `cargo build --release --target wasm32-wasip2`, reading the artifact's path from
/// cargo's JSON messages (so `CARGO_TARGET_DIR` and the crate's name need no guessing).
fn build_rust(dir: &Path) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo ({e}): is Rust installed (https://rustup.rs)?"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo build failed ({}); its messages are above. The target is added once with \
             `rustup target add wasm32-wasip2`",
            output.status
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut wasm = None;
    for line in stdout.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let is_cdylib = message["target"]["kind"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k == "cdylib"));
        if !is_cdylib {
            continue;
        }
        if let Some(files) = message["filenames"].as_array() {
            wasm = files
                .iter()
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(".wasm"))
                .map(PathBuf::from)
                .or(wasm);
        }
    }
    wasm.ok_or_else(|| {
        "cargo built no .wasm: the crate needs `[lib] crate-type = [\"cdylib\"]`".to_owned()
    })
}

/// `bash $EDDY_SDK_DIR/<lang>/build.sh DIR HANDLER OUT`.
fn build_script(function: &Function, dir: &Path, out: &Path) -> Result<(), String> {
    let sdk_dir = sdk::sdk_dir()?;
    let toolchains = sdk::toolchain_dir()?;
    let script = sdk_dir.join(function.lang.as_str()).join("build.sh");
    if !script.is_file() {
        return Err(format!(
            "no {} build script at {}: this eddy (or {}) has no {} toolchain",
            function.lang.as_str(),
            script.display(),
            sdk::SDK_DIR_ENV,
            function.lang.as_str()
        ));
    }
    let handler = function.handler.as_deref().unwrap_or_default();
    let dir = std::path::absolute(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let out = std::path::absolute(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let status = Command::new("bash")
        .arg(&script)
        .arg(&dir)
        .arg(handler)
        .arg(&out)
        .env(sdk::SDK_DIR_ENV, &sdk_dir)
        .env(sdk::TOOLCHAIN_DIR_ENV, &toolchains)
        .stdin(Stdio::null())
        // The script's stdout (the toolchain directory, progress) is not this command's
        // output: both go to stderr, where build messages belong.
        .stdout(std::io::stderr())
        .stderr(Stdio::inherit())
        .status()
        .map_err(|e| format!("cannot run bash: {e}"))?;
    if !status.success() {
        return Err(format!(
            "{} failed ({status}); its messages are above",
            script.display()
        ));
    }
    if !out.is_file() {
        return Err(format!("{} wrote no {}", script.display(), out.display()));
    }
    Ok(())
}

/// The newest modification time of the function's sources (its directory, without
/// [`IGNORED_DIRS`]) and of the manifest.
pub fn sources_mtime(project: &Project, function: &Function) -> Option<SystemTime> {
    let mut newest = std::fs::metadata(&project.file)
        .and_then(|m| m.modified())
        .ok();
    let mut seen = 0usize;
    newest_under(&project.function_dir(function), &mut newest, &mut seen);
    newest
}

fn newest_under(dir: &Path, newest: &mut Option<SystemTime>, seen: &mut usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if *seen >= SOURCE_FILES_MAX {
            return;
        }
        *seen += 1;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            if !IGNORED_DIRS.contains(&name.as_ref()) {
                newest_under(&entry.path(), newest, seen);
            }
        } else if !IGNORED_FILES.contains(&name.as_ref())
            && let Ok(modified) = meta.modified()
            && newest.is_none_or(|n| modified > n)
        {
            *newest = Some(modified);
        }
    }
}

/// Whether `function` needs a build: no component yet, or a source newer than it.
pub fn is_stale(project: &Project, function: &Function) -> bool {
    let built = std::fs::metadata(project.wasm_path(function)).and_then(|m| m.modified());
    match (built, sources_mtime(project, function)) {
        (Err(_), _) => true,
        (Ok(built), Some(sources)) => sources > built,
        (Ok(_), None) => false,
    }
}
