//! `eddy key …` and `eddy user …`: the access keys, users and policies of a running
//! server, through `/v1/iam` (an administrator's key signs them).
//!
//! Owns these commands' arguments and the requests they make. Must not know how the
//! server stores or checks them.

use clap::{Args, Subcommand};
use hyper::Method;
use serde_json::{Map, Value, json};

use super::{ApiRequest, Endpoint, encode, read_source, run};

/// `eddy key …`
#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(flatten)]
    endpoint: Endpoint,
    #[command(subcommand)]
    command: KeyCommand,
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Create an access key; its secret is shown only in this answer.
    Create {
        /// The user the key belongs to (default `default`).
        #[arg(long)]
        user: Option<String>,
        /// Make it an administrator's key (it may deploy, change and delete functions,
        /// triggers, schedules and keys).
        #[arg(long)]
        admin: bool,
        /// Also generate a session token, which every request of the key must carry
        /// (`X-Amz-Security-Token`, `AWS_SESSION_TOKEN`).
        #[arg(long)]
        session_token: bool,
    },
    /// List the access keys (without their secrets).
    List,
    /// Delete an access key.
    Delete { id: String },
}

pub fn key(args: KeyArgs) -> std::process::ExitCode {
    let request = match args.command {
        KeyCommand::Create {
            user,
            admin,
            session_token,
        } => {
            let mut body = Map::new();
            if let Some(user) = user {
                body.insert("User".into(), json!(user));
            }
            body.insert("Admin".into(), json!(admin));
            if session_token {
                body.insert("SessionToken".into(), json!(true));
            }
            ApiRequest::json(
                Method::POST,
                "/v1/iam/keys".into(),
                Value::Object(body).to_string().into_bytes(),
            )
        }
        KeyCommand::List => ApiRequest::get("/v1/iam/keys".into()),
        KeyCommand::Delete { id } => ApiRequest::json(
            Method::DELETE,
            format!("/v1/iam/keys/{}", encode(&id)),
            Vec::new(),
        ),
    };
    run(&args.endpoint, Ok(request))
}

/// `eddy user …`
#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(flatten)]
    endpoint: Endpoint,
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user (it may do nothing until a policy allows it).
    Create { name: String },
    /// List the users with their policies and keys.
    List,
    /// Delete a user with its policies and keys.
    Delete { name: String },
    /// Manage a user's inline policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Attach (or replace) a policy: an IAM policy document from a file (`-` for
    /// stdin), or one of the built-in documents by its AWS managed-policy name.
    Put {
        user: String,
        /// The policy's name.
        name: String,
        /// The policy document (IAM JSON).
        #[arg(long, conflicts_with = "managed", required_unless_present = "managed")]
        file: Option<String>,
        /// A built-in document: AmazonDynamoDBFullAccess or AmazonDynamoDBReadOnlyAccess.
        #[arg(long)]
        managed: Option<String>,
    },
    /// Show a policy's document.
    Get { user: String, name: String },
    /// List a user's policies.
    List { user: String },
    /// Detach a policy.
    Delete { user: String, name: String },
}

pub fn user(args: UserArgs) -> std::process::ExitCode {
    let users = "/v1/iam/users";
    let policy =
        |user: &str, name: &str| format!("{users}/{}/policies/{}", encode(user), encode(name));
    let request = match args.command {
        UserCommand::Create { name } => Ok(ApiRequest::json(
            Method::POST,
            users.into(),
            json!({ "User": name }).to_string().into_bytes(),
        )),
        UserCommand::List => Ok(ApiRequest::get(users.into())),
        UserCommand::Delete { name } => Ok(ApiRequest::json(
            Method::DELETE,
            format!("{users}/{}", encode(&name)),
            Vec::new(),
        )),
        UserCommand::Policy(PolicyCommand::Put {
            user,
            name,
            file,
            managed,
        }) => match (file, managed) {
            (Some(file), _) => read_source(&file)
                .map(|doc| ApiRequest::json(Method::PUT, policy(&user, &name), doc)),
            (None, Some(managed)) => match crate::auth::users::managed(&managed) {
                Some(doc) => Ok(ApiRequest::json(
                    Method::PUT,
                    policy(&user, &name),
                    doc.as_bytes().to_vec(),
                )),
                None => Err(format!(
                    "no built-in policy {managed}; they are {}",
                    crate::auth::users::MANAGED_POLICIES.join(", ")
                )),
            },
            (None, None) => Err("give --file or --managed".to_owned()),
        },
        UserCommand::Policy(PolicyCommand::Get { user, name }) => {
            Ok(ApiRequest::get(policy(&user, &name)))
        }
        UserCommand::Policy(PolicyCommand::List { user }) => Ok(ApiRequest::get(format!(
            "{users}/{}/policies",
            encode(&user)
        ))),
        UserCommand::Policy(PolicyCommand::Delete { user, name }) => Ok(ApiRequest::json(
            Method::DELETE,
            policy(&user, &name),
            Vec::new(),
        )),
    };
    run(&args.endpoint, request)
}
