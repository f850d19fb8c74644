//! The signed identity assertion: the worker signs every forwarded request with the key of a
//! Worker secret and publishes its keys; the origin verifies with the shared core's
//! `AssertionVerifier` (what the identity-assertion guide tells origins to run).

use super::*;
use cedargate::UnixTime;
use cedargate::assertion::{
    ASSERTION_LEEWAY_SECONDS, AssertionError, AssertionSigningKey, AssertionVerifier, JWKS_PATH,
    ReplayGuard,
};

const EDGE: &str = "https://edge.petstore.test";
const ORIGIN: &str = "https://origin.petstore.test";

pub struct Signed {
    _provider: TestProvider,
    _origin: Option<EchoOrigin>,
    w: Wrangler,
    unkeyed: Wrangler,
    issuer: String,
    current: AssertionSigningKey,
    previous: AssertionSigningKey,
}

pub const CHECKS: &[Check<Signed>] = checks![
    the_origin_verifies_who_called_and_what_was_allowed,
    tampered_expired_replayed_or_moved_assertions_are_refused,
    without_its_secret_the_worker_refuses_to_run,
];

pub fn start() -> Result<Signed, String> {
    let fixture = Fixture::new("env-assert")?.origin()?;
    // Fresh keys for this run; a deployment keeps them in Worker secrets.
    let seed = |n: u8| -> [u8; 32] {
        let mut seed = [n; 32];
        seed[..8].copy_from_slice(&(now() as u64).to_le_bytes());
        seed
    };
    let (current, previous) = (
        AssertionSigningKey::from_seed(seed(1)),
        AssertionSigningKey::from_seed(seed(2)),
    );
    let config = fixture.config(json!({
        "assertion": { "issuer": EDGE, "audience": ORIGIN, "ttl_seconds": 30,
                       "previous_key_secret": "CEDARGATE_ASSERTION_KEY_PREVIOUS" },
    }));
    let vars = json!({ "vars": {
        "CEDARGATE_CONFIG": config,
        "CEDARGATE_ASSERTION_KEY": current.to_base64url(),
        "CEDARGATE_ASSERTION_KEY_PREVIOUS": previous.to_base64url(),
    } });
    let w = Wrangler::start("edge-assertion", &config, &vars)?;
    let unkeyed = Wrangler::start("edge-assertion-unkeyed", &config, &json!({}))?;
    let Fixture {
        provider,
        issuer,
        origin,
    } = fixture;
    Ok(Signed {
        _provider: provider,
        _origin: origin,
        w,
        unkeyed,
        issuer,
        current,
        previous,
    })
}

fn verifier(w: &Wrangler) -> Result<AssertionVerifier, String> {
    let reply = http::send(
        "GET",
        &w.url(JWKS_PATH),
        &[("x-request-id", "origin-keys-1")],
        None,
    )?;
    same(reply.status, 200, "the key set, without a token")?;
    same(
        reply.header("x-request-id"),
        Some("origin-keys-1"),
        "the caller's request id on the key set",
    )?;
    same(
        reply.header("content-type"),
        Some("application/jwk-set+json"),
        "key set type",
    )?;
    AssertionVerifier::new(&reply.text(), EDGE, ORIGIN).map_err(|e| e.to_string())
}

/// What the origin received for an allowed request: its method, path, query and the
/// assertion.
fn received(w: &Wrangler, token: &str, target: &str) -> Result<(Value, String), String> {
    let reply = http::send(
        "GET",
        &w.url(target),
        &[
            ("authorization", &bearer(token)),
            // A client's own assertion never reaches the origin.
            ("x-cedargate-assertion", "forged.by.client"),
        ],
        None,
    )?;
    same(reply.status, 200, target)?;
    let seen = reply.json();
    let jwt = seen["headers"]["x-cedargate-assertion"]
        .as_str()
        .ok_or("no assertion reached the origin")?
        .to_owned();
    Ok((seen, jwt))
}

fn the_origin_verifies_who_called_and_what_was_allowed(s: &Signed) -> Result<(), String> {
    let Signed {
        w,
        issuer,
        current,
        previous,
        ..
    } = s;
    let v = verifier(w)?;
    // Both keys are published during the rotation; the current one signs.
    let keys = http::send("GET", &w.url(JWKS_PATH), &[], None)?.json();
    let kids: Vec<&str> = keys["keys"]
        .as_array()
        .map(|k| k.iter().filter_map(|k| k["kid"].as_str()).collect())
        .unwrap_or_default();
    same(kids, vec![current.kid(), previous.kid()], "published keys")?;
    let alice = id_token(issuer, "alice", &["AVP_Admin"], "a-rsa-1");
    let (seen, jwt) = received(w, &alice, "/pets?type=dog&page=2")?;
    let a = v.verify(&jwt, UnixTime(now())).map_err(|e| e.to_string())?;
    same(a.sub.as_deref(), Some("alice"), "subject")?;
    same(
        a.token_iss.as_deref(),
        Some(issuer.as_str()),
        "token issuer",
    )?;
    same(
        a.principal.as_str(),
        r#"PetStore::User::"alice""#,
        "principal",
    )?;
    same(a.groups.clone(), vec!["AVP_Admin".to_owned()], "groups")?;
    same(a.action.as_str(), "get /pets", "action")?;
    same(
        a.policies.clone(),
        vec!["avp-admin-all".to_owned()],
        "policies",
    )?;
    same(
        Some(a.jti.as_str()),
        seen["headers"]["x-cedargate-request-id"].as_str(),
        "request id",
    )?;
    ensure(a.exp - a.iat == 30, || {
        format!("lifetime {}", a.exp - a.iat)
    })?;
    ensure(
        a.binds(
            seen["method"].as_str().unwrap_or_default(),
            seen["path"].as_str().unwrap_or_default(),
            seen["query"].as_str(),
        ),
        || format!("the assertion does not bind what the origin received: {seen}"),
    )?;
    ensure(
        jwt.contains(&format!(
            "{}.",
            b64(format!(
                r#"{{"alg":"EdDSA","typ":"cedargate-assertion+jwt","kid":"{}"}}"#,
                current.kid()
            )
            .as_bytes())
        )),
        || "not signed by the current key".to_owned(),
    )
}

fn tampered_expired_replayed_or_moved_assertions_are_refused(s: &Signed) -> Result<(), String> {
    let Signed { w, issuer, .. } = s;
    let v = verifier(w)?;
    let bob = id_token(issuer, "bob", &["AVP_User"], "a-rsa-1");
    let (_, jwt) = received(w, &bob, "/pets/7")?;
    let t = now();
    let a = v.verify(&jwt, UnixTime(t)).map_err(|e| e.to_string())?;
    // Taken once; the second time is a replay.
    let mut guard = ReplayGuard::new(100);
    same(guard.check(&a, UnixTime(t)), Ok(()), "first use")?;
    same(
        guard.check(&a, UnixTime(t)),
        Err(AssertionError::Replayed),
        "replay",
    )?;
    // Moved to another request.
    ensure(!a.binds("GET", "/pets/8", None), || {
        "bound another path".to_owned()
    })?;
    ensure(!a.binds("DELETE", "/pets/7", None), || {
        "bound another method".to_owned()
    })?;
    // Expired after its 30 seconds (and the leeway).
    same(
        v.verify(&jwt, UnixTime(a.exp + ASSERTION_LEEWAY_SECONDS)),
        Err(AssertionError::Expired),
        "expired",
    )?;
    // One character of the payload changed.
    let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
    let flipped = if parts[1].ends_with('A') { 'B' } else { 'A' };
    parts[1].pop();
    parts[1].push(flipped);
    same(
        v.verify(&parts.join("."), UnixTime(t)),
        Err(AssertionError::BadSignature),
        "tampered",
    )?;
    // For another origin.
    let other = AssertionVerifier::new(
        &http::send("GET", &w.url(JWKS_PATH), &[], None)?.text(),
        EDGE,
        "https://other-origin.test",
    )
    .map_err(|e| e.to_string())?;
    same(
        other.verify(&jwt, UnixTime(t)),
        Err(AssertionError::WrongAudience),
        "other audience",
    )
}

fn without_its_secret_the_worker_refuses_to_run(s: &Signed) -> Result<(), String> {
    let Signed {
        unkeyed, issuer, ..
    } = s;
    let alice = id_token(issuer, "alice", &["AVP_Admin"], "a-rsa-1");
    same(
        call(unkeyed, "GET", "/pets", Some(&alice))?.status,
        500,
        "no signing key",
    )?;
    poll("the missing secret named in the log", || {
        Ok(unkeyed
            .logs()
            .contains("the Worker secret CEDARGATE_ASSERTION_KEY is not set"))
    })
}
