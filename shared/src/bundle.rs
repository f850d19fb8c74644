//! The policy bundle: Cedar schema, policies and route table, validated together when
//! loaded and versioned by their canonical content. Decisions are taken in
//! [`decision`](crate::decision); the routes are bound to the schema in
//! [`actions`](crate::actions).
//!
//! A bundle may also carry entity data (`entities.json`, [`Bundle::load_with_entities`]):
//! entities only the decision point knows, such as the users of a directory and the roles
//! they hold, validated against the schema when the bundle is loaded.

use crate::actions::{ActionEntry, BuiltRoutes, build_routes};
use crate::canonical;
use crate::context::{ContextConfig, ContextError, ContextNeeds, check_header_name};
use crate::routes::{RouteError, RouteMatch, RouteTable, RoutesFile};
use crate::schema_info::SchemaInfo;
use crate::strict_json;
use cedar_policy::{
    Effect, Entities, Entity, EntityId, EntityTypeName, EntityUid, Policy, PolicyId, PolicySet,
    Schema, ValidationMode, Validator,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

/// The entity id of the anonymous principal (`<namespace>::Anonymous::"anonymous"`).
pub const ANONYMOUS_ID: &str = "anonymous";

/// File names of a bundle's three parts, used in error messages and by tools that read a
/// bundle folder.
pub const SCHEMA_FILE: &str = "schema.cedarschema";
/// See [`SCHEMA_FILE`].
pub const POLICIES_FILE: &str = "policies.cedar";
/// See [`SCHEMA_FILE`].
pub const ROUTES_FILE: &str = "routes.json";
/// The file name of a bundle's optional entity data ([`Bundle::load_with_entities`]).
pub const ENTITIES_FILE: &str = "entities.json";
/// The most entities a bundle's entity data may hold. An AuthZEN decision that adds a
/// request's entity to the data recomputes the whole hierarchy, which grows with the data
/// (about 1.7 µs per entity in a native release build: some 2 ms at the limit, 0.1 ms for
/// the interop's 14), so the data is kept small: a directory of many thousands of users
/// belongs in a database, not in a bundle.
pub const MAX_ENTITIES: usize = 1_000;

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
    /// A policy's step-up annotations are wrong.
    #[error("{POLICIES_FILE}: policy {id}: {reason}")]
    StepUp { id: String, reason: String },
    /// A policy's `@required_scopes` annotation is wrong.
    #[error("{POLICIES_FILE}: policy {id}: {reason}")]
    RequiredScopes { id: String, reason: String },
    /// A compiled bundle ([`Bundle::load_compiled`]) is not of the shape
    /// [`Bundle::compiled`] gives.
    #[error("compiled bundle: {0}")]
    Compiled(String),
    /// The entity data is not JSON of Cedar's entity format, or does not fit the schema.
    #[error("{}: {message}", place(ENTITIES_FILE, *.line))]
    Entities {
        /// What is wrong, naming the entity by its index (from 0) where one is at fault.
        message: String,
        /// Line and column, for JSON that does not parse.
        line: Option<(usize, usize)>,
    },
}

fn compiled_error(message: impl Into<String>) -> BundleError {
    BundleError::Compiled(message.into())
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

/// An error's message followed by those of its sources (Cedar's top-level messages, such as
/// "error during entity deserialization", leave the reason to the source).
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = inner.source();
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

/// One route of a bundle and the action it leads to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteEntry {
    /// `"<method> <template>"`.
    pub route: String,
    /// The action id.
    pub action: String,
    /// Callable without a token, as the anonymous principal.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub public: bool,
}

/// What a step-up `forbid` asks for, from its `@step_up_acr_values("...")` and
/// `@step_up_max_age("...")` annotations; merged over every such policy of a decision.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepUp {
    /// Acceptable authentication context classes, in policy order, without repeats; empty
    /// when only a recent sign-in is asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acr_values: Vec<String>,
    /// Longest time since the person signed in, in seconds (the smallest one asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u32>,
}

impl StepUp {
    pub(crate) fn merge(&mut self, other: &Self) {
        for value in &other.acr_values {
            if !self.acr_values.contains(value) {
                self.acr_values.push(value.clone());
            }
        }
        self.max_age = match (self.max_age, other.max_age) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

impl Bundle {
    /// Whether the policy `id` is a requirement a caller can meet: a `forbid` with step-up
    /// or `@required_scopes` annotations.
    pub(crate) fn is_requirement(&self, id: &str) -> bool {
        self.step_ups.contains_key(id) || self.required_scopes.contains_key(id)
    }

    /// What the requirements among `ids` ask for: their step-ups merged (`None` when none
    /// of them is a step-up), and their scopes in the order of `ids` and of each
    /// annotation, without repeats.
    pub(crate) fn requirements_of(&self, ids: &[String]) -> (Option<StepUp>, Vec<String>) {
        let mut step_up: Option<StepUp> = None;
        let mut scopes: Vec<String> = Vec::new();
        for id in ids {
            if let Some(s) = self.step_ups.get(id) {
                step_up.get_or_insert_with(StepUp::default).merge(s);
            }
            for scope in self.required_scopes.get(id).into_iter().flatten() {
                if !scopes.contains(scope) {
                    scopes.push(scope.clone());
                }
            }
        }
        (step_up, scopes)
    }
}

/// One policy of a bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyEntry {
    /// The policy's `@id`.
    pub id: String,
    /// `permit` or `forbid`.
    pub effect: Effect,
}

/// A validated bundle. Loading does every check; afterwards nothing about the bundle can
/// fail at request time except evaluation errors of individual policies.
#[derive(Clone)]
pub struct Bundle {
    /// The text, for a bundle loaded from it.
    source: Option<BundleSource>,
    /// The content the text version is the digest of, and each policy's text.
    compiled: CompiledBundle,
    pub(crate) schema: Schema,
    pub(crate) info: SchemaInfo,
    pub(crate) policies: PolicySet,
    /// Each policy's effect, by id.
    pub(crate) effects: HashMap<String, Effect>,
    /// The step-up requirements, by id of the `forbid` that carries them.
    pub(crate) step_ups: HashMap<String, StepUp>,
    /// The scopes each `forbid` annotated `@required_scopes` requires, by its id.
    pub(crate) required_scopes: HashMap<String, Vec<String>>,
    /// The policies without the step-up and `@required_scopes` `forbid`s: what a request
    /// would get once those requirements are met.
    pub(crate) without_requirements: PolicySet,
    pub(crate) routes: RouteTable,
    namespace: String,
    pub(crate) resource: EntityUid,
    pub(crate) actions: BTreeMap<String, ActionEntry>,
    /// The anonymous principal and its entity, when a route is public.
    pub(crate) anonymous: Option<(EntityUid, Entities)>,
    /// What the actions declare of a request, computed once at load.
    needs: ContextNeeds,
    /// The entity data (empty without `entities.json`) and the schema's action entities.
    pub(crate) entity_data: EntityData,
    version: BundleVersion,
    /// The version of the text alone, without the entity data.
    text_version: BundleVersion,
}

/// A bundle in the form a client without a Cedar parser loads ([`Bundle::compiled`],
/// [`Bundle::load_compiled`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompiledBundle {
    /// The content [`Bundle::text_version`] is the digest of: `format` (1), `schema` (Cedar's
    /// JSON schema format, types resolved), `policies` (each `{"id", "policy"}`, the policy
    /// in Cedar's JSON policy format, sorted by id) and `routes` (the route table bound to
    /// the schema: `namespace`, `resource` as `[type, id]`, and each route as
    /// `[method, template, action]`, with a fourth member `"public"` for a public one).
    pub content: Value,
    /// Each policy's text as its author wrote it, by id, to show people; it takes no part in
    /// decisions or the version. A policy without one is shown in its JSON form.
    #[serde(default)]
    pub policy_texts: BTreeMap<String, String>,
}

/// A bundle's parts, from either form, before they are checked together.
struct Parts {
    source: Option<BundleSource>,
    schema: Schema,
    schema_json: Value,
    /// Each policy with its JSON form.
    policies: Vec<(Policy, Value)>,
    texts: BTreeMap<String, String>,
    file: RoutesFile,
}

/// A bundle's entity data, validated against its schema.
#[derive(Clone)]
pub(crate) struct EntityData {
    /// The text it was loaded from; `None` for a bundle without entity data.
    source: Option<String>,
    /// Every entity of the data with its hierarchy computed, and the schema's actions.
    pub(crate) entities: Entities,
    /// Each entity of the data as written (Cedar's JSON entity format), by uid.
    pub(crate) by_uid: HashMap<EntityUid, Value>,
}

impl fmt::Debug for Bundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bundle")
            .field("version", &self.version.0)
            .field("namespace", &self.namespace)
            .field("policies", &self.effects.len())
            .field("routes", &self.routes.routes.len())
            .field("entities", &self.entity_data.by_uid.len())
            .finish()
    }
}

impl Bundle {
    /// Parses and validates a bundle: the schema; the policies (each with a unique `@id`, no
    /// templates) under strict validation; the routes (every action declared, applying to
    /// the resource type, context shapes cedargate can fill).
    pub fn load(source: &BundleSource) -> Result<Self, BundleError> {
        Self::load_parts(source, None)
    }

    /// [`Bundle::load`], with entity data: `entities` is the text of `entities.json`, a JSON
    /// array of entities in Cedar's entity format (`{"uid": {"type", "id"}, "attrs",
    /// "parents"}`), with types written fully qualified.
    ///
    /// The data is validated against the schema (declared types, every required attribute,
    /// no undeclared one, values of the declared types), duplicate JSON members and two
    /// entities with one uid are refused, and action entities are refused (they come from
    /// the schema). At most [`crate::authzen::MAX_ENTITIES`] entities. The data counts for
    /// the version: the same data in another order or formatting gives the same version, and
    /// a bundle without entity data keeps the version [`Bundle::load`] gives it.
    ///
    /// The data is what the decision point knows about subjects and resources beyond what a
    /// request says, such as the roles a user holds. The AuthZEN decision point
    /// ([`crate::authzen`]) reads it for the subjects and resources it is asked about;
    /// [`Bundle::authorize`] and [`Bundle::allowed_actions`] (the edge's route decisions and
    /// the app's matrix) join it with a verified token's principal: the data's parents and
    /// the attributes the token's claims leave unset count for the principal and its groups.
    pub fn load_with_entities(source: &BundleSource, entities: &str) -> Result<Self, BundleError> {
        Self::load_parts(source, Some(entities))
    }

    fn load_parts(source: &BundleSource, entities: Option<&str>) -> Result<Self, BundleError> {
        let ParsedSchema { schema, json } = parse_schema(&source.schema)?;
        let policies = parse_policies(&source.policies)?
            .into_iter()
            .map(|policy| {
                let json = policy.to_json().map_err(|err| BundleError::Policies {
                    message: err.to_string(),
                    line: None,
                })?;
                Ok((policy, json))
            })
            .collect::<Result<Vec<_>, BundleError>>()?;
        let file: RoutesFile =
            serde_json::from_str(&source.routes).map_err(|err| BundleError::Routes {
                message: err.to_string(),
                line: Some((err.line(), err.column())),
            })?;
        let texts = policies
            .iter()
            .map(|(policy, _)| (policy.id().to_string(), policy.to_string()))
            .collect();
        Self::assemble(
            Parts {
                source: Some(source.clone()),
                schema,
                schema_json: json,
                policies,
                texts,
                file,
            },
            entities,
            validate_policies,
        )
    }

    /// Loads a bundle from its compiled form ([`Bundle::compiled`]): the schema and the
    /// policies in Cedar's JSON forms and the routes bound to the schema, so neither Cedar
    /// text is parsed. This is how a client that holds no Cedar parser (the browser app)
    /// loads the bundle the edge serves. `entities` is entity data as for
    /// [`Bundle::load_with_entities`].
    ///
    /// Every check of [`Bundle::load`] that does not depend on the text is made again: the
    /// schema is built and checked by Cedar, each policy carries the `@id` it is listed
    /// under and no two share one, the policies are validated strictly against the schema,
    /// step-up annotations are checked, the routes are bound to the schema anew and the
    /// entity data is validated. The version is computed from what was loaded, so it equals
    /// the version of the bundle the form was made from exactly when the two hold the same
    /// content. A form that is not of this shape is refused with the part it is wrong in.
    pub fn load_compiled(
        compiled: &CompiledBundle,
        entities: Option<&str>,
    ) -> Result<Self, BundleError> {
        Self::from_compiled(compiled, entities, validate_policies)
    }

    /// [`Bundle::load_compiled`] without validating the policies against the schema: every
    /// other check is made. It spares a client that only predicts decisions Cedar's
    /// validator (some 85 kB of the browser app's gzipped wasm, and the time it takes).
    ///
    /// # Security warning
    ///
    /// Never use it for a bundle that decides requests, nor for one whose form comes from
    /// anyone but the enforcement point that validated it. Unvalidated policies can refer to
    /// attributes, types and actions the schema does not have; such a policy errors when it
    /// is evaluated, and although cedargate counts an erroring `forbid` as a deny and an
    /// erroring `permit` as no permit, mistakes [`Bundle::load`] refuses at start-up go
    /// unnoticed. The browser app uses it for the form the edge's bundle endpoint serves, and
    /// only when the version it computes is the one the edge names
    /// ([`crate::wire::BundleEndpoint::insecure_bundle_unvalidated`]): then it holds the
    /// content the edge validated.
    pub fn insecure_load_compiled_unvalidated(
        compiled: &CompiledBundle,
        entities: Option<&str>,
    ) -> Result<Self, BundleError> {
        Self::from_compiled(compiled, entities, |_, _, _| Ok(()))
    }

    /// Loads a compiled form that was validated before, where it was made, as the bundle of
    /// version `validated`: every check of [`Bundle::load_compiled`] but the validation of
    /// the policies against the schema, then the version of what was loaded (entity data
    /// included) must be `validated`, or the form is refused.
    ///
    /// The version is a SHA-256 digest of the bundle's canonical content, so a form with
    /// that version holds the content the validator accepted; the policies are not validated
    /// a second time on every start. The worker loads its built-in bundle this way: its build
    /// script validates the folder with [`Bundle::load`], and compiles the form and the
    /// version it had into the worker.
    ///
    /// # Security warning
    ///
    /// `validated` must come from the same trusted place as the validation: the program's
    /// own build, never the document that carries the form. A version read next to the form
    /// proves nothing about it.
    pub fn load_compiled_validated_as(
        compiled: &CompiledBundle,
        entities: Option<&str>,
        validated: &str,
    ) -> Result<Self, BundleError> {
        let bundle = Self::from_compiled(compiled, entities, |_, _, _| Ok(()))?;
        if bundle.version.as_str() != validated {
            return Err(compiled_error(format!(
                "its content has version {}, not the {validated} that was validated",
                bundle.version
            )));
        }
        Ok(bundle)
    }

    fn from_compiled(
        compiled: &CompiledBundle,
        entities: Option<&str>,
        validate: impl FnOnce(&Schema, &PolicySet, Option<&BundleSource>) -> Result<(), BundleError>,
    ) -> Result<Self, BundleError> {
        let content = compiled
            .content
            .as_object()
            .ok_or_else(|| compiled_error("the content is not a JSON object"))?;
        if let Some(unknown) = content
            .keys()
            .find(|key| !["format", "schema", "policies", "routes"].contains(&key.as_str()))
        {
            return Err(compiled_error(format!("unknown member \"{unknown}\"")));
        }
        if content.get("format") != Some(&json!(1)) {
            return Err(compiled_error("format must be 1"));
        }
        let member = |name: &str| {
            content
                .get(name)
                .ok_or_else(|| compiled_error(format!("\"{name}\" is missing")))
        };
        let schema_json = member("schema")?.clone();
        let schema =
            Schema::from_json_value(schema_json.clone()).map_err(|err| BundleError::Schema {
                message: diagnostic_message(&err, &err),
                line: None,
            })?;
        let Value::Array(items) = member("policies")? else {
            return Err(compiled_error("\"policies\" is not an array"));
        };
        let mut policies = Vec::with_capacity(items.len());
        for item in items {
            let id = item
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| compiled_error("a policy has no string \"id\""))?;
            let refuse = |message: String| BundleError::Policies {
                message: format!("policy {id}: {message}"),
                line: None,
            };
            let est = item
                .get("policy")
                .ok_or_else(|| refuse("its \"policy\" is missing".into()))?;
            let policy = Policy::from_json(Some(PolicyId::new(id)), est.clone())
                .map_err(|err| refuse(error_chain(&err)))?;
            if policy.annotation("id") != Some(id) {
                return Err(refuse(format!(
                    "its @id annotation does not say \"{}\"",
                    id.escape_debug()
                )));
            }
            policies.push((policy, est.clone()));
        }
        let file = RoutesFile::from_canonical(member("routes")?).map_err(compiled_error)?;
        // Printing a policy as Cedar text would link Cedar's policy parser (`Policy`'s
        // `Display` and `to_json` can parse text), so one without its text is shown in its
        // JSON form.
        let texts = policies
            .iter()
            .map(|(policy, est)| {
                let id = policy.id().to_string();
                let text = compiled.policy_texts.get(&id).cloned().unwrap_or_else(|| {
                    serde_json::to_string_pretty(est).unwrap_or_else(|_| est.to_string())
                });
                (id, text)
            })
            .collect();
        Self::assemble(
            Parts {
                source: None,
                schema,
                schema_json,
                policies,
                texts,
                file,
            },
            entities,
            validate,
        )
    }

    /// The checks and the build both ways of loading share.
    ///
    /// `validate` checks the policies against the schema: [`validate_policies`], or nothing
    /// for [`Bundle::insecure_load_compiled_unvalidated`] (a function, not a flag, so a
    /// program that never validates does not link Cedar's validator).
    fn assemble(
        parts: Parts,
        entities: Option<&str>,
        validate: impl FnOnce(&Schema, &PolicySet, Option<&BundleSource>) -> Result<(), BundleError>,
    ) -> Result<Self, BundleError> {
        let Parts {
            source,
            schema,
            schema_json,
            policies,
            texts,
            file,
        } = parts;
        let info = SchemaInfo::from_json(&schema_json).map_err(|message| BundleError::Schema {
            message,
            line: None,
        })?;
        let IndexedPolicies {
            set: policies,
            effects,
            step_ups,
            required_scopes,
            without_requirements,
            json: policy_json,
        } = index_policies(policies)?;

        validate(&schema, &policies, source.as_ref())?;

        let BuiltRoutes {
            table: routes,
            actions,
            resource,
            canonical: routes_json,
            anonymous,
        } = build_routes(&file, &info, &schema).map_err(BundleError::Route)?;
        let anonymous = match anonymous {
            None => None,
            Some(ty) => {
                let uid = EntityUid::from_type_name_and_id(ty, EntityId::new(ANONYMOUS_ID));
                let entity = Entity::new_no_attrs(uid.clone(), HashSet::new());
                let entities = Entities::from_entities([entity], Some(&schema)).map_err(|err| {
                    BundleError::Route(format!(
                        "the anonymous principal {uid} does not fit the schema: {err}"
                    ))
                })?;
                Some((uid, entities))
            }
        };

        let (entity_data, entities_json) = parse_entities(entities, &schema)?;

        let content = json!({
            "format": 1,
            "schema": schema_json,
            "policies": policy_json,
            "routes": routes_json,
        });
        let digest = |content: &Value| {
            let mut canonical = String::new();
            canonical::write(content, &mut canonical);
            BundleVersion(hex(&Sha256::digest(canonical.as_bytes())))
        };
        let text_version = digest(&content);
        // Only a bundle with entity data has the member, so the version of one without it
        // is what it was before entity data existed.
        let version = match (entities_json, content.as_object()) {
            (Some(list), Some(object)) => {
                let mut with_entities = object.clone();
                with_entities.insert("entities".into(), Value::Array(list));
                digest(&Value::Object(with_entities))
            }
            _ => text_version.clone(),
        };

        let needs = collect_context_needs(&actions);
        Ok(Self {
            source,
            compiled: CompiledBundle {
                content,
                policy_texts: texts,
            },
            schema,
            info,
            policies,
            effects,
            step_ups,
            required_scopes,
            without_requirements,
            routes,
            namespace: file.namespace,
            resource,
            actions,
            anonymous,
            needs,
            entity_data,
            version,
            text_version,
        })
    }

    /// The entity data's entities (with their hierarchy) and the schema's action entities;
    /// only the action entities for a bundle without entity data.
    pub fn entities(&self) -> &Entities {
        &self.entity_data.entities
    }

    /// The text of the entity data the bundle was loaded with, `None` without any.
    pub fn entities_source(&self) -> Option<&str> {
        self.entity_data.source.as_deref()
    }

    /// The content version.
    pub fn version(&self) -> &BundleVersion {
        &self.version
    }

    /// The version of the bundle's text alone (schema, policies and routes, without the
    /// entity data): [`Bundle::version`] for a bundle without entity data. What a client
    /// that holds only part of the data (the bundle endpoint's entities about the caller)
    /// compares with the edge's.
    pub fn text_version(&self) -> &BundleVersion {
        &self.text_version
    }

    /// The text the bundle was loaded from; `None` for a bundle loaded from its compiled
    /// form ([`Bundle::load_compiled`]).
    pub fn source(&self) -> Option<&BundleSource> {
        self.source.as_ref()
    }

    /// The bundle's compiled form, which [`Bundle::load_compiled`] loads into a bundle of
    /// the same [`Bundle::text_version`] without parsing Cedar text. It holds no entity data.
    pub fn compiled(&self) -> &CompiledBundle {
        &self.compiled
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

    /// The schema's entity type whose fully qualified name is `qualified`
    /// (`PetStore::User`), taken from the schema rather than parsed, so binding a
    /// configuration to the bundle parses no Cedar name; `None` when the schema declares no
    /// such type.
    pub(crate) fn entity_type(&self, qualified: &str) -> Option<EntityTypeName> {
        crate::schema_info::declared_type(&self.schema, qualified)
    }

    /// The anonymous principal (`<namespace>::Anonymous::"anonymous"`) that a public route's
    /// requests without a token are decided for; `None` when no route is public.
    pub fn anonymous_principal(&self) -> Option<&EntityUid> {
        self.anonymous.as_ref().map(|(uid, _)| uid)
    }

    /// The resource every request is authorized against.
    pub fn resource(&self) -> &EntityUid {
        &self.resource
    }

    /// The policies, parsed and validated.
    pub fn policies(&self) -> &PolicySet {
        &self.policies
    }

    /// A policy's text as the bundle's author wrote it (comments before it excluded,
    /// annotations included), by its `@id`.
    pub fn policy_text(&self, id: &str) -> Option<String> {
        self.compiled.policy_texts.get(id).cloned()
    }

    /// A policy's JSON form (Cedar's JSON policy format), by its `@id`.
    pub(crate) fn policy_json(&self, id: &str) -> Option<&Value> {
        self.compiled
            .content
            .get("policies")?
            .as_array()?
            .iter()
            .find(|item| item.get("id").and_then(Value::as_str) == Some(id))?
            .get("policy")
    }

    /// Policy ids with their effect, sorted by id.
    pub fn policy_ids(&self) -> Vec<PolicyEntry> {
        let mut ids: Vec<PolicyEntry> = self
            .effects
            .iter()
            .map(|(id, effect)| PolicyEntry {
                id: id.clone(),
                effect: *effect,
            })
            .collect();
        ids.sort_by(|a, b| a.id.cmp(&b.id));
        ids
    }

    /// Routes with their action ids, in table order (for a bundle loaded from its compiled
    /// form, in the form's canonical order).
    pub fn routes(&self) -> Vec<RouteEntry> {
        self.routes
            .routes
            .iter()
            .map(|r| RouteEntry {
                route: format!("{} {}", r.method, r.template),
                action: r.action.clone(),
                public: r.public,
            })
            .collect()
    }

    /// Matches a request method and target (path with optional `?query`) to an action.
    pub fn resolve(&self, method: &str, target: &str) -> Result<RouteMatch, RouteError> {
        self.routes.resolve(method, target)
    }
}

/// Strict validation of the policies against the schema; each problem names its policy and,
/// for a bundle loaded from text, its line.
fn validate_policies(
    schema: &Schema,
    policies: &PolicySet,
    source: Option<&BundleSource>,
) -> Result<(), BundleError> {
    let validation = Validator::new(schema.clone()).validate(policies, ValidationMode::Strict);
    let problems: Vec<String> = validation
        .validation_errors()
        .map(|err| {
            let at = source
                .and_then(|source| diagnostic_line(&source.policies, err))
                .map(|(l, c)| format!(" (line {l}:{c})"))
                .unwrap_or_default();
            format!("policy {}{at}: {err}", err.policy_id())
        })
        .collect();
    if !problems.is_empty() {
        return Err(BundleError::Validation(problems));
    }
    Ok(())
}

/// Parses and validates entity data (see [`Bundle::load_with_entities`]); without any, only
/// the schema's action entities. Also gives the data in canonical order for the version.
fn parse_entities(
    text: Option<&str>,
    schema: &Schema,
) -> Result<(EntityData, Option<Vec<Value>>), BundleError> {
    let refuse = |message: String| BundleError::Entities {
        message,
        line: None,
    };
    let Some(text) = text else {
        let entities = Entities::from_entities([], Some(schema))
            .map_err(|err| refuse(format!("the schema's action entities: {err}")))?;
        return Ok((
            EntityData {
                source: None,
                entities,
                by_uid: HashMap::new(),
            },
            None,
        ));
    };
    let value = strict_json::from_slice(text.as_bytes()).map_err(|err| BundleError::Entities {
        message: err.to_string(),
        line: Some((err.line(), err.column())),
    })?;
    let Value::Array(items) = value else {
        return Err(refuse("must be a JSON array of entities".into()));
    };
    if items.len() > MAX_ENTITIES {
        return Err(refuse(format!(
            "holds {} entities, more than the {MAX_ENTITIES} a bundle may hold",
            items.len()
        )));
    }
    let mut by_uid = HashMap::new();
    let mut parsed = Vec::with_capacity(items.len());
    let mut canonical_items = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let entity = Entity::from_json_value(item.clone(), Some(schema))
            .map_err(|err| refuse(format!("entity {index}: {}", error_chain(&err))))?;
        let uid = entity.uid();
        if uid.type_name().basename() == "Action" {
            return Err(refuse(format!(
                "entity {index}: {uid} is an action; action entities come from the schema"
            )));
        }
        let key = uid.to_string();
        if by_uid.insert(uid, item.clone()).is_some() {
            return Err(refuse(format!("two entities are {key}")));
        }
        canonical_items.push((key, item));
        parsed.push(entity);
    }
    let entities =
        Entities::from_entities(parsed, Some(schema)).map_err(|err| refuse(error_chain(&err)))?;
    canonical_items.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((
        EntityData {
            source: Some(text.to_owned()),
            entities,
            by_uid,
        },
        Some(canonical_items.into_iter().map(|(_, item)| item).collect()),
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A schema and its JSON form (with resolved types, for the version and the attribute shapes).
struct ParsedSchema {
    schema: Schema,
    json: Value,
}

fn parse_schema(text: &str) -> Result<ParsedSchema, BundleError> {
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
    Ok(ParsedSchema { schema, json })
}

/// The policies by their `@id`s, their effects and their JSON forms sorted by id.
struct IndexedPolicies {
    set: PolicySet,
    effects: HashMap<String, Effect>,
    step_ups: HashMap<String, StepUp>,
    required_scopes: HashMap<String, Vec<String>>,
    without_requirements: PolicySet,
    json: Vec<Value>,
}

/// The annotation naming the authentication context classes a step-up `forbid` asks for
/// (space-separated, as OpenID Connect's `acr_values`).
pub const STEP_UP_ACR_ANNOTATION: &str = "step_up_acr_values";
/// The annotation giving the longest time since sign-in, in seconds, a step-up `forbid`
/// asks for (OpenID Connect's `max_age`).
pub const STEP_UP_MAX_AGE_ANNOTATION: &str = "step_up_max_age";

/// A policy's step-up requirement, from its annotations; `None` when it has none.
fn step_up_of(policy: &Policy) -> Result<Option<StepUp>, String> {
    let acr = policy.annotation(STEP_UP_ACR_ANNOTATION);
    let max_age = policy.annotation(STEP_UP_MAX_AGE_ANNOTATION);
    if acr.is_none() && max_age.is_none() {
        return Ok(None);
    }
    if policy.effect() != Effect::Forbid {
        return Err(
            "step-up annotations belong on a forbid (the requirement that denies until it is met)"
                .into(),
        );
    }
    let acr_values: Vec<String> = acr
        .unwrap_or_default()
        .split(' ')
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect();
    if acr.is_some() && acr_values.is_empty() {
        return Err(format!("@{STEP_UP_ACR_ANNOTATION} is empty"));
    }
    if let Some(bad) = acr_values.iter().find(|v| {
        !v.chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
    }) {
        return Err(format!(
            "@{STEP_UP_ACR_ANNOTATION}: \"{bad}\" is not a printable value without quotes or backslashes"
        ));
    }
    let max_age = match max_age {
        None => None,
        Some(text) => Some(
            text.parse::<u32>()
                .ok()
                .filter(|_| text.chars().all(|c| c.is_ascii_digit()))
                .ok_or_else(|| {
                    format!("@{STEP_UP_MAX_AGE_ANNOTATION} must be a whole number of seconds")
                })?,
        ),
    };
    Ok(Some(StepUp {
        acr_values,
        max_age,
    }))
}

/// The annotation naming the scopes a `forbid` requires (space-separated scope tokens, as
/// OAuth's `scope`): a deny such `forbid`s alone cause, when meeting them would allow, names
/// these scopes (RFC 6750's `insufficient_scope`). `cedargate init` writes it on the
/// `forbid` of an operation whose security requirement is one set of scopes.
pub const REQUIRED_SCOPES_ANNOTATION: &str = "required_scopes";

/// Whether `text` is one OAuth scope token (RFC 6749 §3.3): printable ASCII without space,
/// `"` or `\`, at least one character.
pub fn is_scope_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

/// A policy's `@required_scopes`, in the order written; `None` when it has none.
fn required_scopes_of(policy: &Policy) -> Result<Option<Vec<String>>, String> {
    let Some(text) = policy.annotation(REQUIRED_SCOPES_ANNOTATION) else {
        return Ok(None);
    };
    if policy.effect() != Effect::Forbid {
        return Err(format!(
            "@{REQUIRED_SCOPES_ANNOTATION} belongs on a forbid (the requirement that denies until it is met)"
        ));
    }
    if text.trim_matches(' ').is_empty() {
        return Err(format!("@{REQUIRED_SCOPES_ANNOTATION} is empty"));
    }
    let mut scopes: Vec<String> = Vec::new();
    for scope in text.split(' ') {
        if scope.is_empty() {
            return Err(format!(
                "@{REQUIRED_SCOPES_ANNOTATION} must be scope tokens separated by one space each"
            ));
        }
        if !is_scope_token(scope) {
            return Err(format!(
                "@{REQUIRED_SCOPES_ANNOTATION}: \"{}\" is not a scope token (printable ASCII without spaces, quotes or backslashes)",
                scope.escape_debug()
            ));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    Ok(Some(scopes))
}

/// The policies of a text, renamed to their `@id`s, in the order they are written.
fn parse_policies(text: &str) -> Result<Vec<Policy>, BundleError> {
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
    Ok(with_ids)
}

/// Indexes policies that carry their `@id`s as ids: no two share one, step-up and
/// `@required_scopes` annotations are well formed.
fn index_policies(with_ids: Vec<(Policy, Value)>) -> Result<IndexedPolicies, BundleError> {
    let mut set = PolicySet::new();
    let mut without_requirements = PolicySet::new();
    let mut effects = HashMap::new();
    let mut step_ups = HashMap::new();
    let mut required_scopes = HashMap::new();
    let mut json = Vec::new();
    for (policy, policy_json) in with_ids {
        let id = policy.id().to_string();
        if effects.insert(id.clone(), policy.effect()).is_some() {
            return Err(BundleError::DuplicateId { id });
        }
        let step_up = step_up_of(&policy).map_err(|reason| BundleError::StepUp {
            id: id.clone(),
            reason,
        })?;
        let scopes = required_scopes_of(&policy).map_err(|reason| BundleError::RequiredScopes {
            id: id.clone(),
            reason,
        })?;
        if step_up.is_none() && scopes.is_none() {
            without_requirements
                .add(policy.clone())
                .map_err(|err| BundleError::Policies {
                    message: err.to_string(),
                    line: None,
                })?;
        }
        if let Some(step_up) = step_up {
            step_ups.insert(id.clone(), step_up);
        }
        if let Some(scopes) = scopes {
            required_scopes.insert(id.clone(), scopes);
        }
        json.push(json!({ "id": id, "policy": policy_json }));
        set.add(policy).map_err(|err| BundleError::Policies {
            message: err.to_string(),
            line: None,
        })?;
    }
    json.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    Ok(IndexedPolicies {
        set,
        effects,
        step_ups,
        required_scopes,
        without_requirements,
        json,
    })
}

impl Bundle {
    /// Checks a worker's allow-list against every action's declared context: each declared
    /// value must be allowed. (Allowing more than is declared is fine: only declared values
    /// are filled.)
    pub fn check_context(&self, config: &ContextConfig) -> Result<(), ContextError> {
        for name in &config.headers {
            check_header_name(name).map_err(ContextError::Header)?;
        }
        for (action, entry) in &self.actions {
            let refuse = |value: String| ContextError::NotAllowed {
                action: action.clone(),
                value,
            };
            if let Some(request) = &entry.context.request {
                if request.time && !config.time {
                    return Err(refuse("request.time".into()));
                }
                if request.ip && !config.ip {
                    return Err(refuse("request.ip".into()));
                }
                if request.country && !config.country {
                    return Err(refuse("request.country".into()));
                }
                for name in request.headers.iter().flatten() {
                    if !config.headers.contains(name) {
                        return Err(refuse(format!("request.headers[\"{name}\"]")));
                    }
                }
            }
            if let Some(token) = &entry.context.token {
                for value in &token.values {
                    if !config.token.contains(value) {
                        return Err(refuse(format!("token.{value}")));
                    }
                }
            }
        }
        Ok(())
    }

    /// What the bundle's actions declare, all together: what a caller has to read from a
    /// request ([`crate::RequestValues`]). Computed once, when the bundle is loaded.
    pub fn context_needs(&self) -> &ContextNeeds {
        &self.needs
    }

    /// Whether the decision for `action` may differ between two requests of one token to
    /// the same target: its context declares request values (the time, the address, a
    /// header). Such decisions are not cached.
    pub fn depends_on_request_values(&self, action: &str) -> bool {
        self.actions
            .get(action)
            .is_some_and(|entry| entry.context.request.is_some())
    }
}

/// What the actions declare of a request, all together.
fn collect_context_needs(actions: &BTreeMap<String, ActionEntry>) -> ContextNeeds {
    let mut needs = ContextNeeds::default();
    for entry in actions.values() {
        if let Some(request) = &entry.context.request {
            needs.time |= request.time;
            needs.ip |= request.ip;
            needs.country |= request.country;
            needs
                .headers
                .extend(request.headers.iter().flatten().cloned());
        }
        if let Some(token) = &entry.context.token {
            needs.token.extend(token.values.iter().copied());
        }
    }
    needs.headers.sort();
    needs.headers.dedup();
    needs.token.sort();
    needs.token.dedup();
    needs
}
