//! Callers that are not people: an issuer's access tokens split into user and client
//! (client-credentials) entries, each with its own principal, and the calling client
//! available to policies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::{
    Bundle, BundleSource, Caller, ConfigError, Gate, TokenErrorKind, TokenKind, Trust, TrustConfig,
};
use cedargate_test_support::*;
use serde_json::{Value, json};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const SCHEMA: &str = r#"namespace Api {
  entity UserGroup;
  entity User in [UserGroup] { scope?: Set<String>, client?: String };
  entity Client { scope?: Set<String> };
  entity Service;
  action "get /pets" appliesTo { principal: [User, Client], resource: [Service] };
  action "post /pets" appliesTo { principal: [User, Client], resource: [Service] };
}"#;

const POLICIES: &str = r#"
@id("inventory-reads")
permit(principal == Api::Client::"inventory", action == Api::Action::"get /pets", resource);

@id("staff-through-the-portal")
permit(principal in Api::UserGroup::"staff", action, resource)
when { principal has client && principal.client == "portal" };
"#;

fn bundle() -> Bundle {
    Bundle::load(&BundleSource {
        schema: SCHEMA.into(),
        policies: POLICIES.into(),
        routes: json!({ "namespace": "Api", "resource": { "type": "Service", "id": "api" },
                        "routes": ["get /pets", "post /pets"] })
        .to_string(),
    })
    .unwrap()
}

fn user_entry() -> Value {
    json!({ "issuer": ISSUER_A, "token": "access", "caller": "user", "audiences": [API_AUDIENCE] })
}

fn client_entry() -> Value {
    json!({ "issuer": ISSUER_A, "token": "access", "caller": "client",
            "audiences": [API_AUDIENCE], "group_claim": null })
}

fn config(entries: Value) -> TrustConfig {
    serde_json::from_value(json!({ "issuers": entries })).unwrap()
}

fn gate(entries: Value) -> Gate {
    Gate::new(bundle(), &config(entries)).unwrap()
}

/// A client-credentials token as PingOne issues it: no `sub`.
fn client_token(client_id: &str) -> Value {
    json!({
        "iss": ISSUER_A, "aud": [API_AUDIENCE], "client_id": client_id, "scope": "pets:read",
        "iat": NOW.seconds() - 10, "exp": NOW.seconds() + 3600,
    })
}

/// A person's access token, obtained through the client `client_id`.
fn user_token(sub: &str, client_id: &str, groups: &[&str]) -> Value {
    json!({
        "iss": ISSUER_A, "aud": [API_AUDIENCE], "sub": sub, "client_id": client_id,
        "group": groups, "scope": "pets:read", "iat": NOW.seconds() - 10,
        "exp": NOW.seconds() + 3600,
    })
}

/// The principal's uid and what the two actions decide, or the refusal's kind.
async fn outcome(gate: &Gate, claims: &Value) -> Result<(String, bool, bool), TokenErrorKind> {
    let token = mint(claims, "a-rsa-1", "at+jwt");
    let backend = backends().remove(0);
    let (_, principal) = match gate.authenticate(&token, key_sets(), &backend, NOW).await {
        Ok(pair) => pair,
        Err(cedargate::AuthError::Refused(cedargate::GateError::Token(e))) => {
            return Err(e.kind());
        }
        Err(other) => panic!("{other:?}"),
    };
    let allowed = |method: &str| {
        let (_, decision) = gate
            .decide(
                &principal,
                method,
                "/pets",
                &cedargate::RequestValues::at(cedargate::UnixTime(0)),
            )
            .unwrap();
        decision.is_allowed()
    };
    Ok((principal.uid().to_string(), allowed("GET"), allowed("POST")))
}

async_test! {
    async fn users_clients_and_users_through_clients_decide_by_their_own_rules() {
        let gate = gate(json!([user_entry(), client_entry()]));
        let row = |uid: &str, get: bool, post: bool| Ok((uid.to_owned(), get, post));
        let mut same_sub = client_token("inventory");
        same_sub["sub"] = json!("inventory");
        let table = [
            // The inventory service reads and nothing else.
            (client_token("inventory"), row(r#"Api::Client::"inventory""#, true, false)),
            (same_sub, row(r#"Api::Client::"inventory""#, true, false)),
            // Another service has no policy.
            (client_token("billing"), row(r#"Api::Client::"billing""#, false, false)),
            // Staff through the portal may do everything; through another client nothing.
            (user_token("alice", "portal", &["staff"]), row(r#"Api::User::"alice""#, true, true)),
            (user_token("alice", "mobile", &["staff"]), row(r#"Api::User::"alice""#, false, false)),
            (user_token("bob", "portal", &[]), row(r#"Api::User::"bob""#, false, false)),
        ];
        for (claims, expected) in table {
            assert_eq!(outcome(&gate, &claims).await, expected, "{claims}");
        }
    }
}

async_test! {
    async fn a_caller_without_an_entry_is_refused() {
        let only_clients = gate(json!([client_entry()]));
        assert_eq!(
            outcome(&only_clients, &user_token("alice", "portal", &["staff"])).await,
            Err(TokenErrorKind::CallerNotAccepted)
        );
        let only_users = gate(json!([user_entry()]));
        assert_eq!(
            outcome(&only_users, &client_token("inventory")).await,
            Err(TokenErrorKind::CallerNotAccepted)
        );
        // A `sub` that is not a string is neither a user nor a client.
        let both = gate(json!([user_entry(), client_entry()]));
        let mut odd = client_token("inventory");
        odd["sub"] = json!(7);
        assert_eq!(outcome(&both, &odd).await, Err(TokenErrorKind::CallerNotAccepted));
        // Without `client_id` a token is no client (and no access token either).
        let mut anonymous = client_token("inventory");
        anonymous.as_object_mut().unwrap().remove("client_id");
        assert!(outcome(&both, &anonymous).await.is_err());
    }
}

async_test! {
    async fn the_calling_client_is_on_the_principal() {
        let gate = gate(json!([user_entry(), client_entry()]));
        let backend = backends().remove(0);
        let token = mint(&user_token("alice", "portal", &["staff"]), "a-rsa-1", "at+jwt");
        let (verified, principal) = gate.authenticate(&token, key_sets(), &backend, NOW).await.unwrap();
        assert_eq!(verified.client_id(), Some("portal"));
        assert_eq!(principal.client(), Some("portal"));
        assert_eq!(principal.caller(), Caller::User);
        assert_eq!(principal.subject(), "alice");
        let token = mint(&client_token("inventory"), "a-rsa-1", "at+jwt");
        let (_, principal) = gate.authenticate(&token, key_sets(), &backend, NOW).await.unwrap();
        assert_eq!(principal.caller(), Caller::Client);
        assert_eq!(principal.subject(), "inventory");
        assert_eq!(principal.client(), Some("inventory"));
        assert!(principal.groups().is_empty());
    }
}

#[test]
fn entries_whose_callers_overlap_are_refused_at_bind() {
    let bind = |entries: Value| Trust::bind(&config(entries), &bundle()).map(|_| ());
    let ambiguous = |entries: Value| match bind(entries) {
        Err(ConfigError::Ambiguous { reason, .. }) => reason,
        other => panic!("{other:?}"),
    };
    assert_eq!(bind(json!([user_entry(), client_entry()])), Ok(()));
    assert_eq!(
        ambiguous(json!([user_entry(), user_entry()])),
        "two entries for access tokens whose callers overlap (user and user)"
    );
    let mut any = user_entry();
    any["caller"] = json!("any");
    assert_eq!(
        ambiguous(json!([client_entry(), any.clone()])),
        "two entries for access tokens whose callers overlap (client and any)"
    );
    assert_eq!(
        ambiguous(json!([any.clone(), any])),
        "two entries for access tokens"
    );
    let client_id_token = json!({ "issuer": ISSUER_A, "token": "id", "caller": "client",
                                  "audiences": [CLIENT_ID], "group_claim": null });
    assert!(matches!(
        bind(json!([client_id_token])),
        Err(ConfigError::ClientIdToken { .. })
    ));
    // An ID-token entry next to both access entries: told apart by audience.
    let id_entry = json!({ "issuer": ISSUER_A, "token": "id", "audiences": [CLIENT_ID],
                           "principal_type": "User" });
    assert_eq!(
        bind(json!([id_entry, user_entry(), client_entry()])),
        Ok(())
    );
    // A client entry keeps the group default only if its type can be a member.
    let mut grouped = client_entry();
    grouped.as_object_mut().unwrap().remove("group_claim");
    match bind(json!([grouped])) {
        Err(ConfigError::Schema { reason, .. }) => assert_eq!(
            reason,
            "Api::Client cannot be a member of Api::UserGroup (set group_claim to null for an entry without groups)"
        ),
        other => panic!("{other:?}"),
    }
    // The client attribute must be a String where the type declares it.
    let mistyped = SCHEMA.replace("client?: String", "client?: Long");
    let source = BundleSource {
        schema: mistyped,
        policies: "@id(\"p\") permit(principal, action, resource);".into(),
        routes: json!({ "namespace": "Api", "resource": { "type": "Service", "id": "api" },
                        "routes": ["get /pets", "post /pets"] })
        .to_string(),
    };
    match Trust::bind(
        &config(json!([user_entry()])),
        &Bundle::load(&source).unwrap(),
    ) {
        Err(ConfigError::Schema { reason, .. }) => {
            assert_eq!(reason, "attribute client of Api::User is Long, not String");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_principal_id_claim_and_type_default_by_caller() {
    let entries: TrustConfig = config(json!([user_entry(), client_entry()]));
    assert_eq!(entries.issuers[0].principal_id_claim(), "sub");
    assert_eq!(entries.issuers[0].principal_type_name(), "User");
    assert_eq!(entries.issuers[1].caller, Caller::Client);
    assert_eq!(entries.issuers[1].principal_id_claim(), "client_id");
    assert_eq!(entries.issuers[1].principal_type_name(), "Client");
    // A configuration written out and read back is the same (the defaults stay implicit).
    let text = serde_json::to_string(&entries).unwrap();
    assert!(!text.contains("principal_id_claim"), "{text}");
    assert_eq!(serde_json::from_str::<TrustConfig>(&text).unwrap(), entries);
    assert_eq!(entries.issuers[0].token, TokenKind::Access);
}

#[test]
fn what_if_mapping_picks_the_entry_by_caller() {
    let trust = Trust::bind(&config(json!([user_entry(), client_entry()])), &bundle()).unwrap();
    let claims = |v: Value| serde_json::from_value(v).unwrap();
    let service = trust
        .insecure_principal_from_claims(
            ISSUER_A,
            TokenKind::Access,
            &claims(client_token("inventory")),
        )
        .unwrap();
    assert_eq!(service.uid().to_string(), r#"Api::Client::"inventory""#);
    let person = trust
        .insecure_principal_from_claims(
            ISSUER_A,
            TokenKind::Access,
            &claims(user_token("alice", "portal", &["staff"])),
        )
        .unwrap();
    assert_eq!(person.uid().to_string(), r#"Api::User::"alice""#);
    // Claims no token carried: the same entries, as what-if principals only.
    let service = trust
        .hypothetical_principal_from_claims(
            ISSUER_A,
            TokenKind::Access,
            &claims(client_token("inventory")),
        )
        .unwrap();
    assert_eq!(service.uid().to_string(), r#"Api::Client::"inventory""#);
    let person = trust
        .hypothetical_principal_from_claims(
            ISSUER_A,
            TokenKind::Access,
            &claims(user_token("alice", "portal", &["staff"])),
        )
        .unwrap();
    assert_eq!(person.uid().to_string(), r#"Api::User::"alice""#);
    assert_eq!(
        trust
            .hypothetical_principal_from_claims(
                ISSUER_A,
                TokenKind::Id,
                &claims(user_token("alice", "portal", &["staff"])),
            )
            .unwrap_err(),
        cedargate::MappingError::UnknownIssuer(TokenKind::Id)
    );
}
