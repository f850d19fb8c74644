//! The identity assertion the edge signs for the origin: what verifies, what does not, and
//! replays.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::UnixTime;
use cedargate::assertion::*;
use cedargate_test_support::b64;
use serde_json::json;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const EDGE: &str = "https://edge.petstore.test";
const ORIGIN: &str = "https://origin.petstore.test";
const NOW: i64 = 1_800_000_000;

fn key(n: u8) -> AssertionSigningKey {
    AssertionSigningKey::from_seed([n; 32])
}

fn assertion(jti: &str) -> Assertion {
    Assertion {
        iss: EDGE.into(),
        aud: ORIGIN.into(),
        iat: NOW,
        exp: NOW + 60,
        jti: jti.into(),
        token_iss: Some("https://auth.pingone.test/env-a/as".into()),
        sub: Some("alice".into()),
        principal: r#"PetStore::User::"alice""#.into(),
        groups: vec!["AVP_Admin".into()],
        client: Some("petstore-spa".into()),
        anonymous: false,
        action: "get /pets/{petId}".into(),
        method: "GET".into(),
        path: "/pets/7".into(),
        query: Some("expand=owner".into()),
        policies: vec!["avp-admin-all".into()],
        enforced: true,
        decision: None,
    }
}

fn verifier(keys: &[&AssertionSigningKey]) -> AssertionVerifier {
    AssertionVerifier::new(&assertion_jwks(keys), EDGE, ORIGIN).unwrap()
}

#[test]
fn a_signed_assertion_verifies_and_binds_its_request() {
    let k = key(1);
    let jwt = k.sign(&assertion("r-1"));
    let got = verifier(&[&k]).verify(&jwt, UnixTime(NOW + 1)).unwrap();
    assert_eq!(got, assertion("r-1"));
    assert!(got.binds("get", "/pets/7", Some("expand=owner")));
    assert!(
        !got.binds("GET", "/pets/8", Some("expand=owner")),
        "other path"
    );
    assert!(
        !got.binds("DELETE", "/pets/7", Some("expand=owner")),
        "other method"
    );
    assert!(!got.binds("GET", "/pets/7", None), "other query");
    let mut plain = assertion("r-2");
    plain.query = None;
    let got = verifier(&[&k])
        .verify(&k.sign(&plain), UnixTime(NOW))
        .unwrap();
    assert!(got.binds("GET", "/pets/7", None) && got.binds("GET", "/pets/7", Some("")));
}

#[test]
fn a_monitored_request_is_asserted_with_its_decision() {
    let k = key(1);
    // An enforced action's assertion is as before monitor mode: no `enforced`, no
    // `decision`, and it was allowed.
    let jwt = k.sign(&assertion("r-1"));
    let payload = jwt.split('.').nth(1).unwrap();
    use base64ct::Encoding as _;
    let payload = base64ct::Base64UrlUnpadded::decode_vec(payload).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert!(claims.get("enforced").is_none() && claims.get("decision").is_none());
    let got = verifier(&[&k]).verify(&jwt, UnixTime(NOW)).unwrap();
    assert!(got.enforced && got.allowed());
    // Monitor mode: forwarded although the policies denied it, and says so.
    let would_deny = Assertion {
        enforced: false,
        decision: Some("would-deny; reason=forbidden".into()),
        policies: vec![],
        ..assertion("r-2")
    };
    let got = verifier(&[&k])
        .verify(&k.sign(&would_deny), UnixTime(NOW))
        .unwrap();
    assert_eq!(got, would_deny);
    assert!(!got.allowed(), "a would-deny is no authorization");
    let allowed = Assertion {
        enforced: false,
        decision: Some("allow".into()),
        ..assertion("r-3")
    };
    assert!(allowed.allowed());
    // Not enforced and saying nothing is not an allow either.
    let silent = Assertion {
        enforced: false,
        ..assertion("r-4")
    };
    assert!(!silent.allowed());
}

#[test]
fn tampered_foreign_and_malformed_assertions_are_refused() {
    let k = key(1);
    let v = verifier(&[&k]);
    let now = UnixTime(NOW);
    let jwt = k.sign(&assertion("r-1"));
    let (input, _) = jwt.rsplit_once('.').unwrap();
    let (header, _) = input.split_once('.').unwrap();
    // Another payload under the same signature.
    let mut admin = assertion("r-1");
    admin.path = "/admin".into();
    let other = k.sign(&admin);
    let forged = format!(
        "{header}.{}.{}",
        other.split('.').nth(1).unwrap(),
        jwt.rsplit('.').next().unwrap()
    );
    assert_eq!(v.verify(&forged, now), Err(AssertionError::BadSignature));
    // A key the edge does not publish.
    assert_eq!(
        v.verify(&key(2).sign(&assertion("r-1")), now),
        Err(AssertionError::UnknownKey)
    );
    // Not a JWS, or not this kind.
    assert_eq!(v.verify("a.b", now), Err(AssertionError::Malformed));
    assert_eq!(
        v.verify(&format!("{jwt}.x"), now),
        Err(AssertionError::Malformed)
    );
    for head in [
        json!({ "alg": "EdDSA", "typ": "JWT", "kid": k.kid() }),
        json!({ "alg": "none", "typ": ASSERTION_TYPE, "kid": k.kid() }),
        json!({ "alg": "EdDSA", "typ": ASSERTION_TYPE }),
    ] {
        let rest = jwt.split_once('.').unwrap().1;
        let swapped = format!("{}.{rest}", b64(head.to_string().as_bytes()));
        assert_eq!(
            v.verify(&swapped, now),
            Err(AssertionError::WrongHeader),
            "{head}"
        );
    }
    // Another edge, another origin.
    let mut a = assertion("r-1");
    a.iss = "https://other-edge.test".into();
    assert_eq!(v.verify(&k.sign(&a), now), Err(AssertionError::WrongIssuer));
    let mut a = assertion("r-1");
    a.aud = "https://other-origin.test".into();
    assert_eq!(
        v.verify(&k.sign(&a), now),
        Err(AssertionError::WrongAudience)
    );
}

#[test]
fn an_assertion_lives_briefly() {
    let k = key(1);
    let v = verifier(&[&k]);
    let jwt = k.sign(&assertion("r-1"));
    let leeway = ASSERTION_LEEWAY_SECONDS;
    assert!(v.verify(&jwt, UnixTime(NOW + 60 + leeway - 1)).is_ok());
    assert_eq!(
        v.verify(&jwt, UnixTime(NOW + 60 + leeway)),
        Err(AssertionError::Expired)
    );
    assert_eq!(
        v.verify(&jwt, UnixTime(NOW - leeway - 1)),
        Err(AssertionError::NotYetValid)
    );
    let mut long = assertion("r-1");
    long.exp = long.iat + MAX_ASSERTION_SECONDS + 1;
    assert_eq!(
        v.verify(&k.sign(&long), UnixTime(NOW)),
        Err(AssertionError::TooLong)
    );
}

#[test]
fn during_a_rotation_both_keys_verify() {
    let (current, previous) = (key(1), key(2));
    let v = verifier(&[&current, &previous]);
    for k in [&current, &previous] {
        assert!(v.verify(&k.sign(&assertion("r-1")), UnixTime(NOW)).is_ok());
    }
    assert_ne!(current.kid(), previous.kid());
    // The key's text round-trips and its Debug shows the key id only.
    let again = AssertionSigningKey::from_base64url(&current.to_base64url()).unwrap();
    assert_eq!(again.kid(), current.kid());
    let debug = format!("{current:?}");
    assert!(debug.contains(current.kid()) && !debug.contains(&current.to_base64url()));
    assert_eq!(
        AssertionSigningKey::from_base64url("too-short").unwrap_err(),
        AssertionKeyError::Encoding
    );
}

#[test]
fn each_assertion_is_taken_once() {
    let mut guard = ReplayGuard::new(2);
    let a = assertion("r-1");
    assert_eq!(guard.check(&a, UnixTime(NOW)), Ok(()));
    assert_eq!(
        guard.check(&a, UnixTime(NOW + 1)),
        Err(AssertionError::Replayed)
    );
    assert_eq!(guard.check(&assertion("r-2"), UnixTime(NOW + 1)), Ok(()));
    // Full of live assertions: a new one is refused, never an old one forgotten.
    assert_eq!(
        guard.check(&assertion("r-3"), UnixTime(NOW + 2)),
        Err(AssertionError::GuardFull)
    );
    assert_eq!(
        guard.check(&a, UnixTime(NOW + 2)),
        Err(AssertionError::Replayed)
    );
    // Expired ones make room (an expired assertion is refused by the verifier anyway).
    let after = UnixTime(NOW + 60 + ASSERTION_LEEWAY_SECONDS);
    assert_eq!(guard.check(&assertion("r-3"), after), Ok(()));
}
