//! # cedargate-web-engine
//!
//! The browser app's engine, everything of the app that needs Cedar: the edge's bundle
//! loaded (in its compiled form, as the edge validated it), the edge's pipeline run for the
//! signed-in token, the allowed-actions matrix, the reliances and what-ifs. A wasm module of
//! its own, which the app's shell imports with a dynamic `import()` at start-up, in parallel
//! with the sign-in, so the sign-in button and the claims do not wait for Cedar.
//!
//! The two exchange JSON text ([`cedargate_web::engine_wire`]). The gates of the matrices
//! computed stay here, by handle, for what-ifs, until the shell releases them.

#[cfg(target_arch = "wasm32")]
mod engine;
#[cfg(target_arch = "wasm32")]
pub use engine::*;
