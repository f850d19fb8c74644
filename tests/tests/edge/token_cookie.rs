//! Tokens from a cookie (`token_cookie`): a token in the named cookie is verified like a
//! bearer token; on an unsafe method it needs an allowed `Origin` or the CSRF header; the
//! origin never receives the token cookie (the other cookies it does); a token in both
//! places, the cookie twice, and an issuer not configured for the cookie are refused.

use super::*;

const COOKIE: &str = "__Host-cedargate";
const CSRF_HEADER: &str = "x-requested-with";

pub struct Cookies {
    _provider: TestProvider,
    _origin: Option<EchoOrigin>,
    w: Wrangler,
    issuer: String,
    /// A trusted issuer whose tokens are not taken from the cookie.
    other: String,
}

pub const CHECKS: &[Check<Cookies>] = checks![
    a_cookie_token_is_verified_and_the_origin_never_receives_it,
    unsafe_methods_with_a_cookie_token_need_an_allowed_origin_or_the_csrf_header,
    ambiguous_repeated_and_foreign_cookie_tokens_are_refused,
];

pub fn start() -> Result<Cookies, String> {
    let fixture = Fixture::new("env-cookie")?.origin()?;
    fixture.provider.add_env("env-cookie-other", &["a-rsa-1"]);
    let other = fixture.provider.issuer("env-cookie-other");
    let config = fixture.config(json!({
        "trust": trust(&[(&fixture.issuer, ""), (&other, "")]),
        "cors": { "allowed_origins": [APP_ORIGIN] },
        "token_cookie": { "name": COOKIE, "issuers": [fixture.issuer], "csrf_header": CSRF_HEADER },
    }));
    let w = Wrangler::start("edge-token-cookie", &config, &json!({}))?;
    let Fixture {
        provider,
        issuer,
        origin,
    } = fixture;
    Ok(Cookies {
        _provider: provider,
        _origin: origin,
        w,
        issuer,
        other,
    })
}

fn with_cookie(w: &Wrangler, method: &str, headers: &[(&str, &str)]) -> Result<Reply, String> {
    http::send(method, &w.url("/pets"), headers, None)
}

/// The problem type of a refusal.
fn problem_type(reply: &Reply) -> String {
    reply.json()["type"].as_str().unwrap_or_default().to_owned()
}

/// Checks that no header the origin received, and no log line, holds `token`.
fn token_never_seen(s: &Cookies, seen: &Value, token: &str, what: &str) -> Result<(), String> {
    ensure(!seen["headers"].to_string().contains(token), || {
        format!("{what}: the origin received the token")
    })?;
    ensure(
        s.w.log_lines()
            .iter()
            .all(|l| !l.to_string().contains(token)),
        || format!("{what}: a log line holds the token"),
    )
}

/// Checks that `reply` says it varies with `Cookie` (no shared cache may give it to
/// another caller).
fn varies_by_cookie(reply: &Reply, what: &str) -> Result<(), String> {
    let vary = reply.header("vary").unwrap_or_default();
    ensure(
        vary.split(',')
            .any(|n| n.trim().eq_ignore_ascii_case("cookie")),
        || format!("{what}: Vary is {vary:?}, without Cookie"),
    )
}

fn a_cookie_token_is_verified_and_the_origin_never_receives_it(s: &Cookies) -> Result<(), String> {
    let token = id_token(&s.issuer, "alice", &["AVP_Admin"], "a-rsa-1");
    let cookie = format!("theme=dark; {COOKIE}={token}; lang=en");
    let reply = with_cookie(&s.w, "GET", &[("cookie", &cookie)])?;
    same(reply.status, 200, "GET with the token cookie")?;
    let seen = reply.json();
    same(
        seen["headers"]["x-cedargate-subject"].as_str(),
        Some("alice"),
        "the cookie's caller",
    )?;
    same(
        seen["headers"]["cookie"].as_str(),
        Some("theme=dark; lang=en"),
        "the other cookies reach the origin",
    )?;
    token_never_seen(s, &seen, &token, "GET")?;
    varies_by_cookie(&reply, "GET with the token cookie")?;
    // Only the token cookie: no Cookie header at all.
    let only = format!("{COOKIE}={token}");
    let reply = with_cookie(&s.w, "GET", &[("cookie", &only)])?;
    same(reply.status, 200, "GET with only the token cookie")?;
    same(
        reply.json()["headers"]["cookie"].as_str(),
        None,
        "no cookie header left",
    )?;
    // No token at all: the cookie header alone is not a token.
    let reply = with_cookie(&s.w, "GET", &[("cookie", "theme=dark")])?;
    same(reply.status, 401, "other cookies only")?;
    same(
        problem_type(&reply).as_str(),
        "urn:cedargate:problem:missing-token",
        "other cookies only",
    )
}

fn unsafe_methods_with_a_cookie_token_need_an_allowed_origin_or_the_csrf_header(
    s: &Cookies,
) -> Result<(), String> {
    let token = id_token(&s.issuer, "alice", &["AVP_Admin"], "a-rsa-1");
    let cookie = format!("{COOKIE}={token}");
    for (what, origin) in [
        ("no Origin", None),
        ("another site", Some("https://evil.example")),
        ("an opaque origin", Some("null")),
    ] {
        let mut headers = vec![("cookie", cookie.as_str())];
        if let Some(origin) = origin {
            headers.push(("origin", origin));
        }
        let reply = with_cookie(&s.w, "POST", &headers)?;
        same(reply.status, 403, what)?;
        varies_by_cookie(&reply, what)?;
        same(
            problem_type(&reply).as_str(),
            "urn:cedargate:problem:csrf",
            what,
        )?;
    }
    let reply = with_cookie(&s.w, "POST", &[("cookie", &cookie), ("origin", APP_ORIGIN)])?;
    same(reply.status, 200, "POST from the allowed origin")?;
    let seen = reply.json();
    same(seen["method"].as_str(), Some("POST"), "forwarded as POST")?;
    token_never_seen(s, &seen, &token, "POST from the allowed origin")?;
    let reply = with_cookie(&s.w, "POST", &[("cookie", &cookie), (CSRF_HEADER, "1")])?;
    same(reply.status, 200, "POST with the CSRF header")?;
    // A bearer token needs no CSRF defence: a browser never adds it by itself.
    let bearer_token = id_token(&s.issuer, "alice", &["AVP_Admin"], "a-rsa-1");
    let reply = call(&s.w, "POST", "/pets", Some(&bearer_token))?;
    same(reply.status, 200, "POST with Authorization, no Origin")
}

fn ambiguous_repeated_and_foreign_cookie_tokens_are_refused(s: &Cookies) -> Result<(), String> {
    let token = id_token(&s.issuer, "alice", &["AVP_Admin"], "a-rsa-1");
    let cookie = format!("{COOKIE}={token}");
    let both = with_cookie(
        &s.w,
        "GET",
        &[("cookie", &cookie), ("authorization", &bearer(&token))],
    )?;
    same(both.status, 400, "a token in both places")?;
    let twice = format!("{COOKIE}={token}; {COOKIE}={token}");
    let reply = with_cookie(&s.w, "GET", &[("cookie", &twice)])?;
    same(reply.status, 401, "the token cookie twice")?;
    same(
        reply.json()["reason"].as_str(),
        Some("malformed_cookie"),
        "the token cookie twice",
    )?;
    let foreign = id_token(&s.other, "alice", &["AVP_Admin"], "a-rsa-1");
    let reply = with_cookie(&s.w, "GET", &[("cookie", &format!("{COOKIE}={foreign}"))])?;
    same(reply.status, 401, "an issuer not configured for the cookie")?;
    same(
        reply.json()["reason"].as_str(),
        Some("cookie_issuer"),
        "an issuer not configured for the cookie",
    )?;
    // That issuer's token is still taken from Authorization.
    same(
        call(&s.w, "GET", "/pets", Some(&foreign))?.status,
        200,
        "the other issuer in Authorization",
    )
}
