//! Loading bundles: what is refused and where the error points; versions; evaluation errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::{Bundle, BundleError, BundleSource, Gate, Outcome, TrustConfig};
use cedargate_test_support::*;
use serde_json::json;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn petstore() -> BundleSource {
    cedargate::examples::petstore_source()
}

fn with_policies(policies: &str) -> BundleSource {
    BundleSource {
        policies: policies.into(),
        ..petstore()
    }
}

fn load_err(source: &BundleSource) -> BundleError {
    Bundle::load(source).expect_err("bundle must be refused")
}

#[test]
fn the_bundled_example_loads() {
    let bundle = Bundle::load(&petstore()).unwrap();
    assert_eq!(bundle.namespace(), "PetStore");
    assert_eq!(
        bundle.resource().to_string(),
        r#"PetStore::Application::"PetStore""#
    );
    assert_eq!(
        bundle
            .routes()
            .into_iter()
            .map(|entry| entry.route)
            .collect::<Vec<_>>(),
        ["get /", "get /pets", "post /pets", "get /pets/{petId}"]
    );
    let ids: Vec<String> = bundle.policy_ids().into_iter().map(|p| p.id).collect();
    assert_eq!(ids, ["avp-admin-all", "avp-user-all-but-post-pets"]);
}

#[test]
fn version_ignores_formatting_but_not_content() {
    let base = Bundle::load(&petstore()).unwrap();
    let version = base.version().as_str().to_owned();
    assert_eq!(version.len(), 64);
    assert!(
        version
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );

    // Same policies, reordered and reformatted, comments dropped.
    let reformatted = with_policies(
        r#"@id("avp-user-all-but-post-pets") permit(principal in PetStore::UserGroup::"AVP_User", action, resource) unless { action == PetStore::Action::"post /pets" };
           @id("avp-admin-all")
           permit (principal in PetStore::UserGroup::"AVP_Admin", action, resource);"#,
    );
    assert_eq!(
        Bundle::load(&reformatted).unwrap().version().as_str(),
        version
    );
    let mut schema = petstore();
    schema.schema = schema.schema.replace("  ", " ").replace("// ", "//  ");
    let mut routes = petstore();
    routes.routes =
        serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&routes.routes).unwrap())
            .unwrap();
    assert_eq!(Bundle::load(&schema).unwrap().version().as_str(), version);
    assert_eq!(Bundle::load(&routes).unwrap().version().as_str(), version);
    // Routes in another order match the same way, so they are the same bundle.
    let mut reordered = petstore();
    let mut file: serde_json::Value = serde_json::from_str(&reordered.routes).unwrap();
    file["routes"].as_array_mut().unwrap().reverse();
    reordered.routes = file.to_string();
    assert_eq!(
        Bundle::load(&reordered).unwrap().version().as_str(),
        version
    );

    let changed = with_policies(&petstore().policies.replace("AVP_Admin", "Admins"));
    assert_ne!(Bundle::load(&changed).unwrap().version().as_str(), version);
    let mut other_resource = petstore();
    other_resource.routes = other_resource
        .routes
        .replace(r#""id": "PetStore""#, r#""id": "Other""#);
    assert_ne!(
        Bundle::load(&other_resource).unwrap().version().as_str(),
        version
    );
}

/// The version of `policies/petstore` is the same natively and in wasm. Update this value
/// when the example bundle's content changes.
#[test]
fn version_is_the_same_on_every_platform() {
    assert_eq!(
        Bundle::load(&petstore()).unwrap().version().as_str(),
        include_str!("data/petstore_version.txt").trim()
    );
}

#[test]
fn policies_need_unique_ids() {
    let err = load_err(&with_policies(
        "@id(\"a\")\npermit(principal, action, resource);\n\npermit(principal, action, resource);",
    ));
    assert_eq!(err, BundleError::MissingId { line: Some((4, 1)) });
    assert_eq!(
        err.to_string(),
        "policies.cedar:4:1: policy has no @id(\"...\") annotation"
    );

    let err = load_err(&with_policies(
        "@id(\"a\") permit(principal, action, resource);\n@id(\"a\") forbid(principal, action, resource);",
    ));
    assert_eq!(err, BundleError::DuplicateId { id: "a".into() });
}

#[test]
fn syntax_errors_point_at_the_line() {
    let err = load_err(&with_policies(
        "@id(\"a\")\npermit(principal, action, resource)\nwhen { principal. };",
    ));
    match &err {
        BundleError::Policies {
            line: Some((line, _)),
            ..
        } => assert_eq!(*line, 3, "{err}"),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().starts_with("policies.cedar:3:"), "{err}");

    let mut bad_schema = petstore();
    bad_schema.schema = "namespace PetStore {\n  entity User in [Nope];\n}".into();
    let err = load_err(&bad_schema);
    assert!(matches!(err, BundleError::Schema { .. }), "{err:?}");

    let mut bad_routes = petstore();
    bad_routes.routes = "{\n  \"namespace\": \"PetStore\",\n  \"routes\": [,]\n}".into();
    match load_err(&bad_routes) {
        BundleError::Routes {
            line: Some((3, _)), ..
        } => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn policies_are_validated_strictly_against_the_schema() {
    let err = load_err(&with_policies(
        "@id(\"typo\") permit(principal, action == PetStore::Action::\"get /pet\", resource);",
    ));
    match &err {
        BundleError::Validation(problems) => {
            assert_eq!(problems.len(), 1);
            assert!(problems[0].starts_with("policy typo"), "{}", problems[0]);
        }
        other => panic!("{other:?}"),
    }
    let err = load_err(&with_policies(
        "@id(\"attr\") permit(principal, action, resource) when { principal.email == \"a\" };",
    ));
    assert!(matches!(err, BundleError::Validation(_)), "{err:?}");
}

#[test]
fn templates_are_refused() {
    let err = load_err(&with_policies(
        "@id(\"t\") permit(principal == ?principal, action, resource);",
    ));
    assert_eq!(err, BundleError::Templates);
}

fn with_routes(routes: serde_json::Value) -> BundleSource {
    BundleSource {
        routes: routes.to_string(),
        ..petstore()
    }
}

fn route_error(routes: serde_json::Value) -> String {
    match load_err(&with_routes(routes)) {
        BundleError::Route(message) => message,
        other => panic!("{other:?}"),
    }
}

#[test]
fn routes_must_fit_the_schema() {
    let resource = json!({ "type": "Application", "id": "PetStore" });
    let msg = route_error(
        json!({ "namespace": "PetStore", "resource": resource, "routes": ["get /owners"] }),
    );
    assert!(
        msg.contains("action \"get /owners\" is not declared"),
        "{msg}"
    );

    let msg = route_error(
        json!({ "namespace": "PetStore", "resource": { "type": "Nope", "id": "x" }, "routes": [] }),
    );
    assert!(msg.contains("resource type PetStore::Nope"), "{msg}");

    // The schema says pathParameters has petId; the route names it id.
    let msg = route_error(json!({ "namespace": "PetStore", "resource": resource,
        "routes": [{ "route": "get /pets/{id}", "action": "get /pets/{petId}" }] }));
    assert!(msg.contains("pathParameters"), "{msg}");

    let msg = route_error(json!({ "namespace": "PetStore", "resource": resource,
        "routes": ["get /pets", { "route": "get /pets", "action": "get /" }] }));
    assert!(msg.contains("match the same requests"), "{msg}");

    let msg = route_error(
        json!({ "namespace": "PetStore", "resource": resource, "routes": ["GET /pets"] }),
    );
    assert!(msg.contains("lowercase"), "{msg}");

    assert!(matches!(
        load_err(&with_routes(
            json!({ "namespace": "PetStore", "resource": resource, "routes": [], "extra": 1 })
        )),
        BundleError::Routes { .. }
    ));
}

const CONTEXT_SCHEMA: &str = r#"namespace Api {
  entity Group;
  entity User in [Group] { level?: Long };
  entity Service;
  action "get /items" appliesTo { principal: [User], resource: [Service],
    context: { queryStringParameters: { limit?: String } } };
  action "get /items/{id}" appliesTo { principal: [User], resource: [Service],
    context: { pathParameters: { id: String } } };
  action "put /items/{id}" appliesTo { principal: [User], resource: [Service],
    context: { pathParameters: { id: String } } };
  action "delete /items/{id}" appliesTo { principal: [User], resource: [Service],
    context: { pathParameters: { id: String } } };
  action "patch /items/{id}" appliesTo { principal: [User], resource: [Service],
    context: { pathParameters: { id: String } } };
  action "post /items/{id}" appliesTo { principal: [User], resource: [Service],
    context: { pathParameters: { id: String } } };
}"#;

fn context_bundle(policies: &str, routes: serde_json::Value) -> Result<Bundle, BundleError> {
    Bundle::load(&BundleSource {
        schema: CONTEXT_SCHEMA.into(),
        policies: policies.into(),
        routes: routes.to_string(),
    })
}

fn context_routes() -> serde_json::Value {
    json!({ "namespace": "Api", "resource": { "type": "Service", "id": "api" },
            "routes": ["get /items", "any /items/{id}"] })
}

#[test]
fn context_shapes_are_checked_at_load() {
    let permit = "@id(\"p\") permit(principal, action, resource);";
    assert!(context_bundle(permit, context_routes()).is_ok());

    let required_query = CONTEXT_SCHEMA.replace("limit?: String", "limit: String");
    let err = Bundle::load(&BundleSource {
        schema: required_query,
        policies: permit.into(),
        routes: context_routes().to_string(),
    })
    .unwrap_err();
    assert!(
        err.to_string().contains("must be an optional String"),
        "{err}"
    );

    let other_context =
        CONTEXT_SCHEMA.replace("queryStringParameters: { limit?: String }", "ip: String");
    let err = Bundle::load(&BundleSource {
        schema: other_context,
        policies: permit.into(),
        routes: context_routes().to_string(),
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("context attribute ip cannot be filled"),
        "{err}"
    );
}

fn user_gate(bundle: Bundle, claims: &[(&str, &str)]) -> Gate {
    let mut config: TrustConfig = serde_json::from_value(json!({
        "issuers": [{ "issuer": ISSUER_A, "token": "id", "audiences": [CLIENT_ID],
                      "principal_type": "User", "group_type": "Group" }]
    }))
    .unwrap();
    for (claim, ty) in claims {
        config.issuers[0]
            .claims
            .push(serde_json::from_value(json!({ "claim": claim, "type": ty })).unwrap());
    }
    Gate::new(bundle, &config).unwrap()
}

#[test]
fn context_carries_path_and_declared_query_parameters() {
    let bundle = context_bundle(
        r#"@id("own-item") permit(principal, action, resource) when { context has pathParameters && context.pathParameters.id == "mine" };
           @id("small-pages") permit(principal, action == Api::Action::"get /items", resource)
             when { context.queryStringParameters has limit && context.queryStringParameters.limit == "10" };"#,
        context_routes(),
    )
    .unwrap();
    let gate = user_gate(bundle, &[]);
    let principal = gate
        .trust()
        .insecure_principal_from_claims(
            ISSUER_A,
            cedargate::TokenKind::Id,
            &serde_json::from_value(json!({"sub": "u"})).unwrap(),
        )
        .unwrap();
    let decide = |method: &str, path: &str| {
        gate.decide(
            &principal,
            method,
            path,
            &cedargate::RequestValues::at(cedargate::UnixTime(0)),
        )
        .unwrap()
        .1
    };
    assert!(decide("PUT", "/items/mine").is_allowed());
    assert!(!decide("PUT", "/items/yours").is_allowed());
    assert!(decide("GET", "/items?limit=10&other=x").is_allowed());
    assert!(!decide("GET", "/items?limit=11").is_allowed());
    assert!(!decide("GET", "/items").is_allowed());
    assert_eq!(decide("DELETE", "/items/mine").action, "delete /items/{id}");

    // Without request values the matrix can only say "depends".
    let matrix = gate.bundle().allowed_actions(&principal);
    assert_eq!(matrix.len(), 6);
    for row in &matrix {
        assert_eq!(row.outcome, None, "{}", row.action);
        assert!(!row.policies.is_empty(), "{}", row.action);
    }
}

#[test]
fn an_erroring_forbid_denies() {
    let routes = context_routes();
    let policies = r#"@id("everyone") permit(principal, action, resource);
        @id("no-high-levels") forbid(principal, action, resource)
          when { principal has level && principal.level * 1000000000000 > 5 };"#;
    let gate = user_gate(
        context_bundle(policies, routes).unwrap(),
        &[("level", "Long")],
    );
    let principal_with = |level: i64| {
        gate.trust()
            .insecure_principal_from_claims(
                ISSUER_A,
                cedargate::TokenKind::Id,
                &serde_json::from_value(json!({"sub": "u", "level": level})).unwrap(),
            )
            .unwrap()
    };
    // 10^7 * 10^12 overflows: Cedar would skip the forbid and allow; cedargate denies.
    let (_, decision) = gate
        .decide(
            &principal_with(10_000_000),
            "GET",
            "/items",
            &cedargate::RequestValues::at(cedargate::UnixTime(0)),
        )
        .unwrap();
    assert_eq!(decision.outcome, Outcome::Deny);
    assert_eq!(decision.policies, ["no-high-levels"]);
    assert_eq!(decision.errors.len(), 1);
    assert!(
        decision.errors[0].starts_with("no-high-levels: "),
        "{:?}",
        decision.errors
    );
    let matrix = gate.bundle().allowed_actions(&principal_with(10_000_000));
    assert!(matrix.iter().all(|row| row.outcome == Some(Outcome::Deny)));

    // Level 0: the forbid evaluates to false without error.
    let (_, decision) = gate
        .decide(
            &principal_with(0),
            "GET",
            "/items",
            &cedargate::RequestValues::at(cedargate::UnixTime(0)),
        )
        .unwrap();
    assert_eq!(decision.outcome, Outcome::Allow);
    assert_eq!(decision.policies, ["everyone"]);

    // An erroring permit only fails to allow.
    let policies = r#"@id("overflowing") permit(principal, action, resource)
          when { principal has level && principal.level * 1000000000000 > 5 };"#;
    let gate = user_gate(
        context_bundle(policies, context_routes()).unwrap(),
        &[("level", "Long")],
    );
    let principal = gate
        .trust()
        .insecure_principal_from_claims(
            ISSUER_A,
            cedargate::TokenKind::Id,
            &serde_json::from_value(json!({"sub": "u", "level": 10_000_000})).unwrap(),
        )
        .unwrap();
    let (_, decision) = gate
        .decide(
            &principal,
            "GET",
            "/items",
            &cedargate::RequestValues::at(cedargate::UnixTime(0)),
        )
        .unwrap();
    assert_eq!(decision.outcome, Outcome::Deny);
    assert!(decision.policies.is_empty());
    assert_eq!(decision.errors.len(), 1);
}

#[test]
fn a_policy_text_is_found_by_its_id_as_written() {
    let bundle = Bundle::load(&petstore()).unwrap();
    let text = bundle.policy_text("avp-user-all-but-post-pets").unwrap();
    assert!(
        text.starts_with("@id(\"avp-user-all-but-post-pets\")"),
        "{text}"
    );
    assert!(text.contains("PetStore::UserGroup::\"AVP_User\""), "{text}");
    assert!(text.contains("post /pets"), "{text}");
    assert!(text.trim_end().ends_with(';'), "{text}");
    assert!(!text.contains("avp-admin-all"), "{text}");
    assert_eq!(bundle.policy_text("no-such-policy"), None);
    // Every id the bundle lists has its text.
    for entry in bundle.policy_ids() {
        assert!(bundle.policy_text(&entry.id).is_some(), "{}", entry.id);
    }
}

#[test]
fn a_signed_bundle_document_opens_only_for_its_audience() {
    use cedargate::{
        BundleDocument, BundleDocumentError, BundleSigningKey, open_bundle_document_for,
    };
    let key = BundleSigningKey::from_seed([3; 32]).unwrap();
    let public = key.public_key();
    let staging = BundleDocument::new(petstore(), 4).with_audience("staging");
    let signed = key.sign(&staging).unwrap();
    // The audience is inside what is signed.
    assert_eq!(
        open_bundle_document_for(&signed, Some(&public), Some("staging")),
        Ok(staging.clone())
    );
    // Replayed into another deployment that trusts the same key: refused, naming both.
    let err = open_bundle_document_for(&signed, Some(&public), Some("production")).unwrap_err();
    assert_eq!(
        err,
        BundleDocumentError::Audience {
            expected: "production".into(),
            found: Some("staging".into()),
        }
    );
    assert_eq!(
        err.to_string(),
        "bundle document is for audience \"staging\", not \"production\""
    );
    // A signed document without an audience binds to no deployment: refused.
    let unbound = key.sign(&BundleDocument::new(petstore(), 4)).unwrap();
    assert_eq!(
        open_bundle_document_for(&unbound, Some(&public), Some("production"))
            .unwrap_err()
            .to_string(),
        "bundle document names no audience, not \"production\""
    );
    // A key without an audience to check is refused rather than taken unbound.
    assert_eq!(
        open_bundle_document_for(&signed, Some(&public), None),
        Err(BundleDocumentError::NoAudience)
    );
    // The signature still comes first: another key's document is a bad signature whatever
    // its audience.
    let other = BundleSigningKey::from_seed([4; 32]).unwrap();
    assert_eq!(
        open_bundle_document_for(
            &other.sign(&staging).unwrap(),
            Some(&public),
            Some("staging")
        ),
        Err(BundleDocumentError::BadSignature)
    );
    // Unsigned documents: an audience configured is checked too; without one, as before.
    let plain = serde_json::to_string(&staging).unwrap();
    assert_eq!(
        open_bundle_document_for(&plain, None, None),
        Ok(staging.clone())
    );
    assert!(matches!(
        open_bundle_document_for(&plain, None, Some("production")),
        Err(BundleDocumentError::Audience { .. })
    ));
    // The document's member is left out when there is none, so older readers read it.
    assert!(
        !serde_json::to_string(&BundleDocument::new(petstore(), 4))
            .unwrap()
            .contains("audience")
    );
    assert!(cedargate::check_bundle_audience("production").is_ok());
    for bad in ["", " staging", "pro duction", "a\"b", &"x".repeat(129)] {
        assert!(cedargate::check_bundle_audience(bad).is_err(), "{bad:?}");
    }
}
