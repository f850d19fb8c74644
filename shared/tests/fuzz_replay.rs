//! Replays every saved fuzz input (the seeds and each crash `cargo xtask fuzz` found) with
//! the fuzz targets' own properties. Native only: the inputs are read from disk.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate_test_support::fuzz as checks;
use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fuzz")
        .join(target);
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    inputs.sort();
    assert!(
        inputs.len() >= 4,
        "{target}: only {} saved inputs",
        inputs.len()
    );
    for input in inputs {
        let data = std::fs::read(&input).expect("a readable input");
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(
            outcome.is_ok(),
            "{target}: {} breaks the property",
            input.display()
        );
    }
}

#[test]
fn token_parser_inputs() {
    replay("token_parser", checks::token_parser);
}

#[test]
fn jwks_parser_inputs() {
    replay("jwks_parser", checks::jwks_parser);
}

#[test]
fn path_matcher_inputs() {
    replay("path_matcher", checks::path_matcher);
}

#[test]
fn claim_mapper_inputs() {
    replay("claim_mapper", checks::claim_mapper);
}
