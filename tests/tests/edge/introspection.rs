//! RFC 7662 introspection: allow, revoke at the provider, refused within the cache time; only
//! the chosen actions asked about; no answer is a 503; no secret, no worker.

use super::*;
use cedargate_tests::provider::{INTROSPECTION_CLIENT, Mode};

const ENV: &str = "env-introspect";

pub struct Introspecting {
    provider: TestProvider,
    issuer: String,
    w: Wrangler,
    unkeyed: Wrangler,
    /// Configured with an action no route of the bundle has.
    mistyped: Wrangler,
}

pub const CHECKS: &[Check<Introspecting>] = checks![
    a_token_revoked_at_the_provider_is_refused_within_the_cache_time,
    only_the_chosen_actions_are_introspected,
    the_bundle_endpoint_is_introspected_whatever_the_actions,
    no_answer_from_the_provider_is_a_503_never_a_pass,
    without_its_secret_the_worker_refuses_to_run,
    an_action_no_route_has_makes_the_worker_refuse_to_run,
];

pub fn start() -> Result<Introspecting, String> {
    let fixture = Fixture::new(ENV)?;
    let issuer = &fixture.issuer;
    let config = fixture.config(json!({
        "bundle_endpoint": true,
        "introspection": [{
            "issuer": issuer,
            "endpoint": format!("{issuer}/introspect"),
            "client_id": INTROSPECTION_CLIENT.0,
            "actions": ["get /pets", "post /pets"],
            "cache_seconds": 1,
            "timeout_ms": 1000,
        }],
    }));
    let vars = |config: &Value| {
        json!({ "vars": {
            "CEDARGATE_CONFIG": config,
            "CEDARGATE_INTROSPECTION_SECRET": INTROSPECTION_CLIENT.1,
        } })
    };
    let w = Wrangler::start("edge-introspect", &config, &vars(&config))?;
    let unkeyed = Wrangler::start("edge-introspect-unkeyed", &config, &json!({}))?;
    let mut typo = config.clone();
    typo["introspection"][0]["actions"] = json!(["get /pets", "post /pet"]);
    let mistyped = Wrangler::start("edge-introspect-typo", &typo, &vars(&typo))?;
    let Fixture {
        provider, issuer, ..
    } = fixture;
    Ok(Introspecting {
        provider,
        issuer,
        w,
        unkeyed,
        mistyped,
    })
}

impl Introspecting {
    fn token(&self) -> String {
        id_token(&self.issuer, "alice", &["AVP_Admin"], "a-rsa-1")
    }
    fn hits(&self) -> usize {
        self.provider.introspection_hits(ENV)
    }
}

fn a_token_revoked_at_the_provider_is_refused_within_the_cache_time(
    s: &Introspecting,
) -> Result<(), String> {
    let token = s.token();
    let before = s.hits();
    same(
        call(&s.w, "GET", "/pets", Some(&token))?.status,
        204,
        "active",
    )?;
    same(s.hits(), before + 1, "asked once")?;
    same(
        call(&s.w, "GET", "/pets", Some(&token))?.status,
        204,
        "active, reused",
    )?;
    same(
        s.hits(),
        before + 1,
        "the answer reused within cache_seconds",
    )?;
    s.provider.revoke(ENV, &token);
    let started = Instant::now();
    let mut last = 0;
    while started.elapsed() < Duration::from_secs(5) {
        last = call(&s.w, "GET", "/pets", Some(&token))?.status;
        if last == 401 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    same(last, 401, "refused after the revocation")?;
    ensure(started.elapsed() < Duration::from_millis(2500), || {
        format!("refused only after {:?}", started.elapsed())
    })?;
    let reply = call(&s.w, "GET", "/pets", Some(&token))?;
    same(reply.json()["reason"].as_str(), Some("inactive"), "reason")?;
    // Another token of the same person is still active.
    same(
        call(&s.w, "GET", "/pets", Some(&s.token()))?.status,
        204,
        "another token",
    )?;
    let lines = s.w.log_lines();
    ensure(
        lines
            .iter()
            .any(|l| l["introspected"] == json!(false) && l["status"] == 401),
        || "a log line with introspected: false".into(),
    )
}

fn only_the_chosen_actions_are_introspected(s: &Introspecting) -> Result<(), String> {
    let token = s.token();
    s.provider.revoke(ENV, &token);
    let before = s.hits();
    // get /pets/{petId} is not configured: decided by the policies alone.
    same(
        call(&s.w, "GET", "/pets/7", Some(&token))?.status,
        204,
        "not introspected",
    )?;
    same(s.hits(), before, "not asked")?;
    // A denied request is not asked about either.
    let user = id_token(&s.issuer, "bob", &["AVP_User"], "a-rsa-1");
    same(
        call(&s.w, "POST", "/pets", Some(&user))?.status,
        403,
        "denied",
    )?;
    same(s.hits(), before, "a deny is never introspected")?;
    same(
        call(&s.w, "POST", "/pets", Some(&token))?.status,
        401,
        "post /pets is",
    )?;
    same(s.hits(), before + 1, "asked for post /pets")
}

/// The policies and the caller's entity data go to active tokens only: the bundle
/// endpoint is introspected although neither chosen action is its.
fn the_bundle_endpoint_is_introspected_whatever_the_actions(
    s: &Introspecting,
) -> Result<(), String> {
    let token = s.token();
    let before = s.hits();
    let path = cedargate_edge_bundle_path();
    same(call(&s.w, "GET", path, Some(&token))?.status, 200, "active")?;
    same(s.hits(), before + 1, "asked for the bundle endpoint")?;
    s.provider.revoke(ENV, &token);
    std::thread::sleep(Duration::from_millis(1100)); // past cache_seconds
    let reply = call(&s.w, "GET", path, Some(&token))?;
    same(reply.status, 401, "revoked")?;
    same(reply.json()["reason"].as_str(), Some("inactive"), "reason")
}

fn no_answer_from_the_provider_is_a_503_never_a_pass(s: &Introspecting) -> Result<(), String> {
    let token = s.token();
    same(
        call(&s.w, "GET", "/pets", Some(&token))?.status,
        204,
        "active first",
    )?;
    let fresh = s.token();
    let mut outcome = Ok(());
    for (mode, what) in [
        (Mode::Status(500), "a 500"),
        (Mode::Garbage, "garbage"),
        (Mode::Down, "a closed connection"),
        (
            Mode::Slow(Duration::from_millis(1500)),
            "no answer within the timeout",
        ),
    ] {
        s.provider.set_mode(ENV, mode);
        std::thread::sleep(Duration::from_millis(1100)); // past cache_seconds
        let reply = call(&s.w, "GET", "/pets", Some(&fresh))?;
        let again = call(&s.w, "GET", "/pets", Some(&token))?;
        outcome = same(reply.status, 503, what)
            .and_then(|()| same(again.status, 503, &format!("{what}, once-active token")))
            .and_then(|()| {
                same(
                    reply.json()["type"].as_str(),
                    Some("urn:cedargate:problem:introspection-unavailable"),
                    "type",
                )
            })
            .and_then(|()| {
                ensure(reply.header("retry-after").is_some(), || {
                    "Retry-After".into()
                })
            });
        if outcome.is_err() {
            break;
        }
    }
    s.provider.set_mode(ENV, Mode::Up);
    outcome?;
    let lines = s.w.log_lines();
    ensure(
        lines
            .iter()
            .any(|l| l["event"] == "introspection_unavailable"),
        || "an introspection_unavailable event".into(),
    )?;
    same(
        call(&s.w, "GET", "/pets", Some(&fresh))?.status,
        204,
        "the provider back",
    )
}

fn without_its_secret_the_worker_refuses_to_run(s: &Introspecting) -> Result<(), String> {
    let reply = call(&s.unkeyed, "GET", "/pets", Some(&s.token()))?;
    same(reply.status, 500, "no secret")?;
    ensure(
        s.unkeyed
            .logs()
            .contains("the Worker secret CEDARGATE_INTROSPECTION_SECRET is not set"),
        || "the missing secret is logged".into(),
    )
}

/// An action no route has would turn introspection off without a word: the worker
/// refuses to run instead, and says why.
fn an_action_no_route_has_makes_the_worker_refuse_to_run(s: &Introspecting) -> Result<(), String> {
    let reply = call(&s.mistyped, "GET", "/pets", Some(&s.token()))?;
    same(reply.status, 500, "an action no route has")?;
    same(
        reply.json()["type"].as_str(),
        Some("urn:cedargate:problem:misconfigured"),
        "type",
    )?;
    let logged = s.mistyped.log_lines().into_iter().any(|l| {
        l["error"].as_str().is_some_and(|e| {
            e.contains("action \"post /pet\" is not an action of the bundle's routes")
        })
    });
    ensure(logged, || {
        format!("the reason is logged:\n{}", s.mistyped.logs())
    })
}
