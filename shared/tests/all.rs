//! The core's integration tests, one module per file beside this one, built as one test
//! binary (natively, under Node and in Chromium): `cargo test -p cedargate --test all`, and
//! `-- <module>::` for one file's tests (`-- authzen::`).

#[path = "access.rs"]
mod access;
#[path = "algorithms.rs"]
mod algorithms;
#[path = "assertion.rs"]
mod assertion;
#[path = "authzen.rs"]
mod authzen;
#[path = "authzen_cert.rs"]
mod authzen_cert;
#[path = "authzen_search.rs"]
mod authzen_search;
#[path = "bundle.rs"]
mod bundle;
#[path = "callers.rs"]
mod callers;
#[path = "companion.rs"]
mod companion;
#[path = "compiled.rs"]
mod compiled;
#[path = "context.rs"]
mod context;
#[path = "entity_data.rs"]
mod entity_data;
#[path = "fuzz_replay.rs"]
mod fuzz_replay;
#[path = "identity.rs"]
mod identity;
#[path = "jwks.rs"]
mod jwks;
#[path = "key_sources.rs"]
mod key_sources;
#[path = "petstore.rs"]
mod petstore;
#[path = "request_cases.rs"]
mod request_cases;
#[path = "revocation.rs"]
mod revocation;
#[path = "schema_checks.rs"]
mod schema_checks;
#[path = "sharing.rs"]
mod sharing;
#[path = "staged_bundle.rs"]
mod staged_bundle;
#[path = "token_cases.rs"]
mod token_cases;
#[path = "wycheproof.rs"]
mod wycheproof;
