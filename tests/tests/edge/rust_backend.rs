//! The pure-Rust signature backend and `origin: "none"` (what the benchmark measures).

use super::*;

pub struct RustBackend {
    _provider: TestProvider,
    worker: Wrangler,
    issuer: String,
}

pub const CHECKS: &[Check<RustBackend>] =
    checks![pure_rust_signatures_decide_the_same_origin_none_204];

/// Starts the pure-Rust worker.
pub fn start() -> Result<RustBackend, String> {
    let fixture = Fixture::with_keys(
        "env-rust",
        &["a-rsa-1", "a-ec-1", "a-ed-1", "a-p384-1", "a-p521-1"],
    )?;
    let config = fixture.config(json!({
        "signature_backend": "rust",
        "request_log": "refusals",
    }));
    let worker = Wrangler::start("edge-rust", &config, &json!({}))?;
    let Fixture {
        provider, issuer, ..
    } = fixture;
    Ok(RustBackend {
        _provider: provider,
        worker,
        issuer,
    })
}

/// Pure-Rust signatures decide the same, origin none answers 204.
fn pure_rust_signatures_decide_the_same_origin_none_204(s: &RustBackend) -> Result<(), String> {
    let RustBackend { worker, issuer, .. } = s;
    for key in ["a-rsa-1", "a-ec-1", "a-ed-1"] {
        let admin = id_token(issuer, "alice", &["AVP_Admin"], key);
        let user = id_token(issuer, "bob", &["AVP_User"], key);
        let allowed = call(worker, "POST", "/pets", Some(&admin))?;
        same(allowed.status, 204, key)?;
        same(
            allowed.header("x-cedargate-policies"),
            Some("avp-admin-all"),
            "policies",
        )?;
        same(call(worker, "POST", "/pets", Some(&user))?.status, 403, key)?;
    }
    // The worker is built without pure-Rust P-384 and P-521 (WebCrypto has them): with
    // this backend ES384 and ES512 are refused, never let through unchecked.
    for key in ["a-p384-1", "a-p521-1"] {
        let admin = id_token(issuer, "alice", &["AVP_Admin"], key);
        let reply = call(worker, "POST", "/pets", Some(&admin))?;
        same(reply.status, 401, key)?;
        same(
            reply.json()["reason"].as_str(),
            Some("signature_backend"),
            key,
        )?;
    }
    let forged = record(mint_raw(
        &json!({ "alg": "RS256", "kid": "a-rsa-1" }).to_string(),
        &json!({ "iss": issuer, "aud": CLIENT, "sub": "x", "group": ["AVP_Admin"], "exp": now() + 60 }).to_string(),
        "attacker-rsa",
    ));
    same(
        call(worker, "GET", "/pets", Some(&forged))?.json()["reason"].as_str(),
        Some("bad_signature"),
        "forged",
    )?;
    // Only refusals are logged.
    std::thread::sleep(Duration::from_millis(300));
    let lines = worker.log_lines();
    let requests: Vec<&Value> = lines
        .iter()
        .filter(|l| l.get("request_id").is_some())
        .collect();
    ensure(
        !requests.is_empty() && requests.iter().all(|l| l["status"].as_u64() != Some(204)),
        || format!("{requests:?}"),
    )
}
