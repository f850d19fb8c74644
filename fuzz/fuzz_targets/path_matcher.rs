//! Fuzz target `path_matcher`: the property is `cedargate_test_support::fuzz::path_matcher`
//! (`test-support/src/fuzz.rs`), which the normal tests replay on every saved input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cedargate_test_support::fuzz::path_matcher(data));
