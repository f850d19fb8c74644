//! The OpenID AuthZEN search interop scenario (`interop/authzen-search-demo` of
//! github.com/openid/authzen): its test harness's expected results for Subject, Resource and
//! Action Search (`tests/authzen/search/`, vendored unmodified) against the core's decision
//! point over the reference bundle `policies/authzen-search`, compared as that harness
//! compares them (the results as a set, exactly).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::authzen::Pdp;
use cedargate::{Bundle, BundleSource};
use serde_json::Value;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn search() -> Pdp {
    let source = BundleSource {
        schema: include_str!("../../policies/authzen-search/schema.cedarschema").into(),
        policies: include_str!("../../policies/authzen-search/policies.cedar").into(),
        routes: include_str!("../../policies/authzen-search/routes.json").into(),
    };
    let entities = include_str!("../../policies/authzen-search/entities.json");
    let bundle = Bundle::load_with_entities(&source, entities).unwrap();
    Pdp::new(
        bundle,
        include_str!("../../policies/authzen-search/authzen.json"),
    )
    .unwrap()
}

/// A result set as the harness compares it: each result's JSON, sorted.
fn as_set(results: &Value) -> Vec<String> {
    let mut out: Vec<String> = results
        .as_array()
        .map(|items| items.iter().map(Value::to_string).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// Runs one file's cases through `ask`; the failures, and a PASS/FAIL table.
fn run(
    name: &str,
    text: &str,
    ask: impl Fn(&[u8]) -> Result<Value, String>,
) -> (usize, Vec<String>, String) {
    let file: Value = serde_json::from_str(text).unwrap();
    let cases = file["evaluation"].as_array().unwrap();
    let mut failures = Vec::new();
    let mut table = format!("# {name}\n\n| # | request | result |\n|---|---|---|\n");
    for (i, case) in cases.iter().enumerate() {
        let request = case["request"].to_string();
        let verdict = match ask(request.as_bytes()) {
            Ok(answer) if as_set(&answer["results"]) == as_set(&case["expected"]["results"]) => {
                "PASS"
            }
            Ok(answer) => {
                failures.push(format!(
                    "{request}: {answer}, expected {}",
                    case["expected"]
                ));
                "FAIL"
            }
            Err(err) => {
                failures.push(format!("{request}: {err}"));
                "ERROR"
            }
        };
        table.push_str(&format!("| {} | `{request}` | {verdict} |\n", i + 1));
    }
    (cases.len(), failures, table)
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
        let (cases, failures, table) = run(name, text, |body| {
            let answer = match name {
                "search-subject" => pdp.search_subject(body).map(serde_json::to_value),
                "search-resource" => pdp.search_resource(body).map(serde_json::to_value),
                _ => pdp.search_action(body).map(serde_json::to_value),
            };
            answer
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())
        });
        #[cfg(not(target_arch = "wasm32"))]
        {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/authzen");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("{name}.md")), &table).unwrap();
        }
        assert_eq!(cases, count, "{name}");
        assert!(failures.is_empty(), "{name}: {failures:#?}");
    }
}
