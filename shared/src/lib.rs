//! # cedargate
//!
//! The authorization core shared by the cedargate edge worker and browser app: verified
//! OpenID Connect tokens become Cedar entities, requests become Cedar actions, and a
//! validated policy bundle decides.
//!
//! The crate performs no I/O and never reads a clock: keys are handed in as parsed JSON Web
//! Key Sets, the current time is a parameter, and signature checks go through a
//! [`SignatureBackend`] chosen by the caller (pure Rust natively, the platform's WebCrypto in
//! workerd and the browser). The same code therefore takes the same decision natively, in
//! the edge worker and in the browser.
//!
//! The pipeline, each step its own type and error:
//!
//! 1. [`Trust::parse`]: size limit, compact structure, header rules, trusted issuer
//!    ([`UntrustedJwt`], [`TokenError`]).
//! 2. [`Trust::verify`]: key selection from the issuer's [`KeySet`], signature, claims
//!    ([`VerifiedToken`]).
//! 3. [`Trust::principal`]: claims to Cedar entities ([`Principal`], [`MappingError`]).
//! 4. [`Bundle::resolve`]: method and path to an action ([`RouteMatch`], [`RouteError`]).
//! 5. [`Bundle::authorize`]: the one decision point ([`Decision`]).
//!
//! [`Gate`] holds a bundle and the trust bound to it, which is what the edge and the browser
//! keep for the life of an isolate or page.

mod bundle;
mod canonical;
pub mod crypto;
pub mod discovery;
pub mod examples;
mod gate;
mod identity;
mod jwks;
pub mod percent;
mod principal;
mod routes;
mod schema_info;
pub use schema_info::qualify;
mod signed_bundle;
mod strict_json;
mod time;
mod token;
pub mod url;
pub mod wire;

pub use bundle::{
    ActionDecision, Bundle, BundleError, BundleSource, BundleVersion, Decision, Outcome,
};
pub use bundle::{POLICIES_FILE, ROUTES_FILE, SCHEMA_FILE};
pub use crypto::RustCrypto;
pub use crypto::{SignatureBackend, SignatureCheck, SignatureError};
pub use gate::{AuthError, Gate, GateError, KeySource};
pub use identity::{
    ClaimAttribute, ClaimType, ConfigError, DEFAULT_LEEWAY_SECONDS, DEFAULT_MAX_TOKEN_BYTES,
    IssuerConfig, MAX_LEEWAY_SECONDS, MappingError, Principal, TokenKind, Trust, TrustConfig,
    Verifier,
};
pub use jwks::{Algorithm, JwksError, KeySet, MAX_JWKS_BYTES, SkippedKey, VerificationKey};
pub use routes::{ANY_METHODS, PathError, RouteError, RouteMatch};
pub use signed_bundle::{
    BundleDocument, BundleDocumentError, BundleKeyError, BundlePublicKey, BundleSigningKey,
    SIGNED_BUNDLE_TYPE, open_bundle_document,
};
pub use time::UnixTime;
pub use token::{TokenError, TokenErrorKind, UntrustedJwt, VerifiedToken};
