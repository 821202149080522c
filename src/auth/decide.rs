//! Deciding whether a verified principal may do what a request does: the user's
//! policies evaluated on each action and resource, and DynamoDB's
//! `AccessDeniedException` naming the user, the action and the resource when one is
//! refused. An administrator's key is allowed everything without evaluation.
//!
//! Owns the principal (user name, unique id, ARN), the resource ARNs and the denial's
//! message. Must not know how a request states its accesses (`dynamodb::access`) or
//! how a signature is checked.

use std::net::IpAddr;
use std::sync::Arc;

use super::keys::Key;
use super::policy::{self, Decision, Policy, Principal};
use super::users::{User, Users};
use crate::dynamodb::access::{Access, table_name};

/// Who asks, with the policies that apply.
pub struct Subject {
    pub principal: Principal,
    /// The user's record (its policies are evaluated where they are, not copied).
    user: Option<Arc<User>>,
    /// Policies of their own (a function's role).
    policies: Vec<Policy>,
    admin: bool,
}

impl Subject {
    /// The subject of a verified key: its user's policies (none for a user without
    /// a record, who may then do nothing), or everything for an administrator.
    pub fn of(key: &Key, users: &Users, account: &str, source_ip: Option<IpAddr>) -> Subject {
        let user = users.get(&key.user);
        Subject {
            principal: Principal {
                user: key.user.clone(),
                user_id: user.as_ref().map(|u| u.user_id.clone()).unwrap_or_default(),
                arn: format!("arn:aws:iam::{account}:user/{}", key.user),
                source_ip,
            },
            user,
            policies: Vec::new(),
            admin: key.admin,
        }
    }

    /// A function's role: every DynamoDB action on the tables its deployment was
    /// granted (and their indexes and streams), nothing else; its principal is the
    /// role's session, as Lambda's functions are (`assumed-role/<role>/<function>`).
    pub fn function_role<'t>(
        function: &str,
        tables: impl Iterator<Item = &'t str>,
        account: &str,
    ) -> Subject {
        let resources: Vec<String> = tables
            .flat_map(|t| {
                [
                    format!("arn:aws:dynamodb:*:{account}:table/{t}"),
                    format!("arn:aws:dynamodb:*:{account}:table/{t}/*"),
                ]
            })
            .collect();
        let policies = if resources.is_empty() {
            Vec::new()
        } else {
            vec![Policy::allow(vec!["dynamodb:*".to_owned()], resources)]
        };
        Subject {
            user: None,
            principal: Principal {
                user: function.to_owned(),
                user_id: format!("eddy-function-{function}:{function}"),
                arn: format!(
                    "arn:aws:sts::{account}:assumed-role/eddy-function-{function}/{function}"
                ),
                source_ip: None,
            },
            policies,
            admin: false,
        }
    }

    /// Whether the subject is an administrator (allowed everything).
    pub fn is_admin(&self) -> bool {
        self.admin
    }

    /// Allows one action (`service:Action`) on one resource ARN, or says why not.
    pub fn allow(
        &self,
        action: &str,
        resource: &str,
        keys: &[(&str, Vec<String>)],
    ) -> Result<(), Denial> {
        if self.admin {
            return Ok(());
        }
        let request = policy::Request {
            action,
            resource,
            keys,
        };
        let user = self
            .user
            .iter()
            .flat_map(|u| u.policies.values().map(|(_, p)| p));
        match policy::evaluate(self.policies.iter().chain(user), &self.principal, &request) {
            Decision::Allow => Ok(()),
            decision => Err(Denial {
                message: denial_message(&self.principal.arn, action, resource, decision),
                action: action.to_owned(),
                resource: resource.to_owned(),
            }),
        }
    }

    /// Allows every access of a DynamoDB request, or names the first refused.
    pub(crate) fn allow_dynamodb(
        &self,
        accesses: &[Access],
        region: &str,
        account: &str,
    ) -> Result<(), Denial> {
        for a in accesses {
            let resource = dynamodb_resource(a, region, account);
            let action = format!("dynamodb:{}", a.action);
            self.allow(&action, &resource, &a.keys)?;
        }
        Ok(())
    }
}

/// A refused request: DynamoDB's message, and what was refused (for the audit log).
#[derive(Debug, Clone)]
pub struct Denial {
    pub message: String,
    pub action: String,
    pub resource: String,
}

/// The ARN an access is authorized on: the table's, the index's
/// (`…:table/T/index/I`), or `*` for an action on no table.
pub(crate) fn dynamodb_resource(a: &Access, region: &str, account: &str) -> String {
    let Some(table) = &a.table else {
        return "*".to_owned();
    };
    let mut arn = format!(
        "arn:aws:dynamodb:{region}:{account}:table/{}",
        table_name(table)
    );
    if let Some(index) = &a.index {
        arn.push_str("/index/");
        arn.push_str(index);
    }
    arn
}

/// IAM's wording (as AWS answers it, recorded in many public bug reports): the
/// principal, the action, the resource, and whether no policy allowed it or one
/// denied it.
fn denial_message(principal: &str, action: &str, resource: &str, decision: Decision) -> String {
    let why = if decision == Decision::ExplicitDeny {
        "with an explicit deny in an identity-based policy".to_owned()
    } else {
        format!("because no identity-based policy allows the {action} action")
    };
    format!(
        "User: {principal} is not authorized to perform: {action} on resource: {resource} {why}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(action: &str, table: Option<&str>, index: Option<&str>) -> Access {
        Access::new(action, table).on_index(index)
    }

    #[test]
    fn a_function_role_allows_its_tables_only() {
        let role = Subject::function_role("mailer", ["users", "audit"].into_iter(), "000000000000");
        let allowed = |a: &[Access]| role.allow_dynamodb(a, "us-east-1", "000000000000");
        assert!(allowed(&[access("PutItem", Some("users"), None)]).is_ok());
        assert!(allowed(&[access("Query", Some("users"), Some("by_email"))]).is_ok());
        assert!(
            allowed(&[access(
                "GetItem",
                Some("arn:aws:dynamodb:us-east-1:000000000000:table/audit"),
                None
            )])
            .is_ok()
        );
        assert!(
            allowed(&[
                access("BatchGetItem", Some("users"), None),
                access("BatchGetItem", Some("other"), None)
            ])
            .is_err()
        );
        // A request on no table (ListTables) is on `*`, which no table grant covers.
        let denied = allowed(&[access("ListTables", None, None)]).unwrap_err();
        assert_eq!(denied.resource, "*");
        let denied = allowed(&[access("PutItem", Some("secret"), None)]).unwrap_err();
        assert_eq!(
            denied.message,
            "User: arn:aws:sts::000000000000:assumed-role/eddy-function-mailer/mailer is not \
             authorized to perform: dynamodb:PutItem on resource: \
             arn:aws:dynamodb:us-east-1:000000000000:table/secret because no identity-based \
             policy allows the dynamodb:PutItem action"
        );
        // A function granted nothing may do nothing.
        let none = Subject::function_role("f", std::iter::empty(), "000000000000");
        assert!(
            none.allow_dynamodb(
                &[access("GetItem", Some("users"), None)],
                "us-east-1",
                "000000000000"
            )
            .is_err()
        );
    }
}
