//! `cedargate diff`: what changed in the API since its policy folder was generated, from the
//! folder's schema and routes against the current OpenAPI document.

use crate::folder::{self, DeclaredAction};
use crate::openapi::Api;
use cedargate::BundleSource;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr as _;

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An operation of the API the schema does not declare.
    Added(String),
    /// An action of the schema (named like an operation) the API no longer has.
    Removed(String),
    /// Declared on both sides, with other query parameters.
    Query {
        action: String,
        added: Vec<String>,
        removed: Vec<String>,
    },
    /// Declared on both sides, but no route reaches it.
    NoRoute(String),
    /// The document's scope or permission requirement for an operation and the folder's
    /// policy for it (as `init` writes it) disagree.
    Requirement { action: String, detail: String },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Added(a) => write!(f, "+ {a}"),
            Self::Removed(a) => write!(f, "- {a}"),
            Self::Query {
                action,
                added,
                removed,
            } => {
                let mut parts: Vec<String> = added.iter().map(|q| format!("+{q}")).collect();
                parts.extend(removed.iter().map(|q| format!("-{q}")));
                write!(f, "~ {action}: query parameters {}", parts.join(" "))
            }
            Self::NoRoute(a) => write!(f, "~ {a}: declared, but routes.json has no route to it"),
            Self::Requirement { action, detail } => write!(f, "~ {action}: {detail}"),
        }
    }
}

/// Whether an action id is named like an operation (`<method> /...`).
fn is_operation(id: &str) -> bool {
    id.split_once(' ').is_some_and(|(m, p)| {
        !m.is_empty() && m.bytes().all(|b| b.is_ascii_lowercase()) && p.starts_with('/')
    })
}

/// The differences, sorted by action.
pub fn diff(api: &Api, source: &BundleSource) -> Result<Vec<Change>, String> {
    let (namespace, routes) = folder::routes(&source.routes);
    let declared: BTreeMap<String, DeclaredAction> =
        folder::declared_actions(&folder::schema_json(&source.schema)?, &namespace);
    let mut changes = Vec::new();
    let mut seen = Vec::new();
    for op in &api.operations {
        let action = op.action();
        seen.push(action.clone());
        match declared.get(&action) {
            None => changes.push(Change::Added(action)),
            Some(d) => {
                let added: Vec<String> = op
                    .query_parameters
                    .iter()
                    .filter(|q| !d.query_parameters.contains(q))
                    .cloned()
                    .collect();
                let removed: Vec<String> = d
                    .query_parameters
                    .iter()
                    .filter(|q| !op.query_parameters.contains(q))
                    .cloned()
                    .collect();
                if !added.is_empty() || !removed.is_empty() {
                    changes.push(Change::Query {
                        action: action.clone(),
                        added,
                        removed,
                    });
                }
                if !routes.iter().any(|r| r.action == action) {
                    changes.push(Change::NoRoute(action));
                }
            }
        }
    }
    for id in declared.keys() {
        if is_operation(id) && !seen.contains(id) {
            changes.push(Change::Removed(id.clone()));
        }
    }
    changes.extend(requirement_changes(api, &namespace, &source.policies)?);
    let key = |c: &Change| match c {
        Change::Added(a) | Change::Removed(a) | Change::NoRoute(a) => a.clone(),
        Change::Query { action, .. } | Change::Requirement { action, .. } => action.clone(),
    };
    changes.sort_by_key(key);
    Ok(changes)
}

/// The document's scope and permission requirements and public operations against the
/// folder's policies with the ids `init` gives them (`requires-scopes-<action>`,
/// `requires-permissions-<action>`, `public-<action>`): a
/// requirement without its policy, a policy that says something else (compared as Cedar's
/// JSON form, so formatting and comments do not count), and such a policy for a requirement
/// the document no longer states.
fn requirement_changes(api: &Api, namespace: &str, policies: &str) -> Result<Vec<Change>, String> {
    let set =
        cedar_policy::PolicySet::from_str(policies).map_err(|e| format!("policies.cedar: {e}"))?;
    let by_id: BTreeMap<String, serde_json::Value> = set
        .policies()
        .filter_map(|p| {
            let id = p.annotation("id")?.to_owned();
            Some((id, p.to_json().ok()?))
        })
        .collect();
    let wanted = crate::generate::requirements(api, namespace);
    let mut changes = Vec::new();
    for r in &wanted {
        let detail = match by_id.get(&r.id) {
            None => format!(
                "the document requires {}; policies.cedar has no {}",
                r.what, r.id
            ),
            Some(have) => {
                let want = cedar_policy::PolicySet::from_str(&r.text)
                    .ok()
                    .and_then(|s| s.policies().next().and_then(|p| p.to_json().ok()));
                if want.as_ref() == Some(have) {
                    continue;
                }
                format!("the document requires {}; {} says otherwise", r.what, r.id)
            }
        };
        changes.push(Change::Requirement {
            action: r.action.clone(),
            detail,
        });
    }
    for id in by_id.keys() {
        let action = ["requires-scopes-", "requires-permissions-", "public-"]
            .iter()
            .find_map(|prefix| id.strip_prefix(prefix));
        if action.is_some() && !wanted.iter().any(|r| &r.id == id) {
            let action = api
                .operations
                .iter()
                .map(|op| op.action())
                .find(|a| action == Some(crate::generate::slug(a).as_str()))
                .unwrap_or_else(|| id.clone());
            changes.push(Change::Requirement {
                action,
                detail: if id.starts_with("public-") {
                    format!("{id} makes public what the document no longer does")
                } else {
                    format!("{id} requires what the document no longer does")
                },
            });
        }
    }
    Ok(changes)
}
