//! The PKCE pieces and the callback checks (natively and in the browser).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate_web::oauth::{
    self, CodeVerifier, OAuthError, PENDING_MAX_AGE_MS, PendingLogin, check_callback,
};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const ISSUER: &str = "https://auth.pingone.com/env/as";

#[test]
fn rfc_7636_appendix_b() {
    let verifier =
        CodeVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into()).unwrap();
    assert_eq!(
        verifier.challenge(),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}

#[test]
fn verifiers_are_random_long_enough_and_unreserved() {
    let a = CodeVerifier::random().unwrap();
    let b = CodeVerifier::random().unwrap();
    assert_ne!(a.secret(), b.secret());
    for v in [&a, &b] {
        assert!((43..=128).contains(&v.secret().len()));
        assert!(CodeVerifier::parse(v.secret().to_owned()).is_ok());
        assert_eq!(v.challenge().len(), 43);
    }
    assert_eq!(format!("{a:?}"), "CodeVerifier(..)");
    assert_eq!(
        CodeVerifier::parse("short".into()).unwrap_err(),
        OAuthError::BadVerifier
    );
    assert_eq!(
        CodeVerifier::parse("a".repeat(129)).unwrap_err(),
        OAuthError::BadVerifier
    );
    assert_eq!(
        CodeVerifier::parse(format!("{}!", "a".repeat(50))).unwrap_err(),
        OAuthError::BadVerifier
    );
    assert_ne!(
        oauth::random_value().unwrap(),
        oauth::random_value().unwrap()
    );
}

fn pending(now: f64) -> PendingLogin {
    PendingLogin {
        state: "st4te-value".into(),
        nonce: "n0nce".into(),
        verifier: "v".repeat(43),
        started_ms: now,
    }
}

#[test]
fn the_authorization_url_carries_pkce_state_and_nonce() {
    let p = pending(0.0);
    let url = oauth::authorization_url(
        "https://auth.pingone.com/env/as/authorize",
        "client 1",
        "http://127.0.0.1:8080/callback",
        "openid profile",
        &p,
        "CHALLENGE",
    );
    assert_eq!(
        url,
        "https://auth.pingone.com/env/as/authorize?response_type=code&client_id=client%201\
         &redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fcallback&scope=openid%20profile\
         &state=st4te-value&nonce=n0nce&code_challenge=CHALLENGE&code_challenge_method=S256"
    );
    assert_eq!(format!("{p:?}"), "PendingLogin { started_ms: 0.0, .. }");
}

#[test]
fn a_callback_must_match_its_sign_in() {
    let now = 1_000_000.0;
    let p = pending(now);
    let ok = check_callback(
        &format!("?code=abc&state=st4te-value&iss={}", oauth::encode(ISSUER)),
        Some(&p),
        ISSUER,
        now,
    )
    .unwrap();
    assert_eq!(ok.code, "abc");
    assert_eq!(
        check_callback("?code=abc&state=other", Some(&p), ISSUER, now),
        Err(OAuthError::StateMismatch)
    );
    assert_eq!(
        check_callback("?code=abc", Some(&p), ISSUER, now),
        Err(OAuthError::StateMismatch)
    );
    assert_eq!(
        check_callback("?code=abc&state=st4te-value", None, ISSUER, now),
        Err(OAuthError::NoPendingLogin)
    );
    assert_eq!(
        check_callback(
            "?code=abc&state=st4te-value&iss=https%3A%2F%2Fevil.test",
            Some(&p),
            ISSUER,
            now
        ),
        Err(OAuthError::IssuerMismatch)
    );
    assert_eq!(
        check_callback("?state=st4te-value", Some(&p), ISSUER, now),
        Err(OAuthError::MissingCode)
    );
    assert_eq!(
        check_callback(
            "?code=abc&state=st4te-value",
            Some(&p),
            ISSUER,
            now + PENDING_MAX_AGE_MS + 1.0
        ),
        Err(OAuthError::Expired)
    );
    let denied = check_callback(
        "?error=access_denied&error_description=User+cancelled+the+sign-on&state=st4te-value",
        Some(&p),
        ISSUER,
        now,
    )
    .unwrap_err();
    assert_eq!(
        denied,
        OAuthError::Provider {
            error: "access_denied".into(),
            description: Some("User cancelled the sign-on".into())
        }
    );
    assert_eq!(
        denied.to_string(),
        "the provider refused the sign-in: access_denied (User cancelled the sign-on)"
    );
}

#[test]
fn token_and_logout_requests() {
    let verifier =
        CodeVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into()).unwrap();
    let callback = check_callback(
        "?code=c%2Fd&state=s",
        Some(&PendingLogin {
            state: "s".into(),
            nonce: "n".into(),
            verifier: String::new(),
            started_ms: 0.0,
        }),
        ISSUER,
        0.0,
    )
    .unwrap();
    assert_eq!(
        oauth::token_request(
            &callback,
            "http://127.0.0.1:8080/callback",
            "app",
            &verifier
        ),
        "grant_type=authorization_code&code=c%2Fd&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fcallback\
         &client_id=app&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    );
    assert_eq!(
        oauth::logout_url(
            "https://idp/as/signoff",
            "a.b.c",
            "http://127.0.0.1:8080/",
            "app",
            "xyz"
        ),
        "https://idp/as/signoff?id_token_hint=a.b.c&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2F&client_id=app&state=xyz"
    );
    assert_eq!(oauth::decode("a%20b+c%zz%4"), "a b c%zz%4");
}
