//! The emergency deny list in KV: token ids and session ids refused within the refresh time,
//! cached tokens included; an unusable list keeps the last one; none at all is a 503.

use super::*;

pub struct Denying {
    _provider: TestProvider,
    w: Wrangler,
    unbound: Wrangler,
    issuer: String,
}

pub const CHECKS: &[Check<Denying>] = checks![
    listed_tokens_and_sessions_are_refused_within_the_refresh_time,
    without_a_readable_list_every_token_is_503,
];

const BINDING: &str = "CEDARGATE_DENY";

pub fn start() -> Result<Denying, String> {
    let fixture = Fixture::new("env-deny")?;
    let config = |binding: &str| {
        fixture.config(json!({
            "deny_list": { "binding": binding, "refresh_seconds": 1 },
        }))
    };
    let name = "edge-deny";
    let dir = cedargate_tests::work_dir(name);
    let extra = json!({ "kv_namespaces": [{ "binding": BINDING, "id": "deny-test" }] });
    std::fs::write(
        dir.join("wrangler.json"),
        json!({
            "name": format!("cedargate-{name}"), "main": cedargate_tests::wrangler::worker_main()?,
            "compatibility_date": "2026-11-01", "kv_namespaces": extra["kv_namespaces"],
        })
        .to_string(),
    )
    .map_err(|e| e.to_string())?;
    Wrangler::kv_put(&dir, BINDING, "denied", r#"{ "jti": [] }"#)?;
    let w = Wrangler::start_in(&dir, name, &config(BINDING), &extra)?;
    // Configured for a binding the worker does not have.
    let unbound = Wrangler::start("edge-deny-unbound", &config("NO_SUCH_KV"), &json!({}))?;
    let Fixture {
        provider, issuer, ..
    } = fixture;
    Ok(Denying {
        _provider: provider,
        w,
        unbound,
        issuer,
    })
}

fn token(issuer: &str, jti: &str, sid: &str) -> String {
    let t = now();
    let claims = json!({
        "iss": issuer, "aud": CLIENT, "sub": "alice", "group": ["AVP_Admin"],
        "iat": t - 5, "exp": t + 600, "jti": jti, "sid": sid,
    });
    record(support::mint(&claims, "a-rsa-1", "JWT"))
}

/// The answer to `token` once it settles to `status`, within the refresh time and a margin.
fn settles(w: &Wrangler, token: &str, status: u16, what: &str) -> Result<Reply, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = call(w, "GET", "/pets", Some(token))?;
        if reply.status == status {
            return Ok(reply);
        }
        if Instant::now() > deadline {
            return Err(format!("{what}: still {} after 10 s", reply.status));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn listed_tokens_and_sessions_are_refused_within_the_refresh_time(
    s: &Denying,
) -> Result<(), String> {
    let Denying { w, issuer, .. } = s;
    let run = std::process::id();
    let (one, two) = (format!("t-{run}-1"), format!("t-{run}-2"));
    let first = token(issuer, &one, "s-1");
    let second = token(issuer, &two, "s-2");
    // Both are good, and now in the token cache.
    same(call(w, "GET", "/pets", Some(&first))?.status, 204, "before")?;
    same(
        call(w, "GET", "/pets", Some(&second))?.status,
        204,
        "before",
    )?;
    Wrangler::kv_put(
        &w.dir,
        BINDING,
        "denied",
        &json!({ "jti": [one] }).to_string(),
    )?;
    let refused = settles(w, &first, 401, "a listed jti")?;
    same(refused.json()["reason"].as_str(), Some("revoked"), "reason")?;
    same(
        call(w, "GET", "/pets", Some(&second))?.status,
        204,
        "an unlisted jti",
    )?;
    // By session: the whole sign-in, every token of it.
    Wrangler::kv_put(&w.dir, BINDING, "denied", r#"{ "sid": ["s-2"] }"#)?;
    settles(w, &second, 401, "a listed sid")?;
    settles(w, &first, 204, "taken off the list")?;
    // A list that cannot be read keeps the last one in force.
    Wrangler::kv_put(&w.dir, BINDING, "denied", r#"{ "sub": ["alice"] }"#)?;
    std::thread::sleep(Duration::from_millis(1500));
    same(
        call(w, "GET", "/pets", Some(&second))?.status,
        401,
        "last list kept",
    )?;
    same(
        call(w, "GET", "/pets", Some(&first))?.status,
        204,
        "last list kept",
    )?;
    poll("the refused list logged", || {
        Ok(w.logs().contains("deny_list_unavailable"))
    })
}

fn without_a_readable_list_every_token_is_503(s: &Denying) -> Result<(), String> {
    let Denying {
        unbound, issuer, ..
    } = s;
    let reply = call(unbound, "GET", "/pets", Some(&token(issuer, "t-x", "s-x")))?;
    same(reply.status, 503, "no list")?;
    same(
        reply.json()["type"].as_str(),
        Some("urn:cedargate:problem:revocation-unavailable"),
        "type",
    )?;
    ensure(reply.header("retry-after").is_some(), || {
        "no retry-after".to_owned()
    })
}
