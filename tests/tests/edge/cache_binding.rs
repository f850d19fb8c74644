//! Issue 11: the key cache bound to the worker's configuration. Key sets in a Cache API
//! shared with other code (a planter worker of the same name, as a previous deployment or
//! another script would be) and with another configuration.

use super::*;

pub struct CacheBinding {
    dir: std::path::PathBuf,
    provider: TestProvider,
    config: Value,
    issuer: String,
}

pub const CHECKS: &[Check<CacheBinding>] =
    checks![planted_key_set_not_trusted_nor_another_configurations];

/// Plants a key set in the Cache API.
pub fn start() -> Result<CacheBinding, String> {
    let dir = cedargate_tests::work_dir("edge-cache-binding");
    let fixture = Fixture::new("env-plant")?;
    let issuer = &fixture.issuer;
    let planter = cedargate_tests::root().join("tests/workerd/cache-planter.mjs");
    let worker = Wrangler::start_in(&dir, "edge-cache", &json!({}), &json!({ "main": planter }))?;
    let entry = json!({
        "key": old_style_cache_key(issuer),
        "body": json!({ "keys": [support::public_jwk("attacker-rsa")] }).to_string(),
        "headers": {
            "cache-control": "max-age=3600",
            "content-type": "application/json",
            "x-cedargate-fetched-at": now().to_string(),
            "x-cedargate-ttl": "3600",
            "x-cedargate-jwks-uri": format!("{issuer}/jwks"),
        },
    });
    let planted = http::send(
        "PUT",
        &worker.url("/plant"),
        &[("content-type", "application/json")],
        Some(entry.to_string().as_bytes()),
    )?;
    same(planted.status, 204, "planted")?;
    let key = entry["key"].as_str().unwrap_or_default();
    let look = http::get(
        &worker.url(&format!("/look?key={}", key.replace('%', "%25"))),
        &[],
    )?;
    same(look.status, 200, "the planted entry is in the cache")?;
    let config = fixture.config(json!({}));
    let Fixture {
        provider, issuer, ..
    } = fixture;
    Ok(CacheBinding {
        dir,
        provider,
        config,
        issuer,
    })
}

/// A key set planted in the Cache API is not trusted; another configuration's is not
/// taken.
fn planted_key_set_not_trusted_nor_another_configurations(s: &CacheBinding) -> Result<(), String> {
    let CacheBinding {
        dir,
        provider,
        config,
        issuer,
    } = s;
    let worker = Wrangler::start_in(dir, "edge-cache", config, &json!({}))?;
    let attacker = id_token(issuer, "mallory", &["AVP_Admin"], "attacker-rsa");
    let reply = call(&worker, "POST", "/pets", Some(&attacker))?;
    same(reply.status, 401, "a token of the planted key")?;
    same(
        provider.jwks_hits("env-plant"),
        1,
        "the real keys were fetched",
    )?;
    let admin = id_token(issuer, "alice", &["AVP_Admin"], "a-rsa-1");
    same(
        call(&worker, "POST", "/pets", Some(&admin))?.status,
        204,
        "a real token",
    )?;
    drop(worker);
    // The same worker with other key settings does not take that entry either.
    let mut other = config.clone();
    other["keys"] = json!({ "max_stale_seconds": 600 });
    let worker = Wrangler::start_in(dir, "edge-cache", &other, &json!({}))?;
    same(
        call(&worker, "POST", "/pets", Some(&admin))?.status,
        204,
        "other configuration",
    )?;
    same(
        provider.jwks_hits("env-plant"),
        2,
        "another configuration fetches its own keys",
    )?;
    same(
        call(&worker, "POST", "/pets", Some(&attacker))?.status,
        401,
        "planted key, other configuration",
    )
}

/// The Cache API entry under the key `runtime::keys` used before it was bound to the
/// configuration.
fn old_style_cache_key(issuer: &str) -> String {
    let safe: String = issuer
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~:@|".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("https://cedargate.invalid/jwks/{safe}")
}
