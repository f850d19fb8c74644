//! Fuzz target `token_parser`: the property is `checks::token_parser` in `shared/tests/fuzz/checks.rs`,
//! which the normal tests replay on every saved input.
#![no_main]

#[path = "../../shared/tests/fuzz/checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::token_parser(data));
