//! The OpenID AuthZEN search interop scenario over HTTP (`target/edge-authzen-search`: the
//! reference bundle `policies/authzen-search` compiled in): the working group's expected
//! Subject, Resource and Action Search results (`tests/authzen/search/`) asked of the worker
//! in workerd with a policy enforcement point's token, each file writing its table to
//! `target/authzen/search-<kind>-workerd.md`.

use super::*;
use cedargate_test_support::certification;
use cedargate_tests::pingone::LocalProvider;

pub struct Search {
    _provider: LocalProvider,
    _origin: EchoOrigin,
    w: Wrangler,
    issuer: String,
}

pub const CHECKS: &[Check<Search>] = checks![the_search_interop_results_hold_at_the_edge];

pub fn start() -> Result<Search, String> {
    let main = built_worker("edge-authzen-search")?;
    let provider = LocalProvider::start("env-search-pdp", API)?;
    let issuer = provider.issuer().to_owned();
    let origin = EchoOrigin::start()?;
    let config = authzen_config(&issuer, &origin, "https://search-pdp.e2e.test");
    let w = Wrangler::start("edge-search-pdp", &config, &json!({ "main": main }))?;
    Ok(Search {
        _provider: provider,
        _origin: origin,
        w,
        issuer,
    })
}

fn the_search_interop_results_hold_at_the_edge(s: &Search) -> Result<(), String> {
    let token = access_token(
        &s.issuer,
        json!({ "client_id": "search-pep", "scope": "authzen:evaluate" }),
    );
    let auth = bearer(&token);
    let files: [(&str, &str, &str, usize); 3] = [
        (
            "search-subject",
            "/access/v1/search/subject",
            include_str!("../../authzen/search/subject-results.json"),
            60,
        ),
        (
            "search-resource",
            "/access/v1/search/resource",
            include_str!("../../authzen/search/resource-results.json"),
            18,
        ),
        (
            "search-action",
            "/access/v1/search/action",
            include_str!("../../authzen/search/action-results.json"),
            120,
        ),
    ];
    let dir = cedargate_tests::root().join("target/authzen");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    for (name, path, text, count) in files {
        let (cases, failures, table) = certification::search_interop(
            &format!("{name} (the worker in workerd)"),
            text,
            |body| {
                let headers = [
                    ("authorization", auth.as_str()),
                    ("content-type", "application/json"),
                ];
                let reply = http::send("POST", &s.w.url(path), &headers, Some(body))?;
                if reply.status != 200 {
                    return Err(format!("{} {}", reply.status, reply.text()));
                }
                serde_json::from_slice(&reply.body).map_err(|e| e.to_string())
            },
        );
        std::fs::write(dir.join(format!("{name}-workerd.md")), &table)
            .map_err(|e| e.to_string())?;
        same(cases, count, &format!("{name}: cases"))?;
        ensure(failures.is_empty(), || format!("{name}: {failures:#?}"))?;
    }
    Ok(())
}
