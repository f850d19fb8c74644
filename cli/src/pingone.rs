//! PingOne Authorize API services, to and from policy folders.
//!
//! `cedargate init --pingone-api-service FILE` reads an API service and its operations as
//! PingOne's Platform API returns them (`GET /environments/{envID}/apiServers/{id}` and
//! `GET .../apiServers/{id}/operations?expand=groups,scopes`, put side by side in one JSON
//! file) and writes a policy folder: one action `"<lowercase method> <path template>"` per
//! method and path of each operation, a `permit` per operation (its group rule, or any
//! verified token), and a `forbid` per scope, permission and authentication rule (the
//! authentication rule as a step-up `forbid`). What has no Cedar counterpart (the service's
//! name, base URLs, authorization server, ids, the patterns as written) is kept beside the
//! folder's files in [`SIDECAR_FILE`], so that `cedargate export --pingone-api-service`
//! gives the API service back. Every rule either becomes Cedar or is refused: nothing an
//! operation requires is dropped.

use crate::generate::slug;
use crate::openapi::ANY_METHODS;
use cedargate::BundleSource;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// The file beside `schema.cedarschema`, `policies.cedar` and `routes.json` that keeps what
/// has no Cedar counterpart.
pub const SIDECAR_FILE: &str = "pingone-api-service.json";

/// The annotation naming the operation a generated policy comes from.
pub const OPERATION_ANNOTATION: &str = "pingone_operation";

/// A PingOne resource an operation refers to by id (a group, a scope, a permission, a
/// sign-on policy), with the name its tokens carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub id: String,
    pub name: String,
}

/// How many of an operation's scopes a token needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchType {
    All,
    Any,
}

/// A path of an operation as PingOne writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    /// `EXACT` or `PARAMETER`.
    pub kind: String,
    pub pattern: String,
}

/// The authentication rule: the sign-on policies (their names are the token's `acr`) and
/// how recent the sign-in must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    pub acrs: Vec<String>,
    pub max_age: Option<u64>,
}

/// One operation, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub name: String,
    /// `None`: every method.
    pub methods: Option<Vec<String>>,
    pub paths: Vec<PathPattern>,
    pub groups: Vec<Reference>,
    pub scopes: Option<(MatchType, Vec<Reference>)>,
    pub permission: Option<Reference>,
    pub authentication: Option<Authentication>,
    /// The operation's object as read, without links and embedded resources.
    pub raw: Map<String, Value>,
    /// The groups, scopes, permission and sign-on policies it refers to by id, with their
    /// names, as `?expand=` embeds them (`groups`, `scopes`, `permissions`,
    /// `authenticationPolicies`): export writes them back so that its output reads again.
    pub embedded: Map<String, Value>,
}

/// An API service and its operations, read.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiService {
    pub name: String,
    /// The path every base URL shares (`""` at the root): routes start with it.
    pub base_path: String,
    /// The custom resource's audience, when the file has the resource.
    pub audience: Option<String>,
    pub operations: Vec<Operation>,
    /// The service object as read, without links and embedded resources.
    pub raw: Map<String, Value>,
    /// The custom resource as read, when given.
    pub resource: Option<Map<String, Value>>,
    /// The names the rules use, by id.
    pub names: BTreeMap<String, String>,
}

/// Reads the file. `names` (`--name ID=NAME`) name groups, scopes, permissions and sign-on
/// policies the file refers to by id only; names in the file's `_embedded` objects (what
/// `?expand=groups,scopes` adds) are read too.
pub fn parse(file: &str, text: &str, names: &[String]) -> Result<ApiService, String> {
    let fail = |field: &str, message: String| {
        if field.is_empty() {
            format!("{file}: {message}")
        } else {
            format!("{file}: {field}: {message}")
        }
    };
    let json: Value = serde_json::from_str(text).map_err(|e| fail("", format!("not JSON: {e}")))?;
    let top = json.as_object().ok_or_else(|| {
        fail(
            "",
            "expected an object with apiService and operations".into(),
        )
    })?;
    for key in top.keys() {
        if !matches!(key.as_str(), "apiService" | "operations" | "resource") {
            return Err(fail(
                key,
                "unknown member (expected apiService, operations and optionally resource)".into(),
            ));
        }
    }
    let mut known: BTreeMap<String, String> = BTreeMap::new();
    collect_embedded_names(&json, false, &mut known);
    for spec in names {
        let (id, name) = spec
            .split_once('=')
            .filter(|(i, n)| !i.trim().is_empty() && !n.trim().is_empty())
            .ok_or_else(|| format!("--name {spec}: expected ID=NAME"))?;
        known.insert(id.trim().to_owned(), name.trim().to_owned());
    }

    let service = top
        .get("apiService")
        .and_then(Value::as_object)
        .ok_or_else(|| fail("apiService", "missing, or not an object".into()))?;
    let raw = without_read_only(service);
    let name = service
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| fail("apiService.name", "missing, or not a string".into()))?
        .to_owned();
    if service
        .get("accessControl")
        .and_then(|c| c.pointer("/custom/enabled"))
        == Some(&Value::Bool(true))
    {
        return Err(fail(
            "apiService.accessControl.custom.enabled",
            "the API service decides with custom policies, which live in PingOne Authorize's policy editor and have no cedar counterpart: refused rather than guessed".into(),
        ));
    }
    let base_urls = service
        .get("baseUrls")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| {
            fail(
                "apiService.baseUrls",
                "missing, empty, or not a list".into(),
            )
        })?;
    let mut base_paths = BTreeSet::new();
    for (i, url) in base_urls.iter().enumerate() {
        let field = format!("apiService.baseUrls[{i}]");
        let url = url
            .as_str()
            .ok_or_else(|| fail(&field, "not a string".into()))?;
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| fail(&field, format!("\"{url}\" is not an http(s) URL")))?;
        let path = rest.find('/').map_or("", |at| &rest[at..]);
        if path.ends_with('/') || path.contains(['?', '#']) {
            return Err(fail(
                &field,
                format!(
                    "\"{url}\": a base URL's path ends without a slash and has no query or fragment"
                ),
            ));
        }
        if !path.is_empty() {
            template_of("EXACT", path).map_err(|e| fail(&field, e))?;
        }
        base_paths.insert(path.to_owned());
    }
    if base_paths.len() > 1 {
        return Err(fail(
            "apiService.baseUrls",
            format!(
                "the base URLs have different paths ({}): one bundle routes one path space, so the operations' paths cannot be placed; split the service",
                base_paths
                    .iter()
                    .map(|p| if p.is_empty() {
                        "/".to_owned()
                    } else {
                        p.clone()
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let base_path = base_paths.into_iter().next().unwrap_or_default();

    let resource = match top.get("resource") {
        None => None,
        Some(Value::Object(o)) => Some(without_read_only(o)),
        Some(_) => return Err(fail("resource", "not an object".into())),
    };
    let audience = match &resource {
        Some(r) => Some(
            r.get("audience")
                .and_then(Value::as_str)
                .ok_or_else(|| fail("resource.audience", "missing, or not a string".into()))?
                .to_owned(),
        ),
        None => None,
    };

    let list = match top.get("operations") {
        Some(Value::Array(list)) => list,
        Some(Value::Object(page)) => page
            .get("_embedded")
            .and_then(|e| e.get("operations"))
            .and_then(Value::as_array)
            .ok_or_else(|| {
                fail(
                    "operations._embedded.operations",
                    "missing, or not a list".into(),
                )
            })?,
        _ => {
            return Err(fail(
                "operations",
                "missing: a list of operations, or the Read All API Service Operations response"
                    .into(),
            ));
        }
    };
    let mut used = BTreeMap::new();
    let mut operations = Vec::new();
    for (i, op) in list.iter().enumerate() {
        let at = format!("operations[{i}]");
        let op = op
            .as_object()
            .ok_or_else(|| fail(&at, "not an object".into()))?;
        operations.push(operation(op, &at, &known, &mut used).map_err(|(f, m)| fail(&f, m))?);
    }
    Ok(ApiService {
        name,
        base_path,
        audience,
        operations,
        raw,
        resource,
        names: used,
    })
}

/// Links, the environment and embedded resources: what a response adds that a request
/// does not carry.
fn without_read_only(object: &Map<String, Value>) -> Map<String, Value> {
    object
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "_links" | "_embedded" | "environment"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Every `{ "id": ..., "name": ... }` inside an `_embedded` member.
fn collect_embedded_names(value: &Value, inside: bool, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(o) => {
            if inside
                && let (Some(Value::String(id)), Some(Value::String(name))) =
                    (o.get("id"), o.get("name"))
            {
                out.entry(id.clone()).or_insert_with(|| name.clone());
            }
            for (k, v) in o {
                collect_embedded_names(v, inside || k == "_embedded", out);
            }
        }
        Value::Array(list) => {
            for v in list {
                collect_embedded_names(v, inside, out);
            }
        }
        _ => {}
    }
}

type FieldError = (String, String);

fn operation(
    op: &Map<String, Value>,
    at: &str,
    names: &BTreeMap<String, String>,
    used: &mut BTreeMap<String, String>,
) -> Result<Operation, FieldError> {
    let field = |rest: &str| format!("{at}{rest}");
    for key in op.keys() {
        if !matches!(
            key.as_str(),
            "id" | "name"
                | "methods"
                | "paths"
                | "accessControl"
                | "policy"
                | "_links"
                | "_embedded"
                | "environment"
                | "apiServer"
                | "createdAt"
                | "updatedAt"
        ) {
            return Err((
                field(&format!(".{key}")),
                "unknown member: cedargate cannot tell what it requires, so it refuses the operation".into(),
            ));
        }
    }
    let name = op
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| (field(".name"), "missing, or not a string".into()))?
        .to_owned();
    let at = format!("{at} (\"{name}\")");
    let field = |rest: &str| format!("{at}{rest}");
    let methods = match op.get("methods") {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) if !list.is_empty() => {
            let mut out = Vec::new();
            for (i, m) in list.iter().enumerate() {
                let m = m
                    .as_str()
                    .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_alphabetic()))
                    .ok_or_else(|| {
                        (
                            field(&format!(".methods[{i}]")),
                            "not a method (letters only)".into(),
                        )
                    })?;
                out.push(m.to_owned());
            }
            Some(out)
        }
        Some(_) => {
            return Err((
                field(".methods"),
                "not a list of methods (null for every method)".into(),
            ));
        }
    };
    let paths_list = op
        .get("paths")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| (field(".paths"), "missing, empty, or not a list".into()))?;
    let mut paths = Vec::new();
    for (i, p) in paths_list.iter().enumerate() {
        let f = field(&format!(".paths[{i}]"));
        let kind = p
            .get("type")
            .and_then(Value::as_str)
            .filter(|t| matches!(*t, "EXACT" | "PARAMETER"))
            .ok_or_else(|| (format!("{f}.type"), "expected EXACT or PARAMETER".into()))?;
        let pattern = p
            .get("pattern")
            .and_then(Value::as_str)
            .ok_or_else(|| (format!("{f}.pattern"), "missing, or not a string".into()))?;
        template_of(kind, pattern).map_err(|e| (format!("{f}.pattern"), e))?;
        paths.push(PathPattern {
            kind: kind.to_owned(),
            pattern: pattern.to_owned(),
        });
    }

    let mut embedded: Map<String, Value> = Map::new();
    let mut resolve = |f: &str,
                       what: &str,
                       hint: &str,
                       v: &Value|
     -> Result<Reference, FieldError> {
        let id = v
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| (format!("{f}.id"), "missing, or not a string".into()))?;
        let name = names.get(id).ok_or_else(|| {
            (
                f.to_owned(),
                format!(
                    "{what} {id} has no name in the file; {hint}pass --name {id}=<the name tokens carry>"
                ),
            )
        })?;
        used.insert(id.to_owned(), name.clone());
        let kind = match what {
            "group" => "groups",
            "scope" => "scopes",
            "permission" => "permissions",
            _ => "authenticationPolicies",
        };
        if let Value::Array(list) = embedded
            .entry(kind)
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            let entry = json!({ "id": id, "name": name });
            if !list.contains(&entry) {
                list.push(entry);
            }
        }
        Ok(Reference {
            id: id.to_owned(),
            name: name.clone(),
        })
    };

    let mut groups = Vec::new();
    let mut scopes = None;
    let mut permission = None;
    let mut authentication = None;
    if let Some(control) = op.get("accessControl") {
        let control = control
            .as_object()
            .ok_or_else(|| (field(".accessControl"), "not an object".into()))?;
        for (key, value) in control {
            let f = field(&format!(".accessControl.{key}"));
            match key.as_str() {
                "custom" => {
                    if value.get("enabled") == Some(&Value::Bool(true)) {
                        return Err((
                            format!("{f}.enabled"),
                            "the operation is decided by a custom policy, which has no cedar counterpart: refused rather than dropped".into(),
                        ));
                    }
                }
                "group" => {
                    let list = value
                        .get("groups")
                        .and_then(Value::as_array)
                        .filter(|l| !l.is_empty())
                        .ok_or_else(|| {
                            (
                                format!("{f}.groups"),
                                "missing, empty, or not a list".into(),
                            )
                        })?;
                    for (i, g) in list.iter().enumerate() {
                        groups.push(resolve(
                            &format!("{f}.groups[{i}]"),
                            "group",
                            "read the operation with ?expand=groups, or ",
                            g,
                        )?);
                    }
                }
                "scope" => {
                    let match_type = match value.get("matchType") {
                        None | Some(Value::Null) => MatchType::All,
                        Some(Value::String(s)) if s == "ALL" => MatchType::All,
                        Some(Value::String(s)) if s == "ANY" => MatchType::Any,
                        Some(_) => {
                            return Err((format!("{f}.matchType"), "expected ALL or ANY".into()));
                        }
                    };
                    let list = value
                        .get("scopes")
                        .and_then(Value::as_array)
                        .filter(|l| !l.is_empty())
                        .ok_or_else(|| {
                            (
                                format!("{f}.scopes"),
                                "missing, empty, or not a list".into(),
                            )
                        })?;
                    let mut refs = Vec::new();
                    for (i, s) in list.iter().enumerate() {
                        let r = resolve(
                            &format!("{f}.scopes[{i}]"),
                            "scope",
                            "read the operation with ?expand=scopes, or ",
                            s,
                        )?;
                        if !cedargate::is_scope_token(&r.name) {
                            return Err((
                                format!("{f}.scopes[{i}]"),
                                format!("\"{}\" is not a scope token (RFC 6749 §3.3)", r.name),
                            ));
                        }
                        refs.push(r);
                    }
                    scopes = Some((match_type, refs));
                }
                "permission" => {
                    permission = Some(resolve(&f, "permission", "", value)?);
                }
                "authentication" => {
                    let object = value
                        .as_object()
                        .ok_or_else(|| (f.clone(), "not an object".into()))?;
                    for k in object.keys() {
                        if !matches!(k.as_str(), "acrs" | "maxAge") {
                            return Err((
                                format!("{f}.{k}"),
                                "unknown member of the authentication rule: refused rather than dropped".into(),
                            ));
                        }
                    }
                    let mut acrs = Vec::new();
                    if let Some(list) = object.get("acrs") {
                        let list = list
                            .as_array()
                            .ok_or_else(|| (format!("{f}.acrs"), "not a list".into()))?;
                        for (i, a) in list.iter().enumerate() {
                            let fi = format!("{f}.acrs[{i}]");
                            // A sign-on policy's name is the `acr` PingOne issues; the rule
                            // names the policy by value, or refers to it by id.
                            let value = match a {
                                Value::String(s) => s.clone(),
                                Value::Object(o) => match o.get("policy").unwrap_or(a) {
                                    policy
                                        if policy.get("name").and_then(Value::as_str).is_some() =>
                                    {
                                        policy["name"].as_str().unwrap_or_default().to_owned()
                                    }
                                    policy => resolve(&fi, "sign-on policy", "", policy)?.name,
                                },
                                _ => {
                                    return Err((
                                        fi,
                                        "expected an acr value or a policy reference".into(),
                                    ));
                                }
                            };
                            if value.is_empty()
                                || value.chars().any(|c| {
                                    c.is_whitespace() || c == '"' || c == '\\' || c.is_control()
                                })
                            {
                                return Err((
                                    fi,
                                    format!(
                                        "acr value \"{value}\" has a space or quote: the step-up challenge cannot name it"
                                    ),
                                ));
                            }
                            if !acrs.contains(&value) {
                                acrs.push(value);
                            }
                        }
                    }
                    let max_age = match object.get("maxAge") {
                        None | Some(Value::Null) => None,
                        Some(v) => Some(v.as_u64().ok_or_else(|| {
                            (
                                format!("{f}.maxAge"),
                                "not a whole number of seconds".into(),
                            )
                        })?),
                    };
                    if acrs.is_empty() && max_age.is_none() {
                        return Err((
                            f,
                            "an authentication rule needs acrs, maxAge or both".into(),
                        ));
                    }
                    authentication = Some(Authentication { acrs, max_age });
                }
                _ => {
                    return Err((
                        f,
                        "unknown access control rule: cedargate cannot express it, and refuses rather than dropping it".into(),
                    ));
                }
            }
        }
    }
    Ok(Operation {
        name,
        methods,
        paths,
        groups,
        scopes,
        permission,
        authentication,
        raw: without_read_only(op),
        embedded,
    })
}

/// A path pattern as a route template (without the base path). `*` as a whole segment is
/// a parameter (`{wildcard1}`, `{wildcard2}` ...), `**` at the end is a greedy parameter
/// (`{rest+}`: one or more segments), `{name}` stays; `\*` is a literal `*`. A wildcard
/// inside a segment (`/v*`, `/a/*.json`), `**` elsewhere than at the end, and escaped
/// braces or backslashes are refused: route templates have no counterpart.
pub fn template_of(kind: &str, pattern: &str) -> Result<String, String> {
    let bad = |why: &str| format!("\"{pattern}\": {why}");
    if !pattern.starts_with('/') {
        return Err(bad("a path starts with /"));
    }
    if pattern.chars().any(char::is_control) {
        return Err(bad("control characters are not allowed"));
    }
    if pattern == "/" {
        return Ok("/".into());
    }
    let raw: Vec<&str> = pattern[1..].split('/').collect();
    let mut out: Vec<String> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut wildcards = 0;
    let literal = |segment: &str| -> Result<String, String> {
        if segment.is_empty() {
            return Err(bad(
                "empty path segments (// or a trailing /) never match a request the edge accepts",
            ));
        }
        if segment == "." || segment == ".." {
            return Err(bad("dot segments are refused by the edge"));
        }
        if segment.contains(['{', '}', '%', '?', '#', ';', '\\']) {
            return Err(bad(&format!(
                "the segment \"{segment}\" has a character a route template cannot hold literally ({{ }} % ? # ; \\)"
            )));
        }
        Ok(segment.to_owned())
    };
    for (i, segment) in raw.iter().enumerate() {
        if kind == "EXACT" {
            out.push(literal(segment)?);
            continue;
        }
        if *segment == "**" {
            if i + 1 != raw.len() {
                return Err(bad(
                    "** matches the rest of the path and must end the pattern",
                ));
            }
            out.push("{rest+}".into());
            names.push("rest".into());
            continue;
        }
        if *segment == "*" {
            wildcards += 1;
            out.push(format!("{{wildcard{wildcards}}}"));
            names.push(format!("wildcard{wildcards}"));
            continue;
        }
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(bad(&format!(
                    "parameter {{{name}}}: a route parameter is letters, digits or _"
                )));
            }
            names.push(name.to_owned());
            out.push(format!("{{{name}}}"));
            continue;
        }
        // Unescape `\*`; any other escape, or an unescaped wildcard inside the segment, has
        // no counterpart.
        let mut text = String::new();
        let mut chars = segment.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('*') => text.push('*'),
                    _ => {
                        return Err(bad(
                            "escaped braces and backslashes cannot be held by a route template",
                        ));
                    }
                },
                '*' => {
                    return Err(bad(&format!(
                        "a wildcard inside the segment \"{segment}\" has no route template counterpart (only a whole * or a final ** does)"
                    )));
                }
                c => text.push(c),
            }
        }
        out.push(literal(&text)?);
    }
    // Generated names must not meet the pattern's own.
    let mut seen = BTreeSet::new();
    for n in &names {
        if !seen.insert(n.clone()) {
            return Err(bad(&format!(
                "the parameter name {n} appears twice (cedargate names * wildcard1, wildcard2 ... and ** rest)"
            )));
        }
    }
    Ok(format!("/{}", out.join("/")))
}

/// The actions an operation becomes, in order, and the methods left out (OPTIONS).
pub fn actions(service: &ApiService, op: &Operation) -> (Vec<String>, Vec<String>) {
    let methods: Vec<String> = match &op.methods {
        Some(list) => list.iter().map(|m| m.to_ascii_lowercase()).collect(),
        None => ANY_METHODS.iter().map(|m| (*m).to_owned()).collect(),
    };
    let mut out = Vec::new();
    let mut left_out = Vec::new();
    for path in &op.paths {
        let Ok(template) = template_of(&path.kind, &path.pattern) else {
            continue;
        };
        let template = if template == "/" && !service.base_path.is_empty() {
            service.base_path.clone()
        } else {
            format!("{}{template}", service.base_path)
        };
        for m in &methods {
            if m == "options" {
                if !left_out.contains(m) {
                    left_out.push(m.clone());
                }
                continue;
            }
            let action = format!("{m} {template}");
            if !out.contains(&action) {
                out.push(action);
            }
        }
    }
    (out, left_out)
}

/// What `init` writes: the folder's files, the sidecar, and notes for the user.
#[derive(Debug, Clone)]
pub struct Generated {
    pub source: BundleSource,
    pub sidecar: String,
    pub notes: Vec<String>,
}

/// A Cedar string literal.
fn quoted(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

/// The folder for `service`, checked by loading it as a bundle.
pub fn generate(
    service: &ApiService,
    namespace: &str,
    resource_id: &str,
) -> Result<Generated, String> {
    let ident = |n: &str| {
        let mut c = n.chars();
        matches!(c.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
            && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if !namespace.split("::").all(ident) {
        return Err(format!("--namespace {namespace}: not a cedar identifier"));
    }
    let ns = namespace;
    let mut notes = Vec::new();
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    let mut ids: BTreeSet<String> = BTreeSet::new();
    let mut schema_actions = String::new();
    let mut policies = String::new();
    let mut routes: Vec<String> = Vec::new();
    let action_ref = |a: &str| format!("{ns}::Action::{}", quoted(a));
    for op in &service.operations {
        let (actions, left_out) = actions(service, op);
        for m in &left_out {
            notes.push(format!(
                "\"{}\": {} is not routed (the edge answers it 405, as for any method no route names)",
                op.name,
                m.to_ascii_uppercase()
            ));
        }
        if actions.is_empty() {
            notes.push(format!(
                "\"{}\" has no routed method: no request reaches it",
                op.name
            ));
            continue;
        }
        if op.groups.is_empty()
            && op.scopes.is_none()
            && op.permission.is_none()
            && op.authentication.is_none()
        {
            notes.push(format!(
                "\"{}\" has no access control rule: any verified token for the API may call it",
                op.name
            ));
        }
        for a in &actions {
            if let Some(other) = owner.insert(a.clone(), op.name.clone()) {
                return Err(format!(
                    "operations \"{other}\" and \"{}\" both match \"{a}\": the edge decides a request as one action, and cedargate will not guess which operation's rules PingOne applies",
                    op.name
                ));
            }
            routes.push(a.clone());
        }
        let mut base = format!("op-{}", slug(&op.name));
        if base == "op-" {
            base = "op".into();
        }
        let mut n = 2;
        let stem = base.clone();
        while ids.contains(&base) {
            base = format!("{stem}-{n}");
            n += 1;
        }
        ids.insert(base.clone());
        let list = if actions.len() > 2 {
            format!(
                "\n    {}\n  ",
                actions
                    .iter()
                    .map(|a| action_ref(a))
                    .collect::<Vec<_>>()
                    .join(",\n    ")
            )
        } else {
            actions
                .iter()
                .map(|a| action_ref(a))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let head = |id: &str, extra: &str, effect: &str| {
            format!(
                "@id({})\n@{OPERATION_ANNOTATION}({})\n{extra}{effect} (\n  principal,\n  action in [{list}],\n  resource\n)",
                quoted(id),
                quoted(&op.name)
            )
        };
        if !policies.is_empty() {
            policies.push('\n');
        }
        if op.groups.is_empty() {
            let _ = writeln!(
                policies,
                "// \"{}\" has no group rule: any verified token for the API may call it, subject to\n// the rules below.\n{};",
                op.name,
                head(&base, "", "permit")
            );
        } else {
            let groups = op
                .groups
                .iter()
                .map(|g| format!("{ns}::UserGroup::{}", quoted(&g.name)))
                .collect::<Vec<_>>();
            let _ = writeln!(
                policies,
                "// \"{}\": members of {} (accessControl.group).\n{}\nwhen {{ principal in [{}] }};",
                op.name,
                op.groups
                    .iter()
                    .map(|g| g.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" or "),
                head(&base, "", "permit"),
                groups.join(", ")
            );
        }
        if let Some((match_type, scopes)) = &op.scopes {
            let names: Vec<&str> = scopes.iter().map(|s| s.name.as_str()).collect();
            let set = format!(
                "[{}]",
                names
                    .iter()
                    .map(|s| quoted(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let (what, test, annotation) = match match_type {
                MatchType::All => (
                    "all of the scopes",
                    format!("principal.scope.containsAll({set})"),
                    format!(
                        "@{}({})\n",
                        cedargate::REQUIRED_SCOPES_ANNOTATION,
                        quoted(&names.join(" "))
                    ),
                ),
                MatchType::Any => (
                    "one of the scopes",
                    format!("principal.scope.containsAny({set})"),
                    String::new(),
                ),
            };
            let _ = writeln!(
                policies,
                "\n// \"{}\" needs {what} {} (accessControl.scope).\n{}\nunless {{ principal has scope && {test} }};",
                op.name,
                names.join(" "),
                head(&format!("{base}-scopes"), &annotation, "forbid")
            );
        }
        if let Some(p) = &op.permission {
            let _ = writeln!(
                policies,
                "\n// \"{}\" needs the permission {} (accessControl.permission).\n{}\nunless {{ principal has permissions && principal.permissions.contains({}) }};",
                op.name,
                p.name,
                head(&format!("{base}-permission"), "", "forbid"),
                quoted(&p.name)
            );
        }
        if let Some(auth) = &op.authentication {
            let mut annotations = String::new();
            let mut tests = Vec::new();
            let mut words = Vec::new();
            if !auth.acrs.is_empty() {
                let _ = writeln!(
                    annotations,
                    "@step_up_acr_values({})",
                    quoted(&auth.acrs.join(" "))
                );
                tests.push(match auth.acrs.as_slice() {
                    [one] => format!(
                        "context.token has acr &&\n  context.token.acr == {}",
                        quoted(one)
                    ),
                    many => format!(
                        "context.token has acr &&\n  [{}].contains(context.token.acr)",
                        many.iter()
                            .map(|a| quoted(a))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
                words.push(format!("a sign-in with {}", auth.acrs.join(" or ")));
            }
            if let Some(max_age) = auth.max_age {
                let _ = writeln!(annotations, "@step_up_max_age(\"{max_age}\")");
                tests.push(format!(
                    "context.token has auth_time &&\n  context.request.time - context.token.auth_time <= {max_age}"
                ));
                words.push(format!("in the last {max_age} seconds"));
            }
            let _ = writeln!(
                policies,
                "\n// \"{}\" needs {} (accessControl.authentication).\n// Until then the edge answers 401 with RFC 9470's step-up challenge.\n{}\nunless {{\n  {}\n}};",
                op.name,
                words.join(", "),
                head(&format!("{base}-authentication"), &annotations, "forbid"),
                tests.join(" &&\n  ")
            );
        }
        // The schema's actions.
        for a in &actions {
            let (_, template) = a.split_once(' ').unwrap_or_default();
            let params: Vec<String> = template
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(|s| s.trim_end_matches('+').to_owned())
                .collect();
            let _ = writeln!(
                schema_actions,
                "\n  // Operation \"{}\".\n  action {} appliesTo {{\n    principal: [User, Client],\n    resource: [Application],",
                op.name.replace('\n', " "),
                quoted(a)
            );
            if !params.is_empty() || op.authentication.is_some() {
                schema_actions.push_str("    context: {\n");
                if !params.is_empty() {
                    schema_actions.push_str("      pathParameters: {\n");
                    for p in &params {
                        let _ = writeln!(schema_actions, "        {p}: String,");
                    }
                    schema_actions.push_str("      },\n");
                }
                if op.authentication.is_some() {
                    schema_actions.push_str("      request: Request,\n      token: Token,\n");
                }
                schema_actions.push_str("    },\n");
            }
            schema_actions.push_str("  };\n");
        }
    }
    let step_up = service
        .operations
        .iter()
        .any(|o| o.authentication.is_some());
    let mut schema = format!(
        "// The {} API service, generated by `cedargate init --pingone-api-service`.\n// One action per method and path of each operation, named \"<lowercase method> <path template>\".\nnamespace {ns} {{\n  // Groups come from the token's `group` claim (the groups' names).\n  entity UserGroup;\n\n  // The signed-in user: `sub` is the entity id, groups are parents.\n  entity User in [UserGroup] {{\n    // From the access token's space-separated `scope` claim.\n    scope?: Set<String>,\n    // From PingOne's `p1.permissions` claim.\n    permissions?: Set<String>,\n  }};\n\n  // A service calling with a client-credentials token: `client_id` is the entity id.\n  entity Client {{\n    scope?: Set<String>,\n    permissions?: Set<String>,\n  }};\n\n  // The API itself; every request is about this one resource.\n  entity Application;\n",
        service.name.replace('\n', " ")
    );
    if step_up {
        schema.push_str("\n  // The edge's clock, for how recent a sign-in is.\n  type Request = {\n    time: Long,\n  };\n\n  // Claims of the verified token: the sign-on policy (`acr`) and when the user signed in.\n  type Token = {\n    acr?: String,\n    auth_time?: Long,\n  };\n");
    }
    schema.push_str(&schema_actions);
    schema.push_str("}\n");
    if policies.is_empty() {
        policies.push_str("// The API service has no routed operation: nothing is allowed.\n");
    }
    let routes = format!(
        "{{\n  \"namespace\": {},\n  \"resource\": {{ \"type\": \"Application\", \"id\": {} }},\n  \"routes\": [\n{}\n  ]\n}}\n",
        quoted(ns),
        quoted(resource_id),
        routes
            .iter()
            .map(|r| format!("    {}", quoted(r)))
            .collect::<Vec<_>>()
            .join(",\n")
    );
    let source = BundleSource {
        schema,
        policies,
        routes,
    };
    cedargate::Bundle::load(&source)
        .map_err(|e| format!("the API service does not make a bundle that loads: {e}"))?;
    if step_up {
        notes.push("the authentication rules need the edge's `context` setting to pass time, acr and auth_time".into());
    }
    if let Some(audience) = &service.audience {
        notes.push(format!(
            "the edge must accept access tokens for the audience {audience} (its `trust` setting)"
        ));
    }
    Ok(Generated {
        sidecar: sidecar(service, ns, resource_id),
        source,
        notes,
    })
}

fn sidecar(service: &ApiService, namespace: &str, resource_id: &str) -> String {
    let mut doc = Map::new();
    doc.insert(
        "about".into(),
        json!("What cedargate init read from a PingOne API service that has no Cedar counterpart; cedargate export --pingone-api-service gives the service back from it, once the folder's files are checked to be what it makes."),
    );
    doc.insert("namespace".into(), json!(namespace));
    doc.insert("resourceId".into(), json!(resource_id));
    doc.insert("apiService".into(), Value::Object(service.raw.clone()));
    if let Some(r) = &service.resource {
        doc.insert("resource".into(), Value::Object(r.clone()));
    }
    doc.insert(
        "operations".into(),
        Value::Array(
            service
                .operations
                .iter()
                .map(|o| Value::Object(o.raw.clone()))
                .collect(),
        ),
    );
    doc.insert("names".into(), json!(service.names));
    serde_json::to_string_pretty(&Value::Object(doc)).unwrap_or_default() + "\n"
}

/// The API service a folder `init` wrote gives back, as `init` reads it: the sidecar's
/// service and operations, once the folder's three files are checked to be exactly what
/// they make. A folder edited since (a policy, a route) is refused: an edited policy may
/// say what no PingOne rule can, and cedargate does not drop it silently.
pub fn export(dir: &std::path::Path, source: &BundleSource) -> Result<Value, String> {
    let path = dir.join(SIDECAR_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: cannot read ({e}); only a folder `cedargate init --pingone-api-service` wrote can be exported",
            path.display()
        )
    })?;
    let shown = path.display().to_string();
    let doc: Value = serde_json::from_str(&text).map_err(|e| format!("{shown}: not JSON: {e}"))?;
    let field = |name: &str| {
        doc.get(name)
            .cloned()
            .ok_or_else(|| format!("{shown}: {name}: missing"))
    };
    let namespace = field("namespace")?;
    let resource_id = field("resourceId")?;
    let (Some(namespace), Some(resource_id)) = (namespace.as_str(), resource_id.as_str()) else {
        return Err(format!("{shown}: namespace and resourceId are strings"));
    };
    let names: Vec<String> = doc
        .get("names")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
                .collect()
        })
        .unwrap_or_default();
    let mut input = Map::new();
    input.insert("apiService".into(), field("apiService")?);
    input.insert("operations".into(), field("operations")?);
    if let Some(r) = doc.get("resource") {
        input.insert("resource".into(), r.clone());
    }
    let input = Value::Object(input);
    let service = parse(&shown, &input.to_string(), &names)?;
    let generated = generate(&service, namespace, resource_id)?;
    for (name, theirs, ours) in [
        (
            cedargate::SCHEMA_FILE,
            &source.schema,
            &generated.source.schema,
        ),
        (
            cedargate::POLICIES_FILE,
            &source.policies,
            &generated.source.policies,
        ),
        (
            cedargate::ROUTES_FILE,
            &source.routes,
            &generated.source.routes,
        ),
    ] {
        if theirs.trim_end() != ours.trim_end() {
            let line = theirs
                .lines()
                .zip(ours.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| theirs.lines().count().min(ours.lines().count()))
                + 1;
            return Err(format!(
                "{}: changed since init (first at line {line}): an edited policy or route may say what no PingOne operation rule can, so it is not exported; change the API service and run init again",
                dir.join(name).display()
            ));
        }
    }
    let mut out = Map::new();
    out.insert("apiService".into(), Value::Object(service.raw.clone()));
    out.insert(
        "operations".into(),
        json!({ "_embedded": { "operations": service.operations.iter().map(|o| {
            let mut op = o.raw.clone();
            if !o.embedded.is_empty() {
                op.insert("_embedded".into(), Value::Object(o.embedded.clone()));
            }
            Value::Object(op)
        }).collect::<Vec<_>>() } }),
    );
    if let Some(r) = &service.resource {
        out.insert("resource".into(), Value::Object(r.clone()));
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn path_patterns_become_templates_or_are_refused() {
        for (kind, pattern, want) in [
            ("EXACT", "/accounts", "/accounts"),
            ("EXACT", "/", "/"),
            (
                "PARAMETER",
                "/users/*/answers",
                "/users/{wildcard1}/answers",
            ),
            ("PARAMETER", "/a/*/b/*", "/a/{wildcard1}/b/{wildcard2}"),
            ("PARAMETER", "/files/**", "/files/{rest+}"),
            ("PARAMETER", "/**", "/{rest+}"),
            (
                "PARAMETER",
                "/awesome/{variable}/*",
                "/awesome/{variable}/{wildcard1}",
            ),
            ("PARAMETER", "/stars/\\*", "/stars/*"),
        ] {
            assert_eq!(template_of(kind, pattern).unwrap(), want, "{pattern}");
        }
        for (kind, pattern, why) in [
            ("PARAMETER", "/files/**/x", "must end the pattern"),
            ("PARAMETER", "/v*", "inside the segment"),
            ("PARAMETER", "/a/*.json", "inside the segment"),
            ("PARAMETER", "/a/\\{x\\}", "escaped braces"),
            ("PARAMETER", "/a/{na-me}", "letters, digits or _"),
            ("PARAMETER", "/a/{rest}/**", "appears twice"),
            ("EXACT", "/a/", "empty path segments"),
            ("EXACT", "/a/{b}", "cannot hold literally"),
            ("EXACT", "a", "starts with /"),
            ("EXACT", "/a/../b", "dot segments"),
        ] {
            let err = template_of(kind, pattern).unwrap_err();
            assert!(err.contains(why), "{pattern}: {err}");
            assert!(err.starts_with('"'), "{err}");
        }
    }
}
