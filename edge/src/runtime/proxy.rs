//! Responses: forwarding to the origin with streamed bodies, problem documents, CORS.

use crate::config::{CorsConfig, EdgeConfig};
use crate::cors;
use crate::forward::{
    Identity, forwards_body, identity_headers, merge_vary, request_headers, response_headers,
};
use crate::problem::AppError;
use crate::request_id::CALLER_REQUEST_ID_HEADER;
use crate::rollout::DECISION_HEADER;
use cedargate::wire::{BundleEndpoint, PROBLEM_MEDIA_TYPE, PermittedResources};
use cedargate::{Bundle, Gate, Principal, RouteMatch};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, Response};

fn entries(headers: &web_sys::Headers) -> Vec<(String, String)> {
    worker::Headers(headers.clone()).entries().collect()
}

fn respond(
    status: u16,
    headers: &[(&str, String)],
    body: Option<&web_sys::ReadableStream>,
) -> Response {
    let out = web_sys::Headers::new().unwrap_or_else(|_| unreachable_headers());
    for (k, v) in headers {
        let _ = out.append(k, v);
    }
    build(status, &out, body)
}

fn unreachable_headers() -> web_sys::Headers {
    // `new Headers()` cannot fail in any runtime; this keeps the type total.
    js_sys::Object::new().unchecked_into()
}

fn build(
    status: u16,
    headers: &web_sys::Headers,
    body: Option<&web_sys::ReadableStream>,
) -> Response {
    let init = web_sys::ResponseInit::new();
    init.set_status(status);
    init.set_headers(headers);
    web_sys::Response::new_with_opt_readable_stream_and_init(body, &init)
        .unwrap_or_else(|_| web_sys::Response::error())
}

/// A JSON answer: `body` serialized with its members in declaration order.
fn json_response(
    status: u16,
    mut headers: Vec<(&'static str, String)>,
    body: &impl serde::Serialize,
    content_type: &str,
) -> Response {
    // Serializing strings, numbers and lists cannot fail.
    let body = serde_json::to_string(body).unwrap_or_default();
    headers.push(("content-type", content_type.to_owned()));
    headers.push(("cache-control", "no-store".into()));
    with_text(status, &headers, &body)
}

/// A response with a text body and exactly `headers`.
fn with_text(status: u16, headers: &[(&str, String)], body: &str) -> Response {
    let init = web_sys::ResponseInit::new();
    init.set_status(status);
    let out = web_sys::Headers::new().unwrap_or_else(|_| unreachable_headers());
    for (k, v) in headers {
        let _ = out.append(k, v);
    }
    init.set_headers(&out);
    web_sys::Response::new_with_opt_str_and_init(Some(body), &init)
        .unwrap_or_else(|_| respond(500, headers, None))
}

/// Headers every response carries: the worker's request id, the `X-Request-ID` answered
/// ([`crate::request_id`]), bundle version, and CORS for allowed origins.
pub type Common = [(&'static str, String)];

/// A refusal as `application/problem+json`.
pub fn problem(err: &AppError, id: &str, common: &Common) -> Response {
    let p = err.problem(id);
    let mut headers = p.headers;
    headers.extend_from_slice(common);
    json_response(p.status, headers, &p.body, PROBLEM_MEDIA_TYPE)
}

/// The answer to an allowed preflight.
pub fn preflight(config: &CorsConfig, origin: &str, gate: &Gate, common: &Common) -> Response {
    let mut methods: Vec<String> = gate
        .bundle()
        .routes()
        .into_iter()
        .filter_map(|entry| entry.route.split_once(' ').map(|(m, _)| m.to_owned()))
        .collect();
    methods.sort();
    methods.dedup();
    let mut headers = cors::preflight_headers(config, origin, &methods);
    // The CORS part of `common` is already in the preflight headers.
    headers.extend(
        common
            .iter()
            .filter(|(k, _)| k.starts_with("x-cedargate-") || *k == CALLER_REQUEST_ID_HEADER)
            .cloned(),
    );
    respond(204, &headers, None)
}

/// The identity assertion's public keys (a JWKS document), for origins; cacheable for five
/// minutes, so a rotation is seen within that.
pub fn assertion_jwks(jwks: &str, common: &Common) -> Response {
    let mut headers = common.to_vec();
    headers.push(("content-type", "application/jwk-set+json".into()));
    headers.push(("cache-control", "public, max-age=300".into()));
    with_text(200, &headers, jwks)
}

/// A text answer (JSON already written, or plain text), not to be cached.
pub fn text(status: u16, body: &str, content_type: &str, common: &Common) -> Response {
    let mut headers = common.to_vec();
    headers.push(("content-type", content_type.to_owned()));
    headers.push(("cache-control", "no-store".into()));
    with_text(status, &headers, body)
}

/// The bundle endpoint's document for the bundle in force with its serial, saying which
/// actions `config` enforces, with the staged candidate beside it when there is one, and
/// what the caller may do on the decision point's resources (`permitted`, for the bundle in
/// force only).
pub fn bundle_document(
    config: &EdgeConfig,
    (bundle, serial): (&Bundle, u64),
    staged: Option<(&Bundle, u64)>,
    (caller, permitted): (&Principal, Option<Vec<PermittedResources>>),
    common: &Common,
) -> Response {
    let endpoint = |bundle: &Bundle, serial: u64| {
        let mut body = BundleEndpoint::new(bundle, serial, caller);
        body.enforced = crate::rollout::enforced_actions(config, bundle);
        body
    };
    let mut body = endpoint(bundle, serial);
    body.staged = staged.map(|(bundle, serial)| Box::new(endpoint(bundle, serial)));
    body.permitted_resources = permitted;
    json_response(200, common.to_vec(), &body, "application/json")
}

/// What the origin is told of a forwarded request besides the client's own headers.
pub struct Outgoing<'a> {
    /// The route that was decided.
    pub route: &'a RouteMatch,
    /// Who the origin is told called.
    pub who: &'a Identity<'a>,
    /// The deciding policies.
    pub policies: &'a [String],
    /// Monitor mode's `X-Cedargate-Decision`, on an action that is not enforced.
    pub decision: Option<&'a str>,
    /// The signed assertion, when configured.
    pub assertion: Option<String>,
    /// The headers the decision read (lowercase), passed on whatever `Connection` names.
    pub decided_on: &'a [String],
    /// Whether the client's `Authorization` header goes along.
    pub authorization: bool,
}

/// Forwards a request: the method that was decided (uppercase), the decided path, the
/// query as it was parsed, the body streamed; client `x-cedargate-*`, forwarding,
/// method-override and `Connection`-named headers dropped (and `Authorization` unless
/// `out.authorization`), identity headers and the decision header added. The origin's
/// answer is streamed back, with `Vary` merged rather than replaced. The assertion, when
/// configured, goes along as `X-Cedargate-Assertion` (to the origin only).
pub async fn forward(
    config: &EdgeConfig,
    req: &Request,
    out: &Outgoing<'_>,
    id: &str,
    common: &Common,
) -> Result<Response, AppError> {
    let route = out.route;
    let mut identity = identity_headers(out.who, &route.action, out.policies, id);
    if let Some(decision) = out.decision {
        identity.push((DECISION_HEADER, decision.to_owned()));
    }
    let Some(url) = config.origin.url(&route.path, route.query.as_deref()) else {
        // Measuring the gate alone: the decision, without an origin behind it. The assertion
        // is for an origin, never handed to the client.
        let mut headers = identity;
        headers.extend_from_slice(common);
        return Ok(respond(204, &headers, None));
    };
    if let Some(jwt) = &out.assertion {
        identity.push((cedargate::assertion::ASSERTION_HEADER, jwt.clone()));
    }
    let method = route.method.to_ascii_uppercase();
    let inner = req;
    let headers = web_sys::Headers::new().map_err(|_| AppError::OriginUnreachable)?;
    let incoming = inner.headers();
    for (k, v) in request_headers(
        &entries(&incoming),
        out.authorization,
        out.decided_on,
        config.token_cookie.as_ref().map(|c| c.name.as_str()),
    ) {
        let _ = headers.append(&k, &v);
    }
    for (k, v) in identity {
        let _ = headers.set(k, &v);
    }
    let init = web_sys::RequestInit::new();
    init.set_method(&method);
    init.set_headers(&headers);
    init.set_redirect(web_sys::RequestRedirect::Manual);
    let body = inner.body();
    let length = incoming.get("content-length").ok().flatten();
    match forwards_body(&method, body.is_some(), length.as_deref()) {
        Ok(true) => {
            if let Some(body) = &body {
                init.set_body(body);
            }
        }
        Ok(false) => {}
        Err(message) => {
            return Err(AppError::BadRequest {
                message: message.into(),
            });
        }
    }
    let outgoing = web_sys::Request::new_with_str_and_init(&url, &init)
        .map_err(|_| AppError::OriginUnreachable)?;
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let answer = JsFuture::from(global.fetch_with_request(&outgoing))
        .await
        .map_err(|_| AppError::OriginUnreachable)?;
    let answer: web_sys::Response = answer.dyn_into().map_err(|_| AppError::OriginUnreachable)?;
    let out = web_sys::Headers::new().map_err(|_| AppError::OriginUnreachable)?;
    let from_origin = entries(&answer.headers());
    let origin_vary = from_origin
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("vary"))
        .map(|(_, v)| v.clone());
    for (k, v) in response_headers(&from_origin) {
        let _ = out.append(&k, &v);
    }
    let origin_names_request_id = from_origin
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case(CALLER_REQUEST_ID_HEADER));
    for (k, v) in common {
        if *k == CALLER_REQUEST_ID_HEADER && origin_names_request_id {
            // The origin's answer names its own request id: it stays.
        } else if *k == "vary" {
            let _ = out.set(k, &merge_vary(origin_vary.as_deref(), v));
        } else {
            let _ = out.set(k, v);
        }
    }
    Ok(build(answer.status(), &out, answer.body().as_ref()))
}
