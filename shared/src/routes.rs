//! HTTP requests to Cedar actions: AVP-style action ids (`"<method> <path template>"`),
//! strict path decoding and literal-over-parameter matching.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// The methods a route `any /path` expands to.
pub const ANY_METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Longest request path and query accepted, in bytes.
pub const MAX_PATH_BYTES: usize = 8 * 1024;

/// Why a request path was refused rather than matched. The request is answered 400: these
/// paths could mean one thing to cedargate and another to the origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path does not start with `/`.
    #[error("path is not absolute")]
    NotAbsolute,
    /// Longer than [`MAX_PATH_BYTES`].
    #[error("path is longer than {MAX_PATH_BYTES} bytes")]
    TooLong,
    /// `%2F` inside a segment.
    #[error("path contains an encoded slash")]
    EncodedSlash,
    /// `\` or `%5C`.
    #[error("path contains a backslash")]
    Backslash,
    /// `.` or `..` as a segment, also percent-encoded.
    #[error("path contains a dot segment")]
    DotSegment,
    /// `//`, or a trailing `/`.
    #[error("path contains an empty segment")]
    EmptySegment,
    /// NUL, raw or encoded.
    #[error("path contains a NUL byte")]
    Nul,
    /// Another control character, raw or encoded.
    #[error("path contains a control character")]
    ControlCharacter,
    /// `%` not followed by two hex digits.
    #[error("path contains an invalid percent-encoding")]
    InvalidPercentEncoding,
    /// Decoded bytes that are not UTF-8.
    #[error("path is not valid UTF-8 once decoded")]
    InvalidUtf8,
    /// A `#` fragment (never sent by browsers; a sign of smuggling).
    #[error("request target contains a fragment")]
    Fragment,
    /// The query string is not well-formed.
    #[error("query string is malformed")]
    InvalidQuery,
    /// A query parameter the policies see was given more than once.
    #[error("query parameter {0} is repeated")]
    RepeatedQueryParameter(String),
    /// The method is not an HTTP token of letters.
    #[error("method is not valid")]
    InvalidMethod,
    /// `;` in the path: a path parameter delimiter to Tomcat, Jetty and Spring (`/admin;x`,
    /// `/..;/admin`), so the origin could route it elsewhere.
    #[error("path contains a semicolon")]
    Semicolon,
    /// `;` in the query: a pair separator to some origins.
    #[error("query string contains a semicolon")]
    QuerySemicolon,
    /// A query parameter whose name an origin may read as a declared one (`a.b` or `A_B` for
    /// `a_b`, `a[]` for `a`) or as a method override (`_method`).
    #[error("query parameter {0} is ambiguous")]
    AmbiguousQueryParameter(String),
    /// The path matches another route of the method when letter case is ignored (`/pets/MINE`
    /// beside `get /pets/mine`): an origin that routes without case (Express, ASP.NET) could
    /// run that route's handler for a request decided as this one.
    #[error("path differs only in letter case from another route")]
    CaseVariant,
    /// An `access_token` query parameter (RFC 6750 §2.3): the edge decides on the
    /// `Authorization` header alone, and an origin that also reads tokens from the query
    /// could act for another caller than the one decided (or for one on a public route the
    /// edge decided as anonymous). A token in a URL also ends up in logs.
    #[error("query carries an access token")]
    TokenInQuery,
    /// A query parameter whose name an origin may read as a path parameter of the matched
    /// route (`/pets/1?petId=2`, also `PETID`, `petId[]` or ` petId` as PHP reads it): the
    /// request is decided with the path's value, and an origin whose query input shadows its
    /// route values (Laravel's `$request->input`, Rails' `params`) would act on the query's.
    #[error("query parameter {0} names a path parameter")]
    PathParameterInQuery(String),
}

/// A request that does not become an action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The path was refused (answer 400).
    #[error(transparent)]
    Refused(#[from] PathError),
    /// No route matches the method and path (answer 404).
    #[error("no route matches the request")]
    NoRoute,
    /// No route of the bundle names this method (answer 405 with `Allow`): such a request is
    /// never forwarded.
    #[error("method is not allowed")]
    MethodNotAllowed {
        /// The methods of the routes that match the path (uppercase, sorted), for `Allow`.
        allow: Vec<String>,
    },
}

/// The route a request matched: the action to authorize and what goes into the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    /// The action id, e.g. `get /pets/{petId}`.
    pub action: String,
    /// The request method, lowercase.
    pub method: String,
    /// The matched path template, e.g. `/pets/{petId}`.
    pub template: String,
    /// The path as authorized, re-encoded canonically; forward exactly this.
    pub path: String,
    /// The query string (without `?`) rebuilt from the parsed pairs, each name and value
    /// percent-encoded with only unreserved characters literal; forward exactly this.
    pub query: Option<String>,
    /// Path parameters, decoded.
    pub path_parameters: BTreeMap<String, String>,
    /// Query parameters the action's context declares, decoded.
    pub query_parameters: BTreeMap<String, String>,
    /// The route is public (`"public": true` in the route file): a request without a token
    /// is decided for the anonymous principal ([`Gate::decide_anonymous`]).
    ///
    /// [`Gate::decide_anonymous`]: crate::Gate::decide_anonymous
    pub public: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    Literal(String),
    Param(String),
    /// `{name+}`: one or more segments, last position only.
    Greedy(String),
}

impl Segment {
    fn rank(&self) -> u8 {
        match self {
            Self::Literal(_) => 2,
            Self::Param(_) => 1,
            Self::Greedy(_) => 0,
        }
    }
}

/// One method + template → action.
#[derive(Clone, Debug)]
pub(crate) struct Route {
    pub(crate) method: String,
    pub(crate) template: String,
    pub(crate) segments: Vec<Segment>,
    pub(crate) action: String,
    /// Query parameters copied into the context (declared by the action's context).
    pub(crate) query: Vec<String>,
    /// Callable without a token, as the anonymous principal.
    pub(crate) public: bool,
}

impl Route {
    pub(crate) fn parameters(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Param(name) | Segment::Greedy(name) => Some(name.as_str()),
            Segment::Literal(_) => None,
        })
    }
}

/// The `routes.json` file of a bundle.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoutesFile {
    /// The Cedar namespace of the schema's types and actions.
    #[serde(default)]
    pub(crate) namespace: String,
    /// The resource every request is about.
    pub(crate) resource: ResourceRef,
    pub(crate) routes: Vec<RouteEntry>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResourceRef {
    #[serde(rename = "type")]
    pub(crate) ty: String,
    pub(crate) id: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RouteEntry {
    /// `"get /pets/{petId}"`: the action id is the route itself.
    Short(String),
    /// A route with more to say: an action with another id (with `any`, every method maps
    /// to that action), or `"public": true`.
    Full(FullRoute),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FullRoute {
    route: String,
    #[serde(default)]
    action: Option<String>,
    /// Callable without a token, as the schema's `Anonymous` principal.
    #[serde(default)]
    public: bool,
}

impl RoutesFile {
    /// The route file a bundle's canonical routes (the `routes` member of
    /// [`crate::CompiledBundle::content`]) were built from, up to what binding does not
    /// keep: `any` routes come back one per method, each with its action written out.
    pub(crate) fn from_canonical(canonical: &serde_json::Value) -> Result<Self, String> {
        let object = canonical
            .as_object()
            .ok_or("\"routes\" is not a JSON object")?;
        if let Some(unknown) = object
            .keys()
            .find(|key| !["namespace", "resource", "routes"].contains(&key.as_str()))
        {
            return Err(format!("\"routes\" has an unknown member \"{unknown}\""));
        }
        let text = |value: Option<&serde_json::Value>, what: &str| {
            value
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("{what} is not a string"))
        };
        let namespace = text(object.get("namespace"), "the routes' namespace")?;
        let resource = match object.get("resource").and_then(|r| r.as_array()) {
            Some(pair) if pair.len() == 2 => ResourceRef {
                ty: text(pair.first(), "the resource type")?,
                id: text(pair.get(1), "the resource id")?,
            },
            _ => return Err("the routes' resource is not [type, id]".into()),
        };
        let entries = object
            .get("routes")
            .and_then(|r| r.as_array())
            .ok_or("the routes' \"routes\" is not an array")?;
        let mut routes = Vec::with_capacity(entries.len());
        for entry in entries {
            let parts = entry.as_array().map(Vec::as_slice).unwrap_or_default();
            let public = match parts.get(3) {
                None => false,
                Some(flag) if flag == "public" && parts.len() == 4 => true,
                Some(_) => {
                    return Err(format!(
                        "route {entry} has members after its action other than \"public\""
                    ));
                }
            };
            let (Some(method), Some(template), Some(action)) = (
                parts.first().and_then(|m| m.as_str()),
                parts.get(1).and_then(|t| t.as_str()),
                parts.get(2).and_then(|a| a.as_str()),
            ) else {
                return Err(format!("route {entry} is not [method, template, action]"));
            };
            routes.push(RouteEntry::Full(FullRoute {
                route: format!("{method} {template}"),
                action: Some(action.to_owned()),
                public,
            }));
        }
        Ok(Self {
            namespace,
            resource,
            routes,
        })
    }
}

impl RouteEntry {
    /// The route text, the explicit action id and whether the route is public.
    pub(crate) fn parts(&self) -> (&str, Option<&str>, bool) {
        match self {
            Self::Short(route) => (route, None, false),
            Self::Full(full) => (&full.route, full.action.as_deref(), full.public),
        }
    }
}

/// Parses `"<method> <template>"` into lowercase method and segments.
pub(crate) fn parse_route(route: &str) -> Result<(String, String, Vec<Segment>), String> {
    let (method, template) = route
        .split_once(' ')
        .ok_or_else(|| format!("route \"{route}\" is not \"<method> <path>\""))?;
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(format!(
            "route \"{route}\": method must be lowercase letters"
        ));
    }
    let segments = parse_template(template).map_err(|e| format!("route \"{route}\": {e}"))?;
    Ok((method.to_owned(), template.to_owned(), segments))
}

fn parse_template(template: &str) -> Result<Vec<Segment>, String> {
    let Some(rest) = template.strip_prefix('/') else {
        return Err("path must start with /".into());
    };
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let raw: Vec<&str> = rest.split('/').collect();
    let mut segments = Vec::with_capacity(raw.len());
    let mut names: Vec<&str> = Vec::new();
    for (i, part) in raw.iter().enumerate() {
        if part.is_empty() {
            return Err("empty path segment".into());
        }
        if let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            let (name, greedy) = match inner.strip_suffix('+') {
                Some(name) => (name, true),
                None => (inner, false),
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!(
                    "parameter {{{inner}}} must be letters, digits or _"
                ));
            }
            if names.contains(&name) {
                return Err(format!("parameter {name} appears twice"));
            }
            names.push(name);
            if greedy {
                if i + 1 != raw.len() {
                    return Err(format!("greedy parameter {{{name}+}} must be last"));
                }
                segments.push(Segment::Greedy(name.to_owned()));
            } else {
                segments.push(Segment::Param(name.to_owned()));
            }
        } else {
            if part.contains(['{', '}', '%', '?', '#', ';', '\\']) || *part == "." || *part == ".."
            {
                return Err(format!("literal segment \"{part}\" is not allowed"));
            }
            segments.push(Segment::Literal((*part).to_owned()));
        }
    }
    Ok(segments)
}

/// Routes ready for matching.
#[derive(Clone, Debug, Default)]
pub(crate) struct RouteTable {
    pub(crate) routes: Vec<Route>,
}

impl RouteTable {
    /// Refuses two routes with the same method and the same shape.
    pub(crate) fn check_overlaps(&self) -> Result<(), String> {
        for (i, a) in self.routes.iter().enumerate() {
            for b in &self.routes[i + 1..] {
                if a.method == b.method && same_shape(&a.segments, &b.segments) {
                    return Err(format!(
                        "routes \"{} {}\" and \"{} {}\" match the same requests",
                        a.method, a.template, b.method, b.template
                    ));
                }
            }
        }
        Ok(())
    }

    /// Matches a request. `target` is the path with optional `?query`.
    pub(crate) fn resolve(&self, method: &str, target: &str) -> Result<RouteMatch, RouteError> {
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(PathError::InvalidMethod.into());
        }
        let method = method.to_ascii_lowercase();
        if target.len() > MAX_PATH_BYTES {
            return Err(PathError::TooLong.into());
        }
        if target.contains('#') {
            return Err(PathError::Fragment.into());
        }
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (target, None),
        };
        let segments = decode_path(path)?;
        let query_pairs = match query {
            Some(q) => decode_query(q)?,
            None => Vec::new(),
        };

        if !self.routes.iter().any(|r| r.method == method) {
            let mut allow: Vec<String> = self
                .routes
                .iter()
                .filter(|r| score(&r.segments, &segments).is_some())
                .map(|r| r.method.to_ascii_uppercase())
                .collect();
            allow.sort();
            allow.dedup();
            return Err(RouteError::MethodNotAllowed { allow });
        }

        let mut best: Option<(&Route, Vec<u8>)> = None;
        for route in self.routes.iter().filter(|r| r.method == method) {
            if let Some(score) = score(&route.segments, &segments)
                && best.as_ref().is_none_or(|(_, s)| score > *s)
            {
                best = Some((route, score));
            }
        }
        let Some((route, _)) = best else {
            return Err(RouteError::NoRoute);
        };
        if self.routes.iter().any(|r| {
            r.method == method
                && score_ignoring_case(&r.segments, &segments)
                && score(&r.segments, &segments).is_none()
        }) {
            return Err(PathError::CaseVariant.into());
        }

        let mut path_parameters = BTreeMap::new();
        for (i, seg) in route.segments.iter().enumerate() {
            match seg {
                Segment::Param(name) => {
                    path_parameters.insert(name.clone(), segments[i].clone());
                }
                Segment::Greedy(name) => {
                    path_parameters.insert(name.clone(), segments[i..].join("/"));
                }
                Segment::Literal(_) => {}
            }
        }
        let mut query_parameters = BTreeMap::new();
        for pair in &query_pairs {
            let key = &pair.key;
            let readings = query_name_readings(key);
            if route
                .parameters()
                .any(|p| query_name_readings(p).iter().any(|r| readings.contains(r)))
            {
                return Err(PathError::PathParameterInQuery(key.clone()).into());
            }
            if route.query.iter().any(|q| q == key) {
                if query_parameters
                    .insert(key.clone(), pair.value.clone())
                    .is_some()
                {
                    return Err(PathError::RepeatedQueryParameter(key.clone()).into());
                }
                continue;
            }
            if readings.iter().any(|r| r == "access_token") {
                return Err(PathError::TokenInQuery.into());
            }
            if readings.iter().any(|r| {
                METHOD_OVERRIDE_PARAMETERS.contains(&r.as_str())
                    || route
                        .query
                        .iter()
                        .any(|q| query_name_readings(q).contains(r))
            }) {
                return Err(PathError::AmbiguousQueryParameter(key.clone()).into());
            }
        }
        Ok(RouteMatch {
            action: route.action.clone(),
            method,
            template: route.template.clone(),
            path: encode_path(&segments),
            query: query.and_then(|_| encode_query(&query_pairs)),
            path_parameters,
            query_parameters,
            public: route.public,
        })
    }
}

/// Query parameter names that frameworks read as a method override.
const METHOD_OVERRIDE_PARAMETERS: [&str; 4] = [
    "_method",
    "x_http_method_override",
    "x_http_method",
    "x_method_override",
];

/// A query parameter name as lenient origins read it, ASCII lowercase, with `.`, space and
/// `-` read as `_`:
/// - cut at the first `[` (Rails and PHP arrays);
/// - as PHP reads it: leading spaces dropped, and a `[` that no `]` follows read as `_`,
///   with every later space, `.` and `[` (so `%20_method` is `_method`, and `pet[type` is
///   `pet_type`).
fn query_name_readings(name: &str) -> [String; 2] {
    let fold = |c: char| match c {
        '.' | ' ' | '-' => '_',
        c => c.to_ascii_lowercase(),
    };
    let cut = name
        .split('[')
        .next()
        .unwrap_or(name)
        .chars()
        .map(fold)
        .collect();
    let trimmed = name.trim_start_matches(' ');
    let php = match trimmed.split_once('[') {
        Some((base, rest)) if rest.contains(']') => base.chars().map(fold).collect(),
        Some((base, rest)) => {
            let rest: String = rest
                .chars()
                .map(|c| if c == '[' { '_' } else { fold(c) })
                .collect();
            format!("{}_{rest}", base.chars().map(fold).collect::<String>())
        }
        None => trimmed.chars().map(fold).collect(),
    };
    [cut, php]
}

fn same_shape(a: &[Segment], b: &[Segment]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (Segment::Literal(x), Segment::Literal(y)) => x == y,
            (Segment::Param(_), Segment::Param(_)) | (Segment::Greedy(_), Segment::Greedy(_)) => {
                true
            }
            _ => false,
        })
}

/// The ranks of the route's segments if it matches, for "literal beats parameter beats
/// greedy" comparison from the left.
fn score(route: &[Segment], path: &[String]) -> Option<Vec<u8>> {
    let mut ranks = Vec::with_capacity(route.len());
    for (i, seg) in route.iter().enumerate() {
        match seg {
            Segment::Literal(lit) => {
                if path.get(i)? != lit {
                    return None;
                }
            }
            Segment::Param(_) => {
                path.get(i)?;
            }
            Segment::Greedy(_) => {
                path.get(i)?;
                ranks.push(seg.rank());
                return Some(ranks);
            }
        }
        ranks.push(seg.rank());
    }
    (route.len() == path.len()).then_some(ranks)
}

/// Whether the route matches if its literal segments are compared without ASCII case.
fn score_ignoring_case(route: &[Segment], path: &[String]) -> bool {
    for (i, seg) in route.iter().enumerate() {
        match seg {
            Segment::Literal(lit) => match path.get(i) {
                Some(p) if p.eq_ignore_ascii_case(lit) => {}
                _ => return false,
            },
            Segment::Param(_) if path.get(i).is_some() => {}
            Segment::Greedy(_) => return path.get(i).is_some(),
            Segment::Param(_) => return false,
        }
    }
    route.len() == path.len()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes one component. `plus_is_space` for query strings.
fn percent_decode(raw: &str, plus_is_space: bool) -> Result<Vec<u8>, PathError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let (Some(h), Some(l)) = (
                    bytes.get(i + 1).copied().and_then(hex),
                    bytes.get(i + 2).copied().and_then(hex),
                ) else {
                    return Err(PathError::InvalidPercentEncoding);
                };
                out.push(h << 4 | l);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

fn decode_path(path: &str) -> Result<Vec<String>, PathError> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(PathError::NotAbsolute);
    };
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    if rest.contains(';') {
        return Err(PathError::Semicolon);
    }
    let mut segments = Vec::new();
    for raw in rest.split('/') {
        if raw.is_empty() {
            return Err(PathError::EmptySegment);
        }
        let bytes = percent_decode(raw, false)?;
        for &b in &bytes {
            match b {
                b'/' => return Err(PathError::EncodedSlash),
                b'\\' => return Err(PathError::Backslash),
                0 => return Err(PathError::Nul),
                b if b < 0x20 || b == 0x7f => return Err(PathError::ControlCharacter),
                _ => {}
            }
        }
        let text = String::from_utf8(bytes).map_err(|_| PathError::InvalidUtf8)?;
        if text == "." || text == ".." {
            return Err(PathError::DotSegment);
        }
        segments.push(text);
    }
    Ok(segments)
}

/// One `name[=value]` pair of a query string, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct QueryPair {
    key: String,
    value: String,
    /// Whether the pair had `=` (`a=` and `a` are forwarded as they came).
    has_value: bool,
}

fn decode_query(query: &str) -> Result<Vec<QueryPair>, PathError> {
    if query.contains(';') {
        return Err(PathError::QuerySemicolon);
    }
    let decode = |raw: &str| {
        String::from_utf8(percent_decode(raw, true).map_err(|_| PathError::InvalidQuery)?)
            .map_err(|_| PathError::InvalidQuery)
    };
    let mut pairs = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v, has_value) = match part.split_once('=') {
            Some((k, v)) => (k, v, true),
            None => (part, "", false),
        };
        let key = decode(k)?;
        let value = decode(v)?;
        if key.chars().chain(value.chars()).any(char::is_control) {
            return Err(PathError::InvalidQuery);
        }
        pairs.push(QueryPair {
            key,
            value,
            has_value,
        });
    }
    Ok(pairs)
}

/// Percent-encodes `text` onto `out`: RFC 3986 unreserved characters stay, every other byte
/// is `%XX`, so no reserved character reaches the origin with a meaning it did not have here.
fn encode_component(text: &str, out: &mut String) {
    crate::percent::encode_into(text, b"", out);
}

/// Re-encodes decoded segments canonically (see [`encode_component`]).
fn encode_path(segments: &[String]) -> String {
    if segments.is_empty() {
        return "/".into();
    }
    let mut out = String::new();
    for seg in segments {
        out.push('/');
        encode_component(seg, &mut out);
    }
    out
}

/// The query rebuilt from what was parsed; `None` when nothing is left.
fn encode_query(pairs: &[QueryPair]) -> Option<String> {
    if pairs.is_empty() {
        return None;
    }
    let mut out = String::new();
    for (i, pair) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_component(&pair.key, &mut out);
        if pair.has_value {
            out.push('=');
            encode_component(&pair.value, &mut out);
        }
    }
    Some(out)
}

impl fmt::Display for RouteMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn table(routes: &[&str], query: &[&str]) -> RouteTable {
        let routes = routes
            .iter()
            .map(|r| {
                let (method, template, segments) = parse_route(r).unwrap_or_default();
                Route {
                    action: format!("{method} {template}"),
                    method,
                    template,
                    segments,
                    query: query.iter().map(|s| (*s).to_owned()).collect(),
                    public: false,
                }
            })
            .collect();
        RouteTable { routes }
    }

    #[test]
    fn literal_segments_win_over_parameters_and_greedy_last() {
        let t = table(
            &[
                "get /pets/{petId}",
                "get /pets/mine",
                "get /pets/{rest+}",
                "get /{proxy+}",
            ],
            &[],
        );
        assert_eq!(
            t.resolve("GET", "/pets/mine").map(|m| m.template),
            Ok("/pets/mine".into())
        );
        assert_eq!(
            t.resolve("get", "/pets/7").map(|m| m.template),
            Ok("/pets/{petId}".into())
        );
        let deep = t.resolve("get", "/pets/7/toys");
        assert_eq!(
            deep.as_ref().map(|m| m.template.as_str()),
            Ok("/pets/{rest+}")
        );
        assert_eq!(
            deep.map(|m| m.path_parameters.get("rest").cloned()),
            Ok(Some("7/toys".into()))
        );
        assert_eq!(
            t.resolve("get", "/other").map(|m| m.template),
            Ok("/{proxy+}".into())
        );
        // No route names POST at all: refused, with the methods the path has.
        assert_eq!(
            t.resolve("post", "/pets/7"),
            Err(RouteError::MethodNotAllowed {
                allow: vec!["GET".into()]
            })
        );
    }

    #[test]
    fn confusing_paths_are_refused() {
        let t = table(&["get /pets/{petId}", "get /admin"], &[]);
        let refused = |p: &str| match t.resolve("get", p) {
            Err(RouteError::Refused(e)) => Some(e),
            _ => None,
        };
        assert_eq!(refused("/pets/../admin"), Some(PathError::DotSegment));
        assert_eq!(refused("/pets/%2e%2e/admin"), Some(PathError::DotSegment));
        assert_eq!(refused("/pets/a%2Fb"), Some(PathError::EncodedSlash));
        assert_eq!(refused("/pets/a%5cb"), Some(PathError::Backslash));
        assert_eq!(refused("/pets\\7"), Some(PathError::Backslash));
        assert_eq!(refused("//admin"), Some(PathError::EmptySegment));
        assert_eq!(refused("/admin/"), Some(PathError::EmptySegment));
        assert_eq!(refused("/pets/%00"), Some(PathError::Nul));
        assert_eq!(refused("/pets/%0a"), Some(PathError::ControlCharacter));
        assert_eq!(
            refused("/pets/%zz"),
            Some(PathError::InvalidPercentEncoding)
        );
        assert_eq!(refused("/pets/%ff"), Some(PathError::InvalidUtf8));
        assert_eq!(refused("pets"), Some(PathError::NotAbsolute));
        assert_eq!(refused("/admin#x"), Some(PathError::Fragment));
        assert_eq!(
            t.resolve("GE T", "/admin").err(),
            Some(PathError::InvalidMethod.into())
        );
        assert_eq!(t.resolve("get", "/ADMIN"), Err(RouteError::NoRoute));
    }

    #[test]
    fn encoded_literals_match_and_are_forwarded_canonically() {
        let t = table(&["get /pets/{petId}"], &[]);
        let m = t.resolve("get", "/p%65ts/a%20b");
        assert_eq!(m.as_ref().map(|m| m.path.as_str()), Ok("/pets/a%20b"));
        assert_eq!(
            m.map(|m| m.path_parameters.get("petId").cloned()),
            Ok(Some("a b".into()))
        );
    }

    #[test]
    fn declared_query_parameters_are_decoded_and_must_not_repeat() {
        let t = table(&["get /pets"], &["type"]);
        let m = t.resolve("get", "/pets?type=dog+cat&other=1&other=2");
        assert_eq!(
            m.as_ref().map(|m| m.query_parameters.get("type").cloned()),
            Ok(Some("dog cat".into()))
        );
        // Forwarded as parsed: names and values re-encoded, `+` as the space it meant.
        assert_eq!(
            m.map(|m| m.query),
            Ok(Some("type=dog%20cat&other=1&other=2".into()))
        );
        assert_eq!(
            t.resolve("get", "/pets?type=dog&type=cat"),
            Err(PathError::RepeatedQueryParameter("type".into()).into())
        );
        assert_eq!(
            t.resolve("get", "/pets?type=%zz"),
            Err(PathError::InvalidQuery.into())
        );
    }

    #[test]
    fn methods_no_route_names_are_refused_with_the_allowed_ones() {
        let t = table(
            &["get /pets/{petId}", "delete /pets/{petId}", "post /pets"],
            &[],
        );
        for method in [
            "MOVE", "PURGE", "PROPFIND", "COPY", "LOCK", "MKCOL", "SEARCH", "HEAD",
        ] {
            assert_eq!(
                t.resolve(method, "/pets/7"),
                Err(RouteError::MethodNotAllowed {
                    allow: vec!["DELETE".into(), "GET".into()]
                }),
                "{method}"
            );
        }
        assert_eq!(
            t.resolve("MOVE", "/nowhere"),
            Err(RouteError::MethodNotAllowed { allow: vec![] })
        );
        // A method some route names, on a path it does not match, is still "no route".
        assert_eq!(t.resolve("POST", "/pets/7"), Err(RouteError::NoRoute));
        assert_eq!(
            t.resolve("M-SEARCH", "/pets/7").err(),
            Some(PathError::InvalidMethod.into())
        );
        let m = t.resolve("gEt", "/pets/7");
        assert_eq!(m.map(|m| m.method), Ok("get".into()));
    }

    #[test]
    fn semicolons_are_refused_in_paths_and_queries() {
        let t = table(&["get /pets/{petId}", "get /admin"], &["type"]);
        let refused = |p: &str| match t.resolve("get", p) {
            Err(RouteError::Refused(e)) => Some(e),
            _ => None,
        };
        assert_eq!(refused("/pets/..;/admin"), Some(PathError::Semicolon));
        assert_eq!(refused("/admin;jsessionid=1"), Some(PathError::Semicolon));
        assert_eq!(refused("/pets/7;x=1"), Some(PathError::Semicolon));
        assert_eq!(
            refused("/pets/7?a=1;type=x"),
            Some(PathError::QuerySemicolon)
        );
        // Encoded, it is data: forwarded encoded, never as a raw delimiter.
        let m = t.resolve("get", "/pets/a%3Bb");
        assert_eq!(m.as_ref().map(|m| m.path.as_str()), Ok("/pets/a%3Bb"));
        assert_eq!(
            m.map(|m| m.path_parameters.get("petId").cloned()),
            Ok(Some("a;b".into()))
        );
    }

    #[test]
    fn only_unreserved_characters_are_forwarded_literally() {
        let t = table(&["get /pets/{petId}"], &[]);
        for (raw, decoded, forwarded) in [
            ("%3D", "=", "%3D"),
            ("%2C", ",", "%2C"),
            ("%2B", "+", "%2B"),
            ("%40", "@", "%40"),
            ("%3A", ":", "%3A"),
            ("a!$'()*", "a!$'()*", "a%21%24%27%28%29%2A"),
            ("%7E-._", "~-._", "~-._"),
        ] {
            let m = t.resolve("get", &format!("/pets/{raw}"));
            assert_eq!(
                m.as_ref().map(|m| m.path_parameters.get("petId").cloned()),
                Ok(Some(decoded.into())),
                "{raw}"
            );
            assert_eq!(m.map(|m| m.path), Ok(format!("/pets/{forwarded}")), "{raw}");
        }
    }

    #[test]
    fn the_query_is_forwarded_as_it_was_parsed() {
        let t = table(&["get /pets"], &["type"]);
        let q = |target: &str| t.resolve("get", target).map(|m| m.query);
        assert_eq!(q("/pets"), Ok(None));
        assert_eq!(q("/pets?"), Ok(None));
        assert_eq!(q("/pets?&&"), Ok(None));
        assert_eq!(q("/pets?a&b=&c=1"), Ok(Some("a&b=&c=1".into())));
        assert_eq!(
            q("/pets?type=dog%26admin%3D1"),
            Ok(Some("type=dog%26admin%3D1".into()))
        );
        assert_eq!(q("/pets?x=%2B%20+"), Ok(Some("x=%2B%20%20".into())));
        assert_eq!(q("/pets?na%6De=v%61l"), Ok(Some("name=val".into())));
    }

    #[test]
    fn query_names_an_origin_could_read_as_declared_ones_are_refused() {
        let t = table(&["get /pets", "post /pets"], &["pet_type"]);
        for target in [
            "/pets?pet.type=x",
            "/pets?pet%20type=x",
            "/pets?pet+type=x",
            "/pets?PET_TYPE=x",
            "/pets?pet_type[]=x",
            "/pets?pet_type[a]=x",
            "/pets?pet-type=x",
            "/pets?_method=DELETE",
            "/pets?_METHOD=DELETE",
            "/pets?x-http-method-override=DELETE",
            // PHP drops leading spaces and reads an unclosed `[` as `_`.
            "/pets?+_method=DELETE",
            "/pets?%20_method=DELETE",
            "/pets?%20%20_METHOD=DELETE",
            "/pets?%20pet_type=x",
            "/pets?pet[type=x",
            "/pets?_method[=DELETE",
        ] {
            assert!(
                matches!(
                    t.resolve("post", target),
                    Err(RouteError::Refused(PathError::AmbiguousQueryParameter(_)))
                ),
                "{target}"
            );
        }
        assert!(t.resolve("get", "/pets?pet_type=x&other.name=y").is_ok());
        // Arrays of other names, and names that only contain a declared one, stay allowed.
        assert!(
            t.resolve("get", "/pets?pet[]=x&pet[kind]=y&my_pet_type=z")
                .is_ok()
        );
    }

    #[test]
    fn a_token_in_the_query_is_refused_in_any_spelling() {
        let t = table(&["get /pets"], &["access_token_hint"]);
        for target in [
            "/pets?access_token=x",
            "/pets?ACCESS_TOKEN=x",
            "/pets?access.token=x",
            "/pets?access-token=x",
            "/pets?access_token[]=x",
            "/pets?+access_token=x",
            "/pets?a=1&access%5Ftoken=x",
        ] {
            assert_eq!(
                t.resolve("get", target).map(|m| m.action),
                Err(PathError::TokenInQuery.into()),
                "{target}"
            );
        }
        assert!(
            t.resolve("get", "/pets?access_token_hint=x&token=y")
                .is_ok()
        );
    }

    #[test]
    fn a_query_name_an_origin_could_read_as_a_path_parameter_is_refused() {
        // `DELETE /pets/1?petId=2` is decided for pet 1; an origin whose query input shadows
        // its route values would delete pet 2.
        let t = table(
            &["delete /pets/{petId}", "get /pets", "get /files/{path+}"],
            &["petId"],
        );
        for (method, target, name) in [
            ("delete", "/pets/1?petId=2", "petId"),
            ("delete", "/pets/1?petId=1", "petId"),
            ("delete", "/pets/1?a=b&petId=2", "petId"),
            ("delete", "/pets/1?petid=2", "petid"),
            ("delete", "/pets/1?PETID=2", "PETID"),
            ("delete", "/pets/1?petId[]=2", "petId[]"),
            ("delete", "/pets/1?petId[a]=2", "petId[a]"),
            ("delete", "/pets/1?+petId=2", " petId"),
            ("delete", "/pets/1?%20petId=2", " petId"),
            ("delete", "/pets/1?pet%49d=2", "petId"),
            ("get", "/files/a/b?path=c", "path"),
            ("get", "/files/a/b?Path[=c", "Path["),
        ] {
            assert_eq!(
                t.resolve(method, target).map(|m| m.action),
                Err(PathError::PathParameterInQuery(name.into()).into()),
                "{method} {target}"
            );
        }
        // A route without the parameter takes the name as any other, here a declared one.
        let m = t.resolve("get", "/pets?petId=2").unwrap();
        assert_eq!(
            m.query_parameters.get("petId").map(String::as_str),
            Some("2")
        );
        // Names that only contain a parameter's stay allowed.
        assert!(t.resolve("delete", "/pets/1?petIds=2&my_petId=3").is_ok());
    }

    #[test]
    fn a_path_another_route_takes_when_case_is_ignored_is_refused() {
        let t = table(
            &[
                "get /pets/mine",
                "get /pets/{petId}",
                "get /admin",
                "get /{proxy+}",
            ],
            &[],
        );
        for target in ["/pets/MINE", "/pets/Mine", "/ADMIN", "/Admin"] {
            assert_eq!(
                t.resolve("get", target).map(|m| m.action),
                Err(PathError::CaseVariant.into()),
                "{target}"
            );
        }
        assert_eq!(
            t.resolve("get", "/pets/mine").unwrap().action,
            "get /pets/mine"
        );
        assert_eq!(
            t.resolve("get", "/pets/7").unwrap().action,
            "get /pets/{petId}"
        );
        assert_eq!(t.resolve("get", "/admin").unwrap().action, "get /admin");
        assert_eq!(
            t.resolve("get", "/other/x").unwrap().action,
            "get /{proxy+}"
        );
        // Another method's literal is no other route for this request.
        let t = table(&["post /pets/mine", "get /pets/{petId}"], &[]);
        assert_eq!(
            t.resolve("get", "/pets/MINE").unwrap().action,
            "get /pets/{petId}"
        );
        // Without a case-insensitive twin, case is the caller's (no route, or a parameter).
        let t = table(&["get /pets"], &[]);
        assert_eq!(
            t.resolve("get", "/PETS").map(|m| m.action),
            Err(RouteError::NoRoute)
        );
    }

    #[test]
    fn templates_are_checked() {
        assert!(parse_route("get /pets/{id}/{id}").is_err());
        assert!(parse_route("get /pets/{rest+}/x").is_err());
        assert!(parse_route("GET /pets").is_err());
        assert!(parse_route("get pets").is_err());
        assert!(parse_route("get /a//b").is_err());
        assert!(parse_route("get /a/../b").is_err());
        assert!(parse_route("get /").is_ok());
        let t = table(&["get /a/{x}", "get /a/{y}"], &[]);
        assert!(t.check_overlaps().is_err());
    }
}
