//! The schema check a decision skips where it is guaranteed: a principal of a trust bound to
//! this bundle is joined with its entity data without checking the joined entities against
//! the schema again, and the join is kept with the principal (`decision::Bundle::join`).
//! Both paths are compared here over the decision tables; a principal of another bundle's
//! trust is still checked; and the mapping's own schema checks still refuse what they must.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::decision_table::{DecisionCase, DecisionTable};
use cedargate::{
    Bundle, BundleSource, Gate, MappingError, RequestValues, TokenKind, TrustConfig, UnixTime,
};
use cedargate_test_support::*;
use serde_json::{Map, Value, json};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// A case's issuer and claims, as the PetStore table's test makes them.
fn claims_for(case: &DecisionCase) -> (&'static str, Map<String, Value>) {
    let mut base = if case.kind() == TokenKind::Access {
        access_claims("alice", NOW)
    } else {
        id_claims("alice", &[], NOW)
    };
    let issuer = case.issuer(&[ISSUER_A, ISSUER_B, ISSUER_C]).unwrap();
    base["iss"] = json!(issuer);
    (issuer, case.claims(base.as_object().unwrap().clone()))
}

/// Maps `claims` and decides `method target` both ways with `gate` (the join unchecked and
/// kept, and checked): the decisions must be the same. Returns the decision, `None` when the
/// claims do not map or the target does not resolve.
fn compare(
    gate: &Gate,
    issuer: &str,
    kind: TokenKind,
    claims: &Map<String, Value>,
    method: &str,
    target: &str,
) -> Option<cedargate::Decision> {
    let principal = gate
        .trust()
        .insecure_principal_from_claims(issuer, kind, claims)
        .ok()?;
    let route = gate.bundle().resolve(method, target).ok()?;
    let values = RequestValues::at(UnixTime(0));
    let decision = gate.bundle().authorize(&principal, &route, &values);
    assert_eq!(
        decision,
        gate.bundle().authorize_checked(&principal, &route, &values),
        "{method} {target}"
    );
    Some(decision)
}

#[test]
fn both_paths_agree_over_the_petstore_decision_table() {
    let table: DecisionTable =
        toml::from_str(include_str!("data/petstore_decisions.toml")).unwrap();
    let mut decided = 0;
    for case in &table.case {
        let (issuer, claims) = claims_for(case);
        if compare(
            gate(),
            issuer,
            case.kind(),
            &claims,
            &case.method,
            &case.path,
        )
        .is_some()
        {
            decided += 1;
        }
    }
    // Most cases come to a decision; the comparison is not vacuous.
    assert!(decided >= 20, "{decided}");
}

fn todo_source() -> BundleSource {
    BundleSource {
        schema: include_str!("../../policies/authzen-todo/schema.cedarschema").into(),
        policies: include_str!("../../policies/authzen-todo/policies.cedar").into(),
        routes: include_str!("../../policies/authzen-todo/routes.json").into(),
    }
}

#[test]
fn both_paths_agree_over_the_todo_gateway_decisions_with_entity_data() {
    let bundle = Bundle::load_with_entities(
        &todo_source(),
        include_str!("../../policies/authzen-todo/entities.json"),
    )
    .unwrap();
    let config: TrustConfig = serde_json::from_value(json!({ "issuers": [{
        "issuer": ISSUER_A, "token": "access", "audiences": [API_AUDIENCE],
        "group_claim": "roles", "group_type": "Role",
        "claims": [{ "claim": "email", "type": "String" }],
    }] }))
    .unwrap();
    let gate = Gate::new(bundle, &config).unwrap();
    let file: Value = serde_json::from_str(include_str!(
        "../../tests/authzen/interop/gateway-decisions.json"
    ))
    .unwrap();
    let cases = file["evaluation"].as_array().unwrap();
    assert_eq!(cases.len(), 25);
    for case in cases {
        let request = &case["request"];
        let subject = request["subject"]["id"].as_str().unwrap();
        let method = request["action"]["name"].as_str().unwrap();
        let target = request["resource"]["id"]
            .as_str()
            .unwrap()
            .replace("{userId}", "rick%40the-citadel.com")
            .replace("{todoId}", "7");
        // The subject as the token names it; then with a role and an e-mail address of
        // its own, which the join merges with (or finds in conflict with) the data's.
        let plain = json!({ "sub": subject });
        let more = json!({ "sub": subject, "roles": ["viewer"], "email": "rick@the-citadel.com" });
        for (i, claims) in [plain, more].iter().enumerate() {
            let claims = claims.as_object().unwrap();
            let decision =
                compare(&gate, ISSUER_A, TokenKind::Access, claims, method, &target).unwrap();
            if i == 0 {
                let expected = case["expected"].as_bool().unwrap();
                assert_eq!(
                    decision.is_allowed(),
                    expected,
                    "{subject} {method} {target}"
                );
            }
        }
    }
}

/// A bundle of one route, `get /x`, whose schema is `schema` (namespace `App`, with
/// `User` and `Application`), with `policies`.
fn app(schema: &str, policies: &str) -> Bundle {
    Bundle::load(&BundleSource {
        schema: format!("namespace App {{\n{schema}\n}}\n"),
        policies: policies.into(),
        routes: json!({ "namespace": "App", "resource": { "type": "Application", "id": "app" },
            "routes": ["get /x"] })
        .to_string(),
    })
    .unwrap()
}

fn id_config(extra: Value) -> TrustConfig {
    let mut issuer = json!({ "issuer": ISSUER_A, "token": "id", "audiences": [CLIENT_ID] });
    for (k, v) in extra.as_object().unwrap() {
        issuer[k] = v.clone();
    }
    serde_json::from_value(json!({ "issuers": [issuer] })).unwrap()
}

fn map(gate: &Gate, claims: Value) -> Result<cedargate::Principal, MappingError> {
    gate.trust().insecure_principal_from_claims(
        ISSUER_A,
        TokenKind::Id,
        claims.as_object().unwrap(),
    )
}

const PERMIT_ALL: &str = r#"@id("all") permit (principal, action, resource);"#;

#[test]
fn a_principal_of_an_enumerated_type_outside_the_enumeration_is_refused() {
    let bundle = app(
        r#"entity User enum ["alice", "bob"];
        entity Application;
        action "get /x" appliesTo { principal: [User], resource: [Application] };"#,
        PERMIT_ALL,
    );
    let gate = Gate::new(bundle, &id_config(json!({ "group_claim": null }))).unwrap();
    assert!(map(&gate, json!({ "sub": "alice" })).is_ok());
    let err = map(&gate, json!({ "sub": "mallory" })).unwrap_err();
    assert!(matches!(err, MappingError::Schema(_)), "{err:?}");
}

#[test]
fn a_required_attribute_a_built_in_claim_fills_is_refused_without_the_claim() {
    let bundle = app(
        r#"entity UserGroup;
        entity User in [UserGroup] { scope: Set<String> };
        entity Application;
        action "get /x" appliesTo { principal: [User], resource: [Application] };"#,
        PERMIT_ALL,
    );
    let gate = Gate::new(bundle, &id_config(json!({}))).unwrap();
    assert!(map(&gate, json!({ "sub": "alice", "scope": "read" })).is_ok());
    let err = map(&gate, json!({ "sub": "alice" })).unwrap_err();
    assert!(matches!(err, MappingError::Schema(_)), "{err:?}");
}

#[test]
fn a_group_of_a_type_with_required_attributes_is_refused() {
    let bundle = app(
        r#"entity UserGroup { name: String };
        entity User in [UserGroup];
        entity Application;
        action "get /x" appliesTo { principal: [User], resource: [Application] };"#,
        PERMIT_ALL,
    );
    let gate = Gate::new(bundle, &id_config(json!({}))).unwrap();
    assert!(map(&gate, json!({ "sub": "alice" })).is_ok());
    let err = map(&gate, json!({ "sub": "alice", "group": ["admins"] })).unwrap_err();
    assert!(matches!(err, MappingError::Schema(_)), "{err:?}");
}

/// The staged candidate decides the live bundle's principal (the edge's shadow decisions):
/// with the candidate's action entities, not the live schema's that the principal's store
/// was made with.
#[test]
fn another_bundles_principal_is_decided_with_this_bundles_actions() {
    let live = app(
        r#"entity UserGroup;
        entity User in [UserGroup];
        entity Application;
        action "get /x" appliesTo { principal: [User], resource: [Application] };"#,
        r#"@id("x") permit (principal, action == App::Action::"get /x", resource);"#,
    );
    let staged = app(
        r#"entity UserGroup;
        entity User in [UserGroup];
        entity Application;
        action readers;
        action "get /x" in [readers] appliesTo { principal: [User], resource: [Application] };"#,
        r#"@id("readers") permit (principal, action in App::Action::"readers", resource);"#,
    );
    let config = id_config(json!({}));
    let live = Gate::new(live, &config).unwrap();
    let staged = Gate::new(staged, &config).unwrap();
    let values = RequestValues::at(UnixTime(0));
    let own = map(&staged, json!({ "sub": "alice" })).unwrap();
    let (_, expected) = staged.decide(&own, "GET", "/x", &values).unwrap();
    assert!(expected.is_allowed());
    assert_eq!(expected.policies, ["readers"]);
    let theirs = map(&live, json!({ "sub": "alice" })).unwrap();
    let (_, decision) = staged.decide(&theirs, "GET", "/x", &values).unwrap();
    assert_eq!(decision, expected);
}

/// A principal's join with the entity data is kept for the bundle version it was made for:
/// a bundle of the same text with other data gets its own join, before and after.
#[test]
fn the_join_kept_with_a_principal_is_only_used_for_its_bundles_data() {
    let full = Bundle::load_with_entities(
        &todo_source(),
        include_str!("../../policies/authzen-todo/entities.json"),
    )
    .unwrap();
    let roles_only = Bundle::load_with_entities(
        &todo_source(),
        r#"[{ "uid": { "type": "TodoApp::Role", "id": "admin" }, "attrs": {}, "parents": [] }]"#,
    )
    .unwrap();
    assert_eq!(full.text_version(), roles_only.text_version());
    assert_ne!(full.version(), roles_only.version());
    let config: TrustConfig = serde_json::from_value(json!({ "issuers": [{
        "issuer": ISSUER_A, "token": "access", "audiences": [API_AUDIENCE],
        "group_claim": null,
    }] }))
    .unwrap();
    let full = Gate::new(full, &config).unwrap();
    let roles_only = Gate::new(roles_only, &config).unwrap();
    let values = RequestValues::at(UnixTime(0));
    let rick = "CiRmZDA2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs";
    let claims = json!({ "sub": rick });
    let claims = claims.as_object().unwrap();
    let allowed = |gate: &Gate, principal: &cedargate::Principal| {
        let (_, decision) = gate.decide(principal, "POST", "/todos", &values).unwrap();
        decision.is_allowed()
    };
    for first_full in [true, false] {
        let principal = full
            .trust()
            .insecure_principal_from_claims(ISSUER_A, TokenKind::Access, claims)
            .unwrap();
        let order = if first_full {
            [
                (&full, true),
                (&roles_only, false),
                (&full, true),
                (&roles_only, false),
            ]
        } else {
            [
                (&roles_only, false),
                (&full, true),
                (&roles_only, false),
                (&full, true),
            ]
        };
        for (gate, expected) in order {
            assert_eq!(allowed(gate, &principal), expected);
        }
    }
}
