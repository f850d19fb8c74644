//! Fuzz target `path_matcher`: the property is `checks::path_matcher` in `shared/tests/fuzz/checks.rs`,
//! which the normal tests replay on every saved input.
#![no_main]

#[path = "../../shared/tests/fuzz/checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::path_matcher(data));
