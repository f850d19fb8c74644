//! The worker's configuration: one JSON object in the `CEDARGATE_CONFIG` variable
//! (`[vars.CEDARGATE_CONFIG]` in wrangler.toml). Checked once per isolate; a worker with an
//! invalid configuration answers every request 500 and logs why.

use cedargate::TrustConfig;
use cedargate::url::{HttpUrl, UrlError};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Everything the worker is told by its environment.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeConfig {
    /// Trusted issuers and how their claims map to principals (the shared core's
    /// [`TrustConfig`]).
    pub trust: TrustConfig,
    /// Base URL of the API being guarded, e.g. `https://petstore.internal.example`. A path
    /// prefix is kept: `https://host/api` + `/pets` = `https://host/api/pets`. The value
    /// `none` answers allowed requests 204 without forwarding them (to measure the gate
    /// alone).
    #[serde(deserialize_with = "origin")]
    pub origin: Origin,
    /// How signatures are checked: `webcrypto` (default; the platform's `crypto.subtle`) or
    /// `rust` (the pure-Rust path, for comparison: about 1 ms per new token in workerd). The
    /// worker is built without pure-Rust P-384 and P-521, so with `rust` ES384 and ES512
    /// tokens are refused with reason `signature_backend`.
    #[serde(default)]
    pub signature_backend: SignatureBackendChoice,
    /// Cross-origin access for browser apps.
    #[serde(default)]
    pub cors: CorsConfig,
    /// What a request that matches no route gets: `not_found` (404, and 405 with `Allow`
    /// for a method no route names; the default) or `forbidden` (403 for both, revealing no
    /// routes). It is never forwarded.
    #[serde(default)]
    pub unmatched: Unmatched,
    /// Key discovery and caching.
    #[serde(default)]
    pub keys: KeyCacheConfig,
    /// Verified tokens kept per isolate (by SHA-256 of the token, until `exp`), each with at
    /// most 8 of its decisions (by method and target as sent). Default 1024; 0 turns both
    /// caches off.
    #[serde(default = "default_token_cache_entries")]
    pub token_cache_entries: usize,
    /// Serve the policy bundle at `GET /.cedargate/bundle` to any holder of a valid token,
    /// so the browser app evaluates what the edge enforces. Default off.
    #[serde(default)]
    pub bundle_endpoint: bool,
    /// Pass the client's `Authorization` header on to the origin. Default true.
    #[serde(default = "yes")]
    pub forward_authorization: bool,
    /// Tokens of chosen issuers read from a cookie as well as from `Authorization`, for a
    /// same-site app or a backend-for-frontend that keeps the token out of script. Default
    /// off: only `Authorization` is read and cookies go to the origin as they came.
    #[serde(default)]
    pub token_cookie: Option<TokenCookieConfig>,
    /// Which requests get a JSON log line: `all` (default), `refusals` (everything but
    /// allowed requests) or `off`. Key and bundle events are always logged.
    #[serde(default)]
    pub request_log: RequestLog,
    /// Newer bundles from a KV namespace, if one is bound.
    #[serde(default)]
    pub bundle_kv: Option<BundleKvConfig>,
    /// RFC 7662 introspection of chosen issuers' tokens, for chosen methods and actions.
    /// Default none.
    #[serde(default)]
    pub introspection: Vec<IntrospectionConfig>,
    /// An emergency deny list of token and session ids in KV. Default off.
    #[serde(default)]
    pub deny_list: Option<DenyListConfig>,
    /// A signed identity assertion on every forwarded request, for origins that verify the
    /// edge instead of trusting the network. Default off.
    #[serde(default)]
    pub assertion: Option<AssertionConfig>,
    /// Which request values go into decisions (`cedargate::context`): the time, the client's
    /// address and country, named headers, token claims. Default none; a bundle whose
    /// actions declare a value not listed here is refused.
    #[serde(default)]
    pub context: cedargate::ContextConfig,
    /// The OpenID AuthZEN 1.0 endpoints (`cedargate::authzen`), answered by the worker from
    /// the built-in bundle's policies and entity data. Default off.
    #[serde(default)]
    pub authzen: Option<AuthzenConfig>,
    /// Monitor mode: whether the worker refuses what the policies do not allow, for the
    /// whole deployment and per action. Default: every action enforced.
    #[serde(default)]
    pub rollout: RolloutConfig,
}

/// Monitor mode, for putting cedargate or a new policy in front of traffic before it refuses
/// anything. A request of an action that is not enforced is decided exactly as on an
/// enforced one, and the decision is logged (`"mode": "monitor"`, with the status, reason
/// and policies of a refusal); but an authorization refusal (403 `forbidden` or
/// `insufficient_scope`, the 401 of a missing token, a step-up 401) is not answered: the
/// request goes to the origin with `X-Cedargate-Decision: would-deny; reason=<code>`, the
/// identity headers of a verified token (anonymous without one) and, when configured, an
/// assertion whose `enforced` is false. Allowed requests of such an action carry
/// `X-Cedargate-Decision: allow`. Every response of it carries `X-Cedargate-Mode: monitor`.
/// Malformed requests (400), requests no route matches, 413, 502, 503 and 500 are answered
/// as on an enforced action, and so is the bundle endpoint. A request's mode is its route's
/// action's: a request whose route cannot be matched has none, and is answered as enforced.
///
/// # Security
///
/// An action that is not enforced is not protected by the worker: whatever the policies
/// say, its requests reach the origin, which must treat `would-deny` requests as it would
/// treat unauthenticated ones. Use it while rolling out, then enforce.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutConfig {
    /// The deployment's mode: `true` refuses what the policies do not allow; `false`
    /// monitors every action `actions` does not enforce. The AuthZEN endpoints, which the
    /// worker answers itself, are enforced whatever this says. Default true.
    ///
    /// # Security
    ///
    /// With `false`, every request of a monitored action that matches a route reaches the
    /// origin, refused by the policies or not.
    #[serde(default = "yes")]
    pub enforce: bool,
    /// Per-action overrides of `enforce`, by action id (`{ "post /pets": true }`): `true`
    /// enforces the action in a deployment that monitors, `false` monitors it in one that
    /// enforces. Each action must be an action of the bundle's routes, checked at start and
    /// for every bundle from KV (which is refused when one is not), and may not be an AuthZEN
    /// endpoint's when `authzen` is configured. Default none: every action follows
    /// `enforce`.
    ///
    /// # Security
    ///
    /// An action set to `false` is not protected (see `enforce`).
    #[serde(default)]
    pub actions: BTreeMap<String, bool>,
    /// What a token that fails verification (forged, expired, revoked, inactive, a
    /// malformed `Authorization` header: the 401 `invalid_token` refusals) gets on an action
    /// that is not enforced: `refuse` (default) or `forward_without_identity`. On an
    /// enforced action it is always refused.
    ///
    /// # Security
    ///
    /// `forward_without_identity` sends such requests to the origin as anonymous: no
    /// identity header and no `Authorization` header, so a forged token is never forwarded,
    /// let alone as an identity; but the origin receives requests from callers whose token
    /// the worker refused.
    #[serde(default)]
    pub invalid_tokens: InvalidTokens,
}

impl Default for RolloutConfig {
    fn default() -> Self {
        Self {
            enforce: true,
            actions: BTreeMap::new(),
            invalid_tokens: InvalidTokens::default(),
        }
    }
}

/// What a token that fails verification gets on an action that is not enforced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvalidTokens {
    /// Refused with 401 `invalid_token`, as on an enforced action.
    #[default]
    Refuse,
    /// Forwarded as anonymous with `X-Cedargate-Decision: would-deny; reason=invalid_token`:
    /// without identity headers and without the `Authorization` header.
    ForwardWithoutIdentity,
}

impl RolloutConfig {
    /// Whether the request of `action` on the route `method template` is refused when the
    /// policies do not allow it: the action's override, else `enforce`; always for an
    /// AuthZEN endpoint when `authzen` is on (the worker answers those itself).
    pub fn enforces(&self, authzen: bool, method: &str, template: &str, action: &str) -> bool {
        (authzen && authzen_route(method, template))
            || self.actions.get(action).copied().unwrap_or(self.enforce)
    }

    /// Whether any action may be monitored: `enforce` is false, or an override is.
    pub fn monitors_any(&self) -> bool {
        !self.enforce || self.actions.values().any(|enforce| !enforce)
    }

    /// Whether the bundle's `routes` leave no override without effect: every action named is
    /// one of theirs, and none is an AuthZEN endpoint's (with `authzen` on) set to `false`.
    pub fn check_routes(
        &self,
        routes: &[cedargate::RouteEntry],
        authzen: bool,
    ) -> Result<(), EdgeConfigError> {
        for (action, enforce) in &self.actions {
            let mut of_action = routes.iter().filter(|r| &r.action == action).peekable();
            if of_action.peek().is_none() {
                return Err(EdgeConfigError::Rollout(format!(
                    "actions: \"{action}\" is not an action of the bundle's routes"
                )));
            }
            let answered_here = of_action.any(|r| {
                let (method, template) = r.route.split_once(' ').unwrap_or_default();
                authzen_route(method, template)
            });
            if authzen && answered_here && !enforce {
                return Err(EdgeConfigError::Rollout(format!(
                    "actions: \"{action}\" is an authzen endpoint the worker answers itself, which is always enforced"
                )));
            }
        }
        Ok(())
    }
}

/// Whether `method template` is one of the AuthZEN endpoints the worker answers itself (the
/// paths `authzen::Endpoint::of` names, which its tests hold to this list).
fn authzen_route(method: &str, template: &str) -> bool {
    use cedargate::authzen::{
        EVALUATION_PATH, EVALUATIONS_PATH, SEARCH_ACTION_PATH, SEARCH_RESOURCE_PATH,
        SEARCH_SUBJECT_PATH,
    };
    method.eq_ignore_ascii_case("post")
        && [
            EVALUATION_PATH,
            EVALUATIONS_PATH,
            SEARCH_SUBJECT_PATH,
            SEARCH_RESOURCE_PATH,
            SEARCH_ACTION_PATH,
        ]
        .contains(&template)
}

/// The AuthZEN decision endpoints. The metadata document is public; the Access Evaluation,
/// Access Evaluations and Action Search endpoints are routes of the bundle
/// (`post /access/v1/evaluation`, ...): their callers present a bearer token like any other
/// and the bundle's policies decide who may ask. Needs a built-in bundle with `authzen.json`
/// (the type mapping); with `bundle_kv`, a newer bundle from KV, with its own entity data, is
/// taken only if the mapping fits it and it routes the endpoints.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthzenConfig {
    /// The decision point's base URL as enforcement points know it (the worker's public
    /// URL), `policy_decision_point` of the metadata; https, or http to a loopback host,
    /// without a trailing slash.
    pub base_url: String,
    /// Tell callers the deciding policies (`context.reason_admin`). Default false: a caller
    /// learns decisions only, not how the policies are written.
    #[serde(default)]
    pub reasons: bool,
}

/// Introspection of one issuer's tokens (`cedargate::introspection`): asked after the
/// policies allow, before the request is forwarded.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionConfig {
    /// The trusted issuer (exactly as in `trust`) whose tokens are introspected.
    pub issuer: String,
    /// The provider's introspection endpoint (PingOne:
    /// `https://auth.pingone.<tld>/<environment id>/as/introspect`); https, or http to a
    /// loopback host.
    pub endpoint: String,
    /// The client the edge authenticates as (`client_secret_basic`).
    pub client_id: String,
    /// The Worker secret holding that client's secret. Default
    /// `CEDARGATE_INTROSPECTION_SECRET`.
    #[serde(default = "default_introspection_secret")]
    pub client_secret_secret: String,
    /// Methods (uppercase) whose requests are introspected. Default: every method.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Actions whose requests are introspected. Default: every action.
    #[serde(default)]
    pub actions: Vec<String>,
    /// How long an answer is reused for the same token, in seconds (never past the token's
    /// `exp`): a revoked token is refused within this time. Default 30, from 0 to 300.
    #[serde(
        rename = "cache_seconds",
        default = "default_introspection_cache",
        deserialize_with = "seconds"
    )]
    pub cache: Duration,
    /// Timeout of each introspection request, in milliseconds. Default 2000, from 1 to 10000.
    #[serde(
        rename = "timeout_ms",
        default = "default_introspection_timeout",
        deserialize_with = "milliseconds"
    )]
    pub timeout: Duration,
}

impl IntrospectionConfig {
    /// Whether a request of `method` that the policies allowed as `action` is introspected.
    /// Methods compare without case, as routing decides them: a request sent as `patch` is
    /// the `PATCH` it was decided and is forwarded as.
    pub fn applies(&self, method: &str, action: &str) -> bool {
        (self.methods.is_empty() || self.methods.iter().any(|m| m.eq_ignore_ascii_case(method)))
            && (self.actions.is_empty() || self.actions.iter().any(|a| a == action))
    }
}

impl IntrospectionConfig {
    /// Checks that each listed method and action can apply to a route of `routes` (a
    /// bundle's routes): every action is reached by a route of a listed method, every method
    /// by a route of a listed action. A setting that can never apply would turn the
    /// introspection it asks for off without a word (a typo, or a route renamed in a newer
    /// bundle), so it is refused.
    pub fn check_routes(&self, routes: &[cedargate::RouteEntry]) -> Result<(), EdgeConfigError> {
        let wrong = |reason: String| EdgeConfigError::IntrospectionBinding {
            issuer: self.issuer.clone(),
            reason,
        };
        let method_of = |r: &cedargate::RouteEntry| {
            r.route
                .split_once(' ')
                .map(|(m, _)| m.to_owned())
                .unwrap_or_default()
        };
        for action in &self.actions {
            let reached = routes
                .iter()
                .any(|r| &r.action == action && self.applies(&method_of(r), action));
            if !reached {
                let known = routes.iter().any(|r| &r.action == action);
                return Err(wrong(if known {
                    format!(
                        "action \"{action}\" has no route of the listed methods, so it is never introspected"
                    )
                } else {
                    format!("action \"{action}\" is not an action of the bundle's routes")
                }));
            }
        }
        for method in &self.methods {
            let reached = routes.iter().any(|r| {
                method_of(r).eq_ignore_ascii_case(method) && self.applies(method, &r.action)
            });
            if !reached {
                return Err(wrong(format!(
                    "method {method} has no route of the listed actions in the bundle, so it is never introspected"
                )));
            }
        }
        Ok(())
    }
}

fn default_introspection_secret() -> String {
    "CEDARGATE_INTROSPECTION_SECRET".into()
}

fn default_introspection_cache() -> Duration {
    Duration::from_secs(30)
}

fn default_introspection_timeout() -> Duration {
    Duration::from_millis(2000)
}

/// The deny list (`cedargate::revocation`): a KV entry `{ "jti": [...], "sid": [...] }`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenyListConfig {
    /// The KV binding's name in wrangler.toml.
    pub binding: String,
    /// The key of the entry. Default `denied`.
    #[serde(default = "default_deny_key")]
    pub key: String,
    /// How often an isolate reads the entry again, in seconds: a listed id is refused within
    /// this time. Default 30, from 1 to 3600.
    #[serde(
        rename = "refresh_seconds",
        default = "default_deny_refresh",
        deserialize_with = "seconds"
    )]
    pub refresh: Duration,
}

fn default_deny_key() -> String {
    "denied".into()
}

fn default_deny_refresh() -> Duration {
    Duration::from_secs(30)
}

/// The signed identity assertion (`X-Cedargate-Assertion`, see `cedargate::assertion`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertionConfig {
    /// The edge's name, the assertion's `iss` (e.g. the worker's public URL).
    pub issuer: String,
    /// The origin's name, the assertion's `aud`.
    pub audience: String,
    /// Lifetime of each assertion (`exp` - `iat`), in seconds. Default 60, from 1 to 300.
    #[serde(
        rename = "ttl_seconds",
        default = "default_assertion_seconds",
        deserialize_with = "seconds"
    )]
    pub ttl: Duration,
    /// The Worker secret holding the Ed25519 signing key (a 32-byte seed, unpadded
    /// base64url, as `cedargate keygen` writes). Default `CEDARGATE_ASSERTION_KEY`.
    #[serde(default = "default_assertion_secret")]
    pub key_secret: String,
    /// A Worker secret with the previous key: still published at `/.cedargate/jwks` while
    /// origins move to the new one. Default none.
    #[serde(default)]
    pub previous_key_secret: Option<String>,
}

fn default_assertion_seconds() -> Duration {
    Duration::from_secs(60)
}

fn default_assertion_secret() -> String {
    "CEDARGATE_ASSERTION_KEY".into()
}

/// Which requests are logged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestLog {
    /// Every request.
    #[default]
    All,
    /// Every request that was not allowed and forwarded.
    Refusals,
    /// None.
    Off,
}

/// The signature backend of the worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureBackendChoice {
    /// `crypto.subtle`, keys imported once per isolate.
    #[default]
    Webcrypto,
    /// jwt-compact's pure-Rust verification.
    Rust,
}

/// Where a newer policy bundle may be found.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleKvConfig {
    /// The KV binding's name in wrangler.toml.
    pub binding: String,
    /// The key holding the bundle document: JSON `{ "compiled", "serial" }` as `cedargate
    /// bundle` writes it (the bundle's compiled form; a text document is refused), or that JSON
    /// signed (see `public_key`). Default `current`.
    #[serde(default = "default_kv_key")]
    pub key: String,
    /// How often an isolate looks for a newer bundle, in seconds. Default 60.
    #[serde(
        rename = "refresh_seconds",
        default = "default_kv_refresh",
        deserialize_with = "seconds"
    )]
    pub refresh: Duration,
    /// The publisher's Ed25519 public key, 32 bytes in unpadded base64url (`cedargate keygen`
    /// prints it). When set, only documents signed with its private key are taken.
    /// Default: none, and only unsigned documents are taken.
    ///
    /// # Security
    ///
    /// Without a key, anyone who can write the KV entry decides the policies.
    #[serde(default, deserialize_with = "public_key")]
    pub public_key: Option<cedargate::BundlePublicKey>,
    /// The deployment this worker is (`production`, `staging`): a signed document is taken
    /// only when it names exactly this audience (`cedargate bundle --audience`), checked
    /// after its signature. Required with `public_key`; without one, a document that names
    /// an audience must name this one. Printable ASCII without spaces, quotes or
    /// backslashes, at most 128 bytes. Default: none.
    ///
    /// # Security
    ///
    /// The publisher's key does not say which deployment a document was signed for: with
    /// one key for staging and production, whoever can write production's KV entry could
    /// put a document signed for staging there. The audience is inside the signature, so
    /// such a document is refused. Give each deployment its own audience (or its own key).
    #[serde(default)]
    pub audience: Option<String>,
    /// Lowest serial a KV document may have, for new isolates too (an isolate never takes a
    /// serial at or below the one in force). Raise it after publishing to stop an older
    /// signed document from being put back. Default 0.
    #[serde(default)]
    pub min_serial: u64,
    /// Let the bundle compiled into the worker decide while no KV document is in force: on a
    /// new isolate until KV answers, and for as long as KV holds no document the worker
    /// takes (none, unreadable, badly signed, refused). Allowed only when the built-in
    /// bundle's serial is at or above `min_serial`; otherwise the worker refuses to run.
    /// Default false: KV is required, the first read is awaited on the request path, and
    /// until a document is in force every request gets 503 `bundle-unavailable`.
    ///
    /// # Security
    ///
    /// With this on, whoever can delete or garble the KV entry puts the built-in policies
    /// and entity data back in force on every new isolate. Turn it on only when the
    /// built-in bundle is one you would accept in force at any time (and raise its serial
    /// with `min_serial`).
    #[serde(default)]
    pub serve_built_in: bool,
    /// The key holding a staged candidate: a bundle document made for the staged slot
    /// (`cedargate bundle --stage`), read beside `key` on the same schedule and opened the
    /// same way (signature, audience), taken only with a serial above both the staged one
    /// before it and the live bundle's, and checked against this configuration like a live
    /// bundle. A share of requests (`shadow_percent`) is decided with it too, and every
    /// disagreement with the live bundle is logged (`decision_changed`); it never changes an
    /// answer. A staged document that is refused is logged (`staged_bundle_refused`) and the
    /// candidate before it (or none) stays; a missing or refused one never touches the live
    /// bundle. A candidate whose serial the live bundle reaches (`cedargate promote`) is
    /// retired. Must not be `key`. Default: none, and no request is decided twice.
    #[serde(default)]
    pub staged_key: Option<String>,
    /// The share of decided requests (from 0 to 100, in percent) also decided with the
    /// staged candidate, chosen by the request id, so the same request is always in or out.
    /// 100 decides every request twice (one more Cedar evaluation each). Default 100; only
    /// read with `staged_key`.
    #[serde(default = "default_shadow_percent")]
    pub shadow_percent: u8,
}

impl BundleKvConfig {
    /// Whether the built-in bundle with serial `built_in_serial` may decide before a KV
    /// document is in force; an error when the configuration asks for it although the
    /// serial is below `min_serial`.
    pub fn built_in_may_decide(&self, built_in_serial: u64) -> Result<bool, EdgeConfigError> {
        if !self.serve_built_in {
            return Ok(false);
        }
        if built_in_serial < self.min_serial {
            return Err(EdgeConfigError::BundleKv(format!(
                "serve_built_in: the built-in bundle's serial {built_in_serial} is below min_serial {}",
                self.min_serial
            )));
        }
        Ok(true)
    }
}

fn public_key<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<cedargate::BundlePublicKey>, D::Error> {
    let text: Option<String> = Option::deserialize(deserializer)?;
    text.map(|t| {
        cedargate::BundlePublicKey::from_base64url(&t)
            .map_err(|e| serde::de::Error::custom(format!("bundle_kv.public_key: {e}")))
    })
    .transpose()
}

/// What an unmatched request gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unmatched {
    /// 404 Not Found, and 405 Method Not Allowed with `Allow` for a path whose routes do not
    /// name the method.
    #[default]
    NotFound,
    /// 403 Forbidden for both, without saying whether the route exists.
    Forbidden,
}

/// CORS for the browser app.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins (`scheme://host[:port]`, exact) allowed to call the API from a browser. Empty
    /// (the default) means no CORS headers at all.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// `Access-Control-Max-Age` of preflight answers: how long a browser caches a preflight,
    /// in seconds. Default 600.
    #[serde(
        rename = "max_age_seconds",
        default = "default_max_age",
        deserialize_with = "seconds"
    )]
    pub max_age: Duration,
    /// Request headers a browser may send. Default `authorization`, `content-type`.
    #[serde(default = "default_allow_headers")]
    pub allow_headers: Vec<String>,
    /// Response headers of the origin a browser may read, beyond the ones the edge always
    /// exposes (`www-authenticate`, the request ids, the bundle version, `retry-after`, the
    /// monitor mode's `x-cedargate-mode`).
    /// Default none. Header names, lowercase.
    #[serde(default)]
    pub expose_headers: Vec<String>,
}

impl Default for CorsConfig {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            max_age: default_max_age(),
            allow_headers: default_allow_headers(),
            expose_headers: Vec::new(),
        }
    }
}

/// A token taken from a named cookie instead of `Authorization` (like Envoy's
/// `jwt_authn` `from_cookies`).
///
/// The `Cookie` header is read strictly (RFC 6265): a header that is not `name=value` pairs,
/// or that holds the token cookie twice, is refused (401 `invalid-token`, reason
/// `malformed_cookie`); so is a token cookie whose value is not one token. A request with
/// both a bearer token in `Authorization` and the token cookie is refused (400
/// `bad-request`): RFC 6750 allows one method per request, and neither is preferred. A
/// token from the cookie must be of one of `issuers` (else 401 `invalid-token`, reason
/// `cookie_issuer`); those issuers' tokens are still accepted in `Authorization`.
///
/// A browser sends cookies with requests other sites make, so a token from the cookie on a
/// method other than `GET`, `HEAD` and `OPTIONS` needs a CSRF defence: an `Origin` header
/// that is one of `cors.allowed_origins` (list the app's own origin there, even when it is
/// the API's: browsers send `Origin` on same-origin `POST`s too), or the `csrf_header`
/// when one is configured. Without either the request is refused, monitored action or not:
/// 403 `csrf`. The token cookie itself is never forwarded to the origin: the other cookies
/// are, in their order; a `Cookie` header that cannot be read is not forwarded at all.
/// Every answer carries `Vary: Cookie`, so no shared cache gives one caller's answer to
/// another.
///
/// The cookie should be set `Secure`, `HttpOnly`, `SameSite=Strict` or `Lax`, and named with
/// the `__Host-` prefix, so that no sibling subdomain can set one of the same name.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenCookieConfig {
    /// The cookie's name, compared exactly, e.g. `__Host-access_token`.
    pub name: String,
    /// The issuers whose tokens may come from the cookie (`trust.issuers`' `issuer`), at
    /// least one.
    pub issuers: Vec<String>,
    /// A request header (lowercase name) whose presence, with any value, is a CSRF defence
    /// besides an allowed `Origin`, e.g. `x-requested-with`: a cross-site form cannot send
    /// it, and a cross-site script only after a preflight, which origins not in
    /// `cors.allowed_origins` are refused. Add it to `cors.allow_headers` for a
    /// cross-origin app. A header a browser sends by itself or lets any page send without
    /// a preflight is refused. Default none.
    #[serde(default)]
    pub csrf_header: Option<String>,
}

impl TokenCookieConfig {
    /// Whether a token of `issuer` may come from the cookie.
    pub fn accepts_issuer(&self, issuer: &str) -> bool {
        self.issuers.iter().any(|i| i == issuer)
    }

    /// Whether the request has the custom CSRF header (`header` reads a request header).
    pub fn has_csrf_header(&self, header: impl Fn(&str) -> Option<String>) -> bool {
        self.csrf_header
            .as_deref()
            .is_some_and(|name| header(name).is_some())
    }

    fn check(&self, trust: &TrustConfig) -> Result<(), EdgeConfigError> {
        let wrong = |reason: String| EdgeConfigError::TokenCookie(reason);
        let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if self.name.is_empty() || !self.name.bytes().all(tchar) {
            return Err(wrong(format!("name {:?} is not a cookie name", self.name)));
        }
        if self.issuers.is_empty() {
            return Err(wrong("issuers must name at least one issuer".into()));
        }
        for (i, issuer) in self.issuers.iter().enumerate() {
            if !trust.issuers.iter().any(|t| t.issuer == *issuer) {
                return Err(wrong(format!("issuer {issuer} is not a trusted issuer")));
            }
            if self.issuers[..i].contains(issuer) {
                return Err(wrong(format!("issuer {issuer} is listed twice")));
            }
        }
        if let Some(header) = &self.csrf_header {
            let lower = |b: u8| !b.is_ascii_uppercase() && tchar(b);
            if header.is_empty() || !header.bytes().all(lower) {
                return Err(wrong(format!(
                    "csrf_header {header:?} must be a lowercase header name"
                )));
            }
            if !is_custom_request_header(header) {
                return Err(wrong(format!(
                    "csrf_header {header} is a header a browser sends by itself or without a preflight"
                )));
            }
        }
        Ok(())
    }
}

/// Whether a (lowercase) request header name is one only a script can add, and cross-origin
/// only after a preflight: not a CORS-safelisted header, not one the Fetch standard keeps
/// for the browser (forbidden request headers, `proxy-*`, `sec-*`), not a credential.
fn is_custom_request_header(name: &str) -> bool {
    const BROWSER_OR_SAFELISTED: [&str; 27] = [
        "accept",
        "accept-language",
        "content-language",
        "content-type",
        "range",
        "accept-charset",
        "accept-encoding",
        "access-control-request-headers",
        "access-control-request-method",
        "access-control-request-private-network",
        "connection",
        "content-length",
        "cookie",
        "cookie2",
        "date",
        "dnt",
        "expect",
        "host",
        "keep-alive",
        "origin",
        "referer",
        "set-cookie",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "via",
    ];
    !BROWSER_OR_SAFELISTED.contains(&name)
        && !name.starts_with("proxy-")
        && !name.starts_with("sec-")
        && name != "authorization"
}

/// Key discovery (`{issuer}/.well-known/openid-configuration` → `jwks_uri`) and caching.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyCacheConfig {
    /// Key sets (JWKS) are kept at least this long, in seconds, whatever `Cache-Control`
    /// says. Default 60.
    #[serde(
        rename = "min_ttl_seconds",
        default = "default_min_ttl",
        deserialize_with = "seconds"
    )]
    pub min_ttl: Duration,
    /// Key sets are kept at most this long, in seconds, whatever `Cache-Control` says.
    /// Default 86400 (24 h); at least `min_ttl_seconds`.
    #[serde(
        rename = "max_ttl_seconds",
        default = "default_max_ttl",
        deserialize_with = "seconds"
    )]
    pub max_ttl: Duration,
    /// How long a key set is kept, in seconds, when the provider sends no `max-age`.
    /// Default 600.
    #[serde(
        rename = "default_ttl_seconds",
        default = "default_ttl",
        deserialize_with = "seconds"
    )]
    pub default_ttl: Duration,
    /// When the provider cannot be reached, keys keep serving this long past their TTL;
    /// after that the worker answers 503. Default 86400 (24 h).
    #[serde(
        rename = "max_stale_seconds",
        default = "default_max_stale",
        deserialize_with = "seconds"
    )]
    pub max_stale: Duration,
    /// A token with an unknown `kid` makes the worker refetch the issuer's keys at most once
    /// per issuer in this interval, in seconds. Default 30.
    #[serde(
        rename = "unknown_kid_refetch_seconds",
        default = "default_refetch_interval",
        deserialize_with = "seconds"
    )]
    pub unknown_kid_refetch: Duration,
    /// Timeout of each request to the provider, in milliseconds. Default 5000; at least 1.
    #[serde(
        rename = "fetch_timeout_ms",
        default = "default_fetch_timeout",
        deserialize_with = "milliseconds"
    )]
    pub fetch_timeout: Duration,
    /// Key set URLs by issuer (exactly as `trust.issuers` names it): an issuer listed here
    /// has its keys fetched from this URL, without discovery, so a new isolate makes one
    /// request to the provider instead of two, and discovery is one endpoint fewer that must
    /// answer. PingOne's is `<issuer>/jwks`. An `https` URL (`http` only to 127.0.0.1,
    /// localhost or `[::1]`) without query or fragment. Default: none; every issuer's
    /// `jwks_uri` is discovered.
    ///
    /// # Security
    ///
    /// The keys at this URL decide which tokens are genuine: name the provider's own URL,
    /// never a copy someone else can write.
    #[serde(default)]
    pub jwks_uris: BTreeMap<String, String>,
}

impl Default for KeyCacheConfig {
    fn default() -> Self {
        Self {
            min_ttl: default_min_ttl(),
            max_ttl: default_max_ttl(),
            default_ttl: default_ttl(),
            max_stale: default_max_stale(),
            unknown_kid_refetch: default_refetch_interval(),
            fetch_timeout: default_fetch_timeout(),
            jwks_uris: BTreeMap::new(),
        }
    }
}

/// A duration setting written as a whole number of seconds (the settings named `*_seconds`).
fn seconds<'de, D: serde::Deserializer<'de>>(value: D) -> Result<Duration, D::Error> {
    u64::deserialize(value)
        .map(Duration::from_secs)
        .map_err(|_| serde::de::Error::custom("expected a whole number of seconds, 0 or more"))
}

/// A duration setting written as a whole number of milliseconds (the settings named `*_ms`).
fn milliseconds<'de, D: serde::Deserializer<'de>>(value: D) -> Result<Duration, D::Error> {
    u64::deserialize(value)
        .map(Duration::from_millis)
        .map_err(|_| serde::de::Error::custom("expected a whole number of milliseconds, 0 or more"))
}

/// A duration in whole seconds as the clocks count (`i64`), saturating.
pub fn whole_seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// A duration in whole seconds, a started second counted whole (for `Retry-After`).
pub fn seconds_rounded_up(duration: Duration) -> u64 {
    duration
        .as_secs()
        .saturating_add(u64::from(duration.subsec_nanos() > 0))
}

/// A duration in whole milliseconds as the clocks count (`i64`), saturating.
pub fn whole_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn yes() -> bool {
    true
}
fn default_token_cache_entries() -> usize {
    1024
}
fn default_kv_key() -> String {
    "current".into()
}
fn default_kv_refresh() -> Duration {
    Duration::from_secs(60)
}
fn default_shadow_percent() -> u8 {
    100
}
fn default_max_age() -> Duration {
    Duration::from_secs(600)
}
fn default_allow_headers() -> Vec<String> {
    vec!["authorization".into(), "content-type".into()]
}
fn default_min_ttl() -> Duration {
    Duration::from_secs(60)
}
fn default_max_ttl() -> Duration {
    Duration::from_secs(86_400)
}
fn default_ttl() -> Duration {
    Duration::from_secs(600)
}
fn default_max_stale() -> Duration {
    Duration::from_secs(86_400)
}
fn default_refetch_interval() -> Duration {
    Duration::from_secs(30)
}
fn default_fetch_timeout() -> Duration {
    Duration::from_millis(5_000)
}

/// Why a configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EdgeConfigError {
    /// Not the expected JSON shape.
    #[error("CEDARGATE_CONFIG is invalid: {0}")]
    Shape(String),
    /// The origin is not an absolute http(s) URL.
    #[error("origin {0} is not an http or https URL with a host")]
    Origin(String),
    /// An issuer is not https (http is allowed for loopback only).
    #[error("issuer {0} must use https (http only to 127.0.0.1, localhost or [::1])")]
    InsecureIssuer(String),
    /// An issuer is not a valid absolute http(s) URL.
    #[error("issuer {0} is refused: {1}")]
    IssuerUrl(String, UrlError),
    /// A CORS origin is not `scheme://host[:port]`.
    #[error("CORS origin {0} must be scheme://host[:port]")]
    CorsOrigin(String),
    /// A CORS header name is not a lowercase HTTP token.
    #[error("CORS header {0:?} must be a lowercase header name")]
    CorsHeader(String),
    /// Inconsistent key cache bounds.
    #[error("keys: {0}")]
    Keys(&'static str),
    /// A configured JWKS URL is not usable.
    #[error("keys.jwks_uris for {issuer}: {reason}")]
    JwksUri {
        issuer: String,
        reason: &'static str,
    },
    /// A deny list setting out of range.
    #[error("deny_list: {0}")]
    DenyList(&'static str),
    /// An assertion setting out of range.
    #[error("assertion: {0}")]
    Assertion(&'static str),
    /// An introspection setting is wrong.
    #[error("introspection for {issuer}: {reason}")]
    Introspection { issuer: String, reason: String },
    /// An AuthZEN setting is wrong.
    #[error("authzen: {0}")]
    Authzen(String),
    /// `bundle_kv.audience` is missing beside a `public_key`, or is not a name.
    #[error("bundle_kv.audience: {0}")]
    BundleAudience(String),
    /// A `bundle_kv` setting is wrong.
    #[error("bundle_kv: {0}")]
    BundleKv(String),
    /// An introspection setting names an action or method no route of the bundle has.
    #[error("introspection for {issuer}: {reason}")]
    IntrospectionBinding { issuer: String, reason: String },
    /// A `rollout` setting does not fit the bundle's routes.
    #[error("rollout.{0}")]
    Rollout(String),
    /// A `token_cookie` setting is wrong.
    #[error("token_cookie: {0}")]
    TokenCookie(String),
}

impl EdgeConfig {
    /// Parses and checks a configuration given as JSON.
    pub fn from_json(json: &str) -> Result<Self, EdgeConfigError> {
        let config: Self =
            serde_json::from_str(json).map_err(|e| EdgeConfigError::Shape(e.to_string()))?;
        config.check()?;
        Ok(config)
    }

    /// Checks what serde cannot.
    pub fn check(&self) -> Result<(), EdgeConfigError> {
        // The URL rule is the shared core's (`cedargate::url`), the same as the app's.
        for issuer in &self.trust.issuers {
            match HttpUrl::parse(&issuer.issuer) {
                Ok(url) if url.is_secure() => {}
                Ok(_) => return Err(EdgeConfigError::InsecureIssuer(issuer.issuer.clone())),
                Err(e) => return Err(EdgeConfigError::IssuerUrl(issuer.issuer.clone(), e)),
            }
        }
        for origin in &self.cors.allowed_origins {
            if !HttpUrl::parse(origin).is_ok_and(|url| url.is_origin()) {
                return Err(EdgeConfigError::CorsOrigin(origin.clone()));
            }
        }
        for name in self
            .cors
            .allow_headers
            .iter()
            .chain(&self.cors.expose_headers)
        {
            let token = |b: u8| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
            };
            if name.is_empty() || !name.bytes().all(token) {
                return Err(EdgeConfigError::CorsHeader(name.clone()));
            }
        }
        let keys = &self.keys;
        if keys.min_ttl > keys.max_ttl {
            return Err(EdgeConfigError::Keys(
                "min_ttl_seconds is above max_ttl_seconds",
            ));
        }
        if keys.fetch_timeout.is_zero() {
            return Err(EdgeConfigError::Keys("fetch_timeout_ms must be positive"));
        }
        for (issuer, uri) in &keys.jwks_uris {
            let refused = |reason| EdgeConfigError::JwksUri {
                issuer: issuer.clone(),
                reason,
            };
            if !self.trust.issuers.iter().any(|i| i.issuer == *issuer) {
                return Err(refused("not an issuer of trust.issuers"));
            }
            match HttpUrl::parse(uri) {
                Ok(url) if url.is_secure() && !url.has_query_or_fragment() => {}
                Ok(url) if url.is_secure() => {
                    return Err(refused("the URL must have no query or fragment"));
                }
                Ok(_) => {
                    return Err(refused(
                        "the URL must use https (http only to 127.0.0.1, localhost or [::1])",
                    ));
                }
                Err(_) => return Err(refused("not an http or https URL with a host")),
            }
        }
        if let Some(kv) = &self.bundle_kv {
            match (&kv.public_key, &kv.audience) {
                (Some(_), None) => {
                    return Err(EdgeConfigError::BundleAudience(
                        "required with public_key, so that a document signed for another deployment is refused".into(),
                    ));
                }
                (_, Some(audience)) => cedargate::check_bundle_audience(audience)
                    .map_err(EdgeConfigError::BundleAudience)?,
                (None, None) => {}
            }
            if kv.shadow_percent > 100 {
                return Err(EdgeConfigError::BundleKv(format!(
                    "shadow_percent must be from 0 to 100, not {}",
                    kv.shadow_percent
                )));
            }
            if kv
                .staged_key
                .as_ref()
                .is_some_and(|staged| *staged == kv.key)
            {
                return Err(EdgeConfigError::BundleKv(
                    "staged_key must not be the live bundle's key".into(),
                ));
            }
        }
        if let Some(d) = &self.deny_list
            && !(1..=3600).contains(&d.refresh.as_secs())
        {
            return Err(EdgeConfigError::DenyList(
                "refresh_seconds must be from 1 to 3600",
            ));
        }
        for i in &self.introspection {
            let wrong = |reason: &str| EdgeConfigError::Introspection {
                issuer: i.issuer.clone(),
                reason: reason.to_owned(),
            };
            if !self.trust.issuers.iter().any(|t| t.issuer == i.issuer) {
                return Err(wrong("not a trusted issuer"));
            }
            if self
                .introspection
                .iter()
                .filter(|other| other.issuer == i.issuer)
                .count()
                > 1
            {
                return Err(wrong("configured twice"));
            }
            match HttpUrl::parse(&i.endpoint) {
                Ok(url) if url.is_secure() && !url.has_query_or_fragment() => {}
                _ => {
                    return Err(wrong(
                        "endpoint must be an https URL (http only to a loopback host) without a query",
                    ));
                }
            }
            if i.client_id.is_empty() {
                return Err(wrong("client_id is empty"));
            }
            if let Some(m) = i
                .methods
                .iter()
                .find(|m| m.is_empty() || m.to_ascii_uppercase() != **m)
            {
                return Err(wrong(&format!("method \"{m}\" must be uppercase")));
            }
            if i.cache > Duration::from_secs(300) {
                return Err(wrong("cache_seconds must be from 0 to 300"));
            }
            if !(1..=10_000).contains(&i.timeout.as_millis()) {
                return Err(wrong("timeout_ms must be from 1 to 10000"));
            }
        }
        if let Some(a) = &self.authzen {
            if let Err(err) = cedargate::authzen::metadata(&a.base_url) {
                return Err(EdgeConfigError::Authzen(format!("base_url: {err}")));
            }
            // The worker answers the metadata at the host's well-known URL and the endpoints
            // at their default paths from the root, so a base with a path would advertise
            // URLs nothing answers.
            if cedargate::url::HttpUrl::parse(&a.base_url).is_ok_and(|u| !u.path().is_empty()) {
                return Err(EdgeConfigError::Authzen(
                    "base_url: the worker serves AuthZEN from the root of its host, so base_url has no path".into(),
                ));
            }
        }
        if let Some(cookie) = &self.token_cookie {
            cookie.check(&self.trust)?;
        }
        if let Some(a) = &self.assertion {
            if !(1..=cedargate::assertion::MAX_ASSERTION_SECONDS.unsigned_abs())
                .contains(&a.ttl.as_secs())
            {
                return Err(EdgeConfigError::Assertion(
                    "ttl_seconds must be from 1 to 300",
                ));
            }
            if a.issuer.is_empty() || a.audience.is_empty() {
                return Err(EdgeConfigError::Assertion(
                    "issuer and audience must not be empty",
                ));
            }
        }
        Ok(())
    }

    /// Checks the settings that name a bundle's routes against `bundle`: at start for the
    /// built-in bundle, and for each newer bundle from KV, which is refused when they no
    /// longer fit ([`IntrospectionConfig::check_routes`], [`RolloutConfig::check_routes`]).
    pub fn check_bundle(&self, bundle: &cedargate::Bundle) -> Result<(), EdgeConfigError> {
        let routes = bundle.routes();
        self.introspection
            .iter()
            .try_for_each(|i| i.check_routes(&routes))?;
        self.rollout.check_routes(&routes, self.authzen.is_some())
    }
}

fn origin<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Origin, D::Error> {
    let text = String::deserialize(deserializer)?;
    Origin::parse(&text).map_err(serde::de::Error::custom)
}

/// Where allowed requests go (`origin`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The API's base URL: an absolute `http` or `https` URL with a host and without query or
    /// fragment, kept without its trailing `/`.
    Url(String),
    /// `none`: allowed requests are answered 204 without being forwarded, to measure the
    /// gate alone.
    MeasureOnly,
}

impl Origin {
    /// The origin a configuration's `origin` text names: `none`, or a base URL.
    pub fn parse(text: &str) -> Result<Self, EdgeConfigError> {
        if text == "none" {
            return Ok(Self::MeasureOnly);
        }
        // The URL rule is the shared core's (`cedargate::url`), the same as the app's.
        match HttpUrl::parse(text) {
            Ok(url) if !url.has_query_or_fragment() => {
                Ok(Self::Url(text.trim_end_matches('/').to_owned()))
            }
            _ => Err(EdgeConfigError::Origin(text.to_owned())),
        }
    }

    /// The URL an authorized path and raw query go to (`None`: measure only).
    pub fn url(&self, path: &str, query: Option<&str>) -> Option<String> {
        let Self::Url(base) = self else {
            return None;
        };
        Some(match query {
            Some(q) => format!("{base}{path}?{q}"),
            None => format!("{base}{path}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> serde_json::Value {
        json!({
            "trust": { "issuers": [{ "issuer": "https://auth.pingone.com/env/as", "token": "id", "audiences": ["c"] }] },
            "origin": "https://api.example.com/v1/"
        })
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let config = EdgeConfig::from_json(&base().to_string()).unwrap();
        assert_eq!(config.unmatched, Unmatched::NotFound);
        assert_eq!(config.token_cache_entries, 1024);
        assert!(!config.bundle_endpoint);
        assert!(config.forward_authorization);
        assert_eq!(config.signature_backend, SignatureBackendChoice::Webcrypto);
        assert_eq!(config.keys.max_stale, Duration::from_secs(86_400));
        assert_eq!(config.keys.unknown_kid_refetch, Duration::from_secs(30));
        assert_eq!(config.keys.fetch_timeout, Duration::from_millis(5_000));
        assert!(config.cors.allowed_origins.is_empty());
        assert_eq!(
            config.origin.url("/pets/7", Some("a=1")).as_deref(),
            Some("https://api.example.com/v1/pets/7?a=1")
        );
        assert_eq!(
            Origin::parse("https://api.example.com/v1/").unwrap(),
            Origin::Url("https://api.example.com/v1".into()),
            "the trailing slash is not doubled"
        );
    }

    #[test]
    fn every_pingone_region_is_a_trusted_issuer() {
        for tld in ["com", "eu", "ca", "asia", "com.au", "sg"] {
            let issuer = format!("https://auth.pingone.{tld}/env/as");
            let mut c = base();
            c["trust"]["issuers"][0]["issuer"] = json!(issuer);
            let config = EdgeConfig::from_json(&c.to_string()).unwrap();
            assert_eq!(config.trust.issuers[0].issuer, issuer);
        }
    }

    #[test]
    fn the_token_cookie_is_off_unless_configured_and_checked() {
        assert!(
            EdgeConfig::from_json(&base().to_string())
                .unwrap()
                .token_cookie
                .is_none()
        );
        let issuer = "https://auth.pingone.com/env/as";
        let mut c = base();
        c["token_cookie"] = json!({ "name": "__Host-at", "issuers": [issuer] });
        let cookie = EdgeConfig::from_json(&c.to_string())
            .unwrap()
            .token_cookie
            .unwrap();
        assert_eq!(cookie.name, "__Host-at");
        assert!(cookie.accepts_issuer(issuer));
        assert!(!cookie.accepts_issuer("https://auth.pingone.eu/env/as"));
        assert_eq!(cookie.csrf_header, None);
        assert!(!cookie.has_csrf_header(|_| Some("1".into())));
        c["token_cookie"]["csrf_header"] = json!("x-requested-with");
        let cookie = EdgeConfig::from_json(&c.to_string())
            .unwrap()
            .token_cookie
            .unwrap();
        assert!(cookie.has_csrf_header(|name| (name == "x-requested-with").then(String::new)));
        assert!(!cookie.has_csrf_header(|_| None));
        let refused = |cookie: serde_json::Value| {
            let mut c = base();
            c["token_cookie"] = cookie;
            EdgeConfig::from_json(&c.to_string()).unwrap_err()
        };
        for wrong in [
            json!({ "name": "", "issuers": [issuer] }),
            json!({ "name": "a b", "issuers": [issuer] }),
            json!({ "name": "a;b", "issuers": [issuer] }),
            json!({ "name": "at", "issuers": [] }),
            json!({ "name": "at", "issuers": ["https://other.example"] }),
            json!({ "name": "at", "issuers": [issuer, issuer] }),
            json!({ "name": "at", "issuers": [issuer], "csrf_header": "X-Requested-With" }),
            json!({ "name": "at", "issuers": [issuer], "csrf_header": "" }),
            json!({ "name": "at", "issuers": [issuer], "csrf_header": "content-type" }),
            json!({ "name": "at", "issuers": [issuer], "csrf_header": "origin" }),
            json!({ "name": "at", "issuers": [issuer], "csrf_header": "sec-fetch-site" }),
            json!({ "name": "at", "issuers": [issuer], "csrf_header": "cookie" }),
        ] {
            let err = refused(wrong.clone());
            assert!(
                matches!(err, EdgeConfigError::TokenCookie(_)),
                "{wrong}: {err}"
            );
        }
        for wrong in [
            json!({ "name": "at", "issuers": [issuer], "from": "x" }),
            json!({ "issuers": [issuer] }),
        ] {
            let err = refused(wrong.clone());
            assert!(matches!(err, EdgeConfigError::Shape(_)), "{wrong}: {err}");
        }
    }

    #[test]
    fn the_deny_list_is_off_unless_configured_and_bounded() {
        assert_eq!(
            EdgeConfig::from_json(&base().to_string())
                .unwrap()
                .deny_list,
            None
        );
        let mut c = base();
        c["deny_list"] = json!({ "binding": "DENY" });
        let d = EdgeConfig::from_json(&c.to_string())
            .unwrap()
            .deny_list
            .unwrap();
        assert_eq!(
            (d.key.as_str(), d.refresh),
            ("denied", Duration::from_secs(30))
        );
        for refresh in [0, 3601] {
            c["deny_list"]["refresh_seconds"] = json!(refresh);
            assert!(EdgeConfig::from_json(&c.to_string()).is_err(), "{refresh}");
        }
    }

    #[test]
    fn durations_are_read_in_the_unit_their_name_says() {
        let mut c = base();
        c["keys"] = json!({
            "min_ttl_seconds": 2, "max_ttl_seconds": 90, "default_ttl_seconds": 7,
            "max_stale_seconds": 3, "unknown_kid_refetch_seconds": 4, "fetch_timeout_ms": 800,
        });
        c["cors"] = json!({ "max_age_seconds": 5 });
        let config = EdgeConfig::from_json(&c.to_string()).unwrap();
        let k = &config.keys;
        assert_eq!(
            [
                k.min_ttl,
                k.max_ttl,
                k.default_ttl,
                k.max_stale,
                k.unknown_kid_refetch
            ],
            [2, 90, 7, 3, 4].map(Duration::from_secs)
        );
        assert_eq!(k.fetch_timeout, Duration::from_millis(800));
        assert_eq!(config.cors.max_age, Duration::from_secs(5));
    }

    #[test]
    fn a_duration_that_is_not_a_whole_non_negative_number_is_refused_clearly() {
        for (setting, value, unit) in [
            ("max_stale_seconds", json!(-1), "seconds"),
            ("min_ttl_seconds", json!(1.5), "seconds"),
            ("default_ttl_seconds", json!("600"), "seconds"),
            ("fetch_timeout_ms", json!(-5), "milliseconds"),
        ] {
            let mut c = base();
            c["keys"] = json!({ setting: value });
            let err = EdgeConfig::from_json(&c.to_string())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("expected a whole number of {unit}, 0 or more")),
                "{setting}: {err}"
            );
        }
    }

    #[test]
    fn the_assertion_is_off_unless_configured_and_bounded() {
        assert_eq!(
            EdgeConfig::from_json(&base().to_string())
                .unwrap()
                .assertion,
            None
        );
        let mut c = base();
        c["assertion"] =
            json!({ "issuer": "https://edge.example", "audience": "https://origin.example" });
        let a = EdgeConfig::from_json(&c.to_string())
            .unwrap()
            .assertion
            .unwrap();
        assert_eq!(
            (a.ttl, a.key_secret.as_str()),
            (Duration::from_secs(60), "CEDARGATE_ASSERTION_KEY")
        );
        assert_eq!(a.previous_key_secret, None);
        for ttl in [0, 301] {
            c["assertion"]["ttl_seconds"] = json!(ttl);
            assert!(EdgeConfig::from_json(&c.to_string()).is_err(), "{ttl}");
        }
        c["assertion"] = json!({ "issuer": "", "audience": "https://origin.example" });
        assert!(EdgeConfig::from_json(&c.to_string()).is_err());
        c["assertion"] =
            json!({ "issuer": "e", "audience": "o", "key": "inline keys are not read" });
        assert!(EdgeConfig::from_json(&c.to_string()).is_err());
    }

    #[test]
    fn jwks_uris_name_trusted_issuers_and_secure_urls() {
        let issuer = "https://auth.pingone.com/env/as";
        let with = |uris: serde_json::Value| {
            let mut c = base();
            c["keys"] = json!({ "jwks_uris": uris });
            EdgeConfig::from_json(&c.to_string())
        };
        let config = with(json!({ issuer: format!("{issuer}/jwks") })).unwrap();
        assert_eq!(
            config.keys.jwks_uris.get(issuer).map(String::as_str),
            Some("https://auth.pingone.com/env/as/jwks")
        );
        assert!(
            EdgeConfig::from_json(&base().to_string())
                .unwrap()
                .keys
                .jwks_uris
                .is_empty()
        );
        for (uris, reason) in [
            (
                json!({ "https://other.example/as": "https://other.example/jwks" }),
                "not an issuer of trust.issuers",
            ),
            (
                json!({ issuer: "http://auth.pingone.com/env/as/jwks" }),
                "the URL must use https (http only to 127.0.0.1, localhost or [::1])",
            ),
            (
                json!({ issuer: "https://auth.pingone.com/env/as/jwks?x=1" }),
                "the URL must have no query or fragment",
            ),
            (
                json!({ issuer: "jwks" }),
                "not an http or https URL with a host",
            ),
        ] {
            let key = uris.as_object().unwrap().keys().next().unwrap().clone();
            assert_eq!(
                with(uris).err(),
                Some(EdgeConfigError::JwksUri {
                    issuer: key,
                    reason
                })
            );
        }
        // Loopback over http, as for issuers.
        let mut c = base();
        c["trust"]["issuers"][0]["issuer"] = json!("http://127.0.0.1:9400/env/as");
        c["keys"] = json!({ "jwks_uris": { "http://127.0.0.1:9400/env/as": "http://127.0.0.1:9400/env/as/jwks" } });
        assert!(EdgeConfig::from_json(&c.to_string()).is_ok());
    }

    #[test]
    fn bad_configurations_are_refused() {
        let mut c = base();
        c["origin"] = json!("ftp://x");
        assert!(matches!(
            EdgeConfig::from_json(&c.to_string()),
            Err(EdgeConfigError::Shape(m)) if m.starts_with("origin ftp://x is not an http or https URL")
        ));
        let mut c = base();
        c["trust"]["issuers"][0]["issuer"] = json!("http://auth.example.com/as");
        assert!(matches!(
            EdgeConfig::from_json(&c.to_string()),
            Err(EdgeConfigError::InsecureIssuer(_))
        ));
        c["trust"]["issuers"][0]["issuer"] = json!("http://127.0.0.1:9400/env/as");
        assert!(EdgeConfig::from_json(&c.to_string()).is_ok());
        let mut c = base();
        c["cors"] = json!({ "allowed_origins": ["https://app.example.com/"] });
        assert!(matches!(
            EdgeConfig::from_json(&c.to_string()),
            Err(EdgeConfigError::CorsOrigin(_))
        ));
        let mut c = base();
        c["origin"] = json!("none");
        c["signature_backend"] = json!("rust");
        let none = EdgeConfig::from_json(&c.to_string()).unwrap();
        assert_eq!(none.origin, Origin::MeasureOnly);
        assert_eq!(none.origin.url("/pets", None), None);
        assert_eq!(none.signature_backend, SignatureBackendChoice::Rust);
        let mut c = base();
        c["unknown"] = json!(1);
        assert!(matches!(
            EdgeConfig::from_json(&c.to_string()),
            Err(EdgeConfigError::Shape(_))
        ));
        let mut c = base();
        c["keys"] = json!({ "min_ttl_seconds": 10, "max_ttl_seconds": 5 });
        assert!(matches!(
            EdgeConfig::from_json(&c.to_string()),
            Err(EdgeConfigError::Keys(_))
        ));
    }

    #[test]
    fn authzen_needs_a_base_url_and_goes_with_kv_bundles() {
        assert_eq!(
            EdgeConfig::from_json(&base().to_string()).unwrap().authzen,
            None
        );
        let mut c = base();
        c["authzen"] = json!({ "base_url": "https://pdp.example.com" });
        let config = EdgeConfig::from_json(&c.to_string()).unwrap();
        assert_eq!(
            config.authzen,
            Some(AuthzenConfig {
                base_url: "https://pdp.example.com".into(),
                reasons: false
            })
        );
        for bad in [
            "http://pdp.example.com",
            "https://pdp.example.com/",
            "https://pdp.example.com?x=1",
            "https://pdp.example.com/tenant1",
        ] {
            let mut c = base();
            c["authzen"] = json!({ "base_url": bad });
            assert!(
                matches!(
                    EdgeConfig::from_json(&c.to_string()),
                    Err(EdgeConfigError::Authzen(_))
                ),
                "{bad}"
            );
        }
        // KV bundles carry their own entity data: the two go together.
        let mut c = base();
        c["authzen"] = json!({ "base_url": "https://pdp.example.com" });
        c["bundle_kv"] = json!({ "binding": "B" });
        assert!(EdgeConfig::from_json(&c.to_string()).is_ok());
    }

    #[test]
    fn introspection_is_checked_and_chooses_requests() {
        let with = |i: serde_json::Value| {
            let mut c = base();
            c["introspection"] = json!([i]);
            EdgeConfig::from_json(&c.to_string())
        };
        let ok = json!({
            "issuer": "https://auth.pingone.com/env/as",
            "endpoint": "https://auth.pingone.com/env/as/introspect",
            "client_id": "edge", "methods": ["POST", "DELETE"],
        });
        let config = with(ok.clone()).unwrap();
        let i = &config.introspection[0];
        assert_eq!(
            (i.cache, i.timeout, i.client_secret_secret.as_str()),
            (
                Duration::from_secs(30),
                Duration::from_millis(2000),
                "CEDARGATE_INTROSPECTION_SECRET"
            )
        );
        assert!(i.applies("POST", "post /pets"));
        assert!(!i.applies("GET", "get /pets"));
        // A method sent in lower case is routed, decided and forwarded as the upper-case one,
        // so it is introspected as that one too.
        assert!(i.applies("post", "post /pets"));
        assert!(i.applies("Delete", "delete /pets/{petId}"));
        let mut by_action = ok.clone();
        by_action["methods"] = json!([]);
        by_action["actions"] = json!(["get /pets"]);
        let config = with(by_action).unwrap();
        assert!(config.introspection[0].applies("GET", "get /pets"));
        assert!(!config.introspection[0].applies("GET", "get /pets/{petId}"));

        let refused = |change: &dyn Fn(&mut serde_json::Value), needle: &str| {
            let mut i = ok.clone();
            change(&mut i);
            match with(i) {
                Err(e @ EdgeConfigError::Introspection { .. }) => {
                    assert!(e.to_string().contains(needle), "{e}")
                }
                other => panic!("{needle}: {other:?}"),
            }
        };
        refused(
            &|i| i["issuer"] = json!("https://other.example/as"),
            "not a trusted issuer",
        );
        refused(
            &|i| i["endpoint"] = json!("http://auth.example.com/introspect"),
            "endpoint",
        );
        refused(
            &|i| i["endpoint"] = json!("https://a.example/i?x=1"),
            "endpoint",
        );
        refused(&|i| i["client_id"] = json!(""), "client_id");
        refused(&|i| i["methods"] = json!(["post"]), "uppercase");
        refused(&|i| i["cache_seconds"] = json!(301), "cache_seconds");
        refused(&|i| i["timeout_ms"] = json!(0), "timeout_ms");
        let mut c = base();
        c["introspection"] = json!([ok.clone(), ok]);
        assert!(matches!(
            EdgeConfig::from_json(&c.to_string()),
            Err(EdgeConfigError::Introspection { .. })
        ));
    }

    #[test]
    fn introspection_that_can_never_apply_to_the_bundle_is_refused() {
        let bundle = cedargate::examples::petstore().unwrap();
        let with = |methods: serde_json::Value, actions: serde_json::Value| {
            let mut c = base();
            c["introspection"] = json!([{
                "issuer": "https://auth.pingone.com/env/as",
                "endpoint": "https://auth.pingone.com/env/as/introspect",
                "client_id": "edge", "methods": methods, "actions": actions,
            }]);
            EdgeConfig::from_json(&c.to_string())
                .unwrap()
                .check_bundle(&bundle)
        };
        assert_eq!(with(json!([]), json!([])), Ok(()));
        assert_eq!(with(json!(["POST", "GET"]), json!([])), Ok(()));
        assert_eq!(with(json!([]), json!(["get /pets/{petId}"])), Ok(()));
        assert_eq!(with(json!(["POST"]), json!(["post /pets"])), Ok(()));
        let refused = |methods, actions, needle: &str| match with(methods, actions) {
            Err(e @ EdgeConfigError::IntrospectionBinding { .. }) => {
                assert!(e.to_string().contains(needle), "{e}")
            }
            other => panic!("{needle}: {other:?}"),
        };
        // A typo, a route renamed, a method no route has, and a method and an action that
        // never meet: each would turn introspection off without a word.
        refused(json!([]), json!(["get /pet/{petId}"]), "not an action");
        refused(json!(["DELETE"]), json!([]), "method DELETE");
        refused(json!(["GET"]), json!(["post /pets"]), "never introspected");
    }

    #[test]
    fn every_action_is_enforced_unless_the_rollout_says_otherwise() {
        let config = EdgeConfig::from_json(&base().to_string()).unwrap();
        assert_eq!(config.rollout, RolloutConfig::default());
        assert!(config.rollout.enforce);
        assert_eq!(config.rollout.invalid_tokens, InvalidTokens::Refuse);
        assert!(
            config
                .rollout
                .enforces(false, "post", "/pets", "post /pets")
        );
        assert!(!config.rollout.monitors_any());
        let rollout = |r: serde_json::Value| {
            let mut c = base();
            c["rollout"] = r;
            EdgeConfig::from_json(&c.to_string()).map(|c| c.rollout)
        };
        // The deployment monitors, one action is enforced still.
        let monitoring = rollout(json!({
            "enforce": false, "actions": { "get /pets": true },
            "invalid_tokens": "forward_without_identity",
        }))
        .unwrap();
        assert!(monitoring.monitors_any());
        assert!(!monitoring.enforces(false, "post", "/pets", "post /pets"));
        assert!(monitoring.enforces(false, "get", "/pets", "get /pets"));
        assert_eq!(
            monitoring.invalid_tokens,
            InvalidTokens::ForwardWithoutIdentity
        );
        // The deployment enforces, one action is monitored.
        let one = rollout(json!({ "actions": { "post /pets": false } })).unwrap();
        assert!(one.monitors_any());
        let pinned = rollout(json!({ "actions": { "post /pets": true } })).unwrap();
        assert!(!pinned.monitors_any());
        assert!(!one.enforces(false, "post", "/pets", "post /pets"));
        assert!(one.enforces(false, "get", "/pets", "get /pets"));
        // The AuthZEN endpoints the worker answers are enforced whatever is said.
        let all = rollout(json!({ "enforce": false })).unwrap();
        assert!(all.enforces(
            true,
            "POST",
            "/access/v1/evaluation",
            "post /access/v1/evaluation"
        ));
        assert!(!all.enforces(
            false,
            "post",
            "/access/v1/evaluation",
            "post /access/v1/evaluation"
        ));
        assert!(!all.enforces(true, "get", "/access/v1/evaluation", "x"));
        // Shapes that are not settings.
        for bad in [
            json!({ "invalid_tokens": "forward" }),
            json!({ "invalid_tokens": "forward_with_identity" }),
            json!({ "enforce": "false" }),
            json!({ "actions": ["post /pets"] }),
            json!({ "actions": { "post /pets": "no" } }),
            json!({ "monitor": true }),
        ] {
            assert!(
                matches!(rollout(bad.clone()), Err(EdgeConfigError::Shape(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_rollout_override_that_can_never_apply_to_the_bundle_is_refused() {
        let bundle = cedargate::examples::petstore().unwrap();
        let with = |r: serde_json::Value| {
            let mut c = base();
            c["rollout"] = r;
            EdgeConfig::from_json(&c.to_string())
                .unwrap()
                .check_bundle(&bundle)
        };
        assert_eq!(with(json!({ "actions": { "post /pets": false } })), Ok(()));
        assert_eq!(
            with(json!({ "enforce": false, "actions": { "get /pets/{petId}": true } })),
            Ok(())
        );
        // A typo or a route renamed would leave the action in the other mode without a word.
        let err = with(json!({ "enforce": false, "actions": { "post /pet": true } })).unwrap_err();
        assert_eq!(
            err.to_string(),
            "rollout.actions: \"post /pet\" is not an action of the bundle's routes"
        );
        // The AuthZEN endpoints cannot be monitored: the worker answers them itself.
        let entry = |route: &str| cedargate::RouteEntry {
            route: route.into(),
            action: route.into(),
            public: false,
        };
        let routes = [entry("post /access/v1/evaluation"), entry("get /todos")];
        let monitored = |action: &str, enforce: bool| RolloutConfig {
            actions: [(action.to_owned(), enforce)].into(),
            ..RolloutConfig::default()
        };
        let refused = monitored("post /access/v1/evaluation", false)
            .check_routes(&routes, true)
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "rollout.actions: \"post /access/v1/evaluation\" is an authzen endpoint the worker answers itself, which is always enforced"
        );
        assert_eq!(
            monitored("post /access/v1/evaluation", true).check_routes(&routes, true),
            Ok(())
        );
        assert_eq!(
            monitored("post /access/v1/evaluation", false).check_routes(&routes, false),
            Ok(())
        );
        assert_eq!(
            monitored("get /todos", false).check_routes(&routes, true),
            Ok(())
        );
    }

    /// The base configuration with `bundle_kv` `{ "binding": "B" }` and `more` members.
    fn with_bundle_kv(more: serde_json::Value) -> Result<EdgeConfig, EdgeConfigError> {
        let mut c = base();
        c["bundle_kv"] = json!({ "binding": "B" });
        for (k, v) in more.as_object().unwrap() {
            c["bundle_kv"][k] = v.clone();
        }
        EdgeConfig::from_json(&c.to_string())
    }

    #[test]
    fn the_built_in_bundle_decides_only_when_configured_and_recent_enough() {
        let kv = |more| with_bundle_kv(more).unwrap().bundle_kv.unwrap();
        // KV is required by default, whatever the serials.
        assert_eq!(kv(json!({})).built_in_may_decide(0), Ok(false));
        assert_eq!(kv(json!({})).built_in_may_decide(9), Ok(false));
        let serving = kv(json!({ "serve_built_in": true, "min_serial": 3 }));
        assert_eq!(serving.built_in_may_decide(3), Ok(true));
        assert_eq!(serving.built_in_may_decide(4), Ok(true));
        assert!(matches!(
            serving.built_in_may_decide(2),
            Err(EdgeConfigError::BundleKv(m)) if m.contains("below min_serial 3")
        ));
    }

    #[test]
    fn a_staged_key_is_optional_and_its_share_is_a_percentage() {
        let kv = |more| with_bundle_kv(more).map(|c| c.bundle_kv.unwrap());
        let plain = kv(json!({})).unwrap();
        assert_eq!(plain.staged_key, None);
        assert_eq!(plain.shadow_percent, 100);
        let staged = kv(json!({ "staged_key": "staged", "shadow_percent": 10 })).unwrap();
        assert_eq!(staged.staged_key.as_deref(), Some("staged"));
        assert_eq!(staged.shadow_percent, 10);
        assert_eq!(
            kv(json!({ "shadow_percent": 0 })).unwrap().shadow_percent,
            0
        );
        assert!(matches!(
            kv(json!({ "staged_key": "staged", "shadow_percent": 101 })),
            Err(EdgeConfigError::BundleKv(m)) if m.contains("shadow_percent must be from 0 to 100")
        ));
        assert!(matches!(
            kv(json!({ "shadow_percent": -1 })),
            Err(EdgeConfigError::Shape(_))
        ));
        // One entry cannot be both the bundle in force and its candidate.
        assert!(matches!(
            kv(json!({ "staged_key": "current" })),
            Err(EdgeConfigError::BundleKv(m)) if m.contains("staged_key")
        ));
    }

    #[test]
    fn a_bundle_key_needs_the_audience_its_documents_are_signed_for() {
        let kv = with_bundle_kv;
        let key = cedargate::BundleSigningKey::from_seed([1; 32])
            .unwrap()
            .public_key()
            .to_base64url();
        // A key without an audience would take a document signed for another deployment.
        let err = kv(json!({ "public_key": key })).unwrap_err();
        assert!(matches!(err, EdgeConfigError::BundleAudience(_)), "{err:?}");
        assert!(err.to_string().starts_with("bundle_kv.audience: "), "{err}");
        let ok = kv(json!({ "public_key": key, "audience": "production" })).unwrap();
        assert_eq!(
            ok.bundle_kv.unwrap().audience.as_deref(),
            Some("production")
        );
        for bad in ["", "pro duction"] {
            assert!(
                matches!(
                    kv(json!({ "public_key": key, "audience": bad })),
                    Err(EdgeConfigError::BundleAudience(_))
                ),
                "{bad:?}"
            );
        }
        // Unsigned documents need none (whoever writes KV decides anyway).
        assert!(kv(json!({})).is_ok());
    }

    #[test]
    fn urls_follow_the_core_rule() {
        let issuer = |value: &str| {
            let mut c = base();
            c["trust"]["issuers"][0]["issuer"] = json!(value);
            EdgeConfig::from_json(&c.to_string())
        };
        for ok in [
            "http://localhost:9400/env/as",
            "http://[::1]:9400/env/as",
            "http://127.0.0.2/as",
        ] {
            assert!(issuer(ok).is_ok(), "{ok}");
        }
        for insecure in [
            "http://localhost.evil.example/as",
            "http://127.0.0.1.evil/as",
        ] {
            assert!(
                matches!(issuer(insecure), Err(EdgeConfigError::InsecureIssuer(_))),
                "{insecure}"
            );
        }
        for (bad, reason) in [
            ("http://localhost:1@evil.example/as", UrlError::Userinfo),
            ("https://user@auth.example.com/as", UrlError::Userinfo),
            ("HTTPS://auth.example.com/as", UrlError::Scheme),
            ("https://auth.example.com\\@evil/as", UrlError::Character),
            ("https://auth.example.com:99999/as", UrlError::Port),
        ] {
            assert_eq!(
                issuer(bad).err(),
                Some(EdgeConfigError::IssuerUrl(bad.into(), reason)),
                "{bad}"
            );
        }
        let mut c = base();
        c["origin"] = json!("https://api.example.com@evil.example/v1");
        assert!(matches!(
            EdgeConfig::from_json(&c.to_string()),
            Err(EdgeConfigError::Shape(m)) if m.starts_with("origin https://api.example.com@evil.example/v1 is not")
        ));
        for origin in ["http://localhost:1@evil.example", "http://127.0.0.1:8080/"] {
            let mut c = base();
            c["cors"] = json!({ "allowed_origins": [origin] });
            assert!(
                matches!(
                    EdgeConfig::from_json(&c.to_string()),
                    Err(EdgeConfigError::CorsOrigin(_))
                ),
                "{origin}"
            );
        }
        for (field, name) in [
            ("expose_headers", "X-Identity-Echo"),
            ("expose_headers", "x-a, x-b"),
            ("expose_headers", ""),
            ("allow_headers", "x-tenant\r\nx-evil: 1"),
        ] {
            let mut c = base();
            c["cors"] = json!({ "allowed_origins": ["http://127.0.0.1:8080"], field: [name] });
            assert_eq!(
                EdgeConfig::from_json(&c.to_string()).err(),
                Some(EdgeConfigError::CorsHeader(name.into())),
                "{field} {name:?}"
            );
        }
        let mut c = base();
        c["cors"] =
            json!({ "allowed_origins": ["http://127.0.0.1:8080", "https://app.example.com"] });
        assert!(EdgeConfig::from_json(&c.to_string()).is_ok());
    }
}
