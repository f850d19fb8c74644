//! The second reference bundle, `policies/petstore-access`: access tokens only, scopes per
//! operation, a permission for creating pets, groups delivered in the access token by a
//! custom claim, and an inventory service that may only read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::{Bundle, BundleSource, Gate, TokenErrorKind, TrustConfig};
use cedargate_test_support::*;
use serde_json::{Value, json};

fn bundle() -> Bundle {
    Bundle::load(&BundleSource {
        schema: include_str!("../../policies/petstore-access/schema.cedarschema").into(),
        policies: include_str!("../../policies/petstore-access/policies.cedar").into(),
        routes: include_str!("../../policies/petstore-access/routes.json").into(),
    })
    .unwrap()
}

/// The trust configuration the services guide (docs/src/howto/services.md) shows for this
/// bundle: a person's access tokens with their groups in a custom `groups` claim, and
/// services with client credentials.
fn gate() -> Gate {
    Gate::new(bundle(), &access_trust()).unwrap()
}

fn access_trust() -> TrustConfig {
    serde_json::from_value(json!({ "issuers": [
        { "issuer": ISSUER_A, "token": "access", "caller": "user", "audiences": [API_AUDIENCE],
          "token_type": "at+jwt", "group_claim": "groups" },
        { "issuer": ISSUER_A, "token": "access", "caller": "client", "audiences": [API_AUDIENCE],
          "token_type": "at+jwt", "group_claim": null },
    ] }))
    .unwrap()
}

fn person(groups: &[&str], scope: &str, permissions: &[&str]) -> Value {
    json!({
        "iss": ISSUER_A, "aud": [API_AUDIENCE], "sub": "alice", "client_id": "petstore-spa",
        "groups": groups, "scope": scope, "p1.permissions": permissions,
        "iat": NOW.seconds() - 10, "exp": NOW.seconds() + 3600,
    })
}

fn service(client_id: &str, scope: &str) -> Value {
    json!({
        "iss": ISSUER_A, "aud": [API_AUDIENCE], "client_id": client_id, "scope": scope,
        "iat": NOW.seconds() - 10, "exp": NOW.seconds() + 3600,
    })
}

const ACTIONS: [(&str, &str); 5] = [
    ("GET", "/"),
    ("GET", "/health"),
    ("GET", "/pets"),
    ("POST", "/pets"),
    ("GET", "/pets/7"),
];

/// What each of the five operations decides for a token, as a string of `A` (allowed) and
/// `-` (denied), in `ACTIONS` order; or the refusal.
async fn row(claims: &Value) -> Result<String, String> {
    let gate = gate();
    let token = mint(claims, "a-rsa-1", "at+jwt");
    let backend = backends().remove(0);
    let (_, principal) = gate
        .authenticate(&token, key_sets(), &backend, NOW)
        .await
        .map_err(|e| match e {
            cedargate::AuthError::Refused(cedargate::GateError::Token(t)) => {
                t.kind().as_str().to_owned()
            }
            other => other.to_string(),
        })?;
    Ok(ACTIONS
        .iter()
        .map(|(method, target)| {
            let (_, decision) = gate
                .decide(
                    &principal,
                    method,
                    target,
                    &cedargate::RequestValues::at(cedargate::UnixTime(0)),
                )
                .unwrap();
            if decision.is_allowed() { 'A' } else { '-' }
        })
        .collect())
}

async_test! {
    async fn the_access_bundle_decides_by_scope_permission_group_and_caller() {
        let all = "pets:read pets:write";
        let table: [(&str, Value, &str); 11] = [
            ("admin with every scope and the permission", person(&["AVP_Admin"], all, &["pets:create"]), "AAAAA"),
            ("admin without pets:write", person(&["AVP_Admin"], "pets:read", &["pets:create"]), "AAA-A"),
            ("admin without the permission", person(&["AVP_Admin"], all, &[]), "AAA-A"),
            ("admin with no scope at all", person(&["AVP_Admin"], "", &["pets:create"]), "-A---"),
            ("user with every scope and the permission", person(&["AVP_User"], all, &["pets:create"]), "AAA-A"),
            ("user with pets:write only", person(&["AVP_User"], "pets:write", &[]), "-A---"),
            ("nobody's group", person(&["Guests"], all, &["pets:create"]), "-A---"),
            ("the inventory service", service("inventory", "pets:read"), "-AA-A"),
            ("the inventory service without its scope", service("inventory", "openid"), "-A---"),
            ("the inventory service asking for more", service("inventory", all), "-AA-A"),
            ("another service", service("billing", all), "-A---"),
        ];
        for (case, claims, expected) in table {
            assert_eq!(row(&claims).await, Ok(expected.to_owned()), "{case}");
        }
    }
}

async_test! {
    async fn scopes_fail_closed() {
        // No `scope` claim: nothing needs it less than everything does.
        let mut no_scope = person(&["AVP_Admin"], "", &["pets:create"]);
        no_scope.as_object_mut().unwrap().remove("scope");
        assert_eq!(row(&no_scope).await, Ok("-A---".to_owned()));
        // A `scope` that is not a space-separated string is refused, not read.
        let mut listed = person(&["AVP_Admin"], "", &["pets:create"]);
        listed["scope"] = json!(["pets:read", "pets:write"]);
        let refused = row(&listed).await.unwrap_err();
        assert!(refused.contains("scope"), "{refused}");
        // An ID token is not an access token, whatever it carries.
        let mut id_token = person(&["AVP_Admin"], "", &[]);
        id_token.as_object_mut().unwrap().remove("client_id");
        id_token.as_object_mut().unwrap().remove("scope");
        id_token["nonce"] = json!("n");
        assert_eq!(
            row(&id_token).await,
            Err(TokenErrorKind::WrongTokenKind.as_str().to_owned())
        );
    }
}

/// The decision for one request of the token `claims` (the access bundle, optionally with
/// more policies).
async fn decision_for(
    claims: &Value,
    method: &str,
    target: &str,
    more: &str,
) -> cedargate::Decision {
    let source = bundle().source().unwrap().clone();
    let bundle = Bundle::load(&BundleSource {
        policies: format!("{}{more}", source.policies),
        ..source
    })
    .unwrap();
    let gate = Gate::new(bundle, &access_trust()).unwrap();
    let token = mint(claims, "a-rsa-1", "at+jwt");
    let backend = backends().remove(0);
    let (_, principal) = gate
        .authenticate(&token, key_sets(), &backend, NOW)
        .await
        .unwrap();
    gate.decide(
        &principal,
        method,
        target,
        &cedargate::RequestValues::at(NOW),
    )
    .unwrap()
    .1
}

async_test! {
    async fn a_deny_only_missing_scopes_caused_names_the_scopes_to_ask_for() {
        let admin = |scope: &str| person(&["AVP_Admin"], scope, &["pets:create"]);
        // Without pets:read: the scope forbid alone denies, and with the scope it would allow.
        let d = decision_for(&admin("pets:write"), "GET", "/pets", "").await;
        assert!(!d.is_allowed());
        assert_eq!(d.policies, ["requires-scopes-get-pets"]);
        assert_eq!(d.required_scopes, ["pets:read"]);
        assert_eq!(d.step_up, None);
        let d = decision_for(&admin("pets:read"), "POST", "/pets", "").await;
        assert_eq!(d.required_scopes, ["pets:write"]);
        let d = decision_for(&service("inventory", "openid"), "GET", "/pets/7", "").await;
        assert_eq!(d.required_scopes, ["pets:read"]);
        // Allowed: nothing to ask for, and the wire form has no member for it.
        let d = decision_for(&admin("pets:read"), "GET", "/pets", "").await;
        assert!(d.is_allowed());
        assert!(d.required_scopes.is_empty());
        let wire = serde_json::to_value(&d).unwrap();
        assert!(wire.get("required_scopes").is_none(), "{wire}");
        // The wire form of a decision from before the member reads as one without scopes.
        let old: cedargate::Decision = serde_json::from_value(json!({
            "action": "get /pets", "outcome": "deny", "policies": [], "errors": []
        }))
        .unwrap();
        assert!(old.required_scopes.is_empty());
        // A missing permission denies too: more scopes would not help.
        let d = decision_for(&person(&["AVP_Admin"], "pets:read", &[]), "POST", "/pets", "").await;
        assert!(d.policies.contains(&"requires-permissions-post-pets".to_owned()), "{:?}", d.policies);
        assert!(d.required_scopes.is_empty());
        // No permit for the caller: the scope would not help either.
        let d = decision_for(&person(&["Guests"], "", &[]), "GET", "/pets", "").await;
        assert_eq!(d.policies, ["requires-scopes-get-pets"]);
        assert!(d.required_scopes.is_empty());
        let d = decision_for(&service("inventory", "openid"), "POST", "/pets", "").await;
        assert!(d.required_scopes.is_empty());
    }
}

async_test! {
    async fn missing_scopes_and_a_step_up_are_asked_for_together() {
        let step_up = r#"
@id("people-post-after-a-fresh-sign-in")
@step_up_max_age("0")
forbid (principal is PetStore::User, action == PetStore::Action::"post /pets", resource);
"#;
        let admin = |scope: &str| person(&["AVP_Admin"], scope, &["pets:create"]);
        // Both denied it, and meeting both would allow: both are named.
        let d = decision_for(&admin("pets:read"), "POST", "/pets", step_up).await;
        assert_eq!(d.policies, ["people-post-after-a-fresh-sign-in", "requires-scopes-post-pets"]);
        assert_eq!(d.required_scopes, ["pets:write"]);
        assert_eq!(d.step_up, Some(cedargate::StepUp { acr_values: vec![], max_age: Some(0) }));
        // With the scope, the step-up alone.
        let d = decision_for(&admin("pets:read pets:write"), "POST", "/pets", step_up).await;
        assert!(d.required_scopes.is_empty());
        assert!(d.step_up.is_some());
        // A plain forbid beside them: neither is asked for.
        let blocked = format!(
            "{step_up}\n@id(\"no-posting\")\nforbid (principal, action == PetStore::Action::\"post /pets\", resource);\n"
        );
        let d = decision_for(&admin("pets:read"), "POST", "/pets", &blocked).await;
        assert!(d.required_scopes.is_empty());
        assert_eq!(d.step_up, None);
    }
}

#[test]
fn required_scopes_annotations_are_checked_when_loaded() {
    let with = |annotation: &str, effect: &str| {
        let source = bundle().source().unwrap().clone();
        Bundle::load(&BundleSource {
            policies: format!(
                "{}\n@id(\"x\")\n{annotation}\n{effect} (principal, action == PetStore::Action::\"get /pets\", resource);\n",
                source.policies
            ),
            ..source
        })
    };
    let refused = |annotation: &str, effect: &str, needle: &str| match with(annotation, effect) {
        Err(cedargate::BundleError::RequiredScopes { id, reason }) => {
            assert_eq!(id, "x");
            assert!(reason.contains(needle), "{annotation}: {reason}");
        }
        other => panic!("{annotation} {effect}: {other:?}"),
    };
    refused(
        "@required_scopes(\"pets:read\")",
        "permit",
        "belongs on a forbid",
    );
    refused("@required_scopes(\"\")", "forbid", "empty");
    refused("@required_scopes(\"  \")", "forbid", "empty");
    refused("@required_scopes(\"a\\\\b\")", "forbid", "scope token");
    refused("@required_scopes(\"a\\\"b\")", "forbid", "scope token");
    refused(
        "@required_scopes(\"pets:read\tpets:write\")",
        "forbid",
        "scope token",
    );
    refused("@required_scopes(\"pets:réad\")", "forbid", "scope token");
    refused("@required_scopes(\"a  b\")", "forbid", "one space");
    let err = with("@required_scopes(\"permit\")", "permit")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("policies.cedar: policy x: @required_scopes"),
        "{err}"
    );
    assert!(with("@required_scopes(\"pets:read pets:write\")", "forbid").is_ok());
    // The reference bundle's scope forbids carry what they require.
    let bundle = bundle();
    let annotated: Vec<(String, String)> = bundle
        .policies()
        .policies()
        .filter_map(|p| {
            Some((
                p.id().to_string(),
                p.annotation("required_scopes")?.to_owned(),
            ))
        })
        .collect();
    assert_eq!(annotated.len(), 4, "{annotated:?}");
    assert!(annotated.contains(&("requires-scopes-post-pets".into(), "pets:write".into())));
}

async_test! {
    async fn the_public_route_is_decided_for_the_anonymous_principal_without_a_token() {
        let gate = gate();
        let bundle = gate.bundle();
        assert_eq!(
            bundle.anonymous_principal().map(ToString::to_string).as_deref(),
            Some(r#"PetStore::Anonymous::"anonymous""#)
        );
        let public: Vec<String> =
            bundle.routes().into_iter().filter(|r| r.public).map(|r| r.route).collect();
        assert_eq!(public, ["get /health"]);

        let (route, decision) = gate.decide_anonymous("GET", "/health", &cedargate::RequestValues::at(cedargate::UnixTime(0))).unwrap();
        assert!(route.public);
        assert!(decision.is_allowed());
        assert_eq!(decision.policies, ["public-get-health"]);
        // Every other request without a token needs one: it is never decided.
        for (method, target) in [
            ("GET", "/"),
            ("GET", "/pets"),
            ("POST", "/pets"),
            ("GET", "/pets/7"),
            ("POST", "/health"),
            ("GET", "/health/x"),
            ("GET", "/nowhere"),
            ("GET", "/%2e%2e/health"),
        ] {
            assert!(gate.decide_anonymous(method, target, &cedargate::RequestValues::at(cedargate::UnixTime(0))).is_none(), "{method} {target}");
        }
        // The policies still decide: a forbid on the anonymous principal denies.
        let source = bundle.source().unwrap();
        let closed = Bundle::load(&BundleSource {
            policies: format!(
                "{}\n@id(\"no-anonymous\")\nforbid (principal is PetStore::Anonymous, action, resource);\n",
                source.policies
            ),
            ..source.clone()
        })
        .unwrap();
        let route = closed.resolve("GET", "/health").unwrap();
        let decision = closed.authorize_anonymous(&route, &cedargate::RequestValues::at(cedargate::UnixTime(0))).unwrap();
        assert!(!decision.is_allowed());
        assert_eq!(decision.policies, ["no-anonymous"]);
        // The ID-token PetStore has no public route and so no anonymous principal.
        let petstore = cedargate::examples::petstore().unwrap();
        assert!(petstore.anonymous_principal().is_none());
        let route = petstore.resolve("GET", "/").unwrap();
        assert!(!route.public);
        assert!(petstore.authorize_anonymous(&route, &cedargate::RequestValues::at(cedargate::UnixTime(0))).is_none());
    }
}

#[test]
fn a_public_route_needs_the_anonymous_principal_declared_and_allowed() {
    let source = bundle().source().unwrap().clone();
    let load = |schema: &str, routes: &str| {
        Bundle::load(&BundleSource {
            schema: schema.to_owned(),
            routes: routes.to_owned(),
            ..source.clone()
        })
        .map(|_| ())
        .map_err(|e| e.to_string())
    };
    let no_type = source.schema.replace("  entity Anonymous;\n", "");
    let no_type_policies = source.policies.clone();
    // Without the type the policies do not validate either; route errors come first only
    // when they do, so this checks the schema with the routes alone.
    let err = Bundle::load(&BundleSource {
        schema: no_type.replace(
            "principal: [User, Client, Anonymous]",
            "principal: [User, Client]",
        ),
        policies: no_type_policies,
        routes: source.routes.clone(),
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("is public, but the schema declares no entity type PetStore::Anonymous"),
        "{err}"
    );
    let not_applying = source.schema.replace(
        "principal: [User, Client, Anonymous]",
        "principal: [User, Client]",
    );
    let err = load(&not_applying, &source.routes).unwrap_err();
    assert!(
        err.contains(r#"route "get /health" is public, but action "get /health" does not apply to principal type PetStore::Anonymous"#),
        "{err}"
    );
    let with_attribute = source
        .schema
        .replace("entity Anonymous;", "entity Anonymous { ip: String };");
    let err = load(&with_attribute, &source.routes).unwrap_err();
    assert!(err.contains("the anonymous principal"), "{err}");
    let misspelt = source
        .routes
        .replace(r#""public": true"#, r#""publik": true"#);
    let err = load(&source.schema, &misspelt).unwrap_err();
    assert!(err.contains("routes.json"), "{err}");
    // Making a route public changes the bundle's version.
    let closed = source.routes.replace(
        r#"{ "route": "get /health", "public": true }"#,
        r#""get /health""#,
    );
    let closed = Bundle::load(&BundleSource {
        routes: closed,
        ..source.clone()
    })
    .unwrap();
    assert_ne!(closed.version(), bundle().version());
    assert!(closed.anonymous_principal().is_none());
}

async_test! {
    async fn each_allowed_action_says_which_scopes_permissions_and_groups_it_relies_on() {
        let gate = gate();
        let token = mint(&person(&["AVP_Admin", "Guests"], "pets:read pets:write openid", &["pets:create", "pets:read"]), "a-rsa-1", "at+jwt");
        let backend = backends().remove(0);
        let (verified, principal) = gate.authenticate(&token, key_sets(), &backend, NOW).await.unwrap();
        let relied = gate.reliances(&verified, &principal).unwrap();
        let text = |action: &str| -> Vec<String> {
            relied[action].iter().map(|r| format!("{} {}", r.claim, r.value)).collect()
        };
        assert_eq!(relied.keys().collect::<Vec<_>>(), ["get /", "get /health", "get /pets", "get /pets/{petId}", "post /pets"]);
        assert_eq!(text("post /pets"), ["groups AVP_Admin", "scope pets:write", "p1.permissions pets:create"]);
        assert_eq!(text("get /pets"), ["groups AVP_Admin", "scope pets:read"]);
        // Public: nothing in the token is needed.
        assert!(text("get /health").is_empty());

        // A service relies on its scope and on nothing else it carries.
        let token = mint(&service("inventory", "pets:read pets:write"), "a-rsa-1", "at+jwt");
        let (verified, principal) = gate.authenticate(&token, key_sets(), &backend, NOW).await.unwrap();
        let relied = gate.reliances(&verified, &principal).unwrap();
        assert_eq!(relied.keys().collect::<Vec<_>>(), ["get /health", "get /pets", "get /pets/{petId}"]);
        assert_eq!(relied["get /pets/{petId}"], [cedargate::Reliance { claim: "scope".into(), value: "pets:read".into() }]);
    }
}

async_test! {
    async fn a_what_if_changes_set_claims_only_and_decides_offline() {
        use cedargate::{Outcome, WhatIfError};
        use std::collections::BTreeMap;
        let gate = gate();
        let backend = backends().remove(0);
        let token = mint(&person(&["AVP_User"], "pets:read pets:write", &["pets:read"]), "a-rsa-1", "at+jwt");
        let (verified, principal) = gate.authenticate(&token, key_sets(), &backend, NOW).await.unwrap();
        let claims = gate.trust().set_claims(&verified).unwrap();
        let shown: Vec<(&str, Vec<&str>, bool, bool)> = claims
            .iter()
            .map(|c| (c.claim.as_str(), c.values.iter().map(String::as_str).collect(), c.space_separated, c.group))
            .collect();
        assert_eq!(shown, [
            ("groups", vec!["AVP_User"], false, true),
            ("scope", vec!["pets:read", "pets:write"], true, false),
            ("p1.permissions", vec!["pets:read"], false, false),
        ]);
        let outcome = |rows: &[cedargate::ActionDecision], action: &str| {
            rows.iter().find(|r| r.action == action).and_then(|r| r.outcome)
        };
        let real = gate.bundle().allowed_actions(&principal);
        assert_eq!(outcome(&real, "post /pets"), Some(Outcome::Deny));

        let replace = |pairs: &[(&str, &[&str])]| -> BTreeMap<String, Vec<String>> {
            pairs.iter().map(|(c, v)| (c.to_string(), v.iter().map(|s| s.to_string()).collect())).collect()
        };
        // As an admin with pets:create, post /pets is allowed, by the admins' policy.
        let admin = gate
            .trust()
            .hypothetical_principal(&verified, &replace(&[("groups", &["AVP_User", "AVP_Admin"]), ("p1.permissions", &["pets:read", "pets:create"])]))
            .unwrap();
        assert_eq!(admin.uid(), principal.uid());
        let rows = gate.what_if(&admin);
        assert_eq!(outcome(&rows, "post /pets"), Some(Outcome::Allow));
        let post = rows.iter().find(|r| r.action == "post /pets").unwrap();
        assert_eq!(post.policies, ["avp-admin-all"]);
        // Without the scope, the scope's forbid decides.
        let no_scope = gate.trust().hypothetical_principal(&verified, &replace(&[("scope", &[])])).unwrap();
        let rows = gate.what_if(&no_scope);
        assert_eq!(outcome(&rows, "get /pets"), Some(Outcome::Deny));
        assert_eq!(rows.iter().find(|r| r.action == "get /pets").unwrap().policies, ["requires-scopes-get-pets"]);
        // The real token's decision is untouched.
        assert_eq!(outcome(&gate.bundle().allowed_actions(&principal), "post /pets"), Some(Outcome::Deny));

        // Only set-valued claims change, with values that could be in a token.
        let err = |pairs: &[(&str, &[&str])]| gate.trust().hypothetical_principal(&verified, &replace(pairs)).unwrap_err();
        assert_eq!(err(&[("sub", &["mallory"])]), WhatIfError::NotASetClaim("sub".into()));
        assert_eq!(err(&[("client_id", &["x"])]), WhatIfError::NotASetClaim("client_id".into()));
        assert!(matches!(err(&[("scope", &["pets:read pets:write"])]), WhatIfError::BadValue { .. }));
        assert!(matches!(err(&[("groups", &[""])]), WhatIfError::BadValue { .. }));
        assert!(matches!(err(&[("groups", &["a\u{0}b"])]), WhatIfError::BadValue { .. }));
        let long = "g".repeat(cedargate::MAX_WHAT_IF_VALUE_BYTES + 1);
        assert!(matches!(err(&[("groups", &[long.as_str()])]), WhatIfError::BadValue { .. }));
    }
}
