//! The request's story. A request is read once on arrival ([`Incoming`]: method, target,
//! the headers the path looks at, the clock) and classified once ([`Endpoint`]); then it
//! takes the one branch its endpoint names: a public document, a CORS preflight, the bundle
//! endpoint, or a guarded request (bearer token → principal → decision → forward to the
//! origin, or the AuthZEN answer), each refusal a problem document. Every answer carries the
//! same common headers; one log line per request.

use super::bundle_refresh;
use super::keys::{KeyStore, keys_for};
use super::log::event;
use super::log::{self, Stopwatch};
use super::now_ms;
use super::proxy;
use super::state::{Authenticated, Live, State};
use crate::authzen::{self, Authzen};
use crate::cors;
use crate::endpoint::{Endpoint, Served};
use crate::forward::{Identity, add_vary};
use crate::log_line::RequestRecord;
use crate::problem::AppError;
use crate::request_id::{CALLER_REQUEST_ID_HEADER, answered_request_id};
use crate::request_values::request_values;
use crate::rollout::{self, Caller, Forwarded, Mode, Settled};
use crate::shadow;
use crate::target::target_of;
use crate::token_cookie::{self, TokenSource};
use crate::{BUNDLE_VERSION_HEADER, REQUEST_ID_HEADER};
use cedargate::assertion::Assertion;
use cedargate::revocation::DenyList;
use cedargate::{
    AuthError, Decision, DecisionKey, Gate, KeySet, KeySource, Principal, RequestValues,
    RouteError, RouteMatch, UnixTime, Verdict,
};
use serde_json::json;
use std::cell::{Cell, OnceCell, RefCell};
use std::rc::Rc;
use web_sys::{Request, Response};
use worker::{Context, Env};

pub async fn handle(req: Request, env: Env, ctx: Context) -> Response {
    let incoming = Incoming::read(req);
    answer(&incoming, &env, &ctx).await
}

/// A request as read once, on arrival: everything of it the worker looks at more than once.
struct Incoming {
    req: Request,
    headers: web_sys::Headers,
    /// The method exactly as sent: workers-rs maps methods it does not know (MOVE, PURGE,
    /// ...) to GET, which must never be what is authorized.
    method: String,
    /// Path and query as sent.
    target: String,
    /// The worker's own id for the request.
    id: String,
    /// The `X-Request-ID` every answer carries: the caller's when accepted, else `id`.
    echoed: String,
    authorization: Option<String>,
    /// `Cookie`, read for the token cookie (`token_cookie`).
    cookie: Option<String>,
    origin: Option<String>,
    /// `Access-Control-Request-Method` is present.
    asks_preflight: bool,
    /// The clock, read once: the platform's clock does not move while a request computes.
    now: UnixTime,
    /// The same reading in milliseconds, for caches measured in whole seconds from any
    /// instant (introspection answers).
    now_ms: i64,
    timer: Stopwatch,
}

impl Incoming {
    fn read(req: Request) -> Self {
        let timer = Stopwatch::start();
        let id = log::request_id();
        let headers = req.headers();
        let header = |name: &str| headers.get(name).ok().flatten();
        let echoed = answered_request_id(header(CALLER_REQUEST_ID_HEADER).as_deref(), &id);
        let authorization = header("authorization");
        let cookie = header("cookie");
        let origin = header("origin");
        let asks_preflight = headers
            .has("access-control-request-method")
            .unwrap_or(false);
        let clock_ms = now_ms() as i64;
        Self {
            method: req.method(),
            target: target_of(&req.url()),
            echoed,
            authorization,
            cookie,
            origin,
            asks_preflight,
            now: UnixTime(clock_ms.div_euclid(1000)),
            now_ms: clock_ms,
            id,
            timer,
            headers,
            req,
        }
    }

    /// The headers of every answer the worker makes itself, before a bundle is in force.
    fn own_headers(&self) -> Vec<(&'static str, String)> {
        vec![
            (REQUEST_ID_HEADER, self.id.clone()),
            (CALLER_REQUEST_ID_HEADER, self.echoed.clone()),
        ]
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).ok().flatten()
    }

    /// Writes the request's log line.
    fn log(&self, record: &RequestRecord, status: u16) {
        log::request(
            record,
            &self.id,
            &self.method,
            &self.target,
            status,
            &self.timer,
        );
    }
}

/// The answer to a request, its log line written.
async fn answer(incoming: &Incoming, env: &Env, ctx: &Context) -> Response {
    let mut record = RequestRecord::default();
    let refused = |record: &RequestRecord, err: &AppError| {
        let response = proxy::problem(err, &incoming.id, &incoming.own_headers());
        incoming.log(record, response.status());
        response
    };
    let state = match &*State::get(env) {
        Ok(state) => state.clone(),
        Err(err) => {
            record.error = Some(err.to_string());
            return refused(&record, &AppError::Misconfigured);
        }
    };
    let gate =
        match bundle_refresh::gate_for_request(&state, env, ctx, incoming.now.seconds()).await {
            Ok(gate) => gate,
            Err(err) => {
                record.refused(&err);
                return refused(&record, &err);
            }
        };
    let cors = &state.config().cors;
    let allowed_origin = cors::allowed_origin(cors, incoming.origin.as_deref());
    let mut common = incoming.own_headers();
    common.push((BUNDLE_VERSION_HEADER, gate.version.clone()));
    if let Some(o) = allowed_origin {
        common.extend(cors::response_headers(cors, o));
    }
    if state.config().token_cookie.is_some() {
        // Who is asking may be said by a cookie: no shared cache may answer another caller.
        add_vary(&mut common, "Cookie");
    }
    let authzen = state.authzen();
    let route = gate.route(&incoming.method, &incoming.target);
    let served = Served {
        authzen: authzen.is_some(),
        assertion: state.assertion().is_some(),
        bundle: state.config().bundle_endpoint,
    };
    let endpoint = Endpoint::classify(
        &incoming.method,
        &incoming.target,
        incoming.asks_preflight,
        route.as_ref().ok(),
        served,
    );
    let exchange = Exchange {
        env,
        state: &state,
        ctx,
        gate: &gate,
        incoming,
        route,
        endpoint,
        common: &common,
        decision_key: OnceCell::new(),
    };
    let response = match exchange.serve(authzen, allowed_origin, &mut record).await {
        Ok(response) => response,
        Err(err) => {
            record.refused(&err);
            proxy::problem(&err, &incoming.id, &common)
        }
    };
    if record.mode.is_some() {
        // Every response of a monitored action says so, refusals too.
        let _ = response
            .headers()
            .set(rollout::MODE_HEADER, rollout::MONITOR);
    }
    let status = response.status();
    if record.logged(state.config().request_log, status) {
        incoming.log(&record, status);
    }
    response
}

/// One request on its way through the worker, with what the isolate prepared for it.
struct Exchange<'a> {
    env: &'a Env,
    state: &'a Rc<State>,
    ctx: &'a Context,
    gate: &'a Rc<Live>,
    incoming: &'a Incoming,
    /// The request's route in the bundle in force, matched once.
    route: Result<RouteMatch, RouteError>,
    endpoint: Endpoint,
    /// Headers every response carries.
    common: &'a proxy::Common,
    /// The caller's shared-decision key for the route, made once: a new token needs it when
    /// authenticated (to know whether to build its entities) and again when decided.
    decision_key: OnceCell<Option<DecisionKey>>,
}

impl Exchange<'_> {
    /// The branch the request's endpoint names.
    async fn serve(
        &self,
        authzen: Option<Rc<Authzen>>,
        allowed_origin: Option<&str>,
        record: &mut RequestRecord,
    ) -> Result<Response, AppError> {
        let common = self.common;
        match self.endpoint {
            Endpoint::Metadata => match authzen {
                Some(authzen) => Ok(proxy::text(
                    200,
                    authzen.metadata(),
                    "application/json",
                    common,
                )),
                None => Err(AppError::NoRoute),
            },
            Endpoint::Jwks => {
                let keys = self.state.assertion().ok_or(AppError::NoRoute)?;
                match keys.imported().await {
                    Ok(imported) => Ok(proxy::assertion_jwks(&imported.jwks, common)),
                    Err(err) => {
                        record.error = Some(err);
                        Err(AppError::Misconfigured)
                    }
                }
            }
            Endpoint::Preflight => match allowed_origin {
                Some(o) => Ok(proxy::preflight(
                    &self.state.config().cors,
                    o,
                    self.gate,
                    common,
                )),
                None => Err(AppError::PreflightRefused),
            },
            Endpoint::Bundle => self.bundle(authzen.as_deref(), record).await,
            Endpoint::Authzen(question) => match authzen {
                Some(authzen) => self.guard(Some((&authzen, question)), record).await,
                None => Err(AppError::NoRoute),
            },
            Endpoint::Api => self.guard(None, record).await,
        }
    }

    /// The caller's verified token, not revoked: `Ok(None)` without a token (in
    /// `Authorization` or the token cookie); a refusal made before the policies were asked
    /// otherwise, as [`Refusal`] says. A token from the cookie is refused without the CSRF
    /// defence on an unsafe method (never monitored), or when of an issuer not configured
    /// for the cookie.
    async fn caller<'t>(
        &'t self,
        record: &mut RequestRecord,
    ) -> Result<Option<(&'t str, Rc<Authenticated>)>, Refusal> {
        let config = self.state.config();
        let cookie = config.token_cookie.as_ref();
        let Incoming {
            authorization,
            cookie: cookie_header,
            ..
        } = self.incoming;
        let Some((token, source)) = token_cookie::request_token(
            authorization.as_deref(),
            cookie_header.as_deref(),
            cookie.map(|c| c.name.as_str()),
        )
        .map_err(|err| Refusal::Undecided(err.into()))?
        else {
            return Ok(None);
        };
        let from_cookie = cookie.filter(|_| source == TokenSource::Cookie);
        if let Some(cookie) = from_cookie
            && !token_cookie::csrf_allows(
                &self.incoming.method,
                self.incoming.origin.as_deref(),
                &config.cors.allowed_origins,
                cookie.has_csrf_header(|name| self.incoming.header(name)),
            )
        {
            return Err(Refusal::Final(AppError::CsrfRefused));
        }
        // The companion headers the trust reads (`trust.issuers[].companion`): never logged,
        // never forwarded (x-cedargate-*), part of the token cache's key.
        let names = self.gate.trust().companion_headers();
        let companions = crate::companion::companion_headers(names, |n| self.incoming.header(n));
        let auth = self
            .authenticate(token, &companions, record)
            .await
            .map_err(Refusal::Undecided)?;
        if from_cookie.is_some_and(|c| !c.accepts_issuer(auth.verified.issuer())) {
            return Err(Refusal::Undecided(AppError::InvalidToken {
                kind: "cookie_issuer",
                message: "the token's issuer is not configured for the token cookie".into(),
            }));
        }
        // A cached token too: the list may have changed since it was verified.
        if let Some(list) = self.deny_list().await.map_err(Refusal::Final)?
            && let Some(claim) = list.denies(&auth.verified).or_else(|| {
                let companion = auth.verified.companion()?;
                list.denies(companion)
            })
        {
            return Err(Refusal::Undecided(AppError::InvalidToken {
                kind: "revoked",
                message: format!("the token's {claim} is on the deny list"),
            }));
        }
        record.issuer = Some(auth.verified.issuer().to_owned());
        record.subject = Some(auth.principal.subject().to_owned());
        record.client = auth.principal.client().map(str::to_owned);
        Ok(Some((token, auth)))
    }

    /// The bundle endpoint: the policies and the caller's entity data, to a `GET` with a
    /// token that is still active, and what a person may do on the decision point's
    /// resources (`Authzen::permitted_for`). Never monitored: it has no action.
    async fn bundle(
        &self,
        authzen: Option<&Authzen>,
        record: &mut RequestRecord,
    ) -> Result<Response, AppError> {
        let (token, auth) = match self.caller(record).await {
            Ok(Some(caller)) => caller,
            Ok(None) => return Err(AppError::MissingToken),
            Err(Refusal::Undecided(err) | Refusal::Final(err)) => return Err(err),
        };
        if self.incoming.method != "GET" {
            return Err(AppError::NoRoute);
        }
        self.introspect(token, &auth, None, record).await?;
        let state = self.state;
        let staged = state.staged();
        let permitted = authzen.and_then(|a| {
            a.permitted_for(self.gate.bundle(), &auth.principal)
                .unwrap_or_else(|err| {
                    record.error = Some(format!("permitted resources: {err}"));
                    None
                })
        });
        Ok(proxy::bundle_document(
            state.config(),
            (self.gate.bundle(), state.serial()),
            staged.as_ref().map(|s| (s.gate.bundle(), s.serial)),
            (&auth.principal, permitted),
            self.common,
        ))
    }

    /// An API request or an AuthZEN question (`question`): bearer token → principal →
    /// decision → forward (or the decision point's answer), or the refusal.
    async fn guard(
        &self,
        question: Option<(&Authzen, authzen::Endpoint)>,
        record: &mut RequestRecord,
    ) -> Result<Response, AppError> {
        let (token, auth) = match self.caller(record).await {
            Ok(Some(caller)) => caller,
            // No credentials at all: only a public route goes on, for the anonymous
            // principal; anything else is refused as before, for the missing token.
            Ok(None) => return self.anonymous(record).await,
            Err(Refusal::Undecided(err)) => return self.undecided(err, record).await,
            Err(Refusal::Final(err)) => return Err(err),
        };
        let verdict = self.decide(&auth, record)?;
        let Verdict {
            route, decision, ..
        } = &*verdict;
        record.decided(&route.action, decision);
        self.shadow(Some(&auth.principal), route, decision);
        let mode = self.mode(route, record);
        let refusal = (!decision.is_allowed()).then(|| {
            AppError::denied(
                decision,
                AppError::Forbidden {
                    action: route.action.clone(),
                    policies: decision.policies.clone(),
                },
            )
        });
        let forwarded = match rollout::settle(mode, refusal.clone()) {
            Settled::Refuse(err) => return Err(err),
            Settled::Forward(forwarded) => forwarded,
        };
        if let Some(refusal) = &refusal {
            record.refused(refusal);
        }
        // Whatever was decided, a token that goes on as the caller's identity is one the
        // provider still says is active (a would-deny of an introspected action too).
        if let Err(err) = self
            .introspect(token, &auth, Some(&route.action), record)
            .await
        {
            return match rollout::settle(mode, Some(err.clone())) {
                Settled::Refuse(err) => Err(err),
                Settled::Forward(forwarded) => {
                    record.refused(&err);
                    self.forward_settled(route, &[], None, forwarded, record)
                        .await
                }
            };
        }
        // The AuthZEN endpoints are always enforced (`RolloutConfig::enforces`): only an
        // allowed question gets here.
        if let Some((authzen, endpoint)) = question {
            return self.authzen(authzen, endpoint).await;
        }
        self.forward_settled(
            route,
            &decision.policies,
            Some(&auth.principal),
            forwarded,
            record,
        )
        .await
    }

    /// The verdict for a verified caller: the one made before for the same token and
    /// request when it may be reused, else the gate's, kept for the next time.
    fn decide(
        &self,
        auth: &Authenticated,
        record: &mut RequestRecord,
    ) -> Result<Rc<Verdict>, AppError> {
        let Incoming { method, target, .. } = self.incoming;
        let cached = auth.decisions.borrow().get(method, target);
        record.decision_cache = Some(if cached.is_some() { "hit" } else { "miss" });
        if let Some(verdict) = cached {
            return Ok(verdict);
        }
        let key = self.decision_key(&auth.principal);
        if let Some(verdict) = self.shared_verdict(key) {
            record.decision_cache = Some("shared");
            auth.decisions
                .borrow_mut()
                .insert(method, target, verdict.clone());
            return Ok(verdict);
        }
        let route = self
            .route
            .clone()
            .map_err(|err| AppError::unrouted(err, self.state.config().unmatched))?;
        let verdict = Rc::new(self.gate.decide_route(
            &auth.principal,
            route,
            &self.values_for(self.gate),
        ));
        auth.decisions
            .borrow_mut()
            .insert(method, target, verdict.clone());
        if let Some(key) = key {
            self.gate
                .shared
                .borrow_mut()
                .insert(key, method, target, verdict.clone());
        }
        Ok(verdict)
    }

    /// The key `principal`'s verdict on the request's route is shared under, when the
    /// bundle cannot tell principals of its shape apart (`Gate::decision_key`). Made once
    /// per request: `principal` is always the request's one caller.
    fn decision_key(&self, principal: &Principal) -> Option<&DecisionKey> {
        self.decision_key
            .get_or_init(|| {
                let route = self.route.as_ref().ok()?;
                self.gate.decision_key(principal, route)
            })
            .as_ref()
    }

    /// The verdict a principal of the same key had for this method and target.
    fn shared_verdict(&self, key: Option<&DecisionKey>) -> Option<Rc<Verdict>> {
        let Incoming { method, target, .. } = self.incoming;
        self.gate.shared.borrow().get(key?, method, target)
    }

    /// The mode of the request's action (`rollout`), noted for the log line and the
    /// response header when it is monitored.
    fn mode(&self, route: &RouteMatch, record: &mut RequestRecord) -> Mode {
        let mode = Mode::of(
            self.state.config(),
            &route.method,
            &route.template,
            &route.action,
        );
        if mode.is_monitor() {
            record.mode = Some(rollout::MONITOR);
        }
        mode
    }

    /// A refusal made before the policies were asked (a missing, malformed, forged,
    /// expired or revoked token, or keys that cannot be had): answered, unless the
    /// request's action is monitored and [`rollout::settle`] forwards it. A request that
    /// matches no route has no action and is answered as on an enforced one.
    async fn undecided(
        &self,
        err: AppError,
        record: &mut RequestRecord,
    ) -> Result<Response, AppError> {
        if !self.state.config().rollout.monitors_any() {
            return Err(err);
        }
        let Ok(route) = &self.route else {
            return Err(err);
        };
        let mode = self.mode(route, record);
        match rollout::settle(mode, Some(err.clone())) {
            Settled::Refuse(err) => Err(err),
            Settled::Forward(forwarded) => {
                record.action = Some(route.action.clone());
                record.refused(&err);
                self.forward_settled(route, &[], None, forwarded, record)
                    .await
            }
        }
    }

    /// Forwards a request [`rollout::settle`] let through: as `caller` (a verified token's
    /// principal) when the settlement keeps the caller as decided, else as anonymous, with
    /// the decision header monitor mode adds.
    async fn forward_settled(
        &self,
        route: &RouteMatch,
        policies: &[String],
        caller: Option<&Principal>,
        forwarded: Forwarded,
        record: &mut RequestRecord,
    ) -> Result<Response, AppError> {
        record.would_deny = forwarded.would_deny.clone();
        match (forwarded.caller, caller) {
            (Caller::AsDecided, Some(principal)) => {
                let who = Identity::of(principal);
                let uid = principal.uid().to_string();
                self.forward(&who, &uid, route, policies, &forwarded, record)
                    .await
            }
            // No verified token: the anonymous caller, never a token that failed.
            (caller, _) => {
                // A request without a token goes as what it is; one whose token failed
                // says so in the log by its `would_deny`.
                record.anonymous |= caller == Caller::AsDecided;
                let anonymous = self
                    .gate
                    .bundle()
                    .anonymous_principal()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                self.forward(
                    &Identity::anonymous(),
                    &anonymous,
                    route,
                    policies,
                    &forwarded,
                    record,
                )
                .await
            }
        }
    }

    /// An AuthZEN question from a caller the policies let ask: a body that is not sent as
    /// JSON is refused ([`authzen::is_json_content_type`], the one rule of every endpoint)
    /// before it is read; else the body, read up to the decision point's bound, answered by
    /// the decision point (the caller's `X-Request-ID` goes with the common headers, as on
    /// every answer).
    async fn authzen(
        &self,
        authzen: &Authzen,
        endpoint: authzen::Endpoint,
    ) -> Result<Response, AppError> {
        let content_type = self.incoming.header("content-type");
        if !authzen::is_json_content_type(content_type.as_deref()) {
            return Err(AppError::UnsupportedMediaType);
        }
        let declared = self.incoming.header("content-length");
        let answer = if authzen::too_large(declared.as_deref()) {
            authzen::Answer::too_large()
        } else {
            match read_body_capped(&self.incoming.req, cedargate::authzen::MAX_REQUEST_BYTES).await
            {
                Ok(body) => authzen.answer(endpoint, &body),
                Err(BodyError::TooLarge) => authzen::Answer::too_large(),
                Err(BodyError::Unreadable) => authzen.answer(endpoint, b""),
            }
        };
        Ok(proxy::text(
            answer.status,
            &answer.body,
            answer.content_type,
            self.common,
        ))
    }

    /// For a sampled share of decided requests (`bundle_kv.shadow_percent`), the same
    /// request decided with the staged candidate too, for the same caller (`None`: the
    /// anonymous principal of a public route) and request values; a decision that differs
    /// from the live one (`route`, `decision`) is logged as `decision_changed`. Nothing of
    /// it reaches the answer, its status or its headers.
    fn shadow(&self, caller: Option<&Principal>, route: &RouteMatch, decision: &Decision) {
        let Some(kv) = self.state.config().bundle_kv.as_ref() else {
            return;
        };
        let Some(staged) = self.state.staged() else {
            return;
        };
        let Incoming {
            id, method, target, ..
        } = self.incoming;
        if !shadow::sampled(id, kv.shadow_percent) {
            return;
        }
        let gate = &staged.gate;
        let values = self.values_for(gate);
        let decided = match caller {
            Some(principal) => gate.decide(principal, method, target, &values).ok(),
            None => gate.decide_anonymous(method, target, &values),
        };
        let anonymous_type = caller
            .is_none()
            .then(|| {
                self.gate
                    .bundle()
                    .anonymous_principal()
                    .map(|uid| uid.type_name().to_string())
            })
            .flatten()
            .unwrap_or_default();
        let principal_type = match caller {
            Some(principal) => principal.uid().type_name().to_string(),
            None => anonymous_type,
        };
        let who = shadow::Caller {
            principal_type: &principal_type,
            groups: caller.map_or(&[], |p| p.groups()),
        };
        let live = shadow::Outcome::of(&route.action, decision);
        let staged = decided
            .as_ref()
            .map(|(route, decision)| shadow::Outcome::of(&route.action, decision));
        if let Some(fields) = shadow::decision_changed(id, &who, &live, staged.as_ref()) {
            event(shadow::DECISION_CHANGED, fields);
        }
    }

    /// The request's own values, as far as the actions of `gate`'s bundle declare them.
    fn values_for(&self, gate: &Gate) -> RequestValues {
        request_values(
            gate.bundle().context_needs(),
            self.incoming.now,
            |name| self.incoming.header(name),
            || self.cf_string("country"),
            || self.cf_string("colo").is_some(),
        )
    }

    /// A string member of `request.cf`, which Cloudflare's front fills (absent elsewhere).
    fn cf_string(&self, name: &str) -> Option<String> {
        let cf = js_sys::Reflect::get(&self.incoming.req, &"cf".into()).ok()?;
        if !cf.is_object() {
            return None;
        }
        js_sys::Reflect::get(&cf, &name.into()).ok()?.as_string()
    }

    /// Forwards a request with its identity headers, monitor mode's decision header and,
    /// when configured, its signed assertion. The client's `Authorization` goes along as
    /// configured, never for a caller that was withheld (a token that failed).
    async fn forward(
        &self,
        who: &Identity<'_>,
        principal: &str,
        route: &RouteMatch,
        policies: &[String],
        forwarded: &Forwarded,
        record: &mut RequestRecord,
    ) -> Result<Response, AppError> {
        let assertion = self
            .assertion(who, principal, route, policies, forwarded, record)
            .await?;
        let config = self.state.config();
        let outgoing = proxy::Outgoing {
            route,
            who,
            policies,
            decision: forwarded.decision.as_deref(),
            assertion,
            decided_on: &self.gate.decided_on,
            authorization: config.forward_authorization && forwarded.caller == Caller::AsDecided,
        };
        let Incoming { req, id, .. } = self.incoming;
        proxy::forward(config, req, &outgoing, id, self.common).await
    }

    /// The signed identity assertion for a forwarded request, when configured (with
    /// monitor mode's decision on an action that is not enforced). A key that cannot be
    /// imported or a signature that fails is a 500: the request is never forwarded without
    /// the assertion the origin expects.
    async fn assertion(
        &self,
        who: &Identity<'_>,
        principal: &str,
        route: &RouteMatch,
        policies: &[String],
        forwarded: &Forwarded,
        record: &mut RequestRecord,
    ) -> Result<Option<String>, AppError> {
        let Some(keys) = self.state.assertion() else {
            return Ok(None);
        };
        let failed = |record: &mut RequestRecord, err: String| {
            record.error = Some(err);
            AppError::Misconfigured
        };
        let imported = match keys.imported().await {
            Ok(imported) => imported,
            Err(err) => return Err(failed(record, err)),
        };
        let signer = keys;
        let now = self.incoming.now.seconds();
        let text = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let assertion = Assertion {
            iss: signer.config.issuer.clone(),
            aud: signer.config.audience.clone(),
            iat: now,
            exp: now.saturating_add(crate::config::whole_seconds(signer.config.ttl)),
            jti: self.incoming.id.clone(),
            token_iss: text(who.issuer),
            sub: text(who.subject),
            principal: principal.to_owned(),
            groups: who.groups.to_vec(),
            client: who.client.map(str::to_owned),
            anonymous: who.anonymous,
            action: route.action.clone(),
            method: route.method.to_ascii_uppercase(),
            path: route.path.clone(),
            query: route.query.clone(),
            policies: policies.to_vec(),
            enforced: forwarded.decision.is_none(),
            decision: forwarded.decision.clone(),
        };
        match imported.sign(&assertion).await {
            Ok(jwt) => Ok(Some(jwt)),
            Err(err) => Err(failed(record, err)),
        }
    }

    /// A request without `Authorization`: a public route's decision for the anonymous
    /// principal, forwarded when it allows. A route that is not public, no route, a path
    /// that is refused, and a deny all answer what a missing token gets (401).
    async fn anonymous(&self, record: &mut RequestRecord) -> Result<Response, AppError> {
        let values = self.values_for(self.gate);
        let verdict = self
            .route
            .as_ref()
            .ok()
            .and_then(|route| self.gate.decide_route_anonymous(route.clone(), &values));
        let Some(Verdict {
            route, decision, ..
        }) = verdict
        else {
            // Not a public route (or no route): the missing token, or its would-deny.
            return self.undecided(AppError::MissingToken, record).await;
        };
        record.anonymous = true;
        record.decided(&route.action, &decision);
        self.shadow(None, &route, &decision);
        let mode = self.mode(&route, record);
        let refusal =
            (!decision.is_allowed()).then(|| AppError::denied(&decision, AppError::MissingToken));
        match rollout::settle(mode, refusal.clone()) {
            Settled::Refuse(err) => Err(err),
            Settled::Forward(forwarded) => {
                if let Some(refusal) = &refusal {
                    record.refused(refusal);
                }
                self.forward_settled(&route, &decision.policies, None, forwarded, record)
                    .await
            }
        }
    }

    /// Asks the issuer's introspection endpoint, when configured for this method and action
    /// (`None`: the bundle endpoint, introspected whenever the issuer is, whatever the
    /// methods and actions chosen), whether the token is still active, reusing an answer for the configured time (never
    /// past the token's `exp`). Not active: 401 `inactive`. No answer: 503, never a pass.
    async fn introspect(
        &self,
        token: &str,
        auth: &Authenticated,
        action: Option<&str>,
        record: &mut RequestRecord,
    ) -> Result<(), AppError> {
        let Some(client) = self.state.introspection(auth.verified.issuer()) else {
            return Ok(());
        };
        if action.is_some_and(|action| !client.config.applies(&self.incoming.method, action)) {
            return Ok(());
        }
        let now_ms = self.incoming.now_ms;
        let active = match auth.introspected.get() {
            Some((active, until_ms)) if now_ms < until_ms => active,
            _ => {
                let hint = match auth.verified.kind() {
                    cedargate::TokenKind::Access => "access_token",
                    cedargate::TokenKind::Id => "id_token",
                };
                let answer = client.ask(token, hint).await.map_err(|err| {
                    event("introspection_unavailable", json!({ "error": err }));
                    AppError::IntrospectionUnavailable {
                        retry_after: crate::config::seconds_rounded_up(client.config.timeout)
                            .max(1),
                    }
                })?;
                let until_ms = answer.reusable_until_ms(
                    now_ms,
                    client.config.cache,
                    auth.verified.expires_at().seconds(),
                );
                auth.introspected.set(Some((answer.active, until_ms)));
                answer.active
            }
        };
        record.introspected = Some(active);
        if active {
            Ok(())
        } else {
            Err(AppError::InvalidToken {
                kind: "inactive",
                message: "the provider's introspection says the token is not active".into(),
            })
        }
    }

    /// The deny list, read from KV when the last read is `refresh_seconds` old (awaited, so a
    /// listed id is refused within that time). A failed or refused read keeps the last list
    /// and is logged; with no list read yet, every token gets 503: none can be known not to
    /// be revoked.
    async fn deny_list(&self) -> Result<Option<Rc<DenyList>>, AppError> {
        let Some(config) = &self.state.config().deny_list else {
            return Ok(None);
        };
        let retry = AppError::RevocationUnavailable {
            retry_after: config.refresh.as_secs(),
        };
        let now = self.incoming.now.seconds();
        if let Some(fresh) = self.state.deny_list_if_fresh(now, config.refresh) {
            return fresh.map_err(|()| retry);
        }
        let read = match self.env.kv(&config.binding) {
            Ok(kv) => match kv.get(&config.key).text().await {
                Ok(Some(text)) => DenyList::from_json(&text).map_err(|e| e.to_string()),
                // No entry: nothing is denied.
                Ok(None) => Ok(DenyList::default()),
                Err(err) => Err(format!("unreadable: {err}")),
            },
            Err(_) => Err(format!("no KV binding {}", config.binding)),
        };
        let list = match read {
            Ok(list) => Some(list),
            Err(error) => {
                event("deny_list_unavailable", json!({ "error": error }));
                None
            }
        };
        self.state.deny_list_read(now, list).map(Some).ok_or(retry)
    }

    /// The token cache, or the shared core's pipeline with the isolate's keys.
    async fn authenticate(
        &self,
        token: &str,
        companions: &[(&str, String)],
        record: &mut RequestRecord,
    ) -> Result<Rc<Authenticated>, AppError> {
        let Self {
            state, ctx, gate, ..
        } = *self;
        let now = self.incoming.now;
        let key = crate::companion::credentials_key(token, companions);
        if let Some(hit) = state.cached_token(&key, now.seconds()) {
            record.token_cache = Some("hit");
            return Ok(hit);
        }
        record.token_cache = Some(if state.config().token_cache_entries == 0 {
            "off"
        } else {
            "miss"
        });
        let generation = state.token_generation();
        let source = IsolateKeys {
            store: state.keys(),
            ctx,
            now: now.seconds(),
            asked: RefCell::new(None),
        };
        let presented: Vec<(&str, &str)> =
            companions.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let credentials = cedargate::Credentials {
            token,
            companions: &presented,
        };
        let result = gate
            .authenticate_deferred_with(credentials, &source, state.signature_backend(), now)
            .await;
        record.issuer = source.asked.take();
        let (verified, principal) = result?;
        // Verified and mapped in full. Its Cedar entities are built now unless a principal
        // of the same shape was decided for this request (`Exchange::decide` takes that
        // verdict); one that does not fit the schema is refused as `Gate::authenticate`
        // refuses it.
        if self.shared_verdict(self.decision_key(&principal)).is_none() {
            principal
                .entities()
                .map_err(|err| AppError::from(AuthError::Refused(err.into())))?;
        }
        let expires = verified.expires_at().seconds();
        let auth = Rc::new(Authenticated {
            verified,
            principal,
            decisions: RefCell::default(),
            introspected: Cell::new(None),
        });
        state.remember_token(generation, key, auth.clone(), expires);
        Ok(auth)
    }
}

/// A refusal made before the policies were asked, and what may become of it.
enum Refusal {
    /// The caller could not be identified (no valid token, or it is revoked): answered,
    /// unless the request's action is monitored ([`Exchange::undecided`]).
    Undecided(AppError),
    /// Whether the caller is revoked cannot be known (the deny list is unavailable), or a
    /// token from the cookie lacks its CSRF defence: answered, monitored action or not.
    Final(AppError),
}

/// The isolate's key store as the shared core's key source; remembers which issuer was asked
/// for, for the log line.
struct IsolateKeys<'a> {
    store: &'a Rc<KeyStore>,
    ctx: &'a Context,
    now: i64,
    asked: RefCell<Option<String>>,
}

impl KeySource for &IsolateKeys<'_> {
    type Keys = Rc<KeySet>;
    type Error = AppError;
    async fn keys(&self, issuer: &str, kid: Option<&str>) -> Result<Rc<KeySet>, AppError> {
        *self.asked.borrow_mut() = Some(issuer.to_owned());
        keys_for(self.store, self.ctx, issuer, kid, self.now).await
    }
}

/// Why a request's body was not taken.
enum BodyError {
    /// It passed the bound.
    TooLarge,
    /// It could not be read.
    Unreadable,
}

/// A request's body (empty when it has none), read chunk by chunk and given up as soon as
/// it passes `max` bytes, whatever `Content-Length` says or when there is none.
async fn read_body_capped(req: &Request, max: usize) -> Result<Vec<u8>, BodyError> {
    use futures_util::StreamExt;
    if req.body().is_none() {
        return Ok(Vec::new());
    }
    let mut stream = worker::Request::from(Clone::clone(req))
        .stream()
        .map_err(|_| BodyError::Unreadable)?;
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| BodyError::Unreadable)?;
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
