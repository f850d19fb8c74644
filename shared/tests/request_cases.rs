//! The request case table (data/request_cases.toml) at the shared core: what each raw path
//! and method becomes. The same table runs against the worker in workerd
//! (tests/tests/edge/corpus.rs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::{RouteError, TokenKind};
use cedargate_test_support::requests::{expand, table};
use cedargate_test_support::*;
use serde_json::json;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[test]
fn every_request_case_holds_at_the_shared_core() {
    let table = table();
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
        let decided = gate().decide(
            &principal,
            &case.method,
            &expand(&case.path),
            &cedargate::RequestValues::at(cedargate::UnixTime(0)),
        );
        if let (Ok((route, _)), Some(query)) = (&decided, &case.origin_query)
            && route.query.as_ref() != Some(query)
        {
            failures.push(format!("{}: query to forward {:?}", case.name, route.query));
        }
        let got = match decided {
            Ok((_, d)) if d.is_allowed() => "allow",
            Ok(_) => "deny",
            Err(RouteError::NoRoute) => "no_route",
            Err(RouteError::MethodNotAllowed { .. }) => "method_not_allowed",
            Err(RouteError::Refused(_)) => "refused",
        };
        if got != case.core {
            failures.push(format!("{}: expected {}, got {got}", case.name, case.core));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
