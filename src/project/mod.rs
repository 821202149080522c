//! The handler writer's loop: a project directory with an `eddy.toml` manifest, and
//! the commands over it: `eddy function new`, `eddy function build [DIR]`,
//! `eddy function deploy [DIR]`, `eddy dev [DIR]` and `eddy apply [FILE]`.
//!
//! Layout: `manifest.rs` (the file format), `sdk.rs` (the embedded SDKs, scripts and
//! templates, and the cache they are written to), `new.rs` (templates), `build.rs`
//! (builders), `deploy.rs` (deploying and the deploy record), `apply.rs` (making a
//! server match the manifest), `dev.rs` (the watch loop), `client.rs` (requests).
//! Must not know how the server runs functions: everything goes through its APIs.

mod apply;
mod build;
mod client;
mod deploy;
mod dev;
mod manifest;
mod new;
mod sdk;
mod tables;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::remote::{EXIT_REQUEST_FAILED, Endpoint, ProjectCommand};
pub use manifest::MANIFEST_FILE;
pub use sdk::{SDK_DIR_ENV, TOOLCHAIN_DIR_ENV};

/// `eddy dev [DIR]`
#[derive(Debug, Args)]
pub struct DevArgs {
    #[command(flatten)]
    endpoint: Endpoint,
    /// The project directory (holding eddy.toml); default the current one.
    dir: Option<PathBuf>,
}

/// `eddy apply [FILE]`
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    endpoint: Endpoint,
    /// The manifest, or a directory holding eddy.toml; default ./eddy.toml.
    file: Option<PathBuf>,
}

fn outcome(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::console::err(&format!("eddy: {e}"));
            ExitCode::from(EXIT_REQUEST_FAILED)
        }
    }
}

fn load(dir: Option<&Path>) -> Result<manifest::Project, String> {
    manifest::Project::load(dir.unwrap_or(Path::new(".")))
}

/// Runs `eddy function new|build|deploy [DIR]`.
pub fn function(command: ProjectCommand) -> ExitCode {
    match command {
        ProjectCommand::New { name, lang, dir } => function_new(&name, &lang, dir.as_deref()),
        ProjectCommand::Build { dir } => function_build(dir.as_deref()),
        ProjectCommand::Deploy { endpoint, dir } => function_deploy(&endpoint, dir.as_deref()),
        ProjectCommand::Refused(message) => outcome(Err(message)),
    }
}

/// `eddy function new NAME --lang L [--dir DIR]`.
fn function_new(name: &str, lang: &str, dir: Option<&Path>) -> ExitCode {
    outcome(new::new(name, lang, dir).map(|next| println!("{next}")))
}

/// `eddy function build [DIR]`.
fn function_build(dir: Option<&Path>) -> ExitCode {
    outcome(load(dir).and_then(|project| {
        if project.manifest.functions.is_empty() {
            return Err(format!(
                "{} has no [[function]] to build",
                project.file.display()
            ));
        }
        for function in &project.manifest.functions {
            let out = build::build(&project, function)?;
            println!("eddy: built {} into {}", function.name, out.display());
        }
        Ok(())
    }))
}

/// `eddy function deploy [DIR]`.
fn function_deploy(endpoint: &Endpoint, dir: Option<&Path>) -> ExitCode {
    outcome(load(dir).and_then(|project| {
        let client = client::Client::new(endpoint.clone())?;
        deploy::deploy_all(&client, &project)
    }))
}

/// `eddy apply [FILE]`.
pub fn apply(args: ApplyArgs) -> ExitCode {
    outcome(load(args.file.as_deref()).and_then(|project| {
        let client = client::Client::new(args.endpoint)?;
        apply::apply(&client, &project)
    }))
}

/// `eddy dev [DIR]`.
pub fn dev(args: DevArgs) -> ExitCode {
    outcome(load(args.dir.as_deref()).and_then(|project| {
        let client = client::Client::new(args.endpoint)?;
        dev::dev(&client, &project)
    }))
}
