//! Where `Gate::authenticate` gets keys: a source of one issuer's keys gives them for that
//! issuer only, so a token that names another trusted issuer is never verified with them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::{AuthError, GateError, IssuerKeys};
use cedargate_test_support::*;
use serde_json::json;

/// An access token that names issuer B, signed with issuer A's key.
fn b_token_signed_by_a() -> String {
    let mut claims = access_claims("mallory", NOW);
    claims["iss"] = json!(ISSUER_B);
    mint(&claims, "a-rsa-1", "at+jwt")
}

async_test! {
    async fn one_issuers_keys_verify_no_token_of_another_trusted_issuer() {
        let a_keys = IssuerKeys::new(ISSUER_A, &key_sets()[ISSUER_A]);
        let backend = backends().remove(0);
        // Issuer B is trusted and its entry accepts this token's shape: with B's own keys,
        // the token (signed by A's key) is refused for its signature.
        let token = b_token_signed_by_a();
        let with_b = gate().authenticate(&token, key_sets(), &backend, NOW).await;
        assert!(
            matches!(with_b, Err(AuthError::Refused(GateError::Token(_)))),
            "{with_b:?}"
        );
        // Issuer A's keys alone must not verify it as issuer B's.
        let with_a = gate().authenticate(&token, a_keys, &backend, NOW).await;
        assert!(
            matches!(with_a, Err(AuthError::Keys(GateError::NoKeys))),
            "issuer A's key vouched for issuer B's user: {with_a:?}"
        );
        // Nor one that names issuer C, whose keys are not A's either.
        let mut c_claims = id_claims("carol", &["AVP_User"], NOW);
        c_claims["iss"] = json!(ISSUER_C);
        let c_token = mint(&c_claims, "a-rsa-1", "JWT");
        let with_a = gate().authenticate(&c_token, a_keys, &backend, NOW).await;
        assert!(matches!(with_a, Err(AuthError::Keys(GateError::NoKeys))), "{with_a:?}");
        // They still verify issuer A's own tokens.
        let own = mint(&access_claims("alice", NOW), "a-rsa-1", "at+jwt");
        let (verified, _) = gate().authenticate(&own, a_keys, &backend, NOW).await.unwrap();
        assert_eq!(verified.issuer(), ISSUER_A);
    }
}
