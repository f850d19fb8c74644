//! Fuzz target `claim_mapper`: the property is `checks::claim_mapper` in `shared/tests/fuzz/checks.rs`,
//! which the normal tests replay on every saved input.
#![no_main]

#[path = "../../shared/tests/fuzz/checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::claim_mapper(data));
