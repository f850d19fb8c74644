//! Decisions shared between principals nothing in a bundle can tell apart
//! (`cedargate::sharing`, `Gate::decision_key`): both paths (a principal's own decision, and
//! the verdict of another principal of the same key) are compared over the decision table
//! for every reference bundle in `policies/`; the soundness check says no where a policy,
//! the schema or the entity data could tell principals apart; and the key is made before the
//! principal's Cedar entities are built. And the principal's store, made without recomputing
//! the transitive closure, is the one cedar-policy makes, over the same tables.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::decision_table::{DecisionCase, DecisionTable};
use cedargate::sharing::Distinguishing;
use cedargate::{Bundle, BundleSource, Gate, RequestValues, TokenKind, TrustConfig, UnixTime};
use cedargate_test_support::*;
use serde_json::{Map, Value, json};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn folder(name: &str) -> BundleSource {
    let read = |file: &str| match (name, file) {
        ("petstore", "schema") => include_str!("../../policies/petstore/schema.cedarschema"),
        ("petstore", "policies") => include_str!("../../policies/petstore/policies.cedar"),
        ("petstore", _) => include_str!("../../policies/petstore/routes.json"),
        ("petstore-access", "schema") => {
            include_str!("../../policies/petstore-access/schema.cedarschema")
        }
        ("petstore-access", "policies") => {
            include_str!("../../policies/petstore-access/policies.cedar")
        }
        ("petstore-access", _) => include_str!("../../policies/petstore-access/routes.json"),
        ("petstore-context", "schema") => {
            include_str!("../../policies/petstore-context/schema.cedarschema")
        }
        ("petstore-context", "policies") => {
            include_str!("../../policies/petstore-context/policies.cedar")
        }
        ("petstore-context", _) => include_str!("../../policies/petstore-context/routes.json"),
        ("authzen-todo", "schema") => {
            include_str!("../../policies/authzen-todo/schema.cedarschema")
        }
        ("authzen-todo", "policies") => include_str!("../../policies/authzen-todo/policies.cedar"),
        ("authzen-todo", "entities") => include_str!("../../policies/authzen-todo/entities.json"),
        ("authzen-todo", _) => include_str!("../../policies/authzen-todo/routes.json"),
        ("authzen-cert", "schema") => {
            include_str!("../../policies/authzen-cert/schema.cedarschema")
        }
        ("authzen-cert", "policies") => include_str!("../../policies/authzen-cert/policies.cedar"),
        ("authzen-cert", "entities") => include_str!("../../policies/authzen-cert/entities.json"),
        ("authzen-cert", _) => include_str!("../../policies/authzen-cert/routes.json"),
        ("authzen-search", "schema") => {
            include_str!("../../policies/authzen-search/schema.cedarschema")
        }
        ("authzen-search", "policies") => {
            include_str!("../../policies/authzen-search/policies.cedar")
        }
        ("authzen-search", "entities") => {
            include_str!("../../policies/authzen-search/entities.json")
        }
        ("authzen-search", _) => include_str!("../../policies/authzen-search/routes.json"),
        _ => panic!("no folder {name}"),
    };
    BundleSource {
        schema: read("schema").into(),
        policies: read("policies").into(),
        routes: read("routes").into(),
    }
}

/// The reference bundle `name`, with its entity data when it has some.
fn reference(name: &str) -> Bundle {
    let source = folder(name);
    if name.starts_with("authzen") {
        let entities = match name {
            "authzen-todo" => include_str!("../../policies/authzen-todo/entities.json"),
            "authzen-cert" => include_str!("../../policies/authzen-cert/entities.json"),
            _ => include_str!("../../policies/authzen-search/entities.json"),
        };
        Bundle::load_with_entities(&source, entities).unwrap()
    } else {
        Bundle::load(&source).unwrap()
    }
}

/// The tests' trust configuration for the PetStore bundles; for the AuthZEN ones, users of
/// issuer A's access tokens with the group claim of the bundle's group type, if any.
fn config_for(name: &str) -> TrustConfig {
    let group_type = match name {
        "authzen-todo" | "authzen-cert" => json!("Role"),
        "authzen-search" => Value::Null,
        _ => return trust_config(),
    };
    let group_claim = if group_type.is_null() {
        Value::Null
    } else {
        json!("roles")
    };
    serde_json::from_value(json!({ "issuers": [{
        "issuer": ISSUER_A, "token": "access", "audiences": [API_AUDIENCE],
        "group_claim": group_claim, "group_type": group_type,
    }] }))
    .unwrap()
}

/// A case's issuer and claims, as the PetStore table's test makes them, for subject `sub`.
fn claims_for(case: &DecisionCase, sub: &str) -> (&'static str, Map<String, Value>) {
    let mut base = if case.kind() == TokenKind::Access {
        access_claims(sub, NOW)
    } else {
        id_claims(sub, &[], NOW)
    };
    let issuer = case.issuer(&[ISSUER_A, ISSUER_B, ISSUER_C]).unwrap();
    base["iss"] = json!(issuer);
    let mut claims = case.claims(base.as_object().unwrap().clone());
    if let Some(group) = claims.get("group").cloned() {
        claims.insert("roles".into(), group);
    }
    (issuer, claims)
}

/// A route template with a value in each parameter.
fn target_of(template: &str) -> String {
    template
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "7"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The table's requests, and one request of each route of the gate's bundle.
fn requests_of(gate: &Gate, table: &DecisionTable) -> Vec<(String, String)> {
    let mut requests: Vec<(String, String)> = table
        .case
        .iter()
        .map(|case| (case.method.clone(), case.path.clone()))
        .collect();
    for route in gate.bundle().routes() {
        let (method, template) = route.route.split_once(' ').unwrap();
        requests.push((method.to_uppercase(), target_of(template)));
    }
    requests
}

/// For each case of the table and each route of the bundle, principals of the same claims
/// but subjects `alice` and `bob` are mapped and decided. Where the gate gives them a
/// decision key, the keys are equal, and the verdict alice's key would share is bob's own
/// decision: the shared path and the per-principal path agree. Returns how many verdicts
/// were shared.
fn compare_paths(name: &str, table: &DecisionTable) -> usize {
    let gate = Gate::new(reference(name), &config_for(name)).unwrap();
    let values = RequestValues::at(UnixTime(0));
    let requests = requests_of(&gate, table);
    let mut shared = 0;
    for case in &table.case {
        let (issuer, alice_claims) = claims_for(case, "alice");
        let (_, bob_claims) = claims_for(case, "bob");
        let map = |claims: &Map<String, Value>| {
            gate.trust()
                .insecure_principal_from_claims(issuer, case.kind(), claims)
                .ok()
        };
        let (Some(alice), Some(bob)) = (map(&alice_claims), map(&bob_claims)) else {
            continue;
        };
        assert_eq!(alice.shape(), bob.shape(), "{name}: {}", case.name);
        for (method, target) in &requests {
            let Ok(route) = gate.route(method, target) else {
                continue;
            };
            let key = gate.decision_key(&alice, &route);
            assert_eq!(
                key,
                gate.decision_key(&bob, &route),
                "{name}: {method} {target}"
            );
            let theirs = gate.decide_route(&alice, route.clone(), &values);
            let own = gate.decide_route(&bob, route, &values);
            if key.is_some() && theirs.shareable() {
                assert_eq!(
                    theirs.decision, own.decision,
                    "{name}: {}: {method} {target}",
                    case.name
                );
                assert_eq!(theirs.route, own.route);
                shared += 1;
            }
        }
    }
    shared
}

fn table() -> DecisionTable {
    toml::from_str(include_str!("data/petstore_decisions.toml")).unwrap()
}

#[test]
fn both_paths_agree_over_the_decision_table_for_every_reference_bundle() {
    let table = table();
    let user = |ty: &str| -> Result<(), Distinguishing> {
        Gate::new(reference(ty), &config_for(ty))
            .unwrap()
            .sharing(match ty {
                "authzen-todo" => "TodoApp::User",
                "authzen-cert" => "Cert::User",
                "authzen-search" => "Search::User",
                _ => "PetStore::User",
            })
    };
    // The PetStore bundles share; the comparison is not vacuous there.
    for name in ["petstore", "petstore-access", "petstore-context"] {
        assert_eq!(user(name), Ok(()), "{name}");
        let shared = compare_paths(name, &table);
        assert!(shared >= 20, "{name}: {shared}");
    }
    // The AuthZEN bundles' users are told apart (users in users, a record's owner, users in
    // the data): none is shared.
    assert!(matches!(
        user("authzen-todo"),
        Err(Distinguishing::SchemaType { .. })
    ));
    assert!(matches!(
        user("authzen-cert"),
        Err(Distinguishing::EntityData { .. })
    ));
    assert!(matches!(
        user("authzen-search"),
        Err(Distinguishing::SchemaType { .. })
    ));
    for name in ["authzen-todo", "authzen-cert", "authzen-search"] {
        assert_eq!(compare_paths(name, &table), 0, "{name}");
    }
}

/// A principal's store is made without recomputing the transitive closure
/// (`principal::closed_store`): over the decision table, for every reference bundle, it is
/// the store cedar-policy makes, and every request is decided alike with both.
#[test]
fn the_store_made_without_the_closure_is_cedars_over_every_reference_bundle() {
    let table = table();
    let values = RequestValues::at(UnixTime(0));
    let mut compared = 0;
    for name in [
        "petstore",
        "petstore-access",
        "petstore-context",
        "authzen-todo",
        "authzen-cert",
        "authzen-search",
    ] {
        let gate = Gate::new(reference(name), &config_for(name)).unwrap();
        let requests = requests_of(&gate, &table);
        for case in &table.case {
            let (issuer, claims) = claims_for(case, "alice");
            let Ok(principal) =
                gate.trust()
                    .insecure_principal_from_claims(issuer, case.kind(), &claims)
            else {
                continue;
            };
            let recomputed = principal.with_entities_recomputed().unwrap();
            assert_eq!(
                principal.entities().unwrap(),
                recomputed.entities().unwrap(),
                "{name}: {}",
                case.name
            );
            for (method, target) in &requests {
                let Ok(route) = gate.route(method, target) else {
                    continue;
                };
                assert_eq!(
                    gate.decide_route(&principal, route.clone(), &values)
                        .decision,
                    gate.decide_route(&recomputed, route, &values).decision,
                    "{name}: {}: {method} {target}",
                    case.name
                );
                compared += 1;
            }
        }
    }
    assert!(compared >= 500, "{compared}");
}

/// A bundle of one route, `get /x`, in namespace `App` with `schema` and `policies`, and
/// with `entities` as its entity data when given.
fn app(schema: &str, policies: &str, entities: Option<Value>) -> Bundle {
    let source = BundleSource {
        schema: format!("namespace App {{\n{schema}\n}}\n"),
        policies: policies.into(),
        routes: json!({ "namespace": "App", "resource": { "type": "Application", "id": "app" },
            "routes": ["get /x"] })
        .to_string(),
    };
    match entities {
        Some(data) => Bundle::load_with_entities(&source, &data.to_string()).unwrap(),
        None => Bundle::load(&source).unwrap(),
    }
}

const SCHEMA: &str = r#"entity Group;
    entity User in [Group] { level?: Long };
    entity Application;
    action "get /x" appliesTo { principal: [User], resource: [Application] };"#;

const PERMIT_ALL: &str = r#"@id("all") permit (principal, action, resource);"#;

fn sharing(bundle: Bundle) -> Result<(), Distinguishing> {
    let config: TrustConfig = serde_json::from_value(json!({ "issuers": [{
        "issuer": ISSUER_A, "token": "id", "audiences": [CLIENT_ID], "group_type": "Group",
    }] }))
    .unwrap();
    Gate::new(bundle, &config).unwrap().sharing("App::User")
}

#[test]
fn nothing_that_tells_users_apart_lets_their_decisions_be_shared() {
    assert_eq!(sharing(app(SCHEMA, PERMIT_ALL, None)), Ok(()));
    let group_literal = r#"@id("g") permit (principal in App::Group::"staff", action, resource);"#;
    assert_eq!(sharing(app(SCHEMA, group_literal, None)), Ok(()));
}

#[test]
fn a_policy_naming_a_user_is_a_no() {
    let policies = [
        r#"@id("p") permit (principal == App::User::"alice", action, resource);"#,
        r#"@id("p") permit (principal in App::User::"alice", action, resource);"#,
        r#"@id("p") permit (principal, action, resource) when { principal == App::User::"alice" };"#,
        r#"@id("p") forbid (principal, action, resource) when { [App::User::"bob"].contains(principal) };"#,
    ];
    for policy in policies {
        assert_eq!(
            sharing(app(SCHEMA, &format!("{PERMIT_ALL}\n{policy}"), None)),
            Err(Distinguishing::PolicyLiteral { policy: "p".into() }),
            "{policy}"
        );
    }
}

#[test]
fn a_schema_that_can_refer_to_a_user_is_a_no() {
    let schemas = [
        // An attribute typed as the principal's type: `resource.owner == principal`.
        r#"entity Group;
        entity User in [Group];
        entity Application { owner: User };
        action "get /x" appliesTo { principal: [User], resource: [Application] };"#,
        // In a set, in a record, in a common type.
        r#"type Owners = { list: Set<User> };
        entity Group { owners: Owners };
        entity User in [Group];
        entity Application;
        action "get /x" appliesTo { principal: [User], resource: [Application] };"#,
        // A type whose members a user may be above (users in users too).
        r#"entity Group;
        entity User in [Group, User];
        entity Application;
        action "get /x" appliesTo { principal: [User], resource: [Application] };"#,
        r#"entity Group;
        entity User in [Group];
        entity Application in [User];
        action "get /x" appliesTo { principal: [User], resource: [Application] };"#,
        // Tags.
        r#"entity Group tags User;
        entity User in [Group];
        entity Application;
        action "get /x" appliesTo { principal: [User], resource: [Application] };"#,
    ];
    for schema in schemas {
        assert!(
            matches!(
                sharing(app(schema, PERMIT_ALL, None)),
                Err(Distinguishing::SchemaType { .. })
            ),
            "{schema}"
        );
    }
}

/// An enumerated principal type: the schema check refuses an id off the list, so a token's
/// id decides whether it is decided at all (a shared verdict would skip that refusal).
#[test]
fn an_enumerated_principal_type_is_a_no() {
    let bundle = app(
        r#"entity User enum ["alice", "bob"];
        entity Application;
        action "get /x" appliesTo { principal: [User], resource: [Application] };"#,
        PERMIT_ALL,
        None,
    );
    let config: TrustConfig = serde_json::from_value(json!({ "issuers": [{
        "issuer": ISSUER_A, "token": "id", "audiences": [CLIENT_ID], "group_claim": null,
    }] }))
    .unwrap();
    let gate = Gate::new(bundle, &config).unwrap();
    assert!(matches!(
        gate.sharing("App::User"),
        Err(Distinguishing::SchemaType { .. })
    ));
    let route = gate.route("GET", "/x").unwrap();
    let alice = gate
        .trust()
        .insecure_principal_from_claims(
            ISSUER_A,
            TokenKind::Id,
            json!({ "sub": "alice" }).as_object().unwrap(),
        )
        .unwrap();
    assert!(gate.decision_key(&alice, &route).is_none());
}

#[test]
fn entity_data_holding_or_naming_a_user_is_a_no() {
    let user =
        json!([{ "uid": { "type": "App::User", "id": "alice" }, "attrs": {}, "parents": [] }]);
    assert_eq!(
        sharing(app(SCHEMA, PERMIT_ALL, Some(user))),
        Err(Distinguishing::EntityData {
            entity: r#"App::User::"alice""#.into()
        })
    );
    let groups_only =
        json!([{ "uid": { "type": "App::Group", "id": "staff" }, "attrs": {}, "parents": [] }]);
    assert_eq!(sharing(app(SCHEMA, PERMIT_ALL, Some(groups_only))), Ok(()));
}

/// Where the check says no, sharing would be wrong: two users of the same shape, one named
/// by a policy, are decided apart, and neither gets a key.
#[test]
fn principals_a_policy_tells_apart_get_no_key_and_their_own_decisions() {
    let policies = r#"@id("alice") permit (principal == App::User::"alice", action, resource);"#;
    let config: TrustConfig = serde_json::from_value(json!({ "issuers": [{
        "issuer": ISSUER_A, "token": "id", "audiences": [CLIENT_ID], "group_type": "Group",
    }] }))
    .unwrap();
    let gate = Gate::new(app(SCHEMA, policies, None), &config).unwrap();
    let values = RequestValues::at(UnixTime(0));
    let route = gate.route("GET", "/x").unwrap();
    let decide = |sub: &str| {
        let claims = json!({ "sub": sub, "group": ["staff"] });
        let principal = gate
            .trust()
            .insecure_principal_from_claims(ISSUER_A, TokenKind::Id, claims.as_object().unwrap())
            .unwrap();
        assert!(gate.decision_key(&principal, &route).is_none());
        gate.decide_route(&principal, route.clone(), &values)
            .decision
            .is_allowed()
    };
    assert!(decide("alice"));
    assert!(!decide("bob"));
}

async_test! {
    async fn the_key_is_made_before_the_principals_entities_are_built() {
        let backend = backends().remove(0);
        let token = mint(&id_claims("grace", &["AVP_User"], NOW), "a-rsa-1", "JWT");
        let (_, principal) = gate()
            .authenticate_deferred_with(cedargate::Credentials::token(&token), key_sets(), &backend, NOW)
            .await
            .unwrap();
        assert!(!principal.is_built());
        let route = gate().route("GET", "/pets").unwrap();
        let key = gate().decision_key(&principal, &route);
        assert!(key.is_some());
        assert!(!principal.is_built(), "the key needs no Cedar entity");
        // The same token through `authenticate` is built, and gets the same key.
        let (_, built) = authenticate(&token, &backend, NOW).await.unwrap();
        assert!(built.is_built());
        assert_eq!(gate().decision_key(&built, &route), key);
        // A decision builds them.
        let verdict = gate().decide_route(&principal, route, &RequestValues::at(UnixTime(0)));
        assert!(verdict.decision.is_allowed());
        assert!(principal.is_built());
    }
}
