//! The PKCE pieces and the callback checks (natively and in the browser).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::url::UrlError;
use cedargate_web::oauth::{
    self, CodeVerifier, MAX_DESCRIPTION_CHARS, OAuthError, PENDING_MAX_AGE_MS, PendingLogin,
    ResponseIssuer, check_callback, check_token_type, match_state,
};
use cedargate_web::session::{Discovery, DiscoveryExt as _};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const ISSUER: &str = "https://auth.pingone.com/env/as";
/// A provider that does not advertise `iss` in authorization responses.
const ISS_OPTIONAL: ResponseIssuer = ResponseIssuer {
    issuer: ISSUER,
    required: false,
};
/// One that does (`authorization_response_iss_parameter_supported: true`).
const ISS_REQUIRED: ResponseIssuer = ResponseIssuer {
    issuer: ISSUER,
    required: true,
};

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
        max_age: None,
        silent: false,
        discovery: None,
    }
}

fn discovery_json(issuer: &str, token_endpoint: &str) -> String {
    format!(
        r#"{{"issuer":"{issuer}","authorization_endpoint":"{issuer}/authorize","token_endpoint":"{token_endpoint}","jwks_uri":"{issuer}/jwks"}}"#
    )
}

#[test]
fn the_record_keeps_the_discovery_document_and_it_is_checked_again_when_read() {
    let discovery =
        Discovery::from_json(&discovery_json(ISSUER, &format!("{ISSUER}/token")), ISSUER).unwrap();
    let record = PendingLogin {
        discovery: Some(discovery.clone()),
        ..pending(0.0)
    };
    // Through sessionStorage's text and back, as the redirect takes it.
    let stored: PendingLogin =
        serde_json::from_str(&serde_json::to_string(&record).unwrap()).unwrap();
    assert_eq!(stored.discovery_for(ISSUER), Some(discovery.clone()));
    // Kept for another issuer than the configured one: not used.
    assert_eq!(stored.discovery_for("https://other.example/as"), None);
    // A record written before documents were kept, or without one: the callback waits for
    // the fetched document.
    assert_eq!(pending(0.0).discovery_for(ISSUER), None);
    let old: PendingLogin =
        serde_json::from_str(r#"{"state":"s","nonce":"n","verifier":"v","started_ms":0}"#).unwrap();
    assert_eq!(old.discovery_for(ISSUER), None);
    // A document changed in storage to send the code elsewhere in the clear is refused as a
    // fetched one would be.
    let mut text = serde_json::to_value(&record).unwrap();
    text["discovery"]["token_endpoint"] = "http://attacker.example/token".into();
    let tampered: PendingLogin = serde_json::from_value(text).unwrap();
    assert_eq!(tampered.discovery_for(ISSUER), None);
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
        None,
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
fn a_step_up_asks_for_the_challenge_acr_values_and_max_age() {
    let p = pending(0.0);
    let url = |step_up: &oauth::StepUp| {
        oauth::authorization_url(
            "https://auth.pingone.com/env/as/authorize",
            "c",
            "http://127.0.0.1:8080/callback",
            "openid",
            &p,
            "CH",
            Some(step_up),
        )
    };
    let both = oauth::StepUp {
        acr_values: vec!["urn:cedargate:mfa".into(), "Multi_Factor".into()],
        max_age: Some(600),
    };
    assert!(
        url(&both).ends_with(
            "&code_challenge_method=S256&acr_values=urn%3Acedargate%3Amfa%20Multi_Factor&max_age=600"
        ),
        "{}",
        url(&both)
    );
    let recent_only = oauth::StepUp {
        acr_values: vec![],
        max_age: Some(0),
    };
    assert!(url(&recent_only).ends_with("&code_challenge_method=S256&max_age=0"));
    assert!(!url(&recent_only).contains("acr_values"));
}

#[test]
fn a_silent_sign_in_asks_for_no_page() {
    let p = PendingLogin {
        silent: true,
        ..pending(0.0)
    };
    let url = oauth::authorization_url(
        "https://p/authorize",
        "c",
        "http://a/cb",
        "openid",
        &p,
        "CH",
        None,
    );
    assert!(
        url.ends_with("&code_challenge_method=S256&prompt=none"),
        "{url}"
    );
    // A record written before `silent` existed reads as an ordinary sign-in.
    let old: PendingLogin =
        serde_json::from_str(r#"{"state":"s","nonce":"n","verifier":"v","started_ms":1.0}"#)
            .unwrap();
    assert!(!old.silent);
}

#[test]
fn max_age_needs_a_recent_auth_time_in_the_id_token() {
    let claims = |v: serde_json::Value| v.as_object().cloned().unwrap();
    let now = 1_800_000_000;
    let signed_in = |t: i64| claims(serde_json::json!({ "sub": "alice", "auth_time": t }));
    // Without max_age nothing is asked of the token.
    assert_eq!(
        oauth::check_auth_time(&claims(serde_json::json!({})), None, now),
        Ok(())
    );
    assert_eq!(
        oauth::check_auth_time(&claims(serde_json::json!({})), Some(600), now),
        Err(OAuthError::NoAuthTime)
    );
    assert_eq!(
        oauth::check_auth_time(
            &claims(serde_json::json!({ "auth_time": "1800000000" })),
            Some(600),
            now
        ),
        Err(OAuthError::NoAuthTime)
    );
    assert_eq!(
        oauth::check_auth_time(&signed_in(now - 5), Some(600), now),
        Ok(())
    );
    // The provider's clock may be a minute off either way.
    let leeway = oauth::AUTH_TIME_LEEWAY_SECONDS;
    assert_eq!(
        oauth::check_auth_time(&signed_in(now - 600 - leeway), Some(600), now),
        Ok(())
    );
    assert_eq!(
        oauth::check_auth_time(&signed_in(now - 601 - leeway), Some(600), now),
        Err(OAuthError::StaleAuthentication { max_age: 600 })
    );
    assert_eq!(
        oauth::check_auth_time(&signed_in(now + 1 + leeway), Some(600), now),
        Err(OAuthError::StaleAuthentication { max_age: 600 })
    );
}

#[test]
fn the_revocation_request_names_the_token_kind_and_the_client() {
    assert_eq!(
        oauth::revocation_request("a.b+c", oauth::RevokedToken::Access, "cedargate-demo-spa"),
        "token=a.b%2Bc&token_type_hint=access_token&client_id=cedargate-demo-spa"
    );
    assert_eq!(
        oauth::revocation_request("r/1", oauth::RevokedToken::Refresh, "cedargate-demo-spa"),
        "token=r%2F1&token_type_hint=refresh_token&client_id=cedargate-demo-spa"
    );
}

#[test]
fn a_callback_must_match_its_sign_in() {
    let now = 1_000_000.0;
    let p = pending(now);
    let ok = check_callback(
        &format!("?code=abc&state=st4te-value&iss={}", oauth::encode(ISSUER)),
        Some(&p),
        ISS_OPTIONAL,
        now,
    )
    .unwrap();
    assert_eq!(ok.code, "abc");
    assert_eq!(
        check_callback("?code=abc&state=other", Some(&p), ISS_OPTIONAL, now),
        Err(OAuthError::StateMismatch)
    );
    assert_eq!(
        check_callback("?code=abc", Some(&p), ISS_OPTIONAL, now),
        Err(OAuthError::StateMismatch)
    );
    assert_eq!(
        check_callback("?code=abc&state=st4te-value", None, ISS_OPTIONAL, now),
        Err(OAuthError::NoPendingLogin)
    );
    assert_eq!(
        check_callback(
            "?code=abc&state=st4te-value&iss=https%3A%2F%2Fevil.test",
            Some(&p),
            ISS_OPTIONAL,
            now
        ),
        Err(OAuthError::IssuerMismatch)
    );
    assert_eq!(
        check_callback("?state=st4te-value", Some(&p), ISS_OPTIONAL, now),
        Err(OAuthError::MissingCode)
    );
    assert_eq!(
        check_callback(
            "?code=abc&state=st4te-value",
            Some(&p),
            ISS_OPTIONAL,
            now + PENDING_MAX_AGE_MS + 1.0
        ),
        Err(OAuthError::Expired)
    );
    let denied = check_callback(
        "?error=access_denied&error_description=User+cancelled+the+sign-on&state=st4te-value",
        Some(&p),
        ISS_OPTIONAL,
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
            max_age: None,
            silent: false,
            discovery: None,
        }),
        ISS_OPTIONAL,
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

#[test]
fn a_forged_callback_is_refused_before_anything_of_it_is_read() {
    let now = 1_000_000.0;
    let p = pending(now);
    // A link anyone can send: the provider's error parameters, with a wrong or no state.
    for forged in [
        "?error=access_denied&error_description=HACKED&state=wrong",
        "?error=access_denied&error_description=HACKED",
        "?error=access_denied&error_description=HACKED&state=",
        "?error=access_denied&error_description=HACKED&state=st4te-valuE",
        "?error=access_denied&error_description=HACKED&state=st4te-value-",
        // The right state twice, or a wrong one beside it: ambiguous, refused.
        "?error=access_denied&error_description=HACKED&state=st4te-value&state=st4te-value",
        "?error=access_denied&error_description=HACKED&state=wrong&state=st4te-value",
        "?code=abc&state=st4te-value&state=wrong",
    ] {
        for issuer in [ISS_OPTIONAL, ISS_REQUIRED] {
            let refused = check_callback(forged, Some(&p), issuer, now).unwrap_err();
            assert_eq!(refused, OAuthError::StateMismatch, "{forged}");
            assert!(!refused.to_string().contains("HACKED"));
            assert!(!refused.to_string().contains("access_denied"));
        }
        assert_eq!(
            match_state(forged, Some(&p)).unwrap_err(),
            OAuthError::StateMismatch
        );
    }
    // Without a sign-in under way the answer is fixed as well.
    let none = check_callback(
        "?error=access_denied&error_description=HACKED&state=st4te-value",
        None,
        ISS_OPTIONAL,
        now,
    )
    .unwrap_err();
    assert_eq!(none, OAuthError::NoPendingLogin);
    assert!(!none.to_string().contains("HACKED"));
}

#[test]
fn the_providers_error_is_shown_as_capped_plain_text_only_for_the_right_state() {
    let now = 1_000_000.0;
    let p = pending(now);
    let long = "a".repeat(MAX_DESCRIPTION_CHARS + 50);
    let refused = check_callback(
        &format!("?error=access_denied&error_description={long}&state=st4te-value"),
        Some(&p),
        ISS_OPTIONAL,
        now,
    )
    .unwrap_err();
    let OAuthError::Provider { error, description } = refused.clone() else {
        panic!("not a provider error: {refused:?}");
    };
    assert_eq!(error, "access_denied");
    assert_eq!(
        description,
        Some(format!("{}…", "a".repeat(MAX_DESCRIPTION_CHARS)))
    );
    // One line of printable ASCII: line breaks, quotes, backslashes and other characters
    // become `?`.
    let refused = check_callback(
        "?error=x%0Ay&error_description=line%0Anext%22q%5C%E2%80%AEr&state=st4te-value",
        Some(&p),
        ISS_OPTIONAL,
        now,
    )
    .unwrap_err();
    assert_eq!(
        refused,
        OAuthError::Provider {
            error: "x?y".into(),
            description: Some("line?next?q??r".into()),
        }
    );
    let long_error = "e".repeat(100);
    let Err(OAuthError::Provider { error, .. }) = check_callback(
        &format!("?error={long_error}&state=st4te-value"),
        Some(&p),
        ISS_OPTIONAL,
        now,
    ) else {
        panic!("not a provider error");
    };
    assert_eq!(error, format!("{}…", "e".repeat(oauth::MAX_ERROR_CHARS)));
    // An error response names its issuer too (RFC 9207 §2.4): another issuer's error is not
    // shown.
    assert_eq!(
        check_callback(
            "?error=access_denied&error_description=HACKED&state=st4te-value&iss=https%3A%2F%2Fevil.test",
            Some(&p),
            ISS_OPTIONAL,
            now,
        ),
        Err(OAuthError::IssuerMismatch)
    );
}

#[test]
fn iss_is_required_when_the_provider_advertises_it() {
    let now = 1_000_000.0;
    let p = pending(now);
    let iss = oauth::encode(ISSUER);
    let with_iss = format!("?code=abc&state=st4te-value&iss={iss}");
    let wrong_iss = "?code=abc&state=st4te-value&iss=https%3A%2F%2Fevil.test";
    let trailing_slash = format!("?code=abc&state=st4te-value&iss={iss}%2F");
    let without = "?code=abc&state=st4te-value";
    // Advertised: iss must be there and be the issuer.
    assert_eq!(
        check_callback(&with_iss, Some(&p), ISS_REQUIRED, now).map(|c| c.code),
        Ok("abc".to_owned())
    );
    assert_eq!(
        check_callback(without, Some(&p), ISS_REQUIRED, now),
        Err(OAuthError::MissingIssuer)
    );
    assert_eq!(
        check_callback(
            "?error=access_denied&state=st4te-value",
            Some(&p),
            ISS_REQUIRED,
            now
        ),
        Err(OAuthError::MissingIssuer)
    );
    for bad in [
        wrong_iss,
        &trailing_slash,
        "?code=abc&state=st4te-value&iss=",
    ] {
        assert_eq!(
            check_callback(bad, Some(&p), ISS_REQUIRED, now),
            Err(OAuthError::IssuerMismatch),
            "{bad}"
        );
    }
    // Not advertised: iss may be missing, but one that is there must match.
    assert!(check_callback(without, Some(&p), ISS_OPTIONAL, now).is_ok());
    assert!(check_callback(&with_iss, Some(&p), ISS_OPTIONAL, now).is_ok());
    assert_eq!(
        check_callback(wrong_iss, Some(&p), ISS_OPTIONAL, now),
        Err(OAuthError::IssuerMismatch)
    );
    // Repeated: refused, whichever copy is right.
    assert_eq!(
        check_callback(
            &format!("{with_iss}&iss=https%3A%2F%2Fevil.test"),
            Some(&p),
            ISS_OPTIONAL,
            now
        ),
        Err(OAuthError::Repeated("iss"))
    );
    assert_eq!(
        check_callback(
            &format!("{with_iss}&code=other"),
            Some(&p),
            ISS_OPTIONAL,
            now
        ),
        Err(OAuthError::Repeated("code"))
    );
}

#[test]
fn the_discovery_flag_decides_whether_iss_is_required() {
    let document = |flag: &str| {
        format!(
            r#"{{ "issuer": "{ISSUER}", "authorization_endpoint": "{ISSUER}/authorize",
                 "token_endpoint": "{ISSUER}/token", "jwks_uri": "{ISSUER}/jwks"{flag} }}"#
        )
    };
    let advertised: Discovery = serde_json::from_str(&document(
        r#", "authorization_response_iss_parameter_supported": true"#,
    ))
    .unwrap();
    assert_eq!(advertised.response_issuer(), ISS_REQUIRED);
    let not: Discovery = serde_json::from_str(&document(
        r#", "authorization_response_iss_parameter_supported": false"#,
    ))
    .unwrap();
    assert_eq!(not.response_issuer(), ISS_OPTIONAL);
    let absent: Discovery = serde_json::from_str(&document("")).unwrap();
    assert_eq!(absent.response_issuer(), ISS_OPTIONAL);
    // The flag read from discovery reaches the check.
    let now = 1_000_000.0;
    let p = pending(now);
    assert_eq!(
        check_callback(
            "?code=abc&state=st4te-value",
            Some(&p),
            advertised.response_issuer(),
            now
        ),
        Err(OAuthError::MissingIssuer)
    );
    assert!(
        check_callback(
            "?code=abc&state=st4te-value",
            Some(&p),
            absent.response_issuer(),
            now
        )
        .is_ok()
    );
}

#[test]
fn discovered_endpoints_follow_the_url_rule() {
    let document = |authorize: &str, end_session: &str| {
        serde_json::from_str::<Discovery>(&format!(
            r#"{{ "issuer": "{ISSUER}", "authorization_endpoint": "{authorize}",
                 "token_endpoint": "{ISSUER}/token", "jwks_uri": "http://127.0.0.1:9400/jwks"
                 {end_session} }}"#
        ))
        .unwrap()
    };
    assert_eq!(
        document(&format!("{ISSUER}/authorize"), "").check_endpoints(),
        Ok(())
    );
    assert_eq!(
        document(
            &format!("{ISSUER}/authorize"),
            r#", "end_session_endpoint": "http://localhost:9400/signoff""#
        )
        .check_endpoints(),
        Ok(())
    );
    let refused = document("http://localhost:1@evil.example/authorize", "")
        .check_endpoints()
        .unwrap_err();
    assert_eq!(refused.field, "authorization_endpoint");
    assert_eq!(refused.reason, UrlError::Userinfo);
    let refused = document(
        &format!("{ISSUER}/authorize"),
        r#", "end_session_endpoint": "http://idp.example.com/signoff""#,
    )
    .check_endpoints()
    .unwrap_err();
    assert_eq!(refused.field, "end_session_endpoint");
    assert_eq!(refused.reason, UrlError::Insecure);
    let refused = document(
        &format!("{ISSUER}/authorize"),
        r#", "revocation_endpoint": "http://idp.example.com/revoke""#,
    )
    .check_endpoints()
    .unwrap_err();
    assert_eq!(refused.field, "revocation_endpoint");
    assert_eq!(refused.reason, UrlError::Insecure);
}

#[test]
fn only_bearer_tokens_are_taken_from_the_token_endpoint() {
    assert_eq!(check_token_type(Some("Bearer")), Ok(()));
    assert_eq!(check_token_type(Some("bearer")), Ok(()));
    for other in [Some("DPoP"), Some("N_A"), Some(""), Some("Bearer "), None] {
        assert_eq!(
            check_token_type(other),
            Err(OAuthError::NotBearer),
            "{other:?}"
        );
    }
}
