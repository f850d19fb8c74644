//! The OpenID AuthZEN search interop scenario (`interop/authzen-search-demo` of
//! github.com/openid/authzen): its test harness's expected results for Subject, Resource and
//! Action Search (`tests/authzen/search/`, vendored unmodified) against the core's decision
//! point over the reference bundle `policies/authzen-search`, compared as that harness
//! compares them (the results as a set, exactly: `certification::search_interop`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedar_policy::EntityUid;
use cedargate::authzen::Pdp;
use cedargate::examples;
use cedargate_test_support::certification;
use serde_json::Value;
use std::collections::BTreeMap;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn search() -> Pdp {
    Pdp::new(
        examples::authzen_search().unwrap(),
        examples::AUTHZEN_SEARCH_MAPPING,
    )
    .unwrap()
}

#[test]
fn the_search_interop_results_hold() {
    let pdp = search();
    let files: [(&str, &str, usize); 3] = [
        (
            "search-subject",
            include_str!("../../tests/authzen/search/subject-results.json"),
            60,
        ),
        (
            "search-resource",
            include_str!("../../tests/authzen/search/resource-results.json"),
            18,
        ),
        (
            "search-action",
            include_str!("../../tests/authzen/search/action-results.json"),
            120,
        ),
    ];
    for (name, text, count) in files {
        let (cases, failures, table) = certification::search_interop(name, text, |body| {
            let answer = match name {
                "search-subject" => pdp.search_subject(body).map(serde_json::to_value),
                "search-resource" => pdp.search_resource(body).map(serde_json::to_value),
                _ => pdp.search_action(body).map(serde_json::to_value),
            };
            answer
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())
        });
        write_table(name, &table);
        assert_eq!(cases, count, "{name}");
        assert!(failures.is_empty(), "{name}: {failures:#?}");
    }
}

/// Every Resource Search of one person at once (`Pdp::permitted_resources`, "which records
/// may I view, edit, delete"): for each of the scenario's users, the records of each action
/// are exactly the interop's expected results for that user's Resource Search.
#[test]
fn what_each_user_may_do_on_the_records_is_the_interop_resource_search() {
    let pdp = search();
    let file: Value = serde_json::from_str(include_str!(
        "../../tests/authzen/search/resource-results.json"
    ))
    .unwrap();
    let mut expected: BTreeMap<String, Vec<(String, String, Vec<String>)>> = BTreeMap::new();
    for case in file["evaluation"].as_array().unwrap() {
        let request = &case["request"];
        let mut ids: Vec<String> = case["expected"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        expected
            .entry(request["subject"]["id"].as_str().unwrap().to_owned())
            .or_default()
            .push((
                request["resource"]["type"].as_str().unwrap().to_owned(),
                request["action"]["name"].as_str().unwrap().to_owned(),
                ids,
            ));
    }
    assert_eq!(expected.len(), 6);
    for (user, mut cases) in expected {
        let uid: EntityUid = format!("Search::User::\"{user}\"").parse().unwrap();
        let found: Vec<(String, String, Vec<String>)> = pdp
            .permitted_resources(&uid)
            .unwrap()
            .into_iter()
            .map(|p| (p.resource_type, p.action, p.ids))
            .collect();
        cases.sort();
        assert_eq!(found, cases, "{user}");
        assert!(found.iter().all(|(_, _, ids)| !ids.is_empty()), "{user}");
    }
}

/// Nothing for a principal the data does not hold, nor for one whose type no AuthZEN
/// subject type maps: an enforcement point's `Client`, say.
#[test]
fn permitted_resources_are_none_for_an_unknown_principal() {
    let pdp = search();
    for uid in [
        r#"Search::User::"mallory""#,
        r#"Search::Client::"inventory""#,
    ] {
        let uid: EntityUid = uid.parse().unwrap();
        assert_eq!(pdp.permitted_resources(&uid).unwrap(), Vec::new(), "{uid}");
    }
}

/// Keeps a results table in `target/authzen/<name>.md`, natively (tests in wasm have no
/// file system to write it to).
fn write_table(name: &str, table: &str) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/authzen");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.md")), table).unwrap();
    }
    #[cfg(target_arch = "wasm32")]
    let _ = (name, table);
}
