//! Both tokens in one decision (`IssuerConfig::companion`, issue 35): the access bundle
//! (`policies/petstore-access`) with a person's access token in `Authorization` and the ID
//! token beside it, groups from the ID token and scopes, permissions and client from the
//! access token; every refusal by its reason code; the configurations refused at bind; the
//! pair's decisions shared soundly; and the pair decision table
//! (`data/access_pair_decisions.toml`), by verified tokens and offline.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::decision_table::{CaseOutcome, DecisionTable};
use cedargate::{
    AuthError, Bundle, BundleSource, ConfigError, Credentials, Gate, GateError, Principal,
    RequestValues, TokenKind, TrustConfig, UnixTime, VerifiedToken,
};
use cedargate_test_support::*;
use serde_json::{Value, json};

const HEADER: &str = "x-cedargate-id-token";

fn bundle() -> Bundle {
    Bundle::load(&BundleSource {
        schema: include_str!("../../policies/petstore-access/schema.cedarschema").into(),
        policies: include_str!("../../policies/petstore-access/policies.cedar").into(),
        routes: include_str!("../../policies/petstore-access/routes.json").into(),
    })
    .unwrap()
}

/// The configuration the both-tokens guide (docs/src/howto/both-tokens.md) shows: people
/// with their access token and ID token, services with client credentials.
fn pair_trust() -> Value {
    json!({ "issuers": [
        { "issuer": ISSUER_A, "token": "access", "caller": "user", "audiences": [API_AUDIENCE],
          "token_type": "at+jwt",
          "companion": { "token": "id", "audiences": [CLIENT_ID] } },
        { "issuer": ISSUER_A, "token": "access", "caller": "client", "audiences": [API_AUDIENCE],
          "token_type": "at+jwt", "group_claim": null },
    ] })
}

fn gate_of(config: Value) -> Result<Gate, ConfigError> {
    let config: TrustConfig = serde_json::from_value(config).unwrap();
    Gate::new(bundle(), &config)
}

fn gate() -> Gate {
    gate_of(pair_trust()).unwrap()
}

/// A person's access token: scopes and permissions, and a `group` claim of its own that the
/// mapping must not read (groups come from the ID token).
fn access(sub: &str, scope: &str, permissions: &[&str]) -> Value {
    json!({
        "iss": ISSUER_A, "aud": [API_AUDIENCE], "sub": sub, "client_id": CLIENT_ID,
        "scope": scope, "p1.permissions": permissions, "group": ["AVP_Admin"],
        "iat": NOW.seconds() - 10, "exp": NOW.seconds() + 3600,
    })
}

fn id(sub: &str, groups: &[&str]) -> Value {
    id_claims(sub, groups, NOW)
}

fn at(claims: &Value) -> String {
    mint(claims, "a-rsa-1", "at+jwt")
}

fn idt(claims: &Value) -> String {
    mint(claims, "a-rsa-1", "JWT")
}

async fn pair_with(
    gate: &Gate,
    token: &str,
    companions: &[(&str, &str)],
) -> Result<(VerifiedToken, Principal), String> {
    let backend = backends().remove(0);
    gate.authenticate_with(Credentials { token, companions }, key_sets(), &backend, NOW)
        .await
        .map_err(|err| match err {
            AuthError::Refused(e) | AuthError::Keys(e) => e.reason().to_owned(),
        })
}

async fn pair(token: &str, companion: &str) -> Result<(VerifiedToken, Principal), String> {
    pair_with(&gate(), token, &[(HEADER, companion)]).await
}

const ACTIONS: [(&str, &str); 5] = [
    ("GET", "/"),
    ("GET", "/health"),
    ("GET", "/pets"),
    ("POST", "/pets"),
    ("GET", "/pets/7"),
];

fn row(gate: &Gate, principal: &Principal) -> String {
    ACTIONS
        .iter()
        .map(|(method, target)| {
            let (_, decision) = gate
                .decide(principal, method, target, &RequestValues::at(UnixTime(0)))
                .unwrap();
            if decision.is_allowed() { 'A' } else { '-' }
        })
        .collect()
}

async_test! {
    async fn groups_come_from_the_id_token_and_scopes_from_the_access_token() {
        let all = "pets:read pets:write";
        let gate = gate();
        let table: [(&str, Value, Value, &str); 5] = [
            ("admin", access("alice", all, &["pets:create"]), id("alice", &["AVP_Admin"]), "AAAAA"),
            ("admin without pets:write", access("alice", "pets:read", &["pets:create"]), id("alice", &["AVP_Admin"]), "AAA-A"),
            // The access token's own `group` claim says AVP_Admin: not read.
            ("user", access("bob", all, &["pets:create"]), id("bob", &["AVP_User"]), "AAA-A"),
            ("nobody's group", access("bob", all, &["pets:create"]), id("bob", &[]), "-A---"),
            // Scopes in the ID token are not read: it has none to give.
            ("admin, no scope in the access token", access("alice", "", &[]), id("alice", &["AVP_Admin"]), "-A---"),
        ];
        for (case, a, i, expected) in table {
            let (verified, principal) = pair(&at(&a), &idt(&i)).await.unwrap();
            assert_eq!(row(&gate, &principal), expected, "{case}");
            assert_eq!(principal.client(), Some(CLIENT_ID), "{case}");
            assert_eq!(verified.kind(), TokenKind::Access);
            assert_eq!(verified.companion().map(VerifiedToken::kind), Some(TokenKind::Id));
        }
        // The principal's groups are the ID token's.
        let (_, principal) = pair(&at(&access("bob", all, &[])), &idt(&id("bob", &["AVP_User"]))).await.unwrap();
        assert_eq!(principal.groups(), ["AVP_User".to_owned()]);
        assert_eq!(principal.subject(), "bob");
    }
}

async_test! {
    async fn a_pair_expires_with_its_first_token() {
        let mut i = id("alice", &["AVP_Admin"]);
        i["exp"] = json!(NOW.seconds() + 120);
        let (verified, _) = pair(&at(&access("alice", "pets:read", &[])), &idt(&i)).await.unwrap();
        assert_eq!(verified.expires_at(), UnixTime(NOW.seconds() + 120));
        let mut a = access("alice", "pets:read", &[]);
        a["exp"] = json!(NOW.seconds() + 60);
        let (verified, _) = pair(&at(&a), &idt(&id("alice", &[]))).await.unwrap();
        assert_eq!(verified.expires_at(), UnixTime(NOW.seconds() + 60));
    }
}

async_test! {
    async fn a_missing_or_unexpected_companion_is_refused() {
        let token = at(&access("alice", "pets:read", &[]));
        let gate = gate();
        // The access token alone, by every entry point.
        assert_eq!(pair_with(&gate, &token, &[]).await.unwrap_err(), "companion_missing");
        let backend = backends().remove(0);
        let alone = gate.authenticate(&token, key_sets(), &backend, NOW).await.unwrap_err();
        assert!(matches!(&alone, AuthError::Refused(e) if e.reason() == "companion_missing"), "{alone:?}");
        // A principal cannot be mapped from the access token alone either.
        let verifier = gate.trust().verifier();
        let jwt = verifier.parse(&token).unwrap();
        let verified = verifier.verify(&jwt, &key_sets()[ISSUER_A], &backend, NOW).await.unwrap();
        assert_eq!(
            GateError::from(gate.trust().principal(&verified).unwrap_err()).reason(),
            "companion_missing"
        );
        // The companion in a header its entry does not read, or beside the right one.
        let companion = idt(&id("alice", &["AVP_Admin"]));
        assert_eq!(
            pair_with(&gate, &token, &[("x-cedargate-other-token", &companion)]).await.unwrap_err(),
            "companion_missing"
        );
        assert_eq!(
            pair_with(&gate, &token, &[(HEADER, &companion), ("x-cedargate-other-token", &companion)])
                .await
                .unwrap_err(),
            "companion_unexpected"
        );
        // A service's token takes no companion: one sent with it is refused.
        let service = at(&json!({
            "iss": ISSUER_A, "aud": [API_AUDIENCE], "client_id": "inventory", "scope": "pets:read",
            "iat": NOW.seconds() - 10, "exp": NOW.seconds() + 3600,
        }));
        assert_eq!(pair_with(&gate, &service, &[(HEADER, &companion)]).await.unwrap_err(), "companion_unexpected");
        let (_, principal) = pair_with(&gate, &service, &[]).await.unwrap();
        assert_eq!(principal.client(), Some("inventory"));
    }
}

async_test! {
    async fn a_companion_of_another_person_issuer_or_client_is_a_mismatch() {
        let token = at(&access("alice", "pets:read", &[]));
        // Another subject.
        assert_eq!(pair(&token, &idt(&id("mallory", &["AVP_Admin"]))).await.unwrap_err(), "companion_mismatch");
        let mut no_sub = id("alice", &["AVP_Admin"]);
        no_sub.as_object_mut().unwrap().remove("sub");
        // (An ID token must have a `sub`: its own verification refuses it first.)
        assert_eq!(pair(&token, &idt(&no_sub)).await.unwrap_err(), "companion_invalid");
        // Another issuer (trusted, with keys of its own): refused before its keys are asked.
        let mut other = id("alice", &["AVP_Admin"]);
        other["iss"] = json!(ISSUER_B);
        assert_eq!(pair(&token, &mint(&other, "b-rsa", "JWT")).await.unwrap_err(), "companion_mismatch");
        // An ID token of another client the companion's audiences accept, for an access token
        // issued to the SPA: the access token's client is not the one the person signed in to.
        let mut gate_two = pair_trust();
        gate_two["issuers"][0]["companion"]["audiences"] = json!([CLIENT_ID, "other-app"]);
        let gate_two = gate_of(gate_two).unwrap();
        let mut other_app = id("alice", &["AVP_Admin"]);
        other_app["aud"] = json!("other-app");
        assert_eq!(
            pair_with(&gate_two, &token, &[(HEADER, &idt(&other_app))]).await.unwrap_err(),
            "companion_mismatch"
        );
        // aud naming both, azp naming the other one.
        other_app["aud"] = json!([CLIENT_ID, "other-app"]);
        other_app["azp"] = json!("other-app");
        assert_eq!(
            pair_with(&gate_two, &token, &[(HEADER, &idt(&other_app))]).await.unwrap_err(),
            "companion_mismatch"
        );
        other_app["azp"] = json!(CLIENT_ID);
        assert!(pair_with(&gate_two, &token, &[(HEADER, &idt(&other_app))]).await.is_ok());
    }
}

async_test! {
    async fn an_id_token_bound_to_another_access_token_is_a_mismatch() {
        let token = at(&access("alice", "pets:read", &[]));
        let hash = |t: &str| {
            use sha2::{Digest, Sha256};
            let digest = Sha256::digest(t.as_bytes());
            b64(&digest[..16])
        };
        let mut bound = id("alice", &["AVP_Admin"]);
        bound["at_hash"] = json!(hash(&token));
        assert!(pair(&token, &idt(&bound)).await.is_ok());
        bound["at_hash"] = json!(hash("another access token"));
        assert_eq!(pair(&token, &idt(&bound)).await.unwrap_err(), "companion_mismatch");
        bound["at_hash"] = json!(7);
        assert_eq!(pair(&token, &idt(&bound)).await.unwrap_err(), "companion_mismatch");
    }
}

async_test! {
    async fn a_companion_that_fails_its_own_verification_is_invalid() {
        let token = at(&access("alice", "pets:read", &[]));
        // Expired (past the leeway).
        let mut expired = id("alice", &["AVP_Admin"]);
        expired["exp"] = json!(NOW.seconds() - 120);
        assert_eq!(pair(&token, &idt(&expired)).await.unwrap_err(), "companion_invalid");
        // A signature that does not verify.
        let good = idt(&id("alice", &["AVP_Admin"]));
        let (signed, signature) = good.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { "B" } else { "A" };
        let forged = format!("{signed}.{flipped}{}", &signature[1..]);
        assert_eq!(pair(&token, &forged).await.unwrap_err(), "companion_invalid");
        // Of the wrong kind: an access token where the ID token goes, with the ID token's
        // audience or the API's.
        let mut as_id = access("alice", "pets:read", &[]);
        as_id["aud"] = json!(CLIENT_ID);
        assert_eq!(pair(&token, &idt(&as_id)).await.unwrap_err(), "companion_invalid");
        assert_eq!(pair(&token, &token).await.unwrap_err(), "companion_invalid");
        // Another audience, not a token at all, too large.
        let mut elsewhere = id("alice", &["AVP_Admin"]);
        elsewhere["aud"] = json!("another-client");
        assert_eq!(pair(&token, &idt(&elsewhere)).await.unwrap_err(), "companion_invalid");
        assert_eq!(pair(&token, "not a token").await.unwrap_err(), "companion_invalid");
        assert_eq!(pair(&token, &"a".repeat(20_000)).await.unwrap_err(), "companion_invalid");
        // An unsigned companion.
        let none = format!(
            "{}.{}.",
            b64(br#"{"alg":"none"}"#),
            b64(id("alice", &["AVP_Admin"]).to_string().as_bytes())
        );
        assert_eq!(pair(&token, &none).await.unwrap_err(), "companion_invalid");
    }
}

async_test! {
    async fn refusals_never_hold_a_token() {
        let token = at(&access("alice", "pets:read", &[]));
        let mut expired = id("alice", &["AVP_Admin"]);
        expired["exp"] = json!(NOW.seconds() - 120);
        let companion = idt(&expired);
        let backend = backends().remove(0);
        let err = gate()
            .authenticate_with(
                Credentials { token: &token, companions: &[(HEADER, &companion)] },
                key_sets(),
                &backend,
                NOW,
            )
            .await
            .unwrap_err();
        let text = format!("{err} {err:?}");
        for part in token.split('.').chain(companion.split('.')) {
            assert!(!text.contains(part), "{text}");
        }
        let (verified, _) = pair(&token, &idt(&id("alice", &[]))).await.unwrap();
        let debug = format!("{verified:?}");
        assert!(!debug.contains(token.split('.').nth(1).unwrap()), "{debug}");
    }
}

async_test! {
    async fn the_id_token_may_come_first_and_the_access_token_beside_it() {
        let config = json!({ "issuers": [
            { "issuer": ISSUER_A, "token": "id", "audiences": [CLIENT_ID],
              "companion": { "token": "access", "audiences": [API_AUDIENCE],
                             "token_type": "at+jwt" } },
        ] });
        let gate = gate_of(config).unwrap();
        let id_token = idt(&id("alice", &["AVP_Admin"]));
        let access_token = at(&access("alice", "pets:read", &[]));
        let (verified, principal) =
            pair_with(&gate, &id_token, &[("x-cedargate-access-token", &access_token)]).await.unwrap();
        assert_eq!(verified.kind(), TokenKind::Id);
        assert_eq!(row(&gate, &principal), "AAA-A");
        assert_eq!(principal.client(), Some(CLIENT_ID));
        // The access token's `group` is not read there either.
        let (_, principal) = pair_with(
            &gate,
            &idt(&id("alice", &[])),
            &[("x-cedargate-access-token", &access_token)],
        )
        .await
        .unwrap();
        assert!(principal.groups().is_empty());
        assert_eq!(
            pair_with(&gate, &id_token, &[]).await.unwrap_err(),
            "companion_missing"
        );
    }
}

/// Each configuration refused at bind, by what its message says.
#[test]
fn ambiguous_or_unsafe_companion_configurations_are_refused() {
    let refused = |change: &dyn Fn(&mut Value), says: &str| {
        let mut config = pair_trust();
        change(&mut config);
        let err = gate_of(config).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains(says), "{says}: {err}");
    };
    fn entry(c: &mut Value) -> &mut Value {
        &mut c["issuers"][0]
    }
    refused(
        &|c| entry(c)["companion"]["token"] = json!("access"),
        "other kind",
    );
    refused(
        &|c| c["issuers"][1]["companion"] = json!({ "token": "id", "audiences": [CLIENT_ID] }),
        "client entry",
    );
    refused(
        &|c| entry(c)["companion"]["header"] = json!("X-Id-Token"),
        "X-Cedargate-",
    );
    refused(
        &|c| entry(c)["companion"]["header"] = json!("authorization"),
        "X-Cedargate-",
    );
    refused(
        &|c| entry(c)["companion"]["header"] = json!("X-Cedargate-Subject"),
        "X-Cedargate-",
    );
    refused(
        &|c| entry(c)["companion"]["audiences"] = json!([]),
        "no audience",
    );
    refused(
        &|c| entry(c)["companion"]["leeway_seconds"] = json!(301),
        "leeway",
    );
    refused(
        &|c| entry(c)["companion"]["token_type"] = json!("at+jwt"),
        "token_type",
    );
    refused(
        &|c| entry(c)["companion"]["issuer"] = json!(ISSUER_B),
        "not an issuer of issuers",
    );
    // Configured, but not an alias of the entry's issuer.
    refused(
        &|c| {
            entry(c)["companion"]["issuer"] = json!(ISSUER_B);
            c["issuers"].as_array_mut().unwrap().push(json!({
                "issuer": ISSUER_B, "token": "id", "audiences": ["b-client"],
                "entity_id_prefix": "b|", "group_id_prefix": "b|"
            }));
        },
        "alias",
    );
    refused(
        &|c| entry(c)["companion"]["from"] = json!({ "scope": "id" }),
        "access token",
    );
    refused(
        &|c| entry(c)["companion"]["from"] = json!({ "client": "id" }),
        "access token",
    );
    // One claim read from both tokens: the groups from the ID token, a `group` attribute
    // from the access token.
    refused(
        &|c| {
            entry(c)["permissions_claim"] = json!("group");
        },
        "both tokens",
    );
    refused(
        &|c| {
            entry(c)["group_claim"] = json!("/realm/groups");
            entry(c)["permissions_claim"] = json!("/realm/permissions");
        },
        "both tokens",
    );
    // A claim mapping must say which token it reads, and only with a companion.
    let mut department = pair_trust();
    department["issuers"][0]["claims"] = json!([{ "claim": "department", "type": "String" }]);
    assert!(gate_of(department).is_err());
    let mut from_alone = pair_trust();
    from_alone["issuers"][1]["claims"] =
        json!([{ "claim": "department", "type": "String", "from": "access" }]);
    let err = gate_of(from_alone).map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("takes no companion"), "{err}");
    // Unknown fields are errors, not ignored settings.
    let mut typo = pair_trust();
    typo["issuers"][0]["companion"]["headr"] = json!("x-cedargate-id");
    assert!(serde_json::from_value::<TrustConfig>(typo).is_err());
    // An alias is a companion issuer the entry may name.
    let mut alias = pair_trust();
    alias["issuers"][0]["companion"]["issuer"] = json!(ISSUER_B);
    alias["issuers"].as_array_mut().unwrap().push(json!(
        { "issuer": ISSUER_B, "token": "id", "audiences": ["b-client"] }
    ));
    alias["issuer_aliases"] = json!([[ISSUER_A, ISSUER_B]]);
    assert!(gate_of(alias).is_ok());
    // The defaults: the ID token's header, groups from it, the rest from the access token.
    assert_eq!(gate().trust().companion_headers(), vec![HEADER.to_owned()]);
}

async_test! {
    async fn an_alias_may_issue_the_companion() {
        let mut config = pair_trust();
        config["issuers"][0]["companion"]["issuer"] = json!(ISSUER_B);
        config["issuers"].as_array_mut().unwrap().push(json!(
            { "issuer": ISSUER_B, "token": "id", "audiences": ["b-client"] }
        ));
        config["issuer_aliases"] = json!([[ISSUER_A, ISSUER_B]]);
        let gate = gate_of(config).unwrap();
        let token = at(&access("alice", "pets:read", &[]));
        let mut other = id("alice", &["AVP_Admin"]);
        other["iss"] = json!(ISSUER_B);
        let (_, principal) = pair_with(&gate, &token, &[(HEADER, &mint(&other, "b-rsa", "JWT"))]).await.unwrap();
        assert_eq!(principal.groups(), ["AVP_Admin".to_owned()]);
        // The entry's own issuer is then not the companion's.
        assert_eq!(
            pair_with(&gate, &token, &[(HEADER, &idt(&id("alice", &["AVP_Admin"])))]).await.unwrap_err(),
            "companion_mismatch"
        );
    }
}

async_test! {
    async fn claims_and_context_values_come_from_the_token_the_mapping_names() {
        let schema = include_str!("../../policies/petstore-access/schema.cedarschema").replace(
            "client?: String,",
            "client?: String,\n    name?: String,\n    country?: String,",
        );
        let bundle = Bundle::load(&BundleSource {
            schema,
            policies: include_str!("../../policies/petstore-access/policies.cedar").into(),
            routes: include_str!("../../policies/petstore-access/routes.json").into(),
        })
        .unwrap();
        let mut config = pair_trust();
        config["issuers"][0]["claims"] = json!([
            { "claim": "name", "type": "String", "from": "id" },
            { "claim": "/address/country", "type": "String", "from": "id" },
        ]);
        let config: TrustConfig = serde_json::from_value(config).unwrap();
        let gate = Gate::new(bundle, &config).unwrap();
        let mut a = access("alice", "pets:read", &[]);
        a["name"] = json!("Mallory");
        a["address"] = json!({ "country": "XX" });
        let mut i = id("alice", &["AVP_User"]);
        i["name"] = json!("Alice");
        i["address"] = json!({ "country": "CH" });
        let (_, principal) = pair_with(&gate, &at(&a), &[(HEADER, &idt(&i))]).await.unwrap();
        let shape = format!("{:?}", principal.shape());
        assert!(shape.contains("Alice") && shape.contains("CH"), "{shape}");
        assert!(!shape.contains("Mallory") && !shape.contains("XX"), "{shape}");
        // Absent from the ID token: absent, even when the access token has it.
        i.as_object_mut().unwrap().remove("name");
        let (_, principal) = pair_with(&gate, &at(&a), &[(HEADER, &idt(&i))]).await.unwrap();
        assert!(!format!("{:?}", principal.shape()).contains("Mallory"));
    }
}

async_test! {
    async fn pairs_share_decisions_only_as_far_as_both_tokens_agree() {
        // Nothing in the access bundle tells users apart: decisions are shared by shape,
        // and the shape holds what the decision reads of both tokens.
        let gate = gate();
        assert_eq!(gate.sharing("PetStore::User"), Ok(()));
        let all = "pets:read pets:write";
        let (_, alice) = pair(&at(&access("alice", all, &["pets:create"])), &idt(&id("alice", &["AVP_User"]))).await.unwrap();
        let (_, bob) = pair(&at(&access("bob", all, &["pets:create"])), &idt(&id("bob", &["AVP_User"]))).await.unwrap();
        let (_, admin) = pair(&at(&access("carol", all, &["pets:create"])), &idt(&id("carol", &["AVP_Admin"]))).await.unwrap();
        let (_, reader) = pair(&at(&access("dave", "pets:read", &["pets:create"])), &idt(&id("dave", &["AVP_User"]))).await.unwrap();
        for (method, target) in ACTIONS {
            let route = gate.route(method, target).unwrap();
            let key = gate.decision_key(&alice, &route);
            assert!(key.is_some(), "{method} {target}");
            // Same groups (ID token) and scopes (access token): one key, one decision.
            assert_eq!(gate.decision_key(&bob, &route), key);
            let own = |p: &Principal| gate.decide_route(p, route.clone(), &RequestValues::at(UnixTime(0))).decision.is_allowed();
            assert_eq!(own(&alice), own(&bob), "{method} {target}");
            // Another group from the ID token, or other scopes from the access token: another key.
            assert_ne!(gate.decision_key(&admin, &route), key, "{method} {target}");
            assert_ne!(gate.decision_key(&reader, &route), key, "{method} {target}");
        }
        // Each principal's own decisions and the ones shared under its key are the same.
        for p in [&alice, &bob, &admin, &reader] {
            for (method, target) in ACTIONS {
                let route = gate.route(method, target).unwrap();
                let own = gate.decide_route(p, route.clone(), &RequestValues::at(UnixTime(0)));
                for q in [&alice, &bob, &admin, &reader] {
                    if gate.decision_key(q, &route) == gate.decision_key(p, &route) {
                        let theirs = gate.decide_route(q, route.clone(), &RequestValues::at(UnixTime(0)));
                        assert_eq!(own.decision.is_allowed(), theirs.decision.is_allowed());
                        assert_eq!(own.decision.policies, theirs.decision.policies);
                    }
                }
            }
        }
    }
}

fn pair_table() -> DecisionTable {
    toml::from_str(include_str!("data/access_pair_decisions.toml")).unwrap()
}

/// A case's tokens: an access token of issuer A for alice with the case's claims, and its
/// ID token with the case's `companion` claims (none without them).
fn case_claims(case: &cedargate::decision_table::DecisionCase) -> (Value, Option<Value>) {
    let base = access("alice", "", &[]);
    let mut claims = case.claims(base.as_object().unwrap().clone());
    claims.remove("group");
    if let Some(group) = &case.group {
        claims.insert("group".into(), group.clone());
    }
    let companion = case
        .companion_claims(id("alice", &[]).as_object().unwrap().clone())
        .map(Value::Object);
    (Value::Object(claims), companion)
}

async_test! {
    async fn the_pair_decision_table_holds_for_tokens_and_offline() {
        let table = pair_table();
        assert!(table.case.len() >= 10);
        let gate = gate();
        let backend = backends().remove(0);
        let mut failures = Vec::new();
        for case in &table.case {
            let (claims, companion) = case_claims(case);
            let token = at(&claims);
            let companion_token = companion.as_ref().map(idt);
            let presented: Vec<(&str, &str)> =
                companion_token.iter().map(|t| (HEADER, t.as_str())).collect();
            let verified = gate
                .authenticate_with(
                    Credentials { token: &token, companions: &presented },
                    key_sets(),
                    &backend,
                    NOW,
                )
                .await;
            let (got, policies, reason) = match verified {
                Err(AuthError::Refused(e) | AuthError::Keys(e)) => {
                    (CaseOutcome::Unauthenticated, None, Some(e.reason().to_owned()))
                }
                Ok((_, principal)) => {
                    let decided = gate.decide(&principal, &case.method, &case.path, &RequestValues::at(UnixTime(0)));
                    let got = CaseOutcome::of(&decided);
                    (got, decided.ok().map(|(_, d)| d.policies), None)
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
            // Offline, as `cedargate diff-decisions` maps a case: the same outcome for every
            // case whose pair belongs together (the pair's checks need the tokens).
            if got != CaseOutcome::Unauthenticated
                && let Some(companion) = &companion
            {
                let offline = gate
                    .trust()
                    .hypothetical_principal_from_pair(
                        ISSUER_A,
                        TokenKind::Access,
                        claims.as_object().unwrap(),
                        companion.as_object().unwrap(),
                    )
                    .unwrap();
                let decided = gate.what_if_request(&offline, &case.method, &case.path, &RequestValues::at(UnixTime(0)));
                if CaseOutcome::of(&decided) != got {
                    problems.push(format!("offline: {}", CaseOutcome::of(&decided)));
                }
            }
            if !problems.is_empty() {
                failures.push(format!("{}: {}", case.name, problems.join("; ")));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
