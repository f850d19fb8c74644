//! Fuzz target `claim_mapper`: the property is `cedargate_test_support::fuzz::claim_mapper`
//! (`test-support/src/fuzz.rs`), which the normal tests replay on every saved input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cedargate_test_support::fuzz::claim_mapper(data));
