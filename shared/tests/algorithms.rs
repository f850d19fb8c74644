//! Every signing algorithm and key size the provider can use (PingOne: RSA 2048 to 7680 bits
//! with SHA-256/384/512, EC P-256/P-384/P-521), end to end: a token signed with each is
//! accepted through every backend, and a token whose header names another algorithm than
//! its key's is refused. Project Wycheproof covers the primitives (`wycheproof.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::{KeySet, SignatureBackend as _};
use cedargate_test_support::*;
use serde_json::json;
use std::collections::HashMap;

/// (key, algorithms it signs with).
const SIGNERS: &[(&str, &[&str])] = &[
    (
        "a-rsa-1",
        &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"],
    ),
    (
        "a-rsa-3072",
        &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"],
    ),
    (
        "a-rsa-4096",
        &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"],
    ),
    ("a-rsa-7680", &["RS256", "RS512", "PS512"]),
    ("a-ec-1", &["ES256"]),
    ("a-p384-1", &["ES384"]),
    ("a-p521-1", &["ES512"]),
    ("a-ed-1", &["EdDSA"]),
];

fn token(alg: &str, key_name: &str) -> String {
    let header = json!({ "alg": alg, "kid": key_name, "typ": "JWT" });
    mint_raw(
        &header.to_string(),
        &id_claims("alice", &["AVP_User"], NOW).to_string(),
        key_name,
    )
}

async_test! {
    async fn every_provider_algorithm_and_key_size_verifies() {
        let mut covered = std::collections::BTreeSet::new();
        for backend in backends() {
            for (key_name, algs) in SIGNERS {
                // Issuer A publishes only this key.
                let set = KeySet::from_json(&jwks_document(&[key_name], &[])).unwrap();
                let sets = HashMap::from([(ISSUER_A, set)]);
                for alg in *algs {
                    let result = gate().authenticate(&token(alg, key_name), &sets, &backend, NOW).await;
                    let (verified, principal) = result.unwrap_or_else(|err| {
                        panic!("[{}] {alg} with {key_name}: {err}", backend.name())
                    });
                    assert_eq!(verified.algorithm().name(), *alg);
                    assert_eq!(principal.uid().id().escaped(), "alice");
                    covered.insert(*alg);
                }
            }
        }
        let all: std::collections::BTreeSet<&str> =
            cedargate::Algorithm::ALL.iter().map(|a| a.name()).collect();
        assert_eq!(covered, all);
    }
}

async_test! {
    async fn a_header_naming_another_algorithm_is_refused() {
        // Each pair: what the header claims, the key whose kid it names and which signed.
        let cases = [
            ("ES384", "a-ec-1", "ES256"),
            ("ES512", "a-p384-1", "ES384"),
            ("ES256", "a-p521-1", "ES512"),
            ("RS384", "a-rsa-1", "RS256"),
            ("PS512", "a-rsa-4096", "PS384"),
            ("ES384", "a-rsa-1", "RS256"),
        ];
        for backend in backends() {
            for (claimed, key_name, signed_with) in cases {
                let header = json!({ "alg": claimed, "kid": key_name, "typ": "JWT" }).to_string();
                let claims = id_claims("alice", &["AVP_User"], NOW).to_string();
                let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
                let signature = sign(signed_with, key_name, input.as_bytes());
                let forged = format!("{input}.{}", b64(&signature));
                let set = KeySet::from_json(&jwks_document(&[key_name], &[])).unwrap();
                let sets = HashMap::from([(ISSUER_A, set)]);
                let result = gate().authenticate(&forged, &sets, &backend, NOW).await;
                assert!(result.is_err(), "[{}] {claimed} over {signed_with} with {key_name} was accepted", backend.name());
            }
        }
    }
}
