//! The OpenID AuthZEN IdP interop scenario (`interop/authzen-idp`, vendored in
//! `tests/authzen/idp/`) for real: the local PingOne-shaped provider is the IdP
//! (`--authzen-pdp`), and while it mints a person's tokens it asks the worker in workerd
//! (`target/edge-authzen-search`: the search scenario's bundle `policies/authzen-search`
//! compiled in) a Resource Search over HTTP, with a client-credentials token of its own
//! service client (scope `authzen:evaluate`, which the bundle's policies require), and puts
//! the records found in the tokens' `record` claim. Each of the scenario's users signs in
//! (authorization code with PKCE, through the provider's login form) and the claim of the ID
//! token and of the access token must be the scenario's expected records for that user.

use super::*;
use base64ct::{Base64UrlUnpadded, Encoding};
use cedargate_tests::pingone::{LocalProvider, SERVICE_ID};
use sha2::{Digest, Sha256};

const ENV: &str = "env-idp-interop";
/// The provider's defaults for its browser client (`pingone.mjs`).
const SPA: &str = "cedargate-demo-spa";
const REDIRECT: &str = "http://127.0.0.1:8080/callback";

pub struct Idp {
    _provider: LocalProvider,
    _origin: EchoOrigin,
    w: Wrangler,
    issuer: String,
}

pub const CHECKS: &[Check<Idp>] = checks![
    every_users_tokens_carry_the_records_the_decision_point_found,
    the_decision_point_was_asked_over_http_with_the_idps_token,
];

pub fn start() -> Result<Idp, String> {
    let main = built_worker("edge-authzen-search")?;
    // The worker needs the issuer and the provider the worker's address: the provider's
    // port is chosen first, and it starts once the worker listens.
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}/{ENV}/as");
    let origin = EchoOrigin::start()?;
    let mut config = authzen_config(&issuer, &origin, "https://idp-pdp.e2e.test");
    config["request_log"] = json!("all");
    let w = Wrangler::start("edge-idp-pdp", &config, &json!({ "main": main }))?;
    let users = cedargate_tests::root().join("tests/authzen/idp/users.json");
    let extra = [
        "--users-file".to_owned(),
        users.display().to_string(),
        "--service-scope".to_owned(),
        "authzen:evaluate".to_owned(),
        "--authzen-pdp".to_owned(),
        w.url(""),
    ];
    let provider = LocalProvider::start_with(port, ENV, API, &extra)?;
    same(provider.issuer(), issuer.as_str(), "the provider's issuer")?;
    Ok(Idp {
        _provider: provider,
        _origin: origin,
        w,
        issuer,
    })
}

/// The scenario's cases: each user's id and the record ids expected for them, sorted.
fn cases() -> Result<Vec<(String, Vec<String>)>, String> {
    let file: Value = serde_json::from_str(include_str!("../../authzen/idp/results.json"))
        .map_err(|e| e.to_string())?;
    let list = file["search"].as_array().ok_or("results.json: no search")?;
    let mut out = Vec::new();
    for case in list {
        let request = &case["request"];
        same(
            &request["action"]["name"],
            &json!("delete"),
            "a case's action",
        )?;
        same(
            &request["resource"]["type"],
            &json!("record"),
            "a case's type",
        )?;
        let user = request["subject"]["id"]
            .as_str()
            .ok_or("a case without a subject id")?;
        let mut ids = Vec::new();
        for r in case["expected"]["results"].as_array().into_iter().flatten() {
            same(&r["type"], &json!("record"), "an expected result's type")?;
            ids.push(r["id"].as_str().ok_or("a result without an id")?.to_owned());
        }
        ids.sort();
        out.push((user.to_owned(), ids));
    }
    Ok(out)
}

/// The scenario's users and their passwords (`data/users.json`).
fn password_of(user: &str) -> Result<String, String> {
    let users: Value = serde_json::from_str(include_str!("../../authzen/idp/users.json"))
        .map_err(|e| e.to_string())?;
    users
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["id"] == user)
        .and_then(|u| u["password"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| format!("users.json has no {user}"))
}

/// Cookies by name (the provider's are few and distinct; paths are not told apart).
#[derive(Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    fn take(&mut self, reply: &Reply) {
        for (k, v) in &reply.headers {
            if !k.eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let pair = v.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                self.0.retain(|(n, _)| n != name.trim());
                if !value.is_empty() {
                    self.0.push((name.trim().to_owned(), value.to_owned()));
                }
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// `location` of `reply` as an absolute URL of the provider's origin.
fn location(issuer: &str, reply: &Reply) -> Result<String, String> {
    let to = reply
        .header("location")
        .ok_or_else(|| format!("{} without a location: {}", reply.status, reply.text()))?;
    if to.starts_with("http") {
        return Ok(to.to_owned());
    }
    let origin: String = issuer.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
    Ok(format!("{origin}{to}"))
}

/// Signs `user` in as a person would (authorization code with PKCE, the provider's login
/// form) and returns the token response.
fn sign_in(issuer: &str, user: &str, password: &str) -> Result<Value, String> {
    let enc = |s: &str| cedargate::percent::encode_keeping(s, b"");
    let verifier = format!(
        "authzen-idp-interop-pkce-code-verifier-{}-{}-{}",
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed),
        now()
    );
    let challenge = Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes()));
    let mut jar = Jar::default();
    let authorize = format!(
        "{issuer}/authorize?client_id={SPA}&response_type=code&scope=openid&redirect_uri={}\
         &code_challenge={challenge}&code_challenge_method=S256&state=s1",
        enc(REDIRECT)
    );
    let reply = http::get(&authorize, &[])?;
    jar.take(&reply);
    let login = location(issuer, &reply)?;
    ensure(login.contains("/login/"), || {
        format!("authorize sent to {login}")
    })?;
    let form = format!("username={}&password={}", enc(user), enc(password));
    let cookie = jar.header();
    let mut reply = http::send(
        "POST",
        &login,
        &[
            ("cookie", cookie.as_str()),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        Some(form.as_bytes()),
    )?;
    let mut code = None;
    for _ in 0..5 {
        jar.take(&reply);
        ensure(reply.status == 302 || reply.status == 303, || {
            format!("signing {user} in: {} {}", reply.status, reply.text())
        })?;
        let to = location(issuer, &reply)?;
        if let Some(query) = to.strip_prefix(&format!("{REDIRECT}?")) {
            code = query
                .split('&')
                .find_map(|p| p.strip_prefix("code="))
                .map(str::to_owned);
            ensure(code.is_some(), || format!("no code for {user}: {query}"))?;
            break;
        }
        let cookie = jar.header();
        reply = http::get(&to, &[("cookie", cookie.as_str())])?;
    }
    let code = code.ok_or_else(|| format!("no redirect back for {user}"))?;
    let body = format!(
        "grant_type=authorization_code&client_id={SPA}&code={code}&redirect_uri={}&code_verifier={}",
        enc(REDIRECT),
        enc(&verifier)
    );
    let reply = http::send(
        "POST",
        &format!("{issuer}/token"),
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(body.as_bytes()),
    )?;
    ensure(reply.status == 200, || {
        format!("token for {user}: {} {}", reply.status, reply.text())
    })?;
    Ok(reply.json())
}

/// The payload of a JWT (the provider's own tokens; the claim is what is checked here).
fn payload(jwt: &str) -> Result<Value, String> {
    let part = jwt.split('.').nth(1).ok_or("not a JWT")?;
    let bytes = Base64UrlUnpadded::decode_vec(part).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// The `record` claim as sorted ids.
fn records(claims: &Value, what: &str) -> Result<Vec<String>, String> {
    let list = claims["record"]
        .as_array()
        .ok_or_else(|| format!("{what} has no record claim: {}", claims["record"]))?;
    let mut ids = list
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or("a record id that is not a string")
        })
        .collect::<Result<Vec<_>, _>>()?;
    ids.sort();
    Ok(ids)
}

fn every_users_tokens_carry_the_records_the_decision_point_found(s: &Idp) -> Result<(), String> {
    let cases = cases()?;
    let names: Vec<&str> = cases.iter().map(|(u, _)| u.as_str()).collect();
    same(
        names,
        vec!["alice", "bob", "carol", "dan", "erin", "felix"],
        "the scenario's users",
    )?;
    for (user, expected) in &cases {
        let tokens = sign_in(&s.issuer, user, &password_of(user)?)?;
        let id = record(tokens["id_token"].as_str().ok_or("no id_token")?.to_owned());
        let access = record(
            tokens["access_token"]
                .as_str()
                .ok_or("no access_token")?
                .to_owned(),
        );
        let id = payload(&id)?;
        same(&id["sub"], &json!(user), "the ID token's subject")?;
        same(&id["iss"], &json!(s.issuer), "the ID token's issuer")?;
        same(
            &records(&id, &format!("{user}'s ID token"))?,
            expected,
            &format!("{user}'s ID token record claim"),
        )?;
        let access = payload(&access)?;
        same(&access["sub"], &json!(user), "the access token's subject")?;
        same(
            &records(&access, &format!("{user}'s access token"))?,
            expected,
            &format!("{user}'s access token record claim"),
        )?;
    }
    Ok(())
}

/// The worker answered the provider's searches (its request log names the route and the
/// service client), so the claims came from the decision point over HTTP.
fn the_decision_point_was_asked_over_http_with_the_idps_token(s: &Idp) -> Result<(), String> {
    let before = searches(&s.w);
    sign_in(&s.issuer, "carol", &password_of("carol")?)?;
    let after = searches(&s.w);
    // One search for the ID token and one for the access token.
    same(after - before, 2, "searches asked for one sign-in")?;
    Ok(())
}

fn searches(w: &Wrangler) -> usize {
    w.log_lines()
        .iter()
        .filter(|l| {
            l["path"] == "/access/v1/search/resource"
                && l["status"] == 200
                && l["client"] == SERVICE_ID
        })
        .count()
}
