//! The lines a starting server prints: where it listens, its routes (`/` for DynamoDB
//! and Streams, `/v1`, `/metrics`, `/health`) and what it loaded from its data
//! directory (functions, triggers, schedules), so that whoever started it sees at once
//! what it serves.
//!
//! Owns only the wording. The first line (`Eddy is listening on <url>`) is read by
//! scripts and tests to learn the address; it must keep its shape.

use crate::console;
use crate::state::AppState;

/// How many names a line lists before it gives only the count of the rest: a server
/// with a handful of functions shows them all, one with hundreds stays one line.
pub const NAMES_SHOWN_MAX: usize = 5;

/// Prints the start-up lines of a server listening on `url` (`scheme://addr`).
pub fn print(state: &AppState, url: &str, tls: bool) {
    let open = crate::auth::verifying().is_none();
    let credentials = if open {
        "any region and credentials"
    } else {
        "requests must be signed with one of this Eddy's access keys: --auth sigv4"
    };
    let lines = [
        format!("Eddy is listening on {url}"),
        format!(
            "  DynamoDB and Streams: aws dynamodb list-tables --endpoint-url {url}   ({credentials})"
        ),
        format!(
            "  functions, triggers, schedules: {url}/v1   (eddy function list --endpoint {url}, \
             or EDDY_ENDPOINT={url})"
        ),
        format!("  metrics: {url}/metrics   health: {url}/health"),
        format!("  loaded {}", loaded(state)),
    ];
    for line in lines {
        let _ = console::out(&line);
    }
    if tls {
        let _ = console::out(
            "  a self-signed certificate is trusted by pointing AWS_CA_BUNDLE (aws CLI, boto3) \
             or NODE_EXTRA_CA_CERTS (JavaScript) at it",
        );
    }
}

/// "2 functions (a, b), 1 trigger (a on t) and no schedules".
fn loaded(state: &AppState) -> String {
    let platform = &state.platform;
    let functions: Vec<String> = platform
        .functions
        .list()
        .iter()
        .map(|f| f.name().to_owned())
        .collect();
    let triggers: Vec<String> = platform
        .triggers
        .list()
        .iter()
        .map(|t| format!("{} on {}", t.function_name, table_of(&t.event_source_arn)))
        .collect();
    let schedules: Vec<String> = platform
        .schedules
        .list()
        .into_iter()
        .map(|s| s.name)
        .collect();
    // Sorted, so that the line reads the same at every start whatever order the stores
    // keep.
    let (mut functions, mut triggers, mut schedules) = (functions, triggers, schedules);
    functions.sort();
    triggers.sort();
    schedules.sort();
    format!(
        "{}, {} and {}",
        counted(&functions, "function", "functions"),
        counted(&triggers, "trigger", "triggers"),
        counted(&schedules, "schedule", "schedules")
    )
}

/// The table of a stream ARN (`…:table/T/stream/…`), or the ARN itself.
fn table_of(arn: &str) -> &str {
    arn.split_once(":table/")
        .map_or(arn, |(_, rest)| rest.split('/').next().unwrap_or(rest))
}

/// "no functions", "1 function (a)", "7 functions (a, b, c, d, e, and 2 more)".
fn counted(names: &[String], one: &str, many: &str) -> String {
    match names.len() {
        0 => format!("no {many}"),
        n => {
            let noun = if n == 1 { one } else { many };
            let mut shown = names[..n.min(NAMES_SHOWN_MAX)].join(", ");
            if n > NAMES_SHOWN_MAX {
                shown.push_str(&format!(", and {} more", n - NAMES_SHOWN_MAX));
            }
            format!("{n} {noun} ({shown})")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_names_are_listed_and_many_are_counted() {
        let names = |n: usize| (0..n).map(|i| format!("f{i}")).collect::<Vec<_>>();
        assert_eq!(counted(&names(0), "function", "functions"), "no functions");
        assert_eq!(
            counted(&names(1), "function", "functions"),
            "1 function (f0)"
        );
        assert_eq!(
            counted(&names(NAMES_SHOWN_MAX), "trigger", "triggers"),
            "5 triggers (f0, f1, f2, f3, f4)"
        );
        assert_eq!(
            counted(&names(7), "function", "functions"),
            "7 functions (f0, f1, f2, f3, f4, and 2 more)"
        );
    }

    #[test]
    fn a_stream_arn_names_its_table() {
        assert_eq!(
            table_of("arn:aws:dynamodb:us-east-1:000000000000:table/users/stream/2026-01-01"),
            "users"
        );
        assert_eq!(table_of("something"), "something");
    }
}
