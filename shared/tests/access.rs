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

/// The trust configuration the README shows for this bundle: a person's access tokens with
/// their groups in a custom `groups` claim, and services with client credentials.
fn gate() -> Gate {
    let config: TrustConfig = serde_json::from_value(json!({ "issuers": [
        { "issuer": ISSUER_A, "token": "access", "caller": "user", "audiences": [API_AUDIENCE],
          "token_type": "at+jwt", "group_claim": "groups" },
        { "issuer": ISSUER_A, "token": "access", "caller": "client", "audiences": [API_AUDIENCE],
          "token_type": "at+jwt", "group_claim": null },
    ] }))
    .unwrap();
    Gate::new(bundle(), &config).unwrap()
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

const ACTIONS: [(&str, &str); 4] = [
    ("GET", "/"),
    ("GET", "/pets"),
    ("POST", "/pets"),
    ("GET", "/pets/7"),
];

/// What each of the four operations decides for a token, as a string of `A` (allowed) and
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
            let (_, decision) = gate.decide(&principal, method, target).unwrap();
            if decision.is_allowed() { 'A' } else { '-' }
        })
        .collect())
}

async_test! {
    async fn the_access_bundle_decides_by_scope_permission_group_and_caller() {
        let all = "pets:read pets:write";
        let table: [(&str, Value, &str); 11] = [
            ("admin with every scope and the permission", person(&["AVP_Admin"], all, &["pets:create"]), "AAAA"),
            ("admin without pets:write", person(&["AVP_Admin"], "pets:read", &["pets:create"]), "AA-A"),
            ("admin without the permission", person(&["AVP_Admin"], all, &[]), "AA-A"),
            ("admin with no scope at all", person(&["AVP_Admin"], "", &["pets:create"]), "----"),
            ("user with every scope and the permission", person(&["AVP_User"], all, &["pets:create"]), "AA-A"),
            ("user with pets:write only", person(&["AVP_User"], "pets:write", &[]), "----"),
            ("nobody's group", person(&["Guests"], all, &["pets:create"]), "----"),
            ("the inventory service", service("inventory", "pets:read"), "-A-A"),
            ("the inventory service without its scope", service("inventory", "openid"), "----"),
            ("the inventory service asking for more", service("inventory", all), "-A-A"),
            ("another service", service("billing", all), "----"),
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
        assert_eq!(row(&no_scope).await, Ok("----".to_owned()));
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
