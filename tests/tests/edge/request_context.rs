//! Decisions that see the request: the context bundle (`policies/petstore-context`) from KV,
//! the client's address from `CF-Connecting-IP` (which the harness sends, as Cloudflare
//! would), its country from `request.cf` (a `cf.json` the harness writes), a tenant header,
//! the token's `amr`, `acr` and `auth_time`, and RFC 9470 step-up.

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
    let fixture = Fixture::new("env-ctx")?;
    let source = cedargate::examples::petstore_context_source();
    let version = cedargate::Bundle::load(&source)
        .map(|b| b.version().to_string())
        .map_err(|e| e.to_string())?;
    let document =
        cedargate_tests::bundles::compiled_json(cedargate::BundleDocument::new(source, 1))?;
    let config = |ip: bool| {
        fixture.config(json!({
            "bundle_kv": { "binding": "CEDARGATE_BUNDLES", "refresh_seconds": 1 },
            "context": {
                "time": true, "ip": ip, "country": true,
                "headers": ["x-tenant"], "token": ["acr", "amr", "auth_time"],
            },
        }))
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
    let Fixture {
        provider, issuer, ..
    } = fixture;
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
    // What the log says: the decisions of context actions are not cached, nor shared
    // between tokens.
    let lines = s.w.log_lines();
    let cached = lines
        .iter()
        .filter(|l| {
            l["action"] == "get /pets"
                && (l["decision_cache"] == "hit" || l["decision_cache"] == "shared")
        })
        .count();
    same(cached, 0, "cache hits for get /pets")
}

fn step_up_answers_rfc_9470_and_a_recent_mfa_sign_in_passes(s: &Context) -> Result<(), String> {
    let t = now();
    let weak = s.token(
        &["AVP_Admin"],
        json!({ "acr": "Single_Factor", "auth_time": t - 30 }),
    );
    let reply = call(&s.w, "DELETE", "/pets/7", Some(&weak))?;
    same(reply.status, 401, "a password sign-in")?;
    let challenge = reply
        .header("www-authenticate")
        .unwrap_or_default()
        .to_owned();
    for part in [
        "error=\"insufficient_user_authentication\"",
        "acr_values=\"Multi_Factor\"",
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
        json!(["Multi_Factor"]),
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
    let mfa = "Multi_Factor";
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
