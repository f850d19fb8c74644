//! Issue 11: a provider that hangs once keys are stale, redirects, oversize key sets.

use super::*;

pub struct KeyHardening {
    provider: TestProvider,
    worker: Wrangler,
}

pub const CHECKS: &[Check<KeyHardening>] = checks![
    hanging_provider_stale_keys_at_once_then_503,
    no_keys_failed_fetch_503_within_backoff,
    jwks_redirect_refused_not_followed,
    oversize_jwks_given_up_at_cap,
    a_configured_jwks_uri_skips_discovery,
];

/// Starts the key hardening worker.
pub fn start() -> Result<KeyHardening, String> {
    let provider = TestProvider::start()?;
    for env in [
        "env-hang",
        "env-cold",
        "env-redirect",
        "env-attacker",
        "env-huge",
        "env-fine",
        "env-direct",
    ] {
        provider.add_env(env, &["a-rsa-1"]);
        provider.set_cache_control(env, "max-age=1");
    }
    provider.set_keys("env-attacker", &["attacker-rsa"]);
    provider.set_mode("env-cold", Mode::Slow(Duration::from_secs(4)));
    provider.set_mode(
        "env-redirect",
        Mode::RedirectJwks(format!("{}/jwks", provider.issuer("env-attacker"))),
    );
    provider.set_mode("env-huge", Mode::HugeJwks(64 * 1024 * 1024));
    let issuers: Vec<String> = [
        "env-hang",
        "env-cold",
        "env-redirect",
        "env-huge",
        "env-fine",
        "env-direct",
    ]
    .iter()
    .map(|e| provider.issuer(e))
    .collect();
    let pairs: Vec<(&str, &str)> = issuers.iter().map(|i| (i.as_str(), "")).collect();
    let direct = provider.issuer("env-direct");
    let config = json!({
        "trust": trust(&pairs),
        "origin": "none",
        "token_cache_entries": 0,
        "keys": {
            "min_ttl_seconds": 1, "default_ttl_seconds": 1, "max_ttl_seconds": 1,
            "max_stale_seconds": 6, "fetch_timeout_ms": 3000, "unknown_kid_refetch_seconds": 1,
            "jwks_uris": { direct.clone(): format!("{direct}/jwks") },
        },
    });
    let worker = Wrangler::start("edge-keys", &config, &json!({}))?;
    Ok(KeyHardening { provider, worker })
}

/// A provider hanging after keys went stale: stale keys answer at once, then 503.
fn hanging_provider_stale_keys_at_once_then_503(s: &KeyHardening) -> Result<(), String> {
    let KeyHardening { provider, worker } = s;
    let hang = provider.issuer("env-hang");
    let admin = || id_token(&hang, "alice", &["AVP_Admin"], "a-rsa-1");
    // The keys are fetched during the warm request: no earlier than it was sent, no later
    // than its answer; each bound below is taken from the side that makes it hold however
    // long that request took on a busy machine.
    let warmed = Instant::now();
    same(
        call(worker, "POST", "/pets", Some(&admin()))?.status,
        204,
        "warm",
    )?;
    let fetched_by = Instant::now();
    provider.set_mode("env-hang", Mode::Slow(Duration::from_secs(4)));
    // Stale after 1 s; servable until at most 7 s after the fetch (whole seconds).
    std::thread::sleep(Duration::from_millis(1300));
    let forged = record(mint_raw(
            &json!({ "alg": "RS256", "kid": "a-rsa-1" }).to_string(),
            &json!({ "iss": hang, "aud": CLIENT, "sub": "x", "group": ["AVP_Admin"], "exp": now() + 60 }).to_string(),
            "attacker-rsa",
        ));
    let mut answered = 0;
    while warmed.elapsed() < Duration::from_millis(5500) {
        for (token, status) in [(admin(), 204), (forged.clone(), 401)] {
            let started = Instant::now();
            let reply = call(worker, "POST", "/pets", Some(&token))?;
            let took = started.elapsed();
            same(reply.status, status, "answer while the provider hangs")?;
            // Waiting for the hanging provider would take the 3 s fetch timeout.
            ensure(took < Duration::from_secs(2), || {
                format!("request {answered} took {took:?} with stale keys")
            })?;
            answered += 1;
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    ensure(answered >= 10, || format!("only {answered} requests"))?;
    ensure(provider.jwks_hits("env-hang") >= 2, || {
        "no background refresh reached the provider".into()
    })?;
    if let Some(rest) = Duration::from_millis(7500).checked_sub(fetched_by.elapsed()) {
        std::thread::sleep(rest);
    }
    let reply = call(worker, "POST", "/pets", Some(&admin()))?;
    same(reply.status, 503, "past max_stale")?;
    ensure(reply.header("retry-after").is_some(), || {
        "no Retry-After".into()
    })?;
    provider.set_mode("env-hang", Mode::Up);
    // Recovers once the backoff (at most 1.5 s here) has passed.
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let status = call(worker, "POST", "/pets", Some(&admin()))?.status;
        if status == 204 {
            return Ok(());
        }
        ensure(Instant::now() < deadline, || {
            format!("still {status} after the provider recovered")
        })?;
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// No keys and a failed fetch within the backoff: 503 at once.
fn no_keys_failed_fetch_503_within_backoff(s: &KeyHardening) -> Result<(), String> {
    let KeyHardening { provider, worker } = s;
    let token = id_token(&provider.issuer("env-cold"), "a", &["AVP_Admin"], "a-rsa-1");
    let reply = call(worker, "POST", "/pets", Some(&token))?;
    same(reply.status, 503, "first request: the fetch times out")?;
    let hits = provider.discovery_hits("env-cold");
    let started = Instant::now();
    let reply = call(worker, "POST", "/pets", Some(&token))?;
    let took = started.elapsed();
    same(reply.status, 503, "second request")?;
    // Fetching again would take the 3 s fetch timeout.
    ensure(took < Duration::from_secs(2), || {
        format!("the second request took {took:?}")
    })?;
    ensure(reply.header("retry-after").is_some(), || {
        "no Retry-After".into()
    })?;
    same(
        provider.discovery_hits("env-cold"),
        hits,
        "no new fetch within the backoff",
    )
}

/// A JWKS answered with a redirect is refused, not followed.
fn jwks_redirect_refused_not_followed(s: &KeyHardening) -> Result<(), String> {
    let KeyHardening { provider, worker } = s;
    let issuer = provider.issuer("env-redirect");
    let attacker = id_token(&issuer, "mallory", &["AVP_Admin"], "attacker-rsa");
    let reply = call(worker, "POST", "/pets", Some(&attacker))?;
    same(reply.status, 503, "keys unavailable")?;
    same(
        provider.jwks_hits("env-attacker"),
        0,
        "the redirect target was never fetched",
    )?;
    std::thread::sleep(Duration::from_millis(300));
    let refused = worker.log_lines().into_iter().any(|l| {
        l["event"] == "keys_unavailable"
            && l["issuer"] == issuer.as_str()
            && l["error"]
                .as_str()
                .unwrap_or_default()
                .contains("status 302")
    });
    ensure(refused, || "no keys_unavailable event for the 302".into())
}

/// An oversize chunked JWKS is given up at the size cap, the worker stays healthy.
fn oversize_jwks_given_up_at_cap(s: &KeyHardening) -> Result<(), String> {
    let KeyHardening { provider, worker } = s;
    let issuer = provider.issuer("env-huge");
    let token = id_token(&issuer, "a", &["AVP_Admin"], "a-rsa-1");
    let reply = call(worker, "POST", "/pets", Some(&token))?;
    same(reply.status, 503, "keys unavailable")?;
    // The connection is closed once the cap is passed: the provider cannot finish.
    std::thread::sleep(Duration::from_millis(1500));
    let streamed = provider.streamed("env-huge");
    ensure(!streamed.complete, || {
        format!("the whole 64 MiB body was read ({streamed:?})")
    })?;
    ensure(streamed.bytes < 16 * 1024 * 1024, || {
        format!("{} bytes were taken", streamed.bytes)
    })?;
    std::thread::sleep(Duration::from_millis(300));
    let too_large = worker.log_lines().into_iter().any(|l| {
        l["event"] == "keys_unavailable"
            && l["issuer"] == issuer.as_str()
            && l["error"]
                .as_str()
                .unwrap_or_default()
                .contains("too large")
    });
    ensure(too_large, || {
        "no keys_unavailable event for the size".into()
    })?;
    let fine = id_token(&provider.issuer("env-fine"), "a", &["AVP_Admin"], "a-rsa-1");
    same(
        call(worker, "POST", "/pets", Some(&fine))?.status,
        204,
        "another issuer still works",
    )
}

/// An issuer whose key set URL is configured (`keys.jwks_uris`): its keys are fetched from
/// there, and its discovery document is never asked for.
fn a_configured_jwks_uri_skips_discovery(s: &KeyHardening) -> Result<(), String> {
    let KeyHardening { provider, worker } = s;
    let issuer = provider.issuer("env-direct");
    let token = id_token(&issuer, "a", &["AVP_Admin"], "a-rsa-1");
    let reply = call(worker, "POST", "/pets", Some(&token))?;
    same(reply.status, 204, "allowed, answered without an origin")?;
    ensure(provider.jwks_hits("env-direct") >= 1, || {
        "the configured key set was not fetched".into()
    })?;
    same(
        provider.discovery_hits("env-direct"),
        0,
        "discovery asked although the key set URL is configured",
    )?;
    // A forged token is still refused with the configured keys.
    let forged = id_token(&issuer, "a", &["AVP_Admin"], "attacker-rsa");
    let reply = call(worker, "POST", "/pets", Some(&forged))?;
    same(reply.status, 401, "a token signed with another key")
}
