//! Request context: what a policy may see of one request beyond the principal and the
//! route. An action declares it in the schema, in two records of its `context`:
//!
//! ```cedarschema
//! type Request = {
//!     time: Long,                       // the edge's clock, seconds since the epoch
//!     ip?: ipaddr,                      // the client's address (CF-Connecting-IP)
//!     country?: String,                 // ISO 3166 code from request.cf.country
//!     headers: { "x-tenant"?: String }, // selected request headers, by lowercase name
//! };
//! type Token = {
//!     acr?: String, amr?: Set<String>, auth_time?: Long, client_id?: String,
//! };
//! action "delete /pets/{petId}" appliesTo {
//!     principal: [User], resource: Application,
//!     context: { pathParameters: { petId: String }, request: Request, token: Token },
//! };
//! ```
//!
//! Which of them a worker fills is an allow-list of its own ([`ContextConfig`]), checked
//! against every action when the bundle is bound (`Bundle::check_context`): a declared
//! value the allow-list leaves out is an error, not a value that silently never arrives.
//! The values themselves are handed in per request ([`RequestValues`]): the core still
//! reads no clock and no header.

use crate::schema_info::{Attribute, CedarType};
use crate::time::UnixTime;
use cedar_policy::RestrictedExpression;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// Request headers that never go into a context: they carry credentials.
pub const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// Request headers the edge never passes from a client to the origin, by lowercase name:
/// hop-by-hop headers, `host` and `content-length` (the platform sets them), method
/// overrides and rewrites (the origin must act on the method and path that were authorized),
/// and forwarding headers (a client must not choose the address, host or scheme the origin
/// believes).
const NEVER_FORWARDED: [&str; 24] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-method",
    "x-original-url",
    "x-rewrite-url",
    "forwarded",
    "x-real-ip",
    "true-client-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "x-host",
    "x-original-host",
];

/// Whether the edge never passes a client's request header of this name (any letter case)
/// to the origin: the headers it lists (`NEVER_FORWARDED`) and every `x-cedargate-*` (the origin trusts those to
/// come from the edge: identity headers, the assertion, monitor mode's `x-cedargate-decision`)
/// and `x-forwarded-*` header. `authorization` is not among them: whether
/// it is passed on is the worker's configuration. The one list the edge strips by and the
/// context allow-list is checked against, so no policy decides on a header the origin
/// never receives.
pub fn never_forwarded(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("x-cedargate-")
        || name.starts_with("x-forwarded-")
        || NEVER_FORWARDED.contains(&name.as_str())
}

/// The values of one request that a context can be filled from. The caller reads them (the
/// edge: its clock, `CF-Connecting-IP`, `request.cf.country`, the headers the bundle names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestValues {
    /// When the request arrived.
    pub time: UnixTime,
    /// The client's IP address, as text (IPv4 or IPv6). An address that does not parse
    /// denies the request rather than going missing.
    pub ip: Option<String>,
    /// The client's country, as the platform reports it (ISO 3166-1 alpha-2).
    pub country: Option<String>,
    /// Request headers by lowercase name; only the ones the bundle declares are used
    /// (`Bundle::context_needs`).
    pub headers: BTreeMap<String, String>,
}

impl RequestValues {
    /// Values with the time only.
    pub fn at(time: UnixTime) -> Self {
        Self {
            time,
            ip: None,
            country: None,
            headers: BTreeMap::new(),
        }
    }
}

/// A token claim a context can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenValue {
    /// `acr`, the authentication context class (a string).
    Acr,
    /// `amr`, the authentication methods (an array of strings).
    Amr,
    /// `auth_time`, when the person authenticated (seconds since the epoch).
    AuthTime,
    /// `client_id`, the client the token was issued to.
    ClientId,
}

impl TokenValue {
    /// Every one, in schema order.
    pub const ALL: [Self; 4] = [Self::Acr, Self::Amr, Self::AuthTime, Self::ClientId];

    /// The claim's name, which is also the attribute's.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Acr => "acr",
            Self::Amr => "amr",
            Self::AuthTime => "auth_time",
            Self::ClientId => "client_id",
        }
    }

    fn cedar(self) -> CedarType {
        match self {
            Self::Acr | Self::ClientId => CedarType::String,
            Self::Amr => CedarType::Set(Box::new(CedarType::String)),
            Self::AuthTime => CedarType::Long,
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == name)
    }
}

impl fmt::Display for TokenValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which request values a worker puts into contexts: the allow-list. Everything is off by
/// default; a bundle whose actions declare a value that is not allowed here is refused when
/// bound (`Bundle::check_context`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextConfig {
    /// `request.time`, from the edge's clock. Default false.
    #[serde(default)]
    pub time: bool,
    /// `request.ip`, the client's address. Default false.
    #[serde(default)]
    pub ip: bool,
    /// `request.country`. Default false.
    #[serde(default)]
    pub country: bool,
    /// `request.headers`, by lowercase name. Default none. `authorization`, `cookie` and
    /// `proxy-authorization` are refused: credentials never go into a context. So is a
    /// header the edge never passes to the origin ([`never_forwarded`]: hop-by-hop, `host`,
    /// `x-forwarded-*`, `forwarded`, `x-real-ip`, ...): the origin would not see the value
    /// the policies decided on.
    #[serde(default)]
    pub headers: Vec<String>,
    /// `token.*`: claims of the verified token. Default none.
    #[serde(default)]
    pub token: Vec<TokenValue>,
}

/// Why a worker's context allow-list does not fit a bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// A header name that is not a lowercase HTTP token, a credential header, or one the
    /// edge never forwards to the origin.
    #[error("context.headers: {0}")]
    Header(String),
    /// An action declares a value that the allow-list does not fill.
    #[error(
        "action \"{action}\" declares context.{value}, which the worker's context configuration does not fill (add it there or take it out of the schema)"
    )]
    NotAllowed { action: String, value: String },
}

/// A claim the token carried for a context: absent, a value, or of the wrong JSON type
/// (which denies any request whose context needs it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) enum Slot<T> {
    #[default]
    Absent,
    Value(T),
    Malformed,
}

/// The claims of a verified token a context may carry, read when it is mapped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct TokenValues {
    pub(crate) acr: Slot<String>,
    pub(crate) amr: Slot<Vec<String>>,
    pub(crate) auth_time: Slot<i64>,
    pub(crate) client_id: Slot<String>,
}

impl TokenValues {
    pub(crate) fn from_claims(claims: &Map<String, Value>) -> Self {
        let string = |name: &str| match claims.get(name) {
            None => Slot::Absent,
            Some(Value::String(s)) => Slot::Value(s.clone()),
            Some(_) => Slot::Malformed,
        };
        Self {
            acr: string("acr"),
            amr: match claims.get("amr") {
                None => Slot::Absent,
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .map_or(Slot::Malformed, Slot::Value),
                Some(_) => Slot::Malformed,
            },
            auth_time: match claims.get("auth_time") {
                None => Slot::Absent,
                Some(v) => v.as_i64().map_or(Slot::Malformed, Slot::Value),
            },
            client_id: string("client_id"),
        }
    }
}

/// What an action's `request` record declares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RequestShape {
    pub(crate) time: bool,
    pub(crate) ip: bool,
    pub(crate) country: bool,
    /// Declared header names; `None` when there is no `headers` record.
    pub(crate) headers: Option<Vec<String>>,
}

/// What an action's `token` record declares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TokenShape {
    pub(crate) values: Vec<TokenValue>,
}

fn record<'a>(name: &str, attr: &'a Attribute) -> Result<&'a BTreeMap<String, Attribute>, String> {
    match &attr.ty {
        CedarType::Record(fields) => Ok(fields),
        other => Err(format!(
            "context.{name} must be a record, not {}",
            other.describe()
        )),
    }
}

/// Checks a header name: a lowercase HTTP token that carries no credentials and that the
/// edge passes on to the origin ([`never_forwarded`]), so the origin sees what was decided.
pub(crate) fn check_header_name(name: &str) -> Result<(), String> {
    let token =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(format!("\"{name}\" is not a lowercase header name"));
    }
    if CREDENTIAL_HEADERS.contains(&name) {
        return Err(format!(
            "\"{name}\" carries credentials and cannot be put into a context"
        ));
    }
    if never_forwarded(name) {
        return Err(format!(
            "\"{name}\" is never forwarded to the origin, so a policy cannot decide on it"
        ));
    }
    Ok(())
}

/// Reads an action's `request` record.
pub(crate) fn request_shape(attr: &Attribute) -> Result<RequestShape, String> {
    let mut shape = RequestShape::default();
    for (field, a) in record("request", attr)? {
        let expect = |ty: &str, ok: bool, optional_only: bool| -> Result<(), String> {
            if !ok {
                return Err(format!("context.request.{field} must be {ty}"));
            }
            if optional_only && a.required {
                return Err(format!(
                    "context.request.{field} must be optional (\"{field}?\"): not every request has it"
                ));
            }
            Ok(())
        };
        match field.as_str() {
            "time" => {
                expect("a Long", a.ty == CedarType::Long, false)?;
                shape.time = true;
            }
            "ip" => {
                let ok = matches!(&a.ty, CedarType::Other(n) if n == "ipaddr" || n.ends_with("::ipaddr"));
                expect("an ipaddr", ok, true)?;
                shape.ip = true;
            }
            "country" => {
                expect("a String", a.ty == CedarType::String, true)?;
                shape.country = true;
            }
            "headers" => {
                let mut names = Vec::new();
                for (name, h) in record("request.headers", a)? {
                    check_header_name(name).map_err(|e| format!("context.request.headers: {e}"))?;
                    if h.ty != CedarType::String || h.required {
                        return Err(format!(
                            "context.request.headers[\"{name}\"] must be an optional String (\"\\\"{name}\\\"?: String\")"
                        ));
                    }
                    names.push(name.clone());
                }
                shape.headers = Some(names);
            }
            other => {
                return Err(format!(
                    "context.request.{other} cannot be filled (only time, ip, country and headers can)"
                ));
            }
        }
    }
    Ok(shape)
}

/// Reads an action's `token` record.
pub(crate) fn token_shape(attr: &Attribute) -> Result<TokenShape, String> {
    let mut values = Vec::new();
    for (field, a) in record("token", attr)? {
        let Some(value) = TokenValue::from_name(field) else {
            return Err(format!(
                "context.token.{field} cannot be filled (only acr, amr, auth_time and client_id can)"
            ));
        };
        let want = value.cedar();
        if a.ty != want {
            return Err(format!("context.token.{field} must be {}", want.describe()));
        }
        if a.required {
            return Err(format!(
                "context.token.{field} must be optional (\"{field}?\"): not every token has it"
            ));
        }
        values.push(value);
    }
    Ok(TokenShape { values })
}

/// The `request` record for one request.
pub(crate) fn request_record(
    shape: &RequestShape,
    values: &RequestValues,
) -> Result<RestrictedExpression, String> {
    let mut fields: Vec<(String, RestrictedExpression)> = Vec::new();
    if shape.time {
        fields.push(("time".into(), RestrictedExpression::new_long(values.time.0)));
    }
    if shape.ip
        && let Some(ip) = &values.ip
    {
        let parsed: std::net::IpAddr = ip
            .parse()
            .map_err(|_| "the client's address is not an IP address".to_owned())?;
        fields.push((
            "ip".into(),
            RestrictedExpression::new_ip(parsed.to_string()),
        ));
    }
    if shape.country
        && let Some(country) = &values.country
    {
        fields.push((
            "country".into(),
            RestrictedExpression::new_string(country.clone()),
        ));
    }
    if let Some(names) = &shape.headers {
        let headers = names.iter().filter_map(|name| {
            values
                .headers
                .get(name)
                .map(|v| (name.clone(), RestrictedExpression::new_string(v.clone())))
        });
        fields.push((
            "headers".into(),
            RestrictedExpression::new_record(headers).map_err(|e| e.to_string())?,
        ));
    }
    RestrictedExpression::new_record(fields).map_err(|e| e.to_string())
}

/// The `token` record for one principal.
pub(crate) fn token_record(
    shape: &TokenShape,
    token: &TokenValues,
) -> Result<RestrictedExpression, String> {
    let malformed = |claim: &str, what: &str| format!("the token's {claim} claim is not {what}");
    let mut fields: Vec<(String, RestrictedExpression)> = Vec::new();
    for value in &shape.values {
        let expr = match value {
            TokenValue::Acr => match &token.acr {
                Slot::Absent => None,
                Slot::Value(s) => Some(RestrictedExpression::new_string(s.clone())),
                Slot::Malformed => return Err(malformed("acr", "a string")),
            },
            TokenValue::ClientId => match &token.client_id {
                Slot::Absent => None,
                Slot::Value(s) => Some(RestrictedExpression::new_string(s.clone())),
                Slot::Malformed => return Err(malformed("client_id", "a string")),
            },
            TokenValue::Amr => match &token.amr {
                Slot::Absent => None,
                Slot::Value(items) => Some(RestrictedExpression::new_set(
                    items.iter().cloned().map(RestrictedExpression::new_string),
                )),
                Slot::Malformed => return Err(malformed("amr", "an array of strings")),
            },
            TokenValue::AuthTime => match &token.auth_time {
                Slot::Absent => None,
                Slot::Value(t) => Some(RestrictedExpression::new_long(*t)),
                Slot::Malformed => return Err(malformed("auth_time", "an integer")),
            },
        };
        if let Some(expr) = expr {
            fields.push((value.name().to_owned(), expr));
        }
    }
    RestrictedExpression::new_record(fields).map_err(|e| e.to_string())
}

/// The request values a bundle's actions declare, all actions together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContextNeeds {
    /// Some action declares `request.time`.
    pub time: bool,
    /// Some action declares `request.ip`.
    pub ip: bool,
    /// Some action declares `request.country`.
    pub country: bool,
    /// Header names some action declares, sorted.
    pub headers: Vec<String>,
    /// Token claims some action declares, sorted.
    pub token: Vec<TokenValue>,
}

/// The context paths (`request.time`, `token.acr`, `pathParameters.petId`) an expression
/// reads, from a policy's JSON form: each longest chain of attribute accesses (and `has`
/// tests) that starts at `context`.
pub(crate) fn context_paths(policy: &Value, out: &mut Vec<String>) {
    fn chain(expr: &Value) -> Option<Vec<String>> {
        if expr.get("Var").and_then(Value::as_str) == Some("context") {
            return Some(Vec::new());
        }
        let access = expr.get(".").or_else(|| expr.get("has"))?;
        let mut path = chain(access.get("left")?)?;
        path.push(access.get("attr")?.as_str()?.to_owned());
        Some(path)
    }
    match policy {
        Value::Object(map) => {
            if let Some(path) = chain(policy).filter(|p| !p.is_empty()) {
                out.push(path.join("."));
                return;
            }
            for value in map.values() {
                context_paths(value, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                context_paths(item, out);
            }
        }
        _ => {}
    }
}
