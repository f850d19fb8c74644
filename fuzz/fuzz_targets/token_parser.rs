//! Fuzz target `token_parser`: the property is `cedargate_test_support::fuzz::token_parser`
//! (`test-support/src/fuzz.rs`), which the normal tests replay on every saved input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cedargate_test_support::fuzz::token_parser(data));
