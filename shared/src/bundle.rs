//! The policy bundle: Cedar schema, policies and route table, validated together when
//! loaded, and the one place where decisions are taken.

use crate::canonical;
use crate::principal::Principal;
use crate::routes::{self, ANY_METHODS, Route, RouteError, RouteMatch, RouteTable, RoutesFile};
use crate::schema_info::{Attribute, CedarType, SchemaInfo};
use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Effect, EntityId, EntityTypeName, EntityUid,
    Policy, PolicyId, PolicySet, Request, RestrictedExpression, Schema, ValidationMode, Validator,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

/// File names of a bundle's three parts, used in error messages and by tools that read a
/// bundle folder.
pub const SCHEMA_FILE: &str = "schema.cedarschema";
/// See [`SCHEMA_FILE`].
pub const POLICIES_FILE: &str = "policies.cedar";
/// See [`SCHEMA_FILE`].
pub const ROUTES_FILE: &str = "routes.json";

/// The text of a bundle, as kept in a policy folder and served to the browser app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleSource {
    /// Cedar schema, human-readable syntax.
    pub schema: String,
    /// Cedar policies; each carries `@id("...")`.
    pub policies: String,
    /// The route table (JSON).
    pub routes: String,
}

/// Why a bundle was refused. Each message names the file and, where Cedar or the JSON parser
/// report one, the line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// The schema does not parse or is inconsistent.
    #[error("{}: {message}", place(SCHEMA_FILE, *.line))]
    Schema {
        message: String,
        line: Option<(usize, usize)>,
    },
    /// The policies do not parse.
    #[error("{}: {message}", place(POLICIES_FILE, *.line))]
    Policies {
        message: String,
        line: Option<(usize, usize)>,
    },
    /// A policy has no `@id` annotation (its id would be a meaningless counter).
    #[error("{}: policy has no @id(\"...\") annotation", place(POLICIES_FILE, *.line))]
    MissingId { line: Option<(usize, usize)> },
    /// Two policies share an `@id`.
    #[error("{POLICIES_FILE}: two policies have @id(\"{id}\")")]
    DuplicateId { id: String },
    /// Policy templates are not supported in bundles.
    #[error("{POLICIES_FILE}: templates are not supported")]
    Templates,
    /// Strict validation against the schema failed.
    #[error("{POLICIES_FILE}: policies do not validate against the schema: {}", .0.join("; "))]
    Validation(Vec<String>),
    /// The route table is not valid JSON of the expected shape.
    #[error("{}: {message}", place(ROUTES_FILE, *.line))]
    Routes {
        message: String,
        line: Option<(usize, usize)>,
    },
    /// A route does not fit the schema.
    #[error("{ROUTES_FILE}: {0}")]
    Route(String),
}

fn place(file: &str, line: Option<(usize, usize)>) -> String {
    match line {
        Some((l, c)) => format!("{file}:{l}:{c}"),
        None => file.to_owned(),
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, col)
}

fn diagnostic_line(text: &str, diag: &dyn miette::Diagnostic) -> Option<(usize, usize)> {
    let label = diag.labels()?.next()?;
    Some(line_col(text, label.offset()))
}

fn diagnostic_message(diag: &dyn miette::Diagnostic, err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    if let Some(help) = diag.help() {
        message.push_str(&format!(" ({help})"));
    }
    message
}

/// A bundle's version: lowercase hex SHA-256 over its canonical content (schema in Cedar's
/// JSON form, policies in Cedar's JSON form sorted by id, routes sorted), so formatting,
/// comments and the order of routes do not change it, and the edge and the browser compute
/// the same value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BundleVersion(String);

impl BundleVersion {
    /// The hex digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BundleVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// A `permit` applied and no `forbid` did.
    Allow,
    /// A `forbid` applied or errored, or no `permit` applied.
    Deny,
}

/// The answer to one request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The action id.
    pub action: String,
    /// Allow or deny.
    pub outcome: Outcome,
    /// The ids of the policies that determined the outcome: the satisfied `permit`s for an
    /// allow, the satisfied or erroring `forbid`s for a deny, none for a default deny.
    pub policies: Vec<String>,
    /// Evaluation errors, as `"<policy id>: <message>"`.
    pub errors: Vec<String>,
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allow
    }
}

/// What the policies say about one action for one principal, before any request values are
/// known.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionDecision {
    /// The action id.
    pub action: String,
    /// The routes (`"<method> <template>"`) that lead to it.
    pub routes: Vec<String>,
    /// `Some` when the policies decide without looking at the request's context; `None` when
    /// the answer depends on path or query values.
    pub outcome: Option<Outcome>,
    /// Determining policies for a known outcome; the policies that may decide otherwise.
    pub policies: Vec<String>,
    /// Evaluation errors, as `"<policy id>: <message>"`.
    pub errors: Vec<String>,
}

#[derive(Clone, Debug)]
struct ActionEntry {
    uid: EntityUid,
    /// Context fills `pathParameters`.
    path_parameters: bool,
    /// Context fills `queryStringParameters`.
    query_parameters: bool,
}

/// A validated bundle. Loading does every check; afterwards nothing about the bundle can
/// fail at request time except evaluation errors of individual policies.
#[derive(Clone)]
pub struct Bundle {
    source: BundleSource,
    schema: Schema,
    info: SchemaInfo,
    policies: PolicySet,
    effects: HashMap<String, Effect>,
    routes: RouteTable,
    namespace: String,
    resource: EntityUid,
    actions: BTreeMap<String, ActionEntry>,
    version: BundleVersion,
}

impl fmt::Debug for Bundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bundle")
            .field("version", &self.version.0)
            .field("namespace", &self.namespace)
            .field("policies", &self.effects.len())
            .field("routes", &self.routes.routes.len())
            .finish()
    }
}

impl Bundle {
    /// Parses and validates a bundle: the schema; the policies (each with a unique `@id`, no
    /// templates) under strict validation; the routes (every action declared, applying to
    /// the resource type, context shapes cedargate can fill).
    pub fn load(source: &BundleSource) -> Result<Self, BundleError> {
        let (schema, schema_json) = parse_schema(&source.schema)?;
        let info = SchemaInfo::from_json(&schema_json).map_err(|message| BundleError::Schema {
            message,
            line: None,
        })?;
        let (policies, effects, policy_json) = parse_policies(&source.policies)?;

        let validation = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        let problems: Vec<String> = validation
            .validation_errors()
            .map(|err| {
                let at = diagnostic_line(&source.policies, err)
                    .map(|(l, c)| format!(" (line {l}:{c})"))
                    .unwrap_or_default();
                format!("policy {}{at}: {err}", err.policy_id())
            })
            .collect();
        if !problems.is_empty() {
            return Err(BundleError::Validation(problems));
        }

        let file: RoutesFile =
            serde_json::from_str(&source.routes).map_err(|err| BundleError::Routes {
                message: err.to_string(),
                line: Some((err.line(), err.column())),
            })?;
        let (routes, actions, resource, routes_json) = build_routes(&file, &info)?;

        let mut canonical = String::new();
        canonical::write(
            &json!({
                "format": 1,
                "schema": schema_json,
                "policies": policy_json,
                "routes": routes_json,
            }),
            &mut canonical,
        );
        let version = BundleVersion(hex(&Sha256::digest(canonical.as_bytes())));

        Ok(Self {
            source: source.clone(),
            schema,
            info,
            policies,
            effects,
            routes,
            namespace: file.namespace,
            resource,
            actions,
            version,
        })
    }

    /// The content version.
    pub fn version(&self) -> &BundleVersion {
        &self.version
    }

    /// The text the bundle was loaded from.
    pub fn source(&self) -> &BundleSource {
        &self.source
    }

    /// The Cedar namespace of the route table (may be empty).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The validated schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    pub(crate) fn schema_info(&self) -> &SchemaInfo {
        &self.info
    }

    /// The resource every request is authorized against.
    pub fn resource(&self) -> &EntityUid {
        &self.resource
    }

    /// The policies, parsed and validated.
    pub fn policies(&self) -> &PolicySet {
        &self.policies
    }

    /// Policy ids with their effect, sorted by id.
    pub fn policy_ids(&self) -> Vec<(String, Effect)> {
        let mut ids: Vec<(String, Effect)> =
            self.effects.iter().map(|(k, v)| (k.clone(), *v)).collect();
        ids.sort_by(|a, b| a.0.cmp(&b.0));
        ids
    }

    /// Routes as `"<method> <template>"` with their action ids, in table order.
    pub fn routes(&self) -> Vec<(String, String)> {
        self.routes
            .routes
            .iter()
            .map(|r| (format!("{} {}", r.method, r.template), r.action.clone()))
            .collect()
    }

    /// Matches a request method and target (path with optional `?query`) to an action.
    pub fn resolve(&self, method: &str, target: &str) -> Result<RouteMatch, RouteError> {
        self.routes.resolve(method, target)
    }

    /// The one decision point: may `principal` perform the matched request?
    ///
    /// Cedar skips a policy whose evaluation errors; here an erroring `forbid` denies.
    pub fn authorize(&self, principal: &Principal, route: &RouteMatch) -> Decision {
        let deny = |errors: Vec<String>| Decision {
            action: route.action.clone(),
            outcome: Outcome::Deny,
            policies: Vec::new(),
            errors,
        };
        let Some(entry) = self.actions.get(&route.action) else {
            return deny(vec!["action is not in the bundle".into()]);
        };
        let request = match self.request(principal, entry, route) {
            Ok(request) => request,
            Err(err) => return deny(vec![err]),
        };
        let response =
            Authorizer::new().is_authorized(&request, &self.policies, principal.entities());
        let errors: Vec<(String, String)> = response
            .diagnostics()
            .errors()
            .map(
                |cedar_policy::AuthorizationError::PolicyEvaluationError(e)| {
                    (e.policy_id().to_string(), e.to_string())
                },
            )
            .collect();
        let erroring_forbids: Vec<String> = errors
            .iter()
            .filter(|(id, _)| self.effects.get(id) == Some(&Effect::Forbid))
            .map(|(id, _)| id.clone())
            .collect();
        let errors_text = errors
            .into_iter()
            .map(|(id, e)| format!("{id}: {e}"))
            .collect();
        if !erroring_forbids.is_empty() {
            return Decision {
                action: route.action.clone(),
                outcome: Outcome::Deny,
                policies: erroring_forbids,
                errors: errors_text,
            };
        }
        let mut policies: Vec<String> = response
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect();
        policies.sort();
        Decision {
            action: route.action.clone(),
            outcome: match response.decision() {
                CedarDecision::Allow => Outcome::Allow,
                CedarDecision::Deny => Outcome::Deny,
            },
            policies,
            errors: errors_text,
        }
    }

    fn request(
        &self,
        principal: &Principal,
        entry: &ActionEntry,
        route: &RouteMatch,
    ) -> Result<Request, String> {
        let record = |map: &BTreeMap<String, String>| {
            RestrictedExpression::new_record(
                map.iter()
                    .map(|(k, v)| (k.clone(), RestrictedExpression::new_string(v.clone()))),
            )
            .map_err(|e| e.to_string())
        };
        let mut pairs = Vec::new();
        if entry.path_parameters {
            pairs.push(("pathParameters".to_owned(), record(&route.path_parameters)?));
        }
        if entry.query_parameters {
            pairs.push((
                "queryStringParameters".to_owned(),
                record(&route.query_parameters)?,
            ));
        }
        let context = Context::from_pairs(pairs).map_err(|e| e.to_string())?;
        // No per-request schema check: every part was checked when the bundle and the trust
        // were loaded (the action and resource exist and fit, the context is built from the
        // shape the action declares, the principal's entity was validated when mapped).
        Request::new(
            principal.uid().clone(),
            entry.uid.clone(),
            self.resource.clone(),
            context,
            None,
        )
        .map_err(|e| format!("request is invalid: {e}"))
    }

    /// Evaluates every action of the schema that applies to the principal's type and the
    /// bundle's resource, in one pass, without request values: an action whose policies
    /// look at the context comes back as "depends on the request" (`outcome: None`).
    pub fn allowed_actions(&self, principal: &Principal) -> Vec<ActionDecision> {
        let principal_type = principal.uid().type_name().to_string();
        let resource_type = self.resource.type_name().to_string();
        let authorizer = Authorizer::new();
        let mut out = Vec::new();
        for (id, entry) in &self.actions {
            let applies = self
                .info
                .actions
                .get(&(entry.uid.type_name().to_string(), id.clone()))
                .is_some_and(|a| {
                    a.principal_types.contains(&principal_type)
                        && a.resource_types.contains(&resource_type)
                });
            if !applies {
                continue;
            }
            let routes: Vec<String> = self
                .routes
                .routes
                .iter()
                .filter(|r| &r.action == id)
                .map(|r| format!("{} {}", r.method, r.template))
                .collect();
            let request = Request::builder()
                .principal(principal.uid().clone())
                .action(entry.uid.clone())
                .resource(self.resource.clone())
                .schema(&self.schema)
                .build();
            let request = match request {
                Ok(request) => request,
                Err(err) => {
                    out.push(ActionDecision {
                        action: id.clone(),
                        routes,
                        outcome: Some(Outcome::Deny),
                        policies: Vec::new(),
                        errors: vec![err.to_string()],
                    });
                    continue;
                }
            };
            let partial =
                authorizer.is_authorized_partial(&request, &self.policies, principal.entities());
            let errored: Vec<String> = partial
                .definitely_errored()
                .map(ToString::to_string)
                .collect();
            let erroring_forbids: Vec<String> = errored
                .iter()
                .filter(|id| self.effects.get(*id) == Some(&Effect::Forbid))
                .cloned()
                .collect();
            let ids = |policies: Vec<Policy>| {
                let mut ids: Vec<String> = policies.iter().map(|p| p.id().to_string()).collect();
                ids.sort();
                ids.dedup();
                ids
            };
            let (outcome, policies) = if !erroring_forbids.is_empty() {
                (Some(Outcome::Deny), erroring_forbids)
            } else {
                match partial.decision() {
                    Some(CedarDecision::Allow) => (
                        Some(Outcome::Allow),
                        ids(partial
                            .definitely_satisfied()
                            .filter(|p| p.effect() == Effect::Permit)
                            .collect()),
                    ),
                    Some(CedarDecision::Deny) => (
                        Some(Outcome::Deny),
                        ids(partial
                            .definitely_satisfied()
                            .filter(|p| p.effect() == Effect::Forbid)
                            .collect()),
                    ),
                    None => (None, ids(partial.may_be_determining().collect())),
                }
            };
            out.push(ActionDecision {
                action: id.clone(),
                routes,
                outcome,
                policies,
                errors: errored
                    .iter()
                    .map(|id| format!("{id}: evaluation error"))
                    .collect(),
            });
        }
        out
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_schema(text: &str) -> Result<(Schema, Value), BundleError> {
    let (schema, _warnings) =
        Schema::from_cedarschema_str(text).map_err(|err| BundleError::Schema {
            message: diagnostic_message(&err, &err),
            line: diagnostic_line(text, &err),
        })?;
    let (json, _) = cedar_policy::schema_str_to_json_with_resolved_types(text).map_err(|err| {
        BundleError::Schema {
            message: diagnostic_message(&err, &err),
            line: diagnostic_line(text, &err),
        }
    })?;
    Ok((schema, json))
}

type ParsedPolicies = (PolicySet, HashMap<String, Effect>, Vec<Value>);

fn parse_policies(text: &str) -> Result<ParsedPolicies, BundleError> {
    let parsed = PolicySet::from_str(text).map_err(|err| BundleError::Policies {
        message: diagnostic_message(&err, &err),
        line: diagnostic_line(text, &err),
    })?;
    if parsed.templates().next().is_some() {
        return Err(BundleError::Templates);
    }
    // Parsed policies are numbered in source order ("policy0", "policy1", ...).
    let mut numbered: Vec<(usize, &Policy)> = parsed
        .policies()
        .map(|p| {
            let n = p
                .id()
                .to_string()
                .trim_start_matches("policy")
                .parse()
                .unwrap_or(usize::MAX);
            (n, p)
        })
        .collect();
    numbered.sort_by_key(|(n, _)| *n);
    let mut with_ids: Vec<Policy> = Vec::new();
    let mut cursor = 0;
    for (_, policy) in numbered {
        // The policy's own text locates it for messages.
        let own_text = policy.to_string();
        let offset = text[cursor..].find(own_text.as_str()).map(|at| cursor + at);
        if let Some(at) = offset {
            cursor = at + own_text.len();
        }
        let Some(id) = policy.annotation("id") else {
            return Err(BundleError::MissingId {
                line: offset.map(|at| line_col(text, at)),
            });
        };
        with_ids.push(policy.new_id(PolicyId::new(id)));
    }
    let mut set = PolicySet::new();
    let mut effects = HashMap::new();
    let mut json = Vec::new();
    for policy in with_ids {
        let id = policy.id().to_string();
        if effects.insert(id.clone(), policy.effect()).is_some() {
            return Err(BundleError::DuplicateId { id });
        }
        json.push(json!({
            "id": id,
            "policy": policy.to_json().map_err(|err| BundleError::Policies {
                message: err.to_string(),
                line: None,
            })?,
        }));
        set.add(policy).map_err(|err| BundleError::Policies {
            message: err.to_string(),
            line: None,
        })?;
    }
    json.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    Ok((set, effects, json))
}

type BuiltRoutes = (RouteTable, BTreeMap<String, ActionEntry>, EntityUid, Value);

fn build_routes(file: &RoutesFile, info: &SchemaInfo) -> Result<BuiltRoutes, BundleError> {
    let ns = &file.namespace;
    let qualify = |name: &str| crate::schema_info::qualify(ns, name);
    let action_type_name = qualify("Action");
    let action_type = EntityTypeName::from_str(&action_type_name)
        .map_err(|_| BundleError::Route(format!("namespace \"{ns}\" is not a valid name")))?;
    let resource_type_name = qualify(&file.resource.ty);
    if !info.entities.contains_key(&resource_type_name) {
        return Err(BundleError::Route(format!(
            "resource type {resource_type_name} is not declared in the schema"
        )));
    }
    let resource = EntityUid::from_type_name_and_id(
        EntityTypeName::from_str(&resource_type_name).map_err(|_| {
            BundleError::Route(format!("{resource_type_name} is not a valid type name"))
        })?,
        EntityId::new(&file.resource.id),
    );

    let mut table = RouteTable::default();
    let mut actions: BTreeMap<String, ActionEntry> = BTreeMap::new();
    let mut canonical_routes = Vec::new();
    for entry in &file.routes {
        let (route_text, explicit_action) = entry.parts();
        let (method, template, segments) =
            routes::parse_route(route_text).map_err(BundleError::Route)?;
        let methods: Vec<String> = if method == "any" {
            ANY_METHODS.iter().map(|m| (*m).to_owned()).collect()
        } else {
            vec![method]
        };
        for method in methods {
            let action = explicit_action
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{method} {template}"));
            let declared = info
                .actions
                .get(&(action_type_name.clone(), action.clone()))
                .ok_or_else(|| {
                    BundleError::Route(format!(
                        "route \"{method} {template}\": action \"{action}\" is not declared in the schema"
                    ))
                })?;
            if !declared.resource_types.contains(&resource_type_name) {
                return Err(BundleError::Route(format!(
                    "action \"{action}\" does not apply to resource type {resource_type_name}"
                )));
            }
            let mut route = Route {
                method: method.clone(),
                template: template.clone(),
                segments: segments.clone(),
                action: action.clone(),
                query: Vec::new(),
            };
            let (path_parameters, query_parameters, query) =
                context_shape(&route, &declared.context).map_err(|reason| {
                    BundleError::Route(format!("action \"{action}\": {reason}"))
                })?;
            route.query = query;
            canonical_routes.push(json!([method, template, action]));
            actions.insert(
                action.clone(),
                ActionEntry {
                    uid: EntityUid::from_type_name_and_id(
                        action_type.clone(),
                        EntityId::new(&action),
                    ),
                    path_parameters,
                    query_parameters,
                },
            );
            table.routes.push(route);
        }
    }
    table.check_overlaps().map_err(BundleError::Route)?;
    // Actions without a route still appear in `allowed_actions`.
    for (action_type_key, id) in info.actions.keys() {
        if *action_type_key == action_type_name && !actions.contains_key(id) {
            actions.insert(
                id.clone(),
                ActionEntry {
                    uid: EntityUid::from_type_name_and_id(action_type.clone(), EntityId::new(id)),
                    path_parameters: false,
                    query_parameters: false,
                },
            );
        }
    }
    // Matching does not depend on the order of routes (overlaps are refused above), so
    // neither does the version.
    canonical_routes.sort_by_cached_key(Value::to_string);
    let routes_json = json!({
        "namespace": ns,
        "resource": [resource_type_name, file.resource.id],
        "routes": canonical_routes,
    });
    Ok((table, actions, resource, routes_json))
}

/// Checks that an action's context is one cedargate fills: only `pathParameters` (a record
/// of exactly the route's parameters, all `String`) and `queryStringParameters` (a record of
/// optional `String`s). Returns whether each is filled and the query names.
fn context_shape(
    route: &Route,
    context: &BTreeMap<String, Attribute>,
) -> Result<(bool, bool, Vec<String>), String> {
    let mut path = false;
    let mut query = Vec::new();
    let mut has_query = false;
    for (name, attr) in context {
        match (name.as_str(), &attr.ty) {
            ("pathParameters", CedarType::Record(fields)) => {
                path = true;
                let mut wanted: Vec<&str> = route.parameters().collect();
                wanted.sort_unstable();
                let declared: Vec<&str> = fields.keys().map(String::as_str).collect();
                if wanted != declared {
                    return Err(format!(
                        "context.pathParameters declares {declared:?} but route \"{} {}\" has {wanted:?}",
                        route.method, route.template
                    ));
                }
                if let Some((field, _)) = fields
                    .iter()
                    .find(|(_, a)| a.ty != CedarType::String || !a.required)
                {
                    return Err(format!(
                        "context.pathParameters.{field} must be a required String"
                    ));
                }
            }
            ("queryStringParameters", CedarType::Record(fields)) => {
                has_query = true;
                for (field, a) in fields {
                    if a.ty != CedarType::String || a.required {
                        return Err(format!(
                            "context.queryStringParameters.{field} must be an optional String (\"{field}?: String\")"
                        ));
                    }
                    query.push(field.clone());
                }
            }
            _ => {
                return Err(format!(
                    "context attribute {name} cannot be filled (only pathParameters and queryStringParameters records are)"
                ));
            }
        }
    }
    Ok((path, has_query, query))
}
