//! A worker whose origin is down and whose key cache is short, against providers that fail.

use super::*;

pub struct Faults {
    provider: TestProvider,
    worker: Wrangler,
    outage: String,
}

pub const CHECKS: &[Check<Faults>] = checks![
    origin_down_502_after_authorization_403_before,
    provider_outage_stale_keys_then_503,
    slow_provider_503_quickly,
    provider_500_or_garbage_503,
];

/// Starts the fault worker in workerd.
pub fn start() -> Result<Faults, String> {
    let provider = TestProvider::start()?;
    for env in ["env-outage", "env-slow", "env-500", "env-garbage"] {
        provider.add_env(env, &["a-rsa-1"]);
        provider.set_cache_control(env, "max-age=1");
    }
    provider.set_mode("env-slow", Mode::Slow(Duration::from_secs(3)));
    provider.set_mode("env-500", Mode::Status(500));
    provider.set_mode("env-garbage", Mode::Garbage);
    let issuers: Vec<String> = ["env-outage", "env-slow", "env-500", "env-garbage"]
        .iter()
        .map(|e| provider.issuer(e))
        .collect();
    let pairs: Vec<(&str, &str)> = issuers.iter().map(|i| (i.as_str(), "")).collect();
    let config = json!({
        "trust": trust(&pairs),
        "origin": format!("http://127.0.0.1:{}", free_port()),
        "token_cache_entries": 0,
        "keys": {
            "min_ttl_seconds": 1, "default_ttl_seconds": 1, "max_ttl_seconds": 1,
            "max_stale_seconds": 3, "fetch_timeout_ms": 800, "unknown_kid_refetch_seconds": 1
        },
    });
    let worker = Wrangler::start("edge-faults", &config, &json!({}))?;
    let outage = provider.issuer("env-outage");
    Ok(Faults {
        provider,
        worker,
        outage,
    })
}

/// The origin down gives 502 after authorization, 403 before.
fn origin_down_502_after_authorization_403_before(s: &Faults) -> Result<(), String> {
    let Faults { worker, outage, .. } = s;
    let admin = id_token(outage, "alice", &["AVP_Admin"], "a-rsa-1");
    let user = id_token(outage, "bob", &["AVP_User"], "a-rsa-1");
    let reply = call(worker, "GET", "/pets", Some(&admin))?;
    same(reply.status, 502, "allowed request, origin down")?;
    same(
        reply.json()["type"].as_str(),
        Some("urn:cedargate:problem:origin-unreachable"),
        "type",
    )?;
    ensure(!reply.text().contains("127.0.0.1"), || {
        "internal detail leaked".into()
    })?;
    same(
        call(worker, "POST", "/pets", Some(&user))?.status,
        403,
        "denied request",
    )
}

/// A provider outage: stale keys serve within bounds, then 503.
fn provider_outage_stale_keys_then_503(s: &Faults) -> Result<(), String> {
    let Faults {
        provider,
        worker,
        outage,
    } = s;
    let token = || id_token(outage, "alice", &["AVP_Admin"], "a-rsa-1");
    // The keys are fetched during the warm request: no earlier than it was sent, no later
    // than its answer. Each bound below is taken from the side that makes it hold however
    // long that request took on a busy machine.
    let sent = Instant::now();
    same(
        call(worker, "GET", "/pets", Some(&token()))?.status,
        502,
        "warm",
    )?;
    let fetched_by = Instant::now();
    provider.set_mode("env-outage", Mode::Down);
    // Stale after 1 s, servable until 4 s after the fetch (whole seconds, so from 3 s).
    if let Some(rest) = Duration::from_millis(1500).checked_sub(sent.elapsed()) {
        std::thread::sleep(rest);
    }
    same(
        call(worker, "GET", "/pets", Some(&token()))?.status,
        502,
        "stale keys still serve",
    )?;
    if let Some(rest) = Duration::from_millis(4600).checked_sub(fetched_by.elapsed()) {
        std::thread::sleep(rest);
    }
    let reply = call(worker, "GET", "/pets", Some(&token()))?;
    same(reply.status, 503, "past the staleness bound")?;
    ensure(reply.header("retry-after").is_some(), || {
        "no Retry-After".into()
    })?;
    provider.set_mode("env-outage", Mode::Up);
    // After the failed fetch, the next attempt waits for the backoff (1 s here).
    poll("the worker to recover once the backoff has passed", || {
        Ok(call(worker, "GET", "/pets", Some(&token()))?.status == 502)
    })
}

/// A provider slower than the timeout gives 503 quickly.
fn slow_provider_503_quickly(s: &Faults) -> Result<(), String> {
    let Faults {
        provider, worker, ..
    } = s;
    let started = Instant::now();
    let token = id_token(&provider.issuer("env-slow"), "a", &["AVP_Admin"], "a-rsa-1");
    let reply = call(worker, "GET", "/pets", Some(&token))?;
    same(reply.status, 503, "status")?;
    ensure(started.elapsed() < Duration::from_millis(2500), || {
        format!("took {:?}", started.elapsed())
    })
}

/// A provider answering 500 or garbage gives 503.
fn provider_500_or_garbage_503(s: &Faults) -> Result<(), String> {
    let Faults {
        provider, worker, ..
    } = s;
    for env in ["env-500", "env-garbage"] {
        let token = id_token(&provider.issuer(env), "a", &["AVP_Admin"], "a-rsa-1");
        let auth = bearer(&token);
        let reply = http::send(
            "GET",
            &worker.url("/pets"),
            &[("authorization", &auth), ("x-request-id", "client-503")],
            None,
        )?;
        same(reply.status, 503, env)?;
        same(
            reply.header("x-request-id"),
            Some("client-503"),
            &format!("{env}: the caller's request id on a 503"),
        )?;
    }
    Ok(())
}
