//! # cedargate-web
//!
//! A browser app that signs in with PingOne (or any OpenID Connect provider) using the
//! authorization code flow with PKCE, shows the decoded tokens, and shows which API actions
//! the edge's policies allow for the signed-in user — evaluated here by the same engine the
//! edge runs — next to what the edge really answers.
//!
//! `main.rs` only mounts [`App`]. Configuration comes from `/config.json` at start-up.
//!
//! The pure parts (configuration, the OAuth flow's pieces, the session's types) build
//! everywhere and are tested natively and in the browser; the rest is wasm32 only.

pub mod answer;
pub mod config;
pub mod engine_wire;
pub mod oauth;
pub mod permitted;
pub mod renewal;
pub mod session;
pub mod staged;
pub mod tabs;

#[cfg(all(target_arch = "wasm32", feature = "app"))]
mod app;
#[cfg(all(target_arch = "wasm32", feature = "app"))]
pub use app::*;
