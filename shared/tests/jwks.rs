//! JSON Web Key Sets: what is used, what is skipped and why.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::{Algorithm, JwksError, KeySet};
use cedargate_test_support::*;
use serde_json::json;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[test]
fn usable_keys_are_kept_and_the_rest_skipped_with_a_reason() {
    let set = KeySet::from_json(&issuer_a_jwks()).unwrap();
    let kids: Vec<&str> = set.keys().iter().filter_map(|k| k.kid()).collect();
    assert_eq!(
        kids,
        [
            "a-rsa-1", "a-rsa-2", "a-ec-1", "a-p384-1", "a-p521-1", "a-ed-1"
        ]
    );
    let skipped: Vec<(Option<&str>, &str)> = set
        .skipped()
        .iter()
        .map(|s| (s.kid.as_deref(), s.reason.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            (Some("a-enc"), "\"use\" is \"enc\", not \"sig\""),
            (Some("a-weak"), "RSA modulus of 1024 bits is under 2048"),
            (Some("a-hmac"), "symmetric keys are never used"),
        ]
    );
    assert!(set.contains_kid("a-ec-1"));
    assert!(!set.contains_kid("a-enc"));
}

#[test]
fn other_unusable_keys_are_skipped() {
    let mut private = public_jwk("a-ec-1");
    private["kid"] = json!("private");
    private["d"] = json!("AAAA");
    let mut k256 = public_jwk("a-ec-1");
    k256["kid"] = json!("k256");
    k256["crv"] = json!("secp256k1");
    // P-256 coordinates are too short for P-384, and P-384's for P-521.
    let mut short_p384 = public_jwk("a-ec-1");
    short_p384["kid"] = json!("short-p384");
    short_p384["crv"] = json!("P-384");
    let mut short_p521 = public_jwk("a-p384-1");
    short_p521["kid"] = json!("short-p521");
    short_p521["crv"] = json!("P-521");
    // Right lengths, but the point is not on the curve.
    let mut off_curve = public_jwk("a-p384-1");
    off_curve["kid"] = json!("off-curve");
    off_curve["y"] = public_jwk("a-p384-1")["x"].clone();
    // A modulus over 8192 bits.
    let mut huge_rsa = public_jwk("a-rsa-1");
    huge_rsa["kid"] = json!("huge");
    huge_rsa["n"] = json!(b64(&[0xff; 1025]));
    let mut verify_only = public_jwk("a-rsa-1");
    verify_only["kid"] = json!("ops");
    verify_only["key_ops"] = json!(["encrypt"]);
    let mut hs_alg = public_jwk("a-rsa-1");
    hs_alg["kid"] = json!("hs");
    hs_alg["alg"] = json!("HS256");
    let mut mismatch = public_jwk("a-rsa-1");
    mismatch["kid"] = json!("mismatch");
    mismatch["alg"] = json!("ES256");
    // Ed25519 points of small order: the identity, and the point of order 2.
    let mut identity = public_jwk("a-ed-1");
    identity["kid"] = json!("identity");
    identity["x"] = json!("AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let mut order_two = public_jwk("a-ed-1");
    order_two["kid"] = json!("order-two");
    order_two["x"] = json!("7P_______________________________________38");
    // P-256: a short coordinate, and a point off the curve; Ed25519: a short key.
    let mut short_p256 = public_jwk("a-ec-1");
    short_p256["kid"] = json!("short-p256");
    short_p256["x"] = json!(b64(&[1; 31]));
    let mut off_curve_p256 = public_jwk("a-ec-1");
    off_curve_p256["kid"] = json!("off-curve-p256");
    off_curve_p256["y"] = public_jwk("a-ec-1")["x"].clone();
    let mut short_ed = public_jwk("a-ed-1");
    short_ed["kid"] = json!("short-ed");
    short_ed["x"] = json!(b64(&[9; 31]));
    let doc = jwks_document(
        &["a-rsa-1"],
        &[
            private,
            k256,
            short_p384,
            short_p521,
            off_curve,
            huge_rsa,
            verify_only,
            hs_alg,
            mismatch,
            identity,
            order_two,
            short_p256,
            off_curve_p256,
            short_ed,
            json!("x"),
        ],
    );
    let set = KeySet::from_json(&doc).unwrap();
    assert_eq!(set.keys().len(), 1);
    let reasons: Vec<&str> = set.skipped().iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "contains private key material",
            "curve secp256k1 is not supported",
            "not a valid P-384 key: coordinates must be 48 bytes",
            "not a valid P-521 key: coordinates must be 66 bytes",
            "not a valid P-384 key: the point is not on the curve",
            "RSA modulus of 8200 bits is over 8192",
            "\"key_ops\" does not include \"verify\"",
            "algorithm HS256 is not supported",
            "\"alg\" ES256 does not fit a RSA key",
            "not a valid Ed25519 key: the point has a small order",
            "not a valid Ed25519 key: the point has a small order",
            "not a valid P-256 key: coordinates must be 32 bytes",
            "not a valid P-256 key: the point is not on the curve",
            "not a valid Ed25519 key: x must be 32 bytes",
            "not a JSON object",
        ]
    );
}

#[test]
fn unusable_documents_are_errors() {
    assert_eq!(KeySet::from_json("nope").unwrap_err(), JwksError::NotJson);
    assert_eq!(
        KeySet::from_json(r#"{"keys":1}"#).unwrap_err(),
        JwksError::NoKeysArray
    );
    assert_eq!(
        KeySet::from_json(r#"{"keys":[],"keys":[]}"#).unwrap_err(),
        JwksError::NotJson
    );
    assert_eq!(
        KeySet::from_json(r#"{"keys":[{"kty":"oct","k":"AA"}]}"#).unwrap_err(),
        JwksError::NoUsableKeys { skipped: 1 }
    );
    let huge = format!(r#"{{"keys":[],"pad":"{}"}}"#, "x".repeat(300 * 1024));
    assert!(matches!(
        KeySet::from_json(&huge),
        Err(JwksError::TooLarge { .. })
    ));
}

#[test]
fn pinned_algorithms_restrict_a_key() {
    let mut pinned = public_jwk("a-rsa-1");
    pinned["alg"] = json!("RS256");
    let set = KeySet::from_json(&json!({ "keys": [pinned] }).to_string()).unwrap();
    let key = &set.keys()[0];
    assert_eq!(key.pinned_algorithm(), Some(Algorithm::RS256));
    assert!(key.accepts(Algorithm::RS256));
    assert!(!key.accepts(Algorithm::PS256));
    assert!(!key.accepts(Algorithm::ES256));
}

#[test]
fn thumbprints_follow_rfc_7638() {
    // RFC 7638 section 3.1.
    let doc = json!({ "keys": [{
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    }] });
    let set = KeySet::from_json(&doc.to_string()).unwrap();
    assert_eq!(
        set.keys()[0].thumbprint(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
    let jwk = set.keys()[0].public_jwk();
    let mut members: Vec<&str> = jwk.keys().map(String::as_str).collect();
    members.sort_unstable();
    assert_eq!(members, ["e", "kty", "n"]);
}

#[test]
fn algorithms_are_named_exactly() {
    for alg in Algorithm::ALL {
        assert_eq!(Algorithm::from_name(alg.name()), Some(alg));
    }
    for name in [
        "none", "None", "HS256", "rs256", "es384", "ES256K", "PS256 ", "RS1", "",
    ] {
        assert_eq!(Algorithm::from_name(name), None, "{name}");
    }
}
