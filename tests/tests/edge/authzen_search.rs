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

pub const CHECKS: &[Check<Search>] = checks![
    the_search_interop_results_hold_at_the_edge,
    the_bundle_endpoint_tells_a_person_which_records_they_may_act_on
];

pub fn start() -> Result<Search, String> {
    let main = built_worker("edge-authzen-search")?;
    let provider = LocalProvider::start("env-search-pdp", API)?;
    let issuer = provider.issuer().to_owned();
    let origin = EchoOrigin::start()?;
    let mut config = authzen_config(&issuer, &origin, "https://search-pdp.e2e.test");
    config["bundle_endpoint"] = json!(true);
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

/// The bundle endpoint tells a person what the decision point's Resource Search finds for
/// them (ids only): alice's records are the interop's expected results for her, per action;
/// someone the data does not hold, and a service, get no list.
fn the_bundle_endpoint_tells_a_person_which_records_they_may_act_on(
    s: &Search,
) -> Result<(), String> {
    let document = |claims: Value| -> Result<cedargate::wire::BundleEndpoint, String> {
        let token = access_token(&s.issuer, claims);
        let reply = call(&s.w, "GET", cedargate::wire::BUNDLE_PATH, Some(&token))?;
        same(reply.status, 200, "the bundle endpoint")?;
        serde_json::from_slice(&reply.body).map_err(|e| e.to_string())
    };
    let interop: Value =
        serde_json::from_str(include_str!("../../authzen/search/resource-results.json"))
            .map_err(|e| e.to_string())?;
    let mut expected: Vec<(String, String, Vec<String>)> = Vec::new();
    for case in interop["evaluation"].as_array().into_iter().flatten() {
        let request = &case["request"];
        if request["subject"]["id"] != "alice" {
            continue;
        }
        let mut ids: Vec<String> = case["expected"]["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["id"].as_str().map(str::to_owned))
            .collect();
        ids.sort();
        expected.push((
            request["resource"]["type"]
                .as_str()
                .unwrap_or("?")
                .to_owned(),
            request["action"]["name"].as_str().unwrap_or("?").to_owned(),
            ids,
        ));
    }
    expected.sort();
    same(expected.len(), 3, "the interop's cases for alice")?;
    let alice = document(json!({ "sub": "alice", "client_id": "search-app" }))?;
    let found: Vec<(String, String, Vec<String>)> = alice
        .permitted_resources
        .clone()
        .ok_or("alice's document lists no records")?
        .into_iter()
        .map(|p| (p.resource_type, p.action, p.ids))
        .collect();
    same(found, expected, "alice's records")?;
    // Her own entity only: no record, nobody else.
    let ids: Vec<String> = alice
        .entities
        .unwrap_or_default()
        .iter()
        .map(|e| {
            format!(
                "{}::{}",
                e["uid"]["type"].as_str().unwrap_or("?"),
                e["uid"]["id"].as_str().unwrap_or("?")
            )
        })
        .collect();
    same(
        ids,
        vec!["Search::Api::pdp".to_owned(), "Search::User::alice".into()],
        "alice's entity data",
    )?;
    let stranger = document(json!({ "sub": "mallory", "client_id": "search-app" }))?;
    same(stranger.permitted_resources, None, "mallory's records")?;
    let service = document(json!({ "client_id": "search-pep", "scope": "authzen:evaluate" }))?;
    same(service.permitted_resources, None, "a service's records")
}
