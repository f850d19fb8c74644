//! `cedargate init`: an API's operations to a policy folder — the Cedar schema (one action
//! per operation), the route table, one policy per group, and the document's security
//! requirements (scopes, PingOne permissions) as `forbid` policies.

use crate::openapi::{Api, Operation, Security};
use std::fmt::Write as _;

/// What one group may do, from `--group NAME=SPEC`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRule {
    /// The group, or with `client` the service's client id.
    pub group: String,
    /// A rule for a service calling with client credentials (`--client`), not a group.
    pub client: bool,
    /// `all`: every action, minus `except`.
    pub all: bool,
    /// With `all`: the actions left out. Without: the only actions allowed.
    pub actions: Vec<String>,
}

/// Why a `--group` option or the generated folder is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InitError {
    #[error("--group {0}: expected NAME=SPEC, e.g. AVP_User=all,-post /pets")]
    GroupSyntax(String),
    #[error("--group {group}: {message}")]
    Group { group: String, message: String },
    #[error("--client {client}: {message}")]
    Client { client: String, message: String },
    #[error("--namespace {0}: not a Cedar identifier")]
    Namespace(String),
    #[error("two groups give policy id \"{0}\"")]
    DuplicatePolicyId(String),
    #[error("the generated folder does not load: {0}")]
    Invalid(String),
}

impl GroupRule {
    /// Parses `NAME=all`, `NAME=all,-<action>,...` or `NAME=<action>,<action>,...`, checking
    /// every action against the API.
    pub fn parse(spec: &str, api: &Api) -> Result<Self, InitError> {
        let (group, items) = spec
            .split_once('=')
            .ok_or_else(|| InitError::GroupSyntax(spec.to_owned()))?;
        let group = group.trim();
        if group.is_empty() || group.contains('"') || group.contains('\\') {
            return Err(InitError::GroupSyntax(spec.to_owned()));
        }
        let fail = |message: String| InitError::Group {
            group: group.to_owned(),
            message,
        };
        let known: Vec<String> = api.operations.iter().map(Operation::action).collect();
        let mut all = false;
        let mut actions = Vec::new();
        for (i, item) in items.split(',').map(str::trim).enumerate() {
            if item == "all" {
                if i != 0 {
                    return Err(fail("\"all\" must come first".into()));
                }
                all = true;
                continue;
            }
            let (excluded, action) = match item.strip_prefix('-') {
                Some(rest) => (true, normalize(rest)),
                None => (false, normalize(item)),
            };
            if excluded != all {
                return Err(fail(if all {
                    format!(
                        "after \"all\", list the actions to leave out as -<action>, not \"{item}\""
                    )
                } else {
                    format!("\"{item}\": -<action> only makes sense after \"all\"")
                }));
            }
            if action.is_empty() {
                return Err(fail("an empty action".into()));
            }
            if !known.contains(&action) {
                return Err(fail(format!("the API has no operation \"{action}\"")));
            }
            if actions.contains(&action) {
                return Err(fail(format!("\"{action}\" is listed twice")));
            }
            actions.push(action);
        }
        if !all && actions.is_empty() {
            return Err(fail("no action given".into()));
        }
        Ok(Self {
            group: group.to_owned(),
            client: false,
            all,
            actions,
        })
    }

    /// Parses `--client ID=SPEC` (the same SPEC as a group): what a service calling with
    /// client credentials may do. The API must have such callers (an `oauth2` scheme with a
    /// `clientCredentials` flow), so that the schema declares `Client`.
    pub fn parse_client(spec: &str, api: &Api) -> Result<Self, InitError> {
        let mut rule = Self::parse(spec, api).map_err(|e| match e {
            InitError::Group { group, message } => InitError::Client {
                client: group,
                message,
            },
            InitError::GroupSyntax(spec) => InitError::Client {
                client: spec,
                message: "expected ID=SPEC, e.g. inventory=get /pets".into(),
            },
            other => other,
        })?;
        if !api.has_service_callers() {
            return Err(InitError::Client {
                client: rule.group,
                message: "the document has no oauth2 scheme with a clientCredentials flow, so no service calls the API".into(),
            });
        }
        rule.client = true;
        Ok(rule)
    }

    /// The policy id: the group in lowercase with dashes, and what it may do.
    pub fn policy_id(&self) -> String {
        let base = if self.client {
            format!("client-{}", slug(&self.group))
        } else {
            slug(&self.group)
        };
        match (self.all, self.actions.is_empty()) {
            (true, true) => format!("{base}-all"),
            (true, false) => format!(
                "{base}-all-but-{}",
                self.actions
                    .iter()
                    .map(|a| slug(a))
                    .collect::<Vec<_>>()
                    .join("-and-")
            ),
            (false, _) => format!("{base}-listed-actions"),
        }
    }
}

/// `GET  /pets` → `get /pets`.
fn normalize(action: &str) -> String {
    match action.trim().split_once(char::is_whitespace) {
        Some((method, path)) => format!("{} {}", method.to_ascii_lowercase(), path.trim()),
        None => action.trim().to_owned(),
    }
}

/// Lowercase letters and digits, runs of anything else as one dash (policy ids).
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A Cedar string literal.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An attribute name as the schema writes it.
fn attribute(name: &str) -> String {
    if is_identifier(name) {
        name.to_owned()
    } else {
        quoted(name)
    }
}

/// The three files of a policy folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    pub schema: String,
    pub policies: String,
    pub routes: String,
}

/// Options of `init` besides the API.
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub namespace: String,
    /// The resource entity's id (default: the namespace).
    pub resource_id: String,
    pub groups: Vec<GroupRule>,
    /// The document's file name, for the header comment.
    pub source_name: String,
}

/// Writes the folder's text. The result is checked by loading it as a bundle.
pub fn generate(api: &Api, options: &InitOptions) -> Result<Folder, InitError> {
    let ns = &options.namespace;
    if !ns.split("::").all(is_identifier) {
        return Err(InitError::Namespace(ns.clone()));
    }
    let mut ids: Vec<String> = Vec::new();
    for rule in &options.groups {
        let id = rule.policy_id();
        if ids.contains(&id) {
            return Err(InitError::DuplicatePolicyId(id));
        }
        ids.push(id);
    }
    let requirements = requirements(api, &options.namespace);
    for r in &requirements {
        if ids.contains(&r.id) {
            return Err(InitError::DuplicatePolicyId(r.id.clone()));
        }
        ids.push(r.id.clone());
    }
    let mut policies = policies(options);
    for r in &requirements {
        if !policies.is_empty() {
            policies.push('\n');
        }
        policies.push_str(&r.text);
    }
    let folder = Folder {
        schema: schema(api, options),
        policies,
        routes: routes(api, options),
    };
    cedargate::Bundle::load(&cedargate::BundleSource {
        schema: folder.schema.clone(),
        policies: folder.policies.clone(),
        routes: folder.routes.clone(),
    })
    .map_err(|e| InitError::Invalid(e.to_string()))?;
    Ok(folder)
}

fn schema(api: &Api, options: &InitOptions) -> String {
    let mut s = String::new();
    let title = if api.title.is_empty() {
        options.source_name.clone()
    } else {
        format!("{} {}", api.title, api.version).trim().to_owned()
    };
    let _ = writeln!(
        s,
        "// The {title} API, generated by `cedargate init` from {}.",
        options.source_name
    );
    s.push_str("// One action per API operation, named \"<lowercase method> <path template>\".\n");
    let _ = writeln!(s, "namespace {} {{", options.namespace);
    s.push_str(
        "  // Groups come from the ID token's `group` claim.
  entity UserGroup;

  // The signed-in user: `sub` is the entity id, groups are parents.
  entity User in [UserGroup] {
    // From the access token's space-separated `scope` claim.
    scope?: Set<String>,
    // From PingOne's `p1.permissions` claim (\"resource:action\" strings).
    permissions?: Set<String>,
",
    );
    if api.has_service_callers() {
        s.push_str("    // The client the user signed in with (the token's `client_id`).\n    client?: String,\n");
    }
    s.push_str(
        "  };

  // The API itself; every request is about this one resource.
  entity Application;
",
    );
    let public = api
        .operations
        .iter()
        .any(|op| op.security == Security::Public);
    if public {
        s.push_str(
            "
  // Who calls a public operation (security: []) without a token.
  entity Anonymous;
",
        );
    }
    let principals = if api.has_service_callers() {
        s.push_str(
            "
  // A service calling with a client-credentials token: `client_id` is the entity id.
  entity Client {
    // From the access token's space-separated `scope` claim.
    scope?: Set<String>,
    // From PingOne's `p1.permissions` claim.
    permissions?: Set<String>,
  };
",
        );
        "User, Client"
    } else {
        "User"
    };
    for op in &api.operations {
        let _ = writeln!(s, "\n  action {} appliesTo {{", quoted(&op.action()));
        let anonymous = if op.security == Security::Public {
            ", Anonymous"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "    principal: [{principals}{anonymous}],\n    resource: [Application],"
        );
        if !op.path_parameters.is_empty() || !op.query_parameters.is_empty() {
            s.push_str("    context: {\n");
            if !op.path_parameters.is_empty() {
                s.push_str("      pathParameters: {\n");
                for p in &op.path_parameters {
                    let _ = writeln!(s, "        {}: String,", attribute(p));
                }
                s.push_str("      },\n");
            }
            if !op.query_parameters.is_empty() {
                s.push_str("      queryStringParameters: {\n");
                for q in &op.query_parameters {
                    let _ = writeln!(s, "        {}?: String,", attribute(q));
                }
                s.push_str("      },\n");
            }
            s.push_str("    },\n");
        }
        s.push_str("  };\n");
    }
    s.push_str("}\n");
    s
}

fn policies(options: &InitOptions) -> String {
    let ns = &options.namespace;
    let action = |a: &str| format!("{ns}::Action::{}", quoted(a));
    let mut s = String::new();
    if options.groups.is_empty() {
        s.push_str(
            "// No group was given to `cedargate init`: nothing is allowed until a policy here\n\
             // permits it. Each policy needs an @id(\"...\").\n",
        );
    }
    for (i, rule) in options.groups.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        let group = &rule.group;
        let what = match (rule.all, rule.actions.len()) {
            (true, 0) => "every operation of the API".to_owned(),
            (true, _) => format!("every operation but {}", rule.actions.join(", ")),
            (false, _) => rule.actions.join(", "),
        };
        if rule.client {
            let _ = writeln!(s, "// The service {group} may call {what}.");
        } else {
            let _ = writeln!(s, "// Members of {group} may call {what}.");
        }
        let _ = writeln!(s, "@id({})", quoted(&rule.policy_id()));
        s.push_str("permit (\n");
        if rule.client {
            let _ = writeln!(s, "  principal == {ns}::Client::{},", quoted(group));
        } else {
            let _ = writeln!(s, "  principal in {ns}::UserGroup::{},", quoted(group));
        }
        if rule.all {
            s.push_str("  action,\n  resource\n)");
            match rule.actions.as_slice() {
                [] => s.push_str(";\n"),
                [one] => {
                    let _ = writeln!(s, "\nunless {{ action == {} }};", action(one));
                }
                many => {
                    let list: Vec<String> = many.iter().map(|a| action(a)).collect();
                    let _ = writeln!(s, "\nunless {{ action in [{}] }};", list.join(", "));
                }
            }
        } else {
            let list: Vec<String> = rule.actions.iter().map(|a| action(a)).collect();
            let _ = writeln!(s, "  action in [{}],\n  resource\n);", list.join(", "));
        }
    }
    s
}

/// One of the document's requirements, as the policy `init` writes for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// `requires-scopes-<action>`, `requires-permissions-<action>`, or `public-<action>`
    /// for the `permit` of a public operation.
    pub id: String,
    /// The operation's action id.
    pub action: String,
    /// What is required, in words (`the scope pets:read`).
    pub what: String,
    /// The policy's text, with its comment.
    pub text: String,
}

/// The document's requirements as `forbid` policies, so that no `permit` can allow an
/// operation to a token without them: its scopes (one of the alternatives, each complete)
/// and its PingOne permissions (all of them), in operation order. A public operation
/// (`security: []`) gets the `permit` that lets anyone call it, the anonymous principal
/// included.
pub fn requirements(api: &Api, namespace: &str) -> Vec<Requirement> {
    let ns = namespace;
    let set = |items: &[String]| {
        let quoted: Vec<String> = items.iter().map(|i| quoted(i)).collect();
        format!("[{}]", quoted.join(", "))
    };
    let mut out = Vec::new();
    for op in &api.operations {
        let action = op.action();
        // The `@id`, other annotations (each a line) and the scope of a requirement's forbid.
        let head = |id: &str, annotations: &str| {
            format!(
                "@id({})\n{annotations}forbid (\n  principal,\n  action == {ns}::Action::{},\n  resource\n)\n",
                quoted(id),
                quoted(&action)
            )
        };
        if op.security == Security::Public {
            let id = format!("public-{}", slug(&action));
            out.push(Requirement {
                text: format!(
                    "// {action} is public (security: []): anyone may call it, with a token or without.\n@id({})\npermit (\n  principal,\n  action == {ns}::Action::{},\n  resource\n);\n",
                    quoted(&id),
                    quoted(&action)
                ),
                id,
                action: action.clone(),
                what: "no credentials (the operation is public)".into(),
            });
        }
        if let Security::Scopes(alternatives) = &op.security
            && !alternatives.iter().any(Vec::is_empty)
        {
            let id = format!("requires-scopes-{}", slug(&action));
            // One set of scopes is what a client should ask for (RFC 6750's
            // insufficient_scope); alternatives are not one list.
            let annotation = match alternatives.as_slice() {
                [one] if one.iter().all(|s| cedargate::is_scope_token(s)) => format!(
                    "@{}({})\n",
                    cedargate::REQUIRED_SCOPES_ANNOTATION,
                    quoted(&one.join(" "))
                ),
                _ => String::new(),
            };
            let (what, test) = match alternatives.as_slice() {
                [one] => (
                    format!(
                        "the scope{} {}",
                        if one.len() == 1 { "" } else { "s" },
                        one.join(" ")
                    ),
                    format!("principal.scope.containsAll({})", set(one)),
                ),
                many => (
                    format!(
                        "one of the scope sets {}",
                        many.iter()
                            .map(|a| format!("({})", a.join(" ")))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    format!(
                        "({})",
                        many.iter()
                            .map(|a| format!("principal.scope.containsAll({})", set(a)))
                            .collect::<Vec<_>>()
                            .join(" || ")
                    ),
                ),
            };
            out.push(Requirement {
                text: format!(
                    "// {action} needs {what} (the document's security requirement).\n{}unless {{ principal has scope && {test} }};\n",
                    head(&id, &annotation)
                ),
                id,
                action: action.clone(),
                what,
            });
        }
        if !op.permissions.is_empty() {
            let id = format!("requires-permissions-{}", slug(&action));
            let what = format!("the permissions {}", op.permissions.join(" "));
            out.push(Requirement {
                text: format!(
                    "// {action} needs {what} (x-cedargate-permissions).\n{}unless {{ principal has permissions && principal.permissions.containsAll({}) }};\n",
                    head(&id, ""),
                    set(&op.permissions)
                ),
                id,
                action: action.clone(),
                what,
            });
        }
    }
    out
}

fn routes(api: &Api, options: &InitOptions) -> String {
    let list: Vec<String> = api
        .operations
        .iter()
        .map(|op| {
            let route = serde_json::Value::String(op.action());
            if op.security == Security::Public {
                format!("    {{ \"route\": {route}, \"public\": true }}")
            } else {
                format!("    {route}")
            }
        })
        .collect();
    format!(
        "{{\n  \"namespace\": {},\n  \"resource\": {{ \"type\": \"Application\", \"id\": {} }},\n  \"routes\": [\n{}\n  ]\n}}\n",
        serde_json::Value::String(options.namespace.clone()),
        serde_json::Value::String(options.resource_id.clone()),
        list.join(",\n")
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn api() -> Api {
        Api::parse(
            "t.yaml",
            "openapi: 3.1.0\ninfo: {title: T, version: '1'}\npaths:\n  /a:\n    get: {}\n    post: {}\n  /a/{id}:\n    get:\n      parameters: [{name: id, in: path, required: true}]\n",
        )
        .unwrap()
    }

    #[test]
    fn group_specs() {
        let api = api();
        let rule = GroupRule::parse("AVP_User=all,-POST /a", &api).unwrap();
        assert_eq!(rule.actions, ["post /a"]);
        assert_eq!(rule.policy_id(), "avp-user-all-but-post-a");
        let rule = GroupRule::parse("Readers=get /a, get /a/{id}", &api).unwrap();
        assert!(!rule.all);
        assert_eq!(rule.policy_id(), "readers-listed-actions");
        for (bad, why) in [
            ("nobody", "expected NAME=SPEC"),
            ("G=all,get /a", "leave out"),
            ("G=-get /a", "only makes sense after"),
            ("G=get /b", "no operation \"get /b\""),
            ("G=get /a,get /a", "listed twice"),
            ("G=get /a,all", "must come first"),
        ] {
            let err = GroupRule::parse(bad, &api).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn generated_folders_load() {
        let api = api();
        let options = InitOptions {
            namespace: "Shop".into(),
            resource_id: "Shop".into(),
            groups: vec![
                GroupRule::parse("A=all", &api).unwrap(),
                GroupRule::parse("B=all,-get /a,-post /a", &api).unwrap(),
                GroupRule::parse("C=get /a/{id}", &api).unwrap(),
            ],
            source_name: "t.yaml".into(),
        };
        let folder = generate(&api, &options).unwrap();
        assert!(folder.policies.contains(
            "unless { action in [Shop::Action::\"get /a\", Shop::Action::\"post /a\"] };"
        ));
        let bad = InitOptions {
            namespace: "not a name".into(),
            ..options
        };
        assert!(matches!(generate(&api, &bad), Err(InitError::Namespace(_))));
    }
}
