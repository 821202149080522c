//! The SDKs, toolchain scripts and templates embedded in the binary (by `build.rs`),
//! and the directory they are read from: `EDDY_SDK_DIR` when set (tests point it at
//! the repository's `functions/`), else a copy written on first use to
//! `~/.cache/eddy/sdk/<version>-<content hash>/`, atomically (a temporary sibling
//! renamed into place), so concurrent first uses and a killed one never leave half a
//! copy. Also where toolchains are cached (`EDDY_TOOLCHAIN_DIR`).
//!
//! Owns the embedded table and the cache layout. Must not know what the files mean.

use std::path::{Path, PathBuf};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_sdk.rs"));
}

/// The environment variable naming an SDK directory laid out like `functions/`.
pub const SDK_DIR_ENV: &str = "EDDY_SDK_DIR";
/// The environment variable naming the root of the toolchain cache.
pub const TOOLCHAIN_DIR_ENV: &str = "EDDY_TOOLCHAIN_DIR";

/// The embedded files: (path relative to `functions/`, bytes).
pub fn files() -> &'static [(&'static str, &'static [u8])] {
    embedded::FILES
}

/// The embedded file at `path` (relative to `functions/`).
pub fn file(path: &str) -> Option<&'static [u8]> {
    files().iter().find(|(p, _)| *p == path).map(|(_, b)| *b)
}

/// The user's cache directory: `$XDG_CACHE_HOME`, else `~/.cache`.
fn cache_root() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .map(|home| PathBuf::from(home).join(".cache"))
        .ok_or_else(|| {
            "neither XDG_CACHE_HOME nor HOME is set: cannot choose a cache directory".to_owned()
        })
}

/// The toolchain cache: `EDDY_TOOLCHAIN_DIR`, else `<cache>/eddy/toolchains`.
pub fn toolchain_dir() -> Result<PathBuf, String> {
    match std::env::var_os(TOOLCHAIN_DIR_ENV).filter(|d| !d.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => Ok(cache_root()?.join("eddy").join("toolchains")),
    }
}

/// The SDK directory: `EDDY_SDK_DIR`, else the embedded copy, written out if missing.
pub fn sdk_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os(SDK_DIR_ENV).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        // An absolute path, since builds run in other directories.
        return std::path::absolute(&dir)
            .map_err(|e| format!("{SDK_DIR_ENV}={}: {e}", dir.display()));
    }
    let name = format!("{}-{}", env!("CARGO_PKG_VERSION"), embedded::CONTENT_HASH);
    let parent = cache_root()?.join("eddy").join("sdk");
    materialize(&parent, &name)
}

/// Writes the embedded files to `parent/name` unless that exists already: into a
/// temporary sibling first, renamed into place, so the directory is whole or absent.
fn materialize(parent: &Path, name: &str) -> Result<PathBuf, String> {
    let target = parent.join(name);
    if target.is_dir() {
        return Ok(target);
    }
    std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    let temp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&temp);
    let written = write_all(&temp);
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&temp);
        return Err(e);
    }
    match std::fs::rename(&temp, &target) {
        Ok(()) => Ok(target),
        // Another eddy wrote the same content first: its copy is as good as ours.
        Err(_) if target.is_dir() => {
            let _ = std::fs::remove_dir_all(&temp);
            Ok(target)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&temp);
            Err(format!("{}: {e}", target.display()))
        }
    }
}

fn write_all(dir: &Path) -> Result<(), String> {
    for (path, bytes) in files() {
        let out = dir.join(path);
        if let Some(p) = out.parent() {
            std::fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        std::fs::write(&out, bytes).map_err(|e| format!("{}: {e}", out.display()))?;
        if path.ends_with(".sh") {
            make_executable(&out)?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wit_the_sdk_and_the_rust_template_are_embedded_standalone() {
        assert!(file("wit/function.wit").is_some());
        assert!(file("sdk/src/lib.rs").is_some());
        assert!(file("templates/rust/eddy.toml").is_some());
        let manifest = std::str::from_utf8(file("sdk/Cargo.toml").unwrap()).unwrap();
        assert!(!manifest.contains("workspace = true"), "{manifest}");
        assert!(manifest.contains("wit-bindgen = {"), "{manifest}");
        assert!(manifest.contains("edition = \"2024\""), "{manifest}");
        assert!(!files().iter().any(|(p, _)| p.contains("/target/")));
    }

    #[test]
    fn a_copy_is_written_once_and_whole() {
        let dir = tempfile::tempdir().unwrap();
        let first = materialize(dir.path(), "v-1").unwrap();
        assert!(first.join("wit/function.wit").is_file());
        assert!(first.join("sdk/Cargo.toml").is_file());
        // A second use finds it and writes nothing (no temporary left either).
        let second = materialize(dir.path(), "v-1").unwrap();
        assert_eq!(first, second);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("v-1")]);
    }
}
