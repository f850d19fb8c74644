//! Every refusal the worker gives, as an RFC 9457 problem document
//! ([`cedargate::wire::ProblemDocument`], the type the app reads too). Bodies name the action
//! and, for a deny, the policies; they never contain a token or internal error text.

use crate::bearer::BearerError;
use crate::config::Unmatched;
use cedargate::wire::ProblemDocument;
use cedargate::{AuthError, RouteError};

/// Why a request was not forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppError {
    /// No `Authorization` header.
    MissingToken,
    /// The token or the header is not acceptable. `kind` is a stable reason code (the shared
    /// core's [`cedargate::TokenErrorKind`] name, `claims`, `no_keys` or `malformed_header`)
    /// and the only thing the client is told; `message` is the shared core's description,
    /// for the log only.
    InvalidToken { kind: &'static str, message: String },
    /// The policies deny the action.
    Forbidden {
        action: String,
        policies: Vec<String>,
    },
    /// Step-up `forbid`s deny the action until the person signs in again, more strongly or
    /// more recently (RFC 9470).
    StepUp {
        action: String,
        policies: Vec<String>,
        step_up: cedargate::StepUp,
    },
    /// `forbid`s annotated `@required_scopes` deny the action until the client presents a
    /// token with `scopes` (RFC 6750 §3.1 `insufficient_scope`), and a stronger sign-in
    /// too when `step_up` is set.
    InsufficientScope {
        action: String,
        policies: Vec<String>,
        scopes: Vec<String>,
        step_up: Option<cedargate::StepUp>,
    },
    /// The path or query was refused.
    BadRequest { message: String },
    /// No route matches (configured answer 404).
    NoRoute,
    /// No route matches (configured answer 403).
    NoRouteForbidden,
    /// No route names the request's method; `allow` lists the methods of the routes that
    /// match the path.
    MethodNotAllowed { allow: Vec<String> },
    /// The issuer's keys cannot be had and the cached ones are too old.
    KeysUnavailable { retry_after: u64 },
    /// The deny list has never been read (its KV entry cannot be had), so no token can be
    /// known not to be revoked.
    RevocationUnavailable { retry_after: u64 },
    /// The introspection endpoint gave no usable answer, so the token cannot be known to be
    /// active.
    IntrospectionUnavailable { retry_after: u64 },
    /// No policy bundle that may decide is in force: KV is required (`bundle_kv` without
    /// `serve_built_in`) and holds no document the worker accepts, or cannot be read.
    BundleUnavailable { retry_after: u64 },
    /// The origin could not be reached.
    OriginUnreachable,
    /// The worker's configuration or bundle is invalid.
    Misconfigured,
    /// A CORS preflight from an origin that is not allowed.
    PreflightRefused,
    /// An AuthZEN request whose body is not sent as `application/json` (AuthZEN 1.0 asks
    /// for a 400).
    UnsupportedMediaType,
    /// A token from the token cookie on an unsafe method, without an allowed `Origin` or
    /// the configured CSRF header (`token_cookie`).
    CsrfRefused,
}

/// Status, extra headers and body of a refusal.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: ProblemDocument,
}

const REALM: &str = "Bearer realm=\"cedargate\"";

/// A quoted-string for `WWW-Authenticate`: printable ASCII without quotes or backslashes.
fn quoted(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '?',
        })
        .collect()
}

/// RFC 9470's challenge: `insufficient_user_authentication` with the `acr_values` and
/// `max_age` to sign in again with.
fn step_up_challenge(step_up: &cedargate::StepUp) -> String {
    let mut text = format!(
        "{REALM}, error=\"insufficient_user_authentication\", error_description=\"a stronger or more recent sign-in is required\""
    );
    push_step_up(&mut text, step_up);
    text
}

/// RFC 6750's challenge for a missing scope, with the scopes to ask for; RFC 9470's
/// `acr_values` and `max_age` as well when a stronger sign-in is needed too.
fn insufficient_scope_challenge(scopes: &[String], step_up: Option<&cedargate::StepUp>) -> String {
    let mut text = format!(
        "{REALM}, error=\"insufficient_scope\", scope=\"{}\"",
        quoted(&scopes.join(" "))
    );
    if let Some(step_up) = step_up {
        push_step_up(&mut text, step_up);
    }
    text
}

/// Appends RFC 9470's `acr_values` and `max_age` parameters of `step_up` to a challenge.
fn push_step_up(text: &mut String, step_up: &cedargate::StepUp) {
    if !step_up.acr_values.is_empty() {
        text.push_str(&format!(
            ", acr_values=\"{}\"",
            quoted(&step_up.acr_values.join(" "))
        ));
    }
    if let Some(max_age) = step_up.max_age {
        text.push_str(&format!(", max_age=\"{max_age}\""));
    }
}

impl From<BearerError> for AppError {
    fn from(err: BearerError) -> Self {
        match err {
            BearerError::Missing => Self::MissingToken,
            BearerError::Malformed(message) => Self::InvalidToken {
                kind: "malformed_header",
                message: message.into(),
            },
            BearerError::MalformedCookie(message) => Self::InvalidToken {
                kind: "malformed_cookie",
                message: message.into(),
            },
            BearerError::Ambiguous => Self::BadRequest {
                message: "send the token in authorization or in the token cookie, not both".into(),
            },
        }
    }
}

/// A token the shared core refused (its stable reason code for the client, its message for
/// the log), or the key store's own error.
impl From<AuthError<AppError>> for AppError {
    fn from(err: AuthError<AppError>) -> Self {
        match err {
            AuthError::Refused(err) => Self::InvalidToken {
                kind: err.reason(),
                message: err.to_string(),
            },
            AuthError::Keys(err) => err,
        }
    }
}

impl AppError {
    /// The refusal of a denied `decision`: RFC 6750's `insufficient_scope` (403) when it
    /// names scopes to ask for (with the step-up, if it names one too), RFC 9470's step-up
    /// (401) when it names only a stronger sign-in, and `otherwise` (the plain deny) when it
    /// names neither. A request without a token (`otherwise` is
    /// [`AppError::MissingToken`]) is asked for a token rather than for scopes.
    pub fn denied(decision: &cedargate::Decision, otherwise: AppError) -> Self {
        match (&decision.required_scopes[..], &decision.step_up, otherwise) {
            (scopes, step_up, otherwise)
                if !scopes.is_empty() && otherwise != Self::MissingToken =>
            {
                Self::InsufficientScope {
                    action: decision.action.clone(),
                    policies: decision.policies.clone(),
                    scopes: scopes.to_vec(),
                    step_up: step_up.clone(),
                }
            }
            ([], Some(step_up), _) => Self::StepUp {
                action: decision.action.clone(),
                policies: decision.policies.clone(),
                step_up: step_up.clone(),
            },
            (_, _, otherwise) => otherwise,
        }
    }

    /// The refusal of a request the bundle does not route: a refused path is a 400; no
    /// route a 404 or 405, or a 403 that tells nothing when `unmatched` is `forbidden`
    /// (which also hides which routes exist, so no `Allow` either).
    pub fn unrouted(err: RouteError, unmatched: Unmatched) -> Self {
        match (err, unmatched) {
            (RouteError::Refused(path), _) => Self::BadRequest {
                message: path.to_string(),
            },
            (RouteError::NoRoute, Unmatched::NotFound) => Self::NoRoute,
            (RouteError::MethodNotAllowed { allow }, Unmatched::NotFound) => {
                Self::MethodNotAllowed { allow }
            }
            (RouteError::NoRoute | RouteError::MethodNotAllowed { .. }, Unmatched::Forbidden) => {
                Self::NoRouteForbidden
            }
        }
    }

    /// A short code for logs: the token error's name, or the problem type.
    pub fn code(&self) -> String {
        match self {
            Self::InvalidToken { kind, .. } => (*kind).to_owned(),
            other => other.problem("").body.code().unwrap_or("error").to_owned(),
        }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.problem("").status
    }

    /// The response parts; `request_id` goes into the body.
    pub fn problem(&self, request_id: &str) -> Problem {
        let (status, code, title, detail, headers): (
            u16,
            &str,
            &str,
            String,
            Vec<(&'static str, String)>,
        ) = match self {
            Self::MissingToken => (
                401,
                "missing-token",
                "Authentication required",
                "send a bearer token in the Authorization header".into(),
                // RFC 6750 §3.1: no error code when the request has no credentials.
                vec![("www-authenticate", REALM.into())],
            ),
            // Only the stable reason code leaves the worker: the core's message (and whatever
            // WebCrypto or Cedar said inside it) goes to the log.
            Self::InvalidToken { kind, .. } => (
                401,
                "invalid-token",
                "Invalid token",
                format!("the bearer token was refused ({kind})"),
                vec![(
                    "www-authenticate",
                    format!(
                        "{REALM}, error=\"invalid_token\", error_description=\"token refused: {}\"",
                        quoted(kind)
                    ),
                )],
            ),
            Self::Forbidden { policies, .. } => (
                403,
                "forbidden",
                "Forbidden",
                if policies.is_empty() {
                    "no policy permits this action".into()
                } else {
                    format!("denied by {}", policies.join(", "))
                },
                Vec::new(),
            ),
            Self::StepUp {
                policies, step_up, ..
            } => (
                401,
                "insufficient-user-authentication",
                "Stronger authentication required",
                format!("{} asks for a new sign-in", policies.join(", ")),
                vec![("www-authenticate", step_up_challenge(step_up))],
            ),
            Self::InsufficientScope {
                policies,
                scopes,
                step_up,
                ..
            } => (
                403,
                "insufficient-scope",
                "Insufficient scope",
                format!(
                    "{} {} the scope{} {}",
                    policies.join(", "),
                    if policies.len() == 1 {
                        "asks for"
                    } else {
                        "ask for"
                    },
                    if scopes.len() == 1 { "" } else { "s" },
                    scopes.join(" ")
                ),
                vec![(
                    "www-authenticate",
                    insufficient_scope_challenge(scopes, step_up.as_ref()),
                )],
            ),
            Self::BadRequest { message } => (
                400,
                "bad-request",
                "Request refused",
                message.clone(),
                Vec::new(),
            ),
            Self::NoRoute => (
                404,
                "no-route",
                "Not found",
                "no route matches this method and path".into(),
                Vec::new(),
            ),
            Self::NoRouteForbidden => (
                403,
                "forbidden",
                "Forbidden",
                "this request is not allowed".into(),
                Vec::new(),
            ),
            Self::MethodNotAllowed { allow } => (
                405,
                "method-not-allowed",
                "Method not allowed",
                "no route of this API accepts this method".into(),
                vec![("allow", allow.join(", "))],
            ),
            Self::KeysUnavailable { retry_after } => (
                503,
                "keys-unavailable",
                "Service unavailable",
                "the identity provider's keys cannot be retrieved".into(),
                vec![("retry-after", retry_after.to_string())],
            ),
            Self::RevocationUnavailable { retry_after } => (
                503,
                "revocation-unavailable",
                "Service unavailable",
                "the deny list cannot be read".into(),
                vec![("retry-after", retry_after.to_string())],
            ),
            Self::IntrospectionUnavailable { retry_after } => (
                503,
                "introspection-unavailable",
                "Service unavailable",
                "the identity provider cannot confirm the token is active".into(),
                vec![("retry-after", retry_after.to_string())],
            ),
            Self::BundleUnavailable { retry_after } => (
                503,
                "bundle-unavailable",
                "Service unavailable",
                "no policy bundle the gateway may decide with is in force".into(),
                vec![("retry-after", retry_after.to_string())],
            ),
            Self::OriginUnreachable => (
                502,
                "origin-unreachable",
                "Bad gateway",
                "the API could not be reached".into(),
                Vec::new(),
            ),
            Self::Misconfigured => (
                500,
                "misconfigured",
                "Internal error",
                "the gateway is not configured correctly".into(),
                Vec::new(),
            ),
            Self::PreflightRefused => (
                403,
                "cors-origin",
                "Origin not allowed",
                "this origin may not call the API".into(),
                Vec::new(),
            ),
            Self::UnsupportedMediaType => (
                400,
                "unsupported-media-type",
                "Unsupported media type",
                "send the request body as application/json".into(),
                Vec::new(),
            ),
            Self::CsrfRefused => (
                403,
                "csrf",
                "Cross-site request refused",
                "a token sent in a cookie needs an allowed Origin or the CSRF header on this method"
                    .into(),
                Vec::new(),
            ),
        };
        let mut body = ProblemDocument::new(code, title, status, detail);
        // The cedargate members.
        match self {
            Self::InvalidToken { kind, .. } => body.reason = Some((*kind).to_owned()),
            Self::Forbidden { action, policies } => {
                body.action = Some(action.clone());
                body.policies = Some(policies.clone());
            }
            Self::StepUp {
                action,
                policies,
                step_up,
            } => {
                body.action = Some(action.clone());
                body.policies = Some(policies.clone());
                body.step_up = Some(step_up.clone());
            }
            Self::InsufficientScope {
                action,
                policies,
                scopes,
                step_up,
            } => {
                body.action = Some(action.clone());
                body.policies = Some(policies.clone());
                body.required_scopes = Some(scopes.clone());
                body.step_up = step_up.clone();
            }
            Self::MethodNotAllowed { allow } => body.allow = Some(allow.clone()),
            _ => {}
        }
        if !request_id.is_empty() {
            body.request_id = Some(request_id.to_owned());
        }
        Problem {
            status,
            headers,
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// The body as the client reads it.
    fn body_json(p: &Problem) -> Value {
        serde_json::to_value(&p.body).expect("serializes")
    }

    #[test]
    fn step_up_gets_an_rfc_9470_challenge() {
        let p = AppError::StepUp {
            action: "delete /pets/{petId}".into(),
            policies: vec!["delete-needs-recent-mfa".into()],
            step_up: cedargate::StepUp {
                acr_values: vec!["urn:cedargate:mfa".into(), "urn:x:hwk".into()],
                max_age: Some(600),
            },
        }
        .problem("r2");
        assert_eq!(p.status, 401);
        assert_eq!(
            p.headers,
            [(
                "www-authenticate",
                "Bearer realm=\"cedargate\", error=\"insufficient_user_authentication\", error_description=\"a stronger or more recent sign-in is required\", acr_values=\"urn:cedargate:mfa urn:x:hwk\", max_age=\"600\"".to_owned()
            )]
        );
        let body = body_json(&p);
        assert_eq!(
            body["type"],
            "urn:cedargate:problem:insufficient-user-authentication"
        );
        assert_eq!(
            body["step_up"]["acr_values"],
            json!(["urn:cedargate:mfa", "urn:x:hwk"])
        );
        assert_eq!(body["step_up"]["max_age"], 600);
        assert_eq!(body["policies"], json!(["delete-needs-recent-mfa"]));
        // Only a recent sign-in asked for: no acr_values parameter.
        let p = AppError::StepUp {
            action: "a".into(),
            policies: vec![],
            step_up: cedargate::StepUp {
                acr_values: vec![],
                max_age: Some(0),
            },
        }
        .problem("");
        assert!(!p.headers[0].1.contains("acr_values"), "{}", p.headers[0].1);
        assert!(
            p.headers[0].1.ends_with(", max_age=\"0\""),
            "{}",
            p.headers[0].1
        );
    }

    fn denied(required_scopes: &[&str], step_up: Option<cedargate::StepUp>) -> cedargate::Decision {
        cedargate::Decision {
            action: "post /pets".into(),
            outcome: cedargate::Outcome::Deny,
            policies: vec!["requires-scopes-post-pets".into()],
            errors: vec![],
            step_up,
            required_scopes: required_scopes.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn forbidden() -> AppError {
        AppError::Forbidden {
            action: "post /pets".into(),
            policies: vec!["requires-scopes-post-pets".into()],
        }
    }

    #[test]
    fn a_missing_scope_gets_an_rfc_6750_insufficient_scope_challenge() {
        let err = AppError::denied(&denied(&["pets:read", "pets:write"], None), forbidden());
        assert_eq!(
            err,
            AppError::InsufficientScope {
                action: "post /pets".into(),
                policies: vec!["requires-scopes-post-pets".into()],
                scopes: vec!["pets:read".into(), "pets:write".into()],
                step_up: None,
            }
        );
        let p = err.problem("r3");
        assert_eq!(p.status, 403);
        assert_eq!(
            p.headers,
            [(
                "www-authenticate",
                "Bearer realm=\"cedargate\", error=\"insufficient_scope\", scope=\"pets:read pets:write\"".to_owned()
            )]
        );
        let body = body_json(&p);
        assert_eq!(body["type"], "urn:cedargate:problem:insufficient-scope");
        assert_eq!(body["required_scopes"], json!(["pets:read", "pets:write"]));
        assert_eq!(body["policies"], json!(["requires-scopes-post-pets"]));
        assert_eq!(body["action"], "post /pets");
        assert!(body.get("step_up").is_none(), "{body}");
        assert_eq!(err.code(), "insufficient-scope");

        // With a step-up as well: still the 403 of a missing scope (a new token is needed
        // either way), whose challenge also names the sign-in to ask for.
        let both = cedargate::StepUp {
            acr_values: vec!["urn:cedargate:mfa".into()],
            max_age: Some(600),
        };
        let p =
            AppError::denied(&denied(&["pets:write"], Some(both.clone())), forbidden()).problem("");
        assert_eq!(p.status, 403);
        assert_eq!(
            p.headers[0].1,
            "Bearer realm=\"cedargate\", error=\"insufficient_scope\", scope=\"pets:write\", acr_values=\"urn:cedargate:mfa\", max_age=\"600\""
        );
        assert_eq!(body_json(&p)["step_up"]["max_age"], 600);

        // A step-up alone stays RFC 9470's 401; a plain deny the deny it was.
        let p = AppError::denied(&denied(&[], Some(both)), forbidden()).problem("");
        assert_eq!(p.status, 401);
        assert_eq!(
            AppError::denied(&denied(&[], None), forbidden()),
            forbidden()
        );
        // A request without a token is asked for one, not for scopes (RFC 6750 3.1).
        assert_eq!(
            AppError::denied(&denied(&["pets:write"], None), AppError::MissingToken),
            AppError::MissingToken
        );
    }

    #[test]
    fn invalid_tokens_get_an_rfc_6750_challenge() {
        let p = AppError::InvalidToken {
            kind: "signature_backend",
            message: "signature check failed: DataError: key \"x\" rejected by WebCrypto".into(),
        }
        .problem("r1");
        assert_eq!(p.status, 401);
        assert_eq!(
            p.headers,
            [(
                "www-authenticate",
                "Bearer realm=\"cedargate\", error=\"invalid_token\", error_description=\"token refused: signature_backend\"".to_owned()
            )]
        );
        // The internal message is in neither the body nor the challenge.
        let body = body_json(&p).to_string();
        assert!(
            !body.contains("WebCrypto") && !body.contains("DataError"),
            "{body}"
        );
        assert_eq!(
            body_json(&p)["detail"],
            "the bearer token was refused (signature_backend)"
        );
        assert_eq!(body_json(&p)["type"], "urn:cedargate:problem:invalid-token");
        assert_eq!(body_json(&p)["reason"], "signature_backend");
        assert_eq!(body_json(&p)["request_id"], "r1");
        let missing = AppError::MissingToken.problem("");
        assert_eq!(missing.headers, [("www-authenticate", REALM.to_owned())]);
        assert!(body_json(&missing).get("request_id").is_none());
    }

    #[test]
    fn statuses_are_the_documented_ones() {
        let statuses: Vec<u16> = [
            AppError::MissingToken,
            AppError::Forbidden {
                action: "a".into(),
                policies: vec![],
            },
            AppError::BadRequest {
                message: "m".into(),
            },
            AppError::NoRoute,
            AppError::NoRouteForbidden,
            AppError::KeysUnavailable { retry_after: 30 },
            AppError::RevocationUnavailable { retry_after: 5 },
            AppError::BundleUnavailable { retry_after: 60 },
            AppError::OriginUnreachable,
            AppError::Misconfigured,
            AppError::PreflightRefused,
            AppError::MethodNotAllowed { allow: vec![] },
        ]
        .iter()
        .map(AppError::status)
        .collect();
        assert_eq!(
            statuses,
            [401, 403, 400, 404, 403, 503, 503, 503, 502, 500, 403, 405]
        );
        let p = AppError::MethodNotAllowed {
            allow: vec!["DELETE".into(), "GET".into()],
        }
        .problem("");
        assert_eq!(p.headers, [("allow", "DELETE, GET".to_owned())]);
        let deny = AppError::Forbidden {
            action: "post /pets".into(),
            policies: vec!["p".into()],
        }
        .problem("");
        assert_eq!(body_json(&deny)["action"], "post /pets");
        assert_eq!(body_json(&deny)["policies"], json!(["p"]));
    }

    /// The bytes of every problem body, as clients have always received them: members in
    /// this order, absent ones left out.
    #[test]
    fn problem_bodies_keep_their_wire_bytes() {
        let wire = |err: AppError, id: &str| {
            serde_json::to_string(&err.problem(id).body).expect("serializes")
        };
        let cases = [
            (
                wire(AppError::MissingToken, "r-1"),
                r#"{"type":"urn:cedargate:problem:missing-token","title":"Authentication required","status":401,"detail":"send a bearer token in the Authorization header","request_id":"r-1"}"#,
            ),
            (
                wire(AppError::MissingToken, ""),
                r#"{"type":"urn:cedargate:problem:missing-token","title":"Authentication required","status":401,"detail":"send a bearer token in the Authorization header"}"#,
            ),
            (
                wire(
                    AppError::InvalidToken {
                        kind: "expired",
                        message: "m".into(),
                    },
                    "r-1",
                ),
                r#"{"reason":"expired","type":"urn:cedargate:problem:invalid-token","title":"Invalid token","status":401,"detail":"the bearer token was refused (expired)","request_id":"r-1"}"#,
            ),
            (
                wire(
                    AppError::Forbidden {
                        action: "post /pets".into(),
                        policies: vec!["p1".into(), "p2".into()],
                    },
                    "r-1",
                ),
                r#"{"action":"post /pets","policies":["p1","p2"],"type":"urn:cedargate:problem:forbidden","title":"Forbidden","status":403,"detail":"denied by p1, p2","request_id":"r-1"}"#,
            ),
            (
                wire(
                    AppError::Forbidden {
                        action: "get /x".into(),
                        policies: vec![],
                    },
                    "",
                ),
                r#"{"action":"get /x","policies":[],"type":"urn:cedargate:problem:forbidden","title":"Forbidden","status":403,"detail":"no policy permits this action"}"#,
            ),
            (
                wire(
                    AppError::BadRequest {
                        message: "path has \"quotes\"".into(),
                    },
                    "r-1",
                ),
                r#"{"type":"urn:cedargate:problem:bad-request","title":"Request refused","status":400,"detail":"path has \"quotes\"","request_id":"r-1"}"#,
            ),
            (
                wire(AppError::NoRoute, "r-1"),
                r#"{"type":"urn:cedargate:problem:no-route","title":"Not found","status":404,"detail":"no route matches this method and path","request_id":"r-1"}"#,
            ),
            (
                wire(AppError::NoRouteForbidden, "r-1"),
                r#"{"type":"urn:cedargate:problem:forbidden","title":"Forbidden","status":403,"detail":"this request is not allowed","request_id":"r-1"}"#,
            ),
            (
                wire(
                    AppError::MethodNotAllowed {
                        allow: vec!["DELETE".into(), "GET".into()],
                    },
                    "r-1",
                ),
                r#"{"allow":["DELETE","GET"],"type":"urn:cedargate:problem:method-not-allowed","title":"Method not allowed","status":405,"detail":"no route of this API accepts this method","request_id":"r-1"}"#,
            ),
            (
                wire(AppError::KeysUnavailable { retry_after: 30 }, "r-1"),
                r#"{"type":"urn:cedargate:problem:keys-unavailable","title":"Service unavailable","status":503,"detail":"the identity provider's keys cannot be retrieved","request_id":"r-1"}"#,
            ),
            (
                wire(AppError::OriginUnreachable, "r-1"),
                r#"{"type":"urn:cedargate:problem:origin-unreachable","title":"Bad gateway","status":502,"detail":"the API could not be reached","request_id":"r-1"}"#,
            ),
            (
                wire(AppError::Misconfigured, "r-1"),
                r#"{"type":"urn:cedargate:problem:misconfigured","title":"Internal error","status":500,"detail":"the gateway is not configured correctly","request_id":"r-1"}"#,
            ),
            (
                wire(AppError::PreflightRefused, "r-1"),
                r#"{"type":"urn:cedargate:problem:cors-origin","title":"Origin not allowed","status":403,"detail":"this origin may not call the API","request_id":"r-1"}"#,
            ),
            (
                wire(AppError::UnsupportedMediaType, "r-1"),
                r#"{"type":"urn:cedargate:problem:unsupported-media-type","title":"Unsupported media type","status":400,"detail":"send the request body as application/json","request_id":"r-1"}"#,
            ),
            (
                wire(AppError::CsrfRefused, "r-1"),
                r#"{"type":"urn:cedargate:problem:csrf","title":"Cross-site request refused","status":403,"detail":"a token sent in a cookie needs an allowed Origin or the CSRF header on this method","request_id":"r-1"}"#,
            ),
        ];
        for (sent, expected) in cases {
            assert_eq!(sent, expected);
        }
    }

    #[test]
    fn log_codes_are_the_reason_or_the_problem_type() {
        let codes: Vec<String> = [
            AppError::MissingToken,
            AppError::InvalidToken {
                kind: "expired",
                message: "m".into(),
            },
            AppError::Forbidden {
                action: "a".into(),
                policies: vec![],
            },
            AppError::NoRouteForbidden,
            AppError::MethodNotAllowed { allow: vec![] },
            AppError::PreflightRefused,
            AppError::UnsupportedMediaType,
            AppError::CsrfRefused,
        ]
        .iter()
        .map(AppError::code)
        .collect();
        assert_eq!(
            codes,
            [
                "missing-token",
                "expired",
                "forbidden",
                "forbidden",
                "method-not-allowed",
                "cors-origin",
                "unsupported-media-type",
                "csrf"
            ]
        );
    }

    #[test]
    fn header_token_and_route_errors_become_their_refusals() {
        assert_eq!(AppError::from(BearerError::Missing), AppError::MissingToken);
        assert_eq!(
            AppError::from(BearerError::Malformed("several authorization headers")),
            AppError::InvalidToken {
                kind: "malformed_header",
                message: "several authorization headers".into()
            }
        );
        assert_eq!(
            AppError::from(BearerError::MalformedCookie(
                "token cookie sent more than once"
            )),
            AppError::InvalidToken {
                kind: "malformed_cookie",
                message: "token cookie sent more than once".into()
            }
        );
        let ambiguous = AppError::from(BearerError::Ambiguous);
        assert_eq!(ambiguous.status(), 400);
        assert_eq!(ambiguous.code(), "bad-request");
        let refused = cedargate::GateError::NoKeys;
        assert_eq!(
            AppError::from(AuthError::Refused(refused.clone())),
            AppError::InvalidToken {
                kind: "no_keys",
                message: refused.to_string()
            }
        );
        let keys = AppError::KeysUnavailable { retry_after: 30 };
        assert_eq!(AppError::from(AuthError::Keys(keys.clone())), keys);

        let allow = || RouteError::MethodNotAllowed {
            allow: vec!["GET".into()],
        };
        let path = || RouteError::Refused(cedargate::PathError::NotAbsolute);
        assert_eq!(
            AppError::unrouted(path(), Unmatched::Forbidden),
            AppError::BadRequest {
                message: cedargate::PathError::NotAbsolute.to_string()
            }
        );
        assert_eq!(
            AppError::unrouted(RouteError::NoRoute, Unmatched::NotFound),
            AppError::NoRoute
        );
        assert_eq!(
            AppError::unrouted(allow(), Unmatched::NotFound),
            AppError::MethodNotAllowed {
                allow: vec!["GET".into()]
            }
        );
        assert_eq!(
            AppError::unrouted(RouteError::NoRoute, Unmatched::Forbidden),
            AppError::NoRouteForbidden
        );
        assert_eq!(
            AppError::unrouted(allow(), Unmatched::Forbidden),
            AppError::NoRouteForbidden
        );
    }
}
