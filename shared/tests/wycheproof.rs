//! Project Wycheproof vectors through the signature backends, for every algorithm cedargate
//! verifies (RS256/384/512 and PS256/384/512 at 2048, 3072 and 4096 bits, ES256/384/512,
//! EdDSA; `cedargate_test_support::wycheproof` lists the families). Natively with the
//! pure-Rust backend; under wasm also with WebCrypto (Node's and Chromium's).
//!
//! Every "valid" vector must verify and every "invalid" one must be refused. "Acceptable"
//! vectors (legal but questionable) are decided here: cedargate refuses them, like invalid
//! ones, with every backend (see SECURITY.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::{KeySet, SignatureBackend, SignatureCheck};
use cedargate_test_support::wycheproof::{TestResult, groups};
use cedargate_test_support::*;
use serde_json::json;

async_test! {
    async fn wycheproof_vectors_hold_with_every_backend() {
        let groups = groups();
        for alg in cedargate::Algorithm::ALL {
            assert!(groups.iter().any(|g| g.algorithm == alg), "no Wycheproof vectors for {alg}");
        }
        let mut counts = std::collections::BTreeMap::<String, (usize, usize, usize)>::new();
        let mut failures = Vec::new();
        for backend in backends() {
            for group in &groups {
                let family = group.family;
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
                for (n, (id, msg, sig, result, comment)) in group.tests.iter().enumerate() {
                    if n % 8 == 0 {
                        // The pure-Rust backend never waits: give a browser page its turns.
                        yield_to_event_loop().await;
                    }
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
