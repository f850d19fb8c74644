//! Monitor mode (`rollout`): the PetStore bundle with every action monitored but
//! `get /pets/{petId}`, in front of the echo origin, with the signed assertion. Refusals of
//! monitored actions reach the origin marked `would-deny`, allowed requests `allow`; a token
//! that fails verification is refused (the default) or, with `forward_without_identity`,
//! forwarded without any identity; never as one.

use super::*;
use cedargate::UnixTime;
use cedargate::assertion::{Assertion, AssertionSigningKey, AssertionVerifier, JWKS_PATH};

const EDGE: &str = "https://edge.monitor.test";
const ORIGIN: &str = "https://origin.monitor.test";

pub struct Monitor {
    _provider: TestProvider,
    _origin: Option<EchoOrigin>,
    /// Monitors every action but `get /pets/{petId}`; refuses tokens that fail.
    w: Wrangler,
    /// The same with `invalid_tokens: forward_without_identity`.
    forwarding: Wrangler,
    /// Names an action the bundle does not have.
    mistyped: Wrangler,
    issuer: String,
}

pub const CHECKS: &[Check<Monitor>] = checks![
    a_denied_request_reaches_the_origin_as_would_deny_and_is_logged,
    an_allowed_request_of_a_monitored_action_is_told_allow,
    a_request_without_a_token_is_forwarded_anonymous,
    a_forged_token_is_refused_by_default,
    a_forged_token_goes_without_any_identity_when_configured,
    an_enforced_action_is_still_refused,
    a_client_sent_decision_never_reaches_the_origin,
    the_bundle_endpoint_says_which_actions_are_enforced,
    an_override_no_route_has_makes_the_worker_refuse_to_run,
];

/// The identity headers a verified token gives the origin.
const IDENTITY: [&str; 5] = [
    "x-cedargate-issuer",
    "x-cedargate-subject",
    "x-cedargate-principal",
    "x-cedargate-groups",
    "x-cedargate-client",
];

pub fn start() -> Result<Monitor, String> {
    let fixture = Fixture::new("env-monitor")?.origin()?;
    let key = AssertionSigningKey::from_seed({
        let mut seed = [7u8; 32];
        seed[..8].copy_from_slice(&(now() as u64).to_le_bytes());
        seed
    });
    let config = |invalid_tokens: &str, actions: Value| {
        fixture.config(json!({
            "bundle_endpoint": true,
            "assertion": { "issuer": EDGE, "audience": ORIGIN },
            "rollout": { "enforce": false, "actions": actions, "invalid_tokens": invalid_tokens },
        }))
    };
    let start = |name: &str, config: Value| {
        let vars = json!({ "vars": {
            "CEDARGATE_CONFIG": config,
            "CEDARGATE_ASSERTION_KEY": key.to_base64url(),
        } });
        Wrangler::start(name, &config, &vars)
    };
    let enforced = json!({ "get /pets/{petId}": true });
    let w = start("edge-monitor", config("refuse", enforced.clone()))?;
    let forwarding = start(
        "edge-monitor-forward",
        config("forward_without_identity", enforced),
    )?;
    let mistyped = start(
        "edge-monitor-typo",
        config("refuse", json!({ "get /pet/{petId}": true })),
    )?;
    let Fixture {
        provider,
        issuer,
        origin,
    } = fixture;
    Ok(Monitor {
        _provider: provider,
        _origin: origin,
        w,
        forwarding,
        mistyped,
        issuer,
    })
}

/// A request with `headers` and, when given, the token; the reply.
fn send(
    w: &Wrangler,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> Result<Reply, String> {
    let auth = token.map(bearer);
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    if let Some(a) = &auth {
        all.push(("authorization", a.as_str()));
    }
    http::send(method, &w.url(path), &all, None)
}

/// What the echo origin received for a request answered 200, after checking the monitor
/// mode's response header.
fn forwarded(reply: &Reply, what: &str) -> Result<Value, String> {
    same(reply.status, 200, &format!("{what}: forwarded"))?;
    same(reply.header("x-origin"), Some("echo"), what)?;
    same(
        reply.header("x-cedargate-mode"),
        Some("monitor"),
        &format!("{what}: mode header"),
    )?;
    Ok(reply.json())
}

/// The assertion the origin received, verified as an origin would.
fn assertion(w: &Wrangler, seen: &Value) -> Result<Assertion, String> {
    let jwks = http::send("GET", &w.url(JWKS_PATH), &[], None)?.text();
    let verifier = AssertionVerifier::new(&jwks, EDGE, ORIGIN).map_err(|e| e.to_string())?;
    let jwt = seen["headers"]["x-cedargate-assertion"]
        .as_str()
        .ok_or("no assertion reached the origin")?;
    let a = verifier
        .verify(jwt, UnixTime(now()))
        .map_err(|e| e.to_string())?;
    ensure(
        a.binds(
            seen["method"].as_str().unwrap_or_default(),
            seen["path"].as_str().unwrap_or_default(),
            seen["query"].as_str(),
        ),
        || format!("the assertion is for another request: {seen}"),
    )?;
    Ok(a)
}

/// The worker's log line of the request `id` (wrangler writes it out a moment later).
fn log_line(w: &Wrangler, id: &str) -> Result<Value, String> {
    let mut found = None;
    poll(&format!("the log line of {id}"), || {
        found = w
            .log_lines()
            .into_iter()
            .find(|l| l["request_id"].as_str() == Some(id));
        Ok(found.is_some())
    })?;
    found.ok_or_else(|| format!("no log line for {id}"))
}

fn a_denied_request_reaches_the_origin_as_would_deny_and_is_logged(
    s: &Monitor,
) -> Result<(), String> {
    let bob = id_token(&s.issuer, "bob", &["AVP_User"], "a-rsa-1");
    let reply = send(&s.w, "POST", "/pets", Some(&bob), &[])?;
    let seen = forwarded(&reply, "bob's post /pets")?;
    let h = &seen["headers"];
    same(
        h["x-cedargate-decision"].as_str(),
        Some("would-deny; reason=forbidden"),
        "the origin is told",
    )?;
    same(seen["method"].as_str(), Some("POST"), "method")?;
    same(
        h["x-cedargate-subject"].as_str(),
        Some("bob"),
        "bob's verified identity",
    )?;
    same(h["x-cedargate-groups"].as_str(), Some("AVP_User"), "groups")?;
    same(
        h["x-cedargate-action"].as_str(),
        Some("post%20/pets"),
        "action",
    )?;
    same(
        h["x-cedargate-policies"].as_str(),
        Some(""),
        "no policy permits it",
    )?;
    let a = assertion(&s.w, &seen)?;
    same(
        (a.enforced, a.decision.as_deref(), a.allowed()),
        (false, Some("would-deny; reason=forbidden"), false),
        "the assertion says the same",
    )?;
    same(a.sub.as_deref(), Some("bob"), "assertion subject")?;
    let id = reply
        .header("x-cedargate-request-id")
        .ok_or("no request id")?;
    let line = log_line(&s.w, id)?;
    same(
        line["mode"].as_str(),
        Some("monitor"),
        "the log says monitor",
    )?;
    same(line["status"].as_u64(), Some(200), "the status answered")?;
    same(line["decision"].as_str(), Some("deny"), "decided as always")?;
    same(
        line["would_deny"].clone(),
        json!({ "status": 403, "reason": "forbidden", "policies": [] }),
        "the refusal it would have been",
    )?;
    same(line["subject"].as_str(), Some("bob"), "who")?;
    ensure(!s.w.logs().contains(&bob), || {
        "bob's token reached the log".into()
    })
}

fn an_allowed_request_of_a_monitored_action_is_told_allow(s: &Monitor) -> Result<(), String> {
    let alice = id_token(&s.issuer, "alice", &["AVP_Admin"], "a-rsa-1");
    let reply = send(&s.w, "POST", "/pets", Some(&alice), &[])?;
    let seen = forwarded(&reply, "alice's post /pets")?;
    let h = &seen["headers"];
    same(
        h["x-cedargate-decision"].as_str(),
        Some("allow"),
        "the origin is told",
    )?;
    same(h["x-cedargate-subject"].as_str(), Some("alice"), "subject")?;
    same(
        h["x-cedargate-policies"].as_str(),
        Some("avp-admin-all"),
        "the allowing policy",
    )?;
    let a = assertion(&s.w, &seen)?;
    same(
        (a.enforced, a.decision.as_deref(), a.allowed()),
        (false, Some("allow"), true),
        "assertion",
    )?;
    let id = reply
        .header("x-cedargate-request-id")
        .ok_or("no request id")?;
    let line = log_line(&s.w, id)?;
    same(line["mode"].as_str(), Some("monitor"), "mode")?;
    same(line["decision"].as_str(), Some("allow"), "decision")?;
    ensure(line.get("would_deny").is_none(), || {
        format!("an allowed request would deny nothing: {line}")
    })
}

fn a_request_without_a_token_is_forwarded_anonymous(s: &Monitor) -> Result<(), String> {
    let reply = send(&s.w, "GET", "/pets", None, &[])?;
    let seen = forwarded(&reply, "get /pets without a token")?;
    let h = &seen["headers"];
    same(
        h["x-cedargate-decision"].as_str(),
        Some("would-deny; reason=missing_token"),
        "decision",
    )?;
    same(
        h["x-cedargate-anonymous"].as_str(),
        Some("true"),
        "anonymous",
    )?;
    for name in IDENTITY {
        same(h[name].as_str(), None, name)?;
    }
    let a = assertion(&s.w, &seen)?;
    same(
        (a.anonymous, a.sub.as_deref(), a.token_iss.as_deref()),
        (true, None, None),
        "the assertion names nobody",
    )?;
    same(
        a.decision.as_deref(),
        Some("would-deny; reason=missing_token"),
        "assertion",
    )?;
    let id = reply
        .header("x-cedargate-request-id")
        .ok_or("no request id")?;
    let line = log_line(&s.w, id)?;
    same(
        (
            line["would_deny"]["status"].as_u64(),
            line["anonymous"].as_bool(),
        ),
        (Some(401), Some(true)),
        "logged as the missing token",
    )?;
    // What matches no route is answered as always: nothing to monitor.
    let unrouted = send(&s.w, "GET", "/nowhere", None, &[])?;
    same(unrouted.status, 401, "no route, no token")?;
    same(
        unrouted.header("x-cedargate-mode"),
        None,
        "no action, no mode",
    )?;
    let bob = id_token(&s.issuer, "bob", &["AVP_User"], "a-rsa-1");
    same(
        send(&s.w, "GET", "/nowhere", Some(&bob), &[])?.status,
        404,
        "no route",
    )?;
    same(
        send(&s.w, "GET", "/pets/a%2Fb", Some(&bob), &[])?.status,
        400,
        "a refused path",
    )
}

/// A token signed by a key the provider never published, claiming alice and AVP_Admin.
fn forged(issuer: &str) -> String {
    let t = now();
    record(mint_raw(
        &json!({ "alg": "RS256", "kid": "a-rsa-1" }).to_string(),
        &json!({ "iss": issuer, "aud": CLIENT, "sub": "alice", "group": ["AVP_Admin"],
                 "iat": t - 5, "exp": t + 600 })
        .to_string(),
        "attacker-rsa",
    ))
}

fn a_forged_token_is_refused_by_default(s: &Monitor) -> Result<(), String> {
    let forged = forged(&s.issuer);
    let expired = {
        let t = now();
        record(support::mint(
            &json!({ "iss": s.issuer, "aud": CLIENT, "sub": "alice", "group": ["AVP_Admin"],
                     "iat": t - 900, "exp": t - 300 }),
            "a-rsa-1",
            "JWT",
        ))
    };
    for (token, reason) in [(&forged, "bad_signature"), (&expired, "expired")] {
        let reply = send(&s.w, "POST", "/pets", Some(token), &[])?;
        same(reply.status, 401, reason)?;
        same(
            reply.json()["reason"].as_str(),
            Some(reason),
            "the reason code",
        )?;
        same(reply.header("x-origin"), None, "the origin never saw it")?;
        same(
            reply.header("x-cedargate-mode"),
            Some("monitor"),
            "a response of a monitored action",
        )?;
    }
    Ok(())
}

fn a_forged_token_goes_without_any_identity_when_configured(s: &Monitor) -> Result<(), String> {
    let w = &s.forwarding;
    let forged = forged(&s.issuer);
    let reply = send(w, "POST", "/pets", Some(&forged), &[])?;
    let seen = forwarded(&reply, "a forged token")?;
    let h = &seen["headers"];
    same(
        h["x-cedargate-decision"].as_str(),
        Some("would-deny; reason=invalid_token"),
        "decision",
    )?;
    same(
        h["x-cedargate-anonymous"].as_str(),
        Some("true"),
        "anonymous",
    )?;
    for name in IDENTITY.iter().chain(&["authorization"]) {
        same(h[*name].as_str(), None, name)?;
    }
    ensure(!seen.to_string().contains("alice"), || {
        format!("the forged identity reached the origin: {seen}")
    })?;
    let a = assertion(w, &seen)?;
    same(
        (
            a.anonymous,
            a.sub.as_deref(),
            a.token_iss.as_deref(),
            a.groups.is_empty(),
        ),
        (true, None, None, true),
        "the assertion names nobody",
    )?;
    same(
        a.decision.as_deref(),
        Some("would-deny; reason=invalid_token"),
        "assertion decision",
    )?;
    let id = reply
        .header("x-cedargate-request-id")
        .ok_or("no request id")?;
    let line = log_line(w, id)?;
    same(
        line["would_deny"]["reason"].as_str(),
        Some("invalid_token"),
        "logged",
    )?;
    ensure(
        line["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("bad_signature")),
        || format!("the log says why: {line}"),
    )?;
    same(line["subject"].as_str(), None, "no subject in the log")?;
    // A verified token keeps its identity there too.
    let bob = id_token(&s.issuer, "bob", &["AVP_User"], "a-rsa-1");
    let seen = forwarded(
        &send(w, "POST", "/pets", Some(&bob), &[])?,
        "bob on the forwarding worker",
    )?;
    same(
        seen["headers"]["x-cedargate-subject"].as_str(),
        Some("bob"),
        "bob",
    )?;
    same(
        seen["headers"]["authorization"].as_str(),
        Some(bearer(&bob).as_str()),
        "a verified token's header goes as configured",
    )?;
    // On the enforced action a forged token is refused whatever the setting.
    same(
        send(w, "GET", "/pets/7", Some(&forged), &[])?.status,
        401,
        "forged token on the enforced action",
    )
}

fn an_enforced_action_is_still_refused(s: &Monitor) -> Result<(), String> {
    let nobody = id_token(&s.issuer, "carol", &[], "a-rsa-1");
    let refused = send(&s.w, "GET", "/pets/7", Some(&nobody), &[])?;
    same(refused.status, 403, "get /pets/{petId} is enforced")?;
    same(
        refused.json()["type"].as_str(),
        Some("urn:cedargate:problem:forbidden"),
        "type",
    )?;
    same(refused.header("x-cedargate-mode"), None, "no mode header")?;
    same(
        send(&s.w, "GET", "/pets/7", None, &[])?.status,
        401,
        "no token on the enforced action",
    )?;
    // The same caller on a monitored action goes through, told would-deny.
    let seen = forwarded(
        &send(&s.w, "GET", "/pets", Some(&nobody), &[])?,
        "carol's get /pets",
    )?;
    same(
        seen["headers"]["x-cedargate-decision"].as_str(),
        Some("would-deny; reason=forbidden"),
        "monitored",
    )?;
    // An allowed request of the enforced action is forwarded as always: no decision header,
    // an assertion without `enforced` or `decision`.
    let alice = id_token(&s.issuer, "alice", &["AVP_Admin"], "a-rsa-1");
    let reply = send(&s.w, "GET", "/pets/7", Some(&alice), &[])?;
    same(reply.status, 200, "alice reads pet 7")?;
    same(reply.header("x-cedargate-mode"), None, "enforced")?;
    let seen = reply.json();
    same(
        seen["headers"]["x-cedargate-decision"].as_str(),
        None,
        "no decision header",
    )?;
    let a = assertion(&s.w, &seen)?;
    same(
        (a.enforced, a.decision.as_deref(), a.allowed()),
        (true, None, true),
        "enforced assertion",
    )
}

fn a_client_sent_decision_never_reaches_the_origin(s: &Monitor) -> Result<(), String> {
    let spoofed = [
        ("x-cedargate-decision", "allow; spoofed"),
        ("x-cedargate-mode", "enforce"),
    ];
    let bob = id_token(&s.issuer, "bob", &["AVP_User"], "a-rsa-1");
    let seen = forwarded(
        &send(&s.w, "POST", "/pets", Some(&bob), &spoofed)?,
        "bob with his own decision",
    )?;
    same(
        seen["headers"]["x-cedargate-decision"].as_str(),
        Some("would-deny; reason=forbidden"),
        "the edge's decision, not the client's",
    )?;
    same(
        seen["headers"]["x-cedargate-mode"].as_str(),
        None,
        "a client's mode header is dropped",
    )?;
    let alice = id_token(&s.issuer, "alice", &["AVP_Admin"], "a-rsa-1");
    let reply = send(&s.w, "GET", "/pets/7", Some(&alice), &spoofed)?;
    same(reply.status, 200, "enforced and allowed")?;
    same(
        reply.json()["headers"]["x-cedargate-decision"].as_str(),
        None,
        "nothing on an enforced action, a client's neither",
    )?;
    let seen = forwarded(
        &send(&s.forwarding, "POST", "/pets", None, &spoofed)?,
        "no token, with a decision of its own",
    )?;
    same(
        seen["headers"]["x-cedargate-decision"].as_str(),
        Some("would-deny; reason=missing_token"),
        "anonymous",
    )
}

fn the_bundle_endpoint_says_which_actions_are_enforced(s: &Monitor) -> Result<(), String> {
    let alice = id_token(&s.issuer, "alice", &["AVP_Admin"], "a-rsa-1");
    let reply = send(&s.w, "GET", cedargate_edge_bundle_path(), Some(&alice), &[])?;
    same(reply.status, 200, "the bundle endpoint")?;
    same(
        reply.header("x-cedargate-mode"),
        None,
        "the endpoint is no action",
    )?;
    let doc: cedargate::wire::BundleEndpoint =
        serde_json::from_str(&reply.text()).map_err(|e| e.to_string())?;
    same(
        serde_json::to_value(&doc.enforced).map_err(|e| e.to_string())?,
        json!({ "get /": false, "get /pets": false, "get /pets/{petId}": true, "post /pets": false }),
        "enforced actions",
    )?;
    same(
        send(&s.w, "GET", cedargate_edge_bundle_path(), None, &[])?.status,
        401,
        "the endpoint still needs a token",
    )
}

/// An override no route has would leave that action in the deployment's mode without a
/// word: the worker refuses to run instead, and says why.
fn an_override_no_route_has_makes_the_worker_refuse_to_run(s: &Monitor) -> Result<(), String> {
    let bob = id_token(&s.issuer, "bob", &["AVP_User"], "a-rsa-1");
    let reply = send(&s.mistyped, "POST", "/pets", Some(&bob), &[])?;
    same(reply.status, 500, "an action no route has")?;
    same(
        reply.json()["type"].as_str(),
        Some("urn:cedargate:problem:misconfigured"),
        "type",
    )?;
    let logged = s.mistyped.log_lines().into_iter().any(|l| {
        l["error"].as_str().is_some_and(|e| {
            e.contains(
                "rollout.actions: \"get /pet/{petId}\" is not an action of the bundle's routes",
            )
        })
    });
    ensure(logged, || {
        format!("the reason is logged:\n{}", s.mistyped.logs())
    })
}
