//! The access-token reference bundle (`policies/petstore-access`, compiled into the worker
//! in `target/edge-access` by `cargo xtask build-edge`'s stage of the test command): people
//! with access tokens whose groups come in a custom `groups` claim, scopes per operation, a
//! PingOne permission to create pets, and the `inventory` service with client credentials.

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
    let main = built_worker("edge-access")?;
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

fn person(issuer: &str, sub: &str, groups: &[&str], scope: &str, permissions: &[&str]) -> String {
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

fn services_and_people_decided_by_scope_permission_and_caller(s: &Access) -> Result<(), String> {
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
fn a_service_token_of_the_local_provider_reads_and_cannot_write(s: &Access) -> Result<(), String> {
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
        Ok(w.logs()
            .lines()
            .any(|l| l.contains("\"action\":\"get /health\"") && l.contains("\"anonymous\":true")))
    })
}
