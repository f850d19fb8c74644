//! The request case table (data/request_cases.toml) at the shared core: what each raw path
//! and method becomes. The same table runs against the worker in workerd
//! (tests/tests/edge.rs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use cedargate::{RouteError, TokenKind};
use serde::Deserialize;
use serde_json::json;
use support::*;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[derive(Debug, Deserialize)]
struct Table {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Case {
    name: String,
    user: String,
    method: String,
    path: String,
    #[serde(default)]
    headers: Vec<(String, String)>,
    core: String,
    edge: u16,
    #[serde(default)]
    origin_path: Option<String>,
    #[serde(default)]
    origin_method: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

/// `<repeat:c:n>` in a path stands for `c` repeated `n` times.
fn expand(path: &str) -> String {
    let Some(start) = path.find("<repeat:") else {
        return path.to_owned();
    };
    let end = path[start..].find('>').unwrap() + start;
    let mut parts = path[start + 8..end].split(':');
    let (text, count) = (
        parts.next().unwrap(),
        parts.next().unwrap().parse().unwrap(),
    );
    format!(
        "{}{}{}",
        &path[..start],
        text.repeat(count),
        &path[end + 1..]
    )
}

#[test]
fn every_request_case_holds_at_the_shared_core() {
    let table: Table = toml::from_str(include_str!("data/request_cases.toml")).unwrap();
    assert!(table.case.len() >= 25);
    let mut failures = Vec::new();
    for case in &table.case {
        let group = match case.user.as_str() {
            "admin" => "AVP_Admin",
            "user" => "AVP_User",
            other => panic!("unknown user {other}"),
        };
        let claims = serde_json::from_value(json!({ "sub": case.user, "group": [group] })).unwrap();
        let principal = gate()
            .trust()
            .insecure_principal_from_claims(ISSUER_A, TokenKind::Id, &claims)
            .unwrap();
        let got = match gate().decide(&principal, &case.method, &expand(&case.path)) {
            Ok((_, d)) if d.is_allowed() => "allow",
            Ok(_) => "deny",
            Err(RouteError::NoRoute) => "no_route",
            Err(RouteError::Refused(_)) => "refused",
        };
        if got != case.core {
            failures.push(format!("{}: expected {}, got {got}", case.name, case.core));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
