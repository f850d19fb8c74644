//! # cedargate-edge
//!
//! A Cloudflare Worker that guards an HTTP API: it verifies the bearer token, maps it to a
//! Cedar principal, matches the request to an action, decides with the policy bundle
//! compiled into it, and forwards the request to the origin only when the policies allow.
//!
//! The request handling itself lives in `runtime/` (wasm32 only); the decisions it relies
//! on — configuration, header rules, CORS, key freshness, KV bundle refresh, the token
//! cache, tokens from a cookie, problem responses, monitor mode, the staged bundle's shadow
//! decisions, the request target and which endpoint it is for, log lines — are plain
//! functions in the other modules, tested natively.

pub mod authzen;
pub mod bearer;
pub mod bundle_policy;
pub mod companion;
pub mod config;
pub mod cors;
pub mod decision_cache;
pub mod endpoint;
pub mod forward;
pub mod key_policy;
pub mod log_line;
pub mod problem;
pub mod request_id;
pub mod request_values;
pub mod rollout;
pub mod shadow;
pub mod target;
pub mod token_cache;
pub mod token_cookie;

#[cfg(all(target_arch = "wasm32", feature = "runtime"))]
mod runtime;

pub use cedargate::wire::BUNDLE_PATH;

/// The header naming a request with the worker's own id: on every response and to the
/// origin (problem bodies carry it as `request_id`). The caller's `X-Request-ID` is another
/// header ([`request_id`]).
pub const REQUEST_ID_HEADER: &str = "x-cedargate-request-id";

/// The header naming the version of the bundle in force, on every response.
pub const BUNDLE_VERSION_HEADER: &str = "x-cedargate-bundle-version";
