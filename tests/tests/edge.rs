//! The edge worker running in workerd (`wrangler dev`), in front of a test origin, with a
//! test OpenID provider: the PetStore matrix, headers, CORS, keys, faults, limits, logs.
//!
//! Needs the built workers (`cargo xtask test --only edge-build`: `edge/build`, with the
//! access-token bundle `target/edge-access`, with the AuthZEN Todo bundle
//! `target/edge-authzen`); `cargo xtask test` builds them first.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate_tests::checks;
use cedargate_tests::harness::{Check, Harness, ensure, same};
use cedargate_tests::http::{self, Reply};
use cedargate_tests::origin::EchoOrigin;
use cedargate_tests::provider::{Mode, TestProvider};
use cedargate_tests::support::{self, b64, mint_raw};
use cedargate_tests::wrangler::Wrangler;
use cedargate_tests::{free_port, now};
use serde_json::{Value, json};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const CLIENT: &str = "cedargate-e2e-spa";
const API: &str = "https://petstore.e2e.test";
const APP_ORIGIN: &str = "http://127.0.0.1:8080";

/// Every token sent, to check that none reaches a log.
static SENT: Mutex<Vec<String>> = Mutex::new(Vec::new());
static SERIAL: AtomicU64 = AtomicU64::new(0);

fn record(token: String) -> String {
    SENT.lock().expect("tokens").push(token.clone());
    token
}

/// An ID token of `issuer` for `sub` in `groups`, signed with `key`, unique (`jti`).
fn id_token(issuer: &str, sub: &str, groups: &[&str], key: &str) -> String {
    let t = now();
    let claims = json!({
        "iss": issuer, "aud": CLIENT, "sub": sub, "group": groups,
        "iat": t - 5, "exp": t + 600,
        "jti": format!("{}-{}", std::process::id(), SERIAL.fetch_add(1, Ordering::Relaxed)),
    });
    record(support::mint(&claims, key, "JWT"))
}

/// An access token of `issuer` for the API with `claims` added (unique, `at+jwt`, signed
/// with the test key `a-rsa-1`, which the local PingOne-shaped provider publishes).
fn access_token(issuer: &str, claims: Value) -> String {
    let t = now();
    let mut all = json!({
        "iss": issuer, "aud": [API], "iat": t - 5, "exp": t + 600,
        "jti": format!("{}-{}", std::process::id(), SERIAL.fetch_add(1, Ordering::Relaxed)),
    });
    if let (Value::Object(target), Value::Object(more)) = (&mut all, claims) {
        target.extend(more);
    }
    record(support::mint(&all, "a-rsa-1", "at+jwt"))
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn call(w: &Wrangler, method: &str, path: &str, token: Option<&str>) -> Result<Reply, String> {
    let auth = token.map(bearer);
    let mut headers = Vec::new();
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    http::send(method, &w.url(path), &headers, None)
}

/// ID-token and access-token entries for each issuer. With several issuers, each gets its own
/// principal ids (AVP's prefix); they stand for environments of one organization here, so
/// they share group names (the tests with several issuers are about keys, not identity).
fn trust(issuers: &[(&str, &str)]) -> Value {
    let mut list = Vec::new();
    let several = issuers.len() > 1;
    for (issuer, _) in issuers {
        let prefix = several.then(|| format!("{}|", issuer.trim_start_matches("http://")));
        list.push(json!({ "issuer": issuer, "token": "id", "audiences": [CLIENT], "entity_id_prefix": prefix }));
        list.push(json!({ "issuer": issuer, "token": "access", "audiences": [API], "token_type": "at+jwt", "entity_id_prefix": prefix }));
    }
    json!({ "issuers": list, "insecure_shared_group_ids": several })
}

/// Calls `step` every 300 ms until it says done, for at most 20 s; `what` names the wait.
fn poll(what: &str, mut step: impl FnMut() -> Result<bool, String>) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !step()? {
        ensure(Instant::now() < deadline, || {
            format!("timed out waiting: {what}")
        })?;
        std::thread::sleep(Duration::from_millis(300));
    }
    Ok(())
}

/// The wrangler settings of a KV namespace bound as `CEDARGATE_BUNDLES`.
fn kv_namespace(id: &str) -> Value {
    json!({ "kv_namespaces": [{ "binding": "CEDARGATE_BUNDLES", "id": id }] })
}

/// Starts worker `name` with `CEDARGATE_BUNDLES` (namespace `kv_id`) holding `initial` under
/// `current` before it starts (written into the same local state).
fn start_with_kv(
    name: &str,
    kv_id: &str,
    config: &Value,
    initial: &str,
) -> Result<Wrangler, String> {
    start_with_kv_and_cf(name, kv_id, config, initial, None)
}

/// [`start_with_kv`], with `request.cf` from `cf` (wrangler's `CLOUDFLARE_CF_FETCH_PATH`,
/// which the harness points at `cf.json`) when given.
fn start_with_kv_and_cf(
    name: &str,
    kv_id: &str,
    config: &Value,
    initial: &str,
    cf: Option<&Value>,
) -> Result<Wrangler, String> {
    let extra = kv_namespace(kv_id);
    let dir = cedargate_tests::work_dir(name);
    std::fs::write(
        dir.join("wrangler.json"),
        json!({
            "name": format!("cedargate-{name}"), "main": cedargate_tests::wrangler::worker_main()?,
            "compatibility_date": "2026-11-01", "kv_namespaces": extra["kv_namespaces"],
        })
        .to_string(),
    )
    .map_err(|e| e.to_string())?;
    if let Some(cf) = cf {
        std::fs::write(dir.join("cf.json"), cf.to_string()).map_err(|e| e.to_string())?;
    }
    Wrangler::kv_put(&dir, "CEDARGATE_BUNDLES", "current", initial)?;
    Wrangler::start_in(&dir, name, config, &extra)
}

fn main() -> ExitCode {
    let mut h = Harness::new();
    h.suite("worker", worker::start, worker::CHECKS);
    h.suite("faults", faults::start, faults::CHECKS);
    h.suite("corpus", corpus::start, corpus::CHECKS);
    h.suite("rust_backend", rust_backend::start, rust_backend::CHECKS);
    h.suite("bare_workerd", bare_workerd::start, bare_workerd::CHECKS);
    h.suite("kv_and_cache", kv_and_cache::start, kv_and_cache::CHECKS);
    h.suite(
        "signed_kv_bundles",
        signed_kv_bundles::start,
        signed_kv_bundles::CHECKS,
    );
    h.suite("key_hardening", key_hardening::start, key_hardening::CHECKS);
    h.suite("cache_binding", cache_binding::start, cache_binding::CHECKS);
    h.suite("webcrypto", webcrypto::start, webcrypto::CHECKS);
    h.suite("access_bundle", access_bundle::start, access_bundle::CHECKS);
    h.suite("assertion", assertion::start, assertion::CHECKS);
    h.suite("deny_list", deny_list::start, deny_list::CHECKS);
    h.suite("introspection", introspection::start, introspection::CHECKS);
    h.suite(
        "request_context",
        request_context::start,
        request_context::CHECKS,
    );
    h.suite("authzen", authzen::start, authzen::CHECKS);
    h.finish()
}

fn cedargate_edge_bundle_path() -> &'static str {
    "/.cedargate/bundle"
}

/// The main worker, with three issuers of one provider, the echo origin and CORS for the
/// app: the PetStore matrix, headers, CORS, paths, bodies, the bundle endpoint, key
/// rotation, the token cache and the log.
mod worker {
    use super::*;

    pub struct Worker {
        provider: TestProvider,
        _origin: EchoOrigin,
        main: Wrangler,
        issuer: String,
        admin: String,
        user: String,
        nobody: String,
    }

    pub const CHECKS: &[Check<Worker>] = checks![
        petstore_matrix,
        missing_token_401_with_bearer_challenge,
        invalid_tokens_401_invalid_token_with_reason,
        several_authorization_headers_refused,
        origin_sees_identity_headers_never_client_sent_ones,
        cors_preflight_and_headers_on_refusals,
        refused_paths_400_unknown_routes_404,
        ten_mb_body_streamed_intact,
        bundle_endpoint_serves_what_is_enforced,
        new_provider_key_picked_up_refetches_limited_and_shared,
        keys_rotating_under_load,
        verified_tokens_cached_per_isolate,
        decisions_cached_per_token_and_request,
        one_json_log_line_per_request_never_a_token,
    ];

    /// Starts the worker in workerd.
    pub fn start() -> Result<Worker, String> {
        let provider = TestProvider::start()?;
        provider.add_env(
            "env-main",
            &["a-rsa-1", "a-ec-1", "a-ed-1", "a-p384-1", "a-p521-1"],
        );
        provider.add_env("env-rotate", &["a-rsa-1"]);
        provider.add_env("env-mid", &["a-rsa-1"]);
        let origin = EchoOrigin::start()?;
        let config = json!({
            "trust": trust(&[
                (&provider.issuer("env-main"), ""),
                (&provider.issuer("env-rotate"), ""),
                (&provider.issuer("env-mid"), ""),
            ]),
            "origin": origin.url(),
            "cors": { "allowed_origins": [APP_ORIGIN] },
            "bundle_endpoint": true,
            "keys": { "unknown_kid_refetch_seconds": 2 },
        });
        let main = Wrangler::start("edge-main", &config, &json!({}))?;
        let issuer = provider.issuer("env-main");
        let admin = id_token(&issuer, "alice", &["AVP_Admin"], "a-rsa-1");
        let user = id_token(&issuer, "bob", &["AVP_User"], "a-rsa-1");
        let nobody = id_token(&issuer, "carol", &[], "a-ec-1");
        Ok(Worker {
            provider,
            _origin: origin,
            main,
            issuer,
            admin,
            user,
            nobody,
        })
    }

    /// The PetStore matrix through the worker.
    fn petstore_matrix(s: &Worker) -> Result<(), String> {
        let Worker {
            main,
            issuer,
            admin,
            user,
            nobody,
            ..
        } = s;
        let cases: [(&str, &str, &str, u16); 12] = [
            (admin, "GET", "/", 200),
            (admin, "GET", "/pets", 200),
            (admin, "POST", "/pets", 200),
            (admin, "GET", "/pets/7", 200),
            (user, "GET", "/", 200),
            (user, "GET", "/pets", 200),
            (user, "POST", "/pets", 403),
            (user, "GET", "/pets/7", 200),
            (nobody, "GET", "/", 403),
            (nobody, "GET", "/pets", 403),
            (nobody, "POST", "/pets", 403),
            (nobody, "GET", "/pets/7", 403),
        ];
        for (token, method, path, status) in cases {
            let reply = call(main, method, path, Some(token))?;
            same(reply.status, status, &format!("{method} {path}"))?;
            if status == 200 {
                same(
                    reply.header("x-origin"),
                    Some("echo"),
                    "answered by the origin",
                )?;
                same(
                    reply.json()["path"].as_str(),
                    Some(path),
                    "path at the origin",
                )?;
            } else {
                same(
                    reply.header("content-type"),
                    Some("application/problem+json"),
                    "type",
                )?;
                let body = reply.json();
                same(body["status"].as_u64(), Some(403), "problem status")?;
                ensure(body["action"].is_string(), || {
                    format!("no action in {body}")
                })?;
            }
        }
        // Every algorithm family through WebCrypto in workerd.
        let ed = id_token(issuer, "dave", &["AVP_Admin"], "a-ed-1");
        same(call(main, "POST", "/pets", Some(&ed))?.status, 200, "EdDSA")?;
        let es = id_token(issuer, "dave", &["AVP_User"], "a-ec-1");
        same(call(main, "POST", "/pets", Some(&es))?.status, 403, "ES256")?;
        let es384 = id_token(issuer, "dave", &["AVP_Admin"], "a-p384-1");
        same(
            call(main, "POST", "/pets", Some(&es384))?.status,
            200,
            "ES384",
        )?;
        let es512 = id_token(issuer, "dave", &["AVP_User"], "a-p521-1");
        same(
            call(main, "POST", "/pets", Some(&es512))?.status,
            403,
            "ES512",
        )?;
        let denied = call(main, "POST", "/pets", Some(user))?.json();
        same(denied["action"].as_str(), Some("post /pets"), "action")?;
        same(
            denied["policies"].clone(),
            json!([]),
            "policies of a default deny",
        )?;
        Ok(())
    }

    /// A missing token gets 401 with a Bearer challenge.
    fn missing_token_401_with_bearer_challenge(s: &Worker) -> Result<(), String> {
        let Worker { main, .. } = s;
        let reply = call(main, "GET", "/pets", None)?;
        same(reply.status, 401, "status")?;
        same(
            reply.header("www-authenticate"),
            Some("Bearer realm=\"cedargate\""),
            "challenge",
        )?;
        same(
            reply.json()["type"].as_str(),
            Some("urn:cedargate:problem:missing-token"),
            "type",
        )
    }

    /// Invalid tokens get 401 invalid_token with the reason.
    fn invalid_tokens_401_invalid_token_with_reason(s: &Worker) -> Result<(), String> {
        let Worker { main, issuer, .. } = s;
        let t = now();
        let expired = record(support::mint(
            &json!({ "iss": issuer, "aud": CLIENT, "sub": "x", "iat": t - 7200, "exp": t - 3600 }),
            "a-rsa-1",
            "JWT",
        ));
        let wrong_aud = record(support::mint(
            &json!({ "iss": issuer, "aud": "someone-else", "sub": "x", "iat": t, "exp": t + 60 }),
            "a-rsa-1",
            "JWT",
        ));
        let unsigned = record(format!(
            "{}.{}.",
            b64(br#"{"alg":"none"}"#),
            b64(
                json!({ "iss": issuer, "aud": CLIENT, "sub": "x", "exp": t + 60 })
                    .to_string()
                    .as_bytes()
            )
        ));
        let forged = record(mint_raw(
            &json!({ "alg": "RS256", "kid": "a-rsa-1" }).to_string(),
            &json!({ "iss": issuer, "aud": CLIENT, "sub": "x", "group": ["AVP_Admin"], "exp": t + 60 }).to_string(),
            "attacker-rsa",
        ));
        for (token, reason) in [
            (expired.as_str(), "expired"),
            (wrong_aud.as_str(), "wrong_audience"),
            (unsigned.as_str(), "unsupported_algorithm"),
            (forged.as_str(), "bad_signature"),
            ("not-a-token", "malformed"),
        ] {
            let reply = call(main, "GET", "/pets", Some(token))?;
            same(reply.status, 401, reason)?;
            let challenge = reply.header("www-authenticate").unwrap_or_default();
            ensure(challenge.contains("error=\"invalid_token\""), || {
                format!("{reason}: {challenge}")
            })?;
            ensure(challenge.contains("error_description=\""), || {
                format!("{reason}: {challenge}")
            })?;
            same(reply.json()["reason"].as_str(), Some(reason), "reason")?;
            ensure(!reply.text().contains(token) || token.len() < 12, || {
                "token echoed".into()
            })?;
            // Only the reason code leaves the worker; the core's message goes to the log.
            same(
                challenge.split("error_description=").nth(1),
                Some(format!("\"token refused: {reason}\"").as_str()),
                "error_description",
            )?;
            same(
                reply.json()["detail"].as_str(),
                Some(format!("the bearer token was refused ({reason})").as_str()),
                "detail",
            )?;
        }
        let logged = main.log_lines().into_iter().any(|l| {
            l["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("expired: token expired at"))
        });
        ensure(logged, || {
            "the log has no detail of the expired token".into()
        })
    }

    /// Several Authorization headers are refused.
    fn several_authorization_headers_refused(s: &Worker) -> Result<(), String> {
        let Worker { main, admin, .. } = s;
        let a = bearer(admin);
        let reply = http::send(
            "GET",
            &main.url("/pets"),
            &[("authorization", a.as_str()), ("authorization", a.as_str())],
            None,
        )?;
        same(reply.status, 401, "status")?;
        same(
            reply.json()["reason"].as_str(),
            Some("malformed_header"),
            "reason",
        )
    }

    /// The origin sees identity headers, never client-sent ones.
    fn origin_sees_identity_headers_never_client_sent_ones(s: &Worker) -> Result<(), String> {
        let Worker {
            main,
            issuer,
            admin,
            ..
        } = s;
        let a = bearer(admin);
        let reply = http::send(
            "GET",
            &main.url("/pets/7?type=dog&x=%20y"),
            &[
                ("authorization", a.as_str()),
                ("x-cedargate-subject", "mallory"),
                ("x-cedargate-groups", "AVP_Admin"),
                ("X-Cedargate-Anything", "spoof"),
                ("x-http-method-override", "DELETE"),
                ("x-method-override", "DELETE"),
                ("accept", "application/json"),
                ("forwarded", "for=10.0.0.1;host=admin.internal;proto=https"),
                ("x-forwarded-for", "10.0.0.1"),
                ("x-forwarded-host", "admin.internal"),
                ("x-real-ip", "10.0.0.1"),
                ("origin", APP_ORIGIN),
            ],
            None,
        )?;
        same(reply.status, 200, "status")?;
        // The origin's Vary (Accept-Encoding) is kept, the worker's Origin added.
        let vary = reply
            .header("vary")
            .unwrap_or_default()
            .to_ascii_lowercase();
        ensure(
            vary.contains("accept-encoding") && vary.contains("origin"),
            || format!("vary: {vary}"),
        )?;
        let seen = reply.json();
        for dropped in [
            "forwarded",
            "x-forwarded-for",
            "x-forwarded-host",
            "x-real-ip",
        ] {
            ensure(seen["headers"].get(dropped).is_none(), || {
                format!("the origin received the client's {dropped}")
            })?;
        }
        same(
            seen["headers"]["x-cedargate-issuer"].as_str(),
            Some(issuer.as_str()),
            "issuer",
        )?;
        let header = |name: &str| seen["headers"][name].as_str().map(str::to_owned);
        same(seen["method"].as_str(), Some("GET"), "method")?;
        same(seen["path"].as_str(), Some("/pets/7"), "path")?;
        same(seen["query"].as_str(), Some("type=dog&x=%20y"), "query")?;
        same(
            header("x-cedargate-subject").as_deref(),
            Some("alice"),
            "subject",
        )?;
        same(
            header("x-cedargate-groups").as_deref(),
            Some("AVP_Admin"),
            "groups",
        )?;
        same(
            header("x-cedargate-policies").as_deref(),
            Some("avp-admin-all"),
            "policies",
        )?;
        same(
            header("x-cedargate-action").as_deref(),
            Some("get%20/pets/%7BpetId%7D"),
            "action",
        )?;
        same(header("x-cedargate-anything"), None, "spoofed header")?;
        same(header("x-http-method-override"), None, "method override")?;
        same(header("x-method-override"), None, "method override")?;
        same(
            header("accept").as_deref(),
            Some("application/json"),
            "ordinary header",
        )?;
        same(
            header("authorization"),
            Some(a.clone()),
            "authorization forwarded",
        )?;
        ensure(reply.header("x-cedargate-request-id").is_some(), || {
            "no request id".into()
        })
    }

    /// CORS preflight, and CORS headers on refusals.
    fn cors_preflight_and_headers_on_refusals(s: &Worker) -> Result<(), String> {
        let Worker {
            main, admin, user, ..
        } = s;
        let pre = http::send(
            "OPTIONS",
            &main.url("/pets"),
            &[
                ("origin", APP_ORIGIN),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "authorization"),
            ],
            None,
        )?;
        same(pre.status, 204, "preflight status")?;
        same(
            pre.header("access-control-allow-origin"),
            Some(APP_ORIGIN),
            "allow-origin",
        )?;
        let methods = pre
            .header("access-control-allow-methods")
            .unwrap_or_default();
        ensure(methods.contains("POST") && methods.contains("GET"), || {
            methods.to_owned()
        })?;
        ensure(
            pre.header("access-control-allow-headers")
                .unwrap_or_default()
                .contains("authorization"),
            || "authorization not allowed".into(),
        )?;
        let other = http::send(
            "OPTIONS",
            &main.url("/pets"),
            &[
                ("origin", "https://evil.test"),
                ("access-control-request-method", "GET"),
            ],
            None,
        )?;
        same(other.status, 403, "preflight from another origin")?;
        same(
            other.header("access-control-allow-origin"),
            None,
            "no allow-origin",
        )?;
        let unauthenticated =
            http::send("GET", &main.url("/pets"), &[("origin", APP_ORIGIN)], None)?;
        same(unauthenticated.status, 401, "401")?;
        same(
            unauthenticated.header("access-control-allow-origin"),
            Some(APP_ORIGIN),
            "CORS on 401",
        )?;
        let expose = unauthenticated
            .header("access-control-expose-headers")
            .unwrap_or_default();
        ensure(expose.contains("www-authenticate"), || expose.to_owned())?;
        let u = bearer(user);
        let denied = http::send(
            "POST",
            &main.url("/pets"),
            &[("origin", APP_ORIGIN), ("authorization", &u)],
            None,
        )?;
        same(denied.status, 403, "403")?;
        same(
            denied.header("access-control-allow-origin"),
            Some(APP_ORIGIN),
            "CORS on 403",
        )?;
        let a = bearer(admin);
        let allowed = http::send(
            "GET",
            &main.url("/pets"),
            &[("origin", APP_ORIGIN), ("authorization", &a)],
            None,
        )?;
        same(
            allowed.header("access-control-allow-origin"),
            Some(APP_ORIGIN),
            "CORS on 200",
        )?;
        let foreign = http::send(
            "GET",
            &main.url("/pets"),
            &[("origin", "https://evil.test"), ("authorization", &a)],
            None,
        )?;
        same(
            foreign.header("access-control-allow-origin"),
            None,
            "no CORS for other origins",
        )
    }

    /// Refused paths get 400 and unknown routes 404.
    fn refused_paths_400_unknown_routes_404(s: &Worker) -> Result<(), String> {
        let Worker {
            main, admin, user, ..
        } = s;
        for path in [
            "/pets/a%2Fb",
            "/pets/a%5Cb",
            "/pets//7",
            "/pets/",
            "/pets/7%00",
            "/pets/%zz",
            "/pets/%ff",
            "/pets?type=a&type=b",
        ] {
            let reply = call(main, "GET", path, Some(admin))?;
            same(reply.status, 400, path)?;
            same(
                reply.json()["type"].as_str(),
                Some("urn:cedargate:problem:bad-request"),
                path,
            )?;
        }
        for (method, path) in [("GET", "/owners"), ("GET", "/PETS")] {
            let reply = call(main, method, path, Some(admin))?;
            same(reply.status, 404, path)?;
        }
        // No route names DELETE: 405 with the methods the path has.
        let delete = call(main, "DELETE", "/pets/7", Some(admin))?;
        same(delete.status, 405, "DELETE /pets/7")?;
        same(delete.header("allow"), Some("GET"), "Allow")?;
        // wrangler dev's proxy parses request URLs as WHATWG URLs, which resolves dot segments
        // (also encoded) before the worker runs; the worker authorizes and forwards that
        // resolved path, so the origin never sees a path other than the one authorized.
        for (path, resolved) in [
            ("/pets/x/%2e%2e/7", "/pets/7"),
            ("/pets/x/../7", "/pets/7"),
            ("/pets/%2e%2e", "/"),
        ] {
            let reply = call(main, "GET", path, Some(admin))?;
            same(reply.status, 200, path)?;
            same(reply.json()["path"].as_str(), Some(resolved), path)?;
        }
        let user_post = call(main, "POST", "/x/../pets", Some(user))?;
        same(user_post.status, 403, "a dot segment cannot dodge a deny")
    }

    /// A 10 MB body is streamed to the origin intact.
    fn ten_mb_body_streamed_intact(s: &Worker) -> Result<(), String> {
        let Worker { main, admin, .. } = s;
        let body: Vec<u8> = (0..10 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        let a = bearer(admin);
        let reply = http::send(
            "POST",
            &main.url("/pets"),
            &[
                ("authorization", a.as_str()),
                ("content-type", "application/octet-stream"),
            ],
            Some(&body),
        )?;
        same(reply.status, 200, "status")?;
        let seen = reply.json();
        same(
            seen["body_length"].as_u64(),
            Some(body.len() as u64),
            "length",
        )?;
        use sha2::Digest as _;
        let digest = format!("{:x}", sha2::Sha256::digest(&body));
        same(
            seen["body_sha256"].as_str(),
            Some(digest.as_str()),
            "sha256",
        )
    }

    /// The bundle endpoint serves what the worker enforces.
    fn bundle_endpoint_serves_what_is_enforced(s: &Worker) -> Result<(), String> {
        let Worker { main, user, .. } = s;
        let reply = call(main, "GET", cedargate_edge_bundle_path(), Some(user))?;
        same(reply.status, 200, "status")?;
        let doc = reply.json();
        let source: cedargate::BundleSource =
            serde_json::from_value(doc["source"].clone()).map_err(|e| e.to_string())?;
        let local = cedargate::Bundle::load(&source).map_err(|e| e.to_string())?;
        let expected = cedargate::examples::petstore().map_err(|e| e.to_string())?;
        same(
            local.version(),
            expected.version(),
            "version computed from the served text",
        )?;
        same(
            doc["version"].as_str(),
            Some(expected.version().as_str()),
            "version",
        )?;
        same(
            reply.header("x-cedargate-bundle-version"),
            Some(expected.version().as_str()),
            "header",
        )?;
        same(
            call(main, "GET", cedargate_edge_bundle_path(), None)?.status,
            401,
            "anonymous",
        )
    }

    /// A new key at the provider is picked up, refetches are rate-limited and shared.
    fn new_provider_key_picked_up_refetches_limited_and_shared(s: &Worker) -> Result<(), String> {
        let Worker { provider, main, .. } = s;
        let rotate = provider.issuer("env-rotate");
        let first = id_token(&rotate, "dave", &["AVP_Admin"], "a-rsa-1");
        same(
            call(main, "GET", "/pets", Some(&first))?.status,
            200,
            "warm-up",
        )?;
        let hits = provider.jwks_hits("env-rotate");
        same(hits, 1, "JWKS fetched once")?;
        provider.set_keys("env-rotate", &["a-rsa-1", "a-rsa-2"]);
        let rotated = id_token(&rotate, "dave", &["AVP_Admin"], "a-rsa-2");
        // Within the refetch interval the new kid is still unknown.
        let early = call(main, "GET", "/pets", Some(&rotated))?;
        same(early.status, 401, "before the interval")?;
        same(
            early.json()["reason"].as_str(),
            Some("unknown_key"),
            "reason",
        )?;
        same(
            provider.jwks_hits("env-rotate"),
            1,
            "no refetch within the interval",
        )?;
        std::thread::sleep(Duration::from_millis(2200));
        // Concurrent requests with the new kid share one refetch.
        let tokens: Vec<String> = (0..8)
            .map(|_| id_token(&rotate, "dave", &["AVP_Admin"], "a-rsa-2"))
            .collect();
        let handles: Vec<_> = tokens
            .into_iter()
            .map(|t| {
                let url = main.url("/pets");
                std::thread::spawn(move || {
                    http::send("GET", &url, &[("authorization", &bearer(&t))], None)
                        .map(|r| r.status)
                })
            })
            .collect();
        let statuses: Vec<u16> = handles
            .into_iter()
            .map(|h| h.join().map_err(|_| "thread".to_owned()).and_then(|r| r))
            .collect::<Result<_, _>>()?;
        same(statuses, vec![200; 8], "rotated key accepted")?;
        same(provider.jwks_hits("env-rotate"), 2, "one shared refetch")?;
        // Unknown kids again right after: no further fetch.
        for _ in 0..5 {
            let bogus = record(mint_raw(
                &json!({ "alg": "RS256", "kid": "nope" }).to_string(),
                &json!({ "iss": rotate, "aud": CLIENT, "sub": "x", "exp": now() + 60 }).to_string(),
                "attacker-rsa",
            ));
            same(
                call(main, "GET", "/pets", Some(&bogus))?.status,
                401,
                "unknown kid",
            )?;
        }
        same(
            provider.jwks_hits("env-rotate"),
            2,
            "unknown kids within the interval",
        )
    }

    /// Keys rotating under load: no 5xx, new keys within the refetch interval.
    fn keys_rotating_under_load(s: &Worker) -> Result<(), String> {
        let Worker { provider, main, .. } = s;
        let mid = provider.issuer("env-mid");
        let started = Instant::now();
        let url = main.url("/pets");
        let handles: Vec<_> = (0..4)
            .map(|worker| {
                let url = url.clone();
                let mid = mid.clone();
                std::thread::spawn(move || {
                    let mut seen = Vec::new();
                    let mut n = 0u32;
                    while started.elapsed() < Duration::from_millis(7000) {
                        let t = started.elapsed().as_secs_f64();
                        // Before 2 s only the old key exists; after, half the tokens use the new one.
                        let key = if t >= 2.2 && (n + worker).is_multiple_of(2) {
                            "a-rsa-2"
                        } else {
                            "a-rsa-1"
                        };
                        let token = id_token(&mid, "alice", &["AVP_Admin"], key);
                        let reply = http::send(
                            "GET",
                            &url,
                            &[("authorization", &format!("Bearer {token}"))],
                            None,
                        );
                        seen.push((
                            t,
                            key,
                            reply.map(|r| {
                                (r.status, r.json()["reason"].as_str().map(str::to_owned))
                            }),
                        ));
                        n += 1;
                    }
                    seen
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(2000));
        provider.set_keys("env-mid", &["a-rsa-1", "a-rsa-2"]);
        std::thread::sleep(Duration::from_millis(2500));
        provider.set_keys("env-mid", &["a-rsa-2"]);
        let mut all = Vec::new();
        for handle in handles {
            all.extend(
                handle
                    .join()
                    .map_err(|_| "load thread panicked".to_owned())?,
            );
        }
        ensure(all.len() > 40, || format!("only {} requests", all.len()))?;
        let mut new_key_ok = 0;
        for (t, key, reply) in &all {
            let (status, reason) = reply.clone()?;
            match (status, key, reason.as_deref()) {
                (200, _, _) => {
                    if *key == "a-rsa-2" {
                        new_key_ok += 1;
                    }
                }
                // Until the refetch interval (2 s) has passed since the last fetch.
                (401, &"a-rsa-2", Some("unknown_key")) if *t < 2.0 + 2.0 + 1.5 => {}
                other => return Err(format!("at {t:.1} s with {key}: {other:?}")),
            }
        }
        ensure(new_key_ok > 5, || {
            format!("the new key was accepted {new_key_ok} times")
        })?;
        // One fetch at start, at most one per interval after: bounded.
        let hits = provider.jwks_hits("env-mid");
        ensure(hits <= 4, || format!("{hits} JWKS fetches"))
    }

    /// Verified tokens are cached per isolate.
    fn verified_tokens_cached_per_isolate(s: &Worker) -> Result<(), String> {
        let Worker { main, issuer, .. } = s;
        let token = id_token(issuer, "erin", &["AVP_User"], "a-rsa-1");
        same(
            call(main, "GET", "/pets", Some(&token))?.status,
            200,
            "first",
        )?;
        same(
            call(main, "GET", "/pets/1", Some(&token))?.status,
            200,
            "second",
        )?;
        std::thread::sleep(Duration::from_millis(300));
        let lines = main.log_lines();
        let erin: Vec<&Value> = lines.iter().filter(|l| l["subject"] == "erin").collect();
        same(erin.len(), 2, "log lines for erin")?;
        same(erin[0]["token_cache"].as_str(), Some("miss"), "first")?;
        same(erin[1]["token_cache"].as_str(), Some("hit"), "second")
    }

    /// A token used again for the same method and target reuses its decision; any other
    /// request of the same token is routed and decided anew.
    fn decisions_cached_per_token_and_request(s: &Worker) -> Result<(), String> {
        let Worker { main, issuer, .. } = s;
        let token = id_token(issuer, "frank", &["AVP_User"], "a-rsa-1");
        let expected = [
            ("GET", "/pets", 200, "miss"),
            ("GET", "/pets", 200, "hit"),
            ("POST", "/pets", 403, "miss"),
            ("POST", "/pets", 403, "hit"),
            ("GET", "/pets?x=1", 200, "miss"),
            ("GET", "/pets/1", 200, "miss"),
        ];
        for (method, path, status, _) in expected {
            same(
                call(main, method, path, Some(&token))?.status,
                status,
                &format!("{method} {path}"),
            )?;
        }
        std::thread::sleep(Duration::from_millis(300));
        let lines = main.log_lines();
        let frank: Vec<&Value> = lines.iter().filter(|l| l["subject"] == "frank").collect();
        same(frank.len(), expected.len(), "log lines for frank")?;
        for (line, (method, path, _, cache)) in frank.iter().zip(expected) {
            same(
                line["decision_cache"].as_str(),
                Some(cache),
                &format!("{method} {path}"),
            )?;
        }
        same(
            frank[3]["policies"].clone(),
            frank[2]["policies"].clone(),
            "the cached deny names the same policies",
        )
    }

    /// One JSON log line per request, never a token. It reads the log the checks before it
    /// left.
    fn one_json_log_line_per_request_never_a_token(s: &Worker) -> Result<(), String> {
        let Worker { main, .. } = s;
        std::thread::sleep(Duration::from_millis(300));
        let lines = main.log_lines();
        let requests: Vec<&Value> = lines
            .iter()
            .filter(|l| l.get("request_id").is_some())
            .collect();
        ensure(requests.len() > 40, || {
            format!("only {} request lines", requests.len())
        })?;
        let allowed = requests
            .iter()
            .find(|l| l["decision"] == "allow" && l["subject"] == "alice")
            .ok_or("no allow line for alice")?;
        for field in [
            "request_id",
            "method",
            "path",
            "status",
            "issuer",
            "subject",
            "action",
            "decision",
            "policies",
            "token_cache",
            "us",
        ] {
            ensure(allowed.get(field).is_some(), || {
                format!("{field} missing from {allowed}")
            })?;
        }
        same(
            allowed["policies"].clone(),
            json!(["avp-admin-all"]),
            "policies",
        )?;
        let logs = main.logs();
        for token in SENT.lock().expect("tokens").iter() {
            let signature = token.rsplit('.').next().unwrap_or_default();
            ensure(signature.len() < 16 || !logs.contains(signature), || {
                "a token reached the log".into()
            })?;
            ensure(!logs.contains(token.as_str()) || token.len() < 16, || {
                "a token reached the log".into()
            })?;
        }
        Ok(())
    }
}

/// A worker whose origin is down and whose key cache is short, against providers that fail.
mod faults {
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
        let fetched = Instant::now();
        let token = || id_token(outage, "alice", &["AVP_Admin"], "a-rsa-1");
        same(
            call(worker, "GET", "/pets", Some(&token()))?.status,
            502,
            "warm",
        )?;
        provider.set_mode("env-outage", Mode::Down);
        std::thread::sleep(Duration::from_millis(1500));
        same(
            call(worker, "GET", "/pets", Some(&token()))?.status,
            502,
            "stale keys still serve",
        )?;
        let past = Duration::from_millis(4600);
        if let Some(rest) = past.checked_sub(fetched.elapsed()) {
            std::thread::sleep(rest);
        }
        let reply = call(worker, "GET", "/pets", Some(&token()))?;
        same(reply.status, 503, "past the staleness bound")?;
        ensure(reply.header("retry-after").is_some(), || {
            "no Retry-After".into()
        })?;
        provider.set_mode("env-outage", Mode::Up);
        // After the failed fetch, the next attempt waits for the backoff (1 s here).
        std::thread::sleep(Duration::from_millis(1100));
        same(
            call(worker, "GET", "/pets", Some(&token()))?.status,
            502,
            "recovered",
        )
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
            same(call(worker, "GET", "/pets", Some(&token))?.status, 503, env)?;
        }
        Ok(())
    }
}

/// Newer bundles from KV, and keys kept in the Cache API across isolates. The checks build
/// on each other: the newer bundle is the one the rollback check expects, and the last
/// check stops the worker to start another isolate.
mod kv_and_cache {
    use super::*;
    use std::cell::{Ref, RefCell};

    pub struct KvAndCache {
        provider: TestProvider,
        _origin: EchoOrigin,
        issuer: String,
        config: Value,
        extra: Value,
        invalid: String,
        newer: String,
        newer_version: String,
        older: String,
        same_serial: String,
        built_in: String,
        /// Until the last check stops it.
        worker: RefCell<Option<Wrangler>>,
    }

    impl KvAndCache {
        fn worker(&self) -> Result<Ref<'_, Wrangler>, String> {
            Ref::filter_map(self.worker.borrow(), Option::as_ref)
                .map_err(|_| "the KV worker was stopped by an earlier check".to_owned())
        }

        fn user(&self) -> String {
            id_token(&self.issuer, "bob", &["AVP_User"], "a-rsa-1")
        }
    }

    pub const CHECKS: &[Check<KvAndCache>] = checks![
        invalid_bundle_logged_built_in_stays,
        newer_bundle_takes_over_without_restart,
        older_or_equal_serial_cannot_roll_back,
        a_bundle_binding_that_is_not_bound_makes_the_worker_refuse_to_run,
        new_isolate_takes_keys_from_cache_api,
    ];

    /// Starts the provider, the origin and the KV worker.
    pub fn start() -> Result<KvAndCache, String> {
        let provider = TestProvider::start()?;
        provider.add_env("env-kv", &["a-rsa-1"]);
        let issuer = provider.issuer("env-kv");
        let origin = EchoOrigin::start()?;
        let config = json!({
            "trust": trust(&[(&issuer, "")]),
            "origin": origin.url(),
            // The built-in bundle may decide until KV holds one the worker takes: what this
            // suite checks is how newer ones replace it (`signed_kv_bundles`: KV required).
            "bundle_kv": { "binding": "CEDARGATE_BUNDLES", "key": "current", "refresh_seconds": 1, "serve_built_in": true },
        });
        let extra = kv_namespace("cedargate-e2e-bundles");
        let petstore = cedargate::examples::petstore_source();
        let invalid = json!({
        "schema": petstore.schema,
        "policies": "@id(\"broken\") permit(principal in PetStore::UserGroup::\"AVP_User\", action == PetStore::Action::\"no such action\", resource);",
        "routes": petstore.routes,
        "serial": 1,
    })
    .to_string();
        let newer_source = cedargate::BundleSource {
            policies: format!(
                "{}\n@id(\"users-may-post\")\npermit (principal in PetStore::UserGroup::\"AVP_User\", action == PetStore::Action::\"post /pets\", resource);\n",
                petstore.policies
            ),
            ..petstore.clone()
        };
        let newer_version = cedargate::Bundle::load(&newer_source)
            .map(|b| b.version().to_string())
            .unwrap_or_default();
        let newer = serde_json::to_string(&cedargate::BundleDocument::new(newer_source.clone(), 2))
            .unwrap_or_default();
        // What an attacker able to write KV but not to sign could put back: the older policies
        // (a lower serial), or other ones under the serial in force.
        let older = serde_json::to_string(&cedargate::BundleDocument::new(petstore.clone(), 1))
            .unwrap_or_default();
        let same_serial = serde_json::to_string(&cedargate::BundleDocument::new(
            cedargate::BundleSource {
                policies: format!("{}\n// another text\n", petstore.policies),
                ..petstore.clone()
            },
            2,
        ))
        .unwrap_or_default();
        let worker = start_with_kv("edge-kv", "cedargate-e2e-bundles", &config, &invalid)?;
        let built_in = cedargate::examples::petstore()
            .map(|b| b.version().to_string())
            .unwrap_or_default();
        Ok(KvAndCache {
            provider,
            _origin: origin,
            issuer,
            config,
            extra,
            invalid,
            newer,
            newer_version,
            older,
            same_serial,
            built_in,
            worker: RefCell::new(Some(worker)),
        })
    }

    /// An invalid bundle in KV is logged and the built-in one stays.
    fn invalid_bundle_logged_built_in_stays(s: &KvAndCache) -> Result<(), String> {
        let worker = s.worker()?;
        let KvAndCache { built_in, .. } = s;
        let reply = call(&worker, "POST", "/pets", Some(&s.user()))?;
        same(reply.status, 403, "built-in policies")?;
        std::thread::sleep(Duration::from_millis(1500));
        let reply = call(&worker, "POST", "/pets", Some(&s.user()))?;
        same(reply.status, 403, "still the built-in policies")?;
        same(
            reply.header("x-cedargate-bundle-version"),
            Some(built_in.as_str()),
            "version",
        )?;
        let rejected = worker
            .log_lines()
            .into_iter()
            .find(|l| l["event"] == "bundle_rejected");
        let rejected = rejected.ok_or("no bundle_rejected event")?;
        ensure(
            rejected["error"]
                .as_str()
                .unwrap_or_default()
                .contains("no such action"),
            || rejected.to_string(),
        )?;
        same(
            rejected["kept"].as_str(),
            Some(built_in.as_str()),
            "kept version",
        )
    }

    /// A valid newer bundle in KV takes over without a restart.
    fn newer_bundle_takes_over_without_restart(s: &KvAndCache) -> Result<(), String> {
        let worker = s.worker()?;
        let KvAndCache {
            invalid,
            newer,
            newer_version,
            ..
        } = s;
        Wrangler::kv_put(&worker.dir, "CEDARGATE_BUNDLES", "current", newer)?;
        poll("the newer bundle to take over", || {
            let reply = call(&worker, "POST", "/pets", Some(&s.user()))?;
            if reply.status != 200 {
                return Ok(false);
            }
            same(
                reply.header("x-cedargate-bundle-version"),
                Some(newer_version.as_str()),
                "version",
            )?;
            Ok(true)
        })?;
        let updated = worker
            .log_lines()
            .into_iter()
            .any(|l| l["event"] == "bundle_updated");
        ensure(updated, || "no bundle_updated event".into())?;
        // A broken bundle after it does not undo it.
        Wrangler::kv_put(&worker.dir, "CEDARGATE_BUNDLES", "current", invalid)?;
        std::thread::sleep(Duration::from_millis(2500));
        same(
            call(&worker, "POST", "/pets", Some(&s.user()))?.status,
            200,
            "last good bundle kept",
        )?;
        same(
            call(&worker, "POST", "/pets", Some(&s.user()))?.status,
            200,
            "last good bundle kept",
        )
    }

    /// An older or equal serial in KV cannot roll the policies back.
    fn older_or_equal_serial_cannot_roll_back(s: &KvAndCache) -> Result<(), String> {
        let worker = s.worker()?;
        let KvAndCache {
            newer_version,
            older,
            same_serial,
            ..
        } = s;
        for (document, serial) in [(&older, 1), (&same_serial, 2)] {
            Wrangler::kv_put(&worker.dir, "CEDARGATE_BUNDLES", "current", document)?;
            poll(
                &format!("bundle_rollback_refused for serial {serial}"),
                || {
                    let _ = call(&worker, "GET", "/pets", Some(&s.user()))?;
                    Ok(worker
                        .log_lines()
                        .into_iter()
                        .any(|l| l["event"] == "bundle_rollback_refused" && l["serial"] == serial))
                },
            )?;
            let reply = call(&worker, "POST", "/pets", Some(&s.user()))?;
            same(reply.status, 200, "the newer policies stay")?;
            same(
                reply.header("x-cedargate-bundle-version"),
                Some(newer_version.as_str()),
                "version",
            )?;
        }
        Ok(())
    }

    /// A `bundle_kv.binding` the worker does not have would leave it on the built-in
    /// bundle for good, even with `serve_built_in`: it refuses to run instead.
    fn a_bundle_binding_that_is_not_bound_makes_the_worker_refuse_to_run(
        s: &KvAndCache,
    ) -> Result<(), String> {
        let mut config = s.config.clone();
        config["bundle_kv"]["binding"] = json!("NO_SUCH_KV");
        let unbound = Wrangler::start("edge-kv-unbound", &config, &s.extra)?;
        let reply = call(&unbound, "GET", "/pets", Some(&s.user()))?;
        same(reply.status, 500, "a binding that is not bound")?;
        let logged = unbound.log_lines().into_iter().any(|l| {
            l["error"]
                .as_str()
                .is_some_and(|e| e.contains("bundle_kv.binding NO_SUCH_KV is not a KV namespace"))
        });
        ensure(logged, || {
            format!("the reason is logged:\n{}", unbound.logs())
        })
    }

    /// A new isolate takes the issuer's keys from the Cache API.
    fn new_isolate_takes_keys_from_cache_api(s: &KvAndCache) -> Result<(), String> {
        let KvAndCache {
            provider,
            config,
            extra,
            ..
        } = s;
        let hits = provider.jwks_hits("env-kv");
        ensure(hits >= 1, || "keys were never fetched".into())?;
        let worker = s.worker.borrow_mut().take();
        let worker = worker.ok_or("the KV worker was stopped by an earlier check")?;
        let dir = worker.dir.clone();
        drop(worker);
        let again = Wrangler::start_in(&dir, "edge-kv", config, extra)?;
        same(
            call(&again, "GET", "/pets", Some(&s.user()))?.status,
            200,
            "request on the new isolate",
        )?;
        same(provider.jwks_hits("env-kv"), hits, "no new JWKS fetch")?;
        let refreshed = again
            .log_lines()
            .into_iter()
            .any(|l| l["event"] == "keys_refreshed");
        ensure(refreshed, || "no keys_refreshed event".into())
    }
}

/// KV bundles with the publisher's signature required, and KV required (the default with
/// `bundle_kv`): no request is decided by the built-in bundle. Unsigned, wrongly signed,
/// missing or garbled documents leave every request 503; a signed one with a higher serial
/// takes over, and decides the very first request of a new isolate.
mod signed_kv_bundles {
    use super::*;

    pub struct SignedKvBundles {
        provider: TestProvider,
        _origin: EchoOrigin,
        worker: Wrangler,
        issuer: String,
        config: Value,
        publisher: cedargate::BundleSigningKey,
        forged: String,
        signed: String,
        /// Signed by the publisher for the deployment `staging`.
        for_staging: String,
        /// Signed by the publisher, naming no deployment.
        for_nobody: String,
    }

    /// The deployment the suite's worker is.
    const AUDIENCE: &str = "e2e-production";

    impl SignedKvBundles {
        fn user(&self) -> String {
            id_token(&self.issuer, "bob", &["AVP_User"], "a-rsa-1")
        }

        /// Waits for a `bundle_rejected` event whose error contains `needle`.
        fn rejected_with(&self, needle: &str) -> Result<(), String> {
            poll(&format!("bundle_rejected with \"{needle}\""), || {
                let _ = call(&self.worker, "GET", "/pets", Some(&self.user()))?;
                Ok(self.worker.log_lines().into_iter().any(|l| {
                    l["event"] == "bundle_rejected"
                        && l["error"].as_str().unwrap_or_default().contains(needle)
                }))
            })
        }

        /// A new worker (a new isolate, its own KV) whose KV entry is `entry` (none: no
        /// entry at all) when it starts.
        fn cold_worker(&self, name: &str, entry: Option<&str>) -> Result<Wrangler, String> {
            let extra = kv_namespace(&format!("cedargate-e2e-{name}"));
            let dir = cedargate_tests::work_dir(name);
            match entry {
                Some(entry) => {
                    start_with_kv(name, &format!("cedargate-e2e-{name}"), &self.config, entry)
                }
                None => Wrangler::start_in(&dir, name, &self.config, &extra),
            }
        }
    }

    /// The PetStore policies with `more` added.
    fn petstore_with(more: &str) -> cedargate::BundleSource {
        let petstore = cedargate::examples::petstore_source();
        cedargate::BundleSource {
            policies: format!("{}\n{more}\n", petstore.policies),
            ..petstore
        }
    }

    const USERS_MAY_POST: &str = "@id(\"users-may-post\")\npermit (principal in PetStore::UserGroup::\"AVP_User\", action == PetStore::Action::\"post /pets\", resource);";

    /// A 503 `bundle-unavailable` that names no bundle version.
    fn unavailable(reply: &Reply, what: &str) -> Result<(), String> {
        same(reply.status, 503, what)?;
        same(
            reply.json()["type"].as_str(),
            Some("urn:cedargate:problem:bundle-unavailable"),
            what,
        )?;
        ensure(reply.header("retry-after").is_some(), || {
            format!("{what}: no Retry-After")
        })?;
        same(reply.header("x-cedargate-bundle-version"), None, what)
    }

    pub const CHECKS: &[Check<SignedKvBundles>] = checks![
        unsigned_and_wrongly_signed_documents_are_503_never_the_built_in_policies,
        publisher_signed_bundle_takes_over,
        a_new_isolate_decides_its_first_request_with_the_kv_bundle,
        a_new_isolate_without_a_document_it_takes_answers_503,
    ];

    /// Makes the signing keys and starts the signed-bundle worker.
    pub fn start() -> Result<SignedKvBundles, String> {
        use sha2::Digest as _;
        let seed = |tag: &str| -> [u8; 32] {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            sha2::Sha256::digest(format!("{tag}-{}-{nanos}", std::process::id())).into()
        };
        let (Ok(publisher), Ok(stranger)) = (
            cedargate::BundleSigningKey::from_seed(seed("publisher")),
            cedargate::BundleSigningKey::from_seed(seed("stranger")),
        ) else {
            return Err("no key".into());
        };
        let permissive = petstore_with(USERS_MAY_POST);
        let unsigned =
            serde_json::to_string(&cedargate::BundleDocument::new(permissive.clone(), 5))
                .unwrap_or_default();
        let forged = stranger
            .sign(&cedargate::BundleDocument::new(permissive.clone(), 6).with_audience(AUDIENCE))
            .unwrap_or_default();
        let signed = publisher
            .sign(&cedargate::BundleDocument::new(permissive.clone(), 7).with_audience(AUDIENCE))
            .unwrap_or_default();
        // Signed by the publisher, for another deployment, or for none.
        let for_staging = publisher
            .sign(&cedargate::BundleDocument::new(permissive.clone(), 9).with_audience("staging"))
            .unwrap_or_default();
        let for_nobody = publisher
            .sign(&cedargate::BundleDocument::new(permissive, 9))
            .unwrap_or_default();
        let provider = TestProvider::start()?;
        provider.add_env("env-signed", &["a-rsa-1"]);
        let origin = EchoOrigin::start()?;
        let config = json!({
            "trust": trust(&[(&provider.issuer("env-signed"), "")]),
            "origin": origin.url(),
            "bundle_kv": {
                "binding": "CEDARGATE_BUNDLES", "key": "current", "refresh_seconds": 1,
                "public_key": publisher.public_key().to_base64url(),
                "audience": AUDIENCE,
            },
        });
        let worker = start_with_kv("edge-signed", "cedargate-e2e-signed", &config, &unsigned)?;
        let issuer = provider.issuer("env-signed");
        Ok(SignedKvBundles {
            provider,
            _origin: origin,
            worker,
            issuer,
            config,
            publisher,
            forged,
            signed,
            for_staging,
            for_nobody,
        })
    }

    /// With a public key configured, unsigned and wrongly signed bundles are refused, and
    /// with nothing else in KV every request is 503: the built-in policies (which allow
    /// `get /pets`) never decide.
    fn unsigned_and_wrongly_signed_documents_are_503_never_the_built_in_policies(
        s: &SignedKvBundles,
    ) -> Result<(), String> {
        let SignedKvBundles { worker, forged, .. } = s;
        unavailable(
            &call(worker, "GET", "/pets", Some(&s.user()))?,
            "the first request, with an unsigned document in KV",
        )?;
        s.rejected_with("not signed")?;
        unavailable(
            &call(worker, "GET", "/pets", Some(&s.user()))?,
            "after an unsigned document",
        )?;
        // Public routes and requests without a token alike.
        unavailable(&call(worker, "GET", "/pets", None)?, "without a token")?;
        Wrangler::kv_put(&worker.dir, "CEDARGATE_BUNDLES", "current", forged)?;
        s.rejected_with("signature is invalid")?;
        unavailable(
            &call(worker, "GET", "/pets", Some(&s.user()))?,
            "after a forged document",
        )?;
        let logged = worker
            .log_lines()
            .into_iter()
            .any(|l| l["status"] == 503 && l["error"] == "bundle-unavailable");
        ensure(logged, || {
            "no 503 log line naming bundle-unavailable".into()
        })
    }

    /// A bundle signed by the publisher takes over.
    fn publisher_signed_bundle_takes_over(s: &SignedKvBundles) -> Result<(), String> {
        let SignedKvBundles { worker, signed, .. } = s;
        Wrangler::kv_put(&worker.dir, "CEDARGATE_BUNDLES", "current", signed)?;
        poll("the signed bundle to take over", || {
            Ok(call(worker, "POST", "/pets", Some(&s.user()))?.status == 200)
        })?;
        let updated = worker
            .log_lines()
            .into_iter()
            .any(|l| l["event"] == "bundle_updated" && l["serial"] == 7);
        ensure(updated, || "no bundle_updated event with serial 7".into())
    }

    /// A `forbid` shipped through KV holds from the very first request of a new isolate:
    /// the KV read is awaited, never decided around.
    fn a_new_isolate_decides_its_first_request_with_the_kv_bundle(
        s: &SignedKvBundles,
    ) -> Result<(), String> {
        let frozen = petstore_with(
            "@id(\"users-frozen\")\nforbid (principal in PetStore::UserGroup::\"AVP_User\", action == PetStore::Action::\"get /pets\", resource);",
        );
        let document = s
            .publisher
            .sign(&cedargate::BundleDocument::new(frozen, 8).with_audience(AUDIENCE))
            .map_err(|e| e.to_string())?;
        let cold = s.cold_worker("edge-signed-cold", Some(&document))?;
        let first = call(&cold, "GET", "/pets", Some(&s.user()))?;
        same(first.status, 403, "the very first request")?;
        same(
            first.json()["policies"].clone(),
            json!(["users-frozen"]),
            "deciding policies",
        )?;
        let admin = id_token(&s.issuer, "alice", &["AVP_Admin"], "a-rsa-1");
        same(
            call(&cold, "GET", "/pets", Some(&admin))?.status,
            200,
            "others as the policies say",
        )
    }

    /// A new isolate whose KV entry is missing, garbage, signed by someone else, or signed
    /// by the publisher for another deployment or for none answers 503, and keeps answering
    /// it, never with the older policies compiled in.
    fn a_new_isolate_without_a_document_it_takes_answers_503(
        s: &SignedKvBundles,
    ) -> Result<(), String> {
        let hits = s.provider.jwks_hits("env-signed");
        for (name, entry) in [
            ("edge-signed-none", None),
            (
                "edge-signed-garbage",
                Some("{\"serial\": 99, \"not\": \"a bundle\""),
            ),
            ("edge-signed-forged", Some(s.forged.as_str())),
            ("edge-signed-staging", Some(s.for_staging.as_str())),
            ("edge-signed-nobody", Some(s.for_nobody.as_str())),
        ] {
            let cold = s.cold_worker(name, entry)?;
            for attempt in ["first", "second"] {
                unavailable(
                    &call(&cold, "GET", "/pets", Some(&s.user()))?,
                    &format!("{name}: the {attempt} request"),
                )?;
            }
            std::thread::sleep(Duration::from_millis(1100)); // past refresh_seconds
            unavailable(
                &call(&cold, "GET", "/pets", Some(&s.user()))?,
                &format!("{name}: after a second read"),
            )?;
        }
        // Nothing was decided, so no token needed verifying.
        same(s.provider.jwks_hits("env-signed"), hits, "no key fetch")
    }
}

/// The pure-Rust signature backend and `origin: "none"` (what the benchmark measures).
mod rust_backend {
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
        let provider = TestProvider::start()?;
        provider.add_env(
            "env-rust",
            &["a-rsa-1", "a-ec-1", "a-ed-1", "a-p384-1", "a-p521-1"],
        );
        let config = json!({
            "trust": trust(&[(&provider.issuer("env-rust"), "")]),
            "origin": "none",
            "signature_backend": "rust",
            "request_log": "refusals",
        });
        let worker = Wrangler::start("edge-rust", &config, &json!({}))?;
        let issuer = provider.issuer("env-rust");
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
}

/// The worker run by workerd itself, without wrangler's proxy in front (which hides some
/// request shapes from the worker): bodies of GET requests.
mod bare_workerd {
    use super::*;
    use cedargate_tests::workerd::{Binding, Module, Workerd};

    pub struct BareWorkerd {
        _provider: TestProvider,
        _origin: EchoOrigin,
        worker: Workerd,
        issuer: String,
    }

    pub const CHECKS: &[Check<BareWorkerd>] =
        checks![get_with_empty_body_forwarded_with_content_refused];

    /// Starts the worker in bare workerd.
    pub fn start() -> Result<BareWorkerd, String> {
        let provider = TestProvider::start()?;
        provider.add_env("env-bare", &["a-rsa-1"]);
        let origin = EchoOrigin::start()?;
        let config = json!({
            "trust": trust(&[(&provider.issuer("env-bare"), "")]),
            "origin": origin.url(),
            "unmatched": "forbidden",
        });
        let main = cedargate_tests::wrangler::worker_main()?;
        let wasm = main.with_file_name("index_bg.wasm");
        let worker = Workerd::start(
            "edge-bare",
            &[
                Module::Es("index.js".into(), main),
                Module::Wasm("index_bg.wasm".into(), wasm),
            ],
            &[Binding::Json("CEDARGATE_CONFIG".into(), config)],
        )?;
        let issuer = provider.issuer("env-bare");
        Ok(BareWorkerd {
            _provider: provider,
            _origin: origin,
            worker,
            issuer,
        })
    }

    /// A GET with an empty body is forwarded, one with content is refused.
    fn get_with_empty_body_forwarded_with_content_refused(s: &BareWorkerd) -> Result<(), String> {
        let BareWorkerd { worker, issuer, .. } = s;
        let admin = bearer(&id_token(issuer, "alice", &["AVP_Admin"], "a-rsa-1"));
        let auth = [("authorization", admin.as_str())];
        // `http::raw` always sends a Content-Length, here 0.
        let empty = http::raw(worker.port, "GET", "/pets/7", &auth, b"")?;
        same(empty.status, 200, "GET with Content-Length: 0")?;
        same(
            empty.json()["path"].as_str(),
            Some("/pets/7"),
            "path at the origin",
        )?;
        let full = http::raw(worker.port, "GET", "/pets/7", &auth, b"{\"x\":1}")?;
        same(full.status, 400, "GET with content")?;
        same(
            full.json()["type"].as_str(),
            Some("urn:cedargate:problem:bad-request"),
            "problem type",
        )?;
        let post = http::raw(worker.port, "POST", "/pets", &auth, b"{\"x\":1}")?;
        let hop = http::raw(
            worker.port,
            "GET",
            "/pets/7",
            &[
                ("authorization", admin.as_str()),
                ("connection", "keep-alive, x-hop"),
                ("x-hop", "1"),
            ],
            b"",
        )?;
        same(hop.status, 200, "GET with a Connection header")?;
        // `unmatched: forbidden` reveals neither routes nor methods.
        for (method, path) in [("MOVE", "/pets/7"), ("GET", "/owners")] {
            let hidden = http::raw(worker.port, method, path, &auth, b"")?;
            same(hidden.status, 403, path)?;
            same(hidden.header("allow"), None, "Allow")?;
        }
        ensure(hop.json()["headers"].get("x-hop").is_none(), || {
            "the origin received a header the client's Connection header named".into()
        })?;
        same(post.status, 200, "POST with content")?;
        same(
            post.json()["body_length"].as_u64(),
            Some(7),
            "body at the origin",
        )
    }
}

/// The attack corpus against the worker: every token case of the shared core's table
/// (shared/tests/data/token_cases.toml) and every request case
/// (shared/tests/data/request_cases.toml).
mod corpus {
    use super::*;
    use cedargate_tests::support::cases::{self, CaseEnv};

    pub struct Corpus {
        provider: TestProvider,
        _origin: EchoOrigin,
        worker: Wrangler,
        bare: cedargate_tests::workerd::Workerd,
        env: CaseEnv,
    }

    pub const CHECKS: &[Check<Corpus>] = checks![
        token_cases_hold,
        request_cases_hold_in_wrangler_dev,
        request_cases_hold_in_bare_workerd,
    ];

    /// Starts the corpus workers.
    pub fn start() -> Result<Corpus, String> {
        let provider = TestProvider::start()?;
        // The shared tests' issuers A, B and C, with the same key sets.
        provider.add_env_document("env-a", &support::issuer_a_jwks());
        provider.add_env("env-b", &["b-rsa"]);
        provider.add_env("env-c", &["b-rsa"]);
        let mut trust: Value =
            toml::from_str::<Value>(include_str!("../../shared/tests/data/trust.toml"))
                .map_err(|e| e.to_string())?;
        for (constant, env) in [
            (support::ISSUER_A, "env-a"),
            (support::ISSUER_B, "env-b"),
            (support::ISSUER_C, "env-c"),
        ] {
            for issuer in trust["issuers"].as_array_mut().into_iter().flatten() {
                if issuer["issuer"] == constant {
                    issuer["issuer"] = json!(provider.issuer(env));
                }
            }
        }
        let origin = EchoOrigin::start()?;
        let config = json!({ "trust": trust, "origin": origin.url(), "request_log": "off" });
        let worker = Wrangler::start("edge-corpus", &config, &json!({}))?;
        // The same worker in bare workerd: wrangler's proxy answers methods it does not know
        // (MOVE, PURGE, ...) itself, Cloudflare's edge and workerd hand them to the worker.
        let main = cedargate_tests::wrangler::worker_main()?;
        let wasm = main.with_file_name("index_bg.wasm");
        let bare = cedargate_tests::workerd::Workerd::start(
            "edge-corpus-bare",
            &[
                cedargate_tests::workerd::Module::Es("index.js".into(), main),
                cedargate_tests::workerd::Module::Wasm("index_bg.wasm".into(), wasm),
            ],
            &[cedargate_tests::workerd::Binding::Json(
                "CEDARGATE_CONFIG".into(),
                config,
            )],
        )?;
        let env = CaseEnv {
            now: cedargate::UnixTime(now()),
            issuers: [
                provider.issuer("env-a"),
                provider.issuer("env-b"),
                provider.issuer("env-c"),
            ],
        };
        Ok(Corpus {
            provider,
            _origin: origin,
            worker,
            bare,
            env,
        })
    }

    /// Every token case of the shared core's table holds at the edge.
    fn token_cases_hold(s: &Corpus) -> Result<(), String> {
        let Corpus { worker, env, .. } = s;
        let mut failures = Vec::new();
        let table = cases::table();
        for case in &table.case {
            let token = record(cases::build(case, env));
            let reply = http::raw(
                worker.port,
                "GET",
                "/pets",
                &[("authorization", &format!("Bearer {token}"))],
                b"",
            )?;
            let expected = case
                .edge_expect
                .clone()
                .unwrap_or_else(|| case.expect.clone());
            let got = match reply.status {
                401 => reply.json()["reason"]
                    .as_str()
                    .unwrap_or("401 without reason")
                    .to_owned(),
                200 | 403 => "ok".to_owned(),
                other => format!("status {other}"),
            };
            if got != expected {
                let claims: serde_json::Map<String, Value> = token
                    .split('.')
                    .nth(1)
                    .and_then(|p| {
                        use base64ct::Encoding as _;
                        base64ct::Base64UrlUnpadded::decode_vec(p).ok()
                    })
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or_default();
                failures.push(format!(
                    "{}: expected {expected}, got {got} ({}; iss {} exp {} nbf {} now {})",
                    case.name,
                    reply.status,
                    claims.get("iss").cloned().unwrap_or_default(),
                    claims.get("exp").cloned().unwrap_or_default(),
                    claims.get("nbf").cloned().unwrap_or_default(),
                    now()
                ));
            }
        }
        ensure(failures.is_empty(), || {
            format!(
                "{} of {} cases:\n{}",
                failures.len(),
                table.case.len(),
                failures.join("\n")
            )
        })
    }

    /// Every request case of the shared core's table holds at the edge (wrangler dev).
    fn request_cases_hold_in_wrangler_dev(s: &Corpus) -> Result<(), String> {
        request_cases_hold(s, "wrangler dev", s.worker.port)
    }

    /// Every request case of the shared core's table holds at the edge (bare workerd).
    fn request_cases_hold_in_bare_workerd(s: &Corpus) -> Result<(), String> {
        request_cases_hold(s, "bare workerd", s.bare.port)
    }

    /// Every request case of the shared core's table holds at the edge: the worker run by
    /// `runner` on `port`.
    fn request_cases_hold(s: &Corpus, runner: &str, port: u16) -> Result<(), String> {
        let Corpus { provider, .. } = s;
        let table = support::requests::table();
        let issuer = provider.issuer("env-a");
        let mut failures = Vec::new();
        for case in &table.case {
            let expected = match runner {
                "wrangler dev" => case.wrangler.unwrap_or(case.edge),
                _ => case.edge,
            };
            let group = if case.user == "admin" {
                "AVP_Admin"
            } else {
                "AVP_User"
            };
            let mut claims = support::id_claims(&case.user, &[group], cedargate::UnixTime(now()));
            claims["iss"] = json!(issuer);
            let token = record(support::mint(&claims, "a-rsa-1", "JWT"));
            let bearer = format!("Bearer {token}");
            let mut headers: Vec<(&str, &str)> = vec![("authorization", bearer.as_str())];
            headers.extend(case.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let path = support::requests::expand(&case.path);
            let reply = http::raw(port, &case.method, &path, &headers, b"")?;
            if reply.status != expected {
                failures.push(format!(
                    "{}: expected {expected}, got {} {}",
                    case.name,
                    reply.status,
                    reply.text()
                ));
                continue;
            }
            if reply.status == 405 && reply.header("allow").is_none() {
                failures.push(format!("{}: 405 without Allow", case.name));
            }
            if reply.status == 200 {
                let seen = reply.json();
                if let Some(p) = &case.origin_path
                    && seen["path"].as_str() != Some(p.as_str())
                {
                    failures.push(format!("{}: origin saw path {}", case.name, seen["path"]));
                }
                if let Some(q) = &case.origin_query
                    && seen["query"].as_str() != Some(q.as_str())
                {
                    failures.push(format!("{}: origin saw query {}", case.name, seen["query"]));
                }
                if let Some(m) = &case.origin_method
                    && seen["method"].as_str() != Some(m.as_str())
                {
                    failures.push(format!(
                        "{}: origin saw method {}",
                        case.name, seen["method"]
                    ));
                }
                let headers = seen["headers"].as_object().cloned().unwrap_or_default();
                for (name, value) in &headers {
                    let spoofed = case.headers.iter().any(|(k, v)| {
                        k.eq_ignore_ascii_case(name)
                            && v.as_str() == value.as_str().unwrap_or_default()
                    });
                    if spoofed && (name.starts_with("x-cedargate-") || name.contains("method")) {
                        failures.push(format!(
                            "{}: origin received client header {name}",
                            case.name
                        ));
                    }
                }
                if headers.get("x-cedargate-subject").and_then(|v| v.as_str())
                    != Some(case.user.as_str())
                {
                    failures.push(format!(
                        "{}: origin saw subject {:?}",
                        case.name,
                        headers.get("x-cedargate-subject")
                    ));
                }
            }
        }
        ensure(failures.is_empty(), || {
            format!(
                "{} of {} cases:\n{}",
                failures.len(),
                table.case.len(),
                failures.join("\n")
            )
        })
    }
}

/// Issue 11: a provider that hangs once keys are stale, redirects, oversize key sets.
mod key_hardening {
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
        ]
        .iter()
        .map(|e| provider.issuer(e))
        .collect();
        let pairs: Vec<(&str, &str)> = issuers.iter().map(|i| (i.as_str(), "")).collect();
        let config = json!({
            "trust": trust(&pairs),
            "origin": "none",
            "token_cache_entries": 0,
            "keys": {
                "min_ttl_seconds": 1, "default_ttl_seconds": 1, "max_ttl_seconds": 1,
                "max_stale_seconds": 6, "fetch_timeout_ms": 3000, "unknown_kid_refetch_seconds": 1
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
        let warmed = Instant::now();
        same(
            call(worker, "POST", "/pets", Some(&admin()))?.status,
            204,
            "warm",
        )?;
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
                ensure(took < Duration::from_secs(1), || {
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
        if let Some(rest) = Duration::from_millis(7500).checked_sub(warmed.elapsed()) {
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
        ensure(took < Duration::from_secs(1), || {
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
}

/// Issue 11: the key cache bound to the worker's configuration. Key sets in a Cache API
/// shared with other code (a planter worker of the same name, as a previous deployment or
/// another script would be) and with another configuration.
mod cache_binding {
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
        let provider = TestProvider::start()?;
        provider.add_env("env-plant", &["a-rsa-1"]);
        let issuer = provider.issuer("env-plant");
        let planter = cedargate_tests::root().join("tests/workerd/cache-planter.mjs");
        let worker =
            Wrangler::start_in(&dir, "edge-cache", &json!({}), &json!({ "main": planter }))?;
        let entry = json!({
            "key": old_style_cache_key(&issuer),
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
        let config = json!({
            "trust": trust(&[(&issuer, "")]),
            "origin": "none",
        });
        Ok(CacheBinding {
            dir,
            provider,
            config,
            issuer,
        })
    }

    /// A key set planted in the Cache API is not trusted; another configuration's is not
    /// taken.
    fn planted_key_set_not_trusted_nor_another_configurations(
        s: &CacheBinding,
    ) -> Result<(), String> {
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
}

/// Project Wycheproof through workerd's own WebCrypto (BoringSSL, what production uses),
/// with the edge's key import: the families and rules of `shared/tests/wycheproof.rs`.
mod webcrypto {
    use super::*;
    use cedargate_tests::support::wycheproof;
    use cedargate_tests::workerd::{Module, Workerd};

    pub const CHECKS: &[Check<Workerd>] = checks![wycheproof_vectors_hold];

    /// Starts the WebCrypto worker in workerd.
    pub fn start() -> Result<Workerd, String> {
        let script = cedargate_tests::root().join("tests/workerd/wycheproof.mjs");
        Workerd::start(
            "wycheproof",
            &[Module::Es("wycheproof.mjs".into(), script)],
            &[],
        )
    }

    /// Wycheproof vectors hold with workerd's WebCrypto.
    fn wycheproof_vectors_hold(worker: &Workerd) -> Result<(), String> {
        let mut failures = Vec::new();
        let mut counts = std::collections::BTreeMap::<&str, [usize; 4]>::new();
        for group in wycheproof::groups() {
            let count = counts.entry(group.family).or_default();
            // The edge imports the key as its key set holds it.
            let set = cedargate::KeySet::from_json(&json!({ "keys": [group.jwk] }).to_string());
            let key = match &set {
                Ok(set) => set.keys()[0].public_jwk().clone(),
                Err(err) => {
                    for (id, _, _, result, _) in &group.tests {
                        if *result == wycheproof::TestResult::Valid {
                            failures.push(format!(
                                "{} #{id}: key refused ({err}) but the vector is valid",
                                group.family
                            ));
                        }
                    }
                    continue;
                }
            };
            let vectors: Vec<Value> = group
                .tests
                .iter()
                .map(|(_, msg, sig, _, _)| json!([b64(msg), b64(sig)]))
                .collect();
            let batch = json!({ "alg": group.algorithm.name(), "jwk": key, "vectors": vectors });
            let reply = http::send(
                "POST",
                &worker.url("/"),
                &[("content-type", "application/json")],
                Some(batch.to_string().as_bytes()),
            )?;
            same(reply.status, 200, "verify batch")?;
            let answer = reply.json();
            if let Some(err) = answer["import_error"].as_str() {
                for (id, _, _, result, _) in &group.tests {
                    if *result == wycheproof::TestResult::Valid {
                        failures.push(format!(
                            "{} #{id}: workerd refused the key ({err}) but the vector is valid",
                            group.family
                        ));
                    }
                }
                continue;
            }
            let results = answer["results"].as_array().cloned().unwrap_or_default();
            same(results.len(), group.tests.len(), "one result per vector")?;
            for ((id, _, sig, result, comment), verdict) in group.tests.iter().zip(&results) {
                // The backend's length check comes first (`SignatureCheck::precheck`).
                let accepted = sig.len() == group.signature_len && verdict == "valid";
                let expected = *result == wycheproof::TestResult::Valid;
                count[match result {
                    wycheproof::TestResult::Valid => 0,
                    wycheproof::TestResult::Invalid => 1,
                    wycheproof::TestResult::Acceptable => 2,
                }] += 1;
                if sig.len() == group.signature_len {
                    count[3] += 1;
                }
                if accepted != expected {
                    failures.push(format!(
                        "{} #{id} ({result:?}, {comment}): workerd says {verdict}",
                        group.family
                    ));
                }
            }
        }
        for (family, [valid, invalid, acceptable, by_workerd]) in &counts {
            println!(
                "    workerd {family}: {valid} valid, {invalid} invalid, {acceptable} acceptable (refused); {by_workerd} decided by crypto.subtle.verify"
            );
            ensure(*valid > 0 && *invalid > 0 && *by_workerd > *valid, || {
                format!("{family}: too few vectors reached workerd")
            })?;
        }
        // Every algorithm the core verifies reached workerd.
        let algorithms: std::collections::BTreeSet<&str> = wycheproof::groups()
            .iter()
            .map(|g| g.algorithm.name())
            .collect();
        same(
            algorithms.len(),
            cedargate::Algorithm::ALL.len(),
            "algorithms with vectors",
        )?;
        ensure(failures.is_empty(), || {
            format!(
                "{} vectors disagree:\n{}",
                failures.len(),
                failures.join("\n")
            )
        })
    }
}

/// The access-token reference bundle (`policies/petstore-access`, compiled into the worker
/// in `target/edge-access` by `cargo xtask build-edge`'s stage of the test command): people
/// with access tokens whose groups come in a custom `groups` claim, scopes per operation, a
/// PingOne permission to create pets, and the `inventory` service with client credentials.
mod access_bundle {
    use super::*;
    use cedargate_tests::pingone::{LocalProvider, SERVICE_ID};

    pub struct Access {
        provider: LocalProvider,
        _origin: EchoOrigin,
        w: Wrangler,
        issuer: String,
    }

    pub const CHECKS: &[Check<Access>] = checks![
        services_and_people_decided_by_scope_permission_and_caller,
        tokens_of_the_wrong_kind_or_caller_refused,
        a_service_token_of_the_local_provider_reads_and_cannot_write,
        the_public_route_takes_requests_without_a_token_and_nothing_else_does,
    ];

    pub fn start() -> Result<Access, String> {
        let main = cedargate_tests::root().join("target/edge-access/index.js");
        ensure(main.is_file(), || {
            format!(
                "{} is missing: `cargo xtask test` builds it in its edge-build stage",
                main.display()
            )
        })?;
        // The PingOne-shaped provider of the demo: it signs with the test key `a-rsa-1`, so
        // the tokens minted here verify too.
        let provider = LocalProvider::start("env-access", API)?;
        let issuer = provider.issuer().to_owned();
        let origin = EchoOrigin::start()?;
        let entry = |caller: &str, groups: Value| {
            json!({ "issuer": issuer, "token": "access", "caller": caller, "audiences": [API],
                    "token_type": "at+jwt", "group_claim": groups })
        };
        let config = json!({
            "trust": { "issuers": [entry("user", json!("groups")), entry("client", Value::Null)] },
            "origin": origin.url(),
        });
        let w = Wrangler::start("edge-access", &config, &json!({ "main": main }))?;
        Ok(Access {
            provider,
            _origin: origin,
            w,
            issuer,
        })
    }

    use super::access_token as token;

    fn person(
        issuer: &str,
        sub: &str,
        groups: &[&str],
        scope: &str,
        permissions: &[&str],
    ) -> String {
        token(
            issuer,
            json!({ "sub": sub, "client_id": "petstore-spa", "groups": groups, "scope": scope,
                    "p1.permissions": permissions }),
        )
    }

    /// A client-credentials token as PingOne issues it: no `sub`.
    fn service(issuer: &str, client_id: &str, scope: &str) -> String {
        token(issuer, json!({ "client_id": client_id, "scope": scope }))
    }

    fn services_and_people_decided_by_scope_permission_and_caller(
        s: &Access,
    ) -> Result<(), String> {
        let Access { w, issuer, .. } = s;
        let all = "pets:read pets:write";
        let inventory = service(issuer, "inventory", "pets:read");
        let admin = person(issuer, "alice", &["AVP_Admin"], all, &["pets:create"]);
        let admin_reader = person(
            issuer,
            "alice",
            &["AVP_Admin"],
            "pets:read",
            &["pets:create"],
        );
        let user = person(issuer, "bob", &["AVP_User"], all, &["pets:create"]);
        let billing = service(issuer, "billing", all);
        let table: [(&str, &str, &str, &str, u16); 11] = [
            ("inventory", &inventory, "GET", "/pets", 200),
            ("inventory", &inventory, "GET", "/pets/7", 200),
            ("inventory", &inventory, "POST", "/pets", 403),
            ("inventory", &inventory, "GET", "/", 403),
            ("admin", &admin, "POST", "/pets", 200),
            (
                "admin without pets:write",
                &admin_reader,
                "POST",
                "/pets",
                403,
            ),
            (
                "admin without pets:write",
                &admin_reader,
                "GET",
                "/pets",
                200,
            ),
            ("user", &user, "GET", "/pets/7", 200),
            ("user", &user, "POST", "/pets", 403),
            ("another service", &billing, "GET", "/pets", 403),
            ("another service", &billing, "GET", "/pets/7", 403),
        ];
        for (who, token, method, path, status) in table {
            let reply = call(w, method, path, Some(token))?;
            same(reply.status, status, &format!("{who} {method} {path}"))?;
        }
        // A deny only a missing scope causes names the scope to ask for (RFC 6750 3.1); a
        // deny the scopes would not lift names none.
        let reply = call(w, "POST", "/pets", Some(&admin_reader))?;
        same(
            reply.header("www-authenticate"),
            Some("Bearer realm=\"cedargate\", error=\"insufficient_scope\", scope=\"pets:write\""),
            "the challenge for a missing scope",
        )?;
        same(
            reply.json()["type"].as_str(),
            Some("urn:cedargate:problem:insufficient-scope"),
            "problem type",
        )?;
        let reply = call(w, "POST", "/pets", Some(&user))?;
        same(
            reply.header("www-authenticate"),
            None,
            "a user no scope helps",
        )?;
        // What the origin is told of a service and of a person through a client.
        let seen = call(w, "GET", "/pets", Some(&inventory))?.json();
        same(
            seen["headers"]["x-cedargate-principal"].as_str(),
            Some("inventory"),
            "principal of the service",
        )?;
        same(
            seen["headers"]["x-cedargate-client"].as_str(),
            Some("inventory"),
            "client of the service",
        )?;
        same(
            seen["headers"]["x-cedargate-policies"].as_str(),
            Some("client-inventory-listed-actions"),
            "policies for the service",
        )?;
        let seen = call(w, "POST", "/pets", Some(&admin))?.json();
        same(
            seen["headers"]["x-cedargate-subject"].as_str(),
            Some("alice"),
            "subject of the person",
        )?;
        same(
            seen["headers"]["x-cedargate-client"].as_str(),
            Some("petstore-spa"),
            "client the person came through",
        )?;
        same(
            seen["headers"]["x-cedargate-groups"].as_str(),
            Some("AVP_Admin"),
            "groups from the custom claim",
        )?;
        // The log line names the client too (wrangler writes it out a moment later).
        poll("a log line naming alice's client", || {
            Ok(w.logs().lines().any(|l| {
                l.contains("\"subject\":\"alice\"") && l.contains("\"client\":\"petstore-spa\"")
            }))
        })
    }

    /// What a service runs: a client-credentials token from the provider's token endpoint
    /// (which grants the service `pets:read` only, whatever it asks), then the API.
    fn a_service_token_of_the_local_provider_reads_and_cannot_write(
        s: &Access,
    ) -> Result<(), String> {
        let Access { w, provider, .. } = s;
        let token = record(provider.client_credentials("pets:read pets:write")?);
        let reply = call(w, "GET", "/pets/7", Some(&token))?;
        same(reply.status, 200, "the service reads")?;
        same(
            reply.json()["headers"]["x-cedargate-client"].as_str(),
            Some(SERVICE_ID),
            "the service's client header",
        )?;
        same(
            call(w, "POST", "/pets", Some(&token))?.status,
            403,
            "the service writes",
        )
    }

    fn tokens_of_the_wrong_kind_or_caller_refused(s: &Access) -> Result<(), String> {
        let Access { w, issuer, .. } = s;
        // An ID token, whatever its groups: this API takes access tokens only.
        let id = id_token(issuer, "alice", &["AVP_Admin"], "a-rsa-1");
        let reply = call(w, "GET", "/pets", Some(&id))?;
        same(reply.status, 401, "an ID token")?;
        // A `sub` that is neither a person's nor the client's own.
        let odd = token(
            issuer,
            json!({ "sub": 7, "client_id": "inventory", "scope": "pets:read" }),
        );
        let reply = call(w, "GET", "/pets", Some(&odd))?;
        same(reply.status, 401, "a numeric sub")?;
        ensure(reply.text().contains("caller_not_accepted"), || {
            format!("reason of a numeric sub: {}", reply.text())
        })?;
        // No token at all: refused as on every route that is not public.
        same(call(w, "GET", "/pets", None)?.status, 401, "no token")
    }

    /// `get /health` is public (`security: []`): without a token it is decided for the
    /// anonymous principal and forwarded; every other request without one is refused exactly
    /// as before, and a token that is present is checked on the public route too.
    fn the_public_route_takes_requests_without_a_token_and_nothing_else_does(
        s: &Access,
    ) -> Result<(), String> {
        let Access { w, issuer, .. } = s;
        let reply = call(w, "GET", "/health", None)?;
        same(reply.status, 200, "GET /health without a token")?;
        let seen = reply.json();
        let headers = &seen["headers"];
        same(
            headers["x-cedargate-anonymous"].as_str(),
            Some("true"),
            "anonymous header",
        )?;
        same(
            headers["x-cedargate-action"].as_str(),
            Some("get%20/health"),
            "action",
        )?;
        same(
            headers["x-cedargate-policies"].as_str(),
            Some("public-get-health"),
            "policy",
        )?;
        for name in [
            "x-cedargate-subject",
            "x-cedargate-principal",
            "x-cedargate-issuer",
        ] {
            ensure(headers.get(name).is_none(), || {
                format!("{name} sent for an anonymous call")
            })?;
        }
        // A client cannot claim to be anonymous, or anyone else, with its own headers.
        let spoofed = http::send(
            "GET",
            &w.url("/health"),
            &[
                ("x-cedargate-subject", "alice"),
                ("x-cedargate-anonymous", "false"),
            ],
            None,
        )?
        .json();
        same(
            spoofed["headers"]["x-cedargate-anonymous"].as_str(),
            Some("true"),
            "spoofed",
        )?;
        ensure(
            spoofed["headers"].get("x-cedargate-subject").is_none(),
            || "spoofed subject forwarded".to_owned(),
        )?;

        // Without a token, the other routes, methods and paths answer the missing-token 401,
        // the same body as before public routes existed. (`/%2e%2e/health` is not among them:
        // the URL parser makes it `/health` before the worker runs.)
        let missing = call(w, "GET", "/pets", None)?;
        same(missing.status, 401, "GET /pets without a token")?;
        for (method, path) in [
            ("POST", "/health"),
            ("GET", "/health/x"),
            ("GET", "/nowhere"),
            ("GET", "/health;x"),
            ("GET", "/"),
        ] {
            let reply = call(w, method, path, None)?;
            same(
                reply.status,
                401,
                &format!("{method} {path} without a token"),
            )?;
            same(
                reply.json()["code"].clone(),
                missing.json()["code"].clone(),
                &format!("{method} {path}: problem code"),
            )?;
        }
        // A token that is there is verified, public route or not.
        let reply = call(w, "GET", "/health", Some("not-a-token"))?;
        same(reply.status, 401, "a malformed token on the public route")?;
        let expired = token(
            issuer,
            json!({ "sub": "alice", "client_id": "petstore-spa", "exp": now() - 3600 }),
        );
        same(
            call(w, "GET", "/health", Some(&expired))?.status,
            401,
            "an expired token on the public route",
        )?;
        // With a good token the caller is who the token says.
        let bob = person(issuer, "bob", &["AVP_User"], "", &[]);
        let seen = call(w, "GET", "/health", Some(&bob))?.json();
        same(
            seen["headers"]["x-cedargate-subject"].as_str(),
            Some("bob"),
            "subject on the public route",
        )?;
        ensure(
            seen["headers"].get("x-cedargate-anonymous").is_none(),
            || "a user called anonymous".to_owned(),
        )?;
        poll("a log line of the anonymous call", || {
            Ok(w.logs().lines().any(|l| {
                l.contains("\"action\":\"get /health\"") && l.contains("\"anonymous\":true")
            }))
        })
    }
}

/// The signed identity assertion: the worker signs every forwarded request with the key of a
/// Worker secret and publishes its keys; the origin verifies with the shared core's
/// `AssertionVerifier` (what the identity-assertion guide tells origins to run).
mod assertion {
    use super::*;
    use cedargate::UnixTime;
    use cedargate::assertion::{
        ASSERTION_LEEWAY_SECONDS, AssertionError, AssertionSigningKey, AssertionVerifier,
        JWKS_PATH, ReplayGuard,
    };

    const EDGE: &str = "https://edge.petstore.test";
    const ORIGIN: &str = "https://origin.petstore.test";

    pub struct Signed {
        _provider: TestProvider,
        _origin: EchoOrigin,
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
        let provider = TestProvider::start()?;
        provider.add_env("env-assert", &["a-rsa-1"]);
        let issuer = provider.issuer("env-assert");
        let origin = EchoOrigin::start()?;
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
        let config = json!({
            "trust": trust(&[(&issuer, "")]),
            "origin": origin.url(),
            "assertion": { "issuer": EDGE, "audience": ORIGIN, "ttl_seconds": 30,
                           "previous_key_secret": "CEDARGATE_ASSERTION_KEY_PREVIOUS" },
        });
        let vars = json!({ "vars": {
            "CEDARGATE_CONFIG": config,
            "CEDARGATE_ASSERTION_KEY": current.to_base64url(),
            "CEDARGATE_ASSERTION_KEY_PREVIOUS": previous.to_base64url(),
        } });
        let w = Wrangler::start("edge-assertion", &config, &vars)?;
        let unkeyed = Wrangler::start("edge-assertion-unkeyed", &config, &json!({}))?;
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
        let reply = http::send("GET", &w.url(JWKS_PATH), &[], None)?;
        same(reply.status, 200, "the key set, without a token")?;
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
}

/// The emergency deny list in KV: token ids and session ids refused within the refresh time,
/// cached tokens included; an unusable list keeps the last one; none at all is a 503.
mod deny_list {
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
        let provider = TestProvider::start()?;
        provider.add_env("env-deny", &["a-rsa-1"]);
        let issuer = provider.issuer("env-deny");
        let config = |binding: &str| {
            json!({
                "trust": trust(&[(&issuer, "")]),
                "origin": "none",
                "deny_list": { "binding": binding, "refresh_seconds": 1 },
            })
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
}

/// Decisions that see the request: the context bundle (`policies/petstore-context`) from KV,
/// the client's address from `CF-Connecting-IP` (which the harness sends, as Cloudflare
/// would), its country from `request.cf` (a `cf.json` the harness writes), a tenant header,
/// the token's `amr`, `acr` and `auth_time`, and RFC 9470 step-up.
mod request_context {
    use super::*;

    pub struct Context {
        _provider: TestProvider,
        issuer: String,
        /// Allows everything the bundle declares.
        w: Wrangler,
        /// Leaves `ip` out of its allow-list.
        narrow: Wrangler,
        /// Allows everything, with a `request.cf` that did not come through Cloudflare's
        /// front (no `colo`).
        off_front: Wrangler,
        version: String,
    }

    pub const CHECKS: &[Check<Context>] = checks![
        request_values_reach_the_policies_and_are_never_cached,
        step_up_answers_rfc_9470_and_a_recent_mfa_sign_in_passes,
        a_bundle_declaring_values_the_worker_does_not_fill_is_refused,
    ];

    const OFFICE_IP: &str = "203.0.113.7";

    fn start_worker(name: &str, config: &Value, document: &str) -> Result<Wrangler, String> {
        let cf = json!({ "country": "CH", "colo": "ZRH" });
        start_with_kv_and_cf(name, "cedargate-e2e-context", config, document, Some(&cf))
    }

    pub fn start() -> Result<Context, String> {
        let provider = TestProvider::start()?;
        provider.add_env("env-ctx", &["a-rsa-1"]);
        let issuer = provider.issuer("env-ctx");
        let source = cedargate::examples::petstore_context_source();
        let version = cedargate::Bundle::load(&source)
            .map(|b| b.version().to_string())
            .map_err(|e| e.to_string())?;
        let document = serde_json::to_string(&cedargate::BundleDocument::new(source, 1))
            .map_err(|e| e.to_string())?;
        let config = |ip: bool| {
            json!({
                "trust": trust(&[(&issuer, "")]),
                "origin": "none",
                "bundle_kv": { "binding": "CEDARGATE_BUNDLES", "refresh_seconds": 1 },
                "context": {
                    "time": true, "ip": ip, "country": true,
                    "headers": ["x-tenant"], "token": ["acr", "amr", "auth_time"],
                },
            })
        };
        let w = start_worker("edge-context", &config(true), &document)?;
        let narrow = start_worker("edge-context-narrow", &config(false), &document)?;
        let off_front = start_with_kv_and_cf(
            "edge-context-off-front",
            "cedargate-e2e-context",
            &config(true),
            &document,
            Some(&json!({ "country": "CH" })),
        )?;
        let s = Context {
            _provider: provider,
            issuer,
            w,
            narrow,
            off_front,
            version,
        };
        // The bundle in KV takes over after the first refresh.
        let probe = s.token(&["AVP_User"], json!({}));
        poll("the context bundle in force", || {
            let reply = call(&s.w, "GET", "/pets", Some(&probe))?;
            Ok(reply.header("x-cedargate-bundle-version") == Some(s.version.as_str()))
        })?;
        Ok(s)
    }

    impl Context {
        fn token(&self, groups: &[&str], extra: Value) -> String {
            let t = now();
            let mut claims = json!({
                "iss": self.issuer, "aud": CLIENT, "sub": "alice", "group": groups,
                "iat": t - 5, "exp": t + 600,
                "jti": format!("ctx-{}", SERIAL.fetch_add(1, Ordering::Relaxed)),
            });
            for (k, v) in extra.as_object().into_iter().flatten() {
                claims[k] = v.clone();
            }
            record(support::mint(&claims, "a-rsa-1", "JWT"))
        }
    }

    fn get(w: &Wrangler, token: &str, headers: &[(&str, &str)]) -> Result<u16, String> {
        let auth = bearer(token);
        let mut all = vec![("authorization", auth.as_str())];
        all.extend_from_slice(headers);
        Ok(http::send("GET", &w.url("/pets"), &all, None)?.status)
    }

    fn request_values_reach_the_policies_and_are_never_cached(s: &Context) -> Result<(), String> {
        let user = s.token(&["AVP_User"], json!({}));
        let office = [("cf-connecting-ip", OFFICE_IP), ("x-tenant", "blue")];
        same(
            get(&s.w, &user, &office)?,
            204,
            "from the office, blue tenant",
        )?;
        // The same token and target with other values: decided again each time.
        let elsewhere = [("cf-connecting-ip", "198.51.100.7"), ("x-tenant", "blue")];
        same(get(&s.w, &user, &elsewhere)?, 403, "another network")?;
        same(get(&s.w, &user, &office)?, 204, "the office again")?;
        same(
            get(
                &s.w,
                &user,
                &[("cf-connecting-ip", OFFICE_IP), ("x-tenant", "red")],
            )?,
            403,
            "another tenant",
        )?;
        same(
            get(&s.w, &user, &[("cf-connecting-ip", OFFICE_IP)])?,
            403,
            "no tenant header",
        )?;
        same(
            get(&s.w, &user, &[("x-tenant", "blue")])?,
            403,
            "no address",
        )?;
        // Outside Cloudflare's front the caller sets CF-Connecting-IP: it is no address.
        same(
            get(&s.off_front, &user, &office)?,
            403,
            "an office address, not through the front",
        )?;
        same(
            get(&s.off_front, &user, &[("x-tenant", "blue")])?,
            403,
            "no address, not through the front",
        )?;
        let pwd = s.token(&["AVP_User"], json!({ "amr": ["pwd"] }));
        same(
            call(&s.off_front, "GET", "/pets/7", Some(&pwd))?.status,
            204,
            "what needs no address, not through the front",
        )?;
        same(
            get(
                &s.w,
                &user,
                &[("cf-connecting-ip", "not an address"), ("x-tenant", "blue")],
            )?,
            403,
            "an address that does not parse",
        )?;
        // The token's amr: one pet may be read after a password sign-in.
        let pwd = s.token(&["AVP_User"], json!({ "amr": ["pwd"] }));
        same(
            call(&s.w, "GET", "/pets/7", Some(&pwd))?.status,
            204,
            "amr pwd",
        )?;
        let otp = s.token(&["AVP_User"], json!({ "amr": ["otp"] }));
        same(
            call(&s.w, "GET", "/pets/7", Some(&otp))?.status,
            403,
            "amr otp",
        )?;
        // What the log says: the decisions of context actions are not cached.
        let lines = s.w.log_lines();
        let cached = lines
            .iter()
            .filter(|l| l["action"] == "get /pets" && l["decision_cache"] == "hit")
            .count();
        same(cached, 0, "cache hits for get /pets")
    }

    fn step_up_answers_rfc_9470_and_a_recent_mfa_sign_in_passes(s: &Context) -> Result<(), String> {
        let t = now();
        let weak = s.token(
            &["AVP_Admin"],
            json!({ "acr": "urn:cedargate:pwd", "auth_time": t - 30 }),
        );
        let reply = call(&s.w, "DELETE", "/pets/7", Some(&weak))?;
        same(reply.status, 401, "a password sign-in")?;
        let challenge = reply
            .header("www-authenticate")
            .unwrap_or_default()
            .to_owned();
        for part in [
            "error=\"insufficient_user_authentication\"",
            "acr_values=\"urn:cedargate:mfa\"",
            "max_age=\"600\"",
        ] {
            ensure(challenge.contains(part), || {
                format!("{part} in {challenge}")
            })?;
        }
        let body = reply.json();
        same(
            body["type"].as_str(),
            Some("urn:cedargate:problem:insufficient-user-authentication"),
            "type",
        )?;
        same(
            body["step_up"]["acr_values"].clone(),
            json!(["urn:cedargate:mfa"]),
            "body acr_values",
        )?;
        same(
            body["step_up"]["max_age"].as_u64(),
            Some(600),
            "body max_age",
        )?;

        // The answer to deleting with a token of `groups` that signed in with `acr` at `at`.
        let delete = |groups: &[&str], acr: &str, at: i64| -> Result<u16, String> {
            let token = s.token(groups, json!({ "acr": acr, "auth_time": at }));
            Ok(call(&s.w, "DELETE", "/pets/7", Some(&token))?.status)
        };
        let mfa = "urn:cedargate:mfa";
        same(
            delete(&["AVP_Admin"], mfa, t - 30)?,
            204,
            "a recent mfa sign-in",
        )?;
        same(
            delete(&["AVP_Admin"], mfa, t - 3600)?,
            401,
            "an mfa sign-in an hour ago",
        )?;
        // No sign-in helps a user no policy lets delete: a plain 403, without a challenge.
        let user = s.token(&["AVP_User"], json!({ "acr": mfa, "auth_time": t }));
        let reply = call(&s.w, "DELETE", "/pets/7", Some(&user))?;
        same(reply.status, 403, "a user")?;
        ensure(reply.header("www-authenticate").is_none(), || {
            "no challenge on a 403".into()
        })
    }

    fn a_bundle_declaring_values_the_worker_does_not_fill_is_refused(
        s: &Context,
    ) -> Result<(), String> {
        let user = s.token(&["AVP_User"], json!({}));
        poll("the refusal logged", || {
            let _ = call(&s.narrow, "GET", "/pets", Some(&user))?;
            Ok(s.narrow
                .log_lines()
                .iter()
                .any(|l| l["event"] == "bundle_rejected"))
        })?;
        let reply = call(&s.narrow, "GET", "/pets", Some(&user))?;
        ensure(
            reply.header("x-cedargate-bundle-version") != Some(s.version.as_str()),
            || "the context bundle must not be in force".into(),
        )?;
        let lines = s.narrow.log_lines();
        let rejected = lines
            .iter()
            .find(|l| l["event"] == "bundle_rejected")
            .ok_or("no bundle_rejected event")?;
        ensure(
            rejected["error"]
                .as_str()
                .unwrap_or_default()
                .contains("context.request.ip"),
            || rejected.to_string(),
        )
    }
}

/// RFC 7662 introspection: allow, revoke at the provider, refused within the cache time; only
/// the chosen actions asked about; no answer is a 503; no secret, no worker.
mod introspection {
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
        let provider = TestProvider::start()?;
        provider.add_env(ENV, &["a-rsa-1"]);
        let issuer = provider.issuer(ENV);
        let config = json!({
            "trust": trust(&[(&issuer, "")]),
            "origin": "none",
            "bundle_endpoint": true,
            "introspection": [{
                "issuer": issuer,
                "endpoint": format!("{issuer}/introspect"),
                "client_id": INTROSPECTION_CLIENT.0,
                "actions": ["get /pets", "post /pets"],
                "cache_seconds": 1,
                "timeout_ms": 1000,
            }],
        });
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
    fn an_action_no_route_has_makes_the_worker_refuse_to_run(
        s: &Introspecting,
    ) -> Result<(), String> {
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
}

/// The AuthZEN 1.0 endpoints (`target/edge-authzen`: the interop Todo bundle
/// `policies/authzen-todo` with its entity data and type mapping compiled in): the OpenID
/// interop decision files asked over HTTP, who may ask, metadata, errors.
mod authzen {
    use super::*;
    use cedargate::authzen::interop::{self, Endpoint};
    use cedargate_tests::pingone::LocalProvider;

    const BASE_URL: &str = "https://todo-pdp.e2e.test";
    /// A decision file: its name, its text, the adapter it needs and how many cases it has.
    type DecisionFile = (
        &'static str,
        &'static str,
        Option<fn(&Value) -> Value>,
        usize,
    );
    const RICK: &str = "CiRmZDA2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs";

    pub struct Pdp {
        _provider: LocalProvider,
        _origin: EchoOrigin,
        w: Wrangler,
        issuer: String,
    }

    pub const CHECKS: &[Check<Pdp>] = checks![
        the_interop_decision_files_hold_at_the_edge,
        the_gateway_decisions_are_enforced_on_the_todo_api,
        the_bundle_endpoint_tells_each_person_their_own_data,
        only_services_with_the_evaluate_scope_may_ask,
        the_metadata_is_public_and_names_the_endpoints,
        bad_questions_are_400_with_a_reason_and_request_ids_are_echoed,
        // Last: it changes the bundle in force.
        a_newer_bundle_from_kv_brings_its_entity_data_to_routes_and_questions,
    ];

    pub fn start() -> Result<Pdp, String> {
        let main = cedargate_tests::root().join("target/edge-authzen/index.js");
        ensure(main.is_file(), || {
            format!(
                "{} is missing: `cargo xtask test` builds it in its edge-build stage",
                main.display()
            )
        })?;
        let provider = LocalProvider::start("env-authzen", API)?;
        let issuer = provider.issuer().to_owned();
        let origin = EchoOrigin::start()?;
        let entry = |caller: &str| {
            json!({ "issuer": issuer, "token": "access", "caller": caller, "audiences": [API],
                    "token_type": "at+jwt", "group_claim": null })
        };
        let config = json!({
            "trust": { "issuers": [entry("user"), entry("client")] },
            "origin": origin.url(),
            "authzen": { "base_url": BASE_URL },
            "bundle_endpoint": true,
            "bundle_kv": { "binding": "CEDARGATE_BUNDLES", "refresh_seconds": 1, "serve_built_in": true },
        });
        // KV holds nothing the worker takes until the last check puts a newer bundle there:
        // the built-in bundle decides until then, as configured.
        let mut extra = kv_namespace("cedargate-e2e-authzen");
        extra["main"] = json!(main);
        let dir = cedargate_tests::work_dir("edge-authzen");
        std::fs::write(
            dir.join("wrangler.json"),
            json!({ "name": "cedargate-edge-authzen", "main": main,
                    "compatibility_date": "2026-11-01", "kv_namespaces": extra["kv_namespaces"] })
            .to_string(),
        )
        .map_err(|e| e.to_string())?;
        Wrangler::kv_put(&dir, "CEDARGATE_BUNDLES", "current", "{}")?;
        let w = Wrangler::start_in(&dir, "edge-authzen", &config, &extra)?;
        Ok(Pdp {
            _provider: provider,
            _origin: origin,
            w,
            issuer,
        })
    }

    use super::access_token as token;

    /// An enforcement point's client-credentials token.
    fn pep(issuer: &str, scope: &str) -> String {
        token(
            issuer,
            json!({ "client_id": "todo-backend", "scope": scope }),
        )
    }

    fn ask(
        w: &Wrangler,
        path: &str,
        token: Option<&str>,
        body: &[u8],
        extra: &[(&str, &str)],
    ) -> Result<Reply, String> {
        let auth = token.map(bearer);
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("authorization", a.as_str()));
        }
        headers.extend_from_slice(extra);
        http::send("POST", &w.url(path), &headers, Some(body))
    }

    fn evaluation(action: &str) -> Vec<u8> {
        json!({
            "subject": {"type": "identity", "id": RICK},
            "action": {"name": action},
            "resource": {"type": "route", "id": "/todos"}
        })
        .to_string()
        .into_bytes()
    }

    fn the_interop_decision_files_hold_at_the_edge(s: &Pdp) -> Result<(), String> {
        let Pdp { w, issuer, .. } = s;
        let token = pep(issuer, "authzen:evaluate");
        let files: [DecisionFile; 3] = [
            (
                "todo-decisions",
                include_str!("../authzen/interop/todo-decisions.json"),
                Some(interop::draft_00_to_1_0),
                40,
            ),
            (
                "todo-decisions-1_0-02",
                include_str!("../authzen/interop/todo-decisions-1_0-02.json"),
                None,
                43,
            ),
            (
                "gateway-decisions",
                include_str!("../authzen/interop/gateway-decisions.json"),
                None,
                25,
            ),
        ];
        let dir = cedargate_tests::root().join("target/authzen");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        for (name, text, adapter, count) in files {
            let cases = interop::decision_cases(text).map_err(|e| e.to_string())?;
            let results = interop::run_with(&cases, adapter, |endpoint, body| {
                let path = match endpoint {
                    Endpoint::Evaluation => "/access/v1/evaluation",
                    Endpoint::Evaluations => "/access/v1/evaluations",
                };
                let reply = ask(w, path, Some(&token), body, &[])?;
                if reply.status != 200 {
                    return Err(format!("{} {}", reply.status, reply.text()));
                }
                serde_json::from_slice(&reply.body).map_err(|e| e.to_string())
            });
            let table =
                interop::results_table(&format!("{name} (the worker in workerd)"), &results);
            std::fs::write(dir.join(format!("{name}-workerd.md")), &table)
                .map_err(|e| e.to_string())?;
            let tally = interop::tally(&results);
            same(
                (tally.pass, tally.fail, tally.error),
                (count, 0, 0),
                &format!("{name}: pass, fail, error (see target/authzen/{name}-workerd.md)"),
            )?;
        }
        Ok(())
    }

    /// The gateway decision file asked as the API's own requests: each case's subject signs
    /// in (its access token's `sub`), calls the method on the route, and the worker forwards
    /// or refuses it, the roles coming from the bundle's entity data.
    fn the_gateway_decisions_are_enforced_on_the_todo_api(s: &Pdp) -> Result<(), String> {
        let Pdp { w, issuer, .. } = s;
        let file: Value =
            serde_json::from_str(include_str!("../authzen/interop/gateway-decisions.json"))
                .map_err(|e| e.to_string())?;
        let cases = file["evaluation"].as_array().ok_or("no evaluation list")?;
        same(cases.len(), 25, "gateway cases")?;
        let mut wrong = Vec::new();
        for case in cases {
            let request = &case["request"];
            let (Some(subject), Some(method), Some(template), Some(expected)) = (
                request["subject"]["id"].as_str(),
                request["action"]["name"].as_str(),
                request["resource"]["id"].as_str(),
                case["expected"].as_bool(),
            ) else {
                return Err(format!("a case of unexpected shape: {case}"));
            };
            let path = template
                .replace("{userId}", "rick%40the-citadel.com")
                .replace("{todoId}", "7");
            let person = token(issuer, json!({ "sub": subject, "client_id": "todo-spa" }));
            let reply = call(w, method, &path, Some(&person))?;
            let want = if expected { 200 } else { 403 };
            if reply.status != want {
                wrong.push(format!(
                    "{method} {path} as {subject}: {} not {want}",
                    reply.status
                ));
            }
        }
        ensure(wrong.is_empty(), || wrong.join("; "))
    }

    /// What a person learns of the entity data from the bundle endpoint: their own
    /// entities and roles, enough for the app to predict their requests, and nobody else's.
    fn the_bundle_endpoint_tells_each_person_their_own_data(s: &Pdp) -> Result<(), String> {
        let Pdp { w, issuer, .. } = s;
        let ids = |sub: &str| -> Result<Vec<String>, String> {
            let person = token(issuer, json!({ "sub": sub, "client_id": "todo-spa" }));
            let reply = call(w, "GET", cedargate::wire::BUNDLE_PATH, Some(&person))?;
            same(reply.status, 200, "the bundle endpoint")?;
            let doc: cedargate::wire::BundleEndpoint =
                serde_json::from_slice(&reply.body).map_err(|e| e.to_string())?;
            let held = doc.bundle().map_err(|e| e.to_string())?;
            same(
                held.text_version().to_string(),
                doc.text_version.clone(),
                "the text's version",
            )?;
            Ok(doc
                .entities
                .unwrap_or_default()
                .iter()
                .map(|e| e["uid"]["id"].as_str().unwrap_or("?").to_owned())
                .collect())
        };
        same(
            ids(RICK)?,
            vec![
                "admin".to_owned(),
                "evil_genius".into(),
                RICK.into(),
                "rick@the-citadel.com".into(),
            ],
            "Rick's data",
        )?;
        same(
            ids("beth@the-smiths.com")?,
            vec!["viewer".to_owned(), "beth@the-smiths.com".into()],
            "Beth's data",
        )?;
        same(
            ids("someone-else")?,
            Vec::<String>::new(),
            "a stranger's data",
        )
    }

    /// A newer bundle from KV (`cedargate bundle` of the Todo folder) carries its own entity
    /// data: once it is in force, Beth is an editor for the worker's route decisions, for
    /// the AuthZEN questions about her and in what the bundle endpoint tells her.
    fn a_newer_bundle_from_kv_brings_its_entity_data_to_routes_and_questions(
        s: &Pdp,
    ) -> Result<(), String> {
        let Pdp { w, issuer, .. } = s;
        let folder = cedargate_tests::root().join("policies/authzen-todo");
        let read = |name: &str| {
            std::fs::read_to_string(folder.join(name)).map_err(|e| format!("{name}: {e}"))
        };
        let source = cedargate::BundleSource {
            schema: read("schema.cedarschema")?,
            policies: read("policies.cedar")?,
            routes: read("routes.json")?,
        };
        let mut entities: Value =
            serde_json::from_str(&read("entities.json")?).map_err(|e| e.to_string())?;
        for entity in entities
            .as_array_mut()
            .ok_or("entities.json is not a list")?
        {
            if entity["uid"]["id"] == "beth@the-smiths.com" {
                entity["parents"] = json!([{ "type": "TodoApp::Role", "id": "editor" }]);
            }
        }
        let document =
            cedargate::BundleDocument::new(source, 1).with_entities(entities.to_string());
        let version = document
            .load()
            .map_err(|e| e.to_string())?
            .version()
            .to_string();
        let beth = token(
            issuer,
            json!({ "sub": "beth@the-smiths.com", "client_id": "todo-spa" }),
        );
        same(
            call(w, "POST", "/todos", Some(&beth))?.status,
            403,
            "Beth, a viewer",
        )?;
        let text = serde_json::to_string(&document).map_err(|e| e.to_string())?;
        Wrangler::kv_put(&w.dir, "CEDARGATE_BUNDLES", "current", &text)?;
        poll("the bundle from KV to take over", || {
            let reply = call(w, "POST", "/todos", Some(&beth))?;
            Ok(reply.status == 200
                && reply.header("x-cedargate-bundle-version") == Some(version.as_str()))
        })?;
        let question = json!({
            "subject": { "type": "user", "id": "beth@the-smiths.com" },
            "action": { "name": "POST" },
            "resource": { "type": "route", "id": "/todos" }
        })
        .to_string();
        let answer = ask(
            w,
            "/access/v1/evaluation",
            Some(&pep(issuer, "authzen:evaluate")),
            question.as_bytes(),
            &[],
        )?;
        same(
            answer.text(),
            r#"{"decision":true}"#.to_owned(),
            "the decision point",
        )?;
        let reply = call(w, "GET", cedargate::wire::BUNDLE_PATH, Some(&beth))?;
        let doc: cedargate::wire::BundleEndpoint =
            serde_json::from_slice(&reply.body).map_err(|e| e.to_string())?;
        let ids: Vec<String> = doc
            .entities
            .unwrap_or_default()
            .iter()
            .map(|e| e["uid"]["id"].as_str().unwrap_or("?").to_owned())
            .collect();
        same(
            ids,
            vec!["editor".to_owned(), "beth@the-smiths.com".into()],
            "Beth's data",
        )
    }

    fn only_services_with_the_evaluate_scope_may_ask(s: &Pdp) -> Result<(), String> {
        let Pdp { w, issuer, .. } = s;
        let body = evaluation("GET");
        let allowed = ask(
            w,
            "/access/v1/evaluation",
            Some(&pep(issuer, "authzen:evaluate")),
            &body,
            &[],
        )?;
        same(allowed.status, 200, "a service with authzen:evaluate")?;
        same(
            allowed.text(),
            r#"{"decision":true}"#.to_owned(),
            "its answer",
        )?;
        // A service without the scope, and a person (Rick himself, an admin), may not ask.
        let other = pep(issuer, "todos:read");
        let rick = token(
            issuer,
            json!({ "sub": RICK, "client_id": "todo-spa", "scope": "authzen:evaluate" }),
        );
        for (who, token) in [("a service without the scope", &other), ("a person", &rick)] {
            for path in [
                "/access/v1/evaluation",
                "/access/v1/evaluations",
                "/access/v1/search/action",
            ] {
                let reply = ask(w, path, Some(token), &body, &[])?;
                same(reply.status, 403, &format!("{who} on {path}"))?;
                ensure(!reply.text().contains("decision"), || {
                    format!("{who} learned a decision")
                })?;
            }
        }
        // No token: the bearer challenge.
        let none = ask(w, "/access/v1/evaluation", None, &body, &[])?;
        same(none.status, 401, "no token")?;
        ensure(
            none.header("www-authenticate")
                .is_some_and(|h| h.starts_with("Bearer")),
            || format!("challenge {:?}", none.header("www-authenticate")),
        )?;
        // Action search is the allowed-actions matrix for the subject: Rick may use every route.
        let search = ask(
            w,
            "/access/v1/search/action",
            Some(&pep(issuer, "authzen:evaluate")),
            json!({"subject": {"type": "identity", "id": RICK}, "resource": {"type": "route", "id": "/todos"}})
                .to_string()
                .as_bytes(),
            &[],
        )?;
        same(search.status, 200, "action search")?;
        let names: Vec<String> = search.json()["results"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|a| a["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        ensure(!names.is_empty(), || {
            format!("action search found nothing: {}", search.text())
        })?;
        Ok(())
    }

    fn the_metadata_is_public_and_names_the_endpoints(s: &Pdp) -> Result<(), String> {
        let reply = http::send(
            "GET",
            &s.w.url("/.well-known/authzen-configuration"),
            &[],
            None,
        )?;
        same(reply.status, 200, "metadata")?;
        let doc = reply.json();
        same(
            doc["policy_decision_point"].as_str(),
            Some(BASE_URL),
            "policy_decision_point",
        )?;
        same(
            doc["access_evaluation_endpoint"]
                .as_str()
                .map(str::to_owned),
            Some(format!("{BASE_URL}/access/v1/evaluation")),
            "access_evaluation_endpoint",
        )?;
        same(
            doc["access_evaluations_endpoint"]
                .as_str()
                .map(str::to_owned),
            Some(format!("{BASE_URL}/access/v1/evaluations")),
            "access_evaluations_endpoint",
        )?;
        Ok(())
    }

    fn bad_questions_are_400_with_a_reason_and_request_ids_are_echoed(
        s: &Pdp,
    ) -> Result<(), String> {
        let Pdp { w, issuer, .. } = s;
        let token = pep(issuer, "authzen:evaluate");
        let id = [("x-request-id", "pep-42")];
        let ok = ask(
            w,
            "/access/v1/evaluation",
            Some(&token),
            &evaluation("GET"),
            &id,
        )?;
        same(
            ok.header("x-request-id"),
            Some("pep-42"),
            "echoed on a decision",
        )?;
        let unknown = ask(
            w,
            "/access/v1/evaluation",
            Some(&token),
            &evaluation("PATCH"),
            &id,
        )?;
        same(unknown.status, 400, "an unknown action")?;
        same(
            unknown.header("x-request-id"),
            Some("pep-42"),
            "echoed on an error",
        )?;
        ensure(
            unknown
                .header("content-type")
                .is_some_and(|c| c.starts_with("text/plain")),
            || format!("content type {:?}", unknown.header("content-type")),
        )?;
        let duplicate = br#"{"subject": {"type": "identity", "id": "a", "id": "b"}, "action": {"name": "GET"}, "resource": {"type": "route", "id": "/todos"}}"#;
        same(
            ask(w, "/access/v1/evaluation", Some(&token), duplicate, &[])?.status,
            400,
            "duplicate members",
        )?;
        let many = json!({
            "subject": {"type": "identity", "id": RICK},
            "resource": {"type": "route", "id": "/todos"},
            "evaluations": vec![json!({"action": {"name": "GET"}}); 65],
        });
        same(
            ask(
                w,
                "/access/v1/evaluations",
                Some(&token),
                many.to_string().as_bytes(),
                &[],
            )?
            .status,
            400,
            "65 evaluations",
        )?;
        let huge = vec![b' '; 70_000];
        same(
            ask(w, "/access/v1/evaluation", Some(&token), &huge, &[])?.status,
            413,
            "a body over 64 KiB",
        )?;
        // Without a Content-Length the body is read only up to the bound: the answer comes
        // although the body never ends.
        let auth = bearer(&token);
        same(
            http::unfinished_chunked(
                w.port,
                "POST",
                "/access/v1/evaluation",
                &[
                    ("authorization", auth.as_str()),
                    ("content-type", "application/json"),
                ],
                70_000,
                Duration::from_secs(10),
            )?,
            413,
            "a chunked body past 64 KiB that never ends",
        )?;
        Ok(())
    }
}
