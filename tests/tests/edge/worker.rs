//! The main worker, with three issuers of one provider, the echo origin and CORS for the
//! app: the PetStore matrix, headers, CORS, paths, bodies, the bundle endpoint, key
//! rotation, the token cache and the log.

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
    every_answer_of_the_edge_carries_the_request_id,
    ten_mb_body_streamed_intact,
    bundle_endpoint_serves_what_is_enforced,
    new_provider_key_picked_up_refetches_limited_and_shared,
    keys_rotating_under_load,
    verified_tokens_cached_per_isolate,
    decisions_cached_per_token_and_request,
    decisions_shared_by_tokens_of_one_shape_each_token_checked,
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
        &json!({ "iss": issuer, "aud": CLIENT, "sub": "x", "group": ["AVP_Admin"], "exp": t + 60 })
            .to_string(),
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
    let unauthenticated = http::send("GET", &main.url("/pets"), &[("origin", APP_ORIGIN)], None)?;
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
    // The built-in bundle is compiled in: the endpoint serves its compiled form, no text.
    ensure(doc.get("source").is_none(), || {
        format!("the built-in bundle served a text: {}", doc["source"])
    })?;
    let endpoint: cedargate::wire::BundleEndpoint =
        serde_json::from_value(doc.clone()).map_err(|e| e.to_string())?;
    let local = endpoint.bundle().map_err(|e| e.to_string())?;
    let expected = cedargate::examples::petstore().map_err(|e| e.to_string())?;
    same(
        local.version(),
        expected.version(),
        "version computed from the served form, validated again",
    )?;
    same(
        local.policy_text("avp-admin-all"),
        expected.policy_text("avp-admin-all"),
        "the author's text of a policy",
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
                http::send("GET", &url, &[("authorization", &bearer(&t))], None).map(|r| r.status)
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
                        reply.map(|r| (r.status, r.json()["reason"].as_str().map(str::to_owned))),
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
/// request of the same token is routed and decided anew. (A group of frank's own keeps
/// other tokens' decisions, shared by principals of one shape, out of it.)
fn decisions_cached_per_token_and_request(s: &Worker) -> Result<(), String> {
    let Worker { main, issuer, .. } = s;
    let token = id_token(issuer, "frank", &["AVP_User", "frank-only"], "a-rsa-1");
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

/// Tokens whose principals differ in their ids only share decisions (PetStore's policies
/// name no user): the second token's request takes the first one's verdict (`shared` in its
/// log line), and is still verified in full, logged and forwarded as itself. A token of the
/// same shape that fails a check is refused as ever.
fn decisions_shared_by_tokens_of_one_shape_each_token_checked(s: &Worker) -> Result<(), String> {
    let Worker { main, issuer, .. } = s;
    let groups = ["AVP_User", "shared-shape"];
    let grace = id_token(issuer, "grace", &groups, "a-rsa-1");
    let heidi = id_token(issuer, "heidi", &groups, "a-ec-1");
    let t = now();
    let shape = |sub: &str, exp: i64| json!({ "iss": issuer, "aud": CLIENT, "sub": sub, "group": groups, "iat": t - 5, "exp": exp });
    let forged = record(mint_raw(
        &json!({ "alg": "RS256", "kid": "a-rsa-1" }).to_string(),
        &shape("mallory", t + 600).to_string(),
        "attacker-rsa",
    ));
    let expired = record(support::mint(&shape("ivan", t - 3600), "a-rsa-1", "JWT"));
    let expected = [
        (&grace, "grace", "GET", "/pets", 200, "miss"),
        (&heidi, "heidi", "GET", "/pets", 200, "shared"),
        (&heidi, "heidi", "POST", "/pets", 403, "miss"),
        (&grace, "grace", "POST", "/pets", 403, "shared"),
        (&heidi, "heidi", "GET", "/pets", 200, "hit"),
    ];
    for (token, sub, method, path, status, _) in expected {
        let reply = call(main, method, path, Some(token))?;
        same(reply.status, status, &format!("{sub} {method} {path}"))?;
        if status == 200 {
            same(
                reply.json()["headers"]["x-cedargate-subject"].as_str(),
                Some(sub),
                "the origin is told the token's own subject",
            )?;
        }
    }
    for (token, reason) in [(&forged, "bad_signature"), (&expired, "expired")] {
        let reply = call(main, "GET", "/pets", Some(token))?;
        same(reply.status, 401, reason)?;
        same(reply.json()["reason"].as_str(), Some(reason), "reason")?;
    }
    std::thread::sleep(Duration::from_millis(300));
    let lines = main.log_lines();
    let shaped: Vec<&Value> = lines
        .iter()
        .filter(|l| l["subject"] == "grace" || l["subject"] == "heidi")
        .collect();
    same(
        shaped.len(),
        expected.len(),
        "log lines for grace and heidi",
    )?;
    for (line, (_, sub, method, path, _, cache)) in shaped.iter().zip(expected) {
        let what = format!("{sub} {method} {path}");
        same(line["subject"].as_str(), Some(sub), &what)?;
        same(line["decision_cache"].as_str(), Some(cache), &what)?;
    }
    same(
        shaped[3]["policies"].clone(),
        shaped[2]["policies"].clone(),
        "the shared deny names the same policies",
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

/// The values of header `name` on `reply` (case-insensitive), every one of them.
fn header_values<'a>(reply: &'a Reply, name: &str) -> Vec<&'a str> {
    reply
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// What is asked, how, with which headers, and the status expected.
type Case<'a> = (&'a str, &'a str, &'a str, Vec<(&'a str, &'a str)>, u16);

/// Every answer the worker gives itself (refusals of each kind, preflights, the bundle
/// endpoint) carries one `X-Request-ID`: the caller's when it is acceptable, else the
/// worker's own id (its `X-Cedargate-Request-Id`); a caller's id that is refused is never
/// echoed.
fn every_answer_of_the_edge_carries_the_request_id(s: &Worker) -> Result<(), String> {
    let Worker {
        main, admin, user, ..
    } = s;
    let admin = bearer(admin);
    let user = bearer(user);
    let preflight = [
        ("origin", APP_ORIGIN),
        ("access-control-request-method", "GET"),
    ];
    let evil_preflight = [
        ("origin", "https://evil.test"),
        ("access-control-request-method", "GET"),
    ];
    let cases: [Case; 9] = [
        (
            "no route",
            "GET",
            "/owners",
            vec![("authorization", &admin)],
            404,
        ),
        ("no token", "GET", "/pets", vec![], 401),
        (
            "an invalid token",
            "GET",
            "/pets",
            vec![("authorization", "Bearer not-a-token")],
            401,
        ),
        (
            "no such method",
            "DELETE",
            "/pets/7",
            vec![("authorization", &admin)],
            405,
        ),
        (
            "a deny",
            "POST",
            "/pets",
            vec![("authorization", &user)],
            403,
        ),
        (
            "a refused path",
            "GET",
            "/pets//7",
            vec![("authorization", &admin)],
            400,
        ),
        ("a preflight", "OPTIONS", "/pets", preflight.to_vec(), 204),
        (
            "a preflight from another origin",
            "OPTIONS",
            "/pets",
            evil_preflight.to_vec(),
            403,
        ),
        (
            "the bundle endpoint",
            "GET",
            cedargate::wire::BUNDLE_PATH,
            vec![("authorization", &admin)],
            200,
        ),
    ];
    let long = "a".repeat(129);
    for (what, method, path, headers, status) in &cases {
        for (sent, echoed) in [
            (Some("client-id.42"), true),
            (None, false),
            (Some(long.as_str()), false),
        ] {
            let mut headers = headers.clone();
            if let Some(id) = sent {
                headers.push(("x-request-id", id));
            }
            let reply = http::send(method, &main.url(path), &headers, None)?;
            let label = format!("{what} ({method} {path}) with x-request-id {sent:?}");
            same(reply.status, *status, &label)?;
            let own = reply
                .header("x-cedargate-request-id")
                .ok_or_else(|| format!("{label}: no x-cedargate-request-id"))?;
            let want = if echoed { sent.unwrap_or(own) } else { own };
            same(
                header_values(&reply, "x-request-id"),
                vec![want],
                &format!("{label}: x-request-id"),
            )?;
            if reply.status >= 400 {
                same(
                    reply.json()["request_id"].as_str(),
                    Some(own),
                    &format!("{label}: the problem's request_id"),
                )?;
            }
        }
    }
    // A browser may read it.
    let refused = http::send(
        "GET",
        &main.url("/pets"),
        &[("origin", APP_ORIGIN), ("x-request-id", "app-1")],
        None,
    )?;
    let expose = refused
        .header("access-control-expose-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    ensure(expose.contains("x-request-id"), || {
        format!("x-request-id is not exposed: {expose}")
    })
}
