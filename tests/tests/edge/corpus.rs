//! The attack corpus against the worker: every token case of the shared core's table
//! (shared/tests/data/token_cases.toml) and every request case
//! (shared/tests/data/request_cases.toml).

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
        toml::from_str::<Value>(include_str!("../../../shared/tests/data/trust.toml"))
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
                    k.eq_ignore_ascii_case(name) && v.as_str() == value.as_str().unwrap_or_default()
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
