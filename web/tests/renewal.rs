//! When sessions renew, what a renewed ID token must keep, and what tabs say to each other
//! (natively and in the browser).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate_web::renewal::{
    Held, MAX_MARGIN_SECONDS, RefreshError, SharedTokens, TabMessage, check_refreshed_id_token,
    is_no_session, refresh_request, renewal_delay, renewal_time, session_renewal_time,
};
use cedargate_web::tabs::Generation;
use serde_json::{Map, Value, json};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn claims(value: Value) -> Map<String, Value> {
    serde_json::from_value(value).unwrap()
}

#[test]
fn tokens_renew_a_quarter_of_their_life_early_but_at_most_two_minutes() {
    // 20 s tokens: 5 s before expiry.
    assert_eq!(renewal_time(1000, 1020), 1015);
    // An hour: two minutes before.
    assert_eq!(renewal_time(0, 3600), 3600 - MAX_MARGIN_SECONDS);
    // Expired or odd tokens are due at once or at expiry, never later.
    assert_eq!(renewal_time(1000, 1000), 1000);
    assert_eq!(renewal_time(2000, 1000), 1000);
    assert_eq!(
        renewal_time(i64::MIN, i64::MAX),
        i64::MAX - MAX_MARGIN_SECONDS
    );
}

/// A token received at `received_at`, with `expires_in` from the token response.
fn held(claims: &Map<String, Value>, received_at: i64, expires_in: Option<i64>) -> Held<'_> {
    Held {
        claims,
        received_at,
        expires_in,
    }
}

#[test]
fn a_session_renews_for_its_first_token_to_expire() {
    let id = claims(json!({"iat": 0, "exp": 3600}));
    let access = claims(json!({"iat": 0, "exp": 20}));
    // Received at 0: the first to expire, the access token, renews at 15.
    assert_eq!(
        session_renewal_time([held(&id, 0, None), held(&access, 0, None)]),
        Some(15)
    );
    // The ID token kept from an earlier receipt renews from that receipt.
    assert_eq!(
        session_renewal_time([held(&id, -3590, None), held(&access, 0, None)]),
        Some(-3590 + 3600 - MAX_MARGIN_SECONDS)
    );
    // expires_in is the access token's lifetime, before exp - iat.
    assert_eq!(
        session_renewal_time([held(&id, 0, None), held(&access, 0, Some(600))]),
        Some(600 - MAX_MARGIN_SECONDS)
    );
    // Without iat or expires_in, two minutes before exp by the browser's clock.
    let no_iat = claims(json!({"exp": 1000}));
    assert_eq!(
        session_renewal_time([held(&id, 0, None), held(&no_iat, 0, None)]),
        Some(1000 - MAX_MARGIN_SECONDS)
    );
    let never = claims(json!({"sub": "x"}));
    assert_eq!(session_renewal_time([held(&never, 0, None)]), None);
    assert_eq!(session_renewal_time([]), None);
    assert_eq!(renewal_delay(20), 15);
    assert_eq!(renewal_delay(3600), 3600 - MAX_MARGIN_SECONDS);
    assert_eq!(renewal_delay(-5), 0);
}

#[test]
fn the_refresh_request_names_the_grant_token_and_client() {
    assert_eq!(
        refresh_request("rt/+=", "spa 1"),
        "grant_type=refresh_token&refresh_token=rt%2F%2B%3D&client_id=spa%201"
    );
}

#[test]
fn a_renewed_id_token_keeps_issuer_subject_audience_party_sign_in_and_nonce() {
    let original = claims(json!({
        "iss": "https://p/as", "sub": "alice", "aud": "spa", "auth_time": 100,
        "nonce": "n1", "iat": 100, "exp": 200
    }));
    let renewed = |edit: Value| {
        let mut c = claims(json!({
            "iss": "https://p/as", "sub": "alice", "aud": "spa", "auth_time": 100,
            "iat": 190, "exp": 290
        }));
        for (k, v) in edit.as_object().unwrap() {
            if v.is_null() {
                c.remove(k);
            } else {
                c.insert(k.clone(), v.clone());
            }
        }
        c
    };
    assert_eq!(
        check_refreshed_id_token(&original, &renewed(json!({}))),
        Ok(())
    );
    // A nonce may be repeated, and auth_time left out.
    assert_eq!(
        check_refreshed_id_token(
            &original,
            &renewed(json!({"nonce": "n1", "auth_time": null}))
        ),
        Ok(())
    );
    assert_eq!(
        check_refreshed_id_token(&original, &renewed(json!({"sub": "mallory"}))),
        Err(RefreshError::Changed("sub"))
    );
    assert_eq!(
        check_refreshed_id_token(&original, &renewed(json!({"iss": "https://other/as"}))),
        Err(RefreshError::Changed("iss"))
    );
    assert_eq!(
        check_refreshed_id_token(&original, &renewed(json!({"aud": ["spa", "other"]}))),
        Err(RefreshError::Changed("aud"))
    );
    assert_eq!(
        check_refreshed_id_token(&original, &renewed(json!({"aud": null}))),
        Err(RefreshError::Changed("aud"))
    );
    assert_eq!(
        check_refreshed_id_token(&original, &renewed(json!({"auth_time": 150}))),
        Err(RefreshError::AuthTime)
    );
    assert_eq!(
        check_refreshed_id_token(&original, &renewed(json!({"nonce": "n2"}))),
        Err(RefreshError::Nonce)
    );
    // OpenID Connect Core §12.2: the same azp, and none when the original had none.
    let with_azp = {
        let mut c = original.clone();
        c.insert("azp".into(), json!("spa"));
        c
    };
    let mut renewed_with_azp = renewed(json!({"azp": "spa"}));
    assert_eq!(
        check_refreshed_id_token(&with_azp, &renewed_with_azp),
        Ok(())
    );
    renewed_with_azp.insert("azp".into(), json!("other-client"));
    assert_eq!(
        check_refreshed_id_token(&with_azp, &renewed_with_azp),
        Err(RefreshError::Changed("azp"))
    );
    assert_eq!(
        check_refreshed_id_token(&with_azp, &renewed(json!({}))),
        Err(RefreshError::Changed("azp"))
    );
    assert_eq!(
        check_refreshed_id_token(&original, &renewed(json!({"azp": "spa"}))),
        Err(RefreshError::Changed("azp"))
    );
    assert_eq!(
        RefreshError::Changed("sub").to_string(),
        "the renewed ID token names another sub than the session's"
    );
}

#[test]
fn only_the_answers_that_need_a_page_end_a_silent_sign_in_quietly() {
    for error in [
        "login_required",
        "interaction_required",
        "consent_required",
        "account_selection_required",
    ] {
        assert!(is_no_session(error), "{error}");
    }
    for error in ["access_denied", "invalid_request", "server_error", ""] {
        assert!(!is_no_session(error), "{error}");
    }
}

#[test]
fn tab_messages_round_trip_and_never_show_tokens_in_debug() {
    let tokens = SharedTokens {
        id_token: "header.id-secret.sig".into(),
        access_token: Some("header.access-secret.sig".into()),
        refresh_token: Some("refresh-secret".into()),
        nonce: "n".into(),
        id_token_received_at: Some(1000),
        access_token_received_at: Some(1200),
        access_expires_in: Some(300),
        generation: Generation {
            signed_in_at: 1_000_000,
            renewals: 3,
        },
    };
    // A tab that sends no receipt times is still understood.
    let older = TabMessage::parse(
        r#"{"type":"session","id_token":"a.b.c","nonce":"n","access_token":null}"#,
    );
    assert!(
        matches!(&older, Some(TabMessage::Session(t)) if t.id_token_received_at.is_none() && t.access_expires_in.is_none() && t.generation == Generation::default()),
        "{older:?}"
    );
    for message in [
        TabMessage::Hello,
        TabMessage::SignedOut,
        TabMessage::Session(tokens.clone()),
    ] {
        assert_eq!(TabMessage::parse(&message.to_text()), Some(message));
    }
    assert_eq!(TabMessage::Hello.to_text(), r#"{"type":"hello"}"#);
    let shown = format!("{:?}", TabMessage::Session(tokens));
    for secret in ["id-secret", "access-secret", "refresh-secret"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    // Whatever else is on the channel is ignored.
    for other in [
        "",
        "null",
        "42",
        r#"{"type":"session"}"#,
        r#"{"type":"reload"}"#,
    ] {
        assert_eq!(TabMessage::parse(other), None, "{other}");
    }
}

/// A browser clock ahead of the provider's by about a token's lifetime: tokens received
/// now must still be renewed some time from now, not at once (renewals back to back).
#[test]
fn a_clock_ahead_of_the_providers_does_not_make_renewals_run_back_to_back() {
    // Issued at 1000 by the provider's clock, for 300 s; the browser's clock says 1300
    // when they arrive, and after each renewal the same happens again.
    let id = claims(json!({ "iat": 1000, "exp": 1300 }));
    let access = claims(json!({ "iat": 1000, "exp": 1300 }));
    for local_now in [1300, 1525, 1750] {
        let due = session_renewal_time([
            held(&id, local_now, None),
            held(&access, local_now, Some(300)),
        ])
        .unwrap();
        assert_eq!(due, local_now + 225, "the clock says {local_now}");
    }
    // Behind by as much: the same delay after receipt.
    let due = session_renewal_time([held(&id, 700, None)]).unwrap();
    assert_eq!(due, 925);
}
