//! Fuzz target `jwks_parser`: the property is `checks::jwks_parser` in `shared/tests/fuzz/checks.rs`,
//! which the normal tests replay on every saved input.
#![no_main]

#[path = "../../shared/tests/fuzz/checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::jwks_parser(data));
