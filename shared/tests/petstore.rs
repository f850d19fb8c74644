//! The PetStore reference scenario: the decision table (data/petstore_decisions.toml) run
//! through the whole pipeline, and the allowed-actions matrix.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::decision_table::{CaseOutcome, DecisionCase, DecisionTable};
use cedargate::{GateError, Outcome, RequestValues, TokenKind, UnixTime};
use cedargate_test_support::*;
use serde_json::{Map, Value, json};

/// A case's issuer (A, B or C of the test configuration) and claims: those of a valid token of
/// that issuer for alice, with the case's group and claims.
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

/// A case's token, signed by its issuer's test key.
fn token_for(case: &DecisionCase) -> String {
    let (issuer, claims) = claims_for(case);
    let key = if issuer == ISSUER_A {
        "a-rsa-1"
    } else {
        "b-rsa"
    };
    let typ = match case.kind() {
        TokenKind::Access => "at+jwt",
        TokenKind::Id => "JWT",
    };
    mint(&Value::Object(claims), key, typ)
}

fn table() -> DecisionTable {
    toml::from_str(include_str!("data/petstore_decisions.toml")).unwrap()
}

async_test! {
    async fn petstore_decision_table_holds() {
        let table = table();
        assert!(table.case.len() >= 35);
        let backend = backends().remove(0);
        let mut failures = Vec::new();
        for case in &table.case {
            let token = token_for(case);
            let (got, policies, reason) = match authenticate(&token, &backend, NOW).await {
                Err(err) => (CaseOutcome::Unauthenticated, None, Some(err.to_string())),
                Ok((_, principal)) => {
                    let decided = gate().decide(&principal, &case.method, &case.path, &cedargate::RequestValues::at(cedargate::UnixTime(0)));
                    let got = CaseOutcome::of(&decided);
                    match decided {
                        Ok((_, decision)) => (got, Some(decision.policies), None),
                        Err(cedargate::RouteError::Refused(err)) => (got, None, Some(err.to_string())),
                        Err(_) => (got, None, None),
                    }
                }
            };
            let mut problems = Vec::new();
            if Some(got) != case.expect {
                problems.push(format!("expected {:?}, got {got} ({reason:?})", case.expect));
            }
            if case.policies.is_some() && policies != case.policies {
                problems.push(format!("policies {policies:?}, expected {:?}", case.policies));
            }
            if case.reason.is_some() && reason != case.reason {
                problems.push(format!("reason {reason:?}, expected {:?}", case.reason));
            }
            if !problems.is_empty() {
                failures.push(format!("{}: {}", case.name, problems.join("; ")));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}

async_test! {
    async fn the_claims_of_a_token_decide_offline_as_the_verified_token_does() {
        // What `cedargate diff-decisions` relies on: the claims alone, mapped without a token
        // (a what-if principal, which cannot authorize), decide every case as its verified
        // token does, and fail to map where the token's claims fail to map.
        let backend = backends().remove(0);
        let values = RequestValues::at(UnixTime(0));
        let mut compared = 0;
        for case in &table().case {
            let (issuer, claims) = claims_for(case);
            let offline = gate()
                .trust()
                .hypothetical_principal_from_claims(issuer, case.kind(), &claims);
            match authenticate(&token_for(case), &backend, NOW).await {
                Ok((_, principal)) => {
                    let offline = offline.unwrap();
                    assert_eq!(offline.uid(), principal.uid(), "{}", case.name);
                    assert_eq!(
                        gate().what_if_request(&offline, &case.method, &case.path, &values),
                        gate().decide(&principal, &case.method, &case.path, &values),
                        "{}",
                        case.name
                    );
                    compared += 1;
                }
                Err(GateError::Mapping(err)) => {
                    assert_eq!(offline.unwrap_err(), err, "{}", case.name);
                    compared += 1;
                }
                // Refused before the claims are mapped: nothing offline to compare.
                Err(_) => {}
            }
        }
        assert!(compared >= 35, "{compared}");
    }
}

async_test! {
    async fn allowed_actions_match_the_scenario_and_the_per_request_decisions() {
        let backend = backends().remove(0);
        let expectations: [(&[&str], &[&str]); 4] = [
            (&["AVP_Admin"], &["get /", "get /pets", "get /pets/{petId}", "post /pets"]),
            (&["AVP_User"], &["get /", "get /pets", "get /pets/{petId}"]),
            (&["AVP_User", "AVP_Admin"], &["get /", "get /pets", "get /pets/{petId}", "post /pets"]),
            (&[], &[]),
        ];
        for (groups, allowed) in expectations {
            let token = mint(&id_claims("someone", groups, NOW), "a-rsa-1", "JWT");
            let (_, principal) = authenticate(&token, &backend, NOW).await.unwrap();
            let matrix = gate().bundle().allowed_actions(&principal);
            assert_eq!(matrix.len(), 4, "every action of the schema is evaluated");
            let got: Vec<&str> = matrix
                .iter()
                .filter(|a| a.outcome == Some(Outcome::Allow))
                .map(|a| a.action.as_str())
                .collect();
            assert_eq!(got, allowed, "groups {groups:?}");
            for row in &matrix {
                assert_eq!(row.routes, vec![row.action.clone()]);
                let path = row.action.split_once(' ').unwrap().1.replace("{petId}", "7");
                let method = row.action.split_once(' ').unwrap().0;
                let (_, decision) = gate().decide(&principal, method, &path, &cedargate::RequestValues::at(cedargate::UnixTime(0))).unwrap();
                assert_eq!(Some(decision.outcome), row.outcome, "{}", row.action);
                assert_eq!(decision.policies, row.policies, "{}", row.action);
            }
        }
    }
}

async_test! {
    async fn principal_carries_groups_scopes_and_permissions() {
        let backend = backends().remove(0);
        let mut claims = access_claims("carol", NOW);
        claims["scope"] = json!("openid  pets:read pets:read pets:write");
        let token = mint(&claims, "a-rsa-1", "at+jwt");
        let (verified, principal) = authenticate(&token, &backend, NOW).await.unwrap();
        assert_eq!(verified.kind(), TokenKind::Access);
        assert_eq!(verified.subject(), Some("carol"));
        assert_eq!(verified.expires_at(), NOW.offset(3600));
        assert_eq!(principal.uid().to_string(), r#"PetStore::User::"carol""#);
        let user = principal.entities().unwrap().get(principal.uid()).unwrap();
        let scope = user.attr("scope").unwrap().unwrap().to_string();
        assert_eq!(scope, r#"["openid", "pets:read", "pets:write"]"#);
        let permissions = user.attr("permissions").unwrap().unwrap().to_string();
        assert_eq!(permissions, r#"["pets:read"]"#);

        let token = mint(&id_claims("dave", &["AVP_User", "AVP_Admin", "AVP_User"], NOW), "a-rsa-1", "JWT");
        let (_, principal) = authenticate(&token, &backend, NOW).await.unwrap();
        assert_eq!(principal.groups(), ["AVP_User", "AVP_Admin"]);
        assert_eq!(principal.token_kind(), TokenKind::Id);
        assert_eq!(principal.issuer(), ISSUER_A);
    }
}

async_test! {
    async fn prefixes_keep_the_users_and_groups_of_issuers_apart() {
        let backend = backends().remove(0);
        let mut claims = access_claims("erin", NOW);
        claims["iss"] = json!(ISSUER_B);
        claims["group"] = json!(["AVP_Admin"]);
        let token = mint(&claims, "b-rsa", "at+jwt");
        let (_, principal) = authenticate(&token, &backend, NOW).await.unwrap();
        assert_eq!(
            principal.uid().to_string(),
            r#"PetStore::User::"auth.pingone.test/env-b/as|erin""#
        );
        assert_eq!(principal.subject(), "erin");
        assert_eq!(principal.groups(), ["AVP_Admin"]);
        let group: cedar_policy::EntityUid =
            r#"PetStore::UserGroup::"auth.pingone.test/env-b/as|AVP_Admin""#
                .parse()
                .unwrap();
        assert!(principal.entities().unwrap().get(&group).is_some());
        let (_, decision) = gate().decide(&principal, "POST", "/pets", &cedargate::RequestValues::at(cedargate::UnixTime(0))).unwrap();
        assert!(
            !decision.is_allowed(),
            "issuer B's AVP_Admin is not issuer A's group"
        );
    }
}
