//! The request path: CORS preflight, bearer token, verification (or the token cache),
//! route, decision, then forward or refuse. One JSON log line per request.

use super::keys::keys_for;
use super::now_ms;
use super::proxy;
use super::state::{Authenticated, State};
use crate::BUNDLE_PATH;
use crate::bearer::{BearerError, bearer_token};
use crate::bundle_policy::takes_serial;
use crate::config::{RequestLog, Unmatched};
use crate::cors;
use crate::problem::AppError;
use crate::token_cache::token_key;
use cedargate::{
    AuthError, Bundle, Gate, KeySet, KeySource, RouteError, UnixTime, open_bundle_document,
};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use worker::{Context, Env, Request, Response};

/// What the log line says about a request.
#[derive(Default)]
struct Log {
    issuer: Option<String>,
    subject: Option<String>,
    action: Option<String>,
    decision: Option<&'static str>,
    policies: Vec<String>,
    token_cache: Option<&'static str>,
    error: Option<String>,
}

thread_local! {
    /// `performance.now`, looked up once.
    static PERFORMANCE_NOW: Option<(js_sys::Function, wasm_bindgen::JsValue)> = {
        let performance = js_sys::Reflect::get(&js_sys::global(), &"performance".into()).ok();
        performance.and_then(|p| {
            let now = js_sys::Reflect::get(&p, &"now".into()).ok()?;
            Some((now.dyn_into().ok()?, p))
        })
    };
    /// A random prefix for this isolate's request ids, and a counter.
    static REQUEST_IDS: (String, std::cell::Cell<u64>) = {
        let mut bytes = [0u8; 6];
        let prefix = js_sys::Reflect::get(&js_sys::global(), &"crypto".into())
            .ok()
            .and_then(|c| {
                c.unchecked_into::<web_sys::Crypto>()
                    .get_random_values_with_u8_array(&mut bytes)
                    .ok()
            })
            .map(|_| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
            .unwrap_or_default();
        (prefix, std::cell::Cell::new(0))
    };
}

fn performance_now() -> f64 {
    PERFORMANCE_NOW
        .with(|p| {
            p.as_ref()
                .and_then(|(now, this)| now.call0(this).ok()?.as_f64())
        })
        .unwrap_or_else(now_ms)
}

/// `<isolate prefix>-<counter>`: unique per isolate without a random draw per request.
fn request_id() -> String {
    REQUEST_IDS.with(|(prefix, counter)| {
        let n = counter.get() + 1;
        counter.set(n);
        format!("{prefix}-{n:x}")
    })
}

pub async fn handle(req: Request, env: Env, ctx: Context) -> Response {
    let started = performance_now();
    let id = request_id();
    // The method exactly as sent: workers-rs maps methods it does not know (MOVE, PURGE, ...)
    // to GET, which must never be what is authorized.
    let method = req.inner().method();
    let target = target_of(&req);
    let mut log = Log::default();

    let state = match &*State::get(&env) {
        Ok(state) => state.clone(),
        Err(err) => {
            log.error = Some(err.clone());
            let common = [("x-cedargate-request-id", id.clone())];
            let response = proxy::problem(&AppError::Misconfigured, &id, &common);
            write_log(&id, &method, &target, response.status_code(), &log, started);
            return response;
        }
    };
    refresh_bundle(&state, &env, &ctx);
    let gate = state.gate();
    let headers = req.headers();
    let origin = headers.get("origin").ok().flatten();
    let allowed_origin = cors::allowed_origin(&state.config().cors, origin.as_deref());
    let mut common = vec![
        ("x-cedargate-request-id", id.clone()),
        (
            "x-cedargate-bundle-version",
            gate.bundle().version().to_string(),
        ),
    ];
    if let Some(o) = allowed_origin {
        common.extend(cors::response_headers(o));
    }

    let preflight = method == "OPTIONS"
        && headers
            .has("access-control-request-method")
            .unwrap_or(false);
    let response = if preflight {
        match allowed_origin {
            Some(o) => proxy::preflight(&state.config().cors, o, &gate, &common),
            None => proxy::problem(&AppError::PreflightRefused, &id, &common),
        }
    } else {
        let exchange = Exchange {
            state: &state,
            ctx: &ctx,
            gate: &gate,
            req: &req,
            method: &method,
            target: &target,
            id: &id,
            common: &common,
        };
        match exchange.guard(&mut log).await {
            Ok(response) => response,
            Err(err) => {
                if log.error.is_none() {
                    log.error = Some(match &err {
                        // The details stay here; the client gets the reason code only.
                        AppError::InvalidToken { kind, message } => format!("{kind}: {message}"),
                        other => other.code(),
                    });
                }
                proxy::problem(&err, &id, &common)
            }
        }
    };
    let status = response.status_code();
    let logged = match state.config().request_log {
        RequestLog::All => true,
        RequestLog::Refusals => log.decision != Some("allow") || status >= 400,
        RequestLog::Off => false,
    };
    if logged {
        write_log(&id, &method, &target, status, &log, started);
    }
    response
}

/// Path and query as the client sent them (the request URL without scheme, host and
/// fragment).
fn target_of(req: &Request) -> String {
    let url = req.inner().url();
    let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
    let target = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    target.split('#').next().unwrap_or("/").to_owned()
}

/// One request on its way through the worker, with what the isolate prepared for it.
struct Exchange<'a> {
    state: &'a Rc<State>,
    ctx: &'a Context,
    gate: &'a Rc<Gate>,
    req: &'a Request,
    /// The method exactly as sent.
    method: &'a str,
    /// Path and query as sent.
    target: &'a str,
    id: &'a str,
    /// Headers every response carries.
    common: &'a proxy::Common,
}

impl Exchange<'_> {
    /// Bearer token → principal → route → decision → forward, or the refusal.
    async fn guard(&self, log: &mut Log) -> Result<Response, AppError> {
        let Self {
            state,
            gate,
            req,
            method,
            target,
            id,
            common,
            ..
        } = *self;
        let header = req.headers().get("authorization").ok().flatten();
        let token = bearer_token(header.as_deref()).map_err(|err| match err {
            BearerError::Missing => AppError::MissingToken,
            BearerError::Malformed(message) => AppError::InvalidToken {
                kind: "malformed_header",
                message: message.into(),
            },
        })?;
        let auth = self.authenticate(token, log).await?;
        log.issuer = Some(auth.verified.issuer().to_owned());
        log.subject = Some(auth.principal.subject().to_owned());

        if target.split('?').next() == Some(BUNDLE_PATH) && state.config().bundle_endpoint {
            if method != "GET" {
                return Err(AppError::NoRoute);
            }
            return Ok(proxy::bundle_document(
                gate.bundle(),
                state.serial(),
                common,
            ));
        }

        let (route, decision) = gate
            .decide(&auth.principal, method, target)
            .map_err(|err| match err {
                RouteError::Refused(path) => AppError::BadRequest {
                    message: path.to_string(),
                },
                RouteError::NoRoute => match state.config().unmatched {
                    Unmatched::NotFound => AppError::NoRoute,
                    Unmatched::Forbidden => AppError::NoRouteForbidden,
                },
                // `unmatched: forbidden` hides which routes exist, so no `Allow` either.
                RouteError::MethodNotAllowed { allow } => match state.config().unmatched {
                    Unmatched::NotFound => AppError::MethodNotAllowed { allow },
                    Unmatched::Forbidden => AppError::NoRouteForbidden,
                },
            })?;
        log.action = Some(route.action.clone());
        log.policies = decision.policies.clone();
        if !decision.errors.is_empty() {
            log.error = Some(decision.errors.join("; "));
        }
        if !decision.is_allowed() {
            log.decision = Some("deny");
            return Err(AppError::Forbidden {
                action: route.action,
                policies: decision.policies,
            });
        }
        log.decision = Some("allow");
        proxy::forward(state.config(), req, &route, &auth, &decision, id, common).await
    }
}

/// The isolate's key store as the shared core's key source; remembers which issuer was asked
/// for, for the log line.
struct IsolateKeys<'a> {
    state: &'a Rc<State>,
    ctx: &'a Context,
    now: i64,
    asked: RefCell<Option<String>>,
}

impl KeySource for &IsolateKeys<'_> {
    type Keys = Rc<KeySet>;
    type Error = AppError;
    async fn keys(&self, issuer: &str, kid: Option<&str>) -> Result<Rc<KeySet>, AppError> {
        *self.asked.borrow_mut() = Some(issuer.to_owned());
        keys_for(self.state.keys(), self.ctx, issuer, kid, self.now).await
    }
}

impl Exchange<'_> {
    /// The token cache, or the shared core's pipeline with the isolate's keys.
    async fn authenticate(
        &self,
        token: &str,
        log: &mut Log,
    ) -> Result<Rc<Authenticated>, AppError> {
        let Self {
            state, ctx, gate, ..
        } = *self;
        let now = UnixTime((now_ms() / 1000.0) as i64);
        let key = token_key(token);
        if let Some(hit) = state.cached_token(&key, now.seconds()) {
            log.token_cache = Some("hit");
            return Ok(hit);
        }
        log.token_cache = Some(if state.config().token_cache_entries == 0 {
            "off"
        } else {
            "miss"
        });
        let source = IsolateKeys {
            state,
            ctx,
            now: now.seconds(),
            asked: RefCell::new(None),
        };
        let result = gate
            .authenticate(token, &source, state.signature_backend(), now)
            .await;
        log.issuer = source.asked.take();
        let (verified, principal) = result.map_err(|err| match err {
            AuthError::Refused(err) => AppError::InvalidToken {
                kind: err.reason(),
                message: err.to_string(),
            },
            AuthError::Keys(err) => err,
        })?;
        let expires = verified.expires_at().seconds();
        let auth = Rc::new(Authenticated {
            verified,
            principal,
        });
        state.remember_token(key, auth.clone(), expires);
        Ok(auth)
    }
}

fn write_log(id: &str, method: &str, target: &str, status: u16, log: &Log, started: f64) {
    let path = target.split('?').next().unwrap_or_default();
    let line = json!({
        "request_id": id,
        "method": method,
        "path": path,
        "status": status,
        "issuer": log.issuer,
        "subject": log.subject,
        "action": log.action,
        "decision": log.decision,
        "policies": log.policies,
        "token_cache": log.token_cache,
        "error": log.error,
        "us": ((performance_now() - started) * 1000.0).round() as i64,
    });
    worker::console_log!("{line}");
}

/// Looks for a newer bundle in KV when due; runs after the response is sent.
fn refresh_bundle(state: &Rc<State>, env: &Env, ctx: &Context) {
    let Some(kv_config) = state.config().bundle_kv.clone() else {
        return;
    };
    let now = (now_ms() / 1000.0) as i64;
    if !state.bundle_check_due(now, kv_config.refresh_seconds) {
        return;
    }
    let Ok(kv) = env.kv(&kv_config.binding) else {
        event("bundle_kv_missing", json!({ "binding": kv_config.binding }));
        return;
    };
    let state = state.clone();
    ctx.wait_until(async move {
        let text = match kv.get(&kv_config.key).text().await {
            Ok(Some(text)) => text,
            Ok(None) => return,
            Err(err) => {
                event("bundle_kv_unreadable", json!({ "error": err.to_string() }));
                return;
            }
        };
        if !state.bundle_text_is_new(&text) {
            return;
        }
        let in_force = state.serial();
        let document = match open_bundle_document(&text, kv_config.public_key.as_ref()) {
            Ok(document) => document,
            Err(err) => {
                event(
                    "bundle_rejected",
                    json!({ "error": err.to_string(), "kept": state.gate().bundle().version().as_str() }),
                );
                return;
            }
        };
        if !takes_serial(document.serial, in_force, kv_config.min_serial) {
            event(
                "bundle_rollback_refused",
                json!({
                    "serial": document.serial,
                    "in_force": in_force,
                    "min_serial": kv_config.min_serial,
                    "kept": state.gate().bundle().version().as_str(),
                }),
            );
            return;
        }
        let loaded = Bundle::load(&document.source())
            .map_err(|e| e.to_string())
            .and_then(|bundle| Gate::new(bundle, &state.config().trust).map_err(|e| e.to_string()));
        match loaded {
            Ok(gate) => {
                let version = gate.bundle().version().to_string();
                state.replace_gate(gate, document.serial);
                event(
                    "bundle_updated",
                    json!({ "version": version, "serial": document.serial }),
                );
            }
            Err(error) => event(
                "bundle_rejected",
                json!({ "error": error, "kept": state.gate().bundle().version().as_str() }),
            ),
        }
    });
}

fn event(name: &str, mut fields: Value) {
    if let Value::Object(map) = &mut fields {
        map.insert("event".into(), json!(name));
    }
    worker::console_log!("{fields}");
}
