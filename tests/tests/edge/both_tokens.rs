//! Both tokens in one decision (`trust.issuers[].companion`, issue 35), in workerd with the
//! access-token reference bundle (`target/edge-access`) and the local PingOne-shaped
//! provider, whose key `a-rsa-1` signs the tokens minted here: a person's access token in
//! `Authorization` and her ID token in `X-Cedargate-Id-Token`, groups from the ID token and
//! scopes, permissions and client from the access token; each refusal by its reason code;
//! the token cache keyed on both tokens; neither token reaching the origin or a log line.

use super::*;
use cedargate_tests::pingone::LocalProvider;

const HEADER: &str = "x-cedargate-id-token";

pub struct Both {
    _provider: LocalProvider,
    _origin: EchoOrigin,
    w: Wrangler,
    issuer: String,
}

pub const CHECKS: &[Check<Both>] = checks![
    a_pair_is_decided_on_the_id_tokens_groups_and_the_access_tokens_scopes,
    a_missing_mismatched_invalid_or_unexpected_companion_is_refused_by_its_reason,
    the_token_cache_keys_on_both_tokens,
    a_browser_may_send_the_companion_header_cross_origin,
];

pub fn start() -> Result<Both, String> {
    let main = built_worker("edge-access")?;
    let provider = LocalProvider::start("env-both", API)?;
    let issuer = provider.issuer().to_owned();
    let origin = EchoOrigin::start()?;
    let config = json!({
        "trust": { "issuers": [
            { "issuer": issuer, "token": "access", "caller": "user", "audiences": [API],
              "token_type": "at+jwt",
              "companion": { "token": "id", "audiences": [CLIENT] } },
            { "issuer": issuer, "token": "access", "caller": "client", "audiences": [API],
              "token_type": "at+jwt", "group_claim": null },
        ] },
        "cors": { "allowed_origins": [APP_ORIGIN],
                  "allow_headers": ["authorization", "content-type", HEADER] },
        "origin": origin.url(),
    });
    let w = Wrangler::start("edge-both-tokens", &config, &json!({ "main": main }))?;
    Ok(Both {
        _provider: provider,
        _origin: origin,
        w,
        issuer,
    })
}

/// A person's access token for the app `CLIENT`, with a `group` claim of its own that is
/// never read (groups come from the ID token).
fn access(issuer: &str, sub: &str, scope: &str, permissions: &[&str]) -> String {
    access_token(
        issuer,
        json!({ "sub": sub, "client_id": CLIENT, "scope": scope, "p1.permissions": permissions,
                "group": ["AVP_Admin"] }),
    )
}

fn send(s: &Both, method: &str, token: &str, companion: Option<&str>) -> Result<Reply, String> {
    let auth = bearer(token);
    let mut headers = vec![("authorization", auth.as_str())];
    if let Some(c) = companion {
        headers.push((HEADER, c));
    }
    http::send(method, &s.w.url("/pets"), &headers, None)
}

/// The reason code of a 401.
fn refused_for(reply: &Reply, reason: &str, what: &str) -> Result<(), String> {
    same(reply.status, 401, what)?;
    same(reply.json()["reason"].as_str(), Some(reason), what)?;
    ensure(
        reply
            .header("www-authenticate")
            .is_some_and(|h| h.contains(reason)),
        || format!("{what}: the challenge does not name {reason}"),
    )
}

/// No ID token in what the origin received (the access token goes in `Authorization`, as
/// `forward_authorization` says, and nowhere else), and no token in any log line so far.
fn never_seen(s: &Both, seen: &Value, tokens: &[&str], what: &str) -> Result<(), String> {
    let mut headers = seen["headers"].clone();
    if let Some(h) = headers.as_object_mut() {
        h.remove("authorization");
    }
    for token in tokens {
        ensure(!headers.to_string().contains(token), || {
            format!("{what}: the origin received a token outside authorization")
        })?;
        ensure(
            s.w.log_lines()
                .iter()
                .all(|l| !l.to_string().contains(token)),
            || format!("{what}: a log line holds a token"),
        )?;
    }
    Ok(())
}

fn a_pair_is_decided_on_the_id_tokens_groups_and_the_access_tokens_scopes(
    s: &Both,
) -> Result<(), String> {
    let all = "pets:read pets:write";
    let admin_at = access(&s.issuer, "alice", all, &["pets:create"]);
    let admin_id = id_token(&s.issuer, "alice", &["AVP_Admin"], "a-rsa-1");
    let reply = send(s, "POST", &admin_at, Some(&admin_id))?;
    same(reply.status, 200, "the admin's pair creates a pet")?;
    let seen = reply.json();
    same(
        seen["headers"]["x-cedargate-groups"].as_str(),
        Some("AVP_Admin"),
        "the groups are the ID token's",
    )?;
    same(
        seen["headers"]["x-cedargate-client"].as_str(),
        Some(CLIENT),
        "the client is the access token's",
    )?;
    same(
        seen["headers"]["x-cedargate-subject"].as_str(),
        Some("alice"),
        "the subject",
    )?;
    ensure(seen["headers"].get(HEADER).is_none(), || {
        "the origin received the companion header".to_owned()
    })?;
    // The user's ID token: the access token's own `group` (AVP_Admin) is not read.
    let user_at = access(&s.issuer, "bob", all, &["pets:create"]);
    let user_id = id_token(&s.issuer, "bob", &["AVP_User"], "a-rsa-1");
    same(
        send(s, "POST", &user_at, Some(&user_id))?.status,
        403,
        "the user's pair creates a pet",
    )?;
    same(
        send(s, "GET", &user_at, Some(&user_id))?.status,
        200,
        "the user's pair lists pets",
    )?;
    // The admin's ID token with an access token lacking pets:write: the scope is asked for.
    let reader_at = access(&s.issuer, "alice", "pets:read", &["pets:create"]);
    let reply = send(s, "POST", &reader_at, Some(&admin_id))?;
    same(reply.status, 403, "the admin's pair without pets:write")?;
    ensure(
        reply
            .header("www-authenticate")
            .is_some_and(|h| h.contains("insufficient_scope")),
        || "no insufficient_scope challenge".to_owned(),
    )?;
    std::thread::sleep(Duration::from_millis(300));
    never_seen(
        s,
        &seen,
        &[&admin_at, &admin_id, &user_at, &user_id, &reader_at],
        "pairs",
    )
}

fn a_missing_mismatched_invalid_or_unexpected_companion_is_refused_by_its_reason(
    s: &Both,
) -> Result<(), String> {
    let at = access(&s.issuer, "alice", "pets:read", &[]);
    refused_for(
        &send(s, "GET", &at, None)?,
        "companion_missing",
        "the access token alone",
    )?;
    let mallory = id_token(&s.issuer, "mallory", &["AVP_Admin"], "a-rsa-1");
    refused_for(
        &send(s, "GET", &at, Some(&mallory))?,
        "companion_mismatch",
        "another person's ID token",
    )?;
    // An ID token of the same person from another issuer (signed with the same key).
    let foreign = id_token(
        "https://elsewhere.example/as",
        "alice",
        &["AVP_Admin"],
        "a-rsa-1",
    );
    refused_for(
        &send(s, "GET", &at, Some(&foreign))?,
        "companion_mismatch",
        "an ID token of another issuer",
    )?;
    // Expired, forged, of the wrong kind, not a token.
    let t = now();
    let expired = record(support::mint(
        &json!({ "iss": s.issuer, "aud": CLIENT, "sub": "alice", "group": ["AVP_Admin"],
                 "iat": t - 900, "exp": t - 300 }),
        "a-rsa-1",
        "JWT",
    ));
    refused_for(
        &send(s, "GET", &at, Some(&expired))?,
        "companion_invalid",
        "expired",
    )?;
    let good = id_token(&s.issuer, "alice", &["AVP_Admin"], "a-rsa-1");
    let (signed, signature) = good.rsplit_once('.').unwrap_or_default();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let forged = format!(
        "{signed}.{flipped}{}",
        signature.get(1..).unwrap_or_default()
    );
    refused_for(
        &send(s, "GET", &at, Some(&forged))?,
        "companion_invalid",
        "forged",
    )?;
    refused_for(
        &send(s, "GET", &at, Some(&at))?,
        "companion_invalid",
        "the access token as its own companion",
    )?;
    refused_for(
        &send(s, "GET", &at, Some("Bearer x"))?,
        "companion_invalid",
        "not a token",
    )?;
    // A service's token takes no companion: alone it reads, with one it is refused.
    let service = access_token(
        &s.issuer,
        json!({ "client_id": "inventory", "scope": "pets:read" }),
    );
    same(
        send(s, "GET", &service, None)?.status,
        200,
        "the service alone",
    )?;
    refused_for(
        &send(s, "GET", &service, Some(&good))?,
        "companion_unexpected",
        "a service with an ID token",
    )?;
    std::thread::sleep(Duration::from_millis(300));
    never_seen(
        s,
        &json!({}),
        &[&at, &mallory, &expired, &good, &service],
        "refusals",
    )
}

fn the_token_cache_keys_on_both_tokens(s: &Both) -> Result<(), String> {
    let at = access(&s.issuer, "carol", "pets:read", &[]);
    let carol = id_token(&s.issuer, "carol", &["AVP_User"], "a-rsa-1");
    same(send(s, "GET", &at, Some(&carol))?.status, 200, "the pair")?;
    same(
        send(s, "GET", &at, Some(&carol))?.status,
        200,
        "the pair again",
    )?;
    // The access token the cache holds, with another companion or none: checked anew.
    let mallory = id_token(&s.issuer, "mallory", &["AVP_Admin"], "a-rsa-1");
    refused_for(
        &send(s, "GET", &at, Some(&mallory))?,
        "companion_mismatch",
        "the cached access token with another person's ID token",
    )?;
    refused_for(
        &send(s, "GET", &at, None)?,
        "companion_missing",
        "the cached access token alone",
    )?;
    let other_carol = id_token(&s.issuer, "carol", &["AVP_Admin"], "a-rsa-1");
    let reply = send(s, "POST", &at, Some(&other_carol))?;
    same(
        reply.status,
        403,
        "another ID token of carol's: its own groups",
    )?;
    std::thread::sleep(Duration::from_millis(300));
    let lines = s.w.log_lines();
    let carol_lines: Vec<&Value> = lines
        .iter()
        .filter(|l| l["subject"] == "carol" && l["status"] == 200)
        .collect();
    same(carol_lines.len(), 2, "carol's allowed requests")?;
    same(
        carol_lines[0]["token_cache"].as_str(),
        Some("miss"),
        "first",
    )?;
    same(
        carol_lines[1]["token_cache"].as_str(),
        Some("hit"),
        "second",
    )
}

fn a_browser_may_send_the_companion_header_cross_origin(s: &Both) -> Result<(), String> {
    let reply = http::send(
        "OPTIONS",
        &s.w.url("/pets"),
        &[
            ("origin", APP_ORIGIN),
            ("access-control-request-method", "GET"),
            (
                "access-control-request-headers",
                "authorization, x-cedargate-id-token",
            ),
        ],
        None,
    )?;
    ensure(reply.status == 204 || reply.status == 200, || {
        format!("preflight: {}", reply.status)
    })?;
    let allowed = reply
        .header("access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    ensure(allowed.contains(HEADER), || {
        format!("the preflight allows {allowed:?}")
    })
}
