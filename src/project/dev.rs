//! `eddy dev [DIR]`: makes the server match the project as `eddy apply` does (its
//! tables, functions, triggers and schedules), then watches its sources (polling
//! modification times every [`DEV_POLL_MS`]), rebuilds and redeploys a function whose
//! sources changed and then stood still for one poll, and prints the functions' new log lines and trigger errors, until
//! Ctrl-C. A failed build is printed and the served version keeps serving; the next
//! save tries again.
//!
//! Owns the watch loop. Must not know how a build or a deploy is done, nor how log
//! lines are rendered (`crate::remote::Follower`).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use hyper::Method;
use serde_json::{Value, json};

use super::apply;
use super::build;
use super::client::{Client, encode};
use super::deploy;
use super::manifest::{Function, Project};
use crate::remote::Follower;

/// Pause between two looks at the sources and the logs.
pub const DEV_POLL_MS: u64 = 500;

/// Runs until the process is interrupted; returns only on an error that makes
/// watching pointless (the server cannot be reached).
pub fn dev(client: &Client, project: &Project) -> Result<(), String> {
    if project.manifest.functions.is_empty() {
        return Err(format!(
            "{} has no [[function]] to run",
            project.file.display()
        ));
    }
    let mut project = project.clone();
    // The lines already there are noted first, so only what this session causes shows.
    let mut followers: HashMap<String, Follower> = HashMap::new();
    for function in &project.manifest.functions {
        let follower = followers.entry(function.name.clone()).or_default();
        poll_logs(client, function, follower)?;
    }
    // The manifest's tables first, so that its triggers have something to watch; a
    // table that exists with other keys ends `dev` as it ends `apply`.
    apply::apply_tables(client, &project)?;
    let mut seen: HashMap<String, Option<SystemTime>> = HashMap::new();
    for function in &project.manifest.functions {
        seen.insert(
            function.name.clone(),
            build::sources_mtime(&project, function),
        );
        let first = deploy::build_if_stale(&project, function).and_then(|()| {
            if deploy::is_current(client, &project, function)? {
                eprintln!("eddy: {} is deployed and current", function.name);
                return Ok(None);
            }
            deploy::deploy(client, &project, function).map(Some)
        });
        report(function, first.transpose());
    }
    // Then its triggers and schedules, so that a write fires the function at once. One
    // that cannot be made yet (its function did not build) is said and left to `apply`.
    if let Err(e) = apply::apply_attachments(client, &project) {
        eprintln!("eddy: {e}");
    }
    eprintln!(
        "eddy: watching {} for changes (Ctrl-C to stop)",
        project.dir.display()
    );
    let mut manifest_mtime = modified(&project.file);
    // Sources seen changed at the last poll, by function: built when still so.
    let mut pending: HashMap<String, Option<SystemTime>> = HashMap::new();
    loop {
        std::thread::sleep(Duration::from_millis(DEV_POLL_MS));
        // An edited manifest is read again, so changed grants or a new function are
        // deployed with what it now says; one that does not parse keeps the last.
        let now = modified(&project.file);
        if now != manifest_mtime {
            manifest_mtime = now;
            match Project::load(&project.file) {
                Ok(reloaded) if !reloaded.manifest.functions.is_empty() => {
                    eprintln!("eddy: read {} again", project.file.display());
                    project = reloaded;
                }
                Ok(_) => eprintln!(
                    "eddy: {} has no [[function]] now; still running the previous manifest",
                    project.file.display()
                ),
                Err(e) => eprintln!(
                    "eddy: {e}\neddy: still running the previous manifest; save again to retry"
                ),
            }
        }
        let prefixed = project.manifest.functions.len() > 1;
        for function in &project.manifest.functions {
            let now = build::sources_mtime(&project, function);
            let changed = seen.get(&function.name).copied().flatten() != now;
            // A change is built once the sources have stood still for one poll: a save
            // caught half-written (truncated, then written) is not built and deployed.
            let settled = pending.get(&function.name) == Some(&now);
            if changed && settled {
                pending.remove(&function.name);
                seen.insert(function.name.clone(), now);
                let next = build::build(&project, function)
                    .and_then(|_| deploy::deploy(client, &project, function));
                report(function, Some(next));
            } else if changed {
                pending.insert(function.name.clone(), now);
            }
            let follower = followers.entry(function.name.clone()).or_default();
            for line in poll_logs(client, function, follower)? {
                if prefixed {
                    println!("{}: {line}", function.name);
                } else {
                    println!("{line}");
                }
            }
        }
    }
}

fn modified(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn report(function: &Function, outcome: Option<Result<u32, String>>) {
    match outcome {
        None => {}
        Some(Ok(version)) => eprintln!("eddy: deployed {} version {version}", function.name),
        Some(Err(e)) => eprintln!(
            "eddy: {e}\neddy: {} keeps serving its previous version; save again to retry",
            function.name
        ),
    }
}

/// The new lines of `function`'s logs and trigger errors; a function not deployed yet
/// has none.
fn poll_logs(
    client: &Client,
    function: &Function,
    follower: &mut Follower,
) -> Result<Vec<String>, String> {
    let name = encode(&function.name);
    let logs = client.v1_json(
        Method::GET,
        &format!("/v1/functions/{name}/logs"),
        &Value::Null,
    )?;
    let logs = if logs.ok() {
        logs.body
    } else {
        json!({ "logs": [] })
    };
    let triggers = client.v1_json(
        Method::GET,
        &format!("/v1/triggers?FunctionName={name}"),
        &Value::Null,
    )?;
    let triggers = if triggers.ok() {
        triggers.body
    } else {
        json!({})
    };
    Ok(follower.new_lines(&logs, &triggers))
}
